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
    def __init__(self, task: str, model_names: list[str], goal: str, *, n_rows: int,
                 n_features: int, seed: int):
        self.task = "regression" if task == "forecasting" else task
        self.names = list(model_names)
        self.n_rows, self.n_features = n_rows, n_features
        self.study = optuna.create_study(
            direction="maximize" if goal == "maximize" else "minimize",
            sampler=optuna.samplers.TPESampler(seed=seed, constant_liar=True,
                                               n_startup_trials=5))
        self.pending: dict[int, int] = {}  # iteration -> trial number, while it runs
        self.replayed = 0

    def defaults(self, name: str) -> dict[str, Any]:
        if name not in _tunable():
            return {}
        return models.get(name).default_params(self.task, self.n_rows, self.n_features)

    def next(self, history: list[Tried]) -> tuple[str, dict[str, Any], bool]:
        """The next model, its hyperparameters and whether they were searched (False: the
        model's defaults), given every iteration so far (in order)."""
        self._replay(history)
        tried = {t.model for t in history}
        untried = [name for name in self.names if name not in tried]
        if untried:
            # The study learns which model did well; the defaults are not points of its space.
            name = untried[0]
            self.study.enqueue_trial({"model": name})
            trial = self.study.ask()
            trial.suggest_categorical("model", self.names)
            params, searched = self.defaults(name), False
        else:
            trial = self.study.ask()
            name = trial.suggest_categorical("model", self.names)
            params, searched = {**self.defaults(name), **self._suggest(trial, name)}, True
        self.pending[len(history)] = trial.number
        self.replayed = len(history) + 1
        return name, params, searched

    def _suggest(self, trial: optuna.trial.Trial, name: str) -> dict[str, Any]:
        if name not in _tunable():
            return {}
        return models.get(name).suggest(trial, self.task, self.n_rows, self.n_features)

    def _replay(self, history: list[Tried]) -> None:
        """Tell the study what ended since the last call; a search started again (a driver
        restarted on the same run) first asks again for every iteration already tried."""
        for index, tried in enumerate(history):
            if index >= self.replayed:
                self.study.enqueue_trial(_prefixed(tried.model, tried.params)
                                         if tried.searched else {"model": tried.model})
                trial = self.study.ask()
                trial.suggest_categorical("model", self.names)
                if tried.searched:
                    self._suggest(trial, tried.model)
                self.pending[index] = trial.number
            number = self.pending.get(index)
            if number is None or tried.state == "running":
                continue
            del self.pending[index]
            if tried.state == "complete" and tried.score is not None:
                self.study.tell(number, float(tried.score))
            else:
                self.study.tell(number, state=optuna.trial.TrialState.FAIL)
        self.replayed = max(self.replayed, len(history))


def _prefixed(name: str, params: dict[str, Any]) -> dict[str, Any]:
    """Enqueued values: the model choice and its hyperparameters under their study names."""
    return {"model": name, **{f"{name}.{key}": value for key, value in params.items()}}


def _tunable() -> set[str]:
    """Models with hyperparameters (forecasting's naive baselines have none)."""
    return {spec.name for task in ("classification", "regression")
            for spec in models.catalogue(task)}
