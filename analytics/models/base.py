"""What every model shares: the user-facing error, accuracy metrics and JSON-safe output."""
from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from analytics.errors import InvalidInput


class ModelError(InvalidInput):
    """A model cannot run on this selection (too little data, a bad parameter); the message
    is meant for the user."""


def require_columns(frame: pd.DataFrame, columns, what: str) -> None:
    """Raise ModelError naming the missing columns of ``frame``."""
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise ModelError(f"{what} needs the columns {missing}; it got {list(frame.columns)}")


# ----------------------------------------------------------------- accuracy metrics
def regression_metrics(actual, predicted) -> dict:
    """Accuracy of ``predicted`` against ``actual`` (same length, aligned).

    * ``mape``: mean |error| ÷ |actual| over the days whose actual is not 0 — zero days
      would divide by zero, so they are left out and counted in ``mape_excluded_days``;
    * ``smape``: mean 2·|error| ÷ (|actual| + |predicted|) over all days (a day where both
      are 0 counts as a perfect 0), the companion measure that keeps the zero days;
    * ``rmse``: root mean squared error; ``mae``: mean absolute error;
    * ``r2``: 1 − SSE ÷ SST around the mean of ``actual`` (None when ``actual`` is constant).
    Rates are fractions (0.12, not 12).
    """
    actual = np.asarray(actual, dtype=float)
    predicted = np.asarray(predicted, dtype=float)
    if actual.shape != predicted.shape or actual.size == 0:
        raise ValueError("actual and predicted must be non-empty and of the same length")
    error = predicted - actual
    nonzero = actual != 0
    mape = float(np.mean(np.abs(error[nonzero]) / np.abs(actual[nonzero]))) if nonzero.any() \
        else None
    denominator = np.abs(actual) + np.abs(predicted)
    smape_terms = np.where(denominator == 0, 0.0,
                           2 * np.abs(error) / np.where(denominator == 0, 1, denominator))
    sst = float(np.sum((actual - actual.mean()) ** 2))
    return {
        "mape": mape,
        "mape_excluded_days": int((~nonzero).sum()),
        "smape": float(np.mean(smape_terms)),
        "rmse": float(np.sqrt(np.mean(error ** 2))),
        "mae": float(np.mean(np.abs(error))),
        "r2": (1 - float(np.sum(error ** 2)) / sst) if sst > 0 else None,
        "days": int(actual.size),
    }


# ----------------------------------------------------------------- JSON output
def to_json_safe(value):
    """``value`` with numpy scalars → Python numbers, NaN/inf → None, dates → ISO strings,
    DataFrames → lists of records, tuples/sets → lists (``json.dumps(allow_nan=False)`` safe)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        number = float(value)
        return number if math.isfinite(number) else None
    if value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, pd.Timestamp):
        if value.hour == value.minute == value.second == value.microsecond == 0:
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, np.datetime64):
        return to_json_safe(pd.Timestamp(value))
    if isinstance(value, pd.DataFrame):
        return [to_json_safe(record) for record in value.to_dict(orient="records")]
    if isinstance(value, pd.Series):
        return [to_json_safe(item) for item in value.tolist()]
    if isinstance(value, np.ndarray):
        return [to_json_safe(item) for item in value.tolist()]
    if isinstance(value, Mapping):
        return {str(key): to_json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value) if isinstance(value, (set, frozenset)) else value
        return [to_json_safe(item) for item in items]
    if hasattr(value, "__dataclass_fields__"):
        return {name: to_json_safe(getattr(value, name)) for name in value.__dataclass_fields__}
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return str(value)
