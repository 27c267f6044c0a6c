"""Users, roles and tokens through a real ``plinth server`` (PostgreSQL + S3), administered
with the CLI on the server's database, as an operator would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from conftest import write_script
from plinth.cli import app as cli_app
from plinth.core import Experiment, Model, ScriptRunConfig, Workspace
from plinth.core.authentication import (
    InteractiveLoginAuthentication,
    ServicePrincipalAuthentication,
    TokenAuthentication,
)
from plinth.exceptions import AuthenticationError, AuthorizationError

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.remote]

CREDENTIAL_VARIABLES = ("PLINTH_TOKEN", "PLINTH_TENANT_ID", "PLINTH_CLIENT_ID",
                        "PLINTH_CLIENT_SECRET")


@pytest.fixture(autouse=True)
def _no_ambient_credentials(monkeypatch):
    """Each test says which credential it uses."""
    for name in CREDENTIAL_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def new_user(server, *args: str) -> tuple[str, str]:
    """A new user (``args``: e.g. --role Reader --workspace W) and a token of it."""
    name = f"user-{uuid.uuid4().hex[:8]}"
    server.admin("user", "create", name, *args)
    token = json.loads(server.admin("token", "create", name, "--json"))["token"]
    return name, token


def owned_workspace(server, tmp_path: Path) -> tuple[Workspace, Path]:
    """A workspace of the session's admin, and a folder holding its config.json."""
    ws = Workspace.create(f"ws-{uuid.uuid4().hex[:8]}", server_url=server,
                          auth=TokenAuthentication(server.token))
    return ws, ws.write_config(tmp_path / f"cfg-{ws.name}").parent


def status(server, token: str, path: str, method: str = "GET") -> int:
    return httpx.request(method, f"{server}/api/v1{path}",
                         headers={"Authorization": f"Bearer {token}"}, timeout=30).status_code


OTHER_USER = textwrap.dedent("""
    import json, sys
    from plinth.core import Experiment, Model, Run, Workspace
    from plinth.exceptions import AuthorizationError

    out = {}
    try:
        ws = Workspace.from_config(sys.argv[1])
    except AuthorizationError as exc:
        print(json.dumps({"open": f"AuthorizationError: {exc}"}))
        sys.exit(0)
    exp = Experiment(ws, "shared")
    runs = list(exp.get_runs())
    out["runs"] = [r.id for r in runs]
    out["metrics"] = runs[0].get_metrics()
    out["files"] = runs[0].get_file_names()
    out["models"] = [f"{m.name}:{m.version}" for m in Model.list(ws)]
    denied = []
    for name, write in [
        ("start_logging", lambda: exp.start_logging()),
        ("tag", lambda: runs[0].tag("by", "reader")),
        ("register", lambda: Model.register(ws, sys.argv[2], "readers-model")),
        ("new experiment", lambda: Experiment(ws, "readers-exp").start_logging()),
    ]:
        try:
            write()
            denied.append(f"{name}: allowed")
        except AuthorizationError:
            denied.append(name)
    out["denied"] = denied
    print(json.dumps(out))
""")


def test_a_second_user_reads_once_given_a_role_and_cannot_write(plinth_server, tmp_path):
    server = plinth_server
    ws, config = owned_workspace(server, tmp_path)
    run = Experiment(ws, "shared").start_logging()
    run.log("accuracy", 0.93)
    run.upload_file("outputs/notes.txt", str(write_script(tmp_path, "notes.txt", "n")))
    run.complete()
    model_file = tmp_path / "model.pkl"
    model_file.write_bytes(b"weights")
    Model.register(ws, str(model_file), "shared-model")

    name, token = new_user(server)
    script = tmp_path / "other_user.py"
    script.write_text(OTHER_USER)
    env = {**os.environ, "PLINTH_TOKEN": token, "PLINTH_HOME": str(tmp_path / "other-home")}

    def as_other_user() -> dict:
        done = subprocess.run([sys.executable, str(script), str(config), str(model_file)],
                              env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout.strip().splitlines()[-1])

    assert as_other_user()["open"].startswith("AuthorizationError")
    assert ws.name not in status_names(server, token)

    server.admin("user", "set-role", name, "Reader", "--workspace", ws.name)
    seen = as_other_user()
    assert seen["runs"] == [run.id]
    assert seen["metrics"] == {"accuracy": 0.93}
    assert "outputs/notes.txt" in seen["files"]
    assert seen["models"] == ["shared-model:1"]
    assert seen["denied"] == ["start_logging", "tag", "register", "new experiment"]
    assert ws.name in status_names(server, token)
    # Nothing the reader tried was written.
    assert [r.id for r in Experiment(ws, "shared").get_runs()] == [run.id]
    assert [m.name for m in Model.list(ws)] == ["shared-model"]


def status_names(server, token: str) -> set[str]:
    reply = httpx.get(f"{server}/api/v1/workspaces",
                      headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert reply.status_code == 200
    return {w["name"] for w in reply.json()["items"]}


def test_disabled_users_revoked_and_expired_tokens_are_refused_at_once(plinth_server, tmp_path):
    server = plinth_server
    ws, config = owned_workspace(server, tmp_path)
    name, token = new_user(server, "--role", "Contributor", "--workspace", ws.name)
    runs = f"/workspaces/{ws.name}/runs"
    assert status(server, token, runs) == 200
    user_ws = Workspace.from_config(config, auth=TokenAuthentication(token))
    user_run = Experiment(user_ws, "mine").start_logging()

    server.admin("user", "disable", name)
    assert status(server, token, runs) == 401
    with pytest.raises(AuthenticationError, match="disabled"):
        user_run.tag("by", name)
    server.admin("user", "enable", name)
    assert status(server, token, runs) == 200
    user_run.complete()

    (listed,) = json.loads(server.admin("token", "list", "--user", name, "--json"))
    assert listed["status"] == "active" and listed["last_used"] is not None
    server.admin("token", "revoke", listed["id"])
    assert status(server, token, runs) == 401
    (listed,) = json.loads(server.admin("token", "list", "--user", name, "--json"))
    assert listed["status"] == "revoked"

    short = json.loads(server.admin("token", "create", name, "--expires-in-days", "0.00003",
                                    "--json"))  # 2.6 seconds
    assert status(server, short["token"], runs) == 200
    time.sleep(3)
    assert status(server, short["token"], runs) == 401
    statuses = {t["id"]: t["status"] for t in
                json.loads(server.admin("token", "list", "--user", name, "--json"))}
    assert statuses[short["id"]] == "expired"
    assert status(server, "plt_" + "x" * 43, runs) == 401
    assert status(server, "not-even-a-token", runs) == 401


def test_service_principal_logs_runs_and_its_submitted_runs_log_back(plinth_server, tmp_path,
                                                                     script_dir):
    server = plinth_server
    ws, config = owned_workspace(server, tmp_path)
    name = f"sp-{uuid.uuid4().hex[:8]}"
    created = json.loads(server.admin("user", "create", name, "--service-principal", "--role",
                                      "Contributor", "--workspace", ws.name, "--json"))
    assert created["kind"] == "service_principal" and created["client_id"] == name
    sp = ServicePrincipalAuthentication(tenant_id=created["tenant_id"],
                                        service_principal_id=created["client_id"],
                                        service_principal_password=created["client_secret"])
    assert created["client_secret"] not in repr(sp)

    sp_ws = Workspace.from_config(config, auth=sp)
    header = sp.get_authentication_header()
    assert header["Authorization"].startswith("Bearer ey")
    run = Experiment(sp_ws, "from-sp").start_logging()
    run.log("loss", 0.5)
    run.complete()
    assert next(iter(Experiment(ws, "from-sp").get_runs())).get_metrics() == {"loss": 0.5}

    # A run it submits gets the service principal (no PLINTH_TOKEN here) and logs back.
    write_script(script_dir, "train.py", """
        from plinth.core import Run
        run = Run.get_context()
        run.log("epochs", 3)
        run.tag("who", "worker")
    """)
    submitted = Experiment(sp_ws, "from-sp").submit(ScriptRunConfig(str(script_dir), "train.py"))
    details = submitted.wait_for_completion(raise_on_error=False)
    assert details["status"] == "Completed", submitted.get_details_with_logs()
    assert submitted.get_metrics() == {"epochs": 3}
    assert submitted.get_tags()["who"] == "worker"

    wrong = ServicePrincipalAuthentication(created["tenant_id"], name, "pls_wrong")
    with pytest.raises(AuthenticationError):
        Workspace.from_config(config, auth=wrong)
    other_tenant = ServicePrincipalAuthentication(str(uuid.uuid4()), name,
                                                  created["client_secret"])
    with pytest.raises(AuthenticationError):
        Workspace.from_config(config, auth=other_tenant)
    server.admin("user", "disable", name)
    with pytest.raises(AuthenticationError):
        run.get_status()
    with pytest.raises(AuthenticationError):
        Workspace.from_config(config, auth=ServicePrincipalAuthentication(
            created["tenant_id"], name, created["client_secret"]))


def test_login_then_open_workspaces_without_auth(plinth_server, tmp_path, monkeypatch,
                                                 script_dir):
    server = plinth_server
    ws, config = owned_workspace(server, tmp_path)
    name, token = new_user(server, "--role", "Contributor", "--workspace", ws.name)
    monkeypatch.setenv("PLINTH_HOME", str(tmp_path / "home"))
    runner = CliRunner()

    with pytest.raises(AuthenticationError, match="plinth login"):
        Workspace.from_config(config)

    refused = runner.invoke(cli_app, ["login", "--server", server, "--token", "plt_nope"])
    assert refused.exit_code == 1 and "not valid" in refused.output
    done = runner.invoke(cli_app, ["login", "--server", server + "/", "--token", token])
    assert done.exit_code == 0, done.output
    assert f"as {name} (Contributor of {ws.name})" in done.output
    saved = tmp_path / "home" / "credentials.json"
    assert saved.stat().st_mode & 0o777 == 0o600

    opened = Workspace.from_config(config)  # the saved login, for this server
    assert opened.name == ws.name
    interactive = InteractiveLoginAuthentication()
    assert Workspace.from_config(config, auth=interactive).name == ws.name
    assert interactive.get_authentication_header() == {"Authorization": f"Bearer {token}"}
    assert InteractiveLoginAuthentication().get_authentication_header() == {
        "Authorization": f"Bearer {token}"}  # the latest login, before any workspace

    # The worker of a submitted run gets the saved token.
    write_script(script_dir, "train.py", """
        from plinth.core import Run
        Run.get_context().log("done", 1)
    """)
    submitted = Experiment(opened, "login").submit(ScriptRunConfig(str(script_dir), "train.py"))
    assert submitted.wait_for_completion(raise_on_error=False)["status"] == "Completed"
    assert submitted.get_metrics() == {"done": 1}

    assert runner.invoke(cli_app, ["logout", "--server", server]).exit_code == 0
    with pytest.raises(AuthenticationError):
        Workspace.from_config(config)
    with pytest.raises(AuthenticationError, match="plinth login"):
        InteractiveLoginAuthentication().get_authentication_header()


def test_workspaces_created_through_the_server_belong_to_their_creator(plinth_server, tmp_path):
    server = plinth_server
    name, token = new_user(server)
    mine = Workspace.create(f"ws-{uuid.uuid4().hex[:8]}", server_url=server,
                            auth=TokenAuthentication(token))
    users = {u["name"]: u for u in json.loads(server.admin("user", "list", "--json"))}
    assert users[name]["roles"] == {mine.name: "Owner"}
    # The session's admin has no role on it, so cannot even see it.
    assert mine.name not in status_names(server, server.token)
    with pytest.raises(AuthorizationError):
        Workspace.from_config(mine.write_config(tmp_path / "cfg").parent,
                              auth=TokenAuthentication(server.token))
    mine.delete()
    assert name in users and mine.name not in status_names(server, token)


def test_admin_commands_check_their_arguments(plinth_server, tmp_path):
    runner = CliRunner()
    no_db = runner.invoke(cli_app, ["user", "list"])
    assert no_db.exit_code == 2 and "--backend-store-uri" in no_db.output
    bad_role = runner.invoke(cli_app, ["user", "set-role", "x", "Admin", "--workspace", "w",
                                       "--backend-store-uri", plinth_server.database])
    assert bad_role.exit_code == 2 and "Reader, Contributor, Owner" in bad_role.output
    missing = runner.invoke(cli_app, ["token", "create", "nobody-at-all",
                                      "--backend-store-uri", plinth_server.database])
    assert missing.exit_code == 1 and "No user named 'nobody-at-all'" in missing.output
    alone = runner.invoke(cli_app, ["user", "create", "x", "--role", "Reader",
                                    "--backend-store-uri", plinth_server.database])
    assert alone.exit_code == 2 and "go together" in alone.output
