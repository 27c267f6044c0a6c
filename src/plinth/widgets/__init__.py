"""``RunDetails``: azureml's notebook widget (``azureml.widgets.RunDetails``) for a run.

``RunDetails(run).show()`` in Jupyter (an IPython kernel) displays an HTML summary of the
run - its status, times, latest metric values, and for a HyperDrive sweep, an AutoML
experiment or a pipeline run a table of its trials, iterations or steps - and keeps that
display up to date from a background thread until the run ends. Anywhere else (a script, a
terminal) it prints the same summary once, as a table. No ipywidgets: the display is plain
HTML, updated in place with ``IPython.display``'s display handle.

``get_widget_data()`` returns the dict both are built from.
"""

from __future__ import annotations

import html
import math
import os
import sys
import threading
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from plinth._store import TERMINAL_STATUSES
from plinth.exceptions import UserErrorException

__all__ = ["RunDetails"]

#: Seconds between two refreshes of a notebook display, by default.
REFRESH_INTERVAL = 3.0
#: The most child rows a display shows (the data holds them all).
MAX_ROWS = 100

_PIPELINE = "azureml.PipelineRun"


class RunDetails:
    """The details of ``run_instance`` (any run of a workspace: a script run, an interactive
    run, a HyperDrive, AutoML or pipeline run, or one of their children).

    ``refresh_interval``: seconds between two updates of a notebook display (a Plinth
    addition; azureml's widget takes none)."""

    def __init__(self, run_instance: Any, refresh_interval: float = REFRESH_INTERVAL):
        if not hasattr(run_instance, "_refresh") or getattr(run_instance, "experiment",
                                                            None) is None:
            raise UserErrorException(
                "RunDetails needs a run of a workspace (from experiment.submit(...), "
                "experiment.start_logging() or Run.get(ws, run_id)); an offline run from "
                "Run.get_context() outside a submitted run has nothing to show.")
        self.run_instance = run_instance
        self.refresh_interval = max(float(refresh_interval), 0.01)
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    # -- the data --------------------------------------------------------------------------

    def get_widget_data(self, widget_settings: Any = None) -> dict[str, Any]:
        """What the display shows, as plain data: ``run_id``, ``display_name``,
        ``experiment``, ``workspace``, ``type``, ``kind`` (``run``, ``hyperdrive``,
        ``automl`` or ``pipeline``), ``status``, ``is_terminal``, ``created_utc``,
        ``start_time_utc``, ``end_time_utc`` (ISO 8601), ``duration_seconds``, ``duration``
        (text), ``error`` (a message or None), ``metrics`` (name -> latest value),
        ``primary_metric``, ``goal``, ``best`` (``{"run_id", "value"}`` or None),
        ``children`` (rows), ``url`` (the run's Studio page, or None) and ``refreshed_utc``."""
        from plinth.core.run import _RUN_CLASSES, Run

        run = self.run_instance
        run.flush()
        record = run._refresh()
        if type(run) is Run and record.run_type in _RUN_CLASSES:
            run = Run._from_record(run.experiment, record)  # Run(exp, id) of a sweep, say
        kind = {"hyperdrive": "hyperdrive", "automl": "automl",
                _PIPELINE: "pipeline"}.get(record.run_type, "run")
        now = time.time()
        data: dict[str, Any] = {
            "run_id": record.id,
            "display_name": record.display_name or record.id,
            "experiment": record.experiment_name,
            "workspace": run.experiment.workspace.name,
            "type": record.run_type,
            "kind": kind,
            "status": record.status,
            "is_terminal": record.status in TERMINAL_STATUSES,
            "created_utc": _iso(record.created_at),
            "start_time_utc": _iso(record.start_time),
            "end_time_utc": _iso(record.end_time),
            "duration_seconds": _seconds(record, now),
            "duration": _duration(_seconds(record, now)),
            "error": (record.error or {}).get("message"),
            # The run's own metrics (a sweep's get_metrics() gives its children's instead).
            "metrics": {name: _latest(value)
                        for name, value in Run.get_metrics(run).items()},
            "primary_metric": None,
            "goal": None,
            "best": None,
            "children": [],
            "url": _studio_url(run.experiment.workspace, record.id),
            "refreshed_utc": _iso(now),
        }
        children = {child.id: child._record for child in run.get_children()}
        if kind == "hyperdrive":
            _hyperdrive(run, data, children, now)
        elif kind == "automl":
            _automl(run, data, children, now)
        else:
            rows = sorted(children.values(), key=lambda r: (r.created_at, r.number))
            data["children"] = [_child_row(r, now) for r in rows]
            if kind == "pipeline":
                for row, child in zip(data["children"], rows, strict=True):
                    row["reused"] = child.properties.get("azureml.isreused") == "true"
        return data

    # -- showing it ------------------------------------------------------------------------

    def show(self, render_lib: Any = None, widget_settings: Any = None) -> None:
        """In Jupyter: display the run's details and keep them up to date until the run
        ends. Elsewhere: print them once."""
        data = self.get_widget_data()
        if not _in_kernel():
            _print_table(data)
            return None
        from IPython.display import HTML, display

        handle = display(HTML(render_html(data, self.refresh_interval)), display_id=True)
        if handle is None or data["is_terminal"]:
            return None
        self._stop.clear()
        self._thread = threading.Thread(target=self._keep_updating, args=(handle, HTML),
                                        name=f"RunDetails-{data['run_id']}", daemon=True)
        self._thread.start()
        return None

    def _keep_updating(self, handle: Any, html_type: Any) -> None:
        failures = 0
        while not self._stop.wait(self.refresh_interval):
            try:
                data = self.get_widget_data()
            except Exception:  # noqa: BLE001 - a display must not raise in a thread
                failures += 1
                if failures >= 5:  # the workspace went away, say: stop quietly
                    return
                continue
            failures = 0
            try:
                handle.update(html_type(render_html(data, self.refresh_interval)))
            except Exception:  # noqa: BLE001 - the display is gone (kernel restarted)
                return
            if data["is_terminal"]:
                return  # that was the final update

    def _stop_updates(self, timeout: float | None = None) -> None:
        """Stop refreshing a notebook display (and wait for the thread to end)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def __repr__(self) -> str:
        return f"RunDetails(run_id={self.run_instance.id!r})"


# -- gathering ---------------------------------------------------------------------------


def _hyperdrive(run: Any, data: dict[str, Any], children: dict[str, Any], now: float) -> None:
    data["primary_metric"] = run.primary_metric_name or None
    data["goal"] = run.primary_metric_goal.lower()
    rows = []
    for found in run.get_children_sorted_by_primary_metric():
        record = children.get(found["run_id"])
        row = _child_row(record, now) if record else {"run_id": found["run_id"],
                                                      "name": found["run_id"]}
        row.update(status=found["status"], metric=found["best_primary_metric"],
                   hyperparameters=found["hyperparameters"])
        rows.append(row)
    data["children"] = rows
    if rows and rows[0]["metric"] is not None:
        data["best"] = {"run_id": rows[0]["run_id"], "value": rows[0]["metric"]}


def _automl(run: Any, data: dict[str, Any], children: dict[str, Any], now: float) -> None:
    metric = run.primary_metric or None
    data["primary_metric"] = metric
    leaderboard: list[dict[str, Any]] = []
    if metric:
        try:
            from plinth._automl.metrics import goal

            data["goal"] = goal(metric)
            leaderboard = run.get_leaderboard()
        except Exception:  # noqa: BLE001 - an unknown metric: show the iterations unscored
            leaderboard = []
    scores = {row["run_id"]: row["score"] for row in leaderboard}
    iterations = sorted((r for r in children.values() if "iteration" in r.tags),
                        key=lambda r: int(r.tags["iteration"]))
    rows = []
    for record in iterations:
        row = _child_row(record, now)
        row.update(iteration=int(record.tags["iteration"]),
                   algorithm=record.tags.get("run_algorithm", ""),
                   metric=scores.get(record.id))
        rows.append(row)
    data["children"] = rows
    if leaderboard:
        data["best"] = {"run_id": leaderboard[0]["run_id"], "value": leaderboard[0]["score"]}


def _child_row(record: Any, now: float) -> dict[str, Any]:
    seconds = _seconds(record, now)
    return {"run_id": record.id, "name": record.display_name or record.id,
            "status": record.status, "duration_seconds": seconds,
            "duration": _duration(seconds)}


def _seconds(record: Any, now: float) -> float | None:
    if record.start_time is None:
        return None
    end = record.end_time if record.end_time is not None else now
    return max(end - record.start_time, 0.0)


def _latest(value: Any) -> Any:
    """One value to show for a metric: a series' last value; a table's shape."""
    if isinstance(value, list):
        if not value:
            return None
        value = value[-1]
    if isinstance(value, dict):
        if value and all(isinstance(v, list) for v in value.values()):
            rows = max(len(v) for v in value.values())
            return f"table: {', '.join(map(str, value))} ({rows} row{'s' * (rows != 1)})"
        return "{" + ", ".join(map(str, value)) + "}"
    if isinstance(value, list):
        return f"list of {len(value)}"
    return value


def _studio_url(workspace: Any, run_id: str) -> str | None:
    """The run's Studio page on the server the workspace is on (an embedded workspace's:
    the server ``PLINTH_STUDIO_URL`` names); None when there is none."""
    base = workspace._location.server_url or os.environ.get("PLINTH_STUDIO_URL")
    if not base:
        return None
    return (f"{base.rstrip('/')}/w/{quote(workspace.name, safe='')}"
            f"/runs/{quote(run_id, safe='')}")


def _in_kernel() -> bool:
    """Whether this is a Jupyter kernel: IPython is loaded and its shell has a kernel."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    try:
        shell = ipython.get_ipython()
    except Exception:  # noqa: BLE001 - an IPython we do not understand: print instead
        return False
    return shell is not None and getattr(shell, "kernel", None) is not None


# -- rendering ---------------------------------------------------------------------------


def _iso(epoch: float | None) -> str | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, tz=UTC).isoformat()


def _when(iso: str | None) -> str:
    if not iso:
        return ""
    return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M:%S UTC")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m {secs:02d}s"


def _value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and math.isfinite(value):
        return f"{value:.6g}"
    return str(value)


def _params(values: Any) -> str:
    if not isinstance(values, dict):
        return ""
    return ", ".join(f"{k}={_value(v)}" for k, v in values.items())


_COLORS = {"Completed": "#1a7f37", "Failed": "#cf222e", "Canceled": "#6e7781",
           "CancelRequested": "#6e7781", "Running": "#0969da", "Finalizing": "#0969da"}


def _badge(status: str) -> str:
    color = _COLORS.get(status, "#9a6700")
    return (f'<span class="prd-status" data-status="{html.escape(status)}" '
            f'style="background:{color}">{html.escape(status)}</span>')


_STYLE = """<style>
.prd{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;font-size:13px;line-height:1.4}
.prd h3{font-size:15px;margin:0 0 6px}
.prd h4{font-size:13px;margin:10px 0 4px}
.prd table{border-collapse:collapse;margin:0}
.prd th,.prd td{text-align:left;padding:2px 10px 2px 0;border-bottom:1px solid #d0d7de;
vertical-align:top}
.prd td.num{text-align:right;font-variant-numeric:tabular-nums}
.prd .prd-status{color:#fff;border-radius:10px;padding:1px 8px;font-size:12px;
font-weight:600;margin-left:6px}
.prd .prd-error{color:#cf222e;white-space:pre-wrap}
.prd .prd-note{color:#6e7781;font-size:12px;margin-top:6px}
</style>"""


def render_html(data: dict[str, Any], refresh_interval: float = REFRESH_INTERVAL) -> str:
    """The display's HTML for ``data`` (from ``get_widget_data``); every value is escaped."""
    e = html.escape
    out = [_STYLE, f'<div class="prd" data-run-id="{e(data["run_id"])}">',
           f'<h3>{e(data["display_name"])}{_badge(data["status"])}</h3>']
    if data["url"]:
        out.append(f'<p><a href="{e(data["url"])}" target="_blank" rel="noopener">'
                   "View this run in Plinth Studio</a></p>")
    facts = [("Run ID", data["run_id"]), ("Experiment", data["experiment"]),
             ("Type", data["type"]), ("Created", _when(data["created_utc"])),
             ("Started", _when(data["start_time_utc"])), ("Ended", _when(data["end_time_utc"])),
             ("Duration", data["duration"])]
    out.append("<table>" + "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>"
                                   for k, v in facts if v) + "</table>")
    if data["error"]:
        out.append(f'<p class="prd-error">{e(data["error"])}</p>')
    if data["metrics"]:
        out.append("<h4>Metrics</h4><table><tr><th>Name</th><th>Latest value</th></tr>")
        out.extend(f'<tr><td>{e(str(name))}</td><td class="num">{e(_value(value))}</td></tr>'
                   for name, value in data["metrics"].items())
        out.append("</table>")
    if data["children"]:
        out.append(_children_html(data))
    note = f"Updated {_when(data['refreshed_utc'])}"
    if not data["is_terminal"]:
        note += f"; refreshing every {refresh_interval:g} s until the run ends"
    out.append(f'<p class="prd-note">{e(note)}</p></div>')
    return "".join(out)


def _children_html(data: dict[str, Any]) -> str:
    e = html.escape
    kind, rows, metric = data["kind"], data["children"], data["primary_metric"] or ""
    goal = f" ({data['goal']})" if data["goal"] else ""
    if kind == "hyperdrive":
        title = f"Trials ({len(rows)}), best first by {metric}{goal}"
        head = ["Run", "Status", metric or "Primary metric", "Hyperparameters", "Duration"]
        cells = [[r["name"], r["status"], _value(r.get("metric")),
                  _params(r.get("hyperparameters")), r.get("duration", "")] for r in rows]
    elif kind == "automl":
        title = f"Iterations ({len(rows)}), scored by {metric}{goal}"
        head = ["Iteration", "Algorithm", "Status", metric or "Score", "Duration"]
        cells = [[str(r["iteration"]), r["algorithm"], r["status"], _value(r["metric"]),
                  r["duration"]] for r in rows]
    elif kind == "pipeline":
        title = f"Steps ({len(rows)})"
        head = ["Step", "Status", "Duration", "Reused"]
        cells = [[r["name"], r["status"], r["duration"], "yes" if r.get("reused") else ""]
                 for r in rows]
    else:
        title = f"Child runs ({len(rows)})"
        head = ["Run", "Status", "Duration"]
        cells = [[r["name"], r["status"], r["duration"]] for r in rows]
    best = (data["best"] or {}).get("run_id")
    out = [f"<h4>{e(title)}</h4><table><tr>" + "".join(f"<th>{e(h)}</th>" for h in head)
           + "</tr>"]
    for row, values in zip(rows[:MAX_ROWS], cells, strict=False):
        mark = ' style="font-weight:600"' if best and row["run_id"] == best else ""
        out.append(f'<tr data-run-id="{e(row["run_id"])}"{mark}>' + "".join(
            f"<td>{_badge(v) if h == 'Status' else e(str(v))}</td>"
            for h, v in zip(head, values, strict=True)) + "</tr>")
    out.append("</table>")
    if len(rows) > MAX_ROWS:
        out.append(f'<p class="prd-note">and {len(rows) - MAX_ROWS} more</p>')
    return "".join(out)


def _print_table(data: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    def t(value: Any) -> Text:  # plain text: a name like "[red]x" is no markup
        return Text(str(value))

    console = Console(highlight=False)
    summary = Table(title=t(f"Run {data['display_name']}"), show_header=False, title_justify="left")
    summary.add_column(style="bold")
    summary.add_column(overflow="fold")
    for key, value in [("Status", data["status"]), ("Run ID", data["run_id"]),
                       ("Experiment", data["experiment"]), ("Type", data["type"]),
                       ("Created", _when(data["created_utc"])),
                       ("Started", _when(data["start_time_utc"])),
                       ("Ended", _when(data["end_time_utc"])), ("Duration", data["duration"]),
                       ("Error", data["error"]), ("Studio", data["url"])]:
        if value:
            summary.add_row(key, t(value))
    console.print(summary)
    if data["metrics"]:
        metrics = Table(title="Metrics", title_justify="left")
        metrics.add_column("Name", overflow="fold")
        metrics.add_column("Latest value", justify="right", overflow="fold")
        for name, value in data["metrics"].items():
            metrics.add_row(t(name), t(_value(value)))
        console.print(metrics)
    if data["children"]:
        kind, metric = data["kind"], data["primary_metric"]
        title = {"hyperdrive": "Trials", "automl": "Iterations",
                 "pipeline": "Steps"}.get(kind, "Child runs")
        children = Table(title=t(f"{title} ({len(data['children'])})"), title_justify="left")
        columns = ["Iteration" if kind == "automl" else "Run", "Status", "Duration"]
        if kind in ("hyperdrive", "automl"):
            columns.insert(2, metric or "Primary metric")
        if kind == "automl":
            columns.insert(1, "Algorithm")
        for column in columns:
            children.add_column(t(column), overflow="fold")
        for row in data["children"][:MAX_ROWS]:
            name = f"{row['iteration']}" if kind == "automl" else row["name"]
            values = [name]
            if kind == "automl":
                values.append(row["algorithm"])
            values.append(row["status"])
            if kind in ("hyperdrive", "automl"):
                values.append(_value(row.get("metric")))
            values.append(row.get("duration", ""))
            children.add_row(*map(t, values))
        console.print(children)
        if len(data["children"]) > MAX_ROWS:
            console.print(t(f"and {len(data['children']) - MAX_ROWS} more"))
