"""Batch inference: rows per second of a ParallelRunStep scoring many small files, beside a
plain Python loop that scores the same files one by one.

Plinth: the course's lab at scale. A LogisticRegression trained on the diabetes data is
registered as ``diabetes_model``; ``--files`` one-row CSV files (default 10,000) are uploaded
to the default datastore of an embedded SQLite workspace in a temp folder and read as a
FileDataset; a pipeline with one ``ParallelRunStep`` (the lab's entry script: ``init()``
loads the model with ``Model.get_model_path``, ``run()`` scores each file of its mini-batch
with ``np.genfromtxt`` + ``predict`` and returns ``"file: prediction"`` lines;
``process_count_per_node=2``, ``mini_batch_size=--mini-batch-size``) is submitted and timed
until ``wait_for_completion()`` returns; its results file is checked (one line per file).
Two rates: end to end (submit to Completed: the step run's start, the input's mount, two
worker processes importing scikit-learn, the scoring, the upload of the results) and the
step run alone (its recorded start to end).

Peer: a plain ``python`` process that loads the same model with joblib and scores the same
files one after the other in the same way, writing the same lines. Two rates: the process
end to end (interpreter, imports, model load, loop) and the loop alone.

Medians of ``--repeats`` rounds, after a warm-up round of each over a few files (which starts
the launcher). Data generation, upload and registration are outside every timing.

Worker processes are fresh interpreters that import numpy, scikit-learn and Plinth: where
``PYTHONDONTWRITEBYTECODE`` is set and the venv holds no ``.pyc`` files, each compiles them
from source. ``--bytecode-cache`` lets every child cache bytecode in a temp folder
(``PYTHONPYCACHEPREFIX``), as a normal install would; the warm-up rounds fill it.

    .venv/bin/python benchmarks/batch_inference.py [--files 10000] [--repeats 3]
        [--mini-batch-size 10] [--bytecode-cache]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _peers import machine_info, verdict, write_result

NAME = "batch_inference"
DATA = Path(__file__).resolve().parents[1] / "examples" / "data" / "diabetes.csv"
FEATURES = ["Pregnancies", "PlasmaGlucose", "DiastolicBloodPressure", "TricepsThickness",
            "SerumInsulin", "BMI", "DiabetesPedigree", "Age"]
#: With two worker processes, the step's end-to-end rate should reach this share of the
#: plain loop's (the step pays for a run, a mount and two interpreters importing sklearn).
TARGET_RATIO = 0.5

ENTRY_SCRIPT = """\
import os
import joblib
import numpy as np
from plinth.core import Model


def init():
    global model
    model = joblib.load(Model.get_model_path("diabetes_model"))


def run(mini_batch):
    results = []
    for f in mini_batch:
        data = np.genfromtxt(f, delimiter=",")
        prediction = model.predict(data.reshape(1, -1))
        results.append("{}: {}".format(os.path.basename(f), prediction[0]))
    return results
"""

PLAIN_SCRIPT = """\
import json, os, sys, time
import joblib
import numpy as np

model_path, folder, out_path = sys.argv[1:4]
model = joblib.load(model_path)
started = time.perf_counter()
results = []
for name in sorted(os.listdir(folder)):
    f = os.path.join(folder, name)
    data = np.genfromtxt(f, delimiter=",")
    prediction = model.predict(data.reshape(1, -1))
    results.append("{}: {}".format(name, prediction[0]))
with open(out_path, "w") as out:
    out.write("\\n".join(results) + "\\n")
print(json.dumps({"loop_s": time.perf_counter() - started, "rows": len(results)}))
"""


def train_model(path: Path) -> None:
    import joblib
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    df = pd.read_csv(DATA)
    model = LogisticRegression(solver="liblinear").fit(df[FEATURES].values,
                                                       df["Diabetic"].values)
    joblib.dump(model, path)


def write_files(folder: Path, count: int) -> None:
    import pandas as pd

    rows = pd.read_csv(DATA)[FEATURES].values
    folder.mkdir(parents=True)
    for i in range(count):
        row = rows[i % len(rows)]
        (folder / f"{i:06d}.csv").write_text(",".join(str(v) for v in row) + "\n")


def file_dataset(ws, folder: Path, target: str):
    from plinth.core import Dataset

    datastore = ws.get_default_datastore()
    datastore.upload(str(folder), target_path=target, overwrite=True, show_progress=False)
    return Dataset.File.from_files(path=(datastore, f"{target}/"))


def pipeline(ws, source: Path, dataset, mini_batch_size: int):
    from plinth.pipeline.core import Pipeline, PipelineData
    from plinth.pipeline.steps import ParallelRunConfig, ParallelRunStep

    config = ParallelRunConfig(
        source_directory=str(source), entry_script="batch_diabetes.py",
        mini_batch_size=str(mini_batch_size), error_threshold=0, output_action="append_row",
        environment=None, compute_target="local", node_count=1, process_count_per_node=2)
    output = PipelineData("inferences", datastore=ws.get_default_datastore())
    step = ParallelRunStep(name="batch-score-diabetes", parallel_run_config=config,
                           inputs=[dataset.as_named_input("diabetes_batch")], output=output,
                           allow_reuse=False)
    return Pipeline(ws, [step])


def timed_pipeline(experiment, ws, source: Path, dataset, mini_batch_size: int,
                   rows: int, scratch: Path) -> tuple[float, float]:
    """(submit to Completed, the step run's start to end) in seconds; checks the results."""
    started = time.perf_counter()
    run = experiment.submit(pipeline(ws, source, dataset, mini_batch_size))
    run.wait_for_completion(show_output=False)
    elapsed = time.perf_counter() - started
    step = next(run.get_children())
    details = step.get_details()
    step_s = (_when(details["endTimeUtc"]) - _when(details["startTimeUtc"])).total_seconds()
    folder = Path(step.get_output_data("inferences").download(scratch, show_progress=False))
    lines = next(folder.rglob("parallel_run_step.txt")).read_text().splitlines()
    assert len(lines) == rows, (len(lines), rows)
    assert {line.rsplit(": ", 1)[1] for line in lines} <= {"0", "1"}
    return elapsed, step_s


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def plain(script: Path, model: Path, folder: Path, out: Path, rows: int) -> tuple[float, float]:
    """(the process end to end, the loop alone) in seconds."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, str(script), str(model), str(folder), str(out)],
                          check=True, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["rows"] == rows, report
    return elapsed, report["loop_s"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--mini-batch-size", type=int, default=10)
    parser.add_argument("--bytecode-cache", action="store_true",
                        help="let child interpreters cache bytecode in a temp folder "
                             "(PYTHONPYCACHEPREFIX), even where PYTHONDONTWRITEBYTECODE is set")
    args = parser.parse_args()
    if args.files < 1 or args.repeats < 1 or args.mini_batch_size < 1:
        parser.error("--files, --repeats and --mini-batch-size must be at least 1")

    from plinth.core import Experiment, Model, Workspace

    with tempfile.TemporaryDirectory(prefix="plinth-bench-") as tmp:
        root = Path(tmp)
        os.environ["PLINTH_HOME"] = str(root / "home")
        if args.bytecode_cache:
            os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
            os.environ["PYTHONPYCACHEPREFIX"] = str(root / "pycache")
        ws = Workspace.create("bench", path=root / "ws")
        model_path = root / "diabetes_model.pkl"
        train_model(model_path)
        Model.register(ws, model_path=str(model_path), model_name="diabetes_model")
        source = root / "batch_pipeline"
        source.mkdir()
        (source / "batch_diabetes.py").write_text(ENTRY_SCRIPT)
        plain_script = root / "plain.py"
        plain_script.write_text(PLAIN_SCRIPT)
        files = root / "batch-data"
        print(f"Writing and uploading {args.files} one-row CSV files ...", flush=True)
        write_files(files, args.files)
        dataset = file_dataset(ws, files, "batch-data")
        warm_files = root / "warm-data"
        write_files(warm_files, 20)
        warm = file_dataset(ws, warm_files, "warm-data")

        experiment = Experiment(ws, "batch-bench")
        timed_pipeline(experiment, ws, source, warm, args.mini_batch_size, 20, root / "warm")
        plain(plain_script, model_path, warm_files, root / "plain-warm.txt", 20)
        end_to_end, step_only, plain_total, plain_loop = [], [], [], []
        for round_ in range(args.repeats):
            total, step_s = timed_pipeline(experiment, ws, source, dataset,
                                           args.mini_batch_size, args.files,
                                           root / f"out{round_}")
            end_to_end.append(total)
            step_only.append(step_s)
            total, loop = plain(plain_script, model_path, files, root / f"plain{round_}.txt",
                                args.files)
            plain_total.append(total)
            plain_loop.append(loop)

    seconds = {"ParallelRunStep, submit to Completed": end_to_end,
               "ParallelRunStep, step run alone": step_only,
               "plain loop, process (peer)": plain_total,
               "plain loop, loop alone (peer)": plain_loop}
    rates = {k: args.files / statistics.median(v) for k, v in seconds.items()}
    peer = rates["plain loop, process (peer)"]
    bytecode = "cached in a temp folder" if args.bytecode_cache else "as the venv has it"
    print(f"\n{args.files} one-row files, mini_batch_size={args.mini_batch_size}, "
          f"process_count_per_node=2, {args.repeats} round(s), medians "
          f"({os.cpu_count()} CPUs; bytecode {bytecode})")
    print(f"{'':<40}{'seconds':>9}{'rows/s':>10}{'vs plain process':>18}")
    for label, rate in rates.items():
        print(f"{label:<40}{args.files / rate:>9.2f}{rate:>10.0f}{rate / peer:>17.2f}x")
    ratio = rates["ParallelRunStep, submit to Completed"] / peer
    ok = ratio >= TARGET_RATIO
    from rich.console import Console

    Console().print(f"\nTarget: a ParallelRunStep (submit to Completed) scores at least "
                    f"{TARGET_RATIO:.1f}x the plain loop's rows/s: {ratio:.2f}x {verdict(ok)}")
    path = write_result(NAME, {"machine": machine_info(), "files": args.files,
                               "repeats": args.repeats, "mini_batch_size": args.mini_batch_size,
                               "bytecode_cache": args.bytecode_cache,
                               "seconds": seconds, "rows_per_second": rates, "ratio": ratio,
                               "target_ratio": TARGET_RATIO, "ok": ok})
    print(f"Results: {path}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
