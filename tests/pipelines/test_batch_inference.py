"""Batch inference with ParallelRunStep: the course's lab (a registered model scoring many
small files in a pipeline), tabular mini-batches, failures, timeouts and output actions."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests import compute as shared
from tests.conftest import write_script

from plinth.core import Dataset, Environment, Experiment, Model
from plinth.core.conda_dependencies import CondaDependencies
from plinth.exceptions import UserErrorException
from plinth.pipeline.core import Pipeline, PipelineData
from plinth.pipeline.steps import ParallelRunConfig, ParallelRunStep

ray_home, ray_address = shared.ray_home, shared.ray_address

DATA = Path(__file__).resolve().parents[2] / "examples" / "data" / "diabetes.csv"
FEATURES = ["Pregnancies", "PlasmaGlucose", "DiastolicBloodPressure", "TricepsThickness",
            "SerumInsulin", "BMI", "DiabetesPedigree", "Age"]

# The lab's batch_diabetes.py, plus a line recording which process ran init().
LAB_SCRIPT = """
    import argparse, os
    import joblib
    import numpy as np
    from plinth.core import Model

    def init():
        global model
        parser = argparse.ArgumentParser()
        parser.add_argument("--pid-file")
        args, _ = parser.parse_known_args()
        with open(args.pid_file, "a") as f:
            f.write(f"{os.getpid()}\\n")
        model_path = Model.get_model_path("diabetes_model")
        model = joblib.load(model_path)

    def run(mini_batch):
        resultList = []
        for f in mini_batch:
            data = np.genfromtxt(f, delimiter=",")
            prediction = model.predict(data.reshape(1, -1))
            resultList.append("{}: {}".format(os.path.basename(f), prediction[0]))
        return resultList
"""

# Fails on one file, and stalls on another, as the test asks through its arguments.
FILES_SCRIPT = """
    import os, sys, time

    def init():
        global bad, slow
        bad = sys.argv[sys.argv.index("--bad") + 1] if "--bad" in sys.argv else None
        slow = sys.argv[sys.argv.index("--slow") + 1] if "--slow" in sys.argv else None

    def run(mini_batch):
        out = []
        for f in mini_batch:
            name = os.path.basename(f)
            if name == bad:
                raise ValueError(f"cannot score {name}")
            if name == slow:
                time.sleep(120)
            out.append(f"{name}: {open(f).read().strip()}")
        return out
"""

TABULAR_SCRIPT = """
    import pandas as pd

    def init():
        pass

    def run(mini_batch):
        assert isinstance(mini_batch, pd.DataFrame), type(mini_batch)
        out = mini_batch[["PatientID"]].copy()
        out["rows_in_batch"] = len(mini_batch)
        return out
"""


def steps_of(run):
    return {s.name: s for s in run.get_steps()}


def read_results(step_run, tmp_path, output="inferences", name="parallel_run_step.txt"):
    folder = Path(step_run.get_output_data(output).download(tmp_path / "results",
                                                            show_progress=False))
    found = list(folder.rglob(name))
    return found[0].read_text().splitlines() if found else None


def driver_log(step_run):
    return step_run.get_details_with_logs()["logFiles"]["logs/driver.log"]


@pytest.fixture
def diabetes_model(ws, tmp_path):
    import joblib
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    df = pd.read_csv(DATA).head(2000)
    model = LogisticRegression(solver="liblinear").fit(df[FEATURES].values,
                                                       df["Diabetic"].values)
    path = tmp_path / "diabetes_model.pkl"
    joblib.dump(model, path)
    return Model.register(ws, model_path=str(path), model_name="diabetes_model")


def file_dataset(ws, tmp_path, count, rows=None, folder_name="batch-data"):
    """``count`` one-row CSV files (no header) on the default datastore, as a FileDataset."""
    import pandas as pd

    folder = tmp_path / folder_name
    folder.mkdir()
    features = pd.read_csv(DATA).head(count)[FEATURES] if rows is None else None
    for i in range(count):
        line = (",".join(str(v) for v in features.iloc[i]) if rows is None else rows(i))
        (folder / f"{i + 1:03d}.csv").write_text(line + "\n")
    datastore = ws.get_default_datastore()
    datastore.upload(str(folder), target_path=folder_name, overwrite=True, show_progress=False)
    return Dataset.File.from_files(path=(datastore, f"{folder_name}/"))


def batch_pipeline(ws, source, dataset_input, output="inferences", arguments=None, **config):
    settings = {"entry_script": "batch.py", "mini_batch_size": "5", "error_threshold": 10,
                "output_action": "append_row", "process_count_per_node": 2,
                "environment": None, "compute_target": "local", "node_count": 1, **config}
    run_config = ParallelRunConfig(source_directory=str(source), **settings)
    data = PipelineData(output, datastore=ws.get_default_datastore()) if output else None
    step = ParallelRunStep(name="batch-score", parallel_run_config=run_config,
                           inputs=[dataset_input], output=data, arguments=arguments or [])
    return Pipeline(ws, [step])


def run_pipeline(ws, pipeline, expect="Completed"):
    run = Experiment(ws, "batch-inference").submit(pipeline)
    assert run.wait_for_completion(show_output=False, raise_on_error=False) == expect
    return steps_of(run)["batch-score"]


# -- the course's lab --------------------------------------------------------------------------

@pytest.mark.slow
def test_the_lab_scores_files_with_a_registered_model_once_per_worker(ws, tmp_path,
                                                                      diabetes_model):
    source = tmp_path / "batch_pipeline"
    source.mkdir()
    write_script(source, "batch_diabetes.py", LAB_SCRIPT)
    files = file_dataset(ws, tmp_path, 50).register(ws, "batch-data")
    pid_file = tmp_path / "pids.txt"

    env = Environment("batch_environment")
    env.python.conda_dependencies = CondaDependencies.create(
        pip_packages=["scikit-learn", "azureml-defaults", "azureml-core"])
    config = ParallelRunConfig(source_directory=str(source), entry_script="batch_diabetes.py",
                               mini_batch_size="5", error_threshold=10,
                               output_action="append_row", environment=env,
                               compute_target="local", node_count=1,
                               process_count_per_node=2)
    output_dir = PipelineData(name="inferences", datastore=ws.get_default_datastore())
    step = ParallelRunStep(name="batch-score-diabetes", parallel_run_config=config,
                           inputs=[files.as_named_input("diabetes_batch")], output=output_dir,
                           arguments=["--pid-file", str(pid_file)], allow_reuse=True)
    run = Experiment(ws, "mslearn-diabetes-batch").submit(Pipeline(ws, [step]))
    assert run.wait_for_completion(show_output=False) == "Completed"

    step_run = next(run.get_children())
    assert step_run.properties["StepType"] == "ParallelRunStep"
    lines = read_results(step_run, tmp_path)
    assert len(lines) == 50
    names = [line.split(":")[0] for line in lines]
    assert names == [f"{i:03d}.csv" for i in range(1, 51)]  # in the input's order
    assert {line.split(": ")[1] for line in lines} <= {"0", "1"}
    metrics = step_run.get_metrics()
    assert metrics["processed_items"] == 50
    assert metrics["failed_items"] == 0
    assert metrics["mini_batches"] == 10
    # Two worker processes, each of which ran init() once.
    pids = pid_file.read_text().split()
    assert len(pids) == 2 and len(set(pids)) == 2
    log = driver_log(step_run)
    assert "10 of 10 mini-batches, 0 failed items" in log
    # The input is recorded as the step run's dataset.
    inputs = step_run.get_details()["inputDatasets"]
    assert [i["dataset"]["name"] for i in inputs] == ["batch-data"]


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_tabular_mini_batches_are_dataframes_of_about_the_size_asked(ws, tmp_path, raw_dataset):
    source = tmp_path / "src"
    source.mkdir()
    write_script(source, "batch.py", TABULAR_SCRIPT)
    rows = raw_dataset.take(300)
    step_run = run_pipeline(ws, batch_pipeline(ws, source, rows.as_named_input("rows"),
                                               mini_batch_size="1KB"))
    lines = read_results(step_run, tmp_path)
    assert len(lines) == 300
    ids = [int(line.split()[0]) for line in lines]
    assert ids == rows.to_pandas_dataframe()["PatientID"].tolist()
    per_batch = {int(line.split()[1]) for line in lines}
    # A diabetes row is ~60 bytes of CSV: about 17 rows make 1 KB.
    assert all(5 <= n <= 30 for n in per_batch), per_batch
    metrics = step_run.get_metrics()
    assert metrics["processed_items"] == 300
    assert metrics["mini_batches"] > 1


# -- failures ----------------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_with_error_threshold_minus_one_failed_items_are_counted_and_left_out(ws, tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    write_script(source, "batch.py", FILES_SCRIPT)
    files = file_dataset(ws, tmp_path, 10, rows=str)
    step_run = run_pipeline(ws, batch_pipeline(
        ws, source, files.as_named_input("batch_data"), mini_batch_size=1, error_threshold=-1,
        run_max_try=2, arguments=["--bad", "004.csv"]))
    lines = read_results(step_run, tmp_path)
    assert [line.split(":")[0] for line in lines] == [
        f"{i:03d}.csv" for i in range(1, 11) if i != 4]
    metrics = step_run.get_metrics()
    assert (metrics["processed_items"], metrics["failed_items"]) == (9, 1)
    assert metrics["failed_mini_batches"] == 1
    log = driver_log(step_run)
    assert "(004.csv) failed (try 1 of 2): ValueError: cannot score 004.csv; trying again" in log
    assert "(try 2 of 2)" in log


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_with_error_threshold_zero_one_failure_fails_the_step_naming_it(ws, tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    write_script(source, "batch.py", FILES_SCRIPT)
    files = file_dataset(ws, tmp_path, 10, rows=str)
    step_run = run_pipeline(ws, batch_pipeline(
        ws, source, files.as_named_input("batch_data"), mini_batch_size=2, error_threshold=0,
        run_max_try=1, arguments=["--bad", "004.csv"]), expect="Failed")
    assert step_run.status == "Failed"
    message = step_run.get_details()["error"]["error"]["message"]
    assert "2 failed item(s), 1 of 5 mini-batch(es) failed: more than error_threshold=0" \
        in message
    assert "ValueError: cannot score 004.csv" in message
    assert step_run.get_metrics()["failed_items"] == 2


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_stalled_mini_batch_is_killed_retried_and_then_counted_failed(ws, tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    write_script(source, "batch.py", FILES_SCRIPT)
    files = file_dataset(ws, tmp_path, 6, rows=str)
    step_run = run_pipeline(ws, batch_pipeline(
        ws, source, files.as_named_input("batch_data"), mini_batch_size=1, error_threshold=-1,
        run_invocation_timeout=2, run_max_try=2, arguments=["--slow", "002.csv"]))
    lines = read_results(step_run, tmp_path)
    assert [line.split(":")[0] for line in lines] == ["001.csv", "003.csv", "004.csv",
                                                      "005.csv", "006.csv"]
    assert step_run.get_metrics()["failed_items"] == 1
    log = driver_log(step_run)
    timeout = "TimeoutError: run() took longer than run_invocation_timeout=2 s"
    assert f"(002.csv) failed (try 1 of 2): {timeout}" in log
    assert f"(002.csv) failed (try 2 of 2): {timeout}" in log


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_init_failing_fails_the_step_with_its_traceback(ws, tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    write_script(source, "batch.py", """
        def init():
            raise RuntimeError("the model is missing")

        def run(mini_batch):
            return mini_batch
    """)
    files = file_dataset(ws, tmp_path, 4, rows=str)
    step_run = run_pipeline(ws, batch_pipeline(ws, source, files.as_named_input("batch_data")),
                            expect="Failed")
    message = step_run.get_details()["error"]["error"]["message"]
    assert "init() of batch.py failed" in message
    assert "RuntimeError: the model is missing" in message


# -- output actions ----------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_summary_only_writes_no_results_file(ws, tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    write_script(source, "batch.py", FILES_SCRIPT)
    files = file_dataset(ws, tmp_path, 6, rows=str)
    step_run = run_pipeline(ws, batch_pipeline(
        ws, source, files.as_named_input("batch_data"), output_action="summary_only"))
    assert read_results(step_run, tmp_path) is None
    assert step_run.get_metrics()["processed_items"] == 6
    # Nothing changed: submitted again, the step is reused.
    again = run_pipeline(ws, batch_pipeline(
        ws, source, files.as_named_input("batch_data"), output_action="summary_only"))
    assert again.is_reused


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_without_an_output_results_are_in_the_step_runs_outputs(ws, tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    write_script(source, "batch.py", FILES_SCRIPT)
    files = file_dataset(ws, tmp_path, 3, rows=str)
    step_run = run_pipeline(ws, batch_pipeline(
        ws, source, files.as_named_input("batch_data"), output=None,
        append_row_file_name="scores.txt"))
    target = tmp_path / "scores.txt"
    step_run.download_file("outputs/scores.txt", str(target))
    assert [line.split(":")[0] for line in target.read_text().splitlines()] == [
        "001.csv", "002.csv", "003.csv"]


# -- building the step -------------------------------------------------------------------------

def config(**changes):
    settings = {"environment": None, "entry_script": "batch.py", "error_threshold": 10,
                "output_action": "append_row", "compute_target": "local", "node_count": 1,
                **changes}
    return ParallelRunConfig(**settings)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@pytest.mark.parametrize("changes, message", [
    ({"output_action": "append"}, "must be 'append_row' or 'summary_only'"),
    ({"error_threshold": -2}, "error_threshold=-2 must be a whole number of at least -1"),
    ({"mini_batch_size": "lots"}, "mini_batch_size='lots'"),
    ({"run_max_try": 0}, "run_max_try=0"),
    ({"process_count_per_node": 0}, "process_count_per_node=0"),
    ({"append_row_file_name": "out/results.txt"}, "without folders"),
    ({"allowed_failed_percent": 120}, "from 0 to 100"),
    ({"entry_script": ""}, "entry_script is required"),
])
def test_config_mistakes_name_the_argument(ws, changes, message):
    with pytest.raises(UserErrorException, match=message.replace("(", r"\(").replace(")", r"\)")):
        config(**changes)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_step_checks_its_inputs_and_the_mini_batch_size_for_their_kind(ws, tmp_path,
                                                                      raw_dataset):
    files = file_dataset(ws, tmp_path, 2, rows=str)
    with pytest.raises(UserErrorException, match="for a FileDataset it is a number of files"):
        ParallelRunStep("score", config(mini_batch_size="1MB"),
                        inputs=[files.as_named_input("batch_data")])
    with pytest.raises(UserErrorException, match="all be file datasets or all tabular"):
        ParallelRunStep("score", config(), inputs=[files.as_named_input("a"),
                                                   raw_dataset.as_named_input("b")])
    with pytest.raises(UserErrorException, match="inputs must be a list of one dataset"):
        ParallelRunStep("score", config(), inputs=[])
    with pytest.raises(UserErrorException, match="output must be a PipelineData"):
        ParallelRunStep("score", config(), inputs=[files.as_named_input("a")], output="out")
    source = tmp_path / "src"
    source.mkdir()
    step = ParallelRunStep("score", config(source_directory=str(source)),
                           inputs=[files.as_named_input("a")])
    with pytest.raises(UserErrorException, match="entry_script 'batch.py' is not in"):
        Pipeline(ws, [step])


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_the_step_run_runs_the_batch_engine_on_the_configs_target_and_environment(
        ws, tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    write_script(source, "batch.py", FILES_SCRIPT)
    files = file_dataset(ws, tmp_path, 2, rows=str)
    env = Environment("batch_environment")
    step = ParallelRunStep("score", config(source_directory=str(source), environment=env,
                                           mini_batch_size=3, process_count_per_node=4),
                           inputs=[files.as_named_input("batch_data")],
                           output=PipelineData("inferences"), arguments=["--bad", "x"])
    spec = step._spec(None)
    definition = spec["definition"]
    command = definition["command"]
    assert command[:3] == ["python", "-m", "plinth._serving.batch"]
    assert command[command.index("--mini-batch-size") + 1] == "3"
    assert command[command.index("--process-count-per-node") + 1] == "4"
    assert command[-3:] == ["--", "--bad", "x"]
    # A file dataset is mounted for the engine; the output is a step output.
    assert [(i["name"], i["mode"]) for i in definition["inputs"]] == [("batch_data", "mount")]
    assert [o["name"] for o in spec["outputs"]] == ["inferences"]
    assert definition["environment"]["name"] == "batch_environment"
    assert definition["target"] == "local"


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_pipeline_parameters_can_set_the_mini_batch_size(ws, tmp_path):
    from plinth.pipeline.core import PipelineParameter

    source = tmp_path / "src"
    source.mkdir()
    write_script(source, "batch.py", FILES_SCRIPT)
    files = file_dataset(ws, tmp_path, 2, rows=str)
    size = PipelineParameter("batch_size", 5)
    step = ParallelRunStep("score", config(source_directory=str(source), mini_batch_size=size),
                           inputs=[files.as_named_input("batch_data")])
    assert step._parameters() == [size]
    with pytest.raises(UserErrorException, match="number of files"):
        ParallelRunStep("score", config(mini_batch_size=PipelineParameter("size", "1MB")),
                        inputs=[files.as_named_input("batch_data")])


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_on_a_training_cluster_the_step_is_a_cluster_run_with_its_processes_on_one_node(
        ray_address, ws, tmp_path):
    from plinth.core.compute import AmlCompute, ComputeTarget

    provisioning = AmlCompute.provisioning_configuration(vm_size="STANDARD_DS11_V2",
                                                         max_nodes=2)
    provisioning.config["idle_seconds_before_scaledown"] = shared.SESSION_IDLE
    ComputeTarget.create(ws, "aml-cluster", provisioning).wait_for_completion(show_output=False)
    source = tmp_path / "src"
    source.mkdir()
    write_script(source, "batch.py", FILES_SCRIPT)
    files = file_dataset(ws, tmp_path, 6, rows=str)
    step_run = run_pipeline(ws, batch_pipeline(
        ws, source, files.as_named_input("batch_data"), compute_target="aml-cluster",
        node_count=2))
    details = step_run.get_details()
    assert details["target"] == "aml-cluster"
    assert details["runDefinition"]["compute"]["kind"] == "AmlCompute"
    assert len(read_results(step_run, tmp_path)) == 6
    assert "node_count=2: all worker processes run on this step's node" in driver_log(step_run)
