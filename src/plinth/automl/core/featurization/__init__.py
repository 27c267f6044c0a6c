"""``from plinth.automl.core.featurization import FeaturizationConfig``."""

from plinth.train.automl.featurization import FeaturizationConfig

__all__ = ["FeaturizationConfig"]
