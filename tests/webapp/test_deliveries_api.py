"""The delivery ledger's API: signed out 401, a viewer 403, another analyst's delivery 404,
the owner (of the job, of the schedule, of the alert rule) and admins 200; the .eml
download; a retry of a failed delivery sends it (to the outbox here) and a sent one cannot
be retried."""
from __future__ import annotations

import pytest

from core import db, mail, users
from core.orm import AlertFiring, AlertRule, Delivery, Job, ReportSchedule, new_id
from tests.webapp.conftest import bearer, make_token


@pytest.fixture(scope="module")
def api(app):
    client = app.test_client()
    tokens: dict[str, str] = {}

    def call(email: str | None, path: str, method: str = "GET", **kwargs):
        headers = {}
        if email is not None:
            if email not in tokens:
                tokens[email] = make_token(app, email)
            headers.update(bearer(tokens[email]))
        return client.open(f"/api/v1{path}", method=method, headers=headers, **kwargs)
    return call


@pytest.fixture(scope="module")
def ledger(app):
    """analyst's report delivery (failed, rendered), gb's (sent), a delivery of a job of
    gb's made by analyst's schedule, and a firing delivery of analyst's alert rule."""
    settings = app.extensions["shoplens.settings"]
    with db.session_scope(settings.database_url) as session:
        analyst = users.get_user(session, "analyst@example.com")
        gb = users.get_user(session, "gb@example.com")

        def job(user, schedule_id=None) -> Job:
            row = Job(id=new_id(), user_id=user.id, kind="report_pdf", status="done",
                      params={"filters": {}}, result={"title": "Shoplens report"},
                      schedule_id=schedule_id)
            session.add(row)
            session.flush()
            return row

        def delivery(source, recipient, status, channel="email") -> Delivery:
            row = mail.create_delivery(session, source, recipient, channel=channel)
            row.status = status
            row.attempts = 1
            session.flush()
            return row
        mine = delivery(job(analyst), "analyst@example.com", "failed")
        mine.last_error = "ConnectionRefusedError: [Errno 111] Connection refused"
        message = mail.build_text_message(settings, recipient="analyst@example.com",
                                          subject="Your report", body="Here it is.")
        mine.message_path = str(mail.write_eml(settings.home / "deliveries", message,
                                               name=f"delivery-{mine.id}.eml"))
        others = delivery(job(gb), "gb@example.com", "sent")
        schedule = ReportSchedule(owner_id=analyst.id, name="Monday", format="pdf",
                                  frequency="daily", recipients=["gb@example.com"])
        session.add(schedule)
        session.flush()
        scheduled = delivery(job(gb, schedule.id), "gb@example.com", "sent")
        rule = AlertRule(owner_id=analyst.id, name="Revenue", kind="change", kpi="revenue",
                         direction="down", value=20)
        session.add(rule)
        session.flush()
        firing = AlertFiring(rule_id=rule.id, sentence="Revenue fell.")
        session.add(firing)
        session.flush()
        hook = delivery(firing, "https://hooks.example.com/x", "sent", channel="webhook")
        return {"mine": mine.id, "others": others.id, "scheduled": scheduled.id,
                "hook": hook.id, "job": mine.job_id, "firing": firing.id}


def test_signed_out_401_and_viewers_403(api, ledger):
    for method, path in (("GET", "/deliveries"), ("GET", f"/deliveries/{ledger['mine']}/eml"),
                         ("POST", f"/deliveries/{ledger['mine']}/retry")):
        assert api(None, path, method=method).status_code == 401, path
        denied = api("viewer@example.com", path, method=method)
        assert denied.status_code == 403, path
        assert "analyst" in denied.json["error"]["message"]


def test_an_analyst_lists_their_own_deliveries(api, ledger):
    answer = api("analyst@example.com", "/deliveries")
    assert answer.status_code == 200
    ids = [row["id"] for row in answer.json["deliveries"]]
    assert ids == sorted([ledger["mine"], ledger["scheduled"], ledger["hook"]], reverse=True)
    hook = next(row for row in answer.json["deliveries"] if row["id"] == ledger["hook"])
    assert (hook["channel"], hook["firing_id"], hook["job_id"]) == \
        ("webhook", ledger["firing"], None)
    assert set(hook) >= {"next_attempt_at", "attempts", "last_error", "status", "recipient"}
    by_job = api("analyst@example.com", f"/deliveries?job_id={ledger['job']}")
    assert [row["id"] for row in by_job.json["deliveries"]] == [ledger["mine"]]
    by_firing = api("analyst@example.com", f"/deliveries?firing_id={ledger['firing']}")
    assert [row["id"] for row in by_firing.json["deliveries"]] == [ledger["hook"]]
    gb = api("gb@example.com", "/deliveries")  # their own job, and the one made for them
    assert [row["id"] for row in gb.json["deliveries"]] == [ledger["scheduled"],
                                                            ledger["others"]]
    admin = api("admin@example.com", "/deliveries")
    assert {ledger["mine"], ledger["others"], ledger["scheduled"], ledger["hook"]} <= {
        row["id"] for row in admin.json["deliveries"]}


def test_bad_parameters_are_400_naming_them(api, ledger):
    answer = api("analyst@example.com", "/deliveries?firing_id=abc")
    assert answer.status_code == 400 and "firing_id" in answer.json["error"]["message"]
    answer = api("analyst@example.com", "/deliveries?colour=red")
    assert answer.status_code == 400 and "colour" in answer.json["error"]["message"]


def test_another_analysts_delivery_is_404(api, ledger):
    for method, path in (("GET", f"/deliveries/{ledger['mine']}/eml"),
                         ("POST", f"/deliveries/{ledger['mine']}/retry")):
        answer = api("gb@example.com", path, method=method)
        assert answer.status_code == 404, path
        assert answer.json["error"]["message"] == f"There is no delivery {ledger['mine']}."
    assert api("gb@example.com", "/deliveries/999999/eml").status_code == 404


def test_the_owner_downloads_the_eml(api, ledger):
    answer = api("analyst@example.com", f"/deliveries/{ledger['mine']}/eml")
    assert answer.status_code == 200
    assert answer.mimetype == "message/rfc822"
    assert b"Subject: Your report" in answer.data and b"Here it is." in answer.data
    assert "attachment" in answer.headers["Content-Disposition"]
    hook = api("analyst@example.com", f"/deliveries/{ledger['hook']}/eml")
    assert hook.status_code == 404 and "no e-mail file" in hook.json["error"]["message"]


def test_the_owner_retries_a_failed_delivery(app, api, ledger):
    sent = api("analyst@example.com", f"/deliveries/{ledger['scheduled']}/retry",
               method="POST")
    assert sent.status_code == 409 and "only a failed delivery" in sent.json["error"]["message"]
    answer = api("analyst@example.com", f"/deliveries/{ledger['mine']}/retry", method="POST")
    assert answer.status_code == 200, answer.text
    assert (answer.json["status"], answer.json["attempts"], answer.json["last_error"]) == \
        ("sent", 1, None)
    outbox = app.extensions["shoplens.settings"].outbox
    assert [mail.read_eml(path)["Subject"] for path in outbox.glob("*.eml")] == ["Your report"]
    again = api("analyst@example.com", f"/deliveries/{ledger['mine']}/retry", method="POST")
    assert again.status_code == 409
    assert len(list(outbox.glob("*.eml"))) == 1


def test_the_endpoints_are_in_the_openapi_document(api):
    paths = api("analyst@example.com", "/openapi.json").json["paths"]
    assert set(paths["/deliveries"]) == {"get"}
    assert "/deliveries/{delivery_id}/eml" in paths
    assert "post" in paths["/deliveries/{delivery_id}/retry"]
