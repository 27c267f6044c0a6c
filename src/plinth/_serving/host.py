"""The scoring service's process: ``python -m plinth._serving.host SPEC_FILE --port PORT
[--workers N] [--host 127.0.0.1]``.

One worker serves in this process. With N > 1 this process binds the port and starts N
worker processes that share its socket, each loading the script and running ``init()`` once;
when one exits (an ``init()`` that failed exits 3), the others are stopped and this process
exits with its code, so the service fails as a whole rather than restarting a broken worker
forever. ``uvicorn --factory plinth._serving.host:app_from_env`` (with ``PLINTH_SERVING_SPEC``
set) serves the same app under a plain uvicorn.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from plinth._serving.scoring import ServiceSpec, create_app, exit_process
from plinth.exceptions import WebserviceException

__all__ = ["SPEC_ENV", "INIT_FAILED", "app_from_env", "build_app", "main", "serve",
           "wait_ready"]

SPEC_ENV = "PLINTH_SERVING_SPEC"
INIT_FAILED = 3  # uvicorn's STARTUP_FAILURE too


def build_app(spec_path: str | os.PathLike) -> Any:
    """The app for the spec in ``spec_path``, run from its source directory (as azureml runs
    scripts from the app root); a failed ``init()`` ends the process with code 3."""
    spec = ServiceSpec.load(spec_path)
    if spec.source_directory:
        os.chdir(spec.source_directory)
    return create_app(spec, on_init_failure=exit_process(INIT_FAILED))


def app_from_env() -> Any:
    """uvicorn's factory: the app for the spec file named by ``PLINTH_SERVING_SPEC``."""
    path = os.environ.get(SPEC_ENV)
    if not path:
        raise RuntimeError(f"Set {SPEC_ENV} to the path of the service's spec file.")
    return build_app(path)


def _config(app: Any, host: str, port: int, log_level: str) -> Any:
    import uvicorn

    return uvicorn.Config(app, host=host, port=port, log_level=log_level, access_log=False,
                          lifespan="on", timeout_graceful_shutdown=5)


def serve(spec_path: str, host: str = "127.0.0.1", port: int = 8000, workers: int = 1,
          log_level: str = "warning") -> int:
    """Serve until stopped (SIGTERM/SIGINT); returns the exit code."""
    if workers < 1:
        raise ValueError(f"workers={workers}: use 1 or more.")
    if workers == 1:
        import uvicorn

        server = uvicorn.Server(_config(build_app(spec_path), host, port, log_level))
        server.run()
        return 0 if server.started else INIT_FAILED
    return _supervise(spec_path, host, port, workers, log_level)


def _worker(spec_path: str, sock: socket.socket, log_level: str) -> None:
    """A worker process: one app on the socket its parent bound."""
    import uvicorn

    server = uvicorn.Server(_config(build_app(spec_path), "127.0.0.1", 0, log_level))
    server.run(sockets=[sock])
    sys.exit(0 if server.started else INIT_FAILED)


def _supervise(spec_path: str, host: str, port: int, workers: int, log_level: str) -> int:
    """Start ``workers`` processes on one socket; stop them all when one exits or when this
    process is told to stop."""
    sock = _config("unused", host, port, log_level).bind_socket()
    multiprocessing.allow_connection_pickling()
    spawn = multiprocessing.get_context("spawn")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    procs = [spawn.Process(target=_worker, args=(spec_path, sock, log_level),
                           name=f"scoring-worker-{i}") for i in range(workers)]
    for proc in procs:
        proc.start()
    code = 0
    try:
        while not stop.wait(0.2):
            ended = next((p for p in procs if p.exitcode is not None), None)
            if ended is not None:
                code = ended.exitcode if ended.exitcode >= 0 else 128 - ended.exitcode
                print(f"Worker {ended.pid} exited with code {ended.exitcode}; stopping the "
                      "service.", file=sys.stderr, flush=True)
                break
    finally:
        _stop_all(procs)
        sock.close()
    return code


def _stop_all(procs: list[Any], grace: float = 10) -> None:
    for proc in procs:
        if proc.is_alive():
            proc.terminate()
    deadline = time.monotonic() + grace
    for proc in procs:
        proc.join(max(0.0, deadline - time.monotonic()))
        if proc.is_alive():
            proc.kill()
            proc.join()


# -- for whoever starts the process --------------------------------------------------------


def log_tail(path: str | os.PathLike | None, chars: int = 4000) -> str:
    """The end of a log file ('' when there is none)."""
    if not path or not Path(path).is_file():
        return ""
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        f.seek(max(0, f.tell() - chars))
        return f.read().decode("utf-8", errors="replace")


def wait_ready(url: str, timeout: float, process: subprocess.Popen,
               log_path: str | os.PathLike | None = None, interval: float = 0.2) -> None:
    """Wait until the service at ``url`` answers ``GET /ready`` with 200; raise
    ``WebserviceException`` with the end of ``log_path`` if ``process`` exits first or the
    service is not ready within ``timeout`` seconds."""
    import httpx

    deadline = time.monotonic() + timeout
    ready_url = f"{url.rstrip('/')}/ready"
    while True:
        code = process.poll()
        if code is not None:
            raise WebserviceException(
                f"The scoring service exited with code {code} before it was ready. The end of "
                f"its log:\n{log_tail(log_path)}"
            )
        try:
            if httpx.get(ready_url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise WebserviceException(
                f"The scoring service at {url} was not ready within {timeout} s (init() may "
                f"still be running; wait longer or make it faster). The end of its log:\n"
                f"{log_tail(log_path)}"
            )
        time.sleep(interval)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m plinth._serving.host",
                                     description="Serve a scoring script over HTTP.")
    parser.add_argument("spec_file", help="the service's spec (ServiceSpec JSON)")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--workers", type=int, default=1,
                        help="processes, each running init() once")
    parser.add_argument("--log-level", default="warning", help="uvicorn's own log level")
    args = parser.parse_args(argv)
    return serve(str(Path(args.spec_file).resolve()), args.host, args.port, args.workers,
                 args.log_level)


if __name__ == "__main__":
    # The functions worker processes run must be pickled by their module's real name.
    from plinth._serving import host

    sys.exit(host.main())
