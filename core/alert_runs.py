"""Alert runs: evaluate every active rule under its owner's scope (after each data load and
by the beat's hourly task), record each firing, and send it.

Sending goes through the delivery ledger (``core.mail``): one ``Delivery`` per message
(the owner's e-mail, the rule's webhook), never a second copy of the ledger on the firing.
"""
from __future__ import annotations

import datetime as dt
import logging

import sqlalchemy as sa

from analytics import catalog
from analytics.errors import ShoplensError
from core import db, mail
from core.alerts import OPERATIONAL, evaluate, owner_scope, step
from core.formatting import format_value
from core.orm import AlertFiring, AlertRule, utcnow
from core.settings import Settings

log = logging.getLogger(__name__)


def evaluate_all(settings: Settings, today: dt.date | None = None,
                 now: dt.datetime | None = None) -> list[int]:
    """Evaluate every active rule under its owner's scope; record and e-mail each firing.
    Returns the ids of the firings. A rule that fails is logged and skipped."""
    from analytics.warehouse import Warehouse

    now = now or utcnow()
    today = today or now.date()
    fired: list[int] = []
    warehouse = Warehouse(settings.warehouse_url)
    try:
        with db.session_scope(settings.database_url) as session:
            rule_ids = list(session.scalars(sa.select(AlertRule.id).where(
                AlertRule.is_active.is_(True)).order_by(AlertRule.id)))
        for rule_id in rule_ids:
            try:
                firing_id = _run_rule(settings, warehouse, rule_id, today, now)
            except ShoplensError as exc:
                log.warning("alert %s could not be evaluated: %s", rule_id, exc)
                continue
            except Exception:
                log.exception("alert %s failed", rule_id)
                continue
            if firing_id is not None:
                fired.append(firing_id)
                send_firing(settings, firing_id)
        for firing_id in _unsent(settings, now, exclude=fired):
            send_firing(settings, firing_id)
    finally:
        warehouse.dispose()
    return fired


#: A firing whose e-mail failed is retried at each run for this long, MAX_ATTEMPTS times.
RESEND_FOR = dt.timedelta(days=1)


def _unsent(settings: Settings, now: dt.datetime, exclude: list[int]) -> list[int]:
    with db.session_scope(settings.database_url) as session:
        return [firing_id for firing_id in session.scalars(
            sa.select(AlertFiring.id).where(AlertFiring.status != "sent",
                                            AlertFiring.attempts < mail.MAX_ATTEMPTS,
                                            AlertFiring.fired_at >= now - RESEND_FOR)
            .order_by(AlertFiring.id)) if firing_id not in exclude]


def _run_rule(settings: Settings, warehouse, rule_id: int, today: dt.date,
              now: dt.datetime) -> int | None:
    with db.session_scope(settings.database_url) as session:
        rule = session.get(AlertRule, rule_id)
        owner = rule.owner
        if not owner.is_active or not owner.has_role(
                "admin" if rule.kind in OPERATIONAL else "analyst"):
            return None  # deactivated or demoted since: the rule rests
        evaluation = evaluate(rule, warehouse, owner_scope(owner), today, settings.currency,
                              session)
        if step(rule, evaluation, now) != "fire":
            return None
        firing = AlertFiring(rule_id=rule.id, fired_at=now, period_start=evaluation.start,
                             period_end=evaluation.end, current=evaluation.current,
                             previous=evaluation.previous, sentence=evaluation.sentence,
                             explanation=evaluation.explanation,
                             data_version=evaluation.data_version, recipient=owner.email,
                             status="queued")
        session.add(firing)
        session.flush()
        return firing.id


def message_for(settings: Settings, rule: AlertRule, firing: AlertFiring):
    """The alert e-mail: the sentence, the numbers, the explaining slices per dimension."""
    lines = ["Hello,", "", f"Your Shoplens alert \"{rule.name}\" fired.", "",
             firing.sentence]
    if firing.period_start and firing.period_end:
        lines += ["", f"Period: {firing.period_start:%d %b %Y} – {firing.period_end:%d %b %Y}"]
    if rule.filters:
        lines.append(f"Filters: {rule.filters}")
    lines.append(f"Your data: {owner_scope(rule.owner)}")
    explanation = firing.explanation or {}
    measure = catalog.measure(explanation.get("metric") or "revenue")
    for name, part in (explanation.get("dimensions") or {}).items():
        lines += ["", f"By {part['label'].lower()}:"]
        for entry in part["contributors"]:
            before = format_value(entry["previous"], measure.kind, settings.currency)
            after = format_value(entry["current"], measure.kind, settings.currency)
            lines.append(f"  {entry['label']}: {before} → {after} "
                         f"({entry['share'] * 100:.0f} % of the change)")
    lines += ["", f"Manage your alerts: {settings.public_url}/api/v1/alerts/{rule.id}",
              "", "-- ", "Shoplens"]
    return mail.build_text_message(settings, recipient=firing.recipient,
                                   subject=f"Shoplens alert: {rule.name}",
                                   body="\n".join(lines))


def send_firing(settings: Settings, firing_id: int) -> str:
    """E-mail one firing to its recipient; record sent or failed (with the reason)."""
    with db.session_scope(settings.database_url) as session:
        firing = session.get(AlertFiring, firing_id)
        rule = session.get(AlertRule, firing.rule_id)
        message = message_for(settings, rule, firing)
    try:
        where = mail.send_message(settings, message)
    except mail.TRANSIENT_ERRORS as exc:
        with db.session_scope(settings.database_url) as session:
            firing = session.get(AlertFiring, firing_id)
            firing.status = "failed"
            firing.attempts = (firing.attempts or 0) + 1
            firing.last_error = f"{type(exc).__name__}: {exc}"[:2000]
        log.warning("alert firing %s could not be e-mailed: %s", firing_id, exc)
        return "failed"
    with db.session_scope(settings.database_url) as session:
        firing = session.get(AlertFiring, firing_id)
        firing.status = "sent"
        firing.attempts = (firing.attempts or 0) + 1
        firing.sent_at = utcnow()
        firing.last_error = None
        if not settings.smtp_host:
            firing.message_path = where
    return "sent"


