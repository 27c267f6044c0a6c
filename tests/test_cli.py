"""The ``plinth`` command line, driven through typer's CliRunner and as the installed script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import write_script
from plinth import __version__
from plinth.cli import app

PLINTH_EXE = Path(sys.executable).parent / "plinth"


@pytest.fixture
def cli():
    """``cli(*args)`` runs the CLI in-process on a wide terminal; returns the result."""
    runner = CliRunner(env={"COLUMNS": "240"})

    def invoke(*args: str):
        result = runner.invoke(app, [str(a) for a in args])
        # No command may end in a traceback, whatever its exit code.
        assert "Traceback" not in result.output, result.output
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result

    return invoke


@pytest.fixture
def wsargs(ws, tmp_path):
    """``--workspace-config`` pointing at a config written for the ``ws`` fixture."""
    folder = tmp_path / "cfg"
    ws.write_config(folder)
    return ["--workspace-config", str(folder)]


@pytest.fixture
def india_time():
    """Local time is UTC+05:30 during the test (POSIX TZ string: needs no tz database)."""
    old = os.environ.get("TZ")
    os.environ["TZ"] = "PLN-05:30"
    time.tzset()
    yield
    if old is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = old
    time.tzset()


def as_json(result):
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def interactive_run(ws, experiment="exp", *, metrics=None, tags=None, files=None, end=True):
    """A run made in this process (no worker), with metrics, tags and files."""
    from plinth.core import Experiment

    run = Experiment(ws, experiment).start_logging()
    for name, value in (metrics or {}).items():
        if isinstance(value, list):
            for v in value:
                run.log(name, v)
        else:
            run.log(name, value)
    if tags:
        run.set_tags(tags)
    for name, path in (files or {}).items():
        run.upload_file(name, str(path))
    if end:
        run.complete()
    return run


# -- the program itself --------------------------------------------------------------------

def test_version(cli):
    result = cli("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == __version__


def test_help_lists_the_command_groups(cli):
    result = cli("--help")
    assert result.exit_code == 0
    for group in ("workspace", "experiment", "run", "model"):
        assert group in result.stdout


def test_cli_modules_do_not_import_the_sdk():
    """`plinth --help` stays fast: importing the CLI pulls in neither SQLAlchemy nor the SDK."""
    code = ("import sys, plinth.cli; "
            "print(sorted(m for m in sys.modules if m.startswith(('sqlalchemy', 'plinth.core'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


# -- workspaces ----------------------------------------------------------------------------

def test_workspace_create_writes_default_config_and_show_finds_it(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = cli("workspace", "create", "demo", "--path", tmp_path / "ws")
    assert result.exit_code == 0, result.output
    assert "demo" in result.stdout
    config = tmp_path / ".plinth" / "config.json"
    assert json.loads(config.read_text())["workspace_name"] == "demo"

    # No option: the config is found from the current folder, and from a folder below it.
    (tmp_path / "deeper").mkdir()
    monkeypatch.chdir(tmp_path / "deeper")
    details = as_json(cli("workspace", "show", "--json"))
    assert details["name"] == "demo"
    assert Path(details["workspaceFolder"]) == (tmp_path / "ws").resolve()
    assert datetime.fromisoformat(details["creationTime"]).tzinfo is not None

    table = cli("workspace", "show")
    assert table.exit_code == 0
    assert "demo" in table.stdout and str((tmp_path / "ws").resolve()) in table.stdout

    listed = as_json(cli("workspace", "list", "--json"))
    assert [w["name"] for w in listed] == ["demo"]


def test_workspace_create_on_a_metadata_uri(cli, metadata_uri, tmp_path):
    name = f"cli-{uuid.uuid4().hex[:8]}"
    root = tmp_path / "shared-artifacts"
    created = as_json(cli("workspace", "create", name, "--metadata-uri", metadata_uri,
                          "--artifact-root", root, "--config-dir", tmp_path / "conf", "--json"))
    assert created["name"] == name
    assert created["artifactRoot"] == str(root)
    assert Path(created["config"]) == (tmp_path / "conf" / "config.json").resolve()

    shown = as_json(cli("workspace", "show", "--workspace-config", tmp_path / "conf" /
                        "config.json", "--json"))
    assert shown["id"] == created["id"]
    by_name = as_json(cli("workspace", "show", "-w", name, "--json"))
    assert by_name["id"] == created["id"]


def test_workspace_create_refuses_conflicting_options(cli, tmp_path):
    both = cli("workspace", "create", "demo", "--path", tmp_path / "a",
               "--metadata-uri", f"sqlite:///{tmp_path / 'x.db'}")
    assert both.exit_code == 2
    assert "--path" in both.stderr
    root_only = cli("workspace", "create", "demo", "--artifact-root", tmp_path / "r")
    assert root_only.exit_code == 2
    assert "--metadata-uri" in root_only.stderr
    bad_name = cli("workspace", "create", "a b c", "--path", tmp_path / "b")
    assert bad_name.exit_code == 1
    assert "not a valid workspace name" in bad_name.stderr
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


@pytest.mark.parametrize("config", ["missing-folder", "missing.json", "broken.json", "empty"])
def test_bad_workspace_config_exits_1_naming_workspace_create(cli, tmp_path, config):
    (tmp_path / "broken.json").write_text("{not json")
    (tmp_path / "empty").mkdir()
    result = cli("run", "list", "--workspace-config", tmp_path / config)
    assert result.exit_code == 1
    assert "plinth workspace create" in result.stderr
    assert result.stdout == ""


def test_no_config_in_the_current_folder(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = cli("model", "list", "--json")
    assert result.exit_code == 1
    assert "plinth workspace create" in result.stderr
    assert result.stdout == ""


def test_unknown_workspace_name_and_conflicting_workspace_options(cli, wsargs):
    unknown = cli("experiment", "list", "-w", "no-such-ws")
    assert unknown.exit_code == 1
    assert "plinth workspace create no-such-ws" in unknown.stderr
    both = cli("experiment", "list", "-w", "no-such-ws", *wsargs)
    assert both.exit_code == 2


# -- experiments and runs ------------------------------------------------------------------

def test_experiment_list(cli, ws, wsargs):
    assert as_json(cli("experiment", "list", *wsargs, "--json")) == []
    interactive_run(ws, "alpha")
    second = interactive_run(ws, "alpha", end=False)
    interactive_run(ws, "beta")
    rows = {r["name"]: r for r in as_json(cli("experiment", "list", *wsargs, "--json"))}
    assert set(rows) == {"alpha", "beta"}
    assert rows["alpha"]["runs"] == 2
    assert rows["alpha"]["latest_run_id"] == second.id
    assert rows["alpha"]["latest_run_status"] == "Running"
    # -w NAME finds the same workspace as the config.
    table = cli("experiment", "list", "-w", ws.name)
    assert table.exit_code == 0
    assert "alpha" in table.stdout and "beta" in table.stdout
    second.complete()


def test_run_list_newest_first_with_limit_and_experiment(cli, ws, wsargs):
    first = interactive_run(ws, "one", tags={"kind": "a"})
    second = interactive_run(ws, "two")
    third = interactive_run(ws, "one")
    runs = as_json(cli("run", "list", *wsargs, "--json"))
    assert [r["id"] for r in runs] == [third.id, second.id, first.id]
    assert runs[2]["tags"] == {"kind": "a"}
    assert runs[2]["status"] == "Completed"
    assert runs[2]["experiment"] == "one"

    limited = as_json(cli("run", "list", *wsargs, "--limit", "2", "--json"))
    assert [r["id"] for r in limited] == [third.id, second.id]
    only_one = as_json(cli("run", "list", *wsargs, "--experiment", "one", "--json"))
    assert [r["id"] for r in only_one] == [third.id, first.id]

    table = cli("run", "list", *wsargs)
    assert table.exit_code == 0
    for run in (first, second, third):
        assert run.id in table.stdout
    assert "kind=a" in table.stdout

    missing = cli("run", "list", *wsargs, "--experiment", "nope")
    assert missing.exit_code == 1
    assert "No experiment named 'nope'" in missing.stderr
    assert cli("run", "list", *wsargs, "--limit", "0").exit_code == 2


def test_run_show_json_and_table(cli, ws, wsargs, tmp_path, india_time):
    model = tmp_path / "model.pkl"
    model.write_bytes(b"weights")
    run = interactive_run(ws, metrics={"accuracy": 0.93, "loss": [0.5, 0.25]},
                          tags={"team": "vision"}, files={"outputs/model.pkl": model})
    run.add_properties({"stage": "eval"})

    info = as_json(cli("run", "show", run.id, *wsargs, "--json"))
    assert info["id"] == run.id
    assert info["status"] == "Completed"
    assert info["metrics"] == {"accuracy": 0.93, "loss": [0.5, 0.25]}
    assert info["tags"] == {"team": "vision"}
    assert info["properties"]["stage"] == "eval"
    assert info["files"] == ["outputs/model.pkl"]
    assert info["error"] is None
    # Times are local (here UTC+05:30) and right.
    created = datetime.fromisoformat(info["created"])
    assert created.utcoffset() == timedelta(hours=5, minutes=30)
    assert abs(created.timestamp() - time.time()) < 120
    assert info["ended"] is not None and info["duration_seconds"] >= 0

    table = cli("run", "show", run.id, *wsargs)
    assert table.exit_code == 0
    out = table.stdout
    for text in (run.id, "Completed", "accuracy", "0.93", "team", "vision", "stage",
                 "outputs/model.pkl", created.strftime("%Y-%m-%d %H:%M:%S")):
        assert text in out, text


def test_run_show_failed_run_has_its_error(cli, ws, wsargs):
    run = interactive_run(ws, end=False)
    run.fail(error_details="the data was bad")
    info = as_json(cli("run", "show", run.id, *wsargs, "--json"))
    assert info["status"] == "Failed"
    assert info["error"]["message"] == "the data was bad"
    table = cli("run", "show", run.id, *wsargs)
    assert "the data was bad" in table.stdout


def test_unknown_run_exits_1(cli, wsargs):
    for command in (["show"], ["logs"], ["download"], ["cancel"]):
        result = cli("run", *command, "no-such-run", *wsargs)
        assert result.exit_code == 1, command
        assert "no-such-run" in result.stderr


def test_run_of_another_workspace_on_the_same_database_is_not_found(cli, ws, wsargs, tmp_path):
    from plinth.core import Workspace

    details = ws.get_details()
    name = f"other-{uuid.uuid4().hex[:6]}"
    if details["serverUrl"]:
        other = Workspace.create(name, server_url=details["serverUrl"])
    else:
        other = Workspace.create(name, metadata_uri=details["metadataUri"],
                                 artifact_root=str(tmp_path / "other-artifacts"))
    foreign = interactive_run(other, "exp")
    result = cli("run", "show", foreign.id, *wsargs)
    assert result.exit_code == 1
    assert "No run" in result.stderr
    assert as_json(cli("run", "list", *wsargs, "--json")) == []


def test_run_logs_and_download(cli, ws, wsargs, tmp_path):
    log = tmp_path / "driver.log"
    log.write_text("epoch 1\nepoch 2\n")
    model = tmp_path / "model.pkl"
    model.write_bytes(b"weights")
    run = interactive_run(ws, files={"logs/driver.log": log, "outputs/model.pkl": model,
                                     "outputs/sub/extra.txt": log})

    logs = cli("run", "logs", run.id, *wsargs)
    assert logs.exit_code == 0
    assert logs.stdout == "epoch 1\nepoch 2\n"

    target = tmp_path / "dl"
    written = as_json(cli("run", "download", run.id, *wsargs, "--prefix", "outputs/",
                          "--output", target, "--json"))
    assert sorted(Path(p) for p in written) == [target / "outputs" / "model.pkl",
                                               target / "outputs" / "sub" / "extra.txt"]
    assert (target / "outputs" / "model.pkl").read_bytes() == b"weights"
    assert not (target / "logs").exists()

    everything = cli("run", "download", run.id, *wsargs, "--output", tmp_path / "all")
    assert everything.exit_code == 0
    assert "3 file(s)" in everything.stdout
    assert (tmp_path / "all" / "logs" / "driver.log").is_file()

    nothing = cli("run", "download", run.id, *wsargs, "--prefix", "nope/", "--output", target)
    assert nothing.exit_code == 1
    assert "no files under 'nope/'" in nothing.stderr


def test_run_logs_of_a_run_without_a_log(cli, ws, wsargs):
    ended = interactive_run(ws)
    result = cli("run", "logs", ended.id, *wsargs)
    assert result.exit_code == 1
    assert "logs/driver.log" in result.stderr
    running = interactive_run(ws, end=False)
    result = cli("run", "logs", running.id, *wsargs)
    assert result.exit_code == 0
    assert "--follow" in result.stderr
    running.complete()


def test_run_cancel(cli, ws, wsargs):
    from plinth.core import Run

    ended = interactive_run(ws)
    refused = cli("run", "cancel", ended.id, *wsargs)
    assert refused.exit_code == 1
    assert "already ended (Completed)" in refused.stderr

    queued = interactive_run(ws, end=False)  # Running, but no worker watches it
    result = cli("run", "cancel", queued.id, *wsargs)
    assert result.exit_code == 0, result.output
    assert "CancelRequested" in result.stdout
    assert Run.get(ws, queued.id).get_status() == "CancelRequested"
    queued.cancel()


def test_run_submit_checks_its_arguments(cli, wsargs, script_dir):
    missing_dir = cli("run", "submit", *wsargs, "--source-dir", script_dir / "nope",
                      "--script", "train.py")
    assert missing_dir.exit_code == 2
    missing_script = cli("run", "submit", *wsargs, "--source-dir", script_dir,
                         "--script", "train.py")
    assert missing_script.exit_code == 1
    assert "train.py" in missing_script.stderr
    bad_tag = cli("run", "submit", *wsargs, "--source-dir", script_dir, "--script", "t.py",
                  "--tag", "=x")
    assert bad_tag.exit_code == 2


# -- models --------------------------------------------------------------------------------

def test_model_register_twice_list_show_download(cli, ws, wsargs, tmp_path):
    first = tmp_path / "v1" / "model.pkl"
    first.parent.mkdir()
    first.write_bytes(b"one")
    second = tmp_path / "v2" / "model.pkl"
    second.parent.mkdir()
    second.write_bytes(b"two")

    v1 = as_json(cli("model", "register", *wsargs, "--name", "clf", "--path", first,
                     "--tag", "stage=dev", "--description", "first try",
                     "--framework", "ScikitLearn", "--json"))
    assert (v1["name"], v1["version"]) == ("clf", 1)
    assert v1["tags"] == {"stage": "dev"}
    assert v1["description"] == "first try"
    assert v1["framework"] == "ScikitLearn"
    table = cli("model", "register", *wsargs, "--name", "clf", "--path", second)
    assert table.exit_code == 0
    assert "version 2" in table.stdout

    listed = as_json(cli("model", "list", *wsargs, "--json"))
    assert [(m["name"], m["version"]) for m in listed] == [("clf", 2), ("clf", 1)]
    latest = as_json(cli("model", "list", *wsargs, "--latest", "--json"))
    assert [(m["name"], m["version"]) for m in latest] == [("clf", 2)]
    assert as_json(cli("model", "list", *wsargs, "--name", "other", "--json")) == []
    listing = cli("model", "list", *wsargs)
    assert "clf" in listing.stdout and "stage=dev" in listing.stdout

    assert as_json(cli("model", "show", "clf", *wsargs, "--json"))["version"] == 2
    shown = as_json(cli("model", "show", "clf", "--version", "1", *wsargs, "--json"))
    assert shown["description"] == "first try"
    assert "first try" in cli("model", "show", "clf", "-v", "1", *wsargs).stdout

    out = tmp_path / "out"
    got = as_json(cli("model", "download", "clf", "--version", "1", "--output", out,
                      *wsargs, "--json"))
    assert Path(got["path"]).read_bytes() == b"one"
    again = cli("model", "download", "clf", "--version", "1", "--output", out, *wsargs)
    assert again.exit_code == 1
    assert "--overwrite" in again.stderr
    latest_dl = cli("model", "download", "clf", "--output", out, "--overwrite", *wsargs)
    assert latest_dl.exit_code == 0
    assert (out / "model.pkl").read_bytes() == b"two"


def test_model_register_from_a_runs_files(cli, ws, wsargs, tmp_path):
    model = tmp_path / "model.pkl"
    model.write_bytes(b"from run")
    run = interactive_run(ws, "train", files={"outputs/model.pkl": model})
    data = as_json(cli("model", "register", *wsargs, "--name", "clf", "--run-id", run.id,
                       "--run-path", "outputs/model.pkl", "--json"))
    assert data["runId"] == run.id
    assert data["experimentName"] == "train"
    path = as_json(cli("model", "download", "clf", "-o", tmp_path / "dl", *wsargs,
                       "--json"))["path"]
    assert Path(path).read_bytes() == b"from run"

    wrong = cli("model", "register", *wsargs, "--name", "clf", "--run-id", run.id,
                "--run-path", "outputs/nope.pkl")
    assert wrong.exit_code == 1
    assert "outputs/model.pkl" in wrong.stderr  # the error lists what the run has


def test_model_errors(cli, wsargs, tmp_path):
    neither = cli("model", "register", *wsargs, "--name", "m")
    assert neither.exit_code == 2
    both = cli("model", "register", *wsargs, "--name", "m", "--path", tmp_path,
               "--run-id", "r")
    assert both.exit_code == 2
    run_path_alone = cli("model", "register", *wsargs, "--name", "m", "--path", tmp_path,
                         "--run-path", "outputs")
    assert run_path_alone.exit_code == 2
    bad_name = cli("model", "register", *wsargs, "--name", "bad name!", "--path", tmp_path)
    assert bad_name.exit_code == 1
    assert "invalid" in bad_name.stderr
    unknown = cli("model", "show", "ghost", *wsargs)
    assert unknown.exit_code == 1
    assert "ghost" in unknown.stderr
    assert cli("model", "download", "ghost", *wsargs).exit_code == 1
    assert as_json(cli("model", "list", *wsargs, "--json")) == []


# -- real runs (start worker processes) ----------------------------------------------------

TRAIN = """
    import argparse
    from plinth.core import Run

    parser = argparse.ArgumentParser()
    parser.add_argument("--alpha", type=float)
    parser.add_argument("--flag", action="store_true")
    args = parser.parse_args()
    run = Run.get_context()
    run.log("alpha", args.alpha)
    run.log("accuracy", 1 - args.alpha / 10)
    print(f"training with alpha={args.alpha} flag={args.flag}")
    with open("outputs/model.pkl", "w") as f:
        f.write("model")
"""


@pytest.mark.slow
def test_run_submit_wait_runs_the_script(cli, ws, wsargs, script_dir, tmp_path):
    write_script(script_dir, "train.py", TRAIN)
    result = cli("run", "submit", *wsargs, "--source-dir", script_dir, "--script", "train.py",
                 "--experiment", "cli-exp", "--tag", "who=cli", "--wait",
                 "--", "--alpha", "0.5", "--flag")
    assert result.exit_code == 0, result.output
    run_id = result.stdout.splitlines()[0]
    assert run_id.startswith("cli-exp_")
    assert "training with alpha=0.5 flag=True" in result.stdout
    assert "Status: Completed" in result.stdout

    info = as_json(cli("run", "show", run_id, *wsargs, "--json"))
    assert info["status"] == "Completed"
    assert info["metrics"] == {"alpha": 0.5, "accuracy": 0.95}
    assert info["tags"] == {"who": "cli"}
    assert info["arguments"] == ["--alpha", "0.5", "--flag"]
    assert {"outputs/model.pkl", "logs/driver.log"} <= set(info["files"])

    logs = cli("run", "logs", run_id, *wsargs)
    assert "training with alpha=0.5 flag=True" in logs.stdout

    model = as_json(cli("model", "register", *wsargs, "--name", "trained", "--run-id", run_id,
                        "--run-path", "outputs/model.pkl", "--json"))
    assert model["runId"] == run_id and model["version"] == 1


@pytest.mark.slow
def test_run_submit_wait_exits_1_when_the_script_fails(cli, wsargs, script_dir):
    write_script(script_dir, "bad.py", """
        print("about to fail")
        raise SystemExit(3)
    """)
    result = cli("run", "submit", *wsargs, "-d", script_dir, "-s", "bad.py", "--wait")
    assert result.exit_code == 1
    run_id = result.stdout.splitlines()[0]
    assert "about to fail" in result.stdout
    assert f"Run {run_id} ended Failed" in result.stderr
    info = as_json(cli("run", "show", run_id, *wsargs, "--json"))
    assert info["status"] == "Failed"
    assert info["error"]["exit_code"] == 3


@pytest.mark.slow
def test_run_submit_no_wait_then_follow_the_log(cli, wsargs, script_dir):
    write_script(script_dir, "slowish.py", """
        import time
        for i in range(3):
            print(f"step {i}", flush=True)
            time.sleep(0.3)
    """)
    result = cli("run", "submit", *wsargs, "-d", script_dir, "-s", "slowish.py")
    assert result.exit_code == 0, result.output
    run_id = result.stdout.strip()
    assert "\n" not in run_id  # only the id on stdout, for $(plinth run submit ...)
    followed = cli("run", "logs", run_id, *wsargs, "--follow")
    assert followed.exit_code == 0
    for i in range(3):
        assert f"step {i}" in followed.stdout
    assert "Status: Completed" in followed.stdout
    assert as_json(cli("run", "show", run_id, *wsargs, "--json"))["status"] == "Completed"


@pytest.mark.slow
def test_run_cancel_stops_a_running_script(cli, ws, wsargs, script_dir):
    from plinth.core import Run

    write_script(script_dir, "forever.py", """
        import time
        while True:
            time.sleep(0.1)
    """)
    run_id = cli("run", "submit", *wsargs, "-d", script_dir, "-s", "forever.py").stdout.strip()
    deadline = time.monotonic() + 60
    while Run.get(ws, run_id).get_status() != "Running":
        assert time.monotonic() < deadline, "the run never started"
        time.sleep(0.1)
    result = cli("run", "cancel", run_id, *wsargs, "--wait")
    assert result.exit_code == 0, result.output
    assert "Canceled" in result.stdout
    assert Run.get(ws, run_id).get_status() == "Canceled"


@pytest.mark.slow
def test_installed_plinth_executable(ws, tmp_path, script_dir):
    """The console script installed next to this Python, as a real process."""
    assert PLINTH_EXE.is_file(), f"{PLINTH_EXE} is not installed (pip install -e .)"
    config = tmp_path / "cfg"
    ws.write_config(config)

    def plinth(*args, cwd=tmp_path):
        return subprocess.run([str(PLINTH_EXE), *map(str, args)], cwd=cwd, check=False,
                              capture_output=True, text=True, timeout=120)

    version = plinth("--version")
    assert version.returncode == 0
    assert version.stdout.strip() == __version__

    lost = tmp_path / "elsewhere"
    lost.mkdir()
    no_config = plinth("run", "list", cwd=lost)
    assert no_config.returncode == 1
    assert "plinth workspace create" in no_config.stderr
    assert "Traceback" not in no_config.stderr

    write_script(script_dir, "train.py", TRAIN)
    submitted = plinth("run", "submit", "--workspace-config", config, "-d", script_dir,
                       "-s", "train.py", "--wait", "--", "--alpha", "0.2")
    assert submitted.returncode == 0, submitted.stderr
    run_id = submitted.stdout.splitlines()[0]
    shown = plinth("run", "show", run_id, "--workspace-config", config, "--json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["metrics"]["alpha"] == 0.2

    # From a folder holding .plinth/config.json, no option is needed.
    ws.write_config(tmp_path / "project" / ".plinth")
    listed = plinth("run", "list", "--json", cwd=tmp_path / "project")
    assert listed.returncode == 0, listed.stderr
    assert [r["id"] for r in json.loads(listed.stdout)] == [run_id]
