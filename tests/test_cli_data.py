"""``plinth datastore ...`` and ``plinth dataset ...`` on a real workspace, in-process."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from plinth.cli import app

DATA = Path(__file__).resolve().parents[1] / "examples" / "data"
ROWS = {"diabetes.csv": 10_000, "diabetes2.csv": 5_000}


@pytest.fixture
def cli():
    """``cli(*args)`` runs the CLI in-process on a wide terminal; returns the result."""
    runner = CliRunner(env={"COLUMNS": "240"})

    def invoke(*args: str):
        result = runner.invoke(app, [str(a) for a in args])
        assert "Traceback" not in result.output, result.output
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result

    return invoke


@pytest.fixture
def wsargs(ws, tmp_path):
    folder = tmp_path / "cfg"
    ws.write_config(folder)
    return ["--workspace-config", str(folder)]


@pytest.fixture
def data_dir(tmp_path):
    """The diabetes CSVs, and a note in a subfolder."""
    folder = tmp_path / "files"
    (folder / "notes").mkdir(parents=True)
    for name in ROWS:
        shutil.copy(DATA / name, folder / name)
    (folder / "notes" / "readme.txt").write_text("two diabetes files\n")
    return folder


def as_json(result):
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


# -- datastores ----------------------------------------------------------------------------

def test_upload_list_and_download_back(cli, ws, wsargs, data_dir, tmp_path):
    up = as_json(cli("datastore", "upload", data_dir, "--target-path", "diabetes-data",
                     "--no-progress", *wsargs, "--json"))
    assert up == {"datastore": "workspaceblobstore", "target_path": "diabetes-data",
                  "files": 3, "uploaded": 3, "skipped": 0}
    again = cli("datastore", "upload", data_dir, "--target-path", "diabetes-data", *wsargs)
    assert again.exit_code == 0, again.output
    assert "Uploaded 0 files to workspaceblobstore:diabetes-data" in again.stdout
    assert "--overwrite" in again.stderr

    listed = as_json(cli("datastore", "list", *wsargs, "--json"))
    by_name = {d["name"]: d for d in listed}
    assert {"workspaceblobstore", "workspacefilestore"} <= set(by_name)
    assert by_name["workspaceblobstore"]["default"] is True
    assert by_name["workspacefilestore"]["default"] is False
    assert by_name["workspaceblobstore"]["where"].endswith("datastores/workspaceblobstore")
    table = cli("datastore", "list", *wsargs)
    assert table.exit_code == 0
    assert "workspaceblobstore" in table.stdout and "*" in table.stdout

    out = tmp_path / "out"
    got = as_json(cli("datastore", "download", out, "--prefix", "diabetes-data",
                      "--no-progress", *wsargs, "--json"))
    assert got["downloaded"] == 3
    assert tree(out / "diabetes-data") == tree(data_dir)
    one = cli("datastore", "download", tmp_path / "one", "--prefix",
              "diabetes-data/notes", "--datastore", "workspaceblobstore", *wsargs)
    assert one.exit_code == 0, one.output
    assert "Downloaded 1 file from workspaceblobstore:diabetes-data/notes" in one.stdout
    assert (tmp_path / "one" / "diabetes-data" / "notes" / "readme.txt").is_file()


def test_upload_to_a_named_local_datastore(cli, ws, wsargs, data_dir, tmp_path):
    from plinth.core import Datastore

    Datastore.register_local(ws, "disk", tmp_path / "disk", create_if_not_exists=True)
    up = as_json(cli("datastore", "upload", data_dir / "notes", "-t", "docs", "--datastore",
                     "disk", *wsargs, "--json"))
    assert up["uploaded"] == 1
    assert (tmp_path / "disk" / "docs" / "readme.txt").read_text() == "two diabetes files\n"
    shown = as_json(cli("datastore", "show", "disk", *wsargs, "--json"))
    assert shown["type"] == "Local"
    assert shown["where"] == str((tmp_path / "disk").resolve())
    assert shown["credentials"] == []

    unknown = cli("datastore", "upload", data_dir, "-t", "x", "--datastore", "nope", *wsargs)
    assert unknown.exit_code == 1
    assert "nope" in unknown.stderr and "disk" in unknown.stderr  # names the datastores


def test_datastore_show_never_prints_a_secret(cli, ws, wsargs):
    from plinth.core import Datastore

    Datastore.register_s3(ws, "s3_data", bucket="b", endpoint_url="http://127.0.0.1:9",
                          access_key_id="AKID", secret_access_key="SEKRET",
                          skip_validation=True)
    outputs = [cli("datastore", "show", "s3_data", *wsargs),
               cli("datastore", "show", "s3_data", *wsargs, "--json"),
               cli("datastore", "list", *wsargs),
               cli("datastore", "list", *wsargs, "--json")]
    for result in outputs:
        assert result.exit_code == 0, result.output
        assert "SEKRET" not in result.output and "AKID" not in result.output
    table = outputs[0].stdout
    assert "access_key_id" in table and "secret_access_key" in table
    assert "set (in the key vault)" in table
    assert "s3://b" in table and "http://127.0.0.1:9" in table
    shown = json.loads(outputs[1].stdout)
    assert shown["credentials"] == ["access_key_id", "secret_access_key"]
    assert shown["settings"]["bucket"] == "b"
    assert shown["type"] == "S3" and shown["default"] is False


# -- datasets ------------------------------------------------------------------------------

def test_tabular_dataset_register_list_show_profile(cli, ws, wsargs, data_dir):
    ws.get_default_datastore().upload(str(data_dir), "diabetes-data", show_progress=False)
    v1 = as_json(cli("dataset", "register", "diabetes", "--path",
                     "workspaceblobstore:diabetes-data/diabetes.csv", "--description",
                     "one file", "--tag", "format=CSV", *wsargs, "--json"))
    assert (v1["name"], v1["version"], v1["kind"], v1["new"]) == ("diabetes", 1, "tabular",
                                                                  True)
    assert v1["tags"] == {"format": "CSV"}
    same = as_json(cli("dataset", "register", "diabetes", "--path",
                       "workspaceblobstore:diabetes-data/diabetes.csv", *wsargs, "--json"))
    assert (same["version"], same["new"]) == (1, False)

    both = ["--path", "workspaceblobstore:diabetes-data/*.csv"]
    refused = cli("dataset", "register", "diabetes", *both, *wsargs)
    assert refused.exit_code == 1
    assert "--new-version" in refused.stderr
    v2 = cli("dataset", "register", "diabetes", *both, "--new-version", *wsargs)
    assert v2.exit_code == 0, v2.output
    assert "Registered dataset diabetes version 2" in v2.stdout

    latest = as_json(cli("dataset", "list", *wsargs, "--json"))
    assert [(d["name"], d["version"]) for d in latest] == [("diabetes", 2)]
    versions = as_json(cli("dataset", "list", "--name", "diabetes", *wsargs, "--json"))
    assert [d["version"] for d in versions] == [2, 1]
    listing = cli("dataset", "list", *wsargs)
    assert "diabetes" in listing.stdout and "workspaceblobstore:diabetes-data/*.csv" in (
        listing.stdout)

    shown = as_json(cli("dataset", "show", "diabetes", "--version", "1", "--preview", "3",
                        *wsargs, "--json"))
    assert shown["sources"] == ["workspaceblobstore:diabetes-data/diabetes.csv"]
    assert shown["format"]["format"] == "delimited"
    assert shown["description"] == "one file"
    assert shown["runs"] == [] and shown["transformations"] == []
    first = pd.read_csv(DATA / "diabetes.csv", nrows=3)
    assert [row["PatientID"] for row in shown["preview"]] == first["PatientID"].tolist()
    table = cli("dataset", "show", "diabetes", "--preview", "2", *wsargs)
    assert table.exit_code == 0, table.output
    assert "Dataset diabetes:2" in table.stdout and "First 2 rows" in table.stdout
    assert "delimited" in table.stdout

    frame = pd.concat([pd.read_csv(DATA / name) for name in ROWS])
    profile = as_json(cli("dataset", "profile", "diabetes", *wsargs, "--json"))
    assert profile["Age"]["count"] == sum(ROWS.values())
    assert profile["Age"]["min"] == frame["Age"].min()
    assert profile["Age"]["max"] == frame["Age"].max()
    assert profile["BMI"]["mean"] == pytest.approx(frame["BMI"].mean())
    old = as_json(cli("dataset", "profile", "diabetes", "-v", "1", *wsargs, "--json"))
    assert old["Age"]["count"] == ROWS["diabetes.csv"]
    shown_profile = cli("dataset", "profile", "diabetes", *wsargs)
    assert shown_profile.exit_code == 0
    age_line = next(line for line in shown_profile.stdout.splitlines()
                    if line.startswith("Age "))
    assert str(frame["Age"].min()) in age_line and str(frame["Age"].max()) in age_line


def test_file_dataset_and_local_paths(cli, ws, wsargs, data_dir):
    files = as_json(cli("dataset", "register", "docs", "--file", "--path", data_dir / "notes",
                        *wsargs, "--json"))
    assert (files["kind"], files["version"]) == ("file", 1)
    assert files["sources"] == [str(data_dir / "notes")]
    shown = cli("dataset", "show", "docs", *wsargs)
    assert shown.exit_code == 0 and "file" in shown.stdout
    no_profile = cli("dataset", "profile", "docs", *wsargs)
    assert no_profile.exit_code == 1 and "file dataset" in no_profile.stderr
    assert cli("dataset", "show", "docs", "--preview", "2", *wsargs).exit_code == 2

    # Two local globs, read as semicolon-separated files: one tabular dataset.
    semi = data_dir / "semi"
    semi.mkdir()
    (semi / "a.csv").write_text("x;y\n1;2\n")
    (semi / "b.csv").write_text("x;y\n3;4\n")
    tab = as_json(cli("dataset", "register", "semi", "-p", semi / "a.csv", "-p", semi / "b.csv",
                      "--separator", ";", *wsargs, "--json"))
    assert tab["format"]["separator"] == ";"
    assert len(tab["sources"]) == 2
    profile = as_json(cli("dataset", "profile", "semi", *wsargs, "--json"))
    assert (profile["x"]["min"], profile["x"]["max"], profile["y"]["count"]) == (1, 3, 2)


def test_dataset_errors(cli, ws, wsargs, data_dir):
    no_store = cli("dataset", "register", "d", "--path", "nostore:data/*.csv", *wsargs)
    assert no_store.exit_code == 1
    assert "nostore" in no_store.stderr and "workspaceblobstore" in no_store.stderr
    no_files = cli("dataset", "register", "d", "--path", "workspaceblobstore:nothing/*.csv",
                   *wsargs)
    assert no_files.exit_code == 1
    assert "nothing/*.csv" in no_files.stderr
    assert cli("dataset", "register", "d", "--path", "workspaceblobstore:", *wsargs
               ).exit_code == 2
    assert cli("dataset", "register", "d", "--path", data_dir, "--format", "xml", *wsargs
               ).exit_code == 2
    assert cli("dataset", "register", "d", "--path", data_dir, "--file", "--format", "csv",
               *wsargs).exit_code == 2
    assert cli("dataset", "register", "d", "--path", data_dir, "--format", "parquet",
               "--separator", ";", *wsargs).exit_code == 2
    ghost = cli("dataset", "show", "ghost", *wsargs)
    assert ghost.exit_code == 1 and "ghost" in ghost.stderr
    assert cli("dataset", "profile", "ghost", "--version", "3", *wsargs).exit_code == 1
    assert as_json(cli("dataset", "list", *wsargs, "--json")) == []
    assert "No datasets registered yet" in cli("dataset", "list", *wsargs).stdout
