"""The AutoML model catalogue: every model builds, fits and predicts single-threaded; search
spaces live together in one Optuna study; model names resolve as azureml's do."""

from __future__ import annotations

import numpy as np
import optuna
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from plinth._automl import metrics, models
from plinth.exceptions import UserErrorException

CLASSIFICATION = [
    "LogisticRegression", "SGD", "KNN", "DecisionTree", "RandomForest", "ExtremeRandomTrees",
    "GradientBoosting", "LightGBM", "XGBoostClassifier", "LinearSVM", "BernoulliNaiveBayes",
]
REGRESSION = [
    "ElasticNet", "LassoLars", "SGD", "KNN", "DecisionTree", "RandomForest",
    "ExtremeRandomTrees", "GradientBoosting", "LightGBM", "XGBoostRegressor",
]


@pytest.fixture(scope="module")
def cancer():
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    X, y = X.iloc[:200, :8], y.to_numpy()[:200]
    return X.iloc[:150], y[:150], X.iloc[150:], y[150:]


@pytest.fixture(scope="module")
def diabetes():
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    X, y = X.iloc[:200], y.to_numpy()[:200]
    return X.iloc[:150], y[:150], X.iloc[150:], y[150:]


def _threads(pipeline: Pipeline) -> dict[str, object]:
    """Every thread-count parameter anywhere in the pipeline."""
    params = pipeline.get_params(deep=True)
    found = {k: v for k, v in params.items() if k.split("__")[-1] in
             ("n_jobs", "num_threads", "nthread")}
    # sklearn >= 1.8 ignores LogisticRegression's n_jobs (lbfgs is single-threaded)
    found.pop("LogisticRegression__n_jobs", None)
    for name, step in pipeline.steps:  # fitted wrappers hold inner estimators
        inner = getattr(step, "model_", None)
        if inner is not None:
            for k, v in inner.get_params(deep=True).items():
                if k.split("__")[-1] == "n_jobs":
                    found[f"{name}.model_.{k}"] = v
    return found


def test_catalogue_names_and_order():
    assert sorted(models.CLASSIFICATION_MODELS) == sorted(CLASSIFICATION)
    assert sorted(models.REGRESSION_MODELS) == sorted(REGRESSION)
    for task in ("classification", "regression"):
        specs = models.catalogue(task)
        assert [s.cost for s in specs] == sorted(s.cost for s in specs)
        assert specs[0].name == "LightGBM"
    assert [s.name for s in models.catalogue("forecasting")] == [
        s.name for s in models.catalogue("regression")
    ]
    assert models.get("lightgbm") is models.get("LightGBM")
    with pytest.raises(UserErrorException, match="not in Plinth's catalogue.*LightGBM"):
        models.get("CatBoost")


@pytest.mark.parametrize("name", CLASSIFICATION)
def test_every_classifier_fits_single_threaded(name, cancer):
    X, y, X_test, y_test = cancer
    spec = models.get(name)
    params = spec.default_params("classification", len(X), X.shape[1])
    featurizer = FunctionTransformer(validate=False)  # identity, as a stand-in
    pipe = models.make_pipeline(featurizer, spec, "classification", params, seed=0)
    expected_steps = ["datatransformer", *([spec.scaler] if spec.scaler else []), name]
    assert list(pipe.named_steps) == expected_steps
    pipe.fit(X, y)
    assert all(v == 1 for v in _threads(pipe).values()), _threads(pipe)
    proba = pipe.predict_proba(X_test)
    assert proba.shape == (len(X_test), 2)
    assert np.allclose(proba.sum(axis=1), 1.0)
    assert list(pipe.classes_) == [0, 1]
    assert set(pipe.predict(X_test)) <= {0, 1}
    s = metrics.classification_scores(y_test, proba, pipe.classes_)
    assert s["AUC_weighted"] > 0.8, s["AUC_weighted"]


@pytest.mark.parametrize("name", REGRESSION)
def test_every_regressor_fits_single_threaded(name, diabetes):
    X, y, X_test, y_test = diabetes
    spec = models.get(name)
    params = spec.default_params("regression", len(X), X.shape[1])
    pipe = models.make_pipeline(None, spec, "forecasting", params, seed=0)
    assert "datatransformer" not in pipe.named_steps
    pipe.fit(X, y)
    assert all(v == 1 for v in _threads(pipe).values()), _threads(pipe)
    pred = pipe.predict(X_test)
    assert pred.shape == (len(X_test),)
    s = metrics.regression_scores(y_test, pred, y_min=y.min(), y_max=y.max())
    assert s["spearman_correlation"] > 0.3, s


def test_thread_counts_are_pinned_where_models_have_them(cancer):
    X, y, _, _ = cancer
    for name in ("LightGBM", "XGBoostClassifier", "RandomForest", "ExtremeRandomTrees", "KNN",
                 "SGD", "LinearSVM"):
        pipe = models.make_pipeline(None, models.get(name), "classification", {}, 0).fit(X, y)
        assert _threads(pipe), name
    xgb = models.get("XGBoostClassifier").build("classification", {}, 0)
    assert xgb.get_params()["tree_method"] == "hist"


def test_builds_are_seeded(diabetes):
    X, y, X_test, _ = diabetes
    spec = models.get("ExtremeRandomTrees")
    params = {"n_estimators": 10, "max_features": 0.5}
    a = models.make_pipeline(None, spec, "regression", params, seed=3).fit(X, y)
    b = models.make_pipeline(None, spec, "regression", params, seed=3).fit(X, y)
    c = models.make_pipeline(None, spec, "regression", params, seed=4).fit(X, y)
    assert np.array_equal(a.predict(X_test), b.predict(X_test))
    assert not np.array_equal(a.predict(X_test), c.predict(X_test))


def test_multiclass_and_rare_classes():
    X, y = load_iris(return_X_y=True, as_frame=True)
    idx = np.r_[0:30, 50:80, 100:101]  # class 2 seen once
    X, y = X.iloc[idx], y.to_numpy()[idx]
    for name in ("LinearSVM", "XGBoostClassifier", "LightGBM", "LogisticRegression"):
        spec = models.get(name)
        params = spec.default_params("classification", len(X), X.shape[1])
        pipe = models.make_pipeline(None, spec, "classification", params, seed=0).fit(X, y)
        assert pipe.predict_proba(X).shape == (len(X), 3), name


def test_suggest_in_one_study_with_conditional_spaces(cancer):
    X, y, X_test, y_test = cancer
    names = ["LightGBM", "SGD", "RandomForest", "XGBoostClassifier", "LogisticRegression"]
    seen: dict[str, set[str]] = {}

    def objective(trial: optuna.trial.Trial) -> float:
        name = trial.suggest_categorical("model", names)
        spec = models.get(name)
        params = spec.suggest(trial, "classification", len(X), X.shape[1])
        if name in ("LightGBM", "XGBoostClassifier", "RandomForest"):
            params["n_estimators"] = min(params["n_estimators"], 30)  # keep the test quick
        own = {k for k in trial.params if k != "model"}
        assert all(k.startswith(f"{name}.") for k in own), own
        assert {k.split(".", 1)[1] for k in own} == set(params)
        seen.setdefault(name, set()).update(own)
        pipe = models.make_pipeline(None, spec, "classification", params, seed=trial.number)
        pipe.fit(X, y)
        return metrics.classification_scores(
            y_test, pipe.predict_proba(X_test), pipe.classes_, metrics=["AUC_weighted"]
        )["AUC_weighted"]

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize",
                                sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(objective, n_trials=15)
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
    assert len(seen) >= 3
    assert "LightGBM.num_leaves" in seen.get("LightGBM", {"LightGBM.num_leaves"})
    # SGD's l1_ratio is only drawn with the elasticnet penalty
    for t in study.trials:
        if t.params["model"] == "SGD":
            assert ("SGD.l1_ratio" in t.params) == (t.params["SGD.penalty"] == "elasticnet")


def test_suggest_regression_spaces():
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    for spec in models.catalogue("regression"):
        trial = study.ask()
        params = spec.suggest(trial, "regression", 150, 10)
        assert params and all(k.startswith(f"{spec.name}.") for k in trial.params)
        spec.build("regression", params, seed=0)  # every draw is a valid configuration
        study.tell(trial, 0.0)


def test_unknown_params_and_wrong_task_are_user_errors():
    with pytest.raises(UserErrorException, match="num_leavs"):
        models.get("LightGBM").build("classification", {"num_leavs": 3}, 0)
    with pytest.raises(UserErrorException, match="does not support task='regression'"):
        models.get("LogisticRegression").build("regression", {}, 0)
    with pytest.raises(UserErrorException, match="task='ranking'"):
        models.catalogue("ranking")


def test_resolve():
    assert models.resolve("classification") == [s.name for s in models.catalogue("classification")]
    assert models.resolve("classification", allowed_models=["KNN", "lightgbm"]) == [
        "LightGBM", "KNN",
    ]
    got = models.resolve("regression", blocked_models=["LightGBM", "Prophet", "TabnetRegressor"])
    assert "LightGBM" not in got and "XGBoostRegressor" in got
    forecasting = models.resolve("forecasting")
    assert forecasting[:4] == list(models.FORECASTING_ONLY)
    assert "LightGBM" in forecasting
    assert models.resolve("forecasting", allowed_models=["SeasonalNaive", "ElasticNet"]) == [
        "SeasonalNaive", "ElasticNet",
    ]


@pytest.mark.parametrize(
    ("task", "kwargs", "message"),
    [
        ("classification", {"allowed_models": ["CatBoost"]}, "'CatBoost' is not a model name"),
        ("regression", {"allowed_models": ["LogisticRegression"]}, "not a regression model"),
        ("classification", {"allowed_models": ["Naive"]}, "not a classification model"),
        ("forecasting", {"allowed_models": ["Prophet"]}, "Plinth does not offer"),
        ("forecasting", {"allowed_models": ["AutoArima", "Naive"]}, "Plinth does not offer"),
        ("classification", {"allowed_models": ["SVM"]}, "Plinth does not offer"),
        ("regression", {"blocked_models": ["Nope"]}, "blocked_models: 'Nope'"),
        ("classification", {"allowed_models": ["KNN"], "blocked_models": ["KNN"]}, "no model"),
        ("classification", {"allowed_models": []}, "no model"),
    ],
)
def test_resolve_errors_list_the_choices(task, kwargs, message):
    with pytest.raises(UserErrorException, match=message) as info:
        models.resolve(task, **kwargs)
    assert "LightGBM" in str(info.value)  # the available models are listed
