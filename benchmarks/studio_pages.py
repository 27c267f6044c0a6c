"""Studio with a big experiment: how long the runs page takes with 10,000 runs, beside the
REST API listing the same runs (the path the SDK reads), measured in the same run.

An embedded SQLite workspace in a temp folder with ``--runs`` (10,000) completed runs in one
experiment, each with an ``accuracy`` metric; the workspace server's app is called in process
(FastAPI's TestClient, so no network) and each page is timed ``--repeat`` (5) times after one
warm-up call; the median is printed with its ratio to the API listing of 1,000 runs (one page
of ``GET /api/v1/workspaces/{ws}/runs``). Pages: the first page of 50 runs, the same with an
``accuracy`` column, sorted by ``accuracy`` (every run's last value, one query), and page 150.
No target is asserted; "fast" means the same order of time as the API's own listing.

    .venv/bin/python benchmarks/studio_pages.py [--runs 10000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="plinth-studio-bench-") as temp:
        os.environ["PLINTH_HOME"] = str(Path(temp) / "home")
        measure(Path(temp), args.runs, args.repeat)


def measure(folder: Path, count: int, repeat: int) -> None:
    from fastapi.testclient import TestClient

    from plinth._server.app import create_app
    from plinth._server.config import ServerConfig
    from plinth._store import MetricPoint
    from plinth.core import Workspace

    ws = Workspace.create("big", path=folder / "ws")
    store = ws._store
    experiment = store.create_experiment(ws._id, "sweep")
    started = time.perf_counter()
    for i in range(count):
        run_id = f"run-{i:05d}"
        store.create_run(experiment.id, run_id, run_type="azureml.scriptrun",
                         status="Completed", tags={"i": str(i)})
        store.log_metrics(run_id, [MetricPoint(name="accuracy", value=(i * 7919 % 1000) / 1000,
                                               step=0, timestamp=time.time())])
    print(f"{count} runs with a metric written in {time.perf_counter() - started:.1f} s")

    client = TestClient(create_app(ServerConfig(workspace=str(folder / "ws"), auth=False)))
    html = {"accept": "text/html"}

    def timed(url: str, headers: dict[str, str]) -> float:
        client.get(url, headers=headers)
        times = []
        for _ in range(repeat):
            begin = time.perf_counter()
            response = client.get(url, headers=headers)
            times.append(time.perf_counter() - begin)
            if response.status_code != 200:
                raise SystemExit(f"{url}: {response.status_code} {response.text[:300]}")
        return statistics.median(times)

    page = "/w/big/experiments/sweep"
    peer = timed(f"/api/v1/workspaces/big/runs?experiment_id={experiment.id}&max_results=1000",
                 {})
    rows = [
        ("runs page, first 50 runs", timed(page, html)),
        ("  with an accuracy column", timed(f"{page}?metrics=accuracy", html)),
        ("  sorted by accuracy", timed(
            f"{page}?metrics=accuracy&sort=metric:accuracy&order=desc", html)),
        ("  page 150", timed(f"{page}?page=150", html)),
    ]
    print(f"\nStudio with {count} runs in one experiment (median of {repeat}):")
    print(f"{'page':32s} {'ms':>8s} {'x API listing':>14s}")
    print(f"{'API: list 1,000 runs (the SDK)':32s} {peer * 1000:8.0f} {1.0:14.2f}")
    for name, seconds in rows:
        print(f"{name:32s} {seconds * 1000:8.0f} {seconds / peer:14.2f}")
    client.close()
    store.close()


if __name__ == "__main__":
    main()
