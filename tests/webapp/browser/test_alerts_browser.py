"""Alerts from the browser (headless Chromium) on the demo warehouse: an analyst fills the
form on the Alerts page (its sentence preview follows), creates the rule, runs its backtest
over 90 days and reads the days it would have fired; after an alert run fires it, the
navbar bell shows the count, its popover lists the firing and leads to it on the page,
and "Mark all read" clears the count."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select

from core import alert_runs, db
from core.orm import AlertRule
from tests.webapp.browser.conftest import click, screenshot, severe_logs, wait_until_loaded
from tests.workers.support import wait_for

pytestmark = pytest.mark.browser


def _type(duo, selector: str, text: str) -> None:
    element = duo.driver.find_element(By.CSS_SELECTOR, selector)
    duo.driver.execute_script(
        "arguments[0].scrollIntoView({block: 'center', behavior: 'instant'})", element)
    element.send_keys(Keys.CONTROL, "a")  # clear() bypasses React: the old value stays
    element.send_keys(Keys.DELETE)
    element.send_keys(text)


def _text(duo, selector: str) -> str:
    found = duo.driver.find_elements(By.CSS_SELECTOR, selector)
    return found[0].text if found else ""


def test_an_analyst_creates_backtests_and_is_told_by_the_bell(browser, shop,
                                                               browser_settings):
    browser.sign_in("analyst@example.com")
    browser.driver.get(browser.server_url + "/alerts")
    browser.wait_for_element("#alerts-save", timeout=15)
    wait_until_loaded(browser)
    assert _text(browser, "#shell-bell-count") == ""

    _type(browser, "#alerts-name", "Any sales at all")
    Select(browser.find_element("#alerts-kind")).select_by_value("threshold")
    Select(browser.find_element("#alerts-kpi")).select_by_value("revenue")
    wait_for(lambda: "above" in [option.get_attribute("value") for option in
                                 Select(browser.find_element("#alerts-direction")).options],
             timeout=10, what="the threshold's directions")
    Select(browser.find_element("#alerts-direction")).select_by_value("above")
    _type(browser, "#alerts-value", "1")
    _type(browser, "#alerts-days", "1")
    wait_for(lambda: _text(browser, "#alerts-preview") ==
             "Tell me when revenue (net) on the latest day is above £1.00.", timeout=10,
             what="the sentence preview")
    click(browser, "#alerts-save")
    wait_for(lambda: "Created “Any sales at all”" in _text(browser, "#alerts-form-status"),
             timeout=20, what="the rule to be created")
    with db.session_scope(browser_settings.database_url) as session:
        rule = session.scalars(sa.select(AlertRule).where(
            AlertRule.name == "Any sales at all")).one()
        rule_id, owner = rule.id, rule.owner.email
    assert owner == "analyst@example.com"

    backtest = f"#alerts-rule-{rule_id} button:nth-of-type(7)"
    browser.wait_for_element(backtest, timeout=15)
    assert browser.find_element(backtest).text == "Backtest"
    click(browser, backtest)
    wait_for(lambda: "would have fired on" in _text(browser, "#alerts-backtest-result"),
             timeout=60, what="the backtest's answer")
    result = _text(browser, "#alerts-backtest-result")
    # every day with sales (the demo shop rests on some days), told daily (24 h cool-down)
    told = re.match(r"“Any sales at all” would have fired on (\d+) days of the 90 from ",
                    result)
    assert told and 50 <= int(told.group(1)) <= 90, result
    assert result.count("above the £1.00 threshold") == int(told.group(1))

    fired = alert_runs.evaluate_all(browser_settings)
    assert len(fired) == 1
    browser.driver.get(browser.server_url + "/alerts")  # a page change refreshes the bell
    wait_for(lambda: _text(browser, "#shell-bell-count") == "1", timeout=20,
             what="the bell's count")
    click(browser, "#shell-bell")
    browser.wait_for_element("#shell-bell-items a", timeout=10)
    # the popover fades in: its text reads "" until it is shown
    wait_for(lambda: _text(browser, "#shell-bell-items").startswith("Alert: Any sales at all"),
             timeout=10, what="the bell's list")
    screenshot(browser, "alerts-bell")
    click(browser, "#shell-bell-items a")
    wait_for(lambda: "above the £1.00 threshold" in _text(browser, "#alerts-firings"),
             timeout=20, what="the firing opened from the bell")
    assert "firing=" in browser.driver.current_url
    if not browser.find_elements("#shell-bell-read"):
        click(browser, "#shell-bell")
    browser.wait_for_element("#shell-bell-read", timeout=10)
    click(browser, "#shell-bell-read")
    wait_for(lambda: _text(browser, "#shell-bell-count") == "", timeout=20,
             what="the count to clear")
    assert severe_logs(browser) == []
