import json

import pytest

from plinth.core import Experiment, Model, Workspace
from plinth.exceptions import (
    AlreadyExistsError,
    NotFoundError,
    UserErrorException,
    WorkspaceException,
)


def test_create_makes_an_embedded_workspace_folder(tmp_path):
    ws = Workspace.create("local-ws", path=tmp_path / "w", subscription_id="sub-1",
                          resource_group="rg", location="westeurope")
    assert ws.name == "local-ws"
    assert (tmp_path / "w" / "plinth.db").is_file()
    assert (tmp_path / "w" / "artifacts").is_dir()
    details = ws.get_details()
    # Cloud-only arguments are accepted and recorded.
    assert details["subscription_id"] == "sub-1"
    assert details["resource_group"] == "rg"
    assert ws.location == "westeurope"
    assert details["workspaceFolder"] == str((tmp_path / "w").resolve())


def test_create_without_path_uses_plinth_home(_isolated_home):
    ws = Workspace.create("homed")
    assert (_isolated_home / "workspaces" / "homed" / "plinth.db").is_file()
    assert Workspace.get("homed") == ws


def test_exist_ok(tmp_path):
    Workspace.create("twice", path=tmp_path / "w")
    again = Workspace.create("twice", path=tmp_path / "w", exist_ok=True)
    assert again.name == "twice"
    with pytest.raises(AlreadyExistsError, match="exist_ok=True"):
        Workspace.create("twice", path=tmp_path / "w", exist_ok=False)


@pytest.mark.parametrize("bad", ["", "a", "has space", "x" * 40, "-lead", None])
def test_bad_names_are_refused_with_the_rule(tmp_path, bad):
    with pytest.raises(UserErrorException, match="name="):
        Workspace.create(bad, path=tmp_path / "w")


def test_write_config_and_from_config_in_a_parent_folder(ws, tmp_path):
    written = ws.write_config(path=tmp_path)
    assert written == tmp_path / "config.json"
    assert json.loads(written.read_text())["workspace_name"] == ws.name
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    found = Workspace.from_config(path=nested)
    assert found == ws
    assert found.name == ws.name


def test_default_config_location_is_dot_plinth(ws, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    written = ws.write_config()
    assert written == tmp_path / ".plinth" / "config.json"
    assert Workspace.from_config() == ws


def test_from_config_without_config_names_the_command(tmp_path):
    with pytest.raises(WorkspaceException, match="plinth workspace create"):
        Workspace.from_config(path=tmp_path)


def test_from_config_with_a_foreign_config_says_so(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"subscription_id": "x"}))
    with pytest.raises(WorkspaceException, match="not a Plinth workspace config"):
        Workspace.from_config(path=tmp_path)


def test_get_unknown_workspace(tmp_path):
    with pytest.raises(NotFoundError, match="Workspace.create"):
        Workspace.get("never-made")


def test_experiments_and_models_properties(ws, tmp_path):
    Experiment(ws, "one")
    Experiment(ws, "two")
    assert sorted(ws.experiments) == ["one", "two"]
    model_file = tmp_path / "m.pkl"
    model_file.write_bytes(b"model")
    Model.register(ws, model_file, "clf")
    Model.register(ws, model_file, "clf")
    assert ws.models["clf"].version == 2


def test_delete_removes_metadata_and_files(tmp_path):
    ws = Workspace.create("doomed", path=tmp_path / "w")
    Experiment(ws, "e").start_logging().complete()
    ws.delete()
    assert not (tmp_path / "w").exists()
    with pytest.raises(NotFoundError):
        Workspace.get("doomed")


def test_details_name_where_the_workspace_lives(ws, backend):
    details = ws.get_details()
    if backend == "remote":
        assert details["serverUrl"].startswith("http://127.0.0.1:")
        assert details["metadataUri"] is None
    else:
        scheme = {"sqlite": "sqlite", "postgresql": "postgresql+psycopg"}[backend]
        assert details["metadataUri"].split(":")[0] == scheme
    assert Workspace.list()[ws.name][0] == ws


def test_from_config_with_a_missing_path_is_an_error(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(WorkspaceException, match="does not exist"):
        Workspace.from_config(path=tmp_path / "typo.json")


def test_a_config_naming_a_missing_database_creates_nothing(tmp_path):
    ws = Workspace.create("moved", path=tmp_path / "w")
    ws.write_config(path=tmp_path)
    ws.delete()
    with pytest.raises(WorkspaceException, match="plinth workspace create moved"):
        Workspace.from_config(path=tmp_path)
    assert not (tmp_path / "w").exists()


def test_path_and_metadata_uri_together_are_refused(tmp_path):
    with pytest.raises(UserErrorException, match="not several"):
        Workspace.create("both", path=tmp_path / "w", metadata_uri="sqlite:///x.db")


def test_workspaces_sharing_a_database_do_not_see_each_others_runs(metadata_uri, tmp_path):
    from plinth.core import Run

    a = Workspace.create("ws-a-" + tmp_path.name[-6:], metadata_uri=metadata_uri,
                         artifact_root=str(tmp_path / "a"))
    b = Workspace.create("ws-b-" + tmp_path.name[-6:], metadata_uri=metadata_uri,
                         artifact_root=str(tmp_path / "b"))
    run = Experiment(a, "shared-name").start_logging()
    run.complete()
    assert Run.get(a, run.id) == run
    with pytest.raises(NotFoundError, match=b.name):
        Run.get(b, run.id)
    assert list(Experiment(b, "shared-name").get_runs()) == []
