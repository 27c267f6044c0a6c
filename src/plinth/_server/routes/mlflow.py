"""MLflow's tracking REST API and its proxied artifacts API, per workspace.

A stock MLflow client logs into a server-backed workspace with the tracking URI
``<server_url>/ws/<workspace>`` (``Workspace.get_mlflow_tracking_uri()``) and its Plinth token
as ``MLFLOW_TRACKING_TOKEN``; MLflow appends the paths served here:

* ``/ws/{workspace}/api/2.0/mlflow/...``: experiments (create, get, get-by-name, search,
  delete, restore, set/delete tag), runs (create, get, update, search, delete, restore,
  log-metric, log-parameter, set-tag, delete-tag, log-batch, log-inputs),
  ``metrics/get-history`` and ``logged-models/search`` (none are stored: it finds none).
  Requests and responses are MLflow's own protobuf messages in JSON; each is answered by
  ``plinth._mlflow.store.PlinthTrackingStore`` over the server's Store, the same code as the
  embedded ``plinth:`` tracking store.
* ``/ws/{workspace}/api/2.0/mlflow-artifacts/artifacts[/<path>]``: list (GET with
  ``?path=``), download (GET), upload (PUT) and delete (DELETE) a run's files, streamed
  through the workspace's artifact store. A run's ``artifact_uri`` is
  ``mlflow-artifacts:/runs/<run_id>``, so only names under ``runs/`` are served.

Authentication and roles are the native routes' (``reader`` to read, ``contributor`` to
write). Every error, a refused token included, is answered in MLflow's shape
``{"error_code": ..., "message": ...}`` with the HTTP status MLflow's server gives it.

These routes are left out of the OpenAPI schema: their shapes are MLflow's protobuf
messages, documented by MLflow (https://mlflow.org/docs/latest/rest-api.html).
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import StreamingResponse
from fastapi.routing import APIRoute
from google.protobuf.message import Message
from mlflow.entities import ExperimentTag, Metric, Param, RunTag, ViewType
from mlflow.protos.service_pb2 import (
    CreateExperiment,
    CreateRun,
    DeleteExperiment,
    DeleteExperimentTag,
    DeleteRun,
    DeleteTag,
    GetExperiment,
    GetExperimentByName,
    GetMetricHistory,
    GetRun,
    LogBatch,
    LogInputs,
    LogMetric,
    LogParam,
    RestoreExperiment,
    RestoreRun,
    SearchExperiments,
    SearchLoggedModels,
    SearchRuns,
    SetExperimentTag,
    SetTag,
    UpdateExperiment,
    UpdateRun,
)
from mlflow.utils.proto_json_utils import message_to_json, parse_dict
from starlette.concurrency import run_in_threadpool

from plinth._api import status_for
from plinth._artifacts import check_artifact_name
from plinth._mlflow.errors import RESOURCE_DOES_NOT_EXIST, MlflowException, mlflow_errors
from plinth._mlflow.store import PlinthTrackingStore
from plinth._server.auth import contributor, reader
from plinth._server.routes._common import State, WorkspaceName
from plinth._server.state import ServerState
from plinth._server.streaming import receive_file, send_file
from plinth.exceptions import PlinthError, ValidationError

__all__ = ["router"]

TRACKING = "/ws/{workspace}/api/2.0/mlflow"
ARTIFACTS = "/ws/{workspace}/api/2.0/mlflow-artifacts/artifacts"
_RUNS_PREFIX = "runs"



def _error(status: int, code: str, message: str) -> Response:
    response = Response(json.dumps({"error_code": code, "message": message}),
                        status_code=status, media_type="application/json")
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="plinth"'
    return response


def _plinth_error(error: PlinthError) -> Response:
    """A Plinth error in MLflow's shape: the code ``mlflow_errors`` maps it to, with the
    status MLflow's server gives that code; refused tokens and roles keep 401 and 403."""
    status, _ = status_for(error)
    if status == 401:
        return _error(401, "UNAUTHENTICATED", str(error))
    if status == 403:
        return _error(403, "PERMISSION_DENIED", str(error))
    try:
        with mlflow_errors():
            raise error
    except MlflowException as mapped:
        return _error(mapped.get_http_status_code(), mapped.error_code, str(error))


class _MlflowRoute(APIRoute):
    """Answers every error of these routes (the auth dependencies' included) in MLflow's
    shape, which MLflow's client turns back into ``MlflowException``."""

    def get_route_handler(self) -> Callable:
        handler = super().get_route_handler()

        async def answer(request: Request) -> Response:
            try:
                return await handler(request)
            except MlflowException as exc:
                return Response(exc.serialize_as_json(), status_code=exc.get_http_status_code(),
                                media_type="application/json")
            except PlinthError as exc:
                return _plinth_error(exc)
            except RequestValidationError as exc:
                return _error(400, "INVALID_PARAMETER_VALUE", str(exc))

        return answer


router = APIRouter(tags=["mlflow"], route_class=_MlflowRoute, include_in_schema=False)


# -- the tracking API ----------------------------------------------------------------------


def _tracking_store(state: ServerState, workspace: str) -> PlinthTrackingStore:
    record = state.workspace(workspace)
    return PlinthTrackingStore.served(
        workspace, state.store, state.artifacts(workspace), record.id
    )


def _json(message: Message) -> Response:
    return Response(message_to_json(message), media_type="application/json")


def _endpoint(path: str, method: str, request_type: type[Message], role: Callable,
              handle: Callable[[PlinthTrackingStore, Any], Message]) -> None:
    """Serve one MLflow RPC: parse its request message, answer with its response message."""

    async def endpoint(workspace: WorkspaceName, request: Request, state: State) -> Response:
        if method == "GET":
            data: Any = {}
            for key in request.query_params:
                values = request.query_params.getlist(key)
                data[key] = values if len(values) > 1 else values[0]
        else:
            body = await request.body()
            try:
                data = (await request.json()) if body else {}
            except ValueError:
                raise MlflowException.invalid_parameter_value(
                    "The request body is not JSON."
                ) from None
            if not isinstance(data, dict):
                raise MlflowException.invalid_parameter_value("The request body must be an "
                                                              "object.")
        message = request_type()
        try:
            parse_dict(data, message)
        except Exception as exc:  # noqa: BLE001 - protobuf's ParseError and friends
            raise MlflowException.invalid_parameter_value(
                f"Invalid request to {path}: {exc}"
            ) from None

        def call() -> Message:
            with mlflow_errors():
                return handle(_tracking_store(state, workspace), message)

        return _json(await run_in_threadpool(call))

    endpoint.__name__ = f"mlflow_{request_type.__name__}"
    router.add_api_route(f"{TRACKING}/{path}", endpoint, methods=[method],
                         dependencies=[Depends(role)], include_in_schema=False)


def _run_id(message: Message) -> str:
    run_id = message.run_id or getattr(message, "run_uuid", "")
    if not run_id:
        raise MlflowException.invalid_parameter_value("Missing value for required parameter "
                                                      "'run_id'.")
    return run_id


def _required(message: Message, field: str) -> Any:
    if not message.HasField(field):
        raise MlflowException.invalid_parameter_value(
            f"Missing value for required parameter '{field}'."
        )
    return getattr(message, field)


def _create_experiment(store: PlinthTrackingStore, m: CreateExperiment) -> Message:
    tags = [ExperimentTag(t.key, t.value) for t in m.tags]
    experiment_id = store.create_experiment(_required(m, "name"), m.artifact_location or None,
                                            tags)
    return CreateExperiment.Response(experiment_id=experiment_id)


def _get_experiment(store: PlinthTrackingStore, m: GetExperiment) -> Message:
    experiment = store.get_experiment(_required(m, "experiment_id"))
    return GetExperiment.Response(experiment=experiment.to_proto())


def _get_experiment_by_name(store: PlinthTrackingStore, m: GetExperimentByName) -> Message:
    name = _required(m, "experiment_name")
    experiment = store.get_experiment_by_name(name)
    if experiment is None:
        raise MlflowException(f"Could not find experiment with name '{name}'",
                              RESOURCE_DOES_NOT_EXIST)
    return GetExperimentByName.Response(experiment=experiment.to_proto())


def _search_experiments(store: PlinthTrackingStore, m: SearchExperiments) -> Message:
    found = store.search_experiments(
        view_type=m.view_type or ViewType.ACTIVE_ONLY,
        max_results=m.max_results,
        filter_string=m.filter or None,
        order_by=list(m.order_by) or None,
        page_token=m.page_token or None,
    )
    response = SearchExperiments.Response(experiments=[e.to_proto() for e in found])
    if found.token:
        response.next_page_token = found.token
    return response


def _delete_experiment(store: PlinthTrackingStore, m: DeleteExperiment) -> Message:
    store.delete_experiment(_required(m, "experiment_id"))
    return DeleteExperiment.Response()


def _restore_experiment(store: PlinthTrackingStore, m: RestoreExperiment) -> Message:
    store.restore_experiment(_required(m, "experiment_id"))
    return RestoreExperiment.Response()


def _update_experiment(store: PlinthTrackingStore, m: UpdateExperiment) -> Message:
    if m.new_name:
        store.rename_experiment(_required(m, "experiment_id"), m.new_name)
    return UpdateExperiment.Response()


def _set_experiment_tag(store: PlinthTrackingStore, m: SetExperimentTag) -> Message:
    store.set_experiment_tag(_required(m, "experiment_id"),
                             ExperimentTag(_required(m, "key"), m.value))
    return SetExperimentTag.Response()


def _delete_experiment_tag(store: PlinthTrackingStore, m: DeleteExperimentTag) -> Message:
    store.delete_experiment_tag(_required(m, "experiment_id"), _required(m, "key"))
    return DeleteExperimentTag.Response()


def _create_run(store: PlinthTrackingStore, m: CreateRun) -> Message:
    run = store.create_run(
        experiment_id=m.experiment_id or "0",
        user_id=m.user_id or None,
        start_time=m.start_time or None,
        tags=[RunTag(t.key, t.value) for t in m.tags],
        run_name=m.run_name or None,
    )
    return CreateRun.Response(run=run.to_proto())


def _get_run(store: PlinthTrackingStore, m: GetRun) -> Message:
    return GetRun.Response(run=store.get_run(_run_id(m)).to_proto())


def _update_run(store: PlinthTrackingStore, m: UpdateRun) -> Message:
    info = store.update_run_info(
        _run_id(m),
        m.status if m.HasField("status") else None,
        m.end_time if m.HasField("end_time") else None,
        m.run_name or None,
    )
    return UpdateRun.Response(run_info=info.to_proto())


def _delete_run(store: PlinthTrackingStore, m: DeleteRun) -> Message:
    store.delete_run(_required(m, "run_id"))
    return DeleteRun.Response()


def _restore_run(store: PlinthTrackingStore, m: RestoreRun) -> Message:
    store.restore_run(_required(m, "run_id"))
    return RestoreRun.Response()


def _log_metric(store: PlinthTrackingStore, m: LogMetric) -> Message:
    store.log_batch(_run_id(m), [Metric(_required(m, "key"), _required(m, "value"),
                                        _required(m, "timestamp"), m.step)], [], [])
    return LogMetric.Response()


def _log_param(store: PlinthTrackingStore, m: LogParam) -> Message:
    store.log_batch(_run_id(m), [], [Param(_required(m, "key"), m.value)], [])
    return LogParam.Response()


def _set_tag(store: PlinthTrackingStore, m: SetTag) -> Message:
    store.log_batch(_run_id(m), [], [], [RunTag(_required(m, "key"), m.value)])
    return SetTag.Response()


def _delete_tag(store: PlinthTrackingStore, m: DeleteTag) -> Message:
    store.delete_tag(_required(m, "run_id"), _required(m, "key"))
    return DeleteTag.Response()


def _log_batch(store: PlinthTrackingStore, m: LogBatch) -> Message:
    store.log_batch(
        _required(m, "run_id"),
        [Metric.from_proto(x) for x in m.metrics],
        [Param.from_proto(x) for x in m.params],
        [RunTag.from_proto(x) for x in m.tags],
    )
    return LogBatch.Response()


def _log_inputs(store: PlinthTrackingStore, m: LogInputs) -> Message:
    store.log_inputs(_required(m, "run_id"), list(m.datasets) or None,
                     list(m.models) or None)
    return LogInputs.Response()


def _get_metric_history(store: PlinthTrackingStore, m: GetMetricHistory) -> Message:
    history = store.get_metric_history(
        _run_id(m), _required(m, "metric_key"),
        max_results=m.max_results if m.HasField("max_results") else None,
        page_token=m.page_token or None,
    )
    response = GetMetricHistory.Response(metrics=[x.to_proto() for x in history])
    if history.token:
        response.next_page_token = history.token
    return response


def _search_runs(store: PlinthTrackingStore, m: SearchRuns) -> Message:
    found = store.search_runs(
        experiment_ids=list(m.experiment_ids),
        filter_string=m.filter or None,
        run_view_type=m.run_view_type or ViewType.ACTIVE_ONLY,
        max_results=m.max_results,
        order_by=list(m.order_by) or None,
        page_token=m.page_token or None,
    )
    response = SearchRuns.Response(runs=[r.to_proto() for r in found])
    if found.token:
        response.next_page_token = found.token
    return response


def _search_logged_models(store: PlinthTrackingStore, m: SearchLoggedModels) -> Message:
    """None are stored; MLflow's client asks when it lists a run's files."""
    found = store.search_logged_models(list(m.experiment_ids))
    return SearchLoggedModels.Response(models=[x.to_proto() for x in found])


for _path, _method, _type, _role, _handle in (
    ("experiments/create", "POST", CreateExperiment, contributor, _create_experiment),
    ("experiments/get", "GET", GetExperiment, reader, _get_experiment),
    ("experiments/get-by-name", "GET", GetExperimentByName, reader, _get_experiment_by_name),
    ("experiments/search", "POST", SearchExperiments, reader, _search_experiments),
    ("experiments/delete", "POST", DeleteExperiment, contributor, _delete_experiment),
    ("experiments/restore", "POST", RestoreExperiment, contributor, _restore_experiment),
    ("experiments/update", "POST", UpdateExperiment, contributor, _update_experiment),
    ("experiments/set-experiment-tag", "POST", SetExperimentTag, contributor,
     _set_experiment_tag),
    ("experiments/delete-experiment-tag", "POST", DeleteExperimentTag, contributor,
     _delete_experiment_tag),
    ("runs/create", "POST", CreateRun, contributor, _create_run),
    ("runs/get", "GET", GetRun, reader, _get_run),
    ("runs/update", "POST", UpdateRun, contributor, _update_run),
    ("runs/delete", "POST", DeleteRun, contributor, _delete_run),
    ("runs/restore", "POST", RestoreRun, contributor, _restore_run),
    ("runs/search", "POST", SearchRuns, reader, _search_runs),
    ("runs/log-metric", "POST", LogMetric, contributor, _log_metric),
    ("runs/log-parameter", "POST", LogParam, contributor, _log_param),
    ("runs/set-tag", "POST", SetTag, contributor, _set_tag),
    ("runs/delete-tag", "POST", DeleteTag, contributor, _delete_tag),
    ("runs/log-batch", "POST", LogBatch, contributor, _log_batch),
    ("runs/log-inputs", "POST", LogInputs, contributor, _log_inputs),
    ("metrics/get-history", "GET", GetMetricHistory, reader, _get_metric_history),
    ("logged-models/search", "POST", SearchLoggedModels, reader, _search_logged_models),
):
    _endpoint(_path, _method, _type, _role, _handle)


# -- the proxied artifacts API ---------------------------------------------------------------


def _run_file_name(path: str, what: str) -> str:
    """A name under ``runs/`` in the workspace's artifact root (what a run's
    ``mlflow-artifacts:/runs/<run_id>`` URI reaches)."""
    name = check_artifact_name(path.strip("/"), what)
    if name.partition("/")[0] != _RUNS_PREFIX:
        raise ValidationError(
            f"{what}={path!r}: MLflow's artifacts API of a Plinth workspace serves runs' files "
            "only, 'runs/<run_id>/...'."
        )
    return name


@router.get(ARTIFACTS, dependencies=[Depends(reader)], include_in_schema=False)
def list_artifacts(workspace: WorkspaceName, state: State, path: str = "") -> Response:
    state.workspace(workspace)
    base = _run_file_name(path, "path")
    arts = state.artifacts(workspace)
    files: dict[str, dict[str, Any]] = {}
    for name in arts.list(base):
        if name == base:
            # a file: MLflow's server lists it as itself
            files[posixpath.basename(name)] = {"path": posixpath.basename(name),
                                               "is_dir": False, "file_size": arts.size(name)}
            continue
        first, _, rest = name[len(base) + 1:].partition("/")
        if first in files:
            continue
        files[first] = ({"path": first, "is_dir": True} if rest else
                        {"path": first, "is_dir": False, "file_size": arts.size(name)})
    return Response(json.dumps({"files": sorted(files.values(),
                                                          key=lambda f: f["path"])}),
                    media_type="application/json")


@router.get(ARTIFACTS + "/{path:path}", dependencies=[Depends(reader)],
            include_in_schema=False, response_class=StreamingResponse)
def download_artifact(workspace: WorkspaceName, path: str, state: State) -> StreamingResponse:
    state.workspace(workspace)
    name = _run_file_name(path, "path")
    arts = state.artifacts(workspace)
    if arts.isdir(name) or not arts.exists(name):
        raise MlflowException(f"No file {name!r} in workspace {workspace!r}.",
                              RESOURCE_DOES_NOT_EXIST)
    return send_file(state, workspace, name)


@router.put(ARTIFACTS + "/{path:path}", dependencies=[Depends(contributor)],
            include_in_schema=False)
async def upload_artifact(workspace: WorkspaceName, path: str, request: Request,
                          state: State) -> Response:
    await run_in_threadpool(state.workspace, workspace)
    await receive_file(request, state, workspace, _run_file_name(path, "path"))
    return Response("{}", media_type="application/json")


@router.delete(ARTIFACTS + "/{path:path}", dependencies=[Depends(contributor)],
               include_in_schema=False)
def delete_artifact(workspace: WorkspaceName, path: str, state: State) -> Response:
    state.workspace(workspace)
    state.artifacts(workspace).delete(_run_file_name(path, "path"))
    return Response("{}", media_type="application/json")

