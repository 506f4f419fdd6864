"""The file formats a load understands, declared once: the CLI's ``--format`` choices, the
Data page's radio buttons, the API's load options and the detection from a file's header all
come from ``FORMATS``.

A platform format (Shopify, WooCommerce) is a *mapping built from the header*: the same
generic machinery (data.readers, data.orders) reads it, with the order-level rules the
platform needs declared as mapping options. So a platform export and a hand-written mapping
follow one set of rules, and ``mapping_for(format, header)`` shows a user exactly what a
format does (``flask data mapping FILE --format shopify``), as a starting point for their own.

Header names are matched case- and punctuation-insensitively ("Order ID" = "order_id").
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from pathlib import Path

import numpy as np
import pandas as pd

from data.readers import (DEFAULT_LIMITS, ONLINE_RETAIL_COLUMNS, ONLINE_RETAIL_MAPPING,
                          LoadLimits, Mapping, MappingError, ReadError, ReadResult, Reshape,
                          read_generic, read_header, read_mapped, read_online_retail)


@dataclass(frozen=True)
class Format:
    """One load format. ``build`` turns a header into the mapping that reads the file (None
    for the generic format, whose mapping the user gives); ``detect`` says whether a header
    looks like this format."""
    name: str
    label: str
    description: str
    detect: Callable[[list[str]], bool]
    build: Callable[[list[str]], Mapping] | None
    reshape: Callable[[list[str]], Reshape | None] | None = None


def _key(name: str) -> str:
    return re.sub(r"[^0-9a-z]", "", name.casefold())


class _Header:
    """A file's header, looked up by normalised name."""

    def __init__(self, names: list[str]):
        self.names = list(names)
        self.by_key: dict[str, str] = {}
        for name in names:
            self.by_key.setdefault(_key(name), name)

    def find(self, *candidates: str) -> str | None:
        """The file's column for the first candidate present (normalised match)."""
        for candidate in candidates:
            if _key(candidate) in self.by_key:
                return self.by_key[_key(candidate)]
        return None

    def has(self, *names: str) -> bool:
        return all(_key(name) in self.by_key for name in names)


def _require(header: _Header, label: str, **fields: tuple[str, ...]) -> dict[str, str]:
    found, missing = {}, []
    for field, candidates in fields.items():
        column = header.find(*candidates)
        if column is None:
            missing.append(" or ".join(repr(c) for c in candidates[:2]))
        else:
            found[field] = column
    if missing:
        raise MappingError(f"This is not a {label}: it lacks the column(s) {', '.join(missing)} "
                           f"(found: {', '.join(header.names[:12])}"
                           + (" …" if len(header.names) > 12 else "") + ")"
                           + _suggestion(header.names, label))
    return found


def _suggestion(names: list[str], label: str) -> str:
    other = detect(names)
    if other and FORMATS[other].label != label:
        return f". It looks like a {FORMATS[other].label}: use --format {other}"
    return ""


def _optional(header: _Header, **fields: tuple[str, ...]) -> dict[str, str]:
    return {field: column for field, candidates in fields.items()
            if (column := header.find(*candidates)) is not None}


def _product(header: _Header, label: str, columns: dict[str, str],
             skus: tuple[str, ...], names: tuple[str, ...]) -> dict[str, str]:
    """Map the product id to the SKU column, the name standing in where a SKU is blank
    (platforms leave it empty on custom items), or to the name when there is no SKU column;
    the name is the description. Returns the fallbacks."""
    sku, name = header.find(*skus), header.find(*names)
    if sku is None and name is None:
        raise MappingError(f"This is not a {label}: it has neither {skus[0]!r} nor "
                           f"{names[0]!r}")
    columns["product_id"] = sku or name
    if name:
        columns["description"] = name
    return {"product_id": name} if sku and name else {}


# ---------------------------------------------------------------------------- Shopify
SHOPIFY_LABEL = "Shopify orders export"
#: Financial statuses of orders that were never paid (left out, counted in the report).
SHOPIFY_UNPAID = ["voided", "pending", "expired"]
#: Payment method of Shopify's test gateway: test orders (left out, counted).
SHOPIFY_TEST_PAYMENT = ["bogus"]
#: The line Shopify writes for a tip (Lineitem name "Tip"): outside the Subtotal, left out.
SHOPIFY_TIP = ["Tip"]


def _shopify_detect(names: list[str]) -> bool:
    return _Header(names).has("Name", "Lineitem quantity", "Lineitem price", "Financial Status")


def _shopify_build(names: list[str]) -> Mapping:
    """Shopify's orders_export.csv: one line per line item; order-level columns (Paid at,
    Financial Status, totals, discount, refund, billing address) on the order's first line
    only; prices before discounts. Revenue per order = Subtotal (items after discounts,
    without shipping and taxes); refunds become return lines."""
    header = _Header(names)
    columns = _require(header, SHOPIFY_LABEL, invoice_id=("Name",),
                       quantity=("Lineitem quantity",), unit_price=("Lineitem price",),
                       invoice_ts=("Created at", "Paid at"))
    fallbacks = _product(header, SHOPIFY_LABEL, columns, ("Lineitem sku",),
                         ("Lineitem name",))
    columns.update(_optional(
        header, country=("Billing Country", "Shipping Country"),
        city=("Billing City", "Shipping City"), payment_method=("Payment Method",),
        channel=("Source",), status=("Financial Status",),
        order_subtotal=("Subtotal",), order_discount=("Discount Amount",),
        order_refund=("Refunded Amount",), order_shipping=("Shipping",),
        order_tax=("Taxes",), order_total=("Total",), currency=("Currency",)))
    hashed = []
    customer = header.find("Customer ID", "Customer Id")
    if customer:
        columns["customer_id"] = customer
    elif header.find("Email"):
        columns["customer_id"] = header.find("Email")
        hashed = ["customer_id"]
    for field, other in (("country", "Shipping Country"), ("city", "Shipping City")):
        backup = header.find(other)
        if field in columns and backup and backup != columns[field]:
            fallbacks[field] = backup
    exclude = {columns["status"]: SHOPIFY_UNPAID} if "status" in columns else {}
    if "payment_method" in columns:
        exclude[columns["payment_method"]] = SHOPIFY_TEST_PAYMENT
    if "description" in columns:  # a tip: a line outside the Subtotal, not a product sold
        exclude[columns["description"]] = SHOPIFY_TIP
    order_level = [field for field in ("invoice_ts", "customer_id", "country", "city",
                                       "payment_method", "channel", "status", "currency")
                   if field in columns]
    return Mapping(columns=columns, decimal=".", date_format="iso",
                   refund_values=("refunded", "partially_refunded") if "status" in columns
                   else (),
                   order_level=tuple(order_level), fallbacks=fallbacks, exclude=exclude,
                   hashed=tuple(hashed))


# ------------------------------------------------------------------------ WooCommerce
WOOCOMMERCE_LABEL = "WooCommerce orders export"
_WOO_MARKERS = ("order_number", "order_status", "order_currency", "payment_method_title",
                "cart_discount", "customer_user", "billing_country", "billing_email",
                "item_total", "item_name", "item_sku", "order_total", "order_date",
                "shipping_total")
_WOO = {
    "invoice_id": ("Order ID", "order_id", "Order Number", "order_number", "Order #"),
    "invoice_ts": ("Order Date", "order_date", "Date Created", "date_created", "Date"),
    "quantity": ("Item Quantity", "item_quantity", "Quantity", "Qty", "Item Qty"),
}
_WOO_PRODUCT = ("Item SKU", "item_sku", "SKU", "Product SKU")
_WOO_NAME = ("Item Name", "item_name", "Product Name", "product_name", "Item", "Product")
_WOO_LINE_TOTAL = ("Item Total", "item_total", "Line Total", "line_total")
_WOO_PRICE = ("Item Price", "item_price", "Item Cost", "item_cost", "Price", "Unit Price")
#: WooCommerce's statuses: never sold (cancelled, failed), not sold yet (left out), and
#: refunded in full; processing, on-hold and completed are sales (WooCommerce Analytics'
#: default "actionable" and excluded statuses).
WOO_NEVER_SOLD = ["cancelled", "wc-cancelled", "failed", "wc-failed"]
WOO_NOT_SOLD_YET = ["pending", "wc-pending", "checkout-draft", "draft", "trash"]
WOO_REFUNDED = ["refunded", "wc-refunded"]


def _woo_detect(names: list[str]) -> bool:
    header = _Header(names)
    if _shopify_detect(names) or any(header.find(*_WOO[f]) is None for f in _WOO):
        return False
    if header.find(*_WOO_PRODUCT) is None and header.find(*_WOO_NAME) is None:
        return False
    return sum(header.has(marker) for marker in _WOO_MARKERS) >= 2


def _woo_build(names: list[str]) -> Mapping:
    """The WooCommerce order export with one row per line item (WooCommerce's Customer/Order
    CSV export and the common export plugins): order columns repeated or on the first row.
    A line total (after coupons, without tax) is preferred to a unit price; with a unit
    price the order's coupon discount is spread over the lines."""
    header = _Header(names)
    columns = _require(header, WOOCOMMERCE_LABEL, **_WOO)
    fallbacks = _product(header, WOOCOMMERCE_LABEL, columns, _WOO_PRODUCT, _WOO_NAME)
    line_total, price = header.find(*_WOO_LINE_TOTAL), header.find(*_WOO_PRICE)
    if line_total:
        columns["line_total"] = line_total
    elif price:
        columns["unit_price"] = price
        columns.update(_optional(header, order_discount=(
            "Cart Discount", "cart_discount", "Discount Total", "discount_total",
            "Coupon Discount Amount", "Order Discount")))
    else:
        raise MappingError(f"This is not a {WOOCOMMERCE_LABEL}: it has no item total or item "
                           "price column")
    columns.update(_optional(
        header, status=("Order Status", "order_status", "Status"),
        country=("Billing Country", "billing_country", "Shipping Country", "shipping_country"),
        city=("Billing City", "billing_city"),
        payment_method=("Payment Method Title", "payment_method_title", "Payment Method",
                        "payment_method"),
        order_refund=("Order Refund", "Refunds", "refund_amount", "Refund Amount",
                      "Order Refunded", "refunded_total", "Total Refunded"),
        refund_date=("Refund Date", "refund_date", "Date Refunded"),
        order_shipping=("Shipping Total", "shipping_total", "Order Shipping"),
        order_tax=("Tax Total", "tax_total", "Order Tax", "Total Tax"),
        order_total=("Order Total", "order_total"),
        currency=("Order Currency", "order_currency", "Currency")))
    if "refund_date" in columns and "order_refund" not in columns and "status" not in columns:
        del columns["refund_date"]
    hashed = []
    email = header.find("Billing Email", "billing_email", "Customer Email", "customer_email",
                        "Email")
    if email:
        columns["customer_id"] = email
        hashed = ["customer_id"]
    elif customer := header.find("Customer ID", "customer_id", "customer_user"):
        columns["customer_id"] = customer
    backup = header.find("Shipping Country", "shipping_country")
    if "country" in columns and backup and backup != columns["country"]:
        fallbacks["country"] = backup
    status = columns.get("status")
    order_level = [field for field in ("invoice_ts", "customer_id", "country", "city",
                                       "payment_method", "status", "currency", "refund_date")
                   if field in columns]
    return Mapping(columns=columns, refund_values=tuple(WOO_REFUNDED) if status else (),
                   cancellation_values=tuple(WOO_NEVER_SOLD) if status else (),
                   exclude={status: WOO_NOT_SOLD_YET} if status else {},
                   order_level=tuple(order_level), fallbacks=fallbacks, hashed=tuple(hashed))


# ----------------------------------------------- WooCommerce Analytics › Orders (built-in)
WOO_ANALYTICS_LABEL = "WooCommerce Analytics orders report"
_WOO_ANALYTICS_PRODUCTS = ("Product(s)", "Products")
_WOO_ANALYTICS_REVENUE = ("N. Revenue", "Net sales", "Net Sales", "Net Revenue")
#: One "2× Hoodie" item of the Product(s) cell ("2× Hoodie, 1× Beanie, Logo"): a quantity,
#: "×" (or "x"), the name up to the next item.
_ITEM = re.compile(r"(?:^|,\s*)(?P<qty>\d+)\s*[×x]\s*(?P<name>.+?)(?=,\s*\d+\s*[×x]\s|$)")
UNLISTED = "(products not listed)"
#: Columns the reshaping adds: one row per product of the order.
_PRODUCT, _QUANTITY, _VALUE = "\0product", "\0quantity", "\0value"


def _woo_analytics_detect(names: list[str]) -> bool:
    header = _Header(names)
    return header.has("Order #", "Date", "Status") and \
        header.find(*_WOO_ANALYTICS_PRODUCTS) is not None and \
        header.find(*_WOO_ANALYTICS_REVENUE) is not None


def _woo_analytics_build(names: list[str]) -> Mapping:
    """WooCommerce's own export (Analytics › Orders › Download): one row per order, its
    products in one cell ("2× Hoodie, 1× Beanie") and only the order's net revenue
    (after coupons). A refund is its own row with a negative net revenue, dated when it was
    made: it becomes return lines. The rows are first reshaped to one per product
    (``_woo_analytics_reshape``), the order's revenue shared by quantity."""
    header = _Header(names)
    columns = _require(header, WOO_ANALYTICS_LABEL, invoice_id=("Order #",),
                       invoice_ts=("Date",), status=("Status",))
    columns.update(product_id=_PRODUCT, description=_PRODUCT, quantity=_QUANTITY,
                   line_total=_VALUE)
    hashed = []
    if customer := header.find("Customer"):
        columns["customer_id"] = customer
        hashed = ["customer_id"]  # a name: stored as a hash, never in clear
    status = columns["status"]
    return Mapping(columns=columns, decimal=".",
                   cancellation_values=("cancelled", "failed"),
                   exclude={status: ["pending payment", "pending", "draft",
                                     "checkout draft", "checkout-draft", "trash"]},
                   hashed=tuple(hashed))


def _woo_analytics_reshape(names: list[str]):
    header = _Header(names)
    products, revenue = header.find(*_WOO_ANALYTICS_PRODUCTS), header.find(*_WOO_ANALYTICS_REVENUE)

    def reshape(raw: pd.DataFrame, rows: np.ndarray, notes: list[str]):
        cells = raw[products].str.strip()
        items = cells.str.extractall(_ITEM)
        order_of = items.index.get_level_values(0).to_numpy()
        quantity = items["qty"].astype("float64").to_numpy()
        listed = np.zeros(len(raw), dtype=bool)
        listed[order_of] = True
        # an order whose products are not listed keeps its revenue on one line
        unlisted = np.flatnonzero(~listed)
        order_of = np.concatenate([order_of, unlisted])
        quantity = np.concatenate([quantity, np.ones(len(unlisted))])
        names_ = np.concatenate([items["name"].str.strip().to_numpy(dtype=object),
                                 np.full(len(unlisted), UNLISTED, dtype=object)])
        order = np.argsort(order_of, kind="stable")
        order_of, quantity, names_ = order_of[order], quantity[order], names_[order]
        amount = pd.to_numeric(raw[revenue].str.replace(r"[^\d.\-]", "", regex=True),
                               errors="coerce").to_numpy()[order_of]
        share = quantity / pd.Series(quantity).groupby(order_of).transform("sum").to_numpy()
        value = amount * share
        sign = np.where(amount < 0, -1.0, 1.0)
        out = raw.iloc[order_of].reset_index(drop=True)
        out[_PRODUCT] = names_
        out[_QUANTITY] = [f"{q:g}" for q in quantity * sign]
        out[_VALUE] = [f"{v:.6f}" if v == v else "" for v in value]
        notes.append(f"{len(raw):,} order rows read as {len(out):,} product lines: each "
                     f"product's revenue is the order's {revenue!r} shared by quantity (the "
                     "export gives no price per product)")
        if len(unlisted):
            notes.append(f"{len(unlisted):,} orders list no products: their revenue is on "
                         f"one line {UNLISTED!r}")
        return out, rows[order_of]
    return reshape


# ---------------------------------------------------------------------------- registry
def _online_retail_detect(names: list[str]) -> bool:
    return _Header(names).has(*ONLINE_RETAIL_COLUMNS)


def _online_retail_build(names: list[str]) -> Mapping:
    _require(_Header(names), "file in the Online Retail layout",
             **{column: (column,) for column in ONLINE_RETAIL_COLUMNS})
    return ONLINE_RETAIL_MAPPING


FORMATS: dict[str, Format] = {fmt.name: fmt for fmt in (
    Format("online-retail", "file in the Online Retail layout",
           "the UCI Online Retail columns (InvoiceNo, StockCode, …)",
           _online_retail_detect, _online_retail_build),
    Format("shopify", SHOPIFY_LABEL, "Shopify's Orders › Export CSV (orders_export.csv)",
           _shopify_detect, _shopify_build),
    Format("woocommerce", WOOCOMMERCE_LABEL,
           "a WooCommerce order export with one row per line item",
           _woo_detect, _woo_build),
    Format("woocommerce-analytics", WOO_ANALYTICS_LABEL,
           "WooCommerce's built-in Analytics › Orders download (one row per order)",
           _woo_analytics_detect, _woo_analytics_build, _woo_analytics_reshape),
    Format("generic", "generic file", "any other export, with a column mapping "
           "(docs/mapping.md)", lambda names: False, None),
)}


def detect(names: list[str]) -> str | None:
    """The format a header looks like, or None (then: generic with a mapping)."""
    for fmt in FORMATS.values():
        if fmt.detect(names):
            return fmt.name
    return None


def mapping_for(format: str, names: list[str]) -> Mapping:
    """The mapping ``format`` reads a file with this header by (MappingError naming what is
    missing); not for the generic format, whose mapping the user writes."""
    fmt = FORMATS[format]
    if fmt.build is None:
        raise MappingError("The generic format needs a mapping (see docs/mapping.md)")
    return fmt.build(names)


def mapping_json(mapping: Mapping) -> dict:
    """A mapping as docs/mapping.md writes it (what ``parse_mapping`` reads back)."""
    out: dict = {"columns": {name: list(column) if isinstance(column, tuple) else column
                             for name, column in mapping.columns.items()}}
    for option in ("date_format", "decimal", "delimiter", "encoding", "discount_type",
                   "cancellation_prefix"):
        if getattr(mapping, option):
            out[option] = getattr(mapping, option)
    for option in ("cancellation_values", "refund_values", "order_level", "hashed"):
        if getattr(mapping, option):
            out[option] = list(getattr(mapping, option))
    if mapping.fallbacks:
        out["fallbacks"] = dict(mapping.fallbacks)
    if mapping.exclude:
        out["exclude"] = {column: list(values) for column, values in mapping.exclude.items()}
    return out


#: What ``--format`` accepts: every format, and "auto" (detected from the header).
CHOICES = ("auto", *FORMATS)


def read(path: str | Path, format: str, mapping: Mapping | dict | str | Path | None = None,
         limits: LoadLimits = DEFAULT_LIMITS) -> ReadResult:
    """Read ``path`` in ``format`` ("auto": the format its header looks like); ``mapping``
    only for the generic format. Raises ReadError (MappingError) with the reason."""
    if format not in CHOICES:
        raise ReadError(f"Unknown format {format!r} (use {', '.join(CHOICES)})")
    if format == "auto":
        format = detected_format(path, limits)
    if format != "generic" and mapping is not None:
        raise MappingError(f"A mapping is only used with the generic format, not {format}")
    if format == "online-retail":
        return read_online_retail(path, limits)
    if format == "generic":
        if mapping is None:
            raise MappingError("The generic format needs a mapping (see docs/mapping.md)")
        return read_generic(path, mapping, limits)
    return read_mapped(path, FORMATS[format].build, limits, FORMATS[format].reshape)


def detected_format(path: str | Path, limits: LoadLimits = DEFAULT_LIMITS) -> str:
    """The format of the file's header; ReadError when it is none of the known layouts."""
    names = read_header(path, limits=limits)
    found = detect(names)
    if found is None:
        raise ReadError(f"{Path(path).name} is not in a layout Shoplens knows (Online Retail, "
                        "Shopify, WooCommerce): load it with --format generic and a mapping "
                        "(docs/mapping.md)")
    return found
