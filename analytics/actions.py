"""What to do next: for each ad channel, campaign, category and top product, the last 7
days against the 7 before (and the chosen period against its previous period), a
recommendation drawn from a few rules, with its reason in words, ranked by the money at
stake.

The rules (``RULES``, evaluated in this order; an item gets the first that fires in a
window), with the thresholds of ``THRESHOLDS``:

- ``roas_fell`` (channels, campaigns): ROAS fell by ``roas_drop`` or more while spend held
  or rose (fell by less than ``spend_cut``): "ROAS fell from 4.1 to 2.3 while spend rose
  40 %: check the campaign". At stake: the revenue the spend would have brought at the
  previous ROAS, spend × (previous ROAS − ROAS).
- ``spend_up_flat`` (channels, campaigns): spend rose by ``spend_rise`` or more while
  conversions rose by less than ``conversions_flat`` (or fell): "spend up 40 %,
  conversions flat (+2 %): check bids and targeting". At stake: the extra spend.
- ``growing`` (all): revenue rose by ``revenue_rise`` or more on traffic that rose by
  ``traffic_rise`` or more (ads: clicks, with ROAS not fallen by ``roas_drop``; categories
  and products: the sessions of the filters, or revenue alone without sessions data):
  "revenue up 35 % on rising traffic (+20 %): consider more budget" (more stock for a
  category or product). At stake: the revenue gained (for ads, net of the extra spend).
- ``revenue_fell`` (categories, products): revenue fell by ``revenue_drop`` or more while
  traffic stayed within ± ``traffic_stable`` (or without sessions data): "revenue down
  30 % with stable traffic (+2 %): check prices and stock". At stake: the revenue lost.

An item is judged only when it had at least ``min_spend`` of spend (ads) or
``min_revenue`` of revenue (categories, products) in one of the two windows: a campaign
going from 3 to 6 is not news. Flat numbers fire nothing: every rule needs a change.

A campaign's ROAS, revenue and conversions are the platform's (the orders record no
campaign); a channel's are the orders attributed to it (``analytics.marketing``), the
platform's when the orders have none. The thresholds are overridden by the environment
variable ``MARKETING_THRESHOLDS``, a JSON object of some of the keys
(``{"roas_drop": 0.3, "min_spend": 100}``), read when a table is computed.
"""
from __future__ import annotations

import datetime as dt
import functools
import json
import math
import os
from dataclasses import dataclass, field

import pandas as pd
import sqlalchemy as sa

from analytics import catalog, marketing, measures, period, schema
from analytics.breakdowns import DIMENSION_COLUMNS
from analytics.errors import InvalidInput
from analytics.filters import Filters, Scope
from analytics.measures import NONE_LABEL

#: Relative changes are fractions (0.25 = 25 %); ``min_*`` are amounts in the currency.
THRESHOLDS: dict[str, float] = {
    "roas_drop": 0.25,          # ROAS fell by at least this …
    "spend_cut": 0.10,          # … while spend fell by less than this (held or rose)
    "spend_rise": 0.25,         # spend rose by at least this …
    "conversions_flat": 0.05,   # … while conversions rose by less than this
    "revenue_rise": 0.25,       # revenue rose by at least this …
    "traffic_rise": 0.10,       # … on traffic that rose by at least this
    "revenue_drop": 0.25,       # revenue fell by at least this …
    "traffic_stable": 0.10,     # … while traffic moved by less than this either way
    "min_spend": 50.0,          # ads below this in both windows are not judged
    "min_revenue": 200.0,       # categories and products below this are not judged
}
ENVIRONMENT_VARIABLE = "MARKETING_THRESHOLDS"
RULES = ("roas_fell", "spend_up_flat", "growing", "revenue_fell")
LEVELS = ("channel", "campaign", "category", "product")
TOP_PRODUCTS = 20
SHORT_DAYS = 7
#: Columns of ``ActionTable.frame``, in order.
COLUMNS = ("window", "start", "end", "previous_start", "previous_end", "level", "channel",
           "name", "rule", "action", "reason", "stake", "spend", "spend_previous",
           "revenue", "revenue_previous", "roas", "roas_previous", "traffic",
           "traffic_previous")


class ThresholdError(InvalidInput):
    """MARKETING_THRESHOLDS is not a JSON object of known thresholds."""


def thresholds(text: str | None = None) -> dict[str, float]:
    """``THRESHOLDS`` overridden by ``text`` (JSON), by default the environment variable
    ``MARKETING_THRESHOLDS``; an unknown key or a value that is not a number ≥ 0 is an
    error naming it."""
    text = os.environ.get(ENVIRONMENT_VARIABLE) if text is None else text
    if not text or not text.strip():
        return dict(THRESHOLDS)
    try:
        given = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ThresholdError(f"{ENVIRONMENT_VARIABLE} is not valid JSON: {exc.msg}") from None
    if not isinstance(given, dict):
        raise ThresholdError(f"{ENVIRONMENT_VARIABLE} must be a JSON object such as "
                             '{"roas_drop": 0.3}')
    out = dict(THRESHOLDS)
    for key, value in given.items():
        if key not in THRESHOLDS:
            raise ThresholdError(f"{ENVIRONMENT_VARIABLE}: unknown threshold {key!r} (known: "
                                 f"{', '.join(THRESHOLDS)})")
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0 \
                or not math.isfinite(value):
            raise ThresholdError(f"{ENVIRONMENT_VARIABLE}: {key} must be a number ≥ 0")
        out[key] = float(value)
    return out


@dataclass(frozen=True)
class Window:
    """One comparison: ``name`` ("last 7 days" or "period"), its dates and the previous
    ones."""
    name: str
    start: dt.date
    end: dt.date
    previous_start: dt.date
    previous_end: dt.date

    def to_dict(self) -> dict:
        return {"name": self.name, "start": self.start.isoformat(),
                "end": self.end.isoformat(), "previous_start": self.previous_start.isoformat(),
                "previous_end": self.previous_end.isoformat()}


@dataclass(frozen=True)
class ActionTable:
    """The actions (``frame``, columns ``COLUMNS``, largest stake first), the windows
    compared, the thresholds used and notes (what the tables could not follow)."""
    frame: pd.DataFrame
    windows: tuple[Window, ...]
    thresholds: dict[str, float] = field(default_factory=dict)
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Item:
    """One channel, campaign, category or product in one window: the numbers the rules
    read (None where the item has no such number)."""
    level: str
    name: str
    channel: str | None = None
    spend: tuple[float, float] | None = None
    revenue: tuple[float, float] | None = None
    roas: tuple[float | None, float | None] | None = None
    conversions: tuple[float, float] | None = None
    traffic: tuple[float, float] | None = None
    traffic_name: str = "traffic"


@dataclass(frozen=True)
class Action:
    rule: str
    action: str
    reason: str
    stake: float


# ------------------------------------------------------------------------ the rules
def change(pair: tuple[float, float] | None) -> float | None:
    """(current − previous) ÷ previous; None without a previous value above 0."""
    if pair is None or pair[0] is None or pair[1] is None or not pair[1] > 0:
        return None
    return (pair[0] - pair[1]) / pair[1]


def percent(value: float) -> str:
    """"+40 %", "−12 %"."""
    rounded = round(value * 100)
    return f"{'+' if rounded > 0 else '−' if rounded < 0 else '±'}{abs(rounded)} %"


def judge(item: Item, limits: dict[str, float]) -> Action | None:
    """The first rule of ``RULES`` that fires for ``item``, or None."""
    if item.level in ("channel", "campaign"):
        if max(item.spend or (0.0, 0.0)) < limits["min_spend"]:
            return None
        checks = (_roas_fell, _spend_up_flat, _growing)
    else:
        if max(item.revenue or (0.0, 0.0)) < limits["min_revenue"]:
            return None
        checks = (_growing, _revenue_fell)
    for check in checks:
        action = check(item, limits)
        if action is not None:
            return action
    return None


def _target(item: Item) -> str:
    return "the campaign" if item.level == "campaign" else "the channel's campaigns"


def _roas_fell(item: Item, limits: dict) -> Action | None:
    if item.roas is None or item.spend is None:
        return None
    now, before = item.roas
    spend_change = change(item.spend)
    if now is None or before is None or not before > 0 or spend_change is None:
        return None
    if now > before * (1 - limits["roas_drop"]) or spend_change <= -limits["spend_cut"]:
        return None
    spend_words = (f"spend rose {percent(spend_change).lstrip('+')}" if spend_change >= 0.005
                   else f"spend held ({percent(spend_change)})")
    return Action("roas_fell", f"check {_target(item)}",
                  f"ROAS fell from {before:.2f} to {now:.2f} while {spend_words}",
                  item.spend[0] * (before - now))


def _spend_up_flat(item: Item, limits: dict) -> Action | None:
    spend_change, conversions_change = change(item.spend), change(item.conversions)
    if spend_change is None or conversions_change is None:
        return None
    if spend_change < limits["spend_rise"] or conversions_change >= limits["conversions_flat"]:
        return None
    words = ("flat" if abs(conversions_change) < limits["conversions_flat"] else "down")
    return Action("spend_up_flat", "check bids and targeting before spending more",
                  f"spend up {percent(spend_change).lstrip('+')}, conversions {words} "
                  f"({percent(conversions_change)})", item.spend[0] - item.spend[1])


def _growing(item: Item, limits: dict) -> Action | None:
    revenue_change = change(item.revenue)
    if revenue_change is None or revenue_change < limits["revenue_rise"]:
        return None
    traffic_change = change(item.traffic)
    ads = item.level in ("channel", "campaign")
    if item.traffic is None and not ads:
        traffic_words = "(no sessions data to compare traffic)"
    elif traffic_change is None or traffic_change < limits["traffic_rise"]:
        return None
    else:
        traffic_words = f"on rising {item.traffic_name} ({percent(traffic_change)})"
    if ads:
        roas_change = change(item.roas) if item.roas and None not in item.roas else None
        if roas_change is not None and roas_change <= -limits["roas_drop"]:
            return None
    gained = item.revenue[0] - item.revenue[1]
    if ads:  # what the extra spend brought, net of it
        gained -= item.spend[0] - item.spend[1]
    return Action("growing", "consider more budget" if ads else "consider more stock",
                  f"revenue up {percent(revenue_change).lstrip('+')} {traffic_words}",
                  gained)


def _revenue_fell(item: Item, limits: dict) -> Action | None:
    revenue_change = change(item.revenue)
    if revenue_change is None or revenue_change > -limits["revenue_drop"]:
        return None
    traffic_change = change(item.traffic)
    if item.traffic is None:
        traffic_words = "(no sessions data to compare traffic)"
    elif traffic_change is None or abs(traffic_change) >= limits["traffic_stable"]:
        return None
    else:
        traffic_words = f"with stable {item.traffic_name} ({percent(traffic_change)})"
    return Action("revenue_fell", "check prices and stock",
                  f"revenue down {percent(revenue_change).lstrip('−')} {traffic_words}",
                  item.revenue[1] - item.revenue[0])


# ------------------------------------------------------------------------ entry point
def action_table(warehouse, filters: Filters, scope: Scope) -> ActionTable:
    """The actions of the last 7 days of the period against the 7 before, and of the
    period against its previous period (when the period is not those 7 days), ranked
    by money at stake (``stake``, in the currency)."""
    limits = thresholds()
    version = warehouse.require_version()
    filters = period.resolve(warehouse, filters, version).without_comparison()
    short = filters.with_period(period.days_before(filters.end, SHORT_DAYS - 1), filters.end)
    windows = [("last 7 days", short)]
    if (filters.start, filters.end) != (short.start, short.end):
        windows.append(("period", filters))
    rows, notes, shown = [], [], []
    for (name, current), (items, window_notes) in zip(windows, _items_of_windows(
            warehouse, [current for _name, current in windows], scope)):
        previous = current.previous_period()
        window = Window(name, current.start, current.end, previous.start, previous.end)
        shown.append(window)
        notes += [note for note in window_notes if note not in notes]
        for item in items:
            action = judge(item, limits)
            if action is not None:
                rows.append(_row(window, item, action))
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    if len(frame):
        frame = frame.sort_values(["stake", "window", "level", "name"],
                                  ascending=[False, True, True, True]).reset_index(drop=True)
    return ActionTable(frame, tuple(shown), limits, tuple(notes))


def _items_of_windows(warehouse, windows: list[Filters],
                      scope: Scope) -> list[tuple[list[Item], list[str]]]:
    """``window_items`` of each window, the windows read at once: they read different
    rows, the engine works outside the GIL, and this table is the last answer of the
    Marketing and Insights pages to arrive (one window after the other, one core idled
    while the page waited; ``Warehouse.at_once``)."""
    return warehouse.at_once([functools.partial(window_items, warehouse, current, scope)
                              for current in windows])


def window_items(warehouse, current: Filters, scope: Scope) -> tuple[list[Item], list[str]]:
    """The items of one window (``current`` against its previous period): the ad
    channels and campaigns, the categories and the top products, and the notes."""
    inputs = marketing.read_inputs(warehouse, current, scope)
    table = marketing.table_of(inputs)
    sessions = None
    if inputs.has_sessions and inputs.sessions.get("sessions") is not None \
            and inputs.sessions.get("sessions_prev") is not None:
        sessions = (inputs.sessions["sessions"], inputs.sessions["sessions_prev"])
    items = [_ad_item(row) for row in table.frame.itertuples(index=False)]
    for level, top in (("category", None), ("product", TOP_PRODUCTS)):
        merged = revenues(warehouse, current, scope, level)
        if top is not None:
            merged["both"] = merged["revenue"] + merged["revenue_previous"]
            merged = merged.sort_values(["both", "key"], ascending=[False, True]).head(top)
        for row in merged.itertuples(index=False):
            if row.key == NONE_LABEL:
                continue
            items.append(Item(level, str(row.label), revenue=(float(row.revenue),
                                                              float(row.revenue_previous)),
                              traffic=sessions, traffic_name="traffic"))
    return items, [note for note in table.notes if "campaign" not in note]


def revenues(warehouse, current: Filters, scope: Scope, level: str) -> pd.DataFrame:
    """DataFrame[key, label, revenue, revenue_previous] by key: the net revenue of each
    category or product (``level``) in ``current`` and in its previous period, in one
    statement (the keys with lines in either period, by key; ``label`` the product's
    description or the key)."""
    version = warehouse.require_version()
    previous = current.previous_period()
    source = measures.source_for(warehouse, current, scope,
                                 needs_lines=not catalog.dimension(level).rollup,
                                 group_by=(level,), version=version)
    table = source.sums
    net = source.net_value(table)
    key = measures.key_expression(table.c[DIMENSION_COLUMNS[level]]).label("key")

    def within(f: Filters) -> sa.ColumnElement[bool]:
        return measures.period_condition(table, f.start, f.end)

    sums = sa.select(
        key, sa.func.sum(net).filter(within(current)).label("revenue"),
        sa.func.sum(net).filter(within(previous)).label("revenue_previous"),
    ).where(*source.where(table, current.with_period(previous.start, current.end), scope)) \
        .group_by(key).subquery("revenues")
    columns = [sums.c.key, sums.c.key.label("label"), sums.c.revenue,
               sums.c.revenue_previous]
    joined = sums
    if level == "product":
        products = schema.dim_product
        joined = sums.outerjoin(products, products.c.product_id == sums.c.key)
        columns[1] = sa.func.coalesce(products.c.description, sums.c.key).label("label")
    with warehouse.connect(version) as conn:
        frame = measures.read_frame(conn, sa.select(*columns).select_from(joined),
                                    ["key", "label", "revenue", "revenue_previous"])
    frame = measures.numeric(frame, ["revenue", "revenue_previous"])
    frame = frame.fillna({"revenue": 0.0, "revenue_previous": 0.0})
    return frame.sort_values("key", kind="stable").reset_index(drop=True)


def _ad_item(row) -> Item:
    def number(value) -> float | None:
        return None if value is None or pd.isna(value) else float(value)

    campaign = row.level == "campaign"
    attributed = not campaign and number(row.revenue) is not None \
        and number(row.revenue_previous) is not None
    if attributed:
        revenue = (number(row.revenue), number(row.revenue_previous))
        roas = (number(row.roas), number(row.roas_previous))
        conversions = (number(row.orders), number(row.orders_previous))
    else:
        revenue = (number(row.conversion_value), number(row.conversion_value_previous))
        roas = (number(row.platform_roas), number(row.platform_roas_previous))
        conversions = (number(row.conversions), number(row.conversions_previous))
    return Item(row.level, row.campaign if campaign else row.channel, channel=row.channel,
                spend=(float(row.spend), float(row.spend_previous)), revenue=revenue,
                roas=roas, conversions=conversions,
                traffic=(float(row.clicks), float(row.clicks_previous)), traffic_name="clicks")


def _row(window: Window, item: Item, action: Action) -> dict:
    spend = item.spend or (None, None)
    revenue = item.revenue or (None, None)
    roas = item.roas or (None, None)
    traffic = item.traffic or (None, None)
    return {"window": window.name, "start": window.start, "end": window.end,
            "previous_start": window.previous_start, "previous_end": window.previous_end,
            "level": item.level, "channel": item.channel, "name": item.name,
            "rule": action.rule, "action": action.action, "reason": action.reason,
            "stake": round(float(action.stake), 2), "spend": spend[0],
            "spend_previous": spend[1], "revenue": revenue[0], "revenue_previous": revenue[1],
            "roas": roas[0], "roas_previous": roas[1], "traffic": traffic[0],
            "traffic_previous": traffic[1]}
