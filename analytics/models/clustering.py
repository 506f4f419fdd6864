"""Customer segments by K-Means on standardised RFM + tenure + AOV features.

Features (``features.customer_features``): recency, frequency, monetary, tenure and AOV,
each ``log1p``-transformed (all are right-skewed; negative net revenue is clipped to 0) and
standardised to mean 0, standard deviation 1. ``k`` is given or chosen by the best
silhouette over 2–8: each candidate is fitted on a sample of at most 10,000 customers and
scored on at most 3,000 of them, then the chosen k is fitted on everyone.

Clusters are numbered by revenue, largest first. Each is named from its *centroid* in the
features' own units (the K-Means centre, standardised log1p space mapped back: the typical
customer of the cluster, unmoved by a few whales), compared with the customers clustered
(``name_cluster``; a name used twice gets " (2)"). The name is a value word and a behaviour:

* value: the centroid's net revenue at or above the 75th percentile of the customers'
  → "High value"; at or below the 40th → "Low value"; else "Mid value";
* behaviour, the first rule that holds:
  1. recency > max(``LAPSING_DAYS`` = 90, 2 × the median recency) → "lapsing" (last order
     long before the period's end);
  2. tenure ≤ ``NEW_DAYS`` = 90 → "new" (first order in the last 90 days);
  3. frequency ≥ max(3, 2 × the median frequency) and recency ≤ 90 → "loyal";
  4. frequency < 1.5 → "one-off";
  5. otherwise "occasional".

So a "loyal" cluster always has a typical customer with at least 3 orders, the last at most
90 days before the end of the period.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from analytics.models.base import ModelError, require_columns
from analytics.models.features import log_scaled
from analytics.text import money_text

FEATURES = ("recency", "frequency", "monetary", "tenure", "aov")
K_RANGE = (2, 8)
SILHOUETTE_SAMPLE = 3000
SELECTION_SAMPLE = 10_000
MIN_CUSTOMERS = 20


LAPSING_DAYS = 90
NEW_DAYS = 90
HIGH_VALUE_QUANTILE = 0.75
LOW_VALUE_QUANTILE = 0.40


def name_cluster(centroid: pd.Series, population: pd.DataFrame) -> str:
    """A name from a cluster's centroid (``FEATURES`` in their units) compared with the
    ``population`` of customers clustered (rules above)."""
    monetary = population["monetary"]
    if centroid["monetary"] >= float(monetary.quantile(HIGH_VALUE_QUANTILE)):
        value = "High value"
    elif centroid["monetary"] <= float(monetary.quantile(LOW_VALUE_QUANTILE)):
        value = "Low value"
    else:
        value = "Mid value"
    median_recency = float(population["recency"].median())
    median_frequency = float(population["frequency"].median())
    if centroid["recency"] > max(LAPSING_DAYS, 2 * median_recency):
        behaviour = "lapsing"
    elif centroid["tenure"] <= NEW_DAYS:
        behaviour = "new"
    elif (centroid["frequency"] >= max(3.0, 2 * median_frequency)
          and centroid["recency"] <= LAPSING_DAYS):
        behaviour = "loyal"
    elif centroid["frequency"] < 1.5:
        behaviour = "one-off"
    else:
        behaviour = "occasional"
    return f"{value} {behaviour}"


def cluster_sentence(profile: dict, currency: str = "£") -> str:
    """E.g. "High value loyal: 1,234 customers (12 %) bringing 45 % of the revenue; typically
    14 orders, the last 9 days before the period's end, £2,310 net revenue, first order
    1,100 days before."."""
    return (f"{profile['name']}: {profile['customers']:,} customers "
            f"({profile['customer_share']:.0%}) bringing {profile['revenue_share']:.0%} of "
            f"the revenue; typically {profile['centroid_frequency']:,.0f} orders, the last "
            f"{profile['centroid_recency']:,.0f} days before the period's end, "
            f"{money_text(profile['centroid_monetary'], currency)} net revenue, first order "
            f"{profile['centroid_tenure']:,.0f} days before.")


class CustomerSegmenter:
    """K-Means segments. ``fit(features)`` takes a frame with the ``FEATURES`` columns, one
    row per customer, and sets:

    * ``k_``, ``silhouette_``, ``silhouette_by_k_`` ({k: score}; only the given k when fixed);
    * ``labels_``: Series of cluster numbers (0 = most revenue) indexed like ``features``;
    * ``profiles_``: one row per cluster — ``cluster``, ``name``, ``customers``,
      ``customer_share``, ``revenue``, ``revenue_share``, the mean of each feature, and
      ``z_<feature>`` (mean standardised feature), ``centroid_<feature>`` (the K-Means
      centre in the feature's units, which the name comes from).
    """

    def __init__(self, k: int | None = None, k_range: tuple[int, int] = K_RANGE,
                 silhouette_sample: int = SILHOUETTE_SAMPLE, seed: int = 0):
        if k is not None and k < 2:
            raise ModelError(f"k must be at least 2, not {k}")
        self.k = k
        self.k_range = k_range
        self.silhouette_sample = silhouette_sample
        self.seed = seed

    def transform(self, features: pd.DataFrame) -> np.ndarray:
        """The standardised log1p features the clusters live in (one row per customer)."""
        if not hasattr(self, "scaler_"):
            raise RuntimeError("call fit() before transform()")
        return self.scaler_.transform(log_scaled(features, FEATURES))

    def fit(self, features: pd.DataFrame) -> "CustomerSegmenter":
        require_columns(features, FEATURES, "Customer clustering")
        count = len(features)
        smallest = max(MIN_CUSTOMERS, 3 * (self.k or self.k_range[0]))
        if count < smallest:
            raise ModelError(f"Too few customers to find segments: {count}, clustering needs "
                             f"at least {smallest}.")
        raw = log_scaled(features, FEATURES)
        self.scaler_ = StandardScaler().fit(raw)
        matrix = self.scaler_.transform(raw)
        if len(np.unique(matrix.round(9), axis=0)) < (self.k or self.k_range[0]):
            raise ModelError("The customers are too alike to form segments (too few distinct "
                             "customer profiles).")
        rng = np.random.default_rng(self.seed)
        selection = np.sort(rng.choice(count, size=min(count, SELECTION_SAMPLE), replace=False))
        scored = selection[np.sort(rng.choice(len(selection),
                                              size=min(len(selection), self.silhouette_sample),
                                              replace=False))]
        candidates = [self.k] if self.k else range(self.k_range[0],
                                                   min(self.k_range[1], count - 1) + 1)
        scores = {}
        # one BLAS/OpenMP thread: on these small matrices threading costs 20x what it saves
        with threadpool_limits(1):
            for k in candidates:
                trial = KMeans(n_clusters=k, n_init=4, random_state=self.seed).fit(
                    matrix[selection])
                labels = trial.predict(matrix[scored])
                scores[k] = (float(silhouette_score(matrix[scored], labels))
                             if len(np.unique(labels)) > 1 else -1.0)
            self.k_ = max(scores, key=lambda k: (scores[k], -k))
            model = KMeans(n_clusters=self.k_, n_init=4, random_state=self.seed).fit(matrix)
        self.silhouette_ = scores[self.k_]
        self.silhouette_by_k_ = scores
        self.model_ = model
        self._order_by_revenue(features, model.labels_, matrix)
        return self

    def _order_by_revenue(self, features, raw_labels, matrix) -> None:
        revenue = features["monetary"].clip(lower=0).groupby(raw_labels).sum()
        order = sorted(revenue.index, key=lambda label: (-revenue[label], label))
        self.relabel_ = {old: new for new, old in enumerate(order)}
        labels = pd.Series([self.relabel_[label] for label in raw_labels], index=features.index,
                           name="cluster")
        self.labels_ = labels
        standardised = pd.DataFrame(matrix, columns=[f"z_{name}" for name in FEATURES],
                                    index=features.index)
        total_revenue = float(features["monetary"].clip(lower=0).sum()) or 1.0
        centres = np.expm1(self.scaler_.inverse_transform(self.model_.cluster_centers_))
        rows, used = [], {}
        for cluster in range(self.k_):
            members = labels == cluster
            z = standardised[members].mean()
            raw = next(old for old, new in self.relabel_.items() if new == cluster)
            centroid = pd.Series(dict(zip(FEATURES, centres[raw])))
            name = name_cluster(centroid, features)
            used[name] = used.get(name, 0) + 1
            if used[name] > 1:
                name = f"{name} ({used[name]})"
            revenue_sum = float(features.loc[members, "monetary"].clip(lower=0).sum())
            rows.append({"cluster": cluster, "name": name, "customers": int(members.sum()),
                         "customer_share": float(members.mean()), "revenue": revenue_sum,
                         "revenue_share": revenue_sum / total_revenue,
                         **features.loc[members, list(FEATURES)].mean().to_dict(),
                         **z.to_dict(),
                         **{f"centroid_{f}": float(centroid[f]) for f in FEATURES}})
        self.profiles_ = pd.DataFrame(rows)

    def predict(self, features: pd.DataFrame) -> pd.Series:
        """The cluster number (as in ``profiles_``) of each row of ``features``."""
        if not hasattr(self, "model_"):
            raise RuntimeError("call fit() before predict()")
        require_columns(features, FEATURES, "Customer clustering")
        raw = self.model_.predict(self.transform(features))
        return pd.Series([self.relabel_[label] for label in raw], index=features.index,
                         name="cluster")
