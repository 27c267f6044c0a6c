"""The process that runs a HyperDrive sweep: ``python -m plinth._tuning.driver RUN_ID``.

It owns the parent run: keeps ``max_concurrent_runs`` children running (each an ordinary
script run started through ``start_run``, with the sampled values appended to its arguments
and recorded in its ``hyperparameters`` tag), samples the next configuration when a slot
frees, reads the running children's primary metric as they log it and cancels those the
policy stops (saying why in their ``plinth.terminatedBy`` property), and ends the sweep at
``max_total_runs``, ``max_duration_minutes`` or when the space is exhausted.

Its state is the store: the children it started (ids ``<parent>_<n>``) and their tags. A
driver started again on the same sweep carries on from there, never repeating a child.
"""

from __future__ import annotations

import copy
import json
import os
import sys
import time
from typing import Any

from plinth._execution.driving import DriverLog, driver_main
from plinth._execution.submit import start_run
from plinth._location import WorkspaceLocation
from plinth._store import TERMINAL_STATUSES, RunRecord, RunStatus
from plinth._tuning.policies import decide, metric_numbers
from plinth._tuning.samplers import Trial, make_sampler

__all__ = ["main", "HYPERPARAMETERS", "TERMINATED_BY", "argument_name", "trial_state"]

HYPERPARAMETERS = "hyperparameters"
TERMINATED_BY = "plinth.terminatedBy"
DRIVER_PID = "plinth.driverPid"
_TICK = 0.2
_BEAT = 1.0
_CANCEL_GRACE = 60.0

_STATES = {RunStatus.COMPLETED: "complete", RunStatus.FAILED: "failed",
           RunStatus.CANCELED: "canceled"}


def argument_name(parameter: str) -> str:
    """A space's key as the child's argument: ``'--lr'`` as it is, ``'lr'`` as ``'--lr'``."""
    return parameter if parameter.startswith("-") else f"--{parameter}"


def trial_state(record: RunRecord) -> str:
    return _STATES.get(record.status, "running")


class _Driver:
    def __init__(self, location: WorkspaceLocation, run_id: str):
        self.location = location
        self.run_id = run_id
        self.store = location.store()
        self.artifacts = location.artifacts()
        self.record = self.store.get_run(run_id)
        self.sweep = self.record.definition["hyperdrive"]
        self.metric = self.sweep["primary_metric_name"]
        self.goal = self.sweep["goal"]
        self.experiment = self.store.get_experiment_by_id(self.record.experiment_id)
        self.sampler = make_sampler(self.sweep["sampling"], self.goal)
        self.deadline = time.monotonic() + 60 * self.sweep["max_duration_minutes"]
        self.series: dict[str, list[float]] = {}
        self.warm_start = self.earlier_trials()
        self.exhausted = False
        self.log = DriverLog(self.artifacts, run_id)

    # -- the loop --------------------------------------------------------------------------

    def run(self) -> None:
        if self.record.status in TERMINAL_STATUSES:
            return
        if self.store.set_status(self.run_id, RunStatus.RUNNING).status in TERMINAL_STATUSES:
            return
        self.store.set_tags(self.run_id, {DRIVER_PID: str(os.getpid())})
        children = self.children()
        self.say(f"Sweep {self.run_id}: {self.sweep['sampling']['kind']} sampling, up to "
                 f"{self.sweep['max_total_runs']} runs, {self.sweep['max_concurrent_runs']} at "
                 f"a time, {self.goal} {self.metric!r}"
                 + (f"; resuming with {len(children)} run(s) started" if children else "") + ".")
        ending = None
        last_beat = 0.0
        while True:
            now = time.monotonic()
            if now - last_beat >= _BEAT:
                last_beat = now
                if self.store.heartbeat(self.run_id):
                    ending = RunStatus.CANCELED
                    break
            if now > self.deadline:
                self.say(f"max_duration_minutes={self.sweep['max_duration_minutes']} reached.")
                ending = "timeout"
                break
            children = self.children()
            self.apply_policy(children)
            children = self.start_children(children)
            if not any(r.is_active for r in children) and self.done_starting(children):
                break
            time.sleep(_TICK)
        self.finish(ending)

    def children(self) -> list[RunRecord]:
        records = self.store.list_runs(parent_id=self.run_id)
        return sorted(records, key=lambda r: child_index(r.id))

    def done_starting(self, children: list[RunRecord]) -> bool:
        return self.exhausted or len(children) >= self.sweep["max_total_runs"]

    def start_children(self, children: list[RunRecord]) -> list[RunRecord]:
        running = sum(r.is_active for r in children)
        while running < self.sweep["max_concurrent_runs"] and not self.done_starting(children):
            params = self.sampler.next(self.warm_start + self.trials(children))
            if params is None:
                self.exhausted = True
                self.say("The parameter space is exhausted.")
                break
            children = [*children, self.start_child(len(children), params)]
            running += 1
        return children

    def start_child(self, index: int, params: dict[str, Any]) -> RunRecord:
        definition = copy.deepcopy(self.sweep["child"])
        for name, value in params.items():
            definition["arguments"] = [*definition.get("arguments", []), argument_name(name),
                                       _text(value)]
        child_id = f"{self.run_id}_{index}"
        text = json.dumps(params, sort_keys=True)
        start_run(self.location, self.experiment, definition, run_id=child_id,
                  parent_id=self.run_id, tags={HYPERPARAMETERS: text},
                  properties={HYPERPARAMETERS: text})
        self.say(f"Started {child_id} with {text}.")
        return self.store.get_run(child_id)

    # -- metrics and the policy --------------------------------------------------------------

    def primary_series(self, record: RunRecord) -> list[float]:
        """The child's primary metric values in logged order (kept once the child ended)."""
        if record.id in self.series and not record.is_active:
            return self.series[record.id]
        points = self.store.get_metrics(record.id, self.metric)
        values = [float(v) for v in metric_numbers(points)]
        self.series[record.id] = values
        return values

    def apply_policy(self, children: list[RunRecord]) -> None:
        if self.sweep["policy"]["kind"] == "none" or not children:
            return
        series = {r.id: self.primary_series(r) for r in children}
        running = [r.id for r in children if r.status == RunStatus.RUNNING]
        stopped = [r.id for r in children if TERMINATED_BY in r.properties]
        verdicts = decide(self.sweep["policy"], self.goal, series, running,
                          metric_name=self.metric, cancelled=stopped)
        for child_id, reason in verdicts.items():
            self.store.add_properties(child_id, {TERMINATED_BY: reason})
            self.store.request_cancel(child_id)
            self.say(f"Canceled {child_id}: {reason}")

    def trials(self, children: list[RunRecord]) -> list[Trial]:
        return [Trial(json.loads(r.tags[HYPERPARAMETERS]), self.final_value(r), trial_state(r))
                for r in children if HYPERPARAMETERS in r.tags]

    def final_value(self, record: RunRecord) -> float | None:
        values = self.primary_series(record) if not record.is_active else []
        return values[-1] if values else None

    def earlier_trials(self) -> list[Trial]:
        """The completed children of the sweeps this one resumes from."""
        trials = []
        for parent in self.sweep.get("resume_from") or []:
            for record in self.store.list_runs(parent_id=parent):
                if record.status == RunStatus.COMPLETED and HYPERPARAMETERS in record.tags:
                    trials.append(Trial(json.loads(record.tags[HYPERPARAMETERS]),
                                        self.final_value(record), "complete"))
        return trials

    # -- the end -----------------------------------------------------------------------------

    def finish(self, ending: str | None) -> None:
        if ending is not None:
            for record in self.children():
                if record.is_active:
                    self.store.request_cancel(record.id)
            self.wait_for_children()
        children = self.children()
        best = self.best(children)
        if best is not None:
            self.store.add_properties(self.run_id, {"best_child_run_id": best[0],
                                                    "best_metric": repr(best[1])})
            self.say(f"Best run: {best[0]} with {self.metric} {best[1]}.")
        completed = [r for r in children if r.status == RunStatus.COMPLETED]
        if ending == RunStatus.CANCELED or self.store.get_run(self.run_id).cancel_requested:
            self.say("Sweep canceled.")
            self.store.set_status(self.run_id, RunStatus.CANCELED)
        elif children and not completed and all(r.status == RunStatus.FAILED for r in children):
            first = (children[0].error or {}).get("message", "no error details")
            self.say(f"Every child run failed; the first: {first}")
            self.store.set_status(self.run_id, RunStatus.FAILED, error={
                "code": "AllChildRunsFailed",
                "message": f"Every child run failed. The first, {children[0].id}: {first}"})
        else:
            self.say(f"Sweep ended: {len(completed)} of {len(children)} run(s) completed.")
            self.store.set_status(self.run_id, RunStatus.COMPLETED)

    def best(self, children: list[RunRecord]) -> tuple[str, float] | None:
        scored = [(r.id, max(v) if self.goal == "maximize" else min(v))
                  for r in children if r.status == RunStatus.COMPLETED
                  for v in [self.primary_series(r)] if v]
        if not scored:
            return None
        pick = max if self.goal == "maximize" else min
        return pick(scored, key=lambda item: item[1])

    def wait_for_children(self) -> None:
        deadline = time.monotonic() + _CANCEL_GRACE
        while any(r.is_active for r in self.children()) and time.monotonic() < deadline:
            self.store.heartbeat(self.run_id)
            time.sleep(_TICK)

    def say(self, line: str) -> None:
        self.log.say(line)

    def abandon(self) -> None:
        """A failed driver leaves its children to finish: their results stay usable."""


def child_index(run_id: str) -> int:
    """A child's number in its sweep (its id's last part), for a stable order."""
    tail = run_id.rpartition("_")[2]
    return int(tail) if tail.isdigit() else -1


def _text(value: Any) -> str:
    return repr(value) if isinstance(value, float) else str(value)


main = driver_main(_Driver, "HyperDrive sweep")


if __name__ == "__main__":
    sys.exit(main())
