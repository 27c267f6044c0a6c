"""Shared fixtures: every workspace-level test runs on embedded SQLite and on PostgreSQL."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

PG_SERVER = os.environ.get("PLINTH_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")
DATA = Path(__file__).resolve().parents[1] / "examples" / "data"

BACKENDS = [
    "sqlite",
    pytest.param("postgresql", marks=pytest.mark.postgres),
    pytest.param("remote", marks=[pytest.mark.postgres, pytest.mark.remote]),
]


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    """Each test gets its own PLINTH_HOME, so the workspace registry never leaks."""
    home = tmp_path_factory.mktemp("plinth-home")
    monkeypatch.setenv("PLINTH_HOME", str(home))
    monkeypatch.setenv("PLINTH_HEARTBEAT_INTERVAL", "0.5")
    monkeypatch.delenv("PLINTH_RUN_ID", raising=False)
    monkeypatch.delenv("PLINTH_WORKSPACE", raising=False)
    yield home
    # Interactive runs a test left open are ended now, while their database still exists,
    # rather than at interpreter exit.
    from plinth.core import run as run_module

    for run in list(run_module._owned_runs):
        try:
            run.complete()
        except Exception:  # noqa: BLE001 - a test may have deleted its workspace
            run_module._owned_runs.remove(run)


@pytest.fixture(scope="session")
def pg_databases():
    """Makes new PostgreSQL databases on demand (returns their URIs); drops them at the end."""
    psycopg = pytest.importorskip("psycopg")
    admin = PG_SERVER.replace("postgresql+psycopg://", "postgresql://") + "/test"
    try:
        conn = psycopg.connect(admin, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"PostgreSQL is not reachable at {PG_SERVER}: {exc}")
    names: list[str] = []

    def create() -> str:
        names.append(f"plinth_test_{uuid.uuid4().hex[:10]}")
        conn.execute(f'CREATE DATABASE "{names[-1]}"')
        return f"{PG_SERVER}/{names[-1]}"

    try:
        yield create
    finally:
        from plinth import _location

        for name in names:
            for uri in [u for u in _location._stores if u.endswith(f"/{name}")]:
                _location._stores.pop(uri).close()
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.close()


@pytest.fixture(scope="session")
def pg_database(pg_databases):
    """One PostgreSQL database shared by this session's workspace-level tests."""
    return pg_databases()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_http(url: str, process: subprocess.Popen, timeout: float = 120) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args} exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


@contextlib.contextmanager
def running(command: list[str], url: str, env: dict[str, str], log: Path):
    """A service process for the tests, stopped (with its children) at the end."""
    with open(log, "wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    try:
        wait_for_http(url, process)
        yield process
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    """moto's standalone S3 server with a bucket ``plinth-test``; yields its environment."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    moto = Path(sys.executable).with_name("moto_server")
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
           "AWS_DEFAULT_REGION": "us-east-1"}
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with running([str(moto), "-H", "127.0.0.1", "-p", str(port)], f"{url}/", env, log):
        import boto3

        boto3.client("s3", endpoint_url=url, aws_access_key_id="test",
                     aws_secret_access_key="test",
                     region_name="us-east-1").create_bucket(Bucket="plinth-test")
        yield {**env, "FSSPEC_S3_ENDPOINT_URL": url}


class PlinthServer(str):
    """A running ``plinth server``: its URL (this is a ``str``), the database it serves
    (``database``), the environment its admin commands need (``env``: ``PLINTH_HOME`` holds
    the server secret) and the session's admin, who owns the workspaces it creates
    (``token``; ``headers`` for requests of your own)."""

    database: str
    env: dict[str, str]
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def admin(self, *args: str) -> str:
        """Run ``plinth ARGS --backend-store-uri <database>``; return its stdout."""
        plinth = Path(sys.executable).with_name("plinth")
        done = subprocess.run([str(plinth), *args, "--backend-store-uri", self.database],
                              env=self.env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout


@pytest.fixture(scope="session")
def plinth_server(tmp_path_factory, pg_databases, s3_server):
    """A real ``plinth server`` on PostgreSQL with its artifact root in S3, and an admin user
    with a token, made with the CLI on the server's database before it starts."""
    import json

    port = free_port()
    server = PlinthServer(f"http://127.0.0.1:{port}")
    server.database = pg_databases()
    home = tmp_path_factory.mktemp("server-home")
    # The server fails runs whose heartbeat stopped; tests that kill a worker wait for it.
    # The store suite writes schedules and services and reads them back: the server's own
    # scheduler and service supervisor must leave them be (tests of those start servers of
    # their own).
    server.env = {**s3_server, "PLINTH_HEARTBEAT_TIMEOUT": "15", "PLINTH_HOME": str(home),
                  "PLINTH_SCHEDULER": "0", "PLINTH_SUPERVISOR": "0"}
    for name in ("PLINTH_TOKEN", "PLINTH_TENANT_ID", "PLINTH_CLIENT_ID", "PLINTH_CLIENT_SECRET",
                 "PLINTH_SERVER_SECRET"):
        server.env.pop(name, None)
    plinth = Path(sys.executable).with_name("plinth")
    command = [str(plinth), "server", "--backend-store-uri", server.database,
               "--artifact-root", "s3://plinth-test/artifacts", "--port", str(port),
               "--log-level", "warning"]
    server.admin("user", "create", "admin")
    server.token = json.loads(server.admin("token", "create", "admin", "--description",
                                           "the test session's admin", "--json"))["token"]
    log = tmp_path_factory.mktemp("server") / "server.log"
    with running(command, f"{server}/healthz", server.env, log):
        yield server


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


@pytest.fixture(params=BACKENDS[:2])
def metadata_uri(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'meta' / 'plinth.db'}"
    return request.getfixturevalue("pg_database")


@pytest.fixture
def ws(backend, request, tmp_path, monkeypatch):
    """A new workspace on the backend under test (on the server: owned by its admin, whose
    token is PLINTH_TOKEN during the test, so processes the test starts have it too)."""
    from plinth.core import Workspace

    name = f"ws-{uuid.uuid4().hex[:8]}"
    if backend == "sqlite":
        return Workspace.create(name, path=tmp_path / "workspace")
    if backend == "remote":
        server = request.getfixturevalue("plinth_server")
        monkeypatch.setenv("PLINTH_TOKEN", server.token)
        return Workspace.create(name, server_url=server)
    uri = request.getfixturevalue("pg_database")
    return Workspace.create(name, metadata_uri=uri, artifact_root=str(tmp_path / "artifacts"))


@pytest.fixture
def script_dir(tmp_path):
    """A folder to write training scripts into."""
    folder = tmp_path / "src"
    folder.mkdir()
    return folder


def write_script(folder: Path, name: str, body: str) -> Path:
    import textwrap

    path = folder / name
    path.write_text(textwrap.dedent(body))
    return path
