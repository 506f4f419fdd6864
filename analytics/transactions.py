"""The line-item browser: pages of transactions and their CSV download.

Filtering, sorting and paging run in the database. The period is resolved like the KPIs'
(missing dates = the last 30 days of the data); ``filters.segment`` keeps the lines of that
RFM segment's customers. Lines with unit price ≤ 0 are listed (with ``kind`` "excluded"):
this is where a user finds them.

``neutralise_cell`` (one value) and ``neutralise_frame`` (a DataFrame, vectorised) are the
one place that defuses spreadsheet formulas; every exporter (CSV here, Excel in ``core``)
passes its text cells through them.
"""
from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence

import pandas as pd
import sqlalchemy as sa

from analytics import catalog, period, schema
from analytics.filters import FilterError, Filters, Scope, check_page, line_conditions
from analytics.segments import segment_condition

log = logging.getLogger(__name__)

#: Columns of a transactions page and of the CSV, in order. ``line_id`` numbers the lines
#: of the whole data version (1…N in time order), so its values would tell a scoped caller
#: how many lines lie outside the scope and when they were sold: it is empty (null) for a
#: caller with a data scope (``_columns``). No stand-in: a row number would look like an id
#: yet change with every filter and sort. Sorting by it still works for everyone (it tells
#: only the order of the caller's own lines).
TRANSACTION_COLUMNS = ("line_id", "invoice_id", "invoice_ts", "customer_id", "product_id",
                       "description", "quantity", "unit_price", "line_value", "unit_cost",
                       *schema.DIMENSION_COLUMNS, "kind")
#: Columns a page may be sorted by.
SORTABLE_COLUMNS = ("line_id", "invoice_id", "invoice_ts", "customer_id", "product_id",
                    "description", "quantity", "unit_price", "line_value", "unit_cost",
                    *(d.column for d in catalog.rollup_dimensions()))
_TEXT_COLUMNS = {"invoice_id", "customer_id", "product_id", "description",
                 *(d.column for d in catalog.rollup_dimensions())}
_SEARCHED_COLUMNS = ("invoice_id", "product_id", "description", "customer_id")
DEFAULT_SORT = (("invoice_ts", "desc"),)
MAX_PAGE_SIZE = 1000
MAX_SORT_KEYS = 5
MAX_SEARCH_LENGTH = 200
CSV_CHUNK_ROWS = 10_000

#: The characters a spreadsheet runs a cell as a formula after.
FORMULA_SIGNS = ("=", "+", "-", "@")
#: Every character whose Unicode compatibility form (NFKC) is one of ``FORMULA_SIGNS``:
#: fullwidth ``＝ ＋ － ＠`` (typed by East Asian input methods, and read as formulas by
#: spreadsheets that normalise them), small forms, super- and subscripts. A test checks
#: the list against ``unicodedata``.
FORMULA_LOOKALIKES = ("\uff1d", "\uff0b", "\uff0d", "\uff20",   # fullwidth ＝ ＋ － ＠
                      "\ufe66", "\ufe62", "\ufe63", "\ufe6b",   # small ﹦ ﹢ ﹣ ﹫
                      "\u207c", "\u207a", "\u208c", "\u208a",   # ⁼ ⁺ ₌ ₊
                      "\ufb29")                                  # Hebrew alternative plus
#: A text cell starting with one of these is run as a formula by spreadsheets: the one rule
#: of every export (CSV here, Excel in ``core.reports.xlsx``).
FORMULA_PREFIXES = (*FORMULA_SIGNS, *FORMULA_LOOKALIKES, "\t", "\r")


def neutralise_cell(value):
    """``value`` made safe for a spreadsheet cell: text starting with one of
    ``FORMULA_PREFIXES`` (``= + - @``, their fullwidth and other look-alike forms, tab or
    carriage return) gets a leading apostrophe (shown as text, never run as a formula).
    Numbers (including negative ones), dates, None and other text are returned unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def _kind(lines) -> sa.ColumnElement:
    return sa.case((lines.c.is_sale, "sale"), (lines.c.is_return, "return"),
                   else_="excluded")


def _columns(lines, scope: Scope) -> list[sa.ColumnElement]:
    hidden = {} if scope.is_all else {
        "line_id": sa.cast(sa.null(), sa.BigInteger).label("line_id")}
    return [_kind(lines).label("kind") if name == "kind" else hidden.get(name, lines.c[name])
            for name in TRANSACTION_COLUMNS]


def _sort_keys(sort, warehouse, lines) -> list[sa.ColumnElement]:
    """ORDER BY for ``sort`` (a column name, or a list of (column, "asc"|"desc")), NULLs
    last, text in code point order, ties by line_id ascending."""
    if sort is None:
        sort = DEFAULT_SORT
    if isinstance(sort, str):
        sort = [(sort, "asc")]
    sort = list(sort)
    if not sort or len(sort) > MAX_SORT_KEYS:
        raise FilterError(f"sort by 1 to {MAX_SORT_KEYS} columns")
    keys, names = [], set()
    for item in sort:
        column, direction = (item, "asc") if isinstance(item, str) else tuple(item)
        if column not in SORTABLE_COLUMNS:
            raise FilterError(f"cannot sort transactions by {column!r}: choose one of "
                              f"{', '.join(SORTABLE_COLUMNS)}")
        direction = str(direction).lower()
        if direction not in ("asc", "desc"):
            raise FilterError(f"sort direction must be 'asc' or 'desc', not {direction!r}")
        names.add(column)
        expression = lines.c[column]
        if column in _TEXT_COLUMNS and warehouse.kind == "postgresql":
            expression = expression.collate("C")
        expression = expression.desc() if direction == "desc" else expression.asc()
        keys.append(expression.nulls_last())
    if "line_id" not in names:
        keys.append(lines.c.line_id.asc())
    return keys


def _selection(warehouse, filters: Filters, scope: Scope, search: str | None,
               lines) -> list[sa.ColumnElement[bool]]:
    resolved = period.resolve(warehouse, filters)
    conditions = [*line_conditions(resolved, scope, lines)]
    if resolved.segment:
        conditions.append(segment_condition(warehouse, resolved, scope, lines))
    text = (search or "").strip()
    if len(text) > MAX_SEARCH_LENGTH:
        raise FilterError(f"search text is longer than {MAX_SEARCH_LENGTH} characters")
    if text:
        conditions.append(sa.or_(*(lines.c[name].icontains(text, autoescape=True)
                                   for name in _SEARCHED_COLUMNS)))
    return conditions


def transactions_page(warehouse, filters: Filters, scope: Scope, *,
                      sort: Sequence[tuple[str, str]] | str | None = None, page: int = 1,
                      page_size: int = 100, search: str | None = None
                      ) -> tuple[pd.DataFrame, int]:
    """One page of line items matching the filters, and how many match in all.

    Columns (``TRANSACTION_COLUMNS``): line_id, invoice_id, invoice_ts, customer_id,
    product_id, description, quantity, unit_price, line_value, unit_cost, the dimension
    columns (country, country_code, city, category, …: ``schema.DIMENSION_COLUMNS``), kind
    ("sale", "return" or "excluded" for unit price ≤ 0). line_id is empty for a caller
    with a data scope (see ``TRANSACTION_COLUMNS``).

    ``sort``: (column, "asc"|"desc") pairs over ``SORTABLE_COLUMNS`` (default newest
    first); ``search``: case-insensitive text found in the invoice, product, description or
    customer id. Pages count from 1; ``page_size`` is at most ``MAX_PAGE_SIZE``.
    """
    page, page_size = check_page(page, page_size, MAX_PAGE_SIZE)
    lines = schema.fact_lines
    order = _sort_keys(sort, warehouse, lines)
    conditions = _selection(warehouse, filters, scope, search, lines)
    query = (sa.select(*_columns(lines, scope)).where(*conditions).order_by(*order)
             .limit(page_size).offset((page - 1) * page_size))
    with warehouse.connect() as conn:
        total = conn.execute(sa.select(sa.func.count()).select_from(lines)
                             .where(*conditions)).scalar_one()
        frame = pd.DataFrame(conn.execute(query).all(), columns=list(TRANSACTION_COLUMNS))
    return _typed(frame), int(total)


def transactions_csv(warehouse, filters: Filters, scope: Scope, *,
                     sort: Sequence[tuple[str, str]] | str | None = None,
                     search: str | None = None,
                     chunk_rows: int = CSV_CHUNK_ROWS) -> Iterator[str]:
    """The whole selection of ``transactions_page`` as CSV text, yielded in chunks of
    ``chunk_rows`` lines (the header first), read from a streaming cursor so the table is
    never held in memory. Text cells are neutralised (``neutralise_frame``); numbers are
    written as numbers (rounded to 9 decimals), timestamps as ``YYYY-MM-DD HH:MM:SS``."""
    lines = schema.fact_lines
    order = _sort_keys(sort, warehouse, lines)
    conditions = _selection(warehouse, filters, scope, search, lines)
    query = sa.select(*_columns(lines, scope)).where(*conditions).order_by(*order)
    yield ",".join(TRANSACTION_COLUMNS) + "\r\n"
    with warehouse.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=chunk_rows
                                        ).execute(query)
        for rows in result.partitions(chunk_rows):
            yield _csv_chunk(rows)


def neutralise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` with ``neutralise_cell`` applied to every text column, vectorised
    (numeric, date and boolean columns are left as they are)."""
    out = frame.copy()
    for name in out.columns:
        column = out[name]
        if not (pd.api.types.is_string_dtype(column) or column.dtype == object):
            continue
        texts = column.astype("string")
        risky = texts.str.startswith(FORMULA_PREFIXES).fillna(False).astype(bool)
        if risky.any():
            out[name] = texts.where(~risky, "'" + texts)
    return out


def csv_rows(frame: pd.DataFrame, *, header: bool = False) -> str:
    """``frame`` as CSV text the way every CSV export writes it (this one and the customer
    list's): text cells neutralised (``neutralise_frame``), floats rounded to 9 decimals
    (money and quantities are exact there, float noise such as 2.55 × 6 =
    15.299999999999999 is not), lines ending in CRLF; ``header`` writes the column names
    first."""
    out = frame.copy()
    for name in out.columns:
        if pd.api.types.is_float_dtype(out[name]):
            out[name] = out[name].round(9)
    return neutralise_frame(out).to_csv(index=False, header=header, lineterminator="\r\n")


def _csv_chunk(rows: Sequence[Sequence]) -> str:
    frame = pd.DataFrame(dict(zip(TRANSACTION_COLUMNS, zip(*rows))),
                         columns=list(TRANSACTION_COLUMNS))
    for name in _TEXT_COLUMNS | {"country_code", "kind"}:
        frame[name] = frame[name].astype("string")
    for name in ("quantity", "unit_price", "line_value", "unit_cost"):
        frame[name] = frame[name].astype("float64")
    # formatted here: pandas writes a column of midnights as bare dates
    frame["invoice_ts"] = pd.to_datetime(frame["invoice_ts"]).dt.strftime("%Y-%m-%d %H:%M:%S")
    return csv_rows(frame)


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    for name in _TEXT_COLUMNS | {"country_code", "kind"}:
        frame[name] = frame[name].astype("string")
    for name in ("quantity", "unit_price", "line_value", "unit_cost"):
        frame[name] = frame[name].astype("float64")
    line_ids = frame["line_id"]
    frame["line_id"] = line_ids.astype("int64" if line_ids.notna().all() else "Int64")
    frame["invoice_ts"] = pd.to_datetime(frame["invoice_ts"]).astype("datetime64[us]")
    return frame
