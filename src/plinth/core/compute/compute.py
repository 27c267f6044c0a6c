"""``ComputeTarget``: where a workspace's runs execute, created or attached by name."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from plinth._store import ComputeRecord
from plinth.exceptions import (
    AlreadyExistsError,
    ComputeTargetException,
    NotFoundError,
    ValidationError,
)

if TYPE_CHECKING:
    from plinth.core.workspace import Workspace

__all__ = ["ComputeTarget", "ComputeTargetConfiguration", "ComputeStatus"]


class ComputeTargetConfiguration:
    """What ``provisioning_configuration`` / ``attach_configuration`` return: a kind and
    its settings, checked when they are made."""

    def __init__(self, kind: str, config: dict[str, Any]):
        self.kind = kind
        self.config = config

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.kind}, {self.config})"


class ComputeStatus:
    """``get_status()``: the provisioning state, as azureml reports it."""

    def __init__(self, provisioning_state: str, **details: Any):
        self.provisioning_state = provisioning_state
        self.details = details

    def serialize(self) -> dict[str, Any]:
        return {"provisioningState": self.provisioning_state, **self.details}

    def __repr__(self) -> str:
        return f"ComputeStatus({self.provisioning_state!r})"


class ComputeTarget:
    """``ComputeTarget(workspace=ws, name='aml-cluster')`` gets one;
    ``ComputeTarget.create`` / ``ComputeTarget.attach`` add one."""

    _kind = ""

    def __new__(cls, workspace: "Workspace" = None, name: str | None = None):
        if workspace is None:
            return super().__new__(cls)
        try:
            record = workspace._store.get_compute(workspace._id, name)
        except NotFoundError:
            raise ComputeTargetException(
                f"No compute target named {name!r} in workspace {workspace.name!r}; create "
                "it with ComputeTarget.create(ws, name, AmlCompute.provisioning_configuration"
                "(...)) or attach one with ComputeTarget.attach(...)."
            ) from None
        return ComputeTarget._from_record(workspace, record)

    def __init__(self, workspace: "Workspace" = None, name: str | None = None):
        pass  # __new__ did the work

    @staticmethod
    def _from_record(workspace: "Workspace", record: ComputeRecord) -> "ComputeTarget":
        from plinth.core.compute import KINDS

        target = object.__new__(KINDS.get(record.kind, ComputeTarget))
        target.workspace = workspace
        target._record = record
        return target

    # -- creating ----------------------------------------------------------------------------

    @staticmethod
    def create(workspace: "Workspace", name: str,
               provisioning_configuration: ComputeTargetConfiguration) -> "ComputeTarget":
        """Create a managed compute target (a training cluster, or this machine)."""
        return ComputeTarget._add(workspace, name, provisioning_configuration, "create")

    @staticmethod
    def attach(workspace: "Workspace", name: str,
               attach_configuration: ComputeTargetConfiguration) -> "ComputeTarget":
        """Attach compute that runs elsewhere (an existing Ray cluster)."""
        return ComputeTarget._add(workspace, name, attach_configuration, "attach")

    @staticmethod
    def _add(workspace: "Workspace", name: str, configuration: Any, verb: str
             ) -> "ComputeTarget":
        from plinth.core.compute.attached import check_supported

        check_supported(configuration, verb)
        try:
            record = workspace._store.create_compute(
                workspace._id, name, kind=configuration.kind, config=configuration.config)
        except AlreadyExistsError:
            raise ComputeTargetException(
                f"A compute target named {name!r} already exists in workspace "
                f"{workspace.name!r}; get it with ComputeTarget(ws, {name!r}) or choose "
                "another name."
            ) from None
        except ValidationError as exc:
            raise ComputeTargetException(str(exc)) from None
        return ComputeTarget._from_record(workspace, record)

    # -- state -------------------------------------------------------------------------------

    name = property(lambda self: self._record.name)
    type = property(lambda self: self._record.kind)
    provisioning_state = property(lambda self: self._record.state)

    def wait_for_completion(self, show_output: bool = False, min_node_count: int | None = None,
                            timeout_in_minutes: int = 20, is_delete_operation: bool = False
                            ) -> None:
        """Nothing to provision ahead: a Plinth cluster starts its nodes when runs need
        them (and stops them when idle)."""
        if show_output:
            print(f"{self.type} {self.name}: provisioning state {self.provisioning_state}.")

    def get_status(self) -> ComputeStatus:
        return ComputeStatus(self.provisioning_state, **self._status_details())

    def _status_details(self) -> dict[str, Any]:
        return {}

    def delete(self) -> None:
        """Remove the compute target from the workspace."""
        self.workspace._store.delete_compute(self.workspace._id, self.name)

    def detach(self) -> None:
        """Remove an attached compute target from the workspace (the cluster keeps running)."""
        self.delete()

    def serialize(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "provisioningState": self.provisioning_state,
                "properties": dict(self._record.config)}

    def _run_compute(self) -> dict[str, Any]:
        """What a run definition records about its compute (see plinth._execution)."""
        return {"name": self.name, "kind": self.type, "config": dict(self._record.config)}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, {self._record.config})"

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, ComputeTarget) and other.name == self.name
                and other.workspace == self.workspace)

    def __hash__(self) -> int:
        return hash(self.name)
