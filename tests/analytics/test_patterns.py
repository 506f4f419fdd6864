"""Patterns (``analytics.patterns``) on hand-made data whose answers are worked out here,
on DuckDB and PostgreSQL: weekday/hour/month profiles, price elasticity recovered from
units = A × price^−1.5 × noise, "not enough price variation", unusual orders."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from analytics import patterns
from analytics.filters import ALL_DATA, Filters, Scope
from tests.analytics.conftest import publish_lines

JANUARY = Filters(start=dt.date(2024, 1, 1), end=dt.date(2024, 1, 28))


def _week_rows() -> list[dict]:
    """2024-01-01 (a Monday) … 2024-01-28: one order of 100 at 10:00 every day but Sunday;
    Saturdays also one of 250 at 15:00; Sundays nothing, except one French order of 1,000
    at 09:30 on the 28th (outside a GB scope)."""
    rows = []
    for i in range(28):
        day = dt.datetime(2024, 1, 1) + dt.timedelta(days=i)
        if day.weekday() == 6:
            continue
        rows.append({"invoice_id": f"D{i}", "invoice_ts": day.replace(hour=10),
                     "customer_id": "A", "quantity": 10, "unit_price": 10.0})
        if day.weekday() == 5:
            rows.append({"invoice_id": f"S{i}", "invoice_ts": day.replace(hour=15),
                         "customer_id": "B", "quantity": 25, "unit_price": 10.0})
    rows.append({"invoice_id": "FR1", "invoice_ts": "2024-01-28 09:30", "customer_id": "F",
                 "quantity": 100, "unit_price": 10.0, "country": "France",
                 "country_code": "FR"})
    return rows


def test_weekday_and_hour_profile(warehouse):
    publish_lines(warehouse, _week_rows())
    result = patterns.seasonality(warehouse, JANUARY, Scope.of(["GB"]), currency="£")
    # 4 weeks: Mon–Fri 100, Saturday 350, Sunday 0 → mean day 850 / 7
    mean_day = 850 / 7
    assert result.days == 28 and result.mean_daily_revenue == pytest.approx(mean_day)
    weekdays = result.weekdays.set_index("name")
    assert list(weekdays["days"]) == [4] * 7
    assert weekdays.loc["Saturday", "mean"] == pytest.approx(350)
    assert weekdays.loc["Saturday", "index"] == pytest.approx(350 / mean_day - 1)
    assert weekdays.loc["Sunday", "mean"] == 0
    assert weekdays.loc["Monday", "q25"] == weekdays.loc["Monday", "q75"] == 100
    assert result.has_times
    heat = result.heatmap.set_index(["weekday", "hour"])["revenue"]
    assert len(heat) == 7 * 24
    assert heat[(5, 15)] == pytest.approx(250) and heat[(0, 10)] == pytest.approx(100)
    assert heat[(6, 9)] == 0  # the French line is outside the scope
    assert heat.sum() == pytest.approx(850)
    assert result.sentence.startswith("Saturdays bring 188 % more revenue than the average "
                                      "day (£350 vs £121 a day)")
    assert "Saturday 15:00–16:00 (£250 on average)" in result.sentence
    assert result.months.empty and "two months" in result.messages["months"]
    everyone = patterns.seasonality(warehouse, JANUARY, ALL_DATA)
    assert everyone.weekdays.set_index("name").loc["Sunday", "mean"] == pytest.approx(250)


def test_month_profile_and_data_without_times(warehouse):
    """2023–2024, one order a day at midnight: 100, in December 2023 200, in December
    2024 300."""
    rows = []
    day = dt.date(2023, 1, 1)
    while day <= dt.date(2024, 12, 31):
        rows.append({"invoice_id": f"I{day}", "invoice_ts": f"{day} 00:00",
                     "quantity": (day.year - 2021 if day.month == 12 else 1),
                     "unit_price": 100.0})
        day += dt.timedelta(days=1)
    publish_lines(warehouse, rows)
    result = patterns.seasonality(
        warehouse, Filters(start=dt.date(2023, 1, 1), end=dt.date(2024, 12, 31)), ALL_DATA)
    mean_day = (731 * 100 + 31 * 100 + 31 * 200) / 731
    months = result.months.set_index("name")
    assert len(months) == 12 and set(months["years"]) == {2}
    assert months.loc["December", "mean"] == pytest.approx(250)
    assert months.loc["December", "index"] == pytest.approx(250 / mean_day - 1)
    assert months.loc["December", "q25"] == 200 and months.loc["December", "q75"] == 300
    assert months.loc["February", "days"] == 28 + 29
    assert (months.loc["December", "year_low"], months.loc["December", "year_high"]) == (200, 300)
    assert months.loc["June", "year_low"] == months.loc["June", "year_high"] == 100
    assert months.loc["June", "index"] == pytest.approx(100 / mean_day - 1)
    assert "December is the strongest month (+122 %)" in result.sentence
    assert not result.has_times and result.heatmap.empty
    assert "no times of day" in result.messages["heatmap"]


def test_short_period_says_what_it_needs(warehouse):
    publish_lines(warehouse, _week_rows())
    result = patterns.seasonality(
        warehouse, Filters(start=dt.date(2024, 1, 1), end=dt.date(2024, 1, 7)), ALL_DATA)
    assert result.weekdays.empty and "at least 14 days" in result.messages["weekdays"]
    assert result.has_times  # the heatmap needs no minimum
    empty = patterns.seasonality(
        warehouse, Filters(start=dt.date(2020, 1, 1), end=dt.date(2020, 2, 1)), ALL_DATA)
    assert empty.sentence == "No sales in this period."


def _priced_rows() -> list[dict]:
    """52 weeks from 2024-01-01. Home: P1 (units = 1000 × price^−1.5 × noise, 8 price
    levels 5…15), P4 (the same with 300 ×), P2 (always 10: no variation). Toys: P3 (two
    prices only)."""
    rng = np.random.default_rng(7)
    levels = np.linspace(5, 15, 8)
    rows = []
    for week in range(52):
        day = dt.datetime(2024, 1, 1) + dt.timedelta(weeks=week)
        for product, scale in (("P1", 1000), ("P4", 300)):
            price = float(rng.choice(levels))
            units = scale * price ** -1.5 * float(np.exp(rng.normal(0, 0.1)))
            rows.append({"invoice_id": f"{product}-{week}", "invoice_ts": day,
                         "product_id": product, "description": f"product {product}",
                         "category": "Home", "quantity": units, "unit_price": price})
        rows.append({"invoice_id": f"P2-{week}", "invoice_ts": day, "product_id": "P2",
                     "category": "Home", "quantity": 5 + week % 3, "unit_price": 10.0})
        rows.append({"invoice_id": f"P3-{week}", "invoice_ts": day, "product_id": "P3",
                     "category": "Toys", "quantity": 4, "unit_price": 4.0 + week % 2})
    return rows


YEAR = Filters(start=dt.date(2024, 1, 1), end=dt.date(2024, 12, 29))


def test_elasticity_is_recovered_within_its_interval(warehouse):
    publish_lines(warehouse, _priced_rows())
    result = patterns.price_elasticity(warehouse, YEAR, ALL_DATA, currency="£")
    products = result.products.set_index("key")
    p1 = products.loc["P1"]
    assert p1["ci_low"] < -1.5 < p1["ci_high"] and p1["ci_high"] - p1["ci_low"] < 0.3
    assert p1["elasticity"] == pytest.approx(-1.5, abs=0.1)
    assert p1["price_points"] == 8 and p1["weeks"] == 52
    assert pd.isna(p1["reason"]) and "10 % higher prices went with" in p1["sentence"]
    # no variation: P2 one price, P3 two prices (and 25 % apart: the rule is both)
    for key in ("P2", "P3"):
        assert np.isnan(products.loc[key, "elasticity"])
        assert products.loc[key, "reason"] == patterns.NOT_ENOUGH_VARIATION
    categories = result.categories.set_index("key")
    home = categories.loc["Home"]
    assert home["products"] == 2 and home["ci_low"] < -1.5 < home["ci_high"]
    assert home["ci_high"] - home["ci_low"] < 0.2  # pooled: narrower than one product
    assert np.isnan(categories.loc["Toys", "elasticity"])
    assert "enough price variation" in categories.loc["Toys", "reason"]
    assert result.sentence.startswith("Home: 10 % higher prices went with 1")
    assert "less revenue a week" in result.sentence  # elastic: a rise loses revenue
    # the same units with the prices reversed would be a positive slope: the test can fail
    assert p1["elasticity"] < 0


def test_not_enough_price_variation_anywhere(warehouse):
    rows = [r for r in _priced_rows() if r["product_id"] in ("P2", "P3")]
    publish_lines(warehouse, rows)
    result = patterns.price_elasticity(warehouse, YEAR, ALL_DATA)
    assert result.categories["elasticity"].isna().all()
    assert result.sentence.startswith("No category has enough price variation")
    assert "3 distinct prices" in result.sentence


def _customer_rows() -> list[dict]:
    """P1 at 10 unless said. A: 100, 110, 90, 600 (median 105: 600 is 5.7×, and 6.3× the
    median of all, 95); K: 50 × 3;
    D: 200, then returns 150; E: 60 paid at 6 a unit (40 % below the usual 10); B (France):
    one order of 2000 (21× the median order of all, 95)."""
    rows = []

    def order(invoice, customer, quantity, price=10.0, day=2, **extra):
        rows.append({"invoice_id": invoice, "invoice_ts": f"2024-03-{day:02d} 12:00",
                     "customer_id": customer, "quantity": quantity, "unit_price": price,
                     **extra})
    for number, quantity in enumerate((10, 11, 9, 60), start=1):
        order(f"A{number}", "A", quantity, day=number)
    for number in (1, 2, 3):
        order(f"K{number}", "K", 5, day=number)
    order("D1", "D", 20)
    order("CD1", "D", -15, day=5)
    order("E1", "E", 10, price=6.0)
    order("B1", "B", 200, country="France", country_code="FR")
    return rows


MARCH = Filters(start=dt.date(2024, 3, 1), end=dt.date(2024, 3, 31))


def test_unusual_orders_say_why(warehouse):
    publish_lines(warehouse, _customer_rows())
    result = patterns.unusual_orders(warehouse, MARCH, ALL_DATA, currency="£")
    assert result.orders == 10 and result.median_order == pytest.approx(95)
    assert result.counts == {"size": 2, "discount": 1, "refunds": 1}
    items = result.items
    # strongest first: D 75 %/30 %, B1 21×/10, E1 40 %/25 %, A4 5.7×/5
    assert list(items["kind"]) == ["refunds", "size", "discount", "size"]
    assert list(items["customer_id"]) == ["D", "B", "E", "A"]
    reasons = dict(zip(items["customer_id"], items["reason"]))
    assert reasons["A"] == "5.7× the median order of this customer (£105 over 4 orders)"
    assert reasons["B"] == "21.1× the median order of all customers (£95)"
    assert reasons["E"].startswith("paid 40 % below the products' usual prices")
    assert reasons["D"] == "refunds 75 % of their purchases (£150 of £200 up to 2024-03-31)"
    assert items.set_index("customer_id").loc["A", "invoice_id"] == "A4"
    assert result.sentence.startswith("3 unusual orders (2 by size, 1 by discount) among 10, "
                                      "worth £2,660; 1 customer refunding 30 % or more")
    scoped = patterns.unusual_orders(warehouse, MARCH, Scope.of(["GB"]))
    assert "B" not in set(scoped.items["customer_id"]) and scoped.orders == 9
    assert patterns.unusual_orders(warehouse, MARCH, ALL_DATA, limit=2).items.shape[0] == 2


def test_no_orders(warehouse):
    publish_lines(warehouse, _customer_rows())
    result = patterns.unusual_orders(
        warehouse, Filters(start=dt.date(2023, 1, 1), end=dt.date(2023, 1, 31)), ALL_DATA)
    assert result.sentence == "No orders in this period." and result.items.empty


def test_elasticity_is_net_of_a_trend(warehouse):
    """Prices rise 0.5 % a week (inflation) and units 1 % a week (growth) besides
    units = 1000 × price^−1.5: without the trend the slope would come out near +0.5."""
    rng = np.random.default_rng(3)
    rows = []
    for week in range(60):
        price = 10 * 1.005 ** week * float(rng.choice([0.8, 0.9, 1.0, 1.1, 1.2]))
        units = 1000 * price ** -1.5 * 1.01 ** week * float(np.exp(rng.normal(0, 0.05)))
        rows.append({"invoice_id": f"T{week}", "product_id": "P1", "category": "Home",
                     "invoice_ts": dt.datetime(2024, 1, 1) + dt.timedelta(weeks=week),
                     "quantity": units, "unit_price": round(price, 2)})
    publish_lines(warehouse, rows)
    result = patterns.price_elasticity(
        warehouse, Filters(start=dt.date(2024, 1, 1), end=dt.date(2025, 3, 1)), ALL_DATA)
    p1 = result.products.set_index("key").loc["P1"]
    assert p1["ci_low"] < -1.5 < p1["ci_high"] and p1["ci_high"] - p1["ci_low"] < 0.3


def test_a_big_order_for_a_small_buyer_that_is_ordinary_is_not_listed(warehouse):
    rows = [{"invoice_id": f"N{i}", "invoice_ts": f"2024-03-{i + 1:02d} 12:00",
             "customer_id": f"N{i}", "quantity": 10, "unit_price": 10.0} for i in range(9)]
    # S: 20, 20, 20, then 110: 5.5× their median but 1.1× the shop's median order (100)
    rows += [{"invoice_id": f"S{i}", "invoice_ts": f"2024-03-{i + 1:02d} 15:00",
              "customer_id": "S", "quantity": q, "unit_price": 10.0}
             for i, q in enumerate((2, 2, 2, 11))]
    publish_lines(warehouse, rows)
    result = patterns.unusual_orders(warehouse, MARCH, ALL_DATA)
    assert result.median_order == pytest.approx(100) and result.items.empty


def test_a_discount_is_against_the_same_months_price(warehouse):
    """January at 6; December at 13 (prices went up), one December order at 9: only that
    one is below its month's usual price (31 %)."""
    rows = [{"invoice_id": f"J{i}", "invoice_ts": f"2024-01-{i + 1:02d} 12:00",
             "customer_id": f"J{i}", "quantity": 10, "unit_price": 6.0} for i in range(3)]
    rows += [{"invoice_id": f"D{i}", "invoice_ts": f"2024-12-{i + 1:02d} 12:00",
              "customer_id": f"D{i}", "quantity": 10, "unit_price": 13.0} for i in range(4)]
    rows.append({"invoice_id": "X1", "invoice_ts": "2024-12-20 12:00", "customer_id": "X",
                 "quantity": 10, "unit_price": 9.0})
    publish_lines(warehouse, rows)
    result = patterns.unusual_orders(
        warehouse, Filters(start=dt.date(2024, 1, 1), end=dt.date(2024, 12, 31)), ALL_DATA)
    assert list(result.items["invoice_id"]) == ["X1"]
    assert result.items.loc[0, "measure"] == pytest.approx(1 - 9 / 13)


def test_refunds_count_the_purchases_before_the_period(warehouse):
    """R bought 200 in February and returns 120 in March (60 %); Q bought 1,000 in February
    and returns 100 in March (10 %: not listed, though March holds no purchase of theirs);
    three March orders of 100 make the median order."""
    rows = [{"invoice_id": f"N{i}", "invoice_ts": f"2024-03-0{i + 1} 12:00",
             "customer_id": f"N{i}", "quantity": 10, "unit_price": 10.0} for i in range(3)]
    rows += [
        {"invoice_id": "R1", "invoice_ts": "2024-02-10 12:00", "customer_id": "R",
         "quantity": 20, "unit_price": 10.0},
        {"invoice_id": "CR1", "invoice_ts": "2024-03-10 12:00", "customer_id": "R",
         "quantity": -12, "unit_price": 10.0},
        {"invoice_id": "Q1", "invoice_ts": "2024-02-10 12:00", "customer_id": "Q",
         "quantity": 100, "unit_price": 10.0},
        {"invoice_id": "CQ1", "invoice_ts": "2024-03-10 12:00", "customer_id": "Q",
         "quantity": -10, "unit_price": 10.0}]
    publish_lines(warehouse, rows)
    result = patterns.unusual_orders(warehouse, MARCH, ALL_DATA)
    assert list(result.items["customer_id"]) == ["R"]
    assert result.items.loc[0, "reason"] == ("refunds 60 % of their purchases (120 of 200 up "
                                             "to 2024-03-31)")
