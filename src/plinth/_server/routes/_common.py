"""Helpers shared by the routers: state lookup and pagination."""

from __future__ import annotations

from typing import Annotated, TypeVar

from fastapi import Depends, Path, Query, Request

from plinth._api import Page
from plinth._server.state import ServerState
from plinth.exceptions import ValidationError

T = TypeVar("T")

MAX_PAGE = 10_000


def state(request: Request) -> ServerState:
    return request.app.state.plinth


State = Annotated[ServerState, Depends(state)]
WorkspaceName = Annotated[str, Path(min_length=1, max_length=255)]
MaxResults = Annotated[int, Query(ge=1, le=MAX_PAGE)]
PageToken = Annotated[str | None, Query(max_length=32)]


def paginate(items: list[T], max_results: int, page_token: str | None) -> Page[T]:
    """Offset pagination over a listing; the token is the offset of the next page."""
    try:
        start = int(page_token) if page_token else 0
    except ValueError:
        raise ValidationError(f"page_token={page_token!r} is not a token this API gave.") from None
    if start < 0:
        raise ValidationError("page_token must not be negative.")
    end = start + max_results
    return Page(items=items[start:end], next_page_token=str(end) if end < len(items) else None)
