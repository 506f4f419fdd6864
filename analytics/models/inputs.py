"""The small frames the models read, as SQL on the warehouse (DuckDB and PostgreSQL alike).

Every query restricts line items with ``analytics.filters.line_conditions(filters, scope)``
(the data scope is always applied) and aggregates in the database, so only per-day,
per-invoice or per-customer rows reach pandas. Values follow METRICS.md: *net revenue* is
the line value of sale lines plus the (negative) line value of return lines; *orders* are
distinct invoices with a sale line; *units* are the quantity of sale lines. The segment
filter keeps the lines of that segment's customers (``analytics.segments.segment_condition``:
segments computed over the filters' period), so guests' lines drop out with it.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import pandas as pd
import sqlalchemy as sa

from analytics import catalog, schema
from analytics.filters import Filters, Scope, line_conditions
from analytics.measures import read_frame
from analytics.segments import segment_condition

lines = schema.fact_lines
counted = sa.or_(lines.c.is_sale, lines.c.is_return)  # lines that enter any metric

#: Dimensions an anomaly can be explained by: name → fact column.
BREAKDOWN_DIMENSIONS = {d.name: d.column for d in catalog.DIMENSIONS if d.explains_anomalies}
#: Dimensions whose largest values the anomaly detector monitors one by one.
SLICE_DIMENSIONS = tuple(d.name for d in catalog.DIMENSIONS if d.monitored)


def _conditions(warehouse, filters: Filters, scope: Scope) -> list:
    """The filters, the scope and the segment filter as WHERE conditions on fact lines."""
    return [*line_conditions(filters, scope),
            segment_condition(warehouse, filters, scope, table=lines)]


def _net_value():
    return sa.func.sum(lines.c.line_value)


def _sum_if(condition, value):
    return sa.func.coalesce(sa.func.sum(sa.case((condition, value), else_=0.0)), 0.0)


def _orders():
    return sa.func.count(sa.distinct(sa.case((lines.c.is_sale, lines.c.invoice_id))))


def _read(warehouse, statement) -> pd.DataFrame:
    """The statement's rows as a frame (``measures.read_frame``: DuckDB hands its result
    over column by column, 10x faster than Python rows on the 1M-line demo's invoices)."""
    with warehouse.connect() as conn:
        return read_frame(conn, statement)


def _as_dates(frame: pd.DataFrame, *columns: str) -> pd.DataFrame:
    for column in columns:
        frame[column] = pd.to_datetime(frame[column]).astype("datetime64[us]")
    return frame


def _numbers(frame: pd.DataFrame, *columns: str) -> pd.DataFrame:
    for column in columns:
        frame[column] = pd.to_numeric(frame[column]).astype(float)
    return frame


def daily_series(warehouse, filters: Filters, scope: Scope) -> pd.DataFrame:
    """One row per calendar day from the first to the last day with a counted line (days
    without lines are filled with 0). Columns: ``date`` (datetime64), ``revenue`` (net),
    ``gross_revenue``, ``returns`` (positive), ``orders``, ``units``, ``aov`` (gross revenue
    ÷ orders, NaN on days without orders)."""
    statement = (
        sa.select(lines.c.invoice_date.label("date"),
                  _sum_if(lines.c.is_sale, lines.c.line_value).label("gross_revenue"),
                  (0.0 - _sum_if(lines.c.is_return, lines.c.line_value)).label("returns"),
                  _orders().label("orders"),
                  _sum_if(lines.c.is_sale, lines.c.quantity).label("units"))
        .where(counted, *_conditions(warehouse, filters, scope))
        .group_by(lines.c.invoice_date).order_by(lines.c.invoice_date))
    frame = _numbers(_as_dates(_read(warehouse, statement), "date"),
                     "gross_revenue", "returns", "orders", "units")
    if frame.empty:
        return pd.DataFrame({"date": pd.Series(dtype="datetime64[us]"),
                             **{c: pd.Series(dtype=float) for c in
                                ("revenue", "gross_revenue", "returns", "orders", "units",
                                 "aov")}})
    days = pd.date_range(frame["date"].min(), frame["date"].max(), freq="D", unit="us")
    frame = frame.set_index("date").reindex(days, fill_value=0.0).rename_axis("date")
    frame = frame.reset_index()
    frame["revenue"] = frame["gross_revenue"] - frame["returns"]
    frame["aov"] = frame["gross_revenue"] / frame["orders"].where(frame["orders"] > 0)
    return frame[["date", "revenue", "gross_revenue", "returns", "orders", "units", "aov"]]


def item_daily_units(warehouse, filters: Filters, scope: Scope, level: str,
                     items: Iterable[str]) -> pd.DataFrame:
    """Units sold per day for the given products (``level="product"``) or categories.
    Columns: ``item``, ``date``, ``units``; only days with sales appear."""
    column = lines.c.product_id if level == "product" else lines.c.category
    statement = (
        sa.select(column.label("item"), lines.c.invoice_date.label("date"),
                  sa.func.sum(lines.c.quantity).label("units"))
        .where(lines.c.is_sale, column.in_(list(items)),
               *_conditions(warehouse, filters, scope))
        .group_by(column, lines.c.invoice_date))
    return _numbers(_as_dates(_read(warehouse, statement), "date"), "units")


def top_items(warehouse, filters: Filters, scope: Scope, level: str, limit: int) -> pd.DataFrame:
    """The ``limit`` products or categories with the most units sold (ties by id).
    Columns: ``item``, ``description`` (products; the category name for categories),
    ``units``."""
    if level == "product":
        column = lines.c.product_id
        statement = (
            sa.select(column.label("item"), schema.dim_product.c.description,
                      sa.func.sum(lines.c.quantity).label("units"))
            .select_from(lines.outerjoin(schema.dim_product,
                                         schema.dim_product.c.product_id == column))
            .group_by(column, schema.dim_product.c.description))
    else:
        column = lines.c.category
        statement = (sa.select(column.label("item"), column.label("description"),
                               sa.func.sum(lines.c.quantity).label("units"))
                     .where(column.is_not(None)).group_by(column))
    statement = (statement.where(lines.c.is_sale, *_conditions(warehouse, filters, scope))
                 .order_by(sa.desc("units"), column).limit(limit))
    return _numbers(_read(warehouse, statement), "units")


def customer_invoices(warehouse, filters: Filters, scope: Scope) -> pd.DataFrame:
    """One row per (customer, invoice) with a counted line, for identified customers.
    Columns: ``customer_id``, ``invoice_id``, ``date`` (first timestamp's day, datetime64),
    ``country``, ``net_value`` (sale + return line values), ``gross_value`` (sale lines),
    ``returns_value`` (positive), ``units``, ``is_order`` (the invoice has a sale line)."""
    statement = (
        sa.select(lines.c.customer_id, lines.c.invoice_id,
                  sa.func.min(lines.c.invoice_date).label("date"),
                  sa.func.max(lines.c.country).label("country"),
                  _net_value().label("net_value"),
                  _sum_if(lines.c.is_sale, lines.c.line_value).label("gross_value"),
                  (0.0 - _sum_if(lines.c.is_return, lines.c.line_value)).label("returns_value"),
                  _sum_if(lines.c.is_sale, lines.c.quantity).label("units"),
                  sa.func.max(sa.case((lines.c.is_sale, 1), else_=0)).label("is_order"))
        .where(counted, lines.c.customer_id.is_not(None),
               *_conditions(warehouse, filters, scope))
        .group_by(lines.c.customer_id, lines.c.invoice_id))
    frame = _numbers(_as_dates(_read(warehouse, statement), "date"),
                     "net_value", "gross_value", "returns_value", "units")
    frame["is_order"] = frame["is_order"].astype(int) == 1
    for column in ("customer_id", "invoice_id", "country"):
        frame[column] = frame[column].astype("string")
    return frame.sort_values(["customer_id", "date", "invoice_id"], ignore_index=True)


def customer_first_purchases(warehouse, filters: Filters, scope: Scope) -> pd.DataFrame:
    """When each identified customer first bought each product, and its category: enough to
    count distinct products/categories bought before any cutoff without reading lines.
    Columns: ``customer_id``, ``product_id``, ``category`` (may be <NA>), ``first_date``."""
    statement = (
        sa.select(lines.c.customer_id, lines.c.product_id,
                  sa.func.max(lines.c.category).label("category"),
                  sa.func.min(lines.c.invoice_date).label("first_date"))
        .where(lines.c.is_sale, lines.c.customer_id.is_not(None),
               *_conditions(warehouse, filters, scope))
        .group_by(lines.c.customer_id, lines.c.product_id))
    frame = _as_dates(_read(warehouse, statement), "first_date")
    for column in ("customer_id", "product_id", "category"):
        frame[column] = frame[column].astype("string")
    return frame


def invoice_products(warehouse, filters: Filters, scope: Scope) -> pd.DataFrame:
    """The distinct products of each invoice's sale lines (the baskets).
    Columns: ``invoice_id``, ``product_id``, ``date`` (the line's first day, datetime64)."""
    statement = (sa.select(lines.c.invoice_id, lines.c.product_id,
                           sa.func.min(lines.c.invoice_date).label("date"))
                 .where(lines.c.is_sale, *_conditions(warehouse, filters, scope))
                 .group_by(lines.c.invoice_id, lines.c.product_id))
    frame = _as_dates(_read(warehouse, statement), "date")
    return frame.astype({"invoice_id": "string", "product_id": "string"})


def product_descriptions(warehouse, product_ids: Iterable[str]) -> dict[str, str | None]:
    """product id → its most frequent description (``dim_product``)."""
    ids = sorted(set(product_ids))
    if not ids:
        return {}
    product = schema.dim_product
    statement = sa.select(product.c.product_id, product.c.description).where(
        product.c.product_id.in_(ids))
    with warehouse.connect() as conn:
        return {row.product_id: row.description for row in conn.execute(statement)}


def daily_breakdown(warehouse, filters: Filters, scope: Scope, dimension: str,
                    dates: Iterable[dt.date]) -> pd.DataFrame:
    """Per day and value of ``dimension`` (a key of ``BREAKDOWN_DIMENSIONS``), on the given
    days only. Columns: ``date``, ``value`` (the dimension value; rows with a null value are
    left out), ``revenue`` (net), ``orders``, ``units``."""
    column = lines.c[BREAKDOWN_DIMENSIONS[dimension]]
    days = sorted({pd.Timestamp(day).date() for day in dates})
    statement = (
        sa.select(lines.c.invoice_date.label("date"), column.label("value"),
                  _net_value().label("revenue"), _orders().label("orders"),
                  _sum_if(lines.c.is_sale, lines.c.quantity).label("units"))
        .where(counted, column.is_not(None), lines.c.invoice_date.in_(days),
               *_conditions(warehouse, filters, scope))
        .group_by(lines.c.invoice_date, column))
    frame = _numbers(_as_dates(_read(warehouse, statement), "date"),
                     "revenue", "orders", "units")
    frame["value"] = frame["value"].astype("string")
    return frame


def revenue_by_country_code(warehouse, filters: Filters, scope: Scope) -> pd.DataFrame:
    """Net revenue per ISO country code (rows with a code only), largest first.
    Columns: ``country_code``, ``revenue``."""
    statement = (sa.select(lines.c.country_code, _net_value().label("revenue"))
                 .where(counted, lines.c.country_code.is_not(None),
                        *_conditions(warehouse, filters, scope))
                 .group_by(lines.c.country_code).order_by(sa.desc("revenue")))
    return _numbers(_read(warehouse, statement), "revenue")


def dimension_totals(warehouse, filters: Filters, scope: Scope, dimension: str) -> pd.DataFrame:
    """Net revenue per value of ``dimension`` over the filtered period.
    Columns: ``value``, ``revenue``."""
    column = lines.c[BREAKDOWN_DIMENSIONS[dimension]]
    statement = (sa.select(column.label("value"), _net_value().label("revenue"))
                 .where(counted, column.is_not(None),
                        *_conditions(warehouse, filters, scope))
                 .group_by(column))
    frame = _numbers(_read(warehouse, statement), "revenue")
    frame["value"] = frame["value"].astype("string")
    return frame


def revenue_by_dimensions(warehouse, filters: Filters, scope: Scope,
                          dimensions: Iterable[str]) -> tuple[float, dict[str, pd.DataFrame]]:
    """Net revenue over the filtered period, in total and per value of each of
    ``dimensions``, from ONE scan: lines grouped by every dimension at once (a few thousand
    groups), then added up per dimension here. The total counts every counted line; a
    dimension's frame (columns ``value``, ``revenue``) leaves out lines without a value, as
    ``dimension_totals`` does."""
    dimensions = list(dimensions)
    columns = [lines.c[BREAKDOWN_DIMENSIONS[name]].label(f"d{index}")
               for index, name in enumerate(dimensions)]
    statement = (sa.select(*columns, _net_value().label("revenue"))
                 .where(counted, *_conditions(warehouse, filters, scope))
                 .group_by(*columns))
    frame = _numbers(_read(warehouse, statement), "revenue")
    per_dimension = {}
    for index, name in enumerate(dimensions):
        totals = (frame.groupby(f"d{index}", dropna=True, sort=False)["revenue"].sum()
                  .rename_axis("value").reset_index())
        totals["value"] = totals["value"].astype("string")
        per_dimension[name] = totals
    return float(frame["revenue"].sum()), per_dimension


def data_date_range(warehouse, filters: Filters, scope: Scope) -> tuple[dt.date, dt.date] | None:
    """First and last day with a counted line in the selection, or None when empty."""
    statement = (sa.select(sa.func.min(lines.c.invoice_date), sa.func.max(lines.c.invoice_date))
                 .where(counted, *_conditions(warehouse, filters, scope)))
    with warehouse.connect() as conn:
        first, last = conn.execute(statement).one()
    if first is None:
        return None
    return pd.Timestamp(first).date(), pd.Timestamp(last).date()


def slice_daily_series(warehouse, filters: Filters, scope: Scope, dimension: str, top: int,
                       since: dt.date) -> pd.DataFrame:
    """Daily series of the ``top`` values of ``dimension`` (a key of
    ``BREAKDOWN_DIMENSIONS``) with the most net revenue from ``since`` on, in one query.
    Columns: ``value`` (the dimension value), ``date``, ``revenue`` (net),
    ``gross_revenue``, ``orders``, ``units``; only days with counted lines appear, rows with
    a null value are left out."""
    column = lines.c[BREAKDOWN_DIMENSIONS[dimension]]
    conditions = [counted, column.is_not(None), lines.c.invoice_date >= since,
                  *_conditions(warehouse, filters, scope)]
    largest = (sa.select(column).where(*conditions).group_by(column)
               .order_by(sa.desc(_net_value()), column).limit(top))
    statement = (
        sa.select(column.label("value"), lines.c.invoice_date.label("date"),
                  _net_value().label("revenue"),
                  _sum_if(lines.c.is_sale, lines.c.line_value).label("gross_revenue"),
                  _orders().label("orders"),
                  _sum_if(lines.c.is_sale, lines.c.quantity).label("units"))
        .where(*conditions, column.in_(largest.scalar_subquery()))
        .group_by(column, lines.c.invoice_date))
    frame = _numbers(_as_dates(_read(warehouse, statement), "date"),
                     "revenue", "gross_revenue", "orders", "units")
    if frame.empty:
        return pd.DataFrame({"value": pd.Series(dtype="string"),
                             "date": pd.Series(dtype="datetime64[us]"),
                             **{c: pd.Series(dtype=float) for c in
                                ("revenue", "gross_revenue", "orders", "units")}})
    frame["value"] = frame["value"].astype("string")
    return frame.sort_values(["value", "date"], ignore_index=True)
