"""Step fingerprints: two step runs with one fingerprint would compute the same outputs."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["step_fingerprint"]

#: The parts of a run definition that change what a step computes.
_DEFINITION_KEYS = ("script", "command", "arguments", "environment", "environment_variables",
                    "compute", "target", "framework", "snapshotId", "estimator",
                    "max_run_duration_seconds")


def step_fingerprint(store: Any, workspace_id: str, step: Mapping[str, Any],
                     definition: Mapping[str, Any], upstream: Sequence[Mapping[str, Any]]
                     ) -> str:
    """The fingerprint of ``step`` about to run ``definition`` (parameters resolved), whose
    data inputs come from ``upstream``: ``{"name", "producer", "output", "mode", ...}``, the
    run that actually produced each (so a reused upstream step keeps its downstream
    reusable, and a rerun one does not)."""
    payload = {
        "kind": step["kind"],
        **{key: definition.get(key) for key in _DEFINITION_KEYS},
        "inputs": [_input_identity(store, workspace_id, spec)
                   for spec in definition.get("inputs") or []],
        "upstream": sorted((dict(u) for u in upstream), key=lambda u: u["name"]),
        "outputs": sorted((o["name"], o["kind"], o["datastore"], o["path"], o["path_on_compute"])
                          for o in step["outputs"]),
    }
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _input_identity(store: Any, workspace_id: str, spec: Mapping[str, Any]) -> Any:
    """A dataset by its name and version (or, unregistered, its definition); a datastore
    path as given."""
    if spec["kind"] != "dataset":
        return dict(spec)
    record = store.get_dataset_by_id(workspace_id, spec["dataset_id"])
    what: dict[str, Any] = ({"name": record.name, "version": record.version} if record.name
                            else {"definition": record.definition})
    return {"name": spec["name"], "mode": spec["mode"],
            "path_on_compute": spec.get("path_on_compute"), "dataset": what}
