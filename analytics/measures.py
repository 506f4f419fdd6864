"""The measures of METRICS.md as SQLAlchemy Core expressions, on the facts or the rollups.

Every aggregate of the analytics engine is built here, so the definitions live in one place:

* ``source_for`` (the planner) picks the tables a query reads: the facts when the filters
  need the lines, else the SMALLEST day-grain rollup holding every dimension the filters,
  the scope and the grouping name (``rollups.DAY_TABLES``, else ``rollup_daily``), and says
  which distinct counts that table may add up exactly (``Source``); ``RollupMeta`` holds the
  per-version facts this rests on (``rollups.meta``), remembered per version in-process.
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
import threading
from dataclasses import dataclass, field

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


#: Filters field → planner dimension name (``rollups.DIMENSION_NAMES``).
FILTER_DIMENSIONS = {"countries": "country", "categories": "category", "channels": "channel",
                     "payment_methods": "payment_method", "devices": "device",
                     "traffic_sources": "traffic_source"}


@dataclass(frozen=True)
class RollupMeta:
    """What ``rollups.meta`` says about one data version (see ``analytics.rollups``)."""
    flags: dict[str, int] = field(default_factory=dict)

    def flag(self, name: str) -> bool:
        return self.flags.get(name) == 1

    def rows(self, table: sa.Table) -> int:
        return self.flags.get(f"rows:{table.name}", 1 << 62)


_metas: dict[tuple[str, int], RollupMeta | None] = {}
_metas_lock = threading.Lock()


def rollup_meta(warehouse, version: int) -> RollupMeta | None:
    """The planner facts of ``version`` (None for a version built before they existed),
    read once per process and version (a version never changes). Thread-safe: the first
    callers of a version wait for one read."""
    key = (warehouse.url, version)
    found = _metas.get(key, _MISSING)
    if found is not _MISSING:
        return found
    with _metas_lock:
        found = _metas.get(key, _MISSING)
        if found is _MISSING:
            found = _read_meta(warehouse, version)
            _metas[key] = found
    return found


_MISSING = object()


def _read_meta(warehouse, version: int) -> RollupMeta | None:
    try:
        with warehouse.connect(version) as conn:
            rows = conn.execute(sa.select(rollups.meta.c.name, rollups.meta.c.value)).all()
    except sa.exc.DBAPIError:
        return None
    return RollupMeta({name: int(value) for name, value in rows})


def restricted_dimensions(filters: Filters, scope: Scope) -> dict[str, int]:
    """Planner dimension → number of values the filters (or the scope) allow; a country
    scope counts as many values."""
    out = {dimension: len(getattr(filters, name))
           for name, dimension in FILTER_DIMENSIONS.items() if getattr(filters, name)}
    if scope.countries is not None:
        out["country"] = 1 << 30
    return out


@dataclass(frozen=True)
class Source:
    """The tables a query reads: ``sums`` for Σ measures and ``counts`` for distinct counts
    (both ``fact_lines`` when the filters need the lines).

    With a day-grain rollup as ``sums``: ``orders_summable`` = Σ of its ``orders`` column
    is exact over any days and rows the query keeps (no invoice in two kept rows);
    ``customers_summable`` = Σ of its ``customers`` column is exact within one day and one
    group (no customer in two kept rows of a day); ``customer_days`` = ``rollup_customer_day``
    when it holds every dimension the filters and the grouping name (distinct customers,
    churn, repeat, RFM; its ``orders`` add up when ``orders_summable`` would); and
    ``whole_customers`` = the filters keep all or none of each customer's rows (so
    ``ltv_to_date`` is exact)."""
    sums: sa.Table
    counts: sa.Table
    segment: sa.ColumnElement | None = None
    orders_summable: bool = False
    customers_summable: bool = False
    customer_days: sa.Table | None = None
    customer_orders_summable: bool = False
    whole_customers: bool = False
    meta: RollupMeta | None = None

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


def source_for(warehouse, filters: Filters, scope: Scope, *, needs_lines: bool = False,
               group_by: tuple[str, ...] = (), version: int | None = None) -> Source:
    """The planner: the facts when the filters need the lines (``needs_lines``: the query
    groups by a column only the facts hold, like product), else the smallest rollup that
    holds the dimensions of the filters, the scope and ``group_by`` (planner dimension
    names, ``rollups.DIMENSION_NAMES``), with what it may add up (see ``Source``)."""
    if rollups.use_rollups(filters) and not needs_lines:
        version = warehouse.require_version() if version is None else version
        meta = rollup_meta(warehouse, version)
        if meta is None:
            return Source(schema.rollup_daily, schema.rollup_invoice)
        return _plan(meta, restricted_dimensions(filters, scope), set(group_by))
    segment = None
    if filters.segment:
        from analytics.customers import segment_condition  # part B; imported when needed
        segment = segment_condition(warehouse, filters, scope)
    return Source(schema.fact_lines, schema.fact_lines, segment)


def _plan(meta: RollupMeta, restricted: dict[str, int], group_by: set[str]) -> Source:
    needed = set(restricted) | group_by
    covering = [(meta.rows(table), dimensions, table)
                for dimensions, table in rollups.DAY_TABLES.items() if needed <= set(dimensions)]
    single_day = meta.flag("single_day_invoices")
    customer_days = (rollups.customer_day if all(
        meta.flag(f"invoice_level:{d}") for d in needed) else None)
    whole_customers = all(meta.flag(f"customer_level:{d}") for d in restricted)
    if not covering:
        return Source(schema.rollup_daily, schema.rollup_invoice,
                      customer_days=customer_days, customer_orders_summable=single_day,
                      whole_customers=whole_customers, meta=meta)
    _rows, dimensions, table = min(covering, key=lambda item: item[0])

    def one_value(d: str) -> bool:
        # one allowed value of a dimension other than country (a country value matches
        # a name or a code, which may be two different rows)
        return d != "country" and restricted.get(d) == 1

    orders_summable = single_day and all(
        d in group_by or meta.flag(f"invoice_level:{d}") or one_value(d) for d in dimensions)
    customers_summable = all(
        d in group_by or meta.flag(f"customer_day_level:{d}") or one_value(d)
        for d in dimensions)
    return Source(table, schema.rollup_invoice, orders_summable=orders_summable,
                  customers_summable=customers_summable, customer_days=customer_days,
                  customer_orders_summable=single_day, whole_customers=whole_customers,
                  meta=meta)


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
    return pd.DataFrame(values, index=frame.index, copy=False)


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
