"""The one way Plinth persists metadata: the :class:`Store` protocol and its records.

Rules every implementation follows (and ``tests/store/suite.py`` checks):

* **Thread safety.** A store may be shared by threads of one process; every method is a
  self-contained transaction. Several processes may open the same backing database at once.
* **Records are immutable.** Methods return frozen dataclasses; their ``dict`` fields are
  copies. Callers never mutate what they get back and never see ORM objects.
* **Atomic counters.** Run numbers (per experiment) and model versions (per name) are assigned
  inside the store, so concurrent writers in different processes never get the same one.
* **Terminal statuses are final.** Once a run is Completed, Failed or Canceled, ``set_status``
  leaves it as it is and returns the record, so the first terminal status wins any race.
* **Errors.** Unknown objects raise :class:`~plinth.exceptions.NotFoundError`; name clashes
  raise :class:`~plinth.exceptions.AlreadyExistsError`; a request that breaks these rules
  raises :class:`~plinth.exceptions.ValidationError`. Nothing is half-written on error.
* **Liveness.** Active runs carry a heartbeat. Reads of runs first fail those whose heartbeat
  is older than the store's ``heartbeat_timeout``, so a run whose process died ends Failed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

__all__ = [
    "ACTIVE_STATUSES",
    "BUILTIN_DATASTORES",
    "DATASTORE_KINDS",
    "TERMINAL_STATUSES",
    "DatasetRecord",
    "COMPUTE_KINDS",
    "ComputeRecord",
    "DatastoreRecord",
    "EnvironmentRecord",
    "ExperimentRecord",
    "MetricPoint",
    "ModelRecord",
    "PIPELINE_STATES",
    "PipelineEndpointRecord",
    "PublishedPipelineRecord",
    "ROLES",
    "RunDatasetRecord",
    "RunRecord",
    "RunStatus",
    "SERVICE_KINDS",
    "SERVICE_STATES",
    "ScheduleRecord",
    "SecretRecord",
    "ServiceRecord",
    "Store",
    "TokenMatch",
    "TokenRecord",
    "UserRecord",
    "WorkspaceRecord",
]


class RunStatus:
    """The run lifecycle, named as azureml names it."""

    NOT_STARTED = "NotStarted"
    QUEUED = "Queued"
    PREPARING = "Preparing"
    STARTING = "Starting"
    RUNNING = "Running"
    FINALIZING = "Finalizing"
    CANCEL_REQUESTED = "CancelRequested"
    COMPLETED = "Completed"
    FAILED = "Failed"
    CANCELED = "Canceled"


ACTIVE_STATUSES = frozenset(
    {
        RunStatus.NOT_STARTED,
        RunStatus.QUEUED,
        RunStatus.PREPARING,
        RunStatus.STARTING,
        RunStatus.RUNNING,
        RunStatus.FINALIZING,
        RunStatus.CANCEL_REQUESTED,
    }
)
TERMINAL_STATUSES = frozenset({RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELED})


@dataclass(frozen=True)
class WorkspaceRecord:
    id: str
    name: str
    created_at: float
    properties: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ExperimentRecord:
    id: str
    workspace_id: str
    name: str
    created_at: float
    archived: bool = False


@dataclass(frozen=True)
class RunRecord:
    id: str
    experiment_id: str
    experiment_name: str
    number: int
    run_type: str
    status: str
    created_at: float
    parent_id: str | None = None
    display_name: str | None = None
    description: str | None = None
    start_time: float | None = None
    end_time: float | None = None
    heartbeat_at: float | None = None
    cancel_requested: bool = False
    tags: dict[str, str] = field(default_factory=dict)
    properties: dict[str, str] = field(default_factory=dict)
    error: dict[str, Any] | None = None
    definition: dict[str, Any] | None = None

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES


class MetricPoint(NamedTuple):
    """One logged value. ``kind`` says how values of a name combine in ``get_metrics``:

    ``scalar`` (a series when logged more than once), ``list``, ``row``, ``table``, or
    ``json`` (a structured value such as a confusion matrix or an image reference).
    A tuple rather than a dataclass: runs create one per logged point, so it must be cheap.
    """

    name: str
    value: Any
    kind: str = "scalar"
    step: int | None = None
    timestamp: float = 0.0
    description: str = ""


@dataclass(frozen=True)
class ModelRecord:
    workspace_id: str
    name: str
    version: int
    path: str
    created_at: float
    description: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    properties: dict[str, str] = field(default_factory=dict)
    framework: str | None = None
    framework_version: str | None = None
    run_id: str | None = None
    experiment_name: str | None = None
    datasets: list[dict[str, Any]] = field(default_factory=list)

    @property
    def id(self) -> str:
        return f"{self.name}:{self.version}"


@dataclass(frozen=True)
class SecretRecord:
    """A workspace secret's name and times; the value is never part of a record."""

    workspace_id: str
    name: str
    created_at: float
    updated_at: float


# -- data -----------------------------------------------------------------------------------

#: Datastore kinds, named as azureml's ``datastore.datastore_type``.
DATASTORE_KINDS = ("AzureBlob", "AzureFile", "AzureDataLakeGen2", "S3", "Local", "AzurePostgreSql")

#: The datastores every workspace has, on its own artifact root under ``config["prefix"]``:
#: name -> kind. The first is the default until another is set.
BUILTIN_DATASTORES = {"workspaceblobstore": "AzureBlob", "workspacefilestore": "AzureFile"}


@dataclass(frozen=True)
class DatastoreRecord:
    """A named storage location of a workspace.

    ``config`` holds only settings that are not secret (container, account, endpoint, bucket,
    folder, host, database, ...); a built-in datastore's is ``{"builtin": True, "prefix":
    "datastores/<name>"}``, a folder of the workspace's artifact root. Credentials live in the
    workspace key vault: ``secrets`` maps a setting to the name of the secret that holds it
    (``{"account_key": "datastore-blob-data-account-key"}``).
    """

    workspace_id: str
    name: str
    kind: str
    created_at: float
    config: dict[str, Any] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)
    is_default: bool = False


@dataclass(frozen=True)
class DatasetRecord:
    """One saved dataset definition. A registered one has a ``name`` and a ``version``
    (1, 2, ... per name, never reused); one saved only so a run can refer to it has neither.

    ``definition`` says how to read the data (sources, format, transformations);
    ``fingerprint`` what the sources resolved to when it was saved
    (``{"files": [[name, size, etag_or_mtime], ...], "digest": ...}``).
    """

    id: str
    workspace_id: str
    kind: str
    created_at: float
    definition: dict[str, Any]
    name: str | None = None
    version: int | None = None
    description: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    fingerprint: dict[str, Any] = field(default_factory=dict)
    registered: bool = True


@dataclass(frozen=True)
class RunDatasetRecord:
    """Lineage: ``run_id`` consumed (``direction='input'``) or produced (``'output'``) the
    dataset ``dataset_id``, under the input or output name ``name``, accessed in ``mode``
    (``direct``, ``download``, ``mount`` or ``upload``)."""

    run_id: str
    dataset_id: str
    name: str
    direction: str
    mode: str
    created_at: float


# -- environments ----------------------------------------------------------------------------


@dataclass(frozen=True)
class EnvironmentRecord:
    """A registered environment version. ``definition`` is what ``Environment`` serialises
    (python version, conda and pip packages, variables, ...); ``digest`` identifies its
    normalised package spec, so registering an unchanged definition keeps the version."""

    workspace_id: str
    name: str
    version: int
    digest: str
    created_at: float
    definition: dict[str, Any] = field(default_factory=dict)


# -- compute targets ---------------------------------------------------------------------------

#: Compute target kinds, named as azureml's ``compute.type``: ``AmlCompute`` (a training
#: cluster on Ray), ``ComputeInstance`` (this machine), ``Ray`` (an attached Ray cluster) and
#: ``AKS`` (an inference cluster for web services: this machine).
COMPUTE_KINDS = ("AmlCompute", "ComputeInstance", "Ray", "AKS")


@dataclass(frozen=True)
class ComputeRecord:
    """A compute target of a workspace. ``config`` holds its settings (``vm_size``,
    ``min_nodes``, ``max_nodes``, ``idle_seconds_before_scaledown``, ``address``, ...);
    ``state`` is azureml's provisioning state (``Succeeded``, ``Failed``, ...)."""

    workspace_id: str
    name: str
    kind: str
    created_at: float
    config: dict[str, Any] = field(default_factory=dict)
    state: str = "Succeeded"



# -- pipelines -------------------------------------------------------------------------------

#: States of published pipelines, pipeline endpoints and schedules, as azureml names them.
PIPELINE_STATES = ("Active", "Disabled")


@dataclass(frozen=True)
class PublishedPipelineRecord:
    """A pipeline published for others to run. ``graph`` is self-contained (every step's
    snapshot, resolved inputs, compute and environment; see ``plinth._pipelines.graph``), so
    it runs without the folder it was built from. ``id`` is a UUID."""

    id: str
    workspace_id: str
    name: str
    created_at: float
    graph: dict[str, Any]
    description: str | None = None
    version: str | None = None
    continue_on_step_failure: bool = False
    status: str = "Active"


@dataclass(frozen=True)
class PipelineEndpointRecord:
    """One name and URL in front of published pipeline versions. ``pipeline_ids[i]`` is
    version ``str(i)``; ``default_version`` is the one a request without a version runs."""

    id: str
    workspace_id: str
    name: str
    created_at: float
    pipeline_ids: list[str]
    default_version: str = "0"
    description: str | None = None
    status: str = "Active"


@dataclass(frozen=True)
class ScheduleRecord:
    """When to submit a published pipeline: on a ``recurrence`` (``{"frequency", "interval",
    "start_time", "time_zone", "hours", "minutes", "week_days"}``, as ``ScheduleRecurrence``)
    or when files under ``path_on_datastore`` of ``datastore`` change (polled every
    ``polling_interval`` minutes). ``next_fire_at`` is the next due time (epoch seconds) of a
    recurrence, or of the next poll; ``data_state`` is what the last poll saw."""

    id: str
    workspace_id: str
    name: str
    pipeline_id: str
    experiment_name: str
    created_at: float
    recurrence: dict[str, Any] | None = None
    datastore: str | None = None
    path_on_datastore: str | None = None
    polling_interval: float = 5.0
    data_path_parameter_name: str | None = None
    pipeline_parameters: dict[str, Any] = field(default_factory=dict)
    description: str | None = None
    status: str = "Active"
    next_fire_at: float | None = None
    data_state: dict[str, Any] | None = None
    last_fired_at: float | None = None
    last_run_id: str | None = None



# -- web services ----------------------------------------------------------------------------

#: Where a service runs, named as azureml's ``compute_type``: this machine's own process
#: (``Local``, ``ACI``) or replicas on an inference cluster (``AKS``).
SERVICE_KINDS = ("Local", "ACI", "AKS")
#: azureml's service states.
SERVICE_STATES = ("Transitioning", "Healthy", "Unhealthy", "Failed")


@dataclass(frozen=True)
class ServiceRecord:
    """A deployed web service. ``models`` are ``"name:version"`` ids; ``inference`` is what
    runs (``entry_script``, ``snapshotId`` of its source folder, ``environment`` definition,
    ``runtime``); ``config`` the deployment settings (``port``, ``cpu_cores``,
    ``memory_gb``, ``auth_enabled``, ``token_auth_enabled``, ``num_replicas``, autoscale
    bounds, ``workers``, ...). ``pid``/``host`` say which process serves it, ``scoring_uri``
    where. Keys live in the workspace key vault, never in the record."""

    workspace_id: str
    name: str
    kind: str
    created_at: float
    updated_at: float
    state: str = "Transitioning"
    config: dict[str, Any] = field(default_factory=dict)
    models: list[str] = field(default_factory=list)
    inference: dict[str, Any] = field(default_factory=dict)
    scoring_uri: str | None = None
    swagger_uri: str | None = None
    host: str | None = None
    pid: int | None = None
    error: dict[str, Any] | None = None
    description: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    properties: dict[str, str] = field(default_factory=dict)


# -- users, roles and tokens ---------------------------------------------------------------

#: Workspace roles, weakest first: a role allows everything the roles before it allow.
ROLES = ("Reader", "Contributor", "Owner")
USER_KINDS = ("user", "service_principal")


@dataclass(frozen=True)
class UserRecord:
    """A person (``kind='user'``) or a service principal (``'service_principal'``, which
    exchanges its client secret for short-lived tokens). ``secret_hash`` is the SHA-256 of a
    service principal's client secret (never the secret itself)."""

    id: str
    name: str
    kind: str
    created_at: float
    disabled: bool = False
    secret_hash: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class TokenRecord:
    """An access token's metadata; the token itself is only ever stored as its hash."""

    id: str
    user_name: str
    created_at: float
    description: str | None = None
    expires_at: float | None = None
    last_used_at: float | None = None
    revoked: bool = False


class TokenMatch(NamedTuple):
    """What ``find_token`` found: the token and its user (who may be disabled)."""

    token: TokenRecord
    user: UserRecord


class Store(Protocol):
    """Persistence of workspaces, experiments, runs, metrics, model versions, secrets,
    and the users, roles and tokens of a server."""

    heartbeat_timeout: float

    # workspaces
    def create_workspace(self, name: str, properties: Mapping[str, Any]) -> WorkspaceRecord: ...
    def get_workspace(self, name: str) -> WorkspaceRecord: ...
    def list_workspaces(self) -> list[WorkspaceRecord]: ...
    def delete_workspace(self, name: str) -> None: ...

    # experiments
    def create_experiment(self, workspace_id: str, name: str) -> ExperimentRecord:
        """Return the experiment called ``name``, creating it when it does not exist."""

    def get_experiment(self, workspace_id: str, name: str) -> ExperimentRecord: ...
    def get_experiment_by_id(self, experiment_id: str) -> ExperimentRecord: ...
    def list_experiments(
        self, workspace_id: str, include_archived: bool = False
    ) -> list[ExperimentRecord]: ...
    def set_experiment_archived(self, experiment_id: str, archived: bool) -> ExperimentRecord: ...

    # runs
    def create_run(
        self,
        experiment_id: str,
        run_id: str,
        *,
        run_type: str,
        status: str = RunStatus.NOT_STARTED,
        parent_id: str | None = None,
        display_name: str | None = None,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
        properties: Mapping[str, str] | None = None,
        definition: Mapping[str, Any] | None = None,
    ) -> RunRecord:
        """Insert a run; ``definition`` says what to execute (script, arguments, ...)."""

    def get_run(self, run_id: str) -> RunRecord: ...
    def list_runs(
        self,
        *,
        experiment_id: str | None = None,
        parent_id: str | None = None,
        run_type: str | None = None,
        root_only: bool = False,
    ) -> list[RunRecord]:
        """Runs matching every given filter, newest first."""

    def set_status(
        self, run_id: str, status: str, *, error: Mapping[str, Any] | None = None
    ) -> RunRecord: ...
    def request_cancel(self, run_id: str) -> RunRecord:
        """Cancel a run that has no process yet; flag one that has, for its worker to stop."""

    def heartbeat(self, run_id: str) -> bool:
        """Record that the run's process is alive; return whether it should stop: cancel
        was asked, or the run already ended (for instance failed as stale)."""

    def fail_stale_runs(self) -> list[str]:
        """Fail active runs whose heartbeat is older than ``heartbeat_timeout``."""

    def update_run(
        self, run_id: str, *, display_name: str | None = None, description: str | None = None
    ) -> RunRecord:
        """Change the run's display name and/or description (None leaves one as it is)."""

    def set_tags(self, run_id: str, tags: Mapping[str, str]) -> RunRecord: ...
    def remove_tags(self, run_id: str, keys: Iterable[str]) -> RunRecord: ...
    def add_properties(self, run_id: str, properties: Mapping[str, str]) -> RunRecord:
        """Add properties; changing the value of an existing one raises ValidationError."""

    # metrics
    def log_metrics(self, run_id: str, points: Sequence[MetricPoint]) -> None: ...
    def get_metrics(self, run_id: str, name: str | None = None) -> list[MetricPoint]:
        """Points grouped by metric (name and kind), metrics in the order each was first
        logged, and each metric's points in the order they were logged."""

    def latest_metrics(
        self, run_ids: Sequence[str], names: Sequence[str] | None = None
    ) -> dict[str, dict[str, float]]:
        """Each run's last logged value of each scalar metric (of ``names``, or of every
        name), where that value is a number (NaN and infinities included): ``{run_id: {name:
        float}}``, for the metric columns of a runs table. One indexed query per few thousand
        runs, however long their series. A metric whose last value is not a number (text, a
        bool) is left out, as are runs without any and ids of runs that do not exist (or,
        through a server, are not in its workspace)."""

    # models
    def create_model_version(
        self,
        workspace_id: str,
        name: str,
        *,
        path: str,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
        properties: Mapping[str, str] | None = None,
        framework: str | None = None,
        framework_version: str | None = None,
        run_id: str | None = None,
        experiment_name: str | None = None,
        datasets: Sequence[Mapping[str, Any]] = (),
    ) -> ModelRecord:
        """Insert the next version of ``name`` (1 for a new name)."""

    def get_model(self, workspace_id: str, name: str, version: int | None = None) -> ModelRecord:
        """The given version, or the latest one when ``version`` is None."""

    def list_models(self, workspace_id: str, name: str | None = None) -> list[ModelRecord]:
        """Model versions, newest first."""

    def update_model(
        self,
        workspace_id: str,
        name: str,
        version: int,
        *,
        add_tags: Mapping[str, str] | None = None,
        remove_tags: Iterable[str] = (),
        add_properties: Mapping[str, str] | None = None,
    ) -> ModelRecord: ...
    def delete_model(self, workspace_id: str, name: str, version: int) -> None: ...

    # secrets: the workspace key vault. Values cross this protocol in plaintext; the store
    # that owns the database encrypts them at rest with a key kept outside it (see
    # plinth._secrets), so a client of a server store never holds the key. Names follow
    # Azure Key Vault's rule (1-127 letters, digits, '-'); a bad name or value raises
    # ValidationError whose message never contains a value.
    def set_secrets(self, workspace_id: str, secrets: Mapping[str, str]) -> None:
        """Create or replace each secret, all or none."""

    def get_secrets(self, workspace_id: str, names: Sequence[str]) -> dict[str, str]:
        """The values of those of ``names`` that exist (missing names are left out)."""

    def list_secrets(self, workspace_id: str) -> list[SecretRecord]:
        """The workspace's secrets, by name, without values."""

    def delete_secrets(self, workspace_id: str, names: Sequence[str]) -> None:
        """Delete the named secrets; NotFoundError (deleting none) if one does not exist."""

    # datastores. Creating a workspace creates its BUILTIN_DATASTORES, the first the default.
    # Names: 1-255 letters, digits or '_', starting with a letter (ValidationError otherwise).
    def create_datastore(
        self,
        workspace_id: str,
        name: str,
        *,
        kind: str,
        config: Mapping[str, Any],
        secrets: Mapping[str, str] | None = None,
        overwrite: bool = False,
    ) -> DatastoreRecord:
        """Register a datastore; AlreadyExistsError when the name is taken, unless
        ``overwrite`` (which replaces kind, config and secrets, keeping the default flag).
        A built-in datastore cannot be overwritten (ValidationError)."""

    def get_datastore(self, workspace_id: str, name: str) -> DatastoreRecord: ...
    def list_datastores(self, workspace_id: str) -> list[DatastoreRecord]:
        """The workspace's datastores, by name."""

    def get_default_datastore(self, workspace_id: str) -> DatastoreRecord: ...
    def set_default_datastore(self, workspace_id: str, name: str) -> DatastoreRecord:
        """Make ``name`` the default (and no other)."""

    def delete_datastore(self, workspace_id: str, name: str) -> None:
        """Unregister a datastore (its files stay where they are). ValidationError for a
        built-in one or the current default."""

    # datasets
    def create_dataset(
        self,
        workspace_id: str,
        name: str | None,
        *,
        kind: str,
        definition: Mapping[str, Any],
        fingerprint: Mapping[str, Any] | None = None,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
        create_new_version: bool = False,
    ) -> DatasetRecord:
        """Save a dataset. With a ``name``: register the next version of it (1 for a new
        name; AlreadyExistsError when the name has a registered version and not
        ``create_new_version``). With ``name=None``: save it unregistered, for lineage."""

    def get_dataset(
        self, workspace_id: str, name: str, version: int | None = None
    ) -> DatasetRecord:
        """A registered version (the latest when ``version`` is None)."""

    def get_dataset_by_id(self, workspace_id: str, dataset_id: str) -> DatasetRecord:
        """Any saved dataset of the workspace, registered, unregistered or saved for a run."""

    def list_datasets(self, workspace_id: str, name: str | None = None) -> list[DatasetRecord]:
        """Registered versions (of one name, or of all), by name then newest first."""

    def update_dataset(
        self,
        workspace_id: str,
        name: str,
        version: int,
        *,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> DatasetRecord:
        """Replace a version's description and/or tags (None leaves one as it is)."""

    def unregister_dataset(self, workspace_id: str, name: str) -> None:
        """Unregister every version of ``name``; they stay readable by id, so lineage holds,
        and their numbers are not given out again."""

    # lineage
    def add_run_datasets(self, run_id: str, entries: Sequence[Mapping[str, Any]]) -> None:
        """Record datasets a run used: each entry has ``dataset_id``, ``name``, ``direction``
        and ``mode``. The datasets must be of the run's workspace (ValidationError)."""

    def list_run_datasets(
        self, *, run_id: str | None = None, dataset_id: str | None = None
    ) -> list[RunDatasetRecord]:
        """Lineage rows of a run, or of a dataset (which runs used it), oldest first."""

    # environments. Names: 1-255 letters, digits, '-', '_' or '.', starting with a letter or
    # digit (ValidationError otherwise).
    def register_environment(
        self, workspace_id: str, name: str, *, definition: Mapping[str, Any], digest: str
    ) -> EnvironmentRecord:
        """The latest version of ``name`` when its digest is ``digest`` (nothing changed);
        else a new version (1 for a new name), numbered inside the store."""

    def get_environment(
        self, workspace_id: str, name: str, version: int | None = None
    ) -> EnvironmentRecord:
        """A version (the latest when ``version`` is None)."""

    def list_environments(
        self, workspace_id: str, name: str | None = None
    ) -> list[EnvironmentRecord]:
        """Versions (of one name, or of all), by name then newest first."""

    # compute targets. Names: 2-24 letters, digits or '-', starting with a letter
    # (ValidationError otherwise); 'local' is reserved.
    def create_compute(
        self, workspace_id: str, name: str, *, kind: str, config: Mapping[str, Any]
    ) -> ComputeRecord:
        """Add a compute target; AlreadyExistsError when the name is taken."""

    def get_compute(self, workspace_id: str, name: str) -> ComputeRecord: ...
    def list_computes(self, workspace_id: str) -> list[ComputeRecord]:
        """The workspace's compute targets, by name."""

    def delete_compute(self, workspace_id: str, name: str) -> None: ...

    # pipelines. Published pipelines, endpoints and schedules belong to one workspace; ids
    # are UUIDs given by the store. Names: 1-255 characters, not blank (ValidationError).
    def record_step_result(self, workspace_id: str, fingerprint: str, run_id: str) -> None:
        """Remember that the Completed step run ``run_id`` produced the step with
        ``fingerprint`` (the latest one recorded wins)."""

    def find_step_result(self, workspace_id: str, fingerprint: str) -> str | None:
        """The run recorded for ``fingerprint`` if it is still Completed, else None."""

    def create_published_pipeline(
        self,
        workspace_id: str,
        name: str,
        *,
        graph: Mapping[str, Any],
        description: str | None = None,
        version: str | None = None,
        continue_on_step_failure: bool = False,
    ) -> PublishedPipelineRecord: ...
    def get_published_pipeline(self, workspace_id: str, pipeline_id: str
                               ) -> PublishedPipelineRecord: ...
    def list_published_pipelines(self, workspace_id: str, active_only: bool = True
                                 ) -> list[PublishedPipelineRecord]:
        """Published pipelines, newest first (Disabled ones too unless ``active_only``)."""

    def set_published_pipeline_status(self, workspace_id: str, pipeline_id: str, status: str
                                      ) -> PublishedPipelineRecord:
        """``status`` is one of PIPELINE_STATES (ValidationError otherwise)."""

    def create_pipeline_endpoint(
        self, workspace_id: str, name: str, *, pipeline_id: str, description: str | None = None
    ) -> PipelineEndpointRecord:
        """A new endpoint whose version "0" (the default) is ``pipeline_id``;
        AlreadyExistsError when the name is taken; NotFoundError for an unknown pipeline."""

    def get_pipeline_endpoint(self, workspace_id: str, *, endpoint_id: str | None = None,
                              name: str | None = None) -> PipelineEndpointRecord:
        """By id or by name (exactly one of them; ValidationError otherwise)."""

    def list_pipeline_endpoints(self, workspace_id: str, active_only: bool = True
                                ) -> list[PipelineEndpointRecord]:
        """Endpoints, by name."""

    def add_pipeline_endpoint_version(self, workspace_id: str, endpoint_id: str,
                                      pipeline_id: str, *, make_default: bool = False
                                      ) -> PipelineEndpointRecord:
        """Append ``pipeline_id`` as the next version (a pipeline already there is not added
        twice); ``make_default`` makes that version the default."""

    def update_pipeline_endpoint(self, workspace_id: str, endpoint_id: str, *,
                                 default_version: str | None = None, status: str | None = None,
                                 description: str | None = None) -> PipelineEndpointRecord:
        """Change the default version (ValidationError for one that does not exist), the
        status, or the description; None leaves one as it is."""

    def create_schedule(
        self,
        workspace_id: str,
        name: str,
        *,
        pipeline_id: str,
        experiment_name: str,
        recurrence: Mapping[str, Any] | None = None,
        datastore: str | None = None,
        path_on_datastore: str | None = None,
        polling_interval: float = 5.0,
        data_path_parameter_name: str | None = None,
        pipeline_parameters: Mapping[str, Any] | None = None,
        description: str | None = None,
        next_fire_at: float | None = None,
    ) -> ScheduleRecord:
        """A new Active schedule of a published pipeline of the workspace (NotFoundError
        otherwise). Exactly one of ``recurrence`` and ``datastore`` (ValidationError)."""

    def get_schedule(self, workspace_id: str, schedule_id: str) -> ScheduleRecord: ...
    def list_schedules(self, workspace_id: str | None = None, *, pipeline_id: str | None = None,
                       active_only: bool = True) -> list[ScheduleRecord]:
        """Schedules (of one workspace, or of every workspace for the server's scheduler),
        newest first."""

    def update_schedule(self, workspace_id: str, schedule_id: str, *, status: str | None = None,
                        next_fire_at: float | None = None) -> ScheduleRecord:
        """Enable or disable a schedule, or move its next due time."""

    def claim_schedule_fire(self, schedule_id: str, *, expected_next_fire_at: float | None,
                            next_fire_at: float | None,
                            data_state: Mapping[str, Any] | None = None,
                            fired: bool = True) -> bool:
        """Compare-and-set: when the schedule is Active and its ``next_fire_at`` still equals
        ``expected_next_fire_at``, set ``next_fire_at`` (and ``data_state`` when given; and
        ``last_fired_at`` to now when ``fired``) and return True; else change nothing and
        return False. Of several scheduler processes, exactly one wins each due time."""

    def set_schedule_last_run(self, schedule_id: str, run_id: str) -> None:
        """Record the pipeline run the schedule's last firing submitted."""

    # web services. Names: 3-32 lowercase letters, digits or '-', starting with a letter and
    # not ending with '-' (azureml's rule; ValidationError otherwise).
    def create_service(
        self,
        workspace_id: str,
        name: str,
        *,
        kind: str,
        config: Mapping[str, Any],
        models: Sequence[str],
        inference: Mapping[str, Any],
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
        properties: Mapping[str, str] | None = None,
        overwrite: bool = False,
    ) -> ServiceRecord:
        """A new service in state Transitioning; AlreadyExistsError when the name is taken,
        unless ``overwrite`` (which replaces everything but ``created_at``)."""

    def get_service(self, workspace_id: str, name: str) -> ServiceRecord: ...
    def list_services(self, workspace_id: str | None = None) -> list[ServiceRecord]:
        """Services (of one workspace, or of every workspace for the server's supervisor),
        by name."""

    def update_service(
        self,
        workspace_id: str,
        name: str,
        *,
        state: str | None = None,
        config: Mapping[str, Any] | None = None,
        models: Sequence[str] | None = None,
        inference: Mapping[str, Any] | None = None,
        scoring_uri: str | None = None,
        swagger_uri: str | None = None,
        host: str | None = None,
        pid: int | None = None,
        error: Mapping[str, Any] | None = None,
        clear_error: bool = False,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
        properties: Mapping[str, str] | None = None,
    ) -> ServiceRecord:
        """Change what is given (None leaves a field as it is; ``clear_error`` removes the
        error); ``state`` must be one of SERVICE_STATES. Sets ``updated_at``."""

    def delete_service(self, workspace_id: str, name: str) -> None: ...

    # users, roles and tokens: who may use a server, with which role on each workspace.
    # Names are unique; unknown users, workspaces or tokens raise NotFoundError. Tokens are
    # given to the store as hashes (the server hashes what callers present).
    def create_user(
        self, name: str, kind: str = "user", secret_hash: str | None = None
    ) -> UserRecord:
        """Add a user or service principal; AlreadyExistsError when the name is taken."""

    def get_user(self, name: str) -> UserRecord: ...
    def list_users(self) -> list[UserRecord]:
        """Every user, by name."""

    def set_user_disabled(self, name: str, disabled: bool = True) -> UserRecord:
        """Disable (or enable again) a user: a disabled user's tokens stop working at once."""

    def set_role(self, user_name: str, workspace_id: str, role: str | None) -> None:
        """Give the user ``role`` (one of ``ROLES``) on the workspace, replacing any role it
        had there; ``None`` removes it. Deleting the workspace deletes its assignments."""

    def roles_of(self, user_name: str) -> dict[str, str]:
        """The user's roles: ``{workspace_id: role}``."""

    def create_token(
        self,
        user_name: str,
        token_hash: str,
        description: str | None = None,
        expires_at: float | None = None,
    ) -> TokenRecord:
        """Record a new token of the user, by its hash."""

    def find_token(self, token_hash: str) -> TokenMatch:
        """The token with that hash and its user, in one indexed lookup. NotFoundError when
        no token has the hash, or it was revoked or has expired. The caller checks
        ``user.disabled``."""

    def list_tokens(self, user_name: str | None = None) -> list[TokenRecord]:
        """Tokens (of one user, or of all), newest first, revoked and expired ones included."""

    def revoke_token(self, token_id: str) -> TokenRecord:
        """Revoke the token for good (revoking it again is a no-op)."""

    def touch_token(self, token_id: str, when: float | None = None) -> None:
        """Set the token's ``last_used_at`` (one UPDATE by primary key; callers throttle)."""

    def close(self) -> None: ...
