"""The overview's seven answers computed by Polars from the raw lines in memory, and the
cell-by-cell check that the analytics engine gives the same numbers.

``bench.analytics`` times the engine against this reference: a raw in-memory engine that
reads every line for every answer, with no rollup. The definitions follow docs/METRICS.md
and the analytics functions they check (``analytics.kpis.kpi_summary``,
``analytics.series.time_series`` by month and by day over the whole history,
``analytics.breakdowns.breakdown`` of the top 10 countries,
``analytics.products.category_performance`` and ``top_products`` (20),
``analytics.customers.rfm_table``), written again from the definitions, not from the SQL:

* a **counted line** is a sale line (quantity > 0, not a cancellation, unit price > 0) or a
  return line (quantity < 0 or a cancellation, unit price > 0); no other line reaches a
  number;
* filters restrict the lines before any measure (a country matches its name or its ISO
  code); an RFM segment keeps the lines of the customers that RFM puts in it over the
  answer's own period (the 30-day default for the KPIs, the whole history for the series);
* sessions (conversion rate) follow the country, channel, device and traffic source
  filters; any other filter leaves the conversion rate empty.

``check(engine, reference)`` compares two answer sets cell by cell: numbers within a
relative 1e-9 (the engines add floats in another order), missing values (None, NaN, <NA>)
equal to each other only, texts and dates exactly; a different shape is one mismatch.
"""
from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import polars as pl

from analytics import catalog
from analytics.filters import Filters
from analytics.segments import SEGMENT_GRID

DEFAULT_DAYS = 30
NONE_LABEL = "(none)"
_ISO2 = re.compile(r"^[A-Z]{2}$")
_FILTER_COLUMNS = {d.field: d.column for d in catalog.filter_dimensions()}
_SESSION_FIELDS = {d.field: d.sessions_column for d in catalog.filter_dimensions()
                   if d.sessions_column is not None and not d.codes}
_SESSIONLESS_FIELDS = tuple(d.field for d in catalog.filter_dimensions()
                            if d.sessions_column is None)
_SEGMENT_OF = {r * 10 + fm: name for r, row in SEGMENT_GRID.items()
               for fm, name in enumerate(row, start=1)}
ANSWERS = ("kpi_summary", "series_month", "series_day", "top_countries", "categories",
           "top_products", "rfm")


@dataclass
class Lines:
    """The raw lines with the derived columns every engine derives at load (line value,
    cost value, day, sale and return flags, line id in time order), the daily sessions,
    and what the data holds."""
    lines: pl.DataFrame      # the counted lines (sale or return lines) only
    sessions: pl.DataFrame
    products: pl.DataFrame   # product_id, description, category (as ``dim_product``)
    countries: pl.DataFrame  # the distinct (country, country_code) of all lines
    first_day: dt.date
    last_day: dt.date
    has_cost: bool
    has_sessions: bool


def prepare(lines: pd.DataFrame, sessions: pd.DataFrame) -> Lines:
    """``Lines`` from a line-item frame and a sessions frame (``analytics.schema``)."""
    frame = pl.from_pandas(lines).with_row_index("ordinal")
    frame = frame.sort(["invoice_ts", "ordinal"]).with_row_index("line_id", offset=1)
    frame = frame.with_columns(
        pl.col("invoice_ts").dt.date().alias("invoice_date"),
        (pl.col("quantity") * pl.col("unit_price")).alias("line_value"),
        (pl.col("quantity") * pl.col("unit_cost")).alias("cost_value"),
        ((pl.col("quantity") > 0) & ~pl.col("is_cancellation")
         & (pl.col("unit_price") > 0)).alias("is_sale"),
        (((pl.col("quantity") < 0) | pl.col("is_cancellation"))
         & (pl.col("unit_price") > 0)).alias("is_return"))
    frame = frame.with_columns(
        pl.col("cost_value").fill_nan(None),
        # dictionary codes: distinct counts on integers, as a column store keeps them
        pl.col("invoice_id").cast(pl.Categorical).to_physical().alias("invoice_key"),
        pl.col("customer_id").cast(pl.Categorical).to_physical().alias("customer_key"))
    days = frame["invoice_date"]
    session_frame = pl.from_pandas(sessions).with_columns(
        pl.col("session_date").cast(pl.Date))
    products = _products(frame)
    counted = frame.filter(pl.col("is_sale") | pl.col("is_return"))
    countries = frame.select("country", "country_code").unique()
    return Lines(counted, session_frame, products, countries, days.min(), days.max(),
                 bool(frame["unit_cost"].is_not_null().any()), session_frame.height > 0)


def _products(frame: pl.DataFrame) -> pl.DataFrame:
    """Per product: the most frequent known description (ties by text), the category of
    its latest line (``dim_product``)."""
    descriptions = (frame.filter(pl.col("description").is_not_null())
                    .group_by("product_id", "description").len()
                    .sort(["product_id", "len", "description"], descending=[False, True, False])
                    .group_by("product_id", maintain_order=True).first()
                    .select("product_id", "description"))
    categories = (frame.sort(["invoice_ts", "line_id"], descending=True)
                  .group_by("product_id", maintain_order=True).first()
                  .select("product_id", "category"))
    return categories.join(descriptions, on="product_id", how="left")


# ------------------------------------------------------------------ the answers
def overview(data: Lines, filters: Filters) -> dict:
    """The seven answers of the overview under ``filters`` (all data, no scope)."""
    resolved = resolve(data, filters)
    history = resolved.with_period(data.first_day, data.last_day)
    period_lines = _filtered(data, resolved)
    history_lines = (_filtered(data, history) if filters.segment else period_lines)
    return {
        "kpi_summary": kpi_summary(data, resolved, period_lines),
        "series_month": time_series(data, history, history_lines, "month"),
        "series_day": time_series(data, history, history_lines, "day"),
        "top_countries": breakdown(data, resolved, period_lines, "country", top=10),
        "categories": category_performance(data, resolved, period_lines),
        "top_products": top_products(data, resolved, period_lines, 20),
        "rfm": rfm_table(data, resolved),
    }


def resolve(data: Lines, filters: Filters) -> Filters:
    """Missing end → the data's last day; missing start → 30 days up to the end."""
    end = filters.end or data.last_day
    start = filters.start or end - dt.timedelta(days=DEFAULT_DAYS - 1)
    return filters.with_period(start, end)


def _dimension_condition(filters: Filters) -> pl.Expr:
    condition = pl.lit(True)
    for field, column in _FILTER_COLUMNS.items():
        values = list(getattr(filters, field))
        if not values:
            continue
        match = pl.col(column).is_in(values)
        codes = [v for v in values if _ISO2.match(v)]
        if field == "countries" and codes:
            match = match | pl.col("country_code").is_in(codes)
        condition = condition & match.fill_null(False)
    if filters.min_price is not None:
        condition = condition & (pl.col("unit_price") >= filters.min_price)
    if filters.max_price is not None:
        condition = condition & (pl.col("unit_price") <= filters.max_price)
    return condition


def _filtered(data: Lines, filters: Filters) -> pl.DataFrame:
    """The counted lines of every day under the filters but the dates; a segment keeps its
    customers as RFM puts them over ``filters``' period."""
    restricted = (any(getattr(filters, field) for field in _FILTER_COLUMNS)
                  or filters.min_price is not None or filters.max_price is not None)
    lines = data.lines.filter(_dimension_condition(filters)) if restricted else data.lines
    if filters.segment:
        rfm = _rfm(lines, filters.start, filters.end)
        members = rfm.filter(pl.col("segment") == filters.segment)["customer_id"]
        lines = lines.filter(pl.col("customer_id").is_in(members.implode()))
    return lines


def _within(start: dt.date, end: dt.date) -> pl.Expr:
    return pl.col("invoice_date").is_between(start, end)


def _sums() -> list[pl.Expr]:
    sale, ret = pl.col("is_sale"), pl.col("is_return")
    return [
        pl.col("line_value").filter(sale).sum().alias("gross_revenue"),
        pl.col("line_value").filter(ret).sum().alias("return_value"),
        pl.col("quantity").filter(sale).sum().alias("units"),
        pl.col("cost_value").sum().alias("cost"),
        pl.col("cost_value").count().alias("cost_lines"),
        sale.sum().alias("sale_lines"),
        ret.sum().alias("return_lines"),
        pl.col("invoice_key").filter(sale).n_unique().alias("orders"),
        pl.col("customer_key").filter(sale & pl.col("customer_key").is_not_null())
        .n_unique().alias("customers"),
    ]


# KPIs ------------------------------------------------------------------------------
def kpi_summary(data: Lines, filters: Filters, lines: pl.DataFrame) -> dict:
    """KPI name → (current, previous) for the period and the previous period."""
    days = filters.days
    previous = filters.with_period(filters.start - dt.timedelta(days=days),
                                   filters.start - dt.timedelta(days=1))
    before = previous.with_period(previous.start - dt.timedelta(days=days),
                                  previous.start - dt.timedelta(days=1))
    rates = _customer_rates(lines, filters, previous, before)
    current = _period_kpis(data, filters, lines, rates, "current", "previous")
    prior = _period_kpis(data, previous, lines, rates, "previous", "before")
    return {name: (current[name], prior[name]) for name in catalog.KPI_NAMES}


def _customer_rates(lines: pl.DataFrame, current: Filters, previous: Filters,
                    before: Filters) -> dict:
    """Per period (current, previous): churn base and churned customers, repeaters and the
    mean LTV (net revenue from the first sale line up to the period's end) of its
    customers; from one pass over each identified customer's lines up to the end."""
    sale = pl.col("is_sale")
    periods = {"current": current, "previous": previous, "before": before}
    since_first = pl.col("invoice_ts") >= pl.col("invoice_ts").filter(sale).min()
    per_customer = (
        lines.filter(pl.col("customer_key").is_not_null(),
                     pl.col("invoice_date") <= current.end)
        .group_by("customer_key")
        .agg(*[(sale & _within(f.start, f.end)).any().alias(f"in_{name}")
               for name, f in periods.items()],
             *[pl.col("invoice_key").filter(sale & _within(f.start, f.end)).n_unique()
               .alias(f"orders_{name}") for name, f in (("current", current),
                                                        ("previous", previous))],
             *[pl.col("line_value").filter(since_first & (pl.col("invoice_date") <= f.end))
               .sum().alias(f"ltv_{name}") for name, f in (("current", current),
                                                           ("previous", previous))]))
    row = per_customer.select(
        *[pl.col(f"in_{later}").filter(pl.col(f"in_{earlier}")).not_().sum()
          .alias(f"churned_{later}") for later, earlier in (("current", "previous"),
                                                            ("previous", "before"))],
        *[pl.col(f"in_{name}").sum().alias(f"base_{name}") for name in periods],
        *[(pl.col(f"in_{name}") & (pl.col(f"orders_{name}") >= 2)).sum()
          .alias(f"repeaters_{name}") for name in ("current", "previous")],
        *[pl.col(f"ltv_{name}").filter(pl.col(f"in_{name}")).mean().alias(f"ltv_{name}")
          for name in ("current", "previous")]).row(0, named=True)
    return row


def _period_kpis(data: Lines, filters: Filters, lines: pl.DataFrame, rates: dict,
                 name: str, earlier: str) -> dict:
    if filters.end < data.first_day or filters.start > data.last_day:
        return {kpi: None for kpi in catalog.KPI_NAMES}
    row = lines.filter(_within(filters.start, filters.end)).select(_sums()).row(0, named=True)
    gross = row["gross_revenue"] or 0.0
    revenue = gross + (row["return_value"] or 0.0)
    orders, customers = row["orders"], row["customers"]
    out = {"gross_revenue": gross, "returns": -(row["return_value"] or 0.0),
           "revenue": revenue, "orders": orders, "units": row["units"] or 0.0,
           "customers": customers, "aov": gross / orders if orders else None}
    has_lines = row["sale_lines"] + row["return_lines"] > 0
    if not data.has_cost:
        out["profit"] = out["margin"] = None
    elif not has_lines:
        out["profit"], out["margin"] = 0.0, None
    elif row["cost_lines"] == 0:
        out["profit"] = out["margin"] = None
    else:
        out["profit"] = revenue - (row["cost"] or 0.0)
        out["margin"] = out["profit"] / revenue if revenue else None
    sessions = _sessions(data, filters)
    out["conversion_rate"] = orders / sessions if sessions else None
    base = rates[f"base_{earlier}"]
    out["churn_rate"] = rates[f"churned_{name}"] / base if base else None
    if customers:
        out["ltv"] = rates[f"ltv_{name}"]
        out["repeat_rate"] = rates[f"repeaters_{name}"] / customers
    else:
        out["ltv"] = out["repeat_rate"] = None
    return out


def _sessions(data: Lines, filters: Filters) -> float | None:
    """Σ sessions of the period under the filters sessions follow; None when a filter
    names something sessions are not broken down by (or there are no sessions)."""
    if not data.has_sessions:
        return None
    if (any(getattr(filters, f) for f in _SESSIONLESS_FIELDS) or filters.segment
            or filters.min_price is not None or filters.max_price is not None):
        return None
    sessions = data.sessions.filter(
        pl.col("session_date").is_between(filters.start, filters.end))
    if filters.countries:
        named = (data.countries.filter(pl.col("country").is_in(list(filters.countries)))
                 ["country_code"].to_list())
        sessions = sessions.filter(pl.col("country_code").is_in(
            [*filters.countries, *[c for c in named if c is not None]]))
    for field, column in _SESSION_FIELDS.items():
        values = getattr(filters, field)
        if values:
            sessions = sessions.filter(pl.col(column).is_in(list(values)))
    total = sessions["sessions"].sum()
    return float(total) if total else None


# series ----------------------------------------------------------------------------
def _bucket_start(day: dt.date, grain: str) -> dt.date:
    if grain == "week":
        return day - dt.timedelta(days=day.weekday())
    return day.replace(day=1) if grain == "month" else day


def _year_earlier(day: dt.date) -> dt.date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


def _bucket_end(start: dt.date, grain: str) -> dt.date:
    if grain == "week":
        return start + dt.timedelta(days=6)
    if grain == "month":
        following = (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        return following - dt.timedelta(days=1)
    return start


def _bucket_expr(grain: str) -> pl.Expr:
    day = pl.col("invoice_date")
    if grain == "month":
        return day.dt.truncate("1mo")
    if grain == "week":
        return day.dt.truncate("1w")
    return day


def time_series(data: Lines, filters: Filters, lines: pl.DataFrame, grain: str) -> dict:
    """Column → list of values per bucket, as ``analytics.series.time_series`` with
    ``history=True`` (``filters`` already span the data)."""
    start, end = filters.start, filters.end
    buckets = []
    cursor = _bucket_start(start, grain)
    while cursor <= end:
        buckets.append(cursor)
        cursor = _bucket_end(cursor, grain) + dt.timedelta(days=1)
    per_bucket = (lines.filter(_within(start, end)).group_by(_bucket_expr(grain).alias("b"))
                  .agg(_sums()))
    rows = {row["b"]: row for row in per_bucket.iter_rows(named=True)}
    ly_start, ly_end = _year_earlier(start), _year_earlier(end)
    earlier = (lines.filter(_within(ly_start, ly_end)).group_by(_bucket_expr(grain).alias("b"))
               .agg(pl.col("line_value").sum().alias("revenue"),
                    pl.col("invoice_key").filter(pl.col("is_sale")).n_unique().alias("orders")))
    earlier_rows = {row["b"]: row for row in earlier.iter_rows(named=True)}
    out: dict[str, list] = {name: [] for name in (
        "period_start", "gross_revenue", "returns", "revenue", "orders", "units", "customers",
        "profit", "revenue_last_year", "orders_last_year", "revenue_comparison",
        "orders_comparison", "days_held", "bucket_days", "partial")}
    for bucket in buckets:
        row = rows.get(bucket, {})
        gross = row.get("gross_revenue") or 0.0
        revenue = gross + (row.get("return_value") or 0.0)
        out["period_start"].append(bucket)
        out["gross_revenue"].append(gross)
        out["returns"].append(-(row.get("return_value") or 0.0))
        out["revenue"].append(revenue)
        out["orders"].append(row.get("orders") or 0)
        out["units"].append(row.get("units") or 0.0)
        out["customers"].append(row.get("customers") or 0)
        out["profit"].append(revenue - (row.get("cost") or 0.0) if data.has_cost else None)
        key = bucket - dt.timedelta(days=364) if grain == "week" else _year_earlier(bucket)
        before_data = _bucket_end(key, grain) < data.first_day
        found = earlier_rows.get(key, {})
        out["revenue_last_year"].append(None if before_data else found.get("revenue") or 0.0)
        out["orders_last_year"].append(None if before_data else found.get("orders") or 0)
        low = max(bucket, start, data.first_day)
        high = min(_bucket_end(bucket, grain), end, data.last_day)
        held = max((high - low).days + 1, 0)
        out["days_held"].append(held)
        whole = (_bucket_end(bucket, grain) - bucket).days + 1
        out["bucket_days"].append(whole)
        out["partial"].append(grain != "day" and held < whole)
    compared_revenue, compared_orders = _comparison(data, filters, lines, buckets, grain)
    out["revenue_comparison"] = compared_revenue
    out["orders_comparison"] = compared_orders
    return out


def _comparison(data: Lines, filters: Filters, lines: pl.DataFrame, buckets: list,
                grain: str) -> tuple[list, list]:
    """The previous period's net revenue and orders moved onto the period's days, per
    bucket; None for a bucket no day of the previous period inside the data reaches."""
    days = filters.days
    compared_start = filters.start - dt.timedelta(days=days)
    compared_end = filters.start - dt.timedelta(days=1)
    shift = dt.timedelta(days=days)
    low, high = max(compared_start, data.first_day), min(compared_end, data.last_day)
    covered = set()
    day = low
    while day <= high:
        moved = day + shift
        if filters.start <= moved <= filters.end:
            covered.add(_bucket_start(moved, grain))
        day += dt.timedelta(days=1)
    per_day = (lines.filter(_within(compared_start, compared_end)).group_by("invoice_date")
               .agg(pl.col("line_value").sum().alias("revenue"),
                    pl.col("invoice_key").filter(pl.col("is_sale")).n_unique().alias("orders")))
    revenue: dict = {}
    orders: dict = {}
    for row in per_day.iter_rows(named=True):
        moved = row["invoice_date"] + shift
        if filters.start <= moved <= filters.end:
            bucket = _bucket_start(moved, grain)
            revenue[bucket] = revenue.get(bucket, 0.0) + row["revenue"]
            orders[bucket] = orders.get(bucket, 0) + row["orders"]
    return ([revenue.get(b, 0.0) if b in covered else None for b in buckets],
            [orders.get(b, 0) if b in covered else None for b in buckets])


# breakdowns ------------------------------------------------------------------------
_MEASURES = ("gross_revenue", "returns", "revenue", "orders", "units", "customers", "profit",
             "margin")


def _finished(sums: dict) -> dict:
    gross = sums["gross_revenue"] or 0.0
    revenue = gross + (sums["return_value"] or 0.0)
    profit = revenue - (sums["cost"] or 0.0) if sums["cost_lines"] else None
    return {"gross_revenue": gross, "returns": -(sums["return_value"] or 0.0),
            "revenue": revenue, "orders": sums["orders"], "units": sums["units"] or 0.0,
            "customers": sums["customers"], "profit": profit,
            "margin": profit / revenue if profit is not None and revenue else None}


def breakdown(data: Lines, filters: Filters, lines: pl.DataFrame, dimension: str,
              top: int | None = None) -> dict:
    """Column → values per key, as ``analytics.breakdowns.breakdown``."""
    column = catalog.dimension(dimension).column
    in_period = lines.filter(_within(filters.start, filters.end)).with_columns(
        pl.col(column).fill_null(NONE_LABEL).alias("key"))
    extra = [pl.col("country_code").max()] if dimension == "country" else []
    grouped = in_period.group_by("key").agg(*_sums(), *extra)
    rows = []
    for row in grouped.iter_rows(named=True):
        rows.append({"key": row["key"], **({"country_code": row["country_code"]}
                                           if dimension == "country" else {}),
                     **_finished(row)})
    rows.sort(key=lambda r: r["key"])
    rows.sort(key=lambda r: -r["revenue"])
    total = sum(r["revenue"] for r in rows)
    if top is not None and len(rows) > top:
        kept = {r["key"] for r in rows[:top]}
        rest = in_period.filter(~pl.col("key").is_in(list(kept))).select(_sums()).row(
            0, named=True)
        others = {"key": "(others)", **_finished(rest)}
        if dimension == "country":
            others["country_code"] = None
        rows = [*rows[:top], others]
    out: dict[str, list] = {"key": [r["key"] for r in rows]}
    out["label"] = ["Others" if r["key"] == "(others)" else r["key"] for r in rows]
    if dimension == "country":
        out["country_code"] = [r["country_code"] for r in rows]
    for name in _MEASURES:
        out[name] = [r[name] for r in rows]
    out["share"] = [r["revenue"] / total if total else None for r in rows]
    return out


def category_performance(data: Lines, filters: Filters, lines: pl.DataFrame) -> dict:
    out = breakdown(data, filters, lines, "category")
    out.pop("label")
    return {"category": out.pop("key"), **out}


def top_products(data: Lines, filters: Filters, lines: pl.DataFrame, n: int) -> dict:
    out = {name: values[:n] for name, values in
           breakdown(data, filters, lines, "product").items()}
    products = {row["product_id"]: row for row in data.products.filter(
        pl.col("product_id").is_in(out["key"])).iter_rows(named=True)}
    keys = out.pop("key")
    out.pop("label")
    return {"product_id": keys,
            "description": [products[k]["description"] or k for k in keys],
            "category": [products[k]["category"] for k in keys], **out}


# RFM -------------------------------------------------------------------------------
def _rfm(lines: pl.DataFrame, start: dt.date, end: dt.date) -> pl.DataFrame:
    """RFM of the customers with a sale line in ``start…end`` (METRICS.md), sorted by id."""
    sale = pl.col("is_sale")
    per_customer = (
        lines.filter(pl.col("customer_id").is_not_null(), _within(start, end))
        .group_by("customer_id")
        .agg(pl.col("invoice_date").filter(sale).max().alias("last_sale_date"),
             pl.col("invoice_key").filter(sale).n_unique().alias("frequency"),
             pl.col("line_value").sum().alias("monetary"),
             sale.sum().alias("sales"))
        .filter(pl.col("sales") > 0).drop("sales")
        .sort("customer_id"))
    count = per_customer.height

    def score(*by: str) -> pl.Expr:
        position = pl.int_range(1, count + 1)
        ranked = per_customer.with_columns(
            pl.col("monetary").round(6).alias("monetary_rounded")).sort([*by, "customer_id"])
        scores = ranked.select("customer_id", ((position * 5 + count - 1) // count)
                               .alias("score"))
        return per_customer.join(scores, on="customer_id", how="left")["score"]

    scored = per_customer.with_columns(
        r=score("last_sale_date"), f=score("frequency"), m=score("monetary_rounded"))
    scored = scored.with_columns(
        ((pl.col("f") + pl.col("m") + 1) // 2).alias("fm"),
        ((pl.lit(end) - pl.col("last_sale_date")).dt.total_days() + 1).alias("recency"))
    segment = (pl.col("r") * 10 + pl.col("fm")).replace_strict(_SEGMENT_OF)
    return scored.with_columns(segment.alias("segment")).select(
        "customer_id", "recency", "frequency", "monetary", "r", "f", "m", "fm", "segment")


def rfm_table(data: Lines, filters: Filters) -> dict:
    rfm = _rfm(_filtered(data, replace(filters, segment=None)), filters.start, filters.end)
    if filters.segment:
        rfm = rfm.filter(pl.col("segment") == filters.segment)
    return rfm.to_dict(as_series=False)


# ------------------------------------------------------------------ the check
@dataclass
class CheckResult:
    cells: int
    mismatches: list[str]

    @property
    def passed(self) -> bool:
        return not self.mismatches


def engine_answers(answers: dict) -> dict:
    """The engine's answers (``bench.analytics.workload`` names → values) as the
    reference's: the KPI summary as name → (current, previous), frames as column → list."""
    out = {}
    for name, value in answers.items():
        if name == "kpi_summary":
            out[name] = {k: (kpi.current, kpi.previous) for k, kpi in value.kpis.items()}
        else:
            out[name] = {column: value[column].tolist() for column in value.columns}
    return out


def check(engine: dict, reference: dict, *, limit: int = 20) -> CheckResult:
    """Every cell of ``engine`` against ``reference`` (both as ``engine_answers`` gives);
    the first ``limit`` mismatches are described."""
    cells, mismatches = 0, []
    for answer in ANSWERS:
        mine, theirs = engine.get(answer), reference.get(answer)
        if mine is None or theirs is None:
            mismatches.append(f"{answer}: missing on one side")
            continue
        if set(mine) != set(theirs):
            mismatches.append(f"{answer}: columns differ: {sorted(set(mine) ^ set(theirs))}")
            continue
        for column, values in mine.items():
            other = theirs[column]
            if not isinstance(values, tuple) and len(values) != len(other):
                mismatches.append(f"{answer}.{column}: {len(values)} rows, reference "
                                  f"{len(other)}")
                continue
            for index, (a, b) in enumerate(zip(values, other)):
                cells += 1
                if not same(a, b):
                    mismatches.append(f"{answer}.{column}[{index}]: {a!r} != reference {b!r}")
    return CheckResult(cells, mismatches[:limit] + (
        [f"… {len(mismatches) - limit} more"] if len(mismatches) > limit else []))


def _missing(value) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def same(a, b) -> bool:
    """One cell: missing equals missing, numbers within a relative 1e-9, dates as days."""
    if _missing(a) or _missing(b):
        return _missing(a) and _missing(b)
    if isinstance(a, (pd.Timestamp, np.datetime64, dt.date)):
        return _day(a) == _day(b)
    if isinstance(a, (bool, np.bool_)) or isinstance(b, (bool, np.bool_)):
        return bool(a) == bool(b)
    if isinstance(a, (int, float, np.number)) and isinstance(b, (int, float, np.number)):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-6)
    return a == b


def _day(value) -> dt.date | None:
    try:
        return pd.Timestamp(value).date()
    except (TypeError, ValueError):
        return None
