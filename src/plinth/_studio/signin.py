"""Signing in (an access token kept in an HttpOnly cookie), signing out, the home page."""

from __future__ import annotations

from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from plinth._server.auth import STUDIO_COOKIE, authenticated, principal_of_token
from plinth._studio.common import page_context, render, templates
from plinth.exceptions import AuthenticationError

__all__ = ["router"]

router = APIRouter()


@router.get("/", dependencies=[Depends(authenticated)])
def home(request: Request) -> Response:
    """The workspaces the caller can see (straight into the only one)."""
    page = page_context(request)
    from plinth._studio.common import _visible_workspaces

    names = _visible_workspaces(page)
    if len(names) == 1:
        return RedirectResponse(f"/w/{names[0]}/experiments", status_code=303)
    return render(page, "home.html", names=names)


@router.get("/signin")
def signin_form(request: Request, next: str = "/") -> Response:
    return templates.TemplateResponse(request, "signin.html", {"next": _safe(next),
                                                               "error": None})


@router.post("/signin")
async def signin(request: Request) -> Response:
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    token = (form.get("token") or [""])[0].strip()
    target = _safe((form.get("next") or ["/"])[0])
    try:
        principal_of_token(request.app.state.plinth, token)
    except AuthenticationError as error:
        # 400, not 401: the sign-in form itself is public; the token given was refused.
        return templates.TemplateResponse(request, "signin.html", {
            "next": target, "error": str(error)}, status_code=400)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(STUDIO_COOKIE, token, httponly=True, samesite="strict",
                        secure=request.url.scheme == "https", max_age=30 * 24 * 3600)
    return response


@router.post("/signout")
def signout() -> Response:
    response = RedirectResponse("/signin", status_code=303)
    response.delete_cookie(STUDIO_COOKIE)
    return response


def _safe(target: str) -> str:
    """Only paths of this server: a sign-in link cannot send anyone elsewhere."""
    return target if target.startswith("/") and not target.startswith("//") else "/"


