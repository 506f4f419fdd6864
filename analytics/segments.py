"""RFM segments as SQL: the segment grid of METRICS.md, the per-customer RFM subquery, and
the condition "the line's customer is in segment S" that every analysis under a segment
filter adds (KPIs, breakdowns, series and products through ``measures.source_for``; cohorts,
transactions, customers and the models' inputs directly).

It reads the planner (``analytics.planner``) to pick the rows RFM is computed from; the
planner and the measures know nothing of segments, so nothing here is imported back.

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

import threading
from collections import OrderedDict
from dataclasses import dataclass, replace

import sqlalchemy as sa

from analytics import period, planner, rollups, schema
from analytics.filters import FilterError, Filters, Scope, line_conditions

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

def canonical_segment(name: str) -> str:
    """The segment's name as in ``SEGMENTS`` (matched without regard to case or spacing);
    FilterError listing the valid names otherwise."""
    wanted = " ".join(str(name).split()).casefold()
    for segment in SEGMENTS:
        if segment.casefold() == wanted:
            return segment
    raise FilterError(f"unknown segment {name!r}: choose one of {', '.join(SEGMENTS)}")


# ------------------------------------------------------------------ SQL building blocks
def binary_order(column: sa.ColumnElement, warehouse) -> sa.ColumnElement:
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
    exact_codes: frozenset[str] = frozenset()  # ``planner.Source.exact_codes``

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
        conditions = [*line_conditions(filters, scope, self.table, dates=dates,
                                       exact_codes=self.exact_codes),
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
    unsegmented = replace(filters, segment=None)
    source = planner.plan(warehouse, unsegmented, scope)
    if (rollups.use_rollups(unsegmented)
            and source.customer_days is not None and source.customer_orders_summable):
        return CountedRows(source.customer_days.alias(name), facts=False, days=True,
                           exact_codes=source.exact_codes)
    return replace(counted_rows(filters, name), exact_codes=source.exact_codes)


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
    rows = period_rows(warehouse, filters, scope, "rfm_rows")
    per_customer = _period_customers(filters, scope, rows).subquery("rfm_customers")
    c = per_customer.c
    customer_order = binary_order(c.customer_id, warehouse)
    count = sa.func.count().over()
    in_decimal_range = sa.func.abs(c.monetary) < 1e17

    def score(*measure_order: sa.ColumnElement) -> sa.ColumnElement:
        position = sa.func.row_number().over(order_by=[*measure_order, customer_order])
        return sa.cast(sa.func.ceil(sa.cast(position * 5, sa.Double) / count), sa.Integer)

    scored = sa.select(
        c.customer_id, c.last_sale_date, c.frequency, c.monetary,
        score(c.last_sale_date.asc()).label("r"),
        score(c.frequency.asc()).label("f"),
        # money as decimals (float sums in another order must tie); sums beyond what
        # Numeric(24, 6) holds (±inf, NaN, 1e308) rank by their float value at either end
        score(sa.case((c.monetary < -1e17, -1), (in_decimal_range, 0), else_=1),
              sa.cast(sa.case((in_decimal_range, c.monetary)), sa.Numeric(24, 6)).asc(),
              sa.case((~in_decimal_range, c.monetary)).asc()).label("m"),
    ).subquery("rfm_scored")
    s = scored.c
    fm = sa.cast(sa.func.floor(sa.cast(s.f + s.m + 1, sa.Double) / 2), sa.Integer)
    grid = {r * 10 + fm_value: name for r, row in SEGMENT_GRID.items()
            for fm_value, name in enumerate(row, start=1)}
    segment = sa.case(grid, value=s.r * 10 + fm)
    # days to the day after end, counted without naming it (there is none after 9999-12-31)
    recency = sa.cast(sa.literal(filters.end, sa.Date) - s.last_sale_date + 1, sa.Integer)
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
    return table.c.customer_id.in_(segment_customers(warehouse, filters, scope))


def segment_customers(warehouse, filters: Filters, scope: Scope) -> sa.Select:
    """SELECT of the customer ids of ``filters.segment`` over the filters' period (missing
    dates resolved), without the segment filter. Unknown names raise FilterError.

    The ids are computed once per data version, filters and scope (``segment_members``)
    and bound as one array parameter: every statement of every panel under the same
    segment then reads a list instead of computing RFM again (over the whole history, for
    a series, that is most of its time). Not an IN list of literals: one array parameter
    keeps the statement the same (and its compiled form cached) whatever the segment's
    size."""
    members = segment_members(warehouse, filters, scope)
    ids = sa.bindparam("segment_ids", list(members), type_=sa.ARRAY(sa.String), unique=True)
    return sa.select(sa.func.unnest(sa.cast(ids, sa.ARRAY(sa.String))))


#: Segment members by (warehouse, version, resolved filters, scope): a data version never
#: changes, so neither do they; the last ``_MEMBERS_KEPT`` are kept.
_members: OrderedDict[tuple, tuple[str, ...]] = OrderedDict()
_members_lock = threading.Lock()
_MEMBERS_KEPT = 64


def segment_members(warehouse, filters: Filters, scope: Scope) -> tuple[str, ...]:
    """The customer ids of ``filters.segment`` over the filters' period (see
    ``segment_customers``), sorted; remembered per data version."""
    segment = canonical_segment(filters.segment)
    version = warehouse.require_version()
    resolved = period.resolve(warehouse, replace(filters, segment=segment), version)
    key = (warehouse.url, version, resolved.without_comparison().to_query(), scope.key())
    with _members_lock:
        if key in _members:
            _members.move_to_end(key)
            return _members[key]
    rfm = rfm_subquery(warehouse, resolved, scope)
    # the segment's cells of the grid as numbers: cheaper to test than its name, which
    # every customer's row would first compute from the grid
    cells = [r * 10 + fm for r, row in SEGMENT_GRID.items()
             for fm, name in enumerate(row, start=1) if name == segment]
    query = sa.select(rfm.c.customer_id).where((rfm.c.r * 10 + rfm.c.fm).in_(cells)).order_by(
        rfm.c.customer_id)
    with warehouse.connect(version) as conn:
        members = tuple(conn.execute(query).scalars())
    with _members_lock:
        _members[key] = members
        while len(_members) > _MEMBERS_KEPT:
            _members.popitem(last=False)
    return members


def forget_members() -> None:
    """Drop the remembered segment members (a benchmark measuring a cold start)."""
    with _members_lock:
        _members.clear()


