"""Who is calling, and may they do this? The dependencies every route declares.

Every request but ``/healthz``, the API's own documentation and the token exchange
(``POST /api/v1/auth/token``) carries ``Authorization: Bearer <token>``. A token is one of:

* an **access token** (``plt_...``): random (``secrets.token_urlsafe(32)``), shown once when
  ``plinth token create`` makes it, stored only as its SHA-256 in ``tokens``; it may expire
  and may be revoked;
* a **service principal token**: a JWT (HS256) that ``POST /api/v1/auth/token`` issues for
  ``(tenant_id, client_id, client_secret)``, valid for ``SP_TOKEN_SECONDS``, signed with a key
  derived from the server secret (see :func:`server_secret`), so any server process sharing
  that secret accepts it without a database write.

Either way the user is read on every request (one indexed query), so disabling a user stops
its tokens at once. A missing, malformed, unknown, revoked or expired token, or a disabled
user, is 401; a valid caller without the role a route needs is 403.

Dependencies: ``authenticated`` (any valid caller; for routes outside a workspace) and
``reader``, ``contributor``, ``owner`` for routes under ``/workspaces/{workspace}``: the
caller needs that role or a stronger one (Owner > Contributor > Reader) on the workspace.
A role dependency on a route without a ``{workspace}`` path parameter refuses every caller
(403): routes that find their workspace elsewhere call :func:`require_role` themselves.

With ``ServerConfig(auth=False)`` (``plinth server --no-auth``, for a single user's machine
only) every caller is ``LOCAL``, the Owner of everything.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import secrets
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import Request

from plinth._store.base import ROLES
from plinth.exceptions import (
    AuthenticationError,
    AuthorizationError,
    NotFoundError,
    StoreError,
    UserErrorException,
)

if TYPE_CHECKING:
    from plinth._server.state import ServerState
    from plinth._store import Store, UserRecord

__all__ = [
    "ENV_SERVER_SECRET",
    "STUDIO_COOKIE",
    "STUDIO_HEADER",
    "principal_of_token",
    "LOCAL",
    "Principal",
    "ROLES",
    "SP_TOKEN_SECONDS",
    "TOKEN_PREFIX",
    "authenticated",
    "contributor",
    "hash_secret",
    "issue_sp_token",
    "new_client_secret",
    "new_token",
    "owner",
    "reader",
    "require_role",
    "server_secret",
    "tenant_id",
]

log = logging.getLogger("plinth.server")

ENV_SERVER_SECRET = "PLINTH_SERVER_SECRET"
SECRET_FILE_NAME = "server.key"
TOKEN_PREFIX = "plt_"
CLIENT_SECRET_PREFIX = "pls_"
SP_TOKEN_SECONDS = 3600
_TOUCH_EVERY = 60.0  # seconds between last_used_at updates of one token, per process
_BEARER = re.compile(r"^\s*bearer\s+(\S+)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Principal:
    """The caller: a user or service principal, and its role on the workspace at hand
    (None outside a workspace)."""

    name: str
    role: str | None = None
    kind: str = "user"
    user_id: str | None = None


LOCAL = Principal("local", "Owner")


# -- secrets and tokens ------------------------------------------------------------------------


def new_token() -> str:
    """A new access token: shown once, stored as :func:`hash_secret`."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def new_client_secret() -> str:
    """A new service principal client secret: shown once, stored as :func:`hash_secret`."""
    return CLIENT_SECRET_PREFIX + secrets.token_urlsafe(32)


def hash_secret(value: str) -> str:
    """SHA-256 (hex) of a token or client secret. Both are 256 random bits, so a fast hash
    is enough: there is nothing to guess from a dictionary."""
    return hashlib.sha256(value.encode()).hexdigest()


def secret_file(metadata_uri: str) -> Path:
    """Where the server secret lives when ``PLINTH_SERVER_SECRET`` is not set: ``server.key``
    next to ``plinth.db`` for an embedded workspace, else ``$PLINTH_HOME/server.key``."""
    prefix = "sqlite:///"
    if metadata_uri.startswith(prefix) and metadata_uri[len(prefix):] not in ("", ":memory:"):
        return Path(metadata_uri[len(prefix):]).expanduser().resolve().parent / SECRET_FILE_NAME
    home = os.environ.get("PLINTH_HOME") or Path.home() / ".plinth"
    return Path(home) / SECRET_FILE_NAME


def server_secret(metadata_uri: str) -> bytes:
    """The secret that signs service principal tokens, kept outside the metadata database.

    ``$PLINTH_SERVER_SECRET`` when set (give every server host the same value); else the
    key file :func:`secret_file`, created on first use (mode 0600) without a race: written
    under a temporary name and hard-linked into place, so server processes starting at once
    all read the one that won. Servers on several hosts sharing one database need the same
    secret (set the variable, or copy the file).
    """
    value = os.environ.get(ENV_SERVER_SECRET)
    if value:
        if len(value) < 32:
            raise UserErrorException(
                f"{ENV_SERVER_SECRET} is too short: use at least 32 random characters, e.g. "
                "from `python -c 'import secrets; print(secrets.token_urlsafe(32))'`."
            )
        return value.encode()
    path = secret_file(metadata_uri)
    try:
        if not path.exists():
            _create_secret_file(path)
        value = path.read_text().strip()
    except OSError as exc:
        raise StoreError(f"Cannot read or create the server secret {path}: {exc}.") from exc
    if len(value) < 32:
        raise StoreError(f"The server secret {path} is damaged (too short); delete it to make "
                         "a new one (tokens issued to service principals then stop working).")
    return value.encode()


def _create_secret_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".server-key-")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(48) + "\n")
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(temp, path)
        except FileExistsError:
            pass  # another process made it first: use theirs
    finally:
        os.unlink(temp)


def _derive(secret: bytes, purpose: str) -> bytes:
    return hmac.new(secret, f"plinth:{purpose}".encode(), hashlib.sha256).digest()


def tenant_id(secret: bytes) -> str:
    """The server's tenant id (a UUID derived from its secret): what service principals give
    as ``tenant_id``, like an Azure AD tenant."""
    return str(uuid.UUID(bytes=_derive(secret, "tenant")[:16], version=4))


def issue_sp_token(secret: bytes, user: UserRecord, seconds: int = SP_TOKEN_SECONDS,
                   now: float | None = None) -> tuple[str, float]:
    """A signed token for the service principal ``user``; returns it and its expiry."""
    import jwt

    now = time.time() if now is None else now
    expires = int(now) + int(seconds)
    claims = {"iss": "plinth", "aud": tenant_id(secret), "sub": user.id, "name": user.name,
              "iat": int(now), "exp": expires}
    return jwt.encode(claims, _derive(secret, "sp-token"), algorithm="HS256"), float(expires)


def _decode_sp_token(secret: bytes, token: str) -> dict[str, Any]:
    import jwt

    try:
        # leeway: server hosts' clocks may differ a little
        return jwt.decode(token, _derive(secret, "sp-token"), algorithms=["HS256"],
                          audience=tenant_id(secret), issuer="plinth", leeway=30,
                          options={"require": ["exp", "sub", "name", "aud", "iss"]})
    except jwt.ExpiredSignatureError:
        raise AuthenticationError(
            "The service principal token has expired; exchange the client secret for a new one "
            "(ServicePrincipalAuthentication does so by itself)."
        ) from None
    except jwt.InvalidTokenError:
        raise AuthenticationError(_INVALID) from None


# -- who is calling ----------------------------------------------------------------------------

_INVALID = ("The bearer token is not valid: it is unknown, revoked or expired. Create a new one "
            "with `plinth token create USER` and `plinth login --server URL`.")
_touched: dict[str, float] = {}
_touch_lock = threading.Lock()


def _state(request: Request) -> ServerState:
    return request.app.state.plinth


#: The Studio's sign-in cookie: the same token a client sends as a header.
STUDIO_COOKIE = "plinth_token"
#: A header browsers only send from the Studio's own pages (a cross-site form cannot set one),
#: required with the cookie on requests that change something.
STUDIO_HEADER = "x-plinth-studio"


def _identify(state: ServerState, request: Request) -> Principal:
    header = request.headers.get("authorization")
    cookie = request.cookies.get(STUDIO_COOKIE)
    if not header and cookie:
        if request.method not in ("GET", "HEAD") and not request.headers.get(STUDIO_HEADER):
            raise AuthenticationError(
                f"A signed-in Studio page sends the {STUDIO_HEADER} header with changes.")
        header = f"Bearer {cookie}"
    if not header:
        raise AuthenticationError(
            "This server needs a token: send `Authorization: Bearer <token>` (the SDK does so "
            "after `plinth login --server URL`, or with PLINTH_TOKEN set)."
        )
    found = _BEARER.match(header)
    if found is None:
        raise AuthenticationError("The Authorization header must be `Bearer <token>`.")
    return principal_of_token(state, found.group(1))


def principal_of_token(state: ServerState, token: str) -> Principal:
    """Who ``token`` (an access token or a service principal's) belongs to; raises
    AuthenticationError for an unknown, revoked or expired one, or a disabled user."""
    store = state.store
    if token.startswith(TOKEN_PREFIX):
        try:
            match = store.find_token(hash_secret(token))
        except NotFoundError:
            raise AuthenticationError(_INVALID) from None
        user = match.user
        _touch(store, match.token.id)
    else:
        claims = _decode_sp_token(state.secret, token)
        try:
            user = store.get_user(claims["name"])
        except NotFoundError:
            raise AuthenticationError(_INVALID) from None
        if user.id != claims["sub"]:
            raise AuthenticationError(_INVALID)
    if user.disabled:
        raise AuthenticationError(f"User {user.name!r} is disabled on this server.")
    return Principal(user.name, None, user.kind, user.id)


def _touch(store: Store, token_id: str) -> None:
    """Record the token's use, at most once a minute per process (a write per request would
    double the cost of a metric batch)."""
    now = time.monotonic()
    with _touch_lock:
        if now - _touched.get(token_id, -_TOUCH_EVERY) < _TOUCH_EVERY:
            return
        _touched[token_id] = now
        if len(_touched) > 10_000:
            _touched.clear()
    try:
        store.touch_token(token_id)
    except Exception as exc:  # noqa: BLE001 - bookkeeping must not fail the request
        log.warning("Could not record the use of token %s: %s", token_id, exc)


def _caller(request: Request) -> Principal:
    """The authenticated caller, identified once per request."""
    state = _state(request)
    if not state.config.auth:
        return LOCAL
    principal = getattr(request.state, "plinth_principal", None)
    if principal is None:
        principal = _identify(state, request)
        request.state.plinth_principal = principal
    return principal


def require_role(request: Request, workspace_name: str | None, minimum: str) -> Principal:
    """The caller, if it has ``minimum`` or a stronger role on the workspace; else raise
    (401 unauthenticated, 403 without the role, 404 for a workspace that does not exist)."""
    principal = _caller(request)
    if principal is LOCAL:
        return LOCAL
    if not workspace_name:
        log.error("%s %s declares role %s but names no workspace; refused.",
                  request.method, request.url.path, minimum)
        raise AuthorizationError(f"This operation needs the {minimum} role on a workspace.")
    # A request may check twice (a route's dependency, then the Studio page it renders):
    # the caller's role on a workspace is read once per request.
    known = getattr(request.state, "plinth_roles", None)
    if known is None:
        known = request.state.plinth_roles = {}
    role = known.get(workspace_name)
    if role is None:
        store = _state(request).store
        roles = store.roles_of(principal.name)
        workspace = store.get_workspace(workspace_name)  # NotFoundError: 404
        role = roles.get(workspace.id)
        if role is None:
            raise AuthorizationError(
                f"{principal.name!r} has no role on workspace {workspace_name!r}; its Owner "
                f"can give one with `plinth user set-role {principal.name} ROLE --workspace "
                f"{workspace_name}`."
            )
        known[workspace_name] = role
    if ROLES.index(role) < ROLES.index(minimum):
        raise AuthorizationError(
            f"{principal.name!r} is a {role} of workspace {workspace_name!r}; this operation "
            f"needs {minimum} or above."
        )
    return Principal(principal.name, role, principal.kind, principal.user_id)


def authenticated(request: Request) -> Principal:
    """Any valid caller (routes outside a workspace)."""
    return _caller(request)


def reader(request: Request) -> Principal:
    return require_role(request, request.path_params.get("workspace"), "Reader")


def contributor(request: Request) -> Principal:
    return require_role(request, request.path_params.get("workspace"), "Contributor")


def owner(request: Request) -> Principal:
    return require_role(request, request.path_params.get("workspace"), "Owner")
