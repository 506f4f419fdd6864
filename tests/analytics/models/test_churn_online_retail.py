"""Churn and customer value on the real Online Retail file (slow: the whole file)."""
import pandas as pd
import pytest

from analytics.filters import ALL_DATA, Filters
from analytics.models import run_model
from analytics.models.clv import BTYD_METHOD

pytestmark = pytest.mark.slow


def test_churn_and_value_on_online_retail(online_retail_warehouse):
    churn = run_model("churn", online_retail_warehouse, Filters(), ALL_DATA, {})
    # the data ends 2011-12-09; N = the 90th percentile of the gaps between purchase days
    assert churn["as_of"] == "2011-12-10"
    assert churn["horizon"]["percentile"] == 90 and 60 <= churn["horizon_days"] <= 180
    cutoff = pd.Timestamp("2011-12-10") - pd.Timedelta(days=churn["horizon_days"])
    assert churn["cutoff"] == cutoff.date().isoformat()
    # only the customers with an order in the 365 days before 2011-12-10 are scored
    assert churn["customers_total"] == len(churn["scored"]["customer_id"]) < 4372
    assert churn["accuracy"]["roc_auc"] > churn["baseline"]["accuracy"]["roc_auc"] > 0.6
    assert churn["catch"]["model"] >= churn["catch"]["baseline"]
    assert "against" in churn["catch_sentence"] and "'longest since last order'" in \
        churn["catch_sentence"]
    assert churn["importance"][0]["importance"] > 0
    value = churn["clv"]
    assert value["method"] == BTYD_METHOD and value["fallback"] is None
    assert 0 < value["params"]["bgnbd"]["r"] and value["params"]["gamma_gamma"]["q"] > 1
    backtest = value["backtest"]
    # the job leaves the old heuristic out (bench/customer_models.py compares all three)
    assert set(backtest["methods"]) == {BTYD_METHOD, "naive (next period repeats the last)"}
    assert all(m["mae"] > 0 for m in backtest["methods"].values())
    assert sum(b["customers"] for b in backtest["repeat_purchases"]) == backtest["customers"]
    scored = pd.DataFrame(churn["scored"])
    assert scored["p_alive"].between(0, 1).all() and (scored["predicted_value"] >= 0).all()
