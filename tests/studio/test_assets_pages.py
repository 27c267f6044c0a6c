"""The Studio's asset pages over a real embedded workspace built with the SDK: models (lineage,
downloads), datasets (preview and profile as the SDK reads them), datastores (no secret),
environments, compute use, pipelines and schedules, endpoints (keys for Owners only, and the
test console, which forwards requests from the server)."""

from __future__ import annotations

import datetime as dt
import html
import io
import json
import re
import shutil
import textwrap
import time
import uuid
import zipfile
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from fastapi.testclient import TestClient
from tests.conftest import free_port

from plinth._pipelines.recurrence import check_recurrence, next_fire_time
from plinth._server.app import create_app
from plinth._server.auth import hash_secret, new_token
from plinth._server.config import ServerConfig
from plinth._serving import deploy
from plinth.core import Dataset, Datastore, Environment, Experiment, Workspace

DATA = Path(__file__).resolve().parents[2] / "examples" / "data" / "diabetes.csv"
HTML = {"accept": "text/html"}
BLOB_KEY = "c3VwZXItc2VjcmV0LWFjY291bnQta2V5LTEyMzQ1Njc4OTA="
S3_SECRET = "s3-secret-access-key-do-not-show"
#: A schedule due at a fixed time in the future: its next fire time is that time.
FUTURE_START = "2031-03-04T05:06:00"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """One workspace with one of everything, built with the SDK (and the store where the SDK
    needs a cluster or a deployed service), and a Studio over it without auth."""
    tmp = tmp_path_factory.mktemp("studio-assets")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PLINTH_HOME", str(tmp / "home"))
        mp.setenv("PLINTH_SCHEDULER", "0")
        mp.setenv("PLINTH_SUPERVISOR", "0")
        mp.delenv("PLINTH_RUN_ID", raising=False)
        mp.delenv("PLINTH_WORKSPACE", raising=False)
        ws = Workspace.create(f"studio-{uuid.uuid4().hex[:6]}", path=tmp / "ws")
        store, ws_id = ws._store, ws._id

        raw = tmp / "raw"
        raw.mkdir()
        shutil.copy(DATA, raw / "diabetes.csv")
        datastore = ws.get_default_datastore()
        datastore.upload(str(raw), target_path="diabetes", overwrite=True, show_progress=False)
        tabular = Dataset.Tabular.from_delimited_files((datastore, "diabetes/*.csv")).register(
            ws, "diabetes")
        files = Dataset.File.from_files((datastore, "diabetes/*.csv")).register(
            ws, "diabetes-files")

        run = Experiment(ws, "train-diabetes").start_logging()
        store.add_run_datasets(run.id, [{"dataset_id": tabular.id, "name": "training_data",
                                         "direction": "input", "mode": "direct"}])
        model_file = tmp / "model.pkl"
        model_file.write_bytes(b"\x80\x04model bytes " + bytes(range(256)))
        run.upload_file("outputs/model.pkl", str(model_file))
        run.upload_file("outputs/bundle/weights.bin", str(model_file))
        run.upload_file("outputs/bundle/config/params.json", str(DATA.parent / "diabetes.csv"))
        # Registered with its datasets; and one whose lineage comes from its run's inputs.
        run.register_model("diabetes-model", "outputs/model.pkl", tags={"stage": "dev"},
                           properties={"auc": "0.91"}, datasets=[("training", tabular)])
        run.register_model("bundle-model", "outputs/bundle")
        run.complete()

        env = Environment("studio-env")
        env.python.conda_dependencies.add_pip_package("scikit-learn")
        env.environment_variables = {"MODE": "studio"}
        env.register(ws)

        Datastore.register_azure_blob_container(
            ws, "blobdata", container_name="training", account_name="studioacct",
            account_key=BLOB_KEY, skip_validation=True)
        Datastore.register_s3(ws, "s3data", bucket="bucket-x", prefix="data",
                              endpoint_url="http://127.0.0.1:9", access_key_id="AKIASTUDIO",
                              secret_access_key=S3_SECRET, skip_validation=True)

        store.create_compute(ws_id, "cpu-cluster", kind="AmlCompute",
                             config={"vm_size": "STANDARD_DS11_V2", "min_nodes": 0,
                                     "max_nodes": 4})
        store.create_compute(ws_id, "gpu-cluster", kind="AmlCompute",
                             config={"vm_size": "STANDARD_NC6", "max_nodes": 1})

        pipeline = store.create_published_pipeline(
            ws_id, "diabetes-pipeline", graph={"steps": [], "parameters": {}},
            description="prepare and train", version="1.0")
        endpoint = store.create_pipeline_endpoint(ws_id, "diabetes-endpoint",
                                                  pipeline_id=pipeline.id)
        future = store.create_schedule(
            ws_id, "daily-from-2031", pipeline_id=pipeline.id, experiment_name="scheduled",
            recurrence=check_recurrence({"frequency": "Day", "interval": 1,
                                         "start_time": FUTURE_START}),
            next_fire_at=None)
        hourly_rec = check_recurrence({"frequency": "Hour", "interval": 1,
                                       "start_time": "2020-01-01T00:30:00"})
        hourly = store.create_schedule(ws_id, "hourly", pipeline_id=pipeline.id,
                                       experiment_name="scheduled", recurrence=hourly_rec,
                                       next_fire_at=1_000.0)  # long overdue: not shown as is
        assert store.claim_schedule_fire(hourly.id, expected_next_fire_at=1_000.0,
                                         next_fire_at=1_000.0)
        store.set_schedule_last_run(hourly.id, run.id)
        off = store.create_schedule(ws_id, "switched-off", pipeline_id=pipeline.id,
                                    experiment_name="scheduled", recurrence=hourly_rec)
        store.update_schedule(ws_id, off.id, status="Disabled")

        dead_port = free_port()  # nothing listens there
        store.create_service(ws_id, "dead-service", kind="ACI",
                             config={"auth_enabled": True}, models=["diabetes-model:1"],
                             inference={"entry_script": "score.py"})
        store.update_service(ws_id, "dead-service", state="Unhealthy",
                             scoring_uri=f"http://127.0.0.1:{dead_port}/score",
                             swagger_uri=f"http://127.0.0.1:{dead_port}/swagger.json")

        app = create_app(ServerConfig(workspace=str(ws._location.folder), auth=False))
        yield SimpleNamespace(ws=ws, store=store, ws_id=ws_id, tabular=tabular, files=files,
                              run=run, model_file=model_file, pipeline=pipeline,
                              endpoint=endpoint, future=future, hourly=hourly,
                              client=TestClient(app), folder=ws._location.folder)


def page(world, path: str, **kwargs) -> str:
    response = world.client.get(f"/w/{world.ws.name}{path}", headers=HTML, **kwargs)
    assert response.status_code == 200, response.text[:2000]
    assert response.headers["content-type"].startswith("text/html")
    return response.text


def table(text: str, table_id: str) -> str:
    found = re.search(rf'<table id="{table_id}".*?</table>', text, re.S)
    assert found, f"no table {table_id!r}"
    return found.group(0)


def row(text: str, attribute: str, value: str) -> str:
    found = re.search(rf'<tr [^>]*{attribute}="{re.escape(value)}".*?</tr>', text, re.S)
    assert found, f"no row with {attribute}={value!r}"
    return found.group(0)


def cells(row_html: str) -> list[str]:
    """The text of each cell of a table row, whitespace collapsed."""
    return [" ".join(re.sub(r"<[^>]+>", " ", cell).split())
            for cell in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row_html, re.S)]


# -- models ----------------------------------------------------------------------------------


def test_models_lists_the_latest_version_of_each_name(world):
    models = table(page(world, "/models"), "models")
    diabetes = row(models, "data-model", "diabetes-model")
    assert f'href="/w/{world.ws.name}/models/diabetes-model"' in diabetes
    assert "stage" in diabetes and "dev" in diabetes
    assert "<time datetime=" in diabetes  # the time filter, rendered as markup
    assert row(models, "data-model", "bundle-model")


def test_a_models_lineage_links_its_run_and_datasets(world):
    text = page(world, "/models/diabetes-model")
    versions = table(text, "model-versions")
    ws = world.ws.name
    assert re.search(rf'<a href="/w/{ws}/runs/{world.run.id}" data-lineage="run">', versions)
    assert (f'<a data-lineage="dataset" href="/w/{ws}/datasets/diabetes?version=1">'
            in versions)
    assert "auc" in versions and "0.91" in versions  # properties
    # Registered without datasets: the input datasets its run recorded.
    bundle = table(page(world, "/models/bundle-model"), "model-versions")
    assert f'<a data-lineage="dataset" href="/w/{ws}/datasets/diabetes?version=1">' in bundle
    assert "input of the run" in bundle


def test_a_model_file_downloads_as_it_is(world):
    url = f"/w/{world.ws.name}/models/diabetes-model/1/download"
    response = world.client.get(url, headers=HTML)
    assert response.status_code == 200
    assert response.content == world.model_file.read_bytes()
    assert 'filename="model.pkl"' in response.headers["content-disposition"]
    assert world.client.get(url.replace("/1/", "/latest/")).content == response.content


def test_a_model_folder_downloads_as_a_zip(world):
    response = world.client.get(f"/w/{world.ws.name}/models/bundle-model/1/download")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        assert sorted(archive.namelist()) == ["bundle/config/params.json",
                                              "bundle/weights.bin"]
        assert archive.read("bundle/weights.bin") == world.model_file.read_bytes()
        assert archive.read("bundle/config/params.json") == DATA.read_bytes()


def test_unknown_models_are_404_pages(world):
    response = world.client.get(f"/w/{world.ws.name}/models/nope", headers=HTML)
    assert response.status_code == 404 and "<html" in response.text
    missing = world.client.get(f"/w/{world.ws.name}/models/diabetes-model/9/download",
                               headers=HTML)
    assert missing.status_code == 404


# -- datasets --------------------------------------------------------------------------------


def test_datasets_lists_name_version_and_kind(world):
    datasets = table(page(world, "/datasets"), "datasets")
    tabular = cells(row(datasets, "data-dataset", "diabetes"))
    assert tabular[:4] == ["diabetes", "1", "1", "tabular"]
    assert cells(row(datasets, "data-dataset", "diabetes-files"))[3] == "file"


def test_a_tabular_preview_shows_the_first_rows_as_the_sdk_reads_them(world):
    text = page(world, "/datasets/diabetes", params={"version": "1"})
    preview = table(text, "preview")
    expected = world.tabular.take(20).to_pandas_dataframe()
    header = DATA.read_text().splitlines()[0].split(",")
    assert re.findall(r"<th scope=\"col\">(.*?)</th>", preview) == header
    body = re.findall(r"<tr>(.*?)</tr>", preview.split("<tbody>")[1], re.S)
    assert len(body) == 20 == len(expected)
    first_csv_row = DATA.read_text().splitlines()[1].split(",")
    assert cells(body[0]) == first_csv_row  # values as written, not rounded
    assert cells(body[19]) == DATA.read_text().splitlines()[20].split(",")
    # Definition and lineage.
    assert "workspaceblobstore: diabetes/*.csv" in text
    assert (f'<a href="/w/{world.ws.name}/runs/{world.run.id}" data-lineage="run">'
            in table(text, "dataset-runs"))
    assert "training_data" in table(text, "dataset-runs")
    assert f'href="/w/{world.ws.name}/models/diabetes-model"' in text
    assert f'hx-get="/w/{world.ws.name}/datasets/diabetes/profile?version=1"' in text


def test_a_file_dataset_preview_lists_its_files(world):
    preview = table(page(world, "/datasets/diabetes-files"), "preview")
    assert "<code>/diabetes.csv</code>" in preview


def test_the_profile_is_what_plinth_dataset_profile_computes(world):
    response = world.client.get(f"/w/{world.ws.name}/datasets/diabetes/profile",
                                params={"version": "1"}, headers=HTML)
    assert response.status_code == 200
    profile = world.tabular.get_profile()
    text = table(response.text, "profile")
    age = cells(row(text, "data-column", "Age"))
    stats = profile["Age"]
    assert age[:5] == ["Age", "long", str(stats["count"]), str(stats["missing"]),
                       str(stats["distinct"])]
    assert age[5:7] == [str(stats["min"]), str(stats["max"])]
    assert age[7] == f"{stats['mean']:.6g}"


def test_a_bad_version_is_a_page_not_a_crash(world):
    response = world.client.get(f"/w/{world.ws.name}/datasets/diabetes",
                                params={"version": "7"}, headers=HTML)
    assert response.status_code == 404 and "<html" in response.text
    response = world.client.get(f"/w/{world.ws.name}/datasets/diabetes",
                                params={"version": "x"}, headers=HTML)
    assert response.status_code == 400 and "not a version number" in response.text


# -- datastores, environments ----------------------------------------------------------------


def test_datastores_show_where_without_any_secret(world):
    text = page(world, "/datastores")
    datastores = table(text, "datastores")
    assert 'data-default="true"' in row(datastores, "data-datastore", "workspaceblobstore")
    blob = row(datastores, "data-datastore", "blobdata")
    assert "abfs://training@studioacct.blob.core.windows.net" in blob
    assert "account_key" in blob  # which setting is a credential, not its value
    s3 = row(datastores, "data-datastore", "s3data")
    assert "s3://bucket-x/data" in s3 and "secret_access_key" in s3 and "prefix" in s3
    secrets = world.store.get_secrets(world.ws_id, [n for s in world.store.list_datastores(
        world.ws_id) for n in s.secrets.values()])
    assert secrets and BLOB_KEY in secrets.values()
    for value in [*secrets.values(), BLOB_KEY, S3_SECRET, "AKIASTUDIO"]:
        assert value not in text and html.escape(value) not in text


def test_environments_show_the_spec_and_build_status(world):
    environments = table(page(world, "/environments"), "environments")
    assert "scikit-learn" in row(environments, "data-environment", "studio-env")
    text = page(world, "/environments/studio-env", params={"version": "1"})
    assert "scikit-learn" in text and "MODE" in text and "studio" in text
    assert re.search(r'id="environment-build" data-build-state="(NotBuilt|Built|Ready)"', text)
    curated = page(world, "/environments/Plinth-sklearn")
    assert "joblib" in curated


# -- compute ---------------------------------------------------------------------------------


def test_compute_counts_busy_and_queued_runs_from_run_records(world):
    experiment = world.store.create_experiment(world.ws_id, "cluster-work")

    def active(target: str, status: str) -> str:
        run_id = f"cluster_{uuid.uuid4().hex[:8]}"
        world.store.create_run(experiment.id, run_id, run_type="azureml.scriptrun",
                               status=status, definition={
                                   "target": target, "compute": {"name": target,
                                                                 "kind": "AmlCompute"}})
        return run_id

    made = [active("cpu-cluster", "Running"), active("cpu-cluster", "Running"),
            active("cpu-cluster", "Queued"), active("gpu-cluster", "Queued"),
            active("local", "Running")]
    done = active("cpu-cluster", "Running")
    world.store.set_status(done, "Completed")
    try:
        text = table(page(world, "/compute"), "compute")
        cpu = row(text, "data-compute", "cpu-cluster")
        assert 'data-busy="2"' in cpu and 'data-queued="1"' in cpu and 'data-idle="2"' in cpu
        assert "STANDARD_DS11_V2" in cpu
        assert all(f"/runs/{run_id}" in cpu for run_id in made[:3])
        assert done not in cpu
        gpu = row(text, "data-compute", "gpu-cluster")
        assert 'data-busy="0"' in gpu and 'data-queued="1"' in gpu and 'data-idle="1"' in gpu
    finally:
        for run_id in made:
            world.store.set_status(run_id, "Canceled")


# -- pipelines -------------------------------------------------------------------------------


def _time_of(cell: str) -> dt.datetime:
    found = re.search(r'<time datetime="([^"]+)"', cell)
    assert found, cell
    return dt.datetime.fromisoformat(found.group(1))


def test_pipelines_schedules_and_their_next_fire_times(world):
    before = time.time()
    text = page(world, "/pipelines")
    after = time.time()
    published = row(table(text, "published-pipelines"), "data-pipeline-id", world.pipeline.id)
    assert "diabetes-pipeline" in published and "1.0" in published and "Active" in published
    assert (f"/api/v1/workspaces/{world.ws.name}/published-pipelines/{world.pipeline.id}"
            "/submit") in published
    endpoint = row(table(text, "pipeline-endpoints"), "data-endpoint-id", world.endpoint.id)
    assert 'data-default-version="0"' in endpoint and "diabetes-pipeline" in endpoint

    schedules = table(text, "schedules")
    daily = row(schedules, "data-schedule-id", world.future.id)
    fires = _time_of(daily.split('class="next-fire"')[1])
    assert fires == dt.datetime.fromisoformat(FUTURE_START).replace(tzinfo=dt.UTC)
    assert "every day" in daily and "never" in daily

    hourly = row(schedules, "data-schedule-id", world.hourly.id)
    shown = _time_of(hourly.split('class="next-fire"')[1]).timestamp()
    expected = {next_fire_time(world.hourly.recurrence, t, anchor=world.hourly.created_at)
                for t in (before, after)}
    assert shown in expected and shown > before
    assert dt.datetime.fromtimestamp(shown, dt.UTC).minute == 30
    last = hourly.split('class="last-fire"')[1].split("</td>")[0]
    assert f'href="/w/{world.ws.name}/runs/{world.run.id}"' in last and "<time" in last

    off = [r for r in re.findall(r"<tr [^>]*data-schedule-id.*?</tr>", schedules, re.S)
           if "switched-off" in r][0]
    assert "Disabled" in off and "disabled" in off.split('class="next-fire"')[1]


# -- endpoints -------------------------------------------------------------------------------


def test_endpoints_list_kind_state_uri_and_models(world):
    endpoints = table(page(world, "/endpoints"), "endpoints")
    dead = row(endpoints, "data-endpoint", "dead-service")
    assert 'class="badge status-Unhealthy"' in dead
    assert "ACI" in dead and "/score" in dead
    assert f'href="/w/{world.ws.name}/models/diabetes-model"' in dead


def test_the_console_shows_a_connection_error_not_a_500(world):
    text = page(world, "/endpoints/dead-service")
    assert '<form id="test-console"' in text
    assert f'hx-post="/w/{world.ws.name}/endpoints/dead-service/test"' in text
    assert '<textarea id="test-input" name="input"' in text and '{&#34;data&#34;: []}' in text
    assert '<button id="test-send"' in text and '<pre id="test-output"' in text
    assert '<pre id="endpoint-logs"' in text
    response = world.client.post(f"/w/{world.ws.name}/endpoints/dead-service/test",
                                 data={"input": '{"data": [[1, 2]]}'},
                                 headers={"X-Plinth-Studio": "1", "HX-Request": "true"})
    assert response.status_code == 200
    assert 'data-status="error"' in response.text
    assert "Could not connect to the service" in response.text
    gone = world.client.post(f"/w/{world.ws.name}/endpoints/no-such/test",
                             data={"input": "{}"}, headers={"X-Plinth-Studio": "1"})
    assert gone.status_code == 200 and "No service" in gone.text


def test_keys_are_shown_to_owners_only(world):
    app = create_app(ServerConfig(workspace=str(world.folder), auth=True))
    store = app.state.plinth.store
    tokens = {}
    for role in ("Reader", "Owner"):
        name = f"{role.lower()}-{uuid.uuid4().hex[:6]}"
        store.create_user(name)
        store.set_role(name, world.ws_id, role)
        tokens[role] = new_token()
        store.create_token(name, hash_secret(tokens[role]))
    client = TestClient(app)
    url = f"/w/{world.ws.name}/endpoints/dead-service"
    keys = deploy.keys_of(world.ws._location, store.get_service(world.ws_id, "dead-service"))

    def section(text: str) -> str:
        return re.search(r'<section id="endpoint-keys".*?</section>', text, re.S).group(0)

    reader = client.get(url, headers={**HTML, "Authorization": f"Bearer {tokens['Reader']}"})
    assert reader.status_code == 200
    assert "Only the workspace's Owners see the keys" in section(reader.text)
    assert all(key not in reader.text for key in keys.values())
    owner = client.get(url, headers={**HTML, "Authorization": f"Bearer {tokens['Owner']}"})
    assert owner.status_code == 200
    shown = section(owner.text)
    assert f'value="{keys["primaryKey"]}" data-key="primary"' in shown
    assert f'value="{keys["secondaryKey"]}" data-key="secondary"' in shown

    # A Reader may use the test console (a test changes nothing); a signed-in browser must
    # send the Studio header with it; without a token it is refused.
    test = f"{url}/test"
    cookie = {"plinth_token": tokens["Reader"]}
    client.cookies.update(cookie)
    refused = client.post(test, data={"input": "{}"})
    assert refused.status_code == 401
    allowed = client.post(test, data={"input": "{}"}, headers={"X-Plinth-Studio": "1"})
    assert allowed.status_code == 200 and "Could not connect" in allowed.text
    client.cookies.clear()
    assert client.post(test, data={"input": "{}"}).status_code == 401
    signin = client.get(url, headers=HTML, follow_redirects=False)
    assert signin.status_code == 303 and signin.headers["location"].startswith("/signin")


def test_every_asset_page_renders_for_an_empty_workspace(tmp_path):
    ws = Workspace.create(f"empty-{uuid.uuid4().hex[:6]}", path=tmp_path / "ws")
    client = TestClient(create_app(ServerConfig(workspace=str(ws._location.folder),
                                                auth=False)))
    for path in ("models", "datasets", "datastores", "environments", "compute", "pipelines",
                 "endpoints"):
        response = client.get(f"/w/{ws.name}/{path}", headers=HTML)
        assert response.status_code == 200, (path, response.text[:500])
        assert "/static/assets.css" in response.text


# -- a real service --------------------------------------------------------------------------


SCORE = """
    import json

    from inference_schema.parameter_types.standard_py_parameter_type import (
        StandardPythonParameterType)
    from inference_schema.schema_decorators import input_schema


    def init():
        print("console-test init")


    @input_schema("data", StandardPythonParameterType([[1.0, 2.0]]))
    def run(data):
        return json.dumps({"sums": [sum(row) for row in data]})
"""


@pytest.mark.slow
def test_the_console_forwards_to_a_local_service_with_its_key(tmp_path):
    from plinth.core.model import InferenceConfig, Model
    from plinth.core.webservice import LocalWebservice

    ws = Workspace.create(f"serve-{uuid.uuid4().hex[:6]}", path=tmp_path / "ws")
    (tmp_path / "model.txt").write_text("a model")
    model = Model.register(ws, str(tmp_path / "model.txt"), "tiny")
    source = tmp_path / "service"
    source.mkdir()
    (source / "score.py").write_text(textwrap.dedent(SCORE))
    service = Model.deploy(ws, "console-test", [model],
                           InferenceConfig(entry_script="score.py",
                                           source_directory=str(source)),
                           LocalWebservice.deploy_configuration())
    client = TestClient(create_app(ServerConfig(workspace=str(ws._location.folder),
                                                auth=False)))
    test = f"/w/{ws.name}/endpoints/console-test/test"
    body = json.dumps({"data": [[1, 2], [3, 4.5]]})
    try:
        service.wait_for_deployment()
        text = client.get(f"/w/{ws.name}/endpoints/console-test", headers=HTML).text
        assert 'class="badge status-Healthy"' in text
        sample = re.search(r'<textarea id="test-input"[^>]*>(.*?)</textarea>', text, re.S)
        assert json.loads(html.unescape(sample.group(1))) == {"data": [[1.0, 2.0]]}
        assert "console-test init" in text  # the service's log

        answer = client.post(test, data={"input": body}, headers={"X-Plinth-Studio": "1"})
        assert answer.status_code == 200
        assert 'data-status="200"' in answer.text
        assert json.loads(html.unescape(answer.text.split("decoded.</span>")[1])) == {
            "sums": [3, 7.5]}
        bad = client.post(test, data={"input": "{not json"}, headers={"X-Plinth-Studio": "1"})
        assert bad.status_code == 200 and re.search(r'data-status="4\d\d"', bad.text)

        # With key auth on, the console adds the key on the server; a bare call is refused.
        service.update(auth_enabled=True)
        service.wait_for_deployment()
        assert httpx.post(service.scoring_uri, content=body, timeout=30).status_code == 401
        answer = client.post(test, data={"input": body}, headers={"X-Plinth-Studio": "1"})
        assert 'data-status="200"' in answer.text and "7.5" in answer.text
    finally:
        service.delete()
