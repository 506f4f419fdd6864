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
