"""Customers: RFM scores and segments, the customer list, and the historical LTV distribution.

Definitions follow METRICS.md ("RFM", "LTV (historical)"). Every function pushes the
per-customer aggregation and the RFM scoring down as SQL (window functions), so the same
statement runs on DuckDB and PostgreSQL; pandas only sees one row per customer or per segment.
The queries read the per-invoice rollup (one row per invoice) unless a unit-price filter
needs the lines (``counted_rows``); both give the same answers.

The period is ``analytics.period.resolve(warehouse, filters)``: missing dates become the
last 30 days of the data, exactly as for the KPIs.

RFM itself (scores and segments as SQL) is in ``analytics.segments``.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
import sqlalchemy as sa

from analytics import measures, period, schema, segments
from analytics.filters import FilterError, Filters, Scope, check_page
from analytics.segments import (SEGMENTS, canonical_segment, counted_rows, rfm_subquery,
                                segment_condition)

log = logging.getLogger(__name__)

#: Columns ``customers_page`` can sort by.
CUSTOMER_SORT_COLUMNS = ("customer_id", "country", "last_sale_date", "recency", "frequency",
                         "monetary", "r", "f", "m", "fm", "segment")
MAX_CUSTOMER_PAGE_SIZE = 100_000

#: Quantiles ``ltv_distribution`` reports.
LTV_QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9, 0.99)

RFM_COLUMNS = ["customer_id", "recency", "frequency", "monetary", "r", "f", "m", "fm",
               "segment"]


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
    query = query.order_by(segments.binary_order(rfm.c.customer_id, warehouse))
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
        sort_column = segments.binary_order(sort_column, warehouse)
    order = sort_column.desc() if descending else sort_column.asc()
    query = (sa.select(*[column.label(name) for name, column in columns.items()],
                       sa.func.count().over().label("total"))
             .select_from(source).where(condition)
             .order_by(order.nulls_last(), segments.binary_order(rfm.c.customer_id, warehouse))
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
        .order_by(segments.binary_order(firsts.c.customer_id, warehouse))
    )
    with warehouse.connect() as conn:   # column by column on DuckDB: 12k customers' rows
        frame = measures.read_frame(conn, query, ["customer_id", "first_sale_ts", "ltv"])
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
    # implausible data (a version loaded before such lines were rejected) may hold ±inf or
    # NaN sums: the bins span the finite values, and a mean or median that is not finite
    # is empty
    counts, edges = np.histogram(values[np.isfinite(values)], bins=int(bins))
    mean, median = float(values.mean()), float(np.median(values))
    return LtvDistribution(
        customers=len(values),
        mean=mean if np.isfinite(mean) else None,
        median=median if np.isfinite(median) else None,
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
