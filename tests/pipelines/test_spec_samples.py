"""The code samples of the course's "Orchestrating machine learning with pipelines" section, with
``azureml`` replaced by ``plinth`` and nothing else changed but the placeholders it leaves to the
reader (``run_config``, ``sk_estimator``, ``auth_header``, the scripts, 'raw_dataset',
'blob_data', 'aml-cluster'). The steps run on an AmlCompute cluster (the shared local Ray
cluster); the REST and schedule samples on a ``plinth server`` serving the workspace."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest
from tests import compute as shared
from tests.compute import wait_until
from tests.conftest import free_port, running

ray_home, ray_address = shared.ray_home, shared.ray_address

DATA = Path(__file__).parents[2] / "examples" / "data"
RUN_TIMEOUT = 300  # seconds a pipeline run may take (cluster runs queue behind each other)

DATA_PREP = """
    import argparse, os
    from plinth.core import Dataset, Run

    parser = argparse.ArgumentParser()
    parser.add_argument("--folder")
    args = parser.parse_args()
    run = Run.get_context()
    if "raw_data" in run.input_datasets:
        raw = run.input_datasets["raw_data"]
    else:  # the first sample's step has no inputs
        raw = Dataset.get_by_name(run.experiment.workspace, "raw_dataset")
    df = raw.to_pandas_dataframe().dropna()
    run.log("rows", len(df))
    if args.folder:
        os.makedirs(args.folder, exist_ok=True)
        df.to_csv(os.path.join(args.folder, "prepped.csv"), index=False)
"""

TRAIN = """
    import argparse, glob, os
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from plinth.core import Dataset, Run

    parser = argparse.ArgumentParser()
    parser.add_argument("--folder")
    parser.add_argument("--reg", type=float, default=0.01)
    args = parser.parse_args()
    run = Run.get_context()
    if args.folder:
        df = pd.concat(pd.read_csv(f) for f in glob.glob(os.path.join(args.folder, "*.csv")))
    else:  # the first sample's step has no inputs
        df = Dataset.get_by_name(run.experiment.workspace, "raw_dataset").to_pandas_dataframe()
    features = ["Pregnancies", "PlasmaGlucose", "DiastolicBloodPressure", "TricepsThickness",
                "SerumInsulin", "BMI", "DiabetesPedigree", "Age"]
    X, y = df[features].values, df["Diabetic"].values
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.30, random_state=0)
    model = LogisticRegression(C=1 / args.reg, solver="liblinear").fit(X_train, y_train)
    run.log("rows", len(df))
    run.log("reg", args.reg)
    run.log("accuracy", float(np.average(model.predict(X_test) == y_test)))
"""


@pytest.fixture
def course_folder(ray_address, tmp_path, monkeypatch):
    """A folder with a workspace config, the scripts the samples name, the registered dataset
    'raw_dataset' and the datastore 'blob_data' (a local folder here)."""
    from plinth.core import Dataset, Datastore, Workspace

    # Unique: the shared cluster's home (PLINTH_HOME here) is every slow test's registry.
    ws = Workspace.create(f"course-{uuid.uuid4().hex[:8]}", path=tmp_path / "workspace")
    ws.write_config(path=tmp_path)
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    (scripts / "data_prep.py").write_text(textwrap.dedent(DATA_PREP))
    (scripts / "train.py").write_text(textwrap.dedent(TRAIN))
    raw = tmp_path / "raw"
    raw.mkdir()
    shutil.copy(DATA / "diabetes.csv", raw / "diabetes.csv")
    datastore = ws.get_default_datastore()
    datastore.upload(str(raw), target_path="raw", overwrite=True, show_progress=False)
    Dataset.Tabular.from_delimited_files(path=(datastore, "raw/*.csv")).register(
        workspace=ws, name="raw_dataset")
    (tmp_path / "blob_data" / "data" / "training").mkdir(parents=True)
    Datastore.register_local(ws, "blob_data", tmp_path / "blob_data")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def plinth_cli(*args, env):
    plinth = Path(sys.executable).with_name("plinth")
    done = subprocess.run([str(plinth), *args], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def completed(run):
    """The steps of a pipeline run by name, once it completed; why not when it did not."""
    status = run.wait_for_completion(show_output=False, timeout_seconds=RUN_TIMEOUT,
                                     raise_on_error=False)
    if status != "Completed":
        logs = {step.name: step.get_details_with_logs() for step in run.get_steps()}
        pytest.fail(f"pipeline run {run.id} is {status}: {logs}")
    return {step.name: step for step in run.get_steps()}


@pytest.mark.slow
@pytest.mark.timeout(900)  # seven pipeline runs, two cluster runs each
# Schedule.create reminds that schedules fire while a server serves the workspace (one does).
@pytest.mark.filterwarnings("ignore:Schedules of workspace:UserWarning")
def test_orchestrating_machine_learning_with_pipelines(course_folder, ray_home, monkeypatch):
    from plinth.core import Dataset, Environment, RunConfiguration, Workspace
    from plinth.core.compute import AmlCompute, ComputeTarget
    from plinth.pipeline.core import PipelineRun, PublishedPipeline
    from plinth.train.sklearn import SKLearn

    ws = Workspace.from_config()

    # The training cluster, as the notes' compute section creates it.
    config = AmlCompute.provisioning_configuration(vm_size='STANDARD_DS11_V2', max_nodes=2)
    config.config["idle_seconds_before_scaledown"] = shared.SESSION_IDLE
    ComputeTarget.create(ws, 'aml-cluster', config).wait_for_completion(show_output=False)

    # The placeholders: Plinth's own interpreter has scikit-learn and pandas, so neither the
    # curated environment nor SKLearn's builds anything.
    run_config = RunConfiguration()
    run_config.environment = Environment.get(ws, 'Plinth-sklearn')
    sk_estimator = SKLearn(source_directory='scripts', entry_script='train.py',
                           compute_target='aml-cluster')

    # -- Defining steps in a pipeline ---------------------------------------------------------
    from plinth.pipeline.steps import EstimatorStep, PythonScriptStep

    # Step to run a Python script
    step1 = PythonScriptStep(name = 'prepare data',
                             source_directory = 'scripts',
                             script_name = 'data_prep.py',
                             compute_target = 'aml-cluster',
                             runconfig = run_config)

    # Step to run an estimator
    step2 = EstimatorStep(name = 'train model',
                          estimator = sk_estimator,
                          compute_target = 'aml-cluster')

    from plinth.core import Experiment
    from plinth.pipeline.core import Pipeline

    # Construct the pipeline
    train_pipeline = Pipeline(workspace = ws, steps = [step1,step2])

    # Create an experiment and run the pipeline
    experiment = Experiment(workspace = ws, name = 'training-pipeline')
    pipeline_run = experiment.submit(train_pipeline)

    assert isinstance(pipeline_run, PipelineRun)
    steps = completed(pipeline_run)
    assert set(steps) == {"prepare data", "train model"}
    for step in steps.values():
        details = step.get_details()
        assert details["target"] == "aml-cluster"
        assert details["runDefinition"]["compute"]["kind"] == "AmlCompute"
    assert steps["prepare data"].get_metrics()["rows"] > 0
    assert steps["train model"].get_metrics()["reg"] == 0.01

    # -- PipelineData step inputs and outputs -------------------------------------------------
    from plinth.pipeline.core import PipelineData
    from plinth.pipeline.steps import EstimatorStep, PythonScriptStep

    # Get a dataset for the initial data
    raw_ds = Dataset.get_by_name(ws, 'raw_dataset')

    # Define a PipelineData object to pass data between steps
    data_store = ws.get_default_datastore()
    prepped_data = PipelineData('prepped',  datastore=data_store)

    # Step to run a Python script
    step1 = PythonScriptStep(name = 'prepare data',
                             source_directory = 'scripts',
                             script_name = 'data_prep.py',
                             compute_target = 'aml-cluster',
                             runconfig = run_config,
                             # Specify dataset as initial input
                             inputs=[raw_ds.as_named_input('raw_data')],
                             # Specify PipelineData as output
                             outputs=[prepped_data],
                             # Also pass as data reference to script
                             arguments = ['--folder', prepped_data])

    # Step to run an estimator
    step2 = EstimatorStep(name = 'train model',
                          estimator = sk_estimator,
                          compute_target = 'aml-cluster',
                          # Specify PipelineData as input
                          inputs=[prepped_data],
                          # Pass as data reference to estimator script
                          estimator_entry_script_arguments=['--folder', prepped_data])

    train_pipeline = Pipeline(workspace=ws, steps=[step1, step2])
    steps = completed(experiment.submit(train_pipeline))
    prep_rows = steps["prepare data"].get_metrics()["rows"]
    assert steps["train model"].get_metrics()["rows"] == prep_rows  # read from PipelineData
    assert not any(step.is_reused for step in steps.values())

    # -- Managing step output reuse -------------------------------------------------------------
    step1 = PythonScriptStep(name = 'prepare data',
                             source_directory = 'scripts',
                             script_name = 'data_prep.py',
                             compute_target = 'aml-cluster',
                             runconfig = run_config,
                             inputs=[raw_ds.as_named_input('raw_data')],
                             outputs=[prepped_data],
                             arguments = ['--folder', prepped_data],
                             # Disable step reuse
                             allow_reuse = False)

    # -- Forcing all steps to run -------------------------------------------------------------
    train_pipeline = Pipeline(workspace=ws, steps=[step1, step2])
    pipeline_run = experiment.submit(train_pipeline, regenerate_outputs=True)

    steps = completed(pipeline_run)
    assert not any(step.is_reused for step in steps.values())

    # -- Publish pipelines ----------------------------------------------------------------------
    pipeline = train_pipeline
    published_pipeline = pipeline.publish(name='training_pipeline',
                                          description='Model training pipeline',
                                          version='1.0')

    assert (published_pipeline.name, published_pipeline.version) == ('training_pipeline', '1.0')
    assert published_pipeline.status == "Active"

    # Get the most recent run of the pipeline
    pipeline_experiment = ws.experiments.get('training-pipeline')
    run = list(pipeline_experiment.get_runs())[0]

    # Publish the pipeline from the run
    published_pipeline = run.publish_pipeline(name='training_pipeline',
                                              description='Model training pipeline',
                                              version='1.0')

    assert run.id == pipeline_run.id  # the most recent run
    assert published_pipeline.status == "Active"
    assert len(PublishedPipeline.list(ws)) == 2

    # -- Using a published pipeline: a server that serves the workspace -------------------------
    folder = Path(ws.get_details()["workspaceFolder"])
    port = free_port()
    server_url = f"http://127.0.0.1:{port}"
    # The server's runs go to the test's Ray cluster, which lives under this home.
    env = {**os.environ, "PLINTH_HOME": str(ray_home), "PLINTH_SCHEDULER_INTERVAL": "0.5"}
    for name in ("PLINTH_TOKEN", "PLINTH_SERVER_SECRET"):
        env.pop(name, None)
    plinth_cli("user", "create", "admin", "--role", "Owner", "--workspace", ws.name,
               "--workspace-folder", str(folder), env=env)
    token = json.loads(plinth_cli("token", "create", "admin", "--workspace-folder",
                                  str(folder), "--json", env=env))["token"]
    auth_header = {"Authorization": f"Bearer {token}"}
    plinth = Path(sys.executable).with_name("plinth")
    command = [str(plinth), "server", "--workspace", str(folder), "--port", str(port),
               "--log-level", "warning"]
    with running(command, f"{server_url}/healthz", env, course_folder / "server.log"):
        # An embedded workspace's endpoints are on the server PLINTH_STUDIO_URL names.
        monkeypatch.setenv("PLINTH_STUDIO_URL", server_url)

        rest_endpoint = published_pipeline.endpoint
        print(rest_endpoint)

        assert rest_endpoint == (f"{server_url}/api/v1/workspaces/{ws.name}"
                                 f"/published-pipelines/{published_pipeline.id}/submit")

        import requests

        response = requests.post(rest_endpoint,
                                 headers=auth_header,
                                 json={"ExperimentName": "run_training_pipeline"})
        run_id = response.json()["Id"]
        print(run_id)

        assert response.status_code == 200, response.text
        rest_run = PipelineRun(Experiment(ws, "run_training_pipeline"), run_id)
        steps = completed(rest_run)
        assert not steps["prepare data"].is_reused  # allow_reuse=False
        assert steps["train model"].get_metrics()["reg"] == 0.01
        assert rest_run.get_properties()["azureml.pipelineid"] == published_pipeline.id

        # -- Use pipeline parameters ----------------------------------------------------------
        from plinth.pipeline.core.graph import PipelineParameter

        reg_param = PipelineParameter(name='reg_rate', default_value=0.01)

        prepped = prepped_data

        step2 = EstimatorStep(name = 'train model',
                              estimator = sk_estimator,
                              compute_target = 'aml-cluster',
                              inputs=[prepped],
                              estimator_entry_script_arguments=['--folder', prepped,
                                                                '--reg', reg_param])

        # "You must define parameters for a pipeline before publishing it."
        train_pipeline = Pipeline(workspace=ws, steps=[step1, step2])
        published_pipeline = train_pipeline.publish(name='training_pipeline',
                                                    description='Model training pipeline',
                                                    version='2.0')
        assert published_pipeline.parameters == {"reg_rate": 0.01}
        rest_endpoint = published_pipeline.endpoint

        # Running a pipeline with a parameter
        response = requests.post(rest_endpoint,
                                 headers=auth_header,
                                 json={"ExperimentName": "run_training_pipeline",
                                       "ParameterAssignments": {"reg_rate": 0.1}})

        assert response.status_code == 200, response.text
        steps = completed(PipelineRun(Experiment(ws, "run_training_pipeline"),
                                      response.json()["Id"]))
        assert steps["train model"].get_metrics()["reg"] == 0.1
        assert 0.5 < steps["train model"].get_metrics()["accuracy"] <= 1.0

        # -- Scheduling a pipeline for periodic intervals -----------------------------------
        from plinth.pipeline.core import Schedule, ScheduleRecurrence

        daily = ScheduleRecurrence(frequency='Day', interval=1)
        pipeline_schedule = Schedule.create(ws, name='Daily Training',
                                                description='trains model every day',
                                                pipeline_id=published_pipeline.id,
                                                experiment_name='Training_Pipeline',
                                                # daily schedule
                                                recurrence=daily)

        daily_schedule = pipeline_schedule
        assert daily_schedule.recurrence == ScheduleRecurrence(frequency='Day', interval=1)
        # Without a start time, the first run is now (the next, a day later).
        found = []
        assert wait_until(lambda: found.append(daily_schedule.get_last_pipeline_run())
                          or found[-1], timeout=120, interval=0.5), "the schedule never fired"
        steps = completed(found[-1])
        assert steps["train model"].get_metrics()["reg"] == 0.01

        # -- Triggering a pipeline run on data changes --------------------------------------
        published_pipeline_id = published_pipeline.id

        from plinth.core import Datastore
        from plinth.pipeline.core import Schedule

        training_datastore = Datastore(workspace=ws, name='blob_data')
        pipeline_schedule = Schedule.create(ws, name='Reactive Training',
                                            description='trains model on data change',
                                            pipeline_id=published_pipeline_id,
                                            experiment_name='Training_Pipeline',
                                            datastore=training_datastore,
                                            path_on_datastore='data/training')

        reactive_schedule = pipeline_schedule
        assert (reactive_schedule.datastore_name, reactive_schedule.path_on_datastore) == (
            'blob_data', 'data/training')
        assert reactive_schedule.recurrence is None
        assert {(s.name, s.status) for s in Schedule.list(ws)} == {
            ('Daily Training', 'Active'), ('Reactive Training', 'Active')}
        assert wait_until(
            lambda: Schedule.get(ws, reactive_schedule.id)._record.data_state is not None,
            timeout=60, interval=0.5), "the data trigger never polled its datastore"
        assert reactive_schedule.get_pipeline_runs() == []  # no new files yet

        daily_schedule.disable()
        reactive_schedule.disable()
        assert Schedule.list(ws) == []
        assert {s.status for s in Schedule.list(ws, active_only=False)} == {"Disabled"}


def test_redefining_the_step_that_writes_pipeline_data(tmp_path):
    """The reuse sample as the notes mean it: step1 built again (now with allow_reuse=False)
    around the same PipelineData, then a pipeline of the new step1 and step2: the step built
    last writes the data."""
    from plinth.core import Workspace
    from plinth.pipeline.core import Pipeline, PipelineData
    from plinth.pipeline.steps import PythonScriptStep

    ws = Workspace.create("reuse", path=tmp_path / "workspace")
    (tmp_path / "data_prep.py").write_text("")
    (tmp_path / "train.py").write_text("")
    prepped_data = PipelineData('prepped', datastore=ws.get_default_datastore())
    PythonScriptStep(name='prepare data', source_directory=str(tmp_path),
                     script_name='data_prep.py', outputs=[prepped_data],
                     arguments=['--folder', prepped_data])
    step1 = PythonScriptStep(name='prepare data', source_directory=str(tmp_path),
                             script_name='data_prep.py', outputs=[prepped_data],
                             arguments=['--folder', prepped_data], allow_reuse=False)
    step2 = PythonScriptStep(name='train model', source_directory=str(tmp_path),
                             script_name='train.py', inputs=[prepped_data],
                             arguments=['--folder', prepped_data])
    pipeline = Pipeline(workspace=ws, steps=[step1, step2])
    assert [step.allow_reuse for step in pipeline.steps] == [False, True]
