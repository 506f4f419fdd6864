"""The customer list's CSV (finding 6 of the hardening issue): an export like the
transactions' one: analyst role, audited, every formula cell neutralised, fullwidth
look-alikes (``＝ ＋ － ＠``) included, under the caller's scope."""
from __future__ import annotations

import csv
import io

import pytest
import sqlalchemy as sa

from core import db
from core.orm import AuditEvent
from tests.webapp.conftest import bearer, make_app, make_token
from tests.webapp.test_dashboard_units import _callback, _prop

PERIOD = {"start": "2011-03-01", "end": "2011-03-03"}
#: customer id → what a spreadsheet would run, and the country of the customer's line
FORMULA_CUSTOMERS = {
    "=1+1": "GB", "+SUM(A1)": "GB", "@cmd": "FR",
    "\uff1dHYPERLINK(\"http://evil.example\")": "GB",     # fullwidth ＝
    "\uff0b1": "FR", "\uff0d1": "GB", "\uff20SUM(A1)": "GB",  # fullwidth ＋ － ＠
    "plain": "GB",
}
NAMES = {"GB": "United Kingdom", "FR": "France"}


@pytest.fixture(scope="module")
def app(web_settings):
    app = make_app(web_settings, [
        {"invoice_id": f"I{number}", "invoice_ts": "2011-03-02 10:00", "customer_id": customer,
         "product_id": "P1", "description": "Mug", "quantity": 1, "unit_price": 5.0 + number,
         "country": NAMES[code], "country_code": code}
        for number, (customer, code) in enumerate(FORMULA_CUSTOMERS.items(), start=1)])
    yield app
    app.extensions["shoplens.warehouse"].dispose()


def _get(app, email: str, path: str = "/api/v1/customers.csv", **params):
    client = app.test_client()
    return client.get(path, query_string={**PERIOD, **params},
                      headers=bearer(make_token(app, email)))


def _exports(app) -> list[AuditEvent]:
    settings = app.extensions["shoplens.settings"]
    with db.session_scope(settings.database_url) as session:
        events = session.scalars(sa.select(AuditEvent).where(
            AuditEvent.action == "export", AuditEvent.target == "customers.csv")).all()
        session.expunge_all()
        return events


def test_a_viewer_cannot_download_the_customer_list(app):
    response = _get(app, "viewer@example.com")
    assert response.status_code == 403
    assert "analyst" in response.json["error"]["message"]
    assert not [event for event in _exports(app) if event.actor == "viewer@example.com"]


def test_an_analysts_download_is_whole_inert_and_audited(app):
    response = _get(app, "analyst@example.com", sort="customer_id", descending="false")
    assert response.status_code == 200, response.text
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert len(rows) == len(FORMULA_CUSTOMERS)
    written = {row["customer_id"] for row in rows}
    expected = {("'" + customer if customer != "plain" else customer)
                for customer in FORMULA_CUSTOMERS}
    assert written == expected
    assert all(row["monetary"] and float(row["monetary"]) > 0 for row in rows)

    events = [event for event in _exports(app) if event.actor == "analyst@example.com"]
    assert len(events) == 1
    assert events[0].detail["scope"] == "*"
    assert events[0].detail["filters"]["start"] == "2011-03-01"


def test_the_download_keeps_to_the_scope(app):
    response = _get(app, "gb@example.com")
    assert response.status_code == 200, response.text
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert {row["country"] for row in rows} == {"United Kingdom"}
    assert len(rows) == sum(code == "GB" for code in FORMULA_CUSTOMERS.values())
    assert any(event.detail["scope"] == "GB" for event in _exports(app)
               if event.actor == "gb@example.com")


def _download_link(client) -> dict:
    """The props of the Customers page's "Download CSV" link, as the page renders it."""
    page = _callback(client, "..shell-page.children...shell-rendered-path.data..",
                     [_prop("shell-page", "children"), _prop("shell-rendered-path", "data")],
                     [_prop("shell-url", "pathname", "/customers")],
                     [_prop("shell-rendered-path", "data", None)])
    found = []

    def walk(node):
        if isinstance(node, dict):
            if node.get("props", {}).get("id") == "customers-download":
                found.append(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
    walk(page["shell-page"]["children"])
    assert len(found) == 1
    return found[0]


def test_the_page_links_to_the_checked_route_for_the_roles_it_declares(app, signed_in):
    """The Customers page hands out no list of its own (a Dash download would be under the
    page's viewer role, unaudited): its link is the API route, shown to analysts."""
    viewer_link = _download_link(signed_in("viewer@example.com"))
    assert viewer_link["type"] == "A" and viewer_link["props"]["hidden"]
    assert viewer_link["props"]["href"].startswith("/api/v1/customers.csv")
    assert not _download_link(signed_in("analyst@example.com"))["props"]["hidden"]
    search = "?" + "&".join(f"{name}={value}" for name, value in PERIOD.items())
    href = _callback(signed_in("analyst@example.com"),
                     "..customers-list.data...customers-list.page_count..."
                     "customers-list-count.children...customers-download.href..",
                     [_prop("customers-list", "data"), _prop("customers-list", "page_count"),
                      _prop("customers-list-count", "children"),
                      _prop("customers-download", "href")],
                     [_prop("shell-url", "search", search),
                      _prop("customers-list", "page_current", 0),
                      _prop("customers-list", "sort_by", [{"column_id": "recency",
                                                           "direction": "asc"}])]
                     )["customers-download"]["href"]
    assert href == ("/api/v1/customers.csv?start=2011-03-01&end=2011-03-03&sort=recency"
                    "&descending=false")
    response = app.test_client().get(href, headers=bearer(make_token(app, "analyst@example.com")))
    assert response.status_code == 200, response.text
