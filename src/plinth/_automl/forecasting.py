"""Forecasting models: ``TimeSeriesTransformer`` (calendar, series-id, target-lag and
rolling-window features for a regressor), the naive baselines (``NaiveForecaster``) and
``ForecastingPipeline``, which fits either and forecasts recursively. Series, frequencies and
the spec come from ``plinth._automl.timeseries``.

Conventions:

- Within a series, gaps in the times are allowed and the target is carried forward over them
  (azureml's forward-fill imputation) for lags, windows and the seasonal baselines. Rows whose
  target is missing are left out of training.
- Only the lags that are asked for are made: ``target_lags=[]`` means no lag features.
  A rolling window of size ``w`` gives the mean, min and max of the ``w`` values before each
  time. Training uses the rows that have every lag and a full window behind them.
- Prediction is recursive: step 1 of each series is predicted from its training history and
  fed back as the lag/window input of step 2, and so on. Steps beyond ``forecast_horizon``
  are allowed but warn (errors compound with every recursive step).
- Times to predict lie on the series' grid. Times after its last training time are
  forecast recursively; missing intermediate steps are predicted internally (their exogenous
  values are carried forward from the nearest given step). Times within the training period
  get in-sample, one-step-ahead predictions from the actual history (as azureml's forecaster
  gives for training-period rows); times before a series' first training time are refused.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, RegressorMixin, clone

from plinth._automl.timeseries import (
    OffGrid,
    Parsed,
    Spec,
    epoch_nanos,
    freq_offset,
    grid_steps,
    is_subdaily,
    series_label,
    times_after,
)
from plinth.exceptions import UserErrorException

__all__ = [
    "NAIVE_MODELS",
    "PREDICTION_COLUMN",
    "ForecastingPipeline",
    "NaiveForecaster",
    "TimeSeriesTransformer",
]

#: The baselines that need no regressor, as azureml names them.
NAIVE_MODELS = ("Naive", "SeasonalNaive", "Average", "SeasonalAverage")
#: The column ``ForecastingPipeline.forecast`` puts its predictions in (azureml's name).
PREDICTION_COLUMN = "_automl_target_col"


# --------------------------------------------------------------------------- features


class TimeSeriesTransformer(BaseEstimator):
    """Turns time-series rows into regressor features: calendar parts of the time (year,
    month, day, day of week, day of year; hour and minute for sub-daily data), the series id
    as an integer code (when there are id columns), the target lags, the rolling window's
    mean/min/max, and the exogenous columns (through ``featurizer``, or as numbers and
    category codes without one). Keeps each series' last target values for prediction."""

    def __init__(self, spec: dict, featurizer: Any = None):
        self.spec = spec
        self.featurizer = featurizer

    # ---- fitting

    def fit(self, X: pd.DataFrame, y: Any) -> TimeSeriesTransformer:
        self._fit(X, y)
        return self

    def _fit(self, X: pd.DataFrame, y: Any, *, features: bool = True):
        """Fit; returns the training rows' (features, target), or (None, None) when
        ``features`` is False (the naive baselines), and each series' target on its grid
        (NaN in gaps)."""
        spec = Spec(self.spec)
        parsed = Parsed(X, spec)
        target = _target(y, len(X))
        keep = ~np.isnan(target)
        if not keep.all():
            X, target = X.iloc[np.flatnonzero(keep)], target[keep]
            if len(X) == 0:
                raise UserErrorException("y has no values (all missing); nothing to train on.")
            parsed = Parsed(X, spec, freq=parsed.freq)
        grid = parsed.grid(spec)
        self.time_column_ = spec.time
        self.id_columns_ = list(spec.ids)
        self.freq_ = parsed.freq
        self.seasonality_ = spec.season(parsed.freq)
        self.horizon_ = spec.horizon
        self.lags_ = list(spec.lags)
        self.window_ = spec.window
        self.subdaily_ = is_subdaily(parsed.offset)
        history = spec.history if features else 0
        self.series_ = {}
        values: dict[tuple, np.ndarray] = {}
        train_rows, train_lags, train_windows, train_codes = [], [], [], []
        for code, (key, rows) in enumerate(parsed.series.items()):
            steps = grid[key]
            if steps[-1] < history:
                raise UserErrorException(
                    f"{series_label(spec.ids, key)} has {len(rows)} row(s) with a target, spanning "
                    f"{steps[-1] + 1} period(s); target lags or a rolling window reaching "
                    f"{history} periods back need at least {history + 1}.")
            series = np.full(int(steps[-1]) + 1, np.nan)
            series[steps] = target[rows]
            filled = pd.Series(series).ffill().to_numpy()
            values[key] = series
            self.series_[key] = {"code": code, "first": parsed.times[rows[0]],
                                 "last": parsed.times[rows[-1]], "history": filled}
            if not features:
                continue
            usable = steps >= history
            at = steps[usable]
            train_rows.append(rows[usable])
            train_codes.append(np.full(len(at), code))
            train_lags.append(np.column_stack([filled[at - k] for k in self.lags_])
                              if self.lags_ else np.zeros((len(at), 0)))
            if self.window_:
                windows = np.lib.stride_tricks.sliding_window_view(filled, self.window_)
                train_windows.append(_window_stats(windows[at - self.window_]))
            else:
                train_windows.append(np.zeros((len(at), 0)))
        self.exogenous_columns_ = [c for c in X.columns if c not in (spec.time, *spec.ids)]
        self.featurizer_ = None
        self.encodings_ = {}
        if not features:
            self.feature_names_ = []
            return None, None, values
        rows = np.concatenate(train_rows)
        exogenous = X.iloc[rows][self.exogenous_columns_]
        if self.exogenous_columns_:
            if self.featurizer is not None:
                self.featurizer_ = clone(self.featurizer, safe=False)
                self.featurizer_.fit(exogenous)
            else:
                self.encodings_ = _learn_encodings(exogenous)
        matrix = self._features(parsed.times[rows], np.concatenate(train_codes),
                                np.vstack(train_lags), np.vstack(train_windows), exogenous)
        self.feature_names_ = self._names(matrix.shape[1])
        return matrix, target[rows], values

    # ---- feature assembly

    def _calendar(self, times: pd.DatetimeIndex) -> list[np.ndarray]:
        parts = [times.year, times.month, times.day, times.day_of_week, times.day_of_year]
        if self.subdaily_:
            parts += [times.hour, times.minute]
        return [np.asarray(p, dtype=float) for p in parts]

    def _features(self, times, codes, lags, windows, exogenous) -> np.ndarray:
        columns = self._calendar(pd.DatetimeIndex(times))
        if self.id_columns_:
            columns.append(np.asarray(codes, dtype=float))
        blocks = [np.column_stack(columns), np.asarray(lags, dtype=float),
                  np.asarray(windows, dtype=float)]
        if self.exogenous_columns_:
            blocks.append(self._exogenous(exogenous))
        return np.hstack(blocks)

    def _exogenous(self, frame: pd.DataFrame) -> np.ndarray:
        if self.featurizer_ is not None:
            out = self.featurizer_.transform(frame)
            if hasattr(out, "toarray"):
                out = out.toarray()
            out = np.asarray(out, dtype=float)
            return out if out.ndim == 2 else out.reshape(len(frame), -1)
        return _apply_encodings(frame, self.encodings_)

    def _names(self, width: int) -> list[str]:
        names = ["year", "month", "day", "dayofweek", "dayofyear"]
        if self.subdaily_:
            names += ["hour", "minute"]
        if self.id_columns_:
            names.append("_automl_series_id")
        names += [f"_automl_target_col_lag{k}" for k in self.lags_]
        if self.window_:
            names += [f"_automl_target_col_{stat}_window{self.window_}"
                      for stat in ("mean", "min", "max")]
        rest = width - len(names)
        if rest > 0:
            exo = None
            getter = getattr(self.featurizer_, "get_feature_names_out", None)
            if getter is not None:
                try:
                    exo = [str(n) for n in getter()]
                except Exception:  # noqa: BLE001 - names are only for display
                    exo = None
            if exo is None or len(exo) != rest:
                exo = (list(self.exogenous_columns_) if self.featurizer_ is None
                       and len(self.exogenous_columns_) == rest
                       else [f"feature_{i}" for i in range(rest)])
            names += exo
        return names

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.asarray(self.feature_names_, dtype=object)

    # ---- the future

    def _future(self, X_future: pd.DataFrame) -> tuple[list[tuple], np.ndarray,
                                                        pd.DatetimeIndex]:
        """Each row's series key, its step after that series' training end (0 or less: a time
        in the training period) and its time."""
        spec = Spec(self.spec)
        parsed = Parsed(X_future, spec, freq=self.freq_, what="X_future")
        keys: list[tuple] = [()] * len(X_future)
        steps = np.zeros(len(X_future), dtype=np.int64)
        for key, rows in parsed.series.items():
            state = self.series_.get(key)
            if state is None:
                known = len(self.series_)
                raise UserErrorException(
                    f"X_future has {series_label(spec.ids, key)}, which was not in the training "
                    f"data ({known} series); Plinth can only forecast the series it was trained "
                    "on.")
            try:
                ahead = grid_steps(parsed.times[rows], state["last"], parsed.offset)
            except OffGrid as off:
                raise UserErrorException(
                    f"X_future: {series_label(spec.ids, key)} has time {off.when} in column "
                    f"{spec.time!r}, which is not on the training data's {self.freq_!r} grid "
                    f"(last training time {state['last']}).") from None
            before = ahead < 1 - len(state["history"])
            if before.any():
                when = parsed.times[rows[np.flatnonzero(before)[0]]]
                raise UserErrorException(
                    f"X_future: {series_label(spec.ids, key)} has time {when}, before the start of "
                    f"its training data ({state['first']}); Plinth predicts the training "
                    "period and the times after it only.")
            steps[rows] = ahead
            for row in rows:
                keys[row] = key
        return keys, steps, parsed.times

    def _padded(self, key: tuple) -> tuple[np.ndarray, int]:
        """The series' (filled) target history with its first value repeated in front, enough
        for every lag and window; and how many values were put in front."""
        history = self.series_[key]["history"]
        pad = max(self.lags_ + [self.window_ or 0, 1])
        return np.concatenate([np.full(pad, history[0]), history]), pad

    def _in_sample(self, X: pd.DataFrame, keys: list[tuple], steps: np.ndarray,
                   times: pd.DatetimeIndex) -> tuple[np.ndarray, ...]:
        """Features of rows in the training period, from the actual history before each
        (one step ahead; the first value stands in where the history is shorter)."""
        lags = np.zeros((len(keys), len(self.lags_)))
        windows = np.zeros((len(keys), 3 if self.window_ else 0))
        codes = np.zeros(len(keys), dtype=np.int64)
        by_key: dict[tuple, list[int]] = {}
        for row, key in enumerate(keys):
            by_key.setdefault(key, []).append(row)
        for key, rows in by_key.items():
            padded, pad = self._padded(key)
            at = len(self.series_[key]["history"]) - 1 + steps[rows] + pad
            codes[rows] = self.series_[key]["code"]
            if self.lags_:
                lags[rows] = np.column_stack([padded[at - k] for k in self.lags_])
            if self.window_:
                view = np.lib.stride_tricks.sliding_window_view(padded, self.window_)
                windows[rows] = _window_stats(view[at - self.window_])
        exogenous = X[self.exogenous_columns_] if self.exogenous_columns_ else X.iloc[:, :0]
        return self._features(times, codes, lags, windows, exogenous)

    def _future_frame(self, X_future: pd.DataFrame, keys: list[tuple],
                      steps: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame]:
        """One row per (series, step) from 1 to the series' furthest step (series code, step,
        time), and each such row's exogenous values: those of ``X_future``'s row at that step,
        or for a step it does not give, of the nearest earlier (else later) given step."""
        missing = [c for c in self.exogenous_columns_ if c not in X_future.columns]
        if missing:
            raise UserErrorException(
                f"X_future lacks column(s) {missing} the model was trained with; give their "
                "values for the times to forecast.")
        given = pd.DataFrame({"code": [self.series_[k]["code"] for k in keys], "step": steps,
                              "row": np.arange(len(steps))})
        given = given.drop_duplicates(["code", "step"], keep="first")
        by_code = {state["code"]: key for key, state in self.series_.items()}
        parts = []
        for code, group in given.groupby("code", sort=True):
            furthest = int(group["step"].max())
            source = (group.set_index("step")["row"].reindex(range(1, furthest + 1))
                      .ffill().bfill().astype(np.int64))
            parts.append(pd.DataFrame({
                "code": code, "step": np.arange(1, furthest + 1), "row": source.to_numpy(),
                "time": times_after(self.series_[by_code[code]]["last"], furthest,
                                    freq_offset(self.freq_))}))
        frame = pd.concat(parts, ignore_index=True)
        exogenous = X_future.iloc[frame["row"].to_numpy()][self.exogenous_columns_]
        return frame, exogenous


def _window_stats(windows: np.ndarray) -> np.ndarray:
    return np.column_stack([windows.mean(axis=1), windows.min(axis=1), windows.max(axis=1)])


def _target(y: Any, rows: int) -> np.ndarray:
    if isinstance(y, pd.DataFrame):
        if y.shape[1] != 1:
            raise UserErrorException(f"y must be one column, got {y.shape[1]}.")
        y = y.iloc[:, 0]
    try:
        target = np.asarray(y, dtype=float).reshape(-1)
    except (TypeError, ValueError):
        raise UserErrorException(
            "Forecasting needs a numeric target; y has values that are not numbers.") from None
    if len(target) != rows:
        raise UserErrorException(f"X has {rows} rows but y has {len(target)}.")
    return target


def _learn_encodings(frame: pd.DataFrame) -> dict[str, tuple]:
    """Without a featurizer: numbers as they are (missing: the median), dates as seconds,
    anything else as integer codes (unseen or missing: -1)."""
    out: dict[str, tuple] = {}
    for column in frame.columns:
        values = frame[column]
        if pd.api.types.is_bool_dtype(values):
            out[column] = ("number", 0.0)
        elif pd.api.types.is_datetime64_any_dtype(values):
            seconds = _seconds(values)
            out[column] = ("datetime", float(np.nanmedian(seconds)) if
                           np.isfinite(seconds).any() else 0.0)
        elif pd.api.types.is_numeric_dtype(values):
            numbers = pd.to_numeric(values, errors="coerce").astype(float)
            median = numbers.median()
            out[column] = ("number", 0.0 if pd.isna(median) else float(median))
        else:
            seen = sorted({str(v) for v in values.dropna()})
            out[column] = ("category", {v: i for i, v in enumerate(seen)})
    return out


def _seconds(values: pd.Series) -> np.ndarray:
    times = pd.to_datetime(values)
    out = np.full(len(times), np.nan)
    ok = times.notna().to_numpy()
    out[ok] = epoch_nanos(pd.DatetimeIndex(times[ok])) / 1e9
    return out


def _apply_encodings(frame: pd.DataFrame, encodings: dict[str, tuple]) -> np.ndarray:
    columns = []
    for column, (kind, learned) in encodings.items():
        values = frame[column]
        if kind == "number":
            numbers = pd.to_numeric(values, errors="coerce").astype(float).to_numpy()
            columns.append(np.where(np.isnan(numbers), learned, numbers))
        elif kind == "datetime":
            seconds = _seconds(values)
            columns.append(np.where(np.isnan(seconds), learned, seconds))
        else:
            columns.append(np.asarray(
                [learned.get(str(v), -1) if not pd.isna(v) else -1 for v in values],
                dtype=float))
    return np.column_stack(columns) if columns else np.zeros((len(frame), 0))


# --------------------------------------------------------------------------- naive models


class NaiveForecaster(BaseEstimator):
    """azureml's baselines, per series: ``Naive`` repeats the last value, ``SeasonalNaive``
    the value one season before the forecast time, ``Average`` the mean of the series and
    ``SeasonalAverage`` the mean of the series' values at the same position in the season.
    ``seasonality`` is the season length in periods (1: no season, the seasonal baselines
    then equal the plain ones)."""

    def __init__(self, kind: str = "Naive", seasonality: int = 1):
        self.kind = kind
        self.seasonality = seasonality

    def fit(self, series: dict[tuple, np.ndarray]) -> NaiveForecaster:
        """``series``: each series' target on its grid, NaN in gaps."""
        if self.kind not in NAIVE_MODELS:
            raise UserErrorException(
                f"model={self.kind!r} is not a naive forecaster; use one of {NAIVE_MODELS}.")
        season = max(int(self.seasonality), 1)
        self.state_ = {}
        for key, values in series.items():
            filled = pd.Series(values).ffill().to_numpy()
            observed = values[~np.isnan(values)]
            mean = float(observed.mean())
            if self.kind == "Naive":
                state = float(filled[-1])
            elif self.kind == "SeasonalNaive":
                state = filled[-season:].copy()
            elif self.kind == "Average":
                state = mean
            else:
                # Means by position from the end: position p holds the grid points whose
                # distance to the last one is a multiple of the season plus p.
                n = len(values)
                sums, counts = np.zeros(season), np.zeros(season)
                distance = (n - 1 - np.arange(n)) % season
                ok = ~np.isnan(values)
                np.add.at(sums, distance[ok], values[ok])
                np.add.at(counts, distance[ok], 1)
                with np.errstate(invalid="ignore", divide="ignore"):
                    means = sums / counts
                state = np.where(counts > 0, means, mean)
            self.state_[key] = state
        self.seasonality_ = season
        return self

    def predict_steps(self, key: tuple, steps: np.ndarray) -> np.ndarray:
        """The forecasts ``steps`` periods after the series' last training time."""
        state = self.state_[key]
        steps = np.asarray(steps, dtype=np.int64)
        season = self.seasonality_
        if self.kind in ("Naive", "Average"):
            return np.full(len(steps), state, dtype=float)
        if self.kind == "SeasonalNaive":
            # The value at (last + h - season * ceil(h / season)), i.e. tail[(h - 1) % season];
            # a series shorter than a season repeats its last value where it has none.
            index = (steps - 1) % season - (season - len(state))
            return np.where(index >= 0, state[np.clip(index, 0, None)], state[-1]).astype(float)
        # SeasonalAverage: step h sits at distance (-h) mod season from the last point.
        return state[(-steps) % season].astype(float)

    def predict_in_sample(self, key: tuple, steps: np.ndarray,
                          history: np.ndarray) -> np.ndarray:
        """One-step-ahead predictions of training-period times (``steps`` <= 0 from the last
        training time) from the series' actual (filled) ``history``."""
        steps = np.asarray(steps, dtype=np.int64)
        at = len(history) - 1 + steps
        season = self.seasonality_
        if self.kind == "Average":
            return np.full(len(steps), self.state_[key], dtype=float)
        if self.kind == "SeasonalAverage":
            return self.state_[key][(-steps) % season].astype(float)
        back = season if self.kind == "SeasonalNaive" else 1
        source = np.where(at - back >= 0, at - back, np.maximum(at - 1, 0))
        return history[source].astype(float)


# --------------------------------------------------------------------------- the pipeline


class ForecastingPipeline(BaseEstimator, RegressorMixin):
    """A fitted forecaster: ``model`` is a naive baseline (``NAIVE_MODELS``) or the name of
    the regressor ``estimator`` (an unfitted sklearn regressor; LightGBM when None and
    ``model='LightGBM'``) trained on the ``TimeSeriesTransformer``'s features with
    ``featurizer`` (an unfitted DataTransformer, or None) for the exogenous columns.

    ``fit(X, y)`` takes the frame with the time and series id columns; ``predict(X_future)``
    forecasts its rows (times after each series' training end, in any order; training-period
    times get one-step-ahead in-sample predictions) and returns the predictions in
    ``X_future``'s row order."""

    def __init__(self, spec: dict, model: str = "LightGBM", estimator: Any = None,
                 featurizer: Any = None):
        self.spec = spec
        self.model = model
        self.estimator = estimator
        self.featurizer = featurizer

    @property
    def _naive(self) -> bool:
        return self.model in NAIVE_MODELS

    def fit(self, X: pd.DataFrame, y: Any) -> ForecastingPipeline:
        if not isinstance(self.model, str) or not self.model:
            raise UserErrorException(
                f"model={self.model!r}: name the model, one of {NAIVE_MODELS} or a regressor's "
                "name with estimator=...")
        transformer = TimeSeriesTransformer(self.spec, self.featurizer)
        if self._naive:
            _, _, values = transformer._fit(X, y, features=False)
            self.model_ = NaiveForecaster(self.model, transformer.seasonality_).fit(values)
        else:
            estimator = self.estimator
            if estimator is None:
                if self.model != "LightGBM":
                    raise UserErrorException(
                        f"model={self.model!r} needs estimator=<an unfitted sklearn regressor>;"
                        f" only 'LightGBM' and {NAIVE_MODELS} have a default.")
                estimator = _default_lightgbm()
            features, target, _ = transformer._fit(X, y)
            self.model_ = clone(estimator).fit(features, target)
        self.transformer_ = transformer
        return self

    @property
    def named_steps(self) -> dict[str, Any]:
        """``{"timeseriestransformer": ..., <model>: ...}``: fitted once fit has run."""
        fitted = hasattr(self, "model_")
        transformer = (self.transformer_ if fitted
                       else TimeSeriesTransformer(self.spec, self.featurizer))
        if fitted:
            model = self.model_
        elif self._naive:
            model = NaiveForecaster(self.model)
        else:
            model = self.estimator if self.estimator is not None else (
                _default_lightgbm() if self.model == "LightGBM" else None)
        return {"timeseriestransformer": transformer, self.model: model}

    @property
    def steps(self) -> list[tuple[str, Any]]:
        return list(self.named_steps.items())

    def predict(self, X_future: pd.DataFrame) -> np.ndarray:
        if not hasattr(self, "model_"):
            raise UserErrorException("This ForecastingPipeline is not fitted; call fit first.")
        transformer = self.transformer_
        keys, steps, times = transformer._future(X_future)
        out = np.empty(len(steps))
        if len(steps) == 0:
            return out
        furthest = int(steps.max())
        if furthest > transformer.horizon_:
            warnings.warn(
                f"Forecasting {furthest} periods ahead, beyond forecast_horizon="
                f"{transformer.horizon_}; the model was validated for the horizon only and "
                "recursive errors grow with every step.", UserWarning, stacklevel=2)
        past = np.flatnonzero(steps <= 0)
        ahead = np.flatnonzero(steps > 0)
        if self._naive:
            rows_by_key: dict[tuple, list[int]] = {}
            for row, key in enumerate(keys):
                rows_by_key.setdefault(key, []).append(row)
            for key, rows in rows_by_key.items():
                rows = np.asarray(rows)
                before, after = rows[steps[rows] <= 0], rows[steps[rows] > 0]
                if len(before):
                    out[before] = self.model_.predict_in_sample(
                        key, steps[before], transformer.series_[key]["history"])
                if len(after):
                    out[after] = self.model_.predict_steps(key, steps[after])
            return out
        if len(past):
            features = transformer._in_sample(
                X_future.iloc[past], [keys[i] for i in past], steps[past], times[past])
            out[past] = self.model_.predict(features)
        if len(ahead):
            out[ahead] = self._predict_regressor(
                X_future.iloc[ahead], [keys[i] for i in ahead], steps[ahead])
        return out

    def _predict_regressor(self, X_future: pd.DataFrame, keys: list[tuple],
                           steps: np.ndarray) -> np.ndarray:
        transformer = self.transformer_
        frame, exogenous = transformer._future_frame(X_future, keys, steps)
        codes = frame["code"].to_numpy()
        frame_steps = frame["step"].to_numpy()
        times = pd.DatetimeIndex(frame["time"])
        lags, window = transformer.lags_, transformer.window_
        predictions = np.empty(len(frame))
        if not lags and not window:
            empty = np.zeros((len(frame), 0))
            features = transformer._features(times, codes, empty, empty, exogenous)
            predictions[:] = self.model_.predict(features)
        else:
            width = max(lags + [window or 0])
            order = sorted(transformer.series_, key=lambda k: transformer.series_[k]["code"])
            buffer = np.vstack([transformer._padded(k)[0][-width:] for k in order])
            position = {transformer.series_[k]["code"]: i for i, k in enumerate(order)}
            for step in range(1, int(frame_steps.max()) + 1):
                rows = np.flatnonzero(frame_steps == step)
                at = np.asarray([position[c] for c in codes[rows]], dtype=np.int64)
                current = buffer[at]
                lag_block = (np.column_stack([current[:, -k] for k in lags])
                             if lags else np.zeros((len(rows), 0)))
                window_block = (_window_stats(current[:, -window:]) if window
                                else np.zeros((len(rows), 0)))
                features = transformer._features(times[rows], codes[rows], lag_block,
                                                 window_block, exogenous.iloc[rows])
                predicted = np.asarray(self.model_.predict(features), dtype=float)
                predictions[rows] = predicted
                shifted = np.roll(buffer, -1, axis=1)
                shifted[at, -1] = predicted
                untouched = np.setdiff1d(np.arange(len(buffer)), at)
                shifted[untouched] = buffer[untouched]
                buffer = shifted
        lookup = {(int(c), int(s)): p for c, s, p in zip(codes, frame_steps, predictions,
                                                       strict=True)}
        return np.asarray([lookup[(transformer.series_[k]["code"], int(s))]
                           for k, s in zip(keys, steps, strict=True)], dtype=float)

    def forecast(self, X_future: pd.DataFrame,
                 y_pred: Any = None) -> tuple[np.ndarray, pd.DataFrame]:
        """azureml's ``forecast``: the predictions and ``X_future`` with them added as
        ``_automl_target_col``. ``y_pred`` may be None or all NaN (the periods to forecast);
        Plinth does not yet take known actuals in it as context."""
        if y_pred is not None:
            known = ~np.isnan(np.asarray(y_pred, dtype=float).reshape(-1))
            if len(known) != len(X_future):
                raise UserErrorException(
                    f"y_pred has {len(known)} values but X_future has {len(X_future)} rows.")
            if known.any():
                raise UserErrorException(
                    "y_pred has known values; Plinth does not yet use actuals as forecast "
                    "context. Pass y_pred=None (or all NaN) and only the periods to forecast.")
        predictions = self.predict(X_future)
        frame = X_future.copy()
        frame[PREDICTION_COLUMN] = predictions
        return predictions, frame


def _default_lightgbm() -> Any:
    try:
        from lightgbm import LGBMRegressor
    except ImportError:
        raise UserErrorException(
            "model='LightGBM' needs the lightgbm package: pip install 'plinth[automl]', or "
            "pass estimator=<an sklearn regressor>.") from None
    return LGBMRegressor(n_estimators=100, random_state=0, n_jobs=1, verbose=-1)
