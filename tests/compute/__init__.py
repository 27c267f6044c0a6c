"""Compute backends: commands as Ray tasks, the local Ray cluster, runs on training clusters.

The tests share one local Ray cluster (starting one takes seconds), kept under a session-wide
``PLINTH_HOME`` rather than the per-test one of ``tests/conftest.py``.
"""

from __future__ import annotations

import time

import pytest

#: The idle time of the shared cluster: it must outlive the session; the fixture stops it.
SESSION_IDLE = 3600.0


def wait_until(predicate, timeout=60.0, interval=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


def gone(process) -> bool:
    """Whether a process (a psutil one or a pid) has exited; a zombie has."""
    import psutil

    try:
        if isinstance(process, int):
            process = psutil.Process(process)
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.fixture(scope="session")
def ray_home(tmp_path_factory):
    """The ``PLINTH_HOME`` of the shared cluster, started here and stopped at the end."""
    from plinth._compute import ensure_local_cluster, stop_local_cluster

    home = tmp_path_factory.getbasetemp() / "ray-home"  # one for every module that asks
    home.mkdir(exist_ok=True)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PLINTH_HOME", str(home))
        ensure_local_cluster(SESSION_IDLE)
    yield home
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PLINTH_HOME", str(home))
        stop_local_cluster()


@pytest.fixture
def ray_address(ray_home, _isolated_home, monkeypatch):
    """The shared cluster's address; the test (and what it starts) uses its home."""
    from plinth._compute import ensure_local_cluster

    monkeypatch.setenv("PLINTH_HOME", str(ray_home))
    return ensure_local_cluster(SESSION_IDLE)
