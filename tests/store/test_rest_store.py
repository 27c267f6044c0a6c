"""The Store suite on ``RestStore``: every call over HTTP to a real ``plinth server``.

The server is the session's ``plinth_server`` (PostgreSQL + moto S3); the stores here call it
with the token of its admin, who owns every workspace the suite creates through it.

A ``RestStore`` is bound to one workspace name: calls that take a workspace id find the
workspace's name from the id (``RestStore._names``), but calls that take only an experiment
or run id go to the bound workspace. So each test gets its own store factory, bound to a
new workspace that the ``store`` fixture creates and that is the suite's ``ws``; the stores
of the test's child processes are bound to it too. The suite's tests that need what a store
bound to one workspace on a server cannot do are skipped (see ``supports``); the last tests
here check what the server does in their place.
"""

from __future__ import annotations

import functools
import uuid
from typing import Any

import pytest

from plinth._api.client import ApiClient
from plinth._artifacts.rest import RestArtifactStore
from plinth._store.base import MetricPoint, ModelRecord, RunStatus
from plinth._store.rest import RestStore, ServerOnlyError
from plinth.exceptions import NotFoundError, PlinthError

from . import suite
from .suite import StoreSuite, unique

pytestmark = [pytest.mark.postgres, pytest.mark.remote, pytest.mark.slow]

process_pool = suite.process_pool  # the fixture; a module of StoreSuite tests must have it


class ModelFilesRestStore(RestStore):
    """A ``RestStore`` that puts an empty file at a model's ``path`` before registering it.

    The server registers a model version only where ``path`` names a file in the workspace
    (the SDK uploads the files first), while the suite registers made-up paths; everything
    else is ``RestStore``'s own.
    """

    def create_model_version(self, workspace_id: str, name: str, *, path: str,
                             **kwargs: Any) -> ModelRecord:
        self._name_of(workspace_id)  # NotFoundError for a workspace the server lacks
        RestArtifactStore(self.client, self._names[workspace_id]).put_bytes(path, b"")
        return super().create_model_version(workspace_id, name, path=path, **kwargs)


def open_rest_store(server_url: str, token: str, workspace_name: str,
                    **kwargs: Any) -> RestStore:
    """A store of ``workspace_name`` on ``server_url``, with an HTTP client of its own
    (module-level, so ``functools.partial`` of it can be pickled into worker processes)."""
    headers = {"Authorization": f"Bearer {token}"}
    client = ApiClient(server_url, headers=lambda: headers)
    return ModelFilesRestStore(client, workspace_name, **kwargs)


class TestRestStore(StoreSuite):
    """Through the server: its routes, its auth and its own ``SqlStore`` on PostgreSQL."""

    supports = StoreSuite.supports - {
        "heartbeat_timeout",  # the server applies its own (PLINTH_HEARTBEAT_TIMEOUT=15)
        "users",  # users, roles and tokens are administered on the server's database
        "runs_in_other_workspaces",  # runs and experiments by id: the bound workspace's only
        "unknown_ids_read_empty",  # 404 for a run or workspace the server cannot find
        "scheduler",  # the scheduler runs inside the server, on the server's own store
        "supervisor",  # so does the service supervisor
    }

    @pytest.fixture
    def store_factory(self, plinth_server):
        return functools.partial(open_rest_store, str(plinth_server), plinth_server.token,
                                 unique("ws"))

    @pytest.fixture
    def store(self, store_factory):
        """The store of a new workspace (a ``RestStore`` is always of one that exists)."""
        store = store_factory()
        try:
            store.create_workspace(store.workspace_name, {})
            yield store
        finally:
            store.close()

    @pytest.fixture
    def ws(self, store):
        """The workspace this test's stores are bound to."""
        return store.get_workspace(store.workspace_name)

    # -- what the server does instead (see the tests that need "unknown_ids_read_empty") ----

    def test_unknown_workspace_ids_and_runs_raise(self, store, ws, exp):
        missing = uuid.uuid4().hex
        listings = [store.list_experiments, store.list_models, store.list_secrets,
                    store.list_datastores, store.list_datasets, store.list_environments,
                    store.list_computes, store.list_services]
        for listing in listings:
            with pytest.raises(NotFoundError, match=missing):
                listing(missing)
        for call in (store.get_compute, store.delete_compute):
            with pytest.raises(NotFoundError):
                call(missing, "cluster")
        run_id = unique("missing")
        with pytest.raises(NotFoundError, match=run_id):
            store.log_metrics(run_id, [MetricPoint("loss", 1.0)])
        with pytest.raises(NotFoundError, match=run_id):
            store.get_metrics(run_id)
        run = store.create_run(exp.id, unique("run"), run_type="test")
        assert store.get_metrics(run.id) == []

    def test_missing_computes_raise_on_the_server(self, store, ws):
        # Names a URL would mangle ('', '..') are refused before any request is made.
        for call in (store.get_compute, store.delete_compute):
            for name in ("missing", "local", "", "..", "a\x00b", "x" * 300):
                with pytest.raises(NotFoundError, match="compute") as caught:
                    call(ws.id, name)
                assert ws.name in str(caught.value), caught.value
        assert store.list_computes(ws.id) == []

    def test_deleted_workspace_is_gone_and_its_name_starts_empty(self, store):
        doomed = store.create_workspace(unique("ws"), {})
        kept = store.create_workspace(unique("ws"), {})
        for workspace in (doomed, kept):
            store.register_environment(workspace.id, "env", definition={}, digest="1")
            store.register_environment(workspace.id, "env", definition={}, digest="2")
            store.create_compute(workspace.id, "cluster", kind="AmlCompute", config={})
            store.create_model_version(workspace.id, "model", path="p")
            store.create_dataset(workspace.id, "d", kind="file", definition={})
            store.set_secrets(workspace.id, {"a": "1"})
        store.delete_workspace(doomed.name)
        for listing in (store.list_environments, store.list_computes, store.list_models):
            with pytest.raises(NotFoundError, match=doomed.name):
                listing(doomed.id)
        assert [e.version for e in store.list_environments(kept.id)] == [2, 1]
        assert [c.name for c in store.list_computes(kept.id)] == ["cluster"]
        assert [m.version for m in store.list_models(kept.id)] == [1]
        again = store.create_workspace(doomed.name, {})
        assert again.id != doomed.id
        assert store.list_environments(again.id) == []
        assert store.list_computes(again.id) == []
        assert store.list_models(again.id) == []
        assert store.list_datasets(again.id) == []
        assert store.list_secrets(again.id) == []
        assert store.register_environment(again.id, "env", definition={},
                                          digest="2").version == 1

    # -- pipelines: what the server does instead (see the tests that need "scheduler") ------

    def test_the_schedulers_calls_are_the_servers_own(self, store, ws):
        pipeline = store.create_published_pipeline(ws.id, "pipe", graph={})
        schedule = store.create_schedule(ws.id, "hourly", pipeline_id=pipeline.id,
                                         experiment_name="exp", recurrence={}, next_fire_at=1.0)
        calls = [
            lambda: store.claim_schedule_fire(schedule.id, expected_next_fire_at=1.0,
                                              next_fire_at=2.0),
            lambda: store.set_schedule_last_run(schedule.id, "run"),
            lambda: store.list_schedules(),
        ]
        for call in calls:
            with pytest.raises(ServerOnlyError, match="inside the workspace server") as caught:
                call()
            assert isinstance(caught.value, NotImplementedError)
            assert isinstance(caught.value, PlinthError)
        assert store.get_schedule(ws.id, schedule.id) == schedule


    def test_deleted_workspace_takes_its_pipelines(self, store, ws, exp):
        doomed = store.create_workspace(unique("ws"), {})
        pipeline = store.create_published_pipeline(doomed.id, "pipe", graph={})
        endpoint = store.create_pipeline_endpoint(doomed.id, "serve", pipeline_id=pipeline.id)
        mine = store.create_published_pipeline(ws.id, "pipe", graph={})
        run = store.create_run(exp.id, unique("run"), run_type="step")
        store.set_status(run.id, RunStatus.COMPLETED)
        store.record_step_result(ws.id, "abc", run.id)
        store.delete_workspace(doomed.name)
        listings = [store.list_published_pipelines, store.list_pipeline_endpoints,
                    store.list_schedules]
        for listing in listings:
            with pytest.raises(NotFoundError, match=doomed.name):
                listing(doomed.id)
        with pytest.raises(NotFoundError):
            store.get_pipeline_endpoint(doomed.id, endpoint_id=endpoint.id)
        again = store.create_workspace(doomed.name, {})
        for listing in listings:
            assert listing(again.id, active_only=False) == []
        with pytest.raises(NotFoundError, match="published pipeline"):
            store.get_published_pipeline(again.id, pipeline.id)
        assert store.list_published_pipelines(ws.id) == [mine]
        assert store.find_step_result(ws.id, "abc") == run.id
        assert store.find_step_result(again.id, "abc") is None

    # -- web services: what the server does instead (see the tests that need "supervisor") --

    def test_every_workspaces_services_are_the_servers_own(self, store, ws):
        service = store.create_service(ws.id, "scorer", kind="Local", config={}, models=[],
                                       inference={})
        with pytest.raises(ServerOnlyError, match="inside the workspace server") as caught:
            store.list_services()
        assert isinstance(caught.value, NotImplementedError)
        assert store.list_services(ws.id) == [service]

    def test_missing_services_raise_on_the_server(self, store, ws):
        # Names no service can have ('', '..') are refused before any request is made.
        for call in (store.get_service, store.delete_service):
            for name in ("missing", "", "..", "a\x00b", "x" * 300, "Upper"):
                with pytest.raises(NotFoundError, match="service") as caught:
                    call(ws.id, name)
                assert ws.name in str(caught.value), caught.value
        assert store.list_services(ws.id) == []

    def test_deleted_workspace_takes_its_services(self, store, ws):
        doomed = store.create_workspace(unique("ws"), {})
        for workspace in (doomed, ws):
            store.create_service(workspace.id, "scorer", kind="ACI", config={}, models=[],
                                 inference={})
        store.delete_workspace(doomed.name)
        with pytest.raises(NotFoundError, match=doomed.name):
            store.list_services(doomed.id)
        again = store.create_workspace(doomed.name, {})
        assert store.list_services(again.id) == []
        with pytest.raises(NotFoundError, match="service"):
            store.get_service(again.id, "scorer")
        assert [s.name for s in store.list_services(ws.id)] == ["scorer"]
