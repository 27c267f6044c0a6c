"""A run's files through MLflow's artifact API and through Plinth's run API."""

from __future__ import annotations

import json

import pytest
from mlflow.exceptions import MlflowException
from mlflow_fixtures import (  # noqa: F401 - fixtures
    backend_fixture,
    client_fixture,
    fresh_mlflow_fixture,
    tracking_fixture,
)

import mlflow
from plinth._mlflow.artifacts import artifact_repository
from plinth.core import Experiment, Run


def test_log_and_list_and_download(tracking, client, tmp_path):
    ws = tracking
    src = tmp_path / "model"
    (src / "sub").mkdir(parents=True)
    (src / "weights.bin").write_bytes(b"\x00\x01\x02")
    (src / "sub" / "config.json").write_text('{"layers": 2}')
    with mlflow.start_run() as active:
        mlflow.log_artifacts(str(src), artifact_path="model")
        mlflow.log_dict({"a": 1}, "meta/info.json")
        artifact_uri = mlflow.get_artifact_uri()
    run_id = active.info.run_id
    assert artifact_uri == client.get_run(run_id).info.artifact_uri
    assert artifact_uri.startswith(f"plinth://{ws.name}/runs/{run_id}")

    top = client.list_artifacts(run_id)
    assert [(f.path, f.is_dir) for f in top] == [("meta", True), ("model", True)]
    model = client.list_artifacts(run_id, "model")
    assert [(f.path, f.is_dir, f.file_size) for f in model] == [
        ("model/sub", True, None), ("model/weights.bin", False, 3)
    ]
    assert client.list_artifacts(run_id, "model/weights.bin") == []

    out = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="model",
                                              dst_path=str(tmp_path / "down"))
    assert (tmp_path / "down" / "model" / "sub" / "config.json").read_text() == '{"layers": 2}'
    assert out.endswith("model")
    info = mlflow.artifacts.load_dict(f"runs:/{run_id}/meta/info.json")
    assert info == {"a": 1}

    run = Run.get(ws, run_id)
    assert run.get_file_names() == ["meta/info.json", "model/sub/config.json",
                                    "model/weights.bin"]


def test_plinth_files_are_mlflow_artifacts(tracking, client, tmp_path):
    ws = tracking
    run = Experiment(ws, "files").start_logging()
    data = tmp_path / "report.json"
    data.write_text(json.dumps({"ok": True}))
    run.upload_file("outputs/report.json", str(data))
    assert [f.path for f in client.list_artifacts(run.id, "outputs")] == ["outputs/report.json"]
    local = client.download_artifacts(run.id, "outputs/report.json", str(tmp_path / "d"))
    assert json.loads(open(local).read()) == {"ok": True}
    run.complete()


def test_artifact_uri_must_name_run_files(tracking):
    ws = tracking
    with pytest.raises(MlflowException):
        artifact_repository(f"plinth://{ws.name}/snapshots")
    base = ws.get_mlflow_tracking_uri()
    with pytest.raises(MlflowException):
        artifact_repository(base)
    repo = artifact_repository(base.replace(f"plinth://{ws.name}",
                                            f"plinth://{ws.name}/runs/nothing-here"))
    assert repo.list_artifacts() == []


def test_delete_artifacts(tracking, client, tmp_path):
    ws = tracking
    f = tmp_path / "x.txt"
    f.write_text("x")
    with mlflow.start_run() as active:
        mlflow.log_artifact(str(f), "junk")
        mlflow.log_artifact(str(f), "keep")
    repo = artifact_repository(client.get_run(active.info.run_id).info.artifact_uri)
    repo.delete_artifacts("junk")
    assert Run.get(ws, active.info.run_id).get_file_names() == ["keep/x.txt"]
