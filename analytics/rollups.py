"""Derived tables built inside each new data version, after the facts are written.

``build_statements(dialect)`` returns the SQL the publisher runs, in order. The statements
use only SQL that DuckDB and PostgreSQL both understand.
"""
from __future__ import annotations


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
        # products: most frequent description, latest category and unit cost
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
                                  ORDER BY desc_count DESC, description) AS desc_rank
              FROM (SELECT *, COUNT(*) OVER (PARTITION BY product_id, description)
                                 AS desc_count
                    FROM fact_lines) AS counted) AS ranked
        GROUP BY product_id
        """,
    ]


def _rollup_statements(dialect: str) -> list[str]:
    """Rollup tables for the aggregate panels (added by the analytics engine)."""
    return []
