"""Early termination engine: which running children of a sweep to cancel now.

:func:`decide` is a pure function of the policy's spec (``EarlyTerminationPolicy._spec()``),
the goal, every child's primary-metric values in logged order, and the ids of the children still
running. The sweep driver calls it again and again as metrics arrive; it holds no state.

Definitions (the reference for every policy below)
---------------------------------------------------
Report
    The k-th value a child logged for the primary metric is its report k (k = 1, 2, ...).
    NaN (and ``None``) values are ignored: they are not reports and do not advance k.
Evaluation point
    Report k is an evaluation point when ``k % evaluation_interval == 0`` and
    ``k >= delay_evaluation`` (azureml: "the policy applies every multiple of
    evaluation_interval that is greater than or equal to delay_evaluation"; with
    ``delay_evaluation=5`` the first evaluation is at report 5).
Judged interval
    A running child with n reports is judged only at its latest evaluation point
    ``k = (n // evaluation_interval) * evaluation_interval``, and only if that k is an
    evaluation point (k >= 1 and k >= delay_evaluation). A child with no evaluation point yet
    is never judged. Judging only the latest point makes repeated calls on the same data give
    the same answer, and a child is never judged on an interval it has not reached.
Cohort at k
    Every child, finished or running, with at least k reports; each is taken at its first k
    reports only (values a child logged after report k are not looked at). The judged child
    belongs to its own cohort. Only running children are ever returned; finished children are
    comparison only.
Better / worse
    With goal ``maximize`` larger is better; with ``minimize`` smaller is better.
    ``best(c, k)`` is the best of child c's first k reports; ``mean(c, k)`` is their average.

Rules, for a running child r judged at interval k
-------------------------------------------------
BanditPolicy (``kind="bandit"``)
    B = the best of ``best(c, k)`` over the cohort at k (the best performing child so far).
    r is cancelled when ``best(r, k)`` is outside the slack of B:

    * maximize, slack_factor f: ``best(r, k) < B / (1 + f)``
    * minimize, slack_factor f: ``best(r, k) > B * (1 + f)``
    * maximize, slack_amount a: ``best(r, k) < B - a``
    * minimize, slack_amount a: ``best(r, k) > B + a``

    Equality is inside the slack (not cancelled). The slack_factor forms are azureml's and
    assume B >= 0; for a negative B the same distance ``|B| * f / (1 + f)`` (maximize) or
    ``|B| * f`` (minimize) is taken on the worse side of B, so the bar never passes B itself.
MedianStoppingPolicy (``kind="median"``)
    M = the median (``statistics.median``: the mean of the two middle values for an even count)
    of ``mean(c, k)`` over the cohort at k. r is cancelled when ``best(r, k)`` is strictly worse
    than M (maximize: ``best(r, k) < M``; minimize: ``best(r, k) > M``).
TruncationSelectionPolicy (``kind="truncation"``)
    Cohort' = the cohort at k, less the finished children when ``exclude_finished_jobs`` is
    true (children listed in ``cancelled`` stay in it: a cancellation does not move the cut).
    n = its size; q = ``floor(n * truncation_percentage / 100)``. Nothing is cancelled when
    q < 1. Runs are ranked by their report k (their value at interval k). r is cancelled when
    the number of children in Cohort' whose report k is worse than or equal to r's (r
    included) is at most q: r is among the q worst, and a tie across the cut spares every
    child in the tie, so never more than q are cancelled at one interval.
NoTerminationPolicy (``kind="none"``, or no spec)
    Never cancels.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from plinth.exceptions import UserErrorException

__all__ = ["decide", "latest_evaluation_point", "metric_numbers", "reported_values"]

_GOALS = {"maximize": True, "minimize": False}


@dataclass(frozen=True)
class _Context:
    """What every rule sees: the curves (NaN dropped), the running ids and the goal."""

    spec: Mapping[str, Any]
    curves: Mapping[str, list[float]]
    running: frozenset[str]
    cancelled: frozenset[str]
    maximize: bool
    metric_name: str

    def cohort(self, k: int) -> dict[str, list[float]]:
        """Every child with at least k reports, cut to its first k reports."""
        return {rid: curve[:k] for rid, curve in self.curves.items() if len(curve) >= k}

    def better(self, a: float, b: float) -> bool:
        """True when ``a`` is strictly better than ``b`` for the goal."""
        return a > b if self.maximize else a < b

    def best(self, values: Sequence[float]) -> float:
        """The best of ``values`` for the goal."""
        return max(values) if self.maximize else min(values)


def decide(spec: Mapping[str, Any] | None, goal: str, series: Mapping[str, Sequence[float]],
           running: Collection[str], *, metric_name: str = "primary metric",
           cancelled: Collection[str] = ()) -> dict[str, str]:
    """Return ``{run_id: reason}`` for the running children the policy cancels now.

    ``spec`` is ``policy._spec()``; ``goal`` is ``'maximize'`` or ``'minimize'`` (any case, or a
    ``PrimaryMetricGoal``); ``series[run_id]`` holds every child's primary-metric values in logged
    order (finished and running alike, possibly empty); ``running`` the ids still running.
    ``cancelled`` (optional) names children already cancelled; only TruncationSelectionPolicy
    with ``exclude_finished_jobs=True`` reads it. The rules are in this module's docstring.
    """
    kind = _kind(spec)
    if kind == "none":
        return {}
    rule = _RULES[kind]
    ctx = _Context(
        spec=spec or {},
        curves={str(rid): reported_values(values) for rid, values in series.items()},
        running=frozenset(str(rid) for rid in running),
        cancelled=frozenset(str(rid) for rid in cancelled),
        maximize=_maximize(goal),
        metric_name=metric_name,
    )
    interval, delay = _interval_and_delay(ctx.spec)
    decisions: dict[str, str] = {}
    for rid in sorted(ctx.running):
        k = latest_evaluation_point(len(ctx.curves.get(rid, ())), interval, delay)
        if k is None:
            continue
        reason = rule(ctx, rid, k)
        if reason is not None:
            decisions[rid] = reason
    return decisions


def metric_numbers(points: Iterable[Any]) -> list[int | float]:
    """The numeric values of logged metric points (``MetricPoint``), as logged: bools,
    text and NaN are not reports of a primary metric."""
    return [p.value for p in points
            if isinstance(p.value, (int, float)) and not isinstance(p.value, bool)
            and not math.isnan(p.value)]


def reported_values(values: Sequence[Any] | None) -> list[float]:
    """The reports in ``values``: each as a float, NaN and ``None`` dropped (not reports)."""
    reports = []
    for value in values or ():
        if value is None:
            continue
        number = float(value)
        if not math.isnan(number):
            reports.append(number)
    return reports


def latest_evaluation_point(n_reports: int, evaluation_interval: int,
                            delay_evaluation: int) -> int | None:
    """The latest report k <= ``n_reports`` the policy evaluates at, or ``None`` if none yet.

    k is the largest multiple of ``evaluation_interval`` not above ``n_reports``; it counts only
    when ``k >= 1`` and ``k >= delay_evaluation``.
    """
    k = (n_reports // evaluation_interval) * evaluation_interval
    if k < 1 or k < delay_evaluation:
        return None
    return k


def _kind(spec: Mapping[str, Any] | None) -> str:
    """The spec's ``kind``; ``None`` or an empty spec means no termination."""
    if not spec:
        return "none"
    kind = spec.get("kind", "none")
    if kind != "none" and kind not in _RULES:
        raise UserErrorException(
            f"spec['kind'] must be one of 'bandit', 'median', 'truncation', 'none'; got {kind!r}."
        )
    return kind


def _maximize(goal: Any) -> bool:
    """True for ``'maximize'``, False for ``'minimize'`` (any case, enum values too)."""
    text = str(getattr(goal, "value", goal)).lower()
    if text not in _GOALS:
        raise UserErrorException(f"goal must be 'maximize' or 'minimize', got {goal!r}.")
    return _GOALS[text]


def _interval_and_delay(spec: Mapping[str, Any]) -> tuple[int, int]:
    """``evaluation_interval`` (default 1) and ``delay_evaluation`` (default 0) of the spec."""
    interval = spec.get("evaluation_interval", 1)
    delay = spec.get("delay_evaluation", 0)
    if not isinstance(interval, int) or isinstance(interval, bool) or interval < 1:
        raise UserErrorException(
            f"spec['evaluation_interval'] must be an int >= 1, got {interval!r}."
        )
    if not isinstance(delay, int) or isinstance(delay, bool) or delay < 0:
        raise UserErrorException(f"spec['delay_evaluation'] must be an int >= 0, got {delay!r}.")
    return interval, delay


def _fmt(value: float) -> str:
    """A number for a reason sentence: six significant digits."""
    return f"{value:.6g}"


# --- BanditPolicy ---------------------------------------------------------------------------


def _bandit(ctx: _Context, rid: str, k: int) -> str | None:
    """Bandit: cancel r when best(r, k) is outside the slack of the best child's best(c, k)."""
    cohort = ctx.cohort(k)
    leader = ctx.best([ctx.best(curve) for curve in cohort.values()])
    mine = ctx.best(cohort[rid])
    bar, formula = _bandit_bar(ctx, leader)
    if not ctx.better(bar, mine):
        return None
    side = "below" if ctx.maximize else "above"
    return (
        f"BanditPolicy: best {ctx.metric_name} {_fmt(mine)} up to interval {k} is {side} "
        f"the best run's {formula} = {_fmt(bar)}."
    )


def _bandit_bar(ctx: _Context, leader: float) -> tuple[float, str]:
    """The worst value still inside the slack of ``leader``, and how it was computed."""
    factor = ctx.spec.get("slack_factor")
    amount = ctx.spec.get("slack_amount")
    if (factor is None) == (amount is None):
        raise UserErrorException(
            "A bandit spec needs exactly one of slack_factor and slack_amount, got "
            f"slack_factor={factor!r}, slack_amount={amount!r}."
        )
    sign = 1.0 if ctx.maximize else -1.0
    if amount is not None:
        op = "-" if ctx.maximize else "+"
        return leader - sign * amount, f"{_fmt(leader)} {op} {_fmt(amount)}"
    if leader >= 0:
        if ctx.maximize:
            return leader / (1 + factor), f"{_fmt(leader)} / (1 + {_fmt(factor)})"
        return leader * (1 + factor), f"{_fmt(leader)} * (1 + {_fmt(factor)})"
    distance = abs(leader) * factor / (1 + factor) if ctx.maximize else abs(leader) * factor
    op = "-" if ctx.maximize else "+"
    shown = f"|{_fmt(leader)}| * {_fmt(factor)}" + (
        f" / (1 + {_fmt(factor)})" if ctx.maximize else ""
    )
    return leader - sign * distance, f"{_fmt(leader)} {op} {shown}"


# --- MedianStoppingPolicy -------------------------------------------------------------------


def _median(ctx: _Context, rid: str, k: int) -> str | None:
    """Median stopping: cancel r when best(r, k) is worse than the median of mean(c, k)."""
    cohort = ctx.cohort(k)
    median = statistics.median(statistics.fmean(curve) for curve in cohort.values())
    mine = ctx.best(cohort[rid])
    if not ctx.better(median, mine):
        return None
    side = "below" if ctx.maximize else "above"
    return (
        f"MedianStoppingPolicy: best {ctx.metric_name} {_fmt(mine)} up to interval {k} is "
        f"{side} the median {_fmt(median)} of the running averages of the {len(cohort)} runs "
        f"that reached interval {k}."
    )


# --- TruncationSelectionPolicy --------------------------------------------------------------


def _truncation(ctx: _Context, rid: str, k: int) -> str | None:
    """Truncation: cancel r when its report k is among the q worst of the cohort at k."""
    percentage = ctx.spec.get("truncation_percentage")
    if not isinstance(percentage, int) or isinstance(percentage, bool) or not (
        1 <= percentage <= 99
    ):
        raise UserErrorException(
            f"spec['truncation_percentage'] must be an int from 1 to 99, got {percentage!r}."
        )
    values = _truncation_cohort(ctx, k)
    n = len(values)
    quota = n * percentage // 100
    if quota < 1:
        return None
    mine = values[rid]
    at_most_as_good = sum(1 for value in values.values() if not ctx.better(value, mine))
    if at_most_as_good > quota:
        return None
    return (
        f"TruncationSelectionPolicy: {ctx.metric_name} {_fmt(mine)} at interval {k} is among "
        f"the lowest {percentage}% of the {n} runs that reached interval {k}: "
        f"{at_most_as_good} of them (itself included) are no better, and the {quota} worst "
        f"are cancelled."
    )


def _truncation_cohort(ctx: _Context, k: int) -> dict[str, float]:
    """Report k of each child in the truncation cohort at k (see the module docstring)."""
    exclude_finished = bool(ctx.spec.get("exclude_finished_jobs", False))
    return {
        rid: curve[-1]
        for rid, curve in ctx.cohort(k).items()
        if not exclude_finished or rid in ctx.running or rid in ctx.cancelled
    }


_RULES: dict[str, Callable[[_Context, str, int], str | None]] = {
    "bandit": _bandit,
    "median": _median,
    "truncation": _truncation,
}
