"""The promotions API: signed out 401, a viewer may read (analytics like the overview), a
France-scoped viewer sees France's orders and customers only, a filter outside the scope
and bad input are 400s, and schemathesis finds no server error and no answer outside the
documented schema.

The store of tests/analytics/test_promotions.py (its numbers are worked out there by hand).
"""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from analytics import promotions
from tests.analytics import test_promotions as store
from tests.webapp.conftest import bearer, make_app, make_token

PERIOD = {"start": "2024-01-08", "end": "2024-01-14"}


@pytest.fixture(scope="module")
def app(web_settings):
    app = make_app(web_settings, store.LINES)
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
        return client.get("/api/v1/promotions", headers=headers,
                          query_string={**PERIOD, **params})
    return call


def test_signed_out_is_401_and_a_viewer_may_read(api):
    assert api(None).status_code == 401
    response = api("viewer@example.com")
    assert response.status_code == 200, response.text
    answer = response.json
    assert answer["period"] == PERIOD and answer["scope"] == "all data"
    assert answer["previous_period"] == {"start": "2024-01-01", "end": "2024-01-07"}
    assert answer["has_discounts"] is True and answer["notes"] == []
    kpis = answer["kpis"]
    assert set(kpis) == set(promotions.KPI_NAMES)
    assert kpis["discounted_orders"]["current"] == 2
    assert kpis["discounted_order_share"]["current"] == pytest.approx(0.5)
    assert kpis["discount_given"]["current"] == pytest.approx(20.0)
    assert kpis["discount_given"]["previous"] == pytest.approx(10.0)
    assert kpis["full_price_aov"]["current"] == pytest.approx(80.0)
    assert kpis["acquired_full_price_repeat_rate"]["current"] == pytest.approx(1.0)
    assert kpis["full_price_aov"]["reason"] == f"previous period: {promotions.NO_FULL_PRICE}"


def test_france_scoped_viewer_sees_france_only(api):
    answer = api("fr@example.com").json
    assert answer["scope"] == "FR"
    kpis = answer["kpis"]
    assert kpis["discounted_orders"]["current"] == 1
    assert kpis["full_price_orders"]["current"] == 2
    assert kpis["discount_given"]["current"] == pytest.approx(5.0)
    assert kpis["acquired_on_discount"]["current"] == 0


def test_filter_outside_the_scope_and_bad_input_are_400(api):
    assert api("fr@example.com", country="GB").status_code == 400
    response = api("viewer@example.com", start="2024-13-01")
    assert response.status_code == 400 and "start" in response.json["error"]["message"]
    assert api("viewer@example.com", nonsense="1").status_code == 400


def test_documented_and_fuzzed_without_server_errors(app):
    token = make_token(app, "fr@example.com")
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app,
                                            headers=bearer(token))
    operations = [result.ok() for result in
                  schema.include(path="/promotions").get_all_operations()]
    assert operations
    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def answers_well(case):
            case.call_and_validate(headers=bearer(token),
                                   excluded_checks=[positive_data_acceptance])
        answers_well()
