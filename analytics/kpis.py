"""The KPI summary of a period against its previous period (METRICS.md, "KPIs"), or
against the period the user chose instead (``Filters.compare``: a year earlier, custom).

One SQL round trip: one SELECT joins four one-row subqueries (sums, distinct counts,
per-customer rates, sessions), each computing the current and the previous period in the
same scan with ``FILTER (WHERE …)``. Each reads the smallest table the planner allows
(``measures.source_for``): Σ measures and orders from a day-grain rollup, customers, churn,
repeat and LTV from the days of the three periods in ``rollup_customer_day`` (LTV from its
``ltv_to_date`` when the filters select whole customers), sessions from a sessions rollup.

A period without lines (METRICS.md, "Periods without lines"): inside the data's date range
its sums and counts are 0 and a ratio over 0 is empty with its reason; entirely before the
data's first day or after its last day, every KPI is empty with ``NO_DATA``.
"""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

import numpy as np
import sqlalchemy as sa

from analytics import catalog, measures, period, rollups, schema
from analytics.filters import Filters, Scope
from analytics.planner import Source

#: KPI names of the API, in METRICS.md order (``analytics.catalog.MEASURES``).
KPI_NAMES = catalog.KPI_NAMES

NO_DATA = "no data for this period"
NO_ORDERS = "no orders in this period"
NO_CUSTOMERS = "no identified customers in this period"
NO_COST = "no cost data"
NO_COST_PERIOD = "no cost data for this period"
NO_REVENUE = "no revenue in this period"
NO_SESSIONS = "no sessions data"
NO_SESSIONS_PERIOD = "no sessions data for this period"
NO_PREVIOUS_CUSTOMERS = "no identified customers in the previous period"

#: Filters the sessions table cannot follow (it has no such column): Filters field → noun.
_SESSIONLESS_FILTERS = {
    **{d.field: d.noun for d in catalog.filter_dimensions() if d.sessions_column is None},
    "min_price": "price", "max_price": "price", "segment": "segment"}
#: Filters field → sessions column, for the dimensions other than the country (whose
#: values may be names, matched through the facts' country → code pairs).
_SESSION_DIMENSIONS = {d.field: d.sessions_column for d in catalog.session_dimensions()
                       if not d.codes}


@dataclass(frozen=True)
class Kpi:
    """One KPI for the period and its previous period. ``reason`` says why a value is
    empty (None): the current value's reason, else "previous period: …"."""
    current: float | int | None
    previous: float | int | None
    reason: str | None = None

    @property
    def abs_change(self) -> float | None:
        if self.current is None or self.previous is None:
            return None
        return self.current - self.previous

    @property
    def rel_change(self) -> float | None:
        """(current − previous) ÷ |previous|; None when previous is 0 or empty."""
        if self.current is None or self.previous is None or self.previous == 0:
            return None
        return (self.current - self.previous) / abs(self.previous)

    def to_dict(self) -> dict:
        return {"current": self.current, "previous": self.previous,
                "abs_change": self.abs_change, "rel_change": self.rel_change,
                "reason": self.reason}


def periods_dict(summary) -> dict:
    """``{"period": {start, end}, "previous_period": {start, end}}`` of a summary with
    ``start``, ``end``, ``previous_start`` and ``previous_end`` (the KPI, marketing and
    promotion summaries' common API shape)."""
    return {"period": {"start": summary.start.isoformat(), "end": summary.end.isoformat()},
            "previous_period": {"start": summary.previous_start.isoformat(),
                                "end": summary.previous_end.isoformat()}}


@dataclass(frozen=True)
class KpiSummary:
    """Every KPI of METRICS.md by API name, for ``start…end`` and the period it is compared
    with (``previous_start…previous_end``: the previous period unless ``compare`` says
    otherwise)."""
    start: dt.date
    end: dt.date
    previous_start: dt.date
    previous_end: dt.date
    kpis: dict[str, Kpi] = field(default_factory=dict)
    #: What "previous" is (``Filters.compare``) and the cards' words for it.
    compare: str = "previous"
    comparison_label: str = ""

    def __getitem__(self, name: str) -> Kpi:
        return self.kpis[name]

    def to_dict(self) -> dict:
        """The API shape: ``{"period": {...}, "previous_period": {...}, "comparison":
        {"compare", "start", "end", "label"}, "kpis": {name: {"current", "previous",
        "abs_change", "rel_change", "reason"}}}``; ``previous_period`` and ``previous``
        are the comparison period's, whatever ``compare`` chose."""
        return {
            **periods_dict(self),
            "comparison": {"compare": self.compare, "start": self.previous_start.isoformat(),
                           "end": self.previous_end.isoformat(),
                           "label": self.comparison_label},
            "kpis": {name: self.kpis[name].to_dict() for name in KPI_NAMES},
        }


def kpi_summary(warehouse, filters: Filters, scope: Scope) -> KpiSummary:
    """KPIs for the resolved period of ``filters`` and for the period it is compared with
    (``Filters.comparison``: the previous period by default, the same days a year earlier,
    or custom dates). The comparison period's KPIs are its own: its churn rate, for one,
    is measured against the period before it."""
    version = warehouse.require_version()
    filters = period.resolve(warehouse, filters, version)
    compared = filters.comparison()
    values = _values(warehouse, filters, scope, version)
    if filters.compare != "previous":  # a second round trip for a period that is not adjacent
        values["_prev"] = _values(warehouse, compared, scope, version)[""]
    against = {"previous": "previous period", "last_year": "last year"}.get(
        filters.compare, "comparison period")
    kpis = {}
    for name in KPI_NAMES:
        current, current_reason = values[""][name]
        prior, prior_reason = values["_prev"][name]
        reason = current_reason if current is None else (
            f"{against}: {prior_reason}" if prior is None else None)
        kpis[name] = Kpi(current, prior, reason)
    return KpiSummary(filters.start, filters.end, compared.start, compared.end, kpis,
                      compare=filters.compare, comparison_label=filters.comparison_label())


def _values(warehouse, filters: Filters, scope: Scope, version: int) -> dict[str, dict]:
    """(value, reason) of every KPI for ``filters``' period ("") and its previous period
    ("_prev"), in one round trip."""
    previous = filters.previous_period()
    before_previous = previous.previous_period()
    info = period.version_info(warehouse, version)
    source = measures.source_for(warehouse, filters, scope, version=version)
    periods = {"": filters, "_prev": previous}
    window = filters.with_period(previous.start, filters.end)

    def in_period(table: sa.Table, f: Filters) -> sa.ColumnElement[bool]:
        return measures.period_condition(table, f.start, f.end)

    sums_table = source.sums
    # distinct orders and customers: one row per order where the planner has it
    counts_table = source.orders if source.orders is not None else source.counts
    sum_columns = [column for suffix, f in periods.items() for column in
                   measures.sum_columns(sums_table, in_period(sums_table, f), suffix)]
    count_columns = []
    for suffix, f in periods.items():
        if source.orders_summable:
            sum_columns += measures.summed_count_columns(
                sums_table, in_period(sums_table, f), suffix, names=("orders",))
        else:
            count_columns += measures.count_columns(
                source, counts_table, in_period(counts_table, f), suffix, names=("orders",))
    parts = [sa.select(*sum_columns).where(*source.where(sums_table, window, scope))
             .subquery("sums")]
    if count_columns:
        parts.append(sa.select(*count_columns).where(
            *source.where(counts_table, window, scope)).subquery("counts"))
    customer_table = source.customer_days if source.customer_days is not None else counts_table
    parts.append(sa.select(*[
        column for suffix, f in periods.items() for column in measures.count_columns(
            source, customer_table, in_period(customer_table, f), suffix, names=("customers",))
    ]).where(*source.where(customer_table, window, scope)).subquery("customer_counts"))
    if (source.customer_days is not None and source.customer_orders_summable
            and source.whole_customers):
        parts.append(_customer_rates_by_day(source, filters, previous, before_previous, scope))
    else:
        rates = _customer_rates if warehouse.reuses_ctes else _customer_rates_windowed
        parts.append(rates(source, filters, previous, before_previous, scope))
    session_reason = _sessions_reason(info, filters, scope)
    if session_reason is None:
        parts.append(_sessions(filters, previous, scope, planned=source.meta is not None))
    query = sa.select(*[column for part in parts for column in part.c])
    query = query.select_from(parts[0])
    for part in parts[1:]:
        query = query.join(part, sa.true())
    with warehouse.connect(info.version) as conn:
        row = dict(conn.execute(query).mappings().one())

    first, last = period.data_range(warehouse, info.version)
    values = {}
    for suffix, f in periods.items():
        if first is None or f.end < first or f.start > last:
            values[suffix] = {name: (None, NO_DATA) for name in KPI_NAMES}
            continue
        raw = _finished(row, suffix)
        values[suffix] = _period_kpis(raw, row, suffix, info, session_reason)
    return values

def _finished(row: dict, suffix: str) -> dict:
    """The raw measures of one period of ``row`` with ``measures.finish`` applied (as
    plain floats: one row needs no frame)."""
    columns = {name: np.array([_number(row[name + suffix])], dtype="float64")
               for name in (*measures.SUM_NAMES, *measures.COUNT_NAMES)}
    for name in columns:
        if name != "cost":
            columns[name][np.isnan(columns[name])] = 0.0
    return {name: float(value[0]) for name, value in measures.finish_arrays(columns).items()}


def _period_kpis(raw: dict, row: dict, suffix: str, info,
                 session_reason: str | None) -> dict[str, tuple]:
    """(value, reason) for every KPI of one period inside the data's date range.

    A period without lines under the filters (METRICS.md, "Periods without lines") has
    sums and counts of 0, its ratios empty for want of orders (a conversion rate over
    sessions of the period is 0), its profit 0 when the data has unit costs, and a churn
    rate whenever the previous period had customers."""
    out: dict[str, tuple] = {}
    has_lines = raw["sale_lines"] + raw["return_lines"] > 0
    orders, customers = int(raw["orders"]), int(raw["customers"])
    out["gross_revenue"] = (float(raw["gross_revenue"]), None)
    out["returns"] = (float(raw["returns"]), None)
    out["revenue"] = (float(raw["revenue"]), None)
    out["orders"] = (orders, None)
    out["units"] = (float(raw["units"]), None)
    out["customers"] = (customers, None)
    out["aov"] = (float(raw["gross_revenue"]) / orders, None) if orders else (None, NO_ORDERS)
    if not info.has_cost:
        out["profit"] = out["margin"] = (None, NO_COST)
    elif not has_lines:  # no line, no cost: revenue 0 − Σ cost of no line
        out["profit"] = (0.0, None)
        out["margin"] = (None, NO_ORDERS)
    elif raw["cost_lines"] == 0:
        out["profit"] = out["margin"] = (None, NO_COST_PERIOD)
    else:
        out["profit"] = (float(raw["profit"]), None)
        out["margin"] = ((None, NO_REVENUE) if raw["revenue"] == 0
                         else (float(raw["profit"]) / float(raw["revenue"]), None))
    if session_reason is not None:
        out["conversion_rate"] = (None, session_reason)
    else:
        sessions = _number(row[f"sessions{suffix}"])
        out["conversion_rate"] = ((orders / sessions, None) if sessions
                                  else (None, NO_SESSIONS_PERIOD))
    churn_base = int(_number(row[f"churn_base{suffix}"]) or 0)
    out["churn_rate"] = ((_number(row[f"churned{suffix}"]) / churn_base, None) if churn_base
                         else (None, NO_PREVIOUS_CUSTOMERS))
    if customers:
        out["ltv"] = (_number(row[f"ltv{suffix}"]), None)
        out["repeat_rate"] = (_number(row[f"repeaters{suffix}"]) / customers, None)
    else:
        out["ltv"] = out["repeat_rate"] = (None, NO_ORDERS if not orders else NO_CUSTOMERS)
    return out


def _number(value) -> float | None:
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) else number


def _customer_rates(source: Source, filters: Filters, previous: Filters,
                    before_previous: Filters, scope: Scope) -> sa.Subquery:
    """One row: churn, repeat and LTV inputs for the period and the previous period.

    Per identified customer over their lines up to ``end`` (same filters, any earlier
    date): whether they bought in each of the three periods, their orders in the two latest
    periods, and their net revenue from the first sale up to each end.

    No window over the whole history: a sale row is never before the first sale, so the
    net revenue since the first sale is Σ over the customer's sale rows plus Σ over their
    other rows (returns: a few per cent) from the first sale on, joined to the first sale
    time afterwards. Purchases and orders per period come from the rows of the three
    periods alone (the customers without any add nothing to the rates).
    """
    table = source.counts
    customer = source.customer(table)
    invoice_date = table.c.invoice_date
    sale = source.is_sale(table)
    conditions = [*source.where(table, filters.with_period(None, filters.end), scope),
                  customer.is_not(None)]
    net = source.net_value(table)

    def within(f: Filters) -> sa.ColumnElement[bool]:
        return sa.and_(invoice_date >= f.start, invoice_date <= f.end)

    def bought(f: Filters) -> sa.ColumnElement:
        return sa.func.count().filter(within(f)) > 0

    def orders(f: Filters) -> sa.ColumnElement:
        return sa.func.count(sa.distinct(source.invoice(table))).filter(within(f))

    recent = sa.select(
        customer.label("customer"),
        bought(filters).label("in_current"),
        bought(previous).label("in_previous"),
        bought(before_previous).label("in_before"),
        orders(filters).label("orders_current"),
        orders(previous).label("orders_previous"),
    ).where(*source.where(table, filters.with_period(before_previous.start, filters.end),
                          scope), customer.is_not(None), sale
            ).group_by(customer).subquery("recent_buyers")
    buyers = sa.select(
        customer.label("customer"),
        sa.func.min(table.c.invoice_ts).label("first_sale_ts"),
        sa.func.sum(net).label("sales_net_current"),
        sa.func.sum(net).filter(invoice_date <= previous.end).label("sales_net_previous"),
    ).where(*conditions, sale).group_by(customer).cte("buyers")
    other = sa.select(customer.label("customer"), table.c.invoice_ts, invoice_date,
                      net.label("net_value")).where(*conditions, sa.not_(sale)
                                                    ).subquery("other_rows")
    late = sa.select(
        other.c.customer,
        sa.func.sum(other.c.net_value).label("net_current"),
        sa.func.sum(other.c.net_value).filter(other.c.invoice_date <= previous.end)
        .label("net_previous"),
    ).select_from(other.join(buyers, sa.and_(buyers.c.customer == other.c.customer,
                                             other.c.invoice_ts >= buyers.c.first_sale_ts))
                  ).group_by(other.c.customer).subquery("late_rows")
    b, r = buyers.c, recent.c
    per_customer = sa.select(
        r.in_current, r.in_previous, r.in_before, r.orders_current, r.orders_previous,
        (b.sales_net_current + sa.func.coalesce(late.c.net_current, 0.0)).label("ltv_current"),
        (b.sales_net_previous + sa.func.coalesce(late.c.net_previous, 0.0))
        .label("ltv_previous"),
    ).select_from(recent.join(buyers, b.customer == r.customer)
                  .outerjoin(late, late.c.customer == b.customer)).subquery("per_customer")
    return _rates(per_customer)


def _customer_rates_windowed(source: Source, filters: Filters, previous: Filters,
                             before_previous: Filters, scope: Scope) -> sa.Subquery:
    """``_customer_rates`` for PostgreSQL and ClickHouse, where the rewrite was slower
    (measured at 1M lines: kpi_summary 1.1 s → 4.4 s on PostgreSQL; ClickHouse runs a CTE
    once per reference): the first sale time as a window over the customer's rows, then
    one grouping.

    Per identified customer over their lines up to ``end`` (same filters, any earlier
    date): first sale time, whether they bought in each of the three periods, their orders
    in the two latest periods, and their net revenue from the first sale up to each end.
    """
    table = source.counts
    customer = source.customer(table)
    invoice_date = table.c.invoice_date
    sale = source.is_sale(table)
    rows = sa.select(
        customer.label("customer"), table.c.invoice_ts, invoice_date,
        source.invoice(table).label("invoice"), sale.label("is_sale"),
        source.net_value(table).label("net_value"),
        sa.func.min(table.c.invoice_ts).filter(sale).over(partition_by=customer)
        .label("first_sale_ts"),
    ).where(*source.where(table, filters.with_period(None, filters.end), scope),
            customer.is_not(None)).subquery("customer_lines")

    def bought(f: Filters) -> sa.ColumnElement:
        return sa.func.count().filter(rows.c.is_sale, rows.c.invoice_date >= f.start,
                                      rows.c.invoice_date <= f.end) > 0

    def orders(f: Filters) -> sa.ColumnElement:
        return sa.func.count(sa.distinct(rows.c.invoice)).filter(
            rows.c.is_sale, rows.c.invoice_date >= f.start, rows.c.invoice_date <= f.end)

    since_first = rows.c.invoice_ts >= rows.c.first_sale_ts
    per_customer = sa.select(
        bought(filters).label("in_current"),
        bought(previous).label("in_previous"),
        bought(before_previous).label("in_before"),
        orders(filters).label("orders_current"),
        orders(previous).label("orders_previous"),
        sa.func.sum(rows.c.net_value).filter(since_first).label("ltv_current"),
        sa.func.sum(rows.c.net_value).filter(since_first, rows.c.invoice_date <= previous.end)
        .label("ltv_previous"),
    ).where(rows.c.first_sale_ts.is_not(None)).group_by(rows.c.customer).subquery("per_customer")
    return _rates(per_customer)


def _customer_rates_by_day(source: Source, filters: Filters, previous: Filters,
                           before_previous: Filters, scope: Scope) -> sa.Subquery:
    """The row of ``_customer_rates`` from the days of the three periods in
    ``rollup_customer_day``: orders add up over a customer's days, and, the filters keeping
    all or none of a customer's rows, their LTV up to a day is ``ltv_to_date`` on their last
    day with rows up to it."""
    table = source.customer_days
    customer = table.c.customer_key
    day = table.c.invoice_date
    sale = table.c.sale_lines > 0
    rows = sa.select(
        customer.label("customer"), day, sale.label("is_sale"), table.c.orders,
        table.c.ltv_to_date,
        sa.func.max(day).over(partition_by=customer).label("last_day"),
        sa.func.max(day).filter(day <= previous.end).over(partition_by=customer)
        .label("last_day_previous"),
    ).where(*source.where(table, filters.with_period(before_previous.start, filters.end),
                          scope)).subquery("customer_days")
    r = rows.c

    def within(f: Filters) -> sa.ColumnElement[bool]:
        return sa.and_(r.invoice_date >= f.start, r.invoice_date <= f.end)

    def bought(f: Filters) -> sa.ColumnElement:
        return sa.func.count().filter(r.is_sale, within(f)) > 0

    per_customer = sa.select(
        bought(filters).label("in_current"),
        bought(previous).label("in_previous"),
        bought(before_previous).label("in_before"),
        sa.func.sum(r.orders).filter(within(filters)).label("orders_current"),
        sa.func.sum(r.orders).filter(within(previous)).label("orders_previous"),
        sa.func.max(r.ltv_to_date).filter(r.invoice_date == r.last_day).label("ltv_current"),
        sa.func.max(r.ltv_to_date).filter(r.invoice_date == r.last_day_previous)
        .label("ltv_previous"),
    ).group_by(r.customer).subquery("per_customer")
    return _rates(per_customer)


def _rates(per_customer: sa.Subquery) -> sa.Subquery:
    c = per_customer.c
    return sa.select(
        sa.func.count().filter(c.in_previous).label("churn_base"),
        sa.func.count().filter(c.in_previous, sa.not_(c.in_current)).label("churned"),
        sa.func.count().filter(c.in_before).label("churn_base_prev"),
        sa.func.count().filter(c.in_before, sa.not_(c.in_previous)).label("churned_prev"),
        sa.func.count().filter(c.in_current, c.orders_current >= 2).label("repeaters"),
        sa.func.count().filter(c.in_previous, c.orders_previous >= 2).label("repeaters_prev"),
        sa.func.avg(sa.func.coalesce(c.ltv_current, 0.0)).filter(c.in_current).label("ltv"),
        sa.func.avg(sa.func.coalesce(c.ltv_previous, 0.0)).filter(c.in_previous)
        .label("ltv_prev"),
    ).subquery("customer_rates")


def _sessions_reason(info, filters: Filters, scope: Scope) -> str | None:
    """Why conversion cannot be computed before looking at the sessions, or None."""
    if not info.has_sessions:
        return NO_SESSIONS
    for field_name, label in _SESSIONLESS_FILTERS.items():
        value = getattr(filters, field_name)
        if value not in (None, ()):
            return f"sessions are not broken down by {label}"
    return None


def _sessions(filters: Filters, previous: Filters, scope: Scope, *,
              planned: bool) -> sa.Subquery:
    """One row: sessions of the period and of the previous period, under the filters the
    sessions table can follow (country, channel, device, traffic source, scope).

    The rows of the sessions table are taken as disjoint slices; a filtered dimension that
    the table does not break down (all NULL) gives no sessions, so no conversion rate.
    """
    named = {name for name, column in _SESSION_DIMENSIONS.items() if getattr(filters, name)}
    needed = {column for name, column in _SESSION_DIMENSIONS.items() if name in named}
    if filters.countries or scope.countries is not None:
        needed.add("country_code")
    table = rollups.SESSION_TABLES.get(tuple(needed)) if planned and len(needed) <= 1 else None
    table = schema.daily_sessions if table is None else table
    conditions = [table.c.session_date >= previous.start, table.c.session_date <= filters.end]
    if scope.countries is not None:
        conditions.append(table.c.country_code.in_(sorted(scope.countries))
                          if scope.countries else sa.false())
    if filters.countries:
        known = rollups.countries if planned else schema.fact_lines
        named_codes = sa.select(known.c.country_code).where(
            known.c.country.in_(list(filters.countries))).distinct().scalar_subquery()
        conditions.append(sa.or_(table.c.country_code.in_(list(filters.countries)),
                                 table.c.country_code.in_(named_codes)))
    for field_name, column in _SESSION_DIMENSIONS.items():
        values = getattr(filters, field_name)
        if values:
            conditions.append(table.c[column].in_(list(values)))

    def in_period(f: Filters) -> sa.ColumnElement[bool]:
        return sa.and_(table.c.session_date >= f.start, table.c.session_date <= f.end)

    return sa.select(
        sa.func.sum(table.c.sessions).filter(in_period(filters)).label("sessions"),
        sa.func.sum(table.c.sessions).filter(in_period(previous)).label("sessions_prev"),
    ).where(*conditions).subquery("sessions")
