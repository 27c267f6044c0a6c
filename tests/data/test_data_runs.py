"""Datasets and data references passed into submitted runs, and the lineage they leave."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from tests.conftest import write_script

from plinth.core import Dataset, Experiment, Model, ScriptRunConfig
from plinth.train.sklearn import SKLearn

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


READ_BOTH = """
    import os
    from plinth.core import Run

    run = Run.get_context()
    table = run.input_datasets["from_s3"].to_pandas_dataframe()
    folder = run.input_datasets["from_blob"]
    rows = 0
    for name in os.listdir(folder):
        with open(os.path.join(folder, name)) as f:
            rows += sum(1 for _ in f) - 1
    run.log("s3_rows", len(table))
    run.log("blob_rows", rows)
"""


def test_runs_read_datasets_on_s3_and_azure_blob(ws, s3_server, azurite, script_dir):
    from plinth.core import Datastore
    from plinth.exceptions import DataAccessError

    s3 = Datastore.register_s3(ws, "s3_data", bucket="plinth-test",
                               endpoint_url=s3_server["FSSPEC_S3_ENDPOINT_URL"],
                               access_key_id="test", secret_access_key="test")
    blob = Datastore.register_azure_blob_container(
        ws, "blob_data", container_name=azurite.create_container(),
        account_name=azurite.account, account_key=azurite.key, endpoint=azurite.url)
    with pytest.raises(DataAccessError):
        Datastore.register_azure_blob_container(
            ws, "blob_bad", container_name="nothing", account_name=azurite.account,
            account_key=azurite.key[::-1], endpoint=azurite.url)
    assert "blob_bad" not in ws.datastores
    assert not [s for s in ws.get_default_keyvault().list_secrets() if "blob-bad" in s["name"]]

    prefix = f"runs-{ws.name}"
    s3.upload_files([str(DATA / "diabetes.csv")], target_path=f"{prefix}/diabetes",
                    show_progress=False)
    blob.upload_files([str(DATA / "diabetes2.csv")], target_path="diabetes",
                      show_progress=False)
    from_s3 = Dataset.Tabular.from_delimited_files((s3, f"{prefix}/diabetes/*.csv"))
    from_s3 = from_s3.register(ws, "s3 diabetes")
    from_blob = Dataset.File.from_files((blob, "diabetes/*.csv")).register(ws, "blob files")
    assert len(from_s3.to_pandas_dataframe()) == 10_000

    write_script(script_dir, "read_both.py", READ_BOTH)
    config = ScriptRunConfig(str(script_dir), "read_both.py", arguments=[
        from_s3.as_named_input("from_s3"), from_blob.as_named_input("from_blob").as_mount()])
    run = Experiment(ws, "cloud-data").submit(config)
    run.wait_for_completion(raise_on_error=True)
    metrics = run.get_metrics()
    assert (metrics["s3_rows"], metrics["blob_rows"]) == (10_000, 5_000)
    names = {d["dataset"]["name"] for d in run.get_details()["inputDatasets"]}
    assert names == {"s3 diabetes", "blob files"}


MOUNTED = """
    import os, sys
    from plinth.core import Run

    folder = sys.argv[1]
    run = Run.get_context()
    run.log("files", len(os.listdir(folder)))
    run.tag("folder", os.path.realpath(folder))
"""


def test_a_mounted_datastore_path_is_read_in_place_when_it_is_on_this_disk(ws, uploaded,
                                                                           script_dir):
    write_script(script_dir, "mounted.py", MOUNTED)
    config = ScriptRunConfig(str(script_dir), "mounted.py",
                             arguments=[uploaded.path("diabetes-data").as_mount()])
    run = Experiment(ws, "mounted").submit(config)
    run.wait_for_completion(raise_on_error=True)
    assert run.get_metrics()["files"] == 2
    local = uploaded._files.local_path("diabetes-data")
    if local is not None:  # a folder artifact root: no copy at all
        assert run.get_tags()["folder"] == str(local.resolve())
    else:  # a server's store: a local cache inside the run's folder
        assert "inputs" in run.get_tags()["folder"]
