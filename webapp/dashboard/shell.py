"""The frame around every page: navbar (pages the role allows, user, sign-out, theme),
the global filter sidebar kept in the URL query string, and the router.

The router is ours rather than ``dash.page_container``: Dash's router re-renders the whole
page on every query-string change, and here the query string changes with every filter.
Ours follows the path only, checks the page's ``role`` on the server before building its
layout, and leaves the filters to the pages' callbacks (Input ``shell-url.search``).
"""
from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from urllib.parse import urlsplit

import dash
import dash_bootstrap_components as dbc
import flask
import flask_login
from dash import ALL, ClientsideFunction, Input, Output, State, ctx, dcc, html
from flask_wtf import csrf

from analytics import catalog, period
from analytics.filters import FilterError, Filters
from analytics.segments import SEGMENTS
from analytics.warehouse import WarehouseError
from core import notifications
from core.orm import utcnow
from webapp import security
from webapp.dashboard import (chips, components, context, deferred, errors, guide, presets,
                               views_ui)

log = logging.getLogger(__name__)

#: Sidebar dropdown id suffix → (URL parameter, Filters field, label, breakdown dimension):
#: one dropdown per filterable dimension of ``analytics.catalog``, in its order.
DIMENSION_CONTROLS = tuple((d.param, d.field, d.label, d.name)
                           for d in catalog.filter_dimensions())
#: Flask pages linked from the navbar for admins (declared once, with the Flask shell's).
from webapp.auth import ADMIN_LINKS  # noqa: E402
#: How often the bell asks for the unread count (one indexed count and a short list).
BELL_POLL_MS = 60_000
OPTION_LIMIT = 200


def page_allowed(page: dict, role: str | None) -> bool:
    """Whether ``role`` may open a registered page (``role=`` of ``register_page``: the
    same rule as the request guard's, ``security.declared_role``)."""
    return security.role_allows(role, security.declared_role(page))


def visible_pages(role: str | None) -> list[dict]:
    return sorted((page for page in dash.page_registry.values()
                   if page_allowed(page, role) and not page.get("hidden")),
                  key=lambda page: page.get("order") or 0)


def find_page(pathname: str | None) -> dict | None:
    path = (pathname or "/").rstrip("/") or "/"
    for page in dash.page_registry.values():
        if page["path"] == path:
            return page
    return None


_CALLBACKS = deferred.Callbacks()
#: Remember a shell callback; ``register_callbacks`` attaches it to each app.
_shell_callback = _CALLBACKS.callback


def register_callbacks(app: dash.Dash) -> None:
    _CALLBACKS.register(app)
    views_ui.register_callbacks(app)
    chips.register_callbacks(app)
    guide.register_callbacks(app)
    # navbar links carry the filters along, so moving between pages keeps the view: in
    # the browser (assets/shoplens.js), not one more request per filter change
    app.clientside_callback(ClientsideFunction("shoplens", "linksWithFilters"),
                            Output({"type": "shell-nav-link", "path": ALL}, "href"),
                            Input("shell-url", "search"),
                            State({"type": "shell-nav-link", "path": ALL}, "id"),
                            State("shell-link-params", "data"))
    # the sidebar follows the URL only when it changed from elsewhere (a load, back or
    # forward, a chip, a drill-down, a saved view): not after the sidebar wrote it itself
    app.clientside_callback(ClientsideFunction("shoplens", "urlToReview"),
                            Output("shell-url-review", "data"), Input("shell-url", "search"),
                            State("shell-synced-search", "data"))
    app.clientside_callback(ClientsideFunction("shoplens", "applyTheme"),
                            Output("shell-theme-dummy", "children"),
                            Input("shell-theme-switch", "value"))


# ------------------------------------------------------------------ layout
def navbar() -> dbc.Navbar:
    user = flask_login.current_user
    role = context.role()
    links = [dbc.NavItem(dbc.NavLink(page["name"], href=page["path"], active="exact",
                                     id={"type": "shell-nav-link", "path": page["path"]}))
             for page in visible_pages(role)]
    if role == "admin":
        links.append(dbc.DropdownMenu(
            [dbc.DropdownMenuItem(label, href=href, external_link=True)
             for label, href in ADMIN_LINKS],
            label="Admin", nav=True, in_navbar=True, id="shell-admin-menu"))
    who = getattr(user, "email", "") if role else ""
    return dbc.Navbar(dbc.Container([
        html.Div([
            dbc.Button("☰ Filters", id="shell-sidebar-toggle", color="link", size="sm",
                       className="d-md-none me-1 p-0 text-decoration-none"),
            dbc.NavbarBrand("Shoplens", href="/", className="fw-bold"),
        ], className="d-flex align-items-center"),
        dbc.NavbarToggler(id="shell-navbar-toggler"),
        dbc.Collapse([
            dbc.Nav(links, navbar=True, className="me-auto", id="shell-nav"),
            html.Div([
                *guide.scope_badge(),
                *([guide.tour_link()] if role else []),
                *(bell() if role else []),
                dbc.Switch(id="shell-theme-switch", label="Dark", value=False, persistence=True,
                           persistence_type="local",
                           className="mb-0 me-3 small"),
                # the user's e-mail opens their account page (password, weekly digest)
                html.A(who, id="shell-user", href="/account/password",
                       title=f"Your account (role: {role})" if role else None,
                       className="small text-body-secondary me-2 text-truncate",
                       style={"maxWidth": "14rem"}),
                # signing out is a POST with the CSRF token (webapp.auth.logout); no token
                # (so no session) for a layout built signed out: Dash builds one to check
                # it on the first request of a process, whatever that request is
                html.Form([
                    dcc.Input(type="hidden", name="csrf_token",
                              value=csrf.generate_csrf() if role else ""),
                    html.Button("Sign out", id="shell-logout", type="submit",
                                className="btn btn-outline-secondary btn-sm"),
                ], method="POST", action="/logout", className="mb-0"),
            ], className="d-flex align-items-center flex-wrap gap-1 py-2 py-lg-0"),
        ], id="shell-navbar-collapse", navbar=True, is_open=False),
    ], fluid=True), className="border-bottom shell-navbar", expand="lg", dark=False,
        color="body-tertiary")


def bell() -> list:
    """The notifications bell (signed-in users): the unread count on an icon, a popover
    listing the newest (title, time ago, link) with "Mark all read"; filled by
    ``refresh_bell`` on every page change and every ``BELL_POLL_MS``."""
    return [
        dbc.Button([html.Span("🔔", className="shell-bell-icon", **{"aria-hidden": "true"}),
                    dbc.Badge("", id="shell-bell-count", color="danger", pill=True,
                              className="ms-1 d-none")],
                   id="shell-bell", color="link", size="sm", title="Notifications",
                   className="me-2 p-0 text-decoration-none position-relative"),
        dbc.Popover([
            dbc.PopoverHeader(html.Div([
                html.Span("Notifications", className="fw-semibold me-auto"),
                dbc.Button("Mark all read", id="shell-bell-read", size="sm", color="link",
                           className="p-0"),
            ], className="d-flex align-items-center gap-2")),
            dbc.PopoverBody(html.Div(id="shell-bell-list", className="shell-bell-list",
                                     style={"maxHeight": "24rem", "overflowY": "auto",
                                            "minWidth": "18rem"})),
        ], id="shell-bell-popover", target="shell-bell", trigger="legacy",
            placement="bottom-end"),
        dcc.Interval(id="shell-bell-poll", interval=BELL_POLL_MS),
    ]


def sidebar() -> html.Div:
    """The filter controls; those of dimensions the data lacks start hidden
    (``dimension_fields``)."""
    fields = dimension_fields(Filters(), context.data_columns())
    hidden = fields[:len(DIMENSION_CONTROLS)]
    dimension_inputs = [
        html.Div([dbc.Label(label, html_for=f"shell-{name}", className="small mb-0"),
                  dcc.Dropdown(id=f"shell-{name}", multi=True, placeholder="All",
                               className="shell-dropdown"),
                  html.Div(id=f"shell-{name}-note", className="small text-warning")],
                 className="mb-2", id=f"shell-{name}-field", hidden=is_hidden)
        for (name, _field, label, _dimension), is_hidden in zip(DIMENSION_CONTROLS, hidden)]
    return html.Div([
        views_ui.section(),
        html.Div("Filters", className="fw-semibold mb-2"),
        dbc.Label("Period", html_for="shell-preset", className="small mb-0"),
        dcc.Dropdown(id="shell-preset", clearable=False, searchable=False,
                     className="shell-dropdown mb-1",
                     options=[{"label": label, "value": value}
                              for value, label in presets.PRESETS.items()]
                     + [{"label": "Custom range", "value": presets.CUSTOM}]),
        dcc.DatePickerRange(id="shell-dates", display_format="D MMM YY",
                            first_day_of_week=1, className="mb-2 shell-dates",
                            minimum_nights=0),
        *compare_controls(),
        *dimension_inputs,
        html.Div(fields[-1], id="shell-missing-columns",
                 className="small text-body-secondary mb-2"),
        dbc.Label("Unit price", className="small mb-0"),
        html.Div([
            dbc.Input(id="shell-min-price", type="number", min=0, placeholder="min",
                      debounce=True, size="sm"),
            dbc.Input(id="shell-max-price", type="number", min=0, placeholder="max",
                      debounce=True, size="sm"),
        ], className="d-flex gap-1 mb-2"),
        dbc.Label("Customer segment", html_for="shell-segment", className="small mb-0"),
        dcc.Dropdown(id="shell-segment", options=list(SEGMENTS), placeholder="All customers",
                     searchable=False,
                     className="shell-dropdown mb-2"),
        html.Div(id="shell-filter-error", className="small text-danger mb-2"),
        dbc.Button("Reset filters", id="shell-reset", color="secondary", outline=True,
                   size="sm", className="w-100 mb-2"),
        html.Div([dcc.Clipboard(id="shell-copy-link", title="Copy a link to this view",
                                className="d-inline-block me-1"),
                  html.Span("Copy link to this view", className="small text-body-secondary")],
                 className="d-flex align-items-center"),
    ], className="shell-sidebar-inner")


def first_path() -> str | None:
    """The path of the page the browser is opening, when the layout is being built for it.

    The layout travels in its own request (``/_dash-layout``) whose Referer is the page's
    URL (same origin: the Referrer-Policy sends it whole). Rendering that page into the
    layout lets its callbacks start at once instead of after the router's round trip (the
    overview's first load). Without a usable Referer the router renders it."""
    if not flask.has_request_context() or not flask.request.referrer:
        return None
    referrer = urlsplit(flask.request.referrer)
    if referrer.netloc and referrer.netloc != flask.request.host:
        return None
    return referrer.path or "/"


def layout() -> html.Div:
    """The app layout, built per request (the navbar depends on the signed-in user), with
    the page being opened already in it when its path is known (``first_path``).

    Two Locations: pages and the sidebar read the URL from ``shell-url``; the sidebar
    writes it through ``shell-url-writer`` (both follow every change of the address). Were
    the sidebar's callback to write ``shell-url`` itself, every page callback would wait
    for it on the first load, since Dash holds a callback while one of its inputs is the
    output of a callback in flight."""
    path = first_path()
    return html.Div([
        dcc.Location(id="shell-url", refresh="callback-nav"),
        dcc.Location(id="shell-url-writer", refresh="callback-nav"),
        dcc.Store(id="shell-rendered-path", data=path),
        dcc.Store(id="shell-link-params", data=LINK_PARAMS),
        dcc.Store(id="shell-synced-search"), dcc.Store(id="shell-url-review"),
        html.Div(id="shell-theme-dummy", hidden=True),
        navbar(),
        *([guide.tour_modal()] if context.role() else []),
        dbc.Container(dbc.Row([
            dbc.Col(dbc.Collapse(sidebar(), id="shell-sidebar", is_open=False),
                    md=3, xl=2, className="shell-sidebar border-end"),
            dbc.Col(html.Main([errors.alert(), chips.section(),
                               dcc.Loading(html.Div(page_content(path) if path else None,
                                                    id="shell-page"), type="circle",
                                           delay_show=300,
                                           overlay_style={"visibility": "visible"})],
                              className="py-3"), md=9, xl=10),
        ], className="g-0"), fluid=True),
    ], id="shell-root")


# ------------------------------------------------------------------ router
@_shell_callback(Output("shell-page", "children"), Output("shell-rendered-path", "data"),
                 Input("shell-url", "pathname"), State("shell-rendered-path", "data"))
def route(pathname, rendered):
    """The page for the path, unless the layout holds it already (``first_path``)."""
    if rendered is not None and rendered == pathname:
        return dash.no_update, dash.no_update
    return page_content(pathname), pathname


def page_content(pathname: str | None):
    """The page for the path, if the user's role allows it (checked here, on the server:
    hiding a link is not a permission check)."""
    page = find_page(pathname)
    if page is None:
        return components.empty_state(f"There is no page at {pathname}.", "shell-not-found")
    if not page_allowed(page, context.role()):
        return components.empty_state("This page is not available to your role.",
                                      "shell-forbidden")
    content = page["layout"]
    return content() if callable(content) else content


# ------------------------------------------------------------------ notifications
@_shell_callback(Output("shell-bell-count", "children"), Output("shell-bell-count", "className"),
                 Output("shell-bell-list", "children"),
                 Input("shell-url", "pathname"), Input("shell-bell-poll", "n_intervals"),
                 Input("shell-bell-read", "n_clicks"))
def refresh_bell(_pathname, _ticks, _read):
    """The signed-in user's own notifications (the user is asked for here, on the
    server): the unread count and the newest ones; "Mark all read" marks theirs."""
    user = security.current_db_user()
    if user is None:
        return "", "ms-1 d-none", components.empty_state("Sign in again.")
    session = security.db_session()
    if ctx.triggered_id == "shell-bell-read":
        notifications.mark_read(session, user)
        session.commit()
    unread = notifications.unread_count(session, user)
    listed = notifications.recent(session, user)
    if not listed:
        items = html.Div("Nothing yet: alerts that fire and reports that finish show here.",
                         className="small text-body-secondary")
    else:
        items = html.Div([_bell_item(note) for note in listed], id="shell-bell-items")
    return (str(unread) if unread else "", "ms-1" if unread else "ms-1 d-none", items)


def _bell_item(note) -> html.Div:
    title = (dcc.Link(note.title, href=note.link, className="text-decoration-none")
             if note.link and note.link.startswith("/") else html.Span(note.title))
    return html.Div([
        html.Div(title, className="small" + ("" if note.read_at else " fw-semibold")),
        html.Div(time_ago(note.created_at), className="small text-body-secondary"),
    ], className="border-bottom py-1")


def time_ago(when: dt.datetime, now: dt.datetime | None = None) -> str:
    """"just now", "5 min ago", "3 h ago", "2 d ago" (``when`` naive UTC)."""
    seconds = ((now or utcnow()) - when).total_seconds()
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h ago"
    return f"{int(seconds // 86400)} d ago"


# ------------------------------------------------------------------ navigation
#: The URL parameters the navbar's links carry to the next page: the filters and the
#: comparison (``Filters.to_params``), not a page's own (``grain=week``).
LINK_PARAMS = sorted(context.FILTER_PARAMS | {"compare", "compare_start", "compare_end"})


@_shell_callback(Output("shell-sidebar", "is_open"), Input("shell-sidebar-toggle", "n_clicks"),
          State("shell-sidebar", "is_open"), prevent_initial_call=True)
def toggle_sidebar(_clicks, is_open):
    return not is_open


@_shell_callback(Output("shell-navbar-collapse", "is_open"), Input("shell-navbar-toggler", "n_clicks"),
          State("shell-navbar-collapse", "is_open"), prevent_initial_call=True)
def toggle_navbar(_clicks, is_open):
    return not is_open


@_shell_callback(Output("shell-copy-link", "content"), Input("shell-copy-link", "n_clicks"),
          State("shell-url", "href"), prevent_initial_call=True)
def copy_link(_clicks, href):
    return href


# ------------------------------------------------------------------ theme
# The switch remembers itself in the browser (persistence); assets/shoplens.js applies it.


# ------------------------------------------------------------------ filters
def dimension_fields(filters: Filters, columns: context.DataColumns,
                     unknown: Mapping[str, str] | None = None) -> list:
    """For the dimension dropdowns: whether each is hidden, then each one's note, then
    the sidebar's sentence naming the columns the data lacks.

    A dimension the data lacks (``context.data_columns``) is hidden, unless ``filters``
    (the URL) filter by it: a shared link keeps its filter, shown with a note saying the
    data has no such column, so it can be cleared. ``unknown`` (dimension → note, from
    ``context.reviewed_filters``) names the values no line has, with the closest ones."""
    unknown = unknown or {}
    hidden, notes, lacking = [], [], []
    for _name, field, label, dimension in DIMENSION_CONTROLS:
        missing = dimension in columns.missing
        chosen = bool(getattr(filters, field))
        hidden.append(missing and not chosen)
        notes.append(f"{context.missing_column_text(dimension)} Clear this filter to see "
                     "sales." if missing and chosen else unknown.get(dimension, ""))
        if missing:
            lacking.append(label.lower())
    sentence = ""
    if len(lacking) == 1:
        sentence = f"This data has no {lacking[0]} column: its filter is hidden."
    elif lacking:
        names = ", ".join(lacking[:-1]) + " or " + lacking[-1]
        sentence = f"This data has no {names} column: their filters are hidden."
    return [*hidden, *notes, sentence]


def filter_options(filters: Filters) -> list[list[dict]]:
    """Options of the dimension dropdowns: the values present in the data the user may
    see, over the whole data range, by revenue (``context.dimension_values``: the values
    the filters are checked against), plus any value the URL names that is not among them
    (a shared link with ``country=FR`` must keep its filter: a dropdown drops values that
    are not options; an unknown value keeps its note, ``dimension_fields``)."""
    options = []
    missing = context.data_columns().missing
    for _name, field, _label, dimension in DIMENSION_CONTROLS:
        if dimension in missing:
            options.append([{"label": value, "value": value}
                            for value in getattr(filters, field)])
            continue
        try:
            known = [{"label": value, "value": value}
                     for value in context.dimension_values(dimension).names[:OPTION_LIMIT]]
        except context.Unavailable:
            known = []
        present = {option["value"] for option in known}
        options.append(known + [{"label": value, "value": value}
                                for value in getattr(filters, field) if value not in present])
    return options


FILTER_OUTPUTS = [Output("shell-preset", "value"), Output("shell-dates", "start_date"),
                  Output("shell-dates", "end_date"),
                  *[Output(f"shell-{name}", "value") for name, *_rest in DIMENSION_CONTROLS],
                  Output("shell-min-price", "value"), Output("shell-max-price", "value"),
                  Output("shell-segment", "value")]
OPTION_OUTPUTS = [Output(f"shell-{name}", "options") for name, *_rest in DIMENSION_CONTROLS]
FIELD_OUTPUTS = [*[Output(f"shell-{name}-field", "hidden")
                   for name, *_rest in DIMENSION_CONTROLS],
                 *[Output(f"shell-{name}-note", "children")
                   for name, *_rest in DIMENSION_CONTROLS],
                 Output("shell-missing-columns", "children")]
FILTER_INPUTS = [Input("shell-preset", "value"), Input("shell-dates", "start_date"),
                 Input("shell-dates", "end_date"),
                 *[Input(f"shell-{name}", "value") for name, *_rest in DIMENSION_CONTROLS],
                 Input("shell-min-price", "value"), Input("shell-max-price", "value"),
                 Input("shell-segment", "value")]


@_shell_callback(Output("shell-url-writer", "search"), *FILTER_OUTPUTS, *OPTION_OUTPUTS,
                 Output("shell-filter-error", "children"), *FIELD_OUTPUTS,
                 Output("shell-synced-search", "data"),
                 Input("shell-url-review", "data"), *FILTER_INPUTS,
                 Input("shell-reset", "n_clicks"), State("shell-url", "search"))
def sync_filters(_review, preset, start, end, *rest):
    """The URL query string and the sidebar, kept equal in both directions.

    On load or back/forward the URL wins: the sidebar shows its filters (with the resolved
    default period when it has no dates), each value as the data writes it
    (``country=france`` shows France), and a value no line has stays, with a note under its
    dropdown naming the closest values (``context.reviewed_filters``). A sidebar change
    writes the URL (through ``shell-url-writer``), so every view is a shareable link; page
    parameters (``grain=week``) are kept.

    ``shell-synced-search`` holds the URL the sidebar shows. A change of the URL reaches
    this callback (as ``shell-url-review``, assets/shoplens.js ``urlToReview``) only when
    it differs: the URL the sidebar wrote itself costs no request on its way back.
    """
    dimension_values = rest[:len(DIMENSION_CONTROLS)]
    min_price, max_price, segment = rest[len(DIMENSION_CONTROLS):len(DIMENSION_CONTROLS) + 3]
    search = rest[-1]
    # what the sidebar shows now (start and end are replaced below when a preset is chosen)
    shown = [preset, start, end, *dimension_values, min_price, max_price, segment]
    trigger = ctx.triggered_id
    data_days = _data_days()
    unchanged_options = [dash.no_update] * len(OPTION_OUTPUTS)
    unchanged_fields = [dash.no_update] * len(FIELD_OUTPUTS)
    if trigger == "shell-url-review" and _sidebar_filters(
            preset, start, end, dimension_values, min_price, max_price,
            segment) == _safe_filters(search).without_comparison():  # sync_comparison's
        return (dash.no_update, *[dash.no_update] * len(FILTER_OUTPUTS), *unchanged_options,
                dash.no_update, *unchanged_fields, synced(search))
    columns = context.data_columns()
    if trigger in (None, "shell-url-review"):
        try:
            filters = context.parse_filters(search)
        except context.Unavailable as exc:
            return (dash.no_update, *_controls(Filters(), data_days),
                    *filter_options(Filters()), str(exc), *dimension_fields(Filters(), columns),
                    synced(search))
        filters, unknown = context.reviewed_filters(filters)  # france → France, notes
        return (dash.no_update, *_controls(filters, data_days), *filter_options(filters), "",
                *dimension_fields(filters, columns, unknown), synced(search))
    if trigger == "shell-reset":
        written = context.replace_filters(search, Filters())
        return (written, *_controls(Filters(), data_days),
                *unchanged_options, "", *dimension_fields(Filters(), columns), synced(written))
    if trigger == "shell-preset" and preset != presets.CUSTOM and data_days:
        start, end = (day.isoformat() for day in presets.preset_range(preset, *data_days))
    try:
        filters = _sidebar_filters(preset, start, end, dimension_values, min_price, max_price,
                                   segment, strict=True)
    except FilterError as exc:
        return (dash.no_update, *[dash.no_update] * len(FILTER_OUTPUTS), *unchanged_options,
                str(exc), *unchanged_fields, dash.no_update)
    _reviewed, unknown = context.reviewed_filters(filters)  # a linked unknown value kept
    written = context.replace_filters(search, filters)
    # only what changed goes back: each output written costs the browser's renderer a
    # pass over every component of the page, and echoing the ~30 controls and notes as
    # they were delayed the page's callbacks by ~50 ms on every change (issue 17)
    return (written, *_changed(_controls(filters, data_days), shown), *unchanged_options, "",
            *_changed(dimension_fields(filters, columns, unknown),
                      _fields_shown(search, columns)), synced(written))


def _changed(values: list, shown: list) -> list:
    """``values``, with ``dash.no_update`` where the sidebar already shows the value."""
    return [dash.no_update if value == before and type(value) is type(before) else value
            for value, before in zip(values, shown)]


def _fields_shown(search: str | None, columns: context.DataColumns) -> list:
    """``dimension_fields`` of the URL the sidebar shows (before this change), or None
    for each (all written again) when that URL does not parse."""
    try:
        filters = context.parse_filters(search)
        _reviewed, unknown = context.reviewed_filters(filters)
    except context.Unavailable:
        return [None] * len(FIELD_OUTPUTS)
    return dimension_fields(filters, columns, unknown)


def synced(search: str | None) -> str:
    """``shell-synced-search``'s value for the URL ``search`` (compared in the browser
    with the address's query string, without its "?")."""
    return (search or "").lstrip("?")


# ------------------------------------------------------------------ comparison
#: "Compare with" choices (``Filters.compare``).
COMPARE_OPTIONS = [{"label": "Previous period", "value": "previous"},
                   {"label": "Same days last year", "value": "last_year"},
                   {"label": "Custom dates", "value": "custom"}]


def compare_controls() -> list:
    """"Compare with": the previous period, the same days last year, or two dates."""
    return [
        dbc.Label("Compare with", html_for="shell-compare", className="small mb-0"),
        dcc.Dropdown(id="shell-compare", options=COMPARE_OPTIONS, value="previous",
                     clearable=False, searchable=False, className="shell-dropdown mb-1"),
        html.Div(dcc.DatePickerRange(id="shell-compare-dates", display_format="D MMM YY",
                                     first_day_of_week=1, minimum_nights=0,
                                     className="shell-dates"),
                 id="shell-compare-custom", hidden=True, className="mb-1"),
        html.Div(id="shell-compare-error", className="small text-danger mb-2"),
    ]


@_shell_callback(Output("shell-url-writer", "search", allow_duplicate=True),
                 Output("shell-compare", "value"), Output("shell-compare-dates", "start_date"),
                 Output("shell-compare-dates", "end_date"),
                 Output("shell-compare-custom", "hidden"),
                 Output("shell-compare-error", "children"),
                 Output("shell-synced-search", "data", allow_duplicate=True),
                 Input("shell-url-review", "data"), Input("shell-compare", "value"),
                 Input("shell-compare-dates", "start_date"),
                 Input("shell-compare-dates", "end_date"), State("shell-url", "search"),
                 prevent_initial_call="initial_duplicate")
def sync_comparison(_review, compare, start, end, search):
    """The URL's ``compare`` parameters and the "Compare with" controls, kept equal. The
    filters' own callback (``sync_filters``) leaves these parameters as they are: they
    are not among ``context.FILTER_PARAMS``, so ``replace_filters`` keeps them."""
    start, end = (start or "")[:10] or None, (end or "")[:10] or None
    keep = dash.no_update
    if ctx.triggered_id in (None, "shell-url-review"):
        chosen = _safe_filters(search)
        shown = (chosen.compare,
                 chosen.compare_start.isoformat() if chosen.compare_start else None,
                 chosen.compare_end.isoformat() if chosen.compare_end else None)
        if shown == (compare, start, end) or (chosen.compare == compare != "custom"):
            return (keep,) * 5 + ("", keep)
        return (keep, *shown, chosen.compare != "custom", "", keep)
    compare = compare or "previous"
    if compare == "custom" and not (start and end):
        return keep, keep, keep, keep, False, "Choose the two dates to compare with.", keep
    custom = compare == "custom"
    wanted = context.with_params(search, compare=None if compare == "previous" else compare,
                                 compare_start=start if custom else None,
                                 compare_end=end if custom else None)
    try:
        Filters.from_query(wanted)
    except FilterError as exc:
        return keep, keep, keep, keep, not custom, str(exc), keep
    if wanted == (f"?{(search or '').lstrip('?')}" if (search or "").lstrip("?") else ""):
        return keep, keep, keep, keep, not custom, "", keep
    # the sidebar's filters are unchanged: the URL comes back without a review
    return wanted, keep, keep, keep, not custom, "", synced(wanted)


def _sidebar_filters(preset, start, end, dimension_values, min_price, max_price, segment, *,
                     strict: bool = False) -> Filters | None:
    """The Filters the sidebar's controls show; a value Filters refuses raises FilterError
    when ``strict``, else gives None."""
    query = {"start": (start or "")[:10], "end": (end or "")[:10],
             "min_price": "" if min_price is None else str(min_price),
             "max_price": "" if max_price is None else str(max_price),
             "segment": segment or ""}
    for (name, *_rest), values in zip(DIMENSION_CONTROLS, dimension_values):
        query[name] = list(values or [])
    try:
        return Filters.from_query(query)
    except FilterError:
        if strict:
            raise
        return None


def _controls(filters: Filters, data_days: tuple[dt.date, dt.date] | None) -> list:
    """Sidebar values for ``filters`` (resolved dates shown when the URL has none)."""
    start, end = filters.start, filters.end
    if data_days and (start is None or end is None):
        resolved = period.resolve(context.warehouse(), filters)
        start, end = resolved.start, resolved.end
    chosen = (presets.matching_preset(start, end, *data_days)
              if data_days and start and end else presets.CUSTOM)
    return [chosen, start.isoformat() if start else None, end.isoformat() if end else None,
            *[list(getattr(filters, field)) for _name, field, *_rest in DIMENSION_CONTROLS],
            filters.min_price, filters.max_price, filters.segment]


def _data_days() -> tuple[dt.date, dt.date] | None:
    try:
        first, last = period.data_range(context.warehouse())
    except WarehouseError as exc:  # no data yet: no presets
        log.info("no data range for the date presets: %s", exc)
        return None
    return (first, last) if first and last else None


def _safe_filters(search: str | None) -> Filters:
    try:
        return context.parse_filters(search)
    except context.Unavailable:
        return Filters()
