"""``Dataset.Tabular`` and ``Dataset.File``: datasets from paths, URLs or SQL queries."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from plinth.data.abstract_dataset import sources_from_path
from plinth.data.file_dataset import FileDataset
from plinth.data.tabular_dataset import TabularDataset
from plinth.exceptions import UserErrorException

__all__ = ["DataType", "FileDatasetFactory", "TabularDatasetFactory"]

ENCODINGS = ("utf8", "iso88591", "latin1", "ascii", "utf16", "windows1252")


class DataType:
    """Column types for ``set_column_types={'Age': DataType.to_long()}``."""

    def __init__(self, spec: Any):
        self._spec = spec

    @staticmethod
    def to_string() -> "DataType":
        return DataType("string")

    @staticmethod
    def to_long() -> "DataType":
        return DataType("long")

    @staticmethod
    def to_float(decimal_mark: str = ".") -> "DataType":
        return DataType("float")

    @staticmethod
    def to_bool() -> "DataType":
        return DataType("bool")

    @staticmethod
    def to_datetime(formats: str | list[str] | None = None) -> "DataType":
        if formats is None:
            return DataType("datetime")
        return DataType({"type": "datetime",
                         "formats": [formats] if isinstance(formats, str) else list(formats)})

    def __repr__(self) -> str:
        return f"DataType({self._spec!r})"


def _column_types(set_column_types: Mapping[str, Any] | None) -> dict[str, Any]:
    if not set_column_types:
        return {}
    if not isinstance(set_column_types, Mapping):
        raise UserErrorException(
            "set_column_types must be a dict such as {'Age': DataType.to_long()}."
        )
    types = {}
    for column, kind in set_column_types.items():
        if isinstance(kind, str):
            kind = DataType(kind)
        if not isinstance(kind, DataType):
            raise UserErrorException(
                f"set_column_types[{column!r}] must be a DataType, e.g. DataType.to_float()."
            )
        types[str(column)] = kind._spec
    return types


def _unsupported(**options: Any) -> None:
    for name, value in options.items():
        if value:
            raise UserErrorException(f"{name}={value!r} is not supported; leave it out.")


def _tabular(path: Any, fmt: dict[str, Any], validate: bool) -> TabularDataset:
    workspace, sources = sources_from_path(path)
    dataset = TabularDataset._create(workspace, {"sources": sources, "format": fmt})
    if validate:
        dataset._resolved()
    return dataset


def delimited_format(*, separator: str = ",", header: Any = True, encoding: str = "utf8",
                     infer_column_types: bool = True,
                     set_column_types: Mapping[str, Any] | None = None,
                     support_multi_line: bool = False, empty_as_null: bool = True
                     ) -> dict[str, Any]:
    """The checked ``format`` of a delimited-files tabular dataset."""
    if not isinstance(separator, str) or len(separator) != 1:
        raise UserErrorException(f"separator must be one character, got {separator!r}.")
    if encoding not in ENCODINGS:
        raise UserErrorException(
            f"encoding={encoding!r} is not one of {', '.join(ENCODINGS)}."
        )
    fmt = {"format": "delimited", "separator": separator, "header": _header(header),
           "encoding": encoding, "infer_column_types": bool(infer_column_types),
           "set_column_types": _column_types(set_column_types),
           "support_multi_line": bool(support_multi_line),
           "empty_as_null": bool(empty_as_null)}
    return fmt


class TabularDatasetFactory:
    @staticmethod
    def from_delimited_files(path: Any, validate: bool = True, include_path: bool = False,
                             infer_column_types: bool = True,
                             set_column_types: Mapping[str, Any] | None = None,
                             separator: str = ",", header: Any = True,
                             partition_format: str | None = None,
                             support_multi_line: bool = False, empty_as_null: bool = True,
                             encoding: str = "utf8") -> TabularDataset:
        """Rows of CSV (or other delimited) files; ``path`` may use ``*`` and ``**``."""
        _unsupported(include_path=include_path, partition_format=partition_format)
        fmt = delimited_format(separator=separator, header=header, encoding=encoding,
                               infer_column_types=infer_column_types,
                               set_column_types=set_column_types,
                               support_multi_line=support_multi_line,
                               empty_as_null=empty_as_null)
        return _tabular(path, fmt, validate)

    @staticmethod
    def from_parquet_files(path: Any, validate: bool = True, include_path: bool = False,
                           set_column_types: Mapping[str, Any] | None = None,
                           partition_format: str | None = None) -> TabularDataset:
        _unsupported(include_path=include_path, partition_format=partition_format)
        fmt = {"format": "parquet", "set_column_types": _column_types(set_column_types)}
        return _tabular(path, fmt, validate)

    @staticmethod
    def from_json_lines_files(path: Any, validate: bool = True, include_path: bool = False,
                              set_column_types: Mapping[str, Any] | None = None,
                              partition_format: str | None = None,
                              invalid_lines: str = "error",
                              encoding: str = "utf8") -> TabularDataset:
        _unsupported(include_path=include_path, partition_format=partition_format)
        if invalid_lines != "error":
            raise UserErrorException("invalid_lines must be 'error' (the only mode supported).")
        fmt = {"format": "json_lines", "encoding": encoding,
               "set_column_types": _column_types(set_column_types)}
        return _tabular(path, fmt, validate)

    @staticmethod
    def register_pandas_dataframe(dataframe: Any, target: Any, name: str,
                                  description: str | None = None,
                                  tags: Mapping[str, Any] | None = None,
                                  show_progress: bool = True) -> TabularDataset:
        """Upload ``dataframe`` as a Parquet file under ``target`` (a datastore, a
        ``(datastore, 'folder')`` tuple or a DataPath) and register it as the next version of
        ``name``."""
        import tempfile
        import uuid
        from pathlib import Path

        import pandas as pd

        from plinth.data.datapath import DataPath

        if not isinstance(dataframe, pd.DataFrame):
            raise UserErrorException(
                f"dataframe must be a pandas DataFrame, got {type(dataframe).__name__}.")
        if isinstance(target, DataPath):
            target = target._source()
        datastore, folder = target if isinstance(target, tuple) else (target, "")
        if not hasattr(datastore, "upload_files"):
            raise UserErrorException(
                "target must be a datastore, (datastore, 'folder') or a DataPath, got "
                f"{type(datastore).__name__}.")
        folder = f"{str(folder).strip('/')}/{name}-{uuid.uuid4().hex[:12]}".strip("/")
        with tempfile.TemporaryDirectory() as temp:
            file = Path(temp) / "data.parquet"
            dataframe.to_parquet(file, index=False)
            datastore.upload_files([str(file)], target_path=folder, overwrite=True,
                                   show_progress=show_progress)
        dataset = TabularDatasetFactory.from_parquet_files((datastore, f"{folder}/data.parquet"))
        return dataset.register(datastore.workspace, name, description=description, tags=tags,
                                create_new_version=True)

    @staticmethod
    def from_sql_query(query: Any, validate: bool = True,
                       set_column_types: Mapping[str, Any] | None = None,
                       query_timeout: int = 30) -> TabularDataset:
        """Rows of a query on a SQL datastore: ``query=(sql_datastore, 'SELECT ...')`` or a
        DataPath of them."""
        from plinth.data.datapath import DataPath

        if isinstance(query, DataPath):
            query = query._source()
        if not (isinstance(query, tuple) and len(query) == 2
                and getattr(query[0], "datastore_type", None) == "AzurePostgreSql"):
            raise UserErrorException(
                "query must be (sql_datastore, 'SELECT ...') with a datastore registered by "
                "Datastore.register_azure_postgre_sql()."
            )
        datastore, sql = query
        fmt = {"format": "sql", "datastore": datastore.name, "query": str(sql),
               "set_column_types": _column_types(set_column_types)}
        dataset = TabularDataset._create(datastore.workspace, {"sources": [], "format": fmt})
        if validate:
            dataset.take(1)._table()
        return dataset


class FileDatasetFactory:
    @staticmethod
    def from_files(path: Any, validate: bool = True, partition_format: str | None = None,
                   is_file: bool = False) -> FileDataset:
        """The files a path, glob, URL, or list of them names."""
        _unsupported(partition_format=partition_format)
        workspace, sources = sources_from_path(path)
        dataset = FileDataset._create(workspace, {"sources": sources})
        if validate:
            dataset._resolved()
        return dataset


def _header(header: Any) -> bool:
    if isinstance(header, bool):
        return header
    # azureml's PromoteHeadersBehavior: 0 = no headers, anything else = a header row.
    value = getattr(header, "value", header)
    if isinstance(value, int):
        return value != 0
    raise UserErrorException(f"header must be True or False, got {header!r}.")
