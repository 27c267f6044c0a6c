"""``Pipeline``: steps, and the data between them, run as one pipeline run."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from plinth._pipelines.graph import check_steps, materialise
from plinth.exceptions import UserErrorException
from plinth.pipeline.core.builder import PipelineStep

if TYPE_CHECKING:
    from plinth.core.workspace import Workspace
    from plinth.pipeline.core.published import PublishedPipeline
    from plinth.pipeline.core.run import PipelineRun

__all__ = ["Pipeline"]


class Pipeline:
    """``Pipeline(workspace, steps)``. The steps' order comes from the data between them (a
    step that reads another's output runs after it) and ``step.run_after(other)``; steps that
    write data a listed step reads are included even when not listed. A cycle, data no step
    writes, or two steps writing one output is an error here.

    Submit it with ``Experiment(ws, name).submit(pipeline)``; publish it with ``publish()``.
    """

    def __init__(self, workspace: "Workspace", steps: Sequence[Any], description: str | None = None,
                 default_datastore: Any = None, default_source_directory: str | None = None,
                 resolve_closure: bool = True, _workflow_provider: Any = None,
                 _service_endpoint: Any = None, **kwargs: Any):
        from plinth.core.workspace import Workspace

        if not isinstance(workspace, Workspace):
            raise UserErrorException(
                f"workspace must be a Workspace, got {type(workspace).__name__}."
            )
        if isinstance(steps, PipelineStep):
            steps = [steps]
        if not isinstance(steps, (list, tuple)) or not steps:
            raise UserErrorException("steps must be a non-empty list of pipeline steps.")
        for step in steps:
            if not isinstance(step, PipelineStep):
                raise UserErrorException(
                    f"steps must hold pipeline steps (PythonScriptStep, ...), got {step!r}."
                )
        if default_datastore is not None:
            raise UserErrorException(
                "default_datastore is not supported; give PipelineData(datastore=...) or set "
                "the workspace's default with ws.set_default_datastore(name)."
            )
        self.workspace = workspace
        self.description = description
        self.default_source_directory = (
            os.fspath(default_source_directory) if default_source_directory else None)
        self._steps = _closure(list(steps)) if resolve_closure else list(steps)
        self._specs = [s._spec(self.default_source_directory) for s in self._steps]
        self._parameters = _parameters(self._steps)
        check_steps(self._specs)

    @property
    def steps(self) -> list[PipelineStep]:
        return list(self._steps)

    @property
    def graph(self) -> dict[str, Any]:
        """The steps and the data between them, as plain data."""
        return {"steps": self._specs, "parameters": dict(self._parameters)}

    def validate(self) -> list[str]:
        """Check the pipeline against the workspace: the graph, every step's script, compute
        target, datastores and datasets. Raises on the first problem; returns [] when sound."""
        check_steps(self._specs)
        store, ws_id = self.workspace._store, self.workspace._id
        for spec in self._specs:
            definition = spec["definition"]
            script, source = definition.get("script"), definition.get("source_directory")
            if script and not os.path.isfile(os.path.join(source, script)):
                raise UserErrorException(
                    f"Step {spec['name']!r}: script {script!r} is not in source_directory "
                    f"{source!r}."
                )
            from plinth._execution.submit import _compute

            _compute(store, ws_id, definition.get("target"))
            for output in spec["outputs"]:
                if output["datastore"] is not None:
                    store.get_datastore(ws_id, output["datastore"])
        return []

    def _graph(self) -> dict[str, Any]:
        """The graph made self-contained (sources snapshotted), ready to run or publish."""
        return materialise(self.workspace._location, self.workspace._id, self._specs,
                           self._parameters, self.description)

    def _submit_to_experiment(self, experiment: Any, tags: Mapping[str, str] | None = None,
                              regenerate_outputs: bool = False,
                              pipeline_parameters: Mapping[str, Any] | None = None,
                              continue_on_step_failure: bool = False,
                              **kwargs: Any) -> "PipelineRun":
        from plinth._pipelines.submit import submit_graph
        from plinth.pipeline.core.run import PipelineRun

        if experiment.workspace._id != self.workspace._id:
            raise UserErrorException(
                "The experiment is of another workspace than the pipeline; build the pipeline "
                "with the experiment's workspace."
            )
        _unknown(kwargs)
        run_id = submit_graph(self.workspace._location, experiment.name, self._graph(),
                              parameters=pipeline_parameters,
                              regenerate_outputs=regenerate_outputs,
                              continue_on_step_failure=continue_on_step_failure, tags=tags)
        return PipelineRun(experiment, run_id)

    def submit(self, experiment_name: str, pipeline_parameters: Mapping[str, Any] | None = None,
               continue_on_step_failure: bool = False, regenerate_outputs: bool = False,
               parent_run_id: str | None = None, **kwargs: Any) -> "PipelineRun":
        """Submit to the experiment called ``experiment_name`` (made if new)."""
        from plinth.core.experiment import Experiment

        if parent_run_id is not None:
            raise UserErrorException("parent_run_id is not supported; leave it out.")
        return self._submit_to_experiment(
            Experiment(self.workspace, experiment_name), regenerate_outputs=regenerate_outputs,
            pipeline_parameters=pipeline_parameters,
            continue_on_step_failure=continue_on_step_failure, **kwargs)

    def publish(self, name: str | None = None, description: str | None = None,
                version: str | None = None, continue_on_step_failure: bool | None = None
                ) -> "PublishedPipeline":
        """Publish the pipeline: its sources are snapshotted now, so the published pipeline
        runs the same code whatever happens to the folders later."""
        from plinth.pipeline.core.published import PublishedPipeline

        return PublishedPipeline._publish(
            self.workspace, self._graph(), name=name, description=description or
            self.description, version=version,
            continue_on_step_failure=bool(continue_on_step_failure))

    def __repr__(self) -> str:
        return f"Pipeline(steps={[s.name for s in self._steps]!r})"


def _closure(steps: list[PipelineStep]) -> list[PipelineStep]:
    """The steps plus, transitively, the unlisted steps they wait for."""
    out = list(steps)
    seen = {id(s) for s in out}
    i = 0
    while i < len(out):
        for other in out[i]._upstream():
            if id(other) not in seen:
                seen.add(id(other))
                out.append(other)
        i += 1
    return out


def _parameters(steps: Sequence[PipelineStep]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for step in steps:
        for parameter in step._parameters():
            if found.get(parameter.name, parameter.default_value) != parameter.default_value:
                raise UserErrorException(
                    f"Two PipelineParameters are named {parameter.name!r} with different "
                    "default values; use one PipelineParameter object for both."
                )
            found[parameter.name] = parameter.default_value
    return found


def _unknown(kwargs: Mapping[str, Any]) -> None:
    if kwargs:
        raise UserErrorException(
            f"Unknown argument(s) for submitting a pipeline: {', '.join(sorted(kwargs))}. "
            "Use regenerate_outputs=, pipeline_parameters= and continue_on_step_failure=."
        )
