"""Order-level columns of an export, turned into line items that follow METRICS.md.

Platform exports (Shopify, WooCommerce, most shop systems) give some values per *order*,
not per line: a discount on the whole order, the order's subtotal, the amount refunded, the
shipping and the taxes. Loaded line by line they give wrong numbers: an order discount never
reaches revenue, a refunded order stays a sale. This module applies them, on the line-item
frame the reader built (``lines``, one row per kept line, with an order key):

* **Discount.** The order's sale lines are scaled so that their value is the order's
  subtotal (``order_subtotal``: items after discounts), or the lines' value less the order
  discount (``order_discount``) when no subtotal is given. Scaling every line by the same
  factor spreads the discount over the lines in proportion to their value. The money
  taken off each line is kept in its ``discount`` column (the line's own mapped discount
  plus its share of the order's), for the promotion numbers (docs/promotions.md).
* **Refunds.** An order with a refunded amount (``order_refund``), or whose status is one of
  ``refund_values`` (refunded in full when no amount is given), keeps its sale lines and gets
  one *return line* per sale line: the same product and price, quantity −q × share where
  share = refunded ÷ the order's net item value (1 for a full refund). The part of a refund
  above the items' value (shipping or tax refunded) is not a return: it is recorded. A
  refund above the order's total (``order_total``, else items + shipping + taxes) is an
  error in the export and refuses the load. A return line is dated on the refund
  (``refund_date``) when the export gives one, else on the order.
* **Shipping and taxes** stay out of revenue (METRICS.md: line value only) and are summed
  per order for the quality report, so that the totals can be compared with the shop's.

Every step is vectorised over orders (groupby), never a Python loop over lines.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from data.tables import ReadError

#: The mapping's order-level amount fields (data.readers MAPPABLE_FIELDS).
FIELDS = ("order_discount", "order_subtotal", "order_refund", "order_shipping", "order_tax",
          "order_total")
#: Cents: amounts closer than this are equal (exports round to the cent).
TOLERANCE = 0.005
EXAMPLES = 3


@dataclass
class OrderAmounts:
    """Per line of ``lines``: the order's values of the order-level fields (NaN/NaT where the
    export has none), and whether the order's status says it was refunded."""
    discount: pd.Series | None = None
    subtotal: pd.Series | None = None
    refund: pd.Series | None = None
    refund_ts: pd.Series | None = None
    shipping: pd.Series | None = None
    tax: pd.Series | None = None
    total: pd.Series | None = None
    refunded_status: pd.Series | None = None
    columns: dict[str, str] | None = None  # field → the file's column, for messages

    def any(self) -> bool:
        return any(value is not None for value in (
            self.discount, self.subtotal, self.refund, self.shipping, self.tax, self.total,
            self.refunded_status))


def order_value(key: pd.Series, values: pd.Series, column: str) -> pd.Series:
    """Each line's order value of an order-level column: the first non-empty value among
    the order's lines (an export may write it on the first line only). An order whose lines
    hold two different values is an error: the column is then not order-level."""
    present = values.notna()
    if not present.any():
        return values
    distinct = values[present].groupby(key[present]).nunique()
    mixed = distinct[distinct > 1]
    if len(mixed):
        examples = ", ".join(str(order) for order in mixed.index[:EXAMPLES])
        raise ReadError(
            f"Column {column!r} has different values on the lines of {len(mixed):,} orders "
            f"(e.g. {examples}): an order-level amount must have one value per order. If it "
            "is a per-line value, map it to a line field (discount, line_total) instead")
    return values.groupby(key).transform("first")


def apply(lines: pd.DataFrame, rows: np.ndarray, key: pd.Series, amounts: OrderAmounts
          ) -> tuple[pd.DataFrame, np.ndarray, dict]:
    """Apply the order-level amounts to ``lines`` (aligned with ``key`` and ``amounts``);
    return the new lines (return lines appended), their file rows and a summary for the
    quality report. Raises ReadError for refunds above an order's value or a missing
    refund date."""
    if not amounts.any():
        return lines, rows, {}
    columns = amounts.columns or {}
    key = key.reset_index(drop=True)
    lines = lines.reset_index(drop=True)
    summary: dict = {}
    quantity, price = lines["quantity"], lines["unit_price"]
    sale = (quantity > 0) & ~lines["is_cancellation"].astype(bool) & (price > 0)
    value = (quantity * price).where(sale, 0.0)
    items = value.groupby(key).transform("sum")  # the order's sale value, on each line
    first = ~key.duplicated()  # one line per order, for per-order sums

    def amount(series: pd.Series | None) -> pd.Series:
        return (pd.Series(np.nan, index=lines.index) if series is None
                else series.reset_index(drop=True))

    subtotal, discount = amount(amounts.subtotal), amount(amounts.discount)
    target = subtotal.where(subtotal.notna(), items - discount.abs())
    has_target = target.notna() & (items > 0)
    below_zero = has_target & (target < -TOLERANCE)
    if below_zero.any():
        summary["orders_discounted_below_zero"] = int((below_zero & first).sum())
    target = target.clip(lower=0.0)
    factor = (target / items).where(has_target, 1.0)
    if has_target.any():
        adjusted = has_target & first & ((items - target).abs() > TOLERANCE)
        summary["orders_discounted"] = int(adjusted.sum())
        summary["discounts_spread"] = round(float((items - target)[has_target & first]
                                                  .sum()), 2)
        if amounts.subtotal is not None and amounts.discount is not None:
            # lines − discount ≠ subtotal: e.g. a shipping discount inside "Discount Amount"
            differs = (first & subtotal.notna() & discount.notna()
                       & ((items - discount.abs() - subtotal).abs() > TOLERANCE))
            if differs.any():
                summary["orders_where_discount_is_not_lines_minus_subtotal"] = int(
                    differs.sum())
    lines = lines.assign(unit_price=price.where(~sale, price * factor))
    if amounts.discount is not None or amounts.subtotal is not None:
        lines = lines.assign(discount=_carried_discount(lines, value, factor, has_target))
    net = items * factor  # the order's net item value

    refund = amount(amounts.refund).abs()
    full = (pd.Series(False, index=lines.index) if amounts.refunded_status is None
            else amounts.refunded_status.reset_index(drop=True).fillna(False).astype(bool))
    refund = refund.where(~(full & (refund.fillna(0.0) <= TOLERANCE)), net)
    refund = refund.fillna(0.0)
    refunded = refund > TOLERANCE
    if not refunded.any():
        _record_totals(summary, amounts, first, amount)
        return lines, rows, summary

    total = amount(amounts.total)
    bound = total.where(total.notna(),
                        net + amount(amounts.shipping).fillna(0.0)
                        + amount(amounts.tax).fillna(0.0))
    over = refunded & (refund > bound + TOLERANCE) & first
    if over.any():
        examples = "; ".join(f"{key[i]}: refunded {refund[i]:,.2f} of {bound[i]:,.2f}"
                             for i in over[over].index[:EXAMPLES])
        raise ReadError(
            f"Refunds exceed the order's value on {int(over.sum()):,} orders ({examples}) in "
            f"column {columns.get('order_refund', 'refund')!r}"
            + (f" (order value from {columns['order_total']!r})" if "order_total" in columns
               else " (order value = items + shipping + taxes)")
            + ": the export is inconsistent; nothing was loaded")

    refund_ts = lines["invoice_ts"]
    if amounts.refund_ts is not None:
        dates = amounts.refund_ts.reset_index(drop=True)
        undated = refunded & dates.isna() & first
        if undated.any():
            examples = ", ".join(str(key[i]) for i in undated[undated].index[:EXAMPLES])
            raise ReadError(
                f"{int(undated.sum()):,} refunded orders have no refund date in column "
                f"{columns.get('refund_date', 'refund_date')!r} (e.g. {examples}): fill it, "
                "or leave refund_date out of the mapping to date refunds on the order")
        refund_ts = dates.where(dates.notna(), refund_ts)
    returned = refund.clip(upper=net)
    share = (returned / net).where(net > 0, 0.0)
    make = sale & refunded & (share > 0)
    returns = lines.loc[make].assign(quantity=-quantity[make] * share[make],
                                     invoice_ts=refund_ts[make].astype(
                                         lines["invoice_ts"].dtype))
    if "discount" in returns.columns:  # the discount was given on the sale, not the refund
        returns = returns.assign(discount=returns["discount"].where(
            returns["discount"].isna(), 0.0))
    full_orders = refunded & first & ((returned - net).abs() <= TOLERANCE)
    summary["refunds"] = {
        "orders": int((refunded & first).sum()),
        "in_full": int(full_orders.sum()),
        "returned_value": round(float(returned[refunded & first].sum()), 2),
        "not_items": round(float((refund - returned)[refunded & first].sum()), 2),
        "return_lines": int(make.sum()),
        "dated_on": ("the refund date" if amounts.refund_ts is not None
                     else "the order date (the export gives no refund date)"),
    }
    _record_totals(summary, amounts, first, amount)
    out = pd.concat([lines, returns], ignore_index=True)
    return out, np.concatenate([rows, rows[make.to_numpy()]]), summary


def _carried_discount(lines: pd.DataFrame, value: pd.Series, factor: pd.Series,
                      has_target: pd.Series) -> pd.Series:
    """Each line's discount once the order's is spread: its own (a mapped line discount,
    NaN when none was mapped) plus the share of the order discount its scaling took off
    (value × (1 − factor), never below 0: a subtotal above the lines is no discount).
    Lines of orders without a subtotal or discount keep their own (NaN: unknown)."""
    own = (lines["discount"] if "discount" in lines.columns
           else pd.Series(np.nan, index=lines.index))
    spread = (value * (1.0 - factor)).clip(lower=0.0)
    return (own.fillna(0.0) + spread).where(has_target, own)


def _record_totals(summary: dict, amounts: OrderAmounts, first: pd.Series, amount) -> None:
    for name, series in (("shipping", amounts.shipping), ("taxes", amounts.tax)):
        if series is not None:
            summary[name] = round(float(amount(series)[first].fillna(0.0).sum()), 2)
    if all(series is not None for series in (amounts.subtotal, amounts.tax, amounts.total)):
        # Total = Subtotal + Shipping (taxes not added): the prices include the taxes, and
        # so does revenue, as the shop's order totals do
        tax = amount(amounts.tax).fillna(0.0)
        shipping = amount(amounts.shipping).fillna(0.0)
        included = first & (tax > TOLERANCE) & (
            (amount(amounts.subtotal) + shipping - amount(amounts.total)).abs() <= TOLERANCE)
        if included.any():
            summary["taxes_in_prices"] = {
                "orders": int(included.sum()),
                "taxes": round(float(tax[included].sum()), 2),
                "note": "these orders' prices include their taxes (Total = Subtotal + "
                        "Shipping): revenue includes them, as the order totals do"}
