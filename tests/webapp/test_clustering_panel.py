"""The Insights page's cluster panel: the leading sentence and the typical customer."""
import pandas as pd


def test_the_cluster_panel_shows_the_sentence_and_the_typical_customer(app):
    from webapp.dashboard.pages import insights  # pages need the app first

    profiles = pd.DataFrame([{
        "name": "High value loyal", "customers": 10, "customer_share": 0.5,
        "revenue_share": 0.9, "period_revenue_share": 0.8, "recency": 400.0,
        "frequency": 4.0, "monetary": 620.0, "centroid_recency": 14.0,
        "centroid_frequency": 4.0, "centroid_monetary": 610.0}])
    result = {"sentence": "10 customers bought between 2024-03-01 and 2024-03-31.", "k": 2,
              "accuracy": {"silhouette": 0.5},
              "baseline": {"name": "2 value tiers", "silhouette": 0.3}}
    text = str(insights.cluster_panel(result, profiles, "£"))
    assert "10 customers bought between 2024-03-01 and 2024-03-31." in text
    assert "'14'" in text and "'400'" not in text       # the centroid, not the mean
    assert "'80%'" in text and "£610" in text
    # a result made before centroids and periods still shows (its means)
    old = profiles.drop(columns=["centroid_recency", "centroid_frequency",
                                 "centroid_monetary", "period_revenue_share"])
    text = str(insights.cluster_panel({**result, "sentence": None}, old, "£"))
    assert "'400'" in text and "'90%'" in text
