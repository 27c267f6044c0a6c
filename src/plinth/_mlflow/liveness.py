"""Heartbeats for runs created through MLflow, sent while the process that uses them lives.

Plinth fails an active run whose heartbeat is older than the store's ``heartbeat_timeout``
(so a killed process never leaves a run Running forever). MLflow clients send no
heartbeats, so the process that creates or resumes an MLflow run beats for it, on Plinth's
metric flusher thread, until MLflow ends the run. A run whose last such process exits
without ending it ends Failed once the timeout passes (MLflow's own stores would leave it
Running). A cancel asked from Plinth (``run.cancel()``) ends the run Canceled, since no
Plinth worker owns its process.
"""

from __future__ import annotations

import threading

from plinth._location import heartbeat_interval
from plinth._store import RunStatus, Store
from plinth._tracking import MetricBuffer

__all__ = ["keep_alive", "release", "release_all"]

_beating: dict[str, MetricBuffer] = {}
_lock = threading.Lock()


def keep_alive(store: Store, run_id: str) -> None:
    """Heartbeat ``run_id`` from this process until :func:`release`."""
    with _lock:
        if run_id in _beating and not _beating[run_id].closed:
            return
        _beating[run_id] = MetricBuffer(
            store, run_id, heartbeat_every=heartbeat_interval(),
            on_cancel=lambda: _stopped(store, run_id),
        )


def release(run_id: str) -> None:
    with _lock:
        buffer = _beating.pop(run_id, None)
    if buffer is not None:
        buffer.close()


def release_all() -> None:
    for run_id in list(_beating):
        release(run_id)


def _stopped(store: Store, run_id: str) -> None:
    """The heartbeat said stop: cancel was asked (end it Canceled) or the run has ended."""
    release(run_id)
    store.set_status(run_id, RunStatus.CANCELED)  # a no-op when the run has already ended
