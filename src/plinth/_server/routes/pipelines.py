"""A workspace's published pipelines, pipeline endpoints, schedules and step results.
Readers may read; creating and changing need Contributor.

Submitting a published pipeline or an endpoint (``.../{id}/submit``) is another router's.
The scheduler's own calls (``claim_schedule_fire``, ``set_schedule_last_run``) have no
route: it runs inside the server, on the server's store.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from plinth._api import (
    AddPipelineEndpointVersionRequest,
    CreatePipelineEndpointRequest,
    CreatePublishedPipelineRequest,
    CreateScheduleRequest,
    Page,
    PipelineStatusRequest,
    RecordStepResultRequest,
    StepResultResponse,
    UpdatePipelineEndpointRequest,
    UpdateScheduleRequest,
)
from plinth._server.auth import contributor, reader
from plinth._server.routes._common import MaxResults, PageToken, State, WorkspaceName, paginate
from plinth._store.base import PipelineEndpointRecord, PublishedPipelineRecord, ScheduleRecord

router = APIRouter(tags=["pipelines"])

WS = "/workspaces/{workspace}"
PIPELINES = f"{WS}/published-pipelines"
PIPELINE = f"{PIPELINES}/{{pipeline_id}}"
ENDPOINTS = f"{WS}/pipeline-endpoints"
ENDPOINT = f"{ENDPOINTS}/{{endpoint_id}}"
SCHEDULES = f"{WS}/schedules"
SCHEDULE = f"{SCHEDULES}/{{schedule_id}}"
STEP_RESULT = f"{WS}/step-results/{{fingerprint}}"

Id = Annotated[str, Path(min_length=1, max_length=64)]
Fingerprint = Annotated[str, Path(min_length=1, max_length=255)]


# -- published pipelines -------------------------------------------------------------------


@router.get(PIPELINES, dependencies=[Depends(reader)])
def list_published_pipelines(workspace: WorkspaceName, state: State, active_only: bool = True,
                             max_results: MaxResults = 1000,
                             page_token: PageToken = None) -> Page[PublishedPipelineRecord]:
    """Newest first (Disabled ones too unless ``active_only``)."""
    items = state.store.list_published_pipelines(state.workspace(workspace).id, active_only)
    return paginate(items, max_results, page_token)


@router.post(PIPELINES, dependencies=[Depends(contributor)])
def create_published_pipeline(workspace: WorkspaceName, body: CreatePublishedPipelineRequest,
                              state: State) -> PublishedPipelineRecord:
    fields = body.model_dump()
    return state.store.create_published_pipeline(state.workspace(workspace).id,
                                                 fields.pop("name"), **fields)


@router.get(PIPELINE, dependencies=[Depends(reader)])
def get_published_pipeline(workspace: WorkspaceName, pipeline_id: Id,
                           state: State) -> PublishedPipelineRecord:
    return state.store.get_published_pipeline(state.workspace(workspace).id, pipeline_id)


@router.patch(PIPELINE, dependencies=[Depends(contributor)])
def set_published_pipeline_status(workspace: WorkspaceName, pipeline_id: Id,
                                  body: PipelineStatusRequest,
                                  state: State) -> PublishedPipelineRecord:
    return state.store.set_published_pipeline_status(state.workspace(workspace).id,
                                                     pipeline_id, body.status)


# -- pipeline endpoints --------------------------------------------------------------------


@router.get(ENDPOINTS, dependencies=[Depends(reader)])
def list_pipeline_endpoints(workspace: WorkspaceName, state: State, active_only: bool = True,
                            name: str | None = None, max_results: MaxResults = 1000,
                            page_token: PageToken = None) -> Page[PipelineEndpointRecord]:
    """Endpoints by name (Disabled ones too unless ``active_only``). With ``name``: the one
    endpoint of that name, whatever its status (404 when there is none)."""
    ws_id = state.workspace(workspace).id
    if name is not None:
        items = [state.store.get_pipeline_endpoint(ws_id, name=name)]
    else:
        items = state.store.list_pipeline_endpoints(ws_id, active_only)
    return paginate(items, max_results, page_token)


@router.post(ENDPOINTS, dependencies=[Depends(contributor)])
def create_pipeline_endpoint(workspace: WorkspaceName, body: CreatePipelineEndpointRequest,
                             state: State) -> PipelineEndpointRecord:
    """409 when an endpoint of that name exists."""
    fields = body.model_dump()
    return state.store.create_pipeline_endpoint(state.workspace(workspace).id,
                                                fields.pop("name"), **fields)


@router.get(ENDPOINT, dependencies=[Depends(reader)])
def get_pipeline_endpoint(workspace: WorkspaceName, endpoint_id: Id,
                          state: State) -> PipelineEndpointRecord:
    return state.store.get_pipeline_endpoint(state.workspace(workspace).id,
                                             endpoint_id=endpoint_id)


@router.post(f"{ENDPOINT}/versions", dependencies=[Depends(contributor)])
def add_pipeline_endpoint_version(workspace: WorkspaceName, endpoint_id: Id,
                                  body: AddPipelineEndpointVersionRequest,
                                  state: State) -> PipelineEndpointRecord:
    """Append the pipeline as the next version (once; safe to repeat)."""
    return state.store.add_pipeline_endpoint_version(
        state.workspace(workspace).id, endpoint_id, body.pipeline_id,
        make_default=body.make_default,
    )


@router.patch(ENDPOINT, dependencies=[Depends(contributor)])
def update_pipeline_endpoint(workspace: WorkspaceName, endpoint_id: Id,
                             body: UpdatePipelineEndpointRequest,
                             state: State) -> PipelineEndpointRecord:
    return state.store.update_pipeline_endpoint(state.workspace(workspace).id, endpoint_id,
                                                **body.model_dump())


# -- schedules -----------------------------------------------------------------------------


@router.get(SCHEDULES, dependencies=[Depends(reader)])
def list_schedules(workspace: WorkspaceName, state: State, pipeline_id: str | None = None,
                   active_only: bool = True, max_results: MaxResults = 1000,
                   page_token: PageToken = None) -> Page[ScheduleRecord]:
    """Newest first (Disabled ones too unless ``active_only``)."""
    items = state.store.list_schedules(state.workspace(workspace).id, pipeline_id=pipeline_id,
                                       active_only=active_only)
    return paginate(items, max_results, page_token)


@router.post(SCHEDULES, dependencies=[Depends(contributor)])
def create_schedule(workspace: WorkspaceName, body: CreateScheduleRequest,
                    state: State) -> ScheduleRecord:
    fields = body.model_dump()
    return state.store.create_schedule(state.workspace(workspace).id, fields.pop("name"),
                                       **fields)


@router.get(SCHEDULE, dependencies=[Depends(reader)])
def get_schedule(workspace: WorkspaceName, schedule_id: Id, state: State) -> ScheduleRecord:
    return state.store.get_schedule(state.workspace(workspace).id, schedule_id)


@router.patch(SCHEDULE, dependencies=[Depends(contributor)])
def update_schedule(workspace: WorkspaceName, schedule_id: Id, body: UpdateScheduleRequest,
                    state: State) -> ScheduleRecord:
    return state.store.update_schedule(state.workspace(workspace).id, schedule_id,
                                       **body.model_dump())


# -- step results --------------------------------------------------------------------------


@router.get(STEP_RESULT, dependencies=[Depends(reader)])
def find_step_result(workspace: WorkspaceName, fingerprint: Fingerprint,
                     state: State) -> StepResultResponse:
    """The run recorded for the fingerprint while it is still Completed, else null."""
    run_id = state.store.find_step_result(state.workspace(workspace).id, fingerprint)
    return StepResultResponse(run_id=run_id)


@router.put(STEP_RESULT, status_code=204, dependencies=[Depends(contributor)])
def record_step_result(workspace: WorkspaceName, fingerprint: Fingerprint,
                       body: RecordStepResultRequest, state: State) -> None:
    """Remember the run that produced the step (the latest recorded wins)."""
    state.store.record_step_result(state.workspace(workspace).id, fingerprint, body.run_id)
