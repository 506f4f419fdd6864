"""Customer lifetime value: historical (METRICS.md) and predicted over the next months.

* **Historical LTV** of a customer = their net revenue from their first sale line up to the
  end of the data; the KPI ``ltv`` is its mean over the customers.
* **Predicted value over ``H`` days** (12 months by default):
  ``expected orders × AOV`` with ``expected orders = order rate × H × P(active)``, where
  ``order rate`` = orders ÷ max(tenure, 90 days) (a new customer's rate is not extrapolated
  from a few days), ``AOV`` = the customer's gross revenue per order, and ``P(active)`` =
  1 − the churn model's probability of no order in its horizon (an approximation: a
  customer who buys in the next 90 days is taken as active for the whole period).
* **Backtest**: the same prediction made at ``end + 1 − H`` with only earlier invoices (the
  churn model refitted on them too, on a stratified sample of at most 20,000 customers:
  the backtest checks the value formula, a smaller churn model serves it as well),
  compared with each customer's actual net revenue in
  the following ``H`` days; ``H`` = 365, or shorter when the history is shorter (so that at
  least ``horizon + 30`` days remain before the backtest cutoff). Reported: MAE, total
  predicted vs total actual, next to a naive baseline (the customer's net revenue in the
  ``H`` days before the cutoff, i.e. "next period repeats the last one").
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from analytics.models.base import ModelError
from analytics.models.churn import ChurnModel, churn_labels
from analytics.models.features import customer_features

MIN_RATE_DAYS = 90
DEFAULT_DAYS = 365
BACKTEST_CUSTOMERS = 20_000


def historical_ltv(invoices: pd.DataFrame, end=None) -> pd.Series:
    """Net revenue per customer from their first sale line up to ``end`` (inclusive;
    default: all invoices), over the customers with a sale line; indexed by customer_id."""
    if end is not None:
        invoices = invoices[invoices["date"] <= pd.Timestamp(end)]
    first_order = invoices[invoices["is_order"]].groupby("customer_id")["date"].min()
    joined = invoices.merge(first_order.rename("first_order"), left_on="customer_id",
                            right_index=True)
    since_first = joined[joined["date"] >= joined["first_order"]]
    return since_first.groupby("customer_id")["net_value"].sum().rename("ltv")


def predict_value(features: pd.DataFrame, churn_probability: pd.Series, days: int) -> pd.Series:
    """Predicted net value per customer over ``days`` (module docstring)."""
    rate = features["frequency"] / features["tenure"].clip(lower=MIN_RATE_DAYS)
    active = 1 - churn_probability.reindex(features.index).fillna(0.5)
    return (rate * days * active * features["aov"]).rename("predicted_value")


def clv(invoices: pd.DataFrame, first_purchases: pd.DataFrame | None = None,
        churn_model: ChurnModel | None = None, days: int = DEFAULT_DAYS,
        horizon_days: int = 90, scores: pd.DataFrame | None = None,
        with_backtest: bool = True) -> dict:
    """Historical and predicted value per customer, with the backtest.

    ``scores``: the churn model's ``score`` of these invoices when the caller has it (it
    carries the features too, so nothing is computed twice); ``with_backtest=False``
    leaves the backtest out (it trains a second churn model).

    Returns a dict: ``customers`` (DataFrame ``customer_id``, ``ltv``, ``predicted_value``),
    ``mean_ltv``, ``days``, ``backtest`` (dict: ``days``, ``cutoff``, ``p_active`` (how
    P(active) was estimated), ``training_customers``, ``mae``,
    ``total_predicted``, ``total_actual``, ``baseline_mae``, ``baseline_total``,
    ``customers``; None without the backtest)."""
    if invoices.empty:
        raise ModelError("There are no identified customers' invoices in this selection.")
    as_of = invoices["date"].max() + pd.Timedelta(days=1)
    if scores is None:
        if churn_model is None:
            churn_model = ChurnModel(horizon_days, validate=False).fit(invoices,
                                                                       first_purchases)
        scores = churn_model.score(invoices, as_of, first_purchases, reasons=0)
    features = scores.set_index("customer_id")
    predicted = predict_value(features, features["probability"], days)
    ltv = historical_ltv(invoices)
    customers = pd.DataFrame({"ltv": ltv.reindex(features.index),
                              "predicted_value": predicted}).reset_index()
    return {"customers": customers, "mean_ltv": float(ltv.mean()), "days": days,
            "backtest": backtest(invoices, first_purchases, days, horizon_days)
            if with_backtest else None}


def backtest(invoices: pd.DataFrame, first_purchases, days: int = DEFAULT_DAYS,
             horizon_days: int = 90, max_customers: int = BACKTEST_CUSTOMERS) -> dict:
    """The prediction made ``H`` days before the end and compared with what happened; its
    churn model trains on at most ``max_customers`` customers (a stratified sample) and
    predicts for all."""
    first_day, end = invoices["date"].min(), invoices["date"].max()
    span = (end - first_day).days + 1
    period = min(days, span - horizon_days - 31)
    if period < 30:
        raise ModelError(f"Too little history to backtest customer value: {span} days, it "
                         f"needs at least {horizon_days + 61}.")
    cutoff = end + pd.Timedelta(days=1) - pd.Timedelta(days=period)
    earlier = invoices[invoices["date"] < cutoff]
    earlier_products = None if first_purchases is None else \
        first_purchases[first_purchases["first_date"] < cutoff]
    features = customer_features(earlier, cutoff, earlier_products)
    try:
        model = ChurnModel(horizon_days, validate=False, max_customers=max_customers).fit(
            earlier, earlier_products)
        churn_probability = model.score(earlier, cutoff, earlier_products,
                                        reasons=0).set_index("customer_id")["probability"]
        method = "churn model"
        trained_on = model.training_customers_
    except ModelError:
        retained = 1 - churn_labels(earlier, cutoff - pd.Timedelta(days=horizon_days),
                                    horizon_days).mean()
        churn_probability = pd.Series(1 - retained, index=features.index)
        method = "observed retention"
        trained_on = 0
    predicted = predict_value(features, churn_probability, period)
    after = invoices[invoices["date"] >= cutoff].groupby("customer_id")["net_value"].sum()
    actual = after.reindex(features.index).fillna(0.0)
    last_period = earlier[earlier["date"] >= cutoff - pd.Timedelta(days=period)].groupby(
        "customer_id")["net_value"].sum().reindex(features.index).fillna(0.0)
    return {"days": int(period), "cutoff": cutoff.date().isoformat(), "p_active": method,
            "training_customers": int(trained_on), "customers": int(len(features)),
            "mae": float(np.mean(np.abs(predicted - actual))),
            "total_predicted": float(predicted.sum()), "total_actual": float(actual.sum()),
            "baseline_mae": float(np.mean(np.abs(last_period - actual))),
            "baseline_total": float(last_period.sum())}
