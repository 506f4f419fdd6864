"""BG/NBD and Gamma-Gamma against the published CDNOW results (../shared/datasets/cdnow,
read only by this test: the product never needs it) and on hand-made cases."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analytics.models import btyd

CDNOW = Path(__file__).resolve().parents[3].parent / "shared" / "datasets" / "cdnow" \
    / "CDNOW_sample.txt"


@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
    if not CDNOW.exists():
        pytest.skip(f"{CDNOW} is not there")
    raw = pd.read_csv(CDNOW, sep=r"\s+", header=None, dtype={"date": str, "customer_id": str},
                      names=["customer_id", "index", "date", "cds", "value"])
    raw["date"] = pd.to_datetime(raw["date"], format="%Y%m%d")
    return raw


def test_cdnow_reproduces_the_published_parameters_and_hold_out(cdnow):
    # calibration: the first 39 weeks (up to 1997-09-30 inclusive), time in weeks
    summary = btyd.rfm_summary(cdnow, "1997-09-30")
    assert len(summary) == 2357 and int((summary["x"] > 0).sum()) == 946
    model = btyd.fit_bgnbd(summary["x"], summary["t_x"], summary["T"])
    assert (round(model.r, 2), round(model.alpha, 2), round(model.a, 2), round(model.b, 2)) \
        == (0.24, 4.41, 0.79, 2.43)   # published 0.243, 4.414, 0.793, 2.426
    assert model.log_likelihood == pytest.approx(-9582.4, abs=0.5)
    spend = btyd.fit_gamma_gamma(summary["x"], summary["mean_spend"])
    assert (round(spend.p, 2), round(spend.q, 2), round(spend.gamma, 2)) == (6.25, 3.74, 15.44)
    assert spend.customers == 946

    # hold-out: the next 39 weeks, purchase days per customer
    hold = cdnow[(cdnow["date"] > "1997-09-30") & (cdnow["date"] < "1998-07-01")]
    actual = hold.assign(day=hold["date"].dt.normalize()).groupby("customer_id")["day"] \
        .nunique().reindex(summary.index).fillna(0)
    predicted = model.expected_purchases(39, summary["x"], summary["t_x"], summary["T"])
    assert actual.sum() == 1882
    assert predicted.sum() == pytest.approx(actual.sum(), rel=0.15)   # 1,653 (−12 %)
    buckets = btyd.frequency_buckets(summary["x"], predicted, actual)
    assert buckets["bucket"].tolist() == ["0", "1", "2", "3", "4", "5", "6", "7+"]
    assert buckets["customers"].sum() == 2357
    # more past purchases, more predicted and more actual ones
    assert buckets["predicted"].is_monotonic_increasing
    assert buckets["actual"].is_monotonic_increasing


def test_rfm_summary_by_hand():
    orders = pd.DataFrame({
        "customer_id": ["A", "A", "A", "A", "B", "B"],
        "date": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-01-15", "2024-01-29",
                                "2024-01-08", "2024-02-20"]),
        "value": [10.0, 5.0, 30.0, 50.0, 7.0, 99.0]})
    summary = btyd.rfm_summary(orders, "2024-02-12")   # B's second order is after the end
    a, b = summary.loc["A"], summary.loc["B"]
    # A: purchase days 01-01 (two orders, one purchase), 01-15, 01-29 → x = 2
    assert (a["x"], a["t_x"], a["T"]) == (2, 4, 6)     # weeks: 28 / 7, 42 / 7
    assert a["mean_spend"] == 40.0                     # (30 + 50) ÷ 2, the first left out
    assert (b["x"], b["t_x"], b["T"]) == (0, 0, 5) and np.isnan(b["mean_spend"])


def test_p_alive_and_expected_spend_by_hand():
    model = btyd.BgNbd(r=1.0, alpha=1.0, a=2.0, b=3.0, log_likelihood=0, customers=0)
    # no repeat purchase: alive (the model lets customers drop out only after a purchase)
    assert model.p_alive(0, 0, 10)[()] == 1.0
    # x = 1, t_x = 1, T = 3: odds of having dropped = a/(b+x−1) · ((α+T)/(α+t_x))^(r+x)
    #                                               = 2/3 · (4/2)² = 8/3 → P(alive) = 3/11
    assert model.p_alive(1, 1, 3)[()] == pytest.approx(3 / 11)
    # a recent purchase keeps a customer more alive than an old one
    assert model.p_alive(1, 2.9, 3)[()] > model.p_alive(1, 0.1, 3)[()]
    # E[X(t)] of a new customer equals the conditional expectation at x = 0, T = 0
    assert model.expected_population(5.0) == pytest.approx(
        model.expected_purchases(5.0, 0, 0, 0)[()])
    spend = btyd.GammaGamma(p=6.0, q=4.0, gamma=15.0, log_likelihood=0, customers=0)
    assert spend.population_mean == pytest.approx(30.0)          # 6 · 15 ÷ 3
    assert spend.expected_spend(0, np.nan)[()] == pytest.approx(30.0)
    # x = 2 of mean 60: (15 + 120) · 6 ÷ (12 + 3) = 54, between the mean and the customer's
    assert spend.expected_spend(2, 60.0)[()] == pytest.approx(54.0)


def test_a_fit_that_cannot_converge_raises_fit_error():
    with pytest.raises(btyd.FitError):
        btyd.fit_gamma_gamma([0, 0, 1], [np.nan, np.nan, 10.0])    # one repeat customer
    with pytest.raises(btyd.FitError):
        btyd.fit_bgnbd([], [], [])
    # nobody ever comes back: the purchase rate runs to 0, a parameter to its bound
    with pytest.raises(btyd.FitError):
        btyd.fit_bgnbd(np.zeros(200), np.zeros(200), np.full(200, 50.0))


def test_a_sample_of_the_customers_estimates_the_same_parameters(cdnow):
    summary = btyd.rfm_summary(cdnow, "1997-09-30")
    full = btyd.fit_bgnbd(summary["x"], summary["t_x"], summary["T"])
    sampled = btyd.fit_bgnbd(summary["x"], summary["t_x"], summary["T"], max_customers=1500)
    assert sampled.customers == 1500 and full.customers == 2357
    assert sampled.r == pytest.approx(full.r, rel=0.25)
    assert sampled.alpha == pytest.approx(full.alpha, rel=0.3)
    # the same sample every time
    again = btyd.fit_bgnbd(summary["x"], summary["t_x"], summary["T"], max_customers=1500)
    assert again == sampled
    spend = btyd.fit_gamma_gamma(summary["x"], summary["mean_spend"], max_customers=600)
    assert spend.customers == 600
    assert spend.population_mean == pytest.approx(
        btyd.fit_gamma_gamma(summary["x"], summary["mean_spend"]).population_mean, rel=0.15)
