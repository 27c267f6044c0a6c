"""Helpers shared by the CLI commands: workspace options, errors, tables, JSON and times.

Nothing here imports the SDK (SQLAlchemy and friends) at module level, so ``plinth --help``
stays fast; the SDK is imported inside the functions that need it.
"""

from __future__ import annotations

import functools
import json
import math
import sys
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from plinth.exceptions import PlinthError

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from plinth.core import Run, Workspace

F = TypeVar("F", bound=Callable[..., Any])

CREATE_HINT = "Create one with `plinth workspace create NAME`."

# -- options shared by every command that needs a workspace --------------------------------

WorkspaceConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--workspace-config",
        help="A workspace config.json, or a folder to search for one (and above it).",
        show_default=False,
    ),
]
WorkspaceNameOpt = Annotated[
    str | None,
    typer.Option(
        "--workspace", "-w",
        help="Name of a workspace created on this machine (instead of a config).",
        show_default=False,
    ),
]
JsonOpt = Annotated[
    bool, typer.Option("--json", help="Print only JSON on stdout, for scripts.")
]


# -- output --------------------------------------------------------------------------------

def console() -> Console:
    """A rich console on the current stdout (looked up per call, so test runners work).

    Piped into another program (and without COLUMNS), tables get 160 columns rather than
    rich's 80, so rows stay on one line for grep and friends.
    """
    import os

    from rich.console import Console

    width = None
    if not os.environ.get("COLUMNS") and not (hasattr(sys.stdout, "isatty")
                                              and sys.stdout.isatty()):
        width = 160
    return Console(file=sys.stdout, highlight=False, width=width)


def err_console() -> Console:
    from rich.console import Console

    return Console(file=sys.stderr, highlight=False)


def new_table(*columns: str, title: str | None = None, **kwargs: Any) -> Table:
    """A table with a header rule; ``add_column`` on it keeps headers on one line."""
    from rich import box
    from rich.table import Table

    class _Table(Table):
        def add_column(self, header: Any = "", *args: Any, **kw: Any) -> None:
            if isinstance(header, str):
                kw["min_width"] = max(kw.get("min_width") or 0, len(header))
            super().add_column(header, *args, **kw)

    kwargs.setdefault("pad_edge", False)
    kwargs.setdefault("padding", (0, 2, 0, 0))
    table = _Table(title=title, box=box.SIMPLE_HEAD, title_justify="left",
                   title_style="bold", show_edge=False, **kwargs)
    for column in columns:
        table.add_column(column)
    return table


def key_value_table(rows: Iterable[tuple[str, Any]], title: str | None = None) -> Table:
    from rich import box
    from rich.table import Table

    table = Table(title=title, box=box.SIMPLE, show_header=False, title_justify="left",
                  title_style="bold")
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    for key, value in rows:
        table.add_row(key, value if _is_renderable(value) else _text(value))
    return table


def _is_renderable(value: Any) -> bool:
    from rich.text import Text

    return isinstance(value, Text)


def _text(value: Any) -> Any:
    from rich.text import Text

    return Text("-" if value is None or value == "" else str(value))


def print_json(data: Any) -> None:
    """JSON, and nothing else, on stdout."""
    sys.stdout.write(json.dumps(data, indent=2, default=str, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print ``message`` in red on stderr and exit with ``code`` (raise the result)."""
    from rich.text import Text

    err_console().print(Text(f"Error: {message}", style="bold red"), soft_wrap=True)
    return typer.Exit(code)


def note(message: str, style: str = "dim") -> None:
    """A human remark on stderr, so it never mixes with what scripts read on stdout."""
    from rich.text import Text

    err_console().print(Text(message, style=style), soft_wrap=True)


def handle_errors(func: F) -> F:
    """Turn Plinth's errors (and an unreachable database) into a red line and exit code 1."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except PlinthError as exc:
            raise fail(str(exc)) from None
        except KeyboardInterrupt:
            note("Interrupted.", style="yellow")
            raise typer.Exit(130) from None
        except Exception as exc:
            if type(exc).__module__.split(".")[0] == "sqlalchemy":
                # The store does not wrap driver errors (e.g. PostgreSQL down) in StoreError.
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
                raise fail(f"The workspace's metadata store failed: {first}") from None
            raise

    return wrapper  # type: ignore[return-value]


# -- workspaces ----------------------------------------------------------------------------

def open_workspace(config: Path | None, name: str | None) -> Workspace:
    """The workspace named by ``--workspace``, else by ``--workspace-config``, else by the
    config found from the current folder upwards."""
    from plinth.core import Workspace
    from plinth.exceptions import NotFoundError, WorkspaceException

    if config is not None and name is not None:
        raise fail("Pass either --workspace-config or --workspace, not both.", code=2)
    try:
        if name is not None:
            return Workspace.get(name)
        if config is not None:
            if not config.expanduser().exists():
                raise WorkspaceException(
                    f"--workspace-config {config} does not exist. {CREATE_HINT}"
                )
            return Workspace.from_config(config)
        return Workspace.from_config()
    except (NotFoundError, WorkspaceException) as exc:
        message = str(exc)
        if "plinth workspace create" not in message:
            message = f"{message} {CREATE_HINT}"
        raise fail(message) from None


def get_run(ws: Workspace, run_id: str) -> Run:
    """``Run.get``, refusing a run of another workspace that shares the same database."""
    from plinth.core import Experiment, Run
    from plinth.exceptions import NotFoundError

    run = Run.get(ws, run_id)
    exp = run.experiment
    if not any(e.id == exp.id for e in Experiment.list(ws, exp.name, view_type="All")):
        raise NotFoundError(f"No run with id {run_id!r} in workspace {ws.name!r}.")
    return run


# -- values --------------------------------------------------------------------------------

def to_datetime(value: Any) -> datetime | None:
    """A datetime (local time zone) from an ISO string, epoch seconds or a datetime."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, (int, float)):
        dt = datetime.fromtimestamp(value, tz=UTC)
    else:
        dt = datetime.fromisoformat(str(value))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone()


def local_time(value: Any, seconds: bool = True) -> str:
    """``2024-05-01 14:03:07`` (or without seconds) in the local time zone, or ``-``."""
    dt = to_datetime(value)
    return "-" if dt is None else dt.strftime("%Y-%m-%d %H:%M:%S" if seconds else
                                              "%Y-%m-%d %H:%M")


def local_iso(value: Any) -> str | None:
    """ISO 8601 in the local time zone, with its UTC offset (for --json)."""
    dt = to_datetime(value)
    return None if dt is None else dt.isoformat()


def duration_seconds(start: Any, end: Any) -> float | None:
    begin = to_datetime(start)
    if begin is None:
        return None
    finish = to_datetime(end) or datetime.now(UTC)
    return round(max((finish - begin).total_seconds(), 0.0), 3)


def human_duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m {secs:02d}s"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


STATUS_STYLES = {
    "Completed": "green",
    "Failed": "red",
    "Canceled": "yellow",
    "CancelRequested": "yellow",
    "Running": "cyan",
    "Finalizing": "cyan",
    "Preparing": "blue",
    "Starting": "blue",
    "Queued": "blue",
    "NotStarted": "dim",
}


def status_text(status: str) -> Any:
    from rich.text import Text

    return Text(status, style=STATUS_STYLES.get(status, ""))


def short(value: Any, width: int = 60) -> str:
    """A one-line rendering of a metric, tag or property value."""
    if isinstance(value, float):
        text = repr(value) if math.isfinite(value) else str(value)
    elif isinstance(value, str):
        text = value
    elif isinstance(value, list):
        shown = ", ".join(short(v, 12) for v in value[-5:])
        text = f"[{'…, ' if len(value) > 5 else ''}{shown}] ({len(value)} values)"
    else:
        text = json.dumps(value, default=str, separators=(",", ":"))
    return text if len(text) <= width else text[: width - 1] + "…"


def mapping_text(values: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v}" if v != "" else k for k, v in values.items()) or "-"


def parse_pairs(pairs: list[str] | None, option: str) -> dict[str, str]:
    """``["k=v", "flag"]`` -> ``{"k": "v", "flag": ""}``; a bad pair exits with code 2."""
    out: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not key.strip():
            raise fail(f"{option} {pair!r}: use KEY=VALUE (or KEY for an empty value).", code=2)
        out[key.strip()] = value if sep else ""
    return out
