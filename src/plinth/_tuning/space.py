"""Parameter spaces: validation, enumeration and random draws.

A *space* maps a parameter name (``'--learning_rate'`` or ``'learning_rate'``) to an
*expression* in azureml's JSON-able list form, e.g. ``["choice", [[16, 32]]]`` or
``["uniform", [0.0, 1.0]]``. Every function here takes a space :func:`check_space` accepts
and returns plain Python values (``int``, ``float``, ``str``, ``bool``, ``None``), never numpy
types, so points can be stored as JSON and passed on a command line.

Semantics follow azureml's ``parameter_expressions`` (hyperopt's):

* ``randint(upper)``: an ``int`` in ``[0, upper)``.
* ``loguniform(min, max)``: ``exp(uniform(min, max))``; ``min`` and ``max`` are exponents.
* ``q*`` forms: ``round(x / q) * q`` (round half to even, as numpy). The result may fall just
  outside ``[min, max]`` when a bound is not a multiple of ``q``, as in azureml. With an
  integer ``q`` the value is an ``int``; with a float ``q`` it is a float without binary noise
  (``quniform(0, 1, 0.1)`` gives ``0.3``, not ``0.30000000000000004``).
"""

from __future__ import annotations

import itertools
import math
import numbers
import random
from collections.abc import Iterable, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any

from plinth.exceptions import UserErrorException

__all__ = [
    "ARGUMENTS",
    "check_expression",
    "check_space",
    "contains",
    "expression",
    "grid_points",
    "is_finite",
    "iter_points",
    "multiple_of",
    "point_key",
    "require_kinds",
    "sample",
    "sample_value",
    "size",
    "step_range",
    "value_key",
    "values",
]

ARGUMENTS: dict[str, tuple[str, ...]] = {
    "choice": ("options",),
    "randint": ("upper",),
    "uniform": ("min_value", "max_value"),
    "quniform": ("min_value", "max_value", "q"),
    "loguniform": ("min_value", "max_value"),
    "qloguniform": ("min_value", "max_value", "q"),
    "normal": ("mu", "sigma"),
    "qnormal": ("mu", "sigma", "q"),
    "lognormal": ("mu", "sigma"),
    "qlognormal": ("mu", "sigma", "q"),
}
"""Each expression kind and the names of its arguments, in order."""

_FINITE_KINDS = frozenset({"choice", "randint", "quniform", "qloguniform"})


# --- validation ----------------------------------------------------------------------------


def _fail(where: str, message: str) -> UserErrorException:
    return UserErrorException(f"{where}: {message}")


def _number(value: Any, where: str, arg: str) -> int | float:
    """A finite real number as a plain ``int`` or ``float`` (numpy scalars are converted)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise _fail(where, f"{arg} must be a number, got {value!r} ({type(value).__name__}).")
    if isinstance(value, numbers.Integral):
        return int(value)
    number = float(value)
    if not math.isfinite(number):
        raise _fail(where, f"{arg} must be a finite number, got {value!r}.")
    return number


def _positive(value: Any, where: str, arg: str) -> int | float:
    number = _number(value, where, arg)
    if number <= 0:
        raise _fail(where, f"{arg} must be greater than 0, got {value!r}.")
    return number


def _bounds(args: Sequence[Any], where: str) -> list[int | float]:
    low = _number(args[0], where, "min_value")
    high = _number(args[1], where, "max_value")
    if low >= high:
        raise _fail(
            where,
            f"min_value must be less than max_value, got min_value={low!r} and "
            f"max_value={high!r}; swap them or widen the range.",
        )
    return [low, high]


def _normal_args(args: Sequence[Any], where: str) -> list[int | float]:
    return [_number(args[0], where, "mu"), _positive(args[1], where, "sigma")]


def _option(value: Any, where: str) -> Any:
    """One choice option: a JSON scalar (str, bool, None or a finite number)."""
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, numbers.Real):
        return _number(value, where, "each option")
    raise _fail(
        where,
        f"each option must be a str, int, float, bool or None, got {value!r} "
        f"({type(value).__name__}); encode structured options as strings.",
    )


def _options(options: Any, where: str) -> list[Any]:
    if isinstance(options, (str, bytes)) or not isinstance(options, Iterable):
        raise _fail(where, f"options must be a list of values, got {options!r}.")
    checked = [_option(value, where) for value in options]
    if not checked:
        raise _fail(where, "options is empty; give at least one value, e.g. choice(1, 2, 3).")
    seen: dict[tuple, Any] = {}
    for value in checked:
        key = value_key(value)
        if key in seen:
            raise _fail(
                where, f"option {value!r} is given twice (equal to {seen[key]!r}); remove it."
            )
        seen[key] = value
    return checked


def _check_args(kind: str, args: list[Any], where: str) -> list[Any]:
    if kind == "choice":
        return [_options(args[0], where)]
    if kind == "randint":
        upper = args[0]
        if isinstance(upper, bool) or not isinstance(upper, numbers.Integral) or upper < 1:
            raise _fail(where, f"upper must be an int of at least 1, got {upper!r}.")
        return [int(upper)]
    if kind in ("uniform", "loguniform"):
        return _bounds(args, where)
    if kind in ("quniform", "qloguniform"):
        return [*_bounds(args, where), _positive(args[2], where, "q")]
    if kind in ("normal", "lognormal"):
        return _normal_args(args, where)
    return [*_normal_args(args, where), _positive(args[2], where, "q")]


def _signature(kind: str) -> str:
    return f"{kind}({', '.join(ARGUMENTS[kind])})"


def expression(kind: str, args: Sequence[Any], where: str | None = None) -> list:
    """Validate ``kind`` and its ``args``; return ``[kind, [args...]]`` with plain values.

    ``where`` prefixes error messages; it defaults to the function's signature, e.g.
    ``uniform(min_value, max_value)``.
    """
    if kind not in ARGUMENTS:
        raise _fail(
            where or "expression",
            f"unknown expression {kind!r}; use one of {', '.join(ARGUMENTS)}.",
        )
    where = where or _signature(kind)
    names = ARGUMENTS[kind]
    if len(args) != len(names):
        raise _fail(where, f"takes {len(names)} argument(s) ({', '.join(names)}), got {len(args)}.")
    return [kind, _check_args(kind, list(args), where)]


def check_expression(expr: Any, name: str = "parameter") -> list:
    """Validate one expression, as built by ``parameter_expressions`` or read back from JSON."""
    where = f"parameter {name!r}"
    if (
        not isinstance(expr, (list, tuple))
        or len(expr) != 2
        or not isinstance(expr[0], str)
        or not isinstance(expr[1], (list, tuple))
    ):
        raise _fail(
            where,
            f"expected an expression such as choice(1, 2) or uniform(0, 1) "
            f"(['uniform', [0, 1]]), got {expr!r}.",
        )
    kind = expr[0]
    if kind not in ARGUMENTS:
        raise _fail(where, f"unknown expression {kind!r}; use one of {', '.join(ARGUMENTS)}.")
    args = expr[1]
    if kind == "choice" and (len(args) != 1 or not isinstance(args[0], (list, tuple))):
        raise _fail(
            where,
            f"a choice expression is ['choice', [[option, ...]]], got {expr!r}; "
            "build it with choice(...).",
        )
    return expression(kind, args, f"{where}: {_signature(kind)}")


def check_space(space: Any) -> dict[str, list]:
    """Validate a parameter space; return a new dict of name -> normalised expression."""
    if not isinstance(space, Mapping):
        raise UserErrorException(
            "parameter_space must be a dict of parameter name to expression, e.g. "
            f"{{'learning_rate': uniform(0.01, 0.1)}}, got {type(space).__name__}."
        )
    if not space:
        raise UserErrorException(
            "parameter_space is empty; give at least one parameter, e.g. "
            "{'learning_rate': uniform(0.01, 0.1)}."
        )
    checked: dict[str, list] = {}
    for name, expr in space.items():
        if not isinstance(name, str) or not name:
            raise UserErrorException(
                f"parameter_space keys must be non-empty str parameter names, got {name!r}."
            )
        checked[name] = check_expression(expr, name)
    return checked


def require_kinds(space: Mapping[str, list], allowed: Iterable[str], sampling: str,
                  hint: str) -> None:
    """Raise naming the first parameter whose expression ``sampling`` does not support."""
    allowed = tuple(allowed)
    for name, expr in space.items():
        if expr[0] not in allowed:
            raise UserErrorException(
                f"{sampling} supports only {', '.join(allowed)}, but parameter {name!r} is "
                f"{expr[0]}; {hint}"
            )


# --- values and points ---------------------------------------------------------------------


def value_key(value: Any) -> tuple:
    """A hashable key comparing values as JSON does: 1 == 1.0, but True != 1."""
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, numbers.Real):
        return ("number", float(value))
    if value is None:
        return ("null",)
    return (type(value).__name__, value)


_MISSING = ("missing",)


def point_key(space: Mapping[str, list], params: Mapping[str, Any]) -> tuple:
    """A hashable key of ``params`` over the space's parameters, comparing values by value."""
    return tuple(
        value_key(params[name]) if name in params else _MISSING for name in space
    )


def _quantize(x: float, q: int | float) -> int | float:
    """``round(x / q) * q``: an ``int`` for an integer ``q``, else a float without noise."""
    steps = round(x / q)
    return multiple_of(steps, q)


def multiple_of(steps: int, q: int | float) -> int | float:
    if isinstance(q, int):
        return steps * q
    return float(Decimal(steps) * Decimal(repr(q)))


def step_range(expr: list) -> range:
    """The multipliers ``k`` of ``q`` a bounded quantised expression can produce."""
    low, high, q = expr[1]
    if expr[0] == "qloguniform":
        low, high = math.exp(low), math.exp(high)
    return range(round(low / q), round(high / q) + 1)


def values(expr: list) -> Sequence[Any] | None:
    """Every value ``expr`` can take, in order, or None when there are infinitely many."""
    kind, args = expr
    if kind == "choice":
        return args[0]
    if kind == "randint":
        return range(args[0])
    if kind in ("quniform", "qloguniform"):
        return _Multiples(step_range(expr), args[2])
    return None


class _Multiples(Sequence):
    """The lazy sequence ``k * q`` for ``k`` in a range."""

    def __init__(self, steps: range, q: int | float) -> None:
        self._steps = steps
        self._q = q

    def __len__(self) -> int:
        return len(self._steps)

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        return multiple_of(self._steps[index], self._q)


def is_finite(space: Mapping[str, list]) -> bool:
    """True when every parameter takes finitely many values.

    That is choice and randint, and also the bounded quantised quniform and qloguniform.
    """
    return all(expr[0] in _FINITE_KINDS for expr in space.values())


def size(space: Mapping[str, list]) -> int | None:
    """How many distinct points a finite space has; None for an infinite space."""
    if not is_finite(space):
        return None
    return math.prod(len(values(expr)) for expr in space.values())


def contains(space: Mapping[str, list], params: Mapping[str, Any]) -> bool:
    """True when ``params`` gives every parameter a value its finite expression can take.

    Continuous parameters only need a number (their range is not checked).
    """
    for name, expr in space.items():
        if name not in params:
            return False
        allowed = values(expr)
        value = params[name]
        if allowed is None:
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                return False
        elif not _in_values(expr, allowed, value):
            return False
    return True


def _in_values(expr: list, allowed: Sequence[Any], value: Any) -> bool:
    if expr[0] == "choice":
        key = value_key(value)
        return any(value_key(option) == key for option in allowed)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return False
    if expr[0] == "randint":
        return float(value).is_integer() and 0 <= value < expr[1][0]
    q = expr[1][2]
    steps = round(value / q)
    return steps in step_range(expr) and value_key(multiple_of(steps, q)) == value_key(value)


def iter_points(space: Mapping[str, list]) -> Iterator[dict[str, Any]]:
    """Every point of a finite space: the last parameter varies fastest."""
    names = list(space)
    per_name = [values(space[name]) for name in names]
    if any(vals is None for vals in per_name):
        raise UserErrorException("iter_points needs a finite space (choice, randint, q*uniform).")
    for combo in _lazy_product(per_name):
        yield dict(zip(names, combo, strict=True))


def _lazy_product(sequences: list[Sequence[Any]]) -> Iterator[tuple]:
    """``itertools.product`` without materialising its inputs (a randint may be huge)."""
    if not sequences:
        yield ()
        return
    for head in sequences[0]:
        for tail in _lazy_product(sequences[1:]):
            yield (head, *tail)


def grid_points(space: Mapping[str, list]) -> list[dict[str, Any]]:
    """The grid of a choice-only space: the product of options, last parameter fastest."""
    space = check_space(space)
    require_kinds(space, ("choice",), "GridParameterSampling",
                  "use RandomParameterSampling for other expressions.")
    names = list(space)
    options = [space[name][1][0] for name in names]
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*options)]


# --- random draws --------------------------------------------------------------------------


def sample_value(expr: list, rng: random.Random) -> Any:
    """One random draw from one (validated) expression."""
    kind, args = expr
    if kind == "choice":
        return rng.choice(args[0])
    if kind == "randint":
        return rng.randrange(args[0])
    if kind in ("normal", "qnormal", "lognormal", "qlognormal"):
        x = rng.gauss(args[0], args[1])
    else:
        x = rng.uniform(args[0], args[1])
    if kind in ("loguniform", "qloguniform", "lognormal", "qlognormal"):
        x = math.exp(x)
    if kind.startswith("q"):
        return _quantize(x, args[2])
    return float(x)


def sample(space: Mapping[str, list], rng: random.Random) -> dict[str, Any]:
    """One random point: each parameter drawn independently, in the space's order."""
    return {name: sample_value(expr, rng) for name, expr in space.items()}
