"""The benchmark's Polars reference gives the numbers of docs/METRICS.md on tiny hand-made
data, agrees with the analytics engine cell by cell, and its check fails when one cell
differs (so a passing benchmark row means something)."""
from __future__ import annotations

import datetime as dt
import math

import pandas as pd
import pytest

from analytics import schema
from analytics.cache import Cache
from analytics.filters import ALL_DATA, Filters
from analytics.warehouse import Warehouse
from bench import polars_reference
from bench.analytics import workload
from tests.analytics.conftest import LINE_DEFAULTS

ROWS = [
    # two sale lines of one order: 2 × 5 + 1 × 3 = 13
    {"invoice_id": "I1", "invoice_ts": "2025-01-10 10:00", "customer_id": "C1",
     "product_id": "P1", "quantity": 2.0, "unit_price": 5.0, "country": "France",
     "country_code": "FR", "category": "Mugs"},
    {"invoice_id": "I1", "invoice_ts": "2025-01-10 10:00", "customer_id": "C1",
     "product_id": "P2", "quantity": 1.0, "unit_price": 3.0, "country": "France",
     "country_code": "FR", "category": "Plates"},
    {"invoice_id": "I2", "invoice_ts": "2025-01-20 09:00", "customer_id": "C2",
     "product_id": "P1", "quantity": 1.0, "unit_price": 5.0, "category": "Mugs"},
    # a return of 5
    {"invoice_id": "C3", "invoice_ts": "2025-01-25 12:00", "customer_id": "C1",
     "product_id": "P1", "quantity": -1.0, "unit_price": 5.0, "country": "France",
     "country_code": "FR", "category": "Mugs"},
    # unit price 0: never counted
    {"invoice_id": "I4", "invoice_ts": "2025-01-05 08:00", "customer_id": "C2",
     "product_id": "P2", "quantity": 1.0, "unit_price": 0.0, "category": "Plates"},
    # the previous period (2024-12-02 … 2024-12-31): C1 bought for 5
    {"invoice_id": "I5", "invoice_ts": "2024-12-20 15:00", "customer_id": "C1",
     "product_id": "P1", "quantity": 1.0, "unit_price": 5.0, "country": "France",
     "country_code": "FR", "category": "Mugs"},
]
PERIOD = Filters(start=dt.date(2025, 1, 1), end=dt.date(2025, 1, 30))


def _frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    records = [{**LINE_DEFAULTS, **row, "is_cancellation": row["invoice_id"].startswith("C")}
               for row in ROWS]
    lines = pd.DataFrame.from_records(records, columns=list(schema.LINE_COLUMNS))
    lines["invoice_ts"] = pd.to_datetime(lines["invoice_ts"])
    lines["is_cancellation"] = lines["is_cancellation"].astype(bool)
    for name, dtype in schema.LINE_COLUMNS.items():
        if dtype == "string":
            lines[name] = lines[name].astype("string")
    sessions = pd.DataFrame({name: pd.Series(dtype=dtype)
                             for name, dtype in schema.SESSION_COLUMNS.items()})
    return lines, sessions


@pytest.fixture(scope="module")
def answers(tmp_path_factory):
    """(engine answers, reference answers) of the overview over ``PERIOD``."""
    lines, sessions = _frames()
    warehouse = Warehouse(f"duckdb:///{tmp_path_factory.mktemp('wh') / 'warehouse'}")
    try:
        warehouse.publish(lines, sessions, source="test")
        cache = Cache()
        engine = {name: cache.call(func, warehouse, PERIOD, ALL_DATA, **options)
                  for name, func, options in workload()}
    finally:
        warehouse.dispose()
    reference = polars_reference.overview(polars_reference.prepare(lines, sessions), PERIOD)
    return polars_reference.engine_answers(engine), reference


def test_the_reference_counts_as_metrics_md_says(answers):
    _engine, reference = answers
    kpis = reference["kpi_summary"]
    assert kpis["gross_revenue"] == (18.0, 5.0)      # 10 + 3 + 5; before: 5
    assert kpis["returns"] == (5.0, 0.0)
    assert kpis["revenue"] == (13.0, 5.0)
    assert kpis["orders"] == (2, 1)                  # I1, I2 (I4 is not a sale)
    assert kpis["customers"] == (2, 1)
    assert kpis["units"] == (4.0, 1.0)
    assert kpis["churn_rate"][0] == 0.0              # C1 bought again
    assert kpis["repeat_rate"][0] == 0.0
    assert kpis["ltv"][0] == pytest.approx((5 + 13 - 5 + 5) / 2)  # C1: 13, C2: 5
    assert kpis["conversion_rate"] == (None, None)   # no sessions
    countries = reference["top_countries"]
    assert countries["key"] == ["France", "United Kingdom"]
    assert countries["revenue"] == [8.0, 5.0]
    assert countries["orders"] == [1, 1]
    rfm = reference["rfm"]
    assert rfm["customer_id"] == ["C1", "C2"]
    assert rfm["recency"] == [21, 11]                # last sales 10 and 20 January
    assert rfm["monetary"] == [8.0, 5.0]


def test_the_engine_and_the_reference_agree_cell_by_cell(answers):
    engine, reference = answers
    result = polars_reference.check(engine, reference)
    assert result.passed, result.mismatches
    assert result.cells > 100


def test_one_different_cell_fails_the_check(answers):
    engine, reference = answers
    wrong = {**engine, "kpi_summary": {**engine["kpi_summary"], "orders": (3, 1)}}
    result = polars_reference.check(wrong, reference)
    assert not result.passed
    assert result.mismatches == ["kpi_summary.orders[0]: 3 != reference 2"]
    series = dict(engine["series_day"])
    series["revenue"] = [*series["revenue"][:-1], series["revenue"][-1] + 0.01]
    assert not polars_reference.check({**engine, "series_day": series}, reference).passed


def test_a_missing_row_or_column_fails_the_check(answers):
    engine, reference = answers
    shorter = {name: values[:-1] for name, values in engine["rfm"].items()}
    assert not polars_reference.check({**engine, "rfm": shorter}, reference).passed
    fewer = {name: values for name, values in engine["categories"].items() if name != "share"}
    assert not polars_reference.check({**engine, "categories": fewer}, reference).passed


def test_a_cell_is_the_same_within_float_noise_and_missing_only_as_missing():
    same = polars_reference.same
    assert same(1.0, 1.0 + 1e-12) and not same(1.0, 1.001)
    assert same(None, math.nan) and same(pd.NA, None)
    assert not same(None, 0.0) and not same(0, math.nan)
    assert same(dt.date(2025, 1, 1), pd.Timestamp("2025-01-01"))
    assert not same(True, False) and same("GB", "GB") and not same("GB", "FR")
