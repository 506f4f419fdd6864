"""The "Views" section at the top of the filter sidebar (``core.views``): open a saved view
(mine or shared with me), save the current page and filters under a name ("Save view…":
keep the period relative, share, make it my default), update or delete one of mine; and
the landing on a user's default view when they open the app root.

The browser only names a view by its id: every callback asks the database who is signed in
and whether they may open (or change) that view, and refuses an id that is not theirs to
see with the same words as an unknown one. Opening a view writes its page and its filters,
with a relative period's dates computed now, into the address; the pages then read them as
they read any link, under the user's own data scope.

Component ids start with ``shell-views-`` (the request guard treats them as the shell's,
open to every signed-in role); ``shell.register_callbacks`` attaches these callbacks.
"""
from __future__ import annotations

import logging

import dash
import dash_bootstrap_components as dbc
import flask
import sqlalchemy as sa
from dash import Input, Output, State, ctx, dcc, html

from analytics.filters import FilterError, Filters
from analytics.warehouse import WarehouseError
from core import views
from core.orm import User
from webapp import security
from webapp.dashboard import context, deferred, presets

log = logging.getLogger(__name__)

NOT_AVAILABLE = "That view is not available to you."
SHARING_OPTIONS = (("private", "Only me"), ("everyone", "Everyone"),
                   ("users", "Chosen users"))


# ------------------------------------------------------------------ layout
def section() -> html.Div:
    """The Views section: a dropdown of views (grouped Mine / Shared), Save, Update and
    Delete, a line for what happened, and the save dialog."""
    return html.Div([
        html.Div("Views", className="fw-semibold mb-1"),
        dcc.Dropdown(id="shell-views-open", placeholder="Open a saved view…",
                     className="shell-dropdown mb-1", optionHeight=30),
        html.Div([
            dbc.Button("Save view…", id="shell-views-save", size="sm", color="primary",
                       outline=True, className="text-nowrap"),
            dbc.Button("Update", id="shell-views-update", size="sm", color="secondary",
                       outline=True, disabled=True,
                       title="Save this page's current filters into the chosen view"),
            dcc.ConfirmDialogProvider(
                dbc.Button("Delete", id="shell-views-delete-button", size="sm",
                           color="danger", outline=True, disabled=True),
                id="shell-views-delete", message="Delete this saved view?"),
        ], className="d-flex flex-wrap gap-1 mb-1"),
        html.Div(id="shell-views-message", className="small text-body-secondary"),
        dcc.Store(id="shell-views-changed", data=0),
        _save_dialog(),
    ], id="shell-views", className="border-bottom pb-2 mb-3")


def _save_dialog() -> dbc.Modal:
    return dbc.Modal([
        dbc.ModalHeader(dbc.ModalTitle("Save view")),
        dbc.ModalBody([
            dbc.Label("Name", html_for="shell-views-name", className="small mb-0"),
            dbc.Input(id="shell-views-name", maxLength=200, size="sm", className="mb-2",
                      placeholder="UK wholesale, last 90 days"),
            dbc.Checkbox(id="shell-views-relative", value=True,
                         label="Keep the period relative (its dates move with the data)"),
            html.Div(id="shell-views-period-note", className="small text-body-secondary mb-2"),
            dbc.Label("Share with", className="small mb-0"),
            dbc.RadioItems(id="shell-views-sharing", value="private", inline=True,
                           options=[{"label": label, "value": value}
                                    for value, label in SHARING_OPTIONS]),
            html.Div(dcc.Dropdown(id="shell-views-users", multi=True,
                                  placeholder="Choose users", className="shell-dropdown"),
                     id="shell-views-users-field", hidden=True, className="mb-2"),
            dbc.Checkbox(id="shell-views-default", value=False,
                         label="Make it my default view (opened when I sign in)"),
            html.Div(id="shell-views-save-error", className="small text-danger mt-2"),
        ]),
        dbc.ModalFooter([
            dbc.Button("Cancel", id="shell-views-cancel", color="secondary", outline=True,
                       size="sm"),
            dbc.Button("Save", id="shell-views-confirm", color="primary", size="sm"),
        ]),
    ], id="shell-views-dialog", is_open=False)


# ------------------------------------------------------------------ pure parts
def view_options(listed: list, user: User) -> list[dict]:
    """Dropdown options: "Mine" then "Shared" (disabled headers), each view by name; a
    shared one names its owner."""
    mine = [view for view in listed if view.owner_id == user.id]
    shared = [view for view in listed if view.owner_id != user.id]
    options: list[dict] = []
    if mine:
        options.append({"label": "Mine", "value": "group-mine", "disabled": True})
        options.extend({"label": view.name, "value": view.id} for view in mine)
    if shared:
        options.append({"label": "Shared", "value": "group-shared", "disabled": True})
        options.extend({"label": f"{view.name} ({view.owner.email})", "value": view.id}
                       for view in shared)
    return options


def save_values(pathname: str | None, search: str | None, preset: str | None,
                relative: bool) -> dict:
    """The page, filters and period the dialog saves: the period is kept relative when the
    box is ticked and the sidebar shows a preset, else the filters keep their dates."""
    filters = Filters.from_query(search or "")
    period = preset if relative and preset in views.PERIODS else None
    return {"page": (pathname or "/").rstrip("/") or "/", "filters": filters.to_query(),
            "period": period}


def period_note(preset: str | None) -> tuple[str, bool]:
    """(the dialog's sentence on the period, whether the relative box is ticked)."""
    if preset in views.PERIODS:
        label = presets.PRESETS[preset]
        note = (f"Period: {label}. Ticked, the view opens on the {label.lower()} of the "
                "data of that day.")
        return note, True
    return ("Custom dates: the view keeps them as they are.", False)


# ------------------------------------------------------------------ callbacks
_CALLBACKS = deferred.Callbacks()
_callback = _CALLBACKS.callback


def register_callbacks(app: dash.Dash) -> None:
    """Attach the section's callbacks to ``app`` and the default-view landing to its
    server."""
    _CALLBACKS.register(app)
    app.server.before_request(land_on_default_view)


def _user() -> User | None:
    return security.current_db_user()


def _view_id(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@_callback(Output("shell-views-open", "options"), Output("shell-views-users", "options"),
           Output("shell-views-sharing", "options"),
           Input("shell-url", "pathname"), Input("shell-views-changed", "data"))
def fill(_pathname, _changed):
    """The user's views and shared ones; for those who may share, the active users."""
    user = _user()
    if user is None:
        return [], [], []
    session = security.db_session()
    options = view_options(views.list_views(session, user), user)
    may_share = user.has_role(views.SHARING_ROLE)
    people = []
    if may_share:
        people = [{"label": person.email, "value": person.id} for person in session.scalars(
            sa.select(User).where(User.is_active.is_(True), User.id != user.id)
            .order_by(User.email))]
    sharing = [{"label": label, "value": value,
                "disabled": value != "private" and not may_share}
               for value, label in SHARING_OPTIONS]
    return options, people, sharing


@_callback(Output("shell-views-update", "disabled"),
           Output("shell-views-delete-button", "disabled"),
           Input("shell-views-open", "value"))
def enable_owner_buttons(value):
    """Update and Delete for a view the user may change (its owner, an admin)."""
    user, view_id = _user(), _view_id(value)
    if user is None or view_id is None:
        return True, True
    try:
        views.editable_view(security.db_session(), user, view_id)
    except views.ViewError:
        return True, True
    return False, False


@_callback(Output("shell-url-writer", "href", allow_duplicate=True),
           Output("shell-views-message", "children", allow_duplicate=True),
           Input("shell-views-open", "value"), State("shell-url", "pathname"),
           State("shell-url", "search"), prevent_initial_call=True)
def open_view(value, pathname, search):
    """Go to the chosen view's page with its filters (a relative period's dates of now)."""
    view_id = _view_id(value)
    if view_id is None:
        return dash.no_update, ""
    user = _user()
    try:
        if user is None:
            raise views.ViewNotFound(NOT_AVAILABLE)
        view = views.get_view(security.db_session(), user, view_id)
        page, filters = views.resolve(view, context.warehouse())
    except views.ViewNotFound:
        log.warning("refused to open saved view %r for user %s", value,
                    getattr(user, "id", None))
        return dash.no_update, NOT_AVAILABLE
    except WarehouseError as exc:
        return dash.no_update, str(exc)
    if page == ((pathname or "/").rstrip("/") or "/") and filters == _filters(search):
        return dash.no_update, dash.no_update  # already there (the view just saved)
    query = filters.to_query()
    return (f"{page}?{query}" if query else page), ""


def _filters(search: str | None) -> Filters | None:
    try:
        return Filters.from_query(search or "")
    except FilterError:
        return None


@_callback(Output("shell-views-dialog", "is_open"), Output("shell-views-relative", "value"),
           Output("shell-views-relative", "disabled"),
           Output("shell-views-period-note", "children"),
           Output("shell-views-save-error", "children"),
           Input("shell-views-save", "n_clicks"), Input("shell-views-cancel", "n_clicks"),
           State("shell-preset", "value"), prevent_initial_call=True)
def toggle_dialog(_save, _cancel, preset):
    if ctx.triggered_id == "shell-views-cancel":
        return False, dash.no_update, dash.no_update, dash.no_update, ""
    note, relative = period_note(preset)
    return True, relative, not relative, note, ""


@_callback(Output("shell-views-users-field", "hidden"), Input("shell-views-sharing", "value"))
def show_users(sharing):
    """The users to share with, when sharing with chosen users."""
    return sharing != "users"


@_callback(Output("shell-views-dialog", "is_open", allow_duplicate=True),
           Output("shell-views-save-error", "children", allow_duplicate=True),
           Output("shell-views-open", "options", allow_duplicate=True),
           Output("shell-views-open", "value", allow_duplicate=True),
           Output("shell-views-message", "children", allow_duplicate=True),
           Input("shell-views-confirm", "n_clicks"),
           State("shell-views-name", "value"), State("shell-views-relative", "value"),
           State("shell-views-sharing", "value"), State("shell-views-users", "value"),
           State("shell-views-default", "value"), State("shell-url", "pathname"),
           State("shell-url", "search"), State("shell-preset", "value"),
           prevent_initial_call=True)
def save_view(_clicks, name, relative, sharing, chosen, make_default, pathname, search,
              preset):
    """Save the page and its filters as a new view of the signed-in user (the service
    checks the name, the filters, the role for sharing and the chosen users), and choose
    it in the dropdown (its options sent with it: a value not among them is dropped)."""
    unchanged = (dash.no_update,) * 3
    user = _user()
    if user is None:
        return (True, "Sign in again.", *unchanged)
    session = security.db_session()
    try:
        data = {"name": name or "", "sharing": sharing or "private",
                "shared_with": [person for person in (chosen or []) if isinstance(person, int)],
                **save_values(pathname, search, preset, bool(relative))}
        view = views.create_view(session, user, data)
        if make_default:
            views.set_default(session, user, view.id)
        session.commit()
    except (views.ViewError, FilterError) as exc:
        session.rollback()
        return (True, str(exc), *unchanged)
    options = view_options(views.list_views(session, user), user)
    return (False, "", options, view.id, f"Saved the view {view.name!r}.")


@_callback(Output("shell-views-changed", "data", allow_duplicate=True),
           Output("shell-views-message", "children", allow_duplicate=True),
           Input("shell-views-update", "n_clicks"), State("shell-views-open", "value"),
           State("shell-url", "pathname"), State("shell-url", "search"),
           State("shell-preset", "value"), State("shell-views-changed", "data"),
           prevent_initial_call=True)
def update_view(_clicks, value, pathname, search, preset, changed):
    """Re-save the chosen view with this page and its current filters; a view that kept
    its period relative keeps it so while the sidebar shows a preset."""
    user, view_id = _user(), _view_id(value)
    if user is None or view_id is None:
        return dash.no_update, NOT_AVAILABLE
    session = security.db_session()
    try:
        view = views.editable_view(session, user, view_id)
        values = save_values(pathname, search, preset, relative=view.period is not None)
        views.update_view(session, user, view.id, values)
        session.commit()
    except views.ViewNotFound:
        session.rollback()
        log.warning("refused to update saved view %r for user %s", value, user.id)
        return dash.no_update, NOT_AVAILABLE
    except (views.ViewError, FilterError) as exc:
        session.rollback()
        return dash.no_update, str(exc)
    return (changed or 0) + 1, f"Updated the view {view.name!r} with these filters."


@_callback(Output("shell-views-changed", "data", allow_duplicate=True),
           Output("shell-views-open", "value", allow_duplicate=True),
           Output("shell-views-message", "children", allow_duplicate=True),
           Input("shell-views-delete", "submit_n_clicks"), State("shell-views-open", "value"),
           State("shell-views-changed", "data"), prevent_initial_call=True)
def delete_view(_clicks, value, changed):
    user, view_id = _user(), _view_id(value)
    if user is None or view_id is None:
        return dash.no_update, dash.no_update, NOT_AVAILABLE
    session = security.db_session()
    try:
        view = views.editable_view(session, user, view_id)
        name = view.name
        views.delete_view(session, user, view.id)
        session.commit()
    except views.ViewNotFound:
        session.rollback()
        log.warning("refused to delete saved view %r for user %s", value, user.id)
        return dash.no_update, dash.no_update, NOT_AVAILABLE
    except views.ViewError as exc:
        session.rollback()
        return dash.no_update, dash.no_update, str(exc)
    return (changed or 0) + 1, None, f"Deleted the view {name!r}."


# ------------------------------------------------------------------ default view
def land_on_default_view():
    """``GET /`` with no query (the first page after sign-in, or the app's address typed
    in) goes to the signed-in user's default view, with its dates computed now. Moving
    between pages inside the app never asks the server for ``/``, so it is left alone."""
    request = flask.request
    if request.method != "GET" or request.path != "/" or request.query_string:
        return None
    user = _user()
    if user is None:  # signed out: the login guard answers
        return None
    view = views.default_for(security.db_session(), user)
    if view is None:
        return None
    try:
        target = views.resolved_path(view, context.warehouse())
    except WarehouseError as exc:
        log.info("default view %s not resolved: %s", view.id, exc)
        return None
    return None if target == "/" else flask.redirect(target)
