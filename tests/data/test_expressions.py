"""Filter expressions: building, JSON round trips, and evaluation against pandas."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from plinth._data.expressions import ColumnExpression, column, evaluate, from_json
from plinth.exceptions import ValidationError

DIABETES = Path(__file__).resolve().parents[2] / "examples" / "data" / "diabetes.csv"


@pytest.fixture(scope="module")
def people() -> pa.Table:
    return pa.table(
        {
            "name": ["Ann", "Bob", None, "Bea", "Cy"],
            "age": [30, None, 61, 45, 50],
            "score": [1.5, 2.5, 3.5, float("nan"), 0.0],
            "at": pa.array(
                [dt.datetime(2020, 1, d) for d in (1, 2, 3, 4)] + [None], pa.timestamp("s")
            ),
        }
    )


def mask(expression: ColumnExpression, table: pa.Table) -> list[bool]:
    """Evaluated after a JSON round trip, as a stored definition would be."""
    node = json.loads(json.dumps(expression.to_json()))
    result = evaluate(node, table)
    assert isinstance(result, pa.Array) and result.type == pa.bool_()
    assert result.null_count == 0
    return result.to_pylist()


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        (column("age") > 45, [False, False, True, False, True]),
        (column("age") >= 45, [False, False, True, True, True]),
        (column("age") < 45, [True, False, False, False, False]),
        (column("age") <= 45, [True, False, False, True, False]),
        (column("age") == 50, [False, False, False, False, True]),
        (column("age") != 50, [True, False, True, True, False]),
        (45 < column("age"), [False, False, True, False, True]),
        (column("name") == "Bob", [False, True, False, False, False]),
        (column("name").starts_with("B"), [False, True, False, True, False]),
        (column("name").ends_with("b"), [False, True, False, False, False]),
        (column("name").contains("e"), [False, False, False, True, False]),
        (column("name").is_in(["Ann", "Cy", "Zed"]), [True, False, False, False, True]),
        (column("age").is_in([30, 61]), [True, False, True, False, False]),
        (column("name").is_null(), [False, False, True, False, False]),
        (column("age").is_not_null(), [True, False, True, True, True]),
        ((column("age") > 40) & (column("score") < 3), [False, False, False, False, True]),
        ((column("age") < 40) | (column("name") == "Bea"), [True, False, False, True, False]),
        (~(column("age") > 45), [True, False, False, True, False]),
        (column("score") > 1, [True, True, True, False, False]),  # NaN compares False
        (column("score") < column("age"), [True, False, True, False, True]),
        (column("at") > dt.datetime(2020, 1, 2), [False, False, True, True, False]),
        (column("at") <= dt.date(2020, 1, 2), [True, True, False, False, False]),
        (
            column("at") < dt.datetime(2020, 1, 3, tzinfo=dt.UTC),
            [True, True, False, False, False],
        ),
    ],
)
def test_operators(people, expression, expected):
    assert mask(expression, people) == expected


def test_matches_pandas_on_diabetes():
    table = pacsv.read_csv(DIABETES)
    frame = table.to_pandas()
    cases = [
        (column("Age") > 50, frame.Age > 50),
        (
            (column("PlasmaGlucose") >= 100) & ~(column("BMI") < 25),
            (frame.PlasmaGlucose >= 100) & ~(frame.BMI < 25),
        ),
        (
            (column("Pregnancies") == 0) | (column("DiabetesPedigree") <= 0.2),
            (frame.Pregnancies == 0) | (frame.DiabetesPedigree <= 0.2),
        ),
        (column("Age").is_in([21, 22]), frame.Age.isin([21, 22])),
        (column("Diabetic") != 1, frame.Diabetic != 1),
    ]
    for expression, expected in cases:
        assert mask(expression, table) == expected.tolist()


def test_json_form_and_round_trip():
    expression = (column("Age") > 50) & column("Name").starts_with("A")
    assert expression.to_json() == {
        "op": "and",
        "args": [
            {"op": "gt", "args": [{"col": "Age"}, {"lit": 50}]},
            {"op": "starts_with", "args": [{"col": "Name"}, {"lit": "A"}]},
        ],
    }
    assert from_json(expression.to_json()).to_json() == expression.to_json()
    stamp = column("at") > dt.datetime(2020, 1, 2, 3, 4)
    assert stamp.to_json()["args"][1] == {"lit": "2020-01-02T03:04:00", "type": "datetime"}
    assert (column("n") > np.int64(3)).to_json()["args"][1] == {"lit": 3}


def test_python_and_or_not_say_to_use_operators():
    with pytest.raises(TypeError, match=r"&.*\|"):
        (column("a") > 1) and (column("b") > 2)  # noqa: B018
    with pytest.raises(TypeError, match="&"):
        if column("a") > 1:
            pass
    with pytest.raises(TypeError, match="~"):
        not (column("a") > 1)  # noqa: B018


def test_errors_name_the_problem(people):
    with pytest.raises(ValidationError, match=r"'height'.*\['name', 'age'"):
        evaluate(column("height") > 1, people)
    with pytest.raises(ValidationError, match=r"compare column 'age'.*'old'"):
        evaluate(column("age") > "old", people)
    with pytest.raises(ValidationError, match="needs a string column"):
        evaluate(column("age").starts_with("3"), people)
    with pytest.raises(ValidationError, match="not True/False"):
        evaluate(column("age"), people)
    with pytest.raises(ValidationError, match="Unknown filter operation 'xor'"):
        from_json({"op": "xor", "args": [{"col": "a"}, {"col": "b"}]})
    with pytest.raises(ValidationError, match="takes 2 argument"):
        evaluate({"op": "gt", "args": [{"col": "age"}]}, people)
    with pytest.raises(ValidationError, match="ISO 8601"):
        from_json({"op": "gt", "args": [{"col": "at"}, {"lit": "soon", "type": "datetime"}]})
    with pytest.raises(ValidationError, match="list of values"):
        column("age").is_in(5)
    with pytest.raises(ValidationError, match="must be a string"):
        column("name").contains(5)
    with pytest.raises(ValidationError, match="Cannot use"):
        column("age") > object()  # noqa: B015


def test_chunked_and_empty_tables():
    table = pa.Table.from_batches(
        [pa.record_batch({"v": [1, 2]}), pa.record_batch({"v": [3, None]})]
    )
    assert evaluate(column("v") >= 2, table).to_pylist() == [False, True, True, False]
    empty = table.slice(0, 0)
    assert evaluate(column("v") > 1, empty).to_pylist() == []
    assert evaluate({"lit": True}, table).to_pylist() == [True] * 4


def test_evaluate_matches_pandas_null_semantics(people):
    frame = people.to_pandas()
    expected = (frame.age > 40) | frame.name.isna()
    got = mask((column("age") > 40) | column("name").is_null(), people)
    assert got == expected.fillna(False).tolist()
    assert pd.isna(frame.age[1]) and got[1] is False
