"""``AksWebservice``: a service of several replicas (an AKS inference cluster's place)."""

from __future__ import annotations

from typing import Any

from plinth.core.webservice.aci import _check_positive
from plinth.core.webservice.webservice import Webservice, WebserviceDeploymentConfiguration
from plinth.exceptions import UserErrorException

__all__ = ["AksWebservice"]


class AksServiceDeploymentConfiguration(WebserviceDeploymentConfiguration):
    _kind = "AKS"


class AksWebservice(Webservice):
    """``num_replicas`` serving processes behind one port; key auth on by default."""

    _kind = "AKS"

    @staticmethod
    def deploy_configuration(autoscale_enabled: bool | None = None,
                             autoscale_min_replicas: int | None = None,
                             autoscale_max_replicas: int | None = None,
                             auth_enabled: bool | None = None, cpu_cores: float | None = None,
                             memory_gb: float | None = None, num_replicas: int | None = None,
                             token_auth_enabled: bool | None = None,
                             scoring_timeout_ms: int | None = None, tags: dict | None = None,
                             properties: dict | None = None, description: str | None = None,
                             port: int | None = None, **cloud_only: Any
                             ) -> AksServiceDeploymentConfiguration:
        """``num_replicas`` (default 1) serving processes; ``auth_enabled`` defaults to True
        and ``token_auth_enabled`` to False, as azureml's. Autoscaling is not supported yet:
        ``autoscale_enabled=True`` is refused rather than ignored."""
        if autoscale_enabled:
            raise UserErrorException(
                "autoscale_enabled is not supported yet; set num_replicas to the number of "
                "replicas to run.")
        if auth_enabled and token_auth_enabled:
            raise UserErrorException(
                "auth_enabled (keys) and token_auth_enabled cannot both be on; choose one.")
        if num_replicas is not None and (not isinstance(num_replicas, int) or num_replicas < 1):
            raise UserErrorException(f"num_replicas must be 1 or more, got {num_replicas!r}.")
        _check_positive(cpu_cores=cpu_cores, memory_gb=memory_gb)
        key_auth = (not token_auth_enabled) if auth_enabled is None else bool(auth_enabled)
        return AksServiceDeploymentConfiguration(
            num_replicas=num_replicas or 1, auth_enabled=key_auth,
            token_auth_enabled=bool(token_auth_enabled), cpu_cores=cpu_cores or 0.1,
            memory_gb=memory_gb or 0.5, scoring_timeout_ms=scoring_timeout_ms, tags=tags,
            properties=properties, description=description, port=port,
            autoscale_min_replicas=autoscale_min_replicas,
            autoscale_max_replicas=autoscale_max_replicas,
            **{k: v for k, v in cloud_only.items() if v is not None})
