"""AutoML's metrics, named as azureml names them, with their goals.

Every scorer here returns a plain ``dict[str, float]``. A metric that cannot be computed on
the data at hand (an AUC over a fold holding a single class, a log error over negative
targets, a normalised error over a target of zero range) is ``nan``, never an exception: a
cross-validation fold that lacks a class must still be scored.

Classification scores take the predicted probabilities (columns in the order of ``classes``)
and derive the predicted class as the most probable one. Regression errors are normalised by
the range of the target, ``y_max - y_min``; as in azureml, callers pass the range of the
*whole training target* so that every fold is normalised the same way (when they are not
given, the range of ``y_true`` is used).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from scipy import stats
from sklearn import metrics as skm

from plinth.exceptions import UserErrorException

__all__ = [
    "CLASSIFICATION_METRICS",
    "REGRESSION_METRICS",
    "TASKS",
    "all_metrics",
    "average",
    "classification_scores",
    "default_primary_metric",
    "goal",
    "primary_metrics",
    "regression_scores",
    "score",
]

TASKS = ("classification", "regression", "forecasting")

CLASSIFICATION_METRICS = (
    "accuracy",
    "AUC_macro",
    "AUC_micro",
    "AUC_weighted",
    "average_precision_score_macro",
    "average_precision_score_micro",
    "average_precision_score_weighted",
    "balanced_accuracy",
    "f1_score_macro",
    "f1_score_micro",
    "f1_score_weighted",
    "log_loss",
    "matthews_correlation",
    "norm_macro_recall",
    "precision_score_macro",
    "precision_score_micro",
    "precision_score_weighted",
    "recall_score_macro",
    "recall_score_micro",
    "recall_score_weighted",
    "weighted_accuracy",
)

REGRESSION_METRICS = (
    "explained_variance",
    "mean_absolute_error",
    "mean_absolute_percentage_error",
    "median_absolute_error",
    "normalized_mean_absolute_error",
    "normalized_median_absolute_error",
    "normalized_root_mean_squared_error",
    "normalized_root_mean_squared_log_error",
    "r2_score",
    "root_mean_squared_error",
    "root_mean_squared_log_error",
    "spearman_correlation",
)

_PRIMARY = {
    "classification": (
        "accuracy",
        "AUC_weighted",
        "average_precision_score_weighted",
        "norm_macro_recall",
        "precision_score_weighted",
    ),
    "regression": (
        "spearman_correlation",
        "normalized_root_mean_squared_error",
        "r2_score",
        "normalized_mean_absolute_error",
    ),
}
_PRIMARY["forecasting"] = _PRIMARY["regression"]

_DEFAULT_PRIMARY = {
    "classification": "accuracy",
    "regression": "normalized_root_mean_squared_error",
    "forecasting": "normalized_root_mean_squared_error",
}

_MINIMIZE = frozenset(
    {
        "log_loss",
        "mean_absolute_error",
        "mean_absolute_percentage_error",
        "median_absolute_error",
        "normalized_mean_absolute_error",
        "normalized_median_absolute_error",
        "normalized_root_mean_squared_error",
        "normalized_root_mean_squared_log_error",
        "root_mean_squared_error",
        "root_mean_squared_log_error",
    }
)

_NAN = float("nan")


def _check_task(task: str) -> str:
    if task not in TASKS:
        raise UserErrorException(
            f"task={task!r} is not an AutoML task; choose one of {', '.join(TASKS)}."
        )
    return task


def primary_metrics(task: str) -> list[str]:
    """The metrics ``task`` can optimise (azureml's ``get_primary_metrics``)."""
    return list(_PRIMARY[_check_task(task)])


def default_primary_metric(task: str) -> str:
    """The metric optimised when the caller names none."""
    return _DEFAULT_PRIMARY[_check_task(task)]


def all_metrics(task: str) -> list[str]:
    """Every metric computed (and logged) for ``task``."""
    if _check_task(task) == "classification":
        return list(CLASSIFICATION_METRICS)
    return list(REGRESSION_METRICS)


def goal(metric: str) -> str:
    """``'maximize'`` or ``'minimize'``: which way ``metric`` improves."""
    if metric in _MINIMIZE:
        return "minimize"
    if metric in CLASSIFICATION_METRICS or metric in REGRESSION_METRICS:
        return "maximize"
    known = ", ".join(sorted({*CLASSIFICATION_METRICS, *REGRESSION_METRICS}))
    raise UserErrorException(f"metric={metric!r} is not an AutoML metric; choose one of {known}.")


def _wanted(metrics: Iterable[str] | None, known: Sequence[str]) -> list[str]:
    if metrics is None:
        return list(known)
    if isinstance(metrics, str):
        metrics = [metrics]
    wanted = list(metrics)
    unknown = [m for m in wanted if m not in known]
    if unknown:
        raise UserErrorException(
            f"metrics={unknown!r} are not metrics of this task; choose from {', '.join(known)}."
        )
    return wanted


def _safe(fn, *args: Any, **kwargs: Any) -> float:
    """``fn(...)`` as a float; ``nan`` when it cannot be computed."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            value = float(fn(*args, **kwargs))
        except (ValueError, ZeroDivisionError, FloatingPointError, IndexError):
            return _NAN
    return value if math.isfinite(value) else _NAN


def _weights(sample_weight, n: int) -> np.ndarray | None:
    if sample_weight is None:
        return None
    w = np.asarray(sample_weight, dtype=float).ravel()
    if w.shape[0] != n:
        raise UserErrorException(
            f"sample_weight has {w.shape[0]} values but y_true has {n}; pass one weight a row."
        )
    return w


# --------------------------------------------------------------------------- classification


def _encode(y_true, classes) -> tuple[np.ndarray, int]:
    """``y_true`` as indices into ``classes``; labels outside ``classes`` get new indices."""
    index = {c: i for i, c in enumerate(np.asarray(classes).tolist())}
    k = len(index)
    extra: dict[Any, int] = {}
    codes = np.empty(len(y_true), dtype=int)
    for row, label in enumerate(np.asarray(y_true).tolist()):
        code = index.get(label)
        if code is None:
            code = extra.setdefault(label, k + len(extra))
        codes[row] = code
    return codes, k + len(extra)


def _one_vs_rest(fn, onehot: np.ndarray, proba: np.ndarray, sw, kind: str) -> float:
    """Per-class ``fn`` averaged ('macro', 'weighted') over the classes it is defined for."""
    values, supports = [], []
    for c in range(onehot.shape[1]):
        positives = onehot[:, c].sum()
        if positives == 0 or (fn is skm.roc_auc_score and positives == onehot.shape[0]):
            continue  # undefined for this class in this fold
        value = _safe(fn, onehot[:, c], proba[:, c], sample_weight=sw)
        if math.isnan(value):
            continue
        values.append(value)
        supports.append(onehot[:, c].sum() if sw is None else sw[onehot[:, c] == 1].sum())
    if not values or (fn is skm.roc_auc_score and onehot.any(axis=0).sum() < 2):
        return _NAN
    if kind == "macro":
        return float(np.mean(values))
    total = float(np.sum(supports))
    return float(np.dot(values, supports) / total) if total > 0 else _NAN


def classification_scores(
    y_true,
    proba: np.ndarray,
    classes: np.ndarray,
    sample_weight=None,
    *,
    metrics: Iterable[str] | None = None,
) -> dict[str, float]:
    """azureml's classification metrics of predicted probabilities ``proba``.

    ``proba[:, j]`` is the probability of ``classes[j]``. ``y_true`` may lack some classes (a
    cross-validation fold); AUCs and average precisions are then averaged over the classes
    present and a metric that is undefined is ``nan``. ``metrics`` limits the computation
    to those names (all of them by default).
    """
    wanted = _wanted(metrics, CLASSIFICATION_METRICS)
    classes = np.asarray(classes)
    y_true = np.asarray(y_true).ravel()
    proba = np.asarray(proba, dtype=float)
    if proba.ndim == 1 and len(classes) == 2:
        proba = np.column_stack([1.0 - proba, proba])
    if proba.ndim != 2 or proba.shape != (len(y_true), len(classes)):
        raise UserErrorException(
            f"proba has shape {proba.shape}; expected ({len(y_true)}, {len(classes)}): "
            "one row per sample and one column per class, in the order of classes."
        )
    sw = _weights(sample_weight, len(y_true))
    y, k = _encode(y_true, classes)
    if k > proba.shape[1]:  # labels never predicted: probability 0
        proba = np.hstack([proba, np.zeros((len(y), k - proba.shape[1]))])
    pred = np.argmax(proba, axis=1) if len(y) else np.empty(0, dtype=int)
    onehot = np.zeros((len(y), k), dtype=int)
    onehot[np.arange(len(y)), y] = 1
    present = np.unique(y)

    def prf(fn, average: str) -> float:
        return _safe(fn, y, pred, average=average, sample_weight=sw, zero_division=0)

    def norm_macro_recall() -> float:
        if len(present) < 2:
            return _NAN
        recall = _safe(skm.recall_score, y, pred, labels=present, average="macro",
                       sample_weight=sw, zero_division=0)
        chance = 1.0 / len(present)
        return max(0.0, (recall - chance) / (1.0 - chance))

    def weighted_accuracy() -> float:
        # azureml: each sample weighs as much as its class is frequent.
        freq = np.bincount(y, minlength=k) / max(len(y), 1)
        w = freq[y] if sw is None else freq[y] * sw
        return _safe(skm.accuracy_score, y, pred, sample_weight=w)

    def log_loss() -> float:
        p = np.clip(proba, 1e-15, 1.0)
        p = p / p.sum(axis=1, keepdims=True)
        return _safe(skm.log_loss, y, p, labels=np.arange(k), sample_weight=sw)

    def micro(fn) -> float:
        if fn is skm.roc_auc_score and len(present) < 2:
            return _NAN
        w = None if sw is None else np.repeat(sw, k)
        return _safe(fn, onehot.ravel(), proba.ravel(), sample_weight=w)

    computers = {
        "accuracy": lambda: _safe(skm.accuracy_score, y, pred, sample_weight=sw),
        "AUC_macro": lambda: _one_vs_rest(skm.roc_auc_score, onehot, proba, sw, "macro"),
        "AUC_micro": lambda: micro(skm.roc_auc_score),
        "AUC_weighted": lambda: _one_vs_rest(skm.roc_auc_score, onehot, proba, sw, "weighted"),
        "average_precision_score_macro": lambda: _one_vs_rest(
            skm.average_precision_score, onehot, proba, sw, "macro"
        ),
        "average_precision_score_micro": lambda: micro(skm.average_precision_score),
        "average_precision_score_weighted": lambda: _one_vs_rest(
            skm.average_precision_score, onehot, proba, sw, "weighted"
        ),
        "balanced_accuracy": lambda: _safe(skm.balanced_accuracy_score, y, pred, sample_weight=sw),
        "f1_score_macro": lambda: prf(skm.f1_score, "macro"),
        "f1_score_micro": lambda: prf(skm.f1_score, "micro"),
        "f1_score_weighted": lambda: prf(skm.f1_score, "weighted"),
        "log_loss": log_loss,
        "matthews_correlation": lambda: _safe(skm.matthews_corrcoef, y, pred, sample_weight=sw),
        "norm_macro_recall": norm_macro_recall,
        "precision_score_macro": lambda: prf(skm.precision_score, "macro"),
        "precision_score_micro": lambda: prf(skm.precision_score, "micro"),
        "precision_score_weighted": lambda: prf(skm.precision_score, "weighted"),
        "recall_score_macro": lambda: prf(skm.recall_score, "macro"),
        "recall_score_micro": lambda: prf(skm.recall_score, "micro"),
        "recall_score_weighted": lambda: prf(skm.recall_score, "weighted"),
        "weighted_accuracy": weighted_accuracy,
    }
    if len(y) == 0:
        return {name: _NAN for name in wanted}
    return {name: computers[name]() for name in wanted}


# ------------------------------------------------------------------------------- regression


def regression_scores(
    y_true,
    y_pred,
    sample_weight=None,
    y_min=None,
    y_max=None,
    *,
    metrics: Iterable[str] | None = None,
) -> dict[str, float]:
    """azureml's regression metrics; errors normalised by ``y_max - y_min``.

    ``y_min`` / ``y_max`` default to the range of ``y_true``; pass the whole training target's
    range so that folds are comparable. The log errors are ``nan`` when a value is negative,
    the percentage error skips rows whose target is 0 (and is in percent, as azureml's), the
    Spearman correlation ignores ``sample_weight``.
    """
    wanted = _wanted(metrics, REGRESSION_METRICS)
    y = np.asarray(y_true, dtype=float).ravel()
    p = np.asarray(y_pred, dtype=float).ravel()
    if y.shape != p.shape:
        raise UserErrorException(
            f"y_pred has {p.shape[0]} values but y_true has {y.shape[0]}; pass one a row."
        )
    sw = _weights(sample_weight, len(y))
    if len(y) == 0:
        return {name: _NAN for name in wanted}
    lo = float(np.nanmin(y)) if y_min is None else float(y_min)
    hi = float(np.nanmax(y)) if y_max is None else float(y_max)
    span = hi - lo if hi > lo else _NAN
    no_negatives = bool((y >= 0).all() and (p >= 0).all())
    log_span = math.log1p(hi) - math.log1p(lo) if lo >= 0 and hi > lo else _NAN

    def rmsle() -> float:
        if not no_negatives:
            return _NAN
        return _safe(skm.root_mean_squared_log_error, y, p, sample_weight=sw)

    def mape() -> float:
        keep = y != 0
        if not keep.any():
            return _NAN
        w = None if sw is None else sw[keep]
        return 100.0 * _safe(skm.mean_absolute_percentage_error, y[keep], p[keep], sample_weight=w)

    def spearman() -> float:
        return _safe(lambda: stats.spearmanr(y, p).statistic)

    cache: dict[str, float] = {}

    def once(name: str, fn) -> float:
        if name not in cache:
            cache[name] = fn()
        return cache[name]

    def mae() -> float:
        return once("mae", lambda: _safe(skm.mean_absolute_error, y, p, sample_weight=sw))

    def medae() -> float:
        return once("medae", lambda: _safe(skm.median_absolute_error, y, p, sample_weight=sw))

    def rmse() -> float:
        return once("rmse", lambda: _safe(skm.root_mean_squared_error, y, p, sample_weight=sw))

    computers = {
        "explained_variance": lambda: _safe(skm.explained_variance_score, y, p, sample_weight=sw),
        "mean_absolute_error": mae,
        "mean_absolute_percentage_error": mape,
        "median_absolute_error": medae,
        "normalized_mean_absolute_error": lambda: mae() / span,
        "normalized_median_absolute_error": lambda: medae() / span,
        "normalized_root_mean_squared_error": lambda: rmse() / span,
        "normalized_root_mean_squared_log_error": lambda: once("rmsle", rmsle) / log_span,
        "r2_score": lambda: _safe(skm.r2_score, y, p, sample_weight=sw),
        "root_mean_squared_error": rmse,
        "root_mean_squared_log_error": lambda: once("rmsle", rmsle),
        "spearman_correlation": spearman,
    }
    return {name: float(computers[name]()) for name in wanted}


# ---------------------------------------------------------------------------------- general


def score(
    task: str,
    y_true,
    prediction,
    classes=None,
    sample_weight=None,
    y_min=None,
    y_max=None,
    *,
    metrics: Iterable[str] | None = None,
) -> dict[str, float]:
    """The metrics of ``task``: probabilities and ``classes`` for classification, values
    otherwise. ``metrics`` limits the computation to those names."""
    if _check_task(task) == "classification":
        if classes is None:
            raise UserErrorException(
                "classes is required to score classification: the labels of proba's columns."
            )
        return classification_scores(y_true, prediction, classes, sample_weight, metrics=metrics)
    return regression_scores(
        y_true, prediction, sample_weight, y_min=y_min, y_max=y_max, metrics=metrics
    )


def average(
    per_fold: list[dict[str, float]], weights: list[float] | None = None
) -> dict[str, float]:
    """Each metric's (weighted) mean over folds, skipping the folds where it is ``nan``.

    A metric that is ``nan`` (or missing) in every fold stays ``nan``.
    """
    if weights is not None and len(weights) != len(per_fold):
        raise UserErrorException(
            f"weights has {len(weights)} values but per_fold has {len(per_fold)}; "
            "pass one weight a fold."
        )
    ws = [1.0] * len(per_fold) if weights is None else [float(w) for w in weights]
    names: dict[str, None] = {}
    for fold in per_fold:
        names.update(dict.fromkeys(fold))
    result: dict[str, float] = {}
    for name in names:
        pairs = [
            (float(fold[name]), w)
            for fold, w in zip(per_fold, ws, strict=True)
            if name in fold and fold[name] is not None and not math.isnan(float(fold[name]))
        ]
        total = sum(w for _, w in pairs)
        result[name] = sum(v * w for v, w in pairs) / total if pairs and total > 0 else _NAN
    return result
