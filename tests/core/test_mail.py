"""Mail and the delivery ledger against a real SMTP server (aiosmtpd) and the outbox."""
from __future__ import annotations

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
