"""Registered environment versions. Readers may read; registering needs Contributor."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from plinth._api import Page, RegisterEnvironmentRequest
from plinth._server.auth import contributor, reader
from plinth._server.routes._common import MaxResults, PageToken, State, WorkspaceName, paginate
from plinth._store.base import EnvironmentRecord

router = APIRouter(tags=["environments"])

ENVIRONMENTS = "/workspaces/{workspace}/environments"
VERSIONS = f"{ENVIRONMENTS}/{{name}}/versions"
VERSION = f"{VERSIONS}/{{version}}"

Name = Annotated[str, Path(min_length=1, max_length=255)]
Version = Annotated[str, Path(pattern=r"^(latest|[0-9]{1,9})$")]


def _version(version: str) -> int | None:
    return None if version == "latest" else int(version)


@router.get(ENVIRONMENTS, dependencies=[Depends(reader)])
def list_environments(workspace: WorkspaceName, state: State, name: str | None = None,
                      max_results: MaxResults = 1000,
                      page_token: PageToken = None) -> Page[EnvironmentRecord]:
    """Versions (of one name, or of all), by name then newest first."""
    items = state.store.list_environments(state.workspace(workspace).id, name)
    return paginate(items, max_results, page_token)


@router.post(VERSIONS, dependencies=[Depends(contributor)])
def register_environment(workspace: WorkspaceName, name: Name,
                         body: RegisterEnvironmentRequest, state: State) -> EnvironmentRecord:
    """The latest version when its digest is ``digest`` (nothing changed), else a new one."""
    return state.store.register_environment(state.workspace(workspace).id, name,
                                            **body.model_dump())


@router.get(VERSION, dependencies=[Depends(reader)])
def get_environment(workspace: WorkspaceName, name: Name, version: Version,
                    state: State) -> EnvironmentRecord:
    return state.store.get_environment(state.workspace(workspace).id, name, _version(version))
