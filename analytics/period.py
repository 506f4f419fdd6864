"""The period a view shows: missing dates are filled from the data, not from today's clock.

The default view is the last 30 days of the DATA (a demo or an old export still shows
numbers), so ``resolve`` must run before any cache key is made.
"""
from __future__ import annotations

import datetime as dt
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # analytics.filters imports this module for minus_years
    from analytics.filters import Filters

DEFAULT_DAYS = 30


def minus_years(day: dt.date, years: int = 1) -> dt.date:
    """The same calendar day ``years`` years earlier; 29 February becomes 28 February when
    that year has none. The one rule for "last year" (year-earlier comparisons, the
    "last 12 months" preset, the demo's history)."""
    if day.year - years < dt.MINYEAR:  # before year 1 there is no calendar: its first day
        return dt.date.min
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def plus_years(day: dt.date, years: int = 1) -> dt.date:
    """The same calendar day ``years`` years later (29 February → 28 February), or the last
    day of the calendar (9999-12-31) when that is later."""
    if day.year + years > dt.MAXYEAR:
        return dt.date.max
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def plus_days(day: dt.date, days: int) -> dt.date:
    """``day`` + ``days`` days, or the last day of the calendar when that is later."""
    return day + dt.timedelta(days=days) if (dt.date.max - day).days >= days else dt.date.max


def days_before(day: dt.date, days: int) -> dt.date:
    """``day`` − ``days`` days, or the first day of the calendar when that is earlier."""
    return day - dt.timedelta(days=days) if (day - dt.date.min).days >= days else dt.date.min


def preset_range(name: str, first_day: dt.date, last_day: dt.date) -> tuple[dt.date, dt.date]:
    """(start, end) of a date preset (the filter sidebar's; a saved view's relative period)
    for data running from ``first_day`` to ``last_day``.

    Every preset ends on ``last_day``; "last N days" includes it (N days in all); "last 12
    months" starts the day after the same date a year earlier. A start before the data's
    first day is kept: the previous-period comparison needs the true calendar range.
    """
    if name.startswith("last_") and name[5:].isdigit():
        return last_day - dt.timedelta(days=int(name[5:]) - 1), last_day
    if name == "month_to_date":
        return last_day.replace(day=1), last_day
    if name == "quarter_to_date":
        return last_day.replace(month=(last_day.month - 1) // 3 * 3 + 1, day=1), last_day
    if name == "year_to_date":
        return last_day.replace(month=1, day=1), last_day
    if name == "last_12_months":
        return minus_years(last_day) + dt.timedelta(days=1), last_day
    if name == "all_time":
        return first_day, last_day
    raise ValueError(f"unknown date preset {name!r}")


_infos: dict[tuple[str, int], object] = {}
_infos_lock = threading.Lock()


def version_info(warehouse, version: int | None = None):
    """The ``VersionInfo`` of ``version`` (default: current), remembered per version (a
    version never changes, so this costs one query per process and version)."""
    version = warehouse.require_version() if version is None else version
    key = (warehouse.url, version)
    info = _infos.get(key)
    if info is None:
        info = warehouse.version_info(version)
        with _infos_lock:
            _infos[key] = info
    return info


def data_range(warehouse, version: int | None = None) -> tuple[dt.date | None, dt.date | None]:
    """(first day, last day) of the data version's lines (default: current); (None, None)
    when the version holds no lines."""
    info = version_info(warehouse, version)
    return (info.min_ts.date() if info.min_ts is not None else None,
            info.max_ts.date() if info.max_ts is not None else None)


def resolve(warehouse, filters: Filters, version: int | None = None) -> Filters:
    """``filters`` with both dates set: a missing end becomes the data's last day (today
    when there is no data), a missing start becomes end − 29 days (30 days in all); then the
    period is clamped to the data (``clamp``), so a query never spans centuries the data
    does not hold. ``version`` (default: current) lets a caller that already knows it skip
    a lookup."""
    version = warehouse.current_version() if version is None else version
    first, last = data_range(warehouse, version) if version is not None else (None, None)
    start, end = filters.start, filters.end
    if end is None:
        end = last if last is not None else dt.date.today()
        if start is not None and start > end:
            end = start  # an explicit start after the data: an empty period
    if start is None:
        start = days_before(end, DEFAULT_DAYS - 1)
    start, end = clamp(start, end, first, last)
    if (start, end) == (filters.start, filters.end):
        return filters
    return filters.with_period(start, end)


#: Days beyond each end of the data a period may reach untouched (a calendar year around
#: data that ends on 9 December, a chart's empty edges); ``clamp`` cuts only past them.
CLAMP_MARGIN_DAYS = 366


def clamp(start: dt.date, end: dt.date, first: dt.date | None,
          last: dt.date | None) -> tuple[dt.date, dt.date]:
    """The period ``[start, end]`` cut to at most ``CLAMP_MARGIN_DAYS`` beyond the data
    ``[first, last]``, without changing any answer (METRICS.md's, the previous period's
    included), so that 1900–2999 queries the data's years, not eleven centuries of days:

    * a start long before the data moves to the margin's first day, when the period reaches
      that far (the days cut hold no line; the previous period lay, and still lies, before
      the data);
    * an end long after the data moves back to the margin's last day, or, when the start is
      past the margin's first day, to the day that keeps the previous period (same number of
      days, ending the day before the start) reaching back before the data
      (``start + (start − low) − 1``): it then holds the same lines as the one asked for;
    * a period entirely before the data is kept, and one entirely after it keeps its start:
      both still answer "no data for this period".

    ``first`` None (no lines) leaves the period as it is."""
    if first is None or last is None:
        return start, end
    low = days_before(first, CLAMP_MARGIN_DAYS)
    high = plus_days(last, CLAMP_MARGIN_DAYS)
    if start < low <= end:
        start = low
    if end > high:
        keeps_previous = plus_days(start, (start - low).days - 1)
        end = max(start, min(end, max(high, keeps_previous)))
    return start, end


def history(warehouse, filters: Filters, version: int | None = None) -> Filters:
    """``filters`` over the whole data range (the overview's trend), or over the resolved
    period when the version holds no lines."""
    first, last = data_range(warehouse, version)
    if first is None:
        return resolve(warehouse, filters, version)
    return filters.with_period(first, last)
