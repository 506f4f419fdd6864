"""Notes and the comparison in headless Chromium: an analyst adds a note from the Overview
and sees it on the revenue chart; "Compare with" switched to last year changes the KPI
cards' label and the URL; a viewer gets no "Add note" form."""
from __future__ import annotations

import datetime as dt
import time
from urllib.parse import urlsplit

import pytest
from selenium.webdriver.common.by import By

from analytics import period
from analytics.filters import Filters
from tests.webapp.browser.conftest import click, screenshot, severe_logs, wait_until_loaded

pytestmark = pytest.mark.browser


def wait_for(condition, timeout: float = 20, message: str = "condition not met"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(message)


def chart_texts(duo, graph_id: str) -> list[str]:
    return [element.text for element in duo.driver.find_elements(
        By.CSS_SELECTOR, f"#{graph_id} .annotation-text")]


def test_an_analyst_adds_a_note_and_sees_it_on_the_chart(browser, shop):
    _first, last = period.data_range(shop.extensions["shoplens.warehouse"])
    browser.sign_in("analyst@example.com")
    browser.wait_for_element("#overview-trend .scatterlayer", timeout=30)
    wait_until_loaded(browser)
    day = (last - dt.timedelta(days=5)).isoformat()
    browser.find_element("#overview-note-start").send_keys(day)
    browser.find_element("#overview-note-text").send_keys("Browser price change")
    click(browser, "#overview-note-add")
    browser.wait_for_contains_text("#overview-note-status", f"Note added on {day}", timeout=15)
    wait_for(lambda: "Browser price change" in chart_texts(browser, "overview-trend"),
             message="the note is not on the chart")
    screenshot(browser, "overview-note")
    # a bad date is refused with a message naming the field, nothing is added
    browser.find_element("#overview-note-start").clear()
    browser.find_element("#overview-note-start").send_keys("next tuesday")
    browser.find_element("#overview-note-text").send_keys("Nope")
    click(browser, "#overview-note-add")
    browser.wait_for_contains_text("#overview-note-status", "the note's day must be a date",
                                   timeout=15)
    assert severe_logs(browser) == []


def test_compare_with_last_year_changes_the_kpi_label(browser):
    browser.sign_in("viewer@example.com")
    browser.wait_for_element("#overview-kpi-revenue-vs", timeout=30)
    wait_until_loaded(browser)
    assert not browser.driver.find_elements(By.ID, "overview-note-form")  # viewers read only
    before = browser.find_element("#overview-kpi-revenue-vs").text
    assert before.startswith("vs ") and before != "vs same days last year"
    browser.select_dcc_dropdown("#shell-compare", "Same days last year")
    browser.wait_for_text_to_equal("#overview-kpi-revenue-vs", "vs same days last year",
                                   timeout=20)
    query = urlsplit(browser.driver.current_url).query
    assert Filters.from_query(query).compare == "last_year"
    legend = wait_for(lambda: [e.text for e in browser.driver.find_elements(
        By.CSS_SELECTOR, "#overview-trend .legendtext")], message="no legend")
    assert "Last year" in legend
    screenshot(browser, "overview-last-year")
    assert severe_logs(browser) == []
