"""The number-writing rules every surface shares (cards, charts, PDF, Excel, e-mail)."""
from __future__ import annotations

import datetime as dt
import math

import pytest

from core.formatting import (Locale, LocaleError, as_locale, excel_money_format, format_change,
                             format_date, format_datetime, format_money, format_value)


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


# --------------------------------------------------------------- the installation's locale
NNBSP = "\u202f"  # the thousands separator of "1 234,56"
NBSP = "\u00a0"   # between an amount and a sign written after it


@pytest.mark.parametrize("style, big, small, negative", [
    ("1,234.56", "$1,234,568", "$999.50", "−$1,234"),
    ("1.234,56", f"1.234.568{NBSP}$", f"999,50{NBSP}$", f"−1.234{NBSP}$"),
    ("1 234,56", f"1{NNBSP}234{NNBSP}568{NBSP}$", f"999,50{NBSP}$", f"−1{NNBSP}234{NBSP}$"),
    ("1'234.56", "$1'234'568", "$999.50", "−$1'234"),
])
def test_every_number_style_writes_money(style, big, small, negative):
    usd = Locale(currency="USD", number_style=style)
    assert format_value(1234567.5, "money", usd) == big
    assert format_value(999.5, "money", usd) == small
    assert format_money(-1234.4, usd) == negative
    assert format_value(None, "money", usd) == "n/a"


def test_styles_write_counts_rates_ratios_and_changes():
    de = Locale(currency="EUR", number_style="1.234,56")
    assert format_value(12345.6, "count", de) == "12.346"
    assert format_value(0.2512, "rate", de) == "25,1%"
    assert format_value(4.726, "ratio", de) == "4,73×"
    assert format_change(1234.0, 0.052, "money", de) == f"+1.234{NBSP}€ (+5,2%)"
    assert format_change(-0.31, -0.083, "money", de) == f"−0,31{NBSP}€ (−8,3%)"
    assert format_change(0.021, None, "rate", de) == "+2,1 pts"
    assert format_change(-0.0004, -0.0001, "rate", de) == "0,0 pts (0,0%)"
    swiss = Locale(currency="CHF", number_style="1'234.56")
    assert format_money(1234.5, swiss, 2) == "CHF 1'234.50"   # a sign in letters is spaced


def test_currency_signs_and_codes():
    assert Locale(currency="usd").currency == "USD"
    assert as_locale("$").currency == "USD" and as_locale("£").symbol == "£"
    assert format_money(12, Locale(currency="SGD")) == "SGD 12"    # no sign: its code
    assert format_money(5, "kr.") == "kr.5"                         # an unknown sign, as given
    with pytest.raises(LocaleError, match="ISO 4217"):
        Locale(currency="dollars")
    with pytest.raises(LocaleError, match="number style"):
        Locale(number_style="1_234.56")
    with pytest.raises(LocaleError, match="date format"):
        Locale(date_format="%d.%m.%Y")


@pytest.mark.parametrize("name, day, moment", [
    ("d mmm yyyy", "2 Dec 2025", "2 Dec 2025 14:05"),
    ("dd/mm/yyyy", "02/12/2025", "02/12/2025 14:05"),
    ("mm/dd/yyyy", "12/02/2025", "12/02/2025 14:05"),
    ("yyyy-mm-dd", "2025-12-02", "2025-12-02 14:05"),
])
def test_every_date_format(name, day, moment):
    locale = Locale(date_format=name)
    assert format_date(dt.date(2025, 12, 2), locale) == day
    assert format_date("2025-12-02", locale) == day
    assert format_datetime(dt.datetime(2025, 12, 2, 14, 5), locale) == moment
    assert format_date(None, locale) == "n/a"


def test_excel_number_formats_carry_the_currency():
    assert excel_money_format(Locale(currency="USD")) == '"$"#,##0.00;-"$"#,##0.00'
    assert excel_money_format(Locale(currency="EUR", number_style="1.234,56")) == \
        '#,##0.00 "€";-#,##0.00 "€"'
    assert excel_money_format("£") == '"£"#,##0.00;-"£"#,##0.00'


def test_chart_money_axis_ticks_stay_distinct():
    """Ticks 1,000–1,300 read £1k, £1.1k, £1.2k, £1.3k (not four "£1k"); whole thousands,
    hundreds of thousands and millions as before; de-style writes its own decimal mark."""
    from core.reports.charts import money_axis
    label = money_axis("£")
    assert [label(v, 0) for v in (1000, 1100, 1200, 1300)] == ["£1k", "£1.1k", "£1.2k", "£1.3k"]
    assert [label(v, 0) for v in (900, 25_000, 25_500, 350_000, 1_200_000, 2_000_000,
                                  -1500)] == \
        ["£900", "£25k", "£25.5k", "£350k", "£1.2M", "£2M", "−£1.5k"]
