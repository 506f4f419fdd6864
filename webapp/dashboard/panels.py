"""The panels a user may pin to a dashboard, each declared once (``PANELS``).

A panel is one chart, KPI card or table of a page, under the page's own component id
(``overview-trend``, ``products-top``; a KPI card ``overview-kpi-revenue``), with the page
it comes from and the least role that sees it. ``Panel.content(view)`` computes what it
shows with the page's own analytics call and figure builder (``figures``) under an explicit
``PanelView`` (warehouse, resolved filters, data scope, currency), not the signed-in user:
a dashboard tile draws under its VIEWER's scope, the API and the PDF under the caller's.
``Panel.render(filters, scope)`` turns the content into a Dash component; the PDF
(``core.reports.dashboard_pdf``) draws the same content with matplotlib.

Each declaration is registered with ``core.dashboards.register_panel`` on import, which is
how the dashboards service knows the ids and roles it checks tiles against.

Page modules are imported inside the builders, never at the top: Dash imports the pages
itself when the app starts, and a page imported before it would register its callbacks
twice.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

import dash_bootstrap_components as dbc
import pandas as pd
import plotly.graph_objects as go
from dash import dcc, html

from analytics import (breakdowns, cache, catalog, cohorts, customers, errors, filter_values,
                       kpis, period, products, quality, series)
from analytics.filters import FilterError, Filters, Scope
from analytics.warehouse import NoDataError, Warehouse
from core import dashboards
from core.formatting import KPI_LABELS, format_change, format_value
from webapp.dashboard import context, figures

KINDS = ("chart", "kpi", "table")
NO_DATA, NO_SALES, NO_ACCESS = context.NO_DATA, context.NO_SALES, context.NO_ACCESS
NO_CUSTOMERS = "No identified customers for these filters."


class PanelUnavailable(errors.Unavailable):
    """The panel has nothing to show; the message says why (its empty state)."""


@dataclass(frozen=True)
class PanelView:
    """What a panel draws from: the warehouse, filters with their period resolved against
    the data, the viewer's data scope and the currency."""
    warehouse: Warehouse
    filters: Filters
    scope: Scope
    currency: str = "£"

    def query(self, function: Callable, **options):
        """``function(warehouse, filters, scope, **options)`` through the analytics cache;
        a domain error becomes ``PanelUnavailable`` with its message."""
        try:
            return cache.default_cache().call(function, self.warehouse, self.filters,
                                              self.scope, **options)
        except NoDataError:
            raise PanelUnavailable(NO_DATA) from None
        except errors.ShoplensError as exc:
            raise PanelUnavailable(exc.message) from None


@dataclass
class Content:
    """What a panel shows, independent of Dash: a figure (``chart``), one KPI (``kpi``:
    label, value and change as text), a table (``header`` and rows of text) or, for any
    kind, the ``message`` of its empty state."""
    kind: str
    figure: go.Figure | None = None
    kpi: dict | None = None
    header: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    numeric: set[int] = field(default_factory=set)
    message: str | None = None
    note: str | None = None
    map_values: dict[str, float] | None = None


@dataclass(frozen=True)
class Panel:
    id: str
    title: str
    kind: str
    page: str
    role: str
    build: Callable[[PanelView], Content]
    description: str = ""

    def content(self, view: PanelView) -> Content:
        """The panel's content, or its empty state when there is nothing to show."""
        try:
            return self.build(view)
        except PanelUnavailable as exc:
            return Content(self.kind, message=str(exc))

    def render(self, filters: str | Filters = "", scope: Scope | None = None, *,
               period_name: str | None = None, key: str = "") -> html.Div:
        """The panel as a Dash component for ``filters`` (a query string or Filters, a
        relative ``period_name`` replacing its dates) under ``scope`` (by default the
        signed-in user's), in the app's warehouse and currency. ``key`` makes the ids of
        the component unique on a page that shows the panel twice."""
        from webapp import services
        try:
            view = make_view(services.warehouse(), filters, scope if scope is not None
                             else context.scope(), period_name=period_name,
                             currency=services.settings().currency)
        except PanelUnavailable as exc:
            return to_component(self, Content(self.kind, message=str(exc)), key)
        return to_component(self, self.content(view), key, view.currency)


# ---------------------------------------------------------------------- views
def make_view(warehouse: Warehouse, filters: str | Filters, scope: Scope, *,
              period_name: str | None = None, currency: str = "£") -> PanelView:
    """The view of ``filters`` under ``scope``: each filter value as the data writes it,
    the dates of ``period_name`` (a date preset, relative to the data's last day) or of
    the filters, else the default period (``analytics.period.resolve``)."""
    try:
        parsed = filters if isinstance(filters, Filters) else Filters.from_query(filters or "")
    except FilterError as exc:
        raise PanelUnavailable(f"Check the filters: {exc}") from None
    if scope.countries is not None and not scope.countries:
        raise PanelUnavailable(NO_ACCESS)
    try:
        if warehouse.current_version() is None:
            raise PanelUnavailable(NO_DATA)
        parsed = filter_values.resolve(warehouse, parsed, scope)
        if period_name:
            parsed = parsed.with_period(*preset_dates(warehouse, period_name))
        return PanelView(warehouse, period.resolve(warehouse, parsed), scope, currency)
    except NoDataError:
        raise PanelUnavailable(NO_DATA) from None
    except errors.ShoplensError as exc:
        raise PanelUnavailable(exc.message) from None


def preset_dates(warehouse: Warehouse, name: str) -> tuple[dt.date, dt.date]:
    """(start, end) of a date preset (``presets.PRESETS``) for the current data."""
    from webapp.dashboard import presets
    first_day, last_day = period.data_range(warehouse)
    if first_day is None or last_day is None:
        raise PanelUnavailable(NO_DATA)
    try:
        return presets.preset_range(name, first_day, last_day)
    except ValueError as exc:
        raise PanelUnavailable(str(exc)) from None


# ---------------------------------------------------------------------- builders
def _kpi(name: str) -> Callable[[PanelView], Content]:
    def build(view: PanelView) -> Content:
        summary = view.query(kpis.kpi_summary).to_dict()
        kpi = summary["kpis"][name]
        label, kind = KPI_LABELS[name]
        value = kpi.get("current")
        return Content("kpi", kpi={
            "name": name, "label": label, "data": kpi,
            "value": format_value(value, kind, view.currency),
            "change": (kpi.get("reason") or "no data") if value is None else
            format_change(kpi.get("abs_change"), kpi.get("rel_change"), kind, view.currency)})
    return build


def _trend(view: PanelView) -> Content:
    from webapp.dashboard.pages import overview
    frame = view.query(series.time_series, grain=overview.trend_grain(view.filters.days))
    if not frame["revenue"].any():
        raise PanelUnavailable(NO_SALES)
    return Content("chart", figure=figures.trend(
        frame, x="period_start", y="revenue", last_year="revenue_last_year",
        currency=view.currency))


def _sales_series(view: PanelView) -> Content:
    frame = view.query(series.time_series, grain="day")
    if not frame["revenue"].any() and not frame["orders"].any():
        raise PanelUnavailable(NO_SALES)
    return Content("chart", figure=figures.trend(
        frame, x="period_start", y="revenue", last_year="revenue_last_year",
        currency=view.currency, label="Revenue per day"))


def _top_products(view: PanelView) -> Content:
    from webapp.dashboard.pages import products as page
    frame = view.query(products.top_products, n=page.TOP_PRODUCTS)
    if frame.empty:
        raise PanelUnavailable(NO_SALES)
    labelled = frame.assign(name=frame["description"].fillna(frame["product_id"]))
    with_profit = page.has_profit(labelled)
    return Content("chart", figure=figures.bars(
        labelled, label="name", value="revenue", key="product_id",
        color="profit" if with_profit else None, currency=view.currency),
        note=page.TOP_WITH_PROFIT if with_profit else page.TOP_WITHOUT_PROFIT)


def _categories(view: PanelView) -> Content:
    from webapp.dashboard.pages import products as page
    if "category" in quality.data_columns(view.warehouse).missing:
        raise PanelUnavailable(context.missing_column_text("category"))
    frame = view.query(products.category_performance)
    if frame.empty:
        raise PanelUnavailable(NO_SALES)
    with_profit = page.has_profit(frame)
    values = {"revenue": "Revenue", "profit": "Profit"} if with_profit else {"revenue": "Revenue"}
    return Content("chart", figure=figures.grouped_bars(
        frame, label="category", key="category", values=values, currency=view.currency),
        note=None if with_profit else page.CATEGORIES_WITHOUT_PROFIT)


def _breakdown(dimension: str, top: int, height: int = 300) -> Callable[[PanelView], Content]:
    """Revenue by ``dimension`` (the Geography and Insights pages' bars); the Insights
    page's empty states for data without the column or without any value in it."""
    def build(view: PanelView) -> Content:
        columns = quality.data_columns(view.warehouse)
        if dimension in columns.missing:
            raise PanelUnavailable(context.missing_column_text(dimension))
        frame = view.query(breakdowns.breakdown, dimension=dimension, top=top)
        frame = frame[frame["key"] != breakdowns.OTHERS_KEY]
        if not frame["revenue"].any():
            raise PanelUnavailable(NO_SALES)
        gap = context.breakdown_gap(frame, dimension, columns)
        if gap:
            raise PanelUnavailable(gap)
        return Content("chart", figure=figures.bars(
            frame, label="label", value="revenue", key="key", currency=view.currency,
            height=height))
    return build


def _country_map(view: PanelView) -> Content:
    """The map's numbers: revenue per country (the PDF and the API show them as a table,
    the dashboard on the page's offline map)."""
    frame = view.query(breakdowns.breakdown, dimension="country")
    shown = frame[frame["revenue"] > 0]
    if shown.empty:
        raise PanelUnavailable(NO_SALES)
    coded = shown[shown["country_code"].notna()]
    return Content("table", header=["Country", "Net revenue", "Orders"], numeric={1, 2},
                   rows=[[str(label), format_value(revenue, "money", view.currency),
                          format_value(orders, "count", "")]
                         for label, revenue, orders in zip(shown["label"], shown["revenue"],
                                                           shown["orders"])],
                   map_values=dict(zip(coded["country_code"], coded["revenue"].astype(float))))


def _treemap(view: PanelView) -> Content:
    frame = view.query(products.treemap)
    if frame.empty:
        raise PanelUnavailable(NO_SALES)
    return Content("chart", figure=figures.treemap(
        frame, path=["country", "city", "category"], value="revenue", currency=view.currency))


def _segments(view: PanelView) -> Content:
    frame = view.query(customers.rfm_segments)
    if not frame["customers"].any():
        raise PanelUnavailable(NO_CUSTOMERS)
    return Content("chart", figure=figures.segment_treemap(frame, currency=view.currency))


def _ltv(view: PanelView) -> Content:
    distribution = view.query(customers.ltv_distribution)
    if not distribution.customers:
        raise PanelUnavailable(NO_CUSTOMERS)
    return Content("chart", figure=figures.histogram(
        distribution.histogram, start="bin_start", end="bin_end", count="customers",
        currency=view.currency, markers={"mean": distribution.mean,
                                         "median": distribution.median}))


def _cohorts(view: PanelView) -> Content:
    table = view.query(cohorts.period_cohorts, measure="customers", max_offset=12)
    if table.empty:
        raise PanelUnavailable("No cohorts for these filters.")
    matrix = cohorts.cohort_matrix(table)
    matrix.index = [f"{pd.Timestamp(cohort):%b %Y}" for cohort in matrix.index]
    return Content("chart", figure=figures.heatmap(
        matrix, colour_range=figures.retention_range(matrix, "customers")))


def _customer_list(view: PanelView) -> Content:
    frame, total = view.query(customers.customers_page, sort="monetary", descending=True,
                              page=1, page_size=TABLE_ROWS)
    if not total:
        raise PanelUnavailable(NO_CUSTOMERS)
    return Content("table", header=["Customer", "Country", "Segment", "Days since last order",
                                    "Orders", "Net revenue"], numeric={3, 4, 5},
                   rows=[[str(row["customer_id"]), str(row["country"] or ""),
                          str(row["segment"] or ""), format_value(row["recency"], "count", ""),
                          format_value(row["frequency"], "count", ""),
                          format_value(row["monetary"], "money", view.currency)]
                         for row in frame.to_dict("records")],
                   note=f"The {min(TABLE_ROWS, total)} of {total:,} customers with the "
                        "highest net revenue")


def _product_table(view: PanelView) -> Content:
    from webapp.dashboard.pages import products as page
    frame = view.query(products.top_products, n=page.TOP_PRODUCTS)
    if frame.empty:
        raise PanelUnavailable(NO_SALES)
    return Content("table", header=["Product", "Description", "Net revenue", "Units",
                                    "Orders"], numeric={2, 3, 4},
                   rows=[[str(row["product_id"]), str(row["description"] or ""),
                          format_value(row["revenue"], "money", view.currency),
                          format_value(row["units"], "count", ""),
                          format_value(row["orders"], "count", "")]
                         for row in frame.to_dict("records")])


#: Rows of a table tile (a dashboard shows the head of a list; the page pages through it).
TABLE_ROWS = 20


def _declare() -> dict[str, Panel]:
    panels = [Panel(f"overview-kpi-{name}", KPI_LABELS[name][0], "kpi", "overview", "viewer",
                    _kpi(name), "KPI card against the previous period")
              for name in catalog.CARD_KPIS]
    panels += [
        Panel("overview-trend", "Revenue over time", "chart", "overview", "viewer", _trend,
              "vs the same days a year earlier"),
        Panel("sales-series", "Revenue per day", "chart", "sales", "viewer", _sales_series,
              "vs the same days a year earlier"),
        Panel("products-top", "Top products", "chart", "products", "viewer", _top_products,
              "net revenue of the 20 best sellers"),
        Panel("products-top-table", "Top products (table)", "table", "products", "viewer",
              _product_table, "the 20 best sellers by net revenue"),
        Panel("products-categories", "Revenue and profit by category", "chart", "products",
              "viewer", _categories),
        Panel("geography-top", "Top 15 countries", "chart", "geography", "viewer",
              _breakdown("country", 15)),
        Panel("geography-map", "Revenue by country", "table", "geography", "viewer",
              _country_map, "the map's numbers"),
        Panel("geography-treemap", "Country → city → category", "chart", "geography",
              "viewer", _treemap),
        Panel("customers-segments", "RFM segments", "chart", "customers", "viewer",
              _segments, "size = customers, colour = revenue"),
        Panel("customers-ltv", "Customer lifetime value", "chart", "customers", "viewer",
              _ltv),
        Panel("customers-cohorts", "Cohort retention", "chart", "customers", "viewer",
              _cohorts, "share of each first-purchase month's customers buying again"),
        Panel("customers-list", "Top customers", "table", "customers", "viewer",
              _customer_list, "the 20 customers with the highest net revenue"),
    ]
    for dimension in catalog.DIMENSIONS:
        if dimension.insight:
            panels.append(Panel(f"insights-performance-{dimension.param}",
                                f"Revenue by {dimension.noun}", "chart", "insights",
                                "viewer", _breakdown(dimension.name, 10)))
    return {panel.id: panel for panel in panels}


PANELS: dict[str, Panel] = _declare()
for _panel in PANELS.values():
    dashboards.register_panel(_panel.id, _panel.title, _panel.role)


def is_pinnable(panel_id) -> bool:
    """Whether ``panel_id`` (a page's graph, KPI card or table id) can be pinned."""
    return isinstance(panel_id, str) and panel_id in PANELS


def get(panel_id: str) -> Panel:
    dashboards.panel_rule(panel_id)  # the service's message for an unknown id
    return PANELS[panel_id]


def visible_to(role: str | None) -> list[Panel]:
    """The panels a role may pin, in declaration order."""
    from webapp.security import role_allows
    return [panel for panel in PANELS.values() if role_allows(role, panel.role)]


# ---------------------------------------------------------------------- Dash
def to_component(panel: Panel, content: Content, key: str = "",
                 currency: str = "£") -> html.Div:
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
    elif content.figure is not None:
        parts.append(dcc.Graph(figure=content.figure, config=figures.GRAPH_CONFIG,
                               id=f"{prefix}-graph", style={"height": "320px"}))
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


# ---------------------------------------------------------------------- PDF
def printable(title: str, content: Content, view_text: str | None = None):
    """``content`` as the PDF renderer's plain ``TileContent`` (figures as their traces'
    lists, so that ``core`` never sees Plotly)."""
    from core.reports.dashboard_pdf import TileContent
    tile = TileContent(title=title, kind=content.kind, message=content.message,
                       note=content.note, view=view_text, header=list(content.header),
                       rows=[list(row) for row in content.rows], numeric=set(content.numeric))
    if content.kpi:
        tile.value, tile.change = content.kpi["value"], content.kpi["change"]
    if content.figure is not None:
        layout = content.figure.layout
        tile.traces = figure_traces(content.figure)
        tile.barmode = layout.barmode
        tile.money_axis = ("y" if layout.yaxis.tickprefix else
                           "x" if layout.xaxis.tickprefix else None)
    return tile


def figure_traces(figure: go.Figure) -> list:
    """Each trace of ``figure`` as a ``Trace`` of plain lists (dates as ISO text)."""
    from core.reports.dashboard_pdf import Trace

    def plain(values):
        if values is None:
            return None
        if hasattr(values, "tolist"):
            values = values.tolist()
        out = []
        for item in values:
            if isinstance(item, (list, tuple)) or hasattr(item, "tolist"):
                out.append(plain(item))
            elif isinstance(item, (dt.date, pd.Timestamp)):
                out.append(item.isoformat())
            else:
                out.append(item)
        return out

    traces = []
    for trace in figure.data:
        traces.append(Trace(type=trace.type, name=getattr(trace, "name", None),
                            x=plain(getattr(trace, "x", None)), y=plain(getattr(trace, "y", None)),
                            z=plain(getattr(trace, "z", None)),
                            labels=plain(getattr(trace, "labels", None)),
                            parents=plain(getattr(trace, "parents", None)),
                            values=plain(getattr(trace, "values", None)),
                            orientation=getattr(trace, "orientation", None),
                            mode=getattr(trace, "mode", None)))
    return traces
