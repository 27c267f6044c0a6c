"""``AciWebservice``: a managed single-process service (Azure Container Instances' place)."""

from __future__ import annotations

from typing import Any

from plinth.core.webservice.local import check_port
from plinth.core.webservice.webservice import Webservice, WebserviceDeploymentConfiguration
from plinth.exceptions import UserErrorException

__all__ = ["AciWebservice"]


class AciServiceDeploymentConfiguration(WebserviceDeploymentConfiguration):
    _kind = "ACI"


class AciWebservice(Webservice):
    """One service process on this machine, outliving the Python that deployed it; key auth
    only when ``auth_enabled``."""

    _kind = "ACI"

    @staticmethod
    def deploy_configuration(cpu_cores: float | None = None, memory_gb: float | None = None,
                             tags: dict | None = None, properties: dict | None = None,
                             description: str | None = None, location: str | None = None,
                             auth_enabled: bool | None = None, ssl_enabled: bool | None = None,
                             enable_app_insights: bool | None = None,
                             dns_name_label: str | None = None, port: int | None = None,
                             **cloud_only: Any) -> AciServiceDeploymentConfiguration:
        """``cpu_cores`` and ``memory_gb`` are recorded (the process is not limited);
        ``location``, ``dns_name_label`` and the other Azure-only settings are recorded and
        have no effect here. TLS (``ssl_enabled``) is not supported: put a proxy in front."""
        if ssl_enabled:
            raise UserErrorException(
                "ssl_enabled is not supported: services listen on plain HTTP on this machine; "
                "put a TLS proxy in front of the scoring URI.")
        _check_positive(cpu_cores=cpu_cores, memory_gb=memory_gb)
        check_port(port)
        return AciServiceDeploymentConfiguration(
            cpu_cores=cpu_cores or 0.1, memory_gb=memory_gb or 0.5,
            auth_enabled=bool(auth_enabled), tags=tags, properties=properties,
            description=description, location=location, dns_name_label=dns_name_label,
            enable_app_insights=enable_app_insights, port=port,
            **{k: v for k, v in cloud_only.items() if v is not None})


def _check_positive(**values: Any) -> None:
    for name, value in values.items():
        if value is not None and (not isinstance(value, (int, float)) or value <= 0):
            raise UserErrorException(f"{name} must be a positive number, got {value!r}.")
