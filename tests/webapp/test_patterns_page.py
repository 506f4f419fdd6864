"""The Patterns page: analyst role (page and callbacks, through the request guard), its
sentences and tables under the user's scope, on the tiny warehouse of conftest."""
from __future__ import annotations

import importlib
import json

import dash
import pandas as pd
import pytest

from tests.webapp.conftest import PERIOD
from webapp import security

MODULE = "webapp.dashboard.pages.patterns"

SEARCH = f"?start={PERIOD['start']}&end={PERIOD['end']}"


@pytest.fixture(scope="module")
def dash_app(app):
    app.test_client().get("/healthz")
    return app.extensions["shoplens.dash"]


def _key(dash_app, component_id: str) -> str:
    return next(key for key in dash_app.callback_map if f"{component_id}." in key)


def _body(dash_app, component_id: str) -> dict:
    key = _key(dash_app, component_id)
    outputs = [{"id": part.rsplit(".", 1)[0], "property": part.rsplit(".", 1)[1]}
               for part in key.strip(".").split("...")]
    return {"output": key, "outputs": outputs,
            "inputs": [{"id": "shell-url", "property": "search", "value": SEARCH}],
            "changedPropIds": ["shell-url.search"], "state": []}


def test_the_page_and_its_callbacks_need_the_analyst_role(app, dash_app, signed_in):
    registered = next(p for p in dash.page_registry.values() if p["module"] == MODULE)
    assert registered["role"] == "analyst" and security.page_id_prefix(registered) == "patterns"
    viewer, analyst = signed_in("viewer@example.com"), signed_in("analyst@example.com")
    assert viewer.get("/patterns").status_code == 403
    assert analyst.get("/patterns").status_code == 200
    for component_id in ("patterns-seasonality-sentence", "patterns-elasticity-sentence",
                         "patterns-unusual-sentence"):
        body = _body(dash_app, component_id)
        assert viewer.post("/_dash-update-component", json=body).status_code == 403
        response = analyst.post("/_dash-update-component", json=body)
        assert response.status_code == 200, response.text


def test_sentences_follow_the_scope(dash_app, signed_in):
    body = _body(dash_app, "patterns-unusual-sentence")
    answers = {}
    for email in ("analyst@example.com", "gb@example.com"):
        response = signed_in(email).post("/_dash-update-component", json=body)
        answers[email] = json.dumps(response.json)
    assert "among 4 orders" in answers["analyst@example.com"]
    assert "among 2 orders" in answers["gb@example.com"]


def test_tables_say_why_without_a_browser(app):
    page = importlib.import_module(MODULE)  # registers with Dash: after the app
    frame = pd.DataFrame([
        {"kind": "size", "invoice_id": "I9", "customer_id": "C1", "date": "2011-03-01",
         "value": 400.0, "measure": 3.8, "reason": "3.8× the median order of this customer"},
        {"kind": "refunds", "invoice_id": None, "customer_id": "C2", "date": None,
         "value": 150.0, "measure": 0.75, "reason": "refunds 75 % of their purchases"}])
    text = str(page.unusual_table(frame, "£"))
    assert "3.8× the median order of this customer" in text and "£400" in text
    assert "Refunds" in text
    estimates = pd.DataFrame([
        {"key": "Home", "label": "Home", "category": "Home", "revenue": 1000.0, "weeks": 52,
         "price_points": 8, "price_low": 5.0, "price_high": 15.0, "products": 2,
         "elasticity": -1.5, "ci_low": -1.6, "ci_high": -1.4, "reason": None,
         "sentence": "Home: …"},
        {"key": "Toys", "label": "Toys", "category": "Toys", "revenue": 10.0, "weeks": 0,
         "price_points": 2, "price_low": 4.0, "price_high": 5.0, "products": 0,
         "elasticity": float("nan"), "ci_low": float("nan"), "ci_high": float("nan"),
         "reason": "no product…", "sentence": None}])
    text = str(page.elasticity_table(estimates, "£", "patterns-x"))
    assert "-1.50" in text and "-1.60 to -1.40" in text and "not enough price variation" in text


def test_the_span_is_a_url_parameter_of_the_page(app):
    page = importlib.import_module(MODULE)
    assert page.restore_span("?span=history&country=GB") == "history"
    assert page.restore_span("?span=centuries") == "period"
    assert page.store_span("history", "?country=GB") == "?country=GB&span=history"
    assert page.store_span("period", "?country=GB&span=history") == "?country=GB"
