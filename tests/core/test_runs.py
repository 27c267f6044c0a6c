"""Interactive runs: logging, tags, properties, files, lifecycle, children."""

import io
import json
import time

import pytest

from plinth.core import Experiment, Run
from plinth.exceptions import (
    NotFoundError,
    RunError,
    UserErrorException,
    ValidationError,
)


@pytest.fixture
def exp(ws):
    return Experiment(ws, "interactive")


def test_scalar_logged_once_is_a_scalar_and_again_a_list(exp):
    run = exp.start_logging()
    run.log("alpha", 0.5)
    run.log("count", 3)
    for value in (0.9, 0.5, 0.2):
        run.log("loss", value)
    run.log("name", "adam")
    metrics = run.get_metrics()
    assert metrics["alpha"] == 0.5
    assert metrics["count"] == 3 and isinstance(metrics["count"], int)
    assert metrics["loss"] == [0.9, 0.5, 0.2]
    assert metrics["name"] == "adam"
    assert run.get_metrics(name="loss") == {"loss": [0.9, 0.5, 0.2]}


def test_numpy_values_are_plain(exp):
    np = pytest.importorskip("numpy")
    run = exp.start_logging()
    run.log("acc", np.float64(0.75))
    run.log_list("ints", np.arange(3))
    assert run.get_metrics() == {"acc": 0.75, "ints": [0, 1, 2]}


def test_lists_rows_and_tables(exp):
    run = exp.start_logging()
    run.log_list("losses", [3, 2, 1])
    run.log_row("curve", x=1, y=0.5)
    run.log_row("curve", x=2, y=0.25)
    run.log_table("table", {"a": [1, 2], "b": ["x", "y"]})
    metrics = run.get_metrics()
    assert metrics["losses"] == [3, 2, 1]
    assert metrics["curve"] == {"x": [1, 2], "y": [0.5, 0.25]}
    assert metrics["table"] == {"a": [1, 2], "b": ["x", "y"]}


def test_structured_metrics_round_trip(exp):
    run = exp.start_logging()
    matrix = {"schema_type": "confusion_matrix", "schema_version": "1.0.0",
              "data": {"class_labels": ["0", "1"], "matrix": [[5, 1], [2, 7]]}}
    run.log_confusion_matrix("cm", matrix)
    run.log_accuracy_table("acc", json.dumps({"schema_type": "accuracy_table", "data": {}}))
    run.log_residuals("res", {"schema_type": "residuals", "data": {"bin_edges": [0, 1]}})
    run.log_predictions("pred", {"schema_type": "predictions", "data": {"bin_counts": [1]}})
    metrics = run.get_metrics()
    assert metrics["cm"] == matrix
    assert metrics["acc"]["schema_type"] == "accuracy_table"
    assert metrics["res"]["data"]["bin_edges"] == [0, 1]
    with pytest.raises(UserErrorException, match="dict or JSON"):
        run.log_confusion_matrix("bad", "not json")


def test_log_refuses_lists_and_names_the_right_method(exp):
    run = exp.start_logging()
    with pytest.raises(UserErrorException, match="log_list"):
        run.log("xs", [1, 2])
    with pytest.raises(UserErrorException, match="non-empty"):
        run.log("", 1)


def test_log_image_from_a_matplotlib_figure_and_a_file(exp, tmp_path):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    run = exp.start_logging()
    fig = plt.figure()
    plt.plot([0, 1], [0, 1])
    run.log_image("roc", plot=fig)
    plt.close(fig)
    png = tmp_path / "pic.png"
    run.download_file("images/roc.png", png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    run.log_image("again", path=str(png))
    assert {"images/roc.png", "images/again.png"} <= set(run.get_file_names())
    assert run.get_metrics()["roc"] == "images/roc.png"
    with pytest.raises(UserErrorException, match="exactly one"):
        run.log_image("none")


def test_logging_is_written_in_the_background_without_flush(exp, ws):
    run = exp.start_logging()
    for i in range(1000):
        run.log("step", float(i), step=i)
    # Read through the store, not the run, so nothing forces a flush.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if len(ws._store.get_metrics(run.id, "step")) == 1000:
            break
        time.sleep(0.1)
    points = ws._store.get_metrics(run.id, "step")
    assert [p.step for p in points] == list(range(1000))


def test_tags_and_properties(exp):
    run = exp.start_logging()
    run.tag("team", "vision")
    run.tag("flag")
    run.set_tags({"a": 1, "b": "2"})
    assert run.get_tags() == {"team": "vision", "flag": "", "a": "1", "b": "2"}
    run.remove_tags(["a"])
    assert "a" not in run.get_tags()
    run.add_properties({"algorithm": "lr"})
    run.add_properties({"algorithm": "lr"})  # same value again is fine
    with pytest.raises(ValidationError, match="cannot be changed"):
        run.add_properties({"algorithm": "svm"})
    assert run.get_properties() == {"algorithm": "lr"}


def test_files_upload_list_and_download(exp, tmp_path):
    run = exp.start_logging()
    src = tmp_path / "notes.txt"
    src.write_text("hello")
    run.upload_file("outputs/notes.txt", str(src))
    run.upload_file("outputs/stream.bin", io.BytesIO(b"\x00\x01"))
    folder = tmp_path / "folder"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("a")
    (folder / "sub" / "b.txt").write_text("b")
    run.upload_folder("data", str(folder))
    assert run.get_file_names() == [
        "data/a.txt", "data/sub/b.txt", "outputs/notes.txt", "outputs/stream.bin"
    ]
    out = tmp_path / "out"
    out.mkdir()
    run.download_file("outputs/notes.txt", out)
    assert (out / "notes.txt").read_text() == "hello"
    run.download_files(prefix="data", output_directory=str(tmp_path / "dl"))
    assert (tmp_path / "dl" / "data" / "sub" / "b.txt").read_text() == "b"
    with pytest.raises(NotFoundError, match="get_file_names"):
        run.download_file("outputs/missing.txt", out)


@pytest.mark.parametrize("bad", ["../escape.txt", "/etc/passwd", "outputs/../../x", "C:/x"])
def test_file_names_cannot_escape_the_run(exp, tmp_path, bad):
    run = exp.start_logging()
    src = tmp_path / "f"
    src.write_text("x")
    with pytest.raises(ValidationError):
        run.upload_file(bad, str(src))


def test_lifecycle_statuses(exp):
    ok = exp.start_logging()
    assert ok.get_status() == "Running"
    ok.complete()
    assert ok.get_status() == "Completed"
    ok.fail("too late")  # a terminal status is final
    assert ok.get_status() == "Completed"

    bad = exp.start_logging()
    bad.fail(error_details="diverged", error_code="NaNLoss")
    details = bad.get_details()
    assert details["status"] == "Failed"
    assert details["error"]["error"] == {"message": "diverged", "code": "NaNLoss"}
    assert details["startTimeUtc"] and details["endTimeUtc"]

    canceled = exp.start_logging()
    canceled.cancel()
    assert canceled.get_status() == "Canceled"


def test_context_manager_completes_or_fails(exp):
    with exp.start_logging() as run:
        run.log("x", 1)
    assert run.get_status() == "Completed"
    with pytest.raises(RuntimeError):
        with exp.start_logging() as failing:
            raise RuntimeError("boom")
    assert failing.get_status() == "Failed"
    assert "boom" in failing.get_details()["error"]["error"]["message"]


def test_reattach_by_id_and_display_name(exp, ws):
    run = exp.start_logging(display_name="first try")
    run.log("a", 1)
    run.complete()
    again = Run(exp, run.id)
    assert again.get_metrics() == {"a": 1}
    assert again.display_name == "first try"
    assert again.number == run.number == 1
    assert Run.get(ws, run.id).experiment.name == "interactive"
    again.display_name = "renamed"
    assert Run.get(ws, run.id).display_name == "renamed"
    with pytest.raises(NotFoundError):
        Run.get(ws, "no-such-run")
    other = Experiment(ws, "other")
    with pytest.raises(NotFoundError, match="belongs to experiment"):
        Run(other, run.id)


def test_children_and_recursive_metrics(exp):
    parent = exp.start_logging()
    parent.log("p", 1)
    children = []
    for i in range(3):
        child = parent.child_run(name=f"fold-{i}")
        child.log("score", i / 10)
        child.tag("fold", i)
        child.complete()
        children.append(child)
    grandchild = children[0].child_run()
    grandchild.log("deep", True)
    grandchild.complete()
    parent.complete()
    assert {c.id for c in parent.get_children()} == {c.id for c in children}
    assert len(list(parent.get_children(recursive=True))) == 4
    assert [c.id for c in parent.get_children(tags={"fold": "1"})] == [children[1].id]
    assert children[0].parent == parent
    metrics = parent.get_metrics(recursive=True)
    assert metrics[parent.id] == {"p": 1}
    assert metrics[children[2].id] == {"score": 0.2}
    assert metrics[grandchild.id] == {"deep": True}


def test_experiment_runs_newest_first_with_filters(exp, ws):
    first = exp.start_logging()
    first.tag("kind", "baseline")
    first.complete()
    second = exp.start_logging()
    second.add_properties({"algo": "svm"})
    child = second.child_run()
    child.complete()
    second.complete()
    assert [r.id for r in exp.get_runs()] == [second.id, first.id]
    assert [r.id for r in exp.get_runs(tags={"kind": "baseline"})] == [first.id]
    assert [r.id for r in exp.get_runs(tags="kind")] == [first.id]
    assert [r.id for r in exp.get_runs(properties={"algo": "svm"})] == [second.id]
    assert child.id in {r.id for r in exp.get_runs(include_children=True)}
    assert [r.id for r in exp.get_runs(type="interactive")] == [second.id, first.id]


def test_archive_and_reactivate(ws):
    exp = Experiment(ws, "old")
    exp.archive()
    assert "old" not in ws.experiments
    assert [e.name for e in Experiment.list(ws, view_type="ArchivedOnly")] == ["old"]
    exp.reactivate()
    assert "old" in ws.experiments
    assert exp.get_portal_url().endswith(f"/w/{ws.name}/experiments/old")


def test_experiment_name_is_checked(ws):
    with pytest.raises(UserErrorException, match="Experiment name"):
        Experiment(ws, "bad name!")


def test_get_context_outside_a_run_is_offline_or_an_error(monkeypatch):
    monkeypatch.setattr(Run, "_context", None)
    with pytest.raises(RunError, match="allow_offline=False"):
        Run.get_context(allow_offline=False)
    offline = Run.get_context()
    offline.log("x", 1)
    offline.log("x", 2)
    assert offline.get_metrics() == {"x": [1, 2]}
    assert offline.id == "OfflineRun"
    monkeypatch.setattr(Run, "_context", None)


def test_cancel_from_elsewhere_ends_an_interactive_run(exp):
    owner = exp.start_logging()
    other_view = Run(exp, owner.id)  # as another process would reattach
    other_view.cancel()
    deadline = time.monotonic() + 30
    while other_view.get_status() != "Canceled" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert other_view.get_status() == "Canceled"
