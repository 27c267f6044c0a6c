"""HyperDrive sweeps: what a sweep costs per child, what early termination saves, and how well
Bayesian sampling searches, each beside a peer measured in the same run.

Three parts (``--part overhead|termination|quality|all``, default all), on an embedded SQLite
workspace in a temp folder with ``PLINTH_HOME`` inside it:

* overhead: a grid of ``--children`` (24) trivial children (each logs one metric and exits),
  ``max_concurrent_runs=2``, timed from ``submit()`` until ``wait_for_completion()`` returns,
  beside the same script run as plain ``python`` processes, one after the other and two at a
  time (a 2-worker pool of subprocesses). Target: under 0.3 s added per child.
* termination: a learning-curve script (a deterministic function of its hyperparameters and
  step, sleeping ``--step-seconds`` per step), a random sweep of ``--trials`` (12) children,
  3 at a time, run with no policy, a BanditPolicy and a MedianStoppingPolicy: compute used
  and saved, wall time, and whether the best run is still found. Peer: Optuna's MedianPruner
  on the same points, in process.
* quality: Bayesian vs random sampling of the Branin function (known minimum 0.397887) with
  ``--budget`` (16) children, 2 at a time: best loss and regret, from ``--quality-seeds`` (2)
  sweeps of each and, over ``--sampler-seeds`` (30) seeds, from Plinth's samplers called in
  process as the sweep's driver calls them. Peer: Optuna's TPE (and its random sampler) in
  process with the same budget and seeds.

    .venv/bin/python benchmarks/hyperdrive_sweeps.py [--part all]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _peers import load_note, machine_info, verdict, write_result

NAME = "hyperdrive_sweeps"
TARGET_OVERHEAD_S = 0.3
SWEEP_TIMEOUT_S = 600.0
BRANIN_MIN = 0.397887

#: Both the children and the in-process peers import this (written as objectives.py).
OBJECTIVES = '''\
"""The functions the benchmark's children compute; the Optuna peers run the same ones."""
import math
import random


def final_score(lr, dropout):
    """Where the learning curve ends: best at lr=0.01, dropout=0.25."""
    return 0.95 - 0.1 * (math.log10(lr) + 2) ** 2 - 1.5 * (dropout - 0.25) ** 2


def time_constant(lr, dropout):
    """How many steps the curve takes to rise: small learning rates and dropout are slower."""
    return 1.5 + 4 * dropout + 1.5 * max(0.0, -math.log10(lr) - 2)


def score(lr, dropout, step):
    """The curve at ``step`` (1, 2, ...), with a little noise that depends only on the inputs."""
    noise = random.Random(f"{lr!r}/{dropout!r}/{step}").gauss(0, 0.005)
    rise = 1 - math.exp(-step / time_constant(lr, dropout))
    return final_score(lr, dropout) * rise + noise


def branin(x1, x2):
    """The Branin function on x1 in [-5, 10], x2 in [0, 15]; its minimum is 0.397887."""
    b, c, t = 5.1 / (4 * math.pi ** 2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1 ** 2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10
'''

TRIVIAL = """\
import argparse
from plinth.core import Run

parser = argparse.ArgumentParser()
parser.add_argument("--i", type=int)
args = parser.parse_args()
Run.get_context().log("value", args.i * 0.5)
"""

CURVE = """\
import argparse, time
from objectives import score
from plinth.core import Run

parser = argparse.ArgumentParser()
parser.add_argument("--steps", type=int)
parser.add_argument("--step-seconds", type=float)
parser.add_argument("--lr", type=float)
parser.add_argument("--dropout", type=float)
args = parser.parse_args()
run = Run.get_context()
for step in range(1, args.steps + 1):
    time.sleep(args.step_seconds)  # the compute of one epoch
    run.log("score", score(args.lr, args.dropout, step))
    run.flush()
"""

BRANIN = """\
import argparse
from objectives import branin
from plinth.core import Run

parser = argparse.ArgumentParser()
parser.add_argument("--x1", type=float)
parser.add_argument("--x2", type=float)
args = parser.parse_args()
Run.get_context().log("loss", branin(args.x1, args.x2))
"""

LR_BOUNDS = (math.log(1e-4), math.log(0.5))  # loguniform's bounds are exponents
DROPOUT_BOUNDS = (0.0, 0.6)
X1_BOUNDS, X2_BOUNDS = (-5.0, 10.0), (0.0, 15.0)


class SweepProblem(RuntimeError):
    """A sweep did not finish, or its children ended in a way the benchmark cannot use."""


# --- shared ---------------------------------------------------------------------------------


def load_objectives(source: Path):
    spec = importlib.util.spec_from_file_location("objectives", source / "objectives.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def driver_log(ws, run_id: str) -> str:
    try:
        data = ws._location.artifacts().read_bytes(f"runs/{run_id}/logs/driver.log")
    except Exception as exc:  # noqa: BLE001 - only for a diagnostic
        return f"(no driver log: {exc!r})"
    return data.decode(errors="replace")


def run_sweep(ws, experiment, source: Path, script: str, sampling, metric: str, goal: str,
              total: int, concurrent: int, policy=None, arguments=None) -> dict[str, Any]:
    """Submit one sweep, wait for it (cancelled after SWEEP_TIMEOUT_S), describe it."""
    from plinth.core import ScriptRunConfig
    from plinth.train.hyperdrive import HyperDriveConfig

    config = HyperDriveConfig(
        run_config=ScriptRunConfig(source_directory=str(source), script=script,
                                   arguments=list(arguments or [])),
        hyperparameter_sampling=sampling, primary_metric_name=metric,
        primary_metric_goal=goal, max_total_runs=total, max_concurrent_runs=concurrent,
        policy=policy)
    wall0, started = time.time(), time.perf_counter()
    run = experiment.submit(config)
    submitted = time.perf_counter()
    # wait_for_completion has no timeout: wait in a thread, so a stuck sweep is reported.
    waiter = threading.Thread(target=run.wait_for_completion, daemon=True,
                              kwargs={"show_output": False, "raise_on_error": False})
    waiter.start()
    waiter.join(SWEEP_TIMEOUT_S)
    ended, wall2 = time.perf_counter(), time.time()
    stuck = waiter.is_alive()
    if stuck:
        run.cancel()
        waiter.join(60.0)
    children = sorted(run.get_children(), key=lambda c: int(c.id.rpartition("_")[2]))
    status = run.get_status()
    if stuck or status != "Completed":
        states = ", ".join(f"{c.id.rpartition('_')[2]}:{c.get_status()}" for c in children)
        how = ""
        if stuck:
            how = (f" after the benchmark cancelled it at {SWEEP_TIMEOUT_S:.0f} s"
                   + (" (wait_for_completion still had not returned 60 s later)"
                      if waiter.is_alive() else ""))
        raise SweepProblem(
            f"sweep {run.id} ended {status}{how}; {len(children)} children: {states}\n"
            f"--- driver log ---\n{driver_log(ws, run.id)[-3000:]}")
    rows = []
    for child in children:
        record = child._record
        values = child.get_metrics(metric).get(metric)
        series = values if isinstance(values, list) else ([] if values is None else [values])
        rows.append({
            "id": child.id,
            "params": json.loads(record.tags.get("hyperparameters", "{}")),
            "status": record.status,
            "terminated_by": record.properties.get("plinth.terminatedBy"),
            "created": record.created_at, "start": record.start_time, "end": record.end_time,
            "series": [float(v) for v in series],
        })
    record = run._record
    return {"run": run, "id": run.id, "seconds": ended - started,
            "submit_s": submitted - started, "wall0": wall0, "wall_end": wall2,
            "parent_start": record.start_time, "parent_end": record.end_time,
            "children": rows}


def point_key(params: dict[str, Any]) -> tuple:
    return tuple(sorted(params.items()))


def saving(text: str, used: float, whole: float) -> str:
    """``text`` and, where ``used`` is below ``whole``, the share saved: ``149 (-38%)``."""
    if not whole or used >= whole:
        return text
    return f"{text} (-{100 * (whole - used) / whole:.0f}%)"



def make_table(title: str, columns: list[str]):
    from rich.table import Table

    table = Table(title=title)
    for i, column in enumerate(columns):
        table.add_column(column, justify="left" if i == 0 else "right")
    return table


# --- part 1: overhead -----------------------------------------------------------------------


def plain_once(source: Path, i: int) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "trivial.py", "--i", str(i)], cwd=source, check=True,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def plain_all(source: Path, n: int, workers: int) -> tuple[float, list[float]]:
    started = time.perf_counter()
    if workers == 1:
        each = [plain_once(source, i) for i in range(n)]
    else:
        with ThreadPoolExecutor(workers) as pool:
            each = list(pool.map(lambda i: plain_once(source, i), range(n)))
    return time.perf_counter() - started, each


def slot_gaps(children: list[dict], concurrent: int) -> list[float]:
    """For each child started after the first ``concurrent``: its creation minus the end of
    the child whose slot it took (the j-th earliest end frees the slot of start j+c)."""
    starts = sorted(c["created"] for c in children)
    ends = sorted(c["end"] for c in children)
    return [starts[j] - ends[j - concurrent] for j in range(concurrent, len(starts))]


def part_overhead(args, console, ws, experiment, source: Path) -> dict[str, Any]:
    from plinth.core import ScriptRunConfig
    from plinth.train.hyperdrive import GridParameterSampling, PrimaryMetricGoal, choice

    n, c = args.children, 2
    console.print(f"\n[bold]overhead[/]: a grid of {n} trivial children, {c} at a time, "
                  f"beside plain python; {args.overhead_repeats} round(s) after a warm-up")
    load = load_note(console)
    # Warm-up: starts the worker launcher and fills the OS caches for both sides.
    experiment.submit(ScriptRunConfig(source_directory=str(source), script="trivial.py",
                                      arguments=["--i", "0"])).wait_for_completion()
    plain_once(source, 0)
    sweeps, sequential, parallel = [], [], []
    plain_each: list[float] = []

    def one_sweep() -> None:
        sampling = GridParameterSampling({"--i": choice(list(range(n)))})
        sweep = run_sweep(ws, experiment, source, "trivial.py", sampling, "value",
                          PrimaryMetricGoal.MAXIMIZE, n, c)
        statuses = [ch["status"] for ch in sweep["children"]]
        if len(statuses) != n or set(statuses) != {"Completed"}:
            raise SweepProblem(f"overhead sweep {sweep['id']}: expected {n} Completed children,"
                               f" got {statuses}")
        sweeps.append(sweep)

    def one_sequential() -> None:
        seconds, each = plain_all(source, n, 1)
        sequential.append(seconds)
        plain_each.extend(each)

    def one_parallel() -> None:
        parallel.append(plain_all(source, n, c)[0])

    for round_ in range(args.overhead_repeats):  # interleaved, so load drift hits all three
        order = [one_sweep, one_sequential, one_parallel]
        for measure in order if round_ % 2 == 0 else reversed(order):
            measure()

    # Best of the rounds: on a shared machine the least disturbed round is the fairest.
    sweep_s = min(s["seconds"] for s in sweeps)
    seq_s, par_s = min(sequential), min(parallel)
    per_child = (sweep_s - par_s) / n
    table = make_table(f"Overhead: {n} trivial children, {c} at a time ({os.cpu_count()} CPUs, "
                       f"best and median of {args.overhead_repeats} rounds)",
                       ["how", "best s", "median s", "best s per child", "x plain 2-at-a-time"])
    for label, best, values in (
            ("[bold]Plinth sweep, submit to completion[/]", sweep_s,
             [s["seconds"] for s in sweeps]),
            ("plain python, one after the other", seq_s, sequential),
            ("plain python, 2-worker pool (peer)", par_s, parallel)):
        table.add_row(label, f"{best:.2f}", f"{statistics.median(values):.2f}",
                      f"{best / n:.3f}", f"{best / par_s:.2f}x")
    console.print(table)

    phases: dict[str, list[float]] = {k: [] for k in (
        "submit", "to_driver", "first_child", "gap", "to_running", "child", "last_end",
        "notice")}
    for s in sweeps:
        ch = s["children"]
        phases["submit"].append(s["submit_s"])
        phases["to_driver"].append(s["parent_start"] - s["wall0"] - s["submit_s"])
        phases["first_child"].append(min(x["created"] for x in ch) - s["parent_start"])
        phases["gap"] += slot_gaps(ch, c)
        phases["to_running"] += [x["start"] - x["created"] for x in ch]
        phases["child"] += [x["end"] - x["start"] for x in ch]
        phases["last_end"].append(s["parent_end"] - max(x["end"] for x in ch))
        phases["notice"].append(s["wall_end"] - s["parent_end"])
    medians = {k: statistics.median(v) for k, v in phases.items()}
    labels = {
        "submit": "submit() returns",
        "to_driver": "then the sweep's driver sets Running",
        "first_child": "then the first child is created",
        "gap": "a child ends -> the next is created (per child)",
        "to_running": "a child is created -> Running (per child)",
        "child": "a child Running -> ended (per child)",
        "last_end": "the last child ends -> the sweep Completed",
        "notice": "then wait_for_completion() returns",
    }
    breakdown = make_table("Where the sweep's time goes (median s)", ["phase", "seconds"])
    for key, label in labels.items():
        breakdown.add_row(label, f"{medians[key]:.3f}")
    breakdown.add_row("[dim]plain python trivial.py (per script)[/]",
                      f"[dim]{statistics.median(plain_each):.3f}[/]")
    console.print(breakdown)
    ok = per_child < TARGET_OVERHEAD_S
    if par_s >= 0.9 * seq_s:
        console.print("[yellow]note:[/] two plain scripts at a time were hardly faster than one "
                      "after the other: the CPUs were saturated, so the overhead figure says "
                      "little; run the part again on a quieter machine.")
    console.print(f"Overhead per child = (sweep - plain 2-at-a-time) / {n}, best rounds = "
                  f"{per_child:.3f} s; sweep / plain 2-at-a-time = {sweep_s / par_s:.2f}x, "
                  f"sweep / plain sequential = {sweep_s / seq_s:.2f}x")
    return {"children": n, "max_concurrent_runs": c, "repeats": args.overhead_repeats,
            "load_average": load,
            "sweep_s": [s["seconds"] for s in sweeps], "plain_sequential_s": sequential,
            "plain_2_parallel_s": parallel, "sweep_best_s": sweep_s,
            "plain_sequential_best_s": seq_s, "plain_2_parallel_best_s": par_s,
            "overhead_per_child_s": per_child, "ratio_vs_plain_2_parallel": sweep_s / par_s,
            "ratio_vs_plain_sequential": sweep_s / seq_s, "phases_median_s": medians,
            "target_per_child_s_below": TARGET_OVERHEAD_S, "met": ok}


# --- part 2: termination --------------------------------------------------------------------


def summarise_termination(sweep: dict, steps: int) -> dict[str, Any]:
    ch = sweep["children"]
    compute = sum(x["end"] - x["start"] for x in ch)
    executed = sum(len(x["series"]) for x in ch)
    completed = [x for x in ch if x["status"] == "Completed" and len(x["series"]) == steps]
    best = max(completed, key=lambda x: x["series"][-1], default=None)
    api_best = sweep["run"].get_best_run_by_primary_metric()
    problems = []
    for x in ch:
        if x["status"] == "Canceled" and not x["terminated_by"]:
            problems.append(f"{x['id']} Canceled without plinth.terminatedBy")
        elif x["status"] == "Failed":
            problems.append(f"{x['id']} Failed")
        elif x["status"] == "Completed" and len(x["series"]) != steps:
            problems.append(f"{x['id']} Completed with {len(x['series'])} of {steps} steps")
    late = [x["id"] for x in ch if x["terminated_by"] and x["status"] != "Canceled"]
    stopped = [x for x in ch if x["status"] == "Canceled" and x["terminated_by"]]
    decided = [int(m.group(1)) for x in stopped
               for m in [re.search(r"interval (\d+)", x["terminated_by"])] if m]
    late_steps = sum(len(x["series"]) for x in stopped) - sum(decided)
    return {
        "id": sweep["id"], "seconds": sweep["seconds"], "compute_s": compute,
        "steps_executed": executed, "stopped": len(stopped),
        "stopped_at_steps": sorted(len(x["series"]) for x in stopped),
        "decided_at_steps": sorted(decided),
        "late_steps": late_steps if len(decided) == len(stopped) else None,
        "best_params": best["params"] if best else None,
        "best_final": best["series"][-1] if best else None,
        "api_best_params": json.loads(api_best._record.tags["hyperparameters"])
        if api_best else None,
        "points": [x["params"] for x in ch], "problems": problems,
        "terminated_but_not_canceled": late,
        "reasons": sorted({(x["terminated_by"] or "").split(":")[0] for x in stopped}),
    }


def optuna_median(points: list[dict], objectives, steps: int, startup: int,
                  warmup: int) -> dict[str, Any]:
    """The same points through Optuna's MedianPruner, in process, one trial at a time."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)

    def study_with(pruner) -> tuple[Any, float]:
        study = optuna.create_study(direction="maximize", pruner=pruner,
                                    sampler=optuna.samplers.RandomSampler(seed=0))
        for p in points:
            study.enqueue_trial({"lr": p["--lr"], "dropout": p["--dropout"]})

        def objective(trial):
            lr = trial.suggest_float("lr", math.exp(LR_BOUNDS[0]), math.exp(LR_BOUNDS[1]),
                                     log=True)
            dropout = trial.suggest_float("dropout", *DROPOUT_BOUNDS)
            value = None
            for step in range(1, steps + 1):
                value = objectives.score(lr, dropout, step)
                trial.report(value, step)
                if trial.should_prune():
                    raise optuna.TrialPruned()
            return value

        started = time.perf_counter()
        study.optimize(objective, n_trials=len(points))
        return study, time.perf_counter() - started

    pruned, seconds = study_with(optuna.pruners.MedianPruner(
        n_startup_trials=startup, n_warmup_steps=warmup, interval_steps=1))
    unpruned, _ = study_with(optuna.pruners.NopPruner())
    trials = pruned.trials
    executed = sum(len(t.intermediate_values) for t in trials)
    stopped = [t for t in trials if t.state == optuna.trial.TrialState.PRUNED]
    best = pruned.best_trial
    same_points = all(
        math.isclose(t.params["lr"], p["--lr"]) and math.isclose(t.params["dropout"],
                                                                 p["--dropout"])
        for t, p in zip(trials, points, strict=True))
    return {"steps_executed": executed, "steps_unpruned": len(points) * steps,
            "stopped": len(stopped),
            "stopped_at_steps": sorted(len(t.intermediate_values) for t in stopped),
            "best_params": {"--lr": best.params["lr"], "--dropout": best.params["dropout"]},
            "best_final": best.value,
            "unpruned_best_params": {"--lr": unpruned.best_trial.params["lr"],
                                     "--dropout": unpruned.best_trial.params["dropout"]},
            "same_points": same_points, "seconds": seconds}


def part_termination(args, console, ws, experiment, source: Path) -> dict[str, Any]:
    from plinth.train.hyperdrive import (
        BanditPolicy,
        MedianStoppingPolicy,
        PrimaryMetricGoal,
        RandomParameterSampling,
        loguniform,
        uniform,
    )

    n, c, steps = args.trials, 3, args.steps
    console.print(f"\n[bold]termination[/]: a random sweep of {n} learning curves ({steps} "
                  f"steps of {args.step_seconds} s), {c} at a time: no policy, "
                  "BanditPolicy(slack_factor=0.15, evaluation_interval=1, delay_evaluation=5), "
                  "MedianStoppingPolicy(evaluation_interval=1, delay_evaluation=5); peer "
                  "Optuna's MedianPruner on the same points")
    load = load_note(console)
    space = {"--lr": loguniform(*LR_BOUNDS), "--dropout": uniform(*DROPOUT_BOUNDS)}
    policies = {  # the row labels: the policy's evaluation starts at report 5
        "no policy": None,
        "Bandit": BanditPolicy(slack_factor=0.15, evaluation_interval=1, delay_evaluation=5),
        "MedianStopping": MedianStoppingPolicy(evaluation_interval=1, delay_evaluation=5),
    }
    results = {}
    for label, policy in policies.items():
        sweep = run_sweep(ws, experiment, source, "curve.py",
                          RandomParameterSampling(space, seed=args.seed), "score",
                          PrimaryMetricGoal.MAXIMIZE, n, c, policy=policy,
                          arguments=["--steps", steps, "--step-seconds", args.step_seconds])
        results[label] = summarise_termination(sweep, steps)
        console.print(f"  {label}: {sweep['seconds']:.1f} s, "
                      f"{results[label]['stopped']} stopped")
    base = results["no policy"]
    objectives = load_objectives(source)
    peer = optuna_median(base["points"], objectives, steps, startup=c, warmup=5)

    problems = [f"{label}: {p}" for label, r in results.items() for p in r["problems"]]
    if base["stopped"]:
        problems.append(f"no policy: {base['stopped']} children were stopped")
    for label, r in results.items():
        if [point_key(p) for p in r["points"]] != [point_key(p) for p in base["points"]]:
            problems.append(f"{label}: sampled other points than the no-policy sweep")

    index = {point_key(p): i for i, p in enumerate(base["points"])}

    def which(params: dict | None) -> str:
        return f"#{index[point_key(params)]}" if params else "-"

    table = make_table(
        f"Early termination: {n} random children, {c} at a time, {steps} steps of "
        f"{args.step_seconds} s. compute = sum of children's Running->ended; late = steps "
        "logged after the policy's decision; best = highest final value (#child); API = "
        "get_best_run_by_primary_metric()",
        ["how", "stopped", "steps run", "late", "compute s", "wall s", "best", "same best",
         "API best"])
    for label, r in results.items():
        same = point_key(r["best_params"] or {}) == point_key(base["best_params"] or {})
        api_same = (point_key(r["api_best_params"] or {})
                    == point_key(base["api_best_params"] or {}))
        table.add_row(
            f"Plinth, {label}", str(r["stopped"]),
            saving(str(r["steps_executed"]), r["steps_executed"], n * steps),
            str(r["late_steps"]),
            saving(f"{r['compute_s']:.1f}", r["compute_s"], base["compute_s"]),
            f"{r['seconds']:.1f} ({r['seconds'] / base['seconds']:.2f}x)",
            f"{which(r['best_params'])} {r['best_final'] or math.nan:.3f}",
            "yes" if same else "[red]no[/]",
            which(r["api_best_params"]) + ("" if api_same else " [red](differs)[/]"))
        r["same_best"] = same
        r["api_same_best"] = api_same
        r["compute_saved"] = 1 - r["compute_s"] / base["compute_s"]
        r["steps_saved"] = 1 - r["steps_executed"] / (n * steps)
    peer_same = point_key(peer["best_params"]) == point_key(peer["unpruned_best_params"])
    table.add_row("Optuna MedianPruner (peer)", str(peer["stopped"]),
                  saving(str(peer["steps_executed"]), peer["steps_executed"],
                         peer["steps_unpruned"]), "0", "", "",
                  f"{which(peer['best_params'])} {peer['best_final']:.3f}",
                  "yes" if peer_same else "[red]no[/]", "")
    console.print(table)
    plinth_saved = results["MedianStopping"]["steps_saved"]
    peer_saved = 1 - peer["steps_executed"] / peer["steps_unpruned"]
    console.print(
        f"Steps saved, Plinth MedianStoppingPolicy vs Optuna MedianPruner: "
        f"{100 * plinth_saved:.0f}% vs {100 * peer_saved:.0f}%"
        + (f" (ratio {plinth_saved / peer_saved:.2f}x)" if peer_saved else "")
        + f". Children stopped after how many steps: Plinth MedianStopping "
          f"{results['MedianStopping']['stopped_at_steps']}, Optuna "
          f"{peer['stopped_at_steps']}, Plinth Bandit {results['Bandit']['stopped_at_steps']}."
          f" Optuna: MedianPruner(n_startup_trials={c}, n_warmup_steps=5), one trial at a "
          "time, in process, no sleeps. (Plinth's median rule, azureml's, compares a child's "
          "best value with the median of running averages; Optuna's compares its value at a "
          "step with the median of the others' values at that step.)")
    for label, r in results.items():
        if r["terminated_but_not_canceled"]:
            console.print(f"[yellow]note:[/] {label}: marked terminatedBy but not Canceled "
                          f"(ended before the cancel landed): {r['terminated_but_not_canceled']}")
    if not peer["same_points"]:
        problems.append("Optuna did not run the enqueued points")
    for problem in problems:
        console.print(f"[red]problem:[/] {problem}")
    return {"trials": n, "max_concurrent_runs": c, "steps": steps, "load_average": load,
            "step_seconds": args.step_seconds, "plinth": results,
            "optuna_median_pruner": {**peer, "steps_saved": peer_saved,
                                     "same_best": peer_same},
            "problems": problems}


# --- part 3: quality ------------------------------------------------------------------------


def best_after(values: list[float], k: int) -> float:
    return min(values[:k]) if values else math.inf


def optuna_branin(objectives, budget: int, seed: int, kind: str) -> list[float]:
    """One Optuna study of ``budget`` trials, one at a time; the losses in trial order."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = (optuna.samplers.TPESampler(seed=seed) if kind == "tpe"
               else optuna.samplers.RandomSampler(seed=seed))
    study = optuna.create_study(direction="minimize", sampler=sampler)
    study.optimize(lambda t: objectives.branin(t.suggest_float("x1", *X1_BOUNDS),
                                               t.suggest_float("x2", *X2_BOUNDS)),
                   n_trials=budget)
    return [t.value for t in study.trials]


def plinth_sampler_branin(objectives, space: dict, budget: int, seed: int, kind: str,
                          concurrent: int) -> list[float]:
    """Plinth's sampler (what the sweep's driver calls) in process, as a sweep with
    ``concurrent`` equally long children would call it: each proposal sees the children
    still running as running and the others with their loss. The losses in proposal order."""
    from plinth._tuning.samplers import Trial, make_sampler

    sampler = make_sampler({"kind": kind, "space": space, "seed": seed}, "minimize")
    done: list[tuple[dict, float]] = []
    running: list[dict] = []
    losses = []
    for _ in range(budget):
        history = ([Trial(q, v, "complete") for q, v in done]
                   + [Trial(q, None, "running") for q in running])
        point = sampler.next(history)
        running.append(point)
        losses.append(objectives.branin(point["--x1"], point["--x2"]))
        if len(running) >= concurrent:  # the oldest child ends first
            oldest = running.pop(0)
            done.append((oldest, objectives.branin(oldest["--x1"], oldest["--x2"])))
    return losses


def part_quality(args, console, ws, experiment, source: Path) -> dict[str, Any]:
    from plinth._tuning.samplers import BAYESIAN_STARTUP_TRIALS
    from plinth.train.hyperdrive import (
        BayesianParameterSampling,
        PrimaryMetricGoal,
        RandomParameterSampling,
        uniform,
    )

    budget, c, many = args.budget, 2, args.sampler_seeds
    console.print(f"\n[bold]quality[/]: Branin (minimum {BRANIN_MIN}), {budget} children, "
                  f"{c} at a time: {args.quality_seeds} sweep(s) each with random and Bayesian "
                  f"sampling; Plinth's samplers in process and the peer, Optuna's TPE (and "
                  f"random), in process, {many} seeds each")
    load = load_note(console)
    space = {"--x1": uniform(*X1_BOUNDS), "--x2": uniform(*X2_BOUNDS)}
    samplings = {"random": RandomParameterSampling, "Bayesian": BayesianParameterSampling}
    rows: dict[str, list[list[float]]] = {f"Plinth {label}, sweeps": [] for label in samplings}
    seconds: dict[str, float] = {}
    problems = []
    sweep_s: dict[str, list[float]] = {label: [] for label in samplings}
    for seed in range(args.quality_seeds):
        for label, kind in samplings.items():
            sweep = run_sweep(ws, experiment, source, "branin.py", kind(space, seed=seed),
                              "loss", PrimaryMetricGoal.MINIMIZE, budget, c)
            values = [x["series"][-1] for x in sweep["children"] if x["series"]]
            if len(values) != budget:
                problems.append(f"{label} seed {seed}: {len(values)} of {budget} children "
                                "logged a loss")
            rows[f"Plinth {label}, sweeps"].append(values)
            sweep_s[label].append(sweep["seconds"])
            console.print(f"  {label} sweep, seed {seed}: best {min(values):.4f} in "
                          f"{sweep['seconds']:.1f} s")
    for label in samplings:
        seconds[f"Plinth {label}, sweeps"] = statistics.median(sweep_s[label])
    objectives = load_objectives(source)
    in_process = {
        "Plinth random, in process":
            lambda seed: plinth_sampler_branin(objectives, space, budget, seed, "random", c),
        f"Plinth Bayesian, in process, {c} at a time":
            lambda seed: plinth_sampler_branin(objectives, space, budget, seed, "bayesian", c),
        "Plinth Bayesian, in process, 1 at a time":
            lambda seed: plinth_sampler_branin(objectives, space, budget, seed, "bayesian", 1),
        "Optuna TPE (peer)": lambda seed: optuna_branin(objectives, budget, seed, "tpe"),
        "Optuna random": lambda seed: optuna_branin(objectives, budget, seed, "random"),
    }
    for label, study in in_process.items():
        started = time.perf_counter()
        rows[label] = [study(seed) for seed in range(many)]
        seconds[label] = (time.perf_counter() - started) / many

    early = min(BAYESIAN_STARTUP_TRIALS, budget)
    stats = {}
    for label, runs in rows.items():
        finals = [best_after(v, budget) - BRANIN_MIN for v in runs]
        earlies = [best_after(v, early) - BRANIN_MIN for v in runs]
        stats[label] = {"seeds": len(runs), "regret_median": statistics.median(finals),
                        "regret_min": min(finals), "regret_max": max(finals),
                        "regret_after_startup_median": statistics.median(earlies),
                        "best_loss_median": statistics.median(finals) + BRANIN_MIN,
                        "regrets": finals, "seconds_per_study": seconds[label]}
    reference = stats["Optuna TPE (peer)"]["regret_median"]
    table = make_table(
        f"Search quality: Branin, best of {budget} runs (regret = best - {BRANIN_MIN}; median "
        "over seeds; Optuna's studies run one trial at a time)",
        ["sampler", "seeds", "best loss", "regret", "regret min-max",
         f"regret after {early}", "x Optuna TPE", "s per study"])
    for label, st in stats.items():
        table.add_row(label, str(st["seeds"]), f"{st['best_loss_median']:.4f}",
                      f"{st['regret_median']:.4f}",
                      f"{st['regret_min']:.4f}-{st['regret_max']:.4f}",
                      f"{st['regret_after_startup_median']:.4f}",
                      f"{st['regret_median'] / reference:.2f}x" if reference else "n/a",
                      f"{st['seconds_per_study']:.2f}")
    console.print(table)
    bayes = stats[f"Plinth Bayesian, in process, {c} at a time"]["regret_median"]
    single = stats["Plinth Bayesian, in process, 1 at a time"]["regret_median"]
    rand = stats["Plinth random, in process"]["regret_median"]
    console.print(
        f"In process over {many} seeds, Plinth's Bayesian sampler's median regret ({c} at a "
        f"time) is {bayes / rand:.2f}x its random sampler's and {bayes / reference:.2f}x "
        f"Optuna TPE's (1 at a time: {single / reference:.2f}x). "
        f"The first {BAYESIAN_STARTUP_TRIALS} points of both TPEs are random warm-up, so only "
        f"{max(budget - BAYESIAN_STARTUP_TRIALS, 0)} of {budget} are modelled; "
        f"{args.quality_seeds} sweep(s) per sampler are too few to rank samplers, they show "
        "that the sweep delivers its sampler's points.")
    for problem in problems:
        console.print(f"[red]problem:[/] {problem}")
    return {"budget": budget, "max_concurrent_runs": c, "load_average": load,
            "startup_trials": BAYESIAN_STARTUP_TRIALS,
            "optimum": BRANIN_MIN, "stats": stats, "losses": rows, "problems": problems}


# --- main -----------------------------------------------------------------------------------


def write_sources(folder: Path) -> None:
    folder.mkdir()
    for name, text in (("objectives.py", OBJECTIVES), ("trivial.py", TRIVIAL),
                       ("curve.py", CURVE), ("branin.py", BRANIN)):
        (folder / name).write_text(text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=("overhead", "termination", "quality", "all"),
                        default="all")
    parser.add_argument("--children", type=int, default=24,
                        help="overhead: trivial children in the grid (24)")
    parser.add_argument("--overhead-repeats", type=int, default=2,
                        help="overhead: rounds of sweep + plain, interleaved (2)")
    parser.add_argument("--trials", type=int, default=12,
                        help="termination: children per sweep (12)")
    parser.add_argument("--steps", type=int, default=20,
                        help="termination: learning-curve steps per child (20)")
    parser.add_argument("--step-seconds", type=float, default=0.2,
                        help="termination: seconds each step sleeps (0.2)")
    parser.add_argument("--seed", type=int, default=7, help="termination: sampling seed (7)")
    parser.add_argument("--budget", type=int, default=16, help="quality: children per sweep (16)")
    parser.add_argument("--quality-seeds", type=int, default=2,
                        help="quality: sweeps of each Plinth sampler, seeds 0.. (2)")
    parser.add_argument("--sampler-seeds", type=int, default=30,
                        help="quality: in-process studies of each sampler, Plinth's and "
                             "Optuna's (30)")
    args = parser.parse_args()
    for name in ("children", "overhead_repeats", "trials", "steps", "budget", "quality_seeds",
                 "sampler_seeds"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")

    from rich.console import Console

    console = Console()
    if not console.is_terminal:
        console = Console(width=130)  # rich's 80-column default wraps the tables
    parts = ("overhead", "termination", "quality") if args.part == "all" else (args.part,)
    functions = {"overhead": part_overhead, "termination": part_termination,
                 "quality": part_quality}
    results: dict[str, Any] = {}
    failed = None
    saved_home = os.environ.get("PLINTH_HOME")
    with tempfile.TemporaryDirectory(prefix="plinth-bench-hyperdrive-") as tmp:
        root = Path(tmp)
        os.environ["PLINTH_HOME"] = str(root / "home")
        try:
            from plinth.core import Experiment, Workspace

            ws = Workspace.create("bench", path=root / "ws")
            source = root / "src"
            write_sources(source)
            for part in parts:
                experiment = Experiment(ws, f"hyperdrive-{part}")
                try:
                    results[part] = functions[part](args, console, ws, experiment, source)
                except SweepProblem as exc:
                    failed = f"{part}: {exc}"
                    console.print(f"[red]error:[/] {failed}")
                    break
            ws._location.forget()
        finally:
            if saved_home is None:
                os.environ.pop("PLINTH_HOME", None)
            else:
                os.environ["PLINTH_HOME"] = saved_home

    if "overhead" in results:
        o = results["overhead"]
        console.print(f"\nTarget: < {TARGET_OVERHEAD_S} s overhead per child "
                      f"({o['children']} trivial children, 2 at a time, vs plain python 2 at a "
                      f"time): {o['overhead_per_child_s']:.3f} s {verdict(o['met'])}")
    path = write_result(NAME, {"benchmark": NAME, "machine": machine_info(),
                               "parameters": vars(args), **results, "error": failed})
    console.print(f"Result written to {path}")
    problems = [p for r in results.values() for p in r.get("problems", [])]
    return 1 if failed or problems else 0


if __name__ == "__main__":
    sys.exit(main())
