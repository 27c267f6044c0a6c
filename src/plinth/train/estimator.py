"""Estimators: a script, its parameters and its packages in one object (azureml's shape)."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from plinth.core.runconfig import RunConfiguration, ScriptRunConfig
from plinth.exceptions import UserErrorException

__all__ = ["Estimator", "script_params_to_arguments"]


def script_params_to_arguments(script_params: Mapping[str, Any] | None) -> list[Any]:
    """``{'--reg_rate': 0.1, '--verbose': ''}`` -> ``['--reg_rate', 0.1, '--verbose']``."""
    if script_params is None:
        return []
    if not isinstance(script_params, Mapping):
        raise UserErrorException(
            "script_params must be a dict such as {'--reg_rate': 0.1}, got "
            f"{type(script_params).__name__}."
        )
    args: list[Any] = []
    for key, value in script_params.items():
        args.append(str(key))
        if value is not None and value != "":
            args.append(value)
    return args


class Estimator:
    """Runs ``entry_script`` from ``source_directory`` with ``script_params`` as arguments."""

    _framework_packages: tuple[str, ...] = ()

    def __init__(self, source_directory: str | os.PathLike, *, compute_target: Any = None,
                 vm_size: str | None = None, vm_priority: str | None = None,
                 entry_script: str | None = None, script_params: Mapping[str, Any] | None = None,
                 node_count: int = 1, process_count_per_node: int = 1,
                 distributed_training: Any = None, use_docker: bool = True,
                 custom_docker_image: str | None = None, image_registry_details: Any = None,
                 user_managed: bool = False, conda_packages: Sequence[str] | None = None,
                 pip_packages: Sequence[str] | None = None,
                 conda_dependencies_file: str | None = None,
                 pip_requirements_file: str | None = None,
                 environment_variables: Mapping[str, str] | None = None,
                 environment_definition: Any = None, inputs: Sequence[Any] | None = None,
                 source_directory_data_store: Any = None, shm_size: str | None = None,
                 resume_from: Any = None, max_run_duration_seconds: int | None = None,
                 framework_version: str | None = None, **kwargs: Any):
        if entry_script is None:
            raise UserErrorException("entry_script is required, e.g. entry_script='train.py'.")
        if node_count != 1 or process_count_per_node != 1 or distributed_training is not None:
            raise UserErrorException(
                "node_count, process_count_per_node and distributed_training need a cluster "
                "compute target; on 'local' each run is one process."
            )
        if vm_size is not None and compute_target in (None, "local"):
            raise UserErrorException(
                f"vm_size={vm_size!r} asks for a new cluster; on local compute leave it out, or "
                "create a compute target with AmlCompute.provisioning_configuration(vm_size=...)."
            )
        for item in inputs or []:
            if not hasattr(item, "_input_spec"):
                raise UserErrorException(
                    f"inputs= takes datasets (ds.as_named_input('name')) and data references "
                    f"(datastore.path('folder').as_download()), got {item!r}."
                )
        if resume_from is not None:
            raise UserErrorException(
                "resume_from is not supported; download the checkpoint with "
                "run.download_files() and pass it as a file."
            )
        if environment_definition is not None and (conda_packages or pip_packages):
            raise UserErrorException(
                "Pass packages either in environment_definition or as conda_packages/"
                "pip_packages, not both."
            )
        run_config = RunConfiguration(framework="Python")
        run_config.target = compute_target or "local"
        run_config.environment_variables = dict(environment_variables or {})
        run_config.inputs = list(inputs or [])
        run_config.environment = environment_definition or _packages_environment(
            f"{type(self).__name__}-environment",
            conda_packages=[*self._framework_packages, *(conda_packages or [])],
            pip_packages=list(pip_packages or []),
            conda_dependencies_file=conda_dependencies_file,
            pip_requirements_file=pip_requirements_file,
            user_managed=user_managed, custom_docker_image=custom_docker_image)
        self.source_directory = str(source_directory)
        self.entry_script = entry_script
        self.script_params = dict(script_params or {})
        self.inputs = list(inputs or [])
        self.run_config = run_config
        self._config = ScriptRunConfig(
            source_directory,
            script=entry_script,
            arguments=script_params_to_arguments(script_params),
            run_config=run_config,
            max_run_duration_seconds=max_run_duration_seconds,
        )

    @property
    def conda_dependencies(self) -> Any:
        environment = self.run_config.environment
        return getattr(getattr(environment, "python", None), "conda_dependencies", environment)

    def _run_definition(self) -> dict[str, Any]:
        definition = self._config._run_definition()
        definition["estimator"] = type(self).__name__
        return definition


def _packages_environment(name: str, *, conda_packages: list[str], pip_packages: list[str],
                          conda_dependencies_file: str | None,
                          pip_requirements_file: str | None, user_managed: bool,
                          custom_docker_image: str | None) -> Any:
    """The environment an estimator's package arguments describe."""
    from plinth.core.conda_dependencies import CondaDependencies
    from plinth.core.environment import Environment

    if conda_dependencies_file:
        env = Environment.from_conda_specification(name, conda_dependencies_file)
    elif pip_requirements_file:
        env = Environment.from_pip_requirements(name, pip_requirements_file)
    else:
        env = Environment(name)
        env.python.conda_dependencies = CondaDependencies()
    deps = env.python.conda_dependencies
    for package in conda_packages:
        deps.add_conda_package(package)
    for package in pip_packages:
        deps.add_pip_package(package)
    if user_managed:
        env.python.user_managed_dependencies = True
        env.python.interpreter_path = sys.executable
    if custom_docker_image:
        env.docker.base_image = custom_docker_image
    return env
