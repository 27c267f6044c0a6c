"""``create_app``: the FastAPI application of the workspace server."""

from __future__ import annotations

import contextlib
import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from plinth._api import API_PREFIX, status_for
from plinth._server.config import ServerConfig
from plinth._server.state import ServerState
from plinth._store import Store
from plinth._version import __version__
from plinth.exceptions import PlinthError

__all__ = ["create_app", "app_from_env", "JSON"]

log = logging.getLogger("plinth.server")


class JSON(JSONResponse):
    """JSON that carries NaN and infinities (metrics may hold them), as Python's json reads."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, allow_nan=True, separators=(",", ":")).encode()


def error_response(status: int, code: str, message: str) -> JSON:
    return JSON({"error": {"code": code, "message": message}}, status_code=status)


def create_app(config: ServerConfig, store: Store | None = None) -> FastAPI:
    from fastapi.staticfiles import StaticFiles

    from plinth import _studio as studio
    from plinth._server.routes import (
        artifacts,
        auth,
        computes,
        data,
        environments,
        mlflow,
        models,
        pipeline_runs,
        pipelines,
        runs,
        secrets,
        services,
        workspaces,
    )
    from plinth._studio.common import STATIC, is_studio_page, studio_error

    app = FastAPI(
        lifespan=_scheduling,
        title="Plinth workspace server",
        version=__version__,
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
        default_response_class=JSON,
    )
    app.state.plinth = ServerState(config, store)

    @app.middleware("http")
    async def bound_request_size(request: Request, call_next):
        length = request.headers.get("content-length")
        limit = (
            config.max_artifact_bytes
            if "/artifacts/" in request.url.path
            else config.max_request_bytes
        )
        if length is not None and (not length.isdigit() or int(length) > limit):
            return error_response(
                413, "TooLarge", f"The request body is over the limit of {limit} bytes."
            )
        return await call_next(request)

    @app.exception_handler(PlinthError)
    async def plinth_error(request: Request, error: PlinthError):
        status, code = status_for(error)
        if is_studio_page(request):
            return studio_error(request, status, error)
        if status >= 500:
            log.error("%s %s failed: %s", request.method, request.url.path, error)
        response = error_response(status, code, str(error))
        if status == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="plinth"'
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError):
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()
        )
        return error_response(422, "InvalidRequest", problems or "The request is invalid.")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException):
        if is_studio_page(request) and error.status_code == 404:
            return studio_error(request, 404, error.detail)
        code = {401: "Unauthenticated", 403: "Forbidden", 404: "NotFound", 405: "MethodNotAllowed"}
        return error_response(
            error.status_code, code.get(error.status_code, "HttpError"), str(error.detail)
        )

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception):
        log.exception("%s %s failed", request.method, request.url.path)
        return error_response(500, "InternalError", f"{type(error).__name__}: {error}")

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    for module in (auth, workspaces, runs, models, artifacts, secrets, data, environments,
                   computes):
        app.include_router(module.router, prefix=API_PREFIX)
    app.include_router(pipelines.router, prefix=API_PREFIX)
    app.include_router(pipeline_runs.router, prefix=API_PREFIX)
    app.include_router(services.router, prefix=API_PREFIX)
    app.include_router(mlflow.router)  # MLflow's paths: /ws/{workspace}/api/2.0/...
    app.include_router(studio.router)  # the web UI: /, /signin, /w/{workspace}/...
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    return app


@contextlib.asynccontextmanager
async def _scheduling(app: FastAPI):
    """Each server process runs a pipeline scheduler (they agree through the database on
    who fires what; ``PLINTH_SCHEDULER=0`` turns it off) and a service supervisor that
    restarts crashed services (``PLINTH_SUPERVISOR=0`` turns it off)."""
    import os

    from plinth._pipelines.scheduler import Scheduler
    from plinth._serving.supervisor import Supervisor

    state: ServerState = app.state.plinth
    threads = []
    if os.environ.get("PLINTH_SCHEDULER", "1") != "0":
        threads.append(Scheduler(state.store, state.location_of))
    if os.environ.get("PLINTH_SUPERVISOR", "1") != "0":
        threads.append(Supervisor(state.store, state.location_of))
    for thread in threads:
        thread.start()
    try:
        yield
    finally:
        for thread in threads:
            thread.stop()


def app_from_env() -> FastAPI:
    """The app for ``uvicorn --factory`` (several worker processes read the same config)."""
    return create_app(ServerConfig.from_env())
