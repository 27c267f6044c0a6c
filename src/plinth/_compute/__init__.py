"""Where processes run. A backend runs a command somewhere and knows nothing about runs."""

from plinth._compute.local import LocalProcess, alive, free_port, start_detached
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
    "alive",
    "ensure_local_cluster",
    "free_port",
    "local_cluster",
    "run_command",
    "start_detached",
    "stop_local_cluster",
]
