"""``RestStore``: the :class:`~plinth._store.base.Store` of a workspace on a server.

Every call is one request to the server's ``/api/v1`` (see ``plinth._server``); requests are
built from the shared schemas in ``plinth._api`` and responses validated into the same
records ``SqlStore`` returns, so the SDK cannot tell the two apart.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import quote

from pydantic import TypeAdapter

from plinth._api import (
    AddPipelineEndpointVersionRequest,
    AddRunDatasetsRequest,
    ArchiveRequest,
    CreateComputeRequest,
    CreateDatasetRequest,
    CreateDatastoreRequest,
    CreateExperimentRequest,
    CreateModelVersionRequest,
    CreatePipelineEndpointRequest,
    CreatePublishedPipelineRequest,
    CreateRunRequest,
    CreateScheduleRequest,
    CreateServiceRequest,
    CreateWorkspaceRequest,
    PipelineStatusRequest,
    PropertiesRequest,
    RecordStepResultRequest,
    RegisterEnvironmentRequest,
    RemoveTagsRequest,
    SecretNamesRequest,
    SetSecretsRequest,
    StatusRequest,
    TagsRequest,
    UpdateDatasetRequest,
    UpdateModelRequest,
    UpdatePipelineEndpointRequest,
    UpdateRunRequest,
    UpdateScheduleRequest,
    UpdateServiceRequest,
)
from plinth._api.client import ApiClient
from plinth._secrets import check_secret_name, check_secret_value
from plinth._store.base import (
    ComputeRecord,
    DatasetRecord,
    DatastoreRecord,
    EnvironmentRecord,
    ExperimentRecord,
    MetricPoint,
    ModelRecord,
    PipelineEndpointRecord,
    PublishedPipelineRecord,
    RunDatasetRecord,
    RunRecord,
    RunStatus,
    ScheduleRecord,
    SecretRecord,
    ServiceRecord,
    WorkspaceRecord,
)
from plinth._store.sql import checked_step_and_time
from plinth._store.sql_computes import check_compute_args, could_be_compute_name
from plinth._store.sql_data import (
    check_dataset_args,
    check_datastore_args,
    check_run_datasets,
)
from plinth._store.sql_envs import check_environment_args
from plinth._store.sql_pipelines import (
    check_endpoint_args,
    check_endpoint_key,
    check_endpoint_update,
    check_fingerprint,
    check_pipeline_state,
    check_published_pipeline_args,
    check_schedule_args,
    check_schedule_update,
    check_step_run_id,
    could_be_fingerprint,
    could_be_pipeline_id,
)
from plinth._store.sql_services import (
    check_service_args,
    check_service_update,
    could_be_service_name,
)
from plinth.exceptions import AuthorizationError, NotFoundError, PlinthError, ValidationError

__all__ = ["RestStore", "ServerOnlyError"]

R = TypeVar("R")
#: Run ids per request of ``latest_metrics`` (the server takes up to 200; ids in a URL).
_LATEST_RUNS_PER_CALL = 100
_adapters: dict[Any, TypeAdapter] = {}


class ServerOnlyError(PlinthError, NotImplementedError):
    """A store method only the server's own store has: the pipeline scheduler's, and the
    service supervisor's listing of every workspace's services."""


def _segment(value: str) -> str:
    """``value`` as one URL path segment. '.' and '..' would be collapsed by URL
    normalisation into another route (a workspace's, say), and '' names nothing: none of
    them can name an object."""
    if value in ("", ".", ".."):
        raise NotFoundError(f"No object named {value!r}.")
    return quote(value, safe="")


def _load(kind: Any, data: Any) -> Any:
    adapter = _adapters.get(kind)
    if adapter is None:
        adapter = _adapters[kind] = TypeAdapter(kind)
    return adapter.validate_python(data)


def _body(model: Any) -> dict[str, Any]:
    return model.model_dump(mode="json")


class RestStore:
    """The store of workspace ``workspace_name`` served at ``client.server_url``."""

    def __init__(self, client: ApiClient, workspace_name: str, *, heartbeat_timeout: float = 60):
        self.client = client
        self.workspace_name = workspace_name
        self.heartbeat_timeout = heartbeat_timeout  # applied by the server's own store
        self._names: dict[str, str] = {}

    def close(self) -> None:
        self.client.close()

    # -- plumbing -------------------------------------------------------------------------

    @property
    def _ws(self) -> str:
        return f"/workspaces/{_segment(self.workspace_name)}"

    def _run(self, run_id: str) -> str:
        return f"{self._ws}/runs/{_segment(run_id)}"

    def _name_of(self, workspace_id: str) -> str:
        if workspace_id not in self._names:
            for record in self.list_workspaces():
                self._names[record.id] = record.name
        if workspace_id not in self._names:
            raise NotFoundError(f"No workspace with id {workspace_id!r} on this server.")
        return _segment(self._names[workspace_id])

    def _pages(self, path: str, params: Mapping[str, Any] | None = None) -> Iterator[Any]:
        params = {k: v for k, v in (params or {}).items() if v is not None}
        token = None
        while True:
            page = self.client.call("GET", path, params={**params, "page_token": token}
                                    if token else params)
            yield from page["items"]
            token = page.get("next_page_token")
            if not token:
                return

    def _record(self, kind: type[R], method: str, path: str, body: Any = None,
                idempotent: bool | None = None) -> R:
        return _load(kind, self.client.call(method, path, body=body, idempotent=idempotent))

    # -- workspaces -----------------------------------------------------------------------

    def create_workspace(self, name: str, properties: Mapping[str, Any]) -> WorkspaceRecord:
        body = _body(CreateWorkspaceRequest(name=name, properties=dict(properties)))
        record = self._record(WorkspaceRecord, "POST", "/workspaces", body, idempotent=False)
        self._names[record.id] = record.name
        return record

    def get_workspace(self, name: str) -> WorkspaceRecord:
        record = self._record(WorkspaceRecord, "GET", f"/workspaces/{_segment(name)}")
        self._names[record.id] = record.name
        return record

    def list_workspaces(self) -> list[WorkspaceRecord]:
        records = [_load(WorkspaceRecord, item) for item in self._pages("/workspaces")]
        self._names.update({r.id: r.name for r in records})
        return records

    def delete_workspace(self, name: str) -> None:
        self.client.call("DELETE", f"/workspaces/{_segment(name)}")

    # -- experiments ----------------------------------------------------------------------

    def create_experiment(self, workspace_id: str, name: str) -> ExperimentRecord:
        path = f"/workspaces/{self._name_of(workspace_id)}/experiments"
        body = _body(CreateExperimentRequest(name=name))
        try:
            return self._record(ExperimentRecord, "POST", path, body, idempotent=True)
        except AuthorizationError as denied:
            # A Reader may not create experiments, but may use one that exists.
            try:
                return self.get_experiment(workspace_id, name)
            except NotFoundError:
                raise denied from None

    def get_experiment(self, workspace_id: str, name: str) -> ExperimentRecord:
        path = f"/workspaces/{self._name_of(workspace_id)}/experiments/{_segment(name)}"
        return self._record(ExperimentRecord, "GET", path)

    def get_experiment_by_id(self, experiment_id: str) -> ExperimentRecord:
        return self._record(ExperimentRecord, "GET", f"{self._ws}/experiment-ids/{experiment_id}")

    def list_experiments(self, workspace_id: str,
                         include_archived: bool = False) -> list[ExperimentRecord]:
        path = f"/workspaces/{self._name_of(workspace_id)}/experiments"
        items = self._pages(path, {"include_archived": include_archived})
        return [_load(ExperimentRecord, item) for item in items]

    def set_experiment_archived(self, experiment_id: str, archived: bool) -> ExperimentRecord:
        return self._record(ExperimentRecord, "PATCH", f"{self._ws}/experiment-ids/{experiment_id}",
                            _body(ArchiveRequest(archived=archived)))

    # -- runs -----------------------------------------------------------------------------

    def create_run(self, experiment_id: str, run_id: str, *, run_type: str,
                   status: str = RunStatus.NOT_STARTED, parent_id: str | None = None,
                   display_name: str | None = None, description: str | None = None,
                   tags: Mapping[str, str] | None = None,
                   properties: Mapping[str, str] | None = None,
                   definition: Mapping[str, Any] | None = None) -> RunRecord:
        body = _body(CreateRunRequest(
            run_id=run_id, run_type=run_type, status=status, parent_id=parent_id,
            display_name=display_name, description=description, tags=dict(tags or {}),
            properties=dict(properties or {}),
            definition=dict(definition) if definition is not None else None,
        ))
        path = f"{self._ws}/experiment-ids/{experiment_id}/runs"
        return self._record(RunRecord, "POST", path, body, idempotent=False)

    def get_run(self, run_id: str) -> RunRecord:
        return self._record(RunRecord, "GET", self._run(run_id))

    def list_runs(self, *, experiment_id: str | None = None, parent_id: str | None = None,
                  run_type: str | None = None, root_only: bool = False) -> list[RunRecord]:
        params = {"experiment_id": experiment_id, "parent_id": parent_id,
                  "run_type": run_type, "root_only": root_only}
        return [_load(RunRecord, item) for item in self._pages(f"{self._ws}/runs", params)]

    def set_status(self, run_id: str, status: str, *,
                   error: Mapping[str, Any] | None = None) -> RunRecord:
        body = _body(StatusRequest(status=status, error=dict(error) if error else None))
        return self._record(RunRecord, "POST", f"{self._run(run_id)}/status", body,
                            idempotent=True)

    def request_cancel(self, run_id: str) -> RunRecord:
        return self._record(RunRecord, "POST", f"{self._run(run_id)}/cancel", idempotent=True)

    def heartbeat(self, run_id: str) -> bool:
        reply = self.client.call("POST", f"{self._run(run_id)}/heartbeat", idempotent=True)
        return bool(reply["stop"])

    def fail_stale_runs(self) -> list[str]:
        return list(self.client.call("POST", f"{self._ws}/runs-fail-stale", idempotent=True))

    def update_run(self, run_id: str, *, display_name: str | None = None,
                   description: str | None = None) -> RunRecord:
        body = _body(UpdateRunRequest(display_name=display_name, description=description))
        return self._record(RunRecord, "PATCH", self._run(run_id), body)

    def set_tags(self, run_id: str, tags: Mapping[str, str]) -> RunRecord:
        return self._record(RunRecord, "POST", f"{self._run(run_id)}/tags",
                            _body(TagsRequest(tags=dict(tags))), idempotent=True)

    def remove_tags(self, run_id: str, keys: Iterable[str]) -> RunRecord:
        return self._record(RunRecord, "POST", f"{self._run(run_id)}/tags-remove",
                            _body(RemoveTagsRequest(keys=list(keys))), idempotent=True)

    def add_properties(self, run_id: str, properties: Mapping[str, str]) -> RunRecord:
        return self._record(RunRecord, "POST", f"{self._run(run_id)}/properties",
                            _body(PropertiesRequest(properties=dict(properties))),
                            idempotent=True)

    # -- metrics --------------------------------------------------------------------------

    def log_metrics(self, run_id: str, points: Sequence[MetricPoint]) -> None:
        for start in range(0, len(points), 50_000):
            batch = points[start:start + 50_000]
            # Plain lists: validating 50,000 tuples with pydantic client-side would cost more
            # than sending. Steps and times are checked as a SqlStore checks them, so a bad
            # one raises ValidationError rather than the server's generic 422.
            body = {"points": [_point(p) for p in batch]}
            self.client.call("POST", f"{self._run(run_id)}/metrics", body=body, idempotent=False)

    def get_metrics(self, run_id: str, name: str | None = None) -> list[MetricPoint]:
        items = self.client.call("GET", f"{self._run(run_id)}/metrics",
                                 params={"name": name} if name is not None else None)
        return [MetricPoint(*item) for item in items]

    def latest_metrics(self, run_ids: Sequence[str],
                       names: Sequence[str] | None = None) -> dict[str, dict[str, float]]:
        if isinstance(run_ids, str) or isinstance(names, str):
            raise ValidationError("run_ids and names must be lists of strings, not a str.")
        run_ids = list(dict.fromkeys(run_ids))
        if names is not None:
            names = list(dict.fromkeys(names))
            if not names:
                return {}
        out: dict[str, dict[str, float]] = {}
        for start in range(0, len(run_ids), _LATEST_RUNS_PER_CALL):
            params = {"run_id": run_ids[start:start + _LATEST_RUNS_PER_CALL], "name": names}
            found = self.client.call("GET", f"{self._ws}/runs-latest-metrics",
                                     params={k: v for k, v in params.items() if v is not None})
            out.update({r: {n: float(v) for n, v in values.items()}
                        for r, values in found.items()})
        return out

    # -- models ---------------------------------------------------------------------------

    def _model_path(self, workspace_id: str, name: str, version: int | str) -> str:
        ws = self._name_of(workspace_id)
        return f"/workspaces/{ws}/models/{_segment(name)}/versions/{version}"

    def create_model_version(self, workspace_id: str, name: str, *, path: str,
                             description: str | None = None,
                             tags: Mapping[str, str] | None = None,
                             properties: Mapping[str, str] | None = None,
                             framework: str | None = None,
                             framework_version: str | None = None,
                             run_id: str | None = None, experiment_name: str | None = None,
                             datasets: Sequence[Mapping[str, Any]] = ()) -> ModelRecord:
        body = _body(CreateModelVersionRequest(
            path=path, description=description, tags=dict(tags or {}),
            properties=dict(properties or {}), framework=framework,
            framework_version=framework_version, run_id=run_id,
            experiment_name=experiment_name, datasets=[dict(d) for d in datasets],
        ))
        target = f"/workspaces/{self._name_of(workspace_id)}/models/{_segment(name)}/versions"
        return self._record(ModelRecord, "POST", target, body, idempotent=False)

    def get_model(self, workspace_id: str, name: str, version: int | None = None) -> ModelRecord:
        path = self._model_path(workspace_id, name, "latest" if version is None else int(version))
        return self._record(ModelRecord, "GET", path)

    def list_models(self, workspace_id: str, name: str | None = None) -> list[ModelRecord]:
        path = f"/workspaces/{self._name_of(workspace_id)}/models"
        return [_load(ModelRecord, item) for item in self._pages(path, {"name": name})]

    def update_model(self, workspace_id: str, name: str, version: int, *,
                     add_tags: Mapping[str, str] | None = None,
                     remove_tags: Iterable[str] = (),
                     add_properties: Mapping[str, str] | None = None) -> ModelRecord:
        body = _body(UpdateModelRequest(add_tags=dict(add_tags or {}),
                                        remove_tags=list(remove_tags),
                                        add_properties=dict(add_properties or {})))
        return self._record(ModelRecord, "PATCH", self._model_path(workspace_id, name, version),
                            body, idempotent=True)

    def delete_model(self, workspace_id: str, name: str, version: int) -> None:
        self.client.call("DELETE", self._model_path(workspace_id, name, version))

    # -- secrets ----------------------------------------------------------------------------
    # Plaintext goes to the server in request bodies; the server's store encrypts it with a
    # key this client never sees. Arguments are checked here first, so a mistake raises the
    # same error as on a SqlStore without a value ever reaching an error message.

    def _secrets(self, workspace_id: str) -> str:
        return f"/workspaces/{self._name_of(workspace_id)}/secrets"

    def set_secrets(self, workspace_id: str, secrets: Mapping[str, str]) -> None:
        if not isinstance(secrets, Mapping):
            raise ValidationError(
                f"secrets must be a dict of name -> value, got {type(secrets).__name__}."
            )
        for name, value in secrets.items():
            check_secret_name(name, "secret name")
            check_secret_value(value, f"the value of secret {name!r}")
        body = _body(SetSecretsRequest(secrets=dict(secrets)))
        self.client.call("POST", self._secrets(workspace_id), body=body, idempotent=True)

    def get_secrets(self, workspace_id: str, names: Sequence[str]) -> dict[str, str]:
        wanted = _secret_names(names)
        found: dict[str, str] = {}
        for start in range(0, len(wanted), 1000):
            body = _body(SecretNamesRequest(names=wanted[start:start + 1000]))
            found.update(self.client.call("POST", f"{self._secrets(workspace_id)}-get",
                                          body=body, idempotent=True))
        return {name: found[name] for name in wanted if name in found}

    def list_secrets(self, workspace_id: str) -> list[SecretRecord]:
        return [_load(SecretRecord, item) for item in self._pages(self._secrets(workspace_id))]

    def delete_secrets(self, workspace_id: str, names: Sequence[str]) -> None:
        wanted = _secret_names(names)
        if wanted:
            body = _body(SecretNamesRequest(names=wanted))
            self.client.call("POST", f"{self._secrets(workspace_id)}-delete", body=body,
                             idempotent=False)

    # -- datastores and datasets ------------------------------------------------------------
    # Arguments are checked here too, so a mistake raises what a SqlStore raises rather than
    # the server's generic 422 for a body it cannot parse.

    def _datastore(self, workspace_id: str, name: str) -> str:
        return f"/workspaces/{self._name_of(workspace_id)}/datastores/{_segment(name)}"

    def create_datastore(self, workspace_id: str, name: str, *, kind: str,
                         config: Mapping[str, Any], secrets: Mapping[str, str] | None = None,
                         overwrite: bool = False) -> DatastoreRecord:
        config, secrets = check_datastore_args(name, kind, config, secrets)
        body = _body(CreateDatastoreRequest(kind=kind, config=config, secrets=secrets,
                                            overwrite=overwrite))
        return self._record(DatastoreRecord, "PUT", self._datastore(workspace_id, name), body,
                            idempotent=overwrite)

    def get_datastore(self, workspace_id: str, name: str) -> DatastoreRecord:
        return self._record(DatastoreRecord, "GET", self._datastore(workspace_id, name))

    def list_datastores(self, workspace_id: str) -> list[DatastoreRecord]:
        path = f"/workspaces/{self._name_of(workspace_id)}/datastores"
        return [_load(DatastoreRecord, item) for item in self._pages(path)]

    def get_default_datastore(self, workspace_id: str) -> DatastoreRecord:
        path = f"/workspaces/{self._name_of(workspace_id)}/default-datastore"
        return self._record(DatastoreRecord, "GET", path)

    def set_default_datastore(self, workspace_id: str, name: str) -> DatastoreRecord:
        return self._record(DatastoreRecord, "PUT",
                            f"{self._datastore(workspace_id, name)}/default", idempotent=True)

    def delete_datastore(self, workspace_id: str, name: str) -> None:
        self.client.call("DELETE", self._datastore(workspace_id, name), idempotent=False)

    def _datasets(self, workspace_id: str) -> str:
        return f"/workspaces/{self._name_of(workspace_id)}/datasets"

    def create_dataset(self, workspace_id: str, name: str | None, *, kind: str,
                       definition: Mapping[str, Any],
                       fingerprint: Mapping[str, Any] | None = None,
                       description: str | None = None, tags: Mapping[str, str] | None = None,
                       create_new_version: bool = False) -> DatasetRecord:
        check_dataset_args(name, kind, definition)
        body = _body(CreateDatasetRequest(
            name=name, kind=kind, definition=dict(definition),
            fingerprint=dict(fingerprint or {}), description=description,
            tags=dict(tags or {}), create_new_version=create_new_version,
        ))
        return self._record(DatasetRecord, "POST", self._datasets(workspace_id), body,
                            idempotent=False)

    def get_dataset(self, workspace_id: str, name: str,
                    version: int | None = None) -> DatasetRecord:
        which = "latest" if version is None else int(version)
        path = f"{self._datasets(workspace_id)}/{_segment(name)}/versions/{which}"
        return self._record(DatasetRecord, "GET", path)

    def get_dataset_by_id(self, workspace_id: str, dataset_id: str) -> DatasetRecord:
        path = f"/workspaces/{self._name_of(workspace_id)}/dataset-ids/{_segment(dataset_id)}"
        return self._record(DatasetRecord, "GET", path)

    def list_datasets(self, workspace_id: str, name: str | None = None) -> list[DatasetRecord]:
        items = self._pages(self._datasets(workspace_id), {"name": name})
        return [_load(DatasetRecord, item) for item in items]

    def update_dataset(self, workspace_id: str, name: str, version: int, *,
                       description: str | None = None,
                       tags: Mapping[str, str] | None = None) -> DatasetRecord:
        body = _body(UpdateDatasetRequest(description=description,
                                          tags=dict(tags) if tags is not None else None))
        path = f"{self._datasets(workspace_id)}/{_segment(name)}/versions/{int(version)}"
        return self._record(DatasetRecord, "PATCH", path, body, idempotent=True)

    def unregister_dataset(self, workspace_id: str, name: str) -> None:
        path = f"{self._datasets(workspace_id)}/{_segment(name)}"
        self.client.call("DELETE", path, idempotent=False)

    # -- lineage ----------------------------------------------------------------------------

    def add_run_datasets(self, run_id: str, entries: Sequence[Mapping[str, Any]]) -> None:
        rows = check_run_datasets(entries)
        for start in range(0, max(len(rows), 1), 1000):
            body = _body(AddRunDatasetsRequest(entries=rows[start:start + 1000]))
            self.client.call("POST", f"{self._run(run_id)}/datasets", body=body,
                             idempotent=True)

    def list_run_datasets(self, *, run_id: str | None = None,
                          dataset_id: str | None = None) -> list[RunDatasetRecord]:
        if run_id is not None:
            items = self._pages(f"{self._run(run_id)}/datasets", {"dataset_id": dataset_id})
        elif dataset_id is not None:
            items = self._pages(f"{self._ws}/dataset-ids/{_segment(dataset_id)}/runs")
        else:
            raise ValidationError("Give run_id, dataset_id or both to list lineage.")
        return [_load(RunDatasetRecord, item) for item in items]

    # -- environments -----------------------------------------------------------------------

    def _environments(self, workspace_id: str, name: str) -> str:
        ws = self._name_of(workspace_id)
        return f"/workspaces/{ws}/environments/{_segment(name)}/versions"

    def register_environment(self, workspace_id: str, name: str, *,
                             definition: Mapping[str, Any], digest: str) -> EnvironmentRecord:
        definition = check_environment_args(name, definition, digest)
        body = _body(RegisterEnvironmentRequest(definition=definition, digest=digest))
        # Safe to repeat: registering the same digest again gives back the same version.
        return self._record(EnvironmentRecord, "POST", self._environments(workspace_id, name),
                            body, idempotent=True)

    def get_environment(self, workspace_id: str, name: str,
                        version: int | None = None) -> EnvironmentRecord:
        which = "latest" if version is None else int(version)
        path = f"{self._environments(workspace_id, name)}/{which}"
        return self._record(EnvironmentRecord, "GET", path)

    def list_environments(self, workspace_id: str,
                          name: str | None = None) -> list[EnvironmentRecord]:
        path = f"/workspaces/{self._name_of(workspace_id)}/environments"
        return [_load(EnvironmentRecord, item) for item in self._pages(path, {"name": name})]

    # -- compute targets --------------------------------------------------------------------

    def _computes(self, workspace_id: str) -> str:
        return f"/workspaces/{self._name_of(workspace_id)}/computes"

    def _compute(self, workspace_id: str, name: str) -> str:
        computes = self._computes(workspace_id)
        if not could_be_compute_name(name):
            # Not sent: no target has such a name, and in a URL '', '.' or '..' would name
            # the listing or the workspace itself.
            raise NotFoundError(f"No compute target named {name!r} in workspace "
                                f"{self._names[workspace_id]!r}.")
        return f"{computes}/{_segment(name)}"

    def create_compute(self, workspace_id: str, name: str, *, kind: str,
                       config: Mapping[str, Any]) -> ComputeRecord:
        config = check_compute_args(name, kind, config)
        body = _body(CreateComputeRequest(kind=kind, config=config))
        # Not safe to repeat: a second try after a lost reply would find it exists (409).
        return self._record(ComputeRecord, "PUT", self._compute(workspace_id, name), body,
                            idempotent=False)

    def get_compute(self, workspace_id: str, name: str) -> ComputeRecord:
        return self._record(ComputeRecord, "GET", self._compute(workspace_id, name))

    def list_computes(self, workspace_id: str) -> list[ComputeRecord]:
        return [_load(ComputeRecord, item) for item in self._pages(self._computes(workspace_id))]

    def delete_compute(self, workspace_id: str, name: str) -> None:
        self.client.call("DELETE", self._compute(workspace_id, name), idempotent=False)

    # -- pipelines --------------------------------------------------------------------------
    # Arguments are checked here first, so a mistake raises what a SqlStore raises. An id the
    # store cannot have given is not sent: in a URL '..' would name the listing or workspace.

    def _pipelines(self, workspace_id: str, kind: str) -> str:
        return f"/workspaces/{self._name_of(workspace_id)}/{kind}"

    def _pipeline_object(self, workspace_id: str, kind: str, what: str, object_id: str) -> str:
        base = self._pipelines(workspace_id, kind)
        if not could_be_pipeline_id(object_id):
            raise NotFoundError(f"No {what} with id {object_id!r} in workspace "
                                f"{self._names[workspace_id]!r}.")
        return f"{base}/{object_id}"

    def _published(self, workspace_id: str, pipeline_id: str) -> str:
        return self._pipeline_object(workspace_id, "published-pipelines", "published pipeline",
                                     pipeline_id)

    def _endpoint(self, workspace_id: str, endpoint_id: str) -> str:
        return self._pipeline_object(workspace_id, "pipeline-endpoints", "pipeline endpoint",
                                     endpoint_id)

    def _schedule(self, workspace_id: str, schedule_id: str) -> str:
        return self._pipeline_object(workspace_id, "schedules", "schedule", schedule_id)

    def record_step_result(self, workspace_id: str, fingerprint: str, run_id: str) -> None:
        check_fingerprint(fingerprint)
        body = _body(RecordStepResultRequest(run_id=check_step_run_id(run_id)))
        path = f"{self._pipelines(workspace_id, 'step-results')}/{_segment(fingerprint)}"
        self.client.call("PUT", path, body=body, idempotent=True)

    def find_step_result(self, workspace_id: str, fingerprint: str) -> str | None:
        if not could_be_fingerprint(fingerprint):
            return None
        path = f"{self._pipelines(workspace_id, 'step-results')}/{_segment(fingerprint)}"
        return self.client.call("GET", path)["run_id"]

    def create_published_pipeline(self, workspace_id: str, name: str, *,
                                  graph: Mapping[str, Any], description: str | None = None,
                                  version: str | None = None,
                                  continue_on_step_failure: bool = False
                                  ) -> PublishedPipelineRecord:
        graph = check_published_pipeline_args(name, graph, description, version,
                                              continue_on_step_failure)
        body = _body(CreatePublishedPipelineRequest(
            name=name, graph=graph, description=description, version=version,
            continue_on_step_failure=continue_on_step_failure,
        ))
        return self._record(PublishedPipelineRecord, "POST",
                            self._pipelines(workspace_id, "published-pipelines"), body,
                            idempotent=False)

    def get_published_pipeline(self, workspace_id: str,
                               pipeline_id: str) -> PublishedPipelineRecord:
        return self._record(PublishedPipelineRecord, "GET",
                            self._published(workspace_id, pipeline_id))

    def list_published_pipelines(self, workspace_id: str,
                                 active_only: bool = True) -> list[PublishedPipelineRecord]:
        items = self._pages(self._pipelines(workspace_id, "published-pipelines"),
                            {"active_only": active_only})
        return [_load(PublishedPipelineRecord, item) for item in items]

    def set_published_pipeline_status(self, workspace_id: str, pipeline_id: str,
                                      status: str) -> PublishedPipelineRecord:
        body = _body(PipelineStatusRequest(status=check_pipeline_state(status)))
        return self._record(PublishedPipelineRecord, "PATCH",
                            self._published(workspace_id, pipeline_id), body, idempotent=True)

    def create_pipeline_endpoint(self, workspace_id: str, name: str, *, pipeline_id: str,
                                 description: str | None = None) -> PipelineEndpointRecord:
        check_endpoint_args(name, description)
        body = _body(CreatePipelineEndpointRequest(name=name, pipeline_id=pipeline_id,
                                                   description=description))
        # Not safe to repeat: a second try after a lost reply would find it exists (409).
        return self._record(PipelineEndpointRecord, "POST",
                            self._pipelines(workspace_id, "pipeline-endpoints"), body,
                            idempotent=False)

    def get_pipeline_endpoint(self, workspace_id: str, *, endpoint_id: str | None = None,
                              name: str | None = None) -> PipelineEndpointRecord:
        check_endpoint_key(endpoint_id, name)
        if endpoint_id is not None:
            return self._record(PipelineEndpointRecord, "GET",
                                self._endpoint(workspace_id, endpoint_id))
        path = self._pipelines(workspace_id, "pipeline-endpoints")
        (item,) = self._pages(path, {"name": name})  # the server answers 404 for none
        return _load(PipelineEndpointRecord, item)

    def list_pipeline_endpoints(self, workspace_id: str,
                                active_only: bool = True) -> list[PipelineEndpointRecord]:
        items = self._pages(self._pipelines(workspace_id, "pipeline-endpoints"),
                            {"active_only": active_only})
        return [_load(PipelineEndpointRecord, item) for item in items]

    def add_pipeline_endpoint_version(self, workspace_id: str, endpoint_id: str,
                                      pipeline_id: str, *,
                                      make_default: bool = False) -> PipelineEndpointRecord:
        body = _body(AddPipelineEndpointVersionRequest(pipeline_id=pipeline_id,
                                                       make_default=make_default))
        # Safe to repeat: a pipeline already there is not added twice.
        return self._record(PipelineEndpointRecord, "POST",
                            f"{self._endpoint(workspace_id, endpoint_id)}/versions", body,
                            idempotent=True)

    def update_pipeline_endpoint(self, workspace_id: str, endpoint_id: str, *,
                                 default_version: str | None = None, status: str | None = None,
                                 description: str | None = None) -> PipelineEndpointRecord:
        check_endpoint_update(default_version, status, description)
        body = _body(UpdatePipelineEndpointRequest(default_version=default_version,
                                                   status=status, description=description))
        return self._record(PipelineEndpointRecord, "PATCH",
                            self._endpoint(workspace_id, endpoint_id), body, idempotent=True)

    def create_schedule(self, workspace_id: str, name: str, *, pipeline_id: str,
                        experiment_name: str, recurrence: Mapping[str, Any] | None = None,
                        datastore: str | None = None, path_on_datastore: str | None = None,
                        polling_interval: float = 5.0,
                        data_path_parameter_name: str | None = None,
                        pipeline_parameters: Mapping[str, Any] | None = None,
                        description: str | None = None,
                        next_fire_at: float | None = None) -> ScheduleRecord:
        settings = check_schedule_args(
            name, experiment_name=experiment_name, recurrence=recurrence, datastore=datastore,
            path_on_datastore=path_on_datastore, polling_interval=polling_interval,
            data_path_parameter_name=data_path_parameter_name,
            pipeline_parameters=pipeline_parameters, description=description,
            next_fire_at=next_fire_at,
        )
        body = _body(CreateScheduleRequest(pipeline_id=pipeline_id, **settings))
        return self._record(ScheduleRecord, "POST", self._pipelines(workspace_id, "schedules"),
                            body, idempotent=False)

    def get_schedule(self, workspace_id: str, schedule_id: str) -> ScheduleRecord:
        return self._record(ScheduleRecord, "GET", self._schedule(workspace_id, schedule_id))

    def list_schedules(self, workspace_id: str | None = None, *, pipeline_id: str | None = None,
                       active_only: bool = True) -> list[ScheduleRecord]:
        if workspace_id is None:
            raise ServerOnlyError(
                "list_schedules needs a workspace_id here: a client lists the schedules of a "
                "workspace; the schedules of every workspace are for the scheduler, which runs "
                "inside the workspace server."
            )
        items = self._pages(self._pipelines(workspace_id, "schedules"),
                            {"pipeline_id": pipeline_id, "active_only": active_only})
        return [_load(ScheduleRecord, item) for item in items]

    def update_schedule(self, workspace_id: str, schedule_id: str, *,
                        status: str | None = None,
                        next_fire_at: float | None = None) -> ScheduleRecord:
        body = _body(UpdateScheduleRequest(
            status=status, next_fire_at=check_schedule_update(status, next_fire_at)
        ))
        return self._record(ScheduleRecord, "PATCH", self._schedule(workspace_id, schedule_id),
                            body, idempotent=True)

    def claim_schedule_fire(self, schedule_id: str, *, expected_next_fire_at: float | None,
                            next_fire_at: float | None,
                            data_state: Mapping[str, Any] | None = None,
                            fired: bool = True) -> bool:
        raise _scheduler_only("claim_schedule_fire")

    def set_schedule_last_run(self, schedule_id: str, run_id: str) -> None:
        raise _scheduler_only("set_schedule_last_run")

    # -- web services -----------------------------------------------------------------------
    # Arguments are checked here first, so a mistake raises what a SqlStore raises. A name no
    # service can have is not sent: in a URL '', '.' or '..' would name the listing or the
    # workspace itself.

    def _services(self, workspace_id: str) -> str:
        return f"/workspaces/{self._name_of(workspace_id)}/services"

    def _service(self, workspace_id: str, name: str) -> str:
        base = self._services(workspace_id)
        if not could_be_service_name(name):
            raise NotFoundError(f"No service named {name!r} in workspace "
                                f"{self._names[workspace_id]!r}.")
        return f"{base}/{_segment(name)}"

    def create_service(self, workspace_id: str, name: str, *, kind: str,
                       config: Mapping[str, Any], models: Sequence[str],
                       inference: Mapping[str, Any], description: str | None = None,
                       tags: Mapping[str, str] | None = None,
                       properties: Mapping[str, str] | None = None,
                       overwrite: bool = False) -> ServiceRecord:
        settings = check_service_args(
            name, kind=kind, config=config, models=models, inference=inference,
            description=description, tags=tags, properties=properties, overwrite=overwrite,
        )
        body = _body(CreateServiceRequest(**settings, overwrite=overwrite))
        # Safe to repeat only when overwriting: else a second try after a lost reply would
        # find it exists (409).
        return self._record(ServiceRecord, "POST", self._services(workspace_id), body,
                            idempotent=overwrite)

    def get_service(self, workspace_id: str, name: str) -> ServiceRecord:
        return self._record(ServiceRecord, "GET", self._service(workspace_id, name))

    def list_services(self, workspace_id: str | None = None) -> list[ServiceRecord]:
        if workspace_id is None:
            raise ServerOnlyError(
                "list_services needs a workspace_id here: a client lists the services of a "
                "workspace; the services of every workspace are for the service supervisor, "
                "which runs inside the workspace server."
            )
        return [_load(ServiceRecord, item) for item in self._pages(self._services(workspace_id))]

    def update_service(self, workspace_id: str, name: str, *, state: str | None = None,
                       config: Mapping[str, Any] | None = None,
                       models: Sequence[str] | None = None,
                       inference: Mapping[str, Any] | None = None,
                       scoring_uri: str | None = None, swagger_uri: str | None = None,
                       host: str | None = None, pid: int | None = None,
                       error: Mapping[str, Any] | None = None, clear_error: bool = False,
                       description: str | None = None, tags: Mapping[str, str] | None = None,
                       properties: Mapping[str, str] | None = None) -> ServiceRecord:
        changes = check_service_update(
            state=state, config=config, models=models, inference=inference,
            scoring_uri=scoring_uri, swagger_uri=swagger_uri, host=host, pid=pid, error=error,
            clear_error=clear_error, description=description, tags=tags, properties=properties,
        )
        body = _body(UpdateServiceRequest(**changes, clear_error=clear_error))
        # Safe to repeat: the same changes again leave the same service.
        return self._record(ServiceRecord, "PATCH", self._service(workspace_id, name), body,
                            idempotent=True)

    def delete_service(self, workspace_id: str, name: str) -> None:
        self.client.call("DELETE", self._service(workspace_id, name), idempotent=False)


def _scheduler_only(method: str) -> ServerOnlyError:
    return ServerOnlyError(
        f"{method} is the scheduler's, and the scheduler runs inside the workspace server, on "
        "the server's own store; a client of the server cannot call it. Use create_schedule "
        "and update_schedule to change when a schedule fires."
    )


def _point(p: MetricPoint) -> list[Any]:
    """``p`` as sent, or ValidationError where SqlStore would refuse its step or timestamp."""
    step, ts = checked_step_and_time(p)
    return [p.name, p.value, p.kind, step, ts, p.description]


def _secret_names(names: Sequence[str]) -> list[str]:
    if isinstance(names, str):
        raise ValidationError("names must be a list of secret names, got str.")
    return list(dict.fromkeys(check_secret_name(n, "secret name") for n in names))
