"""Plinth records <-> MLflow's REST JSON shapes. Pure functions over records and plain dicts.

The dicts are the ones the MLflow REST API sends (``Experiment``, ``Run`` with ``info``,
``data`` and ``inputs``, ``Metric``, ``Param``, ``RunTag``), so the embedded tracking store
(``plinth._mlflow.store``) and a REST server share one mapping. Nothing here does I/O or
imports MLflow.

===========================  ==================================================================
MLflow                       Plinth
===========================  ==================================================================
experiment                   experiment; ``experiment_id`` is the Plinth experiment id
experiment ``"0"``           the experiment named ``Default`` (created on first use)
experiment lifecycle         ``deleted`` <-> the experiment is archived
experiment tags              kept beside the experiment (``plinth._mlflow.experiment_tags``)
run                          run; ``run_id`` is the Plinth run id (runs MLflow creates: a uuid4
                             hex id and the run type ``mlflow``)
status ``SCHEDULED``         ``NotStarted``, ``Queued`` (MLflow -> Plinth: ``NotStarted``)
status ``RUNNING``           ``Running``, ``Preparing``, ``Starting``, ``Finalizing``,
                             ``CancelRequested`` (MLflow -> Plinth: ``Running``)
status ``FINISHED``          ``Completed``
status ``FAILED``            ``Failed``
status ``KILLED``            ``Canceled``
``start_time``/``end_time``  ``start_time``/``end_time`` (ms <-> s); a run that has not
                             started reports its creation time as ``start_time``
run lifecycle ``deleted``    the run tag ``plinth.mlflow.lifecycleStage = deleted`` (removed
                             on restore; not among the tags MLflow sees)
metrics                      ``scalar`` metric points with a number value (other kinds and
                             values are not shown to MLflow); ``step`` <-> ``step`` (Plinth's
                             ``None`` reads as 0); ``timestamp`` ms <-> s
run's latest metric          the point with the greatest (step, timestamp, value), as MLflow
params                       run properties (both immutable: changing a value is an error)
tags                         run tags, except these, which map to run fields:
``mlflow.runName``           ``display_name``
``mlflow.note.content``      ``description``
``mlflow.parentRunId``       ``parent_id`` (set when the run is created)
``user_id``                  the ``mlflow.user`` tag
run status updates           applied to runs MLflow created; ignored for runs Plinth created
                             (their worker or owning process decides), see mlflow_sets_status
===========================  ==================================================================
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from plinth._store import ExperimentRecord, MetricPoint, RunRecord, RunStatus

__all__ = [
    "DEFAULT_EXPERIMENT_ID",
    "DEFAULT_EXPERIMENT_NAME",
    "DELETED_TAG",
    "RUN_TYPE",
    "TagChanges",
    "experiment_to_dict",
    "latest_metrics",
    "lifecycle_stage",
    "metric_from_dict",
    "metric_history",
    "metric_to_dict",
    "mlflow_sets_status",
    "ms",
    "params_conflicts",
    "params_from_mlflow",
    "run_info_to_dict",
    "run_tags",
    "run_to_dict",
    "seconds",
    "status_from_mlflow",
    "status_to_mlflow",
    "tags_from_mlflow",
]

RUN_TYPE = "mlflow"  # the Plinth run type of runs created through MLflow
DEFAULT_EXPERIMENT_ID = "0"
DEFAULT_EXPERIMENT_NAME = "Default"
DELETED_TAG = "plinth.mlflow.lifecycleStage"
ACTIVE, DELETED = "active", "deleted"

RUN_NAME_TAG = "mlflow.runName"
NOTE_TAG = "mlflow.note.content"
PARENT_TAG = "mlflow.parentRunId"
USER_TAG = "mlflow.user"

_TO_MLFLOW = {
    RunStatus.NOT_STARTED: "SCHEDULED",
    RunStatus.QUEUED: "SCHEDULED",
    RunStatus.PREPARING: "RUNNING",
    RunStatus.STARTING: "RUNNING",
    RunStatus.RUNNING: "RUNNING",
    RunStatus.FINALIZING: "RUNNING",
    RunStatus.CANCEL_REQUESTED: "RUNNING",
    RunStatus.COMPLETED: "FINISHED",
    RunStatus.FAILED: "FAILED",
    RunStatus.CANCELED: "KILLED",
}
_FROM_MLFLOW = {
    "SCHEDULED": RunStatus.NOT_STARTED,
    "RUNNING": RunStatus.RUNNING,
    "FINISHED": RunStatus.COMPLETED,
    "FAILED": RunStatus.FAILED,
    "KILLED": RunStatus.CANCELED,
}


# -- scalars --------------------------------------------------------------------------------


def ms(seconds: float | None) -> int | None:
    """Plinth's seconds -> MLflow's milliseconds."""
    return None if seconds is None else int(round(seconds * 1000))


def seconds(millis: int | float | None) -> float | None:
    """MLflow's milliseconds -> Plinth's seconds."""
    return None if millis is None else float(millis) / 1000.0


def status_to_mlflow(status: str) -> str:
    return _TO_MLFLOW.get(status, "RUNNING")


def status_from_mlflow(status: str) -> str:
    """MLflow's status name -> Plinth's; ValueError for a name MLflow does not have."""
    try:
        return _FROM_MLFLOW[str(status).upper()]
    except KeyError:
        raise ValueError(
            f"Unknown MLflow run status {status!r}; use one of {', '.join(_FROM_MLFLOW)}."
        ) from None


def mlflow_sets_status(record: RunRecord) -> bool:
    """Whether MLflow's status updates apply to the run: only to runs MLflow created. A run
    Plinth created has an owner (its worker, or the process that started it) that decides
    its status; MLflow may log to it, tag it and rename it."""
    return record.run_type == RUN_TYPE


def lifecycle_stage(record: RunRecord) -> str:
    return DELETED if record.tags.get(DELETED_TAG) == DELETED else ACTIVE


# -- experiments ----------------------------------------------------------------------------


def experiment_to_dict(
    record: ExperimentRecord, *, artifact_location: str, tags: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """An ``Experiment`` in MLflow's JSON shape."""
    created = ms(record.created_at)
    return {
        "experiment_id": record.id,
        "name": record.name,
        "artifact_location": artifact_location,
        "lifecycle_stage": DELETED if record.archived else ACTIVE,
        "creation_time": created,
        "last_update_time": created,
        "tags": _pairs(tags or {}),
    }


# -- metrics --------------------------------------------------------------------------------


def metric_to_dict(point: MetricPoint) -> dict[str, Any] | None:
    """A ``Metric`` from a point, or None when MLflow cannot show it (not a scalar number)."""
    value = point.value
    if point.kind != "scalar" or not isinstance(value, (int, float)):
        return None
    return {
        "key": point.name,
        "value": float(value),
        "timestamp": ms(point.timestamp) or 0,
        "step": int(point.step or 0),
    }


def metric_from_dict(metric: Mapping[str, Any]) -> MetricPoint:
    """A Plinth scalar point from a ``Metric`` (``key``, ``value``, ``timestamp``, ``step``)."""
    timestamp = metric.get("timestamp")
    return MetricPoint(
        name=str(metric["key"]),
        value=float(metric["value"]),
        kind="scalar",
        step=int(metric.get("step") or 0),
        timestamp=seconds(timestamp) if timestamp is not None else 0.0,
    )


def metric_history(points: Iterable[MetricPoint], key: str | None = None) -> list[dict[str, Any]]:
    """Every MLflow-visible point (of ``key``, when given), in the order they were logged."""
    out = []
    for point in points:
        if key is None or point.name == key:
            metric = metric_to_dict(point)
            if metric is not None:
                out.append(metric)
    return out


def latest_metrics(points: Iterable[MetricPoint]) -> list[dict[str, Any]]:
    """Per key, the point with the greatest (step, timestamp, value): what a run reports."""
    latest: dict[str, tuple[tuple, MetricPoint]] = {}
    for point in points:
        value = point.value
        if point.kind != "scalar" or not isinstance(value, (int, float)):
            continue
        order = (point.step or 0, point.timestamp, not math.isnan(value), value)
        current = latest.get(point.name)
        if current is None or order >= current[0]:
            latest[point.name] = (order, point)
    return [metric_to_dict(point) for _, point in latest.values()]


# -- runs -----------------------------------------------------------------------------------


def run_tags(record: RunRecord) -> dict[str, str]:
    """The run's tags as MLflow sees them (run fields shown as their ``mlflow.*`` tags)."""
    tags = {k: v for k, v in record.tags.items() if k != DELETED_TAG}
    if record.display_name:
        tags[RUN_NAME_TAG] = record.display_name
    if record.description:
        tags[NOTE_TAG] = record.description
    if record.parent_id:
        tags[PARENT_TAG] = record.parent_id
    return tags


def run_info_to_dict(record: RunRecord, *, artifact_uri: str) -> dict[str, Any]:
    """A ``RunInfo`` in MLflow's JSON shape."""
    info: dict[str, Any] = {
        "run_id": record.id,
        "run_uuid": record.id,
        "experiment_id": record.experiment_id,
        "user_id": record.tags.get(USER_TAG, ""),
        "status": status_to_mlflow(record.status),
        "start_time": ms(record.start_time if record.start_time is not None
                         else record.created_at),
        "artifact_uri": artifact_uri,
        "lifecycle_stage": lifecycle_stage(record),
    }
    if record.display_name:
        info["run_name"] = record.display_name
    if record.end_time is not None:
        info["end_time"] = ms(record.end_time)
    return info


def run_to_dict(
    record: RunRecord, points: Iterable[MetricPoint], *, artifact_uri: str
) -> dict[str, Any]:
    """A ``Run`` in MLflow's JSON shape: ``info``, ``data`` (latest metrics, params = the
    run's properties, tags) and empty ``inputs``."""
    return {
        "info": run_info_to_dict(record, artifact_uri=artifact_uri),
        "data": {
            "metrics": latest_metrics(points),
            "params": _pairs(record.properties),
            "tags": _pairs(run_tags(record)),
        },
        "inputs": {},
    }


class TagChanges(NamedTuple):
    """What a batch of MLflow tags changes on a Plinth run."""

    tags: dict[str, str]  # plain tags to set
    display_name: str | None  # from mlflow.runName
    description: str | None  # from mlflow.note.content
    parent_id: str | None  # from mlflow.parentRunId (used when the run is created)


def tags_from_mlflow(tags: Iterable[tuple[str, str]] | Mapping[str, str]) -> TagChanges:
    """Split MLflow tags into Plinth tags and run fields; ValueError for the reserved
    lifecycle tag (MLflow deletes and restores runs through their own calls)."""
    pairs = tags.items() if isinstance(tags, Mapping) else tags
    plain: dict[str, str] = {}
    display_name = description = parent_id = None
    for key, value in pairs:
        key, value = str(key), "" if value is None else str(value)
        if key == DELETED_TAG:
            raise ValueError(f"Tag {DELETED_TAG!r} is reserved; use delete_run/restore_run.")
        if key == RUN_NAME_TAG:
            display_name = value
        elif key == NOTE_TAG:
            description = value
        elif key == PARENT_TAG:
            parent_id = value
        else:
            plain[key] = value
    return TagChanges(plain, display_name, description, parent_id)


def params_from_mlflow(params: Iterable[tuple[str, str]] | Mapping[str, str]) -> dict[str, str]:
    """Params -> properties; ValueError when one batch gives a key two different values."""
    pairs = params.items() if isinstance(params, Mapping) else params
    out: dict[str, str] = {}
    for key, value in pairs:
        key, value = str(key), "" if value is None else str(value)
        if key in out and out[key] != value:
            raise ValueError(
                f"Changing param values is not allowed. Param {key!r} was given the values "
                f"{out[key]!r} and {value!r} in one batch."
            )
        out[key] = value
    return out


def _pairs(values: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in values.items()]


def params_conflicts(
    current: Mapping[str, str], new: Mapping[str, str]
) -> list[tuple[str, str, str]]:
    """(key, logged value, new value) for each param whose value would change."""
    return [(k, current[k], v) for k, v in new.items() if k in current and current[k] != v]
