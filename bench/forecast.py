"""Benchmark: the forecast leaderboard's rolling-origin WAPE per model, and the forecast
job's time, on the Online Retail file and on demo lines.

For each data set (published once into a temporary DuckDB warehouse, as ``bench.models``
does) the revenue forecast job (``run_model("forecast")``, all data, horizons 30 and 90
days) runs in a fresh spawned process with its libraries imported before the clock starts
(a worker has them loaded). One row per leaderboard entry: mean WAPE and MAPE over the 4
folds, the 80 % interval's coverage on the backtest, whether it was chosen; then one row
per job with its seconds against the 5 s target and the chosen model's WAPE next to
seasonal naive's; last, the demand forecast (units and revenue) of the product with the
most units among those with the history a forecast needs, and its time (two leaderboards).

Environment: ``BENCH_FORECAST_DEMO_LINES`` (default 1000000; 0 skips the demo data set).
"""
from __future__ import annotations

import importlib
import logging
import multiprocessing
import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

log = logging.getLogger(__name__)

TARGET_SECONDS = 5.0
HORIZONS = (30, 90)
PRELOADED = ("analytics.models.runner", "analytics.models.forecast",
             "analytics.models.forecast_models", "prophet", "xgboost",
             "statsmodels.tsa.holtwinters", "statsmodels.tsa.forecasting.theta")


def run() -> list[dict]:
    from bench.models import _publish

    rows = []
    demo_lines = int(os.environ.get("BENCH_FORECAST_DEMO_LINES", "1000000"))
    datasets = [("online-retail", None)] + ([("demo", demo_lines)] if demo_lines else [])
    with tempfile.TemporaryDirectory(prefix="bench-forecast-") as folder:
        for name, lines in datasets:
            url = f"duckdb:///{Path(folder) / name}"
            label = name + (f" ({lines:,} lines)" if lines else "")
            try:
                _publish(url, name, lines)
            except Exception as error:
                log.exception("publishing %s failed", name)
                rows.append({"data": label, "error": f"{type(error).__name__}: {error}"})
                continue
            with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context(
                    "spawn")) as pool:
                try:
                    rows.extend({"data": label, **row}
                                for row in pool.submit(_measure, url).result())
                except Exception as error:
                    log.exception("forecast benchmark on %s failed", name)
                    rows.append({"data": label, "error": f"{type(error).__name__}: {error}"})
    return rows


def _measure(url: str) -> list[dict]:
    """In a fresh process: the forecast job at each horizon, timed; its leaderboard."""
    from analytics.filters import ALL_DATA, Filters
    from analytics.models import run_model
    from analytics.warehouse import Warehouse

    for module in PRELOADED:
        importlib.import_module(module)
    warehouse = Warehouse(url)
    rows = []
    try:
        for horizon in HORIZONS:
            started = time.perf_counter()
            result = run_model("forecast", warehouse, Filters(), ALL_DATA,
                               {"metric": "revenue", "horizon": horizon}, lambda p, m: None)
            seconds = time.perf_counter() - started
            for entry in result["leaderboard"]:
                rows.append({"horizon": horizon, "model": entry["model"],
                             "wape": _round(entry["wape"]), "mape": _round(entry["mape"]),
                             "coverage_80": _round(entry.get("coverage")),
                             "fold_wapes": " ".join(f"{f['wape']:.3f}" for f in entry["folds"]
                                                    if f["wape"] is not None),
                             "chosen": entry["chosen"], "error": entry.get("error")})
            naive = result["baseline"]["accuracy"]["wape"]
            rows.append({"horizon": horizon, "model": "JOB " + result["chosen"],
                         "wape": _round(result["accuracy"]["wape"]),
                         "naive_wape": _round(naive),
                         "beats_naive": result["accuracy"]["wape"] < naive,
                         "coverage_80": _round(result["interval_coverage"]),
                         "fold_days": result["backtest"]["fold_days"],
                         "seconds": round(seconds, 2), "target_s": TARGET_SECONDS,
                         "meets_target": seconds < TARGET_SECONDS,
                         "sentence": result["sentence"]})
        from analytics.models import ModelError, inputs
        skipped = []
        for item in inputs.top_items(warehouse, Filters(), ALL_DATA, "product", 10)["item"]:
            started = time.perf_counter()
            try:  # the first of the top 10 by units with the history a forecast needs
                result = run_model("forecast", warehouse, Filters(), ALL_DATA,
                                   {"level": "product", "item": str(item), "horizon": 30},
                                   lambda p, m: None)
            except ModelError:
                skipped.append(str(item))
                continue
            seconds = time.perf_counter() - started
            units = result["units"]
            rows.append({"horizon": 30, "model": f"JOB product {item} (units + revenue) "
                                                 f"{units['chosen']}",
                         "wape": _round(units["accuracy"]["wape"]),
                         "naive_wape": _round(units["baseline"]["accuracy"]["wape"]),
                         "seconds": round(seconds, 2), "sentence": result["sentence"],
                         "error": f"skipped (too little history): {', '.join(skipped)}"
                         if skipped else None})
            break
    finally:
        warehouse.dispose()
    return rows


def _round(value):
    return None if value is None else round(value, 3)
