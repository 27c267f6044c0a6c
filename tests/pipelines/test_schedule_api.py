"""``Schedule``, ``ScheduleRecurrence`` and ``TimeZone`` as azureml users call them, and the
``plinth schedule`` commands, on every backend."""

from __future__ import annotations

import json
import time
import uuid
import warnings
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from plinth._pipelines.scheduler import fire_due
from plinth._store import SqlStore
from plinth.exceptions import NotFoundError, UserErrorException
from plinth.pipeline.core import schedule as schedule_module
from plinth.pipeline.core.schedule import Schedule, ScheduleRecurrence, TimeZone

BERLIN = ZoneInfo("Europe/Berlin")
PAST_START = "2020-01-01T00:00:00"


@pytest.fixture
def pipeline(ws):
    return ws._store.create_published_pipeline(ws._id, "train", graph={"steps": []})


@pytest.fixture(autouse=True)
def _quiet(monkeypatch):
    """Each test may be warned afresh that nothing fires an embedded workspace's schedules."""
    monkeypatch.setattr(schedule_module, "_warned", set())


def hourly(**kwargs) -> ScheduleRecurrence:
    return ScheduleRecurrence("Hour", 1, start_time=PAST_START, **kwargs)


def create(ws, pipeline, name="hourly", **kwargs) -> Schedule:
    kwargs.setdefault("recurrence", hourly())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Schedule.create(ws, name, pipeline.id, "nightly", **kwargs)


# -- ScheduleRecurrence and TimeZone --------------------------------------------------------------


def test_recurrence_checks_its_arguments():
    with pytest.raises(ValueError, match="frequency"):
        ScheduleRecurrence("Fortnight", 1)
    with pytest.raises(UserErrorException, match="hours"):
        ScheduleRecurrence("Hour", 1, hours=[3])
    with pytest.raises(UserErrorException, match="week_days"):
        ScheduleRecurrence("Week", 1, week_days=["Caturday"])
    with pytest.raises(UserErrorException, match="time_zone"):
        ScheduleRecurrence("Day", 1, time_zone="Atlantis Standard Time")
    rec = ScheduleRecurrence("Day", 1)
    rec.interval = 0
    with pytest.raises(UserErrorException, match="interval"):
        rec.validate()


def test_time_zones():
    assert TimeZone.UTC.value == "UTC"
    assert TimeZone.PacificStandardTime.value == "Pacific Standard Time"
    assert TimeZone.WEuropeStandardTime == "W. Europe Standard Time"
    a = ScheduleRecurrence("Day", 1, time_zone=TimeZone.WEuropeStandardTime)
    assert a == ScheduleRecurrence("Day", 1, time_zone="Europe/Berlin")
    assert "Europe/Berlin" in repr(a)


# -- Schedule ------------------------------------------------------------------------------------


def test_create_a_recurring_schedule(ws, pipeline):
    rec = ScheduleRecurrence("Day", 1, time_of_day="06:30", time_zone="Europe/Berlin",
                             start_time=PAST_START)
    schedule = create(ws, pipeline, "daily", recurrence=rec, description="each morning",
                      pipeline_parameters={"alpha": 0.5, "mode": "full"})
    assert schedule.name == "daily"
    assert schedule.description == "each morning"
    assert schedule.pipeline_id == pipeline.id
    assert schedule.experiment_name == "nightly"
    assert schedule.status == "Active"
    assert schedule.recurrence == rec
    assert schedule.pipeline_parameters == {"alpha": 0.5, "mode": "full"}
    assert schedule.datastore_name is None and schedule.polling_interval is None
    assert schedule.path_on_datastore is None and schedule.data_path_parameter_name is None
    nxt = schedule.next_run_time.astimezone(BERLIN)
    assert (nxt.hour, nxt.minute) == (6, 30)
    assert schedule.next_run_time.timestamp() > time.time()
    assert "every day at 06:30" in repr(schedule) and schedule.id in repr(schedule)


def test_without_start_time_the_first_run_is_at_once(ws, pipeline):
    schedule = create(ws, pipeline, recurrence=ScheduleRecurrence("Minute", 15))
    assert schedule.next_run_time.timestamp() <= time.time()


def test_future_start_time_is_the_first_run(ws, pipeline):
    rec = ScheduleRecurrence("Week", 1, start_time=datetime(2031, 3, 4, 5, 6),
                             time_zone=TimeZone.PacificStandardTime)
    schedule = create(ws, pipeline, recurrence=rec)
    assert schedule.next_run_time == datetime(2031, 3, 4, 5, 6,
                                              tzinfo=ZoneInfo("America/Los_Angeles"))


def test_create_a_data_trigger(ws, pipeline):
    datastore = ws.get_default_datastore()
    schedule = create(ws, pipeline, "on data", recurrence=None, datastore=datastore,
                      path_on_datastore="incoming/", polling_interval=0.5,
                      data_path_parameter_name="input_path")
    assert schedule.recurrence is None
    assert schedule.datastore_name == datastore.name
    assert schedule.path_on_datastore == "incoming/"
    assert schedule.polling_interval == 0.5
    assert schedule.data_path_parameter_name == "input_path"
    assert schedule.next_run_time.timestamp() <= time.time()
    assert "incoming/" in repr(schedule) and "every 0.5 minutes" in repr(schedule)
    by_name = create(ws, pipeline, "by name", recurrence=None, datastore="workspacefilestore")
    assert by_name.datastore_name == "workspacefilestore"
    assert by_name.polling_interval == 5


def test_embedded_workspace_warns_once_that_nothing_fires(ws, pipeline):
    served = bool(ws._location.server_url)
    for _ in range(2):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            Schedule.create(ws, "s", pipeline.id, "nightly", recurrence=hourly())
        messages = [str(w.message) for w in caught if "plinth server" in str(w.message)]
        assert len(messages) == (0 if served or _ else 1)


def test_get_list_and_status(ws, pipeline):
    other = ws._store.create_published_pipeline(ws._id, "other", graph={"steps": []})
    first = create(ws, pipeline, "first")
    second = create(ws, other, "second")
    assert Schedule.get(ws, first.id) == first
    assert Schedule(ws, first.id).name == "first"
    assert [s.id for s in Schedule.list(ws)] == [second.id, first.id]
    assert [s.id for s in Schedule.get_all(ws, pipeline_id=other.id)] == [second.id]

    first.disable()
    assert first.status == "Disabled"
    assert Schedule.get(ws, first.id).status == "Disabled"
    assert [s.id for s in Schedule.list(ws)] == [second.id]
    assert {s.id for s in Schedule.list(ws, active_only=False)} == {first.id, second.id}
    assert [s.id for s in Schedule.get_schedules_for_pipeline_id(ws, pipeline.id)] == [first.id]

    first.enable()
    assert Schedule.get(ws, first.id).status == "Active"
    assert first.next_run_time.timestamp() > time.time()
    first.update(status="Disabled")
    assert Schedule.get(ws, first.id).status == "Disabled"


def test_enable_moves_a_stale_due_time_to_the_future(ws, pipeline):
    schedule = create(ws, pipeline)
    ws._store.update_schedule(ws._id, schedule.id, next_fire_at=1_000_000.0)
    schedule.disable()
    schedule.enable()
    assert schedule.next_run_time.timestamp() > time.time()


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"recurrence": None}, "exactly one of recurrence"),
    ({"datastore": "workspaceblobstore"}, "exactly one of recurrence"),
    ({"recurrence": "hourly"}, "recurrence must be a ScheduleRecurrence"),
    ({"path_on_datastore": "x"}, "path_on_datastore"),
    ({"data_path_parameter_name": "x"}, "data_path_parameter_name"),
    ({"recurrence": None, "datastore": "workspaceblobstore", "polling_interval": 0},
     "polling_interval"),
    ({"pipeline_parameters": ["a"]}, "pipeline_parameters"),
    ({"pipeline_parameters": {"a": [1]}}, "pipeline_parameters"),
    ({"continue_on_step_failure": True}, "continue_on_step_failure"),
])
def test_bad_create_arguments(ws, pipeline, kwargs, match):
    with pytest.raises(UserErrorException, match=match):
        create(ws, pipeline, **kwargs)


def test_create_errors_name_what_is_missing(ws, pipeline):
    with pytest.raises(NotFoundError, match="pipeline_id"):
        Schedule.create(ws, "s", str(uuid.uuid4()), "nightly", recurrence=hourly())
    with pytest.raises(NotFoundError, match="pipeline_id"):
        Schedule.create(ws, "s", "not-an-id", "nightly", recurrence=hourly())
    with pytest.raises(NotFoundError, match="nosuchstore"):
        Schedule.create(ws, "s", pipeline.id, "nightly", datastore="nosuchstore")
    with pytest.raises(UserErrorException, match="experiment_name"):
        Schedule.create(ws, "s", pipeline.id, "no spaces", recurrence=hourly())
    with pytest.raises(UserErrorException, match="name"):
        Schedule.create(ws, "  ", pipeline.id, "nightly", recurrence=hourly())
    ws._store.set_published_pipeline_status(ws._id, pipeline.id, "Disabled")
    with pytest.raises(UserErrorException, match="Disabled"):
        Schedule.create(ws, "s", pipeline.id, "nightly", recurrence=hourly())
    with pytest.raises(NotFoundError, match="Schedule.list"):
        Schedule.get(ws, str(uuid.uuid4()))
    assert Schedule.list(ws, active_only=False) == []


def test_update_changes_only_the_status(ws, pipeline):
    schedule = create(ws, pipeline)
    with pytest.raises(UserErrorException, match="name"):
        schedule.update(name="renamed")
    with pytest.raises(UserErrorException, match="status"):
        schedule.update(status="Paused")


# -- its runs ------------------------------------------------------------------------------------


@pytest.fixture
def scheduler_store(ws, request):
    """The store the scheduler uses: the server's own database for a server workspace."""
    if not ws._location.server_url:
        yield ws._store
        return
    store = SqlStore(request.getfixturevalue("plinth_server").database)
    yield store
    store.close()


def run_maker(ws):
    """A ``submit`` that makes a run record with the schedule's properties, as the engine
    does, instead of running a pipeline."""

    def submit(location, pipeline, experiment_name, parameters, *, properties):
        exp = ws._store.create_experiment(ws._id, experiment_name)
        run_id = f"{experiment_name}_{uuid.uuid4().hex[:10]}"
        ws._store.create_run(exp.id, run_id, run_type="azureml.PipelineRun",
                             properties=properties)
        return run_id

    return submit


def test_pipeline_runs_of_a_schedule(ws, pipeline, scheduler_store):
    schedule = create(ws, pipeline)
    other = create(ws, pipeline, "other")
    assert schedule.get_pipeline_runs() == []
    assert schedule.get_last_pipeline_run() is None
    exp = ws._store.create_experiment(ws._id, "nightly")
    ws._store.create_run(exp.id, f"nightly_{uuid.uuid4().hex[:10]}", run_type="manual")

    submit = run_maker(ws)
    now = schedule._record.next_fire_at
    fired = []
    for step in (0, 2):
        fired += fire_due(scheduler_store, lambda _: ws._location, now + step * 3600,
                          submit=submit, workspace_id=ws._id)
    assert len(fired) == 4

    runs = schedule.get_pipeline_runs()
    mine = [r.id for r in runs]
    assert len(mine) == 2 and set(mine) <= set(fired)
    assert all(r.get_properties()["azureml.pipelineScheduleId"] == schedule.id for r in runs)
    assert runs[0]._record.created_at >= runs[1]._record.created_at
    assert schedule.get_last_pipeline_run().id == mine[0]
    assert {r.id for r in other.get_pipeline_runs()} == set(fired) - set(mine)


# -- the CLI -------------------------------------------------------------------------------------


@pytest.fixture
def cli(ws, tmp_path):
    """``cli(*args)`` runs ``plinth schedule ARGS`` on the ``ws`` fixture's workspace."""
    from plinth.cli.schedules import app

    folder = tmp_path / "cfg"
    ws.write_config(folder)
    runner = CliRunner(env={"COLUMNS": "240"})

    def invoke(*args: str):
        result = runner.invoke(app, [*map(str, args), "--workspace-config", str(folder)])
        assert "Traceback" not in result.output, result.output
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result

    return invoke


def test_cli_create_list_show_disable_enable(cli, ws, pipeline):
    made = cli("create", "nightly", "--pipeline-id", pipeline.id, "--experiment", "train",
               "--frequency", "Day", "--interval", "1", "--time-of-day", "06:30",
               "--time-zone", "Europe/Berlin", "--param", "alpha=0.5", "--param", "mode=full",
               "--json")
    assert made.exit_code == 0, made.output
    created = json.loads(made.stdout)
    assert created["recurrence"]["time_zone"] == "Europe/Berlin"
    assert created["pipelineParameters"] == {"alpha": 0.5, "mode": "full"}
    schedule_id = created["id"]

    on_data = cli("create", "on data", "--pipeline-id", pipeline.id, "--experiment", "ingest",
                  "--datastore", "workspaceblobstore", "--path", "incoming",
                  "--polling-interval", "2", "--data-path-parameter", "input_path")
    assert on_data.exit_code == 0, on_data.output
    assert "files change" in on_data.stdout

    listed = json.loads(cli("list", "--json").stdout)
    assert {s["name"] for s in listed} == {"nightly", "on data"}
    table = cli("list").stdout
    assert "nightly" in table and "every day at 06:30" in table

    shown = json.loads(cli("show", schedule_id, "--json").stdout)
    assert shown["status"] == "Active" and shown["experimentName"] == "train"
    assert "06:30" in cli("show", schedule_id).stdout

    assert cli("disable", schedule_id).exit_code == 0
    assert [s["name"] for s in json.loads(cli("list", "--json").stdout)] == ["on data"]
    assert len(json.loads(cli("list", "--all", "--json").stdout)) == 2
    assert cli("enable", schedule_id).exit_code == 0
    assert json.loads(cli("show", schedule_id, "--json").stdout)["status"] == "Active"


def test_cli_errors(cli, pipeline):
    both = cli("create", "s", "--pipeline-id", pipeline.id, "--experiment", "e",
               "--frequency", "Day", "--interval", "1", "--datastore", "workspaceblobstore")
    assert both.exit_code == 2 and "either" in both.output
    half = cli("create", "s", "--pipeline-id", pipeline.id, "--experiment", "e",
               "--frequency", "Day")
    assert half.exit_code == 2 and "--interval" in half.output
    bad = cli("create", "s", "--pipeline-id", pipeline.id, "--experiment", "e",
              "--frequency", "Fortnight", "--interval", "1")
    assert bad.exit_code == 1 and "frequency" in bad.output
    missing = cli("show", str(uuid.uuid4()))
    assert missing.exit_code == 1 and "No schedule" in missing.output


# -- end to end ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_data_trigger_runs_the_published_pipeline(ws, tmp_path):
    """The scheduler's pass, with the real engine, runs the pipeline on the new file."""
    if ws._location.server_url:
        pytest.skip("a server workspace's schedules are fired by the server's own scheduler")
    from plinth.pipeline.core import Pipeline, PipelineParameter, PipelineRun
    from plinth.pipeline.steps import PythonScriptStep

    folder = tmp_path / "src"
    folder.mkdir()
    (folder / "show.py").write_text(
        "import sys\nfrom plinth.core import Run\nRun.get_context().log('path', sys.argv[1])\n")
    step = PythonScriptStep("show.py", name="show", source_directory=str(folder),
                            arguments=[PipelineParameter("input_path", default_value="none")],
                            allow_reuse=False)
    published = Pipeline(ws, [step]).publish("show the path")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        schedule = Schedule.create(ws, "on data", published.id, "ingest",
                                   datastore="workspaceblobstore", path_on_datastore="incoming",
                                   polling_interval=1, data_path_parameter_name="input_path")
    now = schedule._record.next_fire_at
    assert fire_due(ws._store, lambda _: ws._location, now, workspace_id=ws._id) == []
    data = tmp_path / "a.csv"
    data.write_text("x\n1\n")
    ws.get_default_datastore().upload_files([str(data)], target_path="incoming",
                                            show_progress=False)
    fired = fire_due(ws._store, lambda _: ws._location, now + 60, workspace_id=ws._id)
    assert len(fired) == 1

    run = schedule.get_last_pipeline_run()
    assert isinstance(run, PipelineRun) and run.id == fired[0]
    assert run.wait_for_completion(show_output=False) == "Completed"
    assert run.get_properties()["azureml.pipelineScheduleTrigger"] == "DataChange"
    [shown] = run.get_steps()
    assert shown.get_metrics()["path"] == "incoming/a.csv"
    assert [r.id for r in schedule.get_pipeline_runs()] == fired
