"""The layout of a pipeline run's graph (a DAG of its steps, in layers) as SVG geometry."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from graphlib import CycleError, TopologicalSorter
from typing import Any
from urllib.parse import quote

from plinth._store import RunRecord
from plinth._studio.common import Page, duration_of

__all__ = ["pipeline_graph"]

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
