"""AutoML end to end: the course's lab, regression, forecasting, the settings' checks,
guardrails, ensembles, explanations, cancel and failures."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from plinth.core import Dataset, Experiment, Model
from plinth.exceptions import UserErrorException
from plinth.train.automl import (
    AutoMLConfig,
    AutoMLRun,
    FeaturizationConfig,
    ForecastingParameters,
    get_primary_metrics,
)

DATA = Path(__file__).resolve().parents[2] / "examples" / "data" / "diabetes.csv"
embedded = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
#: The course's lab also runs through a workspace server, where every child logs over REST.
embedded_and_server = pytest.mark.parametrize("backend", [
    "sqlite", pytest.param("remote", marks=[pytest.mark.postgres, pytest.mark.remote])],
    indirect=True)


def diabetes(rows: int = 600) -> pd.DataFrame:
    return pd.read_csv(DATA).sample(rows, random_state=1).reset_index(drop=True)


@pytest.fixture
def diabetes_dataset(ws, tmp_path):
    folder = tmp_path / "diabetes"
    folder.mkdir()
    diabetes(800).to_csv(folder / "diabetes.csv", index=False)
    datastore = ws.get_default_datastore()
    datastore.upload(str(folder), target_path="diabetes", overwrite=True, show_progress=False)
    return Dataset.Tabular.from_delimited_files((datastore, "diabetes/*.csv")).register(
        ws, "diabetes dataset")


# -- the settings ------------------------------------------------------------------------------

def test_primary_metrics_are_azureml_names():
    assert "AUC_weighted" in get_primary_metrics("classification")
    assert "accuracy" in get_primary_metrics("classification")
    assert "normalized_root_mean_squared_error" in get_primary_metrics("regression")
    assert "r2_score" in get_primary_metrics("forecasting")
    with pytest.raises(UserErrorException, match="task='clustering'"):
        get_primary_metrics("clustering")


@pytest.mark.parametrize("kwargs, message", [
    ({"task": "classification", "primary_metric": "r2_score"}, "primary_metric='r2_score'"),
    ({"task": "classification", "n_cross_validations": 3, "validation_size": 0.2},
     "one of validation_data, n_cross_validations and validation_size"),
    ({"task": "classification", "validation_size": 1.5}, "validation_size"),
    ({"task": "classification", "n_cross_validations": 1}, "n_cross_validations"),
    ({"task": "classification", "label_column_name": "Outcome"}, "no column 'Outcome'"),
    ({"task": "classification", "allowed_models": ["Prophet"]}, "Prophet"),
    ({"task": "classification", "allowed_models": ["NoSuchModel"]}, "NoSuchModel"),
    ({"task": "classification", "enable_dnn": True}, "enable_dnn"),
    ({"task": "classification", "spark_context": object()}, "spark_context"),
    ({"task": "classification", "not_an_argument": 1}, "not_an_argument"),
    ({"task": "classification", "iterations": 0}, "iterations"),
    ({"task": "classification", "featurization": "maybe"}, "featurization"),
    ({"task": "regression", "forecasting_parameters": ForecastingParameters(
        time_column_name="t", forecast_horizon=3)}, "only for task='forecasting'"),
    ({"task": "forecasting"}, "forecasting_parameters"),
    ({"task": "classification", "experiment_timeout_minutes": 5,
      "experiment_timeout_hours": 1}, "not both"),
])
def test_bad_settings_are_named(kwargs, message):
    settings = {"training_data": diabetes(50), "label_column_name": "Diabetic", **kwargs}
    with pytest.raises(UserErrorException, match=message):
        AutoMLConfig(**settings)


def test_settings_keep_what_was_asked():
    config = AutoMLConfig(task="classification", primary_metric="AUC_weighted",
                          training_data=diabetes(50), label_column_name="Diabetic",
                          experiment_timeout_hours=0.5, blacklist_models=["KNN"],
                          featurization=FeaturizationConfig(drop_columns=["PatientID"]),
                          max_cores_per_iteration=-1, verbosity=20)
    assert config.experiment_timeout_minutes == 30
    assert "KNN" not in config.allowed_models and "LightGBM" in config.allowed_models
    assert config._settings()["goal"] == "maximize"
    assert config._settings()["featurization"]["drop_columns"] == ["PatientID"]


# -- end to end --------------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.timeout(600)
@embedded_and_server
def test_the_course_lab_classifies_registers_and_scores(ws, diabetes_dataset, tmp_path):
    config = AutoMLConfig(name="Automated ML Experiment", task="classification",
                          compute_target="local", training_data=diabetes_dataset,
                          validation_data=None, label_column_name="Diabetic",
                          primary_metric="AUC_weighted", experiment_timeout_minutes=30,
                          max_concurrent_iterations=2, iterations=4, featurization="auto",
                          n_cross_validations=3)
    run = Experiment(ws, "mslearn-diabetes-automl").submit(config)
    assert isinstance(run, AutoMLRun)
    run.wait_for_completion(show_output=False)
    assert run.get_status() == "Completed"

    children = {c.id: c for c in run.get_children()}
    iterations = [c for c in children.values() if "iteration" in c.tags]
    # Four searched iterations, then the voting ensemble of the best of them.
    algorithms = [c.tags["run_algorithm"] for c in sorted(iterations,
                                                         key=lambda c: int(c.tags["iteration"]))]
    assert len(algorithms) == 5 and algorithms[-1] == "VotingEnsemble"
    assert f"{run.id}_setup" in children and f"{run.id}_explain" in children
    for child in iterations:
        assert child.status == "Completed"
        logged = child.get_metrics()
        assert {"AUC_weighted", "accuracy", "log_loss", "f1_score_weighted"} <= set(logged)
    # At most two iterations ran at once.
    spans = [(c._record.start_time, c._record.end_time) for c in iterations[:4]]
    for start, _ in spans:
        assert sum(1 for s, e in spans if s < start < e) <= 1

    best_run, fitted_model = run.get_output()
    leaderboard = run.get_leaderboard()
    assert best_run.id == leaderboard[0]["run_id"] == run.get_properties()["best_child_run_id"]
    assert [r["score"] for r in leaderboard] == sorted((r["score"] for r in leaderboard),
                                                       reverse=True)
    steps = list(fitted_model.named_steps)
    print(fitted_model.named_steps)
    frame = diabetes(200)
    predictions = fitted_model.predict(frame.drop(columns=["Diabetic"]))
    assert set(predictions) <= {0, 1}
    assert (predictions == frame["Diabetic"]).mean() > 0.75
    if best_run.tags["run_algorithm"] != "VotingEnsemble":
        assert steps[0] == "datatransformer" and steps[-1] == best_run.tags["run_algorithm"]
    # By another metric, or an iteration by number.
    by_accuracy, _ = run.get_output(metric="accuracy")
    assert by_accuracy.id == run.get_leaderboard("accuracy")[0]["run_id"]
    second, model_1 = run.get_output(iteration=1)
    assert second.tags["iteration"] == "1"
    assert list(model_1.named_steps)[-1] == second.tags["run_algorithm"]

    # Guardrails and featurization: PatientID is an identifier, dropped.
    guardrails = {g["name"]: g for g in run.get_guardrails(to_console=False)}
    assert guardrails["Validation split handling"]["status"] == "done"
    assert guardrails["Missing feature values imputation"]["status"] == "passed"
    summary = {row["RawFeatureName"]: row for row in run.get_featurization_summary()}
    assert summary["PatientID"]["Dropped"] == "Yes"
    assert summary["PlasmaGlucose"]["Dropped"] == "No"
    # Feature importance of the best model: glucose matters more than the identifier.
    importance = run.get_feature_importance()
    assert importance["raw"]["PlasmaGlucose"] > importance["raw"].get("PatientID", 0.0)
    assert "raw_feature_importance" in run.get_metrics()

    # Register with its metrics as properties, deploy the generated scoring script, score.
    metrics = best_run.get_metrics()
    model = best_run.register_model(model_path="outputs/model.pkl",
                                    model_name="diabetes_model", tags={"Training context":
                                                                        "Auto ML"},
                                    properties={"AUC": metrics["AUC_weighted"],
                                                "Accuracy": metrics["accuracy"]})
    assert float(model.properties["AUC"]) == pytest.approx(metrics["AUC_weighted"])
    files = best_run.get_file_names()
    assert {"outputs/model.pkl", "outputs/scoring_file.py", "outputs/conda_env.yml"} <= set(files)
    folder = tmp_path / "service"
    best_run.download_file("outputs/scoring_file.py", str(folder / "scoring_file.py"))
    from plinth.core.model import InferenceConfig
    from plinth.core.webservice import LocalWebservice

    service = Model.deploy(ws, "diabetes-automl", [model],
                           InferenceConfig(entry_script="scoring_file.py",
                                           source_directory=str(folder)),
                           LocalWebservice.deploy_configuration())
    try:
        service.wait_for_deployment()
        assert service.state == "Healthy", service.get_logs()
        rows = frame.drop(columns=["Diabetic"]).head(5)
        answer = service.run(json.dumps({"data": json.loads(rows.to_json(orient="records"))}))
        assert answer["result"] == [int(v) for v in fitted_model.predict(rows)]
        assert set(answer["probabilities"][0]) == {"0", "1"}
    finally:
        service.delete()


@pytest.mark.slow
@pytest.mark.timeout(600)
@embedded
def test_regression_with_a_dataframe_weights_and_a_stack_ensemble(ws, tmp_path):
    from sklearn.datasets import load_diabetes

    frame = load_diabetes(as_frame=True).frame
    frame["weight"] = 1.0
    train, valid = frame.iloc[:350], frame.iloc[350:]
    config = AutoMLConfig(task="regression", primary_metric="r2_score", training_data=train,
                          validation_data=valid, label_column_name="target",
                          weight_column_name="weight", iterations=3,
                          allowed_models=["ElasticNet", "LightGBM", "RandomForest"],
                          enable_stack_ensemble=True, model_explainability=False)
    run = Experiment(ws, "automl-regression").submit(config)
    run.wait_for_completion(show_output=False)
    assert run.get_status() == "Completed"
    algorithms = sorted(c.tags["run_algorithm"] for c in run.get_children()
                        if "iteration" in c.tags)
    assert algorithms == ["ElasticNet", "LightGBM", "RandomForest", "StackEnsemble",
                          "VotingEnsemble"]
    best_run, fitted = run.get_output()
    # Metrics are measured on validation_data, exactly: recompute the best one.
    from sklearn.metrics import r2_score

    predicted = fitted.predict(valid.drop(columns=["target", "weight"]))
    assert best_run.get_metrics()["r2_score"] == pytest.approx(
        r2_score(valid["target"], predicted), abs=1e-6)
    assert r2_score(valid["target"], predicted) > 0.3
    # The DataFrame was registered, so the run says which data trained it.
    registered = Dataset.get_by_name(ws, "automl-regression-training-data")
    assert len(registered.to_pandas_dataframe()) == len(train)
    # The command line shows the leaderboard.
    from typer.testing import CliRunner

    from plinth.cli import app

    ws.write_config(tmp_path / "cfg")
    runner = CliRunner(env={"COLUMNS": "240"})
    where = ["--workspace-config", str(tmp_path / "cfg")]
    shown = runner.invoke(app, ["run", "show", run.id, *where])
    assert "Leaderboard by r2_score" in shown.output and best_run.id in shown.output
    data = json.loads(runner.invoke(app, ["run", "show", run.id, "--json", *where]).output)
    assert data["leaderboard"][0]["run_id"] == best_run.id
    assert {g["name"] for g in data["guardrails"]} >= {"Validation split handling"}


@pytest.mark.slow
@pytest.mark.timeout(600)
@embedded
def test_forecasting_beats_the_naive_forecast(ws):
    days = pd.date_range("2024-01-01", periods=200, freq="D")
    rows = []
    for store, level in (("A", 50.0), ("B", 80.0)):
        for i, day in enumerate(days):
            rows.append({"date": day, "store": store,
                         "sales": level + 0.2 * i + 10 * (day.day_of_week >= 5)
                         + np.sin(i) * 0.5})
    frame = pd.DataFrame(rows)
    train = frame[frame["date"] < days[-7]]
    future = frame[frame["date"] >= days[-7]]
    params = ForecastingParameters(time_column_name="date", forecast_horizon=7,
                                   time_series_id_column_names=["store"], target_lags=[1, 7])
    config = AutoMLConfig(task="forecasting", training_data=train, label_column_name="sales",
                          forecasting_parameters=params, n_cross_validations=2,
                          allowed_models=["Naive", "SeasonalNaive", "ElasticNet"],
                          primary_metric="normalized_root_mean_squared_error",
                          iterations=3, model_explainability=False)
    run = Experiment(ws, "automl-forecasting").submit(config)
    run.wait_for_completion(show_output=False)
    assert run.get_status() == "Completed"
    board = {r["algorithm"]: r["score"] for r in run.get_leaderboard()}
    assert board["SeasonalNaive"] < board["Naive"]
    best_run, fitted = run.get_output()
    assert best_run.tags["run_algorithm"] != "Naive"
    predicted = fitted.predict(future.drop(columns=["sales"]))
    error = np.abs(predicted - future["sales"].to_numpy()).mean()
    naive = np.abs(train.groupby("store")["sales"].last().loc[future["store"]].to_numpy()
                   - future["sales"].to_numpy()).mean()
    assert error < naive


@pytest.mark.slow
@embedded
def test_a_label_column_missing_from_a_dataset_fails_setup_with_its_name(ws, tmp_path):
    folder = tmp_path / "d"
    folder.mkdir()
    diabetes(60).to_csv(folder / "d.csv", index=False)
    datastore = ws.get_default_datastore()
    datastore.upload(str(folder), target_path="d", overwrite=True, show_progress=False)
    dataset = Dataset.Tabular.from_delimited_files((datastore, "d/*.csv"))
    config = AutoMLConfig(task="classification", training_data=dataset,
                          label_column_name="Outcome", iterations=2)
    run = Experiment(ws, "automl-bad-label").submit(config)
    run.wait_for_completion(show_output=False, raise_on_error=False)
    assert run.get_status() == "Failed"
    assert "Outcome" in run._record.error["message"]
    assert not [c for c in run.get_children() if "iteration" in c.tags]


@pytest.mark.slow
@embedded
def test_a_timeout_before_any_iteration_completes_says_so(ws):
    config = AutoMLConfig(task="classification", training_data=diabetes(300),
                          label_column_name="Diabetic", experiment_timeout_minutes=0.02,
                          allowed_models=["RandomForest"])
    run = Experiment(ws, "automl-timeout").submit(config)
    run.wait_for_completion(show_output=False, raise_on_error=False)
    assert run.get_status() == "Failed"
    assert "experiment_timeout_minutes=0.02" in run._record.error["message"]
    assert "more time" in run._record.error["message"]


@pytest.mark.slow
@embedded
def test_canceling_stops_running_iterations(ws):
    config = AutoMLConfig(task="classification", training_data=diabetes(400),
                          label_column_name="Diabetic", iterations=50,
                          max_concurrent_iterations=2, enable_early_stopping=False)
    run = Experiment(ws, "automl-cancel").submit(config)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not any(
            "iteration" in c.tags for c in run.get_children()):
        time.sleep(0.2)
    run.cancel()
    run.wait_for_completion(show_output=False, raise_on_error=False)
    assert run.get_status() == "Canceled"
    iterations = [c for c in run.get_children() if "iteration" in c.tags]
    assert 0 < len(iterations) < 50
    assert all(c.get_status() in ("Completed", "Canceled", "Failed") for c in iterations)



@pytest.mark.slow
@embedded
def test_a_restarted_driver_carries_on_without_repeating_iterations(ws):
    import os
    import signal

    from plinth._execution.submit import launch_worker

    config = AutoMLConfig(task="classification", training_data=diabetes(300),
                          label_column_name="Diabetic", iterations=4,
                          allowed_models=["LogisticRegression", "DecisionTree", "KNN"],
                          enable_voting_ensemble=False, model_explainability=False)
    run = Experiment(ws, "automl-restart").submit(config)
    deadline = time.monotonic() + 120
    while not any("iteration" in c.tags for c in run.get_children()):
        assert time.monotonic() < deadline, "no iteration started"
        time.sleep(0.1)
    pid = int(run.get_tags()["plinth.driverPid"])
    os.kill(pid, signal.SIGKILL)
    launch_worker(ws._location, run.id)  # what a supervisor does with an orphaned run
    run.wait_for_completion(show_output=False)
    iterations = sorted(int(c.tags["iteration"]) for c in run.get_children()
                        if "iteration" in c.tags)
    assert iterations == [0, 1, 2, 3]
    assert len([c for c in run.get_children() if c.id.endswith("_setup")]) == 1
    assert int(run.get_tags()["plinth.driverPid"]) != pid
    assert [r["algorithm"] for r in run.get_leaderboard()]
