"""Readers for real export formats: each returns a line-item frame plus the rejected lines.

* ``read_online_retail(path)``: the UCI "Online Retail" layout (InvoiceNo, StockCode,
  Description, Quantity, InvoiceDate, UnitPrice, CustomerID, Country) in any file kind of
  data.tables (.csv, .csv.gz, .xlsx, .xls, Parquet). Codes are read as text; an invoice id
  starting with "C" is a cancellation.
* ``read_generic(path, mapping)``: any such file, with a JSON mapping from our fields to
  the file's columns (format: docs/mapping.md). Encoding, delimiter, decimal comma and date
  format are detected from the data unless the mapping states them.
* ``read_mapped(path, build)``: a platform export (data.formats), whose mapping is built
  from its header.

Order-level columns (discounts, refunds, statuses written once per order) are applied by
data.orders; what looks wrong for the mapping is diagnosed by data.diagnostics.

A line whose date, quantity or price cannot be read, or whose invoice or product id is
missing, is *rejected*: it goes to the rejects frame with its source row and reason, never
dropped silently. Everything runs as vectorised pandas operations (no per-row Python).

Files are read into text tables by data.tables (encodings, delimiters, Excel, input limits).
"""
from __future__ import annotations

import codecs
import hashlib
import json
import logging
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from analytics import catalog, schema
from analytics.countries import CountryNormalisation, country_name, normalise_countries
from data import orders
from data.diagnostics import DEFAULT_CANCELLATION_FLAGS, diagnose
from data.tables import (  # noqa: F401  (LoadLimits, read_header: used through this module)
    DEFAULT_LIMITS, REASON_FIELD_SIZE, REASON_FIELDS, LoadLimits, ReadError, column_list,
    file_kind, read_header, read_table)

log = logging.getLogger(__name__)

ONLINE_RETAIL_COLUMNS = ("InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate",
                         "UnitPrice", "CustomerID", "Country")

#: Fields a generic mapping may name, with what they hold.
MAPPABLE_FIELDS: dict[str, str] = {
    "invoice_id": "invoice / order number (required)",
    "invoice_ts": "date and time of the invoice in one column",
    "invoice_date": "date of the invoice (with invoice_time, instead of invoice_ts)",
    "invoice_time": "time of day of the invoice (only with invoice_date)",
    "customer_id": "customer number (may be empty)",
    "product_id": "product code / SKU (required)",
    "description": "product name",
    "quantity": "units on the line; negative for returns (required)",
    "unit_price": "price per unit (this or line_total is required)",
    "line_total": "value of the line = quantity × price, net of discount",
    "unit_cost": "cost per unit",
    "line_cost": "cost of the line = quantity × unit cost",
    "profit": "profit of the line = line value − line cost",
    "discount": "discount on the line (discount_type says amount, percent or fraction)",
    "country": "country name or ISO code",
    # the optional dimensions of analytics.catalog (city, category, channel, …)
    **{d.column: d.mapping_hint for d in catalog.optional_dimensions()},
    "is_cancellation": "cancellation flag (true/false/yes/no/1/0) or a status column with "
                       "cancellation_values",
    "status": "status of the order or line, read with cancellation_values and refund_values",
    # order-level amounts (data.orders): one value per order, on any of its lines
    "order_discount": "discount on the whole order (amount), spread over its lines by value",
    "order_subtotal": "the order's items total after discounts (its lines are scaled to it)",
    "order_refund": "amount refunded on the order (return lines are added for it)",
    "refund_date": "date of the refund (return lines are dated on it; else on the order)",
    "order_shipping": "shipping charged on the order (not revenue; recorded in the report)",
    "order_tax": "taxes on the order (not revenue; recorded in the report)",
    "order_total": "the order's grand total (a refund above it is an error)",
    "currency": "currency code of the order or line (a file must have one currency)",
}
#: Fields that may be a list of columns, joined into one key ("Order ID" + "Market").
COMPOSITE_FIELDS = ("invoice_id", "customer_id", "product_id")
#: Fields that describe a line, never filled down from the order's first line.
LINE_FIELDS = ("invoice_id", "product_id", "description", "quantity", "unit_price",
               "line_total", "unit_cost", "line_cost", "profit", "discount")
MAPPING_OPTIONS = ("columns", "date_format", "decimal", "delimiter", "encoding",
                   "discount_type", "cancellation_values", "cancellation_prefix",
                   "refund_values", "order_level", "fallbacks", "exclude", "hashed")
COMPOSITE_SEPARATOR = " / "
DISCOUNT_TYPES = ("amount", "percent", "fraction")
DELIMITERS = {",": ",", ";": ";", "\t": "\t", "tab": "\t", "|": "|"}
DATE_KEYWORDS = ("iso", "dayfirst", "monthfirst", "epoch_seconds")

REASON_INVOICE = "missing invoice id"
REASON_PRODUCT = "missing product id"
REASON_DATE = "unparseable date"
REASON_QUANTITY = "unparseable quantity"
REASON_PRICE = "unparseable unit price"
REASON_TOTAL = "unparseable line total"
REASON_DISCOUNT = "unparseable discount"
REASON_COST = "unparseable cost"
REASON_CANCELLATION = "unparseable cancellation flag"
REASON_REFUND_DATE = "unparseable refund date"

_ISO_CODE = re.compile(r"[A-Za-z]{2,3}")
_TRUE = DEFAULT_CANCELLATION_FLAGS  # flag texts meaning "cancelled"
_FALSE = frozenset({"false", "no", "n", "0", "f", ""})




class MappingError(ReadError):
    """The column mapping is invalid; the message says which entry and why."""


@dataclass(frozen=True)
class Mapping:
    """A validated column mapping (see docs/mapping.md). ``columns`` maps our field names to
    the file's column names (a tuple of them for a composite key); the other attributes
    override detection or say how order-level columns are read (data.orders)."""
    columns: dict[str, str | tuple[str, ...]]
    date_format: str | None = None
    decimal: str | None = None
    delimiter: str | None = None
    encoding: str | None = None
    discount_type: str | None = None
    cancellation_values: tuple[str, ...] = ()
    cancellation_prefix: str | None = None
    prefer_monthfirst: bool = False  # only for the Online Retail layout (US-style dates)
    refund_values: tuple[str, ...] = ()
    order_level: tuple[str, ...] = ()
    fallbacks: dict[str, str] = field(default_factory=dict)
    exclude: dict[str, tuple[str, ...]] = field(default_factory=dict)
    hashed: tuple[str, ...] = ()

    @property
    def status_column(self) -> str | None:
        """The column read with cancellation_values and refund_values."""
        return self.columns.get("status") or self.columns.get("is_cancellation")


ONLINE_RETAIL_MAPPING = Mapping(
    columns={"invoice_id": "InvoiceNo", "product_id": "StockCode",
             "description": "Description", "quantity": "Quantity",
             "invoice_ts": "InvoiceDate", "unit_price": "UnitPrice",
             "customer_id": "CustomerID", "country": "Country"},
    decimal=".", cancellation_prefix="C", prefer_monthfirst=True)


@dataclass
class ReadResult:
    """What a reader returns.

    * ``lines``: the line-item frame (columns of ``analytics.schema.LINE_COLUMNS``);
    * ``rejects``: one row per rejected line: ``source_row`` (row in the file, header = 1),
      ``reject_reason``, then the line's original values under the file's column names;
    * ``lines_read``: data lines in the file (loaded + rejected; blank lines not counted);
    * ``countries``: how the country names resolved (codes, code-less, unknown);
    * ``notes``: how the file was read (encoding, delimiter, decimal, date format);
    * ``line_rows``: the row in the file of each line of ``lines`` (for later rejects);
    * ``warnings``: what looks wrong for the mapping chosen (data.diagnostics), each a dict
      {code, message, lines, fix};
    * ``orders``: what the order-level columns gave (excluded orders, discounts spread,
      refunds, shipping, taxes, currency), for the quality report; empty when none is mapped.
    """
    lines: pd.DataFrame
    rejects: pd.DataFrame
    lines_read: int
    countries: CountryNormalisation
    notes: list[str] = field(default_factory=list)
    line_rows: np.ndarray | None = None
    warnings: list[dict] = field(default_factory=list)
    orders: dict = field(default_factory=dict)


# ----------------------------------------------------------------------------- public
def read_online_retail(path: str | Path, limits: LoadLimits = DEFAULT_LIMITS) -> ReadResult:
    """Read a file in the UCI Online Retail layout (.csv, .csv.gz, .xlsx, .xls, Parquet)."""
    path = Path(path)
    raw, source_rows, notes, layout_rejects = read_table(path, ONLINE_RETAIL_MAPPING, limits)
    missing = [c for c in ONLINE_RETAIL_COLUMNS if c not in raw.columns]
    if missing:
        raise ReadError(
            f"{path.name} does not have the Online Retail columns: missing "
            f"{', '.join(missing)} (found: {column_list(raw)}). For another layout use "
            "--format generic with a mapping.")
    return _convert(raw, source_rows, ONLINE_RETAIL_MAPPING, notes, layout_rejects,
                    numeric_ids=file_kind(path) in ("xlsx", "xls"))


def read_generic(path: str | Path, mapping: Mapping | dict | str | Path,
                 limits: LoadLimits = DEFAULT_LIMITS) -> ReadResult:
    """Read any CSV, Excel or Parquet file with a column mapping (a Mapping, a dict as in
    docs/mapping.md, or the path of a JSON file holding it)."""
    path = Path(path)
    mapping = mapping if isinstance(mapping, Mapping) else parse_mapping(mapping)
    raw, source_rows, notes, layout_rejects = read_table(path, mapping, limits)
    mapping = _bind_columns(mapping, raw)
    return _convert(raw, source_rows, mapping, notes, layout_rejects,
                    numeric_ids=file_kind(path) in ("xlsx", "xls"))


#: A platform format's reshaping of the file's table before its mapping is applied:
#: (table, file rows, notes) → (table, file rows), e.g. one row per order → one per product.
Reshape = Callable[[pd.DataFrame, np.ndarray, list[str]], tuple[pd.DataFrame, np.ndarray]]


def read_mapped(path: str | Path, build: Callable[[list[str]], Mapping],
                limits: LoadLimits = DEFAULT_LIMITS,
                reshape: Callable[[list[str]], Reshape | None] | None = None) -> ReadResult:
    """Read a file with the mapping ``build`` makes from its header (a platform format of
    data.formats: its columns vary between exports and versions); ``reshape(header)``, when
    given, may return a function that reshapes the table first."""
    path = Path(path)
    raw, source_rows, notes, layout_rejects = read_table(path, Mapping(columns={}), limits)
    header = list(raw.columns)
    mapping = build(header)
    step = reshape(header) if reshape else None
    if step is not None:
        raw, source_rows = step(raw, source_rows, notes)
    mapping = _bind_columns(mapping, raw)
    return _convert(raw, source_rows, mapping, notes, layout_rejects,
                    numeric_ids=file_kind(path) in ("xlsx", "xls"))


def parse_mapping(source: dict | str | Path) -> Mapping:
    """Validate a mapping (dict, JSON text or path of a JSON file) without looking at a
    file. Raises MappingError naming the first problem found."""
    if isinstance(source, Path) or (isinstance(source, str)
                                    and not source.lstrip().startswith("{")):
        try:
            text = Path(source).read_text(encoding="utf-8-sig")
        except OSError as exc:
            raise MappingError(f"Cannot read the mapping file {source}: "
                               f"{exc.strerror or exc}") from None
        source = text
    if isinstance(source, str):
        try:
            source = json.loads(source)
        except json.JSONDecodeError as exc:
            raise MappingError(f"The mapping is not valid JSON: {exc.msg} at line "
                               f"{exc.lineno}, column {exc.colno}") from None
    if not isinstance(source, dict):
        raise MappingError("The mapping must be a JSON object with a \"columns\" object")
    unknown_options = [key for key in source if key not in MAPPING_OPTIONS]
    if unknown_options:
        raise MappingError(f"Unknown mapping option {unknown_options[0]!r} (known: "
                           f"{', '.join(MAPPING_OPTIONS)})")
    columns = source.get("columns")
    if not isinstance(columns, dict) or not columns:
        raise MappingError("The mapping needs a \"columns\" object: our field → the file's "
                           "column name")
    for name, column in columns.items():
        if name not in MAPPABLE_FIELDS:
            raise MappingError(f"Unknown field {name!r} in the mapping (known fields: "
                               f"{', '.join(MAPPABLE_FIELDS)})")
        if isinstance(column, list) and name in COMPOSITE_FIELDS:
            if len(column) < 2 or not all(isinstance(part, str) and part.strip()
                                          for part in column):
                raise MappingError(f"Field {name!r} as a list must name two or more columns "
                                   "(a composite key such as [\"Order ID\", \"Market\"])")
        elif isinstance(column, list):
            raise MappingError(f"Field {name!r} must map to one column; only "
                               f"{', '.join(COMPOSITE_FIELDS)} may be a list of columns "
                               "(a composite key)")
        elif not isinstance(column, str) or not column.strip():
            raise MappingError(f"Field {name!r} must map to a column name (a non-empty "
                               "string)")
    columns = {name: (tuple(part.strip() for part in column) if isinstance(column, list)
                      else column.strip()) for name, column in columns.items()}
    _check_fields(columns)

    date_format = source.get("date_format")
    if date_format is not None:
        if not isinstance(date_format, str) or not (
                date_format in DATE_KEYWORDS or "%" in date_format):
            raise MappingError(f"date_format {date_format!r} must be one of "
                               f"{', '.join(DATE_KEYWORDS)} or a strftime pattern such as "
                               "\"%d/%m/%Y %H:%M\"")
    decimal = source.get("decimal")
    if decimal is not None and decimal not in (".", ","):
        raise MappingError(f"decimal must be \".\" or \",\", not {decimal!r}")
    delimiter = source.get("delimiter")
    if delimiter is not None:
        if delimiter not in DELIMITERS:
            raise MappingError(f"delimiter must be one of , ; tab |, not {delimiter!r}")
        delimiter = DELIMITERS[delimiter]
    encoding = source.get("encoding")
    if encoding is not None:
        try:
            encoding = codecs.lookup(str(encoding)).name
        except LookupError:
            raise MappingError(f"Unknown encoding {encoding!r}") from None
    discount_type = source.get("discount_type")
    if "discount" in columns and discount_type not in DISCOUNT_TYPES:
        raise MappingError("discount is mapped, so discount_type must say what it holds: "
                           "\"amount\" (currency per line), \"percent\" (0–100) or "
                           "\"fraction\" (0–1)")
    if discount_type is not None and "discount" not in columns:
        raise MappingError("discount_type is set but no discount column is mapped")
    values = _texts(source, "cancellation_values")
    refunds = _texts(source, "refund_values")
    for option, given in (("cancellation_values", values), ("refund_values", refunds)):
        if given and "is_cancellation" not in columns and "status" not in columns:
            raise MappingError(f"{option} needs the status column mapped, as status (or "
                               "is_cancellation)")
    both = {value.casefold() for value in values} & {value.casefold() for value in refunds}
    if both:
        raise MappingError(f"{sorted(both)[0]!r} is in both cancellation_values (never sold) "
                           "and refund_values (sold, then refunded): it can only be one")
    prefix = source.get("cancellation_prefix")
    if prefix is not None and (not isinstance(prefix, str) or not prefix):
        raise MappingError("cancellation_prefix must be a non-empty text such as \"C\"")
    order_level = _texts(source, "order_level")
    for name in order_level:
        if name not in columns:
            raise MappingError(f"order_level names {name!r}, which is not mapped in columns")
        if name in LINE_FIELDS:
            raise MappingError(f"order_level cannot hold {name!r}: it describes a line, not "
                               "the order")
    fallbacks = source.get("fallbacks") or {}
    if not isinstance(fallbacks, dict) or not all(
            isinstance(column, str) and column.strip() for column in fallbacks.values()):
        raise MappingError("fallbacks must be an object: our field → the file's column to "
                           "use where the field's column is empty")
    for name in fallbacks:
        if name not in columns or isinstance(columns[name], tuple):
            raise MappingError(f"fallbacks names {name!r}, which is not mapped to one column "
                               "in columns")
    exclude = source.get("exclude") or {}
    if not isinstance(exclude, dict) or not all(
            isinstance(values_, list) and values_ and all(isinstance(v, str) for v in values_)
            for values_ in exclude.values()):
        raise MappingError("exclude must be an object: the file's column → a list of values "
                           "whose lines are left out (e.g. {\"Financial Status\": "
                           "[\"voided\"]})")
    hashed = _texts(source, "hashed")
    for name in hashed:
        if name not in ("customer_id",):
            raise MappingError(f"hashed may only hold customer_id, not {name!r}")
        if name not in columns:
            raise MappingError(f"hashed names {name!r}, which is not mapped in columns")
    return Mapping(columns=columns, date_format=date_format, decimal=decimal,
                   delimiter=delimiter, encoding=encoding, discount_type=discount_type,
                   cancellation_values=values, cancellation_prefix=prefix,
                   refund_values=refunds, order_level=order_level,
                   fallbacks={name: column.strip() for name, column in fallbacks.items()},
                   exclude={column.strip(): tuple(v.strip() for v in values_)
                            for column, values_ in exclude.items()},
                   hashed=hashed)


def _texts(source: dict, option: str) -> tuple[str, ...]:
    """A mapping option holding a list of texts (one text is a list of one)."""
    values = source.get(option) or ()
    if isinstance(values, str):
        values = (values,)
    if not isinstance(values, (list, tuple)) or not all(
            isinstance(value, str) and value.strip() for value in values):
        raise MappingError(f"{option} must be a list of texts")
    return tuple(value.strip() for value in values)


# -------------------------------------------------------------------- mapping checks
def _check_fields(columns: dict[str, str | tuple[str, ...]]) -> None:
    for required in ("invoice_id", "product_id", "quantity"):
        if required not in columns:
            raise MappingError(f"The mapping lacks the required field {required!r}")
    if "invoice_ts" in columns and "invoice_date" in columns:
        raise MappingError("Map invoice_ts (date and time in one column) or invoice_date "
                           "(+ invoice_time), not both")
    if "invoice_ts" not in columns and "invoice_date" not in columns:
        raise MappingError("The mapping lacks the invoice date: map invoice_ts, or "
                           "invoice_date (and optionally invoice_time)")
    if "invoice_time" in columns and "invoice_date" not in columns:
        raise MappingError("invoice_time is mapped without invoice_date")
    prices = [name for name in ("unit_price", "line_total") if name in columns]
    if not prices:
        raise MappingError("The mapping has neither unit_price nor line_total: map one of "
                           "them")
    if len(prices) == 2:
        raise MappingError("Map unit_price or line_total, not both")
    costs = [name for name in ("unit_cost", "line_cost", "profit") if name in columns]
    if len(costs) > 1:
        raise MappingError(f"Map only one of unit_cost, line_cost, profit (got "
                           f"{', '.join(costs)})")
    if "discount" in columns and "line_total" in columns:
        raise MappingError("discount can only be combined with unit_price: a line_total is "
                           "taken as already net of discount")
    if "refund_date" in columns and "order_refund" not in columns and "status" not in columns \
            and "is_cancellation" not in columns:
        raise MappingError("refund_date is mapped, but nothing says which orders were "
                           "refunded: map order_refund or a status with refund_values")


def _bind_columns(mapping: Mapping, raw: pd.DataFrame) -> Mapping:
    """Check every mapped column exists in the file (exact name, else a unique
    case-insensitive match) and return the mapping with the file's spelling."""
    by_key: dict[str, list[str]] = {}
    for column in raw.columns:
        by_key.setdefault(column.casefold(), []).append(column)
    def bind(column: str, role: str) -> str:
        if column in raw.columns:
            return column
        if len(by_key.get(column.casefold(), [])) == 1:
            return by_key[column.casefold()][0]
        raise MappingError(f"Column {column!r} ({role}) is not in the file; the file's "
                           f"columns are: {column_list(raw)}")

    bound = {name: (tuple(bind(part, f"part of {name}") for part in column)
                    if isinstance(column, tuple) else bind(column, f"mapped to {name}"))
             for name, column in mapping.columns.items()}
    fallbacks = {name: bind(column, f"fallback for {name}")
                 for name, column in mapping.fallbacks.items()}
    exclude = {bind(column, "in exclude"): values for column, values in mapping.exclude.items()}
    return Mapping(**{**mapping.__dict__, "columns": bound, "fallbacks": fallbacks,
                      "exclude": exclude})


# ------------------------------------------------------------------ line conversion
def _convert(raw: pd.DataFrame, source_rows: np.ndarray, mapping: Mapping, notes: list[str],
             layout_rejects: pd.DataFrame, *, numeric_ids: bool) -> ReadResult:
    """Turn the text table into the line-item frame and the rejects frame."""
    file_columns = list(raw.columns)
    # what looks wrong for this mapping, seen on the file as written (before filling down)
    diagnosed = diagnose(raw, mapping.columns, order_level=frozenset(mapping.order_level),
                         refund_values=mapping.refund_values,
                         cancellation_values=mapping.cancellation_values,
                         fallbacks=mapping.fallbacks, exclude=mapping.exclude,
                         decimal=mapping.decimal, source_rows=source_rows)
    raw, source_rows, prepared = _prepare(raw, source_rows, mapping, notes, numeric_ids)
    columns = prepared.columns

    def text(name: str) -> pd.Series | None:
        return raw[columns[name]].str.strip() if name in columns else None

    invoice_id = text("invoice_id")
    product_id = text("product_id")
    customer_id = text("customer_id")
    if numeric_ids:  # spreadsheets turn 536365 into 536365.0
        invoice_id, product_id = _drop_float_suffix(invoice_id), _drop_float_suffix(product_id)
    if customer_id is not None:
        customer_id = _drop_float_suffix(customer_id)

    if "invoice_ts" in columns:
        stamp_text = text("invoice_ts")
    else:
        stamp_text = text("invoice_date")
        if "invoice_time" in columns:
            stamp_text = (stamp_text + " " + text("invoice_time")).str.strip()
    invoice_ts, date_note = _parse_timestamps(stamp_text, mapping)
    notes.append(date_note)

    decimal = mapping.decimal or _detect_decimal(
        [text(name) for name in ("quantity", "unit_price", "line_total", "unit_cost",
                                 "line_cost", "profit", "discount") if name in columns])
    if not mapping.decimal:
        notes.append(f"decimal {'comma' if decimal == ',' else 'point'} (detected)")
    quantity = _parse_numbers(text("quantity"), decimal)
    bad_quantity = quantity.isna()

    if "unit_price" in columns:
        unit_price = _parse_numbers(text("unit_price"), decimal)
        price_reason = REASON_PRICE
        bad_price = unit_price.isna()
    else:
        line_total = _parse_numbers(text("line_total"), decimal)
        price_reason = REASON_TOTAL
        bad_price = line_total.isna()
        unit_price = (line_total / quantity).where(quantity != 0, 0.0)

    bad_discount = pd.Series(False, index=raw.index)
    line_discount = None  # no discount column: the source says nothing about discounts
    if "discount" in columns:
        discount_text = text("discount").str.rstrip("%").str.strip()
        discount = _parse_numbers(discount_text, decimal)
        bad_discount = discount.isna() & (discount_text != "")
        discount = discount.fillna(0.0)
        list_price = unit_price
        if mapping.discount_type == "amount":
            # the line's discount, spread over its units (sign-free, so returns work too)
            unit_price = (unit_price - discount / quantity.abs()).where(quantity != 0,
                                                                          unit_price)
        elif mapping.discount_type == "percent":
            unit_price = unit_price * (1 - discount / 100)
        else:
            unit_price = unit_price * (1 - discount)
        # the money taken off the line (kept for the promotion numbers, docs/promotions.md)
        line_discount = ((list_price - unit_price) * quantity.abs()).abs()

    unit_cost = pd.Series(np.nan, index=raw.index)
    bad_cost = pd.Series(False, index=raw.index)
    for name in ("unit_cost", "line_cost", "profit"):
        if name in columns:
            cost_text = text(name)
            measure = _parse_numbers(cost_text, decimal)
            bad_cost = measure.isna() & (cost_text != "")
            if name == "unit_cost":
                unit_cost = measure
            elif name == "line_cost":
                unit_cost = (measure / quantity).where(quantity != 0)
            else:
                unit_cost = (unit_price - measure / quantity).where(quantity != 0)

    is_cancellation = pd.Series(False, index=raw.index)
    bad_cancellation = pd.Series(False, index=raw.index)
    if mapping.cancellation_prefix:
        is_cancellation = invoice_id.str.startswith(mapping.cancellation_prefix)
    if "is_cancellation" in columns and columns["is_cancellation"] != prepared.status_column:
        flag = text("is_cancellation").str.casefold()
        flagged = flag.isin(_TRUE)
        bad_cancellation = ~flagged & ~flag.isin(_FALSE)
        # a flagged line reverses a sale, as Online Retail's C-invoices: its quantity is
        # negative, so that its value counts as a return (docs/mapping.md)
        positive = flagged & (quantity > 0)
        if positive.any():
            quantity = quantity.where(~positive, -quantity)
            notes.append(f"{int(positive.sum())} cancellation lines had a positive quantity, "
                         "taken as negative (a cancellation reverses a sale)")
        is_cancellation = is_cancellation | flagged

    checks = [
        (invoice_id == "", REASON_INVOICE),
        (product_id == "", REASON_PRODUCT),
        (invoice_ts.isna(), REASON_DATE),
        (bad_quantity, REASON_QUANTITY),
        (bad_price, price_reason),
        (bad_discount, REASON_DISCOUNT),
        (bad_cost, REASON_COST),
        (bad_cancellation, REASON_CANCELLATION),
    ]
    amounts = {}
    for name in orders.FIELDS:
        if name in columns:
            amount_text = text(name)
            amounts[name] = _parse_numbers(amount_text, decimal)
            checks.append((amounts[name].isna() & (amount_text != ""),
                           f"unparseable {MAPPABLE_FIELDS[name].split(' (')[0]}"))
    refund_ts = None
    if "refund_date" in columns:
        refund_text = text("refund_date")
        refund_ts = _parse_timestamps(refund_text, mapping)[0]
        checks.append((refund_ts.isna() & (refund_text != ""), REASON_REFUND_DATE))
    reason = np.select([mask.to_numpy(dtype=bool) for mask, _ in checks],
                       [label for _, label in checks], default="")
    rejected = reason != ""

    country = text("country")
    if country is None:
        country = pd.Series("Unspecified", index=raw.index, dtype="str")
        notes.append("no country column mapped: every line has country \"Unspecified\"")
    else:
        country = country.mask(country == "", "Unspecified")
    kept_countries = country[~rejected]
    countries = normalise_countries(kept_countries.unique().tolist())
    country_code = country.map(countries.codes)
    # an export that writes ISO codes ("FR", "USA") shows the country's name on screens
    named = {name: country_name(code) for name, code in countries.codes.items()
             if _ISO_CODE.fullmatch(name)}
    if named:
        country = country.replace(named)

    lines = pd.DataFrame({
        "invoice_id": invoice_id,
        "invoice_ts": invoice_ts,
        "customer_id": _empty_as_na(customer_id, raw.index),
        "product_id": product_id,
        "description": _empty_as_na(raw[columns["description"]]
                                    if "description" in columns else None, raw.index),
        "quantity": quantity,
        "unit_price": unit_price,
        "country": country,
        "country_code": country_code,
        "is_cancellation": is_cancellation.astype(bool),
        **{name: _empty_as_na(text(name), raw.index) for name in schema.OPTIONAL_DIMENSIONS},
        "unit_cost": unit_cost,
        **({} if line_discount is None else {"discount": line_discount}),
    })
    if rejected.any():
        lines = lines.loc[~rejected].reset_index(drop=True)
    line_rows = source_rows[~rejected]
    summary = dict(prepared.summary)
    if amounts or refund_ts is not None or prepared.refunded is not None:
        lines, line_rows, applied = _apply_orders(lines, line_rows, invoice_id[~rejected],
                                                  amounts, refund_ts, prepared, rejected)
        summary.update(applied)

    bad_rows = raw.loc[rejected, file_columns]
    rejects = pd.concat([
        pd.DataFrame({"source_row": source_rows[rejected], "reject_reason": reason[rejected]}),
        bad_rows.reset_index(drop=True)], axis=1)
    if len(layout_rejects):
        rejects = pd.concat([rejects, layout_rejects], ignore_index=True)
        rejects = rejects.sort_values("source_row", kind="stable").reset_index(drop=True)
    return ReadResult(lines=lines, rejects=rejects.fillna(""),
                      lines_read=len(raw) + len(layout_rejects) + prepared.excluded_lines,
                      countries=countries, notes=notes, line_rows=line_rows,
                      warnings=diagnosed, orders=summary)


@dataclass
class _Prepared:
    """The raw table made ready for conversion (see ``_prepare``)."""
    columns: dict[str, str]            # field → one column (composite keys joined)
    status_column: str | None
    refunded: pd.Series | None         # per raw row: the order's status is a refund value
    excluded_lines: int
    summary: dict


_KEY_PREFIX = "\0"  # names of the columns this module adds to the table (joined keys)


def _prepare(raw: pd.DataFrame, source_rows: np.ndarray, mapping: Mapping, notes: list[str],
             numeric_ids: bool) -> tuple[pd.DataFrame, np.ndarray, _Prepared]:
    """Apply the mapping's table-wide options before lines are parsed, in this order:
    composite keys joined, order-level columns filled down from the order's first line,
    fallbacks filled, excluded and cancelled orders left out (counted), one currency
    checked, customer ids hashed. Returns the table, its file rows and what was done."""
    raw = raw.copy()
    columns: dict[str, str] = {}
    summary: dict = {}
    for name, column in mapping.columns.items():
        if isinstance(column, tuple):
            parts = [raw[part].str.strip() for part in column]
            if numeric_ids:
                parts = [_drop_float_suffix(part) for part in parts]
            joined = parts[0]
            for part in parts[1:]:
                joined = joined + COMPOSITE_SEPARATOR + part
            blank = pd.concat([part == "" for part in parts], axis=1).all(axis=1)
            columns[name] = f"{_KEY_PREFIX}{name}"
            raw[columns[name]] = joined.where(~blank, "")
        else:
            columns[name] = column
    key = raw[columns["invoice_id"]].str.strip()
    _fill_down(raw, key, [columns[name] for name in mapping.order_level], summary)
    for name, fallback in mapping.fallbacks.items():
        values = raw[columns[name]].str.strip()
        filled = (values == "") & (raw[fallback].str.strip() != "")
        if filled.any():
            raw[columns[name]] = values.where(~filled, raw[fallback].str.strip())
            summary.setdefault("fallbacks", {})[f"{name} from {fallback!r}"] = int(filled.sum())
            notes.append(f"{int(filled.sum()):,} lines have no {columns[name]!r}: {name} taken "
                         f"from {fallback!r}")
            if name in mapping.order_level:  # the fallback may be on the first line only
                _fill_down(raw, key, [columns[name]], {})
    status_column = columns.get("status") or (
        columns.get("is_cancellation") if mapping.cancellation_values or mapping.refund_values
        else None)
    excluded = pd.Series(False, index=raw.index)
    exclusions = [(column, values) for column, values in mapping.exclude.items()]
    if status_column and mapping.cancellation_values:
        exclusions.append((status_column, mapping.cancellation_values))
    for column, values in exclusions:
        cells = raw[column].str.strip().str.casefold()
        for value in values:
            hit = cells == value.casefold()
            # an order's value written on its first line only holds for its other lines
            hit = (hit | ((cells == "") & hit.groupby(key).transform("any"))) & ~excluded
            if hit.any():
                label = (f"{column} = {value} (cancelled: never sold)"
                         if column == status_column and value in mapping.cancellation_values
                         else f"{column} = {value}")
                summary.setdefault("excluded", {})[label] = {
                    "orders": int(key[hit].nunique()), "lines": int(hit.sum())}
                excluded |= hit
    excluded_lines = int(excluded.sum())
    if excluded_lines:
        if excluded.all():
            raise ReadError("Every line of the file is left out ("
                            f"{', '.join(summary['excluded'])}): nothing to load")
        notes.append(f"{excluded_lines:,} lines of {key[excluded].nunique():,} orders left out "
                     f"({', '.join(summary['excluded'])})")
        raw, source_rows, key = (raw.loc[~excluded].reset_index(drop=True),
                                 source_rows[~excluded.to_numpy()],
                                 key[~excluded].reset_index(drop=True))
    if "currency" in columns:
        currency = raw[columns["currency"]].str.strip().str.upper()
        counts = currency[currency != ""].value_counts()
        if len(counts) > 1:
            raise ReadError(
                f"The file mixes currencies in column {columns['currency']!r}: "
                + ", ".join(f"{code} ({count:,} lines)" for code, count in counts.items())
                + ". Totals across currencies would be meaningless: load one currency per "
                "file (export each store or market separately)")
        if len(counts):
            summary["currency"] = str(counts.index[0])
    for name in mapping.hashed:
        values = raw[columns[name]].str.strip()
        distinct = values[values != ""].unique()
        hashes = {value: "c-" + hashlib.sha256(value.casefold().encode()).hexdigest()[:16]
                  for value in distinct}
        raw[columns[name]] = values.map(hashes).fillna("")
        notes.append(f"{name} from {columns[name]!r} is stored as a one-way hash "
                     f"({len(distinct):,} distinct values), never in clear")
    refunded = None
    if status_column and mapping.refund_values:
        status = raw[status_column].str.strip().str.casefold()
        refunded = status.isin({value.casefold() for value in mapping.refund_values}
                               ).groupby(key).transform("any")
    return raw, source_rows, _Prepared(columns=columns, status_column=status_column,
                                       refunded=refunded, excluded_lines=excluded_lines,
                                       summary=summary)


def _fill_down(raw: pd.DataFrame, key: pd.Series, names: list[str], summary: dict) -> None:
    """Fill the empty cells of the columns ``names`` with the first value of the same
    order (``key``): exports write order-level values on the order's first line only."""
    for column in names:
        values = raw[column].str.strip()
        blank = values == ""
        if blank.any() and not blank.all():
            first = values.mask(blank).groupby(key).transform("first")
            filled = blank & first.notna()
            if filled.any():
                raw[column] = values.where(~filled, first)
                summary.setdefault("filled_down", {})[column] = int(filled.sum())


def _apply_orders(lines: pd.DataFrame, rows: np.ndarray, key: pd.Series,
                  amounts: dict[str, pd.Series], refund_ts: pd.Series | None,
                  prepared: _Prepared, rejected: np.ndarray
                  ) -> tuple[pd.DataFrame, np.ndarray, dict]:
    """The order-level amounts of the kept lines, one value per order (data.orders)."""
    key = key.reset_index(drop=True)
    keep = ~rejected

    def per_order(values: pd.Series | None, name: str) -> pd.Series | None:
        if values is None:
            return None
        return orders.order_value(key, values[keep].reset_index(drop=True),
                                  prepared.columns[name])

    return orders.apply(lines, rows, key, orders.OrderAmounts(
        discount=per_order(amounts.get("order_discount"), "order_discount"),
        subtotal=per_order(amounts.get("order_subtotal"), "order_subtotal"),
        refund=per_order(amounts.get("order_refund"), "order_refund"),
        refund_ts=per_order(refund_ts, "refund_date"),
        shipping=per_order(amounts.get("order_shipping"), "order_shipping"),
        tax=per_order(amounts.get("order_tax"), "order_tax"),
        total=per_order(amounts.get("order_total"), "order_total"),
        refunded_status=(prepared.refunded[keep].reset_index(drop=True)
                         if prepared.refunded is not None else None),
        columns=prepared.columns))


def _drop_float_suffix(values: pd.Series | None) -> pd.Series | None:
    if values is None:
        return None
    return values.str.replace(r"^(\d+)\.0+$", r"\1", regex=True)


def _empty_as_na(values: pd.Series | None, index: pd.Index) -> pd.Series:
    if values is None:
        return pd.Series(pd.NA, index=index, dtype="string")
    return values.astype("string").mask(values == "", pd.NA)


def _parse_numbers(values: pd.Series, decimal: str) -> pd.Series:
    """Text → float64 (NaN where unreadable or empty). Plain numbers go through
    ``pd.to_numeric`` directly; only the rest are cleaned of currency signs, spaces and
    thousands separators, and read with the given decimal separator."""
    if decimal == ".":
        try:  # Arrow's cast is ten times faster than to_numeric and fails on any bad value
            return pd.Series(pc.cast(pa.array(values), pa.float64()).to_numpy(
                zero_copy_only=False), index=values.index)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            pass
        numbers = pd.to_numeric(values, errors="coerce")
        failed = numbers.isna() & (values != "")
        if not failed.any():
            return numbers.astype("float64")
        retry = values[failed]
    else:
        numbers = pd.Series(np.nan, index=values.index)
        retry = values
    cleaned = retry.str.replace(r"[\s\u00a0£$€]", "", regex=True)
    cleaned = cleaned.str.replace(r"^\((.*)\)$", r"-\1", regex=True)  # accounting negatives
    group, point = (".", ",") if decimal == "," else (",", ".")
    grouped = cleaned.str.fullmatch(rf"[-+]?\d{{1,3}}(\{group}\d{{3}})+(\{point}\d*)?")
    cleaned = cleaned.where(~grouped, cleaned.str.replace(group, "", regex=False))
    if decimal == ",":
        cleaned = cleaned.str.replace(",", ".", regex=False)
    numbers.loc[retry.index] = pd.to_numeric(cleaned, errors="coerce")
    return numbers.astype("float64")


def _detect_decimal(samples: list[pd.Series]) -> str:
    """"," when numbers evidently use a decimal comma (``12,50``, ``1.234,5``) and none
    evidently uses a decimal point (``2.55``, ``1,234.5``); "." otherwise."""
    values = pd.concat([s[s != ""].drop_duplicates().head(5000) for s in samples]
                       ) if samples else pd.Series(dtype="str")
    values = values.str.replace(r"[\s\u00a0£$€%]", "", regex=True)
    comma = values.str.fullmatch(r"[-+(]?[\d.]*\d,(\d{1,2}|\d{4,})\)?").sum()
    point = values.str.fullmatch(r"[-+(]?[\d,]*\d\.(\d{1,2}|\d{4,})\)?").sum()
    if comma and point:
        raise ReadError("Numbers use both a decimal comma and a decimal point: set "
                        "\"decimal\" in the mapping")
    return "," if comma else "."


# ------------------------------------------------------------------------ timestamps
_DAYFIRST = ("%d/%m/%Y", "%d.%m.%Y", "%d-%m-%Y", "%d/%m/%y", "%d.%m.%y")
_MONTHFIRST = ("%m/%d/%Y", "%m-%d-%Y", "%m/%d/%y")
_YEARFIRST = ("%Y/%m/%d", "%Y.%m.%d", "%Y%m%d")
_TIMES = ("", " %H:%M", " %H:%M:%S", " %I:%M %p", " %I:%M:%S %p", " %H:%M:%S.%f")
_TZ_SUFFIX = r"(?:Z|[+-]\d{2}:?\d{2})$"


def _parse_timestamps(values: pd.Series, mapping: Mapping) -> tuple[pd.Series, str]:
    """Parse invoice timestamps in one vectorised pass with one format, chosen from a
    sample of the data unless the mapping names it. Returns (datetime64[us] with NaT for
    unreadable values, a note saying which format was used)."""
    wanted = mapping.date_format
    distinct = values[values != ""].drop_duplicates()
    # spread over the whole file: a file sorted by date has only early days at its start
    sample = distinct.iloc[np.unique(np.linspace(0, len(distinct) - 1, 1000).astype(int))
                           ] if len(distinct) else distinct
    if wanted == "epoch_seconds" or (
            wanted is None and len(sample)
            and sample.str.fullmatch(r"\d{9,10}(\.\d+)?").all()):
        seconds = pd.to_numeric(values, errors="coerce")
        stamps = pd.to_datetime(seconds, unit="s", errors="coerce")
        return stamps.astype("datetime64[us]"), "dates as epoch seconds" + (
            "" if wanted else " (detected)")
    if wanted and "%" in wanted:
        return _with_format(values, wanted), f"date format {wanted}"
    if wanted == "iso":
        return _with_format(values, "ISO8601"), "date format ISO 8601"

    families = {"dayfirst": _DAYFIRST, "monthfirst": _MONTHFIRST}.get(
        wanted, _DAYFIRST + _MONTHFIRST + _YEARFIRST)
    candidates = ([] if wanted else ["ISO8601"]) + [date + time for date in families
                                                    for time in _TIMES]
    scores: dict[str, int] = {}
    for fmt in candidates:
        scores[fmt] = int(_with_format(sample, fmt).notna().sum())
        if fmt == "ISO8601" and scores[fmt] == len(sample):
            break  # year first: no day/month ambiguity
    best = max(scores, key=lambda fmt: scores[fmt])  # first of the best: ISO wins ties
    twin = _swap_day_month(best)
    if scores[best] and scores.get(twin) == scores[best] and best != twin:
        # the sample cannot tell day/month from month/day: ask every distinct value
        scores[best] = int(_with_format(distinct, best).notna().sum())
        scores[twin] = int(_with_format(distinct, twin).notna().sum())
        best = max((best, twin), key=lambda fmt: scores[fmt])
        twin = _swap_day_month(best)
    if scores[best] and scores.get(twin) == scores[best] and best != twin:
        if mapping.prefer_monthfirst:
            best = best if best.startswith("%m") else twin
        else:
            example = sample[_with_format(sample, best).notna()].iloc[0]
            raise ReadError(f"Dates such as {example!r} could be day/month or month/day: set "
                            "\"date_format\" in the mapping to \"dayfirst\", \"monthfirst\" "
                            "or a pattern such as \"%d/%m/%Y\"")
    stamps = _with_format(values, best)
    shown = "ISO 8601" if best == "ISO8601" else best
    return stamps, f"date format {shown}" + ("" if wanted and "%" in wanted else " (detected)")


def _with_format(values: pd.Series, fmt: str) -> pd.Series:
    if fmt == "ISO8601":
        values = values.str.replace(_TZ_SUFFIX, "", regex=True)  # keep wall-clock time
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stamps = pd.to_datetime(values, format=fmt, errors="coerce")
    if getattr(stamps.dt, "tz", None) is not None:
        stamps = stamps.dt.tz_localize(None)
    return stamps.astype("datetime64[us]")


def _swap_day_month(fmt: str) -> str:
    return fmt.replace("%d", "\0").replace("%m", "%d").replace("\0", "%m")
