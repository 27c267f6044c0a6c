"""Load through a real server: many clients logging at once lose nothing and see no error."""

import threading
import time

import pytest

from plinth._api.client import ApiClient
from plinth._store import MetricPoint
from plinth._store.rest import RestStore
from plinth.core import Experiment

pytestmark = [pytest.mark.slow, pytest.mark.remote, pytest.mark.postgres]

CLIENTS = 20
SECONDS = 30
BATCH = 50


@pytest.mark.parametrize("backend", ["remote"])
def test_concurrent_clients_logging_metrics_lose_no_point(ws):
    experiment = Experiment(ws, "load")
    runs = [experiment.start_logging() for _ in range(CLIENTS)]
    server = ws.get_details()["serverUrl"]
    logged = [0] * CLIENTS
    errors: list[BaseException] = []
    deadline = time.monotonic() + SECONDS

    def client(i: int) -> None:
        # Each client has its own connections, as separate processes would.
        store = RestStore(ApiClient(server, headers=ws._store.client._headers), ws.name)
        try:
            step = 0
            while time.monotonic() < deadline:
                now = time.time()
                points = [MetricPoint("loss", float(step + k), "scalar", step + k, now)
                          for k in range(BATCH)]
                store.log_metrics(runs[i].id, points)
                step += BATCH
                logged[i] = step
        except BaseException as exc:  # noqa: BLE001 - counted and reported below
            errors.append(exc)
        finally:
            store.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    for run, count in zip(runs, logged, strict=True):
        points = ws._store.get_metrics(run.id, "loss")
        assert len(points) == count
        assert [p.step for p in points] == list(range(count))
        run.complete()
    assert sum(logged) > CLIENTS * BATCH
