"""Customers: RFM scores and segments, the customer list, and the historical LTV distribution.

Definitions follow METRICS.md ("RFM", "LTV (historical)"). Every function pushes the
per-customer aggregation and the RFM scoring down as SQL (window functions), so the same
statement runs on DuckDB and PostgreSQL; pandas only sees one row per customer or per segment.
The queries read the per-invoice rollup (one row per invoice) unless a unit-price filter
needs the lines (``counted_rows``); both give the same answers.

The period is ``analytics.period.resolve(warehouse, filters)``: missing dates become the
last 30 days of the data, exactly as for the KPIs.

RFM in SQL, per customer with at least one sale line in the period (missing customer ids and
lines with unit price ≤ 0 never count: the warehouse flags them neither sale nor return):

* ``last_sale_date`` = the day of the last sale line; ``recency`` = (end + 1 day) − that day;
* ``frequency`` = distinct invoices with a sale line;
* ``monetary`` = Σ line value of sale and return lines (net revenue: returns are negative);
* ``r``, ``f``, ``m`` = ``ceil(5 × position ÷ count)`` with positions from ``row_number()``
  ordered by the measure (recency descending = last sale day ascending; frequency and
  monetary ascending), ties by customer id ascending in binary (code point) order on both
  engines. Monetary is ranked rounded to 6 decimals so that floating-point noise from the
  engines' summation order cannot split a tie;
* ``fm`` = round_half_up((f + m) ÷ 2) = floor((f + m + 1) ÷ 2), exact because f + m is whole;
* ``segment`` from the R × FM table.
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import sqlalchemy as sa

from analytics import measures, period, rollups, schema
from analytics.filters import Filters, FilterError, Scope, check_page, line_conditions

log = logging.getLogger(__name__)

#: The R × FM table of METRICS.md: SEGMENT_GRID[r][fm - 1].
SEGMENT_GRID: dict[int, tuple[str, str, str, str, str]] = {
    5: ("New Customers", "Potential Loyalists", "Potential Loyalists", "Champions", "Champions"),
    4: ("Promising", "Potential Loyalists", "Loyal Customers", "Loyal Customers", "Champions"),
    3: ("About to Sleep", "Need Attention", "Need Attention", "Loyal Customers",
        "Loyal Customers"),
    2: ("Hibernating", "Hibernating", "At Risk", "At Risk", "Can't Lose Them"),
    1: ("Lost", "Lost", "At Risk", "Can't Lose Them", "Can't Lose Them"),
}

#: The 11 segments in the order every table and chart lists them: from the most valuable
#: and active customers down to the lost ones.
SEGMENTS: tuple[str, ...] = (
    "Champions", "Loyal Customers", "Potential Loyalists", "New Customers", "Promising",
    "Need Attention", "About to Sleep", "At Risk", "Can't Lose Them", "Hibernating", "Lost",
)

#: Columns ``customers_page`` can sort by.
CUSTOMER_SORT_COLUMNS = ("customer_id", "country", "last_sale_date", "recency", "frequency",
                         "monetary", "r", "f", "m", "fm", "segment")
MAX_CUSTOMER_PAGE_SIZE = 100_000

#: Quantiles ``ltv_distribution`` reports.
LTV_QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9, 0.99)

RFM_COLUMNS = ["customer_id", "recency", "frequency", "monetary", "r", "f", "m", "fm",
               "segment"]


def canonical_segment(name: str) -> str:
    """The segment's name as in ``SEGMENTS`` (matched without regard to case or spacing);
    FilterError listing the valid names otherwise."""
    wanted = " ".join(str(name).split()).casefold()
    for segment in SEGMENTS:
        if segment.casefold() == wanted:
            return segment
    raise FilterError(f"unknown segment {name!r}: choose one of {', '.join(SEGMENTS)}")


# ------------------------------------------------------------------ SQL building blocks
def _binary_order(column: sa.ColumnElement, warehouse) -> sa.ColumnElement:
    """Order text by code point on both engines (DuckDB does; PostgreSQL needs "C")."""
    return column.collate("C") if warehouse.kind == "postgresql" else column


@dataclass(frozen=True)
class CountedRows:
    """The counted rows (sale or return lines, METRICS.md) of identified customers, as an
    alias of the per-invoice rollup when the filters allow it (no unit-price filter), else
    of the facts. Both give the same answers; the rollup holds one row per invoice instead
    of one per line. A segment filter is never applied here (callers add
    ``segment_condition`` on ``table`` when they honour it)."""
    table: sa.FromClause
    facts: bool
    days: bool = False  # the table is ``rollup_customer_day`` (one row per customer and day)

    @property
    def customer_id(self) -> sa.ColumnElement:
        return self.table.c.customer_id

    @property
    def invoice(self) -> sa.ColumnElement:
        return self.table.c.invoice_id if self.facts else self.table.c.invoice_key

    @property
    def is_sale(self) -> sa.ColumnElement[bool]:
        return self.table.c.is_sale if self.facts else self.table.c.sale_lines > 0

    @property
    def net_value(self) -> sa.ColumnElement:
        """Σ-able net revenue of a row: a sale line's value, a (negative) return value."""
        if self.facts:
            return self.table.c.line_value
        if self.days:
            return self.table.c.net_value
        return self.table.c.sale_value + self.table.c.return_value

    @property
    def orders(self) -> sa.ColumnElement:
        """The customer's orders over the rows of a query."""
        if self.days:
            return sa.func.sum(self.table.c.orders)
        return sa.func.count(sa.distinct(self.invoice)).filter(self.is_sale)

    def where(self, filters: Filters, scope: Scope, *,
              dates: bool = True) -> list[sa.ColumnElement[bool]]:
        conditions = [*line_conditions(filters, scope, self.table, dates=dates),
                      self.customer_id.is_not(None)]
        if self.facts:
            conditions.append(sa.or_(self.table.c.is_sale, self.table.c.is_return))
        return conditions


def counted_rows(filters: Filters, name: str) -> CountedRows:
    """``CountedRows`` for ``filters``, aliased as ``name`` (so that a query can read the
    same table twice, or inside a condition on it)."""
    if rollups.use_rollups(replace(filters, segment=None)):
        return CountedRows(schema.rollup_invoice.alias(name), facts=False)
    return CountedRows(schema.fact_lines.alias(name), facts=True)


def period_rows(warehouse, filters: Filters, scope: Scope, name: str) -> CountedRows:
    """``counted_rows``, or the per-customer days of ``rollup_customer_day`` when the
    planner says they hold every dimension of the filters and their orders add up (one
    row per customer and day instead of one per invoice)."""
    if rollups.use_rollups(replace(filters, segment=None)):
        source = measures.source_for(warehouse, replace(filters, segment=None), scope)
        if source.customer_days is not None and source.customer_orders_summable:
            return CountedRows(source.customer_days.alias(name), facts=False, days=True)
    return counted_rows(filters, name)


def _period_customers(filters: Filters, scope: Scope, rows: CountedRows) -> sa.Select:
    """Per customer with a sale line in the period: customer_id, last_sale_date,
    frequency, monetary."""
    sale = rows.is_sale
    return (
        sa.select(
            rows.customer_id,
            sa.func.max(rows.table.c.invoice_date).filter(sale).label("last_sale_date"),
            rows.orders.label("frequency"),
            sa.func.sum(rows.net_value).label("monetary"),
        )
        .where(*rows.where(filters, scope))
        .group_by(rows.customer_id)
        .having(sa.func.count().filter(sale) > 0)
    )


def rfm_subquery(warehouse, filters: Filters, scope: Scope) -> sa.Subquery:
    """The RFM table as a SQL subquery over resolved ``filters`` (dates filled, segment
    filter ignored): customer_id, last_sale_date, recency, frequency, monetary, r, f, m, fm,
    segment. Other modules join it to restrict lines to a segment."""
    if filters.end is None:
        raise FilterError("RFM needs the end of the period (resolve the filters first)")
    as_of = filters.end + dt.timedelta(days=1)
    rows = period_rows(warehouse, filters, scope, "rfm_rows")
    per_customer = _period_customers(filters, scope, rows).subquery("rfm_customers")
    c = per_customer.c
    customer_order = _binary_order(c.customer_id, warehouse)
    count = sa.func.count().over()

    def score(measure_order: sa.ColumnElement) -> sa.ColumnElement:
        position = sa.func.row_number().over(order_by=[measure_order, customer_order])
        return sa.cast(sa.func.ceil(sa.cast(position * 5, sa.Double) / count), sa.Integer)

    scored = sa.select(
        c.customer_id, c.last_sale_date, c.frequency, c.monetary,
        score(c.last_sale_date.asc()).label("r"),
        score(c.frequency.asc()).label("f"),
        score(sa.cast(c.monetary, sa.Numeric(24, 6)).asc()).label("m"),
    ).subquery("rfm_scored")
    s = scored.c
    fm = sa.cast(sa.func.floor(sa.cast(s.f + s.m + 1, sa.Double) / 2), sa.Integer)
    grid = {r * 10 + fm_value: name for r, row in SEGMENT_GRID.items()
            for fm_value, name in enumerate(row, start=1)}
    segment = sa.case(grid, value=s.r * 10 + fm)
    recency = sa.cast(sa.literal(as_of, sa.Date) - s.last_sale_date, sa.Integer)
    return sa.select(
        s.customer_id, s.last_sale_date, recency.label("recency"), s.frequency, s.monetary,
        s.r, s.f, s.m, fm.label("fm"), segment.label("segment"),
    ).subquery("rfm")


def segment_condition(warehouse, filters: Filters, scope: Scope,
                      table=schema.fact_lines) -> sa.ColumnElement[bool]:
    """``table.customer_id IN (customers of filters.segment)``, the segment computed over
    the filters' period (missing dates resolved) without the segment filter.

    Returns ``true()`` when no segment is chosen. Unknown names raise FilterError.
    """
    if not filters.segment:
        return sa.true()
    segment = canonical_segment(filters.segment)
    rfm = rfm_subquery(warehouse, period.resolve(warehouse, filters), scope)
    return table.c.customer_id.in_(
        sa.select(rfm.c.customer_id).where(rfm.c.segment == segment))


# ------------------------------------------------------------------ public tables
def rfm_table(warehouse, filters: Filters, scope: Scope) -> pd.DataFrame:
    """RFM per customer with at least one sale line in the period, as of the day after end.

    Columns: customer_id, recency (days), frequency (orders), monetary (net revenue),
    r, f, m (scores 1–5), fm, segment. Sorted by customer id. With ``filters.segment``,
    only that segment's rows (scores are still computed over all customers of the period).
    """
    resolved = period.resolve(warehouse, filters)
    rfm = rfm_subquery(warehouse, resolved, scope)
    query = sa.select(*[rfm.c[name] for name in RFM_COLUMNS])
    if resolved.segment:
        query = query.where(rfm.c.segment == canonical_segment(resolved.segment))
    query = query.order_by(_binary_order(rfm.c.customer_id, warehouse))
    with warehouse.connect() as conn:
        frame = measures.read_frame(conn, query, RFM_COLUMNS)
    return _rfm_dtypes(frame)


def rfm_segments(warehouse, filters: Filters, scope: Scope) -> pd.DataFrame:
    """One row per segment, all 11 in the order of ``SEGMENTS`` (a segment filter does not
    hide the others: this is the overview).

    Columns: segment, customers, share (of the period's RFM customers), revenue (Σ monetary),
    revenue_share (of Σ monetary over all segments; NaN when that total is not positive),
    mean_recency, mean_frequency, mean_monetary (NaN for a segment without customers).
    Empty segments have 0 customers, share, revenue and revenue_share.
    """
    resolved = period.resolve(warehouse, filters)
    rfm = rfm_subquery(warehouse, resolved, scope)
    query = sa.select(
        rfm.c.segment,
        sa.func.count().label("customers"),
        sa.func.sum(rfm.c.monetary).label("revenue"),
        sa.func.avg(sa.cast(rfm.c.recency, sa.Double)).label("mean_recency"),
        sa.func.avg(sa.cast(rfm.c.frequency, sa.Double)).label("mean_frequency"),
        sa.func.avg(rfm.c.monetary).label("mean_monetary"),
    ).group_by(rfm.c.segment)
    with warehouse.connect() as conn:
        rows = pd.DataFrame(conn.execute(query).all(),
                            columns=["segment", "customers", "revenue", "mean_recency",
                                     "mean_frequency", "mean_monetary"])
    frame = rows.set_index("segment").reindex(list(SEGMENTS))
    frame["customers"] = frame["customers"].fillna(0).astype("int64")
    frame["revenue"] = frame["revenue"].astype("float64").fillna(0.0)
    for column in ("mean_recency", "mean_frequency", "mean_monetary"):
        frame[column] = frame[column].astype("float64")
    total_customers = int(frame["customers"].sum())
    total_revenue = float(frame["revenue"].sum())
    frame["share"] = frame["customers"] / total_customers if total_customers else 0.0
    frame["revenue_share"] = (frame["revenue"] / total_revenue if total_revenue > 0
                              else (np.nan if total_customers else 0.0))
    frame = frame.reset_index().rename(columns={"index": "segment"})
    return frame[["segment", "customers", "share", "revenue", "revenue_share",
                  "mean_recency", "mean_frequency", "mean_monetary"]]


def customers_page(warehouse, filters: Filters, scope: Scope, *, sort: str = "monetary",
                   descending: bool = True, page: int = 1, page_size: int = 50,
                   segment: str | None = None) -> tuple[pd.DataFrame, int]:
    """One page of the RFM customer list and the number of customers in the whole list.

    Columns: customer_id, country (of the customer's most recent line), last_sale_date,
    recency, frequency, monetary, r, f, m, fm, segment. ``segment`` (or else
    ``filters.segment``) restricts the list to one segment. Sorted by ``sort`` (one of
    ``CUSTOMER_SORT_COLUMNS``), then by customer id ascending; pages count from 1 and hold
    at most ``MAX_CUSTOMER_PAGE_SIZE`` rows.
    """
    if sort not in CUSTOMER_SORT_COLUMNS:
        raise FilterError(f"cannot sort customers by {sort!r}: choose one of "
                          f"{', '.join(CUSTOMER_SORT_COLUMNS)}")
    page, page_size = check_page(page, page_size, MAX_CUSTOMER_PAGE_SIZE)
    resolved = period.resolve(warehouse, filters)
    chosen = segment or resolved.segment
    rfm = rfm_subquery(warehouse, resolved, scope)
    customer = schema.dim_customer
    columns = {
        "customer_id": rfm.c.customer_id, "country": customer.c.country,
        **{name: rfm.c[name] for name in CUSTOMER_SORT_COLUMNS[2:]},
    }
    source = rfm.outerjoin(customer, customer.c.customer_id == rfm.c.customer_id)
    condition = (rfm.c.segment == canonical_segment(chosen)) if chosen else sa.true()
    sort_column = columns[sort]
    if sort in ("customer_id", "country", "segment"):
        sort_column = _binary_order(sort_column, warehouse)
    order = sort_column.desc() if descending else sort_column.asc()
    query = (sa.select(*[column.label(name) for name, column in columns.items()],
                       sa.func.count().over().label("total"))
             .select_from(source).where(condition)
             .order_by(order.nulls_last(), _binary_order(rfm.c.customer_id, warehouse))
             .limit(page_size).offset((page - 1) * page_size))
    with warehouse.connect() as conn:
        rows = conn.execute(query).all()
        if rows:
            total = rows[0][-1]
        else:  # a page past the end: count on its own
            total = conn.execute(sa.select(sa.func.count()).select_from(rfm)
                                 .where(condition)).scalar_one()
    frame = pd.DataFrame([row[:-1] for row in rows], columns=list(columns))
    frame = _rfm_dtypes(frame)
    frame["country"] = frame["country"].astype("string")
    frame["last_sale_date"] = pd.to_datetime(frame["last_sale_date"]).astype("datetime64[s]")
    return frame, int(total)


@dataclass(frozen=True)
class LtvDistribution:
    """Historical LTV over the customers of the period.

    ``histogram``: bin_start, bin_end, customers (``bins`` equal-width bins from the lowest to
    the highest LTV; the last bin includes its end). ``quantiles``: quantile, ltv (linear
    interpolation). ``mean`` equals the ``ltv`` KPI; empty values are None.
    """
    customers: int
    mean: float | None
    median: float | None
    histogram: pd.DataFrame
    quantiles: pd.DataFrame


def customer_ltv(warehouse, filters: Filters, scope: Scope) -> pd.DataFrame:
    """Historical LTV per customer of the period (METRICS.md): customer_id, first_sale_ts,
    ltv = Σ line value of their sale and return lines from their first sale line (the first
    in the whole history under the filters other than dates) up to the end of the period.
    With ``filters.segment``, only that segment's customers."""
    resolved = period.resolve(warehouse, filters)
    history = resolved.without_dates()
    period_rows = counted_rows(resolved, "ltv_period_rows")
    first_rows = counted_rows(resolved, "ltv_first_rows")
    value_rows = counted_rows(resolved, "ltv_value_rows")
    period_customers = sa.select(period_rows.customer_id).where(
        *period_rows.where(resolved, scope), period_rows.is_sale,
        segment_condition(warehouse, resolved, scope, period_rows.table))
    firsts = (
        sa.select(first_rows.customer_id,
                  sa.func.min(first_rows.table.c.invoice_ts).label("first_sale_ts"))
        .where(*first_rows.where(history, scope, dates=False), first_rows.is_sale,
               first_rows.customer_id.in_(period_customers))
        .group_by(first_rows.customer_id)
    ).subquery("ltv_firsts")
    query = (
        sa.select(firsts.c.customer_id, sa.func.min(firsts.c.first_sale_ts),
                  sa.func.sum(value_rows.net_value))
        .select_from(firsts.join(value_rows.table,
                                 value_rows.customer_id == firsts.c.customer_id))
        .where(*value_rows.where(history, scope, dates=False),
               value_rows.table.c.invoice_ts >= firsts.c.first_sale_ts,
               value_rows.table.c.invoice_date <= resolved.end)
        .group_by(firsts.c.customer_id)
        .order_by(_binary_order(firsts.c.customer_id, warehouse))
    )
    with warehouse.connect() as conn:
        frame = pd.DataFrame(conn.execute(query).all(),
                             columns=["customer_id", "first_sale_ts", "ltv"])
    frame["customer_id"] = frame["customer_id"].astype("string")
    frame["first_sale_ts"] = pd.to_datetime(frame["first_sale_ts"])
    frame["ltv"] = frame["ltv"].astype("float64")
    return frame


def ltv_distribution(warehouse, filters: Filters, scope: Scope, *,
                     bins: int = 20) -> LtvDistribution:
    """Histogram and quantiles of ``customer_ltv`` (see ``LtvDistribution``)."""
    if not 1 <= int(bins) <= 200:
        raise FilterError("bins must be between 1 and 200")
    values = customer_ltv(warehouse, filters, scope)["ltv"].to_numpy(dtype="float64")
    if len(values) == 0:
        return LtvDistribution(
            customers=0, mean=None, median=None,
            histogram=pd.DataFrame({"bin_start": pd.Series(dtype="float64"),
                                    "bin_end": pd.Series(dtype="float64"),
                                    "customers": pd.Series(dtype="int64")}),
            quantiles=pd.DataFrame({"quantile": list(LTV_QUANTILES),
                                    "ltv": [np.nan] * len(LTV_QUANTILES)}))
    counts, edges = np.histogram(values, bins=int(bins))
    return LtvDistribution(
        customers=len(values),
        mean=float(values.mean()),
        median=float(np.median(values)),
        histogram=pd.DataFrame({"bin_start": edges[:-1], "bin_end": edges[1:],
                                "customers": counts.astype("int64")}),
        quantiles=pd.DataFrame({"quantile": list(LTV_QUANTILES),
                                "ltv": np.quantile(values, LTV_QUANTILES)}))


# ------------------------------------------------------------------ helpers
def _rfm_dtypes(frame: pd.DataFrame) -> pd.DataFrame:
    frame["customer_id"] = frame["customer_id"].astype("string")
    frame["segment"] = frame["segment"].astype("string")
    for column in ("recency", "frequency", "r", "f", "m", "fm"):
        frame[column] = frame[column].astype("int64")
    frame["monetary"] = frame["monetary"].astype("float64")
    return frame
