"""Filters and data scopes: frozen, hashable values that become SQL conditions.

``Filters`` is what a user chose (dashboard URL, API query string, report schedule);
``Scope`` is what the user may see (set by an admin). Every query ANDs both, so a filter can
only narrow a scope, never widen it.

URL form (the dashboard, the API and schedules share it)::

    start=2011-01-01&end=2011-03-31&country=FR&country=EIRE&category=Toys
    &channel=web&payment=card&device=mobile&source=email&min_price=1&max_price=50
    &segment=Champions&compare=custom&compare_start=2010-03-01&compare_end=2010-03-31

``compare`` chooses what a period is compared with (``comparison()``): ``previous`` (the
default, left out of the URL: the same number of days ending the day before ``start``),
``last_year`` (the same calendar days a year earlier) or ``custom`` (``compare_start`` …
``compare_end``, both required).

A country is given by its ISO 3166 alpha-2 code (``FR``) or by its name as the data writes
it (``France``, ``EIRE``); both match. Values are matched to the data ignoring case, and a
value no line has is refused naming the closest ones, by ``analytics.filter_values`` (it
needs the data: ``Filters`` itself only checks the form of a value).
"""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field as dc_field, fields, make_dataclass, replace
from urllib.parse import parse_qs, urlencode

import sqlalchemy as sa

from analytics import catalog, schema
from analytics.errors import InvalidInput
from analytics.period import days_before, minus_years


class FilterError(InvalidInput):
    """A filter value is malformed; the message names the parameter and the problem."""


#: URL parameter → (Filters field, fact column) of the multi-valued dimension filters, in
#: the order of ``analytics.catalog.DIMENSIONS``.
DIMENSIONS: dict[str, tuple[str, str]] = {
    d.param: (d.field, d.column) for d in catalog.filter_dimensions()}
#: Fields whose values may be ISO codes (written upper-case: ``fr`` is ``FR``).
_CODED_FIELDS = frozenset(d.field for d in catalog.filter_dimensions() if d.codes)
_ISO2 = re.compile(r"^[A-Z]{2}$")
MAX_VALUES = 200          # per dimension: a URL cannot make a query arbitrarily large
MAX_VALUE_LENGTH = 200
#: What a period may be compared with (``Filters.comparison``), the default first.
COMPARES = ("previous", "last_year", "custom")
#: The URL parameters of the comparison.
COMPARE_PARAMS = ("compare", "compare_start", "compare_end")


class _FiltersBehaviour:
    """What ``Filters`` does; ``Filters`` itself (below) adds the fields, one tuple of
    chosen values per filterable dimension of the catalog."""
    start: dt.date | None
    end: dt.date | None
    min_price: float | None
    max_price: float | None
    segment: str | None
    compare: str
    compare_start: dt.date | None
    compare_end: dt.date | None

    def __post_init__(self) -> None:
        for field, _column in DIMENSIONS.values():
            value = getattr(self, field)
            if isinstance(value, str):
                value = (value,)
            object.__setattr__(self, field, _canonical(field, value))
        if self.start and self.end and self.start > self.end:
            raise FilterError(f"start ({self.start}) is after end ({self.end})")
        if (self.min_price is not None and self.max_price is not None
                and self.min_price > self.max_price):
            raise FilterError(f"min_price ({self.min_price}) is above max_price "
                              f"({self.max_price})")
        if self.segment is not None and not self.segment.strip():
            object.__setattr__(self, "segment", None)
        self._check_comparison()

    def _check_comparison(self) -> None:
        if self.compare not in COMPARES:
            raise FilterError(f"compare must be one of {', '.join(COMPARES)}, not "
                              f"{self.compare!r}")
        dates = (self.compare_start, self.compare_end)
        if self.compare != "custom":
            if dates != (None, None):
                raise FilterError("compare_start and compare_end are only used with "
                                  "compare=custom")
            return
        if None in dates:
            missing = " and ".join(name for name, day in
                                   zip(("compare_start", "compare_end"), dates) if day is None)
            raise FilterError(f"compare=custom needs {missing} (YYYY-MM-DD)")
        if self.compare_start > self.compare_end:
            raise FilterError(f"compare_start ({self.compare_start}) is after compare_end "
                              f"({self.compare_end})")

    def values(self, dimension: str) -> tuple[str, ...]:
        """The chosen values of a catalog dimension (``()``: no restriction, and for a
        dimension that is not a filter)."""
        field = catalog.dimension(dimension).field
        return getattr(self, field) if field else ()

    def restricted(self) -> dict[str, tuple[str, ...]]:
        """Catalog dimension name → chosen values, for the dimensions with a choice."""
        return {d.name: getattr(self, d.field) for d in catalog.filter_dimensions()
                if getattr(self, d.field)}

    # ------------------------------------------------------------- periods
    @property
    def days(self) -> int | None:
        if self.start is None or self.end is None:
            return None
        return (self.end - self.start).days + 1

    def previous_period(self) -> "Filters":
        """Same filters, the same number of days, ending the day before ``start`` (both
        kept within the calendar, which begins on 0001-01-01)."""
        if self.start is None or self.end is None:
            raise FilterError("the previous period needs both start and end")
        end = days_before(self.start, 1)
        return replace(self, start=days_before(end, self.days - 1), end=end)

    def year_earlier(self) -> "Filters":
        """Same filters over the same calendar days one year earlier (29 Feb → 28 Feb)."""
        if self.start is None or self.end is None:
            raise FilterError("the year-earlier period needs both start and end")
        return replace(self, start=minus_years(self.start), end=minus_years(self.end))

    def comparison(self) -> "Filters":
        """The period this one is compared with, under the same filters: the previous
        period, the same days a year earlier, or the custom dates (``compare``). The answer
        compares with its own previous period (``compare`` back to the default)."""
        if self.compare == "last_year":
            compared = self.year_earlier()
        elif self.compare == "custom":
            compared = replace(self, start=self.compare_start, end=self.compare_end)
        else:
            compared = self.previous_period()
        return compared.without_comparison()

    def comparison_label(self) -> str:
        """What a KPI's change is measured against, for a card or a report: "vs 1–30 Nov
        2025" for the previous period or custom dates, "vs same days last year"."""
        if self.compare == "last_year":
            return "vs same days last year"
        compared = self.comparison()
        return f"vs {day_range_text(compared.start, compared.end)}"

    @property
    def comparison_name(self) -> str:
        """The comparison line's name on a time chart."""
        return {"previous": "Previous period", "last_year": "Last year"}.get(
            self.compare, "Comparison")

    def without_comparison(self) -> "Filters":
        return replace(self, compare="previous", compare_start=None, compare_end=None)

    def comparing_as(self, other: "Filters") -> "Filters":
        """These filters with the comparison ``other`` chose (the sidebar keeps it)."""
        return replace(self, compare=other.compare, compare_start=other.compare_start,
                       compare_end=other.compare_end)

    def with_period(self, start: dt.date | None, end: dt.date | None) -> "Filters":
        return replace(self, start=start, end=end)

    def without_dates(self) -> "Filters":
        return replace(self, start=None, end=None)

    def is_empty(self) -> bool:
        return self == Filters()

    # ------------------------------------------------------------- URL
    def to_params(self) -> list[tuple[str, str]]:
        """Query parameters in a stable order (the same filters give the same URL)."""
        params: list[tuple[str, str]] = []
        if self.start:
            params.append(("start", self.start.isoformat()))
        if self.end:
            params.append(("end", self.end.isoformat()))
        for name, (field, _column) in DIMENSIONS.items():
            params.extend((name, value) for value in getattr(self, field))
        if self.min_price is not None:
            params.append(("min_price", _number_text(self.min_price)))
        if self.max_price is not None:
            params.append(("max_price", _number_text(self.max_price)))
        if self.segment:
            params.append(("segment", self.segment))
        if self.compare != "previous":
            params.append(("compare", self.compare))
        if self.compare_start:
            params.append(("compare_start", self.compare_start.isoformat()))
        if self.compare_end:
            params.append(("compare_end", self.compare_end.isoformat()))
        return params

    def to_query(self) -> str:
        return urlencode(self.to_params())

    def to_dict(self) -> dict:
        """JSON-friendly form (jobs, schedules); ``from_query`` reads it back."""
        out: dict = {}
        for name, value in self.to_params():
            if name in DIMENSIONS:
                out.setdefault(name, []).append(value)
            else:
                out[name] = value
        return out

    @classmethod
    def from_query(cls, query: str | Mapping | None) -> "Filters":
        """Parse a query string, a ``parse_qs``-style dict, a Werkzeug MultiDict or the
        dict of ``to_dict``. Unknown parameters are ignored (pages add their own);
        malformed values raise FilterError naming the parameter."""
        values = _multi(query)
        kwargs: dict = {}
        for name in ("start", "end"):
            if values.get(name):
                kwargs[name] = parse_date(values[name][-1], name)
        for name, (field, _column) in DIMENSIONS.items():
            if values.get(name):
                kwargs[field] = tuple(values[name])
        for name in ("min_price", "max_price"):
            if values.get(name) and values[name][-1] != "":
                kwargs[name] = _parse_number(values[name][-1], name)
        if values.get("segment"):
            kwargs["segment"] = values["segment"][-1]
        if values.get("compare") and values["compare"][-1].strip():
            kwargs["compare"] = values["compare"][-1].strip()
        for name in ("compare_start", "compare_end"):
            if values.get(name) and values[name][-1].strip():
                kwargs[name] = parse_date(values[name][-1], name)
        return cls(**kwargs)


Filters = make_dataclass(
    "Filters",
    [("start", dt.date | None, dc_field(default=None)),
     ("end", dt.date | None, dc_field(default=None)),
     *[(d.field, tuple[str, ...], dc_field(default=())) for d in catalog.filter_dimensions()],
     ("min_price", float | None, dc_field(default=None)),
     ("max_price", float | None, dc_field(default=None)),
     ("segment", str | None, dc_field(default=None)),
     ("compare", str, dc_field(default="previous")),
     ("compare_start", dt.date | None, dc_field(default=None)),
     ("compare_end", dt.date | None, dc_field(default=None))],
    bases=(_FiltersBehaviour,), frozen=True)
Filters.__module__ = __name__  # pickling (cache, jobs) finds it here
Filters.__doc__ = """What to look at: a period, the chosen values of each filterable dimension
of ``analytics.catalog`` (``countries``, ``categories``, …: tuples, sorted and de-duplicated),
a unit-price range, an RFM segment, and what the period is compared with (``compare``,
``compare_start``, ``compare_end``). Empty tuples and None mean "no restriction"."""


@dataclass(frozen=True)
class Scope:
    """The data a user may see: ``countries`` is a set of ISO alpha-2 codes, or None for
    all data. An empty set means nothing at all."""
    countries: frozenset[str] | None = None

    def __post_init__(self) -> None:
        if self.countries is not None:
            codes = frozenset(str(c).strip().upper() for c in self.countries)
            bad = sorted(c for c in codes if not _ISO2.match(c))
            if bad:
                raise FilterError(f"a data scope lists ISO 3166 alpha-2 codes, not {bad}")
            object.__setattr__(self, "countries", codes)

    @classmethod
    def of(cls, countries: Iterable[str] | None) -> "Scope":
        return cls(None if countries is None else frozenset(countries))

    @property
    def is_all(self) -> bool:
        return self.countries is None

    def key(self) -> str:
        return "*" if self.countries is None else ",".join(sorted(self.countries))

    def __str__(self) -> str:
        if self.countries is None:
            return "all data"
        return ", ".join(sorted(self.countries)) or "no data"


ALL_DATA = Scope()


def line_conditions(filters: Filters, scope: Scope, table: sa.Table = schema.fact_lines,
                    *, dates: bool = True,
                    exact_codes: Collection[str] = ()) -> list[sa.ColumnElement[bool]]:
    """SQL conditions on a table with the fact columns (fact_lines or a rollup).

    The scope is always included. The segment filter is not (it needs the RFM query:
    see ``analytics.customers``); callers that honour segments add it themselves.
    ``dates=False`` leaves out the date range (cohorts look at the whole history).

    A chosen value of a coded dimension (country) matches its name column or, when it is
    written as a code (``FR``), its code column. ``exact_codes`` names the dimensions whose
    names the data version never writes as another row's code (``codes_exact`` of
    ``analytics.rollups``, ``planner.Source.exact_codes``): a code then matches by its code
    column alone, one IN list instead of an OR of two, which every row of a scan tests.
    """
    conditions: list[sa.ColumnElement[bool]] = []
    columns = table.c
    if scope.countries is not None:
        conditions.append(columns.country_code.in_(sorted(scope.countries))
                          if scope.countries else sa.false())
    if dates and filters.start is not None:
        conditions.append(columns.invoice_date >= filters.start)
    if dates and filters.end is not None:
        conditions.append(columns.invoice_date <= filters.end)
    for dimension in catalog.filter_dimensions():
        values = getattr(filters, dimension.field)
        if not values:
            continue
        if dimension.column not in columns:  # the table lacks the dimension: nothing matches
            conditions.append(sa.false())
            continue
        codes = [v for v in values if _ISO2.match(v)] if dimension.codes else []
        names = ([v for v in values if v not in codes] if dimension.name in exact_codes
                 else list(values))
        matches = []
        if codes:  # a country is its name as written or its ISO code
            matches.append(columns[dimension.codes[0]].in_(codes))
        if names:
            matches.append(columns[dimension.column].in_(names))
        conditions.append(matches[0] if len(matches) == 1 else sa.or_(*matches))
    if filters.min_price is not None and "unit_price" in columns:
        conditions.append(columns.unit_price >= filters.min_price)
    if filters.max_price is not None and "unit_price" in columns:
        conditions.append(columns.unit_price <= filters.max_price)
    return conditions


def check_page(page, page_size, largest: int) -> tuple[int, int]:
    """Validate server-side paging: pages count from 1, ``page_size`` in 1…``largest``."""
    try:
        page, page_size = int(page), int(page_size)
    except (TypeError, ValueError):
        raise FilterError("page and page_size must be whole numbers") from None
    if page < 1:
        raise FilterError(f"page counts from 1, not {page}")
    if not 1 <= page_size <= largest:
        raise FilterError(f"page_size must be between 1 and {largest}, not {page_size}")
    return page, page_size


def parse_date(text: str, name: str = "date") -> dt.date:
    try:
        return dt.date.fromisoformat(str(text).strip())
    except ValueError:
        raise FilterError(f"{name} must be a date written YYYY-MM-DD, not {text!r}") from None


def day_range_text(start: dt.date, end: dt.date) -> str:
    """"1–30 Nov 2025", "28 Nov – 4 Dec 2025", "20 Dec 2024 – 5 Jan 2025", "3 Mar 2025"."""
    if start == end:
        return f"{start.day} {start:%b %Y}"
    if (start.year, start.month) == (end.year, end.month):
        return f"{start.day}–{end.day} {end:%b %Y}"
    if start.year == end.year:
        return f"{start.day} {start:%b} – {end.day} {end:%b %Y}"
    return f"{start.day} {start:%b %Y} – {end.day} {end:%b %Y}"


def _parse_number(text: str, name: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise FilterError(f"{name} must be a number, not {text!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise FilterError(f"{name} must be a finite number, not {text!r}")
    return value


def _number_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _canonical(field: str, values: Iterable[str]) -> tuple[str, ...]:
    cleaned = set()
    for value in values:
        text = str(value).strip()
        if not text:
            continue
        if len(text) > MAX_VALUE_LENGTH:
            raise FilterError(f"a {field} value is longer than {MAX_VALUE_LENGTH} characters")
        if field in _CODED_FIELDS and len(text) == 2 and text.isalpha():
            text = text.upper()
        cleaned.add(text)
    if len(cleaned) > MAX_VALUES:
        raise FilterError(f"at most {MAX_VALUES} {field} at once")
    return tuple(sorted(cleaned))


def _multi(query: str | Mapping | None) -> dict[str, list[str]]:
    if query is None:
        return {}
    if isinstance(query, str):
        return parse_qs(query.lstrip("?"), keep_blank_values=False)
    if hasattr(query, "getlist"):  # Werkzeug MultiDict
        return {key: query.getlist(key) for key in query.keys()}
    out: dict[str, list[str]] = {}
    for key, value in query.items():
        if value is None:
            continue
        out[key] = [str(v) for v in value] if isinstance(value, (list, tuple)) else [str(value)]
    return out


#: The fields that restrict the data (the comparison's choose a second period instead).
FILTER_FIELDS = tuple(f.name for f in fields(Filters) if f.name not in COMPARE_PARAMS)
