"""The anomalies the demo generator plants are found and explained (slow: 200k lines)."""
import pandas as pd
import pytest

from analytics.filters import ALL_DATA, Filters
from analytics.models import run_model
from analytics.warehouse import Warehouse

demo = pytest.importorskip("data.demo")
pytestmark = pytest.mark.slow


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
    result = run_model("anomalies", warehouse, Filters(), ALL_DATA,
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
    result = run_model("anomalies", warehouse, Filters(), ALL_DATA)
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
    assert result["slice_anomaly_count"] <= 15  # three years of a busy shop
