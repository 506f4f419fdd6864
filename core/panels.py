"""The panels a user may pin to a dashboard, each declared once (``PANELS``), and what each
shows: its data step, independent of Dash and Plotly.

A panel is one chart, KPI card or table of a page, under the page's own component id
(``overview-trend``, ``products-top``; a KPI card ``overview-kpi-revenue``), with the page
it comes from and the least role that sees it. ``Panel.content(view)`` reads the analytics
the page reads, under an explicit ``PanelView`` (warehouse, resolved filters, data scope,
currency), not a signed-in user: a dashboard tile draws under its VIEWER's scope, the API,
the PDF and a scheduled PDF under their reader's.

The content is plain data (``Content``): a KPI's value and change as text, a table's rows
as text, or a ``Chart``: the name of the figure builder that draws it on screen
(``webapp.dashboard.figures``), its frame and options. The web layer turns a chart into a
Plotly figure (``webapp.dashboard.panels``); the PDF (``core.dashboard_content``) redraws
the same frame with matplotlib. So a worker, which may not import webapp, prints a
dashboard from the same declarations the page draws.

Each declaration is registered with ``core.dashboards.register_panel`` on import, which is
how the dashboards service knows the ids and roles it checks tiles against.
"""
from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analytics import (breakdowns, cache, catalog, cohorts, customers, errors, filter_values,
                       kpis, period, products, quality, series)
from analytics.filters import ALL_DATA, FilterError, Filters, Scope
from analytics.models import insights
from analytics.measures import NONE_LABEL
from analytics.quality import DataColumns
from analytics.warehouse import NoDataError, Warehouse
from core import dashboards
from core.formatting import KPI_LABELS, format_change, format_value

log = logging.getLogger(__name__)

KINDS = ("chart", "kpi", "table")
NO_DATA = "No data loaded yet: an admin can load a file on the Data page."
NO_SALES = "No sales for these filters."
NO_ACCESS = "Your account cannot see any data yet: ask an admin for a data scope."
NO_CUSTOMERS = "No identified customers for these filters."
#: The Products page's best sellers (its chart, its table and their tiles).
TOP_PRODUCTS = 20
TOP_WITH_PROFIT = "net revenue, colour = profit"
TOP_WITHOUT_PROFIT = "net revenue; no cost data"
CATEGORIES_WITHOUT_PROFIT = "Revenue only: no cost data"
#: Rows of a table tile (a dashboard shows the head of a list; the page pages through it).
TABLE_ROWS = 20


class PanelUnavailable(errors.Unavailable):
    """The panel has nothing to show; the message says why (its empty state)."""


# ---------------------------------------------------------------------- shared rules
def missing_column_text(dimension: str) -> str:
    """"This data has no channel column." for a breakdown dimension."""
    return f"This data has no {_noun(dimension)} column."


def _noun(dimension: str) -> str:
    known = catalog.BY_NAME.get(dimension)
    return known.noun if known is not None else dimension


def breakdown_gap(frame, dimension: str, columns: DataColumns) -> str | None:
    """Why a breakdown of ``dimension`` (``analytics.breakdowns.breakdown``'s frame) has
    no bars worth drawing, for its empty state: the data has no such column, or none of
    the sales in view has a value (all under the missing key "(none)"); None when it has
    values to show."""
    if dimension in columns.missing:
        return missing_column_text(dimension)
    if len(frame) and set(frame["key"]) <= {NONE_LABEL}:
        return f"None of these sales has a {_noun(dimension)}."
    return None


def has_profit(frame: pd.DataFrame) -> bool:
    """Whether any row of a products frame has a profit (rows without cost data have NaN)."""
    return "profit" in frame and bool(frame["profit"].notna().any())


def trend_grain(days: int) -> str:
    """Day for up to a quarter, week up to two years, month beyond."""
    if days <= 92:
        return "day"
    return "week" if days <= 731 else "month"


# ---------------------------------------------------------------------- values
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
class Chart:
    """A chart as data: ``figure`` names the builder of ``webapp.dashboard.figures`` that
    draws it on screen, called as ``builder(frame, **options)``; the PDF reads the same
    frame and options (``core.dashboard_content.chart_traces``)."""
    figure: str
    frame: pd.DataFrame
    options: dict = field(default_factory=dict)


@dataclass
class Content:
    """What a panel shows: a ``chart``, one KPI (``kpi``: name, label, data, value and
    change as text), a table (``header`` and rows of text, ``numeric`` column indexes) or,
    for any kind, the ``message`` of its empty state."""
    kind: str
    chart: Chart | None = None
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
    """(start, end) of a date preset (``core.dashboards.PERIODS``) for the current data."""
    first_day, last_day = period.data_range(warehouse)
    if first_day is None or last_day is None:
        raise PanelUnavailable(NO_DATA)
    try:
        return period.preset_range(name, first_day, last_day)
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
    frame = view.query(series.time_series, grain=trend_grain(view.filters.days))
    if not frame["revenue"].any():
        raise PanelUnavailable(NO_SALES)
    return Content("chart", chart=Chart("trend", frame, {
        "x": "period_start", "y": "revenue", "last_year": "revenue_last_year",
        "currency": view.currency}))


def _sales_series(view: PanelView) -> Content:
    frame = view.query(series.time_series, grain="day")
    if not frame["revenue"].any() and not frame["orders"].any():
        raise PanelUnavailable(NO_SALES)
    return Content("chart", chart=Chart("trend", frame, {
        "x": "period_start", "y": "revenue", "last_year": "revenue_last_year",
        "currency": view.currency, "label": "Revenue per day"}))


def _top_products(view: PanelView) -> Content:
    frame = view.query(products.top_products, n=TOP_PRODUCTS)
    if frame.empty:
        raise PanelUnavailable(NO_SALES)
    labelled = frame.assign(name=frame["description"].fillna(frame["product_id"]))
    with_profit = has_profit(labelled)
    return Content("chart", chart=Chart("bars", labelled, {
        "label": "name", "value": "revenue", "key": "product_id",
        "color": "profit" if with_profit else None, "currency": view.currency}),
        note=TOP_WITH_PROFIT if with_profit else TOP_WITHOUT_PROFIT)


def _categories(view: PanelView) -> Content:
    if "category" in quality.data_columns(view.warehouse).missing:
        raise PanelUnavailable(missing_column_text("category"))
    frame = view.query(products.category_performance)
    if frame.empty:
        raise PanelUnavailable(NO_SALES)
    with_profit = has_profit(frame)
    values = {"revenue": "Revenue", "profit": "Profit"} if with_profit else {"revenue": "Revenue"}
    return Content("chart", chart=Chart("grouped_bars", frame, {
        "label": "category", "key": "category", "values": values, "currency": view.currency}),
        note=None if with_profit else CATEGORIES_WITHOUT_PROFIT)


def _breakdown(dimension: str, top: int, height: int = 300) -> Callable[[PanelView], Content]:
    """Revenue by ``dimension`` (the Geography and Insights pages' bars); the Insights
    page's empty states for data without the column or without any value in it."""
    def build(view: PanelView) -> Content:
        columns = quality.data_columns(view.warehouse)
        if dimension in columns.missing:
            raise PanelUnavailable(missing_column_text(dimension))
        frame = view.query(breakdowns.breakdown, dimension=dimension, top=top)
        frame = frame[frame["key"] != breakdowns.OTHERS_KEY]
        if not frame["revenue"].any():
            raise PanelUnavailable(NO_SALES)
        gap = breakdown_gap(frame, dimension, columns)
        if gap:
            raise PanelUnavailable(gap)
        return Content("chart", chart=Chart("bars", frame, {
            "label": "label", "value": "revenue", "key": "key", "currency": view.currency,
            "height": height}))
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
    return Content("chart", chart=Chart("treemap", frame, {
        "path": ["country", "city", "category"], "value": "revenue",
        "currency": view.currency}))


def _segments(view: PanelView) -> Content:
    frame = view.query(customers.rfm_segments)
    if not frame["customers"].any():
        raise PanelUnavailable(NO_CUSTOMERS)
    return Content("chart", chart=Chart("segment_treemap", frame,
                                        {"currency": view.currency}))


def _ltv(view: PanelView) -> Content:
    distribution = view.query(customers.ltv_distribution)
    if not distribution.customers:
        raise PanelUnavailable(NO_CUSTOMERS)
    return Content("chart", chart=Chart("histogram", distribution.histogram, {
        "start": "bin_start", "end": "bin_end", "count": "customers",
        "currency": view.currency,
        "markers": {"mean": distribution.mean, "median": distribution.median}}))


def retention_range(matrix: pd.DataFrame, measure: str) -> tuple[float, float]:
    """The colour range of a cohort retention heatmap: customer retention is a share, 0 to
    100 %; revenue retention (a month's revenue ÷ the first month's) may pass 100 %, so
    its scale runs from 0 to its 95th percentile, at least 100 %."""
    if measure == "customers":
        return 0.0, 1.0
    values = matrix.to_numpy(dtype="float64")
    values = values[np.isfinite(values)]
    top = float(np.quantile(values, 0.95)) if values.size else 1.0
    return 0.0, max(1.0, top)


def _cohorts(view: PanelView) -> Content:
    table = view.query(cohorts.period_cohorts, measure="customers", max_offset=12)
    if table.empty:
        raise PanelUnavailable("No cohorts for these filters.")
    matrix = cohorts.cohort_matrix(table)
    matrix.index = [f"{pd.Timestamp(cohort):%b %Y}" for cohort in matrix.index]
    return Content("chart", chart=Chart("heatmap", matrix, {
        "colour_range": retention_range(matrix, "customers")}))


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
    frame = view.query(products.top_products, n=TOP_PRODUCTS)
    if frame.empty:
        raise PanelUnavailable(NO_SALES)
    return Content("table", header=["Product", "Description", "Net revenue", "Units",
                                    "Orders"], numeric={2, 3, 4},
                   rows=[[str(row["product_id"]), str(row["description"] or ""),
                          format_value(row["revenue"], "money", view.currency),
                          format_value(row["units"], "count", ""),
                          format_value(row["orders"], "count", "")]
                         for row in frame.to_dict("records")])


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


def warm(warehouse: Warehouse, filters: Filters | None = None, scope: Scope = ALL_DATA) -> int:
    """Every panel's analytics for ``filters`` (default: the default view) under ``scope``
    into the analytics cache, with what the Overview reads beside its panels (the KPI
    cards' daily sparklines, "What changed"): after a load, the first visitor of each
    page finds its default view computed. Returns the panels drawn; a panel failing is
    logged and skipped, nothing is raised."""
    try:
        view = make_view(warehouse, filters or Filters(), scope)
    except PanelUnavailable as exc:
        log.info("nothing to warm: %s", exc)
        return 0
    done = 0
    for panel in PANELS.values():
        try:
            panel.content(view)
            done += 1
        except Exception:
            log.exception("warming the panel %s failed", panel.id)
    for function, options in ((series.time_series, {"grain": "day"}),
                              (insights.insights, {})):
        try:
            view.query(function, **options)
        except Exception:
            log.exception("warming %s failed", function.__qualname__)
    return done
