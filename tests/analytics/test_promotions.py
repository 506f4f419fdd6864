"""Promotion impact (analytics.promotions, docs/promotions.md) worked out by hand, on DuckDB
and PostgreSQL.

The store (period 2024-01-08…14, previous period 2024-01-01…07):

| invoice | day   | customer | country | lines    | discount | unit cost |
|---------|-------|----------|---------|----------|----------|-----------|
| A1      | 01-02 | C1       | FR      | 1 × 40   | 10       | 20        |  previous; C1 new
| B1      | 01-09 | C1       | FR      | 2 × 50   | 0        | 30        |
| B2      | 01-10 | C2       | GB      | 1 × 60   | 15       | 40        |  C2 new, on discount
| B3      | 01-11 | C3       | FR      | 3 × 20   | 0        | 10        |  C3 new, full price
| CB3     | 01-12 | C3       | FR      | −1 × 20  | —        | 10        |  a credit note
| B5      | 01-13 | C3       | FR      | 1 × 30   | 5        | 10        |

Period: discounted B2, B5 (60 + 30 = 90, AOV 45, cost 50: margin 40/90); full price B1,
B3 (100 + 60 = 160, AOV 80, cost 90: margin 70/160); CB3 is no order (in neither group).
Given away 15 + 5 = 20 of gross 250 (0.08). Acquired: C2 on discount (1 order of 60, no
repeat), C3 at full price (B3 and B5: AOV 45, repeat 1.0).
Previous period: A1 only (discounted 40, margin 0.5, given 10 of 40); C1 acquired on a
discount, whose orders in the data are A1 and B1 (AOV 70, repeat 1.0).
"""
from __future__ import annotations

import datetime as dt

import duckdb
import pytest
import sqlalchemy as sa

from analytics import promotions
from analytics.filters import ALL_DATA, Filters, Scope
from data.loader import load_file
from tests.analytics.conftest import publish_lines
from tests.data.test_discounts import SHOPIFY
from tests.data.test_platform_formats import write

PERIOD = Filters(start=dt.date(2024, 1, 8), end=dt.date(2024, 1, 14))
FR = {"country": "France", "country_code": "FR"}
GB = {"country": "United Kingdom", "country_code": "GB"}


def _line(invoice, day, customer, country, quantity, price, discount, cost):
    return {"invoice_id": invoice, "invoice_ts": f"2024-01-{day} 10:00",
            "customer_id": customer, "quantity": quantity, "unit_price": price,
            "discount": discount, "unit_cost": cost, **country}


LINES = [
    _line("A1", "02", "C1", FR, 1, 40.0, 10.0, 20.0),
    _line("B1", "09", "C1", FR, 2, 50.0, 0.0, 30.0),
    _line("B2", "10", "C2", GB, 1, 60.0, 15.0, 40.0),
    _line("B3", "11", "C3", FR, 3, 20.0, 0.0, 10.0),
    _line("CB3", "12", "C3", FR, -1, 20.0, None, 10.0),
    _line("B5", "13", "C3", FR, 1, 30.0, 5.0, 10.0),
]


def _values(summary, which="current") -> dict:
    return {name: getattr(kpi, which) for name, kpi in summary.kpis.items()}


def test_promotion_numbers_by_hand(warehouse):
    publish_lines(warehouse, LINES)
    summary = promotions.promotion_summary(warehouse, PERIOD, ALL_DATA)
    assert summary.has_discounts
    assert _values(summary) == pytest.approx({
        "discounted_orders": 2, "full_price_orders": 2, "discounted_order_share": 0.5,
        "discounted_revenue": 90.0, "full_price_revenue": 160.0,
        "discounted_aov": 45.0, "full_price_aov": 80.0,
        "discount_given": 20.0, "discount_share": 0.08,
        "discounted_margin": 40 / 90, "full_price_margin": 70 / 160,
        "acquired_on_discount": 1, "acquired_full_price": 1,
        "acquired_on_discount_aov": 60.0, "acquired_full_price_aov": 45.0,
        "acquired_on_discount_repeat_rate": 0.0, "acquired_full_price_repeat_rate": 1.0})
    previous = _values(summary, "previous")
    assert previous == {
        "discounted_orders": 1, "full_price_orders": 0, "discounted_order_share": 1.0,
        "discounted_revenue": pytest.approx(40.0), "full_price_revenue": 0.0,
        "discounted_aov": pytest.approx(40.0), "full_price_aov": None,
        "discount_given": pytest.approx(10.0), "discount_share": pytest.approx(0.25),
        "discounted_margin": pytest.approx(0.5), "full_price_margin": None,
        "acquired_on_discount": 1, "acquired_full_price": 0,
        "acquired_on_discount_aov": pytest.approx(70.0), "acquired_full_price_aov": None,
        "acquired_on_discount_repeat_rate": 1.0, "acquired_full_price_repeat_rate": None}
    assert summary["full_price_aov"].reason == \
        f"previous period: {promotions.NO_FULL_PRICE}"
    assert summary.to_dict()["kpis"]["discount_given"]["current"] == pytest.approx(20.0)


def test_a_country_scope_keeps_its_own_orders_and_customers(warehouse):
    publish_lines(warehouse, LINES)
    summary = promotions.promotion_summary(warehouse, PERIOD, Scope(frozenset({"FR"})))
    values = _values(summary)
    # B2 (GB) is gone: discounted B5 only, full price B1 and B3; C2 was acquired in GB
    assert values["discounted_orders"] == 1 and values["full_price_orders"] == 2
    assert values["discounted_order_share"] == pytest.approx(1 / 3)
    assert values["discount_given"] == pytest.approx(5.0)
    assert values["acquired_on_discount"] == 0 and values["acquired_full_price"] == 1
    assert values["acquired_on_discount_aov"] is None
    assert summary["acquired_on_discount_aov"].reason == promotions.NO_ACQUIRED_DISCOUNT


def test_the_shopify_export_by_hand(warehouse, tmp_path):
    """tests/data/test_discounts.py's store: #2001 (ann, 90 after 10 off) and #2003 (ann,
    60 after 20 off) discounted, #2002 (bob, 50, 10 refunded) full price."""
    load_file(warehouse, write(tmp_path, "orders_export.csv", SHOPIFY), format="shopify")
    march = Filters(start=dt.date(2024, 3, 1), end=dt.date(2024, 3, 31))
    values = _values(promotions.promotion_summary(warehouse, march, ALL_DATA))
    assert values == pytest.approx({
        "discounted_orders": 2, "full_price_orders": 1, "discounted_order_share": 2 / 3,
        "discounted_revenue": 150.0, "full_price_revenue": 40.0,
        "discounted_aov": 75.0, "full_price_aov": 50.0,
        "discount_given": 30.0, "discount_share": 30 / 200,
        "discounted_margin": None, "full_price_margin": None,
        "acquired_on_discount": 1, "acquired_full_price": 1,
        "acquired_on_discount_aov": 75.0, "acquired_full_price_aov": 50.0,
        "acquired_on_discount_repeat_rate": 1.0, "acquired_full_price_repeat_rate": 0.0})


def test_data_without_discount_information_is_empty_and_says_what_to_map(warehouse):
    publish_lines(warehouse, [{**line, "discount": None} for line in LINES])
    summary = promotions.promotion_summary(warehouse, PERIOD, ALL_DATA)
    assert not summary.has_discounts
    assert all(kpi.current is None and kpi.reason == promotions.NO_DISCOUNT_DATA
               for kpi in summary.kpis.values())
    assert summary.notes == (promotions.MAP_DISCOUNTS,)
    assert "order_discount" in promotions.MAP_DISCOUNTS


def _drop_discount_column(warehouse) -> None:
    """Make the current version look like one published before the column existed."""
    version = warehouse.require_version()
    if warehouse.kind == "duckdb":
        warehouse.dispose()
        con = duckdb.connect(str(warehouse.version_path(version)))
        con.execute("ALTER TABLE fact_lines DROP COLUMN discount")
        con.close()
    elif warehouse.kind == "chdb":
        with warehouse.connect(version) as conn:
            conn.execute(sa.text("ALTER TABLE fact_lines DROP COLUMN discount"))
    else:
        with warehouse._pg().begin() as conn:
            conn.execute(sa.text(f'ALTER TABLE "{warehouse.pg_schema(version)}".fact_lines '
                                 "DROP COLUMN discount"))


def test_a_version_published_before_the_column_reads_it_as_null(warehouse):
    publish_lines(warehouse, LINES)
    _drop_discount_column(warehouse)
    lines = warehouse.read_lines()
    assert len(lines) == len(LINES) and lines["discount"].isna().all()
    summary = promotions.promotion_summary(warehouse, PERIOD, ALL_DATA)
    assert not summary.has_discounts
    assert summary["discounted_orders"].current is None
    assert summary.notes == (promotions.MAP_DISCOUNTS,)


def test_filters_that_leave_no_order_give_zeros_not_missing_information(warehouse):
    publish_lines(warehouse, LINES)
    filtered = Filters(start=PERIOD.start, end=PERIOD.end, categories=("Lamps",))
    summary = promotions.promotion_summary(warehouse, filtered, ALL_DATA)
    assert summary.has_discounts and summary.notes == ()
    assert summary["discounted_orders"].current == 0
    assert summary["discount_given"].current == 0
    assert summary["discounted_order_share"].reason == promotions.NO_ORDERS


def test_a_first_order_is_the_earliest_then_the_smallest_invoice_id(warehouse):
    # C4 places two orders at the same instant: "B10" (full price) sorts before "B9"
    # (discounted) by code point, so C4 was acquired at full price; C5 first bought in the
    # previous period (GB), so a country filter on France sees C5's first order in the
    # period, and without filters C5 is no new customer of the period
    publish_lines(warehouse, [
        *LINES,
        _line("B9", "09", "C4", FR, 1, 80.0, 20.0, 10.0),
        _line("B10", "09", "C4", FR, 1, 70.0, 0.0, 10.0),
        _line("A5", "03", "C5", GB, 1, 10.0, 0.0, 5.0),
        _line("B11", "12", "C5", FR, 1, 90.0, 30.0, 5.0),
    ])
    values = _values(promotions.promotion_summary(warehouse, PERIOD, ALL_DATA))
    # acquired at full price: C3 (B3, B5) and C4 (B9, B10); on a discount: C2 only
    assert values["acquired_full_price"] == 2 and values["acquired_on_discount"] == 1
    assert values["acquired_full_price_aov"] == pytest.approx((60 + 30 + 80 + 70) / 4)
    assert values["acquired_full_price_repeat_rate"] == pytest.approx(1.0)
    france = Filters(start=PERIOD.start, end=PERIOD.end, countries=("France",))
    values = _values(promotions.promotion_summary(warehouse, france, ALL_DATA))
    # in France: C3 and C4 at full price, C5 on a discount (B11); C2 bought in GB
    assert values["acquired_full_price"] == 2 and values["acquired_on_discount"] == 1
    assert values["acquired_on_discount_aov"] == pytest.approx(90.0)
    assert values["acquired_on_discount_repeat_rate"] == pytest.approx(0.0)
