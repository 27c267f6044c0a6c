"""Column expressions for ``TabularDataset.filter``, as in azureml's ``dataset['Age'] > 50``.

An expression is a tree of JSON nodes, so it can be stored in a dataset definition:

* ``{"col": "Age"}``                              a column
* ``{"lit": 50}``, ``{"lit": [1, 2]}``            a literal (str, number, bool, None, list)
* ``{"lit": "2020-01-01T00:00:00", "type": "datetime"}``   a datetime literal
* ``{"op": "gt", "args": [<node>, <node>]}``      an operation (see ``OPERATORS``)

``column(name)`` starts one in Python; ``evaluate(node, table)`` computes its boolean mask
with ``pyarrow.compute``, where a null result counts as False.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from plinth.exceptions import ValidationError

__all__ = ["ColumnExpression", "column", "from_json", "evaluate", "OPERATORS"]

_COMPARISONS = {
    "gt": pc.greater,
    "ge": pc.greater_equal,
    "lt": pc.less,
    "le": pc.less_equal,
    "eq": pc.equal,
    "ne": pc.not_equal,
}
_STRING_TESTS = {
    "starts_with": lambda values, s: pc.starts_with(values, pattern=s),
    "ends_with": lambda values, s: pc.ends_with(values, pattern=s),
    "contains": lambda values, s: pc.match_substring(values, pattern=s),
}
#: Operation name -> number of arguments.
OPERATORS: dict[str, int] = {
    **dict.fromkeys(_COMPARISONS, 2),
    **dict.fromkeys(_STRING_TESTS, 2),
    "is_in": 2,
    "and": 2,
    "or": 2,
    "not": 1,
    "is_null": 1,
    "is_not_null": 1,
}


class ColumnExpression:
    """A column, a literal or a condition on columns; combine with ``& | ~`` and compare
    with ``> >= < <= == !=``."""

    __slots__ = ("_node",)

    def __init__(self, node: Mapping[str, Any]):
        self._node = dict(node)

    def to_json(self) -> dict[str, Any]:
        return _copy(self._node)

    def __repr__(self) -> str:
        return f"ColumnExpression({self._node!r})"

    def __bool__(self) -> bool:
        raise TypeError(
            "A column expression has no truth value: combine conditions with & (and), | (or) "
            "and ~ (not) rather than Python's and/or/not, with parentheses around each "
            "comparison, e.g. (column('Age') > 50) & (column('BMI') < 30)."
        )

    __hash__ = None  # type: ignore[assignment]  # == builds an expression, so no hashing

    def __gt__(self, other: Any) -> ColumnExpression:
        return _op("gt", self, other)

    def __ge__(self, other: Any) -> ColumnExpression:
        return _op("ge", self, other)

    def __lt__(self, other: Any) -> ColumnExpression:
        return _op("lt", self, other)

    def __le__(self, other: Any) -> ColumnExpression:
        return _op("le", self, other)

    def __eq__(self, other: Any) -> ColumnExpression:  # type: ignore[override]
        return _op("eq", self, other)

    def __ne__(self, other: Any) -> ColumnExpression:  # type: ignore[override]
        return _op("ne", self, other)

    def __and__(self, other: Any) -> ColumnExpression:
        return _op("and", self, other)

    def __rand__(self, other: Any) -> ColumnExpression:
        return _op("and", other, self)

    def __or__(self, other: Any) -> ColumnExpression:
        return _op("or", self, other)

    def __ror__(self, other: Any) -> ColumnExpression:
        return _op("or", other, self)

    def __invert__(self) -> ColumnExpression:
        return _op("not", self)

    def starts_with(self, prefix: str) -> ColumnExpression:
        return _op("starts_with", self, _string_argument("starts_with", prefix))

    def ends_with(self, suffix: str) -> ColumnExpression:
        return _op("ends_with", self, _string_argument("ends_with", suffix))

    def contains(self, substring: str) -> ColumnExpression:
        return _op("contains", self, _string_argument("contains", substring))

    def is_in(self, values: Any) -> ColumnExpression:
        if isinstance(values, str | bytes) or not hasattr(values, "__iter__"):
            raise ValidationError(
                f"is_in(values): values must be a list of values, not {values!r}."
            )
        literals = [_literal(v) for v in values]
        node: dict[str, Any] = {"lit": [lit["lit"] for lit in literals]}
        kinds = {lit.get("type") for lit in literals}
        if kinds == {"datetime"}:
            node["type"] = "datetime"
        elif len(kinds) > 1:
            raise ValidationError(f"is_in(values): mix no datetimes with other values: {values!r}.")
        return _op("is_in", self, ColumnExpression(node))

    def is_null(self) -> ColumnExpression:
        return _op("is_null", self)

    def is_not_null(self) -> ColumnExpression:
        return _op("is_not_null", self)


def column(name: str) -> ColumnExpression:
    """The column ``name``, to build a filter expression from."""
    if not isinstance(name, str) or not name:
        raise ValidationError(f"column(name): name must be a non-empty string, not {name!r}.")
    return ColumnExpression({"col": name})


def from_json(node: Mapping[str, Any]) -> ColumnExpression:
    """The expression a ``to_json()`` dict describes (validated)."""
    _validate(node)
    return ColumnExpression(node)


def evaluate(expression: Mapping[str, Any] | ColumnExpression, table: pa.Table) -> pa.Array:
    """The boolean mask of ``expression`` over ``table``'s rows; nulls become False."""
    node = expression.to_json() if isinstance(expression, ColumnExpression) else expression
    _validate(node)
    result = _evaluate(node, table)
    if isinstance(result, pa.Scalar):
        if not pa.types.is_boolean(result.type) and not pa.types.is_null(result.type):
            raise ValidationError(_not_a_condition(node, result.type))
        return pa.repeat(pa.scalar(bool(result.as_py())), table.num_rows)
    if not pa.types.is_boolean(result.type):
        raise ValidationError(_not_a_condition(node, result.type))
    mask = pc.fill_null(result, False)
    return mask.combine_chunks() if isinstance(mask, pa.ChunkedArray) else mask


def _op(name: str, *args: Any) -> ColumnExpression:
    return ColumnExpression({"op": name, "args": [_node(a) for a in args]})


def _node(value: Any) -> dict[str, Any]:
    if isinstance(value, ColumnExpression):
        return value.to_json()
    return _literal(value)


def _literal(value: Any) -> dict[str, Any]:
    if isinstance(value, dt.datetime | dt.date):
        if not isinstance(value, dt.datetime):
            value = dt.datetime(value.year, value.month, value.day)
        return {"lit": value.isoformat(), "type": "datetime"}
    if hasattr(value, "item") and not isinstance(value, list | tuple):
        value = value.item()  # numpy scalars
    if value is None or isinstance(value, str | bool | int | float):
        return {"lit": value}
    raise ValidationError(
        f"Cannot use {value!r} ({type(value).__name__}) in a filter expression: use a "
        "string, number, bool, None or datetime."
    )


def _string_argument(method: str, value: Any) -> ColumnExpression:
    if not isinstance(value, str):
        raise ValidationError(f"{method}(): the argument must be a string, not {value!r}.")
    return ColumnExpression({"lit": value})


def _copy(node: Any) -> Any:
    if isinstance(node, Mapping):
        return {k: _copy(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_copy(v) for v in node]
    return node


def _validate(node: Any) -> None:
    if not isinstance(node, Mapping):
        raise ValidationError(f"A filter expression node must be a dict, not {node!r}.")
    if "col" in node:
        if not isinstance(node["col"], str):
            raise ValidationError(f"A column node names a column by string, not {node!r}.")
        return
    if "lit" in node:
        if node.get("type") == "datetime":
            values = node["lit"] if isinstance(node["lit"], list) else [node["lit"]]
            for value in values:
                _parse_datetime(value)
        return
    name = node.get("op")
    if name not in OPERATORS:
        raise ValidationError(
            f"Unknown filter operation {name!r} in {node!r}; expected one of "
            f"{sorted(OPERATORS)}, or a {{'col': ...}} / {{'lit': ...}} node."
        )
    args = node.get("args")
    if not isinstance(args, list) or len(args) != OPERATORS[name]:
        raise ValidationError(
            f"Filter operation {name!r} takes {OPERATORS[name]} argument(s) in 'args', "
            f"got {args!r}."
        )
    for arg in args:
        _validate(arg)


def _parse_datetime(value: Any) -> dt.datetime:
    try:
        return dt.datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValidationError(
            f"Datetime literal {value!r} is not an ISO 8601 string such as '2020-01-31T12:00:00'."
        ) from None


def _not_a_condition(node: Mapping[str, Any], type_: pa.DataType) -> str:
    return (
        f"The filter expression {node!r} gives {type_} values, not True/False: use a "
        "comparison such as column('Age') > 50."
    )


def _evaluate(node: Mapping[str, Any], table: pa.Table) -> Any:
    if "col" in node:
        name = node["col"]
        if name not in table.column_names:
            raise ValidationError(
                f"The filter expression uses column {name!r}, which the dataset does not "
                f"have; its columns are {table.column_names}."
            )
        return table.column(name)
    if "lit" in node:
        return _scalar(node)
    name, args = node["op"], node["args"]
    if name in ("and", "or", "not"):
        values = [_boolean(_evaluate(a, table), name, a) for a in args]
        if name == "not":
            return pc.invert(values[0])
        return (pc.and_kleene if name == "and" else pc.or_kleene)(*values)
    if name == "is_null":
        return pc.is_null(_evaluate(args[0], table))
    if name == "is_not_null":
        return pc.is_valid(_evaluate(args[0], table))
    left = _evaluate(args[0], table)
    if name in _STRING_TESTS:
        pattern = args[1].get("lit")
        if not isinstance(pattern, str):
            raise ValidationError(f"{name}: the second argument must be a string literal.")
        if not pa.types.is_string(left.type) and not pa.types.is_large_string(left.type):
            raise ValidationError(
                f"{name}({pattern!r}) needs a string column, but {_describe(args[0])} is "
                f"{left.type}."
            )
        return _STRING_TESTS[name](left, pattern)
    if name == "is_in":
        values = args[1].get("lit")
        if not isinstance(values, list):
            raise ValidationError("is_in: the second argument must be a list literal.")
        return _is_in(left, values, args[1].get("type") == "datetime", args[0])
    right = _evaluate(args[1], table)
    left, right = _align_datetimes(left, right), _align_datetimes(right, left)
    try:
        return _COMPARISONS[name](left, right)
    except (pa.ArrowNotImplementedError, pa.ArrowInvalid, pa.ArrowTypeError):
        raise ValidationError(
            f"Cannot compare {_describe(args[0])} ({left.type}) with {_describe(args[1])} "
            f"({right.type}): compare a column with a value of its own type."
        ) from None


def _scalar(node: Mapping[str, Any]) -> pa.Scalar:
    value = node["lit"]
    if node.get("type") == "datetime":
        return pa.scalar(_parse_datetime(value))
    if isinstance(value, list):
        raise ValidationError(f"A list literal {value!r} can only be used with is_in.")
    return pa.scalar(value)


def _align_datetimes(value: Any, other: Any) -> Any:
    """A literal datetime in the other side's timestamp type (unit and time zone)."""
    if not isinstance(value, pa.Scalar) or not pa.types.is_timestamp(value.type):
        return value
    if not pa.types.is_timestamp(other.type):
        return value
    moment = value.as_py()
    if other.type.tz is None and moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
    elif other.type.tz is not None and moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)  # naive literals on zoned columns mean UTC
    return pa.scalar(moment, type=other.type)


def _is_in(values: Any, items: list[Any], datetimes: bool, arg: Mapping[str, Any]) -> Any:
    if datetimes:
        items = [_align_datetimes(pa.scalar(_parse_datetime(i)), values).as_py() for i in items]
    try:
        value_set = pa.array(items)
        if value_set.type != values.type and len(items):
            value_set = value_set.cast(values.type)
        return pc.is_in(values, value_set=value_set)
    except (pa.ArrowNotImplementedError, pa.ArrowInvalid, pa.ArrowTypeError):
        raise ValidationError(
            f"is_in: the values {items!r} do not all have the type of {_describe(arg)} "
            f"({values.type})."
        ) from None


def _boolean(value: Any, name: str, node: Mapping[str, Any]) -> Any:
    if not pa.types.is_boolean(value.type) and not pa.types.is_null(value.type):
        raise ValidationError(
            f"'{name}' combines conditions, but {_describe(node)} is {value.type}: use a "
            "comparison such as column('Age') > 50 on each side."
        )
    return value


def _describe(node: Mapping[str, Any]) -> str:
    if "col" in node:
        return f"column {node['col']!r}"
    if "lit" in node:
        return repr(node["lit"])
    return f"the {node['op']!r} expression"
