"""The measures of METRICS.md as SQLAlchemy Core expressions, on the facts or the rollups.

Every aggregate of the analytics engine is built here, so the definitions live in one place:

* ``Source`` picks the tables a query reads (the rollups when ``rollups.use_rollups``
  allows, else the facts) and gives the WHERE conditions of filters, scope and segment.
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
from dataclasses import dataclass

import numpy as np
import pandas as pd
import sqlalchemy as sa

from analytics import rollups, schema
from analytics.filters import Filters, Scope, line_conditions

SUM_NAMES = ("gross_revenue", "return_value", "units", "cost", "cost_lines", "sale_lines",
             "return_lines")
COUNT_NAMES = ("orders", "customers")
#: Columns ``finish`` adds, in the order the analytics return them.
MEASURE_COLUMNS = ("gross_revenue", "returns", "revenue", "orders", "units", "customers",
                   "profit", "margin")
NONE_LABEL = "(none)"


@dataclass(frozen=True)
class Source:
    """The tables a query reads: ``sums`` for Σ measures and ``counts`` for distinct counts
    (both ``fact_lines`` when the filters need the lines)."""
    sums: sa.Table
    counts: sa.Table
    segment: sa.ColumnElement | None = None

    @property
    def facts(self) -> bool:
        return self.sums is schema.fact_lines

    def where(self, table: sa.Table, filters: Filters, scope: Scope, *,
              dates: bool = True) -> list[sa.ColumnElement[bool]]:
        """Filters and scope on ``table``; on the facts also "counted lines only" (a sale or
        a return: lines with unit price ≤ 0 never reach a metric) and the segment."""
        conditions = line_conditions(filters, scope, table, dates=dates)
        if table is schema.fact_lines:
            conditions.append(sa.or_(table.c.is_sale, table.c.is_return))
            if self.segment is not None:
                conditions.append(self.segment)
        return conditions

    # columns that differ between the facts and the per-invoice rollup
    def customer(self, table: sa.Table) -> sa.ColumnElement:
        return table.c.customer_id if table is schema.fact_lines else table.c.customer_key

    def invoice(self, table: sa.Table) -> sa.ColumnElement:
        return table.c.invoice_id if table is schema.fact_lines else table.c.invoice_key

    def is_sale(self, table: sa.Table) -> sa.ColumnElement[bool]:
        return table.c.is_sale if table is schema.fact_lines else table.c.sale_lines > 0

    def net_value(self, table: sa.Table) -> sa.ColumnElement:
        """Net revenue of a row (sale value plus the negative return value)."""
        if table is schema.fact_lines:
            return table.c.line_value
        return table.c.sale_value + table.c.return_value


def source_for(warehouse, filters: Filters, scope: Scope, *,
               needs_lines: bool = False) -> Source:
    """Rollups when the filters allow, else the facts (with the segment condition).
    ``needs_lines``: the query groups by a column only the facts hold (product)."""
    if rollups.use_rollups(filters) and not needs_lines:
        return Source(schema.rollup_daily, schema.rollup_invoice)
    segment = None
    if filters.segment:
        from analytics.customers import segment_condition  # part B; imported when needed
        segment = segment_condition(warehouse, filters, scope)
    return Source(schema.fact_lines, schema.fact_lines, segment)


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


def count_columns(source: Source, table: sa.Table,
                  when: sa.ColumnElement[bool] | None = None, suffix: str = "") -> list[sa.Label]:
    """Distinct orders and customers having a sale line among the rows of ``table``."""
    sale = source.is_sale(table)
    condition = sale if when is None else sa.and_(sale, when)
    return [
        sa.func.count(sa.distinct(source.invoice(table))).filter(condition)
        .label("orders" + suffix),
        sa.func.count(sa.distinct(source.customer(table))).filter(condition)
        .label("customers" + suffix),
    ]


def numeric(frame: pd.DataFrame, names) -> pd.DataFrame:
    """Cast raw measure columns to floats (PostgreSQL returns Decimal for Σ of integers),
    with 0 for the Σ/count of no rows."""
    for name in names:
        if name in frame.columns:
            values = pd.to_numeric(frame[name].astype("object"), errors="coerce")
            frame[name] = values.astype("float64")
    return frame


def finish(frame: pd.DataFrame, has_cost: bool | None = None) -> pd.DataFrame:
    """Add returns, revenue, profit and margin to a frame of raw sums and counts.

    Profit is NaN where no counted line has a unit cost (``has_cost=True``: only where the
    data version has none, so an empty day of a store with costs has a profit of 0);
    margin is NaN where profit is, or where revenue is 0. Counts become integers.
    """
    frame = numeric(frame, SUM_NAMES + COUNT_NAMES)
    for name in ("gross_revenue", "return_value", "units", "cost_lines", "sale_lines",
                 "return_lines", "orders", "customers"):
        if name in frame.columns:
            frame[name] = frame[name].fillna(0.0)
    frame["returns"] = 0.0 - frame["return_value"]
    frame["revenue"] = frame["gross_revenue"] + frame["return_value"]
    has_cost = (frame["cost_lines"] > 0 if has_cost is None
                else pd.Series(bool(has_cost), index=frame.index))
    frame["profit"] = (frame["revenue"] - frame["cost"].fillna(0.0)).where(has_cost, np.nan)
    frame["margin"] = (frame["profit"] / frame["revenue"].where(frame["revenue"] != 0)).astype(
        "float64")
    for name in ("orders", "customers", "cost_lines", "sale_lines", "return_lines"):
        if name in frame.columns:
            frame[name] = frame[name].astype("int64")
    return frame


def key_expression(column: sa.ColumnElement) -> sa.ColumnElement:
    """A dimension value with missing values shown as "(none)"."""
    return sa.func.coalesce(column, NONE_LABEL)
