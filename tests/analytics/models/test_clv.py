import numpy as np
import pandas as pd
import pytest

from analytics.models import btyd
from analytics.models.clv import (BTYD_METHOD, HEURISTIC_METHOD, backtest, backtest_sentence,
                                  btyd_value, clv, historical_ltv, predict_value,
                                  value_sentence)
from tests.analytics.models.synthetic import churn_invoices
from tests.analytics.models.test_churn import hand_invoices

TRUE_BGNBD = {"r": 0.8, "alpha": 4.0, "a": 1.5, "b": 4.0}   # rate per week
TRUE_GG = {"p": 4.0, "q": 5.0, "gamma": 60.0}               # mean spend 4 · 60 ÷ 4 = 60


def btyd_invoices(customers: int = 3000, weeks: int = 104, seed: int = 0) -> pd.DataFrame:
    """Customers who behave exactly as BG/NBD and Gamma-Gamma assume (TRUE_* parameters):
    first purchase in the first 26 weeks, then Poisson purchases until they drop out."""
    rng = np.random.default_rng(seed)
    origin = pd.Timestamp("2022-01-03")
    rows = []
    for customer in range(customers):
        rate = rng.gamma(TRUE_BGNBD["r"], 1 / TRUE_BGNBD["alpha"])
        drop = rng.beta(TRUE_BGNBD["a"], TRUE_BGNBD["b"])
        nu = rng.gamma(TRUE_GG["q"], 1 / TRUE_GG["gamma"])
        start = time = rng.uniform(0, 26)
        while time < weeks:
            day = origin + pd.Timedelta(days=int(time * 7))
            value = float(rng.gamma(TRUE_GG["p"], 1 / nu))
            rows.append((f"K{customer:05d}", f"I{len(rows)}", day, "France", value, value,
                         0.0, 1.0, True))
            if time > start and rng.random() < drop:   # drop-out follows repeat purchases
                break
            time += rng.exponential(1 / rate) + 1 / 7   # purchases on distinct days
    frame = pd.DataFrame.from_records(rows, columns=[
        "customer_id", "invoice_id", "date", "country", "net_value", "gross_value",
        "returns_value", "units", "is_order"])
    return frame.sort_values(["customer_id", "date"], ignore_index=True)


@pytest.fixture(scope="module")
def simulated() -> pd.DataFrame:
    return btyd_invoices()


def test_historical_ltv_is_net_revenue_since_the_first_sale():
    ltv = historical_ltv(hand_invoices(), end="2024-02-29")
    assert ltv.to_dict() == {"A": 160.0, "B": 10.0, "C": 10.0}


def test_heuristic_value_is_rate_times_days_times_active_times_aov():
    features = pd.DataFrame({"frequency": [6.0, 1.0], "tenure": [180.0, 10.0],
                             "aov": [50.0, 20.0]}, index=["A", "B"])
    churn = pd.Series({"A": 0.2, "B": 0.5})
    predicted = predict_value(features, churn, days=365)
    # A: 6/180 per day × 365 × 0.8 × 50; B: tenure counted as 90 days → 1/90 × 365 × 0.5 × 20
    assert predicted["A"] == pytest.approx(6 / 180 * 365 * 0.8 * 50)
    assert predicted["B"] == pytest.approx(1 / 90 * 365 * 0.5 * 20)


def test_btyd_recovers_the_parameters_of_customers_who_follow_it(simulated):
    end = pd.Timestamp("2022-01-03") + pd.Timedelta(weeks=104) - pd.Timedelta(days=1)
    customers, params = btyd_value(simulated, end, days=365)
    fitted = params["bgnbd"]
    assert fitted["r"] == pytest.approx(TRUE_BGNBD["r"], rel=0.25)
    assert fitted["alpha"] == pytest.approx(TRUE_BGNBD["alpha"], rel=0.35)
    assert fitted["a"] / (fitted["a"] + fitted["b"]) == pytest.approx(
        TRUE_BGNBD["a"] / (TRUE_BGNBD["a"] + TRUE_BGNBD["b"]), rel=0.25)   # mean drop-out
    assert params["gamma_gamma"]["mean_spend"] == pytest.approx(60.0, rel=0.15)
    assert customers["p_alive"].between(0, 1).all()
    assert np.allclose(customers["predicted_value"],
                       customers["expected_orders"] * customers["expected_spend"])


def test_btyd_backtest_beats_the_heuristic_and_the_naive_baseline(simulated):
    result = backtest(simulated, None, days=365)
    # 104 weeks = 728 days: half of it, 364 days, is shorter than 365
    assert result["days"] == 364
    cutoff = pd.Timestamp(result["cutoff"])
    assert cutoff == simulated["date"].max().normalize() + pd.Timedelta(days=1 - 364)
    known = simulated.loc[simulated["date"] < cutoff, "customer_id"].unique()
    later = simulated[(simulated["date"] >= cutoff) & simulated["customer_id"].isin(known)]
    assert result["total_actual"] == pytest.approx(later["gross_value"].sum())
    methods = result["methods"]
    main = methods[BTYD_METHOD]
    assert main["mae"] < methods["heuristic"]["mae"]
    assert main["mae"] < methods["naive (next period repeats the last)"]["mae"]
    assert abs(main["total_error"]) < 0.15
    assert result["best"] == BTYD_METHOD
    buckets = pd.DataFrame(result["repeat_purchases"])
    assert buckets["customers"].sum() == len(known)
    # the calibration chart: expected repeat purchases follow the actual ones by bucket
    assert np.allclose(buckets["predicted"], buckets["actual"], rtol=0.35, atol=0.3)
    assert result["sentence"].startswith(f"Predicted from the data before {result['cutoff']} "
                                         f"for the next 364 days: £")


def test_clv_gives_value_and_p_alive_per_customer(simulated):
    result = clv(simulated, with_backtest=False)
    assert result["method"] == BTYD_METHOD and result["fallback"] is None
    customers = result["customers"]
    assert len(customers) == simulated["customer_id"].nunique()
    assert result["total_predicted_value"] == pytest.approx(customers["predicted_value"].sum())
    assert result["sentence"] == value_sentence(result["total_predicted_value"],
                                                len(customers), result["customers_alive"], 365)
    assert result["backtest"] is None


def test_a_fit_that_does_not_converge_falls_back_to_the_heuristic_and_says_so():
    # every order is worth the same: spend varies neither within nor between customers,
    # so the spend model's heterogeneity runs to its bound (q, γ → ∞) on any machine (a
    # random spend of one distribution converged to q ≈ 66 on one CPU and not on another)
    invoices = churn_invoices(customers=300, seed=2).assign(net_value=50.0, gross_value=50.0)
    with pytest.raises(btyd.FitError):
        btyd_value(invoices, invoices["date"].max())
    result = clv(invoices, with_backtest=False)
    assert result["method"] == HEURISTIC_METHOD
    assert result["fallback"].startswith("The BG/NBD and Gamma-Gamma models could not be "
                                         "fitted")
    assert result["customers"]["predicted_value"].notna().any()


def test_value_and_backtest_sentences():
    assert value_sentence(1234567.4, 4338, 2950, 365) == (
        "£1,234,567 expected from the 4,338 customers over the next 365 days; 2,950 of them "
        "are probably still buying (P(alive) ≥ 50 %).")
    result = {"cutoff": "2011-06-08", "days": 185, "total_actual": 2000.0,
              "methods": {BTYD_METHOD: {"mae": 312.0, "total": 1800.0, "total_error": -0.1},
                          "heuristic": {"mae": 450.0, "total": 2500.0, "total_error": 0.25},
                          "naive (next period repeats the last)":
                              {"mae": 402.4, "total": 1000.0, "total_error": -0.5}}}
    assert backtest_sentence(result) == (
        "Predicted from the data before 2011-06-08 for the next 185 days: £1,800 expected "
        "against £2,000 spent (−10 %); off by £312 per customer, against £450 for the "
        "heuristic and £402 for 'next period repeats the last'.")


def test_top_share_is_the_actual_spend_of_the_fifth_ranked_highest():
    from analytics.models.clv import _scores

    actual = pd.Series([100.0, 0.0, 50.0, 10.0, 40.0, 0, 0, 0, 0, 0])
    predicted = pd.Series([5.0, 90.0, 1.0, 0, 0, 0, 0, 0, 0, 0])
    scores = _scores(predicted, actual)
    # 10 customers → the top 2 predictions: customers 1 (0 spent) and 0 (100 spent)
    assert scores["top_share"] == pytest.approx(100 / 200)
    assert scores["total"] == 96.0 and scores["total_error"] == pytest.approx(96 / 200 - 1)
    assert scores["mae"] == pytest.approx((95 + 90 + 49 + 10 + 40) / 10)


def test_too_short_a_history_for_the_backtest_keeps_the_prediction(simulated):
    short = simulated[simulated["date"] < simulated["date"].min() + pd.Timedelta(days=50)]
    with pytest.raises(Exception, match="Too little history to backtest"):
        backtest(short, None)
    result = clv(short)
    assert result["backtest"]["error"].startswith("Too little history to backtest")
    assert result["customers"]["predicted_value"].notna().all()
