"""RFM and cohorts on the real Online Retail file, against an independent pandas computation
written here from METRICS.md. One module-wide DuckDB load (slow: ~10 s)."""
from __future__ import annotations

import datetime as dt
import logging
import time

import pandas as pd
import pytest

from analytics import rollups
from analytics.cohorts import cohort_table
from analytics.customers import rfm_segments, rfm_table
from analytics.filters import ALL_DATA, Filters
from analytics.segments import SEGMENTS
from analytics.warehouse import Warehouse
from tests.analytics.test_rfm import EXPECTED_GRID

pytestmark = pytest.mark.slow
log = logging.getLogger(__name__)

WHOLE_FILE = Filters(start=dt.date(2010, 12, 1), end=dt.date(2011, 12, 9))
AUTUMN_UK = Filters(start=dt.date(2011, 9, 1), end=dt.date(2011, 11, 30),
                    countries=("United Kingdom",))


@pytest.fixture(scope="module")
def retail(online_retail_path) -> pd.DataFrame:
    """The file as a line-item frame (columns mapped by hand, no loader involved)."""
    raw = pd.read_csv(online_retail_path,
                      dtype={"InvoiceNo": str, "StockCode": str, "CustomerID": str},
                      parse_dates=["InvoiceDate"], keep_default_na=False,
                      na_values={"CustomerID": [""], "Description": [""]})
    return pd.DataFrame({
        "invoice_id": raw["InvoiceNo"], "invoice_ts": raw["InvoiceDate"],
        "customer_id": raw["CustomerID"], "product_id": raw["StockCode"],
        "description": raw["Description"], "quantity": raw["Quantity"].astype(float),
        "unit_price": raw["UnitPrice"].astype(float), "country": raw["Country"],
        "is_cancellation": raw["InvoiceNo"].str.startswith("C"),
    })


@pytest.fixture(scope="module")
def retail_warehouse(retail, tmp_path_factory) -> Warehouse:
    warehouse = Warehouse(f"duckdb:///{tmp_path_factory.mktemp('retail') / 'warehouse'}")
    warehouse.publish(retail, source="online_retail.csv.gz")
    yield warehouse
    warehouse.dispose()


def counted_lines(retail: pd.DataFrame, filters: Filters) -> pd.DataFrame:
    """Sale and return lines (METRICS.md) of identified customers, under the countries of
    ``filters`` and up to its end; with columns value, day, is_sale."""
    price_ok = retail["unit_price"] > 0
    is_sale = (retail["quantity"] > 0) & ~retail["is_cancellation"] & price_ok
    is_return = ((retail["quantity"] < 0) | retail["is_cancellation"]) & price_ok
    keep = (is_sale | is_return) & retail["customer_id"].notna()
    if filters.countries:
        keep &= retail["country"].isin(filters.countries)
    lines = retail.loc[keep, ["invoice_id", "customer_id"]].copy()
    lines["value"] = retail["quantity"] * retail["unit_price"]
    lines["day"] = retail["invoice_ts"].dt.normalize()
    lines["is_sale"] = is_sale
    return lines[lines["day"] <= pd.Timestamp(filters.end)]


def score(frame: pd.DataFrame, by: str, ascending: bool) -> pd.Series:
    """ceil(5 × position ÷ count) after sorting by ``by`` then customer id ascending."""
    ordered = frame.sort_values([by, "customer_id"], ascending=[ascending, True])
    count = len(ordered)
    positions = pd.Series(range(1, count + 1), index=ordered.index)
    return (5 * positions + count - 1) // count


def pandas_rfm(retail: pd.DataFrame, filters: Filters) -> pd.DataFrame:
    lines = counted_lines(retail, filters)
    lines = lines[lines["day"] >= pd.Timestamp(filters.start)]
    sales = lines[lines["is_sale"]]
    table = pd.DataFrame({
        "last_sale": sales.groupby("customer_id")["day"].max(),
        "frequency": sales.groupby("customer_id")["invoice_id"].nunique(),
    })
    table["monetary"] = lines.groupby("customer_id")["value"].sum()
    table = table.reset_index()
    as_of = pd.Timestamp(filters.end + dt.timedelta(days=1))
    table["recency"] = (as_of - table["last_sale"]).dt.days
    # prices carry at most 3 decimals: rounding recovers the exact sums that float
    # addition blurs, so equal revenues tie as METRICS.md means them to
    table["money"] = table["monetary"].round(6)
    table["r"] = score(table, "recency", ascending=False)
    table["f"] = score(table, "frequency", ascending=True)
    table["m"] = score(table, "money", ascending=True)
    table["fm"] = (table["f"] + table["m"] + 1) // 2
    table["segment"] = [EXPECTED_GRID[(r, fm)] for r, fm in zip(table["r"], table["fm"])]
    return table.set_index("customer_id").sort_index()


@pytest.mark.parametrize("filters", [WHOLE_FILE, AUTUMN_UK], ids=["whole-file", "autumn-uk"])
def test_rfm_matches_pandas(retail, retail_warehouse, filters):
    started = time.perf_counter()
    table = rfm_table(retail_warehouse, filters, ALL_DATA)
    log.info("rfm_table on Online Retail (%s): %.2f s", filters.to_query(),
             time.perf_counter() - started)
    expected = pandas_rfm(retail, filters)
    got = table.set_index("customer_id").sort_index()
    assert list(got.index) == list(expected.index)
    for column in ("recency", "frequency", "r", "f", "m", "fm"):
        assert (got[column].to_numpy() == expected[column].to_numpy()).all(), column
    assert (got["segment"].to_numpy() == expected["segment"].to_numpy()).all()
    assert got["monetary"].to_numpy() == pytest.approx(expected["monetary"].to_numpy(),
                                                       abs=1e-6)
    sizes = rfm_segments(retail_warehouse, filters, ALL_DATA).set_index("segment")["customers"]
    assert sizes.to_dict() == expected["segment"].value_counts().reindex(
        list(SEGMENTS), fill_value=0).to_dict()


def test_facts_give_the_rollups_answers(retail_warehouse):
    from_rollups = rfm_table(retail_warehouse, WHOLE_FILE, ALL_DATA)
    with rollups.facts_only():
        from_facts = rfm_table(retail_warehouse, WHOLE_FILE, ALL_DATA)
    columns = ["customer_id", "recency", "frequency", "r", "f", "m", "fm", "segment"]
    assert from_rollups[columns].equals(from_facts[columns])
    assert from_rollups["monetary"].to_numpy() == pytest.approx(
        from_facts["monetary"].to_numpy(), abs=1e-6)


def test_whole_file_has_the_published_customer_count(retail_warehouse):
    # the README's 4,372 customer ids include those with only cancellations or price-0
    # lines; 4,338 of them have a sale line (a figure widely quoted for this data set)
    assert len(rfm_table(retail_warehouse, WHOLE_FILE, ALL_DATA)) == 4338


def pandas_cohorts(retail: pd.DataFrame, filters: Filters) -> pd.DataFrame:
    lines = counted_lines(retail, filters)
    lines["month"] = lines["day"].dt.to_period("M")
    first = lines[lines["is_sale"]].groupby("customer_id")["day"].min()
    cohort = first.dt.to_period("M").rename("cohort")
    shown = first[(first >= pd.Timestamp(filters.start).to_period("M").start_time)
                  & (first <= pd.Timestamp(filters.end))].index
    lines = lines.join(cohort, on="customer_id")
    lines = lines[lines["customer_id"].isin(shown) & (lines["month"] >= lines["cohort"])]
    sizes = cohort[shown].value_counts()
    active = lines[lines["is_sale"]].groupby(["cohort", "month"])["customer_id"].nunique()
    revenue = lines.groupby(["cohort", "month"])["value"].sum()
    result = pd.DataFrame({"customers": active, "revenue": revenue}).fillna(0).reset_index()
    result["cohort_size"] = result["cohort"].map(sizes)
    result["retention"] = result["customers"] / result["cohort_size"]
    result["offset"] = [(m - c).n for c, m in zip(result["cohort"], result["month"])]
    result["cohort"] = result["cohort"].dt.start_time
    return result.set_index(["cohort", "offset"]).sort_index()


def test_cohorts_match_pandas(retail, retail_warehouse):
    filters = Filters(start=dt.date(2011, 1, 15), end=dt.date(2011, 12, 9))
    started = time.perf_counter()
    customers = cohort_table(retail_warehouse, filters, ALL_DATA)
    log.info("cohort_table on Online Retail: %.2f s", time.perf_counter() - started)
    revenue = cohort_table(retail_warehouse, filters, ALL_DATA, measure="revenue")
    expected = pandas_cohorts(retail, filters)
    got = customers.set_index(["cohort", "offset"])
    # every cohort January…December 2011, offsets up to December; empty cells are zeros
    assert len(got) == sum(range(1, 13))
    seen = got.loc[expected.index]
    assert (seen["value"].to_numpy() == expected["customers"].to_numpy()).all()
    assert seen["retention"].to_numpy() == pytest.approx(expected["retention"].to_numpy())
    assert (seen["cohort_size"].to_numpy() == expected["cohort_size"].to_numpy()).all()
    assert got.drop(expected.index)["value"].eq(0).all()
    revenue_cells = revenue.set_index(["cohort", "offset"]).loc[expected.index]
    assert revenue_cells["value"].to_numpy() == pytest.approx(
        expected["revenue"].to_numpy(), rel=1e-9, abs=1e-6)
    # December 2010's customers are a cohort before the period: not shown
    assert got.index.get_level_values("cohort").min() == pd.Timestamp("2011-01-01")
