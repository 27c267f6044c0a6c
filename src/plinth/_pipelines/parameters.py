"""Pipeline parameters: placeholders in step definitions, resolved per submission."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from plinth.exceptions import UserErrorException

__all__ = ["parameter_placeholder", "resolve_parameters", "substitute_parameters"]

_PLACEHOLDER = re.compile(r"\{\{plinth\.param:([^}]+)\}\}")


def parameter_placeholder(name: str) -> str:
    return f"{{{{plinth.param:{name}}}}}"


def resolve_parameters(defaults: Mapping[str, Any], given: Mapping[str, Any] | None
                       ) -> dict[str, Any]:
    """The pipeline's parameter values: its defaults, overridden by ``given``; a name the
    pipeline does not have is an error that lists the ones it has."""
    if given is not None and not isinstance(given, Mapping):
        raise UserErrorException(
            "pipeline_parameters must be a dict such as {'reg_rate': 0.1}, got "
            f"{type(given).__name__}."
        )
    values = dict(defaults)
    for name, value in (given or {}).items():
        if name not in defaults:
            known = ", ".join(sorted(defaults)) or "none"
            raise UserErrorException(
                f"pipeline_parameters: the pipeline has no parameter {name!r} (its parameters: "
                f"{known}). Define it with PipelineParameter({name!r}, default_value=...) and "
                "use it in a step."
            )
        values[name] = _as_type_of(defaults[name], value, name)
    return values


def _as_type_of(default: Any, value: Any, name: str) -> Any:
    """``value`` as the type of the parameter's default: a number may come as a string
    (``"0.1"``, as other REST clients send it); a bool must be a bool."""
    kind = type(default)
    if isinstance(value, kind) and not (kind is not bool and isinstance(value, bool)):
        return value
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind in (int, float) and isinstance(value, str):
        try:
            return kind(value)
        except ValueError:
            pass
    if kind is str and isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise UserErrorException(
        f"pipeline_parameters[{name!r}]={value!r} is not a {kind.__name__} like its default "
        f"value {default!r}."
    )


def substitute_parameters(value: Any, values: Mapping[str, Any]) -> Any:
    """``value`` (strings, lists and dicts, nested) with every parameter placeholder replaced
    by its value."""
    if isinstance(value, str):
        return _PLACEHOLDER.sub(lambda m: _text(values[m.group(1)]), value)
    if isinstance(value, list):
        return [substitute_parameters(v, values) for v in value]
    if isinstance(value, dict):
        return {k: substitute_parameters(v, values) for k, v in value.items()}
    return value


def _text(value: Any) -> str:
    return str(value)
