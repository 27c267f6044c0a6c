"""``plinth server``: serve a workspace (or a team database) over HTTP."""

from __future__ import annotations

import os
from typing import Annotated

import typer

__all__ = ["serve"]

# Longer than any client keeps an idle connection (ApiClient: 15 s), so a client never sends on
# a connection the server is closing at that moment.
SERVER_KEEP_ALIVE_S = 75


def serve(
    workspace: Annotated[
        str | None,
        typer.Option("--workspace", help="An embedded workspace folder to serve."),
    ] = None,
    backend_store_uri: Annotated[
        str | None,
        typer.Option("--backend-store-uri",
                     help="Database of a team server, e.g. postgresql+psycopg://host/db."),
    ] = None,
    artifact_root: Annotated[
        str | None,
        typer.Option("--artifact-root",
                     help="Where workspaces' files go: a folder or s3://bucket/prefix."),
    ] = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 5000,
    workers: Annotated[int, typer.Option(help="Server processes.", min=1)] = 1,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
    no_auth: Annotated[
        bool,
        typer.Option("--no-auth",
                     help="UNSAFE: accept every request without a token, as the Owner of every "
                          "workspace. Only for a single user's machine, listening on "
                          "127.0.0.1."),
    ] = False,
    secret_key_file: Annotated[
        str | None,
        typer.Option("--secret-key-file",
                     help="Key file that encrypts workspace secrets (created on first use; "
                          "default: $PLINTH_SECRET_KEY_FILE, else secrets.key in --workspace, "
                          "else $PLINTH_HOME/secrets.key)."),
    ] = None,
) -> None:
    """Serve the native REST API (/api/v1) for the SDK, the CLI and other clients."""
    import uvicorn

    from plinth._server.config import ENV_SERVER_CONFIG, ServerConfig
    from plinth._store import SqlStore

    config = ServerConfig(workspace=workspace, backend_store_uri=backend_store_uri,
                          artifact_root=artifact_root, auth=not no_auth)
    SqlStore(config.metadata_uri).close()  # migrate once, before any worker starts
    _announce_auth(config, host)
    os.environ[ENV_SERVER_CONFIG] = config.to_env()
    if secret_key_file:  # the worker processes inherit it
        from pathlib import Path

        from plinth._secrets import ENV_SECRET_KEY_FILE

        os.environ[ENV_SECRET_KEY_FILE] = str(Path(secret_key_file).expanduser().resolve())
    typer.echo(f"Plinth server on http://{host}:{port} "
               f"(API http://{host}:{port}/api/v1, docs /api/v1/docs)", err=True)
    uvicorn.run("plinth._server.app:app_from_env", factory=True, host=host, port=port,
                workers=workers, log_level=log_level, proxy_headers=True,
                timeout_keep_alive=SERVER_KEEP_ALIVE_S)


def _announce_auth(config, host: str) -> None:
    """Make the server secret before any worker starts (they all read the same one), and say
    how callers authenticate."""
    from plinth._server.auth import ENV_SERVER_SECRET, secret_file, server_secret, tenant_id

    secret = server_secret(config.metadata_uri)
    where = (f"${ENV_SERVER_SECRET}" if os.environ.get(ENV_SERVER_SECRET)
             else str(secret_file(config.metadata_uri)))
    if not config.auth:
        typer.secho(f"WARNING: --no-auth: anyone who can reach {host} is the Owner of every "
                    "workspace. Use it only on your own machine.", err=True, fg="red", bold=True)
        return
    typer.echo(f"Authentication: bearer tokens (`plinth token create`); service principal "
               f"tenant id {tenant_id(secret)} (server secret: {where}).", err=True)
