"""``MetricBuffer``: ``run.log`` appends to memory; one background thread writes batches.

A training loop can log a point per step: appending costs well under a microsecond, and the
flusher thread writes everything logged so far at least once a second, on ``flush()``, and
when the process exits. The same thread sends heartbeats for runs this process owns.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any

from plinth._store import MetricPoint, Store

__all__ = ["MetricBuffer", "flush_all"]

log = logging.getLogger(__name__)

FLUSH_INTERVAL = 1.0

_buffers: "weakref.WeakSet[MetricBuffer]" = weakref.WeakSet()
_registry_lock = threading.Lock()
_thread: threading.Thread | None = None
_wake = threading.Event()


class MetricBuffer:
    """Points waiting to be written for one run, plus that run's heartbeat if it owns one."""

    def __init__(self, store: Store, run_id: str, *, heartbeat_every: float | None = None,
                 on_cancel: Callable[[], None] | None = None):
        self.store = store
        self.run_id = run_id
        self.heartbeat_every = heartbeat_every
        self.on_cancel = on_cancel
        self._pending: deque[MetricPoint] = deque()
        self._write_lock = threading.Lock()
        self._last_heartbeat = time.monotonic()
        self.closed = False
        _register(self)

    def add(self, name: str, value: Any, kind: str, step: int | None, description: str) -> None:
        # deque.append and popleft are atomic, so adding needs no lock while a flush drains.
        self._pending.append(MetricPoint(name, value, kind, step, time.time(), description))

    def flush(self) -> None:
        with self._write_lock:
            pending = self._pending
            batch = [pending.popleft() for _ in range(len(pending))]
            if batch:
                try:
                    self.store.log_metrics(self.run_id, batch)
                except BaseException:
                    pending.extendleft(reversed(batch))  # keep them for the next try
                    raise

    def tick(self) -> None:
        """Called by the flusher thread: write pending points, heartbeat when due."""
        self.flush()
        if self.heartbeat_every and time.monotonic() - self._last_heartbeat >= self.heartbeat_every:
            self._last_heartbeat = time.monotonic()
            if self.store.heartbeat(self.run_id) and self.on_cancel is not None:
                self.on_cancel()

    def close(self) -> None:
        self.flush()
        self.closed = True
        with _registry_lock:
            _buffers.discard(self)


def flush_all() -> None:
    with _registry_lock:
        buffers = list(_buffers)
    for buffer in buffers:
        try:
            buffer.flush()
        except Exception:  # noqa: BLE001 - one run's failure must not stop the others
            log.exception("Could not write metrics of run %s", buffer.run_id)


def _register(buffer: MetricBuffer) -> None:
    global _thread
    with _registry_lock:
        _buffers.add(buffer)
        if _thread is None or not _thread.is_alive():
            _thread = threading.Thread(target=_flusher, name="plinth-metrics", daemon=True)
            _thread.start()


def _flusher() -> None:
    while True:
        _wake.wait(FLUSH_INTERVAL)
        _wake.clear()
        with _registry_lock:
            buffers = list(_buffers)
        for buffer in buffers:
            try:
                buffer.tick()
            except Exception:  # noqa: BLE001
                log.exception("Could not write metrics of run %s", buffer.run_id)


atexit.register(flush_all)
