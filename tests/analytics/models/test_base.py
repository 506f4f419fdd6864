import json
import math

import numpy as np
import pandas as pd
import pytest

from analytics.models.base import regression_metrics, to_json_safe


def test_regression_metrics_worked_by_hand():
    actual = [10.0, 0.0, 20.0, 30.0]
    predicted = [12.0, 1.0, 18.0, 30.0]
    metrics = regression_metrics(actual, predicted)
    # MAPE over the non-zero days: (2/10 + 2/20 + 0/30) / 3
    assert metrics["mape"] == pytest.approx((0.2 + 0.1 + 0.0) / 3)
    assert metrics["mape_excluded_days"] == 1
    # sMAPE: 2|e|/(|a|+|p|) = 4/22, 2/1, 4/38, 0
    assert metrics["smape"] == pytest.approx((4 / 22 + 2 + 4 / 38 + 0) / 4)
    assert metrics["rmse"] == pytest.approx(math.sqrt((4 + 1 + 4 + 0) / 4))
    assert metrics["mae"] == pytest.approx(5 / 4)
    # SST around mean 15: 25 + 225 + 25 + 225 = 500; SSE = 9
    assert metrics["r2"] == pytest.approx(1 - 9 / 500)


def test_regression_metrics_all_zero_actuals_give_no_mape_and_no_r2():
    metrics = regression_metrics([0.0, 0.0], [0.0, 1.0])
    assert metrics["mape"] is None and metrics["mape_excluded_days"] == 2
    assert metrics["r2"] is None
    assert metrics["smape"] == pytest.approx(1.0)  # (0 + 2) / 2


def test_to_json_safe_converts_numpy_nan_and_dates():
    value = {"a": np.float64("nan"), "b": np.int64(3), "c": pd.Timestamp("2024-01-02"),
             "d": pd.DataFrame({"x": [1.5, np.nan]}), "e": (np.bool_(True),),
             "f": pd.Timestamp("2024-01-02 10:30")}
    safe = to_json_safe(value)
    assert safe == {"a": None, "b": 3, "c": "2024-01-02", "d": [{"x": 1.5}, {"x": None}],
                    "e": [True], "f": "2024-01-02T10:30:00"}
    json.dumps(safe, allow_nan=False)
