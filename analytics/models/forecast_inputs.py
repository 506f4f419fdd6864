"""The daily series of one product or category for a demand forecast, read like
``analytics.models.inputs`` reads the others: the filters and the user's data scope are
applied in the database (``inputs._conditions``), only per-day rows reach pandas."""
from __future__ import annotations

import pandas as pd
import sqlalchemy as sa

from analytics.filters import Filters, Scope
from analytics.models import inputs

lines = inputs.lines


def item_daily_series(warehouse, filters: Filters, scope: Scope, level: str,
                      item: str) -> pd.DataFrame:
    """Per day with a counted line of the product (``level="product"``, by product id) or
    category: ``date``, ``units`` (quantity of sale lines) and ``revenue`` (net: sale and
    return line values, METRICS.md). Days without lines are absent (the forecast fills them
    with 0)."""
    column = lines.c.product_id if level == "product" else lines.c.category
    statement = (
        sa.select(lines.c.invoice_date.label("date"),
                  inputs._sum_if(lines.c.is_sale, lines.c.quantity).label("units"),
                  inputs._net_value().label("revenue"))
        .where(inputs.counted, column == item, *inputs._conditions(warehouse, filters, scope))
        .group_by(lines.c.invoice_date).order_by(lines.c.invoice_date))
    return inputs._numbers(inputs._as_dates(inputs._read(warehouse, statement), "date"),
                           "units", "revenue")


def item_description(warehouse, level: str, item: str) -> str:
    """A product's description (its id when it has none); a category is its own name."""
    if level != "product":
        return item
    return inputs.product_descriptions(warehouse, [item]).get(item) or item
