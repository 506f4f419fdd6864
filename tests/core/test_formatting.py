"""The number-writing rules every surface shares (cards, charts, PDF, Excel, e-mail)."""
from __future__ import annotations

import math

from core.formatting import format_change, format_money, format_value


def test_money_counts_and_rates():
    assert format_money(1234567.4, "£") == "£1,234,567"
    assert format_money(-1234.5, "£") == "−£1,234"
    assert format_value(999.5, "money", "£") == "£999.50"      # 2 decimals below 1,000
    assert format_value(1000.4, "money", "€") == "€1,000"
    assert format_value(12345.6, "count", "£") == "12,346"
    assert format_value(0.2512, "rate", "£") == "25.1%"


def test_empty_is_na_never_zero():
    for kind in ("money", "count", "rate"):
        assert format_value(None, kind, "£") == "n/a"
        assert format_value(math.nan, kind, "£") == "n/a"
    assert format_money(None, "£") == "n/a"


def test_changes_in_units_and_points():
    assert format_change(1234.0, 0.052, "money", "£") == "+£1,234 (+5.2%)"
    assert format_change(-50.0, -0.1, "money", "£") == "−£50 (-10.0%)"
    assert format_change(0.021, 0.5, "rate", "£") == "+2.1 pts (+50.0%)"
    assert format_change(12.0, None, "count", "£") == "+12"      # previous was 0
    assert format_change(None, None, "count", "£") == "no comparison"
    # small money changes keep their pence (a CPC or revenue per session), ratios are ×
    assert format_change(-0.31, -0.083, "money", "£") == "−£0.31 (-8.3%)"
    assert format_change(0.172, 0.038, "ratio", "£") == "+0.17× (+3.8%)"
    assert format_value(4.726, "ratio", "£") == "4.73×"
