"""``GET /api/v1/marketing/actions``: signed out 401, a viewer may read it, the answer is
the ranking worked out in tests/analytics/test_actions.py, a France-scoped viewer is told
that spend cannot be split by country (and sees none of it), a filter outside the scope or
a bad value is a 400, and the endpoint is in the OpenAPI document, fuzzed without a
server error or an answer outside its schema."""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from analytics.warehouse import Warehouse
from tests.analytics import test_actions as store
from tests.webapp.conftest import bearer, make_app, make_token

PERIOD = {"start": "2024-01-08", "end": "2024-01-14"}


@pytest.fixture(scope="module")
def app(web_settings):
    app = make_app(web_settings, store.LINES)
    warehouse = Warehouse(web_settings.warehouse_url)
    warehouse.publish_traffic(ad_spend=store.ADS)
    warehouse.publish_traffic(sessions=store.SESSIONS)
    warehouse.dispose()
    yield app
    app.extensions["shoplens.warehouse"].dispose()


@pytest.fixture(scope="module")
def api(app):
    client = app.test_client()
    tokens: dict[str, str] = {}

    def call(email: str | None, **params):
        headers = {}
        if email is not None:
            tokens.setdefault(email, make_token(app, email))
            headers = bearer(tokens[email])
        return client.get("/api/v1/marketing/actions", headers=headers,
                          query_string={**PERIOD, **params})
    return call


def test_signed_out_is_401(api):
    assert api(None).status_code == 401


def test_a_viewer_reads_the_ranked_actions(api):
    response = api("viewer@example.com")
    assert response.status_code == 200, response.text
    answer = response.json
    assert answer["period"] == PERIOD and answer["scope"] == "all data"
    assert [w["name"] for w in answer["windows"]] == ["last 7 days"]
    assert answer["windows"][0]["previous_start"] == "2024-01-01"
    got = [(row["level"], row["name"], row["rule"], row["stake"]) for row in answer["rows"]]
    assert got == [("category", "Mugs", "revenue_fell", 500.0),
                   ("product", "M1", "revenue_fell", 500.0),
                   ("campaign", "Brand", "roas_fell", 252.0),
                   ("category", "Teas", "revenue_fell", 200.0),
                   ("product", "T1", "revenue_fell", 200.0)]
    assert answer["rows"][2]["reason"] == "ROAS fell from 4.10 to 2.30 while spend rose 40 %"
    assert answer["rows"][2]["start"] == "2024-01-08"
    assert answer["thresholds"]["roas_drop"] == 0.25


def test_france_scoped_viewer_is_told_about_spend(api):
    answer = api("fr@example.com").json
    assert answer["scope"] == "FR"
    assert not [row for row in answer["rows"] if row["level"] in ("channel", "campaign")]
    assert any("not split by country" in note for note in answer["notes"])


def test_out_of_scope_filter_and_bad_input_are_400(api):
    response = api("fr@example.com", country="United Kingdom")
    assert response.status_code == 400
    response = api("viewer@example.com", end="2024-02-30")
    assert response.status_code == 400 and "end" in response.json["error"]["message"]


def test_in_the_openapi_document(app):
    document = app.test_client().get("/api/v1/openapi.json",
                                     headers=bearer(make_token(app, "viewer@example.com"))).json
    operation = document["paths"]["/marketing/actions"]["get"]
    assert "What to do next" in operation["summary"]


def test_documented_and_fuzzed_without_server_errors(app):
    token = make_token(app, "fr@example.com")
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app,
                                            headers=bearer(token))
    operations = [result.ok() for result in
                  schema.include(path="/marketing/actions").get_all_operations()]
    assert operations
    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def answers_well(case):
            case.call_and_validate(headers=bearer(token),
                                   excluded_checks=[positive_data_acceptance])
        answers_well()
