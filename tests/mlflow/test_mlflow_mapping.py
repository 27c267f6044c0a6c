"""The pure record <-> MLflow JSON mapping, and its agreement with MLflow's own entities."""

from __future__ import annotations

import math

import pytest
from mlflow.entities import Run as MlflowRun
from mlflow.protos.service_pb2 import Run as RunProto
from mlflow.utils.proto_json_utils import message_to_json, parse_dict

from plinth._mlflow import entities, mapping
from plinth._store import ExperimentRecord, MetricPoint, RunRecord, RunStatus


def _record(**overrides) -> RunRecord:
    values = dict(
        id="run1", experiment_id="exp1", experiment_name="e", number=1, run_type="mlflow",
        status=RunStatus.RUNNING, created_at=100.0, start_time=101.5, display_name="nice",
        tags={"team": "a", mapping.USER_TAG: "ann"}, properties={"lr": "0.1"},
    )
    values.update(overrides)
    return RunRecord(**values)


@pytest.mark.parametrize("plinth,mlflow_status", [
    (RunStatus.NOT_STARTED, "SCHEDULED"), (RunStatus.QUEUED, "SCHEDULED"),
    (RunStatus.PREPARING, "RUNNING"), (RunStatus.RUNNING, "RUNNING"),
    (RunStatus.FINALIZING, "RUNNING"), (RunStatus.CANCEL_REQUESTED, "RUNNING"),
    (RunStatus.COMPLETED, "FINISHED"), (RunStatus.FAILED, "FAILED"),
    (RunStatus.CANCELED, "KILLED"),
])
def test_status_to_mlflow(plinth, mlflow_status):
    assert mapping.status_to_mlflow(plinth) == mlflow_status


def test_status_from_mlflow():
    assert mapping.status_from_mlflow("RUNNING") == RunStatus.RUNNING
    assert mapping.status_from_mlflow("finished") == RunStatus.COMPLETED
    assert mapping.status_from_mlflow("FAILED") == RunStatus.FAILED
    assert mapping.status_from_mlflow("KILLED") == RunStatus.CANCELED
    assert mapping.status_from_mlflow("SCHEDULED") == RunStatus.NOT_STARTED
    with pytest.raises(ValueError):
        mapping.status_from_mlflow("PAUSED")


def test_metrics_convert_both_ways():
    point = mapping.metric_from_dict({"key": "loss", "value": 2, "timestamp": 1500, "step": 3})
    assert point == MetricPoint("loss", 2.0, "scalar", 3, 1.5)
    assert mapping.metric_to_dict(point) == {"key": "loss", "value": 2.0, "timestamp": 1500,
                                             "step": 3}
    # Plinth points with no step read as step 0; non-scalars and non-numbers are not metrics.
    assert mapping.metric_to_dict(MetricPoint("a", 1, "scalar", None, 2.0))["step"] == 0
    assert mapping.metric_to_dict(MetricPoint("a", "text", "scalar", None, 2.0)) is None
    assert mapping.metric_to_dict(MetricPoint("a", [1, 2], "list", None, 2.0)) is None


def test_latest_metric_is_greatest_step_then_time_then_value():
    points = [
        MetricPoint("m", 5.0, "scalar", 2, 10.0),
        MetricPoint("m", 1.0, "scalar", 1, 99.0),
        MetricPoint("m", 7.0, "scalar", 2, 10.0),
        MetricPoint("m", float("nan"), "scalar", 2, 10.0),
        MetricPoint("n", 3.0, "scalar", None, 1.0),
    ]
    latest = {m["key"]: m["value"] for m in mapping.latest_metrics(points)}
    assert latest == {"m": 7.0, "n": 3.0}
    assert math.isnan(mapping.metric_history(points, "m")[3]["value"])


def test_run_dict_has_mlflow_rest_shape_and_round_trips_through_protobuf():
    record = _record(parent_id="p0", description="notes",
                     tags={"team": "a", mapping.USER_TAG: "ann", mapping.DELETED_TAG: "deleted"})
    points = [MetricPoint("acc", 0.5, "scalar", 1, 2.0)]
    data = mapping.run_to_dict(record, points, artifact_uri="plinth://w/runs/run1")
    info = data["info"]
    assert info["run_id"] == info["run_uuid"] == "run1"
    assert info["status"] == "RUNNING" and info["lifecycle_stage"] == "deleted"
    assert info["start_time"] == 101500 and "end_time" not in info
    assert info["user_id"] == "ann" and info["run_name"] == "nice"
    tags = {t["key"]: t["value"] for t in data["data"]["tags"]}
    assert tags == {"team": "a", "mlflow.user": "ann", "mlflow.runName": "nice",
                    "mlflow.note.content": "notes", "mlflow.parentRunId": "p0"}
    assert data["data"]["params"] == [{"key": "lr", "value": "0.1"}]

    # The dict is what MLflow's REST API sends: it parses into the Run message and back.
    proto = RunProto()
    parse_dict(data, proto)
    again = MlflowRun.from_proto(proto)
    built = entities.run(data)
    assert again.info.run_id == built.info.run_id == "run1"
    assert again.data.metrics == built.data.metrics == {"acc": 0.5}
    assert again.data.tags == built.data.tags
    assert message_to_json(built.to_proto())  # and our entity serialises


def test_mlflow_sets_the_status_of_its_own_runs_only():
    assert mapping.mlflow_sets_status(_record(run_type="mlflow"))
    assert not mapping.mlflow_sets_status(_record(run_type="azureml.scriptrun"))
    assert not mapping.mlflow_sets_status(_record(run_type="interactive"))


def test_not_started_run_reports_creation_time():
    info = mapping.run_info_to_dict(_record(start_time=None, status=RunStatus.QUEUED),
                                    artifact_uri="u")
    assert info["start_time"] == 100000 and info["status"] == "SCHEDULED"


def test_experiment_dict():
    record = ExperimentRecord("e1", "w1", "exp", 12.0, archived=True)
    data = mapping.experiment_to_dict(record, artifact_location="plinth://w/runs",
                                      tags={"k": "v"})
    assert data == {"experiment_id": "e1", "name": "exp", "artifact_location": "plinth://w/runs",
                    "lifecycle_stage": "deleted", "creation_time": 12000,
                    "last_update_time": 12000, "tags": [{"key": "k", "value": "v"}]}
    assert entities.experiment(data).tags == {"k": "v"}


def test_tags_and_params_from_mlflow():
    changes = mapping.tags_from_mlflow({"mlflow.runName": "r", "mlflow.note.content": "d",
                                        "mlflow.parentRunId": "p", "x": 1})
    assert changes == mapping.TagChanges({"x": "1"}, "r", "d", "p")
    with pytest.raises(ValueError):
        mapping.tags_from_mlflow({mapping.DELETED_TAG: "deleted"})
    assert mapping.params_from_mlflow([("a", 1), ("a", "1")]) == {"a": "1"}
    with pytest.raises(ValueError):
        mapping.params_from_mlflow([("a", "1"), ("a", "2")])
    assert mapping.params_conflicts({"a": "1", "b": "2"}, {"a": "1", "b": "3", "c": "4"}) == [
        ("b", "2", "3")
    ]
