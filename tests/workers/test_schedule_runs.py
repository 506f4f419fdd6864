"""Scheduled runs on REAL Celery worker processes (embedded SQLite broker, e-mails written
to the outbox): a worker killed while it renders a schedule's reports (the reaper queues
the jobs again, a new worker finishes them: one job and one e-mail per recipient, even when
the run is started a second time), and one run's "both" e-mail with two attachments beside
a weekly digest e-mail, delivered by the ledger."""
from __future__ import annotations

import datetime as dt
import time

import pytest
import sqlalchemy as sa

from analytics.warehouse import Warehouse
from core import db, jobs, mail, schedules
from core.orm import Delivery, Job, ReportSchedule, User
from tests.workers.support import (
    WorkerProcess,
    add_user,
    publish_tiny_shop,
    settings_for,
    wait_for,
    worker_environment,
)

RUN_AT = dt.datetime(2024, 5, 16, 5, 0)


def _jobs_of(settings, schedule_id: int) -> list[Job]:
    with db.session_scope(settings.database_url) as session:
        found = session.scalars(sa.select(Job).where(Job.schedule_id == schedule_id)
                                .order_by(Job.id)).all()
        for job in found:
            session.expunge(job)
        return list(found)


def _deliveries(settings, job_ids) -> list[Delivery]:
    with db.session_scope(settings.database_url) as session:
        found = session.scalars(sa.select(Delivery).where(Delivery.job_id.in_(job_ids))).all()
        for row in found:
            session.expunge(row)
        return list(found)


def _schedule(settings, owner_id: int, data: dict) -> int:
    with db.session_scope(settings.database_url) as session:
        schedule = schedules.create_schedule(session, session.get(User, owner_id), {
            "frequency": "daily", "time_of_day": "06:00", "timezone": "Europe/London",
            **data}, now=RUN_AT - dt.timedelta(hours=1))
        assert schedule.next_run_at == RUN_AT  # 06:00 BST
        return schedule.id


@pytest.fixture
def home(tmp_path):
    env = worker_environment(tmp_path / "home")
    settings = settings_for(env)
    return env, settings


def test_a_worker_killed_while_rendering_a_run_finishes_it_once(home, tmp_path):
    from data.demo import generate_demo

    env, settings = home
    warehouse = Warehouse(settings.warehouse_url)
    demo = generate_demo(20_000)  # enough to take a while: the kill lands mid-render
    warehouse.publish(demo.lines, demo.sessions, source="demo")
    warehouse.dispose()
    admin = add_user(settings, "admin@example.com", "admin")
    add_user(settings, "french@example.com", "viewer", ["FR"])
    schedule_id = _schedule(settings, admin, {
        "name": "Daily", "format": "pdf",
        "recipients": ["admin@example.com", "french@example.com"]})

    doomed = WorkerProcess(env, tmp_path / "doomed.log").start()
    try:
        started = schedules.run_due_schedules(settings, now=RUN_AT)
        assert len(started) == 2
        wait_for(lambda: all(job.status == "running" and job.progress > 0
                             for job in _jobs_of(settings, schedule_id)),
                 timeout=90, every=0.02, what="both reports to be rendering")
    finally:
        doomed.kill()
    assert {job.status for job in _jobs_of(settings, schedule_id)} == {"running"}

    # the run is started again (a second beat tick that claims it once more): the
    # idempotency keys make no new job
    with db.session_scope(settings.database_url) as session:
        session.get(ReportSchedule, schedule_id).next_run_at = RUN_AT
    assert schedules.run_due_schedules(settings, now=RUN_AT + dt.timedelta(minutes=1)) == []

    time.sleep(0.5)
    outcome = jobs.reap_stale_jobs(settings, max_silence=0.3)
    assert sorted(outcome["requeued"]) == sorted(started)
    rescuer = WorkerProcess(env, tmp_path / "rescuer.log").start()
    try:
        done = wait_for(lambda: (found := _jobs_of(settings, schedule_id)) and all(
            job.status in jobs.FINISHED for job in found) and found, timeout=300,
            what="the re-queued reports")
        assert [job.status for job in done] == ["done", "done"], rescuer.log()
        assert [job.attempts for job in done] == [2, 2]
        sent = wait_for(lambda: (rows := _deliveries(settings, started)) and all(
            row.status == "sent" for row in rows) and len(rows) == 2 and rows,
            timeout=60, what="one sent e-mail per recipient")
    finally:
        rescuer.stop()
    assert sorted(row.recipient for row in sent) == ["admin@example.com",
                                                      "french@example.com"]
    outbox = sorted(settings.outbox.glob("*.eml"))
    assert sorted(mail.read_eml(path)["To"] for path in outbox) == [
        "admin@example.com", "french@example.com"]
    assert len(_jobs_of(settings, schedule_id)) == 2


def test_both_files_in_one_email_and_the_digest_email(home, tmp_path):
    env, settings = home
    warehouse = Warehouse(settings.warehouse_url)
    publish_tiny_shop(warehouse)  # revenue in March 2011: FR £13.00 (by hand)
    warehouse.dispose()
    admin = add_user(settings, "admin@example.com", "admin")
    add_user(settings, "french@example.com", "viewer", ["FR"])
    both = _schedule(settings, admin, {
        "name": "March", "format": "both", "filters": "start=2011-03-01&end=2011-03-31",
        "recipients": ["french@example.com"],
        "external_recipients": ["agency@partner.example"], "external_scope": ["DE"]})
    digest = _schedule(settings, admin, {"name": "Digest", "format": "digest",
                                         "recipients": ["french@example.com"]})

    worker = WorkerProcess(env, tmp_path / "worker.log").start()
    try:
        started = schedules.run_due_schedules(settings, now=RUN_AT)
        assert len(started) == 3
        wait_for(lambda: len(list(settings.outbox.glob("*.eml"))) >= 3, timeout=180,
                 what="three e-mails in the outbox")
    finally:
        worker.stop()
    messages = {}
    for path in settings.outbox.glob("*.eml"):
        message = mail.read_eml(path)
        messages[(message["To"], message["Subject"].split(":")[0])] = message
    assert set(messages) == {("french@example.com", "March"),
                             ("agency@partner.example", "March"),
                             ("french@example.com", "Digest")}
    french = messages[("french@example.com", "March")]
    names = sorted(part.get_filename() for part in french.iter_attachments())
    assert names == ["shoplens-report-20110301-20110331.pdf",
                     "shoplens-report-20110301-20110331.xlsx"]
    agency = messages[("agency@partner.example", "March")]
    assert len(list(agency.iter_attachments())) == 2
    # the external address's job is the admin's, under the DE scope the admin picked
    [external] = [job for job in _jobs_of(settings, both)
                  if job.params.get("recipient") == "agency@partner.example"]
    assert (external.user_id, external.scope) == (admin, ["DE"])
    weekly = messages[("french@example.com", "Digest")]
    html = weekly.get_body(("html",)).get_content()
    assert "Key figures" in weekly.get_body(("plain",)).get_content()
    assert "cid:" in html and "Germany" not in html
    [digest_job] = _jobs_of(settings, digest)
    assert digest_job.kind == "digest" and digest_job.scope == ["FR"]


def test_a_dashboard_schedule_mails_each_recipient_their_own_numbers(home, tmp_path):
    """A real worker process (which may not import webapp) prints a dashboard for each
    recipient under their scope and the ledger sends it: the French viewer's PDF holds
    France's March revenue, £13.00, and not the £28.00 of all the data (by hand, see
    ``TINY_SHOP``)."""
    import io

    import pypdf

    from core import dashboards

    env, settings = home
    warehouse = Warehouse(settings.warehouse_url)
    publish_tiny_shop(warehouse)
    warehouse.dispose()
    admin = add_user(settings, "admin@example.com", "admin")
    add_user(settings, "french@example.com", "viewer", ["FR"])
    with db.session_scope(settings.database_url) as session:
        owner = session.get(User, admin)
        board = dashboards.create_dashboard(session, owner, {
            "name": "March board", "filters": "start=2011-03-01&end=2011-03-31",
            "sharing": "everyone"})
        for panel in ("overview-kpi-revenue", "overview-trend", "geography-map"):
            dashboards.add_tile(session, owner, board.id, panel)
        board_id = board.id
    schedule_id = _schedule(settings, admin, {
        "name": "March board", "dashboard_id": board_id,
        "recipients": ["admin@example.com", "french@example.com"]})

    worker = WorkerProcess(env, tmp_path / "worker.log").start()
    try:
        started = schedules.run_due_schedules(settings, now=RUN_AT)
        assert len(started) == 2
        wait_for(lambda: len(list(settings.outbox.glob("*.eml"))) >= 2, timeout=180,
                 what="two e-mails in the outbox")
    finally:
        worker.stop()
    texts = {}
    for path in settings.outbox.glob("*.eml"):
        message = mail.read_eml(path)
        assert message["Subject"].startswith("Dashboard “March board”")
        [pdf] = list(message.iter_attachments())
        reader = pypdf.PdfReader(io.BytesIO(pdf.get_payload(decode=True)))
        texts[message["To"]] = "\n".join(page.extract_text() for page in reader.pages)
    for text in texts.values():
        for title in ("March board", "Revenue (net)", "Revenue over time",
                      "Revenue by country"):
            assert title in text
    assert "£28.00" in texts["admin@example.com"]
    assert "£13.00" in texts["french@example.com"]
    assert "£28.00" not in texts["french@example.com"]
    ran = _jobs_of(settings, schedule_id)
    assert {job.kind for job in ran} == {"dashboard_report"}
    assert sorted(row.status for row in _deliveries(settings, started)) == ["sent", "sent"]
