"""Clustering the period's customers: who is in, what is measured from when."""
import datetime as dt

import pandas as pd
import pytest

from analytics.filters import ALL_DATA, Filters
from analytics.models import ModelError, run_model
from analytics.warehouse import Warehouse
from tests.analytics.conftest import publish_lines

MARCH = Filters(start=dt.date(2024, 3, 1), end=dt.date(2024, 3, 31))


def order(number: int, customer: str, day: str, value: float) -> dict:
    return {"invoice_id": f"I{number:04d}", "invoice_ts": f"{day} 10:00",
            "customer_id": customer, "quantity": 1.0, "unit_price": value}


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    """30 customers who bought in March 2024 (IN00…IN29; the first 10 also on 5 June 2023,
    12 September 2023 and 19 January 2024, and IN00 again in April), 8 who bought only in January (BEFORE*), 5 only
    in April (AFTER*)."""
    warehouse = Warehouse(f"duckdb:///{tmp_path_factory.mktemp('periods')}")
    rows, number = [], 0
    for index in range(30):
        customer = f"IN{index:02d}"
        if index < 10:
            for day in ("2023-06-05", "2023-09-12", "2024-01-19"):
                number += 1
                rows.append(order(number, customer, day, 200.0 + 10 * index))
        number += 1
        rows.append(order(number, customer, f"2024-03-{1 + index % 28:02d}", 20.0 + index))
    for index in range(8):
        number += 1
        rows.append(order(number, f"BEFORE{index}", "2024-01-10", 50.0))
    for index in range(5):
        number += 1
        rows.append(order(number, f"AFTER{index}", "2024-04-10", 50.0))
    number += 1
    rows.append(order(number, "IN00", "2024-04-20", 999.0))
    publish_lines(warehouse, rows)
    yield warehouse
    warehouse.dispose()


def test_only_the_periods_customers_are_clustered(shop):
    result = run_model("clustering", shop, MARCH, ALL_DATA, {"k": 2})
    clustered = set(result["assignments"]["customer_id"])
    assert clustered == {f"IN{index:02d}" for index in range(30)}
    assert result["period"] == {"start": "2024-03-01", "end": "2024-03-31", "customers": 30}
    assert sum(cluster["customers"] for cluster in result["clusters"]) == 30
    assert result["sentence"].startswith("30 customers bought between 2024-03-01 and "
                                         "2024-03-31, in 2 segments")


def test_features_run_to_the_periods_end(shop):
    result = run_model("clustering", shop, MARCH, ALL_DATA, {"k": 2})
    points = pd.DataFrame(result["points"]).set_index("customer_id")
    # IN00 bought 3 times before and on 1 March (its April order is after the period)
    assert points.loc["IN00", "recency"] == 30          # 1 March → 31 March
    assert points.loc["IN00", "frequency"] == 4
    assert points.loc["IN00", "monetary"] == pytest.approx(3 * 200.0 + 20.0)
    # IN27 bought once, on 28 March
    assert points.loc["IN27", "recency"] == 3 and points.loc["IN27", "frequency"] == 1
    assert points["recency"].max() <= 30


def test_the_frequent_january_buyers_form_the_high_value_cluster(shop):
    result = run_model("clustering", shop, MARCH, ALL_DATA, {"k": 2})
    clusters = pd.DataFrame(result["clusters"]).set_index("cluster")
    names = dict(zip(result["assignments"]["customer_id"], result["assignments"]["name"]))
    assert {names[f"IN{index:02d}"] for index in range(10)} == {clusters.loc[0, "name"]}
    # 4 orders (≥ max(3, 2 × median 1)), last within 90 days: loyal; top revenue: high value
    assert clusters.loc[0, "name"] == "High value loyal"
    assert clusters.loc[0, "centroid_frequency"] == pytest.approx(4.0)
    assert clusters.loc[1, "name"] == "Low value new"     # first order in March
    assert all(sentence.startswith(name + ":") for name, sentence
               in zip(clusters["name"], clusters["sentence"]))


def test_a_period_without_enough_customers_says_what_to_do(shop):
    april = Filters(start=dt.date(2024, 4, 1), end=dt.date(2024, 4, 30))
    with pytest.raises(ModelError, match="choose a longer period"):
        run_model("clustering", shop, april, ALL_DATA, {})
    empty = Filters(start=dt.date(2024, 2, 1), end=dt.date(2024, 2, 28))
    with pytest.raises(ModelError, match="No identified customer bought between"):
        run_model("clustering", shop, empty, ALL_DATA, {})
