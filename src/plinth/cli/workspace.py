"""``plinth workspace ...``: create, show and list workspaces."""

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
    local_iso,
    local_time,
    new_table,
    open_workspace,
    print_json,
)

app = typer.Typer(help="Create and inspect workspaces.", no_args_is_help=True)


def _details(ws: Any) -> dict[str, Any]:
    details = dict(ws.get_details())
    details["creationTime"] = local_iso(details.get("creationTime"))
    return details


def _show(details: dict[str, Any], title: str) -> None:
    rows = [
        ("Name", details.get("name")),
        ("Created", local_time(details.get("creationTime"))),
        ("Folder", details.get("workspaceFolder")),
        ("Metadata", details.get("metadataUri")),
        ("Artifacts", details.get("artifactRoot")),
        ("Location", details.get("location")),
    ]
    if details.get("config"):
        rows.append(("Config", details["config"]))
    known = {"id", "name", "creationTime", "workspaceFolder", "metadataUri", "artifactRoot",
             "location", "config"}
    rows += [(key, value) for key, value in details.items() if key not in known]
    console().print(key_value_table(rows, title=title))


@app.command("create")
@handle_errors
def create(
    name: Annotated[str, typer.Argument(help="Workspace name: 2-33 letters, digits, - or _.")],
    path: Annotated[
        Path | None,
        typer.Option("--path", help="Folder of an embedded (SQLite) workspace "
                     "[default: ~/.plinth/workspaces/NAME]", show_default=False),
    ] = None,
    metadata_uri: Annotated[
        str | None,
        typer.Option("--metadata-uri", help="SQLAlchemy URL of a shared metadata database, "
                     "e.g. postgresql+psycopg://host/db.", show_default=False),
    ] = None,
    artifact_root: Annotated[
        str | None,
        typer.Option("--artifact-root", help="Where a shared workspace keeps its files "
                     "(folder or fsspec URL); only with --metadata-uri.", show_default=False),
    ] = None,
    config_dir: Annotated[
        Path | None,
        typer.Option("--config-dir", help="Write config.json into this folder "
                     "[default: ./.plinth]", show_default=False),
    ] = None,
    exist_ok: Annotated[
        bool,
        typer.Option("--exist-ok/--no-exist-ok",
                     help="Reuse a workspace of that name that already exists there."),
    ] = True,
    as_json: JsonOpt = False,
) -> None:
    """Create a workspace and write the config.json that other commands read."""
    from plinth.core import Workspace

    if path is not None and metadata_uri is not None:
        raise fail("--path is for an embedded workspace; with --metadata-uri use "
                   "--artifact-root instead.", code=2)
    if artifact_root is not None and metadata_uri is None:
        raise fail("--artifact-root needs --metadata-uri (an embedded workspace keeps its "
                   "files in its --path folder).", code=2)
    ws = Workspace.create(name, path=path, exist_ok=exist_ok, metadata_uri=metadata_uri,
                          artifact_root=artifact_root)
    config = ws.write_config(config_dir)
    details = _details(ws)
    details["config"] = str(config.resolve())
    if as_json:
        print_json(details)
        return
    _show(details, title=f"Workspace {ws.name} is ready")


@app.command("show")
@handle_errors
def show(
    workspace_config: WorkspaceConfigOpt = None,
    workspace: WorkspaceNameOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show the workspace the other commands would use."""
    ws = open_workspace(workspace_config, workspace)
    details = _details(ws)
    if as_json:
        print_json(details)
        return
    _show(details, title=f"Workspace {ws.name}")


@app.command("list")
@handle_errors
def list_(as_json: JsonOpt = False) -> None:
    """List the workspaces created on this machine."""
    from plinth.core import Workspace

    found = [ws for group in Workspace.list().values() for ws in group]
    rows = [_details(ws) for ws in found]
    if as_json:
        print_json(rows)
        return
    table = new_table("Name", "Created")
    table.add_column("Metadata", overflow="fold")
    table.add_column("Artifacts", overflow="fold")
    for d in rows:
        table.add_row(d["name"], local_time(d["creationTime"]), d["metadataUri"],
                      d["artifactRoot"])
    if not rows:
        console().print("No workspaces yet. Create one with `plinth workspace create NAME`.")
        return
    console().print(table)
