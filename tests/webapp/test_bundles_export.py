"""The Products page's "Download bundles (CSV)" is an export like the others (hardening
issue, finding 6's rule): the role that may run the basket job, one audit event, formula
cells neutralised, fullwidth look-alikes included; only the user's own job."""
from __future__ import annotations

import base64

import sqlalchemy as sa

from core import db, users
from core.orm import AuditEvent, Job
from tests.webapp.test_dashboard_units import _prop

BUNDLES = [{"items": "=HYPERLINK(\"http://evil.example\")", "support": 0.5},
           {"items": "\uff0bcmd", "support": 0.25},       # fullwidth ＋
           {"items": "Mug + Lamp", "support": 0.1}]


def _basket_job(app, email: str) -> str:
    settings = app.extensions["shoplens.settings"]
    with db.session_scope(settings.database_url) as session:
        owner = users.get_user(session, email)
        job = Job(kind="basket", user_id=owner.id, status="done", params={}, scope=None,
                  result={"bundles": BUNDLES})
        session.add(job)
        session.flush()
        return job.id


def _download(client, job_id: str):
    payload = {"output": "products-bundles-download.data",
               "outputs": _prop("products-bundles-download", "data"),
               "inputs": [_prop("products-bundles-button", "n_clicks", 1)],
               "state": [_prop("products-basket-job", "data",
                               {"id": job_id, "status": "done"})],
               "changedPropIds": ["products-bundles-button.n_clicks"]}
    return client.post("/_dash-update-component", json=payload)


def _exports(app) -> int:
    settings = app.extensions["shoplens.settings"]
    with db.session_scope(settings.database_url) as session:
        return len(session.scalars(sa.select(AuditEvent).where(
            AuditEvent.action == "export", AuditEvent.target == "bundles.csv")).all())


def test_an_analyst_downloads_neutralised_bundles_and_it_is_audited(app, signed_in):
    job_id = _basket_job(app, "analyst@example.com")
    before = _exports(app)
    response = _download(signed_in("analyst@example.com"), job_id)
    assert response.status_code == 200, response.text
    sent = response.json["response"]["products-bundles-download"]["data"]
    text = (base64.b64decode(sent["content"]).decode() if sent.get("base64")
            else sent["content"])
    rows = text.splitlines()
    assert rows[0] == "items,support"
    assert rows[1].startswith("\"'=HYPERLINK(")          # a spreadsheet shows it as text
    assert rows[2] == "'\uff0bcmd,0.25"
    assert rows[3] == "Mug + Lamp,0.1"
    assert _exports(app) == before + 1


def test_a_viewer_or_another_user_gets_nothing(app, signed_in):
    job_id = _basket_job(app, "analyst@example.com")
    before = _exports(app)
    for email in ("viewer@example.com", "gb@example.com"):
        response = _download(signed_in(email), job_id)
        assert response.status_code in (200, 204), (email, response.text)
        assert response.status_code == 204 or not response.json["response"], email
    assert _exports(app) == before
