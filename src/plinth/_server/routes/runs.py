"""Runs, their status, tags, properties and metrics."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from plinth._api import (
    CreateRunRequest,
    HeartbeatResponse,
    LogMetricsRequest,
    Page,
    PropertiesRequest,
    RemoveTagsRequest,
    StatusRequest,
    TagsRequest,
    UpdateRunRequest,
)
from plinth._server.app import JSON
from plinth._server.auth import contributor, reader
from plinth._server.routes._common import MaxResults, PageToken, State, WorkspaceName, paginate
from plinth._store import MetricPoint, RunRecord

router = APIRouter(tags=["runs"])

RUN = "/workspaces/{workspace}/runs/{run_id}"


@router.post("/workspaces/{workspace}/experiment-ids/{experiment_id}/runs", status_code=201,
             dependencies=[Depends(contributor)])
def create_run(
    workspace: WorkspaceName, experiment_id: str, body: CreateRunRequest, state: State
) -> RunRecord:
    ws = state.workspace(workspace)
    state.experiment_in(ws, experiment_id)
    if body.parent_id is not None:
        state.run_in(ws, body.parent_id)
    return state.store.create_run(experiment_id, **body.model_dump())


@router.get("/workspaces/{workspace}/runs", dependencies=[Depends(reader)])
def list_runs(
    workspace: WorkspaceName,
    state: State,
    experiment_id: str | None = None,
    parent_id: str | None = None,
    run_type: str | None = None,
    root_only: bool = False,
    max_results: MaxResults = 1000,
    page_token: PageToken = None,
) -> Page[RunRecord]:
    ws = state.workspace(workspace)
    if experiment_id is not None:
        state.experiment_in(ws, experiment_id)
        items = state.store.list_runs(experiment_id=experiment_id, parent_id=parent_id,
                                      run_type=run_type, root_only=root_only)
    else:
        experiment_ids = {e.id for e in state.store.list_experiments(ws.id, True)}
        items = [
            r
            for r in state.store.list_runs(parent_id=parent_id, run_type=run_type,
                                           root_only=root_only)
            if r.experiment_id in experiment_ids
        ]
    return paginate(items, max_results, page_token)


@router.get(RUN, dependencies=[Depends(reader)])
def get_run(workspace: WorkspaceName, run_id: str, state: State) -> RunRecord:
    return state.run_in(state.workspace(workspace), run_id)


@router.patch(RUN, dependencies=[Depends(contributor)])
def update_run(workspace: WorkspaceName, run_id: str, body: UpdateRunRequest,
               state: State) -> RunRecord:
    state.run_in(state.workspace(workspace), run_id)
    return state.store.update_run(run_id, **body.model_dump())


@router.post(f"{RUN}/status", dependencies=[Depends(contributor)])
def set_status(workspace: WorkspaceName, run_id: str, body: StatusRequest,
               state: State) -> RunRecord:
    state.run_in(state.workspace(workspace), run_id)
    return state.store.set_status(run_id, body.status, error=body.error)


@router.post(f"{RUN}/cancel", dependencies=[Depends(contributor)])
def request_cancel(workspace: WorkspaceName, run_id: str, state: State) -> RunRecord:
    state.run_in(state.workspace(workspace), run_id)
    return state.store.request_cancel(run_id)


@router.post(f"{RUN}/heartbeat", dependencies=[Depends(contributor)])
def heartbeat(workspace: WorkspaceName, run_id: str, state: State) -> HeartbeatResponse:
    state.run_in(state.workspace(workspace), run_id)
    return HeartbeatResponse(stop=state.store.heartbeat(run_id))


@router.post("/workspaces/{workspace}/runs-fail-stale", dependencies=[Depends(contributor)])
def fail_stale_runs(workspace: WorkspaceName, state: State) -> list[str]:
    """Fail runs whose process died. Such runs are dead wherever they are, so all are failed;
    only this workspace's are named back."""
    ws = state.workspace(workspace)
    failed = state.store.fail_stale_runs()
    if not failed:
        return []
    mine = {e.id for e in state.store.list_experiments(ws.id, include_archived=True)}
    return [run_id for run_id in failed if state.store.get_run(run_id).experiment_id in mine]


@router.post(f"{RUN}/tags", dependencies=[Depends(contributor)])
def set_tags(workspace: WorkspaceName, run_id: str, body: TagsRequest, state: State) -> RunRecord:
    state.run_in(state.workspace(workspace), run_id)
    return state.store.set_tags(run_id, body.tags)


@router.post(f"{RUN}/tags-remove", dependencies=[Depends(contributor)])
def remove_tags(workspace: WorkspaceName, run_id: str, body: RemoveTagsRequest,
                state: State) -> RunRecord:
    state.run_in(state.workspace(workspace), run_id)
    return state.store.remove_tags(run_id, body.keys)


@router.post(f"{RUN}/properties", dependencies=[Depends(contributor)])
def add_properties(workspace: WorkspaceName, run_id: str, body: PropertiesRequest,
                   state: State) -> RunRecord:
    state.run_in(state.workspace(workspace), run_id)
    return state.store.add_properties(run_id, body.properties)


@router.post(f"{RUN}/metrics", status_code=204, dependencies=[Depends(contributor)])
def log_metrics(workspace: WorkspaceName, run_id: str, body: LogMetricsRequest,
                state: State) -> None:
    state.run_in(state.workspace(workspace), run_id)
    state.store.log_metrics(run_id, body.points)


@router.get(f"{RUN}/metrics", dependencies=[Depends(reader)],
            response_model=list[MetricPoint])
def get_metrics(workspace: WorkspaceName, run_id: str, state: State,
                name: str | None = None) -> JSON:
    state.run_in(state.workspace(workspace), run_id)
    # Straight to JSON: FastAPI's serialization of the response model would turn NaN and
    # infinities into null.
    return JSON(state.store.get_metrics(run_id, name))
