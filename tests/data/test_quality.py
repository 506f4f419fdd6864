"""The data-quality report on a hand-made line-item frame."""
import pandas as pd

from data.quality import build_report, render_report


def frame(rows):
    columns = ["invoice_id", "invoice_ts", "customer_id", "product_id", "quantity",
               "unit_price", "country", "is_cancellation"]
    lines = pd.DataFrame(rows, columns=columns)
    lines["invoice_ts"] = pd.to_datetime(lines["invoice_ts"])
    lines["customer_id"] = lines["customer_id"].astype("string")
    return lines


LINES = frame([
    ("1", "2024-01-01 09:00", "A", "P1", 2, 10.0, "United Kingdom", False),   # sale 20
    ("1", "2024-01-01 09:00", "A", "P1", 2, 10.0, "United Kingdom", False),   # duplicate, 20
    ("2", "2024-01-02 10:00", None, "P2", 1, 5.0, "EIRE", False),             # sale 5
    ("C3", "2024-01-03 11:00", "A", "P1", -1, 10.0, "United Kingdom", True),  # return 10
    ("4", "2024-01-04 12:00", "B", "P3", -2, 4.0, "Atlantis", False),         # return 8
    ("5", "2024-01-05 13:00", "B", "P4", 1, 0.0, "Channel Islands", False),   # price 0
    ("6", "2024-01-06 14:00", None, "P5", 3, -1.0, "Unspecified", False),     # price < 0
])


def test_report_counts_and_totals_follow_metrics():
    rejects = pd.DataFrame({"source_row": [9, 10, 11],
                            "reject_reason": ["unparseable date", "unparseable date",
                                              "missing product id"]})
    report = build_report(LINES, rejects=rejects, lines_read=10, source="x.csv",
                          format="online-retail", notes=["encoding utf-8"])
    assert (report["lines_read"], report["lines_loaded"], report["lines_rejected"]) == (10, 7, 3)
    assert report["rejected_by_reason"] == {"unparseable date": 2, "missing product id": 1}
    assert report["exact_duplicate_lines"] == 1
    assert report["cancellations"] == {"invoices": 1, "lines": 1}
    assert report["price_not_positive_lines"] == 2
    assert report["missing_customer_lines"] == 2
    assert report["unknown_countries"] == {"Atlantis": 1}
    assert set(report["countries_without_code"]) == {"Channel Islands", "Unspecified"}
    assert report["countries_without_code"]["Channel Islands"]["lines"] == 1
    assert report["date_range"] == {"first": "2024-01-01 09:00:00",
                                    "last": "2024-01-06 14:00:00"}
    assert report["totals"] == {
        "gross_sales": 45.0, "returns": 18.0, "net_revenue": 27.0,
        "invoices": 6, "orders": 2, "customers": 2, "customers_with_sale": 1,
        "products": 5, "countries": 5, "cost": None, "profit": None,
        "lines_without_cost": None}
    assert "kept" in report["notes"][-1]


def test_rendering_names_every_problem():
    text = render_report(build_report(LINES, source="x.csv"), currency="€")
    assert "UNKNOWN country: 'Atlantis'" in text
    assert "'Channel Islands'" in text and "JE" in text
    assert "net revenue     €" in text and "27.00" in text
    assert "exact duplicate lines" in text


def test_profit_check_follows_metrics():
    lines = LINES.assign(unit_cost=[6.0, 6.0, None, 7.0, 3.0, 1.0, 0.5])
    totals = build_report(lines)["totals"]
    # sale and return lines only (price > 0): 2×6 + 2×6 + (−1)×7 + (−2)×3 = 11; the line
    # without a cost counts 0; the price-0 and price-negative lines are left out
    assert totals["cost"] == 11.0
    assert totals["profit"] == 27.0 - 11.0
    assert totals["lines_without_cost"] == 1
    text = render_report(build_report(lines), currency="€")
    assert "cost            €          11.00" in text
    assert "profit          €          16.00  (margin 59.3%)" in text
    assert "1 sale or return lines have no unit cost" in text
    assert "profit " not in render_report(build_report(LINES))


def test_warnings_and_orders_are_rendered():
    warnings = [{"code": "order_level_column",
                 "message": "Column 'Billing Country' (country) is filled only on the first "
                            "line of each order", "lines": 1234, "rows": [3, 5, 6],
                 "fix": "add \"country\" to \"order_level\""},
                {"code": "unmapped_field", "message": "No column is mapped to customer_id",
                 "lines": 7, "rows": [], "fix": ""},
                {"code": "x", "message": "One", "lines": 1, "rows": [9], "fix": "f"}]
    orders = {"excluded_orders": {"Financial Status = voided": {"orders": 3, "lines": 5}},
              "discounts_spread": 12.5, "refunds": {"orders": 2, "amount": 47.0},
              "currency": "EUR", "product_id_fallback_lines": 1200, "shipping": None,
              "something_new": ["a", "b"]}
    report = build_report(LINES, warnings=warnings, orders=orders)
    assert report["warnings"] == warnings and report["orders"] == orders
    text = render_report(report, currency="€")
    lines = text.splitlines()
    assert lines[1] == ("  WARNING Column 'Billing Country' (country) is filled only on the "
                        "first line of each order (1,234 lines, e.g. rows 3, 5, 6)")
    assert lines[2] == '    fix: add "country" to "order_level"'
    assert lines[3] == "  WARNING No column is mapped to customer_id (7 lines)"
    assert lines[4:6] == ["  WARNING One (1 line, e.g. row 9)", "    fix: f"]
    assert "  orders (order-level columns):" in lines
    assert "    excluded orders:" in lines
    assert "      Financial Status = voided: orders 3, lines 5" in lines
    assert "    discounts spread: 12.50" in lines
    assert "    refunds: orders 2, amount €47.00" in lines
    assert "    currency: EUR" in lines
    assert "    product id fallback lines: 1,200" in lines
    assert "    shipping: —" in lines
    assert "    something new: a, b" in lines
    assert "orders (order-level" not in render_report(build_report(LINES))
