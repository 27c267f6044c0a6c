"""Metadata persistence: the ``Store`` protocol and its implementations."""

from plinth._store.base import (
    ACTIVE_STATUSES,
    TERMINAL_STATUSES,
    ExperimentRecord,
    MetricPoint,
    ModelRecord,
    RunRecord,
    RunStatus,
    Store,
    WorkspaceRecord,
)
from plinth._store.sql import SqlStore, redact_uri

__all__ = [
    "ACTIVE_STATUSES",
    "TERMINAL_STATUSES",
    "ExperimentRecord",
    "MetricPoint",
    "ModelRecord",
    "RunRecord",
    "RunStatus",
    "SqlStore",
    "Store",
    "WorkspaceRecord",
    "redact_uri",
]
