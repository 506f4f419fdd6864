"""Narrative insights: a handful of plain sentences, each carrying the numbers it states.

``insights(warehouse, filters, scope, anomalies=None, forecast=None)`` compares the period of
``filters`` (or, without dates, the last 28 days of data) with the previous period
(METRICS.md: same length, ending the day before) and says:

1. how net revenue moved overall;
2. for country, category and channel: the value whose revenue moved most (absolute change);
3. the most unusual days of an anomalies result (``run_model("anomalies", …)``), with their
   explanation;
4. the direction of a forecast result (``run_model("forecast", …)`` at total level): the
   next ``h`` days forecast against the last ``h`` days.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from analytics.filters import Filters, Scope
from analytics.models import inputs

DEFAULT_DAYS = 28
MOVER_DIMENSIONS = ("country", "category", "channel")


@dataclass(frozen=True)
class Insight:
    """One sentence and the numbers in it: ``value`` (this period), ``previous`` (the
    comparison), ``change`` (value − previous) and ``relative_change`` (None when previous
    is 0 or missing)."""
    kind: str                 # "total" | "mover" | "anomaly" | "forecast"
    text: str
    value: float
    previous: float | None
    change: float | None
    relative_change: float | None
    dimension: str | None = None
    subject: str | None = None


def _relative(value: float, previous: float | None) -> float | None:
    return None if not previous else float((value - previous) / previous)


def _percent(relative: float | None) -> str:
    return "" if relative is None else f" ({relative:+.0%})"


def _change_text(change: float, relative: float | None) -> str:
    return f"{change:+,.0f}" + ("" if relative is None else f", {relative:+.0%}")


def _period(warehouse, filters: Filters, scope: Scope) -> Filters | None:
    if filters.start is not None and filters.end is not None:
        return filters
    span = inputs.data_date_range(warehouse, filters, scope)
    if span is None:
        return None
    end = filters.end or span[1]
    start = filters.start or max(span[0], end - dt.timedelta(days=DEFAULT_DAYS - 1))
    return filters.with_period(start, end)


def insights(warehouse, filters: Filters, scope: Scope, anomalies: dict | None = None,
             forecast: dict | None = None) -> list[Insight]:
    """The insights for the selection (module docstring); empty when there is no data."""
    period = _period(warehouse, filters, scope)
    if period is None:
        return []
    previous = period.previous_period()
    found: list[Insight] = []
    revenue, current_values = inputs.revenue_by_dimensions(warehouse, period, scope,
                                                           MOVER_DIMENSIONS)
    before, previous_values = inputs.revenue_by_dimensions(warehouse, previous, scope,
                                                           MOVER_DIMENSIONS)
    relative = _relative(revenue, before)
    direction = "up" if revenue > before else "down" if revenue < before else "unchanged"
    found.append(Insight(
        "total", f"Revenue was {revenue:,.0f} from {period.start} to {period.end}, "
        f"{direction} from {before:,.0f} in the previous {period.days} days"
        f"{_percent(relative)}.", revenue, before, revenue - before, relative))

    for dimension in MOVER_DIMENSIONS:
        now, then = current_values[dimension], previous_values[dimension]
        if now.empty and then.empty:
            continue
        joined = (now.set_index("value")["revenue"].rename("value")
                  .to_frame().join(then.set_index("value")["revenue"].rename("previous"),
                                   how="outer").fillna(0.0))
        joined["change"] = joined["value"] - joined["previous"]
        joined = joined.reset_index(names="subject")
        joined["size"] = joined["change"].abs()
        mover = joined.sort_values(["size", "subject"], ascending=[False, True]).iloc[0]
        if mover["change"] == 0:
            continue
        verb = "grew" if mover["change"] > 0 else "fell"
        mover_relative = _relative(mover["value"], mover["previous"])
        found.append(Insight(
            "mover", f"{mover['subject']} ({dimension}) {verb} the most: revenue "
            f"{mover['value']:,.0f} against {mover['previous']:,.0f} "
            f"({_change_text(mover['change'], mover_relative)}).",
            float(mover["value"]), float(mover["previous"]), float(mover["change"]),
            mover_relative, dimension, str(mover["subject"])))

    for anomaly in (anomalies or {}).get("anomalies", [])[:3]:
        found.append(Insight(
            "anomaly", anomaly["sentence"], float(anomaly["value"]), float(anomaly["expected"]),
            float(anomaly["deviation"]), _relative(anomaly["value"], anomaly["expected"]),
            (anomaly.get("headline") or {}).get("dimension"),
            str(pd.Timestamp(anomaly["date"]).date())))

    summary = (forecast or {}).get("summary")
    if summary:
        change = summary["next_total"] - summary["previous_total"]
        word = "rise" if change > 0 else "fall" if change < 0 else "stay level"
        metric = forecast.get("metric", "revenue")
        found.append(Insight(
            "forecast", f"The forecast expects {metric} to {word} over the next "
            f"{summary['days']} days: {summary['next_total']:,.0f} against "
            f"{summary['previous_total']:,.0f} in the last {summary['days']} days"
            f"{_percent(summary['change'])}.", float(summary["next_total"]),
            float(summary["previous_total"]), float(change), summary["change"], None, metric))
    return found
