"""The MLflow tracking store for ``plinth:`` URIs: MLflow's ``AbstractStore`` over a Plinth
workspace's ``Store`` (no SQL here, and no server). The workspace server answers MLflow's
REST API with the same class (:meth:`PlinthTrackingStore.served`, over its own Store; see
``plinth._server.routes.mlflow``).

MLflow builds it through the ``mlflow.tracking_store`` entry point ``plinth`` ->
:func:`tracking_store`, called with the tracking URI (see ``plinth._mlflow.uri``). The
mapping of MLflow's objects onto Plinth's is documented in ``plinth._mlflow.mapping``.

Who decides a run's status:

* Runs created through MLflow (run type ``mlflow``): MLflow does. ``set_terminated`` /
  ``end_run`` end them; the process that created or resumed one heartbeats it meanwhile
  (``plinth._mlflow.liveness``).
* Runs created by Plinth (submitted script runs, interactive runs, their children): their
  owner does (the worker, or the process that started them). MLflow may log to them, tag
  them and rename them, but the status it sends is ignored. This is what lets a submitted
  script say ``with mlflow.start_run():`` (it resumes the Plinth run from ``MLFLOW_RUN_ID``)
  without the block's end finishing the run before the worker has uploaded its outputs.

Plinth's statuses are final once terminal, so resuming a finished run (``start_run(run_id=)``)
logs into it but leaves it finished. Start and end times are the store's clock: the
``start_time`` and ``end_time`` MLflow passes are not used. Writes to a run of another
workspace, or to a deleted run, are refused as MLflow's stores refuse them.

Searches filter and sort in Python with MLflow's own ``SearchUtils``, so every filter and
``order_by`` that MLflow's file store accepts works here; page tokens are offsets.

Not supported (``NOT_IMPLEMENTED``): renaming experiments, dataset and model inputs, logged
models (``log_model``), traces.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import quote

from mlflow.entities import LifecycleStage, ViewType
from mlflow.entities import RunStatus as MlflowRunStatus
from mlflow.store.entities.paged_list import PagedList
from mlflow.store.tracking import SEARCH_MAX_RESULTS_DEFAULT, SEARCH_MAX_RESULTS_THRESHOLD
from mlflow.store.tracking.abstract_store import AbstractStore
from mlflow.utils.search_utils import SearchExperimentsUtils, SearchUtils

from plinth._artifacts import ArtifactStore
from plinth._mlflow import entities, liveness, mapping
from plinth._mlflow import uri as plinth_uri
from plinth._mlflow.errors import (
    INVALID_PARAMETER_VALUE,
    INVALID_STATE,
    NOT_IMPLEMENTED,
    RESOURCE_ALREADY_EXISTS,
    RESOURCE_DOES_NOT_EXIST,
    MlflowException,
    mlflow_errors,
)
from plinth._mlflow.experiment_tags import read_tags, update_tags
from plinth._store import TERMINAL_STATUSES, ExperimentRecord, RunRecord, RunStatus, Store
from plinth.exceptions import NotFoundError, ValidationError

__all__ = ["PlinthTrackingStore", "tracking_store"]

# Plinth's experiment name rule (plinth.core.experiment), so that every experiment MLflow
# creates can also be used through the Plinth SDK.
_EXPERIMENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$")

# The scheme of the artifact URIs a workspace server gives (MLflow's proxied artifacts).
_SERVED_ARTIFACT_SCHEME = "mlflow-artifacts"


def tracking_store(
    store_uri: str, artifact_uri: str | None = None, **_: Any
) -> PlinthTrackingStore:
    """The ``mlflow.tracking_store`` entry point for the ``plinth`` scheme."""
    return PlinthTrackingStore(store_uri, artifact_uri)


class PlinthTrackingStore(AbstractStore):
    """MLflow experiments, runs, metrics, params and tags stored as Plinth's."""

    def __init__(self, store_uri: str, artifact_uri: str | None = None):
        super().__init__()
        with mlflow_errors():
            parsed = plinth_uri.parse(store_uri)
            if parsed.artifact_name:
                raise ValidationError(
                    f"{store_uri!r} names a file ({parsed.artifact_name!r}); a tracking URI "
                    "names only a workspace."
                )
            location = plinth_uri.resolve(parsed)
            self._setup(location.name, location.store(), location.artifacts())
        self.store_uri = store_uri
        self._where = parsed.path

    @classmethod
    def served(cls, workspace_name: str, store: Store, artifacts: ArtifactStore,
               workspace_id: str | None = None) -> PlinthTrackingStore:
        """The store a workspace server answers MLflow's REST API with, over its own Store:
        a run's ``artifact_uri`` is ``mlflow-artifacts:/runs/<run_id>``, which MLflow's client
        resolves against the server's tracking URI (``<server_url>/ws/<workspace>``)."""
        self = cls.__new__(cls)
        AbstractStore.__init__(self)
        with mlflow_errors():
            self._setup(workspace_name, store, artifacts, workspace_id)
        self.store_uri = None
        self._where = None
        self._artifact_scheme = _SERVED_ARTIFACT_SCHEME
        return self

    def _setup(self, workspace_name: str, store: Store, artifacts: ArtifactStore,
               workspace_id: str | None = None) -> None:
        self._workspace_name = workspace_name
        self._store = store
        self._artifacts = artifacts
        self._workspace_id = workspace_id or store.get_workspace(workspace_name).id
        self._artifact_scheme: str | None = None
        self._own_experiments: set[str] = set()

    # -- helpers --------------------------------------------------------------------------

    def _uri(self, artifact_name: str) -> str:
        if self._artifact_scheme:
            return f"{self._artifact_scheme}:/{quote(artifact_name.strip('/'), safe='/')}"
        return plinth_uri.format_uri(self._workspace_name, self._where, artifact_name)

    def _run_artifact_uri(self, run_id: str) -> str:
        return self._uri(f"runs/{run_id}")

    def _check_experiment(self, record: ExperimentRecord) -> ExperimentRecord:
        if record.workspace_id != self._workspace_id:
            raise NotFoundError(
                f"No experiment with id {record.id!r} in workspace {self._workspace_name!r}."
            )
        self._own_experiments.add(record.id)
        return record

    def _experiment_record(self, experiment_id: Any, *, create_default: bool = True
                           ) -> ExperimentRecord:
        experiment_id = str(experiment_id)
        if experiment_id == mapping.DEFAULT_EXPERIMENT_ID:
            if create_default:
                return self._check_experiment(self._store.create_experiment(
                    self._workspace_id, mapping.DEFAULT_EXPERIMENT_NAME
                ))
            return self._check_experiment(self._store.get_experiment(
                self._workspace_id, mapping.DEFAULT_EXPERIMENT_NAME
            ))
        return self._check_experiment(self._store.get_experiment_by_id(experiment_id))

    def _run_record(self, run_id: str) -> RunRecord:
        record = self._store.get_run(str(run_id))
        if record.experiment_id not in self._own_experiments:
            try:
                self._check_experiment(self._store.get_experiment_by_id(record.experiment_id))
            except NotFoundError:
                raise NotFoundError(
                    f"No run with id {run_id!r} in workspace {self._workspace_name!r}."
                ) from None
        return record

    def _active_run_record(self, run_id: str) -> RunRecord:
        record = self._run_record(run_id)
        if mapping.lifecycle_stage(record) != LifecycleStage.ACTIVE:
            raise MlflowException(
                f"The run {run_id} must be in the 'active' state. Current state is "
                f"{mapping.lifecycle_stage(record)}.",
                INVALID_STATE,
            )
        return record

    def _experiment_entity(self, record: ExperimentRecord):
        return entities.experiment(mapping.experiment_to_dict(
            record,
            artifact_location=self._uri("runs"),
            tags=read_tags(self._artifacts, record.id),
        ))

    def _run_entity(self, record: RunRecord, *, with_metrics: bool = True):
        points = self._store.get_metrics(record.id) if with_metrics else []
        return entities.run(mapping.run_to_dict(
            record, points, artifact_uri=self._run_artifact_uri(record.id)
        ))

    def _run_info(self, record: RunRecord):
        return entities.run_info(mapping.run_info_to_dict(
            record, artifact_uri=self._run_artifact_uri(record.id)
        ))

    # -- experiments ----------------------------------------------------------------------

    def search_experiments(
        self,
        view_type=ViewType.ACTIVE_ONLY,
        max_results=SEARCH_MAX_RESULTS_DEFAULT,
        filter_string=None,
        order_by=None,
        page_token=None,
    ):
        _check_max_results(max_results)
        with mlflow_errors():
            records = self._store.list_experiments(self._workspace_id, include_archived=True)
            found = []
            for record in records:
                stage = LifecycleStage.DELETED if record.archived else LifecycleStage.ACTIVE
                if LifecycleStage.matches_view_type(view_type, stage):
                    self._own_experiments.add(record.id)
                    found.append(self._experiment_entity(record))
        found = SearchExperimentsUtils.filter(found, filter_string)
        found = SearchExperimentsUtils.sort(
            found, order_by or ["creation_time DESC", "experiment_id ASC"]
        )
        page, token = SearchUtils.paginate(found, page_token, max_results)
        return PagedList(page, token)

    def create_experiment(self, name, artifact_location=None, tags=None):
        """Create the experiment; ``artifact_location`` is ignored (a run's files always go
        to the workspace's artifact root, under ``runs/<run_id>``)."""
        if not isinstance(name, str) or not _EXPERIMENT_NAME.match(name):
            raise MlflowException(
                f"Experiment name {name!r} is invalid: use up to 255 letters, digits, '_', "
                "'-' or '.', starting with a letter or digit.",
                INVALID_PARAMETER_VALUE,
            )
        with mlflow_errors():
            try:
                existing = self._store.get_experiment(self._workspace_id, name)
            except NotFoundError:
                existing = None
            if existing is not None:
                state = " in the deleted state" if existing.archived else ""
                raise MlflowException(
                    f"Experiment(name={name}) already exists{state}.", RESOURCE_ALREADY_EXISTS
                )
            record = self._check_experiment(self._store.create_experiment(
                self._workspace_id, name
            ))
            if tags:
                update_tags(self._artifacts, record.id, {t.key: t.value for t in tags})
        return record.id

    def get_experiment(self, experiment_id):
        with mlflow_errors():
            return self._experiment_entity(self._experiment_record(experiment_id))

    def get_experiment_by_name(self, experiment_name):
        with mlflow_errors():
            try:
                record = self._store.get_experiment(self._workspace_id, experiment_name)
            except NotFoundError:
                return None
            return self._experiment_entity(self._check_experiment(record))

    def delete_experiment(self, experiment_id):
        with mlflow_errors():
            record = self._experiment_record(experiment_id)
            self._store.set_experiment_archived(record.id, True)

    def restore_experiment(self, experiment_id):
        with mlflow_errors():
            record = self._experiment_record(experiment_id)
            self._store.set_experiment_archived(record.id, False)

    def rename_experiment(self, experiment_id, new_name):
        raise MlflowException(
            "Renaming an experiment is not supported: Plinth's Store has no way to rename one.",
            NOT_IMPLEMENTED,
        )

    def set_experiment_tag(self, experiment_id, tag):
        with mlflow_errors():
            record = self._experiment_record(experiment_id)
            if record.archived:
                raise MlflowException(
                    f"The experiment {record.id} must be in the 'active' state.", INVALID_STATE
                )
            update_tags(self._artifacts, record.id, {tag.key: tag.value})

    def delete_experiment_tag(self, experiment_id, key):
        with mlflow_errors():
            record = self._experiment_record(experiment_id)
            if key not in read_tags(self._artifacts, record.id):
                raise MlflowException(
                    f"No tag with name: {key} in experiment with id {record.id}",
                    RESOURCE_DOES_NOT_EXIST,
                )
            update_tags(self._artifacts, record.id, remove=[key])

    # -- runs -----------------------------------------------------------------------------

    def create_run(self, experiment_id, user_id, start_time, tags, run_name):
        with mlflow_errors():
            experiment = self._experiment_record(experiment_id)
            if experiment.archived:
                raise MlflowException(
                    f"The experiment {experiment.id} must be in the 'active' state to create "
                    "a run in it; restore it first.",
                    INVALID_STATE,
                )
            changes = mapping.tags_from_mlflow([(t.key, t.value) for t in tags or []])
            if run_name and changes.display_name and run_name != changes.display_name:
                raise MlflowException(
                    "Both 'run_name' argument and 'mlflow.runName' tag are specified, but with "
                    f"different values (run_name='{run_name}', "
                    f"mlflow.runName='{changes.display_name}').",
                    INVALID_PARAMETER_VALUE,
                )
            if changes.parent_id:
                self._run_record(changes.parent_id)  # the parent must be in this workspace
            plain = dict(changes.tags)
            if user_id and mapping.USER_TAG not in plain:
                plain[mapping.USER_TAG] = str(user_id)
            run_id = uuid.uuid4().hex
            record = self._store.create_run(
                experiment.id,
                run_id,
                run_type=mapping.RUN_TYPE,
                status=RunStatus.RUNNING,
                parent_id=changes.parent_id or None,
                display_name=run_name or changes.display_name or _random_name(),
                description=changes.description,
                tags=plain,
            )
            liveness.keep_alive(self._store, run_id)
            return self._run_entity(record, with_metrics=False)

    def get_run(self, run_id):
        with mlflow_errors():
            return self._run_entity(self._run_record(run_id))

    def update_run_info(self, run_id, run_status, end_time, run_name):
        """Rename the run, and set its status when MLflow created it (see the module
        docstring: a Plinth run's owner decides its status). ``end_time`` is the store's."""
        with mlflow_errors():
            record = self._run_record(run_id)
            if run_name:
                record = self._store.update_run(record.id, display_name=str(run_name))
            if run_status is not None and mapping.mlflow_sets_status(record):
                if isinstance(run_status, int):
                    run_status = MlflowRunStatus.to_string(run_status)
                status = mapping.status_from_mlflow(run_status)
                record = self._store.set_status(record.id, status)
                if record.status in TERMINAL_STATUSES:
                    liveness.release(record.id)
                elif record.is_active:
                    liveness.keep_alive(self._store, record.id)
            return self._run_info(record)

    def delete_run(self, run_id):
        with mlflow_errors():
            record = self._run_record(run_id)
            self._store.set_tags(record.id, {mapping.DELETED_TAG: LifecycleStage.DELETED})

    def restore_run(self, run_id):
        with mlflow_errors():
            record = self._run_record(run_id)
            self._store.remove_tags(record.id, [mapping.DELETED_TAG])

    def log_batch(self, run_id, metrics, params, tags):
        with mlflow_errors():
            record = self._active_run_record(run_id)
            properties = mapping.params_from_mlflow([(p.key, p.value) for p in params or []])
            conflicts = mapping.params_conflicts(record.properties, properties)
            if conflicts:
                key, old, new = conflicts[0]
                raise MlflowException(
                    f"Changing param values is not allowed. Param with key='{key}' was already "
                    f"logged with value='{old}' for run ID='{record.id}'. Attempted logging new "
                    f"value '{new}'.",
                    INVALID_PARAMETER_VALUE,
                )
            changes = mapping.tags_from_mlflow([(t.key, t.value) for t in tags or []])
            new_properties = {k: v for k, v in properties.items() if k not in record.properties}
            if new_properties:
                self._store.add_properties(record.id, new_properties)
            plain = dict(changes.tags)
            if changes.parent_id is not None and record.parent_id is None:
                plain[mapping.PARENT_TAG] = changes.parent_id  # a run's parent is fixed
            if plain:
                self._store.set_tags(record.id, plain)
            if changes.display_name is not None or changes.description is not None:
                self._store.update_run(
                    record.id, display_name=changes.display_name, description=changes.description
                )
            if metrics:
                self._store.log_metrics(record.id, [
                    mapping.metric_from_dict({
                        "key": m.key, "value": m.value, "timestamp": m.timestamp, "step": m.step,
                    })
                    for m in metrics
                ])

    def delete_tag(self, run_id, key):
        with mlflow_errors():
            record = self._active_run_record(run_id)
            if key == mapping.RUN_NAME_TAG and record.display_name:
                self._store.update_run(record.id, display_name="")
            elif key == mapping.NOTE_TAG and record.description:
                self._store.update_run(record.id, description="")
            elif key in record.tags and key != mapping.DELETED_TAG:
                self._store.remove_tags(record.id, [key])
            else:
                raise MlflowException(
                    f"No tag with name: {key} in run with id {record.id}",
                    RESOURCE_DOES_NOT_EXIST,
                )

    def get_metric_history(self, run_id, metric_key, max_results=None, page_token=None):
        with mlflow_errors():
            record = self._run_record(run_id)
            points = self._store.get_metrics(record.id, metric_key)
        history = [entities.metric(m) for m in mapping.metric_history(points, metric_key)]
        if max_results is None:
            return PagedList(history, None)
        page, token = SearchUtils.paginate(history, page_token, max_results)
        return PagedList(page, token)

    def _search_runs(
        self, experiment_ids, filter_string, run_view_type, max_results, order_by, page_token
    ):
        _check_max_results(max_results)
        with mlflow_errors():
            runs = []
            for record in self._runs_of(experiment_ids):
                if LifecycleStage.matches_view_type(
                    run_view_type, mapping.lifecycle_stage(record)
                ):
                    runs.append(self._run_entity(record))
        runs = SearchUtils.filter(runs, filter_string)
        runs = SearchUtils.sort(runs, order_by)
        return SearchUtils.paginate(runs, page_token, max_results)

    def _runs_of(self, experiment_ids: Iterable[Any]) -> list[RunRecord]:
        records: list[RunRecord] = []
        seen: set[str] = set()
        for experiment_id in experiment_ids or []:
            try:
                experiment = self._experiment_record(experiment_id, create_default=False)
            except NotFoundError:
                continue  # MLflow's stores find no runs in an unknown experiment
            if experiment.id not in seen:
                seen.add(experiment.id)
                records.extend(self._store.list_runs(experiment_id=experiment.id))
        return records

    # -- not stored by Plinth -------------------------------------------------------------

    def log_inputs(self, run_id: str, datasets: Sequence[Any] | None = None,
                   models: Sequence[Any] | None = None):
        if datasets or models:
            raise MlflowException(
                "Logging dataset or model inputs is not supported by the plinth: tracking "
                "store yet.",
                NOT_IMPLEMENTED,
            )

    def search_logged_models(self, experiment_ids, filter_string=None, datasets=None,
                             max_results=None, order_by=None, page_token=None):
        """No MLflow logged models are stored, so none are found (MLflow's artifact listing
        of a run asks for them)."""
        return PagedList([], None)

    def get_logged_model(self, model_id, allow_deleted=False):
        raise MlflowException(f"No logged model with id {model_id!r}.", RESOURCE_DOES_NOT_EXIST)

    def link_traces_to_run(self, trace_ids, run_id):
        raise MlflowException(
            "Traces are not supported by the plinth: tracking store.", NOT_IMPLEMENTED
        )


def _check_max_results(max_results: Any) -> None:
    if not isinstance(max_results, int) or not 1 <= max_results <= SEARCH_MAX_RESULTS_THRESHOLD:
        raise MlflowException(
            f"Invalid value {max_results!r} for parameter 'max_results': it must be an integer "
            f"from 1 to {SEARCH_MAX_RESULTS_THRESHOLD}.",
            INVALID_PARAMETER_VALUE,
        )


def _random_name() -> str:
    from mlflow.utils.name_utils import _generate_random_name

    return _generate_random_name()
