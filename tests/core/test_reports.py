"""PDF and Excel reports of a tiny hand-made shop: the numbers read back from the files are
the KPI summary's (and the hand-worked values), under the filters and the scope."""
from __future__ import annotations

import datetime as dt

import openpyxl
import pypdf
import pytest

from analytics.filters import ALL_DATA, Filters, Scope
from analytics.kpis import kpi_summary
from analytics.warehouse import Warehouse
from core.reports import ReportError, render_report
from core.reports.content import format_value
from core.reports.xlsx import SHEETS
from tests.workers.support import TINY_PERIOD, publish_tiny_shop

MARCH = Filters.from_query(TINY_PERIOD)
FRANCE = Scope.of(["FR"])
NOW = dt.datetime(2024, 5, 15, 12, 0)


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    warehouse = Warehouse(f"duckdb:///{tmp_path_factory.mktemp('shop') / 'warehouse'}")
    publish_tiny_shop(warehouse)
    yield warehouse
    warehouse.dispose()


@pytest.fixture(scope="module")
def pdf_text(shop, tmp_path_factory):
    folder = tmp_path_factory.mktemp("pdf")
    rendered = render_report(shop, MARCH, FRANCE, "pdf", folder, now=NOW)
    reader = pypdf.PdfReader(rendered.path)
    return rendered, "\n".join(page.extract_text() for page in reader.pages)


def test_the_pdf_shows_the_kpi_summary_of_the_scope(shop, pdf_text):
    rendered, text = pdf_text
    kpis = kpi_summary(shop, MARCH, FRANCE)
    assert kpis["revenue"].current == pytest.approx(13.0)        # 23 − 10, worked by hand
    assert kpis["aov"].current == pytest.approx(11.5)
    for name, kind in (("revenue", "money"), ("gross_revenue", "money"),
                       ("returns", "money"), ("aov", "money"), ("orders", "count"),
                       ("customers", "count")):
        assert format_value(kpis[name].current, kind, "£") in text
    assert "£13.00" in text and "£11.50" in text
    assert "n/a (no cost data)" in text                  # profit: empty, never 0
    assert "1 Mar 2011 – 31 Mar 2011" in text and "29 Jan 2011 – 28 Feb 2011" in text
    assert "France (FR)" in text and "Germany" not in text  # the scope hides Germany
    assert "No forecast:" in text                         # four days of sales: too short
    assert "Generated\n15 May 2024 12:00 UTC" in text
    assert rendered.summary()["kpis"] == kpis.to_dict()
    assert rendered.summary()["headline"][0] == {"name": "revenue", "label": "Revenue (net)",
                                                 "value": "£13.00"}


def _rows(sheet):
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def test_the_workbook_has_eight_typed_filtered_sheets_matching_the_kpis(shop, tmp_path):
    rendered = render_report(shop, MARCH, ALL_DATA, "xlsx", tmp_path, now=NOW)
    book = openpyxl.load_workbook(rendered.path)
    assert book.sheetnames == list(SHEETS)
    kpis = kpi_summary(shop, MARCH, ALL_DATA)

    summary = book["Summary KPIs"]
    header_row = next(row[0].row for row in summary.iter_rows() if row[0].value == "Key figure")
    values = {row[1]: row for row in _rows(summary)[header_row:]}
    assert values["revenue"][2] == pytest.approx(kpis["revenue"].current) == pytest.approx(28)
    assert values["orders"][2] == kpis["orders"].current == 3
    assert values["aov"][2] == pytest.approx(38 / 3)
    assert values["profit"][2] == "n/a (no cost data)"
    assert values["customers"][3] == kpis["customers"].previous == 1  # C3 in February
    revenue_cell = summary.cell(header_row + 1, 3)
    assert isinstance(revenue_cell.value, (int, float))
    assert revenue_cell.number_format.startswith('"£"')
    assert summary.freeze_panes == f"A{header_row + 1}"
    assert summary.auto_filter.ref == f"A{header_row}:G{header_row + 13}"

    countries = book["Countries"]
    assert _rows(countries)[0][:3] == ["Country", "ISO code", "Revenue (net)"]
    assert [row[:3] for row in _rows(countries)[1:]] == [["Germany", "DE", 15.0],
                                                         ["France", "FR", 13.0]]
    assert countries.freeze_panes == "A2" and countries.auto_filter.ref == "A1:I3"
    assert countries.column_dimensions["A"].width >= 20

    products = _rows(book["Top products"])
    descriptions = {row[1]: row[2] for row in products[1:]}
    assert descriptions == {"P2": "Mug", "P1": "'=cmd|' /C calc'!A0"}  # never a formula
    assert all(not str(cell.value).startswith("=") for sheet in book for row in sheet.iter_rows()
               for cell in row if cell.value is not None)

    monthly = _rows(book["Monthly trend"])
    assert [row[0].date() for row in monthly[1:]] == [dt.date(2011, 2, 1), dt.date(2011, 3, 1)]
    assert [row[1] for row in monthly[1:]] == [10.0, 28.0]
    cohorts = _rows(book["Cohorts"])
    assert cohorts[0][:3] == ["Cohort", "Customers", "Month 0"]
    # March alone is widened to the 12 months ending with it (analytics.cohorts.cohort_window)
    assert [row[0].date() for row in cohorts[1:3]] == [dt.date(2011, 2, 1), dt.date(2011, 3, 1)]
    assert cohorts[1][1:4] == [1, 1.0, 0.0]            # February cohort: C3, not back in March
    assert cohorts[2][1:3] == [2, 1.0]                 # March cohort: C1 and C2
    notes = [row[0] for row in cohorts
             if isinstance(row[0], str) and row[0].startswith("Cohorts of")]
    assert notes == ["Cohorts of 1 Apr 2010 – 31 Mar 2011 (a period shorter than about six "
                     "months shows the 12 months ending with it)."]
    assert book["Customer segments"].cell(1, 1).value == "Segment"
    assert str(book["Forecast"].cell(2, 1).value).startswith("No forecast:")


def test_another_scope_gets_other_numbers(shop, tmp_path):
    germany = render_report(shop, MARCH, Scope.of(["DE"]), "xlsx", tmp_path, now=NOW)
    summary = germany.summary()
    assert summary["kpis"]["kpis"]["revenue"]["current"] == pytest.approx(15.0)
    assert summary["scope_label"] == "Germany (DE)"
    with pytest.raises(ReportError, match="pdf or xlsx"):
        render_report(shop, MARCH, ALL_DATA, "docx", tmp_path)


def test_a_report_reads_and_fills_the_analytics_cache_the_pages_use(shop, process_cache):
    """gather() goes through the process's analytics cache with the same keys as the
    dashboard and the API: the second report of the same view computes nothing."""
    from analytics import cache, kpis, period
    from core.reports.content import gather

    first = gather(shop, MARCH, FRANCE, forecast=False, now=NOW)
    written = list(process_cache.written)
    second = gather(shop, MARCH, FRANCE, forecast=False, now=NOW)
    version = shop.require_version()
    page_key = cache.Cache().key(kpis.kpi_summary, shop, period.resolve(shop, MARCH), FRANCE,
                                 version, {})
    assert page_key in written                      # the key a page of these filters reads
    assert len(written) == 7                        # KPIs, trend, countries, categories,
    assert process_cache.written == written         # products, segments, cohorts; then hits
    assert second.kpi_summary == first.kpi_summary


def test_the_pdf_forecast_leads_with_the_plain_sentence(tmp_path):
    """A shop with 20 weeks of daily sales: the PDF's forecast section opens with the same
    sentence as the Sales page ("… expected over the next 30 days, between … and …") and
    says how its backtest error compares with seasonal naive's."""
    from core.reports import content
    from tests.analytics.conftest import publish_lines

    warehouse = Warehouse(f"duckdb:///{tmp_path / 'warehouse'}")
    start = dt.date(2024, 1, 1)
    rows = [{"invoice_id": f"I{day}", "invoice_ts": f"{start + dt.timedelta(days=day)} 10:00",
             "customer_id": f"C{day % 40}", "quantity": 1.0 + (day % 7 == 5) * 3,
             "unit_price": 100.0 + day % 11}
            for day in range(140)]
    publish_lines(warehouse, rows)
    period = Filters(start=dt.date(2024, 4, 20), end=dt.date(2024, 5, 19))
    built = content.gather(warehouse, period, ALL_DATA, now=NOW)
    section = built.forecast
    assert section.reason is None and section.sentence.startswith("£")
    assert "expected over the next 30 days, between £" in section.sentence
    rendered = render_report(warehouse, period, ALL_DATA, "pdf", tmp_path, now=NOW)
    text = " ".join(" ".join(page.extract_text() for page in
                             pypdf.PdfReader(rendered.path).pages).split())
    assert section.sentence in text
    assert "(WAPE)," in text and "seasonal naive" in text
    warehouse.dispose()
