"""Data guardrails: each check's passed / done / alerted cases, and their text rendering."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from plinth._automl.featurize import DataTransformer
from plinth._automl.guardrails import check_guardrails, format_guardrails
from plinth.exceptions import UserErrorException

DIABETES = Path(__file__).resolve().parents[2] / "examples" / "data" / "diabetes.csv"


@pytest.fixture(scope="module")
def diabetes() -> pd.DataFrame:
    return pd.read_csv(DIABETES).sample(400, random_state=1).reset_index(drop=True)


def by_name(rows: list[dict]) -> dict[str, dict]:
    return {row["name"]: row for row in rows}


def run(X, y, task="classification", featurization="auto", validation="3-fold cross-validation",
        **kwargs):
    featurizer = None if featurization == "off" else DataTransformer(
        task=task, featurization=featurization).fit(X, y)
    return by_name(check_guardrails(X, y, task, featurizer, validation=validation, **kwargs))


def test_diabetes_guardrails(diabetes):
    X, y = diabetes.drop(columns="Diabetic"), diabetes["Diabetic"]
    rows = check_guardrails(X, y, "classification", DataTransformer().fit(X, y),
                            validation="3-fold cross-validation", n_rows=10_000)
    assert [r["name"] for r in rows] == [
        "Validation split handling", "Class balancing detection",
        "Missing feature values imputation", "High cardinality feature detection",
        "Target leakage detection"]
    for row in rows:
        assert set(row) == {"name", "status", "description", "details"}
        assert row["status"] in ("passed", "done", "alerted")
        assert all(isinstance(d, dict) for d in row["details"])
    rows = by_name(rows)
    validation = rows["Validation split handling"]
    assert validation["status"] == "done"
    assert "3-fold cross-validation" in validation["description"]
    assert validation["details"] == [{"Validation": "3-fold cross-validation",
                                      "Training rows": 10_000}]
    assert rows["Class balancing detection"]["status"] == "passed"  # about 2:1
    assert rows["Missing feature values imputation"]["status"] == "passed"
    high = rows["High cardinality feature detection"]
    assert high["status"] == "done"
    assert [d["Column"] for d in high["details"]] == ["PatientID"]
    assert rows["Target leakage detection"]["status"] == "passed"


def test_imbalanced_classes_are_alerted_with_their_counts():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(size=200)})
    y = pd.Series(["healthy"] * 190 + ["sick"] * 10)
    row = run(X, y)["Class balancing detection"]
    assert row["status"] == "alerted"
    assert "sick (10 samples)" in row["description"]
    details = {d["Class"]: d for d in row["details"]}
    assert details["sick"]["Count"] == 10 and details["sick"]["Imbalanced"] == "Yes"
    assert details["healthy"]["Count"] == 190 and details["healthy"]["Imbalanced"] == "No"

    balanced = pd.Series(["healthy"] * 150 + ["sick"] * 50)  # 33% of the largest: balanced
    assert run(X, balanced)["Class balancing detection"]["status"] == "passed"


def test_class_balancing_is_only_for_classification():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=60)})
    rows = run(X, rng.normal(size=60), task="regression")
    assert "Class balancing detection" not in rows


def test_missing_values_imputed_are_done_with_the_imputation_type():
    rng = np.random.default_rng(0)
    n = 100
    X = pd.DataFrame({
        "age": np.where(np.arange(n) % 10 == 0, np.nan, rng.normal(40, 5, n)),
        "color": [None if i % 20 == 0 else ["red", "blue"][i % 2] for i in range(n)],
        "full": rng.normal(size=n),
    })
    y = rng.integers(0, 2, n)
    row = run(X, y)["Missing feature values imputation"]
    assert row["status"] == "done"
    assert row["details"] == [
        {"Column": "age", "Missing value count": 10, "Imputation type": "mean"},
        {"Column": "color", "Missing value count": 5, "Imputation type": "most frequent"},
    ]
    median = {"transformer_params": {"Imputer": [{"columns": ["age"],
                                                  "params": {"strategy": "median"}}]}}
    row = run(X, y, featurization=median)["Missing feature values imputation"]
    assert row["details"][0]["Imputation type"] == "median"

    numeric = X[["age", "full"]]
    off = run(numeric, y, featurization="off")["Missing feature values imputation"]
    assert off["status"] == "alerted"
    assert off["details"][0]["Column"] == "age" and "featurization" in off["description"]
    assert run(X[["full"]], y, featurization="off")[
        "Missing feature values imputation"]["status"] == "passed"


def test_high_cardinality_columns_hashed_or_dropped_are_done():
    n = 200
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"city": [f"city{i % 60}" for i in range(n)],
                      "order": [f"ord-{i:06d}" for i in range(n)],
                      "x": rng.normal(size=n)})
    row = run(X, rng.integers(0, 2, n))["High cardinality feature detection"]
    assert row["status"] == "done"
    treatments = {d["Column"]: d["Treatment"] for d in row["details"]}
    assert treatments["city"].startswith("hashed into")
    assert treatments["order"].startswith("dropped")
    assert "x" not in treatments

    plain = run(X[["x"]], rng.integers(0, 2, n))["High cardinality feature detection"]
    assert plain["status"] == "passed" and plain["details"] == []
    off = run(X[["x"]], rng.integers(0, 2, n), featurization="off")
    assert off["High cardinality feature detection"]["status"] == "passed"


def test_a_column_copying_the_label_is_alerted_as_leakage(diabetes):
    X, y = diabetes.drop(columns="Diabetic"), diabetes["Diabetic"]
    rng = np.random.default_rng(0)
    leaky = X.assign(outcome_code=y.map({0: "negative", 1: "positive"}),
                     outcome_score=y * 5 + rng.normal(0, 0.5, len(y)))
    row = run(leaky, y)["Target leakage detection"]
    assert row["status"] == "alerted"
    assert {d["Column"] for d in row["details"]} == {"outcome_code", "outcome_score"}
    assert all(d["Score"] >= 0.98 for d in row["details"])
    assert "outcome_code" in row["description"]


def test_multiclass_leakage_through_a_numeric_column():
    rng = np.random.default_rng(0)
    y = pd.Series(rng.choice(["a", "b", "c"], 300))
    X = pd.DataFrame({"noise": rng.normal(size=300),
                      "leak": y.map({"a": 1.0, "b": 5.0, "c": 9.0}) + rng.normal(0, 0.3, 300)})
    row = run(X, y)["Target leakage detection"]
    assert row["status"] == "alerted"
    assert [d["Column"] for d in row["details"]] == ["leak"]


def test_regression_leakage_by_correlation(diabetes):
    X = diabetes.drop(columns=["Diabetic", "PlasmaGlucose"])
    y = diabetes["PlasmaGlucose"].astype(float)
    assert run(X, y, task="regression")["Target leakage detection"]["status"] == "passed"
    leaky = X.assign(glucose_mmol=np.exp(y / 50.0))  # monotonic: Spearman correlation 1
    row = run(leaky, y, task="regression")["Target leakage detection"]
    assert row["status"] == "alerted"
    assert row["details"][0]["Column"] == "glucose_mmol"
    assert row["details"][0]["Score"] == pytest.approx(1.0)


def test_dropped_columns_are_not_checked_for_leakage():
    n = 200
    y = pd.Series(np.arange(n) % 2)
    X = pd.DataFrame({"row_id": np.arange(n), "x": np.random.default_rng(0).normal(size=n)})
    # row_id is ID-like (dropped); with featurization off it is a feature, and an ID is not
    # per-value pure evidence (too few rows per value), nor a monotonic function of the label.
    assert run(X, y)["Target leakage detection"]["status"] == "passed"
    assert run(X, y, featurization="off")["Target leakage detection"]["status"] == "passed"


def test_rows_and_labels_must_match():
    X = pd.DataFrame({"a": [1.0, 2.0, 3.0]})
    with pytest.raises(UserErrorException, match="y has 2 labels but X has 3 rows"):
        check_guardrails(X, [0, 1], "classification", None, validation="holdout")


def test_format_guardrails_renders_a_table(diabetes):
    X, y = diabetes.drop(columns="Diabetic"), diabetes["Diabetic"]
    text = format_guardrails(check_guardrails(X, y, "classification", DataTransformer().fit(X),
                                              validation="3-fold cross-validation"))
    assert "DATA GUARDRAILS:" in text
    assert "TYPE:         Class balancing detection" in text
    assert "STATUS:       PASSED" in text and "STATUS:       DONE" in text
    assert "|PatientID " in text and "|Column" in text
    assert text.endswith("\n")
