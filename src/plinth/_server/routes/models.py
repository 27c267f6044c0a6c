"""Registered model versions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from plinth._api import CreateModelVersionRequest, Page, UpdateModelRequest
from plinth._server.auth import contributor, reader
from plinth._server.routes._common import MaxResults, PageToken, State, WorkspaceName, paginate
from plinth._store import ModelRecord
from plinth.exceptions import ValidationError

router = APIRouter(tags=["models"])

VERSION = "/workspaces/{workspace}/models/{name}/versions/{version}"
Version = Annotated[str, Path(pattern=r"^(latest|[0-9]{1,9})$")]


def _version(version: str) -> int | None:
    return None if version == "latest" else int(version)


@router.get("/workspaces/{workspace}/models", dependencies=[Depends(reader)])
def list_models(workspace: WorkspaceName, state: State, name: str | None = None,
                max_results: MaxResults = 1000,
                page_token: PageToken = None) -> Page[ModelRecord]:
    items = state.store.list_models(state.workspace(workspace).id, name)
    return paginate(items, max_results, page_token)


@router.post("/workspaces/{workspace}/models/{name}/versions", status_code=201,
             dependencies=[Depends(contributor)])
def create_model_version(workspace: WorkspaceName, name: str, body: CreateModelVersionRequest,
                         state: State) -> ModelRecord:
    ws = state.workspace(workspace)
    if not state.artifacts(workspace).exists(body.path):
        raise ValidationError(
            f"path={body.path!r} names no file in the workspace; upload the model files first."
        )
    return state.store.create_model_version(ws.id, name, **body.model_dump())


@router.get(VERSION, dependencies=[Depends(reader)])
def get_model(workspace: WorkspaceName, name: str, version: Version,
              state: State) -> ModelRecord:
    return state.store.get_model(state.workspace(workspace).id, name, _version(version))


@router.patch(VERSION, dependencies=[Depends(contributor)])
def update_model(workspace: WorkspaceName, name: str, version: Version,
                 body: UpdateModelRequest, state: State) -> ModelRecord:
    ws = state.workspace(workspace)
    record = state.store.get_model(ws.id, name, _version(version))
    return state.store.update_model(ws.id, name, record.version, **body.model_dump())


@router.delete(VERSION, status_code=204, dependencies=[Depends(contributor)])
def delete_model(workspace: WorkspaceName, name: str, version: Version, state: State) -> None:
    ws = state.workspace(workspace)
    record = state.store.get_model(ws.id, name, _version(version))
    state.store.delete_model(ws.id, name, record.version)
