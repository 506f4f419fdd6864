"""Issue 15's done-when, from the UI alone, in headless Chromium: a new analyst saves a
rolling view, builds a dashboard of four tiles pinned from three pages, shares it with a
colleague whose scope is France (who then sees France's numbers, not the analyst's), adds
a note on a date and finds it in the dashboard's PDF.

The only thing done outside the browser is what an admin did before: creating the two
accounts. Every number the test compares is computed again here, directly from the
analytics package under the colleague's scope. Screenshots land in
tests/artifacts/screenshots/morning-*.png."""
from __future__ import annotations

import datetime as dt
import io
import time
from urllib.parse import urlsplit

import pytest
import requests
import sqlalchemy as sa
from pypdf import PdfReader
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from analytics import kpis, period
from analytics.filters import Filters, Scope
from core import db, users
from core.orm import Dashboard, SavedView
from core.formatting import format_value
from tests.conftest import cheap_password_hasher
from tests.webapp.browser.conftest import PASSWORD, click, screenshot, severe_logs, \
    wait_until_loaded

pytestmark = pytest.mark.browser
ANALYST, COLLEAGUE = "new.analyst@example.com", "marie@example.com"
BOARD, VIEW, NOTE = "My morning", "UK, last 90 days", "Gift set price up"


def wait_for(condition, timeout: float = 30, message: str = "condition not met"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            value = condition()
        except StaleElementReferenceException:   # the part was being redrawn: look again
            value = None
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(message)


@pytest.fixture(scope="module")
def people(shop):
    """What the admin did beforehand: a new analyst with all data, a viewer for France."""
    from core import passwords
    settings = shop.extensions["shoplens.settings"]
    hasher, passwords._hasher = passwords._hasher, cheap_password_hasher()
    try:
        with db.session_scope(settings.database_url) as session:
            admin = users.get_user(session, "admin@example.com")
            users.create_user(session, admin, ANALYST, role="analyst", password=PASSWORD,
                              name="Ann")
            users.create_user(session, admin, COLLEAGUE, role="viewer", countries="FR",
                              password=PASSWORD, name="Marie")
    finally:
        passwords._hasher = hasher
    return settings


def pin(duo, page: str, graph: str, target: str) -> None:
    """Open ``page``, wait for ``graph`` to draw, and pin it with its "⋯" menu to the
    dashboard ``target`` (created by the dialog when it does not exist yet)."""
    duo.driver.get(duo.server_url + page)
    duo.wait_for_element(f"#{graph} .js-plotly-plot", timeout=40)
    wait_until_loaded(duo, timeout=40)
    menu = f'div.toolbar[data-panel="{graph}"]'
    click(duo, f"{menu} button.toolbar-toggle")
    item = wait_for(lambda: next((element for element in duo.driver.find_elements(
        By.CSS_SELECTOR, f"{menu} .dropdown-item") if element.text == "Pin to dashboard…"
        and element.is_displayed()), None), message=f"no pin item on {graph}")
    item.click()
    select = Select(duo.wait_for_element(".modal.show select", timeout=10))
    labels = wait_for(lambda: [option.text for option in select.options],
                      message="the dialog lists no dashboard")
    if BOARD in labels:
        select.select_by_visible_text(BOARD)
    else:
        duo.find_element(".modal.show input").send_keys(BOARD)
    click(duo, ".modal.show .modal-footer .btn-primary")
    wait_for(lambda: any(f"Pinned to {BOARD}" in toast.text for toast in
                         duo.driver.find_elements(By.CSS_SELECTOR, ".toast")),
             message=f"{graph} was not pinned")


def titles(duo) -> list[str]:
    return [element.text for element in duo.driver.find_elements(
        By.CSS_SELECTOR, ".dashboards-tile .card-header span.fw-semibold")]


def signed_in_session(duo) -> requests.Session:
    """The browser's cookies in a requests session (to fetch what a link downloads)."""
    session = requests.Session()
    for cookie in duo.driver.get_cookies():
        session.cookies.set(cookie["name"], cookie["value"])
    return session


def test_a_new_analyst_builds_shares_and_annotates_a_morning_dashboard(browser, shop, people):
    warehouse = shop.extensions["shoplens.warehouse"]
    first, last = period.data_range(warehouse)

    # 1. a rolling view: the Sales page, the last 90 days, the United Kingdom
    browser.sign_in(ANALYST)
    browser.driver.get(browser.server_url + "/sales")
    browser.wait_for_element("#sales-series .scatterlayer", timeout=40)
    browser.select_dcc_dropdown("#shell-preset", "Last 90 days")
    browser.select_dcc_dropdown("#shell-country", "United Kingdom")
    wait_for(lambda: Filters.from_query(urlsplit(browser.driver.current_url).query)
             .countries == ("United Kingdom",), message="the country is not in the URL")
    wait_until_loaded(browser)
    click(browser, "#shell-views-save")
    browser.wait_for_element("#shell-views-name", timeout=10).send_keys(VIEW)
    assert browser.find_element("#shell-views-relative").is_selected()
    click(browser, "#shell-views-confirm")
    browser.wait_for_contains_text("#shell-views-message", "Saved the view", timeout=15)
    screenshot(browser, "morning-1-saved-view")
    with db.session_scope(people.database_url) as session:
        saved = session.scalars(sa.select(SavedView).where(SavedView.name == VIEW)).one()
        assert (saved.page, saved.period) == ("/sales", "last_90")  # relative, not dates

    # 2. four tiles from three pages: Overview, Sales and Products charts pinned, then the
    #    revenue card added on the Dashboards page itself
    pin(browser, "/", "overview-trend", BOARD)
    pin(browser, "/sales", "sales-series", BOARD)
    pin(browser, "/products", "products-top", BOARD)
    with db.session_scope(people.database_url) as session:
        board_id = session.scalars(sa.select(Dashboard.id).where(Dashboard.name == BOARD)).one()
    browser.driver.get(f"{browser.server_url}/dashboards?dashboard={board_id}")
    wait_for(lambda: len(titles(browser)) == 3, message="the three pinned tiles")
    Select(browser.find_element("#dashboards-add-panel")).select_by_value(
        "overview-kpi-revenue")
    click(browser, "#dashboards-add")
    wait_for(lambda: len(titles(browser)) == 4, message="the fourth tile")
    wait_until_loaded(browser, timeout=40)
    from webapp.dashboard import panels
    tiles = ["overview-trend", "sales-series", "products-top", "overview-kpi-revenue"]
    assert titles(browser) == [panels.PANELS[tile].title for tile in tiles]

    # 3. shared with Marie only (France): "Chosen colleagues", then her name
    Select(browser.find_element("#dashboards-sharing")).select_by_value("users")
    browser.wait_for_contains_text("#dashboards-message", "Choose the colleagues", timeout=15)
    browser.select_dcc_dropdown("#dashboards-share-users", f"Marie ({COLLEAGUE})")
    browser.wait_for_contains_text("#dashboards-message", f"Shared with {COLLEAGUE}",
                                   timeout=15)
    wait_until_loaded(browser, timeout=40)
    screenshot(browser, "morning-2-dashboard")

    # 4. a note on a day of the last 30 days, from the Overview
    day = last - dt.timedelta(days=10)
    browser.driver.get(browser.server_url + "/")
    browser.wait_for_element("#overview-trend .scatterlayer", timeout=40)
    wait_until_loaded(browser, timeout=40)
    browser.find_element("#overview-note-start").send_keys(day.isoformat())
    browser.find_element("#overview-note-text").send_keys(NOTE)
    click(browser, "#overview-note-add")
    browser.wait_for_contains_text("#overview-note-status", f"Note added on {day}", timeout=15)
    wait_for(lambda: NOTE in [element.text for element in browser.driver.find_elements(
        By.CSS_SELECTOR, "#overview-trend .annotation-text")], message="the note's marker")
    screenshot(browser, "morning-3-note")

    # 5. the note in the dashboard's PDF, fetched from its "Download PDF" link
    browser.driver.get(f"{browser.server_url}/dashboards?dashboard={board_id}")
    link = browser.wait_for_element("#dashboards-pdf", timeout=30).get_attribute("href")
    response = signed_in_session(browser).get(link, timeout=120)
    assert response.status_code == 200 and response.content[:5] == b"%PDF-", response.text[:200]
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)
    text = " ".join(text.split())
    assert BOARD in text and NOTE in text, text[:2000]
    for tile in tiles:
        assert panels.PANELS[tile].title in text
    assert severe_logs(browser) == []

    # 6. Marie signs in and sees the dashboard under her own scope: France's revenue
    browser.driver.delete_all_cookies()
    browser.sign_in(COLLEAGUE)
    browser.driver.get(browser.server_url + "/dashboards")
    picker = Select(browser.wait_for_element("#dashboards-picker", timeout=20))
    wait_for(lambda: any(BOARD in option.text for option in picker.options),
             message="the shared dashboard is not in Marie's list")
    browser.driver.get(f"{browser.server_url}/dashboards?dashboard={board_id}")
    wait_for(lambda: len(titles(browser)) == 4, message="Marie's four tiles")
    wait_until_loaded(browser, timeout=40)
    assert browser.find_element("#dashboards-editor").get_attribute("hidden") is not None
    shown = wait_for(lambda: browser.driver.find_element(
        By.CSS_SELECTOR, ".dashboards-tile .kpi-value").text, message="no revenue card")
    query = urlsplit(browser.driver.current_url).query
    filters = Filters.from_query(query)   # the dashboard's id aside, the tiles' view
    france = kpis.kpi_summary(warehouse, filters, Scope(countries=("FR",)))["revenue"].current
    everyone = kpis.kpi_summary(warehouse, filters, Scope())["revenue"].current
    currency = people.currency
    assert shown == format_value(france, "money", currency)
    assert shown != format_value(everyone, "money", currency)
    # Ann's note (written with all data: about the whole store) is on Marie's time charts
    wait_for(lambda: NOTE in [element.text for element in browser.driver.find_elements(
        By.CSS_SELECTOR, ".dashboards-tile .annotation-text")], message="the note on a tile")
    screenshot(browser, "morning-4-colleague")
    assert severe_logs(browser) == []
    assert first <= day <= last
