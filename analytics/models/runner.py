"""One function per model kind: read the inputs, fit, and return a JSON-safe result.

Each ``run_<kind>(warehouse, filters, scope, params, progress)`` returns a dict with the
result, its ``accuracy``, the ``baseline`` it is compared with, and the lists a chart needs.
The annotation of its ``params`` names the parameters model it takes
(``analytics.models.params``): ``RUNNERS`` is the one table of model kinds.
Heavy libraries (Prophet, XGBoost, mlxtend) are imported here, inside the functions' modules,
so importing ``analytics.models`` stays light for the web process.
"""
from __future__ import annotations

import contextvars
import logging
import os
import typing

import numpy as np
import pandas as pd

from analytics.models import inputs
from analytics.text import money_text
from analytics.models.base import ModelError, to_json_safe
from analytics.models.params import (AnomalyParams, BasketParams, ChurnParams,
                                     ClusteringParams, ForecastParams)

log = logging.getLogger(__name__)

HISTORY_SHOWN_DAYS = 365
CUSTOMERS_SHOWN = 2000  # highest risk first; the JSON stays ~1 MB
RULES_SHOWN = 200
EXPLAINED_ANOMALIES = 20
SLICE_METRIC = "orders"


def _main_country(warehouse, filters, scope) -> str | None:
    revenue = inputs.revenue_by_country_code(warehouse, filters, scope)
    return None if revenue.empty else str(revenue["country_code"].iloc[0])


def _columns(frame: pd.DataFrame, names) -> dict:
    return {name: frame[name].tolist() for name in names}


#: What the models' sentences write before amounts, set by ``run_model``'s caller (the
#: worker passes the installation's locale, which analytics does not import).
MONEY_SIGN: contextvars.ContextVar = contextvars.ContextVar("money_sign", default=None)


def _currency():
    """The money sign of the models' sentences: the caller's (``MONEY_SIGN``), else the
    CURRENCY variable, £ by default. The pages put their own sign in when they show a
    stored result."""
    return MONEY_SIGN.get() or os.environ.get("CURRENCY") or "£"


def _forecast_payload(result, metric: str) -> dict:
    from analytics.models.forecast import forecast_sentence, forecast_summary
    from analytics.models.forecast_models import NAIVE

    history = result.history.tail(HISTORY_SHOWN_DAYS)
    summary = forecast_summary(result)
    sentence = forecast_sentence(summary, metric, _currency())
    if result.chosen == NAIVE:
        sentence += (" No model beat seasonal naive (the last week repeated) on the "
                     "backtest, so this is seasonal naive.")
    return {
        "sentence": sentence,
        "model": result.model, "chosen": result.chosen, "members": result.members,
        "horizon": result.horizon, "interval": result.interval,
        "interval_source": result.interval_source,
        "interval_coverage": result.accuracy.get("coverage"),
        "history_end": result.history["date"].iloc[-1],
        "history": {"dates": history["date"].tolist(), "values": history["actual"].tolist()},
        "forecast": _columns(result.forecast, ["date", "forecast", "lower", "upper"]),
        "backtest": {"holdout_days": result.holdout_days, "folds": result.folds,
                     "fold_days": result.fold_days,
                     **_columns(result.backtest, ["date", "fold", "actual", "forecast", "lower",
                                                  "upper", "baseline"])},
        "leaderboard": result.leaderboard,
        "accuracy": result.accuracy,
        "baseline": {"name": "seasonal naive (the value 7 days earlier, last observed week "
                             "carried forward)", "accuracy": result.baseline_accuracy},
        "beats_baseline": result.beats_baseline,
        "summary": {**summary, "sentence": sentence},
        "notes": result.notes,
    }


#: The top-N item lists skip Prophet: N full leaderboards would keep the job waiting.
TOP_ITEM_MODELS = ("seasonal naive", "ETS", "Theta", "XGBoost")


def run_forecast(warehouse, filters, scope, params: ForecastParams, progress) -> dict:
    """The forecast of the filtered series **up to the period's end** (the whole history
    before it, so a short period still has the weeks a forecast needs), the days after it.
    ``level`` product/category with an ``item``: that item's units and revenue."""
    from analytics.models import forecast_inputs
    from analytics.models.forecast import forecast_items, forecast_series

    progress(5, "reading the daily series")
    history_filters = filters.with_period(None, filters.end)
    country = _main_country(warehouse, filters, scope)
    base = {"kind": "forecast", "level": params.level, "country_holidays": country,
            "period_end": filters.end}
    if params.item is not None:
        daily = forecast_inputs.item_daily_series(warehouse, history_filters, scope,
                                                  params.level, params.item)
        description = forecast_inputs.item_description(warehouse, params.level, params.item)
        if daily.empty:
            raise ModelError(f"{params.level.capitalize()} {description} has no sales in "
                             "this selection.")
        what = f"{params.level} {description}"
        out = {**base, "item": params.item, "description": description,
               "horizon": params.horizon, "interval": params.interval}
        for position, metric in enumerate(("units", "revenue")):
            result = forecast_series(
                daily, "date", metric, horizon=params.horizon, interval=params.interval,
                country_code=country, what=what,
                progress=lambda pct, msg, p=position: progress(10 + 42 * p + int(pct * 0.42),
                                                               f"{metric}: {msg}"))
            out[metric] = {"metric": metric, **_forecast_payload(result, metric)}
        out["sentence"] = f"{description}: {out['units']['sentence']} Revenue: " \
                          f"{out['revenue']['sentence']}"
        progress(95, "done")
        return out

    daily = inputs.daily_series(warehouse, history_filters, scope)
    if daily.empty:
        raise ModelError("There is no data to forecast in this selection.")
    if params.level == "total":
        result = forecast_series(daily, "date", params.metric, horizon=params.horizon,
                                 interval=params.interval, country_code=country,
                                 progress=lambda pct, msg: progress(10 + int(pct * 0.85), msg))
        progress(95, "done")
        return {**base, "metric": params.metric, **_forecast_payload(result, params.metric)}

    progress(10, f"finding the top {params.top_n} {params.level} items")
    items = inputs.top_items(warehouse, filters, scope, params.level, params.top_n)
    if items.empty:
        raise ModelError(f"No {params.level} data to forecast in this selection"
                         + (" (the data has no categories)." if params.level == "category"
                            else "."))
    units = inputs.item_daily_units(warehouse, history_filters, scope, params.level,
                                    items["item"])
    results, skipped = forecast_items(
        units, items, daily["date"].min(), daily["date"].max(), horizon=params.horizon,
        interval=params.interval, country_code=country, models=TOP_ITEM_MODELS,
        progress=lambda pct, msg: progress(15 + int(pct * 0.8), msg))
    if not results:
        raise ModelError(f"None of the top {params.level} items has enough history to "
                         f"forecast: {skipped[0]['reason']}")
    payload_items = [{"item": entry["item"], "description": entry["description"],
                      **_forecast_payload(entry["result"], "units")} for entry in results]
    beating = sum(1 for entry in payload_items if entry["beats_baseline"])
    progress(95, "done")
    return {**base, "metric": "units", "horizon": params.horizon, "interval": params.interval,
            "items": payload_items, "skipped": skipped,
            "notes": ["The top items are ranked by units sold in the period; each is "
                      "backtested with seasonal naive, ETS, Theta and XGBoost (choose one "
                      "item for the full leaderboard with Prophet)."],
            "accuracy": {"items": len(payload_items), "items_beating_baseline": beating,
                         "median_wape": float(np.median([i["accuracy"]["wape"]
                                                         for i in payload_items])),
                         "median_smape": float(np.median([i["accuracy"]["smape"]
                                                          for i in payload_items]))},
            "baseline": {"name": "seasonal naive per item",
                         "median_wape": float(np.median(
                             [i["baseline"]["accuracy"]["wape"] for i in payload_items])),
                         "median_smape": float(np.median(
                             [i["baseline"]["accuracy"]["smape"] for i in payload_items]))}}


def _model_period(warehouse, filters):
    """(start, end) of the period the dashboard shows for ``filters`` (``period.resolve``:
    no dates = the data's last 30 days)."""
    from analytics import period

    resolved = period.resolve(warehouse, filters)
    return resolved.start, resolved.end


def run_clustering(warehouse, filters, scope, params: ClusteringParams, progress) -> dict:
    """Segments of the period's customers (a sale line in the period), their features
    measured on their history up to the period's end (recency from the period's end)."""
    from sklearn.metrics import silhouette_score

    from analytics.models.clustering import FEATURES, CustomerSegmenter, cluster_sentence
    from analytics.models.features import customer_features

    progress(5, "reading customers' invoices")
    start, end = _model_period(warehouse, filters)
    invoices = inputs.customer_invoices(warehouse, filters.with_period(None, end), scope)
    if invoices.empty:
        raise ModelError("There are no identified customers in this selection.")
    in_period = invoices[invoices["is_order"] & (invoices["date"] >= pd.Timestamp(start))]
    if in_period.empty:
        raise ModelError(f"No identified customer bought between {start} and {end}: choose "
                         f"a period with sales.")
    as_of = pd.Timestamp(end) + pd.Timedelta(days=1)
    features = customer_features(invoices, as_of, rfm_only=True)
    features = features[features.index.isin(in_period["customer_id"].unique())]
    # days before the period's end (0: bought on its last day), not before the day after
    features = features.assign(recency=features["recency"] - 1, tenure=features["tenure"] - 1)
    period_revenue = (in_period.groupby("customer_id")["net_value"].sum()
                      .reindex(features.index).fillna(0.0))
    progress(30, "choosing the number of segments")
    try:
        segmenter = CustomerSegmenter(k=params.k).fit(features)
    except ModelError as error:
        raise ModelError(f"{error} Only customers who bought between {start} and {end} are "
                         f"clustered: choose a longer period.") from None
    progress(85, "profiling the segments")
    # baseline: k value tiers by monetary quantile, scored by silhouette on the same space
    matrix = segmenter.transform(features)
    rng = np.random.default_rng(0)
    sample = rng.choice(len(features), size=min(len(features), 3000), replace=False)
    tiers = pd.qcut(features["monetary"].rank(method="first"), segmenter.k_,
                    labels=False).to_numpy()
    baseline_silhouette = float(silhouette_score(matrix[sample], tiers[sample])) \
        if len(np.unique(tiers[sample])) > 1 else None
    points = features.assign(cluster=segmenter.labels_).iloc[np.sort(sample[:2000])]
    assignments = segmenter.labels_.reset_index()
    profiles = segmenter.profiles_.copy()
    by_cluster = period_revenue.groupby(segmenter.labels_).sum()
    profiles["period_revenue"] = [float(by_cluster.get(c, 0.0)) for c in profiles["cluster"]]
    total = float(profiles["period_revenue"].clip(lower=0).sum()) or 1.0
    profiles["period_revenue_share"] = profiles["period_revenue"].clip(lower=0) / total
    currency = _currency()
    profiles["sentence"] = [cluster_sentence(row, currency)
                            for row in profiles.to_dict(orient="records")]
    names = dict(zip(profiles["cluster"], profiles["name"]))
    top = profiles.sort_values("period_revenue", ascending=False).iloc[0]
    sentence = (f"{len(features):,} customers bought between {start} and {end}, in "
                f"{segmenter.k_} segments; {top['name']} ({top['customers']:,} customers) "
                f"brought {money_text(top['period_revenue'], currency)}, "
                f"{top['period_revenue_share']:.0%} of the period's revenue.")
    progress(95, "done")
    return {"kind": "clustering", "sentence": sentence, "k": segmenter.k_,
            "k_chosen": params.k is None,
            "period": {"start": start, "end": end, "customers": len(features)},
            "features": list(FEATURES),
            "accuracy": {"silhouette": segmenter.silhouette_},
            "silhouette_by_k": [{"k": k, "silhouette": score}
                                for k, score in sorted(segmenter.silhouette_by_k_.items())],
            "baseline": {"name": f"{segmenter.k_} value tiers (quantiles of monetary value)",
                         "silhouette": baseline_silhouette},
            "clusters": profiles,
            "points": {"customer_id": points.index.tolist(),
                       **_columns(points, ["recency", "frequency", "monetary", "cluster"])},
            "assignments": {"customer_id": assignments["customer_id"].tolist(),
                            "cluster": assignments["cluster"].tolist(),
                            "name": [names[c] for c in assignments["cluster"]]}}


def run_churn(warehouse, filters, scope, params: ChurnParams, progress) -> dict:
    """Churn risk and predicted 12-month value of the customers still there as of the
    period's end (an order in the ``lookback_days`` before it), from their whole history up
    to that day; the full scored list in ``scored`` (columns → lists) for the filter and
    the export."""
    from analytics import period
    from analytics.models.churn import (FEATURE_LABELS, HIGH_RISK, MEDIUM_RISK, ChurnModel)
    from analytics.models.clv import DEFAULT_DAYS, clv

    progress(5, "reading customers' invoices")
    end = period.resolve(warehouse, filters).end
    history = filters.with_period(None, end)
    invoices = inputs.customer_invoices(warehouse, history, scope)
    if invoices.empty:
        raise ModelError("There are no identified customers' invoices in this selection.")
    first_purchases = inputs.customer_first_purchases(warehouse, history, scope)
    as_of = min(pd.Timestamp(end), invoices["date"].max().normalize()) + pd.Timedelta(days=1)
    progress(25, "training and validating the churn model")
    model = ChurnModel(params.horizon_days, cutoff=params.cutoff,
                       lookback_days=params.lookback_days, as_of=as_of).fit(invoices,
                                                                             first_purchases)
    progress(55, "scoring the customers still there")
    scores = model.score(invoices, first_purchases=first_purchases)
    progress(70, "predicting customer value (BG/NBD + Gamma-Gamma)")
    currency = _currency()
    value = clv(invoices, first_purchases, model, days=DEFAULT_DAYS, scores=scores,
                with_backtest=params.clv_backtest, end=as_of - pd.Timedelta(days=1),
                currency=currency, backtest_heuristic=False)
    scores = scores.merge(value.pop("customers"), on="customer_id", how="left")
    scores["value_tier"] = _value_tiers(scores["predicted_value"])
    horizon = model.horizon_days_
    high = scores[scores["risk"] == "high"]
    high_value = float(high["predicted_value"].sum())
    sentence = (f"Of the {len(scores):,} customers who bought in the {params.lookback_days} "
                f"days up to {(as_of - pd.Timedelta(days=1)).date()}, {len(high):,} are at "
                f"high risk of placing no order in the next {horizon} days; their predicted "
                f"12-month value is {money_text(high_value, currency)}.")
    derived = model.horizon_
    horizon_sentence = _horizon_sentence(derived)
    importance = model.importance_.assign(label=[
        FEATURE_LABELS.get(f, f.replace("country=", "country: "))
        for f in model.importance_["feature"]])
    scored = scores[["customer_id", "probability", "risk", "predicted_value", "p_alive",
                     "value_tier", "recency", "frequency", "monetary", "ltv"]]
    progress(95, "done")
    return {"kind": "churn", "sentence": sentence, "catch_sentence": model.catch_sentence_,
            "horizon_sentence": horizon_sentence, "value_sentence": value.get("sentence"),
            "as_of": as_of, "lookback_days": params.lookback_days,
            "horizon_days": horizon, "horizon": derived,
            "cutoff": model.cutoff_, "train_cutoff": model.train_cutoff_,
            "training_customers": model.training_customers_,
            "accuracy": {**model.accuracy_, "catch_rate": model.catch_["model"],
                         "flagged": model.catch_["flagged"]},
            "catch": model.catch_, "calibration": model.calibration_,
            "baseline": {"name": "longest since last order (recency; its probabilities: "
                                 "logistic regression on log(1 + recency))",
                         "accuracy": {**model.baseline_accuracy_,
                                      "catch_rate": model.catch_["baseline"]},
                         "calibration": model.baseline_calibration_},
            "risk_thresholds": {"high": HIGH_RISK, "medium": MEDIUM_RISK},
            "risk_counts": scores["risk"].value_counts().to_dict(),
            "importance": importance,
            "customers": scores.head(CUSTOMERS_SHOWN), "customers_total": len(scores),
            "scored": {name: scored[name].tolist() for name in scored.columns},
            "clv": value}


def _horizon_sentence(derived: dict) -> str:
    """How the churn window was chosen, in one sentence."""
    from analytics.models.churn import MAX_HORIZON_DAYS, MIN_HORIZON_DAYS

    days = derived["days"]
    if derived.get("given"):
        return f"Churn = no order in {days} days (the window you chose)."
    percentile = int(np.ceil(round(derived["percentile_days"], 6)))
    bounded = (f", raised to the {MIN_HORIZON_DAYS}-day minimum" if days > percentile else
               f", capped at {MAX_HORIZON_DAYS} days" if days < percentile else "")
    return (f"Churn = no order in {days} days: 9 in 10 repeat purchases came within "
            f"{percentile:,} days of the previous one (median {derived['median_gap_days']:,.0f} "
            f"days){bounded}.")



def _value_tiers(values: pd.Series) -> pd.Series:
    """"high" for the top 20 % of predicted values, "medium" for the next 30 %, "low" for
    the rest (ranks, so ties fall on one side)."""
    share = values.rank(method="min", pct=True).fillna(0.0)
    return pd.Series(np.select([share > 0.8, share > 0.5], ["high", "medium"], "low"),
                     index=values.index)


#: A country whose public holidays the anomaly detector aligns must hold this share of the
#: revenue; otherwise only retail events (Black Friday…) and calendar dates are aligned.
HOLIDAY_COUNTRY_SHARE = 1 / 3
ANOMALY_CHART_DAYS = 90


def _holiday_country(warehouse, filters, scope) -> tuple[str | None, str]:
    """(ISO code, note): the country with the most revenue when it holds at least
    ``HOLIDAY_COUNTRY_SHARE`` of it."""
    revenue = inputs.revenue_by_country_code(warehouse, filters, scope)
    total = float(revenue["revenue"].clip(lower=0).sum()) if not revenue.empty else 0.0
    if total <= 0:
        return None, "no country code in the data: retail events and calendar dates only"
    code, share = str(revenue["country_code"].iloc[0]), float(revenue["revenue"].iloc[0]) / total
    if share < HOLIDAY_COUNTRY_SHARE:
        return None, (f"no country holds a third of the revenue ({code} has {share:.0%}): "
                      f"retail events and calendar dates only")
    return code, f"{code}, {share:.0%} of the revenue"


def run_anomalies(warehouse, filters, scope, params: AnomalyParams, progress) -> dict:
    """Unusual days of the period, learnt from up to ``HISTORY_YEARS`` years before it, with
    yearly seasonality and the main country's holidays taken into account."""
    from analytics.models.anomalies import (HISTORY_YEARS, AnomalyDetector, anomaly_sentence,
                                            robust_monitor)
    from analytics.models.explain import explain_anomalies
    from analytics.period import days_before

    progress(5, "reading the daily series")
    start, end = _model_period(warehouse, filters)
    history = filters.with_period(days_before(start, HISTORY_YEARS * 366), end)
    daily = inputs.daily_series(warehouse, history, scope)
    if daily.empty:
        raise ModelError("There is no data in this selection.")
    country, holiday_note = _holiday_country(warehouse, history, scope)
    progress(20, "looking for unusual days")
    detector = AnomalyDetector(params.metric, params.contamination,
                               country_code=country).fit(daily, start, end)
    progress(50, "explaining the unusual days")
    anomalies = explain_anomalies(warehouse, history, scope, detector.anomalies_,
                                  params.metric, limit=EXPLAINED_ANOMALIES)
    currency = _currency()
    for anomaly in anomalies:
        anomaly["sentence"] = anomaly_sentence(anomaly, params.metric, currency,
                                               anomaly.get("headline"))
    progress(70, "monitoring channels, traffic sources, countries and categories")
    slices = _slice_anomalies(warehouse, history, scope, daily, detector.anomalies_, start,
                              detector.holidays_)
    monitor = robust_monitor(daily, params.metric)
    component = detector.components_[params.metric]
    examined = component[component["date"] >= pd.Timestamp(start)]
    shown = component[component["date"] >= min(pd.Timestamp(start), pd.Timestamp(end)
                                                - pd.Timedelta(days=ANOMALY_CHART_DAYS - 1))]
    robust_flags = examined[examined["z"].abs() >= 3.5]
    found = set(detector.anomalies_["date"])
    count = len(detector.anomalies_)
    days_seen = len(detector.scores_)
    learnt = (f"{detector.yearly_years_} earlier year(s)" if detector.yearly_years_
              else "no earlier year (yearly seasonality not taken into account)")
    sentence = (f"{count} unusual day{'s' if count != 1 else ''} of {params.metric} between "
                f"{start} and {end} ({days_seen} day{'s' if days_seen != 1 else ''}), "
                f"compared with {learnt}; holidays: {holiday_note}.")
    if anomalies:
        sentence += " " + anomalies[0]["sentence"]
    progress(95, "done")
    return {"kind": "anomalies", "metric": params.metric, "sentence": sentence,
            "contamination": params.contamination,
            "period": {"start": start, "end": end, "days": days_seen},
            "history_start": daily["date"].min(),
            "holidays": {"country": detector.holidays_ or None, "note": holiday_note,
                         "earlier_years": detector.yearly_years_},
            "series": {"dates": shown["date"].tolist(),
                       "values": shown["value"].tolist(),
                       "expected": shown["expected"].tolist()},
            "anomalies": anomalies, "anomaly_count": count,
            "slice_metric": SLICE_METRIC, "slice_anomalies": slices.head(EXPLAINED_ANOMALIES),
            "slice_anomaly_count": len(slices),
            "monitor": monitor,
            "accuracy": {"days": days_seen, "flagged_days": count,
                         "flagged_share": count / days_seen if days_seen else None},
            "baseline": {"name": "robust z-score of the de-seasonalised value (|z| ≥ 3.5)",
                         "flagged_days": len(robust_flags),
                         "agreement": (len(found & set(robust_flags["date"]))
                                       / len(found | set(robust_flags["date"])))
                         if found or len(robust_flags) else None}}


def _slice_anomalies(warehouse, filters, scope, daily: pd.DataFrame,
                     shop_wide: pd.DataFrame, start=None,
                     country_code: str | None = None) -> pd.DataFrame:
    """``anomalies.slice_anomalies`` on the daily orders of the top values of each slice
    dimension, with ``shop_wide`` (the shop-wide detector also flagged a day of the range)
    and a ``sentence``; with ``start``, the ranges that reach into the period from it,
    learnt from all of ``daily`` with yearly seasonality and ``country_code``'s holidays.
    Orders, whatever the chosen metric: a slice's revenue or units on a
    day is dominated by its few largest orders (a big order is a shop-wide revenue anomaly,
    found and explained there), its order count follows what happened to the slice."""
    from analytics.models.anomalies import MAX_DAYS, SLICE_TOP, holiday_calendar, slice_anomalies

    events = None
    if start is None:
        since = daily["date"].tail(MAX_DAYS).min().date()
    else:
        since = daily["date"].min().date()
        years = range(daily["date"].min().year - 1, daily["date"].max().year + 2)
        events = holiday_calendar(years, country_code)[0]
    series = [inputs.slice_daily_series(warehouse, filters, scope, dimension, SLICE_TOP, since)
              .assign(dimension=dimension) for dimension in inputs.SLICE_DIMENSIONS]
    found = slice_anomalies(daily, pd.concat(series, ignore_index=True), SLICE_METRIC,
                            start=start, events=events)
    flagged = set(shop_wide["date"])
    found["shop_wide"] = [any(day in flagged for day in pd.date_range(first, last))
                          for first, last in zip(found["start"], found["end"])]
    found["sentence"] = [_slice_sentence(row) for row in found.to_dict(orient="records")]
    return found


def _slice_sentence(anomaly: dict) -> str:
    """E.g. "From 2025-07-19 to 2025-07-22 orders in channel Mobile App were 93 below
    expected (5 vs 98, −95%), 10.0 times the usual day-to-day swing."."""
    start, end = (pd.Timestamp(anomaly[key]).date().isoformat() for key in ("start", "end"))
    when = f"On {start}" if start == end else f"From {start} to {end}"
    dimension = anomaly["dimension"].replace("_", " ")
    change = "" if pd.isna(anomaly["relative"]) else f", {anomaly['relative']:+.0%}"
    from analytics.models.anomalies import how_unusual

    return (f"{when} {SLICE_METRIC} in {dimension} {anomaly['value']} were "
            f"{abs(anomaly['deviation']):,.0f} {anomaly['direction']} expected "
            f"({anomaly['actual']:,.0f} vs {anomaly['expected']:,.0f}{change}), "
            f"{how_unusual(float(anomaly['z']))}.")


def run_basket(warehouse, filters, scope, params: BasketParams, progress) -> dict:
    from analytics.models.basket import BasketMiner, holdout_check

    progress(5, "reading the baskets")
    baskets = inputs.invoice_products(warehouse, filters, scope)
    miner_params = {"min_support": params.min_support, "min_confidence": params.min_confidence,
                    "min_lift": params.min_lift, "max_items": params.max_items}
    progress(30, "mining frequent itemsets")
    miner = BasketMiner(**miner_params).fit(baskets)
    miner_params = {**miner_params, "min_support": miner.min_support_}
    rules = miner.rules_.head(RULES_SHOWN)
    shown_products = set(miner.item_counts_.index[:10])
    for column in ("antecedent", "consequent"):
        for items in rules[column]:
            shown_products.update(items)
    together = None
    if params.product:
        together = miner.bought_together(params.product)
        shown_products.update(together["product_id"])
        shown_products.add(params.product)
    descriptions = inputs.product_descriptions(warehouse, shown_products)
    progress(70, "checking the rules on later baskets")
    check = holdout_check(baskets, miner_params)
    rules = rules.assign(
        antecedent_descriptions=[[descriptions.get(i) for i in items]
                                 for items in rules["antecedent"]],
        consequent_descriptions=[[descriptions.get(i) for i in items]
                                 for items in rules["consequent"]])
    popular = miner.item_counts_.head(10)
    progress(95, "done")
    support_rule = "given" if params.min_support is not None else (
        "adaptive: the support of the 200th most frequent product, at least 10 baskets, "
        "at most 0.01")
    result = {"kind": "basket", "params": miner_params, "min_support_rule": support_rule,
              "min_support_baskets": miner.min_support_ * miner.baskets_total_,
              "baskets": miner.baskets_total_, "multi_item_baskets": miner.multi_item_baskets_,
              "items_total": miner.items_total_, "items_kept": miner.items_kept_,
              "items_capped": miner.items_capped_,
              "frequent_items_capped": miner.frequent_items_capped_,
              "baskets_capped": miner.baskets_capped_,
              "baskets_emptied": miner.baskets_emptied_,
              "itemsets": len(miner.itemsets_), "rule_count": len(miner.rules_),
              "rules": rules, "bundles": miner.bundles(descriptions),
              "accuracy": check,
              "baseline": {"name": "most popular products (recommend to everyone)",
                           "holdout_confidence": check["baseline_confidence"],
                           "products": [{"product_id": item, "description":
                                         descriptions.get(item), "baskets": int(count),
                                         "support": count / miner.baskets_total_}
                                        for item, count in popular.items()]}}
    if together is not None:
        result["bought_together"] = {"product_id": params.product,
                                     "description": descriptions.get(params.product),
                                     "products": together.assign(description=[
                                         descriptions.get(p) for p in together["product_id"]])}
    return result


RUNNERS = {"forecast": run_forecast, "clustering": run_clustering, "churn": run_churn,
           "anomalies": run_anomalies, "basket": run_basket}


def params_model(kind: str) -> type:
    """The parameters model of the model kind ``kind`` (its runner's ``params``
    annotation); KeyError for an unknown kind."""
    return typing.get_type_hints(RUNNERS[kind])["params"]


def run(kind, warehouse, filters, scope, params, progress) -> dict:
    return to_json_safe(RUNNERS[kind](warehouse, filters, scope, params, progress))
