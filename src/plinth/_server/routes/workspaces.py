"""Workspaces and experiments."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from plinth._api import ArchiveRequest, CreateExperimentRequest, CreateWorkspaceRequest, Page
from plinth._server.auth import LOCAL, Principal, authenticated, contributor, owner, reader
from plinth._server.routes._common import MaxResults, PageToken, State, WorkspaceName, paginate
from plinth._store import ExperimentRecord, WorkspaceRecord

router = APIRouter(tags=["workspaces"])


Caller = Annotated[Principal, Depends(authenticated)]


@router.get("/workspaces")
def list_workspaces(
    state: State, caller: Caller, max_results: MaxResults = 1000, page_token: PageToken = None
) -> Page[WorkspaceRecord]:
    """The workspaces the caller has a role on."""
    items = state.store.list_workspaces()
    if caller is not LOCAL:
        roles = state.store.roles_of(caller.name)
        items = [w for w in items if w.id in roles]
    return paginate(items, max_results, page_token)


@router.post("/workspaces", status_code=201)
def create_workspace(body: CreateWorkspaceRequest, state: State,
                     caller: Caller) -> WorkspaceRecord:
    """Create a workspace; the caller becomes its Owner."""
    record = state.store.create_workspace(body.name, body.properties)
    if caller is not LOCAL:
        try:
            state.store.set_role(caller.name, record.id, "Owner")
        except BaseException:
            state.store.delete_workspace(record.name)  # no workspace without an owner
            raise
    return record


@router.get("/workspaces/{workspace}", dependencies=[Depends(reader)])
def get_workspace(workspace: WorkspaceName, state: State) -> WorkspaceRecord:
    return state.workspace(workspace)


@router.delete("/workspaces/{workspace}", status_code=204, dependencies=[Depends(owner)])
def delete_workspace(workspace: WorkspaceName, state: State) -> None:
    state.workspace(workspace)
    state.store.delete_workspace(workspace)
    state.artifacts(workspace).delete_root()
    state.forget_artifacts(workspace)


@router.get("/workspaces/{workspace}/experiments", dependencies=[Depends(reader)])
def list_experiments(
    workspace: WorkspaceName,
    state: State,
    include_archived: bool = False,
    max_results: MaxResults = 1000,
    page_token: PageToken = None,
) -> Page[ExperimentRecord]:
    ws = state.workspace(workspace)
    items = state.store.list_experiments(ws.id, include_archived=include_archived)
    return paginate(items, max_results, page_token)


@router.post("/workspaces/{workspace}/experiments", dependencies=[Depends(contributor)])
def create_experiment(
    workspace: WorkspaceName, body: CreateExperimentRequest, state: State
) -> ExperimentRecord:
    return state.store.create_experiment(state.workspace(workspace).id, body.name)


@router.get("/workspaces/{workspace}/experiments/{name}", dependencies=[Depends(reader)])
def get_experiment(workspace: WorkspaceName, name: str, state: State) -> ExperimentRecord:
    return state.store.get_experiment(state.workspace(workspace).id, name)


@router.get("/workspaces/{workspace}/experiment-ids/{experiment_id}",
            dependencies=[Depends(reader)])
def get_experiment_by_id(
    workspace: WorkspaceName, experiment_id: str, state: State
) -> ExperimentRecord:
    return state.experiment_in(state.workspace(workspace), experiment_id)


@router.patch("/workspaces/{workspace}/experiment-ids/{experiment_id}",
              dependencies=[Depends(contributor)])
def archive_experiment(
    workspace: WorkspaceName, experiment_id: str, body: ArchiveRequest, state: State
) -> ExperimentRecord:
    state.experiment_in(state.workspace(workspace), experiment_id)
    return state.store.set_experiment_archived(experiment_id, body.archived)
