"""RFM on implausible money (a version published before the loader rejected such lines):
sums beyond what a decimal holds rank at either end by their float value, while sums that
only differ by float rounding still tie and go by customer id (METRICS.md "RFM"); recency
counts to the day after a period ending on 9999-12-31; the LTV histogram spans the finite
values and a mean that is not finite is empty."""
from __future__ import annotations

import datetime as dt

import pytest

from analytics.customers import ltv_distribution, rfm_table
from analytics.filters import ALL_DATA, Filters
from analytics.warehouse import WarehouseError
from tests.analytics.conftest import publish_lines

INF = float("inf")
MARCH = Filters(start=dt.date(2011, 3, 1), end=dt.date(2011, 3, 31))


def _line(invoice: str, customer: str, price: float, day: str = "2011-03-10") -> dict:
    return {"invoice_id": invoice, "invoice_ts": f"{day} 10:00", "customer_id": customer,
            "quantity": 1, "unit_price": price}


def test_monetary_beyond_decimals_ranks_at_the_ends_and_rounding_still_ties(warehouse):
    publish_lines(warehouse, [
        _line("I1", "A", 0.1), _line("I2", "A", 0.2),   # 0.30000000000000004
        _line("I3", "B", 0.3),                            # 0.3: ties with A
        _line("I4", "C", 1e308), _line("I5", "D", INF),
        _line("I6", "E", 50.0),
    ])
    table = rfm_table(warehouse, MARCH, ALL_DATA).set_index("customer_id")
    # ascending: A (tie, id first), B, E, C (1e308), D (inf): positions 1…5 of 5
    assert table["m"].to_dict() == {"A": 1, "B": 2, "C": 4, "D": 5, "E": 3}


def test_recency_of_a_period_ending_on_the_last_day_of_the_calendar(warehouse):
    lines = [_line("I1", "A", 5.0, "9999-12-31"), _line("I2", "B", 5.0, "9999-12-29")]
    if warehouse.kind == "chdb":  # ClickHouse's times end in 2299: refused, not clamped
        with pytest.raises(WarehouseError, match="from 1900 to 2299 only"):
            publish_lines(warehouse, lines)
        return
    publish_lines(warehouse, lines)
    last_days = Filters(start=dt.date(9999, 12, 1), end=dt.date(9999, 12, 31))
    table = rfm_table(warehouse, last_days, ALL_DATA).set_index("customer_id")
    assert table["recency"].to_dict() == {"A": 1, "B": 3}


def test_ltv_distribution_of_infinite_values(warehouse):
    publish_lines(warehouse, [_line("I1", "A", 5.0), _line("I2", "B", INF),
                              _line("I3", "C", 7.0)])
    distribution = ltv_distribution(warehouse, MARCH, ALL_DATA, bins=2)
    assert (distribution.customers, distribution.mean, distribution.median) == (3, None, 7.0)
    assert distribution.histogram.to_dict("list") == {
        "bin_start": [5.0, 6.0], "bin_end": [6.0, 7.0], "customers": [1, 1]}
