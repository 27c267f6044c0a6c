"""``from plinth.train.automl.utilities import get_primary_metrics``."""

from plinth.train.automl.automlconfig import get_primary_metrics

__all__ = ["get_primary_metrics"]
