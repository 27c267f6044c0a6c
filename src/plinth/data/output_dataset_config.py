"""``OutputFileDatasetConfig``: a step's output folder that later steps read as a dataset."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from plinth.data._ports import Port, check_port_name
from plinth.exceptions import UserErrorException

__all__ = ["OutputFileDatasetConfig", "OutputTabularDatasetConfig"]

OUTPUT_DATASET_PATH = "dataset/{run-id}/{output-name}"


class OutputFileDatasetConfig(Port):
    """A folder the step writes (as an argument: its local path) that is copied to
    ``destination`` — ``(datastore, 'path')``, where the path may hold ``{run-id}`` and
    ``{output-name}``; by default ``dataset/{run-id}/{output-name}`` on the workspace's
    default datastore — when the step succeeds. Later steps read it with ``as_input()``
    (a file dataset, mounted) or ``read_delimited_files().as_input()`` (a tabular dataset);
    ``register_on_complete(name)`` registers it as a dataset version when the step completes.
    """

    def __init__(self, name: str | None = None, destination: Any = None, source: str | None = None,
                 partition_format: str | None = None):
        if partition_format is not None:
            raise UserErrorException("partition_format is not supported; leave it out.")
        self.name = check_port_name(name) if name is not None else f"output_{uuid.uuid4().hex[:8]}"
        self.datastore, self.path = _destination(destination)
        self.source = source
        self.mode = "mount"
        self._is_input = False
        self._data_id = uuid.uuid4().hex
        self._producers: list[Any] = []
        self._register: dict[str, Any] | None = None
        self._dataset_kind = "file"
        self._format: dict[str, Any] | None = None

    @property
    def destination(self) -> tuple[Any, str] | None:
        return (self.datastore, self.path) if self.datastore is not None else None

    # -- how the producing step writes it ----------------------------------------------------

    def as_mount(self, disable_metadata_cache: bool = False) -> "OutputFileDatasetConfig":
        return self._copy(mode="mount")

    def as_upload(self, overwrite: bool = False, source_globs: Any = None
                  ) -> "OutputFileDatasetConfig":
        if source_globs is not None:
            raise UserErrorException("source_globs is not supported; write only what to upload.")
        return self._copy(mode="upload")

    # -- how consuming steps read it ---------------------------------------------------------

    def as_input(self, name: str | None = None) -> "OutputFileDatasetConfig":
        """Read by a later step as a dataset input called ``name`` (default: this output's
        name), mounted: ``run.input_datasets[name]`` and the argument are its local folder."""
        return self._copy(_input_name=name and check_port_name(name), _input_mode="mount",
                          _is_input=True)

    def as_download(self, name: str | None = None) -> "OutputFileDatasetConfig":
        return self._copy(_input_name=name and check_port_name(name), _input_mode="download",
                          _is_input=True)

    def read_delimited_files(self, include_path: bool = False, separator: str = ",",
                             header: Any = True, partition_format: str | None = None,
                             path_glob: str | None = None,
                             set_column_types: Mapping[str, Any] | None = None
                             ) -> "OutputTabularDatasetConfig":
        """Read by later steps as a tabular dataset of the CSV files it holds."""
        from plinth.data.dataset_factory import delimited_format

        if include_path or partition_format:
            raise UserErrorException("include_path and partition_format are not supported.")
        fmt = delimited_format(separator=separator, header=header,
                               set_column_types=set_column_types)
        return OutputTabularDatasetConfig(self, fmt, path_glob)

    def read_parquet_files(self, include_path: bool = False, partition_format: str | None = None,
                           path_glob: str | None = None,
                           set_column_types: Mapping[str, Any] | None = None
                           ) -> "OutputTabularDatasetConfig":
        from plinth.data.dataset_factory import _column_types

        if include_path or partition_format:
            raise UserErrorException("include_path and partition_format are not supported.")
        fmt = {"format": "parquet", "set_column_types": _column_types(set_column_types)}
        return OutputTabularDatasetConfig(self, fmt, path_glob)

    def register_on_complete(self, name: str, description: str | None = None,
                             tags: Mapping[str, str] | None = None) -> "OutputFileDatasetConfig":
        """Register the output as a new version of dataset ``name`` when the step completes."""
        return self._copy(_register=_registration(name, description, tags))

    # -- what the pipeline needs ---------------------------------------------------------------

    def _input_port(self) -> dict[str, Any]:
        return {**super()._input_port(), "dataset_kind": self._dataset_kind,
                "format": self._format}

    def _output_port(self) -> dict[str, Any]:
        register = None
        if self._register is not None:
            register = {**self._register, "dataset_kind": self._dataset_kind,
                        "format": self._format}
        return {"data_id": self._data_id, "name": self.name, "kind": "output_dataset",
                "datastore": self.datastore.name if self.datastore is not None else None,
                "path": self.path or OUTPUT_DATASET_PATH, "path_on_compute": self.source,
                "register": register}

    def __repr__(self) -> str:
        where = f"{self.datastore.name}/{self.path}" if self.datastore is not None else "default"
        return f"OutputFileDatasetConfig(name={self.name!r}, destination={where!r})"


class OutputTabularDatasetConfig(OutputFileDatasetConfig):
    """An ``OutputFileDatasetConfig`` read as a tabular dataset (``read_delimited_files``)."""

    def __init__(self, output: OutputFileDatasetConfig, fmt: dict[str, Any],
                 path_glob: str | None):
        self.__dict__.update(output.__dict__)
        self._dataset_kind = "tabular"
        self._format = {**fmt, "path_glob": path_glob}
        self._input_mode = "direct"

    def as_input(self, name: str | None = None) -> "OutputTabularDatasetConfig":
        """Read by a later step as ``run.input_datasets[name]``, a TabularDataset (as an
        argument: its id)."""
        return self._copy(_input_name=name and check_port_name(name), _input_mode="direct",
                          _is_input=True)

    def as_mount(self, disable_metadata_cache: bool = False) -> "OutputTabularDatasetConfig":
        return self._copy(mode="mount")


def _destination(destination: Any) -> tuple[Any, str | None]:
    if destination is None:
        return None, None
    if (isinstance(destination, tuple) and len(destination) == 2
            and hasattr(destination[0], "datastore_type") and isinstance(destination[1], str)):
        path = destination[1].replace("\\", "/").strip("/")
        if not path:
            raise UserErrorException("destination: the path on the datastore must not be empty.")
        return destination[0], path
    raise UserErrorException(
        "destination must be (datastore, 'path/on/datastore'), e.g. "
        "(ws.get_default_datastore(), 'prepped/{run-id}'), got "
        f"{destination!r}."
    )


def _registration(name: Any, description: Any, tags: Any) -> dict[str, Any]:
    if not isinstance(name, str) or not name.strip():
        raise UserErrorException(f"register_on_complete: name={name!r} must be a non-empty str.")
    if tags is not None and not isinstance(tags, Mapping):
        raise UserErrorException("register_on_complete: tags must be a dict of str to str.")
    return {"name": name, "description": description,
            "tags": {str(k): str(v) for k, v in (tags or {}).items()}}
