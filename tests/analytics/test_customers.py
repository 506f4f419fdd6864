"""The customer list and the historical LTV distribution, on DuckDB and PostgreSQL."""
from __future__ import annotations

import datetime as dt

import pytest

from analytics.customers import customer_ltv, customers_page, ltv_distribution
from analytics.filters import ALL_DATA, Filters, FilterError, Scope
from analytics.kpis import kpi_summary
from tests.analytics.conftest import publish_lines
from tests.analytics.test_rfm import EXPECTED_TIES, JANUARY, tie_rows

FEBRUARY = Filters(start=dt.date(2024, 2, 1), end=dt.date(2024, 2, 29))


def test_customers_page_sorting_paging_and_segment(warehouse):
    publish_lines(warehouse, tie_rows())
    page, total = customers_page(warehouse, JANUARY, ALL_DATA, page_size=3)
    assert total == 7
    # monetary descending: E 70, B 60, F 50, then A and C (20) by id
    assert list(page["customer_id"]) == ["E", "B", "F"]
    assert list(page["monetary"]) == [70.0, 60.0, 50.0]
    assert list(page["country"]) == ["United Kingdom"] * 3
    second, _ = customers_page(warehouse, JANUARY, ALL_DATA, page=2, page_size=3)
    assert list(second["customer_id"]) == ["A", "C", "D"]
    past_the_end, total = customers_page(warehouse, JANUARY, ALL_DATA, page=4, page_size=3)
    assert past_the_end.empty and total == 7
    by_recency, _ = customers_page(warehouse, JANUARY, ALL_DATA, sort="recency",
                                   descending=False)
    # recency ascending, ties by id: A 1, B 1, C 12, E 12, F 22, D 27, G 31
    assert list(by_recency["customer_id"]) == ["A", "B", "C", "E", "F", "D", "G"]
    assert list(by_recency["segment"]) == [EXPECTED_TIES[c][7] for c in "ABCEFDG"]
    loyal, total = customers_page(warehouse, JANUARY, ALL_DATA, segment="Loyal Customers",
                                  sort="customer_id", descending=False)
    assert total == 2 and list(loyal["customer_id"]) == ["E", "F"]
    with pytest.raises(FilterError, match="cannot sort customers"):
        customers_page(warehouse, JANUARY, ALL_DATA, sort="password")
    with pytest.raises(FilterError, match="unknown segment"):
        customers_page(warehouse, JANUARY, ALL_DATA, segment="Royalty")
    empty, total = customers_page(warehouse, JANUARY, Scope(frozenset()))
    assert total == 0 and empty.empty


def line(invoice, day, customer, value, quantity=1.0):
    return {"invoice_id": invoice, "invoice_ts": f"{day} 10:00", "customer_id": customer,
            "quantity": quantity, "unit_price": float(value)}


def ltv_rows():
    """For February 2024, worked out by hand:

    K  sale 10 Jan 100, return 20 Jan −30, sale 5 Feb 50, sale 5 Mar 999 (after the end):
       LTV = 100 − 30 + 50 = 120
    L  return 2 Jan −40 (before their first sale: not counted), sale 10 Feb 20: LTV = 20
    M  sale 15 Jan only: not a customer of February
    N  sales 20 and 21 Feb: 10 + 30 = 40; a price-0 line 22 Feb changes nothing
    Customers K, L, N: mean 60, median 40.
    """
    return [
        line("1", "2024-01-10", "K", 100), line("C2", "2024-01-20", "K", 30, -1.0),
        line("3", "2024-02-05", "K", 50), line("4", "2024-03-05", "K", 999),
        line("C5", "2024-01-02", "L", 40, -1.0), line("6", "2024-02-10", "L", 20),
        line("7", "2024-01-15", "M", 70),
        line("8", "2024-02-20", "N", 10), line("9", "2024-02-21", "N", 30),
        line("10", "2024-02-22", "N", 0, 3.0),
    ]


def test_ltv_distribution(warehouse):
    publish_lines(warehouse, ltv_rows())
    per_customer = customer_ltv(warehouse, FEBRUARY, ALL_DATA)
    assert dict(zip(per_customer["customer_id"], per_customer["ltv"])) == {
        "K": 120.0, "L": 20.0, "N": 40.0}
    distribution = ltv_distribution(warehouse, FEBRUARY, ALL_DATA, bins=2)
    assert distribution.customers == 3
    assert distribution.mean == pytest.approx(60.0)
    assert distribution.median == pytest.approx(40.0)
    # two bins over 20…120: [20, 70) holds L and N, [70, 120] holds K
    assert distribution.histogram.to_dict("list") == {
        "bin_start": [20.0, 70.0], "bin_end": [70.0, 120.0], "customers": [2, 1]}
    quantiles = dict(zip(distribution.quantiles["quantile"], distribution.quantiles["ltv"]))
    assert quantiles[0.25] == pytest.approx(30.0)    # halfway between 20 and 40
    assert quantiles[0.75] == pytest.approx(80.0)    # halfway between 40 and 120


def test_ltv_mean_equals_the_ltv_kpi(warehouse):
    publish_lines(warehouse, ltv_rows())
    for filters in (FEBRUARY, JANUARY):
        kpi = kpi_summary(warehouse, filters, ALL_DATA)["ltv"].current
        assert ltv_distribution(warehouse, filters, ALL_DATA).mean == pytest.approx(kpi)


def test_ltv_of_nobody(warehouse):
    publish_lines(warehouse, ltv_rows())
    distribution = ltv_distribution(warehouse, FEBRUARY, Scope(frozenset()))
    assert distribution.customers == 0 and distribution.mean is None
    assert distribution.histogram.empty
    with pytest.raises(FilterError, match="bins"):
        ltv_distribution(warehouse, FEBRUARY, ALL_DATA, bins=0)
