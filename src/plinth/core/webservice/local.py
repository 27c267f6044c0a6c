"""``LocalWebservice``: a service on this machine, for trying a deployment out."""

from __future__ import annotations

from plinth.core.webservice.webservice import Webservice, WebserviceDeploymentConfiguration
from plinth.exceptions import UserErrorException

__all__ = ["LocalWebservice"]


class LocalWebserviceDeploymentConfiguration(WebserviceDeploymentConfiguration):
    _kind = "Local"


class LocalWebservice(Webservice):
    """A service whose process runs here (no auth, as azureml's local deployments)."""

    _kind = "Local"

    @staticmethod
    def deploy_configuration(port: int | None = None) -> LocalWebserviceDeploymentConfiguration:
        check_port(port)
        return LocalWebserviceDeploymentConfiguration(port=port)

    def reload(self, wait: bool = False) -> None:
        """Restart the service with the entry script's current code from its source folder
        (re-snapshotted), without changing anything else."""
        record = self._refresh()
        source = record.inference.get("source_directory")
        if not source:
            raise UserErrorException(f"Service {self.name!r} does not know its source folder.")
        from plinth._execution.snapshot import take_snapshot
        from plinth._serving import deploy

        inference = {**record.inference,
                     "snapshotId": take_snapshot(source, self.workspace._artifacts)}
        record = self.workspace._store.update_service(self.workspace._id, self.name,
                                                      inference=inference)
        self._record = deploy.start(self.workspace._location, record)
        if wait:
            self.wait_for_deployment()


def check_port(port: object) -> None:
    if port is not None and (not isinstance(port, int) or isinstance(port, bool)
                             or not 0 < port < 65536):
        raise UserErrorException(f"port must be a TCP port number (1-65535), got {port!r}.")
