"""The churn job's scored customer list as a table: filtered ("at risk, high value") for the
Customers page and its CSV/XLSX export. Light (pandas only): the web process imports it,
never the models themselves."""
from __future__ import annotations

import pandas as pd

#: the result's ``scored`` columns → the export's column names, in order
COLUMNS = {"customer_id": "customer_id", "probability": "churn_probability",
           "risk": "churn_risk", "predicted_value": "predicted_value_12m",
           "p_alive": "p_alive", "value_tier": "value_tier",
           "recency": "days_since_last_order", "frequency": "orders",
           "monetary": "net_revenue", "ltv": "lifetime_value"}
LEVELS = ("high", "medium", "low")


def scored_frame(result: dict, risk: str | None = None, value: str | None = None,
                 ) -> pd.DataFrame:
    """The churn result's scored customers (highest churn risk first), keeping those of
    churn ``risk`` and value tier ``value`` when given (high / medium / low); columns named
    as ``COLUMNS``. A result without a scored list (an older job) gives the customers it
    shows."""
    scored = result.get("scored")
    frame = pd.DataFrame(scored) if scored else pd.DataFrame(result.get("customers") or [])
    for name in COLUMNS:
        if name not in frame:
            frame[name] = None
    frame = frame[list(COLUMNS)]
    if risk:
        frame = frame[frame["risk"] == risk]
    if value:
        frame = frame[frame["value_tier"] == value]
    return frame.rename(columns=COLUMNS).reset_index(drop=True)


def filter_label(risk: str | None, value: str | None) -> str:
    """E.g. "high churn risk, high value" ("all scored customers" without a filter)."""
    parts = ([f"{risk} churn risk"] if risk else []) + ([f"{value} value"] if value else [])
    return ", ".join(parts) or "all scored customers"
