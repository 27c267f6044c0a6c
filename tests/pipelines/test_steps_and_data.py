"""Step kinds, OutputFileDatasetConfig and the checks a pipeline makes when it is built."""

from __future__ import annotations

import pytest
from tests.conftest import write_script

from plinth.core import Dataset, Experiment, RunConfiguration
from plinth.data import OutputFileDatasetConfig
from plinth.data.data_reference import DataReference
from plinth.exceptions import UserErrorException
from plinth.pipeline.core import Pipeline, PipelineData, PipelineParameter
from plinth.pipeline.steps import CommandStep, DataTransferStep, EstimatorStep, PythonScriptStep
from plinth.train.estimator import Estimator

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


def steps_of(run):
    return {s.name: s for s in run.get_steps()}


@pytest.fixture
def folder(tmp_path):
    path = tmp_path / "src"
    path.mkdir()
    write_script(path, "noop.py", "print('ok')\n")
    return path


def test_a_cycle_is_an_error_naming_the_steps(ws, folder):
    first = PythonScriptStep("noop.py", name="first", source_directory=str(folder))
    second = PythonScriptStep("noop.py", name="second", source_directory=str(folder))
    second.run_after(first)
    first.run_after(second)
    with pytest.raises(UserErrorException, match=r"cycle: .*'first'.*'second'"):
        Pipeline(ws, [first, second])


def test_data_no_step_writes_is_an_error(ws, folder):
    orphan = PipelineData("orphan")
    reader = PythonScriptStep("noop.py", name="reader", source_directory=str(folder),
                              inputs=[orphan], arguments=[orphan])
    with pytest.raises(UserErrorException, match="reads 'orphan', which no step"):
        Pipeline(ws, [reader])


def test_two_steps_writing_one_output_is_an_error(ws, folder):
    data = PipelineData("data")
    one = PythonScriptStep("noop.py", name="one", source_directory=str(folder), outputs=[data])
    two = PythonScriptStep("noop.py", name="two", source_directory=str(folder), outputs=[data])
    with pytest.raises(UserErrorException, match="'one' and 'two' both write the output 'data'"):
        Pipeline(ws, [one, two])


def test_producers_of_what_listed_steps_read_are_included(ws, folder):
    data = PipelineData("data")
    PythonScriptStep("noop.py", name="producer", source_directory=str(folder),
                     outputs=[data], arguments=[data])
    consumer = PythonScriptStep("noop.py", name="consumer", source_directory=str(folder),
                                inputs=[data], arguments=[data])
    assert [s.name for s in Pipeline(ws, [consumer]).steps] == ["consumer", "producer"]


def test_validate_checks_scripts_and_compute_targets(ws, folder):
    missing = PythonScriptStep("missing.py", name="missing", source_directory=str(folder))
    with pytest.raises(UserErrorException, match="'missing.py' is not in source_directory"):
        Pipeline(ws, [missing]).validate()
    elsewhere = PythonScriptStep("noop.py", name="elsewhere", source_directory=str(folder),
                                 compute_target="no-such-cluster")
    with pytest.raises(UserErrorException, match="no-such-cluster"):
        Pipeline(ws, [elsewhere]).validate()
    assert Pipeline(ws, [PythonScriptStep("noop.py", source_directory=str(folder))]
                    ).validate() == []


def test_parameters_with_one_name_must_agree(ws, folder):
    one = PythonScriptStep("noop.py", source_directory=str(folder),
                           arguments=[PipelineParameter("rate", 0.1)])
    two = PythonScriptStep("noop.py", source_directory=str(folder),
                           arguments=[PipelineParameter("rate", 0.2)])
    with pytest.raises(UserErrorException, match="'rate' with different default values"):
        Pipeline(ws, [one, two])


def test_a_shared_runconfig_is_not_changed_by_steps(ws, folder):
    run_config = RunConfiguration()
    PythonScriptStep("noop.py", source_directory=str(folder), runconfig=run_config,
                     compute_target="cluster-a", params={"x": 1})
    Pipeline(ws, [PythonScriptStep("noop.py", source_directory=str(folder),
                                   runconfig=run_config, compute_target="cluster-a",
                                   params={"x": 1})])
    assert run_config.target == "local" and run_config.environment_variables == {}


def test_output_file_dataset_config_between_steps_registers_on_complete(ws, tmp_path):
    folder = tmp_path / "src"
    folder.mkdir()
    write_script(folder, "write.py", """
        import os, sys
        out = sys.argv[1]
        os.makedirs(out, exist_ok=True)
        with open(os.path.join(out, "part.csv"), "w") as f:
            f.write("a,b\\n1,2\\n3,4\\n")
    """)
    write_script(folder, "read.py", """
        import sys
        from plinth.core import Run
        run = Run.get_context()
        frame = run.input_datasets["table"].to_pandas_dataframe()
        run.log("rows", len(frame))
        run.log("sum_b", float(frame["b"].sum()))
    """)
    output = OutputFileDatasetConfig("cleaned").register_on_complete(
        "cleaned-data", description="cleaned rows")
    write = PythonScriptStep("write.py", name="write", source_directory=str(folder),
                             arguments=[output])
    read = PythonScriptStep("read.py", name="read", source_directory=str(folder),
                            inputs=[output.read_delimited_files().as_input("table")])
    run = Experiment(ws, "datasets").submit(Pipeline(ws, [write, read]))
    run.wait_for_completion(show_output=False)
    steps = steps_of(run)
    assert steps["read"].get_metrics() == {"rows": 2, "sum_b": 6.0}
    registered = Dataset.get_by_name(ws, "cleaned-data")
    assert registered.version == 1 and registered.description == "cleaned rows"
    assert sorted(registered.to_path()) == ["/part.csv"]
    produced = steps["write"].get_details()["outputDatasets"]
    assert [d["dataset"]["name"] for d in produced] == ["cleaned-data"]
    path = steps["write"].get_output_data("cleaned").path_on_datastore
    assert path == f"dataset/{steps['write'].id}/cleaned"


def test_command_estimator_and_data_transfer_steps(ws, tmp_path):
    folder = tmp_path / "src"
    folder.mkdir()
    write_script(folder, "emit.py", """
        import os, sys
        os.makedirs(sys.argv[2], exist_ok=True)
        open(os.path.join(sys.argv[2], "value.txt"), "w").write(sys.argv[1])
    """)
    write_script(folder, "est.py", """
        import sys
        from plinth.core import Run
        folder = sys.argv[sys.argv.index("--data") + 1]
        value = open(folder + "/value.txt").read()
        Run.get_context().log("value", float(value) * float(sys.argv[sys.argv.index("--k") + 1]))
    """)
    datastore = ws.get_default_datastore()
    emitted = PipelineData("emitted", datastore=datastore)
    command = CommandStep(["python", "emit.py", PipelineParameter("value", 21), emitted],
                          name="emit", source_directory=str(folder), outputs=[emitted])
    copy = DataTransferStep("copy", source_data_reference=emitted,
                            destination_data_reference=DataReference(
                                datastore, "copied", path_on_datastore="copied/values"))
    copied = PipelineData("copied_again", datastore=datastore)
    copy_on = DataTransferStep("copy again", source_data_reference=emitted,
                               destination_data_reference=copied)
    estimator = Estimator(source_directory=str(folder), entry_script="est.py",
                          script_params={"--k": 2}, user_managed=True)
    train = EstimatorStep("estimate", estimator=estimator, inputs=[copied],
                          estimator_entry_script_arguments=["--data", copied])
    run = Experiment(ws, "kinds").submit(Pipeline(ws, [command, copy, copy_on, train]),
                                         pipeline_parameters={"value": 4})
    run.wait_for_completion(show_output=False)
    assert steps_of(run)["estimate"].get_metrics()["value"] == 8.0
    target = tmp_path / "copied"
    datastore.download(target, prefix="copied/values", show_progress=False)
    assert (target / "copied" / "values" / "value.txt").read_text() == "4"
