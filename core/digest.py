"""The weekly digest: what changed last week, for one recipient, in one short e-mail.

For the recipient's data scope and the schedule's filters (their dates are ignored: a
digest is always about the latest week), over the last 7 FULL days of the data (ending on
its last day, or yesterday when the data reaches today) against the 7 days before:

* the headline KPIs (``catalog.HEADLINE_KPIS``, METRICS.md) with their change, from
  ``analytics.kpis.kpi_summary``, the same numbers and period rules as the Overview;
* the top movers: the categories, countries and products whose net revenue changed most
  (``analytics.breakdowns.breakdown`` of both weeks), in numbers and in words;
* the anomalies of the week: the anomaly monitor's most unusual low and high day
  (``core.alerts.evaluate`` of an anomaly rule: ``robust_monitor`` against the 28 days
  before, explained by the slices against the same day a week before);
* the revenue forecast of the next 30 days in plain words, with its interval, from the
  fast models only (seasonal naive and ETS, backtested; no Prophet in an e-mail job);
* a small PNG chart of daily net revenue over the last 4 weeks (matplotlib, as the
  reports' charts);
* what to do next: the first actions of the week against the week before
  (``analytics.actions``, the Marketing page's table), when the data has sessions or ad
  spend.

``gather_digest`` computes it (a ``Digest``); ``digest_email`` writes the e-mail: subject,
plain text, HTML with inline styles (every value escaped) and the chart as an inline image
(``{"cid": path}``). The worker's runner (``workers.schedule_runners``) stores both in the
job's result, where the delivery finds them.
"""
from __future__ import annotations

import datetime as dt
import html
import io
import logging
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from analytics import breakdowns, catalog, kpis, period
from analytics.errors import InvalidInput
from analytics.filters import Filters, Scope
from core import formatting
from core.formatting import Locale, format_date, format_money, format_value

log = logging.getLogger(__name__)

DAYS = 7
#: Dimensions whose movers the digest names, and how many of each.
MOVER_DIMENSIONS = ("category", "country", "product")
MOVERS_PER_DIMENSION = 3
FORECAST_DAYS = 30
#: How many of the week's actions the digest lists.
ACTIONS_LISTED = 3
FORECAST_INTERVAL = 0.8
FORECAST_MODELS = ("seasonal naive", "ETS")
CHART_DAYS = 28
CHART_CID = "daily-revenue"


class DigestError(InvalidInput):
    """No digest can be made (no data yet); the message says why."""


@dataclass(frozen=True)
class Mover:
    """One value of a dimension whose net revenue moved between the two weeks."""
    dimension: str
    key: str
    label: str
    previous: float
    current: float

    @property
    def change(self) -> float:
        return self.current - self.previous

    def sentence(self, currency: str) -> str:
        """"France: £1,400 → £350 (−£1,050)"."""
        change = format_money(self.change, currency)
        return (f"{self.label}: {format_money(self.previous, currency)} → "
                f"{format_money(self.current, currency)} "
                f"({'+' if self.change > 0 else ''}{change})")

    def to_dict(self) -> dict:
        return {"dimension": self.dimension, "key": self.key, "label": self.label,
                "previous": self.previous, "current": self.current, "change": self.change}


@dataclass
class Digest:
    """What the digest says (see the module docstring); ``daily`` is the chart's frame
    (date, revenue)."""
    title: str
    start: dt.date
    end: dt.date
    previous_start: dt.date
    previous_end: dt.date
    scope: Scope
    filters_label: str
    currency: str
    data_version: int
    kpis: kpis.KpiSummary
    movers: dict[str, list[Mover]] = field(default_factory=dict)
    anomalies: list[dict] = field(default_factory=list)
    forecast: str = ""
    forecast_numbers: dict | None = None
    daily: pd.DataFrame | None = field(default=None, repr=False)
    # what to do next: the week's actions (analytics.actions), when traffic or ad data exists
    actions: list[dict] = field(default_factory=list)

    def kpi_lines(self) -> list[dict]:
        """[{name, label, value, previous, change}] of the headline KPIs, formatted."""
        lines = []
        for name in catalog.HEADLINE_KPIS:
            label, kind = formatting.KPI_LABELS[name]
            kpi = self.kpis[name]
            lines.append({"name": name, "label": label,
                          "value": format_value(kpi.current, kind, self.currency),
                          "previous": format_value(kpi.previous, kind, self.currency),
                          "change": formatting.format_change(kpi.abs_change, kpi.rel_change,
                                                             kind, self.currency)})
        return lines

    def period_label(self) -> str:
        return f"{_day(self.start, self.currency)} – {_day(self.end, self.currency)}"

    def previous_label(self) -> str:
        return (f"{_day(self.previous_start, self.currency)} – "
                f"{_day(self.previous_end, self.currency)}")

    def headline(self) -> str:
        """"Revenue (net) £1,234 (−£56 (−4.3%)) in the week to 14 Mar 2011"."""
        revenue = self.kpi_lines()[0]
        return (f"{revenue['label']} {revenue['value']} ({revenue['change']}) in the week "
                f"to {_day(self.end, self.currency)}")

    def subject(self) -> str:
        return f"{self.title}: {self.headline()}"

    def mover_sentences(self) -> list[str]:
        """One sentence per dimension: "Categories: Lighting rose most (…); Mugs fell
        most (…)"."""
        sentences = []
        for dimension, movers in self.movers.items():
            if not movers:
                continue
            parts = [f"{m.sentence(self.currency)}" for m in movers]
            plural = catalog.dimension(dimension).plural
            biggest = movers[0]
            verb = "rose" if biggest.change > 0 else "fell"
            sentences.append(f"{plural}: {biggest.label} {verb} most. " + "; ".join(parts)
                             + ".")
        return sentences

    def to_dict(self) -> dict:
        return {"title": self.title,
                "period": {"start": self.start.isoformat(), "end": self.end.isoformat()},
                "previous_period": {"start": self.previous_start.isoformat(),
                                    "end": self.previous_end.isoformat()},
                "scope": str(self.scope), "filters": self.filters_label,
                "data_version": self.data_version, "kpis": self.kpis.to_dict()["kpis"],
                "movers": {name: [m.to_dict() for m in movers]
                           for name, movers in self.movers.items()},
                "anomalies": self.anomalies, "forecast": self.forecast,
                "forecast_numbers": self.forecast_numbers, "actions": self.actions}


def _day(day: dt.date, locale: "Locale | str | None" = None) -> str:
    return format_date(day, locale)


# ----------------------------------------------------------------- gathering
def digest_period(warehouse, today: dt.date) -> tuple[dt.date, dt.date]:
    """The last DAYS full days of the data: ending on its last day, or on yesterday when
    the data reaches today (today is not over)."""
    if warehouse.current_version() is None:
        raise DigestError("no data has been loaded yet: the digest has nothing to say")
    _first, last = period.data_range(warehouse)
    if last is None:
        raise DigestError("the data holds no lines: the digest has nothing to say")
    end = min(last, today - dt.timedelta(days=1))
    return period.days_before(end, DAYS - 1), end


def gather_digest(warehouse, filters: Filters, scope: Scope, *, currency: str = "£",
                  title: str = "Weekly digest", today: dt.date | None = None,
                  forecast: bool = True) -> Digest:
    """The digest of ``filters`` (dates ignored) under ``scope`` (see the module
    docstring). ``today`` (default: the UTC date) bounds the period to full days."""
    from core.reports.content import filters_label

    today = today or dt.datetime.now(dt.UTC).date()
    start, end = digest_period(warehouse, today)
    week = filters.with_period(start, end)
    summary = kpis.kpi_summary(warehouse, week, scope)
    digest = Digest(title=title, start=summary.start, end=summary.end,
                    previous_start=summary.previous_start, previous_end=summary.previous_end,
                    scope=scope, filters_label=filters_label(filters), currency=currency,
                    data_version=warehouse.require_version(), kpis=summary)
    digest.movers = top_movers(warehouse, week, scope)
    digest.anomalies = anomalies_of_the_week(warehouse, filters, scope, end, currency)
    digest.daily = _daily(warehouse, filters, scope, end)
    if forecast:
        digest.forecast, digest.forecast_numbers = forecast_words(
            warehouse, filters, scope, end, currency)
    digest.actions = week_actions(warehouse, week, scope, currency)
    return digest


def week_actions(warehouse, week: Filters, scope: Scope, currency: str) -> list[dict]:
    """The first ``ACTIONS_LISTED`` actions of the week against the week before (the
    Marketing page's "what to do next", ``analytics.actions``), in words; none without
    sessions or ad spend."""
    from analytics import actions, marketing

    if not marketing.has_traffic(warehouse):
        return []
    table = actions.action_table(warehouse, week, scope)
    listed = []
    for row in table.frame.head(ACTIONS_LISTED).itertuples(index=False):
        listed.append({"item": str(row.name), "level": str(row.level),
                       "stake": float(row.stake),
                       "sentence": f"{row.name} ({row.level}): {row.reason}: {row.action} "
                                   f"({format_money(float(row.stake), currency)} at stake)."})
    return listed


def top_movers(warehouse, week: Filters, scope: Scope) -> dict[str, list[Mover]]:
    """Per dimension, the values whose net revenue changed most against the previous
    week (largest absolute change first; values that did not move are left out)."""
    previous = week.previous_period()
    found: dict[str, list[Mover]] = {}
    for dimension in MOVER_DIMENSIONS:
        values: dict[str, dict] = {}
        for frame, column in ((breakdowns.breakdown(warehouse, previous, scope, dimension),
                               "previous"),
                              (breakdowns.breakdown(warehouse, week, scope, dimension),
                               "current")):
            for row in frame.itertuples(index=False):
                entry = values.setdefault(row.key, {"label": str(row.label), "previous": 0.0,
                                                    "current": 0.0})
                entry[column] = 0.0 if pd.isna(row.revenue) else float(row.revenue)
        movers = [Mover(dimension, key, entry["label"], entry["previous"], entry["current"])
                  for key, entry in values.items()
                  if abs(entry["current"] - entry["previous"]) > 1e-9]
        movers.sort(key=lambda m: (-abs(m.change), m.key))
        found[dimension] = movers[:MOVERS_PER_DIMENSION]
    return found


def anomalies_of_the_week(warehouse, filters: Filters, scope: Scope, end: dt.date,
                          currency: str) -> list[dict]:
    """The anomaly monitor's unusual days of the week (the most unusual low one and high
    one, when unusual enough), each with its sentence and explanation: the alerts' own
    evaluation (``core.alerts.evaluate``) of an anomaly rule on net revenue."""
    from core import alerts
    from core.orm import AlertRule

    found = []
    for direction in ("down", "up"):
        rule = AlertRule(name="digest", kind="anomaly", kpi="revenue", direction=direction,
                         value=alerts.ANOMALY_Z, days=DAYS,
                         filters=filters.with_period(None, None).to_query())
        try:
            evaluation = alerts.evaluate(rule, warehouse, scope,
                                         end + dt.timedelta(days=1), currency)
        except Exception:  # an anomaly section must never stop the digest
            log.warning("the digest's anomaly check failed", exc_info=True)
            continue
        if evaluation.met:
            found.append({"direction": direction, "sentence": evaluation.sentence,
                          "explanation": (evaluation.explanation or {}).get("sentence")})
    return found


def _daily(warehouse, filters: Filters, scope: Scope, end: dt.date) -> pd.DataFrame:
    """Daily net revenue of the last CHART_DAYS days (days without sales are 0)."""
    from analytics.models.inputs import daily_series

    start = period.days_before(end, CHART_DAYS - 1)
    daily = daily_series(warehouse, filters.with_period(start, end), scope)
    days = pd.date_range(pd.Timestamp(start), pd.Timestamp(end), freq="D")
    if daily.empty:
        return pd.DataFrame({"date": days, "revenue": 0.0})
    revenue = daily.set_index(pd.to_datetime(daily["date"]))["revenue"]
    return pd.DataFrame({"date": days,
                         "revenue": revenue.reindex(days).fillna(0.0).to_numpy()})


def forecast_words(warehouse, filters: Filters, scope: Scope, end: dt.date,
                   currency: str) -> tuple[str, dict | None]:
    """"Revenue over the next 30 days should be about £X (likely £A–£B)." from the fast
    models fitted on the history up to ``end``; the reason in words when there is none."""
    from analytics.models.base import ModelError
    from analytics.models.forecast import forecast_series, forecast_summary
    from analytics.models.inputs import daily_series

    daily = daily_series(warehouse, filters.with_period(None, end), scope)
    try:
        result = forecast_series(daily, "date", "revenue", horizon=FORECAST_DAYS,
                                 interval=FORECAST_INTERVAL, models=FORECAST_MODELS,
                                 what="the revenue of this digest")
    except ModelError as exc:
        return f"No forecast this week: {exc}", None
    numbers = forecast_summary(result)
    likely = round(FORECAST_INTERVAL * 100)
    text = (f"Revenue over the next {FORECAST_DAYS} days should be about "
            f"{format_money(numbers['next_total'], currency)} (likely "
            f"{format_money(numbers['next_lower'], currency)}–"
            f"{format_money(numbers['next_upper'], currency)}, a {likely} % range).")
    return text, {**numbers, "model": result.model}


# ----------------------------------------------------------------- the e-mail
def daily_chart(daily: pd.DataFrame | None, currency: str) -> bytes | None:
    """PNG bars of daily net revenue, the digest's week in the primary colour."""
    if daily is None or daily.empty:
        return None
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from core.reports import charts

    figure = Figure(figsize=(6.0, 2.2), dpi=charts.DPI)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot(1, 1, 1)
    axes.spines[["top", "right"]].set_visible(False)
    axes.tick_params(colors=charts.INK, labelsize=7)
    colours = [charts.SECONDARY] * max(0, len(daily) - DAYS) + \
        [charts.PRIMARY] * min(DAYS, len(daily))
    axes.bar(range(len(daily)), daily["revenue"], color=colours)
    labels = pd.to_datetime(daily["date"]).dt.strftime("%d %b")
    ticks = list(range(0, len(daily), 7))
    axes.set_xticks(ticks, [labels.iloc[i] for i in ticks])
    axes.yaxis.set_major_formatter(charts.money_axis(currency))
    axes.set_title("Daily net revenue, last 4 weeks (this week in blue)", fontsize=8,
                   color=charts.INK)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=charts.DPI)
    return buffer.getvalue()


def digest_text(digest: Digest) -> str:
    """The plain-text part."""
    period = f"Week {digest.period_label()}, compared with {digest.previous_label()}"
    data = f"Data: {digest.scope}; filters: {digest.filters_label}."
    lines = [digest.title, period, data, "", "Key figures"]
    for kpi in digest.kpi_lines():
        lines.append(f"  {kpi['label']}: {kpi['value']} ({kpi['change']}; was "
                     f"{kpi['previous']})")
    lines += ["", "Top movers (net revenue)"]
    lines += [f"  {sentence}" for sentence in digest.mover_sentences()] or \
        ["  Nothing moved."]
    lines += ["", "Unusual days"]
    lines += [f"  {a['sentence']}" for a in digest.anomalies] or \
        ["  None: the anomaly monitor found no unusual day this week."]
    if digest.forecast:
        lines += ["", "Next 30 days", f"  {digest.forecast}"]
    if digest.actions:
        lines += ["", "What to do next"] + [f"  {a['sentence']}" for a in digest.actions]
    return "\n".join(lines) + "\n"


_CELL = "padding:4px 8px;border-bottom:1px solid #e2e8f0;"
_H2 = "font-size:15px;margin:18px 0 6px;color:#1e293b;"


def digest_html(digest: Digest, chart_cid: str | None = None) -> str:
    """The HTML part: inline styles only (mail clients drop style sheets), every value
    escaped, the chart as ``cid:`` image when there is one."""
    e = html.escape
    rows = "".join(
        f"<tr><td style=\"{_CELL}\">{e(k['label'])}</td>"
        f"<td style=\"{_CELL}text-align:right;font-weight:600\">{e(k['value'])}</td>"
        f"<td style=\"{_CELL}text-align:right;color:#475569\">{e(k['change'])}</td></tr>"
        for k in digest.kpi_lines())
    movers = "".join(f"<li>{e(s)}</li>" for s in digest.mover_sentences()) or \
        "<li>Nothing moved.</li>"
    anomalies = "".join(f"<li>{e(a['sentence'])}</li>" for a in digest.anomalies) or \
        "<li>None: the anomaly monitor found no unusual day this week.</li>"
    chart = (f"<p><img src=\"cid:{e(chart_cid)}\" alt=\"Daily net revenue\" "
             f"style=\"max-width:100%;height:auto\"></p>" if chart_cid else "")
    forecast = (f"<h2 style=\"{_H2}\">Next 30 days</h2><p>{e(digest.forecast)}</p>"
                if digest.forecast else "")
    if digest.actions:
        forecast += (f"<h2 style=\"{_H2}\">What to do next</h2><ul>"
                     + "".join(f"<li>{e(a['sentence'])}</li>" for a in digest.actions)
                     + "</ul>")
    return (
        "<!DOCTYPE html><html><body style=\"font-family:Arial,Helvetica,sans-serif;"
        "color:#1e293b;font-size:14px;max-width:640px\">"
        f"<h1 style=\"font-size:19px;margin:0 0 4px\">{e(digest.title)}</h1>"
        f"<p style=\"color:#475569;margin:0 0 12px\">Week {e(digest.period_label())}, "
        f"compared with {e(digest.previous_label())} · data: {e(str(digest.scope))} · "
        f"filters: {e(digest.filters_label)}</p>"
        f"<table style=\"border-collapse:collapse\">{rows}</table>{chart}"
        f"<h2 style=\"{_H2}\">Top movers (net revenue)</h2><ul>{movers}</ul>"
        f"<h2 style=\"{_H2}\">Unusual days</h2><ul>{anomalies}</ul>{forecast}"
        "</body></html>")


def digest_email(digest: Digest, folder: Path) -> dict:
    """The e-mail the delivery sends as is: ``{"subject", "text", "html", "images":
    {cid: absolute PNG path}}``; the chart is written into ``folder``."""
    images = {}
    png = daily_chart(digest.daily, digest.currency)
    if png:
        path = folder / "daily-revenue.png"
        path.write_bytes(png)
        images[CHART_CID] = str(path.resolve())
    return {"subject": digest.subject(), "text": digest_text(digest),
            "html": digest_html(digest, CHART_CID if images else None), "images": images}
