"""AutoML: the held-out score Plinth's AutoML reaches in a fixed time budget, beside FLAML given
the same budget and LightGBM with its default parameters, on the same split of the same data.

Datasets (``--datasets``, a comma list, default all five), all offline: scikit-learn's breast
cancer, wine and digits (classification) and diabetes (regression, ``load_diabetes``), and the
course's ``examples/data/diabetes.csv`` (classification of ``Diabetic``, 10,000 rows; its
``PatientID`` column is an ID, left in the features for every system: Plinth's featurization
should drop it by itself). Each dataset is split once, 25% held out (stratified for
classification, ``random_state=0``); every system trains on the same 75% and is scored on
the same 25% with the same function: AUC_weighted (``roc_auc_score(average='weighted',
multi_class='ovr')`` on ``predict_proba``; for two classes this is the plain AUC) or r2.

* Plinth: ``Experiment.submit(AutoMLConfig(task, primary_metric='AUC_weighted' | 'r2_score',
  training_data=<the training DataFrame>, label_column_name, experiment_timeout_minutes=
  budget / 60, max_concurrent_iterations=2, model_explainability=False))`` on an embedded
  SQLite workspace in a temp folder with ``PLINTH_HOME`` inside it; everything else is
  AutoMLConfig's default (azureml's): early stopping on (10 iterations without a better
  score end the search; ``--no-early-stopping`` turns it off), the voting ensemble on, the
  stack ensemble off, validation by azureml's rule (10 folds under 1,000 rows, else 3),
  one core per iteration. Wall time from ``submit()`` until ``wait_for_completion()``
  returns (so it includes the setup child and the ensembles after the timeout); the model
  scored is ``run.get_output()``'s. The search is seeded from the run id, so it varies from
  run to run.
* FLAML: ``flaml.AutoML().fit(X_train, y_train, task, time_budget=budget, metric='roc_auc' |
  'roc_auc_ovr_weighted' | 'r2', n_jobs=2, seed=0, verbose=0)``.
* LightGBM: ``LGBMClassifier`` / ``LGBMRegressor(verbose=-1)``, default parameters, no tuning.

Target: Plinth's held-out score at least FLAML's on average over the datasets (mean of
Plinth - FLAML >= 0; AUC and r2 differences are averaged alike). About 10 minutes on 2 cores
with the default budget of 60 s; nothing here is asserted on time.

    .venv/bin/python benchmarks/automl.py [--budget 60] [--datasets wine,digits] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import traceback
import warnings
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _peers import load_note, machine_info, verdict, write_result

NAME = "automl"
ROOT = Path(__file__).resolve().parent.parent
DIABETES_CSV = ROOT / "examples" / "data" / "diabetes.csv"
DATASETS = ("breast_cancer", "wine", "digits", "diabetes_regression", "diabetes_csv")
TEST_SIZE, SPLIT_SEED = 0.25, 0
#: An AutoML run still going this long after its budget is canceled (and reported).
WAIT_AFTER_BUDGET_S = 600.0


class AutoMLProblem(RuntimeError):
    """Plinth's AutoML run did not complete, or its output could not be scored."""


# --- data and scoring -----------------------------------------------------------------------


def load(name: str):
    """``(frame, label column, task)``: features and label in one DataFrame."""
    import pandas as pd
    from sklearn import datasets

    if name == "diabetes_csv":
        return pd.read_csv(DIABETES_CSV), "Diabetic", "classification"
    loaders = {"breast_cancer": (datasets.load_breast_cancer, "classification"),
               "wine": (datasets.load_wine, "classification"),
               "digits": (datasets.load_digits, "classification"),
               "diabetes_regression": (datasets.load_diabetes, "regression")}
    loader, task = loaders[name]
    return loader(as_frame=True).frame, "target", task


def split(frame, label: str, task: str):
    from sklearn.model_selection import train_test_split

    stratify = frame[label] if task == "classification" else None
    train, test = train_test_split(frame, test_size=TEST_SIZE, random_state=SPLIT_SEED,
                                   stratify=stratify)
    return train.reset_index(drop=True), test.reset_index(drop=True)


def auc_weighted(y, proba, classes) -> float:
    """azureml's AUC_weighted: one-vs-rest AUCs weighted by class frequency; with two
    classes both are the plain AUC of the second class's probability."""
    import numpy as np
    from sklearn.metrics import roc_auc_score

    proba, classes = np.asarray(proba, dtype=float), list(classes)
    if proba.shape[1] != len(classes):
        raise ValueError(f"{proba.shape[1]} probability columns for {len(classes)} classes")
    if len(classes) == 2:
        return float(roc_auc_score(np.asarray(y) == classes[1], proba[:, 1]))
    return float(roc_auc_score(y, proba, average="weighted", multi_class="ovr",
                               labels=classes))


def score(task: str, model, X, y) -> float:
    from sklearn.metrics import r2_score

    if task == "classification":
        return auc_weighted(y, model.predict_proba(X), model.classes_)
    return float(r2_score(y, model.predict(X)))


# --- the three systems ----------------------------------------------------------------------


def driver_log(ws, run_id: str) -> str:
    try:
        data = ws._location.artifacts().read_bytes(f"runs/{run_id}/logs/driver.log")
    except Exception as exc:  # noqa: BLE001 - only for a diagnostic
        return f"(no driver log: {exc!r})"
    return data.decode(errors="replace")


def run_plinth(args, ws, name: str, task: str, label: str, train, X_test, y_test
               ) -> dict[str, Any]:
    from plinth.core import Experiment
    from plinth.train.automl import AutoMLConfig

    config = AutoMLConfig(
        task=task, primary_metric="AUC_weighted" if task == "classification" else "r2_score",
        training_data=train, label_column_name=label,
        experiment_timeout_minutes=args.budget / 60, max_concurrent_iterations=2,
        enable_early_stopping=not args.no_early_stopping, model_explainability=False)
    experiment = Experiment(ws, f"automl-{name.replace('_', '-')}")
    started = time.perf_counter()
    run = experiment.submit(config)
    # wait_for_completion has no timeout: wait in a thread, so a stuck run is reported.
    waiter = threading.Thread(target=run.wait_for_completion, daemon=True,
                              kwargs={"show_output": False, "raise_on_error": False})
    waiter.start()
    waiter.join(args.budget + WAIT_AFTER_BUDGET_S)
    wall = time.perf_counter() - started
    stuck = waiter.is_alive()
    if stuck:
        run.cancel()
        waiter.join(60.0)
    status = run.get_status()
    if stuck or status != "Completed":
        details = run.get_details()
        how = f" (canceled by the benchmark after {wall:.0f} s)" if stuck else ""
        raise AutoMLProblem(
            f"AutoML run {run.id} ended {status}{how}: {details.get('error')}\n"
            f"--- driver log ---\n{driver_log(ws, run.id)[-4000:]}")
    best_run, model = run.get_output()
    held_out = score(task, model, X_test, y_test)
    properties = run.get_properties()
    children = {c.id: c._record for c in run.get_children()}
    iterations = [r for r in children.values() if "iteration" in r.tags]
    searched = [r for r in iterations if "ensembled_iterations" not in r.properties]
    ensembles = [r for r in iterations if "ensembled_iterations" in r.properties]
    parent = run._record
    setup = children.get(f"{run.id}_setup")
    leaderboard = run.get_leaderboard()
    summary = run.get_featurization_summary()
    dropped = {row["RawFeatureName"]: row["TypeDetected"] for row in summary
               if row["Dropped"] == "Yes"}

    def ends(records) -> float | None:
        times = [r.end_time for r in records if r.end_time is not None]
        return max(times) if times else None

    phases = {  # seconds, from the runs' recorded timestamps
        "submit_to_running": (parent.start_time or parent.created_at) - parent.created_at,
        "setup": ((setup.end_time - parent.start_time)
                  if setup and setup.end_time and parent.start_time else None),
        "search": ((ends(searched) - setup.end_time)
                   if setup and setup.end_time and ends(searched) else None),
        "ensembles": ((ends(ensembles) - ends(searched))
                      if ends(ensembles) and ends(searched) else None),
        "to_completed": ((parent.end_time - (ends(iterations) or parent.start_time))
                         if parent.end_time else None),
    }
    return {
        "run_id": run.id, "score": held_out, "wall_s": wall,
        "iterations": len(iterations), "searched_iterations": len(searched),
        "completed": sum(r.status == "Completed" for r in iterations),
        "canceled": sum(r.status == "Canceled" for r in iterations),
        "failed": sum(r.status == "Failed" for r in iterations),
        "best_run_id": best_run.id,
        "best_algorithm": properties.get("best_algorithm")
        or best_run.get_tags().get("run_algorithm", ""),
        "validation_score": float(properties["score"]) if properties.get("score") else None,
        "stop_reason": properties.get("stop_reason", ""),
        "top": [{k: row[k] for k in ("iteration", "algorithm", "score")}
                for row in leaderboard[:5]],
        "dropped_columns": dropped,
        "phases_s": phases,
    }


def run_flaml(args, task: str, X_train, y_train, X_test, y_test) -> dict[str, Any]:
    from flaml import AutoML

    if task == "regression":
        metric = "r2"
    else:  # FLAML's roc_auc_ovr_weighted wants several classes; for two it is roc_auc
        metric = "roc_auc" if y_train.nunique() == 2 else "roc_auc_ovr_weighted"
    automl = AutoML()
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        automl.fit(X_train, y_train, task=task, time_budget=args.budget, metric=metric,
                   n_jobs=2, seed=0, verbose=0)
    wall = time.perf_counter() - started
    return {"score": score(task, automl, X_test, y_test), "wall_s": wall, "metric": metric,
            "best_estimator": automl.best_estimator,
            "trials": len(getattr(automl, "config_history", {}) or {}),
            "validation_loss": float(automl.best_loss)}


def run_lightgbm(task: str, X_train, y_train, X_test, y_test) -> dict[str, Any]:
    from lightgbm import LGBMClassifier, LGBMRegressor

    model = LGBMClassifier(verbose=-1) if task == "classification" else \
        LGBMRegressor(verbose=-1)
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X_train, y_train)
    wall = time.perf_counter() - started
    return {"score": score(task, model, X_test, y_test), "wall_s": wall}


# --- main -----------------------------------------------------------------------------------



def one_dataset(args, console, ws, name: str) -> dict[str, Any]:
    frame, label, task = load(name)
    train, test = split(frame, label, task)
    X_train, y_train = train.drop(columns=[label]), train[label]
    X_test, y_test = test.drop(columns=[label]), test[label]
    metric = "AUC_weighted" if task == "classification" else "r2"
    console.print(f"\n[bold]{name}[/]: {task}, {len(train)} training / {len(test)} held-out "
                  f"rows, {X_train.shape[1]} columns; {args.budget:g} s each")
    result: dict[str, Any] = {"dataset": name, "task": task, "metric": metric,
                              "train_rows": len(train), "test_rows": len(test),
                              "columns": int(X_train.shape[1]),
                              "load_before": load_note(console)}
    try:
        result["plinth"] = run_plinth(args, ws, name, task, label, train, X_test, y_test)
        p = result["plinth"]
        console.print(f"  Plinth: {p['score']:.4f} in {p['wall_s']:.1f} s, {p['iterations']} "
                      f"iterations ({p['completed']} completed, {p['canceled']} canceled, "
                      f"{p['failed']} failed), best {p['best_algorithm']}; stopped: "
                      f"{p['stop_reason']}")
    except Exception as exc:  # noqa: BLE001 - reported, and the other datasets still run
        text = "".join(traceback.format_exception(exc))
        result["plinth"] = {"error": text}
        console.print(f"  [red]Plinth failed:[/]\n{text}", markup=False, highlight=False)
    result["flaml"] = run_flaml(args, task, X_train, y_train, X_test, y_test)
    f = result["flaml"]
    console.print(f"  FLAML: {f['score']:.4f} in {f['wall_s']:.1f} s, {f['trials']} trials, "
                  f"best {f['best_estimator']}")
    result["lightgbm"] = run_lightgbm(task, X_train, y_train, X_test, y_test)
    g = result["lightgbm"]
    console.print(f"  LightGBM defaults: {g['score']:.4f} in {g['wall_s']:.2f} s")
    return result


def make_table(title: str, columns: list[str]):
    from rich.table import Table

    table = Table(title=title)
    for i, column in enumerate(columns):
        table.add_column(column, justify="left" if i in (0, len(columns) - 1) else "right",
                         no_wrap=i == 0)
    return table


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", type=float, default=60.0,
                        help="seconds of search each AutoML system gets per dataset (60)")
    parser.add_argument("--datasets", default=",".join(DATASETS),
                        help=f"comma list of {', '.join(DATASETS)} (all)")
    parser.add_argument("--no-early-stopping", action="store_true",
                        help="Plinth: enable_early_stopping=False (default: on, azureml's)")
    parser.add_argument("--json", type=Path, default=None,
                        help="also write the results to this file (they always go to "
                             "benchmarks/results/automl.json)")
    args = parser.parse_args()
    if args.budget <= 0:
        parser.error("--budget must be positive")
    names = [n.strip() for n in args.datasets.split(",") if n.strip()]
    unknown = [n for n in names if n not in DATASETS]
    if unknown or not names:
        parser.error(f"--datasets: unknown {', '.join(unknown) or '(none given)'}; choose "
                     f"from {', '.join(DATASETS)}")

    from rich.console import Console

    console = Console()
    if not console.is_terminal:
        console = Console(width=170)  # rich's 80-column default wraps the table
    early = "off" if args.no_early_stopping else "on"
    console.print(f"[bold]AutoML[/]: Plinth (max_concurrent_iterations=2, early stopping "
                  f"{early}) vs FLAML (n_jobs=2) with {args.budget:g} s each, and LightGBM "
                  f"defaults; {len(names)} dataset(s), 25% held out")
    results: list[dict[str, Any]] = []
    saved_home = os.environ.get("PLINTH_HOME")
    with tempfile.TemporaryDirectory(prefix="plinth-bench-automl-") as tmp:
        root = Path(tmp)
        os.environ["PLINTH_HOME"] = str(root / "home")
        try:
            from plinth.core import Workspace

            ws = Workspace.create("bench", path=root / "ws")
            for name in names:
                results.append(one_dataset(args, console, ws, name))
            ws._location.forget()
        finally:
            if saved_home is None:
                os.environ.pop("PLINTH_HOME", None)
            else:
                os.environ["PLINTH_HOME"] = saved_home

    table = make_table(
        f"AutoML held-out scores, {args.budget:g} s budget ({os.cpu_count()} CPUs; rows: "
        "training/held-out)",
        ["dataset", "rows", "metric", "Plinth", "FLAML", "LightGBM", "Plinth-FLAML",
         "Plinth s", "FLAML s", "LightGBM s", "iterations", "best: Plinth / FLAML"])
    differences = []
    for r in results:
        p, f, g = r["plinth"], r["flaml"], r["lightgbm"]
        ok = "score" in p
        diff = p["score"] - f["score"] if ok else None
        if diff is not None:
            differences.append(diff)
        table.add_row(
            r["dataset"], f"{r['train_rows']}/{r['test_rows']}", r["metric"],
            f"{p['score']:.4f}" if ok else "[red]failed[/]", f"{f['score']:.4f}",
            f"{g['score']:.4f}",
            f"[{'green' if diff >= 0 else 'red'}]{diff:+.4f}[/]" if ok else "-",
            f"{p['wall_s']:.1f}" if ok else "-", f"{f['wall_s']:.1f}", f"{g['wall_s']:.2f}",
            str(p["iterations"]) if ok else "-",
            f"{p['best_algorithm'] if ok else '-'} / {f['best_estimator']}")
    console.print(table)

    notes = make_table("Plinth's runs: iterations (ensembles included) by how they ended, "
                       "and where the wall time went (s)",
                       ["dataset", "completed", "canceled", "failed", "ensembles", "setup",
                        "search", "ensembling", "then Completed", "dropped columns",
                        "stop reason"])
    for r in results:
        p = r["plinth"]
        if "score" not in p:
            continue
        ph = p["phases_s"]

        def s(value: float | None) -> str:
            return "-" if value is None else f"{value:.1f}"

        notes.add_row(r["dataset"], str(p["completed"]), str(p["canceled"]), str(p["failed"]),
                      str(p["iterations"] - p["searched_iterations"]), s(ph["setup"]),
                      s(ph["search"]), s(ph["ensembles"]), s(ph["to_completed"]),
                      ", ".join(f"{k} ({v})" for k, v in p["dropped_columns"].items()) or "-",
                      p["stop_reason"] or "-")
    if notes.row_count:
        console.print(notes)

    failed = [r["dataset"] for r in results if "score" not in r["plinth"]]
    mean = statistics.mean(differences) if differences else None
    met = None if mean is None or failed else mean >= 0
    if mean is not None:
        console.print(f"Average Plinth - FLAML over {len(differences)} dataset(s): "
                      f"{mean:+.4f}; Plinth wins {sum(d > 0 for d in differences)}, ties "
                      f"{sum(d == 0 for d in differences)}, loses "
                      f"{sum(d < 0 for d in differences)}")
    if failed:
        console.print(f"[red]Plinth failed on: {', '.join(failed)}[/] (tracebacks above)")
    console.print(f"Target: Plinth's held-out score >= FLAML's on average: {verdict(met)}")
    parameters = {**vars(args), "json": str(args.json) if args.json else None}
    data = {"benchmark": NAME, "machine": machine_info(), "parameters": parameters,
            "datasets": results, "mean_plinth_minus_flaml": mean, "met": met,
            "plinth_failed": failed}
    path = write_result(NAME, data)
    console.print(f"Result written to {path}")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(data, indent=2, default=str) + "\n")
        console.print(f"and to {args.json}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
