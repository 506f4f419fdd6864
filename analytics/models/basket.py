"""Market-basket rules (mlxtend FP-growth + association rules) on the invoices' products.

A basket is the set of distinct products of an invoice's sale lines. Size guards keep the
mining fast on large data: only the ``max_items`` products in the most baskets are mined
(the rest are *capped*, and reported), and the basket × product matrix is a sparse boolean
DataFrame. Supports are fractions of ALL baskets (including the ones left without a mined
product), so they match a plain count.

Rule measures (X → Y): ``support`` = share of baskets with X ∪ Y; ``confidence`` =
support(X ∪ Y) ÷ support(X); ``lift`` = confidence ÷ support(Y); ``leverage`` =
support(X ∪ Y) − support(X)·support(Y); ``conviction`` = (1 − support(Y)) ÷ (1 − confidence)
(None when confidence is 1).

The default minimum support adapts to the catalogue (``adaptive_min_support``): the
support of the 200th most frequent product, at least 10 baskets, at most 1 %.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from mlxtend.frequent_patterns import association_rules, fpgrowth
from scipy import sparse

from analytics.models.base import ModelError, require_columns

MIN_BASKETS = 10
MIN_RULE_BASKETS = 10
ADAPTIVE_RANK = 200
MAX_DEFAULT_SUPPORT = 0.01
RULE_COLUMNS = ["antecedent", "consequent", "antecedent_support", "consequent_support",
                "support", "confidence", "lift", "leverage", "conviction", "baskets"]


def adaptive_min_support(item_counts: pd.Series, baskets: int) -> float:
    """The default minimum support: the support of the ``ADAPTIVE_RANK``-th most frequent
    product (so that at least that many products can form itemsets), at least
    ``MIN_RULE_BASKETS`` baskets, at most ``MAX_DEFAULT_SUPPORT``. A shop with a few
    hundred staple products (Online Retail) keeps 1 %; one with thousands of products in
    small baskets (the demo: 4,000 products, 2.7 per basket) goes down to ~0.2 %, where its
    real pairs live."""
    rank_support = float(item_counts.iloc[min(ADAPTIVE_RANK, len(item_counts)) - 1]) / baskets
    floor = MIN_RULE_BASKETS / baskets
    return float(min(MAX_DEFAULT_SUPPORT, max(floor, rank_support)))


class BasketMiner:
    """``fit(baskets, invoice_col, item_col)`` on one row per (invoice, product) sets:

    * ``min_support_``: the minimum support used (``min_support``, or when it is None
      ``adaptive_min_support``);
    * ``baskets_total_``, ``items_total_``, ``items_kept_``, ``items_capped_``,
      ``frequent_items_capped_`` (capped items with at least ``min_support``: rules they
      would be in are missing; 0 means the cap changed nothing),
      ``baskets_capped_`` (baskets that lost a product to the cap), ``baskets_emptied_``
      (baskets left with no mined product), ``multi_item_baskets_``;
    * ``itemsets_``: mlxtend's frequent itemsets (``support``, ``itemsets``);
    * ``rules_``: one row per rule with ``RULE_COLUMNS``; ``antecedent``/``consequent`` are
      tuples of product ids; sorted by lift, confidence, support (descending).
    """

    def __init__(self, min_support: float | None = None, min_confidence: float = 0.2,
                 min_lift: float = 1.0, max_items: int = 1000, max_len: int = 3):
        if min_support is not None and not 0 < min_support <= 1:
            raise ModelError(f"min_support must be in (0, 1], not {min_support}")
        if not 0 <= min_confidence <= 1:
            raise ModelError(f"min_confidence must be in [0, 1], not {min_confidence}")
        if max_items < 2:
            raise ModelError(f"max_items must be at least 2, not {max_items}")
        self.min_support = min_support
        self.min_confidence = min_confidence
        self.min_lift = min_lift
        self.max_items = max_items
        self.max_len = max_len

    def fit(self, baskets: pd.DataFrame, invoice_col: str = "invoice_id",
            item_col: str = "product_id") -> "BasketMiner":
        require_columns(baskets, [invoice_col, item_col], "Basket analysis")
        pairs = baskets[[invoice_col, item_col]].dropna().drop_duplicates()
        pairs.columns = ["basket", "item"]
        pairs = pairs.astype({"basket": str, "item": str})
        sizes = pairs.groupby("basket").size()
        self.baskets_total_ = int(len(sizes))
        self.multi_item_baskets_ = int((sizes >= 2).sum())
        if self.multi_item_baskets_ < MIN_BASKETS:
            raise ModelError(f"Too few baskets to find products bought together: "
                             f"{self.multi_item_baskets_} invoices with 2 or more products, "
                             f"basket analysis needs at least {MIN_BASKETS}.")
        counts = pairs.groupby("item").size().rename("baskets").reset_index()
        item_counts = counts.sort_values(["baskets", "item"], ascending=[False, True]
                                         ).set_index("item")["baskets"]
        self.pairs_ = pairs
        self.item_counts_ = item_counts
        self.min_support_ = self.min_support if self.min_support is not None \
            else adaptive_min_support(item_counts, len(sizes))
        kept = item_counts.index[:self.max_items]
        self.items_total_ = int(len(item_counts))
        self.items_kept_ = int(len(kept))
        self.items_capped_ = self.items_total_ - self.items_kept_
        # the capped items that were frequent enough to be in a rule: the cap's real cost
        self.frequent_items_capped_ = int(
            (item_counts.iloc[self.max_items:] >= self.min_support_ * len(sizes)).sum())
        kept_pairs = pairs[pairs["item"].isin(kept)]
        kept_sizes = kept_pairs.groupby("basket").size().reindex(sizes.index, fill_value=0)
        self.baskets_capped_ = int((kept_sizes < sizes).sum())
        self.baskets_emptied_ = int((kept_sizes == 0).sum())

        basket_codes = pd.Categorical(kept_pairs["basket"], categories=sizes.index)
        item_codes = pd.Categorical(kept_pairs["item"], categories=kept)
        matrix = sparse.csr_matrix(
            (np.ones(len(kept_pairs), dtype=bool), (basket_codes.codes, item_codes.codes)),
            shape=(len(sizes), len(kept)))
        onehot = pd.DataFrame.sparse.from_spmatrix(matrix, columns=list(kept))
        itemsets = fpgrowth(onehot, min_support=self.min_support_, use_colnames=True,
                            max_len=self.max_len)
        self.itemsets_ = itemsets
        self.rules_ = self._rules(itemsets)
        return self

    def _rules(self, itemsets: pd.DataFrame) -> pd.DataFrame:
        if itemsets.empty or itemsets["itemsets"].map(len).max() < 2:
            return pd.DataFrame(columns=RULE_COLUMNS)
        rules = association_rules(itemsets, num_itemsets=self.baskets_total_,
                                  metric="confidence", min_threshold=self.min_confidence)
        rules = rules[rules["lift"] >= self.min_lift]
        frame = pd.DataFrame({
            "antecedent": rules["antecedents"].map(lambda items: tuple(sorted(items))),
            "consequent": rules["consequents"].map(lambda items: tuple(sorted(items))),
            "antecedent_support": rules["antecedent support"],
            "consequent_support": rules["consequent support"],
            "support": rules["support"], "confidence": rules["confidence"],
            "lift": rules["lift"], "leverage": rules["leverage"],
            "conviction": rules["conviction"].replace([np.inf, -np.inf], np.nan),
            "baskets": (rules["support"] * self.baskets_total_).round().astype(int),
        })
        return frame.sort_values(["lift", "confidence", "support", "antecedent", "consequent"],
                                 ascending=[False, False, False, True, True],
                                 ignore_index=True)

    def bought_together(self, product_id: str, top: int = 10, min_baskets: int = 2,
                        ) -> pd.DataFrame:
        """Products most often in the same basket as ``product_id``, counted on all baskets
        (not only the mined items). Columns: ``product_id``, ``baskets`` (with both),
        ``confidence`` (share of ``product_id``'s baskets that also hold it), ``lift``,
        ``support``; by lift × confidence ranking (confidence first, then lift)."""
        if not hasattr(self, "pairs_"):
            raise RuntimeError("call fit() before bought_together()")
        product_id = str(product_id)
        if product_id not in self.item_counts_.index:
            raise ModelError(f"Product {product_id} is in no basket of this selection.")
        with_product = self.pairs_.loc[self.pairs_["item"] == product_id, "basket"]
        others = self.pairs_[self.pairs_["basket"].isin(with_product)
                             & (self.pairs_["item"] != product_id)]
        together = others.groupby("item").size()
        together = together[together >= min_baskets]
        own_count = float(self.item_counts_[product_id])
        confidence = together / own_count
        support_other = self.item_counts_.reindex(together.index) / self.baskets_total_
        frame = pd.DataFrame({"product_id": together.index.astype(str),
                              "baskets": together.to_numpy(),
                              "confidence": confidence.to_numpy(),
                              "lift": (confidence / support_other).to_numpy(),
                              "support": (together / self.baskets_total_).to_numpy()})
        return frame.sort_values(["confidence", "lift", "product_id"],
                                 ascending=[False, False, True]).head(top).reset_index(drop=True)

    def bundles(self, descriptions: dict[str, str | None] | None = None, top: int = 50,
                ) -> pd.DataFrame:
        """The strongest product pairs (one rule per unordered pair, the direction with the
        higher confidence), for a CSV export. Columns: ``product_a``, ``description_a``,
        ``product_b``, ``description_b``, ``baskets``, ``support``, ``confidence``
        (a → b), ``lift``."""
        descriptions = descriptions or {}
        pairs = self.rules_[(self.rules_["antecedent"].map(len) == 1)
                            & (self.rules_["consequent"].map(len) == 1)]
        seen, rows = set(), []
        for rule in pairs.sort_values(["lift", "confidence", "antecedent"],
                                      ascending=[False, False, True]).itertuples():
            first, second = rule.antecedent[0], rule.consequent[0]
            key = frozenset((first, second))
            if key in seen:
                continue
            seen.add(key)
            rows.append({"product_a": first, "description_a": descriptions.get(first),
                         "product_b": second, "description_b": descriptions.get(second),
                         "baskets": rule.baskets, "support": rule.support,
                         "confidence": rule.confidence, "lift": rule.lift})
            if len(rows) >= top:
                break
        return pd.DataFrame(rows, columns=["product_a", "description_a", "product_b",
                                           "description_b", "baskets", "support",
                                           "confidence", "lift"])


def holdout_check(baskets: pd.DataFrame, miner_params: dict, holdout_share: float = 0.2,
                  top: int = 20, invoice_col: str = "invoice_id", item_col: str = "product_id",
                  date_col: str = "date") -> dict:
    """How well rules found on earlier baskets hold on later ones.

    Baskets are ordered by date; rules are mined on the first ``1 − holdout_share`` and the
    ``top`` single-product rules A → B (by lift) are checked on the rest: ``confidence`` =
    mean share of hold-out baskets with A that also hold B, against the popularity baseline
    ``baseline_confidence`` = mean share of all hold-out baskets that hold B (recommending B
    to everyone). Returns those two, ``lift`` (their ratio), ``rules_checked``,
    ``train_baskets``, ``holdout_baskets``."""
    require_columns(baskets, [invoice_col, item_col, date_col], "The basket hold-out check")
    first_day = baskets.groupby(invoice_col)[date_col].min().sort_values(kind="stable")
    split = int(len(first_day) * (1 - holdout_share))
    train_ids, test_ids = set(first_day.index[:split]), set(first_day.index[split:])
    train = baskets[baskets[invoice_col].isin(train_ids)]
    test = baskets[baskets[invoice_col].isin(test_ids)]
    empty = {"confidence": None, "baseline_confidence": None, "lift": None,
             "rules_checked": 0, "train_baskets": len(train_ids),
             "holdout_baskets": len(test_ids)}
    try:
        # only single-product rules are checked: pairs are enough (and faster to mine)
        miner = BasketMiner(**{**miner_params, "max_len": 2}).fit(train, invoice_col, item_col)
    except ModelError:
        return empty
    rules = miner.rules_[(miner.rules_["antecedent"].map(len) == 1)
                         & (miner.rules_["consequent"].map(len) == 1)].head(top)
    if rules.empty or not test_ids:
        return empty
    holding = {item: set(group) for item, group in test.groupby(item_col)[invoice_col]}
    confidences, baselines = [], []
    for rule in rules.itertuples():
        with_a = holding.get(rule.antecedent[0], set())
        with_b = holding.get(rule.consequent[0], set())
        if with_a:
            confidences.append(len(with_a & with_b) / len(with_a))
            baselines.append(len(with_b) / len(test_ids))
    if not confidences:
        return empty
    confidence, baseline = float(np.mean(confidences)), float(np.mean(baselines))
    return {**empty, "confidence": confidence, "baseline_confidence": baseline,
            "lift": confidence / baseline if baseline > 0 else None,
            "rules_checked": len(confidences)}
