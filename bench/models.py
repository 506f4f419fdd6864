"""Benchmark: each model's ``run_model`` (read inputs + fit + predict + backtest) with peak
memory, on the Online Retail file and on demo lines, against the targets.

Targets (seconds, 2 cores): forecast < 5, clustering < 5, churn training < 20, basket
rules < 30. Each data set is published once into a temporary DuckDB warehouse; each model
then runs in a fresh spawned process so ``peak_rss_mb`` is that run's own peak resident
memory (imports included). The model's modules are imported before the clock starts
(``import_s``; a worker has them loaded). ``seconds`` is wall-clock time of ``run_model``
(on a shared machine it includes waiting for a core), ``cpu_s`` its CPU time; churn's
target applies to ``training_s`` (fit and forward validation; scoring every customer
and the CLV backtest come on top). ``accuracy`` / ``baseline`` state
each model's headline measure next to its baseline.

Environment: ``BENCH_MODELS_DEMO_LINES`` (default 1000000; 0 skips the demo data set).
"""
from __future__ import annotations

import importlib.util
import logging
import multiprocessing
import os
import resource
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
ONLINE_RETAIL = ROOT / "data" / "samples" / "online_retail.csv.gz"
TARGET_SECONDS = {"forecast": 5.0, "clustering": 5.0, "churn": 20.0, "basket": 30.0}
#: imported before the clock starts: a worker process has them loaded already
HEAVY_MODULES = {"forecast": ("analytics.models.forecast", "prophet"),
                 "clustering": ("analytics.models.clustering", "sklearn.metrics"),
                 "churn": ("analytics.models.churn", "analytics.models.clv"),
                 "basket": ("analytics.models.basket",),
                 "anomalies": ("analytics.models.anomalies", "analytics.models.explain")}
CASES = (("forecast", {"metric": "revenue", "horizon": 90}), ("clustering", {}),
         ("churn", {}), ("basket", {}), ("anomalies", {}))


def run() -> list[dict]:
    rows = []
    demo_lines = int(os.environ.get("BENCH_MODELS_DEMO_LINES", "1000000"))
    datasets = [("online-retail", None)]
    if demo_lines and importlib.util.find_spec("data.demo") is not None:
        datasets.append(("demo", demo_lines))
    elif demo_lines:
        rows.append({"data": "demo", "note": "skipped: data.demo is not installed"})
    with tempfile.TemporaryDirectory(prefix="bench-models-") as folder:
        for name, lines in datasets:
            url = f"duckdb:///{Path(folder) / name}"
            started = time.perf_counter()
            try:
                _publish(url, name, lines)
            except Exception as error:
                log.exception("publishing %s failed", name)
                rows.append({"data": name, "error": f"{type(error).__name__}: {error}"})
                continue
            log.info("published %s in %.1f s", name, time.perf_counter() - started)
            for kind, params in CASES:
                with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context(
                        "spawn")) as pool:
                    try:
                        row = pool.submit(_measure, url, kind, params).result()
                    except Exception as error:  # one failing case must not hide the others
                        log.exception("model benchmark %s on %s failed", kind, name)
                        row = {"model": kind, "error": f"{type(error).__name__}: {error}"}
                rows.append({"data": name + (f" ({lines:,} lines)" if lines else ""), **row})
    return rows


def _publish(url: str, name: str, lines: int | None) -> None:
    from analytics.warehouse import Warehouse

    warehouse = Warehouse(url)
    try:
        if name == "online-retail":
            from data.loader import load_file
            load_file(warehouse, ONLINE_RETAIL, rejects_dir=tempfile.gettempdir())
        else:
            from data.demo import generate_demo
            demo = generate_demo(lines, 42)
            warehouse.publish(demo.lines, demo.sessions, source="demo")
    finally:
        warehouse.dispose()


def _measure(url: str, kind: str, params: dict) -> dict:
    """In a fresh process: one ``run_model`` call, timed, with its peak memory."""
    from analytics.filters import ALL_DATA, Filters
    from analytics.models import ModelError, run_model
    from analytics.warehouse import Warehouse

    warehouse = Warehouse(url)
    import_started = time.perf_counter()
    for module in ("analytics.models.runner", *HEAVY_MODULES[kind]):
        importlib.import_module(module)
    import_seconds = time.perf_counter() - import_started
    marks = {}

    def progress(percent, message):
        marks.setdefault(percent, time.perf_counter())

    cpu_started = time.process_time()
    started = time.perf_counter()
    try:
        result = run_model(kind, warehouse, Filters(), ALL_DATA, params, progress)
        error = None
    except ModelError as exc:
        result, error = None, str(exc)
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    warehouse.dispose()
    target = TARGET_SECONDS.get(kind)
    # churn's target is its training (fit with forward validation), not scoring and CLV
    timed = marks[60] - marks[25] if kind == "churn" and {25, 60} <= set(marks) else seconds
    row = {"model": kind, "seconds": round(seconds, 2), "cpu_s": round(cpu, 2),
           "import_s": round(import_seconds, 2),
           **({"training_s": round(timed, 2)} if kind == "churn" else {}),
           "peak_rss_mb": _peak_rss_mb(),
           "target_s": target, "meets_target": None if target is None else timed < target}
    if error:
        return {**row, "error": error}
    return {**row, **_summary(kind, result)}


def _peak_rss_mb() -> int:
    """This process's peak resident memory. ``VmHWM`` rather than ``ru_maxrss``: a spawned
    child keeps the parent's ``ru_maxrss`` across exec, but its address space (and its
    high-water mark) is new."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def _summary(kind: str, result: dict) -> dict:
    """The headline accuracy next to the baseline, as short text."""
    def number(value, digits=3):
        return "n/a" if value is None else f"{value:.{digits}f}"

    if kind == "forecast":
        model, baseline = result["accuracy"], result["baseline"]["accuracy"]
        return {"accuracy": f"MAPE {number(model['mape'])} sMAPE {number(model['smape'])} "
                            f"RMSE {number(model['rmse'], 0)} R² {number(model['r2'])}",
                "baseline": f"MAPE {number(baseline['mape'])} sMAPE "
                            f"{number(baseline['smape'])} RMSE {number(baseline['rmse'], 0)} "
                            f"R² {number(baseline['r2'])} (seasonal naive)"}
    if kind == "clustering":
        return {"accuracy": f"k={result['k']} silhouette "
                            f"{number(result['accuracy']['silhouette'])}",
                "baseline": f"silhouette {number(result['baseline']['silhouette'])} "
                            "(value tiers)"}
    if kind == "churn":
        model, baseline = result["accuracy"], result["baseline"]["accuracy"]
        from analytics.models.clv import BTYD_METHOD

        methods = result["clv"].get("backtest", {}).get("methods", {})
        value = methods.get(BTYD_METHOD, {})
        naive = next((m for name, m in methods.items() if name.startswith("naive")), {})
        return {"accuracy": f"ROC-AUC {number(model['roc_auc'])} PR-AUC "
                            f"{number(model['pr_auc'])} Brier {number(model['brier'])}; CLV "
                            f"MAE {number(value.get('mae'), 0)} (BG/NBD + Gamma-Gamma)",
                "baseline": f"ROC-AUC {number(baseline['roc_auc'])} PR-AUC "
                            f"{number(baseline['pr_auc'])} Brier {number(baseline['brier'])} "
                            f"(recency); CLV MAE {number(naive.get('mae'), 0)} "
                            "(last period repeats)"}
    if kind == "basket":
        check = result["accuracy"]
        return {"accuracy": f"min support {number(result['params']['min_support'], 4)} "
                            f"({result['min_support_baskets']:.0f} baskets); "
                            f"{result['rule_count']} rules; hold-out confidence "
                            f"{number(check['confidence'])}; {result['items_capped']} items "
                            f"capped ({result['frequent_items_capped']} frequent)",
                "baseline": f"hold-out confidence {number(check['baseline_confidence'])} "
                            "(most popular products)"}
    accuracy = result["accuracy"]
    return {"accuracy": f"{accuracy['flagged_days']} unusual days of {accuracy['days']}; "
                        f"{result['slice_anomaly_count']} slice anomalies",
            "baseline": f"{result['baseline']['flagged_days']} days with robust |z| ≥ 3.5 "
                        f"(agreement {number(result['baseline']['agreement'], 2)})"}
