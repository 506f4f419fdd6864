"""The small chart of an alert e-mail: a KPI's daily values over the alert's period against
the previous period, as a PNG small enough to inline (``MAX_BYTES``).

Drawn with matplotlib's Agg canvas and the colours of the report charts
(``core.reports.charts``), object API only (safe in worker processes). A KPI that is not a
daily sum (AOV, rates) is drawn as the net revenue its explanation uses.
"""
from __future__ import annotations

import io

from core.reports.charts import INK, PRIMARY, SECONDARY, figure_and_axes, money_axis

#: An inline image bigger than this is left out of the e-mail.
MAX_BYTES = 30 * 1024
#: KPIs with a daily column in ``analytics.series.time_series``.
DAILY_COLUMNS = ("revenue", "gross_revenue", "returns", "orders", "units", "customers")
MONEY = ("revenue", "gross_revenue", "returns")


def series_column(kpi: str) -> str:
    """The daily column drawn for ``kpi`` (net revenue for KPIs that are not sums)."""
    return kpi if kpi in DAILY_COLUMNS else "revenue"


def period_chart(current: list[float], previous: list[float], *, label: str,
                 money: bool, currency: str,
                 previous_label: str = "previous period") -> bytes | None:
    """Two lines, day 1…n of the period (solid) and of the previous period (grey): PNG
    bytes, or None with nothing to draw or when the PNG would exceed MAX_BYTES."""
    if not current:
        return None
    figure, axes = figure_and_axes(5.0, 1.8, dpi=96)
    days = list(range(1, len(current) + 1))
    if previous:
        axes.plot(list(range(1, len(previous) + 1)), previous, color=SECONDARY,
                  linewidth=1.2, label=previous_label)
    axes.plot(days, current, color=PRIMARY, linewidth=1.8, marker="o", markersize=2.5,
              label="this period")
    axes.set_xlabel("day of the period", fontsize=7, color=INK)
    axes.set_title(label, fontsize=8, color=INK, loc="left")
    if money:
        axes.yaxis.set_major_formatter(money_axis(currency))
    axes.legend(fontsize=6, frameon=False, loc="best")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=96)
    png = buffer.getvalue()
    return png if len(png) <= MAX_BYTES else None


def kpi_period_chart(warehouse, filters, scope, kpi: str, *, label: str, currency: str,
                     previous=None) -> bytes | None:
    """The chart of ``kpi`` over ``filters``' period and ``previous`` (default: the
    previous period), under ``scope`` (``analytics.series.time_series``)."""
    from analytics.series import time_series

    column = series_column(kpi)
    now = time_series(warehouse, filters, scope, grain="day")
    before = time_series(warehouse, previous if previous is not None
                         else filters.previous_period(), scope, grain="day")

    def values(frame) -> list[float]:
        return [float(value) if value == value else 0.0 for value in frame[column].tolist()]
    shown = label if column == kpi else f"{label} (drawn as net revenue)"
    return period_chart(values(now), values(before), label=shown, money=column in MONEY,
                        currency=currency, previous_label="previous period"
                        if previous is None else "the same days a year before")
