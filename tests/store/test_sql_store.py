"""The Store suite on ``SqlStore``: SQLite and PostgreSQL; and the SQL store's migrations."""

from __future__ import annotations

import functools
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, inspect, text

from plinth._store import migrate, schema
from plinth._store.sql import SqlStore

from . import suite
from .suite import StoreSuite, start_together

process_pool = suite.process_pool  # the fixture; a module of StoreSuite tests must have it

TABLES = {
    "alembic_version", "workspaces", "experiments", "runs", "metric_series", "metric_points",
    "models", "users", "role_assignments", "tokens", "secrets", "datastores", "datasets",
    "run_datasets", "environments", "computes", "published_pipelines", "pipeline_endpoints",
    "schedules", "step_results", "services",
}


class TestSqliteStore(StoreSuite):
    """One SQLite file per class; the suite's tests keep to their own names in it."""

    @pytest.fixture(scope="class")
    @classmethod
    def store_factory(cls, tmp_path_factory):
        path = tmp_path_factory.mktemp("sqlite-store") / "plinth.db"
        return functools.partial(SqlStore, f"sqlite:///{path}")

    @pytest.fixture
    def store(self, store_factory):
        store = store_factory()
        yield store
        store.close()


@pytest.mark.postgres
class TestPostgresStore(StoreSuite):
    """One new PostgreSQL database per class, dropped at the end of the module."""

    @pytest.fixture(scope="class")
    @classmethod
    def store_factory(cls, pg_databases):
        return functools.partial(SqlStore, pg_databases())

    @pytest.fixture
    def store(self, store_factory):
        store = store_factory()
        yield store
        store.close()


# -- migrations -------------------------------------------------------------------------------


@contextmanager
def _engine(uri: str):
    engine = create_engine(uri)
    try:
        yield engine
    finally:
        engine.dispose()


def _revision(uri: str) -> str | None:
    with _engine(uri) as engine:
        return migrate.current_revision(engine)


def _open_at_once(index: int, uri: str) -> str | None:
    """In a pool worker: open ``uri`` at the same moment as the other workers."""
    from alembic import command  # noqa: F401 - imported before the race, not during it

    create_engine(uri).dispose()  # loads the database driver, also before the race
    start_together()
    SqlStore(uri).close()
    return _revision(uri)


class MigrationTests:
    """Subclasses provide ``new_database``: the URI of a new, empty database."""

    def test_new_database_gets_schema(self, new_database):
        assert _revision(new_database) is None
        SqlStore(new_database).close()
        assert _revision(new_database) == migrate.HEAD
        with _engine(new_database) as engine:
            assert TABLES <= set(inspect(engine).get_table_names())

    def test_head_is_the_newest_migration(self):
        from alembic.config import Config
        from alembic.script import ScriptDirectory

        config = Config()
        config.set_main_option("script_location", str(migrate.MIGRATIONS))
        assert ScriptDirectory.from_config(config).get_current_head() == migrate.HEAD

    def test_migrations_match_the_schema(self, new_database):
        from alembic.autogenerate import compare_metadata
        from alembic.migration import MigrationContext

        SqlStore(new_database).close()
        with _engine(new_database) as engine, engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), schema.metadata) == []

    def test_opening_again_is_a_no_op(self, new_database, monkeypatch):
        from alembic import command

        store = SqlStore(new_database)
        ws = store.create_workspace("kept", {"a": 1})
        store.close()

        def fail(*args, **kwargs):
            raise AssertionError("migrations ran on a database at head")

        monkeypatch.setattr(command, "upgrade", fail)
        store = SqlStore(new_database)
        try:
            assert store.get_workspace("kept") == ws
        finally:
            store.close()
        assert _revision(new_database) == migrate.HEAD

    def test_upgrade_from_0003_gives_existing_workspaces_the_builtin_datastores(
        self, new_database
    ):
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(migrate.MIGRATIONS))
        with _engine(new_database) as engine, engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "0003")
            for ws_id, name in [("w1", "old-one"), ("w2", "old-two")]:
                conn.execute(
                    text("INSERT INTO workspaces (id, name, created_at, properties) "
                         "VALUES (:id, :name, 12.5, '{}')"),
                    {"id": ws_id, "name": name},
                )
        assert _revision(new_database) == "0003"
        store = SqlStore(new_database)
        try:
            for ws_id in ("w1", "w2"):
                listed = store.list_datastores(ws_id)
                assert [(d.name, d.kind, d.is_default) for d in listed] == [
                    ("workspaceblobstore", "AzureBlob", True),
                    ("workspacefilestore", "AzureFile", False),
                ]
                for d in listed:
                    assert d.config == {"builtin": True, "prefix": f"datastores/{d.name}"}
                    assert (d.secrets, d.created_at) == ({}, 12.5)
                assert store.get_default_datastore(ws_id).name == "workspaceblobstore"
            assert store.create_dataset("w1", "d", kind="file", definition={}).version == 1
        finally:
            store.close()
        assert _revision(new_database) == migrate.HEAD

    def test_upgrade_from_0004_adds_environments(self, new_database):
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(migrate.MIGRATIONS))
        with _engine(new_database) as engine, engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "0004")
            conn.execute(
                text("INSERT INTO workspaces (id, name, created_at, properties) "
                     "VALUES ('w1', 'old-one', 12.5, '{}')")
            )
        assert _revision(new_database) == "0004"
        with _engine(new_database) as engine:
            assert "environments" not in inspect(engine).get_table_names()
        store = SqlStore(new_database)
        try:
            assert store.get_workspace("old-one").created_at == 12.5
            assert store.list_environments("w1") == []
            first = store.register_environment("w1", "env", definition={"a": 1}, digest="x")
            assert first.version == 1
            assert store.register_environment("w1", "env", definition={},
                                              digest="y").version == 2
            assert store.get_environment("w1", "env", 1) == first
            store.delete_workspace("old-one")  # deletes its environments with it
            assert store.list_environments("w1") == []
        finally:
            store.close()
        assert _revision(new_database) == migrate.HEAD
        with _engine(new_database) as engine, engine.begin() as conn:
            config.attributes["connection"] = conn
            command.downgrade(config, "0004")
            assert "environments" not in inspect(conn).get_table_names()
        assert _revision(new_database) == "0004"

    def test_upgrade_from_0005_adds_computes(self, new_database):
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(migrate.MIGRATIONS))
        with _engine(new_database) as engine, engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "0005")
            conn.execute(
                text("INSERT INTO workspaces (id, name, created_at, properties) "
                     "VALUES ('w1', 'old-one', 12.5, '{}')")
            )
            conn.execute(
                text("INSERT INTO environments (workspace_id, name, version, digest, "
                     "definition, created_at) VALUES ('w1', 'env', 1, 'x', '{}', 13.5)")
            )
        assert _revision(new_database) == "0005"
        with _engine(new_database) as engine:
            assert "computes" not in inspect(engine).get_table_names()
        store = SqlStore(new_database)
        try:
            assert store.get_workspace("old-one").created_at == 12.5
            assert store.get_environment("w1", "env").created_at == 13.5
            assert store.list_computes("w1") == []
            cluster = store.create_compute("w1", "cluster", kind="AmlCompute",
                                           config={"max_nodes": 2})
            assert store.get_compute("w1", "cluster") == cluster
            assert store.list_computes("w1") == [cluster]
            store.delete_workspace("old-one")  # deletes its compute targets with it
            assert store.list_computes("w1") == []
        finally:
            store.close()
        assert _revision(new_database) == migrate.HEAD
        with _engine(new_database) as engine, engine.begin() as conn:
            config.attributes["connection"] = conn
            command.downgrade(config, "0005")
            assert "computes" not in inspect(conn).get_table_names()
            assert "environments" in inspect(conn).get_table_names()
        assert _revision(new_database) == "0005"

    def test_upgrade_from_0006_adds_pipelines(self, new_database):
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(migrate.MIGRATIONS))
        with _engine(new_database) as engine, engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "0006")
            conn.execute(
                text("INSERT INTO workspaces (id, name, created_at, properties) "
                     "VALUES ('w1', 'old-one', 12.5, '{}')")
            )
            conn.execute(
                text("INSERT INTO computes (workspace_id, name, kind, config, state, "
                     "created_at) VALUES ('w1', 'cluster', 'Ray', '{}', 'Succeeded', 13.5)")
            )
        assert _revision(new_database) == "0006"
        pipeline_tables = {"published_pipelines", "pipeline_endpoints", "schedules",
                           "step_results"}
        with _engine(new_database) as engine:
            assert not pipeline_tables & set(inspect(engine).get_table_names())
        store = SqlStore(new_database)
        try:
            assert store.get_compute("w1", "cluster").created_at == 13.5
            assert store.list_published_pipelines("w1") == []
            pipeline = store.create_published_pipeline("w1", "pipe", graph={"steps": []})
            endpoint = store.create_pipeline_endpoint("w1", "serve", pipeline_id=pipeline.id)
            schedule = store.create_schedule("w1", "hourly", pipeline_id=pipeline.id,
                                             experiment_name="exp", recurrence={},
                                             next_fire_at=1.5)
            exp = store.create_experiment("w1", "exp")
            store.create_run(exp.id, "old-run", run_type="step", status="Completed")
            store.record_step_result("w1", "abc", "old-run")
            assert store.get_pipeline_endpoint("w1", name="serve") == endpoint
            assert store.claim_schedule_fire(schedule.id, expected_next_fire_at=1.5,
                                             next_fire_at=2.5)
            assert store.find_step_result("w1", "abc") == "old-run"
            store.delete_workspace("old-one")  # deletes its pipelines with it
            assert store.list_published_pipelines("w1", active_only=False) == []
            assert store.list_schedules(active_only=False) == []
            assert store.find_step_result("w1", "abc") is None
        finally:
            store.close()
        assert _revision(new_database) == migrate.HEAD
        with _engine(new_database) as engine, engine.begin() as conn:
            config.attributes["connection"] = conn
            command.downgrade(config, "0006")
            assert not pipeline_tables & set(inspect(conn).get_table_names())
            assert "computes" in inspect(conn).get_table_names()
        assert _revision(new_database) == "0006"

    def test_upgrade_from_0007_adds_services(self, new_database):
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(migrate.MIGRATIONS))
        with _engine(new_database) as engine, engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "0007")
            conn.execute(
                text("INSERT INTO workspaces (id, name, created_at, properties) "
                     "VALUES ('w1', 'old-one', 12.5, '{}')")
            )
            conn.execute(
                text("INSERT INTO published_pipelines (id, workspace_id, name, graph, "
                     "continue_on_step_failure, status, created_at) VALUES "
                     "('00000000-0000-0000-0000-000000000001', 'w1', 'pipe', '{}', false, "
                     "'Active', 13.5)")
            )
        assert _revision(new_database) == "0007"
        with _engine(new_database) as engine:
            assert "services" not in inspect(engine).get_table_names()
        store = SqlStore(new_database)
        try:
            pipeline = store.get_published_pipeline("w1", "00000000-0000-0000-0000-000000000001")
            assert (pipeline.name, pipeline.created_at) == ("pipe", 13.5)
            assert store.list_services("w1") == []
            service = store.create_service("w1", "scorer", kind="Local", config={"port": 1},
                                           models=["m:1"], inference={})
            assert store.get_service("w1", "scorer") == service
            healthy = store.update_service("w1", "scorer", state="Healthy", pid=7)
            assert store.list_services() == [healthy]
            store.delete_workspace("old-one")  # deletes its services with it
            assert store.list_services() == []
        finally:
            store.close()
        assert _revision(new_database) == migrate.HEAD
        with _engine(new_database) as engine, engine.begin() as conn:
            config.attributes["connection"] = conn
            command.downgrade(config, "0007")
            assert "services" not in inspect(conn).get_table_names()
            assert "published_pipelines" in inspect(conn).get_table_names()
        assert _revision(new_database) == "0007"

    def test_processes_open_a_new_database_at_once(self, new_database, process_pool):
        revisions = process_pool.run_together(_open_at_once, new_database)
        assert revisions == [migrate.HEAD] * len(revisions)
        with _engine(new_database) as engine:
            with engine.connect() as conn:
                assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
            assert TABLES <= set(inspect(engine).get_table_names())
        store = SqlStore(new_database)
        try:
            assert store.create_workspace("works", {}).name == "works"
        finally:
            store.close()


class TestSqliteMigrations(MigrationTests):
    @pytest.fixture
    def new_database(self, tmp_path):
        return f"sqlite:///{tmp_path / 'fresh.db'}"


@pytest.mark.postgres
class TestPostgresMigrations(MigrationTests):
    @pytest.fixture
    def new_database(self, pg_databases):
        return pg_databases()
