"""A workspace's files: streamed up and down, never held whole in memory."""

from __future__ import annotations

import tempfile
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from plinth._api import CopyRequest, Page
from plinth._artifacts import check_artifact_name
from plinth._server.auth import contributor, reader
from plinth._server.routes._common import MaxResults, PageToken, State, WorkspaceName, paginate
from plinth.exceptions import NotFoundError, UserErrorException

router = APIRouter(tags=["artifacts"])

FILE = "/workspaces/{workspace}/artifacts/{path:path}"
_CHUNK = 1 << 20
_SPOOL = 8 << 20  # bodies up to this size stay in memory; larger ones go to a temp file


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
    source = arts.open(path)
    source.seek(offset)

    def chunks():
        with source:
            while chunk := source.read(_CHUNK):
                yield chunk

    return StreamingResponse(chunks(), media_type="application/octet-stream")


@router.put(FILE, status_code=204, dependencies=[Depends(contributor)])
async def upload_artifact(workspace: WorkspaceName, path: str, request: Request,
                          state: State) -> None:
    await run_in_threadpool(state.workspace, workspace)
    name = check_artifact_name(path, "path")
    limit = state.config.max_artifact_bytes
    with tempfile.SpooledTemporaryFile(max_size=_SPOOL) as body:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise UserErrorException(f"The file is over the limit of {limit} bytes.")
            body.write(chunk)
        body.seek(0)
        await run_in_threadpool(state.artifacts(workspace).put_stream, name, body)


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
