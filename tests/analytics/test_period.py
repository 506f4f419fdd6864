"""Period resolution: the default view is the last 30 days of the data, not of today."""
from __future__ import annotations

import datetime as dt

from analytics.filters import Filters
from analytics.period import data_range, history, minus_years, resolve
from tests.analytics.conftest import publish_lines


def test_missing_dates_come_from_the_data(warehouse):
    publish_lines(warehouse, [
        {"invoice_id": "1", "invoice_ts": "2010-12-01 08:26"},
        {"invoice_id": "2", "invoice_ts": "2011-12-09 12:50"},
    ])
    assert data_range(warehouse) == (dt.date(2010, 12, 1), dt.date(2011, 12, 9))
    assert resolve(warehouse, Filters()) == Filters(start=dt.date(2011, 11, 10),
                                                    end=dt.date(2011, 12, 9))
    only_end = resolve(warehouse, Filters(end=dt.date(2011, 1, 30)))
    assert (only_end.start, only_end.end) == (dt.date(2011, 1, 1), dt.date(2011, 1, 30))
    only_start = resolve(warehouse, Filters(start=dt.date(2011, 12, 1), countries=("FR",)))
    assert (only_start.start, only_start.end, only_start.countries) == (
        dt.date(2011, 12, 1), dt.date(2011, 12, 9), ("FR",))
    after_data = resolve(warehouse, Filters(start=dt.date(2012, 3, 1)))
    assert (after_data.start, after_data.end) == (dt.date(2012, 3, 1), dt.date(2012, 3, 1))
    full = history(warehouse, Filters(start=dt.date(2011, 5, 1), end=dt.date(2011, 5, 2)))
    assert (full.start, full.end) == (dt.date(2010, 12, 1), dt.date(2011, 12, 9))

    # a new version with later data moves the default view
    publish_lines(warehouse, [{"invoice_id": "3", "invoice_ts": "2012-01-15 10:00"}])
    assert resolve(warehouse, Filters()).end == dt.date(2012, 1, 15)


def test_minus_years_keeps_the_calendar_day_and_turns_29_february_into_28():
    assert minus_years(dt.date(2011, 12, 9)) == dt.date(2010, 12, 9)
    assert minus_years(dt.date(2012, 2, 29)) == dt.date(2011, 2, 28)
    assert minus_years(dt.date(2012, 2, 29), 4) == dt.date(2008, 2, 29)
    assert minus_years(dt.date(2012, 3, 1), 16) == dt.date(1996, 3, 1)
    # every "last year" of the product is this one
    leap = Filters(start=dt.date(2012, 2, 1), end=dt.date(2012, 2, 29))
    earlier = leap.year_earlier()
    assert (earlier.start, earlier.end) == (dt.date(2011, 2, 1), dt.date(2011, 2, 28))
