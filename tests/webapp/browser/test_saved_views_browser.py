"""Saved views in headless Chromium: choose "Last 90 days" and a country on the Sales page,
save the view keeping the period relative, open another page, pick the view in the sidebar
and land on Sales with the country and the dates of the data's last 90 days."""
from __future__ import annotations

import datetime as dt
import time
from urllib.parse import urlsplit

import pytest
from selenium.webdriver.common.by import By

from analytics import period
from analytics.filters import Filters
from core.orm import SavedView
from tests.webapp.browser.conftest import click, screenshot, severe_logs, wait_until_loaded

pytestmark = pytest.mark.browser
NAME = "Germany, last 90 days"


def wait_for(condition, timeout: float = 20, message: str = "condition not met"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(message)


def current(duo) -> tuple[str, Filters]:
    url = urlsplit(duo.driver.current_url)
    return url.path, Filters.from_query(url.query)


def test_a_relative_view_saved_on_one_page_opens_from_another(browser, shop):
    _first, last = period.data_range(shop.extensions["shoplens.warehouse"])
    last_90 = (last - dt.timedelta(days=89), last)
    browser.sign_in("analyst@example.com")
    browser.driver.get(browser.server_url + "/sales")
    browser.wait_for_element("#sales-series .scatterlayer", timeout=30)
    browser.select_dcc_dropdown("#shell-preset", "Last 90 days")
    wait_for(lambda: (current(browser)[1].start, current(browser)[1].end) == last_90,
             message="the preset did not reach the URL")
    browser.select_dcc_dropdown("#shell-country", "Germany")
    wait_for(lambda: current(browser)[1].countries == ("Germany",),
             message="the country did not reach the URL")
    wait_until_loaded(browser)

    click(browser, "#shell-views-save")
    name = browser.wait_for_element("#shell-views-name", timeout=10)
    relative = browser.find_element("#shell-views-relative")
    assert relative.is_selected(), "a preset is chosen: the period is kept relative"
    name.send_keys(NAME)
    click(browser, "#shell-views-confirm")
    browser.wait_for_contains_text("#shell-views-message", "Saved the view", timeout=10)
    with shop.extensions["shoplens.sessions"]() as session:
        saved = session.query(SavedView).filter_by(name=NAME).one()
        assert (saved.page, saved.filters, saved.period) == (
            "/sales", "country=Germany", "last_90")
    browser.wait_for_contains_text("#shell-views-open", NAME, timeout=10)  # chosen now

    browser.driver.get(browser.server_url + "/products")  # another page, other dates
    browser.wait_for_element("#products-top .bars", timeout=30)
    wait_until_loaded(browser)
    assert current(browser) == ("/products", Filters())
    browser.select_dcc_dropdown("#shell-views-open", NAME)
    wait_for(lambda: current(browser)[0] == "/sales", message="the view did not open Sales")
    _path, filters = current(browser)
    assert (filters.start, filters.end) == last_90
    assert filters.countries == ("Germany",)
    browser.wait_for_element("#sales-series .scatterlayer", timeout=30)
    browser.wait_for_contains_text("#shell-country", "Germany", timeout=10)
    browser.wait_for_contains_text("#shell-preset", "Last 90 days", timeout=10)
    assert browser.driver.find_elements(By.CSS_SELECTOR, "#shell-views-update:not([disabled])")
    screenshot(browser, "saved-view-opened")
    assert not severe_logs(browser)
