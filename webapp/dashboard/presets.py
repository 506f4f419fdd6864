"""Date-range presets of the filter sidebar, relative to the DATA's last day (an old export
still opens on its own last month, not on an empty "today")."""
from __future__ import annotations

import datetime as dt

from analytics.period import preset_range  # the one rule, shared with core.views
from core.dashboards import PERIOD_LABELS

#: Preset value → label, in the order of the dropdown (the periods a dashboard may keep).
PRESETS: dict[str, str] = PERIOD_LABELS
CUSTOM = "custom"


def matching_preset(start: dt.date, end: dt.date, first_day: dt.date, last_day: dt.date) -> str:
    """The preset whose range is exactly ``start…end``, else ``CUSTOM``."""
    for name in PRESETS:
        if preset_range(name, first_day, last_day) == (start, end):
            return name
    return CUSTOM

