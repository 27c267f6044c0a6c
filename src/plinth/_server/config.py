"""What a server serves: one embedded workspace folder, or a database and an artifact root."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from plinth.exceptions import UserErrorException

__all__ = ["ServerConfig", "ENV_SERVER_CONFIG"]

ENV_SERVER_CONFIG = "PLINTH_SERVER_CONFIG"


@dataclass(frozen=True)
class ServerConfig:
    """``workspace`` (an embedded workspace folder) or ``backend_store_uri`` plus
    ``artifact_root`` (each workspace's files go under ``<artifact_root>/<name>``)."""

    workspace: str | None = None
    backend_store_uri: str | None = None
    artifact_root: str | None = None
    max_request_bytes: int = 32 * 1024 * 1024
    max_artifact_bytes: int = 50 * 1024**3
    auth: bool = True

    def __post_init__(self) -> None:
        if (self.workspace is None) == (self.backend_store_uri is None):
            raise UserErrorException(
                "Give the server either --workspace PATH (an embedded workspace) or "
                "--backend-store-uri URI with --artifact-root ROOT."
            )
        if self.backend_store_uri is not None and not self.artifact_root:
            raise UserErrorException(
                "--backend-store-uri needs --artifact-root (a folder or s3://bucket/prefix)."
            )
        if self.workspace is not None and not (Path(self.workspace) / "plinth.db").is_file():
            raise UserErrorException(
                f"--workspace {self.workspace} is not a workspace folder (no plinth.db); "
                "create one with `plinth workspace create NAME --path FOLDER`."
            )

    @property
    def metadata_uri(self) -> str:
        if self.backend_store_uri is not None:
            return self.backend_store_uri
        return f"sqlite:///{Path(self.workspace).resolve() / 'plinth.db'}"

    def artifact_root_of(self, workspace_name: str) -> str:
        if self.workspace is not None:
            return str(Path(self.workspace).resolve() / "artifacts")
        return f"{self.artifact_root.rstrip('/')}/{workspace_name}"

    def to_env(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_env(cls) -> "ServerConfig":
        raw = os.environ.get(ENV_SERVER_CONFIG)
        if not raw:
            raise UserErrorException(f"{ENV_SERVER_CONFIG} is not set; start `plinth server`.")
        return cls(**json.loads(raw))
