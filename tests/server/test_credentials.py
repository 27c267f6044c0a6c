"""The SDK's side of authentication, without a server: the default credential chain, the
login cache, service principal token refresh, and what a run's worker is given."""

from __future__ import annotations

import io
import json
import time

import pytest

from plinth._api import credentials
from plinth._location import WorkspaceLocation
from plinth.core import Workspace
from plinth.core.authentication import (
    InteractiveLoginAuthentication,
    ServicePrincipalAuthentication,
    TokenAuthentication,
)
from plinth.exceptions import AuthenticationError, UserErrorException

SERVER = "http://plinth.example:5000"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch):
    for name in ("PLINTH_TOKEN", *credentials.SP_VARIABLES):
        monkeypatch.delenv(name, raising=False)
    credentials._env_principals.clear()


@pytest.fixture
def exchanges(monkeypatch):
    """Fake token exchanges: each returns a new token valid for ``lifetime[0]`` seconds."""
    calls: list[tuple[str, str, str, str]] = []
    lifetime = [3600.0]

    def exchange(server_url, tenant_id, client_id, client_secret):
        calls.append((server_url, tenant_id, client_id, client_secret))
        return f"sp-token-{len(calls)}", time.time() + lifetime[0]

    monkeypatch.setattr(credentials, "exchange_client_secret", exchange)
    return calls, lifetime


def test_the_login_cache_is_per_server_and_private(_isolated_home):
    assert credentials.cached_login(SERVER) is None
    path = credentials.save_login(SERVER + "/", "plt_one", "alice")
    assert path == _isolated_home / "credentials.json"
    assert path.stat().st_mode & 0o777 == 0o600
    credentials.save_login("http://other:1", "plt_two", "bob")
    assert credentials.cached_login(SERVER)[1]["token"] == "plt_one"
    assert credentials.cached_login()[0] == "http://other:1"  # the latest
    assert credentials.default_headers(SERVER) == {"Authorization": "Bearer plt_one"}
    assert credentials.forget_login(SERVER) is True
    assert credentials.forget_login(SERVER) is False
    assert credentials.default_headers(SERVER) == {}
    assert set(json.loads(path.read_text())["servers"]) == {"http://other:1"}


def test_default_chain_order(monkeypatch, exchanges):
    calls, _ = exchanges
    credentials.save_login(SERVER, "plt_saved", "alice")
    assert credentials.default_token(SERVER) == "plt_saved"
    for name, value in zip(credentials.SP_VARIABLES, ("tenant", "bot", "pls_secret"),
                           strict=True):
        monkeypatch.setenv(name, value)
    assert credentials.default_token(SERVER) == "sp-token-1"
    assert credentials.default_token(SERVER) == "sp-token-1"  # kept until near its expiry
    assert calls == [(SERVER, "tenant", "bot", "pls_secret")]
    monkeypatch.setenv("PLINTH_TOKEN", "plt_env")
    assert credentials.default_token(SERVER) == "plt_env"


def test_service_principal_tokens_are_renewed_before_they_expire(exchanges):
    calls, lifetime = exchanges
    sp = ServicePrincipalAuthentication("tenant", "bot", "pls_secret")
    assert sp._header_for(SERVER) == {"Authorization": "Bearer sp-token-1"}
    assert sp.get_authentication_header() == {"Authorization": "Bearer sp-token-1"}
    assert len(calls) == 1
    lifetime[0] = credentials.REFRESH_MARGIN - 1  # from now on, tokens are always near expiry
    sp._tokens._tokens.clear()
    assert sp._header_for(SERVER) == {"Authorization": "Bearer sp-token-2"}
    assert sp._header_for(SERVER) == {"Authorization": "Bearer sp-token-3"}
    assert "pls_secret" not in repr(sp) and "pls_secret" not in repr(sp._tokens)


def test_what_a_runs_worker_is_given(monkeypatch, exchanges):
    plain = WorkspaceLocation("w", server_url=SERVER)
    assert plain.credential_env() == {}  # nothing to pass (a server without auth)
    credentials.save_login(SERVER, "plt_saved", "alice")
    assert plain.credential_env() == {"PLINTH_TOKEN": "plt_saved"}
    monkeypatch.setenv("PLINTH_TOKEN", "plt_env")
    assert plain.credential_env() == {}  # inherited as it is

    token = WorkspaceLocation("w", server_url=SERVER, auth=TokenAuthentication("plt_mine"))
    assert token.credential_env() == {"PLINTH_TOKEN": "plt_mine", "PLINTH_TENANT_ID": None,
                                      "PLINTH_CLIENT_ID": None, "PLINTH_CLIENT_SECRET": None}
    sp = ServicePrincipalAuthentication("tenant", "bot", "pls_secret")
    assert WorkspaceLocation("w", server_url=SERVER, auth=sp).credential_env() == {
        "PLINTH_TENANT_ID": "tenant", "PLINTH_CLIENT_ID": "bot",
        "PLINTH_CLIENT_SECRET": "pls_secret", "PLINTH_TOKEN": None}
    embedded = WorkspaceLocation("w", "sqlite:////tmp/x/plinth.db", "/tmp/x/artifacts", auth=sp)
    assert embedded.credential_env() == {}


def test_the_credential_is_never_serialized_nor_compared():
    auth = TokenAuthentication("plt_secret_value")
    with_auth = WorkspaceLocation("w", server_url=SERVER, auth=auth)
    without = WorkspaceLocation("w", server_url=SERVER)
    assert "plt_secret_value" not in with_auth.to_json() + repr(with_auth) + repr(auth)
    assert json.loads(with_auth.to_json()) == json.loads(without.to_json())
    assert with_auth == without
    assert with_auth._key() != without._key()  # each credential gets its own client


def test_token_authentication_takes_a_callable():
    audiences = []
    auth = TokenAuthentication(lambda audience: audiences.append(audience) or "plt_x")
    assert auth._header_for(SERVER + "/") == {"Authorization": "Bearer plt_x"}
    assert audiences == [SERVER]
    with pytest.raises(UserErrorException):
        TokenAuthentication("")
    with pytest.raises(AuthenticationError):
        TokenAuthentication(lambda audience: "")._header_for(SERVER)


def test_interactive_login_without_a_terminal_says_how_to_log_in(monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO())  # not a terminal
    with pytest.raises(AuthenticationError, match=f"plinth login --server {SERVER}"):
        InteractiveLoginAuthentication()._header_for(SERVER)
    credentials.save_login(SERVER, "plt_saved", "alice")
    assert InteractiveLoginAuthentication()._header_for(SERVER) == {
        "Authorization": "Bearer plt_saved"}
    with pytest.raises(AuthenticationError):  # force: asks again, and cannot here
        InteractiveLoginAuthentication(force=True)._header_for(SERVER)


def test_an_embedded_workspace_needs_no_login_and_refuses_foreign_credentials(tmp_path):
    ws = Workspace.create("embedded", path=tmp_path / "w",
                          auth=InteractiveLoginAuthentication())
    assert Workspace.get("embedded", auth=TokenAuthentication("plt_unused")) == ws
    with pytest.raises(UserErrorException, match="not a Plinth credential"):
        Workspace.get("embedded", auth=object())
