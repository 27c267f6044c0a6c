"""Which model and hyperparameters an AutoML experiment tries next.

Cost-frugal, as azureml's own search: first each allowed model with its default
hyperparameters, cheapest and strongest first; then Optuna's TPE over one conditional space
(the model, then that model's hyperparameters), told every finished iteration's score and
lying about the running ones (``constant_liar``) so concurrent iterations spread out.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import optuna

from plinth._automl import models

__all__ = ["Search", "Tried"]

optuna.logging.set_verbosity(logging.WARNING)


@dataclass(frozen=True)
class Tried:
    """An iteration already started: what it tried and how it ended (score None until then,
    or when it failed)."""

    model: str
    params: dict[str, Any]
    state: str  # "running" | "complete" | "failed"
    score: float | None = None
    searched: bool = True  # False: the model's defaults, not drawn from its space


class Search:
    """``next(history)`` is a pure function of the history (and the seed): the study is
    rebuilt from every iteration so far on each call, so a driver started again proposes
    exactly what the first would have."""

    def __init__(self, task: str, model_names: list[str], goal: str, *, n_rows: int,
                 n_features: int, seed: int):
        self.task = "regression" if task == "forecasting" else task
        self.names = list(model_names)
        self.goal = goal
        self.n_rows, self.n_features = n_rows, n_features
        self.seed = seed

    def defaults(self, name: str) -> dict[str, Any]:
        if name not in _tunable():
            return {}
        return models.get(name).default_params(self.task, self.n_rows, self.n_features)

    def next(self, history: list[Tried]) -> tuple[str, dict[str, Any], bool]:
        """The next model, its hyperparameters and whether they were searched (False: the
        model's defaults), given every iteration so far (in order)."""
        study = self._study(history)
        tried = {t.model for t in history}
        untried = [name for name in self.names if name not in tried]
        if untried:
            # The study learns which model did well; the defaults are not points of its space.
            name = untried[0]
            study.enqueue_trial({"model": name})
            study.ask().suggest_categorical("model", self.names)
            return name, self.defaults(name), False
        trial = study.ask()
        name = trial.suggest_categorical("model", self.names)
        return name, {**self.defaults(name), **self._suggest(trial, name)}, True

    def _suggest(self, trial: optuna.trial.Trial, name: str) -> dict[str, Any]:
        if name not in _tunable():
            return {}
        return models.get(name).suggest(trial, self.task, self.n_rows, self.n_features)

    def _study(self, history: list[Tried]) -> optuna.Study:
        """A study that has seen ``history``: ended iterations told, running ones left
        running (so ``constant_liar`` steers the next point away from them)."""
        study = optuna.create_study(
            direction="maximize" if self.goal == "maximize" else "minimize",
            sampler=optuna.samplers.TPESampler(seed=self.seed + len(history),
                                               constant_liar=True, n_startup_trials=5))
        for tried in history:
            study.enqueue_trial(_prefixed(tried.model, tried.params) if tried.searched
                                else {"model": tried.model})
            trial = study.ask()
            trial.suggest_categorical("model", self.names)
            if tried.searched:
                self._suggest(trial, tried.model)
            if tried.state == "running":
                continue
            if tried.state == "complete" and tried.score is not None:
                study.tell(trial, float(tried.score))
            else:
                study.tell(trial, state=optuna.trial.TrialState.FAIL)
        return study


def _prefixed(name: str, params: dict[str, Any]) -> dict[str, Any]:
    """Enqueued values: the model choice and its hyperparameters under their study names."""
    return {"model": name, **{f"{name}.{key}": value for key, value in params.items()}}


def _tunable() -> set[str]:
    """Models with hyperparameters (forecasting's naive baselines have none)."""
    return {spec.name for task in ("classification", "regression")
            for spec in models.catalogue(task)}
