"""METRICS.md, "Periods without lines", on a hand-made store, on both engines, from the
rollups and from the facts.

The store (data range 2011-01-05 … 2011-03-20; unit costs on every line):

| invoice | day        | customer | category | qty | price | cost |
|---------|------------|----------|----------|-----|-------|------|
| I1      | 2011-01-05 | A        | Toys     |  2  | 10    |  4   |
| I2      | 2011-01-20 | A        | Toys     |  1  | 30    | 10   |
| I3      | 2011-01-25 | B        | Books    |  1  | 20    |  8   |
| (February: no line at all — a gap month inside the data's range)                 |
| I4      | 2011-03-10 | A        | Toys     |  1  | 50    | 20   |
| C5      | 2011-03-20 | B        | Books    | -1  | 20    |  8   | (a cancellation)

Sessions: 100 on 2011-01-10, 40 on 2011-02-10, 50 on 2011-03-10.
"""
from __future__ import annotations

import datetime as dt

import pytest

from analytics import rollups
from analytics.filters import ALL_DATA, Filters, Scope
from analytics.kpis import KPI_NAMES, kpi_summary
from tests.analytics.conftest import publish_lines

LINES = [
    {"invoice_id": "I1", "invoice_ts": "2011-01-05 09:00", "customer_id": "A",
     "category": "Toys", "quantity": 2, "unit_price": 10, "unit_cost": 4},
    {"invoice_id": "I2", "invoice_ts": "2011-01-20 09:00", "customer_id": "A",
     "category": "Toys", "quantity": 1, "unit_price": 30, "unit_cost": 10},
    {"invoice_id": "I3", "invoice_ts": "2011-01-25 09:00", "customer_id": "B",
     "category": "Books", "quantity": 1, "unit_price": 20, "unit_cost": 8},
    {"invoice_id": "I4", "invoice_ts": "2011-03-10 09:00", "customer_id": "A",
     "category": "Toys", "quantity": 1, "unit_price": 50, "unit_cost": 20},
    {"invoice_id": "C5", "invoice_ts": "2011-03-20 09:00", "customer_id": "B",
     "category": "Books", "quantity": -1, "unit_price": 20, "unit_cost": 8},
]
SESSIONS = [
    {"session_date": "2011-01-10", "sessions": 100},
    {"session_date": "2011-02-10", "sessions": 40},
    {"session_date": "2011-03-10", "sessions": 50},
]

NO_ORDERS = "no orders in this period"
NO_DATA = "no data for this period"
NO_PREVIOUS_CUSTOMERS = "no identified customers in the previous period"
ZERO_KPIS = ("gross_revenue", "returns", "revenue", "orders", "units", "customers")
RATIOS = ("aov", "margin", "repeat_rate", "ltv")

GAP = Filters(start=dt.date(2011, 2, 1), end=dt.date(2011, 2, 28))        # previous: Jan 4–31
MARCH = Filters(start=dt.date(2011, 3, 1), end=dt.date(2011, 3, 28))      # previous: the gap

# worked out by hand
JANUARY = {  # 2011-01-04 … 2011-01-31
    "gross_revenue": 20 + 30 + 20, "returns": 0, "revenue": 70, "orders": 3, "aov": 70 / 3,
    "units": 4, "customers": 2, "profit": 70 - (8 + 10 + 8), "margin": 44 / 70,
    "conversion_rate": 3 / 100,
    "churn_rate": None,                      # 2010-12-07 … 2011-01-03 had no customers
    "ltv": ((20 + 30) + 20) / 2, "repeat_rate": 1 / 2,
}
EMPTY_IN_RANGE = {  # February, or any in-range period whose filters match no line
    "gross_revenue": 0, "returns": 0, "revenue": 0, "orders": 0, "aov": None, "units": 0,
    "customers": 0, "profit": 0, "margin": None, "ltv": None, "repeat_rate": None,
}
MARCH_VALUES = {  # 2011-03-01 … 2011-03-28
    "gross_revenue": 50, "returns": 20, "revenue": 30, "orders": 1, "aov": 50, "units": 1,
    "customers": 1, "profit": 30 - (20 - 8), "margin": 18 / 30, "conversion_rate": 1 / 50,
    "churn_rate": None,                      # February had no customers
    "ltv": 20 + 30 + 50, "repeat_rate": 0.0,
}


def current(summary) -> dict:
    return {name: summary[name].current for name in KPI_NAMES}


def previous(summary) -> dict:
    return {name: summary[name].previous for name in KPI_NAMES}


def answers(summary) -> dict:
    """Everything a KPI says, for comparing two ways of computing it."""
    return {name: (summary[name].current, summary[name].previous, summary[name].reason)
            for name in KPI_NAMES}


def same(left: dict, right: dict) -> None:
    assert left.keys() == right.keys()
    for name in left:
        for a, b in zip(left[name], right[name]):
            assert (a is None) == (b is None), (name, left[name], right[name])
            if isinstance(a, str) or a is None:
                assert a == b, (name, left[name], right[name])
            else:
                assert a == pytest.approx(b), (name, left[name], right[name])


def summary_both_ways(warehouse, filters: Filters, scope=ALL_DATA):
    """The summary from the planner's tables, checked equal to the one from the facts."""
    planned = kpi_summary(warehouse, filters, scope)
    with rollups.facts_only():
        from_facts = kpi_summary(warehouse, filters, scope)
    same(answers(planned), answers(from_facts))
    return planned


@pytest.fixture
def store(warehouse):
    publish_lines(warehouse, LINES, SESSIONS)
    return warehouse


def test_a_gap_month_inside_the_data_has_zeros_and_empty_ratios(store):
    summary = summary_both_ways(store, GAP)
    got = current(summary)
    for name in ZERO_KPIS:
        assert got[name] == 0, name
        assert summary[name].reason is None, name
    assert isinstance(got["orders"], int) and isinstance(got["customers"], int)
    for name in RATIOS:
        assert got[name] is None, name
        assert summary[name].reason == NO_ORDERS, name
    # the store has unit costs: no line costs nothing, so the profit is 0 (margin 0 ÷ 0)
    assert got["profit"] == 0 and summary["profit"].reason is None
    # 0 orders out of 40 sessions
    assert got["conversion_rate"] == 0 and summary["conversion_rate"].reason is None
    # A and B bought in January; none of them in February
    assert got["churn_rate"] == pytest.approx(1.0)
    assert previous(summary) == pytest.approx(JANUARY)
    # comparisons against a previous period with lines
    assert summary["revenue"].abs_change == pytest.approx(-70)
    assert summary["revenue"].rel_change == pytest.approx(-1.0)
    assert summary["orders"].abs_change == -3
    assert summary["returns"].rel_change is None             # previous returns are 0
    assert summary["aov"].abs_change is None and summary["aov"].rel_change is None
    assert summary["churn_rate"].reason == f"previous period: {NO_PREVIOUS_CUSTOMERS}"

    api = summary.to_dict()["kpis"]
    assert api["orders"] == {"current": 0, "previous": 3, "abs_change": -3,
                             "rel_change": -1.0, "reason": None}
    assert api["aov"]["current"] is None and api["aov"]["reason"] == NO_ORDERS


def test_the_month_after_the_gap_compares_with_zeros(store):
    summary = summary_both_ways(store, MARCH)
    assert current(summary) == pytest.approx(MARCH_VALUES)
    got_previous = previous(summary)
    for name, value in EMPTY_IN_RANGE.items():
        assert got_previous[name] == value, name
    assert got_previous["conversion_rate"] == 0                # 0 orders ÷ 40 sessions
    assert got_previous["churn_rate"] == pytest.approx(1.0)    # A, B of January: gone
    # relative change is empty when the previous value is 0 or empty
    for name in ZERO_KPIS:
        assert summary[name].rel_change is None, name
        assert summary[name].abs_change == pytest.approx(MARCH_VALUES[name]), name
    assert summary["profit"].abs_change == pytest.approx(18)
    assert summary["profit"].rel_change is None
    assert summary["aov"].abs_change is None and summary["aov"].rel_change is None
    assert summary["aov"].reason == f"previous period: {NO_ORDERS}"
    assert summary["churn_rate"].current is None
    assert summary["churn_rate"].reason == NO_PREVIOUS_CUSTOMERS


@pytest.mark.parametrize("filters, scope", [
    (Filters(start=MARCH.start, end=MARCH.end, categories=("Garden",)), ALL_DATA),
    (Filters(start=MARCH.start, end=MARCH.end, countries=("DE",)), ALL_DATA),
    (Filters(start=MARCH.start, end=MARCH.end, countries=("Germany",)), ALL_DATA),
    (Filters(start=MARCH.start, end=MARCH.end, min_price=1000), ALL_DATA),
    (MARCH, Scope.of(["DE"])),
    (MARCH, Scope.of([])),
], ids=["category", "country-code", "country-name", "price-on-the-facts", "scope",
        "empty-scope"])
def test_filters_that_match_no_line_inside_the_data_give_zeros(store, filters, scope):
    summary = summary_both_ways(store, filters, scope)
    for which in (current(summary), previous(summary)):
        for name, value in EMPTY_IN_RANGE.items():
            assert which[name] == value, name
        assert which["conversion_rate"] is None            # sessions cannot follow / none
        assert which["churn_rate"] is None                 # no customer before either
    for name in ZERO_KPIS:
        assert summary[name].reason is None, name
        assert summary[name].abs_change == 0 and summary[name].rel_change is None, name
    for name in RATIOS:
        assert summary[name].reason == NO_ORDERS, name
    assert summary["churn_rate"].reason == NO_PREVIOUS_CUSTOMERS
    assert summary["conversion_rate"].reason


def test_a_filter_matching_nothing_now_but_something_before_gives_churn_one(store):
    books = summary_both_ways(store, Filters(start=GAP.start, end=GAP.end,
                                             categories=("Books",)))
    assert current(books)["revenue"] == 0 and current(books)["customers"] == 0
    assert books["churn_rate"].current == pytest.approx(1.0)   # B bought Books in January
    assert books["revenue"].previous == pytest.approx(20)


@pytest.mark.parametrize("start, end", [
    (dt.date(2010, 6, 1), dt.date(2010, 6, 30)),       # months before the data
    (dt.date(2010, 12, 6), dt.date(2011, 1, 4)),       # ends the day before the first day
    (dt.date(1900, 1, 1), dt.date(1950, 12, 31)),      # long before (period.clamp keeps it)
], ids=["before", "up-to-the-day-before", "long-before"])
def test_a_period_before_the_data_is_empty_for_every_kpi(store, start, end):
    summary = summary_both_ways(store, Filters(start=start, end=end))
    for name in KPI_NAMES:
        kpi = summary[name]
        assert (kpi.current, kpi.previous, kpi.reason) == (None, None, NO_DATA), name
        assert kpi.abs_change is None and kpi.rel_change is None
    # filters change nothing: there is no data to filter
    filtered = summary_both_ways(store, Filters(start=start, end=end, categories=("Toys",)))
    assert all(filtered[name].reason == NO_DATA for name in KPI_NAMES)


@pytest.mark.parametrize("start, end", [
    (dt.date(2011, 3, 21), dt.date(2011, 4, 17)),      # starts the day after the last day
    (dt.date(2011, 6, 1), dt.date(2011, 6, 30)),       # months after
    (dt.date(2013, 6, 1), dt.date(2999, 12, 31)),      # far after (period.clamp cuts the end)
], ids=["from-the-day-after", "after", "long-after"])
def test_a_period_after_the_data_is_empty_for_every_kpi(store, start, end):
    summary = summary_both_ways(store, Filters(start=start, end=end))
    for name in KPI_NAMES:
        kpi = summary[name]
        assert kpi.current is None and kpi.reason == NO_DATA, name
        assert kpi.abs_change is None and kpi.rel_change is None


def test_after_the_data_the_previous_period_keeps_its_values(store):
    summary = summary_both_ways(store, Filters(start=dt.date(2011, 3, 21),
                                               end=dt.date(2011, 4, 17)))
    # previous period 2011-02-21 … 2011-03-20: I4 and C5
    assert summary["revenue"].previous == pytest.approx(30)
    assert summary["orders"].previous == 1
    assert summary["revenue"].current is None and summary["revenue"].reason == NO_DATA


def test_a_period_starting_before_the_data_has_a_previous_period_without_data(store):
    summary = summary_both_ways(store, Filters(start=dt.date(2011, 1, 1),
                                               end=dt.date(2011, 1, 31)))
    assert summary["revenue"].current == pytest.approx(70)
    for name in KPI_NAMES:
        assert summary[name].previous is None, name
    assert summary["revenue"].reason == f"previous period: {NO_DATA}"
    assert summary["revenue"].rel_change is None
    # no customers before the data: churn cannot be taken
    assert summary["churn_rate"].current is None
    assert summary["churn_rate"].reason == NO_PREVIOUS_CUSTOMERS


def test_the_last_and_first_days_are_inside_the_data(store):
    last = summary_both_ways(store, Filters(start=dt.date(2011, 3, 20),
                                            end=dt.date(2011, 3, 20)))
    assert last["returns"].current == pytest.approx(20) and last["orders"].current == 0
    assert last["aov"].reason == NO_ORDERS
    first = summary_both_ways(store, Filters(start=dt.date(2011, 1, 5), end=dt.date(2011, 1, 5)))
    assert first["revenue"].current == pytest.approx(20)
    assert first["revenue"].reason == f"previous period: {NO_DATA}"


def test_without_unit_costs_an_empty_period_has_no_profit(warehouse):
    publish_lines(warehouse, [{k: v for k, v in line.items() if k != "unit_cost"}
                              for line in LINES])
    summary = summary_both_ways(warehouse, GAP)
    assert summary["revenue"].current == 0
    assert summary["profit"].current is None and summary["profit"].reason == "no cost data"
    assert summary["margin"].current is None and summary["margin"].reason == "no cost data"
    assert summary["conversion_rate"].reason == "no sessions data"
    assert summary["churn_rate"].current == pytest.approx(1.0)
