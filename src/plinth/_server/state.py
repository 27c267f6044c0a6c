"""Per-process server state: the store, artifact stores per workspace, lookups."""

from __future__ import annotations

import threading

from plinth._artifacts import ArtifactStore
from plinth._location import WorkspaceLocation, heartbeat_timeout
from plinth._server.config import ServerConfig
from plinth._store import ExperimentRecord, RunRecord, SqlStore, Store, WorkspaceRecord
from plinth.exceptions import NotFoundError

__all__ = ["ServerState"]


class ServerState:
    """Everything a request handler needs. Holds no per-request data: several server
    processes can share one database and one artifact root."""

    def __init__(self, config: ServerConfig, store: Store | None = None):
        self.config = config
        self.store: Store = store or SqlStore(
            config.metadata_uri, heartbeat_timeout=heartbeat_timeout()
        )
        self._artifacts: dict[str, ArtifactStore] = {}
        self._lock = threading.Lock()
        self._secret: bytes | None = None

    @property
    def secret(self) -> bytes:
        """The server secret that signs service principal tokens (see ``auth.server_secret``),
        read once per process."""
        if self._secret is None:
            from plinth._server.auth import server_secret

            self._secret = server_secret(self.config.metadata_uri)
        return self._secret

    def workspace(self, name: str) -> WorkspaceRecord:
        return self.store.get_workspace(name)

    def artifacts(self, workspace_name: str) -> ArtifactStore:
        with self._lock:
            arts = self._artifacts.get(workspace_name)
            if arts is None:
                arts = ArtifactStore(self.config.artifact_root_of(workspace_name))
                self._artifacts[workspace_name] = arts
            return arts

    def location(self, workspace_name: str) -> WorkspaceLocation:
        """Where the workspace lives, for processes the server starts (pipeline drivers)."""
        return WorkspaceLocation(workspace_name, self.config.metadata_uri,
                                 self.config.artifact_root_of(workspace_name))

    def location_of(self, workspace_id: str) -> WorkspaceLocation:
        for record in self.store.list_workspaces():
            if record.id == workspace_id:
                return self.location(record.name)
        raise NotFoundError(f"No workspace with id {workspace_id!r}.")

    def forget_artifacts(self, workspace_name: str) -> None:
        with self._lock:
            self._artifacts.pop(workspace_name, None)

    def experiment_in(self, workspace: WorkspaceRecord, experiment_id: str) -> ExperimentRecord:
        experiment = self.store.get_experiment_by_id(experiment_id)
        if experiment.workspace_id != workspace.id:
            raise NotFoundError(
                f"No experiment with id {experiment_id!r} in workspace {workspace.name!r}."
            )
        return experiment

    def run_in(self, workspace: WorkspaceRecord, run_id: str) -> RunRecord:
        run = self.store.get_run(run_id)
        experiment = self.store.get_experiment_by_id(run.experiment_id)
        if experiment.workspace_id != workspace.id:
            raise NotFoundError(f"No run with id {run_id!r} in workspace {workspace.name!r}.")
        return run
