"""The code samples of the course's "Deploying machine learning models" section, with
``azureml`` replaced by ``plinth``. Where the notes contradict themselves the test says so:
their scoring script returns a list while their clients ``json.loads`` the answer (the
course's labs return ``json.dumps(...)``, used here), their ``print`` lines have an unbalanced
parenthesis, and their troubleshooting sample imports AksWebservice but calls AciWebservice.
"""

from __future__ import annotations

import textwrap

import joblib
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from tests import compute as shared

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]
ray_home, ray_address = shared.ray_home, shared.ray_address

SCORE = '''
import json
import joblib
import numpy as np
from plinth.core.model import Model

# Called when the service is loaded
def init():
    global model
    # Get the path to the registered model file and load it
    model_path = Model.get_model_path('classification_model')
    model = joblib.load(model_path)

# Called when a request is received
def run(raw_data):
    # Get the input data as a numpy array
    data = np.array(json.loads(raw_data)['data'])
    # Get a prediction from the model
    predictions = model.predict(data)
    # Return the predictions as any JSON serializable format
    return json.dumps(predictions.tolist())
'''


@pytest.fixture
def course_folder(ray_address, tmp_path, monkeypatch):
    from plinth.core import Workspace

    ws = Workspace.create("course", path=tmp_path / "workspace")
    ws.write_config(path=tmp_path)
    iris = load_iris()
    joblib.dump(LogisticRegression(max_iter=500).fit(iris.data, iris.target),
                tmp_path / "model.pkl")
    (tmp_path / "service_files").mkdir()
    (tmp_path / "service_files" / "score.py").write_text(textwrap.dedent(SCORE))
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    from plinth.core.webservice import Webservice

    for service in Webservice.list(ws):
        service.delete()


def test_deploying_machine_learning_models(course_folder):
    from plinth.core import Experiment, Workspace

    ws = Workspace.from_config()
    experiment = Experiment(ws, "train-classifier")
    run = experiment.start_logging()
    run.upload_file("outputs/model.pkl", "model.pkl")
    run.complete()

    # -- 1. Register a trained model ------------------------------------------------------
    from plinth.core import Model

    classification_model = Model.register(workspace=ws,
                           model_name='classification_model',
                           model_path='model.pkl', # local path
                           description='A classification model')

    run.register_model( model_name='classification_model',
                        model_path='outputs/model.pkl', # run outputs path
                        description='A classification model')
    assert classification_model.version == 1
    assert Model(ws, 'classification_model').version == 2

    # -- 2. Define an Inference Configuration ---------------------------------------------
    from plinth.core.conda_dependencies import CondaDependencies

    # Add the dependencies for your model
    myenv = CondaDependencies()
    myenv.add_conda_package("scikit-learn")

    # Save the environment config as a .yml file
    env_file = 'service_files/env.yml'
    with open(env_file,"w") as f:
        f.write(myenv.serialize_to_string())
    print("Saved dependency info in", env_file)

    from plinth.core.model import InferenceConfig

    classifier_inference_config = InferenceConfig(runtime= "python",
                                                  source_directory = 'service_files',
                                                  entry_script="score.py",
                                                  conda_file="env.yml")

    # -- 3. Define a Deployment Configuration ---------------------------------------------
    from plinth.core.compute import AksCompute, ComputeTarget

    cluster_name = 'aks-cluster'
    compute_config = AksCompute.provisioning_configuration(location='eastus')
    production_cluster = ComputeTarget.create(ws, cluster_name, compute_config)
    production_cluster.wait_for_completion(show_output=True)

    from plinth.core.webservice import AksWebservice

    classifier_deploy_config = AksWebservice.deploy_configuration(cpu_cores = 1,
                                                                  memory_gb = 1)

    # -- 4. Deploy the Model ----------------------------------------------------------------
    from plinth.core.model import Model

    model = ws.models['classification_model']
    service = Model.deploy(workspace=ws,
                           name = 'classifier-service',
                           models = [model],
                           inference_config = classifier_inference_config,
                           deployment_config = classifier_deploy_config,
                           deployment_target = production_cluster)
    service.wait_for_deployment(show_output = True)
    assert service.state == "Healthy"

    # -- Consuming it with the SDK ------------------------------------------------------------
    import json

    # An array of new data cases
    x_new = [[0.1,2.3,4.1,2.0],
             [0.2,1.8,3.9,2.1]]

    # Convert the array to a serializable list in a JSON document
    json_data = json.dumps({"data": x_new})

    # Call the web service, passing the input data
    response = service.run(input_data = json_data)

    # Get the predictions
    predictions = json.loads(response)

    # Print the predicted class for each case.
    for i in range(len(x_new)):
        print (x_new[i], predictions[i] )
    assert len(predictions) == 2 and set(predictions) <= {0, 1, 2}

    # -- Authentication, then a REST call with the key ---------------------------------------
    primary_key, secondary_key = service.get_keys()
    key_or_token = primary_key
    endpoint = service.scoring_uri
    print(endpoint)

    import requests

    # Set the content type in the request headers
    request_headers = { "Content-Type":"application/json",
                        "Authorization":"Bearer " + key_or_token }

    # Call the service
    response = requests.post(url = endpoint,
                             data = json_data,
                             headers = request_headers)

    # Get the predictions from the JSON response
    predictions_by_rest = json.loads(response.json())
    assert predictions_by_rest == predictions
    unauthorized = requests.post(url=endpoint, data=json_data,
                                 headers={'Content-Type': 'application/json'})
    assert unauthorized.status_code == 401  # AKS services have key auth on by default

    # -- Troubleshooting ----------------------------------------------------------------------
    from plinth.core.webservice import AciWebservice, AksWebservice  # noqa: F811

    # Get the deployed service
    service = AciWebservice(name='classifier-service', workspace=ws)

    # Check its state
    print(service.state)
    assert service.state == "Healthy"
    print(service.get_logs())
    assert "POST" in service.get_logs() or service.get_logs()

    # -- Deploy to a local container, then reload it -------------------------------------------
    from plinth.core.webservice import LocalWebservice

    inference_config = classifier_inference_config
    deployment_config = LocalWebservice.deploy_configuration(port=8890)
    service = Model.deploy(ws, 'test-svc', [model], inference_config, deployment_config)

    # A REST call without auth, as the notes' first REST sample does (Local and ACI: no keys)
    request_headers = { 'Content-Type':'application/json' }
    service.wait_for_deployment()
    response = requests.post(url = service.scoring_uri,
                             data = json_data,
                             headers = request_headers)
    assert json.loads(response.json()) == predictions

    with open("service_files/score.py", "a") as f:
        f.write("\n_run = run\ndef run(raw_data):\n    return 'reloaded: ' + _run(raw_data)\n")
    service.reload()
    print(service.run(input_data = json_data))
    assert service.run(input_data=json_data).startswith("reloaded: ")
