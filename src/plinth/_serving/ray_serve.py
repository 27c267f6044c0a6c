"""AKS services on Ray Serve: each service is one Serve application on Plinth's Ray cluster.

- **The cluster**: ``$PLINTH_RAY_ADDRESS`` when set (a team's cluster), else this machine's
  local one (``ensure_local_cluster``), which a service keeps up for as long as it exists.
- **One HTTP proxy per cluster** (Serve's, on the head node) serves every AKS service, each
  under its own route prefix ``/<service name>``: the scoring URI is
  ``http://127.0.0.1:<port>/<name>/score`` (``/<name>/swagger.json``, ``/<name>/ready``...).
  The first deployment starts Serve on ``$PLINTH_SERVE_PORT``, else on 8000 when that is
  free, else on a free port; the local cluster's port is kept in ``$PLINTH_HOME/ray/serve.json``
  so that every service of the cluster gets the same one.
- **The application** is named after the service. Its one deployment (``score-<workspace
  id>``, so that a service of another workspace is never replaced or deleted by mistake)
  wraps the scoring app of ``plinth._serving.scoring.create_app``: each replica builds the
  app from the service's ``service.json`` (paths in the service's folder: replicas run on
  this machine) and its ASGI startup loads the entry script and runs ``init()`` once; a
  failing ``init()`` fails the replica, and after Serve's retries the application
  (DEPLOY_FAILED). Replicas get the deploying process's environment variables (and the
  inference environment's), and run in the cluster's Python, or in the inference
  environment's when it was built for the same Python version (``py_executable``).
- **Replicas**: ``num_replicas``, or with ``autoscale_enabled`` Serve's autoscaler between
  ``autoscale_min_replicas`` and ``autoscale_max_replicas``. Each replica reserves
  ``cpu_cores`` CPUs and ``memory_gb`` of Ray's memory and takes at most
  ``max_concurrent_requests_per_container`` requests at once (azureml's default, 1; Serve's
  ``max_ongoing_requests``); more wait in Serve's queue. azureml scales to keep each
  container's utilization, its requests in progress over that maximum, near
  ``autoscale_target_utilization`` percent; Serve scales to keep the requests in progress
  or queued per replica near ``target_ongoing_requests``. So ``target_ongoing_requests =
  max_concurrent_requests_per_container * autoscale_target_utilization / 100`` (0.7 by
  default: a second request for a busy replica asks for another one), and
  ``autoscale_refresh_seconds`` is how long load must stay high before Serve adds replicas
  (``upscale_delay_s``). Scaling down keeps Serve's defaults (after 600 s below target).
- **Deploying** happens in a detached helper, ``python -m plinth._serving.ray_serve run
  <service folder>``, that registers itself as a job of the local cluster, starts Serve if
  need be, deploys and waits for Serve to report the application RUNNING or DEPLOY_FAILED,
  and writes the outcome to ``serve-state.json``. It then becomes (``exec``) a small keeper
  process that holds the local cluster up while the service exists; it exits when told to
  (``stop``) or when the cluster stops. Serve's replica logs (with the service's log lines
  and what the script prints) go to the service's ``replicas/`` folder.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import signal
import socket
import sys
import time
import traceback
import warnings
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from plinth._compute.local import free_port
from plinth.exceptions import UserErrorException, WebserviceException

__all__ = ["ENV_RAY_ADDRESS", "ENV_SERVE_PORT", "deploy", "deployment_options", "logs",
           "replicas", "status", "undeploy"]

ENV_RAY_ADDRESS = "PLINTH_RAY_ADDRESS"
ENV_SERVE_PORT = "PLINTH_SERVE_PORT"
DEFAULT_PORT = 8000
#: How long the local cluster stays up after its last service (or run) is gone.
IDLE_SECONDS = 1800.0

_REQUEST = "serve-request.json"
_STATE = "serve-state.json"
_HELPER_LOG = "host.log"
_REPLICA_LOGS = "replicas"
_MODULE = "plinth._serving.ray_serve"
# Not handed to replicas: Ray's own settings, and what belongs to the deploying shell.
_NOT_PASSED = frozenset({"CUDA_VISIBLE_DEVICES", "PWD", "OLDPWD", "SHLVL", "_"})
_STATES = {"RUNNING": "Healthy", "DEPLOYING": "Transitioning", "NOT_STARTED": "Transitioning",
           "DELETING": "Transitioning", "UNHEALTHY": "Unhealthy", "DEPLOY_FAILED": "Failed"}


# -- the cluster and its proxy -----------------------------------------------------------------


def _local_folder() -> Path:
    from plinth._compute.ray import _dir

    return _dir()


def cluster_address(idle_seconds: float = IDLE_SECONDS) -> tuple[str, bool]:
    """The cluster AKS services run on, and whether it is this machine's own (started here
    when it is not up)."""
    configured = os.environ.get(ENV_RAY_ADDRESS)
    if configured:
        return configured, False
    from plinth._compute import ensure_local_cluster

    return ensure_local_cluster(idle_seconds), True


def _running_address(serve_info: Mapping[str, Any]) -> str | None:
    """The address of the cluster a service was deployed to, if it is still up (None when
    the local cluster stopped: its applications went with it)."""
    if not serve_info.get("local"):
        return serve_info.get("address")
    from plinth._compute.ray import _read_state

    state = _read_state(_local_folder())
    return state["address"] if state else None


@contextlib.contextmanager
def _locked(name: str, mode: int = fcntl.LOCK_EX) -> Iterator[bool]:
    """Hold ``$PLINTH_HOME/ray/<name>``; yields False when ``mode`` has ``LOCK_NB`` and
    another process holds it."""
    folder = _local_folder()
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / name, "a") as lock:
        try:
            fcntl.flock(lock, mode)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _deploying(local: bool) -> contextlib.AbstractContextManager[Any]:
    """Held (shared) while a helper starts Serve and deploys, so that the last service's
    deletion does not shut Serve down under it."""
    return _locked("serve.lock", fcntl.LOCK_SH) if local else contextlib.nullcontext()


def http_port(address: str, local: bool) -> int:
    """The port of the cluster's Serve proxy: ``$PLINTH_SERVE_PORT``, else (local cluster)
    the one chosen by its first deployment, else 8000, or a free port when 8000 is taken."""
    configured = os.environ.get(ENV_SERVE_PORT)
    if configured:
        if not configured.isdigit() or not 0 < int(configured) < 65536:
            raise UserErrorException(f"{ENV_SERVE_PORT}={configured!r} is not a port number.")
        return int(configured)
    if not local:
        return DEFAULT_PORT
    path = _local_folder() / "serve.json"
    with _locked("serve-port.lock"):
        with contextlib.suppress(OSError, ValueError, KeyError):
            known = json.loads(path.read_text())
            if known["address"] == address:
                return int(known["port"])
        port = DEFAULT_PORT if _port_free(DEFAULT_PORT) else free_port()
        _write_json(path, {"address": address, "port": port})
        return port


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _uri_host(address: str, local: bool) -> str:
    if local:
        return "127.0.0.1"
    host = address.removeprefix("ray://").rpartition(":")[0].strip("[]")
    return host or "127.0.0.1"  # "auto" and the like: this machine


def base_url(name: str, address: str, local: bool, port: int) -> str:
    return f"http://{_uri_host(address, local)}:{port}/{name}"


def _connect(address: str) -> Any:
    """Ray Serve, connected to the cluster at ``address``."""
    from plinth._compute.ray import _connect as connect_ray

    connect_ray(address)
    with warnings.catch_warnings():  # Serve's pydantic models warn on import
        warnings.simplefilter("ignore", DeprecationWarning)
        from ray import serve

    return serve


def _start_serve(serve: Any, port: int, local: bool) -> int:
    """Start Serve's proxy on ``port`` unless Serve already runs; returns the port it
    listens on."""
    host = "127.0.0.1" if local else "0.0.0.0"
    serve.start(proxy_location="HeadOnly", http_options={"host": host, "port": port})
    try:  # Serve already running keeps its own options: ask it.
        from ray.serve.context import _get_global_client

        return int(_get_global_client().http_config.port)
    except Exception:  # noqa: BLE001 - an internal API; the port asked for is the likely one
        return port


# -- the application ---------------------------------------------------------------------------


def deployment_name(owner: str | None) -> str:
    return "score-" + re.sub(r"[^A-Za-z0-9_-]", "-", owner) if owner else "score"


def deployment_options(config: Mapping[str, Any]) -> dict[str, Any]:
    """Serve deployment options for an AKS deployment configuration (see the module's
    docstring for the mapping)."""
    concurrency = _positive_int(config, "max_concurrent_requests_per_container", 1)
    actor: dict[str, Any] = {"num_cpus": float(config.get("cpu_cores") or 0.1)}
    if config.get("memory_gb"):
        actor["memory"] = int(float(config["memory_gb"]) * 2**30)
    options: dict[str, Any] = {"ray_actor_options": actor, "max_ongoing_requests": concurrency}
    if not config.get("autoscale_enabled"):
        options["num_replicas"] = _positive_int(config, "num_replicas", 1)
        return options
    low = _positive_int(config, "autoscale_min_replicas", 1)
    high = _positive_int(config, "autoscale_max_replicas", 10)
    if low > high:
        raise UserErrorException(f"autoscale_min_replicas ({low}) is more than "
                                 f"autoscale_max_replicas ({high}).")
    utilization = float(config.get("autoscale_target_utilization") or 70)
    if not 0 < utilization <= 100:
        raise UserErrorException("autoscale_target_utilization must be a percentage "
                                 f"between 1 and 100, got {utilization:g}.")
    refresh = float(config.get("autoscale_refresh_seconds") or 1)
    options["autoscaling_config"] = {
        "min_replicas": low, "max_replicas": high, "initial_replicas": low,
        "target_ongoing_requests": concurrency * utilization / 100,
        "upscale_delay_s": refresh}
    return options


def _positive_int(config: Mapping[str, Any], key: str, default: int) -> int:
    value = config.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UserErrorException(f"{key} must be a whole number of 1 or more, got {value!r}.")
    return value


def _replica_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment variables replicas get: this process's, less Ray's own."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("RAY_") and k not in _NOT_PASSED}
    env.update(extra or {})
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _app_builder(spec_path: str, logs_dir: str | None) -> Callable[[], Any]:
    """The function each replica calls to build its ASGI app (Serve's ingress builder)."""
    def build() -> Any:
        from plinth._serving.ray_serve import build_app

        return build_app(spec_path, logs_dir)

    return build


def build_app(spec_path: str, logs_dir: str | None = None) -> Any:
    """A replica's scoring app, run from the service's source folder; a failing init() fails
    the replica's startup (Serve then retries it, and fails the application). With
    ``logs_dir``, what the replica prints (the script's output, the service's log lines)
    goes to ``<logs_dir>/replica-<pid>.out``."""
    from plinth._serving.scoring import ServiceSpec, create_app

    spec = ServiceSpec.load(spec_path)
    if logs_dir:
        Path(logs_dir).mkdir(parents=True, exist_ok=True)
        out = open(Path(logs_dir) / f"replica-{os.getpid()}.out", "a",
                   buffering=1, encoding="utf-8", errors="replace")
        sys.stdout = sys.stderr = out
    if spec.source_directory:
        os.chdir(spec.source_directory)
    return create_app(spec, on_init_failure=_fail_startup)


class InitFailed(RuntimeError):
    """The entry script could not be loaded or its init() raised (the traceback is in the
    service's log)."""


def _fail_startup(exc: BaseException) -> None:
    raise InitFailed(f"{type(exc).__name__}: {exc}") from exc


class _Replica:
    """The deployment's class: Serve's ASGI ingress wrapper builds the app on each replica."""


def deploy(spec_path: str | os.PathLike, name: str, config: Mapping[str, Any], *,
           owner: str | None = None, address: str | None = None, local: bool | None = None,
           port: int | None = None, python: str | None = None,
           env: Mapping[str, str] | None = None, logs_dir: str | os.PathLike | None = None,
           ) -> tuple[str, str]:
    """Deploy the service described by ``spec_path`` (a ``ServiceSpec`` file) as the Serve
    application ``name`` at route ``/<name>``, and wait until Serve reports it RUNNING;
    returns its scoring and swagger URIs. Raises ``WebserviceException`` with Serve's
    message when the deployment fails."""
    if address is None:
        address, local = cluster_address()
    local = bool(local)
    options = deployment_options(config)
    serve = _connect(address)
    from plinth._compute.ray import _check_feasible

    actor = options["ray_actor_options"]
    import ray

    _check_feasible(ray, address, actor["num_cpus"], actor.get("memory"))
    port = port or http_port(address, local)
    with _deploying(local):
        return _deploy(serve, spec_path, name, options, owner=owner, address=address,
                       local=local, port=port, python=python, env=env, logs_dir=logs_dir)


def _deploy(serve: Any, spec_path: str | os.PathLike, name: str, options: dict[str, Any], *,
            owner: str | None, address: str, local: bool, port: int, python: str | None,
            env: Mapping[str, str] | None, logs_dir: str | os.PathLike | None
            ) -> tuple[str, str]:
    port = _start_serve(serve, port, local)
    _check_owner(serve, name, owner)
    actor = options["ray_actor_options"]
    runtime_env: dict[str, Any] = {"env_vars": _replica_env(env)}
    if python and Path(python).resolve() != Path(sys.executable).resolve():
        _check_python(python)
        runtime_env["py_executable"] = python
    actor["runtime_env"] = runtime_env
    logging_config = {"logs_dir": str(logs_dir)} if logs_dir else None
    builder = _app_builder(str(spec_path), str(logs_dir) if logs_dir else None)
    replica = serve.deployment(serve.ingress(builder)(_Replica), name=deployment_name(owner))
    app = replica.options(**options, logging_config=logging_config).bind()
    try:
        serve.run(app, name=name, route_prefix=f"/{name}")
    except RuntimeError as exc:
        raise WebserviceException(str(exc)) from exc
    base = base_url(name, address, local, port)
    return f"{base}/score", f"{base}/swagger.json"


def _check_owner(serve: Any, name: str, owner: str | None) -> None:
    app = _applications(serve).get(name)
    if app is None or owner is None or not app.deployments:
        return
    if deployment_name(owner) not in app.deployments:
        raise WebserviceException(
            f"The Ray cluster already serves an application named {name!r} that another "
            "workspace deployed; AKS service names are shared by every workspace using the "
            "cluster. Choose another name.")


def _check_python(python: str) -> None:
    """The environment's Python must run Ray's worker: the same Python version, with Ray."""
    import subprocess

    import ray

    probe = subprocess.run(
        [python, "-c", "import sys, ray; print('%d.%d' % sys.version_info[:2], ray.__version__)"],
        capture_output=True, text=True, timeout=120)
    mine = f"{sys.version_info[0]}.{sys.version_info[1]} {ray.__version__}"
    if probe.returncode != 0 or probe.stdout.strip() != mine:
        raise WebserviceException(
            f"The inference environment's Python ({python}) cannot run Ray Serve replicas: "
            f"they need Python and Ray as the cluster's ({mine.replace(' ', ', Ray ')}); it "
            f"has {probe.stdout.strip() or probe.stderr.strip()[-300:]}. Use an environment "
            "built for the same Python version, or one the cluster's Python satisfies.")


def _applications(serve: Any) -> dict[str, Any]:
    from ray.serve.exceptions import RayServeException

    try:
        return dict(serve.status().applications)
    except RayServeException:  # Serve is not running on the cluster
        return {}


def undeploy(name: str, owner: str | None = None, address: str | None = None,
             local: bool | None = None) -> bool:
    """Delete the Serve application ``name`` (only if ``owner``'s, when given), waiting
    until it is gone; returns whether there was one. A local cluster that is not running is
    not started for this; on one, Serve itself is shut down with its last application (a
    cluster running Serve takes 30 s to stop)."""
    if address is None:
        address, local = _current()
    if address is None:
        return False
    serve = _connect(address)
    app = _applications(serve).get(name)
    if app is None:
        return False
    if owner is not None and app.deployments and deployment_name(owner) not in app.deployments:
        return False
    serve.delete(name)
    if local:
        with _locked("serve.lock", fcntl.LOCK_EX | fcntl.LOCK_NB) as nobody_deploying:
            if nobody_deploying and not _applications(serve):
                serve.shutdown()
    return True


def _current() -> tuple[str | None, bool]:
    """The running cluster AKS services use now (None when the local one is not up)."""
    local = ENV_RAY_ADDRESS not in os.environ
    return _running_address({"local": local, "address": os.environ.get(ENV_RAY_ADDRESS)}), local


def _application(name: str, address: str | None) -> Any:
    if address is None:
        address = _current()[0]
    if address is None:
        return None
    return _applications(_connect(address)).get(name)


def status(name: str, address: str | None = None) -> str:
    """The service's azureml state from Serve's application status: Healthy (RUNNING),
    Transitioning (deploying, deleting), Unhealthy, or Failed (DEPLOY_FAILED, or no such
    application: the cluster stopped or it was deleted)."""
    app = _application(name, address)
    if app is None:
        return "Failed"
    return _STATES.get(str(getattr(app.status, "value", app.status)), "Unhealthy")


def replicas(name: str, address: str | None = None) -> dict[str, int]:
    """How many replicas of the application are in each state (RUNNING, STARTING...)."""
    app = _application(name, address)
    counts: dict[str, int] = {}
    for deployment in (app.deployments.values() if app is not None else ()):
        for state, count in deployment.replica_states.items():
            key = str(getattr(state, "value", state))
            counts[key] = counts.get(key, 0) + int(count)
    return counts


def logs(folder: str | os.PathLike) -> str:
    """The service's replica logs, each file under a header: Serve's (``replica_*.log``:
    replicas starting and stopping, requests) and the replicas' output (``replica-<pid>.out``:
    the service's log lines, init()'s traceback, what the script printed)."""
    root = Path(folder) / _REPLICA_LOGS
    parts = []
    for path in sorted(root.iterdir()) if root.is_dir() else ():
        parts.append(f"== {path.name} ==\n" + path.read_text(errors="replace"))
    return "\n".join(parts)


# -- a service's helper process ----------------------------------------------------------------


def launch(folder: Path, *, name: str, owner: str, config: Mapping[str, Any],
           python: str | None, env: Mapping[str, str]) -> tuple[int, str, str, dict[str, Any]]:
    """Start the detached helper that deploys the service in ``folder`` (with its
    ``service.json``); returns its pid, the scoring and swagger URIs, and where it is served
    (``address``, ``local``, ``port``: keep it to stop the service)."""
    from plinth._compute import start_detached

    deployment_options(config)  # a bad configuration fails here, not in the helper
    address, local = cluster_address()
    port = http_port(address, local)
    served = {"address": address, "local": local, "port": port}
    (folder / _STATE).unlink(missing_ok=True)
    _write_json(folder / _REQUEST, {
        "name": name, "owner": owner, "config": dict(config), "python": python,
        "spec": str(folder / "service.json"), **served})
    pid = start_detached([sys.executable, "-m", _MODULE, "run", str(folder)], env=dict(env),
                         log_path=folder / _HELPER_LOG, cwd=folder)
    base = base_url(name, address, local, port)
    return pid, f"{base}/score", f"{base}/swagger.json", served


def read_state(folder: Path) -> dict[str, Any] | None:
    """What the helper wrote: ``{"state": "Deployed", "scoring_uri", "swagger_uri"}`` or
    ``{"state": "Failed", "error"}``; None while it deploys."""
    try:
        return json.loads((folder / _STATE).read_text())
    except (OSError, ValueError):
        return None


def stop(name: str, owner: str, served: Mapping[str, Any], pid: int | None) -> None:
    """Stop the service's helper (or keeper) and delete its application."""
    _stop_helper(pid)
    address = _running_address(served)
    if address is not None:
        undeploy(name, owner, address, bool(served.get("local")))


def _stop_helper(pid: int | None, grace: float = 10.0) -> None:
    import psutil

    if pid is None:
        return
    try:
        helper = psutil.Process(pid)
        if _MODULE not in " ".join(helper.cmdline()):
            return  # not ours: the pid was reused
        helper.terminate()
        helper.wait(grace)
    except psutil.TimeoutExpired:
        with contextlib.suppress(psutil.Error):
            helper.kill()
    except psutil.Error:
        pass


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)


def _job_file(name: str) -> Path:
    return _local_folder() / "jobs" / f"{os.getpid()}-aks-{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}"


def _run(folder: Path) -> int:
    """The helper: deploy, record the outcome, then keep the local cluster up."""
    request = json.loads((folder / _REQUEST).read_text())
    if request["local"]:
        job = _job_file(request["name"])
        job.parent.mkdir(parents=True, exist_ok=True)
        job.write_text(str(IDLE_SECONDS))
    print(f"Deploying {request['name']!r} on Ray Serve (cluster {request['address']})",
          flush=True)
    try:
        scoring_uri, swagger_uri = deploy(
            request["spec"], request["name"], request["config"], owner=request["owner"],
            address=request["address"], local=request["local"], port=request["port"],
            python=request.get("python"), logs_dir=folder / _REPLICA_LOGS)
    except BaseException as exc:  # noqa: BLE001 - recorded for wait_ready, then exits
        if isinstance(exc, (UserErrorException, WebserviceException)):
            print(f"The deployment failed: {exc}", flush=True)
        else:
            traceback.print_exc()
        _write_json(folder / _STATE, {"state": "Failed", "error": f"{exc}"})
        _forget_job(request)
        return 1
    _write_json(folder / _STATE, {"state": "Deployed", "scoring_uri": scoring_uri,
                                  "swagger_uri": swagger_uri})
    print(f"Serving at {scoring_uri}", flush=True)
    if not request["local"]:
        return 0
    import ray

    ray.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    # A small process (not one holding Ray's client) keeps the job, under the same pid.
    os.execv(sys.executable, [sys.executable, "-m", _MODULE, "keep", str(folder)])
    return 0  # not reached


def _forget_job(request: Mapping[str, Any]) -> None:
    if request["local"]:
        from plinth._compute.ray import _touch

        _job_file(request["name"]).unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            _touch(_local_folder(), IDLE_SECONDS)


def _keep(folder: Path) -> int:
    """The keeper: hold the local cluster up until told to stop or the cluster is gone."""
    from plinth._compute.ray import _read_state

    request = json.loads((folder / _REQUEST).read_text())
    stopping = False

    def stop(*_: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    missed = 0
    try:
        while not stopping:
            state = _read_state(_local_folder())
            missed = 0 if state and state["address"] == request["address"] else missed + 1
            if missed >= 3:
                print("The Ray cluster stopped; the service went with it.", flush=True)
                return 1
            time.sleep(1.0)
        return 0
    finally:
        _forget_job(request)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or args[0] not in ("run", "keep"):
        print(f"usage: python -m {_MODULE} run|keep SERVICE_FOLDER", file=sys.stderr)
        return 2
    folder = Path(args[1])
    return _run(folder) if args[0] == "run" else _keep(folder)


if __name__ == "__main__":
    sys.exit(main())
