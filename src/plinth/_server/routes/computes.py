"""A workspace's compute targets. Readers may read; creating and deleting need Contributor."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from plinth._api import CreateComputeRequest, Page
from plinth._server.auth import contributor, reader
from plinth._server.routes._common import MaxResults, PageToken, State, WorkspaceName, paginate
from plinth._store.base import ComputeRecord

router = APIRouter(tags=["computes"])

COMPUTES = "/workspaces/{workspace}/computes"
COMPUTE = f"{COMPUTES}/{{name}}"

Name = Annotated[str, Path(min_length=1, max_length=255)]


@router.get(COMPUTES, dependencies=[Depends(reader)])
def list_computes(workspace: WorkspaceName, state: State, max_results: MaxResults = 1000,
                  page_token: PageToken = None) -> Page[ComputeRecord]:
    """The workspace's compute targets, by name."""
    items = state.store.list_computes(state.workspace(workspace).id)
    return paginate(items, max_results, page_token)


@router.get(COMPUTE, dependencies=[Depends(reader)])
def get_compute(workspace: WorkspaceName, name: Name, state: State) -> ComputeRecord:
    return state.store.get_compute(state.workspace(workspace).id, name)


@router.put(COMPUTE, dependencies=[Depends(contributor)])
def create_compute(workspace: WorkspaceName, name: Name, body: CreateComputeRequest,
                   state: State) -> ComputeRecord:
    """Create (or attach) the compute target; 409 when one of that name exists."""
    return state.store.create_compute(state.workspace(workspace).id, name, **body.model_dump())


@router.delete(COMPUTE, status_code=204, dependencies=[Depends(contributor)])
def delete_compute(workspace: WorkspaceName, name: Name, state: State) -> None:
    state.store.delete_compute(state.workspace(workspace).id, name)
