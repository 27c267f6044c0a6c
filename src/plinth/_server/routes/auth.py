"""Authentication: the service principal token exchange and "who am I".

Users, roles and access tokens are administered on the server's database with ``plinth user``
and ``plinth token`` (as ``mlflow db`` works on MLflow's), not over this API.
"""

from __future__ import annotations

import hmac
import time
from typing import Annotated

from fastapi import APIRouter, Depends, Response

from plinth._api.schemas import TokenRequest, TokenResponse, WhoAmIResponse
from plinth._server.auth import (
    LOCAL,
    Principal,
    authenticated,
    hash_secret,
    issue_sp_token,
    tenant_id,
)
from plinth._server.routes._common import State
from plinth.exceptions import AuthenticationError, NotFoundError

router = APIRouter(tags=["auth"])

Caller = Annotated[Principal, Depends(authenticated)]

_REFUSED = ("The service principal credentials are not valid (tenant_id, client_id or "
            "client_secret is wrong, or the service principal is disabled).")
_DUMMY_HASH = hash_secret("no such service principal")


@router.post("/auth/token")
def exchange_token(body: TokenRequest, state: State, response: Response) -> TokenResponse:
    """Exchange a service principal's client credentials for a short-lived bearer token."""
    response.headers["cache-control"] = "no-store"
    try:
        user = state.store.get_user(body.client_id)
    except NotFoundError:
        user = None
    expected = (user.secret_hash if user is not None else None) or _DUMMY_HASH
    # Compare in constant time, and as much work for an unknown client as for a known one.
    secret_ok = hmac.compare_digest(hash_secret(body.client_secret), expected)
    tenant_ok = hmac.compare_digest(body.tenant_id.lower().encode(),
                                    tenant_id(state.secret).encode())
    if (user is None or user.kind != "service_principal" or user.disabled or not secret_ok
            or not tenant_ok):
        raise AuthenticationError(_REFUSED)
    token, expires_on = issue_sp_token(state.secret, user)
    return TokenResponse(access_token=token, expires_in=int(expires_on - time.time()),
                         expires_on=expires_on)


@router.get("/auth/whoami")
def whoami(principal: Caller, state: State) -> WhoAmIResponse:
    """The caller and its roles, by workspace name."""
    if principal is LOCAL:
        names = {w.name: "Owner" for w in state.store.list_workspaces()}
        return WhoAmIResponse(name=LOCAL.name, kind="user", roles=names)
    roles = state.store.roles_of(principal.name)
    by_name = {w.name: roles[w.id] for w in state.store.list_workspaces() if w.id in roles}
    return WhoAmIResponse(name=principal.name, kind=principal.kind, roles=by_name)
