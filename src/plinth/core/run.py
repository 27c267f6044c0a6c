"""``Run``: one execution inside an experiment, with its metrics, tags, files and status."""

from __future__ import annotations

import io
import json
import os
import sys
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from plinth._artifacts import check_artifact_name
from plinth._execution.submit import new_run_id
from plinth._location import ENV_RUN_ID, WorkspaceLocation, heartbeat_interval
from plinth._store import TERMINAL_STATUSES, RunRecord, RunStatus
from plinth._tracking import MetricBuffer, assemble_metrics
from plinth.exceptions import (
    ActivityFailedException,
    NotFoundError,
    RunError,
    UserErrorException,
)

if TYPE_CHECKING:
    from plinth.core.experiment import Experiment
    from plinth.core.model import Model
    from plinth.core.workspace import Workspace

__all__ = ["Run"]

INTERACTIVE = "interactive"


class Run:
    """A run. ``Run(experiment, run_id)`` reattaches to an existing one."""

    _context: "Run | None" = None

    def __init__(self, experiment: "Experiment", run_id: str, outputs: Any = None, **kwargs: Any):
        record = experiment.workspace._store.get_run(run_id)
        if record.experiment_id != experiment.id:
            raise NotFoundError(
                f"Run {run_id!r} belongs to experiment {record.experiment_name!r}, "
                f"not {experiment.name!r}."
            )
        self._attach(experiment, record)

    def _attach(self, experiment: "Experiment", record: RunRecord) -> None:
        self._experiment = experiment
        self._record = record
        self._buffer: MetricBuffer | None = None
        self._owned = False

    @classmethod
    def _from_record(cls, experiment: "Experiment", record: RunRecord) -> "Run":
        if cls is Run:
            cls = _run_class(record.run_type)
        run = cls.__new__(cls)
        run._attach(experiment, record)
        return run

    @staticmethod
    def get(workspace: "Workspace", run_id: str) -> "Run":
        """The run with ``run_id`` in ``workspace``, whatever its experiment."""
        from plinth.core.experiment import Experiment

        record = workspace._store.get_run(run_id)
        exp = workspace._store.get_experiment_by_id(record.experiment_id)
        if exp.workspace_id != workspace._id:
            raise NotFoundError(f"No run with id {run_id!r} in workspace {workspace.name!r}.")
        return Run._from_record(Experiment._from_record(workspace, exp), record)

    @classmethod
    def get_context(cls, allow_offline: bool = True, used_for_context_manager: bool = False,
                    **kwargs: Any) -> "Run":
        """Inside a submitted run: that run. Elsewhere: an offline run that prints what it
        logs (or an error when ``allow_offline`` is False)."""
        if cls._context is not None:
            return cls._context
        run_id = os.environ.get(ENV_RUN_ID)
        location = WorkspaceLocation.from_env()
        if run_id and location is not None:
            from plinth.core.workspace import Workspace

            run = Run.get(Workspace(_location=location), run_id)
            run._buffer = MetricBuffer(location.store(), run_id)
            cls._context = run
            return run
        if not allow_offline:
            raise RunError(
                "Run.get_context(allow_offline=False) was called outside a submitted run; "
                "submit the script with experiment.submit(ScriptRunConfig(...))."
            )
        from plinth.core._offline import OfflineRun

        cls._context = OfflineRun()
        return cls._context

    @classmethod
    def _start_interactive(cls, experiment: "Experiment", *, display_name: str | None = None,
                           outputs: str | None = None, snapshot_directory: str | None = None,
                           parent_id: str | None = None, name: str | None = None,
                           run_id: str | None = None) -> "Run":
        store = experiment.workspace._store
        record = store.create_run(
            experiment.id,
            run_id or new_run_id(experiment.name),
            run_type=INTERACTIVE,
            status=RunStatus.RUNNING,
            parent_id=parent_id,
            display_name=display_name or name,
        )
        run = cls._from_record(experiment, record)
        run._buffer = MetricBuffer(store, record.id, heartbeat_every=heartbeat_interval(),
                                   on_cancel=run._canceled_elsewhere)
        run._owned = True
        _owned_runs.append(run)
        if snapshot_directory is not None:
            from plinth._execution.snapshot import take_snapshot

            snapshot = take_snapshot(snapshot_directory, experiment.workspace._artifacts)
            store.add_properties(record.id, {"snapshotId": snapshot})
        return run

    # -- identity ------------------------------------------------------------------------

    @property
    def id(self) -> str:
        return self._record.id

    @property
    def number(self) -> int:
        return self._record.number

    @property
    def experiment(self) -> "Experiment":
        return self._experiment

    @property
    def type(self) -> str:
        return self._record.run_type

    @property
    def display_name(self) -> str:
        return self._record.display_name or self.id

    @display_name.setter
    def display_name(self, value: str) -> None:
        self._record = self._store.update_run(self.id, display_name=str(value))

    @property
    def name(self) -> str | None:
        return self._record.display_name

    @property
    def description(self) -> str | None:
        return self._record.description

    @property
    def status(self) -> str:
        return self.get_status()

    @property
    def properties(self) -> dict[str, str]:
        return self.get_properties()

    @property
    def tags(self) -> dict[str, str]:
        return self.get_tags()

    @property
    def parent(self) -> "Run | None":
        if self._record.parent_id is None:
            return None
        return Run(self._experiment, self._record.parent_id)

    @property
    def _store(self):
        return self._experiment.workspace._store

    @property
    def _artifacts(self):
        return self._experiment.workspace._artifacts

    def _refresh(self) -> RunRecord:
        self._record = self._store.get_run(self.id)
        return self._record

    def _name(self, name: str, argument: str = "name") -> str:
        return f"runs/{self.id}/{check_artifact_name(name, argument)}"

    # -- metrics -------------------------------------------------------------------------

    def _log(self, name: str, value: Any, kind: str, step: int | None, description: str) -> None:
        if not isinstance(name, str) or not name:
            raise UserErrorException(f"Metric name must be a non-empty string, got {name!r}.")
        if self._buffer is None or self._buffer.closed:
            self._buffer = MetricBuffer(self._store, self.id)
        self._buffer.add(name, value, kind, step, description or "")

    def log(self, name: str, value: Any, description: str = "", step: int | None = None) -> None:
        """Log a value; logging the same name again makes a series."""
        if isinstance(value, (list, tuple, dict)):
            raise UserErrorException(
                f"log({name!r}, ...) takes a single value; use log_list for lists and "
                "log_row/log_table for rows and tables."
            )
        self._log(name, _plain(value), "scalar", step, description)

    def log_list(self, name: str, value: Iterable[Any], description: str = "") -> None:
        self._log(name, [_plain(v) for v in value], "list", None, description)

    def log_row(self, name: str, description: str | None = None, **kwargs: Any) -> None:
        if not kwargs:
            raise UserErrorException(f"log_row({name!r}) needs columns, e.g. log_row(name, x=1).")
        self._log(name, {k: _plain(v) for k, v in kwargs.items()}, "row", None, description or "")

    def log_table(
        self, name: str, value: Mapping[str, Iterable[Any]], description: str = ""
    ) -> None:
        if not isinstance(value, Mapping):
            raise UserErrorException(
                f"log_table({name!r}, value) needs a dict of column name -> list of values."
            )
        table = {k: [_plain(v) for v in col] for k, col in value.items()}
        self._log(name, table, "table", None, description)

    def _log_json(self, name: str, value: Any, schema: str, description: str) -> None:
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                raise UserErrorException(
                    f"{schema} {name!r}: value must be a dict or JSON."
                ) from None
        if not isinstance(value, Mapping):
            raise UserErrorException(f"{schema} {name!r}: value must be a dict or JSON string.")
        self._log(name, dict(value), "json", None, description)

    def log_confusion_matrix(self, name: str, value: Any, description: str = "") -> None:
        self._log_json(name, value, "confusion_matrix", description)

    def log_accuracy_table(self, name: str, value: Any, description: str = "") -> None:
        self._log_json(name, value, "accuracy_table", description)

    def log_residuals(self, name: str, value: Any, description: str = "") -> None:
        self._log_json(name, value, "residuals", description)

    def log_predictions(self, name: str, value: Any, description: str = "") -> None:
        self._log_json(name, value, "predictions", description)

    def log_image(self, name: str, path: str | os.PathLike | None = None, plot: Any = None,
                  description: str = "") -> None:
        """Log an image file, or a matplotlib figure (``plot=``) saved as PNG."""
        if (path is None) == (plot is None):
            raise UserErrorException(f"log_image({name!r}) needs exactly one of path= or plot=.")
        if plot is not None:
            figure = getattr(plot, "gcf", lambda: plot)()
            if not hasattr(figure, "savefig"):
                raise UserErrorException(
                    "log_image(plot=...) takes a matplotlib figure or pyplot; "
                    f"got {type(plot).__name__}."
                )
            data = io.BytesIO()
            figure.savefig(data, format="png")
            artifact = f"images/{name}.png"
            self._upload_bytes(artifact, data.getvalue())
        else:
            if not Path(path).is_file():
                raise UserErrorException(f"log_image({name!r}, path={str(path)!r}): no such file.")
            artifact = f"images/{name}{Path(path).suffix or '.png'}"
            self.upload_file(artifact, str(path))
        self._log(name, {"image": artifact}, "image", None, description)

    def get_metrics(self, name: str | None = None, recursive: bool = False,
                    run_type: str | None = None, populate: bool = False) -> dict[str, Any]:
        """Metrics by name; ``recursive`` returns ``{run_id: metrics}`` for this run and its
        descendants."""
        self.flush()
        if recursive:
            out = {self.id: self._metrics(name)}
            for child in self.get_children(recursive=True):
                if run_type is None or child.type == run_type:
                    out[child.id] = child._metrics(name)
            return out
        return self._metrics(name)

    def _metrics(self, name: str | None) -> dict[str, Any]:
        metrics = assemble_metrics(self._store.get_metrics(self.id, name))
        return {k: (v["image"] if isinstance(v, dict) and set(v) == {"image"} else v)
                for k, v in metrics.items()}

    def flush(self, timeout_seconds: int = 300) -> None:
        """Write every logged metric now."""
        if self._buffer is not None:
            self._buffer.flush()

    # -- tags and properties -------------------------------------------------------------

    def tag(self, key: str, value: Any = None) -> None:
        self.set_tags({key: "" if value is None else value})

    def set_tags(self, tags: Mapping[str, Any] | Iterable[str]) -> None:
        if not isinstance(tags, Mapping):
            tags = {k: "" for k in tags}
        self._record = self._store.set_tags(self.id, {str(k): str(v) for k, v in tags.items()})

    def remove_tags(self, tags: Iterable[str] | str) -> None:
        self._record = self._store.remove_tags(self.id, [tags] if isinstance(tags, str) else tags)

    def get_tags(self) -> dict[str, str]:
        return dict(self._refresh().tags)

    def add_properties(self, properties: Mapping[str, Any]) -> None:
        self._record = self._store.add_properties(
            self.id, {str(k): str(v) for k, v in properties.items()}
        )

    def get_properties(self) -> dict[str, str]:
        return dict(self._refresh().properties)

    # -- secrets -------------------------------------------------------------------------

    # -- data ----------------------------------------------------------------------------

    @property
    def input_datasets(self) -> dict[str, Any]:
        """The run's dataset inputs by name: the dataset itself for a direct input, the local
        folder it was downloaded or mounted to inside the run (the dataset elsewhere)."""
        from plinth._execution.inputs import read_input_datasets
        from plinth.core.dataset import Dataset

        ws = self.experiment.workspace
        inside = read_input_datasets() if os.environ.get(ENV_RUN_ID) == self.id else {}
        found: dict[str, Any] = {}
        for name, entry in inside.items():
            found[name] = entry["path"] or Dataset.get_by_id(ws, entry["id"])
        for row in self._store.list_run_datasets(run_id=self.id):
            if row.direction == "input" and row.name not in found:
                found[row.name] = Dataset.get_by_id(ws, row.dataset_id)
        return found

    def _dataset_details(self, direction: str) -> list[dict[str, Any]]:
        ws = self.experiment.workspace
        details = []
        for row in self._store.list_run_datasets(run_id=self.id):
            if row.direction != direction:
                continue
            record = ws._store.get_dataset_by_id(ws._id, row.dataset_id)
            details.append({
                "dataset": {"id": record.id, "name": record.name, "version": record.version},
                "consumptionDetails": {"type": f"Run{direction.title()}",
                                       "inputName": row.name, "mechanism": row.mode},
            })
        return details

    def get_secret(self, name: str) -> str:
        """The value of secret ``name`` in the workspace's key vault."""
        return self._experiment.workspace.get_default_keyvault().get_secret(name)

    def get_secrets(self, secrets: Iterable[str]) -> dict[str, str | None]:
        """Name -> value for each of ``secrets`` (None for a name without a secret)."""
        return self._experiment.workspace.get_default_keyvault().get_secrets(secrets)

    # -- files ---------------------------------------------------------------------------

    def upload_file(
        self, name: str, path_or_stream: Any, datastore_name: str | None = None
    ) -> None:
        """Upload a file (a path, or a binary stream) as ``name`` in the run's files."""
        target = self._name(name)
        if isinstance(path_or_stream, (str, os.PathLike)):
            if not Path(path_or_stream).is_file():
                raise UserErrorException(
                    f"upload_file({name!r}, {str(path_or_stream)!r}): no such file."
                )
            self._artifacts.put_file(target, path_or_stream)
        elif hasattr(path_or_stream, "read"):
            self._artifacts.put_stream(target, path_or_stream)
        else:
            raise UserErrorException(
                "path_or_stream must be a file path or a binary stream, got "
                f"{type(path_or_stream).__name__}."
            )

    def _upload_bytes(self, name: str, data: bytes) -> None:
        self._artifacts.put_bytes(self._name(name), data)

    def upload_files(self, names: list[str], paths: list[str], **kwargs: Any) -> None:
        if len(names) != len(paths):
            raise UserErrorException("upload_files: names and paths must have the same length.")
        for name, path in zip(names, paths, strict=True):
            self.upload_file(name, path)

    def upload_folder(self, name: str, path: str | os.PathLike, **kwargs: Any) -> None:
        """Upload every file under ``path`` as ``name/<relative path>``."""
        if not Path(path).is_dir():
            raise UserErrorException(f"upload_folder({name!r}, {str(path)!r}): no such folder.")
        self._artifacts.put_tree(self._name(name), path)

    def get_file_names(self) -> list[str]:
        prefix = f"runs/{self.id}"
        return [n[len(prefix) + 1 :] for n in self._artifacts.list(prefix)]

    def download_file(self, name: str, output_file_path: str | os.PathLike | None = None,
                      **kwargs: Any) -> None:
        """Download ``name``; ``output_file_path`` may be a file or an existing folder."""
        source = self._name(name)
        if not self._artifacts.exists(source):
            raise NotFoundError(
                f"Run {self.id} has no file {name!r}; run.get_file_names() lists what it has."
            )
        target = Path(output_file_path) if output_file_path else Path(Path(name).name)
        if target.is_dir():
            target = target / Path(name).name
        self._artifacts.get_file(source, target)

    def download_files(self, prefix: str | None = None, output_directory: str | None = None,
                       output_paths: list[str] | None = None, batch_size: int = 100,
                       append_prefix: bool = True, **kwargs: Any) -> list[str]:
        """Download every file whose name starts with ``prefix`` into ``output_directory``."""
        base = Path(output_directory or ".")
        names = [n for n in self.get_file_names() if not prefix or n.startswith(prefix)]
        written = []
        for name in names:
            rel = name if append_prefix or not prefix else name[len(prefix):].lstrip("/")
            self._artifacts.get_file(self._name(name), base / rel)
            written.append(str(base / rel))
        return written

    def get_all_logs(self, destination: str | None = None) -> list[str]:
        """Download the run's log files; returns their local paths."""
        return self.download_files(prefix="logs/", output_directory=destination or ".")

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def _managed(self) -> bool:
        """Whether a Plinth worker owns this run's status (a submitted script run)."""
        return os.environ.get(ENV_RUN_ID) == self.id and not self._owned

    def _end(self, status: str, error: Mapping[str, Any] | None = None) -> None:
        self.flush()
        if self._managed and status == RunStatus.COMPLETED:
            return  # the worker decides success once the script exits and outputs are up
        self._record = self._store.set_status(self.id, status, error=error)
        if self._buffer is not None:
            self._buffer.close()
        if self in _owned_runs:
            _owned_runs.remove(self)

    def _canceled_elsewhere(self) -> None:
        """Another process asked to cancel this interactive run: end it Canceled."""
        self._end(RunStatus.CANCELED)

    def start(self) -> None:
        self._record = self._store.set_status(self.id, RunStatus.RUNNING)

    def complete(self, _set_status: bool = True) -> None:
        """Mark the run Completed (inside a submitted run: flush; the worker finishes it)."""
        self._end(RunStatus.COMPLETED)

    def fail(self, error_details: Any = None, error_code: str | None = None,
             _set_status: bool = True) -> None:
        error = {"message": str(error_details) if error_details is not None else "Failed"}
        if error_code:
            error["code"] = error_code
        self._end(RunStatus.FAILED, error)

    def cancel(self) -> None:
        """Cancel the run; a running script's process group is stopped by its worker."""
        if self._owned:
            self._end(RunStatus.CANCELED)
            return
        self._record = self._store.request_cancel(self.id)

    def get_status(self) -> str:
        return self._refresh().status

    def wait_for_completion(self, show_output: bool = False, wait_post_processing: bool = False,
                            raise_on_error: bool = True) -> dict[str, Any]:
        """Block until the run ends; ``show_output`` streams its live log."""
        from plinth._execution.watch import watch

        out = sys.stdout if show_output else None
        self._record = watch(self._store, self._artifacts, self.id, out)
        if raise_on_error and self._record.status in (RunStatus.FAILED, RunStatus.CANCELED):
            error = self._record.error or {}
            raise ActivityFailedException(
                f"Run {self.id} ended {self._record.status}: "
                f"{error.get('message', 'no error details')}",
                error_details=error,
            )
        return self.get_details()

    def get_details(self) -> dict[str, Any]:
        r = self._refresh()
        definition = r.definition or {}
        details: dict[str, Any] = {
            "runId": r.id,
            "runNumber": r.number,
            "displayName": self.display_name,
            "experimentName": r.experiment_name,
            "type": r.run_type,
            "status": r.status,
            "target": definition.get("target", "local"),
            "createdUtc": _iso(r.created_at),
            "startTimeUtc": _iso(r.start_time),
            "endTimeUtc": _iso(r.end_time),
            "parentRunId": r.parent_id,
            "tags": dict(r.tags),
            "properties": dict(r.properties),
            "runDefinition": definition,
            "inputDatasets": self._dataset_details("input"),
            "outputDatasets": self._dataset_details("output"),
            "logFiles": {n: self._artifacts.uri + f"/runs/{r.id}/{n}"
                         for n in self.get_file_names() if n.startswith("logs/")},
        }
        if r.error:
            details["error"] = {"error": dict(r.error)}
        return details

    def get_details_with_logs(self) -> dict[str, Any]:
        details = self.get_details()
        details["logFiles"] = {
            n: self._artifacts.read_bytes(self._name(n)).decode("utf-8", "replace")
            for n in details["logFiles"]
        }
        return details

    # -- children ------------------------------------------------------------------------

    def child_run(self, name: str | None = None, run_id: str | None = None,
                  outputs: str | None = None) -> "Run":
        """Start a child run in this process."""
        return Run._start_interactive(self._experiment, name=name, parent_id=self.id,
                                      run_id=run_id)

    def create_children(self, count: int | None = None, tag_key: str | None = None,
                        tag_values: list[str] | None = None) -> list["Run"]:
        n = count if count is not None else len(tag_values or [])
        children = [self.child_run() for _ in range(n)]
        if tag_key and tag_values:
            for child, value in zip(children, tag_values, strict=False):
                child.tag(tag_key, value)
        return children

    def get_children(self, recursive: bool = False, tags: Any = None, properties: Any = None,
                     type: str | None = None, status: str | None = None,
                     _rehydrate_runs: bool = True) -> Iterator["Run"]:
        """The child runs (a generator, as azureml's: ``next(run.get_children())``)."""
        out = []
        for record in self._store.list_runs(parent_id=self.id):
            child = Run._from_record(self._experiment, record)
            if ((type is None or record.run_type == type)
                    and (status is None or record.status == status)
                    and _matches(record.tags, tags) and _matches(record.properties, properties)):
                out.append(child)
            if recursive:
                out.extend(child.get_children(True, tags, properties, type, status))
        return iter(out)

    # -- models --------------------------------------------------------------------------

    def register_model(self, model_name: str, model_path: str | None = None,
                       tags: Mapping[str, str] | None = None,
                       properties: Mapping[str, str] | None = None,
                       model_framework: str | None = None,
                       model_framework_version: str | None = None,
                       description: str | None = None, datasets: Any = None,
                       sample_input_dataset: Any = None, sample_output_dataset: Any = None,
                       resource_configuration: Any = None, **kwargs: Any) -> "Model":
        """Register a file or folder of this run's files (default ``outputs``) as a model."""
        from plinth.core.model import Model

        return Model._register_from_run(
            self, model_name, model_path or "outputs", tags=tags, properties=properties,
            model_framework=model_framework, model_framework_version=model_framework_version,
            description=description, datasets=datasets,
        )

    def get_portal_url(self) -> str:
        from plinth.core.experiment import _portal_url

        return _portal_url(self._experiment.workspace, f"runs/{self.id}")

    # -- context manager and dunder ------------------------------------------------------

    def __enter__(self) -> "Run":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if self._record.status in TERMINAL_STATUSES:
            return
        if exc is not None:
            self.fail(error_details=f"{exc_type.__name__}: {exc}")
        else:
            self.complete()

    def __repr__(self) -> str:
        return (f"Run(Experiment: {self._experiment.name},\nId: {self.id},\n"
                f"Type: {self.type},\nStatus: {self._record.status})")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Run) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)


#: Runs of these types are read back as their own classes (imported when first needed).
_RUN_CLASSES = {
    "azureml.PipelineRun": ("plinth.pipeline.core.run", "PipelineRun"),
    "azureml.StepRun": ("plinth.pipeline.core.run", "StepRun"),
    "hyperdrive": ("plinth.train.hyperdrive.run", "HyperDriveRun"),
    "automl": ("plinth.train.automl.run", "AutoMLRun"),
}


def _run_class(run_type: str) -> type[Run]:
    where = _RUN_CLASSES.get(run_type)
    if where is None:
        return Run
    import importlib

    return getattr(importlib.import_module(where[0]), where[1])


def _plain(value: Any) -> Any:
    if hasattr(value, "item") and callable(value.item) and not isinstance(value, (list, dict)):
        try:
            return value.item()
        except (ValueError, TypeError):
            return value
    return value


def _iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, tz=UTC).isoformat()


def _matches(values: Mapping[str, str], wanted: Any) -> bool:
    """azureml's tag/property filters: a key (must exist) or ``{key: value}``."""
    if wanted is None:
        return True
    if isinstance(wanted, str):
        return wanted in values
    if isinstance(wanted, Mapping):
        return all(k in values and (v is None or values[k] == str(v)) for k, v in wanted.items())
    return all(_matches(values, w) for w in wanted)


# Interactive runs started by this process: ended on interpreter exit so none stays Running.
_owned_runs: list[Run] = []


def _end_owned_runs() -> None:
    failed = getattr(sys, "last_value", None) is not None or _uncaught[0] is not None
    for run in list(_owned_runs):
        try:
            if failed:
                run.fail(error_details=f"The process exited with an error: {_uncaught[0]!r}")
            else:
                run.complete()
        except Exception:  # noqa: BLE001 - exiting anyway; the heartbeat will expire it
            pass


_uncaught: list[BaseException | None] = [None]
_previous_hook = sys.excepthook


def _excepthook(exc_type, exc, tb):
    _uncaught[0] = exc
    _previous_hook(exc_type, exc, tb)


sys.excepthook = _excepthook

import atexit  # noqa: E402

atexit.register(_end_owned_runs)
