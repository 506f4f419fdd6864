"""The REST API: numbers checked by hand on the tiny warehouse of conftest, scopes, errors,
exports, jobs and reports."""
from __future__ import annotations

import csv
import io

import pytest
import sqlalchemy as sa

from core import db
from core.orm import AuditEvent, Job
from tests.webapp.conftest import FORMULA, PERIOD, bearer, make_token, new_user


@pytest.fixture(scope="module")
def api(app):
    """A function (email, path, **kwargs) → response, authenticated by a Bearer token."""
    client = app.test_client()
    tokens: dict[str, str] = {}

    def call(email: str, path: str, method: str = "GET", **kwargs):
        if email not in tokens:
            tokens[email] = make_token(app, email)
        headers = {**kwargs.pop("headers", {}), **bearer(tokens[email])}
        return client.open(f"/api/v1{path}", method=method, headers=headers, **kwargs)
    return call


def _kpis(api, email, **params):
    response = api(email, "/kpis", query_string={**PERIOD, **params})
    assert response.status_code == 200, response.text
    return {name: value["current"] for name, value in response.json["kpis"].items()}


def test_kpis_by_hand(api):
    everything = _kpis(api, "analyst@example.com")
    # gross 10 + 20 + 15 + 7 = 52; returns 5; orders I1, I2, I3, I4; units 2+1+3+1
    assert everything["gross_revenue"] == pytest.approx(52)
    assert everything["returns"] == pytest.approx(5)
    assert everything["revenue"] == pytest.approx(47)
    assert everything["orders"] == 4
    assert everything["units"] == pytest.approx(7)
    assert everything["aov"] == pytest.approx(13)
    assert everything["customers"] == 4


def test_kpi_names_are_those_of_metrics_md(api):
    response = api("viewer@example.com", "/kpis", query_string=PERIOD)
    assert set(response.json["kpis"]) == {
        "gross_revenue", "returns", "revenue", "orders", "aov", "units", "customers",
        "profit", "margin", "conversion_rate", "churn_rate", "ltv", "repeat_rate"}
    assert response.json["period"] == {"start": "2011-03-01", "end": "2011-03-03"}
    assert response.json["previous_period"] == {"start": "2011-02-26", "end": "2011-02-28"}
    assert response.json["kpis"]["profit"]["current"] is None
    assert response.json["kpis"]["profit"]["reason"]


def test_scopes_give_different_answers_for_the_same_filters(api):
    gb = _kpis(api, "gb@example.com")           # GB only: 10 + 20, return 5
    fr = _kpis(api, "fr@example.com")           # France only: 15
    everything = _kpis(api, "analyst@example.com")
    assert gb["gross_revenue"] == pytest.approx(30) and gb["revenue"] == pytest.approx(25)
    assert fr["gross_revenue"] == pytest.approx(15) and fr["orders"] == 1
    assert everything["revenue"] == pytest.approx(47)
    # asked in the other order, the cache must still not hand one scope's answer to another
    assert _kpis(api, "fr@example.com")["revenue"] == pytest.approx(15)
    assert _kpis(api, "gb@example.com")["revenue"] == pytest.approx(25)
    assert api("fr@example.com", "/me").json["scope"] == "FR"


def test_a_filter_cannot_widen_the_scope(api):
    # a country outside the scope is refused as one no line has (tests/webapp/
    # test_filter_values.py): the answer does not tell that it exists elsewhere
    widened = api("fr@example.com", "/kpis", query_string={**PERIOD, "country": "GB"})
    assert widened.status_code == 400
    assert widened.json["error"]["message"] == (
        'Unknown country "GB": no line in your data scope has it; the only country is '
        "France.")
    rows = api("fr@example.com", "/transactions",
               query_string={**PERIOD, "country": ["GB", "IE"]})
    assert rows.status_code == 400 and "United Kingdom" not in rows.text
    countries = api("fr@example.com", "/breakdown/country", query_string=PERIOD).json
    assert [row["key"] for row in countries["rows"]] == ["France"]


def test_country_by_code_or_by_name_as_in_the_data(api):
    by_code = _kpis(api, "analyst@example.com", country="IE")
    by_name = _kpis(api, "analyst@example.com", country="EIRE")
    assert by_code["gross_revenue"] == by_name["gross_revenue"] == pytest.approx(7)
    assert _kpis(api, "analyst@example.com", country=["FR", "United Kingdom"]
                 )["gross_revenue"] == pytest.approx(45)


def test_tables(api):
    breakdown = api("analyst@example.com", "/breakdown/country", query_string=PERIOD).json
    revenue = {row["key"]: row["revenue"] for row in breakdown["rows"]}
    assert revenue == pytest.approx({"United Kingdom": 25, "France": 15, "EIRE": 7})
    top = api("analyst@example.com", "/products/top", query_string={**PERIOD, "n": 2}).json
    # P1: 10 - 5 + 15 = 20, P2: 20, P3: 7 → ties by product id
    assert [(row["product_id"], row["revenue"]) for row in top["rows"]] == [
        ("P1", 20), ("P2", 20)]
    days = api("analyst@example.com", "/timeseries", query_string=PERIOD).json
    assert [(row["period_start"], row["revenue"]) for row in days["rows"]] == [
        ("2011-03-01", 10), ("2011-03-02", 30), ("2011-03-03", 7)]
    rfm = api("analyst@example.com", "/customers/rfm", query_string=PERIOD).json
    assert sum(row["customers"] for row in rfm["rows"]) == 4
    page = api("analyst@example.com", "/customers",
               query_string={**PERIOD, "sort": "customer_id", "descending": "false",
                             "page_size": 3}).json
    assert page["total"] == 4 and [r["customer_id"] for r in page["rows"]] == ["C1", "C2", "C3"]
    cohorts = api("analyst@example.com", "/cohorts", query_string=PERIOD).json
    assert {(row["cohort"], row["cohort_size"]) for row in cohorts["rows"]} == {
        ("2011-03-01", 4)}
    lines = api("analyst@example.com", "/transactions",
                query_string={**PERIOD, "sort": "-line_value", "page_size": 2}).json
    assert lines["total"] == 5 and [r["invoice_id"] for r in lines["rows"]] == ["I2", "I3"]


def test_quality_is_for_unscoped_accounts(api):
    assert api("analyst@example.com", "/quality").json["lines"] == 5
    response = api("gb@example.com", "/quality")
    assert response.status_code == 403


@pytest.mark.parametrize("path, params", [
    ("/kpis", {"start": "2011-13-01"}),
    ("/kpis", {"start": "2011-03-05", "end": "2011-03-01"}),
    ("/kpis", {"min_price": "abc"}),
    ("/kpis", {"min_price": "nan"}),
    ("/kpis", {"start": "0001-01-01"}),
    ("/kpis", {"bogus": "1"}),
    ("/timeseries", {"grain": "hour"}),
    ("/breakdown/planet", {}),
    ("/breakdown/country", {"top": "0"}),
    ("/products/top", {"n": "-1"}),
    ("/customers", {"sort": "password"}),
    ("/customers", {"page": "0"}),
    ("/transactions", {"sort": "secret_column"}),
    ("/transactions", {"page_size": "100000"}),
    ("/cohorts", {"measure": "weather"}),
    ("/me", {"x": "1"}),
])
def test_bad_parameters_are_400_json(api, path, params):
    response = api("analyst@example.com", path, query_string=params)
    assert response.status_code == 400, (path, params, response.text)
    assert response.json["error"]["status"] == 400
    assert response.json["error"]["message"]


def test_unknown_endpoint_is_404_json(api):
    response = api("analyst@example.com", "/nothing/here")
    assert response.status_code == 404 and response.json["error"]["status"] == 404


def test_csv_export_is_inert_scoped_and_audited(app, api):
    response = api("analyst@example.com", "/transactions.csv", query_string=PERIOD)
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert len(rows) == 5
    formula_row = next(row for row in rows if row["invoice_id"] == "I4")
    assert formula_row["description"] != FORMULA
    assert formula_row["description"].endswith(FORMULA)
    assert not formula_row["description"].startswith(("=", "+", "-", "@"))

    scoped = api("gb@example.com", "/transactions.csv", query_string=PERIOD)
    scoped_rows = list(csv.DictReader(io.StringIO(scoped.get_data(as_text=True))))
    assert {row["country_code"] for row in scoped_rows} == {"GB"} and len(scoped_rows) == 3

    settings = app.extensions["shoplens.settings"]
    with db.session_scope(settings.database_url) as session:
        exports = session.scalars(sa.select(AuditEvent).where(
            AuditEvent.action == "export")).all()
        assert {event.actor for event in exports} >= {"analyst@example.com", "gb@example.com"}
        assert any(event.detail["scope"] == "GB" for event in exports)


def test_session_api_post_needs_csrf_token_but_bearer_does_not(app, signed_in, api):
    browser = signed_in("analyst@example.com")
    body = {"format": "pdf"}
    assert browser.post("/api/v1/reports", json=body).status_code == 400
    response = api("analyst@example.com", "/reports", method="POST", json=body)
    assert response.status_code in (202, 503), response.text


def test_jobs_and_reports(app, api):
    response = api("gb@example.com", "/reports", method="POST",
                   json={"format": "xlsx", "filters": {**PERIOD, "country": ["GB"]}})
    assert response.status_code in (202, 503), response.text
    job_id = response.json["id"] if response.status_code == 202 else None
    settings = app.extensions["shoplens.settings"]
    with db.session_scope(settings.database_url) as session:
        job = session.scalars(sa.select(Job).order_by(Job.created_at.desc())).first()
        assert job.kind == "report_xlsx" and job.scope == ["GB"]
        job_id = job_id or job.id
    assert api("gb@example.com", f"/jobs/{job_id}").json["id"] == job_id
    assert api("admin@example.com", f"/jobs/{job_id}").status_code == 200
    assert api("analyst@example.com", f"/jobs/{job_id}").status_code == 404
    assert api("gb@example.com", f"/jobs/{job_id}/result").status_code == 404
    assert api("gb@example.com", "/jobs").json["jobs"][0]["id"] == job_id

    bad = api("analyst@example.com", "/jobs", method="POST", json={"kind": "weather"})
    assert bad.status_code == 400
    bad = api("analyst@example.com", "/jobs", method="POST",
              json={"kind": "forecast", "options": {"horizon": 0}})
    assert bad.status_code == 400, bad.text
    not_admin = api("analyst@example.com", "/jobs", method="POST",
                    json={"kind": "data_load", "options": {"path": "x.csv"}})
    assert not_admin.status_code == 403
    assert api("analyst@example.com", "/jobs", method="POST", data="not json",
               content_type="application/json").status_code == 400


def test_job_result_download_for_owner_or_admin(app, api):
    settings = app.extensions["shoplens.settings"]
    settings.results.mkdir(parents=True, exist_ok=True)
    file = settings.results / "report.pdf"
    file.write_bytes(b"%PDF-1.4 test")
    with db.session_scope(settings.database_url) as session:
        from core import users
        owner = users.get_user(session, "gb@example.com")
        job = Job(kind="report_pdf", user_id=owner.id, status="done", result_path=str(file),
                  params={}, scope=["GB"])
        session.add(job)
        session.flush()
        job_id = job.id
    assert api("gb@example.com", f"/jobs/{job_id}/result").data == b"%PDF-1.4 test"
    assert api("admin@example.com", f"/jobs/{job_id}/result").status_code == 200
    assert api("fr@example.com", f"/jobs/{job_id}/result").status_code == 404


def test_openapi_document_lists_every_endpoint(api):
    document = api("viewer@example.com", "/openapi.json").json
    assert document["openapi"].startswith("3.")
    assert {"/kpis", "/timeseries", "/breakdown/{dimension}", "/products/top",
            "/customers/rfm", "/customers", "/cohorts", "/transactions",
            "/transactions.csv", "/quality", "/jobs", "/jobs/{job_id}",
            "/jobs/{job_id}/result", "/reports"} <= set(document["paths"])
    kpi_schema = document["components"]["schemas"]["KpiValues"]
    assert "gross_revenue" in kpi_schema["properties"]


def _done_job(app, email: str, scope: list[str] | None) -> str:
    """A finished forecast job of ``email`` computed under ``scope`` (as submitted)."""
    from core import users
    settings = app.extensions["shoplens.settings"]
    with db.session_scope(settings.database_url) as session:
        owner = users.get_user(session, email)
        job = Job(kind="forecast", user_id=owner.id, status="done", params={}, scope=scope,
                  result={"revenue": [1.0, 2.0]})
        session.add(job)
        session.flush()
        return job.id


def _listed(api, email: str) -> set[str]:
    return {job["id"] for job in api(email, "/jobs").json["jobs"]}


def test_jobs_of_other_users_are_neither_listed_nor_readable(app, api):
    analysts = _done_job(app, "analyst@example.com", None)
    gb = _done_job(app, "gb@example.com", ["GB"])
    assert analysts not in _listed(api, "gb@example.com")
    assert gb not in _listed(api, "analyst@example.com")
    assert {analysts, gb} <= _listed(api, "admin@example.com")
    for email, job_id in (("gb@example.com", analysts), ("analyst@example.com", gb),
                          ("viewer@example.com", gb)):
        for path in (f"/jobs/{job_id}", f"/jobs/{job_id}/result"):
            response = api(email, path)
            assert response.status_code == 404, (email, path)
            assert "revenue" not in response.text
        cancel = api(email, f"/jobs/{job_id}/cancel", method="POST")
        assert cancel.status_code == 404, email


def test_cancelling_a_finished_job_is_a_conflict(app, api):
    finished = _done_job(app, "analyst@example.com", None)
    response = api("analyst@example.com", f"/jobs/{finished}/cancel", method="POST")
    assert response.status_code == 409
    assert response.json["error"]["message"] == "the job has already finished (done)"
    assert api("analyst@example.com", f"/jobs/{finished}").json["status"] == "done"


def test_a_narrowed_scope_hides_older_wider_job_results(app, api):
    from core import users
    new_user(app, "narrowed@example.com", "analyst", None)
    wide = _done_job(app, "narrowed@example.com", None)
    assert api("narrowed@example.com", f"/jobs/{wide}").status_code == 200
    settings = app.extensions["shoplens.settings"]
    with db.session_scope(settings.database_url) as session:
        users.update_user(session, "cli", users.get_user(session, "narrowed@example.com"),
                          countries="FR")
    narrow = _done_job(app, "narrowed@example.com", ["FR"])
    # the same token still works after the scope change: only the answers narrow
    assert api("narrowed@example.com", f"/jobs/{wide}").status_code == 404
    assert api("narrowed@example.com", f"/jobs/{narrow}").json["result"] == {
        "revenue": [1.0, 2.0]}
    assert _listed(api, "narrowed@example.com") == {narrow}


def test_customer_and_cohort_lists_stay_inside_the_scope(api):
    """GB holds C1 (I1, return C9) and C2 (I2); France holds C3 (I3) only."""
    for email, customers in (("gb@example.com", ["C1", "C2"]), ("fr@example.com", ["C3"])):
        page = api(email, "/customers", query_string={**PERIOD, "sort": "customer_id",
                                                     "descending": "false"}).json
        assert page["total"] == len(customers)
        assert [row["customer_id"] for row in page["rows"]] == customers
        rfm = api(email, "/customers/rfm", query_string=PERIOD).json
        assert sum(row["customers"] for row in rfm["rows"]) == len(customers)
        cohorts = api(email, "/cohorts", query_string=PERIOD).json
        assert {(row["cohort"], row["cohort_size"]) for row in cohorts["rows"]} == {
            ("2011-03-01", len(customers))}
        lines = api(email, "/transactions", query_string=PERIOD).json
        assert {row["customer_id"] for row in lines["rows"]} == set(customers)
    top = api("fr@example.com", "/products/top", query_string=PERIOD).json
    assert [(row["product_id"], row["revenue"]) for row in top["rows"]] == [("P1", 15)]
    days = api("gb@example.com", "/timeseries", query_string=PERIOD).json  # I4 is Irish
    assert [(row["period_start"], row["revenue"]) for row in days["rows"]] == [
        ("2011-03-01", 10), ("2011-03-02", 15), ("2011-03-03", 0)]


def test_quality_summary_is_refused_for_every_scoped_account(app, api):
    """The data-quality summary counts all data: scoped accounts get 403 whatever their
    role, also an admin with a scope."""
    new_user(app, "scoped-admin@example.com", "admin", "GB")
    for email in ("gb@example.com", "fr@example.com", "scoped-admin@example.com"):
        response = api(email, "/quality")
        assert response.status_code == 403, email
        assert "lines" not in response.json
    assert api("viewer@example.com", "/quality").json["lines"] == 5


def test_a_day_is_written_yyyy_mm_dd_never_a_unix_time(api):
    for value in ("0", "1700000000", "2011-3-1", "01/03/2011"):
        response = api("analyst@example.com", "/kpis", query_string={"start": value,
                                                                     "end": "2011-03-31"})
        assert response.status_code == 400, value
        assert "YYYY-MM-DD" in response.json["error"]["message"], value
    assert api("analyst@example.com", "/kpis", query_string=PERIOD).status_code == 200


def test_a_wrong_method_on_an_endpoint_is_405_and_an_unknown_path_404(api):
    wrong = api("analyst@example.com", "/kpis", method="DELETE")
    assert wrong.status_code == 405
    assert wrong.headers["Allow"] == "GET"
    assert wrong.json["error"]["status"] == 405
    jobs = api("analyst@example.com", "/jobs", method="PUT")
    assert jobs.status_code == 405 and set(jobs.headers["Allow"].split(", ")) == {"GET", "POST"}
    missing = api("analyst@example.com", "/no-such-thing", method="DELETE")
    assert missing.status_code == 404
