"""Shared helpers for the benchmarks: peer virtual environments, results and tables.

A peer (MLflow, ...) lives in its own venv next to this file (``benchmarks/.venv-<name>``,
git-ignored) so that it never shares packages with Plinth. ``peer_python`` creates it on
first use with ``uv venv`` + ``uv pip install`` and returns its interpreter.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


class PeerUnavailable(RuntimeError):
    """The peer's venv could not be built or used; the message says why and what to do."""


def find_uv() -> str:
    """The ``uv`` next to this interpreter, else the one on PATH."""
    local = Path(sys.executable).parent / "uv"
    if local.is_file() and os.access(local, os.X_OK):
        return str(local)
    found = shutil.which("uv")
    if found:
        return found
    raise PeerUnavailable(
        "uv was not found next to the interpreter or on PATH; install it "
        "(`pip install uv`) to let the benchmark build the peer's venv."
    )


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock file, so two benchmark runs do not build the same venv at once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _run(cmd: Sequence[str], what: str, timeout: float) -> None:
    try:
        proc = subprocess.run(list(cmd), check=False, capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        raise PeerUnavailable(f"{what} took over {timeout:.0f} s: {' '.join(cmd)}") from None
    except OSError as exc:
        raise PeerUnavailable(f"{what} could not start ({exc}): {' '.join(cmd)}") from None
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
        raise PeerUnavailable(
            f"{what} failed (exit {proc.returncode}): {' '.join(cmd)}\n{tail}"
        )


def peer_python(name: str, packages: Sequence[str], import_name: str,
                *, timeout: float = 900.0, quiet: bool = False) -> Path:
    """The interpreter of ``benchmarks/.venv-<name>``, created and filled on first use.

    The venv counts as ready when ``import <import_name>`` works in it; otherwise it is
    (re)built. Raises ``PeerUnavailable`` with the failing command and its output.
    """
    venv = HERE / f".venv-{name}"
    python = venv / "bin" / "python"
    with _locked(venv / ".build.lock"):  # inside the (git-ignored) venv folder
        if python.exists() and _imports(python, import_name):
            return python
        uv = find_uv()
        if not quiet:
            print(f"Building the {name} venv at {venv} (uv pip install {' '.join(packages)}); "
                  "this happens once...", file=sys.stderr, flush=True)
        started = time.perf_counter()
        # The benchmark's own base interpreter, so interpreter speed is not a factor.
        base = getattr(sys, "_base_executable", None) or sys.executable
        _run([uv, "venv", "--quiet", "--allow-existing", "--python", base, str(venv)],
             f"Creating the {name} venv", timeout)
        _run([uv, "pip", "install", "--quiet", "--python", str(python), *packages],
             f"Installing {' '.join(packages)} into {venv}", timeout)
        if not _imports(python, import_name):
            raise PeerUnavailable(
                f"{venv} was built but `import {import_name}` fails in it; delete the folder "
                "and run the benchmark again."
            )
        if not quiet:
            print(f"Built the {name} venv in {time.perf_counter() - started:.0f} s.",
                  file=sys.stderr, flush=True)
        return python


def _imports(python: Path, module: str) -> bool:
    try:
        proc = subprocess.run([str(python), "-c", f"import {module}"], check=False,
                              capture_output=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0


def run_json(cmd: Sequence[str], what: str, timeout: float,
             env: dict[str, str] | None = None, cwd: Path | None = None) -> dict[str, Any]:
    """Run ``cmd`` and parse the last stdout line that is a JSON object."""
    try:
        proc = subprocess.run(list(cmd), check=False, capture_output=True, text=True,
                              timeout=timeout, env=env, cwd=cwd)
    except subprocess.TimeoutExpired:
        raise PeerUnavailable(f"{what} took over {timeout:.0f} s.") from None
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-20:])
        raise PeerUnavailable(f"{what} failed (exit {proc.returncode}):\n{tail}")
    for line in reversed(proc.stdout.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                continue
    raise PeerUnavailable(f"{what} printed no JSON result; stdout was:\n{proc.stdout[-2000:]}")


def machine_info() -> dict[str, Any]:
    try:
        from plinth import __version__ as plinth_version
    except ImportError:  # pragma: no cover - the benchmarks run in Plinth's venv
        plinth_version = None
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "plinth": plinth_version,
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def write_result(name: str, data: dict[str, Any]) -> Path:
    """Write ``benchmarks/results/<name>.json``; returns its path."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")
    return path


def verdict(ok: bool | None) -> str:
    if ok is None:
        return "[yellow]n/a[/]"
    return "[green]PASS[/]" if ok else "[red]FAIL[/]"


def load_note(console: Any) -> float:
    """The 1-minute load average (which counts a script's previous part too), printed with a
    note when it exceeds the CPU count: other processes then compete with the one measured."""
    load = os.getloadavg()[0]
    cpus = os.cpu_count() or 1
    if load > cpus:
        console.print(f"[yellow]note:[/] load average {load:.1f} on {cpus} CPUs: other "
                      "processes compete for the CPUs; compare ratios from a quieter run.")
    else:
        console.print(f"[dim]load average {load:.1f} on {cpus} CPUs[/]")
    return load

