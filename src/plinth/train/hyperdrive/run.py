"""``HyperDriveRun``: the parent run of a sweep; its children are the script's runs."""

from __future__ import annotations

import json
from typing import Any

from plinth._store import TERMINAL_STATUSES, RunStatus
from plinth._tuning.driver import child_index
from plinth._tuning.policies import metric_numbers
from plinth.core.run import Run

__all__ = ["HyperDriveRun"]

_HYPERPARAMETERS = "hyperparameters"


class HyperDriveRun(Run):
    """A HyperDrive sweep. ``HyperDriveRun(experiment, run_id)`` reattaches to one."""

    @property
    def _sweep(self) -> dict[str, Any]:
        return (self._record.definition or {}).get("hyperdrive") or {}

    @property
    def primary_metric_name(self) -> str:
        return self._sweep.get("primary_metric_name", "")

    @property
    def primary_metric_goal(self) -> str:
        return self._sweep.get("goal", "maximize").upper()

    @property
    def hyperparameter_sampling(self) -> dict[str, Any]:
        return dict(self._sweep.get("sampling") or {})

    @property
    def policy(self) -> dict[str, Any]:
        return dict(self._sweep.get("policy") or {})

    def get_hyperparameters(self) -> dict[str, str]:
        """Each child's sampled values, as azureml gives them: ``{run_id: json string}``."""
        return {child.id: child._record.tags.get(_HYPERPARAMETERS, "{}")
                for child in self.get_children()}

    def get_metrics(self, name: str | None = None, recursive: bool = False,
                    run_type: str | None = None, populate: bool = False) -> dict[str, Any]:
        """Each child's metrics: ``{run_id: {name: value}}``."""
        return {child.id: child.get_metrics(name) for child in self.get_children()}

    def get_children_sorted_by_primary_metric(self, top: int = 0, reverse: bool = False,
                                              discard_no_metric: bool = False
                                              ) -> list[dict[str, Any]]:
        """Children, best first (``reverse``: worst first), as ``{"run_id",
        "hyperparameters", "best_primary_metric", "status"}``; those that logged no primary
        metric come last (or not at all with ``discard_no_metric``); ``top`` keeps the first
        ``top``. These rows are also what a parallel-coordinates chart plots."""
        # In child order first, so ties go to the earlier child, as the sweep's driver picks.
        rows = sorted((self._row(child) for child in self.get_children()),
                      key=lambda r: child_index(r["run_id"]))
        scored = [r for r in rows if r["best_primary_metric"] is not None]
        scored.sort(key=lambda r: r["best_primary_metric"],
                    reverse=(self.primary_metric_goal == "MAXIMIZE") != reverse)
        if not discard_no_metric:
            scored += [r for r in rows if r["best_primary_metric"] is None]
        return scored[:top] if top else scored

    def get_best_run_by_primary_metric(self, include_failed: bool = True,
                                       include_canceled: bool = True) -> Run | None:
        """The child with the best primary metric (only Completed ones unless
        ``include_failed``/``include_canceled`` allow the others), or None."""
        allowed = {RunStatus.COMPLETED}
        if include_failed:
            allowed.add(RunStatus.FAILED)
        if include_canceled:
            allowed.add(RunStatus.CANCELED)
        for row in self.get_children_sorted_by_primary_metric(discard_no_metric=True):
            if row["status"] in allowed:
                return Run.get(self._experiment.workspace, row["run_id"])
        return None

    def cancel(self) -> None:
        """Cancel the sweep and every child still running."""
        self._record = self._store.request_cancel(self.id)
        for child in self.get_children():
            if child._record.status not in TERMINAL_STATUSES:
                self._store.request_cancel(child.id)

    def _row(self, child: Run) -> dict[str, Any]:
        values = metric_numbers(self._store.get_metrics(child.id, self.primary_metric_name))
        best = None
        if values:
            best = max(values) if self.primary_metric_goal == "MAXIMIZE" else min(values)
        return {"run_id": child.id,
                "hyperparameters": json.loads(child._record.tags.get(_HYPERPARAMETERS, "{}")),
                "best_primary_metric": best, "status": child._record.status,
                "terminated_by": child._record.properties.get("plinth.terminatedBy")}
