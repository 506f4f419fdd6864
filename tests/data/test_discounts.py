"""The discount a line carried at load, kept in the fact column ``discount`` (money taken
off the line at sale; NULL where the source says nothing about discounts), with net
revenue exactly as before: the discount is already out of the unit price.

The Shopify store (``SHOPIFY``, all in March 2024):

| order | customer | lines                      | Discount Amount | Subtotal | refunded |
|-------|----------|----------------------------|-----------------|----------|----------|
| #2001 | ann      | Mug 2 × 30, Poster 1 × 40  | 10              | 90       |          |
| #2002 | bob      | Lamp 1 × 50                | 0               | 50       | 10       |
| #2003 | ann      | Chair 1 × 80               | 20              | 60       |          |

#2001's 10 is spread by value: Mug 60 × 10 % = 6 (unit price 27), Poster 4 (36). #2003:
Chair 20 (60). #2002 is full price (discount 0) with a return line of −0.2 × 50 = −10,
whose discount is 0 (the discount belongs to the sale). Gross 200, returns 10, net 190.
"""
from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
import sqlalchemy as sa

from analytics import schema
from analytics.filters import ALL_DATA, Filters
from analytics.kpis import kpi_summary
from data import formats
from data.loader import load_file
from data.readers import read_generic
from tests.data.test_platform_formats import SHOPIFY_HEADER, shopify_line, totals, write


def _order(name, email, day, subtotal, discount, items, refunded="0.00",
           status="paid") -> str:
    first, *rest = items
    text = shopify_line(name, email, status=status, paid=f"2024-03-{day} 10:00:00 +0100",
                        currency="EUR", subtotal=subtotal, shipping="0.00", taxes="0.00",
                        total=subtotal, discount=discount,
                        created=f"2024-03-{day} 10:00:00 +0100", qty=first[1],
                        item=first[0], price=first[2], sku=first[0].upper(),
                        billing_country="FR", shipping_country="FR",
                        payment="Shopify Payments", refunded=refunded, source="web")
    for item, qty, price in rest:
        text += shopify_line(name, email, created=f"2024-03-{day} 10:00:00 +0100", qty=qty,
                             item=item, price=price, sku=item.upper())
    return text


SHOPIFY = SHOPIFY_HEADER + "".join([
    _order("#2001", "ann@example.com", "01", "90.00", "10.00",
           [("Mug", 2, "30.00"), ("Poster", 1, "40.00")]),
    _order("#2002", "bob@example.com", "02", "50.00", "0.00", [("Lamp", 1, "50.00")],
           refunded="10.00", status="partially_refunded"),
    _order("#2003", "ann@example.com", "05", "60.00", "20.00", [("Chair", 1, "80.00")]),
])
MARCH = Filters(start=dt.date(2024, 3, 1), end=dt.date(2024, 3, 31))


def _by_product(lines: pd.DataFrame) -> dict:
    return {(row.product_id, row.quantity > 0): (round(row.unit_price, 6),
                                                 round(row.discount, 6))
            for row in lines.itertuples()}


def test_a_shopify_order_discount_is_kept_per_line(tmp_path):
    lines = formats.read(write(tmp_path, "orders_export.csv", SHOPIFY), "shopify").lines
    assert _by_product(lines) == {
        ("MUG", True): (27.0, 6.0), ("POSTER", True): (36.0, 4.0),
        ("LAMP", True): (50.0, 0.0), ("LAMP", False): (50.0, 0.0),
        ("CHAIR", True): (60.0, 20.0)}
    # revenue as the shop's totals, unchanged: the discount is already out of the prices
    assert totals(lines) == {"gross": 200.0, "returns": 10.0, "net": 190.0, "orders": 3}


def test_the_discount_reaches_the_warehouse_and_revenue_is_unchanged(warehouse, tmp_path):
    load_file(warehouse, write(tmp_path, "orders_export.csv", SHOPIFY), format="shopify")
    summary = kpi_summary(warehouse, MARCH, ALL_DATA)
    assert summary["gross_revenue"].current == pytest.approx(200.0)
    assert summary["revenue"].current == pytest.approx(190.0)
    t = schema.fact_lines
    with warehouse.connect() as conn:
        rows = conn.execute(sa.select(t.c.invoice_id, sa.func.sum(t.c.discount))
                            .group_by(t.c.invoice_id).order_by(t.c.invoice_id)).all()
    assert [(invoice, pytest.approx(value)) for invoice, value in rows] == [
        ("#2001", 10.0), ("#2002", 0.0), ("#2003", 20.0)]
    lines = warehouse.read_lines()
    assert lines["discount"].sum() == pytest.approx(30.0)


GENERIC = ("order,date,sku,qty,price,off\n"
           "A1,2024-01-02,S1,2,10.00,3.00\n"
           "A2,2024-01-03,S2,1,20.00,\n")


@pytest.mark.parametrize("kind, off, expected_price, expected_discount", [
    ("amount", "3.00", 8.5, 3.0),      # 3 off the line: 1.5 off each of 2 units
    ("percent", "25", 7.5, 5.0),       # 25 % of 2 × 10
    ("fraction", "0.1", 9.0, 2.0),     # 10 % of 2 × 10
])
def test_a_mapped_line_discount_is_kept_as_money(tmp_path, kind, off, expected_price,
                                                 expected_discount):
    path = write(tmp_path, "shop.csv", GENERIC.replace("3.00\n", f"{off}\n", 1))
    lines = read_generic(path, {"columns": {
        "invoice_id": "order", "invoice_date": "date", "product_id": "sku", "quantity": "qty",
        "unit_price": "price", "discount": "off"}, "discount_type": kind}).lines
    assert lines["unit_price"].tolist() == pytest.approx([expected_price, 20.0])
    # an empty discount cell is no discount (0), as its price shows
    assert lines["discount"].tolist() == pytest.approx([expected_discount, 0.0])


def test_a_source_without_discount_information_leaves_it_null(warehouse, tmp_path):
    path = write(tmp_path, "shop.csv", GENERIC)
    load_file(warehouse, path, format="generic", mapping={"columns": {
        "invoice_id": "order", "invoice_date": "date", "product_id": "sku", "quantity": "qty",
        "unit_price": "price"}})
    lines = warehouse.read_lines()
    assert len(lines) == 2 and lines["discount"].isna().all()
    assert lines["unit_price"].tolist() == pytest.approx([10.0, 20.0])


def test_an_order_discount_on_orders_without_a_subtotal_is_unknown_there(tmp_path):
    """order_discount given on one order only: the other order's discount is unknown."""
    path = write(tmp_path, "shop.csv", "order,date,sku,qty,price,order_off\n"
                                       "A1,2024-01-02,S1,2,10.00,4.00\n"
                                       "A2,2024-01-03,S2,1,20.00,\n")
    lines = read_generic(path, {"columns": {
        "invoice_id": "order", "invoice_date": "date", "product_id": "sku", "quantity": "qty",
        "unit_price": "price", "order_discount": "order_off"}}).lines
    assert lines["unit_price"].tolist() == pytest.approx([8.0, 20.0])
    assert lines["discount"].iloc[0] == pytest.approx(4.0)
    assert pd.isna(lines["discount"].iloc[1])


def test_the_demo_records_what_its_promotions_took_off():
    """The demo's promotions (10–30 % off some lines, 20 % in holiday sales) were folded
    into the price; the discount column says how much, and the lines are otherwise the
    same (checked against the generator before the column: the same hash for seed 7)."""
    from data.demo import generate_demo
    lines = generate_demo(lines=5_000, seed=3).lines
    sale = (lines["quantity"] > 0) & ~lines["is_cancellation"] & (lines["unit_price"] > 0)
    discount = lines["discount"]
    assert discount.notna().all() and (discount >= 0).all()
    assert (discount[~sale] == 0).all()
    taken = sale & (discount > 0)
    assert 0.05 < lines.loc[taken, "invoice_id"].nunique() / \
        lines.loc[sale, "invoice_id"].nunique() < 0.6
    value = lines["quantity"] * lines["unit_price"]
    big = taken & (value >= 20)  # cents of rounding are small against the value
    rate = discount[big] / (value[big] + discount[big])
    nearest = rate.apply(lambda r: min((0.1, 0.15, 0.2, 0.25, 0.3), key=lambda x: abs(x - r)))
    assert ((rate - nearest).abs() < 0.005).all()
