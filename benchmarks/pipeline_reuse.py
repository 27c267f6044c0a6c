"""Pipeline reuse: how long resubmitting a 3-step pipeline takes when nothing changed (every
step reused) and when only the last step changed, beside its first full run.

Plinth: a chain of three ``PythonScriptStep``s (each reads the previous step's
``PipelineData`` and writes its own) on an embedded SQLite workspace in a temp folder,
submitted with ``Experiment.submit(pipeline)`` and timed until ``wait_for_completion()``
returns: the full run (``regenerate_outputs=True``), the all-reused resubmission, and the
resubmission after the third script changed. Peer: the same three scripts run one after the
other as plain ``python`` processes, passing folders (what a script without orchestration
costs). Medians of ``--repeats`` rounds, after a warm-up round.

    .venv/bin/python benchmarks/pipeline_reuse.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _peers import machine_info, verdict, write_result

NAME = "pipeline_reuse"
TARGET_REUSED_S = 1.0

STEP = """\
import os, sys
source, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
rows = []
if source != "-":
    rows = open(os.path.join(source, "data.csv")).read().splitlines()
rows = rows or [f"{i},{i * i}" for i in range(20000)]
with open(os.path.join(out, "data.csv"), "w") as f:
    f.write("\\n".join(rows))
"""


def write_steps(folder: Path) -> list[Path]:
    folders = []
    for i in range(3):
        step = folder / f"step{i}"
        step.mkdir()
        (step / "step.py").write_text(STEP)
        folders.append(step)
    return folders


def pipeline(ws, folders):
    from plinth.pipeline.core import Pipeline, PipelineData
    from plinth.pipeline.steps import PythonScriptStep

    steps, previous = [], None
    for i, folder in enumerate(folders):
        out = PipelineData(f"data{i}")
        inputs = [previous] if previous is not None else []
        steps.append(PythonScriptStep(
            "step.py", name=f"step {i}", source_directory=str(folder), inputs=inputs,
            outputs=[out], arguments=[previous if previous is not None else "-", out]))
        previous = out
    return Pipeline(ws, steps)


def timed_submit(experiment, folders, ws, **kwargs) -> tuple[float, list[bool]]:
    started = time.perf_counter()
    run = experiment.submit(pipeline(ws, folders), **kwargs)
    run.wait_for_completion(show_output=False)
    elapsed = time.perf_counter() - started
    return elapsed, [s.is_reused for s in run.get_steps()]


def plain(folders: list[Path], scratch: Path) -> float:
    started = time.perf_counter()
    source = "-"
    for i, folder in enumerate(folders):
        out = scratch / f"data{i}"
        subprocess.run([sys.executable, str(folder / "step.py"), source, str(out)], check=True)
        source = str(out)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    from plinth.core import Experiment, Workspace

    with tempfile.TemporaryDirectory(prefix="plinth-bench-") as tmp:
        root = Path(tmp)
        os.environ["PLINTH_HOME"] = str(root / "home")
        ws = Workspace.create("bench", path=root / "ws")
        experiment = Experiment(ws, "reuse")
        folders = write_steps(root)
        timed_submit(experiment, folders, ws)  # warm-up: the launcher, first imports
        full, reused, last, peer = [], [], [], []
        for round_ in range(args.repeats):
            seconds, flags = timed_submit(experiment, folders, ws, regenerate_outputs=True)
            assert flags == [False] * 3, flags
            full.append(seconds)
            seconds, flags = timed_submit(experiment, folders, ws)
            assert flags == [True] * 3, flags
            reused.append(seconds)
            script = folders[2] / "step.py"
            script.write_text(script.read_text() + f"# change {round_}\n")
            seconds, flags = timed_submit(experiment, folders, ws)
            assert flags == [True, True, False], flags
            last.append(seconds)
            peer.append(plain(folders, root / f"plain{round_}"))

    rows = {"full run": full, "all reused": reused, "last step changed": last,
            "plain scripts (peer)": peer}
    medians = {k: statistics.median(v) for k, v in rows.items()}
    print(f"\n3-step pipeline, {args.repeats} rounds, median seconds from submit to Completed")
    print(f"{'':<22}{'seconds':>9}{'vs full run':>13}{'vs plain scripts':>18}")
    for label, value in medians.items():
        print(f"{label:<22}{value:>9.3f}{value / medians['full run']:>12.2f}x"
              f"{value / medians['plain scripts (peer)']:>17.2f}x")
    ok = medians["all reused"] < TARGET_REUSED_S
    from rich.console import Console

    Console().print(f"\nTarget: an all-reused resubmission completes in under "
                    f"{TARGET_REUSED_S:.0f} s: {medians['all reused']:.3f} s {verdict(ok)}")
    path = write_result(NAME, {"machine": machine_info(), "repeats": args.repeats,
                               "seconds": rows, "medians": medians,
                               "target_reused_s": TARGET_REUSED_S, "ok": ok})
    print(f"Results: {path}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
