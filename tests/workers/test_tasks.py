"""Jobs on a REAL Celery worker process (embedded SQLite broker), one worker for the
module: progress to done, e-mailed reports whose numbers are the KPI summary's, a failing
job, cancellation, SMTP outage and retry, and scheduled reports under each recipient's
scope."""
from __future__ import annotations

import io
from types import SimpleNamespace

import openpyxl
import pypdf
import pytest

from analytics.filters import Filters, Scope
from analytics.kpis import kpi_summary
from analytics.warehouse import Warehouse
from core import db, jobs, queue, schedules
from core.orm import DataLoad, Delivery, Job, User
from core.reports.content import format_value
from tests.workers.support import (TINY_PERIOD, Inbox, WorkerProcess, add_user, publish_tiny_shop,
                                   settings_for, slice_of_online_retail, wait_for,
                                   worker_environment)

MARCH = Filters.from_query(TINY_PERIOD)


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    home = tmp_path_factory.mktemp("worker-home")
    inbox = Inbox().start()
    env = worker_environment(home, SMTP_HOST="127.0.0.1", SMTP_PORT=inbox.port,
                             SMTP_TLS="none", SMTP_TIMEOUT="3",
                             MAIL_FROM="reports@shop.example.com")
    settings = settings_for(env)
    warehouse = Warehouse(settings.warehouse_url)
    publish_tiny_shop(warehouse)
    people = {
        "analyst": add_user(settings, "analyst@example.com", "analyst"),
        "french": add_user(settings, "french@example.com", "analyst", ["FR"]),
        "german": add_user(settings, "german@example.com", "viewer", ["DE"]),
        "admin": add_user(settings, "admin@example.com", "admin"),
    }
    worker = WorkerProcess(env, home / "worker.log").start()
    try:
        yield SimpleNamespace(settings=settings, warehouse=warehouse, inbox=inbox,
                              worker=worker, people=people)
    finally:
        worker.stop()
        inbox.stop()
        warehouse.dispose()


def _user(session, shop, name) -> User:
    return session.get(User, shop.people[name])


def _job(shop, job_id) -> Job:
    with db.session_scope(shop.settings.database_url) as session:
        return session.get(Job, job_id)


def _wait_finished(shop, job_id, timeout=90) -> Job:
    def finished():
        job = _job(shop, job_id)
        return job if job.status in jobs.FINISHED else None
    try:
        return wait_for(finished, timeout=timeout, what=f"job {job_id} to finish")
    except AssertionError:
        raise AssertionError(shop.worker.log()) from None


def _submit_report(shop, user_name, report_format, email=False, filters=MARCH) -> str:
    with db.session_scope(shop.settings.database_url) as session:
        job = jobs.request_report(session, _user(session, shop, user_name),
                                  format=report_format, email=email, filters=filters)
        job_id = job.id
    return job_id


def _sent_delivery(shop, job_id) -> Delivery | None:
    with db.session_scope(shop.settings.database_url) as session:
        row = session.query(Delivery).filter_by(job_id=job_id).one_or_none()
        return row if row is not None and row.status == "sent" else None


def _messages_to(shop, recipient):
    return [m for m in shop.inbox.messages if m["To"] == recipient]


def test_a_report_job_goes_queued_running_done_and_is_emailed(shop):
    job_id = _submit_report(shop, "analyst", "pdf", email=True)
    seen = [(_job(shop, job_id).status, _job(shop, job_id).progress)]
    jobs.enqueue(shop.settings, job_id)

    def observe():
        job = _job(shop, job_id)
        if (job.status, job.progress) != seen[-1]:
            seen.append((job.status, job.progress))
        return job.status in jobs.FINISHED
    wait_for(observe, timeout=90, every=0.02, what="the report job")

    job = _job(shop, job_id)
    assert job.status == "done", (job.error, shop.worker.log())
    assert seen[0] == ("queued", 0) and seen[-1] == ("done", 100)
    progress = [value for _status, value in seen]
    assert progress == sorted(progress)  # progress only moves forward
    assert job.started_at and job.finished_at and job.worker.startswith("test-")
    assert job.attempts == 1 and job.message == "PDF report ready"

    path = jobs.result_path(job, shop.settings)
    assert path is not None and path.parent == shop.settings.results / job_id
    text = "\n".join(page.extract_text() for page in pypdf.PdfReader(path).pages)
    kpis = kpi_summary(shop.warehouse, MARCH, Scope())
    assert kpis["revenue"].current == pytest.approx(28.0)
    for name, kind in (("revenue", "money"), ("orders", "count"), ("aov", "money"),
                       ("customers", "count")):
        assert format_value(kpis[name].current, kind, "£") in text
    assert jobs.job_to_dict(job)["result"]["kpis"] == kpis.to_dict()

    [message] = wait_for(lambda: _messages_to(shop, "analyst@example.com"), timeout=30,
                         what="the report e-mail")
    assert message["From"] == "reports@shop.example.com"
    assert "Revenue (net): £28.00" in message.get_body(("plain",)).get_content()
    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename() == path.name
    assert attachment.get_content() == path.read_bytes()
    delivery = wait_for(lambda: _sent_delivery(shop, job_id), timeout=10,
                        what="the ledger to say sent")
    assert delivery.attempts == 1 and delivery.sent_at is not None


def test_a_failing_job_ends_failed_with_its_error(shop):
    with db.session_scope(shop.settings.database_url) as session:
        job = jobs.submit_job(session, _user(session, shop, "analyst"), "forecast",
                              {**MARCH.to_dict(), "horizon": 14})
        job_id = job.id
    jobs.enqueue(shop.settings, job_id)
    job = _wait_finished(shop, job_id)
    assert job.status == "failed"
    assert "day" in job.error  # the model's own message: four days of sales are too few
    assert job.message == job.error.splitlines()[0][:500]
    assert jobs.job_to_dict(job)["download"] is None


def test_cancelling_a_running_job_stops_it_at_a_progress_point(shop, online_retail_path):
    settings = shop.settings
    settings.uploads.mkdir(parents=True, exist_ok=True)
    slice_of_online_retail(online_retail_path, settings.uploads / "slice.csv", 150_000)
    version_before = shop.warehouse.current_version()
    with db.session_scope(settings.database_url) as session:
        job = jobs.submit_job(session, _user(session, shop, "admin"), "data_load",
                              {"path": "slice.csv", "format": "online-retail"},
                              settings=settings)
        job_id = job.id
    jobs.enqueue(settings, job_id)
    wait_for(lambda: _job(shop, job_id).status == "running" and _job(shop, job_id).progress > 0,
             timeout=60, every=0.02, what="the load to report progress")
    with db.session_scope(settings.database_url) as session:
        jobs.cancel_job(session, _user(session, shop, "admin"), job_id)

    job = _wait_finished(shop, job_id)
    assert job.status == "cancelled", (job.status, job.error)
    assert job.progress < 100
    assert shop.warehouse.current_version() == version_before  # nothing was published
    with db.session_scope(settings.database_url) as session:
        load = session.query(DataLoad).order_by(DataLoad.id.desc()).first()
        assert load.status == "failed" and load.version is None


def test_mail_server_down_the_delivery_is_retried_and_sent_when_it_returns(shop):
    shop.inbox.stop()
    try:
        job_id = _submit_report(shop, "analyst", "xlsx", email=True)
        jobs.enqueue(shop.settings, job_id)
        assert _wait_finished(shop, job_id).status == "done"

        def failed_twice():
            with db.session_scope(shop.settings.database_url) as session:
                row = session.query(Delivery).filter_by(job_id=job_id).one_or_none()
                return row if row is not None and row.attempts >= 2 else None
        row = wait_for(failed_twice, timeout=30, what="two failed delivery attempts")
        assert row.status == "failed"
        assert "Connection refused" in row.last_error or "ConnectionRefused" in row.last_error
    finally:
        shop.inbox.start()

    row = wait_for(lambda: _sent_delivery(shop, job_id), timeout=60,
                   what="the delivery to be sent after the outage")
    assert row.attempts >= 3 and row.last_error is None
    path = jobs.result_path(_job(shop, job_id), shop.settings)
    [message] = [m for m in shop.inbox.messages
                 if any(a.get_filename() == path.name for a in m.iter_attachments())]
    assert message["To"] == "analyst@example.com"


def _revenue_in(attachment_bytes: bytes) -> float:
    book = openpyxl.load_workbook(io.BytesIO(attachment_bytes))
    for row in book["Summary KPIs"].iter_rows(values_only=True):
        if row[1] == "revenue":
            return row[2]
    raise AssertionError("no revenue row in the Summary sheet")


def test_a_scheduled_report_fires_under_each_recipients_own_scope(shop):
    settings = shop.settings
    with db.session_scope(settings.database_url) as session:
        schedule = schedules.create_schedule(session, _user(session, shop, "admin"), {
            "name": "Monthly sales", "format": "xlsx", "frequency": "daily",
            "time_of_day": "00:00", "filters": TINY_PERIOD,
            "recipients": ["french@example.com", "german@example.com"]})
        schedule.next_run_at = schedule.next_run_at.replace(year=2000)  # overdue
        schedule_id = schedule.id

    # the beat's tick, sent by name as beat sends it
    queue.for_settings(settings).send_task(queue.RUN_DUE_SCHEDULES)

    def both_sent():
        found = {}
        for recipient in ("french@example.com", "german@example.com"):
            for message in _messages_to(shop, recipient):
                for attachment in message.iter_attachments():
                    if attachment.get_filename().endswith(".xlsx"):
                        found[recipient] = attachment.get_content()
        return found if len(found) == 2 else None
    reports = wait_for(both_sent, timeout=120, what="both scheduled e-mails")
    assert all(message["Subject"].startswith("Monthly sales: 1 Mar 2011")
               for recipient in ("french@example.com", "german@example.com")
               for message in _messages_to(shop, recipient))

    french = kpi_summary(shop.warehouse, MARCH, Scope.of(["FR"]))["revenue"].current
    german = kpi_summary(shop.warehouse, MARCH, Scope.of(["DE"]))["revenue"].current
    assert (french, german) == (pytest.approx(13.0), pytest.approx(15.0))  # by hand
    assert _revenue_in(reports["french@example.com"]) == pytest.approx(french)
    assert _revenue_in(reports["german@example.com"]) == pytest.approx(german)
    with db.session_scope(settings.database_url) as session:
        made = session.query(Job).filter_by(schedule_id=schedule_id).all()
        assert sorted(job.scope for job in made) == [["DE"], ["FR"]]
        assert all(job.status == "done" for job in made)
        assert session.get(type(schedule), schedule_id).next_run_at.year > 2000
