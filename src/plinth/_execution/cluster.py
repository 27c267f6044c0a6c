"""The driver of a run on a training cluster: ``python -m plinth._execution.cluster RUN_ID``.

Started by ``submit`` instead of the worker when the run's definition names an
``AmlCompute`` or ``Ray`` compute target. For ``AmlCompute`` it first takes one of the
target's ``max_nodes`` slots (so at most that many of its runs run at once), keeping the run
Queued and alive meanwhile; then it runs the usual worker (``plinth._execution.worker``) as
a Ray task, on this machine's local cluster (AmlCompute) or the attached one (Ray). The worker
does everything else; this process only maps a lost Ray worker to a failed run.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import sys
import threading
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from plinth._compute import WorkerDied, local_cluster, run_command
from plinth._location import ENV_WORKSPACE, WorkspaceLocation, heartbeat_interval, plinth_home
from plinth._store import TERMINAL_STATUSES, RunStatus, Store

__all__ = ["main", "CLUSTER_KINDS", "ENV_RAY_ADDRESS"]

#: The Ray cluster of AmlCompute targets, when not this machine's own.
ENV_RAY_ADDRESS = "PLINTH_RAY_ADDRESS"

#: Compute kinds whose runs this driver runs; others run on this machine's worker.
CLUSTER_KINDS = ("AmlCompute", "Ray")
_DEFAULT_IDLE_SECONDS = 1800.0


class _Keepalive(threading.Thread):
    """Heartbeats a Queued run until its worker starts it; notes when it was canceled (or
    ended otherwise) before that."""

    def __init__(self, store: Store, run_id: str):
        super().__init__(daemon=True)
        self.store, self.run_id = store, run_id
        self.ended = threading.Event()
        self._stop = threading.Event()

    def run(self) -> None:
        interval = min(heartbeat_interval(), 1.0)
        while not self._stop.is_set():
            try:
                status = self.store.get_run(self.run_id).status
                if status in TERMINAL_STATUSES:
                    self.ended.set()
                    return
                if status != RunStatus.QUEUED:
                    return  # the worker runs it, and heartbeats it itself
                if self.store.heartbeat(self.run_id):
                    self.ended.set()  # canceled while Queued: request_cancel already ended it
                    return
            except Exception as exc:  # noqa: BLE001 - a store hiccup must not end the beats
                print(f"heartbeat of {self.run_id} failed: {exc!r}", file=sys.stderr)
            self._stop.wait(interval)

    def stop(self) -> None:
        self._stop.set()


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)


@contextlib.contextmanager
def _slot(folder: Path, count: int, keepalive: _Keepalive) -> Iterator[bool]:
    """Hold one of ``count`` slot locks in ``folder``; yields False when the run ended
    while waiting for one."""
    folder.mkdir(parents=True, exist_ok=True)
    while True:
        for i in range(count):
            lock = open(folder / f"slot-{i}.lock", "a")
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                lock.close()
                continue
            try:
                yield True
            finally:
                lock.close()  # closing releases the lock
            return
        if keepalive.ended.wait(0.25):
            yield False
            return


@contextlib.contextmanager
def _training_cluster(idle_seconds: float) -> Iterator[str]:
    """The Ray cluster AmlCompute runs go to: ``$PLINTH_RAY_ADDRESS`` when set (a team's
    cluster), else this machine's, started on demand and stopped when idle."""
    configured = os.environ.get(ENV_RAY_ADDRESS)
    if configured:
        yield configured
        return
    with local_cluster(idle_seconds) as address:
        yield address


def _drive(location: WorkspaceLocation, run_id: str, store: Store) -> None:
    compute = (store.get_run(run_id).definition or {})["compute"]
    config: dict[str, Any] = compute.get("config") or {}
    memory_gb = config.get("memory_gb")
    resources = {"num_cpus": float(config.get("cpus") or 1),
                 "memory_bytes": int(memory_gb * 2**30) if memory_gb else None}
    command = [sys.executable, "-m", "plinth._execution.worker", run_id]
    keepalive = _Keepalive(store, run_id)
    keepalive.start()
    try:
        if compute["kind"] == "Ray":
            code = run_command(config["address"], command, dict(os.environ),
                               poll=keepalive.ended.is_set, **resources)
        else:
            folder = plinth_home() / "compute" / _safe(f"{location.name}-{compute['name']}")
            idle = float(config.get("idle_seconds_before_scaledown", _DEFAULT_IDLE_SECONDS))
            with _slot(folder, max(int(config.get("max_nodes") or 1), 1), keepalive) as got:
                if not got:
                    return
                with _training_cluster(idle) as address:
                    code = run_command(address, command, dict(os.environ),
                                       poll=keepalive.ended.is_set, **resources)
    finally:
        keepalive.stop()
    if code is None:  # canceled before its worker started it
        store.set_status(run_id, RunStatus.CANCELED)
    elif store.get_run(run_id).is_active:
        store.set_status(run_id, RunStatus.FAILED, error={
            "code": "SystemError",
            "message": f"The run's worker exited with code {code} before finishing the run."})


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    run_id = argv[0]
    location = WorkspaceLocation.from_env()
    if location is None:
        print(f"{ENV_WORKSPACE} is not set; the driver is started by experiment.submit().")
        return 2
    store = location.store()
    try:
        _drive(location, run_id, store)
        return 0
    except WorkerDied as exc:
        store.set_status(run_id, RunStatus.FAILED, error={
            "code": "NodeFailure", "message": f"The Ray worker running this run died: {exc}"})
        return 1
    except BaseException as exc:  # noqa: BLE001 - the run must not stay active
        detail = traceback.format_exc()
        print(detail, file=sys.stderr)
        store.set_status(run_id, RunStatus.FAILED, error={
            "code": "SystemError", "message": f"The run could not be executed: {exc}",
            "traceback": detail[-4000:]})
        return 1


if __name__ == "__main__":
    sys.exit(main())
