"""The one shell in headless Chromium: on a phone (390×844) Sign out is reachable from the
dashboard and from the Flask pages' user menu and signs out; on a desktop (1280×800) the
filter panel stays in view at the bottom of the Overview, and a filter chip's × removes
that filter; the dark theme chosen on the dashboard is the Flask pages' theme, and back.
Screenshots: shell-phone-menu, shell-desktop-scrolled, shell-password-dark."""
from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import pytest

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


def inside_window(duo, selector: str) -> bool:
    """The element is displayed and wholly inside the window's width and height."""
    element = duo.find_element(selector)
    if not element.is_displayed():
        return False
    return duo.driver.execute_script(
        "const r = arguments[0].getBoundingClientRect();"
        "return r.width > 0 && r.left >= 0 && r.right <= window.innerWidth + 0.5"
        " && r.top >= 0 && r.bottom <= window.innerHeight + 0.5;", element)


def theme(duo) -> str:
    return duo.driver.execute_script(
        "return document.documentElement.getAttribute('data-bs-theme')")


def test_on_a_phone_sign_out_is_in_reach_everywhere(browser):
    browser.driver.set_window_size(390, 844)
    browser.sign_in("viewer@example.com")
    browser.wait_for_element("#overview-kpi-revenue-value", timeout=30)
    # the dashboard: the navbar's toggler opens the menu holding Sign out
    assert not browser.find_element("#shell-logout").is_displayed()
    browser.find_element("#shell-navbar-toggler").click()
    wait_for(lambda: inside_window(browser, "#shell-logout"),
             message="Sign out is not on screen after opening the dashboard's menu")
    # the account page: the same navbar, collapsed; the user menu holds Sign out
    browser.driver.get(browser.server_url + "/account/password")
    browser.wait_for_element("#shell-navbar-toggler")
    assert not browser.find_element("#shell-logout").is_displayed()
    assert browser.driver.execute_script(
        "return document.documentElement.scrollWidth") <= 390   # nothing off-screen
    browser.find_element("#shell-navbar-toggler").click()
    wait_for(lambda: browser.find_element("#shell-user").is_displayed(),
             message="the toggler did not open the menu")
    browser.find_element("#shell-user").click()
    wait_for(lambda: inside_window(browser, "#shell-logout"),
             message="Sign out is not on screen after opening the user menu")
    assert browser.find_element("#shell-account").is_displayed()
    field = browser.find_element("input[name=new_password]")
    assert field.rect["width"] > 300          # forms use the phone's width
    screenshot(browser, "shell-phone-menu")
    assert not severe_logs(browser)         # no script or style refused by the CSP
    browser.find_element("#shell-logout").click()
    wait_for(lambda: urlsplit(browser.driver.current_url).path == "/login",
             message="Sign out did not lead to the sign-in page")
    assert "You are signed out" in browser.driver.page_source


def test_on_a_desktop_the_filters_stay_in_view_and_chips_remove_a_filter(browser):
    browser.driver.set_window_size(1280, 800)
    browser.sign_in("analyst@example.com")
    browser.driver.get(browser.server_url + "/?country=United+Kingdom")
    browser.wait_for_element("#overview-kpi-revenue-value", timeout=30)
    wait_until_loaded(browser)
    wait_for(lambda: "Country: United Kingdom" in browser.find_element("#shell-chips").text,
             message="no chip for the country filter")
    browser.driver.execute_script(
        "window.scrollTo({top: document.documentElement.scrollHeight, behavior: 'instant'})")
    time.sleep(0.3)
    scrolled = browser.driver.execute_script("return window.scrollY")
    assert scrolled > 100, "the Overview is not taller than the window: nothing to check"
    assert inside_window(browser, "#shell-preset"), "the filter panel scrolled away"
    # the navbar keeps the user and Sign out on screen: nothing sticks out to the right
    assert inside_window(browser, "#shell-logout")
    assert browser.driver.execute_script(
        "return document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(browser, "shell-desktop-scrolled")
    click(browser, ".shell-chip-remove[aria-label='Remove Country: United Kingdom']")
    wait_for(lambda: "country" not in parse_qs(urlsplit(browser.driver.current_url).query),
             message="× did not remove the country from the URL")
    wait_for(lambda: "Country:" not in browser.find_element("#shell-chips").text,
             message="the chip stayed")
    # "Clear all" removes every removable filter, the period stays
    browser.driver.get(browser.server_url + "/?country=France&segment=Champions")
    browser.wait_for_element("#shell-chips-clear", timeout=30)
    wait_until_loaded(browser)
    click(browser, "#shell-chips-clear")
    wait_for(lambda: not {"country", "segment"} & set(
        parse_qs(urlsplit(browser.driver.current_url).query)),
             message="Clear all did not clear the filters")


def test_the_theme_chosen_on_the_dashboard_is_the_account_pages(browser):
    browser.driver.set_window_size(1280, 800)
    browser.sign_in("viewer@example.com")
    browser.wait_for_element("#overview-kpi-revenue-value", timeout=30)
    assert theme(browser) == "light"        # headless Chromium prefers light
    browser.find_element("#shell-theme-switch").click()
    wait_for(lambda: theme(browser) == "dark", message="the switch did not darken the page")
    browser.driver.get(browser.server_url + "/account/password")
    browser.wait_for_element("#shell-theme-switch")
    assert theme(browser) == "dark"
    assert browser.find_element("#shell-theme-switch").is_selected()
    assert browser.driver.execute_script(
        "return getComputedStyle(document.body).backgroundColor") != "rgb(255, 255, 255)"
    screenshot(browser, "shell-password-dark")
    # and back: light chosen on the account page is the dashboard's choice too
    browser.find_element("#shell-theme-switch").click()
    assert theme(browser) == "light"
    browser.driver.get(browser.server_url + "/")
    browser.wait_for_element("#overview-kpi-revenue-value", timeout=30)
    wait_until_loaded(browser)
    assert theme(browser) == "light"
    assert not browser.find_element("#shell-theme-switch").is_selected()


def _system_prefers(duo, scheme: str) -> None:
    duo.driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {
        "features": [{"name": "prefers-color-scheme", "value": scheme}]})


def test_until_a_choice_the_theme_follows_the_system(browser):
    browser.driver.set_window_size(1280, 800)
    browser.driver.get(browser.server_url + "/login")
    browser.driver.execute_script("window.localStorage.clear()")
    _system_prefers(browser, "dark")
    browser.driver.get(browser.server_url + "/login")
    browser.wait_for_element("input[name=email]")
    assert theme(browser) == "dark"          # the sign-in page, before any choice
    browser.sign_in("viewer@example.com")
    browser.wait_for_element("#overview-kpi-revenue-value", timeout=30)
    wait_for(lambda: theme(browser) == "dark", message="the dashboard ignored the system")
    assert browser.find_element("#shell-theme-switch").is_selected()
    _system_prefers(browser, "light")         # the system changes: nothing was chosen
    browser.driver.get(browser.server_url + "/account/password")
    browser.wait_for_element("#shell-theme-switch")
    assert theme(browser) == "light"
    assert not browser.find_element("#shell-theme-switch").is_selected()
