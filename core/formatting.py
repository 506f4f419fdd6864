"""How numbers and dates are written for people, in one place: the dashboard's cards and
charts, the PDF and Excel reports, the e-mails and the API's sentences all use these, so the
same KPI reads the same everywhere.

Money has thousands separators (2 decimals below 1,000), counts have separators, rates are
in % with one decimal (their changes in percentage points), and an empty value is "n/a",
never 0.

How they look is the installation's ``Locale`` (the admin's Settings page, the API's
/settings/locale, ``flask settings locale``; see core.installation): the currency (an ISO
code, shown with its sign), the number style ("1,234.56", "1.234,56", "1 234,56",
"1'234.56"), the date format and the data's time zone. Every function below takes the
currency argument as a ``Locale``, or as a sign ("£") for the default style.
"""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from analytics import catalog
from analytics.errors import InvalidInput

#: KPI name (METRICS.md) → (label, kind), in METRICS.md order; kind is "money", "count" or
#: "rate". Declared once, in ``analytics.catalog.MEASURES``.
KPI_LABELS: dict[str, tuple[str, str]] = {m.name: (m.label, m.kind) for m in catalog.MEASURES}

#: ISO 4217 code → the sign it is shown with (a code without one is shown as its code).
CURRENCY_SIGNS: dict[str, str] = {
    "GBP": "£", "USD": "$", "EUR": "€", "JPY": "¥", "CNY": "¥", "INR": "₹", "KRW": "₩",
    "TRY": "₺", "PLN": "zł", "BRL": "R$", "CAD": "CA$", "AUD": "A$", "NZD": "NZ$",
    "MXN": "MX$", "CHF": "CHF", "SEK": "kr", "NOK": "kr", "DKK": "kr", "ZAR": "R"}

#: Signs people write in CURRENCY → the code they mean (the sign of several, "$" and "¥",
#: is taken for the best known).
SIGN_CODES: dict[str, str] = {"£": "GBP", "$": "USD", "US$": "USD", "€": "EUR", "¥": "JPY",
                              "₹": "INR", "₩": "KRW", "₺": "TRY", "R$": "BRL", "CA$": "CAD",
                              "C$": "CAD", "A$": "AUD", "AU$": "AUD", "NZ$": "NZD",
                              "MX$": "MXN", "zł": "PLN", "Fr.": "CHF"}

#: Number style (as it writes 1234.56) → (thousands separator, decimal separator, the
#: currency's sign after the amount). Continental styles write "1.234 €", the others "£1,234".
NUMBER_STYLES: dict[str, tuple[str, str, bool]] = {
    "1,234.56": (",", ".", False),
    "1.234,56": (".", ",", True),
    "1 234,56": ("\u202f", ",", True),   # a narrow no-break space, as CLDR writes it
    "1'234.56": ("'", ".", False),
}

#: Date format (as it is named in settings) → its example, 2 December 2025 written that way.
DATE_FORMATS: dict[str, str] = {
    "d mmm yyyy": "2 Dec 2025",
    "dd/mm/yyyy": "02/12/2025",
    "mm/dd/yyyy": "12/02/2025",
    "yyyy-mm-dd": "2025-12-02",
}
_STRFTIME = {"dd/mm/yyyy": "%d/%m/%Y", "mm/dd/yyyy": "%m/%d/%Y", "yyyy-mm-dd": "%Y-%m-%d"}
_EXCEL_DATES = {"d mmm yyyy": "d mmm yyyy", "dd/mm/yyyy": "dd/mm/yyyy",
                "mm/dd/yyyy": "mm/dd/yyyy", "yyyy-mm-dd": "yyyy-mm-dd"}

DEFAULT_CURRENCY = "GBP"
DEFAULT_NUMBER_STYLE = "1,234.56"
DEFAULT_DATE_FORMAT = "d mmm yyyy"
DEFAULT_TIMEZONE = "UTC"


class LocaleError(InvalidInput):
    """A locale setting that cannot be used; the message says which and what is allowed."""


def currency_code(text: str) -> str:
    """The ISO code of ``text``: a code ("usd") or a sign people write ("$", "£")."""
    cleaned = (text or "").strip()
    if cleaned in SIGN_CODES:
        return SIGN_CODES[cleaned]
    if len(cleaned) == 3 and cleaned.isalpha():
        return cleaned.upper()
    raise LocaleError(f"currency must be an ISO 4217 code such as GBP, USD or EUR (or one of "
                      f"the signs {', '.join(sorted(SIGN_CODES))}), not {text!r}")


def check_number_style(style: str) -> str:
    if style not in NUMBER_STYLES:
        raise LocaleError(f"number style must be one of {', '.join(NUMBER_STYLES)}, "
                          f"not {style!r}")
    return style


def check_date_format(name: str) -> str:
    if name not in DATE_FORMATS:
        raise LocaleError(f"date format must be one of {', '.join(DATE_FORMATS)}, "
                          f"not {name!r}")
    return name


def check_timezone(name: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise LocaleError(f"time zone must be an IANA name such as Europe/London or "
                          f"America/New_York, not {name!r}") from None
    return name


@dataclass(frozen=True)
class Locale:
    """How one installation writes money, numbers and dates. A frozen value, so it can be
    part of a cache key (an answer holding written numbers is keyed by its locale)."""
    currency: str = DEFAULT_CURRENCY
    number_style: str = DEFAULT_NUMBER_STYLE
    date_format: str = DEFAULT_DATE_FORMAT
    timezone: str = DEFAULT_TIMEZONE

    def __post_init__(self):
        object.__setattr__(self, "currency", currency_code(self.currency))
        check_number_style(self.number_style)
        check_date_format(self.date_format)
        check_timezone(self.timezone)

    @property
    def symbol(self) -> str:
        return CURRENCY_SIGNS.get(self.currency, self.currency)

    @property
    def symbol_after(self) -> bool:
        return NUMBER_STYLES[self.number_style][2]

    @property
    def money_prefix(self) -> str:
        """What is written before an amount: "£", "CHF " or nothing ("1.234 €")."""
        if self.symbol_after:
            return ""
        return self.symbol + (" " if self.symbol[-1].isalpha() else "")

    @property
    def money_suffix(self) -> str:
        return "\u00a0" + self.symbol if self.symbol_after else ""

    @property
    def plotly_separators(self) -> str:
        """Plotly's ``layout.separators``: the decimal then the thousands separator."""
        thousands, decimal, _ = NUMBER_STYLES[self.number_style]
        return decimal + thousands

    def __str__(self) -> str:
        # a chart's hover template or axis writes its sign before the number
        return self.symbol

    def money(self, value: float, decimals: int = 0) -> str:
        """``format_money`` in this locale (what analytics' sentences call: analytics.text)."""
        return format_money(value, self, decimals)

    def to_plotly_json(self) -> str:
        # a Dash prop (the map's hideout) carries the sign its script writes before amounts
        return self.symbol

    def to_dict(self) -> dict:
        return {"currency": self.currency, "symbol": self.symbol,
                "number_style": self.number_style, "date_format": self.date_format,
                "timezone": self.timezone}


def as_locale(currency: "Locale | str | None") -> Locale:
    """``currency`` as a Locale: itself, or a sign or code in the default style."""
    if isinstance(currency, Locale):
        return currency
    if not currency:
        return Locale()
    try:
        return Locale(currency=currency_code(currency))
    except LocaleError:  # a sign we do not know ("kr."): written as given
        return _SignLocale(currency=DEFAULT_CURRENCY, sign=currency.strip())


@dataclass(frozen=True)
class _SignLocale(Locale):
    sign: str = ""

    @property
    def symbol(self) -> str:
        return self.sign


def is_empty(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def format_number(value: float, decimals: int = 0, locale: "Locale | str | None" = None,
                  sign: bool = False) -> str:
    """``value`` with the locale's separators ("1,234.5" / "1.234,5"); ``sign`` writes "+"
    before a positive value. Negative values take the minus sign (U+2212)."""
    thousands, decimal, _ = NUMBER_STYLES[as_locale(locale).number_style]
    text = f"{abs(value):,.{decimals}f}"
    if text.strip("0.,") == "":  # rounds to zero: no sign either way
        prefix = ""
    else:
        prefix = "−" if value < 0 else ("+" if sign else "")
    return prefix + text.translate(str.maketrans({",": thousands, ".": decimal}))


def format_money(value: float | None, currency: "Locale | str", decimals: int = 0,
                 sign: bool = False) -> str:
    """``£1,234,567`` (negative: ``−£1,234``; de-style ``1.234.567 €``); "n/a" for an
    empty value. ``sign`` writes "+" before a positive amount."""
    if is_empty(value):
        return "n/a"
    locale = as_locale(currency)
    number = format_number(value, decimals, locale, sign=sign)
    signed = number[:1] if number[:1] in ("−", "+") else ""
    return f"{signed}{locale.money_prefix}{number[len(signed):]}{locale.money_suffix}"


def format_value(value: float | None, kind: str, currency: "Locale | str") -> str:
    """A KPI value: money with separators (2 decimals below 1,000), counts with
    separators, rates in % with one decimal, ratios as "4.73×"; "n/a" when empty."""
    if is_empty(value):
        return "n/a"
    if kind == "money":
        return format_money(value, currency, 2 if abs(value) < 1000 else 0)
    if kind == "rate":
        return format_number(value * 100, 1, currency) + "%"
    if kind == "ratio":
        return format_number(value, 2, currency) + "×"
    return format_number(value, 0, currency)


def format_percent(value: float, currency: "Locale | str | None" = None,
                   sign: bool = False) -> str:
    """A fraction in % with one decimal: "+5.2%" (de-style "+5,2%")."""
    return format_number(value * 100, 1, currency, sign=sign) + "%"


def format_change(abs_change: float | None, rel_change: float | None, kind: str,
                  currency: "Locale | str") -> str:
    """"+£1,234 (+5.2%)" against the previous period; rates change in points; "no
    comparison" when there is no previous value."""
    if is_empty(abs_change):
        return "no comparison"
    if kind == "rate":
        absolute = format_number(abs_change * 100, 1, currency, sign=True) + " pts"
    elif kind == "ratio":
        absolute = format_number(abs_change, 2, currency, sign=True) + "×"
    elif kind == "money":  # pence for small amounts (CPC, revenue per session), not "−£0"
        absolute = format_money(abs_change, currency, 2 if abs(abs_change) < 10 else 0,
                                sign=True)
    else:
        absolute = format_number(abs_change, 0, currency, sign=True)
    if is_empty(rel_change):
        return absolute
    return f"{absolute} ({format_percent(rel_change, currency, sign=True)})"


def format_date(value: dt.date | dt.datetime | str | None,
                locale: "Locale | str | None" = None) -> str:
    """A day as people read it in the installation's format ("2 Dec 2025", "02/12/2025",
    "12/02/2025", "2025-12-02"); "n/a" when there is none. APIs and CSVs keep ISO dates."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, str):
        value = dt.date.fromisoformat(value[:10])
    name = as_locale(locale).date_format
    if name == "d mmm yyyy":
        return f"{value.day} {value:%b %Y}"
    return value.strftime(_STRFTIME[name])


def format_day_range(start: dt.date, end: dt.date,
                     locale: "Locale | str | None" = None) -> str:
    """A period's days: "1–30 Nov 2025" (compact in the default format), else
    "01/11/2025 – 30/11/2025"; one day alone when start is end."""
    if as_locale(locale).date_format == DEFAULT_DATE_FORMAT:
        from analytics.filters import day_range_text
        return day_range_text(start, end)
    if start == end:
        return format_date(start, locale)
    return f"{format_date(start, locale)} – {format_date(end, locale)}"


def format_datetime(value: dt.datetime | None, locale: "Locale | str | None" = None) -> str:
    """A moment as "2 Dec 2025 14:05" in the installation's date format; "n/a" when none."""
    if value is None:
        return "n/a"
    return f"{format_date(value, locale)} {value:%H:%M}"


def excel_money_format(currency: "Locale | str") -> str:
    """The Excel number format of an amount in the locale's currency, its sign where the
    locale writes it (Excel writes the separators of the reader's own computer)."""
    locale = as_locale(currency)
    symbol = locale.symbol.replace('"', "")
    if locale.symbol_after:
        return f'#,##0.00 "{symbol}";-#,##0.00 "{symbol}"'
    prefix = locale.money_prefix.replace('"', "")
    return f'"{prefix}"#,##0.00;-"{prefix}"#,##0.00'


def excel_date_format(locale: "Locale | str | None" = None) -> str:
    return _EXCEL_DATES[as_locale(locale).date_format]
