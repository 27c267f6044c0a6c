"""The plinth: URI: what get_mlflow_tracking_uri gives and how it resolves."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from mlflow.exceptions import MlflowException
from mlflow_fixtures import (  # noqa: F401 - fixtures
    backend_fixture,
    client_fixture,
    fresh_mlflow_fixture,
    tracking_fixture,
)

import mlflow
from plinth._location import WorkspaceLocation
from plinth._mlflow import uri as plinth_uri
from plinth._mlflow.store import tracking_store
from plinth.core import Run
from plinth.exceptions import NotFoundError, ValidationError


def test_tracking_uri_forms(ws, backend):
    uri = ws.get_mlflow_tracking_uri()
    if backend == "sqlite":
        folder = ws._location.folder
        assert uri == f"plinth://{ws.name}?path={quote(str(folder), safe='/')}"
    else:
        assert uri == f"plinth://{ws.name}"  # no password in the URI: found via the registry
    assert plinth_uri.resolve(plinth_uri.parse(uri)) == ws._location


def test_every_uri_form_reaches_the_same_workspace(ws, backend, tmp_path, monkeypatch):
    config = ws.write_config(tmp_path / "cfg")
    # plinth://<name>, plinth://<name>?path=<config>, plinth:///<config> (absolute paths)
    forms = [f"plinth://{ws.name}", f"plinth://{ws.name}?path={config}", f"plinth://{config}"]
    if backend == "sqlite":
        forms.append(f"plinth://{ws._location.folder}")  # plinth:///<workspace folder>
    for uri in forms:
        store = tracking_store(uri)
        exp_id = store.create_experiment(f"e{len(store.search_experiments())}")
        assert store.get_experiment(exp_id).name.startswith("e")
        assert ws._store.get_experiment_by_id(exp_id).workspace_id == ws._id


def test_submitted_runs_resolve_the_name_from_their_environment(ws, monkeypatch, tmp_path):
    # No registry entry, but PLINTH_WORKSPACE names the workspace (as in a submitted run).
    monkeypatch.setenv("PLINTH_HOME", str(tmp_path / "empty-home"))
    monkeypatch.setenv("PLINTH_WORKSPACE", ws._location.to_json())
    store = tracking_store(f"plinth://{ws.name}")
    assert store.get_experiment_by_name("nope") is None


def test_bad_uris(ws, tmp_path):
    for bad in ["plinth://", "plinth://x?colour=red", "plinth://x?path=relative/dir",
                "file:///tmp"]:
        with pytest.raises(ValidationError):
            plinth_uri.parse(bad)
    with pytest.raises(NotFoundError):
        plinth_uri.resolve(plinth_uri.parse("plinth://no-such-workspace"))
    with pytest.raises(NotFoundError):
        plinth_uri.resolve(plinth_uri.parse(f"plinth://x?path={tmp_path}"))
    with pytest.raises(MlflowException) as err:
        tracking_store("plinth://no-such-workspace")
    assert err.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(MlflowException):
        tracking_store(f"plinth://{ws.name}/runs/abc")


def test_wrong_name_for_path_is_refused(ws, backend, tmp_path):
    if backend != "sqlite":
        pytest.skip("an embedded folder is only an embedded workspace's")
    folder = ws._location.folder
    with pytest.raises(MlflowException) as err:
        tracking_store(f"plinth://other-name?path={folder}")
    assert err.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_format_and_parse_round_trip(tmp_path):
    folder = tmp_path / "with space"
    uri = plinth_uri.format_uri("dev", str(folder), "runs/abc/file name.txt")
    assert " " not in uri
    assert plinth_uri.parse(uri) == plinth_uri.PlinthUri("dev", str(folder),
                                                         "runs/abc/file name.txt")
    assert plinth_uri.parse("plinth://dev") == plinth_uri.PlinthUri("dev", None, "")


def test_remote_location_has_no_plinth_uri():
    with pytest.raises(NotImplementedError):
        plinth_uri.tracking_uri(WorkspaceLocation("w", server_url="http://127.0.0.1:1"))


def test_mlflow_env_var_selects_the_workspace(ws, monkeypatch):
    """MLFLOW_TRACKING_URI alone (as a submitted run gets it) is enough for the fluent API."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", ws.get_mlflow_tracking_uri())
    with mlflow.start_run() as active:
        mlflow.log_metric("via_env", 1.0)
    assert Run.get(ws, active.info.run_id).get_metrics() == {"via_env": 1.0}


def test_config_written_for_the_workspace_is_read(ws, tmp_path):
    config = ws.write_config(tmp_path / "proj")
    data = json.loads(config.read_text())
    assert data["workspace_name"] == ws.name
    store = tracking_store(f"plinth://{ws.name}?path={config.parent}")
    assert store.get_experiment("0").name == "Default"
