"""Deploying the course's diabetes model as real-time services through the SDK: ACI-style,
AKS-style with key and token auth over two replicas, local reload, updates, failures."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import httpx
import joblib
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from tests import compute as shared

from plinth.core import Model
from plinth.core.compute import AksCompute, ComputeTarget
from plinth.core.conda_dependencies import CondaDependencies
from plinth.core.model import InferenceConfig
from plinth.core.webservice import AciWebservice, AksWebservice, LocalWebservice, Webservice
from plinth.exceptions import UserErrorException, WebserviceException

pytestmark = [pytest.mark.slow,
              pytest.mark.parametrize("backend", ["sqlite"], indirect=True)]

# AKS services run on Ray Serve: their tests use the session's shared local Ray cluster.
ray_home, ray_address = shared.ray_home, shared.ray_address

DATA = Path(__file__).resolve().parents[2] / "examples" / "data" / "diabetes.csv"
FEATURES = ["Pregnancies", "PlasmaGlucose", "DiastolicBloodPressure", "TricepsThickness",
            "SerumInsulin", "BMI", "DiabetesPedigree", "Age"]

SCORE = """
    import json
    import os
    import joblib
    import numpy as np
    from plinth.core.model import Model

    def init():
        global model
        model = joblib.load(Model.get_model_path('diabetes_model'))
        with open(os.path.join(os.environ["INIT_LOG"], str(os.getpid())), "w"):
            pass

    def run(raw_data):
        data = np.array(json.loads(raw_data)['data'])
        predictions = model.predict(data)
        classnames = ['not-diabetic', 'diabetic']
        return json.dumps([classnames[p] for p in predictions])
"""

CASES = [[2, 180, 74, 24, 21, 23.9091702, 1.488172308, 22],
         [0, 148, 58, 11, 179, 39.19207553, 0.160829008, 45]]


@pytest.fixture
def course(ws, tmp_path, monkeypatch):
    """The registered diabetes model and the service folder of the course's lab."""
    frame = pd.read_csv(DATA)
    model = LogisticRegression(max_iter=500).fit(frame[FEATURES].values, frame["Diabetic"])
    joblib.dump(model, tmp_path / "model.pkl")
    Model.register(workspace=ws, model_path=str(tmp_path / "model.pkl"),
                   model_name="diabetes_model")
    folder = tmp_path / "diabetes_service"
    folder.mkdir()
    (folder / "score_diabetes.py").write_text(
        "\n".join(line[4:] for line in SCORE.splitlines()))
    env = CondaDependencies.create(conda_packages=["scikit-learn", "pandas", "joblib"])
    (folder / "diabetes_env.yml").write_text(env.serialize_to_string())
    init_log = tmp_path / "inits"
    init_log.mkdir()
    monkeypatch.setenv("INIT_LOG", str(init_log))
    yield folder, init_log
    for service in Webservice.list(ws):
        service.delete()


def inference(folder: Path) -> InferenceConfig:
    return InferenceConfig(runtime="python", source_directory=str(folder),
                           entry_script="score_diabetes.py",
                           conda_file=str(folder / "diabetes_env.yml"))


def test_the_course_deploys_to_aci_and_scores_by_sdk_and_http(ws, course):
    folder, _ = course
    service = Model.deploy(ws, "diabetes-service", [ws.models["diabetes_model"]],
                           inference(folder), AciWebservice.deploy_configuration(
                               cpu_cores=1, memory_gb=1))
    service.wait_for_deployment(show_output=False)
    assert isinstance(service, AciWebservice) and service.state == "Healthy"

    predictions = json.loads(service.run(input_data=json.dumps({"data": CASES})))
    assert len(predictions) == 2 and set(predictions) <= {"diabetic", "not-diabetic"}

    response = httpx.post(service.scoring_uri, content=json.dumps({"data": CASES}),
                          headers={"Content-Type": "application/json"}, timeout=30)
    assert response.status_code == 200
    assert json.loads(response.json()) == predictions

    # Bad input is an error answer, and the service goes on serving.
    broken = httpx.post(service.scoring_uri, content="{not json", timeout=30)
    assert broken.status_code >= 400 and "error" in broken.json()
    assert json.loads(service.run(json.dumps({"data": CASES}))) == predictions
    assert "POST /score" in service.get_logs()
    assert httpx.get(service.swagger_uri, timeout=30).status_code == 200

    again = Webservice(ws, "diabetes-service")
    assert isinstance(again, AciWebservice) and again.scoring_uri == service.scoring_uri
    assert [s.name for s in Webservice.list(ws)] == ["diabetes-service"]
    assert isinstance(ws.webservices["diabetes-service"], AciWebservice)
    with pytest.raises(WebserviceException, match="key auth off"):
        service.get_keys()


def test_an_aks_service_wants_its_key_and_runs_two_replicas(ray_address, ws, course):
    folder, init_log = course
    cluster = ComputeTarget.create(ws, "aks-cluster",
                                   AksCompute.provisioning_configuration(location="eastus"))
    cluster.wait_for_completion(show_output=False)
    service = Model.deploy(ws, "diabetes-aks", [ws.models["diabetes_model"]],
                           inference(folder),
                           AksWebservice.deploy_configuration(cpu_cores=1, memory_gb=1,
                                                              num_replicas=2),
                           deployment_target=cluster)
    service.wait_for_deployment()
    assert len(list(init_log.iterdir())) == 2  # each replica ran init()
    body = json.dumps({"data": CASES})
    assert httpx.post(service.scoring_uri, content=body, timeout=30).status_code == 401
    primary, secondary = service.get_keys()
    for key in (primary, secondary):
        answer = httpx.post(service.scoring_uri, content=body, timeout=30,
                            headers={"Authorization": f"Bearer {key}"})
        assert answer.status_code == 200
    assert len(json.loads(service.run(body))) == 2  # the SDK sends the key itself

    service.regen_key("Primary")
    stale = httpx.post(service.scoring_uri, content=body, timeout=30,
                       headers={"Authorization": f"Bearer {primary}"})
    assert stale.status_code == 401
    assert service.get_keys()[0] != primary


def test_token_auth(ray_address, ws, course):
    folder, _ = course
    service = Model.deploy(ws, "diabetes-token", [ws.models["diabetes_model"]],
                           inference(folder),
                           AksWebservice.deploy_configuration(token_auth_enabled=True))
    service.wait_for_deployment()
    token, refresh_after = service.get_token()
    body = json.dumps({"data": CASES})
    assert httpx.post(service.scoring_uri, content=body, timeout=30).status_code == 401
    assert httpx.post(service.scoring_uri, content=body, timeout=30,
                      headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert refresh_after > 0


def test_a_failing_init_leaves_the_service_failed_with_its_traceback(ws, course):
    folder, _ = course
    (folder / "score_diabetes.py").write_text(
        "def init():\n    raise RuntimeError('the model file is corrupt')\n"
        "def run(raw_data):\n    return 1\n")
    service = Model.deploy(ws, "broken", [ws.models["diabetes_model"]], inference(folder),
                           AciWebservice.deploy_configuration())
    with pytest.raises(WebserviceException, match="Failed"):
        service.wait_for_deployment()
    assert service.state == "Failed"
    assert "the model file is corrupt" in service.get_logs()


def test_local_reload_update_and_delete(ws, course):
    folder, _ = course
    service = Model.deploy(ws, "local-diabetes", [ws.models["diabetes_model"]],
                           inference(folder), LocalWebservice.deploy_configuration())
    service.wait_for_deployment()
    body = json.dumps({"data": CASES})
    assert isinstance(json.loads(service.run(body)), list)

    script = folder / "score_diabetes.py"
    script.write_text(script.read_text().replace(
        "return json.dumps([classnames[p] for p in predictions])",
        "return json.dumps({'classes': [classnames[p] for p in predictions]})"))
    service.reload(wait=True)
    assert "classes" in json.loads(service.run(body))

    with pytest.raises(WebserviceException, match="already exists|overwrite"):
        Model.deploy(ws, "local-diabetes", [ws.models["diabetes_model"]], inference(folder),
                     LocalWebservice.deploy_configuration())
    service.update(auth_enabled=True)
    service.wait_for_deployment()
    assert httpx.post(service.scoring_uri, content=body, timeout=30).status_code == 401

    service.delete()
    assert Webservice.list(ws) == []
    with pytest.raises(WebserviceException, match="No service named"):
        Webservice(ws, "local-diabetes")


def test_deployment_settings_are_checked(ws, course):
    folder, _ = course
    with pytest.raises(UserErrorException, match="autoscale_min_replicas"):
        AksWebservice.deploy_configuration(autoscale_enabled=True, autoscale_min_replicas=3,
                                           autoscale_max_replicas=2)
    with pytest.raises(UserErrorException, match="ssl_enabled"):
        AciWebservice.deploy_configuration(ssl_enabled=True)
    with pytest.raises(UserErrorException, match="entry_script"):
        InferenceConfig(entry_script="missing.py", source_directory=str(folder))
    with pytest.raises(UserErrorException, match="inference_config"):
        Model.deploy(ws, "x-service", [ws.models["diabetes_model"]])
    shutil.rmtree(folder)
