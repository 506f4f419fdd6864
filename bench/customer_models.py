"""Benchmark: churn (customers still there, derived window) and customer value (BG/NBD +
Gamma-Gamma) on the Online Retail file and on demo lines: time of each step and accuracy
next to the baselines.

One row per data set, measured in a fresh spawned process on a DuckDB warehouse published
once: ``read_s`` (the invoices from the warehouse), ``churn_fit_s`` (fit with forward
validation), ``score_s`` (scoring the active customers with reasons), ``clv_s`` (BG/NBD +
Gamma-Gamma fit and prediction), ``backtest_s`` (BG/NBD and "next period repeats the
last" on a time split, as the job runs it), ``total_s`` (their sum, what the churn job
spends) against the 20 s target; ``backtest_with_heuristic_s`` (the backtest with the old
heuristic too, whose churn model is most of it: measured for the report, not in the job).
Accuracy: the churn model's catch rate and ROC AUC against "longest since last order";
the value backtest's MAE per customer and total error for BG/NBD + Gamma-Gamma, the old
heuristic and "next period repeats the last".

Environment: ``BENCH_CUSTOMER_DEMO_LINES`` (default 1000000; 0 skips the demo data set).
"""
from __future__ import annotations

import importlib.util
import logging
import multiprocessing
import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

log = logging.getLogger(__name__)

TARGET_SECONDS = 20.0


def run() -> list[dict]:
    from bench.models import _publish

    rows = []
    demo_lines = int(os.environ.get("BENCH_CUSTOMER_DEMO_LINES", "1000000"))
    datasets = [("online-retail", None)]
    if demo_lines and importlib.util.find_spec("data.demo") is not None:
        datasets.append(("demo", demo_lines))
    with tempfile.TemporaryDirectory(prefix="bench-customers-") as folder:
        for name, lines in datasets:
            url = f"duckdb:///{Path(folder) / name}"
            label = name + (f" ({lines:,} lines)" if lines else "")
            try:
                _publish(url, name, lines)
                with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context(
                        "spawn")) as pool:
                    row = pool.submit(_measure, url).result()
            except Exception as error:  # one failing data set must not hide the other
                log.exception("customer-model benchmark on %s failed", name)
                row = {"error": f"{type(error).__name__}: {error}"}
            rows.append({"data": label, **row})
    return rows


def _measure(url: str) -> dict:
    import pandas as pd

    from analytics.filters import ALL_DATA, Filters
    from analytics.models import inputs
    from analytics.models.churn import ChurnModel
    from analytics.models.clv import BTYD_METHOD, backtest, clv
    from analytics.warehouse import Warehouse

    warehouse = Warehouse(url)
    times = {}
    started = time.perf_counter()
    invoices = inputs.customer_invoices(warehouse, Filters(), ALL_DATA)
    first_purchases = inputs.customer_first_purchases(warehouse, Filters(), ALL_DATA)
    warehouse.dispose()
    times["read_s"] = time.perf_counter() - started

    mark = time.perf_counter()
    model = ChurnModel().fit(invoices, first_purchases)
    times["churn_fit_s"] = time.perf_counter() - mark
    mark = time.perf_counter()
    scores = model.score(invoices, first_purchases=first_purchases)
    times["score_s"] = time.perf_counter() - mark
    mark = time.perf_counter()
    end = model.as_of_ - pd.Timedelta(days=1)
    value = clv(invoices, first_purchases, model, scores=scores, with_backtest=False, end=end)
    times["clv_s"] = time.perf_counter() - mark
    mark = time.perf_counter()
    backtest(invoices, first_purchases, end=end, with_heuristic=False)   # as the job does
    times["backtest_s"] = time.perf_counter() - mark
    total = sum(times.values())
    mark = time.perf_counter()
    check = backtest(invoices, first_purchases, end=end)   # with the heuristic: for the report
    heuristic_seconds = time.perf_counter() - mark

    def rounded(number, digits=3):
        return None if number is None else round(float(number), digits)

    methods = check["methods"]
    fitted = value["params"] or {}
    return {
        **{key: round(seconds, 2) for key, seconds in times.items()},
        "total_s": round(total, 2), "target_s": TARGET_SECONDS,
        "meets_target": total < TARGET_SECONDS,
        "backtest_with_heuristic_s": round(heuristic_seconds, 2),
        "invoices": len(invoices), "customers": int(invoices["customer_id"].nunique()),
        "active_customers": len(scores), "churn_window_days": model.horizon_days_,
        "catch_rate": rounded(model.catch_["model"]),
        "catch_rate_longest_since_last_order": rounded(model.catch_["baseline"]),
        "roc_auc": rounded(model.accuracy_["roc_auc"]),
        "roc_auc_recency": rounded(model.baseline_accuracy_["roc_auc"]),
        "catch_sentence": model.catch_sentence_,
        "clv_method": value["method"], "clv_fallback": value["fallback"],
        "bgnbd": {k: rounded(v) for k, v in (fitted.get("bgnbd") or {}).items()},
        "gamma_gamma": {k: rounded(v) for k, v in (fitted.get("gamma_gamma") or {}).items()},
        "backtest_days": check["days"], "backtest_cutoff": check["cutoff"],
        "backtest": {name: {k: rounded(v, 3) for k, v in m.items()} if "mae" in m else m
                     for name, m in methods.items()},
        "backtest_best": check["best"],
        "btyd_beats_heuristic": (methods[BTYD_METHOD].get("mae", float("inf"))
                                 < methods["heuristic"]["mae"]),
        "backtest_sentence": check["sentence"],
    }


if __name__ == "__main__":
    import json

    logging.basicConfig(level=logging.INFO)
    print(json.dumps(run(), indent=1, ensure_ascii=False))
