"""The measures of METRICS.md as SQLAlchemy Core expressions, on the facts or the rollups.

Every aggregate of the analytics engine is built here, so the definitions live in one place:

* ``source_for`` picks the tables a query reads (``analytics.planner``: the facts or the
  smallest rollup that answers exactly, with what it may add up), and gives a query of
  the facts its RFM segment condition (``analytics.segments``).
* ``sum_columns`` / ``count_columns`` are the labelled aggregate expressions; ``when`` adds a
  condition inside the aggregate (``FILTER (WHERE …)``), so one scan can return the current
  and the previous period side by side.
* ``finish`` turns the raw sums of a frame into the KPI columns (revenue, profit, margin…).

Raw column names (suffixed when a query computes several periods):
``gross_revenue``, ``return_value`` (≤ 0), ``units``, ``cost``, ``cost_lines``,
``sale_lines``, ``return_lines``, ``orders``, ``customers``.
"""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import sqlalchemy as sa

from analytics import planner, schema, segments
from analytics.filters import Filters, Scope
from analytics.planner import Source

SUM_NAMES = ("gross_revenue", "return_value", "units", "cost", "cost_lines", "sale_lines",
             "return_lines")
COUNT_NAMES = ("orders", "customers")
#: Columns ``finish`` adds, in the order the analytics return them.
MEASURE_COLUMNS = ("gross_revenue", "returns", "revenue", "orders", "units", "customers",
                   "profit", "margin")
NONE_LABEL = "(none)"


def source_for(warehouse, filters: Filters, scope: Scope, *, needs_lines: bool = False,
               group_by: tuple[str, ...] = (), version: int | None = None) -> Source:
    """``planner.plan`` for a query of these measures: under a segment filter,
    ``Source.where`` adds the segment's customers (``segments.segment_customers``)."""
    segment = None
    if filters.segment:
        segment = segments.segment_customers(warehouse, filters, scope)
    return planner.plan(warehouse, filters, scope, needs_lines=needs_lines,
                        group_by=group_by, version=version, segment=segment)


def period_condition(table: sa.Table, start: dt.date | None,
                     end: dt.date | None) -> sa.ColumnElement[bool]:
    conditions = []
    if start is not None:
        conditions.append(table.c.invoice_date >= start)
    if end is not None:
        conditions.append(table.c.invoice_date <= end)
    return sa.and_(sa.true(), *conditions)


def _filtered(aggregate, condition):
    return aggregate if condition is None else aggregate.filter(condition)


def sum_columns(table: sa.Table, when: sa.ColumnElement[bool] | None = None,
                suffix: str = "") -> list[sa.Label]:
    """Σ measures of the rows of ``table`` (facts, rollup_daily or rollup_invoice)."""
    if table is schema.fact_lines:
        c = table.c
        sale = c.is_sale if when is None else sa.and_(c.is_sale, when)
        ret = c.is_return if when is None else sa.and_(c.is_return, when)
        counted = sa.or_(c.is_sale, c.is_return)
        counted = counted if when is None else sa.and_(counted, when)
        expressions = {
            "gross_revenue": sa.func.sum(c.line_value).filter(sale),
            "return_value": sa.func.sum(c.line_value).filter(ret),
            "units": sa.func.sum(c.quantity).filter(sale),
            "cost": sa.func.sum(c.cost_value).filter(counted),
            "cost_lines": sa.func.count(c.cost_value).filter(counted),
            "sale_lines": sa.func.count().filter(sale),
            "return_lines": sa.func.count().filter(ret),
        }
    else:
        c = table.c
        expressions = {
            "gross_revenue": _filtered(sa.func.sum(c.sale_value), when),
            "return_value": _filtered(sa.func.sum(c.return_value), when),
            "units": _filtered(sa.func.sum(c.sale_units), when),
            "cost": _filtered(sa.func.sum(c.cost_value), when),
            "cost_lines": _filtered(sa.func.sum(c.cost_lines), when),
            "sale_lines": _filtered(sa.func.sum(c.sale_lines), when),
            "return_lines": _filtered(sa.func.sum(c.return_lines), when),
        }
    return [expression.label(name + suffix) for name, expression in expressions.items()]


def summed_count_columns(table: sa.Table, when: sa.ColumnElement[bool] | None = None,
                         suffix: str = "", names=COUNT_NAMES) -> list[sa.Label]:
    """Σ of the per-row ``orders``/``customers`` of a day-grain rollup (only where the
    ``Source`` says they add up)."""
    return [_filtered(sa.func.sum(table.c[name]), when).label(name + suffix) for name in names]


def count_columns(source: Source, table: sa.Table,
                  when: sa.ColumnElement[bool] | None = None, suffix: str = "",
                  names=COUNT_NAMES) -> list[sa.Label]:
    """Distinct orders and customers (or those of ``names``) having a sale line among the
    rows of ``table``."""
    sale = source.is_sale(table)
    condition = sale if when is None else sa.and_(sale, when)
    columns = {"orders": source.invoice, "customers": source.customer}
    return [sa.func.count(sa.distinct(columns[name](table))).filter(condition)
            .label(name + suffix) for name in names]


def read_frame(conn: sa.Connection, query, columns: list[str] | None = None) -> pd.DataFrame:
    """Run ``query`` and return its rows as a DataFrame (``columns`` renames them in order).

    DuckDB hands the result over column by column (``cursor.df()``), many times faster than
    building one Python row object per row; other engines go through plain tuples. Dates
    come back as datetime64 on DuckDB and as ``datetime.date`` objects elsewhere, and
    Σ of integers may be Decimal on PostgreSQL: callers normalise with ``numeric``.
    """
    result = conn.execute(query)
    try:
        if conn.dialect.name == "duckdb":
            frame = result.cursor.df()
        else:
            frame = pd.DataFrame.from_records(result.cursor.fetchall(),
                                              columns=list(result.keys()))
    finally:
        result.close()
    if columns is not None:
        frame.columns = columns
    return frame


def _floats(column: pd.Series) -> np.ndarray:
    """A raw measure column as float64 (NaN for NULL; Decimal and None on PostgreSQL)."""
    if column.dtype.kind in "fiub":
        return column.to_numpy(dtype="float64", copy=True)
    try:
        return np.asarray(column.to_numpy(dtype=object), dtype="float64")
    except (TypeError, ValueError):
        return pd.to_numeric(column.astype("object"), errors="coerce").to_numpy(
            dtype="float64", copy=True)


def numeric(frame: pd.DataFrame, names) -> pd.DataFrame:
    """Cast raw measure columns to floats (PostgreSQL returns Decimal for Σ of integers),
    with 0 for the Σ/count of no rows."""
    present = set(frame.columns)
    for name in names:
        if name in present:
            frame[name] = _floats(frame[name])
    return frame


ZERO_WHEN_EMPTY = ("gross_revenue", "return_value", "units", "cost_lines", "sale_lines",
                   "return_lines", "orders", "customers")
INTEGER_COLUMNS = ("orders", "customers", "cost_lines", "sale_lines", "return_lines")


def finish(frame: pd.DataFrame, has_cost: bool | None = None) -> pd.DataFrame:
    """Add returns, revenue, profit and margin to a frame of raw sums and counts.

    Profit is NaN where no counted line has a unit cost (``has_cost=True``: only where the
    data version has none, so an empty day of a store with costs has a profit of 0);
    margin is NaN where profit is, or where revenue is 0. Counts become integers.
    The arithmetic runs on numpy arrays and the frame is built once (a few dozen rows:
    pandas' per-column bookkeeping would cost more than the numbers).
    """
    return pd.DataFrame(finished_columns(frame, has_cost), index=frame.index, copy=False)


def finished_columns(frame: pd.DataFrame, has_cost: bool | None = None) -> dict:
    """``finish`` as a dict of columns: numpy arrays for the measures (counts as int64),
    the frame's other columns as they are."""
    columns: dict[str, object] = {}
    for name, column in frame.items():
        if name in SUM_NAMES or name in COUNT_NAMES:
            values = _floats(column)
            if name in ZERO_WHEN_EMPTY:
                values[np.isnan(values)] = 0.0
            columns[name] = values
        else:
            columns[name] = column
    values = finish_arrays(columns, has_cost)
    for name in INTEGER_COLUMNS:
        if name in columns:
            values[name] = values[name].astype("int64")
    return values


def finish_arrays(columns: dict[str, np.ndarray], has_cost: bool | None = None) -> dict:
    """``finish`` on float arrays by raw name (NULL sums already 0 where ``finish`` says);
    returns the same dict with returns, revenue, profit and margin added."""
    gross, returned = columns["gross_revenue"], columns["return_value"]
    revenue = gross + returned
    cost = columns["cost"]
    with_cost = (columns["cost_lines"] > 0 if has_cost is None
                 else np.full(len(revenue), bool(has_cost)))
    profit = np.where(with_cost, revenue - np.nan_to_num(cost, nan=0.0), np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        margin = np.where(revenue != 0, profit / np.where(revenue != 0, revenue, 1.0), np.nan)
    columns["returns"] = 0.0 - returned
    columns["revenue"] = revenue
    columns["profit"] = profit
    columns["margin"] = margin
    return columns


def key_expression(column: sa.ColumnElement) -> sa.ColumnElement:
    """A dimension value with missing values shown as "(none)"."""
    return sa.func.coalesce(column, NONE_LABEL)
