"""Tracking server under load: Plinth's server beside MLflow's, same clients, same machine.

CLIENTS threads each log metric batches for SECONDS through the server's REST API, then
every point is counted back. Both servers keep their metadata in SQLite in a temp folder
(or in PostgreSQL with --postgres URI-PREFIX) and run one process.

    .venv/bin/python benchmarks/server_load.py [--clients 20] [--seconds 30] [--batch 100]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _peers import PeerUnavailable, peer_python, run_json, write_result  # noqa: E402

from plinth._api.client import ApiClient  # noqa: E402
from plinth._store import MetricPoint  # noqa: E402
from plinth._store.rest import RestStore  # noqa: E402

PLINTH = Path(sys.executable).with_name("plinth")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[:3]} exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


def start(command: list[str], health: str, log: Path, env: dict | None = None):
    out = open(log, "wb")
    process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT,
                               start_new_session=True, env=env or os.environ.copy())
    wait_for(health, process)
    return process


def stop(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, 15)
        process.wait(15)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(process.pid, 9)


def plinth_credentials(folder: Path) -> dict[str, str]:
    """An Owner token for the benchmark workspace, when the server has users."""
    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(PLINTH), *args], capture_output=True, text=True, check=False)

    made = cli("user", "create", "bench", "--role", "Owner", "--workspace", "bench",
               "--workspace-folder", str(folder))
    if made.returncode != 0:
        return {}
    token = cli("token", "create", "bench", "--workspace-folder", str(folder), "--json")
    if token.returncode != 0:
        return {}
    return {"authorization": f"Bearer {json.loads(token.stdout)['token']}"}


def plinth_load(url: str, headers: dict, clients: int, seconds: float, batch: int) -> dict:
    from plinth._location import WorkspaceLocation
    from plinth.core import Experiment, Workspace

    if headers:
        os.environ["PLINTH_TOKEN"] = headers["authorization"].removeprefix("Bearer ")
    ws = Workspace(_location=WorkspaceLocation("bench", server_url=url))
    experiment = Experiment(ws, f"load-{time.time_ns()}")
    runs = [experiment.start_logging() for _ in range(clients)]
    logged = [0] * clients
    errors: list[str] = []
    started = time.perf_counter()
    deadline = time.monotonic() + seconds

    def client(i: int) -> None:
        store = RestStore(ApiClient(url, headers=lambda: headers), "bench")
        step = 0
        try:
            while time.monotonic() < deadline:
                now = time.time()
                store.log_metrics(runs[i].id, [MetricPoint("loss", float(step + k), "scalar",
                                                           step + k, now) for k in range(batch)])
                step += batch
                logged[i] = step
        except Exception as exc:  # noqa: BLE001
            errors.append(repr(exc))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    stored = sum(len(ws._store.get_metrics(run.id, "loss")) for run in runs)
    for run in runs:
        run.complete()
    return {"points": sum(logged), "errors": errors, "seconds": elapsed, "stored": stored}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--no-mlflow", action="store_true")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="plinth-load-"))
    results: dict[str, dict] = {}
    try:
        env = {**os.environ, "PLINTH_HOME": str(tmp / "home")}
        subprocess.run([str(PLINTH), "workspace", "create", "bench", "--path", str(tmp / "ws"),
                        "--config-dir", str(tmp)], check=True, env=env, capture_output=True)
        headers = plinth_credentials(tmp / "ws")
        port = free_port()
        server = start([str(PLINTH), "server", "--workspace", str(tmp / "ws"), "--port",
                        str(port), "--log-level", "warning"],
                       f"http://127.0.0.1:{port}/healthz", tmp / "plinth.log", env)
        try:
            print(f"Plinth: {args.clients} clients x {args.seconds:g} s ...", flush=True)
            results["Plinth server"] = plinth_load(f"http://127.0.0.1:{port}", headers,
                                                   args.clients, args.seconds, args.batch)
        finally:
            stop(server)

        if not args.no_mlflow:
            try:
                python = peer_python("mlflow", ["mlflow"], "mlflow.server")
            except PeerUnavailable as exc:
                print(f"MLflow not measured: {exc}", file=sys.stderr)
            else:
                port = free_port()
                mlflow = start([str(python.with_name("mlflow")), "server", "--backend-store-uri",
                                f"sqlite:///{tmp / 'mlflow.db'}", "--default-artifact-root",
                                str(tmp / "mlartifacts"), "--host", "127.0.0.1", "--port",
                                str(port), "--workers", "1"],
                               f"http://127.0.0.1:{port}/health", tmp / "mlflow.log")
                try:
                    print(f"MLflow: {args.clients} clients x {args.seconds:g} s ...", flush=True)
                    results["MLflow server"] = run_json(
                        [str(python), str(Path(__file__).with_name("_mlflow_load.py")),
                         f"http://127.0.0.1:{port}", str(args.clients), str(args.seconds),
                         str(args.batch)], "MLflow load", timeout=args.seconds * 10 + 300)
                finally:
                    stop(mlflow)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"\n{args.clients} clients, batches of {args.batch}, {args.seconds:g} s each\n")
    print(f"{'server':<16}{'points':>12}{'points/s':>12}{'errors':>8}{'lost':>8}{'ratio':>8}")
    base = results.get("Plinth server")
    for name, r in results.items():
        rate = r["points"] / r["seconds"]
        ratio = (base["points"] / base["seconds"]) / rate if base else float("nan")
        print(f"{name:<16}{r['points']:>12,}{rate:>12,.0f}{len(r['errors']):>8}"
              f"{r['points'] - r['stored']:>8}{ratio:>7.1f}x")
    write_result("server_load", {"args": vars(args), "results": results})
    ok = all(not r["errors"] and r["points"] == r["stored"] for r in results.values())
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
