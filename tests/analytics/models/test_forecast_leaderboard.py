"""The forecast leaderboard: rolling-origin WAPE/MAPE by hand, interval coverage by hand, and
the model each constructed series should choose."""
import numpy as np
import pandas as pd
import pytest

from analytics.models import forecast_models as fm
from analytics.models.base import ModelError
from analytics.models.forecast import forecast_sentence, forecast_series, forecast_summary

FAST = (fm.NAIVE, "ETS", "Theta", "XGBoost")  # Prophet has its own tests


def daily(values, start="2024-01-01") -> pd.Series:
    return pd.Series(np.asarray(values, float),
                     index=pd.date_range(start, periods=len(values), freq="D"))


def frame(values, start="2024-01-01") -> pd.DataFrame:
    series = daily(values, start)
    return pd.DataFrame({"date": series.index, "value": series.to_numpy()})


# ----------------------------------------------------------------- metrics by hand
def test_wape_and_mape_by_hand_with_a_zero_day():
    # errors 1, 1, 1 over actuals 0, 2, 4: WAPE = 3 / 6; MAPE skips the zero day:
    # (1/2 + 1/4) / 2
    assert fm.wape([0, 2, 4], [1, 1, 5]) == pytest.approx(0.5)
    assert fm.mape([0, 2, 4], [1, 1, 5]) == pytest.approx(0.375)
    assert fm.wape([0, 0], [1, 1]) is None and fm.mape([0, 0], [1, 1]) is None


def test_rolling_origin_wape_and_mape_of_seasonal_naive_by_hand():
    week1 = [1, 2, 3, 4, 5, 6, 7]
    week2 = [2, 3, 4, 5, 6, 7, 8]
    week3 = [4, 6, 8, 10, 12, 14, 16]
    series = daily(week1 + week2 + week3)
    backtest = fm.rolling_origin(series, fold_days=7, folds=2, setup=fm.Setup(),
                                 models=(fm.NAIVE,))
    assert [str(f.start.date()) for f in backtest["folds"]] == ["2024-01-08", "2024-01-15"]
    [row] = fm.leaderboard(backtest, 0.8)
    # fold 1 forecasts week 1 for week 2: every error is 1 → WAPE 7/35, MAPE mean(1/a)
    # fold 2 forecasts week 2 for week 3 (its double): errors = week 2 → WAPE 35/70, MAPE 1/2
    first, second = row["folds"]
    assert first["wape"] == pytest.approx(7 / 35)
    assert first["mape"] == pytest.approx(np.mean([1 / a for a in week2]))
    assert second["wape"] == pytest.approx(0.5) and second["mape"] == pytest.approx(0.5)
    assert row["wape"] == pytest.approx((0.2 + 0.5) / 2)
    assert row["mape"] == pytest.approx((first["mape"] + 0.5) / 2)
    assert row["chosen"] is True
    assert str(first["end"].date()) == "2024-01-14"


def test_fold_plan_uses_the_horizon_unless_the_history_is_too_short():
    assert fm.fold_plan(400, 30, 4, 28) == (30, 4)
    assert fm.fold_plan(120, 90, 4, 28) == (23, 4)     # (120 − 28) // 4
    assert fm.fold_plan(400, 3, 4, 28) == (7, 4)       # a fold is at least a week
    with pytest.raises(ValueError):
        fm.fold_plan(50, 30, 4, 28)


# ----------------------------------------------------------------- intervals by hand
def test_residual_bounds_are_the_central_quantiles():
    assert fm.residual_bounds(np.array([-2.0, -1, 0, 1, 2]), 0.5) == (-1.0, 1.0)


def test_backtest_intervals_are_out_of_sample_and_coverage_is_counted_by_hand():
    # three folds of two days, forecast 0, actual 1, 2 and 3: fold k's interval comes from
    # the other folds' errors (numpy's linear 10th/90th percentiles):
    # fold 1 ← {2,2,3,3}: [2, 3] misses 1; fold 2 ← {1,1,3,3}: [1, 3] holds 2;
    # fold 3 ← {1,1,2,2}: [1, 2] misses 3 → 2 of 6 days covered
    folds = [fm.Fold(pd.Timestamp("2024-01-01"), np.array([v, v], float)) for v in (1, 2, 3)]
    predicted = [fm.Prediction(np.zeros(2)) for _ in folds]
    bounds = fm.backtest_intervals(folds, predicted, 0.8)
    assert [(b[0].tolist(), b[1].tolist()) for b in bounds] == [
        ([2, 2], [3, 3]), ([1, 1], [3, 3]), ([1, 1], [2, 2])]
    assert fm.coverage(folds, bounds) == pytest.approx(2 / 6)
    # a model's own interval is used as it is
    own = [fm.Prediction(np.zeros(2), np.zeros(2), np.full(2, 2.5)) for _ in folds]
    assert fm.coverage(folds, fm.backtest_intervals(folds, own, 0.8)) == pytest.approx(4 / 6)


# ----------------------------------------------------------------- who wins
def test_a_pure_weekly_pattern_chooses_seasonal_naive_and_says_so():
    pattern = [100, 120, 130, 125, 160, 60, 40]
    result = forecast_series(frame(pattern * 20), "date", "value", horizon=14, models=FAST)
    assert result.chosen == fm.NAIVE
    assert result.accuracy["wape"] == pytest.approx(0.0, abs=1e-12)
    assert result.forecast["forecast"].tolist() == pytest.approx(pattern * 2)
    assert any("No model beat seasonal naive" in note for note in result.notes)
    assert result.beats_baseline is False
    ets = next(row for row in result.leaderboard if row["model"] == "ETS")
    assert ets["wape"] < 0.02  # ETS learns the same pattern, only not exactly


def test_a_trend_is_won_by_theta_or_ets_not_by_seasonal_naive():
    rng = np.random.default_rng(3)
    values = 200 + 3.0 * np.arange(150) + rng.normal(0, 2, 150)
    result = forecast_series(frame(values), "date", "value", horizon=14, models=FAST)
    assert set(result.members) <= {"Theta", "ETS"}
    naive = next(row for row in result.leaderboard if row["model"] == fm.NAIVE)
    assert result.accuracy["wape"] < 0.5 * naive["wape"]
    assert result.beats_baseline is True
    # the trend continues: the next two weeks lie above the last one
    assert result.forecast["forecast"].mean() > values[-7:].mean() + 15


def test_a_weekly_pattern_on_a_trend_beats_seasonal_naive_with_an_ets_member():
    rng = np.random.default_rng(4)
    days = np.arange(210)
    values = (500 + 4.0 * days) * np.tile([1.0, 1.1, 1.2, 1.1, 1.3, 0.6, 0.4], 30) \
        + rng.normal(0, 10, 210)
    result = forecast_series(frame(values), "date", "value", horizon=14, models=FAST)
    assert result.chosen != fm.NAIVE and "ETS" in result.members


def test_the_leaderboard_lists_every_model_with_folds_and_one_chosen_row():
    values = np.tile([5.0, 6, 7, 6, 8, 3, 2], 20) + np.random.default_rng(0).normal(0, 0.5, 140)
    result = forecast_series(frame(values), "date", "value", horizon=14, models=FAST)
    board = result.leaderboard
    assert {row["model"] for row in board} >= set(FAST)
    assert [row["chosen"] for row in board].count(True) == 1 and board[0]["chosen"]
    wapes = [row["wape"] for row in board if row["wape"] is not None]
    assert wapes == sorted(wapes)
    for row in board:
        assert len(row["folds"]) == 4 and 0 <= row["coverage"] <= 1
        assert "predicted" not in row and "bounds" not in row
    averages = [row for row in board if row["model"].startswith("average of")]
    assert [len(row["members"]) for row in averages] == [2, 3] or \
        sorted(len(row["members"]) for row in averages) == [2, 3]
    # the ensemble's folds are the mean of its members' forecasts, scored on the same folds
    assert result.accuracy["wape"] <= next(r["wape"] for r in board if r["model"] == fm.NAIVE)
    assert result.fold_days == 14 and result.folds == 4
    assert len(result.backtest) == 4 * 14


def test_the_ensemble_is_the_mean_of_its_members_on_each_fold():
    a = [fm.Prediction(np.array([1.0, 3.0])), fm.Prediction(np.array([2.0, 2.0]))]
    b = [fm.Prediction(np.array([3.0, 5.0])), fm.Prediction(np.array([4.0, 0.0]))]
    assert [p.forecast.tolist() for p in fm.average([a, b])] == [[2, 4], [3, 1]]


def test_interval_coverage_is_measured_and_the_interval_holds_the_forecast():
    rng = np.random.default_rng(5)
    values = 1000 + rng.normal(0, 100, 200)
    result = forecast_series(frame(values), "date", "value", horizon=28, models=FAST)
    assert 0.6 <= result.accuracy["coverage"] <= 1.0   # white noise: near 80 %
    f = result.forecast
    assert (f["lower"] <= f["forecast"]).all() and (f["forecast"] <= f["upper"]).all()
    assert (f["lower"] >= 0).all()


# ----------------------------------------------------------------- messages
def test_too_little_history_says_what_is_needed():
    values = np.zeros(60)
    values[-21:] = 10.0   # three weeks of days with sales
    with pytest.raises(ModelError) as error:
        forecast_series(frame(values), "date", "value", horizon=14)
    assert str(error.value) == ("A forecast needs 8 weeks of days with sales; this selection "
                                "has 3 (21 days with sales).")


def test_the_sentence_leads_with_money_days_range_and_change():
    summary = {"days": 30, "next_total": 393256.4, "next_lower": 315924.0,
               "next_upper": 470798.2, "previous_total": 370996.6, "previous_days": 30,
               "change": 393256.4 / 370996.6 - 1}
    assert forecast_sentence(summary) == ("£393,256 expected over the next 30 days, between "
                                          "£315,924 and £470,798; 6 % above the last 30.")
    units = {**summary, "change": -0.25}
    assert forecast_sentence(units, "units") == (
        "393,256 units expected over the next 30 days, between 315,924 and 470,798; "
        "25 % below the last 30.")


def test_the_summary_adds_the_forecast_and_the_last_days():
    values = np.tile([10.0, 20, 30, 40, 50, 60, 70], 12)
    result = forecast_series(frame(values), "date", "value", horizon=7, models=(fm.NAIVE,))
    summary = forecast_summary(result)
    assert summary["next_total"] == pytest.approx(280) and summary["previous_total"] == 280
    assert summary["change"] == pytest.approx(0.0)


def test_prophets_row_says_what_its_fit_found():
    # closed on Saturdays (2024-01-06 is one), a weekly pattern otherwise
    values = np.tile([100.0, 120, 130, 125, 160, 0, 40], 12)
    result = forecast_series(frame(values), "date", "value", horizon=14,
                             models=(fm.NAIVE, "Prophet"))
    prophet = next(row for row in result.leaderboard if row["model"] == "Prophet")
    assert "closed on Saturday" in prophet["description"]
    assert prophet["description"].startswith("Prophet (")


def test_a_sparse_items_message_keeps_its_name():
    values = np.zeros(400)
    values[::6] = 5.0    # 67 days with sales (more than 8 weeks) on 17 % of the days
    sale_days = int((values != 0).sum())
    assert sale_days >= 56 and sale_days / 400 < 0.2
    with pytest.raises(ModelError, match="^Product WHITE MUG is too sparse to forecast"):
        forecast_series(frame(values), "date", "value", horizon=14, what="product WHITE MUG")
