"""Submitting an AutoML experiment: record the parent run, snapshot what its children run,
start its driver."""

from __future__ import annotations

import hashlib
import json
import tempfile
import uuid
from pathlib import Path
from typing import Any

from plinth._execution.submit import launch_worker, prepare_definition

__all__ = ["AUTOML_RUN", "SETTINGS_FILE", "submit_automl"]

AUTOML_RUN = "automl"
SETTINGS_FILE = "automl_settings.json"


def submit_automl(experiment: Any, config: Any, tags: Any = None) -> str:
    """Start ``config`` (an AutoMLConfig) in ``experiment``; returns the parent run's id."""
    from plinth._store import RunStatus

    location = experiment.workspace._location
    run_id = f"AutoML_{uuid.uuid4()}"
    training = _as_dataset(experiment, config.training_data, "training")
    validation = _as_dataset(experiment, config.validation_data, "validation")
    child = _child_definition(location, experiment, config, training, validation)
    seed = int.from_bytes(hashlib.sha256(run_id.encode()).digest()[:4], "big")
    automl = {"settings": config._settings(), "search": config._search(), "child": child,
              "seed": seed}
    properties = {
        "task": config.task,
        "primary_metric": config.primary_metric,
        "label_column_name": config.label_column_name,
        "iterations": str(config.iterations or ""),
        "max_concurrent_iterations": str(config.max_concurrent_iterations),
        "snapshotId": child["snapshotId"],
    }
    location.store().create_run(
        experiment._record.id, run_id, run_type=AUTOML_RUN, status=RunStatus.QUEUED,
        display_name=config.name,
        tags={str(k): str(v) for k, v in (tags or {}).items()}, properties=properties,
        definition={"automl": automl, "target": child.get("target", "local")},
    )
    launch_worker(location, run_id, {"automl": automl})
    return run_id


def _as_dataset(experiment: Any, data: Any, role: str) -> Any:
    """A DataFrame is registered (as azureml's ``register_pandas_dataframe``) so every child
    reads the same rows and the run records which data it used."""
    import pandas as pd

    if not isinstance(data, pd.DataFrame):
        return data
    from plinth.data.dataset_factory import TabularDatasetFactory

    ws = experiment.workspace
    return TabularDatasetFactory.register_pandas_dataframe(
        data, (ws.get_default_datastore(), "automl"), f"{experiment.name}-{role}-data",
        description=f"The {role} data of an AutoML experiment, given as a DataFrame.",
        show_progress=False)


def _child_definition(location: Any, experiment: Any, config: Any, training: Any,
                      validation: Any) -> dict[str, Any]:
    """One snapshot for every child: the settings file, run by ``plinth._automl.trial``."""
    from plinth.core.runconfig import RunConfiguration, ScriptRunConfig

    command: list[Any] = ["python", "-m", "plinth._automl.trial", "--settings", SETTINGS_FILE,
                          "--training-data", training.as_named_input("training_data")]
    if validation is not None:
        command += ["--validation-data", validation.as_named_input("validation_data")]
    run_config = RunConfiguration()
    # Models are single-threaded so concurrent iterations share the machine; their linear
    # algebra libraries get as many threads as max_cores_per_iteration allows.
    threads = str(max(1, config.max_cores_per_iteration or 1))
    run_config.environment_variables = {name: threads for name in (
        "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    if config.environment is not None:
        run_config.environment = config.environment
    if config.iteration_timeout_minutes:
        run_config.max_run_duration_seconds = int(60 * config.iteration_timeout_minutes)
    with tempfile.TemporaryDirectory(prefix="plinth-automl-") as folder:
        (Path(folder) / SETTINGS_FILE).write_text(
            json.dumps(config._settings(), indent=2) + "\n")
        src = ScriptRunConfig(source_directory=folder, command=command,
                              compute_target=config.compute_target, run_config=run_config)
        return prepare_definition(location, experiment._record.workspace_id,
                                  src._run_definition())
