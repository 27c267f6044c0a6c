"""Submitting a script run: snapshot the source, record the run, start its worker."""

from __future__ import annotations

import os
import sys
import tempfile
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from plinth._compute import start_detached
from plinth._execution.snapshot import take_snapshot
from plinth._location import ENV_WORKSPACE, WorkspaceLocation
from plinth._store import ExperimentRecord, RunStatus
from plinth.exceptions import ExperimentExecutionException, NotFoundError, UserErrorException

__all__ = ["submit", "prepare_definition", "start_run", "launch_worker", "new_run_id",
           "SCRIPT_RUN"]

SCRIPT_RUN = "azureml.scriptrun"
#: Runs that run other runs: the key in their definition -> the module of their driver.
DRIVERS = {"pipeline": "plinth._pipelines.driver", "hyperdrive": "plinth._tuning.driver",
           "automl": "plinth._automl.driver"}


def new_run_id(experiment_name: str) -> str:
    return f"{experiment_name}_{int(time.time())}_{uuid.uuid4().hex[:8]}"


def submit(location: WorkspaceLocation, experiment: ExperimentRecord, config: Any,
           tags: Mapping[str, str] | None = None, **kwargs: Any) -> str:
    """Start ``config`` (anything with ``_run_definition()``) as a run; returns its id."""
    to_definition = getattr(config, "_run_definition", None)
    if to_definition is None:
        raise UserErrorException(
            f"config must be a ScriptRunConfig or an estimator, got {type(config).__name__}."
        )
    definition = prepare_definition(location, experiment.workspace_id, to_definition())
    return start_run(location, experiment, definition, tags=tags)


def prepare_definition(location: WorkspaceLocation, workspace_id: str,
                       definition: Mapping[str, Any]) -> dict[str, Any]:
    """Check a run definition and make it self-contained: its compute target resolved, its
    datasets saved, its source folder snapshotted (``snapshotId``)."""
    definition = dict(definition)
    source = Path(definition["source_directory"]).resolve()
    script = definition.get("script")
    if script and not (source / script).is_file():
        raise UserErrorException(
            f"script={script!r} is not in source_directory={str(source)!r}; give its path "
            "relative to the source directory."
        )
    store = location.store()
    compute = _compute(store, workspace_id, definition.get("target"))
    if compute is not None:
        definition["compute"] = compute
    definition["inputs"] = _save_inputs(store, workspace_id, definition.get("inputs") or [])
    snapshot_id = take_snapshot(source, location.artifacts())
    definition.update(source_directory=str(source), snapshotId=snapshot_id)
    return definition


def start_run(location: WorkspaceLocation, experiment: ExperimentRecord,
              definition: dict[str, Any], *, run_id: str | None = None,
              parent_id: str | None = None, tags: Mapping[str, str] | None = None,
              properties: Mapping[str, str] | None = None) -> str:
    """Record a prepared definition as a Queued run and start its worker."""
    store = location.store()
    run_id = run_id or new_run_id(experiment.name)
    snapshot_id = definition["snapshotId"]
    props = {"snapshotId": snapshot_id, "ContentSnapshotId": snapshot_id, **(properties or {})}
    if definition.get("script"):
        props["script"] = definition["script"]
    store.create_run(
        experiment.id,
        run_id,
        run_type=definition.pop("run_type", SCRIPT_RUN),
        status=RunStatus.QUEUED,
        parent_id=parent_id,
        display_name=definition.get("display_name"),
        tags={str(k): str(v) for k, v in (tags or {}).items()},
        properties=props,
        definition=definition,
    )
    lineage = [{"dataset_id": s["dataset_id"], "name": s["name"], "direction": "input",
                "mode": s["mode"]} for s in definition.get("inputs") or []
               if s["kind"] == "dataset"]
    if lineage:
        store.add_run_datasets(run_id, lineage)
    launch_worker(location, run_id, definition)
    return run_id


def _compute(store: Any, workspace_id: str, target: str | None) -> dict[str, Any] | None:
    """The compute target a run names (None for this machine, ``local``)."""
    if target in (None, "local"):
        return None
    try:
        record = store.get_compute(workspace_id, target)
    except NotFoundError:
        raise UserErrorException(
            f"compute_target={target!r} does not exist in this workspace; create it with "
            "ComputeTarget.create(ws, name, AmlCompute.provisioning_configuration(...)), or "
            "use 'local' (this machine)."
        ) from None
    return {"name": record.name, "kind": record.kind, "config": dict(record.config)}


def _save_inputs(store: Any, workspace_id: str, specs: list[dict[str, Any]]
                 ) -> list[dict[str, Any]]:
    """Check the datastores the inputs name, and save datasets that were never saved, so
    the run records exactly which dataset versions it used."""
    saved = []
    for spec in specs:
        spec = dict(spec)
        if spec["kind"] == "datastore_path":
            store.get_datastore(workspace_id, spec["datastore"])
        elif "dataset_id" not in spec:
            dataset = spec.pop("dataset")
            spec["dataset_id"] = store.create_dataset(
                workspace_id, None, kind=dataset["kind"], definition=dataset["definition"]).id
        else:
            store.get_dataset_by_id(workspace_id, spec["dataset_id"])
        saved.append(spec)
    return saved


def launch_worker(location: WorkspaceLocation, run_id: str,
                  definition: Mapping[str, Any] | None = None) -> None:
    """Start the process that runs ``run_id``: its worker, for a training cluster its
    driver (``plinth._execution.cluster``), for a pipeline, a HyperDrive sweep or an AutoML
    run their driver (``DRIVERS``). It outlives the caller."""
    from plinth._execution import launcher
    from plinth._execution.cluster import CLUSTER_KINDS

    if definition is None:
        definition = location.store().get_run(run_id).definition or {}
    on_cluster = (definition.get("compute") or {}).get("kind") in CLUSTER_KINDS
    drivers = [module for key, module in DRIVERS.items() if definition.get(key)]
    if on_cluster:
        module = "plinth._execution.cluster"
    else:
        module = drivers[0] if drivers else launcher.WORKER

    env = {**os.environ, ENV_WORKSPACE: location.to_json()}
    # A server workspace's worker logs back through the server with the submitter's credential.
    for name, value in location.credential_env().items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    if (not on_cluster and launcher.enabled()
            and launcher.request_worker(run_id, env, module) is not None):
        return
    log = Path(tempfile.gettempdir()) / "plinth-workers" / f"{run_id}.log"
    try:
        start_detached([sys.executable, "-m", module, run_id], env=env, log_path=log)
    except OSError as exc:
        location.store().set_status(
            run_id, RunStatus.FAILED, error={"message": f"Could not start the run: {exc}"}
        )
        raise ExperimentExecutionException(f"Could not start run {run_id}: {exc}") from exc
