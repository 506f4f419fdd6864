"""The promotions API: signed out 401, a viewer may read (analytics like the overview), a
France-scoped viewer sees France's orders and customers only, a filter outside the scope
and bad input are 400s, and schemathesis finds no server error and no answer outside the
documented schema. The Marketing page's "Promotions" panel through the real Dash endpoint:
its numbers, a France-scoped viewer's, an empty state naming the columns to map when the
data has no discount information, and a signed-out client refused.

The store of tests/analytics/test_promotions.py (its numbers are worked out there by hand).
"""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from analytics import promotions
from core.settings import load_settings
from tests.analytics import test_promotions as store
from tests.webapp.conftest import bearer, make_app, make_token, sign_in
from tests.webapp.test_alerts_page import _call
from tests.webapp.test_data_upload import text_of

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


# ------------------------------------------------------------------ the Marketing panel
def panel(client):
    return _call(client, [("marketing-promotions", "children")],
                 [{"id": "shell-url", "property": "search",
                   "value": f"?start={PERIOD['start']}&end={PERIOD['end']}"}],
                 "shell-url.search")


def panel_text(client) -> str:
    response = panel(client)
    assert response.status_code == 200, response.text
    return text_of(response.json["response"]["marketing-promotions"]["children"])


def test_the_panel_shows_the_numbers(signed_in):
    text = panel_text(signed_in("viewer@example.com"))
    assert "Discount given away: £20.00 (8.0% of gross revenue); 50.0% of orders were " \
           "discounted." in text
    # discounted: 2 orders, £90.00, AOV £45.00, margin 44.4 %; acquired at full price: C3
    assert "Discounted orders" in text and "£90.00" in text and "44.4%" in text
    assert "Acquired at full price" in text and "100.0%" in text


def test_the_panel_follows_the_scope(signed_in):
    text = panel_text(signed_in("fr@example.com"))
    assert "Discount given away: £5.00" in text and "33.3% of orders were discounted" in text


def test_the_panel_says_what_to_map_without_discount_information(tmp_path_factory):
    settings = load_settings({"SHOPLENS_HOME": str(tmp_path_factory.mktemp("plain"))})
    plain = make_app(settings, [{**line, "discount": None} for line in store.LINES])
    try:
        client = plain.test_client()
        assert sign_in(client, "viewer@example.com").status_code == 302
        text = panel_text(client)
        assert promotions.MAP_DISCOUNTS in text and "order_subtotal" in text
        assert "Discount given away" not in text
    finally:
        plain.extensions["shoplens.warehouse"].dispose()


def test_the_panel_refuses_a_signed_out_client(app):
    assert panel(app.test_client()).status_code in (401, 403)
