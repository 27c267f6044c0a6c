"""Client credentials for a workspace server: the login cache, the service principal token
exchange, and the default chain used when a workspace is opened without ``auth=``.

The default chain, for a server at ``URL`` (first match wins):

1. ``$PLINTH_TOKEN``: a bearer token (``plinth token create``);
2. ``$PLINTH_TENANT_ID``, ``$PLINTH_CLIENT_ID`` and ``$PLINTH_CLIENT_SECRET``: a service
   principal, exchanged for short-lived tokens and refreshed before they expire;
3. the token ``plinth login --server URL`` saved in ``$PLINTH_HOME/credentials.json``
   (mode 0600).

Without any of these, requests go without a token and the server answers 401 with a message
that says how to log in. Nothing here is used by an embedded workspace (no server).
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from plinth._api.errors import error_for
from plinth._api.schemas import API_PREFIX
from plinth.exceptions import StoreError

__all__ = [
    "ENV_CLIENT_ID",
    "ENV_CLIENT_SECRET",
    "ENV_TENANT_ID",
    "ENV_TOKEN",
    "ServicePrincipalTokens",
    "cached_login",
    "credentials_file",
    "default_headers",
    "default_worker_env",
    "exchange_client_secret",
    "forget_login",
    "save_login",
    "whoami",
]

ENV_TOKEN = "PLINTH_TOKEN"
ENV_TENANT_ID = "PLINTH_TENANT_ID"
ENV_CLIENT_ID = "PLINTH_CLIENT_ID"
ENV_CLIENT_SECRET = "PLINTH_CLIENT_SECRET"
SP_VARIABLES = (ENV_TENANT_ID, ENV_CLIENT_ID, ENV_CLIENT_SECRET)
REFRESH_MARGIN = 300.0  # refresh a service principal token this long before it expires


def normalize(server_url: str) -> str:
    return server_url.rstrip("/")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# -- the login cache -------------------------------------------------------------------------

def credentials_file() -> Path:
    home = os.environ.get("PLINTH_HOME") or Path.home() / ".plinth"
    return Path(home) / "credentials.json"


_cache: dict[str, Any] = {"key": None, "logins": {}}
_cache_lock = threading.Lock()


def _logins() -> dict[str, dict[str, Any]]:
    """The saved logins by server URL (re-read only when the file changed)."""
    path = credentials_file()
    try:
        stat = path.stat()
    except OSError:
        return {}
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    with _cache_lock:
        if _cache["key"] != key:
            try:
                data = json.loads(path.read_text())
                logins = data.get("servers", {}) if isinstance(data, dict) else {}
            except (OSError, ValueError):
                logins = {}
            _cache.update(key=key, logins=logins)
        return _cache["logins"]


def _write_logins(logins: dict[str, dict[str, Any]]) -> None:
    path = credentials_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".credentials-")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump({"servers": logins}, out, indent=2)
        os.replace(temp, path)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise


def cached_login(server_url: str | None = None) -> tuple[str, dict[str, Any]] | None:
    """``(server_url, login)`` saved for the server, or the most recent login when
    ``server_url`` is None; None when there is none."""
    logins = _logins()
    if server_url is not None:
        login = logins.get(normalize(server_url))
        return (normalize(server_url), login) if login and login.get("token") else None
    found = [(url, login) for url, login in logins.items() if login.get("token")]
    return max(found, key=lambda item: item[1].get("saved_at", 0)) if found else None


def save_login(server_url: str, token: str, user: str | None = None) -> Path:
    logins = dict(_logins())
    logins[normalize(server_url)] = {"token": token, "user": user, "saved_at": time.time()}
    _write_logins(logins)
    return credentials_file()


def forget_login(server_url: str) -> bool:
    logins = dict(_logins())
    if logins.pop(normalize(server_url), None) is None:
        return False
    _write_logins(logins)
    return True


# -- talking to the server without an ApiClient ------------------------------------------------

def _request(method: str, server_url: str, path: str, **kwargs: Any) -> Any:
    url = normalize(server_url) + API_PREFIX + path
    try:
        response = httpx.request(method, url, timeout=30.0, **kwargs)
    except httpx.HTTPError as exc:
        raise StoreError(f"Cannot reach the workspace server {server_url}: {exc}") from exc
    if response.status_code >= 400:
        try:
            error = response.json()["error"]
            code, message = error["code"], error["message"]
        except (ValueError, KeyError, TypeError):
            code, message = "Error", response.text[:500] or response.reason_phrase
        raise error_for(code, message, response.status_code)
    return response.json()


def whoami(server_url: str, token: str) -> dict[str, Any]:
    """``{"name", "kind", "roles"}`` of the token's user; AuthenticationError if invalid."""
    return _request("GET", server_url, "/auth/whoami", headers=bearer(token))


def exchange_client_secret(server_url: str, tenant_id: str, client_id: str,
                           client_secret: str) -> tuple[str, float]:
    """A short-lived token for a service principal, and when it expires (epoch seconds)."""
    body = {"tenant_id": tenant_id, "client_id": client_id, "client_secret": client_secret}
    reply = _request("POST", server_url, "/auth/token", json=body)
    return reply["access_token"], float(reply["expires_on"])


class ServicePrincipalTokens:
    """A service principal's tokens per server, exchanged on first use and again shortly
    before each expires."""

    def __init__(self, tenant_id: str, client_id: str, client_secret: str):
        self.tenant_id = tenant_id
        self.client_id = client_id
        self._secret = client_secret
        self._tokens: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"ServicePrincipalTokens(tenant_id={self.tenant_id!r}, client_id={self.client_id!r})"

    def token(self, server_url: str) -> str:
        server_url = normalize(server_url)
        with self._lock:
            held = self._tokens.get(server_url)
            if held is None or held[1] - REFRESH_MARGIN <= time.time():
                held = exchange_client_secret(server_url, self.tenant_id, self.client_id,
                                              self._secret)
                self._tokens[server_url] = held
            return held[0]

    def env(self) -> dict[str, str | None]:
        """What a worker process needs to exchange for its own tokens."""
        return {ENV_TENANT_ID: self.tenant_id, ENV_CLIENT_ID: self.client_id,
                ENV_CLIENT_SECRET: self._secret, ENV_TOKEN: None}


_env_principals: dict[tuple[str, str, str], ServicePrincipalTokens] = {}


def _env_principal() -> ServicePrincipalTokens | None:
    values = tuple(os.environ.get(name) or "" for name in SP_VARIABLES)
    if not all(values):
        return None
    principal = _env_principals.get(values)  # type: ignore[arg-type]
    if principal is None:
        principal = _env_principals.setdefault(values, ServicePrincipalTokens(*values))
    return principal


def default_token(server_url: str) -> str | None:
    """The token the default chain gives for ``server_url`` (see the module docstring)."""
    token = os.environ.get(ENV_TOKEN)
    if token:
        return token
    principal = _env_principal()
    if principal is not None:
        return principal.token(server_url)
    login = cached_login(server_url)
    return login[1]["token"] if login else None


def default_headers(server_url: str) -> dict[str, str]:
    token = default_token(server_url)
    return bearer(token) if token else {}


def default_worker_env(server_url: str) -> dict[str, str | None]:
    """Environment changes that give a run's worker the default chain's credential: a token
    from the login cache is passed as ``PLINTH_TOKEN`` (the variables of the other links are
    inherited as they are). Nothing when there is no credential: the submission got through,
    so the server does not ask for one (``plinth server --no-auth``)."""
    if os.environ.get(ENV_TOKEN) or _env_principal() is not None:
        return {}
    login = cached_login(server_url)
    return {ENV_TOKEN: login[1]["token"]} if login else {}
