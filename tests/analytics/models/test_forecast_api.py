"""The forecast job through the REST API: the options are validated (horizon 7–180, an item
needs a level), and the job's result carries the leaderboard and the leading sentence."""
from __future__ import annotations

import pytest

from analytics.warehouse import Warehouse
from core import db, jobs, passwords, users
from core.orm import Job
from core.settings import load_settings
from tests.analytics.models.synthetic import shop_lines
from tests.conftest import cheap_password_hasher
from tests.webapp.conftest import bearer, make_token


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    from webapp import create_app
    settings = load_settings({"SHOPLENS_HOME": str(tmp_path_factory.mktemp("forecast_api"))})
    warehouse = Warehouse(settings.warehouse_url)
    warehouse.publish(shop_lines(days=200), source="synthetic")
    warehouse.dispose()
    app = create_app({"TESTING": True}, settings=settings)
    hasher, passwords._hasher = passwords._hasher, cheap_password_hasher()
    try:
        with db.session_scope(settings.database_url) as session:
            users.create_user(session, "cli", "analyst@example.com", role="analyst",
                              password="a long enough passphrase")
    finally:
        passwords._hasher = hasher
    client = app.test_client()
    headers = bearer(make_token(app, "analyst@example.com"))

    def call(path, method="GET", **kwargs):
        return client.open(f"/api/v1{path}", method=method, headers=headers, **kwargs)
    call.app = app
    yield call
    app.extensions["shoplens.warehouse"].dispose()


@pytest.mark.parametrize("options, message", [
    ({"horizon": 6}, "horizon"), ({"horizon": 181}, "horizon"),
    ({"item": "P00"}, "item needs level product or category")])
def test_bad_forecast_options_are_refused(api, options, message):
    response = api("/jobs", "POST", json={"kind": "forecast", "options": options})
    assert response.status_code == 400
    assert message in response.json["error"]["message"]


def _run_here(api, job_id: str) -> None:
    """What the worker does with the job (workers.handlers.run_model_job), in this process:
    the job's stored filters and the owner's scope."""
    from analytics.filters import Scope
    from analytics.models import run_model
    settings = api.app.extensions["shoplens.settings"]
    with db.session_scope(settings.database_url) as session:
        job = session.get(Job, job_id)
        filters, scope = jobs.load_filters(job.params), Scope.of(job.scope)
        params = dict(job.params.get("options") or {})
    result = run_model("forecast", api.app.extensions["shoplens.warehouse"], filters, scope,
                       params, lambda pct, msg: None)
    with db.session_scope(settings.database_url) as session:
        job = session.get(Job, job_id)
        job.status, job.progress, job.result = "done", 100, result


def test_the_job_result_has_the_leaderboard_and_the_sentence(api):
    response = api("/jobs", "POST", json={
        "kind": "forecast", "filters": {"end": "2022-06-30"},
        "options": {"horizon": 14, "level": "product", "item": "P00"}})
    assert response.status_code == 202, response.json
    _run_here(api, response.json["id"])
    job = api(f"/jobs/{response.json['id']}").json
    assert job["status"] == "done"
    result = job["result"]
    assert result["item"] == "P00" and result["period_end"] == "2022-06-30"
    assert result["units"]["history_end"] == "2022-06-30"  # the history stops at the end
    for metric in ("units", "revenue"):
        forecast = result[metric]
        board = forecast["leaderboard"]
        assert {row["model"] for row in board} >= {"seasonal naive", "ETS", "Theta",
                                                   "Prophet", "XGBoost"}
        [chosen] = [row for row in board if row["chosen"]]
        assert chosen["model"] == forecast["chosen"]
        assert len(chosen["folds"]) == 4
        assert {"start", "end", "wape", "mape"} <= set(chosen["folds"][0])
        naive = next(row for row in board if row["model"] == "seasonal naive")
        assert chosen["wape"] <= naive["wape"]
        assert 0 <= forecast["interval_coverage"] <= 1
        assert len(forecast["forecast"]["date"]) == 14
        assert forecast["forecast"]["date"][0] == "2022-07-01"
        assert "expected over the next 14 days, between" in forecast["sentence"]
    assert result["revenue"]["sentence"].startswith("£")


def _texts(component) -> list[str]:
    """Every string in a Dash component tree, in order."""
    if isinstance(component, str):
        return [component]
    children = getattr(component, "children", None)
    if children is None:
        return []
    if not isinstance(children, (list, tuple)):
        children = [children]
    return [text for child in children for text in _texts(child)]


def test_the_sales_page_leads_with_the_sentence_and_shows_the_leaderboard(api):
    from analytics.filters import ALL_DATA, Filters
    from analytics.models import run_model
    from webapp.dashboard.pages import sales
    result = run_model("forecast", api.app.extensions["shoplens.warehouse"], Filters(),
                       ALL_DATA, {"horizon": 14, "metric": "orders"}, lambda pct, msg: None)
    with api.app.app_context():
        summary = _texts(sales.forecast_summary_view(result, "orders"))
        table = _texts(sales.leaderboard_table(result, "t"))
    assert summary[0].endswith(".") and " orders expected over the next 14 days, between " \
        in summary[0]
    assert any("interval (from" in text and "of the backtest days" in text for text in summary)
    assert table[:3] == ["model", "WAPE", "MAPE"] and "fold 4" in table
    assert table.count("chosen") == 1
    for row in result["leaderboard"]:
        assert row["model"] in table

    naive = {**result, "chosen": "seasonal naive"}
    with api.app.app_context():
        texts = _texts(sales.forecast_summary_view(naive, "orders"))
    assert any(text.startswith("No model beat seasonal naive") for text in texts)


def test_the_products_page_shows_an_items_units_and_revenue_forecasts(api):
    from analytics.filters import ALL_DATA, Filters
    from analytics.models import run_model
    from webapp.dashboard import jobs_ui
    from webapp.dashboard.pages import products
    result = run_model("forecast", api.app.extensions["shoplens.warehouse"], Filters(),
                       ALL_DATA, {"horizon": 14, "level": "category", "item": "Toys"},
                       lambda pct, msg: None)
    original = jobs_ui.result
    jobs_ui.result = lambda stored: result
    try:
        with api.app.app_context():
            summary, units, revenue, boards = products.show_demand_forecast({"id": "x"})
    finally:
        jobs_ui.result = original
    texts = _texts(summary)
    assert texts[0] == "Toys"
    assert " units expected over the next 14 days" in texts[1]
    assert any(text.startswith("£") and "expected over the next 14 days" in text
               for text in texts)
    assert len(units.data) >= 2 and len(revenue.data) >= 2
    assert _texts(boards).count("chosen") == 2
