"""``Environment``: the Python and packages a run needs, registered and versioned in the
workspace. Plinth materialises one as a virtualenv built with uv, cached by its package
spec and shared by every run that needs the same thing."""

from __future__ import annotations

import copy
import os
import re
import shutil
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from plinth._store import EnvironmentRecord
from plinth.core.conda_dependencies import CondaDependencies
from plinth.exceptions import NotFoundError, UserErrorException

if TYPE_CHECKING:
    from plinth.core.workspace import Workspace

__all__ = ["DockerSection", "Environment", "PythonSection"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$")


class PythonSection:
    """The Python side of an environment."""

    def __init__(self) -> None:
        self.conda_dependencies = CondaDependencies()
        self.user_managed_dependencies = False
        self.interpreter_path = "python"
        self.conda_dependencies_file: str | None = None


class DockerSection:
    """Recorded for azureml compatibility. Plinth runs no containers: environments are
    virtualenvs, so these settings change nothing."""

    def __init__(self) -> None:
        self.enabled = False
        self.base_image: str | None = None
        self.base_dockerfile: str | None = None
        self.shm_size: str | None = None

    def __setattr__(self, name: str, value: Any) -> None:
        if name in ("enabled", "base_image", "base_dockerfile") and value:
            warnings.warn(f"docker.{name} is recorded but unused: Plinth builds environments "
                          "as virtualenvs, not containers.", UserWarning, stacklevel=2)
        object.__setattr__(self, name, value)


class Environment:
    """``Environment('training_environment')``, then set its packages with
    ``env.python.conda_dependencies = CondaDependencies.create(...)``."""

    def __init__(self, name: str):
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise UserErrorException(
                f"name={name!r} is not a valid environment name: use 1-255 letters, digits, "
                "'-', '_' or '.', starting with a letter or digit."
            )
        self.name = name
        self.version: str | None = None
        self.python = PythonSection()
        self.docker = DockerSection()
        self.environment_variables: dict[str, str] = {}
        self.inferencing_stack_version: str | None = None

    # -- constructors ------------------------------------------------------------------------

    @staticmethod
    def from_conda_specification(name: str, file_path: str | os.PathLike) -> "Environment":
        env = Environment(name)
        env.python.conda_dependencies = CondaDependencies(file_path)
        env.python.conda_dependencies_file = str(file_path)
        return env

    @staticmethod
    def from_pip_requirements(name: str, file_path: str | os.PathLike,
                              pip_version: str | None = None) -> "Environment":
        from plinth._envs.spec import from_pip_requirements

        path = Path(file_path)
        if not path.is_file():
            raise UserErrorException(f"file_path={str(file_path)!r} is not a file.")
        env = Environment(name)
        env.python.conda_dependencies = CondaDependencies.create(
            pip_packages=from_pip_requirements(path.read_text()))
        return env

    @staticmethod
    def from_existing_conda_environment(name: str, conda_environment_name: str
                                        ) -> "Environment":
        """A conda environment of this machine, used as it is (its packages are managed by
        you). Without conda, use ``from_existing_virtualenv``."""
        conda = shutil.which("conda")
        if conda is None:
            raise UserErrorException(
                "conda is not installed on this machine, so conda environment "
                f"{conda_environment_name!r} cannot be used. Plinth builds virtualenvs: use "
                "Environment.from_existing_virtualenv(name, path) for one you have, or "
                "Environment.from_conda_specification(name, 'conda.yml') to have one built."
            )
        import json
        import subprocess

        listed = json.loads(subprocess.run([conda, "env", "list", "--json"], check=True,
                                           capture_output=True, text=True).stdout)
        for prefix in listed.get("envs", []):
            if Path(prefix).name == conda_environment_name:
                return Environment._user_managed(name, Path(prefix) / "bin" / "python")
        raise UserErrorException(
            f"No conda environment named {conda_environment_name!r}; `conda env list` shows "
            "the ones there are."
        )

    @staticmethod
    def from_existing_virtualenv(name: str, path: str | os.PathLike) -> "Environment":
        """A virtualenv of this machine (its folder), used as it is. Plinth must be
        importable in it for runs to log."""
        folder = Path(path).expanduser().resolve()
        python = folder / "bin" / "python"
        if not python.exists():
            raise UserErrorException(f"path={str(path)!r} is not a virtualenv: no bin/python.")
        return Environment._user_managed(name, python)

    @staticmethod
    def _user_managed(name: str, python: Path) -> "Environment":
        env = Environment(name)
        env.python.user_managed_dependencies = True
        env.python.interpreter_path = str(python)
        return env

    # -- registry ----------------------------------------------------------------------------

    def register(self, workspace: "Workspace") -> "Environment":
        """Register this definition; the version counts up only when it changed."""
        from plinth._envs.spec import digest

        definition = self._to_record()
        definition.pop("version")
        identity = {k: v for k, v in definition.items() if k != "name"}
        record = workspace._store.register_environment(
            workspace._id, self.name, definition=definition, digest=digest(identity))
        return Environment._from_record(record)

    @staticmethod
    def get(workspace: "Workspace", name: str, version: int | str | None = None
            ) -> "Environment":
        """A registered environment (the latest version unless ``version``), or a curated
        one (``Plinth-minimal``, ``Plinth-sklearn``, ``Plinth-lightgbm``)."""
        from plinth.core._curated_environments import CURATED

        try:
            record = workspace._store.get_environment(
                workspace._id, name, None if version is None else int(version))
        except NotFoundError:
            if name in CURATED and version in (None, 1, "1"):
                return Environment._from_definition(CURATED[name], "1")
            raise NotFoundError(
                f"No environment named {name!r}"
                f"{'' if version is None else f' version {version}'} in workspace "
                f"{workspace.name!r}; register one with env.register(ws)."
            ) from None
        return Environment._from_record(record)

    @staticmethod
    def list(workspace: "Workspace") -> dict[str, "Environment"]:
        """The latest version of every registered environment, and the curated ones."""
        from plinth.core._curated_environments import CURATED

        found = {name: Environment._from_definition(d, "1") for name, d in CURATED.items()}
        registered: set[str] = set()
        for record in workspace._store.list_environments(workspace._id):  # newest first
            if record.name not in registered:
                registered.add(record.name)
                found[record.name] = Environment._from_record(record)
        return found

    def build_local(self, workspace: "Workspace" = None, useDocker: bool = False,  # noqa: N803
                    **kwargs: Any) -> str:
        """Build (or find cached) this environment on this machine; returns its python."""
        from plinth._envs.builder import materialise

        python = materialise(self._to_record(), log=print)
        return str(python)

    # -- serialising -------------------------------------------------------------------------

    def _to_record(self) -> dict[str, Any]:
        """The definition stored with a registered version and given to the builder."""
        deps = self.python.conda_dependencies._as_dict()
        return {
            "name": self.name,
            "python": {
                "version": deps["python"],
                "conda_packages": deps["conda_packages"],
                "pip_packages": deps["pip_packages"],
                "channels": deps["channels"],
                "user_managed": bool(self.python.user_managed_dependencies),
                "interpreter_path": (self.python.interpreter_path
                                     if self.python.user_managed_dependencies else None),
            },
            "environment_variables": {str(k): str(v)
                                      for k, v in self.environment_variables.items()},
            "docker": {"enabled": bool(self.docker.enabled),
                       "base_image": self.docker.base_image},
            "version": self.version,
        }

    @staticmethod
    def _from_definition(definition: Mapping[str, Any], version: str | None) -> "Environment":
        env = Environment(definition["name"])
        python = definition.get("python") or {}
        env.python.conda_dependencies = CondaDependencies._from_dict({
            "python": python.get("version"),
            "conda_packages": python.get("conda_packages"),
            "pip_packages": python.get("pip_packages"),
            "channels": python.get("channels"),
        })
        env.python.user_managed_dependencies = bool(python.get("user_managed"))
        if python.get("interpreter_path"):
            env.python.interpreter_path = python["interpreter_path"]
        env.environment_variables = dict(definition.get("environment_variables") or {})
        docker = definition.get("docker") or {}
        # Restoring what was recorded is not setting it: no warning.
        object.__setattr__(env.docker, "enabled", bool(docker.get("enabled")))
        object.__setattr__(env.docker, "base_image", docker.get("base_image"))
        env.version = version
        return env

    @staticmethod
    def _from_record(record: EnvironmentRecord) -> "Environment":
        definition = {**copy.deepcopy(record.definition), "name": record.name}
        return Environment._from_definition(definition, str(record.version))

    def clone(self, new_name: str) -> "Environment":
        env = Environment._from_definition({**self._to_record(), "name": new_name}, None)
        return env

    def __repr__(self) -> str:
        return f"Environment(name={self.name!r}, version={self.version!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Environment) and other._to_record() == self._to_record()
