"""Things a user owns (report schedules, alert rules): who may see and change one, once.

The rule is the same for every kind: the owner, or an admin. ``get`` answers the
kind's NotFound for an id that does not exist and its AccessDenied for another user's
(the API turns the latter into a 404 too, so that ids do not reveal what exists);
``listed`` gives a user their own, an admin everybody's.
"""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from core.orm import User


def get(session: Session, actor: User, model: type, object_id: int, *, not_found: type,
        denied: type, noun: str):
    """The ``model`` row ``object_id`` for its owner or an admin."""
    found = session.get(model, object_id)
    if found is None:
        raise not_found(f"no {noun} {object_id}")
    if not (actor.has_role("admin") or found.owner_id == actor.id):
        raise denied(f"this {noun} belongs to another user")
    return found


def listed(session: Session, actor: User, model: type) -> list:
    """The actor's rows of ``model`` (all of them for an admin), oldest first."""
    query = sa.select(model).order_by(model.id)
    if not actor.has_role("admin"):
        query = query.where(model.owner_id == actor.id)
    return list(session.scalars(query))
