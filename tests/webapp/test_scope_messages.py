"""A scoped user asking for a country outside their scope is told so, on every panel and
in the sidebar, never "no sales" (analytics.filter_values.describe_for_scope), through the
real Dash callback endpoint; the API keeps refusing with a 400 and its message.

Warehouse of tests/webapp/conftest.py: United Kingdom (GB) 25, France (FR) 15, EIRE (IE) 7,
2011-03-01…03. ``fr-analyst@example.com`` is an analyst whose scope is FR.
"""
from __future__ import annotations

import json

import pytest

from analytics.filter_values import UnknownValue, describe_for_scope, outside_scope
from analytics.filters import Scope
from tests.webapp.conftest import PERIOD, bearer, make_token, new_user
from tests.webapp.test_alerts_page import _call

MARCH = "?start=2011-03-01&end=2011-03-03"
FR_ANALYST = "fr-analyst@example.com"


def _unknown(value: str, dimension: str = "country") -> UnknownValue:
    return UnknownValue(dimension, value, (), ("France",), scoped=True)


@pytest.mark.parametrize("value", ["GB", "gb", "United Kingdom", "Germany", "DE"])
def test_a_country_the_scope_leaves_out_is_said_to_be_outside_it(value):
    assert outside_scope(_unknown(value), Scope.of(["FR"])) == \
        f"{value} is outside your data scope (FR)."


def test_the_scope_is_named_in_full_and_other_cases_keep_the_unknown_message():
    two = Scope.of(["FR", "DE"])
    assert outside_scope(_unknown("GB"), two) == "GB is outside your data scope (DE, FR)."
    # a misspelling is no country: the usual "unknown" message, with suggestions
    assert outside_scope(_unknown("Frnace"), two) is None
    # inside the scope (the data has no such line), an unscoped user, another dimension
    assert outside_scope(_unknown("DE"), two) is None
    assert outside_scope(_unknown("GB"), Scope()) is None
    assert outside_scope(_unknown("GB", dimension="category"), two) is None
    message = describe_for_scope([_unknown("GB"), _unknown("Frnace")], Scope.of(["FR"]))
    assert message.startswith("GB is outside your data scope (FR). Unknown country "
                              '"Frnace": no line in your data scope has it')


@pytest.fixture(scope="module")
def fr_analyst(app):
    new_user(app, FR_ANALYST, role="analyst", countries="FR")
    return FR_ANALYST


def _search(query: str, outputs=()) -> list[dict]:
    inputs = [{"id": "shell-url", "property": "search", "value": query}]
    if ("overview-trend", "figure") in outputs:  # the trend also follows the notes
        inputs.append({"id": "overview-note-saved", "property": "data", "value": None})
    return inputs


def _answer(client, outputs, query: str) -> str:
    response = _call(client, outputs, _search(query, outputs), "shell-url.search")
    assert response.status_code == 200, response.text
    return json.dumps(response.json["response"])


PANELS = [  # (outputs of one callback, page module): KPI cards, charts, the map
    ([("overview-kpis", "children"), ("overview-period", "children")], "overview"),
    ([("overview-trend", "figure")], "overview"),
    ([("geography-map-layer", "hideout"), ("geography-map-note", "children"),
      ("geography-map-legend", "children")], "geography"),
    ([("geography-top", "figure")], "geography"),
]


@pytest.mark.parametrize("outputs, _page", PANELS)
def test_each_panel_says_gb_is_outside_the_scope_not_no_sales(signed_in, fr_analyst,
                                                              outputs, _page):
    client = signed_in(fr_analyst)
    shown = _answer(client, outputs, MARCH + "&country=GB")
    assert "GB is outside your data scope (FR)." in shown
    assert "no sales" not in shown.lower() and "United Kingdom" not in shown
    # the same panel for the user's own country shows numbers (France: 15)
    own = _answer(client, outputs, MARCH + "&country=FR")
    assert "outside your data scope" not in own


def test_the_kpi_cards_empty_state_names_the_scope(signed_in, fr_analyst):
    shown = _answer(signed_in(fr_analyst), PANELS[0][0], MARCH + "&country=GB")
    assert "overview-empty" in shown and "n/a" not in shown


def test_an_unscoped_analyst_sees_gb(signed_in):
    shown = _answer(signed_in("analyst@example.com"), PANELS[0][0], MARCH + "&country=GB")
    assert "outside your data scope" not in shown and "overview-empty" not in shown


def test_the_api_still_refuses_a_country_outside_the_scope(app, fr_analyst):
    client = app.test_client()
    refused = client.get("/api/v1/kpis", query_string={**PERIOD, "country": "GB"},
                         headers=bearer(make_token(app, fr_analyst)))
    assert refused.status_code == 400
    assert "GB" in refused.json["error"]["message"]
    assert "United Kingdom" not in refused.text


def test_signed_out_the_callback_is_refused(app):
    response = _call(app.test_client(), PANELS[0][0], _search(MARCH + "&country=GB"),
                     "shell-url.search")
    assert response.status_code == 401
