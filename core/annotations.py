"""Notes on the timeline ("price change", "site outage"): a day or a range of days with a
short text, drawn on every time chart, listed in the PDF and the Excel report, and served
by the API.

Analysts and admins write them; every role reads them. A note is scoped like the data: it
keeps the countries of the scope its writer had (``Annotation.countries``; null for a
writer who sees all data), and a reader sees it only when their own scope holds every one
of those countries (a reader with all data sees every note). A note about France thus
never reaches a reader who may not see France, even one who shares another country with
its writer. The writer, or an admin who can see the note, changes or deletes it; to anyone
else it does not exist (``AnnotationNotFound``, a 404 in the API).

Services change the session; the caller commits.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from analytics.errors import AccessDenied, InvalidInput, NotFound
from analytics.filters import Scope
from core import audit
from core.orm import Annotation, User, utcnow

MAX_TEXT = 500
#: The role that writes notes (reading needs any role).
WRITER_ROLE = "analyst"
#: A time chart or a report lists at most this many notes (the newest days first kept).
MAX_LISTED = 500


class AnnotationError(InvalidInput):
    """A note cannot be saved as given; the message names the field."""


class AnnotationAccessDenied(AccessDenied, AnnotationError):
    """The role may not write notes."""


class AnnotationNotFound(NotFound, AnnotationError):
    """No such note, or one the user may not see or change."""


@dataclass(frozen=True)
class Note:
    """A note as charts and reports use it, detached from the session (hashable, so a
    figure builder can take a tuple of them)."""
    id: int
    start: dt.date
    end: dt.date | None
    text: str
    owner_id: int
    countries: tuple[str, ...] | None

    @property
    def last_day(self) -> dt.date:
        return self.end or self.start

    @property
    def dates_text(self) -> str:
        """"2025-12-01" or "2025-12-01 – 2025-12-03"."""
        if self.end is None or self.end == self.start:
            return self.start.isoformat()
        return f"{self.start.isoformat()} – {self.end.isoformat()}"


def note_of(row: Annotation) -> Note:
    return Note(id=row.id, start=row.start_date, end=row.end_date, text=row.text,
                owner_id=row.owner_id,
                countries=tuple(row.countries) if row.countries is not None else None)


def to_dict(row: Annotation) -> dict:
    """The API's shape of a note."""
    return {"id": row.id, "start": row.start_date.isoformat(),
            "end": row.end_date.isoformat() if row.end_date else None, "text": row.text,
            "countries": list(row.countries) if row.countries is not None else None,
            "owner": row.owner.email if row.owner is not None else None,
            "created_at": row.created_at.isoformat(timespec="seconds")}


def visible_to(countries: list | tuple | None, scope: Scope) -> bool:
    """Whether a reader with ``scope`` may see a note written under ``countries``."""
    if scope.countries is None:
        return True
    if countries is None:  # written with all data: about the whole store
        return True
    return set(countries) <= scope.countries


def listed(session: Session, scope: Scope, start: dt.date | None = None,
           end: dt.date | None = None) -> list[Annotation]:
    """The notes a reader with ``scope`` sees that touch ``start…end`` (either end open),
    oldest day first."""
    query = sa.select(Annotation).order_by(Annotation.start_date, Annotation.id)
    if end is not None:
        query = query.where(Annotation.start_date <= end)
    if start is not None:
        query = query.where(sa.func.coalesce(Annotation.end_date, Annotation.start_date)
                            >= start)
    rows = [row for row in session.scalars(query) if visible_to(row.countries, scope)]
    return rows[-MAX_LISTED:]


def notes(session: Session, scope: Scope, start: dt.date | None = None,
          end: dt.date | None = None) -> tuple[Note, ...]:
    """``listed`` as detached ``Note`` values (charts, reports)."""
    return tuple(note_of(row) for row in listed(session, scope, start, end))


def create(session: Session, actor: User, start: dt.date, end: dt.date | None,
           text: str) -> Annotation:
    """A new note by ``actor`` (analyst or admin), under the scope ``actor`` has now."""
    if not actor.has_role(WRITER_ROLE):
        raise AnnotationAccessDenied("Adding notes needs the analyst role.")
    start, end, text = _checked(start, end, text)
    countries = actor.countries
    row = Annotation(owner_id=actor.id, start_date=start, end_date=end, text=text,
                     countries=sorted(countries) if countries is not None else None,
                     created_at=utcnow())
    session.add(row)
    session.flush()
    audit.record(session, "annotation.create", actor=actor, target=f"annotation:{row.id}")
    return row


def get(session: Session, actor: User, note_id: int, *, scope: Scope) -> Annotation:
    """The note ``note_id`` if ``actor`` (with their data ``scope``) may change it: its
    writer, or an admin; both must still be able to see it."""
    row = session.get(Annotation, note_id)
    if (row is None or not visible_to(row.countries, scope)
            or not (row.owner_id == actor.id or actor.has_role("admin"))):
        raise AnnotationNotFound(f"There is no note {note_id}.")
    return row


def update(session: Session, actor: User, note_id: int, changes: dict, *,
           scope: Scope) -> Annotation:
    """Change a note's ``start``, ``end`` (None: a single day) and/or ``text``."""
    if not actor.has_role(WRITER_ROLE):
        raise AnnotationAccessDenied("Changing notes needs the analyst role.")
    row = get(session, actor, note_id, scope=scope)
    start = changes.get("start", row.start_date)
    end = changes["end"] if "end" in changes else row.end_date
    text = changes.get("text", row.text)
    row.start_date, row.end_date, row.text = _checked(start, end, text)
    session.flush()
    audit.record(session, "annotation.update", actor=actor, target=f"annotation:{row.id}")
    return row


def delete(session: Session, actor: User, note_id: int, *, scope: Scope) -> None:
    if not actor.has_role(WRITER_ROLE):
        raise AnnotationAccessDenied("Deleting notes needs the analyst role.")
    row = get(session, actor, note_id, scope=scope)
    session.delete(row)
    session.flush()
    audit.record(session, "annotation.delete", actor=actor, target=f"annotation:{note_id}")


def _checked(start, end, text) -> tuple[dt.date, dt.date | None, str]:
    if not isinstance(start, dt.date):
        raise AnnotationError("start must be a date (YYYY-MM-DD)")
    if end is not None and not isinstance(end, dt.date):
        raise AnnotationError("end must be a date (YYYY-MM-DD) or empty")
    if end is not None and end < start:
        raise AnnotationError(f"end ({end}) is before start ({start})")
    if end == start:
        end = None
    text = " ".join(str(text or "").split())
    if not text:
        raise AnnotationError("text must not be empty")
    if len(text) > MAX_TEXT:
        raise AnnotationError(f"text must be at most {MAX_TEXT} characters, not {len(text)}")
    return start, end, text
