"""The data-quality summary of the current version, on DuckDB and PostgreSQL."""
from __future__ import annotations

import datetime as dt

import pandas as pd

from analytics.quality import (OPTIONAL_DIMENSIONS, DataColumns, data_columns, quality_issues,
                               quality_summary)
from tests.analytics.conftest import publish_lines


def test_quality_summary_counts_the_facts(warehouse):
    rows = [
        {"invoice_id": "1", "invoice_ts": "2024-06-01 08:00", "customer_id": "a"},  # sale
        {"invoice_id": "1", "invoice_ts": "2024-06-01 08:00", "customer_id": "a",
         "quantity": -2.0},                                                     # return
        {"invoice_id": "C2", "invoice_ts": "2024-06-03 08:00", "customer_id": "b",
         "quantity": 1.0},                                  # cancellation invoice: return
        {"invoice_id": "3", "invoice_ts": "2024-06-05 08:00", "unit_price": 0.0},
        {"invoice_id": "4", "invoice_ts": "2024-06-10 23:59", "unit_price": -5.0,
         "country": "Unspecified", "country_code": None},
        {"invoice_id": "5", "invoice_ts": "2024-06-10 12:00", "customer_id": "c",
         "country": "European Community", "country_code": None},
    ]
    version = publish_lines(warehouse, rows)
    summary = quality_summary(warehouse, today=dt.date(2024, 6, 17))
    assert summary["version"] == version
    assert summary["source"] == "test"
    assert summary["report"] == {}
    assert {key: summary[key] for key in (
        "lines", "sale_lines", "return_lines", "price_not_positive_lines",
        "missing_customer_lines", "lines_without_country_code", "countries_without_code",
        "first_date", "last_date", "freshness_days")} == {
        "lines": 6, "sale_lines": 2, "return_lines": 2, "price_not_positive_lines": 2,
        "missing_customer_lines": 2, "lines_without_country_code": 2,
        "countries_without_code": ["European Community", "Unspecified"],
        "first_date": "2024-06-01", "last_date": "2024-06-10", "freshness_days": 7,
    }


def test_quality_summary_carries_the_load_report(warehouse):
    frame = pd.DataFrame({"invoice_id": ["9"], "invoice_ts": [pd.Timestamp("2024-01-01")],
                          "product_id": ["P"], "quantity": [1.0], "unit_price": [2.0],
                          "country": ["France"], "customer_id": ["x"]})
    warehouse.publish(frame, source="upload.csv", quality={"lines_rejected": 3})
    summary = quality_summary(warehouse, today=dt.date(2024, 1, 1))
    assert summary["report"] == {"lines_rejected": 3}
    assert summary["source"] == "upload.csv"
    assert summary["freshness_days"] == 0
    assert summary["lines_without_country_code"] == 1      # no code given for France


def test_quality_summary_of_an_empty_version(warehouse):
    publish_lines(warehouse, [])
    summary = quality_summary(warehouse)
    assert summary["lines"] == 0
    assert summary["first_date"] is None and summary["freshness_days"] is None
    assert summary["countries_without_code"] == []


def test_data_columns_follow_each_version(warehouse):
    assert data_columns(warehouse) == DataColumns()           # nothing loaded: nothing missing
    publish_lines(warehouse, [{"invoice_id": "1", "invoice_ts": "2024-06-01 08:00"}])
    bare = data_columns(warehouse)
    assert bare.missing == frozenset(OPTIONAL_DIMENSIONS)
    assert {"city", "channel", "traffic_source"} <= bare.missing and "country" not in bare.missing
    assert not bare.has_cost and not bare.has_sessions
    publish_lines(warehouse, [{"invoice_id": "1", "invoice_ts": "2024-06-01 08:00",
                               "device": "mobile", "unit_cost": 1.0}])
    richer = data_columns(warehouse)
    assert richer.missing == frozenset(OPTIONAL_DIMENSIONS) - {"device"}
    assert richer.has_cost


def test_quality_issues_are_sentences_for_what_the_load_counted():
    assert quality_issues({}) == []
    assert quality_issues({"lines_rejected": 0, "unknown_countries": {}}) == []
    assert quality_issues({"lines_rejected": 1234, "price_not_positive_lines": 2,
                           "missing_customer_lines": 5,
                           "unknown_countries": {"Atlantis": 3}}) == [
        "1,234 lines rejected", "2 lines with a price of 0 or less (left out of totals)",
        "5 lines without a customer id", "1 unrecognised country"]
    assert quality_issues({"unknown_countries": {"A": 1, "B": 2}}) == [
        "2 unrecognised countries"]


def test_quality_issues_put_the_loads_warnings_first_and_say_what_was_left_out():
    report = {"lines_rejected": 1,
              "warnings": [{"code": "order_level_column", "message": "Column 'Billing "
                            "Country' is filled only on the first line", "lines": 2,
                            "rows": [3], "fix": "add \"country\" to \"order_level\""}],
              "orders": {"excluded": {"Financial Status = voided": {"orders": 2,
                                                                    "lines": 3}}}}
    assert quality_issues(report) == [
        "Warning: Column 'Billing Country' is filled only on the first line Fix: add "
        "\"country\" to \"order_level\"",
        "2 orders (3 lines) left out: Financial Status = voided",
        "1 lines rejected"]
