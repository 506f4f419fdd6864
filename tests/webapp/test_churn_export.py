"""The churn job's scored-customer export (CSV / XLSX): analyst role, the owner's job (or an
admin's look), within the caller's current scope, audited, formula cells neutralised, and
filtered to "at risk, high value" when asked."""
from __future__ import annotations

import csv
import io

import openpyxl
import sqlalchemy as sa

from core import db, users
from core.orm import AuditEvent, Job
from tests.webapp.conftest import bearer, make_token

SCORED = {"customer_id": ["=1+1", "\uff0bSUM(A1)", "C3", "C4"],
          "probability": [0.9, 0.8, 0.7, 0.1], "risk": ["high", "high", "high", "low"],
          "predicted_value": [500.0, 20.0, 900.0, 50.0], "p_alive": [0.2, 0.3, 0.4, 0.95],
          "value_tier": ["high", "low", "high", "medium"], "recency": [200.0, 150, 120, 3],
          "frequency": [5.0, 2, 9, 4], "monetary": [1000.0, 40, 2000, 300],
          "ltv": [1000.0, 40, 2000, 300]}


def _churn_job(app, email: str, scope, kind: str = "churn") -> str:
    settings = app.extensions["shoplens.settings"]
    with db.session_scope(settings.database_url) as session:
        owner = users.get_user(session, email)
        job = Job(kind=kind, user_id=owner.id, status="done", params={}, scope=scope,
                  result={"scored": SCORED})
        session.add(job)
        session.flush()
        return job.id


def _get(app, email: str | None, path: str, **params):
    headers = bearer(make_token(app, email)) if email else {}
    return app.test_client().get(path, query_string=params, headers=headers)


def _exports(app) -> int:
    settings = app.extensions["shoplens.settings"]
    with db.session_scope(settings.database_url) as session:
        return len(session.scalars(sa.select(AuditEvent).where(
            AuditEvent.action == "export",
            AuditEvent.target.like("churn_customers.%"))).all())


def test_the_owner_downloads_the_whole_list_neutralised_and_it_is_audited(app):
    job_id = _churn_job(app, "analyst@example.com", None)
    before = _exports(app)
    response = _get(app, "analyst@example.com", f"/api/v1/jobs/{job_id}/customers.csv")
    assert response.status_code == 200, response.text
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [row["customer_id"] for row in rows] == ["'=1+1", "'\uff0bSUM(A1)", "C3", "C4"]
    assert rows[0]["churn_probability"] == "0.9" and rows[0]["predicted_value_12m"] == "500.0"
    assert list(rows[0])[:6] == ["customer_id", "churn_probability", "churn_risk",
                                 "predicted_value_12m", "p_alive", "value_tier"]
    assert _exports(app) == before + 1


def test_at_risk_high_value_filters_the_list_in_csv_and_xlsx(app):
    job_id = _churn_job(app, "analyst@example.com", None)
    response = _get(app, "analyst@example.com", f"/api/v1/jobs/{job_id}/customers.csv",
                    risk="high", value="high")
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [row["customer_id"] for row in rows] == ["'=1+1", "C3"]
    response = _get(app, "analyst@example.com", f"/api/v1/jobs/{job_id}/customers.xlsx",
                    risk="high", value="high")
    assert response.status_code == 200, response.text
    sheet = openpyxl.load_workbook(io.BytesIO(response.data)).active
    values = list(sheet.values)
    assert values[0][0] == "customer_id"
    assert [row[0] for row in values[1:]] == ["'=1+1", "C3"]
    assert values[1][3] == 500.0                      # numbers stay numbers
    assert _get(app, "analyst@example.com", f"/api/v1/jobs/{job_id}/customers.csv",
                risk="extreme").status_code == 400


def test_no_user_a_viewer_another_user_or_a_wider_scope_gets_nothing(app):
    job_id = _churn_job(app, "analyst@example.com", None)
    before = _exports(app)
    path = f"/api/v1/jobs/{job_id}/customers.csv"
    assert _get(app, None, path).status_code == 401
    assert _get(app, "viewer@example.com", path).status_code == 403
    assert _get(app, "gb@example.com", path).status_code == 404        # not their job
    # gb's own job computed when their scope was wider (GB and FR): outside GB now
    wider = _churn_job(app, "gb@example.com", ["GB", "FR"])
    assert _get(app, "gb@example.com", f"/api/v1/jobs/{wider}/customers.csv"
                ).status_code == 404
    assert _exports(app) == before
    # within the scope: their own GB job; an admin may look at the analyst's
    own = _churn_job(app, "gb@example.com", ["GB"])
    assert _get(app, "gb@example.com", f"/api/v1/jobs/{own}/customers.csv").status_code == 200
    assert _get(app, "admin@example.com", path).status_code == 200
    # a job of another kind has no scored customers
    forecast = _churn_job(app, "analyst@example.com", None, kind="forecast")
    assert _get(app, "analyst@example.com", f"/api/v1/jobs/{forecast}/customers.csv"
                ).status_code == 404


RESULT = {"scored": SCORED, "cutoff": "2011-09-10",
          "sentence": "Of the 4 customers who bought in the 365 days up to 2011-12-09, 3 are "
                      "at high risk of placing no order in the next 91 days; their predicted "
                      "12-month value is £1,420.",
          "catch_sentence": "Flagging the 2 customers most at risk catches 71 % of the "
                            "customers who leave (no order in 91 days), against 62 % for "
                            "'longest since last order'.",
          "horizon_sentence": "Churn = no order in 91 days: 9 in 10 repeat purchases came "
                              "within 91 days of the previous one (median 22 days).",
          "catch": {"model": 0.71, "baseline": 0.62, "flagged": 2, "churned": 3},
          "accuracy": {"roc_auc": 0.8}, "baseline": {"accuracy": {"roc_auc": 0.75}},
          "risk_counts": {"high": 3, "low": 1},
          "importance": [{"feature": "recency", "importance": 0.6,
                          "label": "days since last order"}],
          "clv": {"sentence": "£1,470 expected from the 4 customers over the next 365 days; "
                              "1 of them are probably still buying (P(alive) ≥ 50 %).",
                  "fallback": None,
                  "backtest": {"sentence": "Predicted from the data before 2010-12-09 …",
                               "repeat_purchases": [
                                   {"bucket": "0", "customers": 3, "predicted": 0.4,
                                    "actual": 0.5}]}}}


def test_the_customers_page_filters_at_risk_high_value_and_links_the_exports(app, signed_in):
    from tests.webapp.test_dashboard_units import _callback, _prop

    settings = app.extensions["shoplens.settings"]
    with db.session_scope(settings.database_url) as session:
        owner = users.get_user(session, "analyst@example.com")
        job = Job(kind="churn", user_id=owner.id, status="done", params={}, scope=None,
                  result=RESULT)
        session.add(job)
        session.flush()
        job_id = job.id
    names = ["customers-churn-buckets.figure", "customers-churn-importance.figure",
             "customers-clv-calibration.figure", "customers-churn-summary.children",
             "customers-churn-list.children", "customers-churn-count.children",
             "customers-churn-csv.href", "customers-churn-xlsx.href",
             "customers-churn-csv.hidden", "customers-churn-xlsx.hidden"]
    response = _callback(
        signed_in("analyst@example.com"), ".." + "...".join(names) + "..",
        [_prop(*name.split(".")) for name in names],
        [_prop("customers-churn-job", "data", {"id": job_id, "status": "done"}),
         _prop("customers-churn-risk", "value", "high"),
         _prop("customers-churn-value", "value", "high")])
    assert response["customers-churn-count"]["children"] == \
        "2 customers: high churn risk, high value"
    assert response["customers-churn-csv"]["href"] == \
        f"/api/v1/jobs/{job_id}/customers.csv?risk=high&value=high"
    assert response["customers-churn-xlsx"]["hidden"] is False
    table = str(response["customers-churn-list"]["children"])
    assert "=1+1" in table and "C3" in table and "C4" not in table
    summary = str(response["customers-churn-summary"]["children"])
    assert "catches 71 % of the customers who leave" in summary
    assert "against 62 % for 'longest since last order'" in summary
    assert "Churn = no order in 91 days" in summary
