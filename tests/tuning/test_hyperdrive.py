"""HyperDrive sweeps end to end: children as script runs with sampled arguments, the
concurrency limit, early termination, failures, cancel, warm starts and a restarted driver."""

from __future__ import annotations

import json
import os
import signal
import time

import pytest
from tests.conftest import write_script

from plinth.core import Experiment, Run, ScriptRunConfig
from plinth.exceptions import UserErrorException
from plinth.train.hyperdrive import (
    BanditPolicy,
    BayesianParameterSampling,
    GridParameterSampling,
    HyperDriveConfig,
    HyperDriveRun,
    PrimaryMetricGoal,
    RandomParameterSampling,
    choice,
    uniform,
)

#: Most tests use the embedded workspace; the course's lab runs on every backend.
embedded = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)

#: The course's lab: gradient boosting with two hyperparameters, AUC to maximise.
GBM = """
    import argparse, os
    import joblib
    import numpy as np
    from sklearn.datasets import make_classification
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import train_test_split
    from plinth.core import Run

    parser = argparse.ArgumentParser()
    parser.add_argument("--learning_rate", type=float)
    parser.add_argument("--n_estimators", type=int)
    args = parser.parse_args()
    run = Run.get_context()
    X, y = make_classification(n_samples=400, random_state=0)
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    model = GradientBoostingClassifier(learning_rate=args.learning_rate,
                                       n_estimators=args.n_estimators).fit(X_train, y_train)
    run.log("AUC", float(roc_auc_score(y_test, model.predict_proba(X_test)[:, 1])))
    os.makedirs("outputs", exist_ok=True)
    joblib.dump(model, "outputs/model.pkl")
"""

#: A learning curve whose height is the --quality parameter: poor children fall behind.
CURVE = """
    import argparse, time
    from plinth.core import Run

    parser = argparse.ArgumentParser()
    parser.add_argument("--quality", type=float)
    args = parser.parse_args()
    run = Run.get_context()
    for step in range(1, 31):
        run.log("accuracy", args.quality * step / 30)
        run.flush()
        time.sleep(0.2)
"""


def config(folder, script, sampling, **kwargs) -> HyperDriveConfig:
    return HyperDriveConfig(
        run_config=ScriptRunConfig(source_directory=str(folder), script=script),
        hyperparameter_sampling=sampling, **kwargs)


@pytest.fixture
def folder(tmp_path):
    path = tmp_path / "src"
    path.mkdir()
    write_script(path, "train.py", GBM)
    write_script(path, "curve.py", CURVE)
    write_script(path, "fail.py", "import sys; sys.exit('bad data for ' + sys.argv[2])\n")
    return path


@pytest.mark.slow
def test_the_course_lab_grid_ranks_children_and_registers_the_best(ws, folder):
    sampling = GridParameterSampling({"--learning_rate": choice(0.01, 0.1, 1.0),
                                      "--n_estimators": choice(10, 100)})
    hyperdrive = config(folder, "train.py", sampling, primary_metric_name="AUC",
                        primary_metric_goal=PrimaryMetricGoal.MAXIMIZE, max_total_runs=6,
                        max_concurrent_runs=2)
    run = Experiment(ws, "mslearn-diabetes-hyperdrive").submit(hyperdrive)
    assert isinstance(run, HyperDriveRun)
    run.wait_for_completion(show_output=False)
    assert run.get_status() == "Completed"

    children = list(run.get_children())
    assert len(children) == 6 and all(c.status == "Completed" for c in children)
    sampled = [json.loads(v) for v in run.get_hyperparameters().values()]
    assert sorted((p["--learning_rate"], p["--n_estimators"]) for p in sampled) == [
        (0.01, 10), (0.01, 100), (0.1, 10), (0.1, 100), (1.0, 10), (1.0, 100)]
    # The values reach the script as arguments.
    child = children[0]
    arguments = child.get_details()["runDefinition"]["arguments"]
    params = json.loads(child.tags["hyperparameters"])
    assert arguments[-4:] == ["--learning_rate", repr(params["--learning_rate"]),
                              "--n_estimators", str(params["--n_estimators"])]

    ranked = run.get_children_sorted_by_primary_metric()
    aucs = [row["best_primary_metric"] for row in ranked]
    assert aucs == sorted(aucs, reverse=True) and len(aucs) == 6
    best = run.get_best_run_by_primary_metric()
    assert best.id == ranked[0]["run_id"]
    assert best.get_metrics()["AUC"] == aucs[0]
    assert run.get_metrics()[best.id]["AUC"] == aucs[0]
    assert run.get_properties()["best_child_run_id"] == best.id
    model = best.register_model(model_name="diabetes_model", model_path="outputs/model.pkl")
    assert model.run_id == best.id
    # At most two children ran at once: when one started, at most one other was running.
    spans = [(c._record.start_time, c._record.end_time) for c in children]
    for start, _ in spans:
        assert sum(1 for s, e in spans if s < start < e) <= 1
    assert isinstance(Run.get(ws, run.id), HyperDriveRun)


@pytest.mark.slow
@embedded
def test_a_bandit_policy_cancels_poor_children_and_they_never_win(ws, folder):
    sampling = GridParameterSampling({"quality": choice(1.0, 0.3, 0.95, 0.2)})
    hyperdrive = config(folder, "curve.py", sampling, primary_metric_name="accuracy",
                        primary_metric_goal=PrimaryMetricGoal.MAXIMIZE, max_total_runs=4,
                        max_concurrent_runs=4,
                        policy=BanditPolicy(evaluation_interval=2, slack_factor=0.2,
                                            delay_evaluation=4))
    run = Experiment(ws, "bandit").submit(hyperdrive)
    run.wait_for_completion(show_output=False)
    rows = {json.loads(run.get_hyperparameters()[r["run_id"]])["quality"]: r
            for r in run.get_children_sorted_by_primary_metric()}
    assert rows[0.3]["status"] == rows[0.2]["status"] == "Canceled"
    assert "BanditPolicy" in rows[0.2]["terminated_by"]
    assert rows[1.0]["status"] == rows[0.95]["status"] == "Completed"
    best = run.get_best_run_by_primary_metric(include_canceled=False)
    assert json.loads(best.tags["hyperparameters"])["quality"] == 1.0


@pytest.mark.slow
@embedded
def test_failing_children_do_not_stop_the_sweep_and_all_failing_fails_it(ws, folder):
    sampling = RandomParameterSampling({"--rate": uniform(0, 1)}, seed=3)
    hyperdrive = config(folder, "fail.py", sampling, primary_metric_name="loss",
                        primary_metric_goal=PrimaryMetricGoal.MINIMIZE, max_total_runs=3,
                        max_concurrent_runs=3)
    run = Experiment(ws, "failing").submit(hyperdrive)
    run.wait_for_completion(show_output=False, raise_on_error=False)
    assert run.get_status() == "Failed"
    assert len(list(run.get_children())) == 3  # every child ran, though the first failed
    assert "Every child run failed" in run.get_details()["error"]["error"]["message"]
    assert "bad data for" in run.get_details()["error"]["error"]["message"]
    assert run.get_best_run_by_primary_metric() is None


@pytest.mark.slow
@embedded
def test_a_grid_stops_when_exhausted_and_resume_from_skips_what_ran(ws, folder):
    space = {"--learning_rate": choice(0.1, 1.0), "--n_estimators": choice(5, 10)}
    experiment = Experiment(ws, "resume")
    first = experiment.submit(config(folder, "train.py", GridParameterSampling(space),
                                     primary_metric_name="AUC",
                                     primary_metric_goal=PrimaryMetricGoal.MAXIMIZE,
                                     max_total_runs=2, max_concurrent_runs=2))
    first.wait_for_completion(show_output=False)
    second = experiment.submit(config(folder, "train.py", GridParameterSampling(space),
                                      primary_metric_name="AUC",
                                      primary_metric_goal=PrimaryMetricGoal.MAXIMIZE,
                                      max_total_runs=10, max_concurrent_runs=2,
                                      resume_from=first))
    second.wait_for_completion(show_output=False)
    points = [tuple(sorted(json.loads(v).items()))
              for run in (first, second) for v in run.get_hyperparameters().values()]
    assert len(points) == 4 and len(set(points)) == 4  # the rest of the grid, nothing twice
    assert len(list(second.get_children())) == 2  # stopped when the grid was exhausted


@pytest.mark.slow
@embedded
def test_bayesian_sampling_runs_and_refuses_a_policy(ws, folder):
    space = {"--learning_rate": uniform(0.05, 1.0), "--n_estimators": choice(5, 20)}
    with pytest.raises(UserErrorException, match="does not support early termination"):
        config(folder, "train.py", BayesianParameterSampling(space),
               primary_metric_name="AUC", primary_metric_goal=PrimaryMetricGoal.MAXIMIZE,
               max_total_runs=4, policy=BanditPolicy(slack_factor=0.1))
    run = Experiment(ws, "bayes").submit(config(
        folder, "train.py", BayesianParameterSampling(space), primary_metric_name="AUC",
        primary_metric_goal=PrimaryMetricGoal.MAXIMIZE, max_total_runs=4,
        max_concurrent_runs=2))
    run.wait_for_completion(show_output=False)
    rows = run.get_children_sorted_by_primary_metric()
    assert len(rows) == 4 and all(r["status"] == "Completed" for r in rows)
    assert all(0.05 <= r["hyperparameters"]["--learning_rate"] <= 1.0 for r in rows)


@pytest.mark.slow
@embedded
def test_cancel_stops_the_sweep_and_its_children(ws, folder):
    sampling = RandomParameterSampling({"quality": uniform(0.5, 1.0)})
    run = Experiment(ws, "cancel").submit(config(
        folder, "curve.py", sampling, primary_metric_name="accuracy",
        primary_metric_goal=PrimaryMetricGoal.MAXIMIZE, max_total_runs=10,
        max_concurrent_runs=2))
    wait_until(lambda: any(c.get_status() == "Running" for c in run.get_children()))
    run.cancel()
    run.wait_for_completion(show_output=False, raise_on_error=False)
    assert run.get_status() == "Canceled"
    assert {c.get_status() for c in run.get_children()} <= {"Canceled", "Completed"}
    assert len(list(run.get_children())) < 10


@pytest.mark.slow
@embedded
def test_a_restarted_driver_carries_on_without_repeating_children(ws, folder):
    from plinth._execution.submit import launch_worker

    sampling = GridParameterSampling({"quality": choice(0.4, 0.6, 0.8, 1.0)})
    run = Experiment(ws, "restart").submit(config(
        folder, "curve.py", sampling, primary_metric_name="accuracy",
        primary_metric_goal=PrimaryMetricGoal.MAXIMIZE, max_total_runs=4,
        max_concurrent_runs=1))
    wait_until(lambda: len(list(run.get_children())) >= 2)
    pid = int(run.get_tags()["plinth.driverPid"])
    os.kill(pid, signal.SIGKILL)
    launch_worker(ws._location, run.id)  # what a supervisor does with an orphaned sweep
    run.wait_for_completion(show_output=False)
    children = list(run.get_children())
    assert sorted(c.id for c in children) == [f"{run.id}_{i}" for i in range(4)]
    values = [json.loads(c.tags["hyperparameters"])["quality"] for c in children]
    assert sorted(values) == [0.4, 0.6, 0.8, 1.0]
    assert int(run.get_tags()["plinth.driverPid"]) != pid


def wait_until(predicate, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)
