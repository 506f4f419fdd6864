"""Dashboards from the browser (headless Chromium) on the demo warehouse: a viewer creates
a dashboard on the Dashboards page, adds a KPI card and a chart from the page's own
picker, moves the chart up, and sees both tiles drawn in their new order."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select

from core import db
from core.orm import Dashboard
from tests.webapp.browser.conftest import click, screenshot, severe_logs, wait_until_loaded
from tests.workers.support import wait_for

pytestmark = pytest.mark.browser


def _titles(duo) -> list[str]:
    """The tiles' titles in order; [] while the grid is being redrawn (an element found a
    moment ago may be gone: the caller polls again)."""
    try:
        return [element.text for element in duo.driver.find_elements(
            By.CSS_SELECTOR, ".dashboards-tile .card-header span.fw-semibold")]
    except StaleElementReferenceException:
        return []


def _add(duo, panel_id: str, count: int) -> None:
    Select(duo.find_element("#dashboards-add-panel")).select_by_value(panel_id)
    click(duo, "#dashboards-add")
    wait_for(lambda: len(_titles(duo)) == count, timeout=30, what=f"tile {count}")
    wait_until_loaded(duo)


def test_a_viewer_composes_a_dashboard(browser, browser_settings):
    browser.sign_in("viewer@example.com")
    browser.driver.get(browser.server_url + "/dashboards")
    browser.wait_for_element("#dashboards-create", timeout=15)
    wait_until_loaded(browser)
    assert "No dashboard yet" in browser.find_element("#dashboards-grid").text

    name = browser.find_element("#dashboards-new-name")
    name.send_keys(Keys.CONTROL, "a")
    name.send_keys("Monday morning")
    click(browser, "#dashboards-create")
    wait_for(lambda: "Created “Monday morning”" in browser.find_element(
        "#dashboards-message").text, timeout=20, what="the dashboard to be created")
    wait_until_loaded(browser)
    assert "dashboard=" in browser.driver.current_url

    _add(browser, "overview-kpi-revenue", 1)
    _add(browser, "geography-top", 2)
    assert _titles(browser) == ["Revenue (net)", "Top 15 countries"]

    up = browser.driver.find_elements(By.CSS_SELECTOR, ".dashboards-tile "
                                                       "button[title='Move up']")[1]
    browser.driver.execute_script(
        "arguments[0].scrollIntoView({block: 'center', behavior: 'instant'})", up)
    up.click()
    wait_for(lambda: _titles(browser) == ["Top 15 countries", "Revenue (net)"], timeout=30,
             what="the chart to move up")
    wait_until_loaded(browser)

    tiles = browser.driver.find_elements(By.CSS_SELECTOR, ".dashboards-tile")
    assert tiles[0].find_elements(By.CSS_SELECTOR, ".js-plotly-plot .bars, .js-plotly-plot "
                                                   ".point"), "the chart has no bars"
    value = tiles[1].find_element(By.CSS_SELECTOR, ".kpi-value").text
    assert value.startswith("£") and value != "£0.00", value
    screenshot(browser, "dashboards")
    assert severe_logs(browser) == []

    with db.session_scope(browser_settings.database_url) as session:
        board = session.scalars(sa.select(Dashboard).where(
            Dashboard.name == "Monday morning")).one()
        assert board.owner.email == "viewer@example.com"
        assert [(tile.position, tile.panel) for tile in
                sorted(board.tiles, key=lambda tile: tile.position)] == \
            [(0, "geography-top"), (1, "overview-kpi-revenue")]
