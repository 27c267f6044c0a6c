"""A workspace server restarts a service whose process died."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

import pytest
from tests.conftest import free_port, running
from tests.serving.test_deploy import CASES, course, inference  # noqa: F401

from plinth.core.model import Model
from plinth.core.webservice import AciWebservice, Webservice

pytestmark = [pytest.mark.slow,
              pytest.mark.parametrize("backend", ["sqlite"], indirect=True)]


def test_the_server_restarts_a_killed_service(ws, course, tmp_path):  # noqa: F811
    folder, _ = course
    service = Model.deploy(ws, "supervised", [ws.models["diabetes_model"]], inference(folder),
                           AciWebservice.deploy_configuration())
    service.wait_for_deployment()
    body = json.dumps({"data": CASES})
    first = service.run(body)
    old_pid = service._record.pid

    port = free_port()
    plinth = Path(sys.executable).with_name("plinth")
    env = {**os.environ, "PLINTH_SUPERVISOR_INTERVAL": "0.5", "PLINTH_SCHEDULER": "0"}
    command = [str(plinth), "server", "--workspace", str(ws._location.folder), "--port",
               str(port), "--no-auth"]
    with running(command, f"http://127.0.0.1:{port}/healthz", env, tmp_path / "server.log"):
        os.killpg(old_pid, signal.SIGKILL)
        deadline = time.monotonic() + 120
        while True:
            record = Webservice(ws, "supervised")._refresh()
            if record.pid != old_pid and record.state == "Healthy":
                break
            assert time.monotonic() < deadline, (tmp_path / "server.log").read_text()
            time.sleep(0.2)
        again = Webservice(ws, "supervised")
        assert again.run(body) == first
        assert again.scoring_uri == service.scoring_uri  # same port: clients keep working
