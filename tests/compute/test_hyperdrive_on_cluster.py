"""The course's HyperDrive lab on an AmlCompute training cluster (this machine's Ray cluster):
a gradient-boosting grid on the diabetes data, as many children at once as the cluster's
``max_nodes``, ranked by AUC, the best one's model registered."""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path

import pytest
from tests import compute as shared
from tests.conftest import write_script

from plinth.core import Environment, Experiment, Model, ScriptRunConfig, Workspace
from plinth.core.compute import AmlCompute, ComputeTarget
from plinth.train.hyperdrive import (
    GridParameterSampling,
    HyperDriveConfig,
    HyperDriveRun,
    PrimaryMetricGoal,
    choice,
)

pytestmark = pytest.mark.slow
ray_home, ray_address = shared.ray_home, shared.ray_address

DATA = Path(__file__).resolve().parents[2] / "examples" / "data" / "diabetes.csv"
CLUSTER = "hd-cluster"

# The course's script, but for one line: it tags its run with the process that started its
# worker, which on a training cluster is the Ray task running it; and it logs when it ran.
TRAIN = """
    import argparse, os, time
    import joblib
    import pandas as pd
    import psutil
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import train_test_split
    from plinth.core import Run

    started = time.time()
    parser = argparse.ArgumentParser()
    parser.add_argument("--learning_rate", type=float, dest="learning_rate", default=0.1)
    parser.add_argument("--n_estimators", type=int, dest="n_estimators", default=100)
    args = parser.parse_args()
    run = Run.get_context()
    run.tag("worker parent", psutil.Process().parent().parent().name())
    run.log("learning_rate", float(args.learning_rate))
    run.log("n_estimators", int(args.n_estimators))

    diabetes = pd.read_csv("diabetes.csv")
    features = ["Pregnancies", "PlasmaGlucose", "DiastolicBloodPressure", "TricepsThickness",
                "SerumInsulin", "BMI", "DiabetesPedigree", "Age"]
    X, y = diabetes[features].values, diabetes["Diabetic"].values
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.30, random_state=0)
    model = GradientBoostingClassifier(learning_rate=args.learning_rate,
                                       n_estimators=args.n_estimators).fit(X_train, y_train)
    auc = roc_auc_score(y_test, model.predict_proba(X_test)[:, 1])
    run.log("AUC", float(auc))

    os.makedirs("outputs", exist_ok=True)
    joblib.dump(value=model, filename="outputs/model.pkl")
    run.log("start", started)
    run.log("end", time.time())
"""


def at_most_two_at_once(spans):
    """When a child started, at most one other was running."""
    for start, _ in spans:
        others = sum(1 for s, e in spans if s < start < e)
        assert others <= 1, sorted(spans)


def test_the_hyperdrive_lab_on_a_two_node_cluster(ray_address, tmp_path):
    ws = Workspace.create(f"ws-{uuid.uuid4().hex[:8]}", path=tmp_path / "ws")
    config = AmlCompute.provisioning_configuration(vm_size="STANDARD_D1_V2", max_nodes=2)
    config.config["idle_seconds_before_scaledown"] = shared.SESSION_IDLE
    cluster = ComputeTarget.create(ws, CLUSTER, config)
    cluster.wait_for_completion(show_output=False)

    folder = tmp_path / "diabetes_training-hyperdrive"
    folder.mkdir()
    write_script(folder, "diabetes_training.py", TRAIN)
    shutil.copy(DATA, folder / "diabetes.csv")
    # The machine's own Python (the test's) has scikit-learn and pandas: nothing to build.
    environment = Environment("hyperdrive-env")
    environment.python.user_managed_dependencies = True
    script_config = ScriptRunConfig(source_directory=str(folder),
                                    script="diabetes_training.py",
                                    environment=environment, compute_target=cluster)

    params = GridParameterSampling({"--learning_rate": choice(0.01, 0.1, 1.0),
                                    "--n_estimators": choice(10, 100)})
    hyperdrive = HyperDriveConfig(run_config=script_config, hyperparameter_sampling=params,
                                  policy=None, primary_metric_name="AUC",
                                  primary_metric_goal=PrimaryMetricGoal.MAXIMIZE,
                                  max_total_runs=6)  # max_concurrent_runs: the cluster's
    run = Experiment(ws, "mslearn-diabetes-hyperdrive").submit(config=hyperdrive)
    assert isinstance(run, HyperDriveRun)
    details = run.wait_for_completion(show_output=False, raise_on_error=False)
    if details["status"] != "Completed":
        logs = run.get_details_with_logs()["logFiles"]
        pytest.fail(f"sweep {run.id} is {details['status']}: {details.get('error')}; "
                    f"driver log: {logs.get('logs/driver.log')}")
    assert run.get_properties()["max_concurrent_runs"] == "2"

    # Six children, every grid point once, each run by a Ray task of the cluster.
    children = list(run.get_children())
    assert sorted(c.id for c in children) == [f"{run.id}_{i}" for i in range(6)]
    statuses = {c.id: c.get_details()["status"] for c in children}
    assert set(statuses.values()) == {"Completed"}, statuses
    points = sorted(tuple(json.loads(c.get_tags()["hyperparameters"]).values())
                    for c in children)
    assert points == [(0.01, 10), (0.01, 100), (0.1, 10), (0.1, 100), (1.0, 10), (1.0, 100)]
    for child in children:
        assert child.get_tags()["worker parent"] == "ray::_execute"
        compute = child.get_details()["runDefinition"]["compute"]
        assert (compute["name"], compute["kind"]) == (CLUSTER, "AmlCompute")
        metrics = child.get_metrics()
        params = json.loads(child.get_tags()["hyperparameters"])
        assert metrics["learning_rate"] == params["--learning_rate"]
        assert metrics["n_estimators"] == params["--n_estimators"]

    # Never more than max_nodes at once: by the runs' records and by the scripts' own clocks.
    spans = sorted((c._record.start_time, c._record.end_time) for c in children)
    at_most_two_at_once(spans)
    assert spans[1][0] < spans[0][1], spans  # and two did run at once
    at_most_two_at_once([(c.get_metrics()["start"], c.get_metrics()["end"]) for c in children])
    assert "2 at a time" in run.get_details_with_logs()["logFiles"]["logs/driver.log"]

    ranked = run.get_children_sorted_by_primary_metric()
    aucs = [row["best_primary_metric"] for row in ranked]
    assert len(aucs) == 6 and aucs == sorted(aucs, reverse=True)
    assert {row["run_id"] for row in ranked} == {c.id for c in children}
    for row in ranked:
        assert row["best_primary_metric"] == run.get_metrics()[row["run_id"]]["AUC"]

    best_run = run.get_best_run_by_primary_metric()
    assert best_run.id == ranked[0]["run_id"] == run.get_properties()["best_child_run_id"]
    assert best_run.get_metrics()["AUC"] == aucs[0]
    assert "outputs/model.pkl" in best_run.get_file_names()
    model = best_run.register_model(model_name="diabetes-hyperdrive",
                                    model_path="outputs/model.pkl",
                                    properties={"AUC": aucs[0]})
    assert model.run_id == best_run.id
    registered = Model(ws, "diabetes-hyperdrive")
    assert registered.run_id == best_run.id and registered.version == 1
