"""The Marketing page's callbacks through the real Dash endpoint, on the hand-made store of
tests/analytics/test_marketing.py (period 8–14 Jan 2024: ad spend 60, ROAS 4.0, sessions
400; Google Ads spend 50 in the campaigns Shopping 30 and Brand 20, Meta Ads 10): the KPI
cards, the channel table sorted and drilled to Google's campaigns, the notes a
France-scoped viewer reads (spend without a country is left out), the action panel, an
empty store told what to load, and a signed-out client refused."""
from __future__ import annotations

import base64

import numpy as np
import pytest

from analytics.warehouse import Warehouse
from tests.analytics import test_marketing as store
from core.settings import load_settings
from tests.webapp.conftest import make_app, sign_in
from tests.webapp.test_alerts_page import _call
from tests.webapp.test_data_upload import text_of

SEARCH = "?start=2024-01-08&end=2024-01-14"
URL = {"id": "shell-url", "property": "search", "value": SEARCH}


@pytest.fixture(scope="module")
def app(web_settings):
    app = make_app(web_settings, store.LINES)
    warehouse = Warehouse(web_settings.warehouse_url)
    warehouse.publish_traffic(ad_spend=store.ADS)
    warehouse.publish_traffic(sessions=store.SESSIONS)
    warehouse.dispose()
    yield app
    app.extensions["shoplens.warehouse"].dispose()


#: The outputs of the page's summary callback: KPI cards, funnel and channel table.
SUMMARY = [("marketing-kpis", "children"), ("marketing-period", "children"),
           ("marketing-notes", "children"), ("marketing-funnel", "figure"),
           ("marketing-channels", "data"), ("marketing-channels", "page_count"),
           ("marketing-drill", "children"), ("marketing-all-channels", "style")]


def summary_raw(client, search=SEARCH, sort_by=(), changed="shell-url.search"):
    return _call(client, SUMMARY,
                 [{**URL, "value": search},
                  {"id": "marketing-channels", "property": "page_current", "value": 0},
                  {"id": "marketing-channels", "property": "sort_by",
                   "value": list(sort_by)}], changed)


def kpis(client, search=SEARCH):
    response = summary_raw(client, search)
    assert response.status_code == 200, response.text
    answer = response.json["response"]
    return (answer["marketing-kpis"]["children"], answer["marketing-period"]["children"],
            text_of(answer["marketing-notes"]["children"]))


def table(client, search=SEARCH, sort_by=()):
    response = summary_raw(client, search, sort_by)
    assert response.status_code == 200, response.text
    answer = response.json["response"]
    return answer["marketing-channels"]["data"], answer["marketing-drill"]["children"]


def test_sorting_the_channel_table_redraws_the_table_alone(signed_in):
    response = summary_raw(signed_in("analyst@example.com"),
                           sort_by=[{"column_id": "roas", "direction": "desc"}],
                           changed="marketing-channels.sort_by")
    assert response.status_code == 200, response.text
    answer = response.json["response"]
    assert set(answer) == {"marketing-channels", "marketing-drill", "marketing-all-channels"}
    assert [row["name"] for row in answer["marketing-channels"]["data"]] == \
        ["Meta Ads", "Google Ads"]                                      # ROAS 6.0 > 3.6


def _cards(tree) -> dict[str, str]:
    """Card id → its value's text: the cards come as plain HTML in one Markdown component
    (``static_html``)."""
    from html.parser import HTMLParser

    found: dict[str, str] = {}

    class Values(HTMLParser):
        reading: str | None = None

        def handle_starttag(self, tag, attrs):
            element_id = dict(attrs).get("id") or ""
            if element_id.endswith("-value"):
                self.reading = element_id
                found[element_id] = ""

        def handle_endtag(self, tag):
            self.reading = None

        def handle_data(self, data):
            if self.reading:
                found[self.reading] += data

    assert tree["type"] == "Markdown" and tree["props"]["dangerously_allow_html"]
    Values().feed(tree["props"]["children"])
    return found


def test_kpi_cards(signed_in):
    cards, period, notes = kpis(signed_in("viewer@example.com"))
    values = _cards(cards)
    assert values["marketing-kpi-ad_spend-value"] == "£60.00"
    assert values["marketing-kpi-roas-value"] == "4.00×"           # 240 ÷ 60
    assert values["marketing-kpi-cac-value"] == "£20.00"           # 60 ÷ 3 new customers
    assert values["marketing-kpi-sessions-value"] == "400"
    assert values["marketing-kpi-conversion_rate-value"] == "1.0%"  # 4 orders ÷ 400
    assert set(values) == {f"marketing-kpi-{name}-value" for name in (
        "ad_spend", "roas", "mer", "cac", "ctr", "cpc", "sessions", "conversion_rate",
        "revenue_per_session", "new_customers")}
    # days unpadded as on the other pages ("8 Jan", not "08 Jan")
    assert period == "8 Jan 2024 – 14 Jan 2024, compared with 1 Jan 2024 – 7 Jan 2024"
    assert "vs 1–7 Jan 2024" in str(cards) and "vs 01 Jan" not in str(cards)
    assert notes == ""


def test_channel_table_sorts_and_drills_to_campaigns(signed_in):
    client = signed_in("analyst@example.com")
    rows, label = table(client)
    assert [(row["name"], row["spend"]) for row in rows] == [("Google Ads", 50.0),
                                                             ("Meta Ads", 10.0)]
    assert rows[0]["roas"] == pytest.approx(3.6) and rows[0]["spend_change"] == 4.0
    assert "click one" in label
    rows, _ = table(client, sort_by=[{"column_id": "roas", "direction": "desc"}])
    assert [row["name"] for row in rows] == ["Meta Ads", "Google Ads"]      # 6.0 > 3.6
    response = _call(client, [("shell-url", "search")],
                     [{"id": "marketing-channels", "property": "active_cell",
                       "value": {"row": 0, "column": 0, "column_id": "name"}},
                      {"id": "marketing-all-channels", "property": "n_clicks", "value": None}],
                     "marketing-channels.active_cell",
                     [{"id": "marketing-channels", "property": "data", "value": rows},
                      URL])
    assert response.status_code == 200, response.text
    drilled = response.json["response"]["shell-url"]["search"]
    assert drilled == SEARCH + "&ad_channel=Meta+Ads"
    rows, label = table(client, SEARCH + "&ad_channel=Google+Ads")
    assert [(row["name"], row["spend"]) for row in rows] == [("Shopping", 30.0),
                                                             ("Brand", 20.0)]
    assert rows[1]["platform_roas"] == pytest.approx(7.5) and rows[1]["roas"] is None
    assert label == "Campaigns of Google Ads"


def test_france_scoped_viewer_reads_the_notes(signed_in):
    cards, _period, notes = kpis(signed_in("fr@example.com"))
    assert "ad spend without a country is left out under your data scope" in notes
    assert "cannot be split by country" in notes
    assert _cards(cards)["marketing-kpi-ad_spend-value"] == "£20.00"
    rows, _ = table(signed_in("fr@example.com"), SEARCH + "&ad_channel=Google+Ads")
    assert [row["name"] for row in rows] == ["Brand"]


def test_action_panel_answers(signed_in):
    response = _call(signed_in("viewer@example.com"), [("marketing-actions", "children")],
                     [URL], "shell-url.search")
    assert response.status_code == 200, response.text
    text = text_of(response.json["response"]["marketing-actions"]["children"])
    assert "last 7 days: 8–14 Jan 2024 against 1–7 Jan 2024" in text


def test_a_store_without_ads_or_sessions_says_what_to_load(tmp_path_factory):
    settings = load_settings({"SHOPLENS_HOME": str(tmp_path_factory.mktemp("bare"))})
    bare = make_app(settings, store.LINES)
    try:
        client = bare.test_client()
        assert sign_in(client, "viewer@example.com").status_code == 302
        cards, _period, _notes = kpis(client)
        text = text_of(cards)
        assert "No ad spend loaded: load a Google Ads or Meta export on the Data page or " \
               "with `flask --app wsgi data load-ads`" in text
        assert "No sessions loaded" in text
        rows, label = table(client)
        assert rows == [] and label.startswith("No ad spend for this period")
    finally:
        bare.extensions["shoplens.warehouse"].dispose()


def test_signed_out_is_refused(app):
    response = kpis_raw(app.test_client())
    assert response.status_code in (401, 403)


def kpis_raw(client):
    return summary_raw(client)


def test_the_insights_page_shows_the_actions_too(signed_in):
    response = _call(signed_in("viewer@example.com"), [("insights-actions", "children")],
                     [URL], "shell-url.search")
    assert response.status_code == 200, response.text
    text = text_of(response.json["response"]["insights-actions"]["children"])
    assert "last 7 days: 8–14 Jan 2024 against 1–7 Jan 2024" in text


def test_spend_and_revenue_on_two_axes(signed_in):
    response = _call(signed_in("viewer@example.com"), [("marketing-trend", "figure")], [URL],
                     "shell-url.search")
    assert response.status_code == 200, response.text
    revenue, spend = response.json["response"]["marketing-trend"]["figure"]["data"]
    assert (revenue["name"], spend["name"], spend["yaxis"]) == ("Revenue", "Ad spend", "y2")
    assert len(revenue["x"]) == 7                       # a week: by day
    assert sum(_values(revenue["y"])) == pytest.approx(280.0)
    assert sum(_values(spend["y"])) == pytest.approx(60.0)


def _values(data) -> list[float]:
    """A trace's values as plotly sends them: a list, or a typed array in base64."""
    if isinstance(data, dict):
        return list(np.frombuffer(base64.b64decode(data["bdata"]), dtype=data["dtype"]))
    return list(data)
