"""Where a workspace lives: its metadata URI and artifact root, and opening them.

A ``WorkspaceLocation`` is what ``config.json`` holds and what a launched run receives in
``PLINTH_WORKSPACE``; opened stores are cached per process, since opening one runs a schema
check and builds a connection pool.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from plinth._artifacts import ArtifactStore
from plinth._store import SqlStore, Store

__all__ = [
    "WorkspaceLocation",
    "plinth_home",
    "heartbeat_interval",
    "heartbeat_timeout",
    "ENV_WORKSPACE",
    "ENV_RUN_ID",
]

ENV_WORKSPACE = "PLINTH_WORKSPACE"
ENV_RUN_ID = "PLINTH_RUN_ID"
ENV_HOME = "PLINTH_HOME"

_stores: dict[str, Store] = {}
_artifacts: dict[str, ArtifactStore] = {}
_lock = threading.Lock()


def plinth_home() -> Path:
    """Per-user folder for workspaces created without a path and the name registry."""
    return Path(os.environ.get(ENV_HOME) or Path.home() / ".plinth")


def heartbeat_interval() -> float:
    return float(os.environ.get("PLINTH_HEARTBEAT_INTERVAL", "5"))


def heartbeat_timeout() -> float:
    return float(os.environ.get("PLINTH_HEARTBEAT_TIMEOUT", "60"))


@dataclass(frozen=True)
class WorkspaceLocation:
    """An embedded or database-backed workspace (``metadata_uri`` + ``artifact_root``), or
    one served by a workspace server (``server_url``), reached with the credential ``auth``
    (a ``plinth.core.authentication`` object; None: the default chain of
    ``plinth._api.credentials``). ``auth`` is never serialized nor compared."""

    name: str
    metadata_uri: str = ""
    artifact_root: str = ""
    properties: dict[str, Any] = field(default_factory=dict)
    server_url: str | None = None
    auth: Any = field(default=None, compare=False, repr=False)

    @classmethod
    def embedded(cls, name: str, folder: Path, properties: dict[str, Any] | None = None):
        folder = folder.expanduser().resolve()
        return cls(
            name, f"sqlite:///{folder / 'plinth.db'}", str(folder / "artifacts"), properties or {}
        )

    @property
    def folder(self) -> Path | None:
        """The workspace folder of an embedded workspace, else None."""
        prefix = "sqlite:///"
        if self.metadata_uri.startswith(prefix):
            return Path(self.metadata_uri[len(prefix) :]).parent
        return None

    def to_json(self) -> str:
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "auth"}
        return json.dumps(data)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "WorkspaceLocation":
        name = data["workspace_name"] if "workspace_name" in data else data["name"]
        if data.get("server_url"):
            return cls(name, server_url=data["server_url"].rstrip("/"))
        return cls(
            name=name,
            metadata_uri=data["metadata_uri"],
            artifact_root=data["artifact_root"],
            properties=dict(data.get("properties") or {}),
        )

    def to_config(self) -> dict[str, Any]:
        """What ``config.json`` holds for this workspace."""
        if self.server_url:
            return {"workspace_name": self.name, "server_url": self.server_url}
        return {"workspace_name": self.name, "metadata_uri": self.metadata_uri,
                "artifact_root": self.artifact_root}

    def _key(self) -> str:
        if not self.server_url:
            return self.metadata_uri
        return f"{self.server_url}#{self.name}" + (f"#{id(self.auth)}" if self.auth else "")

    def _artifacts_key(self) -> str:
        return self._key() if self.server_url else self.artifact_root

    def credential_env(self) -> dict[str, str | None]:
        """Environment changes (None: remove the variable) that give a process started for
        this workspace, such as a run's worker, the credential to reach its server."""
        if not self.server_url:
            return {}
        if self.auth is not None:
            return self.auth._worker_env(self.server_url)
        from plinth._api.credentials import default_worker_env

        return default_worker_env(self.server_url)

    @classmethod
    def from_env(cls) -> "WorkspaceLocation | None":
        raw = os.environ.get(ENV_WORKSPACE)
        return cls.from_dict(json.loads(raw)) if raw else None

    def store(self) -> Store:
        with _lock:
            store = _stores.get(self._key())
            if store is None:
                if self.server_url:
                    from plinth._store.rest import RestStore

                    store = RestStore(_client(self.server_url, self.auth), self.name,
                                      heartbeat_timeout=heartbeat_timeout())
                else:
                    if self.folder is not None:
                        self.folder.mkdir(parents=True, exist_ok=True)
                    store = SqlStore(self.metadata_uri, heartbeat_timeout=heartbeat_timeout())
                _stores[self._key()] = store
            return store

    def artifacts(self) -> Any:
        """The workspace's ``ArtifactStore`` (or its server-backed twin)."""
        key = self._artifacts_key()
        with _lock:
            arts = _artifacts.get(key)
            if arts is None:
                if self.server_url:
                    from plinth._artifacts.rest import RestArtifactStore

                    arts = RestArtifactStore(_client(self.server_url, self.auth), self.name)
                else:
                    arts = ArtifactStore(self.artifact_root)
                _artifacts[key] = arts
            return arts

    def forget(self) -> None:
        """Drop the cached store of this location (after deleting it)."""
        key = self._artifacts_key()
        with _lock:
            store = _stores.pop(self._key(), None)
            _artifacts.pop(key, None)
        if store is not None and not self.server_url:
            store.close()


_clients: dict[tuple[str, int], Any] = {}


def _client(server_url: str, auth: Any = None) -> Any:
    """One HTTP client per server and credential, shared by its stores (called with ``_lock``
    held). Headers are computed per request, so refreshed tokens are picked up."""
    key = (server_url, id(auth) if auth is not None else 0)
    client = _clients.get(key)
    if client is None:
        from plinth._api.client import ApiClient
        from plinth._api.credentials import default_headers

        if auth is not None:
            def headers() -> Any:
                return auth._header_for(server_url)
        else:
            def headers() -> Any:
                return default_headers(server_url)

        client = _clients[key] = ApiClient(server_url, headers=headers)
        client._auth = auth  # keeps ``auth`` alive, so its id() is not reused while cached
    return client


def _after_fork_in_child() -> None:
    # A forked child must not use the parent's pooled connections (and its lock may have
    # been held by another thread at fork time).
    global _lock
    _lock = threading.Lock()
    # HTTP clients' connections belong to the parent; servers' stores start over.
    _clients.clear()
    for key in [k for k in _stores if "#" in k]:
        del _stores[key]
    for key in [k for k in _artifacts if "#" in k]:
        del _artifacts[key]
    for store in _stores.values():
        after_fork = getattr(store, "after_fork", None)
        if after_fork is not None:
            after_fork()


os.register_at_fork(after_in_child=_after_fork_in_child)
