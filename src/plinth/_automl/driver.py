"""The process that runs an AutoML experiment: ``python -m plinth._automl.driver RUN_ID``.

It owns the parent run and starts every child through ``start_run``, on the experiment's
compute target: first ``<run>_setup`` (reads the data once: guardrails, featurization
summary, the data's size), then iterations ``<run>_0``, ``<run>_1``... (a model and its
hyperparameters each, from ``search``), ``max_concurrent_iterations`` at a time, until
``iterations``, the experiment timeout, ``experiment_exit_score`` or early stopping; then the
voting and stack ensembles as the last iterations, and ``<run>_explain`` for the best model.

Its state is the store: the children and their tags. A driver started again on the same run
carries on from there, never repeating an iteration.
"""

from __future__ import annotations

import copy
import json
import os
import sys
import time
from typing import TYPE_CHECKING, Any

from plinth._execution.driving import DriverLog, driver_main
from plinth._execution.submit import start_run
from plinth._location import WorkspaceLocation
from plinth._store import TERMINAL_STATUSES, RunRecord, RunStatus
from plinth._tuning.driver import DRIVER_PID, child_index
from plinth._tuning.policies import metric_numbers
from plinth.exceptions import NotFoundError

if TYPE_CHECKING:
    from plinth._automl.search import Search, Tried

__all__ = ["main", "ITERATION", "ALGORITHM", "PIPELINE_SPEC", "SETUP_FILE"]

ITERATION = "iteration"
ALGORITHM = "run_algorithm"
PIPELINE_SPEC = "pipeline_spec"
ENSEMBLE_MEMBERS = "ensembled_iterations"
SETUP_FILE = "outputs/setup.json"
#: Iterations without a better score before the search stops (azureml's early stopping).
EARLY_STOPPING_PATIENCE = 10
#: Iterations azureml runs when neither ``iterations`` nor a timeout is given.
DEFAULT_ITERATIONS = 1000
#: How many of the best iterations an ensemble may draw from.
ENSEMBLE_CANDIDATES = 5
_TICK = 0.2
_BEAT = 1.0
_CANCEL_GRACE = 60.0


class _Driver:
    def __init__(self, location: WorkspaceLocation, run_id: str):
        self.location = location
        self.run_id = run_id
        self.store = location.store()
        self.artifacts = location.artifacts()
        self.record = self.store.get_run(run_id)
        automl = self.record.definition["automl"]
        self.settings, self.budget = automl["settings"], automl["search"]
        self.child, self.seed = automl["child"], automl["seed"]
        self.metric, self.goal = self.settings["primary_metric"], self.settings["goal"]
        self.experiment = self.store.get_experiment_by_id(self.record.experiment_id)
        minutes = self.budget["experiment_timeout_minutes"]
        self.deadline = time.monotonic() + 60 * minutes if minutes else None
        self.log = DriverLog(self.artifacts, run_id)
        self.search: Search | None = None
        self.stop_reason: str | None = None

    # -- the run ---------------------------------------------------------------------------

    def run(self) -> None:
        if self.record.status in TERMINAL_STATUSES:
            return
        if self.store.set_status(self.run_id, RunStatus.RUNNING).status in TERMINAL_STATUSES:
            return
        self.store.set_tags(self.run_id, {DRIVER_PID: str(os.getpid())})
        self.say(f"AutoML {self.run_id}: {self.settings['task']}, {self.goal} "
                 f"{self.metric!r}, models {', '.join(self.budget['models'])}.")
        setup = self.setup()
        if setup is None:
            return
        from plinth._automl.search import Search

        self.search = Search(self.settings["task"], self.budget["models"], self.goal,
                             n_rows=setup["n_rows"], n_features=setup["n_features"],
                             seed=self.seed)
        if self.iterate() == RunStatus.CANCELED:
            self.end_canceled()
            return
        self.ensembles()
        if self.cancel_requested():
            self.end_canceled()
            return
        self.finish()

    def setup(self) -> dict[str, Any] | None:
        """Run (or find) the setup child; its summary, or None when the experiment ended."""
        setup_id = f"{self.run_id}_setup"
        try:
            self.store.get_run(setup_id)
        except NotFoundError:
            self.start_child(setup_id, {"kind": "setup"}, display_name="setup")
        record = self.wait_for([setup_id])[0]
        if record.status != RunStatus.COMPLETED:
            message = (record.error or {}).get("message", "no error details")
            self.say(f"Setup {record.status}: {message}")
            if record.status == RunStatus.CANCELED or self.cancel_requested():
                self.end_canceled()
            else:
                self.store.set_status(self.run_id, RunStatus.FAILED, error={
                    "code": "SetupFailed", "message": f"AutoML setup failed: {message}"})
            return None
        summary = json.loads(self.artifacts.read_bytes(f"runs/{setup_id}/{SETUP_FILE}"))
        for line in summary.get("report", []):
            self.say(line)
        return summary

    def iterate(self) -> str | None:
        """Start iterations until the budget is spent; the parent's ending if canceled."""
        last_beat = 0.0
        while True:
            now = time.monotonic()
            if now - last_beat >= _BEAT:
                last_beat = now
                if self.store.heartbeat(self.run_id):
                    return RunStatus.CANCELED
            children = self.iterations()
            if self.stop_reason is None:
                self.stop_reason = self.why_stop(children)
                if self.stop_reason:
                    self.say(f"Stopping the search: {self.stop_reason}.")
                    if self.deadline is not None and time.monotonic() > self.deadline:
                        self.cancel_running(children, "experiment_timeout_minutes reached")
            if self.stop_reason is None:
                self.start_iterations(children)
            elif not any(r.is_active for r in children):
                return None
            time.sleep(_TICK)

    def why_stop(self, children: list[RunRecord]) -> str | None:
        limit = self.budget["iterations"] or DEFAULT_ITERATIONS
        if len(children) >= limit:
            return f"{limit} iterations started"
        if self.deadline is not None and time.monotonic() > self.deadline:
            return f"experiment_timeout_minutes={self.budget['experiment_timeout_minutes']:g}"
        scores = [(child_index(r.id), s) for r in children
                  if r.status == RunStatus.COMPLETED for s in [self.score(r)] if s is not None]
        exit_score = self.budget["experiment_exit_score"]
        if exit_score is not None and any(self.better_or_equal(s, exit_score)
                                          for _, s in scores):
            return f"experiment_exit_score={exit_score} reached"
        if self.budget["enable_early_stopping"] and self.no_improvement(scores):
            return f"no better {self.metric} in the last {EARLY_STOPPING_PATIENCE} iterations"
        return None

    def no_improvement(self, scores: list[tuple[int, float]]) -> bool:
        if len(scores) <= EARLY_STOPPING_PATIENCE:
            return False
        scores.sort()
        best_at, best = 0, scores[0][1]
        for position, (_, score) in enumerate(scores):
            if self.better(score, best):
                best_at, best = position, score
        return len(scores) - 1 - best_at >= EARLY_STOPPING_PATIENCE

    def start_iterations(self, children: list[RunRecord]) -> None:
        running = sum(r.is_active for r in children)
        limit = self.budget["iterations"] or DEFAULT_ITERATIONS
        while running < self.budget["max_concurrent_iterations"] and len(children) < limit:
            model, params, searched = self.search.next(self.history(children))
            index = len(children)
            spec = {"kind": "iteration", "iteration": index, "model": model, "params": params,
                    "searched": searched}
            children = [*children, self.start_child(f"{self.run_id}_{index}", spec)]
            self.say(f"Iteration {index}: {model} {json.dumps(params, sort_keys=True)}")
            running += 1

    def ensembles(self) -> None:
        kinds = [kind for kind, wanted in (("VotingEnsemble", "enable_voting_ensemble"),
                                           ("StackEnsemble", "enable_stack_ensemble"))
                 if self.budget[wanted]]
        children = self.iterations()
        done = {r.properties.get(ALGORITHM) for r in children}
        ranked = self.ranked([r for r in children if ENSEMBLE_MEMBERS not in r.properties])
        members = [r.id for r in ranked[:ENSEMBLE_CANDIDATES]]
        if kinds and len(members) < 2:
            self.say("No ensembles: fewer than two iterations completed.")
            return
        started = []
        for kind in kinds:
            if kind in done:
                continue
            index = len(children) + len(started)
            spec = {"kind": "ensemble", "iteration": index, "ensemble": kind,
                    "members": members}
            started.append(self.start_child(f"{self.run_id}_{index}", spec).id)
            self.say(f"Iteration {index}: {kind} of {', '.join(members)}")
        if started:
            self.wait_for(started)

    def finish(self) -> None:
        children = self.iterations()
        ranked = self.ranked(children)
        if not ranked:
            message = self.why_none_completed(children)
            self.say(message)
            self.store.set_status(self.run_id, RunStatus.FAILED, error={
                "code": "NoIterationCompleted", "message": message})
            return
        best = ranked[0]
        score = self.score(best)
        self.store.add_properties(self.run_id, {
            "best_child_run_id": best.id, "score": repr(score),
            "best_algorithm": best.properties.get(ALGORITHM, ""),
            "stop_reason": self.stop_reason or ""})
        self.say(f"Best: {best.id} ({best.properties.get(ALGORITHM)}) with {self.metric} "
                 f"{score}.")
        if self.budget["model_explainability"]:
            self.explain(best)
        self.say(f"AutoML ended: {len(ranked)} of {len(children)} iteration(s) completed.")
        self.store.set_status(self.run_id, RunStatus.COMPLETED)

    def why_none_completed(self, children: list[RunRecord]) -> str:
        failed = [r for r in children if r.status == RunStatus.FAILED]
        if failed:
            first = (failed[0].error or {}).get("message", "no error details")
            return f"No AutoML iteration completed. The first error, {failed[0].id}: {first}"
        canceled = [r for r in children if r.status == RunStatus.CANCELED]
        if (self.stop_reason or "").startswith("experiment_timeout_minutes"):
            return (f"No AutoML iteration completed within {self.stop_reason} (setup "
                    f"included): {len(canceled)} iteration(s) were canceled at the deadline. "
                    "Give the experiment more time, or fewer rows or cheaper allowed_models.")
        return "No AutoML iteration completed."

    def explain(self, best: RunRecord) -> None:
        explain_id = f"{self.run_id}_explain"
        try:
            self.store.get_run(explain_id)
        except NotFoundError:
            self.start_child(explain_id, {"kind": "explain", "run_id": best.id},
                             display_name="model explanation")
        record = self.wait_for([explain_id])[0]
        if record.status == RunStatus.COMPLETED:
            self.store.add_properties(self.run_id, {"model_explain_run_id": explain_id})
            self.say(f"Feature importance of {best.id} logged by {explain_id}.")
        else:
            message = (record.error or {}).get("message", "no error details")
            self.say(f"The model explanation {record.status}: {message}")

    def end_canceled(self) -> None:
        self.cancel_running(self.children(), "the AutoML run was canceled")
        self.wait_for([r.id for r in self.children()], grace=_CANCEL_GRACE)
        self.say("AutoML run canceled.")
        self.store.set_status(self.run_id, RunStatus.CANCELED)

    # -- children --------------------------------------------------------------------------

    def start_child(self, child_id: str, spec: dict[str, Any],
                    display_name: str | None = None) -> RunRecord:
        definition = copy.deepcopy(self.child)
        definition["command"] = [*definition["command"], "--spec", json.dumps(spec)]
        if display_name:
            definition["display_name"] = display_name
        tags: dict[str, str] = {}
        if spec["kind"] in ("iteration", "ensemble"):
            algorithm = spec.get("model") or spec["ensemble"]
            tags = {ITERATION: str(spec["iteration"]), ALGORITHM: algorithm}
            definition["display_name"] = f"{spec['iteration']}: {algorithm}"
        properties = dict(tags)
        if spec["kind"] == "iteration":
            properties[PIPELINE_SPEC] = json.dumps(
                {key: spec[key] for key in ("model", "params", "searched")}, sort_keys=True)
        if spec["kind"] == "ensemble":
            properties[ENSEMBLE_MEMBERS] = json.dumps(spec["members"])
        start_run(self.location, self.experiment, definition, run_id=child_id,
                  parent_id=self.run_id, tags=tags, properties=properties)
        return self.store.get_run(child_id)

    def children(self) -> list[RunRecord]:
        return self.store.list_runs(parent_id=self.run_id)

    def iterations(self) -> list[RunRecord]:
        """The iteration children, in order."""
        found = [r for r in self.children() if ITERATION in r.tags]
        return sorted(found, key=lambda r: int(r.tags[ITERATION]))

    def history(self, children: list[RunRecord]) -> list[Tried]:
        from plinth._automl.search import Tried

        tried = []
        for record in children:
            spec = json.loads(record.properties.get(PIPELINE_SPEC, "null") or "null")
            if spec is None:
                continue
            state = ("running" if record.is_active else
                     "complete" if record.status == RunStatus.COMPLETED else "failed")
            tried.append(Tried(spec["model"], spec["params"], state,
                               self.score(record) if state == "complete" else None,
                               spec.get("searched", True)))
        return tried

    def score(self, record: RunRecord) -> float | None:
        values = metric_numbers(self.store.get_metrics(record.id, self.metric))
        return float(values[-1]) if values else None

    def ranked(self, children: list[RunRecord]) -> list[RunRecord]:
        """Completed iterations with a score, best first (ties: the earlier iteration)."""
        scored = [(r, s) for r in children if r.status == RunStatus.COMPLETED
                  for s in [self.score(r)] if s is not None and s == s]
        scored.sort(key=lambda pair: (-pair[1] if self.goal == "maximize" else pair[1],
                                      int(pair[0].tags[ITERATION])))
        return [r for r, _ in scored]

    def better(self, score: float, than: float) -> bool:
        return score > than if self.goal == "maximize" else score < than

    def better_or_equal(self, score: float, than: float) -> bool:
        return score >= than if self.goal == "maximize" else score <= than

    def wait_for(self, run_ids: list[str], grace: float | None = None) -> list[RunRecord]:
        """Wait until the runs end (heartbeating the parent); their records."""
        deadline = time.monotonic() + grace if grace is not None else None
        while True:
            records = [self.store.get_run(run_id) for run_id in run_ids]
            if not any(r.is_active for r in records):
                return records
            if deadline is not None and time.monotonic() > deadline:
                return records
            if self.store.heartbeat(self.run_id) and grace is None:
                self.cancel_running(records, "the AutoML run was canceled")
                grace = _CANCEL_GRACE
                deadline = time.monotonic() + grace
            time.sleep(_TICK)

    def cancel_running(self, children: list[RunRecord], reason: str) -> None:
        for record in children:
            if record.is_active:
                self.store.request_cancel(record.id)
                self.say(f"Canceled {record.id}: {reason}.")

    def cancel_requested(self) -> bool:
        return bool(self.store.get_run(self.run_id).cancel_requested)

    def say(self, line: str) -> None:
        self.log.say(line)

    def abandon(self) -> None:
        """A failed driver stops its running children: nothing would collect them."""
        self.cancel_running(self.children(), "the AutoML driver failed")


main = driver_main(_Driver, "AutoML experiment")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
