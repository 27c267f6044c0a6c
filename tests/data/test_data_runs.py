"""Datasets and data references passed into submitted runs, and the lineage they leave."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from plinth.core import Dataset, Experiment, Model, ScriptRunConfig
from plinth.train.sklearn import SKLearn
from tests.conftest import write_script

pytestmark = pytest.mark.slow

DATA = Path(__file__).parents[2] / "examples" / "data"

TRAIN = """
    import argparse
    import joblib
    from sklearn.linear_model import LogisticRegression
    from plinth.core import Run

    parser = argparse.ArgumentParser()
    parser.add_argument("--input-data", dest="input_data")
    parser.add_argument("--reg_rate", type=float, default=0.01)
    args = parser.parse_args()

    run = Run.get_context()
    dataset = run.input_datasets["training_data"]
    assert args.input_data == dataset.id, (args.input_data, dataset.id)
    data = dataset.to_pandas_dataframe()
    features = ["Pregnancies", "PlasmaGlucose", "DiastolicBloodPressure", "TricepsThickness",
                "SerumInsulin", "BMI", "DiabetesPedigree", "Age"]
    model = LogisticRegression(C=1 / args.reg_rate, solver="liblinear").fit(
        data[features], data["Diabetic"])
    run.log("rows", len(data))
    run.log("Accuracy", float(model.score(data[features], data["Diabetic"])))
    joblib.dump(model, "outputs/model.pkl")
"""

COUNT_FILES = """
    import argparse, json, os
    from plinth.core import Run

    parser = argparse.ArgumentParser()
    parser.add_argument("--data_folder")
    parser.add_argument("--out")
    args = parser.parse_args()
    run = Run.get_context()
    images = run.input_datasets["img_data"]

    def rows(folder):
        total = 0
        for root, _, names in os.walk(folder):
            for name in names:
                with open(os.path.join(root, name)) as f:
                    total += sum(1 for _ in f) - 1
        return total

    summary = {"reference_rows": rows(args.data_folder), "dataset_rows": rows(images),
               "dataset_files": sorted(os.listdir(images))}
    run.log("reference_rows", summary["reference_rows"])
    with open(os.path.join(args.out, "summary.json"), "w") as f:
        json.dump(summary, f)
"""


@pytest.fixture
def uploaded(ws, tmp_path):
    folder = tmp_path / "files"
    folder.mkdir()
    for name in ("diabetes.csv", "diabetes2.csv"):
        shutil.copy(DATA / name, folder / name)
    store = ws.get_default_datastore()
    store.upload(
        src_dir=str(folder), target_path="diabetes-data", overwrite=True, show_progress=False
    )
    return store


def test_a_run_trains_on_a_registered_dataset_and_records_lineage(ws, uploaded, script_dir):
    both = Dataset.Tabular.from_delimited_files(path=[(uploaded, "diabetes-data/*.csv")])
    both.register(ws, "diabetes dataset")
    first = Dataset.Tabular.from_delimited_files(path=[(uploaded, "diabetes-data/diabetes.csv")])
    v2 = first.register(ws, "diabetes dataset", create_new_version=True)
    assert v2.version == 2

    write_script(script_dir, "train.py", TRAIN)
    dataset = Dataset.get_by_name(ws, "diabetes dataset")
    config = ScriptRunConfig(
        source_directory=str(script_dir),
        script="train.py",
        arguments=["--input-data", dataset.as_named_input("training_data"), "--reg_rate", 0.1],
    )
    run = Experiment(ws, "train-on-data").submit(config)
    run.wait_for_completion(raise_on_error=True)

    assert run.get_metrics()["rows"] == 10_000
    details = run.get_details()["inputDatasets"]
    assert details[0]["dataset"] == {"id": v2.id, "name": "diabetes dataset", "version": 2}
    assert details[0]["consumptionDetails"]["inputName"] == "training_data"
    assert [r.id for r in v2.get_runs()] == [run.id]
    assert run.input_datasets["training_data"].version == 2

    model = run.register_model(
        "diabetes_model", "outputs/model.pkl", datasets=[("training data", dataset)]
    )
    assert Model(ws, "diabetes_model").datasets[0]["id"] == v2.id
    assert model.datasets[0]["version"] == 2


def test_file_datasets_and_data_references_reach_an_estimator(ws, uploaded, script_dir, tmp_path):
    img_ds = Dataset.File.from_files(path=(uploaded, "diabetes-data/*.csv"))
    img_ds = img_ds.register(ws, "diabetes files")
    data_ref = uploaded.path("diabetes-data").as_download(path_on_compute="training_data")
    write_script(script_dir, "count.py", COUNT_FILES)
    estimator = SKLearn(
        source_directory=str(script_dir),
        entry_script="count.py",
        compute_target="local",
        script_params={"--data_folder": data_ref, "--out": uploaded.path("results").as_upload()},
        inputs=[img_ds.as_named_input("img_data").as_download(path_on_compute="data")],
    )
    run = Experiment(ws, "file-inputs").submit(estimator)
    run.wait_for_completion(raise_on_error=True)

    assert run.get_metrics()["reference_rows"] == 15_000
    assert uploaded.download(tmp_path / "out", prefix="results", show_progress=False) == 1
    summary = json.loads((tmp_path / "out" / "results" / "summary.json").read_text())
    assert summary == {
        "reference_rows": 15_000,
        "dataset_rows": 15_000,
        "dataset_files": ["diabetes.csv", "diabetes2.csv"],
    }
    inputs = run.get_details()["inputDatasets"]
    assert inputs[0]["consumptionDetails"]["mechanism"] == "download"
    log = run.get_details_with_logs()["logFiles"]
    assert any("driver" in name for name in log)


def test_missing_input_data_fails_the_run_with_a_clear_error(ws, uploaded, script_dir):
    write_script(script_dir, "count.py", COUNT_FILES)
    files = Dataset.File.from_files((uploaded, "diabetes-data/*.csv"), validate=False)
    uploaded_files = files.register(ws, "will vanish")
    config = ScriptRunConfig(
        str(script_dir),
        "count.py",
        arguments=[
            "--data_folder",
            uploaded_files.as_named_input("img_data").as_download(),
            "--out",
            ".",
        ],
    )
    # The files are removed after registration: the run cannot prepare its input.
    for name in ("diabetes.csv", "diabetes2.csv"):
        uploaded._files.delete(f"diabetes-data/{name}")
    run = Experiment(ws, "vanished").submit(config)
    run.wait_for_completion(raise_on_error=False)
    assert run.get_status() == "Failed"
    assert "matches no files" in run.get_details()["error"]["error"]["message"]
