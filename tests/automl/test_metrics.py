"""AutoML metrics: azureml's names, values as sklearn computes them, goals, degenerate folds."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from sklearn import metrics as skm

from plinth._automl import metrics
from plinth.exceptions import UserErrorException


def _proba(y: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """Informative but imperfect probabilities for labels ``y`` in ``0..k-1``."""
    rng = np.random.default_rng(seed)
    p = rng.dirichlet(np.ones(k), len(y))
    p[np.arange(len(y)), y] += 0.4
    return p / p.sum(axis=1, keepdims=True)


@pytest.fixture
def multiclass():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 80)
    return y, _proba(y, 3)


@pytest.fixture
def binary():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 60)
    return y, _proba(y, 2, seed=3)


def test_task_metric_lists_and_goals():
    assert metrics.primary_metrics("classification") == [
        "accuracy",
        "AUC_weighted",
        "average_precision_score_weighted",
        "norm_macro_recall",
        "precision_score_weighted",
    ]
    assert metrics.primary_metrics("forecasting") == metrics.primary_metrics("regression") == [
        "spearman_correlation",
        "normalized_root_mean_squared_error",
        "r2_score",
        "normalized_mean_absolute_error",
    ]
    assert metrics.default_primary_metric("classification") == "accuracy"
    assert metrics.default_primary_metric("regression") == "normalized_root_mean_squared_error"
    assert metrics.default_primary_metric("forecasting") == "normalized_root_mean_squared_error"
    assert len(metrics.all_metrics("classification")) == 21
    assert len(metrics.all_metrics("regression")) == 12
    for task in metrics.TASKS:
        for name in metrics.primary_metrics(task):
            assert name in metrics.all_metrics(task)

    assert metrics.goal("accuracy") == "maximize"
    assert metrics.goal("AUC_weighted") == "maximize"
    assert metrics.goal("r2_score") == "maximize"
    assert metrics.goal("spearman_correlation") == "maximize"
    assert metrics.goal("log_loss") == "minimize"
    assert metrics.goal("normalized_root_mean_squared_error") == "minimize"
    assert metrics.goal("mean_absolute_percentage_error") == "minimize"


def test_unknown_task_and_metric_name_the_choices():
    with pytest.raises(UserErrorException, match="task=.*classification, regression, forecast"):
        metrics.primary_metrics("clustering")
    with pytest.raises(UserErrorException, match="metric='AUC'.*AUC_weighted"):
        metrics.goal("AUC")
    with pytest.raises(UserErrorException, match="classes"):
        metrics.score("classification", [0, 1], np.eye(2))


def test_multiclass_values_match_sklearn(multiclass):
    y, p = multiclass
    s = metrics.classification_scores(y, p, np.arange(3))
    assert set(s) == set(metrics.all_metrics("classification"))
    pred = p.argmax(axis=1)
    onehot = np.eye(3)[y]
    expected = {
        "accuracy": skm.accuracy_score(y, pred),
        "AUC_macro": skm.roc_auc_score(y, p, multi_class="ovr", average="macro"),
        "AUC_weighted": skm.roc_auc_score(y, p, multi_class="ovr", average="weighted"),
        "AUC_micro": skm.roc_auc_score(onehot, p, average="micro"),
        "average_precision_score_macro": skm.average_precision_score(onehot, p, average="macro"),
        "average_precision_score_micro": skm.average_precision_score(onehot, p, average="micro"),
        "average_precision_score_weighted": skm.average_precision_score(
            onehot, p, average="weighted"
        ),
        "balanced_accuracy": skm.balanced_accuracy_score(y, pred),
        "f1_score_macro": skm.f1_score(y, pred, average="macro"),
        "f1_score_weighted": skm.f1_score(y, pred, average="weighted"),
        "precision_score_micro": skm.precision_score(y, pred, average="micro"),
        "precision_score_weighted": skm.precision_score(y, pred, average="weighted"),
        "recall_score_macro": skm.recall_score(y, pred, average="macro"),
        "log_loss": skm.log_loss(y, p),
        "matthews_correlation": skm.matthews_corrcoef(y, pred),
        # azureml: (R - 1/C) / (1 - 1/C) with R the macro recall
        "norm_macro_recall": (skm.recall_score(y, pred, average="macro") - 1 / 3) / (2 / 3),
        # azureml: every sample weighs as much as its class is frequent
        "weighted_accuracy": skm.accuracy_score(
            y, pred, sample_weight=np.bincount(y)[y] / len(y)
        ),
    }
    for name, value in expected.items():
        assert s[name] == pytest.approx(value), name


def test_binary_values_and_string_labels(binary):
    y, p = binary
    labels = np.array(["no", "yes"])
    s = metrics.classification_scores(labels[y], p, labels)
    assert s["AUC_weighted"] == pytest.approx(skm.roc_auc_score(y, p[:, 1]))
    assert s["AUC_macro"] == pytest.approx(skm.roc_auc_score(y, p[:, 1]))
    assert s["average_precision_score_weighted"] == pytest.approx(
        skm.average_precision_score(np.eye(2)[y], p, average="weighted")
    )
    assert s["accuracy"] == pytest.approx(skm.accuracy_score(y, p.argmax(axis=1)))
    assert s["norm_macro_recall"] == pytest.approx(
        max(0.0, 2 * skm.recall_score(y, p.argmax(axis=1), average="macro") - 1)
    )
    # a 1-D probability of the positive class is accepted for binary problems
    one_d = metrics.classification_scores(labels[y], p[:, 1], labels)
    assert one_d["AUC_weighted"] == pytest.approx(s["AUC_weighted"])


def test_sample_weight_is_used(binary):
    y, p = binary
    w = np.linspace(0.1, 3.0, len(y))
    s = metrics.classification_scores(y, p, np.arange(2), sample_weight=w)
    pred = p.argmax(axis=1)
    assert s["accuracy"] == pytest.approx(skm.accuracy_score(y, pred, sample_weight=w))
    assert s["log_loss"] == pytest.approx(skm.log_loss(y, p, sample_weight=w))
    assert s["AUC_weighted"] == pytest.approx(skm.roc_auc_score(y, p[:, 1], sample_weight=w))


def test_fold_missing_a_class_scores_over_the_classes_present(multiclass):
    y, p = multiclass
    keep = y != 2
    s = metrics.classification_scores(y[keep], p[keep], np.arange(3))
    for name, value in s.items():
        assert isinstance(value, float), name
        assert math.isfinite(value), name
    yk, pk = y[keep], p[keep]
    per_class = [skm.roc_auc_score(yk == c, pk[:, c]) for c in (0, 1)]
    assert s["AUC_macro"] == pytest.approx(np.mean(per_class))
    assert s["log_loss"] == pytest.approx(skm.log_loss(yk, pk, labels=[0, 1, 2]))


def test_fold_with_one_class_gives_nan_not_errors(multiclass):
    y, p = multiclass
    only = y == 1
    s = metrics.classification_scores(y[only], p[only], np.arange(3))
    assert math.isnan(s["AUC_weighted"])
    assert math.isnan(s["AUC_micro"])
    assert math.isnan(s["norm_macro_recall"])
    assert s["accuracy"] == pytest.approx(np.mean(p[only].argmax(axis=1) == 1))
    # a label the model was never told about is scored too, as never predicted
    s = metrics.classification_scores(np.array([0, 1, 5, 1]), np.eye(3)[[0, 1, 1, 1]],
                                      np.arange(3))
    assert s["accuracy"] == pytest.approx(0.75)
    # an empty fold
    assert all(math.isnan(v) for v in metrics.classification_scores([], np.zeros((0, 3)),
                                                                     np.arange(3)).values())


def test_proba_of_the_wrong_shape_is_a_user_error(multiclass):
    y, p = multiclass
    with pytest.raises(UserErrorException, match="proba has shape"):
        metrics.classification_scores(y, p[:, :2], np.arange(3))


def test_metrics_argument_limits_the_computation(multiclass):
    y, p = multiclass
    s = metrics.score("classification", y, p, classes=np.arange(3), metrics=["accuracy"])
    assert list(s) == ["accuracy"]
    with pytest.raises(UserErrorException, match="r2_score"):
        metrics.score("classification", y, p, classes=np.arange(3), metrics=["r2_score"])


def test_regression_values_match_sklearn():
    rng = np.random.default_rng(4)
    y = rng.uniform(1, 10, 50)
    p = y + rng.normal(0, 1, 50)
    p = np.clip(p, 0.1, None)
    s = metrics.regression_scores(y, p)
    assert set(s) == set(metrics.all_metrics("regression"))
    span = y.max() - y.min()
    expected = {
        "explained_variance": skm.explained_variance_score(y, p),
        "mean_absolute_error": skm.mean_absolute_error(y, p),
        "median_absolute_error": skm.median_absolute_error(y, p),
        "r2_score": skm.r2_score(y, p),
        "root_mean_squared_error": skm.root_mean_squared_error(y, p),
        "root_mean_squared_log_error": skm.root_mean_squared_log_error(y, p),
        "spearman_correlation": stats.spearmanr(y, p).statistic,
        "normalized_mean_absolute_error": skm.mean_absolute_error(y, p) / span,
        "normalized_median_absolute_error": skm.median_absolute_error(y, p) / span,
        "normalized_root_mean_squared_error": skm.root_mean_squared_error(y, p) / span,
        "normalized_root_mean_squared_log_error": skm.root_mean_squared_log_error(y, p)
        / (np.log1p(y.max()) - np.log1p(y.min())),
        "mean_absolute_percentage_error": 100 * skm.mean_absolute_percentage_error(y, p),
    }
    for name, value in expected.items():
        assert s[name] == pytest.approx(value), name


def test_regression_normalises_by_the_training_range():
    y, p = np.array([2.0, 3.0, 4.0]), np.array([2.5, 3.0, 3.0])
    s = metrics.score("regression", y, p, y_min=0.0, y_max=20.0)
    assert s["normalized_root_mean_squared_error"] == pytest.approx(
        skm.root_mean_squared_error(y, p) / 20.0
    )
    assert s["normalized_mean_absolute_error"] == pytest.approx(
        skm.mean_absolute_error(y, p) / 20.0
    )
    w = np.array([1.0, 2.0, 3.0])
    s = metrics.score("forecasting", y, p, sample_weight=w)
    assert s["root_mean_squared_error"] == pytest.approx(
        skm.root_mean_squared_error(y, p, sample_weight=w)
    )


def test_regression_degenerate_inputs_give_nan():
    s = metrics.regression_scores([-1.0, 2.0, 3.0], [0.0, 2.0, 2.5])
    assert math.isnan(s["root_mean_squared_log_error"])
    assert math.isnan(s["normalized_root_mean_squared_log_error"])
    assert math.isfinite(s["root_mean_squared_error"])
    # zero targets are skipped by the percentage error
    s = metrics.regression_scores([0.0, 2.0, 4.0], [1.0, 1.0, 5.0])
    assert s["mean_absolute_percentage_error"] == pytest.approx(100 * (0.5 + 0.25) / 2)
    # a constant target: no range to normalise by, no correlation
    s = metrics.regression_scores([3.0, 3.0, 3.0], [2.0, 3.0, 4.0])
    assert math.isnan(s["normalized_root_mean_squared_error"])
    assert math.isnan(s["spearman_correlation"])
    s = metrics.regression_scores([1.0], [1.5])
    assert math.isnan(s["r2_score"])
    assert s["mean_absolute_error"] == pytest.approx(0.5)
    s = metrics.regression_scores([1.0, 2.0], [np.nan, 2.0])
    assert all(math.isnan(v) or math.isfinite(v) for v in s.values())


def test_average_weights_folds_and_skips_nan():
    folds = [
        {"accuracy": 0.8, "AUC_weighted": float("nan")},
        {"accuracy": 0.6, "AUC_weighted": 0.9},
        {"accuracy": 0.7, "AUC_weighted": float("nan")},
    ]
    avg = metrics.average(folds)
    assert avg["accuracy"] == pytest.approx(0.7)
    assert avg["AUC_weighted"] == pytest.approx(0.9)
    avg = metrics.average(folds[:2], weights=[3, 1])
    assert avg["accuracy"] == pytest.approx(0.75)
    assert math.isnan(metrics.average([{"a": float("nan")}])["a"])
    with pytest.raises(UserErrorException, match="weights"):
        metrics.average(folds, weights=[1.0])
