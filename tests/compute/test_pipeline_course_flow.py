"""The course's pipeline flow end to end through the public SDK: "prepare data" -> "train and
register" on an AmlCompute cluster, reuse on resubmission, publishing, a run started by POST to
the published pipeline's REST endpoint on ``plinth server``, and the schedules that server
fires (a recurrence, and new files in a datastore)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest
from tests import compute as shared
from tests.compute import wait_until
from tests.conftest import free_port, running, write_script

from plinth.core import Dataset, Environment, Experiment, Model, RunConfiguration, Workspace
from plinth.core.compute import AmlCompute, ComputeTarget
from plinth.data import OutputFileDatasetConfig
from plinth.pipeline.core import (
    Pipeline,
    PipelineParameter,
    PipelineRun,
    Schedule,
    ScheduleRecurrence,
)
from plinth.pipeline.steps import PythonScriptStep

# The flow waits on six pipeline runs and a server: more than the default timeout allows on a
# busy machine.
pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(900),
    # Schedule.create reminds that schedules fire while a server serves the workspace.
    pytest.mark.filterwarnings("ignore:Schedules of workspace:UserWarning"),
]
ray_home, ray_address = shared.ray_home, shared.ray_address

DATA = Path(__file__).resolve().parents[2] / "examples" / "data" / "diabetes.csv"
CLUSTER = "aml-cluster"
RUN_TIMEOUT = 300  # seconds a pipeline run may take (cluster runs queue behind each other)

# Both scripts are the course's, but for one line: they tag their run with the process that
# started their worker, which on a training cluster is the Ray task running it.
PREP = """
    import argparse, os
    import psutil
    from sklearn.preprocessing import MinMaxScaler
    from plinth.core import Run

    parser = argparse.ArgumentParser()
    parser.add_argument("--input-data", dest="raw_dataset_id")
    parser.add_argument("--prepped-data", dest="prepped_data")
    args = parser.parse_args()
    run = Run.get_context()
    run.tag("worker parent", psutil.Process().parent().parent().name())

    diabetes = run.input_datasets["raw_data"].to_pandas_dataframe()
    run.log("raw_rows", len(diabetes))
    diabetes = diabetes.dropna()
    columns = ["Pregnancies", "PlasmaGlucose", "DiastolicBloodPressure", "TricepsThickness",
               "SerumInsulin", "BMI", "DiabetesPedigree"]
    diabetes[columns] = MinMaxScaler().fit_transform(diabetes[columns])
    run.log("processed_rows", len(diabetes))

    os.makedirs(args.prepped_data, exist_ok=True)
    diabetes.to_csv(os.path.join(args.prepped_data, "data.csv"), index=False, header=True)
"""

TRAIN = """
    import argparse, os
    import joblib
    import numpy as np
    import psutil
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from plinth.core import Run

    parser = argparse.ArgumentParser()
    parser.add_argument("--reg", type=float, default=0.01)
    args = parser.parse_args()
    run = Run.get_context()
    run.tag("worker parent", psutil.Process().parent().parent().name())

    diabetes = run.input_datasets["training_data"].to_pandas_dataframe()
    features = ["Pregnancies", "PlasmaGlucose", "DiastolicBloodPressure", "TricepsThickness",
                "SerumInsulin", "BMI", "DiabetesPedigree", "Age"]
    X, y = diabetes[features].values, diabetes["Diabetic"].values
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.30, random_state=0)
    model = LogisticRegression(C=1 / args.reg, solver="liblinear").fit(X_train, y_train)
    accuracy = float(np.average(model.predict(X_test) == y_test))
    run.log("Regularization Rate", args.reg)
    run.log("Accuracy", accuracy)

    os.makedirs("outputs", exist_ok=True)
    joblib.dump(value=model, filename="outputs/model.pkl")
    # outputs/ is uploaded when the script ends; the model is registered before that.
    run.upload_file("outputs/model.pkl", "outputs/model.pkl")
    run.register_model(model_name="diabetes_model", model_path="outputs/model.pkl",
                       tags={"Training context": "Pipeline"},
                       properties={"Accuracy": accuracy})
"""


# -- building the workspace and the pipeline -------------------------------------------------


def register_diabetes_dataset(ws, tmp_path):
    folder = tmp_path / "diabetes-data"
    folder.mkdir()
    shutil.copy(DATA, folder / "diabetes.csv")
    datastore = ws.get_default_datastore()
    datastore.upload_files([str(folder / "diabetes.csv")], relative_root=str(folder),
                           target_path="diabetes-data/", overwrite=True, show_progress=False)
    dataset = Dataset.Tabular.from_delimited_files(path=(datastore, "diabetes-data/*.csv"))
    return dataset.register(workspace=ws, name="diabetes dataset",
                            description="diabetes data", tags={"format": "CSV"})


def training_cluster(ws):
    config = AmlCompute.provisioning_configuration(vm_size="STANDARD_D2_V2", max_nodes=2)
    config.config["idle_seconds_before_scaledown"] = shared.SESSION_IDLE
    cluster = ComputeTarget.create(ws, CLUSTER, config)
    cluster.wait_for_completion(show_output=False)
    return cluster


def course_pipeline(ws, dataset, cluster, tmp_path):
    folder = tmp_path / "diabetes_pipeline"
    folder.mkdir()
    write_script(folder, "prep_diabetes.py", PREP)
    write_script(folder, "train_diabetes.py", TRAIN)

    # The machine's own Python (the test's) has scikit-learn and pandas: nothing to build.
    environment = Environment("diabetes-pipeline-env")
    environment.python.user_managed_dependencies = True
    run_config = RunConfiguration()
    run_config.target = cluster
    run_config.environment = environment

    prepped_data = OutputFileDatasetConfig("prepped_data")
    reg_rate = PipelineParameter("reg_rate", default_value=0.01)
    prep_step = PythonScriptStep(
        name="prepare data", source_directory=str(folder), script_name="prep_diabetes.py",
        arguments=["--input-data", dataset.as_named_input("raw_data"),
                   "--prepped-data", prepped_data],
        compute_target=cluster, runconfig=run_config, allow_reuse=True)
    train_step = PythonScriptStep(
        name="train and register", source_directory=str(folder),
        script_name="train_diabetes.py",
        inputs=[prepped_data.read_delimited_files().as_input("training_data")],
        arguments=["--reg", reg_rate],
        compute_target=cluster, runconfig=run_config, allow_reuse=True)
    return Pipeline(workspace=ws, steps=[prep_step, train_step])


# -- reading runs ------------------------------------------------------------------------------


def steps_of(run):
    return {step.name: step for step in run.get_steps()}


def completed(run):
    """Wait for a pipeline run; say why when it did not complete."""
    status = run.wait_for_completion(show_output=False, timeout_seconds=RUN_TIMEOUT,
                                     raise_on_error=False)
    if status != "Completed":
        logs = {step.name: {key: details.get(key) for key in ("status", "error", "logFiles")}
                for step in run.get_steps()
                for details in [step.get_details_with_logs()]}
        pytest.fail(f"pipeline run {run.id} is {status}: {logs}")
    return steps_of(run)


def assert_ran_on_the_cluster(step, ws, ray_home):
    details = step.get_details()
    assert details["status"] == "Completed", details
    assert details["target"] == CLUSTER
    compute = details["runDefinition"]["compute"]
    assert (compute["name"], compute["kind"]) == (CLUSTER, "AmlCompute")
    assert step.get_tags()["worker parent"] == "ray::_execute"
    # The AmlCompute driver took one of the cluster's max_nodes slots for it: lock files
    # under the Ray cluster's home.
    slots = sorted(p.name for p in (ray_home / "compute" / f"{ws.name}-{CLUSTER}").iterdir())
    assert slots and set(slots) <= {"slot-0.lock", "slot-1.lock"}, slots


def wait_for(what, get, log, timeout=120.0):
    """Poll ``get()`` until it returns something truthy; return that. On a timeout, say what
    the server (whose scheduler should have made it happen) logged."""
    found = []
    if not wait_until(lambda: found.append(get()) or found[-1], timeout, interval=0.5):
        pytest.fail(f"{what} did not happen within {timeout} s (last: {found[-1:]}); the "
                    f"server logged:\n{log.read_text()[-4000:]}")
    return found[-1]


# -- the server ------------------------------------------------------------------------------


def plinth_cli(*args, env):
    plinth = Path(sys.executable).with_name("plinth")
    done = subprocess.run([str(plinth), *args], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def owner_token(ws, folder, env):
    """An Owner of the workspace and a token of theirs, made on the server's database."""
    plinth_cli("user", "create", "admin", "--role", "Owner", "--workspace", ws.name,
               "--workspace-folder", str(folder), env=env)
    created = plinth_cli("token", "create", "admin", "--workspace-folder", str(folder),
                         "--json", env=env)
    return json.loads(created)["token"]


def test_the_course_pipeline_on_a_cluster_published_triggered_and_scheduled(
        ray_address, ray_home, tmp_path, monkeypatch):
    ws = Workspace.create(f"ws-{uuid.uuid4().hex[:8]}", path=tmp_path / "ws")
    folder = Path(ws.get_details()["workspaceFolder"])
    dataset = register_diabetes_dataset(ws, tmp_path)
    cluster = training_cluster(ws)
    pipeline = course_pipeline(ws, dataset, cluster, tmp_path)

    # 1. Submit: both steps run, on the cluster.
    experiment = Experiment(ws, "diabetes-training-pipeline")
    pipeline_run = experiment.submit(pipeline)
    assert isinstance(pipeline_run, PipelineRun)
    steps = completed(pipeline_run)
    assert set(steps) == {"prepare data", "train and register"}
    for step in steps.values():
        assert not step.is_reused
        assert_ran_on_the_cluster(step, ws, ray_home)
    prep_metrics = steps["prepare data"].get_metrics()
    assert prep_metrics["raw_rows"] == prep_metrics["processed_rows"] > 0
    train = steps["train and register"]
    assert train.get_metrics()["Regularization Rate"] == 0.01
    assert 0.5 < train.get_metrics()["Accuracy"] <= 1.0
    assert "outputs/model.pkl" in train.get_file_names()
    model = Model(ws, "diabetes_model")
    assert (model.version, model.run_id) == (1, train.id)

    # 2. Resubmit unchanged: nothing runs again.
    again = completed(experiment.submit(pipeline))
    assert all(step.is_reused for step in again.values())
    assert again["train and register"].reused_run_id == train.id

    # 3. Publish, and serve the workspace: the REST endpoint and the schedule runner.
    published = pipeline_run.publish_pipeline(
        name="diabetes-training", description="Trains the diabetes model", version="1.0")
    port = free_port()
    server_url = f"http://127.0.0.1:{port}"
    # The server's runs go to the test's Ray cluster, which lives under this home.
    env = {**os.environ, "PLINTH_HOME": str(ray_home), "PLINTH_SCHEDULER_INTERVAL": "0.5"}
    for name in ("PLINTH_TOKEN", "PLINTH_SERVER_SECRET"):
        env.pop(name, None)
    token = owner_token(ws, folder, env)
    plinth = Path(sys.executable).with_name("plinth")
    command = [str(plinth), "server", "--workspace", str(folder), "--port", str(port),
               "--log-level", "warning"]
    log = tmp_path / "server.log"
    with running(command, f"{server_url}/healthz", env, log):
        # An embedded workspace's endpoint is on the server PLINTH_STUDIO_URL names.
        monkeypatch.setenv("PLINTH_STUDIO_URL", server_url)
        endpoint = published.endpoint
        assert endpoint.startswith(server_url)

        # 4. POST to the endpoint: a new reg_rate retrains; the data preparation is reused.
        body = {"ExperimentName": "rest-triggered", "ParameterAssignments": {"reg_rate": 0.1}}
        assert httpx.post(endpoint, json=body, timeout=30).status_code == 401
        response = httpx.post(endpoint, json=body, timeout=30,
                              headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200, response.text
        rest_run = PipelineRun(Experiment(ws, "rest-triggered"), response.json()["Id"])
        rest_steps = completed(rest_run)
        assert rest_steps["prepare data"].is_reused
        retrained = rest_steps["train and register"]
        assert not retrained.is_reused
        assert_ran_on_the_cluster(retrained, ws, ray_home)
        assert retrained.get_metrics()["Regularization Rate"] == 0.1
        model = Model(ws, "diabetes_model")
        assert (model.version, model.run_id) == (2, retrained.id)

        # 5. A recurrence without a start time fires at once.
        every_minute = Schedule.create(
            ws, name="every-minute", pipeline_id=published.id, experiment_name="scheduled",
            recurrence=ScheduleRecurrence(frequency="Minute", interval=1))
        scheduled = wait_for("the first scheduled run", every_minute.get_last_pipeline_run,
                             log)
        # The default reg_rate again: what the first submission computed is reused.
        assert all(step.is_reused for step in completed(scheduled).values())
        assert scheduled.get_properties()["azureml.pipelineScheduleTrigger"] == "Recurrence"
        every_minute.disable()
        assert Schedule.get(ws, every_minute.id).status == "Disabled"

        # 6. A data trigger: its first poll notes the files there are, a new one fires it once.
        datastore = ws.get_default_datastore()
        on_new_data = Schedule.create(
            ws, name="on-new-data", pipeline_id=published.id, experiment_name="data-triggered",
            datastore=datastore, path_on_datastore="incoming", polling_interval=0.01)
        wait_for("the data trigger's first poll",
                 lambda: Schedule.get(ws, on_new_data.id)._record.data_state is not None, log)
        assert on_new_data.get_pipeline_runs() == []
        (tmp_path / "incoming").mkdir()
        (tmp_path / "incoming" / "more.csv").write_text(DATA.read_text())
        datastore.upload_files([str(tmp_path / "incoming" / "more.csv")],
                               relative_root=str(tmp_path / "incoming"),
                               target_path="incoming", overwrite=True, show_progress=False)
        triggered = wait_for("the data-triggered run", on_new_data.get_pipeline_runs, log)
        time.sleep(3)  # a few more passes (and polls) of the scheduler: no second run
        assert len(on_new_data.get_pipeline_runs()) == 1, on_new_data.get_pipeline_runs()
        completed(triggered[0])
        assert triggered[0].get_properties()["azureml.pipelineScheduleTrigger"] == "DataChange"
        on_new_data.disable()

    # Only the two runs that trained registered a model.
    models = Model.list(ws, name="diabetes_model")
    assert [(m.version, m.run_id) for m in models] == [(2, retrained.id), (1, train.id)]
