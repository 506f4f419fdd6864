"""Benchmark: the analytics a filter change on the overview triggers, miss and hit.

Workload (one "overview"): kpi_summary (with its previous period), monthly and daily
series over the whole history, top 10 countries, category performance, top 20 products,
and RFM (``analytics.customers.rfm_table``) when present. Measured on the demo data
(``data.demo.generate_demo``) at each size, on DuckDB and on PostgreSQL (when reachable):

* ``miss_ms``: median over a few filter changes (a different country each) with an empty
  cache, so every function queries the warehouse;
* ``hit_ms``: the same workload again, all answers from the in-process cache;
* ``peak_mb``: the process's peak resident memory above its level before the workload.

Environment: ``BENCH_ANALYTICS_SIZES`` (default ``1000000,10000000``),
``BENCH_ANALYTICS_ENGINES`` (default ``duckdb,postgresql``), ``BENCH_POSTGRES_URL``
(default ``postgresql://postgres@127.0.0.1:5432/postgres``; a scratch database is created
and dropped).
"""
from __future__ import annotations

import gc
import logging
import os
import resource
import socket
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa

from analytics.cache import Cache
from analytics.filters import ALL_DATA, Filters
from analytics.warehouse import Warehouse

log = logging.getLogger(__name__)

TARGET_MISS_MS = {1_000_000: 50.0, 10_000_000: 150.0}   # DuckDB
TARGET_HIT_MS = 5.0
FILTER_CHANGES = (Filters(), Filters(countries=("FR",)), Filters(countries=("DE",)),
                  Filters(countries=("GB",)))


def workload() -> list[tuple[str, Callable, dict]]:
    from analytics.breakdowns import breakdown
    from analytics.kpis import kpi_summary
    from analytics.products import category_performance, top_products
    from analytics.series import time_series
    calls = [
        ("kpi_summary", kpi_summary, {}),
        ("series_month", time_series, {"grain": "month", "history": True}),
        ("series_day", time_series, {"grain": "day", "history": True}),
        ("top_countries", breakdown, {"dimension": "country", "top": 10}),
        ("categories", category_performance, {}),
        ("top_products", top_products, {"n": 20}),
    ]
    try:
        from analytics.customers import rfm_table
        calls.append(("rfm", rfm_table, {}))
    except ImportError:
        log.info("analytics.customers.rfm_table is not there: RFM left out")
    return calls


def run() -> list[dict]:
    sizes = [int(s) for s in os.environ.get("BENCH_ANALYTICS_SIZES",
                                            "1000000,10000000").split(",") if s]
    engines = [e for e in os.environ.get("BENCH_ANALYTICS_ENGINES",
                                         "duckdb,postgresql").split(",") if e]
    rows: list[dict] = []
    for size in sizes:
        for engine in engines:
            rows.extend(_bench_one(size, engine))
    return rows


def _bench_one(size: int, engine: str) -> list[dict]:
    label = {"engine": engine, "lines": size}
    if engine == "postgresql" and not _reachable("127.0.0.1", 5432):
        return [{**label, "error": "PostgreSQL is not reachable on 127.0.0.1:5432"}]
    with tempfile.TemporaryDirectory(prefix="bench-analytics-") as folder, \
            _warehouse(engine, Path(folder)) as warehouse:
        started = time.perf_counter()
        _publish_demo(warehouse, size)
        load_seconds = time.perf_counter() - started
        calls = workload()
        _overview(warehouse, Cache(), calls, Filters())  # connections, plans
        per_call: dict[str, list[float]] = {name: [] for name, _f, _o in calls}
        misses, hits, peaks = [], [], []
        for filters in FILTER_CHANGES:
            cache = Cache()
            with _PeakMemory() as peak:
                misses.append(_overview(warehouse, cache, calls, filters, per_call))
            peaks.append(peak.megabytes)
            hits.append(statistics.median(
                _overview(warehouse, cache, calls, filters) for _ in range(5)))
        miss, hit = statistics.median(misses), statistics.median(hits)
        target = TARGET_MISS_MS.get(size) if engine == "duckdb" else None
        summary = {
            **label, "step": "overview", "load_s": round(load_seconds, 1),
            "miss_ms": round(miss, 1), "hit_ms": round(hit, 2),
            "miss_target_ms": target,
            "miss_vs_target": round(miss / target, 2) if target else None,
            "hit_vs_target": round(hit / TARGET_HIT_MS, 2),
            "peak_mb": round(max(peaks), 1),
        }
        details = [{**label, "step": name, "miss_ms": round(statistics.median(times), 1)}
                   for name, times in per_call.items()]
        return [summary, *details]


def _overview(warehouse, cache: Cache, calls, filters: Filters,
              per_call: dict[str, list[float]] | None = None) -> float:
    """Run the workload through ``cache``; milliseconds for all of it."""
    started = time.perf_counter()
    for name, func, options in calls:
        call_started = time.perf_counter()
        cache.call(func, warehouse, filters, ALL_DATA, **options)
        if per_call is not None:
            per_call[name].append((time.perf_counter() - call_started) * 1000)
    return (time.perf_counter() - started) * 1000


def _publish_demo(warehouse: Warehouse, size: int) -> None:
    try:
        from data.demo import generate_demo
    except ImportError:
        raise RuntimeError("data.demo.generate_demo is needed for the analytics benchmark")
    demo = generate_demo(lines=size, seed=42)
    warehouse.publish(demo.lines, demo.sessions, source=f"bench demo {size}")
    del demo
    gc.collect()


class _warehouse:
    """A scratch warehouse: a DuckDB folder, or a new PostgreSQL database dropped after."""

    def __init__(self, engine: str, folder: Path):
        self.engine, self.folder = engine, folder
        self.admin: sa.Engine | None = None
        self.database: str | None = None

    def __enter__(self) -> Warehouse:
        if self.engine == "duckdb":
            self.warehouse = Warehouse(f"duckdb:///{self.folder / 'warehouse'}")
            return self.warehouse
        url = os.environ.get("BENCH_POSTGRES_URL",
                             "postgresql://postgres@127.0.0.1:5432/postgres")
        self.database = f"shoplens_bench_{uuid.uuid4().hex[:8]}"
        self.admin = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"),
                                      isolation_level="AUTOCOMMIT")
        with self.admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{self.database}"'))
        self.warehouse = Warehouse(url.rsplit("/", 1)[0] + "/" + self.database)
        return self.warehouse

    def __exit__(self, *exc) -> None:
        self.warehouse.dispose()
        if self.admin is not None:
            with self.admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)'))
            self.admin.dispose()


class _PeakMemory:
    """Peak resident memory above the level at entry, sampled every 2 ms."""

    def __init__(self):
        self.megabytes = 0.0
        self._stop = threading.Event()

    def __enter__(self) -> "_PeakMemory":
        self._start = self._peak = _rss_bytes()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.002):
            self._peak = max(self._peak, _rss_bytes())

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._peak = max(self._peak, _rss_bytes())
        self.megabytes = (self._peak - self._start) / 2**20


def _rss_bytes() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * resource.getpagesize()


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False
