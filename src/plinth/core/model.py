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
    AlreadyExistsError,
    ModelNotFoundException,
    NotFoundError,
    UserErrorException,
    WebserviceException,
)

if TYPE_CHECKING:
    from plinth.core.run import Run
    from plinth.core.workspace import Workspace

__all__ = ["InferenceConfig", "Model"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$")


def _create_service(workspace: "Workspace", name: str, deployment_config: Any,
                    config: dict[str, Any], models: list["Model"],
                    inference_config: "InferenceConfig", overwrite: bool) -> Any:
    from plinth.core.webservice.webservice import _model_id

    return workspace._store.create_service(
        workspace._id, name, kind=deployment_config._kind,
        config={k: v for k, v in config.items()
                if k not in ("tags", "properties", "description")},
        models=[_model_id(m) for m in models],
        inference=inference_config._inference(workspace),
        description=config.get("description"), tags=config.get("tags"),
        properties=config.get("properties"), overwrite=overwrite)


class InferenceConfig:
    """What a deployed service runs: ``entry_script`` (with ``init()`` and ``run(raw_data)``)
    from ``source_directory``, in ``environment`` (or one made from ``conda_file``)."""

    def __init__(self, entry_script: str, runtime: str | None = None,
                 conda_file: str | None = None, extra_docker_file_steps: str | None = None,
                 source_directory: str | None = None, enable_gpu: bool | None = None,
                 description: str | None = None, base_image: str | None = None,
                 base_image_registry: Any = None, cuda_version: str | None = None,
                 environment: Any = None):
        if runtime not in (None, "python"):
            raise UserErrorException(f"runtime={runtime!r}: only 'python' is supported.")
        if enable_gpu:
            raise UserErrorException("enable_gpu is not supported: services run on CPUs.")
        if environment is not None and conda_file is not None:
            raise UserErrorException("Pass environment or conda_file, not both.")
        source = Path(source_directory) if source_directory else Path(entry_script).parent
        script = Path(entry_script) if source_directory else Path(Path(entry_script).name)
        if not (source / script).is_file():
            raise UserErrorException(
                f"entry_script={entry_script!r} is not a file"
                + (f" in source_directory={source_directory!r}" if source_directory else "")
                + "; give the scoring script's path.")
        self.entry_script = script.as_posix()
        self.source_directory = str(source.resolve())
        self.runtime = runtime or "python"
        self.conda_file = _conda_file(conda_file, source)
        self.environment = environment
        self.description = description

    def _environment_record(self) -> Any:
        from plinth.core.runconfig import _describe

        if self.conda_file is not None:
            from plinth.core.environment import Environment

            return _describe(Environment.from_conda_specification(
                "inference-environment", self.conda_file))
        return _describe(self.environment)

    def _inference(self, workspace: "Workspace") -> dict[str, Any]:
        """What the service runs, with its source folder snapshotted now."""
        from plinth._execution.snapshot import take_snapshot

        return {"entry_script": self.entry_script, "source_directory": self.source_directory,
                "snapshotId": take_snapshot(self.source_directory, workspace._artifacts),
                "environment": self._environment_record(), "runtime": self.runtime}

    def __repr__(self) -> str:
        return (f"InferenceConfig(entry_script={self.entry_script!r}, "
                f"source_directory={self.source_directory!r})")


def _conda_file(conda_file: str | None, source: Path) -> str | None:
    """As azureml, a relative ``conda_file`` is in the source directory (else here)."""
    if conda_file is None:
        return None
    for candidate in (source / conda_file, Path(conda_file)):
        if candidate.is_file():
            return str(candidate.resolve())
    raise UserErrorException(
        f"conda_file={conda_file!r} is not a file in {str(source)!r} or here; give the path "
        "of the environment's conda YAML file.")


def _deployed_model_path(name: str, version: int | None) -> str | None:
    """``$PLINTH_MODEL_DIR/<name>/<version>/<files>`` as a service's host lays them out (the
    latest version when none is given); None when the model is not deployed here."""
    root = os.environ.get("PLINTH_MODEL_DIR")
    if not root or not (Path(root) / name).is_dir():
        return None
    versions = sorted(int(p.name) for p in (Path(root) / name).iterdir() if p.name.isdigit())
    if not versions or (version is not None and version not in versions):
        return None
    folder = Path(root) / name / str(version if version is not None else versions[-1])
    entries = list(folder.iterdir())
    return str(entries[0] if len(entries) == 1 else folder)


def _run_workspace() -> "Workspace | None":
    """The workspace of the run this process runs in, if any."""
    from plinth._location import ENV_RUN_ID

    if not os.environ.get(ENV_RUN_ID):
        return None
    from plinth.core.run import Run

    return Run.get_context().experiment.workspace


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
        """Local path of a model's files (the file, when it is one file): inside a deployed
        service, from the models deployed with it; elsewhere from the registry of
        ``_workspace`` (inside a run: the run's workspace)."""
        deployed = _deployed_model_path(model_name, version)
        if deployed is not None:
            return deployed
        if _workspace is None:
            _workspace = _run_workspace()
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

    @staticmethod
    def deploy(workspace: "Workspace", name: str, models: list["Model"],
               inference_config: "InferenceConfig | None" = None,
               deployment_config: Any = None, deployment_target: Any = None,
               overwrite: bool = False, show_output: bool = False) -> Any:
        """Deploy ``models`` as the web service ``name`` running ``inference_config``'s entry
        script; returns the service at once (``service.wait_for_deployment()`` waits).
        ``deployment_config``: ``LocalWebservice``/``AciWebservice``/``AksWebservice
        .deploy_configuration(...)`` (default: ACI's)."""
        from plinth._serving import deploy
        from plinth.core.webservice import AciWebservice, Webservice
        from plinth.core.webservice.webservice import WebserviceDeploymentConfiguration

        if not isinstance(inference_config, InferenceConfig):
            raise UserErrorException(
                "inference_config is required: InferenceConfig(entry_script='score.py', "
                "environment=...). Deploying without an entry script is not supported.")
        if deployment_config is None:
            deployment_config = AciWebservice.deploy_configuration()
        if not isinstance(deployment_config, WebserviceDeploymentConfiguration):
            raise UserErrorException(
                "deployment_config must come from LocalWebservice, AciWebservice or "
                "AksWebservice.deploy_configuration(...).")
        if not models:
            raise UserErrorException("models must list at least one Model to deploy.")
        config = deployment_config._config()
        if deployment_target is not None:
            config["compute_target"] = getattr(deployment_target, "name", str(deployment_target))
        if overwrite:
            try:
                deploy.stop(workspace._store.get_service(workspace._id, name))
            except NotFoundError:
                pass
        try:
            record = _create_service(workspace, name, deployment_config, config, models,
                                     inference_config, overwrite)
        except AlreadyExistsError as exc:
            raise WebserviceException(str(exc)) from None
        record = deploy.start(workspace._location, record)
        service = Webservice._from_record(workspace, record)
        if show_output:
            service.wait_for_deployment(show_output=True)
        return service


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
