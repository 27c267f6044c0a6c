"""``PipelineParameter``: a value chosen when a pipeline is submitted."""

from __future__ import annotations

import re
from typing import Any

from plinth._pipelines.parameters import parameter_placeholder
from plinth.exceptions import UserErrorException

__all__ = ["PipelineParameter"]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,127}")


class PipelineParameter:
    """A pipeline parameter with its ``default_value``; pass it in a step's ``arguments`` or
    ``params`` and choose its value per submission with ``pipeline_parameters={name: value}``
    (or ``ParameterAssignments`` in a request to a published pipeline's endpoint)."""

    def __init__(self, name: str, default_value: Any):
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise UserErrorException(
                f"PipelineParameter name={name!r} is invalid: use letters, digits, '_', '.' or "
                "'-', starting with a letter or '_' (e.g. 'reg_rate')."
            )
        if default_value is None or not isinstance(default_value, (str, int, float, bool)):
            raise UserErrorException(
                f"PipelineParameter {name!r}: default_value must be a string, number or bool, "
                f"got {type(default_value).__name__}."
            )
        self.name = name
        self.default_value = default_value

    def _as_argument(self) -> str:
        return parameter_placeholder(self.name)

    def __repr__(self) -> str:
        return f"PipelineParameter(name={self.name!r}, default_value={self.default_value!r})"
