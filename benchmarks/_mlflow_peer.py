"""The MLflow side of metric_logging.py; runs in benchmarks/.venv-mlflow, not Plinth's venv.

Logs ``loss`` against a SQLite tracking store two ways and prints one JSON line:

* ``log_metric``: ``mlflow.log_metric('loss', v, step=i)`` per point in an active run;
* ``log_batch``: ``MlflowClient().log_batch`` with ``--batch-size`` metrics per call.

Setup (creating the database, its schema and the run) is outside the timings, as it is for
Plinth; ending the run is inside them, as ``run.complete()`` is for Plinth.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True, help="path of the SQLite file to create")
    parser.add_argument("--points", type=int, required=True)
    parser.add_argument("--batch-points", type=int, required=True)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()

    os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")
    os.environ.pop("MLFLOW_ENABLE_ASYNC_LOGGING", None)  # the default: synchronous calls
    from mlflow.entities import Metric
    from mlflow.tracking import MlflowClient

    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{args.db}")
    experiment_id = mlflow.set_experiment("bench").experiment_id  # creates the schema
    client = MlflowClient()

    def check(run_id: str, expected: int) -> None:
        stored = len(client.get_metric_history(run_id, "loss"))
        if stored != expected:
            raise SystemExit(f"MLflow stored {stored} of {expected} points of run {run_id}.")

    per_call, batched = [], []
    for _ in range(args.repeat):
        if args.points:
            run = mlflow.start_run()
            cpu, started = time.process_time(), time.perf_counter()
            for i in range(args.points):
                mlflow.log_metric("loss", float(i), step=i)
            looped = time.perf_counter()
            mlflow.end_run()
            ended, cpu = time.perf_counter(), time.process_time() - cpu
            check(run.info.run_id, args.points)
            per_call.append({"points": args.points, "loop_s": looped - started,
                             "total_s": ended - started, "cpu_s": cpu})

        if args.batch_points:
            run_id = client.create_run(experiment_id).info.run_id
            cpu, started = time.process_time(), time.perf_counter()
            batch = []
            for i in range(args.batch_points):
                batch.append(Metric("loss", float(i), int(time.time() * 1000), i))
                if len(batch) == args.batch_size:
                    client.log_batch(run_id, metrics=batch)
                    batch = []
            if batch:
                client.log_batch(run_id, metrics=batch)
            looped = time.perf_counter()
            client.set_terminated(run_id)
            ended, cpu = time.perf_counter(), time.process_time() - cpu
            check(run_id, args.batch_points)
            batched.append({"points": args.batch_points, "loop_s": looped - started,
                            "total_s": ended - started, "cpu_s": cpu})

    print(json.dumps({"mlflow_version": mlflow.__version__, "log_metric": per_call,
                      "log_batch": batched, "batch_size": args.batch_size}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
