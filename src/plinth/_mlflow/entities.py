"""MLflow's JSON shapes (from ``plinth._mlflow.mapping``) -> ``mlflow.entities`` objects."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mlflow.entities import (
    Experiment,
    ExperimentTag,
    Metric,
    Param,
    Run,
    RunData,
    RunInfo,
    RunInputs,
    RunTag,
)

__all__ = ["experiment", "metric", "run", "run_info"]


def experiment(data: Mapping[str, Any]) -> Experiment:
    return Experiment(
        experiment_id=data["experiment_id"],
        name=data["name"],
        artifact_location=data["artifact_location"],
        lifecycle_stage=data["lifecycle_stage"],
        tags=[ExperimentTag(t["key"], t["value"]) for t in data.get("tags", [])],
        creation_time=data.get("creation_time"),
        last_update_time=data.get("last_update_time"),
    )


def metric(data: Mapping[str, Any]) -> Metric:
    return Metric(data["key"], data["value"], data["timestamp"], data["step"])


def run_info(data: Mapping[str, Any]) -> RunInfo:
    return RunInfo(
        run_id=data["run_id"],
        experiment_id=data["experiment_id"],
        user_id=data["user_id"],
        status=data["status"],
        start_time=data["start_time"],
        end_time=data.get("end_time"),
        lifecycle_stage=data["lifecycle_stage"],
        artifact_uri=data["artifact_uri"],
        run_name=data.get("run_name"),
    )


def run(data: Mapping[str, Any]) -> Run:
    body = data["data"]
    return Run(
        run_info(data["info"]),
        RunData(
            metrics=[metric(m) for m in body["metrics"]],
            params=[Param(p["key"], p["value"]) for p in body["params"]],
            tags=[RunTag(t["key"], t["value"]) for t in body["tags"]],
        ),
        RunInputs(dataset_inputs=[], model_inputs=[]),
    )
