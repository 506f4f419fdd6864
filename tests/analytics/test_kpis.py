"""KPI definitions of METRICS.md on a hand-made store, worked out by hand, on both engines.

Periods: current 2011-01-11…20, previous 2011-01-01…10, before that 2010-12-22…31.
"""
from __future__ import annotations

import contextlib
import datetime as dt

import pytest

from analytics import rollups
from analytics.filters import ALL_DATA, Filters, Scope
from analytics.kpis import KPI_NAMES, kpi_summary
from tests.analytics.conftest import publish_lines

PERIOD = Filters(start=dt.date(2011, 1, 11), end=dt.date(2011, 1, 20))
FRANCE = {"country": "France", "country_code": "FR"}

LINES = [
    # before the previous period
    {"invoice_id": "I0", "invoice_ts": "2010-12-25 09:00", "customer_id": "A",
     "quantity": 1, "unit_price": 10, "unit_cost": 4},
    # previous period
    {"invoice_id": "I1", "invoice_ts": "2011-01-02 09:00", "customer_id": "A",
     "quantity": 2, "unit_price": 5, "unit_cost": 2},
    {"invoice_id": "I2", "invoice_ts": "2011-01-03 09:00", "customer_id": "B",
     "quantity": 1, "unit_price": 20, "unit_cost": 8},
    {"invoice_id": "I2", "invoice_ts": "2011-01-03 09:00", "customer_id": "B",
     "product_id": "FREE", "quantity": 1, "unit_price": 0},          # price ≤ 0: ignored
    {"invoice_id": "I3", "invoice_ts": "2011-01-04 09:00", "customer_id": None,
     "quantity": 3, "unit_price": 2, "unit_cost": 1},                 # no customer
    # current period
    {"invoice_id": "I4", "invoice_ts": "2011-01-12 09:00", "customer_id": "A",
     "quantity": 1, "unit_price": 30, "unit_cost": 10, "category": "Toys"},
    {"invoice_id": "I5", "invoice_ts": "2011-01-15 09:00", "customer_id": "A",
     "quantity": 2, "unit_price": 10, "unit_cost": 5},
    {"invoice_id": "C6", "invoice_ts": "2011-01-16 09:00", "customer_id": "B",
     "quantity": -1, "unit_price": 20, "unit_cost": 8},               # cancellation
    {"invoice_id": "I7", "invoice_ts": "2011-01-18 09:00", "customer_id": "C",
     "quantity": 4, "unit_price": 5, "unit_cost": 2, **FRANCE},
    {"invoice_id": "I7", "invoice_ts": "2011-01-18 09:00", "customer_id": "C",
     "quantity": -1, "unit_price": 5, "unit_cost": 2, **FRANCE},     # return line, same invoice
    {"invoice_id": "I8", "invoice_ts": "2011-01-19 09:00", "customer_id": "D",
     "quantity": 1, "unit_price": -3},                                # "bad debt": ignored
    # after the period: never counted, not even in LTV
    {"invoice_id": "I9", "invoice_ts": "2011-01-25 09:00", "customer_id": "A",
     "quantity": 1, "unit_price": 100, "unit_cost": 1},
]
SESSIONS = [
    {"session_date": "2011-01-05", "sessions": 40},
    {"session_date": "2011-01-12", "sessions": 50},
    {"session_date": "2011-01-15", "sessions": 50},
]

# worked out by hand from LINES
CURRENT = {
    "gross_revenue": 30 + 20 + 20,                   # I4, I5, I7 sale line
    "returns": 20 + 5,                               # C6, I7 return line
    "revenue": 70 - 25,
    "orders": 3,                                     # I4, I5, I7 (C6 cancels, I8 ignored)
    "aov": 70 / 3,
    "units": 1 + 2 + 4,
    "customers": 2,                                  # A, C
    "profit": 45 - (10 + 10 - 8 + 8 - 2),            # revenue − Σ quantity × unit cost
    "margin": 27 / 45,
    "conversion_rate": 3 / 100,
    "churn_rate": 1 / 2,                             # of A, B (previous) only B stopped
    "ltv": ((10 + 10 + 30 + 20) + (20 - 5)) / 2,     # A since 2010-12-25, C since I7
    "repeat_rate": 1 / 2,                            # A has 2 orders, C has 1
}
PREVIOUS = {
    "gross_revenue": 10 + 20 + 6, "returns": 0, "revenue": 36, "orders": 3, "aov": 12,
    "units": 6, "customers": 2,                      # A, B: I3 has no customer
    "profit": 36 - (4 + 8 + 3), "margin": 21 / 36,
    "conversion_rate": 3 / 40,
    "churn_rate": 0.0,                               # A (before) bought again
    "ltv": ((10 + 10) + 20) / 2,
    "repeat_rate": 0.0,
}


def values(summary, which: str) -> dict:
    return {name: getattr(summary[name], which) for name in KPI_NAMES}


@pytest.fixture
def store(warehouse):
    publish_lines(warehouse, LINES, SESSIONS)
    return warehouse


def test_every_kpi_for_period_and_previous_period(store):
    summary = kpi_summary(store, PERIOD, ALL_DATA)
    assert values(summary, "current") == pytest.approx(CURRENT)
    assert values(summary, "previous") == pytest.approx(PREVIOUS)
    assert (summary.previous_start, summary.previous_end) == (dt.date(2011, 1, 1),
                                                               dt.date(2011, 1, 10))
    assert summary["revenue"].abs_change == pytest.approx(9)
    assert summary["revenue"].rel_change == pytest.approx(9 / 36)
    assert summary["returns"].rel_change is None           # previous is 0
    assert isinstance(summary["orders"].current, int)
    api = summary.to_dict()
    assert api["period"] == {"start": "2011-01-11", "end": "2011-01-20"}
    assert api["previous_period"] == {"start": "2011-01-01", "end": "2011-01-10"}
    assert set(api["kpis"]) == set(KPI_NAMES)
    assert api["kpis"]["orders"] == {"current": 3, "previous": 3, "abs_change": 0,
                                     "rel_change": 0.0, "reason": None}

    # rollups and facts give the same answers
    with rollups.facts_only():
        from_facts = kpi_summary(store, PERIOD, ALL_DATA)
    assert values(from_facts, "current") == pytest.approx(values(summary, "current"))
    assert values(from_facts, "previous") == pytest.approx(values(summary, "previous"))


def test_filters_and_scope(store):
    toys = kpi_summary(store, Filters(start=PERIOD.start, end=PERIOD.end, categories=("Toys",)),
                       ALL_DATA)
    assert (toys["gross_revenue"].current, toys["orders"].current,
            toys["customers"].current) == (30, 1, 1)
    # no Toys line in the previous period, which lies inside the data: 0, not empty
    assert toys["gross_revenue"].previous == 0
    assert toys["gross_revenue"].reason is None and toys["gross_revenue"].rel_change is None
    assert toys["aov"].reason == "previous period: no orders in this period"
    assert toys["conversion_rate"].reason == "sessions are not broken down by category"

    great_britain = kpi_summary(store, PERIOD, Scope.of(["GB"]))
    assert great_britain["gross_revenue"].current == pytest.approx(50)     # I7 is French
    assert great_britain["returns"].current == pytest.approx(20)
    assert great_britain["customers"].current == 1
    # the sessions table has no country: a scoped user gets no conversion rate
    assert great_britain["conversion_rate"].current is None

    # a filter cannot widen the scope
    widened = kpi_summary(store, Filters(start=PERIOD.start, end=PERIOD.end,
                                         countries=("FR",)), Scope.of(["GB"]))
    assert widened["revenue"].current == 0 and widened["revenue"].reason is None
    assert widened["aov"].current is None
    assert widened["aov"].reason == "no orders in this period"
    france = kpi_summary(store, Filters(start=PERIOD.start, end=PERIOD.end,
                                        countries=("France",)), ALL_DATA)
    assert france["revenue"].current == pytest.approx(15)

    # price range reads the facts: I4 (30), I5 (2 × 10) and C6 (−20) have unit price ≥ 6
    priced = kpi_summary(store, Filters(start=PERIOD.start, end=PERIOD.end, min_price=6),
                         ALL_DATA)
    assert priced["gross_revenue"].current == pytest.approx(50)
    assert priced["returns"].current == pytest.approx(20)
    assert priced["orders"].current == 2


@pytest.mark.parametrize("filters, scope", [
    (Filters(start=PERIOD.start, end=PERIOD.end, countries=("DE",)), ALL_DATA),
    (PERIOD, Scope.of([])),
], ids=["filter-matches-nothing", "scope-excludes-everything"])
def test_nothing_to_show_inside_the_data_is_zero(store, filters, scope):
    """METRICS.md, "Periods without lines" (tests/analytics/test_empty_periods.py)."""
    summary = kpi_summary(store, filters, scope)
    for name in ("gross_revenue", "returns", "revenue", "orders", "units", "customers"):
        assert summary[name].current == 0 and summary[name].reason is None, name
    for name in ("aov", "margin", "ltv", "repeat_rate"):
        assert summary[name].current is None, name
        assert summary[name].reason == "no orders in this period", name


def test_a_period_after_the_data_is_none_with_reason(store):
    summary = kpi_summary(store, Filters(start=dt.date(2012, 1, 1), end=dt.date(2012, 1, 31)),
                          ALL_DATA)
    for name in KPI_NAMES:
        assert summary[name].current is None, name
        assert summary[name].reason == "no data for this period", name


def test_no_cost_no_sessions_and_default_period(warehouse):
    publish_lines(warehouse, [
        {"invoice_id": "1", "invoice_ts": "2011-03-01 10:00", "customer_id": "A",
         "quantity": 1, "unit_price": 10},
        {"invoice_id": "2", "invoice_ts": "2011-03-30 10:00", "customer_id": "A",
         "quantity": 1, "unit_price": 5},
        {"invoice_id": "3", "invoice_ts": "2011-03-31 23:59", "customer_id": "B",
         "quantity": 2, "unit_price": 5},
    ])
    summary = kpi_summary(warehouse, Filters(), ALL_DATA)
    # default view: the last 30 days of the data, 2011-03-02…2011-03-31
    assert (summary.start, summary.end) == (dt.date(2011, 3, 2), dt.date(2011, 3, 31))
    assert summary["revenue"].current == pytest.approx(15)
    assert summary["revenue"].previous == pytest.approx(10)
    assert summary["profit"].current is None and summary["profit"].reason == "no cost data"
    assert summary["margin"].reason == "no cost data"
    assert summary["conversion_rate"].reason == "no sessions data"
    assert summary["churn_rate"].current == 0.0           # A came back
    assert summary["ltv"].current == pytest.approx((15 + 10) / 2)


def test_ltv_leaves_out_returns_before_the_first_sale_under_a_filter(warehouse):
    """LTV under a filter that splits invoices (category): a customer's return before
    their first sale is left out, a return after it counts; worked out by hand."""
    toys = {"category": "Toys"}
    publish_lines(warehouse, [
        {"invoice_id": "I1", "invoice_ts": "2011-01-03 09:00", "customer_id": "F",
         "quantity": 1, "unit_price": 5, **toys},
        {"invoice_id": "C2", "invoice_ts": "2011-01-05 09:00", "customer_id": "E",
         "quantity": -1, "unit_price": 8, **toys},                    # before E's first sale
        {"invoice_id": "I3", "invoice_ts": "2011-01-12 09:00", "customer_id": "E",
         "quantity": 2, "unit_price": 10, **toys},
        {"invoice_id": "I3", "invoice_ts": "2011-01-12 09:00", "customer_id": "E",
         "quantity": 1, "unit_price": 50, "category": "Books"},        # filtered out
        {"invoice_id": "I4", "invoice_ts": "2011-01-13 09:00", "customer_id": "F",
         "quantity": 1, "unit_price": 7, **toys},
        {"invoice_id": "C5", "invoice_ts": "2011-01-14 09:00", "customer_id": "E",
         "quantity": -1, "unit_price": 10, **toys},                    # after it: counts
    ])
    filters = Filters(start=PERIOD.start, end=PERIOD.end, categories=("Toys",))
    expected_current = {"customers": 2, "orders": 2, "ltv": ((20 - 10) + (5 + 7)) / 2,
                        "churn_rate": 0.0, "repeat_rate": 0.0}
    expected_previous = {"customers": 1, "orders": 1, "ltv": 5.0}
    for reading in (contextlib.nullcontext, rollups.facts_only):
        with reading():
            summary = kpi_summary(warehouse, filters, ALL_DATA)
        for name, value in expected_current.items():
            assert summary[name].current == pytest.approx(value), name
        for name, value in expected_previous.items():
            assert summary[name].previous == pytest.approx(value), name
