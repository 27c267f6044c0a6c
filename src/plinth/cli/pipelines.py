"""``plinth pipeline ...``: a workspace's published pipelines, and the steps of pipeline runs."""

import math
import re
import sys
from collections.abc import Mapping
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
    print_json,
    status_text,
)

app = typer.Typer(help="Publish pipelines, list, show, run, enable and disable published "
                       "pipelines, and show the steps of pipeline runs.", no_args_is_help=True)

IdArg = Annotated[str, typer.Argument(help="The published pipeline's id "
                                           "(see `plinth pipeline list`).")]
RunIdArg = Annotated[str, typer.Argument(help="The pipeline run's id.")]

PIPELINE_RUN = "azureml.PipelineRun"
STEP_RUN = "azureml.StepRun"
_PLACEHOLDER = re.compile(r"\{\{plinth\.(input|param):([^}]+)\}\}")


# -- what the commands show ----------------------------------------------------------------

def _placeholders(text: str) -> str:
    """``{{plinth.input:prepped}}`` -> ``<prepped>``, ``{{plinth.param:reg}}`` -> ``<reg>``."""
    return _PLACEHOLDER.sub(lambda m: f"<{m.group(2)}>", text)


def _what_runs(definition: Mapping[str, Any]) -> str:
    """A step's script and arguments, or its command, on one line."""
    script, command = definition.get("script"), definition.get("command")
    if script:
        words = [script, *(str(a) for a in definition.get("arguments") or [])]
    elif isinstance(command, (list, tuple)):
        words = [str(c) for c in command]
    elif command:
        words = [str(command)]
    else:
        return "-"
    return _placeholders(" ".join(words))


def _ordered_steps(graph: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The graph's steps, each after the steps it waits for (graph order if that fails)."""
    steps = list(graph.get("steps") or [])
    try:
        from plinth._pipelines.graph import order

        by_key = {s["key"]: s for s in steps}
        return [by_key[k] for k in order(steps)]
    except Exception:  # noqa: BLE001 - showing a pipeline must not fail on its ordering
        return steps


def _step_info(step: Mapping[str, Any]) -> dict[str, Any]:
    definition = step.get("definition") or {}
    return {
        "name": step.get("name"),
        "kind": step.get("kind"),
        "script": definition.get("script"),
        "command": definition.get("command"),
        "arguments": definition.get("arguments"),
        "target": definition.get("target") or "local",
        "allowReuse": step.get("allow_reuse"),
        "inputs": [p.get("data_name") or p.get("name") for p in step.get("port_inputs") or []],
        "outputs": [o.get("name") for o in step.get("outputs") or []],
    }


def _info(pipeline: Any, steps: bool = False) -> dict[str, Any]:
    info: dict[str, Any] = {
        "id": pipeline.id,
        "name": pipeline.name,
        "version": pipeline.version,
        "status": pipeline.status,
        "description": pipeline.description,
        "continueOnStepFailure": pipeline.continue_on_step_failure,
        "parameters": pipeline.parameters,
        "endpoint": pipeline.endpoint,
        "createdAt": local_iso(pipeline._record.created_at),
    }
    if steps:
        info["steps"] = [_step_info(s) for s in _ordered_steps(pipeline.graph)]
    return info


def _step_run_info(step: Any) -> dict[str, Any]:
    record = step._record
    return {
        "name": step.name,
        "runId": step.id,
        "status": record.status,
        "reused": step.is_reused,
        "reusedRunId": step.reused_run_id,
        "reusedPipelineRunId": record.properties.get("azureml.reusedpipelinerunid") or None,
        "started": local_iso(record.start_time),
        "ended": local_iso(record.end_time),
        "duration_seconds": duration_seconds(record.start_time, record.end_time),
        "error": (record.error or {}).get("message"),
    }


def _pipeline_run(ws: Any, run_id: str, command: str) -> Any:
    """The pipeline run ``run_id``; any other run is a clear error."""
    run = get_run(ws, run_id)
    if run.type == PIPELINE_RUN:
        return run
    if run.type == STEP_RUN and run.parent is not None:
        raise fail(f"Run {run_id} is a step of pipeline run {run.parent.id}; "
                   f"`plinth pipeline {command} {run.parent.id}` works on that.")
    raise fail(f"Run {run_id} is not a pipeline run (its type is {run.type!r}); "
               f"`plinth pipeline {command}` takes the id of a pipeline run.")


# -- parameters ----------------------------------------------------------------------------

def convert_parameter(name: str, text: str, default: Any) -> Any:
    """``text`` (from the command line) as a value of the type of ``default``: bool from
    'true'/'false', int, float or str. Raises ValueError with a message on a bad value."""
    if isinstance(default, bool):
        lowered = text.strip().lower()
        if lowered in ("true", "false"):
            return lowered == "true"
        raise ValueError(f"--param {name}={text!r}: {name} is a bool parameter "
                         f"(default {str(default).lower()}); use true or false.")
    if isinstance(default, int):
        try:
            return int(text.strip())
        except ValueError:
            raise ValueError(f"--param {name}={text!r}: {name} is an int parameter "
                             f"(default {default}); give a whole number.") from None
    if isinstance(default, float):
        try:
            value = float(text.strip())
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            raise ValueError(f"--param {name}={text!r}: {name} is a float parameter "
                             f"(default {default!r}); give a number.")
        return value
    return text


def parse_parameters(pairs: list[str] | None, defaults: Mapping[str, Any]) -> dict[str, Any]:
    """``["reg=0.5"]`` -> ``{"reg": 0.5}``, typed like the pipeline's defaults; a pair that is
    not NAME=VALUE, an unknown name or a value that does not convert exits with code 2."""
    values: dict[str, Any] = {}
    known = ", ".join(f"{k} (default {v!r})" for k, v in defaults.items()) or "none"
    for pair in pairs or []:
        name, sep, text = pair.partition("=")
        name = name.strip()
        if not sep or not name:
            raise fail(f"--param {pair!r}: use NAME=VALUE, e.g. --param reg=0.5.", code=2)
        if name not in defaults:
            raise fail(f"--param {pair!r}: the pipeline has no parameter {name!r} "
                       f"(its parameters: {known}).", code=2)
        try:
            values[name] = convert_parameter(name, text, defaults[name])
        except ValueError as exc:
            raise fail(str(exc), code=2) from None
    return values


# -- commands ------------------------------------------------------------------------------

@app.command("list")
@handle_errors
def list_(
    all_: Annotated[bool, typer.Option("--all", help="Include Disabled pipelines.")] = False,
    workspace_config: WorkspaceConfigOpt = None,
    workspace: WorkspaceNameOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List the workspace's published pipelines (Active ones unless --all), newest first."""
    from plinth.pipeline.core import PublishedPipeline

    ws = open_workspace(workspace_config, workspace)
    rows = [_info(p) for p in PublishedPipeline.list(ws, active_only=not all_)]
    if as_json:
        print_json(rows)
        return
    if not rows:
        console().print("No published pipelines. Publish a pipeline run's pipeline with "
                        "`plinth pipeline publish RUN_ID --name NAME`.")
        return
    table = new_table()
    table.add_column("Id", no_wrap=True)
    table.add_column("Name", overflow="fold")
    table.add_column("Version", no_wrap=True)
    table.add_column("Status", no_wrap=True)
    table.add_column("Parameters", overflow="fold")
    table.add_column("Endpoint", overflow="fold")
    for row in rows:
        table.add_row(row["id"], row["name"], row["version"] or "-",
                      status_text(row["status"]), mapping_text(row["parameters"]),
                      row["endpoint"])
    console().print(table)


@app.command("show")
@handle_errors
def show(pipeline_id: IdArg, workspace_config: WorkspaceConfigOpt = None,
         workspace: WorkspaceNameOpt = None, as_json: JsonOpt = False) -> None:
    """Show a published pipeline: its settings, parameters and steps."""
    from plinth.pipeline.core import PublishedPipeline

    ws = open_workspace(workspace_config, workspace)
    data = _info(PublishedPipeline.get(ws, pipeline_id), steps=True)
    if as_json:
        print_json(data)
        return
    out = console()
    rows = [("Name", data["name"]), ("Id", data["id"]), ("Version", data["version"]),
            ("Status", status_text(data["status"])), ("Description", data["description"]),
            ("Created", local_time(data["createdAt"])),
            ("On step failure", "continue" if data["continueOnStepFailure"] else "stop"),
            ("Endpoint", data["endpoint"])]
    out.print(key_value_table(rows, title=f"Published pipeline {data['name']}"))
    out.print()
    if data["parameters"]:
        table = new_table("Parameter", "Default", "Type", title="Parameters")
        for name, default in data["parameters"].items():
            shown = str(default).lower() if isinstance(default, bool) else str(default)
            table.add_row(name, shown, type(default).__name__)
        out.print(table)
    else:
        out.print("No parameters.")
    out.print()
    table = new_table(title="Steps")
    table.add_column("Name", overflow="fold")
    table.add_column("Kind", no_wrap=True)
    table.add_column("Runs", overflow="fold")
    table.add_column("Compute", no_wrap=True)
    table.add_column("Reads", overflow="fold")
    table.add_column("Writes", overflow="fold")
    for step in data["steps"]:
        table.add_row(step["name"], step["kind"], _what_runs(step), step["target"],
                      ", ".join(step["inputs"]) or "-", ", ".join(step["outputs"]) or "-")
    out.print(table)


@app.command("publish")
@handle_errors
def publish(
    run_id: Annotated[str, typer.Argument(help="A pipeline run: its pipeline is published.")],
    name: Annotated[str, typer.Option("--name", "-n", help="The published pipeline's name.")],
    version: Annotated[str | None, typer.Option("--version", help="A version label, e.g. 1.0.",
                                                show_default=False)] = None,
    description: Annotated[str | None, typer.Option(
        "--description", help="What it does (default: the pipeline's own description).",
        show_default=False)] = None,
    continue_on_step_failure: Annotated[bool, typer.Option(
        "--continue-on-step-failure",
        help="Its runs go on with the steps that do not need a failed one.")] = False,
    workspace_config: WorkspaceConfigOpt = None,
    workspace: WorkspaceNameOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Publish the pipeline a pipeline run ran (the same code, steps and parameters)."""
    ws = open_workspace(workspace_config, workspace)
    run = _pipeline_run(ws, run_id, "publish")
    published = run.publish_pipeline(name=name, description=description, version=version,
                                     continue_on_step_failure=continue_on_step_failure)
    if as_json:
        print_json(_info(published))
        return
    out = console()
    out.print(f"Published pipeline {published.name} as {published.id}.", soft_wrap=True)
    out.print(f"Endpoint: {published.endpoint}", soft_wrap=True)
    note(f"Run it with `plinth pipeline run {published.id} --experiment NAME`.")


@app.command("run")
@handle_errors
def run_(
    pipeline_id: IdArg,
    experiment: Annotated[str, typer.Option(
        "--experiment", "-e", help="The experiment the run goes to (created if new).")],
    param: Annotated[list[str] | None, typer.Option(
        "--param", "-p", help="NAME=VALUE for a pipeline parameter; repeat for more.",
        show_default=False)] = None,
    wait: Annotated[bool, typer.Option(
        "--wait/--no-wait", help="Show the steps' progress until the run ends; exit 1 if it "
        "did not complete.")] = False,
    workspace_config: WorkspaceConfigOpt = None,
    workspace: WorkspaceNameOpt = None,
) -> None:
    """Submit a published pipeline and print its pipeline run's id.

    plinth pipeline run ID --experiment nightly --param reg=0.5 --wait
    """
    from plinth.pipeline.core import PublishedPipeline

    ws = open_workspace(workspace_config, workspace)
    published = PublishedPipeline.get(ws, pipeline_id)
    if published.status != "Active":
        raise fail(f"Published pipeline {published.name} ({published.id}) is "
                   f"{published.status}; `plinth pipeline enable {published.id}` enables it.")
    values = parse_parameters(param, published.parameters)
    run = published.submit(ws, experiment, pipeline_parameters=values)
    sys.stdout.write(run.id + "\n")
    sys.stdout.flush()
    if not wait:
        note(f"Follow it with `plinth run logs {run.id} --follow`; "
             f"`plinth pipeline runs {run.id}` shows its steps.")
        return
    try:
        status = run.wait_for_completion(show_output=True, raise_on_error=False)
    except KeyboardInterrupt:
        note(f"Stopped following; pipeline run {run.id} goes on (`plinth run cancel {run.id}` "
             "stops it).", style="yellow")
        raise typer.Exit(130) from None
    if status != "Completed":
        raise fail(f"Pipeline run {run.id} ended {status}; "
                   f"`plinth pipeline runs {run.id}` shows its steps.")


@handle_errors
def runs(run_id: RunIdArg, workspace_config: WorkspaceConfigOpt = None,
         workspace: WorkspaceNameOpt = None, as_json: JsonOpt = False) -> None:
    """Show a pipeline run's steps: their runs, status, reuse and duration."""
    ws = open_workspace(workspace_config, workspace)
    run = _pipeline_run(ws, run_id, "runs")
    steps = [_step_run_info(s) for s in run.get_steps()]
    status = run.get_status()
    if as_json:
        print_json({"runId": run.id, "status": status, "steps": steps})
        return
    out = console()
    if not steps:
        out.print(f"Pipeline run {run.id} (", status_text(status), ") has no step runs yet.",
                  sep="")
        return
    table = new_table(title=f"Pipeline run {run.id} ({status})")
    table.add_column("Step", overflow="fold")
    table.add_column("Run ID", no_wrap=True)
    table.add_column("Status", no_wrap=True)
    table.add_column("Reused", overflow="fold")
    table.add_column("Duration", no_wrap=True)
    for step in steps:
        reused = f"yes, from {step['reusedRunId']}" if step["reused"] else "no"
        table.add_row(step["name"], step["runId"], status_text(step["status"]), reused,
                      human_duration(step["duration_seconds"]))
    out.print(table)
    for step in steps:
        if step["error"] and step["status"] != "Completed":
            note(f"{step['name']}: {step['error']}", style="red")


app.command("runs")(runs)
app.command("steps", help="Same as `runs`: show a pipeline run's steps.")(runs)


def _set_status(pipeline_id: str, workspace_config: Any, workspace: Any, enable: bool) -> None:
    from plinth.pipeline.core import PublishedPipeline

    ws = open_workspace(workspace_config, workspace)
    published = PublishedPipeline.get(ws, pipeline_id)
    wanted = "Active" if enable else "Disabled"
    if published.status == wanted:
        console().print(f"Published pipeline {published.name} ({published.id}) is already "
                        f"{wanted}.", soft_wrap=True)
        return
    if enable:
        published.enable()
    else:
        published.disable()
    console().print(f"{'Enabled' if enable else 'Disabled'} published pipeline "
                    f"{published.name} ({published.id}).", soft_wrap=True)


@app.command("disable")
@handle_errors
def disable(pipeline_id: IdArg, workspace_config: WorkspaceConfigOpt = None,
            workspace: WorkspaceNameOpt = None) -> None:
    """Disable a published pipeline: it cannot be run until enabled again."""
    _set_status(pipeline_id, workspace_config, workspace, enable=False)


@app.command("enable")
@handle_errors
def enable(pipeline_id: IdArg, workspace_config: WorkspaceConfigOpt = None,
           workspace: WorkspaceNameOpt = None) -> None:
    """Enable a disabled published pipeline."""
    _set_status(pipeline_id, workspace_config, workspace, enable=True)
