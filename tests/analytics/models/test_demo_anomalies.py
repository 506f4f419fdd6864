"""The anomalies the demo generator plants are found and explained (slow: 200k lines), over
the demo's last year (the planted anomalies lie in it), with Black Friday, Christmas and the
other recurring peaks expected from the years before."""
import datetime as dt

import pandas as pd
import pytest

from analytics.filters import ALL_DATA, Filters
from analytics.models import run_model
from analytics.warehouse import Warehouse

demo = pytest.importorskip("data.demo")
pytestmark = pytest.mark.slow
LAST_YEAR = Filters(start=dt.date(2025, 1, 1), end=dt.date(2025, 12, 31))


@pytest.fixture(scope="module")
def demo_shop(tmp_path_factory):
    data = demo.generate_demo(200_000, 42)
    warehouse = Warehouse(f"duckdb:///{tmp_path_factory.mktemp('demo')}")
    warehouse.publish(data.lines, data.sessions, source="demo")
    yield warehouse, data.anomalies
    warehouse.dispose()


@pytest.mark.parametrize("name", ["bulk order", "price error"])
def test_planted_anomaly_is_found_and_explained(demo_shop, name):
    warehouse, planted = demo_shop
    anomaly = next(a for a in planted if a["name"] == name)
    result = run_model("anomalies", warehouse, LAST_YEAR, ALL_DATA,
                       {"metric": anomaly["metric"]})
    days = {day.date().isoformat() for day in pd.date_range(anomaly["start"], anomaly["end"])}
    found = [a for a in result["anomalies"] if a["date"] in days]
    assert found, f"{name} not found among {[a['date'] for a in result['anomalies']]}"
    ((dimension, value),) = anomaly["dimensions"].items()
    assert found[0]["headline"]["dimension"] == dimension
    assert found[0]["headline"]["value"] == value
    assert found[0]["direction"] == ("above" if anomaly["kind"] == "spike" else "below")


def test_all_planted_anomalies_are_found_in_one_default_run(demo_shop):
    """Shop-wide days name their slice, or the slice monitor finds the slice's days; the
    planted slice anomalies rank among the first 10 of the monitor's findings."""
    warehouse, planted = demo_shop
    result = run_model("anomalies", warehouse, LAST_YEAR, ALL_DATA)
    for anomaly in planted:
        days = {day.date().isoformat()
                for day in pd.date_range(anomaly["start"], anomaly["end"])}
        ((dimension, value),) = anomaly["dimensions"].items()
        direction = "above" if anomaly["kind"] == "spike" else "below"
        shop_wide = [a for a in result["anomalies"] if a["date"] in days
                     and a["headline"]["dimension"] == dimension
                     and a["headline"]["value"] == value]
        in_slice = [rank for rank, a in enumerate(result["slice_anomalies"])
                    if a["dimension"] == dimension and a["value"] == value
                    and a["direction"] == direction
                    and a["start"] <= max(days) and a["end"] >= min(days)]
        assert shop_wide or (in_slice and in_slice[0] < 10), anomaly["name"]
    assert result["slice_metric"] == "orders"
    assert result["slice_anomaly_count"] <= 10  # a year of a busy shop


def test_the_recurring_holiday_peaks_are_not_anomalies(demo_shop):
    """Black Friday (×3.5), Cyber Monday, Boxing Day and Christmas Day (×0.15) recur every
    year: compared with the earlier years they are expected, and the only shop-wide unusual
    days of the year are planted ones."""
    warehouse, planted = demo_shop
    result = run_model("anomalies", warehouse, LAST_YEAR, ALL_DATA)
    assert result["holidays"]["country"] == "GB" and result["holidays"]["earlier_years"] == 3
    planted_days = {day.date().isoformat() for anomaly in planted
                    for day in pd.date_range(anomaly["start"], anomaly["end"])}
    holidays = {"2025-11-27", "2025-11-28", "2025-11-29", "2025-11-30", "2025-12-01",
                "2025-12-24", "2025-12-25", "2025-12-26", "2026-01-01"}
    flagged = {anomaly["date"] for anomaly in result["anomalies"]}
    assert not flagged & holidays, flagged
    assert flagged <= planted_days, flagged - planted_days
