"""Plinth quickstart: the course's first lab on the embedded default.

Creates a workspace in ./demo-workspace, submits the diabetes training script with a
regularization rate, streams its log, reads its metrics and files, registers the model it
produced and prints the registry. Run it with ``make demo`` (or ``python examples/quickstart.py``).
"""

import shutil
import sys
import tempfile
from pathlib import Path

from plinth.core import Experiment, Model, Workspace
from plinth.train.sklearn import SKLearn

HERE = Path(__file__).resolve().parent
WORKSPACE_DIR = Path(sys.argv[1]) if len(sys.argv) > 1 else Path.cwd() / "demo-workspace"

# 1. A workspace: SQLite metadata and a folder of artifacts; its config makes
#    Workspace.from_config() find it from this folder on.
ws = Workspace.create("quickstart", path=WORKSPACE_DIR, exist_ok=True)
ws.write_config(path=WORKSPACE_DIR)
ws = Workspace.from_config(path=WORKSPACE_DIR)
print(f"Workspace {ws.name} at {ws.get_details()['workspaceFolder']}")

# 2. The experiment folder holds the script and its data, as in the course.
experiment_folder = Path(tempfile.mkdtemp(prefix="diabetes-training-"))
shutil.copy(HERE / "diabetes-training" / "train_diabetes.py", experiment_folder)
shutil.copy(HERE / "data" / "diabetes.csv", experiment_folder)

# 3. Submit the script with a parameter and watch it run.
estimator = SKLearn(
    source_directory=str(experiment_folder),
    entry_script="train_diabetes.py",
    script_params={"--reg_rate": 0.1},
    compute_target="local",
)
experiment = Experiment(workspace=ws, name="diabetes-training")
run = experiment.submit(config=estimator)
run.wait_for_completion(show_output=True)
shutil.rmtree(experiment_folder)

# 4. Read what the run logged and produced.
metrics = run.get_metrics()
for name in ("Regularization Rate", "Accuracy", "AUC"):
    print(f"{name}: {metrics[name]}")
print("Files:", ", ".join(run.get_file_names()))

# 5. Register the model with its quality, and list the registry.
run.register_model(
    model_name="diabetes_model",
    model_path="outputs/model.pkl",
    model_framework=Model.Framework.SCIKITLEARN,
    tags={"Training context": "Script"},
    properties={"AUC": metrics["AUC"], "Accuracy": metrics["Accuracy"]},
    description="Logistic regression on the diabetes data set",
)
print("\nRegistered models:")
for model in Model.list(ws):
    print(f"  {model.name} version: {model.version}")
    for key, value in model.properties.items():
        print(f"\t{key}: {value}")
