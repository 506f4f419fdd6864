"""Warnings on a file as read: what looks wrong for the mapping chosen.

``diagnose(raw, columns, ...)`` looks at the file's text table (every cell text, "" for
empty, column names as in the file) and at the mapping (our field → the file's column, a
list of columns for a composite key), and returns one warning per pattern that would make
the numbers wrong *without* rejecting a line: an order-level column read as a line column,
refunds counted as sales, order discounts never taken off, several currencies added up, a
"line total" that is an order total, and so on. Nothing here changes the data; the readers
pass the warnings to the data-quality report (data.quality), which prints each with its fix.

Each warning is a dict ``{code, message, lines, rows, fix}``: ``lines`` is the number of
lines affected, ``rows`` up to ``EXAMPLE_ROWS`` of their rows in the file (header = row 1).

Every check is vectorised (numpy / pandas on whole columns, ``bincount`` over the orders):
about a second for a million lines. Thresholds are chosen so that a clean export gives no
warning: a pattern must hold for most orders (``PATTERN_SHARE``) and touch a meaningful
share of the lines (``MIN_LINE_SHARE``).
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

EXAMPLE_ROWS = 10
#: share of the multi-line orders (with a value) that must show the first-line-only pattern
PATTERN_SHARE = 0.9
#: share of the lines a pattern must touch before it is worth a warning
MIN_LINE_SHARE = 0.01
#: a line-total column matching quantity × price on fewer lines than this is not one
MATCH_SHARE = 0.05
#: a status or currency column has at most this many distinct values (else it is free text)
MAX_DISTINCT_STATUSES = 1000

#: fields that describe a line (data.readers LINE_FIELDS): never filled down, so an
#: order-level column there is the wrong column
LINE_FIELDS = frozenset({"invoice_id", "product_id", "description", "quantity", "unit_price",
                         "line_total", "unit_cost", "line_cost", "profit", "discount"})
#: fields data.readers reads once per order, from any of its lines (blank lines are fine)
ORDER_FIELDS = frozenset({"order_discount", "order_subtotal", "order_refund", "order_shipping",
                          "order_tax", "order_total", "refund_date", "currency", "status"})
STATUS_FIELDS = ("is_cancellation", "status")
#: the flag texts an is_cancellation column holds for "cancelled" (data.readers reads
#: flags with this set too)
DEFAULT_CANCELLATION_FLAGS = frozenset({"true", "yes", "y", "1", "t", "x", "cancelled",
                                        "canceled"})

_REFUND_VALUE = re.compile(r"\brefund|\breturned\b|^return$")
_CANCEL_VALUE = re.compile(r"\bcancel+ed\b|\bvoid(?:ed)?\b|\bstorniert\b|\bannul")
_UNPAID_VALUE = re.compile(r"\bpending\b|\bexpired\b|\bunpaid\b|\bawaiting\b|\bdraft\b")
_STATUS_NAME = re.compile(r"status")
_CANCELLED_NAME = re.compile(r"cancel")
_CURRENCY_NAME = re.compile(r"currency|währung|devise|moneda|valuta")
_CURRENCY_VALUE = re.compile(r"[A-Za-z]{3}|[£$€¥₹]")
_DISCOUNT_NAME = re.compile(r"discount|rabatt|remise")
_REFUND_NAME = re.compile(r"refund|erstatt")
_NOT_AMOUNT_NAME = re.compile(r"code|type|name|method|reason|status|date|\bat\b|percent|%")
_TOTAL_NAME = re.compile(r"total|subtotal|amount|\bsum\b|summe|betrag|montant")
_PRICE_NAME = re.compile(r"price|preis|prix|precio|prezzo")
_NOT_PRICE_NAME = re.compile(r"compare|cost|total|shipping|tax|discount")
_PRODUCT_NAME = re.compile(r"\b(sku|product|item|article|artikel\w*|name|title|variant|"
                           r"description|bezeichnung|code|ean|gtin|barcode|upc)\b")
_NOT_PRODUCT_NAME = re.compile(r"billing|shipping|customer|email|vendor|price|quantity|qty|"
                               r"amount|total|discount|tax|status|method|payment|country|"
                               r"city|note|tag")
_COUNTRY_NAME = re.compile(r"country|\bland\b|\bpays\b|\bpa[ií]s\b|nation")
_CUSTOMER_NAME = re.compile(r"customer|client|kunde|e-?mail|buyer")


def diagnose(raw: pd.DataFrame, columns: Mapping[str, str | list[str]], *,
             order_level: Iterable[str] = frozenset(), refund_values: Iterable[str] = (),
             cancellation_values: Iterable[str] = (),
             fallbacks: Mapping[str, str | list[str]] | None = None,
             exclude: Mapping[str, Iterable[str]] | None = None,
             decimal: str | None = None,
             source_rows: np.ndarray | None = None) -> list[dict]:
    """The warnings for ``raw`` (the file's text table) read with the mapping ``columns``.

    ``order_level``: fields (or column names) the mapping already fills down from each
    order's first line; ``refund_values`` / ``cancellation_values``: status texts the
    mapping already handles (case-insensitive); ``fallbacks``: field → column(s) used where
    the field's column is blank; ``exclude``: the file's column → values whose orders the
    mapping leaves out; ``decimal``: "." or "," (None: guessed per column);
    ``source_rows``: the file row of each row of ``raw`` (None: row i is file row i + 2).
    Returns a list of ``{code, message, lines, rows, fix}`` (empty when nothing looks
    wrong), in the order of the checks below.
    """
    table = _Table(raw, columns, order_level=order_level, fallbacks=fallbacks or {},
                   decimal=decimal, source_rows=source_rows)
    if not table.n or "invoice_id" not in table.fields:
        return []
    table.refunds = {_fold(value) for value in refund_values}
    table.cancellations = {_fold(value) for value in cancellation_values}
    table.exclude = {column: {_fold(value) for value in values}
                     for column, values in (exclude or {}).items() if column in raw.columns}
    warnings: list[dict] = []
    for check in (_order_level_columns, _statuses, _cancelled_orders, _order_amounts,
                  _currencies, _line_totals, _blank_product_ids, _blank_countries,
                  _unmapped_fields):
        warnings.extend(check(table))
    return warnings


# --------------------------------------------------------------------------- the table
class _Table:
    """The raw table with what the checks share: stripped text and numbers per column
    (computed once), and the orders (one code per line, from the invoice id)."""

    def __init__(self, raw: pd.DataFrame, columns: Mapping[str, str | list[str]], *,
                 order_level: Iterable[str], fallbacks: Mapping[str, str | list[str]],
                 decimal: str | None, source_rows: np.ndarray | None) -> None:
        self.raw = raw
        self.n = len(raw)
        present = set(raw.columns)
        # a column the file lacks is the mapping check's business (data.readers), not ours
        self.fields = {field: _as_list(column) for field, column in columns.items()
                       if column and set(_as_list(column)) <= present}
        self.fallbacks = {field: _as_list(column) for field, column in fallbacks.items()
                          if column and set(_as_list(column)) <= present}
        self.mapped = {column for names in (*self.fields.values(), *self.fallbacks.values())
                       for column in names}
        self.order_level = set(order_level)
        self.refunds: set[str] = set()
        self.cancellations: set[str] = set()
        self.exclude: dict[str, set[str]] = {}
        self.decimal = decimal
        self.rows = (np.asarray(source_rows) if source_rows is not None
                     else np.arange(2, self.n + 2))
        self._text: dict[str, pd.Series] = {}
        self._filled: dict[str, np.ndarray] = {}
        self._numbers: dict[str, np.ndarray] = {}
        self._values: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        if self.n and "invoice_id" in self.fields:
            self._orders()

    # ---------------------------------------------------------------- columns
    def text(self, column: str) -> pd.Series:
        if column not in self._text:
            values = self.raw[column]
            if values.dtype == object:
                values = values.fillna("").astype("str")
            self._text[column] = values.str.strip().fillna("")
        return self._text[column]

    def filled(self, column: str) -> np.ndarray:
        if column not in self._filled:
            self._filled[column] = (self.text(column) != "").to_numpy(dtype=bool)
        return self._filled[column]

    def numbers(self, column: str) -> np.ndarray:
        """float64 per line, NaN where empty or unreadable."""
        if column not in self._numbers:
            filled = self.filled(column)
            numbers = np.full(self.n, np.nan)
            if filled.any():  # only the cells with a value: order-level columns are sparse
                numbers[filled] = _parse_numbers(self.text(column)[filled], self.decimal)
            self._numbers[column] = numbers
        return self._numbers[column]

    def values(self, column: str) -> tuple[np.ndarray, np.ndarray]:
        """(a code per line, -1 where blank; the distinct texts the codes index)."""
        if column not in self._values:
            codes, uniques = pd.factorize(self.text(column))
            self._values[column] = (np.where(self.filled(column), codes, -1),
                                    np.asarray(uniques, dtype=object))
        return self._values[column]

    def unmapped(self, pattern: re.Pattern) -> list[str]:
        """The file's columns not in the mapping whose (case-folded) name matches."""
        return [column for column in self.raw.columns
                if column not in self.mapped and pattern.search(str(column).casefold())]

    def field_filled(self, field: str) -> np.ndarray | None:
        """Lines where the field has a value (any part of a composite, or a fallback)."""
        names = self.fields.get(field)
        if not names:
            return None
        filled = np.zeros(self.n, dtype=bool)
        for column in (*names, *self.fallbacks.get(field, ())):
            filled |= self.filled(column)
        return filled

    def declared_order_level(self, field: str, column: str) -> bool:
        return field in self.order_level or column in self.order_level

    # ---------------------------------------------------------------- orders
    def _orders(self) -> None:
        parts = [self.text(column) for column in self.fields["invoice_id"]]
        key = parts[0] if len(parts) == 1 else parts[0].str.cat(parts[1:], sep="\x1f")
        codes, uniques = pd.factorize(key)
        blank = ~self.field_filled("invoice_id")
        count = len(uniques)
        if blank.any():  # lines without an order (rejected by the reader) stand alone
            codes = codes.copy()
            codes[blank] = count + np.arange(int(blank.sum()))
            count += int(blank.sum())
        self.codes = codes
        self.order_count = count
        self.sizes = np.bincount(codes, minlength=count)
        self.first = self.first_in_order(np.ones(self.n, dtype=bool))
        self.multi_orders = self.sizes >= 2

    def per_order(self, mask: np.ndarray) -> np.ndarray:
        """Lines of ``mask`` per order."""
        return np.bincount(self.codes[mask], minlength=self.order_count)

    def order_count_of(self, mask: np.ndarray) -> int:
        """Orders having a line in ``mask``."""
        return int(np.count_nonzero(self.per_order(mask)))

    def first_in_order(self, mask: np.ndarray) -> np.ndarray:
        """The first line (in file order) of each order among the lines of ``mask``."""
        at = np.flatnonzero(mask)
        first = np.zeros(self.n, dtype=bool)
        first[at[~pd.Series(self.codes[at]).duplicated().to_numpy()]] = True
        return first

    def order_first(self, column: str) -> np.ndarray:
        """Per line, the value code (``values``) of the column's first non-blank cell in the
        line's order; -1 when the order has none."""
        codes, _ = self.values(column)
        firsts = np.flatnonzero(self.first_in_order(codes >= 0))
        order_value = np.full(self.order_count, -1, dtype=np.int64)
        order_value[self.codes[firsts]] = codes[firsts]
        return order_value[self.codes]

    def filled_down(self, column: str) -> np.ndarray:
        """The value codes with each blank cell given its order's first value: what a
        fill-down of an order-level column gives."""
        codes, _ = self.values(column)
        if (codes >= 0).all():
            return codes
        return np.where(codes >= 0, codes, self.order_first(column))

    def example_rows(self, mask: np.ndarray) -> list[int]:
        return [int(row) for row in self.rows[np.flatnonzero(mask)[:EXAMPLE_ROWS]]]

    def line_values(self) -> np.ndarray | None:
        """quantity × unit price (or the line total) per line, as the mapping reads them."""
        if "quantity" not in self.fields:
            return None
        if "unit_price" in self.fields:
            return self.numbers(self.fields["quantity"][0]) * self.numbers(
                self.fields["unit_price"][0])
        if "line_total" in self.fields:
            return self.numbers(self.fields["line_total"][0])
        return None


def _as_list(column: str | list[str]) -> list[str]:
    return [column] if isinstance(column, str) else list(column)


def _fold(value: str) -> str:
    return str(value).strip().casefold()


def _parse_numbers(text: pd.Series, decimal: str | None) -> np.ndarray:
    """Non-empty texts → float64 (NaN where unreadable): plain numbers through Arrow, the rest
    cleaned of currency signs, spaces, thousands separators and accounting brackets; with
    ``decimal`` None a decimal comma is assumed when the point reading fails on most cells."""
    if decimal != ",":
        try:
            return pc.cast(pa.array(text), pa.float64()).to_numpy(zero_copy_only=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            pass
    cleaned = text.str.replace(r"[\s\u00a0£$€%]", "", regex=True)
    cleaned = cleaned.str.replace(r"^\((.*)\)$", r"-\1", regex=True)
    point = pd.to_numeric(cleaned.str.replace(r",(?=\d{3}(\D|$))", "", regex=True),
                          errors="coerce")
    if decimal == ".":
        return point.to_numpy(dtype="float64")
    comma = pd.to_numeric(cleaned.str.replace(".", "", regex=False)
                          .str.replace(",", ".", regex=False), errors="coerce")
    if decimal == "," or comma.notna().sum() > point.notna().sum():
        return comma.to_numpy(dtype="float64")
    return point.to_numpy(dtype="float64")


def _warning(code: str, message: str, lines: int, rows: list[int], fix: str) -> dict:
    return {"code": code, "message": message, "lines": int(lines), "rows": rows, "fix": fix}


def _counts(table: _Table, codes: np.ndarray, texts: np.ndarray, lines: np.ndarray,
            orders: bool = True) -> str:
    """"'refunded' 3 orders, 5 lines; 'x' 1 order, 1 line": each value (``codes`` index
    ``texts``) on the lines of ``lines``, with its lines (and orders), most lines first."""
    per_value = np.bincount(codes[lines & (codes >= 0)], minlength=len(texts))
    parts = []
    for value in sorted(np.flatnonzero(per_value), key=lambda v: (-per_value[v], texts[v])):
        count = int(per_value[value])
        text = f"{texts[value]!r} "
        if orders:
            in_orders = table.order_count_of(lines & (codes == value))
            text += f"{in_orders:,} order{'s' * (in_orders != 1)}, "
        parts.append(text + f"{count:,} line{'s' * (count != 1)}")
    return "; ".join(parts)


def _money(value: float) -> str:
    return f"{value:,.2f}"


# ------------------------------------------------------------------------------ checks
def _order_level_columns(table: _Table) -> list[dict]:
    """A mapped column filled on the first line of each multi-line order and blank on the
    order's other lines, not declared order-level: the other lines would read it as empty."""
    out = []
    multi_lines = table.multi_orders[table.codes]
    other = multi_lines & ~table.first
    if not other.any():
        return out
    values = table.line_values()
    values = np.where(values > 0, values, 0.0) if values is not None else None
    gross = float(values.sum()) if values is not None else 0.0
    for field, names in table.fields.items():
        if field == "invoice_id" or field in ORDER_FIELDS:
            continue
        for column in names:
            if table.declared_order_level(field, column):
                continue
            filled = table.filled(column)
            first_filled = table.per_order(table.first & filled) > 0
            others_filled = table.per_order(other & filled)
            with_value = table.multi_orders & (first_filled | (others_filled > 0))
            pattern = table.multi_orders & first_filled & (others_filled == 0)
            orders = int(pattern.sum())
            if orders < 2 or orders < PATTERN_SHARE * int(with_value.sum()):
                continue
            blank_lines = other & pattern[table.codes]
            count = int(blank_lines.sum())
            if count < MIN_LINE_SHARE * table.n:
                continue
            rows = table.example_rows(blank_lines)
            share = (f", {float(values[blank_lines].sum()) / gross:.1%} of the lines' value"
                     if gross > 0 else "")
            if field in LINE_FIELDS:
                out.append(_warning(
                    "order_level_column",
                    f"Column {column!r} ({field}) is filled only on the first line of each "
                    f"order, blank on its other lines ({count:,} lines of {orders:,} "
                    "orders): it looks like a value of the whole order, not of the line",
                    count, rows,
                    f"map to {field} a column holding each line's own value; an order's "
                    "amounts have their own fields (order_discount, order_subtotal, "
                    "order_refund, order_shipping, order_tax, order_total)"))
            else:
                out.append(_warning(
                    "order_level_column",
                    f"Column {column!r} ({field}) is filled only on the first line of each "
                    f"order, blank on its other lines ({count:,} lines of {orders:,} "
                    f"orders{share}): fill it down?",
                    count, rows,
                    f"add \"{field}\" to \"order_level\" in the mapping (\"order_level\": "
                    f"[\"{field}\"]): the value of the order's first line is then used on "
                    "all its lines"))
    return out


def _status_columns(table: _Table) -> list[tuple[str, str | None]]:
    """(column, field) of the mapped status columns, then of the unmapped columns named
    like a status (field None)."""
    found = [(column, field) for field in STATUS_FIELDS
             for column in table.fields.get(field, ())]
    found += [(column, None) for column in table.unmapped(_STATUS_NAME)]
    return found


def _known_statuses(table: _Table, column: str, field: str | None) -> set[str]:
    """The (case-folded) status texts the mapping handles on ``column`` (mapped to
    ``field``, None when unmapped): declared values, default flags, excluded values."""
    known = set(table.exclude.get(column, ()))
    if field is not None:
        known |= table.refunds | (table.cancellations or (
            DEFAULT_CANCELLATION_FLAGS if field == "is_cancellation" else set()))
    return known


def _handled_status(table: _Table) -> np.ndarray:
    """Lines whose (filled-down) status the mapping handles: a declared refund or
    cancellation value of the mapped status, or an excluded value."""
    handled = np.zeros(table.n, dtype=bool)
    columns = [(column, field) for field in STATUS_FIELDS
               for column in table.fields.get(field, ())]
    columns += [(column, None) for column in table.exclude]
    for column, field in columns:
        _, texts = table.values(column)
        known = _known_statuses(table, column, field)
        lookup = np.append([_fold(text) in known for text in texts], False)
        handled |= lookup[table.filled_down(column)]
    return handled


def _statuses(table: _Table) -> list[dict]:
    """Status values saying refunded (or cancelled / voided) that the mapping counts as
    sales: on an unmapped status column, or not among the declared values."""
    out = []
    for column, field in _status_columns(table):
        _, texts = table.values(column)
        if len(texts) > MAX_DISTINCT_STATUSES:
            continue  # free text, not a status
        folded = pd.Series(texts, dtype=object).str.casefold()
        spaced = folded.str.replace(r"[_\-]+", " ", regex=True)
        unhandled = ~folded.str.strip().isin(_known_statuses(table, column, field))
        refund = (spaced.str.contains(_REFUND_VALUE) & unhandled).to_numpy(dtype=bool)
        cancel = (spaced.str.contains(_CANCEL_VALUE) & ~spaced.str.contains(_REFUND_VALUE)
                  & unhandled).to_numpy(dtype=bool)
        unpaid = (spaced.str.contains(_UNPAID_VALUE) & unhandled).to_numpy(dtype=bool) \
            & ~refund & ~cancel
        if not refund.any() and not cancel.any() and not unpaid.any():
            continue
        down = table.filled_down(column)
        named = f"Column {column!r}" + (f" ({field})" if field else "")
        for code, found, what, fix in (
                ("refund_status", refund, "refunded",
                 "declare {values} in \"refund_values\" (sold, then refunded: the refund "
                 "counts as a return) or in \"cancellation_values\" (never sold)"),
                ("cancelled_status", cancel, "cancelled",
                 "declare {values} in \"cancellation_values\" (never sold) or in "
                 "\"refund_values\" (sold, then refunded)"),
                ("unpaid_status", unpaid, "not paid (yet)",
                 "leave them out with \"exclude\": {{\"" + str(column).replace('"', '\\"')
                 + "\": [{values}]}} if they are not sales yet")):
            if not found.any():
                continue
            lines = np.append(found, False)[down]
            if not lines.any():
                continue
            count = int(lines.sum())
            orders = table.order_count_of(lines)
            fix_text = fix.format(values=", ".join(f'"{text}"' for text in texts[found]))
            if field is None and code != "unpaid_status":
                fix_text = f"map \"status\" to {column!r} and {fix_text}"
            out.append(_warning(
                code,
                f"{named} marks {orders:,} order{'s' * (orders != 1)} ({count:,} "
                f"line{'s' * (count != 1)}) as {what}, but the mapping counts them as "
                f"sales: {_counts(table, down, texts, lines)}",
                count, table.example_rows(lines & table.filled(column)), fix_text))
    return out


def _cancelled_orders(table: _Table) -> list[dict]:
    """An unmapped column such as Shopify's "Cancelled at" filled on orders the mapped
    status does not already handle: those orders count as sales."""
    out = []
    columns = [column for column in table.unmapped(_CANCELLED_NAME)
               if not _STATUS_NAME.search(str(column).casefold())]
    if not columns:
        return out
    handled = _handled_status(table)
    for column in columns:
        filled = table.filled(column)
        if not filled.any():
            continue
        cancelled_orders = table.per_order(filled) > 0
        lines = cancelled_orders[table.codes] & ~handled
        count = int(lines.sum())
        if not count:
            continue
        orders = table.order_count_of(lines)
        out.append(_warning(
            "cancelled_orders",
            f"Column {column!r} is filled on {orders:,} order{'s' * (orders != 1)} "
            f"({count:,} lines) that the mapping counts as sales: cancelled orders?",
            count, table.example_rows(lines & filled),
            "map the order status column as \"status\" and declare the cancelled orders' "
            "status (such as \"voided\") in \"cancellation_values\": they are then left out "
            "as never sold"))
    return out


def _order_amounts(table: _Table) -> list[dict]:
    """An unmapped discount or refund amount with non-zero values: the mapping never takes
    it off, so net revenue is too high by up to its sum."""
    out = []
    line_values = table.line_values()
    gross = (float(np.nansum(np.where(line_values > 0, line_values, 0.0)))
             if line_values is not None else 0.0)
    kinds = []
    if not {"discount", "order_discount", "order_subtotal"} & set(table.fields):
        kinds += [("discount", column) for column in table.unmapped(_DISCOUNT_NAME)]
    if "order_refund" not in table.fields:
        kinds += [("refund", column) for column in table.unmapped(_REFUND_NAME)]
    for kind, column in kinds:
        if _NOT_AMOUNT_NAME.search(str(column).casefold()):
            continue
        filled = table.filled(column)
        amounts = table.numbers(column)
        readable = filled & ~np.isnan(amounts)
        if not readable.any() or readable.sum() < 0.9 * filled.sum():
            continue  # not an amount column
        nonzero = readable & (amounts != 0)
        if not nonzero.any():
            continue
        # an order-level amount (first line only, or repeated on each line) counts once
        # per order; a line amount counts on each line
        firsts = table.first_in_order(readable)
        order_amount = np.full(table.order_count, np.nan)
        order_amount[table.codes[firsts]] = amounts[firsts]
        order_level = bool((amounts[readable] == order_amount[table.codes[readable]]).all())
        once = firsts if order_level else readable
        total = float(np.abs(amounts[once]).sum())
        orders = table.order_count_of(nonzero)
        affected = table.per_order(nonzero)[table.codes] > 0
        share = f" ({total / gross:.1%} of the lines' value)" if gross > 0 else ""
        what = ("refunds" if kind == "refund" else "order discounts" if order_level
                else "line discounts")
        held = (f"Column {column!r} holds {_money(total)} of {what} on {orders:,} "
                f"order{'s' * (orders != 1)}")
        if kind == "refund" and table.refunds:
            message = (f"{held}, but order_refund is not mapped: the orders whose status is "
                       "in refund_values count as refunded in full, partly refunded ones too")
        else:
            message = (f"{held} that the mapping does not take off: net revenue will be up "
                       f"to {_money(total)}{share} too high")
        if kind == "refund":
            fix = (f"map \"order_refund\" to {column!r} (return lines are added for each "
                   "refunded order)")
        elif order_level:
            fix = (f"map \"order_discount\" to {column!r} (it is spread over the order's "
                   "lines by value)")
        else:  # a value per line: the line's own discount, not the order's
            fix = (f"map \"discount\" to {column!r} with \"discount_type\": \"amount\" (the "
                   "line's discount), or map the order's subtotal as \"order_subtotal\"")
        out.append(_warning("unmapped_order_amount", message, int(affected.sum()),
                            table.example_rows(nonzero), fix))
    return out


def _currencies(table: _Table) -> list[dict]:
    """A currency column with several currencies: the totals add them up as one."""
    out = []
    columns = list(table.fields.get("currency", ())) + table.unmapped(_CURRENCY_NAME)
    for column in columns:
        _, texts = table.values(column)
        if not 2 <= len(texts) <= MAX_DISTINCT_STATUSES:
            continue
        down = table.filled_down(column)
        per_value = np.bincount(down[down >= 0], minlength=len(texts))
        present = np.flatnonzero(per_value)
        if len(present) < 2:
            continue
        if pd.Series(texts[present], dtype=object).str.fullmatch(_CURRENCY_VALUE).mean() < 0.9:
            continue  # a rate or an amount, not currency codes
        main = int(np.argmax(per_value))
        other = (down >= 0) & (down != main)
        out.append(_warning(
            "several_currencies",
            f"Column {column!r} holds {len(present)} currencies, which the totals add up "
            f"as one: {_counts(table, down, texts, down >= 0, orders=False)}",
            int(other.sum()), table.example_rows(other & table.filled(column)),
            "load one currency per file (export each store or market separately), or "
            "convert the amounts to one currency first; with \"currency\" mapped to this "
            "column the load refuses a file that mixes them"))
    return out


def _line_totals(table: _Table) -> list[dict]:
    """A line total that does not match quantity × price: with line_total mapped and a
    price column in the file, or unit_price mapped and a total column in the file."""
    if "quantity" not in table.fields:
        return []
    quantity = table.numbers(table.fields["quantity"][0])
    out = []
    if "line_total" in table.fields:
        total_column = table.fields["line_total"][0]
        totals = table.numbers(total_column)
        prices = [column for column in table.unmapped(_PRICE_NAME)
                  if not _NOT_PRICE_NAME.search(str(column).casefold())]
        if prices:
            warning = _compare_total(table, total_column, prices[0], quantity, mapped="total")
            if warning:
                out.append(warning)
        if not out:
            repeated = _repeated_in_orders(table, totals)
            if repeated is not None:
                orders, lines = repeated
                out.append(_warning(
                    "line_total_mismatch",
                    f"Column {total_column!r} (line_total) has the same value on every line "
                    f"of {orders:,} multi-line orders: an order total on each line?",
                    int(lines.sum()), table.example_rows(lines),
                    "map a column holding each line's own value (or unit_price with the "
                    "price per unit)"))
    elif "unit_price" in table.fields:
        price_column = table.fields["unit_price"][0]
        for column in table.unmapped(_TOTAL_NAME):
            name = str(column).casefold()
            if _NOT_AMOUNT_NAME.search(name) or _DISCOUNT_NAME.search(name) \
                    or _REFUND_NAME.search(name) or table.filled(column).mean() < 0.9:
                continue  # an order's total (with shipping and taxes) is no line total
            warning = _compare_total(table, column, price_column, quantity, mapped="price")
            if warning:
                out.append(warning)
                break
    return out


def _close(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.abs(a - b) <= 0.011 + 0.005 * np.abs(b)


def _compare_total(table: _Table, total_column: str, price_column: str,
                   quantity: np.ndarray, *, mapped: str) -> dict | None:
    """Compare a total column with quantity × a price column; ``mapped`` says which of the
    two the mapping uses ("total": line_total, "price": unit_price)."""
    totals = table.numbers(total_column)
    prices = table.numbers(price_column)
    both = ~np.isnan(totals) & ~np.isnan(prices) & ~np.isnan(quantity)
    compared = int(both.sum())
    if compared < 3:
        return None
    value = quantity * prices
    matches = both & _close(totals, value)
    # where a line has 2 or more units, total = price means one of them is not what it says
    several = both & (np.abs(quantity) >= 2)
    price_is_total = several & _close(totals, prices)
    if several.any() and price_is_total.sum() >= 0.5 * several.sum() \
            and (several & matches).sum() < MATCH_SHARE * several.sum():
        on = (f"on {int(price_is_total.sum()):,} of {int(several.sum()):,} lines with 2 or "
              "more units")
        if mapped == "price":
            message = (f"Column {price_column!r} (unit_price) equals {total_column!r} {on}: "
                       f"{price_column!r} looks like the line's total, so revenue would be "
                       "counted quantity times")
            fix = f"map {total_column!r} (or {price_column!r}) as line_total, not unit_price"
        else:
            message = (f"Column {total_column!r} (line_total) equals {price_column!r} {on}: "
                       f"{total_column!r} looks like the price of one unit, so revenue would "
                       "be divided by the quantity")
            fix = f"map {total_column!r} (or {price_column!r}) as unit_price, not line_total"
        return _warning("line_total_mismatch", message, int(price_is_total.sum()),
                        table.example_rows(price_is_total), fix)
    if matches.sum() >= MATCH_SHARE * compared:
        return None
    order_value = np.bincount(table.codes[both], weights=value[both],
                              minlength=table.order_count)[table.codes]
    in_multi = both & table.multi_orders[table.codes]
    order_total = in_multi & _close(totals, order_value)
    is_order_total = bool(in_multi.any()) and order_total.sum() >= 0.5 * in_multi.sum()
    rate = f"{int(matches.sum()):,} of {compared:,} lines"
    mismatched = both & ~matches
    if mapped == "total":
        reason = (f"; it equals the sum of the order's lines on {int(order_total.sum()):,} "
                  "lines of multi-line orders: an order total on each line?"
                  if is_order_total else "")
        return _warning(
            "line_total_mismatch",
            f"Column {total_column!r} (line_total) equals quantity × {price_column!r} on only "
            f"{rate}{reason}", int(mismatched.sum()), table.example_rows(mismatched),
            f"map {price_column!r} as unit_price instead, or a column holding each line's "
            "own value as line_total")
    if is_order_total:
        return None  # an order total in the file, beside a unit price: nothing wrong
    return _warning(
        "line_total_mismatch",
        f"Column {total_column!r} equals quantity × {price_column!r} (unit_price) on only "
        f"{rate}: either {price_column!r} is not the price of one unit, or "
        f"{total_column!r} is not the line's value",
        int(mismatched.sum()), table.example_rows(mismatched),
        f"check which column holds the price per unit; map {total_column!r} as line_total "
        "if it is the line's value")


def _repeated_in_orders(table: _Table, totals: np.ndarray
                        ) -> tuple[int, np.ndarray] | None:
    """(orders, lines) when the line total is the same on every line of most multi-line
    orders."""
    readable = ~np.isnan(totals)
    lines = table.multi_orders[table.codes] & readable
    if not lines.any():
        return None
    counts = table.per_order(lines)
    sums = np.bincount(table.codes[lines], weights=totals[lines], minlength=table.order_count)
    mean = np.divide(sums, counts, out=np.zeros_like(sums), where=counts > 0)
    off = table.per_order(lines & ~_close(totals, mean[table.codes]))
    candidates = counts >= 2
    same = candidates & (off == 0)
    orders = int(same.sum())
    if orders < 2 or orders < PATTERN_SHARE * int(candidates.sum()):
        return None
    repeated = same[table.codes] & lines
    if repeated.sum() < MIN_LINE_SHARE * table.n:
        return None
    return orders, repeated


def _blank_product_ids(table: _Table) -> list[dict]:
    """Lines without a product id (rejected by the reader), with the column that could
    stand in for it."""
    filled = table.field_filled("product_id")
    if filled is None or filled.all():
        return []
    blank = ~filled
    count = int(blank.sum())
    columns = ", ".join(repr(column) for column in table.fields["product_id"])
    best, best_share = None, 0.0
    for column in table.raw.columns:
        name = str(column).casefold()
        if column in table.fields["product_id"] or not _PRODUCT_NAME.search(name) \
                or _NOT_PRODUCT_NAME.search(name):
            continue
        if any(column in names for field, names in table.fields.items()
               if field != "description"):
            continue
        there = table.filled(column)
        share = float(there[blank].mean())
        if share >= 0.95 and there.mean() >= 0.95 and share > best_share:
            best, best_share = column, share
    if best is None:
        fix = "fill the product ids in the export; these lines are rejected"
        found = ""
    else:
        covered = int((blank & table.filled(best)).sum())
        found = (f"; {best!r} is filled on {'all' if covered == count else f'{covered:,}'}"
                 " of them")
        fix = (f"add \"fallbacks\": {{\"product_id\": \"{best}\"}} to the mapping ({best!r} "
               f"is then used where {columns} is blank), or fill the ids in the export")
    return [_warning(
        "blank_product_ids",
        f"Product id ({columns}) is blank on {count:,} line{'s' * (count != 1)}, which are "
        f"rejected{found}", count, table.example_rows(blank), fix)]


def _blank_countries(table: _Table) -> list[dict]:
    """Orders without a country in the mapped column (on any of their lines, so a fill-down
    would not help: "Unspecified") while another country column has one, e.g. Shipping
    Country where Billing Country is empty for orders without a billing address."""
    filled = table.field_filled("country")
    if filled is None or filled.all() or not hasattr(table, "codes"):
        return []
    blank = (table.per_order(filled) == 0)[table.codes]  # the whole order has none
    count = int(blank.sum())
    if count < max(1, table.n // 100):
        return []
    best, best_cover = None, 0
    for column in table.unmapped(re.compile(r"country|land|pays|pa[ií]s")):
        cover = int((blank & table.filled(column)).sum())
        if cover > best_cover:
            best, best_cover = column, cover
    if best is None or best_cover < 0.95 * count:
        return []
    columns = ", ".join(repr(column) for column in table.fields["country"])
    orders = table.order_count_of(blank)
    return [_warning(
        "blank_countries",
        f"Country ({columns}) is empty on every line of {orders:,} order"
        f"{'s' * (orders != 1)} ({count:,} lines, {count / table.n:.0%} of the file): they "
        f"count as \"Unspecified\"; {best!r} is filled on "
        f"{'all' if best_cover == count else f'{best_cover:,}'} of them",
        count, table.example_rows(blank),
        f"add \"fallbacks\": {{\"country\": \"{best}\"}} to the mapping ({best!r} is then "
        f"used where {columns} is empty)")]


def _unmapped_fields(table: _Table) -> list[dict]:
    """Country or customer not mapped while the file has a column for it."""
    out = []
    for field, pattern, without in (
            ("country", _COUNTRY_NAME, "every line has country \"Unspecified\""),
            ("customer_id", _CUSTOMER_NAME, "customers, repeat rate, RFM, cohorts and LTV "
                                            "stay empty")):
        if field in table.fields:
            continue
        candidates = [column for column in table.unmapped(pattern)
                      if table.filled(column).any()
                      and not re.search(r"marketing|note|accepts|code", str(column).casefold())]
        if not candidates:
            continue
        names = ", ".join(repr(column) for column in candidates[:5])
        fix = (f"map \"{field}\" to {'one of ' * (len(candidates) > 1)}{names} (and add it to "
               "\"order_level\" if it is filled on each order's first line only)")
        if field == "customer_id" and any("mail" in str(column).casefold()
                                          for column in candidates):
            fix += "; an e-mail address is stored as a one-way hash with \"hashed\": " \
                   "[\"customer_id\"]"
        out.append(_warning(
            "unmapped_field",
            f"No column is mapped to {field}, so {without}; the file has {names}",
            table.n, [], fix))
    return out
