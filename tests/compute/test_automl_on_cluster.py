"""The course's AutoML lab on an AmlCompute training cluster (this machine's Ray cluster):
classification of the diabetes data, four iterations two at a time, every child (setup,
iterations, ensemble, explanation) run by a Ray task of the cluster."""

from __future__ import annotations

import uuid
from pathlib import Path

import pandas as pd
import pytest
from tests import compute as shared

from plinth.core import Dataset, Experiment, Workspace
from plinth.core.compute import AmlCompute, ComputeTarget
from plinth.train.automl import AutoMLConfig

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]
ray_home, ray_address = shared.ray_home, shared.ray_address

DATA = Path(__file__).resolve().parents[2] / "examples" / "data" / "diabetes.csv"
CLUSTER = "automl-cluster"


def test_the_automl_lab_on_a_two_node_cluster(ray_address, tmp_path):
    ws = Workspace.create(f"ws-{uuid.uuid4().hex[:8]}", path=tmp_path / "ws")
    config = AmlCompute.provisioning_configuration(vm_size="STANDARD_DS11_V2", max_nodes=2)
    config.config["idle_seconds_before_scaledown"] = shared.SESSION_IDLE
    cluster = ComputeTarget.create(ws, CLUSTER, config)
    cluster.wait_for_completion(show_output=False)

    folder = tmp_path / "data"
    folder.mkdir()
    pd.read_csv(DATA).sample(1000, random_state=0).to_csv(folder / "diabetes.csv", index=False)
    datastore = ws.get_default_datastore()
    datastore.upload(str(folder), target_path="diabetes-data", overwrite=True,
                     show_progress=False)
    dataset = Dataset.Tabular.from_delimited_files((datastore, "diabetes-data/*.csv")).register(
        ws, "diabetes dataset")

    automl_config = AutoMLConfig(name="Automated ML Experiment", task="classification",
                                 compute_target=cluster, training_data=dataset,
                                 validation_data=None, label_column_name="Diabetic",
                                 primary_metric="AUC_weighted", experiment_timeout_minutes=30,
                                 max_concurrent_iterations=2, featurization="auto",
                                 iterations=4)
    run = Experiment(ws, "mslearn-diabetes-automl").submit(automl_config)
    details = run.wait_for_completion(show_output=False, raise_on_error=False)
    if details["status"] != "Completed":
        logs = run.get_details_with_logs()["logFiles"]
        pytest.fail(f"AutoML {run.id} is {details['status']}: {details.get('error')}; "
                    f"driver log: {logs.get('logs/driver.log')}")

    children = list(run.get_children())
    assert len([c for c in children if "iteration" in c.get_tags()]) == 5  # 4 + the ensemble
    for child in children:
        assert child.get_status() == "Completed"
        compute = child.get_details()["runDefinition"]["compute"]
        assert (compute["name"], compute["kind"]) == (CLUSTER, "AmlCompute")
        # The training data is an input of every child: the lineage names its version.
        assert child.get_details()["inputDatasets"][0]["dataset"]["name"] == "diabetes dataset"

    best_run, fitted_model = run.get_output()
    print(fitted_model.named_steps)
    assert best_run.get_metrics()["AUC_weighted"] > 0.85
    model = best_run.register_model(model_name="diabetes_model",
                                    model_path="outputs/model.pkl",
                                    properties={"AUC": best_run.get_metrics()["AUC_weighted"]})
    assert model.run_id == best_run.id
