"""The workspace key vault. The server's store encrypts values at rest with a key that never
leaves the server; listings carry names only, and values travel only in request and
response bodies (never in URLs, so access logs cannot record them)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response

from plinth._api import Page, SecretNamesRequest, SetSecretsRequest
from plinth._server.auth import contributor, reader
from plinth._server.routes._common import MaxResults, PageToken, State, WorkspaceName, paginate
from plinth._store import SecretRecord

router = APIRouter(tags=["secrets"])

SECRETS = "/workspaces/{workspace}/secrets"
SecretName = Annotated[str, Path(min_length=1, max_length=127)]


@router.get(SECRETS, dependencies=[Depends(reader)])
def list_secrets(workspace: WorkspaceName, state: State, max_results: MaxResults = 1000,
                 page_token: PageToken = None) -> Page[SecretRecord]:
    """Names and times of the workspace's secrets; never their values."""
    items = state.store.list_secrets(state.workspace(workspace).id)
    return paginate(items, max_results, page_token)


@router.post(SECRETS, status_code=204, dependencies=[Depends(contributor)])
def set_secrets(workspace: WorkspaceName, body: SetSecretsRequest, state: State) -> None:
    """Create or replace each secret of the body, all or none."""
    state.store.set_secrets(state.workspace(workspace).id, body.secrets)


# Reading values needs the contributor role: a reader may see which secrets exist, but
# values are credentials (runs, which read them, act as contributors anyway).
@router.post(f"{SECRETS}-get", dependencies=[Depends(contributor)])
def get_secrets(workspace: WorkspaceName, body: SecretNamesRequest, state: State,
                response: Response) -> dict[str, str]:
    """The values of those of the named secrets that exist."""
    response.headers["Cache-Control"] = "no-store"
    return state.store.get_secrets(state.workspace(workspace).id, body.names)


@router.post(f"{SECRETS}-delete", status_code=204, dependencies=[Depends(contributor)])
def delete_secrets(workspace: WorkspaceName, body: SecretNamesRequest, state: State) -> None:
    """Delete the named secrets; 404 (deleting none) if one does not exist."""
    state.store.delete_secrets(state.workspace(workspace).id, body.names)


@router.delete(f"{SECRETS}/{{name}}", status_code=204, dependencies=[Depends(contributor)])
def delete_secret(workspace: WorkspaceName, name: SecretName, state: State) -> None:
    state.store.delete_secrets(state.workspace(workspace).id, [name])
