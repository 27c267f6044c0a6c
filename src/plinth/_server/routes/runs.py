"""Runs, their status, tags, properties and metrics."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Depends, Query

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
from plinth.exceptions import ValidationError

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
                name: str | None = None,
                max_points: Annotated[int | None, Query(ge=10, le=1_000_000)] = None) -> JSON:
    """The run's metric points. With ``max_points`` (for charts), each scalar series longer
    than that is downsampled to at most ``max_points`` points (the smallest and largest
    value of each of ``max_points / 2`` buckets, and its first and last points), and every
    scalar point logged without a step carries its position in its series as its step."""
    state.run_in(state.workspace(workspace), run_id)
    points = state.store.get_metrics(run_id, name)
    if max_points is not None:
        points = downsample(points, max_points)
    # Straight to JSON: FastAPI's serialization of the response model would turn NaN and
    # infinities into null.
    return JSON(points)


@router.get("/workspaces/{workspace}/runs-latest-metrics", dependencies=[Depends(reader)])
def latest_metrics(
    workspace: WorkspaceName,
    state: State,
    run_id: Annotated[list[str] | None, Query()] = None,
    name: Annotated[list[str] | None, Query()] = None,
) -> JSON:
    """``Store.latest_metrics`` of the runs ``run_id`` (repeated, at most
    MAX_LATEST_RUNS) of this workspace: ``{run_id: {name: value}}``; runs that are not in
    the workspace read as runs without metrics."""
    ws = state.workspace(workspace)
    run_ids = list(dict.fromkeys(run_id or []))
    if len(run_ids) > MAX_LATEST_RUNS:
        raise ValidationError(f"At most {MAX_LATEST_RUNS} run_id values per request, got "
                              f"{len(run_ids)}.")
    found = state.store.latest_metrics(run_ids, name)
    if found:
        mine = {e.id for e in state.store.list_experiments(ws.id, include_archived=True)}
        for other in [r for r in found if state.store.get_run(r).experiment_id not in mine]:
            del found[other]
    return JSON(found)


MAX_LATEST_RUNS = 200


def downsample(points: list[MetricPoint], max_points: int) -> list[MetricPoint]:
    """``points`` (as ``get_metrics`` gives them: grouped by metric) with each scalar series
    cut to at most ``max_points`` by min/max buckets, and positions as steps (see
    ``get_metrics``). Other kinds are left as they are."""
    out: list[MetricPoint] = []
    start = 0
    while start < len(points):
        first = points[start]
        end = start
        while (end < len(points) and points[end].name == first.name
               and points[end].kind == first.kind):
            end += 1
        series = points[start:end]
        start = end
        if first.kind != "scalar":
            out.extend(series)
            continue
        series = [p if p.step is not None else p._replace(step=i)
                  for i, p in enumerate(series)]
        out.extend(series if len(series) <= max_points else _buckets(series, max_points))
    return out


def _buckets(series: list[MetricPoint], max_points: int) -> list[MetricPoint]:
    count = max(1, (max_points - 2) // 2)
    size = math.ceil((len(series) - 2) / count)
    keep = {0, len(series) - 1}
    for low in range(1, len(series) - 1, size):
        numbers = [(p.value, i) for i, p in enumerate(series[low:low + size], low)
                   if _plottable(p.value)]
        if numbers:
            keep.add(min(numbers)[1])
            keep.add(max(numbers)[1])
        else:
            keep.add(low)
    return [series[i] for i in sorted(keep)]


def _plottable(value: object) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and not math.isnan(value))
