"""The workspace server's service supervisor: a service whose process died is started again.

Each server process runs one (``PLINTH_SUPERVISOR=0`` turns it off). Every
``PLINTH_SUPERVISOR_INTERVAL`` seconds (default 5) it looks at the services of every
workspace that run on this machine and were Healthy or Unhealthy, and restarts those whose
process is gone, through the same ``deploy.start`` a deployment uses. A lock file per service
keeps two server processes from restarting one service twice. A service that failed to
start (Failed) stays failed: restarting it would fail the same way. AKS services are Ray
Serve's to keep alive.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from plinth._compute import alive
from plinth._location import WorkspaceLocation, plinth_home
from plinth._serving import deploy
from plinth._store import ServiceRecord, Store

__all__ = ["Supervisor", "restart_dead"]

log = logging.getLogger(__name__)

LocationOf = Callable[[str], WorkspaceLocation]
_WATCHED_STATES = ("Healthy", "Unhealthy")


def supervisor_interval() -> float:
    return float(os.environ.get("PLINTH_SUPERVISOR_INTERVAL", "5"))


def restart_dead(store: Store, location_of: LocationOf) -> list[str]:
    """One pass: restart this machine's dead services; returns the names restarted."""
    restarted = []
    for record in store.list_services(None):
        if not _needs_restart(record):
            continue
        with _claimed(record) as mine:
            if not mine:
                continue
            fresh = store.get_service(record.workspace_id, record.name)
            if not _needs_restart(fresh):
                continue
            log.warning("Service %r (pid %s) is not running; starting it again.",
                        record.name, record.pid)
            try:
                location = location_of(record.workspace_id)
                started = deploy.start(location, fresh)
                deploy.wait_ready(location, started, timeout=300)
                restarted.append(record.name)
            except Exception:  # noqa: BLE001 - one service must not stop the others
                log.exception("Could not restart service %r.", record.name)
    return restarted


def _needs_restart(record: ServiceRecord) -> bool:
    return (record.kind != "AKS" and record.state in _WATCHED_STATES
            and record.host == socket.gethostname() and not alive(record.pid))


@contextlib.contextmanager
def _claimed(record: ServiceRecord) -> Iterator[bool]:
    path = plinth_home() / "services" / ".locks" / f"{record.workspace_id}-{record.name}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(Path(path), "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class Supervisor:
    """Calls :func:`restart_dead` every ``interval`` seconds on a daemon thread."""

    def __init__(self, store: Store, location_of: LocationOf, interval: float | None = None):
        self.store = store
        self.location_of = location_of
        self.interval = interval if interval is not None else supervisor_interval()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stopping.clear()
        self._thread = threading.Thread(target=self._loop, name="plinth-supervisor",
                                        daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _loop(self) -> None:
        while not self._stopping.wait(self.interval):
            try:
                restart_dead(self.store, self.location_of)
            except Exception:  # noqa: BLE001 - the store may be briefly unreachable
                log.exception("The service supervisor's pass failed; it tries again.")
