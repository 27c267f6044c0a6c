"""``Model``: versioned model files in the workspace registry."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING, Any

from plinth._artifacts import check_artifact_name
from plinth._store import ModelRecord
from plinth.exceptions import (
    ModelNotFoundException,
    NotFoundError,
    UserErrorException,
    WebserviceException,
)

if TYPE_CHECKING:
    from plinth.core.run import Run
    from plinth.core.workspace import Workspace

__all__ = ["Model"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$")


class _Framework:
    CUSTOM = "Custom"
    MULTI = "Multi"
    ONNX = "Onnx"
    PYTORCH = "PyTorch"
    SCIKITLEARN = "ScikitLearn"
    TENSORFLOW = "TensorFlow"
    LIGHTGBM = "LightGBM"
    XGBOOST = "XGBoost"


class Model:
    """A registered model version. ``Model(ws, name, version=None)`` gets one (the latest
    when no version is given)."""

    Framework = _Framework

    def __init__(self, workspace: "Workspace", name: str | None = None, id: str | None = None,
                 tags: Any = None, properties: Any = None, version: int | None = None,
                 run_id: str | None = None, model_framework: str | None = None,
                 expand: bool = True, **kwargs: Any):
        if id is not None:
            name, _, v = id.partition(":")
            version = int(v) if v else version
        if not name:
            raise UserErrorException("Model(ws, name) needs a name or id='name:version'.")
        try:
            record = workspace._store.get_model(workspace._id, name, version)
        except NotFoundError as exc:
            raise ModelNotFoundException(str(exc)) from None
        self._init(workspace, record)

    def _init(self, workspace: "Workspace", record: ModelRecord) -> None:
        self.workspace = workspace
        self._record = record

    @classmethod
    def _from_record(cls, workspace: "Workspace", record: ModelRecord) -> "Model":
        model = cls.__new__(cls)
        model._init(workspace, record)
        return model

    # -- registration --------------------------------------------------------------------

    @staticmethod
    def register(workspace: "Workspace", model_path: str | os.PathLike, model_name: str,
                 tags: Mapping[str, Any] | None = None,
                 properties: Mapping[str, Any] | None = None, description: str | None = None,
                 datasets: Any = None, model_framework: str | None = None,
                 model_framework_version: str | None = None, child_paths: Any = None,
                 sample_input_dataset: Any = None, sample_output_dataset: Any = None,
                 resource_configuration: Any = None, **kwargs: Any) -> "Model":
        """Copy a local file or folder into the registry as the next version of
        ``model_name``."""
        _check_name(model_name)
        source = Path(model_path)
        if not source.exists():
            raise UserErrorException(
                f"model_path={str(model_path)!r} does not exist; pass a local file or folder "
                "(for a run's output use run.register_model(model_path='outputs/...'))."
            )
        arts = workspace._artifacts
        prefix = _new_prefix(model_name)
        target = f"{prefix}/{source.name}"

        def copy() -> None:
            if source.is_dir():
                arts.put_tree(target, source)
            else:
                arts.put_file(target, source)

        return Model._create(workspace, model_name, prefix, target, copy, tags=tags,
                             properties=properties, description=description, datasets=datasets,
                             framework=model_framework, framework_version=model_framework_version)

    @staticmethod
    def _register_from_run(run: "Run", model_name: str, model_path: str, **kwargs: Any) -> "Model":
        _check_name(model_name)
        workspace = run.experiment.workspace
        name = check_artifact_name(model_path, "model_path")
        source = f"runs/{run.id}/{name}"
        arts = workspace._artifacts
        if not arts.exists(source):
            files = run.get_file_names()
            raise UserErrorException(
                f"Run {run.id} has no file or folder {model_path!r}; it has: "
                f"{', '.join(files[:20]) or 'no files'}."
            )
        prefix = _new_prefix(model_name)
        target = f"{prefix}/{name.rsplit('/', 1)[-1]}"
        return Model._create(
            workspace, model_name, prefix, target, lambda: arts.copy(source, target),
            run_id=run.id, experiment_name=run.experiment.name,
            tags=kwargs["tags"], properties=kwargs["properties"],
            description=kwargs["description"], datasets=kwargs["datasets"],
            framework=kwargs["model_framework"],
            framework_version=kwargs["model_framework_version"],
        )

    @staticmethod
    def _create(workspace: "Workspace", name: str, prefix: str, target: str, copy,
                *, tags: Any, properties: Any, description: str | None, datasets: Any,
                framework: str | None, framework_version: str | None,
                run_id: str | None = None, experiment_name: str | None = None) -> "Model":
        """Copy files first, then insert the version row; undo the copy if the insert fails,
        so there is never a version without its files."""
        arts = workspace._artifacts
        try:
            copy()
            record = workspace._store.create_model_version(
                workspace._id,
                name,
                path=target,
                description=description,
                tags=_strings(tags, "tags"),
                properties=_strings(properties, "properties"),
                framework=framework,
                framework_version=str(framework_version) if framework_version else None,
                run_id=run_id,
                experiment_name=experiment_name,
                datasets=_dataset_refs(datasets, workspace),
            )
        except BaseException:
            arts.delete(prefix)
            raise
        return Model._from_record(workspace, record)

    # -- queries -------------------------------------------------------------------------

    @staticmethod
    def list(workspace: "Workspace", name: str | None = None, tags: Any = None,
             properties: Any = None, run_id: str | None = None, latest: bool = False,
             **kwargs: Any) -> list["Model"]:
        """Model versions, newest first. ``tags``/``properties``: keys, or [key, value] pairs."""
        records = workspace._store.list_models(workspace._id, name)
        if latest:
            seen: set[str] = set()
            records = [r for r in records if not (r.name in seen or seen.add(r.name))]
        out = []
        for r in records:
            if run_id is not None and r.run_id != run_id:
                continue
            if _filter(r.tags, tags) and _filter(r.properties, properties):
                out.append(Model._from_record(workspace, r))
        return out

    @staticmethod
    def get_model_path(model_name: str, version: int | None = None,
                       _workspace: "Workspace | None" = None) -> str:
        """Local path of a model's files: inside a deployment, under ``AZUREML_MODEL_DIR``;
        otherwise from the workspace (the stored files for a folder root, else downloaded)."""
        model_dir = os.environ.get("AZUREML_MODEL_DIR") or os.environ.get("PLINTH_MODEL_DIR")
        if model_dir:
            candidate = Path(model_dir) / model_name
            if version is not None:
                candidate = candidate / str(version)
            if candidate.exists():
                return str(candidate)
        if _workspace is None:
            raise ModelNotFoundException(
                f"Model {model_name!r} is not deployed here; pass _workspace=ws to read it "
                "from the registry."
            )
        model = Model(_workspace, model_name, version=version)
        local = _workspace._artifacts.local_path(model._record.path)
        if local is not None:
            return str(local)
        from plinth._location import plinth_home

        cache = plinth_home() / "model-cache" / model.name / str(model.version)
        return model.download(target_dir=cache, exist_ok=True)

    # -- attributes ----------------------------------------------------------------------

    name = property(lambda self: self._record.name)
    version = property(lambda self: self._record.version)
    id = property(lambda self: self._record.id)
    description = property(lambda self: self._record.description)
    tags = property(lambda self: dict(self._record.tags))
    properties = property(lambda self: dict(self._record.properties))
    model_framework = property(lambda self: self._record.framework)
    model_framework_version = property(lambda self: self._record.framework_version)
    run_id = property(lambda self: self._record.run_id)
    experiment_name = property(lambda self: self._record.experiment_name)
    datasets = property(lambda self: list(self._record.datasets))

    @property
    def created_time(self):
        from datetime import datetime

        return datetime.fromtimestamp(self._record.created_at, tz=UTC)

    @property
    def url(self) -> str:
        return f"{self.workspace._artifacts.uri}/{self._record.path}"

    @property
    def run(self) -> "Run | None":
        if self._record.run_id is None:
            return None
        from plinth.core.run import Run

        return Run.get(self.workspace, self._record.run_id)

    # -- changes -------------------------------------------------------------------------

    def add_tags(self, tags: Mapping[str, Any]) -> None:
        self._update(add_tags=_strings(tags, "tags"))

    def remove_tags(self, tags: Iterable[str] | str) -> None:
        self._update(remove_tags=[tags] if isinstance(tags, str) else list(tags))

    def add_properties(self, properties: Mapping[str, Any]) -> None:
        self._update(add_properties=_strings(properties, "properties"))

    def update(self, description: str | None = None, tags: Any = None, **kwargs: Any) -> None:
        if tags:
            self.add_tags(tags)
        if description is not None:
            raise UserErrorException("A model's description is fixed once registered.")

    def _update(self, **changes: Any) -> None:
        self._record = self.workspace._store.update_model(
            self.workspace._id, self.name, self.version, **changes
        )

    def download(self, target_dir: str | os.PathLike = ".", exist_ok: bool = False,
                 exists_ok: bool | None = None) -> str:
        """Download the model's files into ``target_dir``; returns the file or folder path."""
        exist_ok = exist_ok if exists_ok is None else exists_ok
        arts = self.workspace._artifacts
        stored = self._record.path
        target = Path(target_dir) / stored.rsplit("/", 1)[-1]
        if target.exists() and not exist_ok:
            raise UserErrorException(
                f"{target} already exists; pass exist_ok=True to overwrite it or choose "
                "another target_dir."
            )
        names = arts.list(stored)
        if not names:
            raise ModelNotFoundException(f"The files of model {self.id} are missing from storage.")
        for name in names:
            rel = name[len(stored):].lstrip("/")
            arts.get_file(name, target / rel if rel else target)
        return str(target)

    def delete(self) -> None:
        """Delete this version and its files."""
        self.workspace._store.delete_model(self.workspace._id, self.name, self.version)
        self.workspace._artifacts.delete(self._record.path.rsplit("/", 1)[0])

    def deploy(self, *args: Any, **kwargs: Any) -> Any:
        raise WebserviceException("Deployment needs the serving component, not installed yet.")

    def serialize(self) -> dict[str, Any]:
        r = self._record
        return {
            "id": r.id, "name": r.name, "version": r.version, "description": r.description,
            "tags": dict(r.tags), "properties": dict(r.properties),
            "framework": r.framework, "frameworkVersion": r.framework_version,
            "runId": r.run_id, "experimentName": r.experiment_name,
            "createdTime": self.created_time.isoformat(), "url": self.url,
            "datasets": list(r.datasets),
        }

    def __repr__(self) -> str:
        return (f"Model(workspace={self.workspace.name}, name={self.name}, id={self.id}, "
                f"version={self.version}, tags={self.tags}, properties={self.properties})")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Model) and other.id == self.id


def _check_name(name: Any) -> None:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise UserErrorException(
            f"model_name={name!r} is invalid: use up to 255 letters, digits, '_', '-' or '.', "
            "starting with a letter or digit."
        )


def _new_prefix(name: str) -> str:
    return f"models/{name}/{uuid.uuid4().hex}"


def _strings(values: Mapping[str, Any] | None, argument: str) -> dict[str, str]:
    if values is None:
        return {}
    if not isinstance(values, Mapping):
        raise UserErrorException(f"{argument} must be a dict of str -> str.")
    return {str(k): str(v) for k, v in values.items()}


def _dataset_refs(datasets: Any, workspace: "Workspace") -> list[dict[str, Any]]:
    """azureml takes ``[(scenario, dataset), ...]``; record each dataset's identity (saving
    a dataset that never was, so the model's lineage names an exact version)."""
    refs = []
    for item in datasets or []:
        scenario, dataset = item if isinstance(item, tuple) else ("training", item)
        if hasattr(dataset, "_ensure_saved"):
            dataset._ensure_saved(workspace)
        refs.append({
            "scenario": str(scenario),
            "name": getattr(dataset, "name", None) or str(dataset),
            "version": getattr(dataset, "version", None),
            "id": getattr(dataset, "id", None),
        })
    return refs


def _filter(values: Mapping[str, str], wanted: Any) -> bool:
    if not wanted:
        return True
    for item in wanted if not isinstance(wanted, (str, Mapping)) else [wanted]:
        if isinstance(item, str):
            if item not in values:
                return False
        elif isinstance(item, Mapping):
            if any(values.get(k) != str(v) for k, v in item.items()):
                return False
        else:
            key, value = item
            if values.get(key) != str(value):
                return False
    return True
