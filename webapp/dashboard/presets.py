"""Date-range presets of the filter sidebar, relative to the DATA's last day (an old export
still opens on its own last month, not on an empty "today")."""
from __future__ import annotations

import datetime as dt

from analytics.period import minus_years

#: Preset value → label, in the order of the dropdown.
PRESETS: dict[str, str] = {
    "last_7": "Last 7 days",
    "last_30": "Last 30 days",
    "last_90": "Last 90 days",
    "month_to_date": "Month to date",
    "quarter_to_date": "Quarter to date",
    "year_to_date": "Year to date",
    "last_12_months": "Last 12 months",
    "all_time": "All time",
}
CUSTOM = "custom"


def preset_range(name: str, first_day: dt.date, last_day: dt.date) -> tuple[dt.date, dt.date]:
    """(start, end) of a preset for data running from ``first_day`` to ``last_day``.

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


def matching_preset(start: dt.date, end: dt.date, first_day: dt.date, last_day: dt.date) -> str:
    """The preset whose range is exactly ``start…end``, else ``CUSTOM``."""
    for name in PRESETS:
        if preset_range(name, first_day, last_day) == (start, end):
            return name
    return CUSTOM

