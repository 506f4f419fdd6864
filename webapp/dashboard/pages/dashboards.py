"""Dashboards: pages each user composes from the charts, KPI cards and tables of the other
pages (``webapp.dashboard.panels``), shared with nobody, everybody or chosen users
(``core.dashboards``; docs/dashboards.md).

``/dashboards?dashboard=3`` opens one; the global filter sidebar drives it like any page:
tiles that follow the dashboard draw with the URL's filters (or, while the URL has none,
with the dashboard's saved filters and relative period, which picking a dashboard puts in
the URL); a tile with its own filters keeps them. "Save filters" stores the URL's filters
on the dashboard, a period that is one of the sidebar's presets by its name (it stays
relative). Tiles sit in a grid: S a third of a row, M half, L the whole row.

Every tile draws server-side under the VIEWER's data scope and role. Every callback asks
for the signed-in user again and the service checks each id the browser sends: another
user's private dashboard is "not found", a shared one opens read-only (no edit controls,
and its changes are refused)."""
from __future__ import annotations

from urllib.parse import parse_qs

import dash
import dash_bootstrap_components as dbc
import sqlalchemy as sa
from dash import ALL, Input, Output, State, callback, dcc, html

from analytics import period
from analytics.errors import ShoplensError
from analytics.filters import FilterError, Filters
from core import dashboard_content, dashboards
from core.orm import User, utcnow
from webapp import security
from webapp.dashboard import components, context, panels, presets

dash.register_page(__name__, path="/dashboards", name="Dashboards",
                   title="Shoplens · Dashboards", order=9, role="viewer")

#: Tile size → the share of a row it takes on a medium or wider screen (of 12 columns).
WIDTHS = {"S": 4, "M": 6, "L": 12}
SIZE_LABELS = {"S": "Small (⅓)", "M": "Medium (½)", "L": "Large (full row)"}
#: The dashboard's PDF (``webapp.api.dashboards``), under the reader's scope.
PDF_ROUTE = "/api/v1/dashboards/{}/pdf"
#: The Reports page's schedule form with this dashboard chosen (schedules need the
#: analyst role, as the Reports page does).
SCHEDULE_ROUTE = "/reports?schedule_dashboard={}"
SHARING_LABELS = {"private": "Private", "everyone": "Everyone signed in",
                  "users": "Chosen colleagues"}


def layout(**_query) -> html.Div:
    return html.Div([
        components.page_header("Dashboards", "Pin charts, KPI cards and tables from any "
                                             "page; the filters on the left apply"),
        dcc.Store(id="dashboards-changed", data=None),
        html.Div([
            dbc.Select(id="dashboards-picker", size="sm", options=[],
                       style={"maxWidth": "20rem"}),
            dbc.Input(id="dashboards-new-name", size="sm", placeholder="New dashboard name",
                      maxLength=200, style={"maxWidth": "16rem"}),
            dbc.Button("New dashboard", id="dashboards-create", size="sm", color="primary"),
            html.Span(id="dashboards-pdf-slot", className="ms-auto"),
        ], className="d-flex flex-wrap gap-2 align-items-center mb-2"),
        html.Div(id="dashboards-editor", children=[
            html.Div([
                dbc.Select(id="dashboards-add-panel", size="sm", options=[],
                           placeholder="Add a chart, KPI or table…",
                           style={"maxWidth": "24rem"}),
                dbc.Select(id="dashboards-add-size", size="sm", value="M",
                           options=[{"label": label, "value": size}
                                    for size, label in SIZE_LABELS.items()],
                           style={"maxWidth": "11rem"}),
                dbc.Button("Add tile", id="dashboards-add", size="sm", color="secondary"),
                dbc.Input(id="dashboards-rename-name", size="sm", placeholder="New name",
                          maxLength=200, style={"maxWidth": "12rem"}),
                dbc.Button("Rename", id="dashboards-rename", size="sm", color="secondary",
                           outline=True),
                dbc.Button("Save filters", id="dashboards-save-filters", size="sm",
                           color="secondary", outline=True,
                           title="Keep the sidebar's filters and period with this "
                                 "dashboard"),
                dbc.Select(id="dashboards-sharing", size="sm", value="private",
                           options=[{"label": label, "value": value}
                                    for value, label in SHARING_LABELS.items()],
                           style={"maxWidth": "14rem"}),
                html.Div(dcc.Dropdown(id="dashboards-share-users", multi=True, options=[],
                                      placeholder="Choose colleagues…"),
                         id="dashboards-share-users-field", hidden=True,
                         style={"minWidth": "16rem"},
                         title="Each colleague sees the tiles under their own data scope"),
                dcc.ConfirmDialogProvider(
                    dbc.Button("Delete dashboard", size="sm", color="danger", outline=True),
                    id="dashboards-delete",
                    message="Delete this dashboard, its tiles and the schedules that e-mail "
                            "it? This cannot be undone."),
            ], className="d-flex flex-wrap gap-2 align-items-center"),
        ], className="mb-2"),
        html.Div(id="dashboards-message", className="small mb-2"),
        html.Div(id="dashboards-info", className="small text-body-secondary mb-2"),
        dcc.Loading(html.Div(id="dashboards-grid"), type="dot", delay_show=150),
    ])


# ---------------------------------------------------------------------- helpers
def requested_id(search: str | None) -> int | None:
    values = parse_qs((search or "").lstrip("?")).get("dashboard")
    try:
        return int(values[-1]) if values else None
    except ValueError:
        return None


def selected(session, user, search: str | None):
    """The dashboard the URL names (``DashboardNotFound`` if the user may not see it),
    else the user's first one, else None."""
    wanted = requested_id(search)
    if wanted is not None:
        return dashboards.get_dashboard(session, user, wanted)
    listed = dashboards.list_dashboards(session, user)
    return listed[0] if listed else None


def has_url_filters(search: str | None) -> bool:
    return bool(set(parse_qs((search or "").lstrip("?"))) & context.FILTER_PARAMS)


def dashboard_search(dashboard) -> str:
    """The URL query that opens ``dashboard`` with its saved filters (a relative period
    as the dates it means today)."""
    try:
        filters = Filters.from_query(dashboard.filters or "")
        if dashboard.period:
            filters = filters.with_period(*panels.preset_dates(context.warehouse(),
                                                               dashboard.period))
    except (FilterError, panels.PanelUnavailable, context.DATA_ERRORS):
        filters = Filters()
    return context.with_params(context.replace_filters("", filters),
                               dashboard=str(dashboard.id))


def saved_view(search: str | None) -> tuple[str, str | None]:
    """(filters, period) to store for the URL's filters: dates that are one of the
    sidebar's presets become its name, so that the view stays relative."""
    filters = context.parse_filters(search)
    if filters.start and filters.end:
        try:
            first, last = period.data_range(context.warehouse())
        except context.DATA_ERRORS:
            first = last = None
        if first and last:
            name = presets.matching_preset(filters.start, filters.end, first, last)
            if name != presets.CUSTOM:
                return filters.without_dates().to_query(), name
    return filters.to_query(), None


def describe_view(filters: str, period_name: str | None) -> str:
    return dashboard_content.describe_view(filters, period_name, "the default period")


def _warning(text: str) -> dbc.Alert:
    return dbc.Alert(text, color="warning", className="py-1 px-2 mb-0 small",
                     id="dashboards-warning")


def _user():
    user = security.current_db_user()
    return user if user is not None and user.is_active else None


# ---------------------------------------------------------------------- the grid
def tile_view_args(dashboard, tile, search: str | None) -> tuple[str, str | None]:
    """(filters, period) a tile draws with: its own, or the URL's, or (no filter in the
    URL) the dashboard's saved ones."""
    if not tile.follow_dashboard:
        return tile.filters or "", tile.period
    if has_url_filters(search):
        return search or "", None
    return dashboard.filters or "", dashboard.period


def tile_card(dashboard, tile, search: str | None, user, editable: bool, count: int):
    panel = panels.PANELS.get(tile.panel)
    title = tile.title or (panel.title if panel else tile.panel)
    if panel is None:
        body = components.empty_state(f"The panel {tile.panel!r} no longer exists.")
    elif not user.has_role(panel.role):
        body = components.empty_state(f"This tile needs the {panel.role} role.")
    else:
        filters, period_name = tile_view_args(dashboard, tile, search)
        body = panels.render(panel, filters, context.scope(), period_name=period_name,
                             key=f"tile-{tile.id}")
    header = [html.Span(title, className="fw-semibold me-auto",
                        id={"type": "dashboards-tile-title", "index": tile.id})]
    if not tile.follow_dashboard:
        header.append(html.Small(f"own filters: {describe_view(tile.filters or '', tile.period)}",
                                 className="text-body-secondary me-2"))
    if editable:
        header += [
            dbc.Button("↑", id={"type": "dashboards-tile-up", "index": tile.id}, size="sm",
                       color="link", title="Move up", disabled=tile.position == 0),
            dbc.Button("↓", id={"type": "dashboards-tile-down", "index": tile.id},
                       size="sm", color="link", title="Move down",
                       disabled=tile.position >= count - 1),
            dbc.Select(id={"type": "dashboards-tile-size", "index": tile.id}, size="sm",
                       value=tile.size, options=[{"label": s, "value": s} for s in WIDTHS],
                       style={"width": "4.5rem"}),
            html.Span(dbc.Switch(id={"type": "dashboards-tile-follow", "index": tile.id},
                                 value=bool(tile.follow_dashboard), label="follow",
                                 className="small ms-2 mb-0"),
                      title="On: the dashboard's filters. Off: keep the filters on screen "
                            "now as the tile's own"),
            dbc.Button("✕", id={"type": "dashboards-tile-remove", "index": tile.id},
                       size="sm", color="link", className="text-danger", title="Remove"),
        ]
    card = dbc.Card([dbc.CardHeader(html.Div(header, className="d-flex align-items-center "
                                                               "gap-1 flex-wrap")),
                     dbc.CardBody(body)],
                    className="chart-card h-100 dashboards-tile",
                    id={"type": "dashboards-tile", "index": tile.id})
    return dbc.Col(card, xs=12, md=WIDTHS.get(tile.size, 6), className="mb-3")


@callback(Output("dashboards-picker", "options"), Output("dashboards-picker", "value"),
          Output("dashboards-grid", "children"), Output("dashboards-editor", "hidden"),
          Output("dashboards-add-panel", "options"), Output("dashboards-sharing", "value"),
          Output("dashboards-info", "children"), Output("dashboards-pdf-slot", "children"),
          Output("dashboards-share-users", "options"), Output("dashboards-share-users", "value"),
          Input("shell-url", "search"), Input("dashboards-changed", "data"))
def show(search, _changed):
    """The user's dashboards in the picker and the chosen one's tiles, each drawn under
    the viewer's scope; the edit controls for its owner or an admin only."""
    user = _user()
    if user is None:
        return [], None, components.empty_state("Sign in to see dashboards."), True, [], \
            "private", "", None, [], []
    session = security.db_session()
    listed = dashboards.list_dashboards(session, user)
    options = [{"label": board.name if board.owner_id == user.id
                else f"{board.name} (shared by {board.owner.name or board.owner.email})",
                "value": str(board.id)} for board in listed]
    pinnable = [{"label": f"{panel.title} · {panel.page.capitalize()}", "value": panel.id}
                for panel in panels.visible_to(user.role)]
    try:
        dashboard = selected(session, user, search)
    except dashboards.DashboardNotFound as exc:
        return options, None, components.empty_state(f"{exc.message}: it does not exist or "
                                                     "is not shared with you."), True, \
            pinnable, "private", "", None, [], []
    if dashboard is None:
        return options, None, components.empty_state(
            "No dashboard yet: name one above and press “New dashboard”, then add tiles "
            "(or pin them from any page's charts)."), True, pinnable, "private", "", None, \
            [], []
    editable = dashboards.can_edit(user, dashboard)
    tiles = sorted(dashboard.tiles, key=lambda tile: tile.position)
    cards = [tile_card(dashboard, tile, search, user, editable, len(tiles)) for tile in tiles]
    grid = dbc.Row(cards, className="g-3") if cards else components.empty_state(
        "No tiles yet: add one above." if editable else "This dashboard has no tiles yet.")
    owner = "yours" if dashboard.owner_id == user.id else \
        f"shared by {dashboard.owner.name or dashboard.owner.email}" + \
        ("" if editable else " (read-only)")
    info = (f"{dashboard.name}: {owner} · {len(tiles)} of {dashboards.MAX_TILES} tiles · "
            f"saved filters: {describe_view(dashboard.filters or '', dashboard.period)}")
    if str(dashboard.id) not in {option["value"] for option in options}:
        options.append({"label": f"{dashboard.name} (another user's)",
                        "value": str(dashboard.id)})
    return (options, str(dashboard.id), html.Div(grid, id="dashboards-tiles"), not editable,
            pinnable, dashboard.sharing, info,
            html.Span([
                html.A("Download PDF", id="dashboards-pdf", href=PDF_ROUTE.format(dashboard.id),
                       className="btn btn-outline-secondary btn-sm",
                       title="The dashboard as a PDF, under your data scope"),
                html.A("Schedule as PDF", id="dashboards-schedule",
                       href=SCHEDULE_ROUTE.format(dashboard.id),
                       className="btn btn-outline-secondary btn-sm ms-1",
                       title="E-mail it as a PDF daily, weekly or monthly: each recipient "
                             "sees their own data (Reports page)")
                if user.has_role("analyst") else None]),
            colleagues(session, dashboard) if editable else [],
            list(dashboard.shared_with or []))


def colleagues(session, dashboard) -> list[dict]:
    """Active users the dashboard can be shared with: everybody but its owner, by e-mail
    (whoever is chosen sees each tile under their own scope and role)."""
    people = session.scalars(sa.select(User).where(
        User.is_active.is_(True), User.id != dashboard.owner_id).order_by(User.email))
    return [{"label": person.name and f"{person.name} ({person.email})" or person.email,
             "value": person.id} for person in people]


@callback(Output("dashboards-share-users-field", "hidden"),
          Input("dashboards-sharing", "value"), Input("dashboards-editor", "hidden"))
def show_colleagues(sharing, editor_hidden):
    """The colleagues picker shows while "Chosen colleagues" is the sharing."""
    return bool(editor_hidden) or sharing != "users"


@callback(Output("shell-url", "search", allow_duplicate=True),
          Input("dashboards-picker", "value"), State("shell-url", "search"),
          prevent_initial_call=True)
def pick(value, search):
    """Opening another dashboard puts its id and saved filters in the URL."""
    user = _user()
    if user is None or not value or str(requested_id(search)) == str(value):
        return dash.no_update
    try:
        dashboard = dashboards.get_dashboard(security.db_session(), user, int(value))
    except (ValueError, dashboards.DashboardNotFound):
        return dash.no_update
    return dashboard_search(dashboard)


def _changed():
    return utcnow().isoformat()


@callback(Output("shell-url", "search", allow_duplicate=True),
          Output("dashboards-message", "children", allow_duplicate=True),
          Output("dashboards-new-name", "value"),
          Input("dashboards-create", "n_clicks"), State("dashboards-new-name", "value"),
          State("shell-url", "search"), prevent_initial_call=True)
def create(clicks, name, search):
    """A new dashboard with the sidebar's current filters, opened at once."""
    user = _user()
    if not clicks or user is None:
        return dash.no_update, dash.no_update, dash.no_update
    session = security.db_session()
    try:
        filters, period_name = saved_view(search)
        dashboard = dashboards.create_dashboard(session, user, {
            "name": (name or "").strip() or "My dashboard", "filters": filters,
            "period": period_name})
        session.commit()
    except (ShoplensError, context.Unavailable) as exc:
        session.rollback()
        return dash.no_update, _warning(f"Not created: {exc}"), dash.no_update
    return (context.with_params(search, dashboard=str(dashboard.id)),
            f"Created “{dashboard.name}”: add tiles to it.", "")


def _current_for_change(session, user, search):
    dashboard = selected(session, user, search)
    if dashboard is None:
        raise dashboards.DashboardError("create a dashboard first")
    return dashboard


@callback(Output("dashboards-changed", "data", allow_duplicate=True),
          Output("dashboards-message", "children", allow_duplicate=True),
          Input("dashboards-add", "n_clicks"), State("dashboards-add-panel", "value"),
          State("dashboards-add-size", "value"), State("shell-url", "search"),
          prevent_initial_call=True)
def add(clicks, panel_id, size, search):
    user = _user()
    if not clicks or user is None:
        return dash.no_update, dash.no_update
    if not panel_id:
        return dash.no_update, _warning("Choose a chart, KPI or table to add.")
    session = security.db_session()
    try:
        dashboard = _current_for_change(session, user, search)
        tile = dashboards.add_tile(session, user, dashboard.id, str(panel_id),
                                   size=size or "M")
        session.commit()
    except ShoplensError as exc:
        session.rollback()
        return dash.no_update, _warning(f"Not added: {exc.message}")
    return _changed(), f"Added “{dashboards.tile_to_dict(tile)['title']}”."


TILE_BUTTONS = ("dashboards-tile-up", "dashboards-tile-down", "dashboards-tile-remove")


@callback(Output("dashboards-changed", "data", allow_duplicate=True),
          Output("dashboards-message", "children", allow_duplicate=True),
          *[Input({"type": kind, "index": ALL}, "n_clicks") for kind in TILE_BUTTONS],
          State("shell-url", "search"), prevent_initial_call=True)
def tile_button(_up, _down, _remove, search):
    """Move a tile up or down, or remove it (owner or admin; the tile must be on the
    dashboard the URL names)."""
    trigger = dash.ctx.triggered_id
    if not isinstance(trigger, dict) or not any(item.get("value")
                                                for item in dash.ctx.triggered):
        return dash.no_update, dash.no_update  # the grid was redrawn
    user = _user()
    if user is None:
        return dash.no_update, dash.no_update
    session = security.db_session()
    try:
        dashboard = _current_for_change(session, user, search)
        tile_id = int(trigger.get("index"))
        if trigger["type"] == "dashboards-tile-remove":
            dashboards.remove_tile(session, user, dashboard.id, tile_id)
            message = "Tile removed."
        else:
            direction = "up" if trigger["type"] == "dashboards-tile-up" else "down"
            dashboards.move_tile(session, user, dashboard.id, tile_id, direction)
            message = f"Tile moved {direction}."
        session.commit()
    except (ShoplensError, TypeError, ValueError) as exc:
        session.rollback()
        return dash.no_update, _warning(f"Not changed: {getattr(exc, 'message', exc)}")
    return _changed(), message


@callback(Output("dashboards-changed", "data", allow_duplicate=True),
          Output("dashboards-message", "children", allow_duplicate=True),
          Input({"type": "dashboards-tile-size", "index": ALL}, "value"),
          Input({"type": "dashboards-tile-follow", "index": ALL}, "value"),
          State("shell-url", "search"), prevent_initial_call=True)
def tile_setting(_sizes, _follows, search):
    """A tile's size, or whether it follows the dashboard: switched off, the tile keeps
    the filters on screen now as its own."""
    trigger = dash.ctx.triggered_id
    if not isinstance(trigger, dict) or len(dash.ctx.triggered) != 1:
        return dash.no_update, dash.no_update  # the grid was redrawn
    value = dash.ctx.triggered[0].get("value")
    user = _user()
    if user is None:
        return dash.no_update, dash.no_update
    session = security.db_session()
    try:
        dashboard = _current_for_change(session, user, search)
        tile = dashboards.get_tile(session, user, dashboard.id, int(trigger.get("index")))
        if trigger["type"] == "dashboards-tile-size":
            if value == tile.size:
                return dash.no_update, dash.no_update
            changes = {"size": value}
        else:
            if bool(value) == bool(tile.follow_dashboard):
                return dash.no_update, dash.no_update
            changes = {"follow_dashboard": bool(value)}
            if not value:
                filters, period_name = saved_view(
                    search if has_url_filters(search) else dashboard_search(dashboard))
                changes.update(filters=filters, period=period_name)
        dashboards.update_tile(session, user, dashboard.id, tile.id, changes)
        session.commit()
    except (ShoplensError, TypeError, ValueError) as exc:
        session.rollback()
        return dash.no_update, _warning(f"Not changed: {getattr(exc, 'message', exc)}")
    return _changed(), "Tile changed."


@callback(Output("dashboards-changed", "data", allow_duplicate=True),
          Output("dashboards-message", "children", allow_duplicate=True),
          Input("dashboards-save-filters", "n_clicks"), Input("dashboards-sharing", "value"),
          Input("dashboards-share-users", "value"),
          State("shell-url", "search"), prevent_initial_call=True)
def save_settings(clicks, sharing, chosen, search):
    """Save the sidebar's filters on the dashboard, or change who it is shared with
    (everyone, nobody, or the colleagues chosen in the picker)."""
    trigger = dash.ctx.triggered_id
    user = _user()
    if user is None:
        return dash.no_update, dash.no_update
    session = security.db_session()
    try:
        dashboard = _current_for_change(session, user, search)
        if trigger == "dashboards-save-filters":
            if not clicks:
                return dash.no_update, dash.no_update
            filters, period_name = saved_view(search)
            dashboards.update_dashboard(session, user, dashboard.id,
                                        {"filters": filters, "period": period_name})
            message = f"Saved filters: {describe_view(filters, period_name)}."
        elif trigger == "dashboards-share-users":
            chosen = sorted({int(value) for value in chosen or []})
            if chosen == sorted(dashboard.shared_with or []) or sharing != "users" or \
                    not dashboards.can_edit(user, dashboard):
                return dash.no_update, dash.no_update
            changes = {"sharing": "users", "shared_with": chosen} if chosen else \
                {"sharing": "private"}
            dashboards.update_dashboard(session, user, dashboard.id, changes)
            names = [person.email for person in session.scalars(
                sa.select(User).where(User.id.in_(chosen)).order_by(User.email))]
            message = (f"Shared with {', '.join(names)}: each sees the tiles under their "
                       "own data scope.") if chosen else "Sharing: Private."
        else:
            if not sharing or sharing == dashboard.sharing or not dashboards.can_edit(
                    user, dashboard):
                return dash.no_update, dash.no_update
            if sharing == "users" and not dashboard.shared_with:
                return dash.no_update, "Choose the colleagues to share it with."
            dashboards.update_dashboard(session, user, dashboard.id, {"sharing": sharing})
            message = f"Sharing: {SHARING_LABELS[sharing]}."
        session.commit()
    except (ShoplensError, context.Unavailable) as exc:
        session.rollback()
        return dash.no_update, _warning(f"Not saved: {getattr(exc, 'message', exc)}")
    return _changed(), message


@callback(Output("dashboards-changed", "data", allow_duplicate=True),
          Output("dashboards-message", "children", allow_duplicate=True),
          Output("dashboards-rename-name", "value"),
          Input("dashboards-rename", "n_clicks"), State("dashboards-rename-name", "value"),
          State("shell-url", "search"), prevent_initial_call=True)
def rename(clicks, name, search):
    user = _user()
    if not clicks or user is None:
        return dash.no_update, dash.no_update, dash.no_update
    session = security.db_session()
    try:
        dashboard = _current_for_change(session, user, search)
        dashboards.update_dashboard(session, user, dashboard.id,
                                    {"name": (name or "").strip()})
        session.commit()
    except ShoplensError as exc:
        session.rollback()
        return dash.no_update, _warning(f"Not renamed: {exc.message}"), dash.no_update
    return _changed(), f"Renamed to “{dashboard.name}”.", ""


@callback(Output("shell-url", "search", allow_duplicate=True),
          Output("dashboards-message", "children", allow_duplicate=True),
          Input("dashboards-delete", "submit_n_clicks"), State("shell-url", "search"),
          prevent_initial_call=True)
def delete(clicks, search):
    user = _user()
    if not clicks or user is None:
        return dash.no_update, dash.no_update
    session = security.db_session()
    try:
        dashboard = _current_for_change(session, user, search)
        name = dashboard.name
        schedules_gone = dashboards.delete_dashboard(session, user, dashboard.id)
        session.commit()
    except ShoplensError as exc:
        session.rollback()
        return dash.no_update, _warning(f"Not deleted: {exc.message}")
    gone = (f" and the {schedules_gone} schedule(s) that e-mailed it" if schedules_gone
            else "")
    return context.with_params(search, dashboard=None), f"Deleted “{name}”{gone}."
