"""Commands run as Ray tasks, and the Ray cluster Plinth keeps on this machine.

The local cluster is one ``ray start --head --block`` per ``PLINTH_HOME``, run by a small
detached helper (``_serve``) that stops it after ``idle_seconds`` without jobs. Its state
lives in ``$PLINTH_HOME/ray/``: ``cluster.json`` (address, helper pid), ``lock`` (held to
start or stop it), ``jobs/<pid>-<id>`` (one per job using it) and ``last-used`` (when the
last job ended, and the idle time it asked for).
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import psutil

from plinth._compute.local import alive, free_port
from plinth.exceptions import ComputeTargetException

__all__ = [
    "WorkerDied",
    "ensure_local_cluster",
    "local_cluster",
    "run_command",
    "stop_local_cluster",
]

_START_TIMEOUT = 120.0
_STOP_TIMEOUT = 30.0
_PR_SET_PDEATHSIG = 1


class WorkerDied(ComputeTargetException):
    """The Ray worker process running a command died (killed, out of memory, node lost)."""


# -- the local cluster -------------------------------------------------------------------------


def _dir() -> Path:
    from plinth._location import plinth_home

    return plinth_home() / "ray"


@contextlib.contextmanager
def _locked(folder: Path, blocking: bool = True) -> Iterator[bool]:
    """Hold ``folder/lock``; yields False when ``blocking`` is off and someone else holds it."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "lock", "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _read_state(folder: Path) -> dict[str, Any] | None:
    """The running cluster's state, or None when there is none or its helper died."""
    try:
        state = json.loads((folder / "cluster.json").read_text())
        helper = psutil.Process(state["pid"])
        # A recycled pid is another process: compare start times.
        if (abs(helper.create_time() - state["pid_created"]) < 1
                and helper.status() != psutil.STATUS_ZOMBIE):
            return state
    except (OSError, ValueError, KeyError, psutil.Error):
        pass
    return None


def _forget(folder: Path) -> None:
    """Remove what a cluster whose helper was killed left behind."""
    with contextlib.suppress(OSError, ValueError, KeyError):
        shutil.rmtree(json.loads((folder / "cluster.json").read_text())["temp_dir"],
                      ignore_errors=True)
    (folder / "cluster.json").unlink(missing_ok=True)


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)


def _touch(folder: Path, idle_seconds: float) -> None:
    _write_json(folder / "last-used", idle_seconds)


def ensure_local_cluster(idle_seconds: float) -> str:
    """The address of this machine's Plinth Ray cluster, started when none is up. It stops
    itself ``idle_seconds`` after its last job (see ``local_cluster``) or this call."""
    folder = _dir()
    with _locked(folder):
        state = _read_state(folder)
        if state is None:
            _forget(folder)
            state = _start(folder, idle_seconds)
        _touch(folder, idle_seconds)
        return state["address"]


@contextlib.contextmanager
def local_cluster(idle_seconds: float) -> Iterator[str]:
    """The local cluster's address, kept up (registered as a job) while the block runs."""
    jobs = _dir() / "jobs"
    jobs.mkdir(parents=True, exist_ok=True)
    job = jobs / f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    job.write_text(str(idle_seconds))
    try:
        yield ensure_local_cluster(idle_seconds)
    finally:
        job.unlink(missing_ok=True)
        _touch(_dir(), idle_seconds)


def stop_local_cluster() -> None:
    """Stop this machine's Plinth Ray cluster, if one is up, and wait until it is gone."""
    folder = _dir()
    with _locked(folder):
        state = _read_state(folder)
        if state is not None:
            _stop_helper(state["pid"])
        (folder / "cluster.json").unlink(missing_ok=True)


def _stop_helper(pid: int) -> None:
    try:
        helper = psutil.Process(pid)
        helper.terminate()
        helper.wait(_STOP_TIMEOUT)
    except psutil.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)  # the helper leads its own session
    except psutil.NoSuchProcess:
        pass


def _start(folder: Path, idle_seconds: float) -> dict[str, Any]:
    """Start the helper (which starts Ray) and wait until the cluster answers."""
    from plinth._compute.local import start_detached

    # Ray's Unix socket paths must stay under ~107 bytes: a short folder, new per start.
    temp_dir = tempfile.mkdtemp(prefix="plinth-ray-", dir="/tmp")
    ray_start = [
        sys.executable, "-c", "from ray.scripts.scripts import main; main()",
        "start", "--head", "--block", "--port", str(free_port("")),
        "--num-cpus", str(os.cpu_count() or 1),
        # Runs ask for memory clamped to this machine, so offer all of it (Ray's default is
        # ~70% of what is free now).
        "--memory", str(psutil.virtual_memory().total),
        "--include-dashboard=false", "--disable-usage-stats", "--temp-dir", temp_dir,
    ]
    config = {"folder": str(folder), "idle_seconds": idle_seconds, "temp_dir": temp_dir,
              "command": ray_start}
    log = folder / "head.log"
    pid = start_detached(
        [sys.executable, "-c", "import sys; from plinth._compute.ray import _serve; "
         "_serve(sys.argv[1])", json.dumps(config)],
        env=_cluster_env(), log_path=log, cwd="/")
    address_file = Path(temp_dir) / "ray_current_cluster"
    deadline = time.monotonic() + _START_TIMEOUT
    while not address_file.is_file() or not address_file.read_text().strip():
        if not alive(pid):
            raise ComputeTargetException(
                f"The local Ray cluster did not start; see {log}:\n{_tail(log)}")
        if time.monotonic() > deadline:
            _stop_helper(pid)
            raise ComputeTargetException(
                f"The local Ray cluster did not start within {_START_TIMEOUT:g} s; see {log}.")
        time.sleep(0.2)
    state = {"address": address_file.read_text().strip(), "pid": pid,
             "pid_created": psutil.Process(pid).create_time(), "temp_dir": temp_dir}
    _write_json(folder / "cluster.json", state)
    return state


def _cluster_env() -> dict[str, str]:
    """The caller's environment without what belongs to its run or workspace (credentials
    among them): the cluster outlives the caller, and tasks get their own environment."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PLINTH_", "AZUREML_", "MLFLOW_", "RAY_ADDRESS"))}
    return {**env, "RAY_USAGE_STATS_ENABLED": "0"}


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _serve(raw_config: str) -> None:
    """The helper process: run Ray until it is idle for long enough or told to stop."""
    config = json.loads(raw_config)
    folder = Path(config["folder"])
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    # If this helper is killed, Ray gets SIGTERM and shuts down its own processes.
    ray = subprocess.Popen(config["command"], stdin=subprocess.DEVNULL,
                           preexec_fn=_pdeathsig(signal.SIGTERM))
    started = time.time()
    try:
        while not stopping.wait(min(1.0, max(config["idle_seconds"] / 4, 0.1))):
            if ray.poll() is not None:
                return
            with _locked(folder, blocking=False) as locked:
                # Decide under the lock, so no caller is handed an address that is going.
                if locked and _idle(folder, started, config["idle_seconds"]):
                    (folder / "cluster.json").unlink(missing_ok=True)
                    _stop_ray(ray)
                    return
    finally:
        _stop_ray(ray)
        shutil.rmtree(config["temp_dir"], ignore_errors=True)


def _idle(folder: Path, started: float, idle_seconds: float) -> bool:
    jobs = folder / "jobs"
    for job in jobs.iterdir() if jobs.is_dir() else ():
        try:
            if psutil.pid_exists(int(job.name.split("-")[0])):
                return False
        except ValueError:
            pass
        job.unlink(missing_ok=True)  # its process died without unregistering
    try:
        last = folder / "last-used"
        since, idle_seconds = last.stat().st_mtime, float(json.loads(last.read_text()))
    except (OSError, ValueError):
        since = started
    return time.time() - since >= idle_seconds


def _stop_ray(ray: subprocess.Popen) -> None:
    if ray.poll() is not None:
        return
    ray.terminate()  # ``ray start --block`` stops every Ray process it started
    try:
        ray.wait(_STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        ray.kill()
        ray.wait()


# -- commands as Ray tasks ---------------------------------------------------------------------

_connected: str | None = None
_connect_lock = threading.Lock()
_task: Any = None


def _pdeathsig(sig: int) -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes the child get ``sig`` when its parent dies. libc is loaded
    here, before the fork: loading it in the child of a threaded process may deadlock."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL("libc.so.6", use_errno=True).prctl
    except OSError:
        return None
    return lambda: prctl(_PR_SET_PDEATHSIG, sig)


def _execute(command: list[str], env: dict[str, str], cwd: str | None) -> int:
    """The Ray task: run ``command`` and return its exit code. It dies with the Ray worker."""
    process = subprocess.Popen(command, env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                               preexec_fn=_pdeathsig(signal.SIGKILL))
    try:
        return process.wait()
    except BaseException:
        process.kill()
        raise


def _connect(address: str) -> Any:
    """Ray, connected to ``address`` (once per process)."""
    global _connected, _task
    import ray

    with _connect_lock:
        if _connected == address and ray.is_initialized():
            return ray
        _check_reachable(address)
        if ray.is_initialized():
            ray.shutdown()
        try:
            ray.init(address=address, namespace="plinth", log_to_driver=False,
                     logging_level=logging.WARNING)
        except Exception as exc:  # noqa: BLE001 - ray raises many kinds here
            raise ComputeTargetException(
                f"Could not connect to the Ray cluster at {address!r}: {exc}") from exc
        _connected = address
        _task = ray.remote(_execute)
        return ray


def _check_reachable(address: str) -> None:
    """Fail fast: ``ray.init`` retries an unreachable address for minutes."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        return  # "auto" and the like: let Ray resolve it
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=5).close()
    except OSError as exc:
        raise ComputeTargetException(
            f"The Ray cluster at {address!r} is not reachable ({exc}). Start it (ray start "
            "--head) or fix the compute target's address."
        ) from exc


def _check_feasible(ray: Any, address: str, num_cpus: float, memory_bytes: int | None) -> None:
    """Ray would queue a task no node can ever run forever; say so instead."""
    nodes = [n["Resources"] for n in ray.nodes() if n.get("Alive")]
    if any(r.get("CPU", 0) >= num_cpus and r.get("memory", 0) >= (memory_bytes or 0)
           for r in nodes):
        return
    sizes = ", ".join(f"{r.get('CPU', 0):g} CPUs / {r.get('memory', 0) / 2**30:.1f} GB"
                      for r in nodes) or "no nodes"
    wanted = f"{num_cpus:g} CPUs" + (f" and {memory_bytes / 2**30:.1f} GB of memory"
                                     if memory_bytes else "")
    raise ComputeTargetException(
        f"No node of the Ray cluster at {address!r} has {wanted} ({sizes}); ask for less or "
        "add a bigger node.")


def run_command(address: str, command: Sequence[str], env: Mapping[str, str],
                cwd: str | None = None, num_cpus: float = 1.0, memory_bytes: int | None = None,
                *, poll: Callable[[], bool] | None = None, poll_interval: float = 1.0,
                ) -> int | None:
    """Run ``command`` as one Ray task (never retried) on the cluster at ``address``; return
    its exit code. ``poll`` is called every ``poll_interval`` seconds while it waits or runs;
    when it returns True the task is cancelled (its process killed) and None is returned.
    Raises ``WorkerDied`` when the Ray worker running it dies."""
    ray = _connect(address)
    _check_feasible(ray, address, num_cpus, memory_bytes)
    options: dict[str, Any] = {"num_cpus": num_cpus, "max_retries": 0}
    if memory_bytes:
        options["memory"] = int(memory_bytes)
    ref = _task.options(**options).remote(list(command), dict(env), cwd)
    died = (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError,
            ray.exceptions.LocalRayletDiedError, ray.exceptions.OutOfMemoryError)
    try:
        while True:
            ready, _ = ray.wait([ref], timeout=poll_interval)
            if ready:
                return ray.get(ref)
            if poll is not None and poll():
                ray.cancel(ref, force=True)
                with contextlib.suppress(ray.exceptions.RayError):
                    ray.wait([ref], timeout=_STOP_TIMEOUT)
                return None
    except died as exc:
        raise WorkerDied(str(exc)) from exc
