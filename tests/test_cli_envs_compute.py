"""``plinth environment ...`` and ``plinth compute ...`` on a real workspace, in-process."""

from __future__ import annotations

import json
import sys

import pytest
from typer.testing import CliRunner

from plinth.cli import app
from plinth.core import Environment
from plinth.core.conda_dependencies import CondaDependencies


@pytest.fixture
def cli(ws, tmp_path):
    """``cli(*args)`` runs the CLI in-process against ``ws``; returns the result."""
    runner = CliRunner(env={"COLUMNS": "240"})
    folder = tmp_path / "cfg"
    ws.write_config(folder)

    def invoke(*args: str):
        result = runner.invoke(app, [*map(str, args), "--workspace-config", str(folder)])
        assert "Traceback" not in result.output, result.output
        return result

    return invoke


def test_environment_list_show_and_build(ws, cli):
    env = Environment("training_environment")
    env.python.conda_dependencies = CondaDependencies.create(conda_packages=["scikit-learn"],
                                                            pip_packages=["azureml-defaults"])
    env.register(ws)

    listed = json.loads(cli("environment", "list", "--json").output)
    names = {e["name"]: e for e in listed}
    assert names["training_environment"]["version"] == "1"
    assert "Plinth-sklearn" in names

    shown = cli("environment", "show", "training_environment")
    assert shown.exit_code == 0 and "scikit-learn" in shown.output

    built = cli("environment", "build", "training_environment")
    assert built.exit_code == 0, built.output
    # Plinth's own environment has scikit-learn: nothing is built, its python is used.
    assert sys.executable in built.output.replace("\n", "")

    missing = cli("environment", "show", "nope")
    assert missing.exit_code == 1 and "env.register" in missing.output


def test_compute_create_list_show_delete(cli):
    created = cli("compute", "create", "aml-cluster", "--vm-size", "STANDARD_D1_V2",
                  "--max-nodes", "2")
    assert created.exit_code == 0, created.output
    attached = cli("compute", "create", "team-ray", "--ray-address", "10.0.0.5:6379")
    assert attached.exit_code == 0, attached.output

    listed = {c["name"]: c for c in json.loads(cli("compute", "list", "--json").output)}
    assert listed["aml-cluster"]["type"] == "AmlCompute"
    assert listed["aml-cluster"]["properties"]["max_nodes"] == 2
    assert listed["team-ray"]["properties"]["address"] == "10.0.0.5:6379"
    assert "local" in cli("compute", "list").output

    shown = json.loads(cli("compute", "show", "aml-cluster", "--json").output)
    assert shown["properties"]["vm_size"] == "STANDARD_D1_V2"
    bad = cli("compute", "create", "bad", "--vm-size", "STANDARD_NOPE")
    assert bad.exit_code == 1 and "STANDARD_D2_V2" in bad.output

    assert cli("compute", "delete", "aml-cluster").exit_code == 0
    assert cli("compute", "show", "aml-cluster").exit_code == 1
