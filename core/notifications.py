"""In-app notifications: what the navbar bell shows one user.

A notification is added when something the user is waiting for happens: one of their
alerts fired, one of their jobs finished or failed, a delivery of theirs failed for good, a
schedule of theirs was paused because the saved view it followed was deleted.
Each belongs to one user and is read or not for that user only; a user sees and marks
only their own. Old ones are pruned (``KEEP_DAYS``) so the table stays small.

Services change the session; the caller commits (``notify`` is called inside the unit of
work that made the event, so a notification exists exactly when its event does).
"""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Session

from core.orm import Notification, User, utcnow

KINDS = ("alert", "job", "delivery", "schedule")
#: The bell lists at most this many; older ones stay reachable where they came from.
SHOWN = 20
#: Notifications older than this are deleted by ``prune``.
KEEP_DAYS = 90


def notify(session: Session, user: User | int, kind: str, title: str, *,
           body: str | None = None, link: str | None = None,
           ref: str | None = None) -> Notification:
    """Add a notification for ``user`` (the caller commits). ``link`` is a path inside
    the app (``/alerts?firing=12``); ``ref`` names the thing (``firing:12``, ``job:ab12``)."""
    if kind not in KINDS:
        raise ValueError(f"unknown notification kind {kind!r}")
    user_id = user if isinstance(user, int) else user.id
    note = Notification(user_id=user_id, kind=kind, title=title[:300], body=body,
                        link=link[:1000] if link else None, ref=ref, created_at=utcnow())
    session.add(note)
    session.flush()
    return note


def recent(session: Session, user: User, limit: int = SHOWN) -> list[Notification]:
    """The user's newest notifications, newest first."""
    return list(session.scalars(
        sa.select(Notification).where(Notification.user_id == user.id)
        .order_by(Notification.created_at.desc(), Notification.id.desc()).limit(limit)))


def unread_count(session: Session, user: User) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(Notification).where(
        Notification.user_id == user.id, Notification.read_at.is_(None))) or 0


def mark_read(session: Session, user: User, ids: list[int] | None = None) -> int:
    """Mark the user's notifications ``ids`` (all of them when None) read; other users'
    ids are ignored. Returns how many changed. The caller commits."""
    query = sa.update(Notification).where(Notification.user_id == user.id,
                                          Notification.read_at.is_(None))
    if ids is not None:
        query = query.where(Notification.id.in_([int(i) for i in ids]))
    return session.execute(query.values(read_at=utcnow())
                           .execution_options(synchronize_session=False)).rowcount or 0


def prune(session: Session, now: dt.datetime | None = None) -> int:
    """Delete notifications older than KEEP_DAYS. The caller commits."""
    cutoff = (now or utcnow()) - dt.timedelta(days=KEEP_DAYS)
    return session.execute(sa.delete(Notification).where(
        Notification.created_at < cutoff)).rowcount or 0


def to_dict(note: Notification) -> dict:
    return {"id": note.id, "kind": note.kind, "title": note.title, "body": note.body,
            "link": note.link, "ref": note.ref,
            "created_at": note.created_at.isoformat(timespec="seconds") + "Z",
            "read": note.read_at is not None}
