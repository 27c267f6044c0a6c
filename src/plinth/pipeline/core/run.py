"""``PipelineRun`` (a pipeline's parent run), ``StepRun`` (one step's child run) and
``PortDataReference`` (the data a step wrote)."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, TextIO

from plinth._store import TERMINAL_STATUSES, RunStatus
from plinth.core.run import Run
from plinth.exceptions import ActivityFailedException, NotFoundError, UserErrorException

if TYPE_CHECKING:
    from plinth.pipeline.core.published import PublishedPipeline

__all__ = ["PipelineRun", "PortDataReference", "StepRun"]

_POLL = 0.2


class PipelineRun(Run):
    """The run of a pipeline; each step is a child ``StepRun``. ``PipelineRun(experiment,
    run_id)`` reattaches to one."""

    def get_steps(self) -> Iterator["StepRun"]:
        """The step runs, in the order they were started."""
        yield from sorted(self.get_children(), key=lambda r: r._record.created_at)

    def find_step_run(self, name: str) -> list["StepRun"]:
        """The step runs of the step called ``name`` (a list: names need not be unique)."""
        return [r for r in self.get_steps() if r.name == name]

    def get_graph(self) -> dict[str, Any]:
        """The pipeline this run ran, as plain data."""
        return dict((self._refresh().definition or {}).get("pipeline") or {})

    def get_pipeline_runtime(self) -> float | None:
        r = self._refresh()
        if r.start_time is None:
            return None
        return (r.end_time or time.time()) - r.start_time

    def cancel(self) -> None:
        """Cancel the pipeline run and the steps running in it."""
        self._record = self._store.request_cancel(self.id)
        for step in self.get_children():
            if step._record.status not in TERMINAL_STATUSES:
                self._store.request_cancel(step.id)

    def wait_for_completion(self, show_output: bool = True, timeout_seconds: float | None = None,
                            raise_on_error: bool = True) -> str:
        """Wait until the pipeline run ends; ``show_output`` prints each step's progress.
        Returns the final status."""
        out = sys.stdout if show_output else None
        deadline = None if timeout_seconds is None else time.monotonic() + timeout_seconds
        seen: dict[str, str] = {}
        if out is not None:
            out.write(f"PipelineRunId: {self.id}\nLink to Studio: {self.get_portal_url()}\n")
        while True:
            record = self._refresh()
            if out is not None:
                self._report_steps(out, seen)
            if record.status in TERMINAL_STATUSES:
                break
            if deadline is not None and time.monotonic() > deadline:
                raise ActivityFailedException(
                    f"Pipeline run {self.id} is still {record.status} after "
                    f"timeout_seconds={timeout_seconds}."
                )
            time.sleep(_POLL)
        if out is not None:
            out.write(f"\nPipelineRun Execution Summary\n{'=' * 29}\nPipelineRun Status: "
                      f"{record.status}\n")
            if record.error:
                out.write(f"{record.error.get('message')}\n")
            out.flush()
        if raise_on_error and record.status in (RunStatus.FAILED, RunStatus.CANCELED):
            raise ActivityFailedException(
                f"Pipeline run {self.id} ended {record.status}: "
                f"{(record.error or {}).get('message', 'no error details')}",
                error_details=record.error or {},
            )
        return record.status

    def _report_steps(self, out: TextIO, seen: dict[str, str]) -> None:
        for step in self.get_steps():
            status = step._record.status
            if seen.get(step.id) == status:
                continue
            seen[step.id] = status
            note = " (reused)" if step.is_reused else ""
            out.write(f"StepRun({step.name}) {step.id}: {status}{note}\n")
            error = step._record.error
            if status in (RunStatus.FAILED,) and error:
                out.write(f"  {error.get('message', '')}\n")
        out.flush()

    def publish_pipeline(self, name: str, description: str | None = None,
                         version: str | None = None,
                         continue_on_step_failure: bool | None = None) -> "PublishedPipeline":
        """Publish the pipeline this run ran (the same snapshots, parameters and steps)."""
        from plinth.pipeline.core.published import PublishedPipeline

        graph = self.get_graph()
        if not graph:
            raise UserErrorException(f"Run {self.id} is not a pipeline run.")
        return PublishedPipeline._publish(
            self._experiment.workspace, graph, name=name,
            description=description or graph.get("description"), version=version,
            continue_on_step_failure=bool(continue_on_step_failure))


class StepRun(Run):
    """The run of one step of a pipeline run."""

    @property
    def name(self) -> str:
        return self._record.display_name or ""

    @property
    def is_reused(self) -> bool:
        return self._record.properties.get("azureml.isreused") == "true"

    @property
    def reused_run_id(self) -> str | None:
        """The earlier step run whose outputs this one reused, if it did."""
        return self._record.properties.get("azureml.reusedrunid")

    def _metrics(self, name: str | None) -> dict[str, Any]:
        """A reused step's metrics are those of the run that did the work."""
        if self.reused_run_id:
            return Run.get(self._experiment.workspace, self.reused_run_id)._metrics(name)
        return super()._metrics(name)

    def get_outputs(self) -> dict[str, "PortDataReference"]:
        """The data the step wrote, by output name."""
        outputs = (self._refresh().definition or {}).get("pipeline_outputs") or {}
        return {o["name"]: PortDataReference(self._experiment.workspace, o)
                for o in outputs.values()}

    def get_output_data(self, name: str) -> "PortDataReference":
        outputs = self.get_outputs()
        if name not in outputs:
            known = ", ".join(sorted(outputs)) or "none"
            raise NotFoundError(
                f"Step {self.name!r} has no output {name!r} (its outputs: {known})."
            )
        return outputs[name]

    def get_output(self, name: str) -> "PortDataReference":
        return self.get_output_data(name)


class PortDataReference:
    """Where a step's output lives: ``datastore_name`` and ``path_on_datastore``."""

    def __init__(self, workspace: Any, output: dict[str, Any]):
        self._workspace = workspace
        self.name = output["name"]
        self.datastore_name = output["datastore"]
        self.path_on_datastore = output["path"]
        self.producer_run_id = output.get("producer")

    @property
    def datastore(self) -> Any:
        from plinth.core.datastore import Datastore

        return Datastore.get(self._workspace, self.datastore_name)

    def download(self, local_path: str | os.PathLike, overwrite: bool = False,
                 show_progress: bool = True) -> str:
        """Download the data into ``local_path`` (keeping its path on the datastore, as
        azureml does); returns the local folder that holds it."""
        self.datastore.download(local_path, prefix=self.path_on_datastore, overwrite=overwrite,
                                show_progress=show_progress)
        return os.path.join(os.fspath(local_path), self.path_on_datastore)

    def __repr__(self) -> str:
        return (f"PortDataReference(name={self.name!r}, datastore={self.datastore_name!r}, "
                f"path_on_datastore={self.path_on_datastore!r})")
