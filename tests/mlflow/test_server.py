"""A stock MLflow client against the workspace server's MLflow REST API (``/ws/<name>``),
on a real ``plinth server`` (PostgreSQL + S3)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import httpx
import pytest
from mlflow.exceptions import MlflowException
from mlflow_fixtures import fresh_mlflow_fixture  # noqa: F401 - fixture
from tests.conftest import write_script

import mlflow
from plinth.core import Experiment, Run, ScriptRunConfig, Workspace

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.remote]

MLFLOW_SCRIPT = """
import sys

import mlflow

mlflow.set_experiment("shared")
with mlflow.start_run(run_name="mlflow-side") as run:
    mlflow.log_param("lr", 0.1)
    for step in range(3):
        mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
    mlflow.set_tag("framework", "mlflow")
    mlflow.log_artifact(sys.argv[1], "model")
print("RUN_ID", run.info.run_id)
"""

PLINTH_SCRIPT = """
import os

import mlflow

from plinth.core import Run

run = Run.get_context()
run.log("accuracy", 0.9)
run.tag("framework", "plinth")
uri = mlflow.get_tracking_uri()
assert uri.startswith("http") and uri.endswith("/ws/" + run.experiment.workspace.name), uri
assert os.environ.get("MLFLOW_TRACKING_TOKEN"), "the worker gives MLflow a token"
# MLflow, from inside the Plinth run, sees the run that the MLflow script logged ...
seen = mlflow.search_runs(experiment_names=["shared"], filter_string="params.lr = '0.1'",
                          output_format="list")
assert [r.info.run_name for r in seen] == ["mlflow-side"], seen
# ... and logs into this run (MLFLOW_RUN_ID) through the server.
with mlflow.start_run() as active:
    assert active.info.run_id == run.id
    mlflow.log_metric("from_mlflow", 2.0)
print("plinth side done")
"""


@pytest.fixture
def server_ws(plinth_server, monkeypatch):
    """A new workspace on the server, MLflow pointed at its MLflow API with the admin's
    token."""
    monkeypatch.setenv("PLINTH_TOKEN", plinth_server.token)
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", plinth_server.token)
    ws = Workspace.create(f"ws-{uuid.uuid4().hex[:8]}", server_url=plinth_server)
    mlflow.set_tracking_uri(ws.get_mlflow_tracking_uri())
    return ws


def test_tracking_uri_is_the_servers(server_ws, plinth_server):
    assert server_ws.get_mlflow_tracking_uri() == f"{plinth_server}/ws/{server_ws.name}"


def test_mlflow_and_plinth_scripts_share_an_experiment(server_ws, tmp_path, script_dir):
    ws = server_ws
    weights = tmp_path / "weights.txt"
    weights.write_text("w=1")
    script = write_script(tmp_path, "mlflow_train.py", MLFLOW_SCRIPT)
    env = {**os.environ, "MLFLOW_TRACKING_URI": ws.get_mlflow_tracking_uri()}
    done = subprocess.run([sys.executable, str(script), str(weights)], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    mlflow_run_id = done.stdout.split("RUN_ID")[1].split()[0]

    # Plinth sees the MLflow script's run, in the experiment MLflow created.
    seen = Run.get(ws, mlflow_run_id)
    assert seen.experiment.name == "shared"
    assert seen.get_status() == "Completed"
    assert seen.get_metrics()["loss"] == [1.0, 0.5, pytest.approx(1 / 3)]
    assert seen.get_properties()["lr"] == "0.1"
    assert seen.get_tags()["framework"] == "mlflow"
    assert "model/weights.txt" in seen.get_file_names()

    # A submitted Plinth script in the same experiment sees it through MLflow, and logs.
    write_script(script_dir, "train.py", PLINTH_SCRIPT)
    run = Experiment(ws, "shared").submit(ScriptRunConfig(str(script_dir), "train.py"))
    run.wait_for_completion(raise_on_error=False)
    log = "\n".join(run.get_details_with_logs()["logFiles"].values())
    assert run.get_status() == "Completed", log
    assert run.get_metrics() == {"accuracy": 0.9, "from_mlflow": 2.0}

    # MLflow sees both runs, the Plinth one with what it logged.
    client = mlflow.MlflowClient()
    experiment = client.get_experiment_by_name("shared")
    runs = {r.info.run_id: r for r in client.search_runs([experiment.experiment_id])}
    assert set(runs) == {mlflow_run_id, run.id}
    assert runs[run.id].info.status == "FINISHED"
    assert runs[run.id].data.metrics == {"accuracy": 0.9, "from_mlflow": 2.0}
    assert runs[run.id].data.tags["framework"] == "plinth"
    assert runs[mlflow_run_id].data.params == {"lr": "0.1"}
    history = client.get_metric_history(mlflow_run_id, "loss")
    assert [(m.step, m.value) for m in history] == [(0, 1.0), (1, 0.5), (2, pytest.approx(1 / 3))]

    # The MLflow run's file comes back through the server's artifacts API.
    assert [f.path for f in client.list_artifacts(mlflow_run_id)] == ["model"]
    assert [f.path for f in client.list_artifacts(mlflow_run_id, "model")] == [
        "model/weights.txt"
    ]
    local = mlflow.artifacts.download_artifacts(run_id=mlflow_run_id,
                                                artifact_path="model/weights.txt",
                                                dst_path=str(tmp_path / "down"))
    assert open(local).read() == "w=1"


def test_search_runs_filters_and_orders_through_the_server(server_ws):
    client = mlflow.MlflowClient()
    experiment_id = client.create_experiment("search")
    ids = {}
    for name, acc in (("a", 0.3), ("b", 0.9), ("c", 0.6)):
        run = client.create_run(experiment_id, run_name=name)
        client.log_batch(run.info.run_id,
                         metrics=[mlflow.entities.Metric("acc", acc, 0, 0)],
                         params=[mlflow.entities.Param("name", name)])
        client.set_terminated(run.info.run_id)
        ids[name] = run.info.run_id

    found = client.search_runs([experiment_id], "metrics.acc > 0.5",
                               order_by=["metrics.acc DESC"])
    assert [r.info.run_name for r in found] == ["b", "c"]
    first = client.search_runs([experiment_id], order_by=["params.name ASC"], max_results=2)
    assert [r.info.run_name for r in first] == ["a", "b"]
    rest = client.search_runs([experiment_id], order_by=["params.name ASC"], max_results=2,
                              page_token=first.token)
    assert [r.info.run_name for r in rest] == ["c"] and rest.token is None

    client.delete_run(ids["a"])
    assert {r.info.run_name for r in client.search_runs([experiment_id])} == {"b", "c"}
    client.restore_run(ids["a"])
    assert len(client.search_runs([experiment_id])) == 3
    client.set_tag(ids["c"], "keep", "yes")
    client.delete_tag(ids["c"], "keep")
    assert "keep" not in client.get_run(ids["c"]).data.tags
    names = [e.name for e in client.search_experiments()]
    assert "search" in names


def test_errors_are_mlflows(server_ws):
    client = mlflow.MlflowClient()
    with pytest.raises(MlflowException) as missing:
        client.get_run("no-such-run")
    assert missing.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert client.get_experiment_by_name("no-such-experiment") is None
    client.create_experiment("twice")
    with pytest.raises(MlflowException) as twice:
        client.create_experiment("twice")
    assert twice.value.error_code == "RESOURCE_ALREADY_EXISTS"
    run = client.create_run(client.get_experiment_by_name("twice").experiment_id)
    client.log_param(run.info.run_id, "p", "1")
    with pytest.raises(MlflowException) as changed:
        client.log_param(run.info.run_id, "p", "2")
    assert changed.value.error_code == "INVALID_PARAMETER_VALUE"


def test_a_request_without_a_token_is_refused(server_ws, monkeypatch):
    uri = server_ws.get_mlflow_tracking_uri()
    response = httpx.get(f"{uri}/api/2.0/mlflow/experiments/get-by-name",
                         params={"experiment_name": "Default"})
    assert response.status_code == 401
    assert response.json()["error_code"] == "UNAUTHENTICATED"
    bad = httpx.get(f"{uri}/api/2.0/mlflow-artifacts/artifacts", params={"path": "runs"},
                    headers={"Authorization": "Bearer plt_not-a-token"})
    assert bad.status_code == 401

    monkeypatch.delenv("MLFLOW_TRACKING_TOKEN")
    with pytest.raises(MlflowException) as refused:
        mlflow.MlflowClient().search_experiments()
    assert "401" in str(refused.value) or refused.value.error_code == "UNAUTHENTICATED"
