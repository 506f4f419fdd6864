"""The installation's locale from the admin's side: the Settings page (admin only, with a
preview), ``GET/PUT /api/v1/settings/locale`` (any signed-in user reads, only an admin
writes, audited), ``flask settings locale``; and the API's sentences following it."""
from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from core import db, installation
from core.orm import AuditEvent
from tests.webapp.conftest import bearer, csrf_token, make_token

NNBSP = "\u202f"
NBSP = "\u00a0"


@pytest.fixture(autouse=True)
def _fresh_cache():
    installation.forget_cached()
    yield
    installation.forget_cached()


@pytest.fixture
def api(app):
    client = app.test_client()
    tokens: dict[str, str] = {}

    def call(email: str | None, method: str, body: dict | None = None,
             path: str = "/settings/locale"):
        headers = {}
        if email is not None:
            tokens.setdefault(email, make_token(app, email))
            headers = bearer(tokens[email])
        return client.open(f"/api/v1{path}", method=method, headers=headers, json=body)
    yield call
    call("admin@example.com", "PUT", {"currency": None, "number_style": None,
                                      "date_format": None, "timezone": None})


def test_everyone_signed_in_reads_the_locale_and_nobody_else(api):
    assert api(None, "GET").status_code == 401
    answer = api("viewer@example.com", "GET")
    assert answer.status_code == 200, answer.text
    assert answer.json["currency"] == "GBP" and answer.json["symbol"] == "£"
    assert answer.json["sources"]["currency"] == "default"
    assert answer.json["data_currency"] is None           # the test data states none
    assert answer.json["example"] == "£1,234,567.89 · 2 Dec 2025"


def test_only_an_admin_changes_it(api, app):
    for email in ("viewer@example.com", "analyst@example.com"):
        refused = api(email, "PUT", {"currency": "USD"})
        assert refused.status_code == 403, refused.text
    assert api(None, "PUT", {"currency": "USD"}).status_code == 401
    assert api("viewer@example.com", "GET").json["currency"] == "GBP"   # nothing changed
    changed = api("admin@example.com", "PUT", {"currency": "usd", "number_style": "1 234,56",
                                               "date_format": "dd/mm/yyyy",
                                               "timezone": "America/New_York"})
    assert changed.status_code == 200, changed.text
    assert changed.json["currency"] == "USD" and changed.json["sources"]["currency"] == "admin"
    assert changed.json["example"] == f"1{NNBSP}234{NNBSP}567,89{NBSP}$ · 02/12/2025"
    assert api("viewer@example.com", "GET").json["timezone"] == "America/New_York"
    settings = app.extensions["shoplens.settings"]
    with db.session_scope(settings.database_url) as session:
        event = session.execute(sa.select(AuditEvent).where(
            AuditEvent.action == "settings_changed").order_by(AuditEvent.id.desc())
        ).scalars().first()
        assert event.actor == "admin@example.com" and event.detail["currency"] == [None, "USD"]


@pytest.mark.parametrize("body, message", [
    ({"currency": "dollars"}, "ISO 4217"),
    ({"number_style": "1_234"}, "number style"),
    ({"date_format": "%d.%m.%Y"}, "date format"),
    ({"timezone": "Mars/Olympus"}, "IANA"),
    ({"colour": "red"}, "colour"),
])
def test_bad_values_are_400_naming_the_setting(api, body, message):
    answer = api("admin@example.com", "PUT", body)
    assert answer.status_code == 400 and message in answer.json["error"]["message"]


def test_the_api_sentences_follow_the_locale(api):
    query = "?start=2011-03-01&end=2011-03-03"
    before = api("analyst@example.com", "GET", path="/patterns/unusual-orders" + query)
    assert before.status_code == 200, before.text
    assert "£" in before.json["sentence"]
    api("admin@example.com", "PUT", {"currency": "USD"})
    after = api("analyst@example.com", "GET", path="/patterns/unusual-orders" + query)
    assert "$" in after.json["sentence"] and "£" not in after.json["sentence"]


def test_the_settings_page_is_for_admins_with_a_preview(app, signed_in, api):
    assert signed_in("analyst@example.com").get("/admin/settings").status_code == 403
    admin = signed_in("admin@example.com")
    page = admin.get("/admin/settings")
    assert page.status_code == 200 and "£1,234,567.89 · 2 Dec 2025" in page.text
    token = csrf_token(admin, "/admin/settings")
    form = {"currency": "EUR", "number_style": "1.234,56", "date_format": "yyyy-mm-dd",
            "timezone": "", "csrf_token": token}
    preview = admin.post("/admin/settings", data={**form, "preview": "1"})
    assert preview.status_code == 200
    assert f"1.234.567,89{NBSP}€ · 2025-12-02" in preview.text
    assert api("viewer@example.com", "GET").json["currency"] == "GBP"   # not saved
    saved = admin.post("/admin/settings", data={**form, "save": "1"})
    assert saved.status_code == 302
    assert api("viewer@example.com", "GET").json["number_style"] == "1.234,56"
    bad = admin.post("/admin/settings", data={**form, "currency": "euro", "save": "1"})
    assert bad.status_code == 400 and "ISO 4217" in bad.text
    assert "/admin/settings" in admin.get("/admin/users").text   # in the Admin menu


def test_the_cli_shows_and_changes_the_locale(app, api):
    runner = app.test_cli_runner()
    shown = runner.invoke(args=["settings", "locale"])
    assert shown.exit_code == 0 and "currency      GBP" in shown.output
    changed = runner.invoke(args=["settings", "locale", "--currency", "USD",
                                  "--date-format", "mm/dd/yyyy"])
    assert changed.exit_code == 0, changed.output
    assert "currency: (default) → USD" in changed.output
    assert "example       $1,234,567.89 · 12/02/2025" in changed.output
    assert api("viewer@example.com", "GET").json["currency"] == "USD"
    reset = runner.invoke(args=["settings", "locale", "--reset", "currency"])
    assert "currency: USD → (default)" in reset.output
    bad = runner.invoke(args=["settings", "locale", "--number-style", "1_234"])
    assert bad.exit_code != 0 and "number style must be one of" in bad.output


def test_the_period_line_says_the_datas_time_zone_and_writes_dates_the_locales_way(
        signed_in, api):
    from tests.webapp.test_alerts_page import _call
    api("admin@example.com", "PUT", {"timezone": "America/New_York",
                                     "date_format": "dd/mm/yyyy"})
    client = signed_in("viewer@example.com")
    response = _call(client, [("shell-chips", "children")],
                     [{"id": "shell-url", "property": "search",
                       "value": "?start=2011-02-01&end=2011-02-10"}], "shell-url.search")
    assert response.status_code == 200, response.text
    shown = json.dumps(response.json["response"]["shell-chips"]["children"])
    assert "Times in America/New_York" in shown and "01/02/2011 \\u2013 10/02/2011" in shown


def test_a_set_currency_the_data_contradicts_is_warned_and_not_shown(signed_in, api,
                                                                    monkeypatch):
    # the data's own currency comes from its load (tests/core/test_installation.py loads a
    # USD Shopify export); here the current version is said to state USD
    monkeypatch.setattr(installation, "data_currency", lambda warehouse: "USD")
    api("admin@example.com", "PUT", {"currency": "GBP"})
    answer = api("viewer@example.com", "GET").json
    assert answer["currency"] == "USD" and answer["sources"]["currency"] == "data"
    assert "set to GBP (by an admin)" in answer["warning"]
    page = signed_in("admin@example.com").get("/admin/settings")
    assert 'id="settings-warning"' in page.text and "amounts are shown in USD" in page.text
    assert "$1,234,567.89" in page.text and "£1,234,567.89" not in page.text
