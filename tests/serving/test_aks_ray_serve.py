"""AKS services on Ray Serve: the course's diabetes model behind key auth over two replicas,
Serve's application removed on delete, a failing init(), and an autoscaled service that adds
replicas under load. The tests share the session's local Ray cluster."""

from __future__ import annotations

import json
import threading

import httpx
import pytest
from tests import compute as shared
from tests.serving.test_deploy import CASES, course, inference  # noqa: F401

from plinth._serving import ray_serve
from plinth.core.model import Model
from plinth.core.webservice import AksWebservice, Webservice
from plinth.exceptions import UserErrorException, WebserviceException

ray_home, ray_address = shared.ray_home, shared.ray_address


SLOW_SCORE = """
import os
import time

def init():
    with open(os.path.join(os.environ["INIT_LOG"], str(os.getpid())), "w"):
        pass

def run(raw_data):
    time.sleep(0.2)
    return {"pid": os.getpid()}
"""


def route_answers(uri: str) -> bool:
    try:
        return httpx.post(uri, content="{}", timeout=30).status_code != 404
    except httpx.ConnectError:
        return False


def on_ray_serve(test):
    """A test that deploys to the session's Ray cluster, in a SQLite workspace."""
    marks = [pytest.mark.slow, pytest.mark.parametrize("backend", ["sqlite"], indirect=True)]
    for mark in marks:
        test = mark(test)
    return test


@on_ray_serve
def test_a_keyed_service_runs_on_two_serve_replicas_until_deleted(ray_address, ws,
                                                                  course):  # noqa: F811
    folder, init_log = course
    service = Model.deploy(ws, "diabetes-aks", [ws.models["diabetes_model"]],
                           inference(folder),
                           AksWebservice.deploy_configuration(num_replicas=2, cpu_cores=0.5))
    service.wait_for_deployment()
    assert Webservice(ws, "diabetes-aks").state == "Healthy"
    assert service.scoring_uri.endswith("/diabetes-aks/score")
    assert len(list(init_log.iterdir())) == 2  # init() ran once in each replica
    assert ray_serve.status("diabetes-aks") == "Healthy"
    assert ray_serve.replicas("diabetes-aks") == {"RUNNING": 2}

    body = json.dumps({"data": CASES})
    assert httpx.post(service.scoring_uri, content=body, timeout=30).status_code == 401
    primary, secondary = service.get_keys()
    for key in (primary, secondary):
        answer = httpx.post(service.scoring_uri, content=body, timeout=30,
                            headers={"Authorization": f"Bearer {key}"})
        assert answer.status_code == 200
        assert set(json.loads(answer.json())) <= {"diabetic", "not-diabetic"}
    assert len(json.loads(service.run(body))) == 2  # the SDK sends the key itself
    assert httpx.get(service.swagger_uri, timeout=30).status_code == 200
    assert "POST /diabetes-aks/score" in service.get_logs()

    service.delete()
    assert not route_answers(service.scoring_uri)  # Serve's proxy says 404, or is gone with Serve
    assert ray_serve.status("diabetes-aks") == "Failed"  # no such application any more
    assert Webservice.list(ws) == []


@on_ray_serve
def test_a_failing_init_fails_the_aks_service_with_its_traceback(ray_address, ws,
                                                                 course):  # noqa: F811
    folder, _ = course
    (folder / "score_diabetes.py").write_text(
        "def init():\n    raise RuntimeError('the model file is corrupt')\n"
        "def run(raw_data):\n    return 1\n")
    service = Model.deploy(ws, "broken-aks", [ws.models["diabetes_model"]], inference(folder),
                           AksWebservice.deploy_configuration(auth_enabled=False))
    with pytest.raises(WebserviceException, match="Failed"):
        service.wait_for_deployment(timeout_sec=240)
    assert service.state == "Failed"
    assert "the model file is corrupt" in service.error["message"]
    assert "the model file is corrupt" in service.get_logs()


@on_ray_serve
def test_an_autoscaled_service_adds_replicas_under_load(ray_address, ws,
                                                        course):  # noqa: F811
    folder, init_log = course
    (folder / "score_diabetes.py").write_text(SLOW_SCORE)
    config = AksWebservice.deploy_configuration(
        autoscale_enabled=True, autoscale_min_replicas=1, autoscale_max_replicas=3,
        auth_enabled=False)
    service = Model.deploy(ws, "busy-aks", [ws.models["diabetes_model"]], inference(folder),
                           config)
    service.wait_for_deployment()
    assert ray_serve.replicas("busy-aks") == {"RUNNING": 1}

    stop = threading.Event()
    answers: list[httpx.Response] = []

    def client() -> None:
        with httpx.Client(timeout=60) as http:
            while not stop.is_set():
                answers.append(http.post(service.scoring_uri, content="{}"))

    threads = [threading.Thread(target=client) for _ in range(16)]
    for thread in threads:
        thread.start()
    try:
        assert shared.wait_until(lambda: ray_serve.replicas("busy-aks").get("RUNNING", 0) > 1,
                                 timeout=150, interval=1.0), ray_serve.replicas("busy-aks")
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert {a.status_code for a in answers} == {200}, [a.text for a in answers[:3]]
    assert len(list(init_log.iterdir())) > 1  # the new replicas ran init() too
    assert ray_serve.replicas("busy-aks").get("RUNNING", 0) <= 3


def test_autoscale_settings_are_checked():
    config = AksWebservice.deploy_configuration(autoscale_enabled=True)
    assert config.settings["autoscale_min_replicas"] == 1
    assert config.settings["autoscale_max_replicas"] == 10
    options = ray_serve.deployment_options(config._config())
    assert options["autoscaling_config"]["target_ongoing_requests"] == pytest.approx(0.7)
    assert "num_replicas" not in options
    with pytest.raises(UserErrorException, match="autoscale_min_replicas"):
        AksWebservice.deploy_configuration(autoscale_enabled=True, autoscale_min_replicas=4,
                                           autoscale_max_replicas=2)
    with pytest.raises(UserErrorException, match="num_replicas"):
        AksWebservice.deploy_configuration(autoscale_enabled=True, num_replicas=2)
    with pytest.raises(UserErrorException, match="autoscale_target_utilization"):
        AksWebservice.deploy_configuration(autoscale_enabled=True,
                                           autoscale_target_utilization=150)
    with pytest.raises(UserErrorException, match="autoscale_refresh_seconds"):
        AksWebservice.deploy_configuration(autoscale_enabled=True, autoscale_refresh_seconds=0)
    assert ray_serve.deployment_options(
        AksWebservice.deploy_configuration(num_replicas=2)._config())["num_replicas"] == 2
