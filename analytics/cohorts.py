"""Monthly acquisition cohorts (METRICS.md "Cohorts").

A customer's **cohort** is the calendar month of their first sale line in the whole history
under the same filters other than the date range (country, category, …, price range and the
user's scope all apply; dates do not).

How the date range ``[start, end]`` selects what is shown:

* **cohorts shown**: customers whose first sale line falls on a day from the first day of
  ``start``'s month up to ``end`` (so ``start`` counts by whole months: 2011-02-15 shows the
  February cohort whole; a customer whose first sale is after ``end`` is in no cohort);
* **cells**: for cohort month c and offset k ≥ 0, the lines of calendar month c + k, up to
  and including ``end`` (the last month may be partial); months after ``end``'s month are
  not shown, every month between c and ``end``'s month is (zeros where nothing happened);
* missing ``start``: from the first cohort of the data; missing ``end``: up to the last line
  of the data. Unlike the KPIs, missing dates are NOT resolved to the last 30 days (30 days
  hold one or two cohorts, which is no cohort analysis).

**The cohort window** (``cohort_window``, ``period_cohorts``): what every view of cohorts
(dashboard, API, reports) shows for a selected period. A period of fewer than
``COHORT_MIN_DAYS`` days holds one or two acquisition months, which is no cohort analysis,
so it is widened to the ``COHORT_MONTHS`` calendar months ending with its end.

With ``filters.segment`` the cohorts hold only the customers of that RFM segment (the
segment computed over ``[start, end]`` resolved as for the KPIs).

Everything is aggregated in SQL to one row per (cohort, activity month); pandas only adds
offsets, zeros and the retention ratios.
"""
from __future__ import annotations

import datetime as dt
import logging

import pandas as pd
import sqlalchemy as sa

from analytics.filters import FilterError, Filters, Scope
from analytics.segments import counted_rows, segment_condition

log = logging.getLogger(__name__)

MEASURES = ("customers", "revenue")
COHORT_COLUMNS = ["cohort", "offset", "month", "cohort_size", "value", "retention"]
#: A selected period shorter than this many days is widened to ``COHORT_MONTHS`` months.
COHORT_MIN_DAYS = 183
COHORT_MONTHS = 12


def cohort_window(start: dt.date, end: dt.date) -> tuple[dt.date, dt.date]:
    """The (start, end) cohorts are shown over for a selected period ``start…end``.

    A period of at least ``COHORT_MIN_DAYS`` (about six months) is kept as it is. A shorter
    one covers the ``COHORT_MONTHS`` calendar months ending with ``end``'s month (from the
    first day of the month eleven months before it), up to ``end``.
    """
    if (end - start).days + 1 >= COHORT_MIN_DAYS:
        return start, end
    return _add_months(_first_of_month(end), -(COHORT_MONTHS - 1)), end


def cohort_period(filters: Filters) -> Filters:
    """``filters`` (both dates set, e.g. by ``period.resolve``) over their cohort window,
    every other filter kept."""
    if filters.start is None or filters.end is None:
        raise FilterError("the cohort window needs a period with both dates")
    return filters.with_period(*cohort_window(filters.start, filters.end))


def period_cohorts(warehouse, filters: Filters, scope: Scope, measure: str = "customers",
                   max_offset: int | None = None) -> pd.DataFrame:
    """``cohort_table`` over the cohort window of the selected period (``cohort_period``):
    the cohorts the dashboard, the API and the reports show for the same filters. Same
    columns as ``cohort_table``."""
    return cohort_table(warehouse, cohort_period(filters), scope, measure=measure,
                        max_offset=max_offset)


def _month_start(column: sa.ColumnElement) -> sa.ColumnElement:
    return sa.cast(sa.func.date_trunc("month", column), sa.Date)


def _first_of_month(day: dt.date) -> dt.date:
    return day.replace(day=1)


def _add_months(month: dt.date, count: int) -> dt.date:
    index = month.year * 12 + month.month - 1 + count
    return dt.date(index // 12, index % 12 + 1, 1)


def _months_between(first: dt.date, later: dt.date) -> int:
    return (later.year - first.year) * 12 + later.month - first.month


def cohort_table(warehouse, filters: Filters, scope: Scope, measure: str = "customers",
                 max_offset: int | None = None) -> pd.DataFrame:
    """Cohort month × month offset, one row per shown cell (long form).

    Columns:

    * ``cohort`` (date, first day of the cohort month), ``offset`` (k, whole months),
      ``month`` (date, first day of month c + k);
    * ``cohort_size``: customers in the cohort;
    * ``value``: with ``measure="customers"`` the cohort's customers with a sale line in
      month c + k; with ``measure="revenue"`` their net revenue in that month (Σ line value of
      sale and return lines);
    * ``retention``: customers → value ÷ cohort_size; revenue → value ÷ the cohort's
      revenue at offset 0 (NaN when that is not positive).

    Sorted by cohort then offset; ``max_offset`` drops offsets above it. No cohort (a filter
    or scope matching nothing) gives an empty frame with these columns.
    """
    if measure not in MEASURES:
        raise FilterError(f"cohort measure must be one of {', '.join(MEASURES)}, "
                          f"not {measure!r}")
    if max_offset is not None and int(max_offset) < 0:
        raise FilterError("max_offset must be 0 or more")

    history = filters.without_dates()
    first_rows = counted_rows(filters, "cohort_first_rows")
    firsts = (
        sa.select(first_rows.customer_id,
                  sa.func.min(first_rows.table.c.invoice_date).label("first_sale_date"))
        .where(*first_rows.where(history, scope, dates=False), first_rows.is_sale)
        .group_by(first_rows.customer_id)
    ).subquery("cohort_firsts")
    member_conditions = []
    if filters.start is not None:
        member_conditions.append(firsts.c.first_sale_date >= _first_of_month(filters.start))
    if filters.end is not None:
        member_conditions.append(firsts.c.first_sale_date <= filters.end)
    if filters.segment:
        member_conditions.append(segment_condition(warehouse, filters, scope, firsts))
    members = (
        sa.select(firsts.c.customer_id,
                  _month_start(firsts.c.first_sale_date).label("cohort"))
        .where(*member_conditions)
    ).cte("cohort_members")

    rows = counted_rows(filters, "cohort_rows")
    invoice_date = rows.table.c.invoice_date
    activity_conditions = [*rows.where(history, scope, dates=False),
                           invoice_date >= members.c.cohort]
    if filters.start is not None:
        activity_conditions.append(invoice_date >= _first_of_month(filters.start))
    if filters.end is not None:
        activity_conditions.append(invoice_date <= filters.end)
    activity_month = _month_start(invoice_date)
    activity = (
        sa.select(
            members.c.cohort, activity_month.label("month"),
            sa.func.count(sa.distinct(rows.customer_id)).filter(rows.is_sale)
            .label("customers"),
            sa.cast(sa.func.sum(rows.net_value), sa.Double).label("revenue"),
        )
        .select_from(members.join(rows.table, rows.customer_id == members.c.customer_id))
        .where(*activity_conditions)
        .group_by(members.c.cohort, activity_month)
    )
    # the sizes and the cells in one statement over the members (a month of NULL marks a
    # size row): the first sales are grouped once, not once for each (~12 ms at 1M lines)
    sizes = sa.select(members.c.cohort, sa.cast(sa.null(), sa.Date).label("month"),
                      sa.func.count().label("customers"),
                      sa.cast(sa.null(), sa.Double).label("revenue")) \
        .group_by(members.c.cohort)
    last_data_day = None
    with warehouse.connect() as conn:
        both = pd.DataFrame(conn.execute(sa.union_all(sizes, activity)).all(),
                            columns=["cohort", "month", "customers", "revenue"])
        is_size = both["month"].isna().to_numpy()
        cohort_sizes = both.loc[is_size, ["cohort", "customers"]].rename(
            columns={"customers": "cohort_size"}).reset_index(drop=True)
        cells = both.loc[~is_size].reset_index(drop=True)
        if filters.end is None and len(cohort_sizes):
            last_data_day = conn.execute(
                sa.select(sa.func.max(invoice_date))
                .where(*rows.where(history, scope, dates=False))).scalar()
    if cohort_sizes.empty:
        return _empty_frame()
    last_month = _first_of_month(_as_date(filters.end or last_data_day))
    return _cohort_grid(cohort_sizes, cells, last_month, measure, max_offset)


def cohort_matrix(table: pd.DataFrame, values: str = "retention") -> pd.DataFrame:
    """The wide form of ``cohort_table`` for a heatmap: one row per cohort (index),
    one column per offset, ``values`` ("value" or "retention") in the cells, NaN where the
    month c + k is after the period."""
    if values not in ("value", "retention"):
        raise FilterError("cohort matrix values must be 'value' or 'retention'")
    if table.empty:
        return pd.DataFrame(index=pd.Index([], name="cohort"))
    return table.pivot(index="cohort", columns="offset", values=values)


def _cohort_grid(cohort_sizes: pd.DataFrame, cells: pd.DataFrame, last_month: dt.date,
                 measure: str, max_offset: int | None) -> pd.DataFrame:
    cohort_sizes["cohort"] = cohort_sizes["cohort"].map(_as_date)
    cells["cohort"] = cells["cohort"].map(_as_date)
    cells["month"] = cells["month"].map(_as_date)
    rows = []
    for cohort, size in sorted(zip(cohort_sizes["cohort"], cohort_sizes["cohort_size"])):
        offsets = _months_between(cohort, last_month)
        if max_offset is not None:
            offsets = min(offsets, int(max_offset))
        rows.extend({"cohort": cohort, "offset": k, "month": _add_months(cohort, k),
                     "cohort_size": int(size)} for k in range(offsets + 1))
    grid = pd.DataFrame(rows, columns=["cohort", "offset", "month", "cohort_size"])
    grid = grid.merge(cells, on=["cohort", "month"], how="left")
    grid["customers"] = grid["customers"].fillna(0).astype("int64")
    grid["revenue"] = grid["revenue"].astype("float64").fillna(0.0)
    if measure == "customers":
        grid["value"] = grid["customers"]
        grid["retention"] = grid["customers"] / grid["cohort_size"]
    else:
        grid["value"] = grid["revenue"]
        first_month = grid.loc[grid["offset"] == 0].set_index("cohort")["revenue"]
        base = grid["cohort"].map(first_month).astype("float64")
        grid["retention"] = (grid["revenue"] / base).where(base > 0)
    grid["cohort"] = pd.to_datetime(grid["cohort"]).astype("datetime64[s]")
    grid["month"] = pd.to_datetime(grid["month"]).astype("datetime64[s]")
    grid["offset"] = grid["offset"].astype("int64")
    return grid[COHORT_COLUMNS].reset_index(drop=True)


def _empty_frame() -> pd.DataFrame:
    return pd.DataFrame({
        "cohort": pd.Series(dtype="datetime64[s]"), "offset": pd.Series(dtype="int64"),
        "month": pd.Series(dtype="datetime64[s]"), "cohort_size": pd.Series(dtype="int64"),
        "value": pd.Series(dtype="float64"), "retention": pd.Series(dtype="float64"),
    })


def _as_date(value) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return pd.Timestamp(value).date()
