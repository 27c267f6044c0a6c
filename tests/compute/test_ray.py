"""Commands as Ray tasks, and the lifecycle of the local Ray cluster."""

from __future__ import annotations

import os
import signal
import sys
import threading

import psutil
import pytest
import ray
from tests import compute as shared
from tests.compute import gone, wait_until
from tests.conftest import free_port

from plinth._compute import (
    WorkerDied,
    ensure_local_cluster,
    local_cluster,
    run_command,
    stop_local_cluster,
)
from plinth._compute import ray as ray_backend
from plinth.exceptions import ComputeTargetException

pytestmark = pytest.mark.slow
ray_home, ray_address = shared.ray_home, shared.ray_address


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_exit_codes_come_back(ray_address):
    assert run_command(ray_address, python("pass"), dict(os.environ)) == 0
    assert run_command(ray_address, python("import sys; sys.exit(3)"), dict(os.environ)) == 3


def test_environment_and_working_folder_are_passed(ray_address, tmp_path):
    out = tmp_path / "out.txt"
    code = (f"import os; open({str(out)!r}, 'w')"
            ".write(os.environ['PLINTH_X'] + '|' + os.getcwd())")
    env = {**os.environ, "PLINTH_X": "from the caller"}
    assert run_command(ray_address, python(code), env, cwd=str(tmp_path), num_cpus=0.5,
                       memory_bytes=2**28) == 0
    assert out.read_text() == f"from the caller|{tmp_path}"


def test_a_killed_ray_worker_raises_worker_died_and_takes_the_command_along(ray_address,
                                                                              tmp_path):
    pids = tmp_path / "pids"
    code = (f"import os, time; open({str(pids)!r}, 'w').write(f'{{os.getppid()}} {{os.getpid()}}')"
            "; time.sleep(300)")
    raised = []

    def run():
        try:
            run_command(ray_address, python(code), dict(os.environ))
        except BaseException as exc:  # noqa: BLE001
            raised.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    assert wait_until(lambda: pids.exists() and len(pids.read_text().split()) == 2)
    ray_worker, command = map(int, pids.read_text().split())
    command_process = psutil.Process(command)
    os.kill(ray_worker, signal.SIGKILL)
    thread.join(60)
    assert len(raised) == 1 and isinstance(raised[0], WorkerDied), raised
    assert "worker died" in str(raised[0]).lower()
    assert wait_until(lambda: gone(command_process), 10)


def test_poll_cancels_a_running_command(ray_address, tmp_path):
    pid_file = tmp_path / "pid"
    code = (f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid()))"
            "; time.sleep(300)")
    assert run_command(ray_address, python(code), dict(os.environ), poll_interval=0.2,
                       poll=lambda: pid_file.exists() and bool(pid_file.read_text())) is None
    assert wait_until(lambda: gone(int(pid_file.read_text())), 10)


def test_a_task_no_node_can_run_is_refused(ray_address):
    with pytest.raises(ComputeTargetException, match="has 512 CPUs"):
        run_command(ray_address, python("pass"), dict(os.environ), num_cpus=512)


def test_an_unreachable_cluster_is_named(ray_address):
    address = f"127.0.0.1:{free_port()}"
    with pytest.raises(ComputeTargetException, match=f"{address}.*not reachable"):
        run_command(address, python("pass"), dict(os.environ))


def _helper():
    state = ray_backend._read_state(ray_backend._dir())
    return psutil.Process(state["pid"]) if state else None


def test_the_local_cluster_starts_on_demand_is_shared_and_stops_when_idle():
    # This test's own PLINTH_HOME (tests/conftest.py): a cluster of its own, idle after 2 s.
    assert _helper() is None
    with local_cluster(idle_seconds=2) as address:
        helper = _helper()
        processes = helper.children(recursive=True)  # ray start, GCS, raylet, Ray workers
        assert run_command(address, python("pass"), dict(os.environ)) == 0
        ray.shutdown()  # this process is a driver of a cluster that is about to go
        with local_cluster(idle_seconds=2) as again:  # a second job reuses it
            assert again == address and _helper().pid == helper.pid
        assert not wait_until(lambda: gone(helper), 4)  # a job still uses it
    assert wait_until(lambda: gone(helper), 30)
    assert wait_until(lambda: all(gone(p) for p in processes), 30)
    assert _helper() is None

    # A cluster whose helper died is started again.
    ensure_local_cluster(60)
    first = _helper()
    first_processes = first.children(recursive=True)
    first.kill()
    assert wait_until(lambda: all(gone(p) for p in first_processes), 60)
    ensure_local_cluster(60)
    second = _helper()
    assert second.pid != first.pid
    stop_local_cluster()
    assert gone(second) and _helper() is None
