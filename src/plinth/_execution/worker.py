"""The process that owns one script run from start to end.

``python -m plinth._execution.worker RUN_ID`` (with ``PLINTH_WORKSPACE`` set) restores the
snapshot into a fresh folder, runs the script in its own process group with the run's
context in its environment, streams its output to ``logs/driver.log``, heartbeats, obeys
cancellation and ``max_run_duration_seconds``, uploads ``outputs/`` and ``logs/``, and sets
the final status. Whatever goes wrong, the run does not stay active.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from plinth._artifacts import ArtifactStore
from plinth._compute import LocalProcess
from plinth._execution.inputs import PreparedInputs, prepare_inputs, substitute, upload_outputs
from plinth._execution.snapshot import restore_snapshot
from plinth._location import ENV_RUN_ID, ENV_WORKSPACE, WorkspaceLocation, heartbeat_interval
from plinth._store import TERMINAL_STATUSES, RunStatus, Store
from plinth.exceptions import PlinthError

__all__ = ["main", "build_command"]

DRIVER_LOG = "logs/driver.log"
_TAIL_LINES = 20


def build_command(definition: dict[str, Any], python: str = sys.executable) -> list[str]:
    """The argv to run: ``python script args`` or the definition's ``command``, with the
    run environment's ``python``."""
    command = definition.get("command")
    if command:
        if isinstance(command, str):
            return ["/bin/sh", "-c", command]
        argv = [str(c) for c in command]
        if argv[0] in ("python", "python3"):
            argv[0] = python
        return argv
    return [python, "-u", definition["script"], *map(str, definition.get("arguments", []))]


def _mlflow_server_env(location: WorkspaceLocation) -> dict[str, str]:
    if not location.server_url:
        return {}
    from plinth._api.credentials import default_token

    env = {"MLFLOW_TRACKING_URI": f"{location.server_url.rstrip('/')}/ws/{location.name}"}
    token = default_token(location.server_url)
    if token:
        env["MLFLOW_TRACKING_TOKEN"] = token
    return env


class _Worker:
    def __init__(self, location: WorkspaceLocation, run_id: str):
        self.location = location
        self.run_id = run_id
        self.store: Store = location.store()
        self.artifacts: ArtifactStore = location.artifacts()
        self.prefix = f"runs/{run_id}"
        self.workdir = Path(tempfile.mkdtemp(prefix=f"plinth-{run_id[-8:]}-"))
        local = self.artifacts.local_path(f"{self.prefix}/{DRIVER_LOG}")
        # A folder root gets the live log in place; other roots get it copied on heartbeats.
        self.log_path = local or self.workdir.parent / f"{self.workdir.name}-driver.log"
        self.log_is_live = local is not None
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log = open(self.log_path, "ab", buffering=0)
        self.inputs = PreparedInputs()
        self.workspace_id = ""  # known once the run's record is read

    def say(self, message: str) -> None:
        self.log.write(f"[plinth] {message}\n".encode())

    def set_status(self, status: str, error: dict | None = None) -> str:
        return self.store.set_status(self.run_id, status, error=error).status

    def run(self) -> None:
        record = self.store.get_run(self.run_id)
        if record.status in TERMINAL_STATUSES:
            return
        definition = record.definition or {}
        self.workspace_id = self.store.get_experiment_by_id(record.experiment_id).workspace_id
        if self.set_status(RunStatus.PREPARING) in TERMINAL_STATUSES:
            return
        self.store.add_properties(self.run_id, {
            "plinth.workerPid": str(os.getpid()),
            "plinth.host": socket.gethostname(),
        })
        restore_snapshot(definition["snapshotId"], self.artifacts, self.workdir)
        (self.workdir / "outputs").mkdir(exist_ok=True)
        (self.workdir / "logs").mkdir(exist_ok=True)
        env = {
            **os.environ,
            ENV_RUN_ID: self.run_id,
            ENV_WORKSPACE: self.location.to_json(),
            "AZUREML_RUN_ID": self.run_id,
            "PLINTH_EXPERIMENT_NAME": record.experiment_name,
            "PLINTH_ARTIFACT_URI": f"{self.location.artifact_root}/{self.prefix}",
            # MLflow in the script logs into this run (plinth://<name> resolves through
            # PLINTH_WORKSPACE; see plinth._mlflow.uri).
            "MLFLOW_TRACKING_URI": f"plinth://{self.location.name}",
            "MLFLOW_RUN_ID": self.run_id,
            "MLFLOW_EXPERIMENT_ID": record.experiment_id,
            "MLFLOW_EXPERIMENT_NAME": record.experiment_name,
            # A server's workspace: MLflow talks to the server's MLflow API, with the token
            # this worker reaches the server with.
            **_mlflow_server_env(self.location),
            "PYTHONUNBUFFERED": "1",
            **{str(k): str(v) for k, v in (definition.get("environment_variables") or {}).items()},
        }
        # Downloads and environment builds can take minutes: keep the run alive meanwhile.
        with self.heartbeating():
            try:
                self.inputs = prepare_inputs(self.location, self.workspace_id,
                                             definition.get("inputs") or [], self.workdir,
                                             self.say)
            except PlinthError as exc:
                return self.fail_before_start("UserError", "prepare the run's inputs", exc)
            env.update(self.inputs.env())
            try:
                python = self.prepare_environment(definition.get("environment"), env)
            except PlinthError as exc:
                return self.fail_before_start("EnvironmentBuildFailed",
                                              "build the run's environment", exc)
        command = substitute(build_command(definition, python), self.inputs.values)
        if self.set_status(RunStatus.RUNNING) in TERMINAL_STATUSES:
            return
        self.say(f"Running {' '.join(command)} in {self.workdir}")
        process = LocalProcess(command, cwd=self.workdir, env=env, output=self.log)
        code, reason = self.supervise(process, definition.get("max_run_duration_seconds"))
        self.finish(code, reason)

    @contextlib.contextmanager
    def heartbeating(self) -> Iterator[None]:
        """Heartbeat the run from a thread for as long as the block lasts."""
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(min(heartbeat_interval(), 1.0)):
                self.store.heartbeat(self.run_id)

        thread = threading.Thread(target=beat, name="plinth-prepare-heartbeat", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()

    def fail_before_start(self, code: str, what: str, exc: Exception) -> None:
        message = f"Could not {what}: {exc}"
        self.say(message)
        self.upload_outputs()
        self.set_status(RunStatus.FAILED, {"code": code, "message": message})

    def prepare_environment(self, environment: Any, env: dict[str, str]) -> str:
        """The python of the run's environment (built with uv, or found cached); its build
        log is the run's ``logs/environment.log``. Adds its variables to ``env``."""
        if not isinstance(environment, dict) or "python" not in environment:
            return sys.executable
        from plinth._envs import ENVIRONMENT_LOG, materialise

        env.update({str(k): str(v)
                    for k, v in (environment.get("environment_variables") or {}).items()})
        with open(self.workdir / ENVIRONMENT_LOG, "a") as log:
            def say(line: str) -> None:
                log.write(line.rstrip("\n") + "\n")
                log.flush()

            python = materialise(environment, log=say)
        self.say(f"Environment {environment.get('name') or ''}: {python}")
        return str(python)

    def supervise(self, process: LocalProcess, max_seconds: float | None) -> tuple[int, str | None]:
        """Wait for the script, heartbeating; stop it on cancel or when over time."""
        started = time.monotonic()
        interval = min(heartbeat_interval(), 1.0)
        last_beat = started
        while True:
            code = process.wait(interval)
            if code is not None:
                return code, None
            now = time.monotonic()
            if max_seconds and now - started > max_seconds:
                self.say(f"Stopping the run: it exceeded max_run_duration_seconds={max_seconds}.")
                return process.stop(), "timeout"
            if now - last_beat >= min(heartbeat_interval(), 1.0):
                last_beat = now
                if self.store.heartbeat(self.run_id):
                    self.say("Cancel requested: stopping the run's processes.")
                    return process.stop(), "canceled"
                self.sync_log()

    def finish(self, code: int, reason: str | None) -> None:
        self.set_status(RunStatus.FINALIZING)
        self.say(f"Process exited with code {code}; uploading outputs and logs.")
        failure = None
        if code == 0 and reason is None and self.inputs.uploads:
            try:
                upload_outputs(self.location, self.workspace_id, self.inputs.uploads,
                               self.say)
            except PlinthError as exc:
                failure = f"The script succeeded but its data outputs were not uploaded: {exc}"
                self.say(failure)
        self.upload_outputs()
        if reason == "canceled":
            self.set_status(RunStatus.CANCELED)
        elif reason == "timeout":
            self.set_status(RunStatus.FAILED, {
                "code": "RunTimeout",
                "message": "The run exceeded its max_run_duration_seconds and was stopped.",
            })
        elif failure:
            self.set_status(RunStatus.FAILED, {"code": "UserError", "message": failure})
        elif code == 0:
            self.set_status(RunStatus.COMPLETED)
        else:
            self.set_status(RunStatus.FAILED, {
                "code": "UserError",
                "message": _failure_message(code, self.log_tail()),
                "exit_code": code,
            })

    def upload_outputs(self) -> None:
        for folder in ("outputs", "logs"):
            local = self.workdir / folder
            if local.is_dir():
                self.artifacts.put_tree(f"{self.prefix}/{folder}", local)
        self.sync_log()

    def sync_log(self) -> None:
        if not self.log_is_live:
            self.artifacts.put_file(f"{self.prefix}/{DRIVER_LOG}", self.log_path)

    def log_tail(self) -> str:
        lines = self.log_path.read_text(errors="replace").splitlines()
        lines = [line for line in lines if not line.startswith("[plinth]")]
        return "\n".join(lines[-_TAIL_LINES:])

    def close(self) -> None:
        self.log.close()
        shutil.rmtree(self.workdir, ignore_errors=True)
        if not self.log_is_live:
            self.log_path.unlink(missing_ok=True)


def _failure_message(code: int, tail: str) -> str:
    if code < 0:
        head = f"The script was killed by signal {-code}."
    else:
        head = f"The script exited with code {code}."
    return f"{head}\n{tail}" if tail else head


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    run_id = argv[0]
    location = WorkspaceLocation.from_env()
    if location is None:
        print(f"{ENV_WORKSPACE} is not set; the worker is started by experiment.submit().")
        return 2
    worker = None
    try:
        worker = _Worker(location, run_id)
        worker.run()
        return 0
    except BaseException as exc:  # noqa: BLE001 - the run must not stay active
        detail = traceback.format_exc()
        if worker is not None:
            worker.say(detail)
            try:
                worker.upload_outputs()
            except Exception:  # noqa: BLE001
                pass
        location.store().set_status(run_id, RunStatus.FAILED, error={
            "code": "SystemError",
            "message": f"The run could not be executed: {exc!r}",
            "traceback": detail[-4000:],
        })
        return 1
    finally:
        if worker is not None:
            worker.close()


if __name__ == "__main__":
    sys.exit(main())
