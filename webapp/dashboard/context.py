"""What a callback needs to know about the request: the filters of the URL, the user's data
scope and role, the warehouse, and the one way to call an analytics function.

``query(fn, search, **options)`` is how every callback reaches the data: it parses the URL
query string into ``Filters``, resolves the period against the data, adds the signed-in
user's scope, and calls ``fn(warehouse, filters, scope, **options)``. Anything that means
"nothing to show" becomes ``Unavailable`` with a sentence for the empty state.
"""
from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlencode

import flask_login

from analytics import cache, errors, filter_values, period, quality
from analytics.filters import DIMENSIONS, FilterError, Filters, Scope
from analytics.measures import NONE_LABEL  # noqa: F401  (the pages read it here)
from analytics.quality import DataColumns
from analytics.warehouse import NoDataError, Warehouse, WarehouseError
from core.panels import (NO_ACCESS, NO_DATA, NO_SALES,  # noqa: F401  (the pages' words)
                         breakdown_gap, missing_column_text)
from core.formatting import Locale
from webapp import services

log = logging.getLogger(__name__)

#: Query parameters that belong to Filters; pages keep their own (``grain``) beside them.
FILTER_PARAMS = frozenset({"start", "end", "min_price", "max_price", "segment", *DIMENSIONS})

Result = TypeVar("Result")


class Unavailable(errors.Unavailable):
    """Nothing can be shown; the message says why, for the page's empty state."""


def data_columns(store: Warehouse | None = None) -> DataColumns:
    """The optional columns of the current data version (``analytics.quality.data_columns``)
    of ``store``, by default the app's warehouse."""
    return quality.data_columns(store or warehouse())


@dataclass(frozen=True)
class View:
    """One request's view of the data: resolved filters (both dates set) and scope."""
    warehouse: Warehouse
    filters: Filters
    scope: Scope


def warehouse() -> Warehouse:
    return services.warehouse()


def currency() -> Locale:
    """The installation's locale: what money, numbers and dates are written with."""
    return services.locale()


def scope() -> Scope:
    """The signed-in user's data scope (the auth layer's ``current_scope``)."""
    from webapp import security  # imported late: security imports the app factory's pieces
    return security.current_scope()


def role() -> str | None:
    """The signed-in user's role, or None when nobody is signed in."""
    user = flask_login.current_user
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return user.role


def has_role(needed: str) -> bool:
    user = flask_login.current_user
    return bool(user is not None and getattr(user, "is_authenticated", False)
                and user.has_role(needed))


def parse_filters(search: str | None) -> Filters:
    """Filters of a URL query string; a malformed value becomes ``Unavailable``."""
    try:
        return Filters.from_query(search or "")
    except FilterError as exc:
        raise Unavailable(f"Check the filters: {exc}") from None


def view(search: str | None) -> View:
    """The request's warehouse, resolved filters and scope. Each filter value is written
    as the data writes it (``country=france`` is "France"); a value no line in the user's
    scope has makes every panel say so, naming the closest values
    (``analytics.filter_values``), instead of showing "no sales"; a country the scope
    leaves out is said to be outside it ("GB is outside your data scope (FR).")."""
    filters = parse_filters(search)
    store = warehouse()
    user_scope = scope()
    if user_scope.countries is not None and not user_scope.countries:
        raise Unavailable(NO_ACCESS)
    try:
        if store.current_version() is None:
            raise Unavailable(NO_DATA)
        filters = _as_in_the_data(store, filters, user_scope)
        return View(store, period.resolve(store, filters), user_scope)
    except NoDataError:
        raise Unavailable(NO_DATA) from None


def checked_filters(search: str | None) -> Filters:
    """The URL's filters with each value as the data writes it, the period left as the URL
    gives it (a job or a report resolves it when it runs); a value no line in the user's
    scope has raises ``Unavailable`` naming it and the closest values."""
    try:
        return _as_in_the_data(warehouse(), parse_filters(search), scope())
    except NoDataError:
        raise Unavailable(NO_DATA) from None


def _as_in_the_data(store: Warehouse, filters: Filters, user_scope: Scope) -> Filters:
    try:
        return filter_values.resolve(store, filters, user_scope)
    except filter_values.UnknownFilterValues as exc:
        raise Unavailable(filter_values.describe_for_scope(exc.unknown, user_scope)) from None


def reviewed_filters(filters: Filters) -> tuple[Filters, dict[str, str]]:
    """For the sidebar: ``filters`` with each value written as the data writes it (an
    unknown value kept as given, so that it shows and can be cleared), and dimension name
    → a note naming its unknown values and the closest values in the user's scope. No
    notes when there is no data, or no scope, to check against."""
    store = warehouse()
    user_scope = scope()
    if user_scope.countries is not None and not user_scope.countries:
        return filters, {}
    try:
        resolved, unknown = filter_values.check(store, filters, user_scope)
    except errors.ShoplensError as exc:  # no data, a time-out: the panels say it
        log.info("filter values not checked: %s", exc.message)
        return filters, {}
    notes: dict[str, list[filter_values.UnknownValue]] = {}
    for item in unknown:
        notes.setdefault(item.dimension, []).append(item)
    return resolved, {name: filter_values.describe_for_scope(items, user_scope)
                      for name, items in notes.items()}


def dimension_values(dimension: str) -> filter_values.KnownValues:
    """The values of a filterable dimension in the data the user may see, largest first
    (the sidebar's options; the same values the filters are checked against)."""
    current = view("")
    try:
        return filter_values.dimension_values(current.warehouse, current.scope, dimension)
    except NoDataError:
        raise Unavailable(NO_DATA) from None
    except errors.ShoplensError as exc:
        raise Unavailable(exc.message) from None


def query(function: Callable[..., Result], search: str | None, /, *,
          all_time: bool = False, **options: Any) -> Result:
    """``function(warehouse, filters, scope, **options)`` for the URL's filters, through
    the process-wide analytics cache (keyed by resolved filters, scope and data version).

    ``all_time`` replaces the period by the whole data range (filter options, the
    overview's history). Domain errors become ``Unavailable`` with their message.
    """
    current = view(search)
    filters = period.history(current.warehouse, current.filters) if all_time else current.filters
    try:
        return cache.default_cache().call(function, current.warehouse, filters, current.scope,
                                          **options)
    except NoDataError:
        raise Unavailable(NO_DATA) from None
    except FilterError as exc:
        raise Unavailable(f"Check the filters: {exc}") from None
    except errors.ShoplensError as exc:  # any other error meant for the user: the panel says it
        log.warning("%s in %s: %s", type(exc).__name__, getattr(function, "__name__", function),
                    exc)
        raise Unavailable(exc.message) from None


def prefetch(search: str | None, calls: list[tuple[Callable, dict[str, Any]]]) -> None:
    """Compute each ``(function, options)`` of ``calls`` at once, into the analytics
    cache, so that the ``query`` calls that follow find them there: for a callback that
    shows several answers (the engine works outside the GIL; one after the other left a
    core idle while the page waited). An error is left to the ``query`` that follows,
    which meets it again and says it."""
    if len(calls) < 2:
        return
    try:
        current = view(search)
    except Unavailable:
        return
    if not current.warehouse.reads_in_threads:   # one after the other gains nothing
        return

    def compute(function: Callable, options: dict[str, Any]) -> None:
        try:
            cache.default_cache().call(function, current.warehouse, current.filters,
                                       current.scope, **options)
        except Exception as exc:  # noqa: BLE001 - query() reports it
            log.debug("prefetch of %s %s: %s", getattr(function, "__name__", function),
                      options, exc)

    current.warehouse.at_once([functools.partial(compute, function, options)
                               for function, options in calls])


def page_param(search: str | None, name: str, default: str, allowed: tuple[str, ...]) -> str:
    """A page's own query parameter (``grain=week``), ``default`` when absent or unknown."""
    values = parse_qs((search or "").lstrip("?")).get(name)
    value = values[-1] if values else default
    return value if value in allowed else default


def with_params(query: str | None, /, **changes: str | list[str] | None) -> str:
    """The query string ``query`` with some parameters replaced (None removes one), as
    ``?query``."""
    params = parse_qs((query or "").lstrip("?"))
    for name, value in changes.items():
        if value is None or value == [] or value == "":
            params.pop(name, None)
        else:
            params[name] = value if isinstance(value, list) else [value]
    text = urlencode([(name, item) for name, items in params.items() for item in items])
    return f"?{text}" if text else ""


def replace_filters(search: str | None, filters: Filters) -> str:
    """``search`` with its filter parameters replaced by ``filters`` (page parameters kept),
    as ``?query``."""
    params = [(name, item) for name, items in parse_qs((search or "").lstrip("?")).items()
              if name not in FILTER_PARAMS for item in items]
    text = urlencode(filters.to_params() + params)
    return f"?{text}" if text else ""


#: Errors that mean "the warehouse has nothing to show" (no version published yet).
DATA_ERRORS = (WarehouseError,)


def narrow(search: str | None, name: str, value: str | None) -> str:
    """``search`` narrowed by a drill-down: ``value`` added to the multi-valued filter
    ``name`` (country, category, …) or set for ``segment``; as ``?query``. Clicking a value
    already chosen leaves the URL as it is."""
    filters = parse_filters(search)
    if not value:
        return search or ""
    if name == "segment":
        return replace_filters(search, replace(filters, segment=value))
    field = DIMENSIONS[name][0]
    chosen = getattr(filters, field)
    if value in chosen:
        return search or ""
    return replace_filters(search, replace(filters, **{field: (*chosen, value)}))


def clicked(click_data: dict | None, key: str = "customdata") -> str | None:
    """The value a click on a chart carries (the figure builders put keys in customdata;
    treemap ids are paths, so their first part)."""
    if not click_data or not click_data.get("points"):
        return None
    point = click_data["points"][0]
    value = point.get(key)
    if isinstance(value, list):
        value = value[0] if value else None
    if value is None and key == "id":
        return None
    return None if value is None else str(value)
