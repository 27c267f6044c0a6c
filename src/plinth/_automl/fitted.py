"""The fitted model AutoML hands back: a scikit-learn ``Pipeline`` that answers in the
training data's own labels (its models learn label codes, which every library accepts)."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.pipeline import Pipeline

__all__ = ["LabelDecodingPipeline", "decoding"]


class LabelDecodingPipeline(Pipeline):
    """A classification pipeline whose ``predict`` returns the original labels and whose
    ``classes_`` are those labels, in the column order of ``predict_proba``."""

    y_classes_: np.ndarray

    @property
    def classes_(self) -> np.ndarray:
        return self.y_classes_

    def predict(self, X: Any, **params: Any) -> np.ndarray:
        codes = np.asarray(super().predict(X, **params)).astype(int)
        return self.y_classes_[codes]


def decoding(steps: list[tuple[str, Any]], classes: list[Any]) -> LabelDecodingPipeline:
    pipeline = LabelDecodingPipeline(steps)
    pipeline.y_classes_ = np.asarray(classes, dtype=object if _mixed(classes) else None)
    return pipeline


def _mixed(classes: list[Any]) -> bool:
    return len({type(c) for c in classes}) > 1
