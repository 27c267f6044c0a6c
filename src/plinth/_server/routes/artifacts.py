"""A workspace's files: streamed up and down, never held whole in memory."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from plinth._api import CopyRequest, Page
from plinth._artifacts import check_artifact_name
from plinth._server.auth import contributor, reader
from plinth._server.routes._common import MaxResults, PageToken, State, WorkspaceName, paginate
from plinth._server.streaming import receive_file, send_file
from plinth.exceptions import NotFoundError

router = APIRouter(tags=["artifacts"])

FILE = "/workspaces/{workspace}/artifacts/{path:path}"


@router.get("/workspaces/{workspace}/artifacts", dependencies=[Depends(reader)])
def list_artifacts(workspace: WorkspaceName, state: State, prefix: str = "",
                   max_results: MaxResults = 10_000,
                   page_token: PageToken = None) -> Page[str]:
    state.workspace(workspace)
    if prefix:
        check_artifact_name(prefix, "prefix")
    return paginate(state.artifacts(workspace).list(prefix), max_results, page_token)


@router.head(FILE, dependencies=[Depends(reader)])
def stat_artifact(workspace: WorkspaceName, path: str, state: State) -> Response:
    state.workspace(workspace)
    arts = state.artifacts(workspace)
    if arts.isdir(path):
        return Response(headers={"X-Plinth-Kind": "dir"})
    if not arts.exists(path):
        return Response(status_code=404)
    return Response(headers={"X-Plinth-Kind": "file", "X-Plinth-Size": str(arts.size(path))})


@router.get(FILE, dependencies=[Depends(reader)], response_class=StreamingResponse)
def download_artifact(workspace: WorkspaceName, path: str, state: State,
                      offset: Annotated[int, Query(ge=0)] = 0) -> StreamingResponse:
    state.workspace(workspace)
    arts = state.artifacts(workspace)
    if arts.isdir(path) or not arts.exists(path):
        raise NotFoundError(f"No file {path!r} in workspace {workspace!r}.")
    return send_file(state, workspace, path, offset)


@router.put(FILE, status_code=204, dependencies=[Depends(contributor)])
async def upload_artifact(workspace: WorkspaceName, path: str, request: Request,
                          state: State) -> None:
    await run_in_threadpool(state.workspace, workspace)
    await receive_file(request, state, workspace, check_artifact_name(path, "path"))


@router.delete(FILE, status_code=204, dependencies=[Depends(contributor)])
def delete_artifact(workspace: WorkspaceName, path: str, state: State) -> None:
    state.workspace(workspace)
    state.artifacts(workspace).delete(path)


@router.post("/workspaces/{workspace}/artifacts-copy", status_code=204,
             dependencies=[Depends(contributor)])
def copy_artifact(workspace: WorkspaceName, body: CopyRequest, state: State) -> None:
    state.workspace(workspace)
    arts = state.artifacts(workspace)
    if not arts.exists(body.source):
        raise NotFoundError(f"No file or folder {body.source!r} in workspace {workspace!r}.")
    arts.copy(body.source, body.target)
