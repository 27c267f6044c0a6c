"""``plinth user ...`` and ``plinth token ...``: who may use a workspace server.

These are administration commands: they work on the server's database directly, as
``mlflow db`` does, never through the server (so the first Owner can be made before anyone
can log in). Point them at the database with the flag ``plinth server`` was given:
``--backend-store-uri URI`` (a team server) or ``--workspace-folder PATH`` (the embedded
workspace a ``plinth server --workspace PATH`` serves).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from plinth.cli._common import (
    JsonOpt,
    console,
    fail,
    handle_errors,
    local_iso,
    local_time,
    new_table,
    note,
    print_json,
)

if TYPE_CHECKING:
    from plinth._store import SqlStore

app = typer.Typer(help="Users and service principals of a workspace server, and their roles "
                       "(on the server's database).", no_args_is_help=True)
tokens_app = typer.Typer(help="Access tokens of a workspace server's users (on the server's "
                              "database).", no_args_is_help=True)

BackendStoreOpt = Annotated[
    str | None,
    typer.Option("--backend-store-uri", show_default=False,
                 help="The server's database, as given to `plinth server --backend-store-uri`."),
]
WorkspaceFolderOpt = Annotated[
    Path | None,
    typer.Option("--workspace-folder", show_default=False,
                 help="The embedded workspace folder a `plinth server --workspace` serves."),
]
UserArg = Annotated[str, typer.Argument(help="The user's (or service principal's) name.")]
RoleWorkspaceOpt = Annotated[
    str | None,
    typer.Option("--workspace", "-w", show_default=False,
                 help="Name of the workspace the role is on."),
]


def _store(backend_store_uri: str | None, workspace_folder: Path | None) -> SqlStore:
    from plinth._store import SqlStore

    if (backend_store_uri is None) == (workspace_folder is None):
        raise fail("Give the server's database: --backend-store-uri URI or --workspace-folder "
                   "PATH (as given to `plinth server`).", code=2)
    return SqlStore(_metadata_uri(backend_store_uri, workspace_folder))


def _metadata_uri(backend_store_uri: str | None, workspace_folder: Path | None) -> str:
    if backend_store_uri is not None:
        return backend_store_uri
    folder = workspace_folder.expanduser().resolve()
    if not (folder / "plinth.db").is_file():
        raise fail(f"--workspace-folder {workspace_folder} is not a workspace folder (no "
                   "plinth.db).", code=2)
    return f"sqlite:///{folder / 'plinth.db'}"


def _role(value: str) -> str | None:
    from plinth._store import ROLES

    if value.lower() == "none":
        return None
    for role in ROLES:
        if role.lower() == value.lower():
            return role
    raise fail(f"Role {value!r} is not one of {', '.join(ROLES)} (or none).", code=2)


def _user_row(store: SqlStore, user: Any, names: dict[str, str]) -> dict[str, Any]:
    roles = store.roles_of(user.name)
    return {
        "name": user.name,
        "kind": user.kind,
        "disabled": user.disabled,
        "created": local_iso(user.created_at),
        "roles": {names.get(ws_id, ws_id): role for ws_id, role in sorted(roles.items())},
    }


# -- plinth user ------------------------------------------------------------------------------


@app.command("create")
@handle_errors
def create(
    name: UserArg,
    role: Annotated[
        str | None,
        typer.Option("--role", show_default=False,
                     help="Give the user this role (Reader, Contributor or Owner) on --workspace."),
    ] = None,
    workspace: RoleWorkspaceOpt = None,
    service_principal: Annotated[
        bool,
        typer.Option("--service-principal",
                     help="A service principal: prints a client secret (once) that "
                          "ServicePrincipalAuthentication exchanges for short-lived tokens."),
    ] = False,
    backend_store_uri: BackendStoreOpt = None,
    workspace_folder: WorkspaceFolderOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a user (or, with --service-principal, a service principal)."""
    from plinth._server.auth import hash_secret, new_client_secret, server_secret, tenant_id

    if (role is None) != (workspace is None):
        raise fail("--role and --workspace go together.", code=2)
    chosen = _role(role) if role is not None else None
    store = _store(backend_store_uri, workspace_folder)
    try:
        ws = store.get_workspace(workspace) if workspace is not None else None
        secret = new_client_secret() if service_principal else None
        user = store.create_user(name, "service_principal" if service_principal else "user",
                                 hash_secret(secret) if secret else None)
        if ws is not None and chosen is not None:
            store.set_role(user.name, ws.id, chosen)
        info: dict[str, Any] = {"name": user.name, "kind": user.kind, "id": user.id,
                                "roles": {ws.name: chosen} if ws is not None and chosen else {}}
        if secret is not None:
            uri = _metadata_uri(backend_store_uri, workspace_folder)
            info.update(tenant_id=tenant_id(server_secret(uri)), client_id=user.name,
                        client_secret=secret)
    finally:
        store.close()
    if as_json:
        print_json(info)
        return
    out = console()
    what = "Service principal" if secret else "User"
    out.print(f"{what} {user.name} created.")
    if info["roles"]:
        out.print(f"Role: {chosen} of workspace {ws.name}.")
    if secret is not None:
        out.print(f"  tenant_id:     {info['tenant_id']}")
        out.print(f"  client_id:     {info['client_id']}")
        out.print(f"  client_secret: {secret}")
        note("The client secret is shown this once; keep it safe. The tenant id is the one of "
             "a server using this machine's server secret.", style="yellow")
    else:
        note(f"Give them a token with `plinth token create {user.name}`.")


@app.command("list")
@handle_errors
def list_(
    backend_store_uri: BackendStoreOpt = None,
    workspace_folder: WorkspaceFolderOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List the users and service principals, with their roles."""
    store = _store(backend_store_uri, workspace_folder)
    try:
        names = {w.id: w.name for w in store.list_workspaces()}
        rows = [_user_row(store, user, names) for user in store.list_users()]
    finally:
        store.close()
    if as_json:
        print_json(rows)
        return
    if not rows:
        console().print("No users yet. Create one with `plinth user create NAME`.")
        return
    table = new_table("Name", "Kind", "Status", "Created")
    table.add_column("Roles", overflow="fold")
    for row in rows:
        roles = ", ".join(f"{role} of {ws}" for ws, role in row["roles"].items()) or "-"
        table.add_row(row["name"], row["kind"].replace("_", " "),
                      "disabled" if row["disabled"] else "active",
                      local_time(row["created"], seconds=False), roles)
    console().print(table)


@app.command("set-role")
@handle_errors
def set_role(
    name: UserArg,
    role: Annotated[str, typer.Argument(help="Reader, Contributor, Owner, or none to remove.")],
    workspace: Annotated[
        str, typer.Option("--workspace", "-w", help="Name of the workspace the role is on.")
    ],
    backend_store_uri: BackendStoreOpt = None,
    workspace_folder: WorkspaceFolderOpt = None,
) -> None:
    """Give a user a role on a workspace (replacing the one it had), or remove it."""
    chosen = _role(role)
    store = _store(backend_store_uri, workspace_folder)
    try:
        ws = store.get_workspace(workspace)
        store.set_role(name, ws.id, chosen)
    finally:
        store.close()
    if chosen is None:
        console().print(f"{name} has no role on workspace {workspace} now.")
    else:
        console().print(f"{name} is a {chosen} of workspace {workspace}.")


def _set_disabled(name: str, disabled: bool, backend_store_uri: str | None,
                  workspace_folder: Path | None) -> None:
    store = _store(backend_store_uri, workspace_folder)
    try:
        store.set_user_disabled(name, disabled)
    finally:
        store.close()
    if disabled:
        console().print(f"{name} is disabled: its tokens stopped working.")
    else:
        console().print(f"{name} is enabled again.")


@app.command("disable")
@handle_errors
def disable(
    name: UserArg,
    backend_store_uri: BackendStoreOpt = None,
    workspace_folder: WorkspaceFolderOpt = None,
) -> None:
    """Disable a user: every request with its tokens is refused from now on."""
    _set_disabled(name, True, backend_store_uri, workspace_folder)


@app.command("enable")
@handle_errors
def enable(
    name: UserArg,
    backend_store_uri: BackendStoreOpt = None,
    workspace_folder: WorkspaceFolderOpt = None,
) -> None:
    """Enable a disabled user again."""
    _set_disabled(name, False, backend_store_uri, workspace_folder)


# -- plinth token -----------------------------------------------------------------------------


def _token_row(token: Any) -> dict[str, Any]:
    if token.revoked:
        status = "revoked"
    elif token.expires_at is not None and token.expires_at <= time.time():
        status = "expired"
    else:
        status = "active"
    return {
        "id": token.id,
        "user": token.user_name,
        "description": token.description,
        "status": status,
        "created": local_iso(token.created_at),
        "expires": local_iso(token.expires_at),
        "last_used": local_iso(token.last_used_at),
    }


@tokens_app.command("create")
@handle_errors
def create_token(
    user: UserArg,
    description: Annotated[
        str | None,
        typer.Option("--description", "-d", show_default=False,
                     help="What the token is for, e.g. the machine it goes on."),
    ] = None,
    expires_in_days: Annotated[
        float | None,
        typer.Option("--expires-in-days", min=0, show_default=False,
                     help="Days until the token stops working [default: never]."),
    ] = None,
    backend_store_uri: BackendStoreOpt = None,
    workspace_folder: WorkspaceFolderOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create an access token for a user and print it (this once: only its hash is kept)."""
    from plinth._server.auth import hash_secret, new_token

    expires_at = time.time() + expires_in_days * 86400 if expires_in_days is not None else None
    store = _store(backend_store_uri, workspace_folder)
    try:
        token = new_token()
        record = store.create_token(user, hash_secret(token), description, expires_at)
    finally:
        store.close()
    if as_json:
        print_json({**_token_row(record), "token": token})
        return
    typer.echo(token)
    note(f"Token {record.id} of {user}, shown this once. Use it with "
         "`plinth login --server URL --token TOKEN` or as PLINTH_TOKEN.", style="yellow")


@tokens_app.command("list")
@handle_errors
def list_tokens(
    user: Annotated[
        str | None,
        typer.Option("--user", "-u", show_default=False, help="Only this user's tokens."),
    ] = None,
    backend_store_uri: BackendStoreOpt = None,
    workspace_folder: WorkspaceFolderOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List access tokens (never the tokens themselves), newest first."""
    store = _store(backend_store_uri, workspace_folder)
    try:
        rows = [_token_row(t) for t in store.list_tokens(user)]
    finally:
        store.close()
    if as_json:
        print_json(rows)
        return
    if not rows:
        console().print("No tokens. Create one with `plinth token create USER`.")
        return
    table = new_table("ID", "User", "Status", "Created", "Expires", "Last used")
    table.add_column("Description", overflow="fold")
    for row in rows:
        table.add_row(row["id"], row["user"], row["status"],
                      local_time(row["created"], seconds=False),
                      local_time(row["expires"], seconds=False),
                      local_time(row["last_used"], seconds=False), row["description"] or "-")
    console().print(table)


@tokens_app.command("revoke")
@handle_errors
def revoke_token(
    token_id: Annotated[str, typer.Argument(help="The token's ID (see `plinth token list`).")],
    backend_store_uri: BackendStoreOpt = None,
    workspace_folder: WorkspaceFolderOpt = None,
) -> None:
    """Revoke a token: it stops working at once, for good."""
    store = _store(backend_store_uri, workspace_folder)
    try:
        record = store.revoke_token(token_id)
    finally:
        store.close()
    console().print(f"Token {record.id} of {record.user_name} is revoked.")
