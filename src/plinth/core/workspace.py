"""``Workspace``: the top-level place that holds experiments, runs and models."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING, Any

from plinth._location import WorkspaceLocation, plinth_home
from plinth._store import redact_uri
from plinth.exceptions import (
    AlreadyExistsError,
    NotFoundError,
    UserErrorException,
    WorkspaceException,
)

if TYPE_CHECKING:
    from plinth.core.keyvault import Keyvault

__all__ = ["Workspace"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{1,32}$")
CONFIG_FILE = "config.json"
CONFIG_FOLDERS = (".plinth", ".azureml")


class Workspace:
    """A workspace: metadata in a SQL store, files under an artifact root.

    ``Workspace.create('dev')`` makes an embedded workspace (SQLite and a folder) in
    ``~/.plinth/workspaces/dev``; pass ``path=`` to put it elsewhere, or ``metadata_uri=``
    (``postgresql+psycopg://...``) and ``artifact_root=`` for a team setup.
    """

    def __init__(
        self,
        subscription_id: str | None = None,
        resource_group: str | None = None,
        workspace_name: str | None = None,
        auth: Any = None,
        *,
        _location: WorkspaceLocation | None = None,
        **kwargs: Any,
    ):
        if _location is None:
            if not workspace_name:
                raise UserErrorException(
                    "workspace_name is required: Workspace(workspace_name='dev'), or use "
                    "Workspace.from_config() / Workspace.get(name)."
                )
            _location = _registered_location(workspace_name)
        if auth is not None:
            _location = _with_auth(_location, auth)
        folder = _location.folder
        if folder is not None and not (folder / "plinth.db").is_file():
            raise WorkspaceException(
                f"No workspace database at {folder / 'plinth.db'}; create the workspace with "
                f"`plinth workspace create {_location.name}` or Workspace.create()."
            )
        self._location = _location
        self._record = self._store.get_workspace(_location.name)

    # -- constructors --------------------------------------------------------------------

    @staticmethod
    def create(
        name: str,
        path: str | os.PathLike | None = None,
        exist_ok: bool = True,
        *,
        metadata_uri: str | None = None,
        artifact_root: str | None = None,
        server_url: str | None = None,
        auth: Any = None,
        show_output: bool = False,
        **cloud_kwargs: Any,
    ) -> "Workspace":
        """Create a workspace (or return the existing one when ``exist_ok``).

        With ``server_url=`` the workspace lives on a ``plinth server``, reached with ``auth``
        (see ``plinth.core.authentication``; default: ``PLINTH_TOKEN`` or ``plinth login``),
        and its creator becomes its Owner.

        Cloud arguments (``subscription_id``, ``resource_group``, ``location``, ``sku``, ...)
        are recorded in ``get_details()``; they change nothing locally.
        """
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise UserErrorException(
                f"name={name!r} is not a valid workspace name: use 2-33 letters, digits, '-' "
                "or '_', starting with a letter or digit."
            )
        if sum(x is not None for x in (path, metadata_uri, server_url)) > 1:
            raise UserErrorException(
                "Pass one of path= (an embedded workspace folder), metadata_uri= with "
                "artifact_root= (a database and a file root) or server_url= (a workspace "
                "server), not several."
            )
        if server_url:
            location = _with_auth(WorkspaceLocation(name, server_url=server_url.rstrip("/")), auth)
        elif metadata_uri:
            location = WorkspaceLocation(
                name,
                metadata_uri,
                str(artifact_root or plinth_home() / "artifacts" / name),
                {},
            )
        else:
            if artifact_root is not None:
                raise UserErrorException(
                    "artifact_root is only used with metadata_uri; an embedded workspace keeps "
                    "its files in its folder (pass path= to choose where)."
                )
            folder = Path(path) if path is not None else plinth_home() / "workspaces" / name
            location = WorkspaceLocation.embedded(name, folder)
        store = location.store()
        properties = {k: v for k, v in cloud_kwargs.items() if v is not None}
        try:
            store.create_workspace(name, properties)
        except AlreadyExistsError:
            if not exist_ok:
                raise AlreadyExistsError(
                    f"Workspace {name!r} already exists at {_where(location)}; "
                    "pass exist_ok=True to use it, or choose another name."
                ) from None
        location.artifacts()
        _register(location)
        ws = Workspace(_location=location)
        if show_output:
            print(f"Workspace {name!r} is ready at {_where(location)}.")
        return ws

    @staticmethod
    def get(name: str, auth: Any = None, subscription_id: str | None = None,
            resource_group: str | None = None, **kwargs: Any) -> "Workspace":
        """The workspace created earlier under ``name`` on this machine."""
        return Workspace(_location=_registered_location(name), auth=auth)

    @staticmethod
    def from_config(
        path: str | os.PathLike | None = None, auth: Any = None, _file_name: str | None = None
    ) -> "Workspace":
        """Open the workspace named by ``config.json`` (or ``.plinth/config.json``) in ``path``
        (default: the current folder) or any folder above it."""
        config = _find_config(Path(path) if path else Path.cwd(), _file_name or CONFIG_FILE)
        try:
            data = json.loads(config.read_text())
            location = WorkspaceLocation.from_dict(data)
        except (ValueError, KeyError, TypeError) as exc:
            raise WorkspaceException(
                f"{config} is not a Plinth workspace config ({exc}); recreate it with "
                "ws.write_config() or `plinth workspace create`."
            ) from None
        return Workspace(_location=location, auth=auth)

    @staticmethod
    def list(subscription_id: str | None = None, auth: Any = None,
             resource_group: str | None = None) -> dict[str, list["Workspace"]]:
        """Workspaces registered on this machine, by name (azureml's shape)."""
        found: dict[str, list[Workspace]] = {}
        registry = plinth_home() / "registry"
        for file in sorted(registry.glob("*.json")) if registry.is_dir() else []:
            try:
                location = WorkspaceLocation.from_dict(json.loads(file.read_text()))
                ws = Workspace(_location=location, auth=auth)
            except Exception:  # noqa: BLE001 - a stale entry must not hide the others
                continue
            found.setdefault(ws.name, []).append(ws)
        return found

    # -- properties ----------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._location.name

    @property
    def location(self) -> str:
        return str(self._record.properties.get("location", "local"))

    @property
    def subscription_id(self) -> str | None:
        return self._record.properties.get("subscription_id")

    @property
    def resource_group(self) -> str | None:
        return self._record.properties.get("resource_group")

    @property
    def experiments(self) -> dict[str, Any]:
        """Experiments by name."""
        from plinth.core.experiment import Experiment

        return {e.name: e for e in Experiment.list(self)}

    @property
    def models(self) -> dict[str, Any]:
        """The latest version of each registered model, by name."""
        from plinth.core.model import Model

        return {m.name: m for m in Model.list(self, latest=True)}

    @property
    def datastores(self) -> dict[str, Any]:
        """Datastores by name (the built-in ``workspaceblobstore`` and ``workspacefilestore``
        and every registered one)."""
        from plinth.core.datastore import Datastore

        return {r.name: Datastore._from_record(self, r)
                for r in self._store.list_datastores(self._id)}

    def get_default_datastore(self) -> Any:
        """The datastore used when none is named (``workspaceblobstore`` unless changed)."""
        from plinth.core.datastore import Datastore

        return Datastore._from_record(self, self._store.get_default_datastore(self._id))

    def set_default_datastore(self, name: str) -> None:
        from plinth.core.datastore import Datastore

        Datastore.get(self, name)  # a clear error naming the datastores there are
        self._store.set_default_datastore(self._id, name)

    @property
    def compute_targets(self) -> dict[str, Any]:
        """Compute targets by name."""
        from plinth.core.compute import ComputeTarget

        return {r.name: ComputeTarget._from_record(self, r)
                for r in self._store.list_computes(self._id)}

    @property
    def webservices(self) -> dict[str, Any]:
        """Deployed web services by name."""
        from plinth.core.webservice import Webservice

        return {s.name: s for s in Webservice.list(self)}

    @property
    def datasets(self) -> dict[str, Any]:
        """The latest version of each registered dataset, by name."""
        from plinth.core.dataset import Dataset

        return Dataset.get_all(self)

    @property
    def _store(self):
        return self._location.store()

    @property
    def _artifacts(self):
        return self._location.artifacts()

    @property
    def _id(self) -> str:
        return self._record.id

    def get_details(self) -> dict[str, Any]:
        folder = self._location.folder
        return {
            "id": self._record.id,
            "name": self.name,
            "location": self.location,
            "creationTime": _iso(self._record.created_at),
            "metadataUri": redact_uri(self._location.metadata_uri) or None,
            "artifactRoot": self._location.artifact_root or None,
            "serverUrl": self._location.server_url,
            "workspaceFolder": str(folder) if folder else None,
            **{k: v for k, v in self._record.properties.items()},
        }

    def write_config(self, path: str | os.PathLike | None = None,
                     file_name: str | None = None) -> Path:
        """Write the config that ``Workspace.from_config()`` reads.

        Default: ``./.plinth/config.json``; with ``path``, ``<path>/config.json``.
        """
        folder = Path(path) if path is not None else Path.cwd() / ".plinth"
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / (file_name or CONFIG_FILE)
        target.write_text(_config_json(self._location))
        return target

    def delete(self, delete_dependent_resources: bool = False, no_wait: bool = False) -> None:
        """Delete the workspace's metadata and files. This cannot be undone."""
        self._store.delete_workspace(self.name)
        self._artifacts.delete_root()
        folder = self._location.folder
        self._location.forget()
        if folder is not None and folder.exists():
            shutil.rmtree(folder, ignore_errors=True)
        entry = _registry_file(self.name)
        if entry.exists():
            entry.unlink()

    def get_default_keyvault(self) -> "Keyvault":
        """The workspace's key vault: secrets set here are read in runs with
        ``run.get_secret(name)``."""
        from plinth.core.keyvault import Keyvault

        return Keyvault(self)

    def get_mlflow_tracking_uri(self) -> str:
        """The URI to give ``mlflow.set_tracking_uri``: MLflow then logs into this workspace.

        ``plinth://<name>?path=<folder>`` for an embedded workspace, ``plinth://<name>`` (found
        through this machine's workspace registry) for one on PostgreSQL: no server is needed.
        For a workspace on a server, ``<server_url>/ws/<name>``, the server's MLflow REST API
        (MLflow sends the token in ``MLFLOW_TRACKING_TOKEN``).
        """
        if self._location.server_url:
            return f"{self._location.server_url.rstrip('/')}/ws/{self._location.name}"
        from plinth._mlflow.uri import tracking_uri

        return tracking_uri(self._location)

    def __repr__(self) -> str:
        return f"Workspace.create(name={self.name!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Workspace) and other._location == self._location

    def __hash__(self) -> int:
        return hash((self._location.name, self._location.metadata_uri))


def _with_auth(location: WorkspaceLocation, auth: Any) -> WorkspaceLocation:
    """The location reached with ``auth`` (which only a server workspace uses)."""
    if auth is None:
        return location
    if not hasattr(auth, "_header_for"):
        raise UserErrorException(
            f"auth={type(auth).__name__} is not a Plinth credential: use one of "
            "plinth.core.authentication (InteractiveLoginAuthentication, "
            "ServicePrincipalAuthentication, TokenAuthentication)."
        )
    return dataclasses.replace(location, auth=auth) if location.server_url else location


def _iso(ts: float) -> str:
    from datetime import datetime

    return datetime.fromtimestamp(ts, tz=UTC).isoformat()


def _where(location: WorkspaceLocation) -> str:
    return str(location.folder or location.server_url or redact_uri(location.metadata_uri))


def _config_json(location: WorkspaceLocation) -> str:
    return json.dumps(location.to_config(), indent=2) + "\n"


def _registry_file(name: str) -> Path:
    return plinth_home() / "registry" / f"{name}.json"


def _register(location: WorkspaceLocation) -> None:
    entry = _registry_file(location.name)
    entry.parent.mkdir(parents=True, exist_ok=True)
    entry.write_text(_config_json(location))


def _registered_location(name: str) -> WorkspaceLocation:
    entry = _registry_file(name)
    if not entry.exists():
        raise NotFoundError(
            f"No workspace named {name!r} on this machine; create it with "
            f"Workspace.create({name!r}) or `plinth workspace create {name}`."
        )
    return WorkspaceLocation.from_dict(json.loads(entry.read_text()))


def _find_config(start: Path, file_name: str) -> Path:
    start = start.expanduser().resolve()
    if start.is_file():
        return start
    if not start.exists():
        raise WorkspaceException(
            f"{start} does not exist; pass the folder that holds config.json (or the file "
            "itself), or create one with `plinth workspace create NAME`."
        )
    for folder in (start, *start.parents):
        for candidate in (folder / file_name, *(folder / d / file_name for d in CONFIG_FOLDERS)):
            if candidate.is_file():
                return candidate
    raise WorkspaceException(
        f"No {file_name} found in {start} or any folder above it. Create a workspace and its "
        "config with `plinth workspace create NAME` (or ws.write_config() in Python)."
    )
