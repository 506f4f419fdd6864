"""KPIs and the country breakdown on the real Online Retail file, against an independent
pandas computation written here from METRICS.md (one load into DuckDB, one into ClickHouse
run by chDB, for the module)."""
from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from analytics.breakdowns import breakdown
from analytics.filters import ALL_DATA, Filters
from analytics.kpis import kpi_summary
from analytics.warehouse import Warehouse
from tests.conftest import need_chdb

pytestmark = pytest.mark.slow

PERIOD = Filters(start=dt.date(2011, 9, 1), end=dt.date(2011, 9, 30))


@pytest.fixture(scope="module", params=["duckdb", "chdb"])
def retail(request, tmp_path_factory, online_retail_path):
    from data.loader import load_file
    if request.param == "chdb":
        need_chdb()
    warehouse = Warehouse(f"{request.param}:///{tmp_path_factory.mktemp('retail') / 'warehouse'}")
    load_file(warehouse, online_retail_path)
    yield warehouse
    warehouse.dispose()


@pytest.fixture(scope="module")
def raw(online_retail_path) -> pd.DataFrame:
    """The file read with plain pandas, with the METRICS.md line flags."""
    frame = pd.read_csv(online_retail_path, dtype={"InvoiceNo": str, "StockCode": str,
                                                   "CustomerID": str, "Country": str})
    frame["ts"] = pd.to_datetime(frame["InvoiceDate"])
    frame["day"] = frame["ts"].dt.date
    frame["value"] = frame["Quantity"] * frame["UnitPrice"]
    cancelled = frame["InvoiceNo"].str.startswith("C")
    priced = frame["UnitPrice"] > 0
    frame["sale"] = (frame["Quantity"] > 0) & ~cancelled & priced
    frame["return"] = ((frame["Quantity"] < 0) | cancelled) & priced
    return frame


def expected_kpis(raw: pd.DataFrame, start: dt.date, end: dt.date,
                  previous_start: dt.date) -> dict:
    in_period = (raw["day"] >= start) & (raw["day"] <= end)
    sales = raw[in_period & raw["sale"]]
    returns = raw[in_period & raw["return"]]
    gross = sales["value"].sum()
    orders = sales["InvoiceNo"].nunique()
    customers = set(sales["CustomerID"].dropna())
    previous_end = start - dt.timedelta(days=1)
    before = raw[(raw["day"] >= previous_start) & (raw["day"] <= previous_end) & raw["sale"]]
    previous_customers = set(before["CustomerID"].dropna())
    orders_per_customer = sales.dropna(subset=["CustomerID"]).groupby("CustomerID")[
        "InvoiceNo"].nunique()
    counted = raw[(raw["sale"] | raw["return"]) & (raw["day"] <= end)].dropna(
        subset=["CustomerID"])
    first_sale = counted[counted["sale"]].groupby("CustomerID")["ts"].min()
    since_first = counted[counted["ts"] >= counted["CustomerID"].map(first_sale)]
    lifetime = since_first.groupby("CustomerID")["value"].sum()
    return {
        "gross_revenue": gross,
        "returns": -returns["value"].sum(),
        "revenue": gross + returns["value"].sum(),
        "orders": orders,
        "aov": gross / orders,
        "units": sales["Quantity"].sum(),
        "customers": len(customers),
        "churn_rate": len(previous_customers - customers) / len(previous_customers),
        "ltv": lifetime.reindex(sorted(customers)).mean(),
        "repeat_rate": (orders_per_customer >= 2).sum() / len(customers),
    }


def test_kpis_match_pandas(retail, raw):
    summary = kpi_summary(retail, PERIOD, ALL_DATA)
    expected = expected_kpis(raw, PERIOD.start, PERIOD.end, dt.date(2011, 8, 2))
    assert {name: summary[name].current for name in expected} == pytest.approx(expected)
    previous = expected_kpis(raw, dt.date(2011, 8, 2), dt.date(2011, 8, 31),
                             dt.date(2011, 7, 3))
    assert {name: summary[name].previous for name in previous} == pytest.approx(previous)
    assert summary["profit"].reason == "no cost data"
    assert summary["conversion_rate"].reason == "no sessions data"

    default = kpi_summary(retail, Filters(), ALL_DATA)
    assert (default.start, default.end) == (dt.date(2011, 11, 10), dt.date(2011, 12, 9))


def test_country_breakdown_matches_pandas(retail, raw):
    frame = breakdown(retail, PERIOD, ALL_DATA, "country").set_index("key")
    in_period = raw[(raw["day"] >= PERIOD.start) & (raw["day"] <= PERIOD.end)]
    sales = in_period[in_period["sale"]]
    counted = in_period[in_period["sale"] | in_period["return"]]
    revenue = counted.groupby("Country")["value"].sum()
    orders = sales.groupby("Country")["InvoiceNo"].nunique()
    customers = sales.groupby("Country")["CustomerID"].nunique()
    assert sorted(frame.index) == sorted(revenue.index)
    assert frame["revenue"].to_dict() == pytest.approx(revenue.to_dict())
    assert frame["orders"].to_dict() == orders.reindex(frame.index).fillna(0).to_dict()
    assert frame["customers"].to_dict() == customers.reindex(frame.index).fillna(0).to_dict()
    assert frame.loc["EIRE", "country_code"] == "IE"
    assert frame["share"].sum() == pytest.approx(1)
