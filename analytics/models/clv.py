"""Customer lifetime value: historical (METRICS.md) and predicted over the next months.

* **Historical LTV** of a customer = their net revenue from their first sale line up to the
  end of the data; the KPI ``ltv`` is its mean over the customers.
* **Predicted value over ``H`` days** (12 months by default) = expected purchases × expected
  spend per purchase, from two models fitted on the customers' whole order history
  (``analytics.models.btyd``, time in weeks, several orders on one day = one purchase,
  spend = the orders' sales value before returns, undiscounted):

  - **BG/NBD**: expected purchases in the next ``H`` days and **P(alive)**, the probability
    that the customer has not silently left, from how often and how recently they bought;
  - **Gamma-Gamma**: expected spend per purchase, the customer's own mean pulled towards
    the shop's (more so the fewer purchases they made).

  When a fit does not converge (too few repeat buyers, degenerate data) the prediction
  falls back to the **heuristic** and says so: ``order rate × H × P(active) × AOV`` with
  ``order rate`` = orders ÷ max(tenure, 90 days), ``AOV`` = gross revenue per order and
  ``P(active)`` = 1 − the churn model's probability.
* **Backtest** (a time split): the three predictions — BG/NBD + Gamma-Gamma, the heuristic
  (its P(active) from a churn model refitted on the earlier invoices, on at most 20,000
  customers) and the naive "next period repeats the last one" (each customer's sales in the
  ``H`` days before the cutoff) — are made at ``cutoff = end + 1 − H`` with only earlier
  invoices and compared with each customer's actual sales in the ``H`` days from the
  cutoff. ``H`` = 365, or half the history when that is shorter. Reported per method: MAE
  per customer, the total predicted against the total actual, and the share of the actual
  spend made by the fifth of the customers it ranks highest; and, for BG/NBD, the
  expected against the actual repeat purchases by number of earlier repeat purchases
  (the calibration chart).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from analytics.models import btyd
from analytics.text import money_text
from analytics.models.base import ModelError
from analytics.models.churn import ChurnModel, churn_labels
from analytics.models.features import customer_features

MIN_RATE_DAYS = 90
DEFAULT_DAYS = 365
BACKTEST_CUSTOMERS = 20_000
HEURISTIC_HORIZON_DAYS = 90
MIN_BACKTEST_DAYS = 30
BTYD_METHOD = "BG/NBD + Gamma-Gamma"
HEURISTIC_METHOD = "heuristic (order rate × days × P(active) × average order value)"


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
    """The heuristic's predicted value per customer over ``days`` (module docstring)."""
    rate = features["frequency"] / features["tenure"].clip(lower=MIN_RATE_DAYS)
    active = 1 - churn_probability.reindex(features.index).fillna(0.5)
    return (rate * days * active * features["aov"]).rename("predicted_value")


def _orders(invoices: pd.DataFrame) -> pd.DataFrame:
    orders = invoices[invoices["is_order"]]
    return pd.DataFrame({"customer_id": orders["customer_id"], "date": orders["date"],
                         "value": orders["gross_value"].clip(lower=0)})


def btyd_value(invoices: pd.DataFrame, end, days: int = DEFAULT_DAYS) -> tuple[pd.DataFrame,
                                                                               dict]:
    """BG/NBD + Gamma-Gamma fitted on the orders up to ``end`` (inclusive). Returns the
    customers (indexed by customer_id: ``p_alive``, ``expected_orders``,
    ``expected_spend``, ``predicted_value`` over ``days``, and ``x`` / ``t_x`` / ``T``)
    and the fitted parameters; ``btyd.FitError`` when a fit does not converge."""
    summary = btyd.rfm_summary(_orders(invoices), end)
    if summary.empty:
        raise btyd.FitError("no customer has an order")
    bgnbd = btyd.fit_bgnbd(summary["x"], summary["t_x"], summary["T"])
    spend = btyd.fit_gamma_gamma(summary["x"], summary["mean_spend"])
    weeks = days / btyd.DAYS_PER_WEEK
    expected = bgnbd.expected_purchases(weeks, summary["x"], summary["t_x"], summary["T"])
    per_purchase = spend.expected_spend(summary["x"], summary["mean_spend"])
    if not (np.isfinite(expected).all() and np.isfinite(per_purchase).all()):
        raise btyd.FitError("the fitted models give undefined predictions")
    customers = summary[["x", "t_x", "T"]].assign(
        p_alive=bgnbd.p_alive(summary["x"], summary["t_x"], summary["T"]),
        expected_orders=expected, expected_spend=per_purchase,
        predicted_value=expected * per_purchase)
    params = {"bgnbd": {"r": bgnbd.r, "alpha": bgnbd.alpha, "a": bgnbd.a, "b": bgnbd.b,
                        "log_likelihood": bgnbd.log_likelihood, "customers": bgnbd.customers},
              "gamma_gamma": {"p": spend.p, "q": spend.q, "gamma": spend.gamma,
                              "customers": spend.customers,
                              "mean_spend": spend.population_mean},
              "time_unit": "weeks"}
    return customers, params


def clv(invoices: pd.DataFrame, first_purchases: pd.DataFrame | None = None,
        churn_model: ChurnModel | None = None, days: int = DEFAULT_DAYS,
        scores: pd.DataFrame | None = None, with_backtest: bool = True, end=None,
        currency: str = "£", backtest_heuristic: bool = True) -> dict:
    """Historical and predicted value per customer, with the backtest.

    ``end``: the last day observed (default: the last invoice's day). ``scores``: the
    churn model's ``score`` (its probability serves the heuristic when the BTYD fit fails;
    without it a churn model is fitted then).

    Returns a dict: ``customers`` (DataFrame ``customer_id``, ``ltv``, ``predicted_value``,
    ``p_alive``, ``expected_orders``; every customer with an order), ``method``,
    ``fallback`` (why the heuristic was used, or None), ``params``, ``mean_ltv``, ``days``,
    ``total_predicted_value``, ``sentence``, ``backtest`` (``backtest``; None without)."""
    if invoices.empty:
        raise ModelError("There are no identified customers' invoices in this selection.")
    end = pd.Timestamp(end) if end is not None else invoices["date"].max().normalize()
    ltv = historical_ltv(invoices, end)
    fallback = None
    try:
        predicted, params = btyd_value(invoices, end, days)
        method = BTYD_METHOD
    except btyd.FitError as error:
        fallback = (f"The BG/NBD and Gamma-Gamma models could not be fitted ({error}); the "
                    "predicted value uses the heuristic instead.")
        method, params = HEURISTIC_METHOD, None
        if scores is None:
            model = churn_model or ChurnModel(HEURISTIC_HORIZON_DAYS, validate=False,
                                              lookback_days=None).fit(invoices, first_purchases)
            scores = model.score(invoices, end + pd.Timedelta(days=1), first_purchases,
                                 reasons=0)
        features = scores.set_index("customer_id")
        predicted = pd.DataFrame({
            "predicted_value": predict_value(features, features["probability"], days),
            "p_alive": 1 - features["probability"]})
        predicted["expected_orders"] = np.nan
    customers = pd.DataFrame({"ltv": ltv}).join(
        predicted[["predicted_value", "p_alive", "expected_orders"]], how="outer")
    customers.index.name = "customer_id"
    customers = customers.reset_index()
    total = float(customers["predicted_value"].sum())
    alive = int((customers["p_alive"] >= 0.5).sum())
    return {"customers": customers, "method": method, "fallback": fallback, "params": params,
            "mean_ltv": float(ltv.mean()), "days": days, "total_predicted_value": total,
            "customers_alive": alive,
            "sentence": value_sentence(total, len(customers), alive, days, currency),
            "backtest": _backtest_or_error(invoices, first_purchases, days, end, currency,
                                           backtest_heuristic) if with_backtest else None}


def _backtest_or_error(invoices, first_purchases, days, end, currency, with_heuristic):
    """``backtest``, or ``{"error": why}`` when the history is too short for one (the
    prediction itself stands)."""
    try:
        return backtest(invoices, first_purchases, days, end=end, currency=currency,
                        with_heuristic=with_heuristic)
    except ModelError as error:
        return {"error": str(error), "sentence": str(error)}


def value_sentence(total: float, customers: int, alive: int, days: int,
                   currency: str = "£") -> str:
    """E.g. "£1,234,567 expected from the 4,338 customers over the next 365 days; 2,950 of
    them are probably still buying (P(alive) ≥ 50 %)."."""
    return (f"{money_text(total, currency)} expected from the {customers:,} customers over "
            f"the next {days} days; {alive:,} of them are probably still buying "
            "(P(alive) ≥ 50 %).")


def _heuristic_backtest(earlier, earlier_products, cutoff, period, max_customers):
    try:
        model = ChurnModel(HEURISTIC_HORIZON_DAYS, validate=False, max_customers=max_customers,
                           lookback_days=None, as_of=cutoff).fit(earlier, earlier_products)
        features = model.score(earlier, cutoff, earlier_products,
                               reasons=0).set_index("customer_id")   # carries the features
        probability = features["probability"]
        how = "churn model"
    except ModelError:
        features = customer_features(earlier, cutoff, earlier_products)
        retained = 1 - churn_labels(earlier, cutoff - pd.Timedelta(days=HEURISTIC_HORIZON_DAYS),
                                    HEURISTIC_HORIZON_DAYS).mean()
        probability = pd.Series(1 - retained, index=features.index)
        how = "observed retention"
    return predict_value(features, probability, period), how


def _scores(predicted: pd.Series, actual: pd.Series) -> dict:
    """``mae`` per customer, ``total`` predicted, ``total_error`` (÷ the actual total − 1),
    ``top_share``: the share of the actual spend made by the fifth of the customers with the
    highest prediction (how well it finds the valuable customers; ties in customer order)."""
    total, real = float(predicted.sum()), float(actual.sum())
    top = np.argsort(-predicted.to_numpy(dtype=float), kind="stable")[:max(1, len(actual) // 5)]
    return {"mae": float(np.mean(np.abs(predicted - actual))), "total": total,
            "total_error": (total - real) / real if real else None,
            "top_share": float(actual.to_numpy(dtype=float)[top].sum() / real) if real
            else None}


def backtest(invoices: pd.DataFrame, first_purchases, days: int = DEFAULT_DAYS, end=None,
             max_customers: int = BACKTEST_CUSTOMERS, currency: str = "£",
             with_heuristic: bool = True) -> dict:
    """The three predictions made ``H`` days before the end, compared with what happened
    (module docstring); ``with_heuristic=False`` leaves the heuristic out (it trains a
    churn model: two thirds of the backtest's time on 50k customers). Returns ``days``, ``cutoff``, ``customers``, ``total_actual``,
    ``methods`` ({name: ``_scores`` or {``error``}}), ``best`` (lowest MAE),
    ``heuristic_p_active``, ``repeat_purchases`` (by bucket: ``bucket``, ``customers``,
    ``predicted``, ``actual``; None when BG/NBD did not fit), ``sentence``."""
    end = pd.Timestamp(end) if end is not None else invoices["date"].max().normalize()
    first_day = invoices["date"].min().normalize()
    span = (end - first_day).days + 1
    period = min(days, span // 2)
    if period < MIN_BACKTEST_DAYS:
        raise ModelError(f"Too little history to backtest customer value: {span} days, it "
                         f"needs at least {2 * MIN_BACKTEST_DAYS}.")
    cutoff = end + pd.Timedelta(days=1) - pd.Timedelta(days=period)
    earlier = invoices[invoices["date"] < cutoff]
    earlier_products = None if first_purchases is None else \
        first_purchases[first_purchases["first_date"] < cutoff]
    orders = _orders(invoices)
    known = pd.Index(sorted(orders.loc[orders["date"] < cutoff, "customer_id"].unique()),
                     name="customer_id")
    later = orders[(orders["date"] >= cutoff) & (orders["date"] < end + pd.Timedelta(days=1))]
    actual = later.groupby("customer_id")["value"].sum().reindex(known).fillna(0.0)
    methods: dict = {}
    buckets = None
    try:
        predicted, _ = btyd_value(earlier, cutoff - pd.Timedelta(days=1), period)
        methods[BTYD_METHOD] = _scores(predicted["predicted_value"].reindex(known).fillna(0.0),
                                       actual)
        purchases = later.assign(day=later["date"].dt.normalize()).groupby(
            "customer_id")["day"].nunique().reindex(known).fillna(0.0)
        buckets = btyd.frequency_buckets(predicted["x"].reindex(known),
                                         predicted["expected_orders"].reindex(known),
                                         purchases)
    except btyd.FitError as error:
        methods[BTYD_METHOD] = {"error": str(error)}
    how = None
    if with_heuristic:
        heuristic, how = _heuristic_backtest(earlier, earlier_products, cutoff, period,
                                             max_customers)
        methods["heuristic"] = _scores(heuristic.reindex(known).fillna(0.0), actual)
    before = orders[(orders["date"] < cutoff)
                    & (orders["date"] >= cutoff - pd.Timedelta(days=period))]
    naive = before.groupby("customer_id")["value"].sum().reindex(known).fillna(0.0)
    methods["naive (next period repeats the last)"] = _scores(naive, actual)
    scored = {name: m["mae"] for name, m in methods.items() if "mae" in m}
    best = min(scored, key=scored.get)
    result = {"days": int(period), "cutoff": cutoff.date().isoformat(),
              "customers": int(len(known)), "total_actual": float(actual.sum()),
              "methods": methods, "best": best, "heuristic_p_active": how,
              "repeat_purchases": buckets}
    result["sentence"] = backtest_sentence(result, currency)
    return result


def backtest_sentence(result: dict, currency: str = "£") -> str:
    """E.g. "Predicted from the data before 2011-06-08 for the next 185 days: £2,1M
    expected against £2,3M spent (−9 %); off by £312 per customer, against £450 for the
    heuristic and £402 for 'next period repeats the last'."."""
    methods = result["methods"]
    main = methods.get(BTYD_METHOD, {})
    others = [(name, m) for name, m in methods.items() if name != BTYD_METHOD and "mae" in m]
    short = {"heuristic": "the heuristic",
             "naive (next period repeats the last)": "'next period repeats the last'"}
    compared = " and ".join(f"{money_text(m['mae'], currency)} for {short.get(name, name)}"
                            for name, m in others)
    head = (f"Predicted from the data before {result['cutoff']} for the next "
            f"{result['days']} days: ")
    if "mae" not in main:
        return head + f"BG/NBD could not be fitted; off by {compared} per customer."
    error = main["total_error"]
    change = "" if error is None else f" ({error:+.0%})".replace("%", " %").replace("-", "−")
    return (head + f"{money_text(main['total'], currency)} expected against "
            f"{money_text(result['total_actual'], currency)} spent{change}; off by "
            f"{money_text(main['mae'], currency)} per customer, against {compared}.")
