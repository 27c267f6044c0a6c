"""The schedule runner: ``fire_due`` passes driven with explicit times, on SQLite and
PostgreSQL, with a recording ``submit`` instead of real pipeline runs."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from plinth._pipelines.scheduler import Scheduler, fire_due
from plinth._store import SqlStore
from store.suite import PROCESSES, process_pool, start_together  # noqa: F401 - the fixture

T0 = datetime(2024, 5, 1, 10, 0, tzinfo=ZoneInfo("UTC")).timestamp()
HOURLY = {"frequency": "Hour", "interval": 1, "start_time": "2024-05-01T00:00:00"}
HOUR = 3600.0


class Recorder:
    """A ``submit`` that records its calls and returns made-up run ids."""

    def __init__(self, fail: bool = False):
        self.calls: list[dict] = []
        self.fail = fail
        self._lock = threading.Lock()

    def __call__(self, location, pipeline, experiment_name, parameters, *, properties):
        with self._lock:
            self.calls.append({"location": location, "pipeline_id": pipeline.id,
                               "experiment_name": experiment_name,
                               "parameters": dict(parameters or {}),
                               "properties": dict(properties or {})})
            if self.fail:
                raise RuntimeError("the compute is on fire")
            return f"{experiment_name}_{len(self.calls)}_{uuid.uuid4().hex[:6]}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def ws(request, tmp_path):
    """A workspace alone in its database, so a pass sees only this test's schedules."""
    from plinth.core import Workspace

    name = f"ws-{uuid.uuid4().hex[:8]}"
    if request.param == "sqlite":
        return Workspace.create(name, path=tmp_path / "workspace")
    uri = request.getfixturevalue("pg_databases")()
    return Workspace.create(name, metadata_uri=uri, artifact_root=str(tmp_path / "artifacts"))


@pytest.fixture
def pipeline(ws):
    return ws._store.create_published_pipeline(ws._id, "p", graph={"steps": []})


def locations(ws):
    def location_of(workspace_id: str):
        assert workspace_id == ws._id
        return ws._location

    return location_of


def recurring(ws, pipeline, next_fire_at=T0, recurrence=HOURLY, **kwargs):
    return ws._store.create_schedule(
        ws._id, "hourly", pipeline_id=pipeline.id, experiment_name="nightly",
        recurrence=recurrence, next_fire_at=next_fire_at, **kwargs)


def on_data(ws, pipeline, next_fire_at=T0, **kwargs):
    kwargs.setdefault("path_on_datastore", "incoming")
    kwargs.setdefault("data_path_parameter_name", "input_path")
    return ws._store.create_schedule(
        ws._id, "on new data", pipeline_id=pipeline.id, experiment_name="ingest",
        datastore="workspaceblobstore", polling_interval=1.0, next_fire_at=next_fire_at,
        **kwargs)


def lost_datastore(ws, pipeline):
    return ws._store.create_schedule(
        ws._id, "lost", pipeline_id=pipeline.id, experiment_name="ingest",
        datastore="nosuchstore", polling_interval=2.0, next_fire_at=T0)


# -- recurrences --------------------------------------------------------------------------------


def test_fires_once_when_due(ws, pipeline):
    schedule = recurring(ws, pipeline, pipeline_parameters={"alpha": 0.5})
    submit = Recorder()
    run_ids = fire_due(ws._store, locations(ws), T0, submit=submit)
    assert len(run_ids) == 1 and len(submit.calls) == 1
    call = submit.calls[0]
    assert call["pipeline_id"] == pipeline.id
    assert call["experiment_name"] == "nightly"
    assert call["parameters"] == {"alpha": 0.5}
    assert call["properties"] == {"azureml.pipelineScheduleId": schedule.id,
                                  "azureml.pipelineScheduleTrigger": "Recurrence"}
    assert call["location"] == ws._location
    after = ws._store.get_schedule(ws._id, schedule.id)
    assert after.next_fire_at == T0 + HOUR
    assert after.last_run_id == run_ids[0]
    assert after.last_fired_at is not None
    assert fire_due(ws._store, locations(ws), T0 + 1, submit=submit) == []
    assert len(submit.calls) == 1


def test_does_not_fire_before_it_is_due(ws, pipeline):
    schedule = recurring(ws, pipeline)
    submit = Recorder()
    assert fire_due(ws._store, locations(ws), T0 - 0.001, submit=submit) == []
    assert submit.calls == []
    assert ws._store.get_schedule(ws._id, schedule.id).next_fire_at == T0


def test_overdue_by_ten_periods_fires_once(ws, pipeline):
    schedule = recurring(ws, pipeline)
    submit = Recorder()
    now = T0 + 10 * HOUR + 1800
    assert len(fire_due(ws._store, locations(ws), now, submit=submit)) == 1
    after = ws._store.get_schedule(ws._id, schedule.id)
    assert after.next_fire_at == T0 + 11 * HOUR
    assert after.next_fire_at > now
    assert fire_due(ws._store, locations(ws), now + 60, submit=submit) == []
    assert len(submit.calls) == 1


def test_disabled_schedule_never_fires(ws, pipeline):
    schedule = recurring(ws, pipeline)
    ws._store.update_schedule(ws._id, schedule.id, status="Disabled")
    submit = Recorder()
    for hours in (0, 1, 100):
        assert fire_due(ws._store, locations(ws), T0 + hours * HOUR, submit=submit) == []
    assert submit.calls == []


def test_disabled_published_pipeline_is_skipped(ws, pipeline, caplog):
    schedule = recurring(ws, pipeline)
    ws._store.set_published_pipeline_status(ws._id, pipeline.id, "Disabled")
    submit = Recorder()
    with caplog.at_level(logging.WARNING, logger="plinth._pipelines.scheduler"):
        assert fire_due(ws._store, locations(ws), T0, submit=submit) == []
    assert submit.calls == []
    assert "Disabled" in caplog.text
    assert ws._store.get_schedule(ws._id, schedule.id).next_fire_at == T0 + HOUR


def test_failing_submit_still_moves_on(ws, pipeline, caplog):
    schedule = recurring(ws, pipeline)
    submit = Recorder(fail=True)
    with caplog.at_level(logging.ERROR, logger="plinth._pipelines.scheduler"):
        assert fire_due(ws._store, locations(ws), T0, submit=submit) == []
    assert len(submit.calls) == 1
    assert "the compute is on fire" in caplog.text
    after = ws._store.get_schedule(ws._id, schedule.id)
    assert after.next_fire_at == T0 + HOUR
    assert after.last_run_id is None
    assert fire_due(ws._store, locations(ws), T0 + 1, submit=submit) == []
    assert len(submit.calls) == 1


def test_a_broken_schedule_does_not_stop_the_others(ws, pipeline, caplog):
    broken = lost_datastore(ws, pipeline)
    good = recurring(ws, pipeline)
    submit = Recorder()
    with caplog.at_level(logging.ERROR, logger="plinth._pipelines.scheduler"):
        assert len(fire_due(ws._store, locations(ws), T0, submit=submit)) == 1
    assert submit.calls[0]["properties"]["azureml.pipelineScheduleId"] == good.id
    assert broken.id in caplog.text
    assert ws._store.get_schedule(ws._id, broken.id).next_fire_at == T0 + 120


def test_stale_read_loses_the_claim(ws, pipeline):
    """A scheduler that read the schedule before another fired it does not fire it again."""
    recurring(ws, pipeline)
    other = SqlStore(ws._location.metadata_uri)
    try:
        stale = other.list_schedules(None)
        submit = Recorder()
        assert len(fire_due(ws._store, locations(ws), T0, submit=submit)) == 1
        other.list_schedules = lambda *a, **k: stale
        assert fire_due(other, locations(ws), T0, submit=submit) == []
        assert len(submit.calls) == 1
    finally:
        other.close()


def test_two_schedulers_racing_fire_once(ws, pipeline):
    recurring(ws, pipeline)
    stores = [SqlStore(ws._location.metadata_uri) for _ in range(2)]
    submit = Recorder()
    barrier = threading.Barrier(len(stores))
    results: list[list[str]] = []

    def race(store):
        barrier.wait(timeout=30)
        results.append(fire_due(store, locations(ws), T0, submit=submit))

    threads = [threading.Thread(target=race, args=(s,)) for s in stores]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    finally:
        for s in stores:
            s.close()
    assert sorted(len(r) for r in results) == [0, 1]
    assert len(submit.calls) == 1


def _fire_in_worker(index: int, uri: str, now: float) -> list[str]:
    store = SqlStore(uri)
    try:
        start_together()
        return fire_due(store, lambda _: None, now,
                        submit=lambda *args, **kwargs: f"worker{index}_{uuid.uuid4().hex[:6]}")
    finally:
        store.close()


@pytest.mark.slow
def test_scheduler_processes_racing_fire_once(ws, pipeline, process_pool):  # noqa: F811
    schedule = recurring(ws, pipeline)
    results = process_pool.run_together(_fire_in_worker, ws._location.metadata_uri, T0)
    fired = [run_id for result in results for run_id in result]
    assert len(results) == PROCESSES
    assert len(fired) == 1
    assert ws._store.get_schedule(ws._id, schedule.id).last_run_id == fired[0]


def test_restarted_scheduler_does_not_fire_again(ws, pipeline):
    recurring(ws, pipeline)
    submit = Recorder()
    assert len(Scheduler(ws._store, locations(ws), submit=submit).run_once(T0)) == 1
    again = SqlStore(ws._location.metadata_uri)
    try:
        assert Scheduler(again, locations(ws), submit=submit).run_once(T0) == []
        assert Scheduler(again, locations(ws), submit=submit).run_once(T0 + 60) == []
    finally:
        again.close()
    assert len(submit.calls) == 1


def test_schedule_without_next_time_is_set_up_without_firing(ws, pipeline):
    schedule = recurring(ws, pipeline, next_fire_at=None)
    submit = Recorder()
    assert fire_due(ws._store, locations(ws), T0 + 60, submit=submit) == []
    assert ws._store.get_schedule(ws._id, schedule.id).next_fire_at == T0 + HOUR


def test_scheduler_thread_fires_due_schedules(ws, pipeline, monkeypatch):
    monkeypatch.setenv("PLINTH_SCHEDULER_INTERVAL", "0.05")
    recurring(ws, pipeline, next_fire_at=time.time() - 1,
              recurrence={"frequency": "Day", "interval": 1})
    submit = Recorder()
    scheduler = Scheduler(ws._store, locations(ws), submit=submit)
    assert scheduler.interval == 0.05
    scheduler.start()
    try:
        deadline = time.monotonic() + 30
        while not submit.calls and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        scheduler.stop(timeout=30)
    assert not scheduler.running
    assert len(submit.calls) == 1


def test_scheduler_interval_must_be_positive(ws, monkeypatch):
    with pytest.raises(ValueError, match="interval"):
        Scheduler(ws._store, locations(ws), interval=0)
    monkeypatch.setenv("PLINTH_SCHEDULER_INTERVAL", "soon")
    with pytest.raises(ValueError, match="PLINTH_SCHEDULER_INTERVAL"):
        Scheduler(ws._store, locations(ws))


# -- data triggers ------------------------------------------------------------------------------


def put(ws, tmp_path, name: str, text: str, folder: str = "incoming") -> None:
    """Upload a file of ``text`` to ``folder/name`` of the default datastore."""
    local = tmp_path / "upload" / name
    local.parent.mkdir(parents=True, exist_ok=True)
    local.write_text(text)
    ws.get_default_datastore().upload_files(
        [str(local)], relative_root=str(tmp_path / "upload"), target_path=folder,
        overwrite=True, show_progress=False)


def test_data_trigger_fires_once_per_change(ws, pipeline, tmp_path):
    put(ws, tmp_path, "elsewhere.csv", "not watched", folder="other")
    schedule = on_data(ws, pipeline, pipeline_parameters={"alpha": 1})
    submit = Recorder()
    store, where = ws._store, locations(ws)

    assert fire_due(store, where, T0, submit=submit) == []
    baseline = store.get_schedule(ws._id, schedule.id)
    assert baseline.data_state == {}
    assert baseline.next_fire_at == T0 + 60
    assert baseline.last_fired_at is None

    put(ws, tmp_path, "a.csv", "x,y\n1,2\n")
    assert fire_due(store, where, T0 + 30, submit=submit) == []
    assert len(fire_due(store, where, T0 + 60, submit=submit)) == 1
    assert submit.calls[0]["parameters"] == {"alpha": 1, "input_path": "incoming/a.csv"}
    assert submit.calls[0]["properties"] == {"azureml.pipelineScheduleId": schedule.id,
                                             "azureml.pipelineScheduleTrigger": "DataChange"}

    put(ws, tmp_path, "elsewhere.csv", "changed, but not watched", folder="other")
    assert fire_due(store, where, T0 + 120, submit=submit) == []
    assert len(submit.calls) == 1

    put(ws, tmp_path, "a.csv", "x,y\n1,2\n3,4\n")
    assert len(fire_due(store, where, T0 + 180, submit=submit)) == 1
    assert submit.calls[1]["parameters"]["input_path"] == "incoming/a.csv"
    assert store.get_schedule(ws._id, schedule.id).last_run_id is not None


def test_data_trigger_parameter_is_the_first_changed_file(ws, pipeline, tmp_path):
    put(ws, tmp_path, "b.csv", "1")
    schedule = on_data(ws, pipeline)
    submit = Recorder()
    fire_due(ws._store, locations(ws), T0, submit=submit)
    put(ws, tmp_path, "c.csv", "1")
    put(ws, tmp_path, "b.csv", "22")
    assert len(fire_due(ws._store, locations(ws), T0 + 60, submit=submit)) == 1
    assert submit.calls[0]["parameters"] == {"input_path": "incoming/b.csv"}
    assert ws._store.get_schedule(ws._id, schedule.id).data_state.keys() == {
        "incoming/b.csv", "incoming/c.csv"}


def test_data_trigger_deletions_do_not_fire(ws, pipeline, tmp_path):
    put(ws, tmp_path, "a.csv", "1")
    put(ws, tmp_path, "b.csv", "1")
    schedule = on_data(ws, pipeline, data_path_parameter_name=None)
    submit = Recorder()
    fire_due(ws._store, locations(ws), T0, submit=submit)
    ws.get_default_datastore()._files.delete("incoming/a.csv")
    assert fire_due(ws._store, locations(ws), T0 + 60, submit=submit) == []
    assert set(ws._store.get_schedule(ws._id, schedule.id).data_state) == {"incoming/b.csv"}
    put(ws, tmp_path, "a.csv", "1")
    assert len(fire_due(ws._store, locations(ws), T0 + 120, submit=submit)) == 1
    assert submit.calls[0]["parameters"] == {}


def test_data_trigger_of_a_whole_datastore_and_a_pattern(ws, pipeline, tmp_path):
    whole = on_data(ws, pipeline, path_on_datastore=None)
    pattern = on_data(ws, pipeline, path_on_datastore="incoming/*.csv")
    submit = Recorder()
    fire_due(ws._store, locations(ws), T0, submit=submit)
    put(ws, tmp_path, "a.txt", "1")
    fired = fire_due(ws._store, locations(ws), T0 + 60, submit=submit)
    assert len(fired) == 1
    assert submit.calls[0]["properties"]["azureml.pipelineScheduleId"] == whole.id
    put(ws, tmp_path, "a.csv", "1")
    fire_due(ws._store, locations(ws), T0 + 120, submit=submit)
    assert {c["properties"]["azureml.pipelineScheduleId"] for c in submit.calls[1:]} == {
        whole.id, pattern.id}


def test_data_trigger_with_a_missing_datastore_waits_for_its_next_poll(ws, pipeline, caplog):
    schedule = lost_datastore(ws, pipeline)
    submit = Recorder()
    with caplog.at_level(logging.ERROR, logger="plinth._pipelines.scheduler"):
        assert fire_due(ws._store, locations(ws), T0, submit=submit) == []
    assert schedule.id in caplog.text
    after = ws._store.get_schedule(ws._id, schedule.id)
    assert after.next_fire_at == T0 + 120
    assert after.data_state is None
