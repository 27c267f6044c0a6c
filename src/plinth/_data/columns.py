"""Column types of a tabular dataset and converting columns to them.

A type is ``"string" | "long" | "float" | "bool" | "datetime"`` (or an alias such as
``"int"``), or ``{"type": "datetime", "formats": ["%Y-%m-%d", ...]}`` with strptime formats;
``convert_column`` converts a pyarrow column to one (text is trimmed first, blanks become
nulls) and raises ValidationError naming the column and the first value that does not fit.
Used for a delimited format's ``set_column_types`` and by the timestamp transforms.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from plinth.exceptions import ValidationError

__all__ = ["COLUMN_TYPES", "convert_column"]

COLUMN_TYPES = ("string", "long", "float", "bool", "datetime")
_TYPE_ALIASES = {
    "str": "string",
    "int": "long",
    "integer": "long",
    "int64": "long",
    "double": "float",
    "float64": "float",
    "decimal": "float",
    "boolean": "bool",
    "date": "datetime",
    "timestamp": "datetime",
}
_TRUE = ["true", "1", "yes"]
_FALSE = ["false", "0", "no"]
_INTEGER = r"^[+-]?\d+$"
_FLOAT = r"(?i)^[+-]?((\d+\.?\d*|\.\d+)(e[+-]?\d+)?|inf|infinity|nan)$"
_DATETIME_FORMATS = [
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y",
    "%d.%m.%Y",
]


def _type_spec(spec: Any, column: Any) -> tuple[str, list[str] | None]:
    """``(type, formats)`` from ``"long"`` or ``{"type": "datetime", "formats": [...]}``."""
    formats = None
    name = spec
    if isinstance(spec, Mapping):
        name = spec.get("type")
        formats = spec.get("formats")
        if formats is not None and (
            not isinstance(formats, list) or not all(isinstance(f, str) for f in formats)
        ):
            raise ValidationError(
                f"Column {column!r}: 'formats' must be a list of strptime formats such as "
                f"['%Y-%m-%d'], not {formats!r}."
            )
    if isinstance(name, str):
        name = _TYPE_ALIASES.get(name.lower(), name.lower())
    if name not in COLUMN_TYPES:
        raise ValidationError(
            f"Column {column!r}: unknown column type {spec!r}; use one of {list(COLUMN_TYPES)} "
            "or {'type': 'datetime', 'formats': [...]}."
        )
    return name, formats


def convert_column(
    values: pa.ChunkedArray | pa.Array, spec: Any, column: str, where: str = ""
) -> pa.ChunkedArray | pa.Array:
    """``values`` as type ``spec``; ValidationError naming the column and a bad value."""
    kind, formats = spec if isinstance(spec, tuple) else _type_spec(spec, column)
    text = pa.types.is_string(values.type) or pa.types.is_large_string(values.type)
    context = (column, kind, where)
    if kind == "string":
        return values if text else _cast(values, pa.string(), context)
    if text:
        values = _blank_to_null(pc.utf8_trim_whitespace(values))
    if kind == "long":
        if text:
            _check(values, pc.invert(pc.match_substring_regex(values, _INTEGER)), context)
        return _cast(values, pa.int64(), context)
    if kind == "float":
        if text:
            _check(values, pc.invert(pc.match_substring_regex(values, _FLOAT)), context)
        return _cast(values, pa.float64(), context)
    if kind == "bool":
        return _to_bool(values, context) if text else _cast(values, pa.bool_(), context)
    return _to_datetime(values, formats, context)


def _blank_to_null(values: Any) -> Any:
    return pc.if_else(pc.equal(values, ""), pa.scalar(None, values.type), values)


def _cast(values: Any, type_: pa.DataType, context: tuple[str, str, str]) -> Any:
    if values.type == type_:
        return values
    try:
        return pc.cast(values, type_)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        column, kind, where = context
        raise ValidationError(
            f"Column {column!r}{_in(where)} ({values.type}) cannot be converted to {kind}: "
            f"{exc}. Choose another type in set_column_types."
        ) from None


def _check(values: Any, bad: Any, context: tuple[str, str, str]) -> None:
    """Raise when ``bad`` marks any value, quoting the first."""
    bad = pc.fill_null(bad, False)
    count = pc.sum(bad).as_py() or 0
    if not count:
        return
    column, kind, where = context
    row = pc.index(bad, True).as_py()
    raise ValidationError(
        f"Column {column!r}{_in(where)} cannot be converted to {kind}: value "
        f"{values[row].as_py()!r} in data row {row + 1} ({count} such value(s) in all). "
        f"Fix the data, or set a different type (e.g. 'string') for {column!r} in "
        "set_column_types."
    )


def _in(where: str) -> str:
    return f" in {where}" if where else ""


def _to_bool(values: Any, context: tuple[str, str, str]) -> Any:
    lower = pc.utf8_lower(values)
    true = pc.is_in(lower, value_set=pa.array(_TRUE))
    false = pc.is_in(lower, value_set=pa.array(_FALSE))
    _check(values, pc.and_(pc.is_valid(lower), pc.invert(pc.or_(true, false))), context)
    return pc.if_else(pc.is_null(lower), pa.scalar(None, pa.bool_()), true)


def _to_datetime(values: Any, formats: list[str] | None, context: tuple[str, str, str]) -> Any:
    if pa.types.is_timestamp(values.type):
        return values
    if pa.types.is_date(values.type):
        return _cast(values, pa.timestamp("us"), context)
    if not pa.types.is_string(values.type) and not pa.types.is_large_string(values.type):
        column, kind, where = context
        raise ValidationError(
            f"Column {column!r}{_in(where)} holds {values.type} values, which cannot be "
            "converted to datetime; only text and dates can."
        )
    if not formats:
        # ISO 8601 (with fractions of a second and time zones) first: the common case.
        for type_ in (pa.timestamp("us"), pa.timestamp("us", tz="UTC")):
            try:
                return pc.cast(values, type_)
            except pa.ArrowInvalid:
                pass
    formats = formats or _DATETIME_FORMATS
    parsed = [pc.strptime(values, f, "us", error_is_null=True) for f in formats]
    result = pc.coalesce(*parsed) if len(parsed) > 1 else parsed[0]
    _check(values, pc.and_(pc.is_valid(values), pc.is_null(result)), context)
    return result
