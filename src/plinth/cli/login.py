"""``plinth login`` and ``plinth logout``: the token the SDK and the CLI use for a server."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from plinth.cli._common import console, fail, handle_errors, note

__all__ = ["login", "logout"]

ServerOpt = Annotated[
    str, typer.Option("--server", help="The workspace server's URL, e.g. http://host:5000.")
]


@handle_errors
def login(
    server: ServerOpt,
    token: Annotated[
        str | None,
        typer.Option("--token", show_default=False,
                     help="The access token (`plinth token create USER` makes one) [default: "
                          "asked for on a terminal, else read from stdin]."),
    ] = None,
) -> None:
    """Check a token with the server and save it for that server (in $PLINTH_HOME, mode 0600).

    Workspaces on that server then open without auth= (PLINTH_TOKEN, when set, comes first).
    """
    from plinth._api import credentials

    if token is None:
        if sys.stdin.isatty():
            import getpass

            token = getpass.getpass(f"Access token for {server}: ")
        else:
            token = sys.stdin.readline()
    token = (token or "").strip()
    if not token:
        raise fail("No token given: pass --token TOKEN, or type or pipe it in.", code=2)
    user = credentials.whoami(server, token)
    path = credentials.save_login(server, token, user.get("name"))
    roles = ", ".join(f"{role} of {ws}" for ws, role in sorted(user.get("roles", {}).items()))
    console().print(f"Logged in to {server.rstrip('/')} as {user.get('name')}"
                    f"{f' ({roles})' if roles else ''}.")
    note(f"The token is saved in {path}.")


@handle_errors
def logout(server: ServerOpt) -> None:
    """Forget the token saved for a server."""
    from plinth._api import credentials

    if credentials.forget_login(server):
        console().print(f"Logged out of {server.rstrip('/')}.")
    else:
        console().print(f"Not logged in to {server.rstrip('/')}.")
