"""Run overhead: submit-to-Completed time of an empty script, beside running it directly.

Plinth: ``Experiment.submit(ScriptRunConfig(source_directory=tmp, script='empty.py'))`` then
``run.wait_for_completion()``, on an embedded SQLite workspace in a temp folder. Peer:
``subprocess.run([sys.executable, 'empty.py'])`` in the same folder. Each is repeated
``--repeats`` times (interleaved, after warm-up); the median added time is what Plinth
costs per run. The run's recorded timestamps split Plinth's time into phases.

Where Plinth has a worker launcher (``plinth._execution.launcher``: a warm process that
forks run workers), both ways of starting a worker are measured: through the warm launcher
(the default once it runs) and as a fresh interpreter (``PLINTH_LAUNCHER=0``, what the
first run of a session pays).

    .venv/bin/python benchmarks/run_overhead.py [--repeats 10] [--bytecode-cache]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _peers import machine_info, verdict, write_result

NAME = "run_overhead"
TARGET_ADDED_S = 0.5
SCRIPT = "empty.py"
LAUNCHER_WAIT_S = 60.0

PHASES = {
    "submit_s": "submit() returns",
    "to_running_s": "then worker starts, sets Running",
    "running_s": "then script runs, Completed",
    "notice_s": "then wait_for_completion() returns",
}


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0-100), linear between the closest ranks."""
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def summary(values: list[float]) -> dict:
    return {"median_s": statistics.median(values), "p90_s": percentile(values, 90),
            "min_s": min(values), "all_s": values}


def worker_log(run_id: str) -> Path:
    """Where a worker started as a fresh interpreter writes its own stdout/stderr."""
    return Path(tempfile.gettempdir()) / "plinth-workers" / f"{run_id}.log"


def has_launcher() -> bool:
    return importlib.util.find_spec("plinth._execution.launcher") is not None


def launcher_listening() -> bool:
    from plinth._execution import launcher

    return launcher.socket_path().exists()


def wait_for_launcher(timeout: float) -> bool:
    """Wait until the launcher started by the warm-up listens; False if it never does."""
    from plinth._execution import launcher

    path = launcher.socket_path()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            return True
        time.sleep(0.1)
    return False


def plinth_once(experiment, config, launcher: bool | None) -> dict:
    """Submit, wait, and split the time with the run's recorded timestamps.

    ``launcher``: True/False sets ``PLINTH_LAUNCHER`` for this submit; None leaves it.
    """
    from plinth.exceptions import ActivityFailedException

    if launcher is not None:
        os.environ["PLINTH_LAUNCHER"] = "1" if launcher else "0"
    wall0, started = time.time(), time.perf_counter()
    run = experiment.submit(config)
    submitted, wall1 = time.perf_counter(), time.time()
    try:
        run.wait_for_completion(raise_on_error=True)
    except ActivityFailedException as exc:
        log = worker_log(run.id)
        detail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        raise SystemExit(f"error: the benchmark run failed: {exc}\n{detail}") from None
    ended, wall2 = time.perf_counter(), time.time()
    record = run._record
    fresh_worker = worker_log(run.id).exists()  # only a fresh interpreter writes this log
    worker_log(run.id).unlink(missing_ok=True)
    return {
        "total_s": ended - started,
        # snapshot, run row, starting (or asking the launcher for) the worker
        "submit_s": submitted - started,
        # submit() returned -> Running: worker start (imports or fork), store, snapshot restore
        "to_running_s": record.start_time - wall1,
        # Running -> Completed: the script itself, then uploading outputs/logs and statuses
        "running_s": record.end_time - record.start_time,
        # Completed -> wait_for_completion() returned: polling delay and get_details()
        "notice_s": wall2 - record.end_time,
        "created_offset_s": record.created_at - wall0,
        "fresh_worker": fresh_worker,
    }


def direct_once(source: Path) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, SCRIPT], cwd=source, check=True)
    return time.perf_counter() - started


def import_time(module: str | None, times: int = 3) -> float:
    """Median seconds of ``python -c 'import module'`` (``pass`` when ``module`` is None)."""
    code = f"import {module}" if module else "pass"
    samples = []
    for _ in range(times):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def bytecode_cached(module: str = "sqlalchemy") -> bool:
    """Whether child interpreters load ``module`` from cached bytecode (``.pyc``)."""
    if not (os.environ.get("PYTHONDONTWRITEBYTECODE") or os.environ.get("PYTHONPYCACHEPREFIX")):
        return True  # written on first import, read afterwards
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return True
    return Path(importlib.util.cache_from_source(spec.origin)).exists()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=10, help="measured runs of each (10)")
    parser.add_argument("--warmup", type=int, default=1, help="unmeasured runs of each (1)")
    parser.add_argument("--no-fresh", action="store_true",
                        help="skip the PLINTH_LAUNCHER=0 (fresh worker interpreter) runs")
    parser.add_argument("--bytecode-cache", action="store_true",
                        help="let child interpreters cache bytecode in a temp folder "
                             "(PYTHONPYCACHEPREFIX), as a normal install does, even where "
                             "PYTHONDONTWRITEBYTECODE is set and the venv has no .pyc files")
    args = parser.parse_args()
    if args.repeats < 1 or args.warmup < 1:
        parser.error("--repeats and --warmup must be at least 1")

    from rich.console import Console
    from rich.table import Table

    console = Console()
    if not console.is_terminal:
        console = Console(width=110)  # rich's 80-column default wraps the tables
    tmp = Path(tempfile.mkdtemp(prefix="plinth-bench-overhead-"))
    saved_env = {k: os.environ.get(k) for k in ("PLINTH_HOME", "PLINTH_LAUNCHER",
                                               "PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")}
    os.environ["PLINTH_HOME"] = str(tmp / "plinth-home")  # keep ~/.plinth's registry clean
    cached = bytecode_cached()
    if args.bytecode_cache:
        # Children inherit this; the warm-up runs fill the cache, the measured runs use it.
        os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
        os.environ["PYTHONPYCACHEPREFIX"] = str(tmp / "pycache")
    elif not cached:
        console.print("[yellow]note:[/] PYTHONDONTWRITEBYTECODE is set and SQLAlchemy has no "
                      "cached bytecode, so every fresh worker interpreter compiles it from "
                      "source. Pass --bytecode-cache to measure as a normal install would.")

    launcher = has_launcher()
    # mode -> PLINTH_LAUNCHER setting (None: this Plinth has no launcher, leave it alone)
    modes: dict[str, bool | None] = {"launcher": True} if launcher else {"default": None}
    if launcher and not args.no_fresh:
        modes["fresh"] = False
    labels = {"launcher": "Plinth, warm launcher (default)",
              "fresh": "Plinth, PLINTH_LAUNCHER=0",
              "default": "Plinth submit + wait"}
    first_run_s = None
    launcher_was_up = launcher and launcher_listening()
    try:
        from plinth.core import Experiment, ScriptRunConfig, Workspace

        source = tmp / "src"
        source.mkdir()
        (source / SCRIPT).write_text("")
        ws = Workspace.create("bench", path=tmp / "plinth-ws")
        experiment = Experiment(ws, "overhead")
        config = ScriptRunConfig(source_directory=str(source), script=SCRIPT)

        console.print(f"{args.warmup} warm-up + {args.repeats} measured runs of each of: "
                      f"{', '.join(labels[m] for m in modes)}, subprocess.run ...")
        for i in range(args.warmup):
            direct_once(source)
            for setting in modes.values():
                result = plinth_once(experiment, config, setting)
                if i == 0 and first_run_s is None:
                    first_run_s = result["total_s"]
        if launcher and not wait_for_launcher(LAUNCHER_WAIT_S):
            console.print("[yellow]warning:[/] the worker launcher did not start within "
                          f"{LAUNCHER_WAIT_S:.0f} s; the launcher rows use fresh workers.")
        runs: dict[str, list[dict]] = {m: [] for m in modes}
        direct: list[float] = []
        for _ in range(args.repeats):  # interleaved, so drift in machine load hits all
            direct.append(direct_once(source))
            for mode, setting in modes.items():
                runs[mode].append(plinth_once(experiment, config, setting))
        bare = import_time(None)
        worker_imports = import_time("plinth._execution.worker") - bare
        ws._location.forget()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value

    stats = {m: summary([r["total_s"] for r in rs]) for m, rs in runs.items()}
    stats["direct"] = summary(direct)
    base = stats["direct"]["median_s"]
    added = {m: stats[m]["median_s"] - base for m in modes}

    table = Table(title=f"Empty script, submit to Completed ({os.cpu_count()} CPUs, "
                        f"{args.repeats} runs each)")
    for column in ("how", "median s", "p90 s", "min s", "added s", "x direct"):
        table.add_column(column, justify="left" if column == "how" else "right")
    for i, mode in enumerate(modes):
        s = stats[mode]
        name = f"[bold]{labels[mode]}[/]" if i == 0 else labels[mode]
        table.add_row(name, f"{s['median_s']:.3f}", f"{s['p90_s']:.3f}", f"{s['min_s']:.3f}",
                      f"{added[mode]:+.3f}", f"{s['median_s'] / base:.1f}x")
    s = stats["direct"]
    table.add_row("subprocess.run(python empty.py)", f"{s['median_s']:.3f}",
                  f"{s['p90_s']:.3f}", f"{s['min_s']:.3f}", "", "1.0x")
    console.print(table)

    breakdown = Table(title="Where Plinth's time goes (median s of each phase)")
    breakdown.add_column("phase")
    for mode in modes:
        breakdown.add_column(labels[mode].replace("Plinth, ", ""), justify="right")
    phase_medians = {m: {k: statistics.median(r[k] for r in runs[m]) for k in PHASES}
                     for m in modes}
    for key, label in PHASES.items():
        breakdown.add_row(label, *(f"{phase_medians[m][key]:.3f}" for m in modes))
    breakdown.add_row("[dim]total[/]", *(f"[dim]{stats[m]['median_s']:.3f}[/]" for m in modes))
    console.print(breakdown)
    fresh_counts = {m: sum(r["fresh_worker"] for r in runs[m]) for m in modes}
    if not launcher:
        first = "starts a fresh worker"
    elif launcher_was_up:
        first = "found a launcher already running"
    else:
        first = "started the launcher and a fresh worker"
    console.print(f"A fresh worker interpreter imports plinth._execution.worker in "
                  f"{worker_imports:.3f} s (python -c pass: {bare:.3f} s). The first "
                  f"warm-up run, which {first}, took {first_run_s:.3f} s.")
    if launcher and fresh_counts["launcher"]:
        console.print(f"[yellow]warning:[/] {fresh_counts['launcher']} of {args.repeats} "
                      "launcher-mode runs started a fresh worker instead.")

    headline = next(iter(modes))
    ok = added[headline] < TARGET_ADDED_S
    console.print(f"Target: < {TARGET_ADDED_S} s added per run (median, "
                  f"{labels[headline]}): {added[headline]:.3f} s {verdict(ok)}")
    if "fresh" in modes:
        fresh_ok = added["fresh"] < TARGET_ADDED_S
        console.print(f"        the same with PLINTH_LAUNCHER=0: {added['fresh']:.3f} s "
                      f"{verdict(fresh_ok)}")

    path = write_result(NAME, {
        "benchmark": NAME,
        "machine": machine_info(),
        "parameters": vars(args),
        "modes": {m: labels[m] for m in modes},
        "plinth": {m: stats[m] for m in modes},
        "direct": stats["direct"],
        "added_median_s": added,
        "phases_median_s": phase_medians,
        "runs": runs,
        "first_run_s": first_run_s,
        "launcher_already_running": launcher_was_up,
        "worker_import_s": worker_imports,
        "bare_python_s": bare,
        "bytecode": "cached in a temp folder (--bytecode-cache)" if args.bytecode_cache
        else ("cached" if cached else "compiled from source in every fresh process"),
        "targets": {"added_s_below": TARGET_ADDED_S, "mode": headline, "met": ok},
    })
    console.print(f"Result written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
