"""The transactions browser and its CSV, on DuckDB and PostgreSQL."""
from __future__ import annotations

import csv
import datetime as dt
import io

import pandas as pd
import pytest

from analytics.filters import ALL_DATA, Filters, FilterError, Scope
from analytics.transactions import (TRANSACTION_COLUMNS, neutralise_cell, neutralise_frame,
                                    transactions_csv, transactions_page)
from tests.analytics.conftest import publish_lines

MAY = Filters(start=dt.date(2024, 5, 1), end=dt.date(2024, 5, 31))


def rows():
    """Six lines in May (line ids follow time: 1…6) and one in April."""
    return [
        {"invoice_id": "A1", "invoice_ts": "2024-05-01 09:00", "customer_id": "c2",
         "description": "Red heart", "quantity": 2.0, "unit_price": 5.0},          # 10
        {"invoice_id": "A2", "invoice_ts": "2024-05-02 09:00", "customer_id": "c1",
         "description": '=HYPERLINK("http://x")', "quantity": 1.0, "unit_price": 30.0},
        {"invoice_id": "A3", "invoice_ts": "2024-05-03 09:00", "customer_id": None,
         "description": "+1", "quantity": 4.0, "unit_price": 2.5},                  # 10
        {"invoice_id": "CA4", "invoice_ts": "2024-05-04 09:00", "customer_id": "c1",
         "description": "@SUM(A1)", "quantity": -3.5, "unit_price": 2.0},           # -7
        {"invoice_id": "A5", "invoice_ts": "2024-05-05 09:00", "customer_id": "c3",
         "description": "50% off HEART", "quantity": 1.0, "unit_price": 0.0,
         "country": "France", "country_code": "FR"},                                 # 0
        {"invoice_id": "A6", "invoice_ts": "2024-05-06 09:00", "customer_id": "c3",
         "description": "500 off", "quantity": 1.0, "unit_price": 50.0},            # 50
        {"invoice_id": "A0", "invoice_ts": "2024-04-30 09:00", "customer_id": "c9",
         "description": "April", "quantity": 1.0, "unit_price": 1.0},
    ]


def test_default_order_paging_and_totals(warehouse):
    publish_lines(warehouse, rows())
    page, total = transactions_page(warehouse, MAY, ALL_DATA, page_size=4)
    assert total == 6
    assert list(page.columns) == list(TRANSACTION_COLUMNS)
    assert list(page["invoice_id"]) == ["A6", "A5", "CA4", "A3"]   # newest first
    assert list(page["kind"]) == ["sale", "excluded", "return", "sale"]
    second, total_again = transactions_page(warehouse, MAY, ALL_DATA, page=2, page_size=4)
    assert total_again == 6
    assert list(second["invoice_id"]) == ["A2", "A1"]
    beyond, _ = transactions_page(warehouse, MAY, ALL_DATA, page=3, page_size=4)
    assert beyond.empty


def test_sorting(warehouse):
    publish_lines(warehouse, rows())
    by_value, _ = transactions_page(warehouse, MAY, ALL_DATA,
                                    sort=[("line_value", "desc")], page=1, page_size=3)
    # 50, 30, then the two lines of 10 (A1, A3) ordered by line id
    assert list(by_value["invoice_id"]) == ["A6", "A2", "A1"]
    assert list(by_value["line_value"]) == [50.0, 30.0, 10.0]
    by_customer, _ = transactions_page(
        warehouse, MAY, ALL_DATA, sort=[("customer_id", "asc"), ("line_value", "asc")])
    # c1 (-7, 30), c2, c3 (0, 50), and the line without a customer last
    assert list(by_customer["invoice_id"]) == ["CA4", "A2", "A1", "A5", "A6", "A3"]
    descending, _ = transactions_page(warehouse, MAY, ALL_DATA,
                                      sort=[("customer_id", "desc")])
    assert list(descending["invoice_id"]) == ["A5", "A6", "A1", "A2", "CA4", "A3"]


def test_bad_requests(warehouse):
    publish_lines(warehouse, rows())
    with pytest.raises(FilterError, match="cannot sort transactions by 'password'"):
        transactions_page(warehouse, MAY, ALL_DATA, sort=[("password", "asc")])
    with pytest.raises(FilterError, match="direction"):
        transactions_page(warehouse, MAY, ALL_DATA, sort=[("quantity", "sideways")])
    with pytest.raises(FilterError, match="page_size"):
        transactions_page(warehouse, MAY, ALL_DATA, page_size=1001)
    with pytest.raises(FilterError, match="page"):
        transactions_page(warehouse, MAY, ALL_DATA, page=0)


def test_filters_search_and_scope(warehouse):
    publish_lines(warehouse, rows())
    hearts, total = transactions_page(warehouse, MAY, ALL_DATA, search="HEART")
    assert total == 2 and set(hearts["invoice_id"]) == {"A1", "A5"}
    # % is a character to find, not a wildcard: "50%" matches "50% off", not "500 off"
    percent, total = transactions_page(warehouse, MAY, ALL_DATA, search="50%")
    assert total == 1 and list(percent["invoice_id"]) == ["A5"]
    by_customer, total = transactions_page(warehouse, MAY, ALL_DATA, search="C3")
    assert total == 2
    france, total = transactions_page(
        warehouse, Filters(start=MAY.start, end=MAY.end, countries=("France",)), ALL_DATA)
    assert total == 1 and list(france["invoice_id"]) == ["A5"]
    nothing, total = transactions_page(warehouse, MAY, Scope(frozenset()))
    assert total == 0 and nothing.empty and list(nothing.columns) == list(TRANSACTION_COLUMNS)
    unmatched, total = transactions_page(warehouse, MAY, ALL_DATA, search="no such thing")
    assert total == 0 and unmatched.empty


def test_segment_filter_keeps_that_segments_lines(warehouse):
    publish_lines(warehouse, rows())
    # May customers with sale lines: c1 (A2), c2 (A1), c3 (A6). 3 customers → scores
    # ceil(5 × pos ÷ 3) = 2, 4, 5. Recency by last sale: c2 (1 May) R2, c1 (2 May) R4,
    # c3 (6 May) R5. All have 1 order: F by id c1 2, c2 4, c3 5. Monetary: c1 30 − 7 = 23,
    # c2 10, c3 50 → c2 2, c1 4, c3 5. FM: c1 (2+4)/2 = 3, c2 (4+2)/2 = 3, c3 5.
    # c3 R5 FM5 → Champions.
    champions = Filters(start=MAY.start, end=MAY.end, segment="Champions")
    page, total = transactions_page(warehouse, champions, ALL_DATA)
    assert total == 2 and set(page["invoice_id"]) == {"A5", "A6"}


def test_csv_neutralises_formulas_and_keeps_numbers(warehouse):
    publish_lines(warehouse, rows())
    chunks = list(transactions_csv(warehouse, MAY, ALL_DATA, sort=[("line_id", "asc")],
                                   chunk_rows=4))
    assert len(chunks) == 3                       # header, 4 rows, 2 rows
    text = "".join(chunks)
    table = list(csv.reader(io.StringIO(text)))
    assert table[0] == list(TRANSACTION_COLUMNS)
    assert len(table) == 7
    records = [dict(zip(table[0], row)) for row in table[1:]]
    by_invoice = {record["invoice_id"]: record for record in records}
    assert by_invoice["A2"]["description"] == '\'=HYPERLINK("http://x")'
    assert by_invoice["A3"]["description"] == "'+1"
    assert by_invoice["CA4"]["description"] == "'@SUM(A1)"
    assert by_invoice["CA4"]["quantity"] == "-3.5"          # a number stays a number
    assert by_invoice["CA4"]["line_value"] == "-7.0"
    assert by_invoice["A1"]["invoice_ts"] == "2024-05-01 09:00:00"
    assert by_invoice["A3"]["customer_id"] == ""
    # the raw text: the negative number is written bare, the formula text is quoted
    assert "\r\n5,CA4,2024-05-04 09:00:00,c1,P1,'@SUM(A1),-3.5,2.0,-7.0," in text


def test_csv_writes_clean_numbers_and_whole_timestamps(warehouse):
    publish_lines(warehouse, [{"invoice_id": "9", "invoice_ts": "2024-05-09 00:00",
                               "quantity": 6.0, "unit_price": 2.55}])
    text = "".join(transactions_csv(warehouse, MAY, ALL_DATA))
    record = dict(zip(*csv.reader(io.StringIO(text))))
    assert record["invoice_ts"] == "2024-05-09 00:00:00"     # not a bare date
    assert record["line_value"] == "15.3"                    # not 15.299999999999999


def test_neutralise_cell():
    for dangerous in ("=1+1", "+1", "-1+2", "@SUM(A1)", "\tx", "\rx"):
        assert neutralise_cell(dangerous) == "'" + dangerous
    for harmless in (-3.5, -2, 0, None, "plain", "a=b", "", dt.date(2024, 1, 1)):
        assert neutralise_cell(harmless) == harmless


def test_neutralise_frame():
    frame = pd.DataFrame({"text": ["=1+1", "ok", None, "-x"], "number": [-3.5, 2.0, 0.0, -1.0],
                          "empty": [None, None, None, None]})
    safe = neutralise_frame(frame)
    assert list(safe["text"].fillna("")) == ["'=1+1", "ok", "", "'-x"]
    assert list(safe["number"]) == [-3.5, 2.0, 0.0, -1.0]
    assert safe["number"].dtype == "float64"
    assert list(frame["text"].fillna("")) == ["=1+1", "ok", "", "-x"]   # the input is untouched
