"""Experiments, an experiment's runs table, comparing runs.

URLs:

- ``/w/{ws}/experiments``: ``<table id="experiments">`` (``?archived=1`` shows archived ones)
- ``/w/{ws}/experiments/{name}``: ``<table id="runs">``, one ``<tr data-run-id>`` per
  top-level run; ``?sort=<column>|metric:NAME&order=asc|desc&q=&status=&page=&per_page=
  &metrics=a,b``
- ``/w/{ws}/compare?runs=a,b,...`` (2 to 20 runs)

A run's own pages are in ``run_page``.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from plinth._server.auth import reader
from plinth._store import RunRecord
from plinth._studio.common import (
    CHART_POINTS,
    HYPERPARAMETERS,
    _api,
    _json,
    _render,
    duration_of,
    page_context,
)

__all__ = ["router"]

# Every route is under /w/{workspace}: the caller needs a role there, as on the REST API.
router = APIRouter(dependencies=[Depends(reader)])

PER_PAGE = 50
MAX_PER_PAGE = 500
#: Metric names for the runs table's picker come from this many of the newest runs.
PICKER_RUNS = 1000
MIN_COMPARE, MAX_COMPARE = 2, 20
COLUMNS = {"run": "Run", "status": "Status", "type": "Type", "created": "Created",
           "duration": "Duration", "tags": "Tags"}
DESCENDING_FIRST = {"created", "duration"}


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
