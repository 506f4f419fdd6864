"""Derived tables built inside each new data version, after the facts are written.

``build_statements(dialect)`` returns the SQL the publisher runs, in order. The statements
use only SQL that DuckDB and PostgreSQL both understand.

Rollups are exact regroupings of the counted lines, so every measure read from them equals
the same measure read from the facts, under any filter that only names dimension columns and
dates. Filters on unit price need the lines themselves (an RFM segment, a set of
customers, is exact on the rollups with a customer per row):
``use_rollups(filters)`` says which source a query may read, and ``facts_only()`` forces the
facts (tests, benchmarks). ``analytics.planner.plan`` picks, per query, the smallest table
that answers it exactly.

* ``rollup_invoice`` (``analytics.schema``): one row per (timestamp, invoice, customer,
  dimension values): exact distinct counts under any dimension filter.
* ``rollup_daily`` (``analytics.schema``): one row per (day, all 8 dimension values).
* ``DAY_TABLES``: one row per (day, a few dimensions) — the day alone (a few thousand rows
  for 16 years), day × country, day × category, … — with the Σ measures and, per row, the
  distinct ``orders`` and ``customers`` having a sale line. Σ measures add up over any rows;
  orders and customers only where ``rollup_meta`` says they do (see ``planner.plan``).
* ``rollup_customer_day``: one row per (day, customer, dimension values of the dimensions
  that are invoice-level in this data version; the others are NULL): orders, sale lines,
  net revenue, and ``ltv_to_date`` = the customer's net revenue from their first sale line
  (by timestamp, over the whole history) up to the end of this day, over all their rows
  (exact LTV whenever the filters select whole customers). Distinct customers, churn, repeat rate,
  LTV and RFM read it instead of the per-invoice rollup.
* ``rollup_order``: one row per order (day, invoice and customer, with the dimensions that
  are invoice-level in this version; NULL for the others) and ``sale_categories``, the
  categories of its sale lines as bits (``rollup_order_categories``: category → bit, for
  the first ``ORDER_CATEGORY_BITS`` categories by name). Distinct orders and customers under
  filters on categories and invoice-level dimensions read it: half the rows of the
  per-invoice rollup, which holds an order once per category, and no grouping by order.
* ``BUCKET_CUSTOMER_TABLES``: distinct customers with a sale line per ISO week or month
  (alone, and per country): the customer counts of weekly and monthly series.
* ``SESSION_TABLES``: ``daily_sessions`` summed per day (alone, and per country, channel,
  device, traffic source).
* ``rollup_countries``: the distinct (country, country_code) pairs of the facts.
* ``rollup_meta`` (name, value): facts about this version the planner needs, 1 = true:
  ``single_day_invoices`` (no invoice spans two days), ``invoice_level:<dimension>``
  (every invoice has a single value), ``customer_level:<dimension>`` (every customer has a
  single value over the whole history), ``customer_day_level:<dimension>`` (a single value
  per customer and day), ``codes_exact:<dimension>`` (no value of a coded dimension's own
  column, such as a country's name, could be taken for a code other than its own: a code
  chosen in a filter then matches by the code column alone, ``filters.line_conditions``),
  ``one_row_per_order`` (no day's invoice has two rows in ``rollup_order``: two customers),
  ``order_categories`` (every category has a bit) and ``rows:<table>`` (row counts, to
  pick the smallest table).
"""
from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

import sqlalchemy as sa

from analytics import catalog, schema

_ROLLUPS_ENABLED = contextvars.ContextVar("rollups_enabled", default=True)
_DIMENSIONS = ", ".join(schema.DIMENSION_COLUMNS)
#: Dimensions as the planner names them (``analytics.catalog``); "country" stands for
#: country and country_code.
DIMENSION_NAMES = tuple(d.name for d in catalog.rollup_dimensions())
_COLUMNS = {d.name: d.columns for d in catalog.rollup_dimensions()}
#: Dimension sets of the day-grain rollups (besides the full ``rollup_daily``): the day
#: alone, each dimension with ``day_table`` in the catalog, and the pairs listed here
#: (filters people combine: a channel with a device read ``rollup_daily`` otherwise,
#: ~25 times the rows, and could not add up its orders).
DAY_PAIRS: tuple[tuple[str, ...], ...] = (("country", "category"), ("channel", "device"))
DAY_GRAINS: tuple[tuple[str, ...], ...] = (
    (), *((d.name,) for d in catalog.rollup_dimensions() if d.day_table), *DAY_PAIRS)
BUCKET_GRAINS = ("week", "month")
#: Sessions rollups: the day alone and per sessions column of the catalog.
SESSION_GRAINS: tuple[tuple[str, ...], ...] = (
    (), *((column,) for column in schema.SESSION_DIMENSION_COLUMNS))

#: Tables of the planner, on their own metadata: the publisher creates them with
#: ``CREATE TABLE … AS`` (see ``build_statements``), never from this description.
metadata = sa.MetaData()


def columns_of(dimensions) -> tuple[str, ...]:
    """The table columns of planner dimension names (country → country, country_code)."""
    return tuple(column for name in dimensions for column in _COLUMNS.get(name, (name,)))


def day_table_name(dimensions) -> str:
    return "_".join(("rollup_day", *dimensions))


def _measure_columns() -> list[sa.Column]:
    """The Σ measures of ``schema.ROLLUP_SUMS``, then the distinct orders and customers."""
    return [*schema.rollup_sum_columns(), sa.Column("orders", sa.BigInteger),
            sa.Column("customers", sa.BigInteger)]


DAY_TABLES: dict[tuple[str, ...], sa.Table] = {
    dimensions: sa.Table(day_table_name(dimensions), metadata,
                         sa.Column("invoice_date", sa.Date),
                         *[sa.Column(name, sa.String) for name in columns_of(dimensions)],
                         *_measure_columns())
    for dimensions in DAY_GRAINS
}

#: Invoice-level dimensions kept in ``rollup_customer_day`` (NULL where not invoice-level).
CUSTOMER_DAY_DIMENSIONS = DIMENSION_NAMES
customer_day = sa.Table(
    "rollup_customer_day", metadata,
    sa.Column("invoice_date", sa.Date),
    sa.Column("customer_key", sa.BigInteger),
    sa.Column("customer_id", sa.String),
    *[sa.Column(name, sa.String) for name in columns_of(CUSTOMER_DAY_DIMENSIONS)],
    sa.Column("orders", sa.BigInteger),
    sa.Column("sale_lines", sa.BigInteger),
    sa.Column("net_value", sa.Float),
    sa.Column("ltv_to_date", sa.Float),
)

#: Bits of a BIGINT mask a category may take (the sign bit and one more are left alone,
#: so that every engine adds the bits up as a positive BIGINT).
ORDER_CATEGORY_BITS = 62
#: The dimensions ``rollup_order`` keeps (NULL where not invoice-level): all but category,
#: which its ``sale_categories`` bits hold.
ORDER_DIMENSIONS = tuple(name for name in DIMENSION_NAMES if name != "category")
orders = sa.Table(
    "rollup_order", metadata,
    sa.Column("invoice_date", sa.Date),
    sa.Column("invoice_key", sa.BigInteger),
    sa.Column("customer_key", sa.BigInteger),
    sa.Column("customer_id", sa.String),
    *[sa.Column(name, sa.String) for name in columns_of(ORDER_DIMENSIONS)],
    sa.Column("sale_lines", sa.BigInteger),
    sa.Column("sale_categories", sa.BigInteger),
)
order_categories = sa.Table("rollup_order_categories", metadata,
                            sa.Column("category", sa.String),
                            sa.Column("bit", sa.BigInteger))

BUCKET_CUSTOMER_TABLES: dict[tuple[str, tuple[str, ...]], sa.Table] = {
    (grain, dimensions): sa.Table(
        "_".join(("rollup", grain, *dimensions)), metadata,
        sa.Column("bucket", sa.Date),
        *[sa.Column(name, sa.String) for name in columns_of(dimensions)],
        sa.Column("customers", sa.BigInteger))
    for grain in BUCKET_GRAINS for dimensions in ((), ("country",))
}

SESSION_TABLES: dict[tuple[str, ...], sa.Table] = {
    dimensions: sa.Table("_".join(("rollup_sessions", *dimensions)), metadata,
                         sa.Column("session_date", sa.Date),
                         *[sa.Column(name, sa.String) for name in dimensions],
                         sa.Column("sessions", sa.BigInteger))
    for dimensions in SESSION_GRAINS
}

countries = sa.Table("rollup_countries", metadata, sa.Column("country", sa.String),
                     sa.Column("country_code", sa.String))
meta = sa.Table("rollup_meta", metadata, sa.Column("name", sa.String),
                sa.Column("value", sa.BigInteger))


@contextlib.contextmanager
def facts_only() -> Iterator[None]:
    """Within this block, analytics read the fact table instead of the rollups."""
    token = _ROLLUPS_ENABLED.set(False)
    try:
        yield
    finally:
        _ROLLUPS_ENABLED.reset(token)


def use_rollups(filters) -> bool:
    """Whether a query under ``filters`` may read the rollups (they hold no unit price; an
    RFM segment is a set of customers, which ``rollup_invoice`` and ``rollup_customer_day``
    hold: ``planner.plan`` reads those under a segment)."""
    return (_ROLLUPS_ENABLED.get() and filters.min_price is None
            and filters.max_price is None)


def build_statements(dialect: str) -> list[str]:
    return [*_dimension_statements(), *_rollup_statements(dialect),
            *_meta_statements(), *_planner_statements(dialect)]


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
               {_fact_sums("lines")}
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
        SELECT invoice_date, {_DIMENSIONS}, {_sums()}
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


def _single_valued(level: str, keys: str, where: str = "TRUE") -> str:
    """SELECT of (name, value) rows: whether every group of ``keys`` in rollup_invoice has
    a single value (NULL being one) of each dimension (1) or not (0)."""
    spreads = {
        name: " OR ".join(f"NOT (COUNT({c}) = 0 OR (COUNT({c}) = COUNT(*) "
                          f"AND MIN({c}) = MAX({c})))" for c in columns_of((name,)))
        for name in DIMENSION_NAMES}
    per_group = ", ".join(f"CASE WHEN {spread} THEN 1 ELSE 0 END AS spread_{name}"
                          for name, spread in spreads.items())
    rows = [f"SELECT '{level}:{name}' AS name, CAST(1 - COALESCE(MAX(spread_{name}), 0) "
            f"AS BIGINT) AS value FROM groups_{level}" for name in DIMENSION_NAMES]
    return (f"WITH groups_{level} AS (SELECT {per_group} FROM rollup_invoice WHERE {where} "
            f"GROUP BY {keys}) " + " UNION ALL ".join(rows))


def _meta_statements() -> list[str]:
    identified = "customer_key IS NOT NULL"
    return [
        """
        CREATE TABLE rollup_meta AS
        SELECT 'single_day_invoices' AS name,
               CAST(CASE WHEN COUNT(*) = 0 THEN 1 ELSE 0 END AS BIGINT) AS value
        FROM (SELECT invoice_key FROM rollup_invoice GROUP BY invoice_key
              HAVING MIN(invoice_date) < MAX(invoice_date)) AS spread
        """,
        f"INSERT INTO rollup_meta {_single_valued('invoice_level', 'invoice_key')}",
        f"INSERT INTO rollup_meta {_single_valued('customer_level', 'customer_key', identified)}",
        "INSERT INTO rollup_meta "
        f"{_single_valued('customer_day_level', 'customer_key, invoice_date', identified)}",
    ]


def _sums() -> str:
    """The Σ measures of rows of a rollup added up again (``schema.ROLLUP_SUMS``)."""
    return ", ".join(f"CAST(SUM({name}) AS BIGINT) AS {name}" if type_ is sa.BigInteger
                     else f"SUM({name}) AS {name}"
                     for name, (type_, _sql) in schema.ROLLUP_SUMS.items())


def _fact_sums(alias: str) -> str:
    """The Σ measures of ``schema.ROLLUP_SUMS`` over the fact lines ``alias``."""
    return ", ".join(f"{sql.format(t=alias)} AS {name}"
                     for name, (_type, sql) in schema.ROLLUP_SUMS.items())


def _planner_statements(dialect: str) -> list[str]:
    statements = []
    for dimensions, table in DAY_TABLES.items():
        keys = ", ".join(("invoice_date", *columns_of(dimensions)))
        statements.append(f"""
            CREATE TABLE {table.name} AS
            SELECT {keys}, {_sums()},
                   COUNT(DISTINCT invoice_key) FILTER (WHERE sale_lines > 0) AS orders,
                   COUNT(DISTINCT customer_key) FILTER (WHERE sale_lines > 0) AS customers
            FROM rollup_invoice GROUP BY {keys} ORDER BY {keys}
            """)
    kept = _invoice_level_columns(CUSTOMER_DAY_DIMENSIONS)
    kept_names = ", ".join(columns_of(CUSTOMER_DAY_DIMENSIONS))
    statements.append(f"""
        CREATE TABLE rollup_customer_day AS
        WITH cells AS (
            SELECT invoice_date, customer_key, MAX(customer_id) AS customer_id, {kept_names},
                   COUNT(DISTINCT invoice_key) FILTER (WHERE sale_lines > 0) AS orders,
                   CAST(SUM(sale_lines) AS BIGINT) AS sale_lines,
                   SUM(sale_value + return_value) AS net_value
            FROM (SELECT invoice_date, customer_key, customer_id, invoice_key, sale_lines,
                         sale_value, return_value, {kept}
                  FROM rollup_invoice WHERE customer_key IS NOT NULL) AS kept_rows
            GROUP BY invoice_date, customer_key, {kept_names}),
        firsts AS (
            SELECT customer_key, invoice_date, invoice_ts, sale_value + return_value AS net,
                   MIN(invoice_ts) FILTER (WHERE sale_lines > 0)
                       OVER (PARTITION BY customer_key) AS first_sale_ts
            FROM rollup_invoice WHERE customer_key IS NOT NULL),
        days AS (
            SELECT customer_key, invoice_date,
                   SUM(CASE WHEN invoice_ts >= first_sale_ts THEN net ELSE 0 END) AS net_value
            FROM firsts GROUP BY customer_key, invoice_date),
        to_date AS (
            SELECT customer_key, invoice_date,
                   SUM(net_value) OVER (PARTITION BY customer_key ORDER BY invoice_date
                                        ROWS UNBOUNDED PRECEDING) AS ltv_to_date
            FROM days)
        SELECT cells.*, to_date.ltv_to_date
        FROM cells JOIN to_date ON to_date.customer_key = cells.customer_key
                               AND to_date.invoice_date = cells.invoice_date
        ORDER BY cells.invoice_date, cells.customer_key
        """)
    statements += _order_statements()
    for (grain, dimensions), table in BUCKET_CUSTOMER_TABLES.items():
        keys = ", ".join(columns_of(dimensions))
        statements.append(f"""
            CREATE TABLE {table.name} AS
            SELECT CAST(date_trunc('{grain}', invoice_date) AS DATE) AS bucket,
                   {keys + ',' if keys else ''}
                   COUNT(DISTINCT customer_key) AS customers
            FROM rollup_invoice WHERE sale_lines > 0 AND customer_key IS NOT NULL
            GROUP BY CAST(date_trunc('{grain}', invoice_date) AS DATE) {',' + keys if keys else ''}
            ORDER BY 1
            """)
    for dimensions, table in SESSION_TABLES.items():
        keys = ", ".join(("session_date", *dimensions))
        statements.append(f"""
            CREATE TABLE {table.name} AS
            SELECT {keys}, CAST(SUM(sessions) AS BIGINT) AS sessions
            FROM daily_sessions GROUP BY {keys} ORDER BY {keys}
            """)
    statements.append("CREATE TABLE rollup_countries AS "
                      "SELECT DISTINCT country, country_code FROM fact_lines")
    statements += _codes_exact_statements()
    for table in [*DAY_TABLES.values(), customer_day, orders,
                  *BUCKET_CUSTOMER_TABLES.values(), *SESSION_TABLES.values()]:
        statements.append(f"INSERT INTO rollup_meta SELECT 'rows:{table.name}', COUNT(*) "
                          f"FROM {table.name}")
    if dialect == "postgresql":
        statements += [f"CREATE INDEX ON {table.name} (invoice_date)"
                       for table in [*DAY_TABLES.values(), customer_day, orders]]
        statements += [f"CREATE INDEX ON {table.name} (session_date)"
                       for table in SESSION_TABLES.values()]
    return statements


def _invoice_level_columns(dimensions, prefix: str = "") -> str:
    """SELECT items of the columns of ``dimensions``: the value where the dimension is
    invoice-level in this version (``rollup_meta``), else NULL (a per-order or per-customer
    row cannot hold one value of it)."""
    return ", ".join(
        f"CASE WHEN (SELECT value FROM rollup_meta WHERE name = 'invoice_level:{name}') = 1 "
        f"THEN {prefix}{column} END AS {column}"
        for name in dimensions for column in columns_of((name,)))


def _order_statements() -> list[str]:
    """``rollup_order_categories``, ``rollup_order`` and their planner facts.

    A category's bit is its rank by name; its value, 2 to that power, is added up once per
    order (``SUM(DISTINCT …)``: an OR of distinct powers of two, in SQL every engine has).
    Categories past ``ORDER_CATEGORY_BITS`` get no bit: ``order_categories`` is then 0 and
    the planner does not read the mask."""
    kept = _invoice_level_columns(ORDER_DIMENSIONS, "rows.")
    kept_names = ", ".join(columns_of(ORDER_DIMENSIONS))
    return [
        """
        CREATE TABLE rollup_order_categories AS
        SELECT category, CAST(row_number() OVER (ORDER BY category) - 1 AS BIGINT) AS bit
        FROM (SELECT DISTINCT category FROM rollup_invoice WHERE category IS NOT NULL) AS named
        """,
        f"""
        CREATE TABLE rollup_order AS
        SELECT invoice_date, invoice_key, customer_key, customer_id, {kept_names},
               CAST(SUM(sale_lines) AS BIGINT) AS sale_lines,
               CAST(SUM(DISTINCT bit_value) AS BIGINT) AS sale_categories
        FROM (SELECT rows.invoice_date, rows.invoice_key, rows.customer_key, rows.customer_id,
                     {kept}, rows.sale_lines,
                     CASE WHEN rows.sale_lines > 0 AND bits.bit < {ORDER_CATEGORY_BITS}
                          THEN CAST(power(2, bits.bit) AS BIGINT) END AS bit_value
              FROM rollup_invoice AS rows
              LEFT JOIN rollup_order_categories AS bits ON bits.category = rows.category
             ) AS kept_rows
        GROUP BY invoice_date, invoice_key, customer_key, customer_id, {kept_names}
        ORDER BY invoice_date, invoice_key
        """,
        """
        INSERT INTO rollup_meta
        SELECT 'one_row_per_order', CAST(CASE WHEN COUNT(*) = 0 THEN 1 ELSE 0 END AS BIGINT)
        FROM (SELECT invoice_key FROM rollup_order GROUP BY invoice_date, invoice_key
              HAVING COUNT(*) > 1) AS spread
        """,
        f"""
        INSERT INTO rollup_meta
        SELECT 'order_categories',
               CAST(CASE WHEN COUNT(*) <= {ORDER_CATEGORY_BITS} THEN 1 ELSE 0 END AS BIGINT)
        FROM rollup_order_categories
        """,
    ]


def _codes_exact_statements() -> list[str]:
    """``codes_exact:<dimension>`` for each dimension with a code column: 1 when no value
    of its own column looks like a code (two letters, upper-case as written: "FR", never
    "France" or "fr") while its row carries another code or none. A code chosen in a filter
    then matches exactly the rows its code column holds, and the match on the name column
    beside it (``country = 'FR'``, for a store that writes codes as names) adds no row.
    Upper-case letters beyond A–Z count too: that only keeps the name match where it was."""
    statements = []
    for dimension in catalog.rollup_dimensions():
        if dimension.codes:  # the code a filter's value is compared with
            name, code = dimension.column, dimension.codes[0]
            statements.append(f"""
                INSERT INTO rollup_meta
                SELECT 'codes_exact:{dimension.name}',
                       CAST(CASE WHEN COUNT(*) = 0 THEN 1 ELSE 0 END AS BIGINT)
                FROM (SELECT DISTINCT {name}, {code} FROM fact_lines) AS pairs
                WHERE length({name}) = 2 AND upper({name}) = {name}
                  AND lower({name}) <> {name}
                  AND ({code} IS NULL OR {code} <> {name})
                """)
    return statements


def _prefixed(alias: str) -> str:
    return ", ".join(f"{alias}.{name.strip()}" for name in _DIMENSIONS.split(","))
