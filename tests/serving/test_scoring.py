"""The scoring service: a real host process per test, serving a tiny scikit-learn model."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from tests.conftest import free_port

from plinth._serving.host import wait_ready
from plinth._serving.scoring import ServiceSpec, issue_token, result_response, verify_token
from plinth.exceptions import UserErrorException, WebserviceException

PLAIN_SCRIPT = """
    import json, os, time
    from pathlib import Path

    import joblib
    import numpy as np


    def init():
        global model
        model = joblib.load(os.path.join(os.environ["AZUREML_MODEL_DIR"], "model.joblib"))
        with open(Path(__file__).with_name("pids.txt"), "a") as f:
            f.write(f"{os.getpid()}\\n")


    def run(raw_data):
        data = json.loads(raw_data)
        if "fail" in data:
            raise ValueError(data["fail"])
        if "sleep" in data:
            time.sleep(data["sleep"])
            return "slept"
        return model.predict(np.array(data["data"]))
"""

SCHEMA_SCRIPT = """
    import os

    import joblib
    import numpy as np
    from inference_schema.parameter_types.numpy_parameter_type import NumpyParameterType
    from inference_schema.schema_decorators import input_schema, output_schema


    def init():
        global model
        model = joblib.load(os.path.join(os.environ["AZUREML_MODEL_DIR"], "model.joblib"))


    @input_schema("data", NumpyParameterType(np.array([[1.0, 2.0]])))
    @output_schema(NumpyParameterType(np.array([8.0])))
    def run(data):
        assert isinstance(data, np.ndarray)
        return model.predict(data)
"""

FAILING_SCRIPT = """
    def init():
        raise RuntimeError("cannot load the weights: no such file")


    def run(raw_data):
        return raw_data
"""


@dataclass
class Service:
    url: str
    process: subprocess.Popen
    folder: Path
    spec: ServiceSpec

    def score(self, body: str | bytes | dict, **kwargs) -> httpx.Response:
        if isinstance(body, dict):
            body = json.dumps(body)
        return httpx.post(f"{self.url}/score", content=body, timeout=30, **kwargs)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    """A linear model of y = 2 a + 3 b, deployed as azureml lays one out."""
    joblib = pytest.importorskip("joblib")
    np = pytest.importorskip("numpy")
    linear_model = pytest.importorskip("sklearn.linear_model")
    x = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [2.0, 3.0]])
    model = linear_model.LinearRegression().fit(x, x @ np.array([2.0, 3.0]))
    root = tmp_path_factory.mktemp("models")
    (root / "regressor" / "1").mkdir(parents=True)
    joblib.dump(model, root / "regressor" / "1" / "model.joblib")
    return root


def _write_service(folder: Path, script: str, model_dir: Path, **fields) -> tuple[Path, Path]:
    source = folder / "source"
    source.mkdir(parents=True)
    (source / "score.py").write_text(textwrap.dedent(script))
    spec = ServiceSpec(name="svc", entry_script="score.py", source_directory=str(source),
                       model_dir=str(model_dir), log_path=str(folder / "service.log"),
                       **fields)
    spec_file = folder / "service.json"
    spec_file.write_text(spec.to_json())
    return spec_file, folder / "host.log"


def _start(spec_file: Path, host_log: Path, port: int, workers: int) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items()
           if k not in ("AZUREML_MODEL_DIR", "PLINTH_MODEL_DIR")}
    command = [sys.executable, "-m", "plinth._serving.host", str(spec_file), "--port",
               str(port), "--workers", str(workers)]
    with open(host_log, "wb") as out:
        return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)


@contextlib.contextmanager
def serving(tmp_path: Path, script: str, model_dir: Path, workers: int = 1, **fields):
    spec_file, host_log = _write_service(tmp_path, script, model_dir, **fields)
    port = free_port()
    process = _start(spec_file, host_log, port, workers)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_ready(url, 60, process, log_path=host_log)
        yield Service(url, process, tmp_path, ServiceSpec.load(spec_file))
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _write_keys(path: Path, primary: str, secondary: str) -> None:
    """Replace the keys file at once, as key regeneration does."""
    temp = path.with_suffix(".tmp")
    temp.write_text(json.dumps({"primaryKey": primary, "secondaryKey": secondary}))
    os.replace(temp, path)


def _bearer(credential: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {credential}"}


# -- in-process --------------------------------------------------------------------------------


def test_spec_round_trips_through_json_and_checks_its_fields(tmp_path):
    spec = ServiceSpec(name="s", entry_script="score.py", source_directory=str(tmp_path),
                       auth="key", keys_file=str(tmp_path / "keys.json"))
    assert ServiceSpec.from_json(spec.to_json()) == spec
    assert spec.max_request_bytes == 10 * 1024 * 1024 and spec.request_timeout_seconds == 60
    assert spec.script_path() == tmp_path / "score.py"
    with pytest.raises(UserErrorException, match="keys_file"):
        ServiceSpec(name="s", entry_script="score.py", auth="key")
    with pytest.raises(UserErrorException, match="token_secret_file"):
        ServiceSpec(name="s", entry_script="score.py", auth="token")
    with pytest.raises(UserErrorException, match="not one of"):
        ServiceSpec(name="s", entry_script="score.py", auth="basic")
    with pytest.raises(UserErrorException, match="Unknown service spec fields"):
        ServiceSpec.from_json('{"name": "s", "entry_script": "x.py", "port": 1}')


SECRET = b"a secret of at least 32 bytes, ok"


def test_tokens_are_bound_to_their_service_and_expire():
    token, expires, refresh_after = issue_token(SECRET, "svc", seconds=600)
    assert time.time() < refresh_after < expires
    assert verify_token(SECRET, "svc", token) is None
    assert "not valid" in verify_token(SECRET, "other", token)
    assert "not valid" in verify_token(b"another secret, 32 bytes or more!", "svc", token)
    old, _, _ = issue_token(SECRET, "svc", seconds=600, now=time.time() - 3600)
    assert "expired" in verify_token(SECRET, "svc", old)


def test_results_are_json_with_numpy_values_as_lists_and_numbers():
    np = pytest.importorskip("numpy")
    body = result_response({"a": np.array([[1, 2]]), "b": np.float32(0.5), "c": np.int64(3),
                            "d": (1, 2)}).body
    assert json.loads(body) == {"a": [[1, 2]], "b": 0.5, "c": 3, "d": [1, 2]}
    with pytest.raises(TypeError, match="not JSON-serializable"):
        result_response(object())


@pytest.mark.filterwarnings("ignore:Using .httpx. with .starlette.testclient.")
def test_in_process_app_passes_headers_and_reports_a_failed_init(tmp_path):
    from starlette.testclient import TestClient

    from plinth._serving.scoring import create_app

    (tmp_path / "echo.py").write_text(textwrap.dedent("""
        def init():
            pass


        def run(raw_data, request_headers):
            return {"body": raw_data, "caller": request_headers.get("x-caller")}
    """))
    (tmp_path / "broken.py").write_text("def init():\n    1 / 0\n\ndef run(data):\n    pass\n")
    spec = ServiceSpec(name="echo", entry_script="echo.py", source_directory=str(tmp_path))
    with TestClient(create_app(spec)) as client:
        _wait_until(lambda: client.get("/ready").status_code == 200)
        answer = client.post("/score", content="hello", headers={"x-caller": "tests"})
        assert answer.json() == {"body": "hello", "caller": "tests"}
    failures = []
    broken = ServiceSpec(name="broken", entry_script="broken.py", source_directory=str(tmp_path))
    with TestClient(create_app(broken, on_init_failure=failures.append)) as client:
        _wait_until(lambda: bool(failures))
        ready = client.get("/ready")
        assert ready.status_code == 503 and "ZeroDivisionError" in ready.text
        assert client.post("/score", content="x").json()["error"]["code"] == "InitFailed"
        assert client.get("/live").status_code == 200


def _wait_until(condition, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


# -- a real host process -----------------------------------------------------------------------


@pytest.mark.slow
def test_plain_script_predicts_and_survives_errors_timeouts_and_big_bodies(tmp_path, model_dir):
    with serving(tmp_path, PLAIN_SCRIPT, model_dir, request_timeout_seconds=1,
                 max_request_bytes=2000) as service:
        assert httpx.get(f"{service.url}/").text == "Healthy"
        assert httpx.get(f"{service.url}/live").status_code == 200

        predicted = service.score({"data": [[1, 1], [2, 0]]})
        assert predicted.status_code == 200
        assert predicted.json() == pytest.approx([5.0, 4.0])

        failed = service.score({"fail": "the input has no 'age' column"})
        assert failed.status_code == 500
        assert failed.json()["error"]["message"] == "the input has no 'age' column"
        assert service.score({"data": [[0, 1]]}).json() == pytest.approx([3.0])

        # Undecorated run() parses the body itself: its JSON error is its own (500).
        assert service.score("{not json").status_code == 500

        started = time.monotonic()
        slow = service.score({"sleep": 5})
        assert slow.status_code == 504 and "request_timeout_seconds" in slow.text
        assert time.monotonic() - started < 4
        assert service.score({"data": [[1, 0]]}).json() == pytest.approx([2.0])

        big = json.dumps({"data": [[1.0, 2.0]] * 300})
        assert service.score(big).status_code == 413
        chunks = iter([b'{"data": [', b"[1, 2], " * 300, b"[1, 2]]}"])
        assert service.score(chunks).status_code == 413
        assert service.score({"data": [[1, 1]]}).status_code == 200

        swagger = httpx.get(f"{service.url}/swagger.json").json()
        assert swagger["swagger"] == "2.0" and "/score" in swagger["paths"]

    log = (tmp_path / "service.log").read_text()
    assert "POST /score 200" in log and "POST /score 504" in log and " ms" in log
    assert "ValueError: the input has no 'age' column" in log  # the traceback
    assert "GET /live 200" in (tmp_path / "host.log").read_text()  # stdout too


@pytest.mark.slow
def test_schema_decorated_run_gets_parsed_validated_input(tmp_path, model_dir):
    with serving(tmp_path, SCHEMA_SCRIPT, model_dir) as service:
        predicted = service.score({"data": [[1.0, 2.0], [0.0, 0.0]]})
        assert predicted.status_code == 200, predicted.text
        assert predicted.json() == pytest.approx([8.0, 0.0])

        wrong_shape = service.score({"data": [[1.0, 2.0, 3.0]]})
        assert wrong_shape.status_code == 400
        assert wrong_shape.json()["error"]["code"] == "BadRequest"
        assert "dimension" in wrong_shape.json()["error"]["message"]

        malformed = service.score('{"data": [[1.0, 2.0]')
        assert malformed.status_code == 400
        assert "not valid JSON" in malformed.json()["error"]["message"]
        assert service.score("[1, 2]").status_code == 400
        assert "'data'" in service.score({"rows": []}).json()["error"]["message"]
        assert service.score({"data": [[3.0, 0.0]]}).json() == pytest.approx([6.0])

        swagger = httpx.get(f"{service.url}/swagger.json").json()
        service_input = swagger["definitions"]["ServiceInput"]
        assert service_input["properties"]["data"]["type"] == "array"
        assert service_input["example"] == {"data": [[1.0, 2.0]]}
        assert swagger["definitions"]["ServiceOutput"]["example"] == [8.0]
        openapi = httpx.get(f"{service.url}/swagger.json", params={"version": "3"}).json()
        assert "ServiceInput" in openapi["components"]["schemas"]


@pytest.mark.slow
def test_key_auth_takes_either_key_and_follows_regeneration(tmp_path, model_dir):
    keys = tmp_path / "keys.json"
    _write_keys(keys, "primary-1", "secondary-1")
    with serving(tmp_path, PLAIN_SCRIPT, model_dir, auth="key",
                 keys_file=str(keys)) as service:
        body = {"data": [[1, 1]]}
        assert service.score(body).status_code == 401
        assert service.score(body, headers=_bearer("nope")).status_code == 401
        assert service.score(body, headers={"Authorization": "primary-1"}).status_code == 401
        assert service.score(body, headers=_bearer("primary-1")).status_code == 200
        assert service.score(body, headers=_bearer("secondary-1")).status_code == 200
        # Open endpoints need no key.
        assert httpx.get(f"{service.url}/swagger.json").status_code == 200

        _write_keys(keys, "primary-2", "secondary-1")
        assert service.score(body, headers=_bearer("primary-1")).status_code == 401
        assert service.score(body, headers=_bearer("primary-2")).status_code == 200


@pytest.mark.slow
def test_token_auth_takes_issued_tokens_until_they_expire(tmp_path, model_dir):
    secret = os.urandom(32)
    secret_file = tmp_path / "token.secret"
    secret_file.write_bytes(secret)
    with serving(tmp_path, PLAIN_SCRIPT, model_dir, auth="token",
                 token_secret_file=str(secret_file)) as service:
        body = {"data": [[1, 1]]}
        token, _, _ = issue_token(secret, "svc")
        assert service.score(body, headers=_bearer(token)).status_code == 200
        expired, _, _ = issue_token(secret, "svc", seconds=60, now=time.time() - 3600)
        answer = service.score(body, headers=_bearer(expired))
        assert answer.status_code == 401 and "expired" in answer.json()["error"]["message"]
        other, _, _ = issue_token(secret, "another-service")
        assert service.score(body, headers=_bearer(other)).status_code == 401
        assert service.score(body).status_code == 401


@pytest.mark.slow
def test_each_worker_runs_init_once(tmp_path, model_dir):
    with serving(tmp_path, PLAIN_SCRIPT, model_dir, workers=2) as service:
        for _ in range(6):
            assert service.score({"data": [[1, 1]]}).status_code == 200
        deadline = time.monotonic() + 30
        pids_file = tmp_path / "source" / "pids.txt"
        while len(pids_file.read_text().split()) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        pids = pids_file.read_text().split()
        assert len(pids) == 2 and len(set(pids)) == 2
        assert str(service.process.pid) not in pids
    assert service.process.returncode == 0


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_failing_init_ends_the_process_with_the_traceback_in_its_log(tmp_path, model_dir,
                                                                      workers):
    spec_file, host_log = _write_service(tmp_path, FAILING_SCRIPT, model_dir)
    port = free_port()
    process = _start(spec_file, host_log, port, workers)
    try:
        with pytest.raises(WebserviceException, match="exited with code 3") as failure:
            wait_ready(f"http://127.0.0.1:{port}", 60, process, log_path=host_log)
        assert "RuntimeError: cannot load the weights" in str(failure.value)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    assert process.returncode == 3
    log = (tmp_path / "service.log").read_text()
    assert "Traceback (most recent call last)" in log
    assert 'raise RuntimeError("cannot load the weights: no such file")' in log


@pytest.mark.slow
def test_wait_ready_gives_up_on_a_service_that_never_gets_ready(tmp_path):
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    log = tmp_path / "host.log"
    log.write_text("still loading the model\n")
    try:
        with pytest.raises(WebserviceException, match="not ready within 1 s") as failure:
            wait_ready(f"http://127.0.0.1:{free_port()}", 1, process, log_path=log)
        assert "still loading the model" in str(failure.value)
    finally:
        process.kill()
        process.wait()
