"""Early termination policies: the public classes and the pure ``decide`` engine."""

from __future__ import annotations

import math

import pytest

from plinth._tuning.policies import decide, latest_evaluation_point, reported_values
from plinth.exceptions import UserErrorException
from plinth.train.hyperdrive.policy import (
    BanditPolicy,
    EarlyTerminationPolicy,
    MedianStoppingPolicy,
    NoTerminationPolicy,
    TruncationSelectionPolicy,
)

NAN = float("nan")
EPS = 1e-9


def bandit(**kwargs) -> dict:
    return BanditPolicy(**kwargs)._spec()


def median(**kwargs) -> dict:
    return MedianStoppingPolicy(**kwargs)._spec()


def truncation(pct: int, **kwargs) -> dict:
    return TruncationSelectionPolicy(pct, **kwargs)._spec()


# --- evaluation points ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "interval", "delay", "expected"),
    [
        (0, 1, 0, None),
        (1, 1, 0, 1),
        (3, 1, 0, 3),
        (1, 2, 0, None),
        (3, 2, 0, 2),
        (4, 2, 0, 4),
        (4, 1, 5, None),
        (5, 1, 5, 5),
        (7, 3, 5, 6),
        (5, 3, 5, None),
    ],
)
def test_latest_evaluation_point(n, interval, delay, expected):
    assert latest_evaluation_point(n, interval, delay) == expected


def test_reported_values_drop_nan_and_none():
    assert reported_values([1, NAN, None, 2.5]) == [1.0, 2.5]
    assert reported_values(None) == []


# --- BanditPolicy ---------------------------------------------------------------------------


def test_bandit_slack_factor_maximize_boundary():
    spec = bandit(slack_factor=0.1)
    bar = 0.8 / 1.1
    series = {"best": [0.8], "inside": [bar + EPS], "edge": [bar], "outside": [bar - EPS]}
    out = decide(spec, "maximize", series, running=series.keys())
    assert set(out) == {"outside"}
    assert out["outside"].startswith("BanditPolicy:")
    assert "interval 1" in out["outside"] and "0.8 / (1 + 0.1)" in out["outside"]


def test_bandit_slack_factor_minimize_boundary():
    spec = bandit(slack_factor=0.2)
    bar = 0.5 * 1.2
    series = {"best": [0.5], "inside": [bar - EPS], "edge": [bar], "outside": [bar + EPS]}
    out = decide(spec, "minimize", series, running=series.keys())
    assert set(out) == {"outside"}
    assert "above" in out["outside"] and "0.5 * (1 + 0.2)" in out["outside"]


def test_bandit_slack_amount_both_goals():
    series = {"best": [0.8], "inside": [0.7 + EPS], "outside": [0.7 - EPS]}
    out = decide(bandit(slack_amount=0.1), "maximize", series, series.keys())
    assert set(out) == {"outside"}
    assert "0.8 - 0.1" in out["outside"]
    series = {"best": [0.3], "inside": [0.4 - EPS], "outside": [0.4 + EPS]}
    out = decide(bandit(slack_amount=0.1), "MINIMIZE", series, series.keys())
    assert set(out) == {"outside"}


def test_bandit_judges_the_runs_best_so_far_against_the_best_run():
    # "late" dipped at its report 2 but its best up to report 2 (0.79) is within the slack.
    spec = bandit(slack_factor=0.1)
    series = {"lead": [0.5, 0.8], "late": [0.79, 0.1], "bad": [0.6, 0.7]}
    assert set(decide(spec, "maximize", series, series.keys())) == {"bad"}


def test_bandit_negative_metric_never_cancels_the_best_run():
    spec = bandit(slack_factor=0.1)
    series = {"best": [-1.0], "close": [-1.0 - 0.1 / 1.1 + EPS], "far": [-1.2]}
    assert set(decide(spec, "maximize", series, series.keys())) == {"far"}
    series = {"best": [-1.0], "close": [-0.9 - EPS], "far": [-0.8]}
    assert set(decide(spec, "minimize", series, series.keys())) == {"far"}


def test_bandit_compares_only_runs_that_reached_the_interval():
    spec = bandit(slack_factor=0.1)
    # "fast" has 0.9 at report 3, but "slow" is judged at report 1 against report 1 values.
    series = {"fast": [0.5, 0.7, 0.9], "slow": [0.5]}
    assert decide(spec, "maximize", series, series.keys()) == {}
    # And a run is not judged on an interval it has not reached: "fresh" has no report yet.
    series = {"fast": [0.5, 0.7, 0.9], "fresh": []}
    assert decide(spec, "maximize", series, series.keys()) == {}


def test_bandit_judges_the_latest_interval_only():
    spec = bandit(slack_factor=0.1)
    # "recovered" was outside the slack at report 1 but is inside at report 2.
    series = {"lead": [0.8, 0.8], "recovered": [0.1, 0.79]}
    assert decide(spec, "maximize", series, series.keys()) == {}


def test_finished_runs_are_comparison_only():
    spec = bandit(slack_factor=0.1)
    series = {"done": [0.9, 0.9, 0.2], "done_bad": [0.1], "live": [0.5]}
    out = decide(spec, "maximize", series, running={"live"})
    assert set(out) == {"live"}
    assert "0.9 / (1 + 0.1)" in out["live"]


def test_running_run_missing_from_series_is_not_judged():
    assert decide(bandit(slack_factor=0.1), "maximize", {"a": [0.9]}, {"a", "ghost"}) == {}


def test_evaluation_interval_two_decides_only_at_even_reports():
    spec = bandit(slack_factor=0.1, evaluation_interval=2)
    series = {"lead": [0.9, 0.9, 0.9], "bad": [0.1]}
    assert decide(spec, "maximize", series, series.keys()) == {}
    series["bad"] = [0.1, 0.1]
    assert set(decide(spec, "maximize", series, series.keys())) == {"bad"}
    # At report 3 "bad" is still judged on report 2, where it was outside the slack.
    series["bad"] = [0.1, 0.1, 0.95]
    assert set(decide(spec, "maximize", series, series.keys())) == {"bad"}


def test_evaluation_interval_two_judges_report_two_not_three():
    spec = truncation(50, evaluation_interval=2)
    # Fine at report 2; a bad report 3 is not looked at until report 4 is logged.
    series = {"lead": [0.9, 0.9, 0.9, 0.9], "run": [0.9, 0.95, 0.1]}
    assert decide(spec, "maximize", series, series.keys()) == {}
    series["run"].append(0.1)
    assert set(decide(spec, "maximize", series, series.keys())) == {"run"}


def test_delay_evaluation_no_decision_before_the_delay():
    spec = bandit(slack_factor=0.1, delay_evaluation=3)
    series = {"lead": [0.9] * 5, "bad": [0.1, 0.1]}
    assert decide(spec, "maximize", series, series.keys()) == {}
    series["bad"].append(0.1)  # report 3 >= delay_evaluation: first evaluation
    assert set(decide(spec, "maximize", series, series.keys())) == {"bad"}


def test_delay_and_interval_together():
    spec = bandit(slack_factor=0.1, evaluation_interval=2, delay_evaluation=3)
    series = {"lead": [0.9] * 6, "bad": [0.1] * 3}
    assert decide(spec, "maximize", series, series.keys()) == {}  # report 2 < 3, 3 is odd
    series["bad"].append(0.1)
    assert set(decide(spec, "maximize", series, series.keys())) == {"bad"}


def test_nan_is_not_a_report():
    spec = bandit(slack_factor=0.1, evaluation_interval=2)
    series = {"lead": [0.9, 0.9], "bad": [0.1, NAN, NAN]}
    assert decide(spec, "maximize", series, series.keys()) == {}
    series = {"lead": [0.9, NAN, 0.9], "bad": [0.1, NAN, 0.1]}
    assert set(decide(spec, "maximize", series, series.keys())) == {"bad"}


def test_decide_is_idempotent_and_does_not_mutate_inputs():
    spec = truncation(50)
    series = {"a": [0.1, 0.2], "b": [0.3, 0.4], "c": [0.5, 0.6], "d": [0.7, 0.8]}
    snapshot = {key: list(values) for key, values in series.items()}
    first = decide(spec, "maximize", series, series.keys())
    assert first == decide(spec, "maximize", series, series.keys())
    assert set(first) == {"a", "b"}
    assert series == snapshot
    # After the driver cancels them, they are finished: the cut does not move.
    assert decide(spec, "maximize", series, {"c", "d"}) == {}


def test_metric_name_in_reason():
    out = decide(bandit(slack_factor=0.1), "maximize", {"a": [0.8], "b": [0.612]}, {"b"},
                 metric_name="AUC")
    assert out["b"].startswith("BanditPolicy: best AUC 0.612 up to interval 1 is below")
    assert out["b"].endswith("= 0.727273.")


# --- MedianStoppingPolicy -------------------------------------------------------------------


def test_median_maximize_boundary():
    # Running averages at report 2: a=0.5, b=0.6, c=0.7 -> median 0.6.
    series = {"a": [0.4, 0.6], "b": [0.6, 0.6], "c": [0.7, 0.7]}
    assert decide(median(), "maximize", series, series.keys()) == {}  # a's best 0.6 == median
    series["a"] = [0.4, 0.6 - 3 * EPS]  # best just below; its own average moves too little
    out = decide(median(), "maximize", series, series.keys())
    assert set(out) == {"a"}
    assert out["a"].startswith("MedianStoppingPolicy:") and "3 runs" in out["a"]


def test_median_minimize_uses_best_so_far_and_running_averages():
    # Averages at report 2: a=1.0, b=2.0, c=3.0 -> median 2.0; c's best (lowest) is 2.5.
    series = {"a": [1.0, 1.0], "b": [2.0, 2.0], "c": [3.5, 2.5]}
    assert set(decide(median(), "minimize", series, series.keys())) == {"c"}
    series["c"] = [3.5, 2.0]  # best 2.0 == median: stays
    assert decide(median(), "minimize", series, series.keys()) == {}


def test_median_even_count_and_finished_runs():
    # Averages at report 1: 1, 2, 3, 4 -> median 2.5; "done" runs are finished.
    series = {"d1": [1.0], "d2": [4.0, 4.0], "x": [2.0], "y": [3.0]}
    out = decide(median(), "maximize", series, running={"x", "y"})
    assert set(out) == {"x"}


def test_median_single_run_never_stops():
    assert decide(median(), "maximize", {"a": [0.1, 0.05]}, {"a"}) == {}


def test_median_interval_and_delay():
    spec = median(evaluation_interval=2, delay_evaluation=4)
    series = {"a": [0.9] * 4, "b": [0.9] * 4, "c": [0.1] * 3}
    assert decide(spec, "maximize", series, series.keys()) == {}
    series["c"].append(0.1)
    assert set(decide(spec, "maximize", series, series.keys())) == {"c"}


# --- TruncationSelectionPolicy --------------------------------------------------------------


def test_truncation_cancels_the_lowest_percentage():
    series = {f"r{i}": [i / 10] for i in range(10)}
    out = decide(truncation(20), "maximize", series, series.keys())
    assert set(out) == {"r0", "r1"}
    assert out["r0"].startswith("TruncationSelectionPolicy:") and "lowest 20%" in out["r0"]
    out = decide(truncation(20), "minimize", series, series.keys())
    assert set(out) == {"r8", "r9"}


def test_truncation_with_too_few_runs_does_nothing():
    series = {"a": [0.1], "b": [0.5], "c": [0.9], "d": [0.9]}
    assert decide(truncation(20), "maximize", series, series.keys()) == {}  # floor(0.8) = 0
    series["e"] = [0.95]
    assert set(decide(truncation(20), "maximize", series, series.keys())) == {"a"}


def test_truncation_counts_only_runs_that_reached_the_interval():
    spec = truncation(50)
    # "young" is judged at report 1 against everyone's report 1 (n=3, q=1): the worst.
    # "a" is judged at report 2 against a and b only (n=2, q=1): the worst of those two.
    series = {"a": [0.1, 0.1], "b": [0.9, 0.9], "young": [0.0]}
    assert set(decide(spec, "maximize", series, series.keys())) == {"young", "a"}
    # "c" has not reached report 2: counted there, it would be the worst and spare "a".
    series = {"a": [0.5, 0.5], "b": [0.9, 0.9], "c": [0.1]}
    assert set(decide(spec, "maximize", series, {"a", "b"})) == {"a"}


def test_truncation_uses_the_value_at_the_interval():
    spec = truncation(50)
    # At report 2: a=0.2, b=0.3 -> a is the lowest even though its report 1 was the highest.
    series = {"a": [0.99, 0.2], "b": [0.1, 0.3]}
    assert set(decide(spec, "maximize", series, series.keys())) == {"a"}


def test_truncation_ties_across_the_cut_are_spared():
    series = {"a": [0.5], "b": [0.5], "c": [0.9], "d": [0.9]}
    assert set(decide(truncation(50), "maximize", series, series.keys())) == {"a", "b"}
    assert decide(truncation(25), "maximize", series, series.keys()) == {}
    same = {"a": [0.5], "b": [0.5], "c": [0.5], "d": [0.5]}
    assert decide(truncation(50), "maximize", same, same.keys()) == {}


def test_truncation_finished_runs_count_unless_excluded():
    series = {"done1": [0.1], "done2": [0.2], "x": [0.5], "y": [0.6]}
    assert decide(truncation(50), "maximize", series, {"x", "y"}) == {}
    spec = truncation(50, exclude_finished_jobs=True)
    assert set(decide(spec, "maximize", series, {"x", "y"})) == {"x"}


def test_truncation_exclude_finished_keeps_cancelled_runs_in_the_ranking():
    spec = truncation(50, exclude_finished_jobs=True)
    series = {"a": [0.1], "b": [0.2], "c": [0.5], "d": [0.6]}
    assert set(decide(spec, "maximize", series, series.keys())) == {"a", "b"}
    assert decide(spec, "maximize", series, {"c", "d"}, cancelled={"a", "b"}) == {}


def test_truncation_interval_and_delay():
    spec = truncation(50, evaluation_interval=2, delay_evaluation=2)
    series = {"a": [0.1], "b": [0.9]}
    assert decide(spec, "maximize", series, series.keys()) == {}
    series = {"a": [0.1, 0.1, 0.1], "b": [0.9, 0.9, 0.9]}
    assert set(decide(spec, "maximize", series, series.keys())) == {"a"}


# --- NoTerminationPolicy --------------------------------------------------------------------


def test_no_termination_never_cancels():
    series = {"a": [0.0] * 5, "b": [1.0] * 5}
    assert decide(NoTerminationPolicy()._spec(), "maximize", series, series.keys()) == {}
    assert decide(None, "maximize", series, series.keys()) == {}
    assert decide({}, "minimize", series, series.keys()) == {}


# --- the public classes ---------------------------------------------------------------------


def test_specs_and_attributes():
    policy = BanditPolicy(slack_factor=0.1)
    assert policy._spec() == {"kind": "bandit", "evaluation_interval": 1, "delay_evaluation": 0,
                              "slack_factor": 0.1, "slack_amount": None}
    assert (policy.evaluation_interval, policy.delay_evaluation) == (1, 0)
    assert (policy.slack_factor, policy.slack_amount, policy.policy_name) == (0.1, None, "Bandit")
    amount = BanditPolicy(evaluation_interval=2, slack_amount=0.2, delay_evaluation=4)
    assert amount._spec()["slack_amount"] == 0.2 and amount._spec()["slack_factor"] is None
    assert MedianStoppingPolicy(2, 3)._spec() == {
        "kind": "median", "evaluation_interval": 2, "delay_evaluation": 3}
    trunc = TruncationSelectionPolicy(20, evaluation_interval=1, delay_evaluation=5)
    assert trunc._spec() == {"kind": "truncation", "evaluation_interval": 1,
                             "delay_evaluation": 5, "truncation_percentage": 20,
                             "exclude_finished_jobs": False}
    assert (trunc.truncation_percentage, trunc.policy_name) == (20, "TruncationSelection")
    assert NoTerminationPolicy()._spec() == {"kind": "none"}
    assert NoTerminationPolicy().policy_name == "Default"
    assert MedianStoppingPolicy().policy_name == "MedianStopping"
    for cls in (BanditPolicy, MedianStoppingPolicy, TruncationSelectionPolicy,
                NoTerminationPolicy):
        assert issubclass(cls, EarlyTerminationPolicy)


def test_to_json_repr_and_equality():
    policy = BanditPolicy(slack_amount=0.2, evaluation_interval=3)
    assert policy.to_json() == {"name": "Bandit", "properties": {
        "evaluation_interval": 3, "delay_evaluation": 0, "slack_amount": 0.2}}
    assert repr(policy) == "BanditPolicy(evaluation_interval=3, delay_evaluation=0, " \
                           "slack_amount=0.2)"
    assert policy == BanditPolicy(slack_amount=0.2, evaluation_interval=3)
    assert policy != BanditPolicy(slack_amount=0.3, evaluation_interval=3)
    assert MedianStoppingPolicy() != TruncationSelectionPolicy(10)


@pytest.mark.parametrize(
    ("build", "argument"),
    [
        (lambda: BanditPolicy(), "slack_factor"),
        (lambda: BanditPolicy(slack_factor=0.1, slack_amount=0.1), "slack_amount"),
        (lambda: BanditPolicy(slack_factor=0), "slack_factor"),
        (lambda: BanditPolicy(slack_factor=-0.1), "slack_factor"),
        (lambda: BanditPolicy(slack_factor=math.nan), "slack_factor"),
        (lambda: BanditPolicy(slack_factor="0.1"), "slack_factor"),
        (lambda: BanditPolicy(slack_amount=0), "slack_amount"),
        (lambda: BanditPolicy(slack_factor=0.1, evaluation_interval=0), "evaluation_interval"),
        (lambda: BanditPolicy(slack_factor=0.1, evaluation_interval=1.5),
         "evaluation_interval"),
        (lambda: BanditPolicy(slack_factor=0.1, evaluation_interval=True),
         "evaluation_interval"),
        (lambda: BanditPolicy(slack_factor=0.1, delay_evaluation=-1), "delay_evaluation"),
        (lambda: MedianStoppingPolicy(evaluation_interval=-2), "evaluation_interval"),
        (lambda: MedianStoppingPolicy(delay_evaluation="5"), "delay_evaluation"),
        (lambda: TruncationSelectionPolicy(0), "truncation_percentage"),
        (lambda: TruncationSelectionPolicy(100), "truncation_percentage"),
        (lambda: TruncationSelectionPolicy(20.5), "truncation_percentage"),
        (lambda: TruncationSelectionPolicy(20, delay_evaluation=-1), "delay_evaluation"),
        (lambda: TruncationSelectionPolicy(20, exclude_finished_jobs="yes"),
         "exclude_finished_jobs"),
    ],
)
def test_argument_errors_name_the_argument(build, argument):
    with pytest.raises(UserErrorException, match=argument):
        build()


def test_truncation_percentage_is_required():
    with pytest.raises(TypeError):
        TruncationSelectionPolicy()  # type: ignore[call-arg]


def test_decide_rejects_bad_goal_and_kind():
    with pytest.raises(UserErrorException, match="goal"):
        decide(median(), "best", {"a": [1.0]}, {"a"})
    with pytest.raises(UserErrorException, match="kind"):
        decide({"kind": "hyperband"}, "maximize", {"a": [1.0]}, {"a"})
