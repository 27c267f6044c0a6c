"""MLflow side of server_load.py, run inside benchmarks/.venv-mlflow.

argv: tracking_uri clients seconds batch. Prints one JSON line: points, errors, seconds,
stored (points read back).
"""

import json
import sys
import threading
import time

from mlflow.entities import Metric
from mlflow.tracking import MlflowClient


def main() -> None:
    uri, clients, seconds, batch = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(
        sys.argv[4])
    setup = MlflowClient(uri)
    experiment = setup.create_experiment(f"load-{time.time_ns()}")
    runs = [setup.create_run(experiment).info.run_id for _ in range(clients)]
    logged = [0] * clients
    errors: list[str] = []
    start = time.perf_counter()
    deadline = time.monotonic() + seconds

    def client(i: int) -> None:
        mlflow = MlflowClient(uri)
        step = 0
        try:
            while time.monotonic() < deadline:
                now = int(time.time() * 1000)
                metrics = [Metric("loss", float(step + k), now, step + k) for k in range(batch)]
                mlflow.log_batch(runs[i], metrics=metrics)
                step += batch
                logged[i] = step
        except Exception as exc:  # noqa: BLE001
            errors.append(repr(exc))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    stored = sum(len(setup.get_metric_history(run, "loss")) for run in runs)
    print(json.dumps({"points": sum(logged), "errors": errors, "seconds": elapsed,
                      "stored": stored}))


if __name__ == "__main__":
    main()
