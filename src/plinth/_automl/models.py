"""AutoML's catalogue of models: defaults, search spaces, builders and pipelines.

Each model is a :class:`ModelSpec` named as azureml names the algorithm (``'LightGBM'``,
``'XGBoostClassifier'``, ``'ExtremeRandomTrees'``...). A spec gives

* ``default_params``: values that are good out of the box, tried first;
* ``suggest``: a draw from its search space through an Optuna trial. Parameter names are
  prefixed with the model's name (``'LightGBM.num_leaves'``) so that one study can hold the
  conditional spaces of every model;
* ``build``: the estimator, with all randomness seeded from ``seed``.

Every estimator is built single-threaded (``n_jobs=1`` / LightGBM's and XGBoost's thread
count 1): AutoML runs several child runs at once, each fitting one model, and a model that
took every core would oversubscribe the machine.

:func:`make_pipeline` chains the featurizer (``'datatransformer'``), the scaler the model
needs and the model itself, so ``named_steps`` read like azureml's.

Classification estimators are fitted on integer labels ``0..k-1`` (labels are encoded
before they get here), which XGBoost requires.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import (
    ElasticNet,
    LassoLars,
    LogisticRegression,
    SGDClassifier,
    SGDRegressor,
)
from sklearn.model_selection import StratifiedKFold
from sklearn.naive_bayes import BernoulliNB
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MaxAbsScaler, MinMaxScaler, StandardScaler
from sklearn.svm import LinearSVC
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from plinth.exceptions import UserErrorException

if TYPE_CHECKING:
    import optuna

__all__ = [
    "CLASSIFICATION_MODELS",
    "FORECASTING_ONLY",
    "NOT_OFFERED",
    "REGRESSION_MODELS",
    "LinearSVMWrapper",
    "ModelSpec",
    "StandardScalerWrapper",
    "catalogue",
    "get",
    "make_pipeline",
    "resolve",
]

FORECASTING_ONLY = ("Naive", "SeasonalNaive", "Average", "SeasonalAverage")

#: azureml model names Plinth does not offer, with the task azureml offers them for.
NOT_OFFERED: dict[str, str] = {
    "SVM": "classification",
    "MultinomialNaiveBayes": "classification",
    "AveragedPerceptronClassifier": "classification",
    "TensorFlowLinearClassifier": "classification",
    "TabnetClassifier": "classification",
    "FastLinearRegressor": "regression",
    "OnlineGradientDescentRegressor": "regression",
    "TensorFlowLinearRegressor": "regression",
    "TabnetRegressor": "regression",
    "TensorFlowDNN": "classification and regression",
    "AutoArima": "forecasting",
    "Prophet": "forecasting",
    "ExponentialSmoothing": "forecasting",
    "Arimax": "forecasting",
    "TCNForecaster": "forecasting",
}

_TASKS = ("classification", "regression", "forecasting")


def _base_task(task: str) -> str:
    """The estimator kind a task fits: forecasting fits regressors."""
    if task not in _TASKS:
        raise UserErrorException(
            f"task={task!r} is not an AutoML task; choose one of {', '.join(_TASKS)}."
        )
    return "regression" if task == "forecasting" else task


# ------------------------------------------------------------------------------ wrappers


class StandardScalerWrapper(TransformerMixin, BaseEstimator):
    """azureml's ``StandardScalerWrapper``: standard scaling that keeps sparse input sparse
    (it does not centre a sparse matrix)."""

    def __init__(self, with_mean: bool = True, with_std: bool = True):
        self.with_mean = with_mean
        self.with_std = with_std

    def fit(self, X, y=None):
        centre = self.with_mean and not sparse.issparse(X)
        self.scaler_ = StandardScaler(with_mean=centre, with_std=self.with_std).fit(X)
        self.n_features_in_ = self.scaler_.n_features_in_
        if hasattr(self.scaler_, "feature_names_in_"):
            self.feature_names_in_ = self.scaler_.feature_names_in_
        return self

    def transform(self, X):
        return self.scaler_.transform(X)

    def get_feature_names_out(self, input_features=None):
        return self.scaler_.get_feature_names_out(input_features)


class LinearSVMWrapper(ClassifierMixin, BaseEstimator):
    """A linear SVM (``LinearSVC``) calibrated with Platt scaling so it has ``predict_proba``.

    Calibration uses up to 3 stratified folds, fewer when a class is that rare; with a class
    seen once the SVM is fitted on everything and calibrated on its own training data.
    """

    def __init__(self, C: float = 1.0, class_weight=None, max_iter: int = 2000,
                 random_state=None):
        self.C = C
        self.class_weight = class_weight
        self.max_iter = max_iter
        self.random_state = random_state

    def _svc(self) -> LinearSVC:
        return LinearSVC(C=self.C, class_weight=self.class_weight, max_iter=self.max_iter,
                         dual="auto", random_state=self.random_state)

    def fit(self, X, y, sample_weight=None):
        from sklearn.frozen import FrozenEstimator

        _, counts = np.unique(np.asarray(y), return_counts=True)
        folds = int(min(3, counts.min()))
        if folds >= 2:
            cv = StratifiedKFold(folds, shuffle=True, random_state=self.random_state)
            # n_jobs=1: a child run fits single-threaded (see the module's docstring).
            model = CalibratedClassifierCV(self._svc(), method="sigmoid", cv=cv, n_jobs=1)
        else:
            svc = self._svc().fit(X, y, sample_weight=sample_weight)
            everything = np.arange(len(y))  # calibrate on the training data: one "split"
            model = CalibratedClassifierCV(FrozenEstimator(svc), method="sigmoid",
                                           cv=[(everything, everything)])
        self.model_ = model.fit(X, y, sample_weight=sample_weight)
        self.classes_ = self.model_.classes_
        self.n_features_in_ = self.model_.n_features_in_
        return self

    def predict_proba(self, X):
        return self.model_.predict_proba(X)

    def predict(self, X):
        return self.model_.predict(X)

    def decision_function(self, X):
        return self.model_.decision_function(X)


_SCALERS: dict[str, Callable[[], Any]] = {
    "StandardScalerWrapper": StandardScalerWrapper,
    "MaxAbsScaler": MaxAbsScaler,
    "MinMaxScaler": MinMaxScaler,
}


# -------------------------------------------------------------------------------- spec


@dataclass(frozen=True)
class ModelSpec:
    """One model of the catalogue (see the module's docstring)."""

    name: str
    tasks: frozenset[str]
    cost: int
    scaler: str | None
    defaults_fn: Callable[[str, int, int], dict] = field(repr=False, compare=False)
    space_fn: Callable[[Callable[[str], str], Any, str, int, int], dict] = field(
        repr=False, compare=False
    )
    factory: Callable[[str, dict, int], Any] = field(repr=False, compare=False)

    def _task(self, task: str) -> str:
        base = _base_task(task)
        if base not in self.tasks:
            raise UserErrorException(
                f"model {self.name!r} does not support task={task!r}; it supports "
                f"{', '.join(sorted(self.tasks))}."
            )
        return base

    def default_params(self, task: str, n_rows: int, n_features: int) -> dict:
        """Hyperparameters that are good out of the box for data of that size."""
        return dict(self.defaults_fn(self._task(task), int(n_rows), int(n_features)))

    def suggest(self, trial: optuna.trial.Trial, task: str, n_rows: int, n_features: int) -> dict:
        """Hyperparameters drawn through ``trial``; names in the trial carry the prefix
        ``'<name>.'``, the returned dict's keys do not."""

        def key(param: str) -> str:
            return f"{self.name}.{param}"

        return self.space_fn(key, trial, self._task(task), int(n_rows), int(n_features))

    def build(self, task: str, params: dict, seed: int):
        """The (unfitted) estimator with ``params``, seeded from ``seed``, single-threaded."""
        base = self._task(task)
        try:
            return self.factory(base, dict(params or {}), int(seed))
        except TypeError as exc:  # an unknown keyword argument
            raise UserErrorException(
                f"params={params!r} are not all hyperparameters of {self.name!r}: {exc}"
            ) from exc


# ---------------------------------------------------------------------- per-model helpers


def _min_leaf(n_rows: int, default: int) -> int:
    """A minimum leaf size that still lets small data grow a tree."""
    return int(max(1, min(default, n_rows // 10)))


def _checked(estimator, params: dict, name: str):
    valid = estimator.get_params(deep=False)
    unknown = sorted(set(params) - set(valid))
    if unknown:
        raise UserErrorException(
            f"params {unknown} are not hyperparameters of {name!r}; valid ones are "
            f"{', '.join(sorted(valid))}."
        )
    return estimator.set_params(**params)


# LightGBM ----------------------------------------------------------------------------


def _lgbm_defaults(task: str, n_rows: int, n_features: int) -> dict:
    return {
        "n_estimators": 100,
        "learning_rate": 0.1,
        "num_leaves": 31,
        "min_child_samples": _min_leaf(n_rows, 20),
        "subsample": 1.0,
        "colsample_bytree": 1.0,
        "reg_alpha": 0.0,
        "reg_lambda": 0.0,
    }


def _lgbm_space(key, trial, task: str, n_rows: int, n_features: int) -> dict:
    params = {
        "n_estimators": trial.suggest_int(key("n_estimators"), 25, 500, log=True),
        "learning_rate": trial.suggest_float(key("learning_rate"), 0.01, 0.3, log=True),
        "num_leaves": trial.suggest_int(key("num_leaves"), 4, 256, log=True),
        "min_child_samples": trial.suggest_int(key("min_child_samples"), 2, 100, log=True),
        "subsample": trial.suggest_float(key("subsample"), 0.5, 1.0),
        "colsample_bytree": trial.suggest_float(key("colsample_bytree"), 0.3, 1.0),
        "reg_alpha": trial.suggest_float(key("reg_alpha"), 1e-8, 10.0, log=True),
        "reg_lambda": trial.suggest_float(key("reg_lambda"), 1e-8, 10.0, log=True),
    }
    if task == "classification":
        params["class_weight"] = trial.suggest_categorical(key("class_weight"), [None, "balanced"])
    return params


def _lgbm_build(task: str, params: dict, seed: int):
    from lightgbm import LGBMClassifier, LGBMRegressor

    params = dict(params)
    if params.get("subsample", 1.0) < 1.0:
        params.setdefault("subsample_freq", 1)  # bagging only happens with a frequency
    cls = LGBMClassifier if task == "classification" else LGBMRegressor
    # n_jobs=1: single-threaded, so concurrent child runs do not oversubscribe the cores.
    return _checked(cls(random_state=seed, n_jobs=1, verbose=-1), params, "LightGBM")


# XGBoost ----------------------------------------------------------------------------


def _xgb_defaults(task: str, n_rows: int, n_features: int) -> dict:
    return {
        "n_estimators": 100,
        "learning_rate": 0.1,
        "max_depth": 6,
        "min_child_weight": 1.0,
        "subsample": 1.0,
        "colsample_bytree": 1.0,
        "reg_alpha": 0.0,
        "reg_lambda": 1.0,
    }


def _xgb_space(key, trial, task: str, n_rows: int, n_features: int) -> dict:
    return {
        "n_estimators": trial.suggest_int(key("n_estimators"), 25, 500, log=True),
        "learning_rate": trial.suggest_float(key("learning_rate"), 0.01, 0.3, log=True),
        "max_depth": trial.suggest_int(key("max_depth"), 2, 10),
        "min_child_weight": trial.suggest_float(key("min_child_weight"), 0.5, 20.0, log=True),
        "subsample": trial.suggest_float(key("subsample"), 0.5, 1.0),
        "colsample_bytree": trial.suggest_float(key("colsample_bytree"), 0.3, 1.0),
        "reg_alpha": trial.suggest_float(key("reg_alpha"), 1e-8, 10.0, log=True),
        "reg_lambda": trial.suggest_float(key("reg_lambda"), 1e-3, 10.0, log=True),
    }


def _xgb_build(task: str, params: dict, seed: int):
    from xgboost import XGBClassifier, XGBRegressor

    cls = XGBClassifier if task == "classification" else XGBRegressor
    name = "XGBoostClassifier" if task == "classification" else "XGBoostRegressor"
    # n_jobs=1 (XGBoost's nthread): single-threaded, so concurrent child runs share the cores.
    model = cls(tree_method="hist", n_jobs=1, random_state=seed, verbosity=0)
    return _checked(model, params, name)


# Random forests -----------------------------------------------------------------------


def _forest_defaults(task: str, n_rows: int, n_features: int) -> dict:
    return {
        "n_estimators": 100,
        "max_features": "sqrt" if task == "classification" else 1.0,
        "min_samples_leaf": 1,
        "min_samples_split": 2,
    }


def _forest_space(key, trial, task: str, n_rows: int, n_features: int) -> dict:
    params = {
        "n_estimators": trial.suggest_int(key("n_estimators"), 10, 300, log=True),
        "max_features": trial.suggest_float(key("max_features"), 0.05, 1.0),
        "min_samples_leaf": trial.suggest_int(key("min_samples_leaf"), 1, 20, log=True),
        "min_samples_split": trial.suggest_int(key("min_samples_split"), 2, 20, log=True),
    }
    if task == "classification":
        params["criterion"] = trial.suggest_categorical(key("criterion"), ["gini", "entropy"])
        params["class_weight"] = trial.suggest_categorical(
            key("class_weight"), [None, "balanced", "balanced_subsample"]
        )
    return params


def _rf_build(task: str, params: dict, seed: int):
    cls = RandomForestClassifier if task == "classification" else RandomForestRegressor
    # n_jobs=1: single-threaded, so concurrent child runs do not oversubscribe the cores.
    return _checked(cls(random_state=seed, n_jobs=1), params, "RandomForest")


def _ert_build(task: str, params: dict, seed: int):
    cls = ExtraTreesClassifier if task == "classification" else ExtraTreesRegressor
    # n_jobs=1: single-threaded, so concurrent child runs do not oversubscribe the cores.
    return _checked(cls(random_state=seed, n_jobs=1), params, "ExtremeRandomTrees")


# Gradient boosting (sklearn) -----------------------------------------------------------


def _gb_defaults(task: str, n_rows: int, n_features: int) -> dict:
    return {
        "n_estimators": 100,
        "learning_rate": 0.1,
        "max_depth": 3,
        "min_samples_leaf": 1,
        "subsample": 1.0,
        "max_features": None,
    }


def _gb_space(key, trial, task: str, n_rows: int, n_features: int) -> dict:
    return {
        "n_estimators": trial.suggest_int(key("n_estimators"), 25, 300, log=True),
        "learning_rate": trial.suggest_float(key("learning_rate"), 0.01, 0.3, log=True),
        "max_depth": trial.suggest_int(key("max_depth"), 2, 8),
        "min_samples_leaf": trial.suggest_int(key("min_samples_leaf"), 1, 50, log=True),
        "subsample": trial.suggest_float(key("subsample"), 0.5, 1.0),
        "max_features": trial.suggest_float(key("max_features"), 0.3, 1.0),
    }


def _gb_build(task: str, params: dict, seed: int):
    cls = GradientBoostingClassifier if task == "classification" else GradientBoostingRegressor
    return _checked(cls(random_state=seed), params, "GradientBoosting")  # single-threaded


# Decision tree ----------------------------------------------------------------------


def _tree_defaults(task: str, n_rows: int, n_features: int) -> dict:
    return {
        "max_depth": None,
        "min_samples_leaf": int(max(1, min(5, n_rows // 100))),
        "min_samples_split": 2,
        "max_features": None,
    }


def _tree_space(key, trial, task: str, n_rows: int, n_features: int) -> dict:
    params = {
        "max_depth": trial.suggest_int(key("max_depth"), 2, 32, log=True),
        "min_samples_leaf": trial.suggest_int(key("min_samples_leaf"), 1, 50, log=True),
        "min_samples_split": trial.suggest_int(key("min_samples_split"), 2, 40, log=True),
        "max_features": trial.suggest_float(key("max_features"), 0.3, 1.0),
    }
    if task == "classification":
        params["criterion"] = trial.suggest_categorical(key("criterion"), ["gini", "entropy"])
        params["class_weight"] = trial.suggest_categorical(key("class_weight"), [None, "balanced"])
    else:
        params["criterion"] = trial.suggest_categorical(
            key("criterion"), ["squared_error", "friedman_mse"]
        )
    return params


def _tree_build(task: str, params: dict, seed: int):
    cls = DecisionTreeClassifier if task == "classification" else DecisionTreeRegressor
    return _checked(cls(random_state=seed), params, "DecisionTree")  # single-threaded


# KNN --------------------------------------------------------------------------------


def _knn_max(n_rows: int) -> int:
    # at most half the rows: a cross-validation training fold still has that many
    return int(max(1, min(50, n_rows // 2)))


def _knn_defaults(task: str, n_rows: int, n_features: int) -> dict:
    return {"n_neighbors": min(5, _knn_max(n_rows)), "weights": "distance", "p": 2}


def _knn_space(key, trial, task: str, n_rows: int, n_features: int) -> dict:
    return {
        "n_neighbors": trial.suggest_int(key("n_neighbors"), 1, _knn_max(n_rows), log=True),
        "weights": trial.suggest_categorical(key("weights"), ["uniform", "distance"]),
        "p": trial.suggest_categorical(key("p"), [1, 2]),
    }


def _knn_build(task: str, params: dict, seed: int):
    cls = KNeighborsClassifier if task == "classification" else KNeighborsRegressor
    # n_jobs=1: single-threaded, so concurrent child runs do not oversubscribe the cores.
    return _checked(cls(n_jobs=1), params, "KNN")  # deterministic: nothing to seed


# Logistic regression ----------------------------------------------------------------


def _logreg_defaults(task: str, n_rows: int, n_features: int) -> dict:
    return {"C": 1.0, "class_weight": None}


def _logreg_space(key, trial, task: str, n_rows: int, n_features: int) -> dict:
    return {
        "C": trial.suggest_float(key("C"), 1e-4, 1e4, log=True),
        "class_weight": trial.suggest_categorical(key("class_weight"), [None, "balanced"]),
    }


def _logreg_build(task: str, params: dict, seed: int):
    # lbfgs is single-threaded (sklearn >= 1.8 ignores LogisticRegression's n_jobs).
    model = LogisticRegression(max_iter=1000, random_state=seed)
    return _checked(model, params, "LogisticRegression")


# SGD --------------------------------------------------------------------------------


def _sgd_defaults(task: str, n_rows: int, n_features: int) -> dict:
    if task == "classification":
        return {"loss": "log_loss", "penalty": "l2", "alpha": 1e-4, "class_weight": None}
    return {"loss": "squared_error", "penalty": "l2", "alpha": 1e-4}


def _sgd_space(key, trial, task: str, n_rows: int, n_features: int) -> dict:
    if task == "classification":
        losses = ["log_loss", "modified_huber"]  # the losses with predict_proba
    else:
        losses = ["squared_error", "huber", "epsilon_insensitive"]
    params = {
        "loss": trial.suggest_categorical(key("loss"), losses),
        "penalty": trial.suggest_categorical(key("penalty"), ["l2", "l1", "elasticnet"]),
        "alpha": trial.suggest_float(key("alpha"), 1e-6, 1e-1, log=True),
    }
    if params["penalty"] == "elasticnet":
        params["l1_ratio"] = trial.suggest_float(key("l1_ratio"), 0.05, 0.95)
    if task == "classification":
        params["class_weight"] = trial.suggest_categorical(key("class_weight"), [None, "balanced"])
    return params


def _sgd_build(task: str, params: dict, seed: int):
    if task == "classification":
        # n_jobs=1: single-threaded one-vs-all, so concurrent child runs share the cores.
        model = SGDClassifier(max_iter=1000, tol=1e-3, random_state=seed, n_jobs=1)
    else:
        model = SGDRegressor(max_iter=1000, tol=1e-3, random_state=seed)
    return _checked(model, params, "SGD")


# Linear SVM -------------------------------------------------------------------------


def _svm_defaults(task: str, n_rows: int, n_features: int) -> dict:
    return {"C": 1.0, "class_weight": None}


def _svm_space(key, trial, task: str, n_rows: int, n_features: int) -> dict:
    return {
        "C": trial.suggest_float(key("C"), 1e-3, 1e2, log=True),
        "class_weight": trial.suggest_categorical(key("class_weight"), [None, "balanced"]),
    }


def _svm_build(task: str, params: dict, seed: int):
    return _checked(LinearSVMWrapper(random_state=seed), params, "LinearSVM")


# Bernoulli naive Bayes --------------------------------------------------------------


def _bnb_defaults(task: str, n_rows: int, n_features: int) -> dict:
    return {"alpha": 1.0, "binarize": 0.0, "fit_prior": True}


def _bnb_space(key, trial, task: str, n_rows: int, n_features: int) -> dict:
    return {
        "alpha": trial.suggest_float(key("alpha"), 1e-3, 10.0, log=True),
        # the features are standardised first: 0 splits them at their mean
        "binarize": trial.suggest_float(key("binarize"), -1.0, 1.0),
        "fit_prior": trial.suggest_categorical(key("fit_prior"), [True, False]),
    }


def _bnb_build(task: str, params: dict, seed: int):
    return _checked(BernoulliNB(), params, "BernoulliNaiveBayes")  # deterministic


# ElasticNet / LassoLars ---------------------------------------------------------------


def _enet_defaults(task: str, n_rows: int, n_features: int) -> dict:
    return {"alpha": 0.01, "l1_ratio": 0.5}


def _enet_space(key, trial, task: str, n_rows: int, n_features: int) -> dict:
    return {
        "alpha": trial.suggest_float(key("alpha"), 1e-5, 10.0, log=True),
        "l1_ratio": trial.suggest_float(key("l1_ratio"), 0.01, 1.0),
    }


def _enet_build(task: str, params: dict, seed: int):
    return _checked(ElasticNet(max_iter=10000, random_state=seed), params, "ElasticNet")


def _lars_defaults(task: str, n_rows: int, n_features: int) -> dict:
    return {"alpha": 0.01}


def _lars_space(key, trial, task: str, n_rows: int, n_features: int) -> dict:
    return {"alpha": trial.suggest_float(key("alpha"), 1e-5, 10.0, log=True)}


def _lars_build(task: str, params: dict, seed: int):
    return _checked(LassoLars(random_state=seed), params, "LassoLars")


# ------------------------------------------------------------------------------ catalogue

_BOTH = frozenset({"classification", "regression"})
_CLS = frozenset({"classification"})
_REG = frozenset({"regression"})

# cost: the order defaults are tried in -- cheap models with strong defaults first; LightGBM
# leads, as it is azureml's usual first pick.
_SPECS: tuple[ModelSpec, ...] = (
    ModelSpec("LightGBM", _BOTH, 1, "MaxAbsScaler", _lgbm_defaults, _lgbm_space, _lgbm_build),
    ModelSpec("LogisticRegression", _CLS, 2, "StandardScalerWrapper",
              _logreg_defaults, _logreg_space, _logreg_build),
    ModelSpec("ElasticNet", _REG, 2, "StandardScalerWrapper",
              _enet_defaults, _enet_space, _enet_build),
    ModelSpec("XGBoostClassifier", _CLS, 3, None, _xgb_defaults, _xgb_space, _xgb_build),
    ModelSpec("XGBoostRegressor", _REG, 3, None, _xgb_defaults, _xgb_space, _xgb_build),
    ModelSpec("RandomForest", _BOTH, 4, None, _forest_defaults, _forest_space, _rf_build),
    ModelSpec("ExtremeRandomTrees", _BOTH, 5, None,
              _forest_defaults, _forest_space, _ert_build),
    ModelSpec("SGD", _BOTH, 6, "StandardScalerWrapper", _sgd_defaults, _sgd_space, _sgd_build),
    ModelSpec("LassoLars", _REG, 7, "StandardScalerWrapper",
              _lars_defaults, _lars_space, _lars_build),
    ModelSpec("BernoulliNaiveBayes", _CLS, 7, "StandardScalerWrapper",
              _bnb_defaults, _bnb_space, _bnb_build),
    ModelSpec("DecisionTree", _BOTH, 8, None, _tree_defaults, _tree_space, _tree_build),
    ModelSpec("KNN", _BOTH, 9, "StandardScalerWrapper", _knn_defaults, _knn_space, _knn_build),
    ModelSpec("LinearSVM", _CLS, 10, "StandardScalerWrapper",
              _svm_defaults, _svm_space, _svm_build),
    ModelSpec("GradientBoosting", _BOTH, 11, None, _gb_defaults, _gb_space, _gb_build),
)
_BY_NAME = {spec.name: spec for spec in _SPECS}

CLASSIFICATION_MODELS: tuple[str, ...] = tuple(
    s.name for s in _SPECS if "classification" in s.tasks
)
REGRESSION_MODELS: tuple[str, ...] = tuple(s.name for s in _SPECS if "regression" in s.tasks)


def catalogue(task: str) -> list[ModelSpec]:
    """The models of ``task`` (forecasting: the regression ones), cheapest first."""
    base = _base_task(task)
    return [s for s in _SPECS if base in s.tasks]  # _SPECS is in cost order


def get(name: str) -> ModelSpec:
    """The spec named ``name`` (azureml's spelling; case-insensitive)."""
    spec = _BY_NAME.get(_canonical(name))
    if spec is None:
        if _canonical(name) in FORECASTING_ONLY:
            raise UserErrorException(
                f"model {name!r} is a forecasting baseline, not an estimator of the catalogue."
            )
        raise UserErrorException(
            f"model {name!r} is not in Plinth's catalogue; choose one of "
            f"{', '.join(_BY_NAME)}."
        )
    return spec


_LOWER = {n.lower(): n for n in (*_BY_NAME, *FORECASTING_ONLY, *NOT_OFFERED)}


def _canonical(name: Any) -> str:
    text = str(getattr(name, "value", name))  # an enum member counts as its value
    return _LOWER.get(text.lower(), text)


def _names_of(task: str) -> list[str]:
    names = [s.name for s in catalogue(task)]
    return [*FORECASTING_ONLY, *names] if task == "forecasting" else names


def _as_list(value, argument: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if not isinstance(value, Iterable):
        raise UserErrorException(f"{argument} must be a list of model names, not {value!r}.")
    return list(value)


def resolve(task: str, allowed_models=None, blocked_models=None) -> list[str]:
    """The names of the models to try for ``task``, cheapest first.

    ``allowed_models`` (default: all of the task's) minus ``blocked_models``. For forecasting
    the naive baselines (``FORECASTING_ONLY``) come first, then the regression models. Names
    are azureml's; an unknown name, a name of another task's model, an azureml model Plinth
    does not offer in ``allowed_models``, or an empty result raise ``UserErrorException``.
    Blocking an azureml model Plinth does not offer anyway is accepted.
    """
    available = _names_of(task)
    everything = {*_BY_NAME, *FORECASTING_ONLY, *NOT_OFFERED}
    choices = ", ".join(available)

    if allowed_models is None:
        allowed = list(available)
    else:
        allowed = []
        for raw in _as_list(allowed_models, "allowed_models"):
            name = _canonical(raw)
            if name in available:
                if name not in allowed:
                    allowed.append(name)
                continue
            if name in NOT_OFFERED:
                reason = f"is an azureml {NOT_OFFERED[name]} model that Plinth does not offer"
            elif name in everything:
                reason = f"is not a {task} model"
            else:
                reason = "is not a model name"
            raise UserErrorException(
                f"allowed_models: {raw!r} {reason}; the {task} models are {choices}."
            )

    blocked: set[str] = set()
    for raw in _as_list(blocked_models or [], "blocked_models"):
        name = _canonical(raw)
        if name not in everything:
            raise UserErrorException(
                f"blocked_models: {raw!r} is not a model name; the {task} models are {choices}."
            )
        blocked.add(name)

    order = {name: i for i, name in enumerate(available)}
    result = sorted((n for n in allowed if n not in blocked), key=order.__getitem__)
    if not result:
        raise UserErrorException(
            f"allowed_models={allowed_models!r} and blocked_models={blocked_models!r} leave no "
            f"model to try; the {task} models are {choices}."
        )
    return result


def make_pipeline(featurizer, spec: ModelSpec, task: str, params: dict, seed: int) -> Pipeline:
    """``featurizer`` (as ``'datatransformer'``, when given), ``spec``'s scaler (named as
    the scaler) and the model (named ``spec.name``), as one sklearn ``Pipeline``."""
    steps: list[tuple[str, Any]] = []
    if featurizer is not None:
        steps.append(("datatransformer", featurizer))
    if spec.scaler is not None:
        steps.append((spec.scaler, _SCALERS[spec.scaler]()))
    steps.append((spec.name, spec.build(task, params, seed)))
    return Pipeline(steps)
