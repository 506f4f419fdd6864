"""Per-customer features as of a day, from the invoice history only (no look-ahead).

``customer_features(invoices, as_of)`` uses only invoices dated before ``as_of``; the churn
model, the clustering and the CLV prediction all build on it, so the leakage rule is in one
place.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from analytics.models.base import ModelError, require_columns

INVOICE_COLUMNS = ["customer_id", "invoice_id", "date", "net_value", "gross_value",
                   "returns_value", "is_order"]
TREND_WINDOW_DAYS = 90


def customer_features(invoices: pd.DataFrame, as_of, first_purchases: pd.DataFrame | None = None,
                      rfm_only: bool = False) -> pd.DataFrame:
    """One row per customer with at least one order before ``as_of``, indexed by
    ``customer_id``. Columns:

    * ``recency``: days from the last order to ``as_of``;
    * ``frequency``: orders (invoices with a sale line);
    * ``monetary``: net revenue (sales − returns);
    * ``tenure``: days from the first order to ``as_of``;
    * ``aov``: gross revenue ÷ orders;
    * ``gap_mean``, ``gap_std``: days between consecutive orders (``tenure`` and 0 for
      one-order customers: "no second order within the whole tenure");
    * ``trend``: (revenue of the last 90 days − of the 90 before) ÷ their sum, in [−1, 1];
    * ``returns_share``: returns ÷ gross revenue;
    * ``products``, ``categories``: distinct products / categories bought (0 when
      ``first_purchases`` is not given);
    * ``country``: the country of the latest invoice (when ``invoices`` has ``country``).

    ``rfm_only=True`` stops after ``recency``, ``frequency``, ``monetary``, ``tenure`` and
    ``aov`` (what the clustering needs; a third of the time).
    """
    require_columns(invoices, INVOICE_COLUMNS, "Customer features")
    as_of = pd.Timestamp(as_of)
    before = invoices[invoices["date"] < as_of]
    orders = before[before["is_order"]]
    if orders.empty:
        raise ModelError(f"No customer has an order before {as_of.date()}.")
    by_customer = orders.groupby("customer_id", sort=True)
    first, last = by_customer["date"].min(), by_customer["date"].max()
    features = pd.DataFrame({
        "recency": (as_of - last).dt.days.astype(float),
        "frequency": by_customer.size().astype(float),
        "tenure": (as_of - first).dt.days.astype(float),
        "gross": by_customer["gross_value"].sum(),
    })
    customers = features.index
    # every line's customer grouped, then the customers with an order kept (reindex): the
    # same sums as filtering the lines first, without a string isin over all of them
    all_lines = before.groupby("customer_id")[["net_value", "returns_value"]].sum()
    features["monetary"] = all_lines["net_value"].reindex(customers).fillna(0.0)
    returns = all_lines["returns_value"].reindex(customers).fillna(0.0)
    features["aov"] = features["gross"] / features["frequency"]
    if rfm_only:
        features = features[["recency", "frequency", "monetary", "tenure", "aov"]]
        features.index.name = "customer_id"
        return features
    features["returns_share"] = (returns / features["gross"].where(features["gross"] > 0)
                                 ).fillna(0.0).clip(0, 1)

    order_days = orders[["customer_id", "date"]].drop_duplicates().sort_values(
        ["customer_id", "date"])
    gaps = order_days.groupby("customer_id")["date"].diff().dt.days.dropna()
    gap_groups = gaps.groupby(order_days.loc[gaps.index, "customer_id"])
    features["gap_mean"] = gap_groups.mean().reindex(customers)
    features["gap_std"] = gap_groups.std(ddof=0).reindex(customers)
    features["gap_mean"] = features["gap_mean"].fillna(features["tenure"])
    features["gap_std"] = features["gap_std"].fillna(0.0)

    window = pd.Timedelta(days=TREND_WINDOW_DAYS)
    recent = before[before["date"] >= as_of - window].groupby("customer_id")["net_value"].sum()
    previous = before[(before["date"] < as_of - window) & (before["date"] >= as_of - 2 * window)
                      ].groupby("customer_id")["net_value"].sum()
    recent = recent.reindex(customers).fillna(0.0).clip(lower=0)
    previous = previous.reindex(customers).fillna(0.0).clip(lower=0)
    total = recent + previous
    features["trend"] = ((recent - previous) / total.where(total > 0)).fillna(0.0)

    features["products"] = 0.0
    features["categories"] = 0.0
    if first_purchases is not None and not first_purchases.empty:
        require_columns(first_purchases, ["customer_id", "product_id", "category", "first_date"],
                        "Customer features")
        known = first_purchases[first_purchases["first_date"] < as_of]
        features["products"] = known.groupby("customer_id")["product_id"].nunique() \
            .reindex(customers).fillna(0.0).astype(float)
        categories = known.dropna(subset=["category"])
        features["categories"] = categories.groupby("customer_id")["category"].nunique() \
            .reindex(customers).fillna(0.0).astype(float)

    if "country" in before.columns:
        latest = before.sort_values(["date", "invoice_id"]).groupby("customer_id")["country"].last()
        features["country"] = latest.reindex(customers).astype("string")
    features = features.drop(columns="gross")
    features.index.name = "customer_id"
    return features


def log_scaled(features: pd.DataFrame, columns) -> np.ndarray:
    """log1p of the (non-negative-clipped) columns: RFM measures are heavily right-skewed."""
    return np.log1p(features[list(columns)].clip(lower=0).to_numpy(dtype=float))
