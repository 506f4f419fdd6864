"""A data version that holds implausible lines (published directly, as a version loaded
before the loader rejected them would be: inf and 1e308 numbers, dates 0001-01-01 and
9999-12-31) still gets an answer from every GET endpoint of the OpenAPI document: no server
error, and strict JSON (no NaN or Infinity, which JSON cannot hold).

Each endpoint is asked with its default period (which then ends on 9999-12-31), with a
period holding the infinite lines, and with the widest period the API accepts; and once per
value of each of its enumerated and boolean parameters, and with a segment and a price
filter (which take other paths through the SQL)."""
from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest

from analytics.warehouse import Warehouse
from core import db, jobs, passwords, users
from core.settings import load_settings
from tests.analytics.conftest import publish_lines
from tests.conftest import cheap_password_hasher
from tests.webapp.conftest import PASSWORD, bearer, make_token

INF = float("inf")
POISONED_LINES = [
    {"invoice_id": "I1", "invoice_ts": "2011-03-01 10:00", "customer_id": "C1",
     "quantity": 2, "unit_price": 5.0, "unit_cost": 3.0},
    {"invoice_id": "I2", "invoice_ts": "2011-03-02 11:00", "customer_id": "C2",
     "quantity": INF, "unit_price": 5.0},
    {"invoice_id": "I3", "invoice_ts": "2011-03-02 12:00", "customer_id": "C3",
     "quantity": 1, "unit_price": 1e308, "unit_cost": INF},
    {"invoice_id": "I4", "invoice_ts": "2011-03-02 13:00", "customer_id": "C3",
     "quantity": 1e308, "unit_price": 1e308},
    {"invoice_id": "C5", "invoice_ts": "2011-03-03 09:00", "customer_id": "C2",
     "quantity": -INF, "unit_price": 5.0},
    {"invoice_id": "I6", "invoice_ts": "0001-01-01 00:00", "customer_id": "C4",
     "quantity": 1, "unit_price": 7.0},
    {"invoice_id": "I7", "invoice_ts": "9999-12-31 23:59", "customer_id": "C5",
     "quantity": 1, "unit_price": 7.0, "country": "France", "country_code": "FR"},
    {"invoice_id": "I8", "invoice_ts": "9999-12-30 08:00", "customer_id": "C1",
     "quantity": 3, "unit_price": 2.0},
]
PERIODS = [{}, {"start": "2011-03-01", "end": "2011-03-03"},
           {"start": "1900-01-01", "end": "2999-12-31"}]
EXTRA_FILTERS = [{"segment": "Champions"}, {"min_price": "1"}]
ADMIN = "poison-admin@example.com"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    from webapp import create_app
    settings = load_settings({"SHOPLENS_HOME": str(tmp_path_factory.mktemp("poisoned"))})
    warehouse = Warehouse(settings.warehouse_url)
    publish_lines(warehouse, POISONED_LINES)  # Warehouse.publish: no loader, no checks
    warehouse.dispose()
    app = create_app({"TESTING": True}, settings=settings)
    hasher, passwords._hasher = passwords._hasher, cheap_password_hasher()
    try:
        with db.session_scope(settings.database_url) as session:
            admin, _password = users.create_user(session, "cli", ADMIN, role="admin",
                                                 password=PASSWORD)
    finally:
        passwords._hasher = hasher
    with db.session_scope(settings.database_url) as session:
        jobs.submit_job(session, users.get_user(session, ADMIN), "forecast", {"filters": {}, "options": {}},
                        settings=settings)
    yield app
    app.extensions["shoplens.warehouse"].dispose()


@pytest.fixture(scope="module")
def token(app):
    return make_token(app, ADMIN)


def _refuse(constant: str):
    raise ValueError(f"{constant} is not JSON")


def _get_operations(app, token) -> list[tuple[str, list[dict]]]:
    client = app.test_client()
    document = client.get("/api/v1/openapi.json", headers=bearer(token)).get_json()
    return [(path, operations["get"].get("parameters", []))
            for path, operations in document["paths"].items() if "get" in operations]


def _requests(app, token, path: str, parameters: list[dict]) -> list[str]:
    """The URLs asked of one GET operation (see the module docstring)."""
    names = {parameter["name"]: parameter for parameter in parameters}
    if "job_id" in names:
        client = app.test_client()
        job_id = client.get("/api/v1/jobs", headers=bearer(token)).get_json()["jobs"][0]["id"]
        path = path.replace("{job_id}", job_id)
    paths = ([path.replace("{dimension}", value)
              for value in names["dimension"]["schema"]["enum"]]
             if "dimension" in names else [path])
    variants: list[dict] = [{}]
    for name, parameter in names.items():
        schema = parameter["schema"]
        if parameter["in"] != "query":
            continue
        if "enum" in schema:
            variants += [{name: value} for value in schema["enum"]]
        elif schema.get("type") == "boolean":
            variants += [{name: "true"}, {name: "false"}]
    if "start" in names:
        variants += EXTRA_FILTERS
        variants = [{**period_, **variant} for period_ in PERIODS for variant in variants]
    return [f"/api/v1{one}" + (f"?{urlencode(query)}" if query else "")
            for one in paths for query in variants]


def test_every_get_endpoint_answers_strict_json_on_poisoned_data(app, token):
    client = app.test_client()
    operations = _get_operations(app, token)
    assert len(operations) >= 12
    asked = 0
    failures = []
    for path, parameters in operations:
        for url in _requests(app, token, path, parameters):
            response = client.get(url, headers=bearer(token))
            response.close()  # a streamed CSV ends its request context here
            asked += 1
            if response.status_code >= 500:
                failures.append(f"{url}: {response.status_code} {response.text[:200]}")
                continue
            if response.mimetype == "application/json":
                try:
                    json.loads(response.text, parse_constant=_refuse)
                except ValueError as error:
                    failures.append(f"{url}: {error}")
    assert not failures, "\n".join(failures)
    assert asked > 200


def test_infinite_kpis_are_null_with_a_reason(app, token):
    answer = app.test_client().get("/api/v1/kpis?start=2011-03-01&end=2011-03-03",
                                   headers=bearer(token)).get_json()
    revenue = answer["kpis"]["revenue"]
    assert revenue["current"] is None
    assert revenue["reason"].startswith("not a finite number (implausible values in the data)")
    assert answer["kpis"]["orders"]["current"] == 4  # I1…I4; C5 is a return


def test_the_default_period_of_a_poisoned_version_answers(app, token):
    client = app.test_client()
    kpis = client.get("/api/v1/kpis", headers=bearer(token)).get_json()
    assert kpis["period"] == {"start": "9999-12-02", "end": "9999-12-31"}
    rfm = client.get("/api/v1/customers", headers=bearer(token)).get_json()
    # C5 bought on the last day of the calendar: recency 1, as of the (nameless) day after
    recency = {row["customer_id"]: row["recency"] for row in rfm["rows"]}
    assert recency == {"C5": 1, "C1": 2}
    # the data spans 0001 … 9999: the history keeps its last 100 years
    history = client.get("/api/v1/timeseries?history=true&grain=month",
                         headers=bearer(token)).get_json()["rows"]
    assert (len(history), history[0]["period_start"]) == (1_200, "9900-01-01")
    assert (history[-1]["period_start"], history[-1]["revenue"]) == ("9999-12-01", 13.0)
    # a period the caller chose is refused when it holds too many buckets
    daily = client.get("/api/v1/timeseries?start=1900-01-01&end=2999-12-31",
                       headers=bearer(token))
    assert daily.status_code == 400
    assert "too many for one series" in daily.get_json()["error"]["message"]
