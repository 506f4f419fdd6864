"""Notes on the timeline in the dashboard: the notes a time chart draws (``core.annotations``
under the signed-in user's data scope) and the small "Add note" form of the overview.

The form is built for analysts and admins only, and its callback checks the role again on
the server (hiding a form is not a permission check)."""
from __future__ import annotations

import datetime as dt

import dash_bootstrap_components as dbc
from dash import dcc, html
from flask import has_request_context

from analytics.errors import ShoplensError
from analytics.filters import FilterError, parse_date
from core import annotations
from webapp import security
from webapp.dashboard import context


def chart_notes(start: dt.date | None, end: dt.date | None) -> tuple[annotations.Note, ...]:
    """The notes the signed-in user may see that touch ``start…end``; none when signed
    out, outside a request (a figure built by a job or a test), or when the app database
    cannot answer (a chart draws without its notes)."""
    if not has_request_context() or security.current_db_user() is None:
        return ()
    return annotations.notes(security.db_session(), context.scope(), start, end)


def for_frame(frame, column: str = "period_start") -> tuple[annotations.Note, ...]:
    """The notes touching the dates a time frame spans."""
    if frame is None or not len(frame):
        return ()
    days = [value.date() if hasattr(value, "date") else value for value in frame[column]]
    return chart_notes(min(days), max(days))


def add_form(prefix: str, default_day: dt.date | None = None) -> html.Div:
    """Date (or range) and text, and an "Add note" button; ids start with ``prefix``. The
    page holds ``saved_store(prefix)`` for every role (its charts listen to it)."""
    day = default_day.isoformat() if default_day else None
    return html.Div([
        dbc.Input(id=f"{prefix}-note-start", placeholder="day YYYY-MM-DD", value=day,
                  size="sm", style={"maxWidth": "10rem"}),
        dbc.Input(id=f"{prefix}-note-end", placeholder="to (optional)", size="sm",
                  style={"maxWidth": "10rem"}),
        dbc.Input(id=f"{prefix}-note-text", placeholder="What happened (price change, site "
                  "outage…)", maxLength=annotations.MAX_TEXT, size="sm",
                  style={"minWidth": "14rem", "flex": "1"}),
        dbc.Button("Add note", id=f"{prefix}-note-add", size="sm", color="secondary",
                   outline=True),
        html.Div(id=f"{prefix}-note-status", className="small w-100"),
    ], className="d-flex flex-wrap gap-1 align-items-center mb-2", id=f"{prefix}-note-form")


def saved_store(prefix: str) -> dcc.Store:
    """Counts the notes added from the page's form: a chart redraws when it changes."""
    return dcc.Store(id=f"{prefix}-note-saved", data=0)


def save(start_text: str | None, end_text: str | None, text: str | None) -> str:
    """Save a note from the form for the signed-in user; the sentence to show. Raises
    ``ShoplensError`` (with a message for the user) when it cannot be saved."""
    user = security.current_db_user()
    if user is None:
        raise annotations.AnnotationAccessDenied("Sign in again to add notes.")
    try:
        start = parse_date(start_text or "", "the note's day")
        end = parse_date(end_text, "the note's last day") if (end_text or "").strip() else None
    except FilterError as exc:
        raise annotations.AnnotationError(str(exc)) from None
    session = security.db_session()
    note = annotations.create(session, user, start, end, text or "")
    session.commit()
    return f"Note added on {annotations.note_of(note).dates_text}."


SAVE_ERRORS = (ShoplensError,)
