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
    "TERMINAL_STATUSES",
    "ExperimentRecord",
    "MetricPoint",
    "ModelRecord",
    "RunRecord",
    "RunStatus",
    "Store",
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


class Store(Protocol):
    """Persistence of workspaces, experiments, runs, metrics and model versions."""

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

    def close(self) -> None: ...
