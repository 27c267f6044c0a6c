"""``AutoMLRun``: the parent run of an AutoML experiment; each child an iteration."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from plinth._store import TERMINAL_STATUSES, RunStatus
from plinth._tuning.policies import metric_numbers
from plinth.core.run import Run
from plinth.exceptions import UserErrorException

__all__ = ["AutoMLRun"]

_ITERATION = "iteration"


class AutoMLRun(Run):
    """An AutoML experiment. ``AutoMLRun(experiment, run_id)`` reattaches to one."""

    @property
    def _settings(self) -> dict[str, Any]:
        return ((self._record.definition or {}).get("automl") or {}).get("settings") or {}

    @property
    def task(self) -> str:
        return self._settings.get("task", "")

    @property
    def primary_metric(self) -> str:
        return self._settings.get("primary_metric", "")

    def get_output(self, metric: str | None = None, iteration: int | None = None,
                   return_onnx_model: bool = False) -> tuple[Run, Any]:
        """``(best_run, fitted_model)``: the best iteration by the primary metric (or by
        ``metric``), or iteration number ``iteration``, and its fitted scikit-learn pipeline
        (``fitted_model.named_steps`` shows the featurization and the model)."""
        if return_onnx_model:
            raise UserErrorException(
                "return_onnx_model=True: Plinth's AutoML does not produce ONNX models.")
        if metric is not None and iteration is not None:
            raise UserErrorException("Give metric or iteration, not both.")
        run = (self._iteration(iteration) if iteration is not None
               else self.get_best_child(metric=metric))
        import joblib

        with tempfile.TemporaryDirectory() as temp:
            path = Path(temp) / "model.pkl"
            run.download_file("outputs/model.pkl", str(path))
            return run, joblib.load(path)

    def get_best_child(self, metric: str | None = None, onnx_compatible: bool = False) -> Run:
        """The completed iteration with the best primary metric (or ``metric``)."""
        rows = self.get_leaderboard(metric)
        if not rows:
            raise UserErrorException(
                f"AutoML run {self.id} has no completed iteration with a "
                f"{metric or self.primary_metric!r} metric (status {self.get_status()}).")
        return Run.get(self._experiment.workspace, rows[0]["run_id"])

    def get_leaderboard(self, metric: str | None = None) -> list[dict[str, Any]]:
        """Completed iterations, best first by the primary metric (or ``metric``): rows of
        ``run_id``, ``iteration``, ``algorithm``, ``score``."""
        from plinth._automl.metrics import goal

        metric = metric or self.primary_metric
        maximize = goal(metric) == "maximize"
        rows = []
        for child in self._iterations():
            if child._record.status != RunStatus.COMPLETED:
                continue
            values = metric_numbers(self._store.get_metrics(child.id, metric))
            if values:
                rows.append({"run_id": child.id,
                             "iteration": int(child._record.tags[_ITERATION]),
                             "algorithm": child._record.tags.get("run_algorithm", ""),
                             "score": float(values[-1])})
        rows.sort(key=lambda r: (-r["score"] if maximize else r["score"], r["iteration"]))
        return rows

    def get_guardrails(self, to_console: bool = True) -> list[dict[str, Any]]:
        """The data guardrails (passed / done / alerted), printed when ``to_console``."""
        rows = self._setup().get("guardrails", [])
        if to_console:
            from plinth._automl.guardrails import format_guardrails

            print(format_guardrails(rows))
        return rows

    def get_featurization_summary(self) -> list[dict[str, Any]]:
        """What featurization did with each raw column."""
        return self._setup().get("featurization_summary", [])

    def get_feature_importance(self) -> dict[str, dict[str, float]]:
        """The best model's permutation feature importance: ``{"raw": {...}, "engineered":
        {...}}`` (once the model explanation has run)."""
        explain_id = self.get_properties().get("model_explain_run_id")
        if not explain_id:
            raise UserErrorException(
                f"AutoML run {self.id} has no model explanation (yet): it is logged when the "
                "run completes with model_explainability=True.")
        return self._json(explain_id, "outputs/feature_importance.json")

    def cancel(self) -> None:
        """Cancel the experiment and every iteration still running."""
        self._record = self._store.request_cancel(self.id)
        for child in self.get_children():
            if child._record.status not in TERMINAL_STATUSES:
                self._store.request_cancel(child.id)

    def _iterations(self) -> list[Run]:
        children = [c for c in self.get_children() if _ITERATION in c._record.tags]
        return sorted(children, key=lambda c: int(c._record.tags[_ITERATION]))

    def _iteration(self, number: int) -> Run:
        for child in self._iterations():
            if child._record.tags[_ITERATION] == str(number):
                if child._record.status != RunStatus.COMPLETED:
                    raise UserErrorException(
                        f"Iteration {number} ended {child._record.status}; it has no model.")
                return child
        raise UserErrorException(f"AutoML run {self.id} has no iteration {number}.")

    def _setup(self) -> dict[str, Any]:
        return self._json(f"{self.id}_setup", "outputs/setup.json")

    def _json(self, run_id: str, name: str) -> Any:
        key = f"runs/{run_id}/{name}"
        if not self._artifacts.exists(key):
            raise UserErrorException(
                f"{name} of run {run_id} is not there (yet); wait for the AutoML run to get "
                "past that step.")
        return json.loads(self._artifacts.read_bytes(key))
