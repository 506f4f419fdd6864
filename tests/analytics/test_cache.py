"""The analytics cache: keys follow filters, scope and data version; failures never raise."""
from __future__ import annotations

import datetime as dt

import pytest
from cachelib import FileSystemCache, NullCache, SimpleCache

from analytics.cache import Cache, RedisBackend, cached, default_view_calls, warm_default_view
from analytics.filters import ALL_DATA, Filters, Scope
from analytics.kpis import kpi_summary
from core.analytics_cache import FileCache
from tests.analytics.conftest import publish_lines

LINES = [
    {"invoice_id": "1", "invoice_ts": "2011-01-10 10:00", "customer_id": "A",
     "quantity": 1, "unit_price": 10},
    {"invoice_id": "2", "invoice_ts": "2011-01-11 10:00", "customer_id": "B",
     "quantity": 1, "unit_price": 5, "country": "France", "country_code": "FR"},
]


class CountingCalls:
    """Wraps a real analytics function and counts how often it really runs."""

    def __init__(self, func):
        self.func = func
        self.calls = 0
        self.__module__ = func.__module__
        self.__qualname__ = func.__qualname__

    def __call__(self, *args, **kwargs):
        self.calls += 1
        return self.func(*args, **kwargs)


class BrokenBackend(NullCache):
    def get(self, key):
        raise ConnectionError("cache is down")

    def set(self, key, value, timeout=None):
        raise ConnectionError("cache is down")


@pytest.fixture
def store(duckdb_warehouse):
    publish_lines(duckdb_warehouse, LINES)
    return duckdb_warehouse


def test_keys_follow_scope_filters_and_version(store):
    cache = Cache(SimpleCache())
    counted = CountingCalls(kpi_summary)
    everything = cache.call(counted, store, Filters(), ALL_DATA)
    again = cache.call(counted, store, Filters(), ALL_DATA)
    assert counted.calls == 1 and again == everything
    assert again["revenue"].current == pytest.approx(15)
    # the explicit dates of the default view are the same view
    cache.call(counted, store, Filters(start=dt.date(2010, 12, 13), end=dt.date(2011, 1, 11)),
               ALL_DATA)
    assert counted.calls == 1

    french = cache.call(counted, store, Filters(), Scope.of(["FR"]))
    assert counted.calls == 2 and french["revenue"].current == pytest.approx(5)
    cache.call(counted, store, Filters(countries=("GB",)), ALL_DATA)
    assert counted.calls == 3

    publish_lines(store, LINES[:1])                  # a new data version
    fresh = cache.call(counted, store, Filters(), ALL_DATA)
    assert counted.calls == 4 and fresh["revenue"].current == pytest.approx(10)


def test_backend_failures_compute_instead(store):
    for backend in (BrokenBackend(), RedisBackend("redis://127.0.0.1:1/0", timeout=0.2)):
        result = Cache(backend).call(kpi_summary, store, Filters(), ALL_DATA)
        assert result["orders"].current == 2
    corrupt = Cache(SimpleCache())
    corrupt.call(kpi_summary, store, Filters(), ALL_DATA)
    for key in list(corrupt.backend._cache):
        corrupt.backend.set(key, b"not a pickle")
    counted = CountingCalls(kpi_summary)
    assert corrupt.call(counted, store, Filters(), ALL_DATA)["orders"].current == 2
    assert counted.calls == 1
    counted = CountingCalls(kpi_summary)
    null = Cache(NullCache())
    null.call(counted, store, Filters(), ALL_DATA)
    null.call(counted, store, Filters(), ALL_DATA)
    assert counted.calls == 2


def test_file_flask_caching_and_redis_backends(store, redis_url, tmp_path):
    from flask_caching.backends import SimpleCache as FlaskSimpleCache

    for backend in (FileSystemCache(str(tmp_path)), FlaskSimpleCache(),
                    RedisBackend(redis_url)):
        cache = Cache(backend)
        counted = CountingCalls(kpi_summary)
        first = cache.call(counted, store, Filters(), ALL_DATA)
        second = cache.call(counted, store, Filters(), ALL_DATA)
        assert counted.calls == 1
        assert second.to_dict() == first.to_dict()


def test_decorator_and_warming(store):
    cache = Cache(SimpleCache())
    assert warm_default_view(store, cache) == len(default_view_calls())
    assert len(cache.backend._cache) == len(default_view_calls())
    counted = CountingCalls(kpi_summary)
    summary = cached(counted, cache=cache)(store, Filters(), ALL_DATA)
    assert counted.calls == 0                       # warmed already
    assert summary["customers"].current == 2


def test_cached_frames_keep_their_date_columns(store):
    import pandas as pd

    from analytics.series import time_series
    cache = Cache(SimpleCache())
    options = {"grain": "day"}
    filters = Filters(start=dt.date(2011, 1, 9), end=dt.date(2011, 1, 12))
    computed = cache.call(time_series, store, filters, ALL_DATA, **options)
    again = cache.call(time_series, store, filters, ALL_DATA, **options)   # from the cache
    pd.testing.assert_frame_equal(again, computed)
    assert [type(day) for day in again["period_start"]] == [dt.date] * 4
    assert list(again["period_start"]) == [dt.date(2011, 1, d) for d in (9, 10, 11, 12)]
    assert list(again["revenue"]) == pytest.approx([0, 10, 5, 0])

    def mixed(warehouse, filters, scope):
        """Dates with a gap and date-times stay as they were."""
        return pd.DataFrame({"day": [dt.date(2011, 1, 9), None],
                             "at": [dt.datetime(2011, 1, 9, 8, 30), dt.datetime(2011, 1, 10)],
                             "first": [dt.date(1, 1, 1), dt.date(9999, 12, 31)]})
    stored = cache.call(mixed, store, Filters(), ALL_DATA)
    pd.testing.assert_frame_equal(cache.call(mixed, store, Filters(), ALL_DATA), stored)
    assert list(cache.call(mixed, store, Filters(), ALL_DATA)["first"]) == [
        dt.date(1, 1, 1), dt.date(9999, 12, 31)]


def test_a_value_read_back_is_kept_unpickled_and_each_caller_gets_a_copy(store):
    from analytics.series import time_series
    cache = Cache(SimpleCache())
    filters = Filters(start=dt.date(2011, 1, 9), end=dt.date(2011, 1, 12))
    cache.call(time_series, store, filters, ALL_DATA, grain="day")          # computed
    first = cache.call(time_series, store, filters, ALL_DATA, grain="day")  # read back
    for key in list(cache.backend._cache):
        cache.backend.set(key, b"not a pickle")   # the backend is not read again
    first["revenue"] = -1.0                       # a caller changing its frame
    counted = CountingCalls(time_series)
    again = cache.call(counted, store, filters, ALL_DATA, grain="day")
    assert counted.calls == 0
    assert list(again["revenue"]) == pytest.approx([0, 10, 5, 0])
    cache.forget_read()                           # then the backend again: corrupt, computed
    cache.call(counted, store, filters, ALL_DATA, grain="day")
    assert counted.calls == 1


def test_a_hit_shares_no_cell_with_the_kept_value(store):
    """A hit copies frames shallowly (copy-on-write): writing a cell, a column or the
    index of a caller's frame, inside a dataclass answer too, leaves the kept one as it
    was, and an array read from it cannot be written at all."""
    from analytics.customers import ltv_distribution
    from analytics.series import time_series
    cache = Cache(SimpleCache())
    filters = Filters(start=dt.date(2011, 1, 9), end=dt.date(2011, 1, 12))
    cache.call(time_series, store, filters, ALL_DATA, grain="day")
    frame = cache.call(time_series, store, filters, ALL_DATA, grain="day")
    frame.loc[frame.index[1], "revenue"] = 99.0        # in place, one cell
    frame.iloc[2, frame.columns.get_loc("revenue")] = 98.0
    frame.index = range(10, 10 + len(frame))
    with pytest.raises(ValueError):
        frame["orders"].to_numpy()[0] = 7
    again = cache.call(time_series, store, filters, ALL_DATA, grain="day")
    assert list(again["revenue"]) == pytest.approx([0, 10, 5, 0])
    assert list(again.index) == [0, 1, 2, 3] and again is not frame

    cache.call(ltv_distribution, store, filters, ALL_DATA)
    answer = cache.call(ltv_distribution, store, filters, ALL_DATA)
    answer.histogram.loc[answer.histogram.index[0], "customers"] = 1000
    answer.quantiles["ltv"] = -1.0
    kept = cache.call(ltv_distribution, store, filters, ALL_DATA)
    assert kept.histogram["customers"].sum() == 2 and (kept.quantiles["ltv"] >= 0).all()
    assert kept.histogram is not answer.histogram


class SlowCalls(CountingCalls):
    """A real analytics function that takes ``seconds`` longer, counting its runs."""

    def __init__(self, func, seconds: float = 0.4, fail: bool = False):
        super().__init__(func)
        self.seconds, self.fail = seconds, fail

    def __call__(self, *args, **kwargs):
        import time
        self.calls += 1
        time.sleep(self.seconds)
        if self.fail:
            raise RuntimeError("the statement failed")
        return self.func(*args, **kwargs)


def _at_once(caches, func, store, filters=None):
    """``func`` through each cache at the same moment, one thread each: the answers."""
    import concurrent.futures
    import threading
    gate = threading.Barrier(len(caches))

    def call(cache):
        gate.wait()
        try:
            return cache.call(func, store, filters or Filters(), ALL_DATA)
        except RuntimeError as error:
            return error

    with concurrent.futures.ThreadPoolExecutor(len(caches)) as pool:
        return list(pool.map(call, caches))


@pytest.mark.parametrize("backend", ["file", "redis"])
def test_callers_missing_the_same_key_together_compute_it_once(store, backend, tmp_path,
                                                               request):
    # one Cache per caller, as each web process has its own, over one shared backend
    def make():
        if backend == "file":
            return Cache(FileCache(str(tmp_path / "cache"), 100, 3600))
        return Cache(RedisBackend(request.getfixturevalue("redis_url"),
                                  prefix=f"shoplens:test:{tmp_path.name}:"))
    slow = SlowCalls(kpi_summary)
    answers = _at_once([make() for _ in range(4)], slow, store)
    assert slow.calls == 1
    assert [a["revenue"].current for a in answers] == [pytest.approx(15)] * 4
    # the claim is gone: a new filter is computed at once, by the first caller
    other = SlowCalls(kpi_summary, seconds=0)
    assert make().call(other, store, Filters(countries=("FR",)), ALL_DATA)[
        "revenue"].current == pytest.approx(5)
    assert other.calls == 1


def test_when_the_first_caller_fails_the_others_compute_for_themselves(store, tmp_path):
    caches = [Cache(FileCache(str(tmp_path), 100, 3600)) for _ in range(3)]
    failing = SlowCalls(kpi_summary, seconds=0.3, fail=True)
    answers = _at_once(caches, failing, store)
    # the first fails; the waiters find its claim released without a value and run it
    assert all(isinstance(a, RuntimeError) for a in answers)
    assert failing.calls == 3


def test_a_claim_left_by_a_dead_process_expires(store, tmp_path, monkeypatch):
    from analytics import cache as cache_module
    monkeypatch.setattr(cache_module, "CLAIM_SECONDS", 1)
    cache = Cache(FileCache(str(tmp_path), 100, 3600))
    key = cache.key(kpi_summary, store, Filters(start=dt.date(2010, 12, 13),
                                                end=dt.date(2011, 1, 11)),
                    ALL_DATA, store.require_version(), {})
    assert cache._claim(key)          # claimed, never released: the holder died
    counted = CountingCalls(kpi_summary)
    import time
    began = time.monotonic()
    assert cache.call(counted, store, Filters(), ALL_DATA)["orders"].current == 2
    # cachelib's expiry is a whole second: the claim ends 0–1 s later
    assert counted.calls == 1 and time.monotonic() - began < 5
    assert not cache.backend.has(key + cache_module.CLAIM_SUFFIX)
