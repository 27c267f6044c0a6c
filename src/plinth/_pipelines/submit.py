"""Submitting a pipeline: record the parent run with its graph, start its driver."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from plinth._execution.submit import launch_worker, new_run_id
from plinth._location import WorkspaceLocation
from plinth._pipelines.driver import PIPELINE_RUN
from plinth._pipelines.parameters import resolve_parameters
from plinth._store import PublishedPipelineRecord, RunStatus
from plinth.exceptions import UserErrorException

__all__ = ["submit_graph", "submit_published"]


def submit_graph(location: WorkspaceLocation, experiment_name: str, graph: Mapping[str, Any], *,
                 parameters: Mapping[str, Any] | None = None, regenerate_outputs: bool = False,
                 continue_on_step_failure: bool = False,
                 properties: Mapping[str, str] | None = None,
                 tags: Mapping[str, str] | None = None) -> str:
    """Start a pipeline run of ``graph`` (see ``plinth._pipelines.graph``) in experiment
    ``experiment_name`` (made if new); returns the run's id."""
    from plinth.core.experiment import _check_name

    _check_name(experiment_name)
    values = resolve_parameters(graph.get("parameters") or {}, parameters)
    store = location.store()
    workspace = store.get_workspace(location.name)
    experiment = store.create_experiment(workspace.id, experiment_name)
    run_id = new_run_id(experiment_name)
    definition = {"pipeline": dict(graph), "parameters": values,
                  "regenerate_outputs": bool(regenerate_outputs),
                  "continue_on_step_failure": bool(continue_on_step_failure),
                  "target": "local"}
    store.create_run(
        experiment.id, run_id, run_type=PIPELINE_RUN, status=RunStatus.QUEUED,
        description=graph.get("description"),
        tags={str(k): str(v) for k, v in (tags or {}).items()},
        properties={"azureml.runsource": "azureml.PipelineRun",
                    "azureml.pipelineStepCount": str(len(graph["steps"])),
                    **{str(k): str(v) for k, v in (properties or {}).items()}},
        definition=definition,
    )
    launch_worker(location, run_id, definition)
    return run_id


def submit_published(location: WorkspaceLocation, record: PublishedPipelineRecord,
                     experiment_name: str, parameters: Mapping[str, Any] | None = None, *,
                     properties: Mapping[str, str] | None = None,
                     continue_on_step_failure: bool | None = None) -> str:
    """Start a run of a published pipeline; a disabled one is refused."""
    if record.status != "Active":
        raise UserErrorException(
            f"Published pipeline {record.name!r} ({record.id}) is {record.status}; enable it "
            "(published_pipeline.enable()) to run it."
        )
    keep_going = (record.continue_on_step_failure if continue_on_step_failure is None
                  else continue_on_step_failure)
    return submit_graph(location, experiment_name, record.graph, parameters=parameters,
                        continue_on_step_failure=keep_going,
                        properties={"azureml.pipelineid": record.id, **(properties or {})})
