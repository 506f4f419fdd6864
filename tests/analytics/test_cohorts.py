"""Monthly cohorts on tiny hand-made data, on DuckDB and PostgreSQL."""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import replace

import pytest

from analytics import rollups
from analytics.cohorts import (COHORT_COLUMNS, cohort_matrix, cohort_period, cohort_table,
                              cohort_window, period_cohorts)
from analytics.filters import ALL_DATA, Filters, FilterError, Scope
from tests.analytics.conftest import publish_lines

#: February to 20 March 2024.
PERIOD = Filters(start=dt.date(2024, 2, 1), end=dt.date(2024, 3, 20))
FEB, MAR = dt.date(2024, 2, 1), dt.date(2024, 3, 1)


def line(invoice, day, customer, value, **extra):
    return {"invoice_id": invoice, "invoice_ts": f"{day} 11:00", "customer_id": customer,
            "quantity": 1.0, "unit_price": float(value), **extra}


def cohort_rows():
    """Worked out by hand, for the period 1 Feb – 20 Mar 2024:

    X  first sale 10 Jan (before the period): January cohort, not shown; buys in Feb too.
    V  first sale 5 Jan in France, then 7 Feb in the UK: January cohort, not shown — but
       February with country=GB, where its French line does not exist.
    P  first sale 3 Feb (10), again 5 Mar (7) and 25 Mar (100, after the end: ignored).
    Q  first sale 20 Feb (20), a return of 5 on 10 Mar (no sale in March).
    R  first sale 15 Mar (30).
    U  a price-0 line on 5 Feb (ignored), first real sale 2 Mar (40).
    S  first sale 25 Mar, after the end: in no cohort.

    February cohort {P, Q}: size 2; Feb 2 active (revenue 30), Mar 1 active (P; revenue
    7 − 5 = 2). March cohort {R, U}: size 2; Mar 2 active (revenue 70).
    """
    return [
        line("1", "2024-01-10", "X", 50), line("2", "2024-02-12", "X", 60),
        line("3", "2024-01-05", "V", 9, country="France", country_code="FR"),
        line("4", "2024-02-07", "V", 11),
        line("5", "2024-02-03", "P", 10), line("6", "2024-03-05", "P", 7),
        line("7", "2024-03-25", "P", 100),
        line("8", "2024-02-20", "Q", 20),
        {**line("C9", "2024-03-10", "Q", 5), "quantity": -1.0},
        line("10", "2024-03-15", "R", 30),
        line("11", "2024-02-05", "U", 0), line("12", "2024-03-02", "U", 40),
        line("13", "2024-03-25", "S", 8),
        line("14", "2024-02-14", None, 1000),
    ]


def cells(table):
    return {(row.cohort.date(), row.offset): (row.cohort_size, row.value, row.retention)
            for row in table.itertuples(index=False)}


def test_customer_cohorts(warehouse):
    publish_lines(warehouse, cohort_rows())
    table = cohort_table(warehouse, PERIOD, ALL_DATA)
    assert list(table.columns) == COHORT_COLUMNS
    assert cells(table) == {
        (FEB, 0): (2, 2, 1.0), (FEB, 1): (2, 1, 0.5),
        (MAR, 0): (2, 2, 1.0),
    }
    assert [m.date() for m in table["month"]] == [FEB, MAR, MAR]
    # the start counts by whole months: from 15 Feb the February cohort is still whole
    later_start = Filters(start=dt.date(2024, 2, 15), end=PERIOD.end)
    assert cells(cohort_table(warehouse, later_start, ALL_DATA)) == cells(table)
    # the wide form for a heatmap
    matrix = cohort_matrix(table)
    assert matrix.loc[FEB.isoformat(), 1] == 0.5
    assert math.isnan(matrix.loc[MAR.isoformat(), 1])


def test_revenue_cohorts(warehouse):
    publish_lines(warehouse, cohort_rows())
    table = cohort_table(warehouse, PERIOD, ALL_DATA, measure="revenue")
    result = cells(table)
    assert set(result) == {(FEB, 0), (FEB, 1), (MAR, 0)}
    assert result[(FEB, 0)] == pytest.approx((2, 30.0, 1.0))
    assert result[(FEB, 1)] == pytest.approx((2, 2.0, 2 / 30))
    assert result[(MAR, 0)] == pytest.approx((2, 70.0, 1.0))


def test_cohort_follows_filters_other_than_dates(warehouse):
    publish_lines(warehouse, cohort_rows())
    uk = Filters(start=PERIOD.start, end=PERIOD.end, countries=("GB",))
    table = cohort_table(warehouse, uk, ALL_DATA)
    # V's French first sale is filtered out, so V joins February: {P, Q, V}
    assert cells(table)[(FEB, 0)] == (3, 3, 1.0)
    assert cells(table)[(FEB, 1)] == (3, 1, pytest.approx(1 / 3))
    # the scope works the same way
    assert cells(cohort_table(warehouse, PERIOD, Scope.of(["GB"]))) == cells(table)


def test_open_dates_and_max_offset(warehouse):
    publish_lines(warehouse, cohort_rows())
    everything = cohort_table(warehouse, Filters(), ALL_DATA)
    # January cohort {X, V}: Jan 2, Feb 2, Mar 0; February {P, Q}: Feb 2, Mar 1 (P, 25 Mar
    # now counts); March {R, U, S}: 3.
    jan = dt.date(2024, 1, 1)
    assert cells(everything) == {
        (jan, 0): (2, 2, 1.0), (jan, 1): (2, 2, 1.0), (jan, 2): (2, 0, 0.0),
        (FEB, 0): (2, 2, 1.0), (FEB, 1): (2, 1, 0.5),
        (MAR, 0): (3, 3, 1.0),
    }
    capped = cohort_table(warehouse, Filters(), ALL_DATA, max_offset=0)
    assert set(cells(capped)) == {(jan, 0), (FEB, 0), (MAR, 0)}


def test_nothing_matches(warehouse):
    publish_lines(warehouse, cohort_rows())
    for filters, scope in ((PERIOD, Scope(frozenset())),
                           (Filters(start=PERIOD.start, end=PERIOD.end,
                                    countries=("Narnia",)), ALL_DATA)):
        for measure in ("customers", "revenue"):
            table = cohort_table(warehouse, filters, scope, measure=measure)
            assert table.empty
            assert list(table.columns) == COHORT_COLUMNS
            assert cohort_matrix(table).empty


def test_bad_options(warehouse):
    publish_lines(warehouse, cohort_rows())
    with pytest.raises(FilterError, match="measure"):
        cohort_table(warehouse, PERIOD, ALL_DATA, measure="orders")
    with pytest.raises(FilterError, match="max_offset"):
        cohort_table(warehouse, PERIOD, ALL_DATA, max_offset=-1)


def test_facts_and_rollups_agree(warehouse):
    publish_lines(warehouse, cohort_rows())
    for measure in ("customers", "revenue"):
        from_rollups = cohort_table(warehouse, PERIOD, ALL_DATA, measure=measure)
        with rollups.facts_only():
            from_facts = cohort_table(warehouse, PERIOD, ALL_DATA, measure=measure)
        assert cells(from_rollups) == cells(from_facts)


def test_segment_filter_keeps_that_segments_customers(warehouse):
    publish_lines(warehouse, cohort_rows())
    # Customers of the period (1 Feb – 20 Mar): P Q R U V X, six, so positions 1…6 score
    # ceil(5 × pos ÷ 6) = 1 2 3 4 5 5.
    # R, last sale ascending: V 7 Feb, X 12 Feb, Q 20 Feb, U 2 Mar, P 5 Mar, R 15 Mar
    #    → V1 X2 Q3 U4 P5 R5
    # F, orders (P 2, the others 1) then id: Q R U V X P → Q1 R2 U3 V4 X5 P5
    # M, net revenue: V 11, Q 15 (20 − 5), P 17, R 30, U 40, X 60 → V1 Q2 P3 R4 U5 X5
    # P: R5, FM (5+3)/2 = 4 → Champions; R: R5, FM 3; U: R4, FM 4; the others R ≤ 3.
    # The only champion, P, is the February cohort alone, active in February and March.
    champions = cohort_table(warehouse, replace(PERIOD, segment="Champions"), ALL_DATA)
    assert cells(champions) == {(FEB, 0): (1, 1, 1.0), (FEB, 1): (1, 1, 1.0)}


# ------------------------------------------------------------------ the cohort window
LAST = dt.date(2011, 12, 9)
FIRST = dt.date(2010, 12, 1)


@pytest.mark.parametrize("start, end, expected_start", [
    # 30 days ending 9 Dec 2011: the 12 months Jan–Dec 2011
    (dt.date(2011, 11, 10), LAST, dt.date(2011, 1, 1)),
    # a short period ending in March: April of the year before
    (dt.date(2011, 3, 1), dt.date(2011, 3, 31), dt.date(2010, 4, 1)),
    # 182 days is still shorter than the minimum
    (LAST - dt.timedelta(days=181), LAST, dt.date(2011, 1, 1)),
])
def test_a_short_period_widens_the_cohort_window_to_twelve_months(start, end, expected_start):
    assert cohort_window(start, end) == (expected_start, end)


def test_a_long_enough_period_is_the_cohort_window_itself():
    assert cohort_window(LAST - dt.timedelta(days=182), LAST) == (
        LAST - dt.timedelta(days=182), LAST)
    assert cohort_window(FIRST, LAST) == (FIRST, LAST)


def test_period_cohorts_are_the_cohort_table_of_the_window(warehouse):
    """20 days of March: the window is April 2023 – 20 March 2024, so January's cohort
    (X and V, first sales 10 and 5 January) is shown beside February's and March's."""
    publish_lines(warehouse, cohort_rows())
    march = Filters(start=dt.date(2024, 3, 1), end=dt.date(2024, 3, 20), countries=("GB",))
    widened = cohort_period(march)
    assert (widened.start, widened.end, widened.countries) == (
        dt.date(2023, 4, 1), march.end, ("GB",))
    shown = period_cohorts(warehouse, march, ALL_DATA)
    assert shown.equals(cohort_table(warehouse, widened, ALL_DATA))
    assert sorted(set(shown["cohort"].dt.date)) == [dt.date(2024, 1, 1), FEB, MAR]
    with pytest.raises(FilterError):
        cohort_period(Filters(end=march.end))
