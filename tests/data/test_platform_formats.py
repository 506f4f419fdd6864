"""Platform exports (Shopify, WooCommerce) and the generic mapping's order-level options, on
hand-made files written from the platforms' documented column lists. Every expected number
is worked out in the comments, from the orders' own totals (Subtotal − refunds)."""
import datetime as dt
import json

import pandas as pd
import pytest

from analytics.breakdowns import breakdown
from analytics.filters import ALL_DATA, Filters
from analytics.kpis import kpi_summary
from data import formats
from data.loader import LoadError, load_file
from data.quality import render_report
from data.readers import MappingError, ReadError, parse_mapping, read_generic, read_header

SHOPIFY_HEADER = (
    "Name,Email,Financial Status,Paid at,Fulfillment Status,Fulfilled at,Accepts Marketing,"
    "Currency,Subtotal,Shipping,Taxes,Total,Discount Code,Discount Amount,Shipping Method,"
    "Created at,Lineitem quantity,Lineitem name,Lineitem price,Lineitem compare at price,"
    "Lineitem sku,Lineitem requires shipping,Lineitem taxable,Lineitem fulfillment status,"
    "Billing Name,Billing Street,Billing City,Billing Zip,Billing Province,Billing Country,"
    "Shipping Name,Shipping City,Shipping Country,Notes,Cancelled at,Payment Method,"
    "Refunded Amount,Vendor,Id,Tags,Risk Level,Source,Lineitem discount\n")


def shopify_line(name, email, *, status="", paid="", currency="", subtotal="", shipping="",
                 taxes="", total="", discount="", created="", qty, item, price, sku,
                 billing_city="", billing_country="", shipping_country="", payment="",
                 refunded="", source=""):
    """One line as Shopify writes it: order-level columns only where given (the first line
    of an order); line-item columns on every line."""
    return ",".join([
        name, email, status, paid, "fulfilled", "", "no", currency, subtotal, shipping, taxes,
        total, "SPRING" if discount not in ("", "0.00") else "", discount, "Standard",
        created, str(qty), item, price, "", sku, "true", "true", "fulfilled",
        "", "", billing_city, "", "", billing_country, "", "", shipping_country, "", "",
        payment, refunded, "Acme", "", "", "Low", source, "0.00"]) + "\n"


# #1001 paid: Mug 2 × 30 + Poster 1 × 40 (no SKU) = 100, order discount 10, Subtotal 90.
# #1002 refunded in full: Lamp 50, refunded 60 (50 items + 10 tax).
# #1003 partially refunded: Chair 60 + 2 Cushions × 20 = 100, refunded 30. Billing Country
#       is empty: Shipping Country (DE) is used.
# #1004 voided (never paid) and #1005 paid through the test gateway "bogus": left out.
SHOPIFY = SHOPIFY_HEADER + "".join([
    shopify_line("#1001", "Ann@Example.com", status="paid", paid="2024-03-01 10:05:00 +0100",
                 currency="EUR", subtotal="90.00", shipping="5.00", taxes="15.00",
                 total="110.00", discount="10.00", created="2024-03-01 10:00:00 +0100",
                 qty=2, item="Mug", price="30.00", sku="MUG-1", billing_city="Paris",
                 billing_country="FR", shipping_country="FR", payment="Shopify Payments",
                 refunded="0.00", source="web"),
    shopify_line("#1001", "ann@example.com", created="2024-03-01 10:00:00 +0100", qty=1,
                 item="Poster", price="40.00", sku=""),
    shopify_line("#1002", "bob@example.com", status="refunded",
                 paid="2024-03-02 11:00:00 +0100", currency="EUR", subtotal="50.00",
                 shipping="0.00", taxes="10.00", total="60.00", discount="0.00",
                 created="2024-03-02 11:00:00 +0100", qty=1, item="Lamp", price="50.00",
                 sku="LAMP-1", billing_city="Berlin", billing_country="DE",
                 shipping_country="DE", payment="Shopify Payments", refunded="60.00",
                 source="web"),
    shopify_line("#1003", "cy@example.com", status="partially_refunded",
                 paid="2024-03-03 12:00:00 +0100", currency="EUR", subtotal="100.00",
                 shipping="0.00", taxes="20.00", total="120.00", discount="0.00",
                 created="2024-03-03 12:00:00 +0100", qty=1, item="Chair", price="60.00",
                 sku="CHAIR-1", billing_city="", billing_country="", shipping_country="DE",
                 payment="Shopify Payments", refunded="30.00", source="pos"),
    shopify_line("#1003", "cy@example.com", created="2024-03-03 12:00:00 +0100", qty=2,
                 item="Cushion", price="20.00", sku="CUSH-1"),
    shopify_line("#1004", "dee@example.com", status="voided", currency="EUR",
                 subtotal="25.00", shipping="0.00", taxes="5.00", total="30.00",
                 discount="0.00", created="2024-03-04 09:00:00 +0100", qty=1, item="Mug",
                 price="25.00", sku="MUG-1", billing_country="IT", payment="Shopify Payments",
                 refunded="0.00", source="web"),
    shopify_line("#1005", "test@example.com", status="paid", currency="EUR",
                 subtotal="10.00", shipping="0.00", taxes="2.00", total="12.00",
                 discount="0.00", created="2024-03-05 09:00:00 +0100", qty=1, item="Mug",
                 price="10.00", sku="MUG-1", billing_country="FR", payment="bogus",
                 refunded="0.00", source="web"),
])
#: What Shopify's own order totals give for the three orders kept.
SHOPIFY_SUBTOTALS = 90.0 + 50.0 + 100.0
SHOPIFY_REFUNDS_ON_ITEMS = 50.0 + 30.0  # #1002's 10 of tax refunded is not a return

WOO_HEADER = ("Order ID,Order Number,Order Date,Order Status,Billing Email,Billing Country,"
              "Billing City,Payment Method Title,Item SKU,Item Name,Item Quantity,Item Total,"
              "Cart Discount,Order Refund,Refund Date,Shipping Total,Tax Total,Order Total,"
              "Order Currency\n")
# Order columns repeated on every line, as WooCommerce's line-item export writes them.
# 101 completed: 2 × A = 18.00 after the coupon + gift wrap (no SKU) 2.00; shipping 5, tax 4.
# 102 refunded: B 30.00; refunded 36.00 on 2024-05-10 (30 items + 6 shipping).
# 103 processing: 3 × C = 60.00; refunded 20.00 on 2024-05-12 (a third of the items).
# 104 cancelled (never sold) and 105 pending (not paid): left out.
WOO = WOO_HEADER + (
    "101,101,2024-05-01 09:00:00,completed,a@example.com,GB,London,Card,A,Mug,2,18.00,2.00,"
    "0,,5.00,4.00,29.00,GBP\n"
    "101,101,2024-05-01 09:00:00,completed,a@example.com,GB,London,Card,,Gift wrap,1,2.00,"
    "2.00,0,,5.00,4.00,29.00,GBP\n"
    "102,102,2024-05-02 10:00:00,refunded,b@example.com,FR,Paris,PayPal,B,Lamp,1,30.00,0,"
    "36.00,2024-05-10 08:00:00,6.00,0,36.00,GBP\n"
    "103,103,2024-05-03 11:00:00,processing,a@example.com,GB,London,Card,C,Chair,3,60.00,0,"
    "20.00,2024-05-12 15:30:00,0,0,60.00,GBP\n"
    "104,104,2024-05-04 12:00:00,cancelled,c@example.com,DE,Berlin,Card,D,Rug,1,10.00,0,0,,"
    "0,0,10.00,GBP\n"
    "105,105,2024-05-05 13:00:00,pending,d@example.com,DE,Berlin,BACS,E,Vase,1,15.00,0,0,,"
    "0,0,15.00,GBP\n")


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def value(lines) -> pd.Series:
    return lines["quantity"] * lines["unit_price"]


def totals(lines) -> dict:
    v = value(lines)
    sale = (lines["quantity"] > 0) & ~lines["is_cancellation"] & (lines["unit_price"] > 0)
    returned = (lines["quantity"] < 0) & (lines["unit_price"] > 0)
    return {"gross": round(float(v[sale].sum()), 2),
            "returns": round(float(-v[returned].sum()), 2),
            "net": round(float(v[sale | returned].sum()), 2),
            "orders": int(lines.loc[sale, "invoice_id"].nunique())}


# ------------------------------------------------------------------------- Shopify
def test_shopify_export_gives_the_orders_own_totals(tmp_path):
    path = write(tmp_path, "orders_export.csv", SHOPIFY)
    assert formats.detect(read_header(path)) == "shopify"
    result = formats.read(path, "shopify")
    lines = result.lines
    assert totals(lines) == {"gross": SHOPIFY_SUBTOTALS, "returns": SHOPIFY_REFUNDS_ON_ITEMS,
                             "net": SHOPIFY_SUBTOTALS - SHOPIFY_REFUNDS_ON_ITEMS,
                             "orders": 3}
    sales = lines[lines["quantity"] > 0].set_index("description")
    # the order discount spread in proportion to line value: 90 / 100 of each price
    assert sales.loc["Mug", "unit_price"] == pytest.approx(27.0)
    assert sales.loc["Poster", "unit_price"] == pytest.approx(36.0)
    # the Poster has no SKU: its name is the product id (and the report says so)
    assert sales.loc["Poster", "product_id"] == "Poster"
    assert result.orders["fallbacks"] == {"product_id from 'Lineitem name'": 1,
                                          "country from 'Shipping Country'": 1}
    # order-level columns filled down from the order's first line
    assert sales.loc["Poster", "country_code"] == "FR"
    assert sales.loc["Poster", "city"] == "Paris"
    assert sales.loc["Cushion", "country_code"] == "DE"  # Shipping Country, filled down
    # returns: #1002 in full, #1003 a 30 % share of each line, dated on the order
    returned = lines[lines["quantity"] < 0].set_index("description")
    assert returned.loc["Lamp", "quantity"] == -1.0
    assert returned.loc["Chair", "quantity"] == pytest.approx(-0.3)
    assert returned.loc["Cushion", "quantity"] == pytest.approx(-0.6)
    assert returned.loc["Chair", "invoice_ts"] == pd.Timestamp("2024-03-03 12:00")
    assert result.orders["refunds"] == {
        "orders": 2, "in_full": 1, "returned_value": 80.0, "not_items": 10.0,
        "return_lines": 3,
        "dated_on": "the order date (the export gives no refund date)"}
    # the voided order and the test order are left out and counted
    assert result.orders["excluded"] == {
        "Financial Status = voided": {"orders": 1, "lines": 1},
        "Payment Method = bogus": {"orders": 1, "lines": 1}}
    assert result.lines_read == 7 and result.rejects.empty
    # shipping and taxes recorded, not revenue; the currency recorded
    assert result.orders["shipping"] == 5.0
    assert result.orders["taxes"] == 45.0
    assert result.orders["currency"] == "EUR"
    # the customer is the e-mail, hashed (case-insensitively), never in clear
    customers = set(lines["customer_id"])
    assert len(customers) == 3
    assert not any("@" in customer for customer in customers)
    assert lines.loc[lines["invoice_id"] == "#1001", "customer_id"].nunique() == 1


def test_shopify_kpis_and_country_split_on_the_warehouse(warehouse, tmp_path):
    path = write(tmp_path, "orders_export.csv", SHOPIFY)
    load = load_file(warehouse, path, format="shopify")
    assert load.format == "shopify"
    period = Filters(start=dt.date(2024, 3, 1), end=dt.date(2024, 3, 31))
    summary = kpi_summary(warehouse, period, ALL_DATA)
    assert summary["revenue"].current == pytest.approx(160.0)
    assert summary["gross_revenue"].current == pytest.approx(240.0)
    assert summary["returns"].current == pytest.approx(80.0)
    assert summary["orders"].current == 3
    assert summary["customers"].current == 3
    # FR: #1001 (90); DE: #1002 (50 − 50) and #1003 (100 − 30)
    countries = breakdown(warehouse, period, ALL_DATA, "country")
    revenue = dict(zip(countries["label"], countries["revenue"]))
    assert revenue == pytest.approx({"France": 90.0, "Germany": 70.0})
    assert load.quality["orders"]["currency"] == "EUR"


def test_a_naive_generic_mapping_of_the_same_export_is_wrong(tmp_path):
    """What the issue saw: mapped naively, the export's discount and refunds never reach the
    numbers, the blank SKU is rejected and most lines have no country."""
    path = write(tmp_path, "orders_export.csv", SHOPIFY)
    naive = {"columns": {"invoice_id": "Name", "invoice_ts": "Created at",
                         "product_id": "Lineitem sku", "quantity": "Lineitem quantity",
                         "unit_price": "Lineitem price", "country": "Billing Country"}}
    result = read_generic(path, naive)
    assert totals(result.lines)["net"] == 60 + 50 + 60 + 40 + 25 + 10  # 240 vs 160
    assert (result.lines["country"] == "Unspecified").sum() == 2


def test_shopify_mapping_is_shown_and_reads_back(tmp_path):
    path = write(tmp_path, "orders_export.csv", SHOPIFY)
    mapping = formats.mapping_json(formats.mapping_for("shopify", read_header(path)))
    assert mapping["columns"]["order_subtotal"] == "Subtotal"
    assert mapping["exclude"] == {"Financial Status": ["voided", "pending", "expired"],
                                  "Payment Method": ["bogus"], "Lineitem name": ["Tip"]}
    # the printed mapping is a valid generic mapping that reads the file the same way
    again = read_generic(path, json.loads(json.dumps(mapping)))
    assert totals(again.lines) == totals(formats.read(path, "shopify").lines)


# ---------------------------------------------------------------------- WooCommerce
def test_woocommerce_export(tmp_path):
    path = write(tmp_path, "woo.csv", WOO)
    assert formats.detect(read_header(path)) == "woocommerce"
    result = formats.read(path, "auto")
    lines = result.lines
    # gross 20 + 30 + 60 = 110; returns 30 (102, in full) + 20 (103, a third) = 50
    assert totals(lines) == {"gross": 110.0, "returns": 50.0, "net": 60.0, "orders": 3}
    returned = lines[lines["quantity"] < 0].set_index("invoice_id")
    assert returned.loc["103", "quantity"] == pytest.approx(-1.0)
    assert returned.loc["103", "unit_price"] == pytest.approx(20.0)
    # dated on the refund
    assert returned.loc["102", "invoice_ts"] == pd.Timestamp("2024-05-10 08:00")
    assert returned.loc["103", "invoice_ts"] == pd.Timestamp("2024-05-12 15:30")
    assert result.orders["refunds"]["not_items"] == 6.0
    assert result.orders["excluded"] == {
        "Order Status = cancelled (cancelled: never sold)": {"orders": 1, "lines": 1},
        "Order Status = pending": {"orders": 1, "lines": 1}}
    assert lines.loc[lines["description"] == "Gift wrap", "product_id"].tolist() == [
        "Gift wrap"]
    assert result.orders["currency"] == "GBP"
    assert result.orders["shipping"] == 11.0 and result.orders["taxes"] == 4.0
    assert lines["customer_id"].nunique() == 2  # a@ (101, 103) and b@, hashed


def test_a_woocommerce_file_passed_as_shopify_says_what_it_is(tmp_path):
    path = write(tmp_path, "woo.csv", WOO)
    with pytest.raises(MappingError, match=r"not a Shopify orders export.*'Name'.*"
                                           r"looks like a WooCommerce orders export: use "
                                           r"--format woocommerce"):
        formats.read(path, "shopify")


def test_a_shopify_export_without_its_required_columns(tmp_path):
    text = SHOPIFY.replace("Lineitem quantity", "Qty")
    path = write(tmp_path, "orders_export.csv", text)
    with pytest.raises(MappingError, match="lacks the column.*'Lineitem quantity'"):
        formats.read(path, "shopify")
    assert formats.detect(read_header(path)) is None
    with pytest.raises(ReadError, match="not in a layout Shoplens knows"):
        formats.read(path, "auto")


# ------------------------------------------------------------------------ bad input
def test_mixed_currencies_are_refused_naming_them(tmp_path):
    text = SHOPIFY.replace("#1002,bob@example.com,refunded,2024-03-02 11:00:00 +0100,"
                           "fulfilled,,no,EUR", "#1002,bob@example.com,refunded,"
                           "2024-03-02 11:00:00 +0100,fulfilled,,no,USD")
    path = write(tmp_path, "orders_export.csv", text)
    with pytest.raises(ReadError, match=r"mixes currencies in column 'Currency': "
                                        r"EUR \(4 lines\), USD \(1 lines\)"):
        formats.read(path, "shopify")


def test_refunds_above_the_order_value_are_refused(tmp_path):
    text = WOO.replace("36.00,2024-05-10 08:00:00", "99.00,2024-05-10 08:00:00")
    path = write(tmp_path, "woo.csv", text)
    with pytest.raises(ReadError, match=r"Refunds exceed the order's value on 1 orders "
                                        r"\(102: refunded 99.00 of 36.00\) in column "
                                        r"'Order Refund'"):
        formats.read(path, "woocommerce")


def test_an_empty_refund_date_is_refused(tmp_path):
    text = WOO.replace("20.00,2024-05-12 15:30:00", "20.00,")
    path = write(tmp_path, "woo.csv", text)
    with pytest.raises(ReadError, match=r"1 refunded orders have no refund date in column "
                                        r"'Refund Date' \(e.g. 103\)"):
        formats.read(path, "woocommerce")


@pytest.mark.parametrize("change, message", [
    (lambda text: text.replace("36.00,2024-05-10 08:00:00", "99.00,2024-05-10 08:00:00"),
     "Refunds exceed"),
    (lambda text: text.replace("20.00,2024-05-12 15:30:00", "20.00,"), "no refund date"),
    (lambda text: text.replace(",GBP\n", ",EUR\n", 1), "mixes currencies"),
])
def test_a_refused_export_publishes_nothing(warehouse, tmp_path, change, message):
    first = load_file(warehouse, write(tmp_path, "good.csv", WOO), format="woocommerce")
    with pytest.raises(LoadError, match=message):
        load_file(warehouse, write(tmp_path, "bad.csv", change(WOO)), format="woocommerce")
    assert warehouse.current_version() == first.version


def test_an_order_amount_with_different_values_in_one_order_is_refused(tmp_path):
    text = WOO.replace("2.00,2.00,0,,5.00", "2.00,3.00,0,,5.00")
    path = write(tmp_path, "woo.csv", text.replace("Item Total", "Item Price"))
    with pytest.raises(ReadError, match=r"'Cart Discount' has different values on the lines "
                                        r"of 1 orders \(e.g. 101\)"):
        formats.read(path, "woocommerce")


# ------------------------------------------------------------------ generic options
GENERIC = (
    "Order ID,Market,Order Date,Status,Customer,Country,SKU,Qty,Price,Order Discount,Refund\n"
    # CA-1 exists in two markets: two orders
    "CA-1,US,2024-01-02,shipped,K1,United States,P1,2,10.00,4.00,\n"
    "CA-1,US,2024-01-02,,K1,,P2,1,20.00,,\n"
    "CA-1,EU,2024-01-03,returned,K2,France,P1,1,10.00,0,\n"
    "CA-2,EU,2024-01-04,void,K3,Spain,P1,5,10.00,0,\n"
)
GENERIC_MAPPING = {
    "columns": {"invoice_id": ["Order ID", "Market"], "invoice_date": "Order Date",
                "status": "Status", "customer_id": "Customer", "country": "Country",
                "product_id": "SKU", "quantity": "Qty", "unit_price": "Price",
                "order_discount": "Order Discount", "order_refund": "Refund"},
    "order_level": ["status", "country"],
    "refund_values": ["returned"],
    "cancellation_values": ["void"],
}


def test_generic_composite_key_order_level_refunds_and_discount(tmp_path):
    """CA-1 / US: 2 × 10 + 20 = 40 less an order discount of 4 → 36 (factor 0.9), its
    second line's blank Status and Country filled from the order; CA-1 / EU: 10,
    status "returned" with no amount: refunded in full; CA-2 / EU: void, never sold."""
    path = write(tmp_path, "superstore.csv", GENERIC)
    result = read_generic(path, GENERIC_MAPPING)
    lines = result.lines
    assert sorted(set(lines["invoice_id"])) == ["CA-1 / EU", "CA-1 / US"]
    assert totals(lines) == {"gross": 46.0, "returns": 10.0, "net": 36.0, "orders": 2}
    us = lines[lines["invoice_id"] == "CA-1 / US"]
    assert us["unit_price"].round(2).tolist() == [9.0, 18.0]
    assert us["country_code"].tolist() == ["US", "US"]
    assert result.orders["excluded"] == {
        "Status = void (cancelled: never sold)": {"orders": 1, "lines": 1}}


@pytest.mark.parametrize("mapping, message", [
    ({"columns": {**GENERIC_MAPPING["columns"], "quantity": ["Qty", "Market"]}},
     "Field 'quantity' must map to one column"),
    ({"columns": {**GENERIC_MAPPING["columns"], "invoice_id": ["Order ID"]}},
     "two or more columns"),
    ({**GENERIC_MAPPING, "order_level": ["quantity"]}, "describes a line"),
    ({**GENERIC_MAPPING, "order_level": ["city"]}, "not mapped in columns"),
    ({**GENERIC_MAPPING, "refund_values": ["void"]}, "in both cancellation_values"),
    ({"columns": {k: v for k, v in GENERIC_MAPPING["columns"].items() if k != "status"},
      "refund_values": ["returned"]}, "refund_values needs the status column"),
    ({**GENERIC_MAPPING, "fallbacks": {"city": "Country"}}, "fallbacks names 'city'"),
    ({**GENERIC_MAPPING, "exclude": {"Status": "void"}}, "exclude must be an object"),
    ({**GENERIC_MAPPING, "hashed": ["product_id"]}, "hashed may only hold customer_id"),
])
def test_bad_order_options_are_refused_naming_the_problem(mapping, message):
    with pytest.raises(MappingError, match=message):
        parse_mapping(mapping)


def test_an_exclude_column_missing_from_the_file(tmp_path):
    path = write(tmp_path, "superstore.csv", GENERIC)
    with pytest.raises(MappingError, match="'Test' \\(in exclude\\) is not in the file"):
        read_generic(path, {**GENERIC_MAPPING, "exclude": {"Test": ["true"]}})


@pytest.mark.parametrize("shown, warned", [("£", True), ("€", False), ("EUR", False),
                                           (None, False)])
def test_the_report_warns_when_the_currency_setting_is_not_the_files(warehouse, tmp_path,
                                                                      shown, warned):
    """A EUR export shown with "£" would put the wrong sign on every screen."""
    load = load_file(warehouse, write(tmp_path, "orders_export.csv", SHOPIFY),
                     format="shopify", currency=shown)
    codes = [warning["code"] for warning in load.quality["warnings"]]
    assert ("currency_setting" in codes) is warned
    if warned:
        assert ("set the currency to EUR (Admin → Settings, or CURRENCY=€)"
                in render_report(load.quality))


def test_the_report_of_a_platform_load_says_what_the_order_columns_did(warehouse, tmp_path):
    load = load_file(warehouse, write(tmp_path, "orders_export.csv", SHOPIFY),
                     format="shopify")
    text = render_report(load.quality, currency="€")
    assert "lines read                 7" in text and "lines loaded               8" in text
    assert "Financial Status = voided: orders 1, lines 1" in text
    assert "return lines 3" in text
    assert "shipping: €5.00" in text or "shipping: 5.00" in text
    assert "-0.00" not in text


# --------------------------------------------- WooCommerce Analytics › Orders (built-in)
WOO_ANALYTICS = (
    "Date,Order #,N. Revenue (formatted),Status,Customer,Customer type,Product(s),"
    "Items sold,Coupon(s),N. Revenue\n"
    '2024-05-01 10:00:00,1001,$30.00,Completed,Ann Smith,new,"2× Mug, 1× Poster",3,,30.00\n'
    "2024-05-02 11:00:00,1002,$50.00,Refunded,Bob Brown,new,1× Lamp,1,,50.00\n"
    "2024-05-09 09:00:00,1002,-$50.00,Refunded,Bob Brown,returning,1× Lamp,1,,-50.00\n"
    "2024-05-03 12:00:00,1003,$20.00,Cancelled,Cy,new,1× Rug,1,,20.00\n"
    "2024-05-04 13:00:00,1004,$15.00,Pending payment,Dee,new,1× Vase,1,,15.00\n"
    '2024-05-05 14:00:00,1005,"$1,000.00",Processing,Ann Smith,returning,'
    '"3× Chair, 1× Table, Large, 2× Lamp",6,SPRING,1000.00\n'
    "2024-05-06 15:00:00,1006,$12.00,Completed,Eve,new,,0,,12.00\n")


def test_woocommerce_analytics_orders_report(tmp_path):
    """One row per order, products in one cell. 1001: 30 shared by quantity (Mug 2 → 20,
    Poster 1 → 10); 1002: sold 50 on 2 May, refunded on 9 May (its own negative row);
    1003 cancelled (never sold), 1004 pending: left out; 1005: 1,000 over 6 units (Chair
    500, "Table, Large" 166.67, Lamp 333.33); 1006 lists no product: 12 on one line."""
    path = write(tmp_path, "orders.csv", WOO_ANALYTICS)
    assert formats.detect(read_header(path)) == "woocommerce-analytics"
    result = formats.read(path, "auto")
    lines = result.lines
    assert totals(lines) == {"gross": 1092.0, "returns": 50.0, "net": 1042.0, "orders": 4}
    by_product = value(lines).groupby(lines["product_id"]).sum().round(2).to_dict()
    assert by_product == {"Mug": 20.0, "Poster": 10.0, "Lamp": 333.33, "Chair": 500.0,
                          "Table, Large": 166.67, "(products not listed)": 12.0}
    refund = lines[lines["quantity"] < 0]
    assert refund["invoice_id"].tolist() == ["1002"]
    assert refund["invoice_ts"].tolist() == [pd.Timestamp("2024-05-09 09:00")]
    assert result.orders["excluded"] == {
        "Status = cancelled (cancelled: never sold)": {"orders": 1, "lines": 1},
        "Status = pending payment": {"orders": 1, "lines": 1}}
    assert any("shared by quantity" in note for note in result.notes)
    assert lines["customer_id"].nunique() == 3 and not lines["customer_id"].str.contains(
        " ").any()  # names hashed


def test_shopify_tips_are_not_products_and_taxes_in_prices_are_said(tmp_path):
    """#2001: a hat at 50 and Shopify's "Tip" line of 2.50, outside the Subtotal (50; Total
    = 50 + 3 tax + 2.50 tip): the tip is left out, so the hat keeps its 50. #2002: prices
    that include their tax (Subtotal 120 + Shipping 0 = Total 120, Taxes 20): revenue is the
    Subtotal, and the report says how much tax it holds."""
    text = SHOPIFY_HEADER + "".join([
        shopify_line("#2001", "e@example.com", status="paid", currency="EUR",
                     subtotal="50.00", shipping="0.00", taxes="3.00", total="55.50",
                     discount="0.00", created="2024-04-01 10:00:00 +0000", qty=1,
                     item="Hat", price="50.00", sku="HAT", billing_country="FR",
                     payment="Shopify Payments", refunded="0.00"),
        shopify_line("#2001", "e@example.com", created="2024-04-01 10:00:00 +0000", qty=1,
                     item="Tip", price="2.50", sku=""),
        shopify_line("#2002", "f@example.com", status="paid", currency="EUR",
                     subtotal="120.00", shipping="0.00", taxes="20.00", total="120.00",
                     discount="0.00", created="2024-04-02 10:00:00 +0000", qty=1,
                     item="Coat", price="120.00", sku="COAT", billing_country="FR",
                     payment="Shopify Payments", refunded="0.00"),
    ])
    result = formats.read(write(tmp_path, "orders_export.csv", text), "shopify")
    lines = result.lines
    assert lines["product_id"].tolist() == ["HAT", "COAT"]
    assert value(lines).tolist() == [50.0, 120.0]
    assert result.orders["excluded"] == {"Lineitem name = Tip": {"orders": 1, "lines": 1}}
    assert result.orders["taxes_in_prices"]["orders"] == 1
    assert result.orders["taxes_in_prices"]["taxes"] == 20.0
