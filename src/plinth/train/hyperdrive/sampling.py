"""How a sweep picks hyperparameter values (azureml's ``GridParameterSampling`` & co.).

``parameter_space`` maps a parameter name (``'--learning_rate'`` or ``'learning_rate'``) to a
:mod:`~plinth.train.hyperdrive.parameter_expressions` expression. It is validated when the
sampling is built, so a bad space fails before anything is submitted.
"""

from __future__ import annotations

import copy
import numbers
from collections.abc import Mapping
from typing import Any

from plinth._tuning.space import check_space, require_kinds
from plinth.exceptions import UserErrorException

__all__ = [
    "BayesianParameterSampling",
    "GridParameterSampling",
    "HyperParameterSampling",
    "RandomParameterSampling",
]


class HyperParameterSampling:
    """Base class: a validated parameter space and how to sample it."""

    SAMPLING_NAME = ""
    _KIND = ""
    _SUPPORTED: tuple[str, ...] | None = None

    def __init__(self, parameter_space: Mapping[str, Any], seed: int | None = None) -> None:
        space = check_space(parameter_space)
        if self._SUPPORTED is not None:
            require_kinds(space, self._SUPPORTED, type(self).__name__,
                          "use RandomParameterSampling for other expressions.")
        self.parameter_space: dict[str, list] = space
        self._seed = _check_seed(seed, "seed")

    @property
    def sampling_name(self) -> str:
        """azureml's name of the method: 'GRID', 'RANDOM' or 'BayesianOptimization'."""
        return self.SAMPLING_NAME

    @property
    def seed(self) -> int | None:
        return self._seed

    def _spec(self) -> dict[str, Any]:
        """What the sweep engine needs: ``{"kind", "space", "seed"}``, JSON-able."""
        return {"kind": self._KIND, "space": copy.deepcopy(self.parameter_space),
                "seed": self._seed}

    def to_json(self) -> dict[str, Any]:
        """azureml's serialised form: name, parameter space and properties."""
        properties = {} if self._seed is None else {"rngSeed": self._seed}
        return {"name": self.SAMPLING_NAME, "parameter_space": copy.deepcopy(
            self.parameter_space), "properties": properties}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.parameter_space!r})"


class GridParameterSampling(HyperParameterSampling):
    """Every combination of ``choice`` values, in order (the last parameter varies fastest).

    Only ``choice`` expressions can be gridded; use :class:`RandomParameterSampling` for
    ranges and distributions.
    """

    SAMPLING_NAME = "GRID"
    _KIND = "grid"
    _SUPPORTED = ("choice",)

    def __init__(self, parameter_space: Mapping[str, Any]) -> None:
        super().__init__(parameter_space)


class RandomParameterSampling(HyperParameterSampling):
    """Independent random draws from every expression.

    ``seed`` (or ``properties={"rngSeed": 42}``, azureml's spelling; ``"seed"`` works too)
    makes the sweep reproducible. ``properties`` may also say ``{"rule": "random"}``.
    """

    SAMPLING_NAME = "RANDOM"
    _KIND = "random"

    def __init__(self, parameter_space: Mapping[str, Any], properties: Mapping[str, Any] | None
                 = None, seed: int | None = None) -> None:
        super().__init__(parameter_space, _merge_seed(properties, seed))
        self.properties = dict(properties or {})


class BayesianParameterSampling(HyperParameterSampling):
    """Bayesian optimisation (TPE) over ``choice``, ``uniform`` and ``quniform`` parameters.

    The first points are random (a warm-up); later ones follow the primary metric. Give the
    sweep enough runs (azureml suggests at least 20 per parameter) and few concurrent ones.
    ``seed`` is a Plinth extension: the same history gives the same proposal, so a sweep
    repeats when its children finish in the same order.
    """

    SAMPLING_NAME = "BayesianOptimization"
    _KIND = "bayesian"
    _SUPPORTED = ("choice", "uniform", "quniform")

    def __init__(self, parameter_space: Mapping[str, Any], seed: int | None = None) -> None:
        super().__init__(parameter_space, seed)


_SEED_KEYS = ("rngSeed", "seed")
_RULES = ("random",)


def _check_seed(seed: Any, name: str) -> int | None:
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise UserErrorException(f"{name} must be an int or None, got {seed!r}.")
    return int(seed)


def _merge_seed(properties: Mapping[str, Any] | None, seed: int | None) -> int | None:
    """The seed from ``seed`` and ``properties``, which must agree where both give one."""
    if properties is None:
        return _check_seed(seed, "seed")
    if not isinstance(properties, Mapping):
        raise UserErrorException(
            f"properties must be a dict such as {{'rngSeed': 42}}, got {properties!r}."
        )
    unknown = sorted(set(properties) - {*_SEED_KEYS, "rule"})
    if unknown:
        raise UserErrorException(
            f"properties has unsupported key(s) {unknown}; RandomParameterSampling understands "
            f"{', '.join(_SEED_KEYS)} and rule."
        )
    rule = properties.get("rule", "random")
    if str(rule).lower() not in _RULES:
        raise UserErrorException(
            f"properties['rule'] {rule!r} is not supported; only 'random' is, remove it."
        )
    seeds = {_check_seed(properties[key], f"properties[{key!r}]")
             for key in _SEED_KEYS if key in properties}
    seeds.add(_check_seed(seed, "seed"))
    seeds.discard(None)
    if len(seeds) > 1:
        raise UserErrorException(
            f"seed and properties give different seeds {sorted(seeds)}; give the seed once."
        )
    return seeds.pop() if seeds else None
