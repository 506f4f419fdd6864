"""Finding 7 of the hardening issue: under a data scope nothing tells about the lines
outside it: the quality summary counts the scope's lines, and line ids (a sequence over
the whole version) are not shown. Worked out on a tiny warehouse of FR and GB lines."""
from __future__ import annotations

import csv
import io

from analytics import quality
from analytics.filters import ALL_DATA, Filters, Scope
from analytics.transactions import TRANSACTION_COLUMNS, transactions_csv, transactions_page
from tests.analytics.conftest import publish_lines

FRANCE = Scope.of(["FR"])
MARCH = Filters.from_query("start=2011-03-01&end=2011-03-31")


def _line(invoice, day, code, customer="c1", price=5.0):
    country = {"FR": "France", "GB": "United Kingdom", None: "Unspecified"}[code]
    return {"invoice_id": invoice, "invoice_ts": f"2011-03-{day:02d} 10:00",
            "customer_id": customer, "product_id": "P1", "description": "Mug",
            "quantity": 1, "unit_price": price, "country": country, "country_code": code}


#: GB: 4 lines to 20 March, one without a customer, one at price 0; a codeless line on
#: the 25th; FR: 2 clean lines, the last on 10 March.
LINES = [_line("G1", 1, "GB"), _line("G2", 2, "GB", customer=None),
         _line("G3", 3, "GB", price=0.0), _line("F1", 5, "FR", "c9"), _line("G4", 20, "GB"),
         _line("F2", 10, "FR", "c9"), _line("U1", 25, None)]


def test_a_scoped_quality_summary_counts_the_scopes_lines_only(warehouse):
    publish_lines(warehouse, LINES)
    everything = quality.quality_summary(warehouse)
    france = quality.quality_summary(warehouse, scope=FRANCE)
    assert (everything["lines"], everything["missing_customer_lines"],
            everything["price_not_positive_lines"], everything["last_date"],
            everything["countries_without_code"]) == (7, 1, 1, "2011-03-25", ["Unspecified"])
    assert (france["lines"], france["sale_lines"], france["missing_customer_lines"],
            france["price_not_positive_lines"], france["lines_without_country_code"],
            france["first_date"], france["last_date"],
            france["countries_without_code"]) == (2, 2, 0, 0, 0, "2011-03-05", "2011-03-10",
                                                  [])
    assert france["scope"] == "FR" and france["report"] == {}
    assert quality.summary_issues(france) == []
    assert quality.summary_issues(quality.quality_summary(warehouse, scope=Scope.of(["GB"]))) \
        == ["1 lines with a price of 0 or less (left out of totals)",
            "1 lines without a customer id"]
    assert quality.scoped_summary(warehouse, MARCH, FRANCE)["lines"] == 2


def _csv(warehouse, scope) -> list[dict]:
    text = "".join(transactions_csv(warehouse, MARCH, scope, sort="line_id"))
    return list(csv.DictReader(io.StringIO(text)))


def test_line_ids_are_shown_only_to_callers_who_see_all_data(warehouse):
    publish_lines(warehouse, LINES)
    page, total = transactions_page(warehouse, MARCH, ALL_DATA, sort="line_id")
    assert total == 7 and list(page["line_id"]) == list(range(1, 8))

    # F1 and F2 are lines 4 and 5 of 7 (ids follow time): a scoped caller must not learn that
    page, total = transactions_page(warehouse, MARCH, FRANCE, sort="line_id")
    assert total == 2 and list(page["invoice_id"]) == ["F1", "F2"]
    assert list(page.columns) == list(TRANSACTION_COLUMNS)
    assert page["line_id"].isna().all()
    table = _csv(warehouse, FRANCE)
    assert [row["invoice_id"] for row in table] == ["F1", "F2"]
    assert [row["line_id"] for row in table] == ["", ""]
    everything = _csv(warehouse, ALL_DATA)
    assert [row["line_id"] for row in everything if row["invoice_id"].startswith("F")] == \
        ["4", "5"]
