"""How numbers are written for people, in one place: the dashboard's cards and charts, the
PDF and Excel reports and the e-mails all use these, so the same KPI reads the same
everywhere.

Money has thousands separators (2 decimals below 1,000), counts have separators, rates are
in % with one decimal (their changes in percentage points), and an empty value is "n/a",
never 0.
"""
from __future__ import annotations

import math

from analytics import catalog

#: KPI name (METRICS.md) → (label, kind), in METRICS.md order; kind is "money", "count" or
#: "rate". Declared once, in ``analytics.catalog.MEASURES``.
KPI_LABELS: dict[str, tuple[str, str]] = {m.name: (m.label, m.kind) for m in catalog.MEASURES}


def is_empty(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def format_money(value: float | None, currency: str, decimals: int = 0) -> str:
    """``£1,234,567`` (negative: ``−£1,234``); "n/a" for an empty value."""
    if is_empty(value):
        return "n/a"
    sign = "−" if value < 0 else ""
    return f"{sign}{currency}{abs(value):,.{decimals}f}"


def format_value(value: float | None, kind: str, currency: str) -> str:
    """A KPI value: money with separators (2 decimals below 1,000), counts with
    separators, rates in % with one decimal, ratios as "4.73×"; "n/a" when empty."""
    if is_empty(value):
        return "n/a"
    if kind == "money":
        return format_money(value, currency, 2 if abs(value) < 1000 else 0)
    if kind == "rate":
        return f"{value:.1%}"
    if kind == "ratio":
        return f"{value:,.2f}×"
    return f"{value:,.0f}"


def format_change(abs_change: float | None, rel_change: float | None, kind: str,
                  currency: str) -> str:
    """"+£1,234 (+5.2%)" against the previous period; rates change in points; "no
    comparison" when there is no previous value."""
    if is_empty(abs_change):
        return "no comparison"
    if kind == "rate":
        absolute = f"{abs_change * 100:+.1f} pts"
    elif kind == "ratio":
        absolute = f"{abs_change:+,.2f}×"
    elif kind == "money":  # pence for small amounts (CPC, revenue per session), not "−£0"
        absolute = ("+" if abs_change >= 0 else "") + format_money(
            abs_change, currency, 2 if abs(abs_change) < 10 else 0)
    else:
        absolute = f"{abs_change:+,.0f}"
    return absolute if is_empty(rel_change) else f"{absolute} ({rel_change:+.1%})"
