"""Product insights: top products, category performance, BCG matrix, revenue treemap."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import sqlalchemy as sa

from analytics import measures, period, schema
from analytics.breakdowns import breakdown
from analytics.filters import FilterError, Filters, Scope

NEW = "new"


def top_products(warehouse, filters: Filters, scope: Scope, n: int = 20) -> pd.DataFrame:
    """DataFrame[product_id, description, category, gross_revenue, returns, revenue, orders,
    units, customers, profit, margin, share]: the ``n`` products with the highest net
    revenue in the period (ties by product id). ``share`` is of the period's net revenue;
    ``category`` is the product's latest category."""
    if n < 1:
        raise FilterError("n must be at least 1")
    frame = breakdown(warehouse, filters, scope, "product", product_columns=("category",))
    frame = frame.head(n).rename(columns={"key": "product_id", "label": "description"})
    frame["category"] = list(frame["category"])  # text, as pandas infers it (str dtype)
    return frame.reset_index(drop=True)


def category_performance(warehouse, filters: Filters, scope: Scope) -> pd.DataFrame:
    """DataFrame[category, gross_revenue, returns, revenue, orders, units, customers, profit,
    margin, share] per category ("(none)" for lines without one), by net revenue."""
    frame = breakdown(warehouse, filters, scope, "category")
    return frame.drop(columns=["label"]).rename(columns={"key": "category"})


@dataclass(frozen=True)
class BcgMatrix:
    """``peers``: DataFrame[key, label, revenue, previous_revenue, share, growth, quadrant]
    with growth NaN and quadrant "new" for a peer without previous revenue. The quadrant
    lines sit at ``share_median`` and ``growth_median`` (NaN when no peer has a growth)."""
    peers: pd.DataFrame
    share_median: float
    growth_median: float
    level: str  # "category", or "product" within one category


def bcg_matrix(warehouse, filters: Filters, scope: Scope,
               category: str | None = None) -> BcgMatrix:
    """BCG matrix over categories, or over the products of ``category`` (METRICS.md).

    Peers are those with a sale line in the period. x = share of the period's net revenue
    (of all the peers' revenue under the filters); y = growth = (revenue − previous) ÷
    previous, where previous is the net revenue in the previous period; a peer whose
    previous revenue is 0 or less has no growth and is "new". A peer is high on an axis
    when at or above the median of the peers shown: star (high share, high growth), cash
    cow (high, low), question mark (low, high), dog (low, low).
    """
    filters = period.resolve(warehouse, filters)
    previous = filters.previous_period()
    by_product = category is not None
    source = measures.source_for(warehouse, filters, scope, needs_lines=by_product,
                                 group_by=("category",))
    table = source.sums
    key = measures.key_expression(table.c.product_id if by_product else table.c.category)
    conditions = source.where(table, filters.with_period(previous.start, filters.end), scope)
    if by_product:
        conditions.append(measures.key_expression(table.c.category) == category)
    current = measures.period_condition(table, filters.start, filters.end)
    prior = measures.period_condition(table, previous.start, previous.end)
    query = sa.select(
        key.label("key"),
        *[c for c in measures.sum_columns(table, current)
          if c.name in ("gross_revenue", "return_value", "sale_lines")],
        *[c for c in measures.sum_columns(table, prior, "_prev")
          if c.name in ("gross_revenue_prev", "return_value_prev")],
    ).where(*conditions).group_by(key)
    with warehouse.connect() as conn:
        rows = pd.DataFrame(conn.execute(query).mappings().all(),
                            columns=["key", "gross_revenue", "return_value", "sale_lines",
                                     "gross_revenue_prev", "return_value_prev"])
    rows = measures.numeric(rows, ["gross_revenue", "return_value", "sale_lines",
                                   "gross_revenue_prev", "return_value_prev"]).fillna(
        {"gross_revenue": 0.0, "return_value": 0.0, "sale_lines": 0.0,
         "gross_revenue_prev": 0.0, "return_value_prev": 0.0})
    rows = rows[rows["sale_lines"] > 0].copy()
    rows["revenue"] = rows["gross_revenue"] + rows["return_value"]
    rows["previous_revenue"] = rows["gross_revenue_prev"] + rows["return_value_prev"]
    total = rows["revenue"].sum()
    rows["share"] = rows["revenue"] / total if total else np.nan
    has_previous = rows["previous_revenue"] > 0
    rows["growth"] = ((rows["revenue"] - rows["previous_revenue"])
                      / rows["previous_revenue"]).where(has_previous, np.nan)
    share_median = float(rows["share"].median()) if len(rows) else np.nan
    growth_median = float(rows["growth"].median()) if has_previous.any() else np.nan
    high_share = rows["share"] >= share_median
    high_growth = rows["growth"] >= growth_median
    rows["quadrant"] = np.select(
        [~has_previous, high_share & high_growth, high_share, high_growth],
        [NEW, "star", "cash cow", "question mark"], default="dog")
    if by_product:
        labels = _product_descriptions(warehouse, list(rows["key"]))
        rows["label"] = [labels.get(k) or k for k in rows["key"]]
    else:
        rows["label"] = rows["key"]
    peers = rows.sort_values(["revenue", "key"], ascending=[False, True], kind="mergesort")[
        ["key", "label", "revenue", "previous_revenue", "share", "growth", "quadrant"]
    ].reset_index(drop=True)
    return BcgMatrix(peers, share_median, growth_median,
                     "product" if by_product else "category")


def treemap(warehouse, filters: Filters, scope: Scope) -> pd.DataFrame:
    """DataFrame[country, city, category, revenue]: net revenue of the period per country →
    city → category ("(none)" for missing values), rows with positive revenue only (a
    treemap cannot draw the others), largest first."""
    filters = period.resolve(warehouse, filters)
    source = measures.source_for(warehouse, filters, scope,
                                 group_by=("country", "city", "category"))
    table = source.sums
    keys = [measures.key_expression(table.c[name]).label(name)
            for name in ("country", "city", "category")]
    sums = measures.sum_columns(table)
    revenue = (sa.func.coalesce(sums[0].element, 0.0)
               + sa.func.coalesce(sums[1].element, 0.0)).label("revenue")
    query = sa.select(*keys, revenue).where(*source.where(table, filters, scope)).group_by(
        *keys)
    with warehouse.connect() as conn:
        frame = pd.DataFrame(conn.execute(query).mappings().all(),
                             columns=["country", "city", "category", "revenue"])
    frame = measures.numeric(frame, ["revenue"])
    frame = frame[frame["revenue"] > 0]
    return frame.sort_values(["revenue", "country", "city", "category"],
                             ascending=[False, True, True, True]).reset_index(drop=True)


def _product_descriptions(warehouse, product_ids: list[str]) -> dict[str, str | None]:
    return _product_column(warehouse, product_ids, "description")


def _product_column(warehouse, product_ids: list[str], column: str) -> dict:
    if not product_ids:
        return {}
    products = schema.dim_product
    query = sa.select(products.c.product_id, products.c[column]).where(
        products.c.product_id.in_(product_ids))
    with warehouse.connect() as conn:
        return dict(conn.execute(query).all())
