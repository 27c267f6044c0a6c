"""Experiments, runs, a run's page, comparing runs.

Pages read the server's store (through ``page_context``, which checks the caller's role, as
the REST API does); charts and the live log are fetched by ``static/runs.js`` from the REST
API itself (``/api/v1/workspaces/{ws}/runs/{id}/metrics?max_points=...``, the artifacts
route with ``offset``), so there is one data path.

URLs (every view has one):

- ``/w/{ws}/experiments``: ``<table id="experiments">`` (``?archived=1`` shows archived ones)
- ``/w/{ws}/experiments/{name}``: ``<table id="runs">``, one ``<tr data-run-id>`` per
  top-level run; ``?sort=<column>|metric:NAME&order=asc|desc&q=&status=&page=&per_page=
  &metrics=a,b``
- ``/w/{ws}/runs/{id}`` (overview), ``/metrics``, ``/logs``, ``/outputs``, ``/children``,
  ``/graph`` (a pipeline run's graph, the fragment htmx reloads while it runs),
  ``/download/{path}`` (one of the run's files)
- ``/w/{ws}/compare?runs=a,b,...`` (2 to 20 runs)
"""

from __future__ import annotations

import json
import math
import mimetypes
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from graphlib import CycleError, TopologicalSorter
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from plinth._artifacts import check_artifact_name
from plinth._server.auth import reader
from plinth._server.streaming import send_file
from plinth._store import TERMINAL_STATUSES, MetricPoint, RunRecord
from plinth._studio.common import Page, page_context, render, templates
from plinth.exceptions import NotFoundError

__all__ = ["router"]

# Every route is under /w/{workspace}: the caller needs a role there, as on the REST API.
router = APIRouter(dependencies=[Depends(reader)])

PIPELINE_RUN = "azureml.PipelineRun"
HYPERDRIVE_RUN = "hyperdrive"
AUTOML_RUN = "automl"
HYPERPARAMETERS = "hyperparameters"

PER_PAGE = 50
MAX_PER_PAGE = 500
#: Metric names for the runs table's picker come from this many of the newest runs.
PICKER_RUNS = 1000
MIN_COMPARE, MAX_COMPARE = 2, 20
#: Points a chart asks the REST API for (it downsamples longer series).
CHART_POINTS = 1000
#: The most of a log shown when the page loads (its tail); the rest is a download.
LOG_BYTES = 1 << 20
#: Rows shown of a logged list or table.
TABLE_ROWS = 500
#: Images a browser shows from the download route (never SVG or HTML: they could run
#: scripts on this origin).
INLINE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp"}
COLUMNS = {"run": "Run", "status": "Status", "type": "Type", "created": "Created",
           "duration": "Duration", "tags": "Tags"}
DESCENDING_FIRST = {"created", "duration"}
TABS = [("overview", "Overview", ""), ("metrics", "Metrics", "/metrics"),
        ("logs", "Logs", "/logs"), ("outputs", "Outputs", "/outputs"),
        ("children", "Child runs", "/children")]


# -- experiments ------------------------------------------------------------------------------


@router.get("/w/{workspace}/experiments")
def experiments(request: Request, workspace: str, archived: bool = False) -> Response:
    """The workspace's experiments, with run counts and last activity, newest first."""
    page = page_context(request, workspace)
    rows = []
    for experiment in page.store.list_experiments(page.workspace.id, include_archived=archived):
        records = page.store.list_runs(experiment_id=experiment.id)
        top = sum(1 for r in records if r.parent_id is None)
        last = max((_last_activity(r) for r in records), default=experiment.created_at)
        rows.append({"experiment": experiment, "runs": top, "all_runs": len(records),
                     "last": last})
    rows.sort(key=lambda row: (-row["last"], row["experiment"].name))
    return _render(page, "experiments.html", rows=rows, archived=archived)


def _render(page: Page, template: str, status_code: int = 200, **context: Any) -> Response:
    context.setdefault("now", time.time())
    return render(page, template, status_code=status_code, run_duration=duration_of,
                  **context)


def _last_activity(run: RunRecord) -> float:
    return max(t for t in (run.created_at, run.start_time, run.end_time, run.heartbeat_at)
               if t is not None)


# -- an experiment's runs -----------------------------------------------------------------------


@dataclass
class TableQuery:
    """What the runs table shows, from the query string."""

    sort: str = "created"
    order: str = "desc"
    q: str = ""
    status: str = ""
    page: int = 1
    per_page: int = PER_PAGE
    metrics: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, request: Request) -> TableQuery:
        params = request.query_params
        sort = params.get("sort") or "created"
        if sort not in COLUMNS and not (sort.startswith("metric:") and len(sort) > 7):
            sort = "created"
        order = params.get("order") or ("desc" if _descending_first(sort) else "asc")
        if order not in ("asc", "desc"):
            order = "desc"
        metrics = _names(params.getlist("metrics"))
        if sort.startswith("metric:") and sort[7:] not in metrics:
            metrics.append(sort[7:])  # the column the rows are sorted by is shown
        return cls(sort=sort, order=order, q=(params.get("q") or "").strip(),
                   status=(params.get("status") or "").strip(),
                   page=max(1, _int(params.get("page"), 1)),
                   per_page=min(MAX_PER_PAGE, max(1, _int(params.get("per_page"), PER_PAGE))),
                   metrics=metrics)

    def params(self) -> dict[str, str]:
        """The query string's values (defaults left out)."""
        default_order = "desc" if _descending_first(self.sort) else "asc"
        return {"q": self.q, "status": self.status,
                "metrics": ",".join(self.metrics),
                "sort": "" if self.sort == "created" else self.sort,
                "order": "" if self.order == default_order else self.order,
                "per_page": "" if self.per_page == PER_PAGE else str(self.per_page),
                "page": "" if self.page == 1 else str(self.page)}

    def link(self, base: str, **changes: Any) -> str:
        merged = {**self.params(), **{k: ("" if v is None else str(v)) for k, v in
                                      changes.items()}}
        items = [(k, v) for k, v in merged.items() if v]
        return base + ("?" + urlencode(items, safe=",:") if items else "")

    def sort_link(self, base: str, column: str) -> str:
        """The header link: this column, the other way round when it is the sort already."""
        if column == self.sort:
            order = "asc" if self.order == "desc" else "desc"
        else:
            order = "desc" if _descending_first(column) else "asc"
        default_order = "desc" if _descending_first(column) else "asc"
        return self.link(base, sort="" if column == "created" else column,
                         order="" if order == default_order else order, page="")

    def aria_sort(self, column: str) -> str:
        if column != self.sort:
            return "none"
        return "ascending" if self.order == "asc" else "descending"


def _descending_first(column: str) -> bool:
    return column in DESCENDING_FIRST or column.startswith("metric:")


def _int(text: str | None, default: int) -> int:
    try:
        return int(text) if text else default
    except ValueError:
        return default


def _names(values: Iterable[str]) -> list[str]:
    """Names given as ``a,b`` and/or repeated parameters, without blanks or repeats."""
    out = [part.strip() for value in values for part in value.split(",")]
    return list(dict.fromkeys(name for name in out if name))


@router.get("/w/{workspace}/experiments/{name}")
def experiment_runs(request: Request, workspace: str, name: str) -> Response:
    """An experiment's top-level runs: sorted, filtered and paged here, with the metric
    columns' values read in one query for the page (for every run only when sorting by a
    metric)."""
    page = page_context(request, workspace)
    experiment = page.store.get_experiment(page.workspace.id, name)
    query = TableQuery.of(request)
    now = time.time()
    runs = page.store.list_runs(experiment_id=experiment.id, root_only=True)
    statuses = sorted({r.status for r in runs})
    shown = [r for r in runs if _matches(r, query.q) and
             (not query.status or r.status == query.status)]

    sorted_values: dict[str, dict[str, float]] = {}
    if query.sort.startswith("metric:"):
        metric = query.sort[len("metric:"):]
        sorted_values = page.store.latest_metrics([r.id for r in shown], [metric])
        key = (lambda r: sorted_values.get(r.id, {}).get(metric))  # noqa: E731
    else:
        key = _SORT_KEYS[query.sort]
    shown = _sorted(shown, key, query.order == "desc", now)

    pages = max(1, math.ceil(len(shown) / query.per_page))
    query.page = min(query.page, pages)
    first = (query.page - 1) * query.per_page
    rows = shown[first:first + query.per_page]

    # One query: the page's values for the chosen columns and the names the picker lists.
    newest = [r.id for r in runs[:PICKER_RUNS]]
    values = page.store.latest_metrics(list(dict.fromkeys([*(r.id for r in rows), *newest])))
    names = sorted({n for found in values.values() for n in found} | set(query.metrics),
                   key=str.lower)
    base = page.url(f"/experiments/{quote(name, safe='')}")
    return _render(page, "runs.html", experiment=experiment, rows=rows, query=query, base=base,
                  values=values, names=names, statuses=statuses, total=len(shown),
                  all_runs=len(runs), pages=pages, first=first, now=now, columns=COLUMNS,
                  max_compare=MAX_COMPARE, min_compare=MIN_COMPARE)


def _matches(run: RunRecord, text: str) -> bool:
    if not text:
        return True
    text = text.lower()
    haystack = [run.id, run.display_name or "", str(run.number)]
    for key, value in run.tags.items():
        haystack += [key, value, f"{key}={value}", f"{key}:{value}"]
    return any(text in part.lower() for part in haystack)


_SORT_KEYS = {
    "run": lambda r: (r.display_name or r.id).lower(),
    "status": lambda r: r.status,
    "type": lambda r: r.run_type,
    "created": lambda r: r.created_at,
    "duration": None,  # needs the time: see _sorted
    "tags": lambda r: json.dumps(r.tags, sort_keys=True).lower() if r.tags else None,
}


def _sorted(runs: list[RunRecord], key: Any, descending: bool, now: float) -> list[RunRecord]:
    """Sorted by ``key``; runs without a value (or NaN) come last either way, newest first."""
    if key is None:
        key = (lambda r: duration_of(r, now))  # noqa: E731
    keyed = [(key(r), r) for r in runs]
    present = [(k, r) for k, r in keyed if k is not None and k == k]
    missing = [r for k, r in keyed if k is None or k != k]
    # Ties keep the newest first whatever the order.
    present.sort(key=lambda kr: (kr[1].created_at, kr[1].number), reverse=True)
    present.sort(key=lambda kr: kr[0], reverse=descending)
    return [r for _, r in present] + missing


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


def _api(page: Page, path: str) -> str:
    return f"/api/v1/workspaces/{quote(page.workspace.name, safe='')}{path}"


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


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


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


# -- HyperDrive -------------------------------------------------------------------------------


def _hyperdrive(page: Page, run: RunRecord, children: list[RunRecord]) -> dict[str, Any]:
    """The sweep's children by their best primary metric (as ``HyperDriveRun``'s
    ``get_children_sorted_by_primary_metric``), and its parallel coordinates."""
    sweep = (run.definition or {}).get("hyperdrive") or {}
    metric = sweep.get("primary_metric_name")
    goal = sweep.get("goal")
    if not metric:
        config = _json(run.properties.get("primary_metric_config"), {})
        metric, goal = config.get("name"), goal or config.get("goal")
    maximize = str(goal or "maximize").lower() == "maximize"
    rows = []
    for child in children:
        params = _json(child.tags.get(HYPERPARAMETERS), {})
        numbers = [p.value for p in page.store.get_metrics(child.id, metric)
                   if _is_number(p.value) and p.value == p.value] if metric else []
        best = (max(numbers) if maximize else min(numbers)) if numbers else None
        rows.append({"run": child, "params": params if isinstance(params, dict) else {},
                     "metric": best,
                     "terminated_by": child.properties.get("plinth.terminatedBy")})
    rows.sort(key=lambda r: _child_index(r["run"].id))
    scored = [r for r in rows if r["metric"] is not None]
    scored.sort(key=lambda r: r["metric"], reverse=maximize)
    rows = scored + [r for r in rows if r["metric"] is None]
    # The driver names the best run when the sweep ends; until then, the best so far.
    best = next((r for r in rows if r["run"].id == run.properties.get("best_child_run_id")),
                None)
    if best is None:
        best = next((r for r in scored if r["run"].status == "Completed"),
                    scored[0] if scored else None)
    best_id = best["run"].id if best else None
    params = list(dict.fromkeys(k for r in rows for k in r["params"]))
    run_url = lambda r: page.url(f"/runs/{quote(r, safe='')}")  # noqa: E731
    return {"metric": metric, "goal": "maximize" if maximize else "minimize", "rows": rows,
            "params": params, "best": best, "sweep": sweep,
            "chart": parallel_coordinates(rows, params, metric, maximize, best_id, run_url)}


def _child_index(run_id: str) -> int:
    tail = run_id.rpartition("_")[2]
    return int(tail) if tail.isdigit() else -1


def _json(text: str | None, default: Any) -> Any:
    if not text:
        return default
    try:
        return json.loads(text)
    except ValueError:
        return default


PC_WIDTH, PC_HEIGHT, PC_TOP, PC_BOTTOM, PC_SIDE = 1100, 380, 46, 40, 90
#: Worst to best: orange, lavender, blue (a scale that colour-blind readers can follow).
SCALE = ((230, 97, 1), (153, 142, 195), (11, 92, 173))


def parallel_coordinates(rows: list[dict[str, Any]], params: list[str], metric: str | None,
                         maximize: bool, best_id: str | None, url_of: Any) -> dict[str, Any]:
    """Geometry of a parallel-coordinates chart: an axis per hyperparameter and one for the
    metric, a polyline per child coloured from worst (red) to best (green)."""
    names = [*params, *([metric] if metric else [])]
    if not rows or not names:
        return {"axes": [], "lines": [], "width": PC_WIDTH, "height": PC_HEIGHT}
    span = PC_HEIGHT - PC_TOP - PC_BOTTOM
    step = (PC_WIDTH - 2 * PC_SIDE) / max(1, len(names) - 1)
    axes, scales = [], []
    for i, name in enumerate(names):
        is_metric = metric is not None and i == len(names) - 1
        values = [r["metric"] if is_metric else r["params"].get(name) for r in rows]
        scale = _axis_scale(values)
        scales.append(scale)
        x = PC_SIDE + i * step if len(names) > 1 else PC_WIDTH / 2
        ticks = [{"y": PC_TOP + (1 - t) * span, "text": text} for t, text in scale["ticks"]]
        last = i == len(names) - 1 and len(names) > 1
        axes.append({"x": x, "label": name, "ticks": ticks, "metric": is_metric,
                     "log": scale["log"], "anchor": "start" if last else "end",
                     "tick_x": x + 6 if last else x - 6,
                     "label_anchor": "end" if last else ("start" if i == 0 else "middle"),
                     "label_x": x + 10 if last else (x - 10 if i == 0 else x)})
    metric_values = [r["metric"] for r in rows if r["metric"] is not None]
    low, high = (min(metric_values), max(metric_values)) if metric_values else (0.0, 0.0)
    lines = []
    for row in rows:
        points = []
        for axis, scale, name in zip(axes, scales, names, strict=True):
            value = row["metric"] if axis["metric"] else row["params"].get(name)
            t = scale["at"](value)
            if t is not None:
                points.append(f"{axis['x']:.1f},{PC_TOP + (1 - t) * span:.1f}")
        if row["metric"] is None:
            colour = "#8c959f"
        else:
            good = (row["metric"] - low) / (high - low) if high > low else 1.0
            colour = _colour(good if maximize else 1 - good)
        run = row["run"]
        params_text = ", ".join(f"{k}={v}" for k, v in row["params"].items())
        lines.append({"points": " ".join(points), "colour": colour, "run_id": run.id,
                      "url": url_of(run.id), "best": run.id == best_id,
                      "metric": row["metric"], "scored": row["metric"] is not None,
                      "title": f"{run.id}: {params_text}; {metric} = "
                               f"{'none' if row['metric'] is None else row['metric']}"})
    lines.sort(key=lambda line: (line["best"], line["scored"]))  # the best on top
    return {"axes": axes, "lines": lines, "width": PC_WIDTH, "height": PC_HEIGHT,
            "top": PC_TOP, "bottom": PC_HEIGHT - PC_BOTTOM}


def _colour(good: float) -> str:
    """The colour of a line ``good`` (0 worst, 1 best) of the way along SCALE."""
    low, high, t = (SCALE[0], SCALE[1], good * 2) if good < 0.5 else (
        SCALE[1], SCALE[2], good * 2 - 1)
    return "#" + "".join(f"{round(a + (b - a) * t):02x}" for a, b in zip(low, high, strict=True))


def _axis_scale(values: list[Any]) -> dict[str, Any]:
    """Where each value sits on an axis (0 bottom, 1 top): numbers linearly (or on a log
    scale when they span more than two decades), anything else as evenly spaced
    categories."""
    present = [v for v in values if v is not None]
    numeric = present and all(_is_number(v) and math.isfinite(v) for v in present)
    if numeric:
        low, high = min(present), max(present)
        log = low > 0 and high / low >= 100
        f = math.log10 if log else float
        lo, hi = f(low), f(high)

        def at(value: Any) -> float | None:
            if not _is_number(value) or not math.isfinite(value) or (log and value <= 0):
                return None
            return 0.5 if hi == lo else (f(value) - lo) / (hi - lo)

        ticks = [(at(low), _short(low)), (at(high), _short(high))] if hi != lo else [
            (0.5, _short(low))]
        if hi != lo:
            middle = 10 ** ((lo + hi) / 2) if log else low + (high - low) / 2
            ticks.insert(1, (0.5, _short(middle)))
        return {"at": at, "ticks": ticks, "log": log}
    categories = sorted({_short(v) for v in present}, key=_natural)
    spots = {c: (i + 0.5) / len(categories) for i, c in enumerate(categories)}
    return {"at": lambda v: None if v is None else spots.get(_short(v)),
            "ticks": [(t, c) for c, t in spots.items()], "log": False}


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _natural(text: str) -> tuple[int, float | str]:
    try:
        return (0, float(text))
    except ValueError:
        return (1, text)


# -- AutoML -----------------------------------------------------------------------------------


def _automl(page: Page, run: RunRecord, children: list[RunRecord]) -> dict[str, Any]:
    """The leaderboard (each iteration's last primary metric, as ``AutoMLRun``'s), the data
    guardrails and featurization summary of the setup run, and the model explanation."""
    settings = ((run.definition or {}).get("automl") or {}).get("settings") or {}
    metric = settings.get("primary_metric") or run.properties.get("primary_metric")
    maximize = str(settings.get("goal") or "maximize").lower() == "maximize"
    iterations = [c for c in children if str(c.tags.get("iteration", "")).isdigit()]
    scores = page.store.latest_metrics([c.id for c in iterations], [metric]) if metric else {}
    rows = [{"run": c, "iteration": int(c.tags["iteration"]),
             "algorithm": c.tags.get("run_algorithm", ""),
             "score": scores.get(c.id, {}).get(metric)} for c in iterations]
    rows.sort(key=lambda r: r["iteration"])
    ranked = [r for r in rows if r["score"] is not None and r["score"] == r["score"]
              and r["run"].status == "Completed"]
    ranked.sort(key=lambda r: r["score"], reverse=maximize)
    rest = [r for r in rows if r not in ranked]
    arts = page.state.artifacts(page.workspace.name)
    setup = _artifact_json(arts, f"runs/{run.id}_setup/outputs/setup.json") or {}
    explain_id = run.properties.get("model_explain_run_id") or f"{run.id}_explain"
    importance = _artifact_json(arts, f"runs/{explain_id}/outputs/feature_importance.json")
    features = []
    for kind in ("raw", "engineered"):
        values = (importance or {}).get(kind)
        if isinstance(values, Mapping) and values:
            top = max((abs(v) for v in values.values() if _is_number(v)), default=0) or 1
            features.append({"kind": kind, "rows": [
                {"name": k, "value": v, "percent": max(0.0, 100 * v / top)
                 if _is_number(v) else 0}
                for k, v in sorted(values.items(), key=lambda kv: -(kv[1] if _is_number(kv[1])
                                                                    else 0))]})
    best_id = run.properties.get("best_child_run_id") or (ranked[0]["run"].id if ranked
                                                         else None)
    return {"metric": metric, "goal": "maximize" if maximize else "minimize",
            "task": settings.get("task") or run.properties.get("task"),
            "ranked": ranked, "rest": rest, "best_id": best_id,
            "guardrails": setup.get("guardrails") or [],
            "featurization": setup.get("featurization_summary") or [],
            "setup": setup, "setup_id": f"{run.id}_setup", "features": features,
            "explain_id": explain_id if importance else None}


def _artifact_json(arts: Any, name: str) -> Any:
    try:
        if not arts.exists(name):
            return None
        return json.loads(arts.read_bytes(name))
    except (ValueError, NotFoundError):
        return None


# -- pipelines --------------------------------------------------------------------------------

NODE_W, NODE_H, GAP_X, GAP_Y, MARGIN = 210, 58, 36, 64, 16


def pipeline_graph(page: Page, run: RunRecord, children: Sequence[RunRecord]
                   ) -> dict[str, Any]:
    """The pipeline's steps laid out in layers (a step one below the longest chain of steps
    it waits for), each with its step run's status and reuse, and the edges between them:
    data one step writes and another reads, and ``run_after``."""
    steps = [s for s in ((run.definition or {}).get("pipeline") or {}).get("steps") or []
             if isinstance(s, Mapping) and "key" in s]
    by_key: dict[str, RunRecord] = {}
    for child in sorted(children, key=lambda c: (c.created_at, c.number)):
        key = child.properties.get("azureml.nodeid") or (
            ((child.definition or {}).get("pipeline_step") or {}).get("key"))
        if key:
            by_key[key] = child
    if not steps:  # no graph recorded: the step runs themselves, in one layer
        steps = [{"key": k, "name": c.display_name or c.id} for k, c in by_key.items()]
    keys = [s["key"] for s in steps]
    producers = {o.get("data_id"): s["key"] for s in steps for o in s.get("outputs") or []}
    edges = []
    for step in steps:
        for port in step.get("port_inputs") or []:
            source = producers.get(port.get("data_id"))
            if source is not None and source != step["key"]:
                edges.append((source, step["key"], "data", port.get("data_name") or ""))
        for before in step.get("after") or []:
            if before in keys and before != step["key"]:
                edges.append((before, step["key"], "after", ""))
    waits: dict[str, set[str]] = {k: set() for k in keys}
    for source, target, _, _ in edges:
        waits[target].add(source)
    layer = _layers(keys, waits)
    rows: dict[int, list[str]] = {}
    for key in keys:
        rows.setdefault(layer[key], []).append(key)
    # One pass of barycentres: a step below the average place of the steps it waits for.
    place: dict[str, float] = {}
    for depth in sorted(rows):
        if depth > 0:
            rows[depth].sort(key=lambda k: (
                sum(place[w] for w in waits[k]) / len(waits[k]) if waits[k] else math.inf))
        for i, key in enumerate(rows[depth]):
            place[key] = i
    widest = max((len(r) for r in rows.values()), default=1)
    width = 2 * MARGIN + widest * NODE_W + (widest - 1) * GAP_X
    height = 2 * MARGIN + len(rows) * NODE_H + max(0, len(rows) - 1) * GAP_Y
    names = {s["key"]: str(s.get("name") or s["key"]) for s in steps}
    nodes, at = [], {}
    for depth, row in sorted(rows.items()):
        offset = (width - (len(row) * NODE_W + (len(row) - 1) * GAP_X)) / 2
        for i, key in enumerate(row):
            x, y = offset + i * (NODE_W + GAP_X), MARGIN + depth * (NODE_H + GAP_Y)
            at[key] = (x, y)
            child = by_key.get(key)
            reused = bool(child and child.properties.get("azureml.isreused") == "true")
            name = names[key]
            nodes.append({
                "key": key, "name": name, "x": x, "y": y,
                "label": name if len(name) <= 26 else name[:25] + "…",
                "status": child.status if child else "NotStarted", "reused": reused,
                "run_id": child.id if child else None,
                "url": page.url(f"/runs/{quote(child.id, safe='')}") if child else None,
                "duration": duration_of(child) if child else None})
    lines = []
    for source, target, kind, label in edges:
        (x1, y1), (x2, y2) = at[source], at[target]
        x1, y1, x2, y2 = x1 + NODE_W / 2, y1 + NODE_H, x2 + NODE_W / 2, y2
        bend = max(24.0, (y2 - y1) / 2)
        lines.append({"source": names[source], "target": names[target], "kind": kind,
                      "label": label, "lx": (x1 + x2) / 2, "ly": (y1 + y2) / 2,
                      "d": f"M{x1:.1f},{y1:.1f} C{x1:.1f},{y1 + bend:.1f} "
                           f"{x2:.1f},{y2 - bend:.1f} {x2:.1f},{y2 - 6:.1f}"})
    return {"nodes": nodes, "edges": lines, "width": width, "height": height,
            "node_w": NODE_W, "node_h": NODE_H,
            "graph_url": page.url(f"/runs/{quote(run.id, safe='')}/graph")}


def _layers(keys: list[str], waits: dict[str, set[str]]) -> dict[str, int]:
    """Each step's layer: 0 for a step that waits for none, else one more than the deepest
    step it waits for (the longest path to it)."""
    try:
        ordered = list(TopologicalSorter(waits).static_order())
    except CycleError:  # not a pipeline the SDK would run: one layer per step, in order
        return {k: i for i, k in enumerate(keys)}
    layer: dict[str, int] = {}
    for key in ordered:
        layer[key] = 1 + max((layer[w] for w in waits[key]), default=-1)
    return layer


# -- comparing runs ---------------------------------------------------------------------------


@router.get("/w/{workspace}/compare")
def compare(request: Request, workspace: str) -> Response:
    """2 to 20 runs side by side: their metrics overlaid and their parameters diffed."""
    page = page_context(request, workspace)
    run_ids = _names(request.query_params.getlist("runs"))
    if not MIN_COMPARE <= len(run_ids) <= MAX_COMPARE:
        message = (f"Pick between {MIN_COMPARE} and {MAX_COMPARE} runs to compare "
                   f"(got {len(run_ids)}): tick them in an experiment's runs table, or give "
                   "their ids as ?runs=a,b.")
        return _render(page, "compare.html", status_code=400, error=message, runs=[],
                      metrics=[], diff=[], only_diff=False)
    runs = [page.state.run_in(page.workspace, run_id) for run_id in run_ids]
    latest = page.store.latest_metrics(run_ids)
    metrics = sorted({n for values in latest.values() for n in values}, key=str.lower)
    only_diff = request.query_params.get("only_diff") in ("1", "true")
    diff = [row for row in _param_rows(runs) if row["differs"] or not only_diff]
    series = [{"id": r.id, "label": r.display_name or r.id,
               "api": _api(page, f"/runs/{quote(r.id, safe='')}/metrics"
                                 f"?max_points={CHART_POINTS}")} for r in runs]
    link = page.url("/compare") + "?" + urlencode({"runs": ",".join(run_ids)}, safe=",")
    return _render(page, "compare.html", error=None, runs=runs, metrics=metrics, latest=latest,
                  diff=diff, only_diff=only_diff, series=series, link=link,
                  durations={r.id: duration_of(r) for r in runs})


def _param_rows(runs: list[RunRecord]) -> list[dict[str, Any]]:
    """What set each run up, one row per setting: type, script, arguments, target, then
    hyperparameters, tags and properties by key."""
    def definition(run: RunRecord) -> dict[str, Any]:
        return run.definition or {}

    def text(value: Any) -> str | None:
        if value is None or value == [] or value == "":
            return None
        if isinstance(value, (list, tuple)):
            return " ".join(str(v) for v in value)
        return value if isinstance(value, str) else json.dumps(value, sort_keys=True)

    rows: list[tuple[str, str, list[str | None]]] = [
        ("run", "Type", [r.run_type for r in runs]),
        ("run", "Script", [text(definition(r).get("script")) for r in runs]),
        ("run", "Arguments", [text(definition(r).get("arguments")) for r in runs]),
        ("run", "Command", [text(definition(r).get("command")) for r in runs]),
        ("run", "Compute target", [text(definition(r).get("target")) for r in runs]),
    ]
    params = [_json(r.tags.get(HYPERPARAMETERS), {}) for r in runs]
    params = [p if isinstance(p, dict) else {} for p in params]
    for key in sorted({k for p in params for k in p}):
        rows.append(("hyperparameter", key, [text(p.get(key)) for p in params]))
    for group, attr in (("tag", "tags"), ("property", "properties")):
        keys = sorted({k for r in runs for k in getattr(r, attr)})
        for key in keys:
            if group == "tag" and key == HYPERPARAMETERS:
                continue
            rows.append((group, key, [getattr(r, attr).get(key) for r in runs]))
    return [{"group": group, "name": name, "cells": values,
             "differs": len({json.dumps(v) for v in values}) > 1}
            for group, name, values in rows
            if any(v is not None for v in values)]
