"""The leaderboard beats seasonal naive where the brief says it must: Online Retail's daily
revenue and the demo data (data.demo)."""
import pandas as pd
import pytest

from analytics.filters import ALL_DATA, Filters
from analytics.models import run_model
from analytics.models.forecast import forecast_series


@pytest.mark.parametrize("horizon", [30, 90])
def test_online_retail_daily_revenue_beats_seasonal_naive(online_retail_warehouse, horizon):
    result = run_model("forecast", online_retail_warehouse, Filters(), ALL_DATA,
                       {"metric": "revenue", "horizon": horizon})
    # measured: h=30 Prophet 0.30 vs naive 0.37; h=90 (4 folds of 86 days) Theta + ETS
    # 0.55 vs 0.58
    assert result["chosen"] != "seasonal naive"
    assert result["accuracy"]["wape"] < result["baseline"]["accuracy"]["wape"]
    assert result["beats_baseline"] is True
    assert result["history_end"] == "2011-12-09"
    assert result["forecast"]["date"][0] == "2011-12-10"
    assert 0.5 <= result["interval_coverage"] <= 1
    assert result["sentence"].startswith("£")


def test_a_period_forecasts_from_its_end_with_the_history_before_it(online_retail_warehouse):
    november = Filters(start=pd.Timestamp("2011-11-01").date(),
                       end=pd.Timestamp("2011-11-30").date())
    result = run_model("forecast", online_retail_warehouse, november, ALL_DATA,
                       {"metric": "orders", "horizon": 14})
    assert result["history_end"] == "2011-11-30"
    assert result["forecast"]["date"][0] == "2011-12-01"
    assert result["history"]["dates"][0] < "2011-01-01"  # not only November's 30 days
    assert result["accuracy"]["wape"] <= result["baseline"]["accuracy"]["wape"]


def test_demo_daily_revenue_beats_seasonal_naive():
    from data.demo import generate_demo
    lines = generate_demo(200_000, seed=42).lines
    day = pd.to_datetime(lines["invoice_ts"]).dt.normalize()
    revenue = (lines["quantity"] * lines["unit_price"]).groupby(day).sum()
    frame = pd.DataFrame({"date": revenue.index, "revenue": revenue.to_numpy()})
    result = forecast_series(frame, "date", "revenue", horizon=30, country_code="GB")
    naive = next(row for row in result.leaderboard if row["model"] == "seasonal naive")
    # measured on 200k lines: Prophet + ETS 0.27 against seasonal naive 0.38
    assert result.accuracy["wape"] < 0.85 * naive["wape"]
