"""The traffic and advertising KPIs of METRICS.md ("Traffic and advertising"), and the
channel and campaign table, for a period against its previous period.

Three streams meet here: the order lines (revenue, orders, new customers, from the rollups
the planner picks), the daily sessions and the daily ad spend (``schema.daily_sessions``,
``schema.ad_spend``). Each table follows the filters it can: a filter on a dimension a table
does not carry (ad spend has no product category, sessions no payment method; a column
that is entirely empty counts as not carried) leaves that table unfiltered, and the answer's
``notes`` say so. A country scope is never widened: rows of the sessions or ad table
without a country are left out for a country-scoped user, and the notes say that spend (or
sessions) cannot be split by country.

**Attribution** (last touch, as the export records it): an order line belongs to the ad
channel whose name, or one of its aliases (``ALIASES``), equals its traffic source, else
its sales channel, ignoring case. "Google Ads" takes the lines whose traffic source is
"Paid Search" (the demo data's name), "google / cpc", "cpc"…; "Meta Ads" those from
"Social", "Paid Social", "facebook"… An ad channel not in the table matches its own name
only. Each traffic source value belongs to one ad channel at most. The orders record no
campaign, so ROAS, orders, revenue and CAC are by channel; a campaign row has its platform
ROAS (the platform's own attribution) and spend, and its order columns empty (said in the
notes). An order's lines are taken to share one traffic source and channel.
"""
from __future__ import annotations

import datetime as dt
import math
import threading
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import sqlalchemy as sa

from analytics import cache, catalog, measures, period, schema
from analytics.countries import country_code
from analytics.filters import Filters, Scope, line_conditions
from analytics.kpis import NO_DATA, Kpi, periods_dict
from analytics.warehouse import table_columns

KPI_NAMES = catalog.MARKETING_KPI_NAMES

NO_AD_DATA = "no ad spend data"
NO_SPEND = "no ad spend in this period"
NO_IMPRESSIONS = "no impressions in this period"
NO_CLICKS = "no clicks in this period"
NO_SESSIONS = "no sessions data"
NO_SESSIONS_PERIOD = "no sessions data for this period"
NO_REVENUE = "no revenue in this period"
NO_NEW_CUSTOMERS = "no new customers in this period"
NO_SPEND_BY_COUNTRY = "ad spend is not split by country"

#: Ad channel (lower case) → the order traffic sources / channels (lower case) attributed
#: to it, besides its own name. Disjoint: no order value belongs to two ad channels.
ALIASES: dict[str, tuple[str, ...]] = {
    "google ads": ("paid search", "google / cpc", "google cpc", "google", "cpc", "adwords",
                   "google ads"),
    "microsoft ads": ("bing / cpc", "bing", "bing ads", "microsoft ads", "microsoft"),
    "meta ads": ("social", "paid social", "facebook", "instagram", "meta",
                 "facebook / cpc", "facebook / paid", "instagram / paid", "facebook ads",
                 "meta ads"),
    "tiktok ads": ("tiktok", "tiktok / paid", "tiktok ads"),
    "email": ("email", "e-mail", "newsletter"),
}
#: Other names of the ad channels of ``ALIASES`` (what a file may call them).
SYNONYMS: dict[str, str] = {"adwords": "google ads", "google": "google ads",
                            "bing ads": "microsoft ads", "facebook ads": "meta ads",
                            "facebook": "meta ads", "instagram ads": "meta ads",
                            "tiktok": "tiktok ads", "klaviyo": "email",
                            "mailchimp": "email", "e-mail": "email"}

_AD_SUMS = ("impressions", "clicks", "spend", "conversions", "conversion_value")


def channel_names(ad_channel: str) -> frozenset[str]:
    """The order values (lower case) that ``ad_channel`` matches."""
    name = ad_channel.strip().casefold()
    return frozenset({name, *ALIASES.get(SYNONYMS.get(name, name), ())})


def matching_values(ad_channel: str, values: set[str]) -> set[str]:
    """The order traffic sources / channels among ``values`` (lower case) that
    ``ad_channel`` is attributed."""
    return set(values) & channel_names(ad_channel)


def attributed_channel(traffic_source, sales_channel, ad_channels) -> str | None:
    """The ad channel of an order with this traffic source and sales channel: the
    traffic source decides first, then the sales channel; None when neither matches."""
    for value in (traffic_source, sales_channel):
        if not isinstance(value, str):
            continue
        for ad_channel in ad_channels:
            if value.strip().casefold() in channel_names(ad_channel):
                return ad_channel
    return None


def order_attribution_values(warehouse, version: int | None = None) -> set[str]:
    """The distinct traffic sources and sales channels of the orders (lower case)."""
    return set(traffic_tables(warehouse, version).order_values)


def has_traffic(warehouse, version: int | None = None) -> bool:
    """Whether the data version holds sessions or ad spend (a report adds its Marketing
    section only then)."""
    version = warehouse.require_version() if version is None else version
    if period.version_info(warehouse, version).has_sessions:
        return True
    return traffic_tables(warehouse, version).ad_rows > 0


@dataclass(frozen=True)
class TrafficTables:
    """What one data version's ad and sessions tables hold, which every marketing answer
    checks first: read once per process and version (a version never changes), it saved
    6 statements (~15 ms) of each answer."""
    ad_rows: int                 # 0: no ad spend (or no ad table)
    ad_country: bool             # some ad row carries a country code
    ad_rows_without_country: int
    session_columns: frozenset[str]
    session_carried: dict[str, bool]   # session dimension column → some row carries it
    order_values: frozenset[str]       # the orders' traffic sources and channels, lower case


_traffic_tables: dict[tuple[str, int], TrafficTables] = {}
_traffic_lock = threading.Lock()


def traffic_tables(warehouse, version: int | None = None) -> TrafficTables:
    """The ``TrafficTables`` of ``version`` (default: current)."""
    version = warehouse.require_version() if version is None else version
    key = (warehouse.url, version)
    known = _traffic_tables.get(key)
    if known is not None:
        return known
    ads, sessions, daily = schema.ad_spend, schema.daily_sessions, schema.rollup_daily
    with warehouse.connect(version) as conn:
        ad_rows, ad_country, without = 0, False, 0
        if "ad_date" in table_columns(conn, ads.name):
            ad_rows, with_country = conn.execute(sa.select(
                sa.func.count(), sa.func.count(ads.c.country_code))).one()
            ad_rows, ad_country = int(ad_rows or 0), bool(with_country)
            without = ad_rows - int(with_country or 0)
        session_columns = frozenset(table_columns(conn, sessions.name))
        carried = {}
        if "session_date" in session_columns:
            dimensions = [d.sessions_column for d in catalog.session_dimensions()]
            carried = _carried(conn, sessions, dimensions)
        values = conn.execute(sa.union(
            sa.select(daily.c.traffic_source.label("value")).distinct(),
            sa.select(daily.c.channel.label("value")).distinct())).scalars().all()
    known = TrafficTables(ad_rows, ad_country, without, session_columns, carried,
                          frozenset(value.strip().casefold() for value in values
                                    if isinstance(value, str)))
    with _traffic_lock:
        _traffic_tables[key] = known
    return known


@dataclass(frozen=True)
class MarketingSummary:
    """Every KPI of METRICS.md "Traffic and advertising" for the period and the previous
    period, and the notes on what the tables could not follow."""
    start: dt.date
    end: dt.date
    previous_start: dt.date
    previous_end: dt.date
    kpis: dict[str, Kpi] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def __getitem__(self, name: str) -> Kpi:
        return self.kpis[name]

    def to_dict(self) -> dict:
        return {**periods_dict(self),
                "kpis": {name: self.kpis[name].to_dict() for name in KPI_NAMES},
                "notes": list(self.notes)}


@dataclass(frozen=True)
class ChannelTable:
    """The channel and campaign table (``channel_table``) and its notes."""
    start: dt.date
    end: dt.date
    frame: pd.DataFrame
    notes: tuple[str, ...] = ()


#: Columns of ``ChannelTable.frame``, in order.
TABLE_COLUMNS = ("level", "channel", "campaign", "spend", "impressions", "clicks", "ctr",
                 "cpc", "cpm", "conversions", "conversion_value", "orders", "revenue",
                 "roas", "platform_roas", "new_customers", "cac", "spend_previous",
                 "revenue_previous", "roas_previous", "platform_roas_previous",
                 "spend_change", "revenue_change", "roas_change", "platform_roas_change",
                 "clicks_previous", "conversions_previous", "conversion_value_previous",
                 "orders_previous")


# ------------------------------------------------------------------------ entry points
def marketing_summary(warehouse, filters: Filters, scope: Scope) -> MarketingSummary:
    """The KPIs for the resolved period of ``filters`` and its previous period."""
    inputs = read_inputs(warehouse, filters, scope)
    values = {suffix: inputs.kpis(suffix) for suffix in ("", "_prev")}
    kpis = {}
    for name in KPI_NAMES:
        current, current_reason = values[""][name]
        prior, prior_reason = values["_prev"][name]
        reason = current_reason if current is None else (
            f"previous period: {prior_reason}" if prior is None else None)
        kpis[name] = Kpi(current, prior, reason)
    f, p = inputs.filters, inputs.previous
    return MarketingSummary(f.start, f.end, p.start, p.end, kpis, tuple(inputs.notes))


def channel_table(warehouse, filters: Filters, scope: Scope) -> ChannelTable:
    """One row per ad channel (``level`` "channel"), each followed by its campaigns
    (``level`` "campaign"), by spend, with the columns of ``TABLE_COLUMNS``: the period's
    spend, impressions, clicks, CTR, CPC, CPM, platform conversions and value; the
    attributed orders, revenue, ROAS, new customers and CAC (channel rows only: the
    orders record no campaign); the previous period's spend, revenue and ROAS, and the
    relative changes (empty when the previous value is 0 or empty)."""
    return table_of(read_inputs(warehouse, filters, scope))


def read_inputs(warehouse, filters: Filters, scope: Scope) -> _Inputs:
    """What every entry point here reads (``table_of(inputs)``, ``inputs.sessions``; also
    ``analytics.actions``), through the analytics cache: the Marketing page's KPIs,
    channel table and funnel and the actions table each need them for the same filters,
    in callbacks that arrive together; the first computes them and the others wait for
    its answer (``cache.Cache.call``). Keyed without the comparison: they always hold the
    period and the one before it."""
    return cache.default_cache().call(_Inputs.read, warehouse, filters.without_comparison(),
                                      scope)


def table_of(inputs: _Inputs) -> ChannelTable:
    """``channel_table`` from inputs already read (``analytics.actions`` reads them once
    per window for the table and the sessions)."""
    notes = list(inputs.notes)
    ads = inputs.ads
    rows = []
    by_channel = inputs.attributed()
    for channel, group in ads.groupby("channel", sort=False):
        row = {"level": "channel", "channel": channel, "campaign": None,
               **{f"{name}{s}": group[f"{name}{s}"].sum() for name in _AD_SUMS
                  for s in ("", "_prev")},
               **{key: value for key, value in by_channel.get(channel, {}).items()}}
        rows.append(row)
        for _, campaign in group.sort_values("spend", ascending=False).iterrows():
            rows.append({"level": "campaign", "channel": channel,
                         "campaign": campaign["campaign"],
                         **{f"{name}{s}": campaign[f"{name}{s}"] for name in _AD_SUMS
                            for s in ("", "_prev")}})
    frame = pd.DataFrame(rows)
    if not len(frame):
        return ChannelTable(inputs.filters.start, inputs.filters.end,
                            pd.DataFrame(columns=list(TABLE_COLUMNS)), tuple(notes))
    for name in ("orders", "revenue", "new_customers", "orders_prev", "revenue_prev",
                 "new_customers_prev"):
        if name not in frame:
            frame[name] = np.nan
        channel_rows = frame["level"] == "channel"
        frame.loc[channel_rows, name] = frame.loc[channel_rows, name].fillna(0.0)
    out = pd.DataFrame({
        "level": frame["level"], "channel": frame["channel"], "campaign": frame["campaign"],
        "spend": frame["spend"], "impressions": frame["impressions"].astype("int64"),
        "clicks": frame["clicks"].astype("int64"),
        "ctr": _ratio(frame["clicks"], frame["impressions"]),
        "cpc": _ratio(frame["spend"], frame["clicks"]),
        "cpm": 1000.0 * _ratio(frame["spend"], frame["impressions"]),
        "conversions": frame["conversions"], "conversion_value": frame["conversion_value"],
        "orders": frame["orders"], "revenue": frame["revenue"],
        "roas": _ratio(frame["revenue"], frame["spend"]),
        "platform_roas": _ratio(frame["conversion_value"], frame["spend"]),
        "new_customers": frame["new_customers"],
        "cac": _ratio(frame["spend"], frame["new_customers"]),
        "spend_previous": frame["spend_prev"], "revenue_previous": frame["revenue_prev"],
        "roas_previous": _ratio(frame["revenue_prev"], frame["spend_prev"]),
        "platform_roas_previous": _ratio(frame["conversion_value_prev"],
                                         frame["spend_prev"]),
        "clicks_previous": frame["clicks_prev"].astype("int64"),
        "conversions_previous": frame["conversions_prev"],
        "conversion_value_previous": frame["conversion_value_prev"],
        "orders_previous": frame["orders_prev"],
    })
    for name in ("spend", "revenue", "roas", "platform_roas"):
        out[f"{name}_change"] = _change(out[name], out[f"{name}_previous"])
    blank = {"": ("orders", "revenue", "roas", "new_customers", "cac"),
             "_prev": ("revenue_previous", "roas_previous", "orders_previous")}
    for suffix, names in blank.items():
        if not inputs.order_data[suffix]:
            for name in (*names, "revenue_change", "roas_change"):
                out[name] = np.nan
    notes.append("ROAS, orders, revenue and CAC are by channel: the orders record no "
                 "campaign; a campaign shows its platform ROAS (the platform's own "
                 "attribution)")
    for channel in out.loc[out["level"] == "channel", "channel"]:
        if not matching_values(channel, inputs.order_values):
            notes.append(f"{channel} matches no traffic source or channel of the orders: its "
                         "attributed revenue is 0 (docs/marketing.md, attribution)")
    return ChannelTable(inputs.filters.start, inputs.filters.end,
                        out[list(TABLE_COLUMNS)].reset_index(drop=True), tuple(notes))


def spend_and_revenue(warehouse, filters: Filters, scope: Scope,
                      grain: str = "day") -> pd.DataFrame:
    """DataFrame[period_start, revenue, spend, partial] per bucket of ``grain`` (day, week,
    month: ``analytics.series.time_series``' buckets): the net revenue of the orders and the
    ad spend under the filters and scope the ad table can follow (``channel_table``'s rules:
    no spend at all for a country scope when spend has no country)."""
    from analytics import series
    frame = series.time_series(warehouse, filters, scope, grain=grain)
    out = frame[["period_start", "revenue", "partial"]].copy()
    version = warehouse.require_version()
    filters = period.resolve(warehouse, filters, version)
    tables = traffic_tables(warehouse, version)
    with warehouse.connect(version) as conn:
        daily = _ad_daily(conn, tables, filters, scope)
    out["spend"] = 0.0
    if len(daily) and len(out):
        starts = pd.to_datetime(out["period_start"]).astype("datetime64[ns]")
        days = pd.to_datetime(daily["ad_date"]).astype("datetime64[ns]")
        bucket = np.searchsorted(starts.to_numpy(), days.to_numpy(), side="right") - 1
        sums = pd.Series(daily["spend"].to_numpy(dtype="float64"), index=bucket) \
            .loc[lambda s: s.index >= 0].groupby(level=0).sum()
        out.loc[sums.index, "spend"] = sums.to_numpy()
    return out[["period_start", "revenue", "spend", "partial"]]


def _ad_daily(conn: sa.Connection, tables: TrafficTables, filters: Filters,
              scope: Scope) -> pd.DataFrame:
    """Σ spend per day of the period under the scope and country filter (empty without
    ad data, or for a country scope when spend carries no country)."""
    if not tables.ad_rows:
        return pd.DataFrame({"ad_date": [], "spend": []})
    table = schema.ad_spend
    carried = tables.ad_country
    conditions = [table.c.ad_date >= filters.start, table.c.ad_date <= filters.end]
    if scope.countries is not None:
        if not carried or not scope.countries:
            return pd.DataFrame({"ad_date": [], "spend": []})
        conditions.append(table.c.country_code.in_(sorted(scope.countries)))
    if filters.countries and carried:
        conditions.append(sa.or_(table.c.country_code.in_(_country_codes(filters.countries)),
                                 table.c.country.in_(list(filters.countries))))
    query = sa.select(table.c.ad_date, sa.func.sum(table.c.spend).label("spend")) \
        .where(*conditions).group_by(table.c.ad_date).order_by(table.c.ad_date)
    frame = measures.read_frame(conn, query)
    return measures.numeric(frame, ["spend"])


#: The funnel's steps: (name, label), the sessions' columns then the orders.
FUNNEL_STEPS = (("sessions", "Sessions"), ("add_to_carts", "Add to cart"),
                ("checkouts", "Checkout"), ("orders", "Orders"))


def funnel(warehouse, filters: Filters, scope: Scope) -> pd.DataFrame:
    """DataFrame[step, label, count, share] of the period: sessions → add-to-carts →
    checkouts → orders, the steps the sessions carry (``share`` of the sessions); empty
    without sessions data or when the sessions carry neither add-to-carts nor
    checkouts."""
    inputs = read_inputs(warehouse, filters, scope)
    counts = {name: inputs.sessions.get(name) for name, _label in FUNNEL_STEPS[:-1]}
    if counts["sessions"] is None or (counts["add_to_carts"] is None
                                      and counts["checkouts"] is None):
        return pd.DataFrame(columns=["step", "label", "count", "share"])
    counts["orders"] = inputs.totals["orders"] if inputs.order_data[""] else 0.0
    rows = [{"step": name, "label": label, "count": float(counts[name])}
            for name, label in FUNNEL_STEPS if counts[name] is not None]
    frame = pd.DataFrame(rows)
    frame["share"] = frame["count"] / counts["sessions"] if counts["sessions"] else np.nan
    return frame


# --------------------------------------------------------------------------- inputs
@dataclass
class _Inputs:
    """What both entry points read: ad rows per channel and campaign, sessions, and the
    orders' revenue, orders and new customers per (traffic source, channel), for the
    period (no suffix) and the previous period (``_prev``)."""
    filters: Filters
    previous: Filters
    ads: pd.DataFrame
    ads_reason: str | None
    sessions: dict
    has_sessions: bool
    orders: pd.DataFrame
    totals: dict
    order_data: dict
    order_values: set[str]
    notes: list[str]

    @classmethod
    def read(cls, warehouse, filters: Filters, scope: Scope) -> _Inputs:
        version = warehouse.require_version()
        filters = period.resolve(warehouse, filters, version)
        previous = filters.previous_period()
        info = period.version_info(warehouse, version)
        first, last = period.data_range(warehouse, version)
        order_data = {suffix: first is not None and not (f.end < first or f.start > last)
                      for suffix, f in (("", filters), ("_prev", previous))}
        notes: list[str] = []
        tables = traffic_tables(warehouse, version)
        with warehouse.connect(version) as conn:
            ads, ads_reason = _ad_rows(conn, tables, filters, previous, scope, notes)
            sessions, has_sessions = _sessions(conn, tables, filters, previous, scope, notes,
                                               info.has_sessions)
        orders, totals = _order_groups(warehouse, version, filters, previous, scope)
        values = set(tables.order_values)
        return cls(filters, previous, ads, ads_reason, sessions, has_sessions, orders, totals,
                   order_data, values, notes)

    def attributed(self) -> dict[str, dict]:
        """Ad channel → its attributed orders, revenue and new customers (both periods)."""
        ad_channels = list(self.ads["channel"].unique())
        out: dict[str, dict] = {}
        for row in self.orders.itertuples(index=False):
            channel = attributed_channel(row.traffic_source, row.channel, ad_channels)
            if channel is None:
                continue
            sums = out.setdefault(channel, {})
            for name in ("orders", "revenue", "new_customers"):
                for suffix in ("", "_prev"):
                    sums[name + suffix] = sums.get(name + suffix, 0.0) + \
                        float(getattr(row, name + suffix) or 0.0)
        return out

    def kpis(self, suffix: str) -> dict[str, tuple]:
        out: dict[str, tuple] = {}
        has_orders = self.order_data[suffix]
        revenue = self.totals[f"revenue{suffix}"] if has_orders else None
        new_customers = self.totals[f"new_customers{suffix}"] if has_orders else None
        new_revenue = self.totals[f"new_revenue{suffix}"] if has_orders else None
        sessions = self.sessions.get(f"sessions{suffix}")
        if not self.has_sessions:
            out["sessions"] = out["revenue_per_session"] = (None, NO_SESSIONS)
        elif sessions is None:
            out["sessions"] = out["revenue_per_session"] = (None, NO_SESSIONS_PERIOD)
        else:
            out["sessions"] = (int(sessions), None)
            out["revenue_per_session"] = (
                (None, NO_DATA) if revenue is None else
                (revenue / sessions, None) if sessions else (None, NO_SESSIONS_PERIOD))
        if self.ads_reason is not None:
            for name in ("ad_spend", "impressions", "clicks", "ctr", "cpc", "cpm", "roas",
                         "platform_roas", "mer", "cac"):
                out[name] = (None, self.ads_reason)
        else:
            sums = {name: float(self.ads[f"{name}{suffix}"].sum()) for name in _AD_SUMS}
            spend = sums["spend"]
            out["ad_spend"] = (spend, None)
            out["impressions"] = (int(sums["impressions"]), None)
            out["clicks"] = (int(sums["clicks"]), None)
            out["ctr"] = _value(sums["clicks"], sums["impressions"], NO_IMPRESSIONS)
            out["cpc"] = _value(spend, sums["clicks"], NO_CLICKS)
            cpm = _value(spend, sums["impressions"], NO_IMPRESSIONS)
            out["cpm"] = (cpm[0] * 1000.0, None) if cpm[0] is not None else cpm
            attributed = sum(values.get(f"revenue{suffix}", 0.0)
                             for values in self.attributed().values())
            out["roas"] = ((None, NO_DATA) if not has_orders
                           else _value(attributed, spend, NO_SPEND))
            out["platform_roas"] = _value(sums["conversion_value"], spend, NO_SPEND)
            out["mer"] = ((None, NO_DATA) if revenue is None
                          else _value(revenue, spend, NO_SPEND))
            out["cac"] = ((None, NO_DATA) if new_customers is None
                          else _value(spend, new_customers, NO_NEW_CUSTOMERS))
        out["new_customers"] = ((None, NO_DATA) if new_customers is None
                                else (int(new_customers), None))
        out["new_customer_revenue_share"] = (
            (None, NO_DATA) if revenue is None else _value(new_revenue, revenue, NO_REVENUE))
        return out


def _value(numerator: float, denominator: float, reason: str) -> tuple:
    if not denominator:
        return None, reason
    return numerator / denominator, None


def _ratio(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    numerator = pd.to_numeric(numerator, errors="coerce").astype("float64")
    denominator = pd.to_numeric(denominator, errors="coerce").astype("float64")
    return numerator / denominator.where(denominator != 0)


def _change(current: pd.Series, previous: pd.Series) -> pd.Series:
    return (current - previous) / previous.abs().where(previous != 0)


def _country_codes(values) -> list[str]:
    """ISO codes of country filter values (names as the data writes them, or codes)."""
    codes = set()
    for value in values:
        code = value.upper() if len(value) == 2 and value.isalpha() else country_code(value)
        if code:
            codes.add(code)
    return sorted(codes)


def _carried(conn: sa.Connection, table: sa.Table, columns: list[str]) -> dict[str, bool]:
    """Whether each column holds a value in some row (an empty column is not carried)."""
    if not columns:
        return {}
    row = conn.execute(sa.select(*[sa.func.count(table.c[name]).label(name)
                                   for name in columns])).mappings().one()
    return {name: bool(row[name]) for name in columns}


def _unfollowed(filters: Filters, followed: set[str]) -> list[str]:
    """Nouns of the filters set in ``filters`` whose Filters field is not in
    ``followed``."""
    nouns = [d.noun for d in catalog.filter_dimensions()
             if getattr(filters, d.field) and d.field not in followed]
    if filters.min_price is not None or filters.max_price is not None:
        nouns.append("price")
    if filters.segment:
        nouns.append("customer segment")
    return nouns


def _ad_rows(conn: sa.Connection, tables: TrafficTables, filters: Filters,
             previous: Filters, scope: Scope,
             notes: list[str]) -> tuple[pd.DataFrame, str | None]:
    """Σ of the ad measures per (channel, campaign) for both periods, under the filters
    and scope the table can follow; (rows, why there are no ad KPIs at all or None)."""
    empty = pd.DataFrame(columns=["channel", "campaign", *[f"{n}{s}" for n in _AD_SUMS
                                                           for s in ("", "_prev")]])
    if not tables.ad_rows:
        return empty, NO_AD_DATA
    table = schema.ad_spend
    carried = tables.ad_country
    conditions = [table.c.ad_date >= previous.start, table.c.ad_date <= filters.end]
    if scope.countries is not None:
        conditions.append(table.c.country_code.in_(sorted(scope.countries))
                          if scope.countries else sa.false())
        if not carried:
            notes.append(f"{NO_SPEND_BY_COUNTRY}: none of it is shown under your data scope "
                         f"({scope})")
            return empty, NO_SPEND_BY_COUNTRY
        elif tables.ad_rows_without_country:
            notes.append("ad spend without a country is left out under your data scope "
                         f"({scope}): it cannot be split by country")
    followed = {"countries"} if carried else set()
    if filters.countries and carried:
        conditions.append(sa.or_(table.c.country_code.in_(_country_codes(filters.countries)),
                                 table.c.country.in_(list(filters.countries))))
    for noun in _unfollowed(filters, followed):
        notes.append(f"ad spend is not broken down by {noun}: that filter leaves it "
                     "unfiltered")

    def within(f: Filters) -> sa.ColumnElement[bool]:
        return sa.and_(table.c.ad_date >= f.start, table.c.ad_date <= f.end)

    query = sa.select(
        table.c.channel, table.c.campaign,
        *[sa.func.coalesce(sa.func.sum(table.c[name]).filter(within(f)), 0)
          .label(f"{name}{suffix}") for name in _AD_SUMS
          for suffix, f in (("", filters), ("_prev", previous))],
    ).where(*conditions).group_by(table.c.channel, table.c.campaign) \
        .order_by(table.c.channel, table.c.campaign)
    frame = measures.read_frame(conn, query)
    frame = measures.numeric(frame, [c for c in frame.columns
                                     if c not in ("channel", "campaign")])
    frame["_spend"] = frame.groupby("channel")["spend"].transform("sum")
    frame = frame.sort_values(["_spend", "channel", "spend"], ascending=[False, True, False])
    return frame.drop(columns="_spend").reset_index(drop=True), None


def _sessions(conn: sa.Connection, tables: TrafficTables, filters: Filters,
              previous: Filters, scope: Scope, notes: list[str],
              has_sessions: bool) -> tuple[dict, bool]:
    """Σ sessions (and the funnel counts present) of both periods under the filters and
    scope the sessions table can follow."""
    if not has_sessions:
        return {}, False
    table = schema.daily_sessions
    present = tables.session_columns
    dimensions = {d.field: d.sessions_column for d in catalog.session_dimensions()}
    carried = tables.session_carried
    conditions = [table.c.session_date >= previous.start, table.c.session_date <= filters.end]
    if scope.countries is not None:
        conditions.append(table.c.country_code.in_(sorted(scope.countries))
                          if scope.countries else sa.false())
        if not carried["country_code"]:
            notes.append("sessions are not split by country: none are shown under your "
                         f"data scope ({scope})")
    followed = set()
    for field_name, column in dimensions.items():
        values = getattr(filters, field_name)
        if not values or not carried[column]:
            continue
        followed.add(field_name)
        if column == "country_code":
            conditions.append(table.c.country_code.in_(_country_codes(values)))
        else:
            conditions.append(sa.func.lower(table.c[column]).in_(
                [value.casefold() for value in values]))
    for noun in _unfollowed(filters, followed):
        notes.append(f"sessions are not broken down by {noun}: that filter leaves them "
                     "unfiltered")

    def within(f: Filters) -> sa.ColumnElement[bool]:
        return sa.and_(table.c.session_date >= f.start, table.c.session_date <= f.end)

    names = ["sessions", *[n for n in schema.SESSION_FUNNEL_COLUMNS if n in present]]
    row = conn.execute(sa.select(*[
        sa.func.sum(table.c[name]).filter(within(f)).label(f"{name}{suffix}")
        for name in names for suffix, f in (("", filters), ("_prev", previous))
    ]).where(*conditions)).mappings().one()
    return {key: (None if value is None else float(value)) for key, value in row.items()}, True


def _order_groups(warehouse, version: int, filters: Filters, previous: Filters,
                  scope: Scope) -> tuple[pd.DataFrame, dict]:
    """Per (traffic source, sales channel): net revenue, orders, new customers and their
    net revenue, for both periods; and the totals over all groups."""
    source = measures.source_for(warehouse, filters, scope,
                                 group_by=("traffic_source", "channel"), version=version)
    table = source.counts
    c = table.c
    customer = source.customer(table)
    sale = source.is_sale(table)
    net = source.net_value(table)
    columns = [customer.label("customer"), source.invoice(table).label("invoice"),
               c.invoice_ts, c.invoice_date, c.traffic_source, c.channel,
               sale.label("is_sale"), net.label("net_value")]
    if source.segment is None and not line_conditions(filters, scope, table, dates=False):
        # nothing but the dates: a customer's first sale is the one of the whole data, and
        # only the two periods' rows are read
        customers = schema.dim_customer
        rows = sa.select(*columns, customers.c.first_sale_ts).select_from(
            table.outerjoin(customers, customers.c.customer_id == c.customer_id)).where(
            *source.where(table, filters.with_period(previous.start, filters.end), scope))
    else:
        # a customer's first sale under the filters: grouped over the history up to the
        # end and joined to the two periods' rows (a window over the history's rows sorts
        # them all: 2-3x slower on DuckDB)
        firsts = sa.select(
            customer.label("customer"), sa.func.min(c.invoice_ts).filter(sale)
            .label("first_sale_ts"),
        ).where(*source.where(table, filters.with_period(None, filters.end), scope),
                customer.is_not(None)).group_by(customer).subquery("first_sales")
        rows = sa.select(*columns, firsts.c.first_sale_ts).select_from(
            table.outerjoin(firsts, firsts.c.customer == customer)).where(
            *source.where(table, filters.with_period(previous.start, filters.end), scope))
    rows = rows.cte("marketing_lines")  # read once for the groups and the totals
    r = rows.c

    def within(f: Filters) -> sa.ColumnElement[bool]:
        return sa.and_(r.invoice_date >= f.start, r.invoice_date <= f.end)

    def first_within(f: Filters) -> sa.ColumnElement[bool]:
        start = dt.datetime.combine(f.start, dt.time())
        # the end day's last instant (not the next midnight: 9999-12-31 has none)
        end = dt.datetime.combine(f.end, dt.time.max)
        return sa.and_(r.customer.is_not(None), r.first_sale_ts >= start,
                       r.first_sale_ts <= end)

    periods = (("", filters), ("_prev", previous))
    window = sa.or_(within(previous), within(filters))
    # per (group, invoice) first, so that orders are a plain count (a distinct count over
    # every row costs several times the rest); the new customers are counted distinct
    # over their first-sale rows only
    per_invoice = sa.select(
        r.traffic_source, r.channel, r.invoice,
        *[column for suffix, f in periods for column in (
            sa.func.sum(r.net_value).filter(within(f)).label(f"revenue{suffix}"),
            (sa.func.count().filter(within(f), r.is_sale) > 0).label(f"sale{suffix}"),
            sa.func.sum(r.net_value).filter(first_within(f), within(f))
            .label(f"new_revenue{suffix}"))],
    ).where(window).group_by(r.traffic_source, r.channel, r.invoice).cte("per_invoice")
    i = per_invoice.c

    def number(value, type_=sa.Double) -> sa.ColumnElement:
        return sa.cast(value, type_)

    def order_measures(grouped: bool) -> list:
        out = []
        for suffix, _f in periods:
            orders = (sa.func.count().filter(i[f"sale{suffix}"]) if grouped else
                      sa.func.count(sa.distinct(i.invoice)).filter(i[f"sale{suffix}"]))
            out += [number(sa.func.coalesce(sa.func.sum(i[f"revenue{suffix}"]), 0.0))
                    .label(f"revenue{suffix}"),
                    number(orders, sa.BigInteger).label(f"orders{suffix}"),
                    number(0, sa.BigInteger).label(f"new_customers{suffix}"),
                    number(sa.func.coalesce(sa.func.sum(i[f"new_revenue{suffix}"]), 0.0))
                    .label(f"new_revenue{suffix}")]
        return out

    def new_customer_measures() -> list:
        out = []
        for suffix, f in periods:
            out += [number(0.0).label(f"revenue{suffix}"),
                    number(0, sa.BigInteger).label(f"orders{suffix}"),
                    number(sa.func.count(sa.distinct(r.customer)).filter(first_within(f)),
                           sa.BigInteger).label(f"new_customers{suffix}"),
                    number(0.0).label(f"new_revenue{suffix}")]
        return out

    no_group = [sa.cast(sa.null(), sa.String).label("traffic_source"),
                sa.cast(sa.null(), sa.String).label("channel")]
    first_rows = (window, r.is_sale, r.invoice_ts == r.first_sale_ts)
    pieces = [
        sa.select(sa.literal(0).label("total"), i.traffic_source, i.channel,
                  *order_measures(True)).group_by(i.traffic_source, i.channel),
        sa.select(sa.literal(0).label("total"), r.traffic_source, r.channel,
                  *new_customer_measures()).where(*first_rows)
        .group_by(r.traffic_source, r.channel),
        sa.select(sa.literal(1).label("total"), *no_group, *order_measures(False)),
        sa.select(sa.literal(1).label("total"), *no_group, *new_customer_measures())
        .where(*first_rows),
    ]
    with warehouse.connect(version) as conn:
        frame = measures.read_frame(conn, sa.union_all(*pieces))
    keys = ["total", "traffic_source", "channel"]
    numbers = [name for name in frame.columns if name not in keys]
    frame = measures.numeric(frame, [*numbers, "total"])
    # each measure comes from one piece, the others add 0
    frame = frame.groupby(keys, dropna=False, sort=False)[numbers].sum().reset_index()
    is_total = frame["total"].to_numpy() == 1
    total_row = frame.loc[is_total, numbers].iloc[0].to_dict()
    frame = frame.loc[~is_total, ["traffic_source", "channel", *numbers]] \
        .reset_index(drop=True)
    return frame, {key: _number(value) for key, value in total_row.items()}


def _number(value) -> float:
    if value is None:
        return 0.0
    number = float(value)
    return 0.0 if math.isnan(number) else number
