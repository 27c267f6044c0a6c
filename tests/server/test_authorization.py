"""Who may call what: every route of the app x every kind of caller.

The routes come from ``app.routes``, so a route added later is covered without touching this
file: it must say who may call it (an auth dependency, or a place on the PUBLIC list), and
the server must enforce it. Runs in-process (FastAPI's TestClient) over a real ``SqlStore``;
``test_end_to_end.py`` does the same through a real ``plinth server``.
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.routing import Mount

from plinth._server import ServerConfig, auth, create_app
from plinth._server.auth import hash_secret, new_client_secret, new_token, tenant_id
from plinth._store import ROLES, SqlStore

# (method, path) anyone may call: liveness, the API's own description, the token exchange.
PUBLIC = {
    ("GET", "/healthz"),
    ("POST", "/api/v1/auth/token"),
    ("GET", "/api/v1/openapi.json"),
    ("HEAD", "/api/v1/openapi.json"),
    ("GET", "/api/v1/docs"),
    ("HEAD", "/api/v1/docs"),
    ("GET", "/docs/oauth2-redirect"),
    ("HEAD", "/docs/oauth2-redirect"),
    # The Studio's sign-in page and the form it posts; signing out only drops the cookie.
    ("GET", "/signin"),
    ("HEAD", "/signin"),
    ("POST", "/signin"),
    ("POST", "/signout"),
}
# Writes (POST, PUT, PATCH, DELETE) under a workspace that only read, and so may be open to
# Readers. Every other write needs Contributor or Owner. MLflow's searches are POSTs.
MLFLOW = "/ws/{workspace}/api/2.0/mlflow"
READ_ONLY_WRITES: set[tuple[str, str]] = {
    ("POST", f"{MLFLOW}/experiments/search"),
    ("POST", f"{MLFLOW}/runs/search"),
    ("POST", f"{MLFLOW}/logged-models/search"),
    # The Studio's endpoint test console forwards a scoring request: it changes nothing.
    ("POST", "/w/{workspace}/endpoints/{name}/test"),
}
WRITES = {"POST", "PUT", "PATCH", "DELETE"}
DEPENDENCIES = {
    auth.authenticated: "any user",
    auth.reader: "Reader",
    auth.contributor: "Contributor",
    auth.owner: "Owner",
}
CALLERS = ["no token", "bad token", "outsider", *ROLES]


def _routes(routes: list[Any], prefix: str = "") -> list[tuple[str, str, Any]]:
    """(method, path, route) of every endpoint, in included routers and mounted apps too.

    FastAPI from 0.13x keeps included routers as such in ``app.routes``;
    ``iter_route_contexts`` gives their routes as served (prefix and router dependencies
    applied). Older versions list the routes themselves.
    """
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # pragma: no cover - older FastAPI
        contexts: Any = routes
    else:
        contexts = iter_route_contexts(routes)
    found = []
    for route in contexts:
        original = getattr(route, "original_route", route)
        if isinstance(original, Mount):
            # A mounted app with routes (not the Studio's static files, which are public).
            if original.routes:
                found += _routes(original.routes, prefix + original.path)
            continue
        for method in sorted(getattr(route, "methods", None) or ()):
            found.append((method, prefix + route.path, route))
    assert len(found) > 20, f"only {len(found)} routes found: FastAPI changed how it lists them"
    return found


def _declared(route: Any) -> set[str]:
    """The auth requirements a route declares (in its dependencies, at any depth)."""
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return set()
    found: set[str] = set()
    pending = list(dependant.dependencies)
    while pending:
        dependant = pending.pop()
        if dependant.call in DEPENDENCIES:
            found.add(DEPENDENCIES[dependant.call])
        pending += dependant.dependencies
    return found


class Server:
    """An app over a SqlStore on SQLite, with one user of each role."""

    def __init__(self, folder, **config: Any):
        self.store = SqlStore(f"sqlite:///{folder / 'plinth.db'}")
        self.app = create_app(ServerConfig(workspace=str(folder), **config), self.store)
        self.client = TestClient(self.app, raise_server_exceptions=False)
        self.tokens: dict[str, str] = {}
        for caller in ["outsider", *ROLES]:
            name = f"{caller.lower()}-{uuid.uuid4().hex[:6]}"
            self.store.create_user(name)
            self.tokens[caller] = new_token()
            self.store.create_token(name, hash_secret(self.tokens[caller]))
        self.names = {caller: self.store.find_token(hash_secret(token)).user.name
                      for caller, token in self.tokens.items()}

    def headers(self, caller: str) -> dict[str, str]:
        if caller == "no token":
            return {}
        if caller == "bad token":
            return {"Authorization": f"Bearer {new_token()}"}
        return {"Authorization": f"Bearer {self.tokens[caller]}"}

    def workspace(self) -> dict[str, str]:
        """A new workspace with a run, a model and a file, and a user of each role on it;
        returns the values of the path parameters that name them."""
        ws = self.store.create_workspace(f"ws-{uuid.uuid4().hex[:8]}", {})
        for role in ROLES:
            self.store.set_role(self.names[role], ws.id, role)
        exp = self.store.create_experiment(ws.id, "exp")
        run = self.store.create_run(exp.id, f"run-{uuid.uuid4().hex[:8]}", run_type="test")
        self.app.state.plinth.artifacts(ws.name).put_bytes("outputs/model.pkl", b"m")
        self.store.create_model_version(ws.id, "m", path="outputs/model.pkl")
        dataset = self.store.create_dataset(ws.id, "m", kind="file", definition={})
        self.store.register_environment(ws.id, "m", definition={}, digest="d1")
        return {"workspace": ws.name, "experiment_id": exp.id, "run_id": run.id, "name": "m",
                "version": "1", "path": "outputs/model.pkl", "dataset_id": dataset.id}

    def close(self) -> None:
        self.client.close()
        self.store.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    server = Server(tmp_path_factory.mktemp("auth-matrix"))
    yield server
    server.close()


def _url(path: str, values: dict[str, str]) -> str:
    return re.sub(r"{(\w+)(?::\w+)?}", lambda m: values.get(m.group(1), "x"), path)


def _call(server: Server, method: str, path: str, caller: str, values: dict[str, str]):
    kwargs: dict[str, Any] = {"headers": server.headers(caller)}
    if method in ("POST", "PUT", "PATCH"):
        kwargs["json"] = {}
    return server.client.request(method, _url(path, values), **kwargs)


def test_every_route_says_who_may_call_it(server):
    """A new route must declare an auth dependency (or be added to PUBLIC on purpose)."""
    problems = []
    for method, path, route in _routes(server.app.routes):
        declared = _declared(route)
        if (method, path) in PUBLIC:
            if declared:
                problems.append(f"{method} {path} is PUBLIC but declares {declared}")
            continue
        if len(declared) != 1:
            problems.append(f"{method} {path} declares {sorted(declared) or 'no auth'}")
            continue
        (needs,) = declared
        if "{workspace}" in path and needs == "any user":
            problems.append(f"{method} {path} is in a workspace but needs no role there")
        if method in WRITES and (method, path) not in READ_ONLY_WRITES and needs == "Reader":
            problems.append(f"{method} {path} writes, but Readers may call it")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("caller", CALLERS)
def test_each_caller_gets_what_its_role_allows(server, caller):
    problems = []
    for method, path, route in _routes(server.app.routes):
        values = server.workspace()  # a fresh one: the Owner may delete it
        response = _call(server, method, path, caller, values)
        got = response.status_code
        declared = _declared(route)
        if (method, path) in PUBLIC:
            ok = got not in (401, 403)
            expected = "not 401/403"
        elif caller in ("no token", "bad token"):
            ok, expected = got == 401, "401"
        else:
            (needs,) = declared or {"?"}
            allowed = needs == "any user" or (
                caller in ROLES and ROLES.index(caller) >= ROLES.index(needs)
            )
            ok = got not in (401, 403) if allowed else got == 403
            expected = "not 401/403" if allowed else "403"
        if got >= 500 or not ok:
            problems.append(f"{method} {path}: {got} (expected {expected}): {response.text[:200]}")
    assert not problems, "\n".join(problems)


def test_401_says_how_to_authenticate(server):
    values = server.workspace()
    response = server.client.get(_url("/api/v1/workspaces/{workspace}", values))
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "plinth login" in response.json()["error"]["message"]
    bad = server.client.get("/api/v1/workspaces", headers={"Authorization": "Basic abc"})
    assert bad.status_code == 401


def test_a_missing_workspace_is_404_for_a_user_and_401_without_a_token(server):
    assert server.client.get("/api/v1/workspaces/nope-nope").status_code == 401
    response = server.client.get("/api/v1/workspaces/nope-nope",
                                 headers=server.headers("outsider"))
    assert response.status_code == 404


def test_creating_a_workspace_makes_the_caller_its_owner(server):
    headers = server.headers("outsider")
    name = f"ws-{uuid.uuid4().hex[:8]}"
    created = server.client.post("/api/v1/workspaces", json={"name": name}, headers=headers)
    assert created.status_code == 201, created.text
    assert server.store.roles_of(server.names["outsider"])[created.json()["id"]] == "Owner"
    assert server.client.delete(f"/api/v1/workspaces/{name}", headers=headers).status_code == 204
    assert server.client.post("/api/v1/workspaces", json={"name": name}).status_code == 401


def test_listing_shows_only_the_callers_workspaces(server):
    mine = server.workspace()["workspace"]
    server.store.create_workspace(f"ws-{uuid.uuid4().hex[:8]}", {})  # nobody's
    for caller in ROLES:
        listed = server.client.get("/api/v1/workspaces", headers=server.headers(caller)).json()
        names = {w["name"] for w in listed["items"]}
        roles = server.store.roles_of(server.names[caller])
        assert mine in names
        assert names == {w.name for w in server.store.list_workspaces() if w.id in roles}
    outsider = server.client.get("/api/v1/workspaces", headers=server.headers("outsider"))
    assert mine not in {w["name"] for w in outsider.json()["items"]}


def test_whoami(server):
    values = server.workspace()
    me = server.client.get("/api/v1/auth/whoami", headers=server.headers("Reader")).json()
    assert me["name"] == server.names["Reader"] and me["kind"] == "user"
    assert me["roles"][values["workspace"]] == "Reader"


def test_a_reader_may_list_datastores_but_not_create_one(server):
    values = server.workspace()
    url = _url("/api/v1/workspaces/{workspace}/datastores", values)
    listed = server.client.get(url, headers=server.headers("Reader"))
    assert listed.status_code == 200, listed.text
    assert [d["name"] for d in listed.json()["items"]] == [
        "workspaceblobstore", "workspacefilestore"
    ]
    body = {"kind": "Local", "config": {"path": "/data"}}
    refused = server.client.put(f"{url}/mine", json=body, headers=server.headers("Reader"))
    assert refused.status_code == 403, refused.text
    created = server.client.put(f"{url}/mine", json=body, headers=server.headers("Contributor"))
    assert created.status_code == 200 and created.json()["name"] == "mine", created.text


def test_a_reader_may_list_environments_but_not_register_one(server):
    values = server.workspace()
    url = _url("/api/v1/workspaces/{workspace}/environments", values)
    reader, contributor = server.headers("Reader"), server.headers("Contributor")
    listed = server.client.get(url, params={"name": "m"}, headers=reader)
    assert listed.status_code == 200, listed.text
    assert [(e["name"], e["version"]) for e in listed.json()["items"]] == [("m", 1)]
    got = server.client.get(f"{url}/m/versions/latest", headers=reader)
    assert got.status_code == 200 and got.json()["digest"] == "d1", got.text
    body = {"definition": {"python": "3.11"}, "digest": "d2"}
    refused = server.client.post(f"{url}/m/versions", json=body, headers=reader)
    assert refused.status_code == 403, refused.text
    created = server.client.post(f"{url}/m/versions", json=body, headers=contributor)
    assert created.is_success and created.json()["version"] == 2, created.text
    again = server.client.post(f"{url}/m/versions", json=body, headers=contributor)
    assert again.is_success and again.json() == created.json(), again.text
    bad = server.client.post(f"{url}/-m/versions", json=body, headers=contributor)
    assert bad.status_code == 400 and "name" in bad.json()["error"]["message"], bad.text
    assert server.client.get(f"{url}/m/versions/3", headers=reader).status_code == 404


def test_a_reader_may_list_computes_but_not_create_or_delete_one(server):
    values = server.workspace()
    ws = server.store.get_workspace(values["workspace"])
    server.store.create_compute(ws.id, "cpu-cluster", kind="AmlCompute", config={"max_nodes": 2})
    url = _url("/api/v1/workspaces/{workspace}/computes", values)
    reader, contributor = server.headers("Reader"), server.headers("Contributor")
    listed = server.client.get(url, headers=reader)
    assert listed.status_code == 200, listed.text
    assert [(c["name"], c["kind"], c["state"]) for c in listed.json()["items"]] == [
        ("cpu-cluster", "AmlCompute", "Succeeded")
    ]
    got = server.client.get(f"{url}/cpu-cluster", headers=reader)
    assert got.status_code == 200 and got.json()["config"] == {"max_nodes": 2}, got.text
    body = {"kind": "Ray", "config": {"address": "ray://head:10001"}}
    refused = server.client.put(f"{url}/ray", json=body, headers=reader)
    assert refused.status_code == 403, refused.text
    assert server.client.delete(f"{url}/cpu-cluster", headers=reader).status_code == 403
    created = server.client.put(f"{url}/ray", json=body, headers=contributor)
    assert created.status_code == 200, created.text
    assert (created.json()["name"], created.json()["config"]) == ("ray", body["config"])
    again = server.client.put(f"{url}/ray", json=body, headers=contributor)
    assert again.status_code == 409 and "ray" in again.json()["error"]["message"], again.text
    for name, bad in [("local", body), ("1st", body), ("ray-2", {"kind": "Local"}),
                      ("ray-2", {"kind": "Ray", "config": [1]})]:
        response = server.client.put(f"{url}/{name}", json=bad, headers=contributor)
        assert response.status_code in (400, 422), response.text
    paged = server.client.get(url, params={"max_results": 1}, headers=reader).json()
    assert [c["name"] for c in paged["items"]] == ["cpu-cluster"] and paged["next_page_token"]
    deleted = server.client.delete(f"{url}/ray", headers=contributor)
    assert deleted.status_code == 204, deleted.text
    missing = server.client.get(f"{url}/ray", headers=reader)
    assert missing.status_code == 404 and values["workspace"] in missing.text, missing.text
    assert server.client.delete(f"{url}/ray", headers=contributor).status_code == 404


def test_disabled_users_and_revoked_tokens_are_refused_at_once(tmp_path):
    server = Server(tmp_path)
    try:
        values = server.workspace()
        url = _url("/api/v1/workspaces/{workspace}/runs", values)
        headers = server.headers("Owner")
        assert server.client.get(url, headers=headers).status_code == 200
        server.store.set_user_disabled(server.names["Owner"])
        refused = server.client.get(url, headers=headers)
        assert refused.status_code == 401 and "disabled" in refused.text
        server.store.set_user_disabled(server.names["Owner"], False)
        assert server.client.get(url, headers=headers).status_code == 200

        (token,) = server.store.list_tokens(server.names["Owner"])
        server.store.revoke_token(token.id)
        assert server.client.get(url, headers=headers).status_code == 401
    finally:
        server.close()


def test_expired_tokens_are_refused(server):
    values = server.workspace()
    token = new_token()
    server.store.create_token(server.names["Owner"], hash_secret(token),
                              expires_at=time.time() + 1)
    url = _url("/api/v1/workspaces/{workspace}", values)
    headers = {"Authorization": f"Bearer {token}"}
    assert server.client.get(url, headers=headers).status_code == 200
    time.sleep(1.1)
    assert server.client.get(url, headers=headers).status_code == 401


def test_last_used_is_recorded(server):
    token = new_token()
    record = server.store.create_token(server.names["Reader"], hash_secret(token))
    server.client.get("/api/v1/workspaces", headers={"Authorization": f"Bearer {token}"})
    (used,) = [t for t in server.store.list_tokens(server.names["Reader"]) if t.id == record.id]
    assert used.last_used_at is not None and used.last_used_at >= record.created_at


def test_service_principal_token_exchange(server, monkeypatch):
    state = server.app.state.plinth
    secret = new_client_secret()
    name = f"sp-{uuid.uuid4().hex[:6]}"
    server.store.create_user(name, "service_principal", hash_secret(secret))
    values = server.workspace()
    server.store.set_role(name, server.store.get_workspace(values["workspace"]).id, "Reader")
    body = {"tenant_id": tenant_id(state.secret), "client_id": name, "client_secret": secret}

    reply = server.client.post("/api/v1/auth/token", json=body)
    assert reply.status_code == 200, reply.text
    assert reply.headers["cache-control"] == "no-store"
    data = reply.json()
    assert data["token_type"] == "Bearer" and 3500 < data["expires_in"] <= 3600
    headers = {"Authorization": f"Bearer {data['access_token']}"}
    url = _url("/api/v1/workspaces/{workspace}/runs", values)
    assert server.client.get(url, headers=headers).status_code == 200
    write = _url("/api/v1/workspaces/{workspace}/experiments", values)
    assert server.client.post(write, json={"name": "e"}, headers=headers).status_code == 403

    for wrong in ({"client_secret": new_client_secret()}, {"client_id": "nobody"},
                  {"tenant_id": str(uuid.uuid4())},
                  {"client_id": server.names["Owner"]}):  # a user, not a service principal
        refused = server.client.post("/api/v1/auth/token", json={**body, **wrong})
        assert refused.status_code == 401, wrong

    # A disabled service principal can neither exchange nor use the token it holds.
    server.store.set_user_disabled(name)
    assert server.client.get(url, headers=headers).status_code == 401
    assert server.client.post("/api/v1/auth/token", json=body).status_code == 401
    server.store.set_user_disabled(name, False)

    # An expired or forged token is refused.
    user = server.store.get_user(name)
    old, _ = auth.issue_sp_token(state.secret, user, seconds=10, now=time.time() - 60)
    forged, _ = auth.issue_sp_token(b"another server's secret, long enough to sign", user)
    for token in (old, forged, data["access_token"][:-4] + "AAAA"):
        response = server.client.get(url, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401


def test_without_auth_every_caller_is_the_owner(tmp_path):
    server = Server(tmp_path, auth=False)
    try:
        values = server.workspace()
        assert server.client.get(_url("/api/v1/workspaces/{workspace}/runs", values)).is_success
        assert server.client.get("/api/v1/workspaces").json()["items"]
        name = f"ws-{uuid.uuid4().hex[:8]}"
        assert server.client.post("/api/v1/workspaces", json={"name": name}).status_code == 201
        assert server.client.delete(f"/api/v1/workspaces/{name}").status_code == 204
    finally:
        server.close()


def test_the_server_secret_is_shared_and_kept_outside_the_database(tmp_path, monkeypatch):
    monkeypatch.delenv(auth.ENV_SERVER_SECRET, raising=False)
    uri = f"sqlite:///{tmp_path / 'plinth.db'}"
    first = auth.server_secret(uri)
    assert (tmp_path / "server.key").stat().st_mode & 0o777 == 0o600
    assert auth.server_secret(uri) == first  # read back, not made again
    monkeypatch.setenv("PLINTH_HOME", str(tmp_path / "home"))
    team = auth.server_secret("postgresql+psycopg://db/plinth")
    assert (tmp_path / "home" / "server.key").is_file() and team != first
    monkeypatch.setenv(auth.ENV_SERVER_SECRET, "s" * 40)
    assert auth.server_secret(uri) == b"s" * 40
    assert tenant_id(b"s" * 40) == tenant_id(b"s" * 40) != tenant_id(first)
    monkeypatch.setenv(auth.ENV_SERVER_SECRET, "short")
    with pytest.raises(Exception, match="too short"):
        auth.server_secret(uri)
