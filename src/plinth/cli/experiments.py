"""``plinth experiment ...``: the experiments of a workspace."""

from typing import Annotated

import typer

from plinth.cli._common import (
    JsonOpt,
    WorkspaceConfigOpt,
    WorkspaceNameOpt,
    console,
    handle_errors,
    new_table,
    open_workspace,
    print_json,
    status_text,
)

app = typer.Typer(help="List experiments.", no_args_is_help=True)


@app.command("list")
@handle_errors
def list_(
    include_archived: Annotated[
        bool, typer.Option("--all", help="Include archived experiments.")
    ] = False,
    workspace_config: WorkspaceConfigOpt = None,
    workspace: WorkspaceNameOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List the experiments of the workspace, with their run counts."""
    from plinth.core import Experiment

    ws = open_workspace(workspace_config, workspace)
    rows = []
    for exp in Experiment.list(ws, view_type="All" if include_archived else "ActiveOnly"):
        runs = list(exp.get_runs())
        latest = runs[0] if runs else None
        rows.append({
            "name": exp.name,
            "id": exp.id,
            "archived": exp.archived_time is not None,
            "runs": len(runs),
            "latest_run_id": latest.id if latest else None,
            "latest_run_status": latest.get_status() if latest else None,
        })
    if as_json:
        print_json(rows)
        return
    if not rows:
        console().print("No experiments yet. Submit a run with `plinth run submit`.")
        return
    table = new_table("Experiment", "Runs", "Latest run", "Status", "Archived")
    for row in rows:
        table.add_row(row["name"], str(row["runs"]), row["latest_run_id"] or "-",
                      status_text(row["latest_run_status"] or "-"),
                      "yes" if row["archived"] else "")
    console().print(table)
