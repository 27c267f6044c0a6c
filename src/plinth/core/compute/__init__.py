"""Compute targets (azureml.core.compute's shape): training clusters on Ray, this machine,
and attached Ray clusters."""

from plinth.core.compute.aks import AksCompute
from plinth.core.compute.amlcompute import AmlCompute
from plinth.core.compute.attached import (
    DatabricksCompute,
    HDInsightCompute,
    KubernetesCompute,
    RemoteCompute,
)
from plinth.core.compute.compute import ComputeTarget
from plinth.core.compute.computeinstance import ComputeInstance
from plinth.core.compute.ray import RayCompute

__all__ = [
    "AksCompute",
    "AmlCompute",
    "ComputeInstance",
    "ComputeTarget",
    "DatabricksCompute",
    "HDInsightCompute",
    "KubernetesCompute",
    "RayCompute",
    "RemoteCompute",
]

#: Record kind -> class, for ComputeTarget(ws, name).
KINDS = {"AKS": AksCompute, "AmlCompute": AmlCompute, "ComputeInstance": ComputeInstance,
         "Ray": RayCompute}
