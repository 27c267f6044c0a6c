"""MLflow's fluent API and client against a workspace: both sides see the same runs."""

from __future__ import annotations

import math
import time

import pytest
from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException
from mlflow_fixtures import (  # noqa: F401 - fixtures
    backend_fixture,
    client_fixture,
    fresh_mlflow_fixture,
    tracking_fixture,
)

import mlflow
from plinth._mlflow.store import tracking_store
from plinth.core import Experiment, Run


def test_fluent_run_lands_in_plinth(tracking, tmp_path):
    ws = tracking
    mlflow.set_experiment("fluent")
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    with mlflow.start_run(run_name="first") as active:
        mlflow.log_param("lr", 0.01)
        mlflow.log_params({"optimizer": "adam", "epochs": 3})
        for step, loss in enumerate([0.9, 0.5, 0.2]):
            mlflow.log_metric("loss", loss, step=step)
        mlflow.log_metrics({"acc": 0.75, "f1": 0.5}, step=2)
        mlflow.set_tag("team", "vision")
        mlflow.set_tags({"stage": "dev"})
        mlflow.log_artifact(str(notes), artifact_path="docs")
        mlflow.log_text("a,b\n1,2\n", "data/table.csv")
        run_id = active.info.run_id
        assert Run.get(ws, run_id).get_status() == "Running"

    run = Run.get(ws, run_id)
    assert run.get_status() == "Completed"
    assert run.type == "mlflow"
    assert run.experiment.name == "fluent"
    assert run.display_name == "first"
    assert run.get_metrics() == {"loss": [0.9, 0.5, 0.2], "acc": 0.75, "f1": 0.5}
    assert run.get_properties() == {"lr": "0.01", "optimizer": "adam", "epochs": "3"}
    tags = run.get_tags()
    assert tags["team"] == "vision" and tags["stage"] == "dev"
    assert "mlflow.user" in tags and "mlflow.runName" not in tags
    assert sorted(run.get_file_names()) == ["data/table.csv", "docs/notes.txt"]
    run.download_file("docs/notes.txt", tmp_path / "back.txt")
    assert (tmp_path / "back.txt").read_text() == "hello"
    assert run_id in {r.id for r in Experiment(ws, "fluent").get_runs()}


def test_metric_points_keep_steps_and_times(tracking, client):
    ws = tracking
    with mlflow.start_run() as active:
        mlflow.log_metric("loss", 1.0, step=0, timestamp=1_700_000_000_000)
        mlflow.log_metric("loss", 0.5, step=5, timestamp=1_700_000_001_500)
        mlflow.log_metric("loss", float("nan"), step=6, timestamp=1_700_000_002_000)
    run_id = active.info.run_id
    history = client.get_metric_history(run_id, "loss")
    assert [(m.step, m.timestamp) for m in history] == [
        (0, 1_700_000_000_000), (5, 1_700_000_001_500), (6, 1_700_000_002_000)
    ]
    assert history[0].value == 1.0 and history[1].value == 0.5 and math.isnan(history[2].value)

    points = ws._store.get_metrics(run_id, "loss")
    assert [p.step for p in points] == [0, 5, 6]
    assert points[1].timestamp == pytest.approx(1_700_000_001.5)
    assert client.get_metric_history(run_id, "missing") == []

    store = tracking_store(mlflow.get_tracking_uri())
    first = store.get_metric_history(run_id, "loss", max_results=2)
    assert [m.step for m in first] == [0, 5] and first.token
    rest = store.get_metric_history(run_id, "loss", max_results=2, page_token=first.token)
    assert [m.step for m in rest] == [6] and not rest.token


def test_asynchronous_logging(tracking):
    ws = tracking
    with mlflow.start_run() as active:
        operations = [mlflow.log_metric("async", float(i), step=i, synchronous=False)
                      for i in range(5)]
        operations.append(mlflow.log_param("mode", "async", synchronous=False))
        for operation in operations:
            operation.wait()
    run = Run.get(ws, active.info.run_id)
    # MLflow's asynchronous queue writes batches from several threads, in any order.
    points = ws._store.get_metrics(run.id, "async")
    assert sorted((p.step, p.value) for p in points) == [(i, float(i)) for i in range(5)]
    assert run.get_properties() == {"mode": "async"}


def test_latest_metric_is_the_one_at_the_greatest_step(tracking, client):
    with mlflow.start_run() as active:
        mlflow.log_metric("acc", 0.9, step=10)
        mlflow.log_metric("acc", 0.1, step=3)  # logged later, at an earlier step
    assert client.get_run(active.info.run_id).data.metrics == {"acc": 0.9}


def test_plinth_run_is_visible_to_mlflow(tracking, client):
    ws = tracking
    exp = Experiment(ws, "plinth-side")
    run = exp.start_logging(display_name="interactive")
    run.log("accuracy", 0.5)
    run.log("accuracy", 0.8)
    run.log("epochs", 4, step=7)
    run.log("note", "not a number")  # not an MLflow metric
    run.log_list("losses", [3, 2, 1])  # a list, not scalar points
    run.tag("owner", "me")
    run.add_properties({"seed": "42"})
    run.flush()

    got = mlflow.get_run(run.id)
    assert got.info.run_id == run.id
    assert got.info.experiment_id == exp.id
    assert got.info.status == "RUNNING"
    assert got.info.run_name == "interactive"
    assert got.info.lifecycle_stage == "active"
    assert got.data.metrics == {"accuracy": 0.8, "epochs": 4.0}
    assert got.data.params == {"seed": "42"}
    assert got.data.tags["owner"] == "me"
    assert got.data.tags["mlflow.runName"] == "interactive"
    assert [m.value for m in client.get_metric_history(run.id, "accuracy")] == [0.5, 0.8]
    assert [m.step for m in client.get_metric_history(run.id, "epochs")] == [7]

    found = mlflow.search_runs([exp.id], output_format="list")
    assert [r.info.run_id for r in found] == [run.id]

    run.complete()
    assert mlflow.get_run(run.id).info.status == "FINISHED"
    assert mlflow.get_run(run.id).info.end_time is not None


def test_client_log_batch_and_tags(tracking, client):
    ws = tracking
    exp_id = client.create_experiment("batch")
    created = client.create_run(exp_id, run_name="b", tags={"k": "v"})
    run_id = created.info.run_id
    assert created.info.status == "RUNNING" and created.info.run_name == "b"
    client.log_batch(
        run_id,
        metrics=[Metric("m", 1.0, 1_000, 0), Metric("m", 2.0, 2_000, 1)],
        params=[Param("p", "x")],
        tags=[RunTag("t", "1"), RunTag("mlflow.note.content", "a description")],
    )
    client.set_tag(run_id, "mlflow.runName", "renamed")
    client.delete_tag(run_id, "k")
    with pytest.raises(MlflowException) as err:
        client.delete_tag(run_id, "never-set")
    assert err.value.error_code == "RESOURCE_DOES_NOT_EXIST"

    run = Run.get(ws, run_id)
    assert run.display_name == "renamed"
    assert run.description == "a description"
    assert run.get_metrics() == {"m": [1.0, 2.0]}
    assert run.get_properties() == {"p": "x"}
    assert "k" not in run.get_tags() and run.get_tags()["t"] == "1"
    tags = client.get_run(run_id).data.tags
    assert tags["mlflow.note.content"] == "a description"
    assert tags["mlflow.runName"] == "renamed"


def test_params_are_immutable(tracking, client):
    ws = tracking
    with mlflow.start_run() as active:
        mlflow.log_param("lr", "0.1")
        mlflow.log_param("lr", "0.1")  # the same value again is fine
        with pytest.raises(MlflowException) as err:
            mlflow.log_param("lr", "0.2")
        assert err.value.error_code == "INVALID_PARAMETER_VALUE"
        assert "Changing param values is not allowed" in err.value.message
        with pytest.raises(MlflowException) as err:
            client.log_batch(active.info.run_id, params=[Param("lr", "0.3"), Param("new", "1")])
        assert err.value.error_code == "INVALID_PARAMETER_VALUE"
    # Nothing of the refused batch was written.
    assert Run.get(ws, active.info.run_id).get_properties() == {"lr": "0.1"}
    assert mlflow.get_run(active.info.run_id).data.params == {"lr": "0.1"}


def test_runs_go_to_the_default_experiment(tracking):
    ws = tracking
    with mlflow.start_run() as active:
        mlflow.log_metric("x", 1)
    default = Experiment(ws, "Default")
    assert active.info.experiment_id == default.id
    assert mlflow.get_experiment("0").experiment_id == default.id
    assert mlflow.get_experiment("0").name == "Default"


def test_nested_runs_are_plinth_children(tracking):
    ws = tracking
    with mlflow.start_run(run_name="parent") as parent:
        with mlflow.start_run(run_name="child", nested=True) as child:
            mlflow.log_metric("inner", 1)
    plinth_parent = Run.get(ws, parent.info.run_id)
    assert [c.id for c in plinth_parent.get_children()] == [child.info.run_id]
    assert mlflow.get_run(child.info.run_id).data.tags["mlflow.parentRunId"] == parent.info.run_id
    found = mlflow.search_runs(
        [parent.info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'",
        output_format="list",
    )
    assert [r.info.run_id for r in found] == [child.info.run_id]


def test_failed_and_killed_runs(tracking, client):
    ws = tracking
    with pytest.raises(RuntimeError):
        with mlflow.start_run() as failing:
            raise RuntimeError("boom")
    assert Run.get(ws, failing.info.run_id).get_status() == "Failed"
    assert mlflow.get_run(failing.info.run_id).info.status == "FAILED"

    created = client.create_run(mlflow.get_experiment("0").experiment_id)
    client.set_terminated(created.info.run_id, "KILLED")
    assert Run.get(ws, created.info.run_id).get_status() == "Canceled"
    assert client.get_run(created.info.run_id).info.status == "KILLED"


def test_delete_and_restore_run(tracking, client):
    ws = tracking
    with mlflow.start_run() as active:
        mlflow.log_metric("x", 1)
    run_id, exp_id = active.info.run_id, active.info.experiment_id
    client.delete_run(run_id)
    assert client.get_run(run_id).info.lifecycle_stage == "deleted"
    assert Run.get(ws, run_id).get_tags()["plinth.mlflow.lifecycleStage"] == "deleted"
    assert "plinth.mlflow.lifecycleStage" not in client.get_run(run_id).data.tags
    assert client.search_runs([exp_id]) == []
    assert [r.info.run_id for r in client.search_runs([exp_id], run_view_type=2)] == [run_id]
    with pytest.raises(MlflowException) as err:
        client.log_metric(run_id, "y", 2)
    assert err.value.error_code == "INVALID_STATE"
    client.restore_run(run_id)
    assert [r.info.run_id for r in client.search_runs([exp_id])] == [run_id]
    assert "plinth.mlflow.lifecycleStage" not in Run.get(ws, run_id).get_tags()


def test_mlflow_does_not_end_a_plinth_owned_run(tracking):
    """Resuming a Plinth run and ending the MLflow block leaves its status to its owner."""
    ws = tracking
    run = Experiment(ws, "owned").start_logging()
    with mlflow.start_run(run_id=run.id, run_name="renamed-by-mlflow"):
        mlflow.log_metric("from_mlflow", 3.0)
    assert run.get_status() == "Running"
    assert run.display_name == "renamed-by-mlflow"
    assert run.get_metrics()["from_mlflow"] == 3.0
    run.complete()
    assert mlflow.get_run(run.id).info.status == "FINISHED"


def test_cancel_from_plinth_ends_an_mlflow_run(tracking, client):
    """The process that created an MLflow run heartbeats it and obeys a Plinth cancel."""
    ws = tracking
    created = client.create_run(mlflow.get_experiment("0").experiment_id)
    run = Run.get(ws, created.info.run_id)
    run.cancel()
    deadline = time.monotonic() + 10
    while run.get_status() != "Canceled" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert run.get_status() == "Canceled"
    assert client.get_run(run.id).info.status == "KILLED"


def test_unknown_run_and_experiment(tracking, client):
    with pytest.raises(MlflowException) as err:
        client.get_run("0123456789abcdef0123456789abcdef")
    assert err.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(MlflowException) as err:
        client.get_experiment("0123456789abcdef0123456789abcdef")
    assert err.value.error_code == "RESOURCE_DOES_NOT_EXIST"
