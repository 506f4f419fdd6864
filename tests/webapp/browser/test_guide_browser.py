"""Explained numbers in headless Chromium: a user scoped to France and Germany sees the
"Your data: France, Germany" badge (and its tooltip on hover), opens the revenue card's ⓘ
and reads METRICS.md's definition, then takes the tour from the navbar, forward and back,
to its end. The badge is on the Flask account page too.
Screenshots: guide-kpi-definition, guide-tour-step-4."""
from __future__ import annotations

import time

import pytest
from selenium.webdriver.common.action_chains import ActionChains

from analytics import glossary
from core import db, passwords, users
from tests.conftest import cheap_password_hasher
from tests.webapp.browser.conftest import PASSWORD, click, screenshot, wait_until_loaded

pytestmark = pytest.mark.browser
SCOPED = "frde@example.com"


def wait_for(condition, timeout: float = 20, message: str = "condition not met"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(message)


@pytest.fixture
def scoped_user(shop):
    settings = shop.extensions["shoplens.settings"]
    hasher = passwords._hasher
    passwords._hasher = cheap_password_hasher()
    try:
        with db.session_scope(settings.database_url) as session:
            if users.find_user(session, SCOPED) is None:
                users.create_user(session, "cli", SCOPED, role="analyst",
                                  countries=["FR", "DE"], password=PASSWORD)
    finally:
        passwords._hasher = hasher
    return SCOPED


def _tour_title(duo) -> str:
    return duo.find_element("#shell-tour-title").text


def test_a_scoped_user_sees_the_badge_reads_a_definition_and_takes_the_tour(browser,
                                                                              scoped_user):
    browser.sign_in(scoped_user)
    badge = browser.wait_for_element("#shell-scope-badge", timeout=30)
    assert badge.text == "Your data: France, Germany"
    ActionChains(browser.driver).move_to_element(badge).perform()
    tip = wait_for(lambda: [e for e in browser.driver.find_elements("css selector", ".tooltip")
                            if e.is_displayed()], message="no tooltip on the badge")
    assert "ask an admin to change it" in tip[0].text

    # a KPI card's definition, in METRICS.md's words
    browser.wait_for_element("#overview-kpi-revenue-value", timeout=30)
    wait_until_loaded(browser)
    click(browser, "#overview-kpi-revenue-info")
    body = wait_for(lambda: [e for e in browser.driver.find_elements(
        "css selector", "#overview-kpi-revenue-info-popover .popover-body") if e.is_displayed()],
        message="the revenue card's definition did not open")
    assert body[0].text == glossary.metric_definitions()["revenue"] == "gross revenue − returns"
    screenshot(browser, "guide-kpi-definition")
    click(browser, "#overview-kpi-revenue-info")  # closes it again

    # the tour, from the navbar: four steps, back once, then to the end
    click(browser, "#shell-tour-open")
    wait_for(lambda: browser.find_element("#shell-tour-title").is_displayed()
             and _tour_title(browser) == "Filters", message="the tour did not open")
    seen = [_tour_title(browser)]
    for _ in range(3):
        click(browser, "#shell-tour-next")
        wait_for(lambda: _tour_title(browser) != seen[-1], message="Next did not move")
        seen.append(_tour_title(browser))
    assert seen == ["Filters", "KPI cards", "Chart menu", "Reports & Alerts"]
    assert browser.find_element("#shell-tour-next").text == "Done"
    screenshot(browser, "guide-tour-step-4")
    click(browser, "#shell-tour-back")
    wait_for(lambda: _tour_title(browser) == "Chart menu", message="Back did not move")
    click(browser, "#shell-tour-next")
    wait_for(lambda: _tour_title(browser) == "Reports & Alerts", message="Next did not move")
    click(browser, "#shell-tour-next")
    wait_for(lambda: not browser.driver.find_elements("css selector", "#shell-tour.show"),
             message="Done did not close the tour")

    # the Flask pages carry the same badge
    browser.driver.get(browser.server_url + "/account/password")
    flask_badge = browser.wait_for_element("#shell-scope-badge")
    assert flask_badge.get_attribute("title") == ("You see only these countries' data; ask an "
                                                  "admin to change it")
