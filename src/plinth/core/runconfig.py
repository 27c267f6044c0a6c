"""``RunConfiguration`` and ``ScriptRunConfig``: what to run, with what, and where."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from plinth.exceptions import UserErrorException

__all__ = ["RunConfiguration", "ScriptRunConfig", "convert_arguments", "target_name"]


class RunConfiguration:
    """Settings of a run beyond its script: target, environment, limits, variables."""

    def __init__(self, script: str | None = None, arguments: Sequence[Any] | None = None,
                 framework: str = "Python", communicator: str = "None",
                 conda_dependencies: Any = None, _history_enabled: bool = True,
                 _path: str | None = None, _name: str | None = None, command: Any = None):
        self.script = script
        self.arguments = list(arguments or [])
        self.framework = framework
        self.communicator = communicator
        self.target: Any = "local"
        self.environment: Any = None
        self.environment_variables: dict[str, str] = {}
        self.max_run_duration_seconds: int | None = None
        self.node_count = 1
        self.command = command
        # Datasets and data references given as inputs= rather than as arguments.
        self.inputs: list[Any] = []
        if conda_dependencies is not None:
            self.environment = {"conda_dependencies": _describe(conda_dependencies)}

    def __repr__(self) -> str:
        return f"RunConfiguration(target={target_name(self.target)!r}, script={self.script!r})"


class ScriptRunConfig:
    """A script (or command) in a source directory, its arguments and where to run it."""

    def __init__(self, source_directory: str | os.PathLike, script: str | None = None,
                 arguments: Sequence[Any] | None = None, run_config: RunConfiguration | None = None,
                 _telemetry_values: Any = None, compute_target: Any = None,
                 environment: Any = None, distributed_job_config: Any = None,
                 resume_from: Any = None, max_run_duration_seconds: int | None = None,
                 command: Any = None, docker_runtime_config: Any = None):
        if not source_directory or not Path(source_directory).is_dir():
            raise UserErrorException(
                f"source_directory={str(source_directory)!r} is not a folder; pass the folder "
                "that holds your script."
            )
        if script is None and command is None:
            raise UserErrorException("ScriptRunConfig needs script= (a .py file) or command=.")
        if script is not None and command is not None:
            raise UserErrorException("Pass either script= or command=, not both.")
        if arguments is not None and (isinstance(arguments, (str, bytes)) or
                                      not isinstance(arguments, (list, tuple))):
            raise UserErrorException(
                "arguments must be a list, e.g. ['--reg_rate', 0.1], got "
                f"{type(arguments).__name__}."
            )
        if resume_from is not None:
            raise UserErrorException(
                "resume_from (continuing from a checkpoint of another run) is not supported; "
                "download the checkpoint with run.download_files() and pass it as a file."
            )
        if distributed_job_config is not None:
            raise UserErrorException(
                "distributed_job_config is not supported on local compute; run one process "
                "per run, or use a Ray compute target."
            )
        self.source_directory = str(source_directory)
        self.script = script
        self.arguments = list(arguments or [])
        self.command = command
        self.run_config = run_config or RunConfiguration()
        if compute_target is not None:
            self.run_config.target = compute_target
        if environment is not None:
            self.run_config.environment = environment
        if max_run_duration_seconds is not None:
            seconds = max_run_duration_seconds
            if not isinstance(seconds, (int, float)) or seconds <= 0:
                raise UserErrorException(
                    "max_run_duration_seconds must be a positive number of seconds, got "
                    f"{max_run_duration_seconds!r}."
                )
            self.run_config.max_run_duration_seconds = max_run_duration_seconds

    @property
    def compute_target(self) -> Any:
        return self.run_config.target

    @property
    def environment(self) -> Any:
        return self.run_config.environment

    def _run_definition(self) -> dict[str, Any]:
        rc = self.run_config
        target = target_name(rc.target)
        command = self.command or rc.command
        inputs: list[dict[str, Any]] = []
        if isinstance(command, (list, tuple)):
            command = convert_arguments(command, inputs)
        arguments = convert_arguments(self.arguments, inputs)
        for item in rc.inputs:
            convert_arguments([item], inputs)
        return {
            "source_directory": self.source_directory,
            "script": self.script,
            "arguments": arguments,
            "command": command,
            "inputs": inputs,
            "target": target or "local",
            "framework": rc.framework,
            "environment": _describe(rc.environment),
            "environment_variables": dict(rc.environment_variables),
            "max_run_duration_seconds": rc.max_run_duration_seconds,
        }

    def __repr__(self) -> str:
        return (f"ScriptRunConfig(source_directory={self.source_directory!r}, "
                f"script={self.script!r}, arguments={self.arguments!r})")


def target_name(target: Any) -> str | None:
    if target is None or isinstance(target, str):
        return target
    return getattr(target, "name", str(target))


def convert_arguments(arguments: Sequence[Any], inputs: list[dict[str, Any]] | None = None
                      ) -> list[str]:
    """azureml's conversion: strings as they are, other values with ``str()``; datasets and
    data references become placeholders the run's worker replaces with local paths (their
    specs are added to ``inputs``)."""
    from plinth._execution.inputs import add_spec

    out = []
    for value in arguments:
        if hasattr(value, "_input_spec"):
            if inputs is None:
                raise UserErrorException(
                    f"{value!r} can only be passed as an argument of a submitted run."
                )
            out.append(add_spec(inputs, value._input_spec()))
        elif hasattr(value, "_as_argument"):
            out.append(value._as_argument())
        elif isinstance(value, (str, int, float, bool)) or value is None:
            out.append(str(value))
        elif isinstance(value, os.PathLike):
            out.append(os.fspath(value))
        else:
            raise UserErrorException(
                f"Argument {value!r} of type {type(value).__name__} cannot be passed to a "
                "script; use strings, numbers or paths."
            )
    return out


def _describe(environment: Any) -> Any:
    """A JSON-able record of an environment object or spec (built environments come later)."""
    if environment is None or isinstance(environment, (str, dict, list)):
        return environment
    for attr in ("_to_record", "serialize_to_string"):
        fn = getattr(environment, attr, None)
        if callable(fn):
            return fn()
    name = getattr(environment, "name", None)
    return {"name": name} if name else repr(environment)
