"""A run's pages: overview, metrics, logs, outputs, child runs, a pipeline run's graph
fragment and the download of one of its files.

Pages read the server's store (through ``page_context``, which checks the caller's role, as
the REST API does); charts and the live log are fetched by ``static/runs.js`` from the REST
API itself (``/api/v1/workspaces/{ws}/runs/{id}/metrics?max_points=...``, the artifacts
route with ``offset``), so there is one data path.

URLs: ``/w/{ws}/runs/{id}`` (overview), ``/metrics``, ``/logs``, ``/outputs``, ``/children``,
``/graph`` (a pipeline run's graph, the fragment htmx reloads while it runs),
``/download/{path}`` (one of the run's files).
"""

from __future__ import annotations

import json
import mimetypes
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from plinth._artifacts import check_artifact_name
from plinth._server.auth import reader
from plinth._server.streaming import send_file
from plinth._store import MetricPoint, RunRecord
from plinth._studio.common import (
    CHART_POINTS,
    Page,
    _api,
    _is_number,
    _render,
    duration_of,
    page_context,
    templates,
)
from plinth._studio.pipeline_graph import pipeline_graph
from plinth._studio.sweeps import _automl, _hyperdrive
from plinth.exceptions import NotFoundError

__all__ = ["router"]

# Every route is under /w/{workspace}: the caller needs a role there, as on the REST API.
router = APIRouter(dependencies=[Depends(reader)])

PIPELINE_RUN = "azureml.PipelineRun"
HYPERDRIVE_RUN = "hyperdrive"
AUTOML_RUN = "automl"
#: The most of a log shown when the page loads (its tail); the rest is a download.
LOG_BYTES = 1 << 20
#: Rows shown of a logged list or table.
TABLE_ROWS = 500
#: Images a browser shows from the download route (never SVG or HTML: they could run
#: scripts on this origin).
INLINE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp"}
TABS = [("overview", "Overview", ""), ("metrics", "Metrics", "/metrics"),
        ("logs", "Logs", "/logs"), ("outputs", "Outputs", "/outputs"),
        ("children", "Child runs", "/children")]


# -- a run ------------------------------------------------------------------------------------


def _run_page(page: Page, run_id: str) -> tuple[RunRecord, dict[str, Any]]:
    """The run and what every tab shows around its content."""
    run = page.state.run_in(page.workspace, run_id)
    parent = None
    if run.parent_id:
        try:
            parent = page.store.get_run(run.parent_id)
        except NotFoundError:
            parent = None
    children = page.store.list_runs(parent_id=run.id)
    base = page.url(f"/runs/{quote(run.id, safe='')}")
    return run, {"run": run, "parent": parent, "children": children, "base": base,
                 "tabs": TABS, "duration": duration_of(run), "live": run.is_active,
                 "api_run": _api(page, f"/runs/{quote(run.id, safe='')}"),
                 "experiment_url": page.url("/experiments/"
                                            + quote(run.experiment_name, safe=""))}




@router.get("/w/{workspace}/runs/{run_id}")
def run_overview(request: Request, workspace: str, run_id: str) -> Response:
    page = page_context(request, workspace)
    run, context = _run_page(page, run_id)
    definition = run.definition or {}
    context.update(tab="overview", definition=definition,
                   environment=_environment(definition.get("environment")),
                   inputs=_inputs(page, run), outputs=_outputs(page, run),
                   models=[m for m in page.store.list_models(page.workspace.id)
                           if m.run_id == run.id],
                   reused_from=run.properties.get("azureml.reusedrunid"))
    if run.run_type == HYPERDRIVE_RUN:
        context["hyperdrive"] = _hyperdrive(page, run, context["children"])
    elif run.run_type == AUTOML_RUN:
        context["automl"] = _automl(page, run, context["children"])
    elif run.run_type == PIPELINE_RUN:
        context["graph"] = pipeline_graph(page, run, context["children"])
    return _render(page, "run.html", **context)


def _environment(environment: Any) -> dict[str, Any] | None:
    if environment in (None, "", {}):
        return None
    if isinstance(environment, Mapping):
        name = environment.get("name")
        version = environment.get("version")
        return {"name": name, "version": version,
                "json": json.dumps(environment, indent=2, sort_keys=True, default=str)}
    return {"name": str(environment), "version": None, "json": None}


def _dataset(page: Page, dataset_id: str) -> dict[str, Any]:
    try:
        record = page.store.get_dataset_by_id(page.workspace.id, dataset_id)
    except NotFoundError:
        return {"id": dataset_id, "name": None, "version": None, "url": None}
    url = page.url(f"/datasets/{quote(record.name, safe='')}") if record.name else None
    return {"id": record.id, "name": record.name, "version": record.version, "url": url}


def _inputs(page: Page, run: RunRecord) -> list[dict[str, Any]]:
    """What the run read: its definition's inputs, and any other input lineage."""
    out = []
    seen: set[str] = set()
    for spec in (run.definition or {}).get("inputs") or []:
        if not isinstance(spec, Mapping) or spec.get("mode") == "upload":
            continue  # uploads are outputs (a pipeline step's data)
        row = {"name": spec.get("name"), "mode": spec.get("mode"), "dataset": None,
               "datastore": None, "path": None}
        if spec.get("kind") == "dataset" and spec.get("dataset_id"):
            row["dataset"] = _dataset(page, spec["dataset_id"])
            seen.add(spec["dataset_id"])
        else:
            row["datastore"], row["path"] = spec.get("datastore"), spec.get("path")
        out.append(row)
    for entry in page.store.list_run_datasets(run_id=run.id):
        if entry.direction == "input" and entry.dataset_id not in seen:
            seen.add(entry.dataset_id)
            out.append({"name": entry.name, "mode": entry.mode, "datastore": None,
                        "path": None, "dataset": _dataset(page, entry.dataset_id)})
    return out


def _outputs(page: Page, run: RunRecord) -> list[dict[str, Any]]:
    """What the run wrote: output datasets (lineage) and a step's pipeline data."""
    out = []
    for entry in page.store.list_run_datasets(run_id=run.id):
        if entry.direction == "output":
            out.append({"name": entry.name, "mode": entry.mode, "datastore": None, "path": None,
                        "dataset": _dataset(page, entry.dataset_id)})
    for output in ((run.definition or {}).get("pipeline_outputs") or {}).values():
        if isinstance(output, Mapping):
            out.append({"name": output.get("name"), "mode": "upload", "dataset": None,
                        "datastore": output.get("datastore"), "path": output.get("path")})
    return out


@router.get("/w/{workspace}/runs/{run_id}/metrics")
def run_metrics(request: Request, workspace: str, run_id: str) -> Response:
    page = page_context(request, workspace)
    run, context = _run_page(page, run_id)
    context.update(tab="metrics", **_metric_views(page, run))
    return _render(page, "run.html", **context)


def _metric_views(page: Page, run: RunRecord) -> dict[str, Any]:
    """The run's metrics, sorted into charts (numeric series), single values, tables,
    images and structured values. Charts fetch their points themselves."""
    groups: dict[tuple[str, str], list[MetricPoint]] = {}
    for point in page.store.get_metrics(run.id):
        groups.setdefault((point.name, point.kind), []).append(point)
    charts, values, tables, images, other = [], [], [], [], []
    run_path = f"/runs/{quote(run.id, safe='')}"
    for (name, kind), points in groups.items():
        if kind == "scalar":
            numbers = [p for p in points if _is_number(p.value)]
            if len(numbers) >= 2:
                charts.append({"name": name, "count": len(points),
                               "last": numbers[-1].value,
                               "description": points[0].description})
            else:
                values.append({"name": name, "value": points[-1].value, "count": len(points),
                               "description": points[0].description})
        elif kind == "list":
            items = [v for p in points for v in (p.value or [])]
            tables.append(_table(name, {name: items}, kind, points[0].description))
        elif kind in ("row", "table"):
            columns: dict[str, list[Any]] = {}
            for p in points:
                for key, value in (p.value or {}).items():
                    columns.setdefault(key, []).extend(value if kind == "table" else [value])
            tables.append(_table(name, columns, kind, points[0].description))
        elif kind == "image" or (isinstance(points[-1].value, Mapping)
                                 and set(points[-1].value) == {"image"}):
            for p in points:
                path = str((p.value or {}).get("image", ""))
                if path:
                    images.append({"name": name, "path": path,
                                   "url": page.url(f"{run_path}/download/{quote(path)}")
                                   + "?inline=1", "description": p.description})
        else:
            other.append(_structured(name, points[-1].value, points[-1].description))
    return {"charts": charts, "values": values, "tables": tables, "images": images,
            "structured": other, "chart_points": CHART_POINTS,
            "metrics_api": _api(page, f"{run_path}/metrics?max_points={CHART_POINTS}")}


def _table(name: str, columns: dict[str, list[Any]], kind: str,
           description: str) -> dict[str, Any]:
    length = max((len(c) for c in columns.values()), default=0)
    rows = [[c[i] if i < len(c) else None for c in columns.values()]
            for i in range(min(length, TABLE_ROWS))]
    return {"name": name, "kind": kind, "columns": list(columns), "rows": rows,
            "total": length, "description": description}


def _structured(name: str, value: Any, description: str) -> dict[str, Any]:
    """A confusion matrix as a table; anything else as JSON."""
    data = value.get("data") if isinstance(value, Mapping) else None
    if isinstance(data, Mapping) and isinstance(data.get("matrix"), list):
        labels = [str(x) for x in data.get("class_labels") or range(len(data["matrix"]))]
        return {"name": name, "description": description, "labels": labels,
                "matrix": data["matrix"], "schema": value.get("schema_type")}
    text = json.dumps(value, indent=2, default=str)
    if len(text) > 20000:
        text = text[:20000] + "\n..."
    return {"name": name, "description": description, "json": text,
            "schema": value.get("schema_type") if isinstance(value, Mapping) else None}


@router.get("/w/{workspace}/runs/{run_id}/logs")
def run_logs(request: Request, workspace: str, run_id: str, file: str = "") -> Response:
    """The run's log files; the chosen one's tail, followed live while the run is active."""
    page = page_context(request, workspace)
    run, context = _run_page(page, run_id)
    arts = page.state.artifacts(page.workspace.name)
    prefix = f"runs/{run.id}/"
    names = [n[len(prefix):] for n in arts.list(prefix.rstrip("/")) if n.startswith(prefix)]
    logs = [n for n in names if _is_log(n)]
    chosen = file if file in logs else ("logs/driver.log" if "logs/driver.log" in logs or
                                        not logs else logs[0])
    text, offset, truncated = "", 0, False
    if chosen in logs:
        size = arts.size(prefix + chosen)
        start = max(0, size - LOG_BYTES)
        data = arts.read_from(prefix + chosen, start)
        offset = start + len(data)
        truncated = start > 0
        text = data.decode("utf-8", "replace")
    run_path = f"/runs/{quote(run.id, safe='')}"
    context.update(tab="logs", logs=logs, chosen=chosen, text=text, offset=offset,
                   truncated=truncated,
                   log_api=_api(page, f"/artifacts/{quote(prefix + chosen)}"),
                   download=page.url(f"{run_path}/download/{quote(chosen)}"))
    return _render(page, "run.html", **context)


def _is_log(name: str) -> bool:
    """Files under the log folders a run has (``logs/`` here, azureml's others), and
    ``*.log`` files at the top of the run's files."""
    top = name.split("/", 1)[0]
    return (top in ("logs", "azureml-logs", "user_logs", "system_logs")
            or (name.endswith(".log") and "/" not in name))


@router.get("/w/{workspace}/runs/{run_id}/outputs")
def run_outputs(request: Request, workspace: str, run_id: str, path: str = "") -> Response:
    """The run's files, folder by folder, with sizes and a download link for each."""
    page = page_context(request, workspace)
    run, context = _run_page(page, run_id)
    folder = check_artifact_name(path, "path") if path.strip("/ ") else ""
    files = _files(page, f"runs/{run.id}")
    inside = {n[len(folder) + 1:] if folder else n: size for n, size in files.items()
              if not folder or n.startswith(folder + "/")}
    if folder and not inside:
        raise NotFoundError(f"Run {run.id} has no folder {folder!r}.")
    folders: dict[str, dict[str, int]] = {}
    entries = []
    run_path = f"/runs/{quote(run.id, safe='')}"
    for name, size in sorted(inside.items()):
        if "/" in name:
            top = name.split("/", 1)[0]
            info = folders.setdefault(top, {"files": 0, "size": 0})
            info["files"] += 1
            info["size"] += size
            continue
        full = f"{folder}/{name}" if folder else name
        entries.append({"name": name, "size": size,
                        "url": page.url(f"{run_path}/download/{quote(full)}")})
    crumbs = []
    parts = folder.split("/") if folder else []
    for i, part in enumerate(parts):
        crumbs.append({"name": part, "url": _folder_url(page, run, "/".join(parts[:i + 1]))})
    context.update(
        tab="outputs", folder=folder, entries=entries, crumbs=crumbs,
        root_url=_folder_url(page, run, ""), total=len(files),
        total_size=sum(files.values()),
        folders=[{"name": n, "url": _folder_url(page, run, f"{folder}/{n}" if folder else n),
                  **info} for n, info in sorted(folders.items())])
    return _render(page, "run.html", **context)


def _folder_url(page: Page, run: RunRecord, folder: str) -> str:
    url = page.url(f"/runs/{quote(run.id, safe='')}/outputs")
    return url + (f"?path={quote(folder)}" if folder else "")


def _files(page: Page, prefix: str) -> dict[str, int]:
    """The files under ``prefix`` (names relative to it) and their sizes, from one listing
    where the file system gives sizes with it."""
    arts = page.state.artifacts(page.workspace.name)
    base = f"{arts.root}/{prefix}"
    try:
        found = arts.fs.find(base, detail=True) if arts.fs.isdir(base) else {}
        out = {}
        for full, info in found.items():
            name = full.rstrip("/")[len(base.rstrip("/")) + 1:]
            if name and ".partial-" not in name and info.get("type", "file") == "file":
                out[name] = int(info.get("size") or 0)
        return out
    except (AttributeError, TypeError):  # an artifact store without an fsspec file system
        return {n[len(prefix) + 1:]: arts.size(n) for n in arts.list(prefix)}


@router.get("/w/{workspace}/runs/{run_id}/children")
def run_children(request: Request, workspace: str, run_id: str) -> Response:
    page = page_context(request, workspace)
    run, context = _run_page(page, run_id)
    context.update(tab="children", now=time.time())
    return _render(page, "run.html", **context)


@router.get("/w/{workspace}/runs/{run_id}/graph")
def run_graph(request: Request, workspace: str, run_id: str) -> Response:
    """A pipeline run's graph alone: what the run page reloads every 3 s while it runs."""
    page = page_context(request, workspace)
    run = page.state.run_in(page.workspace, run_id)
    graph = pipeline_graph(page, run, page.store.list_runs(parent_id=run.id))
    base = page.url(f"/runs/{quote(run.id, safe='')}")
    return templates.TemplateResponse(request, "run_graph.html", {
        "graph": graph, "run": run, "base": base, "live": run.is_active})


@router.get("/w/{workspace}/runs/{run_id}/download/{path:path}")
def download(request: Request, workspace: str, run_id: str, path: str,
             inline: bool = False) -> Response:
    """One of the run's files, streamed (an attachment; ``?inline=1`` shows an image)."""
    page = page_context(request, workspace)
    run = page.state.run_in(page.workspace, run_id)
    name = check_artifact_name(path, "path")
    key = f"runs/{run.id}/{name}"
    arts = page.state.artifacts(page.workspace.name)
    if arts.isdir(key) or not arts.exists(key):
        raise NotFoundError(f"Run {run.id} has no file {name!r}.")
    size = arts.size(key)
    response = send_file(page.state, page.workspace.name, key)
    media = mimetypes.guess_type(name)[0] or "application/octet-stream"
    filename = name.rsplit("/", 1)[-1]
    fallback = "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "_"
                       for c in filename)
    disposition = "inline" if inline and media in INLINE_TYPES else "attachment"
    response.headers["content-type"] = media if disposition == "inline" else (
        "application/octet-stream")
    response.headers["content-disposition"] = (
        f"{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}")
    response.headers["content-length"] = str(size)
    response.headers["x-content-type-options"] = "nosniff"
    return response
