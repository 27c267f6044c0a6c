"""Run overhead: submit-to-Completed time of an empty script, beside running it directly.

Plinth: ``Experiment.submit(ScriptRunConfig(source_directory=tmp, script='empty.py'))`` then
``run.wait_for_completion()``, on an embedded SQLite workspace in a temp folder. Peer:
``subprocess.run([sys.executable, 'empty.py'])`` in the same folder. Both are repeated
``--repeats`` times (interleaved, after one warm-up each); the median added time is what
Plinth costs per run. The run's own timestamps split Plinth's time into phases.

    .venv/bin/python benchmarks/run_overhead.py [--repeats 10]
"""

from __future__ import annotations

import argparse
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


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0-100), linear between the closest ranks."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    pos = (len(ordered) - 1) * q / 100
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def worker_log(run_id: str) -> Path:
    """Where ``launch_worker`` puts the detached worker's own stdout/stderr."""
    return Path(tempfile.gettempdir()) / "plinth-workers" / f"{run_id}.log"


def plinth_once(experiment, config) -> dict:
    """Submit, wait, and split the time with the run's recorded timestamps."""
    from plinth.exceptions import ActivityFailedException

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
    worker_log(run.id).unlink(missing_ok=True)
    return {
        "total_s": ended - started,
        "submit_s": submitted - started,
        # submit() returned -> worker set Running: interpreter start, imports, store, snapshot
        "to_running_s": record.start_time - wall1,
        # Running -> Completed: the script itself, then uploading outputs/logs and statuses
        "running_s": record.end_time - record.start_time,
        # Completed -> wait_for_completion() returned: polling delay and get_details()
        "notice_s": wall2 - record.end_time,
        "queued_at_offset_s": record.created_at - wall0,
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
    import importlib.util

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
    parser.add_argument("--bytecode-cache", action="store_true",
                        help="let child interpreters cache bytecode in a temp folder "
                             "(PYTHONPYCACHEPREFIX), as a normal install does, even where "
                             "PYTHONDONTWRITEBYTECODE is set and the venv has no .pyc files")
    args = parser.parse_args()
    if args.repeats < 1 or args.warmup < 0:
        parser.error("--repeats must be at least 1 and --warmup at least 0")

    from rich.console import Console
    from rich.table import Table

    console = Console()
    tmp = Path(tempfile.mkdtemp(prefix="plinth-bench-overhead-"))
    os.environ["PLINTH_HOME"] = str(tmp / "plinth-home")  # keep ~/.plinth's registry clean
    cached = bytecode_cached()
    if args.bytecode_cache:
        # Children inherit this; the warm-up run fills the cache, the measured runs use it.
        os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
        os.environ["PYTHONPYCACHEPREFIX"] = str(tmp / "pycache")
        if args.warmup < 1:
            parser.error("--bytecode-cache needs at least one warm-up run to fill the cache")
    elif not cached:
        console.print("[yellow]note:[/] PYTHONDONTWRITEBYTECODE is set and SQLAlchemy has no "
                      "cached bytecode, so every run's worker compiles it from source (~1-2 s "
                      "here). Pass --bytecode-cache to measure as a normal install would.")
    try:
        from plinth.core import Experiment, ScriptRunConfig, Workspace

        source = tmp / "src"
        source.mkdir()
        (source / SCRIPT).write_text("")
        ws = Workspace.create("bench", path=tmp / "plinth-ws")
        experiment = Experiment(ws, "overhead")
        config = ScriptRunConfig(source_directory=str(source), script=SCRIPT)

        console.print(f"{args.warmup} warm-up + {args.repeats} measured runs of each ...")
        for _ in range(args.warmup):
            direct_once(source)
            plinth_once(experiment, config)
        plinth, direct = [], []
        for _ in range(args.repeats):  # interleaved, so drift in machine load hits both
            direct.append(direct_once(source))
            plinth.append(plinth_once(experiment, config))
        bare = import_time(None)
        worker_imports = import_time("plinth._execution.worker") - bare
        ws._location.forget()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    totals = [p["total_s"] for p in plinth]
    stats = {
        "plinth": {"median_s": statistics.median(totals), "p90_s": percentile(totals, 90),
                   "min_s": min(totals), "all_s": totals},
        "direct": {"median_s": statistics.median(direct), "p90_s": percentile(direct, 90),
                   "min_s": min(direct), "all_s": direct},
    }
    added = stats["plinth"]["median_s"] - stats["direct"]["median_s"]
    ratio = stats["plinth"]["median_s"] / stats["direct"]["median_s"]

    table = Table(title=f"Empty script, submit to Completed ({os.cpu_count()} CPUs, "
                        f"{args.repeats} runs each)")
    for column in ("how", "median s", "p90 s", "min s", "Plinth / this"):
        table.add_column(column, justify="left" if column == "how" else "right")
    table.add_row("[bold]Plinth submit + wait[/]",
                  f"{stats['plinth']['median_s']:.3f}", f"{stats['plinth']['p90_s']:.3f}",
                  f"{stats['plinth']['min_s']:.3f}", "1.0x")
    table.add_row("subprocess.run(python empty.py)", f"{stats['direct']['median_s']:.3f}",
                  f"{stats['direct']['p90_s']:.3f}", f"{stats['direct']['min_s']:.3f}",
                  f"{ratio:.1f}x")
    console.print(table)

    phases = {
        "submit_s": "submit() returns",
        "to_running_s": "then worker starts, sets Running",
        "running_s": "then script runs, Completed",
        "notice_s": "then wait_for_completion() returns",
    }
    breakdown = Table(title="Where Plinth's time goes (median of each phase)")
    breakdown.add_column("phase")
    breakdown.add_column("median s", justify="right")
    breakdown.add_column("p90 s", justify="right")
    medians = {}
    for key, label in phases.items():
        values = [p[key] for p in plinth]
        medians[key] = statistics.median(values)
        breakdown.add_row(label, f"{medians[key]:.3f}", f"{percentile(values, 90):.3f}")
    breakdown.add_row("[dim]in it: import plinth._execution.worker[/]",
                      f"[dim]{worker_imports:.3f}[/]", "")
    breakdown.add_row("[dim]reference: python -c pass[/]", f"[dim]{bare:.3f}[/]", "")
    console.print(breakdown)

    ok = added < TARGET_ADDED_S
    console.print(f"Target: < {TARGET_ADDED_S} s added per run (median): {added:.3f} s "
                  f"{verdict(ok)}")

    path = write_result(NAME, {
        "benchmark": NAME,
        "machine": machine_info(),
        "parameters": vars(args),
        **stats,
        "added_median_s": added,
        "ratio_median": ratio,
        "phases_median_s": medians,
        "phases_all": plinth,
        "worker_import_s": worker_imports,
        "bare_python_s": bare,
        "bytecode": "cached in a temp folder (--bytecode-cache)" if args.bytecode_cache
        else ("cached" if cached else "compiled from source in every process"),
        "targets": {"added_s_below": TARGET_ADDED_S, "met": ok},
    })
    console.print(f"Result written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
