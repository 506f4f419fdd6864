import numpy as np
import pandas as pd
import pytest

from analytics.models.base import ModelError
from analytics.models.forecast import DailyForecaster, forecast_series, seasonal_naive
from tests.analytics.models.synthetic import seasonal_series


def test_seasonal_naive_repeats_the_last_observed_week():
    train = pd.Series(np.arange(1.0, 11.0))  # 1…10: last week is 4…10
    assert seasonal_naive(train, 9).tolist() == [4, 5, 6, 7, 8, 9, 10, 4, 5]


def test_planted_weekly_and_yearly_seasonality_beats_the_naive_baseline():
    series = seasonal_series(days=800, seed=1)
    result = forecast_series(series, "date", "value", horizon=60)
    # METRICS.md's hold-out: the last h days, i.e. the last fold
    assert result.fold_days == 60 and result.folds == 4 and result.holdout_days == 60
    assert len(result.forecast) == 60 and len(result.backtest) == 240
    assert result.accuracy["wape"] < result.baseline_accuracy["wape"]
    assert result.accuracy["mape"] < 0.1
    assert result.beats_baseline is True
    assert {row["model"] for row in result.leaderboard} >= {
        "seasonal naive", "ETS", "Theta", "Prophet", "XGBoost"}
    # the forecast keeps the weekend dip: weekend days are about 0.6 × weekdays
    forecast = result.forecast.assign(
        weekend=lambda f: pd.to_datetime(f["date"]).dt.day_of_week >= 5)
    means = forecast.groupby("weekend")["forecast"].mean()
    assert means[True] / means[False] == pytest.approx(0.6, abs=0.08)
    assert (result.forecast["lower"] <= result.forecast["forecast"]).all()
    assert (result.forecast["forecast"] <= result.forecast["upper"]).all()


def test_prophet_fits_weekly_and_yearly_seasonality_on_two_years():
    series = seasonal_series(days=800, seed=1)
    model = DailyForecaster(horizon=30).fit(series["date"], series["value"])
    assert "weekly" in model.description and "yearly" in model.description


def test_closed_weekday_is_forecast_as_zero():
    series = seasonal_series(days=120, seed=2)
    series.loc[series["date"].dt.day_of_week == 5, "value"] = 0.0  # closed on Saturdays
    model = DailyForecaster(horizon=14).fit(series["date"], series["value"])
    assert model.closed_weekdays_ == [5]
    predicted = model.predict()
    saturdays = pd.to_datetime(predicted["date"]).dt.day_of_week == 5
    assert (predicted.loc[saturdays, ["forecast", "lower", "upper"]] == 0).all().all()
    assert (predicted.loc[~saturdays, "forecast"] > 0).all()


def test_too_short_series_is_a_clear_model_error():
    series = seasonal_series(days=50)
    with pytest.raises(ModelError, match="needs 8 weeks of days with sales; this selection "
                                         "has 7 \\(50 days"):
        forecast_series(series, "date", "value")


def test_too_sparse_series_is_a_clear_model_error():
    series = seasonal_series(days=800)
    series.loc[series.index % 10 != 0, "value"] = 0.0  # sales on 10 % of days (80)
    with pytest.raises(ModelError, match="too sparse"):
        forecast_series(series, "date", "value")


def test_bad_horizon_and_interval_are_model_errors():
    with pytest.raises(ModelError, match="horizon"):
        DailyForecaster(horizon=0)
    with pytest.raises(ModelError, match="interval"):
        DailyForecaster(interval=0.2)
