"""One test suite for the :class:`~plinth._store.base.Store` protocol, run on every implementation.

Subclass :class:`StoreSuite` in a ``test_*.py`` module (as Optuna's ``pytest_storages`` and
Dagster's ``TestRunStorage`` do) and provide two fixtures:

``store_factory``
    A picklable callable; ``store_factory(**kwargs)`` opens a new store on the same backing
    database as ``store`` (``heartbeat_timeout=`` is the one keyword the suite passes). Child
    processes call it too, so it must be importable by reference (``functools.partial`` of a
    class is).
``store``
    The store under test, usually ``store_factory()``, closed after the test.

A store that cannot do everything the suite checks says so in ``supports``: the subclass
leaves out the :data:`CAPABILITIES` it lacks, and the tests that need one (marked with
:func:`needs`) are skipped for it, with the capability's description as the reason.

The module must also expose the session-scoped :func:`process_pool` fixture
(``process_pool = suite.process_pool``), which the multi-process tests share.

Every test makes its own workspace, experiment and run names, so one backing database may be
shared by a whole test class. The one global effect is the stale-run sweep: the liveness tests
fail every active run in the database whose heartbeat is older than half a second.
"""

from __future__ import annotations

import dataclasses
import importlib
import math
import multiprocessing
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from plinth._store.base import (
    BUILTIN_DATASTORES,
    COMPUTE_KINDS,
    PIPELINE_STATES,
    SERVICE_KINDS,
    SERVICE_STATES,
    ComputeRecord,
    DatasetRecord,
    DatastoreRecord,
    EnvironmentRecord,
    ExperimentRecord,
    MetricPoint,
    ModelRecord,
    PipelineEndpointRecord,
    PublishedPipelineRecord,
    RunDatasetRecord,
    RunRecord,
    RunStatus,
    ScheduleRecord,
    SecretRecord,
    ServiceRecord,
    Store,
    TokenMatch,
    TokenRecord,
    UserRecord,
    WorkspaceRecord,
)
from plinth.exceptions import AlreadyExistsError, NotFoundError, ValidationError

__all__ = [
    "CAPABILITIES", "PROCESSES", "StoreSuite", "Workers", "needs", "process_pool",
    "start_together",
]

PROCESSES = 3
HEARTBEAT_TIMEOUT = 0.5
STALE_AFTER = HEARTBEAT_TIMEOUT + 0.1
TERMINAL = [RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELED]


CAPABILITIES = {
    "heartbeat_timeout": "apply the heartbeat_timeout= it is opened with (a workspace "
                         "server's store applies the server's own timeout)",
    "users": "manage users, roles and tokens (they are administered on the server's database)",
    "runs_in_other_workspaces": "reach experiments and runs by id in more than one workspace "
                                "(it is bound to one workspace)",
    "unknown_ids_read_empty": "read a run or workspace it cannot find as empty (listings and "
                              "metrics of an unknown or deleted one raise NotFoundError: the "
                              "server answers 404)",
    "scheduler": "claim schedule firings, record their runs or list every workspace's "
                 "schedules (the scheduler runs inside the server, on the server's own store)",
    "supervisor": "list every workspace's services (the service supervisor runs inside the "
                  "server, on the server's own store)",
}
"""What a store may lack, by name: each is a phrase that follows "<the store> does not"."""


def needs(*capabilities: str) -> Callable[[Callable], Callable]:
    """Mark a test that only applies to a store with these :data:`CAPABILITIES`."""
    unknown = set(capabilities) - set(CAPABILITIES)
    assert not unknown, f"unknown capabilities {sorted(unknown)}"

    def mark(test: Callable) -> Callable:
        test._store_needs = frozenset(capabilities) | getattr(test, "_store_needs", frozenset())
        return test

    return mark


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


# -- worker processes -------------------------------------------------------------------------
#
# One pool of 'spawn' processes serves the whole session: a fresh interpreter takes seconds to
# import SQLAlchemy and a driver, so the pool is started once, as the first StoreSuite class
# starts when any selected test needs it, and warms up while other tests run. Each task calls
# start_together() after its slow set-up, so all PROCESSES tasks of one call hit the store at
# the same moment; a worker blocked there cannot take a second task, so each task of a
# Workers.run_together() call gets its own process.

WORKER_IMPORTS = ("plinth._store",)
_barrier: Any = None


def _init_worker(barrier) -> None:
    global _barrier
    _barrier = barrier
    for module in WORKER_IMPORTS:
        importlib.import_module(module)


def start_together() -> None:
    """In a pool worker: wait until every task of this ``run_together`` call is ready."""
    _barrier.wait(timeout=60)


class Workers:
    """``PROCESSES`` spawned worker processes (the ``process_pool`` fixture)."""

    def __init__(self, pool, barrier):
        self._pool = pool
        self._barrier = barrier

    def run_together(self, fn: Callable, *args: Any) -> list[Any]:
        """Call ``fn(index, *args)`` in each worker at once; return their results.

        ``fn`` is a module-level function that calls :func:`start_together` once.
        """
        pending = [self._pool.apply_async(fn, (index, *args)) for index in range(PROCESSES)]
        deadline = time.monotonic() + 120
        while not all(p.ready() for p in pending) and time.monotonic() < deadline:
            if any(p.ready() and not p.successful() for p in pending):
                self._barrier.abort()  # one failed before the barrier: free the others
            time.sleep(0.01)
        try:
            return [p.get(timeout=0) for p in pending]
        finally:
            if self._barrier.broken:
                self._barrier.reset()


@pytest.fixture(scope="session")
def process_pool():
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(PROCESSES)
    pool = ctx.Pool(PROCESSES, initializer=_init_worker, initargs=(barrier,))
    try:
        yield Workers(pool, barrier)
    finally:
        pool.terminate()
        pool.join()


def _register_versions(index: int, factory, workspace_id: str, name: str, count: int):
    store = factory()
    try:
        start_together()
        return [
            store.create_model_version(workspace_id, name, path=f"p{index}-{i}").version
            for i in range(count)
        ]
    finally:
        store.close()


def _register_datasets(index: int, factory, workspace_id: str, name: str, count: int):
    store = factory()
    try:
        start_together()
        return [
            store.create_dataset(workspace_id, name, kind="file", definition={"i": [index, i]},
                                 create_new_version=True).version
            for i in range(count)
        ]
    finally:
        store.close()


def _register_environments(index: int, factory, workspace_id: str, name: str, count: int,
                           same: bool):
    """Register ``count`` definitions of ``name``: this process's own ones, or (``same``)
    the one definition every process registers."""
    store = factory()
    try:
        start_together()
        versions = []
        for i in range(count):
            definition = {"python": "3.11"} if same else {"i": [index, i]}
            digest = "same" if same else f"d-{index}-{i}"
            versions.append(store.register_environment(
                workspace_id, name, definition=definition, digest=digest).version)
        return versions
    finally:
        store.close()


def _create_compute(index: int, factory, workspace_id: str, name: str) -> str:
    """Create compute target ``name`` with this process's settings: 'created' or 'exists'."""
    store = factory()
    try:
        start_together()
        try:
            store.create_compute(workspace_id, name, kind="AmlCompute",
                                 config={"process": index})
        except AlreadyExistsError:
            return "exists"
        return "created"
    finally:
        store.close()


def _create_service(index: int, factory, workspace_id: str, name: str) -> str:
    """Create service ``name`` with this process's settings: 'created' or 'exists'."""
    store = factory()
    try:
        start_together()
        try:
            store.create_service(workspace_id, name, kind="Local", config={"process": index},
                                 models=[], inference={})
        except AlreadyExistsError:
            return "exists"
        return "created"
    finally:
        store.close()


def _create_runs(index: int, factory, workspace_id: str, experiment: str, count: int):
    store = factory()
    try:
        start_together()
        exp = store.create_experiment(workspace_id, experiment)
        numbers = [
            store.create_run(exp.id, unique(f"proc{index}"), run_type="proc").number
            for _ in range(count)
        ]
        return exp.id, numbers
    finally:
        store.close()


def _claim_fires(index: int, factory, schedule_id: str, due_times: list[float]) -> list[bool]:
    """Claim each due time of ``due_times`` in turn (moving the schedule to the next one):
    what each of several schedulers does with the same schedule."""
    store = factory()
    try:
        start_together()
        return [
            store.claim_schedule_fire(schedule_id, expected_next_fire_at=due,
                                      next_fire_at=later)
            for due, later in zip(due_times, due_times[1:], strict=False)
        ]
    finally:
        store.close()


def _run_threads(count: int, target: Callable[[int], None]) -> None:
    errors: list[BaseException] = []
    barrier = threading.Barrier(count)

    def main(index: int) -> None:
        try:
            barrier.wait(timeout=60)
            target(index)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=main, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    if errors:
        raise errors[0]


# -- the suite --------------------------------------------------------------------------------


class StoreSuite:
    """Tests of every method of :class:`Store` and every rule in its docstring."""

    # fixtures the subclass provides: store_factory, store

    supports: frozenset[str] = frozenset(CAPABILITIES)
    """The :data:`CAPABILITIES` of the store under test; tests that need others are skipped."""

    @pytest.fixture(autouse=True)
    def _skip_unsupported(self, request):
        self.skip_without(*getattr(request.function, "_store_needs", ()))

    def skip_without(self, *capabilities: str) -> None:
        """Skip the test unless the store has all these :data:`CAPABILITIES`."""
        missing = sorted(set(capabilities) - self.supports)
        if missing:
            store = type(self).__name__.removeprefix("Test")
            pytest.skip("; ".join(f"{store} does not {CAPABILITIES[c]}" for c in missing))

    @pytest.fixture(autouse=True, scope="class")
    @classmethod
    def _warm_process_pool(cls, request):
        """Start the worker processes early when a selected test will need them."""
        if any("process_pool" in getattr(i, "fixturenames", ()) for i in request.session.items):
            request.getfixturevalue("process_pool")

    @pytest.fixture
    def open_store(self, store_factory):
        """Open more stores on the same database (e.g. with a short heartbeat timeout)."""
        opened: list[Store] = []

        def open_(**kwargs: Any) -> Store:
            opened.append(store_factory(**kwargs))
            return opened[-1]

        yield open_
        for s in opened:
            s.close()

    @pytest.fixture
    def ws(self, store) -> WorkspaceRecord:
        return store.create_workspace(unique("ws"), {})

    @pytest.fixture
    def exp(self, store, ws) -> ExperimentRecord:
        return store.create_experiment(ws.id, unique("exp"))

    @staticmethod
    def new_run(store: Store, exp: ExperimentRecord, **kwargs: Any) -> RunRecord:
        kwargs.setdefault("run_type", "test")
        return store.create_run(exp.id, unique("run"), **kwargs)

    # -- workspaces -------------------------------------------------------------------------

    def test_create_and_get_workspace(self, store):
        name = unique("ws")
        props = {"location": "here", "nested": {"a": [1, 2]}, "n": 3}
        before = time.time()
        created = store.create_workspace(name, props)
        assert isinstance(created, WorkspaceRecord)
        assert created.name == name
        assert created.properties == props
        assert before - 1 <= created.created_at <= time.time() + 1
        assert store.get_workspace(name) == created

    def test_create_duplicate_workspace_raises(self, store, ws):
        with pytest.raises(AlreadyExistsError):
            store.create_workspace(ws.name, {"other": 1})
        assert store.get_workspace(ws.name) == ws

    def test_get_missing_workspace_raises(self, store):
        with pytest.raises(NotFoundError):
            store.get_workspace(unique("missing"))

    def test_list_workspaces_sorted_by_name(self, store):
        names = [unique("ws-b"), unique("ws-a"), unique("ws-c")]
        for name in names:
            store.create_workspace(name, {})
        listed = [w.name for w in store.list_workspaces() if w.name in names]
        assert listed == sorted(names)

    @needs("runs_in_other_workspaces", "unknown_ids_read_empty")
    def test_delete_workspace_cascades(self, store):
        doomed = store.create_workspace(unique("ws"), {})
        kept = store.create_workspace(unique("ws"), {})
        exps, run_ids = [], []
        for workspace in (doomed, kept):
            exp = store.create_experiment(workspace.id, "shared-name")
            parent = self.new_run(store, exp)
            child = self.new_run(store, exp, parent_id=parent.id)
            for run in (parent, child):
                store.log_metrics(run.id, [MetricPoint("loss", 0.5)])
            store.create_model_version(workspace.id, "model", path="p", run_id=parent.id)
            exps.append(exp)
            run_ids.append([parent.id, child.id])

        store.delete_workspace(doomed.name)

        with pytest.raises(NotFoundError):
            store.get_workspace(doomed.name)
        with pytest.raises(NotFoundError):
            store.get_experiment_by_id(exps[0].id)
        assert store.list_experiments(doomed.id, include_archived=True) == []
        assert store.list_runs(experiment_id=exps[0].id) == []
        for run_id in run_ids[0]:
            with pytest.raises(NotFoundError):
                store.get_run(run_id)
            assert store.get_metrics(run_id) == []
        assert store.list_models(doomed.id) == []
        with pytest.raises(NotFoundError):
            store.get_model(doomed.id, "model")

        # The other workspace is untouched.
        assert store.get_workspace(kept.name) == kept
        assert store.get_experiment_by_id(exps[1].id) == exps[1]
        assert {r.id for r in store.list_runs(experiment_id=exps[1].id)} == set(run_ids[1])
        for run_id in run_ids[1]:
            assert len(store.get_metrics(run_id)) == 1
        assert store.get_model(kept.id, "model").version == 1

        # The name is free again, for a new and empty workspace.
        again = store.create_workspace(doomed.name, {})
        assert again.id != doomed.id
        assert store.list_experiments(again.id, include_archived=True) == []

    def test_delete_missing_workspace_raises(self, store):
        with pytest.raises(NotFoundError):
            store.delete_workspace(unique("missing"))

    # -- experiments ------------------------------------------------------------------------

    def test_create_experiment_is_get_or_create(self, store, ws):
        first = store.create_experiment(ws.id, "exp")
        assert isinstance(first, ExperimentRecord)
        assert (first.workspace_id, first.name, first.archived) == (ws.id, "exp", False)
        assert store.create_experiment(ws.id, "exp") == first
        assert store.get_experiment(ws.id, "exp") == first
        assert store.get_experiment_by_id(first.id) == first

        other_ws = store.create_workspace(unique("ws"), {})
        other = store.create_experiment(other_ws.id, "exp")
        assert other.id != first.id

    def test_get_missing_experiment_raises(self, store, ws):
        with pytest.raises(NotFoundError):
            store.get_experiment(ws.id, "missing")
        with pytest.raises(NotFoundError):
            store.get_experiment_by_id(uuid.uuid4().hex)

    def test_create_experiment_in_missing_workspace_raises(self, store):
        with pytest.raises(NotFoundError):
            store.create_experiment(uuid.uuid4().hex, "exp")

    def test_archive_experiment(self, store, ws):
        b = store.create_experiment(ws.id, "b")
        a = store.create_experiment(ws.id, "a")
        c = store.create_experiment(ws.id, "c")
        assert [e.name for e in store.list_experiments(ws.id)] == ["a", "b", "c"]

        archived = store.set_experiment_archived(b.id, True)
        assert archived.archived is True
        assert store.get_experiment_by_id(b.id).archived is True
        assert store.list_experiments(ws.id) == [a, c]
        listed = store.list_experiments(ws.id, include_archived=True)
        assert [(e.name, e.archived) for e in listed] == [("a", False), ("b", True), ("c", False)]

        assert store.set_experiment_archived(b.id, False) == b
        assert [e.name for e in store.list_experiments(ws.id)] == ["a", "b", "c"]

    def test_archive_missing_experiment_raises(self, store):
        with pytest.raises(NotFoundError):
            store.set_experiment_archived(uuid.uuid4().hex, True)

    # -- runs -------------------------------------------------------------------------------

    def test_create_run_record(self, store, exp):
        run_id = unique("run")
        before = time.time()
        run = store.create_run(
            exp.id,
            run_id,
            run_type="azureml.scriptrun",
            display_name="shiny",
            description="a run",
            tags={"t": "1"},
            properties={"p": "2"},
            definition={"script": "train.py", "arguments": ["--lr", 0.1], "env": {"A": "b"}},
        )
        assert isinstance(run, RunRecord)
        assert run.id == run_id
        assert (run.experiment_id, run.experiment_name) == (exp.id, exp.name)
        assert run.number == 1
        assert run.run_type == "azureml.scriptrun"
        assert run.status == RunStatus.NOT_STARTED and run.is_active
        assert before - 1 <= run.created_at <= time.time() + 1
        assert (run.parent_id, run.start_time, run.end_time, run.error) == (None, None, None, None)
        assert (run.display_name, run.description) == ("shiny", "a run")
        assert run.cancel_requested is False
        assert run.tags == {"t": "1"} and run.properties == {"p": "2"}
        assert run.definition == {
            "script": "train.py",
            "arguments": ["--lr", 0.1],
            "env": {"A": "b"},
        }
        assert store.get_run(run_id) == run

    def test_create_run_defaults(self, store, exp):
        run = self.new_run(store, exp)
        assert (run.tags, run.properties, run.definition) == ({}, {}, None)
        assert (run.display_name, run.description) == (None, None)

    def test_create_running_run_sets_start_time(self, store, exp):
        run = self.new_run(store, exp, status=RunStatus.RUNNING)
        assert run.status == RunStatus.RUNNING
        assert run.start_time is not None and run.end_time is None

    def test_run_numbers_count_per_experiment(self, store, ws, exp):
        assert [self.new_run(store, exp).number for _ in range(3)] == [1, 2, 3]
        other = store.create_experiment(ws.id, unique("exp"))
        assert self.new_run(store, other).number == 1
        assert self.new_run(store, exp).number == 4

    def test_duplicate_run_id_raises(self, store, ws, exp):
        run = self.new_run(store, exp)
        other = store.create_experiment(ws.id, unique("exp"))
        for target in (exp, other):
            with pytest.raises(AlreadyExistsError):
                store.create_run(target.id, run.id, run_type="other")
        assert store.get_run(run.id) == run
        # Nothing half-written: the failed calls used up no run number.
        assert self.new_run(store, exp).number == 2
        assert self.new_run(store, other).number == 1

    def test_create_run_in_missing_experiment_raises(self, store):
        with pytest.raises(NotFoundError):
            store.create_run(uuid.uuid4().hex, unique("run"), run_type="test")

    def test_get_missing_run_raises(self, store):
        with pytest.raises(NotFoundError):
            store.get_run(unique("missing"))

    def test_list_runs_newest_first_with_filters(self, store, ws, exp):
        parent = self.new_run(store, exp, run_type="pipeline")
        child1 = self.new_run(store, exp, run_type="step", parent_id=parent.id)
        child2 = self.new_run(store, exp, run_type="step", parent_id=parent.id)
        other_root = self.new_run(store, exp, run_type="step")
        other_exp = store.create_experiment(ws.id, unique("exp"))
        elsewhere = self.new_run(store, other_exp, run_type="step")

        def ids(**filters: Any) -> list[str]:
            return [r.id for r in store.list_runs(**filters)]

        assert ids(experiment_id=exp.id) == [other_root.id, child2.id, child1.id, parent.id]
        assert [r.number for r in store.list_runs(experiment_id=exp.id)] == [4, 3, 2, 1]
        assert ids(experiment_id=exp.id, root_only=True) == [other_root.id, parent.id]
        assert ids(parent_id=parent.id) == [child2.id, child1.id]
        assert ids(experiment_id=exp.id, run_type="step") == [other_root.id, child2.id, child1.id]
        assert ids(experiment_id=exp.id, run_type="step", root_only=True) == [other_root.id]
        assert ids(experiment_id=exp.id, run_type="pipeline") == [parent.id]
        assert ids(parent_id=child1.id) == []

        everything = ids()
        mine = [elsewhere.id, other_root.id, child2.id, child1.id, parent.id]
        assert [i for i in everything if i in mine] == mine
        assert [i for i in ids(run_type="step") if i in mine] == [
            elsewhere.id,
            other_root.id,
            child2.id,
            child1.id,
        ]
        assert store.list_runs(experiment_id=exp.id)[0] == store.get_run(other_root.id)

    # -- status -----------------------------------------------------------------------------

    def test_set_status_sets_start_and_end_times(self, store, exp):
        run = self.new_run(store, exp)
        queued = store.set_status(run.id, RunStatus.QUEUED)
        assert queued.status == RunStatus.QUEUED
        assert (queued.start_time, queued.end_time) == (None, None)

        running = store.set_status(run.id, RunStatus.RUNNING)
        assert running.status == RunStatus.RUNNING and running.is_active
        assert running.start_time is not None and running.end_time is None

        time.sleep(0.01)
        again = store.set_status(run.id, RunStatus.FINALIZING)
        assert again.start_time == running.start_time

        done = store.set_status(run.id, RunStatus.COMPLETED)
        assert done.status == RunStatus.COMPLETED and not done.is_active
        assert done.start_time == running.start_time
        assert done.end_time is not None and done.end_time >= done.start_time
        assert store.get_run(run.id) == done

    def test_terminal_status_without_start_sets_both_times(self, store, exp):
        run = self.new_run(store, exp, status=RunStatus.QUEUED)
        failed = store.set_status(run.id, RunStatus.FAILED, error={"message": "no compute"})
        assert failed.status == RunStatus.FAILED
        assert failed.error == {"message": "no compute"}
        assert failed.start_time is not None and failed.end_time is not None

    def test_set_status_stores_error(self, store, exp):
        run = self.new_run(store, exp, status=RunStatus.RUNNING)
        error = {"message": "boom", "code": "UserError", "details": [{"line": 3}]}
        assert store.set_status(run.id, RunStatus.FAILED, error=error).error == error
        assert store.get_run(run.id).error == error

    @pytest.mark.parametrize("first", TERMINAL)
    def test_terminal_statuses_are_final(self, store, exp, first):
        run = self.new_run(store, exp, status=RunStatus.RUNNING)
        ended = store.set_status(run.id, first)
        for later in [*TERMINAL, RunStatus.RUNNING, RunStatus.QUEUED]:
            again = store.set_status(run.id, later, error={"message": "late"})
            assert again == ended
        assert store.request_cancel(run.id) == ended
        assert store.get_run(run.id) == ended

    def test_completed_then_failed_stays_completed(self, store, exp):
        run = self.new_run(store, exp, status=RunStatus.RUNNING)
        store.set_status(run.id, RunStatus.COMPLETED)
        after = store.set_status(run.id, RunStatus.FAILED, error={"message": "too late"})
        assert after.status == RunStatus.COMPLETED
        assert after.error is None

    def test_set_unknown_status_raises(self, store, exp):
        run = self.new_run(store, exp, status=RunStatus.RUNNING)
        with pytest.raises(ValidationError):
            store.set_status(run.id, "Exploded")
        assert store.get_run(run.id).status == RunStatus.RUNNING

    def test_set_status_of_missing_run_raises(self, store):
        with pytest.raises(NotFoundError):
            store.set_status(unique("missing"), RunStatus.RUNNING)

    # -- cancellation and heartbeats ------------------------------------------------------

    @pytest.mark.parametrize("status", [RunStatus.NOT_STARTED, RunStatus.QUEUED])
    def test_request_cancel_of_waiting_run_cancels_it(self, store, exp, status):
        run = self.new_run(store, exp, status=status)
        canceled = store.request_cancel(run.id)
        assert canceled.status == RunStatus.CANCELED and not canceled.is_active
        assert canceled.end_time is not None
        assert store.get_run(run.id) == canceled
        # A worker that starts late finds it final.
        assert store.set_status(run.id, RunStatus.RUNNING).status == RunStatus.CANCELED

    @pytest.mark.parametrize("status", [RunStatus.PREPARING, RunStatus.RUNNING])
    def test_request_cancel_of_started_run_flags_it(self, store, exp, status):
        run = self.new_run(store, exp, status=status)
        assert store.heartbeat(run.id) is False
        flagged = store.request_cancel(run.id)
        assert flagged.status == RunStatus.CANCEL_REQUESTED and flagged.is_active
        assert flagged.cancel_requested is True
        assert flagged.end_time is None
        assert store.heartbeat(run.id) is True
        # The worker stops the process and ends the run.
        assert store.set_status(run.id, RunStatus.CANCELED).status == RunStatus.CANCELED

    def test_request_cancel_of_missing_run_raises(self, store):
        with pytest.raises(NotFoundError):
            store.request_cancel(unique("missing"))

    def test_heartbeat_records_time(self, store, exp):
        run = self.new_run(store, exp, status=RunStatus.RUNNING)
        time.sleep(0.01)
        assert store.heartbeat(run.id) is False
        assert store.get_run(run.id).heartbeat_at > run.heartbeat_at

    @pytest.mark.parametrize("ending", [RunStatus.COMPLETED, RunStatus.FAILED])
    def test_heartbeat_of_an_ended_run_tells_its_process_to_stop(self, store, exp, ending):
        run = self.new_run(store, exp, status=RunStatus.RUNNING)
        ended = store.set_status(run.id, ending)
        assert store.heartbeat(run.id) is True
        assert store.get_run(run.id).heartbeat_at == ended.heartbeat_at

    def test_heartbeat_of_missing_run_raises(self, store):
        with pytest.raises(NotFoundError):
            store.heartbeat(unique("missing"))

    def _stale_and_fresh(self, store, exp) -> tuple[RunRecord, RunRecord, RunRecord]:
        """A run that stopped beating, one that beats on, and one that finished."""
        stale = self.new_run(store, exp, status=RunStatus.RUNNING)
        fresh = self.new_run(store, exp, status=RunStatus.RUNNING)
        done = self.new_run(store, exp, status=RunStatus.RUNNING)
        done = store.set_status(done.id, RunStatus.COMPLETED)
        time.sleep(STALE_AFTER)
        # A store with the default timeout leaves them all alone.
        assert store.get_run(stale.id).status == RunStatus.RUNNING
        assert stale.id not in store.fail_stale_runs()
        assert store.heartbeat(fresh.id) is False
        return stale, fresh, done

    @staticmethod
    def _assert_failed_by_heartbeat(run: RunRecord) -> None:
        assert run.status == RunStatus.FAILED
        assert run.end_time is not None
        assert run.error and "heartbeat" in run.error["message"].lower()

    @needs("heartbeat_timeout")
    def test_get_run_fails_stale_run(self, store, exp, open_store):
        short = open_store(heartbeat_timeout=HEARTBEAT_TIMEOUT)
        stale, fresh, done = self._stale_and_fresh(store, exp)
        assert short.heartbeat_timeout == HEARTBEAT_TIMEOUT
        self._assert_failed_by_heartbeat(short.get_run(stale.id))
        self._assert_failed_by_heartbeat(store.get_run(stale.id))
        assert short.get_run(fresh.id).status == RunStatus.RUNNING
        assert short.get_run(done.id) == done

    @needs("heartbeat_timeout")
    def test_list_runs_fails_stale_runs(self, store, exp, open_store):
        short = open_store(heartbeat_timeout=HEARTBEAT_TIMEOUT)
        stale, fresh, done = self._stale_and_fresh(store, exp)
        listed = {r.id: r for r in short.list_runs(experiment_id=exp.id)}
        self._assert_failed_by_heartbeat(listed[stale.id])
        assert listed[fresh.id].status == RunStatus.RUNNING
        assert listed[done.id] == done

    @needs("heartbeat_timeout")
    def test_fail_stale_runs(self, store, exp, open_store):
        short = open_store(heartbeat_timeout=HEARTBEAT_TIMEOUT)
        stale, fresh, done = self._stale_and_fresh(store, exp)
        failed = short.fail_stale_runs()
        assert stale.id in failed
        assert fresh.id not in failed and done.id not in failed
        self._assert_failed_by_heartbeat(store.get_run(stale.id))
        assert store.get_run(fresh.id).status == RunStatus.RUNNING
        assert store.get_run(done.id) == done
        assert stale.id not in short.fail_stale_runs()

    # -- tags, properties, names ----------------------------------------------------------

    def test_set_and_remove_tags(self, store, exp):
        run = self.new_run(store, exp, tags={"a": "1"})
        assert store.set_tags(run.id, {"b": "2", "c": "3"}).tags == {"a": "1", "b": "2", "c": "3"}
        assert store.set_tags(run.id, {"a": "x"}).tags == {"a": "x", "b": "2", "c": "3"}
        assert store.remove_tags(run.id, ["b", "not-there"]).tags == {"a": "x", "c": "3"}
        assert store.get_run(run.id).tags == {"a": "x", "c": "3"}

    def test_tags_of_missing_run_raise(self, store):
        with pytest.raises(NotFoundError):
            store.set_tags(unique("missing"), {"a": "1"})
        with pytest.raises(NotFoundError):
            store.remove_tags(unique("missing"), ["a"])

    def test_add_properties(self, store, exp):
        run = self.new_run(store, exp, properties={"a": "1"})
        assert store.add_properties(run.id, {"b": "2"}).properties == {"a": "1", "b": "2"}
        # Setting a property to the value it has is fine.
        assert store.add_properties(run.id, {"a": "1", "c": "3"}).properties == {
            "a": "1",
            "b": "2",
            "c": "3",
        }

    def test_changing_a_property_raises(self, store, exp):
        run = self.new_run(store, exp, properties={"a": "1"})
        with pytest.raises(ValidationError):
            store.add_properties(run.id, {"new": "x", "a": "2"})
        # Nothing half-written: the new key of the rejected call is not there either.
        assert store.get_run(run.id).properties == {"a": "1"}

    def test_add_properties_of_missing_run_raises(self, store):
        with pytest.raises(NotFoundError):
            store.add_properties(unique("missing"), {"a": "1"})

    def test_update_run(self, store, exp):
        run = self.new_run(store, exp, display_name="old", description="old text")
        renamed = store.update_run(run.id, display_name="new")
        assert (renamed.display_name, renamed.description) == ("new", "old text")
        described = store.update_run(run.id, description="new text")
        assert (described.display_name, described.description) == ("new", "new text")
        assert store.update_run(run.id) == described
        assert store.get_run(run.id) == described

    def test_update_missing_run_raises(self, store):
        with pytest.raises(NotFoundError):
            store.update_run(unique("missing"), display_name="x")

    # -- metrics ----------------------------------------------------------------------------

    def test_metric_values_round_trip(self, store, exp):
        run = self.new_run(store, exp)
        points = [
            MetricPoint("int", 3, step=0, timestamp=1.5),
            MetricPoint("big int", 2**62 + 1, timestamp=2.25),
            MetricPoint("negative", -7),
            MetricPoint("zero", 0),
            MetricPoint("float", 0.1, step=1, timestamp=1700000000.123456),
            MetricPoint("whole float", 2.0),
            MetricPoint("tiny", 1e-300),
            MetricPoint("huge", 1.7976931348623157e308),
            MetricPoint("bool", True),
            MetricPoint("string", 'a string, with "quotes" and ünïcode', description="d"),
            MetricPoint("empty string", ""),
            MetricPoint("none", None),
            MetricPoint("list", [1, 2.5, "three", None], kind="list"),
            MetricPoint("row", {"a": 1, "b": 0.5, "c": "x"}, kind="row"),
            MetricPoint("table", {"col": [1, 2, 3], "other": [0.1, 0.2, 0.3]}, kind="table"),
            MetricPoint(
                "json",
                {"schema_type": "confusion_matrix", "data": {"matrix": [[1, 0], [0, 1]]}},
                kind="json",
                description="a confusion matrix",
            ),
        ]
        store.log_metrics(run.id, points)
        got = store.get_metrics(run.id)
        assert got == points
        assert [type(p.value) for p in got] == [type(p.value) for p in points]
        assert all(isinstance(p, MetricPoint) for p in got)

    def test_non_finite_floats_round_trip(self, store, exp):
        run = self.new_run(store, exp)
        store.log_metrics(
            run.id,
            [
                MetricPoint("loss", math.nan),
                MetricPoint("loss", math.inf),
                MetricPoint("loss", -math.inf),
                MetricPoint("loss", -0.0),
            ],
        )
        values = [p.value for p in store.get_metrics(run.id)]
        assert all(type(v) is float for v in values)
        assert math.isnan(values[0])
        assert values[1:3] == [math.inf, -math.inf]
        assert values[3] == 0.0

    def test_metrics_keep_order_and_filter_by_name(self, store, exp):
        run = self.new_run(store, exp)
        other = self.new_run(store, exp)
        first = [MetricPoint("loss" if i % 3 else "acc", float(i), step=i) for i in range(10)]
        second = [MetricPoint("loss", -i, step=100 + i) for i in range(5)]
        store.log_metrics(run.id, first)
        store.log_metrics(other.id, [MetricPoint("loss", 99.0)])
        store.log_metrics(run.id, second)
        store.log_metrics(run.id, [])
        # Grouped by metric in the order each was first logged; each in logging order.
        by_name = [p for p in first if p.name == "acc"] + [
            p for p in first + second if p.name == "loss"
        ]
        assert store.get_metrics(run.id) == by_name
        assert store.get_metrics(run.id, "loss") == [p for p in first + second if p.name == "loss"]
        assert store.get_metrics(run.id, "acc") == [p for p in first if p.name == "acc"]
        assert store.get_metrics(run.id, "nothing") == []
        assert store.get_metrics(other.id) == [MetricPoint("loss", 99.0)]

    def test_many_metric_points(self, store, exp):
        run = self.new_run(store, exp)
        points = [MetricPoint("x", i * 0.5, step=i, timestamp=float(i)) for i in range(2000)]
        store.log_metrics(run.id, points)
        assert store.get_metrics(run.id) == points

    @pytest.mark.parametrize("bad", [
        MetricPoint("x", 1.0, step=2**40), MetricPoint("x", 1.0, step=1.5),
        MetricPoint("x", 1.0, timestamp=10**400),
    ])
    def test_unstorable_points_are_refused_whole(self, store, exp, bad):
        run = self.new_run(store, exp)
        with pytest.raises(ValidationError):
            store.log_metrics(run.id, [MetricPoint("x", 0.0), bad])
        assert store.get_metrics(run.id) == []

    def test_an_int_too_large_for_a_float_round_trips(self, store, exp):
        run = self.new_run(store, exp)
        store.log_metrics(run.id, [MetricPoint("big", 10**400)])
        assert store.get_metrics(run.id)[0].value == 10**400

    def test_latest_metrics_are_each_runs_last_numbers(self, store, exp):
        first, second, quiet = (self.new_run(store, exp) for _ in range(3))
        store.log_metrics(first.id, [
            MetricPoint("loss", 0.9, step=0), MetricPoint("loss", 0.5, step=1),
            MetricPoint("acc", 3), MetricPoint("name", "adam"), MetricPoint("flag", True),
            MetricPoint("losses", [1, 2], kind="list"), MetricPoint("row", {"a": 1}, kind="row"),
            MetricPoint("big", 10**400),
        ])
        store.log_metrics(first.id, [MetricPoint("loss", 0.25, step=2)])
        store.log_metrics(second.id, [
            MetricPoint("loss", 7.0), MetricPoint("loss", math.nan), MetricPoint("acc", "n/a"),
            MetricPoint("acc", 0.75), MetricPoint("gone", 1.0), MetricPoint("gone", "text"),
            MetricPoint("inf", -math.inf),
        ])
        ids = [first.id, second.id, quiet.id, first.id, unique("missing")]
        got = store.latest_metrics(ids)
        assert set(got) == {first.id, second.id}
        assert got[first.id] == {"loss": 0.25, "acc": 3.0}
        assert type(got[first.id]["acc"]) is float
        assert set(got[second.id]) == {"loss", "acc", "inf"}
        assert math.isnan(got[second.id]["loss"])
        assert (got[second.id]["acc"], got[second.id]["inf"]) == (0.75, -math.inf)
        assert store.latest_metrics(ids, ["acc", "nothing"]) == {
            first.id: {"acc": 3.0}, second.id: {"acc": 0.75}}
        assert store.latest_metrics(ids, []) == {}
        assert store.latest_metrics([]) == {}
        assert store.latest_metrics([quiet.id], None) == {}
        with pytest.raises(ValidationError):
            store.latest_metrics(first.id)

    def test_latest_metrics_of_many_runs(self, store, exp):
        runs = [self.new_run(store, exp) for _ in range(150)]
        for i, run in enumerate(runs):
            store.log_metrics(run.id, [MetricPoint("x", float(i)), MetricPoint("y", i)])
        got = store.latest_metrics([r.id for r in runs], ["x"])
        assert got == {r.id: {"x": float(i)} for i, r in enumerate(runs)}

    def test_run_without_metrics(self, store, exp):
        assert store.get_metrics(self.new_run(store, exp).id) == []

    @needs("unknown_ids_read_empty")
    def test_log_metrics_to_missing_run_raises(self, store):
        missing = unique("missing")
        with pytest.raises(NotFoundError):
            store.log_metrics(missing, [MetricPoint("loss", 1.0), MetricPoint("acc", 2)])
        assert store.get_metrics(missing) == []

    # -- models -----------------------------------------------------------------------------

    def test_model_versions_count_per_name(self, store, ws):
        before = time.time()
        first = store.create_model_version(
            ws.id,
            "clf",
            path="outputs/model.pkl",
            description="a classifier",
            tags={"stage": "dev"},
            properties={"accuracy": "0.9"},
            framework="ScikitLearn",
            framework_version="1.4",
            run_id="run-1",
            experiment_name="exp",
            datasets=[{"name": "training", "id": "ds:1", "extra": {"rows": 10}}],
        )
        assert isinstance(first, ModelRecord)
        assert (first.workspace_id, first.name, first.version, first.id) == (
            ws.id,
            "clf",
            1,
            "clf:1",
        )
        assert first.path == "outputs/model.pkl"
        assert first.description == "a classifier"
        assert (first.tags, first.properties) == ({"stage": "dev"}, {"accuracy": "0.9"})
        assert (first.framework, first.framework_version) == ("ScikitLearn", "1.4")
        assert (first.run_id, first.experiment_name) == ("run-1", "exp")
        assert first.datasets == [{"name": "training", "id": "ds:1", "extra": {"rows": 10}}]
        assert before - 1 <= first.created_at <= time.time() + 1

        assert [store.create_model_version(ws.id, "clf", path="p").version for _ in "ab"] == [2, 3]
        plain = store.create_model_version(ws.id, "other", path="p")
        assert plain.version == 1
        assert (plain.tags, plain.properties, plain.datasets) == ({}, {}, [])
        assert (plain.description, plain.framework, plain.run_id) == (None, None, None)
        other_ws = store.create_workspace(unique("ws"), {})
        assert store.create_model_version(other_ws.id, "clf", path="p").version == 1

    def test_get_model(self, store, ws):
        versions = [store.create_model_version(ws.id, "m", path=f"v{i}") for i in range(3)]
        assert store.get_model(ws.id, "m") == versions[-1]
        assert store.get_model(ws.id, "m", 2) == versions[1]
        assert store.get_model(ws.id, "m", version=1) == versions[0]

    def test_get_missing_model_raises(self, store, ws):
        store.create_model_version(ws.id, "m", path="p")
        with pytest.raises(NotFoundError):
            store.get_model(ws.id, "nope")
        with pytest.raises(NotFoundError):
            store.get_model(ws.id, "m", 2)
        other_ws = store.create_workspace(unique("ws"), {})
        with pytest.raises(NotFoundError):
            store.get_model(other_ws.id, "m")

    def test_create_model_in_missing_workspace_raises(self, store):
        with pytest.raises(NotFoundError):
            store.create_model_version(uuid.uuid4().hex, "m", path="p")

    def test_list_models_newest_first(self, store, ws):
        a1 = store.create_model_version(ws.id, "a", path="p")
        b1 = store.create_model_version(ws.id, "b", path="p")
        a2 = store.create_model_version(ws.id, "a", path="p")
        other_ws = store.create_workspace(unique("ws"), {})
        store.create_model_version(other_ws.id, "a", path="p")
        assert store.list_models(ws.id) == [a2, b1, a1]
        assert store.list_models(ws.id, "a") == [a2, a1]
        assert store.list_models(ws.id, name="b") == [b1]
        assert store.list_models(ws.id, "c") == []

    def test_update_model(self, store, ws):
        store.create_model_version(
            ws.id, "m", path="p", tags={"a": "1", "b": "2"}, properties={"p": "1"}
        )
        updated = store.update_model(
            ws.id,
            "m",
            1,
            add_tags={"c": "3", "a": "x"},
            remove_tags=["b"],
            add_properties={"q": "2"},
        )
        assert updated.tags == {"a": "x", "c": "3"}
        assert updated.properties == {"p": "1", "q": "2"}
        assert store.get_model(ws.id, "m", 1) == updated
        # The same value again is fine; no arguments change nothing.
        assert store.update_model(ws.id, "m", 1, add_properties={"p": "1"}) == updated
        assert store.update_model(ws.id, "m", 1) == updated

    def test_changing_a_model_property_raises(self, store, ws):
        model = store.create_model_version(ws.id, "m", path="p", properties={"p": "1"})
        with pytest.raises(ValidationError):
            store.update_model(ws.id, "m", 1, add_tags={"t": "1"}, add_properties={"p": "2"})
        assert store.get_model(ws.id, "m", 1) == model

    def test_update_missing_model_raises(self, store, ws):
        store.create_model_version(ws.id, "m", path="p")
        with pytest.raises(NotFoundError):
            store.update_model(ws.id, "m", 2, add_tags={"a": "1"})
        with pytest.raises(NotFoundError):
            store.update_model(ws.id, "nope", 1, add_tags={"a": "1"})

    def test_delete_model(self, store, ws):
        v1, _, v3 = (store.create_model_version(ws.id, "m", path="p") for _ in range(3))
        store.delete_model(ws.id, "m", 2)
        assert store.list_models(ws.id, "m") == [v3, v1]
        with pytest.raises(NotFoundError):
            store.get_model(ws.id, "m", 2)
        with pytest.raises(NotFoundError):
            store.delete_model(ws.id, "m", 2)
        with pytest.raises(NotFoundError):
            store.delete_model(ws.id, "nope", 1)
        assert store.get_model(ws.id, "m") == v3

    # -- secrets ----------------------------------------------------------------------------

    def test_set_get_list_delete_secrets(self, store, ws):
        assert store.list_secrets(ws.id) == []
        before = time.time()
        store.set_secrets(ws.id, {"db-password": "p@ss word ü", "API-key-1": ""})
        assert store.get_secrets(ws.id, ["db-password", "API-key-1"]) == {
            "db-password": "p@ss word ü",
            "API-key-1": "",
        }
        listed = store.list_secrets(ws.id)
        assert [s.name for s in listed] == ["API-key-1", "db-password"]
        for record in listed:
            assert isinstance(record, SecretRecord)
            assert record.workspace_id == ws.id
            assert before - 1 <= record.created_at == record.updated_at <= time.time() + 1
        store.delete_secrets(ws.id, ["db-password"])
        assert [s.name for s in store.list_secrets(ws.id)] == ["API-key-1"]
        assert store.get_secrets(ws.id, ["db-password"]) == {}

    def test_set_secrets_replaces_values(self, store, ws):
        store.set_secrets(ws.id, {"a": "1", "b": "2"})
        (first, _) = store.list_secrets(ws.id)
        time.sleep(0.01)
        store.set_secrets(ws.id, {"a": "one", "c": "3"})
        assert store.get_secrets(ws.id, ["a", "b", "c"]) == {"a": "one", "b": "2", "c": "3"}
        again = store.list_secrets(ws.id)[0]
        assert again.name == "a"
        assert again.created_at == first.created_at and again.updated_at > first.updated_at
        store.set_secrets(ws.id, {})  # nothing to do, and no error
        assert len(store.list_secrets(ws.id)) == 3

    def test_get_secrets_leaves_out_missing_names(self, store, ws):
        store.set_secrets(ws.id, {"a": "1", "b": "2"})
        got = store.get_secrets(ws.id, ["b", "missing", "a", "b"])
        assert got == {"b": "2", "a": "1"} and list(got) == ["b", "a"]
        assert store.get_secrets(ws.id, []) == {}
        assert store.get_secrets(ws.id, ["missing"]) == {}

    def test_secrets_are_per_workspace(self, store, ws):
        other = store.create_workspace(unique("ws"), {})
        store.set_secrets(ws.id, {"shared": "mine", "only-mine": "x"})
        store.set_secrets(other.id, {"shared": "theirs"})
        assert store.get_secrets(ws.id, ["shared"]) == {"shared": "mine"}
        assert store.get_secrets(other.id, ["shared", "only-mine"]) == {"shared": "theirs"}
        store.delete_secrets(other.id, ["shared"])
        assert store.get_secrets(ws.id, ["shared"]) == {"shared": "mine"}
        assert store.list_secrets(other.id) == []

    def test_set_secrets_in_missing_workspace_raises(self, store):
        with pytest.raises(NotFoundError):
            store.set_secrets(uuid.uuid4().hex, {"a": "1"})

    @pytest.mark.parametrize("name", ["", "under_score", "sp ace", "x" * 128, "dot.", 7])
    def test_invalid_secret_names_raise(self, store, ws, name):
        store.set_secrets(ws.id, {"kept": "1"})
        with pytest.raises(ValidationError, match="secret name"):
            store.set_secrets(ws.id, {"fine": "2", name: "3"})
        with pytest.raises(ValidationError, match="secret name"):
            store.get_secrets(ws.id, ["kept", name])
        with pytest.raises(ValidationError, match="secret name"):
            store.delete_secrets(ws.id, ["kept", name])
        # All or none: nothing was written or deleted.
        assert [s.name for s in store.list_secrets(ws.id)] == ["kept"]

    def test_longest_secret_name_and_value(self, store, ws):
        name, value = "N" * 127, "v" * 25 * 1024
        store.set_secrets(ws.id, {name: value})
        assert store.get_secrets(ws.id, [name]) == {name: value}

    @pytest.mark.parametrize("value", [None, 12345, b"bytes", "v" * (25 * 1024 + 1)])
    def test_invalid_secret_values_raise_without_showing_them(self, store, ws, value):
        with pytest.raises(ValidationError) as error:
            store.set_secrets(ws.id, {"fine": "2", "bad": value})
        assert "'bad'" in str(error.value)
        if value is not None:
            assert str(value) not in str(error.value)
        assert store.list_secrets(ws.id) == []

    def test_delete_secrets_is_all_or_none(self, store, ws):
        store.set_secrets(ws.id, {"a": "1", "b": "2"})
        with pytest.raises(NotFoundError, match="'missing'"):
            store.delete_secrets(ws.id, ["a", "missing"])
        assert [s.name for s in store.list_secrets(ws.id)] == ["a", "b"]
        store.delete_secrets(ws.id, ["a", "b"])
        assert store.list_secrets(ws.id) == []
        with pytest.raises(NotFoundError):
            store.delete_secrets(ws.id, ["a"])
        store.delete_secrets(ws.id, [])  # nothing to do

    def test_delete_workspace_deletes_its_secrets(self, store):
        doomed = store.create_workspace(unique("ws"), {})
        kept = store.create_workspace(unique("ws"), {})
        for workspace in (doomed, kept):
            store.set_secrets(workspace.id, {"a": "1"})
        store.delete_workspace(doomed.name)
        assert store.get_secrets(kept.id, ["a"]) == {"a": "1"}
        try:  # the rows are gone (a store that looks workspaces up by name finds none)
            assert store.list_secrets(doomed.id) == []
            assert store.get_secrets(doomed.id, ["a"]) == {}
        except NotFoundError:
            pass
        again = store.create_workspace(doomed.name, {})
        assert store.list_secrets(again.id) == []
        assert store.get_secrets(again.id, ["a"]) == {}

    def test_secret_records_hold_no_value(self, store, ws):
        store.set_secrets(ws.id, {"db-password": "hunter2-value"})
        (record,) = store.list_secrets(ws.id)
        assert {f.name for f in dataclasses.fields(record)} == {
            "workspace_id", "name", "created_at", "updated_at"
        }
        assert "hunter2-value" not in repr(record)
        with pytest.raises(dataclasses.FrozenInstanceError):
            record.name = "other"  # type: ignore[misc]

    def test_threads_set_secrets_of_one_workspace(self, store, ws):
        threads, rounds = 4, 4

        def write(index: int) -> None:
            for r in range(rounds):
                # Every thread creates "shared" at once, then each its own names.
                store.set_secrets(ws.id, {"shared": f"{index}-{r}", f"t{index}-{r}": str(r)})

        _run_threads(threads, write)
        names = [s.name for s in store.list_secrets(ws.id)]
        assert len(names) == threads * rounds + 1 and "shared" in names
        got = store.get_secrets(ws.id, names)
        assert got["shared"] in {f"{i}-{rounds - 1}" for i in range(threads)}
        assert all(got[f"t{i}-{r}"] == str(r) for i in range(threads) for r in range(rounds))

    # -- datastores -------------------------------------------------------------------------

    def test_a_new_workspace_has_the_builtin_datastores(self, store, ws):
        listed = store.list_datastores(ws.id)
        assert [d.name for d in listed] == sorted(BUILTIN_DATASTORES)
        for record in listed:
            assert isinstance(record, DatastoreRecord)
            assert record.workspace_id == ws.id
            assert record.kind == BUILTIN_DATASTORES[record.name]
            assert record.config == {"builtin": True, "prefix": f"datastores/{record.name}"}
            assert record.secrets == {}
            assert record.is_default == (record.name == "workspaceblobstore")
            assert store.get_datastore(ws.id, record.name) == record
        assert store.get_default_datastore(ws.id).name == "workspaceblobstore"

    def test_create_get_list_and_overwrite_datastores(self, store, ws):
        before = time.time()
        created = store.create_datastore(
            ws.id, "blob_data", kind="AzureBlob",
            config={"account_name": "acct", "container_name": "c", "nested": {"a": [1]}},
            secrets={"account_key": "datastore-blob-data-account-key"},
        )
        assert (created.workspace_id, created.name, created.kind) == (ws.id, "blob_data",
                                                                      "AzureBlob")
        assert created.config == {"account_name": "acct", "container_name": "c",
                                  "nested": {"a": [1]}}
        assert created.secrets == {"account_key": "datastore-blob-data-account-key"}
        assert created.is_default is False
        assert before - 1 <= created.created_at <= time.time() + 1
        assert store.get_datastore(ws.id, "blob_data") == created
        assert [d.name for d in store.list_datastores(ws.id)] == [
            "blob_data", "workspaceblobstore", "workspacefilestore"
        ]
        with pytest.raises(AlreadyExistsError, match="overwrite"):
            store.create_datastore(ws.id, "blob_data", kind="S3", config={})
        assert store.get_datastore(ws.id, "blob_data") == created

        store.set_default_datastore(ws.id, "blob_data")
        replaced = store.create_datastore(ws.id, "blob_data", kind="S3",
                                          config={"bucket": "b"}, overwrite=True)
        assert (replaced.kind, replaced.config, replaced.secrets) == ("S3", {"bucket": "b"}, {})
        assert replaced.is_default is True  # overwriting keeps the default flag
        assert store.get_datastore(ws.id, "blob_data") == replaced
        other = store.create_workspace(unique("ws"), {})
        assert [d.name for d in store.list_datastores(other.id)] == sorted(BUILTIN_DATASTORES)
        with pytest.raises(NotFoundError):
            store.get_datastore(other.id, "blob_data")
        with pytest.raises(NotFoundError):
            store.get_datastore(ws.id, "missing")

    def test_set_default_datastore_moves_the_flag(self, store, ws):
        store.create_datastore(ws.id, "local_data", kind="Local", config={"path": "/tmp/x"})
        chosen = store.set_default_datastore(ws.id, "local_data")
        assert (chosen.name, chosen.is_default) == ("local_data", True)
        assert store.get_default_datastore(ws.id) == chosen
        defaults = [d.name for d in store.list_datastores(ws.id) if d.is_default]
        assert defaults == ["local_data"]
        store.set_default_datastore(ws.id, "workspacefilestore")
        assert store.get_default_datastore(ws.id).name == "workspacefilestore"
        assert [d.name for d in store.list_datastores(ws.id) if d.is_default] == [
            "workspacefilestore"
        ]
        with pytest.raises(NotFoundError):
            store.set_default_datastore(ws.id, "missing")
        assert store.get_default_datastore(ws.id).name == "workspacefilestore"

    def test_delete_datastore(self, store, ws):
        store.create_datastore(ws.id, "doomed", kind="Local", config={"path": "/tmp/x"})
        store.create_datastore(ws.id, "chosen", kind="Local", config={"path": "/tmp/y"})
        store.set_default_datastore(ws.id, "chosen")
        for refused in ("workspaceblobstore", "workspacefilestore", "chosen"):
            with pytest.raises(ValidationError, match="datastore_name"):
                store.delete_datastore(ws.id, refused)
        store.delete_datastore(ws.id, "doomed")
        with pytest.raises(NotFoundError):
            store.get_datastore(ws.id, "doomed")
        with pytest.raises(NotFoundError):
            store.delete_datastore(ws.id, "doomed")
        assert [d.name for d in store.list_datastores(ws.id)] == [
            "chosen", "workspaceblobstore", "workspacefilestore"
        ]

    @pytest.mark.parametrize("name", ["", "1abc", "_x", "has-dash", "sp ace", "x" * 256, 7])
    def test_bad_datastore_names_raise(self, store, ws, name):
        with pytest.raises(ValidationError, match="datastore_name"):
            store.create_datastore(ws.id, name, kind="Local", config={})

    def test_bad_datastore_kinds_and_builtins_raise(self, store, ws):
        store.create_datastore(ws.id, "x" * 255, kind="Local", config={})  # the longest name
        with pytest.raises(ValidationError, match="AzureBlob"):
            store.create_datastore(ws.id, "fine", kind="Dropbox", config={})
        with pytest.raises(ValidationError, match="built-in"):
            store.create_datastore(ws.id, "workspaceblobstore", kind="S3", config={},
                                   overwrite=True)
        with pytest.raises(ValidationError, match="builtin"):
            store.create_datastore(ws.id, "fake", kind="Local", config={"builtin": True})
        with pytest.raises(NotFoundError):
            store.create_datastore(uuid.uuid4().hex, "fine", kind="Local", config={})
        assert store.get_default_datastore(ws.id).name == "workspaceblobstore"
        assert [d.name for d in store.list_datastores(ws.id)] == [
            "workspaceblobstore", "workspacefilestore", "x" * 255
        ]

    # -- datasets ---------------------------------------------------------------------------

    def test_dataset_versions_count_per_name(self, store, ws):
        definition = {"source": [{"datastore": "workspaceblobstore", "path": "d/*.csv"}],
                      "format": "delimited", "steps": [{"take": 5}]}
        before = time.time()
        first = store.create_dataset(
            ws.id, "iris", kind="tabular", definition=definition,
            fingerprint={"files": [["d/a.csv", 10, "e1"]], "digest": "abc"},
            description="flowers", tags={"stage": "raw"},
        )
        assert isinstance(first, DatasetRecord)
        assert (first.workspace_id, first.name, first.version, first.kind) == (
            ws.id, "iris", 1, "tabular"
        )
        assert first.definition == definition
        assert first.fingerprint == {"files": [["d/a.csv", 10, "e1"]], "digest": "abc"}
        assert (first.description, first.tags, first.registered) == ("flowers",
                                                                     {"stage": "raw"}, True)
        assert before - 1 <= first.created_at <= time.time() + 1
        with pytest.raises(AlreadyExistsError, match="create_new_version"):
            store.create_dataset(ws.id, "iris", kind="tabular", definition={})
        second = store.create_dataset(ws.id, "iris", kind="tabular", definition={"v": 2},
                                      create_new_version=True)
        assert second.version == 2 and second.id != first.id
        assert (second.description, second.tags, second.fingerprint) == (None, {}, {})
        assert store.get_dataset(ws.id, "iris") == second
        assert store.get_dataset(ws.id, "iris", 1) == first
        assert store.get_dataset(ws.id, "iris", version=2) == second
        assert store.get_dataset_by_id(ws.id, first.id) == first
        # A new name starts at 1, whatever create_new_version says; so does another workspace.
        assert store.create_dataset(ws.id, "other", kind="file", definition={},
                                    create_new_version=True).version == 1
        other_ws = store.create_workspace(unique("ws"), {})
        assert store.create_dataset(other_ws.id, "iris", kind="file",
                                    definition={}).version == 1
        with pytest.raises(NotFoundError):
            store.get_dataset(ws.id, "iris", 3)
        with pytest.raises(NotFoundError):
            store.get_dataset(ws.id, "missing")

    def test_list_datasets_by_name_then_newest_first(self, store, ws):
        b1 = store.create_dataset(ws.id, "b", kind="file", definition={})
        a1 = store.create_dataset(ws.id, "a", kind="file", definition={})
        b2 = store.create_dataset(ws.id, "b", kind="file", definition={},
                                  create_new_version=True)
        store.create_dataset(ws.id, None, kind="file", definition={})
        assert store.list_datasets(ws.id) == [a1, b2, b1]
        assert store.list_datasets(ws.id, "b") == [b2, b1]
        assert store.list_datasets(ws.id, name="c") == []

    def test_an_unnamed_dataset_is_saved_but_not_listed(self, store, ws):
        saved = store.create_dataset(ws.id, None, kind="tabular", definition={"q": 1})
        assert (saved.name, saved.version, saved.registered) == (None, None, False)
        assert store.get_dataset_by_id(ws.id, saved.id) == saved
        again = store.create_dataset(ws.id, None, kind="tabular", definition={"q": 1})
        assert again.id != saved.id
        assert store.list_datasets(ws.id) == []

    def test_unregister_dataset(self, store, ws):
        v1 = store.create_dataset(ws.id, "d", kind="file", definition={})
        v2 = store.create_dataset(ws.id, "d", kind="file", definition={},
                                  create_new_version=True)
        kept = store.create_dataset(ws.id, "kept", kind="file", definition={})
        store.unregister_dataset(ws.id, "d")
        assert store.list_datasets(ws.id) == [kept]
        with pytest.raises(NotFoundError):
            store.get_dataset(ws.id, "d")
        with pytest.raises(NotFoundError):
            store.get_dataset(ws.id, "d", 1)
        with pytest.raises(NotFoundError):
            store.unregister_dataset(ws.id, "d")
        with pytest.raises(NotFoundError):
            store.update_dataset(ws.id, "d", 2, description="x")
        for old in (v1, v2):  # still readable by id, so lineage holds
            got = store.get_dataset_by_id(ws.id, old.id)
            assert (got.name, got.version, got.registered) == ("d", old.version, False)
        # Registering the name again needs no create_new_version, and numbers go on.
        v3 = store.create_dataset(ws.id, "d", kind="file", definition={"new": True})
        assert (v3.version, v3.registered) == (3, True)
        assert store.list_datasets(ws.id, "d") == [v3]
        with pytest.raises(NotFoundError):
            store.unregister_dataset(ws.id, "missing")

    def test_update_dataset(self, store, ws):
        store.create_dataset(ws.id, "d", kind="file", definition={}, description="old",
                             tags={"a": "1"})
        updated = store.update_dataset(ws.id, "d", 1, tags={"b": "2"})
        assert (updated.description, updated.tags) == ("old", {"b": "2"})
        updated = store.update_dataset(ws.id, "d", 1, description="new")
        assert (updated.description, updated.tags) == ("new", {"b": "2"})
        assert store.update_dataset(ws.id, "d", 1) == updated
        assert store.get_dataset(ws.id, "d", 1) == updated
        with pytest.raises(NotFoundError):
            store.update_dataset(ws.id, "d", 2, description="x")
        with pytest.raises(NotFoundError):
            store.update_dataset(ws.id, "missing", 1, description="x")

    def test_get_dataset_by_id_of_another_workspace_raises(self, store, ws):
        other = store.create_workspace(unique("ws"), {})
        theirs = store.create_dataset(other.id, "d", kind="file", definition={})
        unnamed = store.create_dataset(other.id, None, kind="file", definition={})
        for dataset in (theirs, unnamed):
            with pytest.raises(NotFoundError):
                store.get_dataset_by_id(ws.id, dataset.id)
        with pytest.raises(NotFoundError):
            store.get_dataset_by_id(ws.id, uuid.uuid4().hex)

    @pytest.mark.parametrize("name", ["", "-x", ".x", " x", "x ", "a/b", "x" * 256, 7])
    def test_bad_dataset_names_raise(self, store, ws, name):
        with pytest.raises(ValidationError, match="name"):
            store.create_dataset(ws.id, name, kind="file", definition={})
        assert store.list_datasets(ws.id) == []

    def test_bad_dataset_arguments_raise(self, store, ws):
        assert store.create_dataset(ws.id, "diabetes dataset", kind="file",
                                    definition={}).name == "diabetes dataset"
        longest = "9" + "a.-_" * 63 + "ab"
        assert store.create_dataset(ws.id, longest, kind="file", definition={}).name == longest
        with pytest.raises(ValidationError, match="definition"):
            store.create_dataset(ws.id, "d", kind="file", definition=[1])  # type: ignore[arg-type]
        with pytest.raises(ValidationError, match="kind"):
            store.create_dataset(ws.id, "d", kind="", definition={})
        with pytest.raises(NotFoundError):
            store.create_dataset(uuid.uuid4().hex, "d", kind="file", definition={})
        assert sorted(d.name for d in store.list_datasets(ws.id)) == sorted(
            [longest, "diabetes dataset"])

    # -- lineage ----------------------------------------------------------------------------

    def test_run_datasets_in_both_directions(self, store, ws, exp):
        run, other_run = self.new_run(store, exp), self.new_run(store, exp)
        train = store.create_dataset(ws.id, "train", kind="tabular", definition={})
        scratch = store.create_dataset(ws.id, None, kind="file", definition={})
        assert store.list_run_datasets(run_id=run.id) == []
        before = time.time()
        entry = {"dataset_id": train.id, "name": "training", "direction": "input",
                 "mode": "direct"}
        store.add_run_datasets(run.id, [entry])
        store.add_run_datasets(run.id, [entry, dict(entry)])  # repeats change nothing
        time.sleep(0.01)
        store.add_run_datasets(run.id, [
            {"dataset_id": scratch.id, "name": "out", "direction": "output", "mode": "upload"},
            {"dataset_id": train.id, "name": "again", "direction": "input", "mode": "mount"},
        ])
        store.add_run_datasets(other_run.id, [{**entry, "mode": "download"}])
        store.add_run_datasets(other_run.id, [])

        rows = store.list_run_datasets(run_id=run.id)
        assert all(isinstance(r, RunDatasetRecord) for r in rows)
        assert [(r.dataset_id, r.name, r.direction, r.mode) for r in rows][0] == (
            train.id, "training", "input", "direct"
        )
        assert {(r.name, r.direction, r.mode) for r in rows[1:]} == {
            ("out", "output", "upload"), ("again", "input", "mount")
        }
        assert all(r.run_id == run.id and before - 1 <= r.created_at <= time.time() + 1
                   for r in rows)
        used = store.list_run_datasets(dataset_id=train.id)
        assert [(r.run_id, r.name) for r in used] == [
            (run.id, "training"), (run.id, "again"), (other_run.id, "training")
        ]
        assert [r.run_id for r in store.list_run_datasets(dataset_id=scratch.id)] == [run.id]
        assert [r.name for r in store.list_run_datasets(run_id=run.id,
                                                        dataset_id=scratch.id)] == ["out"]

    def test_run_datasets_are_checked(self, store, ws, exp):
        run = self.new_run(store, exp)
        mine = store.create_dataset(ws.id, "mine", kind="file", definition={})
        other_ws = store.create_workspace(unique("ws"), {})
        theirs = store.create_dataset(other_ws.id, "theirs", kind="file", definition={})
        good = {"dataset_id": mine.id, "name": "in", "direction": "input", "mode": "direct"}
        with pytest.raises(ValidationError, match="workspace"):
            store.add_run_datasets(run.id, [good, {**good, "dataset_id": theirs.id}])
        with pytest.raises(NotFoundError):
            store.add_run_datasets(run.id, [good, {**good, "dataset_id": uuid.uuid4().hex}])
        with pytest.raises(NotFoundError):
            store.add_run_datasets(unique("missing"), [good])
        for bad in ({**good, "direction": "sideways"}, {**good, "mode": "teleport"},
                    {**good, "name": ""}, {"dataset_id": mine.id}):
            with pytest.raises(ValidationError, match="entries"):
                store.add_run_datasets(run.id, [good, bad])
        assert store.list_run_datasets(run_id=run.id) == []  # all or none
        with pytest.raises(NotFoundError):
            store.list_run_datasets(run_id=unique("missing"))

    @needs("runs_in_other_workspaces")
    def test_delete_workspace_deletes_its_data(self, store):
        doomed = store.create_workspace(unique("ws"), {})
        kept = store.create_workspace(unique("ws"), {})
        used = []
        for workspace in (doomed, kept):
            store.create_datastore(workspace.id, "mine", kind="Local", config={"path": "/x"})
            used.append(store.create_dataset(workspace.id, "d", kind="file", definition={}))
            exp = store.create_experiment(workspace.id, "exp")
            run = self.new_run(store, exp)
            store.add_run_datasets(run.id, [{"dataset_id": used[-1].id, "name": "in",
                                             "direction": "input", "mode": "direct"}])
        store.delete_workspace(doomed.name)
        assert len(store.list_datastores(kept.id)) == 3
        assert len(store.list_datasets(kept.id)) == 1
        assert len(store.list_run_datasets(dataset_id=used[1].id)) == 1
        with pytest.raises(NotFoundError):
            store.list_run_datasets(dataset_id=used[0].id)
        again = store.create_workspace(doomed.name, {})
        assert [d.name for d in store.list_datastores(again.id)] == sorted(BUILTIN_DATASTORES)
        assert store.list_datasets(again.id) == []

    def test_data_records_are_frozen_copies(self, store, ws):
        config = {"path": "/x", "opts": {"a": 1}}
        datastore = store.create_datastore(ws.id, "mine", kind="Local", config=config)
        config["opts"]["a"] = 2
        datastore.config["path"] = "/changed"
        definition = {"steps": [1]}
        dataset = store.create_dataset(ws.id, "d", kind="file", definition=definition)
        definition["steps"].append(2)
        dataset.definition["steps"].append(3)
        assert store.get_datastore(ws.id, "mine").config == {"path": "/x", "opts": {"a": 1}}
        assert store.get_dataset(ws.id, "d").definition == {"steps": [1]}
        for record, attr in [(datastore, "is_default"), (dataset, "version")]:
            with pytest.raises(dataclasses.FrozenInstanceError):
                setattr(record, attr, None)

    # -- environments -----------------------------------------------------------------------

    def test_environment_versions_count_when_the_digest_changes(self, store, ws):
        definition = {"python": {"version": "3.11"}, "conda": {"dependencies": ["numpy"]},
                      "variables": {"A": "1"}}
        before = time.time()
        first = store.register_environment(ws.id, "sklearn-env", definition=definition,
                                           digest="abc")
        assert isinstance(first, EnvironmentRecord)
        assert (first.workspace_id, first.name, first.version, first.digest) == (
            ws.id, "sklearn-env", 1, "abc"
        )
        assert first.definition == definition
        assert before - 1 <= first.created_at <= time.time() + 1
        # The same digest keeps the version, and the record, whatever else the definition says.
        again = store.register_environment(ws.id, "sklearn-env", definition={"other": 1},
                                           digest="abc")
        assert again == first
        second = store.register_environment(ws.id, "sklearn-env", definition={"v": 2},
                                            digest="def")
        assert (second.version, second.digest, second.definition) == (2, "def", {"v": 2})
        # Only the latest version counts: going back to an old digest is a new version.
        third = store.register_environment(ws.id, "sklearn-env", definition=definition,
                                           digest="abc")
        assert (third.version, third.digest) == (3, "abc")
        assert store.get_environment(ws.id, "sklearn-env") == third
        assert store.get_environment(ws.id, "sklearn-env", 1) == first
        assert store.get_environment(ws.id, "sklearn-env", version=2) == second
        assert store.list_environments(ws.id) == [third, second, first]
        # A new name starts at 1.
        assert store.register_environment(ws.id, "other", definition=definition,
                                          digest="abc").version == 1
        with pytest.raises(NotFoundError):
            store.get_environment(ws.id, "sklearn-env", 4)
        with pytest.raises(NotFoundError):
            store.get_environment(ws.id, "missing")
        with pytest.raises(NotFoundError):
            store.get_environment(ws.id, "missing", 1)
        with pytest.raises(NotFoundError):
            store.register_environment(uuid.uuid4().hex, "env", definition={}, digest="abc")

    @needs("unknown_ids_read_empty")
    def test_list_environments_by_name_then_newest_first(self, store, ws):
        b1 = store.register_environment(ws.id, "b", definition={}, digest="1")
        a1 = store.register_environment(ws.id, "a", definition={}, digest="1")
        b2 = store.register_environment(ws.id, "b", definition={}, digest="2")
        a2 = store.register_environment(ws.id, "a", definition={}, digest="2")
        assert store.list_environments(ws.id) == [a2, a1, b2, b1]
        assert store.list_environments(ws.id, "b") == [b2, b1]
        assert store.list_environments(ws.id, name="a") == [a2, a1]
        assert store.list_environments(ws.id, name="c") == []
        assert store.list_environments(uuid.uuid4().hex) == []

    def test_environments_are_per_workspace(self, store, ws):
        other = store.create_workspace(unique("ws"), {})
        mine = store.register_environment(ws.id, "env", definition={"a": 1}, digest="x")
        store.register_environment(ws.id, "env", definition={"a": 2}, digest="y")
        theirs = store.register_environment(other.id, "env", definition={"a": 1}, digest="x")
        assert (theirs.workspace_id, theirs.version) == (other.id, 1)
        assert store.list_environments(other.id) == [theirs]
        assert store.get_environment(other.id, "env") == theirs
        assert store.get_environment(ws.id, "env", 1) == mine
        with pytest.raises(NotFoundError):
            store.get_environment(other.id, "env", 2)
        with pytest.raises(NotFoundError):
            store.get_environment(other.id, "mine-only")

    @pytest.mark.parametrize(
        "name", ["", "-x", ".x", "_x", " x", "a b", "a/b", "x" * 256, 7, None]
    )
    def test_bad_environment_names_raise(self, store, ws, name):
        with pytest.raises(ValidationError, match="name"):
            store.register_environment(ws.id, name, definition={}, digest="abc")
        assert store.list_environments(ws.id) == []

    def test_bad_environment_arguments_raise(self, store, ws):
        longest = "9" + "a.-_" * 63 + "ab"
        for name in ("9", "AzureML-Minimal", "env_1.0", longest):
            assert store.register_environment(ws.id, name, definition={},
                                              digest="d" * 128).name == name
        for digest in ("", "d" * 129, 5, None, "a\x00b"):
            with pytest.raises(ValidationError, match="digest"):
                store.register_environment(ws.id, "env", definition={}, digest=digest)
        for definition in ([1], None, "{}", {1: "a"}):
            with pytest.raises(ValidationError, match="definition"):
                store.register_environment(ws.id, "env", definition=definition, digest="abc")
        assert sorted(e.name for e in store.list_environments(ws.id)) == sorted(
            ["9", "AzureML-Minimal", "env_1.0", longest])

    def test_environment_records_are_frozen_copies(self, store, ws):
        definition = {"conda": {"dependencies": ["numpy"]}}
        record = store.register_environment(ws.id, "env", definition=definition, digest="abc")
        definition["conda"]["dependencies"].append("pandas")
        record.definition["conda"]["dependencies"].append("scipy")
        assert store.get_environment(ws.id, "env").definition == {
            "conda": {"dependencies": ["numpy"]}
        }
        with pytest.raises(dataclasses.FrozenInstanceError):
            record.version = 2  # type: ignore[misc]

    @needs("unknown_ids_read_empty")
    def test_delete_workspace_deletes_its_environments(self, store):
        doomed = store.create_workspace(unique("ws"), {})
        kept = store.create_workspace(unique("ws"), {})
        for workspace in (doomed, kept):
            store.register_environment(workspace.id, "env", definition={}, digest="1")
            store.register_environment(workspace.id, "env", definition={}, digest="2")
        store.delete_workspace(doomed.name)
        assert store.list_environments(doomed.id) == []
        with pytest.raises(NotFoundError):
            store.get_environment(doomed.id, "env")
        assert [e.version for e in store.list_environments(kept.id)] == [2, 1]
        again = store.create_workspace(doomed.name, {})
        assert store.list_environments(again.id) == []
        assert store.register_environment(again.id, "env", definition={},
                                          digest="2").version == 1

    # -- compute targets --------------------------------------------------------------------

    def test_create_get_list_and_delete_computes(self, store, ws):
        config = {"vm_size": "STANDARD_DS11_V2", "min_nodes": 0, "max_nodes": 2,
                  "idle_seconds_before_scaledown": 1800, "tags": ["a"], "spot": None}
        before = time.time()
        cluster = store.create_compute(ws.id, "aml-cluster", kind="AmlCompute", config=config)
        assert isinstance(cluster, ComputeRecord)
        assert (cluster.workspace_id, cluster.name, cluster.kind, cluster.state) == (
            ws.id, "aml-cluster", "AmlCompute", "Succeeded"
        )
        assert cluster.config == config
        assert before - 1 <= cluster.created_at <= time.time() + 1
        assert store.get_compute(ws.id, "aml-cluster") == cluster
        ray = store.create_compute(ws.id, "Ray-1", kind="Ray", config={"address": "ray://h:1"})
        box = store.create_compute(ws.id, "box", kind="ComputeInstance", config={})
        assert store.list_computes(ws.id) == sorted([cluster, ray, box], key=lambda c: c.name)
        store.delete_compute(ws.id, "Ray-1")
        with pytest.raises(NotFoundError):
            store.get_compute(ws.id, "Ray-1")
        assert store.list_computes(ws.id) == [cluster, box]
        # The name is free again.
        again = store.create_compute(ws.id, "Ray-1", kind="AmlCompute", config={"max_nodes": 4})
        assert (again.kind, again.config) == ("AmlCompute", {"max_nodes": 4})
        assert store.get_compute(ws.id, "Ray-1") == again

    def test_creating_a_taken_compute_name_raises(self, store, ws):
        first = store.create_compute(ws.id, "cpu-cluster", kind="AmlCompute", config={"a": 1})
        for kind in ("AmlCompute", "Ray"):
            with pytest.raises(AlreadyExistsError, match="cpu-cluster"):
                store.create_compute(ws.id, "cpu-cluster", kind=kind, config={"a": 2})
        assert store.get_compute(ws.id, "cpu-cluster") == first
        assert store.list_computes(ws.id) == [first]

    @needs("unknown_ids_read_empty")
    def test_missing_computes_raise(self, store, ws):
        for call in (store.get_compute, store.delete_compute):
            for name in ("missing", "local", "", "..", "a\x00b", "x" * 300):
                with pytest.raises(NotFoundError, match="compute") as caught:
                    call(ws.id, name)
                assert ws.name in str(caught.value), caught.value
            with pytest.raises(NotFoundError):
                call(uuid.uuid4().hex, "missing")
        with pytest.raises(NotFoundError):
            store.create_compute(uuid.uuid4().hex, "cluster", kind="AmlCompute", config={})
        assert store.list_computes(ws.id) == []
        assert store.list_computes(uuid.uuid4().hex) == []

    @pytest.mark.parametrize(
        "name",
        ["", "a", "x" * 25, "1abc", "-abc", "local", "LOCAL", "Local", "a_b", "a b", "a.b",
         "a/b", "ab\n", "ab\x00", "clusté", 7, None],
    )
    def test_bad_compute_names_raise(self, store, ws, name):
        with pytest.raises(ValidationError, match="name") as caught:
            store.create_compute(ws.id, name, kind="AmlCompute", config={})
        rule = "reserved" if str(name).lower() == "local" else "2-24 letters, digits or '-'"
        assert rule in str(caught.value)
        assert store.list_computes(ws.id) == []

    def test_compute_names_at_the_limits(self, store, ws):
        names = ["ab", "Z9", "a" + "-" * 23, "x" * 24, "local-1", "locals", "my-local"]
        for name in names:
            assert store.create_compute(ws.id, name, kind="Ray", config={}).name == name
        assert [c.name for c in store.list_computes(ws.id)] == sorted(names)

    def test_bad_compute_kinds_and_configs_raise(self, store, ws):
        for kind in ("Local", "amlcompute", "", None, 5, "AmlCompute "):
            with pytest.raises(ValidationError, match="kind") as caught:
                store.create_compute(ws.id, "cluster", kind=kind, config={})
            assert all(k in str(caught.value) for k in COMPUTE_KINDS)
        unjsonable = ([1], None, "{}", {1: "a"}, {"x": object()}, {"x": {1, 2}},
                      {"x": float("nan")}, {"x": [float("inf")]}, {"x": b"bytes"})
        for config in unjsonable:
            with pytest.raises(ValidationError, match="config"):
                store.create_compute(ws.id, "cluster", kind="AmlCompute", config=config)
        assert store.list_computes(ws.id) == []

    def test_computes_are_per_workspace(self, store, ws):
        other = store.create_workspace(unique("ws"), {})
        mine = store.create_compute(ws.id, "cluster", kind="AmlCompute", config={"n": 1})
        store.create_compute(ws.id, "mine-only", kind="Ray", config={})
        theirs = store.create_compute(other.id, "cluster", kind="Ray", config={"n": 2})
        assert store.list_computes(other.id) == [theirs]
        assert store.get_compute(other.id, "cluster") == theirs
        assert store.get_compute(ws.id, "cluster") == mine
        with pytest.raises(NotFoundError, match=other.name):
            store.get_compute(other.id, "mine-only")
        with pytest.raises(NotFoundError):
            store.delete_compute(other.id, "mine-only")
        store.delete_compute(other.id, "cluster")
        assert store.get_compute(ws.id, "cluster") == mine
        assert [c.name for c in store.list_computes(ws.id)] == ["cluster", "mine-only"]

    def test_compute_records_are_frozen_copies(self, store, ws):
        config = {"vm_size": "small", "nested": {"a": [1]}}
        record = store.create_compute(ws.id, "cluster", kind="AmlCompute", config=config)
        config["nested"]["a"].append(2)
        record.config["nested"]["a"].append(3)
        assert store.get_compute(ws.id, "cluster").config == {"vm_size": "small",
                                                              "nested": {"a": [1]}}
        with pytest.raises(dataclasses.FrozenInstanceError):
            record.state = "Failed"  # type: ignore[misc]

    @needs("unknown_ids_read_empty")
    def test_delete_workspace_deletes_its_computes(self, store):
        doomed = store.create_workspace(unique("ws"), {})
        kept = store.create_workspace(unique("ws"), {})
        for workspace in (doomed, kept):
            store.create_compute(workspace.id, "cluster", kind="AmlCompute", config={})
            store.create_compute(workspace.id, "ray", kind="Ray", config={})
        store.delete_workspace(doomed.name)
        assert store.list_computes(doomed.id) == []
        with pytest.raises(NotFoundError):
            store.get_compute(doomed.id, "cluster")
        assert [c.name for c in store.list_computes(kept.id)] == ["cluster", "ray"]
        again = store.create_workspace(doomed.name, {})
        assert store.list_computes(again.id) == []
        assert store.create_compute(again.id, "cluster", kind="Ray", config={}).kind == "Ray"

    # -- pipelines --------------------------------------------------------------------------

    GRAPH = {"steps": [{"name": "prep", "inputs": {"x": [1, 2.5, None]}}], "edges": []}

    @classmethod
    def new_pipeline(cls, store: Store, ws: WorkspaceRecord, name: str = "pipe",
                     **kwargs: Any) -> PublishedPipelineRecord:
        return store.create_published_pipeline(ws.id, name, graph=cls.GRAPH, **kwargs)

    @staticmethod
    def new_schedule(store: Store, ws: WorkspaceRecord, pipeline_id: str,
                     **kwargs: Any) -> ScheduleRecord:
        kwargs.setdefault("experiment_name", "scheduled")
        if "datastore" not in kwargs:
            kwargs.setdefault("recurrence", {"frequency": "Hour", "interval": 1})
        return store.create_schedule(ws.id, unique("schedule"), pipeline_id=pipeline_id,
                                     **kwargs)

    def test_create_get_and_list_published_pipelines(self, store, ws):
        before = time.time()
        first = self.new_pipeline(store, ws, "training pipeline", description="trains",
                                  version="1.0", continue_on_step_failure=True)
        assert isinstance(first, PublishedPipelineRecord)
        assert (first.workspace_id, first.name, first.description, first.version) == (
            ws.id, "training pipeline", "trains", "1.0"
        )
        assert (first.graph, first.continue_on_step_failure, first.status) == (
            self.GRAPH, True, "Active"
        )
        assert str(uuid.UUID(first.id)) == first.id
        assert before - 1 <= first.created_at <= time.time() + 1
        assert store.get_published_pipeline(ws.id, first.id) == first
        second = self.new_pipeline(store, ws, "training pipeline")
        assert second.id != first.id
        assert (second.description, second.version, second.continue_on_step_failure) == (
            None, None, False
        )
        assert store.list_published_pipelines(ws.id) == [second, first]
        assert store.list_published_pipelines(ws.id, active_only=False) == [second, first]

    def test_disable_and_enable_a_published_pipeline(self, store, ws):
        kept = self.new_pipeline(store, ws, "kept")
        pipeline = self.new_pipeline(store, ws)
        disabled = store.set_published_pipeline_status(ws.id, pipeline.id, "Disabled")
        assert disabled == dataclasses.replace(pipeline, status="Disabled")
        assert store.get_published_pipeline(ws.id, pipeline.id) == disabled
        assert store.list_published_pipelines(ws.id) == [kept]
        assert store.list_published_pipelines(ws.id, active_only=False) == [disabled, kept]
        assert store.set_published_pipeline_status(ws.id, pipeline.id, "Active") == pipeline
        for status in ("active", "Deleted", "", None, 1):
            with pytest.raises(ValidationError, match="status") as caught:
                store.set_published_pipeline_status(ws.id, pipeline.id, status)
            assert all(state in str(caught.value) for state in PIPELINE_STATES)
        assert store.get_published_pipeline(ws.id, pipeline.id) == pipeline

    def test_missing_published_pipelines_raise(self, store, ws):
        other = store.create_workspace(unique("ws"), {})
        theirs = self.new_pipeline(store, other)
        for pipeline_id in (str(uuid.uuid4()), theirs.id, "x", "", "..", "a/b", "a\x00b"):
            with pytest.raises(NotFoundError, match="published pipeline") as caught:
                store.get_published_pipeline(ws.id, pipeline_id)
            assert ws.name in str(caught.value), caught.value
            with pytest.raises(NotFoundError):
                store.set_published_pipeline_status(ws.id, pipeline_id, "Disabled")
        assert store.get_published_pipeline(other.id, theirs.id) == theirs
        assert store.list_published_pipelines(ws.id) == []
        with pytest.raises(NotFoundError):
            self.new_pipeline(store, WorkspaceRecord(uuid.uuid4().hex, "gone", 0.0))

    @pytest.mark.parametrize(
        "name", ["", " ", "\t", "x" * 256, "a\nb", "a\x00b", None, 7, ["pipe"]]
    )
    def test_bad_pipeline_names_raise(self, store, ws, name):
        pipeline = self.new_pipeline(store, ws)
        calls = [
            lambda: store.create_published_pipeline(ws.id, name, graph={}),
            lambda: store.create_pipeline_endpoint(ws.id, name, pipeline_id=pipeline.id),
            lambda: store.create_schedule(ws.id, name, pipeline_id=pipeline.id,
                                          experiment_name="e", recurrence={}),
        ]
        for call in calls:
            with pytest.raises(ValidationError, match="name") as caught:
                call()
            assert "1-255" in str(caught.value)
        assert store.list_published_pipelines(ws.id) == [pipeline]
        assert store.list_pipeline_endpoints(ws.id) == []
        assert store.list_schedules(ws.id) == []

    def test_pipeline_names_at_the_limits(self, store, ws):
        for name in ("a", "x" * 255, "Pipeline with spaces, ünïcode & symbols!", " padded "):
            pipeline = self.new_pipeline(store, ws, name)
            assert store.get_published_pipeline(ws.id, pipeline.id).name == name
            endpoint = store.create_pipeline_endpoint(ws.id, name, pipeline_id=pipeline.id)
            assert store.get_pipeline_endpoint(ws.id, name=name) == endpoint

    def test_bad_published_pipeline_arguments_raise(self, store, ws):
        bad = [
            ({"graph": None}, "graph"),
            ({"graph": [1]}, "graph"),
            ({"graph": {1: "a"}}, "graph"),
            ({"graph": {"x": float("nan")}}, "graph"),
            ({"graph": {"x": object()}}, "graph"),
            ({"graph": {}, "version": "v" * 256}, "version"),
            ({"graph": {}, "version": 1}, "version"),
            ({"graph": {}, "description": 5}, "description"),
            ({"graph": {}, "continue_on_step_failure": "yes"}, "continue_on_step_failure"),
        ]
        for kwargs, argument in bad:
            with pytest.raises(ValidationError, match=argument):
                store.create_published_pipeline(ws.id, "pipe", **kwargs)
        assert store.list_published_pipelines(ws.id, active_only=False) == []

    def test_pipeline_endpoints_keep_versions(self, store, ws):
        first, second, third = (self.new_pipeline(store, ws, f"p{i}") for i in range(3))
        before = time.time()
        endpoint = store.create_pipeline_endpoint(ws.id, "serve", pipeline_id=first.id,
                                                  description="the endpoint")
        assert isinstance(endpoint, PipelineEndpointRecord)
        assert (endpoint.workspace_id, endpoint.name, endpoint.description) == (
            ws.id, "serve", "the endpoint"
        )
        assert (endpoint.pipeline_ids, endpoint.default_version, endpoint.status) == (
            [first.id], "0", "Active"
        )
        assert str(uuid.UUID(endpoint.id)) == endpoint.id
        assert before - 1 <= endpoint.created_at <= time.time() + 1
        assert store.get_pipeline_endpoint(ws.id, endpoint_id=endpoint.id) == endpoint
        assert store.get_pipeline_endpoint(ws.id, name="serve") == endpoint

        added = store.add_pipeline_endpoint_version(ws.id, endpoint.id, second.id)
        assert (added.pipeline_ids, added.default_version) == ([first.id, second.id], "0")
        # A pipeline already there is not added twice; make_default points at its version.
        again = store.add_pipeline_endpoint_version(ws.id, endpoint.id, second.id,
                                                    make_default=True)
        assert (again.pipeline_ids, again.default_version) == ([first.id, second.id], "1")
        latest = store.add_pipeline_endpoint_version(ws.id, endpoint.id, third.id,
                                                     make_default=True)
        assert (latest.pipeline_ids, latest.default_version) == (
            [first.id, second.id, third.id], "2"
        )
        back = store.add_pipeline_endpoint_version(ws.id, endpoint.id, first.id,
                                                   make_default=True)
        assert (back.pipeline_ids, back.default_version) == (latest.pipeline_ids, "0")
        assert store.get_pipeline_endpoint(ws.id, name="serve") == back
        assert dataclasses.replace(back, pipeline_ids=[first.id]) == endpoint

    def test_update_pipeline_endpoint(self, store, ws):
        first, second = self.new_pipeline(store, ws, "p1"), self.new_pipeline(store, ws, "p2")
        endpoint = store.create_pipeline_endpoint(ws.id, "serve", pipeline_id=first.id)
        store.add_pipeline_endpoint_version(ws.id, endpoint.id, second.id)
        moved = store.update_pipeline_endpoint(ws.id, endpoint.id, default_version="1")
        assert (moved.default_version, moved.status, moved.description) == ("1", "Active", None)
        described = store.update_pipeline_endpoint(ws.id, endpoint.id, description="new")
        assert (described.default_version, described.description) == ("1", "new")
        disabled = store.update_pipeline_endpoint(ws.id, endpoint.id, status="Disabled")
        assert (disabled.status, disabled.default_version, disabled.description) == (
            "Disabled", "1", "new"
        )
        assert store.update_pipeline_endpoint(ws.id, endpoint.id) == disabled
        for version in ("2", "9", "01", "-1", "one", "", 1, 0.0):
            with pytest.raises(ValidationError, match="default_version"):
                store.update_pipeline_endpoint(ws.id, endpoint.id, default_version=version)
        for status in ("disabled", "", 0):
            with pytest.raises(ValidationError, match="status"):
                store.update_pipeline_endpoint(ws.id, endpoint.id, status=status)
        assert store.get_pipeline_endpoint(ws.id, endpoint_id=endpoint.id) == disabled

    def test_list_pipeline_endpoints_by_name(self, store, ws):
        pipeline = self.new_pipeline(store, ws)
        names = ["b-endpoint", "a-endpoint", "c-endpoint"]
        made = {n: store.create_pipeline_endpoint(ws.id, n, pipeline_id=pipeline.id)
                for n in names}
        assert store.list_pipeline_endpoints(ws.id) == [made[n] for n in sorted(names)]
        off = store.update_pipeline_endpoint(ws.id, made["a-endpoint"].id, status="Disabled")
        assert store.list_pipeline_endpoints(ws.id) == [made["b-endpoint"], made["c-endpoint"]]
        assert store.list_pipeline_endpoints(ws.id, active_only=False) == [
            off, made["b-endpoint"], made["c-endpoint"]
        ]
        # A Disabled endpoint is still found by its name.
        assert store.get_pipeline_endpoint(ws.id, name="a-endpoint") == off

    def test_creating_a_taken_endpoint_name_raises(self, store, ws):
        pipeline = self.new_pipeline(store, ws)
        first = store.create_pipeline_endpoint(ws.id, "serve", pipeline_id=pipeline.id)
        with pytest.raises(AlreadyExistsError, match="serve"):
            store.create_pipeline_endpoint(ws.id, "serve", pipeline_id=pipeline.id)
        store.update_pipeline_endpoint(ws.id, first.id, status="Disabled")
        with pytest.raises(AlreadyExistsError, match="serve"):
            store.create_pipeline_endpoint(ws.id, "serve", pipeline_id=pipeline.id)
        assert [e.id for e in store.list_pipeline_endpoints(ws.id, active_only=False)] == [
            first.id
        ]

    def test_missing_pipeline_endpoints_raise(self, store, ws):
        other = store.create_workspace(unique("ws"), {})
        mine, theirs = self.new_pipeline(store, ws), self.new_pipeline(store, other)
        endpoint = store.create_pipeline_endpoint(ws.id, "serve", pipeline_id=mine.id)
        foreign = store.create_pipeline_endpoint(other.id, "theirs", pipeline_id=theirs.id)
        # The same name in another workspace is another endpoint.
        same_name = store.create_pipeline_endpoint(other.id, "serve", pipeline_id=theirs.id)
        assert same_name.id != endpoint.id
        for endpoint_id in (str(uuid.uuid4()), foreign.id, "x", "", "..", "a/b", "a\x00b"):
            with pytest.raises(NotFoundError, match="pipeline endpoint") as caught:
                store.get_pipeline_endpoint(ws.id, endpoint_id=endpoint_id)
            assert ws.name in str(caught.value), caught.value
            with pytest.raises(NotFoundError):
                store.add_pipeline_endpoint_version(ws.id, endpoint_id, mine.id)
            with pytest.raises(NotFoundError):
                store.update_pipeline_endpoint(ws.id, endpoint_id, status="Disabled")
        for name in ("theirs", "missing", "", "..", "x" * 300, "a\x00b"):
            with pytest.raises(NotFoundError, match="pipeline endpoint"):
                store.get_pipeline_endpoint(ws.id, name=name)
        # Pipelines of another workspace cannot be put behind this workspace's endpoints.
        for pipeline_id in (theirs.id, str(uuid.uuid4()), "x"):
            with pytest.raises(NotFoundError, match="published pipeline"):
                store.create_pipeline_endpoint(ws.id, "new", pipeline_id=pipeline_id)
            with pytest.raises(NotFoundError, match="published pipeline"):
                store.add_pipeline_endpoint_version(ws.id, endpoint.id, pipeline_id)
        assert store.get_pipeline_endpoint(ws.id, endpoint_id=endpoint.id) == endpoint
        assert store.list_pipeline_endpoints(ws.id) == [endpoint]
        assert store.get_pipeline_endpoint(other.id, name="serve") == same_name

    def test_get_pipeline_endpoint_takes_an_id_or_a_name(self, store, ws):
        endpoint = store.create_pipeline_endpoint(ws.id, "serve",
                                                  pipeline_id=self.new_pipeline(store, ws).id)
        for kwargs in ({}, {"endpoint_id": endpoint.id, "name": "serve"}):
            with pytest.raises(ValidationError, match="endpoint_id"):
                store.get_pipeline_endpoint(ws.id, **kwargs)

    def test_create_get_and_list_schedules(self, store, ws):
        pipeline = self.new_pipeline(store, ws)
        recurrence = {"frequency": "Week", "interval": 2, "start_time": "2024-01-01T00:00:00",
                      "time_zone": "UTC", "hours": [9], "minutes": [30],
                      "week_days": ["Monday", "Friday"]}
        before = time.time()
        timed = store.create_schedule(
            ws.id, "nightly", pipeline_id=pipeline.id, experiment_name="nightly-exp",
            recurrence=recurrence, pipeline_parameters={"lr": 0.1, "layers": [2, 3]},
            description="every other week", next_fire_at=1_700_000_000.123456,
        )
        assert isinstance(timed, ScheduleRecord)
        assert (timed.workspace_id, timed.name, timed.pipeline_id, timed.experiment_name) == (
            ws.id, "nightly", pipeline.id, "nightly-exp"
        )
        assert (timed.recurrence, timed.pipeline_parameters, timed.description) == (
            recurrence, {"lr": 0.1, "layers": [2, 3]}, "every other week"
        )
        assert (timed.datastore, timed.path_on_datastore, timed.data_path_parameter_name) == (
            None, None, None
        )
        assert (timed.status, timed.next_fire_at, timed.polling_interval) == (
            "Active", 1_700_000_000.123456, 5.0
        )
        assert (timed.data_state, timed.last_fired_at, timed.last_run_id) == (None, None, None)
        assert str(uuid.UUID(timed.id)) == timed.id
        assert before - 1 <= timed.created_at <= time.time() + 1
        assert store.get_schedule(ws.id, timed.id) == timed

        watching = store.create_schedule(
            ws.id, "on new data", pipeline_id=pipeline.id, experiment_name="data-exp",
            datastore="workspaceblobstore", path_on_datastore="incoming/", polling_interval=1,
            data_path_parameter_name="input_path",
        )
        assert (watching.recurrence, watching.datastore, watching.path_on_datastore) == (
            None, "workspaceblobstore", "incoming/"
        )
        assert (watching.polling_interval, watching.data_path_parameter_name) == (
            1.0, "input_path"
        )
        assert (watching.next_fire_at, watching.pipeline_parameters) == (None, {})
        assert store.get_schedule(ws.id, watching.id) == watching
        assert store.list_schedules(ws.id) == [watching, timed]

        other = self.new_pipeline(store, ws, "other")
        third = self.new_schedule(store, ws, other.id)
        assert store.list_schedules(ws.id, pipeline_id=pipeline.id) == [watching, timed]
        assert store.list_schedules(ws.id, pipeline_id=other.id) == [third]
        assert store.list_schedules(ws.id, pipeline_id=str(uuid.uuid4())) == []
        assert store.list_schedules(ws.id, pipeline_id="x") == []

    def test_update_schedule(self, store, ws):
        schedule = self.new_schedule(store, ws, self.new_pipeline(store, ws).id,
                                     next_fire_at=100.5)
        kept = self.new_schedule(store, ws, schedule.pipeline_id)
        moved = store.update_schedule(ws.id, schedule.id, next_fire_at=200.25)
        assert moved == dataclasses.replace(schedule, next_fire_at=200.25)
        disabled = store.update_schedule(ws.id, schedule.id, status="Disabled")
        assert (disabled.status, disabled.next_fire_at) == ("Disabled", 200.25)
        assert store.list_schedules(ws.id) == [kept]
        assert store.list_schedules(ws.id, active_only=False) == [kept, disabled]
        assert store.update_schedule(ws.id, schedule.id) == disabled
        enabled = store.update_schedule(ws.id, schedule.id, status="Active", next_fire_at=7)
        assert (enabled.status, enabled.next_fire_at) == ("Active", 7.0)
        for kwargs, argument in [({"status": "Paused"}, "status"), ({"status": ""}, "status"),
                                 ({"next_fire_at": float("nan")}, "next_fire_at"),
                                 ({"next_fire_at": float("inf")}, "next_fire_at"),
                                 ({"next_fire_at": "soon"}, "next_fire_at"),
                                 ({"next_fire_at": True}, "next_fire_at")]:
            with pytest.raises(ValidationError, match=argument):
                store.update_schedule(ws.id, schedule.id, **kwargs)
        assert store.get_schedule(ws.id, schedule.id) == enabled

    def test_bad_schedule_arguments_raise(self, store, ws):
        pipeline = self.new_pipeline(store, ws)
        every_hour = {"frequency": "Hour", "interval": 1}
        bad = [
            ({}, "recurrence"),
            ({"recurrence": every_hour, "datastore": "workspaceblobstore"}, "datastore"),
            ({"recurrence": [1]}, "recurrence"),
            ({"recurrence": {"x": float("inf")}}, "recurrence"),
            ({"datastore": "1-bad name"}, "datastore"),
            ({"datastore": ""}, "datastore"),
            ({"recurrence": every_hour, "path_on_datastore": "in/"}, "path_on_datastore"),
            ({"recurrence": every_hour, "data_path_parameter_name": "p"},
             "data_path_parameter_name"),
            ({"datastore": "workspaceblobstore", "polling_interval": 0}, "polling_interval"),
            ({"datastore": "workspaceblobstore", "polling_interval": -1}, "polling_interval"),
            ({"datastore": "workspaceblobstore", "polling_interval": float("nan")},
             "polling_interval"),
            ({"datastore": "workspaceblobstore", "polling_interval": "5"}, "polling_interval"),
            ({"recurrence": every_hour, "pipeline_parameters": {"x": object()}},
             "pipeline_parameters"),
            ({"recurrence": every_hour, "pipeline_parameters": [1]}, "pipeline_parameters"),
            ({"recurrence": every_hour, "next_fire_at": float("nan")}, "next_fire_at"),
            ({"recurrence": every_hour, "next_fire_at": "now"}, "next_fire_at"),
            ({"recurrence": every_hour, "experiment_name": ""}, "experiment_name"),
            ({"recurrence": every_hour, "experiment_name": "has space"}, "experiment_name"),
            ({"recurrence": every_hour, "experiment_name": None}, "experiment_name"),
        ]
        for kwargs, argument in bad:
            kwargs = {"experiment_name": "exp", **kwargs}
            with pytest.raises(ValidationError, match=argument):
                store.create_schedule(ws.id, "schedule", pipeline_id=pipeline.id, **kwargs)
        assert store.list_schedules(ws.id, active_only=False) == []

    def test_missing_schedules_raise(self, store, ws):
        other = store.create_workspace(unique("ws"), {})
        theirs = self.new_pipeline(store, other)
        foreign = self.new_schedule(store, other, theirs.id)
        for pipeline_id in (theirs.id, str(uuid.uuid4()), "x"):
            with pytest.raises(NotFoundError, match="published pipeline"):
                self.new_schedule(store, ws, pipeline_id)
        for schedule_id in (str(uuid.uuid4()), foreign.id, "x", "", "..", "a/b", "a\x00b"):
            with pytest.raises(NotFoundError, match="schedule") as caught:
                store.get_schedule(ws.id, schedule_id)
            assert ws.name in str(caught.value), caught.value
            with pytest.raises(NotFoundError, match="schedule"):
                store.update_schedule(ws.id, schedule_id, status="Disabled")
        assert store.list_schedules(ws.id) == []
        assert store.list_schedules(ws.id, pipeline_id=theirs.id) == []
        assert store.get_schedule(other.id, foreign.id) == foreign
        assert store.list_schedules(other.id) == [foreign]

    def test_step_results(self, store, ws, exp):
        assert store.find_step_result(ws.id, "f" * 64) is None
        first = self.new_run(store, exp)
        store.set_status(first.id, RunStatus.COMPLETED)
        store.record_step_result(ws.id, "f" * 64, first.id)
        assert store.find_step_result(ws.id, "f" * 64) == first.id
        # The latest recorded run wins.
        second = self.new_run(store, exp)
        store.set_status(second.id, RunStatus.COMPLETED)
        store.record_step_result(ws.id, "f" * 64, second.id)
        assert store.find_step_result(ws.id, "f" * 64) == second.id
        store.record_step_result(ws.id, "f" * 64, first.id)
        assert store.find_step_result(ws.id, "f" * 64) == first.id
        # Fingerprints are per workspace.
        other = store.create_workspace(unique("ws"), {})
        assert store.find_step_result(other.id, "f" * 64) is None

    def test_a_step_result_counts_only_while_its_run_is_completed(self, store, ws, exp):
        for status in (RunStatus.FAILED, RunStatus.CANCELED):
            run = self.new_run(store, exp)
            store.set_status(run.id, status)
            store.record_step_result(ws.id, status, run.id)
            assert store.find_step_result(ws.id, status) is None
        running = self.new_run(store, exp, status=RunStatus.RUNNING)
        store.record_step_result(ws.id, "pending", running.id)
        assert store.find_step_result(ws.id, "pending") is None
        store.set_status(running.id, RunStatus.COMPLETED)
        assert store.find_step_result(ws.id, "pending") == running.id
        # A later record of a run that did not complete hides the earlier Completed one.
        failed = self.new_run(store, exp)
        store.set_status(failed.id, RunStatus.FAILED)
        store.record_step_result(ws.id, "pending", failed.id)
        assert store.find_step_result(ws.id, "pending") is None

    def test_bad_step_results_raise(self, store, ws, exp):
        run = self.new_run(store, exp)
        store.set_status(run.id, RunStatus.COMPLETED)
        for fingerprint in ("", ".", "..", "-abc", "a/b", "a b", "a\x00b", "x" * 256, None, 5):
            with pytest.raises(ValidationError, match="fingerprint"):
                store.record_step_result(ws.id, fingerprint, run.id)
            assert store.find_step_result(ws.id, fingerprint) is None
        for run_id in ("missing", "", "..", "a\x00b"):
            with pytest.raises(NotFoundError, match="run"):
                store.record_step_result(ws.id, "abc", run_id)
        with pytest.raises(ValidationError, match="run_id"):
            store.record_step_result(ws.id, "abc", None)
        with pytest.raises(NotFoundError):
            store.record_step_result(uuid.uuid4().hex, "abc", run.id)
        assert store.find_step_result(ws.id, "abc") is None
        longest = "a" * 255
        store.record_step_result(ws.id, longest, run.id)
        assert store.find_step_result(ws.id, longest) == run.id

    @needs("runs_in_other_workspaces")
    def test_a_step_result_is_a_run_of_its_workspace(self, store, ws, exp):
        other = store.create_workspace(unique("ws"), {})
        run = self.new_run(store, exp)
        store.set_status(run.id, RunStatus.COMPLETED)
        with pytest.raises(NotFoundError, match="run"):
            store.record_step_result(other.id, "abc", run.id)
        assert store.find_step_result(other.id, "abc") is None

    @needs("scheduler")
    def test_claim_schedule_fire_is_a_compare_and_set(self, store, ws):
        due = 1_700_000_000.1234567  # not exact in decimal: compared as the stored float
        schedule = self.new_schedule(store, ws, self.new_pipeline(store, ws).id,
                                     next_fire_at=due)
        for wrong in (None, due + 1, math.nextafter(due, math.inf),
                      math.nextafter(due, -math.inf)):
            assert not store.claim_schedule_fire(schedule.id, expected_next_fire_at=wrong,
                                                 next_fire_at=due + 60)
        assert store.get_schedule(ws.id, schedule.id) == schedule
        before = time.time()
        assert store.claim_schedule_fire(schedule.id, expected_next_fire_at=due,
                                         next_fire_at=due + 60)
        fired = store.get_schedule(ws.id, schedule.id)
        assert (fired.next_fire_at, fired.data_state) == (due + 60, None)
        assert before - 1 <= fired.last_fired_at <= time.time() + 1
        # The same due time is claimed once.
        assert not store.claim_schedule_fire(schedule.id, expected_next_fire_at=due,
                                             next_fire_at=due + 60)
        # A poll that does not fire moves the time and keeps what it saw, not last_fired_at.
        state = {"files": [["a.csv", 10, "etag"]], "digest": "d1"}
        assert store.claim_schedule_fire(schedule.id, expected_next_fire_at=due + 60,
                                         next_fire_at=None, data_state=state, fired=False)
        polled = store.get_schedule(ws.id, schedule.id)
        assert (polled.next_fire_at, polled.data_state, polled.last_fired_at) == (
            None, state, fired.last_fired_at
        )
        # None compares as None; data_state=None leaves the saved state as it is.
        assert store.claim_schedule_fire(schedule.id, expected_next_fire_at=None,
                                         next_fire_at=5.0, fired=False)
        assert store.get_schedule(ws.id, schedule.id).data_state == state
        assert not store.claim_schedule_fire(schedule.id, expected_next_fire_at=None,
                                             next_fire_at=6.0)
        # A Disabled schedule does not fire.
        store.update_schedule(ws.id, schedule.id, status="Disabled")
        assert not store.claim_schedule_fire(schedule.id, expected_next_fire_at=5.0,
                                             next_fire_at=6.0)
        assert store.get_schedule(ws.id, schedule.id).next_fire_at == 5.0
        for missing in (str(uuid.uuid4()), "x", ""):
            assert not store.claim_schedule_fire(missing, expected_next_fire_at=None,
                                                 next_fire_at=1.0)
        for kwargs, argument in [({"next_fire_at": float("nan")}, "next_fire_at"),
                                 ({"expected_next_fire_at": "5"}, "expected_next_fire_at"),
                                 ({"data_state": [1]}, "data_state")]:
            kwargs = {"expected_next_fire_at": 5.0, "next_fire_at": 6.0, **kwargs}
            with pytest.raises(ValidationError, match=argument):
                store.claim_schedule_fire(schedule.id, **kwargs)

    @needs("scheduler")
    def test_scheduler_lists_every_workspace_and_records_last_runs(self, store, ws):
        other = store.create_workspace(unique("ws"), {})
        mine = self.new_schedule(store, ws, self.new_pipeline(store, ws).id)
        theirs = self.new_schedule(store, other, self.new_pipeline(store, other).id)
        listed = store.list_schedules()
        assert listed.index(theirs) < listed.index(mine)  # newest first
        off = store.update_schedule(other.id, theirs.id, status="Disabled")
        assert off not in store.list_schedules() and mine in store.list_schedules()
        assert off in store.list_schedules(active_only=False)
        assert store.list_schedules(pipeline_id=mine.pipeline_id) == [mine]
        store.set_schedule_last_run(mine.id, "run-123")
        assert store.get_schedule(ws.id, mine.id).last_run_id == "run-123"
        for missing in (str(uuid.uuid4()), "x"):
            with pytest.raises(NotFoundError, match="schedule"):
                store.set_schedule_last_run(missing, "run-123")

    @needs("scheduler")
    def test_processes_claim_each_due_time_once(self, store, store_factory, ws, process_pool):
        due_times = [1_000_000.0 + i * 0.1 for i in range(15)]
        schedule = self.new_schedule(store, ws, self.new_pipeline(store, ws).id,
                                     next_fire_at=due_times[0])
        results = process_pool.run_together(_claim_fires, store_factory, schedule.id, due_times)
        wins = [sum(claims) for claims in zip(*results, strict=True)]
        assert wins == [1] * (len(due_times) - 1), results
        assert store.get_schedule(ws.id, schedule.id).next_fire_at == due_times[-1]

    def test_pipeline_records_are_frozen_copies(self, store, ws):
        graph = {"steps": [{"name": "a"}]}
        pipeline = store.create_published_pipeline(ws.id, "pipe", graph=graph)
        graph["steps"].append({"name": "b"})
        pipeline.graph["steps"].append({"name": "c"})
        assert store.get_published_pipeline(ws.id, pipeline.id).graph == {
            "steps": [{"name": "a"}]
        }
        endpoint = store.create_pipeline_endpoint(ws.id, "serve", pipeline_id=pipeline.id)
        endpoint.pipeline_ids.append("x")
        assert store.get_pipeline_endpoint(ws.id, endpoint_id=endpoint.id).pipeline_ids == [
            pipeline.id
        ]
        params = {"a": [1]}
        schedule = self.new_schedule(store, ws, pipeline.id, pipeline_parameters=params)
        params["a"].append(2)
        schedule.pipeline_parameters["a"].append(3)
        assert store.get_schedule(ws.id, schedule.id).pipeline_parameters == {"a": [1]}
        for record in (pipeline, endpoint, schedule):
            with pytest.raises(dataclasses.FrozenInstanceError):
                record.status = "Disabled"  # type: ignore[misc]

    @needs("unknown_ids_read_empty", "runs_in_other_workspaces")
    def test_delete_workspace_deletes_its_pipelines(self, store):
        doomed = store.create_workspace(unique("ws"), {})
        kept = store.create_workspace(unique("ws"), {})
        for workspace in (doomed, kept):
            experiment = store.create_experiment(workspace.id, "exp")
            pipeline = self.new_pipeline(store, workspace)
            store.create_pipeline_endpoint(workspace.id, "serve", pipeline_id=pipeline.id)
            self.new_schedule(store, workspace, pipeline.id)
            run = self.new_run(store, experiment)
            store.set_status(run.id, RunStatus.COMPLETED)
            store.record_step_result(workspace.id, "abc", run.id)
        store.delete_workspace(doomed.name)
        assert store.list_published_pipelines(doomed.id, active_only=False) == []
        assert store.list_pipeline_endpoints(doomed.id, active_only=False) == []
        assert store.list_schedules(doomed.id, active_only=False) == []
        assert store.find_step_result(doomed.id, "abc") is None
        assert len(store.list_published_pipelines(kept.id)) == 1
        assert len(store.list_pipeline_endpoints(kept.id)) == 1
        assert len(store.list_schedules(kept.id)) == 1
        assert store.find_step_result(kept.id, "abc") is not None
        again = store.create_workspace(doomed.name, {})
        assert store.list_published_pipelines(again.id) == []
        assert store.list_pipeline_endpoints(again.id) == []
        assert store.find_step_result(again.id, "abc") is None
        pipeline = self.new_pipeline(store, again)
        assert store.create_pipeline_endpoint(again.id, "serve", pipeline_id=pipeline.id).name

    # -- web services -----------------------------------------------------------------------

    SERVICE_CONFIG = {"port": 8890, "cpu_cores": 0.5, "memory_gb": 1, "auth_enabled": True,
                      "autoscale": {"min_replicas": 1, "max_replicas": None}}
    INFERENCE = {"entry_script": "score.py", "snapshotId": "abc",
                 "environment": {"name": "env", "version": "1"}, "runtime": "python"}

    @classmethod
    def new_service(cls, store: Store, ws: WorkspaceRecord, name: str = "my-service",
                    **kwargs: Any) -> ServiceRecord:
        kwargs.setdefault("kind", "Local")
        kwargs.setdefault("config", cls.SERVICE_CONFIG)
        kwargs.setdefault("models", ["sklearn-model:1"])
        kwargs.setdefault("inference", cls.INFERENCE)
        return store.create_service(ws.id, name, **kwargs)

    def test_create_get_list_and_delete_services(self, store, ws):
        before = time.time()
        service = self.new_service(
            store, ws, "aci-service", kind="ACI", models=["model-a:1", "model.b_2:10"],
            description="scores", tags={"team": "ml"}, properties={"owner": "me"},
        )
        assert isinstance(service, ServiceRecord)
        assert (service.workspace_id, service.name, service.kind, service.state) == (
            ws.id, "aci-service", "ACI", "Transitioning"
        )
        assert (service.config, service.models, service.inference) == (
            self.SERVICE_CONFIG, ["model-a:1", "model.b_2:10"], self.INFERENCE
        )
        assert (service.description, service.tags, service.properties) == (
            "scores", {"team": "ml"}, {"owner": "me"}
        )
        assert (service.scoring_uri, service.swagger_uri, service.host, service.pid,
                service.error) == (None, None, None, None, None)
        assert before - 1 <= service.created_at <= time.time() + 1
        assert service.updated_at == service.created_at
        assert store.get_service(ws.id, "aci-service") == service
        local = self.new_service(store, ws, "local-1", models=[], config={}, inference={})
        assert (local.models, local.config, local.inference) == ([], {}, {})
        assert (local.description, local.tags, local.properties) == (None, {}, {})
        aks = self.new_service(store, ws, "b-aks", kind="AKS")
        assert store.list_services(ws.id) == [service, aks, local]
        store.delete_service(ws.id, "b-aks")
        with pytest.raises(NotFoundError, match="service"):
            store.get_service(ws.id, "b-aks")
        with pytest.raises(NotFoundError, match="service"):
            store.delete_service(ws.id, "b-aks")
        assert store.list_services(ws.id) == [service, local]
        # The name is free again.
        again = self.new_service(store, ws, "b-aks", kind="Local", models=["m:2"])
        assert (again.kind, again.models, again.state) == ("Local", ["m:2"], "Transitioning")
        assert store.get_service(ws.id, "b-aks") == again

    def test_creating_a_taken_service_name_raises(self, store, ws):
        first = self.new_service(store, ws)
        for kind in SERVICE_KINDS:
            with pytest.raises(AlreadyExistsError, match="my-service"):
                self.new_service(store, ws, kind=kind, config={"other": 1})
        with pytest.raises(AlreadyExistsError, match="overwrite"):
            self.new_service(store, ws, overwrite=False)
        assert store.get_service(ws.id, "my-service") == first
        assert store.list_services(ws.id) == [first]

    def test_overwrite_replaces_a_service_but_its_created_at(self, store, ws):
        # Overwriting a name that is free creates the service.
        first = self.new_service(store, ws, description="old", tags={"a": "1"},
                                 properties={"p": "1"}, overwrite=True)
        assert store.get_service(ws.id, "my-service") == first
        running = store.update_service(
            ws.id, "my-service", state="Healthy", scoring_uri="http://h:1/score",
            swagger_uri="http://h:1/swagger.json", host="h", pid=4242,
            error={"code": "x"},
        )
        time.sleep(0.01)
        replaced = self.new_service(store, ws, kind="AKS", config={"num_replicas": 2},
                                    models=["other:3"], inference={"entry_script": "new.py"},
                                    overwrite=True)
        assert replaced == ServiceRecord(
            workspace_id=ws.id, name="my-service", kind="AKS", created_at=first.created_at,
            updated_at=replaced.updated_at, config={"num_replicas": 2}, models=["other:3"],
            inference={"entry_script": "new.py"},
        )
        assert replaced.updated_at > running.updated_at
        assert store.get_service(ws.id, "my-service") == replaced
        assert store.list_services(ws.id) == [replaced]

    def test_update_service(self, store, ws):
        service = self.new_service(store, ws, description="d", tags={"a": "1"},
                                   properties={"p": "1"})
        current = service
        changes = [
            {"state": "Healthy"},
            {"config": {"port": 9000, "workers": 2}},
            {"models": ["m:1", "m:2"]},
            {"models": []},
            {"inference": {"entry_script": "other.py"}},
            {"scoring_uri": "http://127.0.0.1:9000/score"},
            {"swagger_uri": "http://127.0.0.1:9000/swagger.json"},
            {"host": "127.0.0.1"},
            {"pid": 12345},
            {"error": {"code": "Crashed", "message": "exit 1", "details": [1, None]}},
            {"description": "new"},
            {"tags": {"b": "2"}},
            {"properties": {"q": "2"}},
            {"state": "Unhealthy", "pid": 2, "host": "other"},
            {},
        ]
        for change in changes:
            time.sleep(0.002)
            updated = store.update_service(ws.id, "my-service", **change)
            assert updated.updated_at > current.updated_at
            # What is given replaces the field; the rest stays as it was.
            assert updated == dataclasses.replace(current, updated_at=updated.updated_at,
                                                  **change)
            assert store.get_service(ws.id, "my-service") == updated
            current = updated
        assert current.created_at == service.created_at
        cleared = store.update_service(ws.id, "my-service", clear_error=True)
        assert cleared == dataclasses.replace(current, error=None,
                                              updated_at=cleared.updated_at)
        failed = store.update_service(ws.id, "my-service", state="Failed",
                                      error={"message": "again"})
        assert (failed.state, failed.error) == ("Failed", {"message": "again"})
        assert store.update_service(ws.id, "my-service", clear_error=True,
                                    state="Transitioning").error is None

    def test_bad_service_updates_raise(self, store, ws):
        service = self.new_service(store, ws)
        for state in ("healthy", "Running", "Succeeded", "", 5):
            with pytest.raises(ValidationError, match="state") as caught:
                store.update_service(ws.id, "my-service", state=state)
            assert all(s in str(caught.value) for s in SERVICE_STATES)
        bad = [
            ({"config": [1]}, "config"),
            ({"config": {"x": float("nan")}}, "config"),
            ({"inference": {"x": object()}}, "inference"),
            ({"inference": "score.py"}, "inference"),
            ({"models": "m:1"}, "models"),
            ({"models": ["m"]}, "models"),
            ({"models": ["m:0"]}, "models"),
            ({"scoring_uri": 5}, "scoring_uri"),
            ({"swagger_uri": b"x"}, "swagger_uri"),
            ({"host": "a\x00b"}, "host"),
            ({"pid": 0}, "pid"),
            ({"pid": -1}, "pid"),
            ({"pid": True}, "pid"),
            ({"pid": "5"}, "pid"),
            ({"pid": 1.5}, "pid"),
            ({"pid": 2**31}, "pid"),
            ({"error": [1]}, "error"),
            ({"error": {"x": float("inf")}}, "error"),
            ({"error": {"code": "x"}, "clear_error": True}, "error"),
            ({"clear_error": "yes"}, "clear_error"),
            ({"description": 5}, "description"),
            ({"tags": {"a": 1}}, "tags"),
            ({"properties": ["a"]}, "properties"),
        ]
        for kwargs, argument in bad:
            with pytest.raises(ValidationError, match=argument):
                store.update_service(ws.id, "my-service", **kwargs)
        assert store.get_service(ws.id, "my-service") == service

    def test_missing_services_raise(self, store, ws):
        other = store.create_workspace(unique("ws"), {})
        self.new_service(store, other, "theirs")
        calls = [
            lambda name: store.get_service(ws.id, name),
            lambda name: store.update_service(ws.id, name, state="Healthy"),
            lambda name: store.delete_service(ws.id, name),
        ]
        for call in calls:
            for name in ("missing", "theirs", "", ".", "..", "a/b", "a\x00b", "x" * 300,
                         "My-Service", "ab"):
                with pytest.raises(NotFoundError, match="service") as caught:
                    call(name)
                assert ws.name in str(caught.value), caught.value
        missing = WorkspaceRecord(uuid.uuid4().hex, "gone", 0.0)
        with pytest.raises(NotFoundError):
            self.new_service(store, missing)
        for call in (store.get_service, store.delete_service):
            with pytest.raises(NotFoundError):
                call(missing.id, "theirs")
        with pytest.raises(NotFoundError):
            store.update_service(missing.id, "theirs", state="Healthy")
        assert store.list_services(ws.id) == []
        assert [s.name for s in store.list_services(other.id)] == ["theirs"]
        assert store.get_service(other.id, "theirs").state == "Transitioning"

    @needs("unknown_ids_read_empty")
    def test_services_of_an_unknown_workspace_list_empty(self, store):
        assert store.list_services(uuid.uuid4().hex) == []

    @pytest.mark.parametrize(
        "name",
        ["", "ab", "x" * 33, "1abc", "-abc", "abc-", "Abc", "ABC", "ab_c", "a b", "a.b", "a/b",
         "abc\n", "ab\x00c", "servicé", " abc", 7, None, ["abc"]],
    )
    def test_bad_service_names_raise(self, store, ws, name):
        with pytest.raises(ValidationError, match="name") as caught:
            self.new_service(store, ws, name)
        assert "3-32 lowercase letters, digits or '-'" in str(caught.value)
        assert store.list_services(ws.id) == []

    def test_service_names_at_the_limits(self, store, ws):
        names = ["abc", "a-1", "a--b", "z" * 32, "a" + "-" * 30 + "b", "x9" * 16]
        for name in names:
            assert self.new_service(store, ws, name).name == name
            assert store.get_service(ws.id, name).name == name
        assert [s.name for s in store.list_services(ws.id)] == sorted(names)

    def test_bad_service_arguments_raise(self, store, ws):
        for kind in ("local", "AmlCompute", "Webservice", "", None, 5, "ACI "):
            with pytest.raises(ValidationError, match="kind") as caught:
                self.new_service(store, ws, kind=kind)
            assert all(k in str(caught.value) for k in SERVICE_KINDS)
        unjsonable = ([1], None, "{}", {1: "a"}, {"x": object()}, {"x": {1, 2}},
                      {"x": float("nan")}, {"x": [float("inf")]}, {"x": b"bytes"})
        for value in unjsonable:
            for argument in ("config", "inference"):
                with pytest.raises(ValidationError, match=argument):
                    self.new_service(store, ws, **{argument: value})
        bad_models = ["m:1", None, {"m:1": 1}, ["m"], ["m:0"], ["m:01"], ["m:x"], [":1"],
                      ["m:1:2"], ["-m:1"], ["m :1"], ["m:-1"], [1], [None], [b"m:1"]]
        for models in bad_models:
            with pytest.raises(ValidationError, match="models"):
                self.new_service(store, ws, models=models)
        bad = [
            ({"description": 5}, "description"),
            ({"description": "a\x00b"}, "description"),
            ({"tags": {"a": 1}}, "tags"),
            ({"tags": ["a"]}, "tags"),
            ({"properties": {1: "a"}}, "properties"),
            ({"overwrite": "yes"}, "overwrite"),
            ({"overwrite": None}, "overwrite"),
        ]
        for kwargs, argument in bad:
            with pytest.raises(ValidationError, match=argument):
                self.new_service(store, ws, **kwargs)
        assert store.list_services(ws.id) == []

    def test_services_are_per_workspace(self, store, ws):
        other = store.create_workspace(unique("ws"), {})
        mine = self.new_service(store, ws, "scorer", kind="Local")
        self.new_service(store, ws, "mine-only")
        theirs = self.new_service(store, other, "scorer", kind="AKS")
        assert store.list_services(other.id) == [theirs]
        assert store.get_service(other.id, "scorer") == theirs
        assert store.get_service(ws.id, "scorer") == mine
        with pytest.raises(NotFoundError, match=other.name):
            store.get_service(other.id, "mine-only")
        with pytest.raises(AlreadyExistsError):
            self.new_service(store, other, "scorer")
        store.update_service(other.id, "scorer", state="Failed")
        assert store.get_service(ws.id, "scorer") == mine
        store.delete_service(other.id, "scorer")
        assert store.get_service(ws.id, "scorer") == mine
        assert [s.name for s in store.list_services(ws.id)] == ["mine-only", "scorer"]
        assert store.list_services(other.id) == []

    def test_service_records_are_frozen_copies(self, store, ws):
        config = {"port": 1, "nested": {"a": [1]}}
        models = ["m:1"]
        record = self.new_service(store, ws, config=config, models=models)
        config["nested"]["a"].append(2)
        models.append("m:2")
        record.config["nested"]["a"].append(3)
        record.models.append("m:3")
        got = store.get_service(ws.id, "my-service")
        assert (got.config, got.models) == ({"port": 1, "nested": {"a": [1]}}, ["m:1"])
        error = {"details": [1]}
        updated = store.update_service(ws.id, "my-service", error=error)
        error["details"].append(2)
        updated.error["details"].append(3)
        assert store.get_service(ws.id, "my-service").error == {"details": [1]}
        with pytest.raises(dataclasses.FrozenInstanceError):
            record.state = "Healthy"  # type: ignore[misc]

    @needs("supervisor")
    def test_supervisor_lists_every_workspaces_services(self, store, ws):
        other = store.create_workspace(unique("ws"), {})
        name = unique("svc")
        mine = self.new_service(store, ws, name)
        theirs = self.new_service(store, other, name, kind="AKS")
        last = self.new_service(store, other, "z" + name)
        listed = store.list_services()
        assert mine in listed and theirs in listed and last in listed
        keys = [(s.name, s.workspace_id) for s in listed]
        assert keys == sorted(keys)  # by name
        assert listed.index(last) > max(listed.index(mine), listed.index(theirs))
        store.delete_service(ws.id, name)
        listed = store.list_services()
        assert mine not in listed and theirs in listed

    @needs("unknown_ids_read_empty")
    def test_delete_workspace_deletes_its_services(self, store):
        doomed = store.create_workspace(unique("ws"), {})
        kept = store.create_workspace(unique("ws"), {})
        for workspace in (doomed, kept):
            self.new_service(store, workspace, "scorer")
            self.new_service(store, workspace, "other", kind="AKS")
        store.delete_workspace(doomed.name)
        assert store.list_services(doomed.id) == []
        with pytest.raises(NotFoundError):
            store.get_service(doomed.id, "scorer")
        assert [s.name for s in store.list_services(kept.id)] == ["other", "scorer"]
        again = store.create_workspace(doomed.name, {})
        assert store.list_services(again.id) == []
        assert self.new_service(store, again, "scorer", kind="ACI").kind == "ACI"

    # -- users, roles and tokens ------------------------------------------------------------

    @pytest.fixture
    def admin_store(self, store) -> Store:
        """The store, when it manages users: a workspace server's own (SQL) store does, while
        a client's ``RestStore`` does not (users are administered on the server's database)."""
        self.skip_without("users")
        if not hasattr(store, "create_user"):
            pytest.skip(f"{type(store).__name__} does not {CAPABILITIES['users']}")
        return store

    @staticmethod
    def new_hash() -> str:
        return uuid.uuid4().hex + uuid.uuid4().hex

    def test_create_get_and_list_users(self, admin_store):
        names = [unique("user-b"), unique("user-a")]
        before = time.time()
        created = [admin_store.create_user(names[0]), admin_store.create_user(names[1], "user")]
        for record, name in zip(created, names, strict=True):
            assert isinstance(record, UserRecord)
            assert (record.name, record.kind, record.disabled) == (name, "user", False)
            assert record.secret_hash is None
            assert before - 1 <= record.created_at <= time.time() + 1
            assert admin_store.get_user(name) == record
        assert [u.name for u in admin_store.list_users() if u.name in names] == sorted(names)

    def test_service_principal_keeps_its_secret_hash(self, admin_store):
        name = unique("sp")
        digest = self.new_hash()
        sp = admin_store.create_user(name, "service_principal", digest)
        assert admin_store.get_user(name) == sp
        assert (sp.kind, sp.secret_hash) == ("service_principal", digest)
        assert digest not in repr(sp)  # records are printed in logs; hashes stay out
        with pytest.raises(ValidationError):
            admin_store.create_user(unique("sp"), "service_principal")  # no secret

    def test_user_names_and_kinds_are_checked(self, admin_store):
        name = unique("user")
        admin_store.create_user(name)
        with pytest.raises(AlreadyExistsError):
            admin_store.create_user(name)
        for bad in ("", "-x", "sp ace", "x" * 256, 7):
            with pytest.raises(ValidationError):
                admin_store.create_user(bad)
        with pytest.raises(ValidationError):
            admin_store.create_user(unique("user"), "robot")
        with pytest.raises(NotFoundError):
            admin_store.get_user(unique("missing"))

    def test_disable_and_enable_a_user(self, admin_store):
        name = unique("user")
        admin_store.create_user(name)
        assert admin_store.set_user_disabled(name).disabled is True
        assert admin_store.get_user(name).disabled is True
        assert admin_store.set_user_disabled(name, False).disabled is False
        with pytest.raises(NotFoundError):
            admin_store.set_user_disabled(unique("missing"))

    def test_roles_per_workspace(self, admin_store, ws):
        other = admin_store.create_workspace(unique("ws"), {})
        name = unique("user")
        admin_store.create_user(name)
        assert admin_store.roles_of(name) == {}
        admin_store.set_role(name, ws.id, "Reader")
        admin_store.set_role(name, other.id, "Owner")
        assert admin_store.roles_of(name) == {ws.id: "Reader", other.id: "Owner"}
        admin_store.set_role(name, ws.id, "Contributor")  # replaces the role
        assert admin_store.roles_of(name) == {ws.id: "Contributor", other.id: "Owner"}
        admin_store.set_role(name, other.id, None)
        assert admin_store.roles_of(name) == {ws.id: "Contributor"}
        admin_store.set_role(name, other.id, None)  # removing a missing role is a no-op
        assert admin_store.roles_of(name) == {ws.id: "Contributor"}

    def test_set_role_checks_its_arguments(self, admin_store, ws):
        name = unique("user")
        admin_store.create_user(name)
        for bad in ("reader", "Admin", ""):
            with pytest.raises(ValidationError):
                admin_store.set_role(name, ws.id, bad)
        with pytest.raises(NotFoundError):
            admin_store.set_role(unique("missing"), ws.id, "Reader")
        with pytest.raises(NotFoundError):
            admin_store.set_role(name, uuid.uuid4().hex, "Reader")
        with pytest.raises(NotFoundError):
            admin_store.roles_of(unique("missing"))
        assert admin_store.roles_of(name) == {}

    def test_deleting_a_workspace_deletes_its_role_assignments(self, admin_store):
        doomed = admin_store.create_workspace(unique("ws"), {})
        kept = admin_store.create_workspace(unique("ws"), {})
        name = unique("user")
        admin_store.create_user(name)
        admin_store.set_role(name, doomed.id, "Owner")
        admin_store.set_role(name, kept.id, "Reader")
        admin_store.delete_workspace(doomed.name)
        assert admin_store.roles_of(name) == {kept.id: "Reader"}

    def test_tokens_are_found_by_hash(self, admin_store):
        name = unique("user")
        user = admin_store.create_user(name)
        digest = self.new_hash()
        before = time.time()
        token = admin_store.create_token(name, digest, "laptop", time.time() + 3600)
        assert isinstance(token, TokenRecord)
        assert (token.user_name, token.description, token.revoked) == (name, "laptop", False)
        assert token.last_used_at is None
        assert before - 1 <= token.created_at <= time.time() + 1
        match = admin_store.find_token(digest)
        assert isinstance(match, TokenMatch)
        assert match.token == token and match.user == user
        with pytest.raises(NotFoundError):
            admin_store.find_token(self.new_hash())
        with pytest.raises(AlreadyExistsError):
            admin_store.create_token(name, digest)
        with pytest.raises(NotFoundError):
            admin_store.create_token(unique("missing"), self.new_hash())

    def test_revoked_and_expired_tokens_are_not_found(self, admin_store):
        name = unique("user")
        admin_store.create_user(name)
        revoked, expired, forever = self.new_hash(), self.new_hash(), self.new_hash()
        token = admin_store.create_token(name, revoked)
        admin_store.create_token(name, expired, expires_at=time.time() - 1)
        admin_store.create_token(name, forever, expires_at=None)
        assert admin_store.revoke_token(token.id).revoked is True
        assert admin_store.revoke_token(token.id).revoked is True  # again: a no-op
        for digest in (revoked, expired):
            with pytest.raises(NotFoundError):
                admin_store.find_token(digest)
        assert admin_store.find_token(forever).token.expires_at is None
        with pytest.raises(NotFoundError):
            admin_store.revoke_token(uuid.uuid4().hex)

    def test_a_disabled_users_token_is_found_with_its_user_disabled(self, admin_store):
        name = unique("user")
        admin_store.create_user(name)
        digest = self.new_hash()
        admin_store.create_token(name, digest)
        admin_store.set_user_disabled(name)
        assert admin_store.find_token(digest).user.disabled is True

    def test_list_and_touch_tokens(self, admin_store):
        alice, bob = unique("alice"), unique("bob")
        admin_store.create_user(alice)
        admin_store.create_user(bob)
        first = admin_store.create_token(alice, self.new_hash(), "first")
        time.sleep(0.01)
        second = admin_store.create_token(alice, self.new_hash(), "second")
        theirs = admin_store.create_token(bob, self.new_hash())
        assert [t.id for t in admin_store.list_tokens(alice)] == [second.id, first.id]
        every = [t.id for t in admin_store.list_tokens()]
        assert {first.id, second.id, theirs.id} <= set(every)
        assert every.index(theirs.id) < every.index(second.id) < every.index(first.id)
        admin_store.touch_token(first.id, when=1234.5)
        (touched,) = [t for t in admin_store.list_tokens(alice) if t.id == first.id]
        assert touched.last_used_at == 1234.5
        admin_store.revoke_token(second.id)
        assert [t.revoked for t in admin_store.list_tokens(alice)] == [True, False]
        with pytest.raises(NotFoundError):
            admin_store.list_tokens(unique("missing"))

    def test_user_records_are_frozen(self, admin_store):
        name = unique("user")
        user = admin_store.create_user(name)
        token = admin_store.create_token(name, self.new_hash())
        for record, attr in [(user, "disabled"), (token, "revoked")]:
            with pytest.raises(dataclasses.FrozenInstanceError):
                setattr(record, attr, True)

    def test_threads_set_roles_of_one_user(self, admin_store, ws):
        name = unique("user")
        admin_store.create_user(name)
        roles = ["Reader", "Contributor", "Owner", "Reader"]

        def assign(index: int) -> None:
            for _ in range(5):
                admin_store.set_role(name, ws.id, roles[index])

        _run_threads(len(roles), assign)
        assert list(admin_store.roles_of(name)) == [ws.id]
        assert admin_store.roles_of(name)[ws.id] in roles

    # -- records ----------------------------------------------------------------------------

    def test_records_are_frozen(self, store, ws, exp):
        run = self.new_run(store, exp, tags={"a": "1"})
        model = store.create_model_version(ws.id, "m", path="p")
        store.log_metrics(run.id, [MetricPoint("x", 1.0)])
        (point,) = store.get_metrics(run.id)
        for record, attr in [
            (ws, "name"),
            (exp, "archived"),
            (run, "status"),
            (run, "tags"),
            (model, "version"),
        ]:
            with pytest.raises(dataclasses.FrozenInstanceError):
                setattr(record, attr, None)
        with pytest.raises(AttributeError):
            point.value = 2.0  # type: ignore[misc]

    def test_record_dicts_are_copies(self, store, exp):
        tags = {"a": "1"}
        run = self.new_run(store, exp, tags=tags)
        tags["b"] = "2"  # the caller's dict is not kept
        run.tags["c"] = "3"  # nor is the record's dict the store's
        assert store.get_run(run.id).tags == {"a": "1"}

        props = {"k": "v"}
        ws = store.create_workspace(unique("ws"), props)
        props["k2"] = "v2"
        ws.properties["k3"] = "v3"
        assert store.get_workspace(ws.name).properties == {"k": "v"}

    # -- concurrency ------------------------------------------------------------------------

    def test_processes_register_versions_of_one_model(self, store, store_factory, ws, process_pool):
        per_process = 6
        results = process_pool.run_together(
            _register_versions, store_factory, ws.id, "shared", per_process
        )
        for versions in results:
            assert versions == sorted(versions)  # each process sees its versions increase
        every = sorted(v for versions in results for v in versions)
        assert every == list(range(1, PROCESSES * per_process + 1))
        listed = store.list_models(ws.id, "shared")
        assert sorted(m.version for m in listed) == every
        assert len({m.path for m in listed}) == len(every)

    def test_processes_register_versions_of_one_dataset(
        self, store, store_factory, ws, process_pool
    ):
        per_process = 5
        results = process_pool.run_together(
            _register_datasets, store_factory, ws.id, "shared", per_process
        )
        for versions in results:
            assert versions == sorted(versions)
        every = sorted(v for versions in results for v in versions)
        assert every == list(range(1, PROCESSES * per_process + 1))
        listed = store.list_datasets(ws.id, "shared")
        assert [d.version for d in listed] == every[::-1]
        assert len({tuple(d.definition["i"]) for d in listed}) == len(every)

    def test_processes_register_different_environments_of_one_name(
        self, store, store_factory, ws, process_pool
    ):
        per_process = 5
        results = process_pool.run_together(
            _register_environments, store_factory, ws.id, "shared", per_process, False
        )
        for versions in results:
            assert versions == sorted(versions)
        every = sorted(v for versions in results for v in versions)
        assert every == list(range(1, PROCESSES * per_process + 1))
        listed = store.list_environments(ws.id, "shared")
        assert [e.version for e in listed] == every[::-1]
        assert len({e.digest for e in listed}) == len(every)
        assert all(e.digest == "d-{}-{}".format(*e.definition["i"]) for e in listed)

    def test_processes_register_one_environment_once(
        self, store, store_factory, ws, process_pool
    ):
        per_process = 3
        results = process_pool.run_together(
            _register_environments, store_factory, ws.id, "same", per_process, True
        )
        assert results == [[1] * per_process] * PROCESSES
        (only,) = store.list_environments(ws.id, "same")
        assert (only.version, only.digest, only.definition) == (1, "same", {"python": "3.11"})

    def test_processes_create_one_compute_once(self, store, store_factory, ws, process_pool):
        results = process_pool.run_together(_create_compute, store_factory, ws.id, "shared")
        assert sorted(results) == ["created"] + ["exists"] * (PROCESSES - 1)
        (only,) = store.list_computes(ws.id)
        assert only.name == "shared"
        assert only.config["process"] == results.index("created")

    def test_processes_create_one_service_once(self, store, store_factory, ws, process_pool):
        results = process_pool.run_together(_create_service, store_factory, ws.id, "shared")
        assert sorted(results) == ["created"] + ["exists"] * (PROCESSES - 1)
        (only,) = store.list_services(ws.id)
        assert only.name == "shared"
        assert only.config["process"] == results.index("created")

    def test_processes_create_runs_in_one_experiment(self, store, store_factory, ws, process_pool):
        per_process = 6
        name = unique("exp")
        results = process_pool.run_together(_create_runs, store_factory, ws.id, name, per_process)
        # create_experiment is get-or-create even when the processes race to create it.
        assert len({exp_id for exp_id, _ in results}) == 1
        exp = store.get_experiment(ws.id, name)
        assert results[0][0] == exp.id
        every = sorted(n for _, numbers in results for n in numbers)
        assert every == list(range(1, PROCESSES * per_process + 1))
        listed = store.list_runs(experiment_id=exp.id)
        assert sorted(r.number for r in listed) == every

    def test_threads_log_metrics_to_one_store(self, store, exp):
        threads, batches, size = 6, 10, 20
        runs = [self.new_run(store, exp) for _ in range(2)]

        def log(index: int) -> None:
            run_id = runs[index % 2].id
            for b in range(batches):
                store.log_metrics(
                    run_id,
                    [MetricPoint(f"t{index}", (b * size + i) * 1.0) for i in range(size)],
                )

        _run_threads(threads, log)
        for r, run in enumerate(runs):
            got = store.get_metrics(run.id)
            assert len(got) == threads // 2 * batches * size
            for index in range(r, threads, 2):
                values = [p.value for p in got if p.name == f"t{index}"]
                assert values == [float(i) for i in range(batches * size)]

    def test_threads_edit_tags_of_one_run(self, store, exp):
        threads, rounds = 4, 4
        run = self.new_run(store, exp)

        def tag(index: int) -> None:
            for r in range(rounds):
                store.set_tags(run.id, {f"t{index}-{r}": str(r)})
                store.add_properties(run.id, {f"p{index}-{r}": str(r)})

        _run_threads(threads, tag)
        got = store.get_run(run.id)
        assert len(got.tags) == threads * rounds
        assert len(got.properties) == threads * rounds

    def test_threads_edit_tags_of_one_model(self, store, ws):
        threads, rounds = 4, 4
        store.create_model_version(ws.id, "m", path="p")

        def tag(index: int) -> None:
            for r in range(rounds):
                store.update_model(ws.id, "m", 1, add_tags={f"t{index}-{r}": str(r)})

        _run_threads(threads, tag)
        assert len(store.get_model(ws.id, "m").tags) == threads * rounds
