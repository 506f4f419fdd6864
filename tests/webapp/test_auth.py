"""Sign-in, sign-out, CSRF, throttling, password change and reset (admin links, links
asked for by e-mail through the outbox and a real SMTP server), API tokens page, cookie
flags and security headers."""
from __future__ import annotations

import re

import sqlalchemy as sa

from core import db, users
from core.orm import AuditEvent
from tests.webapp.conftest import (PASSWORD, bearer, csrf_token, new_user, outbox_messages,
                                   reset_link_in, sign_in, use_reset_link_once)
from tests.workers.support import Inbox


def _audit(app, action: str, target: str) -> list[AuditEvent]:
    settings = app.extensions["shoplens.settings"]
    with db.session_scope(settings.database_url) as session:
        return list(session.scalars(sa.select(AuditEvent).where(
            AuditEvent.action == action, AuditEvent.target == target)))


def test_sign_in_page_and_successful_sign_in(app, client):
    page = client.get("/login")
    assert page.status_code == 200
    assert "/static/vendor/bootstrap.min.css" in page.text and "cdn" not in page.text.lower()
    response = sign_in(client, "viewer@example.com")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert client.get("/api/v1/me").json["email"] == "viewer@example.com"
    assert _audit(app, "login", "viewer@example.com")


def sign_out(client) -> None:
    """Sign out as the navbar's button does: a POST with the CSRF token."""
    token = csrf_token(client, "/logout")
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302


def test_sign_in_follows_only_local_next(client):
    token = csrf_token(client, "/login?next=//evil.example/x")
    response = client.post("/login?next=//evil.example/x", data={
        "email": "viewer@example.com", "password": PASSWORD, "csrf_token": token})
    assert response.headers["Location"] == "/"
    sign_out(client)
    token = csrf_token(client, "/login?next=/customers?country=FR")
    response = client.post("/login?next=/customers?country%3DFR", data={
        "email": "viewer@example.com", "password": PASSWORD, "csrf_token": token})
    assert response.headers["Location"] == "/customers?country=FR"


#: ``next`` values as they stand in the query string (percent-encoded where a browser or an
#: attacker would encode them); each must lead to "/", never elsewhere and never to a 500.
OFFSITE_NEXT = [
    "%2F%09%2Fevil.example",        # "/<tab>/evil.example": browsers drop the tab → //evil
    "%2F%0D%2Fevil.example",        # carriage return
    "%2F%0A%2Fevil.example",        # line feed (a line break in Location was a 500)
    "%2F%0D%0ALocation:%20x",       # header injection
    "%2F%5Cevil.example",           # "/\\evil.example": browsers read "\\" as "/"
    "%5C%5Cevil.example",           # "\\\\evil.example"
    "%2F%5C%2Fevil.example",
    "//evil.example",
    "%2F%2Fevil.example",
    "https://evil.example",
    "https%3A%2F%2Fevil.example%2F",
    "javascript:alert(1)",
    "%20%2F%2Fevil.example",        # a leading space, which browsers strip
    "%2F%252F%2Fevil.example",      # "/%2F/evil.example": an encoded slash after the first
    "%2F%255Cevil.example",         # "/%5Cevil.example"
    "%252F%252Fevil.example",       # double-encoded "//"
    "%2F%00%2Fevil.example",        # NUL
    "%2F%C2%85%2Fevil.example",     # NEL, a C1 control
]


def test_no_next_leads_off_site(app, signed_in, client):
    new_user(app, "poster@example.com")
    browser = signed_in("viewer@example.com")
    for vector in OFFSITE_NEXT:
        # a signed-in user opening the sign-in page is sent on at once
        response = browser.get(f"/login?next={vector}")
        assert response.status_code == 302, vector
        assert response.headers["Location"] == "/", vector
        # the sign-in form posts to /login?next=… and is sent on after the sign-in
        token = csrf_token(client, "/login")
        response = client.post(f"/login?next={vector}", data={
            "email": "poster@example.com", "password": PASSWORD, "csrf_token": token})
        assert response.status_code == 302, vector
        assert response.headers["Location"] == "/", vector
        sign_out(client)


def test_wrong_password_and_throttle(app, client):
    new_user(app, "throttled@example.com")
    for _attempt in range(users.ACCOUNT_FAILURES - 1):
        response = sign_in(client, "throttled@example.com", "not my password")
        assert response.status_code == 401 and "Wrong e-mail or password" in response.text
    response = sign_in(client, "throttled@example.com", "not my password")
    assert "Too many failed sign-ins" in response.text
    response = sign_in(client, "throttled@example.com")  # the right password, still locked
    assert response.status_code == 401 and "try again in 15 minutes" in response.text
    assert len(_audit(app, "login_failed", "throttled@example.com")) == users.ACCOUNT_FAILURES + 1
    assert client.get("/api/v1/me").status_code == 401


def test_form_post_without_csrf_token_is_rejected(app, client, signed_in):
    response = client.post("/login", data={"email": "viewer@example.com",
                                           "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/api/v1/me").status_code == 401
    admin = signed_in("admin@example.com")
    response = admin.post("/admin/users/new", data={"email": "csrf@example.com",
                                                    "role": "admin"})
    assert response.status_code == 400
    settings = app.extensions["shoplens.settings"]
    with db.session_scope(settings.database_url) as session:
        assert users.find_user(session, "csrf@example.com") is None


def test_sign_out(app, signed_in):
    browser = signed_in("viewer@example.com")
    token = csrf_token(browser, "/account/password")
    assert browser.post("/logout", data={"csrf_token": token}).status_code == 302
    assert browser.get("/api/v1/me").status_code == 401
    assert _audit(app, "logout", "viewer@example.com")


def test_a_cookie_copied_before_sign_out_is_refused_after(app, signed_in):
    new_user(app, "copied@example.com")
    browser = signed_in("copied@example.com")
    stolen = app.test_client()
    stolen.set_cookie(app.config["SESSION_COOKIE_NAME"],
                      browser.get_cookie(app.config["SESSION_COOKIE_NAME"]).value)
    assert stolen.get("/api/v1/me").json["email"] == "copied@example.com"
    sign_out(browser)
    assert browser.get("/api/v1/me").status_code == 401
    assert stolen.get("/api/v1/me").status_code == 401
    assert stolen.get("/").status_code == 302


def test_sign_out_needs_a_post_with_the_csrf_token(app, signed_in):
    browser = signed_in("viewer@example.com")
    # a link or an <img src="…/logout"> on another site: a page asking to confirm
    page = browser.get("/logout", headers={"Sec-Fetch-Site": "cross-site",
                                           "Referer": "https://evil.example/"})
    assert page.status_code == 200
    assert 'method="post" action="/logout"' in page.text
    assert browser.get("/api/v1/me").status_code == 200
    # a cross-site form post has no CSRF token
    assert browser.post("/logout", headers={"Origin": "https://evil.example"}
                        ).status_code == 400
    assert browser.get("/api/v1/me").status_code == 200
    sign_out(browser)
    assert browser.get("/api/v1/me").status_code == 401


def test_sign_out_from_our_own_page_needs_no_token_but_a_same_origin_browser(app, signed_in):
    """The navbar's form may carry an older layout's token: a POST the browser marks as
    coming from our own pages signs out; one without such proof, or from elsewhere, not."""
    browser = signed_in("viewer@example.com")
    assert browser.post("/logout", data={"csrf_token": "stale"}).status_code == 400
    assert browser.post("/logout", headers={"Sec-Fetch-Site": "cross-site"}).status_code == 400
    assert browser.post("/logout", headers={"Origin": "null"}).status_code == 400
    assert browser.get("/api/v1/me").status_code == 200
    done = browser.post("/logout", data={"csrf_token": "stale"},
                        headers={"Sec-Fetch-Site": "same-origin"})
    assert done.status_code == 302 and done.headers["Location"].endswith("/login")
    assert browser.get("/api/v1/me").status_code == 401


def _component_props(node):
    """The props of every Dash component in a layout (as /_dash-layout serves it)."""
    if isinstance(node, dict):
        if "props" in node and "type" in node:
            yield node["props"]
        for value in node.values():
            yield from _component_props(value)
    elif isinstance(node, list):
        for value in node:
            yield from _component_props(value)


def test_signed_out_sign_out_leads_to_the_sign_in_page(client):
    for method in ("GET", "POST"):
        response = client.open("/logout", method=method)
        assert response.status_code == 302 and response.headers["Location"] == "/login"


def test_the_dashboard_signs_out_by_post(signed_in):
    """The navbar's Sign out (``shell-logout``) is the submit button of a POST form that
    carries the session's CSRF token."""
    browser = signed_in("viewer@example.com")
    forms = [props for props in _component_props(browser.get("/_dash-layout").json)
             if props.get("action") == "/logout"]
    [form] = forms
    assert form["method"] == "POST"
    parts = list(_component_props(form["children"]))
    [button] = [props for props in parts if props.get("id") == "shell-logout"]
    assert button["type"] == "submit"
    [token] = [props["value"] for props in parts if props.get("name") == "csrf_token"]
    assert token and [props["type"] for props in parts if props.get("name")] == ["hidden"]
    assert browser.post("/logout", data={"csrf_token": token}).status_code == 302
    assert browser.get("/api/v1/me").status_code == 401


def test_one_time_password_forces_a_change(app, client):
    settings = app.extensions["shoplens.settings"]
    with db.session_scope(settings.database_url) as session:
        _user, one_time = users.create_user(session, "cli", "fresh@example.com")
    response = sign_in(client, "fresh@example.com", one_time)
    assert response.headers["Location"].startswith("/account/password")
    assert client.get("/").status_code == 302
    assert client.get("/api/v1/me").status_code == 403
    token = csrf_token(client, "/account/password")
    weak = client.post("/account/password", data={
        "current_password": one_time, "new_password": "password123", "confirm": "password123",
        "csrf_token": token})
    assert weak.status_code == 400 and "too common" in weak.text
    done = client.post("/account/password", data={
        "current_password": one_time, "new_password": "my own long phrase",
        "confirm": "my own long phrase", "csrf_token": token})
    assert done.status_code == 302
    assert client.get("/api/v1/me").json["email"] == "fresh@example.com"


def test_password_change_signs_out_other_sessions(app, signed_in):
    new_user(app, "changer@example.com")
    first, second = signed_in("changer@example.com"), signed_in("changer@example.com")
    token = csrf_token(first, "/account/password")
    response = first.post("/account/password", data={
        "current_password": PASSWORD, "new_password": "another long phrase",
        "confirm": "another long phrase", "csrf_token": token})
    assert response.status_code == 302
    assert first.get("/api/v1/me").status_code == 200
    assert second.get("/api/v1/me").status_code == 401


def test_reset_link_sets_a_password_once(app, client):
    new_user(app, "forgetful@example.com")
    settings = app.extensions["shoplens.settings"]
    with db.session_scope(settings.database_url) as session:
        secret = users.reset_password(session, "cli",
                                      users.get_user(session, "forgetful@example.com"),
                                      link=True)
    page = client.get(f"/reset/{secret}")
    assert page.status_code == 200
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text).group(1)
    response = client.post(f"/reset/{secret}", data={
        "new_password": "a fresh long phrase", "confirm": "a fresh long phrase",
        "csrf_token": token})
    assert response.status_code == 302
    assert client.get(f"/reset/{secret}").status_code == 404
    assert sign_in(client, "forgetful@example.com", "a fresh long phrase").status_code == 302


def test_api_tokens_page_shows_a_token_once_and_revokes(app, signed_in, client):
    browser = signed_in("analyst@example.com")
    token = csrf_token(browser, "/account/tokens")
    page = browser.post("/account/tokens", data={"name": "laptop", "csrf_token": token})
    secret = re.search(r"<code>(slk_[^<]+)</code>", page.text).group(1)
    assert client.get("/api/v1/me", headers=bearer(secret)).json["authenticated_by"] == "token"
    assert secret not in browser.get("/account/tokens").text
    token_id = re.search(r"/account/tokens/(\d+)/revoke", page.text).group(1)
    browser.post(f"/account/tokens/{token_id}/revoke", data={"csrf_token": token})
    assert client.get("/api/v1/me", headers=bearer(secret)).status_code == 401
    assert _audit(app, "token_created", "analyst@example.com")


def test_security_headers_and_cookie_flags(app, client):
    page = client.get("/login")
    csp = page.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
    script_src = re.search(r"script-src ([^;]+)", csp).group(1)
    assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src
    assert page.headers["X-Frame-Options"] == "DENY"
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    response = sign_in(client, "viewer@example.com")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert cookie.startswith("shoplens_session="), cookie
    assert app.config["SESSION_COOKIE_SECURE"] is False  # http://127.0.0.1 in development


def test_csp_allows_every_inline_script_dash_renders(signed_in):
    """Each executable inline <script> of the Dash index page has its hash in the CSP."""
    import base64
    import hashlib
    browser = signed_in("viewer@example.com")
    page = browser.get("/")
    assert page.status_code == 200
    csp = page.headers["Content-Security-Policy"]
    html = re.sub(r"<!--.*?-->", "", page.text, flags=re.S)  # e.g. Dash's IE-only warning
    inline = re.findall(r"<script(?P<attrs>[^>]*)>(?P<body>.*?)</script>", html, re.S)
    executable = [body for attrs, body in inline
                  if "src=" not in attrs and "application/json" not in attrs]
    assert "var renderer = new DashRenderer();" in executable
    for body in executable:
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in csp, body[:80]


def test_secure_cookies_when_public_url_is_https(web_settings):
    from webapp import create_app
    settings = web_settings.with_overrides(public_url="https://shop.example")
    https_app = create_app({"TESTING": True}, settings=settings)
    assert https_app.config["SESSION_COOKIE_SECURE"] is True
    response = https_app.test_client().get("/login")
    assert "max-age" in response.headers["Strict-Transport-Security"]


def ask_for_reset(client, email: str, address: str):
    """Post the "Forgot your password?" form from ``address``; the response is closed,
    which is when the e-mail is sent (after the answer, as a server does)."""
    environ = {"REMOTE_ADDR": address}
    page = client.get("/forgot", environ_base=environ)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text).group(1)
    response = client.post("/forgot", data={"email": email, "csrf_token": token},
                           environ_base=environ)
    response.close()
    return response


def test_sign_in_page_links_to_the_reset_request(client):
    page = client.get("/login")
    assert 'href="/forgot"' in page.text and "Forgot your password?" in page.text


def test_reset_by_e_mail_through_the_outbox(app, client):
    new_user(app, "outbox@example.com")
    known = ask_for_reset(client, "outbox@example.com", "10.1.0.1")
    unknown = ask_for_reset(client, "nobody@example.com", "10.1.0.1")
    # the answer is the same for an address without an account
    assert known.status_code == unknown.status_code == 200
    assert known.text.replace("outbox@example.com", "X") == \
        unknown.text.replace("nobody@example.com", "X")
    assert outbox_messages(app, "nobody@example.com") == []
    [message] = outbox_messages(app, "outbox@example.com")
    assert message["Subject"] == "Set a new Shoplens password"
    use_reset_link_once(client, reset_link_in(app, message), "a mailed long phrase")
    assert sign_in(client, "outbox@example.com", "a mailed long phrase").status_code == 302
    events = _audit(app, "password_reset_requested", "outbox@example.com")
    assert [(event.detail["outcome"], event.ip) for event in events] == [
        ("link created", "10.1.0.1")]
    assert _audit(app, "password_reset_requested", "nobody@example.com")[0].detail == {
        "outcome": "unknown account"}


def test_reset_by_e_mail_through_a_real_smtp_server(app, client, monkeypatch):
    new_user(app, "smtp@example.com")
    inbox = Inbox().start()
    try:
        smtp = app.extensions["shoplens.settings"].with_overrides(
            smtp_host="127.0.0.1", smtp_port=inbox.port, smtp_tls="none", smtp_timeout=5)
        monkeypatch.setitem(app.extensions, "shoplens.settings", smtp)
        assert ask_for_reset(client, "smtp@example.com", "10.2.0.1").status_code == 200
    finally:
        inbox.stop()
    [message] = inbox.messages
    assert message["To"] == "smtp@example.com"
    assert message["From"] == smtp.mail_from
    use_reset_link_once(client, reset_link_in(app, message), "an smtp long phrase")
    assert sign_in(client, "smtp@example.com", "an smtp long phrase").status_code == 302


def test_reset_requests_are_throttled(app, client):
    new_user(app, "eager@example.com")
    for _request in range(users.RESET_ACCOUNT_REQUESTS + 1):
        assert ask_for_reset(client, "eager@example.com", "10.3.0.1").status_code == 200
    assert len(outbox_messages(app, "eager@example.com")) == users.RESET_ACCOUNT_REQUESTS
    for number in range(users.RESET_ADDRESS_REQUESTS - users.RESET_ACCOUNT_REQUESTS - 1):
        ask_for_reset(client, f"guess{number}@example.com", "10.3.0.1")
    refused = ask_for_reset(client, "eager@example.com", "10.3.0.1")
    assert refused.status_code == 429 and "Too many reset requests" in refused.text
    assert ask_for_reset(client, "someone@example.com", "10.3.0.2").status_code == 200
