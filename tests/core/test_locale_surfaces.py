"""A USD (or de-style EUR) installation writes its amounts with its own sign on every
surface that leaves the app: the PDF, the Excel cells' number formats, the digest and the
alert e-mails; £ never appears on dollars. The shops are the reports', digest's and alert
runs' tiny hand-made ones (their numbers are worked out in those tests)."""
from __future__ import annotations

import email
import email.policy

import openpyxl
import pypdf

from analytics.filters import ALL_DATA, Filters, Scope
from core import alert_runs, db, installation
from core import digest as digests
from core.formatting import Locale
from core.reports import render_report
from tests.analytics.conftest import publish_lines
from tests.core.test_alert_runs import NOW, TODAY as ALERT_TODAY, _rule, _settings
from tests.core.test_digest import TODAY, _lines
from tests.core.test_reports import FRANCE, MARCH, shop  # noqa: F401  (the fixture)

USD = Locale(currency="USD")
NBSP = "\u00a0"


def test_the_pdf_writes_dollars(shop, tmp_path):  # noqa: F811
    rendered = render_report(shop, MARCH, FRANCE, "pdf", tmp_path, currency=USD)
    text = "\n".join(page.extract_text() for page in pypdf.PdfReader(rendered.path).pages)
    assert "$13.00" in text and "$11.50" in text          # France's revenue and AOV
    assert "£" not in text


def test_excel_cells_carry_the_currencys_number_format(shop, tmp_path):  # noqa: F811
    rendered = render_report(shop, MARCH, ALL_DATA, "xlsx", tmp_path, currency=USD)
    summary = openpyxl.load_workbook(rendered.path)["Summary KPIs"]
    formats = {cell.number_format for row in summary.iter_rows() for cell in row}
    assert '"$"#,##0.00;-"$"#,##0.00' in formats and not any("£" in f for f in formats)
    euro = Locale(currency="EUR", number_style="1.234,56", date_format="dd/mm/yyyy")
    book = openpyxl.load_workbook(render_report(shop, MARCH, ALL_DATA, "xlsx",
                                                tmp_path / "eur", currency=euro).path)
    assert '#,##0.00 "€";-#,##0.00 "€"' in {
        cell.number_format for row in book["Summary KPIs"].iter_rows() for cell in row}
    monthly = book["Monthly trend"]
    assert monthly.cell(2, 2).number_format == '#,##0.00 "€";-#,##0.00 "€"'


def test_the_digest_e_mail_writes_dollars_and_the_locales_dates(tmp_path):
    from analytics.warehouse import Warehouse
    warehouse = Warehouse(f"duckdb:///{tmp_path / 'warehouse'}")
    try:
        publish_lines(warehouse, _lines())
        us = Locale(currency="USD", date_format="mm/dd/yyyy")
        digest = digests.gather_digest(warehouse, Filters(), Scope(), today=TODAY,
                                       currency=us)
        sent = digests.digest_email(digest, tmp_path)
    finally:
        warehouse.dispose()
    # revenue 3,010 against 4,200 (tests/core/test_digest.py)
    assert sent["subject"] == ("Weekly digest: Revenue (net) $3,010 (−$1,190 (−28.3%)) in "
                               "the week to 03/14/2011")
    assert "Week 03/08/2011 – 03/14/2011" in sent["text"]
    assert "£" not in sent["text"] and "£" not in sent["html"]


def test_the_alert_e_mail_follows_the_installations_locale(tmp_path):
    settings = _settings(tmp_path)
    _rule(settings)
    with db.session_scope(settings.database_url) as session:
        installation.update_locale(session, "cli", {"currency": "EUR",
                                                    "number_style": "1.234,56"})
    [_firing] = alert_runs.evaluate_all(settings, ALERT_TODAY, NOW)
    [eml] = list(settings.outbox.glob("*.eml"))
    message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    text = message.get_body(("plain",)).get_content()
    # revenue 3,010 against 4,200; France 1,400 → 350 (tests/core/test_alert_runs.py)
    assert f"Now: 3.010{NBSP}€, Before: 4.200{NBSP}€" in text
    assert f"France: 1.400{NBSP}€ → 350,00{NBSP}€" in text
    assert "£" not in text
