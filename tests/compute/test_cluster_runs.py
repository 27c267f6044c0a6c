"""Script runs on training clusters: AmlCompute (this machine's Ray cluster, at most
``max_nodes`` runs at once) and an attached Ray cluster."""

from __future__ import annotations

import json
import os
import signal
import time
import uuid

import psutil
import pytest
from tests import compute as shared
from tests.compute import gone, wait_until
from tests.conftest import write_script

from plinth.core import Experiment, ScriptRunConfig, Workspace

pytestmark = pytest.mark.slow
ray_home, ray_address = shared.ray_home, shared.ray_address

ACTIVE = {"Preparing", "Starting", "Running", "Finalizing", "CancelRequested"}


class OnCompute:
    """A ScriptRunConfig aimed at a compute target with settings no VM size has (half a CPU
    per run, so Ray alone would run more at once than ``max_nodes``)."""

    def __init__(self, config: ScriptRunConfig, kind: str, **settings):
        self.config = config
        self.compute = {"name": f"{kind.lower()}-target", "kind": kind, "config": settings}

    def _run_definition(self):
        return {**self.config._run_definition(), "compute": self.compute}


def aml_compute(max_nodes: int) -> dict:
    return {"vm_size": "STANDARD_D2_V2", "min_nodes": 0, "max_nodes": max_nodes,
            "idle_seconds_before_scaledown": shared.SESSION_IDLE, "cpus": 0.5, "memory_gb": 0.5}


@pytest.fixture
def ws(ray_address, tmp_path):
    return Workspace.create(f"ws-{uuid.uuid4().hex[:8]}", path=tmp_path / "ws")


@pytest.fixture
def script_dir(tmp_path):
    folder = tmp_path / "src"
    folder.mkdir()
    return folder


def test_max_nodes_runs_at_a_time_and_the_rest_wait_queued(ws, script_dir, tmp_path):
    times = tmp_path / "times"
    times.mkdir()
    write_script(script_dir, "nap.py", f"""
        import json, os, time
        start = time.time()
        time.sleep(3)
        path = os.path.join({str(times)!r}, os.environ["PLINTH_RUN_ID"])
        open(path, "w").write(json.dumps([start, time.time()]))
    """)
    exp = Experiment(ws, "slots")
    config = OnCompute(ScriptRunConfig(str(script_dir), "nap.py"), "AmlCompute",
                       **aml_compute(max_nodes=2))
    runs = [exp.submit(config) for _ in range(4)]
    seen = []
    while not all(r.get_status() in ("Completed", "Failed", "Canceled") for r in runs):
        statuses = [r.get_status() for r in runs]
        seen.append(statuses)
        assert sum(s in ACTIVE for s in statuses) <= 2, statuses
        time.sleep(0.2)
    assert [r.get_status() for r in runs] == ["Completed"] * 4, [r.get_details() for r in runs]
    # While two ran, the others waited Queued.
    assert any(s.count("Running") == 2 and s.count("Queued") >= 1 for s in seen), seen
    spans = sorted(json.loads((times / r.id).read_text()) for r in runs)
    for start, _ in spans:
        assert sum(s <= start < e for s, e in spans) <= 2, spans
    assert spans[1][0] < spans[0][1]  # and two did run at once


def _pid_when_written(path):
    assert wait_until(lambda: path.exists() and path.read_text(), 120)
    return int(path.read_text())


def test_cancel_while_running_stops_the_script(ws, script_dir, tmp_path):
    pid_file = tmp_path / "pid"
    write_script(script_dir, "long.py", f"""
        import os, time
        open({str(pid_file)!r}, "w").write(str(os.getpid()))
        time.sleep(300)
    """)
    config = OnCompute(ScriptRunConfig(str(script_dir), "long.py"), "AmlCompute",
                       **aml_compute(max_nodes=1))
    run = Experiment(ws, "cancel").submit(config)
    script = _pid_when_written(pid_file)
    assert run.get_status() == "Running"
    run.cancel()
    run.wait_for_completion(raise_on_error=False)
    assert run.get_status() == "Canceled"
    assert wait_until(lambda: gone(script), 30)


def test_cancel_while_queued_never_starts_the_run(ws, script_dir, tmp_path):
    write_script(script_dir, "mark.py", f"""
        import os, sys, time
        open(os.path.join({str(tmp_path)!r}, sys.argv[1]), "w").write(str(os.getpid()))
        time.sleep(float(sys.argv[2]))
    """)
    exp = Experiment(ws, "queue")
    settings = aml_compute(max_nodes=1)
    first = exp.submit(OnCompute(ScriptRunConfig(str(script_dir), "mark.py",
                                                 arguments=["first", 300]),
                                 "AmlCompute", **settings))
    _pid_when_written(tmp_path / "first")
    second = exp.submit(OnCompute(ScriptRunConfig(str(script_dir), "mark.py",
                                                  arguments=["second", 0]),
                                  "AmlCompute", **settings))
    time.sleep(2)  # longer than a heartbeat: it is waiting for the slot, alive
    assert second.get_status() == "Queued"
    second.cancel()
    assert second.get_status() == "Canceled"
    first.cancel()
    first.wait_for_completion(raise_on_error=False)
    time.sleep(3)  # the slot is free now; the canceled run must not take it
    assert second.get_status() == "Canceled" and second.get_details()["startTimeUtc"] is None
    assert not (tmp_path / "second").exists()


def test_a_dead_ray_worker_fails_the_run_with_node_failure(ws, script_dir, tmp_path):
    pid_file = tmp_path / "pid"
    write_script(script_dir, "long.py", f"""
        import os, time
        open({str(pid_file)!r}, "w").write(str(os.getpid()))
        time.sleep(300)
    """)
    config = OnCompute(ScriptRunConfig(str(script_dir), "long.py"), "AmlCompute",
                       **aml_compute(max_nodes=1))
    run = Experiment(ws, "node-failure").submit(config)
    script = psutil.Process(_pid_when_written(pid_file))
    worker = script.parent()  # plinth._execution.worker
    ray_worker = worker.parent()  # the Ray task that runs it
    assert "plinth._execution.worker" in " ".join(worker.cmdline())
    os.kill(ray_worker.pid, signal.SIGKILL)
    details = run.wait_for_completion(raise_on_error=False)
    assert details["status"] == "Failed"
    error = details["error"]["error"]
    assert error["code"] == "NodeFailure"
    assert "Ray worker running this run died" in error["message"]
    assert wait_until(lambda: gone(script) and gone(worker), 30)


def test_a_run_on_an_attached_ray_cluster(ws, script_dir, ray_address):
    write_script(script_dir, "hello.py", "print('hello from Ray')\n")
    config = OnCompute(ScriptRunConfig(str(script_dir), "hello.py"), "Ray",
                       address=ray_address, cpus=0.5)
    run = Experiment(ws, "attached").submit(config)
    details = run.wait_for_completion()
    assert details["status"] == "Completed"
    assert "hello from Ray" in run.get_details_with_logs()["logFiles"]["logs/driver.log"]


def test_aml_compute_runs_go_to_a_configured_ray_cluster(ws, script_dir, ray_address,
                                                         tmp_path, monkeypatch):
    home = tmp_path / "elsewhere"
    monkeypatch.setenv("PLINTH_HOME", str(home))
    monkeypatch.setenv("PLINTH_RAY_ADDRESS", ray_address)
    write_script(script_dir, "hello.py", "print('hello from the team cluster')\n")
    config = OnCompute(ScriptRunConfig(str(script_dir), "hello.py"), "AmlCompute",
                       **aml_compute(1))
    run = Experiment(ws, "configured").submit(config)
    assert run.wait_for_completion()["status"] == "Completed"
    assert not (home / "ray" / "cluster.json").exists()  # no cluster of its own was started
