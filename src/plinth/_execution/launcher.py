"""A per-user launcher that starts run workers by forking a warm interpreter.

Starting a worker as a fresh ``python -m plinth._execution.worker`` costs a full
interpreter start and the SQLAlchemy import (about a second on a small machine). The
launcher is a single-threaded process that has those modules loaded already; submitting a
run sends it one JSON line over a Unix socket and it forks a worker in milliseconds. The
worker is the same code either way; if the launcher is not running the run starts the slow
way while a launcher is started for the next one, and ``PLINTH_LAUNCHER=0`` turns it off.
The launcher exits after ``IDLE_SECONDS`` without requests; its workers do not need it.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib
import json
import os
import selectors
import signal
import socket
import sys
import time
from pathlib import Path

from plinth._location import plinth_home

__all__ = ["request_worker", "socket_path", "main"]

IDLE_SECONDS = 600.0
WORKER = "plinth._execution.worker"
#: The modules a launcher forks: each has ``main([run_id])``.
MODULES = (WORKER, "plinth._pipelines.driver", "plinth._tuning.driver",
           "plinth._automl.driver")
_CONNECT_TIMEOUT = 2.0


def enabled() -> bool:
    return os.environ.get("PLINTH_LAUNCHER", "1") != "0"


def socket_path() -> Path:
    """One launcher per interpreter and code version: a changed install gets a new one."""
    package = Path(__file__).resolve().parents[1]
    stamp = max(p.stat().st_mtime_ns for p in package.rglob("*.py"))
    key = hashlib.sha256(f"{sys.executable}|{package}|{stamp}".encode()).hexdigest()[:16]
    # Unix socket paths are limited to ~100 bytes, so keep them short and outside deep homes.
    folder = Path(os.environ.get("XDG_RUNTIME_DIR") or "/tmp") / f"plinth-{os.getuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder / f"launcher-{key}.sock"


def request_worker(run_id: str, env: dict[str, str], module: str = WORKER) -> int | None:
    """Ask a running launcher to fork ``module`` (one of MODULES) for ``run_id``; its pid, or
    None if no launcher answered (then one is started for next time)."""
    path = socket_path()
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(_CONNECT_TIMEOUT)
            sock.connect(str(path))
            sock.sendall(json.dumps({"run_id": run_id, "env": env, "module": module}).encode()
                         + b"\n")
            reply = sock.makefile("rb").readline()
        return int(json.loads(reply)["pid"])
    except (OSError, ValueError, KeyError):
        _start_launcher(path)
        return None


def _start_launcher(path: Path) -> None:
    from plinth._compute import start_detached

    log = path.with_suffix(".log")
    try:
        start_detached([sys.executable, "-m", "plinth._execution.launcher", str(path)],
                       env={**os.environ, "PLINTH_HOME": str(plinth_home())}, log_path=log,
                       cwd="/")
    except OSError:
        pass  # runs still start the slow way


def _preload() -> None:
    """Import what every worker needs, so forked workers start warm."""
    import sqlalchemy.dialects.sqlite  # noqa: F401

    try:
        import psycopg  # noqa: F401
        import sqlalchemy.dialects.postgresql  # noqa: F401
    except ImportError:
        pass
    import fsspec.implementations.local  # noqa: F401

    for module in MODULES:
        importlib.import_module(module)


def _fork_worker(run_id: str, env: dict[str, str], listener: socket.socket,
                 module: str = WORKER) -> int:
    if module not in MODULES:
        raise ValueError(f"the launcher does not start {module!r}")
    pid = os.fork()
    if pid:
        return pid
    # In the worker: a session of its own, the submitter's environment, default signals.
    code = 1
    try:
        listener.close()
        os.setsid()
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.environ.clear()
        os.environ.update(env)
        _reload_environment_config()
        code = importlib.import_module(module).main([run_id])
    finally:
        os._exit(code)


def _reload_environment_config() -> None:
    """fsspec reads its settings (``FSSPEC_S3_ENDPOINT_URL``, ...) from the environment when
    imported: the launcher's, not the submitter's. Read them again from the submitter's."""
    import fsspec.config

    fsspec.config.conf.clear()
    fsspec.config.set_conf_files(
        os.environ.get("FSSPEC_CONFIG_DIR", fsspec.config.conf_dir), fsspec.config.conf)
    fsspec.config.set_conf_env(fsspec.config.conf, os.environ)


def serve(path: Path) -> None:
    lock = open(f"{path}.lock", "w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return  # another launcher owns this socket
    _preload()
    path.unlink(missing_ok=True)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(64)
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)
    last_request = time.monotonic()
    try:
        while time.monotonic() - last_request < IDLE_SECONDS:
            for _ in selector.select(timeout=1.0):
                conn, _ = listener.accept()
                with conn:
                    conn.settimeout(5.0)
                    try:
                        request = json.loads(conn.makefile("rb").readline())
                        pid = _fork_worker(request["run_id"], request["env"], listener,
                                           request.get("module", WORKER))
                        conn.sendall(json.dumps({"pid": pid}).encode() + b"\n")
                    except (OSError, ValueError, KeyError) as exc:
                        print(f"bad launch request: {exc!r}", file=sys.stderr, flush=True)
                last_request = time.monotonic()
            _reap()
    finally:
        path.unlink(missing_ok=True)
        listener.close()


def _reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    serve(Path(argv[0]) if argv else socket_path())
    return 0


if __name__ == "__main__":
    sys.exit(main())
