"""A workspace's web services. Readers may read; creating, changing and deleting need
Contributor.

Routes under a service (``.../services/{name}/...``: its keys, its tokens) are other
routers'. The service supervisor's own listing of every workspace's services
(``list_services(None)``) has no route: it runs inside the server, on the server's store.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from plinth._api import CreateServiceRequest, Page, UpdateServiceRequest
from plinth._server.auth import contributor, reader
from plinth._server.routes._common import MaxResults, PageToken, State, WorkspaceName, paginate
from plinth._store.base import ServiceRecord

router = APIRouter(tags=["services"])

SERVICES = "/workspaces/{workspace}/services"
SERVICE = f"{SERVICES}/{{name}}"

Name = Annotated[str, Path(min_length=1, max_length=255)]


@router.get(SERVICES, dependencies=[Depends(reader)])
def list_services(workspace: WorkspaceName, state: State, max_results: MaxResults = 1000,
                  page_token: PageToken = None) -> Page[ServiceRecord]:
    """The workspace's services, by name."""
    items = state.store.list_services(state.workspace(workspace).id)
    return paginate(items, max_results, page_token)


@router.post(SERVICES, dependencies=[Depends(contributor)])
def create_service(workspace: WorkspaceName, body: CreateServiceRequest,
                   state: State) -> ServiceRecord:
    """A new service in state Transitioning; 409 when one of that name exists, unless
    ``overwrite``."""
    fields = body.model_dump()
    return state.store.create_service(state.workspace(workspace).id, fields.pop("name"),
                                      **fields)


@router.get(SERVICE, dependencies=[Depends(reader)])
def get_service(workspace: WorkspaceName, name: Name, state: State) -> ServiceRecord:
    return state.store.get_service(state.workspace(workspace).id, name)


@router.patch(SERVICE, dependencies=[Depends(contributor)])
def update_service(workspace: WorkspaceName, name: Name, body: UpdateServiceRequest,
                   state: State) -> ServiceRecord:
    """Change what the body gives (null leaves a field as it is)."""
    return state.store.update_service(state.workspace(workspace).id, name, **body.model_dump())


@router.delete(SERVICE, status_code=204, dependencies=[Depends(contributor)])
def delete_service(workspace: WorkspaceName, name: Name, state: State) -> None:
    state.store.delete_service(state.workspace(workspace).id, name)
