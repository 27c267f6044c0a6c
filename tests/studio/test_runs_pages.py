"""Studio's experiment, run and compare pages, rendered by the app over an embedded workspace
(FastAPI's TestClient; no browser): what each page's HTML holds, and the routes they use."""

from __future__ import annotations

import json
import re
import uuid

import pytest
from fastapi.testclient import TestClient

from plinth._server.app import create_app
from plinth._server.auth import STUDIO_COOKIE, hash_secret, new_token
from plinth._server.config import ServerConfig
from plinth._store import MetricPoint, RunStatus, SqlStore
from plinth.core import Experiment, Workspace

HTML = {"accept": "text/html"}


@pytest.fixture
def ws(tmp_path):
    return Workspace.create(f"ws-{uuid.uuid4().hex[:6]}", path=tmp_path / "workspace")


@pytest.fixture
def client(ws, tmp_path):
    app = create_app(ServerConfig(workspace=str(tmp_path / "workspace"), auth=False))
    with_client = TestClient(app)
    yield with_client
    with_client.close()
    app.state.plinth.store.close()


def page(client, url: str, status: int = 200) -> str:
    response = client.get(url, headers=HTML)
    assert response.status_code == status, response.text[:2000]
    return response.text


def row_ids(html: str, table: str = "runs") -> list[str]:
    """The data-run-id of each row of the table with that id, in order."""
    body = re.search(rf'<table id="{table}".*?</table>', html, re.S).group(0)
    return re.findall(r'<tr data-run-id="([^"]+)"', body)


def store_run(ws, experiment: str, run_id: str | None = None, **kwargs):
    store = ws._store
    exp = store.create_experiment(ws._id, experiment)
    kwargs.setdefault("run_type", "azureml.scriptrun")
    return store.create_run(exp.id, run_id or f"{experiment}_{uuid.uuid4().hex[:10]}", **kwargs)


def finish(ws, run_id: str, status: str = RunStatus.COMPLETED) -> None:
    ws._store.set_status(run_id, RunStatus.RUNNING)
    ws._store.set_status(run_id, status)


# -- experiments and the runs table -----------------------------------------------------------


def test_experiments_page_counts_runs_and_hides_archived_ones(ws, client):
    exp = Experiment(ws, "visible")
    parent = exp.start_logging()
    parent.child_run().complete()
    parent.complete()
    exp.start_logging().complete()
    old = Experiment(ws, "old")
    old.start_logging().complete()
    old.archive()
    html = page(client, f"/w/{ws.name}/experiments")
    table = re.search(r'<table id="experiments".*?</table>', html, re.S).group(0)
    assert f'href="/w/{ws.name}/experiments/visible"' in table
    row = re.search(r'<tr data-experiment="visible".*?</tr>', table, re.S).group(0)
    assert '<td class="num" title="3 run(s) counting child runs">2</td>' in row
    assert "<time datetime=" in row
    assert "old" not in table
    archived = page(client, f"/w/{ws.name}/experiments?archived=1")
    assert 'data-experiment="old"' in archived and "archived</span>" in archived


def test_runs_table_sorts_by_a_metric_column_and_shows_the_chosen_columns(ws, client):
    exp = Experiment(ws, "sweep")
    runs = {}
    for name, acc in [("low", 0.2), ("high", 0.9), ("mid", 0.5), ("none", None)]:
        run = exp.start_logging(display_name=name)
        if acc is not None:
            run.log("acc", acc / 2)
            run.log("acc", acc)  # the last value is the column's
            run.log("loss", 1 - acc)
        run.log("note", "text is not a column")
        run.complete()
        runs[name] = run.id
    url = f"/w/{ws.name}/experiments/sweep"
    html = page(client, f"{url}?metrics=acc,loss&sort=metric:acc&order=desc")
    assert row_ids(html) == [runs["high"], runs["mid"], runs["low"], runs["none"]]
    assert re.search(rf'data-run-id="{runs["high"]}".*?data-metric="acc">0.9<', html, re.S)
    assert re.search(rf'data-run-id="{runs["mid"]}".*?data-metric="loss">0.5<', html, re.S)
    assert '<th scope="col" class="num metric" aria-sort="descending">' in html
    # The header toggles the order; runs without the metric stay last.
    toggle = "?metrics=acc,loss&amp;sort=metric:acc&amp;order=asc"
    assert f'href="/w/{ws.name}/experiments/sweep{toggle}"' in html
    html = page(client, f"{url}?metrics=acc&sort=metric:acc&order=asc")
    assert row_ids(html) == [runs["low"], runs["mid"], runs["high"], runs["none"]]
    # The picker lists the experiment's numeric metrics (not text ones).
    picker = re.search(r'<form method="get" action="[^"]+" id="metric-picker">.*?</form>',
                       html, re.S).group(0)
    assert 'value="acc" checked' in picker and 'value="loss">' in picker
    assert 'value="note"' not in picker
    # Sorting by a column of the record, and repeated metrics= parameters.
    html = page(client, f"{url}?sort=run&metrics=loss&metrics=acc")
    assert row_ids(html) == [runs["high"], runs["low"], runs["mid"], runs["none"]]
    assert html.index('data-sort="metric:loss"') < html.index('data-sort="metric:acc"')
    # The rows link to the runs, and carry what the compare form needs.
    assert f'href="/w/{ws.name}/runs/{runs["high"]}">high</a>' in html
    assert f'value="{runs["high"]}" form="compare-form"' in html
    assert f'action="/w/{ws.name}/compare"' in html


def test_a_long_runs_table_is_filtered_and_paged_without_reading_each_runs_metrics(
        ws, client, monkeypatch):
    store = ws._store
    exp = store.create_experiment(ws._id, "many")
    ids = []
    for i in range(120):
        run = store.create_run(exp.id, f"many_{i:03d}", run_type="azureml.scriptrun",
                               tags={"group": "even" if i % 2 == 0 else "odd"},
                               display_name=f"trial {i:03d}")
        store.log_metrics(run.id, [MetricPoint("score", float(i % 7)),
                                   MetricPoint("score", float(i))])
        if i % 3 == 0:
            finish(ws, run.id, RunStatus.FAILED)
        ids.append(run.id)
    newest_first = ids[::-1]
    # Pages read metric values in batched queries, never one run at a time.
    import plinth._store.sql as sql

    monkeypatch.setattr(sql, "_IDS_PER_QUERY", 50)

    def no_get_metrics(self, *args, **kwargs):
        raise AssertionError("the runs table read a run's metrics one run at a time")

    monkeypatch.setattr(SqlStore, "get_metrics", no_get_metrics)
    url = f"/w/{ws.name}/experiments/many"
    first = page(client, url)
    assert row_ids(first) == newest_first[:50]
    assert "Runs 1–50 of 120" in first and "Page 1 of 3" in first
    assert f'href="/w/{ws.name}/experiments/many?page=2" rel="next"' in first
    last = page(client, f"{url}?page=3")
    assert row_ids(last) == newest_first[100:]
    assert "Runs 101–120 of 120" in last and 'rel="prev"' in last
    assert row_ids(page(client, f"{url}?page=99")) == newest_first[100:]  # the last page
    assert len(row_ids(page(client, f"{url}?per_page=25&page=2"))) == 25
    # Sorting by a metric orders the whole experiment, then pages.
    by_score = page(client, f"{url}?sort=metric:score&order=desc&metrics=score")
    assert row_ids(by_score) == newest_first[:50]
    assert row_ids(page(client, f"{url}?sort=metric:score&order=asc&page=3")) == ids[100:]
    # Filters: text in the id, name or tags, and the status.
    assert row_ids(page(client, f"{url}?q=trial%20011")) == ["many_011"]
    odd = page(client, f"{url}?q=group%3Dodd&per_page=100")
    assert row_ids(odd) == [i for i in newest_first if int(i[-3:]) % 2 == 1]
    assert "(filtered from 120)" in odd
    failed = page(client, f"{url}?status=Failed&per_page=100")
    assert row_ids(failed) == [i for i in newest_first if int(i[-3:]) % 3 == 0]
    assert row_ids(page(client, f"{url}?q=nothing-like-this")) == []


def test_unknown_experiments_and_runs_are_404_pages(ws, client):
    for url in (f"/w/{ws.name}/runs/no-such-run", f"/w/{ws.name}/runs/no-such-run/metrics",
                f"/w/{ws.name}/experiments/no-such-experiment", "/w/no-such-ws/experiments"):
        html = page(client, url, 404)
        assert "<h1>Not found</h1>" in html and 'role="alert"' in html


# -- a run's pages ------------------------------------------------------------------------------


def test_run_overview_shows_definition_lineage_models_and_parent(ws, client, tmp_path):
    store = ws._store
    dataset = store.create_dataset(ws._id, "diabetes", kind="tabular",
                                   definition={"sources": []})
    parent = store_run(ws, "train", run_type="azureml.scriptrun")
    run = store_run(ws, "train", parent_id=parent.id, display_name="fit", tags={"team": "a"},
                    properties={"script": "train.py"}, definition={
                        "script": "train.py", "arguments": ["--reg", "0.1"], "target": "cpu",
                        "compute": {"name": "cpu", "kind": "AmlCompute"},
                        "environment": {"name": "sklearn-env", "version": "3"},
                        "inputs": [{"name": "training_data", "kind": "dataset",
                                    "dataset_id": dataset.id, "mode": "direct"}]})
    store.add_run_datasets(run.id, [{"dataset_id": dataset.id, "name": "training_data",
                                     "direction": "input", "mode": "direct"}])
    finish(ws, run.id)
    ws._artifacts.put_bytes(f"runs/{run.id}/outputs/model.pkl", b"model")
    from plinth.core import Run

    Run.get(ws, run.id).register_model("diabetes-model", "outputs/model.pkl")
    html = page(client, f"/w/{ws.name}/runs/{run.id}")
    assert '<nav class="tabs"' in html
    assert f'<a href="/w/{ws.name}/runs/{run.id}" aria-current="page">Overview</a>' in html
    assert '<span class="badge status-Completed">Completed</span>' in html
    assert "<code>--reg 0.1</code>" in html and "<code>train.py</code>" in html
    assert "cpu <span class=\"muted\">(AmlCompute)</span>" in html
    assert "sklearn-env" in html and "version 3" in html
    assert f'href="/w/{ws.name}/datasets/diabetes" data-dataset="diabetes"' in html
    assert f'href="/w/{ws.name}/models/diabetes-model" data-model="diabetes-model"' in html
    assert f'<dd id="parent-link"><a href="/w/{ws.name}/runs/{parent.id}">' in html
    assert '<th scope="row">team</th>' in html
    children = page(client, f"/w/{ws.name}/runs/{parent.id}/children")
    assert row_ids(children, "children") == [run.id]
    assert "Child runs (1)" in children


def test_metrics_tab_charts_series_and_shows_values_tables_and_images(ws, client, tmp_path):
    run = Experiment(ws, "metrics").start_logging()
    for i in range(50):
        run.log("loss", 1 / (i + 1))
    run.log("accuracy", 0.93)
    run.log_list("fold scores", [0.8, 0.85])
    run.log_row("curve", x=1, y=0.5)
    run.log_row("curve", x=2, y=0.25)
    run.log_table("table", {"a": [1, 2], "b": ["x", "y"]})
    run.log_confusion_matrix("cm", {"schema_type": "confusion_matrix", "data": {
        "class_labels": ["no", "yes"], "matrix": [[5, 1], [2, 7]]}})
    image = tmp_path / "plot.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\n fake")
    run.log_image("plot", path=str(image))
    run.complete()
    html = page(client, f"/w/{ws.name}/runs/{run.id}/metrics")
    assert re.search(r'<div class="chart" data-metric="loss"', html)
    assert 'data-metric="accuracy"' not in re.search(
        r'id="metric-charts".*?</section>', html, re.S).group(0)
    api = f"/api/v1/workspaces/{ws.name}/runs/{run.id}/metrics?max_points=1000"
    assert f'data-api="{api}"' in html
    assert '<tr data-metric="accuracy"><th scope="row">accuracy</th><td class="num">0.93' in html
    assert '<table data-metric="curve" data-kind="row">' in html
    assert '<td class="num">0.25</td>' in html
    assert '<table class="matrix" data-metric="cm">' in html
    img = f'<img src="/w/{ws.name}/runs/{run.id}/download/images/plot.png?inline=1"'
    assert img in html
    shown = client.get(f"/w/{ws.name}/runs/{run.id}/download/images/plot.png?inline=1")
    assert shown.headers["content-type"] == "image/png"
    assert shown.headers["content-disposition"].startswith("inline;")
    assert shown.content == image.read_bytes()
    assert '<script src="/static/runs.js" defer></script>' in html
    assert client.get("/static/runs.js").status_code == 200
    assert client.get("/static/runs.css").status_code == 200


def test_the_metrics_api_downsamples_long_series_for_charts(ws, client):
    run = store_run(ws, "long")
    values = [float((i * 37) % 1000) for i in range(20_000)]
    values[12_345] = -5.0  # a spike a chart must keep
    ws._store.log_metrics(run.id, [MetricPoint("x", v) for v in values]
                          + [MetricPoint("short", 1.0, step=10), MetricPoint("short", 2.0)])
    url = f"/api/v1/workspaces/{ws.name}/runs/{run.id}/metrics"
    full = client.get(url).json()
    assert len(full) == 20_002 and full[0][3] is None  # as logged
    points = client.get(url, params={"max_points": 1000}).json()
    x = [p for p in points if p[0] == "x"]
    assert 900 <= len(x) <= 1000
    steps = [p[3] for p in x]
    assert steps == sorted(steps) and steps[0] == 0 and steps[-1] == 19_999
    assert [p[1] for p in x if p[3] == 12_345] == [-5.0]
    assert max(p[1] for p in x) == 999.0
    assert [p[1:4] for p in points if p[0] == "short"] == [[1.0, "scalar", 10],
                                                          [2.0, "scalar", 1]]
    assert client.get(url, params={"max_points": 1}).status_code == 422


def test_the_latest_metrics_api_reads_only_the_workspaces_runs(ws, client):
    mine = store_run(ws, "latest")
    ws._store.log_metrics(mine.id, [MetricPoint("acc", 0.5), MetricPoint("acc", 0.75)])
    other_ws = ws._store.create_workspace(f"other-{uuid.uuid4().hex[:6]}", {})
    other_exp = ws._store.create_experiment(other_ws.id, "latest")
    theirs = ws._store.create_run(other_exp.id, f"theirs-{uuid.uuid4().hex[:6]}",
                                  run_type="azureml.scriptrun")
    ws._store.log_metrics(theirs.id, [MetricPoint("acc", 0.9)])
    url = f"/api/v1/workspaces/{ws.name}/runs-latest-metrics"
    got = client.get(url, params={"run_id": [mine.id, theirs.id, "missing"], "name": "acc"})
    assert got.status_code == 200 and got.json() == {mine.id: {"acc": 0.75}}
    assert client.get(url).json() == {}
    too_many = client.get(url, params={"run_id": [f"r{i}" for i in range(201)]})
    assert too_many.status_code == 400


def test_logs_tab_shows_the_log_and_follows_a_running_run(ws, client):
    run = store_run(ws, "logs")
    ws._store.set_status(run.id, RunStatus.RUNNING)
    ws._artifacts.put_bytes(f"runs/{run.id}/logs/driver.log", b"epoch 1 <b>\n")
    ws._artifacts.put_bytes(f"runs/{run.id}/logs/environment.log", b"env\n")
    html = page(client, f"/w/{ws.name}/runs/{run.id}/logs")
    pre = re.search(r'<pre id="log"[^>]*>', html).group(0)
    assert 'data-live="1"' in pre and 'data-offset="12"' in pre
    src = f"/api/v1/workspaces/{ws.name}/artifacts/runs/{run.id}/logs/driver.log"
    assert f'data-src="{src}"' in pre
    assert "epoch 1 &lt;b&gt;" in html
    assert f'href="/w/{ws.name}/runs/{run.id}/logs?file=logs/environment.log"' in html
    # What the page's script fetches: the bytes after the offset, and the run's status.
    ws._artifacts.put_bytes(f"runs/{run.id}/logs/driver.log", b"epoch 1 <b>\nepoch 2\n")
    assert client.get(src, params={"offset": 12}).content == b"epoch 2\n"
    assert client.get(f"/api/v1/workspaces/{ws.name}/runs/{run.id}").json()["status"] == \
        "Running"
    other = page(client, f"/w/{ws.name}/runs/{run.id}/logs?file=logs/environment.log")
    assert re.search(r'<pre id="log"[^>]*>env\n</pre>', other)
    ws._store.set_status(run.id, RunStatus.COMPLETED)
    assert 'data-live="0"' in page(client, f"/w/{ws.name}/runs/{run.id}/logs")


def test_outputs_tab_browses_folders_and_downloads_files(ws, client):
    run = store_run(ws, "files")
    finish(ws, run.id)
    arts = ws._artifacts
    arts.put_bytes(f"runs/{run.id}/outputs/model.pkl", b"m" * 2048)
    arts.put_bytes(f"runs/{run.id}/outputs/plots/roc.png", b"png")
    arts.put_bytes(f"runs/{run.id}/résumé notes.txt", "héllo".encode())
    base = f"/w/{ws.name}/runs/{run.id}"
    top = page(client, f"{base}/outputs")
    assert f'<a href="{base}/outputs?path=outputs">outputs/</a>' in top
    assert "2.0 KiB <span class=\"muted small\">in 2 files</span>" in top
    assert f'href="{base}/download/r%C3%A9sum%C3%A9%20notes.txt" download' in top
    inside = page(client, f"{base}/outputs?path=outputs")
    assert '<tr class="file" data-file="model.pkl">' in inside
    assert '<td class="num" data-bytes="2048">2.0 KiB</td>' in inside
    assert f'href="{base}/download/outputs/model.pkl" download' in inside
    assert 'data-folder="plots"' in inside
    page(client, f"{base}/outputs?path=nothing", 404)

    got = client.get(f"{base}/download/outputs/model.pkl")
    assert got.status_code == 200 and got.content == b"m" * 2048
    assert got.headers["content-disposition"] == \
        "attachment; filename=\"model.pkl\"; filename*=UTF-8''model.pkl"
    assert got.headers["content-type"] == "application/octet-stream"
    odd = client.get(f"{base}/download/r%C3%A9sum%C3%A9%20notes.txt")
    assert odd.content == "héllo".encode()
    assert "filename*=UTF-8''r%C3%A9sum%C3%A9%20notes.txt" in odd.headers["content-disposition"]
    # Images are shown inline only when asked; other files never are.
    assert client.get(f"{base}/download/outputs/plots/roc.png?inline=1").headers[
        "content-disposition"].startswith("inline;")
    assert client.get(f"{base}/download/outputs/model.pkl?inline=1").headers[
        "content-disposition"].startswith("attachment;")
    assert client.get(f"{base}/download/outputs/missing.bin", headers=HTML).status_code == 404
    assert client.get(f"{base}/download/outputs", headers=HTML).status_code == 404
    other = store_run(ws, "files")
    arts.put_bytes(f"runs/{other.id}/secret.txt", b"s")
    assert client.get(f"{base}/download/..%2F{other.id}%2Fsecret.txt").status_code in (400, 404)


# -- HyperDrive, AutoML and pipeline runs --------------------------------------------------------


def test_hyperdrive_parent_ranks_children_and_draws_parallel_coordinates(ws, client):
    sweep = {"primary_metric_name": "accuracy", "goal": "maximize", "max_total_runs": 4,
             "sampling": {"kind": "grid"}, "policy": {"kind": "none"}}
    parent = store_run(ws, "hd", run_id=f"HD_{uuid.uuid4().hex[:8]}", run_type="hyperdrive",
                       properties={"primary_metric_config": json.dumps(
                           {"name": "accuracy", "goal": "maximize"})},
                       definition={"hyperdrive": sweep, "target": "local"})
    trials = [({"lr": 0.001, "kernel": "rbf"}, [0.5, 0.7]),
              ({"lr": 0.1, "kernel": "linear"}, [0.9, 0.8]),  # best: its best value counts
              ({"lr": 0.01, "kernel": "rbf"}, [0.6]),
              ({"lr": 1.0, "kernel": "linear"}, [])]
    for i, (params, values) in enumerate(trials):
        text = json.dumps(params, sort_keys=True)
        child = store_run(ws, "hd", run_id=f"{parent.id}_{i}", parent_id=parent.id,
                          tags={"hyperparameters": text}, properties={"hyperparameters": text})
        ws._store.log_metrics(child.id, [MetricPoint("accuracy", v) for v in values])
        finish(ws, child.id)
    html = page(client, f"/w/{ws.name}/runs/{parent.id}")
    assert row_ids(html, "hyperdrive-children") == [f"{parent.id}_{i}" for i in (1, 0, 2, 3)]
    assert f'<tr data-run-id="{parent.id}_1" class="best">' in html
    assert re.search(rf'id="best-run">Best run: <a href="/w/{ws.name}/runs/{parent.id}_1"',
                     html)
    svg = re.search(r'<svg id="parallel-coordinates".*?</svg>', html, re.S).group(0)
    assert 'data-drawn="1"' in svg
    assert re.findall(r'data-axis="([^"]+)"', svg) == ["kernel", "lr", "accuracy"]
    assert "lr (log)" in svg
    lines = re.findall(r'<polyline class="trial([^"]*)" points="([^"]+)"[^>]*data-run-id="'
                       r'([^"]+)"', svg)
    assert len(lines) == 4
    by_run = {run_id: (cls, pts) for cls, pts, run_id in lines}
    assert by_run[f"{parent.id}_1"][0] == " best"
    assert len(by_run[f"{parent.id}_0"][1].split()) == 3
    assert "unscored" in by_run[f"{parent.id}_3"][0]
    assert len(by_run[f"{parent.id}_3"][1].split()) == 2  # no point on the metric axis
    assert f'<a href="/w/{ws.name}/runs/{parent.id}_1" class="trial-link">' in svg


def test_automl_parent_shows_leaderboard_guardrails_and_feature_importance(ws, client):
    settings = {"task": "classification", "primary_metric": "AUC_weighted", "goal": "maximize"}
    parent = store_run(ws, "aml", run_id=f"AutoML_{uuid.uuid4()}", run_type="automl",
                       properties={"task": "classification", "primary_metric": "AUC_weighted"},
                       definition={"automl": {"settings": settings, "search": {}}})
    scores = {0: 0.81, 1: 0.93, 2: 0.88, 3: None}
    for i, score in scores.items():
        algorithm = ["LogisticRegression", "LightGBM", "RandomForest", "XGBoost"][i]
        child = store_run(ws, "aml", run_id=f"{parent.id}_{i}", parent_id=parent.id,
                          display_name=f"{i}: {algorithm}",
                          tags={"iteration": str(i), "run_algorithm": algorithm})
        if score is not None:
            ws._store.log_metrics(child.id, [MetricPoint("AUC_weighted", score),
                                             MetricPoint("accuracy", 0.5)])
        finish(ws, child.id, RunStatus.COMPLETED if score is not None else RunStatus.FAILED)
    setup = {"guardrails": [
        {"name": "Class balancing detection", "status": "alerted", "description": "Skewed.",
         "details": [{"Class": "1", "Count": 15}]},
        {"name": "Missing feature values imputation", "status": "passed",
         "description": "None missing.", "details": []}],
        "featurization_summary": [{"RawFeatureName": "age", "TypeDetected": "Numeric",
                                   "Dropped": "No", "EngineeredFeatureCount": 1,
                                   "Transformations": ["MeanImputer"]}]}
    ws._artifacts.put_bytes(f"runs/{parent.id}_setup/outputs/setup.json",
                            json.dumps(setup).encode())
    ws._artifacts.put_bytes(f"runs/{parent.id}_explain/outputs/feature_importance.json",
                            json.dumps({"raw": {"age": 0.05, "bmi": 0.2}}).encode())
    ws._store.add_properties(parent.id, {"model_explain_run_id": f"{parent.id}_explain",
                                         "best_child_run_id": f"{parent.id}_1"})
    html = page(client, f"/w/{ws.name}/runs/{parent.id}")
    assert row_ids(html, "automl-leaderboard") == [f"{parent.id}_{i}" for i in (1, 2, 0, 3)]
    board = re.search(r'<table id="automl-leaderboard".*?</table>', html, re.S).group(0)
    assert re.search(r'data-iteration="1" class="best">\s*<td class="num">1</td>'
                     r'<td class="num">1</td><td>LightGBM</td>\s*<td class="num" '
                     r'data-metric="AUC_weighted">0.93</td>', board)
    guardrails = re.search(r'<table id="guardrails".*?</table>\s*</div>', html, re.S).group(0)
    assert '<span class="badge status-alerted">alerted</span>' in guardrails
    assert '<span class="badge status-passed">passed</span>' in guardrails
    assert "<td>MeanImputer</td>" in html
    importance = re.search(r'<table id="feature-importance".*?</table>', html, re.S).group(0)
    assert re.findall(r'data-feature="([^"]+)"', importance) == ["bmi", "age"]
    assert "width: 100.0%" in importance and "width: 25.0%" in importance


def two_step_pipeline(ws, tmp_path):
    """A prepare -> train pipeline's graph, as ``Pipeline.submit`` records it."""
    from plinth.core import RunConfiguration
    from plinth.pipeline.core import Pipeline, PipelineData
    from plinth.pipeline.steps import PythonScriptStep

    source = tmp_path / "steps"
    source.mkdir()
    (source / "prep.py").write_text("print('prep')\n")
    (source / "train.py").write_text("print('train')\n")
    prepped = PipelineData("prepped", datastore=ws.get_default_datastore())
    prep = PythonScriptStep(name="prepare data", script_name="prep.py",
                            source_directory=str(source), outputs=[prepped],
                            arguments=["--out", prepped], runconfig=RunConfiguration())
    train = PythonScriptStep(name="train model", script_name="train.py",
                             source_directory=str(source), inputs=[prepped],
                             arguments=["--folder", prepped], runconfig=RunConfiguration())
    return Pipeline(ws, [prep, train])._graph()


def test_pipeline_run_draws_its_step_graph_with_status_and_reuse(ws, client, tmp_path):
    graph = two_step_pipeline(ws, tmp_path)
    keys = {s["name"]: s["key"] for s in graph["steps"]}
    parent = store_run(ws, "pipe", run_type="azureml.PipelineRun", status=RunStatus.RUNNING,
                       properties={"azureml.runsource": "azureml.PipelineRun"},
                       definition={"pipeline": graph, "parameters": {}, "target": "local"})
    # As the pipeline driver records them: the first step reused an earlier run's outputs,
    # the second one runs.
    earlier = store_run(ws, "pipe")
    finish(ws, earlier.id)
    reused = store_run(ws, "pipe", run_type="azureml.StepRun", parent_id=parent.id,
                       display_name="prepare data", properties={
                           "azureml.nodeid": keys["prepare data"], "StepType": "python",
                           "azureml.pipelinerunid": parent.id, "azureml.isreused": "true",
                           "azureml.reusedrunid": earlier.id},
                       definition={"pipeline_step": {"key": keys["prepare data"],
                                                     "name": "prepare data"}})
    finish(ws, reused.id)
    running = store_run(ws, "pipe", run_type="azureml.StepRun", parent_id=parent.id,
                        display_name="train model", properties={
                            "azureml.nodeid": keys["train model"], "StepType": "python",
                            "azureml.pipelinerunid": parent.id})
    ws._store.set_status(running.id, RunStatus.RUNNING)
    html = page(client, f"/w/{ws.name}/runs/{parent.id}")
    svg = re.search(r'<svg id="pipeline-graph".*?</svg>', html, re.S).group(0)
    nodes = re.findall(r'<g class="node[^"]*" data-step="([^"]+)" data-status="([^"]+)" '
                       r'data-reused="(true|false)"', svg)
    assert nodes == [("prepare data", "Completed", "true"), ("train model", "Running", "false")]
    assert f'<a href="/w/{ws.name}/runs/{reused.id}">' in svg
    assert ">reused</text>" in svg
    assert re.search(r'<g class="edge edge-data" data-from="prepare data" '
                     r'data-to="train model">', svg)
    # Layered: the step that reads the data is below the one that writes it.
    ys = [float(y) for y in re.findall(r'<rect x="[^"]+" y="([^"]+)"', svg)]
    assert ys[1] > ys[0]
    graph_url = f"/w/{ws.name}/runs/{parent.id}/graph"
    assert f'hx-get="{graph_url}" hx-trigger="every 3s"' in html
    fragment = client.get(graph_url).text
    assert "<html" not in fragment
    assert 'id="pipeline-graph"' in fragment and 'hx-trigger="every 3s"' in fragment
    ws._store.set_status(running.id, RunStatus.FAILED)
    ws._store.set_status(parent.id, RunStatus.FAILED)
    ended = client.get(graph_url).text
    assert "hx-trigger" not in ended
    assert 'data-step="train model" data-status="Failed"' in ended
    steps = page(client, f"/w/{ws.name}/runs/{parent.id}/children")
    assert set(row_ids(steps, "children")) == {reused.id, running.id}


# -- comparing runs ------------------------------------------------------------------------------


def test_compare_overlays_metrics_and_diffs_parameters(ws, client):
    exp = Experiment(ws, "cmp")
    ids = []
    for lr in ("0.1", "0.01"):
        run = exp.start_logging()
        run.tag("lr", lr)
        run.tag("team", "same")
        for i in range(3):
            run.log("loss", float(lr) * i)
        run.complete()
        ids.append(run.id)
    html = page(client, f"/w/{ws.name}/compare?runs={ids[0]},{ids[1]}")
    assert re.search(r'<div class="chart compare" id="compare-chart" data-metric="loss"', html)
    series = json.loads(re.search(r'id="compare-charts" data-series="([^"]+)"', html).group(1)
                        .replace("&#34;", '"'))
    assert [s["id"] for s in series] == ids
    assert series[0]["api"] == (f"/api/v1/workspaces/{ws.name}/runs/{ids[0]}/metrics"
                                "?max_points=1000")
    diff = re.search(r'<table id="param-diff".*?</table>', html, re.S).group(0)
    assert re.search(r'<tr data-group="tag" data-name="lr" data-differs="true" '
                     r'class="differs">', diff)
    assert 'data-name="team" data-differs="false">' in diff
    only = page(client, f"/w/{ws.name}/compare?runs={ids[0]}&runs={ids[1]}&only_diff=1")
    assert 'data-name="lr"' in only and 'data-name="team"' not in only
    for bad in ("", f"?runs={ids[0]}", "?runs=" + ",".join(f"r{i}" for i in range(21))):
        refused = page(client, f"/w/{ws.name}/compare{bad}", 400)
        assert 'id="compare-error"' in refused and "between 2 and 20 runs" in refused
    page(client, f"/w/{ws.name}/compare?runs={ids[0]},missing-run", 404)


# -- who may look --------------------------------------------------------------------------------


def test_pages_need_a_signed_in_caller_with_a_role(tmp_path):
    folder = tmp_path / "secured"
    ws = Workspace.create("secured", path=folder)
    run = Experiment(ws, "exp").start_logging()
    run.log("acc", 0.5)
    run.complete()
    app = create_app(ServerConfig(workspace=str(folder), auth=True))
    store = app.state.plinth.store
    tokens = {}
    for role in ("Reader", None):
        name = f"user-{role or 'outsider'}-{uuid.uuid4().hex[:4]}"
        store.create_user(name)
        tokens[role] = new_token()
        store.create_token(name, hash_secret(tokens[role]))
        if role:
            store.set_role(name, ws._id, role)
    try:
        anonymous = TestClient(app, follow_redirects=False)
        url = "/w/secured/experiments/exp?sort=run"
        response = anonymous.get(url, headers=HTML)
        assert response.status_code == 303
        assert response.headers["location"] == \
            "/signin?next=%2Fw%2Fsecured%2Fexperiments%2Fexp%3Fsort%3Drun"
        assert anonymous.get(f"/w/secured/runs/{run.id}/download/x", headers=HTML
                             ).status_code == 303
        reader = TestClient(app, cookies={STUDIO_COOKIE: tokens["Reader"]})
        html = page(reader, url)
        assert row_ids(html) == [run.id]
        assert page(reader, f"/w/secured/runs/{run.id}/metrics")
        outsider = TestClient(app, cookies={STUDIO_COOKIE: tokens[None]})
        assert outsider.get(url, headers=HTML).status_code == 403
    finally:
        store.close()

