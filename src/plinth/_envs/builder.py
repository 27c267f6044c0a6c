"""Environment definitions made real: a cached virtualenv per build spec, built with uv.

An environment lives in ``<cache>/<digest[:20]>`` and is usable once its ``.ready`` marker
exists; builds of one spec are serialised by a file lock beside the folder, so concurrent
runs build it once. Plinth's runtime is linked into environments of its own Python minor
(a ``.pth`` file that appends its site-packages after the environment's own) and installed
into the others.
"""

from __future__ import annotations

import collections
import contextlib
import fcntl
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import unquote, urlparse

import plinth
from plinth._envs.interpreters import running_version
from plinth._envs.spec import digest, python_section, resolve, satisfied_here
from plinth._version import __version__
from plinth.exceptions import UserErrorException

__all__ = ["materialise", "cache_root", "ENVIRONMENT_LOG", "ENV_CACHE"]

ENVIRONMENT_LOG = "logs/environment.log"
ENV_CACHE = "PLINTH_ENV_CACHE"
READY = ".ready"
RUNTIME_PTH = "_plinth_runtime.pth"


def _ignore(line: str) -> None:
    pass


def cache_root() -> Path:
    """``$PLINTH_ENV_CACHE``, else ``<PLINTH_HOME or ~/.plinth>/envs``."""
    if os.environ.get(ENV_CACHE):
        return Path(os.environ[ENV_CACHE])
    return Path(os.environ.get("PLINTH_HOME") or Path.home() / ".plinth") / "envs"


def materialise(definition: dict, log: Callable[[str], None] = _ignore) -> Path:
    """The Python executable a run of this environment definition uses, built if need be."""
    if python_section(definition).get("user_managed"):
        return _user_managed(definition, log)
    spec, exe, warning = resolve(definition)
    if warning:
        log(warning)
    if satisfied_here(spec):
        log(f"Plinth's own environment already has every package this one needs; using "
            f"{sys.executable}")
        return Path(sys.executable)
    folder = cache_root() / digest(spec)[:20]
    if _ready(folder):
        return _reuse(folder, log)
    with _locked(folder, log):
        if _ready(folder):
            return _reuse(folder, log)
        if folder.exists():
            log(f"removing an interrupted build at {folder}")
            shutil.rmtree(folder)
        started = time.monotonic()
        try:
            _build(folder, spec, exe, log)
        except UserErrorException as exc:
            shutil.rmtree(folder, ignore_errors=True)
            raise UserErrorException(
                f"Environment {definition.get('name')!r} could not be built: {exc}") from exc
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        log(f"environment built in {time.monotonic() - started:.1f}s: {folder}")
    return _python(folder)


def _user_managed(definition: dict, log: Callable[[str], None]) -> Path:
    path = definition["python"].get("interpreter_path")
    # azureml's default, "python", means the interpreter of the machine's environment: here
    # the one running Plinth.
    if not path or path in ("python", "python3"):
        log(f"user-managed environment: using {sys.executable}")
        return Path(sys.executable)
    found = shutil.which(path) if os.sep not in path else None
    exe = Path(found or path).expanduser()
    if not (exe.is_file() and os.access(exe, os.X_OK)):
        raise UserErrorException(
            f"python.interpreter_path {path!r} of user-managed environment "
            f"{definition.get('name')!r} is not an executable on this machine; point it at a "
            "Python interpreter, or set user_managed_dependencies to False so that Plinth "
            "builds the environment.")
    log(f"user-managed environment: using {exe}")
    return exe


def _ready(folder: Path) -> bool:
    # A build whose interpreter was since removed is as good as unfinished.
    return (folder / READY).is_file() and _python(folder).exists()


def _python(folder: Path) -> Path:
    return folder / "bin" / "python"


def _reuse(folder: Path, log: Callable[[str], None]) -> Path:
    log(f"reusing cached environment {folder}")
    with contextlib.suppress(OSError, ValueError):
        meta = json.loads((folder / "spec.json").read_text())
        if meta["runtime"] == "linked" and meta["spec"]["python"] == running_version():
            _link_runtime(folder, meta["spec"]["python"])  # another Plinth install may share it
    return _python(folder)


@contextlib.contextmanager
def _locked(folder: Path, log: Callable[[str], None]) -> Iterator[None]:
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(folder.with_name(folder.name + ".lock"), "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log(f"waiting for another process building {folder}")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _build(folder: Path, spec: dict, exe: Path, log: Callable[[str], None]) -> None:
    uv = _uv()
    log(f"building environment {folder} with Python {spec['python']} ({exe}) and "
        f"{len(spec['requirements'])} requirement(s)")
    _run([uv, "venv", "--python", str(exe), str(folder)], folder.parent, log)
    linked = spec["python"] == running_version()
    packages = list(spec["requirements"]) if linked else spec["requirements"] + _plinth_args()
    if packages:
        _run([uv, "pip", "install", "--python", str(_python(folder)), *packages],
             folder.parent, log)
    if linked:
        _link_runtime(folder, spec["python"])
    meta = {"spec": spec, "interpreter": str(exe), "runtime": "linked" if linked else "installed",
            "plinth": __version__, "built": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    (folder / "spec.json").write_text(json.dumps(meta, indent=2) + "\n")
    (folder / READY).write_text(meta["built"] + "\n")


def _run(command: list[str], cwd: Path, log: Callable[[str], None]) -> None:
    """Runs uv, streaming its output to ``log``; a failure raises with its last lines."""
    log("$ " + " ".join(command))
    tail: collections.deque[str] = collections.deque(maxlen=25)
    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, errors="replace",
                               env={**os.environ, "NO_COLOR": "1"})
    try:
        for line in process.stdout:
            tail.append(line.rstrip())
            log(tail[-1])
        code = process.wait()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    if code:
        step = " ".join(["uv"] + [a for a in command[1:3] if not a.startswith("-")])
        raise UserErrorException(
            f"'{step}' exited with code {code}:\n"
            + "\n".join(tail)
            + "\nCheck the package names and versions in the environment definition.")


def _uv() -> str:
    """uv beside this interpreter, from the ``uv`` package, or on PATH."""
    beside = Path(sys.executable).parent / "uv"
    if beside.is_file():
        return str(beside)
    with contextlib.suppress(ImportError, FileNotFoundError):
        import uv

        return uv.find_uv_bin()
    found = shutil.which("uv")
    if not found:
        raise UserErrorException(
            "Building an environment needs uv, which was not found; install it with "
            "'pip install uv' (see https://docs.astral.sh/uv/), or make the environment "
            "user-managed.")
    return found


def _link_runtime(folder: Path, version: str) -> None:
    """A ``.pth`` that appends Plinth's site-packages, so the environment's own packages win."""
    paths = [str(Path(plinth.__file__).resolve().parents[1])]
    for key in ("purelib", "platlib"):
        if sysconfig.get_paths()[key] not in paths:
            paths.append(sysconfig.get_paths()[key])
    # addsitedir, unlike a plain path line, also reads that folder's own .pth files
    # (editable installs of Plinth live there).
    text = "".join(f"import site; site.addsitedir({p!r})\n" for p in paths)
    target = folder / "lib" / f"python{version}" / "site-packages" / RUNTIME_PTH
    if not target.parent.is_dir():
        raise UserErrorException(f"The environment at {folder} has no {target.parent}; delete "
                                 "the folder so that it is built again.")
    if not target.is_file() or target.read_text() != text:
        partial = target.with_suffix(".tmp")
        partial.write_text(text)
        partial.replace(target)


def _plinth_args() -> list[str]:
    """uv arguments that install this Plinth: its source checkout if it is one, else its
    release."""
    source = _source_checkout()
    if source is None:
        return [f"plinth=={__version__}"]
    # uv caches a local build by its pyproject.toml; source edits need a fresh build.
    return [f"plinth @ {source.as_uri()}", "--refresh-package", "plinth"]


def _source_checkout() -> Path | None:
    with contextlib.suppress(importlib.metadata.PackageNotFoundError, ValueError, KeyError):
        info = json.loads(importlib.metadata.distribution("plinth").read_text(
            "direct_url.json") or "{}")
        if "dir_info" in info and info["url"].startswith("file://"):
            folder = Path(unquote(urlparse(info["url"]).path))
            if (folder / "pyproject.toml").is_file():
                return folder
    folder = Path(plinth.__file__).resolve().parents[2]
    if (folder / "pyproject.toml").is_file() and (folder / "src" / "plinth").is_dir():
        return folder
    return None
