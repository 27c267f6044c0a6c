"""The process that runs a pipeline: ``python -m plinth._pipelines.driver RUN_ID``.

It owns the pipeline run (the parent) from start to end: it starts each step as a child run
once the steps it waits for have completed (independent steps at the same time, each through
the one path every run takes: ``plinth._execution.submit.start_run``), reuses an earlier
step run with the same fingerprint instead of running one, binds each step's data to the
datastore folders its upstream runs wrote, registers output datasets, heartbeats the parent,
passes a cancel on to running steps, and sets the final status. Whatever goes wrong, the
pipeline run does not stay active.
"""

from __future__ import annotations

import copy
import sys
import time
from typing import Any

from plinth._execution.driving import DRIVER_LOG, DriverLog, driver_main
from plinth._execution.submit import new_run_id, start_run
from plinth._location import WorkspaceLocation
from plinth._pipelines.graph import dependencies
from plinth._pipelines.parameters import substitute_parameters
from plinth._pipelines.reuse import step_fingerprint
from plinth._store import TERMINAL_STATUSES, RunStatus

__all__ = ["main", "STEP_RUN", "PIPELINE_RUN", "OUTPUT_FOLDER"]

PIPELINE_RUN = "azureml.PipelineRun"
STEP_RUN = "azureml.StepRun"
#: Where in a step's working folder an output is written, unless path_on_compute says.
OUTPUT_FOLDER = ".outputs"
_POLL = 0.05
_MAX_POLL = 0.5
_BEAT = 1.0
_CANCEL_GRACE = 60.0

PENDING, RUNNING, DONE, FAILED, SKIPPED = "pending", "running", "done", "failed", "skipped"


class _Driver:
    def __init__(self, location: WorkspaceLocation, run_id: str):
        self.location = location
        self.run_id = run_id
        self.store = location.store()
        self.artifacts = location.artifacts()
        record = self.store.get_run(run_id)
        self.record = record
        definition = record.definition or {}
        self.graph = definition["pipeline"]
        self.values = definition.get("parameters") or {}
        self.regenerate = bool(definition.get("regenerate_outputs"))
        self.keep_going = bool(definition.get("continue_on_step_failure"))
        self.experiment = self.store.get_experiment_by_id(record.experiment_id)
        self.workspace_id = self.experiment.workspace_id
        self.steps = {s["key"]: s for s in self.graph["steps"]}
        self.waits = dependencies(self.graph["steps"])
        self.state = dict.fromkeys(self.steps, PENDING)
        self.children: dict[str, str] = {}
        self.fingerprints: dict[str, str] = {}
        self.produced: dict[str, dict[str, Any]] = {}
        self.failures: list[str] = []
        self.stopping = False
        self.log = DriverLog(self.artifacts, run_id)

    # -- the loop --------------------------------------------------------------------------

    def run(self) -> None:
        if self.record.status in TERMINAL_STATUSES:
            return
        if self.store.set_status(self.run_id, RunStatus.RUNNING).status in TERMINAL_STATUSES:
            return
        self.say(f"Pipeline run {self.run_id}: {len(self.steps)} step(s).")
        canceled = False
        delay = _POLL
        last_beat = 0.0
        while True:
            progressed = self.start_ready()
            if not any(s == RUNNING for s in self.state.values()):
                break
            now = time.monotonic()
            if now - last_beat >= _BEAT:
                last_beat = now
                if self.store.heartbeat(self.run_id):
                    canceled = True
                    self.cancel_running("the pipeline run was canceled")
                    break
            progressed = self.collect() or progressed
            delay = _POLL if progressed else min(delay * 1.5, _MAX_POLL)
            time.sleep(delay)
        self.finish(canceled)

    def start_ready(self) -> bool:
        """Start (or reuse, or skip) every pending step whose upstream steps have ended."""
        progressed = False
        again = True
        while again:
            again = False
            for key, state in list(self.state.items()):
                if state != PENDING:
                    continue
                upstream = [self.state[k] for k in self.waits[key]]
                if self.stopping or any(s in (FAILED, SKIPPED) for s in upstream):
                    self.skip(key)
                elif all(s == DONE for s in upstream):
                    self.start(key)
                else:
                    continue
                progressed = again = True
        return progressed

    def collect(self) -> bool:
        """Note the steps that ended since the last look."""
        running = {self.children[k]: k for k, s in self.state.items() if s == RUNNING}
        changed = False
        for record in self.store.list_runs(parent_id=self.run_id):
            key = running.get(record.id)
            if key is None or record.status not in TERMINAL_STATUSES:
                continue
            changed = True
            name = self.steps[key]["name"]
            if record.status == RunStatus.COMPLETED:
                self.completed(key, record)
                self.say(f"Step {name!r} ({record.id}) completed.")
                continue
            self.state[key] = FAILED
            message = (record.error or {}).get("message") or record.status
            self.failures.append(f"Step {name!r} ({record.id}) ended {record.status}: {message}")
            self.say(self.failures[-1])
            if not self.keep_going and not self.stopping:
                self.stopping = True
                self.cancel_running(f"step {name!r} ended {record.status}")
        return changed

    # -- steps -----------------------------------------------------------------------------

    def start(self, key: str) -> None:
        step = self.steps[key]
        definition = substitute_parameters(copy.deepcopy(step["definition"]), self.values)
        upstream = [{"name": p["name"], "producer": self.produced[p["data_id"]]["producer"],
                     "output": p["data_name"], "mode": p["mode"],
                     "dataset_kind": p["dataset_kind"], "format": p.get("format"),
                     "path_on_compute": p["path_on_compute"]}
                    for p in step["port_inputs"]]
        fingerprint = step_fingerprint(self.store, self.workspace_id, step, definition, upstream)
        self.fingerprints[key] = fingerprint
        if step["allow_reuse"] and not self.regenerate:
            previous = self.store.find_step_result(self.workspace_id, fingerprint)
            if previous is not None:
                self.reuse(key, previous)
                return
        run_id = new_run_id(self.experiment.name)
        inputs = list(definition.get("inputs") or [])
        inputs += [self.port_input(port) for port in step["port_inputs"]]
        outputs = {}
        for output in step["outputs"]:
            path = output["path"].replace("{run-id}", run_id).replace(
                "{output-name}", output["name"])
            outputs[output["data_id"]] = {"name": output["name"], "kind": output["kind"],
                                          "datastore": output["datastore"], "path": path,
                                          "producer": run_id}
            inputs.append({"name": output["name"], "kind": "datastore_path",
                           "datastore": output["datastore"], "path": path, "mode": "upload",
                           "path_on_compute": output["path_on_compute"]
                           or f"{OUTPUT_FOLDER}/{output['name']}",
                           "overwrite": True})
        definition.update(inputs=inputs, run_type=STEP_RUN, display_name=step["name"],
                          pipeline_step=self.step_info(key), pipeline_outputs=outputs)
        self.children[key] = run_id
        self.state[key] = RUNNING
        start_run(self.location, self.experiment, definition, run_id=run_id,
                  parent_id=self.run_id, properties=self.step_properties(key))
        self.say(f"Step {step['name']!r} started as run {run_id}.")

    def port_input(self, port: dict[str, Any]) -> dict[str, Any]:
        """The input spec of data an upstream step wrote: its datastore folder, or a dataset
        saved over that folder."""
        source = self.produced[port["data_id"]]
        if port["dataset_kind"] is None:
            return {"name": port["name"], "kind": "datastore_path",
                    "datastore": source["datastore"], "path": source["path"],
                    "mode": port["mode"], "path_on_compute": port["path_on_compute"],
                    "overwrite": False}
        definition = _dataset_definition(source, port["dataset_kind"], port.get("format"))
        record = self.store.create_dataset(self.workspace_id, None, kind=port["dataset_kind"],
                                           definition=definition)
        return {"name": port["name"], "kind": "dataset", "dataset_id": record.id,
                "mode": port["mode"], "path_on_compute": port["path_on_compute"],
                "dataset_kind": port["dataset_kind"]}

    def reuse(self, key: str, previous: str) -> None:
        """Complete the step with the outputs of ``previous``, an earlier run of it."""
        step = self.steps[key]
        old = self.store.get_run(previous)
        outputs = (old.definition or {}).get("pipeline_outputs") or {}
        by_name = {o["name"]: o for o in outputs.values()}
        bound = {o["data_id"]: by_name[o["name"]] for o in step["outputs"]}
        run_id = new_run_id(self.experiment.name)
        self.store.create_run(
            self.experiment.id, run_id, run_type=STEP_RUN, status=RunStatus.QUEUED,
            parent_id=self.run_id, display_name=step["name"],
            properties={**self.step_properties(key), "azureml.isreused": "true",
                        "azureml.reusedrunid": previous,
                        "azureml.reusedpipelinerunid": old.parent_id or ""},
            definition={"pipeline_step": self.step_info(key), "pipeline_outputs": bound,
                        "reused_run_id": previous, "target": old.definition.get("target")
                        if old.definition else None})
        message = (f"[plinth] Reused the outputs of run {previous} (same step fingerprint "
                   f"{self.fingerprints[key][:12]}); this step did not run again.\n")
        self.artifacts.put_bytes(f"runs/{run_id}/{DRIVER_LOG}", message.encode())
        self.store.set_status(run_id, RunStatus.COMPLETED)
        self.children[key] = run_id
        self.produced.update(bound)
        self.state[key] = DONE
        self.say(f"Step {step['name']!r} reused run {previous}.")

    def completed(self, key: str, record: Any) -> None:
        self.state[key] = DONE
        outputs = (record.definition or {}).get("pipeline_outputs") or {}
        self.produced.update(outputs)
        step = self.steps[key]
        lineage = []
        for output in step["outputs"]:
            if output["kind"] != "output_dataset":
                continue
            lineage.append(self.save_output_dataset(output, outputs[output["data_id"]]))
        if lineage:
            self.store.add_run_datasets(record.id, lineage)
        self.store.record_step_result(self.workspace_id, self.fingerprints[key], record.id)

    def save_output_dataset(self, output: dict[str, Any], where: dict[str, Any]
                            ) -> dict[str, Any]:
        """Save (or, with register_on_complete, register) the dataset a step wrote."""
        register = output.get("register")
        kind = register["dataset_kind"] if register else "file"
        definition = _dataset_definition(where, kind, register and register.get("format"))
        if register:
            record = self.store.create_dataset(
                self.workspace_id, register["name"], kind=kind, definition=definition,
                description=register.get("description"), tags=register.get("tags"),
                create_new_version=True)
            self.say(f"Registered dataset {record.name!r} version {record.version}.")
        else:
            record = self.store.create_dataset(self.workspace_id, None, kind=kind,
                                               definition=definition)
        return {"dataset_id": record.id, "name": output["name"], "direction": "output",
                "mode": "upload"}

    def skip(self, key: str) -> None:
        step = self.steps[key]
        blocked = [self.steps[k]["name"] for k in self.waits[key]
                   if self.state[k] in (FAILED, SKIPPED)]
        reason = (f"Not run: upstream step {blocked[0]!r} did not complete." if blocked
                  else "Not run: the pipeline run is stopping after a failed step.")
        run_id = new_run_id(self.experiment.name)
        self.store.create_run(self.experiment.id, run_id, run_type=STEP_RUN,
                              status=RunStatus.NOT_STARTED, parent_id=self.run_id,
                              display_name=step["name"], properties=self.step_properties(key),
                              definition={"pipeline_step": self.step_info(key),
                                          "target": step["definition"].get("target")})
        self.store.set_status(run_id, RunStatus.CANCELED, error={"message": reason})
        self.children[key] = run_id
        self.state[key] = SKIPPED
        self.say(f"Step {step['name']!r}: {reason}")

    def cancel_running(self, why: str) -> None:
        for key, state in self.state.items():
            if state == RUNNING:
                self.say(f"Canceling step {self.steps[key]['name']!r}: {why}.")
                self.store.request_cancel(self.children[key])

    def step_info(self, key: str) -> dict[str, Any]:
        step = self.steps[key]
        return {"key": key, "name": step["name"], "kind": step["kind"],
                "fingerprint": self.fingerprints.get(key)}

    def step_properties(self, key: str) -> dict[str, str]:
        return {"azureml.nodeid": key, "StepType": self.steps[key]["kind"],
                "azureml.pipelinerunid": self.run_id}

    # -- the end ---------------------------------------------------------------------------

    def finish(self, canceled: bool) -> None:
        self.wait_for_running()
        if canceled or self.store.get_run(self.run_id).cancel_requested:
            self.say("Pipeline run canceled.")
            self.store.set_status(self.run_id, RunStatus.CANCELED)
        elif self.failures:
            self.say("Pipeline run failed.")
            self.store.set_status(self.run_id, RunStatus.FAILED, error={
                "code": "StepFailed", "message": "\n".join(self.failures)})
        else:
            self.say("Pipeline run completed.")
            self.store.set_status(self.run_id, RunStatus.COMPLETED)

    def wait_for_running(self) -> None:
        """After a cancel, give running steps time to stop before the pipeline run ends."""
        deadline = time.monotonic() + _CANCEL_GRACE
        while any(s == RUNNING for s in self.state.values()) and time.monotonic() < deadline:
            self.store.heartbeat(self.run_id)
            self.collect()
            time.sleep(_MAX_POLL)

    def say(self, line: str) -> None:
        self.log.say(line)

    def abandon(self) -> None:
        self.cancel_running("the pipeline driver failed")


def _dataset_definition(where: dict[str, Any], kind: str, fmt: dict[str, Any] | None
                        ) -> dict[str, Any]:
    fmt = dict(fmt or {})
    glob = fmt.pop("path_glob", None) or "**"
    definition: dict[str, Any] = {
        "sources": [{"datastore": where["datastore"], "path": f"{where['path']}/{glob}"}]}
    if kind == "tabular":
        definition["format"] = fmt
    return definition


main = driver_main(_Driver, "pipeline run")


if __name__ == "__main__":
    sys.exit(main())
