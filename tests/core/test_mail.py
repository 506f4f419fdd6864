"""Mail and the delivery ledger against a real SMTP server (aiosmtpd) and the outbox."""
from __future__ import annotations

import datetime as dt
import smtplib

import pytest

from core import db, jobs, mail
from core.orm import Delivery, Job, User
from tests.workers.support import (Inbox, add_user, free_port, settings_for,
                                   worker_environment)

REPORT_BYTES = b"%PDF-1.4\n" + bytes(range(256)) * 40  # 10 kB of every byte value


@pytest.fixture
def settings(tmp_path):
    return settings_for(worker_environment(tmp_path / "home"))


def _finished_report(settings, email="ann@example.com") -> str:
    """A done report job of ann's with its file, as a worker leaves it."""
    user_id = add_user(settings, email, "analyst")
    with db.session_scope(settings.database_url) as session:
        job = jobs.request_report(session, session.get(User, user_id), format="pdf",
                                  email=True, filters={"start": "2011-01-01",
                                                       "end": "2011-01-31"})
        job_id = job.id
    jobs.start_job(settings, job_id)
    path = jobs.job_folder(settings, job_id) / "shoplens-report.pdf"
    path.write_bytes(REPORT_BYTES)
    jobs.finish_job(settings, job_id, {"title": "Shoplens report", "format": "pdf",
                                       "period_label": "1 Jan 2011 – 31 Jan 2011",
                                       "headline": [{"label": "Revenue",
                                                     "value": "£1,234.50"}]}, path=path)
    return job_id


def _queue(settings, job_id, recipient="ann@example.com") -> int:
    with db.session_scope(settings.database_url) as session:
        return mail.create_delivery(session, session.get(Job, job_id), recipient).id


def _ledger(settings, delivery_id) -> Delivery:
    with db.session_scope(settings.database_url) as session:
        return session.get(Delivery, delivery_id)


def test_without_smtp_host_the_message_is_written_to_the_outbox(settings):
    delivery_id = _queue(settings, _finished_report(settings))
    assert _ledger(settings, delivery_id).status == "queued"
    mail.deliver(settings, delivery_id)
    row = _ledger(settings, delivery_id)
    assert (row.status, row.attempts, row.last_error) == ("sent", 1, None)
    [eml] = list(settings.outbox.glob("*.eml"))
    assert str(eml) == row.message_path
    message = mail.read_eml(eml)
    assert message["To"] == "ann@example.com"
    assert message["Subject"] == "Shoplens report: 1 Jan 2011 – 31 Jan 2011"
    assert "Revenue: £1,234.50" in message.get_body(("plain",)).get_content()
    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename() == "shoplens-report.pdf"
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_content() == REPORT_BYTES
    mail.deliver(settings, delivery_id)  # sent once: a repeated task sends nothing
    assert len(list(settings.outbox.glob("*.eml"))) == 1


def test_smtp_attaches_small_reports_and_links_big_ones(settings):
    inbox = Inbox().start()
    try:
        smtp = settings.with_overrides(smtp_host="127.0.0.1", smtp_port=inbox.port,
                                       smtp_tls="none", smtp_timeout=5)
        job_id = _finished_report(settings)
        mail.deliver(smtp, _queue(settings, job_id))
        tiny_limit = smtp.with_overrides(mail_attach_limit_mb=0.001,
                                         public_url="https://shop.example.com")
        mail.deliver(tiny_limit, _queue(settings, job_id, "bob@example.com"))
    finally:
        inbox.stop()
    attached, linked = inbox.messages
    assert [part.get_content() for part in attached.iter_attachments()] == [REPORT_BYTES]
    assert list(linked.iter_attachments()) == []
    body = linked.get_body(("plain",)).get_content()
    assert "larger than the attachment limit (0.001 MB)" in body
    assert f"https://shop.example.com/api/v1/jobs/{job_id}/result" in body


def test_a_down_server_fails_the_attempt_and_a_retry_sends_it_later(settings):
    port = free_port()
    smtp = settings.with_overrides(smtp_host="127.0.0.1", smtp_port=port, smtp_tls="none",
                                   smtp_timeout=2)
    delivery_id = _queue(settings, _finished_report(settings))
    with pytest.raises(ConnectionRefusedError):
        mail.deliver(smtp, delivery_id)
    row = _ledger(settings, delivery_id)
    assert (row.status, row.attempts) == ("failed", 1)
    assert row.last_error.startswith("ConnectionRefusedError")
    rendered = row.message_path

    inbox = Inbox(port).start()
    try:
        mail.deliver(smtp, delivery_id)
    finally:
        inbox.stop()
    row = _ledger(settings, delivery_id)
    assert (row.status, row.attempts, row.last_error) == ("sent", 2, None)
    assert row.message_path == rendered  # the very message rendered the first time
    [received] = inbox.messages
    assert received["To"] == "ann@example.com"


def test_starttls_is_required_when_configured(settings):
    inbox = Inbox().start()  # a server without STARTTLS
    try:
        smtp = settings.with_overrides(smtp_host="127.0.0.1", smtp_port=inbox.port,
                                       smtp_tls="starttls", smtp_timeout=5)
        delivery_id = _queue(settings, _finished_report(settings))
        with pytest.raises(smtplib.SMTPNotSupportedError):
            mail.deliver(smtp, delivery_id)
    finally:
        inbox.stop()
    assert inbox.messages == []  # nothing goes out in clear text
    assert _ledger(settings, delivery_id).status == "failed"


def test_a_report_email_is_text_and_html_with_the_kpis_and_their_change(settings):
    job_id = _finished_report(settings)
    with db.session_scope(settings.database_url) as session:
        job = session.get(Job, job_id)
        job.result = {**job.result, "filters_label": "Country: <France>",
                      "filters": {"start": "2011-03-09", "end": "2011-03-15",
                                  "country": ["FR"]},
                      "kpis": {"kpis": {"revenue": {"rel_change": -0.125}}},
                      "headline": [{"name": "revenue", "label": "Revenue",
                                    "value": "£1,234.50"}]}
    delivery_id = _queue(settings, job_id)
    mail.deliver(settings, delivery_id)
    message = mail.read_eml(list(settings.outbox.glob("*.eml"))[0])
    text = message.get_body(("plain",)).get_content()
    assert "Revenue: £1,234.50 (−12 % against the previous period)" in text
    assert "Filters: Country: <France>" in text
    assert f"{settings.public_url}/go/" in text  # the signed link to the report's view
    token = text.split(f"{settings.public_url}/go/")[1].split()[0]
    from core import links
    # it opens the report's own period and filters (a schedule's run fills in the dates)
    assert links.read_token(settings, token).query == \
        "start=2011-03-09&end=2011-03-15&country=FR"
    html = message.get_body(("html",)).get_content()
    assert "Country: &lt;France&gt;" in html and "<France>" not in html  # escaped
    assert "£1,234.50" in html and "−12 %" in html
    assert [part.get_filename() for part in message.iter_attachments()] == [
        "shoplens-report.pdf"]


def test_a_both_report_carries_two_attachments_at_a_real_smtp_server(settings):
    job_id = _finished_report(settings)
    folder = settings.results / job_id
    xlsx = folder / "shoplens-report.xlsx"
    xlsx.write_bytes(b"PK\x03\x04 a workbook")
    with db.session_scope(settings.database_url) as session:
        job = session.get(Job, job_id)
        job.result = {**job.result, "format": "both",
                      "attachments": [str(folder / "shoplens-report.pdf"), str(xlsx)]}
    inbox = Inbox().start()
    try:
        smtp = settings.with_overrides(smtp_host="127.0.0.1", smtp_port=inbox.port,
                                       smtp_tls="none", smtp_timeout=5)
        mail.deliver(smtp, _queue(settings, job_id))
    finally:
        inbox.stop()
    [message] = inbox.messages
    parts = {part.get_filename(): part for part in message.iter_attachments()}
    assert list(parts) == ["shoplens-report.pdf", "shoplens-report.xlsx"]
    assert parts["shoplens-report.pdf"].get_content() == REPORT_BYTES
    assert parts["shoplens-report.xlsx"].get_content_type() == MIME_TYPES_XLSX
    assert "Here is your Shoplens report (PDF+XLSX)." in \
        message.get_body(("plain",)).get_content()


MIME_TYPES_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def test_a_job_with_its_own_email_is_sent_as_it_is(settings, tmp_path):
    job_id = _finished_report(settings)
    chart = tmp_path / "week.png"
    chart.write_bytes(b"\x89PNG\r\n\x1a\n tiny")
    with db.session_scope(settings.database_url) as session:
        job = session.get(Job, job_id)
        job.result = {**job.result, "email": {
            "subject": "Your week", "text": "Revenue rose.",
            "html": '<p>Revenue rose.</p><img src="cid:week">', "images": {"week": str(chart)}}}
    mail.deliver(settings, _queue(settings, job_id))
    message = mail.read_eml(list(settings.outbox.glob("*.eml"))[0])
    assert message["Subject"] == "Your week"
    assert message.get_body(("plain",)).get_content().strip() == "Revenue rose."
    assert '<img src="cid:week">' in message.get_body(("html",)).get_content()
    [image] = [part for part in message.walk() if part.get_content_type() == "image/png"]
    assert image["Content-ID"] == "<week>" and image.get_content() == chart.read_bytes()
    assert list(message.iter_attachments()) == []
    assert message.get_body(("html",)).get_content().count("<html") == 1


def test_a_whole_html_document_is_sent_as_it_is(settings):
    page = "<!DOCTYPE html><html><body><p>Week 12</p></body></html>"
    message = mail.build_html_message(settings, recipient="a@example.com", subject="s",
                                      text="Week 12", html=page)
    assert message.get_body(("html",)).get_content().strip() == page


def test_making_a_delivery_twice_gives_one_row(settings):
    """A worker killed after making the delivery runs the job again: same key, one row."""
    job_id = _finished_report(settings)
    first = _queue(settings, job_id)
    again = _queue(settings, job_id)
    assert first == again
    with db.session_scope(settings.database_url) as session:
        [row] = session.query(Delivery).all()
        assert row.idempotency_key == f"job:{job_id}:email:ann@example.com"
        # a racing writer that inserted between the look-up and the insert: caught
        duplicate = Delivery(job_id=job_id, recipient="x", idempotency_key=row.idempotency_key)
        original = mail._by_key
        calls = []

        def miss_once(session, key):
            calls.append(key)
            return None if len(calls) == 1 else original(session, key)
        mail._by_key = miss_once
        try:
            found = mail.create_delivery(session, session.get(Job, job_id), "ann@example.com")
        finally:
            mail._by_key = original
        assert found.id == row.id and duplicate.id is None
        assert session.query(Delivery).count() == 1
    mail.deliver(settings, first)
    mail.deliver(settings, again)
    assert len(list(settings.outbox.glob("*.eml"))) == 1


def test_failures_back_off_and_the_last_one_tells_the_owner(settings):
    from core import notifications
    job_id = _finished_report(settings)
    delivery_id = _queue(settings, job_id)
    smtp = settings.with_overrides(smtp_host="127.0.0.1", smtp_port=free_port(),
                                   smtp_tls="none", smtp_timeout=2)
    now = dt.datetime(2026, 1, 1, 8)
    waits = []
    for _attempt in range(mail.MAX_ATTEMPTS):
        with pytest.raises(ConnectionRefusedError):
            mail.deliver(smtp, delivery_id, now=now)
        row = _ledger(settings, delivery_id)
        if row.next_attempt_at is None:
            break
        waits.append(int((row.next_attempt_at - now).total_seconds() // 60))
        assert mail.deliveries_to_retry(smtp, row.next_attempt_at) == [delivery_id]
        now = row.next_attempt_at
    assert waits == [1, 2, 4, 8, 16, 32, 60, 60, 60, 60, 60]
    assert (row.status, row.attempts, row.next_attempt_at) == ("failed", 12, None)
    assert mail.deliveries_to_retry(smtp, now + dt.timedelta(days=1)) == []
    assert mail.deliver(smtp, delivery_id, now=now).attempts == 12  # given up: not tried
    with db.session_scope(settings.database_url) as session:
        [note] = [note for note in notifications.recent(session, session.get(Job, job_id).user)
                  if note.kind == "delivery"]
        assert note.ref == f"delivery:{delivery_id}"
        assert "ConnectionRefusedError" in note.body


def test_a_delivery_held_by_a_dead_worker_is_taken_up_after_the_lease(settings):
    delivery_id = _queue(settings, _finished_report(settings))
    now = dt.datetime(2026, 1, 1, 8)
    assert mail._claim(settings, delivery_id, now)          # a worker took it, then died
    assert not mail._claim(settings, delivery_id, now)      # nobody else sends it meanwhile
    assert mail.deliver(settings, delivery_id, now=now).status == "rendered"
    assert list(settings.outbox.glob("*.eml")) == []
    assert mail.deliveries_to_retry(settings, now + mail.LEASE / 2) == []
    later = now + mail.LEASE + dt.timedelta(seconds=1)
    assert mail.deliveries_to_retry(settings, later) == [delivery_id]
    assert mail.deliver(settings, delivery_id, now=later).status == "sent"


def test_the_ledger_on_postgresql(tmp_path, postgres_database):
    """The unique key caught in a savepoint, and the claim, on PostgreSQL too."""
    import threading

    url = postgres_database.replace("postgresql://", "postgresql+psycopg://")
    settings = settings_for(worker_environment(tmp_path / "home", DATABASE_URL=url))
    job_id = _finished_report(settings)
    with db.session_scope(settings.database_url) as session:
        first = mail.create_delivery(session, session.get(Job, job_id), "ann@example.com").id
    original, calls = mail._by_key, []

    def miss_once(session, key):  # as if a racing writer inserted it unseen
        calls.append(key)
        return None if len(calls) == 1 else original(session, key)
    mail._by_key = miss_once
    try:
        with db.session_scope(settings.database_url) as session:
            again = mail.create_delivery(session, session.get(Job, job_id), "ann@example.com")
            other = mail.create_delivery(session, session.get(Job, job_id), "bob@example.com")
            assert again.id == first and other.id != first  # the session goes on after it
    finally:
        mail._by_key = original
    with db.session_scope(settings.database_url) as session:
        assert session.query(Delivery).count() == 2
    now = dt.datetime(2026, 1, 1, 8)
    wins = []
    threads = [threading.Thread(target=lambda: wins.append(mail._claim(settings, first, now)))
               for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(wins) == [False, False, False, True]


def test_the_sweep_sends_a_waiting_delivery_once_per_sweep_window(settings):
    """Found by the sweep, a delivery whose task waits in a busy queue is not sent again at
    the next tick; if that task is lost, a later sweep finds it again."""
    delivery_id = _queue(settings, _finished_report(settings))
    smtp = settings.with_overrides(smtp_host="127.0.0.1", smtp_port=free_port(),
                                   smtp_tls="none", smtp_timeout=2)
    now = dt.datetime(2026, 1, 1, 8)
    with pytest.raises(ConnectionRefusedError):
        mail.deliver(smtp, delivery_id, now=now)
    due = now + dt.timedelta(minutes=1)
    assert mail.deliveries_to_retry(settings, due) == [delivery_id]
    assert mail.deliveries_to_retry(settings, due + dt.timedelta(minutes=1)) == []
    assert mail.deliveries_to_retry(settings, due + mail.SWEEP_AFTER) == [delivery_id]
    assert mail.deliver(settings, delivery_id, now=due).status == "sent"  # the task runs
    assert mail.deliveries_to_retry(settings, due + 3 * mail.SWEEP_AFTER) == []
