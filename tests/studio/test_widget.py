"""``plinth.widgets.RunDetails``: azureml's notebook widget, on a real embedded workspace."""

from __future__ import annotations

import json
import sys
import time
import types
import uuid

import pytest

from plinth.core import Experiment, Run, Workspace
from plinth.widgets import RunDetails


@pytest.fixture
def ws(tmp_path):
    return Workspace.create(f"ws-{uuid.uuid4().hex[:6]}", path=tmp_path / "ws")


@pytest.fixture
def no_ipython(monkeypatch):
    """Plain Python: no IPython loaded (whether or not it is installed)."""
    for name in [n for n in sys.modules if n == "IPython" or n.startswith("IPython.")]:
        monkeypatch.delitem(sys.modules, name)


class FakeHTML:
    def __init__(self, data: str):
        self.data = data


class FakeHandle:
    def __init__(self, log: list[tuple[str, str]]):
        self.log = log

    def update(self, obj: FakeHTML) -> None:
        self.log.append(("update", obj.data))


@pytest.fixture
def notebook(monkeypatch):
    """A Jupyter kernel, simulated: ``IPython.get_ipython()`` has a ``kernel`` and
    ``IPython.display`` records what is displayed and updated (in order) in the list this
    fixture returns."""
    log: list[tuple[str, str]] = []

    def display(obj, display_id=None):
        assert display_id is True, "the widget asks for a handle to update"
        log.append(("display", obj.data))
        return FakeHandle(log)

    shell = types.SimpleNamespace(kernel=object())
    ipython = types.ModuleType("IPython")
    ipython.get_ipython = lambda: shell
    display_module = types.ModuleType("IPython.display")
    display_module.HTML = FakeHTML
    display_module.display = display
    ipython.display = display_module
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    monkeypatch.setitem(sys.modules, "IPython.display", display_module)
    return log


def started(ws, name="x", **kwargs) -> Run:
    return Experiment(ws, name).start_logging(**kwargs)


def test_widget_data_of_a_run(ws, monkeypatch):
    monkeypatch.delenv("PLINTH_STUDIO_URL", raising=False)
    run = started(ws, display_name="first try")
    run.log("loss", 0.9)
    run.log("loss", 0.4)
    run.log("lr", 0.01)
    run.log_table("curve", {"x": [1, 2, 3], "y": [4, 5, 6]})
    child = run.child_run("a child")
    child.complete()

    data = RunDetails(run).get_widget_data()
    assert data["run_id"] == run.id
    assert data["display_name"] == "first try"
    assert (data["experiment"], data["workspace"]) == ("x", ws.name)
    assert (data["kind"], data["type"]) == ("run", "interactive")
    assert data["status"] == "Running" and data["is_terminal"] is False
    assert data["start_time_utc"] and data["end_time_utc"] is None
    assert data["duration_seconds"] >= 0 and data["duration"].endswith(" s")
    assert data["metrics"] == {"loss": 0.4, "lr": 0.01, "curve": "table: x, y (3 rows)"}
    assert [(c["name"], c["status"]) for c in data["children"]] == [("a child", "Completed")]
    assert data["url"] is None  # an embedded workspace no server shows
    assert data["error"] is None and data["best"] is None

    run.fail(error_details="out of memory")
    data = RunDetails(run).get_widget_data()
    assert data["status"] == "Failed" and data["is_terminal"] is True
    assert data["end_time_utc"] >= data["start_time_utc"]
    assert data["error"] == "out of memory"


def test_the_link_goes_to_the_runs_studio_page(ws, monkeypatch):
    run = started(ws)
    monkeypatch.setenv("PLINTH_STUDIO_URL", "http://studio.example:5000/")
    assert RunDetails(run).get_widget_data()["url"] == (
        f"http://studio.example:5000/w/{ws.name}/runs/{run.id}")


def test_a_hyperdrive_sweeps_trials_best_first(ws):
    exp = Experiment(ws, "sweep")
    record = ws._store.create_run(
        exp.id, f"sweep_{uuid.uuid4().hex[:8]}", run_type="hyperdrive", status="Running",
        definition={"hyperdrive": {"primary_metric_name": "AUC", "goal": "maximize"}})
    parent = Run(exp, record.id)  # a plain Run: the widget still sees a sweep
    for i, (lr, auc) in enumerate([(0.1, 0.81), (0.5, 0.93), (0.9, None)]):
        trial = parent.child_run(run_id=f"{record.id}_{i}")
        trial.set_tags({"hyperparameters": json.dumps({"--lr": lr})})
        if auc is not None:
            trial.log("AUC", auc - 0.1)
            trial.log("AUC", auc)
            trial.complete()

    data = RunDetails(parent).get_widget_data()
    assert data["kind"] == "hyperdrive"
    assert (data["primary_metric"], data["goal"]) == ("AUC", "maximize")
    assert [(r["run_id"][-1], r["metric"], r["hyperparameters"], r["status"])
            for r in data["children"]] == [
        ("1", 0.93, {"--lr": 0.5}, "Completed"), ("0", 0.81, {"--lr": 0.1}, "Completed"),
        ("2", None, {"--lr": 0.9}, "Running")]
    assert data["best"] == {"run_id": f"{record.id}_1", "value": 0.93}


def test_an_automl_runs_iterations_with_their_scores(ws):
    exp = Experiment(ws, "auto")
    record = ws._store.create_run(
        exp.id, f"AutoML_{uuid.uuid4().hex[:8]}", run_type="automl", status="Running",
        definition={"automl": {"settings": {"task": "classification",
                                            "primary_metric": "accuracy"}}})
    parent = Run.get(ws, record.id)
    for i, (algorithm, score) in enumerate([("LightGBM", 0.8), ("LogisticRegression", 0.9),
                                            ("RandomForest", None)]):
        iteration = parent.child_run(run_id=f"{record.id}_{i}")
        iteration.set_tags({"iteration": str(i), "run_algorithm": algorithm})
        if score is not None:
            iteration.log("accuracy", score)
            iteration.complete()

    data = RunDetails(parent).get_widget_data()
    assert data["kind"] == "automl"
    assert (data["primary_metric"], data["goal"]) == ("accuracy", "maximize")
    assert [(r["iteration"], r["algorithm"], r["status"], r["metric"])
            for r in data["children"]] == [
        (0, "LightGBM", "Completed", 0.8), (1, "LogisticRegression", "Completed", 0.9),
        (2, "RandomForest", "Running", None)]
    assert data["best"] == {"run_id": f"{record.id}_1", "value": 0.9}


def test_a_pipeline_runs_steps(ws):
    exp = Experiment(ws, "pipe")
    store = ws._store
    record = store.create_run(exp.id, f"pipe_{uuid.uuid4().hex[:8]}",
                              run_type="azureml.PipelineRun", status="Running")
    store.create_run(exp.id, f"{record.id}_prep", run_type="azureml.StepRun",
                     status="Completed", parent_id=record.id, display_name="prep",
                     properties={"azureml.isreused": "true"})
    store.create_run(exp.id, f"{record.id}_train", run_type="azureml.StepRun",
                     status="Running", parent_id=record.id, display_name="train")

    data = RunDetails(Run.get(ws, record.id)).get_widget_data()
    assert data["kind"] == "pipeline"
    assert [(r["name"], r["status"], r["reused"]) for r in data["children"]] == [
        ("prep", "Completed", True), ("train", "Running", False)]


def test_outside_a_notebook_it_prints_a_table_once(ws, capsys, no_ipython):
    run = started(ws, display_name="[bold]not markup[/bold]")
    run.log("accuracy", 0.875)
    run.log("loss", 0.25)
    run.complete()

    assert RunDetails(run).show() is None
    out = capsys.readouterr().out
    assert "Completed" in out and run.id in out
    assert "[bold]not markup[/bold]" in out
    for text in ("accuracy", "0.875", "loss", "0.25"):
        assert text in out


def test_a_terminal_ipython_is_not_a_notebook(ws, capsys, monkeypatch):
    ipython = types.ModuleType("IPython")
    ipython.get_ipython = lambda: types.SimpleNamespace()  # a shell without a kernel
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    run = started(ws)
    run.log("loss", 0.5)
    RunDetails(run).show()
    out = capsys.readouterr().out
    assert "Running" in out and "loss" in out


def test_in_a_notebook_it_updates_until_the_run_completes(ws, notebook, monkeypatch):
    monkeypatch.setenv("PLINTH_STUDIO_URL", "http://127.0.0.1:5000")
    run = started(ws, display_name="<script>alert('x')</script>")
    run.log("<b>loss</b>", 0.5)
    widget = RunDetails(run, refresh_interval=0.05)

    assert widget.show() is None
    assert [kind for kind, _ in notebook] == ["display"]
    first = notebook[0][1]
    assert "Running" in first and "0.5" in first
    assert "<script>" not in first and "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in first
    assert "<b>loss" not in first and "&lt;b&gt;loss&lt;/b&gt;" in first
    assert f'href="http://127.0.0.1:5000/w/{ws.name}/runs/{run.id}"' in first

    deadline = time.monotonic() + 10
    while len(notebook) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(notebook) >= 3, "the display is refreshed while the run runs"
    assert all(kind == "update" for kind, _ in notebook[1:])

    run.log("<b>loss</b>", 0.125)
    run.complete()
    widget._thread.join(10)
    assert not widget._thread.is_alive(), "updates stop once the run has ended"
    last = notebook[-1][1]
    assert "Completed" in last and "0.125" in last and "refreshing" not in last
    count = len(notebook)
    time.sleep(0.3)
    assert len(notebook) == count


def test_in_a_notebook_a_finished_run_is_displayed_once(ws, notebook):
    run = started(ws)
    run.log("accuracy", 0.75)
    run.complete()
    widget = RunDetails(run, refresh_interval=0.05)
    widget.show()
    assert widget._thread is None
    time.sleep(0.2)
    assert [kind for kind, _ in notebook] == ["display"]
    assert "Completed" in notebook[0][1] and "accuracy" in notebook[0][1]


def test_an_offline_run_has_nothing_to_show():
    from plinth.core._offline import OfflineRun
    from plinth.exceptions import UserErrorException

    with pytest.raises(UserErrorException, match="offline run"):
        RunDetails(OfflineRun())
