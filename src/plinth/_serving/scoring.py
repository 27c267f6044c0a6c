"""The real-time scoring service: an ASGI app that runs a user's entry script.

The entry script is azureml's: ``init()`` once, then ``run(...)`` per request. ``create_app``
loads the script and calls ``init()`` at startup, before the server accepts connections
(with several worker processes on one socket, a worker still loading its model takes no
requests), then serves ``POST /score``:

- ``run`` without ``inference_schema`` decorators gets the request body as a ``str``;
- a decorated ``run`` gets the body's JSON object spread as keyword arguments, as azureml's
  inference server does (``{"data": [[1, 2]]}`` calls ``run(data=[[1, 2]])``), and the
  decorators convert and validate each argument.

Each ``run`` call happens in its own thread with a time limit; a run that goes over it is
answered 504 and left to finish in the background, so the service keeps answering.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import hmac
import importlib.util
import inspect
import json
import logging
import os
import re
import sys
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from plinth.exceptions import UserErrorException

__all__ = ["AUTH_MODES", "ServiceSpec", "create_app", "issue_token", "verify_token"]

AUTH_MODES = ("none", "key", "token")
OPEN_PATHS = frozenset({"/", "/live", "/ready", "/swagger.json"})
TOKEN_ISSUER = "plinth-serving"
_LOG_FORMAT = "%(asctime)s %(levelname)s [%(process)d] %(message)s"


# -- the service's description -------------------------------------------------------------


@dataclass
class ServiceSpec:
    """What a scoring process serves; written to a JSON file by whoever starts it.

    ``entry_script`` is relative to ``source_directory`` unless absolute. ``model_dir`` is
    exported as ``AZUREML_MODEL_DIR`` (and ``PLINTH_MODEL_DIR``), where
    ``Model.get_model_path(name)`` looks for ``<model_dir>/<name>``. ``keys_file`` holds
    ``{"primaryKey": ..., "secondaryKey": ...}`` and ``token_secret_file`` the raw bytes that
    sign tokens; both are re-read when they change (replace them atomically), so new keys
    apply without a restart."""

    name: str
    entry_script: str
    source_directory: str | None = None
    model_dir: str | None = None
    auth: str = "none"
    keys_file: str | None = None
    token_secret_file: str | None = None
    max_request_bytes: int = 10 * 1024 * 1024
    request_timeout_seconds: float = 60.0
    log_path: str | None = None

    def __post_init__(self) -> None:
        if self.auth not in AUTH_MODES:
            raise UserErrorException(
                f"auth={self.auth!r} is not one of {', '.join(AUTH_MODES)}."
            )
        if self.auth == "key" and not self.keys_file:
            raise UserErrorException("auth='key' needs keys_file: a JSON file with "
                                     '{"primaryKey": ..., "secondaryKey": ...}.')
        if self.auth == "token" and not self.token_secret_file:
            raise UserErrorException("auth='token' needs token_secret_file: a file holding "
                                     "the secret that signs the service's tokens.")
        if self.max_request_bytes <= 0 or self.request_timeout_seconds <= 0:
            raise UserErrorException("max_request_bytes and request_timeout_seconds must be "
                                     "positive.")

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> "ServiceSpec":
        data = json.loads(text)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise UserErrorException(
                f"Unknown service spec fields {sorted(unknown)}; known ones: {sorted(known)}."
            )
        return cls(**data)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "ServiceSpec":
        return cls.from_json(Path(path).read_text(encoding="utf-8"))

    def script_path(self) -> Path:
        script = Path(self.entry_script)
        if script.is_absolute() or not self.source_directory:
            return script
        return Path(self.source_directory) / script


# -- the entry script ----------------------------------------------------------------------


class ScriptError(Exception):
    """The entry script cannot be served as it is."""


class BadRequest(Exception):
    """The request cannot be passed to run(); answered 400 with this message."""


class _Script:
    """A loaded entry script: its ``init``/``run`` and how ``run`` takes a request."""

    def __init__(self, module: Any, path: Path):
        for name in ("init", "run"):
            if not callable(getattr(module, name, None)):
                raise ScriptError(f"The entry script {path} defines no {name}() function; a "
                                  "scoring script needs init() and run(raw_data).")
        self.path = path
        self.init: Callable[[], Any] = module.init
        self.run: Callable[..., Any] = module.run
        params = list(inspect.signature(self.run).parameters.values())
        if any(p.kind not in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) for p in params):
            raise ScriptError(f"run() in {path} cannot take positional-only arguments, *args "
                              "or **kwargs; name its parameters.")
        self.wants_headers = any(p.name == "request_headers" for p in params)
        self.params = [p for p in params if p.name != "request_headers"]
        if not self.params:
            raise ScriptError(f"run() in {path} needs a parameter for the input data.")
        self.schema_decorated = _is_schema_decorated(self.run)

    def arguments(self, body: str, headers: dict[str, str]) -> dict[str, Any]:
        """The keyword arguments ``run`` gets for a request body."""
        if self.schema_decorated:
            kwargs = self._from_json_object(body)
        else:
            kwargs = {self.params[0].name: body}
        if self.wants_headers:
            kwargs["request_headers"] = headers
        return kwargs

    def _from_json_object(self, body: str) -> dict[str, Any]:
        try:
            data = json.loads(body)
        except json.JSONDecodeError as exc:
            if not body.strip():
                raise BadRequest("The request body is empty; send a JSON object such as "
                                 f'{{"{self.params[0].name}": ...}}.') from None
            raise BadRequest(f"The request body is not valid JSON: {exc}.") from None
        if not isinstance(data, dict):
            raise BadRequest("The request body must be a JSON object whose keys are run()'s "
                             f"parameters ({', '.join(p.name for p in self.params)}).")
        kwargs = {}
        for p in self.params:
            if p.name in data:
                kwargs[p.name] = data[p.name]
            elif p.default is inspect.Parameter.empty:
                raise BadRequest(f"The request body has no value for run()'s {p.name!r} "
                                 "parameter.")
        return kwargs


def _is_schema_decorated(func: Callable[..., Any]) -> bool:
    try:
        from inference_schema.schema_util import is_schema_decorated
    except ImportError:  # a decorated script would have failed to import without it
        return False
    return is_schema_decorated(func)


def _is_schema_error(exc: BaseException) -> bool:
    """Whether ``exc`` came from inference_schema converting an argument (bad input), not
    from the user's run() (which it calls only after converting them all)."""
    tb = exc.__traceback__
    while tb is not None:
        code = tb.tb_frame.f_code
        if code.co_name == "_deserialize_input_argument" and "inference_schema" in (
                code.co_filename):
            return True
        tb = tb.tb_next
    return False


def load_script(spec: ServiceSpec) -> _Script:
    """Import the entry script as a fresh module (with ``source_directory`` on ``sys.path``)."""
    path = spec.script_path().resolve()
    if not path.is_file():
        raise ScriptError(f"The entry script {path} does not exist; check entry_script and "
                          "source_directory.")
    folder = str(Path(spec.source_directory).resolve()) if spec.source_directory else (
        str(path.parent))
    if folder not in sys.path:
        sys.path.insert(0, folder)
    name = re.sub(r"\W", "_", path.stem) + f"_{uuid.uuid4().hex[:8]}"
    module_spec = importlib.util.spec_from_file_location(name, path)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module
    module_spec.loader.exec_module(module)
    return _Script(module, path)


def export_model_dir(spec: ServiceSpec) -> None:
    """Tell the script where the models are: ``PLINTH_MODEL_DIR`` is ``model_dir`` (laid out
    ``<name>/<version>/<registered file or folder>``); ``AZUREML_MODEL_DIR``, unless whoever
    started the process set it, is azureml's: the version folder when one model version is
    deployed, else ``model_dir``."""
    if not spec.model_dir:
        return
    root = Path(spec.model_dir).resolve()
    os.environ["PLINTH_MODEL_DIR"] = str(root)
    if not os.environ.get("AZUREML_MODEL_DIR"):
        os.environ["AZUREML_MODEL_DIR"] = str(_single_version(root) or root)


def _single_version(root: Path) -> Path | None:
    """``root/<name>/<version>`` when that is the only model version under ``root``."""
    names = [p for p in root.iterdir() if p.is_dir()] if root.is_dir() else []
    versions = [v for v in names[0].iterdir() if v.is_dir()] if len(names) == 1 else []
    return versions[0] if len(versions) == 1 else None


# -- results -------------------------------------------------------------------------------


def _json_default(value: Any) -> Any:
    """numpy arrays and scalars, pandas objects, dates, sets: as JSON-ready values."""
    if hasattr(value, "columns") and hasattr(value, "to_dict"):  # a pandas DataFrame
        return value.to_dict(orient="records")
    if hasattr(value, "tolist"):  # numpy arrays and scalars, pandas Series
        return value.tolist()
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    raise TypeError(f"run() returned a {type(value).__name__}, which is not JSON-serializable; "
                    "return lists, dicts, numbers, strings or numpy arrays.")


def result_response(result: Any) -> Response:
    """run()'s return value as a response: a starlette ``Response`` as it is, else JSON."""
    if isinstance(result, Response):
        return result
    body = json.dumps(result, default=_json_default, allow_nan=True)
    return Response(body, media_type="application/json")


def error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


# -- authentication ------------------------------------------------------------------------


class _CachedFile:
    """A file's parsed content, read again when its mtime, size or inode change."""

    def __init__(self, path: str, parse: Callable[[bytes], Any]):
        self.path = path
        self.parse = parse
        self._stamp: tuple[int, int, int] | None = None
        self._value: Any = None

    def get(self) -> Any:
        st = os.stat(self.path)
        stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        if stamp != self._stamp:
            self._value = self.parse(Path(self.path).read_bytes())
            self._stamp = stamp
        return self._value


def _parse_keys(raw: bytes) -> list[bytes]:
    keys = json.loads(raw)
    return [str(keys[k]).encode() for k in ("primaryKey", "secondaryKey") if keys.get(k)]


def issue_token(secret: bytes, service: str, seconds: int = 3600,
                now: float | None = None) -> tuple[str, float, float]:
    """A bearer token for ``service`` signed with ``secret`` (a JWT, HS256); returns the token,
    its expiry and the time after which to get a new one (both epoch seconds)."""
    import jwt

    now = time.time() if now is None else now
    expires = int(now) + int(seconds)
    claims = {"iss": TOKEN_ISSUER, "aud": service, "iat": int(now), "exp": expires}
    token = jwt.encode(claims, secret, algorithm="HS256")
    return token, float(expires), float(int(now) + int(seconds) // 2)


def verify_token(secret: bytes, service: str, token: str) -> str | None:
    """None when ``token`` is valid for ``service``, else why not."""
    import jwt

    try:
        jwt.decode(token, secret, algorithms=["HS256"], audience=service, issuer=TOKEN_ISSUER,
                   leeway=5, options={"require": ["exp", "aud", "iss"]})
    except jwt.ExpiredSignatureError:
        return "The token has expired; get a new one with service.get_token()."
    except jwt.InvalidTokenError:
        return "The token is not valid for this service; get one with service.get_token()."
    return None


class _Auth:
    """Checks ``Authorization: Bearer ...`` against the spec's keys or token secret."""

    def __init__(self, spec: ServiceSpec):
        self.spec = spec
        self.keys = _CachedFile(spec.keys_file, _parse_keys) if spec.keys_file else None
        self.secret = (_CachedFile(spec.token_secret_file, bytes)
                       if spec.token_secret_file else None)

    def check(self, request: Request) -> Response | None:
        """None when the request may pass, else the 401 (or 500) to answer."""
        if self.spec.auth == "none":
            return None
        scheme, _, credential = request.headers.get("authorization", "").partition(" ")
        credential = credential.strip()
        if scheme.lower() != "bearer" or not credential:
            what = "one of its keys" if self.spec.auth == "key" else "a token"
            return error(401, "Unauthorized", "This service needs an 'Authorization: Bearer "
                         f"...' header with {what}.")
        try:
            problem = (self._check_key(credential) if self.spec.auth == "key"
                       else self._check_token(credential))
        except (OSError, ValueError) as exc:
            return error(500, "AuthConfiguration", f"The service cannot read its credentials "
                         f"({exc}); redeploy it or regenerate its keys.")
        return error(401, "Unauthorized", problem) if problem else None

    def _check_key(self, key: str) -> str | None:
        assert self.keys is not None
        given = key.encode()
        if any(hmac.compare_digest(given, k) for k in self.keys.get()):
            return None
        return "The key is not valid for this service; get its keys with service.get_keys()."

    def _check_token(self, token: str) -> str | None:
        assert self.secret is not None
        return verify_token(self.secret.get(), self.spec.name, token)


# -- swagger -------------------------------------------------------------------------------


def swagger(spec: ServiceSpec, script: _Script | None, version: str = "2.0") -> dict[str, Any]:
    """The service's Swagger 2.0 (or OpenAPI 3.0, ``version='3.0'``) document."""
    input_schema, output_schema = _schemas(script)
    error_schema = {"type": "object", "properties": {"error": {"type": "object", "properties": {
        "code": {"type": "string"}, "message": {"type": "string"}}}}}
    score = {
        "operationId": "RunMLService",
        "description": "Run the web service's model and get the prediction output",
        "responses": {"200": {"description": "The service processed the input correctly and "
                                             "provided a result prediction, if applicable."},
                      "default": {"description": "The service failed to execute due to an "
                                                 "error."}},
    }
    if spec.auth != "none":
        score["security"] = [{"Bearer": []}]
    info = {"title": spec.name, "version": "1.0",
            "description": f"API specification for the scoring service {spec.name}"}
    bearer = {"type": "apiKey", "name": "Authorization", "in": "header",
              "description": "For example: Bearer abc123"}
    if version.startswith("2"):
        score["parameters"] = [{"name": "serviceInputPayload", "in": "body",
                                "description": "The input payload for executing the real-time "
                                               "machine learning service.",
                                "schema": {"$ref": "#/definitions/ServiceInput"}}]
        score["responses"]["200"]["schema"] = {"$ref": "#/definitions/ServiceOutput"}
        score["responses"]["default"]["schema"] = {"$ref": "#/definitions/ErrorResponse"}
        return {"swagger": "2.0", "info": info, "schemes": ["http", "https"],
                "consumes": ["application/json"], "produces": ["application/json"],
                "securityDefinitions": {"Bearer": bearer},
                "paths": {"/score": {"post": score}, "/": {"get": _health_operation()}},
                "definitions": {"ServiceInput": input_schema, "ServiceOutput": output_schema,
                                "ErrorResponse": error_schema}}
    score["requestBody"] = {"content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/ServiceInput"}}}, "required": True}
    score["responses"]["200"]["content"] = {"application/json": {
        "schema": {"$ref": "#/components/schemas/ServiceOutput"}}}
    score["responses"]["default"]["content"] = {"application/json": {
        "schema": {"$ref": "#/components/schemas/ErrorResponse"}}}
    return {"openapi": "3.0.1", "info": info,
            "paths": {"/score": {"post": score}, "/": {"get": _health_operation()}},
            "components": {"securitySchemes": {"Bearer": bearer},
                           "schemas": {"ServiceInput": input_schema,
                                       "ServiceOutput": output_schema,
                                       "ErrorResponse": error_schema}}}


def _health_operation() -> dict[str, Any]:
    return {"operationId": "ServiceHealthCheck", "description": "Simple health check endpoint "
            "to ensure the service is up at any given point.",
            "responses": {"200": {"description": "The service is up: 'Healthy'."}}}


def _schemas(script: _Script | None) -> tuple[dict[str, Any], dict[str, Any]]:
    generic_in = {"description": "The request body, passed to run() as a string."}
    generic_out = {"description": "What run() returned, as JSON."}
    if script is None or not script.schema_decorated:
        return generic_in, generic_out
    from inference_schema.schema_util import get_input_schema, get_output_schema

    return get_input_schema(script.run), get_output_schema(script.run)


def swagger_versions(script: _Script | None) -> list[str]:
    """The document versions the script's schemas can be written in (2.0 needs every array
    example to hold one type)."""
    if script is None or not script.schema_decorated:
        return ["2.0", "3.0"]
    from inference_schema.schema_util import get_supported_versions

    return [v for v in get_supported_versions(script.run) if v in ("2.0", "3.0", "3.1")]


# -- running -------------------------------------------------------------------------------


#: The threads that run ``run()``: reused, since a new thread per request cost a third of a
#: small request's time. A ``run()`` past its time limit keeps its thread until it returns
#: (Python cannot stop a thread); while every thread is held so, requests wait and time out.
_RUNNERS = concurrent.futures.ThreadPoolExecutor(max_workers=32, thread_name_prefix="score")


async def call_in_thread(func: Callable[[], Any], timeout: float) -> Any:
    """``func()`` in a scoring thread; ``TimeoutError`` after ``timeout`` seconds, leaving
    the call to finish unobserved."""
    loop = asyncio.get_running_loop()
    return await asyncio.wait_for(asyncio.shield(loop.run_in_executor(_RUNNERS, func)),
                                  timeout)


async def read_body(request: Request, limit: int) -> bytes | None:
    """The request body, or None once it is longer than ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


class _State:
    """Where the service is: loading, ready or failed, and the loaded script."""

    def __init__(self) -> None:
        self.script: _Script | None = None
        self.ready = False
        self.failure: str | None = None


def _make_logger(spec: ServiceSpec) -> logging.Logger:
    """A logger of this app's own (not in logging's tree): stdout, and ``log_path`` if set."""
    logger = logging.Logger(f"plinth.serving.{spec.name}", logging.INFO)
    formatter = logging.Formatter(_LOG_FORMAT)
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stdout)]
    if spec.log_path:
        Path(spec.log_path).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(spec.log_path, encoding="utf-8"))
    for handler in handlers:
        handler.setFormatter(formatter)
        logger.addHandler(handler)
    return logger


def _flush(logger: logging.Logger) -> None:
    for handler in logger.handlers:
        handler.flush()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()


def exit_process(code: int = 3) -> Callable[[BaseException], None]:
    """An ``on_init_failure`` that ends the process with ``code`` (the traceback is logged
    already), so whoever started it sees it fail."""
    def stop(exc: BaseException) -> None:
        os._exit(code)

    return stop


def create_app(spec: ServiceSpec,
               on_init_failure: Callable[[BaseException], None] | None = None) -> Starlette:
    """The scoring service's ASGI app. Its startup loads the script and runs ``init()``
    (in a thread); when that fails the traceback is logged and ``on_init_failure(exc)`` is
    called (the host passes ``exit_process()``); without one the app starts anyway, answering
    503 on ``/ready`` and ``/score``."""
    state = _State()
    logger = _make_logger(spec)
    auth = _Auth(spec)

    def initialize() -> None:
        step = "loading the entry script"
        try:
            export_model_dir(spec)
            script = load_script(spec)
            logger.info("Loaded %s; calling init()", script.path)
            step, started = "init()", time.perf_counter()
            script.init()
        except BaseException as exc:  # noqa: BLE001 - reported, then the process decides
            state.failure = f"{step} failed: {type(exc).__name__}: {exc}"
            logger.error("The scoring service %s failed to start:\n%s", spec.name,
                         "".join(traceback.format_exception(exc)).rstrip())
            _flush(logger)
            if on_init_failure is not None:
                on_init_failure(exc)
            return
        state.script = script
        state.ready = True
        mode = ("JSON object -> keyword arguments (inference_schema)"
                if script.schema_decorated else "raw body as str")
        logger.info("init() finished in %.0f ms; run() takes the %s; ready",
                    (time.perf_counter() - started) * 1000, mode)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        await asyncio.to_thread(initialize)
        try:
            yield
        finally:
            for handler in list(logger.handlers):
                handler.close()
                logger.removeHandler(handler)

    def not_ready() -> Response:
        if state.failure:
            return error(503, "InitFailed", f"{state.failure}; see the service's logs.")
        return error(503, "NotReady", "init() has not finished yet; poll GET /ready.")

    async def healthy(request: Request) -> Response:
        return PlainTextResponse("Healthy")

    async def ready(request: Request) -> Response:
        return PlainTextResponse("Ready") if state.ready else not_ready()

    async def swagger_json(request: Request) -> Response:
        if not state.ready:
            return not_ready()
        versions = swagger_versions(state.script)
        wanted = request.query_params.get("version")
        if not wanted:
            wanted = "2.0" if "2.0" in versions else "3.0"
        elif not any(v.startswith(wanted[0]) for v in versions):
            return error(404, "NotFound", f"The input/output schemas cannot be written as "
                         f"version {wanted}; versions: {', '.join(versions)}.")
        return JSONResponse(swagger(spec, state.script, wanted))

    async def score(request: Request) -> Response:
        denied = auth.check(request)
        if denied is not None:
            return denied
        if not state.ready:
            return not_ready()
        raw = await read_body(request, spec.max_request_bytes)
        if raw is None:
            return error(413, "PayloadTooLarge", f"The request body is over the service's "
                         f"limit of {spec.max_request_bytes} bytes; send smaller batches.")
        return await _score(raw, request)

    async def _score(raw: bytes, request: Request) -> Response:
        script = state.script
        assert script is not None
        try:
            kwargs = script.arguments(raw.decode("utf-8"), dict(request.headers))
        except UnicodeDecodeError as exc:
            return error(400, "BadRequest", f"The request body is not UTF-8 text: {exc}.")
        except BadRequest as exc:
            return error(400, "BadRequest", str(exc))
        try:
            return await call_in_thread(lambda: result_response(script.run(**kwargs)),
                                        spec.request_timeout_seconds)
        except TimeoutError:
            logger.error("run() took over %s s; answered 504, it goes on in the background",
                         spec.request_timeout_seconds)
            return error(504, "Timeout", f"run() did not finish within "
                         f"{spec.request_timeout_seconds} s; make it faster or raise "
                         "request_timeout_seconds.")
        except Exception as exc:  # noqa: BLE001 - a script error never ends the service
            if _is_schema_error(exc):
                return error(400, "BadRequest", f"The input does not match run()'s schema: "
                             f"{exc}")
            logger.error("run() raised:\n%s", "".join(traceback.format_exception(exc)).rstrip())
            return error(500, "ScriptError", str(exc) or type(exc).__name__)

    routes = [
        Route("/", healthy, methods=["GET"]),
        Route("/live", healthy, methods=["GET"]),
        Route("/ready", ready, methods=["GET"]),
        Route("/swagger.json", swagger_json, methods=["GET"]),
        Route("/score", score, methods=["POST"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.add_middleware(_AccessLog, logger=logger)
    app.state.scoring = state
    return app


class _AccessLog:
    """One log line per request: method, path, status, latency."""

    def __init__(self, app: Any, logger: logging.Logger):
        self.app = app
        self.logger = logger

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            self.logger.info("%s %s %d %.1f ms", scope["method"], scope["path"], status,
                             (time.perf_counter() - started) * 1000)
