"""Submitting a HyperDrive sweep: record the parent run with what to sample, start its driver."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from plinth._execution.submit import launch_worker, new_run_id, prepare_definition
from plinth._location import WorkspaceLocation
from plinth._store import ExperimentRecord, RunStatus

__all__ = ["HYPERDRIVE_RUN", "submit_sweep"]

HYPERDRIVE_RUN = "hyperdrive"


def submit_sweep(location: WorkspaceLocation, experiment: ExperimentRecord,
                 sweep: Mapping[str, Any], *, tags: Mapping[str, str] | None = None,
                 default_concurrency: int | None = None) -> str:
    """Start a sweep (``HyperDriveConfig._definition()``); returns the parent run's id. The
    child's script is snapshotted once, so every child runs the same code."""
    sweep = dict(sweep)
    child = prepare_definition(location, experiment.workspace_id, sweep.pop("child"))
    if sweep["max_concurrent_runs"] is None:
        nodes = ((child.get("compute") or {}).get("config") or {}).get("max_nodes")
        sweep["max_concurrent_runs"] = int(nodes or default_concurrency or 1)
    sweep["child"] = child
    run_id = f"HD_{new_run_id(experiment.name)}"
    if sweep["sampling"].get("seed") is None:
        # Each sweep draws its own points; a restarted driver draws the same ones again.
        digest = hashlib.sha256(run_id.encode()).digest()
        sweep["sampling"] = {**sweep["sampling"], "seed": int.from_bytes(digest[:4], "big")}
    store = location.store()
    store.create_run(
        experiment.id, run_id, run_type=HYPERDRIVE_RUN, status=RunStatus.QUEUED,
        tags={str(k): str(v) for k, v in (tags or {}).items()},
        properties={
            "primary_metric_config": json.dumps(
                {"name": sweep["primary_metric_name"], "goal": sweep["goal"]}),
            "max_total_runs": str(sweep["max_total_runs"]),
            "max_concurrent_runs": str(sweep["max_concurrent_runs"]),
            "snapshotId": child["snapshotId"],
        },
        definition={"hyperdrive": sweep, "target": child.get("target", "local")},
    )
    launch_worker(location, run_id, {"hyperdrive": sweep})
    return run_id
