"""``plinth model ...``: the model registry of a workspace."""

from pathlib import Path
from typing import Annotated, Any

import typer

from plinth.cli._common import (
    JsonOpt,
    WorkspaceConfigOpt,
    WorkspaceNameOpt,
    console,
    fail,
    get_run,
    handle_errors,
    key_value_table,
    local_iso,
    local_time,
    mapping_text,
    new_table,
    open_workspace,
    parse_pairs,
    print_json,
)

app = typer.Typer(help="Register, list and download models.", no_args_is_help=True)

NameArg = Annotated[str, typer.Argument(help="The model's name.")]
VersionOpt = Annotated[
    int | None,
    typer.Option("--version", "-v", min=1, help="Model version [default: the latest]",
                 show_default=False),
]


def _info(model: Any) -> dict[str, Any]:
    data = dict(model.serialize())
    data["createdTime"] = local_iso(data.get("createdTime"))
    return data


def _show(data: dict[str, Any], title: str) -> None:
    rows = [
        ("Name", data["name"]),
        ("Version", data["version"]),
        ("Created", local_time(data["createdTime"])),
        ("Description", data["description"]),
        ("Framework", " ".join(filter(None, [data["framework"], data["frameworkVersion"]]))),
        ("Tags", mapping_text(data["tags"])),
        ("Properties", mapping_text(data["properties"])),
        ("Run", data["runId"]),
        ("Experiment", data["experimentName"]),
        ("Files", data["url"]),
    ]
    console().print(key_value_table(rows, title=title))


@app.command("list")
@handle_errors
def list_(
    name: Annotated[
        str | None, typer.Option("--name", help="Only versions of this model.",
                                    show_default=False)
    ] = None,
    latest: Annotated[
        bool, typer.Option("--latest", help="Only the latest version of each model.")
    ] = False,
    workspace_config: WorkspaceConfigOpt = None,
    workspace: WorkspaceNameOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List registered model versions, newest first."""
    from plinth.core import Model

    ws = open_workspace(workspace_config, workspace)
    models = [_info(m) for m in Model.list(ws, name=name, latest=latest)]
    if as_json:
        print_json(models)
        return
    if not models:
        console().print("No models registered yet. Register one with `plinth model register`.")
        return
    table = new_table()
    table.add_column("Name", overflow="fold", min_width=8)
    table.add_column("Version", justify="right", no_wrap=True)
    table.add_column("Created", no_wrap=True, min_width=16)
    table.add_column("Framework", overflow="fold", min_width=6)
    table.add_column("Run", overflow="fold", min_width=8)
    table.add_column("Tags", overflow="fold", min_width=4)
    table.add_column("Description", overflow="fold", min_width=6)
    for m in models:
        table.add_row(m["name"], str(m["version"]),
                      local_time(m["createdTime"], seconds=False),
                      m["framework"] or "-", m["runId"] or "-", mapping_text(m["tags"]),
                      m["description"] or "")
    console().print(table)


@app.command("show")
@handle_errors
def show(
    name: NameArg,
    version: VersionOpt = None,
    workspace_config: WorkspaceConfigOpt = None,
    workspace: WorkspaceNameOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show one model version (the latest unless --version)."""
    from plinth.core import Model

    ws = open_workspace(workspace_config, workspace)
    data = _info(Model(ws, name, version=version))
    if as_json:
        print_json(data)
        return
    _show(data, title=f"Model {data['name']}:{data['version']}")


@app.command("register")
@handle_errors
def register(
    name: Annotated[str, typer.Option("--name", "-n", help="Model name; a new version each time.")],
    path: Annotated[
        Path | None,
        typer.Option("--path", "-p", help="Local file or folder to register.", exists=True,
                     show_default=False),
    ] = None,
    run_id: Annotated[
        str | None,
        typer.Option("--run-id", help="Register files of this run instead of a local path.",
                     show_default=False),
    ] = None,
    run_path: Annotated[
        str | None,
        typer.Option("--run-path", help="File or folder in the run's files, e.g. "
                     "outputs/model.pkl [default: outputs]", show_default=False),
    ] = None,
    tag: Annotated[
        list[str] | None,
        typer.Option("--tag", help="KEY=VALUE tag; repeat for more.", show_default=False),
    ] = None,
    prop: Annotated[
        list[str] | None,
        typer.Option("--property", help="KEY=VALUE property; repeat for more.",
                     show_default=False),
    ] = None,
    description: Annotated[
        str | None, typer.Option("--description", show_default=False)
    ] = None,
    framework: Annotated[
        str | None,
        typer.Option("--framework", help="e.g. ScikitLearn, PyTorch, Onnx, Custom.",
                     show_default=False),
    ] = None,
    framework_version: Annotated[
        str | None, typer.Option("--framework-version", show_default=False)
    ] = None,
    workspace_config: WorkspaceConfigOpt = None,
    workspace: WorkspaceNameOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Register a local file or folder (--path), or a run's file (--run-id, --run-path)."""
    from plinth.core import Model

    if (path is None) == (run_id is None):
        raise fail("Pass either --path (a local file or folder) or --run-id "
                   "(with --run-path).", code=2)
    if run_path is not None and run_id is None:
        raise fail("--run-path needs --run-id.", code=2)
    tags = parse_pairs(tag, "--tag")
    properties = parse_pairs(prop, "--property")
    ws = open_workspace(workspace_config, workspace)
    common = {"tags": tags, "properties": properties, "description": description,
                  "model_framework": framework, "model_framework_version": framework_version}
    if run_id is not None:
        model = get_run(ws, run_id).register_model(name, model_path=run_path, **common)
    else:
        model = Model.register(ws, model_path=str(path), model_name=name, **common)
    data = _info(model)
    if as_json:
        print_json(data)
        return
    _show(data, title=f"Registered model {data['name']} version {data['version']}")


@app.command("download")
@handle_errors
def download(
    name: NameArg,
    version: VersionOpt = None,
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Folder to download into.")
    ] = Path("."),
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace files that already exist there.")
    ] = False,
    workspace_config: WorkspaceConfigOpt = None,
    workspace: WorkspaceNameOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Download a model version's files; prints where they are."""
    from plinth.core import Model

    ws = open_workspace(workspace_config, workspace)
    model = Model(ws, name, version=version)
    target = output / model.url.rstrip("/").rsplit("/", 1)[-1]
    if target.exists() and not overwrite:
        raise fail(f"{target} already exists; pass --overwrite to replace it, or choose "
                   "another --output folder.")
    path = model.download(target_dir=str(output), exist_ok=overwrite)
    if as_json:
        print_json({"name": model.name, "version": model.version, "path": path})
        return
    console().print(f"Downloaded model {model.name}:{model.version} to {path}")
