"""What tells a user where they stand: the "Your data: France, Germany" badge of a scoped
user (navbar of the dashboard and, through ``scope_names``, of the Flask pages), the demo
data banner on the Overview and the four-step tour.

The tour opens from "Take the tour" in the navbar, and by itself on a user's first visit
while the data is the demo data (a fresh installation: the moment a new user needs it; once
their own data is loaded it waits for the link). Whether a user has seen the tour or
dismissed the banner is kept in the browser (localStorage), per user id: nothing to store
on the server, and a shared browser still shows each user their own first run.
"""
from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
import flask_login
from dash import Input, Output, State, ctx, dcc, html
from dash.exceptions import PreventUpdate

from analytics import countries
from analytics.errors import ShoplensError
from analytics.filters import Scope
from webapp.dashboard import context

SCOPE_TIP = "You see only these countries' data; ask an admin to change it"
DEMO_TEXT = "You are looking at demo data (a made-up shop)."
#: The tour's steps: (title, text). Each names where the thing is on screen.
TOUR = (
    ("Filters", "The sidebar on the left (☰ Filters on a phone) sets the period, the "
                "comparison and filters such as country or channel. Every page follows "
                "them, and the chips above the page show them: click a chip to remove it."),
    ("KPI cards", "The cards on the Overview show each number against the comparison "
                  "period. Click ⓘ next to a card's name for its exact definition, the same "
                  "words as the product's metric definitions (METRICS.md)."),
    ("Chart menu", "The ⋯ menu of a chart or table exports exactly what it shows (CSV, "
                   "Excel, PNG) and pins it to one of your dashboards. Its tools (zoom, "
                   "download) appear when the pointer is over the chart."),
    ("Reports & Alerts", "The Reports page schedules a PDF of these numbers by e-mail; the "
                         "Alerts page watches a KPI and tells you when it crosses a "
                         "threshold. Both keep the filters you chose."),
)


# ------------------------------------------------------------------ scope badge
def scope_names(scope: Scope) -> str:
    """"France, Germany" for a scoped user (country names, sorted), "" for all data."""
    if scope.countries is None:
        return ""
    if not scope.countries:
        return "no country yet"
    return ", ".join(sorted(countries.country_name(code) for code in scope.countries))


def scope_badge() -> list:
    """The navbar's badge for a scoped user (nothing for an unscoped one or signed out)."""
    if context.role() is None:
        return []
    names = scope_names(context.scope())
    if not names:
        return []
    return [dbc.Badge(f"Your data: {names}", id="shell-scope-badge", color="info",
                      className="me-2 text-truncate shell-scope-badge", title=SCOPE_TIP,
                      style={"maxWidth": "18rem"}),
            dbc.Tooltip(SCOPE_TIP, target="shell-scope-badge", placement="bottom")]


# ------------------------------------------------------------------ demo data
def is_demo_data() -> bool:
    """Whether the current data version was loaded as the demo (its quality report's
    format, written by ``data.loader.load_demo``); False without data."""
    try:
        info = context.warehouse().version_info()
    except ShoplensError:
        return False
    return (info.quality or {}).get("format") == "demo"


def _user_key() -> str | None:
    user = flask_login.current_user
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return str(user.get_id())


def demo_banner() -> html.Div | None:
    """The Overview's banner on demo data, dismissible (``overview-demo-dismissed`` keeps the
    user ids that dismissed it in this browser); None on real data."""
    if not is_demo_data():
        return None
    if context.role() == "admin":
        load = [" Load your own on the ", html.A("Data page", href="/data",
                                                  id="overview-demo-link"), "."]
    else:
        load = [" An admin can load your shop's data on the Data page."]
    return html.Div([
        dcc.Store(id="overview-demo-dismissed", storage_type="local"),
        dcc.Store(id="overview-demo-user", data=_user_key()),
        dbc.Alert([html.Strong(DEMO_TEXT), *load,
                   " New here? “Take the tour” at the top shows where things are.",
                   dbc.Button("Dismiss", id="overview-demo-dismiss", size="sm",
                              color="link", className="ms-2 p-0 align-baseline")],
                  id="overview-demo", color="info", className="small py-2",
                  is_open=False),
    ])


# ------------------------------------------------------------------ tour
def tour_link() -> dbc.Button:
    return dbc.Button("Take the tour", id="shell-tour-open", color="link", size="sm",
                      className="p-0 me-2 text-nowrap text-decoration-none")


def tour_modal() -> html.Div:
    """The tour (closed); ``shell-tour-first`` says whether this visit may open it by itself."""
    return html.Div([
        dcc.Store(id="shell-tour-first", data=_user_key() if is_demo_data() else None),
        dcc.Store(id="shell-tour-seen", storage_type="local"),
        dcc.Store(id="shell-tour-step", data=0),
        dbc.Modal([
            dbc.ModalHeader(dbc.ModalTitle(id="shell-tour-title")),
            dbc.ModalBody(id="shell-tour-body"),
            dbc.ModalFooter([
                html.Span(id="shell-tour-count", className="small text-body-secondary me-auto"),
                dbc.Button("Back", id="shell-tour-back", color="secondary", outline=True,
                           size="sm"),
                dbc.Button("Next", id="shell-tour-next", color="primary", size="sm"),
            ]),
        ], id="shell-tour", is_open=False, centered=True),
    ])


def _tour_view(step: int) -> tuple:
    title, text = TOUR[step]
    last = step == len(TOUR) - 1
    return (title, text, f"{step + 1} of {len(TOUR)}", step == 0, "Done" if last else "Next")


def tour(_open, _next, _back, seen, first, step):
    """Open, move through and close the tour; open it by itself once per user on demo
    data (``first`` holds the user's id then), remembering that in ``shell-tour-seen``."""
    step = step or 0
    trigger = ctx.triggered_id
    seen = list(seen or [])
    if trigger in (None, "shell-tour-seen"):
        if not first or first in seen:
            raise PreventUpdate
        return (True, 0, [*seen, first], *_tour_view(0))
    if trigger == "shell-tour-open":
        return (True, 0, dash.no_update, *_tour_view(0))
    if trigger == "shell-tour-next":
        if step >= len(TOUR) - 1:
            return (False, 0, dash.no_update, *_tour_view(0))
        step += 1
    elif trigger == "shell-tour-back":
        step = max(step - 1, 0)
    return (True, step, dash.no_update, *_tour_view(step))


def dismiss_demo(_clicks, dismissed, user):
    """Hide the banner for good (in this browser) for the user who dismissed it."""
    dismissed = list(dismissed or [])
    if ctx.triggered_id == "overview-demo-dismiss" and user and user not in dismissed:
        dismissed.append(user)
        return False, dismissed
    return (user not in dismissed), dash.no_update


def register_callbacks(app: dash.Dash) -> None:
    app.callback(
        Output("shell-tour", "is_open"), Output("shell-tour-step", "data"),
        Output("shell-tour-seen", "data"), Output("shell-tour-title", "children"),
        Output("shell-tour-body", "children"), Output("shell-tour-count", "children"),
        Output("shell-tour-back", "disabled"), Output("shell-tour-next", "children"),
        Input("shell-tour-open", "n_clicks"), Input("shell-tour-next", "n_clicks"),
        Input("shell-tour-back", "n_clicks"),
        Input("shell-tour-seen", "data"), State("shell-tour-first", "data"),
        State("shell-tour-step", "data"))(tour)
    app.callback(
        Output("overview-demo", "is_open"), Output("overview-demo-dismissed", "data"),
        Input("overview-demo-dismiss", "n_clicks"), Input("overview-demo-dismissed", "data"),
        State("overview-demo-user", "data"))(dismiss_demo)
