"""Many dashboard callbacks at once on a fresh warehouse (gunicorn runs threads): the
per-version memos (``planner.rollup_meta``, ``period.version_info``) and the cache must
give every thread the same answers as one thread, with no error."""
from __future__ import annotations

import threading

import pandas as pd

from analytics.breakdowns import breakdown
from analytics.cache import Cache
from analytics.customers import rfm_table
from analytics.filters import ALL_DATA, Filters
from analytics.kpis import kpi_summary
from analytics.products import category_performance, top_products
from analytics.series import time_series
from tests.analytics.conftest import publish_lines
from tests.analytics.test_planner import LINES

THREADS = 8
PANELS = [
    (kpi_summary, {}),
    (time_series, {"grain": "day", "history": True}),
    (time_series, {"grain": "month", "history": True}),
    (breakdown, {"dimension": "country", "top": 1}),
    (category_performance, {}),
    (top_products, {"n": 2}),
    (rfm_table, {}),
]
FILTERS = [Filters(), Filters(countries=("FR",)), Filters(countries=("GB",)),
           Filters(categories=("Toys",))]


def _run_all(warehouse, cache: Cache | None) -> list:
    out = []
    for filters in FILTERS:
        for func, options in PANELS:
            if cache is None:
                out.append(func(warehouse, filters, ALL_DATA, **options))
            else:
                out.append(cache.call(func, warehouse, filters, ALL_DATA, **options))
    return out


def _same(left, right) -> bool:
    if isinstance(left, pd.DataFrame):
        pd.testing.assert_frame_equal(left, right)
        return True
    return left == right


def test_eight_threads_on_a_fresh_warehouse_agree_with_one_thread(warehouse):
    publish_lines(warehouse, LINES)
    shared_cache = Cache()  # in-process, shared by the threads
    start = threading.Barrier(THREADS)
    results: dict[int, list] = {}
    errors: list[BaseException] = []

    def worker(number: int) -> None:
        try:
            start.wait()
            # half the threads go through one shared cache, half compute directly
            results[number] = _run_all(warehouse, shared_cache if number % 2 else None)
        except BaseException as error:  # reported below with its traceback
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    if errors:
        raise errors[0]
    assert sorted(results) == list(range(THREADS))
    expected = _run_all(warehouse, None)
    for number, answers in results.items():
        assert len(answers) == len(expected)
        for answer, wanted in zip(answers, expected):
            assert _same(answer, wanted), f"thread {number} differs"
