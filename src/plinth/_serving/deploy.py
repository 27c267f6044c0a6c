"""Deploying a service: lay out its files, start its host process, watch it become ready.

A service's folder is ``$PLINTH_HOME/services/<workspace id>/<name>/``: ``source/`` (the
entry script's snapshot), ``models/<name>/<version>/`` (the deployed models' files, which
``Model.get_model_path`` finds through ``PLINTH_MODEL_DIR``), ``keys.json`` and
``token.secret`` (read by the host on each request, so new keys apply at once),
``service.json`` (its ``ServiceSpec``) and ``service.log``. The host
(``plinth._serving.host``) runs in the inference environment's Python, detached, so the
service outlives the process that deployed it. AKS services run on Ray Serve instead
(``plinth._serving.ray_serve``): their record's ``pid`` is the helper that deploys them and
then keeps the local Ray cluster up, and ``config["ray_serve"]`` says where they are served.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from plinth._compute import alive, free_port, start_detached
from plinth._execution.snapshot import restore_snapshot
from plinth._location import WorkspaceLocation, plinth_home
from plinth._store import ServiceRecord

__all__ = ["KEY_NAMES", "delete_keys", "folder_of", "keys_of", "log_tail", "logs",
           "regenerate_key", "start", "stop", "token_secret", "wait_ready"]

KEY_NAMES = ("primaryKey", "secondaryKey")
_LOG = "service.log"


def folder_of(record: ServiceRecord) -> Path:
    return plinth_home() / "services" / record.workspace_id / record.name


def _secret_name(service: str, key: str) -> str:
    return f"webservice-{service}-{key.lower()}"


def keys_of(location: WorkspaceLocation, record: ServiceRecord) -> dict[str, str]:
    """The service's two keys from the workspace key vault, made on first use."""
    store = location.store()
    names = {key: _secret_name(record.name, key) for key in KEY_NAMES}
    found = store.get_secrets(record.workspace_id, list(names.values()))
    missing = {names[k]: secrets.token_urlsafe(32) for k in KEY_NAMES if names[k] not in found}
    if missing:
        store.set_secrets(record.workspace_id, missing)
        found.update(missing)
    return {key: found[names[key]] for key in KEY_NAMES}


def regenerate_key(location: WorkspaceLocation, record: ServiceRecord, key: str) -> None:
    name = _secret_name(record.name, key)
    location.store().set_secrets(record.workspace_id, {name: secrets.token_urlsafe(32)})
    _write_keys(location, record)


def delete_keys(location: WorkspaceLocation, record: ServiceRecord) -> None:
    store = location.store()
    existing = {s.name for s in store.list_secrets(record.workspace_id)}
    names = [n for n in (_secret_name(record.name, k) for k in KEY_NAMES) if n in existing]
    names += [n for n in [_secret_name(record.name, "token")] if n in existing]
    if names:
        store.delete_secrets(record.workspace_id, names)


def token_secret(location: WorkspaceLocation, record: ServiceRecord) -> bytes:
    store = location.store()
    name = _secret_name(record.name, "token")
    found = store.get_secrets(record.workspace_id, [name])
    if name not in found:
        found[name] = secrets.token_hex(32)
        store.set_secrets(record.workspace_id, found)
    return found[name].encode()


def _write_keys(location: WorkspaceLocation, record: ServiceRecord) -> None:
    folder = folder_of(record)
    if folder.is_dir():
        _write_private(folder / "keys.json", json.dumps(keys_of(location, record)))


def _write_private(path: Path, text: str) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.chmod(0o600)
    tmp.replace(path)


def start(location: WorkspaceLocation, record: ServiceRecord) -> ServiceRecord:
    """Lay out the service's folder and start its host; returns the record with its pid,
    port and URIs (state Transitioning until ``wait_ready`` sees it answer)."""
    from plinth._serving.scoring import ServiceSpec

    stop(record)
    folder = folder_of(record)
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "models").mkdir(parents=True)
    artifacts = location.artifacts()
    restore_snapshot(record.inference["snapshotId"], artifacts, folder / "source")
    for model_id in record.models:
        _place_model(location, record.workspace_id, model_id, folder / "models")
    auth = _auth(record)
    if auth != "none":
        _write_keys(location, record)
        _write_private(folder / "token.secret", token_secret(location, record).decode())
    spec = ServiceSpec(
        name=record.name,
        entry_script=str(folder / "source" / record.inference["entry_script"]),
        source_directory=str(folder / "source"),
        model_dir=str(folder / "models"),
        auth=auth,
        keys_file=str(folder / "keys.json"),
        token_secret_file=str(folder / "token.secret"),
        log_path=str(folder / _LOG),
    )
    (folder / "service.json").write_text(spec.to_json())
    python = _python(record.inference.get("environment"), folder)
    env = {**os.environ, "PYTHONUNBUFFERED": "1",
           **{str(k): str(v) for k, v in
              ((record.inference.get("environment") or {}).get("environment_variables")
               or {}).items()}}
    if record.kind == "AKS":
        return _start_on_ray_serve(location, record, folder, python, env)
    port = int(record.config.get("port") or free_port())
    command = [python, "-m", "plinth._serving.host", str(folder / "service.json"),
               "--port", str(port), "--workers", str(_workers(record))]
    pid = start_detached(command, env=env, log_path=folder / "host.log",
                         cwd=folder / "source")
    base = f"http://127.0.0.1:{port}"
    return location.store().update_service(
        record.workspace_id, record.name, state="Transitioning", pid=pid,
        host=socket.gethostname(), scoring_uri=f"{base}/score",
        swagger_uri=f"{base}/swagger.json", clear_error=True,
        config={**record.config, "port": port})


def wait_ready(location: WorkspaceLocation, record: ServiceRecord, timeout: float = 600.0
               ) -> ServiceRecord:
    """Wait until the service answers ``/ready`` (Healthy) or its host exits (Failed, with
    the log's tail as the error)."""
    if record.kind == "AKS":
        return _wait_on_ray_serve(location, record, timeout)
    store = location.store()
    deadline = time.monotonic() + timeout
    while True:
        if not alive(record.pid):
            return store.update_service(record.workspace_id, record.name, state="Failed",
                                        error={"code": "ServiceFailed", "message":
                                               "The service's process exited:\n"
                                               + log_tail(record)})
        if _answers(record):
            return store.update_service(record.workspace_id, record.name,
                                        state="Healthy", clear_error=True)
        if time.monotonic() >= deadline:
            break
        time.sleep(0.2)
    return store.update_service(record.workspace_id, record.name, state="Unhealthy", error={
        "code": "DeploymentTimeout",
        "message": f"The service did not become ready within {timeout:.0f} s:\n"
                   + log_tail(record)})


def observe(location: WorkspaceLocation, record: ServiceRecord) -> ServiceRecord:
    """The record, with its state brought up to date when this machine runs the service:
    a Transitioning service that answers is Healthy, one whose process exited Failed; a
    Healthy one whose process is gone Unhealthy (until the supervisor restarts it)."""
    if record.kind == "AKS" or record.pid is None or record.host != socket.gethostname():
        return record
    if record.state == "Transitioning":
        if not alive(record.pid):
            return wait_ready(location, record, timeout=0)
        if _answers(record):
            return location.store().update_service(record.workspace_id, record.name,
                                                   state="Healthy", clear_error=True)
    elif record.state == "Healthy" and not alive(record.pid):
        return location.store().update_service(
            record.workspace_id, record.name, state="Unhealthy",
            error={"code": "ServiceDown", "message": "The service's process is not running."})
    return record


def _answers(record: ServiceRecord) -> bool:
    try:
        return httpx.get(_ready_url(record), timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def _ready_url(record: ServiceRecord) -> str:
    return record.scoring_uri.rsplit("/", 1)[0] + "/ready"


def stop(record: ServiceRecord) -> None:
    """Stop the service's host (and its workers), when it runs on this machine; for AKS,
    delete its Ray Serve application."""
    if record.kind == "AKS":
        _stop_on_ray_serve(record)
        return
    if record.pid is None or record.host not in (None, socket.gethostname()):
        return
    try:
        os.killpg(record.pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        return
    deadline = time.monotonic() + 10
    while alive(record.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if alive(record.pid):
        try:
            os.killpg(record.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def logs(record: ServiceRecord) -> str:
    """What the host printed: init() and its failures, requests with their latency."""
    path = folder_of(record) / "host.log"
    text = path.read_text(errors="replace") if path.is_file() else ""
    if record.kind == "AKS":  # the helper's log, then Serve's replica logs
        from plinth._serving import ray_serve

        text = "\n".join(t for t in (text.rstrip(), ray_serve.logs(folder_of(record))) if t)
    return text


def log_tail(record: ServiceRecord, lines: int = 30) -> str:
    return "\n".join(logs(record).splitlines()[-lines:])


# -- AKS: Ray Serve ----------------------------------------------------------------------------


def _start_on_ray_serve(location: WorkspaceLocation, record: ServiceRecord, folder: Path,
                        python: str, env: dict[str, str]) -> ServiceRecord:
    from plinth._serving import ray_serve

    config = {k: v for k, v in record.config.items() if k != "ray_serve"}
    pid, scoring_uri, swagger_uri, served = ray_serve.launch(
        folder, name=record.name, owner=record.workspace_id, config=config, python=python,
        env=env)
    return location.store().update_service(
        record.workspace_id, record.name, state="Transitioning", pid=pid,
        host=socket.gethostname(), scoring_uri=scoring_uri, swagger_uri=swagger_uri,
        clear_error=True, config={**config, "ray_serve": served})


def _wait_on_ray_serve(location: WorkspaceLocation, record: ServiceRecord, timeout: float
                       ) -> ServiceRecord:
    """Healthy once the helper saw Serve run the application and its route answers
    ``/ready``; Failed with Serve's message (and the service log's tail) when it failed."""
    from plinth._serving import ray_serve

    store = location.store()
    folder = folder_of(record)
    deadline = time.monotonic() + timeout
    while True:
        state = ray_serve.read_state(folder)
        if state is not None and state["state"] == "Failed":
            return store.update_service(record.workspace_id, record.name, state="Failed",
                                        error={"code": "ServiceFailed", "message":
                                               _serve_failure(record, state["error"])})
        if state is None and not alive(record.pid):
            return store.update_service(record.workspace_id, record.name, state="Failed",
                                        error={"code": "ServiceFailed", "message":
                                               "The service's deployment helper exited:\n"
                                               + log_tail(record)})
        if state is not None:
            try:
                ready = state["scoring_uri"].rsplit("/", 1)[0] + "/ready"
                if httpx.get(ready, timeout=2.0).status_code == 200:
                    return store.update_service(
                        record.workspace_id, record.name, state="Healthy", clear_error=True,
                        scoring_uri=state["scoring_uri"], swagger_uri=state["swagger_uri"])
            except httpx.HTTPError:
                pass
        if time.monotonic() >= deadline:
            break
        time.sleep(0.2)
    return store.update_service(record.workspace_id, record.name, state="Unhealthy", error={
        "code": "DeploymentTimeout",
        "message": f"Ray Serve did not run the service within {timeout:.0f} s (replicas "
                   "waiting for CPUs or memory, or a slow init()):\n" + log_tail(record)})


def _serve_failure(record: ServiceRecord, error: str) -> str:
    """Serve's message, and the service log's last failure (init()'s traceback)."""
    path = folder_of(record) / _LOG
    lines = path.read_text(errors="replace").splitlines() if path.is_file() else []
    failed = [i for i, line in enumerate(lines) if "failed to start" in line]
    return "\n".join([error.strip(), *lines[failed[-1] if failed else -30:][:40]])


def _stop_on_ray_serve(record: ServiceRecord) -> None:
    served = record.config.get("ray_serve")
    if not served or record.host not in (None, socket.gethostname()):
        return
    from plinth._serving import ray_serve

    ray_serve.stop(record.name, record.workspace_id, served, record.pid)


def _auth(record: ServiceRecord) -> str:
    if record.config.get("token_auth_enabled"):
        return "token"
    return "key" if record.config.get("auth_enabled") else "none"


def _workers(record: ServiceRecord) -> int:
    return int(record.config.get("num_replicas") or record.config.get("workers") or 1)


def _place_model(location: WorkspaceLocation, workspace_id: str, model_id: str,
                 root: Path) -> None:
    name, _, version = model_id.rpartition(":")
    model = location.store().get_model(workspace_id, name, int(version))
    artifacts = location.artifacts()
    target = root / name / version / model.path.rsplit("/", 1)[-1]
    for stored in artifacts.list(model.path):
        rel = stored[len(model.path):].lstrip("/")
        artifacts.get_file(stored, target / rel if rel else target)


def _python(environment: Any, folder: Path) -> str:
    if not isinstance(environment, dict) or "python" not in environment:
        return sys.executable
    from plinth._envs import materialise

    with open(folder / "environment.log", "a") as log:
        return str(materialise(environment, log=lambda line: log.write(line + "\n")))


