"""The comparison the user chooses (previous period, same days last year, custom dates) and
the partial last bucket, on hand-made stores whose answers are worked out here."""
from __future__ import annotations

import datetime as dt

import pytest

from analytics import period
from analytics.filters import ALL_DATA, FilterError, Filters
from analytics.kpis import kpi_summary
from analytics.series import time_series
from tests.analytics.conftest import publish_lines

D = dt.date


# ------------------------------------------------------------------ periods, by hand
def test_previous_period_of_thirty_days():
    filters = Filters(start=D(2025, 12, 1), end=D(2025, 12, 30))
    compared = filters.comparison()
    # 30 days ending the day before 1 December: 1–30 November
    assert (compared.start, compared.end) == (D(2025, 11, 1), D(2025, 11, 30))
    assert filters.comparison_label() == "vs 1–30 Nov 2025"
    assert filters.comparison_name == "Previous period"


def test_last_year_across_a_leap_day():
    filters = Filters.from_query("start=2024-02-20&end=2024-03-05&compare=last_year")
    compared = filters.comparison()
    # 2023 has no 29 February: the same calendar days, 20 Feb – 5 Mar 2023 (14 days, not 15)
    assert (compared.start, compared.end) == (D(2023, 2, 20), D(2023, 3, 5))
    assert compared.compare == "previous"          # the comparison's own comparison
    assert filters.comparison_label() == "vs same days last year"
    leap_day = Filters(start=D(2024, 2, 29), end=D(2024, 2, 29), compare="last_year")
    assert (leap_day.comparison().start, leap_day.comparison().end) == (D(2023, 2, 28),
                                                                         D(2023, 2, 28))
    # and from a year after a leap year back onto it: 1–31 March 2025 → 1–31 March 2024
    march = Filters(start=D(2025, 3, 1), end=D(2025, 3, 31), compare="last_year").comparison()
    assert (march.start, march.end) == (D(2024, 3, 1), D(2024, 3, 31))


def test_custom_comparison_and_its_url():
    query = ("start=2025-12-01&end=2025-12-09&country=FR&compare=custom"
             "&compare_start=2025-06-01&compare_end=2025-06-09")
    filters = Filters.from_query(query)
    compared = filters.comparison()
    assert (compared.start, compared.end) == (D(2025, 6, 1), D(2025, 6, 9))
    assert compared.countries == ("FR",)            # the same filters
    assert filters.comparison_label() == "vs 1–9 Jun 2025"
    assert filters.comparison_name == "Comparison"
    assert Filters.from_query(filters.to_query()) == filters
    assert Filters().to_query() == ""               # the default stays out of the URL


@pytest.mark.parametrize("query, message", [
    ("compare=custom", "compare=custom needs compare_start and compare_end"),
    ("compare=custom&compare_start=2025-01-01", "needs compare_end"),
    ("compare=custom&compare_start=2025-02-01&compare_end=2025-01-01",
     "compare_start (2025-02-01) is after compare_end (2025-01-01)"),
    ("compare=custom&compare_start=yesterday&compare_end=2025-01-01",
     "compare_start must be a date written YYYY-MM-DD"),
    ("compare=week", "compare must be one of previous, last_year, custom, not 'week'"),
    ("compare_start=2025-01-01&compare_end=2025-01-02", "only used with compare=custom"),
])
def test_invalid_comparison_is_refused_naming_the_field(query, message):
    with pytest.raises(FilterError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Filters.from_query(query)


# ------------------------------------------------------------------ KPIs vs last year
LAST_YEAR_LINES = [
    # a year earlier: 2 orders, 10 + 6 = 16 revenue (2–3 March 2024)
    {"invoice_id": "A1", "invoice_ts": "2024-03-02 10:00", "customer_id": "A",
     "quantity": 2, "unit_price": 5},
    {"invoice_id": "A2", "invoice_ts": "2024-03-03 10:00", "customer_id": "B",
     "quantity": 3, "unit_price": 2},
    # the previous period (February 2025): one order of 100
    {"invoice_id": "B1", "invoice_ts": "2025-02-10 10:00", "customer_id": "A",
     "quantity": 1, "unit_price": 100},
    # the period, 1–7 March 2025: 3 orders, 8 + 12 + 4 = 24 revenue
    {"invoice_id": "N1", "invoice_ts": "2025-03-02 10:00", "customer_id": "A",
     "quantity": 1, "unit_price": 8},
    {"invoice_id": "N2", "invoice_ts": "2025-03-03 10:00", "customer_id": "C",
     "quantity": 4, "unit_price": 3},
    {"invoice_id": "N3", "invoice_ts": "2025-03-05 10:00", "customer_id": "B",
     "quantity": 1, "unit_price": 4},
]


@pytest.fixture
def year_store(warehouse):
    publish_lines(warehouse, LAST_YEAR_LINES)
    return warehouse


def test_kpi_change_against_the_same_days_last_year(year_store):
    week = "start=2025-03-01&end=2025-03-07"
    summary = kpi_summary(year_store, Filters.from_query(week + "&compare=last_year"), ALL_DATA)
    assert (summary.previous_start, summary.previous_end) == (D(2024, 3, 1), D(2024, 3, 7))
    assert summary["revenue"].current == pytest.approx(24)
    assert summary["revenue"].previous == pytest.approx(16)
    assert summary["revenue"].rel_change == pytest.approx(0.5)      # (24 − 16) ÷ 16
    assert summary["orders"].previous == 2 and summary["orders"].abs_change == 1
    assert summary.comparison_label == "vs same days last year"
    assert summary.to_dict()["comparison"] == {
        "compare": "last_year", "start": "2024-03-01", "end": "2024-03-07",
        "label": "vs same days last year"}
    # the default is still the previous 7 days (22–28 February 2025): no sale there
    default = kpi_summary(year_store, Filters.from_query(week), ALL_DATA)
    assert (default.previous_start, default.previous_end) == (D(2025, 2, 22), D(2025, 2, 28))
    assert default["revenue"].previous == 0
    assert default.comparison_label == "vs 22–28 Feb 2025"
    # custom: all of February 2025 (the order of 100)
    custom = kpi_summary(year_store, Filters.from_query(
        week + "&compare=custom&compare_start=2025-02-01&compare_end=2025-02-28"), ALL_DATA)
    assert custom["revenue"].previous == pytest.approx(100)
    assert custom["revenue"].rel_change == pytest.approx(-0.76)     # (24 − 100) ÷ 100


def test_a_comparison_before_the_data_says_so(year_store):
    summary = kpi_summary(year_store, Filters.from_query(
        "start=2024-03-01&end=2024-03-07&compare=last_year"), ALL_DATA)
    assert summary["revenue"].previous is None
    assert summary["revenue"].reason == "last year: no data for this period"


# ------------------------------------------------------------------ time series
def test_comparison_line_is_shifted_onto_the_period(year_store):
    week = "start=2025-03-01&end=2025-03-07"
    frame = time_series(year_store, Filters.from_query(week + "&compare=last_year"), ALL_DATA)
    # 2 March 2024 → 2 March 2025 (10), 3 March → 3 March (6); the data begins on 2 March
    # 2024, so 1 March 2025 has no comparison at all
    assert frame["revenue_comparison"].isna().tolist() == [True] + [False] * 6
    assert list(frame["revenue_comparison"].iloc[1:]) == pytest.approx([10, 6, 0, 0, 0, 0])
    assert list(frame["orders_comparison"].iloc[1:]) == [1, 1, 0, 0, 0, 0]
    custom = time_series(year_store, Filters.from_query(
        week + "&compare=custom&compare_start=2025-02-08&compare_end=2025-02-14"), ALL_DATA)
    # 10 February is the comparison's 3rd day: it lands on 3 March
    assert list(custom["revenue_comparison"]) == pytest.approx([0, 0, 100, 0, 0, 0, 0])
    by_week = time_series(year_store, Filters.from_query(week + "&compare=last_year"),
                          ALL_DATA, grain="week")
    # weeks of 24 Feb (1–2 March: 10) and 3 March (3–7 March: 6)
    assert list(by_week["revenue_comparison"]) == pytest.approx([10, 6])


def test_a_comparison_outside_the_data_is_not_read(year_store):
    # the history's previous period ends the day before the data begins (2 March 2024):
    # the series knows it holds nothing and asks no statement about it
    seen: list = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append(repr(parameters))

    import sqlalchemy as sa
    sa.event.listen(sa.engine.Engine, "before_cursor_execute", record)
    try:
        frame = time_series(year_store, Filters(), ALL_DATA, grain="month", history=True)
    finally:
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", record)
    assert frame["revenue_comparison"].isna().all()
    assert frame["orders_comparison"].isna().all()
    history = period.history(year_store, Filters())
    compared = history.comparison()
    assert compared.end < D(2024, 3, 2)
    asked = [params for params in seen if repr(compared.start) in params]
    assert seen and not asked
    # a comparison inside the data is still read (the first test of this section too)
    week = Filters.from_query("start=2025-03-01&end=2025-03-07")
    assert time_series(year_store, week, ALL_DATA)["revenue_comparison"].notna().all()


PARTIAL_LINES = [
    {"invoice_id": "1", "invoice_ts": "2025-11-01 10:00", "customer_id": "A",
     "quantity": 1, "unit_price": 10},
    {"invoice_id": "2", "invoice_ts": "2025-12-09 10:00", "customer_id": "A",
     "quantity": 1, "unit_price": 5},      # the data ends on Tuesday 9 December 2025
]


@pytest.fixture
def partial_store(warehouse):
    publish_lines(warehouse, PARTIAL_LINES)
    return warehouse


def test_the_month_the_data_ends_in_is_partial(partial_store):
    months = time_series(partial_store, Filters(start=D(2025, 11, 1), end=D(2025, 12, 31)),
                         ALL_DATA, grain="month")
    assert months["partial"].tolist() == [False, True]
    assert months["days_held"].tolist() == [30, 9]          # November whole; 1–9 December
    assert months["bucket_days"].tolist() == [30, 31]
    weeks = time_series(partial_store, Filters(start=D(2025, 12, 1), end=D(2025, 12, 14)),
                        ALL_DATA, grain="week")
    # Monday 1 – Sunday 7 December whole; the week of 8 December holds Monday and Tuesday
    assert weeks["partial"].tolist() == [False, True]
    assert weeks["days_held"].tolist() == [7, 2]
    days = time_series(partial_store, Filters(start=D(2025, 12, 1), end=D(2025, 12, 9)),
                       ALL_DATA, grain="day")
    assert not days["partial"].any()


def test_a_period_that_starts_inside_a_month_is_partial_there_too(partial_store):
    months = time_series(partial_store, Filters(start=D(2025, 11, 10), end=D(2025, 11, 30)),
                         ALL_DATA, grain="month")
    assert months["partial"].tolist() == [True]
    assert months["days_held"].tolist() == [21]             # 10–30 November
