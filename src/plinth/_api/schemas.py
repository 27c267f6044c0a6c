"""Request bodies of the native REST API (``/api/v1``)."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from plinth._store.base import MetricPoint

__all__ = [
    "API_PREFIX",
    "AddPipelineEndpointVersionRequest",
    "AddRunDatasetsRequest",
    "ArchiveRequest",
    "CopyRequest",
    "CreateComputeRequest",
    "CreateDatasetRequest",
    "CreateDatastoreRequest",
    "CreateExperimentRequest",
    "CreateModelVersionRequest",
    "CreatePipelineEndpointRequest",
    "CreatePublishedPipelineRequest",
    "CreateRunRequest",
    "CreateScheduleRequest",
    "CreateServiceRequest",
    "CreateWorkspaceRequest",
    "HeartbeatResponse",
    "LogMetricsRequest",
    "Page",
    "PipelineStatusRequest",
    "PropertiesRequest",
    "RecordStepResultRequest",
    "RegisterEnvironmentRequest",
    "RemoveTagsRequest",
    "RunDatasetEntry",
    "SecretNamesRequest",
    "SetSecretsRequest",
    "StatusRequest",
    "StepResultResponse",
    "TagsRequest",
    "TokenRequest",
    "TokenResponse",
    "UpdateDatasetRequest",
    "UpdateModelRequest",
    "UpdatePipelineEndpointRequest",
    "UpdateRunRequest",
    "UpdateScheduleRequest",
    "UpdateServiceRequest",
    "WhoAmIResponse",
]

API_PREFIX = "/api/v1"

T = TypeVar("T")

Name = Field(min_length=1, max_length=255)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Page(BaseModel, Generic[T]):
    """One page of a listing; pass ``next_page_token`` back as ``page_token`` for the next."""

    items: list[T]
    next_page_token: str | None = None


class CreateWorkspaceRequest(_Strict):
    name: str = Field(min_length=2, max_length=33, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]+$")
    properties: dict[str, Any] = {}


class CreateExperimentRequest(_Strict):
    name: str = Field(min_length=1, max_length=255, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class ArchiveRequest(_Strict):
    archived: bool


class CreateRunRequest(_Strict):
    run_id: str = Field(min_length=1, max_length=255, pattern=r"^[A-Za-z0-9_.:-]+$")
    run_type: str = Name
    status: str = "NotStarted"
    parent_id: str | None = None
    display_name: str | None = Field(default=None, max_length=255)
    description: str | None = None
    tags: dict[str, str] = {}
    properties: dict[str, str] = {}
    definition: dict[str, Any] | None = None


class UpdateRunRequest(_Strict):
    display_name: str | None = Field(default=None, max_length=255)
    description: str | None = None


class StatusRequest(_Strict):
    status: str
    error: dict[str, Any] | None = None


class HeartbeatResponse(BaseModel):
    stop: bool


class TagsRequest(_Strict):
    tags: dict[str, str]


class RemoveTagsRequest(_Strict):
    keys: list[str]


class PropertiesRequest(_Strict):
    properties: dict[str, str]


class LogMetricsRequest(_Strict):
    points: list[MetricPoint] = Field(max_length=100_000)


class CreateModelVersionRequest(_Strict):
    path: str = Field(min_length=1)
    description: str | None = None
    tags: dict[str, str] = {}
    properties: dict[str, str] = {}
    framework: str | None = None
    framework_version: str | None = None
    run_id: str | None = None
    experiment_name: str | None = None
    datasets: list[dict[str, Any]] = []


class UpdateModelRequest(_Strict):
    add_tags: dict[str, str] = {}
    remove_tags: list[str] = []
    add_properties: dict[str, str] = {}


# Data: the store checks names, kinds, directions and modes, so a client gets its errors.
class CreateDatastoreRequest(_Strict):
    """Register the datastore named in the path; ``overwrite`` replaces one that exists."""

    kind: str = Field(min_length=1, max_length=64)
    config: dict[str, Any] = {}
    secrets: dict[str, str] = {}
    overwrite: bool = False


class CreateDatasetRequest(_Strict):
    """Register the next version of ``name``, or save unregistered when ``name`` is None."""

    name: str | None = Field(default=None, min_length=1, max_length=255)
    kind: str = Field(min_length=1, max_length=64)
    definition: dict[str, Any]
    fingerprint: dict[str, Any] = {}
    description: str | None = None
    tags: dict[str, str] = {}
    create_new_version: bool = False


class UpdateDatasetRequest(_Strict):
    """None leaves a field as it is."""

    description: str | None = None
    tags: dict[str, str] | None = None


class RunDatasetEntry(_Strict):
    dataset_id: str = Name
    name: str = Name
    direction: str = Field(min_length=1, max_length=16)
    mode: str = Field(min_length=1, max_length=16)


class AddRunDatasetsRequest(_Strict):
    entries: list[RunDatasetEntry] = Field(max_length=1000)


# Environments: the store checks names and digests, so a client gets its errors.
class RegisterEnvironmentRequest(_Strict):
    """Register the environment named in the path: the latest version when its digest is
    ``digest``, else the next version."""

    definition: dict[str, Any]
    digest: str = Field(min_length=1, max_length=128)


# Compute targets: the store checks names, kinds and settings, so a client gets its errors.
class CreateComputeRequest(_Strict):
    """Create (or attach) the compute target named in the path; 409 when it exists."""

    kind: str = Field(min_length=1, max_length=64)
    config: dict[str, Any] = {}


# Pipelines: the store checks names, states, JSON values and times, so a client gets its
# errors. Ids in paths are the store's UUIDs.
class CreatePublishedPipelineRequest(_Strict):
    name: str = Name
    graph: dict[str, Any]
    description: str | None = None
    version: str | None = Field(default=None, max_length=255)
    continue_on_step_failure: bool = False


class PipelineStatusRequest(_Strict):
    """``Active`` or ``Disabled``."""

    status: str = Field(min_length=1, max_length=16)


class CreatePipelineEndpointRequest(_Strict):
    """A new endpoint whose version "0" (the default) is ``pipeline_id``."""

    name: str = Name
    pipeline_id: str
    description: str | None = None


class AddPipelineEndpointVersionRequest(_Strict):
    """Append ``pipeline_id`` as the endpoint's next version (once)."""

    pipeline_id: str
    make_default: bool = False


class UpdatePipelineEndpointRequest(_Strict):
    """None leaves a field as it is."""

    default_version: str | None = Field(default=None, max_length=16)
    status: str | None = Field(default=None, max_length=16)
    description: str | None = None


class CreateScheduleRequest(_Strict):
    """Exactly one of ``recurrence`` and ``datastore``."""

    name: str = Name
    pipeline_id: str
    experiment_name: str = Name
    recurrence: dict[str, Any] | None = None
    datastore: str | None = Field(default=None, max_length=255)
    path_on_datastore: str | None = None
    polling_interval: float = 5.0
    data_path_parameter_name: str | None = Field(default=None, max_length=255)
    pipeline_parameters: dict[str, Any] = {}
    description: str | None = None
    next_fire_at: float | None = None


class UpdateScheduleRequest(_Strict):
    """None leaves a field as it is."""

    status: str | None = Field(default=None, max_length=16)
    next_fire_at: float | None = None


class RecordStepResultRequest(_Strict):
    """The Completed step run that produced the step with the fingerprint in the path."""

    run_id: str


class StepResultResponse(BaseModel):
    """The run recorded for a fingerprint while it is still Completed, else None."""

    run_id: str | None = None


# Web services: the store checks names, kinds, states, models and JSON values, so a client
# gets its errors.
class CreateServiceRequest(_Strict):
    """A new service in state Transitioning; 409 when one of that name exists, unless
    ``overwrite`` (which replaces it, keeping its ``created_at``)."""

    name: str = Name
    kind: str = Field(min_length=1, max_length=64)
    config: dict[str, Any]
    models: list[str]
    inference: dict[str, Any]
    description: str | None = None
    tags: dict[str, str] = {}
    properties: dict[str, str] = {}
    overwrite: bool = False


class UpdateServiceRequest(_Strict):
    """None leaves a field as it is; ``clear_error`` removes the error."""

    state: str | None = Field(default=None, max_length=64)
    config: dict[str, Any] | None = None
    models: list[str] | None = None
    inference: dict[str, Any] | None = None
    scoring_uri: str | None = None
    swagger_uri: str | None = None
    host: str | None = None
    pid: int | None = Field(default=None, strict=True)
    error: dict[str, Any] | None = None
    clear_error: bool = False
    description: str | None = None
    tags: dict[str, str] | None = None
    properties: dict[str, str] | None = None


class CopyRequest(_Strict):
    source: str = Field(min_length=1)
    target: str = Field(min_length=1)


MAX_SECRETS_PER_REQUEST = 1000


class SetSecretsRequest(_Strict):
    """Secret name -> value; each is created or replaced. The store checks names and sizes."""

    secrets: dict[str, str] = Field(max_length=MAX_SECRETS_PER_REQUEST, repr=False)


class SecretNamesRequest(_Strict):
    names: list[str] = Field(max_length=MAX_SECRETS_PER_REQUEST)


class TokenRequest(_Strict):
    """A service principal's client credentials, exchanged for a short-lived token."""

    tenant_id: str = Field(min_length=1, max_length=64)
    client_id: str = Field(min_length=1, max_length=255)
    client_secret: str = Field(min_length=1, max_length=512, repr=False)


class TokenResponse(BaseModel):
    access_token: str = Field(repr=False)
    token_type: str = "Bearer"
    expires_in: int
    expires_on: float


class WhoAmIResponse(BaseModel):
    """The caller, and its role on each workspace (by workspace name)."""

    name: str
    kind: str
    roles: dict[str, str]
