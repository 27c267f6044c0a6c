"""``HyperDriveConfig``: a sweep of one training script over sampled hyperparameters."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from plinth.exceptions import UserErrorException

if TYPE_CHECKING:
    from plinth.train.hyperdrive.run import HyperDriveRun

__all__ = ["HyperDriveConfig", "PrimaryMetricGoal"]


class PrimaryMetricGoal:
    """Whether the sweep looks for the largest or the smallest primary metric."""

    MAXIMIZE = "MAXIMIZE"
    MINIMIZE = "MINIMIZE"


class HyperDriveConfig:
    """Run ``run_config`` (a ScriptRunConfig) or ``estimator`` up to ``max_total_runs`` times,
    ``max_concurrent_runs`` at once, each child with sampled values appended to its arguments
    (``--learning_rate 0.1``), stopping poor children with ``policy``, and rank them by
    ``primary_metric_name`` as each logs it with ``run.log``.

    ``max_concurrent_runs=None`` means as many as the compute target runs at once: a training
    cluster's ``max_nodes``, or this machine's CPU count for local runs.
    ``resume_from`` (HyperDrive runs) warm-starts the sweep with their completed children: a
    grid skips the points they ran, Bayesian sampling learns from them."""

    def __init__(self, hyperparameter_sampling: Any, primary_metric_name: str,
                 primary_metric_goal: str, max_total_runs: int | None = None,
                 max_concurrent_runs: int | None = None, max_duration_minutes: int = 10080,
                 policy: Any = None, estimator: Any = None, run_config: Any = None,
                 resume_from: Any = None, resume_child_runs: Any = None, pipeline: Any = None,
                 debug_flag: Any = None, custom_run_id: str | None = None):
        from plinth.train.hyperdrive.policy import EarlyTerminationPolicy, NoTerminationPolicy
        from plinth.train.hyperdrive.sampling import (
            BayesianParameterSampling,
            HyperParameterSampling,
        )

        if (estimator is None) == (run_config is None):
            raise UserErrorException(
                "HyperDriveConfig needs the script to sweep: pass run_config= (a "
                "ScriptRunConfig) or estimator= (one of them)."
            )
        if pipeline is not None or resume_child_runs is not None or custom_run_id is not None:
            raise UserErrorException(
                "pipeline, resume_child_runs and custom_run_id are not supported; sweep a "
                "ScriptRunConfig or an estimator."
            )
        if not isinstance(hyperparameter_sampling, HyperParameterSampling):
            raise UserErrorException(
                "hyperparameter_sampling must be GridParameterSampling, RandomParameterSampling"
                f" or BayesianParameterSampling, got {type(hyperparameter_sampling).__name__}."
            )
        if not isinstance(primary_metric_name, str) or not primary_metric_name:
            raise UserErrorException(
                "primary_metric_name must name a metric the script logs, e.g. 'AUC'.")
        if primary_metric_goal not in (PrimaryMetricGoal.MAXIMIZE, PrimaryMetricGoal.MINIMIZE):
            raise UserErrorException(
                f"primary_metric_goal={primary_metric_goal!r}: use PrimaryMetricGoal.MAXIMIZE "
                "or PrimaryMetricGoal.MINIMIZE."
            )
        _check_count(max_total_runs, "max_total_runs", required=True)
        _check_count(max_concurrent_runs, "max_concurrent_runs")
        _check_count(max_duration_minutes, "max_duration_minutes")
        policy = policy if policy is not None else NoTerminationPolicy()
        if not isinstance(policy, EarlyTerminationPolicy):
            raise UserErrorException(
                "policy must be BanditPolicy, MedianStoppingPolicy, TruncationSelectionPolicy "
                f"or NoTerminationPolicy, got {type(policy).__name__}."
            )
        if (isinstance(hyperparameter_sampling, BayesianParameterSampling)
                and not isinstance(policy, NoTerminationPolicy)):
            raise UserErrorException(
                "BayesianParameterSampling does not support early termination: leave policy "
                "out (or use NoTerminationPolicy()), or sample with RandomParameterSampling."
            )
        self.hyperparameter_sampling = hyperparameter_sampling
        self.primary_metric_name = primary_metric_name
        self.primary_metric_goal = primary_metric_goal
        self.max_total_runs = max_total_runs
        self.max_concurrent_runs = max_concurrent_runs
        self.max_duration_minutes = max_duration_minutes
        self.policy = policy
        self.estimator = estimator
        self.run_config = run_config
        self.resume_from = _runs(resume_from)

    @property
    def source_directory(self) -> str:
        return (self.estimator or self.run_config).source_directory

    def _definition(self) -> dict[str, Any]:
        """What the sweep's driver needs, before the script is snapshotted."""
        child = (self.estimator or self.run_config)._run_definition()
        return {
            "sampling": self.hyperparameter_sampling._spec(),
            "policy": self.policy._spec(),
            "primary_metric_name": self.primary_metric_name,
            "goal": self.primary_metric_goal.lower(),
            "max_total_runs": self.max_total_runs,
            "max_concurrent_runs": self.max_concurrent_runs,
            "max_duration_minutes": self.max_duration_minutes,
            "resume_from": [run.id for run in self.resume_from],
            "child": child,
        }

    def _submit_to_experiment(self, experiment: Any, tags: Any = None,
                              **kwargs: Any) -> "HyperDriveRun":
        from plinth._tuning.submit import submit_sweep
        from plinth.train.hyperdrive.run import HyperDriveRun

        if kwargs:
            raise UserErrorException(
                f"Unknown argument(s) for submitting a HyperDrive sweep: "
                f"{', '.join(sorted(kwargs))}."
            )
        run_id = submit_sweep(experiment.workspace._location, experiment._record,
                              self._definition(), tags=tags, default_concurrency=os.cpu_count())
        return HyperDriveRun(experiment, run_id)

    def __repr__(self) -> str:
        return (f"HyperDriveConfig(primary_metric_name={self.primary_metric_name!r}, "
                f"goal={self.primary_metric_goal}, max_total_runs={self.max_total_runs})")


def _check_count(value: Any, argument: str, required: bool = False) -> None:
    if value is None and not required:
        return
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise UserErrorException(f"{argument} must be a positive whole number, got {value!r}.")


def _runs(resume_from: Any) -> list[Any]:
    from plinth.train.hyperdrive.run import HyperDriveRun

    if resume_from is None:
        return []
    runs = resume_from if isinstance(resume_from, (list, tuple)) else [resume_from]
    for run in runs:
        if not isinstance(run, HyperDriveRun):
            raise UserErrorException(
                f"resume_from takes HyperDrive runs (what experiment.submit(hyperdrive_config) "
                f"returned), got {type(run).__name__}."
            )
    return list(runs)
