"""Plinth quickstart: the course's first labs on the embedded default.

Creates a workspace in ./demo-workspace, uploads the diabetes data to its default datastore
and registers it as a tabular dataset, submits the training script with the dataset as an
input and a regularization rate, streams its log, reads its metrics and files, registers the
model it produced (with its training dataset) and prints the registry; then runs the same
training as a two-step pipeline (prepare -> train) twice, the second time reusing both
steps. Run it with ``make demo`` (or ``python examples/quickstart.py``).
"""

import shutil
import sys
import tempfile
from pathlib import Path

from plinth.core import Dataset, Experiment, Model, Workspace
from plinth.data import OutputFileDatasetConfig
from plinth.pipeline.core import Pipeline, PipelineParameter
from plinth.pipeline.steps import PythonScriptStep
from plinth.train.sklearn import SKLearn

HERE = Path(__file__).resolve().parent
WORKSPACE_DIR = Path(sys.argv[1]) if len(sys.argv) > 1 else Path.cwd() / "demo-workspace"

# 1. A workspace: SQLite metadata and a folder of artifacts; its config makes
#    Workspace.from_config() find it from this folder on.
ws = Workspace.create("quickstart", path=WORKSPACE_DIR, exist_ok=True)
ws.write_config(path=WORKSPACE_DIR)
ws = Workspace.from_config(path=WORKSPACE_DIR)
print(f"Workspace {ws.name} at {ws.get_details()['workspaceFolder']}")

# 2. The data goes to the default datastore once, and becomes a versioned dataset.
default_store = ws.get_default_datastore()
default_store.upload_files(
    files=[str(HERE / "data" / "diabetes.csv"), str(HERE / "data" / "diabetes2.csv")],
    target_path="diabetes-data/", overwrite=True, show_progress=True,
)
tab_data_set = Dataset.Tabular.from_delimited_files(path=(default_store, "diabetes-data/*.csv"))
tab_data_set = tab_data_set.register(workspace=ws, name="diabetes dataset",
                                     description="diabetes data", tags={"format": "CSV"})
print(f"Dataset {tab_data_set.name} version {tab_data_set.version}")

# 3. The experiment folder holds only the script; the data comes in as a named input.
experiment_folder = Path(tempfile.mkdtemp(prefix="diabetes-training-"))
shutil.copy(HERE / "diabetes-training" / "train_diabetes.py", experiment_folder)
estimator = SKLearn(
    source_directory=str(experiment_folder),
    entry_script="train_diabetes.py",
    script_params={"--reg_rate": 0.1,
                   "--input-data": tab_data_set.as_named_input("training_data")},
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
    datasets=[("training data", tab_data_set)],
)
print("\nRegistered models:")
for model in Model.list(ws):
    print(f"  {model.name} version: {model.version}")
    for key, value in model.properties.items():
        print(f"\t{key}: {value}")
    for dataset in model.datasets:
        print(f"\ttrained on: {dataset['name']} version {dataset['version']}")

# 6. The same training as a pipeline: a step prepares the data, the next trains on it.
#    Submitted again unchanged, both steps reuse the first run's outputs.
prepped_data = OutputFileDatasetConfig("prepped_data")
prep_step = PythonScriptStep(
    name="prepare data", source_directory=str(HERE / "diabetes-pipeline"),
    script_name="prep_diabetes.py", arguments=["--prepped-data", prepped_data],
    inputs=[tab_data_set.as_named_input("raw_data")])
train_step = PythonScriptStep(
    name="train model", source_directory=str(HERE / "diabetes-training"),
    script_name="train_diabetes.py",
    arguments=["--reg_rate", PipelineParameter("reg_rate", default_value=0.1)],
    inputs=[prepped_data.read_delimited_files().as_input("training_data")])
pipeline = Pipeline(ws, steps=[prep_step, train_step])
pipeline_experiment = Experiment(ws, "diabetes-training-pipeline")
for attempt in ("first", "second"):
    pipeline_run = pipeline_experiment.submit(pipeline)
    pipeline_run.wait_for_completion(show_output=False)
    print(f"\nPipeline run ({attempt} submission): {pipeline_run.get_status()}")
    for step in pipeline_run.get_steps():
        reused = f", reused run {step.reused_run_id}" if step.is_reused else ""
        print(f"  {step.name}: {step.get_status()}{reused}")
trained = pipeline_run.find_step_run("train model")[0]
print(f"  AUC of the pipeline's model: {trained.get_metrics()['AUC']:.4f}")
