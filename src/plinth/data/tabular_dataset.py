"""``TabularDataset``: rows and columns read from delimited, Parquet, JSON-lines or SQL
sources; transformations are lazy and recorded in the definition."""

from __future__ import annotations

import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from plinth.data.abstract_dataset import AbstractDataset, _names
from plinth.exceptions import UserErrorException

__all__ = ["TabularDataset"]


class TabularDataset(AbstractDataset):
    _kind = "tabular"

    # -- reading ---------------------------------------------------------------------------

    def _table(self):
        from plinth._data import sql, tabular
        from plinth._data.transforms import apply_transforms, needs_rows

        fmt = self._definition["format"]
        transforms = self._transforms()
        if fmt.get("format") == "sql":
            table = sql.read_sql(self._sql_url(fmt["datastore"]), fmt["query"])
        else:
            files = [(f.files, f.name) for f in self._resolved()]
            table = tabular.read_files(files, fmt, limit=needs_rows(transforms))
        return apply_transforms(table, transforms)

    def _sql_url(self, datastore_name: str) -> str:
        from plinth._data.filesystems import sql_url

        ws = self._workspace
        return sql_url(ws._location, ws._store.get_datastore(ws._id, datastore_name))

    def to_pandas_dataframe(self, on_error: str = "null",
                            out_of_range_datetime: str = "null") -> Any:
        """The data as a pandas DataFrame (read with pyarrow, several files at once)."""
        return self._table().to_pandas()

    def to_arrow_table(self) -> Any:
        return self._table()

    def get_profile(self, workspace: Any = None, compute_target: Any = None) -> dict[str, Any]:
        """Per column: type, count, missing, distinct, and min/max/mean/std where numeric."""
        from plinth._data.profile import profile_table

        return profile_table(self._table())

    def to_parquet_files(self) -> Any:
        """The rows written as Parquet files to the default datastore, as a FileDataset."""
        return self._write("parquet")

    def to_csv_files(self, separator: str = ",") -> Any:
        """The rows written as CSV files to the default datastore, as a FileDataset."""
        return self._write("csv")

    def _write(self, fmt: str) -> Any:
        import uuid

        from plinth._data import tabular
        from plinth.data.file_dataset import FileDataset

        ws = self._require_workspace(f"to_{fmt}_files")
        store = ws.get_default_datastore()
        target = f"converted/{uuid.uuid4().hex}"
        with tempfile.TemporaryDirectory(prefix="plinth-convert-") as tmp:
            tabular.write_table(self._table(), Path(tmp), fmt)
            store.upload(tmp, target, show_progress=False)
        return FileDataset._create(ws, {"sources": [{"datastore": store.name,
                                                      "path": f"{target}/*.{fmt}"}]})

    def _require_workspace(self, what: str) -> Any:
        if self._workspace is None:
            raise UserErrorException(
                f"{what}() writes to a workspace datastore; this dataset has no workspace "
                "(it reads URLs or local files). Register it first."
            )
        return self._workspace

    # -- column and time transformations (each returns a new, unregistered dataset) ----------

    def keep_columns(self, columns: list[str] | str, validate: bool = False
                     ) -> "TabularDataset":
        return self._derive({"op": "keep_columns", "columns": _names(columns, "columns")})

    def drop_columns(self, columns: list[str] | str) -> "TabularDataset":
        return self._derive({"op": "drop_columns", "columns": _names(columns, "columns")})

    def filter(self, expression: Any) -> "TabularDataset":
        """Rows where ``expression`` holds: ``ds.filter(ds['Age'] > 50)``."""
        to_json = getattr(expression, "to_json", None)
        if to_json is None:
            raise UserErrorException(
                "filter() takes an expression on columns, e.g. ds.filter(ds['Age'] > 50)."
            )
        return self._derive({"op": "filter", "expression": to_json()})

    def __getitem__(self, column: str) -> Any:
        from plinth._data.expressions import column as expression_column

        return expression_column(column)

    def with_timestamp_columns(self, timestamp: str | None = None,
                               partition_timestamp: str | None = None,
                               validate: bool = False) -> "TabularDataset":
        return self._derive({"op": "with_timestamp_columns", "timestamp": timestamp,
                             "partition_timestamp": partition_timestamp})

    def time_between(self, start_time: datetime, end_time: datetime,
                     include_boundary: bool = True, validate: bool = True) -> "TabularDataset":
        return self._derive({"op": "time_between", "start": start_time.isoformat(),
                             "end": end_time.isoformat()})

    def time_before(self, end_time: datetime, include_boundary: bool = True,
                    validate: bool = True) -> "TabularDataset":
        return self._derive({"op": "time_before", "end": end_time.isoformat()})

    def time_after(self, start_time: datetime, include_boundary: bool = True,
                   validate: bool = True) -> "TabularDataset":
        return self._derive({"op": "time_after", "start": start_time.isoformat()})

    def time_recent(self, time_delta: Any, include_boundary: bool = True,
                    validate: bool = True) -> "TabularDataset":
        seconds = time_delta.total_seconds() if hasattr(time_delta, "total_seconds") else time_delta
        return self._derive({"op": "time_recent", "seconds": float(seconds)})

    @property
    def timestamp_columns(self) -> tuple[str | None, str | None]:
        for op in reversed(self._transforms()):
            if op["op"] == "with_timestamp_columns":
                return op.get("timestamp"), op.get("partition_timestamp")
        return None, None

