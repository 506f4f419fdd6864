"""A link with a misspelt or lower-case filter value, opened in a real browser: the sidebar
shows the data's spelling, a note under the filter names the unknown value and the closest
ones, and the panels say the same instead of "no sales" (analytics.filter_values)."""
from __future__ import annotations

from tests.webapp.browser.conftest import severe_logs, wait_until_loaded


def test_a_link_with_an_unknown_value_says_so_and_suggests_the_closest(browser):
    browser.sign_in("viewer@example.com")
    browser.driver.get(f"{browser.server_url}/?start=2025-07-01&end=2025-12-30"
                       "&country=Germny&channel=web")
    browser.wait_for_contains_text("#shell-country-note",
                                   'Unknown country "Germny": no line has it; closest: Germany',
                                   timeout=30)
    browser.wait_for_contains_text("#overview-empty", 'Unknown country "Germny"', timeout=30)
    browser.wait_for_contains_text("#shell-channel", "Web", timeout=10)  # web → Web
    assert browser.find_element("#shell-channel-note").text == ""
    wait_until_loaded(browser)
    assert severe_logs(browser) == []
