"""``PublishedPipeline`` and ``PipelineEndpoint``: pipelines anyone with access can run, by
SDK call or by ``POST`` to their REST endpoint on the workspace server."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from plinth._api import API_PREFIX
from plinth._store import PipelineEndpointRecord, PublishedPipelineRecord
from plinth.exceptions import UserErrorException

if TYPE_CHECKING:
    from plinth.core.workspace import Workspace
    from plinth.pipeline.core.run import PipelineRun

__all__ = ["PipelineEndpoint", "PipelineIdVersion", "PublishedPipeline"]


def _server_url(workspace: "Workspace") -> str:
    base = workspace._location.server_url or os.environ.get(
        "PLINTH_STUDIO_URL", "http://127.0.0.1:5000")
    return f"{base.rstrip('/')}{API_PREFIX}/workspaces/{workspace.name}"


def _submit(workspace: "Workspace", record: PublishedPipelineRecord, experiment_name: str,
            pipeline_parameters: Mapping[str, Any] | None,
            continue_on_step_failure: bool | None) -> "PipelineRun":
    from plinth._pipelines.submit import submit_published
    from plinth.core.experiment import Experiment
    from plinth.pipeline.core.run import PipelineRun

    run_id = submit_published(workspace._location, record, experiment_name, pipeline_parameters,
                              continue_on_step_failure=continue_on_step_failure)
    return PipelineRun(Experiment(workspace, experiment_name), run_id)


class PublishedPipeline:
    """A published pipeline: ``id``, ``name``, ``version``, ``status`` and ``endpoint``."""

    def __init__(self, workspace: "Workspace", record: PublishedPipelineRecord):
        self.workspace = workspace
        self._record = record

    @classmethod
    def _publish(cls, workspace: "Workspace", graph: dict[str, Any], *, name: str | None,
                 description: str | None, version: str | None,
                 continue_on_step_failure: bool) -> "PublishedPipeline":
        if not isinstance(name, str) or not name.strip():
            raise UserErrorException("name is required to publish a pipeline, e.g. "
                                     "name='training_pipeline'.")
        if version is not None and not isinstance(version, str):
            raise UserErrorException(f"version must be a str such as '1.0', got {version!r}.")
        record = workspace._store.create_published_pipeline(
            workspace._id, name, graph=graph, description=description, version=version,
            continue_on_step_failure=continue_on_step_failure)
        return cls(workspace, record)

    @staticmethod
    def get(workspace: "Workspace", id: str, _workflow_provider: Any = None,
            _service_endpoint: Any = None) -> "PublishedPipeline":
        return PublishedPipeline(workspace,
                                 workspace._store.get_published_pipeline(workspace._id, id))

    @staticmethod
    def list(workspace: "Workspace", active_only: bool = True, _service_endpoint: Any = None
             ) -> list["PublishedPipeline"]:
        return [PublishedPipeline(workspace, r) for r in
                workspace._store.list_published_pipelines(workspace._id, active_only)]

    @property
    def id(self) -> str:
        return self._record.id

    @property
    def name(self) -> str:
        return self._record.name

    @property
    def description(self) -> str | None:
        return self._record.description

    @property
    def version(self) -> str | None:
        return self._record.version

    @property
    def status(self) -> str:
        return self._record.status

    @property
    def continue_on_step_failure(self) -> bool:
        return self._record.continue_on_step_failure

    @property
    def graph(self) -> dict[str, Any]:
        return dict(self._record.graph)

    @property
    def parameters(self) -> dict[str, Any]:
        """The pipeline's parameters and their defaults."""
        return dict(self._record.graph.get("parameters") or {})

    @property
    def endpoint(self) -> str:
        """``POST`` here with ``Authorization: Bearer <token>`` and ``{"ExperimentName": ...,
        "ParameterAssignments": {...}}`` to start a run; the answer's ``Id`` is its run id."""
        return f"{_server_url(self.workspace)}/published-pipelines/{self.id}/submit"

    def submit(self, workspace: "Workspace", experiment_name: str,
               pipeline_parameters: Mapping[str, Any] | None = None,
               _workflow_provider: Any = None, _service_endpoint: Any = None,
               parent_run_id: str | None = None,
               continue_on_step_failure: bool | None = None) -> "PipelineRun":
        if parent_run_id is not None:
            raise UserErrorException("parent_run_id is not supported; leave it out.")
        return _submit(workspace, self._record, experiment_name, pipeline_parameters,
                       continue_on_step_failure)

    def disable(self) -> None:
        self._record = self.workspace._store.set_published_pipeline_status(
            self.workspace._id, self.id, "Disabled")

    def enable(self) -> None:
        self._record = self.workspace._store.set_published_pipeline_status(
            self.workspace._id, self.id, "Active")

    def __repr__(self) -> str:
        return (f"PublishedPipeline(Name: {self.name}, Id: {self.id}, Status: {self.status}, "
                f"Endpoint: {self.endpoint})")


class PipelineIdVersion:
    """One version of a pipeline endpoint."""

    def __init__(self, pipeline_id: str, version: str):
        self.pipeline_id = pipeline_id
        self.version = version

    def __repr__(self) -> str:
        return f"PipelineIdVersion(pipeline_id={self.pipeline_id!r}, version={self.version!r})"


class PipelineEndpoint:
    """One name and URL in front of versions of published pipelines, with a default one."""

    def __init__(self, workspace: "Workspace", record: PipelineEndpointRecord):
        self.workspace = workspace
        self._record = record

    @staticmethod
    def publish(workspace: "Workspace", name: str, description: str | None,
                pipeline: PublishedPipeline, _workflow_provider: Any = None,
                _service_endpoint: Any = None) -> "PipelineEndpoint":
        """A new endpoint whose version "0" (the default) is ``pipeline``."""
        _check_pipeline(pipeline)
        record = workspace._store.create_pipeline_endpoint(
            workspace._id, name, pipeline_id=pipeline.id, description=description)
        return PipelineEndpoint(workspace, record)

    @staticmethod
    def get(workspace: "Workspace", id: str | None = None, name: str | None = None,
            _workflow_provider: Any = None, _service_endpoint: Any = None
            ) -> "PipelineEndpoint":
        if (id is None) == (name is None):
            raise UserErrorException("PipelineEndpoint.get needs id= or name= (one of them).")
        return PipelineEndpoint(workspace, workspace._store.get_pipeline_endpoint(
            workspace._id, endpoint_id=id, name=name))

    @staticmethod
    def list(workspace: "Workspace", active_only: bool = True, _workflow_provider: Any = None,
             _service_endpoint: Any = None) -> list["PipelineEndpoint"]:
        return [PipelineEndpoint(workspace, r) for r in
                workspace._store.list_pipeline_endpoints(workspace._id, active_only)]

    @property
    def id(self) -> str:
        return self._record.id

    @property
    def name(self) -> str:
        return self._record.name

    @property
    def description(self) -> str | None:
        return self._record.description

    @property
    def status(self) -> str:
        return self._record.status

    @property
    def default_version(self) -> str:
        return self._record.default_version

    @property
    def endpoint(self) -> str:
        """``POST`` here as to a published pipeline's endpoint; ``"PipelineVersion"`` in the
        body picks a version other than the default."""
        return f"{_server_url(self.workspace)}/pipeline-endpoints/{self.id}/submit"

    def get_default_version(self) -> str:
        return self._record.default_version

    def set_default_version(self, version: str | int) -> None:
        self._update(default_version=str(version))

    def list_versions(self) -> list[PipelineIdVersion]:
        return [PipelineIdVersion(pid, str(i)) for i, pid in enumerate(self._record.pipeline_ids)]

    def get_pipeline(self, version: str | int | None = None) -> PublishedPipeline:
        """The published pipeline of ``version`` (the default when None)."""
        version = self.default_version if version is None else str(version)
        ids = self._record.pipeline_ids
        if not version.isdigit() or int(version) >= len(ids):
            raise UserErrorException(
                f"Pipeline endpoint {self.name!r} has no version {version!r} (versions 0 to "
                f"{len(ids) - 1})."
            )
        return PublishedPipeline.get(self.workspace, ids[int(version)])

    def list_pipelines(self, active_only: bool = True) -> list[PublishedPipeline]:
        pipelines = [PublishedPipeline.get(self.workspace, i) for i in self._record.pipeline_ids]
        return [p for p in pipelines if not active_only or p.status == "Active"]

    def add(self, pipeline: PublishedPipeline) -> None:
        """Add ``pipeline`` as the next version."""
        _check_pipeline(pipeline)
        self._record = self.workspace._store.add_pipeline_endpoint_version(
            self.workspace._id, self.id, pipeline.id)

    def add_default(self, pipeline: PublishedPipeline) -> None:
        """Add ``pipeline`` as the next version and make it the default."""
        _check_pipeline(pipeline)
        self._record = self.workspace._store.add_pipeline_endpoint_version(
            self.workspace._id, self.id, pipeline.id, make_default=True)

    def submit(self, experiment_name: str, pipeline_parameters: Mapping[str, Any] | None = None,
               parent_run_id: str | None = None, pipeline_version: str | None = None
               ) -> "PipelineRun":
        if parent_run_id is not None:
            raise UserErrorException("parent_run_id is not supported; leave it out.")
        if self.status != "Active":
            raise UserErrorException(
                f"Pipeline endpoint {self.name!r} is {self.status}; enable() it to run it."
            )
        pipeline = self.get_pipeline(pipeline_version)
        return _submit(self.workspace, pipeline._record, experiment_name, pipeline_parameters,
                       None)

    def disable(self) -> None:
        self._update(status="Disabled")

    def enable(self) -> None:
        self._update(status="Active")

    def _update(self, **changes: Any) -> None:
        self._record = self.workspace._store.update_pipeline_endpoint(
            self.workspace._id, self.id, **changes)

    def __repr__(self) -> str:
        return (f"PipelineEndpoint(Name: {self.name}, Id: {self.id}, Status: {self.status}, "
                f"Default version: {self.default_version})")


def _check_pipeline(pipeline: Any) -> None:
    if not isinstance(pipeline, PublishedPipeline):
        raise UserErrorException(
            "pipeline must be a PublishedPipeline (pipeline.publish(...) returns one), got "
            f"{type(pipeline).__name__}."
        )
