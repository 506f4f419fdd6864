import numpy as np
import pandas as pd
import pytest

from analytics.models.base import ModelError
from analytics.models.basket import BasketMiner, adaptive_min_support, holdout_check


def planted_baskets() -> pd.DataFrame:
    """40 invoices: A and B together in 12, A alone-with-C in 4, B with C in 4, C with D in
    20. By hand over 40 baskets: support(A) = 16/40, support(B) = 16/40,
    support(A∪B) = 12/40, confidence(A→B) = 12/16 = 0.75, lift = 0.75 / 0.4 = 1.875."""
    baskets = ([["A", "B"]] * 12 + [["A", "C"]] * 4 + [["B", "C"]] * 4 + [["C", "D"]] * 20)
    rows = [{"invoice_id": f"I{number:03d}", "product_id": product,
             "date": pd.Timestamp("2024-01-01") + pd.Timedelta(days=number)}
            for number, items in enumerate(baskets) for product in items]
    return pd.DataFrame(rows)


def find_rule(rules: pd.DataFrame, antecedent: tuple, consequent: tuple) -> pd.Series:
    match = rules[(rules["antecedent"] == antecedent) & (rules["consequent"] == consequent)]
    assert len(match) == 1, f"no single rule {antecedent} → {consequent}"
    return match.iloc[0]


def test_planted_rule_has_the_lift_worked_out_by_hand():
    miner = BasketMiner(min_support=0.1, min_confidence=0.5, min_lift=1.0).fit(planted_baskets())
    rule = find_rule(miner.rules_, ("A",), ("B",))
    assert rule["support"] == pytest.approx(12 / 40)
    assert rule["confidence"] == pytest.approx(0.75)
    assert rule["lift"] == pytest.approx(1.875)
    assert rule["leverage"] == pytest.approx(12 / 40 - (16 / 40) * (16 / 40))
    assert rule["conviction"] == pytest.approx((1 - 16 / 40) / (1 - 0.75))
    assert rule["baskets"] == 12
    # D → C: confidence 1, lift = 1 / (28/40)
    assert find_rule(miner.rules_, ("D",), ("C",))["lift"] == pytest.approx(40 / 28)
    assert miner.baskets_total_ == 40 and miner.items_capped_ == 0


def test_item_cap_is_reported_and_supports_stay_on_all_baskets():
    miner = BasketMiner(min_support=0.1, min_confidence=0.5, max_items=2).fit(planted_baskets())
    # most frequent: C (28 baskets), D (20), then A and B (16 each): C and D are kept
    assert miner.items_kept_ == 2 and miner.items_capped_ == 2
    assert miner.baskets_capped_ == 12 + 4 + 4   # AB, AC and BC lose a product
    assert miner.baskets_emptied_ == 12          # AB loses both
    assert miner.frequent_items_capped_ == 2     # A and B are in 40 % of baskets ≥ 10 %
    assert set(miner.itemsets_["itemsets"].map(lambda s: tuple(sorted(s)))) == {
        ("C",), ("D",), ("C", "D")}
    support_c = miner.itemsets_.set_index(miner.itemsets_["itemsets"].map(
        lambda s: tuple(sorted(s))))["support"][("C",)]
    assert support_c == pytest.approx(28 / 40)


def test_bought_together_counts_every_basket():
    miner = BasketMiner(min_support=0.1, min_confidence=0.5).fit(planted_baskets())
    together = miner.bought_together("A")
    assert together["product_id"].tolist() == ["B", "C"]
    assert together["confidence"].tolist() == pytest.approx([12 / 16, 4 / 16])
    assert together["lift"].tolist() == pytest.approx([0.75 / 0.4, 0.25 / 0.7])
    with pytest.raises(ModelError, match="no basket"):
        miner.bought_together("Z")


def test_bundles_list_each_pair_once_with_descriptions():
    miner = BasketMiner(min_support=0.1, min_confidence=0.5).fit(planted_baskets())
    bundles = miner.bundles({"A": "Apple", "B": "Banana"})
    pairs = [frozenset((row.product_a, row.product_b)) for row in bundles.itertuples()]
    assert len(pairs) == len(set(pairs))
    first = bundles[bundles["product_a"].isin(["A", "B"]) & bundles["product_b"].isin(["A", "B"])]
    assert first["description_a"].notna().all() and first["lift"].iloc[0] == pytest.approx(1.875)


def test_holdout_check_compares_rules_with_popularity():
    # the same 10-basket pattern 4 times in date order: train = first 20, hold-out = last 20
    pattern = [["A", "B"]] * 3 + [["A", "C"], ["C", "D"], ["C", "D"], ["C", "D"], ["C", "D"],
                                  ["B", "C"], ["C", "D"]]
    rows = [{"invoice_id": f"I{number:03d}", "product_id": product,
             "date": pd.Timestamp("2024-01-01") + pd.Timedelta(days=number)}
            for number, items in enumerate(pattern * 4) for product in items]
    check = holdout_check(pd.DataFrame(rows), {"min_support": 0.1, "min_confidence": 0.72},
                          holdout_share=0.5)
    assert check["train_baskets"] == 20 and check["holdout_baskets"] == 20
    # train counts: AB 6, AC 2, CD 10, BC 2 → A 8, B 8, C 14, D 10 baskets; rules with
    # confidence ≥ 0.72: A→B (6/8), B→A (6/8), D→C (10/10); C→D (10/14 = 0.714) is not
    assert check["rules_checked"] == 3
    assert check["confidence"] == pytest.approx((0.75 + 0.75 + 1.0) / 3)
    # popularity baseline on the hold-out: support of B (8/20), A (8/20), C (14/20)
    assert check["baseline_confidence"] == pytest.approx((0.4 + 0.4 + 0.7) / 3)


def test_too_few_baskets_is_a_model_error():
    few = planted_baskets().head(6)
    with pytest.raises(ModelError, match="Too few baskets"):
        BasketMiner().fit(few)


def test_default_support_adapts_so_the_demos_planted_pairs_are_found(tmp_path):
    demo = pytest.importorskip("data.demo")
    from analytics.filters import ALL_DATA, Filters
    from analytics.models import run_model
    from analytics.warehouse import Warehouse

    data = demo.generate_demo(30_000, 42)
    warehouse = Warehouse(f"duckdb:///{tmp_path}")
    warehouse.publish(data.lines, data.sessions, source="demo")
    result = run_model("basket", warehouse, Filters(), ALL_DATA)
    warehouse.dispose()
    # 4,000 products in small baskets: 1 % support would keep no pair at all
    assert result["params"]["min_support"] < 0.01
    assert result["min_support_rule"].startswith("adaptive")
    assert result["min_support_baskets"] >= 10
    found = {frozenset((bundle["description_a"], bundle["description_b"]))
             for bundle in result["bundles"]}
    planted = {frozenset((first[1], second[1])) for first, second in demo.PLANTED_PAIRS}
    assert planted <= found
    assert len(found) <= 2 * len(planted)  # few other pairs


def test_adaptive_min_support_takes_the_200th_product_within_its_bounds():
    counts = pd.Series(np.arange(1000, 0, -1))          # products in 1000 … 1 baskets
    assert adaptive_min_support(counts, 100_000) == pytest.approx(801 / 100_000)
    assert adaptive_min_support(counts, 10_000) == 0.01       # capped at 1 %
    assert adaptive_min_support(counts.tail(50), 100_000) == pytest.approx(10 / 100_000)
