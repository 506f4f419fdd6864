"""One shell: every Flask page (sign-in, forgot, reset, account, tokens, sign-out, admin)
renders the dashboard's navbar (templates/base.html) with the theme attribute and the
shared CSS and scripts, files only (the CSP forbids inline scripts); signed in it lists the
dashboard pages the role may open and the user menu (Account, Sign out with the CSRF
token); signed out the brand alone. The wrong role is still refused. The account page's
weekly digest switch (core.schedules.set_digest). The active-filter chips (built from hand-
made query strings; × removes exactly that filter, through the real Dash endpoint) and the
map legend's ranges.

Warehouse of tests/webapp/conftest.py, 2011-03-01…03: United Kingdom (GB) 25, France (FR)
15, EIRE (IE) 7 of net revenue.
"""
from __future__ import annotations

import json
import re

import pytest

from analytics.filters import Filters
from core import db, schedules, users
from tests.webapp.conftest import csrf_token, new_user
from tests.webapp.test_alerts_page import _call
from webapp.dashboard import chips, shell

NAVBAR = 'id="shell-navbar"'
THEME = '<html lang="en" data-bs-theme="light">'


def _user_id(app, email: str) -> int:
    settings = app.extensions["shoplens.settings"]
    with db.session_scope(settings.database_url) as session:
        return users.get_user(session, email).id


def _shared_shell(page) -> str:
    """The page's HTML after checking what every Flask page shares."""
    html = page.text
    assert NAVBAR in html and THEME in html, html[:600]
    assert 'src="/assets/theme.js"' in html and 'href="/assets/shoplens.css"' in html
    assert "/static/vendor/bootstrap.min.css" in html and "shoplens/pages.js" in html
    # no inline script: every <script> has a src (the CSP allows files from 'self' only)
    assert all("src=" in tag for tag in re.findall(r"<script[^>]*>", html))
    assert "'unsafe-inline'" not in page.headers["Content-Security-Policy"].split(
        "script-src")[1].split(";")[0]
    return html


def _nav_paths(html: str) -> list[str]:
    nav = html.split('id="shell-nav"')[1].split("</ul>")[0]
    return re.findall(r'class="nav-link" href="([^"]+)"', nav)


@pytest.mark.parametrize("path", ["/login", "/forgot", "/reset/not-a-token"])
def test_signed_out_pages_show_the_brand_alone(client, path):
    page = client.get(path)
    assert page.status_code in (200, 404)
    html = _shared_shell(page)
    assert 'class="navbar-brand fw-bold"' in html
    assert "shell-navbar-collapse" not in html and "Sign out" not in html


def test_the_reset_page_from_a_real_link_has_the_shell(app, client):
    settings = app.extensions["shoplens.settings"]
    with db.session_scope(settings.database_url) as session:
        admin = users.get_user(session, "admin@example.com")
        secret = users.reset_password(session, admin, users.get_user(
            session, "viewer@example.com"), link=True)
    page = client.get(f"/reset/{secret}")
    assert page.status_code == 200 and 'name="csrf_token"' in page.text
    assert "shell-navbar-collapse" not in _shared_shell(page)


@pytest.mark.parametrize("email, role", [("viewer@example.com", "viewer"),
                                         ("analyst@example.com", "analyst"),
                                         ("admin@example.com", "admin")])
def test_account_pages_show_the_navbar_of_the_role(app, signed_in, email, role):
    client = signed_in(email)
    for path in ("/account/password", "/account/tokens", "/logout"):
        page = client.get(path)
        assert page.status_code == 200, path
        html = _shared_shell(page)
        assert 'id="shell-navbar-toggler"' in html and 'id="shell-user"' in html
        assert f">{email}</button>" in html and 'id="shell-account"' in html
        # the dashboard pages this role may open, as the dashboard's navbar lists them
        assert _nav_paths(html) == [page["path"] for page in shell.visible_pages(role)]
        assert ("shell-admin-menu" in html) == (role == "admin")
        # Sign out: a POST form with the session's CSRF token, in the user menu
        form = html.split('id="shell-user-items"')[1].split("</ul>")[0]
        assert 'action="/logout"' in form and 'method="post"' in form
        token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
        assert token
    assert "/data" in _nav_paths(html) if role == "admin" else "/data" not in _nav_paths(html)


@pytest.mark.parametrize("path", ["/admin/users", "/admin/users/new", "/admin/audit",
                                  "EDIT"])
def test_admin_pages_have_the_shell_and_stay_admin_only(app, signed_in, path):
    if path == "EDIT":
        path = f"/admin/users/{_user_id(app, 'viewer@example.com')}"
    page = signed_in("admin@example.com").get(path)
    assert page.status_code == 200
    html = _shared_shell(page)
    assert 'href="/admin/users"' in html and 'href="/admin/audit"' in html
    if "<table" in html:
        assert '<div class="table-responsive">' in html   # tables scroll on a phone
    assert signed_in("analyst@example.com").get(path).status_code == 403
    signed_out = app.test_client().get(path)
    assert signed_out.status_code == 302 and "/login" in signed_out.headers["Location"]


def test_a_scoped_user_sees_their_scope_in_the_user_menu(signed_in):
    html = signed_in("fr@example.com").get("/account/password").text
    assert "your data: FR" in html
    assert "your data:" not in signed_in("viewer@example.com").get("/account/password").text


# ---------------------------------------------------------------------- weekly digest
def _digest(app, email: str):
    settings = app.extensions["shoplens.settings"]
    with db.session_scope(settings.database_url) as session:
        schedule = schedules.digest_of(session, users.get_user(session, email))
        return None if schedule is None else schedule.is_active


def test_a_viewer_switches_the_weekly_digest_on_and_off(app, signed_in):
    email = "digest-viewer@example.com"
    new_user(app, email)
    client = signed_in(email)
    page = client.get("/account/password")
    assert 'id="account-digest-on"' in page.text and _digest(app, email) is None
    token = csrf_token(client, "/account/password")
    switched = client.post("/account/digest", data={"enabled": "on", "csrf_token": token})
    assert switched.status_code == 302 and switched.headers["Location"] == "/account/password"
    assert _digest(app, email) is True
    page = client.get("/account/password").text
    assert "Your weekly digest is on" in page and 'id="account-digest-off"' in page
    client.post("/account/digest", data={"enabled": "off", "csrf_token": token})
    assert _digest(app, email) is False
    assert 'id="account-digest-on"' in client.get("/account/password").text
    # a value that is neither on nor off changes nothing
    client.post("/account/digest", data={"enabled": "maybe", "csrf_token": token})
    assert _digest(app, email) is False


def test_the_digest_switch_needs_a_session_and_the_csrf_token(app, signed_in):
    email = "digest-csrf@example.com"
    new_user(app, email)
    refused = signed_in(email).post("/account/digest", data={"enabled": "on"})
    assert refused.status_code == 400 and _digest(app, email) is None
    signed_out = app.test_client().post("/account/digest", data={"enabled": "on"})
    assert signed_out.status_code in (302, 400, 401) and _digest(app, email) is None


# ---------------------------------------------------------------------- filter chips
def _labels(query: str, period: str | None = None) -> list[tuple[str, bool]]:
    return [(chip.label, chip.removable)
            for chip in chips.chips_of(Filters.from_query(query), "£", period)]


def test_chips_name_each_active_filter():
    assert _labels("") == []
    assert _labels("", "Last 90 days") == [("Last 90 days", False)]
    assert _labels("country=GB&country=France&min_price=5&max_price=20", "Last 90 days") == [
        ("Last 90 days", False), ("Country: France", True), ("Country: United Kingdom", True),
        ("Price £5–£20", True)]  # values in the URL's canonical order (Filters sorts them)
    assert _labels("min_price=2.5") == [("Price ≥ £2.50", True)]
    assert _labels("max_price=20&segment=Champions") == [("Price ≤ £20", True),
                                                         ("Segment: Champions", True)]


def test_removing_a_chip_removes_exactly_that_filter():
    filters = Filters.from_query("start=2011-03-01&end=2011-03-03&country=GB&country=FR"
                                 "&min_price=5&max_price=20&segment=Champions")
    assert chips.without(filters, "country", "GB").to_query() == \
        "start=2011-03-01&end=2011-03-03&country=FR&min_price=5&max_price=20&segment=Champions"
    assert chips.without(filters, "price", "").to_query() == \
        "start=2011-03-01&end=2011-03-03&country=FR&country=GB&segment=Champions"
    assert chips.without(filters, "segment", "Champions").segment is None
    assert chips.without(filters, "nonsense", "x") == filters
    assert chips.cleared(filters).to_query() == "start=2011-03-01&end=2011-03-03"


def _chip_text(node) -> list[str]:
    """The texts of the chips in the callback's answer."""
    found = []
    for chip in node:
        children = chip["props"]["children"]
        if chip["props"].get("className", "").startswith("shell-chip"):
            found.append(children if isinstance(children, str)
                         else children[0]["props"]["children"])
    return found


def test_the_chips_callback_builds_them_from_the_url(signed_in):
    client = signed_in("analyst@example.com")
    query = "?start=2011-03-01&end=2011-03-03&country=GB&min_price=5&grain=week"
    response = _call(client, [("shell-chips", "children")],
                     [{"id": "shell-url", "property": "search", "value": query}],
                     "shell-url.search")
    assert response.status_code == 200, response.text
    shown = response.json["response"]["shell-chips"]["children"]
    # 1–3 Mar 2011, the data's last day 3 Mar: the sidebar's first matching preset
    assert _chip_text(shown) == ["Month to date", "Country: United Kingdom", "Price ≥ £5"]
    assert "Clear all" in json.dumps(shown)


def _remove(client, chip_id: dict, search: str, *, clear: bool = False):
    """The chips' remove callback as the browser sends it once ``chipClicked`` stored
    the click: the × of ``chip_id``, or "Clear all" when ``clear``."""
    clicked = ({"clear": True, "at": 1} if clear
               else {"param": chip_id["param"], "value": chip_id["value"], "at": 1})
    return _call(client, [("shell-url-writer", "search")],
                 [{"id": "shell-chips-clicked", "property": "data", "value": clicked}],
                 "shell-chips-clicked.data",
                 [{"id": "shell-url", "property": "search", "value": search}])


def test_x_writes_the_url_without_that_filter_and_clear_all_keeps_the_period(signed_in):
    client = signed_in("viewer@example.com")
    search = "?start=2011-03-01&end=2011-03-03&country=GB&country=FR&segment=Lost&grain=week"
    gb = {"type": "shell-chip-remove", "param": "country", "value": "GB"}
    removed = _remove(client, gb, search)
    assert removed.status_code == 200, removed.text
    assert removed.json["response"]["shell-url-writer"]["search"] == \
        "?start=2011-03-01&end=2011-03-03&country=FR&segment=Lost&grain=week"
    cleared = _remove(client, gb, search, clear=True)
    assert cleared.json["response"]["shell-url-writer"]["search"] == \
        "?start=2011-03-01&end=2011-03-03&grain=week"


def test_the_chips_callbacks_are_refused_signed_out(app):
    response = _call(app.test_client(), [("shell-chips", "children")],
                     [{"id": "shell-url", "property": "search", "value": "?country=GB"}],
                     "shell-url.search")
    assert response.status_code == 401


# ---------------------------------------------------------------------- map legend
def test_the_legend_ranges_follow_the_maps_colour_rule(app):
    from webapp.dashboard.pages import geography  # pages need the app first
    # assets/map.js: colour 1 + floor(sqrt(share) * 4) → shares 0, 1/16, 1/4, 9/16, 1
    assert [(low, high) for _colour, low, high in geography.legend_ranges(160)] == [
        (0, 10), (10, 40), (40, 90), (90, 160)]


def test_the_map_legend_shows_the_currency_and_no_sales(signed_in):
    client = signed_in("analyst@example.com")
    response = _call(client, [("geography-map-layer", "hideout"),
                              ("geography-map-note", "children"),
                              ("geography-map-legend", "children")],
                     [{"id": "shell-url", "property": "search",
                       "value": "?start=2011-03-01&end=2011-03-03"}], "shell-url.search")
    assert response.status_code == 200, response.text
    legend = json.dumps(response.json["response"]["geography-map-legend"]["children"],
                        ensure_ascii=False)
    # the largest country is the United Kingdom, 25: 0–1.5625–6.25–14.0625–25
    for text in ("£0–£2", "£2–£6", "£6–£14", "£14–£25", "no sales"):
        assert text in legend, legend
