"""``plinth run ...``: list, inspect, follow, download, cancel and submit runs."""

import itertools
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from plinth.cli._common import (
    JsonOpt,
    WorkspaceConfigOpt,
    WorkspaceNameOpt,
    console,
    duration_seconds,
    fail,
    get_run,
    handle_errors,
    human_duration,
    key_value_table,
    local_iso,
    local_time,
    mapping_text,
    new_table,
    note,
    open_workspace,
    parse_pairs,
    print_json,
    short,
    status_text,
    to_datetime,
)

app = typer.Typer(help="Submit and inspect runs.", no_args_is_help=True)

DRIVER_LOG = "logs/driver.log"
TERMINAL = ("Completed", "Failed", "Canceled")

RunIdArg = Annotated[str, typer.Argument(help="The run's id (see `plinth run list`).")]


def _summary(run: Any) -> dict[str, Any]:
    """What `run list` shows of a run (times in local time, ISO 8601)."""
    d = run.get_details()
    return {
        "id": d["runId"],
        "number": d["runNumber"],
        "display_name": d["displayName"],
        "experiment": d["experimentName"],
        "type": d["type"],
        "status": d["status"],
        "target": d["target"],
        "created": local_iso(d["createdUtc"]),
        "started": local_iso(d["startTimeUtc"]),
        "ended": local_iso(d["endTimeUtc"]),
        "duration_seconds": duration_seconds(d["startTimeUtc"], d["endTimeUtc"]),
        "parent_id": d["parentRunId"],
        "tags": d["tags"],
        "_details": d,
    }


def _public(summary: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in summary.items() if not k.startswith("_")}


@app.command("list")
@handle_errors
def list_(
    experiment: Annotated[
        str | None,
        typer.Option("--experiment", "-e", help="Only the runs of this experiment.",
                     show_default=False),
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=1, help="Show at most this many runs.")
    ] = 20,
    workspace_config: WorkspaceConfigOpt = None,
    workspace: WorkspaceNameOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List runs, newest first."""
    from plinth.core import Experiment
    from plinth.exceptions import NotFoundError

    ws = open_workspace(workspace_config, workspace)
    if experiment is not None:
        experiments = Experiment.list(ws, experiment, view_type="All")
        if not experiments:
            raise NotFoundError(
                f"No experiment named {experiment!r} in workspace {ws.name!r}; "
                "`plinth experiment list` shows the experiments."
            )
    else:
        experiments = Experiment.list(ws)
    # Each experiment yields its runs newest first: its first `limit` are enough to merge.
    runs = [_summary(r) for exp in experiments for r in itertools.islice(exp.get_runs(), limit)]
    runs.sort(key=lambda r: (to_datetime(r["created"]).timestamp(), r["number"]), reverse=True)
    runs = runs[:limit]
    if as_json:
        print_json([_public(r) for r in runs])
        return
    if not runs:
        console().print("No runs yet. Submit one with `plinth run submit`.")
        return
    one_experiment = experiment is not None
    table = new_table()
    table.add_column("Run ID", no_wrap=True)
    if not one_experiment:
        table.add_column("Experiment", overflow="fold")
    table.add_column("Status", no_wrap=True)
    table.add_column("Created", no_wrap=True)
    table.add_column("Duration", no_wrap=True)
    table.add_column("Tags", overflow="fold")
    for r in runs:
        cells = [r["id"], r["experiment"], status_text(r["status"]),
                 local_time(r["created"], seconds=False), human_duration(r["duration_seconds"]),
                 mapping_text(r["tags"])]
        if one_experiment:
            del cells[1]
        table.add_row(*cells)
    console().print(table)


@app.command("show")
@handle_errors
def show(
    run_id: RunIdArg,
    workspace_config: WorkspaceConfigOpt = None,
    workspace: WorkspaceNameOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show a run: status, times, metrics, tags, properties, files and error; for a
    HyperDrive sweep also its children, best first, with their sampled values; for an AutoML
    run its leaderboard and data guardrails."""
    from plinth.core.run import Run
    from plinth.train.automl.run import AutoMLRun
    from plinth.train.hyperdrive.run import HyperDriveRun

    ws = open_workspace(workspace_config, workspace)
    run = get_run(ws, run_id)
    summary = _summary(run)
    details = summary.pop("_details")
    definition = details.get("runDefinition") or {}
    error = (details.get("error") or {}).get("error")
    info = {
        **summary,
        "script": definition.get("script"),
        "arguments": definition.get("arguments"),
        "properties": details["properties"],
        "metrics": Run.get_metrics(run),
        "files": run.get_file_names(),
        "error": error,
    }
    if isinstance(run, HyperDriveRun):
        info["primary_metric"] = {"name": run.primary_metric_name,
                                  "goal": run.primary_metric_goal}
        info["children"] = run.get_children_sorted_by_primary_metric()
    if isinstance(run, AutoMLRun):
        info["primary_metric"] = run.primary_metric
        info["leaderboard"] = run.get_leaderboard()
        info["guardrails"] = _guardrails(run)
    if as_json:
        print_json(info)
        return

    from rich.text import Text

    out = console()
    rows = [
        ("Run ID", info["id"]),
        ("Experiment", info["experiment"]),
        ("Status", status_text(info["status"])),
        ("Type", info["type"]),
        ("Target", info["target"]),
        ("Created", local_time(info["created"])),
        ("Started", local_time(info["started"])),
        ("Ended", local_time(info["ended"])),
        ("Duration", human_duration(info["duration_seconds"])),
    ]
    if info["display_name"] != info["id"]:
        rows.insert(2, ("Display name", info["display_name"]))
    if info["parent_id"]:
        rows.append(("Parent run", info["parent_id"]))
    if info["script"]:
        rows.append(("Script", " ".join([info["script"], *(info["arguments"] or [])])))
    if error:
        rows.append(("Error", Text(str(error.get("message", error)), style="red")))
    out.print(key_value_table(rows, title=f"Run {info['id']}"))

    for title, values in (("Metrics", info["metrics"]), ("Tags", info["tags"]),
                          ("Properties", info["properties"])):
        if not values:
            continue
        out.print()
        table = new_table(title=title)
        table.add_column("Name", overflow="fold")
        table.add_column("Value", overflow="fold")
        for key, value in values.items():
            table.add_row(key, short(value, 80))
        out.print(table)
    if info.get("children"):
        out.print()
        out.print(_children_table(info["children"], info["primary_metric"]))
    if info.get("leaderboard"):
        out.print()
        out.print(_leaderboard_table(info["leaderboard"], info["primary_metric"]))
    if info.get("guardrails"):
        out.print()
        table = new_table("Guardrail", "Status", "Description", title="Data guardrails")
        for row in info["guardrails"]:
            table.add_row(row["name"], row["status"], row["description"])
        out.print(table)
    out.print()
    if info["files"]:
        table = new_table(title="Files")
        table.add_column("Name", overflow="fold")
        for name in info["files"]:
            table.add_row(name)
        out.print(table)
    else:
        out.print("No files.")


@app.command("logs")
@handle_errors
def logs(
    run_id: RunIdArg,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep streaming the log until the run ends.")
    ] = False,
    workspace_config: WorkspaceConfigOpt = None,
    workspace: WorkspaceNameOpt = None,
) -> None:
    """Print the run's logs/driver.log (with --follow: stream it until the run ends)."""
    ws = open_workspace(workspace_config, workspace)
    run = get_run(ws, run_id)
    if follow:
        try:
            run.wait_for_completion(show_output=True, raise_on_error=False)
        except KeyboardInterrupt:
            note(f"Stopped following; run {run.id} goes on (`plinth run cancel {run.id}` "
                 "stops it).", style="yellow")
            raise typer.Exit(130) from None
        return
    text = run.get_details_with_logs()["logFiles"].get(DRIVER_LOG)
    if text is None:
        status = run.get_status()
        if status in TERMINAL:
            raise fail(f"Run {run.id} ({status}) has no {DRIVER_LOG}.")
        note(f"Run {run.id} is {status} and has no log yet; use --follow to wait for it.")
        return
    sys.stdout.write(text if text.endswith("\n") or not text else text + "\n")
    sys.stdout.flush()


@app.command("download")
@handle_errors
def download(
    run_id: RunIdArg,
    prefix: Annotated[
        str | None,
        typer.Option("--prefix", help="Only files whose name starts with this, e.g. outputs/.",
                     show_default=False),
    ] = None,
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Folder to download into.")
    ] = Path("."),
    workspace_config: WorkspaceConfigOpt = None,
    workspace: WorkspaceNameOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Download a run's files (all, or those under --prefix) into a folder."""
    ws = open_workspace(workspace_config, workspace)
    run = get_run(ws, run_id)
    written = run.download_files(prefix=prefix, output_directory=str(output))
    if not written:
        where = f" under {prefix!r}" if prefix else ""
        raise fail(f"Run {run.id} has no files{where}; `plinth run show {run.id}` lists them.")
    if as_json:
        print_json(written)
        return
    console().print(f"Downloaded {len(written)} file(s) to {output}:")
    for path in written:
        console().print(f"  {path}")


@app.command("cancel")
@handle_errors
def cancel(
    run_id: RunIdArg,
    wait: Annotated[
        bool, typer.Option("--wait", help="Wait until the run has stopped.")
    ] = False,
    workspace_config: WorkspaceConfigOpt = None,
    workspace: WorkspaceNameOpt = None,
) -> None:
    """Cancel a queued or running run."""
    ws = open_workspace(workspace_config, workspace)
    run = get_run(ws, run_id)
    status = run.get_status()
    if status in TERMINAL:
        raise fail(f"Run {run.id} has already ended ({status}); nothing to cancel.")
    run.cancel()
    if wait:
        run.wait_for_completion(raise_on_error=False)
    console().print(f"Run {run.id}: ", status_text(run.get_status()), sep="")


@app.command("submit")
@handle_errors
def submit(
    source_dir: Annotated[
        Path,
        typer.Option("--source-dir", "-d", help="Folder holding the script; it is snapshotted.",
                     exists=True, file_okay=False, dir_okay=True),
    ],
    script: Annotated[
        str, typer.Option("--script", "-s", help="Script to run, relative to --source-dir.")
    ],
    args: Annotated[
        list[str] | None,
        typer.Argument(help="Arguments for the script, after `--`.", show_default=False),
    ] = None,
    experiment: Annotated[
        str, typer.Option("--experiment", "-e", help="Experiment to run in (created if new).")
    ] = "default",
    tag: Annotated[
        list[str] | None,
        typer.Option("--tag", help="KEY=VALUE tag of the run; repeat for more.",
                     show_default=False),
    ] = None,
    wait: Annotated[
        bool,
        typer.Option("--wait/--no-wait", help="Stream the log until the run ends; exit 1 if "
                     "it did not complete."),
    ] = False,
    workspace_config: WorkspaceConfigOpt = None,
    workspace: WorkspaceNameOpt = None,
) -> None:
    """Submit a script as a run and print its id.

    Arguments after `--` go to the script:
    plinth run submit -d src -s train.py -- --lr 0.1
    """
    from plinth.core import Experiment, ScriptRunConfig

    tags = parse_pairs(tag, "--tag")
    ws = open_workspace(workspace_config, workspace)
    config = ScriptRunConfig(source_directory=str(source_dir), script=script,
                             arguments=list(args or []))
    run = Experiment(ws, experiment).submit(config, tags=tags)
    sys.stdout.write(run.id + "\n")
    sys.stdout.flush()
    if not wait:
        note(f"Follow it with `plinth run logs {run.id} --follow`.")
        return
    try:
        details = run.wait_for_completion(show_output=True, raise_on_error=False)
    except KeyboardInterrupt:
        note(f"Stopped following; run {run.id} goes on (`plinth run cancel {run.id}` "
             "stops it).", style="yellow")
        raise typer.Exit(130) from None
    if details["status"] != "Completed":
        error = (details.get("error") or {}).get("error") or {}
        message = error.get("message", "no error details")
        raise fail(f"Run {run.id} ended {details['status']}: {message}")


def _guardrails(run: Any) -> list[dict]:
    """An AutoML run's guardrails, or none before its setup has run."""
    from plinth.exceptions import UserErrorException

    try:
        return run.get_guardrails(to_console=False)
    except UserErrorException:
        return []


def _leaderboard_table(rows: list[dict], metric: str) -> Any:
    """An AutoML run's completed iterations, best first."""
    table = new_table("#", "Iteration", "Algorithm", metric, "Run",
                      title=f"Leaderboard by {metric}")
    for rank, row in enumerate(rows, 1):
        table.add_row(str(rank), str(row["iteration"]), row["algorithm"],
                      f"{row['score']:.6g}", row["run_id"])
    return table


def _children_table(rows: list[dict], metric: dict) -> Any:
    """A sweep's children, best first, with their sampled values."""
    names = sorted({name for row in rows for name in row["hyperparameters"]})
    table = new_table("#", "Run", "Status", metric["name"], *names, "Stopped by",
                      title=f"Children by {metric['name']} ({metric['goal'].lower()})")
    for rank, row in enumerate(rows, 1):
        value = row["best_primary_metric"]
        table.add_row(str(rank), row["run_id"], status_text(row["status"]),
                      "-" if value is None else f"{value:.6g}",
                      *(str(row["hyperparameters"].get(n, "-")) for n in names),
                      row.get("terminated_by") or "")
    return table
