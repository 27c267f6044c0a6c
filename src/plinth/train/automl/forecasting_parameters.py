"""``ForecastingParameters``: the settings of an AutoML forecasting task (azureml's
``azureml.automl.core.forecasting_parameters.ForecastingParameters``)."""

from __future__ import annotations

from typing import Any

from plinth.exceptions import UserErrorException

__all__ = ["ForecastingParameters"]

#: What the 'auto' settings resolve to. azureml derives them from the data (autocorrelation,
#: series lengths); Plinth uses these fixed values.
_AUTO_HORIZON = 1
_AUTO_LAGS = [1]
_AUTO_WINDOW = 3

#: Older names azureml still took as keywords, and the argument each became.
_ALIASES = {"grain_column_names": "time_series_id_column_names",
            "max_horizon": "forecast_horizon",
            "country_or_region": "country_or_region_for_holidays"}


def _not_offered(name: str, value: Any, what: str,
                 default: Any = None) -> UserErrorException:
    return UserErrorException(
        f"{name}={value!r}: Plinth does not offer {what} yet; leave {name} out "
        f"(its default, {default!r}).")


def _is_auto(value: Any) -> bool:
    return isinstance(value, str) and value.lower() == "auto"


def _whole(value: Any) -> bool:
    import numbers

    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


class ForecastingParameters:
    """The settings of a forecasting task.

    - ``time_column_name``: the column of times (required).
    - ``forecast_horizon``: how many periods ahead to forecast (a whole number; ``'auto'``
      means 1 in Plinth).
    - ``time_series_id_column_names``: the column(s) telling the series apart (None: the data
      is one series). ``grain_column_names`` is accepted as its older name.
    - ``target_lags``: the lags of the target used as features: an int, a list of ints, or
      ``'auto'`` (``[1]`` in Plinth); None (the default) makes none.
    - ``target_rolling_window_size``: a rolling window (at least 2 periods) whose mean, min
      and max of the target become features; ``'auto'`` means 3 in Plinth; None makes none.
    - ``freq``: the data's frequency as a pandas alias (None: inferred from the times). The
      data must already be on that grid: Plinth does not aggregate to it.
    - ``seasonality``: the season length in periods, or ``'auto'`` (from the frequency:
      daily 7, hourly 24, weekly 52, monthly 12, quarterly 4, else 1).
    - ``cv_step_size``: the periods between rolling-origin folds (``'auto'``: the horizon).
    - ``short_series_handling_configuration``: ``'auto'`` or None; in Plinth a series too
      short for the horizon, lags and folds is reported as an error naming it, with either.
    - ``validate_parameters``: check the arguments now (they are always checked before use).

    Settings Plinth does not offer (holidays, STL decomposition, feature lags, target
    aggregation, padding or dropping short series, features unknown at forecast time,
    group columns) raise UserErrorException when set, rather than being ignored.
    """

    def __init__(self, time_column_name: str | None = None,
                 forecast_horizon: int | str = 1,
                 time_series_id_column_names: str | list[str] | None = None,
                 group_column_names: str | list[str] | None = None,
                 target_lags: int | list[int] | str | None = None,
                 feature_lags: str | None = None,
                 target_rolling_window_size: int | str | None = None,
                 holiday_country: str | None = None,
                 seasonality: int | str | None = "auto",
                 country_or_region_for_holidays: str | None = None,
                 use_stl: str | None = None,
                 short_series_handling: bool = True,
                 short_series_handling_configuration: str | None = "auto",
                 freq: str | None = None,
                 target_aggregation_function: str | None = None,
                 cv_step_size: int | str | None = "auto",
                 features_unknown_at_forecast_time: str | list[str] | None = None,
                 validate_parameters: bool = True,
                 **kwargs: Any):
        given = {"time_series_id_column_names": time_series_id_column_names,
                 "forecast_horizon": forecast_horizon,
                 "country_or_region_for_holidays": country_or_region_for_holidays}
        defaults = {"forecast_horizon": 1}
        for old, name in _ALIASES.items():
            if old in kwargs:
                value = kwargs.pop(old)
                if given[name] != defaults.get(name) and given[name] != value:
                    raise UserErrorException(
                        f"Give {name} only; {old} is its older name and was also given.")
                given[name] = value
        time_series_id_column_names = given["time_series_id_column_names"]
        forecast_horizon = given["forecast_horizon"]
        country_or_region_for_holidays = given["country_or_region_for_holidays"]
        if kwargs:
            raise UserErrorException(
                f"Unknown ForecastingParameters argument(s): {', '.join(sorted(kwargs))}.")
        if holiday_country is not None:
            raise _not_offered("holiday_country", holiday_country, "holiday features")
        self.time_column_name = time_column_name
        self.forecast_horizon = forecast_horizon
        self.time_series_id_column_names = time_series_id_column_names
        self.group_column_names = group_column_names
        self.target_lags = target_lags
        self.feature_lags = feature_lags
        self.target_rolling_window_size = target_rolling_window_size
        self.seasonality = seasonality
        self.country_or_region_for_holidays = country_or_region_for_holidays
        self.use_stl = use_stl
        if not isinstance(short_series_handling, bool):
            raise UserErrorException(
                f"short_series_handling={short_series_handling!r}: use True or False.")
        self.short_series_handling_configuration = (
            short_series_handling_configuration if short_series_handling else None)
        self.freq = freq
        self.target_aggregation_function = target_aggregation_function
        self.cv_step_size = cv_step_size
        self.features_unknown_at_forecast_time = features_unknown_at_forecast_time
        self._check_offered()
        if validate_parameters:
            self.validate_parameters()

    # ------------------------------------------------------------------ azureml's API

    @property
    def holiday_country(self) -> str | None:
        """The older name of ``country_or_region_for_holidays``."""
        return self.country_or_region_for_holidays

    @property
    def formatted_time_series_id_column_names(self) -> list[str] | None:
        """``time_series_id_column_names`` as a list (None when not set)."""
        ids = self.time_series_id_column_names
        if ids is None:
            return None
        return [ids] if isinstance(ids, str) else list(ids)

    def validate_parameters(self) -> None:
        """Check every setting; raises UserErrorException naming the one at fault."""
        self._spec()

    @staticmethod
    def from_parameters_dict(parameter_dict: dict[str, Any], validate_params: bool = True,
                             show_deprecate_warnings: bool = True) -> ForecastingParameters:
        """ForecastingParameters from a settings dict (e.g. AutoML settings): its forecasting
        keys are taken, the others left alone."""
        import inspect

        known = set(inspect.signature(ForecastingParameters.__init__).parameters) - {
            "self", "kwargs", "validate_parameters"}
        chosen = {k: v for k, v in parameter_dict.items() if k in known or k in _ALIASES}
        return ForecastingParameters(**chosen, validate_parameters=validate_params)

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v!r}" for k, v in self._settings().items())
        return f"ForecastingParameters({shown})"

    def _settings(self) -> dict[str, Any]:
        return {
            "time_column_name": self.time_column_name,
            "forecast_horizon": self.forecast_horizon,
            "time_series_id_column_names": self.time_series_id_column_names,
            "target_lags": self.target_lags,
            "target_rolling_window_size": self.target_rolling_window_size,
            "freq": self.freq,
            "seasonality": self.seasonality,
            "cv_step_size": self.cv_step_size,
            "short_series_handling_configuration": self.short_series_handling_configuration,
        }

    # ------------------------------------------------------------------ checks

    def _check_offered(self) -> None:
        if self.group_column_names is not None:
            raise UserErrorException(
                f"group_column_names={self.group_column_names!r}: Plinth does not offer "
                "grouped (many-models) forecasting yet; to forecast one series per group, "
                "name the columns in time_series_id_column_names instead.")
        if self.feature_lags not in (None, "none", "None"):
            raise _not_offered("feature_lags", self.feature_lags, "lags of the feature columns")
        if self.country_or_region_for_holidays is not None:
            raise _not_offered("country_or_region_for_holidays",
                               self.country_or_region_for_holidays, "holiday features")
        if self.use_stl is not None:
            if self.use_stl not in ("season", "season_trend"):
                raise UserErrorException(
                    f"use_stl={self.use_stl!r}: azureml's values are None, 'season' and "
                    "'season_trend'; Plinth offers only None.")
            raise _not_offered("use_stl", self.use_stl, "STL decomposition features")
        if self.target_aggregation_function is not None:
            if self.target_aggregation_function not in ("sum", "max", "min", "mean"):
                raise UserErrorException(
                    f"target_aggregation_function={self.target_aggregation_function!r}: "
                    "azureml's values are 'sum', 'max', 'min' and 'mean'; Plinth offers only "
                    "None (give data already on one frequency).")
            raise _not_offered("target_aggregation_function", self.target_aggregation_function,
                               "aggregating the data to a frequency")
        handling = self.short_series_handling_configuration
        if handling not in ("auto", None):
            if handling in ("pad", "drop"):
                raise _not_offered("short_series_handling_configuration", handling,
                                   f"{'padding' if handling == 'pad' else 'dropping'} short "
                                   "series (a short series is reported as an error)", "auto")
            raise UserErrorException(
                f"short_series_handling_configuration={handling!r}: use 'auto' or None "
                "('pad' and 'drop' are not offered by Plinth yet).")
        if self.features_unknown_at_forecast_time is not None:
            raise _not_offered("features_unknown_at_forecast_time",
                               self.features_unknown_at_forecast_time,
                               "features unknown at forecast time")

    def _spec(self) -> dict[str, Any]:
        """The settings as plain JSON values, for the engine (``plinth._automl.timeseries``):
        ``time_column_name``, ``forecast_horizon`` (int), ``time_series_id_column_names``
        (list), ``target_lags`` (sorted ints, [] for none), ``target_rolling_window_size``
        (int or None), ``freq`` (a pandas alias or None), ``seasonality`` (int or 'auto') and
        ``cv_step_size`` (int, or None for the horizon)."""
        self._check_offered()
        time = self.time_column_name
        if not isinstance(time, str) or not time:
            raise UserErrorException(
                f"time_column_name={time!r}: forecasting needs the name of the column holding "
                "the times, e.g. ForecastingParameters(time_column_name='date').")
        return {
            "time_column_name": time,
            "forecast_horizon": self._horizon(),
            "time_series_id_column_names": self._ids(time),
            "target_lags": self._lags(),
            "target_rolling_window_size": self._window(),
            "freq": self._freq(),
            "seasonality": self._seasonality(),
            "cv_step_size": self._step(),
        }

    def _horizon(self) -> int:
        value = self.forecast_horizon
        if _is_auto(value):
            return _AUTO_HORIZON
        if not _whole(value) or value < 1:
            raise UserErrorException(
                f"forecast_horizon={value!r}: use a whole number of periods of at least 1 "
                "(or 'auto').")
        return int(value)

    def _ids(self, time: str) -> list[str]:
        value = self.time_series_id_column_names
        if value is None:
            return []
        ids = [value] if isinstance(value, str) else value
        if not isinstance(ids, (list, tuple)) or not all(
                isinstance(c, str) and c for c in ids):
            raise UserErrorException(
                f"time_series_id_column_names={value!r}: give a column name or a list of "
                "column names.")
        if len(set(ids)) != len(ids):
            raise UserErrorException(
                f"time_series_id_column_names={value!r} names a column more than once.")
        if time in ids:
            raise UserErrorException(
                f"time_series_id_column_names={value!r} includes the time column {time!r}; "
                "leave it out.")
        return list(ids)

    def _lags(self) -> list[int]:
        value = self.target_lags
        if value is None:
            return []
        if _is_auto(value):
            return list(_AUTO_LAGS)
        lags = [value] if _whole(value) else value
        if not isinstance(lags, str) and hasattr(lags, "__iter__"):
            lags = list(lags)
        if not isinstance(lags, list) or not all(_whole(k) and k >= 1 for k in lags):
            raise UserErrorException(
                f"target_lags={value!r}: use a whole number of periods of at least 1, a list "
                "of them, 'auto', or None for no lags.")
        return sorted({int(k) for k in lags})

    def _window(self) -> int | None:
        value = self.target_rolling_window_size
        if value is None:
            return None
        if _is_auto(value):
            return _AUTO_WINDOW
        if not _whole(value) or value < 2:
            raise UserErrorException(
                f"target_rolling_window_size={value!r}: use a whole number of periods of at "
                "least 2, 'auto', or None for no rolling window.")
        return int(value)

    def _freq(self) -> str | None:
        if self.freq is None:
            return None
        if not isinstance(self.freq, str):
            raise UserErrorException(
                f"freq={self.freq!r}: give a pandas frequency alias such as 'D', 'h' or 'MS'.")
        from plinth._automl.timeseries import normalize_freq

        return normalize_freq(self.freq)

    def _seasonality(self) -> int | str:
        value = self.seasonality
        if value is None or _is_auto(value):
            return "auto"
        if not _whole(value) or value < 1:
            raise UserErrorException(
                f"seasonality={value!r}: use a whole number of periods of at least 1 "
                "(1: no seasonality) or 'auto'.")
        return int(value)

    def _step(self) -> int | None:
        value = self.cv_step_size
        if value is None or _is_auto(value):
            return None
        if not _whole(value) or value < 1:
            raise UserErrorException(
                f"cv_step_size={value!r}: use a whole number of periods of at least 1, or "
                "'auto' (the forecast horizon).")
        return int(value)
