"""Warehouse schema: the tables every data version holds, and the line-item frame contract.

Every loader (Online Retail, generic CSV, demo generator) produces a pandas DataFrame with
the columns of ``LINE_COLUMNS`` (the *line-item frame*); ``analytics.warehouse`` writes it,
plus the derived flags below, into a new data version.

Derived columns written by the warehouse (never by loaders):

* ``line_id``        BIGINT, 1…n in load order.
* ``invoice_date``   DATE, the calendar day of ``invoice_ts`` as stored (no time zone).
* ``line_value``     quantity × unit_price.
* ``cost_value``     quantity × unit_cost (NULL when unit_cost is NULL).
* ``is_sale``        quantity > 0, not a cancellation, unit_price > 0   (METRICS.md "sale line")
* ``is_return``      (quantity < 0 or cancellation) and unit_price > 0  (METRICS.md "return line")

``discount`` (the money a promotion took off the line, already out of ``unit_price``) is
copied as given; a version published before it existed has no such column (read as NULL).

Lines with unit_price ≤ 0 are kept with both flags false, so no metric counts them.
"""
from __future__ import annotations

import sqlalchemy as sa

from analytics import catalog

#: Columns of the line-item frame every loader returns, with their pandas dtypes.
#: Required columns come first; the optional ones may be entirely null. The dimension
#: columns come from ``analytics.catalog.DIMENSIONS``.
LINE_COLUMNS: dict[str, str] = {
    "invoice_id": "string",          # text; Online Retail cancellations start with "C"
    "invoice_ts": "datetime64[us]",  # naive timestamp, as stored
    "customer_id": "string",         # may be <NA>
    "product_id": "string",
    "description": "string",         # may be <NA>
    "quantity": "float64",
    "unit_price": "float64",         # net of discounts: line value = quantity × unit_price
    "country": "string",             # country as written in the source ("EIRE")
    "country_code": "string",        # ISO 3166-1 alpha-2 ("IE"), <NA> when unknown/none
    "is_cancellation": "bool",       # the invoice is a cancellation
    "unit_cost": "float64",          # optional
    # optional: money taken off the line at sale (≥ 0, already out of unit_price), NaN
    # where the source says nothing about discounts (docs/promotions.md)
    "discount": "float64",
    # the optional dimensions (city, category, channel, …)
    **{column: "string" for d in catalog.optional_dimensions() for column in d.columns},
}
REQUIRED_COLUMNS = ("invoice_id", "invoice_ts", "product_id", "quantity", "unit_price", "country")
#: Fact columns of the optional dimensions (a data file may leave them out).
OPTIONAL_DIMENSIONS = tuple(d.column for d in catalog.optional_dimensions())
#: Fact columns of the dimensions the rollups keep (country, country_code, city, …).
DIMENSION_COLUMNS = tuple(c for d in catalog.rollup_dimensions() for c in d.columns)
#: Columns of ``daily_sessions`` that slice the sessions (NULL = all values).
SESSION_DIMENSION_COLUMNS = tuple(d.sessions_column for d in catalog.session_dimensions())

#: Columns of the daily-sessions frame (optional; needed for conversion rate).
SESSION_COLUMNS: dict[str, str] = {
    "session_date": "datetime64[us]",
    **{column: "string" for column in SESSION_DIMENSION_COLUMNS},   # <NA> = all values
    "sessions": "int64",
}
#: Optional funnel counts of a sessions file (GA4: users, add-to-carts, checkouts,
#: purchases), nullable: NULL where the file had no such column. Not part of
#: ``SESSION_COLUMNS`` (the demo frame's contract): the warehouse adds them when absent.
SESSION_FUNNEL_COLUMNS: dict[str, str] = {
    "users": "Int64", "add_to_carts": "Int64", "checkouts": "Int64", "purchases": "Int64"}

#: Columns of the daily ad-spend frame (``data.traffic`` reads it from an ad platform's
#: export): one row per day × channel (the ad platform, "Google Ads") × campaign, with the
#: optional ad group, country and product. ``conversions`` and ``conversion_value`` are
#: what the platform reports (its own attribution), never order data.
AD_COLUMNS: dict[str, str] = {
    "ad_date": "datetime64[us]",
    "channel": "string",
    "campaign": "string",
    "ad_group": "string",          # <NA> = not broken down
    "country": "string",           # as written in the file, <NA> = not broken down
    "country_code": "string",      # ISO alpha-2 of ``country``
    "product_id": "string",        # <NA> = not broken down
    "impressions": "int64",
    "clicks": "int64",
    "spend": "float64",
    "conversions": "float64",
    "conversion_value": "float64",
    "currency": "string",          # ISO 4217 code as the platform wrote it, <NA> = unstated
}

metadata = sa.MetaData()

fact_lines = sa.Table(
    "fact_lines", metadata,
    sa.Column("line_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("invoice_id", sa.String, nullable=False),
    sa.Column("invoice_ts", sa.DateTime, nullable=False),
    sa.Column("invoice_date", sa.Date, nullable=False),
    sa.Column("customer_id", sa.String),
    sa.Column("product_id", sa.String, nullable=False),
    sa.Column("description", sa.String),
    sa.Column("quantity", sa.Float, nullable=False),
    sa.Column("unit_price", sa.Float, nullable=False),
    sa.Column("line_value", sa.Float, nullable=False),
    sa.Column("unit_cost", sa.Float),
    sa.Column("cost_value", sa.Float),
    *[sa.Column(name, sa.String, nullable=name not in REQUIRED_COLUMNS)
      for name in DIMENSION_COLUMNS],
    sa.Column("is_cancellation", sa.Boolean, nullable=False),
    sa.Column("is_sale", sa.Boolean, nullable=False),
    sa.Column("is_return", sa.Boolean, nullable=False),
    # the line's discount (LINE_COLUMNS); last, so that a version published before it
    # differs only by lacking it (``analytics.warehouse.table_columns``: read as NULL)
    sa.Column("discount", sa.Float),
)

dim_customer = sa.Table(
    "dim_customer", metadata,
    sa.Column("customer_id", sa.String, primary_key=True),
    sa.Column("country", sa.String),          # country of the customer's most recent line
    sa.Column("country_code", sa.String),
    sa.Column("first_sale_ts", sa.DateTime),  # first sale line in the whole history (NULL: none)
    sa.Column("last_sale_ts", sa.DateTime),
)

dim_product = sa.Table(
    "dim_product", metadata,
    sa.Column("product_id", sa.String, primary_key=True),
    sa.Column("description", sa.String),      # most frequent description
    sa.Column("category", sa.String),
    sa.Column("unit_cost", sa.Float),         # latest known unit cost
)

daily_sessions = sa.Table(
    "daily_sessions", metadata,
    sa.Column("session_date", sa.Date, nullable=False),
    *[sa.Column(name, sa.String) for name in SESSION_DIMENSION_COLUMNS],
    sa.Column("sessions", sa.BigInteger, nullable=False),
    *[sa.Column(name, sa.BigInteger) for name in SESSION_FUNNEL_COLUMNS],
)

#: Daily ad spend by channel (platform) and campaign (``AD_COLUMNS``); empty when no ad
#: file was loaded. A version published before this table existed has none at all
#: (``analytics.marketing`` reads that as no ad data).
ad_spend = sa.Table(
    "ad_spend", metadata,
    sa.Column("ad_date", sa.Date, nullable=False),
    sa.Column("channel", sa.String, nullable=False),
    sa.Column("campaign", sa.String, nullable=False),
    sa.Column("ad_group", sa.String),
    sa.Column("country", sa.String),
    sa.Column("country_code", sa.String),
    sa.Column("product_id", sa.String),
    sa.Column("impressions", sa.BigInteger, nullable=False),
    sa.Column("clicks", sa.BigInteger, nullable=False),
    sa.Column("spend", sa.Float, nullable=False),
    sa.Column("conversions", sa.Float, nullable=False),
    sa.Column("conversion_value", sa.Float, nullable=False),
    sa.Column("currency", sa.String),
)

#: One row per data version, written last by the loader: the version's own description.
version_info = sa.Table(
    "version_info", metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("source", sa.String),
    sa.Column("line_count", sa.BigInteger, nullable=False),
    sa.Column("min_ts", sa.DateTime),
    sa.Column("max_ts", sa.DateTime),
    sa.Column("has_cost", sa.Boolean, nullable=False),
    sa.Column("has_sessions", sa.Boolean, nullable=False),
    sa.Column("quality_json", sa.Text),       # the data-quality report of the load, as JSON
)

# --------------------------------------------------------------------------- rollups
# Built by ``analytics.rollups`` inside each data version from the counted lines (sale or
# return lines; lines with unit_price ≤ 0 never enter a rollup). Values keep their sign:
# ``return_value`` is Σ line value of return lines (≤ 0), ``cost_value`` Σ quantity × unit
# cost over sale and return lines (NULL when none of them has a cost).


#: The Σ measures every rollup row carries, declared once: column → (type, its SQL over the
#: counted fact lines ``{t}``). Every rollup table, the SQL that fills them
#: (``analytics.rollups``) and the re-aggregation of one rollup into another are made from
#: this. ``cost_value`` is NULL where no line has a cost; the others are never NULL.
ROLLUP_SUMS: dict[str, tuple[type[sa.types.TypeEngine], str]] = {
    "sale_value": (sa.Float, "SUM(CASE WHEN {t}.is_sale THEN {t}.line_value ELSE 0 END)"),
    "return_value": (sa.Float, "SUM(CASE WHEN {t}.is_return THEN {t}.line_value ELSE 0 END)"),
    "sale_units": (sa.Float, "SUM(CASE WHEN {t}.is_sale THEN {t}.quantity ELSE 0 END)"),
    "cost_value": (sa.Float, "SUM({t}.cost_value)"),
    "cost_lines": (sa.BigInteger, "COUNT({t}.cost_value)"),
    "sale_lines": (sa.BigInteger, "SUM(CASE WHEN {t}.is_sale THEN 1 ELSE 0 END)"),
    "return_lines": (sa.BigInteger, "SUM(CASE WHEN {t}.is_return THEN 1 ELSE 0 END)"),
}


def rollup_sum_columns() -> list[sa.Column]:
    return [sa.Column(name, type_, nullable=name == "cost_value")
            for name, (type_, _sql) in ROLLUP_SUMS.items()]


#: One row per (timestamp, invoice, customer, dimension values): exact distinct counts of
#: orders and customers under any dimension filter, and per-customer sums, without the facts.
#: ``invoice_key``/``customer_key`` are dense integer ids of invoice_id/customer_id
#: (integers make COUNT(DISTINCT) fast); ``customer_key`` is NULL when the customer is.
rollup_invoice = sa.Table(
    "rollup_invoice", metadata,
    sa.Column("invoice_ts", sa.DateTime, nullable=False),
    sa.Column("invoice_date", sa.Date, nullable=False),
    sa.Column("invoice_key", sa.BigInteger, nullable=False),
    sa.Column("customer_key", sa.BigInteger),
    sa.Column("customer_id", sa.String),
    *[sa.Column(name, sa.String) for name in DIMENSION_COLUMNS],
    *rollup_sum_columns(),
)

#: One row per (day, dimension values): the sum-type measures of the aggregate panels.
rollup_daily = sa.Table(
    "rollup_daily", metadata,
    sa.Column("invoice_date", sa.Date, nullable=False),
    *[sa.Column(name, sa.String) for name in DIMENSION_COLUMNS],
    *rollup_sum_columns(),
)
