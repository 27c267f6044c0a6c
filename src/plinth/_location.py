"""Where a workspace lives: its metadata URI and artifact root, and opening them.

A ``WorkspaceLocation`` is what ``config.json`` holds and what a launched run receives in
``PLINTH_WORKSPACE``; opened stores are cached per process, since opening one runs a schema
check and builds a connection pool.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import asdict, dataclass, field
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
    name: str
    metadata_uri: str
    artifact_root: str
    properties: dict[str, Any] = field(default_factory=dict)

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
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "WorkspaceLocation":
        return cls(
            name=data["workspace_name"] if "workspace_name" in data else data["name"],
            metadata_uri=data["metadata_uri"],
            artifact_root=data["artifact_root"],
            properties=dict(data.get("properties") or {}),
        )

    @classmethod
    def from_env(cls) -> "WorkspaceLocation | None":
        raw = os.environ.get(ENV_WORKSPACE)
        return cls.from_dict(json.loads(raw)) if raw else None

    def store(self) -> Store:
        with _lock:
            store = _stores.get(self.metadata_uri)
            if store is None:
                if self.folder is not None:
                    self.folder.mkdir(parents=True, exist_ok=True)
                store = SqlStore(self.metadata_uri, heartbeat_timeout=heartbeat_timeout())
                _stores[self.metadata_uri] = store
            return store

    def artifacts(self) -> ArtifactStore:
        with _lock:
            arts = _artifacts.get(self.artifact_root)
            if arts is None:
                arts = _artifacts[self.artifact_root] = ArtifactStore(self.artifact_root)
            return arts

    def forget(self) -> None:
        """Close and drop the cached store of this location (after deleting it)."""
        with _lock:
            store = _stores.pop(self.metadata_uri, None)
            _artifacts.pop(self.artifact_root, None)
        if store is not None:
            store.close()


def _after_fork_in_child() -> None:
    # A forked child must not use the parent's pooled connections (and its lock may have
    # been held by another thread at fork time).
    global _lock
    _lock = threading.Lock()
    for store in _stores.values():
        after_fork = getattr(store, "after_fork", None)
        if after_fork is not None:
            after_fork()


os.register_at_fork(after_in_child=_after_fork_in_child)
