"""Breakdowns by dimension on a hand-made store, both engines; rollups vs facts."""
from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from analytics import rollups
from analytics.breakdowns import DIMENSION_COLUMNS, breakdown
from analytics.filters import ALL_DATA, FilterError, Filters, Scope
from tests.analytics.conftest import publish_lines

PERIOD = Filters(start=dt.date(2011, 1, 1), end=dt.date(2011, 1, 31))
FRANCE = {"country": "France", "country_code": "FR", "city": "Paris"}
GERMANY = {"country": "Germany", "country_code": "DE", "city": "Berlin"}

LINES = [
    {"invoice_id": "1", "invoice_ts": "2011-01-02 10:00", "customer_id": "A",
     "product_id": "P1", "description": "Bear", "quantity": 2, "unit_price": 10,
     "unit_cost": 4, "category": "Toys", "city": "London", "channel": "web"},
    {"invoice_id": "1", "invoice_ts": "2011-01-02 10:00", "customer_id": "A",
     "product_id": "P2", "description": "Book", "quantity": 1, "unit_price": 6,
     "unit_cost": 2, "category": "Books", "city": "London", "channel": "web"},
    {"invoice_id": "2", "invoice_ts": "2011-01-05 10:00", "customer_id": "B",
     "product_id": "P2", "description": "Book", "quantity": 3, "unit_price": 6,
     "unit_cost": 2, "category": "Books", "channel": "store", **FRANCE},
    {"invoice_id": "C3", "invoice_ts": "2011-01-06 10:00", "customer_id": "B",
     "product_id": "P2", "description": "Book", "quantity": -1, "unit_price": 6,
     "unit_cost": 2, "category": "Books", "channel": "store", **FRANCE},
    {"invoice_id": "4", "invoice_ts": "2011-01-07 10:00", "customer_id": "C",
     "product_id": "P3", "description": "Pen", "quantity": 5, "unit_price": 1,
     "category": None, "channel": None, **GERMANY},
    {"invoice_id": "5", "invoice_ts": "2011-01-08 10:00", "customer_id": "A",
     "product_id": "P3", "description": "Pen", "quantity": 2, "unit_price": 1,
     "category": None, "channel": None, **GERMANY},
    {"invoice_id": "6", "invoice_ts": "2011-02-08 10:00", "customer_id": "D",  # outside
     "product_id": "P1", "quantity": 9, "unit_price": 10, "category": "Toys"},
]


@pytest.fixture
def store(warehouse):
    publish_lines(warehouse, LINES)
    return warehouse


def test_country_breakdown(store):
    frame = breakdown(store, PERIOD, ALL_DATA, "country")
    assert list(frame.columns) == ["key", "label", "country_code", "gross_revenue", "returns",
                                   "revenue", "orders", "units", "customers", "profit",
                                   "margin", "share"]
    # UK: 20 + 6 = 26; France: 18 − 6 = 12; Germany: 5 + 2 = 7; total 45
    assert list(frame["key"]) == ["United Kingdom", "France", "Germany"]
    assert list(frame["country_code"]) == ["GB", "FR", "DE"]
    assert list(frame["revenue"]) == pytest.approx([26, 12, 7])
    assert list(frame["returns"]) == pytest.approx([0, 6, 0])
    assert list(frame["orders"]) == [1, 1, 2]
    assert list(frame["customers"]) == [1, 1, 2]
    assert list(frame["share"]) == pytest.approx([26 / 45, 12 / 45, 7 / 45])
    assert frame["profit"].iloc[0] == pytest.approx(26 - (8 + 2))
    assert frame["margin"].iloc[1] == pytest.approx((12 - (6 - 2)) / 12)
    assert pd.isna(frame["profit"].iloc[2])                       # pens have no cost


def test_missing_values_top_and_others(store):
    categories = breakdown(store, PERIOD, ALL_DATA, "category", metric="orders")
    # orders: Books 2 (invoices 1, 2), (none) 2 (4, 5), Toys 1 → ties broken by key
    assert list(categories["key"]) == ["(none)", "Books", "Toys"]
    assert list(categories["orders"]) == [2, 2, 1]

    top = breakdown(store, PERIOD, ALL_DATA, "category", top=1)
    assert list(top["key"]) == ["Toys", "(others)"]
    others = top.iloc[1]
    assert others["label"] == "Others"
    assert others["revenue"] == pytest.approx(6 + 12 + 7)
    assert others["units"] == pytest.approx(1 + 3 + 7)
    # invoices 1, 2, 4, 5 and customers A, B, C: A is in both folded categories, counted once
    assert (others["orders"], others["customers"]) == (4, 3)
    assert others["share"] == pytest.approx(25 / 45)
    assert top["share"].sum() == pytest.approx(1)

    products = breakdown(store, PERIOD, ALL_DATA, "product", top=2)
    assert list(products["key"]) == ["P1", "P2", "(others)"]
    # the rows a top keeps are the first of the whole breakdown (the Geography page's bar
    # chart reads them from the map's answer)
    pd.testing.assert_frame_equal(
        products.iloc[:2], breakdown(store, PERIOD, ALL_DATA, "product").head(2))
    assert list(products["label"]) == ["Bear", "Book", "Others"]
    assert products["customers"].iloc[1] == 2                    # A and B bought P2

    cities = breakdown(store, PERIOD, ALL_DATA, "city")
    assert set(cities["key"]) == {"London", "Paris", "Berlin"}
    channels = breakdown(store, PERIOD, ALL_DATA, "channel")
    assert list(channels["key"]) == ["web", "store", "(none)"]


def test_filters_scope_and_rollups(store):
    scoped = breakdown(store, PERIOD, Scope.of(["FR", "DE"]), "country")
    assert list(scoped["key"]) == ["France", "Germany"]
    assert scoped["share"].sum() == pytest.approx(1)
    nothing = breakdown(store, Filters(start=PERIOD.start, end=PERIOD.end, countries=("US",)),
                        ALL_DATA, "category")
    assert nothing.empty

    for dimension in DIMENSION_COLUMNS:
        with_rollups = breakdown(store, PERIOD, ALL_DATA, dimension, top=2)
        with rollups.facts_only():
            from_facts = breakdown(store, PERIOD, ALL_DATA, dimension, top=2)
        pd.testing.assert_frame_equal(with_rollups, from_facts, check_exact=False)


def test_bad_arguments_are_refused(store):
    with pytest.raises(FilterError, match="dimension"):
        breakdown(store, PERIOD, ALL_DATA, "colour")
    with pytest.raises(FilterError, match="metric"):
        breakdown(store, PERIOD, ALL_DATA, "country", metric="happiness")
