"""The wire format shared by the workspace server and its client (``RestStore``).

Request bodies are pydantic models here; responses are the store's own records
(``plinth._store.base``), which pydantic serialises and validates as they are. Errors
travel as ``{"error": {"code", "message"}}`` and ``ERROR_CODES`` maps them both ways.
"""

from plinth._api.errors import ERROR_CODES, error_for, status_for
from plinth._api.schemas import (
    API_PREFIX,
    AddRunDatasetsRequest,
    ArchiveRequest,
    CopyRequest,
    CreateComputeRequest,
    CreateDatasetRequest,
    CreateDatastoreRequest,
    CreateExperimentRequest,
    CreateModelVersionRequest,
    CreateRunRequest,
    CreateWorkspaceRequest,
    HeartbeatResponse,
    LogMetricsRequest,
    Page,
    PropertiesRequest,
    RegisterEnvironmentRequest,
    RemoveTagsRequest,
    RunDatasetEntry,
    SecretNamesRequest,
    SetSecretsRequest,
    StatusRequest,
    TagsRequest,
    UpdateDatasetRequest,
    UpdateModelRequest,
    UpdateRunRequest,
)

__all__ = [
    "API_PREFIX",
    "ERROR_CODES",
    "AddRunDatasetsRequest",
    "ArchiveRequest",
    "CopyRequest",
    "CreateComputeRequest",
    "CreateDatasetRequest",
    "CreateDatastoreRequest",
    "CreateExperimentRequest",
    "CreateModelVersionRequest",
    "CreateRunRequest",
    "CreateWorkspaceRequest",
    "HeartbeatResponse",
    "LogMetricsRequest",
    "Page",
    "PropertiesRequest",
    "RegisterEnvironmentRequest",
    "RemoveTagsRequest",
    "RunDatasetEntry",
    "SecretNamesRequest",
    "SetSecretsRequest",
    "StatusRequest",
    "TagsRequest",
    "UpdateDatasetRequest",
    "UpdateModelRequest",
    "UpdateRunRequest",
    "error_for",
    "status_for",
]
