"""``AksCompute``: an inference cluster for AksWebservice deployments. In Plinth, this
machine: a service deployed to it runs its replicas here."""

from __future__ import annotations

from typing import Any

from plinth.core.compute.compute import ComputeTarget, ComputeTargetConfiguration

__all__ = ["AksCompute"]


class AksCompute(ComputeTarget):
    """An inference cluster; ``agent_count`` and ``vm_size`` are recorded."""

    _kind = "AKS"

    @staticmethod
    def provisioning_configuration(agent_count: int | None = None, vm_size: str | None = None,
                                   location: str | None = None,
                                   cluster_purpose: str | None = None,
                                   **cloud_only: Any) -> ComputeTargetConfiguration:
        return ComputeTargetConfiguration("AKS", {
            "agent_count": agent_count or 3, "vm_size": vm_size or "Standard_D3_v2",
            "location": location, "cluster_purpose": cluster_purpose or "FastProd"})

    @staticmethod
    def attach_configuration(resource_group: str | None = None, cluster_name: str | None = None,
                             resource_id: str | None = None,
                             cluster_purpose: str | None = None) -> ComputeTargetConfiguration:
        return ComputeTargetConfiguration("AKS", {
            "cluster_name": cluster_name, "resource_id": resource_id,
            "cluster_purpose": cluster_purpose or "FastProd"})
