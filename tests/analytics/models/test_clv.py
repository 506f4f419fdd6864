import pandas as pd
import pytest

from analytics.models.clv import backtest, historical_ltv, predict_value
from analytics.models.churn import ChurnModel
from tests.analytics.models.synthetic import churn_invoices
from tests.analytics.models.test_churn import hand_invoices


def test_historical_ltv_is_net_revenue_since_the_first_sale():
    ltv = historical_ltv(hand_invoices(), end="2024-02-29")
    assert ltv.to_dict() == {"A": 160.0, "B": 10.0, "C": 10.0}


def test_predicted_value_is_rate_times_days_times_active_times_aov():
    features = pd.DataFrame({"frequency": [6.0, 1.0], "tenure": [180.0, 10.0],
                             "aov": [50.0, 20.0]}, index=["A", "B"])
    churn = pd.Series({"A": 0.2, "B": 0.5})
    predicted = predict_value(features, churn, days=365)
    # A: 6/180 per day × 365 × 0.8 × 50; B: tenure counted as 90 days → 1/90 × 365 × 0.5 × 20
    assert predicted["A"] == pytest.approx(6 / 180 * 365 * 0.8 * 50)
    assert predicted["B"] == pytest.approx(1 / 90 * 365 * 0.5 * 20)


def test_backtest_compares_prediction_with_what_happened():
    invoices = churn_invoices(customers=300, seed=2)
    result = backtest(invoices, None, days=365, horizon_days=90)
    # about 540 days of history: the period 540 − 90 − 31 = 419 is capped at 365 days,
    # ending with the last invoice
    assert result["days"] == 365
    cutoff = invoices["date"].max() + pd.Timedelta(days=1 - 365)
    assert result["cutoff"] == cutoff.date().isoformat()
    # nobody leaves before day 300, so no churn model can be trained before the cutoff
    assert result["p_active"] == "observed retention"
    actual = invoices[invoices["date"] >= cutoff]
    earlier_customers = invoices.loc[invoices["date"] < cutoff, "customer_id"].unique()
    assert result["total_actual"] == pytest.approx(
        actual[actual["customer_id"].isin(earlier_customers)]["net_value"].sum())
    assert result["mae"] > 0 and result["baseline_mae"] > 0
    assert result["customers"] == len(earlier_customers)


def test_churn_model_without_validation_only_fits_the_scoring_model():
    model = ChurnModel(90, validate=False).fit(churn_invoices(customers=200, seed=4))
    assert not hasattr(model, "accuracy_") and hasattr(model, "model_")


def test_clv_reuses_given_scores_and_can_skip_the_backtest():
    from analytics.models.clv import clv

    invoices = churn_invoices()
    model = ChurnModel(90).fit(invoices)
    scores = model.score(invoices)
    given = clv(invoices, churn_model=model, scores=scores, with_backtest=False)
    assert given["backtest"] is None
    computed = clv(invoices, churn_model=model)
    assert given["customers"].equals(computed["customers"])
    backtest_result = computed["backtest"]
    assert (backtest_result["training_customers"] > 0) == (
        backtest_result["p_active"] == "churn model")
