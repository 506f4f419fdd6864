"""The planner: which tables a query reads, and what it may add up there.

``plan`` picks the facts when the filters need the lines, else the SMALLEST day-grain
rollup holding every dimension the filters, the scope and the grouping name
(``rollups.DAY_TABLES``, else ``rollup_daily``), and says which distinct counts that table
may add up exactly (``Source``), with the one-row-per-order table for distinct orders and
customers where it is exact (``Source.orders``) and the coded dimensions a code matches by
its code column alone (``Source.exact_codes``). ``RollupMeta`` holds the per-version facts
this rests on (``rollups.meta``), remembered per version in-process.

It knows the rollups and the filters, nothing of what a query computes or of RFM segments
(``measures.source_for`` passes a segment's customers as a SELECT of customer ids: the
planner then reads tables that hold a customer per row, ``rollup_invoice`` and
``rollup_customer_day``, never a day-grain rollup).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace

import sqlalchemy as sa

from analytics import catalog, rollups, schema
from analytics.filters import Filters, Scope, line_conditions


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
    out = {dimension: len(values) for dimension, values in filters.restricted().items()}
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
    segment: sa.Select | None = None  # the customer ids the rows must belong to
    orders_summable: bool = False
    customers_summable: bool = False
    customer_days: sa.Table | None = None
    customer_orders_summable: bool = False
    whole_customers: bool = False
    meta: RollupMeta | None = None
    #: Dimensions whose codes match by the code column alone (``exact_codes``).
    exact_codes: frozenset[str] = frozenset()
    #: ``rollups.orders`` (one row per order: count(*) of its sale rows are the orders)
    #: when it holds every dimension the filters and the scope name, else None.
    orders: sa.Table | None = None

    @property
    def facts(self) -> bool:
        return self.sums is schema.fact_lines

    def where(self, table: sa.Table, filters: Filters, scope: Scope, *,
              dates: bool = True) -> list[sa.ColumnElement[bool]]:
        """Filters and scope on ``table``; on the facts also "counted lines only" (a sale or
        a return: lines with unit price ≤ 0 never reach a metric); the segment's customers
        on any table."""
        categories = filters.values("category")
        if table is rollups.orders and categories:  # a bit per category, not a column
            conditions = line_conditions(
                replace(filters, **{catalog.dimension("category").field: ()}), scope, table,
                dates=dates, exact_codes=self.exact_codes)
            conditions.append(_has_sale_in(table, categories))
        else:
            conditions = line_conditions(filters, scope, table, dates=dates,
                                         exact_codes=self.exact_codes)
        if table is schema.fact_lines:
            conditions.append(sa.or_(table.c.is_sale, table.c.is_return))
        if self.segment is not None:
            if "customer_id" not in table.c:
                raise ValueError(f"{table.name} has no customer: a segment cannot be read "
                                 "there")
            conditions.append(table.c.customer_id.in_(self.segment))
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


def plan(warehouse, filters: Filters, scope: Scope, *, needs_lines: bool = False,
         group_by: tuple[str, ...] = (), version: int | None = None,
         segment: sa.Select | None = None) -> Source:
    """The facts when the filters need the lines (``needs_lines``: the query groups by a
    column only the facts hold, like product; or ``rollups.use_rollups`` says no), else the
    smallest rollup that holds the dimensions of the filters, the scope and ``group_by``
    (planner dimension names, ``rollups.DIMENSION_NAMES``), with what it may add up (see
    ``Source``). ``segment`` is a SELECT of the customer ids the rows must belong to
    (the planner knows nothing of what it means: ``measures.source_for`` passes the RFM
    segment's): then the per-invoice rollup, whose rows have one customer each."""
    version = warehouse.require_version() if version is None else version
    meta = rollup_meta(warehouse, version)
    if rollups.use_rollups(filters) and not needs_lines:
        if meta is None:
            if segment is None:
                return Source(schema.rollup_daily, schema.rollup_invoice)
        else:
            return replace(
                _plan(meta, restricted_dimensions(filters, scope), set(group_by), segment),
                exact_codes=exact_codes(meta))
    return Source(schema.fact_lines, schema.fact_lines, segment,
                  exact_codes=exact_codes(meta))


def _has_sale_in(table: sa.Table, categories) -> sa.ColumnElement[bool]:
    """An order of ``rollups.orders`` has a sale line in one of ``categories``: its bits
    meet theirs (no bit for a category the data lacks: NULL, which matches no row)."""
    bits = rollups.order_categories
    chosen = sa.select(sa.cast(sa.func.sum(sa.cast(sa.func.power(2, bits.c.bit),
                                                   sa.BigInteger)), sa.BigInteger)
                       ).where(bits.c.category.in_(list(categories))).scalar_subquery()
    return table.c.sale_categories.bitwise_and(chosen) != 0


def _orders_table(meta: RollupMeta, restricted: dict[str, int],
                  group_by: set[str]) -> sa.Table | None:
    """``rollups.orders`` when it answers distinct orders and customers exactly under
    these restrictions and grouping: built, one row per order, every dimension named but
    category invoice-level (kept there), category not grouped by, and every category with a
    bit if categories are chosen."""
    if not (meta.flag("one_row_per_order") and f"rows:{rollups.orders.name}" in meta.flags):
        return None
    if "category" in group_by or not all(meta.flag(f"invoice_level:{d}") for d in group_by):
        return None
    for dimension in restricted:
        if dimension == "category":
            if not meta.flag("order_categories"):
                return None
        elif not meta.flag(f"invoice_level:{dimension}"):
            return None
    return rollups.orders


def exact_codes(meta: RollupMeta | None) -> frozenset[str]:
    """The coded dimensions whose codes match by the code column alone in this version
    (``codes_exact`` of ``analytics.rollups``; none for a version built before it)."""
    if meta is None:
        return frozenset()
    return frozenset(d.name for d in catalog.rollup_dimensions()
                     if d.codes and meta.flag(f"codes_exact:{d.name}"))


def _plan(meta: RollupMeta, restricted: dict[str, int], group_by: set[str],
          segment: sa.Select | None = None) -> Source:
    needed = set(restricted) | group_by
    covering = [(meta.rows(table), dimensions, table)
                for dimensions, table in rollups.DAY_TABLES.items()
                if needed <= set(dimensions) and segment is None]
    single_day = meta.flag("single_day_invoices")
    customer_days = (rollups.customer_day if all(
        meta.flag(f"invoice_level:{d}") for d in needed) else None)
    whole_customers = all(meta.flag(f"customer_level:{d}") for d in restricted)
    orders = _orders_table(meta, restricted, group_by)
    if segment is not None:  # rows with a customer each
        return Source(schema.rollup_invoice, schema.rollup_invoice, segment,
                      customer_days=customer_days, customer_orders_summable=single_day,
                      whole_customers=whole_customers, meta=meta, orders=orders)
    if not covering:
        return Source(schema.rollup_daily, schema.rollup_invoice,
                      customer_days=customer_days, customer_orders_summable=single_day,
                      whole_customers=whole_customers, meta=meta, orders=orders)
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
                  meta=meta, orders=orders)


