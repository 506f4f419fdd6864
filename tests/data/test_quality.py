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
        "products": 5, "countries": 5}
    assert "kept" in report["notes"][-1]


def test_rendering_names_every_problem():
    text = render_report(build_report(LINES, source="x.csv"), currency="€")
    assert "UNKNOWN country: 'Atlantis'" in text
    assert "'Channel Islands'" in text and "JE" in text
    assert "net revenue     €" in text and "27.00" in text
    assert "exact duplicate lines" in text
