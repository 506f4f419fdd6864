"""The Marketing page in headless Chromium on a small demo with its ad spend and sessions:
a viewer opens /marketing, sees the KPI cards with values, the channel table, clicks a
channel for its campaigns, and finds the planted "Advantage+ Shopping" collapse in the
action table."""
from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By

from analytics.warehouse import Warehouse
from core import db, passwords, users
from tests.conftest import cheap_password_hasher
from tests.webapp.browser.conftest import (PASSWORD, USERS, click, screenshot, severe_logs,
                                           wait_until_loaded)
from tests.workers.support import wait_for

pytestmark = pytest.mark.browser

#: Enough lines for the demo's ad spend (drawn from its orders) to pass the actions'
#: min_spend; the conftest's demo has no ad spend.
DEMO_LINES = 50_000


@pytest.fixture(scope="module")
def shop(browser_settings):
    """The app on the demo warehouse with its ad spend and sessions (``load_demo``)."""
    from data.loader import load_demo
    from webapp import create_app
    warehouse = Warehouse(browser_settings.warehouse_url)
    load_demo(warehouse, lines=DEMO_LINES, seed=42)
    warehouse.dispose()
    app = create_app({"TESTING": True}, settings=browser_settings)
    hasher = passwords._hasher
    passwords._hasher = cheap_password_hasher()
    try:
        with db.session_scope(browser_settings.database_url) as session:
            for email, role in USERS.items():
                users.create_user(session, "cli", email, role=role, password=PASSWORD)
    finally:
        passwords._hasher = hasher
    yield app
    app.extensions["shoplens.warehouse"].dispose()


def _text(duo, selector: str) -> str:
    found = duo.driver.find_elements(By.CSS_SELECTOR, selector)
    return found[0].text if found else ""


def test_a_viewer_sees_the_kpis_the_channels_and_the_planted_campaign(browser):
    browser.sign_in("viewer@example.com")
    browser.driver.get(browser.server_url + "/marketing")
    browser.wait_for_element("#marketing-kpi-ad_spend-value", timeout=30)
    wait_until_loaded(browser, timeout=60)
    assert _text(browser, "#marketing-kpi-ad_spend-value").startswith("£")
    assert _text(browser, "#marketing-kpi-roas-value").endswith("×")  # a ratio: "4.73×"
    assert _text(browser, "#marketing-kpi-sessions-value") not in ("", "n/a")
    wait_for(lambda: "Advantage+ Shopping" in _text(browser, "#marketing-actions-table"),
             timeout=30, what="the planted campaign in the action table")
    rows = browser.driver.find_elements(By.CSS_SELECTOR, "#marketing-actions-table tbody tr")
    planted = [row.text for row in rows if "Advantage+ Shopping" in row.text]
    assert "ROAS fell from" in planted[0] and "check the campaign" in planted[0]

    table = _text(browser, "#marketing-channels")
    assert "Google Ads" in table and "Meta Ads" in table
    cells = browser.driver.find_elements(By.CSS_SELECTOR,
                                         "#marketing-channels td[data-dash-column=name]")
    meta = [index for index, cell in enumerate(cells) if cell.text == "Meta Ads"][0]
    click(browser, f"#marketing-channels tbody tr:nth-child({meta + 2}) "
                   "td[data-dash-column=name]")
    wait_for(lambda: "Advantage+ Shopping" in _text(browser, "#marketing-channels"),
             timeout=20, what="Meta's campaigns in the table")
    assert _text(browser, "#marketing-drill") == "Campaigns of Meta Ads"
    assert "ad_channel=Meta+Ads" in browser.driver.current_url
    screenshot(browser, "marketing")
    assert not severe_logs(browser)
