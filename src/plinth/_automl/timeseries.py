"""Time series: frequencies (normalizing, inferring, seasonality, grid steps), the forecasting
spec, parsing and checking frames into series on a grid, and the public checks
``check_series`` and ``rolling_origin_splits``.

The spec every function here reads is ``ForecastingParameters._spec()``: a dict with
``time_column_name``, ``forecast_horizon``, ``time_series_id_column_names`` (a list),
``target_lags`` (a list of ints, ``[]`` for none), ``target_rolling_window_size`` (an int or
None), ``freq`` (a pandas alias or None: inferred) and ``seasonality`` (an int or ``"auto"``);
optionally ``cv_step_size`` (an int, or None for the forecast horizon).

A series is the rows sharing the values of ``time_series_id_column_names`` (the whole frame
when there are none). Its times must lie on one grid of the frequency; gaps are allowed.
"""

from __future__ import annotations

import warnings
from collections import Counter
from typing import Any

import numpy as np
import pandas as pd

from plinth.exceptions import UserErrorException

__all__ = [
    "OffGrid",
    "Parsed",
    "Spec",
    "check_series",
    "epoch_nanos",
    "freq_offset",
    "grid_steps",
    "infer_freq",
    "infer_seasonality",
    "is_subdaily",
    "min_series_length",
    "normalize_freq",
    "rolling_origin_splits",
    "series_label",
    "times_after",
]

#: Frequency aliases pandas dropped (2.2 / 3.0) mapped to the ones that replaced them.
_LEGACY_ALIASES = {
    "H": "h", "BH": "bh", "CBH": "cbh", "T": "min", "S": "s", "L": "ms", "U": "us", "N": "ns",
    "M": "ME", "BM": "BME", "CBM": "CBME", "SM": "SME", "Q": "QE", "BQ": "BQE",
    "A": "YE", "Y": "YE", "BA": "BYE", "BY": "BYE", "AS": "YS", "BAS": "BYS",
}


# --------------------------------------------------------------------------- frequencies


def normalize_freq(freq: Any) -> str:
    """``freq`` (a pandas alias or offset; azureml-era aliases such as ``'H'``, ``'M'`` and
    ``'Q'`` included) as the alias the installed pandas uses."""
    from pandas.tseries.frequencies import to_offset
    from pandas.tseries.offsets import BaseOffset

    if isinstance(freq, BaseOffset):
        return freq.freqstr
    text = str(freq).strip()
    candidates = [text]
    head = text.lstrip("0123456789")
    base, _, anchor = head.partition("-")
    if base in _LEGACY_ALIASES:
        new = _LEGACY_ALIASES[base] + (f"-{anchor}" if anchor else "")
        candidates.append(text[: len(text) - len(head)] + new)
    for candidate in candidates:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return to_offset(candidate).freqstr
        except (ValueError, TypeError):
            continue
    raise UserErrorException(
        f"freq={freq!r} is not a pandas frequency; use an alias such as 'D', 'h', 'W', 'MS' "
        "or 'ME', or leave freq out to infer it from the time column.")


def freq_offset(freq: Any) -> Any:
    from pandas.tseries.frequencies import to_offset

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return to_offset(normalize_freq(freq))


def infer_freq(times: pd.Series) -> str | None:
    """The frequency of one series' times (a pandas alias), or None when fewer than two
    distinct times. Regular times use ``pandas.infer_freq``; times with gaps get the largest
    step that every gap is a multiple of (months for month-start/-end dates, weeks anchored
    on the first time's weekday, else days or a fixed duration)."""
    from pandas.tseries import offsets as po
    from pandas.tseries.frequencies import to_offset

    parsed = pd.DatetimeIndex(pd.to_datetime(pd.Series(times).dropna()))
    index = parsed.unique().sort_values()
    if len(index) < 2:
        return None
    if len(index) >= 3:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                found = pd.infer_freq(index)
        except (TypeError, ValueError):
            found = None
        if found is not None:
            return normalize_freq(found)
    midnight = bool((index == index.normalize()).all())
    if midnight and (index.is_month_end.all() or index.is_month_start.all()):
        months = np.asarray(index.year * 12 + index.month, dtype=np.int64)
        step = int(np.gcd.reduce(np.diff(months)))
        if step > 0:
            cls = po.MonthEnd if index.is_month_end.all() else po.MonthBegin
            return cls(step).freqstr
    gaps = np.diff(epoch_nanos(index))
    step = int(np.gcd.reduce(gaps))
    day = pd.Timedelta(days=1).value
    if midnight and step % day == 0:
        days = step // day
        if days % 7 == 0:
            return po.Week(days // 7, weekday=index[0].weekday()).freqstr
        return po.Day(days).freqstr
    return to_offset(pd.Timedelta(step)).freqstr


def infer_seasonality(freq: Any) -> int:
    """The season length azureml assumes for a frequency: hourly 24 (``k`` hours: ``24/k``),
    daily 7, business-daily 5, weekly 52, monthly 12 (``k`` months: ``12/k``), quarterly 4;
    1 (no seasonality) for anything else or None."""
    from pandas.tseries import offsets as po

    if freq is None:
        return 1
    offset = freq_offset(freq)
    n = abs(int(offset.n)) or 1
    months = (po.MonthEnd, po.MonthBegin, po.BusinessMonthEnd, po.BusinessMonthBegin)
    quarters = (po.QuarterEnd, po.QuarterBegin, po.BQuarterEnd, po.BQuarterBegin)
    if isinstance(offset, po.Hour) and 24 % n == 0:
        return 24 // n
    if isinstance(offset, po.Day):
        return 7 if n == 1 else 52 if n == 7 else 1
    if isinstance(offset, po.BusinessDay) and n == 1:
        return 5
    if isinstance(offset, po.Week) and n == 1:
        return 52
    if isinstance(offset, months) and 12 % n == 0:
        return 12 // n
    if isinstance(offset, quarters) and 4 % n == 0:
        return 4 // n
    return 1


def is_subdaily(offset: Any) -> bool:
    from pandas.tseries import offsets as po

    if isinstance(offset, po.Day):
        return False
    return isinstance(offset, (po.Tick, po.BusinessHour, po.CustomBusinessHour))


def _fixed_nanos(offset: Any, tz: Any) -> int | None:
    """The offset's length in nanoseconds when every step has the same length."""
    from pandas.tseries import offsets as po

    if isinstance(offset, po.Day):
        return None if tz is not None else pd.Timedelta(days=offset.n).value
    if isinstance(offset, po.Tick):
        return pd.Timedelta(offset).value
    return None


def epoch_nanos(times: pd.DatetimeIndex) -> np.ndarray:
    """Nanoseconds since the epoch, whatever the index's resolution."""
    return pd.DatetimeIndex(times).as_unit("ns").asi8


class OffGrid(Exception):
    def __init__(self, when: Any):
        super().__init__(str(when))
        self.when = when


def grid_steps(times: pd.DatetimeIndex, origin: pd.Timestamp, offset: Any) -> np.ndarray:
    """How many periods of ``offset`` each time lies after ``origin`` (negative before);
    raises OffGrid for a time not on the origin's grid."""
    if len(times) == 0:
        return np.zeros(0, dtype=np.int64)
    nanos = _fixed_nanos(offset, times.tz)
    if nanos is not None:
        diff = epoch_nanos(times) - pd.Timestamp(origin).as_unit("ns").value
        off = diff % nanos != 0
        if off.any():
            raise OffGrid(times[np.flatnonzero(off)[0]])
        return (diff // nanos).astype(np.int64)
    low, high = min(times.min(), origin), max(times.max(), origin)
    grid = pd.date_range(start=low, end=high, freq=offset)
    at = grid.get_indexer(times)
    if (at < 0).any():
        raise OffGrid(times[np.flatnonzero(at < 0)[0]])
    zero = grid.get_indexer([origin])[0]
    if zero < 0:
        raise OffGrid(origin)
    return (at - zero).astype(np.int64)


def times_after(origin: pd.Timestamp, count: int, offset: Any) -> pd.DatetimeIndex:
    """The ``count`` grid times after ``origin``."""
    nanos = _fixed_nanos(offset, origin.tz)
    if nanos is not None:
        return origin + pd.to_timedelta(nanos * np.arange(1, count + 1, dtype=np.int64),
                                        unit="ns")
    return pd.date_range(start=origin, periods=count + 1, freq=offset)[1:]


# --------------------------------------------------------------------------- the spec


class Spec:
    """The forecasting spec, read and checked once."""

    def __init__(self, spec: Any):
        if not isinstance(spec, dict):
            raise UserErrorException(
                "The forecasting spec must be a dict (ForecastingParameters._spec()), got "
                f"{type(spec).__name__}.")
        self.time = spec.get("time_column_name")
        if not self.time or not isinstance(self.time, str):
            raise UserErrorException(
                "Forecasting needs time_column_name: the name of the column holding the times.")
        self.horizon = _positive_int(spec.get("forecast_horizon", 1), "forecast_horizon")
        ids = spec.get("time_series_id_column_names") or []
        self.ids = [ids] if isinstance(ids, str) else list(ids)
        if self.time in self.ids:
            raise UserErrorException(
                f"time_series_id_column_names includes the time column {self.time!r}; "
                "leave it out.")
        lags = spec.get("target_lags") or []
        lags = [lags] if isinstance(lags, int) else list(lags)
        self.lags = sorted({_positive_int(lag, "target_lags") for lag in lags})
        window = spec.get("target_rolling_window_size")
        self.window = None if window is None else _positive_int(
            window, "target_rolling_window_size")
        if self.window is not None and self.window < 2:
            raise UserErrorException(
                f"target_rolling_window_size={window!r}: use a whole number of at least 2, "
                "or None for no rolling window.")
        freq = spec.get("freq")
        self.freq = None if freq is None else normalize_freq(freq)
        seasonality = spec.get("seasonality", "auto")
        if seasonality is None:
            seasonality = "auto"
        if seasonality != "auto":
            seasonality = _positive_int(seasonality, "seasonality")
        self.seasonality = seasonality
        step = spec.get("cv_step_size")
        self.step = self.horizon if step in (None, "auto") else _positive_int(step,
                                                                              "cv_step_size")

    @property
    def history(self) -> int:
        """Periods of history a training row needs behind it (the largest lag or window)."""
        return max([*self.lags, self.window or 0, 0])

    def season(self, freq: str | None) -> int:
        return infer_seasonality(freq) if self.seasonality == "auto" else int(self.seasonality)


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise UserErrorException(f"{name}={value!r}: use a whole number of at least 1.")
    return int(value)


def min_series_length(spec: dict, n_splits: int | None = None) -> int:
    """The rows each series needs: the largest lag or window, one training row, the forecast
    horizon, and ``cv_step_size`` more for every cross-validation fold after the first."""
    parsed = Spec(spec)
    folds = max(int(n_splits or 1), 1)
    return parsed.history + 1 + parsed.horizon + (folds - 1) * parsed.step


# --------------------------------------------------------------------------- parsing frames


def series_label(ids: list[str], key: tuple) -> str:
    if not ids:
        return "the series"
    return "series (" + ", ".join(f"{c}={v!r}" for c, v in zip(ids, key, strict=True)) + ")"


def _key(value: Any) -> tuple:
    return value if isinstance(value, tuple) else (value,)


def _parse_times(X: pd.DataFrame, column: str) -> pd.DatetimeIndex:
    values = X[column]
    if pd.api.types.is_bool_dtype(values) or (
            pd.api.types.is_numeric_dtype(values)
            and not pd.api.types.is_datetime64_any_dtype(values)):
        raise UserErrorException(
            f"Time column {column!r} holds numbers ({values.dtype}); give it dates or times "
            "(datetime values or strings such as '2024-01-31').")
    try:
        times = pd.DatetimeIndex(pd.to_datetime(values))
    except (ValueError, TypeError, OverflowError) as exc:
        raise UserErrorException(
            f"Time column {column!r} has values that are not dates or times ({exc}); fix or "
            "drop those rows.") from None
    if times.isna().any():
        row = X.index[np.flatnonzero(times.isna())[0]]
        raise UserErrorException(
            f"Time column {column!r} has {int(times.isna().sum())} missing value(s) (first at "
            f"row {row!r}); every row needs a time.")
    return times


def _check_columns(X: Any, spec: Spec, what: str = "X") -> None:
    if not isinstance(X, pd.DataFrame):
        raise UserErrorException(
            f"{what} must be a pandas DataFrame holding the time column {spec.time!r}"
            + (f" and the series id column(s) {spec.ids}" if spec.ids else "")
            + f", got {type(X).__name__}.")
    missing = [c for c in [spec.time, *spec.ids] if c not in X.columns]
    if missing:
        raise UserErrorException(
            f"{what} lacks column(s) {missing} named in the forecasting parameters "
            f"(time_column_name / time_series_id_column_names); its columns are "
            f"{list(X.columns)}.")
    for column in spec.ids:
        if X[column].isna().any():
            raise UserErrorException(
                f"Series id column {column!r} has missing values; every row needs a series id.")


def _series_rows(X: pd.DataFrame, ids: list[str]) -> dict[tuple, np.ndarray]:
    """Each series' row positions, series in sorted key order."""
    if not ids:
        return {(): np.arange(len(X))}
    groups = X[ids].groupby(ids, sort=True, observed=True).indices
    return {_key(k): np.asarray(v, dtype=np.int64) for k, v in groups.items()}


class Parsed:
    """A frame's times, series and frequency, checked."""

    def __init__(self, X: pd.DataFrame, spec: Spec, freq: str | None = None,
                 what: str = "X"):
        _check_columns(X, spec, what)
        self.times = _parse_times(X, spec.time)
        self.series = _series_rows(X, spec.ids)
        # Within each series, rows ordered by time.
        for key, rows in self.series.items():
            order = np.argsort(self.times.asi8[rows], kind="stable")
            self.series[key] = rows[order]
        if freq is None and what == "X":
            self._no_duplicates(spec)
            freq = spec.freq or self._infer(spec)
        self.freq = freq
        self.offset = freq_offset(freq) if freq is not None else None

    def _no_duplicates(self, spec: Spec) -> None:
        for key, rows in self.series.items():
            stamps = self.times.asi8[rows]
            same = np.flatnonzero(stamps[1:] == stamps[:-1])
            if len(same):
                when = self.times[rows[same[0]]]
                raise UserErrorException(
                    f"{series_label(spec.ids, key)} has more than one row at {spec.time}={when}; "
                    "each series needs one row per time. Aggregate the duplicates"
                    + ("" if spec.ids else
                       ", or name the columns telling the series apart in "
                       "time_series_id_column_names") + ".")

    def _infer(self, spec: Spec) -> str:
        found = Counter()
        for rows in self.series.values():
            freq = infer_freq(pd.Series(self.times[rows]))
            if freq is not None:
                found[freq] += len(rows)
        if not found:
            raise UserErrorException(
                f"Could not infer the frequency of time column {spec.time!r} (every series has "
                "fewer than two times); pass freq, e.g. ForecastingParameters(freq='D').")
        return found.most_common(1)[0][0]

    def grid(self, spec: Spec) -> dict[tuple, np.ndarray]:
        """Each series' rows' grid positions from its first time (rows in self.series order)."""
        out = {}
        for key, rows in self.series.items():
            times = self.times[rows]
            try:
                out[key] = grid_steps(times, times[0], self.offset)
            except OffGrid as off:
                raise UserErrorException(
                    f"{series_label(spec.ids, key)}: time {off.when} in column {spec.time!r} is "
                    f"not on the series' {self.freq!r} grid (starting {times[0]}). Give times on "
                    "one regular grid per series, or pass the freq they follow; Plinth does "
                    "not aggregate to a frequency (target_aggregation_function).") from None
        return out


# --------------------------------------------------------------------------- public checks


def check_series(X: pd.DataFrame, spec: dict, n_splits: int | None = None) -> None:
    """Check ``X`` for forecasting: the time column is present and parses, the series id
    columns are present and complete, no series has two rows at one time, the frequency is
    given or can be inferred and every series' times lie on its grid, and every series has
    ``min_series_length(spec, n_splits)`` rows. Raises UserErrorException naming the column or
    series at fault."""
    parsed_spec = Spec(spec)
    parsed = Parsed(X, parsed_spec)
    parsed.grid(parsed_spec)
    needed = min_series_length(spec, n_splits)
    short = [(key, len(rows)) for key, rows in parsed.series.items() if len(rows) < needed]
    if short:
        named = ", ".join(f"{series_label(parsed_spec.ids, k)} has {n}" for k, n in short[:5])
        more = f" (and {len(short) - 5} more)" if len(short) > 5 else ""
        raise UserErrorException(
            f"Too few rows for forecasting: {named}{more}; each series needs at least "
            f"{needed} (forecast_horizon={parsed_spec.horizon}, largest target lag or rolling "
            f"window={parsed_spec.history}"
            + (f", {n_splits} cross-validation folds {parsed_spec.step} periods apart"
               if n_splits and n_splits > 1 else "")
            + "). Give more history, lower forecast_horizon, target_lags or "
            "target_rolling_window_size, or leave the short series out.")


def rolling_origin_splits(X: pd.DataFrame, spec: dict,
                          n_splits: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Rolling-origin cross-validation folds as (train rows, validation rows) positions into
    ``X``, oldest origin first. Per series, the last fold's origin is ``forecast_horizon``
    periods before the series' last time and each earlier fold's origin is ``cv_step_size``
    (default: the horizon) periods earlier; a fold trains on the rows at or before its origin
    and validates on the ``forecast_horizon`` periods after it."""
    if isinstance(n_splits, bool) or not isinstance(n_splits, (int, np.integer)) or n_splits < 1:
        raise UserErrorException(
            f"n_cross_validations={n_splits!r}: use a whole number of at least 1.")
    parsed_spec = Spec(spec)
    parsed = Parsed(X, parsed_spec)
    grid = parsed.grid(parsed_spec)
    folds: list[tuple[list, list]] = [([], []) for _ in range(n_splits)]
    for key, rows in parsed.series.items():
        steps = grid[key]
        last = int(steps[-1])
        for fold in range(n_splits):
            origin = last - parsed_spec.horizon - (n_splits - 1 - fold) * parsed_spec.step
            train = steps <= origin
            if origin < parsed_spec.history or not train.any():
                needed = min_series_length(spec, n_splits)
                raise UserErrorException(
                    f"{series_label(parsed_spec.ids, key)} spans {last + 1} periods of "
                    f"{parsed.freq!r}; {n_splits} rolling-origin folds with "
                    f"forecast_horizon={parsed_spec.horizon} need at least {needed}. Use fewer "
                    "n_cross_validations, a smaller cv_step_size or forecast_horizon, or "
                    "leave the short series out.")
            valid = (steps > origin) & (steps <= origin + parsed_spec.horizon)
            folds[fold][0].append(rows[train])
            folds[fold][1].append(rows[valid])
    out = []
    for number, (train, valid) in enumerate(folds):
        train_rows = np.sort(np.concatenate(train))
        valid_rows = np.sort(np.concatenate(valid))
        if len(valid_rows) == 0:
            raise UserErrorException(
                f"Rolling-origin fold {number + 1} of {n_splits} has no rows to validate on "
                f"(the data has gaps there); use fewer n_cross_validations.")
        out.append((train_rows, valid_rows))
    return out
