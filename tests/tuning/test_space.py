"""Parameter expressions, sampling classes and the space engine (validation, grid, draws)."""

from __future__ import annotations

import json
import math
import random

import pytest

from plinth._tuning import space as spaces
from plinth.exceptions import UserErrorException
from plinth.train.hyperdrive.parameter_expressions import (
    choice,
    lognormal,
    loguniform,
    normal,
    qlognormal,
    qloguniform,
    qnormal,
    quniform,
    randint,
    uniform,
)
from plinth.train.hyperdrive.sampling import (
    BayesianParameterSampling,
    GridParameterSampling,
    HyperParameterSampling,
    RandomParameterSampling,
)


def draws(expr, n=2000, seed=0):
    space = spaces.check_space({"p": expr})
    rng = random.Random(seed)
    return [spaces.sample(space, rng)["p"] for _ in range(n)]


# --- expression forms ----------------------------------------------------------------------


def test_expressions_have_azureml_list_form():
    assert choice(1, 2, 3) == ["choice", [[1, 2, 3]]]
    assert choice([1, 2]) == ["choice", [[1, 2]]]
    assert choice(range(1, 5)) == ["choice", [[1, 2, 3, 4]]]
    assert choice("a") == ["choice", [["a"]]]
    assert randint(5) == ["randint", [5]]
    assert uniform(0, 1) == ["uniform", [0, 1]]
    assert quniform(0, 10, 2) == ["quniform", [0, 10, 2]]
    assert loguniform(-3, 0) == ["loguniform", [-3, 0]]
    assert qloguniform(0, 3, 1) == ["qloguniform", [0, 3, 1]]
    assert normal(0, 1) == ["normal", [0, 1]]
    assert qnormal(10, 2, 1) == ["qnormal", [10, 2, 1]]
    assert lognormal(0, 1) == ["lognormal", [0, 1]]
    assert qlognormal(0, 1, 1) == ["qlognormal", [0, 1, 1]]


def test_expressions_are_plain_json():
    np = pytest.importorskip("numpy")
    expr = uniform(np.float64(0.5), np.int64(2))
    assert expr == ["uniform", [0.5, 2]]
    assert type(expr[1][0]) is float and type(expr[1][1]) is int
    assert json.loads(json.dumps(choice(1, 2.5, "x", True, None))) == choice(1, 2.5, "x", True,
                                                                              None)


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda: choice(), ["choice", "empty"]),
        (lambda: choice([]), ["choice", "empty"]),
        (lambda: choice([1], 2), ["choice", "one list"]),
        (lambda: choice({"a": 1}), ["choice", "option"]),
        (lambda: choice(1, 1.0), ["choice", "twice"]),
        (lambda: choice(float("nan")), ["choice", "finite"]),
        (lambda: randint(0), ["randint", "upper"]),
        (lambda: randint(2.5), ["randint", "upper"]),
        (lambda: randint(True), ["randint", "upper"]),
        (lambda: uniform(1, 0), ["uniform", "min_value", "max_value"]),
        (lambda: uniform(1, 1), ["uniform", "less than"]),
        (lambda: uniform("0", 1), ["uniform", "min_value", "number"]),
        (lambda: quniform(0, 1, 0), ["quniform", "q", "greater than 0"]),
        (lambda: loguniform(0, -3), ["loguniform", "min_value"]),
        (lambda: qloguniform(0, 3, -1), ["qloguniform", "q"]),
        (lambda: normal(0, 0), ["normal", "sigma"]),
        (lambda: normal(0, -1), ["normal", "sigma"]),
        (lambda: qnormal(0, 1, 0), ["qnormal", "q"]),
        (lambda: lognormal(0, float("inf")), ["lognormal", "sigma"]),
        (lambda: qlognormal(None, 1, 1), ["qlognormal", "mu"]),
    ],
)
def test_bad_arguments_name_the_function_and_argument(make, words):
    with pytest.raises(UserErrorException) as info:
        make()
    for word in words:
        assert word in str(info.value)


# --- draws ---------------------------------------------------------------------------------


def test_choice_and_randint_draws():
    values = draws(choice("a", "b", "c"))
    assert set(values) == {"a", "b", "c"}
    ints = draws(randint(4))
    assert set(ints) == {0, 1, 2, 3} and all(type(v) is int for v in ints)


def test_uniform_and_loguniform_ranges():
    values = draws(uniform(2, 5))
    assert all(2 <= v <= 5 and type(v) is float for v in values)
    assert min(values) < 2.1 and max(values) > 4.9
    logs = draws(loguniform(-3, 0))
    assert all(math.exp(-3) <= v <= 1 for v in logs)
    # Log-uniform: about half the draws lie below exp(-1.5).
    below = sum(v < math.exp(-1.5) for v in logs) / len(logs)
    assert 0.45 < below < 0.55


def test_quantised_values_are_multiples_of_q():
    ints = draws(quniform(0, 10, 2))
    assert set(ints) <= {0, 2, 4, 6, 8, 10} and all(type(v) is int for v in ints)
    assert {0, 10} <= set(ints)
    tenths = draws(quniform(0, 1, 0.1))
    assert set(tenths) <= {round(k * 0.1, 1) for k in range(11)}
    assert 0.3 in tenths  # no binary noise such as 0.30000000000000004
    logs = draws(qloguniform(0, 3, 5))
    assert all(v % 5 == 0 and 0 <= v <= 20 for v in logs)
    normals = draws(qnormal(100, 10, 5))
    assert all(v % 5 == 0 for v in normals)
    assert abs(sum(normals) / len(normals) - 100) < 2
    lognormals = draws(qlognormal(2, 0.5, 1))
    assert all(type(v) is int and v >= 0 for v in lognormals)


def test_normal_and_lognormal_moments():
    values = draws(normal(3, 2), n=5000)
    mean = sum(values) / len(values)
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
    assert abs(mean - 3) < 0.1 and abs(std - 2) < 0.1
    logs = draws(lognormal(0, 1), n=5000)
    assert all(v > 0 for v in logs)
    median = sorted(logs)[len(logs) // 2]
    assert abs(median - 1) < 0.1


def test_sample_is_reproducible_and_in_space_order():
    space = spaces.check_space({"b": uniform(0, 1), "a": choice(1, 2), "c": randint(9)})
    first = spaces.sample(space, random.Random(7))
    assert list(first) == ["b", "a", "c"]
    assert spaces.sample(space, random.Random(7)) == first


# --- spaces --------------------------------------------------------------------------------


def test_check_space_accepts_json_and_tuples():
    space = {"--lr": loguniform(-5, -1), "batch": choice(16, 32)}
    assert spaces.check_space(json.loads(json.dumps(space))) == space
    assert spaces.check_space({"x": ("uniform", (0, 1))}) == {"x": ["uniform", [0, 1]]}


@pytest.mark.parametrize(
    ("space", "words"),
    [
        (None, ["parameter_space", "dict"]),
        ({}, ["parameter_space", "empty"]),
        ({1: uniform(0, 1)}, ["keys", "str"]),
        ({"lr": 0.1}, ["'lr'", "expression"]),
        ({"lr": ["gamma", [1, 2]]}, ["'lr'", "unknown", "gamma"]),
        ({"lr": ["uniform", [1]]}, ["'lr'", "uniform", "2 argument"]),
        ({"lr": ["uniform", [1, 0]]}, ["'lr'", "min_value"]),
        ({"n": ["choice", [1, 2]]}, ["'n'", "choice"]),
        ({"n": ["randint", [0]]}, ["'n'", "upper"]),
    ],
)
def test_bad_spaces_are_explained(space, words):
    with pytest.raises(UserErrorException) as info:
        spaces.check_space(space)
    for word in words:
        assert word in str(info.value)


def test_grid_points_order_and_size():
    space = {"a": choice(1, 2), "b": choice("x", "y", "z")}
    points = spaces.grid_points(space)
    assert points == [
        {"a": 1, "b": "x"}, {"a": 1, "b": "y"}, {"a": 1, "b": "z"},
        {"a": 2, "b": "x"}, {"a": 2, "b": "y"}, {"a": 2, "b": "z"},
    ]
    assert spaces.size(spaces.check_space(space)) == 6


def test_grid_points_refuse_non_choice():
    with pytest.raises(UserErrorException, match="'lr'.*RandomParameterSampling"):
        spaces.grid_points({"a": choice(1), "lr": uniform(0, 1)})


def test_finite_spaces_and_sizes():
    assert spaces.is_finite({"a": choice(1, 2), "n": randint(5)})
    assert spaces.size({"a": choice(1, 2), "n": randint(5)}) == 10
    assert spaces.size(spaces.check_space({"q": quniform(0, 10, 2)})) == 6
    assert not spaces.is_finite({"a": choice(1, 2), "x": uniform(0, 1)})
    assert spaces.size({"x": normal(0, 1)}) is None


def test_iter_points_covers_a_finite_space():
    space = spaces.check_space({"n": randint(3), "q": quniform(0, 1, 0.5)})
    points = list(spaces.iter_points(space))
    assert points == [{"n": n, "q": q} for n in range(3) for q in (0.0, 0.5, 1.0)]


def test_point_key_compares_by_value():
    space = spaces.check_space({"a": choice(1, True), "x": uniform(0, 1)})
    assert spaces.point_key(space, {"a": 1, "x": 0.1}) == spaces.point_key(
        space, {"x": 0.1, "a": 1.0, "extra": "ignored"})
    assert spaces.point_key(space, {"a": 1, "x": 0.1}) != spaces.point_key(
        space, {"a": True, "x": 0.1})


# --- sampling classes ----------------------------------------------------------------------


def test_sampling_classes_spec_and_names():
    space = {"--lr": uniform(0.01, 0.1), "--batch": choice(16, 32)}
    random_sampling = RandomParameterSampling(space, seed=5)
    assert isinstance(random_sampling, HyperParameterSampling)
    assert random_sampling.sampling_name == "RANDOM"
    assert random_sampling._spec() == {"kind": "random", "space": space, "seed": 5}
    assert random_sampling.parameter_space == space
    assert json.loads(json.dumps(random_sampling._spec())) == random_sampling._spec()
    grid = GridParameterSampling({"--batch": choice(16, 32)})
    assert grid.sampling_name == "GRID" and grid._spec()["kind"] == "grid"
    assert grid._spec()["seed"] is None
    bayes = BayesianParameterSampling(space)
    assert bayes.sampling_name == "BayesianOptimization"
    assert bayes._spec() == {"kind": "bayesian", "space": space, "seed": None}


def test_random_sampling_seed_from_properties():
    space = {"x": uniform(0, 1)}
    assert RandomParameterSampling(space, properties={"rngSeed": 42})._spec()["seed"] == 42
    assert RandomParameterSampling(space, {"seed": 3}, seed=3)._spec()["seed"] == 3
    assert RandomParameterSampling(space)._spec()["seed"] is None
    with pytest.raises(UserErrorException, match="different seeds"):
        RandomParameterSampling(space, properties={"rngSeed": 1}, seed=2)
    with pytest.raises(UserErrorException, match="unsupported"):
        RandomParameterSampling(space, properties={"colour": "red"})
    with pytest.raises(UserErrorException, match="seed"):
        RandomParameterSampling(space, seed="x")


def test_grid_sampling_refuses_distributions():
    with pytest.raises(UserErrorException) as info:
        GridParameterSampling({"a": choice(1, 2), "--lr": loguniform(-3, 0)})
    message = str(info.value)
    assert "'--lr'" in message and "RandomParameterSampling" in message


@pytest.mark.parametrize("expr", [normal(0, 1), loguniform(-3, 0), randint(4), qnormal(0, 1, 1)])
def test_bayesian_sampling_refuses_other_expressions(expr):
    with pytest.raises(UserErrorException) as info:
        BayesianParameterSampling({"ok": uniform(0, 1), "bad": expr})
    message = str(info.value)
    assert "'bad'" in message and "choice, uniform, quniform" in message


def test_sampling_validates_its_space():
    with pytest.raises(UserErrorException, match="empty"):
        RandomParameterSampling({})
    with pytest.raises(UserErrorException, match="'x'"):
        RandomParameterSampling({"x": [1, 2, 3]})
