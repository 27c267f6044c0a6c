"""Ensembles of fitted AutoML pipelines: Caruana weights, soft voting and stacking.

The members are fitted sklearn pipelines (what :func:`plinth._automl.models.make_pipeline`
returns) that take the raw DataFrame; so do the ensembles, which pickle like any estimator.

Classification members are fitted on integer codes ``0..k-1``; a member's probability
columns are placed by its ``classes_`` (codes) so that a member that never saw a class
still lines up. An ensemble's ``classes`` are the labels of codes ``0..k-1`` (the decoded
labels); ``predict`` returns them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, clone
from sklearn.linear_model import ElasticNetCV, LogisticRegression, Ridge

from plinth._automl import metrics as _metrics
from plinth.exceptions import UserErrorException

__all__ = [
    "PreFittedSoftVotingClassifier",
    "PreFittedSoftVotingRegressor",
    "StackEnsembleClassifier",
    "StackEnsembleRegressor",
    "caruana_weights",
    "fit_meta_learner",
    "stack_features",
]


def _is_classification(task: str) -> bool:
    if task not in _metrics.TASKS:
        raise UserErrorException(
            f"task={task!r} is not an AutoML task; choose one of {', '.join(_metrics.TASKS)}."
        )
    return task == "classification"


# ------------------------------------------------------------------------ Caruana weights


def caruana_weights(
    predictions: list[np.ndarray],
    y_true,
    task: str,
    metric: str,
    classes=None,
    sample_weight=None,
    y_min=None,
    y_max=None,
    rounds: int = 15,
) -> list[float]:
    """Caruana et al.'s ensemble selection with replacement (azureml's VotingEnsemble).

    ``predictions[i]`` is model ``i``'s out-of-fold prediction (probabilities for
    classification, values otherwise). Each of ``rounds`` rounds adds the model whose
    addition scores best on ``metric`` (ties go to the earlier, cheaper model); a model's
    weight is the share of rounds that picked it, so weights sum to 1 and may be 0. A
    prediction that cannot be scored (``nan``) is never preferred.
    """
    if not predictions:
        raise UserErrorException("predictions is empty; pass one out-of-fold prediction a model.")
    if int(rounds) < 1:
        raise UserErrorException(f"rounds={rounds!r} must be a positive number of rounds.")
    classification = _is_classification(task)
    if metric not in _metrics.all_metrics(task):
        raise UserErrorException(
            f"metric={metric!r} is not a {task} metric; choose one of "
            f"{', '.join(_metrics.all_metrics(task))}."
        )
    preds = [np.asarray(p, dtype=float) for p in predictions]
    if not classification:
        preds = [p.ravel() for p in preds]
    shapes = {p.shape for p in preds}
    if len(shapes) != 1:
        raise UserErrorException(
            f"predictions have different shapes {sorted(shapes)}; they must all be of the "
            "same rows (and classes)."
        )
    sign = 1.0 if _metrics.goal(metric) == "maximize" else -1.0

    def quality(prediction: np.ndarray) -> float:
        value = _metrics.score(
            task, y_true, prediction, classes=classes, sample_weight=sample_weight,
            y_min=y_min, y_max=y_max, metrics=[metric],
        )[metric]
        return -math.inf if math.isnan(value) else sign * value

    counts = [0] * len(preds)
    total = np.zeros_like(preds[0])
    for step in range(int(rounds)):
        best, best_quality = 0, -math.inf
        for i, p in enumerate(preds):
            q = quality((total + p) / (step + 1))
            if q > best_quality:
                best, best_quality = i, q
        counts[best] += 1
        total = total + preds[best]
    n = float(sum(counts))
    return [c / n for c in counts]


# ------------------------------------------------------------------------------- helpers


def _normalised(weights, n: int) -> np.ndarray:
    if weights is None:
        return np.full(n, 1.0 / n)
    w = np.asarray(weights, dtype=float).ravel()
    if w.shape[0] != n or (w < 0).any() or not np.isfinite(w).all() or w.sum() <= 0:
        raise UserErrorException(
            f"weights={list(weights)!r} must be {n} non-negative numbers, not all 0: one per "
            "estimator."
        )
    return w / w.sum()


def _aligned_proba(model, X, n_classes: int, classes: np.ndarray | None = None) -> np.ndarray:
    """``model.predict_proba(X)`` with a column for each of ``n_classes`` codes.

    Columns are placed by ``model.classes_``: integer codes in ``0..n_classes-1`` (how
    members are fitted), else values of ``classes``.
    """
    proba = np.asarray(model.predict_proba(X), dtype=float)
    own = getattr(model, "classes_", None)
    if own is None:
        if proba.shape[1] != n_classes:
            raise UserErrorException(
                f"a member predicts {proba.shape[1]} probabilities a row; expected {n_classes}."
            )
        return proba
    own = np.asarray(own)
    if own.shape[0] == n_classes and np.array_equal(own, np.arange(n_classes)):
        return proba
    if np.issubdtype(own.dtype, np.integer) and own.min() >= 0 and own.max() < n_classes:
        columns = own.astype(int)
    elif classes is not None:
        index = {c: i for i, c in enumerate(np.asarray(classes).tolist())}
        try:
            columns = np.array([index[c] for c in own.tolist()], dtype=int)
        except KeyError as exc:
            raise UserErrorException(
                f"a member predicts class {exc.args[0]!r}, which is not among classes."
            ) from None
    else:
        raise UserErrorException(
            f"a member's classes_ {own.tolist()!r} are not codes 0..{n_classes - 1}."
        )
    full = np.zeros((proba.shape[0], n_classes))
    full[:, columns] = proba
    return full


def _codes_of(estimators: Sequence) -> np.ndarray:
    """The union of the members' ``classes_`` (codes), sorted."""
    seen = [np.asarray(m.classes_) for m in estimators if hasattr(m, "classes_")]
    if not seen:
        raise UserErrorException("classes is required: no member has a classes_ attribute.")
    return np.unique(np.concatenate(seen))


def _check_members(members, argument: str) -> list[tuple[str, object]]:
    try:
        pairs = [(str(name), model) for name, model in members]
    except (TypeError, ValueError):
        raise UserErrorException(
            f"{argument} must be a list of (name, fitted estimator) pairs."
        ) from None
    if not pairs:
        raise UserErrorException(f"{argument} is empty; pass at least one fitted estimator.")
    return pairs


# -------------------------------------------------------------------------------- voting


class PreFittedSoftVotingClassifier(ClassifierMixin, BaseEstimator):
    """Soft voting over already-fitted classifiers (azureml's VotingEnsemble).

    ``predict_proba`` is the weighted mean of the members' probabilities; ``predict`` the
    most probable of ``classes`` (default: the members' class codes).
    """

    def __init__(self, estimators, weights=None, classes=None):
        self.estimators = estimators
        self.weights = weights
        self.classes = classes

    @property
    def classes_(self) -> np.ndarray:
        if self.classes is not None:
            return np.asarray(self.classes)
        return _codes_of([m for _, m in self.estimators])

    def __sklearn_is_fitted__(self) -> bool:
        return True

    def fit(self, X, y, **fit_params):
        """Refit every member (on codes ``0..k-1``), keeping the weights."""
        self.estimators = _refitted(self.estimators, X, y, fit_params)
        return self

    def predict_proba(self, X) -> np.ndarray:
        members = _check_members(self.estimators, "estimators")
        w = _normalised(self.weights, len(members))
        classes = self.classes_
        total = None
        for (_, model), weight in zip(members, w, strict=True):
            if weight == 0:
                continue
            p = weight * _aligned_proba(model, X, len(classes), self.classes)
            total = p if total is None else total + p
        return total

    def predict(self, X) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


class PreFittedSoftVotingRegressor(RegressorMixin, BaseEstimator):
    """The weighted mean of already-fitted regressors' predictions."""

    def __init__(self, estimators, weights=None):
        self.estimators = estimators
        self.weights = weights

    def __sklearn_is_fitted__(self) -> bool:
        return True

    def fit(self, X, y, **fit_params):
        """Refit every member, keeping the weights."""
        self.estimators = _refitted(self.estimators, X, y, fit_params)
        return self

    def predict(self, X) -> np.ndarray:
        members = _check_members(self.estimators, "estimators")
        w = _normalised(self.weights, len(members))
        total = None
        for (_, model), weight in zip(members, w, strict=True):
            if weight == 0:
                continue
            p = weight * np.asarray(model.predict(X), dtype=float).ravel()
            total = p if total is None else total + p
        return total


# ------------------------------------------------------------------------------ stacking


def stack_features(task: str, predictions: list[np.ndarray]) -> np.ndarray:
    """The meta learner's input: base probabilities side by side (classification) or one
    column of predicted values per base learner."""
    if not predictions:
        raise UserErrorException("predictions is empty; pass one prediction a base learner.")
    if _is_classification(task):
        blocks = [np.asarray(p, dtype=float) for p in predictions]
        blocks = [b.reshape(-1, 1) if b.ndim == 1 else b for b in blocks]
        return np.hstack(blocks)
    return np.column_stack([np.asarray(p, dtype=float).ravel() for p in predictions])


def fit_meta_learner(task: str, stacked: np.ndarray, y, seed: int, sample_weight=None):
    """azureml's default meta learners: ``LogisticRegression`` for classification,
    ``ElasticNetCV`` otherwise (``Ridge`` when there are too few rows to cross-validate).
    Single-threaded, as every model a child run fits."""
    stacked = np.asarray(stacked, dtype=float)
    y = np.asarray(y).ravel()
    if _is_classification(task):
        meta = LogisticRegression(max_iter=1000, random_state=seed)
    elif len(y) >= 10:
        meta = ElasticNetCV(
            l1_ratio=[0.1, 0.5, 0.9, 0.99, 1.0], cv=min(5, len(y) // 2), n_jobs=1,
            random_state=seed, max_iter=10000,
        )
    else:
        meta = Ridge(alpha=1.0, random_state=seed)
    return meta.fit(stacked, y, sample_weight=sample_weight)


class StackEnsembleClassifier(ClassifierMixin, BaseEstimator):
    """A meta learner on the base learners' probabilities (azureml's StackEnsemble).

    The meta learner is fitted (see :func:`fit_meta_learner`) on out-of-fold probabilities
    stacked by :func:`stack_features`, each with a column for every class code.
    """

    def __init__(self, base_learners, meta_learner, classes=None):
        self.base_learners = base_learners
        self.meta_learner = meta_learner
        self.classes = classes

    @property
    def classes_(self) -> np.ndarray:
        if self.classes is not None:
            return np.asarray(self.classes)
        return _codes_of([self.meta_learner])

    def __sklearn_is_fitted__(self) -> bool:
        return True

    def _stacked(self, X) -> np.ndarray:
        members = _check_members(self.base_learners, "base_learners")
        k = len(self.classes_)
        return stack_features(
            "classification", [_aligned_proba(m, X, k, self.classes) for _, m in members]
        )

    def predict_proba(self, X) -> np.ndarray:
        return _aligned_proba(self.meta_learner, self._stacked(X), len(self.classes_),
                              self.classes)

    def predict(self, X) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


class StackEnsembleRegressor(RegressorMixin, BaseEstimator):
    """A meta learner on the base learners' predicted values."""

    def __init__(self, base_learners, meta_learner):
        self.base_learners = base_learners
        self.meta_learner = meta_learner

    def __sklearn_is_fitted__(self) -> bool:
        return True

    def predict(self, X) -> np.ndarray:
        members = _check_members(self.base_learners, "base_learners")
        stacked = stack_features("regression", [m.predict(X) for _, m in members])
        return np.asarray(self.meta_learner.predict(stacked), dtype=float).ravel()


def _refitted(estimators, X, y, fit_params) -> list:
    """Each (name, member) with the member cloned and fitted again."""
    return [(name, clone(model).fit(X, y, **fit_params))
            for name, model in _check_members(estimators, "estimators")]
