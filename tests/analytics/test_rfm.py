"""RFM scores and segments on tiny hand-made data, on DuckDB and PostgreSQL."""
from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest
import sqlalchemy as sa

from analytics import rollups, schema
from analytics.customers import rfm_segments, rfm_table
from analytics.filters import ALL_DATA, FilterError, Filters, Scope
from analytics.segments import SEGMENTS, segment_condition
from tests.analytics.conftest import publish_lines

JANUARY = Filters(start=dt.date(2024, 1, 1), end=dt.date(2024, 1, 31))

#: METRICS.md's R × FM table, written out again here so the test does not read the code's.
EXPECTED_GRID = {
    (5, 1): "New Customers", (5, 2): "Potential Loyalists", (5, 3): "Potential Loyalists",
    (5, 4): "Champions", (5, 5): "Champions",
    (4, 1): "Promising", (4, 2): "Potential Loyalists", (4, 3): "Loyal Customers",
    (4, 4): "Loyal Customers", (4, 5): "Champions",
    (3, 1): "About to Sleep", (3, 2): "Need Attention", (3, 3): "Need Attention",
    (3, 4): "Loyal Customers", (3, 5): "Loyal Customers",
    (2, 1): "Hibernating", (2, 2): "Hibernating", (2, 3): "At Risk", (2, 4): "At Risk",
    (2, 5): "Can't Lose Them",
    (1, 1): "Lost", (1, 2): "Lost", (1, 3): "At Risk", (1, 4): "Can't Lose Them",
    (1, 5): "Can't Lose Them",
}


def sale(invoice, day, customer, value, **extra):
    """One sale line of ``value`` (quantity 1) on 2024-01-``day``."""
    return {"invoice_id": invoice, "invoice_ts": f"2024-01-{day:02d} 10:00",
            "customer_id": customer, "quantity": 1.0, "unit_price": float(value), **extra}


def tie_rows():
    """Seven customers A…G. Worked out by hand (count 7, score = ceil(5 × pos ÷ 7), so
    positions 1…7 score 1, 2, 3, 3, 4, 5, 5):

    customer  last sale  recency  orders  net revenue
    A         31 Jan     1        1       30 − 10 returned = 20
    B         31 Jan     1        2       25 + (12 + 23) = 60
    C         20 Jan     12       1       20
    D          5 Jan     27       3       1 + 2 + 2 = 5
    E         20 Jan     12       1       70
    F         10 Jan     22       2       20 + 30 = 50
    G          1 Jan     31       1       1   (its 30 Jan line has price 0: ignored)

    R, recency descending, ties by id: G D F C E A B → G1 D2 F3 C3 E4 A5 B5
    F, orders ascending, ties by id:    A C E G B F D → A1 C2 E3 G3 B4 F5 D5
    M, revenue ascending, ties by id:   G D C A F B E → G1 D2 C3 A3 F4 B5 E5
    FM = round_half_up((F + M) / 2):
      A (1+3)/2=2  B (4+5)/2=4.5→5  C (2+3)/2=2.5→3  D (5+2)/2=3.5→4
      E (3+5)/2=4  F (5+4)/2=4.5→5  G (3+1)/2=2
    (Python's round() would give B 4 and C 2: banker's rounding.)
    """
    return [
        {**sale("1001", 31, "A", 10), "quantity": 3.0},
        {**sale("C1001", 31, "A", 10), "quantity": -1.0},          # a return: −10
        sale("1002", 15, "B", 25),
        sale("1003", 31, "B", 12), sale("1003", 31, "B", 23),        # one order, two lines
        sale("1004", 20, "C", 20),
        sale("1005", 2, "D", 1), sale("1006", 3, "D", 2), sale("1007", 5, "D", 2),
        sale("1008", 20, "E", 70),
        sale("1009", 8, "F", 20), sale("1010", 10, "F", 30),
        sale("1011", 1, "G", 1),
        {**sale("1012", 30, "G", 0), "quantity": 5.0},               # price 0: excluded
        sale("1013", 31, None, 500),                                 # no customer: excluded
        {**sale("1014", 25, "H", -4)},                               # price < 0 only: not a customer
        {"invoice_id": "0999", "invoice_ts": "2023-12-31 23:00", "customer_id": "I",
         "unit_price": 9.0},                                         # before the period
        {**sale("C1015", 12, "J", 8), "quantity": -1.0},             # only a return
    ]


EXPECTED_TIES = {
    # customer: (recency, frequency, monetary, r, f, m, fm, segment)
    "A": (1, 1, 20.0, 5, 1, 3, 2, "Potential Loyalists"),
    "B": (1, 2, 60.0, 5, 4, 5, 5, "Champions"),
    "C": (12, 1, 20.0, 3, 2, 3, 3, "Need Attention"),
    "D": (27, 3, 5.0, 2, 5, 2, 4, "At Risk"),
    "E": (12, 1, 70.0, 4, 3, 5, 4, "Loyal Customers"),
    "F": (22, 2, 50.0, 3, 5, 4, 5, "Loyal Customers"),
    "G": (31, 1, 1.0, 1, 3, 1, 2, "Lost"),
}


def test_rfm_ties_rounding_and_exclusions(warehouse):
    publish_lines(warehouse, tie_rows())
    table = rfm_table(warehouse, JANUARY, ALL_DATA)
    assert list(table.columns) == ["customer_id", "recency", "frequency", "monetary", "r",
                                   "f", "m", "fm", "segment"]
    assert list(table["customer_id"]) == sorted(EXPECTED_TIES)
    for row in table.itertuples(index=False):
        expected = EXPECTED_TIES[row.customer_id]
        assert (row.recency, row.frequency, row.monetary, row.r, row.f, row.m, row.fm,
                row.segment) == pytest.approx(expected), row.customer_id
        assert EXPECTED_GRID[(row.r, row.fm)] == row.segment


def test_rfm_segments_summary(warehouse):
    publish_lines(warehouse, tie_rows())
    summary = rfm_segments(warehouse, JANUARY, ALL_DATA)
    assert list(summary["segment"]) == list(SEGMENTS)
    assert len(summary) == 11
    rows = summary.set_index("segment")
    # Loyal Customers are E (70, recency 12, 1 order) and F (50, recency 22, 2 orders)
    loyal = rows.loc["Loyal Customers"]
    assert loyal["customers"] == 2
    assert loyal["share"] == pytest.approx(2 / 7)
    assert loyal["revenue"] == pytest.approx(120.0)
    assert loyal["revenue_share"] == pytest.approx(120 / 226)   # 20+60+20+5+70+50+1
    assert loyal["mean_recency"] == pytest.approx(17.0)
    assert loyal["mean_frequency"] == pytest.approx(1.5)
    assert loyal["mean_monetary"] == pytest.approx(60.0)
    assert rows.loc["Champions", "customers"] == 1
    empty = rows.loc["Hibernating"]
    assert (empty["customers"], empty["share"], empty["revenue"],
            empty["revenue_share"]) == (0, 0.0, 0.0, 0.0)
    assert rows["customers"].sum() == 7
    assert rows["share"].sum() == pytest.approx(1.0)


def every_segment_rows():
    """25 customers "r{R}f{F}", R and F in 1…5, with frequency F, net revenue 10 × F and
    last sale on 5 × R March. With 25 customers, score = ceil(pos ÷ 5), and each value of
    every measure is shared by exactly 5 customers, so R, F and M scores equal R, F and F;
    FM = F. The 25 (R, FM) pairs are the whole grid, hence all 11 segments."""
    rows = []
    for recency_score in range(1, 6):
        for frequency in range(1, 6):
            customer = f"r{recency_score}f{frequency}"
            last_day = 5 * recency_score
            for order in range(frequency):
                rows.append({"invoice_id": f"{customer}-{order}",
                             "invoice_ts": f"2024-03-{last_day - order:02d} 12:00",
                             "customer_id": customer, "unit_price": 10.0})
    return rows


def test_every_segment_is_reachable(warehouse):
    publish_lines(warehouse, every_segment_rows())
    march = Filters(start=dt.date(2024, 3, 1), end=dt.date(2024, 3, 31))
    table = rfm_table(warehouse, march, ALL_DATA).set_index("customer_id")
    for recency_score in range(1, 6):
        for frequency in range(1, 6):
            row = table.loc[f"r{recency_score}f{frequency}"]
            assert (row["r"], row["f"], row["m"], row["fm"]) == (
                recency_score, frequency, frequency, frequency)
            assert row["recency"] == 32 - 5 * recency_score   # as of 1 April
            assert row["segment"] == EXPECTED_GRID[(recency_score, frequency)]
    assert set(table["segment"]) == set(SEGMENTS)
    summary = rfm_segments(warehouse, march, ALL_DATA)
    assert (summary["customers"] > 0).all()


def test_segment_filter_and_condition(warehouse):
    publish_lines(warehouse, tie_rows())
    loyal = rfm_table(warehouse, replace(JANUARY, segment="loyal customers"), ALL_DATA)
    assert list(loyal["customer_id"]) == ["E", "F"]
    condition = segment_condition(warehouse, Filters(start=JANUARY.start, end=JANUARY.end,
                                                     segment="Loyal Customers"), ALL_DATA)
    lines = schema.fact_lines
    with warehouse.connect() as conn:
        customers = conn.execute(sa.select(lines.c.customer_id).distinct()
                                 .where(condition)).scalars().all()
    assert sorted(customers) == ["E", "F"]
    with pytest.raises(FilterError, match="Champions"):
        segment_condition(warehouse, Filters(start=JANUARY.start, end=JANUARY.end,
                                             segment="Royalty"), ALL_DATA)


def test_empty_scope_and_unmatched_filter(warehouse):
    publish_lines(warehouse, tie_rows())
    nothing = Scope(frozenset())
    for filters, scope in ((JANUARY, nothing),
                           (Filters(start=JANUARY.start, end=JANUARY.end,
                                    countries=("Narnia",)), ALL_DATA)):
        assert rfm_table(warehouse, filters, scope).empty
        summary = rfm_segments(warehouse, filters, scope)
        assert list(summary["segment"]) == list(SEGMENTS)
        assert summary["customers"].sum() == 0
        assert summary["share"].sum() == 0


def test_facts_and_rollups_agree(warehouse):
    publish_lines(warehouse, tie_rows())
    from_rollups = rfm_table(warehouse, JANUARY, ALL_DATA)
    with rollups.facts_only():
        from_facts = rfm_table(warehouse, JANUARY, ALL_DATA)
    # a price filter needs the lines: it reads the facts too (and keeps every counted line)
    priced = rfm_table(warehouse, replace(JANUARY, min_price=0.5), ALL_DATA)
    assert from_rollups.equals(from_facts)
    assert from_rollups.equals(priced)


def test_missing_dates_mean_the_last_30_days_of_the_data(warehouse):
    publish_lines(warehouse, tie_rows())
    # the data ends on 31 January, so the period is 2–31 January: G (1 January) drops out
    table = rfm_table(warehouse, Filters(), ALL_DATA)
    assert list(table["customer_id"]) == ["A", "B", "C", "D", "E", "F"]
    assert table.set_index("customer_id").loc["D", "recency"] == 27   # as of 1 February
