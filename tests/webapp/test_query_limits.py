"""Finding 9 of the hardening issue, through the web app: the statement time-out comes from
the settings (WAREHOUSE_STATEMENT_TIMEOUT) and surfaces as a clear 503; 1900–2999 answers
at once with the data's own numbers (tests/webapp/conftest.LINES: 1–3 March 2011)."""
from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from analytics import kpis
from analytics.warehouse import Warehouse
from core.settings import load_settings
from tests.webapp.conftest import PERIOD, bearer, make_token


@pytest.fixture(scope="module")
def web_settings(tmp_path_factory):
    home = tmp_path_factory.mktemp("webhome")
    return load_settings({"SHOPLENS_HOME": str(home), "WAREHOUSE_STATEMENT_TIMEOUT": "0.5"})


def _get(app, path, **params):
    return app.test_client().get(f"/api/v1{path}", query_string=params,
                                 headers=bearer(make_token(app, "viewer@example.com")))


def test_the_time_out_is_the_settings_and_answers_503(app, monkeypatch):
    assert app.extensions["shoplens.warehouse"].statement_timeout == 0.5

    def runaway(warehouse: Warehouse, filters, scope):
        with warehouse.connect() as conn:
            return conn.execute(sa.text("SELECT count(*) FROM range(1000000000000) AS a")).all()
    monkeypatch.setattr(kpis, "kpi_summary", runaway)
    started = time.perf_counter()
    response = _get(app, "/kpis", **PERIOD)
    assert time.perf_counter() - started < 10
    assert response.status_code == 503, response.text
    assert "longer than 0.5 s" in response.json["error"]["message"]


def test_the_whole_calendar_answers_with_the_datas_numbers(app):
    own = _get(app, "/kpis", **PERIOD)
    everything = _get(app, "/kpis", start="1900-01-01", end="2999-12-31")
    assert everything.status_code == 200, everything.text
    assert {name: value["current"] for name, value in everything.json["kpis"].items()} == \
        {name: value["current"] for name, value in own.json["kpis"].items()}
    assert everything.json["period"]["start"] > "2010" and \
        everything.json["period"]["end"] < "2013"
    series = _get(app, "/timeseries", start="1900-01-01", end="2999-12-31", grain="day")
    assert series.status_code == 200 and len(series.json["rows"]) < 800


@pytest.mark.parametrize("path", ["/kpis", "/timeseries", "/breakdown/country", "/products/top",
                                  "/customers/rfm", "/customers", "/cohorts", "/transactions"])
@pytest.mark.parametrize("start,end", [("1900-01-01", "2999-12-31"), ("2200-01-01", "2999-12-31"),
                                       ("2500-06-01", "2999-12-31"), ("1900-01-01", "1960-12-31"),
                                       ("2011-03-02", "2999-12-31")])
def test_far_periods_answer_quickly_without_server_errors(app, path, start, end):
    """Every period answers; a day series of a period centuries after the data (kept long
    so that its previous period still means what it says) is refused with its reason."""
    started = time.perf_counter()
    response = _get(app, path, start=start, end=end)
    refused = path == "/timeseries" and start > "2100"
    assert response.status_code == (400 if refused else 200), (path, start, end,
                                                                 response.text)
    assert time.perf_counter() - started < 10
