"""Environment build: Plinth's first build and cached reuse, beside python -m venv + pip.

Plinth: ``materialise(Environment(...)._to_record())`` (what ``Environment.build_local()``
and a run's worker call) for an environment of ``--packages`` that Plinth's own venv lacks,
into a fresh ``PLINTH_ENV_CACHE`` each time, with uv's package cache warm and (unless
``--no-cold``) with ``UV_NO_CACHE=1``; then the cached environment used again. Peer:
``python -m venv X && X/bin/pip install PACKAGES`` into a fresh folder, with pip's cache warm
and with ``--no-cache-dir``; its reuse is ``pip install`` again into the same venv. The builds
are interleaved, after ``--warmup`` unmeasured builds of each that fill both caches.

    .venv/bin/python benchmarks/environment_build.py [--packages tabulate docutils]
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

NAME = "environment_build"
TARGET_REUSE_S = 1.0
DEFAULT_PACKAGES = ["tabulate", "docutils"]
#: A spec Plinth's own venv already meets: no environment is built for it.
SATISFIED_PACKAGES = ["scikit-learn", "pandas"]
ENV_KEYS = ("PLINTH_HOME", "PLINTH_ENV_CACHE", "UV_NO_CACHE")

LABELS = {
    "plinth_warm": "Plinth materialise(), uv cache warm",
    "pip_warm": "python -m venv + pip install, pip cache warm",
    "plinth_cold": "Plinth materialise(), UV_NO_CACHE=1",
    "pip_cold": "python -m venv + pip install --no-cache-dir",
}
REUSE_LABELS = {
    "plinth_reuse": "Plinth, cached environment (in process)",
    "plinth_process": "Plinth, new interpreter: import + build_local()",
    "pip_reuse": "pip install again into the same venv",
    "satisfied": "Plinth, spec met by its own venv (no build)",
}


def definition(packages: list[str], name: str = "bench-env") -> dict:
    """The environment definition ``Environment(name)`` with these pip packages gives."""
    from plinth.core import Environment
    from plinth.core.conda_dependencies import CondaDependencies

    env = Environment(name)
    env.python.conda_dependencies = CondaDependencies.create(pip_packages=packages)
    return env._to_record()


def plinth_build(spec: dict, cache: Path, cold: bool) -> dict:
    """Build into an empty ``PLINTH_ENV_CACHE``; the log's timestamps split venv/install."""
    from plinth._envs import materialise

    os.environ["PLINTH_ENV_CACHE"] = str(cache)
    if cold:
        os.environ["UV_NO_CACHE"] = "1"
    marks: dict[str, float] = {}
    lines: list[str] = []

    def log(line: str) -> None:
        lines.append(line)
        if line.startswith("$ ") and " venv " in line:
            marks.setdefault("venv", time.perf_counter())
        elif line.startswith("$ ") and " pip install " in line:
            marks.setdefault("install", time.perf_counter())

    try:
        started = time.perf_counter()
        python = materialise(spec, log=log)
        ended = time.perf_counter()
    finally:
        os.environ.pop("UV_NO_CACHE", None)
    if "install" not in marks:
        raise SystemExit("error: Plinth built no environment; its log was:\n" + "\n".join(lines))
    return {"total_s": ended - started, "venv_s": marks["install"] - marks.get("venv", started),
            "install_s": ended - marks["install"], "python": str(python)}


def pip_build(base: str, folder: Path, packages: list[str], cold: bool) -> dict:
    started = time.perf_counter()
    run([base, "-m", "venv", str(folder)], "python -m venv")
    made = time.perf_counter()
    pip_install(folder, packages, cold)
    ended = time.perf_counter()
    return {"total_s": ended - started, "venv_s": made - started, "install_s": ended - made,
            "python": str(folder / "bin" / "python")}


def pip_install(folder: Path, packages: list[str], cold: bool = False) -> float:
    started = time.perf_counter()
    run([str(folder / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check",
         *(["--no-cache-dir"] if cold else []), *packages], "pip install")
    return time.perf_counter() - started


def run(command: list[str], what: str) -> None:
    proc = subprocess.run(command, capture_output=True, text=True, check=False)
    if proc.returncode:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
        raise SystemExit(f"error: {what} failed (exit {proc.returncode}): "
                         f"{' '.join(command)}\n{tail}")


def reuse_in_process(spec: dict, cache: Path) -> float:
    from plinth._envs import materialise

    os.environ["PLINTH_ENV_CACHE"] = str(cache)
    started = time.perf_counter()
    materialise(spec)
    return time.perf_counter() - started


def reuse_in_new_process(packages: list[str], cache: Path) -> float:
    """What a fresh process pays to find the cached environment through the public API."""
    code = ("import sys\nfrom plinth.core import Environment\n"
            "from plinth.core.conda_dependencies import CondaDependencies\n"
            "env = Environment('bench-env')\n"
            "env.python.conda_dependencies = CondaDependencies.create(pip_packages=sys.argv[1:])\n"
            "env.build_local()\n")
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code, *packages], check=True, capture_output=True,
                   env={**os.environ, "PLINTH_ENV_CACHE": str(cache)})
    return time.perf_counter() - started


def import_time() -> float:
    """A new interpreter that only imports what the build_local() one does."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "from plinth.core import Environment\n"
                    "from plinth.core.conda_dependencies import CondaDependencies"], check=True)
    return time.perf_counter() - started


def satisfied_once(spec: dict) -> tuple[float, str]:
    from plinth._envs import materialise

    started = time.perf_counter()
    python = materialise(spec)
    return time.perf_counter() - started, str(python)


def installed_everywhere(python: str, packages: list[str]) -> list[str]:
    """The packages that ``python`` cannot find (their distribution metadata); [] is good."""
    from packaging.requirements import Requirement

    names = [Requirement(p).name for p in packages]
    code = ("import sys, importlib.metadata as m\n"
            "for n in sys.argv[1:]:\n"
            "    try: m.version(n)\n"
            "    except m.PackageNotFoundError: print(n)\n")
    out = subprocess.run([python, "-c", code, *names], capture_output=True, text=True,
                         check=True).stdout
    return out.split()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--packages", nargs="+", default=DEFAULT_PACKAGES,
                        help="pip packages of the environment; Plinth's venv must lack at "
                             f"least one (default: {' '.join(DEFAULT_PACKAGES)})")
    parser.add_argument("--builds", type=int, default=2,
                        help="measured first builds of each kind (2)")
    parser.add_argument("--warmup", type=int, default=1,
                        help="unmeasured builds of each that fill uv's and pip's caches (1)")
    parser.add_argument("--repeats", type=int, default=5, help="measured reuses of each (5)")
    parser.add_argument("--no-cold", action="store_true",
                        help="skip the builds without a package cache (they download)")
    args = parser.parse_args()
    if args.builds < 1 or args.repeats < 1 or args.warmup < 0:
        parser.error("--builds and --repeats must be at least 1, --warmup at least 0")

    from rich.console import Console
    from rich.table import Table

    from plinth._envs.spec import normalise, satisfied_here

    console = Console()
    if not console.is_terminal:
        console = Console(width=110)  # rich's 80-column default wraps the tables
    spec = definition(args.packages)
    if satisfied_here(normalise(spec)):
        parser.error(f"Plinth's venv already has {' '.join(args.packages)}, so nothing would be "
                     "built; choose packages it lacks (check with .venv/bin/python -c 'import x')")
    satisfied_spec = definition(SATISFIED_PACKAGES, "bench-satisfied")
    base = getattr(sys, "_base_executable", None) or sys.executable
    kinds = ["plinth_warm", "pip_warm"] + ([] if args.no_cold else ["plinth_cold", "pip_cold"])

    tmp = Path(tempfile.mkdtemp(prefix="plinth-bench-envs-"))
    saved_env = {k: os.environ.get(k) for k in ENV_KEYS}
    os.environ["PLINTH_HOME"] = str(tmp / "plinth-home")
    os.environ.pop("UV_NO_CACHE", None)
    counter = iter(range(10**6))

    def fresh(prefix: str) -> Path:
        return tmp / f"{prefix}-{next(counter)}"

    def build(kind: str) -> dict:
        cold = kind.endswith("cold")
        if kind.startswith("plinth"):
            return plinth_build(spec, fresh("envs"), cold)
        return pip_build(base, fresh("venv"), args.packages, cold)

    builds: dict[str, list[dict]] = {k: [] for k in kinds}
    reuse: dict[str, list[float]] = {k: [] for k in REUSE_LABELS}
    imports: list[float] = []
    missing: dict[str, list[str]] = {}
    try:
        console.print(f"Environment of {', '.join(args.packages)}: {args.warmup} warm-up + "
                      f"{args.builds} measured first builds of each of {len(kinds)} kinds "
                      "(Plinth and pip, caches warm" + ("" if args.no_cold else " and cold")
                      + ") ...")
        for _ in range(args.warmup):
            build("plinth_warm")
            build("pip_warm")
        for _ in range(args.builds):  # interleaved, so drift in machine load hits all
            for kind in kinds:
                builds[kind].append(build(kind))
        for kind in kinds:
            missing[kind] = installed_everywhere(builds[kind][-1]["python"], args.packages)

        console.print(f"{args.repeats} measured reuses of each ...")
        cache = fresh("envs")
        plinth_build(spec, cache, cold=False)  # the cached environment the reuses find
        venv = fresh("venv")
        pip_build(base, venv, args.packages, cold=False)
        reuse_in_process(spec, cache)  # warm-up: the first call imports the builder
        satisfied_s, satisfied_python = satisfied_once(satisfied_spec)
        for _ in range(args.repeats):
            reuse["plinth_reuse"].append(reuse_in_process(spec, cache))
            reuse["plinth_process"].append(reuse_in_new_process(args.packages, cache))
            imports.append(import_time())
            reuse["pip_reuse"].append(pip_install(venv, args.packages))
            reuse["satisfied"].append(satisfied_once(satisfied_spec)[0])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value

    stats = {k: {"median_s": statistics.median(r["total_s"] for r in rs),
                 "min_s": min(r["total_s"] for r in rs),
                 "venv_s": statistics.median(r["venv_s"] for r in rs),
                 "install_s": statistics.median(r["install_s"] for r in rs)}
             for k, rs in builds.items()}
    reuse_stats = {k: {"median_s": statistics.median(v), "min_s": min(v), "all_s": v}
                   for k, v in reuse.items()}

    table = Table(title=f"First build of an environment with {', '.join(args.packages)} "
                        f"({os.cpu_count()} CPUs, {args.builds} of each)")
    for column in ("how", "median s", "min s", "venv s", "install s", "x Plinth"):
        table.add_column(column, justify="left" if column == "how" else "right")
    for kind in kinds:
        s = stats[kind]
        mine = stats["plinth_" + kind.split("_")[1]]["median_s"]
        name = f"[bold]{LABELS[kind]}[/]" if kind.startswith("plinth") else LABELS[kind]
        table.add_row(name, f"{s['median_s']:.2f}", f"{s['min_s']:.2f}", f"{s['venv_s']:.2f}",
                      f"{s['install_s']:.2f}", f"{s['median_s'] / mine:.1f}x")
    console.print(table)

    again = Table(title=f"Using it again (median of {args.repeats})")
    for column in ("how", "median s", "min s", "x pip again"):
        again.add_column(column, justify="left" if column == "how" else "right")
    pip_again = reuse_stats["pip_reuse"]["median_s"]
    for kind, label in REUSE_LABELS.items():
        s = reuse_stats[kind]
        name = f"[bold]{label}[/]" if kind == "plinth_reuse" else label
        ratio = f"{s['median_s'] / pip_again:.2f}x" if s["median_s"] >= 0.01 * pip_again \
            else f"1/{pip_again / s['median_s']:.0f}"
        again.add_row(name, f"{s['median_s']:.4f}", f"{s['min_s']:.4f}", ratio)
    console.print(again)
    console.print(f"pip keeps no environments by spec: using one again means keeping its venv "
                  f"and path yourself; `pip install` again checks it in {pip_again:.2f} s. The "
                  f"spec {' + '.join(SATISFIED_PACKAGES)} ran on {satisfied_python} "
                  f"(first call {satisfied_s:.3f} s).")
    for kind, names in missing.items():
        if names:
            console.print(f"[red]error:[/] {LABELS[kind]} gave an environment without "
                          f"{', '.join(names)}")

    reuse_s = reuse_stats["plinth_reuse"]["median_s"]
    ok = reuse_s < TARGET_REUSE_S and not any(missing.values())
    console.print(f"Target: cached reuse < {TARGET_REUSE_S:g} s (median, in process): "
                  f"{reuse_s:.4f} s {verdict(ok)}; in a new interpreter "
                  f"{reuse_stats['plinth_process']['median_s']:.2f} s, of which "
                  f"{statistics.median(imports):.2f} s is starting it and importing plinth.core")

    path = write_result(NAME, {
        "benchmark": NAME,
        "machine": machine_info(),
        "parameters": vars(args),
        "labels": {**LABELS, **REUSE_LABELS},
        "builds": stats,
        "builds_all": builds,
        "reuse": reuse_stats,
        "import_s": statistics.median(imports),
        "satisfied_python": satisfied_python,
        "missing_packages": missing,
        "targets": {"reuse_s_below": TARGET_REUSE_S, "met": ok},
    })
    console.print(f"Result written to {path}")
    return 0 if not any(missing.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
