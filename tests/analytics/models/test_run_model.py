"""``run_model`` end to end on a synthetic shop published into a warehouse."""
import json

import pandas as pd
import pytest

from analytics.filters import ALL_DATA, Filters
from analytics.models import MODEL_KINDS, ModelError, run_model
from analytics.models.insights import insights
from analytics.warehouse import Warehouse
from tests.analytics.conftest import publish_lines
from tests.analytics.models.synthetic import shop_lines


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    """400 days of a small shop with a planted rule P00 → P01 and a France spike."""
    warehouse = Warehouse(f"duckdb:///{tmp_path_factory.mktemp('shop')}")
    lines = shop_lines()
    warehouse.publish(lines, source="synthetic")
    yield warehouse, lines
    warehouse.dispose()


def run(kind, warehouse, params=None, filters=Filters()):
    progress = []
    result = run_model(kind, warehouse, filters, ALL_DATA, params or {},
                       lambda pct, msg: progress.append(pct))
    json.dumps(result, allow_nan=False)  # no NaN, no numpy, no Timestamps
    assert progress[0] == 0 and progress[-1] == 100 and progress == sorted(progress)
    assert "accuracy" in result and "baseline" in result
    return result


def test_forecast_round_trip(shop):
    result = run("forecast", shop[0], {"horizon": 30, "metric": "orders"})
    assert len(result["forecast"]["date"]) == 30
    assert result["baseline"]["accuracy"]["rmse"] is not None
    assert result["country_holidays"] == "GB"
    prophet = next(row for row in result["leaderboard"] if row["model"] == "Prophet")
    assert "GB holidays" in prophet["description"]


def test_item_forecast_round_trip(shop):
    warehouse, lines = shop
    result = run("forecast", warehouse, {"horizon": 14, "level": "category", "top_n": 2})
    units = lines.groupby("category")["quantity"].sum().sort_values(ascending=False)
    assert [item["item"] for item in result["items"]] == units.index[:2].tolist()
    assert all(len(item["forecast"]["date"]) == 14 for item in result["items"])
    assert result["metric"] == "units"


def test_clustering_round_trip(shop):
    warehouse, lines = shop
    whole = Filters(start=lines["invoice_ts"].min().date(), end=lines["invoice_ts"].max().date())
    result = run("clustering", warehouse, {"k": 3}, filters=whole)
    assert result["k"] == 3 and len(result["clusters"]) == 3
    assert sum(c["customers"] for c in result["clusters"]) == 300
    assert len(result["assignments"]["customer_id"]) == 300
    assert result["sentence"].startswith("300 customers bought between")


def test_churn_round_trip(shop):
    result = run("churn", shop[0], {"horizon_days": 60})
    assert 0 <= result["accuracy"]["roc_auc"] <= 1
    assert result["customers_total"] == len(result["customers"])
    assert set(result["risk_counts"]) <= {"high", "medium", "low"}
    assert "backtest" in result["clv"]


SPIKE_MONTH = Filters(start=pd.Timestamp("2022-09-01").date(),
                     end=pd.Timestamp("2022-09-30").date())


def test_anomalies_round_trip_finds_and_explains_the_france_spike(shop):
    result = run("anomalies", shop[0], {"metric": "orders"}, filters=SPIKE_MONTH)
    by_day = {anomaly["date"]: anomaly for anomaly in result["anomalies"]}
    spike = by_day["2022-09-14"]
    assert spike["direction"] == "above"
    assert spike["headline"]["dimension"] == "country"
    assert spike["headline"]["value"] == "France"
    assert "France" in spike["sentence"]
    assert spike["sentence"].startswith("On Wed 14 Sep 2022 orders were")
    assert result["period"] == {"start": "2022-09-01", "end": "2022-09-30", "days": 30}
    assert all("2022-09-01" <= anomaly["date"] <= "2022-09-30"
               for anomaly in result["anomalies"])
    france = spike["explanation"]["country"][0]
    assert france["value"] == "France" and france["share"] > 0.6  # other countries are noisy
    assert len(result["monitor"]) == 7


def test_basket_round_trip_finds_the_planted_rule(shop):
    warehouse, lines = shop
    result = run("basket", warehouse, {"min_support": 0.02, "product": "P00"})
    top = result["bundles"][0]
    assert {top["product_a"], top["product_b"]} == {"P00", "P01"}
    # the lift by hand: P(P01 | P00) ÷ P(P01) over the invoices
    baskets = lines.groupby("invoice_id")["product_id"].agg(set)
    with_p00 = baskets[baskets.map(lambda items: "P00" in items)]
    confidence = with_p00.map(lambda items: "P01" in items).mean()
    support_p01 = baskets.map(lambda items: "P01" in items).mean()
    assert top["lift"] == pytest.approx(confidence / support_p01)
    assert top["description_a"] is not None
    assert result["bought_together"]["products"][0]["product_id"] == "P01"
    assert result["accuracy"]["confidence"] > result["baseline"]["holdout_confidence"]


def test_insights_carry_the_numbers_they_state(shop):
    warehouse, lines = shop
    spike_day = pd.Timestamp("2022-09-14")
    period = Filters(start=spike_day.date(), end=spike_day.date())
    anomalies = run("anomalies", warehouse, {"metric": "orders"}, filters=SPIKE_MONTH)
    found = insights(warehouse, period, ALL_DATA, anomalies=anomalies)
    total = found[0]
    assert total.kind == "total"
    values = lines.assign(value=lines["quantity"] * lines["unit_price"],
                          day=lines["invoice_ts"].dt.normalize())
    today = values[values["day"] == spike_day]
    day_before = values[values["day"] == spike_day - pd.Timedelta(days=1)]
    assert total.value == pytest.approx(today["value"].sum())
    assert total.previous == pytest.approx(day_before["value"].sum())
    assert f"{total.value:,.0f}" in total.text
    movers = {insight.dimension: insight for insight in found if insight.kind == "mover"}
    change = (today.groupby("country")["value"].sum()
              .sub(day_before.groupby("country")["value"].sum(), fill_value=0))
    assert movers["country"].subject == change.abs().idxmax() == "France"
    assert movers["country"].change == pytest.approx(change["France"])
    assert movers["country"].value == pytest.approx(
        today[today["country"] == "France"]["value"].sum())
    assert any(insight.kind == "anomaly" and "France" in insight.text for insight in found)


@pytest.mark.parametrize("kind", MODEL_KINDS)
def test_too_little_data_is_a_model_error_for_every_model(tmp_path, kind):
    warehouse = Warehouse(f"duckdb:///{tmp_path}")
    publish_lines(warehouse, [
        {"invoice_id": str(number), "invoice_ts": f"2024-01-0{number} 10:00",
         "customer_id": "A", "product_id": "P1"} for number in range(1, 6)])
    with pytest.raises(ModelError):
        run_model(kind, warehouse, Filters(), ALL_DATA, {})
    warehouse.dispose()


def test_bad_params_are_model_errors_naming_the_parameter(shop):
    with pytest.raises(ModelError, match="horizon"):
        run_model("forecast", shop[0], Filters(), ALL_DATA, {"horizon": 400})
    with pytest.raises(ModelError, match="colour: unknown parameter"):
        run_model("clustering", shop[0], Filters(), ALL_DATA, {"colour": "red"})
    with pytest.raises(ModelError, match="unknown model kind"):
        run_model("telepathy", shop[0], Filters(), ALL_DATA, {})


def test_a_segment_run_sees_only_that_segments_customers(shop):
    from analytics.customers import rfm_table

    warehouse, _ = shop
    champions = Filters(segment="Champions")
    members = set(rfm_table(warehouse, champions, ALL_DATA)["customer_id"])
    assert 20 <= len(members) < 300
    result = run("clustering", warehouse, {"k": 2}, filters=champions)
    assert set(result["assignments"]["customer_id"]) == members
