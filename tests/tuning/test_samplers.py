"""Samplers: grid order and exhaustion, reproducible random draws, Bayesian (TPE) proposals."""

from __future__ import annotations

import json
import logging
import math
import warnings

import pytest

from plinth._tuning.samplers import Trial, make_sampler
from plinth.exceptions import UserErrorException
from plinth.train.hyperdrive.parameter_expressions import (
    choice,
    loguniform,
    normal,
    quniform,
    randint,
    uniform,
)
from plinth.train.hyperdrive.sampling import (
    BayesianParameterSampling,
    GridParameterSampling,
    RandomParameterSampling,
)


def run_sweep(sampler, objective=None, n=1000, state="complete"):
    """Ask ``n`` points sequentially (or until exhaustion); each completes at once."""
    history: list[Trial] = []
    for _ in range(n):
        point = sampler.next(history)
        if point is None:
            break
        value = objective(point) if objective else None
        history.append(Trial(point, value, state))
    return history


def keys(history):
    return [json.dumps(trial.params, sort_keys=True) for trial in history]


# --- grid ----------------------------------------------------------------------------------


def test_grid_walks_the_product_in_order_then_stops():
    sampling = GridParameterSampling({"a": choice(1, 2), "b": choice(0.1, 0.2, 0.3)})
    history = run_sweep(make_sampler(sampling._spec(), "maximize"))
    assert [t.params for t in history] == [
        {"a": a, "b": b} for a in (1, 2) for b in (0.1, 0.2, 0.3)
    ]
    assert make_sampler(sampling._spec(), "maximize").next(history) is None


def test_grid_skips_points_already_tried_in_any_state():
    sampler = make_sampler(GridParameterSampling({"a": choice(1, 2, 3)})._spec(), "minimize")
    history = [Trial({"a": 1}, None, "failed"), Trial({"a": 2.0}, None, "running")]
    assert sampler.next(history) == {"a": 3}
    history.append(Trial({"a": 3}, 0.5, "canceled"))
    assert sampler.next(history) is None


def test_grid_restart_gets_the_same_point():
    spec = GridParameterSampling({"a": choice("x", "y"), "b": choice(True, False)})._spec()
    history = [Trial({"a": "x", "b": True}, 1.0, "complete")]
    assert make_sampler(spec, "maximize").next(history) == make_sampler(
        json.loads(json.dumps(spec)), "maximize").next(history) == {"a": "x", "b": False}


# --- random --------------------------------------------------------------------------------


SPACE = {"lr": loguniform(-6, -1), "batch": choice(16, 32, 64), "x": normal(0, 1)}


def test_random_is_reproducible_by_seed_and_history_length():
    spec = RandomParameterSampling(SPACE, seed=1)._spec()
    first = run_sweep(make_sampler(spec, "maximize"), n=20)
    again = run_sweep(make_sampler(spec, "maximize"), n=20)
    assert [t.params for t in first] == [t.params for t in again]
    other = run_sweep(make_sampler(RandomParameterSampling(SPACE, seed=2)._spec(), "maximize"),
                      n=20)
    assert [t.params for t in first] != [t.params for t in other]
    # Depends on len(history) only, not on the trials' values or states.
    changed = [Trial(t.params, 123.0, "failed") for t in first[:5]]
    assert make_sampler(spec, "maximize").next(changed) == first[5].params


def test_random_draws_lie_in_the_space():
    history = run_sweep(make_sampler(RandomParameterSampling(SPACE, seed=0)._spec(),
                                     "maximize"), n=200)
    assert len(set(keys(history))) == 200
    for trial in history:
        assert math.exp(-6) <= trial.params["lr"] <= math.exp(-1)
        assert trial.params["batch"] in (16, 32, 64)
        assert type(trial.params["x"]) is float


def test_random_finite_space_never_repeats_and_exhausts():
    space = {"a": choice("p", "q", "r"), "n": randint(4), "q": quniform(0, 1, 0.5)}
    sampler = make_sampler(RandomParameterSampling(space, seed=9)._spec(), "maximize")
    history = run_sweep(sampler)
    assert len(history) == 3 * 4 * 3
    assert len(set(keys(history))) == len(history)
    assert sampler.next(history) is None
    # Restarting on a partial history proposes the same fresh point.
    partial = history[:20]
    assert sampler.next(partial) == history[20].params


def test_random_unseeded_is_still_deterministic():
    spec = RandomParameterSampling({"x": uniform(0, 1)})._spec()
    assert make_sampler(spec, "maximize").next([]) == make_sampler(spec, "maximize").next([])


def test_random_counts_warm_start_points_outside_the_space_without_exhausting():
    sampler = make_sampler(RandomParameterSampling({"a": choice(1, 2)}, seed=0)._spec(),
                           "maximize")
    history = [Trial({"a": 7}, 1.0, "complete"), Trial({"b": 1}, 1.0, "complete"),
               Trial({"a": 1}, 1.0, "complete")]
    assert sampler.next(history) == {"a": 2}


# --- bayesian ------------------------------------------------------------------------------


def quadratic(point):
    return -((point["x"] - 0.3) ** 2)


def best_distance(kind_sampling, seed, n=30):
    sampler = make_sampler(kind_sampling({"x": uniform(0, 1)}, seed=seed)._spec(), "maximize")
    history = run_sweep(sampler, quadratic, n=n)
    assert len(history) == n
    return min(abs(t.params["x"] - 0.3) for t in history)


def test_bayesian_concentrates_better_than_random():
    seeds = range(5)
    bayes = [best_distance(BayesianParameterSampling, s) for s in seeds]
    rand = [best_distance(RandomParameterSampling, s) for s in seeds]
    assert sum(bayes) / len(bayes) < sum(rand) / len(rand)
    assert sum(b < r for b, r in zip(bayes, rand, strict=True)) >= 3


def test_bayesian_concentrates_when_minimizing():
    sampler = make_sampler(BayesianParameterSampling({"x": uniform(0, 1)}, seed=0)._spec(),
                           "minimize")
    history = run_sweep(sampler, lambda p: (p["x"] - 0.7) ** 2, n=30)
    late = [t.params["x"] for t in history[-10:]]
    assert sum(abs(x - 0.7) < 0.2 for x in late) >= 6


def test_bayesian_proposals_within_bounds_and_plain():
    space = {"x": uniform(-2, 3), "k": quniform(1, 10, 3), "c": choice("a", "b", None)}
    sampler = make_sampler(BayesianParameterSampling(space, seed=4)._spec(), "maximize")
    history = run_sweep(sampler, lambda p: p["x"] + p["k"], n=25)
    for trial in history:
        assert type(trial.params["x"]) is float and -2 <= trial.params["x"] <= 3
        assert type(trial.params["k"]) is int and trial.params["k"] in (0, 3, 6, 9)
        assert trial.params["c"] in ("a", "b", None)
    assert json.loads(json.dumps([t.params for t in history])) == [t.params for t in history]


def test_bayesian_restart_with_same_history_gets_same_point():
    spec = BayesianParameterSampling({"x": uniform(0, 1), "c": choice(1, 2)}, seed=2)._spec()
    history = run_sweep(make_sampler(spec, "maximize"), quadratic, n=15)
    history.append(Trial(history[-1].params | {"x": 0.5}, None, "running"))
    history.append(Trial({"x": 0.9, "c": 1}, None, "failed"))
    first = make_sampler(spec, "maximize").next(history)
    assert make_sampler(json.loads(json.dumps(spec)), "maximize").next(history) == first


def test_bayesian_running_trials_spread_concurrent_proposals():
    spec = BayesianParameterSampling({"x": uniform(0, 1)}, seed=1)._spec()
    sampler = make_sampler(spec, "maximize")
    history = run_sweep(sampler, quadratic, n=15)
    pending = []
    for _ in range(4):
        point = sampler.next(history + pending)
        pending.append(Trial(point, None, "running"))
    assert len({p.params["x"] for p in pending}) == 4


def test_bayesian_finite_space_never_repeats_and_exhausts():
    space = {"a": choice(1, 2, 3), "k": quniform(0, 4, 2)}
    sampler = make_sampler(BayesianParameterSampling(space, seed=0)._spec(), "maximize")
    history = run_sweep(sampler, lambda p: p["a"] * p["k"])
    assert len(history) == 9 and len(set(keys(history))) == 9
    assert sampler.next(history) is None


def test_bayesian_ignores_history_outside_the_space():
    sampler = make_sampler(BayesianParameterSampling({"x": uniform(0, 1)}, seed=0)._spec(),
                           "maximize")
    history = [Trial({"x": 5.0}, 1.0, "complete"), Trial({"y": 0.2}, 1.0, "complete"),
               Trial({"x": "a"}, None, "complete"), Trial({"x": 0.5}, float("nan"), "complete")]
    point = sampler.next(history)
    assert 0 <= point["x"] <= 1


def test_bayesian_is_quiet(caplog):
    sampler = make_sampler(BayesianParameterSampling({"x": uniform(0, 1)}, seed=0)._spec(),
                           "maximize")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with caplog.at_level(logging.INFO):
            run_sweep(sampler, quadratic, n=12)
    assert not [r for r in caplog.records if r.name.startswith("optuna")]


# --- make_sampler --------------------------------------------------------------------------


def test_make_sampler_checks_its_arguments():
    spec = RandomParameterSampling({"x": uniform(0, 1)})._spec()
    with pytest.raises(UserErrorException, match="goal"):
        make_sampler(spec, "up")
    with pytest.raises(UserErrorException, match="kind"):
        make_sampler(spec | {"kind": "sobol"}, "maximize")
    with pytest.raises(UserErrorException, match="spec"):
        make_sampler({"space": {}}, "maximize")
    assert make_sampler(spec, "MAXIMIZE").next([]) is not None


def test_make_sampler_validates_the_space_for_its_kind():
    with pytest.raises(UserErrorException, match="'n'"):
        make_sampler({"kind": "grid", "space": {"n": randint(3)}, "seed": None}, "maximize")
    with pytest.raises(UserErrorException, match="'z'"):
        make_sampler({"kind": "bayesian", "space": {"z": normal(0, 1)}, "seed": None},
                     "maximize")
