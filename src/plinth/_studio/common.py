"""What every Studio page shares: the templates, who is looking at which workspace, how
values are shown, and the little helpers several pages use."""

from __future__ import annotations

import datetime as _dt
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup

from plinth._server.auth import ROLES, Principal, require_role
from plinth._server.state import ServerState
from plinth._store import TERMINAL_STATUSES, RunRecord, WorkspaceRecord

__all__ = ["CHART_POINTS", "HYPERPARAMETERS", "STATIC", "Page", "duration_of",
           "is_studio_page", "page_context", "render", "studio_error", "templates"]

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
templates = Jinja2Templates(directory=str(HERE / "templates"))

HYPERPARAMETERS = "hyperparameters"
#: Points a chart asks the REST API for (it downsamples longer series).
CHART_POINTS = 1000


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    seconds = float(seconds)
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes}m" if hours else f"{minutes}m {secs}s"


def _number(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "" if value is None else str(value)
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return str(value)
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def _time(epoch: float | None) -> Markup | str:
    """A UTC ISO time in a <time> element; the page's script shows it in the viewer's zone."""
    if epoch is None:
        return ""
    moment = _dt.datetime.fromtimestamp(float(epoch), tz=_dt.UTC)
    text = moment.strftime("%Y-%m-%d %H:%M:%S UTC")
    return Markup(f'<time datetime="{moment.isoformat()}">{text}</time>')


templates.env.filters["duration"] = _duration
templates.env.filters["number"] = _number
templates.env.filters["time"] = _time
templates.env.filters["tojson_attr"] = lambda value: json.dumps(value, default=str)
templates.env.filters["urlpart"] = lambda value: quote(str(value), safe="")


@dataclass
class Page:
    """Who is looking at which workspace, with which role."""

    request: Request
    state: ServerState
    principal: Principal
    workspace: WorkspaceRecord | None = None

    @property
    def store(self) -> Any:
        return self.state.store

    @property
    def can_write(self) -> bool:
        return ROLES.index(self.principal.role or "Reader") >= ROLES.index("Contributor")

    @property
    def is_owner(self) -> bool:
        return self.principal.role == "Owner"

    def url(self, path: str = "") -> str:
        """A URL inside the workspace's part of the Studio."""
        base = f"/w/{quote(self.workspace.name, safe='')}" if self.workspace else ""
        return base + path


def page_context(request: Request, workspace: str | None = None) -> Page:
    """The caller on ``workspace`` with at least the Reader role (AuthenticationError when
    not signed in, which pages turn into the sign-in page)."""
    state: ServerState = request.app.state.plinth
    if workspace is None:
        from plinth._server.auth import authenticated

        return Page(request, state, authenticated(request))
    principal = require_role(request, workspace, "Reader")
    return Page(request, state, principal, state.workspace(workspace))


def render(page: Page, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    workspaces = []
    try:
        workspaces = _visible_workspaces(page)
    except Exception:  # noqa: BLE001 - the switcher is a convenience
        pass
    return templates.TemplateResponse(page.request, template, {
        "page": page, "workspace": page.workspace, "workspaces": workspaces,
        "auth": page.state.config.auth, **context}, status_code=status_code)


def _visible_workspaces(page: Page) -> list[str]:
    records = page.store.list_workspaces()
    if not page.state.config.auth:
        return sorted(r.name for r in records)
    roles = page.store.roles_of(page.principal.name)
    return sorted(r.name for r in records if r.id in roles)


def is_studio_page(request: Request) -> bool:
    """A Studio page (not the REST API, MLflow's API, a file or a fragment fetched by a
    script): its errors are pages too."""
    path = request.url.path
    if path.startswith(("/api/", "/ws/", "/static/", "/healthz")):
        return False
    return "text/html" in request.headers.get("accept", "")


def studio_error(request: Request, status: int, error: Any) -> Response:
    """An unauthenticated visitor goes to the sign-in page; other errors are shown."""
    if status == 401:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/signin?next={quote(target, safe='')}", status_code=303)
    titles = {403: "Not allowed", 404: "Not found", 422: "Not valid"}
    return templates.TemplateResponse(request, "error.html", {
        "status": status, "title": titles.get(status, "Something went wrong"),
        "message": str(error), "workspace": None, "workspaces": [], "auth": False,
        "page": None}, status_code=status)


# -- helpers of several pages -----------------------------------------------------------------


def _render(page: Page, template: str, status_code: int = 200, **context: Any) -> Response:
    context.setdefault("now", time.time())
    return render(page, template, status_code=status_code, run_duration=duration_of,
                  **context)


def duration_of(run: RunRecord, now: float | None = None) -> float | None:
    """Seconds from start to end (to now while it runs)."""
    if run.start_time is None:
        return None
    end = run.end_time
    if end is None:
        if run.status in TERMINAL_STATUSES:
            return None
        end = time.time() if now is None else now
    return max(0.0, end - run.start_time)


def _api(page: Page, path: str) -> str:
    return f"/api/v1/workspaces/{quote(page.workspace.name, safe='')}{path}"


def _json(text: str | None, default: Any) -> Any:
    if not text:
        return default
    try:
        return json.loads(text)
    except ValueError:
        return default


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
