"""Derived tables built inside each new data version, after the facts are written.

``build_statements(dialect)`` returns the SQL the publisher runs, in order. The statements
use only SQL that DuckDB and PostgreSQL both understand.

Rollups (``rollup_invoice``, ``rollup_daily``; columns in ``analytics.schema``) are exact
regroupings of the counted lines, so every measure read from them equals the same measure
read from the facts, under any filter that only names dimension columns and dates. Filters
on unit price or on an RFM segment need the lines themselves: ``use_rollups(filters)`` says
which source a query may read, and ``facts_only()`` forces the facts (tests, benchmarks).
"""
from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

_ROLLUPS_ENABLED = contextvars.ContextVar("rollups_enabled", default=True)
_DIMENSIONS = ("country, country_code, city, category, channel, payment_method, device, "
               "traffic_source")


@contextlib.contextmanager
def facts_only() -> Iterator[None]:
    """Within this block, analytics read the fact table instead of the rollups."""
    token = _ROLLUPS_ENABLED.set(False)
    try:
        yield
    finally:
        _ROLLUPS_ENABLED.reset(token)


def use_rollups(filters) -> bool:
    """Whether a query under ``filters`` may read the rollups (they hold no unit price and
    no per-line customer segment)."""
    return (_ROLLUPS_ENABLED.get() and filters.min_price is None
            and filters.max_price is None and not filters.segment)


def build_statements(dialect: str) -> list[str]:
    return [*_dimension_statements(), *_rollup_statements(dialect)]


def _dimension_statements() -> list[str]:
    return [
        # customers: first/last sale over the whole history, and their latest country
        """
        INSERT INTO dim_customer
        SELECT customer_id,
               MAX(country) FILTER (WHERE rn = 1) AS country,
               MAX(country_code) FILTER (WHERE rn = 1) AS country_code,
               MIN(invoice_ts) FILTER (WHERE is_sale) AS first_sale_ts,
               MAX(invoice_ts) FILTER (WHERE is_sale) AS last_sale_ts
        FROM (SELECT customer_id, country, country_code, invoice_ts, is_sale,
                     row_number() OVER (PARTITION BY customer_id
                                        ORDER BY invoice_ts DESC, line_id DESC) AS rn
              FROM fact_lines WHERE customer_id IS NOT NULL) AS lines
        GROUP BY customer_id
        """,
        # products: most frequent known description, latest category and unit cost
        """
        INSERT INTO dim_product
        SELECT product_id,
               MAX(description) FILTER (WHERE desc_rank = 1) AS description,
               MAX(category) FILTER (WHERE rn = 1) AS category,
               MAX(unit_cost) FILTER (WHERE cost_rn = 1) AS unit_cost
        FROM (SELECT product_id, description, category, unit_cost,
                     row_number() OVER (PARTITION BY product_id
                                        ORDER BY invoice_ts DESC, line_id DESC) AS rn,
                     row_number() OVER (PARTITION BY product_id
                                        ORDER BY unit_cost IS NULL, invoice_ts DESC,
                                                 line_id DESC) AS cost_rn,
                     rank() OVER (PARTITION BY product_id
                                  ORDER BY description IS NULL, desc_count DESC,
                                           description) AS desc_rank
              FROM (SELECT *, COUNT(*) OVER (PARTITION BY product_id, description)
                                 AS desc_count
                    FROM fact_lines) AS counted) AS ranked
        GROUP BY product_id
        """,
    ]


def _rollup_statements(dialect: str) -> list[str]:
    """Fill ``rollup_invoice`` from the counted lines, then ``rollup_daily`` from it.

    Both are written sorted by day, like the facts, so a date window reads few blocks.
    Integer keys number the distinct invoice and customer ids in text order.
    """
    statements = [
        f"""
        INSERT INTO rollup_invoice
        SELECT lines.invoice_ts, lines.invoice_date, invoices.invoice_key,
               customers.customer_key, lines.customer_id, {_prefixed("lines")},
               SUM(CASE WHEN lines.is_sale THEN lines.line_value ELSE 0 END),
               SUM(CASE WHEN lines.is_return THEN lines.line_value ELSE 0 END),
               SUM(CASE WHEN lines.is_sale THEN lines.quantity ELSE 0 END),
               SUM(lines.cost_value),
               COUNT(lines.cost_value),
               SUM(CASE WHEN lines.is_sale THEN 1 ELSE 0 END),
               SUM(CASE WHEN lines.is_return THEN 1 ELSE 0 END)
        FROM fact_lines AS lines
        JOIN (SELECT invoice_id, row_number() OVER (ORDER BY invoice_id) AS invoice_key
              FROM (SELECT DISTINCT invoice_id FROM fact_lines
                    WHERE is_sale OR is_return) AS ids) AS invoices
          ON invoices.invoice_id = lines.invoice_id
        LEFT JOIN (SELECT customer_id,
                          row_number() OVER (ORDER BY customer_id) AS customer_key
                   FROM (SELECT DISTINCT customer_id FROM fact_lines
                         WHERE (is_sale OR is_return) AND customer_id IS NOT NULL) AS ids
                  ) AS customers
          ON customers.customer_id = lines.customer_id
        WHERE lines.is_sale OR lines.is_return
        GROUP BY lines.invoice_ts, lines.invoice_date, invoices.invoice_key,
                 customers.customer_key, lines.customer_id, {_prefixed("lines")}
        ORDER BY lines.invoice_date, lines.invoice_ts
        """,
        f"""
        INSERT INTO rollup_daily
        SELECT invoice_date, {_DIMENSIONS},
               SUM(sale_value), SUM(return_value), SUM(sale_units), SUM(cost_value),
               SUM(cost_lines), SUM(sale_lines), SUM(return_lines)
        FROM rollup_invoice
        GROUP BY invoice_date, {_DIMENSIONS}
        ORDER BY invoice_date
        """,
    ]
    if dialect == "postgresql":
        statements += [
            "CREATE INDEX ON fact_lines (invoice_date)",
            "CREATE INDEX ON rollup_invoice (invoice_date)",
            "CREATE INDEX ON rollup_invoice (customer_key, invoice_ts)",
            "CREATE INDEX ON rollup_daily (invoice_date)",
        ]
    return statements


def _prefixed(alias: str) -> str:
    return ", ".join(f"{alias}.{name.strip()}" for name in _DIMENSIONS.split(","))
