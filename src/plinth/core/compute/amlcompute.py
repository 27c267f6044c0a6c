"""``AmlCompute``: a training cluster. Plinth runs it on Ray: each run gets the CPUs and
memory of its ``vm_size``, and at most ``max_nodes`` runs of the cluster run at once."""

from __future__ import annotations

import os
import warnings
from typing import Any

from plinth.core.compute.compute import ComputeTarget, ComputeTargetConfiguration
from plinth.exceptions import ComputeTargetException

__all__ = ["AmlCompute", "VM_SIZES"]

#: Azure VM sizes -> (vCPUs, memory GiB): what one node, and so one run, is given.
VM_SIZES: dict[str, tuple[int, float]] = {
    "STANDARD_D1_V2": (1, 3.5), "STANDARD_D2_V2": (2, 7), "STANDARD_D3_V2": (4, 14),
    "STANDARD_D4_V2": (8, 28), "STANDARD_D5_V2": (16, 56),
    "STANDARD_D11_V2": (2, 14), "STANDARD_D12_V2": (4, 28), "STANDARD_D13_V2": (8, 56),
    "STANDARD_D14_V2": (16, 112),
    "STANDARD_DS1_V2": (1, 3.5), "STANDARD_DS2_V2": (2, 7), "STANDARD_DS3_V2": (4, 14),
    "STANDARD_DS4_V2": (8, 28), "STANDARD_DS11_V2": (2, 14), "STANDARD_DS12_V2": (4, 28),
    "STANDARD_DS13_V2": (8, 56), "STANDARD_DS14_V2": (16, 112),
    "STANDARD_D2S_V3": (2, 8), "STANDARD_D4S_V3": (4, 16), "STANDARD_D8S_V3": (8, 32),
    "STANDARD_E2S_V3": (2, 16), "STANDARD_E4S_V3": (4, 32), "STANDARD_E8S_V3": (8, 64),
    "STANDARD_F2S_V2": (2, 4), "STANDARD_F4S_V2": (4, 8), "STANDARD_F8S_V2": (8, 16),
    "STANDARD_NC6": (6, 56), "STANDARD_NC12": (12, 112), "STANDARD_NC24": (24, 224),
    "STANDARD_NC6S_V3": (6, 112),
}
DEFAULT_VM_SIZE = "STANDARD_D2_V2"


class AmlCompute(ComputeTarget):
    _kind = "AmlCompute"

    @staticmethod
    def provisioning_configuration(
        vm_size: str = "", vm_priority: str = "dedicated", min_nodes: int = 0,
        max_nodes: int | None = None, idle_seconds_before_scaledown: int | None = None,
        admin_username: str | None = None, admin_user_password: str | None = None,
        admin_user_ssh_key: str | None = None, vnet_resourcegroup_name: str | None = None,
        vnet_name: str | None = None, subnet_name: str | None = None, tags: Any = None,
        description: str | None = None, remote_login_port_public_access: str = "NotSpecified",
        identity_type: str | None = None, identity_id: Any = None, location: str | None = None,
        enable_node_public_ip: bool = True,
    ) -> ComputeTargetConfiguration:
        """A cluster whose runs each get ``vm_size``'s CPUs and memory (clamped, with a
        warning, to what this machine has); at most ``max_nodes`` (default 4) run at once.
        ``vm_priority='lowpriority'`` is accepted: local nodes are never pre-empted."""
        size = (vm_size or DEFAULT_VM_SIZE).upper()
        if size not in VM_SIZES:
            raise ComputeTargetException(
                f"vm_size={vm_size!r} is not a size Plinth knows; use one of "
                f"{', '.join(sorted(VM_SIZES))}."
            )
        if vm_priority not in ("dedicated", "lowpriority"):
            raise ComputeTargetException(
                f"vm_priority must be 'dedicated' or 'lowpriority', got {vm_priority!r}."
            )
        max_nodes = 4 if max_nodes is None else max_nodes
        if not isinstance(max_nodes, int) or max_nodes < 1:
            raise ComputeTargetException(f"max_nodes must be at least 1, got {max_nodes!r}.")
        if not isinstance(min_nodes, int) or not 0 <= min_nodes <= max_nodes:
            raise ComputeTargetException(
                f"min_nodes must be between 0 and max_nodes ({max_nodes}), got {min_nodes!r}."
            )
        cpus, memory_gb = _fit_to_machine(size, *VM_SIZES[size])
        config = {
            "vm_size": size, "vm_priority": vm_priority, "min_nodes": min_nodes,
            "max_nodes": max_nodes,
            "idle_seconds_before_scaledown": int(idle_seconds_before_scaledown or 1800),
            "cpus": cpus, "memory_gb": memory_gb, "description": description,
        }
        return ComputeTargetConfiguration("AmlCompute", config)

    @property
    def vm_size(self) -> str:
        return self._record.config["vm_size"]

    @property
    def scale_settings(self) -> dict[str, Any]:
        c = self._record.config
        return {"minimum_node_count": c["min_nodes"], "maximum_node_count": c["max_nodes"],
                "idle_seconds_before_scaledown": c["idle_seconds_before_scaledown"]}

    def _status_details(self) -> dict[str, Any]:
        return {"vmSize": self.vm_size, **self.scale_settings}


def _fit_to_machine(size: str, cpus: int, memory_gb: float) -> tuple[float, float]:
    """A size's CPUs and memory, no more than this machine has."""
    import psutil

    have_cpus = os.cpu_count() or 1
    have_gb = psutil.virtual_memory().total / 2**30
    fit_cpus, fit_gb = min(cpus, have_cpus), min(memory_gb, round(have_gb * 0.8, 1))
    if (fit_cpus, fit_gb) != (cpus, memory_gb):
        message = (f"vm_size {size} has {cpus} CPUs and {memory_gb} GiB; this machine has "
                   f"{have_cpus} CPUs and {have_gb:.1f} GiB, so each run gets {fit_cpus} "
                   f"CPUs and {fit_gb} GiB.")
        warnings.warn(message, UserWarning, stacklevel=4)
    return fit_cpus, fit_gb
