"""Environment definitions reduced to canonical build specs, and the files they come from.

A build spec is ``{"python": "X.Y", "requirements": [...]}``: the interpreter chosen on this
machine and the sorted, unique pip requirements. Two definitions that need the same packages
have the same spec, and so share one cached environment.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
from pathlib import Path

import yaml
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from plinth._envs import conda
from plinth._envs.interpreters import choose_python, running_version
from plinth.exceptions import UserErrorException

__all__ = ["normalise", "resolve", "digest", "satisfied_here", "requested_python",
           "python_section", "from_conda_yaml", "from_pip_requirements"]


def normalise(definition: dict) -> dict:
    """The canonical build spec of an environment definition."""
    return resolve(definition)[0]


def resolve(definition: dict) -> tuple[dict, Path, str | None]:
    """``(spec, interpreter, warning)``: the spec and the interpreter it was chosen with."""
    python = python_section(definition)
    version, exe, warning = choose_python(requested_python(definition))
    requirements = set()
    for spec in _strings(python, "conda_packages"):
        requirement = conda.to_pip(spec)
        if requirement:
            requirements.add(_pip(requirement))
    for text in _strings(python, "pip_packages"):
        requirement = _pip(text)
        if requirement:
            requirements.add(requirement)
    return {"python": version, "requirements": sorted(requirements)}, exe, warning


def requested_python(definition: dict) -> str | None:
    """``python.version``, else the version of a ``python=...`` conda package, else None."""
    python = python_section(definition)
    if python.get("version"):
        return str(python["version"])
    for spec in _strings(python, "conda_packages"):
        version = conda.python_version(spec)
        if version:
            return version
    return None


def digest(spec: dict) -> str:
    """sha256 of the spec's canonical JSON."""
    text = json.dumps(spec, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def satisfied_here(spec: dict) -> bool:
    """True when the running interpreter already meets the spec, so no venv is needed."""
    if spec["python"] != running_version():
        return False
    for text in spec["requirements"]:
        requirement = Requirement(text)
        if requirement.marker and not requirement.marker.evaluate({"extra": ""}):
            continue
        if requirement.url:
            return False  # which build a URL gives cannot be told from a version
        try:
            version = importlib.metadata.version(requirement.name)
        except importlib.metadata.PackageNotFoundError:
            return False
        if not requirement.specifier.contains(version, prereleases=True):
            return False
    return True


def from_conda_yaml(text: str) -> dict:
    """``{"name", "version", "conda_packages", "pip_packages"}`` from a conda environment file.

    ``python=...`` becomes ``version``; channels are ignored, since packages come from PyPI."""
    try:
        document = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise UserErrorException(f"The conda environment file is not valid YAML: {exc}") from exc
    if not isinstance(document, dict) or not isinstance(document.get("dependencies", []), list):
        raise UserErrorException(
            "The conda environment file needs a 'dependencies:' list at its top level.")
    version, conda_packages, pip_packages = None, [], []
    for item in document.get("dependencies") or []:
        if isinstance(item, dict) and set(item) == {"pip"}:
            pip_packages += from_pip_requirements("\n".join(map(str, item["pip"] or [])))
        elif isinstance(item, str | int | float):
            spec = str(item).strip()
            if conda.python_version(spec):
                version = conda.python_version(spec)
            elif spec.lower() != "python":
                conda_packages.append(spec)
        else:
            raise UserErrorException(
                f"Dependency {item!r} of the conda environment file is neither a package nor a "
                "'pip:' list.")
    return {"name": document.get("name"), "version": version,
            "conda_packages": conda_packages, "pip_packages": pip_packages}


def from_pip_requirements(text: str) -> list[str]:
    """The requirements of a requirements.txt text; comments and blank lines are skipped."""
    requirements = []
    for number, line in enumerate(text.replace("\\\n", "").splitlines(), 1):
        line = line.split(" #")[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("-"):
            raise UserErrorException(
                f"Line {number} of the pip requirements, {line!r}, is a pip option; Plinth "
                "reads package requirements only. List the packages themselves (for '-r', "
                "those of the other file), or a built wheel as 'name @ file:///path'.")
        _parse(line, f"Line {number} of the pip requirements")
        requirements.append(line)
    return requirements


def _pip(text: str) -> str | None:
    """A pip requirement in canonical form, or None for azureml's own packages."""
    requirement = _parse(text, "pip package")
    name = canonicalize_name(requirement.name)
    if conda.is_runtime_package(name):
        return None
    out = name
    if requirement.extras:
        out += "[" + ",".join(sorted(requirement.extras)) + "]"
    if requirement.url:
        out += f" @ {requirement.url}" + (" " if requirement.marker else "")
    else:
        out += ",".join(sorted(str(s) for s in requirement.specifier))
    if requirement.marker:
        out += f"; {requirement.marker}"
    return out


def _parse(text: str, what: str) -> Requirement:
    try:
        return Requirement(text)
    except InvalidRequirement as exc:
        raise UserErrorException(
            f"{what} {text!r} is not a pip requirement ({str(exc).splitlines()[0]}); write "
            "it as 'name', "
            "'name==1.2' or 'name @ https://...'.") from exc


def python_section(definition: dict) -> dict:
    """The definition's ``python`` section ({} when absent), checked to be a dict."""
    if not isinstance(definition, dict):
        raise UserErrorException(
            f"An environment definition is a dict, not {type(definition).__name__}.")
    python = definition.get("python") or {}
    if not isinstance(python, dict):
        raise UserErrorException("The environment definition's 'python' section must be a dict.")
    return python


def _strings(python: dict, key: str) -> list[str]:
    values = python.get(key) or []
    if not isinstance(values, list | tuple) or not all(isinstance(v, str) for v in values):
        raise UserErrorException(f"python.{key} of the environment definition must be a list "
                                 "of strings.")
    return list(values)
