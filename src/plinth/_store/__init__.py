"""Metadata persistence: the ``Store`` protocol and its implementations."""

from plinth._store.base import (
    ACTIVE_STATUSES,
    ROLES,
    TERMINAL_STATUSES,
    ExperimentRecord,
    MetricPoint,
    ModelRecord,
    RunRecord,
    RunStatus,
    SecretRecord,
    Store,
    TokenMatch,
    TokenRecord,
    UserRecord,
    WorkspaceRecord,
)
from plinth._store.sql import SqlStore, redact_uri

__all__ = [
    "ACTIVE_STATUSES",
    "ROLES",
    "TERMINAL_STATUSES",
    "ExperimentRecord",
    "MetricPoint",
    "ModelRecord",
    "RunRecord",
    "RunStatus",
    "SecretRecord",
    "SqlStore",
    "Store",
    "TokenMatch",
    "TokenRecord",
    "UserRecord",
    "WorkspaceRecord",
    "redact_uri",
]
