"""Memo layer for the analytics functions, shared by the web processes and the workers.

A cache key is a stable hash of: the function's module and qualname, the RESOLVED Filters
(so "the default view" is keyed by its actual dates), the Scope key, the warehouse URL and
its current data version, and the options. A new data version therefore makes every old
key unreachable (old entries expire by TTL or are pruned). Values are pickled DataFrames or
dataclasses. The cache never breaks a request: a backend that fails (Redis down, a corrupt
entry) is logged and the value is computed.

Backends are cachelib caches (anything with ``get(key)`` and ``set(key, value, timeout)``,
flask-caching's included): ``SimpleCache`` (in-process, thread-safe; the default),
``FileSystemCache`` (the embedded setup's files), ``NullCache`` (no caching) and
``RedisBackend`` (cachelib's ``RedisCache`` with short timeouts).
"""
from __future__ import annotations

import copy
import dataclasses
import functools
import hashlib
import logging
import pickle
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
from cachelib import BaseCache, RedisCache, SimpleCache

from analytics import period
from analytics.filters import ALL_DATA, Filters, Scope

log = logging.getLogger(__name__)

DEFAULT_TTL = 24 * 3600  # a data version never changes: the TTL only bounds storage
#: Values read back from the backend that a ``Cache`` keeps unpickled.
READ_ENTRIES = 128
_MISSING = object()
#: Entries the default in-process cache keeps before it prunes the oldest.
MEMORY_ENTRIES = 512
#: A key being computed is claimed under key + CLAIM_SUFFIX for at most CLAIM_SECONDS.
CLAIM_SUFFIX = ":computing"
CLAIM_SECONDS = 30


def copied(value):
    """A copy of a kept value that its caller may change without changing the kept one.

    pandas objects in it are copied shallowly: under copy-on-write (pandas 3) a change to
    either copy copies the data it changes first, so neither sees the other's, and an
    array read from one (``to_numpy``) is read-only. A deep copy copied every cell on
    every hit (the overview's seven answers, the RFM table of 48,000 customers among them:
    1.4–2.3 ms a hit at 1M lines, 0.9–1.2 ms with shallow frames); everything else
    (dataclasses, dicts, lists) is still copied deeply around them."""
    memo: dict[int, object] = {}
    _share_pandas(value, memo, depth=0)
    return copy.deepcopy(value, memo)


def _share_pandas(value, memo: dict[int, object], depth: int) -> None:
    """Put a shallow copy of each pandas object reachable from ``value`` (through
    dataclasses, dicts, lists and tuples) in ``memo``, where ``copy.deepcopy`` takes it."""
    if depth > 8 or id(value) in memo:
        return
    if isinstance(value, (pd.DataFrame, pd.Series, pd.Index)):
        memo[id(value)] = value.copy(deep=False)
    elif isinstance(value, dict):
        for item in value.values():
            _share_pandas(item, memo, depth + 1)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _share_pandas(item, memo, depth + 1)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for field in dataclasses.fields(value):
            _share_pandas(getattr(value, field.name, None), memo, depth + 1)


class RedisBackend(RedisCache):
    """cachelib's Redis cache from a URL, with short socket timeouts so a Redis outage
    costs milliseconds, not a hang."""

    def __init__(self, url: str, prefix: str = "shoplens:analytics:", timeout: float = 0.5):
        import redis
        super().__init__(redis.Redis.from_url(url, socket_timeout=timeout,
                                              socket_connect_timeout=timeout),
                         key_prefix=prefix, default_timeout=DEFAULT_TTL)


class Cache:
    """Computes ``func(warehouse, filters, scope, **options)`` once per key.

    The values this process has read back from the backend are also kept unpickled
    (the last ``READ_ENTRIES``): a hit on them costs a copy, not an unpickling of a
    few thousand rows (10–30 ms for the overview). A key names a data version, which
    never changes, so they cannot go stale."""

    def __init__(self, backend: BaseCache | None = None, ttl: int = DEFAULT_TTL):
        self.backend = backend if backend is not None else SimpleCache(MEMORY_ENTRIES)
        self.ttl = ttl
        self._read: OrderedDict[str, object] = OrderedDict()
        self._read_lock = threading.Lock()

    def forget_read(self) -> None:
        """Drop the values kept unpickled (the backend changed)."""
        with self._read_lock:
            self._read.clear()

    def _kept(self, key: str):
        with self._read_lock:
            value = self._read.get(key, _MISSING)
            if value is not _MISSING:
                self._read.move_to_end(key)
        return value if value is _MISSING else copied(value)

    def _keep(self, key: str, value) -> None:
        with self._read_lock:
            self._read[key] = value
            while len(self._read) > READ_ENTRIES:
                self._read.popitem(last=False)

    def key(self, func: Callable, warehouse, filters: Filters, scope: Scope,
            version: int, options: dict) -> str:
        """Stable key (same inputs → same key in every process)."""
        parts = [
            f"{func.__module__}.{func.__qualname__}",
            filters.to_query(),
            scope.key(),
            warehouse.url,
            str(version),
            repr(sorted(options.items())),
            _FORMAT,
        ]
        digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
        return f"{func.__qualname__}:{version}:{digest}"

    def call(self, func: Callable, warehouse, filters: Filters, scope: Scope, **options):
        version = warehouse.require_version()
        filters = period.resolve(warehouse, filters, version)
        key = self.key(func, warehouse, filters, scope, version, options)
        kept = self._kept(key)
        if kept is not _MISSING:
            return kept
        try:
            stored = self._read_back(key)
            if stored is not _MISSING:
                return stored
        except Exception:
            log.warning("analytics cache read failed for %s; computing", key, exc_info=True)
        leader = self._claim(key)
        if not leader:
            waited = self._wait_for(key)
            if waited is not _MISSING:
                return waited
        try:
            value = func(warehouse, filters, scope, **options)
            try:
                self.backend.set(key, _dumps(value), timeout=self.ttl)
            except Exception:
                log.warning("analytics cache write failed for %s", key, exc_info=True)
        finally:
            if leader:
                self._release(key)
        return value

    # ------------------------------------------------------------------ one at a time
    # A page's callbacks arrive together, in several processes, and some share what they
    # compute (the Marketing page's four answers all read the same marketing inputs). The
    # first process to miss a key claims it (``add``: set only when absent; atomic on
    # Redis and on ``core.analytics_cache.FileCache``; a backend where two callers can
    # both win, as cachelib's own file cache, only costs what it cost before: both
    # compute); the others wait for its value instead of computing it again.
    # A claim expires after ``CLAIM_SECONDS`` (a process that died holding it) and a waiter
    # gives up after as long, so waiting never costs more than computing.

    def _read_back(self, key: str):
        """The backend's value of ``key``, kept unpickled for this process, as a copy the
        caller may change; ``_MISSING`` when there is none."""
        stored = self.backend.get(key)
        if stored is None:
            return _MISSING
        value = _loads(stored)
        self._keep(key, value)
        return copied(value)

    def _claim(self, key: str) -> bool:
        try:
            return bool(self.backend.add(key + CLAIM_SUFFIX, b"1", timeout=CLAIM_SECONDS))
        except Exception:
            log.warning("analytics cache claim failed for %s", key, exc_info=True)
            return True

    def _release(self, key: str) -> None:
        try:
            self.backend.delete(key + CLAIM_SUFFIX)
        except Exception:
            log.warning("analytics cache release failed for %s", key, exc_info=True)

    def _wait_for(self, key: str):
        """The value another process is computing, once stored; ``_MISSING`` when its
        claim ended without one (it failed) or after ``CLAIM_SECONDS``."""
        deadline = time.monotonic() + CLAIM_SECONDS
        pause = 0.005
        while time.monotonic() < deadline:
            time.sleep(pause)
            pause = min(pause * 1.5, 0.05)
            try:
                value = self._read_back(key)
                if value is not _MISSING:
                    return value
                if not self.backend.has(key + CLAIM_SUFFIX):
                    return self._read_back(key)   # stored just before the release, or not
            except Exception:
                log.warning("analytics cache wait failed for %s", key, exc_info=True)
                return _MISSING
        return _MISSING


#: Part of every key: entries stored in another layout are never read back.
_FORMAT = "dates-as-datetime64"


@dataclass
class _PackedFrame:
    """A DataFrame whose ``date_columns`` of ``datetime.date`` objects are stored as
    datetime64[D] (pickling thousands of date objects one by one costs milliseconds)."""
    frame: pd.DataFrame
    date_columns: list[str]


def _dumps(value) -> bytes:
    if isinstance(value, pd.DataFrame):
        value = _pack(value)
    return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)


def _loads(stored: bytes):
    value = pickle.loads(stored)
    if isinstance(value, _PackedFrame):
        frame = value.frame
        for name in value.date_columns:
            days = frame[name].to_numpy().astype("datetime64[D]")  # pandas holds seconds
            frame[name] = pd.Series(days.astype(object), index=frame.index,
                                    dtype=object)
        return frame
    return value


def _pack(frame: pd.DataFrame) -> pd.DataFrame | _PackedFrame:
    """``frame`` with its columns of dates (only dates, no missing value) as datetime64[D];
    ``frame`` itself when it has none or a date is out of datetime64's range."""
    names = [name for name, column in frame.items() if column.dtype == object
             and len(column) and pd.api.types.infer_dtype(column, skipna=False) == "date"]
    if not names or not frame.columns.is_unique:
        return frame
    packed = frame.copy(deep=False)
    try:
        for name in names:
            packed[name] = pd.DatetimeIndex(frame[name].to_numpy()).to_numpy().astype(
                "datetime64[D]")
    except (OverflowError, ValueError, pd.errors.OutOfBoundsDatetime):
        return frame
    return _PackedFrame(packed, names)


_default = Cache()


def configure(backend, ttl: int = DEFAULT_TTL) -> Cache:
    """Replace the process-wide cache's backend (the app factory and workers call this)."""
    _default.backend = backend
    _default.ttl = ttl
    _default.forget_read()
    return _default


def default_cache() -> Cache:
    return _default


def cached(func: Callable | None = None, *, cache: Cache | None = None):
    """Decorator: ``cached(kpi_summary)(warehouse, filters, scope, **options)`` goes
    through ``cache`` (default: the process-wide cache, looked up at call time)."""
    def decorate(target: Callable) -> Callable:
        @functools.wraps(target)
        def wrapper(warehouse, filters: Filters, scope: Scope, **options):
            return (cache or _default).call(target, warehouse, filters, scope, **options)
        wrapper.uncached = target
        return wrapper
    return decorate(func) if func is not None else decorate


def default_view_calls() -> list[tuple[Callable, dict]]:
    """The analytics the overview page shows for the default view, with their options."""
    from analytics.breakdowns import breakdown
    from analytics.kpis import kpi_summary
    from analytics.products import category_performance, top_products
    from analytics.series import time_series
    return [
        (kpi_summary, {}),
        (time_series, {"grain": "month", "history": True}),
        (time_series, {"grain": "day", "history": True}),
        (breakdown, {"dimension": "country", "top": 10}),
        (category_performance, {}),
        (top_products, {"n": 20}),
    ]


def warm_default_view(warehouse, cache: Cache | None = None,
                      scope: Scope = ALL_DATA) -> int:
    """Compute the default overview into the cache (after each load); returns how many
    results were computed or found. A failing panel is logged and skipped."""
    return warm_view(warehouse, Filters(), cache, scope)


def warm_view(warehouse, filters: Filters, cache: Cache | None = None,
              scope: Scope = ALL_DATA) -> int:
    """Compute the overview's panels (``default_view_calls``) under ``filters`` and
    ``scope`` into the cache (the default view, a saved view, after each load); returns
    how many results were computed or found. A failing panel is logged and skipped."""
    cache = cache or _default
    done = 0
    for func, options in default_view_calls():
        try:
            cache.call(func, warehouse, filters, scope, **options)
            done += 1
        except Exception:
            log.exception("warming %s failed", func.__qualname__)
    return done
