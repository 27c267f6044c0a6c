"""A person who never used the SDK, in a browser, on the quickstart's workspace plus the
course's HyperDrive lab and a deployed endpoint: finds the best run of the sweep and sees
why (its chart), sees which dataset version trained the registered model, opens a pipeline
run's graph, and tests the endpoint. Screenshots of the main pages are kept for review."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from tests.conftest import write_script

from plinth.core import Experiment, Model, ScriptRunConfig, Workspace
from plinth.core.model import InferenceConfig
from plinth.core.webservice import LocalWebservice
from plinth.train.automl import AutoMLConfig
from plinth.train.hyperdrive import (
    GridParameterSampling,
    HyperDriveConfig,
    PrimaryMetricGoal,
    choice,
)

from .conftest import screenshot

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "examples" / "data" / "diabetes.csv"

#: The course's HyperDrive lab script, logging its learning curve too.
TRAIN = """
    import argparse, os
    import joblib
    import pandas as pd
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import train_test_split
    from plinth.core import Run

    parser = argparse.ArgumentParser()
    parser.add_argument("--learning_rate", type=float)
    parser.add_argument("--n_estimators", type=int)
    args = parser.parse_args()
    run = Run.get_context()
    data = pd.read_csv("diabetes.csv").sample(2000, random_state=0)
    X, y = data.drop(columns=["PatientID", "Diabetic"]).values, data["Diabetic"].values
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0)
    model = GradientBoostingClassifier(learning_rate=args.learning_rate,
                                       n_estimators=args.n_estimators).fit(X_train, y_train)
    for step, proba in enumerate(model.staged_predict_proba(X_test)):
        run.log("AUC per tree", float(roc_auc_score(y_test, proba[:, 1])), step=step)
    run.log("AUC", float(roc_auc_score(y_test, model.predict_proba(X_test)[:, 1])))
    os.makedirs("outputs", exist_ok=True)
    joblib.dump(model, "outputs/model.pkl")
"""

SCORE = """
    import json
    import joblib
    import numpy as np
    from plinth.core.model import Model

    def init():
        global model
        model = joblib.load(Model.get_model_path("diabetes_model"))

    def run(raw_data):
        data = np.array(json.loads(raw_data)["data"])
        classnames = ["not-diabetic", "diabetic"]
        return [classnames[int(p)] for p in model.predict(data)]
"""


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """The quickstart's workspace, the HyperDrive lab's sweep and a deployed service."""
    folder = tmp_path_factory.mktemp("course")
    done = subprocess.run([sys.executable, str(ROOT / "examples" / "quickstart.py"),
                           str(folder / "ws")], cwd=folder, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    ws = Workspace.from_config(path=folder / "ws")

    lab = folder / "diabetes_training-hyperdrive"
    lab.mkdir()
    write_script(lab, "diabetes_training.py", TRAIN)
    (lab / "diabetes.csv").write_bytes(DATA.read_bytes())
    sampling = GridParameterSampling({"--learning_rate": choice(0.01, 0.1, 1.0),
                                      "--n_estimators": choice(10, 100)})
    sweep = Experiment(ws, "mslearn-diabetes-hyperdrive").submit(HyperDriveConfig(
        run_config=ScriptRunConfig(source_directory=str(lab), script="diabetes_training.py"),
        hyperparameter_sampling=sampling, primary_metric_name="AUC",
        primary_metric_goal=PrimaryMetricGoal.MAXIMIZE, max_total_runs=6,
        max_concurrent_runs=2))
    sweep.wait_for_completion()

    service_dir = folder / "service_files"
    service_dir.mkdir()
    write_script(service_dir, "score_diabetes.py", SCORE)
    service = Model.deploy(ws, "diabetes-service", [ws.models["diabetes_model"]],
                           InferenceConfig(entry_script="score_diabetes.py",
                                           source_directory=str(service_dir)),
                           LocalWebservice.deploy_configuration())
    service.wait_for_deployment()

    automl = Experiment(ws, "mslearn-diabetes-automl").submit(AutoMLConfig(
        task="classification", primary_metric="AUC_weighted",
        training_data=ws.datasets["diabetes dataset"].take(600),
        label_column_name="Diabetic", iterations=2, n_cross_validations=3))
    automl.wait_for_completion()
    yield ws, sweep, automl
    service.delete()


def test_from_the_browser_alone(course, studio, page):
    from playwright.sync_api import expect

    ws, sweep, automl = course
    server = studio(ws)
    page.goto(f"{server}/")
    expect(page.locator("#experiments")).to_be_visible()
    screenshot(page, "course-experiments")

    # The HyperDrive lab: its children ranked by AUC, and the parallel-coordinates chart.
    page.get_by_role("link", name="mslearn-diabetes-hyperdrive", exact=True).click()
    expect(page.locator("#runs tr[data-run-id]")).to_have_count(1)
    screenshot(page, "course-runs")
    page.locator(f'#runs tr[data-run-id="{sweep.id}"] a').first.click()
    children = page.locator("#hyperdrive-children tbody tr")
    expect(children).to_have_count(6)
    expect(page.locator('#parallel-coordinates[data-drawn="1"]')).to_be_attached()
    best = sweep.get_best_run_by_primary_metric()
    expect(children.first).to_contain_text(best.id)
    screenshot(page, "course-hyperdrive")

    # Why it is best: its metrics, the learning curve drawn as a chart.
    children.first.get_by_role("link", name=re.compile(re.escape(best.id))).first.click()
    expect(page).to_have_url(re.compile(rf"/runs/{re.escape(best.id)}"))
    page.get_by_role("link", name="Metrics", exact=True).click()
    expect(page.locator('.chart[data-metric="AUC per tree"][data-drawn="1"]')).to_be_visible()
    screenshot(page, "course-best-run-metrics")

    # The registered model and the dataset version that trained it.
    page.get_by_role("navigation", name="Workspace").get_by_role("link", name="Models").click()
    page.get_by_role("link", name="diabetes_model", exact=True).first.click()
    lineage = page.locator('#model-versions a[data-lineage="dataset"]').first
    expect(lineage).to_contain_text("diabetes dataset")
    lineage.click()
    expect(page).to_have_url(re.compile(r"/datasets/diabetes(%20| )dataset\?version=1"))
    expect(page.locator("#preview tbody tr").first).to_be_visible()
    screenshot(page, "course-dataset")

    # The second pipeline run reused both steps: its graph says so.
    page.goto(f"{server}/w/{ws.name}/experiments/diabetes-training-pipeline")
    newest = page.locator("#runs tr[data-run-id]").first
    newest.locator("a").first.click()
    nodes = page.locator("#pipeline-graph g.node")
    expect(nodes).to_have_count(2)
    expect(page.locator('#pipeline-graph g.node[data-reused="true"]')).to_have_count(2)
    screenshot(page, "course-pipeline-graph")

    # The AutoML run: its leaderboard, guardrails and the best model's feature importance.
    page.goto(f"{server}/w/{ws.name}/runs/{automl.id}")
    expect(page.locator("#automl-leaderboard tbody tr")).to_have_count(3)  # 2 + the ensemble
    expect(page.locator("#guardrails")).to_contain_text("Class balancing detection")
    expect(page.locator("#feature-importance")).to_contain_text("PlasmaGlucose")
    screenshot(page, "course-automl")

    # The endpoint's test console answers with the model's predictions.
    page.get_by_role("navigation", name="Workspace").get_by_role("link",
                                                                 name="Endpoints").click()
    page.get_by_role("link", name="diabetes-service", exact=True).click()
    page.locator("#test-input").fill(json.dumps(
        {"data": [[2, 180, 74, 24, 21, 23.9091702, 1.488172308, 22]]}))
    page.locator("#test-send").click()
    status = page.locator("#test-output .test-status")
    expect(status).to_have_attribute("data-status", "200")
    expect(page.locator("#test-output")).to_contain_text("diabetic")
    screenshot(page, "course-endpoint-test")
