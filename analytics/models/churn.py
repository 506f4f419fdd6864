"""Churn risk of the customers still there, with XGBoost, validated forward in time next to
"longest since last order".

* **population**: the customers *active* at a date — with an order in the ``lookback_days``
  (365) before it. A customer who last bought three years ago has left already; scoring
  them would flatter any model;
* **churn**: an active customer churns when they have no order in the ``N`` days from the
  date on. ``N`` (``churn_horizon``) comes from the data: the 90th percentile of the days
  between a customer's consecutive purchase days (several orders on one day count once),
  rounded up and kept within 30–365 days — 9 in 10 returning customers came back within
  ``N`` days, so a customer silent for longer has probably gone. A ``horizon_days``
  parameter overrides it;
* **features** (``features.customer_features``) use ONLY invoices dated before the date:
  recency, frequency, monetary, tenure, AOV, inter-purchase gap mean/std, trend of the last
  90 vs the previous 90 days, returns share, distinct products and categories, and the
  country (one column per country among the 8 most common in training);
* **validation**: train at the cutoff ``t − N``, validate at ``t`` (labels from the ``N``
  days after each), so the model is scored on a later period than it learnt from. ``t``
  defaults to the last cutoff whose label window is fully observed (``as_of − N``, with
  ``as_of`` the day after the period);
* **baseline**: "longest since last order" (recency). Both are compared on *catch rate*:
  flag as many customers as the training period's churn rate predicts will leave
  (``round(rate × validation customers)``, no validation label used), highest risk first
  (the baseline: longest since last order first); the share of the customers who actually
  left that were flagged. ROC AUC and Brier score (the baseline's probabilities: a logistic
  regression on log(1 + recency)) are reported too;
* the scoring model is refitted at ``t`` and scores the customers active at ``as_of``;
* beyond 50,000 customers, each model trains on a stratified sample of 50,000 (same churn
  rate, deterministic);
* risk buckets on the churn probability: high ≥ 0.6, medium ≥ 0.3, low below;
* reasons: the features with the largest positive contributions to a customer's score
  (XGBoost ``pred_contribs`` with ``approx_contribs``: the per-tree path attributions of
  Saabas, 8x faster than exact TreeSHAP on every customer; in log-odds), country columns
  summed into "country".
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import xgboost
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from analytics.models.base import ModelError
from analytics.models.features import customer_features

NUMERIC_FEATURES = ["recency", "frequency", "monetary", "tenure", "aov", "gap_mean", "gap_std",
                    "trend", "returns_share", "products", "categories"]
TOP_COUNTRIES = 8
HIGH_RISK, MEDIUM_RISK = 0.6, 0.3
MIN_CUSTOMERS = 30
MIN_REPEAT_CUSTOMERS = 50
MIN_CLASS = 5
MAX_TRAINING_CUSTOMERS = 50_000
DEFAULT_LOOKBACK_DAYS = 365
GAP_PERCENTILE = 90
MIN_HORIZON_DAYS, MAX_HORIZON_DAYS = 30, 365
# one thread: on a few thousand rows a second thread costs more (contention) than it saves
XGB_PARAMS = {"n_estimators": 200, "max_depth": 4, "learning_rate": 0.05, "subsample": 0.8,
              "colsample_bytree": 0.8, "min_child_weight": 2, "tree_method": "hist",
              "n_jobs": 1, "eval_metric": "logloss"}
FEATURE_UNITS = {"recency": "days", "tenure": "days", "gap_mean": "days", "gap_std": "days",
                 "frequency": "orders", "products": "products", "categories": "categories"}
FEATURE_LABELS = {"recency": "days since last order", "frequency": "orders",
                  "monetary": "net revenue", "tenure": "days since first order",
                  "aov": "average order value", "gap_mean": "usual days between orders",
                  "gap_std": "irregularity of orders", "trend": "spending trend (90 days)",
                  "returns_share": "share returned", "products": "products bought",
                  "categories": "categories bought", "country": "country"}


def _purchase_days(invoices: pd.DataFrame, before) -> pd.DataFrame:
    """Distinct (customer, day) of the orders dated before ``before``."""
    orders = invoices[invoices["is_order"] & (invoices["date"] < pd.Timestamp(before))]
    return (orders.assign(day=orders["date"].dt.normalize())[["customer_id", "day"]]
            .drop_duplicates().sort_values(["customer_id", "day"], ignore_index=True))


def inter_purchase_gaps(invoices: pd.DataFrame, before, days=None) -> pd.Series:
    """Days between each customer's consecutive purchase days before ``before`` (``days``:
    their ``_purchase_days`` when the caller has them)."""
    days = _purchase_days(invoices, before) if days is None else days
    gaps = days.groupby("customer_id", sort=False)["day"].diff().dt.days.dropna()
    return gaps.astype(float).rename("gap_days")


def repeat_customers(invoices: pd.DataFrame, before) -> int:
    """How many customers bought on at least two days before ``before``."""
    days = _purchase_days(invoices, before)
    return int((days.groupby("customer_id").size() >= 2).sum())


def churn_horizon(invoices: pd.DataFrame, before, days=None) -> dict:
    """``N`` of the churn definition from the gaps between purchase days before ``before``:
    ``days`` (the ``GAP_PERCENTILE`` th percentile, rounded up, within
    ``MIN_HORIZON_DAYS``–``MAX_HORIZON_DAYS``), ``percentile_days`` (before bounding),
    ``median_gap_days``, ``gaps`` (how many), ``percentile``."""
    gaps = inter_purchase_gaps(invoices, before, days)
    if gaps.empty:
        raise ModelError("No customer bought twice in this selection: the churn window "
                         "cannot be derived from the time between orders.")
    raw = float(np.percentile(gaps.to_numpy(), GAP_PERCENTILE))
    days = int(min(max(np.ceil(round(raw, 6)), MIN_HORIZON_DAYS), MAX_HORIZON_DAYS))
    return {"days": days, "percentile_days": raw, "median_gap_days": float(gaps.median()),
            "gaps": int(len(gaps)), "percentile": GAP_PERCENTILE}


def active_customers(invoices: pd.DataFrame, as_of, lookback_days: int | None) -> pd.Index:
    """The customers with an order in the ``lookback_days`` before ``as_of`` (every customer
    with an order before ``as_of`` when ``lookback_days`` is None), sorted."""
    as_of = pd.Timestamp(as_of)
    orders = invoices[invoices["is_order"] & (invoices["date"] < as_of)]
    if lookback_days is not None:
        orders = orders[orders["date"] >= as_of - pd.Timedelta(days=lookback_days)]
    return pd.Index(sorted(orders["customer_id"].unique()), name="customer_id")


def churn_labels(invoices: pd.DataFrame, cutoff, horizon_days: int,
                 lookback_days: int | None = None) -> pd.Series:
    """For each customer active at ``cutoff`` (``active_customers``): True when they have
    no order in ``[cutoff, cutoff + horizon_days)``."""
    cutoff = pd.Timestamp(cutoff)
    orders = invoices[invoices["is_order"]]
    window = orders[(orders["date"] >= cutoff)
                    & (orders["date"] < cutoff + pd.Timedelta(days=horizon_days))]
    returned = set(window["customer_id"])
    customers = active_customers(invoices, cutoff, lookback_days)
    return pd.Series([customer not in returned for customer in customers], index=customers,
                     name="churned")


def _only(customers: pd.Index, invoices: pd.DataFrame, first_purchases):
    """``(invoices, first_purchases)`` of ``customers`` only: a customer's features depend on
    their own rows alone, and the active customers are a fifth of the 1M-line demo's."""
    keep = customers.get_indexer(invoices["customer_id"]) >= 0
    if first_purchases is not None:
        first_purchases = first_purchases[
            customers.get_indexer(first_purchases["customer_id"]) >= 0]
    return invoices[keep], first_purchases


def catch_rates(labels, probability, recency, flagged: int) -> dict:
    """Flag the ``flagged`` customers of highest ``probability`` (the model) and of highest
    ``recency`` (the baseline, "longest since last order"); ties go to the earlier customer
    in the given order. ``model`` / ``baseline``: the share of the churned customers that
    were flagged; ``flagged``, ``churned``."""
    labels = np.asarray(labels, dtype=bool)
    flagged = int(min(max(flagged, 0), len(labels)))

    def caught(score) -> float | None:
        order = np.argsort(-np.asarray(score, dtype=float), kind="stable")[:flagged]
        return float(labels[order].sum() / labels.sum()) if labels.sum() else None

    return {"model": caught(probability), "baseline": caught(recency),
            "flagged": flagged, "churned": int(labels.sum())}


def catch_sentence(catch: dict, horizon_days: int) -> str:
    """E.g. "Flagging the 120 customers most at risk catches 71 % of the customers who
    leave (no order in 75 days), against 62 % for 'longest since last order'."."""
    if catch.get("model") is None:
        return "No customer left in the validation period: the catch rate is not defined."
    return (f"Flagging the {catch['flagged']:,} customers most at risk catches "
            f"{catch['model']:.0%} of the customers who leave (no order in {horizon_days} "
            f"days), against {catch['baseline']:.0%} for 'longest since last order'."
            ).replace("%", " %")


def risk_bucket(probability: float) -> str:
    return "high" if probability >= HIGH_RISK else "medium" if probability >= MEDIUM_RISK \
        else "low"


def calibration_table(labels, probabilities, bins: int = 10) -> pd.DataFrame:
    """Deciles of the predicted probability: ``bin`` (1 = lowest), ``customers``,
    ``predicted`` (mean probability), ``observed`` (churn rate)."""
    frame = pd.DataFrame({"label": np.asarray(labels, dtype=float),
                          "probability": np.asarray(probabilities, dtype=float)})
    ranks = frame["probability"].rank(method="first")
    frame["bin"] = np.ceil(ranks * bins / len(frame)).astype(int)
    table = frame.groupby("bin").agg(customers=("label", "size"),
                                     predicted=("probability", "mean"),
                                     observed=("label", "mean")).reset_index()
    return table


def classification_metrics(labels, probabilities) -> dict:
    """``roc_auc``, ``pr_auc`` (average precision), ``brier``, ``churn_rate``, ``customers``."""
    labels = np.asarray(labels, dtype=int)
    return {"roc_auc": float(roc_auc_score(labels, probabilities)),
            "pr_auc": float(average_precision_score(labels, probabilities)),
            "brier": float(brier_score_loss(labels, probabilities)),
            "churn_rate": float(labels.mean()), "customers": int(labels.size)}


class ChurnModel:
    """``fit(invoices, first_purchases=None)`` on ``inputs.customer_invoices`` rows sets:

    * ``as_of_`` (the scoring date: the day after the period), ``cutoff_``,
      ``train_cutoff_`` (dates), ``horizon_days_`` (``N``) and ``horizon_`` (how it was
      derived: ``churn_horizon``, or ``{"days": N, "given": True}``), ``lookback_days``;
    * ``accuracy_`` / ``baseline_accuracy_``: ``classification_metrics`` on validation;
      ``catch_``: ``catch_rates`` on validation; ``catch_sentence_``;
    * ``calibration_`` / ``baseline_calibration_``: ``calibration_table`` on validation;
    * ``importance_``: ``feature``, ``importance`` (gain share of the scoring model);
    * ``columns_``: the model's feature columns; ``model_``: the scoring XGBClassifier;
    * ``training_customers_``: how many customers the scoring model learnt from.

    Each model trains on at most ``max_customers`` customers (a stratified sample drawn
    with ``seed``: beyond ~50k customers more rows add time, not accuracy); validation
    and scoring always cover every active customer.

    ``validate=False`` skips the forward validation and only fits the scoring model.
    """

    def __init__(self, horizon_days: int | None = None, cutoff=None, validate: bool = True,
                 seed: int = 0, max_customers: int = MAX_TRAINING_CUSTOMERS,
                 lookback_days: int | None = DEFAULT_LOOKBACK_DAYS, as_of=None):
        if horizon_days is not None and horizon_days < 1:
            raise ModelError(f"horizon_days must be positive, not {horizon_days}")
        self.horizon_days = horizon_days
        self.cutoff = cutoff
        self.validate = validate
        self.seed = seed
        self.max_customers = max_customers
        self.lookback_days = lookback_days
        self.as_of = as_of

    def _sample(self, labels: pd.Series) -> pd.Series:
        """At most ``max_customers`` of the labelled customers to train on: the same share
        of churned and of staying customers (stratified), drawn with ``seed``."""
        if len(labels) <= self.max_customers:
            return labels
        rng = np.random.default_rng(self.seed)
        share = self.max_customers / len(labels)
        chosen = []
        for churned in (False, True):
            positions = np.flatnonzero(labels.to_numpy() == churned)
            size = max(MIN_CLASS, round(len(positions) * share))
            chosen.append(rng.choice(positions, size=min(size, len(positions)),
                                     replace=False))
        return labels.iloc[np.sort(np.concatenate(chosen))]

    # ------------------------------------------------------------ building blocks
    def _frame(self, invoices, first_purchases, cutoff) -> tuple[pd.DataFrame, pd.Series]:
        labels = churn_labels(invoices, cutoff, self.horizon_days_, self.lookback_days)
        mine, their_products = _only(labels.index, invoices, first_purchases)
        try:
            features = customer_features(mine, cutoff, their_products)
        except ModelError:
            raise ModelError(f"No customer has an order before the cutoff {cutoff.date()}: "
                             "churn needs a longer history.") from None
        return features.loc[labels.index], labels

    def _matrix(self, features: pd.DataFrame) -> pd.DataFrame:
        matrix = features[NUMERIC_FEATURES].astype(float).copy()
        country = features["country"] if "country" in features else pd.Series(
            pd.NA, index=features.index)
        for name in self.countries_:
            matrix[f"country={name}"] = (country == name).fillna(False).astype(float)
        return matrix

    def _check(self, labels: pd.Series, what: str) -> None:
        if len(labels) < MIN_CUSTOMERS:
            window = f"in the {self.lookback_days} days " if self.lookback_days else ""
            raise ModelError(f"Too few active customers for a churn model {what}: "
                             f"{len(labels)} bought {window}before it, it needs at least "
                             f"{MIN_CUSTOMERS}.")
        churned = int(labels.sum())
        stayed = len(labels) - churned
        if min(churned, stayed) < MIN_CLASS:
            raise ModelError(f"Churn cannot be learnt {what}: {churned} customers churned and "
                             f"{stayed} stayed; each needs at least {MIN_CLASS}.")

    def _xgb(self) -> xgboost.XGBClassifier:
        return xgboost.XGBClassifier(**XGB_PARAMS, random_state=self.seed)

    # ------------------------------------------------------------ fitting
    def fit(self, invoices: pd.DataFrame, first_purchases: pd.DataFrame | None = None,
            ) -> "ChurnModel":
        if invoices.empty:
            raise ModelError("There are no identified customers' invoices in this selection.")
        first_day, last_day = invoices["date"].min(), invoices["date"].max()
        as_of = pd.Timestamp(self.as_of) if self.as_of is not None \
            else last_day.normalize() + pd.Timedelta(days=1)
        self.as_of_ = as_of
        days = _purchase_days(invoices, as_of)
        repeat = int((days.groupby("customer_id").size() >= 2).sum())
        if repeat < MIN_REPEAT_CUSTOMERS:
            raise ModelError(f"A churn model needs {MIN_REPEAT_CUSTOMERS} customers with two "
                             f"orders; this selection has {repeat}.")
        if self.horizon_days is None:
            self.horizon_ = churn_horizon(invoices, as_of, days)
        else:
            self.horizon_ = {"days": int(self.horizon_days), "given": True}
        self.horizon_days_ = self.horizon_["days"]
        horizon = pd.Timedelta(days=self.horizon_days_)
        latest_cutoff = as_of - horizon
        cutoff = pd.Timestamp(self.cutoff) if self.cutoff is not None else latest_cutoff
        if cutoff > latest_cutoff:
            raise ModelError(f"The cutoff {cutoff.date()} leaves less than "
                             f"{self.horizon_days_} days of data after it (the data ends "
                             f"{last_day.date()}); choose {latest_cutoff.date()} or earlier.")
        earliest = first_day + horizon + pd.Timedelta(days=30) if self.validate \
            else first_day + pd.Timedelta(days=30)
        if cutoff < earliest:
            raise ModelError(f"Too little history for a churn model over "
                             f"{self.horizon_days_} days: it needs data from at least "
                             f"{earliest.date()} up to {(earliest + horizon).date()} (the data "
                             f"runs {first_day.date()} – {last_day.date()}).")
        self.cutoff_ = cutoff
        features, labels = self._frame(invoices, first_purchases, cutoff)
        self._check(labels, f"at the cutoff {cutoff.date()}")
        countries = features["country"].value_counts() if "country" in features else pd.Series()
        self.countries_ = sorted(countries.index[:TOP_COUNTRIES])

        if self.validate:
            self.train_cutoff_ = cutoff - horizon
            train_features, train_labels = self._frame(invoices, first_purchases,
                                                       self.train_cutoff_)
            self._check(train_labels, f"at the training cutoff {self.train_cutoff_.date()}")
            self._validate(train_features, train_labels, features, labels)

        self.columns_ = list(self._matrix(features).columns)
        training = self._sample(labels)
        self.training_customers_ = len(training)
        self.model_ = self._xgb().fit(self._matrix(features.loc[training.index]),
                                      training.astype(int))
        gain = self.model_.get_booster().get_score(importance_type="gain")
        importance = pd.Series({column: gain.get(column, 0.0) for column in self.columns_})
        total = importance.sum() or 1.0
        self.importance_ = (importance / total).rename("importance").rename_axis(
            "feature").reset_index().sort_values(["importance", "feature"],
                                                 ascending=[False, True], ignore_index=True)
        return self

    def _validate(self, train_features, train_labels, features, labels) -> None:
        train_labels = self._sample(train_labels)
        train_features = train_features.loc[train_labels.index]
        model = self._xgb().fit(self._matrix(train_features), train_labels.astype(int))
        predicted = model.predict_proba(self._matrix(features))[:, 1]
        self.accuracy_ = classification_metrics(labels, predicted)
        self.calibration_ = calibration_table(labels, predicted)

        baseline = LogisticRegression().fit(
            np.log1p(train_features[["recency"]].to_numpy()), train_labels.astype(int))
        baseline_predicted = baseline.predict_proba(
            np.log1p(features[["recency"]].to_numpy()))[:, 1]
        self.baseline_accuracy_ = classification_metrics(labels, baseline_predicted)
        self.baseline_calibration_ = calibration_table(labels, baseline_predicted)
        flagged = round(float(train_labels.mean()) * len(labels))
        self.catch_ = catch_rates(labels, predicted, features["recency"], flagged)
        self.catch_["train_churn_rate"] = float(train_labels.mean())
        self.catch_sentence_ = catch_sentence(self.catch_, self.horizon_days_)
        self.validation_ = pd.DataFrame({"customer_id": features.index, "churned": labels,
                                         "probability": predicted,
                                         "baseline_probability": baseline_predicted})

    # ------------------------------------------------------------ scoring
    def score(self, invoices: pd.DataFrame, as_of=None, first_purchases=None,
              reasons: int = 3) -> pd.DataFrame:
        """Churn risk of every customer active at ``as_of`` (default: the fit's ``as_of_``;
        an order in the ``lookback_days`` before it). Columns: ``customer_id``, ``probability``, ``risk``
        (high/medium/low), ``reasons`` (list of {feature, value, unit, contribution}; left
        out when ``reasons`` is 0), and the numeric features."""
        if not hasattr(self, "model_"):
            raise RuntimeError("call fit() before score()")
        as_of = pd.Timestamp(as_of) if as_of is not None else self.as_of_
        active = active_customers(invoices, as_of, self.lookback_days)
        mine, their_products = _only(active, invoices, first_purchases)
        features = customer_features(mine, as_of, their_products)
        features = features.loc[active]
        matrix = self._matrix(features)[self.columns_]
        probability = self.model_.predict_proba(matrix)[:, 1]
        result = features[NUMERIC_FEATURES].copy()
        result.insert(0, "probability", probability)
        result.insert(1, "risk", np.select([probability >= HIGH_RISK,
                                            probability >= MEDIUM_RISK], ["high", "medium"],
                                           "low"))
        if reasons:
            result.insert(2, "reasons", self._reasons(matrix, features, reasons))
        return result.reset_index().sort_values(["probability", "customer_id"],
                                                ascending=[False, True], ignore_index=True)

    def _reasons(self, matrix: pd.DataFrame, features: pd.DataFrame, count: int,
                 ) -> list[list[dict]]:
        contributions = self.model_.get_booster().predict(
            xgboost.DMatrix(matrix, nthread=1), pred_contribs=True,
            approx_contribs=True)[:, :-1]  # last column: bias
        contribution_frame = pd.DataFrame(contributions, columns=self.columns_,
                                          index=features.index)
        country_columns = [c for c in self.columns_ if c.startswith("country=")]
        if country_columns:
            contribution_frame["country"] = contribution_frame[country_columns].sum(axis=1)
            contribution_frame = contribution_frame.drop(columns=country_columns)
        return _top_reasons(contribution_frame, features, count)


def _top_reasons(contributions: pd.DataFrame, features: pd.DataFrame, count: int,
                 ) -> list[list[dict]]:
    """Per customer, the ``count`` features with the largest positive contributions."""
    names = list(contributions.columns)
    values = contributions.to_numpy()
    order = np.argsort(-values, axis=1, kind="stable")[:, :count]
    rows = np.arange(len(values))[:, None]
    top_contributions = values[rows, order]
    numbers = np.full(values.shape, np.nan)
    countries = None
    for column, name in enumerate(names):
        if name == "country":
            countries = features["country"].astype(object).to_numpy() \
                if "country" in features else np.full(len(values), None)
        elif name in features:
            numbers[:, column] = np.round(features[name].to_numpy(dtype=float), 2)
    country_column = names.index("country") if "country" in names else -1
    units = [FEATURE_UNITS.get(name) for name in names]
    reasons = []
    for row, (columns, contributions_row) in enumerate(zip(order.tolist(),
                                                           top_contributions.tolist())):
        customer_reasons = []
        for column, contribution in zip(columns, contributions_row):
            if contribution <= 0:
                break
            if column == country_column:
                value = countries[row]
                value = None if value is None or pd.isna(value) else str(value)
            else:
                value = numbers[row, column]
                value = None if np.isnan(value) else float(value)
            customer_reasons.append({"feature": names[column], "value": value,
                                     "unit": units[column],
                                     "contribution": round(contribution, 4)})
        reasons.append(customer_reasons)
    return reasons
