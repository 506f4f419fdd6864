"""The Patterns API on the tiny warehouse of conftest: who may call it (no user 401, a
viewer 403, an analyst 200), the scope (gb@ sees Great Britain only), the OpenAPI
document, and schemathesis finding no server error on its three endpoints."""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.webapp.conftest import PERIOD, bearer, make_token

PATHS = ("/patterns/seasonality", "/patterns/elasticity", "/patterns/unusual-orders")


@pytest.fixture(scope="module")
def api(app):
    client = app.test_client()
    tokens: dict[str, str] = {}

    def call(email: str | None, path: str, **params):
        headers = {}
        if email is not None:
            if email not in tokens:
                tokens[email] = make_token(app, email)
            headers = bearer(tokens[email])
        return client.get(f"/api/v1{path}", headers=headers,
                          query_string={**PERIOD, **params})
    return call


@pytest.mark.parametrize("path", PATHS)
def test_access_by_role(api, path):
    assert api(None, path).status_code == 401
    response = api("viewer@example.com", path)
    assert response.status_code == 403 and "analyst" in response.json["error"]["message"]
    response = api("analyst@example.com", path)
    assert response.status_code == 200, response.text
    assert response.json["sentence"] and response.json["period"] == PERIOD


def _heat(answer: dict) -> dict:
    rows = answer["heatmap"]["rows"]
    # a weekday the period does not hold has no mean (null)
    return {(row["weekday"], row["hour"]): row["revenue"] for row in rows
            if row["revenue"] is not None}


def test_seasonality_under_the_scope(api):
    # 2011-03-01 is a Tuesday: I1 10 at Tue 10:00; I2 20 at Wed 11:00, C9 −5 at Wed 12:00;
    # I3 15 (France) at Wed 13:00; I4 7 (Ireland) at Thu 09:00; one of each weekday
    everything = api("analyst@example.com", "/patterns/seasonality").json
    gb = api("gb@example.com", "/patterns/seasonality").json
    assert everything["has_times"] and gb["scope"] == "GB"
    assert sum(_heat(everything).values()) == pytest.approx(47)
    assert sum(_heat(gb).values()) == pytest.approx(25)
    assert _heat(everything)[(2, 13)] == pytest.approx(15) and _heat(gb)[(2, 13)] == 0
    assert _heat(gb)[(2, 12)] == pytest.approx(-5)
    assert "weekdays" in gb["messages"]  # 3 days: too few for a weekday profile
    assert len(_heat(gb)) == 3 * 24  # Tuesday, Wednesday, Thursday


def test_unusual_orders_and_elasticity_under_the_scope(api):
    assert api("analyst@example.com", "/patterns/unusual-orders").json["orders"] == 4
    gb = api("gb@example.com", "/patterns/unusual-orders").json
    assert gb["orders"] == 2 and gb["median_order"] == pytest.approx(15)
    assert gb["sentence"].startswith("No unusual order among 2 orders")
    elasticity = api("gb@example.com", "/patterns/elasticity", top=5).json
    assert {row["key"] for row in elasticity["products"]["rows"]} == {"P1", "P2"}
    assert all(row["elasticity"] is None and row["reason"]
               for row in elasticity["products"]["rows"])
    assert elasticity["sentence"].startswith("No category has enough price variation")


def test_bad_parameters_are_400(api):
    assert api("analyst@example.com", "/patterns/elasticity", top=0).status_code == 400
    assert api("analyst@example.com", "/patterns/unusual-orders", limit=5000).status_code == 400
    assert api("analyst@example.com", "/patterns/seasonality", country="XX").status_code == 400


def test_in_the_openapi_document(app, api):
    document = api("analyst@example.com", "/openapi.json").json
    for path in PATHS:
        operation = document["paths"][path]["get"]
        assert "**analyst**" in operation["description"]
        assert {"401", "403"} <= set(operation["responses"])


@pytest.fixture(scope="module")
def api_schema(app):
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app,
                                          headers=bearer(make_token(app, "gb@example.com")))


@pytest.mark.parametrize("path", PATHS)
def test_no_server_errors(api_schema, app, path):
    headers = bearer(make_token(app, "analyst@example.com"))
    operations = [result.ok() for result in api_schema.include(path=path).get_all_operations()]
    assert operations
    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=15, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def answers_well(case):
            case.call_and_validate(headers=headers, excluded_checks=[positive_data_acceptance])
        answers_well()
