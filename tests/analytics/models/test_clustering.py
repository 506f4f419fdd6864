import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from analytics.models.base import ModelError
from analytics.models.clustering import FEATURES, CustomerSegmenter, name_cluster


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
    # lapsed one-timers spend 40 (≤ the 40th percentile), new buyers 60 (the median)
    assert set(profiles["name"]) == {"High value loyal", "Low value lapsing", "Mid value new"}
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


def population(size: int = 100) -> pd.DataFrame:
    """Customers whose medians are recency 30, frequency 2, tenure 400, and whose monetary
    runs 1…size (40th percentile 40.6, 75th 75.25)."""
    return pd.DataFrame({"recency": 30.0, "frequency": 2.0, "tenure": 400.0, "aov": 50.0,
                         "monetary": np.arange(1.0, size + 1)})


def test_names_follow_the_documented_rules():
    people = population()
    centre = dict(recency=30.0, frequency=2.0, monetary=60.0, tenure=400.0, aov=50.0)

    def name(**changes):
        return name_cluster(pd.Series({**centre, **changes}), people)

    assert name() == "Mid value occasional"
    assert name(monetary=80.0) == "High value occasional"
    assert name(monetary=40.0) == "Low value occasional"
    # lapsing: recency above max(90, 2 × 30)
    assert name(recency=91.0, frequency=10.0) == "Mid value lapsing"
    assert name(recency=90.0, frequency=4.0) == "Mid value loyal"
    assert name(tenure=90.0, frequency=4.0) == "Mid value new"
    # loyal needs max(3, 2 × 2) = 4 orders
    assert name(frequency=3.9) == "Mid value occasional"
    assert name(frequency=1.2) == "Mid value one-off"


def test_a_loyal_cluster_cannot_have_a_long_recency():
    """The whole-history failure: big, frequent buyers whose last order is 1,586 days old
    are lapsing, whatever the other clusters look like."""
    rng = np.random.default_rng(0)
    groups = [(1586, 30, 6000, 3000, 200), (20, 2, 60, 300, 30), (40, 3, 90, 500, 30)]
    frame = pd.concat([pd.DataFrame({
        "recency": r * np.exp(rng.normal(0, 0.1, 60)), "frequency": float(f),
        "monetary": m * np.exp(rng.normal(0, 0.1, 60)),
        "tenure": t * np.exp(rng.normal(0, 0.1, 60)),
        "aov": a * np.exp(rng.normal(0, 0.1, 60))}) for r, f, m, t, a in groups],
        ignore_index=True)
    segmenter = CustomerSegmenter(k=3).fit(frame)
    for profile in segmenter.profiles_.to_dict(orient="records"):
        assert profile["name"] == name_cluster(
            pd.Series({f: profile[f"centroid_{f}"] for f in FEATURES}), frame)
        if profile["name"].endswith("loyal"):
            assert profile["centroid_recency"] <= 90 and profile["centroid_frequency"] >= 3
    names = segmenter.profiles_.set_index("cluster")["name"]
    assert names[0] == "High value lapsing"


def test_names_are_consistent_with_the_centroids():
    features, _ = planted_customers()
    segmenter = CustomerSegmenter().fit(features)
    for profile in segmenter.profiles_.to_dict(orient="records"):
        centroid = {f: profile[f"centroid_{f}"] for f in FEATURES}
        value, behaviour = profile["name"].split(" value ")
        high = features["monetary"].quantile(0.75)
        low = features["monetary"].quantile(0.40)
        assert value == ("High" if centroid["monetary"] >= high else
                         "Low" if centroid["monetary"] <= low else "Mid")
        if behaviour == "loyal":
            assert centroid["recency"] <= 90 and centroid["frequency"] >= 3
        if behaviour == "lapsing":
            assert centroid["recency"] > 90
        if behaviour == "new":
            assert centroid["tenure"] <= 90
        # the centroid is a typical member: between the cluster's smallest and largest
        members = features[segmenter.labels_ == profile["cluster"]]
        for feature in FEATURES:
            low_end, high_end = members[feature].min(), members[feature].max()
            assert low_end - 1e-9 * low_end <= centroid[feature] <= high_end + 1e-9 * high_end


def test_too_few_customers_is_a_model_error():
    features, _ = planted_customers()
    with pytest.raises(ModelError, match="Too few customers"):
        CustomerSegmenter().fit(features.head(10))
    with pytest.raises(ModelError, match="columns"):
        CustomerSegmenter().fit(features.drop(columns="aov"))
