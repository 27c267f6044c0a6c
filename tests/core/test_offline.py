"""The same training script runs with plain ``python train.py``."""

import subprocess
import sys

import pytest
from tests.conftest import write_script

pytestmark = pytest.mark.slow


def test_plain_python_uses_an_offline_run_that_prints(script_dir):
    write_script(script_dir, "train.py", """
        from plinth.core import Run
        run = Run.get_context()
        run.log("Accuracy", 0.9)
        run.log("Accuracy", 0.95)
        run.log_row("curve", x=1, y=2)
        assert run.get_metrics()["Accuracy"] == [0.9, 0.95]
        run.complete()
        print("status", run.get_status())
    """)
    result = subprocess.run([sys.executable, "train.py"], cwd=script_dir, capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stderr
    assert "Attempted to log scalar metric Accuracy:\n0.9" in result.stdout
    assert "status Completed" in result.stdout


def test_an_interactive_run_of_a_crashing_process_ends_failed(ws, script_dir, tmp_path):
    config = ws.write_config(path=tmp_path / "cfg")
    write_script(script_dir, "crash.py", f"""
        from plinth.core import Workspace, Experiment
        ws = Workspace.from_config(path={str(config)!r})
        run = Experiment(ws, "crash").start_logging()
        print(run.id, flush=True)
        run.log("before", 1)
        1 / 0
    """)
    result = subprocess.run([sys.executable, "crash.py"], cwd=script_dir, capture_output=True,
                            text=True)
    assert result.returncode != 0
    from plinth.core import Run

    run = Run.get(ws, result.stdout.split()[0])
    assert run.get_status() == "Failed"
    assert "ZeroDivisionError" in run.get_details()["error"]["error"]["message"]
    assert run.get_metrics() == {"before": 1}


def test_an_interactive_run_left_open_completes_at_exit(ws, script_dir, tmp_path):
    config = ws.write_config(path=tmp_path / "cfg")
    write_script(script_dir, "open.py", f"""
        from plinth.core import Workspace, Experiment
        ws = Workspace.from_config(path={str(config)!r})
        run = Experiment(ws, "open").start_logging()
        for i in range(500):
            run.log("i", i)
        print(run.id)
    """)
    result = subprocess.run([sys.executable, "open.py"], cwd=script_dir, capture_output=True,
                            text=True, check=True)
    from plinth.core import Run

    run = Run.get(ws, result.stdout.split()[0])
    assert run.get_status() == "Completed"
    assert run.get_metrics()["i"] == list(range(500))


def test_a_killed_interactive_process_ends_failed(ws, script_dir, tmp_path):
    import signal
    import time

    config = ws.write_config(path=tmp_path / "cfg")
    write_script(script_dir, "hang.py", f"""
        import time
        from plinth.core import Workspace, Experiment
        ws = Workspace.from_config(path={str(config)!r})
        run = Experiment(ws, "hang").start_logging()
        print(run.id, flush=True)
        time.sleep(300)
    """)
    proc = subprocess.Popen([sys.executable, "hang.py"], cwd=script_dir, stdout=subprocess.PIPE,
                            text=True)
    run_id = proc.stdout.readline().strip()
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    from plinth.core import Run

    ws._store.heartbeat_timeout = 2.0
    try:
        deadline = time.monotonic() + 30
        while Run.get(ws, run_id).get_status() == "Running" and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        ws._store.heartbeat_timeout = 60.0
    assert Run.get(ws, run_id).get_status() == "Failed"
