"""Warnings on hand-made text tables (data.diagnostics): each count and row is worked out in
the test from the table above it; every warning has its negative case."""
import io
import time
from pathlib import Path

import numpy as np
import pandas as pd

from data.diagnostics import diagnose


def table(text: str) -> pd.DataFrame:
    """A CSV text as the readers give it: every cell text, "" for empty."""
    return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)


def codes(warnings):
    return [warning["code"] for warning in warnings]


def only(warnings, code):
    found = [warning for warning in warnings if warning["code"] == code]
    assert len(found) == 1, codes(warnings)
    return found[0]


# A miniature Shopify orders_export.csv: the order's columns (Financial Status, Paid at,
# Currency, Subtotal, Shipping, Taxes, Total, Discount Amount, Billing Country, Refunded
# Amount) are filled on the order's first line only, as Shopify writes them; Name, Email,
# Created at and the Lineitem columns on every line. File rows: header 1, #1001 rows 2–3,
# #1002 rows 4–6, #1003 row 7, #1004 rows 8–9, #1005 rows 10–11.
SHOPIFY = table(
    "Name,Email,Financial Status,Paid at,Currency,Subtotal,Shipping,Taxes,Total,"
    "Discount Amount,Created at,Lineitem quantity,Lineitem name,Lineitem price,Lineitem sku,"
    "Billing Country,Refunded Amount\n"
    "#1001,ann@example.com,paid,2024-03-01 10:05:00 +0100,EUR,45.00,5.00,0.00,50.00,5.00,"
    "2024-03-01 10:00:00 +0100,2,T-shirt,10.00,TS-1,Germany,0.00\n"
    "#1001,ann@example.com,,,,,,,,,2024-03-01 10:00:00 +0100,1,Hoodie,30.00,HD-1,,\n"
    "#1002,bob@example.com,refunded,2024-03-02 11:05:00 +0100,EUR,37.00,0.00,0.00,37.00,0.00,"
    "2024-03-02 11:00:00 +0100,1,Mug,12.00,,France,37.00\n"
    "#1002,bob@example.com,,,,,,,,,2024-03-02 11:00:00 +0100,1,T-shirt,10.00,TS-1,,\n"
    "#1002,bob@example.com,,,,,,,,,2024-03-02 11:00:00 +0100,1,Sticker,15.00,ST-1,,\n"
    "#1003,cy@example.com,paid,2024-03-03 12:05:00 -0500,USD,90.00,10.00,0.00,100.00,0.00,"
    "2024-03-03 12:00:00 -0500,3,Hoodie,30.00,HD-1,United States,0.00\n"
    "#1004,ann@example.com,partially_refunded,2024-03-04 09:05:00 +0100,EUR,26.00,0.00,0.00,"
    "26.00,0.00,2024-03-04 09:00:00 +0100,1,T-shirt,10.00,TS-1,Germany,10.00\n"
    "#1004,ann@example.com,,,,,,,,,2024-03-04 09:00:00 +0100,2,Poster,8.00,,,\n"
    "#1005,dee@example.com,voided,,EUR,40.00,0.00,0.00,40.00,0.00,2024-03-05 08:00:00 +0100,"
    "1,Hoodie,30.00,HD-1,Germany,0.00\n"
    "#1005,dee@example.com,,,,,,,,,2024-03-05 08:00:00 +0100,1,T-shirt,10.00,TS-1,,\n")
NAIVE = {"invoice_id": "Name", "product_id": "Lineitem sku", "quantity": "Lineitem quantity",
         "unit_price": "Lineitem price", "invoice_ts": "Created at",
         "country": "Billing Country"}


def test_a_shopify_export_mapped_naively_says_what_is_wrong():
    warnings = diagnose(SHOPIFY, NAIVE)
    assert codes(warnings) == ["order_level_column", "refund_status", "cancelled_status",
                               "unmapped_order_amount", "unmapped_order_amount",
                               "several_currencies", "blank_product_ids", "unmapped_field"]
    country = only(warnings, "order_level_column")
    # blank on the orders' other lines: 1 + 2 + 1 + 1 lines of the 4 multi-line orders
    assert (country["lines"], country["rows"]) == (5, [3, 5, 6, 9, 11])
    assert "'Billing Country' (country)" in country["message"]
    # their value: 30 + 10 + 15 + 16 + 10 = 81 of the lines' 243 would have no country
    assert "5 lines of 4 orders, 33.3% of the lines' value" in country["message"]
    assert '"order_level": ["country"]' in country["fix"]

    refunds = only(warnings, "refund_status")
    # #1002 (3 lines) refunded, #1004 (2 lines) partially refunded; the value is on row 4, 8
    assert (refunds["lines"], refunds["rows"]) == (5, [4, 8])
    assert "2 orders (5 lines)" in refunds["message"]
    assert "'refunded' 1 order, 3 lines; 'partially_refunded' 1 order, 2 lines" \
        in refunds["message"]
    assert '"refunded", "partially_refunded" in "refund_values"' in refunds["fix"]
    assert "map \"status\" to 'Financial Status'" in refunds["fix"]

    voided = only(warnings, "cancelled_status")
    assert (voided["lines"], voided["rows"]) == (2, [10])
    assert "'voided' 1 order, 2 lines" in voided["message"]
    assert '"voided" in "cancellation_values"' in voided["fix"]

    discount, refunded = [w for w in warnings if w["code"] == "unmapped_order_amount"]
    # lines' value: 50 + 37 + 90 + 26 + 40 = 243; the discount 5.00 is 2.1 % of it
    assert "'Discount Amount' holds 5.00 of order discounts on 1 order" in discount["message"]
    assert "up to 5.00 (2.1% of the lines' value) too high" in discount["message"]
    assert (discount["lines"], discount["rows"]) == (2, [2])
    assert "\"order_discount\" to 'Discount Amount'" in discount["fix"]
    # 37.00 + 10.00 refunded on #1002 and #1004 (5 lines): 47 / 243 = 19.3 %
    assert "'Refunded Amount' holds 47.00 of refunds on 2 orders" in refunded["message"]
    assert "(19.3% of the lines' value)" in refunded["message"]
    assert (refunded["lines"], refunded["rows"]) == (5, [4, 8])

    currencies = only(warnings, "several_currencies")
    # Currency filled down: EUR on 9 lines, USD on #1003's single line (row 7)
    assert "'EUR' 9 lines; 'USD' 1 line" in currencies["message"]
    assert (currencies["lines"], currencies["rows"]) == (1, [7])

    products = only(warnings, "blank_product_ids")
    assert (products["lines"], products["rows"]) == (2, [4, 9])
    assert "'Lineitem name' is filled on all of them" in products["message"]
    assert '"fallbacks": {"product_id": "Lineitem name"}' in products["fix"]

    customer = only(warnings, "unmapped_field")
    assert "customer_id" in customer["message"] and "'Email'" in customer["message"]
    assert '"hashed": ["customer_id"]' in customer["fix"]
    for warning in warnings:
        assert set(warning) == {"code", "message", "lines", "rows", "fix"}


def test_the_shopify_export_mapped_with_the_options_warns_only_of_the_two_currencies():
    columns = {**NAIVE, "customer_id": "Email", "status": "Financial Status",
               "order_discount": "Discount Amount", "order_refund": "Refunded Amount",
               "order_subtotal": "Subtotal", "order_shipping": "Shipping",
               "order_tax": "Taxes", "order_total": "Total", "currency": "Currency"}
    warnings = diagnose(SHOPIFY, columns, order_level=frozenset({"country"}),
                        refund_values=("refunded", "partially_refunded"),
                        cancellation_values=("voided",),
                        fallbacks={"product_id": "Lineitem name"})
    assert codes(warnings) == ["several_currencies"]
    # as data.formats reads Shopify: unpaid statuses excluded rather than cancelled
    shopify_format = diagnose(
        SHOPIFY, {**columns, "description": "Lineitem name"},
        order_level=frozenset({"invoice_ts", "customer_id", "country", "status", "currency"}),
        refund_values=("refunded", "partially_refunded"),
        exclude={"Financial Status": ["voided", "pending", "expired"]},
        fallbacks={"product_id": "Lineitem name"})
    assert codes(shopify_format) == ["several_currencies"]
    one_currency = SHOPIFY.assign(Currency=SHOPIFY["Currency"].replace("USD", "EUR"))
    assert diagnose(one_currency, columns, order_level=frozenset({"country"}),
                    refund_values=("Refunded", "PARTIALLY_REFUNDED"),
                    cancellation_values=("voided",),
                    fallbacks={"product_id": "Lineitem name"}) == []


def test_rows_come_from_source_rows():
    rows = np.arange(2, len(SHOPIFY) + 2) * 10  # e.g. lines left out before
    country = only(diagnose(SHOPIFY, NAIVE, source_rows=rows), "order_level_column")
    assert country["rows"] == [30, 50, 60, 90, 110]


# ------------------------------------------------------------------ order-level columns
ORDERS = table(
    "order,sku,qty,price,country,channel\n"
    "A,P1,1,10,Germany,web\n"
    "A,P2,1,10,,web\n"
    "B,P1,2,10,France,shop\n"
    "B,P3,1,5,,shop\n"
    "B,P4,1,5,,shop\n"
    "C,P1,1,10,Spain,web\n")
ORDER_COLUMNS = {"invoice_id": "order", "product_id": "sku", "quantity": "qty",
                 "unit_price": "price", "country": "country", "channel": "channel"}


def test_a_column_filled_on_each_orders_first_line_only():
    warning = only(diagnose(ORDERS, ORDER_COLUMNS), "order_level_column")
    # A has 1 blank line (row 3), B has 2 (rows 5, 6); C has one line: not counted
    assert (warning["lines"], warning["rows"]) == (3, [3, 5, 6])
    assert "'country' (country)" in warning["message"]
    assert "3 lines of 2 orders" in warning["message"]


def test_no_order_level_warning_once_declared_or_when_filled_on_every_line():
    assert diagnose(ORDERS, ORDER_COLUMNS, order_level=frozenset({"country"})) == []
    # declared by the file's column name works too
    billing = ORDERS.rename(columns={"country": "Billing Country"})
    assert diagnose(billing, {**ORDER_COLUMNS, "country": "Billing Country"},
                    order_level=frozenset({"Billing Country"})) == []
    filled = ORDERS.assign(country=["Germany", "Germany", "France", "France", "France",
                                    "Spain"])
    assert diagnose(filled, ORDER_COLUMNS) == []


def test_no_order_level_warning_for_a_pattern_of_one_order_or_of_too_few_orders():
    # only A shows the pattern: one order proves nothing
    one = ORDERS.assign(country=["Germany", "", "France", "France", "France", "Spain"])
    assert diagnose(one, ORDER_COLUMNS) == []
    # 2 orders of 3 with a value show it, 1 has it on every line: under 90 %
    mixed = pd.concat([ORDERS, table("order,sku,qty,price,country,channel\n"
                                     "D,P1,1,10,Italy,web\nD,P2,1,10,Italy,web\n")],
                      ignore_index=True)
    assert diagnose(mixed, ORDER_COLUMNS) == []


def test_a_line_field_filled_per_order_is_the_wrong_column_not_a_fill_down():
    totals = table("order,sku,qty,total,date\n"
                   "A,P1,1,30,2024-01-01\nA,P2,2,,2024-01-01\n"
                   "B,P1,1,12,2024-01-02\nB,P2,1,,2024-01-02\n")
    warning = only(diagnose(totals, {"invoice_id": "order", "product_id": "sku",
                                     "quantity": "qty", "line_total": "total",
                                     "invoice_ts": "date"}), "order_level_column")
    assert (warning["lines"], warning["rows"]) == (2, [3, 5])
    assert "a value of the whole order" in warning["message"]
    assert "order_level" not in warning["fix"] and "order_total" in warning["fix"]


def test_a_composite_order_key_makes_the_orders():
    # order 7 exists in two markets: two orders, each with the country on its first line
    raw = table("id,market,sku,qty,price,country\n"
                "7,DE,P1,1,10,Germany\n7,DE,P2,1,10,\n"
                "7,FR,P1,1,10,France\n7,FR,P2,1,10,\n")
    columns = {"invoice_id": ["id", "market"], "product_id": "sku", "quantity": "qty",
               "unit_price": "price", "country": "country"}
    warning = only(diagnose(raw, columns), "order_level_column")
    assert (warning["lines"], warning["rows"]) == (2, [3, 5])
    # read as one order "7", the country is on two of its four lines: no pattern
    assert diagnose(raw, {**columns, "invoice_id": "id"}) == []


# ------------------------------------------------------------------------ statuses
STATUSES = table(
    "order,sku,qty,price,status\n"
    "A,P1,1,10,paid\n"
    "B,P1,1,10,Refunded\n"
    "B,P2,1,10,\n"
    "C,P1,1,10,cancelled\n"
    "D,P1,1,10,partially refunded\n")
STATUS_COLUMNS = {"invoice_id": "order", "product_id": "sku", "quantity": "qty",
                  "unit_price": "price"}


def test_refund_values_counted_as_sales_on_an_unmapped_status_column():
    warnings = diagnose(STATUSES, STATUS_COLUMNS)
    refunds = only(warnings, "refund_status")
    # B's status is on its first line only: both its lines are refunded; D one line
    assert (refunds["lines"], refunds["rows"]) == (3, [3, 6])
    assert "'Refunded' 1 order, 2 lines; 'partially refunded' 1 order, 1 line" \
        in refunds["message"]
    cancelled = only(warnings, "cancelled_status")
    assert (cancelled["lines"], cancelled["rows"]) == (1, [5])


def test_statuses_the_mapping_declares_give_no_warning():
    columns = {**STATUS_COLUMNS, "status": "status"}
    assert diagnose(STATUSES, columns, refund_values=("refunded", "Partially Refunded"),
                    cancellation_values=("Cancelled",)) == []
    # only "refunded" declared: the partial refund is still reported
    warnings = diagnose(STATUSES, columns, refund_values=("refunded",),
                        cancellation_values=("cancelled",))
    assert codes(warnings) == ["refund_status"]
    assert warnings[0]["lines"] == 1 and "'partially refunded'" in warnings[0]["message"]
    assert "map \"status\"" not in warnings[0]["fix"]
    # a flag column (is_cancellation) takes "cancelled" as a flag without values
    flagged = diagnose(STATUSES, {**STATUS_COLUMNS, "is_cancellation": "status"},
                       refund_values=("refunded", "partially refunded"))
    assert flagged == []


def test_a_cancelled_at_column_on_orders_counted_as_sales():
    raw = table("order,sku,qty,price,Financial Status,Cancelled at\n"
                "A,P1,1,10,paid,\nB,P1,1,10,voided,2024-01-02\nB,P2,1,10,,\n"
                "C,P1,1,10,paid,\n")
    warning = only(diagnose(raw, STATUS_COLUMNS), "cancelled_orders")
    assert (warning["lines"], warning["rows"]) == (2, [3])
    handled = diagnose(raw, {**STATUS_COLUMNS, "status": "Financial Status"},
                       cancellation_values=("voided",))
    assert handled == []
    # left out by "exclude", the voided order is neither a cancelled status nor a sale
    assert diagnose(raw, STATUS_COLUMNS, exclude={"Financial Status": ["Voided"]}) == []


def test_a_mapping_naming_a_column_the_file_lacks_is_left_to_the_reader():
    assert diagnose(STATUSES, {**STATUS_COLUMNS, "country": "Land"}) == diagnose(
        STATUSES, STATUS_COLUMNS)
    assert diagnose(STATUSES, {**STATUS_COLUMNS, "invoice_id": "Bestellung"}) == []


# ---------------------------------------------------------------------- product ids
def test_blank_product_ids_name_the_column_that_could_stand_in():
    raw = table("order,sku,title,qty,price,vendor\n"
                "A,P1,Mug,1,10,Acme\nA,,Poster,1,5,Acme\nB,,Card,2,3,\nC,P2,Pen,1,1,Acme\n")
    columns = {"invoice_id": "order", "product_id": "sku", "quantity": "qty",
               "unit_price": "price"}
    warning = only(diagnose(raw, columns), "blank_product_ids")
    assert (warning["lines"], warning["rows"]) == (2, [3, 4])
    assert "'title' is filled on all of them" in warning["message"]
    assert diagnose(raw, columns, fallbacks={"product_id": "title"}) == []
    untitled = raw.drop(columns="title")
    warning = only(diagnose(untitled, columns), "blank_product_ids")
    assert "fallbacks" not in warning["fix"] and warning["lines"] == 2
    assert diagnose(raw.assign(sku=["P1", "P3", "P4", "P2"]), columns) == []


# ----------------------------------------------------------------------- currencies
def test_several_currencies_with_their_lines_and_one_currency_gives_none():
    raw = table("order,sku,qty,price,currency,currency rate\n"
                "A,P1,1,10,EUR,1.0\nA,P2,1,10,,\nB,P1,1,10,GBP,0.85\nC,P1,1,10,EUR,1.0\n")
    columns = {"invoice_id": "order", "product_id": "sku", "quantity": "qty",
               "unit_price": "price"}
    warning = only(diagnose(raw, columns), "several_currencies")
    assert "'currency' holds 2 currencies" in warning["message"]
    assert "'EUR' 3 lines; 'GBP' 1 line" in warning["message"]
    assert (warning["lines"], warning["rows"]) == (1, [4])
    # the rate column has several values but no currency codes: no warning of its own
    assert diagnose(raw.assign(currency="EUR"), columns) == []


# ---------------------------------------------------------------------- line totals
def test_a_line_total_that_is_the_orders_total():
    raw = table("order,sku,qty,price,total\n"
                "A,P1,2,10,35\nA,P2,1,15,35\n"
                "B,P1,1,10,14\nB,P3,1,4,14\n"
                "C,P1,3,10,30\n")
    columns = {"invoice_id": "order", "product_id": "sku", "quantity": "qty",
               "line_total": "total"}
    warning = only(diagnose(raw, columns), "line_total_mismatch")
    # only C's line (3 × 10 = 30) matches: 1 of 5 lines is 20 %, above the 5 % rule...
    assert "equals quantity × 'price' on only" not in warning["message"]
    # ...so the warning is that the total repeats on every line of A and B
    assert "same value on every line of 2 multi-line orders" in warning["message"]
    assert (warning["lines"], warning["rows"]) == (4, [2, 3, 4, 5])
    without_c = raw.iloc[:4]
    warning = only(diagnose(without_c, columns), "line_total_mismatch")
    assert "equals quantity × 'price' on only 0 of 4 lines" in warning["message"]
    assert "the sum of the order's lines on 4 lines" in warning["message"]
    assert "map 'price' as unit_price" in warning["fix"]
    right = raw.assign(total=["20", "15", "10", "4", "30"])
    assert diagnose(right, columns) == []


def test_a_unit_price_that_is_the_lines_total():
    raw = table("order,sku,qty,price,amount\n"
                "A,P1,2,20,20\nA,P2,3,15,15\nB,P1,1,10,10\nC,P1,4,8,8\n")
    columns = {"invoice_id": "order", "product_id": "sku", "quantity": "qty",
               "unit_price": "price"}
    warning = only(diagnose(raw, columns), "line_total_mismatch")
    # 'price' equals 'amount' on the 3 lines with 2 or more units (rows 2, 3, 5)
    assert (warning["lines"], warning["rows"]) == (3, [2, 3, 5])
    assert "on 3 of 3 lines with 2 or more units" in warning["message"]
    assert "looks like the line's total" in warning["message"]
    assert "as line_total, not unit_price" in warning["fix"]
    # the other way round: line_total mapped to a column holding the unit price
    swapped = table("order,sku,qty,unit price,value\n"
                    "A,P1,2,20,20\nA,P2,3,15,15\nB,P1,1,10,10\n")
    swapped = only(diagnose(swapped, {"invoice_id": "order", "product_id": "sku",
                                      "quantity": "qty", "line_total": "value"}),
                   "line_total_mismatch")
    assert (swapped["lines"], swapped["rows"]) == (2, [2, 3])
    assert "looks like the price of one unit" in swapped["message"]
    consistent = raw.assign(amount=["40", "45", "10", "32"])
    assert diagnose(consistent, columns) == []


# -------------------------------------------------------------- order amounts, fields
def test_a_line_discount_column_not_mapped_counts_each_line():
    raw = table("order,sku,qty,price,discount,discount code\n"
                "A,P1,1,10,1.50,SPRING\nA,P2,1,10,2.00,SPRING\nB,P1,2,10,0,\n")
    columns = {"invoice_id": "order", "product_id": "sku", "quantity": "qty",
               "unit_price": "price"}
    warning = only(diagnose(raw, columns), "unmapped_order_amount")
    # a line amount: 1.50 + 2.00 = 3.50 of 40.00 (8.8 %) on A's two lines; as it differs
    # between an order's lines it is the line's discount, not the order's (mapped as
    # order_discount the load would stop: two values in one order)
    assert "holds 3.50 of line discounts on 1 order" in warning["message"]
    assert warning["fix"].startswith('map "discount" to \'discount\' with "discount_type": '
                                     '"amount"')
    assert "(8.8% of the lines' value)" in warning["message"]
    assert (warning["lines"], warning["rows"]) == (2, [2, 3])
    assert diagnose(raw.assign(discount="0"), columns) == []
    assert diagnose(raw, {**columns, "order_discount": "discount"}) == []


def test_refund_values_without_the_refund_amount_refund_in_full():
    raw = table("order,sku,qty,price,status,refunded amount\n"
                "A,P1,1,10,paid,0\nB,P1,2,10,partially_refunded,5\n")
    columns = {"invoice_id": "order", "product_id": "sku", "quantity": "qty",
               "unit_price": "price", "status": "status"}
    warning = only(diagnose(raw, columns, refund_values=("partially_refunded",)),
                   "unmapped_order_amount")
    assert "count as refunded in full" in warning["message"]
    assert diagnose(raw, {**columns, "order_refund": "refunded amount"},
                    refund_values=("partially_refunded",)) == []


def test_a_clean_file_gives_no_warning():
    raw = table("invoice,date,customer,sku,description,qty,price,country\n"
                "1,2024-01-01,K1,P1,Mug,2,3.50,Germany\n"
                "1,2024-01-01,K1,P2,Pen,1,1.00,Germany\n"
                "2,2024-01-02,,P1,Mug,-1,3.50,France\n"
                "3,2024-01-03,K2,P3,Card,5,0.99,United Kingdom\n")
    columns = {"invoice_id": "invoice", "invoice_ts": "date", "customer_id": "customer",
               "product_id": "sku", "description": "description", "quantity": "qty",
               "unit_price": "price", "country": "country"}
    assert diagnose(raw, columns) == []
    assert diagnose(raw.iloc[:0], columns) == []


def test_the_online_retail_sample_gives_no_warning():
    from data.readers import ONLINE_RETAIL_MAPPING
    from data.tables import read_table

    path = Path(__file__).resolve().parents[2] / "data" / "samples" / "online_retail.csv.gz"
    raw, rows, _notes, _rejects = read_table(path, ONLINE_RETAIL_MAPPING)
    assert diagnose(raw, ONLINE_RETAIL_MAPPING.columns, source_rows=rows) == []


def test_the_checks_are_vectorised():
    # 200,000 lines of the Shopify miniature (20,000 copies, each order its own): every
    # warning fires, well within a second per million lines on a quiet machine
    copies = 20_000
    raw = pd.DataFrame({column: np.tile(SHOPIFY[column].to_numpy(dtype=object), copies)
                        for column in SHOPIFY.columns}).astype("str")
    raw["Name"] = raw["Name"] + "-" + pd.Series(
        np.repeat(np.arange(copies), len(SHOPIFY))).astype("str")
    started = time.perf_counter()
    warnings = diagnose(raw, NAIVE)
    assert time.perf_counter() - started < 5
    assert only(warnings, "order_level_column")["lines"] == 5 * copies
    assert only(warnings, "refund_status")["lines"] == 5 * copies


def test_unpaid_statuses_counted_as_sales_are_named_with_an_exclude_fix():
    """Pending and expired orders (a cash-on-delivery shop's, or an abandoned bank
    transfer's) are not sales yet: the warning says so and how to leave them out; once
    they are in "exclude" it is silent."""
    raw = table("order,status,sku,qty,price\n"
                "A,paid,S1,1,10\n"
                "B,pending,S1,2,10\n"
                "B,,S2,1,5\n"
                "C,Expired,S1,1,10\n")
    columns = {"invoice_id": "order", "product_id": "sku", "quantity": "qty",
               "unit_price": "price"}
    unpaid = only(diagnose(raw, columns), "unpaid_status")
    assert (unpaid["lines"], unpaid["rows"]) == (3, [3, 5])
    assert "as not paid (yet)" in unpaid["message"]
    assert unpaid["fix"].startswith('leave them out with "exclude": {"status": [')
    assert "unpaid_status" not in codes(diagnose(
        raw, columns, exclude={"status": ("pending", "expired")}))


def test_orders_without_a_billing_country_name_the_shipping_country():
    """B and C have no Billing Country on any line (no billing address): "Unspecified"
    unless Shipping Country stands in; A has one. 3 of 4 lines → a warning; with the
    fallback declared, none."""
    raw = table("order,sku,qty,price,Billing Country,Shipping Country\n"
                "A,S1,1,10,GB,GB\n"
                "B,S1,1,10,,FR\n"
                "B,S2,1,10,,FR\n"
                "C,S1,1,10,,DE\n")
    columns = {"invoice_id": "order", "product_id": "sku", "quantity": "qty",
               "unit_price": "price", "country": "Billing Country"}
    found = only(diagnose(raw, columns), "blank_countries")
    assert (found["lines"], found["rows"]) == (3, [3, 4, 5])
    assert "2 orders (3 lines, 75% of the file)" in found["message"]
    assert '"fallbacks": {"country": "Shipping Country"}' in found["fix"]
    assert "blank_countries" not in codes(diagnose(
        raw, columns, fallbacks={"country": "Shipping Country"}))
