"""The model registry: versions, lineage, queries, downloads, atomicity."""

import multiprocessing
import os

import pytest

from plinth.core import Experiment, Model, Workspace
from plinth.exceptions import ModelNotFoundException, UserErrorException, ValidationError


@pytest.fixture
def model_file(tmp_path):
    path = tmp_path / "model.pkl"
    path.write_bytes(b"weights-v1")
    return path


def test_register_a_file_and_count_versions(ws, model_file):
    first = Model.register(workspace=ws, model_name="classification_model",
                           model_path=str(model_file), description="A classification model",
                           tags={"dept": "sales"}, model_framework=Model.Framework.SCIKITLEARN,
                           model_framework_version="0.20.3")
    model_file.write_bytes(b"weights-v2")
    second = Model.register(ws, str(model_file), "classification_model")
    assert (first.version, second.version) == (1, 2)
    assert first.id == "classification_model:1"
    assert first.tags == {"dept": "sales"}
    assert first.model_framework == "ScikitLearn"
    assert first.model_framework_version == "0.20.3"
    assert first.description == "A classification model"
    # Files were copied: changing the source later does not change version 1.
    assert Model(ws, "classification_model", version=1).download(
        target_dir=str(model_file.parent / "v1")).endswith("model.pkl")
    assert (model_file.parent / "v1" / "model.pkl").read_bytes() == b"weights-v1"
    assert Model(ws, "classification_model").version == 2  # latest by default
    assert Model(ws, id="classification_model:1").version == 1


def test_register_a_folder(ws, tmp_path):
    folder = tmp_path / "model_dir"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.json").write_text("{}")
    (folder / "sub" / "b.bin").write_bytes(b"b")
    model = Model.register(ws, str(folder), "folder_model")
    path = model.download(target_dir=str(tmp_path / "out"))
    assert sorted(p.relative_to(path).as_posix() for p in __import__("pathlib").Path(path)
                  .rglob("*") if p.is_file()) == ["a.json", "sub/b.bin"]


def test_list_filters(ws, model_file):
    Model.register(ws, str(model_file), "a", tags={"stage": "dev"}, properties={"auc": 0.8})
    Model.register(ws, str(model_file), "a", tags={"stage": "prod"})
    Model.register(ws, str(model_file), "b")
    assert [(m.name, m.version) for m in Model.list(ws)] == [("b", 1), ("a", 2), ("a", 1)]
    assert [m.version for m in Model.list(ws, name="a")] == [2, 1]
    assert [m.version for m in Model.list(ws, tags=[["stage", "dev"]])] == [1]
    assert [m.name for m in Model.list(ws, tags=["stage"])] == ["a", "a"]
    assert [m.version for m in Model.list(ws, properties=[["auc", "0.8"]])] == [1]
    assert [(m.name, m.version) for m in Model.list(ws, latest=True)] == [("b", 1), ("a", 2)]


def test_tags_properties_and_delete(ws, model_file):
    model = Model.register(ws, str(model_file), "m", tags={"a": "1"})
    model.add_tags({"b": "2"})
    model.remove_tags(["a"])
    model.add_properties({"auc": "0.9"})
    fresh = Model(ws, "m", version=1)
    assert fresh.tags == {"b": "2"}
    assert fresh.properties == {"auc": "0.9"}
    with pytest.raises(ValidationError, match="cannot be changed"):
        fresh.add_properties({"auc": "0.1"})
    fresh.delete()
    with pytest.raises(ModelNotFoundException):
        Model(ws, "m", version=1)
    assert not any(n.startswith("models/m/") for n in ws._artifacts.list("models"))


def test_download_refuses_to_overwrite_unless_asked(ws, model_file, tmp_path):
    model = Model.register(ws, str(model_file), "m")
    out = tmp_path / "dl"
    model.download(target_dir=str(out))
    with pytest.raises(UserErrorException, match="exist_ok=True"):
        model.download(target_dir=str(out))
    assert model.download(target_dir=str(out), exist_ok=True) == str(out / "model.pkl")


def test_get_model_path(ws, model_file, monkeypatch, tmp_path):
    Model.register(ws, str(model_file), "m")
    path = Model.get_model_path("m", _workspace=ws)
    assert open(path, "rb").read() == b"weights-v1"
    with pytest.raises(ModelNotFoundException, match="_workspace"):
        Model.get_model_path("m")
    # In a deployed service: <PLINTH_MODEL_DIR>/<name>/<version>/<the registered file>.
    for version in (1, 2):
        deployed = tmp_path / "deployed" / "m" / str(version)
        deployed.mkdir(parents=True)
        (deployed / "model.pkl").write_bytes(b"deployed")
    monkeypatch.setenv("PLINTH_MODEL_DIR", str(tmp_path / "deployed"))
    assert Model.get_model_path("m", version=1) == str(tmp_path / "deployed/m/1/model.pkl")
    assert Model.get_model_path("m") == str(tmp_path / "deployed/m/2/model.pkl")


def test_register_from_a_run_records_lineage(ws, tmp_path):
    exp = Experiment(ws, "lineage")
    run = exp.start_logging()
    weights = tmp_path / "w.pkl"
    weights.write_bytes(b"trained")
    run.upload_file("outputs/model.pkl", str(weights))
    run.complete()

    class Dataset:  # anything with a name and version, as datasets will have
        name, version, id = "diabetes", 2, "ds-1"

    model = run.register_model(model_name="from_run", model_path="outputs/model.pkl",
                               properties={"AUC": 0.85}, datasets=[("training data", Dataset())])
    assert model.run_id == run.id
    assert model.experiment_name == "lineage"
    assert model.run == run
    assert model.properties == {"AUC": "0.85"}
    assert model.datasets == [{"scenario": "training data", "name": "diabetes", "version": 2,
                               "id": "ds-1"}]
    assert open(model.download(str(tmp_path / "out")), "rb").read() == b"trained"
    assert [m.id for m in Model.list(ws, run_id=run.id)] == ["from_run:1"]
    with pytest.raises(UserErrorException, match="outputs/model.pkl"):
        run.register_model(model_name="x", model_path="outputs/nope.pkl")


def test_bad_input_is_refused_and_leaves_nothing(ws, tmp_path, model_file):
    with pytest.raises(UserErrorException, match="model_path"):
        Model.register(ws, str(tmp_path / "missing.pkl"), "m")
    with pytest.raises(UserErrorException, match="model_name"):
        Model.register(ws, str(model_file), "bad name")

    class Unprintable:
        def __str__(self):
            raise RuntimeError("cannot serialise this tag")

    # The failure happens after the files were copied: the copy must be undone.
    with pytest.raises(RuntimeError):
        Model.register(ws, str(model_file), "m", tags={"t": Unprintable()})
    assert Model.list(ws) == []
    assert ws._artifacts.list("models") == []


def _register_in_process(config_dir: str, model_path: str, count: int) -> list[int]:
    ws = Workspace.from_config(path=config_dir)
    return [Model.register(ws, model_path, "contended").version for _ in range(count)]


@pytest.mark.slow
def test_concurrent_registration_from_processes(ws, model_file, tmp_path):
    config = ws.write_config(path=tmp_path / "cfg")
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(4) as pool:
        results = pool.starmap(_register_in_process,
                               [(str(config.parent), str(model_file), 5)] * 4)
    versions = sorted(v for chunk in results for v in chunk)
    assert versions == list(range(1, 21))
    assert sorted(m.version for m in Model.list(ws, name="contended")) == versions
    assert os.path.exists(Model.get_model_path("contended", version=20, _workspace=ws))
