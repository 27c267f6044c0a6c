"""Shared fixtures: every workspace-level test runs on embedded SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

PG_SERVER = os.environ.get("PLINTH_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")
DATA = Path(__file__).resolve().parents[1] / "examples" / "data"

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


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


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


@pytest.fixture
def metadata_uri(backend, request, tmp_path):
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'meta' / 'plinth.db'}"
    return request.getfixturevalue("pg_database")


@pytest.fixture
def ws(backend, request, tmp_path):
    """A new workspace on the backend under test."""
    from plinth.core import Workspace

    name = f"ws-{uuid.uuid4().hex[:8]}"
    if backend == "sqlite":
        return Workspace.create(name, path=tmp_path / "workspace")
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
