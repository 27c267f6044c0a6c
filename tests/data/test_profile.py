"""Column profiles, checked against pandas and the statistics module on the same data."""

from __future__ import annotations

import datetime as dt
import json
import math
import statistics
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from plinth._data.profile import profile_table, type_name

DIABETES = Path(__file__).resolve().parents[2] / "examples" / "data" / "diabetes.csv"


def test_diabetes_numbers_match_pandas():
    table = pacsv.read_csv(DIABETES)
    frame = pd.read_csv(DIABETES)
    profile = profile_table(table)
    assert list(profile) == list(frame.columns)
    for name in frame.columns:
        stats, values = profile[name], frame[name]
        assert stats["type"] == ("float" if values.dtype.kind == "f" else "long"), name
        assert stats["count"] == len(values) == 10_000
        assert stats["missing"] == int(values.isna().sum())
        assert stats["distinct"] == values.nunique()
        assert stats["min"] == values.min() and stats["max"] == values.max()
        assert stats["mean"] == pytest.approx(values.mean(), rel=1e-12)
        assert stats["std"] == pytest.approx(values.std(), rel=1e-9)
    json.dumps(profile)


def test_mixed_columns_match_statistics_module():
    ages = [30, None, 61, 45, 45]
    scores = [1.5, float("nan"), None, 4.0, 2.0]
    names = ["Ann", "", None, "Bea", "Ann"]
    when = [dt.datetime(2020, 1, 3), None, dt.datetime(2019, 5, 1, 12), None, None]
    table = pa.table(
        {
            "age": ages,
            "score": scores,
            "name": names,
            "ok": [True, False, None, True, True],
            "when": pa.array(when, pa.timestamp("us")),
            "day": pa.array([dt.date(2021, 2, 1), dt.date(2020, 2, 1), None, None, None]),
        }
    )
    profile = profile_table(table)
    json.loads(json.dumps(profile))

    present_ages = [a for a in ages if a is not None]
    assert profile["age"] == {
        "type": "long",
        "count": 5,
        "missing": 1,
        "distinct": len(set(present_ages)),
        "min": min(present_ages),
        "max": max(present_ages),
        "mean": pytest.approx(statistics.mean(present_ages)),
        "std": pytest.approx(statistics.stdev(present_ages)),
    }
    present_scores = [s for s in scores if s is not None and not math.isnan(s)]
    assert profile["score"] == {
        "type": "float",
        "count": 5,
        "missing": 2,  # NaN is missing, as pandas counts it
        "distinct": 3,
        "min": 1.5,
        "max": 4.0,
        "mean": pytest.approx(statistics.mean(present_scores)),
        "std": pytest.approx(statistics.stdev(present_scores)),
    }
    assert profile["name"] == {"type": "string", "count": 5, "missing": 2, "distinct": 2}
    assert profile["ok"] == {"type": "bool", "count": 5, "missing": 1, "distinct": 2}
    assert profile["when"] == {
        "type": "datetime",
        "count": 5,
        "missing": 3,
        "distinct": 2,
        "min": "2019-05-01T12:00:00",
        "max": "2020-01-03T00:00:00",
    }
    assert profile["day"]["min"] == "2020-02-01" and profile["day"]["max"] == "2021-02-01"


def test_empty_and_all_null_columns():
    table = pa.table({"v": pa.array([None, None], pa.float64())})
    assert profile_table(table)["v"] == {
        "type": "float",
        "count": 2,
        "missing": 2,
        "distinct": 0,
        "min": None,
        "max": None,
        "mean": None,
        "std": None,
    }
    empty = profile_table(pa.table({"s": pa.array([], pa.string())}))
    assert empty["s"] == {"type": "string", "count": 0, "missing": 0, "distinct": 0}
    one = profile_table(pa.table({"n": [7]}))["n"]
    assert one["mean"] == 7 and one["std"] is None  # a sample of one has no deviation


def test_type_names():
    assert type_name(pa.dictionary(pa.int32(), pa.string())) == "string"
    assert type_name(pa.uint8()) == "long"
    assert type_name(pa.decimal128(10, 2)) == "float"
    assert type_name(pa.date32()) == "datetime"
    assert type_name(pa.list_(pa.int64())) == "list<item: int64>"
    decimals = pa.table({"d": pa.array([1, 2], pa.decimal128(10, 2))})
    assert profile_table(decimals)["d"]["mean"] == 1.5
