"""``DataReference``: a datastore path handed to a run, downloaded, mounted or uploaded."""

from __future__ import annotations

import re
import uuid
from typing import Any

from plinth.exceptions import UserErrorException

__all__ = ["DataReference"]

MODES = ("mount", "download", "upload")
_NAME = re.compile(r"[^A-Za-z0-9_]")


class DataReference:
    """A path in a datastore and how a run gets it: ``mount`` (read in place, or through a
    local cache where the storage is not on the run's machine), ``download`` (copied in
    before the script starts) or ``upload`` (a folder the script fills, copied to the
    datastore after it ends). As an argument it becomes the local path."""

    def __init__(self, datastore: Any, data_reference_name: str | None = None,
                 path_on_datastore: str | None = None, mode: str = "mount",
                 path_on_compute: str | None = None, overwrite: bool = False):
        if mode not in MODES:
            raise UserErrorException(f"mode={mode!r} must be one of {', '.join(MODES)}.")
        self.datastore = datastore
        self.path_on_datastore = (path_on_datastore or "").replace("\\", "/").strip("/") or None
        self.data_reference_name = data_reference_name or _default_name(
            datastore.name, self.path_on_datastore)
        self.mode = mode
        self.path_on_compute = path_on_compute
        self.overwrite = overwrite

    def _with(self, mode: str, path_on_compute: str | None, overwrite: bool) -> "DataReference":
        return DataReference(self.datastore, self.data_reference_name, self.path_on_datastore,
                             mode, path_on_compute, overwrite)

    def as_download(self, path_on_compute: str | None = None,
                    overwrite: bool = False) -> "DataReference":
        return self._with("download", path_on_compute, overwrite)

    def as_upload(self, path_on_compute: str | None = None,
                  overwrite: bool = False) -> "DataReference":
        return self._with("upload", path_on_compute, overwrite)

    def as_mount(self) -> "DataReference":
        return self._with("mount", self.path_on_compute, self.overwrite)

    def path(self, path: str | None = None, data_reference_name: str | None = None
             ) -> "DataReference":
        """A reference to ``path`` below this one."""
        joined = "/".join(p for p in (self.path_on_datastore, (path or "").strip("/")) if p)
        return DataReference(self.datastore, data_reference_name, joined or None, self.mode,
                             self.path_on_compute, self.overwrite)

    def _input_spec(self) -> dict[str, Any]:
        """What the run's worker needs to bind this reference (see plinth._execution.inputs)."""
        return {
            "name": self.data_reference_name,
            "kind": "datastore_path",
            "datastore": self.datastore.name,
            "path": self.path_on_datastore or "",
            "mode": self.mode,
            "path_on_compute": self.path_on_compute,
            "overwrite": self.overwrite,
        }

    def __str__(self) -> str:
        return f"$AZUREML_DATAREFERENCE_{self.data_reference_name}"

    def __repr__(self) -> str:
        return (f"DataReference(datastore={self.datastore.name!r}, "
                f"path_on_datastore={self.path_on_datastore!r}, mode={self.mode!r}, "
                f"path_on_compute={self.path_on_compute!r})")


def _default_name(datastore: str, path: str | None) -> str:
    tail = _NAME.sub("_", path or "")[-40:].strip("_")
    return f"{datastore}_{tail}" if tail else f"{datastore}_{uuid.uuid4().hex[:8]}"
