"""Automated machine learning: ``experiment.submit(AutoMLConfig(...))`` tries featurization
and model combinations as child runs and hands back the best fitted pipeline."""

from plinth.train.automl.automlconfig import AutoMLConfig, get_primary_metrics
from plinth.train.automl.featurization import FeaturizationConfig
from plinth.train.automl.forecasting_parameters import ForecastingParameters
from plinth.train.automl.run import AutoMLRun

__all__ = ["AutoMLConfig", "AutoMLRun", "FeaturizationConfig", "ForecastingParameters",
           "get_primary_metrics"]
