"""Signed view links (core.links) and the ``/go/<token>`` route (webapp.links): a valid link
leads to the page with its filters after sign-in; a tampered or expired one is a 400 page;
a path outside the app's pages is refused (no open redirect); signed out, the sign-in page
comes first with ``next=`` back to the link; a link never widens the viewer's scope."""
from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs, urlsplit

import pytest
from itsdangerous import URLSafeTimedSerializer

from core import links
from tests.webapp.conftest import LINES, make_app, sign_in


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    from core.settings import load_settings
    settings = load_settings({"SHOPLENS_HOME": str(tmp_path_factory.mktemp("links")),
                              "PUBLIC_URL": "http://shoplens.example.com"})
    app = make_app(settings, LINES)
    yield app
    app.extensions["shoplens.warehouse"].dispose()


@pytest.fixture(autouse=True)
def _cheap_hashing(cheap_hashing):
    """Sign-ins at test cost (see tests/conftest.py)."""


@pytest.fixture
def settings(app):
    return app.extensions["shoplens.settings"]


def _path(link: str) -> str:
    return urlsplit(link).path


def _signed_in(app, email="analyst@example.com"):
    client = app.test_client()
    assert sign_in(client, email).status_code == 302
    return client


def test_a_link_is_public_url_go_and_a_signed_token(settings):
    link = links.view_link(settings, "/sales", "start=2011-03-01&end=2011-03-03&country=FR", 7)
    assert link.startswith("http://shoplens.example.com/go/")
    view = links.read_token(settings, link.rsplit("/", 1)[1])
    assert view == links.View("/sales", "start=2011-03-01&end=2011-03-03&country=FR", 7)
    assert view.target == "/sales?start=2011-03-01&end=2011-03-03&country=FR"
    with pytest.raises(ValueError, match="app path"):
        links.view_link(settings, "https://evil.example/x", "", 7)


def test_a_valid_link_leads_to_the_view_after_sign_in(app, settings):
    link = links.view_link(settings, "/sales", "start=2011-03-01&end=2011-03-02&country=FR", 1)
    client = app.test_client()
    first = client.get(_path(link))
    assert first.status_code == 302
    login = urlsplit(first.headers["Location"])
    assert login.path == "/login"
    assert parse_qs(login.query)["next"] == [_path(link)]
    signed = client.post("/login", data={
        "email": "analyst@example.com", "password": "a long enough passphrase",
        "csrf_token": _csrf(client, f"/login?{login.query}")}, query_string=login.query)
    assert signed.status_code == 302 and signed.headers["Location"] == _path(link)
    followed = client.get(_path(link))
    assert followed.status_code == 302
    assert followed.headers["Location"] == "/sales?start=2011-03-01&end=2011-03-02&country=FR"


def _csrf(client, path):
    import re
    page = client.get(path)
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text).group(1)


def test_a_tampered_or_foreign_link_is_refused(app, settings):
    client = _signed_in(app)
    token = _path(links.view_link(settings, "/sales", "country=FR", 1)).rsplit("/", 1)[1]
    payload, _, signature = token.rpartition(".")
    tampered = payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB") + "." + signature
    for bad in (tampered, token[:-3] + "xyz", "not-a-token"):
        answer = client.get(f"/go/{bad}")
        assert answer.status_code == 400
        assert "This link is not valid" in answer.text
    foreign = URLSafeTimedSerializer("another secret key", salt=links.SALT).dumps(
        {"path": "/sales", "query": "", "user": 1})
    assert client.get(f"/go/{foreign}").status_code == 400
    reset_salt = URLSafeTimedSerializer(settings.secret_key, salt="other").dumps(
        {"path": "/sales", "query": "", "user": 1})
    assert client.get(f"/go/{reset_salt}").status_code == 400


def test_an_expired_link_is_refused(app, settings):
    client = _signed_in(app)
    link = links.view_link(settings, "/sales", "", 1, expires_days=1)
    token = _path(link).rsplit("/", 1)[1]
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=1, minutes=1)
    with pytest.raises(links.LinkInvalid, match="expired"):
        links.read_token(settings, token, now=later)
    assert links.read_token(settings, token).path == "/sales"
    zero = _path(links.view_link(settings, "/sales", "", 1, expires_days=0))
    answer = client.get(zero)
    assert answer.status_code == 400 and "This link has expired" in answer.text


@pytest.mark.parametrize("path, query", [
    ("/api/v1/users", ""), ("/logout", ""), ("/nowhere", ""), ("/\\evil.example", ""),
    ("/sales\r\nX: y", ""), ("/%2F%2Fevil.example", "")])
def test_a_path_outside_the_pages_is_refused(app, settings, path, query):
    client = _signed_in(app)
    signed = URLSafeTimedSerializer(settings.secret_key, salt=links.SALT).dumps(
        {"path": path, "query": query, "user": 1, "days": 90})
    answer = client.get(f"/go/{signed}")
    assert answer.status_code == 400
    assert "does not lead to a page of Shoplens" in answer.text


def test_an_external_url_signed_as_the_path_is_refused(app, settings):
    client = _signed_in(app)
    for path in ("https://evil.example/", "//evil.example/x"):
        signed = URLSafeTimedSerializer(settings.secret_key, salt=links.SALT).dumps(
            {"path": path, "query": "", "user": 1, "days": 90})
        answer = client.get(f"/go/{signed}")
        assert answer.status_code == 400 and "Location" not in answer.headers


def test_a_link_made_for_another_user_opens_under_the_viewers_scope(app, settings):
    """The link made for the admin leads a GB-only analyst to the same page; the page's
    guard and scope are the viewer's own (the link carries no rights)."""
    client = _signed_in(app, "gb@example.com")
    link = links.view_link(settings, "/data", "", 1)  # the Data page: admins only
    answer = client.get(_path(link))
    assert answer.status_code == 302 and answer.headers["Location"] == "/data"
    assert client.get("/data").status_code == 403  # the page's own guard holds
