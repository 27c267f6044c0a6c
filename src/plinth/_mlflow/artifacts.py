"""The MLflow artifact repository for ``plinth:`` URIs: a run's files in the workspace's
artifact root, read and written through Plinth's ``ArtifactStore``.

A run's ``artifact_uri`` is ``plinth://<workspace>/runs/<run_id>[?path=...]`` (see
``plinth._mlflow.uri``), so ``mlflow.log_artifact("model.pkl", "outputs")`` writes
``runs/<run_id>/outputs/model.pkl``: the file ``run.get_file_names()`` lists as
``outputs/model.pkl``. MLflow finds this module through the ``mlflow.artifact_repository``
entry point ``plinth`` -> :func:`artifact_repository`.
"""

from __future__ import annotations

import os
import posixpath
from typing import Any

from mlflow.entities import FileInfo
from mlflow.store.artifact.artifact_repo import ArtifactRepository

from plinth._artifacts import check_artifact_name
from plinth._mlflow import uri as plinth_uri
from plinth._mlflow.errors import mlflow_errors
from plinth.exceptions import ValidationError

__all__ = ["PlinthArtifactRepository", "artifact_repository"]


def artifact_repository(artifact_uri: str, tracking_uri: str | None = None,
                        registry_uri: str | None = None, **_: Any) -> PlinthArtifactRepository:
    """The ``mlflow.artifact_repository`` entry point for the ``plinth`` scheme."""
    return PlinthArtifactRepository(artifact_uri, tracking_uri, registry_uri)


class PlinthArtifactRepository(ArtifactRepository):
    """The files under one ``runs/<run_id>[/...]`` prefix of a workspace's artifact root."""

    def __init__(self, artifact_uri: str, tracking_uri: str | None = None,
                 registry_uri: str | None = None):
        super().__init__(artifact_uri, tracking_uri, registry_uri)
        with mlflow_errors():
            parsed = plinth_uri.parse(artifact_uri)
            prefix = parsed.artifact_name
            if parsed.name is None or not (prefix == "runs" or prefix.startswith("runs/")):
                raise ValidationError(
                    f"{artifact_uri!r} is not a Plinth artifact URI: those name a run's files, "
                    "plinth://<workspace>/runs/<run_id>[/<path>]."
                )
            self._prefix = check_artifact_name(prefix, "artifact_uri")
            self._files = plinth_uri.resolve(parsed).artifacts()

    def _name(self, path: str | None) -> str:
        if not path or path.strip("/") in ("", "."):
            return self._prefix
        return f"{self._prefix}/{check_artifact_name(path, 'artifact_path')}"

    def log_artifact(self, local_file, artifact_path=None):
        with mlflow_errors():
            target = self._name(posixpath.join(artifact_path or "", os.path.basename(local_file)))
            self._files.put_file(target, local_file)

    def log_artifacts(self, local_dir, artifact_path=None):
        with mlflow_errors():
            self._files.put_tree(self._name(artifact_path), local_dir)

    def list_artifacts(self, path=None):
        """The files and folders directly under ``path`` (nothing when it is a file)."""
        with mlflow_errors():
            base = self._name(path)
            names = self._files.list(base)
            if names == [base]:
                return []  # a file, as MLflow's repositories answer
            rel_base = base[len(self._prefix) + 1:] if base != self._prefix else ""
            entries: dict[str, FileInfo] = {}
            for name in names:
                first, _, rest = name[len(base) + 1:].partition("/")
                rel = posixpath.join(rel_base, first) if rel_base else first
                if rel in entries:
                    continue
                if rest:
                    entries[rel] = FileInfo(rel, True, None)
                else:
                    entries[rel] = FileInfo(rel, False, self._files.size(name))
            return sorted(entries.values(), key=lambda f: f.path)

    def _download_file(self, remote_file_path, local_path):
        with mlflow_errors():
            self._files.get_file(self._name(remote_file_path), local_path)

    def delete_artifacts(self, artifact_path=None):
        with mlflow_errors():
            self._files.delete(self._name(artifact_path))
