"""Saved views: a page and its filters under a name ("UK wholesale, last 90 days").

A copied link freezes "last 90 days" as the dates of the day it was copied; a saved view
keeps the period by name (``period``: one of the sidebar's date presets) and computes its
dates when it is opened, from the DATA's last day (``resolve``), so it moves with every
load. ``filters`` holds the rest as a ``Filters`` query string, without dates when a period
is kept (a view with ``period`` null keeps the fixed dates of its filters).

Sharing: ``private`` (the owner only), ``everyone`` (every signed-in user) or ``users`` (the
active users whose ids are in ``shared_with``). Every role may save private views; sharing
with others needs the analyst role (``ViewAccessDenied``, 403). Whoever opens a view sees it
under THEIR OWN data scope: the view holds filters, never a scope, and the pages AND the
user's scope to every filter, so a shared view cannot widen anybody's view of the data.

Access: the owner and an admin may change or delete a view; those it is shared with may
open it (a change is ``ViewAccessDenied``, 403); anybody else gets ``ViewNotFound`` (404),
so ids do not reveal what exists. Each user may name one view their default
(``UserPreferences.default_view_id``): the app root opens it. The caller commits.
"""
from __future__ import annotations

import re
from typing import Annotated, Literal

import pydantic
import sqlalchemy as sa
from sqlalchemy.orm import Session

from analytics import period as periods
from analytics.errors import AccessDenied, InvalidInput, NotFound, format_validation_error
from analytics.filters import FilterError, Filters
from core import audit, notifications
from core.dashboards import PERIODS
from core.orm import ReportSchedule, SavedView, User, UserPreferences

#: Views one user may own (each is a row in every sidebar's dropdown).
MAX_VIEWS = 200
SHARING = ("private", "everyone", "users")
#: The least role that may share a view with others.
SHARING_ROLE = "analyst"
#: A page path as the app's router knows them: "/", "/sales", "/customers/rfm".
_PAGE = re.compile(r"/[a-z0-9_\-/]{0,99}")


class ViewError(InvalidInput):
    """The saved view is invalid or the change is refused; the message says why."""


class ViewAccessDenied(AccessDenied, ViewError):
    """The actor may open this view but not change it, or may not share views."""


class ViewNotFound(NotFound, ViewError):
    """No saved view with this id that the actor may see."""


# ----------------------------------------------------------------- input
class ViewInput(pydantic.BaseModel):
    """What a user sets on a saved view."""
    model_config = pydantic.ConfigDict(extra="forbid", str_strip_whitespace=True)
    name: Annotated[str, pydantic.Field(min_length=1, max_length=200)]
    page: Annotated[str, pydantic.Field(max_length=100)] = "/"
    filters: Annotated[str, pydantic.Field(max_length=4000)] = ""
    period: str | None = None
    sharing: Literal["private", "everyone", "users"] = "private"
    shared_with: list[int] = []

    @pydantic.field_validator("page")
    @classmethod
    def _page_path(cls, value: str) -> str:
        path = value.split("?", 1)[0].rstrip("/") or "/"
        if not _PAGE.fullmatch(path):
            raise ValueError(f"give a page path such as /sales, not {value!r}")
        return path

    @pydantic.field_validator("filters", mode="before")
    @classmethod
    def _filters(cls, value) -> str:
        if isinstance(value, Filters):
            return value.to_query()
        try:
            return Filters.from_query(value if isinstance(value, dict)
                                      else str(value or "")).to_query()
        except FilterError as exc:
            raise ValueError(str(exc)) from None

    @pydantic.field_validator("period", mode="before")
    @classmethod
    def _known_period(cls, value) -> str | None:
        if value in (None, ""):
            return None
        if value not in PERIODS:
            raise ValueError(f"unknown period {value!r}: use one of {', '.join(PERIODS)}, "
                             "or null to keep the filters' dates")
        return value

    @pydantic.model_validator(mode="after")
    def _relative_or_fixed(self) -> ViewInput:
        """A relative period replaces the filters' dates (a "keep it relative" save of a
        sidebar whose URL holds the preset's dates of today)."""
        if self.period:
            self.filters = Filters.from_query(self.filters).without_dates().to_query()
        if self.sharing == "users":
            if not self.shared_with:
                raise ValueError("sharing with chosen users needs their ids in shared_with")
            self.shared_with = sorted(set(self.shared_with))
        else:
            self.shared_with = []
        return self


def _parse(data: dict) -> ViewInput:
    if not isinstance(data, dict):
        raise ViewError("the saved view must be a JSON object")
    try:
        return ViewInput.model_validate(data)
    except pydantic.ValidationError as exc:
        raise ViewError(format_validation_error(exc, subject="view")) from None


def _check_sharing(session: Session, actor: User, values: ViewInput) -> None:
    if values.sharing != "private" and not actor.has_role(SHARING_ROLE):
        raise ViewAccessDenied("sharing a view with others needs the analyst role: save it "
                               "as private")
    if not values.shared_with:
        return
    active = set(session.scalars(sa.select(User.id).where(
        User.id.in_(values.shared_with), User.is_active.is_(True))))
    missing = sorted(set(values.shared_with) - active)
    if missing:
        raise ViewError(f"shared_with: no active user {', '.join(map(str, missing))}")


def _check_name(session: Session, owner_id: int, name: str, view_id: int | None = None) -> None:
    taken = session.scalar(sa.select(SavedView.id).where(
        SavedView.owner_id == owner_id, SavedView.name == name))
    if taken is not None and taken != view_id:
        raise ViewError(f"name: you already have a view named {name!r}; choose another "
                        "name or update that view")


# ----------------------------------------------------------------- access
def can_edit(actor: User, view: SavedView) -> bool:
    return actor.has_role("admin") or view.owner_id == actor.id


def can_open(actor: User, view: SavedView) -> bool:
    if can_edit(actor, view) or view.sharing == "everyone":
        return True
    return view.sharing == "users" and actor.id in (view.shared_with or [])


def list_views(session: Session, actor: User) -> list[SavedView]:
    """The actor's own views, then those shared with them, each by name (an admin's list
    holds no other user's private views: they are theirs to open, not to browse).
    ``shared_with`` is a JSON list, read in Python (portable across SQLite and PostgreSQL)."""
    if not actor.is_active:
        return []
    rows = session.scalars(sa.select(SavedView).where(sa.or_(
        SavedView.owner_id == actor.id, SavedView.sharing != "private"))
        .order_by(SavedView.name, SavedView.id))
    visible = [row for row in rows if row.owner_id == actor.id or row.sharing == "everyone"
               or actor.id in (row.shared_with or [])]
    return sorted(visible, key=lambda row: row.owner_id != actor.id)


def get_view(session: Session, actor: User, view_id) -> SavedView:
    """The view for whoever may open it (owner, admin, those it is shared with)."""
    found = (session.get(SavedView, view_id)
             if isinstance(view_id, int) and not isinstance(view_id, bool) else None)
    if found is None or not actor.is_active or not can_open(actor, found):
        raise ViewNotFound(f"no saved view {view_id}")
    return found


def editable_view(session: Session, actor: User, view_id) -> SavedView:
    """The view for its owner or an admin; one shared with the actor gets a 403."""
    found = get_view(session, actor, view_id)
    if not can_edit(actor, found):
        raise ViewAccessDenied("only this view's owner or an admin can change it")
    return found


# ----------------------------------------------------------------- changes
def create_view(session: Session, actor: User, data: dict) -> SavedView:
    """A new view owned by the actor. The caller commits."""
    if not actor.is_active:
        raise ViewAccessDenied("this account is deactivated")
    values = _parse(data)
    _check_sharing(session, actor, values)
    _check_name(session, actor.id, values.name)
    owned = session.scalar(sa.select(sa.func.count()).select_from(SavedView)
                           .where(SavedView.owner_id == actor.id))
    if owned >= MAX_VIEWS:
        raise ViewError(f"you have {MAX_VIEWS} saved views, the most one user may have: "
                        "delete one first")
    view = SavedView(owner_id=actor.id, **values.model_dump())
    _write(session, values.name, lambda: session.add(view))
    audit.record(session, "view_changed", actor=actor, target=str(view.id),
                 detail={"change": "created", "name": view.name})
    return view


def update_view(session: Session, actor: User, view_id: int, changes: dict) -> SavedView:
    """Rename, re-save the filters/period or re-share a view (owner or admin). Giving
    ``filters`` without ``period`` keeps the view's period. The caller commits."""
    view = editable_view(session, actor, view_id)
    if not isinstance(changes, dict):
        raise ViewError("the saved view must be a JSON object")
    current = {name: getattr(view, name) for name in ViewInput.model_fields}
    current["shared_with"] = list(current["shared_with"] or [])
    values = _parse({**current, **changes})
    if (values.sharing, values.shared_with) != (view.sharing, current["shared_with"]):
        _check_sharing(session, actor, values)
    _check_name(session, view.owner_id, values.name, view.id)

    def change() -> None:
        for name, value in values.model_dump().items():
            setattr(view, name, value)
    _write(session, values.name, change)
    audit.record(session, "view_changed", actor=actor, target=str(view.id),
                 detail={"change": "updated", "fields": sorted(changes)})
    return view


def _write(session: Session, name: str, change) -> None:
    """Make ``change`` and write it in a savepoint: a racing save of the same name by the
    same owner (past ``_check_name``) meets the unique key and gets the same answer, and
    the rest of the caller's transaction stays."""
    try:
        with session.begin_nested():
            change()
            session.flush()
    except sa.exc.IntegrityError:
        raise ViewError(f"name: you already have a view named {name!r}; choose another "
                        "name or update that view") from None


def delete_view(session: Session, actor: User, view_id: int) -> None:
    """Delete a view (owner or admin); defaults that pointed at it forget it. A report
    schedule that followed it is paused and its owner told (running on without the view
    would send the report of all their data instead). The caller commits."""
    view = editable_view(session, actor, view_id)
    audit.record(session, "view_changed", actor=actor, target=str(view.id),
                 detail={"change": "deleted", "name": view.name})
    for schedule in session.scalars(sa.select(ReportSchedule).where(
            ReportSchedule.saved_view_id == view.id)):
        schedule.saved_view_id = None
        if schedule.is_active:
            schedule.is_active, schedule.next_run_at = False, None
            notifications.notify(
                session, schedule.owner_id, "schedule",
                f"Schedule “{schedule.name}” paused: its saved view was deleted",
                body=f"The saved view “{view.name}” it followed was deleted. Choose other "
                     "filters or another view, then resume it.", link="/reports",
                ref=f"schedule:{schedule.id}")
    session.delete(view)
    session.flush()


# ----------------------------------------------------------------- opening
def resolve(view: SavedView, warehouse) -> tuple[str, Filters]:
    """(page, filters) to open ``view`` with now: a relative period gets the dates of the
    preset for the current data's last day (no data yet: no dates, the page's default
    period). The caller's data scope is not here: the pages add it, as to any filters."""
    filters = Filters.from_query(view.filters or "")
    if view.period:
        first, last = periods.data_range(warehouse) if warehouse.current_version() \
            is not None else (None, None)
        if first is not None and last is not None:
            filters = filters.with_period(*periods.preset_range(view.period, first, last))
    return view.page, filters


def resolved_path(view: SavedView, warehouse) -> str:
    """The app path that opens ``view`` now: its page and the query with computed dates."""
    page, filters = resolve(view, warehouse)
    query = filters.to_query()
    return f"{page}?{query}" if query else page


def query_for_run(session: Session, owner: User, view_id: int, warehouse) -> str:
    """The filters of a run (a report schedule's, an alert rule's) that follows a saved
    view: the view's filters with a relative period's dates computed now. The view must
    still be one the run's owner may open (``ViewNotFound`` otherwise: unshared since, or
    deleted); the run adds its recipient's scope as always."""
    return resolve(get_view(session, owner, view_id), warehouse)[1].to_query()


#: The page whose saved views a load warms into the analytics cache (``views_to_warm``).
WARMED_PAGE = "/"
#: At most this many saved views are warmed after a load (the most recently changed).
MAX_WARMED_VIEWS = 20


def views_to_warm(session: Session, warehouse) -> list[tuple[Filters, tuple | None]]:
    """(filters, owner's countries) of the overview's saved views whose owner is active,
    most recently changed first, at most ``MAX_WARMED_VIEWS``: what a load computes ahead
    (``core.loads``) under the scope of the one most likely to open each, its owner. A
    view whose filters no longer parse is left out."""
    rows = session.scalars(
        sa.select(SavedView).join(User, User.id == SavedView.owner_id)
        .where(SavedView.page == WARMED_PAGE, User.is_active)
        .order_by(SavedView.updated_at.desc(), SavedView.id.desc())
        .limit(MAX_WARMED_VIEWS)).all()
    out = []
    for view in rows:
        try:
            out.append((resolve(view, warehouse)[1], view.owner.countries))
        except FilterError:
            continue
    return out


# ----------------------------------------------------------------- default view
def set_default(session: Session, user: User, view_id: int | None) -> SavedView | None:
    """Make ``view_id`` (one the user may open) the view the app root opens for them, or
    forget it (None). The caller commits."""
    view = None if view_id is None else get_view(session, user, view_id)
    preferences = session.get(UserPreferences, user.id)
    if preferences is None:
        preferences = UserPreferences(user_id=user.id)
        session.add(preferences)
    preferences.default_view_id = view.id if view is not None else None
    session.flush()
    return view


def default_for(session: Session, user: User) -> SavedView | None:
    """The user's default view, while they may still open it (an owner may have stopped
    sharing it since)."""
    preferences = session.get(UserPreferences, user.id)
    if preferences is None or preferences.default_view_id is None:
        return None
    try:
        return get_view(session, user, preferences.default_view_id)
    except ViewNotFound:
        return None


# ----------------------------------------------------------------- JSON
def view_to_dict(view: SavedView, actor: User | None = None) -> dict:
    out = {"id": view.id, "name": view.name, "page": view.page,
           "filters": view.filters or "", "period": view.period,
           "sharing": view.sharing, "shared_with": list(view.shared_with or []),
           "owner_id": view.owner_id,
           "owner": view.owner.email if view.owner is not None else None,
           "created_at": view.created_at.isoformat() + "Z" if view.created_at else None,
           "updated_at": view.updated_at.isoformat() + "Z" if view.updated_at else None}
    if actor is not None:
        out["editable"] = can_edit(actor, view)
        out["mine"] = view.owner_id == actor.id
    return out
