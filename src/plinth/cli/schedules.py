"""``plinth schedule ...``: schedules that submit a workspace's published pipelines."""

import json
import warnings
from typing import Annotated, Any

import typer

from plinth.cli._common import (
    JsonOpt,
    WorkspaceConfigOpt,
    WorkspaceNameOpt,
    console,
    fail,
    handle_errors,
    key_value_table,
    local_iso,
    local_time,
    mapping_text,
    new_table,
    note,
    open_workspace,
    parse_pairs,
    print_json,
)

app = typer.Typer(help="Create, list, show, enable and disable pipeline schedules.",
                  no_args_is_help=True)

IdArg = Annotated[str, typer.Argument(help="The schedule's id.")]


def _info(schedule: Any) -> dict[str, Any]:
    record = schedule._record
    return {
        "id": record.id,
        "name": record.name,
        "description": record.description,
        "status": record.status,
        "pipelineId": record.pipeline_id,
        "experimentName": record.experiment_name,
        "trigger": "Recurrence" if record.recurrence is not None else "DataChange",
        "recurrence": record.recurrence,
        "datastore": record.datastore,
        "pathOnDatastore": record.path_on_datastore,
        "pollingIntervalMinutes": record.polling_interval if record.datastore else None,
        "dataPathParameterName": record.data_path_parameter_name,
        "pipelineParameters": dict(record.pipeline_parameters),
        "createdAt": local_iso(record.created_at),
        "nextRunTime": local_iso(record.next_fire_at),
        "lastFiredAt": local_iso(record.last_fired_at),
        "lastRunId": record.last_run_id,
    }


def _when(schedule: Any) -> str:
    return schedule._describe().removeprefix("Runs ")


@app.command("list")
@handle_errors
def list_(
    all_: Annotated[bool, typer.Option("--all", help="Include Disabled schedules.")] = False,
    pipeline_id: Annotated[str | None, typer.Option(
        "--pipeline-id", help="Only the schedules of this published pipeline.",
        show_default=False)] = None,
    workspace_config: WorkspaceConfigOpt = None,
    workspace: WorkspaceNameOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List the workspace's schedules (Active ones unless --all), newest first."""
    from plinth.pipeline.core.schedule import Schedule

    ws = open_workspace(workspace_config, workspace)
    schedules = Schedule.list(ws, active_only=not all_, pipeline_id=pipeline_id)
    if as_json:
        print_json([_info(s) for s in schedules])
        return
    table = new_table("Id", "Name", "Status", "Pipeline", "When", "Next run")
    for s in schedules:
        table.add_row(s.id, s.name, s.status, s.pipeline_id, _when(s),
                      local_time(s._record.next_fire_at) if s.status == "Active" else "-")
    console().print(table)


@app.command("show")
@handle_errors
def show(schedule_id: IdArg, workspace_config: WorkspaceConfigOpt = None,
         workspace: WorkspaceNameOpt = None, as_json: JsonOpt = False) -> None:
    """Show a schedule: what it runs, when, and its last run."""
    from plinth.pipeline.core.schedule import Schedule

    ws = open_workspace(workspace_config, workspace)
    schedule = Schedule.get(ws, schedule_id)
    data = _info(schedule)
    if as_json:
        print_json(data)
        return
    rows = [("Id", data["id"]), ("Name", data["name"]), ("Description", data["description"]),
            ("Status", data["status"]), ("Pipeline", data["pipelineId"]),
            ("Experiment", data["experimentName"]), ("When", _when(schedule)),
            ("Parameters", mapping_text(data["pipelineParameters"])),
            ("Data path parameter", data["dataPathParameterName"]),
            ("Next run", local_time(schedule._record.next_fire_at)),
            ("Last fired", local_time(schedule._record.last_fired_at)),
            ("Last run", data["lastRunId"])]
    console().print(key_value_table(rows, title=f"Schedule {schedule.name}"))


@app.command("create")
@handle_errors
def create(
    name: Annotated[str, typer.Argument(help="The schedule's name.")],
    pipeline_id: Annotated[str, typer.Option("--pipeline-id",
                                             help="The published pipeline to submit.")],
    experiment: Annotated[str, typer.Option("--experiment",
                                            help="The experiment its runs go to.")],
    frequency: Annotated[str | None, typer.Option(
        "--frequency", help="Minute, Hour, Day, Week or Month.", show_default=False)] = None,
    interval: Annotated[int | None, typer.Option(
        "--interval", min=1, help="Fire every INTERVAL frequency units.",
        show_default=False)] = None,
    start_time: Annotated[str | None, typer.Option(
        "--start-time", help="ISO time of the first run, e.g. 2024-05-01T06:30 (in "
        "--time-zone unless it has an offset) [default: now].", show_default=False)] = None,
    time_zone: Annotated[str | None, typer.Option(
        "--time-zone", help="IANA name (Europe/Berlin) or azureml name (Pacific Standard "
        "Time) [default: UTC].", show_default=False)] = None,
    time_of_day: Annotated[str | None, typer.Option(
        "--time-of-day", help="HH:MM, with --frequency Day or Week.", show_default=False)] = None,
    week_days: Annotated[list[str] | None, typer.Option(
        "--week-day", help="Monday ... Sunday, with --frequency Week (repeat for several).",
        show_default=False)] = None,
    datastore: Annotated[str | None, typer.Option(
        "--datastore", help="Fire when files change in this datastore (instead of a "
        "recurrence).", show_default=False)] = None,
    path: Annotated[str | None, typer.Option(
        "--path", help="The folder, file or pattern of --datastore to watch [default: all of "
        "it].", show_default=False)] = None,
    polling_interval: Annotated[float, typer.Option(
        "--polling-interval", help="Minutes between checks of --datastore.")] = 5.0,
    data_path_parameter: Annotated[str | None, typer.Option(
        "--data-path-parameter", help="Pipeline parameter that gets the changed file's path.",
        show_default=False)] = None,
    params: Annotated[list[str] | None, typer.Option(
        "--param", help="A pipeline parameter as NAME=VALUE (repeat for several).",
        show_default=False)] = None,
    description: Annotated[str | None, typer.Option("--description",
                                                    show_default=False)] = None,
    workspace_config: WorkspaceConfigOpt = None,
    workspace: WorkspaceNameOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Schedule a published pipeline: on a recurrence (--frequency and --interval) or when
    files change in a datastore (--datastore)."""
    from plinth.pipeline.core.schedule import Schedule, ScheduleRecurrence

    timed = frequency is not None or interval is not None
    if timed == (datastore is not None):
        raise fail("Pass either --frequency with --interval (a recurrence) or --datastore "
                   "(fire when its files change).", code=2)
    if timed and (frequency is None or interval is None):
        raise fail("A recurrence needs both --frequency and --interval.", code=2)
    ws = open_workspace(workspace_config, workspace)
    recurrence = None
    if timed:
        recurrence = ScheduleRecurrence(frequency, interval, start_time=start_time,
                                        time_zone=time_zone, week_days=week_days or None,
                                        time_of_day=time_of_day)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        schedule = Schedule.create(
            ws, name, pipeline_id, experiment, recurrence=recurrence, description=description,
            pipeline_parameters=_values(parse_pairs(params, "--param")), datastore=datastore,
            path_on_datastore=path, polling_interval=polling_interval,
            data_path_parameter_name=data_path_parameter)
    if as_json:
        print_json(_info(schedule))
    else:
        console().print(f"Created schedule {schedule.name} ({schedule.id}): {_when(schedule)}.")
    for warning in caught:
        note(str(warning.message), style="yellow")


def _values(pairs: dict[str, str]) -> dict[str, Any]:
    """Numbers and true/false as such; everything else stays a string."""
    out: dict[str, Any] = {}
    for key, text in pairs.items():
        try:
            value = json.loads(text)
        except ValueError:
            value = text
        out[key] = value if isinstance(value, (int, float, bool)) else text
    return out


@app.command("disable")
@handle_errors
def disable(schedule_id: IdArg, workspace_config: WorkspaceConfigOpt = None,
            workspace: WorkspaceNameOpt = None) -> None:
    """Stop a schedule from firing."""
    from plinth.pipeline.core.schedule import Schedule

    schedule = Schedule.get(open_workspace(workspace_config, workspace), schedule_id)
    schedule.disable()
    console().print(f"Disabled schedule {schedule.name} ({schedule.id}).")


@app.command("enable")
@handle_errors
def enable(schedule_id: IdArg, workspace_config: WorkspaceConfigOpt = None,
           workspace: WorkspaceNameOpt = None) -> None:
    """Let a disabled schedule fire again (from its next due time)."""
    from plinth.pipeline.core.schedule import Schedule

    schedule = Schedule.get(open_workspace(workspace_config, workspace), schedule_id)
    schedule.enable()
    console().print(f"Enabled schedule {schedule.name} ({schedule.id}); next run "
                    f"{local_time(schedule._record.next_fire_at)}.")
