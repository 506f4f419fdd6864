"""The report-schedule API: who may do what (401 / 403 / 404), bad input refused with 400
naming it (cadence, recipient, a filter a recipient cannot see), send-now making one job per
recipient under that recipient's own scope, and the delivery ledger in the answer."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from core import db
from core.orm import Delivery, Job, ReportSchedule
from tests.webapp.conftest import bearer, make_token
from tests.workers.support import run_job_here

WEEKLY = {"name": "Monday sales", "format": "xlsx", "frequency": "weekly", "weekday": 0,
          "time_of_day": "07:30"}


@pytest.fixture(scope="module")
def api(app):
    client = app.test_client()
    tokens: dict[str, str] = {}

    def call(email: str | None, path: str, method: str = "GET", **kwargs):
        headers = dict(kwargs.pop("headers", {}))
        if email is not None:
            if email not in tokens:
                tokens[email] = make_token(app, email)
            headers.update(bearer(tokens[email]))
        return client.open(f"/api/v1{path}", method=method, headers=headers, **kwargs)
    return call


def _create(api, email, **values):
    response = api(email, "/schedules", method="POST", json={**WEEKLY, **values})
    assert response.status_code == 200, response.text
    return response.json


def _message(response) -> str:
    return response.json["error"]["message"]


def test_every_endpoint_needs_a_signed_in_analyst(api):
    made = _create(api, "analyst@example.com")
    one = f"/schedules/{made['id']}"
    calls = [("GET", "/schedules", None), ("POST", "/schedules", WEEKLY), ("GET", one, None),
             ("PATCH", one, {"name": "x"}), ("DELETE", one, None),
             ("POST", f"{one}/send-now", None)]
    for method, path, body in calls:
        assert api(None, path, method=method, json=body).status_code == 401, (method, path)
        viewer = api("viewer@example.com", path, method=method, json=body)
        assert viewer.status_code == 403, (method, path)
        assert "analyst" in _message(viewer)


def test_create_read_change_pause_and_delete(api):
    made = _create(api, "analyst@example.com", filters={"country": ["GB"]})
    assert made["owner"] == "analyst@example.com"
    assert made["recipients"] == ["analyst@example.com"]      # default: yourself
    assert made["description"] == "every Monday at 07:30 UTC"
    assert made["filters"] == "country=GB"
    assert made["next_run_at"].endswith("T07:30:00Z")
    one = f"/schedules/{made['id']}"
    assert api("analyst@example.com", one).json["name"] == "Monday sales"
    assert made["id"] in [s["id"] for s in api("analyst@example.com", "/schedules")
                          .json["schedules"]]

    monthly = api("analyst@example.com", one, method="PATCH",
                  json={"frequency": "monthly", "day_of_month": 15, "time_of_day": "06:00"})
    assert monthly.status_code == 200, monthly.text
    assert monthly.json["description"] == "on day 15 of every month at 06:00 UTC"
    assert monthly.json["weekday"] is None and monthly.json["format"] == "xlsx"

    paused = api("analyst@example.com", one, method="PATCH", json={"is_active": False})
    assert paused.json["is_active"] is False and paused.json["next_run_at"] is None
    resumed = api("analyst@example.com", one, method="PATCH", json={"is_active": True})
    assert resumed.json["next_run_at"] is not None

    assert api("analyst@example.com", one, method="DELETE").status_code == 200
    assert api("analyst@example.com", one).status_code == 404


def test_another_analysts_schedule_is_not_found_but_an_admin_manages_it(api):
    made = _create(api, "analyst@example.com")
    one = f"/schedules/{made['id']}"
    for method, body in (("GET", None), ("PATCH", {"name": "mine"}), ("DELETE", None),
                         ("POST", None)):
        path = f"{one}/send-now" if method == "POST" else one
        answer = api("gb@example.com", path, method=method, json=body)
        assert answer.status_code == 404, (method, answer.text)
    assert made["id"] not in [s["id"] for s in api("gb@example.com", "/schedules")
                              .json["schedules"]]
    assert made["id"] in [s["id"] for s in api("admin@example.com", "/schedules")
                          .json["schedules"]]
    renamed = api("admin@example.com", one, method="PATCH", json={"name": "By the admin"})
    assert renamed.status_code == 200 and renamed.json["owner"] == "analyst@example.com"


@pytest.mark.parametrize("values, named", [
    ({"frequency": "hourly"}, "frequency"),
    ({"time_of_day": "25:00"}, "time_of_day"),
    ({"frequency": "weekly", "weekday": 7}, "weekday"),
    ({"frequency": "monthly", "day_of_month": 31}, "day_of_month"),
    ({"recipients": ["nobody@example.com"]}, "nobody@example.com"),
    ({"recipients": []}, "recipients"),
    ({"format": "docx"}, "format"),
    ({"filters": {"country": ["Atlantis"]}}, "Atlantis"),
])
def test_bad_input_is_400_naming_it(api, values, named):
    answer = api("admin@example.com", "/schedules", method="POST", json={**WEEKLY, **values})
    assert answer.status_code == 400, answer.text
    assert named in _message(answer)


def test_an_analyst_schedules_for_themselves_only(api):
    answer = api("analyst@example.com", "/schedules", method="POST",
                 json={**WEEKLY, "recipients": ["viewer@example.com"]})
    assert answer.status_code == 403 and "themselves" in _message(answer)
    owner = api("analyst@example.com", "/schedules", method="POST",
                json={**WEEKLY, "owner": "gb@example.com"})
    assert owner.status_code == 403 and "admins" in _message(owner)


def test_a_filter_beyond_a_recipients_scope_is_refused(api):
    # fr@ sees France only: a schedule naming GB would tell them nothing, so it is refused
    answer = api("admin@example.com", "/schedules", method="POST",
                 json={**WEEKLY, "recipients": ["admin@example.com", "fr@example.com"],
                       "filters": {"country": ["GB"]}})
    assert answer.status_code == 400
    assert "fr@example.com" in _message(answer) and "GB" in _message(answer)
    made = _create(api, "admin@example.com", recipients=["fr@example.com"])
    widen = api("admin@example.com", f"/schedules/{made['id']}", method="PATCH",
                json={"filters": {"country": ["IE"]}})
    assert widen.status_code == 400 and "fr@example.com" in _message(widen)


def test_send_now_makes_one_job_per_recipient_under_their_own_scope(app, api):
    made = _create(api, "admin@example.com", owner="analyst@example.com",
                   recipients=["admin@example.com", "gb@example.com", "fr@example.com"])
    assert made["owner"] == "analyst@example.com"
    sent = api("admin@example.com", f"/schedules/{made['id']}/send-now", method="POST")
    assert sent.status_code == 202, sent.text
    assert len(sent.json["jobs"]) == 3
    settings = app.extensions["shoplens.settings"]
    with db.session_scope(settings.database_url) as session:
        found = session.scalars(sa.select(Job).where(Job.schedule_id == made["id"])).all()
        scopes = {job.user.email: job.scope for job in found}
        assert {job.kind for job in found} == {"scheduled_report"}
        # a delivery in the ledger, failed with its reason, shows in the answer
        job = next(job for job in found if job.user.email == "gb@example.com")
        session.add(Delivery(job_id=job.id, recipient="gb@example.com", status="failed",
                             attempts=1, last_error="SMTPServerDisconnected: gone"))
    assert scopes == {"admin@example.com": None, "gb@example.com": ["GB"],
                      "fr@example.com": ["FR"]}
    runs = api("admin@example.com", f"/schedules/{made['id']}").json["runs"]
    assert len(runs) == 3
    failed = next(run for run in runs if run["recipient"] == "gb@example.com")
    assert failed["state"] == "failed" and "SMTPServerDisconnected" in failed["reason"]


def test_deleting_keeps_past_jobs_and_the_list_says_where_mail_goes(app, api):
    made = _create(api, "analyst@example.com")
    api("analyst@example.com", f"/schedules/{made['id']}/send-now", method="POST")
    assert api("analyst@example.com", f"/schedules/{made['id']}",
               method="DELETE").status_code == 200
    settings = app.extensions["shoplens.settings"]
    with db.session_scope(settings.database_url) as session:
        assert session.get(ReportSchedule, made["id"]) is None
        assert session.scalars(sa.select(Job).where(Job.schedule_id == made["id"])).all() == []
    listing = api("analyst@example.com", "/schedules").json
    assert str(settings.outbox) in listing["mail"]


def test_the_openapi_document_has_the_schedule_endpoints(api):
    paths = api("viewer@example.com", "/openapi.json").json["paths"]
    assert {"get", "post"} <= set(paths["/schedules"])
    assert {"get", "patch", "delete"} <= set(paths["/schedules/{schedule_id}"])
    assert "post" in paths["/schedules/{schedule_id}/send-now"]


# ---------------------------------------------------------------------- issue 13, part 2
def test_a_time_zone_is_kept_and_an_unknown_one_is_400(api):
    made = _create(api, "analyst@example.com", timezone="America/New_York", format="both")
    assert made["timezone"] == "America/New_York" and made["format"] == "both"
    assert made["description"] == "every Monday at 07:30 America/New_York"
    assert made["next_run_local"].endswith(("T07:30-04:00", "T07:30-05:00"))
    bad = api("analyst@example.com", "/schedules", method="POST",
              json={**WEEKLY, "timezone": "Europe/Atlantis"})
    assert bad.status_code == 400 and "timezone" in _message(bad) \
        and "Europe/Atlantis" in _message(bad)
    patched = api("analyst@example.com", f"/schedules/{made['id']}", method="PATCH",
                  json={"timezone": "Nowhere"})
    assert patched.status_code == 400 and "timezone" in _message(patched)


def test_external_recipients_are_for_admins_with_a_scope_they_pick(api):
    external = {"recipients": [], "external_recipients": ["agency@partner.example"]}
    analyst = api("analyst@example.com", "/schedules", method="POST",
                  json={**WEEKLY, **external, "external_scope": ["FR"]})
    assert analyst.status_code == 403
    assert _message(analyst) == "only admins can send reports outside Shoplens"
    unpicked = api("admin@example.com", "/schedules", method="POST",
                   json={**WEEKLY, **external})
    assert unpicked.status_code == 400 and "external_scope" in _message(unpicked)
    wider = api("admin@example.com", "/schedules", method="POST",
                json={**WEEKLY, **external, "external_scope": ["FR"],
                      "filters": {"country": ["GB"]}})
    assert wider.status_code in (400, 403) and "GB" in _message(wider)
    made = _create(api, "admin@example.com", **external, external_scope=["France", "GB"])
    assert made["external_recipients"] == ["agency@partner.example"]
    assert made["external_scope"] == ["FR", "GB"] and made["recipients"] == []
    assert made["external_scope_label"] == "External recipients see: FR, GB"
    everything = _create(api, "admin@example.com", **external, external_scope="all")
    assert everything["external_scope"] == "all"
    # sending now: the external address's job is the owner's, under the external scope
    sent = api("admin@example.com", f"/schedules/{made['id']}/send-now", method="POST")
    assert sent.status_code == 202, sent.text
    [job] = sent.json["jobs"]
    assert job["params"]["recipient"] == "agency@partner.example"
    runs = api("admin@example.com", f"/schedules/{made['id']}").json["runs"]
    assert runs[0]["recipient"] == "agency@partner.example"
    # an analyst may not make an admin's schedule send outside either
    own = _create(api, "analyst@example.com")
    sneaky = api("analyst@example.com", f"/schedules/{own['id']}", method="PATCH",
                 json={"external_recipients": ["me@home.example"], "external_scope": "all"})
    assert sneaky.status_code == 403


def test_another_analysts_schedule_is_404_and_the_ledger_links_the_eml(app, api):
    made = _create(api, "analyst@example.com")
    for method, path in (("GET", ""), ("PATCH", ""), ("DELETE", ""), ("POST", "/send-now")):
        answer = api("gb@example.com", f"/schedules/{made['id']}{path}", method=method,
                     json={"name": "mine"} if method == "PATCH" else None)
        assert answer.status_code == 404, (method, path)
    api("analyst@example.com", f"/schedules/{made['id']}/send-now", method="POST")
    settings = app.extensions["shoplens.settings"]
    with db.session_scope(settings.database_url) as session:
        job = session.scalars(sa.select(Job).where(Job.schedule_id == made["id"])).one()
        delivery = Delivery(job_id=job.id, recipient="analyst@example.com", status="sent",
                            attempts=1, message_path=str(settings.outbox / "x.eml"))
        session.add(delivery)
        session.flush()
        delivery_id = delivery.id
    [run] = api("analyst@example.com", f"/schedules/{made['id']}").json["runs"]
    assert run["state"] == "sent" and run["delivery_id"] == delivery_id
    assert run["eml"] == f"/api/v1/deliveries/{delivery_id}/eml"


def test_any_user_switches_their_own_weekly_digest(api):
    assert api(None, "/schedules/digest", method="POST",
               json={"enabled": True}).status_code == 401
    bad = api("fr@example.com", "/schedules/digest", method="POST",
              json={"enabled": True, "timezone": "Moon/Base"})
    assert bad.status_code == 400 and "timezone" in _message(bad)
    on = api("fr@example.com", "/schedules/digest", method="POST",
             json={"enabled": True, "timezone": "Europe/Paris"})
    assert on.status_code == 200, on.text
    schedule = on.json["schedule"]
    assert on.json["enabled"] is True and schedule["format"] == "digest"
    assert schedule["recipients"] == ["fr@example.com"] and schedule["owner"] == "fr@example.com"
    assert schedule["description"] == "every Monday at 07:00 Europe/Paris"
    assert on.json["message"] == "Your weekly digest is on: every Monday at 07:00 Europe/Paris."
    off = api("fr@example.com", "/schedules/digest", method="POST", json={"enabled": False})
    assert off.json["enabled"] is False and off.json["schedule"]["id"] == schedule["id"]
    assert off.json["schedule"]["next_run_at"] is None
    # a viewer still has no other schedule endpoint
    assert api("fr@example.com", "/schedules").status_code == 403
    never = api("viewer@example.com", "/schedules/digest", method="POST",
                json={"enabled": False})
    assert never.json == {"enabled": False, "schedule": None,
                          "message": "Your weekly digest is off."}


def test_the_openapi_document_has_the_new_fields_and_the_digest(api):
    document = api("viewer@example.com", "/openapi.json").json
    assert "post" in document["paths"]["/schedules/digest"]
    fields = document["components"]["schemas"]["ScheduleRequest"]["properties"]
    assert {"timezone", "external_recipients", "external_scope"} <= set(fields)


# ---------------------------------------------------------------------- issue 15: dashboards
def _user_id(app, email: str) -> int:
    from core.orm import User
    with db.session_scope(app.extensions["shoplens.settings"].database_url) as session:
        return session.scalars(sa.select(User.id).where(User.email == email)).one()


def test_a_schedule_sends_a_dashboard_its_recipients_may_open(app, api):
    gb_id = _user_id(app, "gb@example.com")
    board = api("admin@example.com", "/dashboards", method="POST", json={
        "name": "Ops", "sharing": "users", "shared_with": [gb_id]}).json
    api("admin@example.com", f"/dashboards/{board['id']}/tiles", method="POST",
        json={"panel": "overview-kpi-revenue"})
    body = {**WEEKLY, "format": "pdf", "dashboard_id": board["id"]}
    assert api(None, "/schedules", method="POST", json=body).status_code == 401
    assert api("viewer@example.com", "/schedules", method="POST", json=body).status_code == 403
    refused = api("admin@example.com", "/schedules", method="POST",
                  json={**body, "recipients": ["gb@example.com", "fr@example.com"]})
    assert refused.status_code == 403
    assert "fr@example.com cannot open the dashboard “Ops”" in _message(refused)
    # the GB analyst cannot open it as an owner would need to … unless it is shared: it is
    made = _create(api, "gb@example.com", **{k: v for k, v in body.items() if k != "name"},
                   name="Ops weekly")
    assert (made["dashboard_id"], made["dashboard_name"], made["dashboard_problem"]) == (
        board["id"], "Ops", None)
    assert made["format"] == "pdf" and made["recipients"] == ["gb@example.com"]

    # unshared later: the schedule says so, and a run fails with the reason, in its runs
    api("admin@example.com", f"/dashboards/{board['id']}", method="PATCH",
        json={"sharing": "private"})
    shown = api("gb@example.com", f"/schedules/{made['id']}").json
    assert "no longer shared with gb@example.com" in shown["dashboard_problem"]
    [job] = api("gb@example.com", f"/schedules/{made['id']}/send-now",
                method="POST").json["jobs"]
    failed = run_job_here(app.extensions["shoplens.settings"], job["id"])
    assert (failed.kind, failed.status) == ("dashboard_report", "failed")
    [run] = api("gb@example.com", f"/schedules/{made['id']}").json["runs"]
    assert run["state"] == "failed" and "is no longer shared with gb@example.com" in \
        run["reason"]
    # back to the standard report
    back = api("gb@example.com", f"/schedules/{made['id']}", method="PATCH",
               json={"dashboard_id": None})
    assert back.status_code == 200, back.text
    assert back.json["dashboard_id"] is None and back.json["dashboard_problem"] is None


def test_a_dashboard_pdf_job_is_for_those_who_may_open_it(app, api):
    import pypdf

    private = api("admin@example.com", "/dashboards", method="POST",
                  json={"name": "Board only"}).json
    request = {"kind": "dashboard_report", "options": {"dashboard_id": private["id"]}}
    assert api(None, "/jobs", method="POST", json=request).status_code == 401
    assert api("viewer@example.com", "/jobs", method="POST", json=request).status_code == 403
    hidden = api("analyst@example.com", "/jobs", method="POST", json=request)
    assert hidden.status_code == 404, hidden.text  # as if it did not exist
    mine = api("gb@example.com", "/dashboards", method="POST", json={
        "name": "GB desk", "filters": "start=2011-03-01&end=2011-03-03"}).json
    api("gb@example.com", f"/dashboards/{mine['id']}/tiles", method="POST",
        json={"panel": "overview-kpi-revenue"})
    started = api("gb@example.com", "/jobs", method="POST", json={
        "kind": "dashboard_report", "options": {"dashboard_id": mine["id"]}})
    assert started.status_code == 202, started.text
    done = run_job_here(app.extensions["shoplens.settings"], started.json["id"])
    assert done.status == "done", done.error
    text = "\n".join(page.extract_text() for page in pypdf.PdfReader(done.result_path).pages)
    # the tiny shop's 1–3 March: net revenue 47 in all, 25 in GB (the analyst's scope)
    assert "GB desk" in text and "Revenue (net)" in text
    assert "£25.00" in text and "£47.00" not in text


def test_the_openapi_document_has_dashboard_schedules_and_jobs(api):
    document = api("viewer@example.com", "/openapi.json").json
    schemas = document["components"]["schemas"]
    assert "dashboard_id" in schemas["ScheduleRequest"]["properties"]
    assert {"dashboard_id", "dashboard_name", "dashboard_problem"} <= set(
        schemas["ScheduleResponse"]["properties"])
    assert "dashboard_report" in str(schemas)
