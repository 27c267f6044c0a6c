"""Pipelines end to end through the public SDK: steps as child runs, data between them,
reuse, parameters, failure, cancel and concurrency, on every store backend."""

from __future__ import annotations

import pytest
from tests.conftest import write_script

from plinth.core import Experiment, Run, RunConfiguration
from plinth.exceptions import ActivityFailedException, UserErrorException
from plinth.pipeline.core import (
    Pipeline,
    PipelineData,
    PipelineParameter,
    PipelineRun,
    StepRun,
)
from plinth.pipeline.steps import PythonScriptStep


def course_pipeline(ws, scripts, raw_dataset, *, reg=None, prep_reuse=True):
    """The course's two steps: prepare data -> PipelineData -> train."""
    prep_dir, train_dir = scripts
    prepped = PipelineData("prepped", datastore=ws.get_default_datastore())
    run_config = RunConfiguration()
    prep = PythonScriptStep(name="prepare data", source_directory=str(prep_dir),
                            script_name="prep.py", runconfig=run_config,
                            inputs=[raw_dataset.as_named_input("raw_data")],
                            outputs=[prepped], arguments=["--out", prepped],
                            allow_reuse=prep_reuse)
    arguments = ["--folder", prepped] + (["--reg", reg] if reg is not None else [])
    train = PythonScriptStep(name="train model", source_directory=str(train_dir),
                             script_name="train.py", runconfig=run_config, inputs=[prepped],
                             arguments=arguments)
    return Pipeline(ws, [prep, train])


def steps_of(run):
    return {s.name: s for s in run.get_steps()}


def test_the_course_pipeline_runs_its_steps_as_child_runs_passing_data(ws, scripts,
                                                                       raw_dataset, tmp_path):
    run = Experiment(ws, "training-pipeline").submit(course_pipeline(ws, scripts, raw_dataset))
    assert isinstance(run, PipelineRun)
    assert run.wait_for_completion(show_output=False) == "Completed"

    steps = steps_of(run)
    assert set(steps) == {"prepare data", "train model"}
    assert all(isinstance(s, StepRun) and s.parent.id == run.id for s in steps.values())
    assert [s.status for s in steps.values()] == ["Completed", "Completed"]
    assert not any(s.is_reused for s in steps.values())
    # The second step read what the first wrote: 100 rows through the PipelineData.
    assert steps["train model"].get_metrics()["rows"] == 100
    # The first step's output lives at azureml/<its run id>/prepped and downloads.
    output = steps["prepare data"].get_output_data("prepped")
    assert output.path_on_datastore == f"azureml/{steps['prepare data'].id}/prepped"
    folder = output.download(tmp_path / "download", show_progress=False)
    assert (tmp_path / "download" / output.path_on_datastore / "prepped.csv").is_file()
    assert folder.endswith("prepped")
    # The step run reads its dataset input, recorded as lineage.
    inputs = steps["prepare data"].get_details()["inputDatasets"]
    assert [i["dataset"]["name"] for i in inputs] == ["raw_dataset"]
    # Reattach, and read back as a pipeline run from anywhere.
    again = PipelineRun(run.experiment, run.id)
    assert [s.id for s in again.find_step_run("train model")] == [steps["train model"].id]
    assert isinstance(Run.get(ws, run.id), PipelineRun)
    assert isinstance(next(iter(Experiment(ws, "training-pipeline").get_runs())), PipelineRun)


@pytest.mark.slow
def test_resubmitting_reuses_unchanged_steps_and_reruns_changed_ones_and_downstream(
        ws, scripts, raw_dataset):
    experiment = Experiment(ws, "training-pipeline")
    first = experiment.submit(course_pipeline(ws, scripts, raw_dataset))
    first.wait_for_completion(show_output=False)
    first_steps = steps_of(first)

    # Unchanged: nothing runs again; the reused steps point at the runs that did the work.
    second = experiment.submit(course_pipeline(ws, scripts, raw_dataset))
    second.wait_for_completion(show_output=False)
    steps = steps_of(second)
    assert all(s.is_reused for s in steps.values())
    assert steps["train model"].reused_run_id == first_steps["train model"].id
    assert (steps["prepare data"].get_output_data("prepped").path_on_datastore
            == first_steps["prepare data"].get_output_data("prepped").path_on_datastore)

    # Change the last step's script: only it runs again.
    train_dir = scripts[1]
    (train_dir / "train.py").write_text((train_dir / "train.py").read_text() + "\n# v2\n")
    third = experiment.submit(course_pipeline(ws, scripts, raw_dataset))
    third.wait_for_completion(show_output=False)
    steps = steps_of(third)
    assert steps["prepare data"].is_reused and not steps["train model"].is_reused

    # Change the first step's script: it and everything downstream run again.
    prep_dir = scripts[0]
    (prep_dir / "prep.py").write_text((prep_dir / "prep.py").read_text() + "\n# v2\n")
    fourth = experiment.submit(course_pipeline(ws, scripts, raw_dataset))
    fourth.wait_for_completion(show_output=False)
    assert not any(s.is_reused for s in steps_of(fourth).values())

    # regenerate_outputs reruns everything, even unchanged steps.
    fifth = experiment.submit(course_pipeline(ws, scripts, raw_dataset), regenerate_outputs=True)
    fifth.wait_for_completion(show_output=False)
    assert not any(s.is_reused for s in steps_of(fifth).values())


@pytest.mark.slow
def test_allow_reuse_false_reruns_that_step_and_so_its_downstream(ws, scripts, raw_dataset):
    experiment = Experiment(ws, "training-pipeline")
    experiment.submit(course_pipeline(ws, scripts, raw_dataset, prep_reuse=False)
                      ).wait_for_completion(show_output=False)
    run = experiment.submit(course_pipeline(ws, scripts, raw_dataset, prep_reuse=False))
    run.wait_for_completion(show_output=False)
    # A new prepared folder means the training step's input changed: it runs again too.
    assert not any(s.is_reused for s in steps_of(run).values())


@pytest.mark.slow
def test_pipeline_parameters_choose_values_per_submission(ws, scripts, raw_dataset):
    reg = PipelineParameter("reg_rate", default_value=0.01)
    pipeline = course_pipeline(ws, scripts, raw_dataset, reg=reg)
    experiment = Experiment(ws, "training-pipeline")
    default = experiment.submit(pipeline)
    default.wait_for_completion(show_output=False)
    assert steps_of(default)["train model"].get_metrics()["reg"] == 0.01

    chosen = experiment.submit(pipeline, pipeline_parameters={"reg_rate": 0.5})
    chosen.wait_for_completion(show_output=False)
    steps = steps_of(chosen)
    assert steps["train model"].get_metrics()["reg"] == 0.5
    assert not steps["train model"].is_reused  # a new value is a new computation
    assert steps["prepare data"].is_reused  # which the first step does not use

    with pytest.raises(UserErrorException, match=r"no parameter 'reg'.*reg_rate"):
        experiment.submit(pipeline, pipeline_parameters={"reg": 0.5})


def test_a_failing_step_fails_the_pipeline_and_downstream_steps_do_not_run(ws, tmp_path):
    folder = tmp_path / "src"
    folder.mkdir()
    write_script(folder, "fail.py", "raise SystemExit('no data today')\n")
    write_script(folder, "ok.py", "print('fine')\n")
    data = PipelineData("data")
    broken = PythonScriptStep("fail.py", name="broken", source_directory=str(folder),
                              outputs=[data], arguments=["--out", data])
    after = PythonScriptStep("ok.py", name="after", source_directory=str(folder),
                             inputs=[data], arguments=[data])
    run = Experiment(ws, "failing").submit(Pipeline(ws, [broken, after]))
    with pytest.raises(ActivityFailedException, match="broken"):
        run.wait_for_completion(show_output=False)
    steps = steps_of(run)
    assert run.get_status() == "Failed"
    assert steps["broken"].status == "Failed"
    assert steps["after"].status == "Canceled"
    assert "did not complete" in steps["after"].get_details()["error"]["error"]["message"]


@pytest.mark.slow
def test_independent_steps_run_at_the_same_time(ws, tmp_path):
    """Each step waits for the other's marker file: run one after the other, both fail."""
    folder = tmp_path / "src"
    folder.mkdir()
    meeting = tmp_path / "meeting"
    meeting.mkdir()
    write_script(folder, "meet.py", f"""
        import pathlib, sys, time
        me, other = sys.argv[1], sys.argv[2]
        folder = pathlib.Path({str(meeting)!r})
        (folder / me).touch()
        deadline = time.time() + 60
        while not (folder / other).exists():
            if time.time() > deadline:
                sys.exit(f"{{other}} never started while {{me}} ran")
            time.sleep(0.1)
    """)
    left = PythonScriptStep("meet.py", name="left", source_directory=str(folder),
                            arguments=["left", "right"], allow_reuse=False)
    right = PythonScriptStep("meet.py", name="right", source_directory=str(folder),
                             arguments=["right", "left"], allow_reuse=False)
    run = Experiment(ws, "parallel").submit(Pipeline(ws, [left, right]))
    assert run.wait_for_completion(show_output=False) == "Completed"


@pytest.mark.slow
def test_continue_on_step_failure_lets_independent_steps_finish(ws, tmp_path):
    folder = tmp_path / "src"
    folder.mkdir()
    write_script(folder, "fail.py", "import time; time.sleep(0.5); raise SystemExit(3)\n")
    write_script(folder, "slow.py", "import time; time.sleep(3)\n")
    failing = PythonScriptStep("fail.py", name="failing", source_directory=str(folder))
    slow = PythonScriptStep("slow.py", name="slow", source_directory=str(folder))
    run = Experiment(ws, "keep-going").submit(Pipeline(ws, [failing, slow]),
                                              continue_on_step_failure=True)
    assert run.wait_for_completion(show_output=False, raise_on_error=False) == "Failed"
    assert steps_of(run)["slow"].status == "Completed"

    stopped = Experiment(ws, "stop").submit(Pipeline(ws, [failing, slow]),
                                            regenerate_outputs=True)
    assert stopped.wait_for_completion(show_output=False, raise_on_error=False) == "Failed"
    assert steps_of(stopped)["slow"].status == "Canceled"


@pytest.mark.slow
def test_cancel_stops_running_steps(ws, tmp_path):
    import time

    folder = tmp_path / "src"
    folder.mkdir()
    write_script(folder, "long.py", "import time; time.sleep(120)\n")
    run = Experiment(ws, "cancel").submit(Pipeline(ws, [PythonScriptStep(
        "long.py", name="long", source_directory=str(folder))]))
    deadline = time.monotonic() + 60
    while not [s for s in run.get_steps() if s.get_status() == "Running"]:
        assert time.monotonic() < deadline, "the step never started"
        time.sleep(0.2)
    run.cancel()
    assert run.wait_for_completion(show_output=False, raise_on_error=False) == "Canceled"
    assert steps_of(run)["long"].get_status() == "Canceled"


def test_wait_for_completion_shows_step_progress(ws, scripts, raw_dataset, capsys):
    run = Experiment(ws, "training-pipeline").submit(course_pipeline(ws, scripts, raw_dataset))
    run.wait_for_completion(show_output=True)
    out = capsys.readouterr().out
    assert f"PipelineRunId: {run.id}" in out
    assert "StepRun(prepare data)" in out and "StepRun(train model)" in out
    assert "PipelineRun Status: Completed" in out
