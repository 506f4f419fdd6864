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
