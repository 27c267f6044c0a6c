"""The run ``Run.get_context()`` returns outside a submitted run.

It keeps what is logged in memory and prints it, so a training script written for a
submitted run also works with a plain ``python train.py``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from plinth._secrets import check_secret_name
from plinth._store import MetricPoint
from plinth._tracking import assemble_metrics
from plinth.exceptions import UserErrorException

__all__ = ["OfflineRun"]


class OfflineRun:
    id = "OfflineRun"
    number = 0
    display_name = "OfflineRun"
    type = "offline"
    parent = None
    experiment = None

    def __init__(self) -> None:
        self._points: list[MetricPoint] = []
        self._tags: dict[str, str] = {}
        self._properties: dict[str, str] = {}
        self._status = "Running"

    @property
    def input_datasets(self) -> dict[str, Any]:
        """An offline run has no inputs: the script reads its data some other way."""
        return {}

    def _log(self, name: str, value: Any, kind: str, step: int | None = None) -> None:
        self._points.append(MetricPoint(name, value, kind, step))
        print(f"Attempted to log {kind} metric {name}:\n{value}")

    def log(self, name: str, value: Any, description: str = "", step: int | None = None) -> None:
        self._log(name, value, "scalar", step)

    def log_list(self, name: str, value: Iterable[Any], description: str = "") -> None:
        self._log(name, list(value), "list")

    def log_row(self, name: str, description: str | None = None, **kwargs: Any) -> None:
        self._log(name, dict(kwargs), "row")

    def log_table(self, name: str, value: Mapping[str, Any], description: str = "") -> None:
        self._log(name, {k: list(v) for k, v in value.items()}, "table")

    def log_image(
        self, name: str, path: Any = None, plot: Any = None, description: str = ""
    ) -> None:
        self._log(name, str(path) if path is not None else "<plot>", "image")

    def log_confusion_matrix(self, name: str, value: Any, description: str = "") -> None:
        self._log(name, value, "json")

    log_accuracy_table = log_residuals = log_predictions = log_confusion_matrix

    def get_metrics(self, name: str | None = None, recursive: bool = False, **kwargs: Any):
        points = [p for p in self._points if name is None or p.name == name]
        return assemble_metrics(points)

    def tag(self, key: str, value: Any = None) -> None:
        self._tags[key] = "" if value is None else str(value)

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        self._tags.update({k: str(v) for k, v in tags.items()})

    def get_tags(self) -> dict[str, str]:
        return dict(self._tags)

    def add_properties(self, properties: Mapping[str, Any]) -> None:
        self._properties.update({k: str(v) for k, v in properties.items()})

    def get_properties(self) -> dict[str, str]:
        return dict(self._properties)

    def get_secret(self, name: str) -> str:
        """Offline, a secret is the environment variable of the same name."""
        check_secret_name(name, "name")
        value = os.environ.get(name)
        if value is None:
            raise UserErrorException(
                f"get_secret({name!r}): this script is not a submitted run, so secrets come "
                f"from environment variables, and {name!r} is not set. Set it, or submit the "
                "script (experiment.submit(ScriptRunConfig(...))) to read the workspace's "
                "key vault."
            )
        return value

    def get_secrets(self, secrets: Iterable[str]) -> dict[str, str | None]:
        """Offline: name -> the environment variable of that name (None when unset)."""
        if isinstance(secrets, str | bytes):
            raise UserErrorException(
                "secrets must be a list of secret names, got str; use get_secret(name)."
            )
        names = list(secrets)
        for name in names:
            check_secret_name(name, "an item of secrets")
        return {name: os.environ.get(name) for name in names}

    def upload_file(self, name: str, path_or_stream: Any, **kwargs: Any) -> None:
        """Offline, files are copied under ``./outputs``-style local names instead."""
        if isinstance(path_or_stream, (str, os.PathLike)) and Path(name) != Path(path_or_stream):
            Path(name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path_or_stream, name)

    def flush(self, *args: Any) -> None:
        pass

    def complete(self, *args: Any, **kwargs: Any) -> None:
        self._status = "Completed"

    def fail(self, *args: Any, **kwargs: Any) -> None:
        self._status = "Failed"

    def get_status(self) -> str:
        return self._status

    def __enter__(self) -> "OfflineRun":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.complete()

    def __repr__(self) -> str:
        return "OfflineRun"
