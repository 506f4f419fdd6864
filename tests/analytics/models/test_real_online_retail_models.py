"""The models on the real Online Retail file (slow: the whole file, one shared warehouse)."""
import pandas as pd
import pytest

from analytics.filters import ALL_DATA, Filters
from analytics.models import run_model

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sale_baskets(online_retail_path) -> pd.DataFrame:
    """Independent of the models: (invoice, product) of sale lines, read with plain pandas."""
    raw = pd.read_csv(online_retail_path, dtype={"InvoiceNo": str, "StockCode": str})
    sale = raw[(raw["Quantity"] > 0) & (raw["UnitPrice"] > 0)
               & ~raw["InvoiceNo"].str.startswith("C")]
    return sale[["InvoiceNo", "StockCode"]].drop_duplicates()


def test_forecast_reports_its_backtest_against_the_baseline(online_retail_warehouse):
    result = run_model("forecast", online_retail_warehouse, Filters(), ALL_DATA,
                       {"metric": "revenue", "horizon": 90})
    assert result["country_holidays"] == "GB"
    prophet = next(row for row in result["leaderboard"] if row["model"] == "Prophet")
    assert "closed on Saturday" in prophet["description"]  # the shop never sells on Saturdays
    model, baseline = result["accuracy"], result["baseline"]["accuracy"]
    assert result["backtest"]["holdout_days"] == model["days"] == baseline["days"]
    for metrics in (model, baseline):
        assert {"mape", "smape", "rmse", "r2"} <= set(metrics)
    assert model["rmse"] < baseline["rmse"]               # measured: ~20.2k vs ~29.4k
    assert result["beats_baseline"] is True


def test_basket_rules_agree_with_a_plain_pandas_count(online_retail_warehouse, sale_baskets):
    result = run_model("basket", online_retail_warehouse, Filters(), ALL_DATA,
                       {"min_support": 0.01, "product": "85123A"})
    invoices = sale_baskets["InvoiceNo"].nunique()
    assert result["baskets"] == invoices
    # independent pair count over the products in at least 1 % of the invoices
    counts = sale_baskets.groupby("StockCode")["InvoiceNo"].nunique()
    frequent = counts[counts >= 0.01 * invoices].index
    lines = sale_baskets[sale_baskets["StockCode"].isin(frequent)]
    pairs = lines.merge(lines, on="InvoiceNo")
    pairs = pairs[pairs["StockCode_x"] < pairs["StockCode_y"]]
    together = pairs.groupby(["StockCode_x", "StockCode_y"]).size()
    together = together[together >= 0.01 * invoices]
    lift = together / invoices / (counts.reindex(together.index.get_level_values(0)).to_numpy()
                                  / invoices * counts.reindex(
                                      together.index.get_level_values(1)).to_numpy() / invoices)
    strongest = lift.sort_values(ascending=False).index[:5]
    top_bundles = result["bundles"][:5]
    assert {frozenset(pair) for pair in strongest} == {
        frozenset((row["product_a"], row["product_b"])) for row in top_bundles}
    for row in top_bundles:
        pair = tuple(sorted((row["product_a"], row["product_b"])))
        assert row["baskets"] == together[pair]
        assert row["support"] == pytest.approx(together[pair] / invoices)
        assert row["confidence"] == pytest.approx(together[pair] / counts[row["product_a"]])
        assert row["lift"] == pytest.approx(lift[pair])
    assert result["accuracy"]["confidence"] > result["baseline"]["holdout_confidence"]
    assert result["bought_together"]["products"]


def test_segments_report_accuracy_next_to_their_baseline(online_retail_warehouse):
    # churn and customer value on this file: test_churn_online_retail.py
    segments = run_model("clustering", online_retail_warehouse, Filters(), ALL_DATA, {})
    assert 2 <= segments["k"] <= 8
    assert segments["accuracy"]["silhouette"] > segments["baseline"]["silhouette"]
