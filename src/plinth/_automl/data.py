"""An AutoML experiment's data as its children see it: features, label codes, weights, and
the validation scheme every child shares, so that their metrics are comparable."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from plinth.exceptions import UserErrorException

__all__ = ["Data", "Folds", "prepare", "make_folds", "SPLIT_SEED"]

#: Every child splits the rows the same way.
SPLIT_SEED = 42
#: azureml's default validation by training-data size.
SMALL_ROWS, LARGE_ROWS = 1_000, 20_000


@dataclass
class Data:
    X: pd.DataFrame
    y: np.ndarray  # label codes for classification, floats otherwise
    w: np.ndarray | None
    classes: list[Any] | None = None  # the original labels, by code

    @property
    def n_rows(self) -> int:
        return len(self.X)


@dataclass
class Folds:
    """How metrics are measured: ``evaluation`` is the data predicted (the training data for
    cross-validation and a split, the validation data otherwise); ``fold[i]`` is the fold
    that predicts its row i (-1: none). ``splits`` are (fit rows, predicted rows)."""

    evaluation: Data
    fold: np.ndarray
    splits: list[tuple[np.ndarray, np.ndarray]]
    description: str
    separate: bool = False  # the evaluation rows are validation_data, not training rows
    info: dict[str, Any] = field(default_factory=dict)


def prepare(frame: pd.DataFrame, settings: dict[str, Any], argument: str,
            classes: list[Any] | None = None) -> Data:
    """Split a frame into features, label and weights, as the settings say."""
    label, weight = settings["label_column_name"], settings.get("weight_column_name")
    for column in (label, weight):
        if column is not None and column not in frame.columns:
            raise UserErrorException(
                f"{argument} has no column {column!r} (the "
                f"{'label' if column == label else 'weight'} column); its columns are "
                f"{', '.join(map(str, frame.columns))}.")
    if settings.get("exclude_nan_labels", True):
        frame = frame[frame[label].notna()]
    elif frame[label].isna().any():
        raise UserErrorException(
            f"{argument}: the label column {label!r} has missing values; set "
            "exclude_nan_labels=True to leave those rows out.")
    frame = frame.reset_index(drop=True)
    if len(frame) == 0:
        raise UserErrorException(f"{argument} has no rows with a label in {label!r}.")
    w = None
    if weight is not None:
        w = pd.to_numeric(frame[weight], errors="coerce").to_numpy(dtype=float)
        if np.isnan(w).any() or (w < 0).any():
            raise UserErrorException(
                f"weight_column_name={weight!r} must hold non-negative numbers in every row.")
    X = frame.drop(columns=[c for c in (label, weight) if c is not None])
    if settings["task"] == "classification":
        values = frame[label].to_numpy()
        if classes is None:
            classes = sorted(pd.unique(values), key=_sort_key)
            if len(classes) < 2:
                raise UserErrorException(
                    f"{argument}: the label column {label!r} has one class only "
                    f"({classes[0]!r}); classification needs at least two.")
        lookup = {value: code for code, value in enumerate(classes)}
        unknown = [v for v in pd.unique(values) if v not in lookup]
        if unknown:
            raise UserErrorException(
                f"{argument} has labels the training data does not: {unknown[:5]}.")
        y = np.array([lookup[v] for v in values], dtype=int)
        return Data(X, y, w, list(classes))
    y = pd.to_numeric(frame[label], errors="coerce").to_numpy(dtype=float)
    if np.isnan(y).any():
        raise UserErrorException(
            f"{argument}: the label column {label!r} must be numeric for task="
            f"{settings['task']!r}.")
    return Data(X, y, w)


def make_folds(data: Data, settings: dict[str, Any], validation: Data | None) -> Folds:
    """The validation scheme: validation_data, n_cross_validations folds, a validation_size
    split, or azureml's default for the data's size."""
    n = data.n_rows
    if validation is not None:
        return Folds(validation, np.zeros(validation.n_rows, dtype=int),
                     [(np.arange(n), np.arange(validation.n_rows))],
                     f"validation_data ({validation.n_rows} rows)", separate=True)
    folds = settings.get("n_cross_validations")
    size = settings.get("validation_size")
    if settings["task"] == "forecasting":
        from plinth._automl.timeseries import rolling_origin_splits

        count = folds or 3
        splits = rolling_origin_splits(data.X, settings["forecasting"], count)
        return _from_splits(data, splits, f"{count} rolling-origin cross-validation folds")
    if folds is None and size is None:
        if n < SMALL_ROWS:
            folds = 10
        elif n < LARGE_ROWS:
            folds = 3
        else:
            size = 0.1
    if folds is not None:
        if folds > n:
            raise UserErrorException(
                f"n_cross_validations={folds} is more than the {n} training rows.")
        splitter = _kfold(data, folds)
        splits = [(train, valid) for train, valid in splitter.split(data.X, data.y)]
        return _from_splits(data, splits, f"{folds}-fold cross-validation")
    from sklearn.model_selection import train_test_split

    stratify = data.y if _stratifiable(data, 2) else None
    train, valid = train_test_split(np.arange(n), test_size=size, random_state=SPLIT_SEED,
                                    stratify=stratify)
    return _from_splits(data, [(np.sort(train), np.sort(valid))],
                        f"train/validation split (validation_size={size:g})")


def _from_splits(data: Data, splits: list[tuple[np.ndarray, np.ndarray]],
                 description: str) -> Folds:
    fold = np.full(data.n_rows, -1, dtype=int)
    for index, (_, valid) in enumerate(splits):
        fold[valid] = index
    return Folds(data, fold, splits, description)


def _kfold(data: Data, folds: int) -> Any:
    from sklearn.model_selection import KFold, StratifiedKFold

    if _stratifiable(data, folds):
        return StratifiedKFold(folds, shuffle=True, random_state=SPLIT_SEED)
    return KFold(folds, shuffle=True, random_state=SPLIT_SEED)


def _stratifiable(data: Data, folds: int) -> bool:
    if data.classes is None:
        return False
    return int(np.bincount(data.y).min()) >= folds


def _sort_key(value: Any) -> tuple[str, Any]:
    """Labels of mixed types still sort: by type name, then value."""
    return (type(value).__name__, value)
