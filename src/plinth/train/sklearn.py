"""The scikit-learn estimator."""

from __future__ import annotations

from plinth.train.estimator import Estimator

__all__ = ["SKLearn"]


class SKLearn(Estimator):
    """An :class:`Estimator` whose environment includes scikit-learn."""

    _framework_packages = ("scikit-learn",)
