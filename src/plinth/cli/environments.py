"""``plinth environment ...``: a workspace's environments, and building them here."""

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

app = typer.Typer(help="List, show and build environments.", no_args_is_help=True)

NameArg = Annotated[str, typer.Argument(help="The environment's name.")]
VersionOpt = Annotated[
    int | None,
    typer.Option("--version", "-v", min=1, help="Environment version [default: the latest]",
                 show_default=False),
]


def _info(env: Any) -> dict[str, Any]:
    deps = env.python.conda_dependencies
    return {
        "name": env.name,
        "version": env.version,
        "python": deps.get_python_version(),
        "conda_packages": list(deps.conda_packages),
        "pip_packages": list(deps.pip_packages),
        "user_managed": env.python.user_managed_dependencies,
        "interpreter_path": env.python.interpreter_path,
        "environment_variables": dict(env.environment_variables),
    }


@app.command("list")
@handle_errors
def list_(workspace_config: WorkspaceConfigOpt = None, workspace: WorkspaceNameOpt = None,
          as_json: JsonOpt = False) -> None:
    """List the latest version of each environment (the curated ones included)."""
    from plinth.core import Environment

    ws = open_workspace(workspace_config, workspace)
    rows = [_info(env) for env in Environment.list(ws).values()]
    if as_json:
        print_json(rows)
        return
    table = new_table("Name", "Version", "Python", "Packages")
    for row in rows:
        packages = ", ".join(row["conda_packages"] + row["pip_packages"]) or "-"
        table.add_row(row["name"], str(row["version"]), row["python"] or "default", packages)
    console().print(table)


@app.command("show")
@handle_errors
def show(name: NameArg, version: VersionOpt = None, workspace_config: WorkspaceConfigOpt = None,
         workspace: WorkspaceNameOpt = None, as_json: JsonOpt = False) -> None:
    """Show an environment's definition."""
    from plinth.core import Environment

    ws = open_workspace(workspace_config, workspace)
    data = _info(Environment.get(ws, name, version=version))
    if as_json:
        print_json(data)
        return
    rows = [
        ("Name", data["name"]), ("Version", data["version"]),
        ("Python", data["python"] or "default (Plinth's)"),
        ("Conda packages", ", ".join(data["conda_packages"]) or "-"),
        ("Pip packages", ", ".join(data["pip_packages"]) or "-"),
        ("User managed", "yes: " + data["interpreter_path"] if data["user_managed"] else "no"),
        ("Variables", mapping_text(data["environment_variables"])),
    ]
    console().print(key_value_table(rows, title=f"Environment {name}"))


@app.command("build")
@handle_errors
def build(name: NameArg, version: VersionOpt = None,
          workspace_config: WorkspaceConfigOpt = None,
          workspace: WorkspaceNameOpt = None) -> None:
    """Build an environment on this machine (or find it cached); prints its python."""
    from plinth.core import Environment

    ws = open_workspace(workspace_config, workspace)
    python = Environment.get(ws, name, version=version).build_local(ws)
    console().print(f"Environment {name} is ready: {python}")
