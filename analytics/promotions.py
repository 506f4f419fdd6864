"""Promotion impact (docs/promotions.md): discounted against full-price orders, the money
given away, and the customers acquired on a discount against the others, for a period
against its previous period, under the filters and the data scope.

The discount is the fact column ``discount``: the money taken off a line at sale, kept by
the loader (``data.orders``, ``data.readers``) where the export says it. A source without
discount information (Online Retail, a generic file without a discount column) leaves it
NULL, and so does a version published before the column existed (read as NULL): every
number here is then empty, with a note naming the columns to map. An order is
*discounted* when the discount of its sale lines in the period adds up to more than a cent;
an order whose sale lines carry no discount information at all is in neither group (counted
in the notes).

One statement returns every sum of both periods (``_sums``): the lines of the two periods
grouped per invoice, then per group; and the customers whose first order (looked for over
the whole history under the filters' dimensions and the scope, never outside the scope)
falls in one of the periods, with all their orders. Nothing per order reaches Python.
"""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

import numpy as np
import sqlalchemy as sa

from analytics import measures, period, planner, schema, segments
from analytics.filters import Filters, Scope, line_conditions
from analytics.kpis import NO_DATA, Kpi, periods_dict
from analytics.warehouse import table_columns

#: The numbers, in the order the API returns them (docs/promotions.md, "Definitions").
KPI_NAMES = (
    "discounted_orders", "full_price_orders", "discounted_order_share",
    "discounted_revenue", "full_price_revenue", "discounted_aov", "full_price_aov",
    "discount_given", "discount_share", "discounted_margin", "full_price_margin",
    "acquired_on_discount", "acquired_full_price", "acquired_on_discount_aov",
    "acquired_full_price_aov", "acquired_on_discount_repeat_rate",
    "acquired_full_price_repeat_rate",
)
#: Orders whose discount is below this are full price (exports round to the cent).
TOLERANCE = 0.005

NO_DISCOUNT_DATA = "no discount information in the data"
NO_ORDERS = "no orders in this period"
NO_DISCOUNTED = "no discounted orders in this period"
NO_FULL_PRICE = "no full-price orders in this period"
NO_GROSS = "no gross revenue in this period"
NO_COST = "no cost data"
NO_REVENUE = "no revenue in this group"
NO_ACQUIRED_DISCOUNT = "no customer acquired on a discount in this period"
NO_ACQUIRED_FULL = "no customer acquired at full price in this period"
#: The note of a version without discount information: what to map to get one.
MAP_DISCOUNTS = (
    "The data has no discount information, so the promotion numbers are empty. Load a "
    "Shopify export (its Subtotal and Discount Amount are read), or map \"discount\" (a "
    "line's discount, with \"discount_type\"), \"order_discount\" or \"order_subtotal\" "
    "in a generic mapping (docs/promotions.md).")


@dataclass(frozen=True)
class PromotionSummary:
    """The numbers of ``KPI_NAMES`` for the period and the previous period, whether the
    data has discount information at all, and the notes."""
    start: dt.date
    end: dt.date
    previous_start: dt.date
    previous_end: dt.date
    has_discounts: bool
    kpis: dict[str, Kpi] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def __getitem__(self, name: str) -> Kpi:
        return self.kpis[name]

    def to_dict(self) -> dict:
        return {**periods_dict(self),
                "has_discounts": self.has_discounts,
                "kpis": {name: self.kpis[name].to_dict() for name in KPI_NAMES},
                "notes": list(self.notes)}


def promotion_summary(warehouse, filters: Filters, scope: Scope) -> PromotionSummary:
    """The promotion numbers for the resolved period of ``filters`` and its previous
    period (docs/promotions.md)."""
    version = warehouse.require_version()
    filters = period.resolve(warehouse, filters, version)
    previous = filters.previous_period()
    first, last = period.data_range(warehouse, version)
    with warehouse.connect(version) as conn:
        carried = "discount" in table_columns(conn, schema.fact_lines.name)
    # an order with a known discount under the filters is a sale line with one in the scope
    has_discounts = carried and _any_discount_information(warehouse, version, scope)
    periods = {"": filters, "_prev": previous}
    in_data = {suffix: first is not None and not (f.end < first or f.start > last)
               for suffix, f in periods.items()}
    sums = (_sums(warehouse, version, filters, previous, scope)
            if has_discounts and any(in_data.values()) else {})
    notes: list[str] = []
    values: dict[str, dict] = {}
    for suffix in periods:
        if not has_discounts:
            values[suffix] = {name: (None, NO_DISCOUNT_DATA) for name in KPI_NAMES}
        elif not in_data[suffix]:
            values[suffix] = {name: (None, NO_DATA) for name in KPI_NAMES}
        else:
            values[suffix] = _period_values(sums, suffix, notes if suffix == "" else None)
    if not has_discounts:
        notes.append(MAP_DISCOUNTS)
    kpis = {}
    for name in KPI_NAMES:
        current, current_reason = values[""][name]
        prior, prior_reason = values["_prev"][name]
        reason = current_reason if current is None else (
            f"previous period: {prior_reason}" if prior is None else None)
        kpis[name] = Kpi(current, prior, reason)
    return PromotionSummary(filters.start, filters.end, previous.start, previous.end,
                            has_discounts, kpis, tuple(notes))


# ------------------------------------------------------------------------------ reading
GROUPS = ("discounted", "full_price")
ACQUIRED = ("acquired_on_discount", "acquired_full_price")


def _sums(warehouse, version: int, filters: Filters, previous: Filters,
          scope: Scope) -> dict[str, float]:
    """One row of sums for both periods (suffix ``""`` and ``"_prev"``), in one statement:
    the orders of the two periods per group, and the customers acquired in each period
    per group. Only the two periods' lines are grouped per invoice, and only the invoices
    of the customers whose first order falls in one of them (a customer's first order is
    still looked for over the whole history under the filters' dimensions and the scope)."""
    source = measures.source_for(warehouse, filters, scope, needs_lines=True,
                                 version=version)
    t = source.counts
    sale = t.c.is_sale
    kept = source.where(t, filters, scope, dates=False)
    periods = {"": filters, "_prev": previous}

    def within(f: Filters) -> sa.ColumnElement[bool]:
        return sa.and_(t.c.invoice_date >= f.start, t.c.invoice_date <= f.end)

    def total(value, *conditions):
        return sa.func.coalesce(sa.func.sum(value).filter(*conditions), 0.0)

    def first_within(ts: sa.ColumnElement, f: Filters) -> sa.ColumnElement[bool]:
        # the end day's last instant (not the next midnight: 9999-12-31 has none)
        return sa.and_(ts >= dt.datetime.combine(f.start, dt.time()),
                       ts <= dt.datetime.combine(f.end, dt.time.max))

    # the orders of the two periods: each invoice's sums within each period
    columns = []
    for suffix, f in periods.items():
        columns += [
            sa.func.count().filter(sale, within(f)).label(f"sales{suffix}"),
            total(t.c.line_value, sale, within(f)).label(f"gross{suffix}"),
            total(t.c.line_value, within(f)).label(f"net{suffix}"),
            total(t.c.discount, sale, within(f)).label(f"discount{suffix}"),
            sa.func.count(t.c.discount).filter(sale, within(f)).label(f"known{suffix}"),
            total(t.c.cost_value, within(f)).label(f"cost{suffix}"),
            sa.func.count(t.c.cost_value).filter(within(f)).label(f"costed{suffix}"),
        ]
    orders = sa.select(*columns).where(
        *kept, t.c.invoice_date >= previous.start, t.c.invoice_date <= filters.end) \
        .group_by(t.c.invoice_id).subquery("period_orders")
    o = orders.c
    order_sums = []
    for suffix in periods:
        placed = o[f"sales{suffix}"] > 0
        known = o[f"known{suffix}"] > 0
        discounted = o[f"discount{suffix}"] > TOLERANCE
        order_sums += [
            sa.func.count().filter(placed, sa.not_(known)).label(f"unknown{suffix}"),
            sa.func.sum(o[f"gross{suffix}"]).filter(placed, known).label(f"gross{suffix}"),
            sa.func.sum(o[f"discount{suffix}"]).filter(placed, known)
            .label(f"given{suffix}")]
        for group, condition in zip(GROUPS, (discounted, sa.not_(discounted))):
            among = (placed, known, condition)
            order_sums += [
                sa.func.count().filter(*among).label(f"{group}_orders{suffix}"),
                sa.func.sum(o[f"net{suffix}"]).filter(*among).label(f"{group}_net{suffix}"),
                sa.func.sum(o[f"gross{suffix}"]).filter(*among)
                .label(f"{group}_gross{suffix}"),
                sa.func.sum(o[f"cost{suffix}"]).filter(*among).label(f"{group}_cost{suffix}"),
                sa.func.count().filter(*among, o[f"costed{suffix}"] > 0)
                .label(f"{group}_costed{suffix}")]
    order_part = sa.select(*order_sums).subquery("order_sums")

    # the customers whose first sale (whole history) falls in one of the periods …
    both = filters.with_period(previous.start, filters.end)
    if source.segment is None and not line_conditions(filters, scope, t, dates=False):
        # nothing but the dates: a customer's first sale is the one of the whole data
        acquired = sa.select(schema.dim_customer.c.customer_id).where(
            first_within(schema.dim_customer.c.first_sale_ts, both))
    else:
        acquired = sa.select(t.c.customer_id) \
            .where(*kept, sale, t.c.customer_id.is_not(None)).group_by(t.c.customer_id) \
            .having(first_within(sa.func.min(t.c.invoice_ts), both))
    # … and all their orders in the data (a line without customer still counts in its
    # order); when no invoice spans two days, none of them is before the previous period
    since = []
    meta = planner.rollup_meta(warehouse, version)
    if meta is not None and meta.flag("single_day_invoices"):
        since.append(t.c.invoice_date >= previous.start)
    invoices = sa.select(t.c.invoice_id).where(*kept, *since,
                                               t.c.customer_id.in_(acquired))
    their_orders = sa.select(
        t.c.invoice_id, sa.func.min(t.c.customer_id).label("customer"),
        sa.func.min(t.c.invoice_ts).filter(sale).label("first_sale_ts"),
        total(t.c.line_value, sale).label("gross"),
        total(t.c.discount, sale).label("discount"),
        sa.func.count(t.c.discount).filter(sale).label("known"),
    ).where(*kept, *since, t.c.invoice_id.in_(invoices)).group_by(t.c.invoice_id) \
        .subquery("their_orders")
    c = their_orders.c
    # the first order by time, ties by invoice id (code point order on every engine)
    position = sa.func.row_number().over(
        partition_by=c.customer,
        order_by=(c.first_sale_ts, segments.binary_order(c.invoice_id, warehouse)))
    ranked = sa.select(c.customer, c.first_sale_ts, c.gross, c.discount, c.known,
                       position.label("position")) \
        .where(c.customer.in_(acquired), c.first_sale_ts.is_not(None)).subquery("ranked")
    r = ranked.c
    first = r.position == 1
    customers = sa.select(
        sa.func.max(r.first_sale_ts).filter(first).label("first_ts"),
        sa.func.max(r.known).filter(first).label("first_known"),
        sa.func.max(r.discount).filter(first).label("first_discount"),
        sa.func.count().label("orders"), sa.func.sum(r.gross).label("gross"),
    ).group_by(r.customer).subquery("acquired_customers")
    a = customers.c
    customer_sums = []
    for suffix, f in periods.items():
        new = first_within(a.first_ts, f)
        known = a.first_known > 0
        on_discount = a.first_discount > TOLERANCE
        customer_sums.append(sa.func.count().filter(new, sa.not_(known))
                             .label(f"acquired_unknown{suffix}"))
        for group, condition in zip(ACQUIRED, (on_discount, sa.not_(on_discount))):
            among = (new, known, condition)
            customer_sums += [
                sa.func.count().filter(*among).label(f"{group}{suffix}"),
                sa.func.sum(a.gross).filter(*among).label(f"{group}_gross{suffix}"),
                sa.func.sum(a.orders).filter(*among).label(f"{group}_orders{suffix}"),
                sa.func.count().filter(*among, a.orders >= 2)
                .label(f"{group}_repeat{suffix}")]
    customer_part = sa.select(*customer_sums).subquery("customer_sums")
    query = sa.select(*order_part.c, *customer_part.c) \
        .select_from(order_part.join(customer_part, sa.true()))
    with warehouse.connect(version) as conn:
        row = conn.execute(query).mappings().one()
    return {name: 0.0 if value is None else float(value) for name, value in row.items()}


def _any_discount_information(warehouse, version: int, scope: Scope) -> bool:
    """Whether any sale line the scope may see carries a discount: the filters may leave
    none, yet the data has discount information (then the numbers are 0, not empty)."""
    t = schema.fact_lines
    with warehouse.connect(version) as conn:
        return conn.execute(sa.select(sa.exists().where(
            t.c.is_sale, t.c.discount.is_not(None),
            *line_conditions(Filters(), scope, t, dates=False)))).scalar() or False


# ---------------------------------------------------------------------------- numbers
def _period_values(sums: dict[str, float], suffix: str,
                   notes: list[str] | None) -> dict[str, tuple]:
    def value(name: str) -> float:
        return sums[f"{name}{suffix}"]

    unknown = int(value("unknown"))
    if notes is not None and unknown:
        notes.append(f"{unknown:,} orders of the period carry no discount "
                     "information: they are in neither group")
    count = {group: int(value(f"{group}_orders")) for group in GROUPS}
    given = value("given")
    out: dict[str, tuple] = {
        "discounted_orders": (count["discounted"], None),
        "full_price_orders": (count["full_price"], None),
        "discounted_order_share": _ratio(count["discounted"], sum(count.values()), NO_ORDERS),
        "discount_given": (round(given, 10), None),
        "discount_share": _ratio(given, value("gross"), NO_GROSS),
    }
    for group in GROUPS:
        empty = NO_DISCOUNTED if group == "discounted" else NO_FULL_PRICE
        net = value(f"{group}_net")
        out[f"{group}_revenue"] = (net, None)
        out[f"{group}_aov"] = _ratio(value(f"{group}_gross"), count[group], empty)
        if count[group] == 0:
            out[f"{group}_margin"] = (None, empty)
        elif not value(f"{group}_costed"):
            out[f"{group}_margin"] = (None, NO_COST)
        else:
            out[f"{group}_margin"] = _ratio(net - value(f"{group}_cost"), net, NO_REVENUE)
    unknown = int(value("acquired_unknown"))
    if notes is not None and unknown:
        notes.append(f"{unknown:,} customers acquired in the period have a "
                     "first order without discount information: they are in neither group")
    for group in ACQUIRED:
        empty = NO_ACQUIRED_DISCOUNT if group == "acquired_on_discount" else NO_ACQUIRED_FULL
        customers = int(value(group))
        out[group] = (customers, None)
        out[f"{group}_aov"] = _ratio(value(f"{group}_gross"), int(value(f"{group}_orders")),
                                     empty)
        out[f"{group}_repeat_rate"] = _ratio(int(value(f"{group}_repeat")), customers, empty)
    return out


def _ratio(numerator: float, denominator: float, reason: str) -> tuple:
    if not denominator or (isinstance(denominator, float) and math.isnan(denominator)):
        return None, reason
    return float(np.float64(numerator) / np.float64(denominator)), None
