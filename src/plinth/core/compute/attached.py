"""Attach types azureml has and Plinth does not run: their configurations can be built (so
code that makes them works), and attaching one fails saying what is supported."""

from __future__ import annotations

from typing import Any

from plinth.core.compute.compute import ComputeTarget, ComputeTargetConfiguration
from plinth.exceptions import ComputeTargetException

__all__ = [
    "DatabricksCompute",
    "HDInsightCompute",
    "KubernetesCompute",
    "RemoteCompute",
    "check_supported",
]

SUPPORTED = {
    "create": "AmlCompute.provisioning_configuration(...) (a training cluster on Ray), "
              "ComputeInstance.provisioning_configuration(...) (this machine) and "
              "AksCompute.provisioning_configuration(...) (an inference cluster: this machine)",
    "attach": "RayCompute.attach_configuration(address=...) (an existing Ray cluster) and "
              "AksCompute.attach_configuration(...) (an inference cluster: this machine)",
}
_RUNNABLE = {"create": {"AmlCompute", "ComputeInstance", "AKS"}, "attach": {"Ray", "AKS"}}


def check_supported(configuration: Any, verb: str) -> None:
    kind = getattr(configuration, "kind", None)
    if kind not in _RUNNABLE[verb]:
        shown = kind or type(configuration).__name__
        raise ComputeTargetException(
            f"NotSupported: Plinth cannot {verb} {shown} compute. What it can {verb}: "
            f"{SUPPORTED[verb]}."
        )


def _unsupported(kind: str):
    class Unsupported(ComputeTarget):
        _kind = kind

        @staticmethod
        def attach_configuration(*args: Any, **kwargs: Any) -> ComputeTargetConfiguration:
            # Settings are kept out of the configuration: they may hold access tokens.
            return ComputeTargetConfiguration(kind, {})

        provisioning_configuration = attach_configuration

    Unsupported.__name__ = Unsupported.__qualname__ = f"{kind}Compute"
    return Unsupported


DatabricksCompute = _unsupported("Databricks")
HDInsightCompute = _unsupported("HDInsight")
RemoteCompute = _unsupported("Remote")
KubernetesCompute = _unsupported("Kubernetes")
