"""The model inputs on hand-made data, on DuckDB and PostgreSQL (the same SQL)."""
import datetime as dt

import pytest

from analytics.filters import ALL_DATA, Filters, Scope
from analytics.models import inputs
from tests.analytics.conftest import publish_lines

ROWS = [
    # invoice 1 (day 1): two sale lines, customer A, France
    {"invoice_id": "1", "invoice_ts": "2024-03-01 10:00", "customer_id": "A", "product_id": "P1",
     "quantity": 2.0, "unit_price": 5.0, "country": "France", "country_code": "FR",
     "category": "Toys", "channel": "web"},
    {"invoice_id": "1", "invoice_ts": "2024-03-01 10:00", "customer_id": "A", "product_id": "P2",
     "quantity": 1.0, "unit_price": 20.0, "country": "France", "country_code": "FR",
     "category": "Home", "channel": "web"},
    # invoice C2 (day 1): cancellation of one P1 by A
    {"invoice_id": "C2", "invoice_ts": "2024-03-01 12:00", "customer_id": "A", "product_id": "P1",
     "quantity": -1.0, "unit_price": 5.0, "country": "France", "country_code": "FR",
     "category": "Toys", "channel": "web"},
    # invoice 3 (day 3): customer B, UK; a zero-price line that no metric counts
    {"invoice_id": "3", "invoice_ts": "2024-03-03 09:00", "customer_id": "B", "product_id": "P1",
     "quantity": 4.0, "unit_price": 5.0, "category": "Toys", "channel": "store"},
    {"invoice_id": "3", "invoice_ts": "2024-03-03 09:00", "customer_id": "B", "product_id": "P9",
     "quantity": 1.0, "unit_price": 0.0},
    # invoice 4 (day 3): guest (no customer)
    {"invoice_id": "4", "invoice_ts": "2024-03-03 15:00", "product_id": "P2",
     "quantity": 1.0, "unit_price": 20.0, "category": "Home", "channel": "web"},
]


@pytest.fixture
def published(warehouse):
    publish_lines(warehouse, ROWS)
    return warehouse


def test_daily_series_follows_metrics_md(published):
    daily = inputs.daily_series(published, Filters(), ALL_DATA)
    assert daily["date"].dt.date.tolist() == [dt.date(2024, 3, d) for d in (1, 2, 3)]
    # day 1: gross 10 + 20 = 30, returns 5 → net 25; one order; 3 units
    # day 2: no lines → zeros; day 3: gross 20 + 20 = 40, two orders, 5 units
    assert daily["revenue"].tolist() == [25.0, 0.0, 40.0]
    assert daily["gross_revenue"].tolist() == [30.0, 0.0, 40.0]
    assert daily["returns"].tolist() == [5.0, 0.0, 0.0]
    assert daily["orders"].tolist() == [1.0, 0.0, 2.0]
    assert daily["units"].tolist() == [3.0, 0.0, 5.0]
    assert daily["aov"].iloc[0] == 30.0 and daily["aov"].isna().iloc[1]


def test_filters_and_scope_restrict_every_input(published):
    french = inputs.daily_series(published, Filters(countries=("FR",)), ALL_DATA)
    assert french["revenue"].tolist() == [25.0]
    scoped = inputs.daily_series(published, Filters(), Scope.of(["GB"]))
    assert scoped["revenue"].tolist() == [40.0]
    nothing = inputs.customer_invoices(published, Filters(), Scope.of([]))
    assert nothing.empty


def test_customer_invoices_and_first_purchases(published):
    invoices = inputs.customer_invoices(published, Filters(), ALL_DATA)
    rows = {row.invoice_id: row for row in invoices.itertuples()}
    assert set(rows) == {"1", "C2", "3"}     # the guest invoice has no customer
    assert rows["1"].net_value == 30.0 and rows["1"].is_order
    assert rows["C2"].net_value == -5.0 and rows["C2"].returns_value == 5.0
    assert not rows["C2"].is_order
    assert rows["3"].gross_value == 20.0 and rows["3"].units == 4.0
    first = inputs.customer_first_purchases(published, Filters(), ALL_DATA)
    assert sorted(zip(first["customer_id"], first["product_id"], first["category"])) == [
        ("A", "P1", "Toys"), ("A", "P2", "Home"), ("B", "P1", "Toys")]


def test_baskets_breakdowns_and_top_items(published):
    baskets = inputs.invoice_products(published, Filters(), ALL_DATA)
    assert sorted(zip(baskets["invoice_id"], baskets["product_id"])) == [
        ("1", "P1"), ("1", "P2"), ("3", "P1"), ("4", "P2")]
    breakdown = inputs.daily_breakdown(published, Filters(), ALL_DATA, "country",
                                       [dt.date(2024, 3, 1), dt.date(2024, 3, 3)])
    by_country = {(row.date.day, row.value): row.revenue for row in breakdown.itertuples()}
    assert by_country == {(1, "France"): 25.0, (3, "United Kingdom"): 40.0}
    top = inputs.top_items(published, Filters(), ALL_DATA, "product", 1)
    assert top["item"].tolist() == ["P1"] and top["units"].tolist() == [6.0]
    categories = inputs.top_items(published, Filters(), ALL_DATA, "category", 5)
    assert categories.set_index("item")["units"].to_dict() == {"Toys": 6.0, "Home": 2.0}
    countries = inputs.revenue_by_country_code(published, Filters(), ALL_DATA)
    assert countries["country_code"].tolist() == ["GB", "FR"]
    assert inputs.data_date_range(published, Filters(), ALL_DATA) == (
        dt.date(2024, 3, 1), dt.date(2024, 3, 3))


def test_slice_daily_series_keeps_the_top_values_from_a_day_on(published):
    # Home: 20 (invoice 1) + 20 (guest invoice 4) = 40; Toys: 10 − 5 (return) + 20 = 25
    home = inputs.slice_daily_series(published, Filters(), ALL_DATA, "category", 1,
                                     dt.date(2024, 3, 1))
    assert home["value"].tolist() == ["Home", "Home"]
    assert home["date"].dt.day.tolist() == [1, 3]
    assert home["revenue"].tolist() == [20.0, 20.0]
    assert home["orders"].tolist() == [1.0, 1.0] and home["units"].tolist() == [1.0, 1.0]
    # from day 3 on both categories made 20: the tie goes to the first name
    tie = inputs.slice_daily_series(published, Filters(), ALL_DATA, "category", 1,
                                    dt.date(2024, 3, 3))
    assert tie["value"].tolist() == ["Home"]
    channels = inputs.slice_daily_series(published, Filters(), ALL_DATA, "channel", 8,
                                         dt.date(2024, 3, 1))
    rows = {(row.value, row.date.day): (row.revenue, row.gross_revenue, row.orders)
            for row in channels.itertuples()}
    assert rows == {("web", 1): (25.0, 30.0, 1.0), ("web", 3): (20.0, 20.0, 1.0),
                    ("store", 3): (20.0, 20.0, 1.0)}
    french = inputs.slice_daily_series(published, Filters(countries=("FR",)), ALL_DATA,
                                       "channel", 8, dt.date(2024, 3, 1))
    assert french["value"].tolist() == ["web"] and french["revenue"].tolist() == [25.0]


def test_segment_filter_keeps_that_segments_customers_only(published):
    # RFM over the data: A (one order, 25 net, recency 3) is a Loyal Customer, B (one
    # order, 20, recency 1) a Champion; the guest invoice 4 belongs to no segment
    champions = Filters(segment="Champions")
    invoices = inputs.customer_invoices(published, champions, ALL_DATA)
    assert set(invoices["customer_id"]) == {"B"}
    daily = inputs.daily_series(published, champions, ALL_DATA)
    assert daily["date"].dt.day.tolist() == [3] and daily["revenue"].tolist() == [20.0]
    loyal = inputs.daily_series(published, Filters(segment="Loyal Customers"), ALL_DATA)
    assert loyal["revenue"].tolist() == [25.0]   # A's sale and A's return
    baskets = inputs.invoice_products(published, champions, ALL_DATA)
    assert sorted(baskets["invoice_id"]) == ["3"]
    slices = inputs.slice_daily_series(published, champions, ALL_DATA, "channel", 8,
                                       dt.date(2024, 3, 1))
    assert slices["value"].tolist() == ["store"]
