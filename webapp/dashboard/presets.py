"""Date-range presets of the filter sidebar, relative to the DATA's last day (an old export
still opens on its own last month, not on an empty "today")."""
from __future__ import annotations

import datetime as dt

from analytics.period import preset_range  # the one rule, shared with core.views

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


def matching_preset(start: dt.date, end: dt.date, first_day: dt.date, last_day: dt.date) -> str:
    """The preset whose range is exactly ``start…end``, else ``CUSTOM``."""
    for name in PRESETS:
        if preset_range(name, first_day, last_day) == (start, end):
            return name
    return CUSTOM

