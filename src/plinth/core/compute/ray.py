"""``RayCompute``: an existing Ray cluster, attached by its address (a Plinth addition)."""

from __future__ import annotations

from plinth.core.compute.compute import ComputeTarget, ComputeTargetConfiguration
from plinth.exceptions import ComputeTargetException

__all__ = ["RayCompute"]


class RayCompute(ComputeTarget):
    """Runs go to the Ray cluster at ``address``, which queues them by its resources."""

    _kind = "Ray"

    @staticmethod
    def attach_configuration(address: str, cpus_per_run: float = 1,
                             memory_gb_per_run: float | None = None
                             ) -> ComputeTargetConfiguration:
        """``address``: ``host:port`` of the cluster's head (``ray start --head`` prints it)
        or a Ray client address ``ray://host:10001``."""
        if not isinstance(address, str) or not address.strip():
            raise ComputeTargetException("address must be the Ray cluster's address, e.g. "
                                         "'10.0.0.5:6379' or 'ray://10.0.0.5:10001'.")
        if cpus_per_run <= 0:
            raise ComputeTargetException(f"cpus_per_run must be positive, got {cpus_per_run}.")
        return ComputeTargetConfiguration("Ray", {"address": address.strip(),
                                                  "cpus": cpus_per_run,
                                                  "memory_gb": memory_gb_per_run})

    @property
    def address(self) -> str:
        return self._record.config["address"]
