"""``CondaDependencies``: the packages of an environment, as a conda specification.

Plinth builds environments as virtualenvs with uv: conda package names are mapped to their
PyPI names when the environment is built (``plinth._envs``)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from plinth.exceptions import UserErrorException

__all__ = ["CondaDependencies"]

DEFAULT_PYTHON = "3.11"


class CondaDependencies:
    """Python version, conda packages and pip packages. ``CondaDependencies(path)`` reads a
    conda YAML file; ``CondaDependencies.create(...)`` builds one from lists."""

    def __init__(self, conda_dependencies_file_path: str | os.PathLike | None = None,
                 _underlying_structure: dict[str, Any] | None = None):
        self._python: str | None = None
        self._conda: list[str] = []
        self._pip: list[str] = []
        self._channels: list[str] = []
        if conda_dependencies_file_path is not None:
            path = Path(conda_dependencies_file_path)
            if not path.is_file():
                raise UserErrorException(
                    f"conda_dependencies_file_path={str(path)!r} is not a file."
                )
            self._load(path.read_text())
        elif _underlying_structure is not None:
            self._load_dict(_underlying_structure)

    @staticmethod
    def create(pip_packages: Iterable[str] | None = None,
               conda_packages: Iterable[str] | None = None,
               python_version: str | None = None, pin_sdk_version: bool = True,
               pip_indexurl: str | None = None) -> "CondaDependencies":
        deps = CondaDependencies()
        deps._python = python_version
        for package in conda_packages or []:
            deps.add_conda_package(package)
        for package in pip_packages or []:
            deps.add_pip_package(package)
        return deps

    @staticmethod
    def _from_dict(data: dict[str, Any]) -> "CondaDependencies":
        return CondaDependencies(_underlying_structure=data)

    def _load(self, text: str) -> None:
        from plinth._envs.spec import from_conda_yaml

        parsed = from_conda_yaml(text)
        self._load_dict({**parsed, "python": parsed["version"]})

    def _load_dict(self, data: dict[str, Any]) -> None:
        self._python = data.get("python")
        # ``pip`` itself is implied by pip packages (serialize_to_string adds it back).
        self._conda = [p for p in data.get("conda_packages") or [] if p.strip() != "pip"]
        self._pip = list(data.get("pip_packages") or [])
        self._channels = list(data.get("channels") or [])

    # -- editing ---------------------------------------------------------------------------

    def add_conda_package(self, conda_package: str) -> None:
        name = _package(conda_package, "conda_package")
        if name.split("=")[0].strip() == "python":
            self._python = name.partition("=")[2].lstrip("=") or None
        elif name not in self._conda:
            self._conda.append(name)

    def add_pip_package(self, pip_package: str) -> None:
        name = _package(pip_package, "pip_package")
        if name not in self._pip:
            self._pip.append(name)

    def remove_conda_package(self, conda_package: str) -> None:
        self._conda = [p for p in self._conda if _base(p) != _base(conda_package)]

    def remove_pip_package(self, pip_package: str) -> None:
        self._pip = [p for p in self._pip if _base(p) != _base(pip_package)]

    def add_channel(self, channel: str) -> None:
        if channel not in self._channels:
            self._channels.append(channel)

    def set_python_version(self, version: str) -> None:
        self._python = str(version)

    def get_python_version(self) -> str | None:
        return self._python

    @property
    def conda_packages(self) -> Iterator[str]:
        return iter(self._conda)

    @property
    def pip_packages(self) -> Iterator[str]:
        return iter(self._pip)

    # -- serialising -----------------------------------------------------------------------

    def _as_dict(self) -> dict[str, Any]:
        return {"python": self._python, "conda_packages": list(self._conda),
                "pip_packages": list(self._pip), "channels": list(self._channels)}

    def serialize_to_string(self) -> str:
        """The conda YAML for these dependencies."""
        import yaml

        dependencies: list[Any] = [f"python={self._python or DEFAULT_PYTHON}", *self._conda]
        if self._pip:
            dependencies += ["pip", {"pip": list(self._pip)}]
        document = {"name": "project_environment", "dependencies": dependencies,
                    "channels": self._channels or ["conda-forge"]}
        return yaml.safe_dump(document, sort_keys=False)

    def save(self, path: str | os.PathLike | None = None) -> str:
        target = Path(path or "conda_dependencies.yml")
        target.write_text(self.serialize_to_string())
        return str(target)

    save_to_file = save

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CondaDependencies) and other._as_dict() == self._as_dict()

    def __repr__(self) -> str:
        return (f"CondaDependencies(python={self._python!r}, conda={self._conda!r}, "
                f"pip={self._pip!r})")


def _package(value: Any, argument: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise UserErrorException(f"{argument} must be a package name, got {value!r}.")
    return value.strip()


def _base(spec: str) -> str:
    for sep in ("==", ">=", "<=", "=", ">", "<", "[", " "):
        spec = spec.split(sep)[0]
    return spec.strip().lower()
