"""``plinth compute ...``: a workspace's compute targets."""

from typing import Annotated, Any

import typer

from plinth.cli._common import (
    JsonOpt,
    WorkspaceConfigOpt,
    WorkspaceNameOpt,
    console,
    handle_errors,
    key_value_table,
    mapping_text,
    new_table,
    open_workspace,
    print_json,
)

app = typer.Typer(help="Create, list, show and delete compute targets.", no_args_is_help=True)

NameArg = Annotated[str, typer.Argument(help="The compute target's name.")]


def _info(target: Any) -> dict[str, Any]:
    return target.serialize()


@app.command("list")
@handle_errors
def list_(workspace_config: WorkspaceConfigOpt = None, workspace: WorkspaceNameOpt = None,
          as_json: JsonOpt = False) -> None:
    """List the workspace's compute targets ('local' is always there too)."""
    ws = open_workspace(workspace_config, workspace)
    rows = [_info(t) for t in ws.compute_targets.values()]
    if as_json:
        print_json(rows)
        return
    table = new_table("Name", "Type", "State", "Settings")
    table.add_row("local", "Local", "Succeeded", "this machine")
    for row in rows:
        settings = {k: v for k, v in row["properties"].items() if v not in (None, "")}
        table.add_row(row["name"], row["type"], row["provisioningState"], mapping_text(settings))
    console().print(table)


@app.command("show")
@handle_errors
def show(name: NameArg, workspace_config: WorkspaceConfigOpt = None,
         workspace: WorkspaceNameOpt = None, as_json: JsonOpt = False) -> None:
    """Show a compute target's settings."""
    from plinth.core.compute import ComputeTarget

    ws = open_workspace(workspace_config, workspace)
    data = _info(ComputeTarget(ws, name))
    if as_json:
        print_json(data)
        return
    rows = [("Name", data["name"]), ("Type", data["type"]),
            ("State", data["provisioningState"]), *data["properties"].items()]
    console().print(key_value_table(rows, title=f"Compute {name}"))


@app.command("create")
@handle_errors
def create(
    name: NameArg,
    vm_size: Annotated[str, typer.Option("--vm-size", help="Azure VM size: the CPUs and "
                                         "memory each run gets.")] = "STANDARD_D2_V2",
    max_nodes: Annotated[int, typer.Option("--max-nodes", min=1,
                                           help="Most runs at once.")] = 4,
    min_nodes: Annotated[int, typer.Option("--min-nodes", min=0)] = 0,
    idle_seconds: Annotated[
        int, typer.Option("--idle-seconds-before-scaledown",
                          help="Stop an idle cluster after this long.")
    ] = 1800,
    ray_address: Annotated[str | None, typer.Option(
        "--ray-address", help="Attach this existing Ray cluster instead of creating one.",
        show_default=False)] = None,
    workspace_config: WorkspaceConfigOpt = None,
    workspace: WorkspaceNameOpt = None,
) -> None:
    """Create a training cluster (on Ray), or attach a Ray cluster with --ray-address."""
    from plinth.core.compute import AmlCompute, ComputeTarget, RayCompute

    ws = open_workspace(workspace_config, workspace)
    if ray_address:
        target = ComputeTarget.attach(ws, name, RayCompute.attach_configuration(ray_address))
    else:
        config = AmlCompute.provisioning_configuration(
            vm_size=vm_size, min_nodes=min_nodes, max_nodes=max_nodes,
            idle_seconds_before_scaledown=idle_seconds)
        target = ComputeTarget.create(ws, name, config)
    console().print(f"{target.type} {target.name} is ready.")


@app.command("delete")
@handle_errors
def delete(name: NameArg, workspace_config: WorkspaceConfigOpt = None,
           workspace: WorkspaceNameOpt = None) -> None:
    """Delete a compute target (or detach an attached one)."""
    from plinth.core.compute import ComputeTarget

    ws = open_workspace(workspace_config, workspace)
    ComputeTarget(ws, name).delete()
    console().print(f"Deleted compute target {name}.")
