"""Unusual days: Isolation Forest on de-seasonalised daily revenue, orders, AOV and units, a
robust z-score monitor of the last days, and an explanation of each anomaly by dimension
values.

Only the last ``MAX_DAYS`` (3 years) are examined: older unusual days rarely matter, and a
shop's first months (a handful of orders a day) would otherwise fill the list.

De-seasonalising (an STL-like decomposition with robust pieces):

* ``trend`` = centred rolling median over 29 days (follows yearly seasonality and growth);
* ``weekly`` = per weekday, the median of value − trend on the same weekday in the 6 weeks
  before and the 6 after (the day itself left out);
* ``expected`` = trend + weekly; ``residual`` = value − expected;
* ``z`` = residual ÷ scale, a robust z-score whose scale follows the level of the business
  (a shop that grew tenfold has tenfold larger day-to-day swings, a busy Monday swings more
  than a quiet Sunday): scale = expected × 1.4826 × the median absolute deviation of the
  relative residual (residual ÷ expected) over the 91 days around the day; for counts
  (orders, units) the scale is at least √expected, the Poisson noise of a count.

A day is an anomaly when the Isolation Forest (on the robust z of revenue, orders, AOV and
units together, ``contamination`` = expected share of anomalous days) isolates it AND the
chosen metric's |z| ≥ ``min_z`` (4 by default: with day-to-day noise that is larger on busy days
than on quiet ones, |z| ≥ 3 happens on about 1 % of ordinary days), so each listed day is
unusual for that metric.

The explanation of a day splits its deviation by dimension value (country, category,
channel, traffic source, product): each value's *expected* is the median of its own value
on the 4 same weekdays before; its *deviation* = actual − expected; its *share* = deviation ÷ the sum of
all deviations of that dimension. The values with the largest deviation in the direction of
the day's deviation "account for" it. The headline is the value with the highest
``min(share, 1) × |deviation| ÷ max(actual, expected)``: a large share of the day's
deviation that is also unusual for that value (a country that tripled beats a channel that
carries most of every day's sales anyway).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.ensemble import IsolationForest

from analytics.models.base import ModelError, require_columns

METRICS = ("revenue", "orders", "aov", "units")
TREND_DAYS = 29
WEEKLY_WEEKS = 13
MIN_DAYS = 28
MONITOR_WINDOW = 28
MONITOR_DAYS = 7
EXPLAIN_WEEKS = 4
MAD_SCALE = 1.4826
SCALE_DAYS = 91
MAX_DAYS = 3 * 365
COUNT_METRICS = ("orders", "units")


def robust_scale(values: pd.Series) -> float:
    """1.4826 × median absolute deviation from the median (σ for normal data); falls back to
    the mean absolute deviation, then 1, so it is never 0."""
    values = values.dropna()
    if values.empty:
        return 1.0
    deviation = (values - values.median()).abs()
    scale = MAD_SCALE * float(deviation.median())
    if scale <= 0:
        scale = float(deviation.mean()) * 1.2533  # √(π/2): mean-absolute-deviation σ
    return scale if scale > 0 else 1.0


def _median_of_neighbours(same_weekday: pd.Series) -> pd.Series:
    """Median of the same weekday in the 6 weeks before and the 6 after, leaving the day
    itself out: a day in its own window would pull its residual towards 0."""
    half = WEEKLY_WEEKS // 2
    neighbours = pd.concat([same_weekday.shift(step) for step in range(-half, half + 1)
                            if step != 0], axis=1)
    return neighbours.median(axis=1).where(neighbours.notna().sum(axis=1) >= 3)


def deseasonalise(dates: pd.Series, values: pd.Series, count: bool = False) -> pd.DataFrame:
    """Columns ``date``, ``value``, ``trend``, ``weekly``, ``expected``, ``residual``, ``z``
    (see the module docstring). NaN values (AOV on days without orders) stay NaN."""
    series = pd.Series(values.to_numpy(dtype=float), index=pd.DatetimeIndex(dates))
    trend = series.rolling(TREND_DAYS, center=True, min_periods=7).median()
    detrended = series - trend
    weekly = detrended.groupby(series.index.day_of_week).transform(_median_of_neighbours)
    expected = trend + weekly.fillna(0.0)
    residual = series - expected
    # noise grows with the level (a busy Monday swings more than a quiet Sunday, a shop that
    # grew tenfold swings tenfold more): measure the residual relative to the expected level
    floor = max(float(trend.abs().median()) * 0.05, 1e-9) if trend.notna().any() else 1.0
    level = expected.abs().clip(lower=floor).fillna(floor)
    relative = residual / level
    global_scale = robust_scale(relative)
    local_scale = MAD_SCALE * (relative - relative.rolling(SCALE_DAYS, center=True,
                                                           min_periods=28).median()
                               ).abs().rolling(SCALE_DAYS, center=True, min_periods=28).median()
    relative_scale = local_scale.clip(lower=global_scale / 10).fillna(global_scale)
    scale = relative_scale * level
    if count:
        scale = np.maximum(scale, np.sqrt(expected.clip(lower=1.0)))
    return pd.DataFrame({"date": series.index, "value": series.to_numpy(),
                         "trend": trend.to_numpy(), "weekly": weekly.to_numpy(),
                         "expected": expected.to_numpy(), "residual": residual.to_numpy(),
                         "z": (residual / scale).to_numpy()})


class AnomalyDetector:
    """``fit(daily)`` on a gap-free daily frame with ``date``, ``revenue``, ``orders``,
    ``aov``, ``units`` sets:

    * ``components_``: {metric: ``deseasonalise`` frame};
    * ``scores_``: DataFrame ``date``, ``score`` (Isolation Forest; higher = more unusual),
      ``isolated`` (bool), and ``z_<metric>`` for each metric;
    * ``anomalies_``: the anomalous days for ``metric`` — ``date``, ``value``,
      ``expected``, ``deviation`` (value − expected), ``z``, ``score``, ``direction``
      ("above"/"below"), most unusual first.
    """

    def __init__(self, metric: str = "revenue", contamination: float = 0.02,
                 min_z: float = 4.0, seed: int = 0):
        if metric not in METRICS:
            raise ModelError(f"metric must be one of {list(METRICS)}, not {metric!r}")
        if not 0 < contamination <= 0.5:
            raise ModelError(f"contamination must be in (0, 0.5], not {contamination}")
        self.metric = metric
        self.contamination = contamination
        self.min_z = min_z
        self.seed = seed

    def fit(self, daily: pd.DataFrame) -> "AnomalyDetector":
        require_columns(daily, ["date", *METRICS], "Anomaly detection")
        daily = daily.sort_values("date", ignore_index=True).tail(MAX_DAYS).reset_index(drop=True)
        active_days = int((daily["orders"] > 0).sum())
        if active_days < MIN_DAYS:
            raise ModelError(f"Too little history to find unusual days: {active_days} days "
                             f"with orders, anomaly detection needs at least {MIN_DAYS}.")
        self.components_ = {metric: deseasonalise(daily["date"], daily[metric],
                                                  count=metric in COUNT_METRICS)
                            for metric in METRICS}
        z = pd.DataFrame({f"z_{metric}": self.components_[metric]["z"] for metric in METRICS})
        features = z.fillna(0.0).clip(-50, 50).to_numpy()
        forest = IsolationForest(n_estimators=200, contamination=self.contamination,
                                 random_state=self.seed).fit(features)
        self.scores_ = pd.DataFrame({"date": daily["date"].to_numpy(),
                                     "score": -forest.score_samples(features),
                                     "isolated": forest.predict(features) == -1, **z})
        own = self.components_[self.metric]
        chosen = self.scores_["isolated"] & (own["z"].abs() >= self.min_z)
        found = own[chosen.to_numpy()].assign(score=self.scores_.loc[chosen, "score"].to_numpy())
        self.anomalies_ = pd.DataFrame({
            "date": found["date"], "value": found["value"], "expected": found["expected"],
            "deviation": found["residual"], "z": found["z"], "score": found["score"],
            "direction": np.where(found["residual"] >= 0, "above", "below"),
        }).sort_values(["score", "date"], ascending=[False, True], ignore_index=True)
        return self


def robust_monitor(daily: pd.DataFrame, metric: str = "revenue", days: int = MONITOR_DAYS,
                   window: int = MONITOR_WINDOW, threshold: float = 3.5) -> pd.DataFrame:
    """The last ``days`` days, each compared with the ``window`` days before it, weekly
    pattern removed: ``adjusted`` = value − the weekday's median offset from the window
    median; ``z`` = (adjusted − median of the window's adjusted values) ÷ (1.4826 × MAD).
    Columns: ``date``, ``value``, ``expected``, ``z``, ``alert`` (|z| ≥ ``threshold``)."""
    require_columns(daily, ["date", metric], "The anomaly monitor")
    series = pd.Series(daily[metric].to_numpy(dtype=float),
                       index=pd.DatetimeIndex(daily["date"])).sort_index()
    if len(series) < window + 1:
        return pd.DataFrame(columns=["date", "value", "expected", "z", "alert"])
    rows = []
    for position in range(max(window, len(series) - days), len(series)):
        past = series.iloc[position - window:position].dropna()
        today = series.iloc[position]
        weekday_offset = (past - past.median()).groupby(past.index.day_of_week).median()
        offset = float(weekday_offset.get(series.index[position].day_of_week, 0.0))
        adjusted_past = past - past.index.day_of_week.map(weekday_offset).to_numpy()
        centre = float(adjusted_past.median())
        z = (today - offset - centre) / robust_scale(adjusted_past) if pd.notna(today) else None
        rows.append({"date": series.index[position], "value": today,
                     "expected": centre + offset, "z": z,
                     "alert": bool(z is not None and abs(z) >= threshold)})
    return pd.DataFrame(rows)


def comparison_days(day) -> list[pd.Timestamp]:
    """The day and the same weekday in each of the ``EXPLAIN_WEEKS`` weeks before."""
    day = pd.Timestamp(day)
    return [day - pd.Timedelta(weeks=weeks) for weeks in range(EXPLAIN_WEEKS + 1)]


def explain_day(breakdown: pd.DataFrame, day, measure: str = "revenue",
                top: int = 3) -> pd.DataFrame:
    """Split one day's deviation over the values of one dimension.

    ``breakdown``: columns ``date``, ``value`` (dimension value) and ``measure``, covering
    ``comparison_days(day)``. Returns the ``top`` values that pushed the day in the direction
    of its total deviation: ``value``, ``actual``, ``expected``, ``deviation``, ``share``
    (of the dimension's total deviation; None when that total is 0)."""
    require_columns(breakdown, ["date", "value", measure], "An anomaly explanation")
    days = comparison_days(day)
    table = (breakdown[breakdown["date"].isin(days)]
             .pivot_table(index="value", columns="date", values=measure, aggfunc="sum")
             .reindex(columns=days).fillna(0.0))
    if table.empty:
        return pd.DataFrame(columns=["value", "actual", "expected", "deviation", "share"])
    actual = table[days[0]]
    expected = table[days[1:]].median(axis=1)
    deviation = actual - expected
    total = float(deviation.sum())
    direction = 1.0 if total >= 0 else -1.0
    frame = pd.DataFrame({"value": table.index.astype(str), "actual": actual.to_numpy(),
                          "expected": expected.to_numpy(), "deviation": deviation.to_numpy()})
    frame["share"] = frame["deviation"] / total if total != 0 else None
    frame = frame.assign(pushed=frame["deviation"] * direction)
    frame = frame[frame["pushed"] > 0].sort_values(["pushed", "value"], ascending=[False, True])
    return frame.drop(columns="pushed").head(top).reset_index(drop=True)


def headline(explanations: dict[str, pd.DataFrame]) -> dict | None:
    """The (dimension, value) that best accounts for the day (module docstring), with its
    ``score``; ties go to the first dimension in ``explanations`` order."""
    best = None
    for dimension, frame in explanations.items():
        for row in frame.itertuples():
            if row.share is None or pd.isna(row.share):
                continue
            size = max(abs(row.actual), abs(row.expected))
            score = min(float(row.share), 1.0) * abs(row.deviation) / size if size else 0.0
            if best is None or score > best["score"] + 1e-9:
                best = {"dimension": dimension, "value": row.value, "share": float(row.share),
                        "deviation": float(row.deviation), "actual": float(row.actual),
                        "expected": float(row.expected), "score": score}
    return best
