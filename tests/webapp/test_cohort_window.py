"""The dashboard's cohort chart, the API's /cohorts and a report's cohorts show the same
cohorts for the same filters: one rule (``analytics.cohorts.cohort_window``) widens a short
period to the 12 months ending with it, in all three."""
from __future__ import annotations

import base64
import datetime as dt
import json

import numpy as np
import pytest

from analytics.filters import ALL_DATA, Filters
from core.reports.content import gather
from tests.analytics.conftest import publish_lines
from tests.webapp.conftest import LINES, bearer, make_token

#: Only March 2011 is selected; C5 bought first in January and again in March, C6 first in
#: December 2010 (inside the 12 months ending with March) and C7 in February 2010 (outside).
QUERY = "start=2011-03-01&end=2011-03-03"
EARLIER = [
    {"invoice_id": "E1", "invoice_ts": "2011-01-12 10:00", "customer_id": "C5",
     "product_id": "P1", "quantity": 1, "unit_price": 5.0},
    {"invoice_id": "E2", "invoice_ts": "2011-03-02 10:00", "customer_id": "C5",
     "product_id": "P1", "quantity": 1, "unit_price": 5.0},
    {"invoice_id": "E3", "invoice_ts": "2010-12-20 10:00", "customer_id": "C6",
     "product_id": "P2", "quantity": 1, "unit_price": 20.0},
    {"invoice_id": "E4", "invoice_ts": "2010-02-15 10:00", "customer_id": "C7",
     "product_id": "P2", "quantity": 1, "unit_price": 20.0},
]
#: (cohort, offset) → retention, worked out by hand for 1 Apr 2010 – 3 Mar 2011.
EXPECTED = {
    ("2010-12", 0): 1.0, ("2010-12", 1): 0.0, ("2010-12", 2): 0.0, ("2010-12", 3): 0.0,
    ("2011-01", 0): 1.0, ("2011-01", 1): 0.0, ("2011-01", 2): 1.0,
    ("2011-03", 0): 1.0,
}


@pytest.fixture(scope="module")
def warehouse(app):
    store = app.extensions["shoplens.warehouse"]
    publish_lines(store, LINES + EARLIER)
    return store


def _dashboard(app, client) -> tuple[dict, str]:
    """The customers page's cohort callback, through Dash's HTTP endpoint."""
    body = {
        "output": "..customers-cohorts.figure...customers-cohorts-window.children..",
        "outputs": [{"id": "customers-cohorts", "property": "figure"},
                    {"id": "customers-cohorts-window", "property": "children"}],
        "inputs": [{"id": "shell-url", "property": "search", "value": f"?{QUERY}"},
                   {"id": "customers-cohort-measure", "property": "value",
                    "value": "customers"}],
        "changedPropIds": ["shell-url.search"], "state": []}
    response = client.post("/_dash-update-component", json=body)
    assert response.status_code == 200, response.text
    answer = json.loads(response.text)["response"]
    return answer["customers-cohorts"]["figure"], answer["customers-cohorts-window"]["children"]


def _cells(array) -> np.ndarray:
    """A figure array as sent to the browser: a list, or plotly's typed-array encoding."""
    if isinstance(array, dict):
        flat = np.frombuffer(base64.b64decode(array["bdata"]), dtype=array["dtype"])
        return flat.reshape([int(size) for size in str(array["shape"]).split(",")])
    return np.array(array, dtype="float64")


def test_dashboard_api_and_report_show_the_same_cohort_window(app, warehouse, signed_in):
    figure, subtitle = _dashboard(app, signed_in("analyst@example.com"))
    heatmap = figure["data"][0]
    labels = {f"{dt.datetime.strptime(label, '%b %Y'):%Y-%m}": label for label in heatmap["y"]}
    shown = {(cohort, int(offset)): value
             for cohort, row in zip(labels, _cells(heatmap["z"]))
             for offset, value in zip(heatmap["x"], row) if not np.isnan(value)}
    assert shown == EXPECTED
    assert "Apr 2010 – 3 Mar 2011" in subtitle

    client = app.test_client()
    token = make_token(app, "analyst@example.com")
    api = client.get(f"/api/v1/cohorts?{QUERY}", headers=bearer(token)).json
    assert api["period"] == {"start": "2010-04-01", "end": "2011-03-03"}
    assert {(row["cohort"][:7], row["offset"]): row["retention"]
            for row in api["rows"]} == EXPECTED

    report = gather(warehouse, Filters.from_query(QUERY), ALL_DATA, forecast=False)
    assert {(f"{row.cohort:%Y-%m}", row.offset): row.retention
            for row in report.cohorts.itertuples()} == EXPECTED
