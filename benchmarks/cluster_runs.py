"""Cluster runs: scheduling overhead and throughput of short runs on an AmlCompute target.

Plinth: ``--runs`` runs of a script that does almost nothing, submitted at once with
``experiment.submit(ScriptRunConfig(..., compute_target=cluster))`` to an ``AmlCompute``
target with ``max_nodes=--max-nodes``, which runs them on a local Ray cluster that this
script starts under a temp ``PLINTH_HOME`` (its start is timed and reported, not counted)
and stops at the end. Peer: the same runs with ``compute_target='local'`` (a worker per run
on this machine, all at once). Also one run at a time on each (``--single``, interleaved),
which is the per-run overhead of the cluster path without any queueing.

    .venv/bin/python benchmarks/cluster_runs.py [--runs 50] [--max-nodes 2]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _peers import machine_info, write_result

NAME = "cluster_runs"
SCRIPT = "short.py"
IDLE_SECONDS = 3600  # the cluster must outlive the benchmark; the script stops it itself
DRIVER_EXIT_S = 60.0
#: Every run this script submitted, so that it can wait for their drivers to exit.
SUBMITTED: list[str] = []


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def worker_log(run_id: str) -> Path:
    """Where a run's worker (or cluster driver) started as a fresh interpreter writes."""
    return Path(tempfile.gettempdir()) / "plinth-workers" / f"{run_id}.log"


def finish(run, submitted_at: float) -> dict:
    """Wait for ``run``; its times from the run's recorded timestamps."""
    run.wait_for_completion(raise_on_error=False)
    record = run._record
    log = worker_log(run.id)
    failed = record.status != "Completed"
    detail = ""
    if failed:
        detail = str((record.error or {}).get("message", ""))
        if log.exists():
            detail += "\n" + log.read_text(errors="replace")[-1500:]
    log.unlink(missing_ok=True)
    done = record.end_time or time.time()
    return {"status": record.status, "detail": detail,
            "total_s": done - submitted_at,
            "queued_s": (record.start_time or done) - submitted_at,
            "running_s": done - (record.start_time or done),
            "start": record.start_time, "end": record.end_time}


def submit(experiment, config):
    run = experiment.submit(config)
    SUBMITTED.append(run.id)
    return run


def one(experiment, config) -> dict:
    submitted_at = time.time()
    return finish(submit(experiment, config), submitted_at)


def batch(experiment, config, count: int) -> dict:
    """Submit ``count`` runs, then wait for all of them."""
    started = time.perf_counter()
    pending = []
    for _ in range(count):
        pending.append((time.time(), submit(experiment, config)))
    submitted = time.perf_counter()
    runs = [finish(run, at) for at, run in pending]
    ended = time.perf_counter()
    return {"wall_s": ended - started, "submit_all_s": submitted - started, "runs": runs}


def drivers_left(timeout: float) -> int:
    """Wait until no process of a submitted run is left (a cluster run's driver leaves Ray
    after its run is Completed); how many are still there after ``timeout``."""
    import psutil

    ids = set(SUBMITTED)
    deadline = time.monotonic() + timeout
    while True:
        left = 0
        for process in psutil.process_iter(["cmdline"]):
            cmdline = process.info["cmdline"] or []
            if "plinth._execution.cluster" in cmdline and ids.intersection(cmdline):
                left += 1
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.2)


def most_at_once(runs: list[dict]) -> int:
    """The most runs that were Running at the same moment."""
    events = sorted([(r["start"], 1) for r in runs if r["start"] and r["end"]]
                    + [(r["end"], -1) for r in runs if r["start"] and r["end"]])
    now = peak = 0
    for _, step in events:  # at a tie an end (-1) sorts before a start
        now += step
        peak = max(peak, now)
    return peak


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=50, help="runs in each batch (50)")
    parser.add_argument("--max-nodes", type=int, default=2,
                        help="max_nodes of the AmlCompute target (2)")
    parser.add_argument("--vm-size", default="STANDARD_D1_V2",
                        help="vm_size of the target: its CPUs are what each run asks Ray for, "
                             "so max_nodes x CPUs must fit this machine (STANDARD_D1_V2, 1 CPU)")
    parser.add_argument("--single", type=int, default=3,
                        help="runs one at a time on each target, interleaved (3)")
    parser.add_argument("--warmup", type=int, default=1, help="unmeasured runs of each (1)")
    args = parser.parse_args()
    if args.runs < 1 or args.max_nodes < 1 or args.single < 0 or args.warmup < 0:
        parser.error("--runs and --max-nodes must be at least 1, --single and --warmup at least 0")

    import warnings

    from rich.console import Console
    from rich.table import Table

    console = Console()
    if not console.is_terminal:
        console = Console(width=110)  # rich's 80-column default wraps the tables
    tmp = Path(tempfile.mkdtemp(prefix="plinth-bench-cluster-"))
    saved_env = {k: os.environ.get(k) for k in ("PLINTH_HOME", "PLINTH_RAY_ADDRESS")}
    os.environ["PLINTH_HOME"] = str(tmp / "plinth-home")  # its own Ray cluster and slots
    os.environ.pop("PLINTH_RAY_ADDRESS", None)  # else AmlCompute runs go to that cluster

    from plinth._compute import ensure_local_cluster, stop_local_cluster
    from plinth.core import Experiment, ScriptRunConfig, Workspace
    from plinth.core.compute import AmlCompute, ComputeTarget

    targets = ("cluster", "local")
    labels = {"cluster": f"AmlCompute, max_nodes={args.max_nodes}",
              "local": "compute_target='local'"}
    single: dict[str, list[dict]] = {t: [] for t in targets}
    first: dict[str, float] = {}
    batches: dict[str, dict] = {}
    cluster_start_s = None
    try:
        source = tmp / "src"
        source.mkdir()
        (source / SCRIPT).write_text("print('done')\n")
        ws = Workspace.create("bench", path=tmp / "plinth-ws")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            provisioning = AmlCompute.provisioning_configuration(
                vm_size=args.vm_size, max_nodes=args.max_nodes,
                idle_seconds_before_scaledown=IDLE_SECONDS)
        for warning in caught:
            console.print(f"[yellow]note:[/] {warning.message}")
        cluster = ComputeTarget.create(ws, "bench-cluster", provisioning)
        cpus = provisioning.config["cpus"]
        if cpus * args.max_nodes > (os.cpu_count() or 1):
            console.print(f"[yellow]note:[/] {args.max_nodes} runs of {cpus:g} CPUs need more "
                          f"than this machine's {os.cpu_count()} CPUs, so Ray runs fewer at once.")
        configs = {"cluster": ScriptRunConfig(source_directory=str(source), script=SCRIPT,
                                              compute_target=cluster),
                   "local": ScriptRunConfig(source_directory=str(source), script=SCRIPT,
                                            compute_target="local")}
        experiment = Experiment(ws, "cluster-runs")

        console.print("Starting a local Ray cluster ...")
        started = time.perf_counter()
        ensure_local_cluster(IDLE_SECONDS)
        cluster_start_s = time.perf_counter() - started

        console.print(f"{args.warmup} warm-up + {args.single} single runs of each, then "
                      f"{args.runs} runs at once on each ...")
        for i in range(args.warmup):
            for target in targets:
                result = one(experiment, configs[target])
                if i == 0:
                    first[target] = result["total_s"]
        for _ in range(args.single):  # interleaved, so drift in machine load hits both
            for target in targets:
                single[target].append(one(experiment, configs[target]))
        for target in ("local", "cluster"):
            batches[target] = batch(experiment, configs[target], args.runs)
        ws._location.forget()
    finally:
        try:
            # Stopped under a driver that is still leaving Ray, the cluster keeps that driver
            # retrying for a while: wait for them (not counted).
            started = time.perf_counter()
            lingering = drivers_left(DRIVER_EXIT_S)
            drivers_exit_s = time.perf_counter() - started
        finally:
            try:
                stop_local_cluster()
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
                for key, value in saved_env.items():
                    if value is None:
                        os.environ.pop(key, None)
                    else:
                        os.environ[key] = value
    if lingering:
        console.print(f"[yellow]warning:[/] {lingering} cluster driver(s) were still running "
                      f"{DRIVER_EXIT_S:g} s after the runs ended, when the cluster was stopped.")

    failures = [r for t in targets for r in single[t] + batches[t]["runs"]
                if r["status"] != "Completed"]

    stats: dict[str, dict] = {}
    for target in targets:
        b = batches[target]
        totals = [r["total_s"] for r in b["runs"]]
        stats[target] = {
            "wall_s": b["wall_s"], "submit_all_s": b["submit_all_s"],
            "runs_per_s": args.runs / b["wall_s"],
            "median_s": statistics.median(totals), "p90_s": percentile(totals, 90),
            "median_running_s": statistics.median(r["running_s"] for r in b["runs"]),
            "most_at_once": most_at_once(b["runs"]),
            **{f"single_{key}": (statistics.median(r[key] for r in single[target])
                                 if single[target] else None)
               for key in ("total_s", "queued_s", "running_s")},
            "first_run_s": first.get(target),
        }
    c, lo = stats["cluster"], stats["local"]

    table = Table(title=f"Plinth: {args.runs} short runs submitted at once, then waited for "
                        f"({os.cpu_count()} CPUs)")
    for column in ("how", "wall s", "runs/s", "submit all s", "median s", "p90 s",
                   "running s", "x local"):
        table.add_column(column, justify="left" if column == "how" else "right")
    for target in targets:
        s = stats[target]
        name = f"[bold]{labels[target]}[/]" if target == "cluster" else labels[target]
        table.add_row(name, f"{s['wall_s']:.1f}", f"{s['runs_per_s']:.2f}",
                      f"{s['submit_all_s']:.1f}", f"{s['median_s']:.1f}", f"{s['p90_s']:.1f}",
                      f"{s['median_running_s']:.2f}", f"{s['wall_s'] / lo['wall_s']:.1f}x")
    console.print(table)
    console.print("wall s: first submit() to the last run noticed Completed; median s, p90 s: "
                  "submit() to Completed of each run; running s: Running to Completed (median).")

    if args.single:
        alone = Table(title=f"Plinth: one run at a time, submit to Completed "
                            f"(median of {args.single})")
        for column in ("how", "median s", "to Running s", "running s", "first run s",
                       "added s"):
            alone.add_column(column, justify="left" if column == "how" else "right")
        for target in targets:
            s = stats[target]
            added = s["single_total_s"] - lo["single_total_s"]
            alone.add_row(labels[target], f"{s['single_total_s']:.2f}",
                          f"{s['single_queued_s']:.2f}", f"{s['single_running_s']:.2f}",
                          f"{s['first_run_s']:.2f}" if s["first_run_s"] else "",
                          f"{added:+.2f}" if target == "cluster" else "")
        console.print(alone)
    console.print(f"Starting the local Ray cluster took {cluster_start_s:.1f} s, and the last "
                  f"drivers left it {drivers_exit_s:.1f} s after their runs were noticed "
                  "Completed (neither counted).")
    if c["most_at_once"] > args.max_nodes:
        console.print(f"[red]error:[/] {c['most_at_once']} cluster runs ran at once, more than "
                      f"max_nodes={args.max_nodes}")
    for failure in failures[:3]:
        console.print(f"[red]error:[/] a run ended {failure['status']}: {failure['detail']}")
    if failures:
        console.print(f"[red]{len(failures)} run(s) did not complete.[/]")

    path = write_result(NAME, {
        "benchmark": NAME,
        "machine": machine_info(),
        "parameters": vars(args),
        "labels": labels,
        "cluster_start_s": cluster_start_s,
        "drivers_exit_s": drivers_exit_s,
        "drivers_left": lingering,
        "stats": stats,
        "cluster_over_local_wall": c["wall_s"] / lo["wall_s"],
        "single": single,
        "batches": batches,
        "failures": len(failures),
    })
    console.print(f"Result written to {path}")
    return 1 if failures or c["most_at_once"] > args.max_nodes else 0


if __name__ == "__main__":
    sys.exit(main())
