"""Early termination policies for HyperDrive sweeps, with azureml's names and arguments.

A policy is applied to each running child at evaluation points counted in reports of the
primary metric: the k-th value a child logs for the primary metric is its report k, and the
policy evaluates at the reports k that are multiples of ``evaluation_interval`` with
``k >= delay_evaluation``. A child is judged at the latest such point it has reached, against
the children (finished ones included) that reached the same point. The exact rules are stated
in :mod:`plinth._tuning.policies`, which applies them.

* :class:`BanditPolicy` cancels a child whose best value so far is not within the slack
  (``slack_factor`` or ``slack_amount``) of the best child's.
* :class:`MedianStoppingPolicy` cancels a child whose best value so far is worse than the median
  of the children's running averages.
* :class:`TruncationSelectionPolicy` cancels the lowest ``truncation_percentage`` % of the
  children at each evaluation point.
* :class:`NoTerminationPolicy` lets every child run to completion.
"""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any

from plinth.exceptions import UserErrorException

__all__ = [
    "EarlyTerminationPolicy",
    "BanditPolicy",
    "MedianStoppingPolicy",
    "TruncationSelectionPolicy",
    "NoTerminationPolicy",
]


def _check_int(name: str, value: Any, minimum: int, maximum: int | None = None) -> int:
    """``value`` as an int in ``[minimum, maximum]``, or a UserErrorException naming ``name``."""
    bounds = f">= {minimum}" if maximum is None else f"from {minimum} to {maximum}"
    if not isinstance(value, Integral) or isinstance(value, bool):
        raise UserErrorException(f"{name} must be an int {bounds}, got {value!r}.")
    if value < minimum or (maximum is not None and value > maximum):
        raise UserErrorException(f"{name} must be an int {bounds}, got {value!r}.")
    return int(value)


def _check_positive(name: str, value: Any) -> float:
    """``value`` as a finite float > 0, or a UserErrorException naming ``name``."""
    if not isinstance(value, Real) or isinstance(value, bool) or not math.isfinite(value):
        raise UserErrorException(f"{name} must be a number > 0, got {value!r}.")
    if value <= 0:
        raise UserErrorException(f"{name} must be a number > 0, got {value!r}.")
    return float(value)


class EarlyTerminationPolicy:
    """Base of the early termination policies: a name and its properties (azureml's shape).

    ``policy_name`` is azureml's name of the policy (``"Bandit"``, ``"MedianStopping"``,
    ``"TruncationSelection"``, ``"Default"``); ``_spec()`` is what the sweep engine applies.
    """

    POLICY_NAME = ""

    def __init__(self, name: str, properties: dict[str, Any] | None = None):
        self._name = name
        self._properties = dict(properties or {})

    @property
    def policy_name(self) -> str:
        """azureml's name of the policy."""
        return self._name

    def to_json(self) -> dict[str, Any]:
        """``{"name": policy_name, "properties": {...}}``, as azureml serializes a policy."""
        return {"name": self._name, "properties": dict(self._properties)}

    def _spec(self) -> dict[str, Any]:
        """The dict :func:`plinth._tuning.policies.decide` applies."""
        raise NotImplementedError

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, EarlyTerminationPolicy):
            return NotImplemented
        return type(self) is type(other) and self._spec() == other._spec()

    def __hash__(self) -> int:
        return hash((type(self).__name__, tuple(sorted(self._spec().items()))))

    def __repr__(self) -> str:
        args = ", ".join(f"{key}={value!r}" for key, value in self._properties.items())
        return f"{type(self).__name__}({args})"


class _IntervalPolicy(EarlyTerminationPolicy):
    """A policy evaluated every ``evaluation_interval`` reports from ``delay_evaluation`` on."""

    def __init__(self, name: str, evaluation_interval: int, delay_evaluation: int,
                 properties: dict[str, Any]):
        self._evaluation_interval = _check_int("evaluation_interval", evaluation_interval, 1)
        self._delay_evaluation = _check_int("delay_evaluation", delay_evaluation, 0)
        super().__init__(name, {
            "evaluation_interval": self._evaluation_interval,
            "delay_evaluation": self._delay_evaluation,
            **properties,
        })

    @property
    def evaluation_interval(self) -> int:
        """The policy evaluates at every report k that is a multiple of this (>= 1)."""
        return self._evaluation_interval

    @property
    def delay_evaluation(self) -> int:
        """The policy evaluates only at reports k >= this (0 means from the first interval)."""
        return self._delay_evaluation

    def _interval_spec(self, kind: str) -> dict[str, Any]:
        return {
            "kind": kind,
            "evaluation_interval": self._evaluation_interval,
            "delay_evaluation": self._delay_evaluation,
        }


class BanditPolicy(_IntervalPolicy):
    """Cancel a child whose metric is not within the slack of the best performing child.

    Exactly one of ``slack_factor`` (a ratio > 0) or ``slack_amount`` (an absolute distance > 0)
    is given. At a child's evaluation point k, with B the best value any child reported up to
    its report k (children that reached k), the child is cancelled when its own best value up
    to report k is, for maximize, below ``B / (1 + slack_factor)`` or ``B - slack_amount``;
    for minimize, above ``B * (1 + slack_factor)`` or ``B + slack_amount``.
    """

    POLICY_NAME = "Bandit"

    def __init__(self, evaluation_interval: int = 1, slack_factor: float | None = None,
                 slack_amount: float | None = None, delay_evaluation: int = 0):
        if (slack_factor is None) == (slack_amount is None):
            raise UserErrorException(
                "BanditPolicy needs exactly one of slack_factor (a ratio, e.g. 0.1) and "
                f"slack_amount (an absolute distance, e.g. 0.05); got slack_factor="
                f"{slack_factor!r}, slack_amount={slack_amount!r}."
            )
        self._slack_factor = (
            None if slack_factor is None else _check_positive("slack_factor", slack_factor)
        )
        self._slack_amount = (
            None if slack_amount is None else _check_positive("slack_amount", slack_amount)
        )
        slack = (
            {"slack_factor": self._slack_factor}
            if self._slack_amount is None
            else {"slack_amount": self._slack_amount}
        )
        super().__init__(self.POLICY_NAME, evaluation_interval, delay_evaluation, slack)

    @property
    def slack_factor(self) -> float | None:
        """The allowed distance from the best child, as a ratio (or ``None``)."""
        return self._slack_factor

    @property
    def slack_amount(self) -> float | None:
        """The allowed distance from the best child, as an absolute amount (or ``None``)."""
        return self._slack_amount

    def _spec(self) -> dict[str, Any]:
        return {
            **self._interval_spec("bandit"),
            "slack_factor": self._slack_factor,
            "slack_amount": self._slack_amount,
        }


class MedianStoppingPolicy(_IntervalPolicy):
    """Cancel a child whose best metric so far is worse than the median of running averages.

    At a child's evaluation point k, M is the median, over the children that reached report k,
    of the average of their first k reports; the child is cancelled when the best of its own
    first k reports is strictly worse than M.
    """

    POLICY_NAME = "MedianStopping"

    def __init__(self, evaluation_interval: int = 1, delay_evaluation: int = 0):
        super().__init__(self.POLICY_NAME, evaluation_interval, delay_evaluation, {})

    def _spec(self) -> dict[str, Any]:
        return self._interval_spec("median")


class TruncationSelectionPolicy(_IntervalPolicy):
    """Cancel the lowest ``truncation_percentage`` % of the children at each evaluation point.

    At a child's evaluation point k, the n children that reached report k (less the finished
    ones when ``exclude_finished_jobs`` is true) are ranked by their report k; the
    ``floor(n * truncation_percentage / 100)`` worst are cancelled (none while that is 0, and
    none of a group tied across the cut).
    """

    POLICY_NAME = "TruncationSelection"

    def __init__(self, truncation_percentage: int, evaluation_interval: int = 1,
                 delay_evaluation: int = 0, exclude_finished_jobs: bool = False):
        self._truncation_percentage = _check_int(
            "truncation_percentage", truncation_percentage, 1, 99
        )
        if not isinstance(exclude_finished_jobs, bool):
            raise UserErrorException(
                f"exclude_finished_jobs must be True or False, got {exclude_finished_jobs!r}."
            )
        self._exclude_finished_jobs = exclude_finished_jobs
        super().__init__(self.POLICY_NAME, evaluation_interval, delay_evaluation, {
            "truncation_percentage": self._truncation_percentage,
            "exclude_finished_jobs": self._exclude_finished_jobs,
        })

    @property
    def truncation_percentage(self) -> int:
        """The percentage (1 to 99) of lowest performing children cancelled at each point."""
        return self._truncation_percentage

    @property
    def exclude_finished_jobs(self) -> bool:
        """Whether finished children are left out of the ranking."""
        return self._exclude_finished_jobs

    def _spec(self) -> dict[str, Any]:
        return {
            **self._interval_spec("truncation"),
            "truncation_percentage": self._truncation_percentage,
            "exclude_finished_jobs": self._exclude_finished_jobs,
        }


class NoTerminationPolicy(EarlyTerminationPolicy):
    """Never cancel a child: every child runs to completion."""

    POLICY_NAME = "Default"

    def __init__(self):
        super().__init__(self.POLICY_NAME)

    def _spec(self) -> dict[str, Any]:
        return {"kind": "none"}
