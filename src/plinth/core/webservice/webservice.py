"""``Webservice``: a deployed model answering scoring requests over HTTP."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from plinth._store import ServiceRecord
from plinth.exceptions import NotFoundError, UserErrorException, WebserviceException

if TYPE_CHECKING:
    from plinth.core.workspace import Workspace

__all__ = ["Webservice", "WebserviceDeploymentConfiguration"]


class WebserviceDeploymentConfiguration:
    """Settings of a deployment; ``LocalWebservice.deploy_configuration(...)`` and its
    siblings make them."""

    _kind = "Local"

    def __init__(self, **settings: Any):
        self.settings = settings

    def _config(self) -> dict[str, Any]:
        return {k: v for k, v in self.settings.items() if v is not None}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._config()})"


class Webservice:
    """``Webservice(ws, name)`` gets a deployed service (as its own class: LocalWebservice,
    AciWebservice or AksWebservice)."""

    _kind = ""

    def __new__(cls, workspace: "Workspace" = None, name: str | None = None, *args: Any,
                **kwargs: Any):
        if workspace is None:
            return super().__new__(cls)
        # The class of the service's kind, whichever class was called (as azureml does).
        return Webservice._from_record(workspace, _get(workspace, name))

    def __init__(self, workspace: "Workspace", name: str):
        """Set up by ``__new__``, which found the service."""

    @classmethod
    def _from_record(cls, workspace: "Workspace", record: ServiceRecord) -> "Webservice":
        service = object.__new__(_class_of(record.kind))
        service.workspace = workspace
        service._record = record
        return service

    @staticmethod
    def list(workspace: "Workspace", compute_type: str | None = None,
             model_name: str | None = None, tags: Any = None, properties: Any = None
             ) -> list["Webservice"]:
        out = []
        for record in workspace._store.list_services(workspace._id):
            if compute_type is not None and record.kind != compute_type:
                continue
            if model_name is not None and not any(m.rpartition(":")[0] == model_name
                                                  for m in record.models):
                continue
            out.append(Webservice._from_record(workspace, record))
        return out

    # -- what it is ------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._record.name

    @property
    def compute_type(self) -> str:
        return self._record.kind

    @property
    def state(self) -> str:
        """Transitioning, Healthy, Unhealthy or Failed, as of now."""
        from plinth._serving import deploy

        self._record = deploy.observe(self.workspace._location, self._refresh())
        return self._record.state

    @property
    def scoring_uri(self) -> str | None:
        return self._record.scoring_uri

    @property
    def swagger_uri(self) -> str | None:
        return self._record.swagger_uri

    @property
    def auth_enabled(self) -> bool:
        return bool(self._record.config.get("auth_enabled"))

    @property
    def token_auth_enabled(self) -> bool:
        return bool(self._record.config.get("token_auth_enabled"))

    @property
    def models(self) -> list[Any]:
        from plinth.core.model import Model

        return [Model(self.workspace, m.rpartition(":")[0], version=int(m.rpartition(":")[2]))
                for m in self._record.models]

    @property
    def description(self) -> str | None:
        return self._record.description

    @property
    def tags(self) -> dict[str, str]:
        return dict(self._record.tags)

    @property
    def error(self) -> dict[str, Any] | None:
        return self._record.error

    def _refresh(self) -> ServiceRecord:
        self._record = self.workspace._store.get_service(self.workspace._id, self.name)
        return self._record

    # -- lifecycle ---------------------------------------------------------------------------

    def wait_for_deployment(self, show_output: bool = False, timeout_sec: float | None = None
                            ) -> None:
        """Wait until the service answers (Healthy) or fails; raises WebserviceException
        with its log's tail when it fails."""
        from plinth._serving import deploy

        record = self._refresh()
        if record.state == "Transitioning":
            record = deploy.wait_ready(self.workspace._location, record,
                                       timeout=timeout_sec or 600.0)
        self._record = record
        if show_output:
            print(f"{self.name}: {record.state}")
        if record.state != "Healthy":
            message = (record.error or {}).get("message", "no details")
            raise WebserviceException(
                f"Service {self.name!r} is {record.state}: {message}\nSee service.get_logs().")

    def get_logs(self, num_lines: int = 5000, init: bool = False) -> str:
        from plinth._serving import deploy

        lines = deploy.logs(self._refresh()).splitlines()
        return "\n".join(lines[-num_lines:])

    def update(self, models: Sequence[Any] | None = None, inference_config: Any = None,
               description: str | None = None, tags: Mapping[str, str] | None = None,
               properties: Mapping[str, str] | None = None, **settings: Any) -> None:
        """Change models, code or settings and restart the service with them."""
        from plinth._serving import deploy

        changes: dict[str, Any] = {"description": description, "tags": tags,
                                   "properties": properties}
        if models is not None:
            changes["models"] = [_model_id(m) for m in models]
        if inference_config is not None:
            changes["inference"] = inference_config._inference(self.workspace)
        known = {k: v for k, v in settings.items() if v is not None}
        if known:
            changes["config"] = {**self._record.config, **_check_settings(self, known)}
        record = self.workspace._store.update_service(self.workspace._id, self.name, **changes)
        self._record = deploy.start(self.workspace._location, record)

    def delete(self) -> None:
        """Stop the service and forget it (and its keys)."""
        from plinth._serving import deploy

        record = self._refresh()
        deploy.stop(record)
        deploy.delete_keys(self.workspace._location, record)
        self.workspace._store.delete_service(self.workspace._id, self.name)

    # -- calling it --------------------------------------------------------------------------

    def run(self, input_data: Any) -> Any:
        """Send ``input_data`` (a JSON string, or anything JSON-able) to the scoring URI and
        return the parsed answer; a service still starting is waited for first."""
        import httpx

        from plinth._serving import deploy

        body = input_data if isinstance(input_data, (str, bytes)) else json.dumps(input_data)
        headers = {"Content-Type": "application/json", **self._auth_header()}
        if self.state == "Transitioning":  # just deployed or reloaded: let it come up
            self._record = deploy.wait_ready(self.workspace._location, self._record,
                                             timeout=120)
        response = httpx.post(self._record.scoring_uri, content=body, headers=headers,
                              timeout=90)
        if response.status_code != 200:
            raise WebserviceException(
                f"Service {self.name!r} answered {response.status_code}: {response.text}")
        return response.json()

    def _auth_header(self) -> dict[str, str]:
        if self.token_auth_enabled:
            return {"Authorization": f"Bearer {self.get_token()[0]}"}
        if self.auth_enabled:
            return {"Authorization": f"Bearer {self.get_keys()[0]}"}
        return {}

    def get_keys(self) -> tuple[str, str]:
        """The primary and secondary key, for ``Authorization: Bearer <key>``."""
        from plinth._serving import deploy

        if not self.auth_enabled:
            raise WebserviceException(f"Service {self.name!r} has key auth off.")
        keys = deploy.keys_of(self.workspace._location, self._record)
        return keys["primaryKey"], keys["secondaryKey"]

    def regen_key(self, key: str, set_key: str | None = None) -> None:
        """Replace the ``'Primary'`` or ``'Secondary'`` key; the old one stops working."""
        from plinth._serving import deploy

        if key not in ("Primary", "Secondary"):
            raise UserErrorException(f"key={key!r}: use 'Primary' or 'Secondary'.")
        if not self.auth_enabled:
            raise WebserviceException(f"Service {self.name!r} has key auth off.")
        if set_key is not None:
            raise UserErrorException("set_key is not supported; a new key is generated.")
        deploy.regenerate_key(self.workspace._location, self._record,
                              f"{key.lower()}Key")

    def get_token(self) -> tuple[str, float]:
        """A signed, expiring token and the time (epoch seconds) to refresh it after."""
        from plinth._serving import deploy
        from plinth._serving.scoring import issue_token

        if not self.token_auth_enabled:
            raise WebserviceException(f"Service {self.name!r} has token auth off.")
        secret = deploy.token_secret(self.workspace._location, self._record)
        token, _, refresh_after = issue_token(secret, self.name)
        return token, refresh_after

    def serialize(self) -> dict[str, Any]:
        self.state  # noqa: B018 - brings the record up to date
        r = self._record
        return {"name": r.name, "computeType": r.kind, "state": r.state,
                "scoringUri": r.scoring_uri, "swaggerUri": r.swagger_uri,
                "models": list(r.models), "config": dict(r.config), "error": r.error,
                "description": r.description, "tags": dict(r.tags)}

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(workspace={self.workspace.name}, name={self.name}, "
                f"state={self._record.state}, scoring_uri={self._record.scoring_uri})")


def _get(workspace: "Workspace", name: Any) -> ServiceRecord:
    if not isinstance(name, str):
        raise UserErrorException("name is required: the service's name.")
    try:
        return workspace._store.get_service(workspace._id, name)
    except NotFoundError:
        raise WebserviceException(
            f"No service named {name!r} in workspace {workspace.name!r}; see "
            "Webservice.list(ws)."
        ) from None


def _class_of(kind: str) -> type[Webservice]:
    from plinth.core.webservice.aci import AciWebservice
    from plinth.core.webservice.aks import AksWebservice
    from plinth.core.webservice.local import LocalWebservice

    return {"Local": LocalWebservice, "ACI": AciWebservice, "AKS": AksWebservice}[kind]


def _model_id(model: Any) -> str:
    from plinth.core.model import Model

    if not isinstance(model, Model):
        raise UserErrorException(
            f"models must be Model objects (Model(ws, 'name')), got {type(model).__name__}.")
    return f"{model.name}:{model.version}"


def _check_settings(service: Webservice, settings: dict[str, Any]) -> dict[str, Any]:
    allowed = {"auth_enabled", "token_auth_enabled", "num_replicas", "cpu_cores", "memory_gb",
               "port", "autoscale_enabled", "autoscale_min_replicas",
               "autoscale_max_replicas"}
    unknown = set(settings) - allowed
    if unknown:
        raise UserErrorException(
            f"update() got unknown setting(s) {', '.join(sorted(unknown))}; settable: "
            f"{', '.join(sorted(allowed))}.")
    return settings

