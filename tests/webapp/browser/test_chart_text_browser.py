"""The charts' text alternative in the browser (headless Chromium, demo warehouse): the
Overview's revenue chart and a dashboard tile each have a visually hidden table that
holds the same numbers as the chart plotly.js draws, and a box named for screen readers;
the Dash page and the Flask pages say their language."""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from plotly.offline import get_plotlyjs_version
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By

from core import dashboards, db
from core.orm import User
from tests.webapp.browser.conftest import severe_logs, wait_until_loaded
from tests.webapp.test_plotly_bundle import bundle_traces
from tests.workers.support import wait_for

pytestmark = pytest.mark.browser

TRACES = """
const gd = document.querySelector(arguments[0] + ' .js-plotly-plot');
if (!gd || !gd.data) return null;
return gd.data.map(t => ({name: t.name || null, type: t.type, h: t.orientation === 'h',
                          x: Array.from(t.x || []), y: Array.from(t.y || [])}));
"""
TABLE = """
const table = document.querySelector(arguments[0] + ' table');
if (!table) return null;
const text = cells => Array.from(cells).map(c => c.textContent.trim());
return {header: text(table.querySelectorAll('thead th')),
        rows: Array.from(table.querySelectorAll('tbody tr')).map(r => text(r.children)),
        caption: table.querySelector('caption').textContent};
"""


def _number(cell: str) -> float | None:
    """A cell as the table writes it ("£1,234", "−£20.25", "12.5%") as a number."""
    text = cell.replace("−", "-").replace("£", "").replace(",", "").replace("%", "")
    return float(text) if text else None


def _day(value: str) -> str:
    """A plotly x value ("2025-12-02" or "2025-12-02 00:00:00") as the table's day."""
    day = dt.date.fromisoformat(str(value)[:10])
    return f"{day.day} {day:%b %Y}"


def _same_numbers(duo, box: str, alt: str) -> int:
    """Assert that every point of the chart's first trace is a row of its hidden table,
    with the same value (as rounded for people); return the number of rows."""
    wait_for(lambda: duo.driver.execute_script(TRACES, box) and
             duo.driver.execute_script(TABLE, alt), timeout=30, what="the chart and its table")
    traces = duo.driver.execute_script(TRACES, box)
    table = duo.driver.execute_script(TABLE, alt)
    first = traces[0]
    if first["h"]:  # horizontal bars: keyed by y
        first = {**first, "x": first["y"], "y": first["x"]}
    assert first["x"], "the chart has no points"
    column = table["header"].index(first["name"]) if first["name"] in table["header"] else 1
    by_key = {row[0]: row[column] for row in table["rows"]}
    assert len(table["rows"]) == len(first["x"]) or "first" in table["caption"]
    for x, y in zip(first["x"], first["y"]):
        written = by_key[_day(x)] if str(x)[:4].isdigit() else by_key[str(x)]
        if y is None:
            assert written == ""
        else:
            assert _number(written) == pytest.approx(y, abs=0.51), (x, y, written)
    return len(table["rows"])


def test_overview_chart_and_a_tile_read_as_tables(browser, browser_settings):
    browser.sign_in("viewer@example.com")
    assert browser.driver.execute_script(
        "return document.documentElement.lang") == "en"             # the Dash page
    browser.wait_for_element("#overview-trend .js-plotly-plot", timeout=20)
    wait_until_loaded(browser)

    rows = _same_numbers(browser, "#overview-trend", "#overview-trend-alt")
    assert rows > 1
    summary = browser.driver.execute_script(
        "return document.getElementById('overview-trend-summary').textContent")
    assert summary.startswith("Line chart, ") and f"{rows:,} rows" in summary
    # the graph's box is an image named by the card's title and that summary
    named = browser.driver.execute_script(
        "const box = document.getElementById('overview-trend').closest('[role=img]');"
        "return box && box.getAttribute('aria-labelledby');")
    assert named == "overview-trend-title overview-trend-summary"
    title = browser.driver.execute_script(
        "return document.getElementById('overview-trend-title').textContent")
    assert title == "Revenue"
    hidden = browser.driver.execute_script(  # for screen readers only: a 1px clipped box
        "const r = document.getElementById('overview-trend-alt').getBoundingClientRect();"
        "return [r.width, r.height];")
    assert max(hidden) <= 1, hidden
    # the charts are drawn by the dashboard's own plotly.js (assets/vendor, the trace types
    # it draws), and plotly.py's 4.8 MB bundle is never fetched
    drawn_by = browser.driver.execute_script(
        "return [window.Plotly.version, Object.keys(window.Plotly.PlotSchema.get().traces).sort(),"
        " performance.getEntriesByType('resource')"
        ".filter(e => e.name.indexOf('package_data/plotly') >= 0).length]")
    assert drawn_by == [get_plotlyjs_version(), sorted(bundle_traces()), 0]
    # the mode bar stays hidden at rest (the pointer is not over the chart), and shows
    # under the pointer
    bar_opacity = ("return getComputedStyle(document.querySelector("
                   "'#overview-trend .modebar-group')).opacity")
    assert browser.driver.execute_script(bar_opacity) == "0"
    ActionChains(browser.driver).move_to_element(
        browser.driver.find_element(By.CSS_SELECTOR, "#overview-trend .js-plotly-plot")).perform()
    wait_for(lambda: browser.driver.execute_script(bar_opacity) == "1", timeout=5,
             what="the mode bar under the pointer")
    # the Markdown of the text alternatives rendered without fetching highlight.js
    # (assets/shoplens.js gives dcc.Markdown a highlighter: no code blocks to colour)
    assert browser.driver.execute_script(
        "return performance.getEntriesByType('resource')"
        ".filter(e => e.name.indexOf('highlight') >= 0).length") == 0

    with db.session_scope(browser_settings.database_url) as session:
        viewer = session.scalars(sa.select(User).where(
            User.email == "viewer@example.com")).one()
        board = dashboards.create_dashboard(session, viewer, {"name": "Read aloud"})
        dashboards.add_tile(session, viewer, board.id, "geography-top")
        board_id = board.id
    browser.driver.get(f"{browser.server_url}/dashboards?dashboard={board_id}")
    browser.wait_for_element(".dashboards-tile .js-plotly-plot", timeout=30)
    wait_until_loaded(browser)
    tile = browser.driver.find_element(By.CSS_SELECTOR, ".dashboards-tile [role=img]")
    alt = "#" + tile.find_element(By.XPATH, "./following-sibling::div").get_attribute("id")
    box = "#" + tile.find_element(By.CSS_SELECTOR, ".js-plotly-plot").find_element(
        By.XPATH, "./ancestor::div[@id][1]").get_attribute("id")
    assert _same_numbers(browser, box, alt) > 1
    assert severe_logs(browser) == []

    browser.driver.get(browser.server_url + "/login")                  # a Flask page
    assert browser.driver.execute_script("return document.documentElement.lang") == "en"


def test_the_world_map_reads_as_the_countries_of_the_bars(browser):
    """The Geography map's hidden table names countries (not codes) with the revenue the
    top-countries bars draw."""
    browser.sign_in("viewer@example.com")
    browser.driver.get(browser.server_url + "/geography")
    browser.wait_for_element("#geography-top .js-plotly-plot", timeout=20)
    wait_until_loaded(browser)
    _same_numbers(browser, "#geography-top", "#geography-top-alt")
    wait_for(lambda: browser.driver.execute_script(TABLE, "#geography-map-layer-alt"),
             timeout=30, what="the map's table")
    table = browser.driver.execute_script(TABLE, "#geography-map-layer-alt")
    assert table["header"] == ["country", "net revenue"]
    bars = browser.driver.execute_script(TRACES, "#geography-top")[0]
    on_map = {row[0]: _number(row[1]) for row in table["rows"]}
    for country, revenue in zip(bars["y"], bars["x"]):
        if country in on_map:  # a region with no single country is not on the map
            assert on_map[country] == pytest.approx(revenue, abs=0.51)
    assert len(set(on_map) & set(bars["y"])) >= 5
    assert all(len(name) > 3 for name in on_map)                # names, not codes
    named = browser.driver.execute_script(
        "return document.getElementById('geography-map').closest('[role]')"
        ".getAttribute('aria-labelledby')")
    assert named == "geography-map-title geography-map-layer-summary"
    assert severe_logs(browser) == []
