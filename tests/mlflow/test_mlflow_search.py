"""search_runs filters, ordering and pages, and experiments through MLflow."""

from __future__ import annotations

import time

import pytest
from mlflow.entities import ViewType
from mlflow.exceptions import MlflowException
from mlflow_fixtures import (  # noqa: F401 - fixtures
    backend_fixture,
    client_fixture,
    fresh_mlflow_fixture,
    tracking_fixture,
)

import mlflow
from plinth.core import Experiment


@pytest.fixture
def three_runs(tracking):
    """Three finished runs in experiment 'search' plus one failed; returns (exp_id, ids)."""
    exp_id = mlflow.set_experiment("search").experiment_id
    ids = {}
    for name, acc, opt, team in [("a", 0.2, "sgd", "x"), ("b", 0.9, "adam", "y"),
                                 ("c", 0.6, "adam", "x")]:
        with mlflow.start_run(run_name=name) as active:
            mlflow.log_metric("acc", acc)
            mlflow.log_param("opt", opt)
            mlflow.set_tag("team", team)
        ids[name] = active.info.run_id
        time.sleep(0.005)  # distinct start times (ms), for the default order
    with pytest.raises(ValueError):
        with mlflow.start_run(run_name="d") as failed:
            raise ValueError("bad")
    ids["d"] = failed.info.run_id
    return exp_id, ids


def _names(runs):
    return [r.info.run_name for r in runs]


def test_search_filters(three_runs, client):
    exp_id, _ = three_runs

    def search(filter_string):
        return sorted(_names(client.search_runs([exp_id], filter_string)))

    assert search("metrics.acc > 0.5") == ["b", "c"]
    assert search("metrics.acc <= 0.6") == ["a", "c"]
    assert search("params.opt = 'adam'") == ["b", "c"]
    assert search("tags.team = 'x'") == ["a", "c"]
    assert search("params.opt = 'adam' and tags.team = 'x'") == ["c"]
    assert search("attributes.status = 'FINISHED'") == ["a", "b", "c"]
    assert search("attributes.status = 'FAILED'") == ["d"]
    assert search("attributes.run_name LIKE 'b%'") == ["b"]
    assert search("") == ["a", "b", "c", "d"]


def test_search_order_and_pages(three_runs, client):
    exp_id, ids = three_runs
    ordered = client.search_runs([exp_id], "metrics.acc > 0", order_by=["metrics.acc DESC"])
    assert _names(ordered) == ["b", "c", "a"]
    ascending = client.search_runs([exp_id], "", order_by=["params.opt ASC", "metrics.acc ASC"])
    assert _names(ascending)[:3] == ["c", "b", "a"]

    first = client.search_runs([exp_id], "metrics.acc > 0", max_results=2,
                               order_by=["metrics.acc DESC"])
    assert _names(first) == ["b", "c"] and first.token
    second = client.search_runs([exp_id], "metrics.acc > 0", max_results=2,
                                order_by=["metrics.acc DESC"], page_token=first.token)
    assert _names(second) == ["a"] and not second.token

    # Default order: newest start first.
    assert _names(client.search_runs([exp_id])) == ["d", "c", "b", "a"]
    # The fluent search (list form) goes through the same store.
    fluent = mlflow.search_runs(experiment_names=["search"], filter_string="metrics.acc > 0.5",
                                order_by=["metrics.acc ASC"], output_format="list")
    assert [r.info.run_id for r in fluent] == [ids["c"], ids["b"]]


def test_search_spans_experiments_and_skips_unknown_ones(three_runs, client):
    exp_id, ids = three_runs
    other = client.create_experiment("other")
    with mlflow.start_run(experiment_id=other, run_name="e") as active:
        mlflow.log_metric("acc", 0.99)
    runs = client.search_runs([exp_id, other, "0123456789abcdef0123456789abcdef"],
                              "metrics.acc > 0.8")
    assert sorted(_names(runs)) == ["b", "e"]
    assert active.info.run_id not in ids.values()


def test_search_sees_plinth_runs(tracking, client):
    ws = tracking
    exp = Experiment(ws, "mixed")
    run = exp.start_logging(display_name="plinth-made")
    run.log("acc", 0.7)
    run.tag("origin", "plinth")
    run.complete()
    with mlflow.start_run(experiment_id=exp.id, run_name="mlflow-made") as active:
        mlflow.log_metric("acc", 0.3)
    found = client.search_runs([exp.id], "tags.origin = 'plinth'")
    assert [r.info.run_id for r in found] == [run.id]
    both = client.search_runs([exp.id], "metrics.acc >= 0.3", order_by=["metrics.acc DESC"])
    assert [r.info.run_id for r in both] == [run.id, active.info.run_id]


def test_search_rejects_bad_max_results(tracking, client):
    with pytest.raises(MlflowException) as err:
        client.search_runs(["0"], max_results=0)
    assert err.value.error_code == "INVALID_PARAMETER_VALUE"


def test_experiment_create_get_search(tracking, client):
    ws = tracking
    exp_id = client.create_experiment("alpha-1", tags={"owner": "ann"})
    client.create_experiment("alpha-2")
    client.create_experiment("beta")
    assert Experiment(ws, "alpha-1").id == exp_id

    got = client.get_experiment(exp_id)
    assert got.name == "alpha-1" and got.lifecycle_stage == "active"
    assert got.tags == {"owner": "ann"}
    assert got.creation_time > 0
    assert got.artifact_location.startswith("plinth://")
    assert client.get_experiment_by_name("alpha-1").experiment_id == exp_id
    assert client.get_experiment_by_name("missing") is None
    assert mlflow.get_experiment_by_name("beta").name == "beta"

    with pytest.raises(MlflowException) as err:
        client.create_experiment("alpha-1")
    assert err.value.error_code == "RESOURCE_ALREADY_EXISTS"
    with pytest.raises(MlflowException) as err:
        client.create_experiment("has spaces/and slashes")
    assert err.value.error_code == "INVALID_PARAMETER_VALUE"

    found = client.search_experiments(filter_string="name LIKE 'alpha%'", order_by=["name DESC"])
    assert [e.name for e in found] == ["alpha-2", "alpha-1"]
    assert [e.name for e in client.search_experiments(filter_string="tags.owner = 'ann'")] == [
        "alpha-1"
    ]
    page = client.search_experiments(max_results=2, order_by=["name ASC"])
    assert [e.name for e in page] == ["alpha-1", "alpha-2"] and page.token
    rest = client.search_experiments(max_results=2, order_by=["name ASC"], page_token=page.token)
    assert [e.name for e in rest] == ["beta"] and not rest.token


def test_experiment_tags_delete_and_restore(tracking, client):
    ws = tracking
    exp_id = client.create_experiment("tagged")
    client.set_experiment_tag(exp_id, "purpose", "demo")
    assert client.get_experiment(exp_id).tags == {"purpose": "demo"}
    client.delete_experiment_tag(exp_id, "purpose")
    assert client.get_experiment(exp_id).tags == {}

    client.delete_experiment(exp_id)
    assert client.get_experiment(exp_id).lifecycle_stage == "deleted"
    assert Experiment.list(ws, view_type="ArchivedOnly")[0].id == exp_id
    assert "tagged" not in [e.name for e in client.search_experiments()]
    deleted = client.search_experiments(view_type=ViewType.DELETED_ONLY)
    assert [e.name for e in deleted] == ["tagged"]
    with pytest.raises(MlflowException) as err:
        client.create_run(exp_id)
    assert err.value.error_code == "INVALID_STATE"
    with pytest.raises(MlflowException):
        mlflow.set_experiment("tagged")  # MLflow refuses a deleted experiment

    client.restore_experiment(exp_id)
    assert client.get_experiment(exp_id).lifecycle_stage == "active"
    assert "tagged" in [e.name for e in client.search_experiments()]


def test_set_experiment_by_name_and_id(tracking):
    ws = tracking
    exp = mlflow.set_experiment("by-name")
    assert exp.experiment_id == Experiment(ws, "by-name").id
    again = mlflow.set_experiment(experiment_id=exp.experiment_id)
    assert again.name == "by-name"
    mlflow.set_experiment_tag("stage", "dev")
    assert mlflow.get_experiment(exp.experiment_id).tags == {"stage": "dev"}
