"""Report charts drawn on the server, without a browser: matplotlib's Agg canvas to PNG.

Each builder takes the frame of an analytics function and returns PNG bytes (or None when
there is nothing to draw). Only the object API is used (no pyplot state), so builders are
safe in threads and in forked worker processes.
"""
from __future__ import annotations

import io

import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from core.formatting import Locale, as_locale, format_number

PRIMARY = "#2563eb"
SECONDARY = "#94a3b8"
ACCENT = "#f59e0b"
INK = "#1e293b"
DPI = 150


def figure_and_axes(width: float = 7.0, height: float = 2.8,
                    dpi: int = DPI) -> tuple[Figure, object]:
    """A blank chart in the reports' style (used by the PDF's charts, the dashboard PDF's
    and the alert e-mails')."""
    figure = Figure(figsize=(width, height), dpi=dpi)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot(1, 1, 1)
    axes.spines[["top", "right"]].set_visible(False)
    axes.tick_params(colors=INK, labelsize=7)
    axes.grid(axis="y", color="#e2e8f0", linewidth=0.6)
    axes.set_axisbelow(True)
    return figure, axes


def _png(figure: Figure) -> bytes:
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def money_axis(currency: "Locale | str"):
    """Axis labels such as £1.2M, £350k, £900 (de-style: 1,2M €), in the locale's style."""
    locale = as_locale(currency)

    def label(value: float, _position) -> str:
        size = abs(value)
        sign = "−" if value < 0 else ""
        # a decimal where ticks would otherwise read alike (£1.1k, £1.2k, not £1k, £1k)
        if size >= 1e6:
            scaled = size / 1e6
            number = format_number(scaled, 0 if scaled >= 100 or scaled.is_integer() else 1,
                                   locale) + "M"
        elif size >= 1e3:
            scaled = size / 1e3
            number = format_number(scaled, 0 if scaled >= 100 or scaled.is_integer() else 1,
                                   locale) + "k"
        else:
            number = format_number(size, 0, locale)
        return f"{sign}{locale.money_prefix}{number}{locale.money_suffix}"
    return FuncFormatter(label)


def monthly_trend(frame: pd.DataFrame, currency: str) -> bytes | None:
    """Net revenue per month (bars) and the same month a year earlier (line)."""
    if frame.empty:
        return None
    figure, axes = figure_and_axes()
    months = pd.to_datetime(frame["period_start"]).dt.strftime("%b %y")
    positions = range(len(frame))
    axes.bar(positions, frame["revenue"], color=PRIMARY, label="Revenue (net)")
    # the series leaves a month without a year-earlier month in the data empty (not 0)
    last_year = frame["revenue_last_year"]
    if last_year.notna().any():
        axes.plot(positions, last_year, color=ACCENT, marker="o", markersize=2.5,
                  linewidth=1.2, label="Same month last year")
    axes.set_xticks(list(positions), months, rotation=45, ha="right")
    axes.yaxis.set_major_formatter(money_axis(currency))
    axes.legend(fontsize=7, frameon=False)
    return _png(figure)


def horizontal_bars(labels: list[str], values: list[float], currency: str,
                    height: float | None = None) -> bytes | None:
    """One bar per label, largest at the top (money values)."""
    if not labels:
        return None
    figure, axes = figure_and_axes(height=height or max(1.6, 0.24 * len(labels) + 0.6))
    axes.grid(axis="x", color="#e2e8f0", linewidth=0.6)
    axes.grid(axis="y", visible=False)
    positions = list(range(len(labels)))[::-1]
    axes.barh(positions, values, color=PRIMARY)
    axes.set_yticks(positions, [_short(label) for label in labels])
    axes.xaxis.set_major_formatter(money_axis(currency))
    return _png(figure)


def segment_bars(frame: pd.DataFrame) -> bytes | None:
    """Customers per RFM segment."""
    if frame.empty or frame["customers"].sum() == 0:
        return None
    figure, axes = figure_and_axes(height=2.6)
    positions = range(len(frame))
    axes.bar(positions, frame["customers"], color=PRIMARY)
    axes.set_xticks(list(positions), list(frame["segment"]), rotation=35, ha="right")
    axes.yaxis.set_major_formatter(FuncFormatter(lambda value, _p: f"{value:,.0f}"))
    axes.set_ylabel("Customers", fontsize=7, color=INK)
    return _png(figure)


def forecast_chart(history: pd.DataFrame, forecast: pd.DataFrame, currency: str,
                   interval: float, days_shown: int = 120) -> bytes | None:
    """The last ``days_shown`` days of history, then the forecast with its interval."""
    if history is None or forecast is None or forecast.empty:
        return None
    figure, axes = figure_and_axes()
    recent = history.tail(days_shown)
    axes.plot(pd.to_datetime(recent["date"]), recent["actual"], color=SECONDARY,
              linewidth=0.9, label="Actual")
    dates = pd.to_datetime(forecast["date"])
    axes.fill_between(dates, forecast["lower"], forecast["upper"], color=PRIMARY, alpha=0.18,
                      linewidth=0, label=f"{interval:.0%} interval")
    axes.plot(dates, forecast["forecast"], color=PRIMARY, linewidth=1.4, label="Forecast")
    axes.yaxis.set_major_formatter(money_axis(currency))
    figure.autofmt_xdate(rotation=30)
    axes.legend(fontsize=7, frameon=False, loc="upper left")
    return _png(figure)


def _short(text: str, limit: int = 34) -> str:
    text = str(text)
    return text if len(text) <= limit else text[:limit - 1] + "…"
