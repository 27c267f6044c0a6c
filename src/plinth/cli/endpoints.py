"""``plinth endpoint ...``: a workspace's deployed services (real-time scoring endpoints)."""

import json
import sys
from enum import StrEnum
from pathlib import Path
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
    mapping_text,
    new_table,
    note,
    open_workspace,
    print_json,
)

app = typer.Typer(help="List, show, test and delete deployed services, and read their logs "
                  "and keys.", no_args_is_help=True)

NameArg = Annotated[str, typer.Argument(help="The service's name.")]

STATE_STYLES = {"Healthy": "green", "Transitioning": "blue", "Unhealthy": "yellow",
                "Failed": "red"}
TYPE_NAMES = {"Local": "Local", "ACI": "ACI", "AKS": "AKS"}
# Settings shown on their own rows rather than among the other settings.
_OWN_ROWS = {"auth_enabled", "token_auth_enabled"}


class KeyName(StrEnum):
    Primary = "Primary"
    Secondary = "Secondary"


def auth_mode(config: dict[str, Any]) -> str:
    """``token``, ``key`` or ``none``, as the service's host applies them."""
    if config.get("token_auth_enabled"):
        return "token"
    return "key" if config.get("auth_enabled") else "none"


def info(service: Any) -> dict[str, Any]:
    """``service.serialize()`` plus ``authMode``."""
    data = dict(service.serialize())
    data["authMode"] = auth_mode(data.get("config") or {})
    return data


def state_text(state: str) -> Any:
    from rich.text import Text

    return Text(state or "-", style=STATE_STYLES.get(state, ""))


def _service(ws: Any, name: str) -> Any:
    from plinth.core.webservice import Webservice

    return Webservice(ws, name)


def _error_text(error: dict[str, Any] | None) -> str | None:
    if not error:
        return None
    code, message = error.get("code"), error.get("message")
    return f"{code}: {message}" if code and message else str(message or code or error)


@app.command("list")
@handle_errors
def list_(workspace_config: WorkspaceConfigOpt = None, workspace: WorkspaceNameOpt = None,
          as_json: JsonOpt = False) -> None:
    """List the workspace's deployed services."""
    from plinth.core.webservice import Webservice

    ws = open_workspace(workspace_config, workspace)
    rows = [info(s) for s in Webservice.list(ws)]
    if as_json:
        print_json(rows)
        return
    if not rows:
        console().print("No services deployed yet. Deploy one with `plinth model deploy`.")
        return
    table = new_table()
    table.add_column("Name", overflow="fold", min_width=8)
    table.add_column("Type", no_wrap=True)
    table.add_column("State", no_wrap=True)
    table.add_column("Models", overflow="fold", min_width=8)
    table.add_column("Scoring URI", overflow="fold", min_width=12)
    for row in rows:
        table.add_row(row["name"], TYPE_NAMES.get(row["computeType"], row["computeType"]),
                      state_text(row["state"]), ", ".join(row["models"]) or "-",
                      row["scoringUri"] or "-")
    console().print(table)


@app.command("show")
@handle_errors
def show(name: NameArg, workspace_config: WorkspaceConfigOpt = None,
         workspace: WorkspaceNameOpt = None, as_json: JsonOpt = False) -> None:
    """Show a service: its state, settings, models, URIs, auth mode and error, if any."""
    ws = open_workspace(workspace_config, workspace)
    data = info(_service(ws, name))
    if as_json:
        print_json(data)
        return
    settings = {k: v for k, v in data["config"].items()
                if k not in _OWN_ROWS and v not in (None, "")}
    rows: list[tuple[str, Any]] = [
        ("Name", data["name"]),
        ("Type", TYPE_NAMES.get(data["computeType"], data["computeType"])),
        ("State", state_text(data["state"])),
        ("Models", ", ".join(data["models"])),
        ("Scoring URI", data["scoringUri"]),
        ("Swagger URI", data["swaggerUri"]),
        ("Auth", {"key": "key (see `plinth endpoint keys`)", "token": "token",
                  "none": "none"}[data["authMode"]]),
        ("Settings", mapping_text(settings)),
        ("Description", data["description"]),
        ("Tags", mapping_text(data["tags"])),
    ]
    error = _error_text(data["error"])
    if error:
        from rich.text import Text

        rows.append(("Error", Text(error, style="red")))
    console().print(key_value_table(rows, title=f"Service {data['name']}"))


@app.command("logs")
@handle_errors
def logs(
    name: NameArg,
    tail: Annotated[
        int | None,
        typer.Option("--tail", "-n", min=1, help="Only the last N lines [default: all]",
                     show_default=False),
    ] = None,
    workspace_config: WorkspaceConfigOpt = None,
    workspace: WorkspaceNameOpt = None,
) -> None:
    """Print what the service's process printed: init(), requests and failures."""
    ws = open_workspace(workspace_config, workspace)
    service = _service(ws, name)
    text = service.get_logs() if tail is None else service.get_logs(num_lines=tail)
    if not text.strip():
        note(f"Service {name} has no logs yet.")
        return
    sys.stdout.write(text.rstrip("\n") + "\n")
    sys.stdout.flush()


@app.command("keys")
@handle_errors
def keys(
    name: NameArg,
    regenerate: Annotated[
        KeyName | None,
        typer.Option("--regenerate", case_sensitive=False, show_default=False,
                     help="Replace this key first; the old one stops working at once."),
    ] = None,
    workspace_config: WorkspaceConfigOpt = None,
    workspace: WorkspaceNameOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Print a service's primary and secondary keys (for ``Authorization: Bearer KEY``)."""
    ws = open_workspace(workspace_config, workspace)
    service = _service(ws, name)
    mode = auth_mode(service.serialize()["config"])
    if mode != "key":
        why = ("it uses token auth (tokens, not keys)" if mode == "token"
               else "its requests need no key")
        raise fail(f"Service {name} has key auth off: {why}. To use keys, deploy it again "
                   "with `plinth model deploy ... --auth --overwrite`.")
    if regenerate is not None:
        service.regen_key(regenerate.value)
        note(f"Regenerated the {regenerate.value.lower()} key of {name}.")
    primary, secondary = service.get_keys()
    if as_json:
        print_json({"primaryKey": primary, "secondaryKey": secondary})
        return
    console().print(key_value_table([("Primary", primary), ("Secondary", secondary)],
                                    title=f"Keys of service {name}"))


@app.command("test")
@handle_errors
def test(
    name: NameArg,
    data: Annotated[
        str | None,
        typer.Option("--data", "-d", help="The request body: JSON, e.g. '{\"data\": [[1, 2]]}'.",
                     show_default=False),
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option("--file", "-f", help="A file holding the JSON request body.",
                     exists=True, dir_okay=False, show_default=False),
    ] = None,
    workspace_config: WorkspaceConfigOpt = None,
    workspace: WorkspaceNameOpt = None,
) -> None:
    """Send one scoring request (with the service's key or token) and print the answer."""
    import httpx

    if (data is None) == (file is None):
        raise fail("Pass the request body with either --data JSON or --file PATH.", code=2)
    body = data if data is not None else file.read_text()
    source = "--data" if data is not None else f"--file {file}"
    try:
        json.loads(body)
    except ValueError as exc:
        raise fail(f"{source} is not valid JSON: {exc}.", code=2) from None
    ws = open_workspace(workspace_config, workspace)
    service = _service(ws, name)
    try:
        answer = service.run(body)
    except httpx.HTTPError as exc:
        state = service.state
        raise fail(f"Could not reach service {name} at {service.scoring_uri} ({exc}); it is "
                   f"{state}. See `plinth endpoint logs {name}`.") from None
    text = answer if isinstance(answer, str) else json.dumps(answer, indent=2,
                                                             ensure_ascii=False)
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


@app.command("delete")
@handle_errors
def delete(
    name: NameArg,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")
                   ] = False,
    workspace_config: WorkspaceConfigOpt = None,
    workspace: WorkspaceNameOpt = None,
) -> None:
    """Stop a service and delete it (and its keys)."""
    ws = open_workspace(workspace_config, workspace)
    service = _service(ws, name)
    if not yes and not typer.confirm(f"Delete service {name} ({service.compute_type}, "
                                     f"{service.scoring_uri or 'no URI'})?", default=False):
        note("Nothing deleted.", style="yellow")
        raise typer.Exit(1)
    service.delete()
    console().print(f"Deleted service {name}.")
