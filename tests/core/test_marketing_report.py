"""A report's Marketing section: on a small demo (which has ad spend and sessions) the PDF
(read back with pdftotext) and the workbook carry the marketing KPIs and the action table
with the planted "Advantage+ Shopping" collapse; a shop without ad spend or sessions gets no
Marketing section at all."""
from __future__ import annotations

import shutil
import subprocess

import openpyxl
import pytest

from analytics.filters import Filters, Scope
from analytics.warehouse import Warehouse
from core.reports import render_report
from core.reports.xlsx import MARKETING_SHEET, SHEETS
from tests.workers.support import TINY_PERIOD, publish_tiny_shop

MARCH = Filters.from_query(TINY_PERIOD)
DEMO_LINES = 50_000   # enough for the demo's ad spend to pass the actions' min_spend


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from data.loader import load_demo
    warehouse = Warehouse(f"duckdb:///{tmp_path_factory.mktemp('demo')}/warehouse")
    load_demo(warehouse, lines=DEMO_LINES, seed=42)
    yield warehouse
    warehouse.dispose()


def pdf_text(path) -> str:
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    text = subprocess.run(["pdftotext", str(path), "-"], check=True, capture_output=True,
                          text=True).stdout
    return " ".join(text.split())   # a table cell wraps: words, not lines


def test_the_pdf_has_the_marketing_section_on_demo_data(demo, tmp_path):
    rendered = render_report(demo, Filters(), Scope(), "pdf", tmp_path, forecast=False)
    text = pdf_text(rendered.path)
    assert "Marketing" in text and "What to do next" in text
    for label in ("Ad spend", "ROAS", "Platform ROAS", "MER", "CAC", "Sessions",
                  "Revenue per session"):
        assert label in text, label
    assert "Advantage+ Shopping (Meta Ads)" in text
    assert "ROAS fell from" in text and "check the campaign" in text
    assert "last 7 days:" in text and "Ranked by money at stake" in text


def test_the_workbook_has_a_marketing_sheet_on_demo_data(demo, tmp_path):
    rendered = render_report(demo, Filters(), Scope(), "xlsx", tmp_path, forecast=False)
    book = openpyxl.load_workbook(rendered.path)
    assert book.sheetnames == [*SHEETS, MARKETING_SHEET]
    cells = [tuple(row) for row in book[MARKETING_SHEET].iter_rows(values_only=True)]
    assert cells[0][:4] == ("Marketing figure", "This period", "Previous period", "Change")
    assert cells[1][0] == "Sessions" and cells[3][0] == "Ad spend"
    planted = [row for row in cells if row[4] == "Advantage+ Shopping"]
    assert planted and planted[0][3] == "Meta Ads" and planted[0][6] == "check the campaign"
    assert isinstance(planted[0][0], float) and planted[0][0] > 0   # at stake, a number


def test_no_marketing_section_without_ad_spend_or_sessions(tmp_path):
    warehouse = Warehouse(f"duckdb:///{tmp_path / 'shop'}")
    try:
        publish_tiny_shop(warehouse)
        pdf = render_report(warehouse, MARCH, Scope(), "pdf", tmp_path, forecast=False)
        assert "What to do next" not in pdf_text(pdf.path)
        xlsx = render_report(warehouse, MARCH, Scope(), "xlsx", tmp_path,
                             forecast=False)
        assert openpyxl.load_workbook(xlsx.path).sheetnames == list(SHEETS)
    finally:
        warehouse.dispose()
