"""The REST endpoints of published pipelines and pipeline endpoints: a ``POST`` starts a run.

The body is azureml's: ``{"ExperimentName": ..., "ParameterAssignments": {...}}`` (plus
``"PipelineVersion"`` for an endpoint); the answer's ``Id`` is the new pipeline run's id. The
run's driver is started on the server's machine, with the server's own access to the
workspace.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, ConfigDict, Field

from plinth._server.auth import contributor
from plinth._server.routes._common import State, WorkspaceName

router = APIRouter(tags=["pipeline runs"])

PipelineId = Annotated[str, Path(min_length=1, max_length=64)]


class SubmitPipelineRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ExperimentName: str = Field(min_length=1, max_length=255)
    ParameterAssignments: dict[str, str | int | float | bool] = {}
    PipelineVersion: str | None = Field(default=None, max_length=32)


class SubmittedPipelineRun(BaseModel):
    Id: str
    RunId: str
    ExperimentName: str
    Status: str


def _submitted(run_id: str, experiment_name: str) -> SubmittedPipelineRun:
    return SubmittedPipelineRun(Id=run_id, RunId=run_id, ExperimentName=experiment_name,
                                Status="Queued")


@router.post("/workspaces/{workspace}/published-pipelines/{pipeline_id}/submit",
             dependencies=[Depends(contributor)])
def submit_published_pipeline(workspace: WorkspaceName, pipeline_id: PipelineId,
                              body: SubmitPipelineRequest, state: State) -> SubmittedPipelineRun:
    """Start a run of the published pipeline (a disabled one answers 400)."""
    from plinth._pipelines.submit import submit_published

    record = state.store.get_published_pipeline(state.workspace(workspace).id, pipeline_id)
    run_id = submit_published(state.location(workspace), record, body.ExperimentName,
                              _parameters(body))
    return _submitted(run_id, body.ExperimentName)


@router.post("/workspaces/{workspace}/pipeline-endpoints/{endpoint_id}/submit",
             dependencies=[Depends(contributor)])
def submit_pipeline_endpoint(workspace: WorkspaceName, endpoint_id: PipelineId,
                             body: SubmitPipelineRequest, state: State) -> SubmittedPipelineRun:
    """Start a run of the endpoint's default version, or of ``PipelineVersion``."""
    from plinth._pipelines.submit import submit_published
    from plinth.exceptions import UserErrorException

    workspace_id = state.workspace(workspace).id
    endpoint = state.store.get_pipeline_endpoint(workspace_id, endpoint_id=endpoint_id)
    if endpoint.status != "Active":
        raise UserErrorException(f"Pipeline endpoint {endpoint.name!r} is {endpoint.status}.")
    version = body.PipelineVersion or endpoint.default_version
    if not version.isdigit() or int(version) >= len(endpoint.pipeline_ids):
        raise UserErrorException(
            f"PipelineVersion={version!r}: endpoint {endpoint.name!r} has versions 0 to "
            f"{len(endpoint.pipeline_ids) - 1}."
        )
    record = state.store.get_published_pipeline(workspace_id,
                                                 endpoint.pipeline_ids[int(version)])
    run_id = submit_published(state.location(workspace), record, body.ExperimentName,
                              _parameters(body))
    return _submitted(run_id, body.ExperimentName)


def _parameters(body: SubmitPipelineRequest) -> dict[str, Any]:
    return dict(body.ParameterAssignments)
