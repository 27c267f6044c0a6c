"""The code samples of the course's "Working with Data" section, with ``azureml`` replaced by
``plinth`` and nothing else changed but the placeholders it leaves to the reader."""

from __future__ import annotations

import os
import shutil
import textwrap
from pathlib import Path

import pytest

DATA = Path(__file__).parents[2] / "examples" / "data"
#: A well-formed account key (Azurite's public one): the course's "123456abcde789…" is a
#: placeholder that no storage account accepts.
ACCOUNT_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)


@pytest.fixture
def course_folder(tmp_path, monkeypatch):
    """A folder with a workspace config, the data files the samples name, and a script."""
    from plinth.core import Workspace

    ws = Workspace.create("course", path=tmp_path / "workspace")
    ws.write_config(path=tmp_path)
    files = tmp_path / "files"
    (files / "data" / "files" / "archive").mkdir(parents=True)
    (files / "data" / "files" / "images").mkdir(parents=True)
    shutil.copy(DATA / "diabetes.csv", files / "data" / "files" / "current_data.csv")
    shutil.copy(DATA / "diabetes2.csv", files / "data" / "files" / "archive" / "2019.csv")
    for name in ("a.jpg", "b.jpg", "c.png"):
        (files / "data" / "files" / "images" / name).write_bytes(os.urandom(64))
    script = tmp_path / "experiment_folder"
    script.mkdir()
    (script / "training_script.py").write_text(textwrap.dedent("""
        import argparse, os
        from plinth.core import Run
        parser = argparse.ArgumentParser()
        parser.add_argument("--data_folder")
        args = parser.parse_args()
        run = Run.get_context()
        if args.data_folder:
            run.log("files", len(os.listdir(args.data_folder)))
        if "csv_data" in run.input_datasets:
            run.log("rows", len(run.input_datasets["csv_data"].to_pandas_dataframe()))
        if "img_data" in run.input_datasets:
            run.log("images", len(os.listdir(run.input_datasets["img_data"])))
    """))
    monkeypatch.chdir(tmp_path)
    return files


@pytest.mark.slow
def test_working_with_data(course_folder):
    from plinth.core import Dataset, Datastore, Run, Workspace  # noqa: F401

    ws = Workspace.from_config()

    # Register a new datastore (an account this machine cannot reach: registered, with a
    # warning, as runs elsewhere may reach it).
    with pytest.warns(UserWarning, match="cannot reach"):
        blob_ds = Datastore.register_azure_blob_container(
            workspace=ws,
            datastore_name='blob_data',
            container_name='data_container',
            account_name='az_store_acct',
            account_key=ACCOUNT_KEY,
        )
    assert blob_ds.container_name == "data_container"

    # list
    names = []
    for ds_name in ws.datastores:
        names.append(ds_name)
    assert {"blob_data", "workspaceblobstore", "workspacefilestore"} <= set(names)
    # get
    blob_store = Datastore.get(ws, datastore_name='blob_data')
    assert blob_store.name == "blob_data"
    # get default
    default_store = ws.get_default_datastore()
    assert default_store.name == "workspaceblobstore"
    # set default
    ws.set_default_datastore('blob_data')
    assert ws.get_default_datastore().name == "blob_data"
    ws.set_default_datastore('workspaceblobstore')

    # Working directly with a datastore (the default one: it is reachable here).
    blob_ds = ws.get_default_datastore()
    blob_ds.upload(src_dir=str(course_folder / 'data' / 'files'),
                   target_path='/data/files',
                   overwrite=True, show_progress=True)
    blob_ds.download(target_path='downloads',
                     prefix='/data',
                     show_progress=True)
    assert Path("downloads/data/files/current_data.csv").is_file()

    # Using data references
    from plinth.train.sklearn import SKLearn

    data_ref = blob_ds.path('data/files').as_download(path_on_compute='training_data')
    estimator = SKLearn(source_directory='experiment_folder',
                        entry_script='training_script.py',
                        compute_target='local',
                        script_params={'--data_folder': data_ref})

    # Creating and registering tabular datasets
    blob_ds = ws.get_default_datastore()
    csv_paths = [(blob_ds, 'data/files/current_data.csv'),
                 (blob_ds, 'data/files/archive/*.csv')]
    tab_ds = Dataset.Tabular.from_delimited_files(path=csv_paths)
    tab_ds = tab_ds.register(workspace=ws, name='csv_table')

    # Creating and registering file datasets
    file_ds = Dataset.File.from_files(path=(blob_ds, 'data/files/images/*.jpg'))
    file_ds = file_ds.register(workspace=ws, name='img_files')

    # Retrieving a registered dataset
    ds1 = ws.datasets['csv_table']
    ds2 = Dataset.get_by_name(ws, 'img_files')
    assert (ds1.version, ds2.version) == (1, 1)

    # Dataset versioning
    img_paths = [(blob_ds, 'data/files/images/*.jpg'),
                 (blob_ds, 'data/files/images/*.png')]
    file_ds = Dataset.File.from_files(path=img_paths)
    file_ds = file_ds.register(workspace=ws, name='img_files', create_new_version=True)
    img_ds = Dataset.get_by_name(workspace=ws, name='img_files', version=2)
    assert len(img_ds.to_path()) == 3

    # Working with a dataset directly
    df = tab_ds.to_pandas_dataframe()
    assert len(df) == 15_000
    paths = []
    for file_path in file_ds.to_path():
        paths.append(file_path)
    assert sorted(paths) == ["/a.jpg", "/b.jpg", "/c.png"]

    # Passing a dataset to an experiment script
    from plinth.core import Experiment
    from plinth.train.estimator import Estimator

    estimator = SKLearn(source_directory='experiment_folder',
                        entry_script='training_script.py',
                        compute_target='local',
                        inputs=[tab_ds.as_named_input('csv_data')],
                        pip_packages=['azureml-dataprep[pandas]'])
    run = Experiment(ws, "csv-input").submit(estimator)
    run.wait_for_completion(raise_on_error=True)
    assert run.get_metrics()["rows"] == 15_000

    estimator = Estimator(source_directory='experiment_folder',
                          entry_script='training_script.py',
                          compute_target='local',
                          inputs=[img_ds.as_named_input('img_data').as_download(
                              path_on_compute='data')],
                          pip_packages=['azureml-dataprep[pandas]'])
    run = Experiment(ws, "image-input").submit(estimator)
    run.wait_for_completion(raise_on_error=True)
    assert run.get_metrics()["images"] == 3

    estimator = SKLearn(source_directory='experiment_folder',
                        entry_script='training_script.py',
                        compute_target='local',
                        script_params={'--data_folder': data_ref})
    run = Experiment(ws, "data-reference").submit(estimator)
    run.wait_for_completion(raise_on_error=True)
    assert run.get_metrics()["files"] == 3  # current_data.csv, archive/, images/
