"""The audit log: who did what, when, from where. Callers add events to their session;
the event is committed with the change it describes."""
from __future__ import annotations

from sqlalchemy.orm import Session

from core.orm import AuditEvent, User


def record(session: Session, action: str, *, actor: User | str | None = None,
           target: str | None = None, detail: dict | None = None,
           ip: str | None = None) -> AuditEvent:
    """Add an audit event. ``actor`` is a User, or a label such as "cli" or "system".

    Actions in use: login, login_failed, logout, password_changed, password_reset,
    password_reset_requested, password_reset_mail_failed, user_created, user_updated,
    user_deactivated, token_created, token_revoked, data_load, export, report_requested,
    schedule_changed, job_submitted, job_cancelled, settings_changed.
    """
    event = AuditEvent(
        action=action,
        user_id=actor.id if isinstance(actor, User) else None,
        actor=actor.email if isinstance(actor, User) else actor,
        target=target, detail=detail, ip=ip)
    session.add(event)
    return event
