"""Samplers: the next configuration of a sweep, as a pure function of (spec, history).

A driver calls ``make_sampler(spec, goal).next(history)`` with every trial so far (the
sweep's children, running ones included, plus warm-start trials). The answer depends only on
the spec and the history, so a driver that crashes and restarts with the same history gets
the same point. A point already in the history is never proposed again where the space is
finite; ``None`` means the space is exhausted.

``spec`` is the ``_spec()`` of a sampling object: ``{"kind": "grid" | "random" | "bayesian",
"space": {...}, "seed": int | None}``. A ``None`` seed samples as seed 0: still reproducible,
but two unseeded sweeps over the same space draw the same points; a driver that wants fresh
points per sweep puts a seed of its own (e.g. derived from the sweep's id) in the spec.
"""

from __future__ import annotations

import contextlib
import math
import random
import warnings
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, NamedTuple

from plinth._tuning import space as spaces
from plinth.exceptions import UserErrorException

__all__ = [
    "BAYESIAN_STARTUP_TRIALS",
    "BayesianSampler",
    "GridSampler",
    "RandomSampler",
    "Sampler",
    "Trial",
    "make_sampler",
]

BAYESIAN_STARTUP_TRIALS = 10
"""Random warm-up points before TPE starts modelling (Optuna's default, like azureml's)."""

_REJECTION_TRIES = 100
_ENUMERATE_LIMIT = 200_000
_BAYESIAN_ASKS = 20

_PENDING, _COMPLETE, _FAILED = "running", "complete", "failed"
_DONE_BADLY = frozenset({"failed", "canceled", "cancelled"})


class Trial(NamedTuple):
    """One configuration tried so far.

    ``state`` is 'running', 'complete', 'failed' or 'canceled'; any other state (e.g.
    'queued') counts as running. ``value`` is the primary metric, None if unknown.
    """

    params: dict
    value: float | None
    state: str


def _state(trial: Trial) -> str:
    state = str(trial.state).lower()
    if state == _COMPLETE:
        return _COMPLETE
    if state in _DONE_BADLY:
        return _FAILED
    return _PENDING


def _rng(kind: str, seed: int | None, step: int) -> random.Random:
    """A generator seeded by (kind, seed, len(history)); str seeds hash the same everywhere."""
    return random.Random(f"plinth-{kind}:{seed or 0}:{step}")


class Sampler:
    """Proposes the next configuration of a sweep; see the module docstring."""

    def __init__(self, space: Mapping[str, list], seed: int | None = None) -> None:
        self.space = spaces.check_space(space)
        self.seed = seed

    def next(self, history: Sequence[Trial]) -> dict[str, Any] | None:
        """The next point given every trial so far, or None when the space is exhausted."""
        raise NotImplementedError

    def _taken(self, history: Sequence[Trial]) -> set[tuple]:
        return {spaces.point_key(self.space, trial.params) for trial in history}

    def _exhausted(self, history: Sequence[Trial]) -> bool:
        """True when a finite space has every one of its points in ``history``."""
        total = spaces.size(self.space)
        if total is None:
            return False
        inside = {
            spaces.point_key(self.space, trial.params)
            for trial in history
            if spaces.contains(self.space, trial.params)
        }
        return len(inside) >= total


class GridSampler(Sampler):
    """The first grid point (in :func:`space.grid_points` order) not in the history."""

    def __init__(self, space: Mapping[str, list], seed: int | None = None) -> None:
        super().__init__(space, seed)
        self._points = spaces.grid_points(self.space)

    def next(self, history: Sequence[Trial]) -> dict[str, Any] | None:
        taken = self._taken(history)
        for point in self._points:
            if spaces.point_key(self.space, point) not in taken:
                return dict(point)
        return None


class RandomSampler(Sampler):
    """Independent random draws seeded by (seed, len(history)).

    On a finite space a drawn point already in the history is drawn again (uniformly among
    the points left), and ``None`` comes once every point was tried. On an infinite space a
    repeat is practically impossible; after a bounded number of redraws it is returned anyway.
    """

    def next(self, history: Sequence[Trial]) -> dict[str, Any] | None:
        taken = self._taken(history)
        if self._exhausted(history):
            return None
        return self._draw_new(_rng("random", self.seed, len(history)), taken)

    def _draw_new(self, rng: random.Random, taken: set[tuple]) -> dict[str, Any] | None:
        """A draw not in ``taken``: rejection first, then the points left of a finite space."""
        point = spaces.sample(self.space, rng)
        for _ in range(_REJECTION_TRIES):
            if spaces.point_key(self.space, point) not in taken:
                return point
            point = spaces.sample(self.space, rng)
        total = spaces.size(self.space)
        if total is None:
            return point
        if total <= _ENUMERATE_LIMIT:
            left = [
                p for p in spaces.iter_points(self.space)
                if spaces.point_key(self.space, p) not in taken
            ]
            return rng.choice(left) if left else None
        for _ in range(_ENUMERATE_LIMIT):  # a huge space nearly all tried: keep drawing
            point = spaces.sample(self.space, rng)
            if spaces.point_key(self.space, point) not in taken:
                return point
        return None


class BayesianSampler(Sampler):
    """Optuna's TPE on a study rebuilt from the history at every call.

    Completed trials with a finite value inform the model; running ones are added as RUNNING
    so ``constant_liar`` spreads concurrent proposals; failed, canceled and value-less
    completed trials are added as FAIL. The first :data:`BAYESIAN_STARTUP_TRIALS` points are
    random (Optuna's warm-up). Distributions: choice -> categorical, uniform -> float,
    quniform(min, max, q) -> an integer ``k`` in ``[round(min/q), round(max/q)]`` with the
    value ``k * q``, so proposals are exactly the multiples of q random sampling yields (Optuna's
    stepped float distribution would need ``max - min`` divisible by ``q`` and would align the
    grid to ``min`` instead of 0). History points outside the space are left out of the model.
    """

    SUPPORTED = ("choice", "uniform", "quniform")

    def __init__(self, space: Mapping[str, list], goal: str, seed: int | None = None) -> None:
        super().__init__(space, seed)
        spaces.require_kinds(
            self.space, self.SUPPORTED, "BayesianParameterSampling",
            "use RandomParameterSampling for other expressions.",
        )
        self.goal = goal

    def next(self, history: Sequence[Trial]) -> dict[str, Any] | None:
        taken = self._taken(history)
        if self._exhausted(history):
            return None
        with _quiet_optuna():
            study, distributions = self._study(history)
            for _ in range(_BAYESIAN_ASKS):
                point = self._from_optuna(study.ask(distributions).params)
                if spaces.point_key(self.space, point) not in taken:
                    return point
                # The repeat stays RUNNING in the study, so the liar steers TPE elsewhere.
        fallback = RandomSampler(self.space, self.seed)
        return fallback._draw_new(_rng("bayesian-fallback", self.seed, len(history)), taken)

    def _study(self, history: Sequence[Trial]):
        import optuna

        sampler = optuna.samplers.TPESampler(
            seed=_rng("bayesian", self.seed, len(history)).getrandbits(31),
            constant_liar=True,
            n_startup_trials=BAYESIAN_STARTUP_TRIALS,
        )
        study = optuna.create_study(direction=self.goal, sampler=sampler)
        distributions = self._distributions()
        for trial in history:
            frozen = self._frozen(trial, distributions)
            if frozen is not None:
                study.add_trial(frozen)
        return study, distributions

    def _distributions(self) -> dict[str, Any]:
        from optuna.distributions import (
            CategoricalDistribution,
            FloatDistribution,
            IntDistribution,
        )

        distributions: dict[str, Any] = {}
        for name, (kind, args) in self.space.items():
            if kind == "choice":
                distributions[name] = CategoricalDistribution(tuple(args[0]))
            elif kind == "uniform":
                distributions[name] = FloatDistribution(float(args[0]), float(args[1]))
            else:
                steps = spaces.step_range(self.space[name])
                distributions[name] = IntDistribution(steps.start, steps.stop - 1)
        return distributions

    def _to_optuna(self, params: Mapping[str, Any]) -> dict[str, Any] | None:
        """History params in Optuna's terms, or None when they are not in the space."""
        converted: dict[str, Any] = {}
        for name, expr in self.space.items():
            if name not in params or not _admits(expr, params[name]):
                return None
            kind, args = expr
            value = params[name]
            if kind == "choice":
                key = spaces.value_key(value)
                converted[name] = next(o for o in args[0] if spaces.value_key(o) == key)
            elif kind == "uniform":
                converted[name] = float(value)
            else:
                converted[name] = round(value / args[2])
        return converted

    def _frozen(self, trial: Trial, distributions: dict[str, Any]):
        from optuna.trial import TrialState, create_trial

        params = self._to_optuna(trial.params)
        if params is None:
            return None
        state = _state(trial)
        value = trial.value
        if state == _COMPLETE and _finite(value):
            return create_trial(params=params, distributions=distributions,
                                value=float(value), state=TrialState.COMPLETE)
        optuna_state = TrialState.RUNNING if state == _PENDING else TrialState.FAIL
        return create_trial(params=params, distributions=distributions, state=optuna_state)

    def _from_optuna(self, params: Mapping[str, Any]) -> dict[str, Any]:
        point: dict[str, Any] = {}
        for name, (kind, args) in self.space.items():
            value = params[name]
            if kind == "uniform":
                point[name] = float(value)
            elif kind == "quniform":
                point[name] = spaces.multiple_of(int(value), args[2])
            else:
                point[name] = value
        return point


def _finite(value: Any) -> bool:
    try:
        return value is not None and math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def _admits(expr: list, value: Any) -> bool:
    """True when ``value`` is one the (Bayesian-supported) expression can take."""
    kind, args = expr
    if kind == "uniform":
        return not isinstance(value, bool) and _finite(value) and args[0] <= value <= args[1]
    return spaces.contains({"p": expr}, {"p": value})


@contextlib.contextmanager
def _quiet_optuna() -> Iterator[None]:
    """Silence Optuna's INFO logs and experimental warnings, restoring its verbosity after."""
    import optuna

    before = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            yield
    finally:
        optuna.logging.set_verbosity(before)


_GOALS = {"maximize": "maximize", "minimize": "minimize"}


def make_sampler(spec: Mapping[str, Any], goal: str) -> Sampler:
    """The sampler for ``spec`` (a sampling object's ``_spec()``) and ``goal``.

    ``goal`` is 'maximize' or 'minimize' (any case; azureml's PrimaryMetricGoal values work).
    """
    if not isinstance(spec, Mapping) or "kind" not in spec or "space" not in spec:
        raise UserErrorException(
            "spec must be a sampling's _spec(): {'kind': ..., 'space': ..., 'seed': ...}, "
            f"got {spec!r}."
        )
    direction = _GOALS.get(str(getattr(goal, "value", goal)).lower())
    if direction is None:
        raise UserErrorException(f"goal must be 'maximize' or 'minimize', got {goal!r}.")
    kind, space, seed = spec["kind"], spec["space"], spec.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise UserErrorException(f"spec seed must be an int or None, got {seed!r}.")
    if kind == "grid":
        return GridSampler(space, seed)
    if kind == "random":
        return RandomSampler(space, seed)
    if kind == "bayesian":
        return BayesianSampler(space, direction, seed)
    raise UserErrorException(
        f"spec kind must be 'grid', 'random' or 'bayesian', got {kind!r}."
    )
