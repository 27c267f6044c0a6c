"""``PythonScriptStep``: run a Python script as a pipeline step."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from plinth.core.runconfig import RunConfiguration, ScriptRunConfig
from plinth.exceptions import UserErrorException
from plinth.pipeline.core.builder import PipelineStep

__all__ = ["PythonScriptStep", "script_step_definition"]


class PythonScriptStep(PipelineStep):
    """Runs ``script_name`` from ``source_directory`` (or the pipeline's
    ``default_source_directory``) with ``arguments``, on ``compute_target`` (default
    ``runconfig.target``, else this machine) in ``runconfig``'s environment. ``params``
    reach the script as environment variables ``AML_PARAMETER_<name>``."""

    _kind = "PythonScriptStep"

    def __init__(self, script_name: str, name: str | None = None,
                 arguments: Sequence[Any] | None = None, compute_target: Any = None,
                 runconfig: RunConfiguration | None = None,
                 runconfig_pipeline_params: Mapping[str, Any] | None = None,
                 inputs: Sequence[Any] | None = None, outputs: Sequence[Any] | None = None,
                 params: Mapping[str, Any] | None = None, source_directory: str | None = None,
                 allow_reuse: bool = True, version: str | None = None,
                 hash_paths: Any = None):
        if not isinstance(script_name, str) or not script_name:
            raise UserErrorException("script_name is required, e.g. script_name='prep.py'.")
        check_arguments(arguments)
        super().__init__(name or script_name, inputs, outputs, arguments, allow_reuse)
        self.script_name = script_name
        self.source_directory = source_directory
        self.compute_target = compute_target
        self.runconfig = runconfig
        self.params = check_params(params)
        check_runconfig(runconfig, runconfig_pipeline_params)

    def _extra_parameter_values(self) -> list[Any]:
        return list(self.params.values())

    def _run_definition(self, default_source_directory: str | None) -> dict[str, Any]:
        return script_step_definition(
            self, source_directory=self.source_directory or default_source_directory,
            script=self.script_name, command=None, runconfig=self.runconfig,
            compute_target=self.compute_target, params=self.params)


def script_step_definition(step: PipelineStep, *, source_directory: str | None,
                           script: str | None, command: Any, runconfig: Any,
                           compute_target: Any, params: Mapping[str, Any]) -> dict[str, Any]:
    """A step's run definition, as ``ScriptRunConfig`` makes it, without changing the
    caller's ``runconfig`` (one is often shared by several steps)."""
    if source_directory is None:
        raise UserErrorException(
            f"Step {step.name!r} has no source_directory: give it one, or give the Pipeline "
            "default_source_directory=."
        )
    run_config = copy.copy(runconfig) if runconfig is not None else RunConfiguration()
    run_config.inputs = [i for i in step._inputs if hasattr(i, "_input_spec")]
    run_config.environment_variables = {
        **dict(getattr(run_config, "environment_variables", {}) or {}),
        **{f"AML_PARAMETER_{k}": _param_text(v) for k, v in params.items()},
    }
    config = ScriptRunConfig(source_directory, script=script, command=command,
                             arguments=step._arguments if script else None,
                             run_config=run_config, compute_target=compute_target)
    definition = config._run_definition()
    definition["display_name"] = step.name
    return definition


def check_arguments(arguments: Any) -> None:
    if arguments is not None and (isinstance(arguments, (str, bytes))
                                  or not isinstance(arguments, (list, tuple))):
        raise UserErrorException(
            f"arguments must be a list, e.g. ['--folder', prepped_data], got "
            f"{type(arguments).__name__}."
        )


def check_params(params: Any) -> dict[str, Any]:
    if params is None:
        return {}
    if not isinstance(params, Mapping) or not all(isinstance(k, str) for k in params):
        raise UserErrorException("params must be a dict of names to values or PipelineParameters.")
    return dict(params)


def check_runconfig(runconfig: Any, runconfig_pipeline_params: Any) -> None:
    if runconfig is not None and not isinstance(runconfig, RunConfiguration):
        raise UserErrorException(
            f"runconfig must be a RunConfiguration, got {type(runconfig).__name__}."
        )
    if runconfig_pipeline_params:
        raise UserErrorException(
            "runconfig_pipeline_params is not supported; pass PipelineParameters in arguments "
            "or params instead."
        )


def _param_text(value: Any) -> str:
    converted = getattr(value, "_as_argument", None)
    return converted() if converted else str(value)
