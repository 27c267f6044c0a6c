"""``plinth model deploy`` and ``plinth endpoint ...`` on a real embedded workspace, in-process
through typer's CliRunner, with real service processes."""

from __future__ import annotations

import json

import httpx
import joblib
import pytest
import typer
from sklearn.linear_model import LogisticRegression
from tests import compute as shared
from typer.testing import CliRunner

from conftest import write_script
from plinth.cli import endpoints, models
from plinth.core import Model
from plinth.core.conda_dependencies import CondaDependencies
from plinth.core.webservice import Webservice

ray_home, ray_address = shared.ray_home, shared.ray_address

SCORE = """\
    import json
    import joblib
    from plinth.core.model import Model

    def init():
        global model
        model = joblib.load(Model.get_model_path("tiny_model"))
        print("tiny model loaded")

    def run(raw_data):
        data = json.loads(raw_data)["data"]
        return json.dumps([int(p) for p in model.predict(data)])
    """

BROKEN = """\
    def init():
        raise RuntimeError("the model file is corrupt")

    def run(raw_data):
        return 1
    """

BODY = json.dumps({"data": [[0.0], [3.0]]})


@pytest.fixture(name="backend")
def sqlite_backend():
    """The embedded SQLite workspace only: deployments are tested on the SDK elsewhere; here
    it is the command line that is under test."""
    return "sqlite"


@pytest.fixture
def service_dir(ws, tmp_path, script_dir):
    """A registered sklearn model (tiny_model:1), a score script and a conda file; every
    service still deployed at the end is deleted, so no process outlives the test."""
    model = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
    joblib.dump(model, tmp_path / "model.pkl")
    Model.register(ws, model_path=str(tmp_path / "model.pkl"), model_name="tiny_model")
    write_script(script_dir, "score.py", SCORE)
    env = CondaDependencies.create(conda_packages=["scikit-learn", "joblib"])
    (script_dir / "env.yml").write_text(env.serialize_to_string())
    yield script_dir
    for service in Webservice.list(ws):
        service.delete()


@pytest.fixture
def cli(ws, tmp_path):
    """``cli(*args)`` runs ``plinth ARGS`` (``model ...`` or ``endpoint ...``) in-process
    against ``ws``; ``input`` answers prompts; ``traceback=True`` allows a traceback in the
    output (a failed service's log has one)."""
    root = typer.Typer()
    root.add_typer(models.app, name="model")
    root.add_typer(endpoints.app, name="endpoint")
    runner = CliRunner(env={"COLUMNS": "240"})
    folder = tmp_path / "cfg"
    ws.write_config(folder)

    def invoke(*args: str, input: str | None = None, traceback: bool = False):
        result = runner.invoke(root, [*map(str, args), "--workspace-config", str(folder)],
                               input=input)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        if not traceback:
            assert "Traceback" not in result.output, result.output
        return result

    return invoke


def one_line(text: str) -> str:
    return " ".join(text.split())


# -- without deploying anything ------------------------------------------------------------

def test_deploy_refuses_bad_options_before_deploying(ws, cli, service_dir):
    score = service_dir / "score.py"
    both = cli("model", "deploy", "svc", "--model", "tiny_model", "--entry-script", score,
               "--conda-file", service_dir / "env.yml", "--environment", "Plinth-sklearn")
    assert both.exit_code == 2 and "either --conda-file or --environment" in both.output
    local = cli("model", "deploy", "svc", "--model", "tiny_model", "--entry-script", score,
                "--target", "local", "--replicas", "2", "--auth")
    assert local.exit_code == 2 and "--replicas, --auth" in one_line(local.output)
    aci = cli("model", "deploy", "svc", "--model", "tiny_model", "--entry-script", score,
              "--token-auth")
    assert aci.exit_code == 2 and "--token-auth" in aci.output
    bad_version = cli("model", "deploy", "svc", "--model", "tiny_model:latest",
                      "--entry-script", score)
    assert bad_version.exit_code == 2 and "NAME:VERSION" in bad_version.output
    missing = cli("model", "deploy", "svc", "--model", "tiny_model:7", "--entry-script", score)
    assert missing.exit_code == 1 and "tiny_model" in missing.output
    no_conda = cli("model", "deploy", "svc", "--model", "tiny_model", "--entry-script", score,
                   "--conda-file", "nowhere.yml")
    assert no_conda.exit_code == 2 and "nowhere.yml" in no_conda.output
    no_script = cli("model", "deploy", "svc", "--model", "tiny_model", "--entry-script",
                    "missing.py", "--source-dir", service_dir)
    assert no_script.exit_code == 1 and "missing.py" in no_script.output
    assert Webservice.list(ws) == []

    assert "No services deployed" in cli("endpoint", "list").output
    assert json.loads(cli("endpoint", "list", "--json").output) == []
    unknown = cli("endpoint", "show", "nope")
    assert unknown.exit_code == 1 and "No service named 'nope'" in unknown.output
    no_body = cli("endpoint", "test", "nope")
    assert no_body.exit_code == 2 and "--data" in no_body.output
    not_json = cli("endpoint", "test", "nope", "--data", "{not json")
    assert not_json.exit_code == 2 and "not valid JSON" in not_json.output


# -- with real services --------------------------------------------------------------------

@pytest.mark.slow
def test_deploy_to_aci_then_list_show_test_and_logs(ws, cli, service_dir, tmp_path):
    deployed = cli("model", "deploy", "tiny-aci", "--model", "tiny_model:1",
                   "--entry-script", "score.py", "--source-dir", service_dir,
                   "--conda-file", "env.yml", "--target", "aci", "--cpu-cores", "1",
                   "--memory-gb", "1.5")
    assert deployed.exit_code == 0, deployed.output
    service = Webservice(ws, "tiny-aci")
    assert service.state == "Healthy" and service.compute_type == "ACI"
    assert "Service tiny-aci is Healthy." in deployed.output
    assert service.scoring_uri in deployed.output

    listed = cli("endpoint", "list")
    assert listed.exit_code == 0, listed.output
    assert "tiny-aci ACI Healthy tiny_model:1 " + service.scoring_uri in one_line(listed.output)
    [row] = json.loads(cli("endpoint", "list", "--json").output)
    assert row["name"] == "tiny-aci" and row["state"] == "Healthy"
    assert row["models"] == ["tiny_model:1"] and row["authMode"] == "none"

    shown = cli("endpoint", "show", "tiny-aci")
    assert shown.exit_code == 0, shown.output
    text = one_line(shown.output)
    assert "State Healthy" in text and "Auth none" in text and "cpu_cores=1.0" in text
    assert "memory_gb=1.5" in text and service.swagger_uri in text and "Error" not in text
    data = json.loads(cli("endpoint", "show", "tiny-aci", "--json").output)
    assert data["scoringUri"] == service.scoring_uri and data["error"] is None
    assert data["config"]["cpu_cores"] == 1.0 and data["computeType"] == "ACI"

    answered = cli("endpoint", "test", "tiny-aci", "--data", BODY)
    assert answered.exit_code == 0, answered.output
    assert json.loads(answered.output) == [0, 1]
    (tmp_path / "request.json").write_text(BODY)
    from_file = cli("endpoint", "test", "tiny-aci", "--file", tmp_path / "request.json")
    assert from_file.exit_code == 0 and json.loads(from_file.output) == [0, 1]
    refused = cli("endpoint", "test", "tiny-aci", "--data", json.dumps({"rows": []}))
    assert refused.exit_code == 1 and "answered 500" in refused.output

    logs = cli("endpoint", "logs", "tiny-aci", traceback=True)  # of the refused request
    assert logs.exit_code == 0 and "tiny model loaded" in logs.output
    assert "POST /score" in logs.output
    last = cli("endpoint", "logs", "tiny-aci", "--tail", "1")
    assert len(last.output.strip().splitlines()) == 1

    keys = cli("endpoint", "keys", "tiny-aci")
    assert keys.exit_code == 1 and "key auth off" in keys.output and "--auth" in keys.output

    again = cli("model", "deploy", "tiny-aci", "--model", "tiny_model",
                "--entry-script", service_dir / "score.py", "--target", "aci")
    assert again.exit_code == 1 and "tiny-aci" in again.output
    assert Webservice(ws, "tiny-aci").state == "Healthy"


@pytest.mark.slow
def test_keys_of_an_aks_service_and_regenerating_one(ray_address, ws, cli, service_dir):
    deployed = cli("model", "deploy", "tiny-aks", "--model", "tiny_model",
                   "--entry-script", service_dir / "score.py", "--conda-file",
                   service_dir / "env.yml", "--target", "aks", "--replicas", "2")
    assert deployed.exit_code == 0, deployed.output
    assert "plinth endpoint keys tiny-aks" in deployed.output
    service = Webservice(ws, "tiny-aks")
    assert service.serialize()["config"]["num_replicas"] == 2

    keys = cli("endpoint", "keys", "tiny-aks", "--json")
    assert keys.exit_code == 0, keys.output
    before = json.loads(keys.output)
    assert set(before) == {"primaryKey", "secondaryKey"}
    assert before["primaryKey"] != before["secondaryKey"]
    assert (before["primaryKey"], before["secondaryKey"]) == service.get_keys()
    shown = cli("endpoint", "keys", "tiny-aks")
    assert before["primaryKey"] in shown.output and before["secondaryKey"] in shown.output
    assert "Auth key" in one_line(cli("endpoint", "show", "tiny-aks").output)

    assert httpx.post(service.scoring_uri, content=BODY, timeout=30).status_code == 401
    regenerated = cli("endpoint", "keys", "tiny-aks", "--regenerate", "Primary", "--json")
    assert regenerated.exit_code == 0, regenerated.output
    assert "Regenerated the primary key" in regenerated.stderr
    after = json.loads(regenerated.stdout)
    assert after["primaryKey"] != before["primaryKey"]
    assert after["secondaryKey"] == before["secondaryKey"]
    stale = httpx.post(service.scoring_uri, content=BODY, timeout=30,
                       headers={"Authorization": f"Bearer {before['primaryKey']}"})
    assert stale.status_code == 401
    # The CLI's test request sends the current key itself.
    answered = cli("endpoint", "test", "tiny-aks", "--data", BODY)
    assert answered.exit_code == 0 and json.loads(answered.output) == [0, 1]


@pytest.mark.slow
def test_a_failing_entry_script_exits_1_with_its_error(ws, cli, service_dir):
    write_script(service_dir, "score.py", BROKEN)
    failed = cli("model", "deploy", "broken", "--model", "tiny_model", "--entry-script",
                 service_dir / "score.py", traceback=True)
    assert failed.exit_code == 1, failed.output
    assert "Service broken is Failed" in failed.output
    assert "RuntimeError: the model file is corrupt" in failed.output  # the log's tail
    assert "plinth endpoint logs broken" in one_line(failed.output)

    assert "broken ACI Failed" in one_line(cli("endpoint", "list").output)
    shown = cli("endpoint", "show", "broken", traceback=True)
    assert "State Failed" in one_line(shown.output)
    assert "the model file is corrupt" in shown.output
    assert json.loads(cli("endpoint", "show", "broken", "--json", traceback=True)
                      .output)["error"]["code"] == "ServiceFailed"
    logs = cli("endpoint", "logs", "broken", traceback=True)
    assert "the model file is corrupt" in logs.output


@pytest.mark.slow
def test_deploy_locally_without_waiting_then_delete(ws, cli, service_dir):
    deployed = cli("model", "deploy", "tiny-local", "--model", "tiny_model", "--entry-script",
                   service_dir / "score.py", "--environment", "Plinth-sklearn:1",
                   "--target", "local", "--no-wait")
    assert deployed.exit_code == 0, deployed.output
    assert "Service tiny-local is Transitioning." in deployed.output
    service = Webservice(ws, "tiny-local")
    service.wait_for_deployment()
    assert json.loads(cli("endpoint", "test", "tiny-local", "--data", BODY).output) == [0, 1]

    kept = cli("endpoint", "delete", "tiny-local", input="n\n")
    assert kept.exit_code == 1 and "Nothing deleted" in kept.output
    assert [s.name for s in Webservice.list(ws)] == ["tiny-local"]
    deleted = cli("endpoint", "delete", "tiny-local", input="y\n")
    assert deleted.exit_code == 0 and "Deleted service tiny-local" in deleted.output
    assert Webservice.list(ws) == []
    with pytest.raises(httpx.HTTPError):
        httpx.post(service.scoring_uri, content=BODY, timeout=5)

    redeployed = cli("model", "deploy", "tiny-local", "--model", "tiny_model",
                     "--entry-script", service_dir / "score.py", "--target", "local")
    assert redeployed.exit_code == 0, redeployed.output
    assert cli("endpoint", "delete", "tiny-local", "--yes").exit_code == 0
    assert Webservice.list(ws) == []
    gone = cli("endpoint", "delete", "tiny-local", "--yes")
    assert gone.exit_code == 1 and "No service named 'tiny-local'" in gone.output
