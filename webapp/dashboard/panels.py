"""The panels of dashboards on screen: ``core.panels`` declares each panel once and computes
what it shows (``Content``, plain data); this module draws that content with Dash: a chart
with the figure builder it names (``webapp.dashboard.figures``), a KPI card, a table (the
map's numbers on the offline world map) or the empty state.

``PANELS``, ``make_view`` and the rest are core's, named here for the pages and the API.
"""
from __future__ import annotations

import dash_bootstrap_components as dbc
import plotly.graph_objects as go
from dash import dcc, html

from analytics.filters import Filters, Scope
from core.panels import (NO_ACCESS, NO_CUSTOMERS, NO_DATA, NO_SALES, PANELS,  # noqa: F401
                         TABLE_ROWS, Chart, Content, Panel, PanelUnavailable, PanelView, get,
                         is_pinnable, make_view, preset_dates)
from webapp.dashboard import chart_text, context, figures


def figure_of(chart: Chart, notes=()) -> go.Figure:
    """The Plotly figure of ``chart``: its builder of ``figures`` called with its frame and
    options (and, for a time chart, the ``notes`` to mark on it)."""
    extra = {"notes": tuple(notes)} if notes and chart.figure in TIME_CHARTS else {}
    return getattr(figures, chart.figure)(chart.frame, **chart.options, **extra)


#: The figure builders with a date axis: notes on the timeline are marked on them.
TIME_CHARTS = frozenset({"trend"})


def render(panel: Panel, filters: str | Filters = "", scope: Scope | None = None, *,
           period_name: str | None = None, key: str = "") -> html.Div:
    """``panel`` as a Dash component for ``filters`` (a query string or Filters, a
    relative ``period_name`` replacing its dates) under ``scope`` (by default the
    signed-in user's), in the app's warehouse and currency. ``key`` makes the ids of the
    component unique on a page that shows the panel twice."""
    from webapp import services
    try:
        view = make_view(services.warehouse(), filters, scope if scope is not None
                         else context.scope(), period_name=period_name,
                         currency=services.locale())
    except PanelUnavailable as exc:
        return to_component(panel, Content(panel.kind, message=str(exc)), key)
    content = panel.content(view)
    marks = ()
    if content.chart is not None and content.chart.figure in TIME_CHARTS:
        from webapp.dashboard import notes   # the viewer's notes, under the viewer's scope
        marks = notes.chart_notes(view.filters.start, view.filters.end)
    return to_component(panel, content, key, view.currency, notes=marks)


def visible_to(role: str | None) -> list[Panel]:
    """The panels a role may pin, in declaration order."""
    from webapp.security import role_allows
    return [panel for panel in PANELS.values() if role_allows(role, panel.role)]


# ---------------------------------------------------------------------- Dash
def to_component(panel: Panel, content: Content, key: str = "",
                 currency: str = "£", notes=()) -> html.Div:
    """``content`` as Dash components: a graph, a KPI card, a table (the map's numbers on
    the offline world map) or the empty state; ids start with ``dashboards-`` (the page
    that shows tiles) and end with ``key``."""
    from webapp.dashboard import components
    prefix = f"dashboards-{key or panel.id}"
    if content.message:
        return components.empty_state(content.message)
    parts = []
    if content.kind == "kpi":
        parts.append(_kpi_card(prefix, content))
    elif content.chart is not None:
        figure = figure_of(content.chart, notes)
        parts.append(chart_text.labelled(
            f"{prefix}-graph", dcc.Graph(figure=figure, config={
                **figures.GRAPH_CONFIG, "displayModeBar": "hover"},   # as on the pages
                                         id=f"{prefix}-graph", style={"height": "320px"}),
            figure=figure, locale=currency, title=panel.title))
    else:
        if content.map_values is not None:
            parts.append(_world_map(content.map_values, currency))
        parts.append(_table(content, f"{prefix}-table"))
    if content.note:
        parts.append(html.Div(content.note, className="small text-body-secondary"))
    return html.Div(parts, id=prefix)


def _kpi_card(prefix: str, content: Content) -> html.Div:
    from webapp.dashboard import components
    kpi = content.kpi
    data = kpi["data"]
    change = data.get("abs_change")
    tone = "text-body-secondary"
    if change:
        good = (change < 0) if kpi["name"] in components.LOWER_IS_BETTER else (change > 0)
        tone = "text-success" if good else "text-danger"
    return html.Div([html.Div(kpi["value"], className="kpi-value", id=f"{prefix}-value"),
                     html.Div(kpi["change"], className=f"kpi-change {tone}",
                              id=f"{prefix}-change")])


def _table(content: Content, table_id: str) -> dbc.Table:
    def cell(index: int, text: str):
        return html.Td(text, className="text-end" if index in content.numeric else None)
    return dbc.Table([html.Thead(html.Tr([html.Th(name) for name in content.header])),
                      html.Tbody([html.Tr([cell(i, text) for i, text in enumerate(row)])
                                  for row in content.rows])],
                     size="sm", hover=True, responsive=True, className="mb-1", id=table_id)


def _world_map(values: dict[str, float], currency: str):
    """The Geography page's offline choropleth (shipped GeoJSON, the page's style
    functions), without the click-to-filter of the page."""
    import dash
    import dash_leaflet as dl
    if not values:
        return html.Div()
    return dl.Map([dl.GeoJSON(url=dash.get_asset_url("countries.geojson"),
                              style={"variable": "shoplensMap.style"},
                              hoverStyle={"variable": "shoplensMap.hover"},
                              onEachFeature={"variable": "shoplensMap.tooltip"},
                              hideout={"values": values, "max": max(values.values()),
                                       "selected": [], "currency": currency})],
                  center=[30, 10], zoom=1, minZoom=1, maxZoom=6, attributionControl=False,
                  style={"height": "260px", "width": "100%"}, className="mb-2")
