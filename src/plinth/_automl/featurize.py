"""AutoML featurization: :class:`DataTransformer` turns a raw training frame into a dense
float matrix, as azureml's featurization ``'auto'`` does.

Each raw column gets a type (azureml's ``TypeDetected`` names), detected or set by the user
through a FeaturizationConfig's ``column_purposes``:

=================  ==========================================================================
Numeric            mean imputation (``MeanImputer``) plus a missing-value indicator column
                   (``ImputationMarker``) when the column had missing values in training.
Categorical        most-frequent imputation, then one-hot encoding (``OneHotEncoder``,
                   unseen categories at predict time encode as all zeros).
CategoricalHash    most-frequent imputation, then hashing into ``2**bits`` columns
                   (``HashOneHotEncoder``).
Text               TF-IDF of word 1- and 2-grams, at most ``TEXT_MAX_FEATURES`` columns.
DateTime           year, month, day, day of week, day of year, hour, minute, second; parts
                   that are constant in training are left out.
Hashes / Ignore    dropped: ID-like columns (every value unique), constant columns, columns
                   with no values.
=================  ==========================================================================

With ``featurization='off'`` every column must be numeric and passes through as float (missing
values stay NaN). The transformers are scikit-learn's, inside one ``ColumnTransformer``.
"""

from __future__ import annotations

import math
import re
import warnings
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction import FeatureHasher
from sklearn.feature_extraction.text import CountVectorizer, HashingVectorizer, TfidfVectorizer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, OrdinalEncoder
from sklearn.utils.validation import check_is_fitted

from plinth.exceptions import UserErrorException

__all__ = ["DataTransformer", "detect_column_type"]

# --- detection thresholds --------------------------------------------------------------------
# A string / bool column with at most this many distinct values is one-hot encoded; above it
# one-hot columns get too many (and too rare) to be useful, so the column is hashed.
CATEGORICAL_MAX_UNIQUE = 30
# An integer column with at most this many distinct values (a code, a rating, a flag) is
# treated as categorical; more distinct values read as a count or a measure (e.g. the
# diabetes data's Pregnancies, 0-14) and stay numeric.
INT_CATEGORICAL_MAX_UNIQUE = 5
# ID detection needs enough rows: in a tiny frame every column looks unique.
ID_MIN_ROWS = 100
# An integer or string column whose distinct values are at least this share of its values is
# an ID (0.99 rather than 1.0: a sample of random IDs has a few collisions, e.g. the diabetes
# data's PatientID has 9,959 distinct values in 10,000 rows).
ID_UNIQUE_RATIO = 0.99
# High-cardinality strings whose distinct values have on average at least this many words are
# free text (TF-IDF) rather than codes or names (hashed or dropped as IDs).
TEXT_MIN_MEAN_WORDS = 2.5
# A string column is numeric / dates when at least this share of its (sampled) distinct values
# parse as numbers / dates.
PARSE_MIN_SHARE = 0.95
# Distinct values examined when deciding whether strings are numbers, dates or text.
DETECTION_SAMPLE = 1000
# Hashing uses ceil(log2(distinct values)) bits, kept within these bounds: 32 to 128 columns.
HASH_MIN_BITS = 5
HASH_MAX_BITS = 7
# TF-IDF: word 1- and 2-grams, the most frequent TEXT_MAX_FEATURES of them (dense output).
TEXT_MAX_FEATURES = 100
TEXT_NGRAM_RANGE = (1, 2)
# A forced Categorical column with more categories than this keeps the most frequent ones and
# groups the rest in one "infrequent" column.
ONEHOT_MAX_CATEGORIES = 100

TASKS = ("classification", "regression", "forecasting")
DATE_PARTS = ("Year", "Month", "Day", "DayOfWeek", "DayOfYear", "Hour", "Minute", "Second")
_DATE_LIKE = re.compile(r"\d.*[-/:.\s]|[-/:.\s].*\d|[A-Za-z]{3}.*\d|\d.*[A-Za-z]{3}")
_IMPUTER_NAMES = {"mean": "MeanImputer", "median": "MedianImputer",
                  "most_frequent": "ModeImputer", "constant": "ConstantImputer"}
_CAT_IMPUTER_NAMES = {"most_frequent": "ModeCatImputer", "constant": "ConstantCatImputer"}


# --- value conversions (module-level so fitted transformers pickle) ----------------------------
def _to_float(X: Any) -> np.ndarray:
    """Columns as float64; unparsable values and +-inf become NaN."""
    frame = pd.DataFrame(X)
    out = np.empty(frame.shape, dtype=np.float64)
    for j in range(frame.shape[1]):
        col = frame.iloc[:, j]
        if pd.api.types.is_bool_dtype(col):
            col = col.astype("float64")
        values = pd.to_numeric(col, errors="coerce")
        out[:, j] = pd.Series(values, dtype="float64").to_numpy(dtype=np.float64, na_value=np.nan)
    out[~np.isfinite(out)] = np.nan
    return out


def _category_value(value: Any) -> Any:
    if isinstance(value, str):
        return value
    if value is None or (pd.api.types.is_scalar(value) and pd.isna(value)):
        return np.nan
    if isinstance(value, (bool, np.bool_)):
        return "True" if value else "False"
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    return str(value)


def _category_strings(X: Any) -> np.ndarray:
    """Columns as an object array of strings (1 and 1.0 both read "1"), NaN where missing."""
    frame = pd.DataFrame(X)
    out = np.empty(frame.shape, dtype=object)
    for j in range(frame.shape[1]):
        out[:, j] = [_category_value(v) for v in frame.iloc[:, j].tolist()]
    return out


def _hash_tokens(X: Any) -> list[list[str]]:
    """One single-token list per row, for FeatureHasher(input_type='string')."""
    return [[str(v)] for v in np.asarray(X, dtype=object)[:, 0]]


def _text_values(X: Any) -> np.ndarray:
    """The first column as a 1-D array of str; missing values are empty strings."""
    col = pd.DataFrame(X).iloc[:, 0]
    return np.array(["" if _category_value(v) is np.nan else str(v) for v in col.tolist()],
                    dtype=object)


def _parse_dates(col: pd.Series, fmt: str | None) -> pd.Series:
    """``col`` as naive UTC datetimes; unparsable values become NaT."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if pd.api.types.is_datetime64_any_dtype(col):
            parsed = pd.to_datetime(col, utc=True)
        else:
            try:
                parsed = pd.to_datetime(col, errors="coerce", utc=True, format=fmt or "mixed")
            except (TypeError, ValueError):
                parsed = pd.to_datetime(col, errors="coerce", utc=True, format="mixed")
    return pd.Series(parsed, index=col.index).dt.tz_localize(None)


def _date_part_values(dates: pd.Series, part: str) -> pd.Series:
    accessor = dates.dt
    value = {
        "Year": accessor.year, "Month": accessor.month, "Day": accessor.day,
        "DayOfWeek": accessor.day_of_week, "DayOfYear": accessor.day_of_year,
        "Hour": accessor.hour, "Minute": accessor.minute, "Second": accessor.second,
    }[part]
    return value.astype("float64")


def _datetime_parts(X: Any, parts: tuple[str, ...] = DATE_PARTS, fmt: str | None = None
                    ) -> np.ndarray:
    """The chosen date parts of the first column, as floats (NaN where not a date)."""
    dates = _parse_dates(pd.DataFrame(X).iloc[:, 0].reset_index(drop=True), fmt)
    if not parts:
        return np.empty((len(dates), 0))
    return np.column_stack([_date_part_values(dates, p).to_numpy(dtype=np.float64,
                                                                  na_value=np.nan)
                            for p in parts])


def _function(func: Any, **kw_args: Any) -> FunctionTransformer:
    return FunctionTransformer(func, kw_args=kw_args or None, validate=False)


# --- detection --------------------------------------------------------------------------------
def _distinct_sample(col: pd.Series) -> list[Any]:
    return pd.unique(col.dropna())[:DETECTION_SAMPLE].tolist()


def _share_numeric(values: list[Any]) -> float:
    if not values:
        return 0.0
    parsed = pd.to_numeric(pd.Series([str(v) for v in values], dtype=object), errors="coerce")
    return float(parsed.notna().mean())


def _guess_date_format(values: list[Any]) -> str | None:
    """A strftime format that parses (nearly) all the sampled strings, or None."""
    from pandas.tseries.api import guess_datetime_format

    strings = [v for v in values if isinstance(v, str)]
    if not strings:
        return None
    fmt = guess_datetime_format(strings[0])
    if fmt is None:
        return None
    parsed = pd.to_datetime(pd.Series(strings), errors="coerce", format=fmt)
    return fmt if parsed.notna().mean() >= PARSE_MIN_SHARE else None


def _share_dates(values: list[Any]) -> float:
    if not values:
        return 0.0
    if not all(isinstance(v, str) and len(v) >= 6 and _DATE_LIKE.search(v) for v in values):
        return 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = pd.to_datetime(pd.Series(values, dtype=object), errors="coerce",
                                format="mixed")
    return float(parsed.notna().mean())


def _mean_words(values: list[Any]) -> float:
    if not values:
        return 0.0
    return float(np.mean([len(str(v).split()) for v in values]))


def detect_column_type(col: pd.Series) -> tuple[str, str | None]:
    """``(type, reason)`` for a raw column: azureml's TypeDetected name, and why the column
    is dropped (None when it is kept)."""
    n = int(col.notna().sum())
    if n == 0:
        return "Ignore", "all values are missing"
    distinct = int(col.nunique(dropna=True))
    if distinct <= 1 and n == len(col):
        return "Ignore", "constant column"
    if pd.api.types.is_bool_dtype(col):
        return "Categorical", None
    if pd.api.types.is_datetime64_any_dtype(col):
        return "DateTime", None
    if pd.api.types.is_numeric_dtype(col):
        if pd.api.types.is_integer_dtype(col):
            if n >= ID_MIN_ROWS and distinct >= ID_UNIQUE_RATIO * n:
                return "Ignore", "ID-like: every value is unique"
            if distinct <= INT_CATEGORICAL_MAX_UNIQUE:
                return "Categorical", None
        return "Numeric", None
    # strings, categories, mixed objects
    inferred = pd.api.types.infer_dtype(col, skipna=True)
    if inferred in ("datetime", "datetime64", "date"):
        return "DateTime", None
    if inferred == "boolean":
        return "Categorical", None
    values = _distinct_sample(col)
    if inferred in ("integer", "floating", "mixed-integer-float", "decimal"):
        return ("Categorical", None) if distinct <= INT_CATEGORICAL_MAX_UNIQUE else (
            "Numeric", None)
    if _share_numeric(values) >= PARSE_MIN_SHARE:
        return "Numeric", None
    if _share_dates(values) >= PARSE_MIN_SHARE:
        return "DateTime", None
    if distinct <= CATEGORICAL_MAX_UNIQUE:
        return "Categorical", None
    if _mean_words(values) >= TEXT_MIN_MEAN_WORDS:
        return "Text", None
    if n >= ID_MIN_ROWS and distinct >= ID_UNIQUE_RATIO * n:
        return "Hashes", "ID-like: every value is unique"
    return "CategoricalHash", None


# --- the featurizer ---------------------------------------------------------------------------
def _as_frame(X: Any, argument: str = "X") -> pd.DataFrame:
    """``X`` as a DataFrame with str column names (numpy arrays get Column1, Column2, ...)."""
    if isinstance(X, pd.Series):
        X = X.to_frame()
    if isinstance(X, pd.DataFrame):
        frame = X.copy(deep=False)
        frame.columns = [str(c) for c in frame.columns]
    else:
        try:
            array = np.asarray(X)
        except Exception as exc:  # noqa: BLE001 - any unconvertible input
            raise UserErrorException(
                f"{argument} must be a pandas DataFrame or a 2-D array, got "
                f"{type(X).__name__}.") from exc
        if array.ndim != 2:
            raise UserErrorException(
                f"{argument} must be 2-D (rows x columns), got an array of shape "
                f"{array.shape}; reshape a single feature with .reshape(-1, 1).")
        frame = pd.DataFrame(array, columns=[f"Column{i + 1}" for i in range(array.shape[1])])
        frame = frame.infer_objects()
    duplicated = sorted(set(frame.columns[frame.columns.duplicated()]))
    if duplicated:
        raise UserErrorException(
            f"{argument} has duplicate column names {duplicated}; rename them so each column "
            "has a unique name.")
    return frame


class DataTransformer(BaseEstimator, TransformerMixin):
    """AutoML's featurizer: raw DataFrame in, dense float64 matrix out.

    :param task: ``'classification'``, ``'regression'`` or ``'forecasting'``.
    :param featurization: ``'auto'``, ``'off'`` or a dict from ``FeaturizationConfig._spec()``
        (a FeaturizationConfig itself is accepted too).
    :param drop_columns: columns removed before anything else (weight column, time column...);
        they may be absent from the data.

    After :meth:`fit`: ``raw_columns_`` (the input columns, in order, less ``drop_columns``),
    ``engineered_to_raw_`` (the raw column of each output column), ``column_types_``
    (``{raw column: TypeDetected}``) and ``drop_reasons_`` (``{raw column: why it is
    dropped}``). At transform time only the columns that feed features must be present; the
    others (dropped ones) may be missing, and columns are selected by name.
    """

    def __init__(self, task: str = "classification", featurization: Any = "auto",
                 drop_columns: tuple[str, ...] = ()):
        self.task = task
        self.featurization = featurization
        self.drop_columns = drop_columns

    # --- fit ------------------------------------------------------------------------------
    def fit(self, X: Any, y: Any = None) -> DataTransformer:
        """Detect each column's type and fit its transformers on ``X``."""
        if self.task not in TASKS:
            raise UserErrorException(f"task must be one of {', '.join(TASKS)}, "
                                     f"got {self.task!r}.")
        mode, spec = self._mode()
        frame = _as_frame(X)
        if len(frame) == 0:
            raise UserErrorException("X has no rows; featurization needs training data.")
        constructor_drops = set(self._constructor_drops())
        self.raw_columns_ = [c for c in frame.columns if c not in constructor_drops]
        frame = frame[self.raw_columns_]
        self.mode_ = mode
        if mode == "off":
            self._fit_off(frame)
        else:
            self._fit_auto(frame, spec)
        self.n_features_in_ = len(self.raw_columns_)
        self.feature_names_in_ = np.array(self.raw_columns_, dtype=object)
        return self

    def _constructor_drops(self) -> list[str]:
        drops = self.drop_columns
        if drops is None:
            return []
        if isinstance(drops, str):
            return [drops]
        return [str(c) for c in drops]

    def _mode(self) -> tuple[str, dict[str, Any]]:
        value = self.featurization
        if hasattr(value, "_spec") and callable(value._spec):
            value = value._spec()
        if isinstance(value, str) and value.lower() in ("auto", "off"):
            return value.lower(), {}
        if isinstance(value, dict):
            # The names a spec may use are the public FeaturizationConfig's (a light module).
            from plinth.train.automl.featurization import normalize_spec

            return "auto", normalize_spec(value)
        raise UserErrorException(
            "featurization must be 'auto', 'off' or a FeaturizationConfig (or its _spec() "
            f"dict), got {value!r}.")

    def _fit_off(self, frame: pd.DataFrame) -> None:
        for column in frame.columns:
            col = frame[column]
            if not (pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col)):
                raise UserErrorException(
                    f"Column {column!r} is not numeric ({col.dtype}) and featurization is "
                    "'off'; use featurization='auto' (or a FeaturizationConfig) or drop the "
                    "column.")
        self.column_types_ = {c: "Numeric" for c in frame.columns}
        self.drop_reasons_: dict[str, str] = {}
        self._used_columns = list(frame.columns)
        self._transformations = {c: [] for c in frame.columns}
        self._column_transformer = None
        self.engineered_to_raw_ = list(frame.columns)
        self._names = list(frame.columns)

    def _fit_auto(self, frame: pd.DataFrame, spec: dict[str, Any]) -> None:
        purposes: dict[str, str] = spec.get("column_purposes") or {}
        user_drops: list[str] = spec.get("drop_columns") or []
        blocked = set(spec.get("blocked_transformers") or [])
        params = spec.get("transformer_params") or {}
        self._check_spec_columns(frame, purposes, user_drops, params)
        column_params = {name: {c: entry["params"] for entry in entries
                                for c in entry["columns"]}
                         for name, entries in params.items()}

        self.column_types_ = {}
        self.drop_reasons_ = {}
        self._transformations = {}
        plans: list[tuple[str, Any, Any]] = []  # (column, transformer, names function)
        for column in frame.columns:
            col = frame[column]
            if column in user_drops:
                self.column_types_[column] = "Ignore"
                self.drop_reasons_[column] = "in the FeaturizationConfig's drop_columns"
                self._transformations[column] = []
                continue
            if column in purposes:
                kind, reason = purposes[column], None
                if kind == "Ignore":
                    reason = "column purpose set to Ignore"
                elif col.notna().sum() == 0:
                    kind, reason = "Ignore", "all values are missing"
            else:
                kind, reason = detect_column_type(col)
            self.column_types_[column] = kind
            plan = None
            if reason is None:
                plan = self._plan(column, col, kind, blocked, column_params)
                if plan is None:
                    reason = "every transformer for its type is blocked or it has no usable " \
                             "values"
            if reason is not None:
                self.drop_reasons_[column] = reason
                self._transformations[column] = []
                continue
            transformer, names, transformations = plan
            self._transformations[column] = transformations
            plans.append((column, transformer, names))

        if not plans:
            reasons = "; ".join(f"{c}: {r}" for c, r in self.drop_reasons_.items())
            raise UserErrorException(
                "Featurization dropped every column, so there is nothing to train on "
                f"({reasons}). Set column purposes with a FeaturizationConfig or provide "
                "more informative columns.")
        self._used_columns = [c for c, _, _ in plans]
        self._column_transformer = ColumnTransformer(
            [(f"c{i}", transformer, [column]) for i, (column, transformer, _) in enumerate(plans)],
            remainder="drop", sparse_threshold=0.0)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                out = self._column_transformer.fit_transform(frame[self._used_columns])
        except ValueError as exc:
            message = str(exc)
            if "vocabulary" in message or "no terms remain" in message:
                raise UserErrorException(
                    f"Text featurization found no words to keep ({message}); check the "
                    "TfIdf transformer_params (min_df, max_df, stop_words) or set the text "
                    "column's purpose to 'CategoricalHash' or 'Ignore'.") from exc
            raise
        names: list[str] = []
        raw: list[str] = []
        for i, (column, _, name_fn) in enumerate(plans):
            fitted = self._column_transformer.named_transformers_[f"c{i}"]
            column_names = name_fn(fitted)
            names.extend(column_names)
            raw.extend([column] * len(column_names))
        if len(names) != out.shape[1]:  # pragma: no cover - an internal inconsistency
            raise RuntimeError(f"featurization made {out.shape[1]} columns but named "
                               f"{len(names)}")
        self._names = _unique_names(names)
        self.engineered_to_raw_ = raw

    def _check_spec_columns(self, frame: pd.DataFrame, purposes: dict[str, str],
                            drops: list[str], params: dict[str, Any]) -> None:
        named = [("column_purposes", c) for c in purposes]
        named += [("drop_columns", c) for c in drops]
        for transformer, entries in params.items():
            for entry in entries:
                named += [(f"transformer_params[{transformer!r}]", c) for c in entry["columns"]]
        for argument, column in named:
            if column not in frame.columns:
                raise UserErrorException(
                    f"The FeaturizationConfig's {argument} names column {column!r}, which is "
                    f"not in the training data; its columns are: {', '.join(frame.columns)}.")

    def _plan(self, column: str, col: pd.Series, kind: str, blocked: set[str],
              column_params: dict[str, dict[str, Any]]) -> tuple[Any, Any, list[str]] | None:
        """``(transformer, names function, transformation names)`` for one column, or None
        when the column cannot be featurized (it is then dropped)."""
        imputer = column_params.get("Imputer", {}).get(column, {})
        if kind == "Numeric":
            return _numeric_plan(column, col, imputer)
        if kind == "DateTime":
            return _datetime_plan(column, col)
        strategy = imputer.get("strategy", "most_frequent")
        if strategy in ("mean", "median"):
            raise UserErrorException(
                f"transformer_params['Imputer'] sets strategy {strategy!r} for column "
                f"{column!r}, which is {kind}; use 'most_frequent' or 'constant' for "
                "non-numeric columns (or set its purpose to 'Numeric').")
        bits = column_params.get("HashOneHotEncoder", {}).get(column, {}).get("number_of_bits")
        if kind == "Text":
            return _text_plan(column, col, blocked,
                              column_params.get("TfIdf", {}).get(column, {}), bits)
        order = {"Categorical": ("OneHotEncoder", "HashOneHotEncoder", "LabelEncoder"),
                 "CategoricalHash": ("HashOneHotEncoder", "LabelEncoder")}[kind]
        for encoder in order:
            if encoder not in blocked:
                return _categorical_plan(column, col, encoder, imputer, bits)
        return None

    # --- transform ------------------------------------------------------------------------
    def transform(self, X: Any) -> np.ndarray:
        """The engineered features of ``X`` as a dense float64 array."""
        check_is_fitted(self, "engineered_to_raw_")
        frame = _as_frame(X)
        missing = [c for c in self._used_columns if c not in frame.columns]
        if missing:
            raise UserErrorException(
                f"X lacks column(s) {', '.join(repr(c) for c in missing)} that the model was "
                f"trained with; add them (columns used: {', '.join(self._used_columns)}).")
        frame = frame[self._used_columns]
        if self._column_transformer is None:
            out = np.empty(frame.shape, dtype=np.float64)
            for j, column in enumerate(frame.columns):
                try:
                    out[:, j] = frame[column].astype("float64").to_numpy(
                        dtype=np.float64, na_value=np.nan)
                except (TypeError, ValueError) as exc:
                    raise UserErrorException(
                        f"Column {column!r} is not numeric ({frame[column].dtype}) and "
                        "featurization is 'off'; pass numbers in it.") from exc
            return out
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            out = self._column_transformer.transform(frame)
        return np.ascontiguousarray(out, dtype=np.float64)

    # --- introspection --------------------------------------------------------------------
    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """The engineered feature names, one per output column."""
        check_is_fitted(self, "engineered_to_raw_")
        return np.array(self._names, dtype=object)

    def get_engineered_feature_names(self) -> list[str]:
        """The engineered feature names, one per output column (azureml's name)."""
        check_is_fitted(self, "engineered_to_raw_")
        return list(self._names)

    def get_featurization_summary(self) -> list[dict[str, Any]]:
        """One row per raw column, as azureml's ``get_featurization_summary()``."""
        check_is_fitted(self, "engineered_to_raw_")
        counts: dict[str, int] = {}
        for column in self.engineered_to_raw_:
            counts[column] = counts.get(column, 0) + 1
        rows = []
        for column in self.raw_columns_:
            dropped = column in self.drop_reasons_
            rows.append({
                "RawFeatureName": column,
                "TypeDetected": self.column_types_[column],
                "Dropped": "Yes" if dropped else "No",
                "EngineeredFeatureCount": 0 if dropped else counts.get(column, 0),
                "Transformations": list(self._transformations[column]),
            })
        return rows


def _unique_names(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for name in names:
        if name in seen:
            seen[name] += 1
            candidate = f"{name}_{seen[name]}"
            while candidate in seen:
                seen[name] += 1
                candidate = f"{name}_{seen[name]}"
            name = candidate
        seen.setdefault(name, 0)
        out.append(name)
    return out


# --- per-type plans ---------------------------------------------------------------------------
def _numeric_plan(column: str, col: pd.Series, imputer: dict[str, Any]):
    strategy = imputer.get("strategy", "mean")
    had_missing = bool(np.isnan(_to_float(col.to_frame())).any())
    kwargs: dict[str, Any] = {"strategy": strategy, "add_indicator": had_missing,
                              "keep_empty_features": True}
    if strategy == "constant":
        kwargs["fill_value"] = imputer.get("fill_value", 0)
    pipeline = Pipeline([("cast", _function(_to_float)), ("impute", SimpleImputer(**kwargs))])
    imputer_name = _IMPUTER_NAMES[strategy]
    names = [f"{column}_{imputer_name}"] + ([f"{column}_ImputationMarker"] if had_missing else [])
    transformations = [imputer_name] + (["ImputationMarker"] if had_missing else [])
    return pipeline, (lambda fitted, names=tuple(names): list(names)), transformations


def _hash_bits(col: pd.Series, bits: int | None) -> int:
    if bits is not None:
        return int(bits)
    distinct = max(int(col.nunique(dropna=True)), 2)
    return min(max(math.ceil(math.log2(distinct)), HASH_MIN_BITS), HASH_MAX_BITS)


def _categorical_plan(column: str, col: pd.Series, encoder: str, imputer: dict[str, Any],
                      bits: int | None):
    strategy = imputer.get("strategy", "most_frequent")
    kwargs: dict[str, Any] = {"strategy": strategy, "keep_empty_features": True}
    if strategy == "constant":
        fill = imputer.get("fill_value", "missing")
        kwargs["fill_value"] = _category_value(fill) if fill is not None else "missing"
    steps: list[tuple[str, Any]] = [("cast", _function(_category_strings)),
                                    ("impute", SimpleImputer(**kwargs))]
    transformations = [_CAT_IMPUTER_NAMES[strategy], "StringCast", encoder]
    if encoder == "OneHotEncoder":
        steps.append(("encode", OneHotEncoder(handle_unknown="ignore", sparse_output=False,
                                              max_categories=ONEHOT_MAX_CATEGORIES,
                                              dtype=np.float64)))

        def names(fitted: Pipeline, column: str = column) -> list[str]:
            labels = fitted.named_steps["encode"].get_feature_names_out(["x"])
            return [f"{column}_OneHotEncoder_{label[2:]}" for label in labels]
    elif encoder == "HashOneHotEncoder":
        n_features = 2 ** _hash_bits(col, bits)
        steps += [("tokens", _function(_hash_tokens)),
                  ("hash", FeatureHasher(n_features=n_features, input_type="string",
                                         alternate_sign=False))]

        def names(fitted: Pipeline, column: str = column, n: int = n_features) -> list[str]:
            return [f"{column}_HashOneHotEncoder_{i}" for i in range(n)]
    else:  # LabelEncoder: integer codes, -1 for categories not seen in training
        steps.append(("encode", OrdinalEncoder(handle_unknown="use_encoded_value",
                                               unknown_value=-1, dtype=np.float64)))

        def names(fitted: Pipeline, column: str = column) -> list[str]:
            return [f"{column}_LabelEncoder"]
    return Pipeline(steps), names, transformations


def _text_plan(column: str, col: pd.Series, blocked: set[str], tfidf: dict[str, Any],
               bits: int | None):
    params: dict[str, Any] = {"ngram_range": TEXT_NGRAM_RANGE, "max_features": TEXT_MAX_FEATURES}
    params.update(tfidf)
    if "ngram_range" in params:
        params["ngram_range"] = tuple(params["ngram_range"])
    analyzer = TfidfVectorizer(**params).build_analyzer()
    if not any(analyzer(str(v)) for v in _distinct_sample(col)):
        return None  # no words at all: nothing to vectorize
    cast = ("cast", _function(_text_values))
    if "TfIdf" not in blocked:
        vectorizer, name = TfidfVectorizer(**params), "TfIdf"
    elif "CountVectorizer" not in blocked:
        counts = {k: v for k, v in params.items()
                  if k not in ("norm", "use_idf", "smooth_idf", "sublinear_tf")}
        vectorizer, name = CountVectorizer(**counts), "CountVectorizer"
    elif "HashOneHotEncoder" not in blocked:
        n_features = 2 ** _hash_bits(col, bits)
        vectorizer = HashingVectorizer(n_features=n_features, alternate_sign=False,
                                       ngram_range=params["ngram_range"])

        def hashed(fitted: Pipeline, column: str = column, n: int = n_features) -> list[str]:
            return [f"{column}_HashOneHotEncoder_{i}" for i in range(n)]
        return Pipeline([cast, ("vectorize", vectorizer)]), hashed, ["StringCast",
                                                                     "HashOneHotEncoder"]
    else:
        return None

    def names(fitted: Pipeline, column: str = column, name: str = name) -> list[str]:
        terms = fitted.named_steps["vectorize"].get_feature_names_out()
        return [f"{column}_{name}_{term}" for term in terms]
    return Pipeline([cast, ("vectorize", vectorizer)]), names, ["StringCast", name]


def _datetime_plan(column: str, col: pd.Series):
    fmt = None
    if not pd.api.types.is_datetime64_any_dtype(col):
        fmt = _guess_date_format(_distinct_sample(col))
    dates = _parse_dates(col.reset_index(drop=True), fmt)
    if dates.notna().sum() == 0:
        return None
    parts = tuple(p for p in DATE_PARTS
                  if _date_part_values(dates, p).nunique(dropna=True) > 1)
    if not parts:
        return None
    pipeline = Pipeline([
        ("parts", _function(_datetime_parts, parts=parts, fmt=fmt)),
        ("impute", SimpleImputer(strategy="most_frequent", keep_empty_features=True)),
    ])
    names = [f"{column}_DateTimeTransformer_{p}" for p in parts]
    return pipeline, (lambda fitted, names=tuple(names): list(names)), ["DateTimeTransformer"]
