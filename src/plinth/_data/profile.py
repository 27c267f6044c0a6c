"""Per-column statistics of a table, for ``TabularDataset.get_profile()``."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["profile_table", "type_name"]


def type_name(type_: pa.DataType) -> str:
    """azureml's name for a column type: string, long, float, bool or datetime (else
    pyarrow's own name, e.g. ``list<item: int64>``)."""
    if pa.types.is_dictionary(type_):
        return type_name(type_.value_type)
    if pa.types.is_string(type_) or pa.types.is_large_string(type_):
        return "string"
    if pa.types.is_integer(type_):
        return "long"
    if pa.types.is_floating(type_) or pa.types.is_decimal(type_):
        return "float"
    if pa.types.is_boolean(type_):
        return "bool"
    if pa.types.is_timestamp(type_) or pa.types.is_date(type_):
        return "datetime"
    return str(type_)


def profile_table(table: pa.Table) -> dict[str, dict[str, Any]]:
    """``{column: {"type", "count", "missing", "distinct", ...}}`` for every column.

    ``missing`` counts nulls, NaNs and empty strings; ``distinct`` counts the other values'
    distinct ones. Numeric columns add ``min``, ``max``, ``mean`` and ``std`` (sample, as
    pandas'), datetime columns ``min`` and ``max`` as ISO strings; None where no value is.
    """
    return {name: _profile(table.column(name), table.num_rows) for name in table.column_names}


def _profile(values: pa.ChunkedArray, rows: int) -> dict[str, Any]:
    if pa.types.is_dictionary(values.type):
        values = values.cast(values.type.value_type)
    kind = type_name(values.type)
    missing = values.null_count
    if kind == "string":
        missing += _count_true(pc.equal(values, ""))
        present = pc.filter(values, pc.not_equal(values, ""))
    elif kind == "float":
        values = values.cast(pa.float64()) if pa.types.is_decimal(values.type) else values
        nan = pc.is_nan(values)
        missing += _count_true(nan)
        present = pc.filter(values, pc.invert(nan))  # NaN counts as missing, as in pandas
    else:
        present = values
    profile: dict[str, Any] = {
        "type": kind,
        "count": rows,
        "missing": missing,
        "distinct": _int(pc.count_distinct(present, mode="only_valid")),
    }
    if kind in ("long", "float"):
        extremes = pc.min_max(present)
        profile.update(
            min=_json(extremes["min"].as_py()),
            max=_json(extremes["max"].as_py()),
            mean=_float(pc.mean(present)),
            std=_float(pc.stddev(present, ddof=1)),
        )
    elif kind == "datetime":
        extremes = pc.min_max(present)
        profile.update(min=_json(extremes["min"].as_py()), max=_json(extremes["max"].as_py()))
    return profile


def _count_true(mask: Any) -> int:
    return _int(pc.sum(mask))


def _int(scalar: pa.Scalar) -> int:
    return int(scalar.as_py() or 0)


def _float(scalar: pa.Scalar) -> float | None:
    value = scalar.as_py()
    return None if value is None else float(value)


def _json(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value
