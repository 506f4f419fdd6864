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

One query reads one row per invoice over the whole history under the filters' dimensions
and the scope (a customer's first order is looked for there, never outside the scope),
with the period sums of both periods side by side; the groups are made in pandas on those
rows (one per order, not per line).
"""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import sqlalchemy as sa

from analytics import measures, period, schema
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
    orders = _orders(warehouse, version, filters, previous, scope, carried)
    has_discounts = bool((orders["known_all"] > 0).any()) if len(orders) else False
    if not has_discounts and carried:
        has_discounts = _any_discount_information(warehouse, version, scope)
    notes: list[str] = []
    values: dict[str, dict] = {}
    for suffix, f in (("", filters), ("_prev", previous)):
        in_data = first is not None and not (f.end < first or f.start > last)
        if not has_discounts:
            values[suffix] = {name: (None, NO_DISCOUNT_DATA) for name in KPI_NAMES}
        elif not in_data:
            values[suffix] = {name: (None, NO_DATA) for name in KPI_NAMES}
        else:
            values[suffix] = _period_values(orders, suffix, f, notes if suffix == "" else None)
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
def _orders(warehouse, version: int, filters: Filters, previous: Filters, scope: Scope,
            carried: bool) -> pd.DataFrame:
    """One row per invoice under the filters' dimensions and the scope, whole history:
    its customer, first sale time, whole-history sums, and each period's sums."""
    source = measures.source_for(warehouse, filters, scope, needs_lines=True,
                                 version=version)
    t = source.counts
    discount = t.c.discount if carried else sa.cast(sa.null(), sa.Float)
    sale = t.c.is_sale

    def within(f: Filters) -> sa.ColumnElement[bool]:
        return sa.and_(t.c.invoice_date >= f.start, t.c.invoice_date <= f.end)

    def total(value, *conditions):
        return sa.func.coalesce(sa.func.sum(value).filter(*conditions), 0.0)

    columns = [
        t.c.invoice_id.label("invoice"), sa.func.min(t.c.customer_id).label("customer"),
        sa.func.min(t.c.invoice_ts).filter(sale).label("first_sale_ts"),
        total(t.c.line_value, sale).label("gross_all"),
        total(discount, sale).label("discount_all"),
        sa.func.count(discount).filter(sale).label("known_all"),
    ]
    for suffix, f in (("", filters), ("_prev", previous)):
        columns += [
            sa.func.count().filter(sale, within(f)).label(f"sales{suffix}"),
            total(t.c.line_value, sale, within(f)).label(f"gross{suffix}"),
            total(t.c.line_value, within(f)).label(f"net{suffix}"),
            total(discount, sale, within(f)).label(f"discount{suffix}"),
            sa.func.count(discount).filter(sale, within(f)).label(f"known{suffix}"),
            total(t.c.cost_value, within(f)).label(f"cost{suffix}"),
            sa.func.count(t.c.cost_value).filter(within(f)).label(f"costed{suffix}"),
        ]
    query = sa.select(*columns).where(*source.where(t, filters, scope, dates=False)) \
        .group_by(t.c.invoice_id)
    with warehouse.connect(version) as conn:
        frame = measures.read_frame(conn, query)
    numbers = [name for name in frame.columns
               if name not in ("invoice", "customer", "first_sale_ts")]
    return measures.numeric(frame, numbers)


def _any_discount_information(warehouse, version: int, scope: Scope) -> bool:
    """Whether any sale line the scope may see carries a discount: the filters may leave
    none, yet the data has discount information (then the numbers are 0, not empty)."""
    t = schema.fact_lines
    with warehouse.connect(version) as conn:
        return conn.execute(sa.select(sa.exists().where(
            t.c.is_sale, t.c.discount.is_not(None),
            *line_conditions(Filters(), scope, t, dates=False)))).scalar() or False


# ---------------------------------------------------------------------------- numbers
def _period_values(orders: pd.DataFrame, suffix: str, f: Filters,
                   notes: list[str] | None) -> dict[str, tuple]:
    placed = orders[orders[f"sales{suffix}"] > 0]
    known = placed[f"known{suffix}"] > 0
    if notes is not None and (~known).any():
        notes.append(f"{int((~known).sum()):,} orders of the period carry no discount "
                     "information: they are in neither group")
    discounted = known & (placed[f"discount{suffix}"] > TOLERANCE)
    groups = {"discounted": placed[discounted], "full_price": placed[known & ~discounted]}
    counted = len(groups["discounted"]) + len(groups["full_price"])
    gross = float(placed.loc[known, f"gross{suffix}"].sum())
    given = float(placed.loc[known, f"discount{suffix}"].sum())
    out: dict[str, tuple] = {
        "discounted_orders": (len(groups["discounted"]), None),
        "full_price_orders": (len(groups["full_price"]), None),
        "discounted_order_share": _ratio(len(groups["discounted"]), counted, NO_ORDERS),
        "discount_given": (round(given, 10), None),
        "discount_share": _ratio(given, gross, NO_GROSS),
    }
    for name, group in groups.items():
        empty = NO_DISCOUNTED if name == "discounted" else NO_FULL_PRICE
        net = float(group[f"net{suffix}"].sum())
        out[f"{name}_revenue"] = (net, None)
        out[f"{name}_aov"] = _ratio(float(group[f"gross{suffix}"].sum()), len(group), empty)
        if len(group) == 0:
            out[f"{name}_margin"] = (None, empty)
        elif not (group[f"costed{suffix}"] > 0).any():
            out[f"{name}_margin"] = (None, NO_COST)
        else:
            out[f"{name}_margin"] = _ratio(net - float(group[f"cost{suffix}"].sum()), net,
                                           NO_REVENUE)
    out.update(_acquired(orders, f, notes))
    return out


def _acquired(orders: pd.DataFrame, f: Filters, notes: list[str] | None) -> dict[str, tuple]:
    """Customers whose first order (in the whole history under the filters and scope)
    falls in the period, split by whether that order was discounted: how many, the AOV
    of all their orders in the data, and the share who ordered again later."""
    placed = orders[orders["customer"].notna() & orders["first_sale_ts"].notna()]
    placed = placed.sort_values(["first_sale_ts", "invoice"], kind="stable")
    per_customer = placed.groupby("customer", sort=False).agg(
        first_ts=("first_sale_ts", "first"), first_known=("known_all", "first"),
        first_discount=("discount_all", "first"), orders=("invoice", "size"),
        gross=("gross_all", "sum"))
    day = pd.to_datetime(per_customer["first_ts"]).dt.date
    new = per_customer[(day >= f.start) & (day <= f.end)]
    known = new["first_known"] > 0
    if notes is not None and (~known).any():
        notes.append(f"{int((~known).sum()):,} customers acquired in the period have a "
                     "first order without discount information: they are in neither group")
    on_discount = known & (new["first_discount"] > TOLERANCE)
    out: dict[str, tuple] = {}
    for name, group, empty in (("acquired_on_discount", new[on_discount], NO_ACQUIRED_DISCOUNT),
                               ("acquired_full_price", new[known & ~on_discount],
                                NO_ACQUIRED_FULL)):
        out[name] = (len(group), None)
        out[f"{name}_aov"] = _ratio(float(group["gross"].sum()), int(group["orders"].sum()),
                                    empty)
        out[f"{name}_repeat_rate"] = _ratio(int((group["orders"] >= 2).sum()), len(group),
                                            empty)
    return out


def _ratio(numerator: float, denominator: float, reason: str) -> tuple:
    if not denominator or (isinstance(denominator, float) and math.isnan(denominator)):
        return None, reason
    return float(np.float64(numerator) / np.float64(denominator)), None
