"""Where processes run. A backend runs a command somewhere and knows nothing about runs."""

from plinth._compute.local import LocalProcess, start_detached
from plinth._compute.ray import (
    WorkerDied,
    ensure_local_cluster,
    local_cluster,
    run_command,
    stop_local_cluster,
)

__all__ = [
    "LocalProcess",
    "WorkerDied",
    "ensure_local_cluster",
    "local_cluster",
    "run_command",
    "start_detached",
    "stop_local_cluster",
]
