"""Studio: the workspace server's web UI, served at ``/``.

Server-rendered pages (Jinja2 templates) over the same store and role checks as the REST
API; charts and live parts fetch the REST API itself (``/api/v1``) with the sign-in cookie.
Front-end assets are vendored under ``static/vendor`` (htmx for interactivity, uPlot for
charts of many points), so nothing is fetched from a CDN.

- ``common``: templates, the page context (workspace, caller, role), formatting, helpers
  several pages share.
- ``signin``: sign-in with an access token (a cookie), sign-out, the home page.
- ``runs``: experiments, an experiment's runs table, comparing runs.
- ``run_page``: a run's pages (overview, metrics, logs, outputs, child runs, its graph,
  downloads).
- ``sweeps``: what a HyperDrive or AutoML run's overview shows (parallel coordinates, the
  leaderboard).
- ``pipeline_graph``: the layout of a pipeline run's graph.
- ``assets``: models, datasets, datastores, environments, compute, pipelines, endpoints.
"""

from __future__ import annotations

from fastapi import APIRouter

__all__ = ["router"]


def _router() -> APIRouter:
    from plinth._studio import assets, run_page, runs, signin

    router = APIRouter(include_in_schema=False)
    # Every page under /w/{workspace} declares the Reader role, as the API's routes do.
    for module in (signin, runs, run_page, assets):
        router.include_router(module.router)
    return router


router = _router()
