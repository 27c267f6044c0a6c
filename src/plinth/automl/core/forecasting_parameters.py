"""``from plinth.automl.core.forecasting_parameters import ForecastingParameters``."""

from plinth.train.automl.forecasting_parameters import ForecastingParameters

__all__ = ["ForecastingParameters"]
