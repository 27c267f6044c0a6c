"""Applying a dataset definition's transforms to a table or a file dataset's file names.

A transform is a JSON dict such as ``{"op": "take", "n": 5}``: ``TABLE_OPS`` holds those for
tabular datasets (take, skip, sampling and splits, column selection, filters with
``expressions``, timestamp columns and the time_* filters), ``FILE_OPS`` the ones that apply
to a file dataset's list of names. ``needs_rows`` says how many leading rows suffice, so
that a reader can stop early for a leading ``take(n)``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from plinth._data import expressions
from plinth._data.columns import convert_column
from plinth._data.tabular import _bool_option
from plinth.exceptions import ValidationError

__all__ = [
    "TABLE_OPS",
    "FILE_OPS",
    "apply_transforms",
    "apply_file_transforms",
    "needs_rows",
]


def apply_transforms(table: pa.Table, transforms: Sequence[Mapping[str, Any]]) -> pa.Table:
    """``table`` after each of ``transforms`` in order (see ``TABLE_OPS``)."""
    state: dict[str, str | None] = {"timestamp": None, "partition_timestamp": None}
    for spec in _transform_list(transforms):
        op = _op_name(spec, TABLE_OPS, "tabular")
        table = TABLE_OPS[op](table, spec, state)
    return table


def apply_file_transforms(names: list[str], transforms: Sequence[Mapping[str, Any]]) -> list[str]:
    """A file dataset's ``names`` after ``transforms`` (take, skip, take_sample, random_split)."""
    names = list(names)
    for spec in _transform_list(transforms):
        op = _op_name(spec, FILE_OPS, "file")
        names = FILE_OPS[op](names, spec)
    return names


def needs_rows(transforms: Sequence[Mapping[str, Any]]) -> int | None:
    """How many leading rows suffice for ``transforms`` (None: all of them): set when they
    start with take(n), after skips and column selections."""
    offset = 0
    for spec in _transform_list(transforms):
        op = spec.get("op")
        if op in ("keep_columns", "drop_columns", "with_timestamp_columns"):
            continue
        if op == "skip":
            offset += _count(spec, "n")
            continue
        if op == "take":
            return offset + _count(spec, "n")
        return None
    return None


def _transform_list(transforms: Any) -> list[Mapping[str, Any]]:
    if transforms is None:
        return []
    if isinstance(transforms, Mapping | str) or not isinstance(transforms, Sequence):
        raise ValidationError(f"transforms must be a list of dicts, not {transforms!r}.")
    for spec in transforms:
        if not isinstance(spec, Mapping):
            raise ValidationError(f"Each transform must be a dict with an 'op', not {spec!r}.")
    return list(transforms)


def _op_name(spec: Mapping[str, Any], ops: Mapping[str, Any], kind: str) -> str:
    op = spec.get("op")
    if op not in ops:
        raise ValidationError(
            f"Unknown transform {op!r} for a {kind} dataset in {dict(spec)!r}; expected one "
            f"of {sorted(ops)}."
        )
    return op


def _count(spec: Mapping[str, Any], key: str) -> int:
    value = spec.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValidationError(
            f"{spec.get('op')}: {key} must be a whole number >= 0, not {value!r}."
        )
    return value


def _fraction(spec: Mapping[str, Any], key: str) -> float:
    value = spec.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ValidationError(
            f"{spec.get('op')}: {key} must be a number from 0 to 1, not {value!r}."
        )
    return float(value)


def _seed(spec: Mapping[str, Any], required: bool = False) -> int | None:
    seed = spec.get("seed")
    if seed is None and required:
        raise ValidationError(
            f"{spec.get('op')}: seed must be set, so that every part comes from the same "
            "draw (pick one when the split is made)."
        )
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise ValidationError(f"{spec.get('op')}: seed must be a whole number >= 0 or None.")
    return seed


def _sample_mask(count: int, spec: Mapping[str, Any]) -> np.ndarray:
    probability = _fraction(spec, "probability")
    return np.random.default_rng(_seed(spec)).random(count) < probability


def _split_mask(count: int, spec: Mapping[str, Any]) -> np.ndarray:
    """Which of ``count`` rows are in the requested part; one draw per row for both parts."""
    percentage = _fraction(spec, "percentage")
    part = spec.get("part", 0)
    if part not in (0, 1) or isinstance(part, bool):
        raise ValidationError(f"random_split: part must be 0 or 1, not {part!r}.")
    first = np.random.default_rng(_seed(spec, required=True)).random(count) < percentage
    return first if part == 0 else ~first


def _columns(table: pa.Table, spec: Mapping[str, Any]) -> list[str]:
    columns = spec.get("columns")
    if isinstance(columns, str):
        columns = [columns]
    if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
        raise ValidationError(
            f"{spec.get('op')}: columns must be a column name or a list of them, not {columns!r}."
        )
    unknown = [c for c in columns if c not in table.column_names]
    if unknown:
        raise ValidationError(
            f"{spec.get('op')}: no column(s) {unknown}; the columns are {table.column_names}."
        )
    return columns


def _take(table: pa.Table, spec: Mapping[str, Any], state: dict) -> pa.Table:
    return table.slice(0, _count(spec, "n"))


def _skip(table: pa.Table, spec: Mapping[str, Any], state: dict) -> pa.Table:
    return table.slice(min(_count(spec, "n"), table.num_rows))


def _take_sample(table: pa.Table, spec: Mapping[str, Any], state: dict) -> pa.Table:
    return table.filter(pa.array(_sample_mask(table.num_rows, spec)))


def _random_split(table: pa.Table, spec: Mapping[str, Any], state: dict) -> pa.Table:
    return table.filter(pa.array(_split_mask(table.num_rows, spec)))


def _keep_columns(table: pa.Table, spec: Mapping[str, Any], state: dict) -> pa.Table:
    keep = set(_columns(table, spec))
    return table.select([c for c in table.column_names if c in keep])


def _drop_columns(table: pa.Table, spec: Mapping[str, Any], state: dict) -> pa.Table:
    return table.drop_columns(_columns(table, spec))


def _filter(table: pa.Table, spec: Mapping[str, Any], state: dict) -> pa.Table:
    return table.filter(expressions.evaluate(spec.get("expression"), table))


def _with_timestamp_columns(table: pa.Table, spec: Mapping[str, Any], state: dict) -> pa.Table:
    """Records the timestamp columns for the time_* transforms, as timestamps."""
    for key in ("timestamp", "partition_timestamp"):
        name = spec.get(key)
        if name is not None:
            if not isinstance(name, str) or name not in table.column_names:
                raise ValidationError(
                    f"with_timestamp_columns: {key}={name!r} is not a column; the columns "
                    f"are {table.column_names}."
                )
            i = table.column_names.index(name)
            table = table.set_column(i, name, convert_column(table[i], "datetime", name))
        state[key] = name
    return table


def _time_filter(table: pa.Table, state: dict, start: Any, end: Any, op: str, spec: Any) -> Any:
    name = state["timestamp"] or state["partition_timestamp"]
    if name is None:
        raise ValidationError(
            f"{op} needs a timestamp column: call with_timestamp_columns(timestamp=...) first."
        )
    inclusive = _bool_option(spec, "include_boundary", True)
    conditions = []
    for moment, bound in ((start, "ge" if inclusive else "gt"), (end, "le" if inclusive else "lt")):
        if moment is not None:
            literal = {"lit": _iso(moment, op), "type": "datetime"}
            conditions.append({"op": bound, "args": [{"col": name}, literal]})
    node = conditions[0] if len(conditions) == 1 else {"op": "and", "args": conditions}
    return table.filter(expressions.evaluate(node, table))


def _iso(value: Any, op: str) -> str:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    try:
        return dt.datetime.fromisoformat(value).isoformat()
    except (TypeError, ValueError):
        raise ValidationError(
            f"{op}: {value!r} is not a datetime or an ISO 8601 string such as "
            "'2020-01-31T00:00:00'."
        ) from None


def _time_between(table: pa.Table, spec: Mapping[str, Any], state: dict) -> pa.Table:
    if spec.get("start") is None or spec.get("end") is None:
        raise ValidationError("time_between: both start and end must be set.")
    return _time_filter(table, state, spec["start"], spec["end"], "time_between", spec)


def _time_before(table: pa.Table, spec: Mapping[str, Any], state: dict) -> pa.Table:
    if spec.get("end") is None:
        raise ValidationError("time_before: end must be set.")
    return _time_filter(table, state, None, spec["end"], "time_before", spec)


def _time_after(table: pa.Table, spec: Mapping[str, Any], state: dict) -> pa.Table:
    if spec.get("start") is None:
        raise ValidationError("time_after: start must be set.")
    return _time_filter(table, state, spec["start"], None, "time_after", spec)


def _time_recent(table: pa.Table, spec: Mapping[str, Any], state: dict) -> pa.Table:
    """Rows from the last ``seconds`` up to now (UTC, or ``now`` when given)."""
    seconds = spec.get("seconds")
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
        raise ValidationError(f"time_recent: seconds must be a number >= 0, not {seconds!r}.")
    now = spec.get("now")
    now = dt.datetime.fromisoformat(_iso(now, "time_recent")) if now else dt.datetime.now(dt.UTC)
    start = now - dt.timedelta(seconds=seconds)
    return _time_filter(table, state, start, None, "time_recent", spec)


TABLE_OPS: dict[str, Callable[[pa.Table, Mapping[str, Any], dict], pa.Table]] = {
    "take": _take,
    "skip": _skip,
    "take_sample": _take_sample,
    "random_split": _random_split,
    "keep_columns": _keep_columns,
    "drop_columns": _drop_columns,
    "filter": _filter,
    "with_timestamp_columns": _with_timestamp_columns,
    "time_between": _time_between,
    "time_before": _time_before,
    "time_after": _time_after,
    "time_recent": _time_recent,
}

FILE_OPS: dict[str, Callable[[list[str], Mapping[str, Any]], list[str]]] = {
    "take": lambda names, spec: names[: _count(spec, "n")],
    "skip": lambda names, spec: names[_count(spec, "n") :],
    "take_sample": lambda names, spec: _masked(names, _sample_mask(len(names), spec)),
    "random_split": lambda names, spec: _masked(names, _split_mask(len(names), spec)),
}


def _masked(names: list[str], mask: np.ndarray) -> list[str]:
    return [name for name, keep in zip(names, mask, strict=True) if keep]
