"""The rollup planner (``measures.source_for``): which table it picks, what it adds up, and
that every answer it gives equals the facts' answer, on both engines.

The store is built to break naive additivity: invoice 1 has lines in two categories (orders
do not add up over categories), customer A buys in two countries and on two channels on the
same day (customers do not add up over countries within a day), and A returns an item at
09:00 before their first sale at 10:00 that day (LTV must start at the sale, not the day).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pandas as pd
import pytest

from analytics import measures, planner, rollups, schema
from analytics.breakdowns import breakdown
from analytics.customers import rfm_table
from analytics.filters import ALL_DATA, Filters, Scope
from analytics.kpis import kpi_summary
from analytics.products import category_performance
from analytics.series import time_series
from tests.analytics.conftest import publish_lines

GB = {"country": "United Kingdom", "country_code": "GB"}
FR = {"country": "France", "country_code": "FR"}
DE = {"country": "Germany", "country_code": "DE"}
JANUARY = Filters(start=dt.date(2011, 1, 1), end=dt.date(2011, 1, 31))

LINES = [
    # A: first sale 2011-01-10 10:00 (two categories in one invoice), a return at 09:00 the
    # same day, and a second invoice in France on another channel the same day
    {"invoice_id": "1", "invoice_ts": "2011-01-10 10:00", "customer_id": "A",
     "product_id": "P1", "quantity": 2, "unit_price": 10, "category": "Toys",
     "channel": "web", **GB},
    {"invoice_id": "1", "invoice_ts": "2011-01-10 10:00", "customer_id": "A",
     "product_id": "P2", "quantity": 1, "unit_price": 6, "category": "Books",
     "channel": "web", **GB},
    {"invoice_id": "C3", "invoice_ts": "2011-01-10 09:00", "customer_id": "A",
     "product_id": "P1", "quantity": -1, "unit_price": 10, "category": "Toys",
     "channel": "web", **GB},
    {"invoice_id": "2", "invoice_ts": "2011-01-10 12:00", "customer_id": "A",
     "product_id": "P2", "quantity": 1, "unit_price": 5, "category": "Books",
     "channel": "app", **FR},
    # B: bought in December and twice in January (a repeat customer)
    {"invoice_id": "4", "invoice_ts": "2010-12-20 10:00", "customer_id": "B",
     "product_id": "P1", "quantity": 3, "unit_price": 4, "category": "Toys",
     "channel": "web", **DE},
    {"invoice_id": "5", "invoice_ts": "2011-01-15 10:00", "customer_id": "B",
     "product_id": "P2", "quantity": 2, "unit_price": 3, "category": "Books",
     "channel": "store", **DE},
    {"invoice_id": "9", "invoice_ts": "2011-01-20 15:00", "customer_id": "B",
     "product_id": "P1", "quantity": 1, "unit_price": 2, "category": "Toys",
     "channel": "web", **DE},
    # C: December only (churns); D: a year earlier (last year's series); a guest in January
    {"invoice_id": "6", "invoice_ts": "2010-12-22 10:00", "customer_id": "C",
     "product_id": "P1", "quantity": 1, "unit_price": 8, "category": "Toys",
     "channel": "web", **GB},
    {"invoice_id": "8", "invoice_ts": "2010-01-05 10:00", "customer_id": "D",
     "product_id": "P1", "quantity": 1, "unit_price": 3, "category": "Toys",
     "channel": "web", **GB},
    {"invoice_id": "7", "invoice_ts": "2011-01-20 11:00", "customer_id": None,
     "product_id": "P2", "quantity": 1, "unit_price": 7, "category": "Books",
     "channel": "web", **GB},
    # a free gift: counted nowhere
    {"invoice_id": "10", "invoice_ts": "2011-01-12 10:00", "customer_id": "E",
     "product_id": "P1", "quantity": 1, "unit_price": 0, "category": "Toys",
     "channel": "web", **GB},
]

#: (filters, scope) pairs covering every day-grain rollup, the full one and the scope.
CASES = [
    (JANUARY, ALL_DATA),
    (replace(JANUARY, countries=("GB",)), ALL_DATA),
    (replace(JANUARY, countries=("GB", "France")), ALL_DATA),
    (replace(JANUARY, categories=("Toys",)), ALL_DATA),
    (replace(JANUARY, categories=("Toys", "Books")), ALL_DATA),
    (replace(JANUARY, channels=("web",)), ALL_DATA),
    (replace(JANUARY, channels=("web", "app")), ALL_DATA),
    (replace(JANUARY, countries=("GB",), categories=("Toys", "Books")), ALL_DATA),
    (replace(JANUARY, countries=("GB",), channels=("web",)), ALL_DATA),
    (JANUARY, Scope.of(["GB", "FR"])),
    # a segment's customers on the per-invoice rollup
    (replace(JANUARY, segment="Champions"), ALL_DATA),
    (replace(JANUARY, segment="Champions", categories=("Books",)), ALL_DATA),
    (replace(JANUARY, segment="Champions", min_price=5.0), ALL_DATA),
]


@pytest.fixture
def store(warehouse):
    publish_lines(warehouse, LINES)
    return warehouse


def test_the_loader_records_what_adds_up(store):
    meta = planner.rollup_meta(store, store.require_version())
    assert meta.flag("single_day_invoices")
    assert meta.flag("invoice_level:country") and meta.flag("invoice_level:channel")
    assert not meta.flag("invoice_level:category")          # invoice 1 has two
    assert not meta.flag("customer_day_level:country")      # A: GB and FR on one day
    assert not meta.flag("customer_level:channel")
    assert meta.rows(rollups.DAY_TABLES[()]) == 6            # days with counted lines


def test_the_planner_picks_the_smallest_covering_rollup(store):
    def plan(filters, scope=ALL_DATA, **options):
        return measures.source_for(store, filters, scope, **options)

    assert plan(JANUARY).sums is rollups.DAY_TABLES[()]
    assert plan(JANUARY).orders_summable and plan(JANUARY).customers_summable
    by_country = plan(replace(JANUARY, countries=("GB", "France")))
    assert by_country.sums is rollups.DAY_TABLES[("country",)]
    assert by_country.orders_summable and not by_country.customers_summable
    assert plan(JANUARY, Scope.of(["GB"])).sums is rollups.DAY_TABLES[("country",)]
    one_category = plan(replace(JANUARY, categories=("Toys",)))
    assert one_category.sums is rollups.DAY_TABLES[("category",)]
    assert one_category.orders_summable and one_category.customer_days is None
    assert not plan(replace(JANUARY, categories=("Toys", "Books"))).orders_summable
    assert plan(JANUARY, group_by=("category",)).orders_summable   # one value per group
    assert plan(replace(JANUARY, countries=("GB",)), group_by=("category",)).sums is \
        rollups.DAY_TABLES[("country", "category")]
    assert plan(replace(JANUARY, countries=("GB",), channels=("web",))).sums is \
        schema.rollup_daily
    assert plan(replace(JANUARY, min_price=1.0)).facts
    # a segment reads the rollups that hold a customer per row
    assert plan(replace(JANUARY, segment="Lost")).sums is schema.rollup_invoice
    assert plan(replace(JANUARY, segment="Lost", countries=("GB",))).customer_days is \
        rollups.customer_day
    with rollups.facts_only():
        assert plan(JANUARY).facts
    # distinct orders and customers: one row per order, its categories as bits
    assert plan(replace(JANUARY, categories=("Toys", "Books"))).orders is rollups.orders
    assert plan(replace(JANUARY, channels=("web",), segment="Lost")).orders is rollups.orders
    assert plan(JANUARY, group_by=("category",)).orders is None     # not kept per order
    assert plan(replace(JANUARY, min_price=1.0)).orders is None     # the lines themselves


def test_hand_worked_answers_where_naive_sums_would_be_wrong(store):
    both = replace(JANUARY, categories=("Toys", "Books"))
    # orders with a sale line in January: 1, 2, 5, 7, 9 (invoice 1 once, not per category)
    assert kpi_summary(store, both, ALL_DATA)["orders"].current == 5
    days = time_series(store, replace(JANUARY, countries=("GB", "France")), ALL_DATA)
    on_the_10th = days.set_index("period_start").loc[dt.date(2011, 1, 10)]
    assert on_the_10th["customers"] == 1          # A, in two countries
    assert on_the_10th["orders"] == 2             # invoices 1 and 2
    summary = kpi_summary(store, JANUARY, ALL_DATA)
    # LTV from the first sale line: A 26 + 5 (the 09:00 return is before it), B 12 + 6 + 2
    assert summary["ltv"].current == pytest.approx((31 + 20) / 2)
    assert summary["churn_rate"].current == pytest.approx(1 / 2)   # C of {B, C}
    assert summary["repeat_rate"].current == pytest.approx(2 / 2)  # A: 1, 2; B: 5, 9
    french = kpi_summary(store, replace(JANUARY, countries=("FR", "DE")), ALL_DATA)
    assert french["repeat_rate"].current == pytest.approx(1 / 2)   # B of {A, B}


@pytest.mark.parametrize("case", range(len(CASES)))
def test_every_panel_equals_the_facts(store, case):
    filters, scope = CASES[case]
    planned = _panels(store, filters, scope)
    with rollups.facts_only():
        from_facts = _panels(store, filters, scope)
    assert planned["kpis"] == pytest.approx(from_facts["kpis"], nan_ok=True)
    for name, frame in planned.items():
        if name != "kpis":
            pd.testing.assert_frame_equal(frame, from_facts[name], check_dtype=False,
                                          obj=name)


def _panels(store, filters: Filters, scope: Scope) -> dict:
    summary = kpi_summary(store, filters, scope)
    panels = {"kpis": [value for kpi in summary.kpis.values()
                       for value in (kpi.current, kpi.previous)]}
    panels["kpis"] = [float("nan") if value is None else value for value in panels["kpis"]]
    for grain in ("day", "week", "month"):
        panels[f"series_{grain}"] = time_series(store, filters, scope, grain=grain)
        panels[f"history_{grain}"] = time_series(store, filters, scope, grain=grain,
                                                 history=True)
    panels["countries"] = breakdown(store, filters, scope, "country", top=1)
    panels["channels"] = breakdown(store, filters, scope, "channel")
    panels["categories"] = category_performance(store, filters, scope)
    panels["rfm"] = rfm_table(store, filters, scope)
    return panels


def test_a_chosen_code_is_matched_by_the_code_column_alone_where_that_is_exact(store):
    # no country of LINES is written as two capitals, so "GB" can only be a code: the
    # name column need not be searched for it (one IN list per row instead of an OR of two)
    meta = planner.rollup_meta(store, store.require_version())
    assert meta.flag("codes_exact:country")
    source = measures.source_for(store, replace(JANUARY, countries=("GB", "France")),
                                 ALL_DATA)
    assert source.exact_codes == {"country"}
    table = source.sums
    where = " AND ".join(str(c.compile(compile_kwargs={"literal_binds": True}))
                         for c in source.where(table, replace(
                             JANUARY, countries=("GB", "France")), ALL_DATA))
    assert f"{table.name}.country_code IN ('GB')" in where
    assert f"{table.name}.country IN ('France')" in where        # a name: by name
    assert "'GB', 'France'" not in where and "('France', 'GB')" not in where
    # the answer is the hand-worked one: GB and France in January are invoices 1, 2, 7
    both = kpi_summary(store, replace(JANUARY, countries=("GB", "France")), ALL_DATA)
    assert both["orders"].current == 3


def test_a_name_written_like_another_code_keeps_matching_by_name(warehouse):
    # a store that writes the United Kingdom as "UK" (its ISO code is GB): "UK" looks like a
    # code, so a filter on "UK" must still search the name column, in every table
    uk = {"country": "UK", "country_code": "GB"}
    lines = [*LINES,
             {"invoice_id": "11", "invoice_ts": "2011-01-21 10:00", "customer_id": "F",
              "product_id": "P1", "quantity": 1, "unit_price": 9, "category": "Toys",
              "channel": "web", **uk}]
    publish_lines(warehouse, lines)
    meta = planner.rollup_meta(warehouse, warehouse.require_version())
    assert not meta.flag("codes_exact:country")
    filters = replace(JANUARY, countries=("UK",))
    assert measures.source_for(warehouse, filters, ALL_DATA).exact_codes == frozenset()
    summary = kpi_summary(warehouse, filters, ALL_DATA)
    assert summary["orders"].current == 1 and summary["revenue"].current == 9
    # "GB" is the code of both spellings: invoices 1, 7 (United Kingdom) and 11 (UK)
    assert kpi_summary(warehouse, replace(JANUARY, countries=("GB",)),
                       ALL_DATA)["orders"].current == 3
    days = time_series(warehouse, filters, ALL_DATA, history=True, grain="month")
    assert days.set_index("period_start").loc[dt.date(2011, 1, 1), "revenue"] == 9
    assert list(rfm_table(warehouse, filters, ALL_DATA)["customer_id"]) == ["F"]


def test_orders_are_counted_once_whatever_their_categories(store):
    # invoice 1 has sale lines in Toys and Books: one order, under either or both
    history = Filters(start=dt.date(2010, 1, 1), end=dt.date(2011, 1, 31))
    toys_or_books = replace(history, categories=("Toys", "Books"))
    months = time_series(store, toys_or_books, ALL_DATA, grain="month").set_index(
        "period_start")
    # January 2011: invoices 1, 2, 5, 7, 9 (10 is a free gift, C3 a return)
    assert months.loc[dt.date(2011, 1, 1), "orders"] == 5
    assert months.loc[dt.date(2011, 1, 1), "customers"] == 2        # A and B (7: a guest)
    books = time_series(store, replace(history, categories=("Books",)), ALL_DATA,
                        grain="month").set_index("period_start")
    assert books.loc[dt.date(2011, 1, 1), "orders"] == 4            # 1, 2, 5, 7
    nothing = time_series(store, replace(history, categories=("Garden",)), ALL_DATA,
                          grain="month")
    assert nothing["orders"].sum() == 0


def test_past_the_bits_a_category_filter_reads_the_per_invoice_rollup(warehouse):
    # 63 categories: more than a BIGINT's bits; a category filter then counts orders on
    # the per-invoice rollup, and the answers are the same
    lines = [{"invoice_id": str(number), "invoice_ts": f"2011-01-{1 + number % 28:02d} 10:00",
              "customer_id": f"C{number % 5}", "product_id": "P1", "quantity": 1,
              "unit_price": 2, "category": f"Category {number:02d}", "channel": "web", **GB}
             for number in range(rollups.ORDER_CATEGORY_BITS + 1)]
    lines.append({**lines[0], "product_id": "P2", "category": "Category 62"})  # two in #0
    publish_lines(warehouse, lines)
    meta = planner.rollup_meta(warehouse, warehouse.require_version())
    assert not meta.flag("order_categories") and meta.flag("one_row_per_order")
    chosen = replace(JANUARY, categories=("Category 00", "Category 62"))
    assert measures.source_for(warehouse, chosen, ALL_DATA).orders is None
    assert measures.source_for(warehouse, JANUARY, ALL_DATA).orders is rollups.orders
    months = time_series(warehouse, chosen, ALL_DATA, grain="month", history=True)
    assert months["orders"].sum() == 2           # invoices 0 and 62; 0 once
    with rollups.facts_only():
        from_facts = time_series(warehouse, chosen, ALL_DATA, grain="month", history=True)
    pd.testing.assert_frame_equal(months, from_facts, check_dtype=False)


def test_an_invoice_of_two_customers_is_not_read_as_one_order(warehouse):
    lines = [*LINES, {**LINES[0], "customer_id": "Z", "product_id": "P3"}]  # invoice 1 again
    publish_lines(warehouse, lines)
    meta = planner.rollup_meta(warehouse, warehouse.require_version())
    assert not meta.flag("one_row_per_order")
    both = replace(JANUARY, categories=("Toys", "Books"))
    assert measures.source_for(warehouse, both, ALL_DATA).orders is None
    days = time_series(warehouse, both, ALL_DATA).set_index("period_start")
    assert days.loc[dt.date(2011, 1, 10), "orders"] == 2          # invoices 1 and 2
    assert days.loc[dt.date(2011, 1, 10), "customers"] == 2       # A and Z
