"""Measures per day, ISO week or month, with the same bucket one year earlier.

One scan reads the days of ``[start − 1 year, end]`` from the smallest rollup the planner
allows (``measures.source_for``); pandas groups them into buckets, so the year-earlier
series comes from the same rows instead of a second query. Distinct counts that cannot be
added up over a table's rows are counted per bucket by a second statement in the same round
trip (customers per week or month come from their own rollups when those are exact).
"""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import sqlalchemy as sa

from analytics import measures, period, rollups
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
    weeks the week 52 weeks before (same weekday). A year-earlier bucket that ends before
    the data's first day has no comparison: NaN revenue and <NA> orders, never 0.
    """
    if grain not in GRAINS:
        raise FilterError(f"grain must be one of {', '.join(GRAINS)}, not {grain!r}")
    version = warehouse.require_version()
    filters = period.history(warehouse, filters, version) if history else period.resolve(
        warehouse, filters, version)
    last_year = _shifted(filters, grain)
    source = measures.source_for(warehouse, filters, scope, version=version)
    scan = filters.with_period(last_year.start, filters.end)
    table = source.sums
    day = table.c.invoice_date.label("day")
    summed = []
    if source.orders_summable:
        summed.append("orders")
    if source.customers_summable and grain == "day":
        summed.append("customers")
    days_query = sa.select(
        day, *measures.sum_columns(table),
        *measures.summed_count_columns(table, names=tuple(summed)),
    ).where(*source.where(table, scan, scope)).group_by(table.c.invoice_date)
    counted = [name for name in measures.COUNT_NAMES if name not in summed]
    customers_query = None
    if "customers" in counted:
        customers_query = _bucket_customers(warehouse, source, filters, scope, grain, version)
        if customers_query is not None:
            counted.remove("customers")
    with warehouse.connect(version) as conn:
        days = measures.read_frame(conn, days_query, ["day", *measures.SUM_NAMES, *summed])
        counts = (_counts(conn, source, filters, last_year, scope, grain, counted)
                  if counted else None)
        bucket_customers = (measures.read_frame(conn, customers_query, ["bucket", "customers"])
                            if customers_query is not None else None)

    days = measures.numeric(days, (*measures.SUM_NAMES, *summed))
    days["day"] = pd.to_datetime(days["day"])
    days["bucket"] = _bucket_of(days["day"], grain)
    in_current = (days["day"] >= pd.Timestamp(filters.start)) & (
        days["day"] <= pd.Timestamp(filters.end))
    in_last_year = (days["day"] >= pd.Timestamp(last_year.start)) & (
        days["day"] <= pd.Timestamp(last_year.end))
    value_names = [*measures.SUM_NAMES, *summed]
    current = days.loc[in_current].groupby("bucket")[value_names].sum(min_count=1)
    previous = days.loc[in_last_year].groupby("bucket")[
        ["gross_revenue", "return_value", *(["orders"] if "orders" in summed else [])]
    ].sum(min_count=1)
    if counts is not None:
        current = current.join(counts[[n for n in counted if n in counts]], how="outer")
        if "orders" in counted:
            previous = previous.join(counts[["orders_ly"]].rename(
                columns={"orders_ly": "orders"}), how="outer")
    if bucket_customers is not None:
        bucket_customers["bucket"] = pd.to_datetime(bucket_customers["bucket"])
        bucket_customers = measures.numeric(bucket_customers, ["customers"])
        current = current.join(bucket_customers.set_index("bucket"), how="outer")

    buckets = pd.date_range(_bucket_start(filters.start, grain), filters.end,
                            freq=_FREQUENCIES[grain])
    out = pd.DataFrame({"period_start": buckets.date})
    current_rows = measures.finish(current.reindex(buckets).reset_index(drop=True),
                                   has_cost=period.version_info(warehouse, version).has_cost)
    for name in ("gross_revenue", "returns", "revenue", "orders", "units", "customers",
                 "profit"):
        out[name] = current_rows[name].to_numpy()
    previous_keys = (buckets - pd.Timedelta(weeks=52) if grain == "week"
                     else buckets - pd.DateOffset(years=1))  # 29 February → 28 February
    ly = previous.reindex(previous_keys)
    # a year-earlier bucket that ends before the data begins has no data, not zero sales
    first_day, _last_day = period.data_range(warehouse, version)
    before_data = (_bucket_ends(previous_keys, grain) < pd.Timestamp(first_day)
                   if first_day is not None else np.zeros(len(out), dtype=bool))
    revenue_ly = (ly["gross_revenue"].fillna(0.0)
                  + ly["return_value"].fillna(0.0)).to_numpy(dtype="float64", copy=True)
    revenue_ly[before_data] = np.nan
    out["revenue_last_year"] = revenue_ly
    orders_ly = (pd.to_numeric(ly["orders"].astype("object")).fillna(0).to_numpy()
                 if "orders" in ly else np.zeros(len(out)))
    out["orders_last_year"] = pd.array(
        [pd.NA if missing else int(value) for value, missing in zip(orders_ly, before_data)],
        dtype="Int64")
    return out


def _bucket_ends(starts: pd.DatetimeIndex, grain: str) -> np.ndarray:
    """The last day of each bucket starting at ``starts``."""
    if grain == "week":
        ends = starts + pd.Timedelta(days=6)
    elif grain == "month":
        ends = starts + pd.offsets.MonthEnd(0)
    else:
        ends = starts
    return np.asarray(ends)


def _counts(conn, source: measures.Source, filters: Filters, last_year: Filters,
            scope: Scope, grain: str, names: list[str]) -> pd.DataFrame:
    """Distinct ``names`` (orders and/or customers) per bucket of the period, plus orders
    per bucket of the year-earlier period (``orders_ly``), indexed by bucket."""
    table = (source.customer_days if names == ["customers"] and source.customer_days is not None
             else source.counts)
    bucket = _bucket(table.c.invoice_date, grain).label("bucket")
    current = measures.period_condition(table, filters.start, filters.end)
    columns = measures.count_columns(source, table, current, names=names)
    scan = filters
    if "orders" in names:
        earlier = measures.period_condition(table, last_year.start, last_year.end)
        columns += measures.count_columns(source, table, earlier, "_ly", names=("orders",))
        scan = filters.with_period(last_year.start, filters.end)
    query = sa.select(bucket, *columns).where(*source.where(table, scan, scope)).group_by(bucket)
    frame = measures.read_frame(conn, query, ["bucket", *[c.name for c in columns]])
    frame = measures.numeric(frame, [c.name for c in columns])
    frame["bucket"] = pd.to_datetime(frame["bucket"])
    return frame.set_index("bucket")


def _bucket_customers(warehouse, source: measures.Source, filters: Filters, scope: Scope,
                      grain: str, version: int) -> sa.Select | None:
    """Customers per week or month from their rollup, when that is exact: the filters name
    no dimension but the country (a country that customers never change), and the period
    clips no bucket that holds data."""
    if grain == "day" or source.meta is None or source.facts:
        return None
    restricted = measures.restricted_dimensions(filters, scope)
    if set(restricted) - {"country"}:
        return None
    if restricted and not source.meta.flag("customer_level:country"):
        return None
    first, last = period.data_range(warehouse, version)
    if first is None:
        return None
    if not (filters.start <= first or filters.start == _bucket_start(filters.start, grain)):
        return None
    bucket_end = _bucket_start(filters.end, grain)
    bucket_end = (bucket_end + dt.timedelta(days=6) if grain == "week"
                  else _month_end(bucket_end))
    if not (filters.end >= last or filters.end == bucket_end):
        return None
    table = rollups.BUCKET_CUSTOMER_TABLES[(grain, tuple(restricted))]
    conditions = [table.c.bucket >= _bucket_start(filters.start, grain),
                  table.c.bucket <= filters.end]
    conditions += measures.line_conditions(filters, scope, table, dates=False)
    return sa.select(table.c.bucket, sa.func.sum(table.c.customers)).where(
        *conditions).group_by(table.c.bucket)


def _bucket_of(days: pd.Series, grain: str) -> pd.Series:
    if grain == "week":
        return days - pd.to_timedelta(days.dt.weekday, unit="D")
    if grain == "month":
        return days.dt.to_period("M").dt.start_time.astype(days.dtype)
    return days


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


def _month_end(first: dt.date) -> dt.date:
    following = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return following - dt.timedelta(days=1)


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
