"""``plinth pipeline ...`` on a real embedded workspace, in-process through typer's CliRunner."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from conftest import write_script
from plinth.cli import pipelines
from plinth.core import Experiment
from plinth.pipeline.core import Pipeline, PipelineData, PipelineParameter
from plinth.pipeline.steps import PythonScriptStep

PREP = """\
    import argparse, os
    parser = argparse.ArgumentParser()
    parser.add_argument("--out")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "rows.txt"), "w") as f:
        f.write("1\\n2\\n3\\n")
    print("prepped 3 rows")
    """

TRAIN = """\
    import argparse, os
    parser = argparse.ArgumentParser()
    parser.add_argument("--data")
    parser.add_argument("--reg", type=float)
    args = parser.parse_args()
    with open(os.path.join(args.data, "rows.txt")) as f:
        rows = f.read().split()
    print(f"trained on {len(rows)} rows with reg={args.reg}")
    """


@pytest.fixture(name="backend")
def sqlite_backend():
    """The embedded SQLite workspace only: the pipeline SDK is tested on every backend
    elsewhere; here it is the command line that is under test."""
    return "sqlite"


@pytest.fixture
def cli(ws, tmp_path):
    """``cli(*args)`` runs ``plinth pipeline ARGS`` in-process against ``ws``."""
    root = typer.Typer()
    root.add_typer(pipelines.app, name="pipeline")
    runner = CliRunner(env={"COLUMNS": "240"})
    folder = tmp_path / "cfg"
    ws.write_config(folder)

    def invoke(*args: str):
        result = runner.invoke(root, ["pipeline", *map(str, args),
                                      "--workspace-config", str(folder)])
        assert "Traceback" not in result.output, result.output
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result

    return invoke


@pytest.fixture
def pipeline(ws, script_dir):
    """prep writes PipelineData that train reads; train takes the parameter reg (0.1)."""
    write_script(script_dir, "prep.py", PREP)
    write_script(script_dir, "train.py", TRAIN)
    prepped = PipelineData("prepped")
    reg = PipelineParameter("reg", default_value=0.1)
    prep = PythonScriptStep("prep.py", name="prep", arguments=["--out", prepped],
                            outputs=[prepped], source_directory=str(script_dir))
    train = PythonScriptStep("train.py", name="train", arguments=["--data", prepped,
                                                                  "--reg", reg],
                             inputs=[prepped], source_directory=str(script_dir))
    return Pipeline(ws, [prep, train], description="prep, then train")


def one_line(text: str) -> str:
    return " ".join(text.split())


# -- without running anything --------------------------------------------------------------

def test_list_show_enable_disable_a_published_pipeline(cli, pipeline):
    assert "No published pipelines" in cli("list").output
    published = pipeline.publish(name="training", version="1.0")

    listed = cli("list")
    assert listed.exit_code == 0, listed.output
    assert published.id in listed.output and "training" in listed.output
    assert "reg=0.1" in listed.output and published.endpoint in one_line(listed.output)
    [row] = json.loads(cli("list", "--json").output)
    assert row["id"] == published.id and row["version"] == "1.0"
    assert row["status"] == "Active" and row["parameters"] == {"reg": 0.1}

    shown = cli("show", published.id)
    assert shown.exit_code == 0, shown.output
    text = one_line(shown.output)
    assert "prep, then train" in text and published.endpoint in text
    assert "reg 0.1 float" in text
    assert "prep PythonScriptStep prep.py --out <prepped> local - prepped" in text
    assert "train PythonScriptStep train.py --data <prepped> --reg <reg> local prepped -" in text
    data = json.loads(cli("show", published.id, "--json").output)
    assert [s["name"] for s in data["steps"]] == ["prep", "train"]
    assert data["steps"][1]["script"] == "train.py"
    assert data["steps"][1]["inputs"] == ["prepped"]
    assert data["steps"][0]["outputs"] == ["prepped"]

    disabled = cli("disable", published.id)
    assert disabled.exit_code == 0 and "Disabled published pipeline training" in disabled.output
    assert json.loads(cli("list", "--json").output) == []
    assert [p["status"] for p in json.loads(cli("list", "--all", "--json").output)] == [
        "Disabled"]
    refused = cli("run", published.id, "--experiment", "x")
    assert refused.exit_code == 1
    assert "is Disabled" in refused.output and f"plinth pipeline enable {published.id}" in \
        one_line(refused.output)
    assert "already Disabled" in cli("disable", published.id).output

    assert "Enabled published pipeline" in cli("enable", published.id).output
    assert [p["id"] for p in json.loads(cli("list", "--json").output)] == [published.id]


def test_bad_parameters_are_refused_before_anything_runs(ws, cli, pipeline):
    published = pipeline.publish(name="training")
    unknown = cli("run", published.id, "-e", "x", "--param", "rate=0.5")
    assert unknown.exit_code == 2
    assert "no parameter 'rate'" in unknown.output and "reg (default 0.1)" in unknown.output
    not_a_number = cli("run", published.id, "-e", "x", "--param", "reg=high")
    assert not_a_number.exit_code == 2
    assert "reg is a float parameter" in one_line(not_a_number.output)
    no_value = cli("run", published.id, "-e", "x", "--param", "reg")
    assert no_value.exit_code == 2 and "NAME=VALUE" in no_value.output
    assert list(Experiment.list(ws)) == []  # nothing was submitted


def test_parameter_values_take_the_type_of_the_default():
    convert = pipelines.convert_parameter
    assert convert("n", "3", 1) == 3 and isinstance(convert("n", "3", 1), int)
    assert convert("r", "0.5", 0.1) == 0.5 and convert("r", "2", 0.1) == 2.0
    assert convert("b", "True", False) is True and convert("b", "false", True) is False
    assert convert("s", "0.5", "text") == "0.5"
    for name, text, default in (("n", "0.5", 1), ("b", "yes", True), ("r", "nan", 0.1),
                                ("r", "", 0.1)):
        with pytest.raises(ValueError, match=f"--param {name}="):
            convert(name, text, default)


def test_unknown_ids_and_runs_that_are_not_pipeline_runs(ws, cli):
    run = Experiment(ws, "plain").start_logging()
    run.complete()
    for command in ("publish", "runs", "steps"):
        args = ["--name", "p"] if command == "publish" else []
        result = cli(command, run.id, *args)
        assert result.exit_code == 1
        assert f"Run {run.id} is not a pipeline run" in one_line(result.output)
    assert cli("show", "no-such-pipeline").exit_code == 1
    assert cli("run", "no-such-pipeline", "-e", "x").exit_code == 1
    assert cli("runs", "no-such-run").exit_code == 1


# -- running pipelines ---------------------------------------------------------------------

@pytest.mark.slow
def test_run_publish_and_rerun_a_pipeline(ws, cli, pipeline):
    first = Experiment(ws, "dev").submit(pipeline)
    assert first.wait_for_completion(show_output=False) == "Completed"

    steps = cli("runs", first.id)
    assert steps.exit_code == 0, steps.output
    by_name = {s.name: s for s in first.get_steps()}
    for name in ("prep", "train"):
        assert by_name[name].id in steps.output
    data = json.loads(cli("steps", first.id, "--json").output)
    assert data["status"] == "Completed"
    assert [(s["name"], s["status"], s["reused"]) for s in data["steps"]] == [
        ("prep", "Completed", False), ("train", "Completed", False)]
    assert "no" in steps.output and "yes" not in steps.output

    # A step run is not a pipeline run: the error points at its pipeline run.
    step_only = cli("publish", by_name["prep"].id, "--name", "x")
    assert step_only.exit_code == 1 and first.id in step_only.output

    published = cli("publish", first.id, "--name", "training", "--version", "2",
                    "--description", "nightly training")
    assert published.exit_code == 0, published.output
    [row] = json.loads(cli("list", "--json").output)
    assert row["name"] == "training" and row["version"] == "2"
    assert row["description"] == "nightly training" and row["parameters"] == {"reg": 0.1}
    assert row["id"] in published.output and row["endpoint"] in one_line(published.output)
    shown = cli("show", row["id"], "--json")
    assert [s["name"] for s in json.loads(shown.output)["steps"]] == ["prep", "train"]

    rerun = cli("run", row["id"], "--experiment", "x", "--param", "reg=0.5", "--wait")
    assert rerun.exit_code == 0, rerun.output
    second_id = rerun.output.splitlines()[0]
    assert "PipelineRun Status: Completed" in rerun.output
    assert "StepRun(prep) " in rerun.output and "(reused)" in rerun.output

    second = json.loads(cli("runs", second_id, "--json").output)
    assert second["status"] == "Completed"
    prep, train = second["steps"]
    # prep is unchanged: reused from the first run. train's reg changed: it ran again.
    assert prep["name"] == "prep" and prep["reused"] is True
    assert prep["reusedRunId"] == by_name["prep"].id
    assert prep["reusedPipelineRunId"] == first.id
    assert train["name"] == "train" and train["reused"] is False
    assert train["status"] == "Completed"
    table = one_line(cli("runs", second_id).output)
    assert f"yes, from {by_name['prep'].id}" in table

    train_run = {s.name: s for s in pipelines.get_run(ws, second_id).get_steps()}["train"]
    log = train_run.get_details_with_logs()["logFiles"]["logs/driver.log"]
    assert "trained on 3 rows with reg=0.5" in log


@pytest.mark.slow
def test_run_without_wait_and_a_failing_run(ws, cli, pipeline, script_dir):
    published = pipeline.publish(name="training")
    started = cli("run", published.id, "-e", "x", "--no-wait")
    assert started.exit_code == 0, started.output
    run_id = started.output.splitlines()[0]
    run = pipelines.get_run(ws, run_id)
    assert run.wait_for_completion(show_output=False) == "Completed"

    write_script(script_dir, "boom.py", "raise SystemExit('the data is bad')\n")
    boom = PythonScriptStep("boom.py", name="boom", source_directory=str(script_dir))
    failing = Pipeline(ws, [boom]).publish(name="boom")
    result = cli("run", failing.id, "-e", "x", "--wait")
    assert result.exit_code == 1
    assert "PipelineRun Status: Failed" in result.output
    assert "ended Failed" in result.output
    failed = json.loads(cli("runs", result.output.splitlines()[0], "--json").output)
    assert failed["status"] == "Failed"
    [step] = failed["steps"]
    assert step["name"] == "boom" and step["status"] == "Failed"
    shown = cli("runs", failed["runId"])
    assert shown.exit_code == 0 and "boom:" in shown.output
