import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from analytics.models.base import ModelError
from analytics.models.clustering import CustomerSegmenter, name_cluster


def planted_customers(seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Three planted groups: loyal big spenders, lapsed one-timers, new small buyers."""
    rng = np.random.default_rng(seed)
    groups = []
    specs = [  # recency, frequency, monetary, tenure, aov (medians)
        (10, 30, 6000, 600, 200),
        (300, 1, 40, 350, 40),
        (15, 2, 60, 20, 30),
    ]
    for label, (recency, frequency, monetary, tenure, aov) in enumerate(specs):
        size = 80
        jitter = lambda centre: centre * np.exp(rng.normal(0, 0.15, size))  # noqa: E731
        groups.append(pd.DataFrame({
            "recency": jitter(recency), "frequency": np.maximum(1, np.round(jitter(frequency))),
            "monetary": jitter(monetary), "tenure": jitter(tenure), "aov": jitter(aov),
            "planted": label}))
    frame = pd.concat(groups, ignore_index=True)
    frame.index = [f"C{number:03d}" for number in range(len(frame))]
    return frame.drop(columns="planted"), frame["planted"].to_numpy()


def test_planted_clusters_are_recovered_and_named():
    features, planted = planted_customers()
    segmenter = CustomerSegmenter().fit(features)
    assert segmenter.k_ == 3
    assert adjusted_rand_score(planted, segmenter.labels_) > 0.95
    assert segmenter.silhouette_ > 0.5
    profiles = segmenter.profiles_.set_index("cluster")
    # cluster 0 has the most revenue: the loyal big spenders
    assert profiles.loc[0, "name"] == "High value loyal"
    assert profiles.loc[0, "revenue_share"] > 0.9
    assert set(profiles["name"]) == {"High value loyal", "Lapsed low spenders",
                                     "New low spenders"}
    assert profiles["customers"].sum() == len(features)
    assert profiles["revenue_share"].sum() == pytest.approx(1.0)
    # deterministic: a second fit gives the same labels and names
    again = CustomerSegmenter().fit(features)
    assert (again.labels_ == segmenter.labels_).all()
    assert again.profiles_["name"].tolist() == segmenter.profiles_["name"].tolist()
    assert (segmenter.predict(features) == segmenter.labels_).all()


def test_given_k_is_used():
    features, _ = planted_customers()
    segmenter = CustomerSegmenter(k=4).fit(features)
    assert segmenter.k_ == 4 and list(segmenter.silhouette_by_k_) == [4]


def test_names_follow_the_documented_rules():
    z = dict(recency=0.0, frequency=0.0, monetary=0.0, tenure=0.0, aov=0.0)
    assert name_cluster(pd.Series({**z, "recency": 1.0, "monetary": 0.8})) == "Lapsed high value"
    assert name_cluster(pd.Series({**z, "recency": 1.0})) == "Lapsed"
    assert name_cluster(pd.Series({**z, "tenure": -1.0, "aov": 0.9})) == "New high spenders"
    assert name_cluster(pd.Series({**z, "monetary": 0.9})) == "Big spenders"
    assert name_cluster(pd.Series({**z, "frequency": 0.4})) == "Regulars"
    assert name_cluster(pd.Series(z)) == "Occasional low spenders"


def test_too_few_customers_is_a_model_error():
    features, _ = planted_customers()
    with pytest.raises(ModelError, match="Too few customers"):
        CustomerSegmenter().fit(features.head(10))
    with pytest.raises(ModelError, match="columns"):
        CustomerSegmenter().fit(features.drop(columns="aov"))
