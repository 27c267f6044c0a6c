"""``Experiment``: a named collection of runs in a workspace."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from plinth._execution import submit as _submit
from plinth._store import ExperimentRecord
from plinth.exceptions import UserErrorException

if TYPE_CHECKING:
    from plinth.core.run import Run
    from plinth.core.workspace import Workspace

__all__ = ["Experiment"]


class Experiment:
    """``Experiment(workspace, name)`` gets the experiment, creating it on first use."""

    def __init__(self, workspace: "Workspace", name: str, _create_in_cloud: bool = True,
                 **kwargs: Any):
        from plinth.core.workspace import Workspace

        if not isinstance(workspace, Workspace):
            raise UserErrorException(
                f"workspace must be a Workspace, got {type(workspace).__name__}; "
                "use Workspace.from_config()."
            )
        _check_name(name)
        self.workspace = workspace
        self._record = workspace._store.create_experiment(workspace._id, name)

    @classmethod
    def _from_record(cls, workspace: "Workspace", record: ExperimentRecord) -> "Experiment":
        exp = cls.__new__(cls)
        exp.workspace = workspace
        exp._record = record
        return exp

    @staticmethod
    def list(workspace: "Workspace", experiment_name: str | None = None,
             view_type: str = "ActiveOnly") -> list["Experiment"]:
        """Experiments of the workspace; ``view_type`` is ActiveOnly, ArchivedOnly or All."""
        if view_type not in ("ActiveOnly", "ArchivedOnly", "All"):
            raise UserErrorException(
                f"view_type={view_type!r}; use 'ActiveOnly', 'ArchivedOnly' or 'All'."
            )
        records = workspace._store.list_experiments(workspace._id, include_archived=True)
        out = []
        for r in records:
            if experiment_name is not None and r.name != experiment_name:
                continue
            if (view_type == "ActiveOnly" and r.archived) or (
                view_type == "ArchivedOnly" and not r.archived
            ):
                continue
            out.append(Experiment._from_record(workspace, r))
        return out

    @property
    def name(self) -> str:
        return self._record.name

    @property
    def id(self) -> str:
        return self._record.id

    @property
    def archived_time(self) -> str | None:
        return "archived" if self._record.archived else None

    def start_logging(self, *args: Any, outputs: str | None = None, snapshot_directory: str | None
                      = None, display_name: str | None = None, **kwargs: Any) -> "Run":
        """Start an interactive run in this process (use it as a context manager to end it)."""
        from plinth.core.run import Run

        return Run._start_interactive(self, display_name=display_name, outputs=outputs,
                                      snapshot_directory=snapshot_directory)

    def submit(self, config: Any, tags: Mapping[str, str] | None = None, **kwargs: Any) -> "Run":
        """Submit a ScriptRunConfig, an estimator or a Pipeline; returns its run at once."""
        from plinth.core.run import Run

        submit_to = getattr(config, "_submit_to_experiment", None)
        if submit_to is not None:
            return submit_to(self, tags=tags, **kwargs)
        run_id = _submit.submit(self.workspace._location, self._record, config, tags=tags,
                                **kwargs)
        return Run(self, run_id)

    def get_runs(self, type: str | None = None, tags: Any = None, properties: Any = None,
                 include_children: bool = False) -> Iterator["Run"]:
        """Runs of this experiment, newest first; ``tags``/``properties`` filter by key or
        ``{key: value}``."""
        from plinth.core.run import Run, _matches

        records = self.workspace._store.list_runs(
            experiment_id=self.id, run_type=type, root_only=not include_children
        )
        for record in records:
            if _matches(record.tags, tags) and _matches(record.properties, properties):
                yield Run._from_record(self, record)

    def archive(self) -> None:
        self._record = self.workspace._store.set_experiment_archived(self.id, True)

    def reactivate(self, new_name: str | None = None) -> None:
        if new_name is not None:
            raise UserErrorException("new_name is not supported; experiments keep their name.")
        self._record = self.workspace._store.set_experiment_archived(self.id, False)

    def get_portal_url(self) -> str:
        return _portal_url(self.workspace, f"experiments/{self.name}")

    def __repr__(self) -> str:
        return f"Experiment(Name: {self.name}, Workspace: {self.workspace.name})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Experiment) and other.id == self.id


def _check_name(name: Any) -> None:
    import re

    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,254}", name):
        raise UserErrorException(
            f"Experiment name {name!r} is invalid: use up to 255 letters, digits, '_', '-' or "
            "'.', starting with a letter or digit."
        )


def _portal_url(workspace: "Workspace", path: str) -> str:
    """The Studio page: on the workspace's server, or for an embedded workspace where
    ``plinth server`` serves it (``$PLINTH_STUDIO_URL``, default its default address)."""
    import os
    from urllib.parse import quote

    base = (workspace._location.server_url or os.environ.get("PLINTH_STUDIO_URL")
            or "http://127.0.0.1:5000")
    return f"{base.rstrip('/')}/w/{quote(workspace.name, safe='')}/{path}"


