import pandas as pd
import pytest

from analytics.models.base import ModelError
from analytics.models.churn import (HIGH_RISK, MEDIUM_RISK, ChurnModel, calibration_table,
                                    churn_labels, risk_bucket)
from analytics.models.features import customer_features
from tests.analytics.models.synthetic import churn_invoices


def invoice(customer, number, day, net, is_order=True, country="France"):
    gross = net if is_order else 0.0
    return {"customer_id": customer, "invoice_id": number, "date": pd.Timestamp(day),
            "country": country, "net_value": net, "gross_value": gross,
            "returns_value": 0.0 if is_order else -net, "units": 1.0, "is_order": is_order}


def hand_invoices() -> pd.DataFrame:
    return pd.DataFrame([
        invoice("A", "1", "2024-01-01", 100.0),
        invoice("A", "2", "2024-01-11", 50.0),
        invoice("A", "C2", "2024-01-12", -20.0, is_order=False),
        invoice("A", "3", "2024-01-31", 30.0, country="Germany"),
        invoice("B", "4", "2024-01-20", 10.0),
        invoice("B", "5", "2024-03-05", 10.0),   # after the cutoff
        invoice("C", "6", "2024-02-10", 10.0),   # first order after the cutoff
    ])


def test_customer_features_worked_by_hand():
    features = customer_features(hand_invoices(), "2024-02-01")
    assert list(features.index) == ["A", "B"]  # C has no order before the cutoff
    a = features.loc["A"]
    assert a["recency"] == 1 and a["tenure"] == 31 and a["frequency"] == 3
    assert a["monetary"] == 160.0           # 100 + 50 − 20 + 30
    assert a["aov"] == pytest.approx(180 / 3)
    assert a["returns_share"] == pytest.approx(20 / 180)
    assert a["gap_mean"] == 15 and a["gap_std"] == 5   # gaps 10 and 20 days
    assert a["country"] == "Germany"        # the latest invoice's country
    b = features.loc["B"]
    assert b["gap_mean"] == b["tenure"] == 12 and b["gap_std"] == 0   # one order
    assert a["trend"] == 1.0                # everything in the last 90 days


def test_churn_labels_look_only_at_the_window_after_the_cutoff():
    labels = churn_labels(hand_invoices(), "2024-02-01", horizon_days=30)
    # A: no order 2024-02-01…03-01 → churned; B: next order 03-05 is outside the window
    assert labels.to_dict() == {"A": True, "B": True}
    labels = churn_labels(hand_invoices(), "2024-02-01", horizon_days=40)
    assert labels.to_dict() == {"A": True, "B": False}


def test_leakage_features_do_not_change_when_post_cutoff_data_changes():
    invoices = churn_invoices(customers=200, seed=3)
    cutoff = pd.Timestamp("2023-03-01")
    before = customer_features(invoices, cutoff)
    changed = invoices.copy()
    after = changed["date"] >= cutoff
    changed.loc[after, "net_value"] *= 10       # different values after the cutoff
    changed.loc[after, "date"] += pd.Timedelta(days=3)
    extra = changed[after].head(50).assign(invoice_id=lambda f: "X" + f["invoice_id"])
    changed = pd.concat([changed, extra], ignore_index=True)
    pd.testing.assert_frame_equal(before, customer_features(changed, cutoff))
    # and the whole model's scores as of the cutoff do not move either
    model = ChurnModel(90, validate=False).fit(invoices[invoices["date"] < cutoff])
    scores = model.score(invoices, as_of=cutoff).set_index("customer_id")["probability"]
    changed_scores = model.score(changed, as_of=cutoff).set_index("customer_id")["probability"]
    pd.testing.assert_series_equal(scores, changed_scores)


def test_planted_churn_signal_beats_the_recency_baseline():
    invoices = churn_invoices(customers=600, seed=0)
    model = ChurnModel(horizon_days=90).fit(invoices)
    # validation cutoff = the day after the last invoice − 90 days; training 90 days earlier
    last_day = invoices["date"].max()
    assert model.cutoff_ == last_day + pd.Timedelta(days=1 - 90)
    assert model.train_cutoff_ == last_day + pd.Timedelta(days=1 - 180)
    # recency alone scores about 0.91 here; the returns signal adds to it
    assert model.accuracy_["roc_auc"] > model.baseline_accuracy_["roc_auc"] + 0.03
    assert model.accuracy_["roc_auc"] > 0.9
    assert model.accuracy_["brier"] < model.baseline_accuracy_["brier"]
    top = model.importance_["feature"].head(3).tolist()
    assert "returns_share" in top
    scores = model.score(invoices)
    assert set(scores["risk"]) <= {"high", "medium", "low"}
    returners = scores["customer_id"].str[1:].astype(int) % 2 == 0
    assert scores.loc[returners, "probability"].mean() > scores.loc[~returners,
                                                                     "probability"].mean()
    reasons = scores.loc[returners].iloc[0]["reasons"]
    assert reasons and reasons[0]["contribution"] > 0
    assert sorted((r["contribution"] for r in reasons), reverse=True) == \
        [r["contribution"] for r in reasons]


def test_calibration_table_and_risk_buckets():
    table = calibration_table([0, 0, 1, 1], [0.1, 0.2, 0.7, 0.9], bins=2)
    assert table.to_dict(orient="list") == {"bin": [1, 2], "customers": [2, 2],
                                            "predicted": [pytest.approx(0.15),
                                                          pytest.approx(0.8)],
                                            "observed": [0.0, 1.0]}
    assert risk_bucket(HIGH_RISK) == "high" and risk_bucket(MEDIUM_RISK) == "medium"
    assert risk_bucket(MEDIUM_RISK - 0.01) == "low"


def test_too_little_history_and_bad_cutoff_are_model_errors():
    invoices = churn_invoices(customers=100, seed=1)
    short = invoices[invoices["date"] < pd.Timestamp("2022-04-01")]
    with pytest.raises(ModelError, match="Too little history"):
        ChurnModel(90).fit(short)
    with pytest.raises(ModelError, match="cutoff"):
        ChurnModel(90, cutoff="2023-06-01").fit(invoices)
    with pytest.raises(ModelError, match="no identified customers"):
        ChurnModel(90).fit(invoices.head(0))


def test_training_sample_is_stratified_deterministic_and_bounded():
    invoices = churn_invoices()
    full = ChurnModel(90, cutoff="2023-03-01")
    labels = churn_labels(invoices, "2023-03-01", 90)
    sample = ChurnModel(90, max_customers=200)._sample(labels)
    assert len(sample) == pytest.approx(200, abs=1)
    assert sample.mean() == pytest.approx(labels.mean(), abs=0.01)   # same churn rate
    assert sample.index.is_monotonic_increasing and sample.index.isin(labels.index).all()
    assert ChurnModel(90, max_customers=200)._sample(labels).index.equals(sample.index)
    assert ChurnModel(90, max_customers=10_000)._sample(labels).index.equals(labels.index)
    sampled = ChurnModel(90, cutoff="2023-03-01", max_customers=200).fit(invoices)
    full.fit(invoices)
    assert sampled.training_customers_ == len(sample)
    assert full.training_customers_ == len(labels)
    # validation still scores every customer at the cutoff
    assert sampled.accuracy_["customers"] == full.accuracy_["customers"]
    assert sampled.accuracy_["roc_auc"] > 0.7
    scores = sampled.score(invoices, reasons=0)
    assert "reasons" not in scores and len(scores) == invoices["customer_id"].nunique()


def test_rfm_only_features_are_the_same_numbers():
    full = customer_features(hand_invoices(), "2024-03-01")
    light = customer_features(hand_invoices(), "2024-03-01", rfm_only=True)
    assert list(light.columns) == ["recency", "frequency", "monetary", "tenure", "aov"]
    pd.testing.assert_frame_equal(light, full[list(light.columns)])
