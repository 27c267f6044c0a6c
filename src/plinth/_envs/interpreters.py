"""Which Python interpreter an environment is built on.

Interpreters are found by name in pyenv's and uv's install folders and on PATH, and checked by
running them once; uv's own discovery is not used because a pyenv shim for a version that is
not activated makes it fail.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from plinth.exceptions import UserErrorException

__all__ = ["MINIMUM", "choose_python", "running_version"]

MINIMUM = (3, 11)  # Plinth's runtime runs inside every environment
_NAME = re.compile(r"^python(\d+)\.(\d+)$")
_checked: dict[Path, tuple[int, int] | None] = {}


def running_version() -> str:
    return _label(sys.version_info[:2])


def _label(version: tuple[int, ...]) -> str:
    return f"{version[0]}.{version[1]}"


def choose_python(requested: str | None) -> tuple[str, Path, str | None]:
    """``(X.Y, executable, warning)`` for a requested version (None: the running interpreter).

    A version that is not installed or is older than Plinth's minimum gives the closest usable
    one and a warning that says so."""
    running = (running_version(), Path(sys.executable))
    if requested is None or not str(requested).strip():
        return (*running, None)
    wanted = _parse(str(requested))
    label = _label(wanted)
    if wanted < MINIMUM:
        return (*running, f"Python {requested} was requested, but Plinth's runtime needs Python "
                          f"{_label(MINIMUM)} or newer; using Python {running[0]} "
                          f"({running[1]}) instead.")
    if label == running[0]:
        return (*running, None)
    found = _find(wanted)
    if found:
        return label, found, None
    version, exe = _closest(wanted, running)
    return version, exe, (f"Python {requested} was requested but is not installed on this "
                          f"machine; using Python {version} ({exe}), the closest available. "
                          f"Install Python {label} (for example 'uv python install {label}') "
                          "to use it.")


def _parse(requested: str) -> tuple[int, int]:
    match = re.match(r"^\s*(\d+)\.(\d+)(\.\d+)*\s*$", requested)
    if not match:
        raise UserErrorException(
            f"Python version {requested!r} is not a version; write it as 'X.Y', e.g. '3.11'.")
    return int(match[1]), int(match[2])


def _closest(wanted: tuple[int, int], running: tuple[str, Path]) -> tuple[str, Path]:
    mine = tuple(int(p) for p in running[0].split("."))
    versions = {v for v in _candidates() if v >= MINIMUM} | {mine}

    def distance(v):
        return abs((v[0] - wanted[0]) * 100 + v[1] - wanted[1]), v != mine

    for version in sorted(versions, key=distance):
        found = running[1] if version == mine else _find(version)
        if found:
            return _label(version), found
    return running  # unreachable: the running interpreter is always a candidate


def _find(version: tuple[int, int]) -> Path | None:
    """The first working interpreter of that X.Y."""
    for exe in _candidates().get(version, []):
        if _check(exe) == version:
            return exe
    return None


def _candidates() -> dict[tuple[int, int], list[Path]]:
    """``pythonX.Y`` executables by version, pyenv's and uv's first, newest patch first."""
    found: dict[tuple[int, int], list[Path]] = {}
    for folder in _search_folders():
        try:
            entries = sorted(folder.iterdir(), reverse=True)
        except OSError:
            continue
        for entry in entries:
            match = _NAME.match(entry.name)
            if match and os.access(entry, os.X_OK):
                found.setdefault((int(match[1]), int(match[2])), []).append(entry)
    return found


def _search_folders() -> list[Path]:
    pyenv = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"
    data = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    uv = Path(os.environ.get("UV_PYTHON_INSTALL_DIR") or data / "uv" / "python")
    folders = []
    for root in (pyenv, uv):
        try:
            versions = sorted(root.iterdir(), key=_patch_order, reverse=True)
        except OSError:
            continue
        folders += [v / "bin" for v in versions]
    # pyenv's shims fail for versions that are not activated.
    folders += [Path(p) for p in os.environ.get("PATH", "").split(os.pathsep)
                if p and Path(p).name != "shims"]
    return folders


def _patch_order(folder: Path) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", folder.name)[:3])


def _check(exe: Path) -> tuple[int, int] | None:
    """The X.Y an executable reports, or None when it does not run."""
    if exe not in _checked:
        try:
            out = subprocess.run([str(exe), "-I", "-c", "import sys; print(*sys.version_info[:2])"],
                                 capture_output=True, text=True, timeout=20, check=True).stdout
            _checked[exe] = tuple(int(n) for n in out.split())
        except (OSError, subprocess.SubprocessError, ValueError):
            _checked[exe] = None
    return _checked[exe]
