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
    assert format_change(-50.0, -0.1, "money", "£") == "−£50 (−10.0%)"
    assert format_change(0.021, 0.5, "rate", "£") == "+2.1 pts (+50.0%)"
    assert format_change(12.0, None, "count", "£") == "+12"      # previous was 0
    assert format_change(None, None, "count", "£") == "no comparison"
    # small money changes keep their pence (a CPC or revenue per session), ratios are ×
    assert format_change(-0.31, -0.083, "money", "£") == "−£0.31 (−8.3%)"
    assert format_change(0.172, 0.038, "ratio", "£") == "+0.17× (+3.8%)"
    assert format_value(4.726, "ratio", "£") == "4.73×"


def test_negative_changes_use_the_minus_sign_for_every_kind():
    # U+2212 as money already used, never the hyphen-minus the Marketing cards showed
    assert format_change(-1.2, -0.2, "ratio", "£") == "−1.20× (−20.0%)"
    assert format_change(-0.0123, None, "rate", "£") == "−1.2 pts"
    assert format_change(-1234.0, -0.5, "count", "£") == "−1,234 (−50.0%)"
    for kind in ("money", "count", "rate", "ratio"):
        assert "-" not in format_change(-3.0, -0.25, kind, "£")


def test_a_change_that_rounds_to_zero_has_no_sign():
    # "−0.0 pts" would claim a fall that is not there, "+0.0" a rise: zero is unsigned
    assert format_change(-0.0004, -0.0001, "rate", "£") == "0.0 pts (0.0%)"
    assert format_change(0.0, 0.0, "rate", "£") == "0.0 pts (0.0%)"
    assert format_change(-0.004, None, "ratio", "£") == "0.00×"
    assert format_change(-0.4, None, "count", "£") == "0"
    assert format_change(-0.001, -0.00001, "money", "£") == "£0.00 (0.0%)"
    assert format_change(0.006, 0.0006, "ratio", "£") == "+0.01× (+0.1%)"
    assert format_money(-0.4, "£") == "£0"                      # not "−£0"
