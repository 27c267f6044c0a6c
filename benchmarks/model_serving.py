"""Model serving: requests per second and latency of a deployed Plinth service beside
``mlflow models serve``, same model, same load generator, same machine (loopback).

Plinth: the course's diabetes LogisticRegression registered in an embedded SQLite workspace
in a temp folder and deployed with ``Model.deploy`` and the course's score script
(``run(raw_data)``: ``np.array(json.loads(raw_data)['data'])``, ``predict``, a list): as an
ACI-style service (``AciWebservice.deploy_configuration()``: one host process, key auth off)
and, as a second line, an AKS-style one (``AksWebservice.deploy_configuration(num_replicas=2,
auth_enabled=False)``: two Ray Serve replicas behind Serve's proxy, on a local Ray cluster
the script starts and stops, measured after the others because Ray's processes take CPU;
``--no-aks`` skips it). Peer: the same fitted model saved with
``mlflow.sklearn.save_model`` and served by ``mlflow models serve --env-manager local -w 1``
(one uvicorn worker process) from ``benchmarks/.venv-mlflow-serve``, built on first use.

Load: client threads, each with its own ``httpx.Client`` (one keep-alive connection), POST
for ``--seconds`` per cell at 1, 8 and 32 clients, 1-row and 100-row requests, the servers
taking turns cell by cell. Every server's answers are checked against the model's in-process
predictions first, and each is warmed up. The load generator runs on the same CPUs as the
servers, so its CPU time is reported beside theirs.

    .venv/bin/python benchmarks/model_serving.py [--seconds 4] [--no-aks]
        [--mlflow-fast-http] [--mlflow-format inputs|dataframe_split]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _peers import PeerUnavailable, machine_info, peer_python, run_json, verdict, write_result

NAME = "model_serving"
DATA = Path(__file__).resolve().parents[1] / "examples" / "data" / "diabetes.csv"
FEATURES = ["Pregnancies", "PlasmaGlucose", "DiastolicBloodPressure", "TricepsThickness",
            "SerumInsulin", "BMI", "DiabetesPedigree", "Age"]
TARGET_RATIO = 2.0  # x MLflow's requests/s, every cell
TARGET_P99_MS = 10.0  # single rows, 8 clients
POOL = 50  # distinct request bodies of each size, sent in turn
CHECKED = 20  # bodies of each size whose answers are checked before timing

SCORE_SCRIPT = """\
import json

import joblib
import numpy as np
from plinth.core.model import Model


def init():
    global model
    model = joblib.load(Model.get_model_path("diabetes_model"))


def run(raw_data):
    data = np.array(json.loads(raw_data)["data"])
    predictions = model.predict(data)
    return predictions.tolist()
"""

# Run by the peer venv's Python: the model Plinth's side trained, saved as an MLflow model.
SAVE_MLFLOW_MODEL = """\
import json, sys, warnings
import joblib, mlflow, mlflow.sklearn, sklearn
warnings.simplefilter("ignore")
mlflow.sklearn.save_model(joblib.load(sys.argv[1]), sys.argv[2])
print(json.dumps({"mlflow": mlflow.__version__, "sklearn": sklearn.__version__}))
"""


# -- the servers -------------------------------------------------------------------------------


@dataclass
class Server:
    label: str
    url: str
    body: Callable[[list[list[float]]], bytes]  # rows -> request body
    answer: Callable[[Any], list[int]]  # parsed response -> predictions
    pids: Callable[[], list[int]]  # the processes that serve it, for their CPU time
    ready_s: float = 0.0
    notes: list[str] = field(default_factory=list)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tree(pid: int | None) -> list[int]:
    """``pid`` and its descendants (those still alive)."""
    if pid is None:
        return []
    try:
        proc = psutil.Process(pid)
        return [pid, *(c.pid for c in proc.children(recursive=True))]
    except psutil.NoSuchProcess:
        return []


def ray_serve_pids(app: str) -> list[int]:
    """Serve's proxy and the application's replicas on this benchmark's local Ray cluster
    (Ray titles its workers' processes; another cluster on the machine is not counted)."""
    from plinth._compute.ray import _dir, _read_state

    state = _read_state(_dir())
    found = []
    for pid in tree(state["pid"] if state else None):
        try:
            title = " ".join(psutil.Process(pid).cmdline())
        except psutil.Error:
            continue
        if title.startswith(("ray::ProxyActor", f"ray::ServeReplica:{app}")):
            found.append(pid)
    return found


def cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            times = psutil.Process(pid).cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return total


def plinth_body(rows: list[list[float]]) -> bytes:
    return json.dumps({"data": rows}).encode()


def mlflow_body(form: str) -> Callable[[list[list[float]]], bytes]:
    if form == "inputs":
        return lambda rows: json.dumps({"inputs": rows}).encode()
    return lambda rows: json.dumps({"dataframe_split": {"columns": FEATURES,
                                                        "data": rows}}).encode()


def train(path: Path):
    import joblib
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    df = pd.read_csv(DATA)
    model = LogisticRegression(solver="liblinear").fit(df[FEATURES].values,
                                                       df["Diabetic"].values)
    joblib.dump(model, path)
    return model, df[FEATURES].values.tolist()


def deploy_plinth(ws, model, source: Path, name: str, config, timeout: float):
    from plinth.core import Model
    from plinth.core.model import InferenceConfig

    inference = InferenceConfig(entry_script="score.py", source_directory=str(source))
    started = time.perf_counter()
    service = Model.deploy(ws, name, [model], inference, config)
    service.wait_for_deployment(timeout_sec=timeout)
    return service, time.perf_counter() - started


def start_mlflow(tmp: Path, model_path: Path, port: int,
                 fast_http: bool) -> tuple[subprocess.Popen, dict]:
    """Save the model as an MLflow model and start ``mlflow models serve`` on it."""
    packages = ["mlflow", f"scikit-learn=={sklearn_version()}", "pandas"]
    if fast_http:
        python = peer_python("mlflow-serve-std", [*packages, "uvicorn[standard]"], "uvloop")
    else:
        python = peer_python("mlflow-serve", packages, "mlflow")
    bindir = python.parent
    env = {**os.environ, "GIT_PYTHON_REFRESH": "quiet",
           # mlflow runs `uvicorn` through a shell: the peer venv's must come first.
           "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("VIRTUAL_ENV", None)
    saved = tmp / "mlflow-model"
    versions = run_json([str(python), "-c", SAVE_MLFLOW_MODEL, str(model_path), str(saved)],
                        "Saving the model with mlflow.sklearn.save_model", timeout=300,
                        env=env, cwd=tmp)
    log = open(tmp / "mlflow-serve.log", "wb")
    process = subprocess.Popen(
        [str(bindir / "mlflow"), "models", "serve", "-m", str(saved), "--env-manager", "local",
         "-h", "127.0.0.1", "-p", str(port), "-w", "1"],
        stdout=log, stderr=subprocess.STDOUT, env=env, cwd=tmp, start_new_session=True)
    log.close()
    return process, versions


def wait_for(url: str, process: subprocess.Popen, log: Path, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
            raise PeerUnavailable(f"mlflow models serve exited with {process.returncode}:\n"
                                  f"{tail}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise PeerUnavailable(f"mlflow models serve did not answer {url} within {timeout:.0f} s.")


def stop_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(15)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def sklearn_version() -> str:
    import sklearn

    return sklearn.__version__


# -- checking and loading ----------------------------------------------------------------------


def check_answers(server: Server, bodies: dict[int, list[tuple[bytes, list[int]]]]) -> str | None:
    """None when the server's predictions match the model's for the first CHECKED bodies of
    each size, else what went wrong."""
    with httpx.Client(timeout=30, headers={"Content-Type": "application/json"}) as client:
        for rows, pool in bodies.items():
            for i, (body, expected) in enumerate(pool[:CHECKED]):
                response = client.post(server.url, content=body)
                if response.status_code != 200:
                    return (f"{server.label} answered {response.status_code} to a {rows}-row "
                            f"request: {response.text[:300]}")
                got = server.answer(response.json())
                if got != expected:
                    return (f"{server.label}'s predictions for {rows}-row request {i} differ "
                            f"from the model's: {got[:10]} != {expected[:10]}")
    return None


def load(server: Server, bodies: list[bytes], clients: int, seconds: float) -> dict[str, Any]:
    """``clients`` threads POSTing ``bodies`` in turn for ``seconds``; rates, latencies, CPU."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors: list[str] = []
    ends = [0.0] * clients
    connected = threading.Barrier(clients + 1)
    go = threading.Event()
    deadline = [0.0]

    def client(i: int) -> None:
        with httpx.Client(timeout=30, headers={"Content-Type": "application/json"}) as http:
            http.post(server.url, content=bodies[i % len(bodies)])  # connect outside the timing
            connected.wait()
            go.wait()
            mine, n = latencies[i], i
            perf = time.perf_counter
            while True:
                started = perf()
                if started >= deadline[0]:
                    break
                try:
                    response = http.post(server.url, content=bodies[n % len(bodies)])
                except httpx.HTTPError as exc:
                    errors.append(f"{type(exc).__name__}: {exc}")
                    continue
                done = perf()
                if response.status_code != 200:
                    errors.append(f"HTTP {response.status_code}: {response.text[:200]}")
                else:
                    mine.append(done - started)
                n += 1
            ends[i] = perf()

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    connected.wait(60)
    pids = server.pids()
    server_cpu, own_cpu = cpu_seconds(pids), time.process_time()
    begin = time.perf_counter()
    deadline[0] = begin + seconds
    go.set()
    for thread in threads:
        thread.join(seconds + 60)
    wall = max(ends) - begin
    server_cpu, own_cpu = cpu_seconds(pids) - server_cpu, time.process_time() - own_cpu
    all_ms = np.array([x for lat in latencies for x in lat]) * 1000
    count = len(all_ms)
    return {
        "requests": count, "seconds": wall, "rps": count / wall if wall > 0 else 0.0,
        "p50_ms": float(np.percentile(all_ms, 50)) if count else None,
        "p99_ms": float(np.percentile(all_ms, 99)) if count else None,
        "mean_ms": float(all_ms.mean()) if count else None,
        "errors": len(errors), "first_errors": errors[:3],
        "server_cpu_ms_per_request": server_cpu * 1000 / count if count and pids else None,
        "server_cpu_share": server_cpu / wall if pids and wall > 0 else None,
        "client_cpu_share": own_cpu / wall if wall > 0 else None,
    }


# -- the report --------------------------------------------------------------------------------


def ms(cell: dict | None) -> str:
    if not cell or cell.get("p50_ms") is None:
        return "-"
    return f"{cell['p50_ms']:.1f} / {cell['p99_ms']:.1f}"


def rps(cell: dict | None) -> str:
    return f"{cell['rps']:,.0f}" if cell else "-"


def ratio(a: dict | None, b: dict | None) -> float | None:
    if not a or not b or not b["rps"]:
        return None
    return a["rps"] / b["rps"]


def measure(console, servers: dict[str, Server], bodies: dict[str, dict[int, list[bytes]]],
            client_counts: list[int], row_counts: list[int], seconds: float,
            warmup: float) -> dict[str, dict[str, dict]]:
    """Warm each server up, then every cell with the servers interleaved (drift in the
    machine's load hits them alike)."""
    for key, server in servers.items():
        for n in row_counts:
            load(server, bodies[key][n], 8, warmup)
    results: dict[str, dict[str, dict]] = {key: {} for key in servers}
    for clients in client_counts:
        for n in row_counts:
            cell = f"{clients}x{n}"
            for key, server in servers.items():
                results[key][cell] = load(server, bodies[key][n], clients, seconds)
            console.print(f"  {clients:>2} clients x {n:>3} rows: " + ", ".join(
                f"{servers[k].label} {rps(results[k][cell])}/s" for k in servers),
                highlight=False)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="load per cell (default 4)")
    parser.add_argument("--warmup-seconds", type=float, default=2.0,
                        help="warm-up load per server and request size, 8 clients (default 2)")
    parser.add_argument("--clients", default="1,8,32", help="concurrent clients (1,8,32)")
    parser.add_argument("--rows", default="1,100", help="rows per request (1,100)")
    parser.add_argument("--mlflow-format", choices=("inputs", "dataframe_split"),
                        default="inputs", help="MLflow's request body: {'inputs': rows} (a "
                        "numpy array, as Plinth's script makes) or {'dataframe_split': ...}")
    parser.add_argument("--mlflow-fast-http", action="store_true",
                        help="serve MLflow with uvicorn[standard] (httptools, uvloop) as "
                        "Plinth's host has, from benchmarks/.venv-mlflow-serve-std; plain "
                        "`pip install mlflow` has neither")
    parser.add_argument("--no-aks", action="store_true", help="skip the AKS (Ray Serve) line")
    parser.add_argument("--no-mlflow", action="store_true", help="measure Plinth only")
    args = parser.parse_args()
    client_counts = [int(c) for c in args.clients.split(",")]
    row_counts = [int(r) for r in args.rows.split(",")]
    if args.seconds <= 0 or min(client_counts) < 1 or min(row_counts) < 1:
        parser.error("--seconds, --clients and --rows must be positive")

    from rich.console import Console
    from rich.table import Table

    console = Console()
    if not console.is_terminal:
        console = Console(width=120)  # rich's 80-column default wraps the tables

    tmp = Path(tempfile.mkdtemp(prefix="plinth-bench-serving-"))
    saved_env = {k: os.environ.get(k) for k in ("PLINTH_HOME", "PLINTH_RAY_ADDRESS",
                                                "PLINTH_SERVE_PORT")}
    os.environ["PLINTH_HOME"] = str(tmp / "plinth-home")  # its own services and Ray cluster
    os.environ.pop("PLINTH_RAY_ADDRESS", None)
    os.environ["PLINTH_SERVE_PORT"] = str(free_port())  # not 8000: another run may hold it

    load_before = os.getloadavg()
    console.print(f"{os.cpu_count()} CPUs, load average "
                  f"{', '.join(f'{x:.1f}' for x in load_before)}. The load generator "
                  "(threads in this process) shares these CPUs with the servers.",
                  highlight=False)
    servers: dict[str, Server] = {}
    services, mlflow_proc = [], None
    peer_error = aks_error = None
    peer_versions: dict[str, Any] = {}
    cluster_started = False
    results: dict[str, dict[str, dict]] = {}
    wrong: list[str] = []
    try:
        from plinth.core import Model, Workspace
        from plinth.core.webservice import AciWebservice, AksWebservice

        fitted, rows = train(tmp / "model.pkl")
        ws = Workspace.create("bench", path=tmp / "plinth-ws")
        model = Model.register(ws, model_path=str(tmp / "model.pkl"),
                               model_name="diabetes_model")
        source = tmp / "service"
        source.mkdir()
        (source / "score.py").write_text(SCORE_SCRIPT)
        # Request bodies: POOL distinct ones of each size, with the model's own answers.
        data = {n: [rows[(i * n) % len(rows):(i * n) % len(rows) + n] for i in range(POOL)]
                for n in row_counts}
        expected = {n: [fitted.predict(np.array(chunk)).tolist() for chunk in chunks]
                    for n, chunks in data.items()}

        def checked(key: str, server: Server) -> bool:
            """Check the server's answers; keep it (and its bodies) when they are right."""
            pairs = {n: list(zip([server.body(c) for c in data[n]], expected[n], strict=True))
                     for n in row_counts}
            problem = check_answers(server, pairs)
            if problem:
                wrong.append(problem)
                console.print(f"[red]wrong answers:[/] {problem}", highlight=False)
                return False
            servers[key] = server
            bodies[key] = {n: [b for b, _ in pairs[n]] for n in row_counts}
            return True

        bodies: dict[str, dict[int, list[bytes]]] = {}
        console.print("Deploying Plinth's ACI-style service ...")
        aci, seconds = deploy_plinth(ws, model, source, "diabetes-aci",
                                     AciWebservice.deploy_configuration(cpu_cores=1,
                                                                        memory_gb=1), 300)
        services.append(aci)
        if not checked("aci", Server("Plinth ACI", aci.scoring_uri, plinth_body, lambda a: a,
                                     lambda pid=aci._record.pid: tree(pid), ready_s=seconds)):
            return 1

        if not args.no_mlflow:
            console.print("Starting mlflow models serve (-w 1) ...")
            try:
                port = free_port()
                started = time.perf_counter()
                mlflow_proc, peer_versions = start_mlflow(tmp, tmp / "model.pkl", port,
                                                          args.mlflow_fast_http)
                wait_for(f"http://127.0.0.1:{port}/ping", mlflow_proc,
                         tmp / "mlflow-serve.log")
                peer = Server(f"MLflow {peer_versions.get('mlflow', '')}",
                              f"http://127.0.0.1:{port}/invocations",
                              mlflow_body(args.mlflow_format), lambda a: a["predictions"],
                              lambda: tree(mlflow_proc.pid),
                              ready_s=time.perf_counter() - started)
                if peer_versions.get("sklearn") != sklearn_version():
                    peer.notes.append(f"its scikit-learn is {peer_versions.get('sklearn')}, "
                                      f"Plinth's {sklearn_version()}")
                checked("mlflow", peer)
            except PeerUnavailable as exc:
                peer_error = str(exc)

        console.print(f"Answers checked. Warming up ({args.warmup_seconds:g} s per server and "
                      f"size), then {args.seconds:g} s per cell ...")
        results = measure(console, servers, bodies, client_counts, row_counts, args.seconds,
                          args.warmup_seconds)
        if mlflow_proc is not None:  # its CPU would count against the AKS line
            stop_group(mlflow_proc)
            mlflow_proc = None

        if not args.no_aks:
            # After the others: the Ray cluster's own processes take CPU while it is up.
            console.print("Deploying Plinth's AKS-style service (a local Ray cluster, Ray "
                          "Serve, 2 replicas) ...")
            cluster_started = True
            try:
                aks, seconds = deploy_plinth(
                    ws, model, source, "diabetes-aks",
                    AksWebservice.deploy_configuration(num_replicas=2, auth_enabled=False),
                    300)
                services.append(aks)
            except Exception as exc:  # noqa: BLE001 - reported; ACI is measured anyway
                aks_error = f"{type(exc).__name__}: {exc}"
                console.print(f"[yellow]AKS not measured:[/] {aks_error}", highlight=False)
            else:
                if checked("aks", Server("Plinth AKS x2", aks.scoring_uri, plinth_body,
                                         lambda a: a, lambda: ray_serve_pids("diabetes-aks"),
                                         ready_s=seconds)):
                    results.update(measure(console, {"aks": servers["aks"]}, bodies,
                                           client_counts, row_counts, args.seconds,
                                           args.warmup_seconds))
        ws._location.forget()
    finally:
        for service in services:
            try:
                service.delete()
            except Exception as exc:  # noqa: BLE001 - cleaning up
                console.print(f"[yellow]warning:[/] could not delete {service.name}: {exc}")
        if mlflow_proc is not None:
            stop_group(mlflow_proc)
        if cluster_started:
            from plinth._compute import stop_local_cluster

            stop_local_cluster()
        shutil.rmtree(tmp, ignore_errors=True)
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value

    aci, peer, aks = results["aci"], results.get("mlflow", {}), results.get("aks", {})
    cells = [(c, n) for c in client_counts for n in row_counts]
    table = Table(title=f"Requests/s and latency, {args.seconds:g} s per cell "
                        f"({os.cpu_count()} CPUs, loopback)",
                  caption="ratio: Plinth ACI's requests/s over MLflow's. Latency: client-side, "
                          "send to response read, in the process of all the client threads.")
    for column in ("clients", "rows", "Plinth rps", "MLflow rps", "ratio",
                   "Plinth p50/p99 ms", "MLflow p50/p99 ms"):
        table.add_column(column, justify="right")
    for c, n in cells:
        key = f"{c}x{n}"
        r = ratio(aci.get(key), peer.get(key))
        table.add_row(str(c), str(n), rps(aci.get(key)), rps(peer.get(key)),
                      f"{r:.2f}x" if r else "-", ms(aci.get(key)), ms(peer.get(key)))
    console.print(table)

    extra = Table(title="CPU per request, and the AKS-style service (measured after the others)",
                  caption="CPU ms/req: the serving processes' CPU time over requests answered "
                          "(AKS: Serve's proxy and the 2 replicas, not Ray's other processes). "
                          "load gen: this process's CPU time over wall time during Plinth ACI's "
                          "cell (1.0 = one whole core).")
    for column in ("clients", "rows", "CPU ms/req Plinth", "MLflow", "load gen",
                   "AKS x2 rps", "AKS / MLflow", "AKS p50/p99 ms", "AKS CPU ms/req"):
        extra.add_column(column, justify="right")

    def cpu(cell: dict | None) -> str:
        value = (cell or {}).get("server_cpu_ms_per_request")
        return f"{value:.2f}" if value is not None else "-"

    for c, n in cells:
        key = f"{c}x{n}"
        r = ratio(aks.get(key), peer.get(key))
        share = aci[key]["client_cpu_share"]
        extra.add_row(str(c), str(n), cpu(aci.get(key)), cpu(peer.get(key)),
                      f"{share:.2f}" if share is not None else "-", rps(aks.get(key)),
                      f"{r:.2f}x" if r else "-", ms(aks.get(key)), cpu(aks.get(key)))
    console.print(extra)

    ratios = {k: ratio(aci[k], peer.get(k)) for k in aci}
    measured = {k: v for k, v in ratios.items() if v is not None}
    worst = min(measured, key=measured.get) if measured else None
    ratio_ok = (measured[worst] >= TARGET_RATIO) if worst else None
    p99_cell = aci.get("8x1")
    p99_ok = (p99_cell["p99_ms"] < TARGET_P99_MS) if p99_cell and p99_cell["p99_ms"] else None
    shown = (f"lowest {measured[worst]:.2f}x ({worst.replace('x', ' clients x ')} rows), "
             f"highest {max(measured.values()):.2f}x" if worst else "not measured")
    console.print(f"Target: Plinth ACI >= {TARGET_RATIO:.0f}x MLflow's requests/s in every "
                  f"cell: {shown} {verdict(ratio_ok)}", highlight=False)
    console.print(f"Target: p99 < {TARGET_P99_MS:.0f} ms, single rows, 8 clients: "
                  + (f"{p99_cell['p99_ms']:.1f} ms" if p99_cell else "not measured")
                  + f" {verdict(p99_ok)}", highlight=False)
    cpu_ratios = [p["server_cpu_ms_per_request"] / a["server_cpu_ms_per_request"]
                  for k, a in aci.items() if (p := peer.get(k))
                  and p["server_cpu_ms_per_request"] and a["server_cpu_ms_per_request"]]
    if cpu_ratios:
        console.print(f"MLflow's server CPU per request over Plinth ACI's: "
                      f"{min(cpu_ratios):.2f}x to {max(cpu_ratios):.2f}x (what the servers "
                      "cost, without the load generator's share).", highlight=False)
    if aks_error:
        console.print(f"AKS not measured: {aks_error}", highlight=False)
    console.print("Ready in (deploy or start until answering): " + ", ".join(
        f"{s.label} {s.ready_s:.1f} s" for s in servers.values()), highlight=False)
    http = ("httptools, uvloop" if args.mlflow_fast_http else
            "h11, asyncio: plain `pip install mlflow` has neither httptools nor uvloop")
    console.print("Servers: Plinth ACI, 1 host process (uvicorn, httptools, uvloop); MLflow: "
                  "mlflow models serve --env-manager local -w 1 (1 uvicorn process, "
                  f"{http}), body {args.mlflow_format}.", highlight=False)
    console.print(f"Note: the load generator runs on the same {os.cpu_count()} CPUs as the "
                  "servers ('load gen' above): at 8 and 32 clients they compete for them, and "
                  "client threads wait for the GIL, which adds to every server's latency "
                  f"alike. Load average before: {load_before[0]:.1f}, after: "
                  f"{os.getloadavg()[0]:.1f}.", highlight=False)
    for server in servers.values():
        for note in server.notes:
            console.print(f"note: {server.label}: {note}", highlight=False)

    errors = {f"{key} {cell}": r["first_errors"] for key, cells_ in results.items()
              for cell, r in cells_.items() if r["errors"]}
    path = write_result(NAME, {
        "benchmark": NAME,
        "machine": machine_info(),
        "load_average_before": load_before,
        "parameters": vars(args),
        "servers": {key: {"label": s.label, "ready_s": s.ready_s, "notes": s.notes}
                    for key, s in servers.items()},
        "mlflow_versions": peer_versions,
        "results": results,
        "ratios": ratios,
        "aks_error": aks_error,
        "mlflow_error": peer_error,
        "wrong_answers": wrong,
        "errors": errors,
        "targets": {"x_mlflow_rps": TARGET_RATIO, "p99_ms_8_clients_1_row": TARGET_P99_MS,
                    "x_mlflow_rps_met": ratio_ok, "p99_met": p99_ok},
    })
    console.print(f"Result written to {path}")
    for where, first in errors.items():
        console.print(f"[red]error:[/] {where} answered errors during the load, e.g. {first}",
                      highlight=False)
    if peer_error:
        console.print("[red]error:[/] the MLflow peer could not be measured:")
        console.print(peer_error, markup=False, highlight=False)
    if wrong or errors:
        return 1
    return 2 if not args.no_mlflow and "mlflow" not in results else 0


if __name__ == "__main__":
    sys.exit(main())
