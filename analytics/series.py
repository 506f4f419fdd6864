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

from analytics import measures, period, planner, rollups
from analytics.filters import FilterError, Filters, Scope, line_conditions
from analytics.planner import Source

GRAINS = ("day", "week", "month")
#: The most buckets one series holds (110 years of days): a longer period at a finer grain
#: is refused with a message (a stray date such as 0001-01-01 would otherwise ask for
#: millions of buckets).
MAX_BUCKETS = 40_000
#: The longest history (``history=True``): its last years, when the data spans more.
MAX_HISTORY_YEARS = 100
SERIES_COLUMNS = ("period_start", "gross_revenue", "returns", "revenue", "orders", "units",
                  "customers", "profit", "revenue_last_year", "orders_last_year",
                  "revenue_comparison", "orders_comparison", "days_held", "bucket_days",
                  "partial")


def time_series(warehouse, filters: Filters, scope: Scope, grain: str = "day",
                history: bool = False) -> pd.DataFrame:
    """DataFrame[period_start, gross_revenue, returns, revenue, orders, units, customers,
    profit, revenue_last_year, orders_last_year, revenue_comparison, orders_comparison,
    days_held, bucket_days, partial], one row per bucket, oldest first.

    ``grain`` is day, week (ISO, starting Monday) or month; buckets are clipped to the
    period, and every bucket is present (a bucket without lines has real zeros). Profit is
    NaN without cost data. ``history=True`` spans the whole data range instead of the
    filters' period (its last ``MAX_HISTORY_YEARS`` years when it spans more). Last year =
    the same bucket one year earlier, clipped the same way:
    the same calendar day or month one year before (29 February → 28 February), or for
    weeks the week 52 weeks before (same weekday). A year-earlier bucket that ends before
    the data's first day has no comparison: NaN revenue and <NA> orders, never 0.
    A period of more than ``MAX_BUCKETS`` buckets raises FilterError.

    The comparison (``Filters.comparison``: previous period, last year or custom dates) is
    shifted onto the period's days, day by day (by the distance between the two starts;
    a year for last year, 29 February → 28 February), and summed into the same buckets;
    comparison days past the period's end are left out. A bucket that no comparison day
    inside the data reaches has NaN / <NA>, never 0.

    ``days_held`` counts the bucket's days inside both the period and the data's date
    range, ``bucket_days`` the days of the whole bucket; ``partial`` marks a week or month
    that holds fewer (the last bucket when the data ends inside it, the first when the
    period starts inside it): its value is not comparable with a whole bucket's.
    """
    if grain not in GRAINS:
        raise FilterError(f"grain must be one of {', '.join(GRAINS)}, not {grain!r}")
    version = warehouse.require_version()
    if history:
        filters = period.history(warehouse, filters, version)
        if filters.end.year > MAX_HISTORY_YEARS:
            earliest = (period.minus_years(filters.end, MAX_HISTORY_YEARS)
                        + dt.timedelta(days=1))
            filters = filters.with_period(max(filters.start, earliest), filters.end)
    else:
        filters = period.resolve(warehouse, filters, version)
    _check_bucket_count(filters, grain)
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
    compared = filters.comparison()
    with warehouse.connect(version) as conn:
        compared_days = _comparison_days(conn, source, compared, scope,
                                         period.data_range(warehouse, version))
        days = measures.read_frame(conn, days_query, ["day", *measures.SUM_NAMES, *summed])
        meta = source.meta or planner.rollup_meta(warehouse, version)
        # where the engine reuses a CTE's rows (Warehouse.reuses_ctes); elsewhere the
        # distinct counts stay in one scan
        single_day = (meta is not None and meta.flag("single_day_invoices")
                      and (warehouse.reuses_ctes or source.orders is not None))
        counts = (_counts(conn, source, filters, last_year, scope, grain, counted, single_day)
                  if counted else None)
        bucket_customers = (measures.read_frame(conn, customers_query, ["bucket", "customers"])
                            if customers_query is not None else None)

    value_names = [*measures.SUM_NAMES, *summed]
    days = measures.numeric(days, value_names)
    day_keys = _days(days["day"])
    buckets = _bucket_grid(filters.start, filters.end, grain)
    row_buckets = _bucket_of(day_keys, grain)
    in_current = (day_keys >= np.datetime64(filters.start, "D")) & (
        day_keys <= np.datetime64(filters.end, "D"))
    in_last_year = (day_keys >= np.datetime64(last_year.start, "D")) & (
        day_keys <= np.datetime64(last_year.end, "D"))
    into_current = _Grouping(buckets, row_buckets[in_current])
    current = {name: into_current.sums(days[name].to_numpy()[in_current])
               for name in value_names}
    previous_keys = _shift_back(buckets, grain)  # 29 February → 28 February
    into_previous = _Grouping(previous_keys, row_buckets[in_last_year])
    previous = {name: into_previous.sums(days[name].to_numpy()[in_last_year])
                for name in ("gross_revenue", "return_value",
                             *(["orders"] if "orders" in summed else []))}
    if counts is not None:
        count_keys = counts.index.to_numpy().astype("datetime64[D]")
        for name in counted:
            if name in counts:
                current[name] = _Grouping(buckets, count_keys).sums(counts[name].to_numpy())
        if "orders" in counted:
            previous["orders"] = _Grouping(previous_keys, count_keys).sums(
                counts["orders_ly"].to_numpy())
    if bucket_customers is not None:
        bucket_customers = measures.numeric(bucket_customers, ["customers"])
        current["customers"] = _Grouping(buckets, _days(bucket_customers["bucket"])).sums(
            bucket_customers["customers"].to_numpy())

    for name, values in current.items():
        if name in measures.ZERO_WHEN_EMPTY:
            values[np.isnan(values)] = 0.0
    current_rows = measures.finish_arrays(
        current, has_cost=period.version_info(warehouse, version).has_cost)
    out = {"period_start": buckets.astype(object)}
    for name in ("gross_revenue", "returns", "revenue", "orders", "units", "customers",
                 "profit"):
        values = current_rows[name]
        out[name] = values.astype("int64") if name in measures.INTEGER_COLUMNS else values
    # a year-earlier bucket that ends before the data begins has no data, not zero sales
    first_day, _last_day = period.data_range(warehouse, version)
    before_data = (_bucket_ends(previous_keys, grain) < np.datetime64(first_day, "D")
                   if first_day is not None else np.zeros(len(buckets), dtype=bool))
    revenue_ly = (np.nan_to_num(previous["gross_revenue"], nan=0.0)
                  + np.nan_to_num(previous["return_value"], nan=0.0))
    revenue_ly[before_data] = np.nan
    out["revenue_last_year"] = revenue_ly
    orders_ly = (np.nan_to_num(previous["orders"], nan=0.0).astype("int64")
                 if "orders" in previous else np.zeros(len(buckets), dtype="int64"))
    out["orders_last_year"] = pd.arrays.IntegerArray(orders_ly, before_data)
    first_day, last_day = period.data_range(warehouse, version)
    out.update(_comparison_columns(compared_days, filters, compared, buckets, grain,
                                   first_day, last_day))
    out.update(_coverage(filters, buckets, grain, first_day, last_day))
    return pd.DataFrame(out)


def _comparison_days(conn, source: Source, compared: Filters, scope: Scope,
                     data_range: tuple[dt.date | None, dt.date | None]) -> pd.DataFrame:
    """DataFrame[day, revenue, orders]: net revenue and distinct orders per day of the
    comparison period (an order has one day, so days add up into any bucket); no rows,
    without a query, when the period holds no day of the data (``data_range``: the
    history's previous period lies before the data)."""
    first, last = data_range
    if first is None or compared.end < first or compared.start > last:
        return pd.DataFrame({"day": np.array([], dtype="datetime64[D]"),
                             "revenue": np.array([], dtype="float64"),
                             "orders": np.array([], dtype="float64")})
    table = source.sums
    query = sa.select(table.c.invoice_date.label("day"), *measures.sum_columns(table),
                      *measures.summed_count_columns(
                          table, names=("orders",) if source.orders_summable else ())
                      ).where(*source.where(table, compared, scope)).group_by(table.c.invoice_date)
    names = ["day", *measures.SUM_NAMES, *(["orders"] if source.orders_summable else [])]
    frame = measures.numeric(measures.read_frame(conn, query, names), names[1:])
    frame["revenue"] = (frame["gross_revenue"].fillna(0.0) + frame["return_value"].fillna(0.0))
    if not source.orders_summable:
        counts = source.counts
        day = counts.c.invoice_date.label("day")
        columns = measures.count_columns(source, counts, None, names=("orders",))
        orders = measures.read_frame(conn, sa.select(day, *columns).where(
            *source.where(counts, compared, scope)).group_by(counts.c.invoice_date),
            ["day", "orders"])
        orders = measures.numeric(orders, ["orders"])
        frame = frame.drop(columns=[c for c in ("orders",) if c in frame])
        frame["day"] = _days(frame["day"])
        orders["day"] = _days(orders["day"])
        frame = frame.merge(orders, on="day", how="outer")
    frame["day"] = _days(frame["day"])
    return frame[["day", "revenue", "orders"]]


def _onto_period(days: np.ndarray, filters: Filters, compared: Filters) -> np.ndarray:
    """Comparison days moved onto the period's: a year later for last year (29 February →
    28 February), else by the distance between the two starts."""
    if filters.compare == "last_year":
        months = days.astype("datetime64[M]")
        day_of_month = days - months.astype("datetime64[D]")
        later = months + np.timedelta64(12, "M")
        month_length = (later + 1).astype("datetime64[D]") - later.astype("datetime64[D]")
        return later.astype("datetime64[D]") + np.minimum(day_of_month, month_length - 1)
    return days + np.timedelta64((filters.start - compared.start).days, "D")


def _comparison_columns(frame: pd.DataFrame, filters: Filters, compared: Filters,
                        buckets: np.ndarray, grain: str, first_day: dt.date | None,
                        last_day: dt.date | None) -> dict:
    """revenue_comparison and orders_comparison per bucket (``time_series``)."""
    start, end = np.datetime64(filters.start, "D"), np.datetime64(filters.end, "D")
    # the comparison's days inside the data (a custom range may span centuries)
    low, high = ((max(compared.start, first_day), min(compared.end, last_day))
                 if first_day is not None else (compared.end, compared.start))
    calendar = np.arange(np.datetime64(low, "D"), np.datetime64(high, "D") + 1)
    moved = _onto_period(calendar, filters, compared)
    moved = moved[(moved >= start) & (moved <= end)]
    covered = np.isin(buckets, _bucket_of(moved, grain))
    rows = _onto_period(frame["day"].to_numpy().astype("datetime64[D]"), filters, compared)
    inside = (rows >= start) & (rows <= end)
    grouping = _Grouping(buckets, _bucket_of(rows[inside], grain))
    revenue = np.nan_to_num(grouping.sums(frame["revenue"].to_numpy()[inside]), nan=0.0)
    orders = np.nan_to_num(grouping.sums(frame["orders"].to_numpy(dtype="float64")[inside]),
                           nan=0.0).astype("int64")
    return {"revenue_comparison": np.where(covered, revenue, np.nan),
            "orders_comparison": pd.arrays.IntegerArray(orders, ~covered)}


def _coverage(filters: Filters, buckets: np.ndarray, grain: str, first_day: dt.date | None,
              last_day: dt.date | None) -> dict:
    """days_held, bucket_days and partial per bucket (``time_series``)."""
    ends = _bucket_ends(buckets, grain)
    low = np.maximum(buckets, np.datetime64(filters.start, "D"))
    high = np.minimum(ends, np.datetime64(filters.end, "D"))
    if first_day is not None:
        low = np.maximum(low, np.datetime64(first_day, "D"))
        high = np.minimum(high, np.datetime64(last_day, "D"))
    held = np.maximum((high - low).astype("int64") + 1, 0)
    if first_day is None:
        held[:] = 0
    bucket_days = (ends - buckets).astype("int64") + 1
    partial = (held < bucket_days) if grain != "day" else np.zeros(len(buckets), dtype=bool)
    return {"days_held": held, "bucket_days": bucket_days, "partial": partial}


def _check_bucket_count(filters: Filters, grain: str) -> None:
    days = (filters.end - filters.start).days + 1
    months = (filters.end.year - filters.start.year) * 12 + filters.end.month \
        - filters.start.month + 1
    buckets = {"day": days, "week": days // 7 + 1, "month": months}[grain]
    if buckets > MAX_BUCKETS:
        raise FilterError(
            f"The period {filters.start.isoformat()} … {filters.end.isoformat()} spans "
            f"{days:,} days: too many for one series by {grain} (at most {MAX_BUCKETS:,} "
            "buckets); choose a shorter period or a coarser grain")


def _days(column: pd.Series) -> np.ndarray:
    """A column of dates (datetime64 on DuckDB, ``datetime.date`` elsewhere) as
    datetime64[D]."""
    if column.dtype.kind == "M":
        return column.to_numpy().astype("datetime64[D]")
    return np.array(column.to_numpy(dtype=object), dtype="datetime64[D]")


def _bucket_grid(start: dt.date, end: dt.date, grain: str) -> np.ndarray:
    """The first day of every bucket from the one holding ``start`` to ``end``
    (datetime64[D])."""
    first = np.datetime64(_bucket_start(start, grain), "D")
    last = np.datetime64(end, "D")
    if grain == "month":
        return np.arange(first.astype("datetime64[M]"), last.astype("datetime64[M]") + 1
                         ).astype("datetime64[D]")
    return np.arange(first, last + 1, 7 if grain == "week" else 1)


def _shift_back(starts: np.ndarray, grain: str) -> np.ndarray:
    """The same bucket one year earlier: 52 weeks for weeks, else the same calendar day
    or month of the year before (29 February → 28 February)."""
    if grain == "week":
        return starts - np.timedelta64(52 * 7, "D")
    months = starts.astype("datetime64[M]")
    day_of_month = starts - months.astype("datetime64[D]")
    earlier = months - np.timedelta64(12, "M")
    month_length = (earlier + 1).astype("datetime64[D]") - earlier.astype("datetime64[D]")
    return earlier.astype("datetime64[D]") + np.minimum(day_of_month, month_length - 1)


class _Grouping:
    """Rows (by their bucket key) → positions in a list of bucket ``keys`` that may repeat
    (two days of a leap year look back at the same day), worked out once for all the
    columns summed over the same rows."""

    def __init__(self, keys: np.ndarray, row_keys: np.ndarray):
        unique, self._positions = np.unique(keys, return_inverse=True)
        slots = np.searchsorted(unique, row_keys)
        found = slots < len(unique)
        found[found] = unique[slots[found]] == row_keys[found]
        self._found = found
        self._slots = slots[found]
        self._size = len(unique)

    def sums(self, values: np.ndarray) -> np.ndarray:
        """Σ ``values`` of the rows of each key as float64; NaN where no row has a value
        (NULL values are skipped)."""
        values = np.asarray(values, dtype="float64")[self._found]
        known = ~np.isnan(values)
        slots = self._slots[known]
        sums = np.bincount(slots, weights=values[known], minlength=self._size)
        present = np.bincount(slots, minlength=self._size) > 0
        return np.where(present, sums, np.nan)[self._positions]


def _bucket_ends(starts: np.ndarray, grain: str) -> np.ndarray:
    """The last day of each bucket starting at ``starts`` (datetime64[D])."""
    if grain == "week":
        return starts + np.timedelta64(6, "D")
    if grain == "month":
        return (starts.astype("datetime64[M]") + 1).astype("datetime64[D]") - np.timedelta64(1, "D")
    return starts


def _counts(conn, source: Source, filters: Filters, last_year: Filters,
            scope: Scope, grain: str, names: list[str], single_day: bool) -> pd.DataFrame:
    """Distinct ``names`` (orders and/or customers) per bucket of the period, plus orders
    per bucket of the year-earlier period (``orders_ly``), indexed by bucket.

    When no invoice spans two days (``single_day``), the orders of a bucket are its
    distinct (day, invoice) pairs: the filtered sale rows are read once (a CTE), one
    grouping of them serves the period and the year before, and the customers of the
    period are counted from the same rows (three distinct counts over the rows cost more)."""
    if "orders" in names and single_day:
        if source.orders is not None:
            return _counts_by_order(conn, source, filters, last_year, scope, grain, names)
        return _counts_by_invoice_day(conn, source, filters, last_year, scope, grain, names)
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
    return _read_counts(conn, query, ["bucket", *[c.name for c in columns]])


def _counts_by_order(conn, source: Source, filters: Filters, last_year: Filters,
                     scope: Scope, grain: str, names: list[str]) -> pd.DataFrame:
    """``_counts`` when every invoice has a single day, from ``rollups.orders``: one row
    per order, so the orders of a bucket are its rows with a sale line (in the chosen
    categories: ``Source.where``), and one statement, without grouping by order, counts
    them for the period and the year before, and the period's customers."""
    table = source.orders
    day = table.c.invoice_date
    bucket = _bucket(day, grain).label("bucket")
    in_period = (day >= filters.start, day <= filters.end)
    columns = [bucket, sa.func.count().filter(*in_period).label("orders"),
               sa.func.count().filter(day >= last_year.start, day <= last_year.end)
               .label("orders_ly")]
    if "customers" in names:
        columns.append(sa.func.count(sa.distinct(table.c.customer_key)).filter(*in_period)
                       .label("customers"))
    scan = filters.with_period(last_year.start, filters.end)
    query = sa.select(*columns).where(*source.where(table, scan, scope),
                                      source.is_sale(table)).group_by(bucket)
    return _read_counts(conn, query, [column.name for column in columns])


def _counts_by_invoice_day(conn, source: Source, filters: Filters, last_year: Filters,
                           scope: Scope, grain: str, names: list[str]) -> pd.DataFrame:
    """``_counts`` when every invoice has a single day (see there)."""
    table = source.counts
    scan = filters.with_period(last_year.start, filters.end)
    sale_rows = sa.select(
        table.c.invoice_date.label("day"), source.invoice(table).label("invoice"),
        source.customer(table).label("customer"),
    ).where(*source.where(table, scan, scope), source.is_sale(table)).cte("sale_rows")
    invoices = sa.select(sale_rows.c.day, sale_rows.c.invoice).group_by(
        sale_rows.c.day, sale_rows.c.invoice).subquery("invoice_days")
    day = invoices.c.day
    bucket = _bucket(day, grain).label("bucket")
    orders = sa.select(
        bucket,
        sa.func.count().filter(day >= filters.start, day <= filters.end).label("orders"),
        sa.func.count().filter(day >= last_year.start, day <= last_year.end)
        .label("orders_ly"),
    ).group_by(bucket)
    if "customers" not in names:
        query, columns = orders, ["bucket", "orders", "orders_ly"]
    else:
        orders = orders.subquery("bucket_orders")
        customer_bucket = _bucket(sale_rows.c.day, grain).label("bucket")
        customers = sa.select(
            customer_bucket,
            sa.func.count(sa.distinct(sale_rows.c.customer)).label("customers"),
        ).where(sale_rows.c.day >= filters.start, sale_rows.c.day <= filters.end
                ).group_by(customer_bucket).subquery("bucket_customers")
        query = sa.select(orders.c.bucket, orders.c.orders, orders.c.orders_ly,
                          customers.c.customers).select_from(
            orders.outerjoin(customers, customers.c.bucket == orders.c.bucket))
        columns = ["bucket", "orders", "orders_ly", "customers"]
    return _read_counts(conn, query, columns)


def _read_counts(conn, query, columns: list[str]) -> pd.DataFrame:
    """The rows of a counts statement (``bucket`` then counts) as numbers by bucket."""
    frame = measures.numeric(measures.read_frame(conn, query, columns), columns[1:])
    frame["bucket"] = pd.to_datetime(frame["bucket"])
    return frame.set_index("bucket")


def _bucket_customers(warehouse, source: Source, filters: Filters, scope: Scope,
                      grain: str, version: int) -> sa.Select | None:
    """Customers per week or month from their rollup, when that is exact: no segment, the
    filters name no dimension but the country (a country that customers never change), and
    the period clips no bucket that holds data."""
    if grain == "day" or source.meta is None or source.facts or source.segment is not None:
        return None
    restricted = planner.restricted_dimensions(filters, scope)
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
    bucket_end = (period.plus_days(bucket_end, 6) if grain == "week"
                  else _month_end(bucket_end))
    if not (filters.end >= last or filters.end == bucket_end):
        return None
    table = rollups.BUCKET_CUSTOMER_TABLES[(grain, tuple(restricted))]
    conditions = [table.c.bucket >= _bucket_start(filters.start, grain),
                  table.c.bucket <= filters.end]
    conditions += line_conditions(filters, scope, table, dates=False,
                                  exact_codes=source.exact_codes)
    return sa.select(table.c.bucket, sa.func.sum(table.c.customers)).where(
        *conditions).group_by(table.c.bucket)


def _bucket_of(days: np.ndarray, grain: str) -> np.ndarray:
    """The first day of the bucket of each of ``days`` (datetime64[D])."""
    if grain == "week":
        # 1970-01-01 was a Thursday: Monday-based weekday = (days since epoch + 3) mod 7
        return days - (days.astype("int64") + 3) % 7
    if grain == "month":
        return days.astype("datetime64[M]").astype("datetime64[D]")
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
    if first.month == 12:  # also the last month of the calendar, which has no following
        return first.replace(day=31)
    following = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return following - dt.timedelta(days=1)


def _shift_day(day: dt.date, grain: str) -> dt.date:
    """The same bucket (or day) one year earlier."""
    if grain == "week":
        return period.days_before(day, 52 * 7)
    return period.minus_years(day)


def _shifted(filters: Filters, grain: str) -> Filters:
    return filters.with_period(_shift_day(filters.start, grain), _shift_day(filters.end, grain))
