import numpy as np
import pandas as pd
import pytest

from analytics.models.anomalies import (AnomalyDetector, comparison_days, explain_day, headline,
                                        robust_monitor)
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


def test_too_little_history_is_a_model_error():
    with pytest.raises(ModelError, match="at least 28"):
        AnomalyDetector().fit(daily_frame(days=20))
    with pytest.raises(ModelError, match="metric"):
        AnomalyDetector(metric="profit")
