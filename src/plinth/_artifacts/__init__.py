"""Bytes of a workspace (run files, snapshots, model files) under one fsspec root."""

from plinth._artifacts.store import ArtifactStore, check_artifact_name

__all__ = ["ArtifactStore", "check_artifact_name"]
