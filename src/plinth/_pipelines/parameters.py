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
        if value is None or not isinstance(value, (str, int, float, bool)):
            raise UserErrorException(
                f"pipeline_parameters[{name!r}] must be a string, number or bool, got "
                f"{type(value).__name__}."
            )
        values[name] = value
    return values


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
