"""What the numbers mean, in one place: the KPI definitions of docs/METRICS.md (shipped with
the product) and short definitions of the other terms the screens use (MAPE, lift, the BCG
quadrants, the RFM segments).

METRICS.md is the contract ("where a screen and this page disagree, the screen is wrong"),
so its KPI table rows are read here rather than copied: every KPI card's info popover,
every ``metric_th`` column header and the Marketing cards show the same sentence the
document says. The file is read once per process (``metric_definitions`` is cached).
"""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

#: The shipped copy of the metric definitions (the Docker image copies the whole tree).
METRICS_MD = Path(__file__).resolve().parents[1] / "docs" / "METRICS.md"

#: A KPI table row: ``| label | `name` [, `name`] | definition |``.
_ROW = re.compile(r"^\|\s*(?P<label>[^|]+?)\s*\|\s*(?P<names>`[^|]+`)\s*\|\s*(?P<text>.+?)\s*\|\s*$")
_NAME = re.compile(r"`([a-z_]+)`")

#: Terms that are not KPIs of METRICS.md's tables, explained where they are shown.
GLOSSARY: dict[str, str] = {
    # forecast accuracy (Sales page's leaderboard; METRICS.md "Forecasts")
    "MAPE": "mean absolute percentage error: the average of |actual − forecast| ÷ actual over "
            "the days with sales (lower is better)",
    "WAPE": "weighted absolute percentage error: Σ|actual − forecast| ÷ Σ|actual|; 0.10 means "
            "off by 10 % of what was sold (lower is better)",
    "RMSE": "root mean squared error: the typical size of a day's forecast error, in the "
            "measure's own unit; large misses weigh more (lower is better)",
    "R²": "share of the day-to-day variation the forecast explains: 1 = all of it, 0 = no "
          "better than the average, below 0 = worse",
    "coverage": "share of the backtest's days whose actual value fell inside the 80 % "
                "interval: near 0.80 means the interval is honest",
    # customer models
    "churn risk": "the model's probability that the customer places no order in the churn "
                  "window",
    "P(alive)": "BG/NBD's probability that the customer still buys from you at all",
    "predicted 12-month value": "BG/NBD's expected purchases over 12 months × Gamma-Gamma's "
                                "expected spend per purchase",
    "ROC AUC": "how well the risk ranks leavers above stayers: 1 = perfectly, 0.5 = chance",
    # basket analysis (Products page)
    "support": "share of all baskets that hold these products together",
    "confidence": "share of the baskets with the first products that also hold the second",
    "lift": "how much more often the products go together than by chance (1 = chance)",
    # BCG matrix (Products page; METRICS.md "Products")
    "BCG matrix": "each peer placed by its share of the period's revenue (x) and its growth "
                  "versus the previous period (y); the lines are the medians",
    "star": "high share, high growth: invest to keep them growing",
    "cash cow": "high share, low growth: steady earners",
    "question mark": "low share, high growth: could become stars, or fade",
    "dog": "low share, low growth: candidates to review",
    "new": "no revenue in the previous period, so no growth to place it by",
    # RFM segments (Customers page; METRICS.md "RFM": R = recency, FM = frequency+monetary)
    "RFM": "recency (days since the last order), frequency (orders) and monetary (net "
           "revenue), each scored 1–5 among the period's customers",
    "recency": "days from the customer's last sale line to the day after the period",
    "frequency": "the customer's orders in the period",
    "monetary": "the customer's net revenue in the period",
    "segment": "the RFM segment: where the customer's recency score and frequency-and-"
               "spend score place them",
    "Champions": "bought recently, often and for a lot",
    "Loyal Customers": "buy regularly and spend well",
    "Potential Loyalists": "recent customers with more than one order or good spend",
    "New Customers": "bought very recently, for the first time or little so far",
    "Promising": "recent buyers who have not spent much yet",
    "Need Attention": "average recency, frequency and spend: could go either way",
    "About to Sleep": "have not bought for a while and bought little",
    "At Risk": "used to buy often or spend well, but not recently",
    "Can't Lose Them": "were among the best customers, now long without an order",
    "Hibernating": "long since the last order, few orders, low spend",
    "Lost": "the longest without an order, and little before",
}


@lru_cache(maxsize=1)
def metric_definitions() -> dict[str, str]:
    """{API name → definition} of every row of METRICS.md's KPI tables (a row naming two
    KPIs, "`impressions`, `clicks`", defines both). Read once."""
    found: dict[str, str] = {}
    for line in METRICS_MD.read_text(encoding="utf-8").splitlines():
        match = _ROW.match(line)
        if not match:
            continue
        for name in _NAME.findall(match["names"]):
            found.setdefault(name, match["text"])
    return found


def definition(name: str) -> str | None:
    """The definition of a KPI (its API name) or of a ``GLOSSARY`` term; None if unknown."""
    return metric_definitions().get(name) or GLOSSARY.get(name)
