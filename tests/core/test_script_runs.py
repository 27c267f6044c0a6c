"""Script runs on local compute: snapshot, worker process, logs, outputs, status, limits."""

import os
import signal
import subprocess
import sys
import time

import psutil
import pytest
from tests.conftest import write_script

from plinth.core import Experiment, Run, ScriptRunConfig
from plinth.exceptions import ActivityFailedException, SnapshotException, UserErrorException
from plinth.train.estimator import Estimator
from plinth.train.sklearn import SKLearn

pytestmark = pytest.mark.slow

TRAIN = """
    import argparse, os, sys
    from plinth.core import Run

    parser = argparse.ArgumentParser()
    parser.add_argument("--reg_rate", type=float, default=0.01)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--flag", action="store_true")
    args = parser.parse_args()
    run = Run.get_context()
    print("training with", args.reg_rate, "for", args.epochs, "epochs")
    print("warning on stderr", file=sys.stderr)
    for epoch in range(args.epochs):
        run.log("loss", 1.0 / (epoch + 1), step=epoch)
    run.log("reg_rate", args.reg_rate)
    run.log("flag", args.flag)
    os.makedirs("outputs", exist_ok=True)
    with open("outputs/model.pkl", "w") as f:
        f.write(run.id)
    os.makedirs("logs", exist_ok=True)
    with open("logs/extra.log", "w") as f:
        f.write("extra")
    run.complete()
"""


def _wait_until(predicate, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def _worker_of(run):
    pid = run.get_properties().get("plinth.workerPid")
    return psutil.Process(int(pid)) if pid else None


def test_script_run_with_arguments_metrics_outputs_and_logs(ws, script_dir, tmp_path):
    write_script(script_dir, "train.py", TRAIN)
    exp = Experiment(ws, "script")
    config = ScriptRunConfig(str(script_dir), "train.py",
                             arguments=["--reg_rate", 0.5, "--epochs", 4, "--flag"])
    run = exp.submit(config, tags={"owner": "me"})
    details = run.wait_for_completion()
    assert details["status"] == "Completed"
    metrics = run.get_metrics()
    assert metrics["loss"] == [1.0, 0.5, 1 / 3, 0.25]
    assert metrics["reg_rate"] == 0.5
    assert metrics["flag"] is True
    assert {"outputs/model.pkl", "logs/driver.log", "logs/extra.log"} <= set(run.get_file_names())
    run.download_file("outputs/model.pkl", tmp_path / "model.pkl")
    # Run.get_context() inside the script was this very run.
    assert (tmp_path / "model.pkl").read_text() == run.id
    logs = run.get_details_with_logs()["logFiles"]["logs/driver.log"]
    assert "training with 0.5 for 4 epochs" in logs
    assert "warning on stderr" in logs
    assert details["runDefinition"]["arguments"] == ["--reg_rate", "0.5", "--epochs", "4",
                                                     "--flag"]
    assert run.get_tags() == {"owner": "me"}
    assert run.type == "azureml.scriptrun"
    assert run.get_properties()["script"] == "train.py"
    dest = tmp_path / "all-logs"
    paths = run.get_all_logs(destination=str(dest))
    assert (dest / "logs" / "driver.log").is_file() and len(paths) == 2


def test_submit_returns_at_once_and_the_run_goes_on(ws, script_dir, tmp_path):
    gate = tmp_path / "gate"
    write_script(script_dir, "wait.py", f"""
        import os, time
        while not os.path.exists({str(gate)!r}):
            time.sleep(0.05)
        print("gate opened")
    """)
    run = Experiment(ws, "gated").submit(ScriptRunConfig(str(script_dir), "wait.py"))
    # The script cannot end before the gate exists, so submit() returned while it ran.
    assert run.get_status() in ("Queued", "Preparing", "Running")
    gate.touch()
    run.wait_for_completion()
    assert run.get_status() == "Completed"


def test_show_output_streams_the_live_log(ws, script_dir, capsys):
    write_script(script_dir, "hello.py", "print('hello from the script')\n")
    run = Experiment(ws, "stream").submit(ScriptRunConfig(str(script_dir), "hello.py"))
    run.wait_for_completion(show_output=True)
    out = capsys.readouterr().out
    assert f"RunId: {run.id}" in out
    assert "hello from the script" in out
    assert "Status: Completed" in out


def test_failing_script_ends_failed_with_the_traceback_tail(ws, script_dir):
    write_script(script_dir, "bad.py", """
        import os
        os.makedirs("outputs", exist_ok=True)
        open("outputs/partial.txt", "w").write("kept")
        def train():
            raise ValueError("learning rate must be positive")
        train()
    """)
    run = Experiment(ws, "fails").submit(ScriptRunConfig(str(script_dir), "bad.py"))
    with pytest.raises(ActivityFailedException, match="learning rate must be positive") as info:
        run.wait_for_completion()
    assert info.value.error_details["exit_code"] == 1
    assert "Traceback" in info.value.error_details["message"]
    assert run.get_status() == "Failed"
    # Outputs are uploaded on failure too.
    assert "outputs/partial.txt" in run.get_file_names()
    details = run.wait_for_completion(raise_on_error=False)
    assert details["error"]["error"]["code"] == "UserError"


def test_each_run_gets_a_fresh_copy_of_the_snapshot(ws, script_dir):
    write_script(script_dir, "mutate.py", """
        from plinth.core import Run
        text = open("state.txt").read()
        Run.get_context().log("seen", text)
        open("state.txt", "w").write("changed")
    """)
    (script_dir / "state.txt").write_text("original")
    exp = Experiment(ws, "fresh")
    first = exp.submit(ScriptRunConfig(str(script_dir), "mutate.py"))
    first.wait_for_completion()
    second = exp.submit(ScriptRunConfig(str(script_dir), "mutate.py"))
    second.wait_for_completion()
    assert first.get_metrics()["seen"] == second.get_metrics()["seen"] == "original"
    assert (script_dir / "state.txt").read_text() == "original"
    # Same content, same content-addressed snapshot.
    assert first.get_properties()["snapshotId"] == second.get_properties()["snapshotId"]


def test_snapshot_honours_amlignore_over_gitignore(ws, script_dir):
    write_script(script_dir, "ls.py", """
        import os
        from plinth.core import Run
        Run.get_context().log_list("files", sorted(
            os.path.relpath(os.path.join(d, f)) for d, _, fs in os.walk(".") for f in fs))
    """)
    (script_dir / "keep.txt").write_text("k")
    (script_dir / "big.csv").write_text("1,2")
    (script_dir / "data").mkdir()
    (script_dir / "data" / "x.bin").write_text("x")
    (script_dir / ".gitignore").write_text("keep.txt\n")
    (script_dir / ".amlignore").write_text("*.csv\ndata/\n")
    run = Experiment(ws, "ignore").submit(ScriptRunConfig(str(script_dir), "ls.py"))
    run.wait_for_completion()
    files = run.get_metrics()["files"]
    assert "keep.txt" in files  # .gitignore is not read when .amlignore exists
    assert "big.csv" not in files and "data/x.bin" not in files
    assert "ls.py" in files


def test_an_oversized_source_folder_is_refused(ws, script_dir):
    write_script(script_dir, "train.py", "pass\n")
    for i in range(2001):
        (script_dir / f"f{i}.txt").write_text("x")
    with pytest.raises(SnapshotException, match=".amlignore"):
        Experiment(ws, "big").submit(ScriptRunConfig(str(script_dir), "train.py"))
    assert list(Experiment(ws, "big").get_runs()) == []


def test_max_run_duration_stops_the_run(ws, script_dir):
    write_script(script_dir, "slow.py", "import time\ntime.sleep(120)\n")
    run = Experiment(ws, "limits").submit(
        ScriptRunConfig(str(script_dir), "slow.py", max_run_duration_seconds=2)
    )
    details = run.wait_for_completion(raise_on_error=False)
    assert details["status"] == "Failed"
    assert details["error"]["error"]["code"] == "RunTimeout"


def test_cancel_kills_the_process_group(ws, script_dir, tmp_path):
    pid_file = tmp_path / "child.pid"
    write_script(script_dir, "spawner.py", f"""
        import subprocess, sys, time
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
        open({str(pid_file)!r}, "w").write(str(child.pid))
        time.sleep(300)
    """)
    run = Experiment(ws, "cancel").submit(ScriptRunConfig(str(script_dir), "spawner.py"))
    assert _wait_until(lambda: pid_file.exists() and pid_file.read_text())
    grandchild = int(pid_file.read_text())
    run.cancel()
    run.wait_for_completion(raise_on_error=False)
    assert run.get_status() == "Canceled"
    assert _wait_until(lambda: not psutil.pid_exists(grandchild)
                       or psutil.Process(grandchild).status() == psutil.STATUS_ZOMBIE, 30)


@pytest.mark.parametrize("launcher", ["1", "0"], ids=["forked-worker", "spawned-worker"])
def test_a_killed_worker_leaves_the_run_failed_not_running(ws, script_dir, monkeypatch, launcher):
    monkeypatch.setenv("PLINTH_LAUNCHER", launcher)
    write_script(script_dir, "long.py", "import time\ntime.sleep(300)\n")
    run = Experiment(ws, "killed").submit(ScriptRunConfig(str(script_dir), "long.py"))
    assert _wait_until(lambda: run.get_status() == "Running")
    worker = _worker_of(run)
    assert worker is not None
    script = worker.children()
    os.kill(worker.pid, signal.SIGKILL)
    ws._store.heartbeat_timeout = 3.0  # the bound a reader applies; default is 60 s
    try:
        assert _wait_until(lambda: run.get_status() == "Failed", 60)
    finally:
        ws._store.heartbeat_timeout = 60.0
    assert "heartbeat" in run.get_details()["error"]["error"]["message"]
    # The script dies with its worker rather than running on unsupervised.
    assert _wait_until(lambda: not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE
                                       for p in script), 30)


def test_the_run_survives_its_submitting_process(ws, script_dir, tmp_path):
    write_script(script_dir, "train.py", TRAIN)
    config = ws.write_config(path=tmp_path / "cfg")
    submitter = f"""
import sys
from plinth.core import Workspace, Experiment, ScriptRunConfig
ws = Workspace.from_config(path={str(config)!r})
run = Experiment(ws, "orphan").submit(ScriptRunConfig({str(script_dir)!r}, "train.py"))
print(run.id)
"""
    out = subprocess.run([sys.executable, "-c", submitter], capture_output=True, text=True,
                         check=True, env=os.environ.copy())
    run_id = out.stdout.strip().splitlines()[-1]
    run = Run.get(ws, run_id)
    run.wait_for_completion()
    assert run.get_metrics()["loss"] == [1.0, 0.5, 1 / 3]


def test_command_form(ws, script_dir):
    write_script(script_dir, "echo.py", """
        import sys
        from plinth.core import Run
        Run.get_context().log("argv", " ".join(sys.argv[1:]))
    """)
    run = Experiment(ws, "cmd").submit(
        ScriptRunConfig(str(script_dir), command=["python", "echo.py", "--n", 3])
    )
    run.wait_for_completion()
    assert run.get_metrics()["argv"] == "--n 3"


def test_estimators_turn_script_params_into_arguments(ws, script_dir):
    write_script(script_dir, "train.py", TRAIN)
    est = SKLearn(source_directory=str(script_dir), entry_script="train.py",
                  script_params={"--reg_rate": 0.25, "--flag": ""}, compute_target="local",
                  pip_packages=["joblib"])
    run = Experiment(ws, "estimators").submit(est)
    details = run.wait_for_completion()
    assert run.get_metrics()["reg_rate"] == 0.25
    assert run.get_metrics()["flag"] is True
    env = details["runDefinition"]["environment"]
    assert env["python"]["conda_packages"] == ["scikit-learn"]
    assert env["python"]["pip_packages"] == ["joblib"]
    assert details["runDefinition"]["estimator"] == "SKLearn"


def test_configuration_errors_name_the_argument(ws, script_dir):
    write_script(script_dir, "train.py", "pass\n")
    exp = Experiment(ws, "errors")
    with pytest.raises(UserErrorException, match="source_directory"):
        ScriptRunConfig(str(script_dir / "nope"), "train.py")
    with pytest.raises(UserErrorException, match="script='missing.py'"):
        exp.submit(ScriptRunConfig(str(script_dir), "missing.py"))
    with pytest.raises(UserErrorException, match="compute_target='gpu-cluster'"):
        exp.submit(ScriptRunConfig(str(script_dir), "train.py", compute_target="gpu-cluster"))
    with pytest.raises(UserErrorException, match="arguments must be a list"):
        ScriptRunConfig(str(script_dir), "train.py", arguments="--x 1")
    with pytest.raises(UserErrorException, match="vm_size"):
        Estimator(str(script_dir), entry_script="train.py", vm_size="STANDARD_D2_V2")
    with pytest.raises(UserErrorException, match="resume_from"):
        ScriptRunConfig(str(script_dir), "train.py", resume_from="checkpoint-run")
    with pytest.raises(UserErrorException, match="inputs="):
        Estimator(str(script_dir), entry_script="train.py", inputs=["some-dataset"])
    assert list(exp.get_runs()) == []


def test_workers_are_forked_by_a_warm_launcher(ws, script_dir, monkeypatch):
    monkeypatch.setenv("PLINTH_LAUNCHER", "1")
    write_script(script_dir, "who.py", """
        import os, psutil
        from plinth.core import Run
        starter = psutil.Process(os.getppid()).parent()
        Run.get_context().log("starter", " ".join(starter.cmdline()))
    """)
    exp = Experiment(ws, "launcher")
    starters = []
    for _ in range(10):  # the first submit starts the launcher; later ones use it
        run = exp.submit(ScriptRunConfig(str(script_dir), "who.py"))
        run.wait_for_completion()
        starters.append(run.get_metrics()["starter"])
        if "plinth._execution.launcher" in starters[-1]:
            break
        time.sleep(1)
    assert "plinth._execution.launcher" in starters[-1], starters


def test_a_script_that_calls_fail_ends_failed_even_with_exit_code_zero(ws, script_dir):
    write_script(script_dir, "soft.py", """
        from plinth.core import Run
        run = Run.get_context()
        run.log("auc", 0.4)
        run.fail(error_details="AUC below the bar")
    """)
    run = Experiment(ws, "softfail").submit(ScriptRunConfig(str(script_dir), "soft.py"))
    details = run.wait_for_completion(raise_on_error=False)
    assert details["status"] == "Failed"
    assert details["error"]["error"]["message"] == "AUC below the bar"
    assert run.get_metrics() == {"auc": 0.4}
    assert "logs/driver.log" in run.get_file_names()
