"""Published pipelines and pipeline endpoints: through the SDK on every backend, and through
their REST endpoints on a real ``plinth server``."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest
from tests.conftest import write_script

from plinth.core import Experiment
from plinth.exceptions import UserErrorException
from plinth.pipeline.core import (
    Pipeline,
    PipelineEndpoint,
    PipelineParameter,
    PipelineRun,
    PublishedPipeline,
)
from plinth.pipeline.steps import PythonScriptStep

SCRIPT = """
    import sys
    from plinth.core import Run
    Run.get_context().log("rate", float(sys.argv[2]))
"""


@pytest.fixture
def pipeline(ws, tmp_path):
    folder = tmp_path / "src"
    folder.mkdir()
    write_script(folder, "train.py", SCRIPT)
    step = PythonScriptStep("train.py", name="train", source_directory=str(folder),
                            arguments=["--rate", PipelineParameter("rate", 0.1)])
    return Pipeline(ws, [step], description="trains")


def rate_of(run: PipelineRun) -> float:
    run.wait_for_completion(show_output=False)
    return next(run.get_steps()).get_metrics()["rate"]


def test_publish_list_get_submit_disable(ws, pipeline, tmp_path):
    published = pipeline.publish(name="training_pipeline", description="Model training",
                                 version="1.0")
    assert published.status == "Active" and published.version == "1.0"
    assert published.parameters == {"rate": 0.1}
    assert published.endpoint.endswith(
        f"/api/v1/workspaces/{ws.name}/published-pipelines/{published.id}/submit")
    assert [p.id for p in PublishedPipeline.list(ws)] == [published.id]
    assert PublishedPipeline.get(ws, published.id).name == "training_pipeline"

    # The published pipeline runs its snapshot, whatever happens to the folder now.
    (tmp_path / "src" / "train.py").write_text("raise SystemExit('changed after publishing')\n")
    run = published.submit(ws, "published-runs", pipeline_parameters={"rate": 0.7})
    assert rate_of(run) == 0.7
    assert run.get_properties()["azureml.pipelineid"] == published.id

    published.disable()
    assert PublishedPipeline.list(ws) == []
    assert [p.id for p in PublishedPipeline.list(ws, active_only=False)] == [published.id]
    with pytest.raises(UserErrorException, match="Disabled; enable it"):
        published.submit(ws, "published-runs")
    published.enable()
    assert PublishedPipeline.get(ws, published.id).status == "Active"


@pytest.mark.slow
def test_publish_from_a_run_as_the_course_does(ws, pipeline):
    Experiment(ws, "training-pipeline").submit(pipeline).wait_for_completion(show_output=False)
    run = list(ws.experiments["training-pipeline"].get_runs())[0]
    published = run.publish_pipeline(name="training_pipeline",
                                     description="Model training pipeline", version="1.0")
    assert rate_of(published.submit(ws, "again")) == 0.1


@pytest.mark.slow
def test_pipeline_endpoint_versions(ws, pipeline):
    first = pipeline.publish(name="v0")
    second = pipeline.publish(name="v1")
    endpoint = PipelineEndpoint.publish(ws, "training", "the training endpoint", first)
    assert endpoint.default_version == "0"
    endpoint.add_default(second)
    assert [(v.version, v.pipeline_id) for v in endpoint.list_versions()] == [
        ("0", first.id), ("1", second.id)]
    assert PipelineEndpoint.get(ws, name="training").get_pipeline().id == second.id
    endpoint.set_default_version("0")
    assert PipelineEndpoint.get(ws, id=endpoint.id).get_default_version() == "0"
    run = endpoint.submit("through-endpoint", pipeline_parameters={"rate": 0.3},
                          pipeline_version="1")
    assert rate_of(run) == 0.3
    assert run.get_properties()["azureml.pipelineid"] == second.id
    with pytest.raises(UserErrorException, match="no version '7'"):
        endpoint.get_pipeline("7")
    endpoint.disable()
    with pytest.raises(UserErrorException, match="Disabled"):
        endpoint.submit("through-endpoint")


@pytest.mark.remote
@pytest.mark.parametrize("backend", ["remote"], indirect=True)
def test_rest_endpoint_starts_runs_with_a_token_and_refuses_without(ws, pipeline,
                                                                    plinth_server):
    published = pipeline.publish(name="rest_pipeline")
    endpoint = published.endpoint
    assert endpoint.startswith(str(plinth_server))
    headers = {"Authorization": f"Bearer {plinth_server.token}"}

    response = httpx.post(endpoint, headers=headers, timeout=30, json={
        "ExperimentName": "run_training_pipeline", "ParameterAssignments": {"rate": 0.25}})
    assert response.status_code == 200, response.text
    run_id = response.json()["Id"]
    run = PipelineRun(Experiment(ws, "run_training_pipeline"), run_id)
    assert rate_of(run) == 0.25

    assert httpx.post(endpoint, json={"ExperimentName": "x"}, timeout=30).status_code == 401
    assert httpx.post(endpoint, json={"ExperimentName": "x"}, timeout=30, headers={
        "Authorization": "Bearer plt_not-a-token"}).status_code == 401
    unknown = httpx.post(endpoint, headers=headers, timeout=30, json={
        "ExperimentName": "x", "ParameterAssignments": {"nope": 1}})
    assert unknown.status_code == 400 and "no parameter 'nope'" in unknown.text

    reader = f"reader-{uuid.uuid4().hex[:8]}"
    plinth_server.admin("user", "create", reader, "--role", "Reader", "--workspace", ws.name)
    token = json.loads(plinth_server.admin("token", "create", reader, "--json"))["token"]
    assert httpx.post(endpoint, json={"ExperimentName": "x"}, timeout=30, headers={
        "Authorization": f"Bearer {token}"}).status_code == 403

    pipeline_endpoint = PipelineEndpoint.publish(ws, "rest", None, published)
    response = httpx.post(pipeline_endpoint.endpoint, headers=headers, timeout=30,
                          json={"ExperimentName": "via_endpoint"})
    assert response.status_code == 200, response.text
    assert rate_of(PipelineRun(Experiment(ws, "via_endpoint"), response.json()["Id"])) == 0.1
