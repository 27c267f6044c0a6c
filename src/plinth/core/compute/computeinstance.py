"""``ComputeInstance``: a development machine. In Plinth, this machine."""

from __future__ import annotations

from plinth.core.compute.compute import ComputeTarget, ComputeTargetConfiguration

__all__ = ["ComputeInstance"]


class ComputeInstance(ComputeTarget):
    """Runs on a compute instance run on this machine, as local runs do."""

    _kind = "ComputeInstance"

    @staticmethod
    def provisioning_configuration(vm_size: str = "STANDARD_DS3_V2",
                                   ssh_public_access: bool = False,
                                   admin_user_ssh_public_key: str | None = None,
                                   vnet_resourcegroup_name: str | None = None,
                                   vnet_name: str | None = None, subnet_name: str | None = None,
                                   tags: object = None, description: str | None = None,
                                   **kwargs: object) -> ComputeTargetConfiguration:
        return ComputeTargetConfiguration("ComputeInstance",
                                          {"vm_size": vm_size, "description": description})
