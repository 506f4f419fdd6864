"""Filter values as the data writes them, checked against the data, in one place.

The REST API and the dashboard both call ``resolve`` (the dashboard's sidebar ``review``)
before a query runs:

* **Case does not matter.** ``country=france`` and ``category=furniture`` match "France"
  and "Furniture": each chosen value is replaced by the spelling(s) the data uses (every
  spelling with the same case-folded text, were the data to hold "Toys" and "toys"), so the
  SQL, the cache keys and an export's audit see one canonical value whatever the URL's case.
  A country may still be given by its ISO code (``fr`` is ``FR``, ``analytics.filters``).
* **A value no line has is an error, not an empty answer.** ``UnknownFilterValues`` (a
  ``FilterError``: 400 on the API, the panels' message on the dashboard) names each such
  value with the closest values that exist: ``Unknown country "Frnace": no line has it;
  closest: France.``
* **Scopes are respected.** The values a user's filters are checked against, and so the
  suggestions, are those of the lines inside the user's data scope: a user limited to
  France is told ``no line in your data scope has it`` for "Germany" and for "Atlantis"
  alike, and is never offered a country outside the scope. The dashboard words a country
  the scope excludes as such (``describe_for_scope``: "GB is outside your data scope
  (FR)."), from the ISO table of ``analytics.countries`` only, never from the data, so it
  tells no more than the user's own scope does.

The values of a dimension are those of the sidebar's dropdowns (``dimension_values``): the
dimension's breakdown over the whole data range under the scope, through the analytics
cache, so they are computed once per data version and scope, not per request.
"""
from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from analytics import breakdowns, cache, catalog, countries, period
from analytics.filters import FilterError, Filters, Scope
from analytics.measures import NONE_LABEL

#: Closest values named for an unknown value, and how close (difflib's ratio) they must be.
SUGGESTIONS = 3
CUTOFF = 0.6
#: Values listed when none is close, and unknown values named in one message.
LISTED = 5


@dataclass(frozen=True)
class KnownValues:
    """The values of a dimension in the data a user may see: ``names`` as the data writes
    them, largest net revenue first, and ``codes``, the ISO codes that travel with them
    (country)."""
    dimension: str
    names: tuple[str, ...]
    codes: tuple[str, ...] = ()

    def spellings(self) -> dict[str, tuple[str, ...]]:
        """Case-folded text → the spellings the data has for it (names, then codes)."""
        found: dict[str, list[str]] = {}
        for value in (*self.names, *self.codes):
            same = found.setdefault(value.casefold(), [])
            if value not in same:
                same.append(value)
        return {folded: tuple(values) for folded, values in found.items()}


@dataclass(frozen=True)
class UnknownValue:
    """A chosen value that no line (in the scope) has, with the closest values that exist."""
    dimension: str
    value: str
    closest: tuple[str, ...]
    known: tuple[str, ...]      # the dimension's names, largest first
    scoped: bool                # the user has a data scope: say so, suggest only within it

    @property
    def message(self) -> str:
        declared = catalog.dimension(self.dimension)
        noun, plural = declared.noun, declared.plural.lower()
        lines = "no line in your data scope" if self.scoped else "no line"
        if not self.known:
            return f'Unknown {noun} "{self.value}": {lines} has a {noun}.'
        text = f'Unknown {noun} "{self.value}": {lines} has it; '
        if self.closest:
            return text + "closest: " + ", ".join(self.closest) + "."
        if len(self.known) == 1:
            return text + f"the only {noun} is {self.known[0]}."
        if len(self.known) <= LISTED:
            return text + f"no close match among the {len(self.known)} {plural}: " \
                + ", ".join(self.known) + "."
        return text + (f"no close match among the {len(self.known)} {plural}; the largest: "
                       + ", ".join(self.known[:LISTED]) + ", …")


class UnknownFilterValues(FilterError):
    """Filter values that no line has (400); the message names them and the closest values
    that exist; ``unknown`` holds them one by one."""

    def __init__(self, unknown: Sequence[UnknownValue]):
        self.unknown = tuple(unknown)
        super().__init__(describe(self.unknown))


def describe(unknown: Sequence[UnknownValue]) -> str:
    """One message for several unknown values (the first ``LISTED`` named)."""
    text = " ".join(item.message for item in unknown[:LISTED])
    if len(unknown) > LISTED:
        text += f" And {len(unknown) - LISTED} more unknown filter values."
    return text


def outside_scope(item: UnknownValue, scope: Scope) -> str | None:
    """"GB is outside your data scope (FR)." when ``item`` is a country (a code or a name
    the ISO table knows, whether or not the data has it) that ``scope`` leaves out; None
    for anything else (a misspelling, another dimension, an unscoped user)."""
    if scope.countries is None or item.dimension != "country":
        return None
    code = countries.country_code(item.value)
    if code is None or code in scope.countries:
        return None
    return f"{item.value} is outside your data scope ({scope})."


def describe_for_scope(unknown: Sequence[UnknownValue], scope: Scope) -> str:
    """``describe``, with a country outside ``scope`` said to be so rather than unknown
    (the dashboard's panels and sidebar: a scoped user asking for GB is told why it shows
    nothing, not that GB has no sales)."""
    text = " ".join(outside_scope(item, scope) or item.message for item in unknown[:LISTED])
    if len(unknown) > LISTED:
        text += f" And {len(unknown) - LISTED} more unknown filter values."
    return text


def closest(value: str, candidates: Iterable[str], n: int = SUGGESTIONS) -> tuple[str, ...]:
    """Up to ``n`` candidates closest to ``value``, ignoring case: those containing it (for
    three characters or more), then difflib's closest (ratio ≥ ``CUTOFF``)."""
    folded: dict[str, str] = {}
    for candidate in candidates:
        folded.setdefault(candidate.casefold(), candidate)
    target = value.casefold()
    found = [original for key, original in folded.items()
             if len(target) >= 3 and target in key]
    found += [folded[key] for key in difflib.get_close_matches(target, list(folded), n=n,
                                                               cutoff=CUTOFF)]
    return tuple(dict.fromkeys(found))[:n]


def review(filters: Filters, known: Mapping[str, KnownValues], *,
           scoped: bool = False) -> tuple[Filters, tuple[UnknownValue, ...]]:
    """``filters`` with every value of a dimension in ``known`` written as the data writes
    it (unknown values kept as given), and the unknown values. Dimensions not in ``known``
    are left as they are."""
    changes: dict[str, tuple[str, ...]] = {}
    unknown: list[UnknownValue] = []
    for declared in catalog.filter_dimensions():
        chosen = getattr(filters, declared.field)
        values = known.get(declared.name)
        if not chosen or values is None:
            continue
        spellings = values.spellings()
        resolved: list[str] = []
        for value in chosen:
            matches = spellings.get(value.casefold())
            if matches:
                resolved.extend(matches)
                continue
            resolved.append(value)
            unknown.append(UnknownValue(declared.name, value,
                                        closest(value, (*values.names, *values.codes)),
                                        values.names, scoped))
        changes[declared.field] = tuple(resolved)
    return (replace(filters, **changes) if changes else filters), tuple(unknown)


def canonical(filters: Filters, known: Mapping[str, KnownValues], *,
              scoped: bool = False) -> Filters:
    """``filters`` written as the data writes them; raises ``UnknownFilterValues`` when a
    value is in none of the ``known`` values."""
    resolved, unknown = review(filters, known, scoped=scoped)
    if unknown:
        raise UnknownFilterValues(unknown)
    return resolved


def dimension_values(warehouse, scope: Scope, dimension: str) -> KnownValues:
    """The values of ``dimension`` in the current data version under ``scope``, largest net
    revenue first: its breakdown over the whole data range, through the analytics cache
    (the sidebar's dropdowns show the same). The missing value "(none)" is not a value."""
    everything = period.history(warehouse, Filters())
    frame = cache.default_cache().call(breakdowns.breakdown, warehouse, everything, scope,
                                       dimension=dimension)
    names = tuple(str(key) for key in frame["key"] if key is not None and key != NONE_LABEL)
    codes: tuple[str, ...] = ()
    for column in catalog.dimension(dimension).codes:
        codes += tuple(dict.fromkeys(code for code in frame[column]
                                     if isinstance(code, str) and code))  # no NaN, None
    return KnownValues(dimension, names, codes)


def known_values(warehouse, scope: Scope, dimensions: Iterable[str]) -> dict[str, KnownValues]:
    return {name: dimension_values(warehouse, scope, name) for name in dimensions}


def _known(warehouse, filters: Filters, scope: Scope) -> dict[str, KnownValues] | None:
    """The values of the dimensions ``filters`` restrict (None: nothing to check, or no
    data version published yet: the query itself then says so)."""
    restricted = filters.restricted()
    if not restricted or warehouse.current_version() is None:
        return None
    return known_values(warehouse, scope, restricted)


def check(warehouse, filters: Filters,
          scope: Scope) -> tuple[Filters, tuple[UnknownValue, ...]]:
    """``review`` of ``filters`` against the values of the current data version under
    ``scope``: the dashboard's sidebar shows the unknown values with a note."""
    known = _known(warehouse, filters, scope)
    if known is None:
        return filters, ()
    return review(filters, known, scoped=not scope.is_all)


def resolve(warehouse, filters: Filters, scope: Scope) -> Filters:
    """``filters`` written as the data writes them (see the module docstring); raises
    ``UnknownFilterValues`` naming each value no line in ``scope`` has. The API and the
    dashboard's panels call this before every query."""
    known = _known(warehouse, filters, scope)
    if known is None:
        return filters
    return canonical(filters, known, scoped=not scope.is_all)
