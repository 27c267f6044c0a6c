"""Conda package specs translated to pip requirements.

Plinth builds environments with uv from PyPI, so each conda package of a definition becomes
the PyPI project that provides the same Python package, or is dropped when the interpreter,
the wheels or Plinth itself already provide it.
"""

from __future__ import annotations

import re

from packaging.requirements import InvalidRequirement, Requirement

from plinth.exceptions import UserErrorException

__all__ = ["to_pip", "python_version", "is_runtime_package"]

# conda name -> PyPI name, where they differ.
RENAMED = {
    "py-xgboost": "xgboost",
    "py-xgboost-cpu": "xgboost",
    "py-xgboost-gpu": "xgboost",
    "pytorch": "torch",
    "pytorch-cpu": "torch",
    "pytorch-gpu": "torch",
    "tensorflow-gpu": "tensorflow",
    "tensorflow-base": "tensorflow",
    "matplotlib-base": "matplotlib",
    "pytables": "tables",
    "msgpack-python": "msgpack",
    "py-opencv": "opencv-python",
    "opencv": "opencv-python",
    "python-graphviz": "graphviz",
    "pyqt": "pyqt5",
    "py-lightgbm": "lightgbm",
    "lightgbm-cpu": "lightgbm",
    "tbb4py": "tbb",
}

# Provided by the interpreter, the venv or the wheels themselves (numpy and scipy wheels bundle
# OpenBLAS, torch wheels their OpenMP), so a pip environment needs no counterpart.
DROPPED = frozenset({
    "python", "pip", "setuptools", "wheel", "python_abi", "conda", "conda-build",
    "mkl", "mkl-service", "mkl_fft", "mkl_random", "mkl-include", "nomkl", "blas", "libblas",
    "libcblas", "blas-devel", "liblapack", "liblapacke", "openblas", "libopenblas", "intel-openmp",
    "llvm-openmp", "_openmp_mutex", "_libgcc_mutex", "libgcc", "libgcc-ng", "libgomp",
    "libstdcxx-ng", "libgfortran", "libgfortran-ng", "libgfortran5", "ld_impl_linux-64",
    "ca-certificates", "openssl", "libffi", "ncurses", "readline", "sqlite", "libsqlite", "tk",
    "xz", "liblzma", "zlib", "libzlib", "bzip2", "libuuid", "libnsl", "libxcrypt", "expat",
    "libexpat", "yaml", "tzdata", "vc", "vs2015_runtime", "ucrt", "vc14_runtime",
})

# Native toolkits pip cannot install as such: asking for them needs a decision by the user.
NO_PYPI = {
    "cudatoolkit": "CUDA comes with the GPU wheels of torch, tensorflow or jax, or with the "
                   "'nvidia-*' pip packages",
    "cudnn": "cuDNN comes with the GPU wheels of torch or tensorflow, or with the "
             "'nvidia-cudnn-cu12' pip package",
    "nccl": "NCCL comes with the GPU wheels of torch, or with the 'nvidia-nccl-cu12' pip package",
    "cuda-toolkit": "CUDA comes with the GPU wheels of torch, tensorflow or jax",
    "magma-cuda": "MAGMA comes with the GPU wheels of torch",
    "gcc": "install compilers with the system package manager",
    "gxx": "install compilers with the system package manager",
    "gfortran": "install compilers with the system package manager",
    "compilers": "install compilers with the system package manager",
    "c-compiler": "install compilers with the system package manager",
    "cxx-compiler": "install compilers with the system package manager",
    "r-base": "R is not a Python package",
    "nodejs": "install Node.js with the system package manager",
    "git": "install git with the system package manager",
    "openjdk": "install Java with the system package manager",
}
NO_PYPI_PREFIXES = ("cuda-", "r-", "gcc_", "gxx_", "gfortran_", "libcu", "libnv")

# A conda MatchSpec as azureml writes them: [channel::]name[ version[ build]] or name=ver=build.
_SPEC = re.compile(r"^\s*(?:(?P<channel>[^\s:]+)::)?(?P<name>[A-Za-z0-9_][A-Za-z0-9_.\-]*)"
                   r"\s*(?P<rest>.*?)\s*$")
_PYPI_NAME = re.compile(r"^([a-z0-9]|[a-z0-9][a-z0-9._-]*[a-z0-9])$", re.IGNORECASE)
_OPERATOR = re.compile(r"^(==|!=|<=|>=|~=|<|>)?\s*(.+)$")


def is_runtime_package(name: str) -> bool:
    """True for azureml's own packages, which Plinth's runtime stands in for."""
    name = name.lower().replace("_", "-")
    return name.startswith("azureml") or name in ("inference-schema", "plinth")


def python_version(spec: str) -> str | None:
    """The version in a ``python...`` conda spec (``python=3.6.2`` -> ``3.6.2``), else None."""
    match = _SPEC.match(spec)
    if not match or match["name"].lower() != "python":
        return None
    version = re.search(r"\d+(\.\d+)*", match["rest"])
    return version.group(0) if version else None


def to_pip(spec: str) -> str | None:
    """The pip requirement for a conda spec, or None when the environment needs no package."""
    match = _SPEC.match(spec) if isinstance(spec, str) else None
    if not match:
        raise UserErrorException(
            f"Conda package {spec!r} is not a conda package spec; write it as 'name', "
            "'name=1.2' or 'name>=1.2'.")
    name = match["name"].lower()
    if name in DROPPED or is_runtime_package(name):
        return None
    if name in NO_PYPI or name.startswith(NO_PYPI_PREFIXES):
        hint = NO_PYPI.get(name, "it is a native package with no PyPI equivalent")
        raise UserErrorException(
            f"Conda package {spec!r} has no pip equivalent ({hint}). Plinth builds environments "
            "from PyPI packages: remove it from conda_packages, and add the pip package that "
            "provides what you need to pip_packages.")
    pypi = RENAMED.get(name, name)
    if not _PYPI_NAME.match(pypi):
        raise UserErrorException(
            f"Conda package {spec!r} has no PyPI equivalent Plinth knows of. Plinth builds "
            "environments from PyPI packages: move it to pip_packages under its PyPI name.")
    requirement = pypi + _specifier(match["rest"], spec)
    try:
        Requirement(requirement)
    except InvalidRequirement as exc:
        raise UserErrorException(
            f"The version in conda package {spec!r} cannot be written for pip "
            f"({str(exc).splitlines()[0]}); move it "
            "to pip_packages as a pip requirement such as 'name>=1.2'.") from exc
    return requirement


def _specifier(rest: str, spec: str) -> str:
    """conda's version syntax as a pip specifier; a build string is ignored."""
    if not rest:
        return ""
    if rest.startswith("[") or "|" in rest:
        raise UserErrorException(
            f"Conda package {spec!r} uses conda-only version syntax ('[...]' or '|'); write "
            "one version range such as 'name>=1.2,<2', or move it to pip_packages.")
    if rest.startswith("=") and not rest.startswith("=="):
        # name=1.2 and name=1.2=build mean "1.2 or any 1.2.x" in conda.
        return _fuzzy(rest[1:].split("=")[0])
    version = rest.split()[0]
    if version[0].isdigit() or version[0] == "*":
        # "name 1.2" is exact in conda unless it has a wildcard.
        return _fuzzy(version) if "*" in version else f"=={version}"
    parts = []
    for part in version.split(","):
        operator, value = _OPERATOR.match(part.strip()).groups()
        operator = operator or "=="
        if value.endswith("*"):
            # conda reads ">=1.2.*" as ">=1.2"; pip allows the wildcard only with == and !=.
            value = value.rstrip("*").rstrip(".")
            value += ".*" if operator in ("==", "!=") else ""
        parts.append(operator + value)
    return ",".join(parts)


def _fuzzy(version: str) -> str:
    version = version.rstrip("*").rstrip(".")
    return f"=={version}.*" if version else ""
