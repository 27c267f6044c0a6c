"""What pipeline data objects share: one piece of data one step writes and others read."""

from __future__ import annotations

import copy
import re
from typing import Any

from plinth._execution.inputs import placeholder
from plinth.exceptions import UserErrorException

__all__ = ["Port", "check_port_name"]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")


def check_port_name(name: Any, argument: str = "name") -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise UserErrorException(
            f"{argument}={name!r} is invalid: use letters, digits and '_', starting with a "
            "letter or '_' (e.g. 'prepped_data')."
        )
    return name


class Port:
    """What ``PipelineData`` and ``OutputFileDatasetConfig`` share: one piece of data that
    one step writes and other steps read. Copies made by ``as_download()`` and the like are
    the same data (``_data_id``)."""

    name: str
    _data_id: str
    _input_name: str | None = None
    _input_mode: str = "mount"
    #: In a step's arguments: read (True) or written (False) by that step.
    _is_input: bool = True
    _path_on_compute: str | None = None

    def _copy(self, **changes: Any) -> Any:
        other = copy.copy(self)
        other.__dict__.update(changes)
        return other

    def _as_argument(self) -> str:
        return placeholder(self._input_name or self.name)

    def _input_port(self) -> dict[str, Any]:
        """How a consuming step reads the data (see ``plinth._pipelines.graph``)."""
        return {"name": self._input_name or self.name, "data_id": self._data_id,
                "data_name": self.name, "mode": self._input_mode,
                "path_on_compute": self._path_on_compute, "dataset_kind": None}

    def _output_port(self) -> dict[str, Any]:
        raise NotImplementedError


