"""What a HyperDrive sweep's and an AutoML run's overview shows: the children by their
primary metric, a parallel-coordinates chart, the leaderboard and explanations."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from plinth._store import RunRecord
from plinth._studio.common import HYPERPARAMETERS, Page, _is_number, _json
from plinth._tuning.driver import child_index
from plinth.exceptions import NotFoundError

__all__ = ["parallel_coordinates"]


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
    rows.sort(key=lambda r: child_index(r["run"].id))
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
