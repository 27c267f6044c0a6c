"""``DataPath``: a path in a datastore, usable as a dataset source or a pipeline input."""

from __future__ import annotations

from typing import Any

from plinth.data.data_reference import DataReference

__all__ = ["DataPath", "DataPathComputeBinding"]


class DataPathComputeBinding:
    """How a ``DataPath`` reaches a run: ``mount``, ``download`` or ``upload``."""

    def __init__(self, mode: str = "mount", path_on_compute: str | None = None,
                 overwrite: bool = False):
        self.mode, self.path_on_compute, self.overwrite = mode, path_on_compute, overwrite


class DataPath:
    def __init__(self, datastore: Any = None, path_on_datastore: str | None = None,
                 name: str | None = None):
        self.datastore = datastore
        self.path_on_datastore = path_on_datastore
        self.name = name

    def create_data_reference(self, data_reference_name: str | None = None,
                              datapath_compute_binding: DataPathComputeBinding | None = None,
                              ) -> DataReference:
        binding = datapath_compute_binding or DataPathComputeBinding()
        return DataReference(self.datastore, data_reference_name or self.name,
                             self.path_on_datastore, binding.mode, binding.path_on_compute,
                             binding.overwrite)

    def _source(self) -> tuple[Any, str]:
        return self.datastore, self.path_on_datastore or ""

    def __repr__(self) -> str:
        return f"DataPath({self.datastore.name!r}, {self.path_on_datastore!r})"
