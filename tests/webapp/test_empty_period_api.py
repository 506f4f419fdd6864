"""GET /api/v1/kpis for periods without lines (METRICS.md, "Periods without lines") on the
tiny warehouse of tests/webapp/conftest.py, whose data runs from 2011-03-01 to 2011-03-03:
0 inside the data, null with its reason outside it."""
from __future__ import annotations

import pytest

from tests.webapp.conftest import bearer, make_token

ANALYST = "analyst@example.com"


@pytest.fixture(scope="module")
def kpis(app):
    client = app.test_client()
    token = make_token(app, ANALYST)

    def call(**params) -> dict:
        response = client.get("/api/v1/kpis", query_string=params, headers=bearer(token))
        assert response.status_code == 200, response.text
        return response.json["kpis"]
    return call


@pytest.mark.parametrize("start, end", [("2010-01-01", "2010-01-31"),
                                        ("2011-03-04", "2011-03-31")],
                         ids=["before-the-data", "after-the-data"])
def test_a_period_outside_the_data_is_null_with_its_reason(kpis, start, end):
    answer = kpis(start=start, end=end)
    for name, kpi in answer.items():
        assert kpi["current"] is None, name
        assert kpi["reason"] == "no data for this period", name
        assert kpi["abs_change"] is None and kpi["rel_change"] is None, name


def test_after_the_data_the_previous_period_still_answers(kpis):
    answer = kpis(start="2011-03-04", end="2011-03-06")      # previous: 03-01 … 03-03
    assert answer["revenue"]["previous"] == pytest.approx(47)
    assert answer["orders"]["previous"] == 4


def test_a_filter_matching_no_line_inside_the_data_gives_zeros(kpis):
    # EIRE bought on 03-03 only
    answer = kpis(start="2011-03-01", end="2011-03-02", country="IE")
    for name in ("gross_revenue", "returns", "revenue", "orders", "units", "customers"):
        assert answer[name]["current"] == 0, name
    assert answer["orders"]["current"] == 0 and isinstance(answer["orders"]["current"], int)
    assert answer["aov"] == {"current": None, "previous": None, "abs_change": None,
                             "rel_change": None, "reason": "no orders in this period"}
    # the previous period (02-27 … 02-28) lies before the data
    assert answer["revenue"]["previous"] is None
    assert answer["revenue"]["reason"] == "previous period: no data for this period"
