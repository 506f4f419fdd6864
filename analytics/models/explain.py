"""Explanations of anomalous days from the warehouse: which countries, categories, channels
and products account for the deviation (``anomalies.explain_day`` on each dimension)."""
from __future__ import annotations

import pandas as pd

from analytics.models import inputs
from analytics.models.anomalies import comparison_days, explain_day, headline

EXPLAIN_MEASURE = {"revenue": "revenue", "orders": "orders", "aov": "revenue",
                   "units": "units"}


def explain_anomalies(warehouse, filters, scope, anomalies: pd.DataFrame, metric: str,
                      limit: int = 20) -> list[dict]:
    """The first ``limit`` rows of ``AnomalyDetector.anomalies_`` as dicts, each with
    ``explanation`` ({dimension: [top values with ``share``]}), ``headline`` (the value with
    the largest share, or None) and ``sentence`` (plain text). AOV anomalies are explained
    by revenue (AOV does not add up over dimension values)."""
    measure = EXPLAIN_MEASURE[metric]
    chosen = anomalies.head(limit)
    days = sorted({day for anomaly_day in chosen["date"] for day in comparison_days(anomaly_day)})
    breakdowns = {}
    for dimension in inputs.BREAKDOWN_DIMENSIONS:
        if not days:
            break
        frame = inputs.daily_breakdown(warehouse, filters, scope, dimension, days)
        if not frame.empty:
            breakdowns[dimension] = frame
    explained = []
    for row in chosen.to_dict(orient="records"):
        explanation = {dimension: explain_day(frame, row["date"], measure)
                       for dimension, frame in breakdowns.items()}
        top = headline(explanation)
        if top and top["dimension"] == "product":
            names = inputs.product_descriptions(warehouse, [top["value"]])
            top["description"] = names.get(top["value"])
        explained.append({**row, "explanation": explanation, "headline": top,
                          "sentence": describe(row, metric, top)})
    return explained


def describe(anomaly: dict, metric: str, top: dict | None) -> str:
    """E.g. "On 2011-03-04 revenue was 12,300 above expected (45,000 vs 32,700); France
    accounts for 85% of the difference."."""
    day = pd.Timestamp(anomaly["date"]).date().isoformat()
    sentence = (f"On {day} {metric} was {abs(anomaly['deviation']):,.0f} {anomaly['direction']} "
                f"expected ({anomaly['value']:,.0f} vs {anomaly['expected']:,.0f})")
    if top and top["share"] is not None:
        label = top.get("description") or top["value"]
        sentence += (f"; {top['dimension']} {label} accounts for {top['share']:.0%} of the "
                     f"difference")
    return sentence + "."
