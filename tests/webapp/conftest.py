"""Fixtures for the web tests: one app per test module on a fresh home, a tiny warehouse
whose numbers are worked out by hand, users of every role and scope, and sign-in helpers.

The warehouse (``LINES``), period 2011-03-01…2011-03-03:

| invoice | day   | country (code)      | customer | product | qty | price | value |
|---------|-------|---------------------|----------|---------|-----|-------|-------|
| I1      | 03-01 | United Kingdom (GB) | C1       | P1      |  2  |  5    |  10   |
| I2      | 03-02 | United Kingdom (GB) | C2       | P2      |  1  | 20    |  20   |
| C9      | 03-02 | United Kingdom (GB) | C1       | P1      | -1  |  5    |  -5   | (a return)
| I3      | 03-02 | France (FR)         | C3       | P1      |  3  |  5    |  15   |
| I4      | 03-03 | EIRE (IE)           | C4       | P3      |  1  |  7    |   7   |

P3's description is a spreadsheet formula (``=HYPERLINK(...)``) for the CSV test.
"""
from __future__ import annotations

import re

import pytest
from tests.conftest import cheap_password_hasher

from analytics.warehouse import Warehouse
from core import db, mail, passwords, tokens, users
from core.settings import load_settings
from tests.analytics.conftest import publish_lines

PERIOD = {"start": "2011-03-01", "end": "2011-03-03"}
FORMULA = '=HYPERLINK("http://evil.example/x","click")'
LINES = [
    {"invoice_id": "I1", "invoice_ts": "2011-03-01 10:00", "customer_id": "C1",
     "product_id": "P1", "description": "Mug", "quantity": 2, "unit_price": 5.0},
    {"invoice_id": "I2", "invoice_ts": "2011-03-02 11:00", "customer_id": "C2",
     "product_id": "P2", "description": "Lamp", "quantity": 1, "unit_price": 20.0},
    {"invoice_id": "C9", "invoice_ts": "2011-03-02 12:00", "customer_id": "C1",
     "product_id": "P1", "description": "Mug", "quantity": -1, "unit_price": 5.0},
    {"invoice_id": "I3", "invoice_ts": "2011-03-02 13:00", "customer_id": "C3",
     "product_id": "P1", "description": "Mug", "quantity": 3, "unit_price": 5.0,
     "country": "France", "country_code": "FR"},
    {"invoice_id": "I4", "invoice_ts": "2011-03-03 09:00", "customer_id": "C4",
     "product_id": "P3", "description": FORMULA, "quantity": 1, "unit_price": 7.0,
     "country": "EIRE", "country_code": "IE"},
]
PASSWORD = "a long enough passphrase"
#: e-mail → (role, scope countries or None)
USERS = {
    "admin@example.com": ("admin", None),
    "analyst@example.com": ("analyst", None),
    "viewer@example.com": ("viewer", None),
    "gb@example.com": ("analyst", "GB"),
    "fr@example.com": ("viewer", "France"),
}


@pytest.fixture(autouse=True)
def _cheap_hashing(cheap_hashing):
    """Every web test hashes at test cost (see tests/conftest.py)."""


@pytest.fixture(scope="module")
def web_settings(tmp_path_factory):
    home = tmp_path_factory.mktemp("webhome")
    return load_settings({"SHOPLENS_HOME": str(home)})


def make_app(settings, lines: list[dict]):
    """The app on ``settings`` with ``lines`` published and the ``USERS`` accounts."""
    from webapp import create_app
    warehouse = Warehouse(settings.warehouse_url)
    publish_lines(warehouse, lines)
    warehouse.dispose()
    app = create_app({"TESTING": True}, settings=settings)
    hasher = passwords._hasher
    passwords._hasher = cheap_password_hasher()
    try:
        with db.session_scope(settings.database_url) as session:
            for email, (role, countries) in USERS.items():
                users.create_user(session, "cli", email, role=role, countries=countries,
                                  password=PASSWORD)
    finally:
        passwords._hasher = hasher
    return app


@pytest.fixture(scope="module")
def app(web_settings):
    app = make_app(web_settings, LINES)
    yield app
    app.extensions["shoplens.warehouse"].dispose()


@pytest.fixture
def client(app):
    return app.test_client()


def csrf_token(client, path: str = "/login") -> str:
    """The CSRF token of the form at ``path`` (GET it in the client's session)."""
    page = client.get(path)
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text) or \
        re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match, f"no CSRF token in {path} ({page.status_code})"
    return match.group(1)


def sign_in(client, email: str, password: str = PASSWORD, *, follow: bool = False):
    """Sign in through the real form (CSRF token included); return the response."""
    token = csrf_token(client)
    return client.post("/login", data={"email": email, "password": password,
                                       "csrf_token": token}, follow_redirects=follow)


def make_token(app, email: str) -> str:
    settings = app.extensions["shoplens.settings"]
    with db.session_scope(settings.database_url) as session:
        _row, text = tokens.create_api_token(session, users.get_user(session, email),
                                             "test", actor="cli")
    return text


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def new_user(app, email: str, role: str = "viewer", countries=None) -> None:
    settings = app.extensions["shoplens.settings"]
    with db.session_scope(settings.database_url) as session:
        users.create_user(session, "cli", email, role=role, countries=countries,
                          password=PASSWORD)


@pytest.fixture
def signed_in(app):
    """A factory: a test client signed in as ``email`` through the sign-in form."""
    def factory(email: str):
        client = app.test_client()
        response = sign_in(client, email)
        assert response.status_code == 302, response.text
        return client
    return factory


def outbox_messages(app, recipient: str) -> list:
    """The .eml messages in the app's outbox addressed to ``recipient``, oldest first."""
    outbox = app.extensions["shoplens.settings"].outbox
    found = [mail.read_eml(path) for path in sorted(outbox.glob("*.eml"))]
    return [message for message in found if message["To"] == recipient]


def reset_link_in(app, message) -> str:
    """The reset link of an e-mail: PUBLIC_URL + /reset/<token>."""
    public_url = app.extensions["shoplens.settings"].public_url
    text = message.get_body(("plain",)).get_content()
    match = re.search(re.escape(public_url) + r"(/reset/[A-Za-z0-9_\-]+)\s", text)
    assert match, text
    return match.group(1)


def use_reset_link_once(client, path: str, new_password: str) -> None:
    """The link sets a password once; a second use is refused."""
    page = client.get(path)
    assert page.status_code == 200
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text).group(1)
    response = client.post(path, data={"new_password": new_password,
                                       "confirm": new_password, "csrf_token": token})
    assert response.status_code == 302
    again = client.get(path)
    assert again.status_code == 404 and "used or expired" in again.text
    retry = client.post(path, data={"new_password": "yet another phrase",
                                    "confirm": "yet another phrase",
                                    "csrf_token": csrf_token(client, "/login")})
    assert retry.status_code == 404
