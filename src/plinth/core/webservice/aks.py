"""``AksWebservice``: a service of several replicas on Ray Serve (an AKS inference cluster's
place); see ``plinth._serving.ray_serve`` for how the settings map onto Serve's."""

from __future__ import annotations

from typing import Any

from plinth.core.webservice.aci import _check_positive
from plinth.core.webservice.webservice import Webservice, WebserviceDeploymentConfiguration
from plinth.exceptions import UserErrorException

__all__ = ["AksWebservice"]


class AksServiceDeploymentConfiguration(WebserviceDeploymentConfiguration):
    _kind = "AKS"


class AksWebservice(Webservice):
    """Ray Serve replicas of the scoring app, ``num_replicas`` of them or autoscaled; key
    auth on by default. The scoring URI is ``http://127.0.0.1:<port>/<name>/score``: one Serve
    proxy (port 8000 unless taken or ``PLINTH_SERVE_PORT``) serves every AKS service."""

    _kind = "AKS"

    @staticmethod
    def deploy_configuration(autoscale_enabled: bool | None = None,
                             autoscale_min_replicas: int | None = None,
                             autoscale_max_replicas: int | None = None,
                             autoscale_refresh_seconds: float | None = None,
                             autoscale_target_utilization: float | None = None,
                             auth_enabled: bool | None = None, cpu_cores: float | None = None,
                             memory_gb: float | None = None, num_replicas: int | None = None,
                             token_auth_enabled: bool | None = None,
                             scoring_timeout_ms: int | None = None,
                             max_concurrent_requests_per_container: int | None = None,
                             tags: dict | None = None, properties: dict | None = None,
                             description: str | None = None, port: int | None = None,
                             **cloud_only: Any) -> AksServiceDeploymentConfiguration:
        """``num_replicas`` (default 1) Ray Serve replicas, each running ``init()`` once and
        reserving ``cpu_cores`` CPUs (default 0.1) and ``memory_gb`` (default 0.5) of the
        Ray cluster. With ``autoscale_enabled=True`` (and no ``num_replicas``) Serve runs
        between ``autoscale_min_replicas`` (default 1) and ``autoscale_max_replicas``
        (default 10) replicas, adding one when requests in progress or queued per replica
        stay above ``max_concurrent_requests_per_container`` (default 1, as azureml's) times
        ``autoscale_target_utilization`` percent (default 70) for
        ``autoscale_refresh_seconds`` (default 1). ``auth_enabled`` defaults to True and
        ``token_auth_enabled`` to False, as azureml's. ``port`` is recorded: the cluster's
        one Serve proxy serves every AKS service."""
        if auth_enabled and token_auth_enabled:
            raise UserErrorException(
                "auth_enabled (keys) and token_auth_enabled cannot both be on; choose one.")
        _check_count(num_replicas=num_replicas, autoscale_min_replicas=autoscale_min_replicas,
                     autoscale_max_replicas=autoscale_max_replicas,
                     max_concurrent_requests_per_container=(
                         max_concurrent_requests_per_container))
        _check_positive(cpu_cores=cpu_cores, memory_gb=memory_gb,
                        autoscale_refresh_seconds=autoscale_refresh_seconds)
        if autoscale_enabled:
            if num_replicas is not None:
                raise UserErrorException(
                    "num_replicas cannot be set with autoscale_enabled=True: the autoscaler "
                    "picks the number of replicas between autoscale_min_replicas and "
                    "autoscale_max_replicas. Set one or the other.")
            low = 1 if autoscale_min_replicas is None else autoscale_min_replicas
            high = 10 if autoscale_max_replicas is None else autoscale_max_replicas
            if low > high:
                raise UserErrorException(
                    f"autoscale_min_replicas ({low}) is more than autoscale_max_replicas "
                    f"({high}).")
            utilization = (70 if autoscale_target_utilization is None
                           else autoscale_target_utilization)
            if (isinstance(utilization, bool) or not isinstance(utilization, (int, float))
                    or not 0 < utilization <= 100):
                raise UserErrorException(
                    "autoscale_target_utilization must be a percentage above 0 and at most "
                    f"100, got {autoscale_target_utilization!r}.")
            autoscale = {"autoscale_enabled": True, "autoscale_min_replicas": low,
                         "autoscale_max_replicas": high,
                         "autoscale_target_utilization": utilization,
                         "autoscale_refresh_seconds": autoscale_refresh_seconds or 1}
        else:
            autoscale = {"num_replicas": num_replicas or 1,
                         "autoscale_enabled": False if autoscale_enabled is False else None,
                         "autoscale_min_replicas": autoscale_min_replicas,
                         "autoscale_max_replicas": autoscale_max_replicas,
                         "autoscale_target_utilization": autoscale_target_utilization,
                         "autoscale_refresh_seconds": autoscale_refresh_seconds}
        key_auth = (not token_auth_enabled) if auth_enabled is None else bool(auth_enabled)
        return AksServiceDeploymentConfiguration(
            auth_enabled=key_auth, token_auth_enabled=bool(token_auth_enabled),
            cpu_cores=cpu_cores or 0.1, memory_gb=memory_gb or 0.5,
            scoring_timeout_ms=scoring_timeout_ms,
            max_concurrent_requests_per_container=max_concurrent_requests_per_container,
            tags=tags, properties=properties, description=description, port=port,
            **autoscale, **{k: v for k, v in cloud_only.items() if v is not None})


def _check_count(**values: Any) -> None:
    for name, value in values.items():
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or value < 1):
            raise UserErrorException(f"{name} must be 1 or more, got {value!r}.")
