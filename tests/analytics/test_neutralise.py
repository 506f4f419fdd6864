"""The one rule that keeps exported text from running as a spreadsheet formula covers the
fullwidth and other look-alike forms of ``= + - @`` (finding 6 of the hardening issue)."""
from __future__ import annotations

import csv
import io
import sys
import unicodedata

import pandas as pd

from analytics.filters import ALL_DATA, Filters
from analytics.transactions import (
    FORMULA_PREFIXES,
    FORMULA_SIGNS,
    csv_rows,
    neutralise_cell,
    neutralise_frame,
    transactions_csv,
)
from tests.analytics.conftest import publish_lines

FULLWIDTH = ("\uff1d1+1", "\uff0b1", "\uff0d1+2", "\uff20SUM(A1)")   # ＝1+1 ＋1 －1+2 ＠SUM(A1)


def test_every_compatibility_form_of_a_formula_sign_is_a_prefix():
    lookalikes = {chr(code) for code in range(sys.maxunicode + 1)
                  if unicodedata.normalize("NFKC", chr(code)) in FORMULA_SIGNS}
    assert lookalikes - set(FORMULA_PREFIXES) == set()
    assert {"\uff1d", "\uff0b", "\uff0d", "\uff20"} <= lookalikes


def test_fullwidth_formulas_are_neutralised_cell_and_frame():
    for text in FULLWIDTH:
        assert neutralise_cell(text) == "'" + text
    frame = neutralise_frame(pd.DataFrame({"text": [*FULLWIDTH, "a\uff1db"]}))
    assert list(frame["text"]) == [*("'" + text for text in FULLWIDTH), "a\uff1db"]


def test_csv_rows_neutralise_and_round():
    text = csv_rows(pd.DataFrame({"customer_id": ["\uff1d1", "c2"], "monetary": [15.299999999999999,
                                                                           -2.0]}), header=True)
    assert text == "customer_id,monetary\r\n'\uff1d1,15.3\r\nc2,-2.0\r\n"


def test_transactions_csv_neutralises_fullwidth_descriptions(warehouse):
    publish_lines(warehouse, [
        {"invoice_id": f"A{number}", "invoice_ts": "2024-05-02 10:00", "customer_id": "c1",
         "product_id": f"P{number}", "description": description, "quantity": 1,
         "unit_price": 2.0}
        for number, description in enumerate(FULLWIDTH)])
    may = Filters.from_query("start=2024-05-01&end=2024-05-31")
    table = list(csv.DictReader(io.StringIO("".join(transactions_csv(warehouse, may,
                                                                     ALL_DATA)))))
    assert sorted(row["description"] for row in table) == sorted("'" + text
                                                                 for text in FULLWIDTH)


def test_excel_report_neutralises_fullwidth_formulas(tmp_path):
    """The Excel renderer uses the same rule: a fullwidth formula in a product description
    is text in the workbook."""
    import openpyxl

    from analytics.warehouse import Warehouse
    from core.reports import render_report
    warehouse = Warehouse(f"duckdb:///{tmp_path / 'warehouse'}")
    try:
        publish_lines(warehouse, [
            {"invoice_id": f"A{number}", "invoice_ts": "2024-05-02 10:00", "customer_id": "c1",
             "product_id": f"P{number}", "description": description, "quantity": 1,
             "unit_price": 2.0 + number}
            for number, description in enumerate(FULLWIDTH)])
        may = Filters.from_query("start=2024-05-01&end=2024-05-31")
        rendered = render_report(warehouse, may, ALL_DATA, "xlsx", tmp_path, forecast=False)
    finally:
        warehouse.dispose()
    book = openpyxl.load_workbook(rendered.path)
    rows = list(book["Top products"].iter_rows(min_row=2, values_only=True))
    assert sorted(row[2] for row in rows) == sorted("'" + text for text in FULLWIDTH)
    texts = [cell.value for sheet in book for row in sheet.iter_rows() for cell in row
             if isinstance(cell.value, str)]
    assert not [text for text in texts if text.startswith(FORMULA_PREFIXES)]
