"""A submitted script that uses MLflow logs into its own Plinth run."""

from __future__ import annotations

import pytest
from mlflow_fixtures import (  # noqa: F401 - fixtures
    backend_fixture,
    fresh_mlflow_fixture,
    tracking_fixture,
)
from tests.conftest import write_script

import mlflow
from plinth.core import Experiment, ScriptRunConfig

pytestmark = pytest.mark.slow

TRAIN = """
import os

import mlflow

from plinth.core import Run

run_id = os.environ["PLINTH_RUN_ID"]
assert mlflow.get_tracking_uri().startswith("plinth://"), mlflow.get_tracking_uri()
with mlflow.start_run() as active:
    assert active.info.run_id == run_id, (active.info.run_id, run_id)
    mlflow.log_param("depth", 3)
    for step in range(3):
        mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
    mlflow.set_tag("framework", "mlflow")
    mlflow.log_text("weights", "model/weights.txt")

# Ending the MLflow block did not end the run: its worker decides, after this script exits.
status = mlflow.get_run(run_id).info.status
print("status after the mlflow block:", status)
assert status == "RUNNING", status
Run.get_context().log("after_block", 1.0)
os.makedirs("outputs", exist_ok=True)
with open("outputs/extra.txt", "w") as f:
    f.write("written after the block")
"""


def test_script_logs_into_its_plinth_run_with_mlflow(tracking, script_dir):
    ws = tracking
    write_script(script_dir, "train.py", TRAIN)
    exp = Experiment(ws, "mlflow-script")
    run = exp.submit(ScriptRunConfig(str(script_dir), "train.py"))
    run.wait_for_completion(raise_on_error=False)
    log = "\n".join(run.get_details_with_logs()["logFiles"].values())
    assert run.get_status() == "Completed", log
    assert "status after the mlflow block: RUNNING" in log

    assert run.type == "azureml.scriptrun"
    metrics = run.get_metrics()
    assert metrics["loss"] == [1.0, 0.5, pytest.approx(1 / 3)]
    assert metrics["after_block"] == 1.0
    assert run.get_properties()["depth"] == "3"
    assert run.get_tags()["framework"] == "mlflow"
    files = run.get_file_names()
    assert "model/weights.txt" in files and "outputs/extra.txt" in files

    # And MLflow sees the finished Plinth run, with what the script logged.
    seen = mlflow.get_run(run.id)
    assert seen.info.status == "FINISHED"
    assert seen.info.experiment_id == exp.id
    assert seen.data.params["depth"] == "3"
    assert seen.data.metrics["loss"] == pytest.approx(1 / 3)
    assert [r.info.run_id for r in mlflow.search_runs([exp.id], output_format="list")] == [run.id]
