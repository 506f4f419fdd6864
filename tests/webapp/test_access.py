"""Access rules: every route needs a signed-in user; roles and scopes are checked on the
server for pages, Dash callbacks, the API and downloads; deactivation bites at once."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from core import db, users
from core.orm import AuditEvent, LoginThrottle
from tests.webapp.conftest import PERIOD, bearer, csrf_token, make_token, new_user, sign_in
from webapp import security

PUBLIC = {"/login", "/forgot", "/healthz", "/static/<path:filename>", "/reset/<token>",
          "/_favicon.ico",
          "/_dash-component-suites/<string:package_name>/<path:fingerprinted_path>",
          "/assets/<path:filename>"}


def _concrete(rule: str) -> str:
    """A request path for a URL rule (placeholders filled with something harmless)."""
    path = re.sub(r"<int:[^>]+>", "1", rule)
    return re.sub(r"<[^>]+>", "x", path)


def _rules(app):
    for rule in app.url_map.iter_rules():
        if rule.rule in PUBLIC or rule.rule.startswith("/_dash-component-suites"):
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule.rule, method


def test_every_route_needs_a_user(app, client):
    checked = 0
    for rule, method in _rules(app):
        path = _concrete(rule)
        response = client.open(path, method=method, json={} if method == "POST" else None)
        if path.startswith(("/api/", "/_dash-", "/_reload-hash")):
            assert response.status_code == 401, (method, rule, response.status_code)
            assert response.json["error"]["status"] == 401
        elif path == "/logout":
            assert response.status_code in (302, 400), (method, rule)
        else:
            assert response.status_code == 302, (method, rule, response.status_code)
            assert response.headers["Location"].startswith("/login?next="), (method, rule)
        checked += 1
    assert checked > 25, "the route table is smaller than expected"


def test_dash_pages_redirect_to_sign_in(client):
    response = client.get("/customers?country=FR")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/customers?country%3DFR" or \
        response.headers["Location"].startswith("/login?next=/customers")


PROBE_PREFIXES = ("overview-", "reports-", "jobs-", "data-", "admin-")


@pytest.fixture
def jobs_page(app, monkeypatch):
    """An analyst-only page registered the way every page is (``dash.register_page``), at
    ``/jobs`` with ids ``jobs-…``: the guard must learn its role from the registry alone."""
    import dash
    module = "tests.webapp.jobs"
    monkeypatch.delitem(dash.page_registry, module, raising=False)
    dash.register_page(module, path="/jobs", name="Jobs", role="analyst",
                       layout=lambda: dash.html.Div(id="jobs-list"))
    yield dash.page_registry[module]
    dash.page_registry.pop(module, None)


@pytest.fixture(scope="module")
def probes(app):
    """One real Dash callback per page prefix, so allowed requests run end to end."""
    from dash import Input, Output
    dash_app = app.extensions["shoplens.dash"]
    for prefix in PROBE_PREFIXES:
        dash_app.callback(Output(f"{prefix}probe", "children"),
                          Input(f"{prefix}probe-in", "n_clicks"))(lambda clicks: f"ok {clicks}")
    return dash_app


def _callback(prefix: str) -> dict:
    return {"output": f"{prefix}probe.children",
            "outputs": {"id": f"{prefix}probe", "property": "children"},
            "inputs": [{"id": f"{prefix}probe-in", "property": "n_clicks", "value": 1}],
            "changedPropIds": [f"{prefix}probe-in.n_clicks"], "state": []}


def _router(pathname: str) -> dict:
    return {"output": ".._pages_content.children..._pages_store.data..",
            "outputs": [{"id": "_pages_content", "property": "children"},
                        {"id": "_pages_store", "property": "data"}],
            "inputs": [{"id": "_pages_location", "property": "pathname", "value": pathname},
                       {"id": "_pages_location", "property": "search", "value": ""}],
            "changedPropIds": ["_pages_location.pathname"], "state": []}


@pytest.mark.parametrize("prefix, needed", [
    # the roles of the real pages' register_page(...): overview, reports and data
    ("overview-", "viewer"), ("reports-", "analyst"), ("data-", "admin"),
    # the page the test registers (jobs_page)
    ("jobs-", "analyst"),
    # no page has this prefix: the highest role (fail closed)
    ("admin-", "admin")])
def test_callback_roles_by_component_id(signed_in, probes, jobs_page, prefix, needed):
    for email, role in (("viewer@example.com", "viewer"), ("analyst@example.com", "analyst"),
                        ("admin@example.com", "admin")):
        client = signed_in(email)
        response = client.post("/_dash-update-component", json=_callback(prefix))
        if users.ROLES.index(role) >= users.ROLES.index(needed):
            assert response.status_code == 200, (email, prefix, response.text)
            assert "ok 1" in response.text
        else:
            assert response.status_code == 403, (email, prefix, response.text)
            assert response.json["error"]["status"] == 403


def test_callback_role_reads_pattern_ids_and_every_dependency(jobs_page):
    assert security.callback_role({"outputs": [{"id": {"type": "jobs-cancel", "index": 3},
                                                "property": "children"}]})[0] == "analyst"
    assert security.callback_role({"output": '{"index":1,"type":"admin-row"}.children'}
                                  )[0] == "admin"
    assert security.callback_role({"outputs": {"id": "overview-x", "property": "children"},
                                   "state": [{"id": "data-upload", "property": "contents"}]}
                                  )[0] == "admin"
    assert security.callback_role({"outputs": {"id": "overview-x", "property": "figure"}}
                                  ) == ("viewer", None)


def test_signed_out_callback_is_401_json(client, probes):
    response = client.post("/_dash-update-component", json=_callback("overview-"))
    assert response.status_code == 401
    assert response.json == {"error": {"status": 401, "message": "Sign in first."}}


def test_pages_router_callback_checks_the_page_role(signed_in):
    viewer = signed_in("viewer@example.com")
    for path in ("/data", "/jobs", "/admin/anything"):
        response = viewer.post("/_dash-update-component", json=_router(path))
        assert response.status_code == 403, path
    assert "admin" in viewer.post("/_dash-update-component",
                                  json=_router("/data")).json["error"]["message"]
    response = viewer.post("/_dash-update-component", json=_router("/"))
    assert response.status_code == 200, response.text


def test_role_of_registered_dash_pages(monkeypatch, signed_in):
    import dash
    monkeypatch.setitem(dash.page_registry, "tests.secret", {
        "module": "tests.secret", "path": "/secret-report", "path_template": None,
        "role": "analyst"})
    assert security.page_role("/secret-report") == "analyst"
    viewer = signed_in("viewer@example.com")
    assert viewer.get("/secret-report").status_code == 403
    assert viewer.post("/_dash-update-component",
                       json=_router("/secret-report")).status_code == 403
    analyst = signed_in("analyst@example.com")
    assert analyst.get("/secret-report").status_code == 200


def test_page_routes_by_role(signed_in):
    viewer = signed_in("viewer@example.com")
    assert viewer.get("/").status_code == 200
    for path in ("/data", "/admin", "/admin/users", "/admin/audit", "/reports", "/jobs",
                 "/alerts"):
        assert viewer.get(path).status_code == 403, path
    analyst = signed_in("analyst@example.com")
    assert analyst.get("/reports").status_code == 200
    assert analyst.get("/alerts").status_code == 200
    assert analyst.get("/data").status_code == 403
    assert analyst.get("/admin/users").status_code == 403
    admin = signed_in("admin@example.com")
    assert admin.get("/data").status_code == 200
    assert admin.get("/admin/users").status_code == 200


def test_callbacks_refuse_cross_site_requests(signed_in, probes):
    viewer = signed_in("viewer@example.com")
    body = _callback("overview-")
    for headers in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"},
                    {"Referer": "https://evil.example/page"}, {"Origin": "null"}):
        response = viewer.post("/_dash-update-component", json=body, headers=headers)
        assert response.status_code == 403, headers
    same = viewer.post("/_dash-update-component", json=body,
                       headers={"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"})
    assert same.status_code == 200
    form = viewer.post("/_dash-update-component", data="output=x.children",
                       content_type="application/x-www-form-urlencoded")
    assert form.status_code == 400


def test_api_without_or_with_a_bad_token(client):
    for headers in ({}, bearer("slk_not-a-real-token"), {"Authorization": "Basic eDp5"},
                    bearer("")):
        response = client.get("/api/v1/kpis", headers=headers, query_string=PERIOD)
        assert response.status_code == 401, headers
        assert response.json["error"]["status"] == 401


@pytest.mark.parametrize("method, path", [
    ("GET", "/api/v1/transactions.csv"), ("POST", "/api/v1/jobs"), ("POST", "/api/v1/reports")])
def test_api_analyst_endpoints_refuse_viewers(app, client, method, path):
    token = make_token(app, "viewer@example.com")
    response = client.open(path, method=method, headers=bearer(token),
                           json={"kind": "forecast"} if method == "POST" else None)
    assert response.status_code == 403
    assert "analyst" in response.json["error"]["message"]


def test_deactivation_ends_cookie_and_token_at_once(app, signed_in, client):
    new_user(app, "leaver@example.com", "analyst")
    browser = signed_in("leaver@example.com")
    token = make_token(app, "leaver@example.com")
    assert browser.get("/api/v1/me").status_code == 200
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200
    settings = app.extensions["shoplens.settings"]
    with db.session_scope(settings.database_url) as session:
        users.deactivate_user(session, "cli", users.get_user(session, "leaver@example.com"))
    assert browser.get("/api/v1/me").status_code == 401
    assert browser.get("/").status_code == 302
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 401


def test_role_change_ends_the_session(app, signed_in):
    new_user(app, "demoted@example.com", "admin")
    browser = signed_in("demoted@example.com")
    assert browser.get("/admin/users").status_code == 200
    settings = app.extensions["shoplens.settings"]
    with db.session_scope(settings.database_url) as session:
        users.update_user(session, "cli", users.get_user(session, "demoted@example.com"),
                          role="viewer")
    assert browser.get("/admin/users").status_code == 302, "the old session must end"
    assert sign_in(browser, "demoted@example.com").status_code == 302
    assert browser.get("/admin/users").status_code == 403


def test_session_ends_when_idle(app, signed_in):
    browser = signed_in("viewer@example.com")
    assert browser.get("/api/v1/me").status_code == 200
    minutes = app.extensions["shoplens.settings"].session_minutes
    with browser.session_transaction() as session:
        session["seen"] -= minutes * 60 + 1
    response = browser.get("/api/v1/me")
    assert response.status_code == 401
    assert "inactivity" in response.json["error"]["message"]
    assert browser.get("/api/v1/me").status_code == 401


def test_forged_session_for_another_epoch_is_refused(app, client):
    settings = app.extensions["shoplens.settings"]
    with db.session_scope(settings.database_url) as session:
        user = users.get_user(session, "admin@example.com")
        stale = f"{user.id}:{user.session_epoch - 1}"
        current = f"{user.id}:{user.session_epoch}"
    import time
    with client.session_transaction() as session:
        session.update({"_user_id": stale, "seen": int(time.time())})
    assert client.get("/api/v1/me").status_code == 401
    with client.session_transaction() as session:
        session.update({"_user_id": current, "seen": int(time.time())})
    assert client.get("/api/v1/me").json["email"] == "admin@example.com"


def test_every_admin_route_refuses_an_analyst(app, signed_in):
    analyst = signed_in("analyst@example.com")
    token = csrf_token(analyst, "/account/password")
    checked = 0
    for rule, method in _rules(app):
        if not rule.startswith("/admin"):
            continue
        response = analyst.open(_concrete(rule), method=method,
                                data={"csrf_token": token} if method == "POST" else None)
        assert response.status_code == 403, (method, rule, response.status_code)
        checked += 1
    assert checked >= 7


def _failed_sign_in_from(app_, forwarded_for: str, email: str) -> AuditEvent:
    """A wrong password sent with an X-Forwarded-For header; the audit event it left."""
    client = app_.test_client()
    token = csrf_token(client)
    response = client.post("/login", data={"email": email, "password": "not it",
                                           "csrf_token": token},
                           headers={"X-Forwarded-For": forwarded_for})
    assert response.status_code == 401
    settings = app_.extensions["shoplens.settings"]
    with db.session_scope(settings.database_url) as session:
        return session.scalars(sa.select(AuditEvent).where(
            AuditEvent.action == "login_failed", AuditEvent.target == email)).one()


def _throttled_addresses(app_) -> set[str]:
    settings = app_.extensions["shoplens.settings"]
    with db.session_scope(settings.database_url) as session:
        return set(session.scalars(sa.select(LoginThrottle.key).where(
            LoginThrottle.key.startswith("ip:"))))


def test_without_trusted_proxies_x_forwarded_for_is_ignored(app):
    assert app.extensions["shoplens.settings"].trusted_proxies == 0
    event = _failed_sign_in_from(app, "203.0.113.7", "spoofer@example.com")
    assert event.ip == "127.0.0.1"  # the test client's own address, not the header's
    assert "ip:203.0.113.7" not in _throttled_addresses(app)


def test_behind_one_trusted_proxy_the_client_address_is_used(web_settings):
    from webapp import create_app
    proxied = create_app({"TESTING": True},
                         settings=web_settings.with_overrides(trusted_proxies=1))
    # the client sent "198.51.100.1" itself; our one proxy appended the address it saw
    event = _failed_sign_in_from(proxied, "198.51.100.1, 203.0.113.8", "proxied@example.com")
    assert event.ip == "203.0.113.8"
    assert "ip:203.0.113.8" in _throttled_addresses(proxied)
    assert "ip:198.51.100.1" not in _throttled_addresses(proxied)


def test_trusted_proxies_setting():
    from core.settings import ConfigurationError, load_settings
    assert load_settings({"TRUSTED_PROXIES": "2", "SECRET_KEY": "x"}).trusted_proxies == 2
    assert load_settings({"SECRET_KEY": "x"}).trusted_proxies == 0
    with pytest.raises(ConfigurationError, match="TRUSTED_PROXIES"):
        load_settings({"TRUSTED_PROXIES": "-1", "SECRET_KEY": "x"})


@pytest.fixture(scope="module")
def ticking(app):
    """A page's dcc.Interval callback and a button callback, as real Dash callbacks."""
    from dash import Input, Output
    dash_app = app.extensions["shoplens.dash"]
    dash_app.callback(Output("overview-ticks", "children"),
                      Input("overview-timer", "n_intervals"))(lambda ticks: f"tick {ticks}")
    return dash_app


def _tick(changed: tuple[str, ...] = ("overview-timer.n_intervals",)) -> dict:
    return {"output": "overview-ticks.children",
            "outputs": {"id": "overview-ticks", "property": "children"},
            "inputs": [{"id": "overview-timer", "property": "n_intervals", "value": 3}],
            "changedPropIds": list(changed), "state": []}


def _seen(browser) -> int:
    with browser.session_transaction() as session:
        return session["seen"]


def _age_session(browser, seconds: int) -> None:
    with browser.session_transaction() as session:
        session["seen"] -= seconds


def test_polling_is_not_activity_so_an_idle_session_still_ends(app, signed_in, ticking):
    browser = signed_in("viewer@example.com")
    minutes = app.extensions["shoplens.settings"].session_minutes
    _age_session(browser, minutes * 60 - 60)  # one minute of the idle time left
    last_activity = _seen(browser)
    response = browser.post("/_dash-update-component", json=_tick())
    assert response.status_code == 200 and "tick 3" in response.text
    assert _seen(browser) == last_activity  # the tick did not count as activity
    _age_session(browser, 61)  # a minute later, the page is still polling
    response = browser.post("/_dash-update-component", json=_tick())
    assert response.status_code == 401
    assert "inactivity" in response.json["error"]["message"]


def test_a_callback_the_user_fired_is_activity(signed_in, probes, ticking):
    browser = signed_in("viewer@example.com")
    _age_session(browser, 600)
    before = _seen(browser)
    response = browser.post("/_dash-update-component",
                            json=_tick(("overview-timer.n_intervals", "overview-go.n_clicks")))
    assert response.status_code == 200
    assert _seen(browser) >= before + 600
    _age_session(browser, 600)
    before = _seen(browser)
    assert browser.post("/_dash-update-component", json=_callback("overview-")
                        ).status_code == 200
    assert _seen(browser) >= before + 600


class _UnreadableBody:
    """A request body of ``length`` bytes that must not be read: the guard is to decide
    from its Content-Length (the test client measures it by seeking to the end)."""

    def __init__(self, length: int):
        self.length, self.position = length, 0

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = 0) -> int:
        self.position = self.length if whence == 2 else offset
        return self.position

    def read(self, *_args):
        raise AssertionError("the guard read a body it should have refused unread")

    readline = read


def _post_unread_callback(client, length: int):
    return client.post("/_dash-update-component", input_stream=_UnreadableBody(length),
                       content_type="application/json")


def test_a_large_callback_body_is_refused_before_it_is_read(signed_in, probes):
    """A viewer's 280 MB callback used to be parsed before the 403; bodies above
    CALLBACK_BODY_LIMIT are for the Data page's uploads, and none exceeds the largest."""
    viewer = signed_in("viewer@example.com")
    for length in (280 * 2**20, security.CALLBACK_BODY_LIMIT + 1):
        response = _post_unread_callback(viewer, length)
        assert response.status_code == 413, (length, response.text)
        assert response.json["error"]["status"] == 413
    admin = signed_in("admin@example.com")
    response = _post_unread_callback(admin, security.largest_callback_body() + 1)
    assert response.status_code == 413 and response.json["error"]["status"] == 413
    # an upload-sized body of an admin's callback is read and answered
    body = {**_callback("overview-"), "padding": "x" * security.CALLBACK_BODY_LIMIT}
    response = admin.post("/_dash-update-component", json=body)
    assert response.status_code == 200 and "ok 1" in response.text
    # ordinary callbacks of a viewer are unaffected
    assert viewer.post("/_dash-update-component", json=_callback("overview-")
                       ).status_code == 200
    # the Data page, whose dcc.Upload sends the large bodies, needs the role they need
    assert security.page_role("/data") == security.LARGE_CALLBACK_ROLE


def test_a_callback_body_without_a_length_is_cut_off(signed_in, probes):
    import io
    viewer = signed_in("viewer@example.com")
    body = io.BytesIO(b'{"output": "' + b"x" * (security.CALLBACK_BODY_LIMIT + 10) + b'"}')
    response = viewer.post("/_dash-update-component", input_stream=body,
                           content_type="application/json",
                           environ_base={"wsgi.input_terminated": True})
    assert response.status_code == 413
