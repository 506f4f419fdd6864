"""Outgoing mail and the delivery ledger.

Every report e-mail to one recipient is a ``Delivery`` row that moves
``queued → rendered → sent``; a failed attempt records ``failed`` with the reason and the
number of attempts, and stays visible until a retry sends it. Nothing is lost while the
mail server is down: the rendered message is kept on disk (``message_path``) and a later
retry (the deliver task's backoff, then the minute tick's sweep) sends it.

Transport: SMTP (``SMTP_HOST``; STARTTLS, SSL or plain; optional login; timeouts), or, when
``SMTP_HOST`` is unset (embedded setup), ``.eml`` files written to ``settings.outbox``.
Reports are attached, or linked (``PUBLIC_URL`` + the download route) when bigger than
``MAIL_ATTACH_LIMIT_MB``.
"""
from __future__ import annotations

import datetime as dt
import email.policy
import email.utils
import logging
import os
import smtplib
import socket
import ssl
from email.message import EmailMessage
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

from analytics.errors import Unavailable
from core import db
from core.orm import Delivery, Job, utcnow
from core.settings import Settings

log = logging.getLogger(__name__)

#: Errors worth retrying: the server is down, slow, or refused us for now.
TRANSIENT_ERRORS = (smtplib.SMTPException, ConnectionError, socket.timeout, TimeoutError,
                    ssl.SSLError, OSError)
#: After this many failed attempts a delivery stays failed until someone resends it.
MAX_ATTEMPTS = 12
#: The sweep resends unsent deliveries untouched for this long (longer than the deliver
#: task's own retry backoff, so a pending retry and the sweep do not both send).
SWEEP_AFTER = dt.timedelta(minutes=35)

MIME_TYPES = {
    ".pdf": ("application", "pdf"),
    ".xlsx": ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
}


class MailError(Unavailable):
    """The message could not be sent; the message says why (kept in the ledger)."""


# ----------------------------------------------------------------- transport
def send_message(settings: Settings, message: EmailMessage) -> str:
    """Send ``message`` by SMTP, or write it to the outbox when no SMTP host is set.
    Returns where it went ("smtp:host:port" or the .eml path). Raises the transport's
    error (see TRANSIENT_ERRORS) on failure."""
    if not settings.smtp_host:
        return str(write_eml(settings.outbox, message))
    context = ssl.create_default_context()
    timeout = settings.smtp_timeout
    if settings.smtp_tls == "ssl":
        client: smtplib.SMTP = smtplib.SMTP_SSL(settings.smtp_host, settings.smtp_port,
                                                 timeout=timeout, context=context)
    else:
        client = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=timeout)
    with client:
        client.ehlo()
        if settings.smtp_tls == "starttls":
            client.starttls(context=context)
            client.ehlo()
        if settings.smtp_user:
            client.login(settings.smtp_user, settings.smtp_password or "")
        client.send_message(message)
    return f"smtp:{settings.smtp_host}:{settings.smtp_port}"


def write_eml(folder: Path, message: EmailMessage, name: str | None = None) -> Path:
    """Write ``message`` as an .eml file (atomically: a reader never sees half a file)."""
    folder.mkdir(parents=True, exist_ok=True)
    if name is None:
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")
        name = f"{stamp}-{os.getpid()}.eml"
    path = folder / name
    partial = path.with_suffix(".part")
    partial.write_bytes(message.as_bytes(policy=email.policy.SMTP))
    os.replace(partial, path)
    return path


def read_eml(path: Path) -> EmailMessage:
    with open(path, "rb") as handle:
        return email.message_from_binary_file(handle, policy=email.policy.default)


# ----------------------------------------------------------------- messages
def build_text_message(settings: Settings, *, recipient: str, subject: str,
                       body: str) -> EmailMessage:
    """A plain-text e-mail from MAIL_FROM to ``recipient`` (account mail such as reset
    links; send it with ``send_message``)."""
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = recipient
    message["Subject"] = subject
    message["Date"] = email.utils.formatdate(localtime=False)
    message["Message-ID"] = email.utils.make_msgid(domain=settings.mail_from.split("@")[-1])
    message.set_content(body)
    return message


def build_report_message(settings: Settings, *, recipient: str, subject: str, body: str,
                         attachment: Path | None, download_url: str | None) -> EmailMessage:
    """A plain-text report e-mail with the report attached, or with a link to it when
    it is bigger than MAIL_ATTACH_LIMIT_MB (or there is no file)."""
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = recipient
    message["Subject"] = subject
    message["Date"] = email.utils.formatdate(localtime=False)
    message["Message-ID"] = email.utils.make_msgid(domain=settings.mail_from.split("@")[-1])
    limit = settings.mail_attach_limit_mb * 1024 * 1024
    attach = attachment is not None and attachment.stat().st_size <= limit
    if attach:
        message.set_content(body)
        maintype, subtype = MIME_TYPES.get(attachment.suffix.lower(),
                                           ("application", "octet-stream"))
        message.add_attachment(attachment.read_bytes(), maintype=maintype, subtype=subtype,
                               filename=attachment.name)
    else:
        why = ("The report is larger than the attachment limit "
               f"({settings.mail_attach_limit_mb:g} MB)" if attachment is not None
               else "The report")
        link = download_url or settings.public_url
        message.set_content(f"{body}\n\n{why}; download it here (sign-in required):\n{link}\n")
    return message


# ----------------------------------------------------------------- ledger
def create_delivery(session: Session, job: Job, recipient: str) -> Delivery:
    """Add a queued delivery of ``job``'s result to ``recipient`` (the caller commits and
    sends the ``shoplens.deliver`` task)."""
    delivery = Delivery(job_id=job.id, recipient=recipient, status="queued", attempts=0)
    session.add(delivery)
    session.flush()
    return delivery


def deliver(settings: Settings, delivery_id: int) -> Delivery | None:
    """Render (once) and send one delivery; record the outcome in the ledger.

    Returns the delivery (detached) after a successful send or when it was already sent;
    raises the transport error after recording ``failed`` with the reason, so the caller
    can retry later. Rendering is kept: a retry sends the very same message."""
    with db.session_scope(settings.database_url) as session:
        delivery = session.get(Delivery, delivery_id)
        if delivery is None:
            log.warning("delivery %s does not exist", delivery_id)
            return None
        if delivery.status == "sent":
            return delivery
        job = session.get(Job, delivery.job_id)
        if delivery.message_path is None or not Path(delivery.message_path).is_file():
            message = _render(settings, job, delivery.recipient)
            folder = settings.results / job.id
            path = write_eml(folder, message, name=f"delivery-{delivery.id}.eml")
            delivery.message_path = str(path)
            delivery.status = "rendered"
        message_path = Path(delivery.message_path)
    message = read_eml(message_path)
    try:
        where = send_message(settings, message)
    except TRANSIENT_ERRORS as exc:
        reason = f"{type(exc).__name__}: {exc}".strip()
        with db.session_scope(settings.database_url) as session:
            delivery = session.get(Delivery, delivery_id)
            delivery.status = "failed"
            delivery.attempts = (delivery.attempts or 0) + 1
            delivery.last_error = reason[:2000]
        log.warning("delivery %s to a recipient failed (attempt recorded): %s",
                    delivery_id, reason)
        raise
    with db.session_scope(settings.database_url) as session:
        delivery = session.get(Delivery, delivery_id)
        delivery.status = "sent"
        delivery.attempts = (delivery.attempts or 0) + 1
        delivery.sent_at = utcnow()
        delivery.last_error = None
        if not settings.smtp_host:
            delivery.message_path = where
        log.info("delivery %s sent via %s", delivery_id, where.split(":")[0])
        return delivery


def _render(settings: Settings, job: Job, recipient: str) -> EmailMessage:
    result = job.result or {}
    title = result.get("title") or "Shoplens report"
    subject = f"{title}: {result.get('period_label', '')}".rstrip(": ")
    lines = ["Hello,", "", f"Here is your Shoplens report ({result.get('format', '').upper()})."]
    for label in ("period_label", "filters_label", "scope_label"):
        if result.get(label):
            lines.append(f"{_LABELS[label]}: {result[label]}")
    if result.get("data_version") is not None:
        lines.append(f"Data version: {result['data_version']}")
    headline = result.get("headline") or []
    if headline:
        lines.append("")
        lines.extend(f"{item['label']}: {item['value']}" for item in headline)
    lines += ["", "-- ", "Shoplens"]
    attachment = Path(job.result_path) if job.result_path else None
    if attachment is not None and not attachment.is_file():
        attachment = None
    download = f"{settings.public_url}/api/v1/jobs/{job.id}/result"
    return build_report_message(settings, recipient=recipient, subject=subject,
                                body="\n".join(lines), attachment=attachment,
                                download_url=download)


_LABELS = {"period_label": "Period", "filters_label": "Filters", "scope_label": "Your data"}


def deliveries_to_retry(settings: Settings, now: dt.datetime | None = None) -> list[int]:
    """Unsent deliveries nobody has touched for SWEEP_AFTER (their retry was lost, e.g.
    the worker restarted) and that have attempts left."""
    cutoff = (now or utcnow()) - SWEEP_AFTER
    with db.session_scope(settings.database_url) as session:
        return list(session.scalars(
            sa.select(Delivery.id).where(Delivery.status != "sent",
                                         Delivery.attempts < MAX_ATTEMPTS,
                                         Delivery.updated_at < cutoff)
            .order_by(Delivery.id)))


def delivery_to_dict(delivery: Delivery) -> dict:
    """The ledger row as the admin pages show it."""
    return {"id": delivery.id, "job_id": delivery.job_id, "recipient": delivery.recipient,
            "status": delivery.status, "attempts": delivery.attempts,
            "last_error": delivery.last_error,
            "created_at": delivery.created_at.isoformat(timespec="seconds") + "Z",
            "sent_at": (delivery.sent_at.isoformat(timespec="seconds") + "Z"
                        if delivery.sent_at else None)}
