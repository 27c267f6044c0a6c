"""``CommandStep``: run a command (a string for the shell, or a list) as a pipeline step."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from plinth.core.runconfig import RunConfiguration
from plinth.exceptions import UserErrorException
from plinth.pipeline.core.builder import PipelineStep
from plinth.pipeline.steps.python_script_step import (
    check_params,
    check_runconfig,
    script_step_definition,
)

__all__ = ["CommandStep"]


class CommandStep(PipelineStep):
    """Runs ``command`` in ``source_directory``: a string runs in ``/bin/sh``; a list is an
    argv whose items may be data (PipelineData, datasets, ...) and PipelineParameters."""

    _kind = "CommandStep"

    def __init__(self, command: str | Sequence[Any] | None = None, name: str | None = None,
                 compute_target: Any = None, runconfig: RunConfiguration | None = None,
                 runconfig_pipeline_params: Mapping[str, Any] | None = None,
                 inputs: Sequence[Any] | None = None, outputs: Sequence[Any] | None = None,
                 params: Mapping[str, Any] | None = None, source_directory: str | None = None,
                 allow_reuse: bool = True):
        command = command if command is not None else getattr(runconfig, "command", None)
        if not command or not isinstance(command, (str, list, tuple)):
            raise UserErrorException(
                "command is required: a string such as 'python train.py --rate 0.1', or a list."
            )
        arguments = list(command) if isinstance(command, (list, tuple)) else []
        super().__init__(name or "command", inputs, outputs, arguments, allow_reuse)
        self.command = command
        self.source_directory = source_directory
        self.compute_target = compute_target
        self.runconfig = runconfig
        self.params = check_params(params)
        check_runconfig(runconfig, runconfig_pipeline_params)

    def _extra_parameter_values(self) -> list[Any]:
        return list(self.params.values())

    def _run_definition(self, default_source_directory: str | None) -> dict[str, Any]:
        command = self._arguments if isinstance(self.command, (list, tuple)) else self.command
        return script_step_definition(
            self, source_directory=self.source_directory or default_source_directory,
            script=None, command=command, runconfig=self.runconfig,
            compute_target=self.compute_target, params=self.params)
