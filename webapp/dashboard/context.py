"""What a callback needs to know about the request: the filters of the URL, the user's data
scope and role, the warehouse, and the one way to call an analytics function.

``query(fn, search, **options)`` is how every callback reaches the data: it parses the URL
query string into ``Filters``, resolves the period against the data, adds the signed-in
user's scope, and calls ``fn(warehouse, filters, scope, **options)``. Anything that means
"nothing to show" becomes ``Unavailable`` with a sentence for the empty state.
"""
from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlencode

import flask_login
import sqlalchemy as sa

from analytics import cache, period, schema
from analytics.breakdowns import DIMENSION_COLUMNS
from analytics.filters import DIMENSIONS, FilterError, Filters, Scope
from analytics.measures import NONE_LABEL
from analytics.warehouse import NoDataError, Warehouse, WarehouseError
from webapp import services

log = logging.getLogger(__name__)

NO_DATA = "No data loaded yet: an admin can load a file on the Data page."
NO_SALES = "No sales for these filters."
NO_ACCESS = "Your account cannot see any data yet: ask an admin for a data scope."
#: Query parameters that belong to Filters; pages keep their own (``grain``) beside them.
FILTER_PARAMS = frozenset({"start", "end", "min_price", "max_price", "segment", *DIMENSIONS})

Result = TypeVar("Result")


class Unavailable(Exception):
    """Nothing can be shown; the message says why, for the page's empty state."""


#: Breakdown dimensions a data file may leave out, → how a sentence names the column.
OPTIONAL_DIMENSIONS = {"city": "city", "category": "category", "channel": "channel",
                       "payment_method": "payment method", "device": "device",
                       "traffic_source": "traffic source"}


@dataclass(frozen=True)
class DataColumns:
    """Which optional columns the current data version fills: ``missing`` holds the
    breakdown dimensions (``OPTIONAL_DIMENSIONS``) without a single value."""
    missing: frozenset[str] = frozenset()
    has_cost: bool = True
    has_sessions: bool = True


_data_columns: dict[tuple[str, int], DataColumns] = {}
_data_columns_lock = threading.Lock()


def data_columns(store: Warehouse | None = None) -> DataColumns:
    """The optional columns of the current data version, worked out once per warehouse and
    version (a version never changes) with one query; nothing counts as missing while no
    data is loaded."""
    store = store or warehouse()
    try:
        version = store.current_version()
        if version is None:
            return DataColumns()
        key = (store.url, version)
        known = _data_columns.get(key)
        if known is not None:
            return known
        info = period.version_info(store, version)
        lines = schema.fact_lines
        counts = [sa.func.count(lines.c[DIMENSION_COLUMNS[dimension]]).label(dimension)
                  for dimension in OPTIONAL_DIMENSIONS]
        with store.connect(version) as conn:
            row = conn.execute(sa.select(*counts)).mappings().one()
    except WarehouseError as exc:
        log.warning("cannot tell which columns the data has: %s", exc)
        return DataColumns()
    found = DataColumns(missing=frozenset(name for name in OPTIONAL_DIMENSIONS if not row[name]),
                        has_cost=info.has_cost, has_sessions=info.has_sessions)
    with _data_columns_lock:
        _data_columns[key] = found
    return found


def missing_column_text(dimension: str) -> str:
    """"This data has no channel column." for a breakdown dimension."""
    return f"This data has no {OPTIONAL_DIMENSIONS.get(dimension, dimension)} column."


def breakdown_gap(frame, dimension: str, columns: DataColumns) -> str | None:
    """Why a breakdown of ``dimension`` (``analytics.breakdowns.breakdown``'s frame) has
    no bars worth drawing, for its empty state: the data has no such column, or none of
    the sales in view has a value (all under the missing key "(none)"); None when it has
    values to show."""
    if dimension in columns.missing:
        return missing_column_text(dimension)
    if len(frame) and set(frame["key"]) <= {NONE_LABEL}:
        noun = OPTIONAL_DIMENSIONS.get(dimension, dimension)
        return f"None of these sales has a {noun}."
    return None


@dataclass(frozen=True)
class View:
    """One request's view of the data: resolved filters (both dates set) and scope."""
    warehouse: Warehouse
    filters: Filters
    scope: Scope


def warehouse() -> Warehouse:
    return services.warehouse()


def currency() -> str:
    return services.settings().currency


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
    """The request's warehouse, resolved filters and scope."""
    filters = parse_filters(search)
    store = warehouse()
    user_scope = scope()
    if user_scope.countries is not None and not user_scope.countries:
        raise Unavailable(NO_ACCESS)
    try:
        if store.current_version() is None:
            raise Unavailable(NO_DATA)
        return View(store, period.resolve(store, filters), user_scope)
    except NoDataError:
        raise Unavailable(NO_DATA) from None


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
    except WarehouseError as exc:
        log.warning("warehouse error in %s: %s", getattr(function, "__name__", function), exc)
        raise Unavailable(str(exc)) from None


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


def quality_issues(report: dict) -> list[str]:
    """Sentences for the problems a load's data-quality report counted (``data.quality``
    keys); empty when there were none."""
    issues = []
    checks = (("lines_rejected", "lines rejected"),
              ("price_not_positive_lines", "lines with a price of 0 or less (left out of totals)"),
              ("missing_customer_lines", "lines without a customer id"))
    for key, text in checks:
        count = report.get(key) or 0
        if count:
            issues.append(f"{count:,} {text}")
    unknown = report.get("unknown_countries") or {}
    if unknown:
        issues.append(f"{len(unknown)} unrecognised countr{'y' if len(unknown) == 1 else 'ies'}")
    return issues


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
