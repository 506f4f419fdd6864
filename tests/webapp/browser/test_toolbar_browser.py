"""The chart menu in headless Chromium: on the Overview an analyst downloads the revenue
chart's CSV (the file Chromium saves holds the chart's points) and its PNG and the "What
changed" sentences, and pins the chart to a new dashboard."""
from __future__ import annotations

import csv
import datetime as dt
import io
import time

import pytest
import sqlalchemy as sa
from selenium.webdriver.common.by import By

from core import db, users
from core.orm import Dashboard
from tests.webapp.browser.conftest import click, severe_logs, wait_until_loaded

pytestmark = pytest.mark.browser

def menu(panel: str) -> str:
    return f'div.toolbar[data-panel="{panel}"]'


def wait_for(condition, timeout: float = 20, message: str = "condition not met"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(message)


def open_menu_item(duo, label: str, panel: str = "overview-trend") -> None:
    click(duo, f"{menu(panel)} button.toolbar-toggle")
    item = wait_for(lambda: next((element for element in duo.driver.find_elements(
        By.CSS_SELECTOR, f"{menu(panel)} .dropdown-item") if element.text == label
        and element.is_displayed()), None), message=f"no menu item {label!r}")
    item.click()


def open_overview(duo, email: str) -> None:
    duo.sign_in(email)
    duo.wait_for_element("#overview-trend .scatterlayer .trace", timeout=30)
    wait_until_loaded(duo)


def test_an_analyst_downloads_the_revenue_charts_csv(browser, tmp_path):
    browser.driver.execute_cdp_cmd("Page.setDownloadBehavior",
                                   {"behavior": "allow", "downloadPath": str(tmp_path)})
    open_overview(browser, "analyst@example.com")
    shown = browser.driver.execute_script(
        "var gd = document.querySelector('#overview-trend .js-plotly-plot');"
        "return [gd._fullData[0].x.length, Array.from(gd._fullData[0].y).reduce((a, b) => a + b, 0)];")
    open_menu_item(browser, "Download CSV")
    name = f"overview-trend-{dt.datetime.now(dt.UTC).date().isoformat()}.csv"
    path = wait_for(lambda: (tmp_path / name) if (tmp_path / name).exists() and
                    (tmp_path / name).stat().st_size else None, message=f"no {name}")
    rows = list(csv.DictReader(io.StringIO(path.read_text())))
    assert list(rows[0])[:2] == ["date", "This period"]
    assert len(rows) == shown[0]
    assert sum(float(row["This period"]) for row in rows) == pytest.approx(shown[1])
    # the PNG is drawn by plotly.js in the browser, under the same name
    open_menu_item(browser, "Download PNG")
    image = tmp_path / name.replace(".csv", ".png")
    wait_for(lambda: image.exists() and image.stat().st_size, message=f"no {image.name}")
    assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # a card of sentences: one row per sentence on screen, under the card's title
    sentences = [item.text for item in browser.driver.find_elements(
        By.CSS_SELECTOR, "#overview-insight-list li")]
    assert sentences
    open_menu_item(browser, "Download CSV", "overview-insights")
    listed = tmp_path / name.replace("overview-trend", "overview-insights")
    wait_for(lambda: listed.exists() and listed.stat().st_size, message=f"no {listed.name}")
    rows = list(csv.reader(io.StringIO(listed.read_text())))
    assert rows[0] == ["What changed"] and [row[0].lstrip("'") for row in rows[1:]] == sentences
    assert severe_logs(browser) == []


def test_a_chart_is_pinned_to_a_new_dashboard(browser, shop):
    open_overview(browser, "analyst@example.com")
    open_menu_item(browser, "Pin to dashboard…")
    browser.wait_for_element(".modal.show select", timeout=10)
    wait_for(lambda: browser.driver.find_element(By.CSS_SELECTOR, ".modal.show select")
             .get_attribute("value") == "new", message="“New dashboard…” not chosen")
    browser.find_element(".modal.show input").send_keys("Browser board")
    click(browser, ".modal.show .modal-footer .btn-primary")
    wait_for(lambda: any("Pinned to Browser board" in toast.text for toast in
                         browser.driver.find_elements(By.CSS_SELECTOR, ".toast")),
             message="no “Pinned to Browser board” toast")
    settings = shop.extensions["shoplens.settings"]
    with db.session_scope(settings.database_url) as session:
        owner = users.get_user(session, "analyst@example.com")
        board = session.scalars(sa.select(Dashboard).where(
            Dashboard.owner_id == owner.id, Dashboard.name == "Browser board")).one()
        assert [tile.panel for tile in board.tiles] == ["overview-trend"]
    assert severe_logs(browser) == []
