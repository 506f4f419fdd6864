"""The marketing API: signed out 401, a viewer may read (marketing KPIs are analytics, like
the overview), a France-scoped viewer sees France's spend and sessions only and is told
about spend without a country, a filter outside the scope is a 400, and schemathesis finds
no server error and no answer outside the documented schemas.

The store of tests/analytics/test_marketing.py (its KPIs are worked out there by hand).
"""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from analytics.warehouse import Warehouse
from tests.analytics import test_marketing as store
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

    def call(email: str | None, path: str, **params):
        headers = {}
        if email is not None:
            tokens.setdefault(email, make_token(app, email))
            headers = bearer(tokens[email])
        return client.get(f"/api/v1/marketing{path}", headers=headers,
                          query_string={**PERIOD, **params})
    return call


@pytest.mark.parametrize("path", ["/kpis", "/channels"])
def test_signed_out_is_401_and_a_viewer_may_read(api, path):
    assert api(None, path).status_code == 401
    response = api("viewer@example.com", path)
    assert response.status_code == 200, response.text
    assert response.json["period"] == PERIOD and response.json["scope"] == "all data"


def test_kpis_answer(api):
    answer = api("viewer@example.com", "/kpis").json
    kpis = answer["kpis"]
    assert kpis["ad_spend"]["current"] == pytest.approx(60.0)
    assert kpis["ad_spend"]["previous"] == pytest.approx(10.0)
    assert kpis["roas"]["current"] == pytest.approx(4.0)
    assert kpis["mer"]["current"] == pytest.approx(280 / 60)
    assert kpis["cac"]["current"] == pytest.approx(20.0)
    assert kpis["sessions"]["current"] == 400
    assert answer["previous_period"] == {"start": "2024-01-01", "end": "2024-01-07"}
    assert answer["notes"] == []


def test_channels_answer(api):
    answer = api("analyst@example.com", "/channels").json
    rows = {(row["level"], row["channel"], row["campaign"]): row for row in answer["rows"]}
    google = rows[("channel", "Google Ads", None)]
    assert google["spend"] == pytest.approx(50.0) and google["roas"] == pytest.approx(3.6)
    assert google["orders"] == 2 and google["cac"] == pytest.approx(50.0)
    assert google["spend_change"] == pytest.approx(4.0)
    assert rows[("campaign", "Google Ads", "Brand")]["roas"] is None
    assert rows[("campaign", "Google Ads", "Brand")]["platform_roas"] == pytest.approx(7.5)
    assert "roas" in answer["columns"] and any("campaign" in n for n in answer["notes"])


def test_france_scoped_viewer_sees_france_and_is_told_about_spend(api):
    answer = api("fr@example.com", "/kpis").json
    assert answer["scope"] == "FR"
    assert answer["kpis"]["ad_spend"]["current"] == pytest.approx(20.0)
    assert answer["kpis"]["sessions"]["current"] == 100
    assert answer["kpis"]["roas"]["current"] == pytest.approx(5.0)
    assert any("cannot be split by country" in note for note in answer["notes"])
    channels = api("fr@example.com", "/channels").json
    assert {row["campaign"] for row in channels["rows"]} == {None, "Brand"}


def test_filter_outside_the_scope_and_bad_input_are_400(api):
    response = api("fr@example.com", "/kpis", country="GB")
    assert response.status_code == 400
    response = api("viewer@example.com", "/channels", start="2024-13-01")
    assert response.status_code == 400 and "start" in response.json["error"]["message"]
    response = api("viewer@example.com", "/kpis", nonsense="1")
    assert response.status_code == 400


def test_a_filter_the_ads_do_not_carry_is_said(api):
    answer = api("viewer@example.com", "/kpis", category="Mugs").json
    assert answer["kpis"]["ad_spend"]["current"] == pytest.approx(60.0)
    assert "ad spend is not broken down by category: that filter leaves it unfiltered" \
        in answer["notes"]


@pytest.mark.parametrize("path", ["/marketing/kpis", "/marketing/channels"])
def test_documented_and_fuzzed_without_server_errors(app, path):
    token = make_token(app, "fr@example.com")
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app,
                                            headers=bearer(token))
    operations = [result.ok() for result in schema.include(path=path).get_all_operations()]
    assert operations, path
    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def answers_well(case):
            case.call_and_validate(headers=bearer(token),
                                   excluded_checks=[positive_data_acceptance])
        answers_well()
