"""Metric logging throughput: Plinth's ``run.log`` beside MLflow's ``log_metric``/``log_batch``.

Plinth: an interactive run (``Experiment(ws, 'bench').start_logging()``) on an embedded
SQLite workspace in a temp folder; ``run.log('loss', float(i), step=i)`` N times, then
``run.complete()``, which writes what is still buffered. The headline rate is points per
second for the loop plus ``complete()``; every point is checked to be stored.

MLflow: the same loop with ``mlflow.log_metric`` against a SQLite tracking store, and with
``MlflowClient().log_batch`` (1000 metrics a call), run in benchmarks/.venv-mlflow (built on
first use). MLflow's per-call logging is slow, so it logs fewer points; rates are compared.

    .venv/bin/python benchmarks/metric_logging.py [--points 200000] [--mlflow-points 2000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _peers import (
    PeerUnavailable,
    machine_info,
    peer_python,
    run_json,
    verdict,
    write_result,
)

NAME = "metric_logging"
TARGET_RATE = 100_000  # points/s, loop + flush
TARGET_RATIO = 10.0  # x MLflow's log_metric
PEER_SCRIPT = Path(__file__).resolve().parent / "_mlflow_peer.py"


def bench_plinth(tmp: Path, points: int, repeat: int) -> list[dict]:
    """``repeat`` runs of ``points`` ``run.log`` calls each, on one fresh workspace."""
    os.environ["PLINTH_HOME"] = str(tmp / "plinth-home")  # keep ~/.plinth's registry clean
    from plinth.core import Experiment, Workspace

    ws = Workspace.create("bench", path=tmp / "plinth-ws")
    experiment = Experiment(ws, "bench")
    results = []
    for _ in range(repeat):
        run = experiment.start_logging()
        log = run.log
        cpu, started = time.process_time(), time.perf_counter()
        for i in range(points):
            log("loss", float(i), step=i)
        looped = time.perf_counter()
        run.complete()
        ended, cpu = time.perf_counter(), time.process_time() - cpu
        stored = run.get_metrics(name="loss").get("loss", [])
        stored = stored if isinstance(stored, list) else [stored]
        # Each point's value is its step, so the values say which points are missing.
        missing = sorted(set(range(points)) - {int(v) for v in stored})
        results.append({"points": points, "loop_s": looped - started,
                        "total_s": ended - started, "cpu_s": cpu, "run_id": run.id,
                        "stored": len(stored), "missing_steps": missing[:20]})
    ws._location.forget()  # close the store before its folder is deleted
    return results


def bench_mlflow(tmp: Path, points: int, batch_points: int, batch_size: int,
                 repeat: int) -> dict:
    python = peer_python("mlflow", ["mlflow"], "mlflow")
    cmd = [str(python), str(PEER_SCRIPT), "--db", str(tmp / "mlflow.db"),
           "--points", str(points), "--batch-points", str(batch_points),
           "--batch-size", str(batch_size), "--repeat", str(repeat)]
    env = {**os.environ, "GIT_PYTHON_REFRESH": "quiet"}
    env.pop("VIRTUAL_ENV", None)
    # MLflow's per-call path is ~10 ms a point on a slow machine; allow generously.
    budget = 600 + repeat * (points * 0.1 + batch_points * 0.01)
    # cwd: MLflow puts a run's artifacts under ./mlruns by default; keep them in the temp dir.
    return run_json(cmd, "The MLflow benchmark", timeout=budget, env=env, cwd=tmp)


def median_run(runs: list[dict]) -> dict:
    """The run with the median total time, plus the spread of all runs."""
    ordered = sorted(runs, key=lambda r: r["total_s"])
    chosen = dict(ordered[(len(ordered) - 1) // 2])
    chosen["rate"] = chosen["points"] / chosen["total_s"]
    chosen["loop_rate"] = chosen["points"] / chosen["loop_s"]
    chosen["all_total_s"] = [r["total_s"] for r in runs]
    return chosen


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=200_000, help="Plinth points per run")
    parser.add_argument("--repeat", type=int, default=3,
                        help="Plinth runs; the median is reported (default 3)")
    parser.add_argument("--mlflow-points", type=int, default=2_000,
                        help="points for mlflow.log_metric (default 2000; 0 skips it)")
    parser.add_argument("--mlflow-batch-points", type=int, default=20_000,
                        help="points for MlflowClient.log_batch (default 20000; 0 skips it)")
    parser.add_argument("--batch-size", type=int, default=1000, help="metrics per log_batch")
    parser.add_argument("--mlflow-repeat", type=int, default=1,
                        help="MLflow runs of each kind; the median is reported (default 1)")
    parser.add_argument("--no-mlflow", action="store_true", help="measure Plinth only")
    args = parser.parse_args()
    if args.points < 1 or args.repeat < 1 or args.mlflow_repeat < 1:
        parser.error("--points, --repeat and --mlflow-repeat must be at least 1")

    from rich.console import Console
    from rich.table import Table

    console = Console()
    if not console.is_terminal:
        console = Console(width=110)  # rich's 80-column default wraps the tables
    tmp = Path(tempfile.mkdtemp(prefix="plinth-bench-metrics-"))
    peer_error = None
    try:
        console.print(f"Plinth: {args.repeat} x {args.points:,} run.log calls ...")
        plinth_runs = bench_plinth(tmp, args.points, args.repeat)
        plinth = median_run(plinth_runs)
        mlflow: dict = {}
        if not args.no_mlflow:
            console.print(f"MLflow: {args.mlflow_points:,} log_metric calls, "
                          f"{args.mlflow_batch_points:,} points by log_batch "
                          f"({args.batch_size}/call) ...")
            try:
                mlflow = bench_mlflow(tmp, args.mlflow_points, args.mlflow_batch_points,
                                      args.batch_size, args.mlflow_repeat)
            except PeerUnavailable as exc:
                peer_error = str(exc)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    peers = {}
    for kind in ("log_metric", "log_batch"):
        if mlflow.get(kind):
            peers[kind] = median_run(mlflow[kind])

    table = Table(caption="Plinth / this: Plinth's loop + complete() rate over the row's rate. "
                          "CPU s: the process's CPU time, a check on a busy machine.",
                  title=f"Metric logging throughput ({os.cpu_count()} CPUs, SQLite)")
    for column in ("tool", "points", "seconds", "CPU s", "points/s", "Plinth / this"):
        table.add_column(column, justify="left" if column == "tool" else "right")
    table.add_row("Plinth run.log, loop only", f"{plinth['points']:,}",
                  f"{plinth['loop_s']:.3f}", "", f"{plinth['loop_rate']:,.0f}", "")
    table.add_row("[bold]Plinth run.log + complete()[/]", f"{plinth['points']:,}",
                  f"{plinth['total_s']:.3f}", f"{plinth['cpu_s']:.3f}",
                  f"[bold]{plinth['rate']:,.0f}[/]", "1.0x")
    labels = {"log_metric": "MLflow log_metric + end_run",
              "log_batch": f"MLflow log_batch x{mlflow.get('batch_size')} + end"}
    ratios = {}
    for kind, peer in peers.items():
        ratios[kind] = plinth["rate"] / peer["rate"]
        table.add_row(labels[kind], f"{peer['points']:,}", f"{peer['total_s']:.3f}",
                      f"{peer['cpu_s']:.3f}", f"{peer['rate']:,.0f}", f"{ratios[kind]:,.1f}x")
    console.print(table)

    rate_ok = plinth["rate"] >= TARGET_RATE
    ratio_ok = ratios["log_metric"] >= TARGET_RATIO if "log_metric" in ratios else None
    console.print(f"Target: >= {TARGET_RATE:,} points/s (loop + flush): "
                  f"{plinth['rate']:,.0f} {verdict(rate_ok)}")
    shown = f"{ratios['log_metric']:,.1f}x" if "log_metric" in ratios else "not measured"
    console.print(f"Target: >= {TARGET_RATIO:.0f}x MLflow log_metric: {shown} {verdict(ratio_ok)}")
    if args.repeat > 1:
        spread = ", ".join(f"{args.points / s:,.0f}" for s in plinth["all_total_s"])
        console.print(f"Plinth points/s of each run (loop + flush): {spread}")

    path = write_result(NAME, {
        "benchmark": NAME,
        "machine": machine_info(),
        "parameters": vars(args),
        "plinth": plinth,
        "plinth_runs": plinth_runs,
        "plinth_points_lost": sum(r["points"] - r["stored"] for r in plinth_runs),
        "mlflow_version": mlflow.get("mlflow_version"),
        "mlflow": peers,
        "mlflow_error": peer_error,
        "ratios": ratios,
        "targets": {"points_per_s": TARGET_RATE, "x_mlflow_log_metric": TARGET_RATIO,
                    "points_per_s_met": rate_ok, "x_mlflow_log_metric_met": ratio_ok},
    })
    console.print(f"Result written to {path}")
    lost = [r for r in plinth_runs if r["stored"] != r["points"]]
    for r in lost:
        console.print(f"[red]error:[/] Plinth stored {r['stored']:,} of {r['points']:,} points "
                      f"of run {r['run_id']} (missing steps: {r['missing_steps']}); its "
                      "throughput is not valid.", highlight=False)
    if peer_error:
        console.print("[red]error:[/] the MLflow peer could not be measured:")
        console.print(peer_error, markup=False, highlight=False)
    return 1 if lost else 2 if peer_error else 0


if __name__ == "__main__":
    sys.exit(main())
