"""The schedule runner: fires due schedules of every workspace of a store.

One pass (:func:`fire_due`) looks at every Active schedule whose ``next_fire_at`` has come.
A recurrence moves to its next due time after *now* and fires once, however many periods
it is overdue (no burst after downtime, no lost due run). A data trigger polls its files;
the first poll records them, a later one that sees files added or changed fires once (files
only deleted update what it remembers without firing). Each due time is claimed with the
store's compare-and-set ``claim_schedule_fire`` before anything is submitted, so of several
scheduler processes on one database exactly one fires it, and a restarted scheduler never
fires it again. A failure in one schedule is logged and never stops the others.

:class:`Scheduler` runs passes on a daemon thread; a workspace server starts one per process.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from plinth._pipelines.recurrence import next_fire_time
from plinth._store.base import ScheduleRecord, Store

__all__ = [
    "PROPERTY_SCHEDULE_ID",
    "PROPERTY_TRIGGER",
    "Scheduler",
    "data_state",
    "fire_due",
    "scheduler_interval",
]

log = logging.getLogger(__name__)

#: Run properties of a pipeline run a schedule submitted.
PROPERTY_SCHEDULE_ID = "azureml.pipelineScheduleId"
PROPERTY_TRIGGER = "azureml.pipelineScheduleTrigger"

ENV_INTERVAL = "PLINTH_SCHEDULER_INTERVAL"

#: ``submit(location, published_record, experiment_name, parameters, *, properties) -> run id``
Submit = Callable[..., str]
LocationOf = Callable[[str], Any]


def scheduler_interval() -> float:
    """Seconds between passes: ``PLINTH_SCHEDULER_INTERVAL`` (default 5)."""
    raw = os.environ.get(ENV_INTERVAL, "5")
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise ValueError(f"{ENV_INTERVAL}={raw!r}: use a number of seconds above 0, e.g. 5.")
    return value


def fire_due(store: Store, location_of: LocationOf, now: float,
             submit: Submit | None = None, *, workspace_id: str | None = None) -> list[str]:
    """One pass over the Active schedules of every workspace of ``store`` (or only of
    ``workspace_id``) at time ``now``; returns the ids of the pipeline runs it submitted.
    ``location_of(workspace_id)`` gives the ``WorkspaceLocation`` to submit in (and to read
    a data trigger's datastore from)."""
    submitted: list[str] = []
    for record in store.list_schedules(workspace_id):
        if record.next_fire_at is not None and record.next_fire_at > now:
            continue
        try:
            run_id = _fire_one(store, location_of, record, now, submit)
        except Exception:  # noqa: BLE001 - one broken schedule must not stop the others
            log.exception("Schedule %r (%s) failed and was skipped.", record.name, record.id)
            continue
        if run_id is not None:
            submitted.append(run_id)
    return submitted


def _fire_one(store: Store, location_of: LocationOf, record: ScheduleRecord, now: float,
              submit: Submit | None) -> str | None:
    if record.recurrence is not None:
        return _fire_recurrence(store, location_of, record, now, submit)
    return _poll_data(store, location_of, record, now, submit)


def _fire_recurrence(store: Store, location_of: LocationOf, record: ScheduleRecord,
                     now: float, submit: Submit | None) -> str | None:
    following = next_fire_time(record.recurrence or {}, now, anchor=record.created_at)
    due = record.next_fire_at is not None
    won = store.claim_schedule_fire(record.id, expected_next_fire_at=record.next_fire_at,
                                    next_fire_at=following, fired=due)
    if not (won and due):
        return None
    return _submit(store, location_of, record, {}, "Recurrence", submit)


def _poll_data(store: Store, location_of: LocationOf, record: ScheduleRecord, now: float,
               submit: Submit | None) -> str | None:
    next_poll = now + record.polling_interval * 60
    try:
        state = data_state(location_of(record.workspace_id), store, record)
    except Exception:
        store.claim_schedule_fire(record.id, expected_next_fire_at=record.next_fire_at,
                                  next_fire_at=next_poll, fired=False)
        raise
    changed = _changed(record.data_state, state)
    won = store.claim_schedule_fire(record.id, expected_next_fire_at=record.next_fire_at,
                                    next_fire_at=next_poll, data_state=state,
                                    fired=bool(changed))
    if not (won and changed):
        return None
    parameters: dict[str, Any] = {}
    if record.data_path_parameter_name:
        parameters[record.data_path_parameter_name] = changed[0]
    return _submit(store, location_of, record, parameters, "DataChange", submit)


def data_state(location: Any, store: Store, record: ScheduleRecord) -> dict[str, list[Any]]:
    """What a data trigger watches now: ``{name: [size, etag or mtime]}`` of each file under
    its ``path_on_datastore`` (a folder, a file, or a pattern with wildcards)."""
    from plinth._data.filesystems import open_datastore

    datastore = store.get_datastore(record.workspace_id, record.datastore or "")
    files = open_datastore(location, datastore)
    path = (record.path_on_datastore or "").strip("/")
    names = files.glob(path) if path else files.list()
    state: dict[str, list[Any]] = {}
    for name in names:
        info = files.stat(name)
        state[name] = [info.get("size"), info.get("etag") or info.get("mtime")]
    return state


def _changed(before: Mapping[str, Any] | None, now: Mapping[str, Any]) -> list[str]:
    """Files added or changed since ``before`` (sorted); [] for the first poll."""
    if before is None:
        return []
    return sorted(name for name, value in now.items() if list(before.get(name) or []) != value)


def _submit(store: Store, location_of: LocationOf, record: ScheduleRecord,
            extra: Mapping[str, Any], trigger: str, submit: Submit | None) -> str | None:
    pipeline = store.get_published_pipeline(record.workspace_id, record.pipeline_id)
    if pipeline.status != "Active":
        log.warning("Schedule %r (%s) did not fire: its published pipeline %s is %s; enable it "
                    "or disable the schedule.", record.name, record.id, pipeline.id,
                    pipeline.status)
        return None
    submit = submit or _default_submit()
    properties = {PROPERTY_SCHEDULE_ID: record.id, PROPERTY_TRIGGER: trigger}
    parameters = {**record.pipeline_parameters, **extra}
    try:
        run_id = submit(location_of(record.workspace_id), pipeline, record.experiment_name,
                        parameters, properties=properties)
    except Exception:
        log.exception("Schedule %r (%s) fired, but submitting pipeline %s failed; it fires "
                      "again at its next due time.", record.name, record.id, pipeline.id)
        return None
    store.set_schedule_last_run(record.id, run_id)
    log.info("Schedule %r (%s) submitted pipeline run %s.", record.name, record.id, run_id)
    return run_id


def _default_submit() -> Submit:
    from plinth._pipelines.submit import submit_published

    return submit_published


class Scheduler:
    """Calls :func:`fire_due` every ``interval`` seconds (default: ``PLINTH_SCHEDULER_INTERVAL``
    or 5) on a daemon thread, between :meth:`start` and :meth:`stop`."""

    def __init__(self, store: Store, location_of: LocationOf, interval: float | None = None,
                 submit: Submit | None = None):
        if interval is not None and not interval > 0:
            raise ValueError(f"interval={interval!r}: use a number of seconds above 0.")
        self.store = store
        self.location_of = location_of
        self.interval = float(interval) if interval is not None else scheduler_interval()
        self.submit = submit
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self, now: float | None = None) -> list[str]:
        """One pass now (or at ``now``); the ids of the runs it submitted."""
        return fire_due(self.store, self.location_of, time.time() if now is None else now,
                        submit=self.submit)

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._loop, name="plinth-scheduler",
                                        daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        """Ask the thread to stop and wait for its current pass to end."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                self.run_once()
            except Exception:  # noqa: BLE001 - the store may be briefly unreachable
                log.exception("The schedule runner's pass failed; it tries again in %s s.",
                              self.interval)
            self._stopping.wait(self.interval)
