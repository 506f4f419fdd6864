"""Outgoing mail and the delivery ledger of reports and alerts.

Every message to one recipient is a ``Delivery`` row: of a report (``job_id``), of an alert
firing (``firing_id``) or of an alert's test send (neither), by e-mail (``recipient`` an
address) or webhook (``recipient`` the URL, ``core.webhooks``). States:

* ``queued``: made, waiting for a worker;
* ``rendered``: a worker holds it (the message is rendered, kept on disk in
  ``message_path``, and being sent); a worker that died leaves it so, and after ``LEASE``
  the sweep takes it up again;
* ``sent``: done (``sent_at``); never sent again;
* ``failed``: the last attempt failed (``last_error``, ``attempts``); ``next_attempt_at``
  is when it is tried again (1, 2, 4 … minutes, capped at 60). After ``MAX_ATTEMPTS``, or
  a permanent failure (a webhook answering 4xx, a URL now refused), ``next_attempt_at`` is
  empty: it stays failed and its owner gets a notification, until someone retries it.

Never lost, never sent twice: ``idempotency_key`` is unique (``job:<id>:<channel>:<to>``,
``firing:<id>:<channel>:<to>``), so making a delivery again (a worker killed and the job run
again) returns the row already there; a worker *claims* a row with one conditional UPDATE
before sending (``_claim``), so a Celery retry, the minute sweep and a manual retry racing
each other send it once. The message is rendered once: a retry sends the very same bytes.
(The one window left is a worker dying after the server accepted the message and before
"sent" is written: that message may go twice, after ``LEASE``.)

Transport: SMTP (``SMTP_HOST``; STARTTLS, SSL or plain; optional login; timeouts), or, when
``SMTP_HOST`` is unset (embedded setup), ``.eml`` files written to ``settings.outbox``.
E-mails are multipart/alternative: plain text first, then HTML with inline images
(``cid:``); reports are attached, or linked (``PUBLIC_URL`` + the download route) when
bigger than ``MAIL_ATTACH_LIMIT_MB``.
"""
from __future__ import annotations

import datetime as dt
import email.policy
import email.utils
import hashlib
import json
import logging
import os
import smtplib
import socket
import ssl
from collections.abc import Iterable
from email.message import EmailMessage
from html import escape
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from analytics.errors import ShoplensError, Unavailable
from core import db, links, notifications, webhooks
from core.orm import AlertFiring, AlertRule, Delivery, Job, ReportSchedule, utcnow
from core.settings import Settings

log = logging.getLogger(__name__)

#: Errors worth retrying: the server is down, slow, or refused us for now (a webhook's
#: receiver answering 5xx, 408 or 429 too; its other refusals are permanent).
TRANSIENT_ERRORS = (smtplib.SMTPException, ConnectionError, socket.timeout, TimeoutError,
                    ssl.SSLError, OSError, webhooks.WebhookFailed)
CHANNELS = ("email", "webhook")
#: After this many failed attempts a delivery stays failed until someone resends it.
MAX_ATTEMPTS = 12
#: Backoff between attempts: 1, 2, 4 … minutes, at most this many.
BACKOFF_MAX_MINUTES = 60
#: A queued delivery untouched for this long lost its task (a broker restart): the sweep
#: sends it again (the claim keeps a still-pending task from sending it a second time).
SWEEP_AFTER = dt.timedelta(minutes=10)
#: A delivery held ("rendered") by a worker for this long lost its worker: taken up again.
LEASE = dt.timedelta(minutes=10)

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


def build_html_message(settings: Settings, *, recipient: str, subject: str, text: str,
                       html: str, images: dict[str, bytes] | None = None,
                       attachments: Iterable[Path] = (), link: str | None = None
                       ) -> EmailMessage:
    """An e-mail of two alternatives, the plain ``text`` first and the ``html`` fragment
    (already escaped by the caller: every value through ``html.escape``) in a small
    inline-styled page (a whole document, ``<html>…``, is sent as it is), with ``images`` ({cid: PNG bytes}) inline as ``cid:`` parts and
    ``attachments`` after. ``link`` (a signed view link) ends both alternatives. No
    external resource is referenced: mail clients show it as sent."""
    message = _headed(settings, recipient, subject)
    if link:
        text = f"{text.rstrip()}\n\nOpen this view in Shoplens (sign-in required):\n{link}\n"
        html += (f'<p style="margin:16px 0"><a href="{escape(link, quote=True)}" '
                 f'style="color:#2563eb">Open this view in Shoplens</a> '
                 f'<span style="color:#64748b">(sign-in required)</span></p>')
    message.set_content(text)
    if not html.lstrip()[:14].lower().startswith(("<!doctype", "<html")):
        html = ('<!DOCTYPE html><html><head><meta charset="utf-8"></head>'
                '<body style="margin:0;padding:16px;font-family:Arial,Helvetica,sans-serif;'
                'font-size:14px;line-height:1.45;color:#1e293b;background:#ffffff">'
                f'<div style="max-width:640px">{html}'
                '<p style="margin-top:24px;color:#64748b;font-size:12px">Shoplens</p>'
                '</div></body></html>')
    message.add_alternative(html, subtype="html")
    if images:
        html_part = message.get_payload()[1]
        for cid, png in images.items():
            html_part.add_related(png, maintype="image", subtype="png", cid=f"<{cid}>",
                                  filename=f"{cid}.png", disposition="inline")
    for path in attachments:
        maintype, subtype = MIME_TYPES.get(path.suffix.lower(),
                                           ("application", "octet-stream"))
        message.add_attachment(path.read_bytes(), maintype=maintype, subtype=subtype,
                               filename=path.name)
    return message


def _headed(settings: Settings, recipient: str, subject: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = recipient
    message["Subject"] = subject
    message["Date"] = email.utils.formatdate(localtime=False)
    message["Message-ID"] = email.utils.make_msgid(domain=settings.mail_from.split("@")[-1])
    return message


# ----------------------------------------------------------------- ledger
def idempotency_key(kind: str, ident, channel: str, recipient: str) -> str:
    """``<kind>:<id>:<channel>:<recipient>`` (a long webhook URL by its SHA-256: the
    column holds 200 characters)."""
    key = f"{kind}:{ident}:{channel}:{recipient}"
    if len(key) <= 200:
        return key
    digest = hashlib.sha256(recipient.encode("utf-8")).hexdigest()
    return f"{kind}:{ident}:{channel}:sha256:{digest}"


def create_delivery(session: Session, source: Job | AlertFiring | None, recipient: str, *,
                    channel: str = "email", key: str | None = None,
                    message_path: Path | None = None) -> Delivery:
    """The queued delivery of ``source`` (a report job or an alert firing) to
    ``recipient`` by ``channel``; the one already there when its idempotency key exists
    (a killed worker that runs the job again makes no second message). A delivery of
    neither (an alert's test send) gives its own ``key`` and its rendered message. The
    caller commits and sends it (``deliver`` or the ``shoplens.deliver`` task)."""
    if channel not in CHANNELS:
        raise ValueError(f"unknown delivery channel {channel!r}")
    job_id = firing_id = None
    if isinstance(source, Job):
        job_id, key = source.id, key or idempotency_key("job", source.id, channel, recipient)
    elif isinstance(source, AlertFiring):
        firing_id = source.id
        key = key or idempotency_key("firing", source.id, channel, recipient)
    elif key is None:
        raise ValueError("a delivery of neither a job nor a firing needs its own key")
    existing = _by_key(session, key)
    if existing is not None:
        return existing
    delivery = Delivery(job_id=job_id, firing_id=firing_id, channel=channel,
                        recipient=recipient, status="queued", attempts=0,
                        idempotency_key=key,
                        message_path=str(message_path) if message_path else None)
    try:
        with session.begin_nested():  # a racing writer's row: caught, the caller goes on
            session.add(delivery)
    except IntegrityError:
        existing = _by_key(session, key)
        if existing is None:
            raise
        log.info("delivery %s exists already; not made twice", key)
        return existing
    return delivery


def _by_key(session: Session, key: str) -> Delivery | None:
    return session.scalar(sa.select(Delivery).where(Delivery.idempotency_key == key))


def backoff(attempts: int) -> dt.timedelta:
    """The wait after the ``attempts``-th failed attempt: 1, 2, 4 … minutes, capped."""
    return dt.timedelta(minutes=min(2 ** max(attempts - 1, 0), BACKOFF_MAX_MINUTES))


def deliver(settings: Settings, delivery_id: int,
            now: dt.datetime | None = None) -> Delivery | None:
    """Claim, render (once) and send one delivery; record the outcome in the ledger.

    Returns the delivery (detached): sent; already sent; held by another worker or not to
    be sent (a final failure: nothing done); or failed for good (a permanent refusal,
    recorded). A transient failure is recorded (with ``next_attempt_at``) and its error
    raised, so the caller can retry. Rendering is kept: a retry sends the same message."""
    now = now or utcnow()
    with db.session_scope(settings.database_url) as session:
        delivery = session.get(Delivery, delivery_id)
        if delivery is None:
            log.warning("delivery %s does not exist", delivery_id)
            return None
        if delivery.status == "sent":
            return delivery
    if not _claim(settings, delivery_id, now):
        return _row(settings, delivery_id)
    try:
        path = _rendered(settings, delivery_id)
    except Exception as exc:  # a rendering bug must not leave the row held
        log.exception("delivery %s could not be rendered", delivery_id)
        return _failed(settings, delivery_id, f"The message could not be rendered: {exc}",
                       permanent=False, now=now)
    try:
        where = _send(settings, delivery, path)
    except webhooks.WebhookRefused as exc:
        return _failed(settings, delivery_id, exc.message, permanent=True, now=now)
    except webhooks.WebhookFailed as exc:
        row = _failed(settings, delivery_id, str(exc), permanent=exc.permanent, now=now)
        if exc.permanent:
            return row
        raise
    except TRANSIENT_ERRORS as exc:
        _failed(settings, delivery_id, f"{type(exc).__name__}: {exc}".strip(),
                permanent=False, now=now)
        raise
    with db.session_scope(settings.database_url) as session:
        delivery = session.get(Delivery, delivery_id)
        delivery.status = "sent"
        delivery.attempts = (delivery.attempts or 0) + 1
        delivery.sent_at = utcnow()
        delivery.last_error = None
        delivery.next_attempt_at = None
        if delivery.channel == "email" and not settings.smtp_host:
            delivery.message_path = where
        log.info("delivery %s sent via %s", delivery_id, where.split(":")[0])
        return delivery


def _row(settings: Settings, delivery_id: int) -> Delivery | None:
    with db.session_scope(settings.database_url) as session:
        return session.get(Delivery, delivery_id)


def _claim(settings: Settings, delivery_id: int, now: dt.datetime) -> bool:
    """Take the delivery for this worker (one conditional UPDATE, committed at once): a
    queued one, a failed one with attempts left, or one whose worker's LEASE ran out.
    False when another worker holds it or it is sent or failed for good."""
    with db.session_scope(settings.database_url) as session:
        result = session.execute(
            sa.update(Delivery).where(
                Delivery.id == delivery_id, Delivery.attempts < MAX_ATTEMPTS,
                sa.or_(Delivery.status == "queued",
                       sa.and_(Delivery.status == "failed",
                               Delivery.next_attempt_at.is_not(None)),
                       sa.and_(Delivery.status == "rendered",
                               Delivery.updated_at < now - LEASE)))
            .values(status="rendered", updated_at=now)
            .execution_options(synchronize_session=False))
        return result.rowcount == 1


def _rendered(settings: Settings, delivery_id: int) -> Path:
    """The delivery's rendered message on disk, rendering it the first time."""
    with db.session_scope(settings.database_url) as session:
        delivery = session.get(Delivery, delivery_id)
        if delivery.message_path and Path(delivery.message_path).is_file():
            return Path(delivery.message_path)
        if delivery.job_id is not None and delivery.channel == "email":
            job = session.get(Job, delivery.job_id)
            content: EmailMessage | dict = render_job(settings, job, delivery.recipient)
        elif delivery.firing_id is not None:
            from core import alert_runs  # alert_runs sends through this module
            content = alert_runs.render_firing(settings, session,
                                               session.get(AlertFiring, delivery.firing_id),
                                               delivery.channel, delivery.recipient)
        else:
            raise MailError("the rendered message of this delivery is gone")
        path = store_rendered(settings, delivery, content)
        delivery.message_path = str(path)
        return path


def store_rendered(settings: Settings, delivery: Delivery,
                   content: EmailMessage | dict) -> Path:
    """Keep a rendered message on disk: an .eml, or a webhook's JSON payload (a report's
    next to its result, others under ``$SHOPLENS_HOME/deliveries``)."""
    folder = (settings.results / delivery.job_id if delivery.job_id
              else settings.home / "deliveries")
    if isinstance(content, EmailMessage):
        return write_eml(folder, content, name=f"delivery-{delivery.id}.eml")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"delivery-{delivery.id}.json"
    partial = path.with_suffix(".part")
    partial.write_text(json.dumps(content, ensure_ascii=False, default=str), encoding="utf-8")
    os.replace(partial, path)
    return path


def _send(settings: Settings, delivery: Delivery, path: Path) -> str:
    if delivery.channel == "webhook":
        payload = json.loads(path.read_text(encoding="utf-8"))
        key = delivery.idempotency_key or f"delivery:{delivery.id}"
        return "webhook:" + webhooks.post(settings, delivery.recipient, payload, key)
    return send_message(settings, read_eml(path))


def _failed(settings: Settings, delivery_id: int, reason: str, *, permanent: bool,
            now: dt.datetime) -> Delivery:
    """Record a failed attempt: when to try again, or (permanent, the last attempt, or a
    test send) failed for good with a notification to the owner."""
    with db.session_scope(settings.database_url) as session:
        delivery = session.get(Delivery, delivery_id)
        delivery.status = "failed"
        delivery.attempts = (delivery.attempts or 0) + 1
        delivery.last_error = reason[:2000]
        test_send = delivery.job_id is None and delivery.firing_id is None
        final = permanent or test_send or delivery.attempts >= MAX_ATTEMPTS
        delivery.next_attempt_at = None if final else now + backoff(delivery.attempts)
        log.warning("delivery %s failed (attempt %s%s): %s", delivery_id, delivery.attempts,
                    ", given up" if final else "", reason)
        owner = owner_id(session, delivery)
        if final and owner is not None and not test_send:
            what = "report e-mail" if delivery.job_id else f"alert {delivery.channel}"
            where = ("the webhook" if delivery.channel == "webhook"
                     else delivery.recipient)
            notifications.notify(
                session, owner, "delivery", f"A {what} to {where} could not be sent"[:300],
                body=f"{reason[:500]} (after {delivery.attempts} attempt"
                     f"{'s' if delivery.attempts != 1 else ''}). Retry it from the API: "
                     f"POST /api/v1/deliveries/{delivery.id}/retry",
                link=(f"/alerts?firing={delivery.firing_id}" if delivery.firing_id
                      else "/reports"),
                ref=f"delivery:{delivery.id}")
        return delivery


def owner_id(session: Session, delivery: Delivery) -> int | None:
    """Whose delivery this is: the rule's owner for an alert; for a report, its schedule's
    owner, else the job's user. None for a test send (no job, no firing)."""
    if delivery.firing_id is not None:
        return session.scalar(sa.select(AlertRule.owner_id).join(
            AlertFiring, AlertFiring.rule_id == AlertRule.id).where(
            AlertFiring.id == delivery.firing_id))
    if delivery.job_id is not None:
        job = session.get(Job, delivery.job_id)
        if job is None:
            return None
        if job.schedule_id is not None:
            schedule = session.get(ReportSchedule, job.schedule_id)
            if schedule is not None:
                return schedule.owner_id
        return job.user_id
    return None


def reset_for_retry(delivery: Delivery) -> None:
    """Make a failed delivery sendable again from its first attempt (the caller commits
    and sends it). Its rendered message is kept: the retry sends the same one."""
    if delivery.status != "failed":
        raise RetryRefused(f"delivery {delivery.id} is {delivery.status}: only a failed "
                           "delivery can be retried")
    delivery.status = "queued"
    delivery.attempts = 0
    delivery.next_attempt_at = None
    delivery.last_error = None


class RetryRefused(ShoplensError):
    """This delivery cannot be retried (it is not failed) (409)."""
    status = 409


# ----------------------------------------------------------------- report e-mails
_LABELS = {"period_label": "Period", "filters_label": "Filters", "scope_label": "Your data"}


def render_job(settings: Settings, job: Job, recipient: str) -> EmailMessage:
    """The report e-mail of ``job`` to ``recipient``: the job's own e-mail when its result
    holds one (``result["email"]``: the weekly digest), else the KPIs with their change,
    the period, filters and scope, and the report attached (every file of
    ``result["attachments"]``, or ``result_path``), or linked when too big."""
    result = job.result or {}
    custom = result.get("email")
    if custom:
        images = {cid: Path(path).read_bytes()
                  for cid, path in (custom.get("images") or {}).items()
                  if Path(path).is_file()}
        return build_html_message(settings, recipient=recipient, subject=custom["subject"],
                                  text=custom["text"], html=custom["html"], images=images)
    title = result.get("title") or "Shoplens report"
    subject = f"{title}: {result.get('period_label', '')}".rstrip(": ")
    what = "report"
    if result.get("dashboard"):  # a dashboard's PDF: named in the subject and the text
        what = f"dashboard “{result['dashboard']}”"
        named = (f"Dashboard “{result['dashboard']}”" if title == result["dashboard"]
                 else f"{title} (dashboard “{result['dashboard']}”)")
        subject = f"{named}: {result.get('period_label', '')}".rstrip(": ")
    files = [Path(path) for path in result.get("attachments") or []] or (
        [Path(job.result_path)] if job.result_path else [])
    files = [path for path in files if path.is_file()]
    limit = settings.mail_attach_limit_mb * 1024 * 1024
    attach = bool(files) and sum(path.stat().st_size for path in files) <= limit
    kinds = "+".join(path.suffix.lstrip(".").upper() for path in files) or \
        str(result.get("format", "")).upper()
    lines = ["Hello,", "", f"Here is your Shoplens {what} ({kinds})."]
    facts = [(_LABELS[label], str(result[label])) for label in _LABELS if result.get(label)]
    if result.get("data_version") is not None:
        facts.append(("Data version", str(result["data_version"])))
    lines += [f"{name}: {value}" for name, value in facts]
    headline = [(item["label"], item["value"], _change(result, item))
                for item in result.get("headline") or []]
    if headline:
        lines.append("")
        lines += [f"{label}: {value}" + (f" ({change} against the previous period)"
                                          if change else "")
                  for label, value, change in headline]
    html = [f'<h2 style="font-size:18px;margin:0 0 8px">{escape(title)}</h2>',
            f"<p>Here is your Shoplens {escape(what)} ({escape(kinds)}).</p>"]
    if headline:
        html.append(_kpi_table(headline))
    if facts:
        html.append('<p style="color:#475569">' + "<br>".join(
            f"{escape(name)}: {escape(value)}" for name, value in facts) + "</p>")
    if not attach:
        why = ("The report is larger than the attachment limit "
               f"({settings.mail_attach_limit_mb:g} MB)" if files else "The report")
        download = f"{settings.public_url}/api/v1/jobs/{job.id}/result"
        lines += ["", f"{why}; download it here (sign-in required):", download]
        html.append(f'<p>{escape(why)}; <a href="{escape(download, quote=True)}" '
                    f'style="color:#2563eb">download it here</a> (sign-in required).</p>')
    lines += ["", "-- ", "Shoplens"]
    link = None
    if job.user is not None and job.user.email == recipient:  # a user: the view behind it
        link = (links.view_link(settings, "/dashboards", f"dashboard={result['dashboard_id']}",
                                job.user_id) if result.get("dashboard_id") else
                links.view_link(settings, "/", _report_query(job), job.user_id))
    return build_html_message(settings, recipient=recipient, subject=subject,
                              text="\n".join(lines), html="".join(html),
                              attachments=files if attach else (), link=link)


def _report_query(job: Job) -> str:
    """The filters the report was made of, dates included (a schedule's run fills them in
    from its cadence), as the dashboard's query string: the link opens the same period."""
    from analytics.filters import Filters
    from core.jobs import load_filters

    made = (job.result or {}).get("filters")
    if isinstance(made, dict) and made.get("start") and made.get("end"):
        return Filters.from_query(made).to_query()
    return load_filters(job.params).to_query()


def _change(result: dict, item: dict) -> str | None:
    """The headline KPI's change against the previous period ("+12 %"), when known."""
    if item.get("change"):
        return str(item["change"])
    kpi = ((result.get("kpis") or {}).get("kpis") or {}).get(item.get("name") or "") or {}
    change = kpi.get("rel_change")
    if change is None or change != change:
        return None
    return f"{change * 100:+.0f} %".replace("-", "−")


def _kpi_table(rows: list[tuple[str, str, str | None]]) -> str:
    cells = "".join(
        f'<tr><td style="padding:4px 12px 4px 0;color:#475569">{escape(label)}</td>'
        f'<td style="padding:4px 12px 4px 0;font-weight:bold">{escape(str(value))}</td>'
        f'<td style="padding:4px 0;color:#475569">{escape(change or "")}</td></tr>'
        for label, value, change in rows)
    return f'<table style="border-collapse:collapse;margin:8px 0">{cells}</table>'


# ----------------------------------------------------------------- sweep and shapes
def deliveries_to_retry(settings: Settings, now: dt.datetime | None = None) -> list[int]:
    """Deliveries to send again now: failed ones whose ``next_attempt_at`` is due, and
    lost ones (queued and untouched for SWEEP_AFTER: their task was lost; held past the
    LEASE: their worker died), with attempts left.

    Each one found is put SWEEP_AFTER out of the sweep's sight (its ``next_attempt_at``,
    or a queued one's ``updated_at``), so a task waiting in a busy queue is not sent again
    every minute; the claim does not look at those, so the task sends it as soon as it
    runs, and a lost task is found again later."""
    now = now or utcnow()
    due_failed = sa.and_(Delivery.status == "failed", Delivery.next_attempt_at.is_not(None),
                         Delivery.next_attempt_at <= now)
    lost_queued = sa.and_(Delivery.status == "queued",
                          Delivery.updated_at < now - SWEEP_AFTER)
    lost_held = sa.and_(Delivery.status == "rendered", Delivery.updated_at < now - LEASE)
    with db.session_scope(settings.database_url) as session:
        found = list(session.scalars(
            sa.select(Delivery.id).where(Delivery.attempts < MAX_ATTEMPTS,
                                         sa.or_(due_failed, lost_queued, lost_held))
            .order_by(Delivery.id)))
        if found:
            session.execute(sa.update(Delivery).where(Delivery.id.in_(found), due_failed)
                            .values(next_attempt_at=now + SWEEP_AFTER)
                            .execution_options(synchronize_session=False))
            session.execute(sa.update(Delivery).where(Delivery.id.in_(found), lost_queued)
                            .values(updated_at=now)
                            .execution_options(synchronize_session=False))
        return found


def delivery_to_dict(delivery: Delivery) -> dict:
    """The ledger row as the API and the pages show it."""
    def iso(value: dt.datetime | None) -> str | None:
        return value.isoformat(timespec="seconds") + "Z" if value else None
    return {"id": delivery.id, "job_id": delivery.job_id, "firing_id": delivery.firing_id,
            "channel": delivery.channel, "recipient": delivery.recipient,
            "status": delivery.status, "attempts": delivery.attempts,
            "last_error": delivery.last_error, "created_at": iso(delivery.created_at),
            "sent_at": iso(delivery.sent_at),
            "next_attempt_at": iso(delivery.next_attempt_at)}
