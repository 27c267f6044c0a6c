"""Where processes run. A backend runs a command somewhere and knows nothing about runs."""

from plinth._compute.local import LocalProcess, start_detached

__all__ = ["LocalProcess", "start_detached"]
