"""Forecasting: ForecastingParameters, series checks, rolling-origin splits, the naive
baselines and the recursive lag forecaster."""

from __future__ import annotations

import importlib.util
import pickle
import warnings

import numpy as np
import pandas as pd
import pytest

from plinth._automl.forecasting import PREDICTION_COLUMN, ForecastingPipeline
from plinth._automl.timeseries import (
    check_series,
    infer_freq,
    infer_seasonality,
    min_series_length,
    normalize_freq,
    rolling_origin_splits,
)
from plinth.exceptions import UserErrorException
from plinth.train.automl.forecasting_parameters import ForecastingParameters

N = 140
H = 7


def _values(n: int, level: float, seed: int) -> np.ndarray:
    i = np.arange(n)
    noise = np.random.default_rng(seed).normal(0, 0.3, n)
    return level + 0.02 * i + 4 * np.sin(2 * np.pi * i / 7) + noise


def one_series(n: int = N) -> tuple[pd.DataFrame, np.ndarray]:
    times = pd.date_range("2023-01-02", periods=n, freq="D")
    return pd.DataFrame({"date": times}), _values(n, 20, 0)


def two_series(n: int = N) -> tuple[pd.DataFrame, np.ndarray]:
    times = pd.date_range("2023-01-02", periods=n, freq="D")
    X = pd.concat([pd.DataFrame({"date": times, "store": store}) for store in ("A", "B")],
                  ignore_index=True)
    return X, np.concatenate([_values(n, 20, 1), _values(n, 50, 2)])


def spec(**changes) -> dict:
    base = {"time_column_name": "date", "forecast_horizon": H,
            "time_series_id_column_names": [], "target_lags": [], "freq": None,
            "target_rolling_window_size": None, "seasonality": "auto"}
    base.update(changes)
    return base


def holdout(X: pd.DataFrame, y: np.ndarray):
    """Train on all but each series' last H days; the last H are the future."""
    cut = X["date"] <= X["date"].max() - pd.Timedelta(days=H)
    return X[cut], y[cut.to_numpy()], X[~cut], y[~cut.to_numpy()]


def rmse(a, b) -> float:
    return float(np.sqrt(np.mean((np.asarray(a) - np.asarray(b)) ** 2)))


# --------------------------------------------------------------------- ForecastingParameters


def test_parameters_spec_defaults_and_normalisation():
    params = ForecastingParameters(time_column_name="date", forecast_horizon=14,
                                   time_series_id_column_names="store", target_lags=[7, 1, 7],
                                   target_rolling_window_size=3, freq="H", seasonality=24)
    assert params._spec() == {
        "time_column_name": "date", "forecast_horizon": 14,
        "time_series_id_column_names": ["store"], "target_lags": [1, 7],
        "target_rolling_window_size": 3, "freq": "h", "seasonality": 24, "cv_step_size": None}
    plain = ForecastingParameters(time_column_name="t")._spec()
    assert plain["forecast_horizon"] == 1 and plain["target_lags"] == []
    assert plain["time_series_id_column_names"] == [] and plain["seasonality"] == "auto"
    assert plain["target_rolling_window_size"] is None and plain["freq"] is None
    auto = ForecastingParameters(time_column_name="t", forecast_horizon="auto",
                                 target_lags="auto", target_rolling_window_size="auto",
                                 cv_step_size=2)._spec()
    assert (auto["forecast_horizon"], auto["target_lags"]) == (1, [1])
    assert auto["target_rolling_window_size"] == 3 and auto["cv_step_size"] == 2
    assert ForecastingParameters(time_column_name="t", target_lags=3)._spec()["target_lags"] == [3]


def test_parameters_aliases_and_accepted_arguments():
    params = ForecastingParameters(time_column_name="t", grain_column_names=["a", "b"],
                                   max_horizon=5, validate_parameters=False,
                                   short_series_handling_configuration=None)
    assert params._spec()["time_series_id_column_names"] == ["a", "b"]
    assert params._spec()["forecast_horizon"] == 5
    assert params.formatted_time_series_id_column_names == ["a", "b"]
    # validate_parameters=False postpones the checks to _spec().
    late = ForecastingParameters(validate_parameters=False)
    with pytest.raises(UserErrorException, match="time_column_name"):
        late._spec()
    built = ForecastingParameters.from_parameters_dict(
        {"time_column_name": "t", "forecast_horizon": 3, "iterations": 5}, True)
    assert built._spec()["forecast_horizon"] == 3
    assert "time_column_name='t'" in repr(built)


@pytest.mark.parametrize("kwargs, match", [
    ({}, "time_column_name"),
    ({"time_column_name": "t", "forecast_horizon": 0}, "forecast_horizon"),
    ({"time_column_name": "t", "forecast_horizon": 2.5}, "forecast_horizon"),
    ({"time_column_name": "t", "forecast_horizon": True}, "forecast_horizon"),
    ({"time_column_name": "t", "target_lags": [0, 1]}, "target_lags"),
    ({"time_column_name": "t", "target_lags": "many"}, "target_lags"),
    ({"time_column_name": "t", "target_rolling_window_size": 1}, "target_rolling_window_size"),
    ({"time_column_name": "t", "seasonality": 0}, "seasonality"),
    ({"time_column_name": "t", "time_series_id_column_names": ["a", "a"]}, "more than once"),
    ({"time_column_name": "t", "time_series_id_column_names": ["t"]}, "time column"),
    ({"time_column_name": "t", "time_series_id_column_names": 3},
     "time_series_id_column_names"),
    ({"time_column_name": "t", "freq": "fortnightly-ish"}, "freq"),
    ({"time_column_name": "t", "cv_step_size": 0}, "cv_step_size"),
    ({"time_column_name": "t", "unknown_setting": 1}, "unknown_setting"),
])
def test_parameters_reject_bad_values(kwargs, match):
    with pytest.raises(UserErrorException, match=match):
        ForecastingParameters(**kwargs)


@pytest.mark.parametrize("kwargs", [
    {"country_or_region_for_holidays": "US"},
    {"holiday_country": "US"},
    {"use_stl": "season"},
    {"feature_lags": "auto"},
    {"target_aggregation_function": "sum"},
    {"short_series_handling_configuration": "pad"},
    {"short_series_handling_configuration": "drop"},
    {"features_unknown_at_forecast_time": ["price"]},
    {"group_column_names": ["region"]},
])
def test_parameters_not_offered_are_refused(kwargs):
    name = next(iter(kwargs))
    with pytest.raises(UserErrorException, match="does not offer") as error:
        ForecastingParameters(time_column_name="t", validate_parameters=False, **kwargs)
    assert name in str(error.value)


# --------------------------------------------------------------------- frequencies


def test_infer_freq_and_seasonality():
    for freq, seasonality in [("D", 7), ("h", 24), ("MS", 12), ("ME", 12), ("W-SUN", 52),
                              ("QE-DEC", 4), ("B", 5), ("15min", 1), ("YE-DEC", 1)]:
        times = pd.Series(pd.date_range("2021-01-01", periods=12, freq=freq))
        assert infer_freq(times) == normalize_freq(freq)
        assert infer_seasonality(infer_freq(times)) == seasonality
        # Gaps do not stop the frequency being found.
        if freq not in ("B", "QE-DEC", "YE-DEC"):
            assert infer_freq(times.drop([3, 4])) == normalize_freq(freq)
    assert infer_freq(pd.Series(pd.to_datetime(["2021-01-01"]))) is None
    assert infer_seasonality(None) == 1
    assert [normalize_freq(f) for f in ("H", "M", "Q", "2H", "T")] == \
        ["h", "ME", "QE-DEC", "2h", "min"]


# --------------------------------------------------------------------- check_series


def test_check_series_accepts_good_data_and_names_faults():
    X, _ = two_series()
    check_series(X, spec(time_series_id_column_names=["store"], target_lags=[1, 7]))
    with pytest.raises(UserErrorException, match="'when'"):
        check_series(X, spec(time_column_name="when"))
    with pytest.raises(UserErrorException, match="store"):
        check_series(X.drop(columns="store"), spec(time_series_id_column_names=["store"]))
    # Without the id column, the two stores collide on every date.
    with pytest.raises(UserErrorException, match="more than one row"):
        check_series(X, spec())
    duplicated = pd.concat([X, X.iloc[[5]]], ignore_index=True)
    with pytest.raises(UserErrorException, match=r"store='A'.*more than one row"):
        check_series(duplicated, spec(time_series_id_column_names=["store"]))
    bad = X.astype({"date": str})
    bad.loc[3, "date"] = "not a date"
    with pytest.raises(UserErrorException, match="not dates"):
        check_series(bad, spec(time_series_id_column_names=["store"]))
    with pytest.raises(UserErrorException, match="numbers"):
        check_series(pd.DataFrame({"date": np.arange(30)}), spec())


def test_check_series_requires_enough_rows_per_series():
    X, _ = two_series()
    short = pd.concat([X[X.store == "A"], X[X.store == "B"].iloc[:10]], ignore_index=True)
    ids = ["store"]
    assert min_series_length(spec(target_lags=[1, 7])) == 7 + 1 + H
    with pytest.raises(UserErrorException, match=r"store='B'\) has 10"):
        check_series(short, spec(time_series_id_column_names=ids, target_lags=[1, 7]))
    with pytest.raises(UserErrorException, match="cross-validation folds"):
        check_series(X, spec(time_series_id_column_names=ids), n_splits=30)


def test_check_series_refuses_times_off_the_frequency():
    X, _ = one_series(30)
    X.loc[10, "date"] += pd.Timedelta(hours=5)
    with pytest.raises(UserErrorException, match="not on the series"):
        check_series(X, spec(freq="D"))


# --------------------------------------------------------------------- rolling origin


def _check_folds(X: pd.DataFrame, ids: list[str], splits) -> None:
    """Per series: H validation rows, all after every training row."""
    groups = X.groupby(ids).indices.values() if ids else [np.arange(len(X))]
    for train, valid in splits:
        assert not set(train) & set(valid)
        for rows in groups:
            t_train = X["date"].iloc[np.intersect1d(train, rows)]
            t_valid = X["date"].iloc[np.intersect1d(valid, rows)]
            assert t_train.max() < t_valid.min()
            assert len(t_valid) == H


@pytest.mark.parametrize("series", ["one", "two"])
def test_rolling_origin_splits(series):
    X, _ = one_series() if series == "one" else two_series()
    ids = [] if series == "one" else ["store"]
    n_series = len(ids) + 1
    splits = rolling_origin_splits(X, spec(time_series_id_column_names=ids), 3)
    assert len(splits) == 3
    for fold, (train, valid) in enumerate(splits):
        assert len(valid) == H * n_series
        assert len(train) == (N - H - (2 - fold) * H) * n_series
    _check_folds(X, ids, splits)
    # The last fold validates on the last H periods; origins step back by cv_step_size.
    assert X["date"].iloc[splits[-1][1]].max() == X["date"].max()
    stepped = rolling_origin_splits(X, spec(time_series_id_column_names=ids, cv_step_size=2), 2)
    assert len(stepped[1][0]) - len(stepped[0][0]) == 2 * n_series
    # Shuffled rows: the positions still point at the right rows.
    shuffled = X.sample(frac=1, random_state=0).reset_index(drop=True)
    _check_folds(shuffled, ids, rolling_origin_splits(
        shuffled, spec(time_series_id_column_names=ids), 2))
    with pytest.raises(UserErrorException, match="folds"):
        rolling_origin_splits(X, spec(time_series_id_column_names=ids, target_lags=[1]), 25)
    with pytest.raises(UserErrorException, match="n_cross_validations"):
        rolling_origin_splits(X, spec(time_series_id_column_names=ids), 0)


# --------------------------------------------------------------------- models


def test_naive_baselines_values():
    X, y = one_series(21)
    future = pd.DataFrame({"date": pd.date_range(X["date"].iloc[-1], periods=8, freq="D")[1:]})
    s = spec(seasonality=7)
    naive = ForecastingPipeline(s, "Naive").fit(X, y).predict(future)
    np.testing.assert_allclose(naive, y[-1])
    seasonal = ForecastingPipeline(s, "SeasonalNaive").fit(X, y).predict(future)
    np.testing.assert_allclose(seasonal, y[-7:])
    average = ForecastingPipeline(s, "Average").fit(X, y).predict(future)
    np.testing.assert_allclose(average, y.mean())
    seasonal_average = ForecastingPipeline(s, "SeasonalAverage").fit(X, y).predict(future)
    np.testing.assert_allclose(seasonal_average, y.reshape(3, 7).mean(axis=0))


def test_seasonal_naive_beats_naive():
    X, y = two_series()
    train_X, train_y, future, actual = holdout(X, y)
    s = spec(time_series_id_column_names=["store"])
    naive = ForecastingPipeline(s, "Naive").fit(train_X, train_y).predict(future)
    seasonal = ForecastingPipeline(s, "SeasonalNaive").fit(train_X, train_y).predict(future)
    assert rmse(seasonal, actual) < 0.5 * rmse(naive, actual)


def test_lag_regressor_beats_naive_and_aligns_shuffled_rows():
    X, y = two_series()
    train_X, train_y, future, actual = holdout(X, y)
    s = spec(time_series_id_column_names=["store"], target_lags=[1, 7],
             target_rolling_window_size=3)
    from lightgbm import LGBMRegressor

    model = ForecastingPipeline(
        s, "LightGBM", estimator=LGBMRegressor(n_estimators=60, n_jobs=1, verbose=-1,
                                               random_state=0, min_child_samples=5))
    predicted = model.fit(train_X, train_y).predict(future)
    naive = ForecastingPipeline(s, "Naive").fit(train_X, train_y).predict(future)
    assert rmse(predicted, actual) < rmse(naive, actual)
    order = np.random.default_rng(3).permutation(len(future))
    np.testing.assert_allclose(model.predict(future.iloc[order]), predicted[order])
    assert set(model.named_steps) == {"timeseriestransformer", "LightGBM"}
    assert "lag7" in " ".join(model.named_steps["timeseriestransformer"].feature_names_)
    # A later step asked alone is predicted through the steps before it.
    last = future.sort_values("date").groupby("store").tail(1)
    alone = model.predict(last)
    np.testing.assert_allclose(alone, predicted[future.index.get_indexer(last.index)])


def test_sklearn_regressor_with_exogenous_column_and_pickle():
    from sklearn.ensemble import GradientBoostingRegressor

    X, y = one_series()
    X["promo"] = (np.arange(N) % 5 == 0).astype(int)
    X["weekday_name"] = X["date"].dt.day_name()
    y = y + 3 * X["promo"].to_numpy()
    train_X, train_y, future, actual = holdout(X, y)
    model = ForecastingPipeline(spec(target_lags=[1, 2, 7]), "GradientBoosting",
                                estimator=GradientBoostingRegressor(n_estimators=50,
                                                                    random_state=0))
    predicted = model.fit(train_X, train_y).predict(future)
    naive = ForecastingPipeline(spec(), "Naive").fit(train_X, train_y).predict(future)
    assert rmse(predicted, actual) < rmse(naive, actual)
    assert model.transformer_.feature_names_[-2:] == ["promo", "weekday_name"]
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.predict(future), predicted)
    refit = ForecastingPipeline(**model.get_params(deep=False)).fit(train_X, train_y)
    np.testing.assert_array_equal(refit.predict(future), predicted)
    with pytest.raises(UserErrorException, match="promo"):
        model.predict(future.drop(columns="promo"))


@pytest.mark.skipif(importlib.util.find_spec("plinth._automl.featurize") is None,
                    reason="featurize.py not written yet")
def test_with_data_transformer():
    from sklearn.linear_model import Ridge

    from plinth._automl.featurize import DataTransformer

    X, y = two_series(60)
    X["price"] = np.linspace(1, 2, len(X))
    X["colour"] = np.where(np.arange(len(X)) % 2 == 0, "red", "blue")
    train_X, train_y, future, _ = holdout(X, y)
    featurizer = DataTransformer("forecasting", "auto", drop_columns=("date", "store"))
    s = spec(time_series_id_column_names=["store"], target_lags=[1])
    model = ForecastingPipeline(s, "Ridge", estimator=Ridge(), featurizer=featurizer)
    predicted = model.fit(train_X, train_y).predict(future)
    assert predicted.shape == (len(future),) and np.isfinite(predicted).all()
    assert not hasattr(featurizer, "raw_columns_")  # the given featurizer stays unfitted


def test_forecast_frame_and_future_errors():
    X, y = two_series(40)
    train_X, train_y, future, _ = holdout(X, y)
    s = spec(time_series_id_column_names=["store"], target_lags=[1])
    model = ForecastingPipeline(s, "LightGBM").fit(train_X, train_y)
    predicted, frame = model.forecast(future)
    np.testing.assert_allclose(frame[PREDICTION_COLUMN], predicted)
    assert list(frame.index) == list(future.index)
    model.forecast(future, np.full(len(future), np.nan))
    with pytest.raises(UserErrorException, match="y_pred"):
        model.forecast(future, np.ones(len(future)))
    unknown = future.assign(store="Z")
    with pytest.raises(UserErrorException, match="store='Z'"):
        model.predict(unknown)
    with pytest.raises(UserErrorException, match="before the start"):
        model.predict(train_X.head(2).assign(date=train_X["date"].min() - pd.Timedelta(days=1)))
    off = future.assign(date=future["date"] + pd.Timedelta(hours=1))
    with pytest.raises(UserErrorException, match="not on the training"):
        model.predict(off)
    beyond = pd.DataFrame({"date": pd.date_range(X["date"].max(), periods=3, freq="D")[1:]
                           + pd.Timedelta(days=H), "store": "A"})
    with pytest.warns(UserWarning, match="beyond forecast_horizon"):
        model.predict(beyond)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.predict(future)


def test_training_period_gets_one_step_ahead_predictions():
    X, y = two_series(40)
    s = spec(time_series_id_column_names=["store"], target_lags=[1], seasonality=7)
    naive = ForecastingPipeline(s, "Naive").fit(X, y)
    a = np.flatnonzero(X["store"] == "A")
    np.testing.assert_allclose(naive.predict(X.iloc[a[5:]]), y[a[4:-1]])
    seasonal = ForecastingPipeline(s, "SeasonalNaive").fit(X, y)
    np.testing.assert_allclose(seasonal.predict(X.iloc[a[10:]]), y[a[3:-7]])
    model = ForecastingPipeline(s, "LightGBM").fit(X, y)
    in_sample = model.predict(X)
    assert np.isfinite(in_sample).all()
    assert rmse(in_sample, y) < np.std(y)
    # Training-period and future rows in one call, in any order.
    future = pd.DataFrame({"date": [X["date"].max() + pd.Timedelta(days=1)], "store": ["B"]})
    both = pd.concat([future, X.iloc[[3, 50]]], ignore_index=True)
    np.testing.assert_allclose(model.predict(both),
                               [*model.predict(future), *in_sample[[3, 50]]])


def test_missing_targets_are_left_out_and_deterministic():
    X, y = one_series(60)
    y = y.copy()
    y[[10, 30]] = np.nan
    train_X, train_y, future, _ = holdout(X, y)
    s = spec(target_lags=[1, 7])
    first = ForecastingPipeline(s, "LightGBM").fit(train_X, train_y).predict(future)
    second = ForecastingPipeline(s, "LightGBM").fit(train_X, train_y).predict(future)
    assert np.isfinite(first).all()
    np.testing.assert_array_equal(first, second)
    with pytest.raises(UserErrorException, match="estimator"):
        ForecastingPipeline(s, "ElasticNet").fit(train_X, train_y)
