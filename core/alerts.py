"""Alerts: rules any analyst sets on a KPI and some filters, evaluated after every data load
and by Celery beat (``core.alert_runs``), sent to their owner's e-mail and/or a webhook
with the slices that explain them. docs/alerts.md is the user's guide.

Kinds of rule (``AlertRule.kind``):

* ``threshold``: the KPI over the last ``days`` days is ``below`` / ``above`` ``value``
  ("revenue below £3,000 over the last day");
* ``change``: the KPI moved ``down`` / ``up`` by more than ``value`` % against the
  comparison period ("orders down more than 20 % week on week");
* ``anomaly``: a day of the last ``days`` days is unusual for the anomaly monitor
  (``analytics.models.anomalies.robust_monitor``: against the 28 days before it, weekly
  pattern removed) with |z| ≥ ``value`` (3.5), ``down``, ``up`` or ``any``; explained by
  the slices against the same day a week before;
* ``forecast``: the KPI's total over the last ``days`` days is ``below`` / ``above`` /
  ``outside`` the forecast's ``value`` % prediction interval made from the data before
  them (``forecast_range``: the leaderboard's fast models, given an interval by a
  backtest on the history).

``compare`` (threshold and change): ``previous``, the ``days`` days before the period, or
``last_year``, the same calendar days a year before; the explanation compares with it too.

Operational rules, for admins: ``stale_data`` (the newest data is more than ``value`` days
old), ``load_failed`` (the newest finished data load failed; the next good load re-arms it)
and ``delivery_failed`` (a report or alert message failed after its last attempt since the
rule last fired). They have no KPI, filters or explanation.

The period is the last ``days`` days of the data, ending on the data's last day (or on
``today`` when the data reaches further), so an alert after a load looks at what was just
loaded. Every number is ``analytics.kpis.kpi_summary`` (METRICS.md) under the OWNER's data
scope: a rule's filters can only narrow it, and a filter naming data outside the scope is
refused when the rule is saved.

The explanation: for each dimension of the catalog flagged ``explains_anomalies``, the
breakdown of the period and of the comparison period (``analytics.breakdowns.breakdown``,
same scope); each value's change; the values that account for most of the change (largest
first, same sign as the total, until 80 %, at most 3). The dimension whose first value
accounts for the largest share makes the sentence: "Revenue fell 32 % (£4,120 → £2,800)
week on week; France accounts for 71 % of the drop (−£940)." KPIs that are not sums (AOV,
rates) are explained by the slices' net revenue.

One incident, one message: a rule that fired is disarmed; it fires again only after its
condition was false once (re-armed) or ``cooldown_hours`` passed since it fired. While
``snoozed_until`` is in the future it sends nothing (its state is still followed).

A rule must go somewhere: ``email`` (its owner) and/or ``webhook_url`` (checked by
``core.webhooks.validate_url`` when saved). Firings (``AlertFiring``) keep the numbers, the
sentence and the explanation; how each message went is in the delivery ledger
(``Delivery.firing_id``, shown by ``firing_to_dict``).

``backtest`` replays a rule as of each day of a range without changing or sending anything:
the rule's daily series is read once, each day judged on it (``_screen``), the cool-down
applied with ``step`` as the run would, and only the days that fire evaluated in full.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import math
from dataclasses import dataclass, field
from typing import Annotated, Literal

import pydantic
import sqlalchemy as sa
from sqlalchemy.orm import Session, object_session

from analytics import breakdowns, catalog, filter_values, kpis, period
from analytics.errors import (AccessDenied, InvalidInput, NotFound, format_validation_error)
from analytics.filters import FilterError, Filters, Scope
from core import audit, owned
from core.formatting import format_money, format_value
from core.orm import AlertFiring, AlertRule, DataLoad, Delivery, User, utcnow

log = logging.getLogger(__name__)

KINDS = ("threshold", "change", "anomaly", "forecast", "stale_data", "load_failed",
         "delivery_failed")
DIRECTIONS = {"threshold": ("below", "above"), "change": ("down", "up"),
              "anomaly": ("down", "up", "any"), "forecast": ("below", "above", "outside")}
#: What a threshold or change rule compares with: the previous ``days`` days, or the same
#: days a year before.
COMPARES = ("previous", "last_year")
#: What the anomaly monitor watches (``analytics.models.inputs.daily_series`` columns).
ANOMALY_KPIS = ("revenue", "gross_revenue", "returns", "orders", "units", "aov")
#: The monitor's default |z| and the days before each day it compares with.
ANOMALY_Z = 3.5
ANOMALY_WINDOW = 28
#: Operational rules (admins): the data is older than ``value`` days; the newest load failed;
#: a report or alert delivery failed after its last attempt.
OPERATIONAL = ("stale_data", "load_failed", "delivery_failed")
#: What the forecast rule watches: KPIs that are sums of their days.
FORECAST_KPIS = ("revenue", "gross_revenue", "returns", "orders", "units")
#: The forecast rule's default prediction interval (%), and the history its models see.
FORECAST_LEVEL = 80.0
FORECAST_HISTORY = 365
#: The forecast's candidate models (``analytics.models.forecast_models``). Seasonal naive
#: costs nothing; ETS ("ETS") is refitted for every fold, about 0.15 s a fit, which makes a
#: rule's evaluation take seconds and a 90-day backtest minutes, so it is not a candidate.
FORECAST_MODELS = ("seasonal naive",)
#: Backtest folds measuring the forecast's errors: stretches of ``days`` days ending a week
#: apart (26: half a year of weekly origins), at least FORECAST_MIN_FOLDS, each forecast
#: from at least FORECAST_MIN_TRAIN days before it.
FORECAST_FOLDS = 26
FORECAST_MIN_FOLDS = 8
FORECAST_MIN_TRAIN = 28
#: A backtest replays at most this many days.
BACKTEST_MAX_DAYS = 366
#: The explanation names values until they account for this share of the change …
EXPLAINED_SHARE = 0.8
#: … and at most this many per dimension.
MAX_CONTRIBUTORS = 3
#: KPIs explained by the slices' own values (the others by their net revenue).
_SLICE_METRICS = frozenset(breakdowns.METRICS) - {"margin"}


class AlertError(InvalidInput):
    """The rule is invalid or the change is refused; the message says why."""


class AlertAccessDenied(AccessDenied, AlertError):
    """The actor may not see or change this rule."""


class AlertNotFound(NotFound, AlertError):
    """No rule with this id."""


class AlertInput(pydantic.BaseModel):
    """What a user sets on a rule."""
    model_config = pydantic.ConfigDict(extra="forbid", str_strip_whitespace=True)
    name: Annotated[str, pydantic.Field(min_length=1, max_length=200)]
    kind: Literal["threshold", "change", "anomaly", "forecast", "stale_data", "load_failed",
                  "delivery_failed"]
    kpi: str = ""
    direction: str = ""
    value: float | None = None
    days: Annotated[int, pydantic.Field(ge=1, le=366)] = 7
    filters: Annotated[str, pydantic.Field(max_length=4000)] = ""
    cooldown_hours: Annotated[int, pydantic.Field(ge=0, le=24 * 90)] = 24
    compare: Literal["previous", "last_year"] = "previous"
    email: bool = True
    webhook_url: Annotated[str | None, pydantic.Field(max_length=1000)] = None
    # follow a saved view: its filters (without its dates: the rule keeps its own window),
    # copied onto ``filters`` when saved and at each run
    saved_view_id: int | None = None
    is_active: bool = True
    snoozed_until: dt.datetime | None = None

    @pydantic.field_validator("value")
    @classmethod
    def _finite(cls, value: float | None) -> float | None:
        if value is not None and not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value

    @pydantic.field_validator("snoozed_until")
    @classmethod
    def _naive(cls, value: dt.datetime | None) -> dt.datetime | None:
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value

    @pydantic.field_validator("filters", mode="before")
    @classmethod
    def _filters(cls, value) -> str:
        try:
            if isinstance(value, Filters):
                parsed = value
            else:
                parsed = Filters.from_query(value if isinstance(value, dict)
                                            else str(value or ""))
        except FilterError as exc:
            raise ValueError(str(exc)) from None
        if parsed.start is not None or parsed.end is not None:
            raise ValueError("an alert watches the last N days: set days, not start or end")
        return parsed.to_query()

    @pydantic.field_validator("webhook_url")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value or None

    @pydantic.model_validator(mode="after")
    def _consistent(self) -> "AlertInput":
        if not self.email and not self.webhook_url:
            raise ValueError("the alert must go somewhere: e-mail its owner (email) or give "
                             "a webhook_url")
        if self.compare != "previous" and self.kind not in ("threshold", "change"):
            raise ValueError(f"compare applies to threshold and change rules; a {self.kind} "
                             "rule compares with its own history")
        if self.kind in OPERATIONAL:
            self.kpi, self.direction, self.filters = "", "", ""
            if self.kind in ("load_failed", "delivery_failed"):
                self.value = 0.0
            elif self.value is None or self.value < 1 or self.value != int(self.value):
                raise ValueError("a stale_data rule's value is a whole number of days (1 or "
                                 "more) the newest data may be old")
            return self
        if self.kpi not in catalog.KPI_NAMES:
            raise ValueError(f"unknown KPI {self.kpi!r}: use one of "
                             f"{', '.join(catalog.KPI_NAMES)}")
        if self.kind == "forecast":
            if self.kpi not in FORECAST_KPIS:
                raise ValueError(f"the forecast rule watches {', '.join(FORECAST_KPIS)} (sums "
                                 f"of their days), not {self.kpi}")
            if self.value is None:
                self.value = FORECAST_LEVEL
            if not 50 <= self.value <= 99:
                raise ValueError("a forecast rule's value is the prediction interval in %: "
                                 "between 50 and 99 (80 by default)")
            self.direction = self.direction or "outside"
            if self.days > 31:
                raise ValueError("a forecast rule looks at the last 31 days at most")
        if self.kind == "anomaly":
            if self.kpi not in ANOMALY_KPIS:
                raise ValueError(f"the anomaly monitor watches {', '.join(ANOMALY_KPIS)}, "
                                 f"not {self.kpi}")
            if self.value is None:
                self.value = ANOMALY_Z
            if not 1 <= self.value <= 20:
                raise ValueError("an anomaly rule's value is the |z| from which a day is "
                                 "unusual: between 1 and 20 (3.5 by default)")
            if self.days > 31:
                raise ValueError("an anomaly rule looks at the last 31 days at most")
        if self.value is None:
            raise ValueError(f"a {self.kind} rule needs a value")
        allowed = DIRECTIONS[self.kind]
        if self.direction not in allowed:
            raise ValueError(f"a {self.kind} rule's direction is {' or '.join(allowed)}, "
                             f"not {self.direction!r}")
        if self.kind == "change" and not 0 < self.value <= 1000:
            raise ValueError("a change rule's value is a percentage above 0 (at most 1000)")
        if self.kind == "threshold" and catalog.measure(self.kpi).kind == catalog.RATE \
                and not 0 <= self.value <= 1:
            raise ValueError(f"{self.kpi} is a rate: give the threshold as a fraction "
                             "between 0 and 1 (0.05 for 5 %)")
        return self


# ----------------------------------------------------------------- scope
def owner_scope(user: User) -> Scope:
    return Scope.of(user.countries)


def check_filters(filters: Filters, scope: Scope, warehouse=None) -> Filters:
    """Refuse a filter that reaches outside ``scope``: an ISO country code not in it, or
    (with a warehouse holding data) a value no line in the scope has."""
    if not scope.is_all:
        outside = sorted(value for value in filters.countries
                         if len(value) == 2 and value.isupper() and value not in scope.countries)
        if outside:
            raise AlertAccessDenied(f"the country filter {', '.join(outside)} is outside the "
                                    f"owner's data scope ({scope})")
    if warehouse is not None and warehouse.current_version() is not None:
        try:
            filter_values.resolve(warehouse, filters, scope)
        except FilterError as exc:
            raise AlertError(str(exc)) from None
    return filters


# ----------------------------------------------------------------- evaluation
@dataclass
class Evaluation:
    """What a rule's condition is now. ``met`` None: it could not be judged (``reason``)."""
    met: bool | None
    sentence: str
    start: dt.date | None = None
    end: dt.date | None = None
    current: float | None = None
    previous: float | None = None
    explanation: dict | None = None
    data_version: int | None = None
    reason: str | None = None
    details: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"met": self.met, "sentence": self.sentence,
                "period": {"start": _day(self.start), "end": _day(self.end)},
                "current": self.current, "previous": self.previous,
                "explanation": self.explanation, "data_version": self.data_version,
                "reason": self.reason}


def _day(value: dt.date | None) -> str | None:
    return value.isoformat() if value else None


def rule_period(warehouse, days: int, today: dt.date) -> tuple[dt.date, dt.date] | None:
    """The last ``days`` days of the data, ending on its last day or ``today`` (the
    earlier); None without data."""
    if warehouse.current_version() is None:
        return None
    _first, last = period.data_range(warehouse)
    if last is None:
        return None
    end = min(last, today)
    return period.days_before(end, days - 1), end


def evaluate(rule: AlertRule | AlertInput, warehouse, scope: Scope, today: dt.date,
             currency: str = "£", session: Session | None = None, *,
             explained: bool = True, told_through: dt.date | None = None) -> Evaluation:
    """Judge ``rule``'s condition on the current data under ``scope`` (no state changes).
    ``session`` (the app database) is needed by ``load_failed`` and ``delivery_failed``
    rules. ``explained`` False skips the explanation (a backtest screening days).
    ``told_through``: for an anomaly rule, the last day its previous message covered: only
    the days after it can make a new message (an unusual day stays in the rule's window for
    ``days`` days, and is one incident, told once)."""
    if rule.kind in OPERATIONAL:
        return _evaluate_operational(rule, warehouse, today, session)
    when = rule_period(warehouse, rule.days, today)
    if when is None:
        return Evaluation(None, "No data has been loaded yet.", reason="no data")
    start, end = when
    filters = Filters.from_query(rule.filters or "").with_period(start, end)
    if rule.kind == "anomaly":
        return _evaluate_anomaly(rule, warehouse, scope, filters, currency, explained,
                                 told_through)
    if rule.kind == "forecast":
        return _evaluate_forecast(rule, warehouse, scope, filters, currency, explained)
    last_year = getattr(rule, "compare", "previous") == "last_year"
    compared = filters.year_earlier() if last_year else filters.previous_period()
    kpi = kpis.kpi_summary(warehouse, filters, scope)[rule.kpi]
    if last_year:  # the same days a year before are the "current" of their own summary
        kpi = dataclasses.replace(
            kpi, previous=kpis.kpi_summary(warehouse, compared, scope)[rule.kpi].current)
    measure = catalog.measure(rule.kpi)
    version = warehouse.current_version()
    base = dict(start=start, end=end, current=_num(kpi.current),
                previous=_num(kpi.previous), data_version=version)
    label = measure.label
    if kpi.current is None:
        return Evaluation(None, f"{label} is empty for {_span(rule.days, end)}: "
                                f"{kpi.reason or 'no value'}.", reason=kpi.reason, **base)
    now_text = format_value(kpi.current, measure.kind, currency)
    versus = _versus_last_year(start, end) if last_year else _versus(rule.days)
    if rule.kind == "threshold":
        limit = format_value(rule.value, measure.kind, currency)
        met = (kpi.current < rule.value if rule.direction == "below"
               else kpi.current > rule.value)
        relation = rule.direction if met else ("not " + rule.direction)
        sentence = (f"{label} {_was(label)} {now_text} {_span(rule.days, end)}, {relation} "
                    f"the {limit} threshold.")
    else:
        if kpi.previous is None or kpi.rel_change is None:
            why = ("the same days a year before have no value to compare with" if last_year
                   else kpi.reason or "the previous period has no value to compare with")
            return Evaluation(None, f"{label} cannot be compared {versus}: {why}.",
                              reason=why, **base)
        change = kpi.rel_change * 100
        met = change <= -rule.value if rule.direction == "down" else change >= rule.value
        verb = "fell" if change < 0 else "rose"
        before = format_value(kpi.previous, measure.kind, currency)
        sentence = f"{label} {verb} {abs(change):.0f} % ({before} → {now_text}) {versus}"
        sentence += "." if met else f", within the {rule.value:g} % the rule allows."
    explanation = None
    if met and explained and kpi.previous is not None:
        explanation = explain(warehouse, filters, scope, rule.kpi, currency,
                              previous=compared)
        if explanation and explanation.get("sentence"):
            context = ""
            if rule.kind == "threshold":
                context = ("against the same days a year before, " if last_year
                           else f"against the previous {_days(rule.days)}, ")
            sentence = sentence.rstrip(".") + "; " + context + explanation["sentence"] + "."
    return Evaluation(met, sentence, explanation=explanation, **base)


def _versus_last_year(start: dt.date, end: dt.date) -> str:
    """"against 3–9 Mar 2024" (the same days a year before)."""
    first, last = period.minus_years(start), period.minus_years(end)
    return f"against the same days a year before ({_dates(first, last)})"


def _dates(first: dt.date, last: dt.date) -> str:
    if first == last:
        return f"{last.day} {last:%b %Y}"
    if (first.year, first.month) == (last.year, last.month):
        return f"{first.day}–{last.day} {last:%b %Y}"
    return f"{first.day} {first:%b %Y} – {last.day} {last:%b %Y}"


def daily_frame(warehouse, filters: Filters, scope: Scope, first: dt.date,
                end: dt.date):
    """The rule's daily series (``analytics.models.inputs.daily_series`` columns) from
    ``first`` (not before the data's first day: no made-up zeros) to ``end``, every day
    present (0 without sales; aov NaN)."""
    import pandas as pd

    from analytics.models.inputs import daily_series

    first = max(first, period.data_range(warehouse)[0])
    daily = daily_series(warehouse, filters.with_period(first, end), scope)
    days = pd.date_range(pd.Timestamp(first), pd.Timestamp(end), freq="D", unit="us")
    daily = daily.set_index("date").reindex(days).rename_axis("date").reset_index()
    for name in ("revenue", "gross_revenue", "returns", "orders", "units"):
        daily[name] = daily[name].fillna(0.0)
    return daily


def _evaluate_anomaly(rule, warehouse, scope: Scope, filters: Filters,
                      currency: str, explained: bool = True,
                      told_through: dt.date | None = None) -> Evaluation:
    """The anomaly monitor (``analytics.models.anomalies.robust_monitor``) over the last
    ``days`` days (those after ``told_through`` only): the most unusual day in the rule's
    direction, |z| ≥ ``value``."""
    import pandas as pd

    from analytics.models.anomalies import robust_monitor

    start, end = filters.start, filters.end
    daily = daily_frame(warehouse, filters, scope,
                        period.days_before(start, ANOMALY_WINDOW), end)
    monitor = robust_monitor(daily, rule.kpi, days=rule.days, window=ANOMALY_WINDOW,
                             threshold=rule.value)
    measure = catalog.measure(rule.kpi)
    version = warehouse.current_version()
    monitor = monitor[monitor["z"].notna()]
    if monitor.empty:
        return Evaluation(None, f"The anomaly monitor needs {ANOMALY_WINDOW} days before "
                                f"the days it checks; the data is shorter.",
                          start=start, end=end, reason="too few days", data_version=version)
    if told_through is not None:
        monitor = monitor[pd.to_datetime(monitor["date"]).dt.date > told_through]
        if monitor.empty:
            return Evaluation(False, f"No new day to judge since the last message (it "
                                     f"covered the days to {told_through.day} "
                                     f"{told_through:%b %Y}).", start=start, end=end,
                              data_version=version)
    sign = {"down": -1.0, "up": 1.0}.get(rule.direction)
    pushed = monitor["z"].astype(float) * (sign if sign else 1.0)
    if sign is None:
        pushed = pushed.abs()
    worst = monitor.loc[pushed.idxmax()]
    z = float(worst["z"])
    met = bool(pushed.max() >= rule.value)
    day = pd.Timestamp(worst["date"]).date()
    actual = format_value(float(worst["value"]), measure.kind, currency)
    expected = format_value(float(worst["expected"]), measure.kind, currency)
    how = "unusually low" if z < 0 else "unusually high"
    if met:
        sentence = (f"{measure.label} on {day.day} {day:%b %Y} {_was(measure.label)} "
                    f"{actual}, {how} against "
                    f"the {ANOMALY_WINDOW} days before (expected about {expected}, z = "
                    f"{z:+.1f})".replace("-", "−"))
    else:
        sentence = (f"No unusual day of {measure.label.lower()} {_span(rule.days, end)}"
                    f" (the most unusual: {day.day} {day:%b %Y}, z = {z:+.1f}; the rule "
                    f"fires from {rule.value:g})".replace("-", "−"))
    explanation = None
    if met and explained:
        one_day = filters.with_period(day, day)
        week_before = one_day.with_period(period.days_before(day, 7),
                                          period.days_before(day, 7))
        explanation = explain(warehouse, one_day, scope, rule.kpi, currency,
                              previous=week_before)
        if explanation:
            sentence += "; against the same day a week before, " + explanation["sentence"]
    return Evaluation(met, sentence + ".", start=start, end=end,
                      current=_num(worst["value"]), previous=_num(worst["expected"]),
                      explanation=explanation, data_version=version, details={"z": z})


def forecast_range(history, days: int, level: float) -> dict | None:
    """The forecast of the total of the ``days`` days after ``history`` (daily values,
    oldest first, gap-free) and its ``level`` % prediction interval, or None when the
    history is too short.

    As the forecast leaderboard does (``analytics.models.forecast_models``), with its fast
    models (``FORECAST_MODELS``): each candidate forecasts the last ``FORECAST_FOLDS``
    stretches of ``days`` days of the history (ending a week apart, each from the days
    before it); the one with the smaller mean error on the totals is chosen (the first
    listed wins ties), and the interval is its forecast plus the quantiles of its errors
    (``residual_bounds``). Keys: ``model``, ``forecast``, ``lower``, ``upper``, ``folds``."""
    import numpy as np
    import pandas as pd

    from analytics.models import forecast_models as fm

    values = np.asarray(history, dtype=float)[-FORECAST_HISTORY:]
    ends = [len(values) - 7 * k for k in range(FORECAST_FOLDS)]
    origins = [end - days for end in ends if end - days >= FORECAST_MIN_TRAIN]
    if len(origins) < FORECAST_MIN_FOLDS:
        return None
    setup = fm.Setup(interval=level / 100)

    def total(model, train) -> float:
        series = pd.Series(train, index=pd.RangeIndex(len(train)))
        return float(np.clip(model(series, days, setup).forecast, 0, None).sum())

    best = None
    for name in FORECAST_MODELS:
        model = fm.CANDIDATES[name]
        try:
            errors = np.array([values[origin:origin + days].sum() - total(model, values[:origin])
                               for origin in origins])
        except Exception:  # a model that cannot fit this history leaves the race
            log.info("forecast alert: %s could not be backtested", name, exc_info=True)
            continue
        if not np.isfinite(errors).all():
            continue
        score = float(np.abs(errors).mean())
        if best is None or score < best[1]:
            best = (name, score, errors)
    if best is None:
        return None
    name, _score, errors = best
    forecast = total(fm.CANDIDATES[name], values)
    low, high = fm.residual_bounds(errors, level / 100)
    return {"model": name, "forecast": forecast, "lower": max(forecast + low, 0.0),
            "upper": max(forecast + high, 0.0), "folds": len(origins)}


def _evaluate_forecast(rule, warehouse, scope: Scope, filters: Filters, currency: str,
                       explained: bool = True, daily=None) -> Evaluation:
    """The KPI's total over the last ``days`` days against the forecast's ``value`` %
    interval made from the data before them (``forecast_range``). ``daily`` (the rule's
    ``daily_frame`` reaching at least to the period's end) saves the query."""
    import pandas as pd

    start, end = filters.start, filters.end
    if daily is None:
        daily = daily_frame(warehouse, filters, scope,
                            period.days_before(start, FORECAST_HISTORY), end)
    dates = pd.to_datetime(daily["date"]).dt.date
    history = daily.loc[dates < start, rule.kpi].to_numpy(dtype=float)
    actual = float(daily.loc[(dates >= start) & (dates <= end), rule.kpi].sum())
    version = warehouse.current_version()
    measure = catalog.measure(rule.kpi)
    level = f"{rule.value:g} %"
    predicted = forecast_range(history, rule.days, rule.value)
    if predicted is None:
        need = FORECAST_MIN_TRAIN + rule.days + 7 * (FORECAST_MIN_FOLDS - 1)
        return Evaluation(None, f"The forecast needs {need} days of data before the "
                                f"{_days(rule.days)} it checks; the data is shorter.",
                          start=start, end=end, current=actual, reason="too few days",
                          data_version=version)
    low, high = predicted["lower"], predicted["upper"]
    below, above = actual < low, actual > high
    met = {"below": below, "above": above}.get(rule.direction, below or above)
    where = "below" if below else "above" if above else "within"
    money = (format_value(low, measure.kind, currency), format_value(high, measure.kind, currency))
    sentence = (f"{measure.label} {_span(rule.days, end)} {_was(measure.label)} "
                f"{format_value(actual, measure.kind, currency)}, {where} the forecast's "
                f"{level} range ({money[0]}–{money[1]})")
    explanation = None
    if met and explained:
        explanation = explain(warehouse, filters, scope, rule.kpi, currency)
        if explanation:
            sentence += (f"; against the previous {_days(rule.days)}, "
                         + explanation["sentence"])
    return Evaluation(met, sentence + ".", start=start, end=end, current=actual,
                      previous=predicted["forecast"], explanation=explanation,
                      data_version=version,
                      details={"lower": low, "upper": high, "model": predicted["model"]})


def _evaluate_operational(rule, warehouse, today: dt.date,
                          session: Session | None) -> Evaluation:
    version = warehouse.current_version()
    if rule.kind == "stale_data":
        last = period.data_range(warehouse)[1] if version is not None else None
        if last is None:
            return Evaluation(True, "No data has been loaded yet.", data_version=version)
        age = (today - last).days
        allowed = int(rule.value)
        met = age > allowed
        sentence = (f"The newest data is from {last.day} {last:%b %Y}, {age} day"
                    f"{'' if age == 1 else 's'} old; the rule allows {allowed}.")
        return Evaluation(met, sentence, end=last, current=float(age),
                          previous=float(allowed), data_version=version)
    if session is None:
        return Evaluation(None, "Loads and deliveries are checked in the app database.",
                          reason="no app database")
    if rule.kind == "delivery_failed":
        return _evaluate_deliveries(rule, session, version)
    load = session.scalar(sa.select(DataLoad).where(DataLoad.status.in_(("done", "failed")))
                          .order_by(DataLoad.id.desc()).limit(1))
    if load is None:
        return Evaluation(False, "No data load has finished yet.", data_version=version)
    when = f"{load.finished_at:%d %b %Y %H:%M} UTC" if load.finished_at else "?"
    if load.status == "failed":
        return Evaluation(True, f"The data load #{load.id} ({load.source}) failed at {when}: "
                                f"{load.error or 'no reason recorded'}.", data_version=version)
    return Evaluation(False, f"The newest data load #{load.id} ({load.source}) succeeded at "
                             f"{when}.", data_version=version)


def _evaluate_deliveries(rule, session: Session, version: int | None) -> Evaluation:
    """Deliveries (reports and alert messages) failed after their last attempt (attempts
    used up, or no retry planned) since the rule last fired; this rule's own messages are
    left out (a webhook that is down must not alert about itself forever), and so are
    failed "send test" messages."""
    from core.mail import MAX_ATTEMPTS

    given_up = [Delivery.status == "failed",
                sa.or_(Delivery.attempts >= MAX_ATTEMPTS, Delivery.next_attempt_at.is_(None)),
                # a "send test" that failed was shown to whoever pressed the button
                sa.or_(Delivery.idempotency_key.is_(None),
                       Delivery.idempotency_key.not_like("test:%"))]
    since = getattr(rule, "last_fired_at", None)
    if since is not None:
        given_up.append(Delivery.updated_at > since)
    rule_id = getattr(rule, "id", None)
    if rule_id is not None:
        own = sa.select(AlertFiring.id).where(AlertFiring.rule_id == rule_id)
        given_up.append(sa.or_(Delivery.firing_id.is_(None), Delivery.firing_id.not_in(own)))
    failed = list(session.scalars(sa.select(Delivery).where(*given_up)
                                  .order_by(Delivery.updated_at.desc(), Delivery.id.desc())))
    after = f" since {since:%d %b %Y %H:%M} UTC" if since else ""
    if not failed:
        return Evaluation(False, f"No delivery failed for good{after}.", current=0.0,
                          data_version=version)
    reports = sum(1 for item in failed if item.job_id is not None)
    newest = failed[0]
    what = "a report" if newest.job_id is not None else "an alert"
    count = len(failed)
    kinds = ", ".join(text for number, noun in ((reports, "report"),
                                                (count - reports, "alert message"))
                      if number for text in [f"{number} {noun}{'' if number == 1 else 's'}"])
    sentence = (f"{count} deliver{'y' if count == 1 else 'ies'} failed after the last "
                f"attempt{after} ({kinds}); the newest, {what} "
                f"{'webhook' if newest.channel == 'webhook' else 'e-mail'} to "
                f"{newest.recipient}: {newest.last_error or 'no reason recorded'}")
    return Evaluation(True, sentence.rstrip(".") + ".", current=float(count),
                      data_version=version,
                      details={"delivery_ids": [item.id for item in failed]})


def _num(value) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _was(label: str) -> str:
    """"Orders were", "Revenue was"."""
    return "were" if label.endswith("s") else "was"


def _days(days: int) -> str:
    return "day" if days == 1 else f"{days} days"


def _versus(days: int) -> str:
    return {1: "day on day", 7: "week on week", 28: "against the previous 4 weeks"}.get(
        days, f"against the previous {days} days")


def _span(days: int, end: dt.date) -> str:
    what = "on" if days == 1 else f"over the {days} days to"
    return f"{what} {end.day} {end:%b %Y}"


def explain(warehouse, filters: Filters, scope: Scope, kpi: str,
            currency: str = "£", previous: Filters | None = None) -> dict | None:
    """The slices that account for most of the change of ``kpi`` between ``filters``'
    period and the previous one, per explaining dimension, under ``scope``. None when no
    dimension has a change. See the module docstring."""
    metric = kpi if kpi in _SLICE_METRICS else "revenue"
    measure = catalog.measure(metric)
    previous = previous if previous is not None else filters.previous_period()
    by_dimension: dict[str, dict] = {}
    for dimension in (d for d in catalog.DIMENSIONS if d.explains_anomalies):
        now = breakdowns.breakdown(warehouse, filters, scope, dimension.name, metric=metric)
        before = breakdowns.breakdown(warehouse, previous, scope, dimension.name,
                                      metric=metric)
        values: dict[str, dict] = {}
        for frame, column in ((before, "previous"), (now, "current")):
            for row in frame.itertuples(index=False):
                entry = values.setdefault(row.key, {"key": row.key, "label": str(row.label),
                                                    "previous": 0.0, "current": 0.0})
                number = getattr(row, metric)
                entry[column] = 0.0 if number is None or number != number else float(number)
        total = sum(entry["current"] - entry["previous"] for entry in values.values())
        if len(values) < 2 or abs(total) < 1e-9:
            continue  # one value (one product, no categories) explains nothing
        sign = 1 if total > 0 else -1
        ranked = sorted(values.values(),
                        key=lambda e: (-(e["current"] - e["previous"]) * sign, e["key"]))
        contributors, covered = [], 0.0
        for entry in ranked:
            change = entry["current"] - entry["previous"]
            if change * sign <= 0 or len(contributors) >= MAX_CONTRIBUTORS \
                    or covered >= EXPLAINED_SHARE:
                break
            share = change / total
            covered += share
            contributors.append({**entry, "change": change, "share": share})
        if contributors:
            by_dimension[dimension.name] = {"label": dimension.label, "total_change": total,
                                            "contributors": contributors}
    if not by_dimension:
        return None
    lead_name = max(by_dimension, key=lambda name: (
        by_dimension[name]["contributors"][0]["share"], -list(by_dimension).index(name)))
    lead = by_dimension[lead_name]
    top = lead["contributors"][0]
    noun = "drop" if lead["total_change"] < 0 else "rise"
    amount = (format_money(top["change"], currency) if measure.kind == catalog.MONEY
              else f"{top['change']:+,.0f}".replace("-", "−"))
    if measure.kind == catalog.MONEY and top["change"] > 0:
        amount = "+" + amount
    of_what = "" if metric == kpi else f" in {measure.label.lower()}"
    if top["share"] > 1:  # other values moved the other way
        plural = catalog.dimension(lead_name).plural.lower()
        sentence = (f"{top['label']} alone accounts for more than the whole {noun}{of_what} "
                    f"({amount}; other {plural} moved the other way)")
    else:
        sentence = (f"{top['label']} accounts for {top['share'] * 100:.0f} % of the {noun}"
                    f"{of_what} ({amount})")
    return {"metric": metric, "lead": lead_name, "sentence": sentence,
            "dimensions": by_dimension}


# ----------------------------------------------------------------- state
def step(rule: AlertRule, evaluation: Evaluation, now: dt.datetime) -> str:
    """Move ``rule``'s state on an evaluation; return what to do: "fire", "cooling"
    (met, already told), "snoozed" (met, snoozed), "quiet" (not met) or "unknown"."""
    rule.last_evaluated_at = now
    if evaluation.met is None:
        return "unknown"
    if not evaluation.met:
        rule.armed = True
        return "quiet"
    if rule.snoozed_until is not None and rule.snoozed_until > now:
        return "snoozed"
    cooled = (rule.last_fired_at is not None and rule.cooldown_hours > 0
              and now - rule.last_fired_at >= dt.timedelta(hours=rule.cooldown_hours))
    if rule.armed or cooled:
        rule.armed = False
        rule.last_fired_at = now
        return "fire"
    return "cooling"


# ----------------------------------------------------------------- services
def _validate(actor: User, data: dict, owner: User, warehouse=None,
              settings=None, *, check_webhook: bool = True) -> AlertInput:
    if not actor.is_active or not actor.has_role("analyst"):
        raise AlertAccessDenied("alerts need the analyst or admin role")
    if not actor.has_role("admin") and owner.id != actor.id:
        raise AlertAccessDenied("this alert belongs to another user")
    try:
        values = AlertInput.model_validate(data)
    except pydantic.ValidationError as exc:
        raise AlertError(format_validation_error(exc, subject="alert")) from None
    if values.kind in OPERATIONAL and not owner.has_role("admin"):
        raise AlertAccessDenied("operational alerts (stale data, failed loads, failed "
                                "deliveries) are for admins")
    check_filters(Filters.from_query(values.filters), owner_scope(owner), warehouse)
    if values.webhook_url and check_webhook:
        from core import webhooks
        from core.settings import load_settings
        try:
            values.webhook_url = webhooks.validate_url(values.webhook_url,
                                                       settings or load_settings())
        except webhooks.WebhookRefused as exc:
            raise AlertError(str(exc)) from None
    return values


def create_rule(session: Session, actor: User, data: dict, *, owner: User | None = None,
                warehouse=None, settings=None) -> AlertRule:
    """Create a rule owned by ``owner`` (default: the actor). The caller commits.
    ``settings`` decide which webhook URLs are allowed (``core.webhooks``)."""
    owner = owner or actor
    values = _validate(actor, data, owner, warehouse, settings)
    _follow_view(session, owner, values, warehouse, given=data.get("filters"))
    rule = AlertRule(owner_id=owner.id, armed=True, **values.model_dump())
    session.add(rule)
    session.flush()
    audit.record(session, "alert_changed", actor=actor, target=str(rule.id),
                 detail={"change": "created", "name": rule.name})
    return rule


def get_rule(session: Session, actor: User, rule_id: int) -> AlertRule:
    """The rule, for its owner or an admin."""
    return owned.get(session, actor, AlertRule, rule_id, not_found=AlertNotFound,
                     denied=AlertAccessDenied, noun="alert")


def list_rules(session: Session, actor: User) -> list[AlertRule]:
    """The actor's rules (all of them for an admin)."""
    return owned.listed(session, actor, AlertRule)


def update_rule(session: Session, actor: User, rule_id: int, changes: dict, *,
                warehouse=None, settings=None) -> AlertRule:
    """Change some fields; a changed condition re-arms the rule. The caller commits."""
    rule = get_rule(session, actor, rule_id)
    current = {name: getattr(rule, name) for name in AlertInput.model_fields}
    # a webhook is checked when it changes (pausing must not depend on its DNS); the run
    # checks it again at every post
    values = _validate(actor, {**current, **changes}, rule.owner, warehouse, settings,
                       check_webhook=(changes.get("webhook_url") or None) != rule.webhook_url
                       and bool(changes.get("webhook_url")))
    _follow_view(session, rule.owner, values, warehouse, given=changes.get("filters"))
    condition = ("kind", "kpi", "direction", "value", "days", "filters", "compare")
    if any(getattr(rule, name) != getattr(values, name) for name in condition):
        rule.armed = True
    for name, value in values.model_dump().items():
        setattr(rule, name, value)
    audit.record(session, "alert_changed", actor=actor, target=str(rule.id),
                 detail={"change": "updated", "fields": sorted(changes)})
    return rule


def _follow_view(session: Session, owner: User, values: AlertInput, warehouse,
                 given: str | None) -> None:
    """A rule that follows a saved view takes the view's filters (not its dates: the rule
    watches its own last N days); the view must be one the owner may open, and filters
    given beside it are refused."""
    if values.saved_view_id is None:
        return
    if given:
        raise AlertError("an alert follows a saved view or has its own filters, not both")
    values.filters = view_filters(session, owner, values.saved_view_id, warehouse)
    check_filters(Filters.from_query(values.filters), owner_scope(owner), warehouse)


def view_filters(session: Session, owner: User, view_id: int, warehouse) -> str:
    """The filters of saved view ``view_id`` as a rule watches them (without dates)."""
    from core import views

    try:
        view = views.get_view(session, owner, view_id)
    except views.ViewNotFound:
        raise AlertError(f"saved_view_id: there is no saved view {view_id} that the "
                         "alert's owner may open") from None
    return views.resolve(view, warehouse)[1].without_dates().to_query()


def refresh_from_view(session: Session, rule: AlertRule, warehouse) -> None:
    """Before a run: copy the followed view's current filters onto the rule (a changed
    view changes the rule, which is re-armed). A view the owner may no longer open leaves
    the rule on its last filters and stops following it, telling the owner."""
    if rule.saved_view_id is None:
        return
    try:
        filters = view_filters(session, rule.owner, rule.saved_view_id, warehouse)
    except AlertError:
        from core import notifications
        rule.saved_view_id = None
        notifications.notify(session, rule.owner, "alert",
                             f"Alert “{rule.name}” no longer follows its saved view",
                             body="The view is no longer one you may open; the alert keeps "
                                  "the filters it had.", link="/alerts",
                             ref=f"rule:{rule.id}")
        return
    if filters != rule.filters:
        rule.filters, rule.armed = filters, True


def delete_rule(session: Session, actor: User, rule_id: int) -> None:
    rule = get_rule(session, actor, rule_id)
    session.execute(sa.delete(AlertFiring).where(AlertFiring.rule_id == rule.id))
    audit.record(session, "alert_changed", actor=actor, target=str(rule.id),
                 detail={"change": "deleted", "name": rule.name})
    session.delete(rule)
    session.flush()


def firings(session: Session, actor: User, rule_id: int, limit: int = 100) -> list[AlertFiring]:
    rule = get_rule(session, actor, rule_id)
    return list(session.scalars(sa.select(AlertFiring).where(AlertFiring.rule_id == rule.id)
                                .order_by(AlertFiring.id.desc()).limit(limit)))


def try_rule(session: Session, actor: User, rule_id: int, warehouse, *,
              today: dt.date | None = None, currency: str = "£") -> dict:
    """Evaluate the rule now without changing it or sending anything: whether it would
    fire, and why (or why not)."""
    rule = get_rule(session, actor, rule_id)
    evaluation = evaluate(rule, warehouse, owner_scope(rule.owner), today or dt.date.today(),
                          currency, session)
    now = utcnow()
    if evaluation.met is None:
        would = "unknown"
    elif not evaluation.met:
        would = "quiet"
    elif rule.snoozed_until is not None and rule.snoozed_until > now:
        would = "snoozed"
    elif rule.armed or (rule.last_fired_at is not None and rule.cooldown_hours > 0 and
                        now - rule.last_fired_at >= dt.timedelta(hours=rule.cooldown_hours)):
        would = "fire"
    else:
        would = "cooling"
    return {**evaluation.to_dict(), "would": would}


# ----------------------------------------------------------------- backtest
#: A backtest evaluates each day as the run after that day's load would (06:00 UTC).
_RUN_HOUR = 6


@dataclass
class _State:
    """A rule's state in a backtest (what ``step`` moves), starting armed."""
    cooldown_hours: int
    armed: bool = True
    last_fired_at: dt.datetime | None = None
    last_evaluated_at: dt.datetime | None = None
    snoozed_until: dt.datetime | None = None


def backtest(session: Session, actor: User, rule: int | AlertInput | dict, warehouse, *,
             days: int = 90, start: dt.date | None = None, end: dt.date | None = None,
             currency: str = "£", today: dt.date | None = None) -> dict:
    """Replay ``rule`` (a saved rule's id, or a rule not saved yet) as of each day of a
    range: the last ``days`` days of the data, or ``start``…``end``. Nothing is changed or
    sent. Each day the rule sees only the data up to that day, under its owner's scope,
    and the cool-down is applied as the run would (``step``); returns the days it would
    have fired, each with its sentence and explanation.

    Fast: the rule's daily series is read once for the whole range (one query) and each
    day is judged on it; only the days that would fire are evaluated in full (the
    sentence and explanation of ``evaluate``). KPIs that are not sums of their days
    (customers, rates) are evaluated day by day."""
    if isinstance(rule, int):
        saved = get_rule(session, actor, rule)
        values, owner = AlertInput.model_validate(
            {name: getattr(saved, name) for name in AlertInput.model_fields}), saved.owner
    else:
        owner = actor
        data = rule.model_dump() if isinstance(rule, AlertInput) else dict(rule)
        # nothing is sent: where it would go is checked when the rule is saved
        data.update(email=True, webhook_url=None)
        values = _validate(actor, data, owner, warehouse)
    if values.kind in OPERATIONAL:
        raise AlertError("a backtest replays KPI rules on the sales data; operational "
                         "rules (stale data, failed loads or deliveries) have no history to "
                         "replay")
    if warehouse.current_version() is None:
        raise AlertError("no data has been loaded yet: nothing to replay")
    first_day, last_day = period.data_range(warehouse)
    last_day = min(last_day, today or dt.date.today())
    end = min(end or last_day, last_day)
    if start is None:
        if not 1 <= days <= BACKTEST_MAX_DAYS:
            raise AlertError(f"days: a backtest covers 1 to {BACKTEST_MAX_DAYS} days")
        start = period.days_before(end, days - 1)
    start = max(start, first_day)
    if start > end:
        raise AlertError(f"start: the range {start}…{end} is empty (the data covers "
                         f"{first_day}…{last_day})")
    if (end - start).days + 1 > BACKTEST_MAX_DAYS:
        raise AlertError(f"start, end: a backtest covers at most {BACKTEST_MAX_DAYS} days")
    scope = owner_scope(owner)
    screened = _screen(values, warehouse, scope, start, end, currency)
    state = _State(values.cooldown_hours)
    fired, unknown = [], 0
    told_through = None  # an anomaly rule tells each unusual day once
    for day, met in screened:
        now = dt.datetime.combine(period.plus_days(day, 1), dt.time(_RUN_HOUR))
        if met is None:
            unknown += 1
            continue
        if not met:
            step(state, Evaluation(False, ""), now)
            continue
        cooled = (state.last_fired_at is not None and state.cooldown_hours > 0
                  and now - state.last_fired_at >= dt.timedelta(hours=state.cooldown_hours))
        if not (state.armed or cooled):
            step(state, Evaluation(True, ""), now)  # cooling: the same incident
            continue
        evaluation = evaluate(values, warehouse, scope, day, currency, session,
                              told_through=told_through)
        if step(state, evaluation, now) == "fire":
            fired.append({"day": day.isoformat(), **evaluation.to_dict()})
            told_through = evaluation.end
    total = (end - start).days + 1
    count = len(fired)
    summary = (f"“{values.name}” would have fired on {count} day{'' if count == 1 else 's'} "
               f"of the {total} from {_dates(start, end)}"
               + (f" ({unknown} could not be judged)" if unknown else "") + ".")
    return {"start": start.isoformat(), "end": end.isoformat(), "days": total,
            "count": count, "unknown": unknown, "summary": summary, "fired": fired}


def _screen(rule: AlertInput, warehouse, scope: Scope, start: dt.date, end: dt.date,
            currency: str) -> list[tuple[dt.date, bool | None]]:
    """Whether ``rule``'s condition holds as of each day of ``start``…``end``."""
    import pandas as pd

    filters = Filters.from_query(rule.filters or "")
    days = [period.plus_days(start, offset) for offset in range((end - start).days + 1)]
    first_day = period.data_range(warehouse)[0]

    def periods(day: dt.date) -> tuple[dt.date, dt.date]:
        return max(period.days_before(day, rule.days - 1), dt.date.min), day

    if rule.kind == "anomaly":
        from analytics.models.anomalies import robust_monitor
        reach = period.days_before(start, rule.days - 1 + ANOMALY_WINDOW)
        daily = daily_frame(warehouse, filters, scope, reach, end)
        monitor = robust_monitor(daily, rule.kpi, days=len(daily), window=ANOMALY_WINDOW,
                                 threshold=rule.value)
        z = {pd.Timestamp(row.date).date(): row.z for row in monitor.itertuples()
             if row.z is not None and row.z == row.z}
        sign = {"down": -1.0, "up": 1.0}.get(rule.direction)
        out = []
        for day in days:
            window = [z[d] for d in _span_days(*periods(day)) if d in z]
            if not window:
                out.append((day, None))
                continue
            pushed = [abs(v) if sign is None else v * sign for v in window]
            out.append((day, max(pushed) >= rule.value))
        return out
    if rule.kind == "forecast":
        reach = period.days_before(start, rule.days - 1 + FORECAST_HISTORY)
        daily = daily_frame(warehouse, filters, scope, reach, end)
        out = []
        for day in days:
            first, last = periods(day)
            if first < first_day:
                out.append((day, None))
                continue
            evaluation = _evaluate_forecast(rule, warehouse, scope,
                                            filters.with_period(first, last), currency,
                                            explained=False, daily=daily)
            out.append((day, evaluation.met))
        return out
    if rule.kpi not in ANOMALY_KPIS:  # not a sum of days: judged day by day
        return [(day, evaluate(rule, warehouse, scope, day, currency, explained=False).met)
                for day in days]
    last_year = rule.compare == "last_year"
    reach = period.days_before(start, rule.days - 1)
    if rule.kind == "change":
        reach = (period.minus_years(reach) if last_year
                 else period.days_before(reach, rule.days))
    daily = daily_frame(warehouse, filters, scope, reach, end)
    columns = ("gross_revenue", "orders") if rule.kpi == "aov" else (rule.kpi,)
    cumulative = {name: daily[name].cumsum().to_numpy() for name in columns}
    index = {pd.Timestamp(d).date(): i for i, d in enumerate(daily["date"])}

    def value(first: dt.date, last: dt.date) -> float | None:
        first = max(first, first_day)  # as the run sums them: no sales before the data
        if last < first:
            return 0.0 if rule.kpi != "aov" else None
        sums = {name: float(values[index[last]] - (values[index[first] - 1]
                                                   if index[first] else 0.0))
                for name, values in cumulative.items()}
        if rule.kpi == "aov":
            return sums["gross_revenue"] / sums["orders"] if sums["orders"] else None
        return sums[rule.kpi]

    out = []
    for day in days:
        first, last = periods(day)
        current = value(first, last)
        if current is None:
            out.append((day, None))
            continue
        if rule.kind == "threshold":
            out.append((day, current < rule.value if rule.direction == "below"
                        else current > rule.value))
            continue
        if last_year:
            before = value(period.minus_years(first), period.minus_years(last))
        else:
            before = value(period.days_before(first, rule.days),
                           period.days_before(first, 1))
        if not before:
            out.append((day, None))
            continue
        change = (current - before) / abs(before) * 100
        out.append((day, change <= -rule.value if rule.direction == "down"
                    else change >= rule.value))
    return out


def _span_days(first: dt.date, last: dt.date) -> list[dt.date]:
    return [period.plus_days(first, offset) for offset in range((last - first).days + 1)]


# ----------------------------------------------------------------- shapes
def describe(rule, currency: str = "£") -> str:
    """The rule in one plain sentence: "Tell me when orders fall more than 20 % against
    the previous 7 days" (``rule``: an AlertRule, an AlertInput or a dict of its fields;
    the Alerts page previews it while the form is filled in)."""
    get = rule.get if isinstance(rule, dict) else (lambda name, default=None:
                                                   getattr(rule, name, default))
    kind, days, value = get("kind"), int(get("days") or 7), get("value")
    if kind == "stale_data":
        return f"Tell me when the newest data is more than {value or '?'} days old"
    if kind == "load_failed":
        return "Tell me when a data load fails"
    if kind == "delivery_failed":
        return "Tell me when a report or alert message fails after its last attempt"
    kpi = get("kpi") or ""
    label = catalog.measure(kpi).label.lower() if kpi in catalog.KPI_NAMES else "the KPI"
    plural = label.endswith("s")
    span = "on the latest day" if days == 1 else f"over the last {days} days"
    if kind == "threshold":
        amount = ("?" if value is None else
                  format_value(value, catalog.measure(kpi).kind, currency)
                  if kpi in catalog.KPI_NAMES else f"{value:g}")
        where = {"below": "below", "above": "above"}.get(get("direction"), "below or above")
        text = f"Tell me when {label} {span} {'are' if plural else 'is'} {where} {amount}"
    elif kind == "change":
        verb = {"down": "fall", "up": "rise"}.get(get("direction"), "move")
        verb = verb if plural else verb + "s"
        against = ("the same days last year" if get("compare") == "last_year"
                   else "the previous day" if days == 1 else f"the previous {days} days")
        amount = "?" if value is None else f"{value:g}"
        text = f"Tell me when {label} {verb} more than {amount} % against {against}"
    elif kind == "anomaly":
        how = {"down": "unusually low", "up": "unusually high"}.get(get("direction"),
                                                                     "unusual")
        z = ANOMALY_Z if value is None else value
        text = (f"Tell me when a day of {label} {span} is {how} for the anomaly monitor "
                f"(|z| ≥ {z:g})")
    elif kind == "forecast":
        how = {"below": "falls below", "above": "rises above"}.get(get("direction"),
                                                                   "falls outside")
        level = FORECAST_LEVEL if value is None else value
        text = f"Tell me when {label} {span} {how} the forecast's {level:g} % range"
    else:
        return "Choose a kind of alert"
    filters = get("filters") or ""
    return text + (f", for {filters}" if filters else "")


def rule_state(rule: AlertRule, now: dt.datetime | None = None) -> str:
    """"paused", "snoozed until 12 Mar 2025 09:00 UTC", "cooling" (fired; waits for the
    condition to clear or the cool-down to pass) or "armed"."""
    now = now or utcnow()
    if not rule.is_active:
        return "paused"
    if rule.snoozed_until is not None and rule.snoozed_until > now:
        return f"snoozed until {rule.snoozed_until:%d %b %Y %H:%M} UTC"
    return "armed" if rule.armed else "cooling"


def rule_to_dict(rule: AlertRule) -> dict:
    return {"id": rule.id, "name": rule.name, "owner": rule.owner.email, "kind": rule.kind,
            "kpi": rule.kpi, "direction": rule.direction, "value": rule.value,
            "days": rule.days, "filters": rule.filters, "compare": rule.compare or "previous",
            "saved_view_id": rule.saved_view_id,
            "email": bool(rule.email), "webhook_url": rule.webhook_url,
            "cooldown_hours": rule.cooldown_hours,
            "is_active": rule.is_active, "armed": rule.armed, "state": rule_state(rule),
            "snoozed_until": _iso(rule.snoozed_until),
            "last_evaluated_at": _iso(rule.last_evaluated_at),
            "last_fired_at": _iso(rule.last_fired_at)}


def firing_deliveries(session: Session, firing_ids: list[int]) -> dict[int, list[Delivery]]:
    """The ledger rows of some firings, by firing id, oldest first."""
    found: dict[int, list[Delivery]] = {firing_id: [] for firing_id in firing_ids}
    if firing_ids:
        for delivery in session.scalars(sa.select(Delivery).where(
                Delivery.firing_id.in_(firing_ids)).order_by(Delivery.id)):
            found[delivery.firing_id].append(delivery)
    return found


def firing_to_dict(firing: AlertFiring, deliveries: list[Delivery] | None = None) -> dict:
    """The firing and how each of its messages went (``deliveries``: its ledger rows;
    read from the firing's session when not given)."""
    if deliveries is None:
        session = object_session(firing)
        deliveries = firing_deliveries(session, [firing.id])[firing.id] if session else []
    return {"id": firing.id, "rule_id": firing.rule_id, "fired_at": _iso(firing.fired_at),
            "period": {"start": _day(firing.period_start), "end": _day(firing.period_end)},
            "current": firing.current, "previous": firing.previous,
            "sentence": firing.sentence, "explanation": firing.explanation,
            "data_version": firing.data_version,
            "deliveries": [delivery_to_dict(item) for item in deliveries]}


def delivery_to_dict(delivery: Delivery) -> dict:
    return {"id": delivery.id, "channel": delivery.channel or "email",
            "recipient": delivery.recipient, "status": delivery.status,
            "attempts": delivery.attempts or 0, "last_error": delivery.last_error,
            "sent_at": _iso(delivery.sent_at)}


def get_firing(session: Session, actor: User, firing_id: int) -> AlertFiring:
    """One firing, for the owner of its rule or an admin (another's is not found)."""
    firing = session.get(AlertFiring, firing_id)
    if firing is None:
        raise AlertNotFound(f"there is no alert firing {firing_id}")
    get_rule(session, actor, firing.rule_id)
    return firing


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") + "Z" if value else None
