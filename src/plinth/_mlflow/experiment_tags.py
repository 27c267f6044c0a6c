"""MLflow experiment tags, kept in the workspace's artifact root.

Plinth experiments have no tags (``ExperimentRecord`` has none and the ``Store`` protocol no
method to set them), so the tags MLflow sets on an experiment live in one JSON object at
``experiments/<experiment_id>/mlflow-tags.json`` under the artifact root. A write replaces
the whole file through a temporary name, so readers never see half of one; two processes
changing one experiment's tags at the same instant can lose one of the two changes.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["read_tags", "update_tags"]


def _name(experiment_id: str) -> str:
    return f"experiments/{experiment_id}/mlflow-tags.json"


def read_tags(artifacts: Any, experiment_id: str) -> dict[str, str]:
    name = _name(experiment_id)
    if not artifacts.exists(name):
        return {}
    try:
        data = json.loads(artifacts.read_bytes(name))
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def update_tags(
    artifacts: Any,
    experiment_id: str,
    set_tags: Mapping[str, str] | None = None,
    remove: Iterable[str] = (),
) -> dict[str, str]:
    """Set and remove tags; returns the experiment's tags afterwards."""
    tags = read_tags(artifacts, experiment_id)
    tags.update({str(k): str(v) for k, v in (set_tags or {}).items()})
    for key in remove:
        tags.pop(key, None)
    payload = json.dumps(tags, sort_keys=True).encode()
    artifacts.put_stream(_name(experiment_id), io.BytesIO(payload))
    return tags
