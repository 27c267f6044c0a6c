"""The course's compute flow through the public SDK: a registered conda environment, used by
estimator runs on an AmlCompute cluster with ``max_nodes=2``."""

from __future__ import annotations

import uuid

import pytest
from tests import compute as shared
from tests.conftest import write_script

from plinth.core import Environment, Experiment, Workspace
from plinth.core.compute import AmlCompute, ComputeTarget
from plinth.train.estimator import Estimator

pytestmark = pytest.mark.slow
ray_home, ray_address = shared.ray_home, shared.ray_address

CONDA = """\
name: py_env
dependencies:
  - python=3.6.2
  - scikit-learn
  - pandas
  - pip
  - pip:
    - azureml-defaults
"""

TRAIN = """
    import time
    import pandas, sklearn
    from plinth.core import Run

    run = Run.get_context()
    run.log("start", time.time())
    time.sleep(3)
    run.log("end", time.time())
"""


def test_four_runs_on_a_two_node_cluster_in_the_course_environment(ray_address, tmp_path):
    ws = Workspace.create(f"ws-{uuid.uuid4().hex[:8]}", path=tmp_path / "ws")
    (tmp_path / "conda.yml").write_text(CONDA)
    Environment.from_conda_specification("training_environment",
                                         str(tmp_path / "conda.yml")).register(ws)
    training_env = Environment.get(workspace=ws, name="training_environment")

    config = AmlCompute.provisioning_configuration(vm_size="STANDARD_D1_V2", max_nodes=2)
    config.config["idle_seconds_before_scaledown"] = shared.SESSION_IDLE
    training_cluster = ComputeTarget.create(ws, "aml-cluster", config)
    training_cluster.wait_for_completion(show_output=False)

    folder = tmp_path / "experiment_folder"
    folder.mkdir()
    write_script(folder, "training_script.py", TRAIN)
    estimator = Estimator(source_directory=str(folder), entry_script="training_script.py",
                          environment_definition=training_env,
                          compute_target=training_cluster)
    experiment = Experiment(ws, "on-the-cluster")
    runs = [experiment.submit(estimator) for _ in range(4)]
    for run in runs:
        run.wait_for_completion(raise_on_error=True)

    spans = sorted((run.get_metrics()["start"], run.get_metrics()["end"]) for run in runs)
    for start, _ in spans:
        running = sum(1 for s, e in spans if s <= start < e)
        assert running <= 2, spans
    environment_log = runs[0].get_details_with_logs()["logFiles"]["logs/environment.log"]
    assert "3.6" in environment_log  # asked for 3.6.2; the log says what ran instead
    assert runs[0].get_details()["runDefinition"]["compute"]["name"] == "aml-cluster"
