"""Credentials for a workspace served by ``plinth server``, named as in
``azureml.core.authentication``.

Pass one as ``auth=`` to ``Workspace.from_config``, ``Workspace.get``, ``Workspace.create`` or
``Workspace(...)``. Without ``auth=``, a server workspace uses ``$PLINTH_TOKEN``, else a
service principal from ``$PLINTH_TENANT_ID``/``$PLINTH_CLIENT_ID``/``$PLINTH_CLIENT_SECRET``,
else the token saved by ``plinth login --server URL``. An embedded workspace (no server)
needs no credential at all and ignores ``auth=``.

Runs submitted to a server workspace get the submitter's credential in their environment
(``PLINTH_TOKEN``, or a service principal's three variables, so that a long run can exchange
for new tokens), and log back through the server with it.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import Any

from plinth._api import credentials as _credentials
from plinth.exceptions import AuthenticationError, UserErrorException

__all__ = [
    "AbstractAuthentication",
    "InteractiveLoginAuthentication",
    "ServicePrincipalAuthentication",
    "TokenAuthentication",
]


class AbstractAuthentication:
    """Base class of the credentials a workspace accepts as ``auth=``."""

    def __init__(self) -> None:
        self._server_url: str | None = None

    def get_authentication_header(self) -> dict[str, str]:
        """``{"Authorization": "Bearer <token>"}`` for the workspace server this credential
        was last used with (for REST calls of your own)."""
        return _credentials.bearer(self._token(self._default_server()))

    # -- used by the SDK ------------------------------------------------------------------

    def _header_for(self, server_url: str) -> dict[str, str]:
        self._server_url = _credentials.normalize(server_url)
        return _credentials.bearer(self._token(self._server_url))

    def _worker_env(self, server_url: str) -> dict[str, str | None]:
        """Environment changes that give a submitted run's worker this credential."""
        env: dict[str, str | None] = dict.fromkeys(_credentials.SP_VARIABLES)
        env[_credentials.ENV_TOKEN] = self._token(_credentials.normalize(server_url))
        return env

    def _token(self, server_url: str) -> str:
        raise NotImplementedError

    def _default_server(self) -> str:
        if self._server_url is None:
            raise UserErrorException(
                f"{type(self).__name__} has not been used with a workspace yet, so it does not "
                "know which server to authenticate with: open one first, e.g. "
                "Workspace.from_config(auth=auth)."
            )
        return self._server_url


class InteractiveLoginAuthentication(AbstractAuthentication):
    """The token that ``plinth login --server URL`` saved for the workspace's server; on a
    terminal, asks for one when there is none (or always once, with ``force=True``) and saves
    it. ``tenant_id`` is accepted for compatibility with azureml and not used."""

    def __init__(self, force: bool = False, tenant_id: str | None = None, **kwargs: Any):
        super().__init__()
        self._force = bool(force)
        self.tenant_id = tenant_id
        self._asked: set[str] = set()
        self._lock = threading.Lock()

    def _token(self, server_url: str) -> str:
        with self._lock:
            login = None if (self._force and server_url not in self._asked) else (
                _credentials.cached_login(server_url))
            if login is not None:
                return login[1]["token"]
            self._asked.add(server_url)
            return _ask_for_token(server_url)

    def _default_server(self) -> str:
        if self._server_url is not None:
            return self._server_url
        login = _credentials.cached_login()
        if login is None:
            raise AuthenticationError(
                "Not logged in to any workspace server: run `plinth login --server URL`."
            )
        return login[0]


class ServicePrincipalAuthentication(AbstractAuthentication):
    """A service principal (``plinth user create NAME --service-principal`` prints its
    ``tenant_id``, ``client_id`` and ``client_secret``): exchanged with the server for a
    short-lived token, exchanged again shortly before that one expires."""

    def __init__(self, tenant_id: str, service_principal_id: str,
                 service_principal_password: str, cloud: str = "AzureCloud", **kwargs: Any):
        super().__init__()
        for name, value in (("tenant_id", tenant_id),
                            ("service_principal_id", service_principal_id),
                            ("service_principal_password", service_principal_password)):
            if not isinstance(value, str) or not value:
                raise UserErrorException(f"{name} must be a non-empty str.")
        self.tenant_id = tenant_id
        self.service_principal_id = service_principal_id
        self._tokens = _credentials.ServicePrincipalTokens(
            tenant_id, service_principal_id, service_principal_password
        )

    def __repr__(self) -> str:
        return (f"ServicePrincipalAuthentication(tenant_id={self.tenant_id!r}, "
                f"service_principal_id={self.service_principal_id!r})")

    def _token(self, server_url: str) -> str:
        return self._tokens.token(server_url)

    def _worker_env(self, server_url: str) -> dict[str, str | None]:
        return self._tokens.env()


class TokenAuthentication(AbstractAuthentication):
    """A bearer token you already have: a str, or (as in azureml) a callable
    ``get_token_for_audience(audience)`` called with the server's URL on each request."""

    def __init__(self, get_token_for_audience: str | Callable[[str], str]):
        super().__init__()
        if not (callable(get_token_for_audience)
                or (isinstance(get_token_for_audience, str) and get_token_for_audience)):
            raise UserErrorException(
                "get_token_for_audience must be a token (str) or a callable(audience) -> token."
            )
        self._source = get_token_for_audience

    def __repr__(self) -> str:
        return "TokenAuthentication(...)"

    def _token(self, server_url: str) -> str:
        source = self._source
        token = source(server_url) if callable(source) else source
        if not isinstance(token, str) or not token:
            raise AuthenticationError("get_token_for_audience gave no token.")
        return token


def _ask_for_token(server_url: str) -> str:
    if not (sys.stdin and sys.stdin.isatty()):
        raise AuthenticationError(
            f"Not logged in to the workspace server {server_url}: run `plinth login --server "
            f"{server_url}` (or set PLINTH_TOKEN)."
        )
    import getpass

    token = getpass.getpass(
        f"Access token for {server_url} (its admin makes one with `plinth token create USER`): "
    ).strip()
    if not token:
        raise AuthenticationError("No token given.")
    user = _credentials.whoami(server_url, token)
    _credentials.save_login(server_url, token, user.get("name"))
    print(f"Logged in to {server_url} as {user.get('name')}.", file=sys.stderr)
    return token
