"""Measures per day, ISO week or month, with the same bucket one year earlier."""
from __future__ import annotations

import datetime as dt

import pandas as pd
import sqlalchemy as sa

from analytics import measures, period
from analytics.filters import FilterError, Filters, Scope

GRAINS = ("day", "week", "month")
SERIES_COLUMNS = ("period_start", "gross_revenue", "returns", "revenue", "orders", "units",
                  "customers", "profit", "revenue_last_year", "orders_last_year")
_FREQUENCIES = {"day": "D", "week": "W-MON", "month": "MS"}


def time_series(warehouse, filters: Filters, scope: Scope, grain: str = "day",
                history: bool = False) -> pd.DataFrame:
    """DataFrame[period_start, gross_revenue, returns, revenue, orders, units, customers,
    profit, revenue_last_year, orders_last_year], one row per bucket, oldest first.

    ``grain`` is day, week (ISO, starting Monday) or month; buckets are clipped to the
    period, and every bucket is present (a bucket without lines has real zeros). Profit is
    NaN without cost data. ``history=True`` spans the whole data range instead of the
    filters' period. Last year = the same bucket one year earlier, clipped the same way:
    the same calendar day or month one year before (29 February → 28 February), or for
    weeks the week 52 weeks before (same weekday).
    """
    if grain not in GRAINS:
        raise FilterError(f"grain must be one of {', '.join(GRAINS)}, not {grain!r}")
    filters = period.history(warehouse, filters) if history else period.resolve(
        warehouse, filters)
    last_year = _shifted(filters, grain)
    source = measures.source_for(warehouse, filters, scope)
    scan = filters.with_period(last_year.start, filters.end)
    current = measures.period_condition(source.sums, filters.start, filters.end)

    sums_bucket = _bucket(source.sums.c.invoice_date, grain).label("bucket")
    ly_sums = measures.period_condition(source.sums, last_year.start, last_year.end)
    sums = sa.select(
        sums_bucket, *measures.sum_columns(source.sums, current),
        *[c for c in measures.sum_columns(source.sums, ly_sums, "_ly")
          if c.name in ("gross_revenue_ly", "return_value_ly")],
    ).where(*source.where(source.sums, scan, scope)).group_by(sums_bucket).subquery("sums")

    counts_bucket = _bucket(source.counts.c.invoice_date, grain).label("bucket")
    current_counts = measures.period_condition(source.counts, filters.start, filters.end)
    ly_counts = measures.period_condition(source.counts, last_year.start, last_year.end)
    counts = sa.select(
        counts_bucket, *measures.count_columns(source, source.counts, current_counts),
        measures.count_columns(source, source.counts, ly_counts, "_ly")[0],
    ).where(*source.where(source.counts, scan, scope)).group_by(counts_bucket).subquery("counts")

    query = sa.select(sums, counts.c.orders, counts.c.customers, counts.c.orders_ly).select_from(
        sums.outerjoin(counts, counts.c.bucket == sums.c.bucket))
    with warehouse.connect() as conn:
        rows = pd.DataFrame(conn.execute(query).mappings().all())

    buckets = pd.date_range(_bucket_start(filters.start, grain), filters.end,
                            freq=_FREQUENCIES[grain])
    out = pd.DataFrame({"period_start": [b.date() for b in buckets]})
    if rows.empty:
        rows = pd.DataFrame(columns=["bucket", *measures.SUM_NAMES, *measures.COUNT_NAMES,
                                     "gross_revenue_ly", "return_value_ly", "orders_ly"])
    rows["bucket"] = [pd.Timestamp(b).date() for b in rows["bucket"]]
    rows = measures.numeric(rows, ("gross_revenue_ly", "return_value_ly", "orders_ly"))
    rows = rows.set_index("bucket")
    current_rows = measures.finish(rows.reindex(out["period_start"]).reset_index(drop=True),
                                   has_cost=period.version_info(warehouse).has_cost)
    for name in ("gross_revenue", "returns", "revenue", "orders", "units", "customers",
                 "profit"):
        out[name] = current_rows[name].to_numpy()
    previous_keys = [_shift_day(b, grain) for b in out["period_start"]]
    ly = rows.reindex(previous_keys)
    out["revenue_last_year"] = (ly["gross_revenue_ly"].fillna(0.0)
                                + ly["return_value_ly"].fillna(0.0)).to_numpy()
    out["orders_last_year"] = ly["orders_ly"].fillna(0).astype("int64").to_numpy()
    return out


def _bucket(column: sa.ColumnElement, grain: str) -> sa.ColumnElement:
    if grain == "day":
        return column
    return sa.cast(sa.func.date_trunc(grain, column), sa.Date)


def _bucket_start(day: dt.date, grain: str) -> dt.date:
    if grain == "week":
        return day - dt.timedelta(days=day.weekday())
    if grain == "month":
        return day.replace(day=1)
    return day


def _shift_day(day: dt.date, grain: str) -> dt.date:
    """The same bucket (or day) one year earlier."""
    if grain == "week":
        return day - dt.timedelta(weeks=52)
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


def _shifted(filters: Filters, grain: str) -> Filters:
    return filters.with_period(_shift_day(filters.start, grain), _shift_day(filters.end, grain))
