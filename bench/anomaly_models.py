"""Benchmark: unusual days and customer clusters on the dashboard's period (the data's last
365 days) against the whole history, as before periods, on the Online Retail file and on
demo lines.

Rows per data set:

* ``anomalies`` ``before``: ``AnomalyDetector(yearly=False)`` on the whole daily series (the
  last 3 years examined, every Black Friday and Christmas unusual); ``after``:
  ``run_model("anomalies")`` over the last 365 days, learnt from the 3 years before, with
  yearly seasonality and holidays (explanations and the slice monitor included in the time).
* ``clustering`` ``before``: every customer, recency from the data's last day; ``after``:
  ``run_model("clustering")`` on the customers who bought in the last 365 days.
* on the demo (planted anomalies, ``data.demo``), for revenue, orders and units: how many
  of the 4 planted anomalies the shop-wide detector of their own metric finds (recall;
  "+slices" also counts the slice monitor of the runner), and how many flagged days are not
  planted (precision = planted flagged days ÷ flagged days, over the three metrics); the
  slice monitor's findings and how many of them overlap no planted anomaly.

Environment: ``BENCH_ANOMALY_DEMO_LINES`` (default 1000000; 0 skips the demo).
"""
from __future__ import annotations

import datetime as dt
import os
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ONLINE_RETAIL = ROOT / "data" / "samples" / "online_retail.csv.gz"
METRICS = ("revenue", "orders", "units")


def run() -> list[dict]:
    rows = []
    lines = int(os.environ.get("BENCH_ANOMALY_DEMO_LINES", "1000000"))
    with tempfile.TemporaryDirectory(prefix="bench-anomaly-") as folder:
        for name in ("online-retail", "demo"):
            if name == "demo" and not lines:
                continue
            from analytics.warehouse import Warehouse

            warehouse = Warehouse(f"duckdb:///{Path(folder) / name}")
            try:
                planted = _publish(warehouse, name, lines)
                label = name + (f" ({lines:,} lines)" if name == "demo" else "")
                rows += [{"data": label, **row} for row in _measure(warehouse, planted)]
            finally:
                warehouse.dispose()
    return rows


def _publish(warehouse, name: str, lines: int) -> list[dict] | None:
    if name == "online-retail":
        from data.loader import load_file

        load_file(warehouse, ONLINE_RETAIL, rejects_dir=tempfile.gettempdir())
        return None
    from data.demo import generate_demo

    demo = generate_demo(lines, 42)
    warehouse.publish(demo.lines, demo.sessions, source="demo")
    return demo.anomalies


def _measure(warehouse, planted: list[dict] | None) -> list[dict]:
    import pandas as pd

    from analytics import period
    from analytics.filters import ALL_DATA, Filters
    from analytics.models import inputs, run_model
    from analytics.models.anomalies import AnomalyDetector
    from analytics.models.clustering import CustomerSegmenter
    from analytics.models.features import customer_features

    first, last = period.data_range(warehouse)
    start = max(first, last - dt.timedelta(days=364))
    chosen = Filters(start=start, end=last)
    rows = []

    # ---- anomalies: before (whole history, no yearly seasonality) vs after (the period)
    started = time.perf_counter()
    daily = inputs.daily_series(warehouse, Filters(), ALL_DATA)
    before = {metric: AnomalyDetector(metric, yearly=False).fit(daily) for metric in METRICS}
    before_s = time.perf_counter() - started
    flagged_before = {metric: set(d.anomalies_["date"]) for metric, d in before.items()}
    in_period = {metric: {day for day in days if day >= pd.Timestamp(start)}
                 for metric, days in flagged_before.items()}
    after, after_s = {}, 0.0
    for metric in METRICS:
        started = time.perf_counter()
        after[metric] = run_model("anomalies", warehouse, chosen, ALL_DATA, {"metric": metric})
        after_s += time.perf_counter() - started
    flagged_after = {metric: {pd.Timestamp(a["date"]) for a in result["anomalies"]}
                     for metric, result in after.items()}
    slices_before = _slices_before(warehouse, daily)
    rows.append({"model": "anomalies", "run": "before: whole history, 3 metrics",
                 "seconds": round(before_s, 2),
                 "flagged_days": len(set().union(*flagged_before.values())),
                 "flagged_in_last_365": len(set().union(*in_period.values())),
                 **_planted_scores(planted, flagged_before),
                 **_slice_scores(planted, slices_before.to_dict(orient="records"))})
    recent = slices_before[slices_before["end"] >= pd.Timestamp(start)]
    rows.append({"model": "anomalies", "run": "before, last 365 days only",
                 "flagged_days": len(set().union(*in_period.values())),
                 **_planted_scores(planted, in_period),
                 **_slice_scores(planted, recent.to_dict(orient="records"))})
    rows.append({"model": "anomalies", "run": f"after: {start} – {last}, 3 metrics",
                 "seconds": round(after_s, 2),
                 "flagged_days": len(set().union(*flagged_after.values())),
                 "holidays": after["revenue"]["holidays"]["note"],
                 **_planted_scores(planted, flagged_after, after["revenue"]),
                 **_slice_scores(planted, after["revenue"]["slice_anomalies"])})

    # ---- clustering: every customer (whole history) vs the period's customers
    started = time.perf_counter()
    invoices = inputs.customer_invoices(warehouse, Filters(), ALL_DATA)
    features = customer_features(invoices, pd.Timestamp(last) + pd.Timedelta(days=1),
                                 rfm_only=True)
    whole = CustomerSegmenter().fit(features)
    rows.append({"model": "clustering", "run": "before: every customer",
                 "seconds": round(time.perf_counter() - started, 2),
                 "customers": len(features), "clusters": _clusters(whole.profiles_)})
    started = time.perf_counter()
    result = run_model("clustering", warehouse, chosen, ALL_DATA, {})
    rows.append({"model": "clustering", "run": f"after: bought {start} – {last}",
                 "seconds": round(time.perf_counter() - started, 2),
                 "customers": result["period"]["customers"],
                 "clusters": _clusters(pd.DataFrame(result["clusters"]))})
    return rows


def _slices_before(warehouse, daily):
    """The slice monitor as it ran before periods: the last 3 years, no yearly effect."""
    import pandas as pd

    from analytics.filters import ALL_DATA, Filters
    from analytics.models import inputs
    from analytics.models.anomalies import MAX_DAYS, SLICE_TOP, slice_anomalies

    since = daily["date"].tail(MAX_DAYS).min().date()
    series = [inputs.slice_daily_series(warehouse, Filters(), ALL_DATA, dimension, SLICE_TOP,
                                        since).assign(dimension=dimension)
              for dimension in inputs.SLICE_DIMENSIONS]
    return slice_anomalies(daily, pd.concat(series, ignore_index=True), "orders")


def _slice_scores(planted: list[dict] | None, found: list[dict]) -> dict:
    """Slice anomalies found, and how many of them overlap no planted anomaly's days."""
    import pandas as pd

    if planted is None:
        return {"slice_anomalies": len(found)}
    ranges = [(pd.Timestamp(a["start"]), pd.Timestamp(a["end"])) for a in planted]
    unplanted = [a for a in found
                 if not any(pd.Timestamp(a["start"]) <= end and pd.Timestamp(a["end"]) >= start
                            for start, end in ranges)]
    return {"slice_anomalies": len(found), "slice_not_planted": len(unplanted)}


def _clusters(profiles) -> str:
    """"name (customers, typical days since the last order)" per cluster."""
    return "; ".join(f"{row['name']} ({row['customers']:,}, {row['centroid_recency']:,.0f} d)"
                     for row in profiles.to_dict(orient="records"))


def _planted_scores(planted: list[dict] | None, flagged: dict, result: dict | None = None
                    ) -> dict:
    """Recall (planted anomalies found by their metric's shop-wide detector; with
    ``result``, also by its slice monitor) and precision over the flagged days."""
    if not planted:
        return {}
    import pandas as pd

    planted_days = {metric: set() for metric in METRICS}
    found, found_with_slices = 0, 0
    for anomaly in planted:
        days = set(pd.date_range(anomaly["start"], anomaly["end"]))
        planted_days[anomaly["metric"]] |= days
        hit = bool(days & flagged[anomaly["metric"]])
        found += hit
        if result is not None:
            ((dimension, value),) = anomaly["dimensions"].items()
            in_slice = any(a["dimension"] == dimension and a["value"] == value
                           and pd.Timestamp(a["start"]) <= max(days)
                           and pd.Timestamp(a["end"]) >= min(days)
                           for a in result["slice_anomalies"])
            found_with_slices += hit or in_slice
    every_planted = set().union(*planted_days.values())
    every_flagged = set().union(*flagged.values())
    true = len(every_flagged & every_planted)
    scores = {"planted_found": f"{found}/{len(planted)}",
              "not_planted_days": len(every_flagged - every_planted),
              "precision": round(true / len(every_flagged), 2) if every_flagged else None}
    if result is not None:
        scores["planted_found_with_slices"] = f"{found_with_slices}/{len(planted)}"
    return scores
