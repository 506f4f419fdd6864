import numpy as np
import pandas as pd
import pytest

from analytics.models.anomalies import (AnomalyDetector, comparison_days, explain_day, headline,
                                        robust_monitor, slice_anomalies)
from analytics.models.base import ModelError


def daily_frame(days: int = 365, seed: int = 0, spikes: dict | None = None) -> pd.DataFrame:
    """Daily revenue/orders with weekly + yearly seasonality and multiplicative noise (8 %,
    as a shop's days vary in proportion to its size); ``spikes`` = {day index: factor}."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2023-01-01", periods=days, freq="D")
    level = 100 * np.where(dates.day_of_week >= 5, 0.6, 1.0) * \
        (1 + 0.3 * np.sin(2 * np.pi * dates.day_of_year / 365.25))
    orders = np.round(np.asarray(level) * np.exp(rng.normal(0, 0.08, days)))
    aov = rng.normal(50, 3, days)
    for index, factor in (spikes or {}).items():
        orders[index] *= factor
    revenue = orders * aov
    return pd.DataFrame({"date": dates, "revenue": revenue, "orders": orders,
                         "aov": revenue / orders, "units": orders * 2})


def test_planted_anomalies_are_found_with_good_precision_and_recall():
    planted = {40: 3.0, 120: 0.2, 200: 2.5, 300: 3.0}
    daily = daily_frame(spikes=planted)
    detector = AnomalyDetector("revenue", contamination=0.02).fit(daily)
    found = set(detector.anomalies_["date"])
    truth = {daily["date"][index] for index in planted}
    precision = len(found & truth) / len(found)
    recall = len(found & truth) / len(truth)
    assert recall == 1.0
    assert precision >= 0.75
    directions = detector.anomalies_.set_index("date")["direction"]
    assert directions[daily["date"][120]] == "below"
    assert directions[daily["date"][40]] == "above"


def test_no_planted_anomaly_means_few_or_no_findings():
    false_alarms = [len(AnomalyDetector("revenue", contamination=0.02)
                         .fit(daily_frame(seed=seed)).anomalies_) for seed in range(4)]
    assert sum(false_alarms) <= 4  # at most about one a year



def test_explanation_points_at_the_country_that_deviates():
    day = pd.Timestamp("2024-03-29")
    rows = []
    for when in comparison_days(day):
        rows += [{"date": when, "value": "United Kingdom", "revenue": 1000.0},
                 {"date": when, "value": "France", "revenue": 200.0},
                 {"date": when, "value": "Germany", "revenue": 100.0}]
    rows[0]["revenue"] = 1050.0  # UK +50 on the day
    rows[1]["revenue"] = 650.0   # France +450 on the day
    explanation = explain_day(pd.DataFrame(rows), day)
    assert explanation["value"].tolist() == ["France", "United Kingdom"]
    assert explanation["deviation"].tolist() == [450.0, 50.0]
    assert explanation["share"].tolist() == pytest.approx([0.9, 0.1])
    top = headline({"country": explanation})
    assert top["dimension"] == "country" and top["value"] == "France"
    assert top["share"] == pytest.approx(0.9)


def test_robust_monitor_alerts_on_a_spike_today():
    daily = daily_frame(days=60, spikes={59: 3.0})
    monitor = robust_monitor(daily, "revenue")
    assert len(monitor) == 7
    assert monitor["alert"].tolist() == [False] * 6 + [True]
    assert monitor["z"].iloc[-1] > 5


def test_robust_monitor_judges_counts_against_their_poisson_noise():
    """28 days of 30 orders (±1: MAD-scale 1.48) then 22 and 5: by the MAD alone 22 would
    be z ≈ −5.4; a count's noise is at least √30 ≈ 5.48, so 22 is z = −8 / 5.48 ≈ −1.46
    (ordinary) and 5 is −25 / 5.48 ≈ −4.56 (unusual). Revenue keeps the MAD scale."""
    import pandas as pd

    dates = pd.date_range("2024-01-01", periods=30, freq="D")
    orders = [30 + (1 if day % 2 else -1) * (day % 3 == 0) for day in range(28)] + [22, 5]
    daily = pd.DataFrame({"date": dates, "orders": orders, "revenue": orders})
    counted = robust_monitor(daily, "orders", days=2)
    assert counted["z"].round(2).tolist() == [-1.46, -4.56]
    assert counted["alert"].tolist() == [False, True]
    assert robust_monitor(daily, "revenue", days=2)["z"].iloc[0] < -3.5


def test_too_little_history_is_a_model_error():
    with pytest.raises(ModelError, match="at least 28"):
        AnomalyDetector().fit(daily_frame(days=20))
    with pytest.raises(ModelError, match="metric"):
        AnomalyDetector(metric="profit")


def sliced_shop(seed: int = 0, days: int = 730, planted: bool = True,
                campaign_channel: str = "Web"):
    """Daily orders (Poisson, 100 a weekday, 70 at weekends, ×3 on a "Black Friday") split
    over 3 channels (Web 60 %, App 25 %, Store 15 %) and, independently, 4 traffic sources
    (Direct 40 %, Search 30 %, Social 20 %, Email 10 %). When ``planted``: an app outage
    (95 % of the app's orders lost for 4 days, from every source alike) and an e-mail
    campaign (twice the usual e-mail orders for 2 days, all through ``campaign_channel``).
    Revenue = 40
    per order, 2 units. Returns (daily shop totals, slice series, the planted (dimension,
    value, start, end, direction))."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2023-01-01", periods=days, freq="D")
    level = 100 * np.where(dates.day_of_week >= 5, 0.7, 1.0) * np.where(
        dates == pd.Timestamp("2024-11-29"), 3.0, 1.0)
    outage = (dates >= pd.Timestamp("2024-06-10")) & (dates <= pd.Timestamp("2024-06-13"))
    campaign = (dates >= pd.Timestamp("2024-03-05")) & (dates <= pd.Timestamp("2024-03-06"))
    channels = rng.multinomial(rng.poisson(level), [0.6, 0.25, 0.15])
    if planted:
        channels[outage, 1] = rng.binomial(channels[outage, 1], 0.05)
    sources = rng.multinomial(channels.sum(axis=1), [0.4, 0.3, 0.2, 0.1])
    if planted:
        extra = rng.poisson(2 * 0.1 * level[campaign])
        sources[campaign, 3] += extra
        channels[campaign, ["Web", "App", "Store"].index(campaign_channel)] += extra
    frames = []
    for dimension, values, counts in (("channel", ["Web", "App", "Store"], channels),
                                      ("traffic_source", ["Direct", "Search", "Social",
                                                          "Email"], sources)):
        for column, value in enumerate(values):
            orders = counts[:, column].astype(float)
            frames.append(pd.DataFrame({"dimension": dimension, "value": value,
                                        "date": dates, "orders": orders, "units": 2 * orders,
                                        "revenue": 40 * orders,
                                        "gross_revenue": 40 * orders}))
    slices = pd.concat(frames, ignore_index=True)
    total = channels.sum(axis=1).astype(float)
    daily = pd.DataFrame({"date": dates, "orders": total, "units": 2 * total,
                          "revenue": 40 * total, "gross_revenue": 40 * total})
    truth = [("channel", "App", pd.Timestamp("2024-06-10"), pd.Timestamp("2024-06-13"),
              "below"),
             ("traffic_source", "Email", pd.Timestamp("2024-03-05"),
              pd.Timestamp("2024-03-06"), "above")] if planted else []
    return daily, slices, truth


def test_slice_anomalies_find_the_planted_outage_and_campaign_and_little_else():
    daily, slices, truth = sliced_shop()
    found = slice_anomalies(daily, slices, "orders")
    for dimension, value, start, end, direction in truth:
        match = found[(found["dimension"] == dimension) & (found["value"] == value)
                      & (found["start"] <= end) & (found["end"] >= start)]
        assert len(match) == 1, f"{value} not found: {found}"
        assert match["start"].iloc[0] == start and match["end"].iloc[0] == end
        assert match["direction"].iloc[0] == direction
    # the two planted anomalies lead; Black Friday lifts every slice alike: not reported
    assert {(row.dimension, row.value) for row in found.head(2).itertuples()} == {
        ("channel", "App"), ("traffic_source", "Email")}
    assert not ((found["start"] <= "2024-11-29") & (found["end"] >= "2024-11-29")).any()
    assert len(found) <= 3
    outage = found[found["value"] == "App"].iloc[0]
    assert outage["relative"] < -0.8 and outage["z"] < -8


def test_slice_anomalies_on_ordinary_days_are_rare():
    hits = [len(slice_anomalies(*sliced_shop(seed, planted=False)[:2], "orders"))
            for seed in range(3)]
    assert sum(hits) <= 3  # 3 shops × 7 slices × 2 years: about one false alarm a shop


def test_an_echo_in_another_dimension_is_listed_as_related():
    # the campaign's extra orders all come through the app: App rises too, less
    daily, slices, _ = sliced_shop(campaign_channel="App")
    found = slice_anomalies(daily, slices, "orders")
    email = found[found["value"] == "Email"].iloc[0]
    assert email["related"] == ["channel = App"]
    assert not ((found["value"] == "App") & (found["start"] <= "2024-03-06")
                & (found["end"] >= "2024-03-05")).any()
    alone = slice_anomalies(daily, slices[slices["dimension"] == "channel"], "orders")
    assert ((alone["value"] == "App") & (alone["start"] <= "2024-03-06")
            & (alone["end"] >= "2024-03-05")).any()
