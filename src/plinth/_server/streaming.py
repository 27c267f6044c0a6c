"""Moving a file through the server without holding it whole in memory."""

from __future__ import annotations

import tempfile

from fastapi import Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from plinth._server.state import ServerState
from plinth.exceptions import UserErrorException

__all__ = ["receive_file", "send_file"]

_CHUNK = 1 << 20
_SPOOL = 8 << 20  # bodies up to this size stay in memory; larger ones go to a temp file


async def receive_file(request: Request, state: ServerState, workspace: str, name: str) -> None:
    """Store the request body as ``name`` in the workspace's files, within the size limit."""
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


def send_file(state: ServerState, workspace: str, name: str, offset: int = 0) -> StreamingResponse:
    """Stream ``name`` (from ``offset`` on) in 1 MiB chunks; the caller checked it exists."""
    source = state.artifacts(workspace).open(name)
    source.seek(offset)

    def chunks():
        with source:
            while chunk := source.read(_CHUNK):
                yield chunk

    return StreamingResponse(chunks(), media_type="application/octet-stream")
