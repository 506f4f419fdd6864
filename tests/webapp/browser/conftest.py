"""Browser fixtures: headless Chromium through dash[testing] (``dash_duo``), one app per
module on a small demo warehouse, users of each role, and a sign-in through the real form.

Chromium and chromedriver come from Debian (``apt-get install chromium chromium-driver``);
without them the tests skip, or fail when REQUIRE_SERVICES=1 (CI).
"""
from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.common.by import By

from analytics.warehouse import Warehouse
from core import db, passwords, users
from core.settings import load_settings
from tests.conftest import REQUIRE_SERVICES, cheap_password_hasher

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
PASSWORD = "a long enough passphrase"
USERS = {"admin@example.com": "admin", "analyst@example.com": "analyst",
         "viewer@example.com": "viewer"}
DEMO_LINES = 20_000
WINDOW = (1400, 1000)


def pytest_setup_options():
    """Chrome options for dash_duo: headless, no sandbox (root in CI), Debian's binary."""
    options = Options()
    options.add_argument("--headless=new")
    options.add_argument("--no-sandbox")
    options.add_argument(f"--window-size={WINDOW[0]},{WINDOW[1]}")
    if CHROMIUM:
        options.binary_location = CHROMIUM
    return options


@pytest.fixture(autouse=True)
def need_chromium():
    if CHROMIUM and CHROMEDRIVER:
        return
    message = "headless Chromium and chromedriver are not installed"
    if REQUIRE_SERVICES:
        pytest.fail(message + " and REQUIRE_SERVICES=1")
    pytest.skip(message)


@pytest.fixture(scope="module")
def browser_settings(tmp_path_factory):
    home = tmp_path_factory.mktemp("browserhome")
    return load_settings({"SHOPLENS_HOME": str(home)})


@pytest.fixture(scope="module")
def shop(browser_settings):
    """The Flask app on a demo warehouse of ``DEMO_LINES`` lines, with one user per role."""
    from data.demo import generate_demo
    from webapp import create_app
    warehouse = Warehouse(browser_settings.warehouse_url)
    demo = generate_demo(DEMO_LINES)
    warehouse.publish(demo.lines, demo.sessions, source="demo")
    warehouse.dispose()
    app = create_app({"TESTING": True}, settings=browser_settings)
    hasher = passwords._hasher
    passwords._hasher = cheap_password_hasher()
    try:
        with db.session_scope(browser_settings.database_url) as session:
            for email, role in USERS.items():
                users.create_user(session, "cli", email, role=role, password=PASSWORD)
    finally:
        passwords._hasher = hasher
    yield app
    app.extensions["shoplens.warehouse"].dispose()


@pytest.fixture
def browser(dash_duo, shop):
    """dash_duo with the app running; ``browser.sign_in(email)`` signs in through /login."""
    # the front page needs a signed-in user, so do not wait for it (navigate=False)
    dash_duo.start_server(shop.extensions["shoplens.dash"], navigate=False)
    dash_duo._url = dash_duo.server.url.rstrip("/")

    def sign_in(email: str) -> None:
        dash_duo.driver.get(dash_duo.server_url + "/login")
        dash_duo.wait_for_element("input[name=email]").send_keys(email)
        dash_duo.find_element("input[name=password]").send_keys(PASSWORD)
        dash_duo.find_element("button[type=submit]").click()
        dash_duo.wait_for_element("#shell-page", timeout=10)
        dash_duo.get_logs()  # the sign-in page's own messages are not the dashboard's

    dash_duo.sign_in = sign_in
    return dash_duo


def wait_until_loaded(duo, timeout: float = 20) -> None:
    """Wait until no callback is pending and no loading spinner shows."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        pending = duo.driver.execute_script(
            "return document.querySelectorAll('[data-dash-is-loading=\"true\"]').length")
        spinners = duo.driver.find_elements(By.CSS_SELECTOR, ".dash-spinner, ._dash-loading")
        if not pending and not any(s.is_displayed() for s in spinners):
            time.sleep(0.3)
            return
        time.sleep(0.2)
    raise AssertionError("the page kept loading")


def screenshot(duo, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    duo.driver.save_screenshot(str(path))
    return path


def severe_logs(duo) -> list[dict]:
    return [entry for entry in (duo.get_logs() or []) if entry.get("level") == "SEVERE"]


def click(duo, selector: str) -> None:
    """Click an element below the fold as a user would: scroll to it first, instantly
    (Bootstrap scrolls smoothly, which would move it while it is clicked)."""
    element = duo.driver.find_element(By.CSS_SELECTOR, selector)
    duo.driver.execute_script(
        "arguments[0].scrollIntoView({block: 'center', behavior: 'instant'})", element)
    element.click()
