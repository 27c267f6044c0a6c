"""Datastores and datasets through the public SDK, on every workspace backend."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import pandas as pd
import pytest

from plinth.core import Dataset, Datastore
from plinth.data import DataType, FileDataset, TabularDataset
from plinth.exceptions import AlreadyExistsError, NotFoundError, UserErrorException

DATA = Path(__file__).parents[2] / "examples" / "data"
ROWS = {"diabetes.csv": 10_000, "diabetes2.csv": 5_000}


@pytest.fixture
def data_dir(tmp_path):
    folder = tmp_path / "files"
    folder.mkdir()
    for name in ROWS:
        shutil.copy(DATA / name, folder / name)
    return folder


@pytest.fixture
def uploaded(ws, data_dir):
    """The diabetes CSVs in the default datastore under ``diabetes-data/``."""
    store = ws.get_default_datastore()
    store.upload(
        src_dir=str(data_dir), target_path="diabetes-data", overwrite=True, show_progress=False
    )
    return store


def test_every_workspace_has_the_builtin_datastores(ws):
    assert {"workspaceblobstore", "workspacefilestore"} <= set(ws.datastores)
    default = ws.get_default_datastore()
    assert default.name == "workspaceblobstore"
    assert default.datastore_type == "AzureBlob"

    ws.set_default_datastore("workspacefilestore")
    assert ws.get_default_datastore().name == "workspacefilestore"
    assert Datastore.get(ws, "workspaceblobstore").is_default is False

    with pytest.raises(NotFoundError, match="workspaceblobstore"):
        Datastore.get(ws, "no_such_store")


def test_upload_skips_existing_files_unless_overwrite(ws, data_dir, tmp_path):
    store = ws.get_default_datastore()
    store.upload(str(data_dir), "up", show_progress=False)
    (data_dir / "diabetes.csv").write_text("changed\n")
    store.upload(str(data_dir), "up", show_progress=False)  # skipped: already there
    assert store.download(tmp_path / "one", prefix="up", show_progress=False) == 2
    assert (tmp_path / "one" / "up" / "diabetes.csv").read_text() != "changed\n"

    store.upload(str(data_dir), "up", overwrite=True, show_progress=False)
    assert store.download(tmp_path / "two", prefix="up/diabetes.csv", show_progress=False) == 1
    assert (tmp_path / "two" / "up" / "diabetes.csv").read_text() == "changed\n"

    store.upload_files([str(data_dir / "diabetes2.csv")], target_path="single", show_progress=False)
    assert store.download(tmp_path / "three", prefix="single", show_progress=False) == 1
    assert (tmp_path / "three" / "single" / "diabetes2.csv").is_file()


def test_tabular_dataset_versions(ws, uploaded):
    csv_paths = [(uploaded, "diabetes-data/*.csv")]
    tab_ds = Dataset.Tabular.from_delimited_files(path=csv_paths)
    assert isinstance(tab_ds, TabularDataset)
    v1 = tab_ds.register(
        workspace=ws, name="diabetes dataset", description="both files", tags={"format": "CSV"}
    )
    assert (v1.name, v1.version) == ("diabetes dataset", 1)
    frame = v1.to_pandas_dataframe()
    assert len(frame) == sum(ROWS.values())
    assert frame["Diabetic"].isin([0, 1]).all()
    assert str(frame["BMI"].dtype) == "float64"

    # The same definition again is the same version; a different one needs a new version.
    assert tab_ds.register(ws, "diabetes dataset").version == 1
    first_only = Dataset.Tabular.from_delimited_files((uploaded, "diabetes-data/diabetes.csv"))
    with pytest.raises(AlreadyExistsError, match="create_new_version"):
        first_only.register(ws, "diabetes dataset")
    v2 = first_only.register(ws, "diabetes dataset", create_new_version=True)
    assert v2.version == 2

    assert len(ws.datasets["diabetes dataset"].to_pandas_dataframe()) == ROWS["diabetes.csv"]
    old = Dataset.get_by_name(ws, "diabetes dataset", version=1)
    assert len(old.to_pandas_dataframe()) == sum(ROWS.values())
    assert old.tags == {"format": "CSV"} and old.description == "both files"
    assert Dataset.get_by_id(ws, v2.id).version == 2
    with pytest.raises(NotFoundError, match="version 7"):
        Dataset.get_by_name(ws, "diabetes dataset", version=7)

    v2.unregister_all_versions()
    assert "diabetes dataset" not in ws.datasets
    assert Dataset.get_by_id(ws, v1.id).to_pandas_dataframe().shape[0] == sum(ROWS.values())


def test_transformations_are_lazy_and_registered(ws, uploaded):
    ds = Dataset.Tabular.from_delimited_files(
        (uploaded, "diabetes-data/diabetes.csv"),
        set_column_types={"PatientID": DataType.to_string()},
    )
    older = ds.filter(ds["Age"] > 50).keep_columns(["PatientID", "Age", "Diabetic"])
    registered = older.register(ws, "older patients")
    again = Dataset.get_by_name(ws, "older patients")
    frame = again.to_pandas_dataframe()
    assert list(frame.columns) == ["PatientID", "Age", "Diabetic"]
    assert (frame["Age"] > 50).all()
    expected = pd.read_csv(DATA / "diabetes.csv")
    assert len(frame) == int((expected["Age"] > 50).sum())
    assert registered.definition["transforms"][0]["op"] == "filter"

    train, test = ds.random_split(percentage=0.7, seed=42)
    a, b = train.to_pandas_dataframe(), test.to_pandas_dataframe()
    assert len(a) + len(b) == ROWS["diabetes.csv"]
    assert (
        set(a["PatientID"]).isdisjoint(set(b["PatientID"]))
        or len(set(a["PatientID"]) & set(b["PatientID"])) < 50
    )  # IDs repeat in the source data
    assert 0.6 < len(a) / ROWS["diabetes.csv"] < 0.8
    assert len(ds.take(5).to_pandas_dataframe()) == 5
    assert len(ds.skip(9_990).to_pandas_dataframe()) == 10

    profile = ds.get_profile()
    assert profile["Age"]["min"] == expected["Age"].min()
    assert profile["Age"]["max"] == expected["Age"].max()
    assert profile["Age"]["mean"] == pytest.approx(expected["Age"].mean())
    assert profile["PatientID"]["type"] == "string"


def test_file_dataset_download_mount_and_paths(ws, uploaded, tmp_path):
    file_ds = Dataset.File.from_files(path=(uploaded, "diabetes-data/*.csv"))
    assert isinstance(file_ds, FileDataset)
    file_ds = file_ds.register(workspace=ws, name="diabetes files")
    assert sorted(file_ds.to_path()) == ["/diabetes.csv", "/diabetes2.csv"]

    paths = file_ds.download(target_path=tmp_path / "dl")
    assert sorted(Path(p).name for p in paths) == ["diabetes.csv", "diabetes2.csv"]
    assert (tmp_path / "dl" / "diabetes.csv").read_bytes() == (DATA / "diabetes.csv").read_bytes()

    with file_ds.mount() as context:
        mounted = Path(context.mount_point)
        assert (mounted / "diabetes2.csv").read_bytes() == (DATA / "diabetes2.csv").read_bytes()
    assert not mounted.exists()

    assert len(file_ds.take(1).to_path()) == 1
    with pytest.raises(UserErrorException, match="matches no files"):
        Dataset.File.from_files((uploaded, "nothing-here/*.png"))


def test_a_changed_file_warns_and_a_snapshot_does_not_change(ws, uploaded, data_dir):
    ds = Dataset.Tabular.from_delimited_files((uploaded, "diabetes-data/*.csv"))
    live = ds.register(ws, "live")
    fixed = ds.register(ws, "fixed", snapshot=True)

    extra = data_dir / "more"
    extra.mkdir()
    (extra / "diabetes3.csv").write_text((DATA / "diabetes2.csv").read_text())
    uploaded.upload(str(extra), "diabetes-data", show_progress=False)

    with pytest.warns(UserWarning, match="diabetes3.csv"):
        assert len(live.to_pandas_dataframe()) == sum(ROWS.values()) + ROWS["diabetes2.csv"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(Dataset.get_by_name(ws, "fixed").to_pandas_dataframe()) == sum(ROWS.values())
    assert fixed.definition["sources"][0]["files"]


def test_local_datastore_and_local_paths(ws, data_dir, tmp_path):
    local = Datastore.register_local(ws, "local_data", data_dir)
    assert local.datastore_type == "Local"
    ds = Dataset.Tabular.from_delimited_files([(local, "diabetes2.csv")])
    assert len(ds.to_pandas_dataframe()) == ROWS["diabetes2.csv"]
    with pytest.raises(UserErrorException, match="already registered"):
        Datastore.register_local(ws, "local_data", data_dir)
    with pytest.raises(UserErrorException, match="not a folder"):
        Datastore.register_local(ws, "missing", tmp_path / "nope")

    by_path = Dataset.Tabular.from_delimited_files(str(data_dir / "*.csv"))
    assert len(by_path.to_pandas_dataframe()) == sum(ROWS.values())
    registered = by_path.register(ws, "from a local path")
    assert registered.version == 1

    local.unregister()
    assert "local_data" not in ws.datastores


def test_credentials_stay_in_the_key_vault(ws):
    store = Datastore.register_s3(
        ws,
        "s3_data",
        bucket="anything",
        endpoint_url="http://127.0.0.1:9",
        access_key_id="AKIDSECRET1",
        secret_access_key="VERYSECRET2",
        skip_validation=True,
    )
    record = ws._store.get_datastore(ws._id, "s3_data")
    shown = repr(record) + repr(store) + repr(ws.datastores)
    assert "AKIDSECRET1" not in shown and "VERYSECRET2" not in shown
    vault = ws.get_default_keyvault()
    assert vault.get_secret(record.secrets["secret_access_key"]) == "VERYSECRET2"

    store.unregister()
    names = {s["name"] for s in vault.list_secrets()}
    assert record.secrets["secret_access_key"] not in names


@pytest.mark.postgres
def test_sql_datastore_and_query_dataset(tmp_path, pg_database):
    import sqlalchemy as sa

    from plinth.core import Workspace

    engine = sa.create_engine(pg_database)
    frame = pd.read_csv(DATA / "diabetes2.csv")
    frame.to_sql("patients", engine, index=False)
    engine.dispose()
    url = sa.engine.make_url(pg_database)

    ws = Workspace.create("sql-ws", path=tmp_path / "ws")
    sql_store = Datastore.register_azure_postgre_sql(
        ws, "patients_db", server_name=url.host, database_name=url.database,
        user_id=url.username or "postgres", user_password="any password: trust auth",
        port_number=url.port, enforce_ssl=False)
    assert sql_store.datastore_type == "AzurePostgreSql"
    query = 'SELECT "PatientID", "Age", "Diabetic" FROM patients WHERE "Age" > 60'
    ds = Dataset.Tabular.from_sql_query((sql_store, query))
    ds = ds.register(ws, "older patients from sql")
    result = Dataset.get_by_name(ws, "older patients from sql").to_pandas_dataframe()
    assert len(result) == int((frame["Age"] > 60).sum())
    assert list(result.columns) == ["PatientID", "Age", "Diabetic"]
    with pytest.raises(UserErrorException, match="from_sql_query"):
        Dataset.Tabular.from_delimited_files((sql_store, "*.csv"))


def test_parquet_and_json_lines_datasets_and_conversions(ws, uploaded, tmp_path):
    csv = Dataset.Tabular.from_delimited_files((uploaded, "diabetes-data/diabetes2.csv"))
    as_parquet = csv.to_parquet_files()
    assert isinstance(as_parquet, FileDataset)
    names = as_parquet.to_path()
    assert names and all(n.endswith(".parquet") for n in names)
    as_csv = csv.take(100).to_csv_files()
    assert all(n.endswith(".csv") for n in as_csv.to_path())

    folder = tmp_path / "conv"
    folder.mkdir()
    frame = pd.read_csv(DATA / "diabetes2.csv")
    frame.to_parquet(folder / "part.parquet")
    frame.head(300).to_json(folder / "rows.jsonl", orient="records", lines=True)
    uploaded.upload(str(folder), "converted-by-hand", show_progress=False)
    parquet = Dataset.Tabular.from_parquet_files((uploaded, "converted-by-hand/*.parquet"))
    assert parquet.to_pandas_dataframe()["BMI"].sum() == pytest.approx(frame["BMI"].sum())
    jsonl = Dataset.Tabular.from_json_lines_files((uploaded, "converted-by-hand/rows.jsonl"))
    assert len(jsonl.to_pandas_dataframe()) == 300


def test_a_file_dataset_on_s3_mounts_through_a_local_cache(tmp_path, s3_server):
    from plinth.core import Workspace

    ws = Workspace.create("s3-mount", path=tmp_path / "ws")
    s3 = Datastore.register_s3(ws, "s3_files", bucket="plinth-test",
                               endpoint_url=s3_server["FSSPEC_S3_ENDPOINT_URL"],
                               access_key_id="test", secret_access_key="test",
                               prefix=f"mount-{tmp_path.name}")
    s3.upload_files([str(DATA / "diabetes2.csv")], target_path="csv", show_progress=False)
    files = Dataset.File.from_files((s3, "csv/*.csv"))
    with files.mount() as context:
        copy = Path(context.mount_point) / "diabetes2.csv"
        assert copy.read_bytes() == (DATA / "diabetes2.csv").read_bytes()
        assert not copy.is_symlink()  # S3 is not on this disk: a cached copy
    assert not Path(context.mount_point).exists()
