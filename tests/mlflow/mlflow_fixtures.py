"""Fixtures of the MLflow tests: MLflow pointed at the test workspace, with its global state
reset around every test (tracking URI, active runs and experiment, cached stores and
repositories). Each test module imports them (``from mlflow_fixtures import ...``); they
are registered under the names without ``_fixture``.

This is not a ``conftest.py``: the folder has no ``__init__.py`` (as a package it would be
imported as ``mlflow`` and hide the real one), so a conftest here would be imported as the
top-level module ``conftest`` and hide ``tests/conftest.py``, which test modules import.
"""

from __future__ import annotations

import os

import pytest
from mlflow.tracking import fluent
from mlflow.tracking._tracking_service import utils

import mlflow
from plinth._mlflow import liveness

__all__ = [
    "backend_fixture", "client_fixture", "fresh_mlflow_fixture", "reset_mlflow", "tracking_fixture",
]

_MLFLOW_ENV = ("MLFLOW_TRACKING_URI", "MLFLOW_RUN_ID", "MLFLOW_EXPERIMENT_ID",
               "MLFLOW_EXPERIMENT_NAME")


def reset_mlflow() -> None:
    while mlflow.active_run() is not None:
        mlflow.end_run()
    mlflow.set_tracking_uri(None)
    fluent._active_experiment_id = None
    for name in _MLFLOW_ENV:
        os.environ.pop(name, None)
    utils._artifact_repos_cache.clear()
    utils._tracking_store_registry._get_store_with_resolved_uri.cache_clear()
    liveness.release_all()


@pytest.fixture(name="backend",
                params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend_fixture(request):
    """The embedded backends only: a plinth: URI names an embedded or database-backed
    workspace; a server-backed workspace's MLflow endpoint is the workspace server's."""
    return request.param


@pytest.fixture(name="fresh_mlflow", autouse=True)
def fresh_mlflow_fixture():
    """Every test starts and ends with MLflow's global state reset."""
    reset_mlflow()
    yield
    reset_mlflow()


@pytest.fixture(name="tracking")
def tracking_fixture(ws):
    """``ws`` with MLflow's tracking URI pointing at it."""
    mlflow.set_tracking_uri(ws.get_mlflow_tracking_uri())
    return ws


@pytest.fixture(name="client")
def client_fixture(tracking):
    return mlflow.MlflowClient()
