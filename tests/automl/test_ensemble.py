"""AutoML ensembles: Caruana weights, voting and stacking over fitted pipelines."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_predict

from plinth._automl import ensemble, metrics, models
from plinth.exceptions import UserErrorException

N_TRAIN = 300


def _data(noise_a: float, noise_b: float, seed: int = 0):
    """A latent ``z`` seen through two independently noisy columns ``a`` and ``b`` (and a
    useless column ``c``): a model of ``a`` and a model of ``b`` err independently."""
    rng = np.random.default_rng(seed)
    n = 2 * N_TRAIN
    z = rng.normal(size=n)
    X = pd.DataFrame({
        "a": z + rng.normal(0, noise_a, n),
        "b": z + rng.normal(0, noise_b, n),
        "c": rng.normal(size=n),
    })
    return X, z


def _member(column: str, name: str, task: str):
    """A pipeline as AutoML builds one, whose featurizer sees only ``column``."""
    featurizer = ColumnTransformer([("pick", "passthrough", [column])])
    spec = models.get(name)
    return models.make_pipeline(featurizer, spec, task, spec.default_params(task, N_TRAIN, 1), 0)


def _regression(noise_a: float, noise_b: float):
    X, z = _data(noise_a, noise_b)
    y = 3 * z + 10
    tr, te = slice(0, N_TRAIN), slice(N_TRAIN, None)
    pipes = [_member(col, "ElasticNet", "regression") for col in ("a", "b", "c")]
    oof = [cross_val_predict(p, X[tr], y[tr], cv=3) for p in pipes]
    fitted = [(col, p.fit(X[tr], y[tr])) for col, p in zip("abc", pipes, strict=True)]
    return X[tr], y[tr], X[te], y[te], oof, fitted


def _classification(noise_a: float, noise_b: float):
    X, z = _data(noise_a, noise_b, seed=1)
    y = (z > 0).astype(int)
    tr, te = slice(0, N_TRAIN), slice(N_TRAIN, None)
    pipes = [_member(col, "LogisticRegression", "classification") for col in ("a", "b", "c")]
    oof = [cross_val_predict(p, X[tr], y[tr], cv=3, method="predict_proba") for p in pipes]
    fitted = [(col, p.fit(X[tr], y[tr])) for col, p in zip("abc", pipes, strict=True)]
    return X[tr], y[tr], X[te], y[te], oof, fitted


def _rmse(y, p) -> float:
    return metrics.regression_scores(y, p, metrics=["root_mean_squared_error"])[
        "root_mean_squared_error"
    ]


def _auc(y, proba) -> float:
    return metrics.classification_scores(y, proba, np.arange(2), metrics=["AUC_weighted"])[
        "AUC_weighted"
    ]


def test_caruana_weights_favour_the_better_model():
    _, y, _, _, oof, _ = _regression(noise_a=0.3, noise_b=1.5)
    w = ensemble.caruana_weights(oof, y, "regression", "normalized_root_mean_squared_error",
                                 y_min=y.min(), y_max=y.max())
    assert len(w) == 3 and sum(w) == pytest.approx(1.0)
    assert w[0] > w[1] and w[0] > 0.5
    assert w[2] == 0.0

    _, y, _, _, oof, _ = _classification(noise_a=0.3, noise_b=1.5)
    for metric in ("AUC_weighted", "log_loss", "accuracy"):
        w = ensemble.caruana_weights(oof, y, "classification", metric, classes=np.arange(2))
        assert sum(w) == pytest.approx(1.0) and w[0] > w[1] and w[0] > w[2], (metric, w)


def test_caruana_never_picks_an_unscorable_prediction():
    y = np.arange(20.0)
    broken = np.full(20, np.nan)
    w = ensemble.caruana_weights([broken, y + 1.0], y, "regression", "r2_score", rounds=5)
    assert w == [0.0, 1.0]


def test_caruana_errors():
    with pytest.raises(UserErrorException, match="predictions is empty"):
        ensemble.caruana_weights([], [1.0], "regression", "r2_score")
    with pytest.raises(UserErrorException, match="metric='accuracy'.*r2_score"):
        ensemble.caruana_weights([np.zeros(3)], [1.0, 2.0, 3.0], "regression", "accuracy")
    with pytest.raises(UserErrorException, match="shapes"):
        ensemble.caruana_weights([np.zeros(3), np.zeros(4)], np.zeros(3), "regression",
                                 "r2_score")


def test_voting_regressor_beats_its_best_member_on_held_out_data():
    X, y, X_test, y_test, oof, fitted = _regression(noise_a=0.8, noise_b=0.8)
    w = ensemble.caruana_weights(oof, y, "regression", "normalized_root_mean_squared_error",
                                 y_min=y.min(), y_max=y.max())
    assert w[0] > 0 and w[1] > 0
    vote = ensemble.PreFittedSoftVotingRegressor(fitted, weights=w)
    best = min(_rmse(y_test, m.predict(X_test)) for _, m in fitted)
    assert _rmse(y_test, vote.predict(X_test)) < best

    restored = pickle.loads(pickle.dumps(vote))
    assert np.allclose(restored.predict(X_test), vote.predict(X_test))


def test_voting_classifier_beats_its_best_member_on_held_out_data():
    X, y, X_test, y_test, oof, fitted = _classification(noise_a=0.8, noise_b=0.8)
    w = ensemble.caruana_weights(oof, y, "classification", "AUC_weighted",
                                 classes=np.arange(2))
    assert w[0] > 0 and w[1] > 0
    labels = np.array(["neg", "pos"])
    vote = ensemble.PreFittedSoftVotingClassifier(fitted, weights=w, classes=labels)
    proba = vote.predict_proba(X_test)
    assert np.allclose(proba.sum(axis=1), 1.0)
    best = max(_auc(y_test, m.predict_proba(X_test)) for _, m in fitted)
    assert _auc(y_test, proba) >= best
    assert list(vote.classes_) == ["neg", "pos"]
    assert set(vote.predict(X_test)) <= {"neg", "pos"}
    assert vote.score(X_test, labels[y_test]) > 0.7

    restored = pickle.loads(pickle.dumps(vote))
    assert np.allclose(restored.predict_proba(X_test), proba)
    assert list(restored.predict(X_test)) == list(vote.predict(X_test))


def test_voting_aligns_a_member_that_never_saw_a_class():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"x": rng.normal(size=90)})
    y = np.repeat([0, 1, 2], 30)
    X["x"] += y
    full = LogisticRegression().fit(X, y)
    partial = LogisticRegression().fit(X[y != 1], y[y != 1])  # classes_ == [0, 2]
    vote = ensemble.PreFittedSoftVotingClassifier([("full", full), ("partial", partial)])
    proba = vote.predict_proba(X)
    assert list(vote.classes_) == [0, 1, 2]
    assert proba.shape == (90, 3)
    assert np.allclose(proba[:, 1], full.predict_proba(X)[:, 1] / 2)
    assert np.allclose(proba.sum(axis=1), 1.0)


def test_stack_ensembles(tmp_path):
    X, y, X_test, y_test, oof, fitted = _regression(noise_a=0.8, noise_b=0.8)
    stacked = ensemble.stack_features("regression", oof)
    assert stacked.shape == (len(y), 3)
    meta = ensemble.fit_meta_learner("regression", stacked, y, seed=0)
    stack = ensemble.StackEnsembleRegressor(fitted, meta)
    best = min(_rmse(y_test, m.predict(X_test)) for _, m in fitted)
    assert _rmse(y_test, stack.predict(X_test)) < best
    restored = pickle.loads(pickle.dumps(stack))
    assert np.allclose(restored.predict(X_test), stack.predict(X_test))

    X, y, X_test, y_test, oof, fitted = _classification(noise_a=0.8, noise_b=0.8)
    stacked = ensemble.stack_features("classification", oof)
    assert stacked.shape == (len(y), 6)  # the base probabilities side by side
    meta = ensemble.fit_meta_learner("classification", stacked, y, seed=0)
    assert isinstance(meta, LogisticRegression)
    stack = ensemble.StackEnsembleClassifier(fitted, meta)
    proba = stack.predict_proba(X_test)
    assert proba.shape == (len(y_test), 2)
    best = max(_auc(y_test, m.predict_proba(X_test)) for _, m in fitted)
    assert _auc(y_test, proba) >= best
    assert list(stack.classes_) == [0, 1]
    path = tmp_path / "stack.pkl"
    path.write_bytes(pickle.dumps(stack))
    restored = pickle.loads(path.read_bytes())
    assert np.array_equal(restored.predict(X_test), stack.predict(X_test))


def test_meta_learner_on_few_rows_and_bad_arguments():
    meta = ensemble.fit_meta_learner("forecasting", np.arange(8.0).reshape(4, 2), [1, 2, 3, 4],
                                     seed=0)
    assert meta.predict(np.zeros((1, 2))).shape == (1,)
    with pytest.raises(UserErrorException, match="task="):
        ensemble.stack_features("ranking", [np.zeros(2)])
    with pytest.raises(UserErrorException, match="weights"):
        ensemble.PreFittedSoftVotingRegressor([("a", None)], weights=[0.0]).predict(None)
    with pytest.raises(UserErrorException, match="estimators is empty"):
        ensemble.PreFittedSoftVotingRegressor([]).predict(None)
