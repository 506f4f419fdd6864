"""The dashboard in headless Chromium: sign-in, every page without console errors (with a
screenshot each), KPIs that follow the filters, drill-down, shareable URLs, a forecast
job's progress then its chart, and what a viewer may not see."""
from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import urlsplit

import dash
import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By

from analytics import kpis, period
from analytics.filters import ALL_DATA, Filters
from analytics.models import run_model
from core import formatting, jobs
from core.orm import Job
from tests.webapp.browser.conftest import click, screenshot, severe_logs, wait_until_loaded

pytestmark = pytest.mark.browser

#: Path → an element each page shows once its data arrived.
PAGE_MARKERS = {
    "/": "#overview-kpi-revenue-value",
    "/geography": "#geography-top .bars",
    "/sales": "#sales-series .scatterlayer",
    "/products": "#products-top .bars",
    "/customers": "#customers-segments .treemaplayer",
    "/insights": ".js-plotly-plot .bars",
    "/transactions": "#transactions-table td",
    "/reports": "#reports-jobs",
    "/alerts": "#alerts-rules",
    "/data": "#data-quality-table",
    "/patterns": "#patterns-weekdays .bars",
    "/marketing": "#marketing-kpis .row",
    "/dashboards": "#dashboards-picker",
}


def current_query(duo) -> str:
    return urlsplit(duo.driver.current_url).query


def wait_for(condition, timeout: float = 15, message: str = "condition not met"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(message)


def test_every_page_renders_without_console_errors(browser):
    browser.sign_in("admin@example.com")
    shown = {page["path"] for page in dash.page_registry.values()}
    assert shown == set(PAGE_MARKERS), "a page without a marker in this test"
    for path, marker in PAGE_MARKERS.items():
        browser.driver.get(browser.server_url + path)
        browser.wait_for_element(marker, timeout=30)
        wait_until_loaded(browser)
        assert not browser.driver.find_elements(By.ID, "shell-forbidden")
        name = "overview" if path == "/" else path.strip("/")
        screenshot(browser, name)
        assert severe_logs(browser) == [], f"console errors on {path}"


def test_filter_change_updates_kpis_to_kpi_summary(browser, shop):
    browser.sign_in("viewer@example.com")
    browser.wait_for_element("#overview-kpi-revenue-value", timeout=30)
    browser.select_dcc_dropdown("#shell-country", "Germany")
    wait_for(lambda: "country=Germany" in current_query(browser), message="URL not updated")
    warehouse = shop.extensions["shoplens.warehouse"]
    filters = Filters.from_query(current_query(browser))
    summary = kpis.kpi_summary(warehouse, filters, ALL_DATA).to_dict()["kpis"]
    for name in ("revenue", "orders", "customers"):
        _label, kind = formatting.KPI_LABELS[name]
        expected = formatting.format_value(summary[name]["current"], kind, "£")
        browser.wait_for_text_to_equal(f"#overview-kpi-{name}-value", expected, timeout=20)
    everywhere = kpis.kpi_summary(warehouse, filters.with_period(None, None)
                                  .__class__(start=filters.start, end=filters.end),
                                  ALL_DATA).to_dict()["kpis"]
    assert everywhere["revenue"]["current"] > summary["revenue"]["current"]


def test_clicking_a_country_bar_filters_by_it(browser):
    browser.sign_in("viewer@example.com")
    browser.driver.get(browser.server_url + "/geography")
    bar = browser.wait_for_element("#geography-top .bars .point path", timeout=30)
    wait_until_loaded(browser)
    labels = {tick.text for tick in browser.driver.find_elements(
        By.CSS_SELECTOR, "#geography-top .ytick text")}
    # plotly's drag layer lies over the bars: click where the bar is, as a person would
    ActionChains(browser.driver).move_to_element(bar).click().perform()
    chosen = wait_for(lambda: Filters.from_query(current_query(browser)).countries,
                      message="clicking a country bar did not filter by it")
    assert len(chosen) == 1 and chosen[0] in labels
    country = chosen[0]
    browser.wait_for_contains_text("#shell-country", country, timeout=10)
    wait_until_loaded(browser)
    assert severe_logs(browser) == []


def test_url_round_trips_through_the_sidebar(browser, shop):
    browser.sign_in("viewer@example.com")
    query = "start=2025-07-01&end=2025-12-30&country=France&channel=Web&min_price=5"
    browser.driver.get(f"{browser.server_url}/products?{query}")
    browser.wait_for_element("#products-top .bars", timeout=30)
    browser.wait_for_contains_text("#shell-country", "France", timeout=10)
    assert browser.find_element("#shell-preset").text.strip().startswith("Custom")
    assert browser.find_element("#shell-min-price").get_attribute("value") == "5"
    browser.driver.refresh()
    browser.wait_for_contains_text("#shell-country", "France", timeout=20)
    assert Filters.from_query(current_query(browser)) == Filters.from_query(query)
    browser.select_dcc_dropdown("#shell-preset", "Month to date")
    _first, last = period.data_range(shop.extensions["shoplens.warehouse"])
    wait_for(lambda: Filters.from_query(current_query(browser)).start == last.replace(day=1),
             message="the preset did not reach the URL")
    kept = Filters.from_query(current_query(browser))
    assert kept.countries == ("France",) and kept.channels == ("Web",) and kept.end == last
    # the navbar's links carry the new view to the other pages (assets/shoplens.js)
    sales = '{"path":"/sales","type":"shell-nav-link"}'
    link = wait_for(lambda: (lambda href: href if href and "start=" in href and Filters.from_query(
        urlsplit(href).query) == kept else None)(browser.driver.execute_script(
            "var a = document.getElementById(arguments[0]); return a && a.href;", sales)),
        message="the Sales link did not follow the filters")
    assert urlsplit(link).path == "/sales"


def test_forecast_job_shows_progress_then_the_chart(browser, shop):
    """The test plays the worker: it starts the Job the page submitted, reports progress,
    then stores the real forecast result of the same filters."""
    settings = shop.extensions["shoplens.settings"]
    browser.sign_in("analyst@example.com")
    browser.driver.get(browser.server_url + "/sales?start=2025-06-01&end=2025-12-31")
    browser.wait_for_element("#sales-series .scatterlayer", timeout=30)
    browser.find_element("#sales-forecast-horizon").send_keys("30 days")
    browser.find_element("#sales-forecast-run").click()
    sessions = shop.extensions["shoplens.sessions"]

    def submitted():
        with sessions() as session:
            return session.query(Job).filter_by(kind="forecast").one_or_none()
    job = wait_for(submitted, message="no forecast job was submitted")
    spec = jobs.start_job(settings, job.id, worker="browser-test")
    jobs.update_progress(settings, job.id, 40, "fitting the forecast")
    browser.wait_for_text_to_equal("#sales-forecast-progress", "40%", timeout=10)
    browser.wait_for_contains_text("#sales-forecast-status", "fitting the forecast")
    result = run_model("forecast", shop.extensions["shoplens.warehouse"], spec.filters,
                       spec.scope, spec.options)
    jobs.finish_job(settings, job.id, result=result)
    browser.wait_for_element("#sales-forecast-chart .scatterlayer .trace", timeout=15)
    browser.wait_for_contains_text("#sales-forecast-accuracy", "MAPE", timeout=10)
    assert spec.options["horizon"] == 30
    wait_until_loaded(browser)
    screenshot(browser, "sales-forecast")
    assert severe_logs(browser) == []


def test_viewer_sees_no_admin_or_analyst_pages(browser):
    browser.sign_in("viewer@example.com")
    nav = browser.wait_for_element("#shell-nav").text
    assert "Overview" in nav and "Data" not in nav and "Reports" not in nav
    assert not browser.driver.find_elements(By.ID, "shell-admin-menu")
    browser.driver.get(browser.server_url + "/data")
    time.sleep(1)
    assert not browser.driver.find_elements(By.ID, "data-upload")
    assert "needs the admin role" in browser.driver.page_source or \
        browser.driver.find_elements(By.ID, "shell-forbidden")


def test_phone_layout_collapses_the_sidebar(browser):
    browser.driver.set_window_size(390, 844)
    browser.sign_in("viewer@example.com")
    browser.wait_for_element("#overview-kpi-revenue-value", timeout=30)
    assert not browser.find_element("#shell-country").is_displayed()
    browser.find_element("#shell-sidebar-toggle").click()
    wait_for(lambda: browser.find_element("#shell-country").is_displayed(),
             message="the filter toggle did not open the sidebar")
    wait_until_loaded(browser)
    screenshot(browser, "overview-phone")


def test_sign_out_button_ends_the_session_everywhere(browser, shop):
    """The navbar's Sign out posts its form (with the CSRF token) and the session ends on
    the server: the cookie the browser held is refused afterwards, also when replayed."""
    browser.sign_in("viewer@example.com")
    name = shop.config["SESSION_COOKIE_NAME"]
    copied = browser.driver.get_cookie(name)["value"]
    replay = shop.test_client()
    replay.set_cookie(name, copied)
    assert replay.get("/api/v1/me").status_code == 200
    browser.wait_for_element("#shell-logout").click()
    wait_for(lambda: urlsplit(browser.driver.current_url).path == "/login",
             message="signing out did not lead to the sign-in page")
    assert "You are signed out" in browser.driver.page_source
    assert replay.get("/api/v1/me").status_code == 401
    browser.driver.get(browser.server_url + "/")
    wait_for(lambda: urlsplit(browser.driver.current_url).path == "/login",
             message="the dashboard opened after signing out")


def test_churn_job_shows_the_models_in_plain_words_and_a_filterable_list(browser, shop):
    """The test plays the worker, as for the forecast: the Customers page then shows the
    churn model's catch rate next to 'longest since last order', the value model's check,
    and the scored list, which the risk filter narrows."""
    settings = shop.extensions["shoplens.settings"]
    browser.sign_in("analyst@example.com")
    browser.driver.get(browser.server_url + "/customers")
    browser.wait_for_element("#customers-churn-run", timeout=30)
    wait_until_loaded(browser)
    click(browser, "#customers-churn-run")
    sessions = shop.extensions["shoplens.sessions"]

    def submitted():
        with sessions() as session:
            return session.query(Job).filter_by(kind="churn").one_or_none()
    job = wait_for(submitted, message="no churn job was submitted")
    spec = jobs.start_job(settings, job.id, worker="browser-test")
    result = run_model("churn", shop.extensions["shoplens.warehouse"], spec.filters,
                       spec.scope, spec.options)
    jobs.finish_job(settings, job.id, result=result)
    browser.wait_for_contains_text("#customers-churn-catch", "catches", timeout=20)
    browser.wait_for_contains_text("#customers-churn-accuracy", "longest since last order")
    browser.wait_for_element("#customers-churn-table tbody tr", timeout=15)
    click(browser, "#customers-churn-risk option[value=high]")  # a plain <select>
    browser.wait_for_contains_text("#customers-churn-count", "high churn risk", timeout=15)

    def high_rows():  # read again while the list is redrawn
        try:
            texts = [row.text.lower() for row in browser.driver.find_elements(
                By.CSS_SELECTOR, "#customers-churn-table tbody tr")[:20]]
        except StaleElementReferenceException:
            return None
        return texts if texts and all("high" in text for text in texts) else None
    wait_for(high_rows, message="the list shows customers without a high churn risk")
    assert browser.find_element("#customers-churn-csv").get_attribute("hidden") is None
    wait_until_loaded(browser)
    screenshot(browser, "customers-churn")
    assert severe_logs(browser) == []


def map_fills(duo) -> dict[str, int]:
    """How many of the Geography map's country shapes are drawn in each fill colour."""
    fills = duo.driver.execute_script(
        "return Array.from(document.querySelectorAll('#geography-map path.leaflet-interactive'))"
        ".map(p => p.getAttribute('fill'))")
    counts: dict[str, int] = {}
    for fill in fills:
        counts[fill] = counts.get(fill, 0) + 1
    return counts


def test_map_colours_every_country_with_sales(browser, shop):
    """Each country with net revenue is drawn in a revenue colour, every other one in the
    "no sales" grey, on the first load (where the shapes may arrive after the values) and
    after a filter change."""
    import json

    from analytics import breakdowns
    from webapp.dashboard.pages import geography
    shapes = json.loads((Path(geography.__file__).parents[1] / "assets" / "countries.geojson")
                        .read_text())["features"]
    warehouse = shop.extensions["shoplens.warehouse"]

    def expected(query: str) -> int:
        frame = breakdowns.breakdown(warehouse, Filters.from_query(query), ALL_DATA, "country")
        codes = set(frame.loc[frame["revenue"] > 0, "country_code"].dropna())
        return sum(shape["properties"]["iso_a2"] in codes for shape in shapes)

    def coloured() -> int:
        fills = map_fills(browser)
        return sum(count for fill, count in fills.items()
                   if fill in geography.COLOURS + ("#eff6ff",))

    browser.sign_in("viewer@example.com")
    browser.driver.get(browser.server_url + "/geography")
    browser.wait_for_element("#geography-map path.leaflet-interactive", timeout=30)
    wait_until_loaded(browser)
    everywhere = expected("")
    assert everywhere > 5
    wait_for(lambda: coloured() == everywhere, timeout=10,
             message=f"{coloured()} countries coloured, {everywhere} with sales: {map_fills(browser)}")
    assert map_fills(browser).get("#e2e8f0", 0) == len(shapes) - everywhere
    # again, with the answers cached: now they come before the 440 kB of shapes
    browser.driver.get(browser.server_url + "/geography")
    browser.wait_for_element("#geography-map path.leaflet-interactive", timeout=30)
    wait_until_loaded(browser)
    wait_for(lambda: coloured() == everywhere, timeout=10,
             message=f"reloaded: {coloured()} countries coloured, {everywhere} with sales")

    browser.select_dcc_dropdown("#shell-country", "Germany")
    wait_for(lambda: "country=Germany" in current_query(browser), message="URL not updated")
    wait_until_loaded(browser)
    wait_for(lambda: coloured() == expected(current_query(browser)) == 1, timeout=10,
             message=f"after filtering by Germany: {map_fills(browser)}")
