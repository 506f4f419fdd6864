"""Alerts: rules any analyst sets on a KPI and some filters, evaluated after every data load
and by Celery beat, e-mailed to their owner with the slices that explain them.

Kinds of rule (``AlertRule.kind``):

* ``threshold``: the KPI over the last ``days`` days is ``below`` / ``above`` ``value``
  ("revenue below £3,000 over the last day");
* ``change``: the KPI moved ``down`` / ``up`` by more than ``value`` % against the previous
  ``days`` days ("orders down more than 20 % week on week");
* ``anomaly``: a day of the last ``days`` days is unusual for the anomaly monitor
  (``analytics.models.anomalies.robust_monitor``: against the 28 days before it, weekly
  pattern removed) with |z| ≥ ``value`` (3.5), ``down``, ``up`` or ``any``; explained by
  the slices against the same day a week before.

Operational rules, for admins: ``stale_data`` (the newest data is more than ``value`` days
old) and ``load_failed`` (the newest finished data load failed; the next good load re-arms
it). They have no KPI, filters or explanation.

The period is the last ``days`` days of the data, ending on the data's last day (or on
``today`` when the data reaches further), so an alert after a load looks at what was just
loaded. Every number is ``analytics.kpis.kpi_summary`` (METRICS.md) under the OWNER's data
scope: a rule's filters can only narrow it, and a filter naming data outside the scope is
refused when the rule is saved.

The explanation: for each dimension of the catalog flagged ``explains_anomalies``, the
breakdown of the period and of the previous period (``analytics.breakdowns.breakdown``,
same scope); each value's change; the values that account for most of the change (largest
first, same sign as the total, until 80 %, at most 3). The dimension whose first value
accounts for the largest share makes the sentence: "Revenue fell 32 % (£4,120 → £2,800)
week on week; France accounts for 71 % of the drop (−£940)." KPIs that are not sums (AOV,
rates) are explained by the slices' net revenue.

One incident, one message: a rule that fired is disarmed; it fires again only after its
condition was false once (re-armed) or ``cooldown_hours`` passed since it fired. While
``snoozed_until`` is in the future it sends nothing (its state is still followed).

Firings (``AlertFiring``) keep the numbers, the sentence, the explanation and how the
e-mail went (``status`` sent | failed, ``attempts``, ``last_error``; a failed e-mail is
retried at each run for a day, ``mail.MAX_ATTEMPTS`` times at most); e-mails go through
``core.mail`` (SMTP, or the outbox folder when SMTP_HOST is unset).
"""
from __future__ import annotations

import datetime as dt
import logging
import math
from dataclasses import dataclass, field
from typing import Annotated, Literal

import pydantic
import sqlalchemy as sa
from sqlalchemy.orm import Session

from analytics import breakdowns, catalog, filter_values, kpis, period
from analytics.errors import (AccessDenied, InvalidInput, NotFound, format_validation_error)
from analytics.filters import FilterError, Filters, Scope
from core import audit, owned
from core.formatting import format_money, format_value
from core.orm import AlertFiring, AlertRule, DataLoad, User, utcnow

log = logging.getLogger(__name__)

KINDS = ("threshold", "change", "anomaly", "stale_data", "load_failed")
DIRECTIONS = {"threshold": ("below", "above"), "change": ("down", "up"),
              "anomaly": ("down", "up", "any")}
#: What the anomaly monitor watches (``analytics.models.inputs.daily_series`` columns).
ANOMALY_KPIS = ("revenue", "gross_revenue", "returns", "orders", "units", "aov")
#: The monitor's default |z| and the days before each day it compares with.
ANOMALY_Z = 3.5
ANOMALY_WINDOW = 28
#: Operational rules (admins): the data is older than ``value`` days; the newest load failed.
OPERATIONAL = ("stale_data", "load_failed")
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
    kind: Literal["threshold", "change", "anomaly", "stale_data", "load_failed"]
    kpi: str = ""
    direction: str = ""
    value: float | None = None
    days: Annotated[int, pydantic.Field(ge=1, le=366)] = 7
    filters: Annotated[str, pydantic.Field(max_length=4000)] = ""
    cooldown_hours: Annotated[int, pydantic.Field(ge=0, le=24 * 90)] = 24
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

    @pydantic.model_validator(mode="after")
    def _consistent(self) -> "AlertInput":
        if self.kind in OPERATIONAL:
            self.kpi, self.direction, self.filters = "", "", ""
            if self.kind == "load_failed":
                self.value = 0.0
            elif self.value is None or self.value < 1 or self.value != int(self.value):
                raise ValueError("a stale_data rule's value is a whole number of days (1 or "
                                 "more) the newest data may be old")
            return self
        if self.kpi not in catalog.KPI_NAMES:
            raise ValueError(f"unknown KPI {self.kpi!r}: use one of "
                             f"{', '.join(catalog.KPI_NAMES)}")
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
             currency: str = "£", session: Session | None = None) -> Evaluation:
    """Judge ``rule``'s condition on the current data under ``scope`` (no state changes).
    ``session`` (the app database) is needed by ``load_failed`` rules."""
    if rule.kind in OPERATIONAL:
        return _evaluate_operational(rule, warehouse, today, session)
    when = rule_period(warehouse, rule.days, today)
    if when is None:
        return Evaluation(None, "No data has been loaded yet.", reason="no data")
    start, end = when
    filters = Filters.from_query(rule.filters or "").with_period(start, end)
    if rule.kind == "anomaly":
        return _evaluate_anomaly(rule, warehouse, scope, filters, currency)
    summary = kpis.kpi_summary(warehouse, filters, scope)
    kpi = summary[rule.kpi]
    measure = catalog.measure(rule.kpi)
    version = warehouse.current_version()
    base = dict(start=start, end=end, current=_num(kpi.current),
                previous=_num(kpi.previous), data_version=version)
    label = measure.label
    if kpi.current is None:
        return Evaluation(None, f"{label} is empty for {_span(rule.days, end)}: "
                                f"{kpi.reason or 'no value'}.", reason=kpi.reason, **base)
    now_text = format_value(kpi.current, measure.kind, currency)
    if rule.kind == "threshold":
        limit = format_value(rule.value, measure.kind, currency)
        met = (kpi.current < rule.value if rule.direction == "below"
               else kpi.current > rule.value)
        relation = rule.direction if met else ("not " + rule.direction)
        sentence = (f"{label} {_was(label)} {now_text} {_span(rule.days, end)}, {relation} "
                    f"the {limit} threshold.")
    else:
        if kpi.previous is None or kpi.rel_change is None:
            why = kpi.reason or "the previous period has no value to compare with"
            return Evaluation(None, f"{label} cannot be compared {_versus(rule.days)}: "
                                    f"{why}.", reason=why, **base)
        change = kpi.rel_change * 100
        met = change <= -rule.value if rule.direction == "down" else change >= rule.value
        verb = "fell" if change < 0 else "rose"
        before = format_value(kpi.previous, measure.kind, currency)
        sentence = (f"{label} {verb} {abs(change):.0f} % ({before} → {now_text}) "
                    f"{_versus(rule.days)}")
        sentence += "." if met else f", within the {rule.value:g} % the rule allows."
    explanation = None
    if met and kpi.previous is not None:
        explanation = explain(warehouse, filters, scope, rule.kpi, currency)
        if explanation and explanation.get("sentence"):
            context = (f"against the previous {_days(rule.days)}, "
                       if rule.kind == "threshold" else "")
            sentence = sentence.rstrip(".") + "; " + context + explanation["sentence"] + "."
    return Evaluation(met, sentence, explanation=explanation, **base)


def _evaluate_anomaly(rule, warehouse, scope: Scope, filters: Filters,
                      currency: str) -> Evaluation:
    """The anomaly monitor (``analytics.models.anomalies.robust_monitor``) over the last
    ``days`` days: the most unusual day in the rule's direction, |z| ≥ ``value``."""
    import pandas as pd

    from analytics.models.anomalies import robust_monitor
    from analytics.models.inputs import daily_series

    start, end = filters.start, filters.end
    history = filters.with_period(period.days_before(start, ANOMALY_WINDOW), end)
    daily = daily_series(warehouse, history, scope)
    first = max(history.start, period.data_range(warehouse)[0])  # no made-up zeros before
    days = pd.date_range(pd.Timestamp(first), pd.Timestamp(end), freq="D", unit="us")
    daily = (daily.set_index("date").reindex(days).rename_axis("date").reset_index())
    for name in ("revenue", "gross_revenue", "returns", "orders", "units"):
        daily[name] = daily[name].fillna(0.0)
    monitor = robust_monitor(daily, rule.kpi, days=rule.days, window=ANOMALY_WINDOW,
                             threshold=rule.value)
    measure = catalog.measure(rule.kpi)
    version = warehouse.current_version()
    monitor = monitor[monitor["z"].notna()]
    if monitor.empty:
        return Evaluation(None, f"The anomaly monitor needs {ANOMALY_WINDOW} days before "
                                f"the days it checks; the data is shorter.",
                          start=start, end=end, reason="too few days", data_version=version)
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
    if met:
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
        return Evaluation(None, "Failed loads are checked in the app database.",
                          reason="no app database")
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
def _validate(actor: User, data: dict, owner: User, warehouse=None) -> AlertInput:
    if not actor.is_active or not actor.has_role("analyst"):
        raise AlertAccessDenied("alerts need the analyst or admin role")
    if not actor.has_role("admin") and owner.id != actor.id:
        raise AlertAccessDenied("this alert belongs to another user")
    try:
        values = AlertInput.model_validate(data)
    except pydantic.ValidationError as exc:
        raise AlertError(format_validation_error(exc, subject="alert")) from None
    if values.kind in OPERATIONAL and not owner.has_role("admin"):
        raise AlertAccessDenied("operational alerts (stale data, failed loads) are for "
                                "admins")
    check_filters(Filters.from_query(values.filters), owner_scope(owner), warehouse)
    return values


def create_rule(session: Session, actor: User, data: dict, *, owner: User | None = None,
                warehouse=None) -> AlertRule:
    """Create a rule owned by ``owner`` (default: the actor). The caller commits."""
    owner = owner or actor
    values = _validate(actor, data, owner, warehouse)
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
                warehouse=None) -> AlertRule:
    """Change some fields; a changed condition re-arms the rule. The caller commits."""
    rule = get_rule(session, actor, rule_id)
    current = {name: getattr(rule, name) for name in AlertInput.model_fields}
    values = _validate(actor, {**current, **changes}, rule.owner, warehouse)
    condition = ("kind", "kpi", "direction", "value", "days", "filters")
    if any(getattr(rule, name) != getattr(values, name) for name in condition):
        rule.armed = True
    for name, value in values.model_dump().items():
        setattr(rule, name, value)
    audit.record(session, "alert_changed", actor=actor, target=str(rule.id),
                 detail={"change": "updated", "fields": sorted(changes)})
    return rule


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


# ----------------------------------------------------------------- shapes
def rule_to_dict(rule: AlertRule) -> dict:
    return {"id": rule.id, "name": rule.name, "owner": rule.owner.email, "kind": rule.kind,
            "kpi": rule.kpi, "direction": rule.direction, "value": rule.value,
            "days": rule.days, "filters": rule.filters, "cooldown_hours": rule.cooldown_hours,
            "is_active": rule.is_active, "armed": rule.armed,
            "snoozed_until": _iso(rule.snoozed_until),
            "last_evaluated_at": _iso(rule.last_evaluated_at),
            "last_fired_at": _iso(rule.last_fired_at)}


def firing_to_dict(firing: AlertFiring) -> dict:
    return {"id": firing.id, "rule_id": firing.rule_id, "fired_at": _iso(firing.fired_at),
            "period": {"start": _day(firing.period_start), "end": _day(firing.period_end)},
            "current": firing.current, "previous": firing.previous,
            "sentence": firing.sentence, "explanation": firing.explanation,
            "data_version": firing.data_version, "recipient": firing.recipient,
            "status": firing.status, "attempts": firing.attempts,
            "last_error": firing.last_error,
            "sent_at": _iso(firing.sent_at)}


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") + "Z" if value else None
