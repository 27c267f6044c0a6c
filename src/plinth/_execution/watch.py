"""Waiting for a run to end, optionally streaming its live log."""

from __future__ import annotations

import time
from typing import TextIO

from plinth._artifacts import ArtifactStore
from plinth._store import TERMINAL_STATUSES, RunRecord, Store

__all__ = ["watch"]

LOG = "logs/driver.log"


def watch(store: Store, artifacts: ArtifactStore, run_id: str, out: TextIO | None = None,
          poll: float = 0.01, max_poll: float = 0.1) -> RunRecord:
    """Poll until ``run_id`` is terminal, printing new log bytes to ``out`` as they appear."""
    offset = 0
    delay = poll
    if out is not None:
        out.write(f"RunId: {run_id}\n\nStreaming {LOG}\n{'=' * 24}\n\n")
    while True:
        record = store.get_run(run_id)
        if out is not None:
            chunk = artifacts.read_from(f"runs/{run_id}/{LOG}", offset)
            if chunk:
                offset += len(chunk)
                out.write(chunk.decode("utf-8", "replace"))
                out.flush()
        if record.status in TERMINAL_STATUSES:
            if out is not None:
                out.write(f"\nExecution Summary\n{'=' * 17}\nRunId: {run_id}\n"
                          f"Status: {record.status}\n")
                if record.error:
                    out.write(f"Error: {record.error.get('message')}\n")
                out.flush()
            return record
        time.sleep(delay)
        delay = min(delay * 1.5, max_poll)
