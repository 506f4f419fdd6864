import pandas as pd
import pytest

from analytics.models.base import ModelError
from analytics.models.churn import (HIGH_RISK, MEDIUM_RISK, ChurnModel, active_customers,
                                    calibration_table, catch_rates, catch_sentence,
                                    churn_horizon, churn_labels, risk_bucket)
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
    invoices = churn_invoices(customers=300, seed=1)
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


def population_invoices() -> pd.DataFrame:
    """Day 0 = 2024-01-01. A buys on days 0, 10, 30; B on days 5 and 45 (twice on 45: one
    purchase day); C on day 2 only; D on days 100 and 300."""
    day = lambda n: (pd.Timestamp("2024-01-01") + pd.Timedelta(days=n)).date().isoformat()
    return pd.DataFrame([
        invoice("A", "1", day(0), 10.0), invoice("A", "2", day(10), 10.0),
        invoice("A", "3", day(30), 10.0),
        invoice("B", "4", day(5), 10.0), invoice("B", "5", day(45), 10.0),
        invoice("B", "6", day(45), 10.0), invoice("B", "C6", day(46), -5.0, is_order=False),
        invoice("C", "7", day(2), 10.0),
        invoice("D", "8", day(100), 10.0), invoice("D", "9", day(300), 10.0),
    ])


def test_churn_window_is_the_90th_percentile_of_the_gaps_between_purchase_days():
    # gaps: A 10 and 20, B 40 (its two orders of day 45 are one purchase day), D 200;
    # numpy's 90th percentile of [10, 20, 40, 200]: 40 + 0.7 × 160 = 152
    horizon = churn_horizon(population_invoices(), "2025-01-01")
    assert horizon == {"days": 152, "percentile_days": pytest.approx(152.0),
                       "median_gap_days": 30.0, "gaps": 4, "percentile": 90}
    # before day 100 only A's and B's gaps count: [10, 20, 40] → 20 + 0.8 × 20 = 36 days
    assert churn_horizon(population_invoices(), "2024-03-01")["days"] == 36
    # only A's gaps (before day 45): [10, 20] → 19, raised to the 30-day floor
    early = churn_horizon(population_invoices(), "2024-02-14")
    assert early["percentile_days"] == pytest.approx(19.0) and early["days"] == 30
    with pytest.raises(ModelError, match="bought twice"):
        churn_horizon(population_invoices(), "2024-01-05")


def test_churn_population_is_who_bought_in_the_lookback_and_labels_look_ahead_n_days():
    invoices = population_invoices()
    cutoff = "2024-02-15"   # day 45
    # lookback 40 days: orders on days 5 … 44 count; C (day 2) has left already, D not come
    assert list(active_customers(invoices, cutoff, 40)) == ["A", "B"]
    assert list(active_customers(invoices, cutoff, 45)) == ["A", "B", "C"]
    assert list(active_customers(invoices, cutoff, None)) == ["A", "B", "C"]
    # N = 60: B buys on day 45 (the cutoff day is inside the window) → stays; A and C churn
    labels = churn_labels(invoices, cutoff, 60, lookback_days=45)
    assert labels.to_dict() == {"A": True, "B": False, "C": True}
    # at day 100 with a 90-day lookback: A (day 30) and B (day 45) are in, C (day 2) out;
    # D's first order is on the cutoff day, so D is not yet a customer
    labels = churn_labels(invoices, "2024-04-10", 250, lookback_days=90)
    assert labels.to_dict() == {"A": True, "B": True}


def test_catch_rates_and_their_sentence_by_hand():
    labels = [True, True, False, False, True]
    probability = [0.9, 0.1, 0.2, 0.3, 0.8]
    recency = [10, 50, 40, 5, 30]
    catch = catch_rates(labels, probability, recency, flagged=2)
    # the model flags customers 0 and 4 (2 of the 3 who left), the baseline 1 and 2 (1 of 3)
    assert catch == {"model": pytest.approx(2 / 3), "baseline": pytest.approx(1 / 3),
                     "flagged": 2, "churned": 3}
    assert catch_sentence(catch, 60) == (
        "Flagging the 2 customers most at risk catches 67 % of the customers who leave "
        "(no order in 60 days), against 33 % for 'longest since last order'.")


def test_too_few_repeat_customers_is_said_plainly():
    invoices = pd.concat([population_invoices()] + [
        pd.DataFrame([invoice(f"S{i}", f"S{i}", "2024-03-01", 5.0)]) for i in range(60)],
        ignore_index=True)
    with pytest.raises(ModelError) as error:
        ChurnModel().fit(invoices)
    # A, B and D bought on two days
    assert str(error.value) == ("A churn model needs 50 customers with two orders; this "
                                "selection has 3.")


def test_derived_window_time_split_and_scored_population():
    invoices = churn_invoices(customers=600, seed=0)
    model = ChurnModel().fit(invoices)
    as_of = invoices["date"].max() + pd.Timedelta(days=1)
    expected = churn_horizon(invoices, as_of)["days"]
    assert model.horizon_days_ == expected and 30 <= expected <= 365
    assert model.cutoff_ == as_of - pd.Timedelta(days=expected)
    assert model.train_cutoff_ == as_of - pd.Timedelta(days=2 * expected)
    assert model.accuracy_["customers"] == len(active_customers(invoices, model.cutoff_, 365))
    catch = model.catch_
    assert catch["model"] > catch["baseline"]     # the returns signal recency cannot see
    assert model.catch_sentence_.startswith(f"Flagging the {catch['flagged']:,} customers")
    scores = model.score(invoices, reasons=0)
    assert set(scores["customer_id"]) == set(active_customers(invoices, as_of, 365))
    recent = invoices[invoices["date"] >= as_of - pd.Timedelta(days=365)]
    assert set(scores["customer_id"]) == set(recent["customer_id"])


def test_the_churn_window_and_value_tiers_in_plain_words():
    from analytics.models.runner import _horizon_sentence, _value_tiers

    assert _horizon_sentence({"days": 110, "percentile_days": 109.2, "median_gap_days": 31.0,
                              "gaps": 900, "percentile": 90}) == (
        "Churn = no order in 110 days: 9 in 10 repeat purchases came within 110 days of the "
        "previous one (median 31 days).")
    assert _horizon_sentence({"days": 30, "percentile_days": 14.0, "median_gap_days": 4.0,
                              "gaps": 50, "percentile": 90}) == (
        "Churn = no order in 30 days: 9 in 10 repeat purchases came within 14 days of the "
        "previous one (median 4 days), raised to the 30-day minimum.")
    assert _horizon_sentence({"days": 60, "given": True}) == \
        "Churn = no order in 60 days (the window you chose)."
    # 10 values: the top 2 are high, the next 3 medium, the other 5 low
    tiers = _value_tiers(pd.Series([float(v) for v in range(10)]))
    assert tiers.tolist() == ["low"] * 5 + ["medium"] * 3 + ["high"] * 2
