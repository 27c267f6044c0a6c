"""``plinth run show`` of a HyperDrive sweep: its children best first, with their sampled
values, primary metric and why the policy stopped one; on a real embedded workspace,
in-process through typer's CliRunner."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from conftest import write_script
from plinth.cli import app
from plinth.core import Experiment, ScriptRunConfig
from plinth.train.hyperdrive import (
    BanditPolicy,
    GridParameterSampling,
    HyperDriveConfig,
    PrimaryMetricGoal,
    choice,
)

pytestmark = pytest.mark.slow  # each sweep starts its driver and a process per child

#: A child that only reports how far its --alpha is from 1.
DISTANCE = """\
    import argparse
    from plinth.core import Run

    parser = argparse.ArgumentParser()
    parser.add_argument("--alpha", type=float)
    parser.add_argument("--solver")
    args = parser.parse_args()
    Run.get_context().log("loss", abs(args.alpha - 1.0))
    """

#: A short learning curve whose height is --quality: a poor child falls behind.
CURVE = """\
    import argparse, time
    from plinth.core import Run

    parser = argparse.ArgumentParser()
    parser.add_argument("--quality", type=float)
    args = parser.parse_args()
    run = Run.get_context()
    for step in range(1, 16):
        run.log("accuracy", args.quality * step / 15)
        run.flush()
        time.sleep(0.2)
    """


@pytest.fixture(name="backend")
def sqlite_backend():
    """The embedded SQLite workspace only: sweeps are tested on every backend elsewhere; here
    it is the command line that is under test."""
    return "sqlite"


@pytest.fixture
def cli(ws, tmp_path):
    """``cli(*args)`` runs ``plinth ARGS`` in-process against ``ws``; returns the result."""
    runner = CliRunner(env={"COLUMNS": "240"})
    folder = tmp_path / "cfg"
    ws.write_config(folder)

    def invoke(*args: str):
        result = runner.invoke(app, [*map(str, args), "--workspace-config", str(folder)])
        assert "Traceback" not in result.output, result.output
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result

    return invoke


def sweep(ws, script_dir, script, sampling, **kwargs):
    """Submit a sweep of ``script`` and wait for it; say why when it did not complete."""
    config = HyperDriveConfig(
        run_config=ScriptRunConfig(source_directory=str(script_dir), script=script),
        hyperparameter_sampling=sampling, **kwargs)
    run = Experiment(ws, "sweeps").submit(config)
    details = run.wait_for_completion(show_output=False, raise_on_error=False)
    if details["status"] != "Completed":
        logs = run.get_details_with_logs()["logFiles"]
        pytest.fail(f"sweep {run.id} is {details['status']}: {details.get('error')}; "
                    f"driver log: {logs.get('logs/driver.log')}")
    return run


def children_table(output: str, parent_id: str, title: str) -> list[list[str]]:
    """The rows of the children table (cells split on the table's column gaps)."""
    assert title in output, output
    rows = []
    for line in output[output.index(title):].splitlines():
        cells = re.split(r"\s{2,}", line.strip())
        if len(cells) > 1 and cells[0].isdigit() and cells[1].startswith(f"{parent_id}_"):
            rows.append(cells)
    return rows


def test_run_show_lists_a_sweeps_children_best_first(ws, cli, script_dir):
    write_script(script_dir, "distance.py", DISTANCE)
    sampling = GridParameterSampling({"--alpha": choice(0.5, 2.0, 1.0),
                                      "--solver": choice("lbfgs")})
    run = sweep(ws, script_dir, "distance.py", sampling, primary_metric_name="loss",
                primary_metric_goal=PrimaryMetricGoal.MINIMIZE, max_total_runs=5,
                max_concurrent_runs=3)
    child = {json.loads(c.get_tags()["hyperparameters"])["--alpha"]: c.id
             for c in run.get_children()}
    assert sorted(child) == [0.5, 1.0, 2.0]  # the grid had 3 points, though 5 were allowed

    shown = cli("run", "show", run.id)
    assert shown.exit_code == 0, shown.output
    rows = children_table(shown.output, run.id, "Children by loss (minimize)")
    # #, Run, Status, loss, then the sampled values in name order: --alpha, --solver.
    assert rows == [
        ["1", child[1.0], "Completed", "0", "1.0", "lbfgs"],
        ["2", child[0.5], "Completed", "0.5", "0.5", "lbfgs"],
        ["3", child[2.0], "Completed", "1", "2.0", "lbfgs"],
    ], shown.output
    header = shown.output[shown.output.index("Children by loss"):].splitlines()[1]
    assert re.split(r"\s{2,}", header.strip()) == [
        "#", "Run", "Status", "loss", "--alpha", "--solver", "Stopped by"]

    data = json.loads(cli("run", "show", run.id, "--json").output)
    assert data["id"] == run.id and data["status"] == "Completed"
    assert data["primary_metric"] == {"name": "loss", "goal": "MINIMIZE"}
    assert [row["run_id"] for row in data["children"]] == [child[1.0], child[0.5], child[2.0]]
    assert [row["best_primary_metric"] for row in data["children"]] == [0.0, 0.5, 1.0]
    assert [row["hyperparameters"] for row in data["children"]] == [
        {"--alpha": alpha, "--solver": "lbfgs"} for alpha in (1.0, 0.5, 2.0)]
    assert {row["status"] for row in data["children"]} == {"Completed"}
    assert data["properties"]["best_child_run_id"] == child[1.0]

    # A child is an ordinary run: no children table, its arguments carry the sampled values.
    one = json.loads(cli("run", "show", child[0.5], "--json").output)
    assert "children" not in one and one["parent_id"] == run.id
    assert one["arguments"][-4:] == ["--alpha", "0.5", "--solver", "lbfgs"]
    assert "Children by" not in cli("run", "show", child[0.5]).output


def test_run_show_says_which_policy_stopped_a_child(ws, cli, script_dir):
    write_script(script_dir, "curve.py", CURVE)
    # One at a time, the good child first: the poor one is judged against its whole curve.
    sampling = GridParameterSampling({"quality": choice(1.0, 0.2)})
    run = sweep(ws, script_dir, "curve.py", sampling, primary_metric_name="accuracy",
                primary_metric_goal=PrimaryMetricGoal.MAXIMIZE, max_total_runs=2,
                max_concurrent_runs=1,
                policy=BanditPolicy(evaluation_interval=1, slack_factor=0.2,
                                    delay_evaluation=2))
    good, poor = f"{run.id}_0", f"{run.id}_1"

    shown = cli("run", "show", run.id)
    assert shown.exit_code == 0, shown.output
    rows = children_table(shown.output, run.id, "Children by accuracy (maximize)")
    assert [row[:3] for row in rows] == [["1", good, "Completed"], ["2", poor, "Canceled"]]
    assert rows[0][3] == "1" and rows[0][4] == "1.0" and len(rows[0]) == 5  # never stopped
    assert rows[1][4] == "0.2"
    assert rows[1][5].startswith("BanditPolicy: best accuracy"), shown.output

    data = json.loads(cli("run", "show", run.id, "--json").output)
    by_id = {row["run_id"]: row for row in data["children"]}
    assert by_id[good]["terminated_by"] is None
    reason = by_id[poor]["terminated_by"]
    assert reason.startswith("BanditPolicy: best accuracy") and "/ (1 + 0.2)" in reason
    assert reason == run.get_children_sorted_by_primary_metric()[1]["terminated_by"]
    assert by_id[poor]["status"] == "Canceled" and by_id[poor]["best_primary_metric"] < 0.2
