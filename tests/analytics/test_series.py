"""Time series on a hand-made store, both engines: every bucket, ISO weeks, last year."""
from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pandas as pd
import pytest

from analytics import rollups
from analytics.filters import ALL_DATA, FilterError, Filters
from analytics.series import SERIES_COLUMNS, time_series
from tests.analytics.conftest import publish_lines

LINES = [
    # last year: Monday 2010-01-04 (52 weeks before Monday 2011-01-03)
    {"invoice_id": "L1", "invoice_ts": "2010-01-04 10:00", "customer_id": "A",
     "quantity": 2, "unit_price": 3, "unit_cost": 1},
    # Saturday 2011-01-01 and Monday 2011-01-03 (a new ISO week)
    {"invoice_id": "1", "invoice_ts": "2011-01-01 10:00", "customer_id": "A",
     "quantity": 1, "unit_price": 7, "unit_cost": 2},
    {"invoice_id": "2", "invoice_ts": "2011-01-03 10:00", "customer_id": "B",
     "quantity": 1, "unit_price": 5, "unit_cost": 2},
    {"invoice_id": "3", "invoice_ts": "2011-01-03 18:00", "customer_id": "B",
     "quantity": 3, "unit_price": 1, "unit_cost": 0.5},
    {"invoice_id": "C4", "invoice_ts": "2011-01-06 10:00", "customer_id": "B",
     "quantity": -1, "unit_price": 5, "unit_cost": 2},
    {"invoice_id": "5", "invoice_ts": "2011-02-10 10:00", "customer_id": "A",
     "quantity": 1, "unit_price": 4, "unit_cost": 1},
]


@pytest.fixture
def store(warehouse):
    publish_lines(warehouse, LINES)
    return warehouse


def test_daily_series_has_every_day_and_last_year(store):
    frame = time_series(store, Filters(start=dt.date(2011, 1, 1), end=dt.date(2011, 1, 7)),
                        ALL_DATA, grain="day")
    assert list(frame.columns) == list(SERIES_COLUMNS)
    assert list(frame["period_start"]) == [dt.date(2011, 1, d) for d in range(1, 8)]
    by_day = frame.set_index("period_start")
    assert list(frame["revenue"]) == pytest.approx([7, 0, 5 + 3, 0, 0, -5, 0])
    assert list(frame["orders"]) == [1, 0, 2, 0, 0, 0, 0]
    assert list(frame["customers"]) == [1, 0, 1, 0, 0, 0, 0]
    assert by_day.loc[dt.date(2011, 1, 3), "units"] == 4
    assert by_day.loc[dt.date(2011, 1, 3), "profit"] == pytest.approx(8 - (2 + 1.5))
    assert by_day.loc[dt.date(2011, 1, 2), "profit"] == 0          # costs known: a real 0
    assert by_day.loc[dt.date(2011, 1, 6), "returns"] == pytest.approx(5)
    # the same calendar day one year earlier; the data begins on 2010-01-04, so the
    # first three days have no comparison (not zero sales)
    assert frame["revenue_last_year"].isna().tolist() == [True] * 3 + [False] * 4
    assert list(frame["revenue_last_year"].iloc[3:]) == pytest.approx([6, 0, 0, 0])
    assert frame["orders_last_year"].isna().tolist() == [True] * 3 + [False] * 4
    assert list(frame["orders_last_year"].iloc[3:]) == [1, 0, 0, 0]


def test_weeks_start_on_monday_and_months_cover_history(store):
    weeks = time_series(store, Filters(start=dt.date(2011, 1, 1), end=dt.date(2011, 1, 16)),
                        ALL_DATA, grain="week")
    assert list(weeks["period_start"]) == [dt.date(2010, 12, 27), dt.date(2011, 1, 3),
                                           dt.date(2011, 1, 10)]
    assert list(weeks["gross_revenue"]) == pytest.approx([7, 8, 0])
    assert list(weeks["orders"]) == [1, 2, 0]
    # 52 weeks before the week of 2011-01-03 is the week of 2010-01-04
    assert weeks["revenue_last_year"].isna().tolist() == [True, False, False]  # before data
    assert list(weeks["revenue_last_year"].iloc[1:]) == pytest.approx([6, 0])

    months = time_series(store, Filters(), ALL_DATA, grain="month", history=True)
    assert months["period_start"].iloc[0] == dt.date(2010, 1, 1)
    assert months["period_start"].iloc[-1] == dt.date(2011, 2, 1)
    assert len(months) == 14                                     # empty months are present
    january = months.set_index("period_start").loc[dt.date(2011, 1, 1)]
    assert (january["gross_revenue"], january["returns"], january["orders"],
            january["customers"]) == (pytest.approx(15), pytest.approx(5), 3, 2)
    assert january["revenue_last_year"] == pytest.approx(6)
    assert months["revenue_last_year"].iloc[:12].isna().all()    # 2009: before the data
    assert months.set_index("period_start").loc[dt.date(2010, 6, 1), "revenue"] == 0

    with rollups.facts_only():
        from_facts = time_series(store, Filters(), ALL_DATA, grain="month", history=True)
    pd.testing.assert_frame_equal(months, from_facts, check_exact=False)


def test_unknown_grain_is_refused(store):
    with pytest.raises(FilterError, match="grain"):
        time_series(store, Filters(), ALL_DATA, grain="hour")


def test_29_february_compares_with_28_february_of_the_year_before(warehouse):
    publish_lines(warehouse, [
        {"invoice_id": "1", "invoice_ts": "2011-02-28 10:00", "customer_id": "A",
         "quantity": 1, "unit_price": 9, "unit_cost": 1},
        {"invoice_id": "2", "invoice_ts": "2011-03-01 10:00", "customer_id": "A",
         "quantity": 1, "unit_price": 4, "unit_cost": 1},
        {"invoice_id": "3", "invoice_ts": "2012-02-29 10:00", "customer_id": "B",
         "quantity": 2, "unit_price": 5, "unit_cost": 1},
    ])
    days = time_series(warehouse, Filters(start=dt.date(2012, 2, 28), end=dt.date(2012, 3, 1)),
                       ALL_DATA, grain="day")
    assert list(days["period_start"]) == [dt.date(2012, 2, 28), dt.date(2012, 2, 29),
                                          dt.date(2012, 3, 1)]
    assert list(days["revenue"]) == pytest.approx([0, 10, 0])
    # 28 and 29 February 2012 both look back at 28 February 2011
    assert list(days["revenue_last_year"]) == pytest.approx([9, 9, 4])
    assert list(days["orders_last_year"]) == [1, 1, 1]
    months = time_series(warehouse, Filters(start=dt.date(2012, 2, 1), end=dt.date(2012, 3, 31)),
                         ALL_DATA, grain="month")
    assert list(months["revenue"]) == pytest.approx([10, 0])
    assert list(months["revenue_last_year"]) == pytest.approx([9, 4])


@pytest.mark.parametrize("spanning", [False, True], ids=["single-day", "invoice-over-two-days"])
def test_orders_and_customers_per_bucket_under_a_filter_that_splits_invoices(warehouse,
                                                                             spanning):
    """A category filter: orders and customers per bucket are distinct counts (an invoice
    with two chosen categories is one order), this year and last, by hand and as the lines
    say; also when an invoice spans two days (orders per day no longer add up)."""
    toys, books = {"category": "Toys"}, {"category": "Books"}
    publish_lines(warehouse, [
        {"invoice_id": "L1", "invoice_ts": "2010-01-04 10:00", "customer_id": "A",
         "quantity": 1, "unit_price": 3, **toys},
        {"invoice_id": "L1", "invoice_ts": "2010-01-04 10:00", "customer_id": "A",
         "quantity": 1, "unit_price": 4, **books},
        {"invoice_id": "1", "invoice_ts": "2011-01-03 10:00", "customer_id": "A",
         "quantity": 1, "unit_price": 7, **toys},
        {"invoice_id": "1", "invoice_ts": "2011-01-03 10:00", "customer_id": "A",
         "quantity": 1, "unit_price": 2, **books},
        {"invoice_id": "1", "invoice_ts": "2011-01-03 10:00", "customer_id": "A",
         "quantity": 1, "unit_price": 9, "category": "Garden"},         # filtered out
        {"invoice_id": "2", "invoice_ts": "2011-01-04 10:00", "customer_id": "B",
         "quantity": 1, "unit_price": 5, **books},
        {"invoice_id": "2" if spanning else "3", "invoice_ts": "2011-01-05 10:00",
         "customer_id": "B", "quantity": 1, "unit_price": 6, **toys},
        {"invoice_id": "4", "invoice_ts": "2011-02-10 10:00", "customer_id": "A",
         "quantity": 1, "unit_price": 1, "category": "Garden"},         # filtered out
    ])
    filters = Filters(categories=("Toys", "Books"))
    months = time_series(warehouse, filters, ALL_DATA, grain="month", history=True)
    january = months.set_index("period_start").loc[dt.date(2011, 1, 1)]
    assert (january["orders"], january["customers"]) == (2 if spanning else 3, 2)
    assert january["orders_last_year"] == 1
    assert months.set_index("period_start").loc[dt.date(2011, 2, 1), "orders"] == 0
    days = time_series(warehouse, filters, ALL_DATA, grain="day", history=True)
    by_day = days.set_index("period_start")
    assert by_day.loc[dt.date(2011, 1, 3), ["orders", "customers"]].tolist() == [1, 1]
    # a period from the middle of January: A bought on the 3rd, before it
    from_the_5th = time_series(warehouse, replace(filters, start=dt.date(2011, 1, 5),
                                                  end=dt.date(2011, 2, 28)),
                               ALL_DATA, grain="month")
    assert from_the_5th[["orders", "customers"]].iloc[0].tolist() == [1, 1]
    weeks = time_series(warehouse, filters, ALL_DATA, grain="week", history=True)
    for grain, frame in (("month", months), ("day", days), ("week", weeks)):
        with rollups.facts_only():
            from_facts = time_series(warehouse, filters, ALL_DATA, grain=grain, history=True)
        pd.testing.assert_frame_equal(frame, from_facts, check_exact=False)
