"""The ``plinth`` command line: workspaces, experiments, runs, models, data and environments.

Every command except ``workspace create``/``workspace list`` works on one workspace, found
from ``--workspace-config PATH`` (a config.json or a folder to search), ``-w/--workspace
NAME`` (one created on this machine), or else the config.json (or .plinth/config.json) in
the current folder or a folder above it. Listing and show commands take ``--json``.

``datastore`` lists a workspace's datastores (settings, never credentials) and uploads and
downloads their files; ``dataset`` registers, lists, shows and profiles its datasets;
``environment`` lists, shows and builds its environments; ``compute`` manages its compute
targets. ``model deploy`` deploys registered models as a real-time scoring service
(local, aci or aks) and waits until it answers; ``endpoint`` lists, shows, tests and deletes
deployed services and prints their logs and keys. ``pipeline`` publishes the pipeline a
pipeline run ran, lists, shows, runs, enables and disables published pipelines, and shows a
pipeline run's steps (which ran, which were reused); ``schedule`` lists, creates, enables
and disables their schedules.

``server``, ``user`` and ``token`` are for whoever runs a workspace server (``user`` and
``token`` work on its database directly); ``login`` saves a token for a server's users.
"""

from typing import Annotated

import typer

from plinth.cli import (
    compute,
    data,
    endpoints,
    environments,
    experiments,
    login,
    models,
    pipelines,
    runs,
    schedules,
    server,
    users,
    workspace,
)

__all__ = ["app", "main"]

app = typer.Typer(
    name="plinth",
    help="Plinth: experiments, runs and models on your own machines.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_show_locals=False,  # locals may hold database passwords
)
app.add_typer(workspace.app, name="workspace")
app.add_typer(experiments.app, name="experiment")
app.add_typer(runs.app, name="run")
app.add_typer(models.app, name="model")
app.add_typer(data.datastore_app, name="datastore")
app.add_typer(data.dataset_app, name="dataset")
app.add_typer(environments.app, name="environment")
app.add_typer(compute.app, name="compute")
app.add_typer(endpoints.app, name="endpoint")
app.add_typer(pipelines.app, name="pipeline")
app.add_typer(schedules.app, name="schedule")
app.command("server")(server.serve)
app.add_typer(users.app, name="user")
app.add_typer(users.tokens_app, name="token")
app.command("login")(login.login)
app.command("logout")(login.logout)


def _version(value: bool) -> None:
    if value:
        from plinth import __version__

        typer.echo(__version__)
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool | None,
        typer.Option("--version", help="Print Plinth's version and exit.", is_eager=True,
                     callback=_version),
    ] = None,
) -> None:
    """Plinth: experiments, runs and models on your own machines."""


def main() -> None:
    """Entry point of the ``plinth`` executable."""
    app()
