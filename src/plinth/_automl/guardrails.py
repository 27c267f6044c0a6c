"""AutoML's data guardrails: checks of the training data reported as ``passed``, ``done`` (a
problem was found and handled) or ``alerted`` (a problem the user should look at), as
azureml's data guardrails are.

:func:`check_guardrails` returns one dict per guardrail::

    {"name": "Class balancing detection", "status": "alerted",
     "description": "...", "details": [{"Class": "1", "Count": 15, ...}, ...]}

and :func:`format_guardrails` renders them as the text table azureml prints.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from plinth._automl.featurize import DataTransformer
from plinth.exceptions import UserErrorException

__all__ = ["check_guardrails", "format_guardrails"]

# azureml's rule: a class is imbalanced when it has fewer than this share of the largest
# class's samples.
IMBALANCE_RATIO = 0.2
# A single feature that predicts the label this well (balanced accuracy of a one-feature rule
# for classification, |Pearson| or |Spearman| correlation -- or R^2 of per-value means -- for
# regression) is flagged as possible target leakage.
LEAKAGE_THRESHOLD = 0.98
# Leakage checks look at a sample of at most this many rows (fixed seed) to stay quick.
LEAKAGE_MAX_ROWS = 5000
# A column is judged value by value (per-value purity / means) only when each distinct value
# has at least this many rows on average; otherwise every value of an ID-like column would be
# "pure" by construction.
LEAKAGE_MIN_ROWS_PER_VALUE = 10
# Below this many rows with a value, a column's leakage score says nothing.
LEAKAGE_MIN_ROWS = 20

PASSED, DONE, ALERTED = "passed", "done", "alerted"
_IMPUTATION_TYPES = {
    "MeanImputer": "mean", "MedianImputer": "median", "ModeImputer": "most frequent",
    "ConstantImputer": "constant", "ModeCatImputer": "most frequent",
    "ConstantCatImputer": "constant", "DateTimeTransformer": "most frequent",
}


def check_guardrails(X: pd.DataFrame, y: pd.Series | np.ndarray, task: str,
                     featurizer: DataTransformer | None, *, validation: str,
                     n_rows: int | None = None) -> list[dict[str, Any]]:
    """The data guardrails of training data ``X`` (features) and ``y`` (labels).

    :param task: ``'classification'``, ``'regression'`` or ``'forecasting'``.
    :param featurizer: the fitted :class:`DataTransformer`, or None when featurization is off.
    :param validation: how the data is split for validation, in words (e.g.
        ``"3-fold cross-validation"``).
    :param n_rows: the number of training rows, when ``X`` is a sample of them.
    """
    frame = _frame(X, featurizer)
    labels = pd.Series(np.asarray(y).ravel() if not isinstance(y, pd.Series) else y.to_numpy())
    if len(labels) != len(frame):
        raise UserErrorException(
            f"y has {len(labels)} labels but X has {len(frame)} rows; give one label per row.")
    rows = [_validation(validation, len(frame) if n_rows is None else n_rows)]
    if task == "classification":
        rows.append(_class_balance(labels))
    rows.append(_missing_values(frame, featurizer))
    rows.append(_high_cardinality(featurizer))
    rows.append(_target_leakage(frame, labels, task, featurizer))
    return rows


def _frame(X: Any, featurizer: DataTransformer | None) -> pd.DataFrame:
    if isinstance(X, pd.DataFrame):
        frame = X.copy(deep=False)
        frame.columns = [str(c) for c in frame.columns]
    else:
        array = np.asarray(X)
        if array.ndim == 1:
            array = array.reshape(-1, 1)
        frame = pd.DataFrame(array, columns=[f"Column{i + 1}" for i in range(array.shape[1])])
        frame = frame.infer_objects()
    if featurizer is not None and hasattr(featurizer, "raw_columns_"):
        frame = frame[[c for c in featurizer.raw_columns_ if c in frame.columns]]
    return frame.reset_index(drop=True)


def _row(name: str, status: str, description: str,
         details: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"name": name, "status": status, "description": description,
            "details": details or []}


# --- the guardrails ---------------------------------------------------------------------------
def _validation(validation: str, n_rows: int) -> dict[str, Any]:
    return _row(
        "Validation split handling", DONE,
        f"The validation configuration was set to {validation} on {n_rows:,} training rows.",
        [{"Validation": validation, "Training rows": int(n_rows)}])


def _class_balance(labels: pd.Series) -> dict[str, Any]:
    name = "Class balancing detection"
    counts = labels.dropna().value_counts()
    if counts.empty:
        return _row(name, PASSED, "There are no labels to check for class balance.")
    largest = int(counts.max())
    total = int(counts.sum())
    details = []
    imbalanced = []
    for label, count in counts.items():
        is_small = count < IMBALANCE_RATIO * largest
        if is_small:
            imbalanced.append(f"{label!s} ({int(count)} samples)")
        details.append({"Class": str(label), "Count": int(count),
                        "Percentage": round(100.0 * count / total, 2),
                        "Imbalanced": "Yes" if is_small else "No"})
    if imbalanced:
        return _row(
            name, ALERTED,
            f"Imbalanced classes were detected in the training data: {', '.join(imbalanced)} "
            f"against {largest} samples of the largest class (a class is imbalanced below "
            f"{IMBALANCE_RATIO:.0%} of the largest class). The model may be biased towards "
            "the large classes: collect more samples of the small ones, weight them "
            "(weight_column_name), or use a metric that weighs classes, such as "
            "AUC_weighted or balanced accuracy.",
            details)
    return _row(name, PASSED,
                "Your inputs were analyzed, and all classes are balanced in your training data.",
                details)


def _missing_values(frame: pd.DataFrame, featurizer: DataTransformer | None) -> dict[str, Any]:
    name = "Missing feature values imputation"
    counts = frame.isna().sum()
    counts = counts[counts > 0]
    if counts.empty:
        return _row(name, PASSED,
                    "No feature missing values were detected in the training data.")
    if featurizer is None:
        details = [{"Column": c, "Missing value count": int(n), "Imputation type": "none"}
                   for c, n in counts.items()]
        return _row(
            name, ALERTED,
            "Missing feature values were detected and featurization is off, so they reach "
            "the models as NaN: only models that handle missing values (LightGBM, XGBoost) "
            "can use them. Impute them yourself or use featurization='auto'.",
            details)
    summary = {r["RawFeatureName"]: r for r in featurizer.get_featurization_summary()}
    details = []
    for column, n in counts.items():
        row = summary.get(column)
        if row is None or row["Dropped"] == "Yes":
            kind = "column dropped"
        elif row["TypeDetected"] == "Text" or not row["Transformations"]:
            kind = "empty text" if row["TypeDetected"] == "Text" else "none"
        else:
            kind = _IMPUTATION_TYPES.get(row["Transformations"][0], "most frequent")
        details.append({"Column": column, "Missing value count": int(n),
                        "Imputation type": kind})
    return _row(name, DONE,
                "Missing feature values were detected in the training data and imputed.",
                details)


def _high_cardinality(featurizer: DataTransformer | None) -> dict[str, Any]:
    name = "High cardinality feature detection"
    if featurizer is None:
        return _row(name, PASSED,
                    "Featurization is off: every feature is numeric and used as given.")
    details = []
    for row in featurizer.get_featurization_summary():
        column = row["RawFeatureName"]
        reason = getattr(featurizer, "drop_reasons_", {}).get(column, "")
        if row["TypeDetected"] == "CategoricalHash" and row["Dropped"] == "No":
            details.append({"Column": column, "Treatment":
                            f"hashed into {row['EngineeredFeatureCount']} columns"})
        elif row["Dropped"] == "Yes" and reason.startswith("ID-like"):
            details.append({"Column": column, "Treatment": f"dropped ({reason})"})
    if details:
        return _row(
            name, DONE,
            "High-cardinality features were detected in your inputs and handled: categories "
            "with many values were hashed into a fixed number of columns, and ID-like columns "
            "(every value unique) were dropped. Set their column purposes with a "
            "FeaturizationConfig to treat them otherwise.",
            details)
    return _row(name, PASSED,
                "Your inputs were analyzed, and no high cardinality features were detected.")


def _target_leakage(frame: pd.DataFrame, labels: pd.Series, task: str,
                    featurizer: DataTransformer | None) -> dict[str, Any]:
    name = "Target leakage detection"
    columns = list(frame.columns)
    if featurizer is not None and hasattr(featurizer, "drop_reasons_"):
        columns = [c for c in columns if c not in featurizer.drop_reasons_]
    keep = labels.notna().to_numpy()
    data = frame.loc[keep, columns].reset_index(drop=True)
    target = labels[keep].reset_index(drop=True)
    if len(data) > LEAKAGE_MAX_ROWS:
        sample = np.random.default_rng(0).choice(len(data), LEAKAGE_MAX_ROWS, replace=False)
        sample.sort()
        data, target = data.iloc[sample].reset_index(drop=True), target.iloc[sample].reset_index(
            drop=True)
    details = []
    for column in columns:
        if task == "classification":
            score, measure = _classification_score(data[column], target)
        else:
            score, measure = _regression_score(data[column], target)
        if score is not None and score >= LEAKAGE_THRESHOLD:
            details.append({"Column": column, "Measure": measure, "Score": round(score, 4)})
    if details:
        listed = ", ".join(repr(d["Column"]) for d in details)
        return _row(
            name, ALERTED,
            f"Feature(s) {listed} predict the label almost perfectly on their own (score >= "
            f"{LEAKAGE_THRESHOLD}). If they are derived from the label or only known after "
            "it, drop them (FeaturizationConfig.add_drop_columns), or the model will not work "
            "on new data.",
            details)
    return _row(name, PASSED,
                "No single feature predicts the label almost perfectly on its own.")


def _per_value_ok(col: pd.Series) -> bool:
    n = int(col.notna().sum())
    distinct = int(col.nunique(dropna=True))
    return n >= LEAKAGE_MIN_ROWS and 1 < distinct <= n / LEAKAGE_MIN_ROWS_PER_VALUE


def _numeric(col: pd.Series) -> pd.Series | None:
    if pd.api.types.is_bool_dtype(col):
        return col.astype("float64")
    if pd.api.types.is_numeric_dtype(col):
        values = pd.Series(pd.to_numeric(col, errors="coerce"), dtype="float64")
        return values.where(np.isfinite(values))
    return None


def _balanced_accuracy(truth: np.ndarray, predicted: np.ndarray) -> float:
    recalls = [float(np.mean(predicted[truth == label] == label)) for label in np.unique(truth)]
    return float(np.mean(recalls))


def _classification_score(col: pd.Series, target: pd.Series) -> tuple[float | None, str]:
    """Balanced accuracy of the best one-feature rule: the majority label of each value (for
    columns with few values) or a small decision tree on the column (numeric columns)."""
    truth = target.astype(str).to_numpy()
    if len(np.unique(truth)) < 2:
        return None, ""
    if _per_value_ok(col):
        present = col.notna().to_numpy()
        keys = col[present].map(str).to_numpy()
        labels = truth[present]
        table = pd.crosstab(keys, labels)
        majority = table.idxmax(axis=1)
        predicted = pd.Series(keys).map(majority).to_numpy()
        return _balanced_accuracy(labels, predicted), "balanced accuracy of per-value majority"
    values = _numeric(col)
    if values is None:
        return None, ""
    present = values.notna().to_numpy()
    if present.sum() < LEAKAGE_MIN_ROWS or values[present].nunique() < 2:
        return None, ""
    from sklearn.tree import DecisionTreeClassifier

    labels = truth[present]
    n_classes = len(np.unique(labels))
    if n_classes < 2:
        return None, ""
    tree = DecisionTreeClassifier(max_leaf_nodes=max(2, n_classes), class_weight="balanced",
                                  random_state=0)
    features = values[present].to_numpy().reshape(-1, 1)
    tree.fit(features, labels)
    return (_balanced_accuracy(labels, tree.predict(features)),
            f"balanced accuracy of a {max(2, n_classes)}-leaf tree")


def _regression_score(col: pd.Series, target: pd.Series) -> tuple[float | None, str]:
    """The largest of |Pearson| and |Spearman| correlation (numeric columns), or R^2 of the
    per-value means (columns with few values)."""
    y = pd.Series(pd.to_numeric(target, errors="coerce"), dtype="float64")
    best: tuple[float | None, str] = (None, "")
    values = _numeric(col)
    if values is not None:
        present = (values.notna() & y.notna()).to_numpy()
        a, b = values[present], y[present]
        if len(a) >= LEAKAGE_MIN_ROWS and a.nunique() > 1 and b.nunique() > 1:
            pearson = abs(float(np.corrcoef(a, b)[0, 1]))
            spearman = abs(float(np.corrcoef(a.rank(), b.rank())[0, 1]))
            if pearson >= spearman:
                best = (pearson, "absolute Pearson correlation")
            else:
                best = (spearman, "absolute Spearman correlation")
    if _per_value_ok(col):
        present = (col.notna() & y.notna()).to_numpy()
        keys, b = col[present].map(str).reset_index(drop=True), y[present].reset_index(drop=True)
        total = float(((b - b.mean()) ** 2).sum())
        if total > 0:
            fitted = b.groupby(keys).transform("mean")
            r2 = 1.0 - float(((b - fitted) ** 2).sum()) / total
            if best[0] is None or r2 > best[0]:
                best = (r2, "R^2 of per-value means")
    return best


# --- text rendering ---------------------------------------------------------------------------
_RULE = "*" * 100


def format_guardrails(rows: list[dict[str, Any]]) -> str:
    """The guardrails as azureml's console text: type, status, description, details table."""
    lines = [_RULE, "DATA GUARDRAILS:", ""]
    for row in rows:
        lines.append(f"TYPE:         {row['name']}")
        lines.append(f"STATUS:       {str(row['status']).upper()}")
        description = _wrap(str(row.get("description", "")), 86)
        lines.append(f"DESCRIPTION:  {description[0] if description else ''}")
        lines.extend(f"              {line}" for line in description[1:])
        details = row.get("details") or []
        if details:
            lines.append("DETAILS:")
            lines.extend(_table(details))
        lines.extend(["", _RULE, ""])
    return "\n".join(lines).rstrip() + "\n"


def _wrap(text: str, width: int) -> list[str]:
    import textwrap

    return textwrap.wrap(text, width) or [""]


def _table(details: list[dict[str, Any]]) -> list[str]:
    headers: list[str] = []
    for detail in details:
        for key in detail:
            if key not in headers:
                headers.append(str(key))
    cells = [[_cell(detail.get(h, "")) for h in headers] for detail in details]
    widths = [max(len(h), *(len(r[i]) for r in cells)) + 1 for i, h in enumerate(headers)]
    rule = "+" + "+".join("-" * w for w in widths) + "+"
    double = "+" + "+".join("=" * w for w in widths) + "+"

    def line(values: list[str]) -> str:
        return "|" + "|".join(v.ljust(w) for v, w in zip(values, widths, strict=True)) + "|"
    out = [rule, line(headers), double]
    for r in cells:
        out += [line(r), rule]
    return out


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return str(value)
