"""``AutoMLConfig``: what to automate (task, data, metric) and within which budget."""

from __future__ import annotations

import os
from typing import Any

from plinth.exceptions import UserErrorException

__all__ = ["AutoMLConfig", "get_primary_metrics"]

TASKS = ("classification", "regression", "forecasting")
#: azureml arguments whose features Plinth does not offer: set, they would change the result.
_NOT_OFFERED = ("spark_context", "cv_splits_indices", "cv_split_column_names", "test_data",
                "test_size", "positive_label", "enable_onnx_compatible_models", "enable_dnn",
                "enable_tf")
#: azureml arguments about the machine the cloud ran on; they change no result here.
_ACCEPTED = ("path", "verbosity", "debug_log", "mem_in_mb", "enforce_time_on_windows",
             "enable_local_managed", "num_classes")
#: Forecasting settings azureml also took directly, before ForecastingParameters.
_FORECASTING_KWARGS = ("time_column_name", "forecast_horizon", "max_horizon",
                       "time_series_id_column_names", "grain_column_names", "target_lags",
                       "target_rolling_window_size", "seasonality", "freq")


def get_primary_metrics(task: str) -> list[str]:
    """The metrics a ``task`` can be optimised for, as azureml names them."""
    from plinth._automl.metrics import primary_metrics

    return primary_metrics(_task(task))


class AutoMLConfig:
    """An automated machine learning experiment: ``experiment.submit(AutoMLConfig(...))``
    tries featurization and model combinations as child runs and returns an ``AutoMLRun``.

    ``training_data`` is a TabularDataset (or a pandas DataFrame, registered for the run)
    holding the features and ``label_column_name``. Metrics come from ``validation_data``,
    ``n_cross_validations`` folds or a ``validation_size`` split, whichever is given, else
    azureml's default by size: 10 folds under 1,000 rows, 3 under 20,000, a 10% split above.
    """

    def __init__(self, task: str, primary_metric: str | None = None,
                 training_data: Any = None, label_column_name: str | None = None,
                 validation_data: Any = None, n_cross_validations: int | None = None,
                 validation_size: float | None = None, compute_target: Any = None,
                 iterations: int | None = None, max_concurrent_iterations: int = 1,
                 experiment_timeout_minutes: float | None = None,
                 experiment_timeout_hours: float | None = None,
                 iteration_timeout_minutes: float | None = None,
                 experiment_exit_score: float | None = None,
                 featurization: Any = "auto", allowed_models: list[str] | None = None,
                 blocked_models: list[str] | None = None, enable_early_stopping: bool = True,
                 enable_voting_ensemble: bool = True, enable_stack_ensemble: bool | None = None,
                 model_explainability: bool = True, weight_column_name: str | None = None,
                 forecasting_parameters: Any = None, environment: Any = None,
                 y_min: float | None = None, y_max: float | None = None,
                 exclude_nan_labels: bool = True, name: str | None = None,
                 max_cores_per_iteration: int = 1,
                 X: Any = None, y: Any = None, **kwargs: Any):
        self.task = _task(task)
        from plinth._automl import metrics, models

        self.primary_metric = primary_metric or metrics.default_primary_metric(self.task)
        if self.primary_metric not in metrics.primary_metrics(self.task):
            raise UserErrorException(
                f"primary_metric={primary_metric!r} is not a primary metric for task="
                f"{self.task!r}; choose one of {', '.join(metrics.primary_metrics(self.task))} "
                "(get_primary_metrics(task) lists them).")
        allowed_models = _renamed(kwargs, "whitelist_models", "allowed_models", allowed_models)
        blocked_models = _renamed(kwargs, "blacklist_models", "blocked_models", blocked_models)
        self.forecasting_parameters = _forecasting(self.task, forecasting_parameters, kwargs)
        _check_kwargs(kwargs)
        self.training_data = _training_data(training_data, X, y, label_column_name)
        self.label_column_name = "y" if X is not None and label_column_name is None \
            else label_column_name
        if self.training_data is None:
            raise UserErrorException(
                "training_data is required: a TabularDataset (or pandas DataFrame) with the "
                "features and the label column.")
        if not self.label_column_name or not isinstance(self.label_column_name, str):
            raise UserErrorException(
                "label_column_name is required: the name of the column to predict in "
                "training_data.")
        if weight_column_name is not None and weight_column_name == self.label_column_name:
            raise UserErrorException(
                "weight_column_name must differ from label_column_name.")
        _check_columns(self.training_data, "training_data",
                       [self.label_column_name, weight_column_name])
        self.validation_data = validation_data
        if validation_data is not None:
            _check_columns(validation_data, "validation_data", [self.label_column_name])
        self.n_cross_validations = _count(n_cross_validations, "n_cross_validations", low=2)
        self.validation_size = validation_size
        _check_validation(validation_data, self.n_cross_validations, validation_size)
        self.compute_target = compute_target
        self.iterations = _count(iterations, "iterations")
        self.max_concurrent_iterations = _count(max_concurrent_iterations,
                                                "max_concurrent_iterations") or 1
        if experiment_timeout_minutes is not None and experiment_timeout_hours is not None:
            raise UserErrorException(
                "Give experiment_timeout_minutes or experiment_timeout_hours, not both.")
        if experiment_timeout_hours is not None:
            experiment_timeout_minutes = 60 * _positive(experiment_timeout_hours,
                                                        "experiment_timeout_hours")
        self.experiment_timeout_minutes = _positive(experiment_timeout_minutes,
                                                    "experiment_timeout_minutes")
        self.iteration_timeout_minutes = _positive(iteration_timeout_minutes,
                                                   "iteration_timeout_minutes")
        self.experiment_exit_score = experiment_exit_score
        self.featurization = _featurization(featurization)
        self.allowed_models = models.resolve(self.task, allowed_models, blocked_models)
        self.enable_early_stopping = bool(enable_early_stopping)
        self.enable_voting_ensemble = bool(enable_voting_ensemble)
        # azureml builds no stack ensemble for forecasting, and none unless asked.
        self.enable_stack_ensemble = bool(enable_stack_ensemble) and self.task != "forecasting"
        if enable_stack_ensemble and self.task == "forecasting":
            raise UserErrorException(
                "enable_stack_ensemble is not available for task='forecasting'; leave it out.")
        self.model_explainability = bool(model_explainability)
        self.weight_column_name = weight_column_name
        self.environment = environment
        self.y_min, self.y_max = y_min, y_max
        self.exclude_nan_labels = bool(exclude_nan_labels)
        self.name = name
        # -1 is azureml's "every core"; the iteration's linear algebra threads follow it.
        cores = os.cpu_count() or 1
        self.max_cores_per_iteration = cores if max_cores_per_iteration == -1 else \
            _count(max_cores_per_iteration, "max_cores_per_iteration")

    # -- submitting ------------------------------------------------------------------------

    def _settings(self) -> dict[str, Any]:
        """What the children read (``automl_settings.json`` in their snapshot)."""
        from plinth._automl.metrics import goal

        return {
            "task": self.task,
            "primary_metric": self.primary_metric,
            "goal": goal(self.primary_metric),
            "label_column_name": self.label_column_name,
            "weight_column_name": self.weight_column_name,
            "featurization": self.featurization,
            "n_cross_validations": self.n_cross_validations,
            "validation_size": self.validation_size,
            "has_validation_data": self.validation_data is not None,
            "forecasting": self.forecasting_parameters,
            "y_min": self.y_min,
            "y_max": self.y_max,
            "exclude_nan_labels": self.exclude_nan_labels,
        }

    def _search(self) -> dict[str, Any]:
        """What the driver needs to run the search."""
        return {
            "models": self.allowed_models,
            "iterations": self.iterations,
            "max_concurrent_iterations": self.max_concurrent_iterations,
            "experiment_timeout_minutes": self.experiment_timeout_minutes,
            "iteration_timeout_minutes": self.iteration_timeout_minutes,
            "experiment_exit_score": self.experiment_exit_score,
            "enable_early_stopping": self.enable_early_stopping,
            "enable_voting_ensemble": self.enable_voting_ensemble,
            "enable_stack_ensemble": self.enable_stack_ensemble,
            "model_explainability": self.model_explainability,
        }

    def _submit_to_experiment(self, experiment: Any, tags: Any = None,
                              **kwargs: Any) -> Any:
        from plinth._automl.submit import submit_automl
        from plinth.train.automl.run import AutoMLRun

        show_output = kwargs.pop("show_output", False)
        if kwargs:
            raise UserErrorException(
                f"Unknown argument(s) for submitting an AutoML experiment: "
                f"{', '.join(sorted(kwargs))}.")
        run_id = submit_automl(experiment, self, tags=tags)
        run = AutoMLRun(experiment, run_id)
        if show_output:
            run.wait_for_completion(show_output=True)
        return run

    def __repr__(self) -> str:
        return (f"AutoMLConfig(task={self.task!r}, primary_metric={self.primary_metric!r}, "
                f"label_column_name={self.label_column_name!r})")


def _task(task: Any) -> str:
    if task not in TASKS:
        raise UserErrorException(f"task={task!r} is not one of {', '.join(TASKS)}.")
    return task


def _renamed(kwargs: dict[str, Any], old: str, new: str, value: Any) -> Any:
    """azureml's older argument names (whitelist_models, blacklist_models) still work."""
    if old in kwargs:
        if value is not None:
            raise UserErrorException(f"Give {new} or its older name {old}, not both.")
        return kwargs.pop(old)
    return value


def _check_kwargs(kwargs: dict[str, Any]) -> None:
    for name in _NOT_OFFERED:
        value = kwargs.pop(name, None)
        if value not in (None, False):
            raise UserErrorException(
                f"{name}={value!r}: Plinth's AutoML does not offer this; leave it out.")
    for name in _ACCEPTED:
        kwargs.pop(name, None)
    if kwargs:
        raise UserErrorException(
            f"Unknown AutoMLConfig argument(s): {', '.join(sorted(kwargs))}.")


def _forecasting(task: str, parameters: Any, kwargs: dict[str, Any]) -> dict[str, Any] | None:
    from plinth.train.automl.forecasting_parameters import ForecastingParameters

    direct = {k: kwargs.pop(k) for k in _FORECASTING_KWARGS if k in kwargs}
    if task != "forecasting":
        if parameters is not None or direct:
            raise UserErrorException(
                f"forecasting_parameters are only for task='forecasting', not {task!r}.")
        return None
    if parameters is not None and direct:
        raise UserErrorException(
            f"Give forecasting settings in forecasting_parameters only, not also as "
            f"{', '.join(sorted(direct))}.")
    if parameters is None:
        if "max_horizon" in direct:
            direct.setdefault("forecast_horizon", direct.pop("max_horizon"))
        if "grain_column_names" in direct:
            direct.setdefault("time_series_id_column_names", direct.pop("grain_column_names"))
        if "time_column_name" not in direct:
            raise UserErrorException(
                "task='forecasting' needs forecasting_parameters=ForecastingParameters("
                "time_column_name=..., forecast_horizon=...).")
        parameters = ForecastingParameters(**direct)
    if not isinstance(parameters, ForecastingParameters):
        raise UserErrorException(
            "forecasting_parameters must be a ForecastingParameters, got "
            f"{type(parameters).__name__}.")
    return parameters._spec()


def _training_data(data: Any, X: Any, y: Any, label: str | None) -> Any:
    """azureml's older ``X``/``y`` arguments become one frame with the label as ``y``."""
    if X is None and y is None:
        return data
    if data is not None:
        raise UserErrorException("Give training_data, or X and y, not both.")
    if X is None or y is None:
        raise UserErrorException("X and y go together: give both, or training_data.")
    import pandas as pd

    frame = X.copy() if isinstance(X, pd.DataFrame) else pd.DataFrame(X).add_prefix("Column")
    labels = list(y.iloc[:, 0] if isinstance(y, pd.DataFrame) else y)
    if len(labels) != len(frame):
        raise UserErrorException(f"X has {len(frame)} rows but y has {len(labels)}.")
    frame[label or "y"] = labels
    return frame


def _columns(data: Any) -> list[str] | None:
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        return [str(c) for c in data.columns]
    return None


def _check_columns(data: Any, argument: str, required: list[str | None]) -> None:
    """Frames are checked now; a dataset's columns are checked by the setup run."""
    from plinth.data.tabular_dataset import TabularDataset

    columns = _columns(data)
    if columns is None:
        if not isinstance(data, TabularDataset):
            raise UserErrorException(
                f"{argument} must be a TabularDataset or a pandas DataFrame, got "
                f"{type(data).__name__}.")
        return
    for column in required:
        if column is not None and column not in columns:
            raise UserErrorException(
                f"{argument} has no column {column!r}; its columns are {', '.join(columns)}.")


def _check_validation(data: Any, folds: int | None, size: float | None) -> None:
    if sum(x is not None for x in (data, folds, size)) > 1:
        raise UserErrorException(
            "Give one of validation_data, n_cross_validations and validation_size: they are "
            "different ways of measuring the models.")
    if size is not None and not (isinstance(size, (int, float)) and 0.0 < size < 1.0):
        raise UserErrorException(
            f"validation_size must be a fraction between 0 and 1, got {size!r}.")


def _count(value: Any, argument: str, low: int = 1) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise UserErrorException(
            f"{argument} must be a whole number of at least {low}, got {value!r}.")
    return value


def _positive(value: Any, argument: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise UserErrorException(f"{argument} must be a positive number, got {value!r}.")
    return float(value)


def _featurization(value: Any) -> Any:
    from plinth.train.automl.featurization import FeaturizationConfig

    if isinstance(value, FeaturizationConfig):
        return value._spec()
    if value in ("auto", "off"):
        return value
    raise UserErrorException(
        f"featurization must be 'auto', 'off' or a FeaturizationConfig, got {value!r}.")
