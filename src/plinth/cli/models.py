"""``plinth model ...``: the model registry of a workspace, and deploying its models."""

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
    get_run,
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


# -- deploy ---------------------------------------------------------------------------------

class DeployTarget(StrEnum):
    local = "local"
    aci = "aci"
    aks = "aks"


_LOG_TAIL = 30


def _name_version(spec: str, option: str) -> tuple[str, int | None]:
    """``NAME`` or ``NAME:VERSION`` -> (name, version or None); a bad one exits with 2."""
    name, sep, version = spec.rpartition(":")
    if not sep:
        return spec, None
    if not name or not version.isdigit() or int(version) < 1:
        raise fail(f"{option} {spec!r}: use NAME or NAME:VERSION (a version number).", code=2)
    return name, int(version)


def _deploy_configuration(target: DeployTarget, given: dict[str, Any]) -> Any:
    """The SDK's deployment configuration for ``target``; options that target does not use
    exit with code 2 rather than being ignored."""
    from plinth.core.webservice import AciWebservice, AksWebservice, LocalWebservice

    unused = {
        DeployTarget.local: ["--cpu-cores", "--memory-gb", "--replicas", "--auth",
                             "--token-auth"],
        DeployTarget.aci: ["--replicas", "--token-auth"],
        DeployTarget.aks: [],
    }[target]
    refused = [option for option in unused if given[option] not in (None, False)]
    if refused:
        raise fail(f"--target {target.value} does not use {', '.join(refused)}"
                   + ("; local services have no auth." if target is DeployTarget.local
                      else "; use --target aks for replicas and token auth."), code=2)
    if target is DeployTarget.local:
        return LocalWebservice.deploy_configuration(port=given["--port"])
    common = {"cpu_cores": given["--cpu-cores"], "memory_gb": given["--memory-gb"],
              "auth_enabled": given["--auth"], "port": given["--port"]}
    if target is DeployTarget.aci:
        return AciWebservice.deploy_configuration(**common)
    return AksWebservice.deploy_configuration(
        num_replicas=given["--replicas"], token_auth_enabled=given["--token-auth"] or None,
        **common)


def _conda_path(conda_file: Path, source_dir: Path | None) -> Path:
    """``--conda-file`` as given, else relative to ``--source-dir``."""
    if conda_file.is_file():
        return conda_file
    if source_dir is not None and (source_dir / conda_file).is_file():
        return source_dir / conda_file
    raise fail(f"--conda-file {conda_file} is not a file"
               + (f" (nor in --source-dir {source_dir})" if source_dir is not None else "")
               + ".", code=2)


@app.command("deploy")
@handle_errors
def deploy(
    service_name: Annotated[str, typer.Argument(help="Name of the service to create.")],
    model: Annotated[
        list[str],
        typer.Option("--model", "-m", help="NAME or NAME:VERSION of a registered model "
                     "[default version: the latest]; repeat for more.", show_default=False),
    ],
    entry_script: Annotated[
        str,
        typer.Option("--entry-script", "-e", help="Scoring script with init() and "
                     "run(raw_data), relative to --source-dir if given."),
    ],
    source_dir: Annotated[
        Path | None,
        typer.Option("--source-dir", "-s", exists=True, file_okay=False,
                     help="Folder sent with the entry script [default: the script's folder]",
                     show_default=False),
    ] = None,
    conda_file: Annotated[
        Path | None,
        typer.Option("--conda-file", help="Conda environment file the service runs in.",
                     show_default=False),
    ] = None,
    environment: Annotated[
        str | None,
        typer.Option("--environment", help="NAME or NAME:VERSION of a registered (or "
                     "curated) environment, instead of --conda-file.", show_default=False),
    ] = None,
    target: Annotated[
        DeployTarget,
        typer.Option("--target", "-t", case_sensitive=False,
                     help="local: a try-out service; aci: one process; aks: replicas, key "
                     "auth by default."),
    ] = DeployTarget.aci,
    cpu_cores: Annotated[
        float | None,
        typer.Option("--cpu-cores", min=0.01, help="CPU cores (recorded) [default: 0.1]",
                     show_default=False),
    ] = None,
    memory_gb: Annotated[
        float | None,
        typer.Option("--memory-gb", min=0.01, help="Memory in GB (recorded) [default: 0.5]",
                     show_default=False),
    ] = None,
    replicas: Annotated[
        int | None,
        typer.Option("--replicas", min=1, help="Serving processes (aks) [default: 1]",
                     show_default=False),
    ] = None,
    auth: Annotated[
        bool | None,
        typer.Option("--auth/--no-auth", help="Key auth [default: on for aks, off for aci]",
                     show_default=False),
    ] = None,
    token_auth: Annotated[
        bool, typer.Option("--token-auth", help="Token auth instead of keys (aks).")
    ] = False,
    port: Annotated[
        int | None,
        typer.Option("--port", min=1, max=65535, help="Port to listen on [default: a free "
                     "one]", show_default=False),
    ] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace a service of that name.")
    ] = False,
    no_wait: Annotated[
        bool, typer.Option("--no-wait", help="Return once started, without waiting for the "
                           "service to answer.")
    ] = False,
    workspace_config: WorkspaceConfigOpt = None,
    workspace: WorkspaceNameOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Deploy models as a real-time scoring service, and wait until it answers."""
    from plinth.core import Model
    from plinth.core.model import InferenceConfig
    from plinth.exceptions import WebserviceException

    if conda_file is not None and environment is not None:
        raise fail("Pass either --conda-file or --environment, not both.", code=2)
    specs = [_name_version(spec, "--model") for spec in model]
    env_spec = _name_version(environment, "--environment") if environment else None
    config = _deploy_configuration(target, {
        "--cpu-cores": cpu_cores, "--memory-gb": memory_gb, "--replicas": replicas,
        "--auth": auth, "--token-auth": token_auth, "--port": port})
    conda = _conda_path(conda_file, source_dir) if conda_file is not None else None
    ws = open_workspace(workspace_config, workspace)
    models = [Model(ws, name, version=version) for name, version in specs]
    env = None
    if env_spec is not None:
        from plinth.core import Environment

        env = Environment.get(ws, env_spec[0], env_spec[1])
    inference = InferenceConfig(
        entry_script=entry_script, runtime="python",
        source_directory=str(source_dir) if source_dir is not None else None,
        conda_file=str(conda) if conda is not None else None, environment=env)
    service = Model.deploy(ws, service_name, models, inference, config, overwrite=overwrite)
    if not no_wait:
        if not as_json:
            note(f"Deploying {service_name} ({target.value}), waiting for it to answer…")
        try:
            service.wait_for_deployment()
        except WebserviceException:
            data = service.serialize()
            message = (data["error"] or {}).get("message") or "no details"
            headline = message.strip().splitlines()[0].rstrip(":. ")
            logs = service.get_logs(num_lines=_LOG_TAIL).rstrip()
            if logs:
                sys.stderr.write(f"Last lines of the service's log:\n{logs}\n\n")
                headline += f"; its log ends with: {logs.splitlines()[-1].strip()}"
            else:
                headline += "; it wrote no log"
            raise fail(
                f"Service {service_name} is {data['state']}: {headline}\n"
                f"See `plinth endpoint logs {service_name}`; fix it and deploy again with "
                f"--overwrite, or `plinth endpoint delete {service_name}`.") from None
    data = service.serialize()
    if as_json:
        print_json(data)
        return
    out = console()
    out.print(f"Service {data['name']} is {data['state']}.", soft_wrap=True)
    out.print(f"Scoring URI: {data['scoringUri']}", soft_wrap=True)
    out.print(f"Swagger URI: {data['swaggerUri']}", soft_wrap=True)
    if data["state"] == "Transitioning":
        out.print(f"It is still starting; `plinth endpoint logs {service_name}` shows when "
                  "it is ready.", soft_wrap=True)
    if service.auth_enabled:
        out.print(f"Requests need a key: `plinth endpoint keys {service_name}`.",
                  soft_wrap=True)
