"""Report schedules from the browser (headless Chromium): an admin fills the schedule form
on the Reports page (name, PDF and Excel, a time zone typed in, an external address and the
scope it sees), sees the new schedule in the list with its zone and scope, and switches
their weekly digest on and off."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select

from core import db
from core.orm import ReportSchedule
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


def _schedules(settings, **where) -> list[ReportSchedule]:
    with db.session_scope(settings.database_url) as session:
        rows = session.scalars(sa.select(ReportSchedule).filter_by(**where)).all()
        for row in rows:
            session.expunge(row)
        return list(rows)


def test_an_admin_schedules_from_the_form_and_switches_the_digest(browser, shop,
                                                                  browser_settings):
    browser.sign_in("admin@example.com")
    browser.driver.get(browser.server_url + "/reports")
    browser.wait_for_element("#reports-sched-create", timeout=15)
    wait_until_loaded(browser)

    _type(browser, "#reports-sched-name", "Agency Monday")
    Select(browser.find_element("#reports-sched-format")).select_by_visible_text(
        "PDF and Excel")
    _type(browser, "#reports-sched-timezone", "America/New_York")
    _type(browser, "#reports-sched-external", "agency@partner.example")
    _type(browser, "#reports-sched-external-scope", "FR, DE")
    click(browser, "#reports-sched-create")
    try:
        wait_for(lambda: "Created" in _text(browser, "#reports-sched-status"), timeout=20,
                 what="the schedule to be created")
    except AssertionError:
        screenshot(browser, "reports-schedules-failed")
        raise AssertionError(_text(browser, "#reports-sched-status")) from None
    assert "every Monday at 07:00 America/New_York" in _text(browser, "#reports-sched-status")

    def listed():
        text = _text(browser, "#reports-schedules-list")
        return text if "Agency Monday" in text else None
    shown = wait_for(listed, timeout=20, what="the new schedule in the list")
    assert "America/New_York" in shown and "External recipients see: DE, FR" in shown
    assert "agency@partner.example" in shown
    [row] = _schedules(browser_settings, name="Agency Monday")
    assert (row.format, row.timezone, row.external_scope) == (
        "both", "America/New_York", ["DE", "FR"])
    assert row.recipients == ["admin@example.com"]

    _type(browser, "#reports-digest-timezone", "Europe/Paris")
    click(browser, "#reports-digest")
    wait_for(lambda: "is on" in _text(browser, "#reports-digest-status"), timeout=20,
             what="the digest to be switched on")
    assert _text(browser, "#reports-digest-status") == \
        "Your weekly digest is on: every Monday at 07:00 Europe/Paris."
    wait_for(lambda: "Weekly digest" in _text(browser, "#reports-schedules-list"),
             timeout=20, what="the digest in the list")
    [digest] = _schedules(browser_settings, format="digest")
    assert digest.is_active and digest.timezone == "Europe/Paris"
    screenshot(browser, "reports-schedules")

    click(browser, "#reports-digest")
    wait_for(lambda: "is off" in _text(browser, "#reports-digest-status"), timeout=20,
             what="the digest to be switched off")
    assert _schedules(browser_settings, format="digest")[0].is_active is False
    assert severe_logs(browser) == []


def test_schedule_as_pdf_from_the_dashboards_page(browser, shop, browser_settings):
    """The Dashboards page's "Schedule as PDF" opens the Reports page's form with the
    dashboard chosen under "What"; creating it makes a schedule that sends the dashboard."""
    from core import dashboards
    from core.orm import User

    with db.session_scope(browser_settings.database_url) as session:
        analyst = session.scalars(sa.select(User).where(
            User.email == "analyst@example.com")).one()
        board = dashboards.create_dashboard(session, analyst, {"name": "Morning desk"})
        dashboards.add_tile(session, analyst, board.id, "overview-kpi-revenue")
        board_id = board.id
    browser.sign_in("analyst@example.com")
    browser.driver.get(f"{browser.server_url}/dashboards?dashboard={board_id}")
    link = browser.wait_for_element("#dashboards-schedule", timeout=30)
    assert link.get_attribute("href").endswith(f"/reports?schedule_dashboard={board_id}")
    click(browser, "#dashboards-schedule")
    browser.wait_for_element("#reports-sched-create", timeout=15)
    wait_until_loaded(browser)
    what = browser.find_element("#reports-sched-what")
    wait_for(lambda: what.get_attribute("value") == str(board_id), timeout=20,
             what="the dashboard chosen under What")
    _type(browser, "#reports-sched-name", "Morning desk by e-mail")
    click(browser, "#reports-sched-create")
    try:
        wait_for(lambda: "Created" in _text(browser, "#reports-sched-status"), timeout=20,
                 what="the schedule to be created")
    except AssertionError:
        screenshot(browser, "reports-dashboard-schedule-failed")
        raise AssertionError(_text(browser, "#reports-sched-status")) from None
    assert "the dashboard as a PDF" in _text(browser, "#reports-sched-status")
    wait_for(lambda: "Sends the dashboard “Morning desk” as a PDF" in _text(
        browser, "#reports-schedules-list"), timeout=20, what="the schedule in the list")
    [row] = _schedules(browser_settings, name="Morning desk by e-mail")
    assert (row.dashboard_id, row.format, row.recipients) == (
        board_id, "pdf", ["analyst@example.com"])
    screenshot(browser, "reports-dashboard-schedule")
    assert severe_logs(browser) == []
