"""Background jobs from the browser against a REAL Celery worker process: an analyst's PDF
and Excel reports arriving by e-mail (the embedded default: .eml files in the outbox), and
an admin's upload of a generic CSV through the mapping step to a new data version.

The app under dash_duo and the worker share one SHOPLENS_HOME, so the same app database,
warehouse and embedded SQLite broker (``tests.workers.support.worker_environment``).
"""
from __future__ import annotations

import datetime as dt
import io
import json
from urllib.parse import urlencode

import openpyxl
import pytest
from selenium.webdriver.common.by import By

from analytics import kpis, period
from analytics.filters import ALL_DATA, Filters
from core import mail
from tests.webapp.browser.conftest import (click, screenshot, severe_logs,
                                          wait_until_loaded)
from tests.workers.support import WorkerProcess, wait_for, worker_environment

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def worker(shop, browser_settings):
    """A Celery worker on the browser app's home (started after the app migrated its
    database)."""
    home = browser_settings.home
    process = WorkerProcess(worker_environment(home), home / "worker.log").start()
    yield process
    process.stop()


def _report_filters(shop) -> Filters:
    """The last 60 days of the demo data, web orders only."""
    warehouse = shop.extensions["shoplens.warehouse"]
    _first, last = period.data_range(warehouse)
    return Filters(start=last - dt.timedelta(days=59), end=last, channels=("Web",))


def _outbox_messages(settings, count: int) -> list:
    def arrived():
        paths = sorted(settings.outbox.glob("*.eml"))
        return paths if len(paths) >= count else None
    return [mail.read_eml(path) for path in wait_for(arrived, timeout=120,
                                                     what=f"{count} e-mails in the outbox")]


def _jobs_table(duo) -> dict | None:
    """The jobs table read in one go (it is re-rendered every poll, so elements found
    one step earlier may be gone)."""
    return duo.driver.execute_script("""
        const table = document.getElementById('reports-jobs-table');
        if (!table) return null;
        return {rows: table.querySelectorAll('tbody tr').length, text: table.innerText,
                downloads: [...table.querySelectorAll('a')]
                    .filter(a => a.textContent === 'Download').length};""")


def _summary_revenue(book: openpyxl.Workbook) -> float:
    for row in book["Summary KPIs"].iter_rows(values_only=True):
        if len(row) > 2 and row[1] == "revenue":
            return row[2]
    raise AssertionError("no revenue row in the Summary KPIs sheet")


def test_analyst_requests_pdf_and_excel_reports_and_both_arrive_by_email(browser, shop,
                                                                         worker):
    settings = shop.extensions["shoplens.settings"]
    filters = _report_filters(shop)
    browser.sign_in("analyst@example.com")
    browser.driver.get(f"{browser.server_url}/reports?{urlencode(filters.to_params())}")
    browser.wait_for_element("#reports-jobs", timeout=30)
    wait_until_loaded(browser)
    browser.find_element("#reports-email").click()
    browser.find_element("#reports-pdf").click()
    browser.wait_for_contains_text("#reports-request-status", "Requested", timeout=15)
    browser.find_element("#reports-xlsx").click()
    wait_for(lambda: (_jobs_table(browser) or {}).get("rows") == 2, timeout=15,
             what="both report jobs listed")

    def both_done():
        table = _jobs_table(browser)
        return table and table["text"].count("done") == 2 and table["downloads"] == 2
    try:
        wait_for(both_done, timeout=180, every=0.5, what="both reports done on the page")
    except AssertionError:
        raise AssertionError(worker.log()) from None
    screenshot(browser, "reports-done")
    assert severe_logs(browser) == []

    messages = _outbox_messages(settings, 2)
    assert {message["To"] for message in messages} == {"analyst@example.com"}
    attachments = {part.get_filename().rsplit(".", 1)[-1]: part.get_content()
                   for message in messages for part in message.iter_attachments()}
    assert set(attachments) == {"pdf", "xlsx"}
    assert attachments["pdf"].startswith(b"%PDF")
    book = openpyxl.load_workbook(io.BytesIO(attachments["xlsx"]))
    expected = kpis.kpi_summary(shop.extensions["shoplens.warehouse"], filters, ALL_DATA)
    assert expected["revenue"].current > 0
    assert _summary_revenue(book) == pytest.approx(expected["revenue"].current, abs=0.005)


#: A small export of another shop: its own column names, a return and a line without a
#: customer. Two invoices on 2024-05-02 and 2024-05-03 in France and Spain.
GENERIC_CSV = """order_no;ordered_at;sku;item;qty;price;nation;buyer
X1;2024-05-02 10:00;S1;Lamp;2;15.5;France;K1
X1;2024-05-02 10:00;S2;Mug;1;4;France;K1
X2;2024-05-03 11:30;S1;Lamp;1;15.5;Spain;
X3;2024-05-03 12:00;S2;Mug;-1;4;France;K1
"""
MAPPING = {"invoice_id": "order_no", "invoice_ts": "ordered_at", "product_id": "sku",
           "quantity": "qty", "unit_price": "price", "country": "nation",
           "customer_id": "buyer", "description": "item"}


def _force_and_load(browser, worker) -> None:
    """Tick "Replace even if…" (a few lines replace the demo data) and load; wait for the
    job to finish, with the worker's log when it does not."""
    click(browser, "#data-force")
    click(browser, "#data-load-run")
    try:
        browser.wait_for_contains_text("#data-load-status", "Done", timeout=120)
    except Exception:
        raise AssertionError(browser.find_element("#data-load-status").text + "\n"
                             + worker.log()) from None


def _map_dropdown(duo, field: str):
    element_id = json.dumps({"field": field, "type": "data-map"}, separators=(",", ":"))
    return duo.driver.find_element(By.XPATH, f"//*[@id='{element_id}']")


def test_admin_uploads_a_generic_csv_and_a_new_version_is_loaded(browser, shop, worker,
                                                                 tmp_path):
    warehouse = shop.extensions["shoplens.warehouse"]
    before = warehouse.current_version()
    upload = tmp_path / "other-shop.csv"
    upload.write_text(GENERIC_CSV, encoding="utf-8")
    browser.sign_in("admin@example.com")
    browser.driver.get(browser.server_url + "/data")
    browser.wait_for_element("#data-quality-table", timeout=30)
    wait_until_loaded(browser)
    browser.driver.find_element(By.CSS_SELECTOR, "#data-upload input[type=file]").send_keys(
        str(upload))
    browser.wait_for_contains_text("#data-upload-status", "8 columns", timeout=15)
    browser.driver.find_element(By.CSS_SELECTOR, "#data-format input[value=generic]").click()
    wait_for(lambda: _map_dropdown(browser, "invoice_id").is_displayed(), timeout=10,
             what="the mapping step")
    for field, column in MAPPING.items():
        browser.select_dcc_dropdown(_map_dropdown(browser, field), column)
        wait_for(lambda: column in _map_dropdown(browser, field).text, timeout=5,
                 what=f"{field} mapped to {column}")
    # 4 lines replacing the 20,000 demo lines: refused unless forced (data.loader)
    _force_and_load(browser, worker)
    version = warehouse.current_version()
    assert version is not None and version != before
    browser.wait_for_contains_text("#data-quality-table", str(version), timeout=15)
    quality_text = browser.find_element("#data-quality-table").text
    assert "Lines 4" in quality_text and "Return lines 1" in quality_text
    assert "Lines without a customer 1" in quality_text
    assert "2024-05-02 – 2024-05-03" in quality_text
    history = browser.find_element("#data-history-table tbody tr").text
    assert "done" in history and str(version) in history
    assert warehouse.read_lines()["invoice_id"].tolist().count("X1") == 2
    screenshot(browser, "data-generic-load")
    assert severe_logs(browser) == []


def test_admin_uploads_a_shopify_export_confirms_the_detected_format_and_loads_it(
        browser, shop, worker, tmp_path):
    """From the UI alone: the upload pre-selects "Shopify orders export", the admin
    confirms by loading, and the data is the orders' own totals (Subtotal − refunds)."""
    from tests.data.test_platform_formats import (SHOPIFY, SHOPIFY_REFUNDS_ON_ITEMS,
                                                  SHOPIFY_SUBTOTALS)

    warehouse = shop.extensions["shoplens.warehouse"]
    upload = tmp_path / "orders_export.csv"
    upload.write_text(SHOPIFY, encoding="utf-8")
    browser.sign_in("admin@example.com")
    browser.driver.get(browser.server_url + "/data")
    browser.wait_for_element("#data-quality-table", timeout=30)
    wait_until_loaded(browser)
    browser.driver.find_element(By.CSS_SELECTOR, "#data-upload input[type=file]").send_keys(
        str(upload))
    browser.wait_for_contains_text("#data-upload-status",
                                   "This looks like a Shopify orders export", timeout=15)
    assert browser.driver.find_element(
        By.CSS_SELECTOR, "#data-format input[value=shopify]").is_selected()
    _force_and_load(browser, worker)
    lines = warehouse.read_lines()
    value = lines["quantity"] * lines["unit_price"]
    assert round(float(value.sum()), 2) == SHOPIFY_SUBTOTALS - SHOPIFY_REFUNDS_ON_ITEMS
    browser.wait_for_contains_text("#data-quality", "left out: Financial Status = voided",
                                   timeout=15)
    screenshot(browser, "data-shopify-load")
    assert severe_logs(browser) == []
