"""Benchmark: each view of the Patterns page (``analytics.patterns``: seasonality, price
elasticity of the top 10 products, unusual orders) and of the Marketing page
(``analytics.marketing``: KPIs, channel table, funnel; ``analytics.promotions``;
``analytics.actions``) on the demo data with its sessions and ad spend, on DuckDB, over the
last 30 days (the default period) and over the whole history, uncached (``seconds``:
wall-clock of one call; the analytics cache would answer repeats at once).

Environment: ``BENCH_PATTERNS_DEMO_LINES`` (default 1000000).
"""
from __future__ import annotations

import logging
import os
import tempfile
import time
from pathlib import Path

log = logging.getLogger(__name__)


def run() -> list[dict]:
    from analytics import actions, marketing, patterns, period, promotions
    from analytics.filters import ALL_DATA, Filters
    from analytics.warehouse import Warehouse
    from data.demo import generate_demo

    lines = int(os.environ.get("BENCH_PATTERNS_DEMO_LINES", "1000000"))
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-patterns-") as folder:
        warehouse = Warehouse(f"duckdb:///{Path(folder) / 'demo'}", statement_timeout=None)
        started = time.perf_counter()
        demo = generate_demo(lines=lines, seed=42)
        warehouse.publish(demo.lines, demo.sessions, source="bench patterns")
        warehouse.publish_traffic(ad_spend=demo.ad_spend, source="bench patterns ads")
        del demo
        log.info("published %s demo lines in %.1f s", lines, time.perf_counter() - started)
        views = (("seasonality", patterns.seasonality, {}),
                 ("elasticity", patterns.price_elasticity, {"top": 10}),
                 ("unusual orders", patterns.unusual_orders, {"limit": 50}),
                 ("marketing KPIs", marketing.marketing_summary, {}),
                 ("channel table", marketing.channel_table, {}),
                 ("funnel", marketing.funnel, {}),
                 ("promotions", promotions.promotion_summary, {}),
                 ("actions", actions.action_table, {}))
        periods = (("last 30 days", period.resolve(warehouse, Filters())),
                   ("all history", period.history(warehouse, Filters())))
        try:
            for period_name, filters in periods:
                for name, function, options in views:
                    started = time.perf_counter()
                    try:
                        result = function(warehouse, filters, ALL_DATA, **options)
                    except Exception as error:  # one failing view must not hide the others
                        log.exception("patterns benchmark %s failed", name)
                        rows.append({"view": name, "period": period_name,
                                     "error": f"{type(error).__name__}: {error}"})
                        continue
                    rows.append({"data": f"demo ({lines:,} lines)", "view": name,
                                 "period": period_name,
                                 "seconds": round(time.perf_counter() - started, 3),
                                 "sentence": _sentence(result)[:120]})
        finally:
            warehouse.dispose()
    return rows


def _sentence(result) -> str:
    """What a view says first: its sentence (Patterns), else its size (Marketing)."""
    if hasattr(result, "sentence"):
        return result.sentence
    if hasattr(result, "kpis"):
        return f"{len(result.kpis)} numbers, {len(result.notes)} notes"
    frame = getattr(result, "frame", result)
    return f"{len(frame)} rows"


if __name__ == "__main__":
    from bench.__main__ import format_table
    print(format_table("patterns", run()))
