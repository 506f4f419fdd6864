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

Yearly seasonality and holidays (``yearly_alignment``, then ``deseasonalise(aligned=…)``):
each day is compared with its *comparable day* in each of the ``YEARLY_YEARS`` years before
— the same holiday or retail event at the same offset (``holiday_calendar``: the country's
public holidays from the ``holidays`` package, plus Thanksgiving, Black Friday and Cyber
Monday, which move every year; ``EVENT_WINDOW`` days either side of each belong to it), else
the same calendar date (Christmas Eve, Valentine's Day). Where a comparable day was itself
unusual (its first-pass |z| ≥ ``YEARLY_MIN_Z``) its relative residual is a *yearly effect*;
ordinary comparable days count 0 (so ordinary days gain no noise from last year). The
effect that recurs (``recurring_effect``: one year's; of two, the smaller when both go the
same way, else 0; of three, the median — a spike of one year is not expected the next) moves
``expected`` (``yearly`` = effect × level) and the scale and z
are measured again on what is left: a Black Friday that looks like last year's is expected,
one twice as big, or a spike on a day that was ordinary last year, is still unusual.

The period (``fit(daily, start, end)``): the detector learns from the whole frame it is given
(the runner reads ``HISTORY_YEARS`` years before the period) and lists the anomalies of the
days from ``start`` to ``end`` only.

A day is an anomaly when the Isolation Forest (on the robust z of revenue, orders, AOV and
units together, ``contamination`` = expected share of anomalous days) isolates it AND the
chosen metric's |z| ≥ ``min_z`` (4 by default: with day-to-day noise that is larger on busy days
than on quiet ones, |z| ≥ 3 happens on about 1 % of ordinary days), so each listed day is
unusual for that metric.

Slices (``slice_anomalies``): the same de-seasonalising on the daily series of each of the
largest values of channel, traffic source, country and category finds what barely moves
the shop-wide totals (an app outage, an e-mail campaign), with windows of 1–7 days.

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

import warnings

import numpy as np
import pandas as pd
from sklearn.ensemble import IsolationForest

from analytics.models.base import ModelError, require_columns
from analytics.text import money_text

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
YEARLY_YEARS = 3
YEARLY_MIN_Z = 2.0
EVENT_WINDOW = 2
HISTORY_YEARS = 3
#: The subdivision whose holidays stand for a country whose national calendar leaves out
#: most of them (the United Kingdom's bank holidays are England's, Wales's…: England's).
HOLIDAY_SUBDIVISIONS = {"GB": "ENG"}
#: Retail events every shop sees whatever its country: Thanksgiving (US: the fourth Thursday
#: of November) and the days that follow it.
RETAIL_EVENTS = {"Thanksgiving": 0, "Black Friday": 1, "Cyber Monday": 4}


def retail_events(years) -> dict:
    """{date: name} of ``RETAIL_EVENTS`` in ``years``."""
    import datetime as dt

    events = {}
    for year in years:
        first = dt.date(year, 11, 1)
        thanksgiving = first + dt.timedelta(days=(3 - first.weekday()) % 7 + 21)
        for name, offset in RETAIL_EVENTS.items():
            events[thanksgiving + dt.timedelta(days=offset)] = name
    return events


def holiday_calendar(years, country_code: str | None = None) -> tuple[dict, str | None]:
    """({date: event name}, country used): the public holidays of ``country_code`` when the
    ``holidays`` package knows it (None otherwise; for the United Kingdom England's bank
    holidays, ``HOLIDAY_SUBDIVISIONS``), plus ``retail_events``."""
    events = retail_events(years)
    used = None
    if country_code:
        try:
            import holidays

            code = {"UK": "GB", "EL": "GR"}.get(country_code.upper(), country_code.upper())
            if code in holidays.list_supported_countries():
                calendar = holidays.country_holidays(
                    code, subdiv=HOLIDAY_SUBDIVISIONS.get(code), years=list(years))
                for day, name in calendar.items():
                    events.setdefault(day, str(name))
                used = code
        except ImportError:  # the package is optional: retail events and calendar dates
            pass
    return events, used


def yearly_alignment(dates, events: dict, years: int = YEARLY_YEARS) -> np.ndarray:
    """Positions in ``dates`` (gap-free days) of each day's comparable day 1…``years`` years
    earlier (module docstring), −1 where the history does not reach; shape (days, years).
    A day within ``EVENT_WINDOW`` days of an event (the nearest one when several) is
    aligned with the same offset from the same event of the earlier year, when that year has
    it; otherwise with the same calendar date (29 February → 28 February)."""
    from analytics.period import minus_years

    dates = pd.DatetimeIndex(dates)
    days = [day.date() for day in dates]
    position = {day: index for index, day in enumerate(days)}
    key_of: dict = {}
    for day, name in sorted(events.items()):
        for offset in range(-EVENT_WINDOW, EVENT_WINDOW + 1):
            near = day + pd.Timedelta(days=offset).to_pytimedelta()
            key = (abs(offset), name, offset, day.year)
            if near in position and (near not in key_of or key < key_of[near]):
                key_of[near] = key
    by_key = {key[1:]: position[day] for day, key in key_of.items()}
    aligned = np.full((len(days), years), -1, dtype=int)
    for index, day in enumerate(days):
        key = key_of.get(day)
        for back in range(1, years + 1):
            target = by_key.get((key[1], key[2], key[3] - back)) if key else None
            if target is None:
                target = position.get(minus_years(day, back), -1)
            aligned[index, back - 1] = target
    return aligned


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


def _weekly_component(detrended: pd.Series) -> pd.Series:
    """Per weekday, the median of the same weekday in the 6 weeks before and the 6 after,
    leaving the day itself out (a day in its own window would pull its residual towards 0);
    NaN where fewer than 3 of them are known. ``detrended`` is gap-free and daily."""
    values = detrended.to_numpy(dtype=float)
    weekday = detrended.index.day_of_week.to_numpy()
    half = WEEKLY_WEEKS // 2
    weekly = np.full(len(values), np.nan)
    for day in range(7):
        positions = np.flatnonzero(weekday == day)
        count = len(positions)
        padded = np.concatenate([np.full(half, np.nan), values[positions],
                                 np.full(half, np.nan)])
        neighbours = np.column_stack([padded[half + step:half + step + count]
                                      for step in range(-half, half + 1) if step != 0])
        known = np.isfinite(neighbours).sum(axis=1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # rows with nothing known
            median = np.nanmedian(neighbours, axis=1)
        weekly[positions] = np.where(known >= 3, median, np.nan)
    return pd.Series(weekly, index=detrended.index)


def recurring_effect(effects: np.ndarray) -> np.ndarray:
    """The yearly effect of each row of ``effects`` (days × earlier years; NaN where the
    history does not reach, 0 where the comparable day was ordinary): the one year's effect
    when only one is known; with two, the smaller when both go the same way (else 0: an
    anomaly of one year is not expected again); with three, the median."""
    known = np.isfinite(effects)
    count = known.sum(axis=1)
    filled = np.where(known, effects, 0.0)
    result = np.zeros(len(effects))
    one = count == 1
    result[one] = filled[one].sum(axis=1)
    two = count == 2
    if two.any():
        pairs = np.sort(np.where(known[two], filled[two], np.nan), axis=1)[:, :2]
        same = np.sign(pairs[:, 0]) == np.sign(pairs[:, 1])
        smaller = np.where(np.abs(pairs[:, 0]) <= np.abs(pairs[:, 1]), pairs[:, 0], pairs[:, 1])
        result[two] = np.where(same, smaller, 0.0)
    more = count >= 3
    if more.any():
        result[more] = np.nanmedian(np.where(known[more], effects[more], np.nan), axis=1)
    return result


def _relative_scale(relative: pd.Series) -> pd.Series:
    global_scale = robust_scale(relative)
    local_scale = MAD_SCALE * (relative - relative.rolling(SCALE_DAYS, center=True,
                                                           min_periods=28).median()
                               ).abs().rolling(SCALE_DAYS, center=True, min_periods=28).median()
    return local_scale.clip(lower=global_scale / 10).fillna(global_scale)


def deseasonalise(dates: pd.Series, values: pd.Series, count: bool = False,
                  aligned: np.ndarray | None = None,
                  yearly_min_z: float = YEARLY_MIN_Z) -> pd.DataFrame:
    """Columns ``date``, ``value``, ``trend``, ``weekly``, ``yearly``, ``expected``,
    ``residual``, ``scale`` (the robust scale ``z`` divides by), ``z`` (see the module
    docstring). ``aligned`` (``yearly_alignment``) adds the yearly effect; without it
    ``yearly`` is 0. NaN values (AOV on days without orders) stay NaN."""
    series = pd.Series(values.to_numpy(dtype=float), index=pd.DatetimeIndex(dates))
    trend = series.rolling(TREND_DAYS, center=True, min_periods=7).median()
    detrended = series - trend
    weekly = _weekly_component(detrended)
    expected = trend + weekly.fillna(0.0)
    residual = series - expected
    # noise grows with the level (a busy Monday swings more than a quiet Sunday, a shop that
    # grew tenfold swings tenfold more): measure the residual relative to the expected level
    floor = max(float(trend.abs().median()) * 0.05, 1e-9) if trend.notna().any() else 1.0
    level = expected.abs().clip(lower=floor).fillna(floor)
    relative = residual / level
    scale = _relative_scale(relative) * level
    if count:
        scale = np.maximum(scale, np.sqrt(expected.clip(lower=1.0)))
    yearly = pd.Series(0.0, index=series.index)
    if aligned is not None and aligned.size:
        first_z = (residual / scale).to_numpy()
        first_relative = relative.to_numpy()
        effects = np.full(aligned.shape, np.nan)
        for back in range(aligned.shape[1]):
            target = aligned[:, back]
            reached = target >= 0
            z_then = np.where(reached, first_z[np.where(reached, target, 0)], np.nan)
            then = first_relative[np.where(reached, target, 0)]
            effects[:, back] = np.where(np.isnan(z_then), np.nan,
                                        np.where(np.abs(z_then) >= yearly_min_z, then, 0.0))
        yearly = pd.Series(recurring_effect(effects), index=series.index) * level
        expected = expected + yearly
        residual = series - expected
        relative = residual / level
        scale = _relative_scale(relative) * level
        if count:
            scale = np.maximum(scale, np.sqrt(expected.clip(lower=1.0)))
    return pd.DataFrame({"date": series.index, "value": series.to_numpy(),
                         "trend": trend.to_numpy(), "weekly": weekly.to_numpy(),
                         "yearly": yearly.to_numpy(),
                         "expected": expected.to_numpy(), "residual": residual.to_numpy(),
                         "scale": scale.to_numpy(), "z": (residual / scale).to_numpy()})


class AnomalyDetector:
    """``fit(daily, start=None, end=None)`` on a gap-free daily frame with ``date``,
    ``revenue``, ``orders``, ``aov``, ``units`` sets:

    * ``components_``: {metric: ``deseasonalise`` frame} over the days learnt from;
    * ``scores_``: DataFrame ``date``, ``score`` (Isolation Forest; higher = more unusual),
      ``isolated`` (bool), and ``z_<metric>`` for each metric, for the examined days;
    * ``anomalies_``: the anomalous days of the examined days for ``metric`` — ``date``,
      ``value``, ``expected``, ``deviation`` (value − expected), ``z``, ``score``,
      ``direction`` ("above"/"below"), most unusual first;
    * ``holidays_``: the country whose public holidays were aligned (None: retail events and
      calendar dates only); ``yearly_years_``: earlier years the examined days were compared
      with (0: no yearly seasonality).

    The examined days run from ``start`` (default: the last ``MAX_DAYS`` days) to ``end``
    (default: the last day); everything before, up to ``HISTORY_YEARS`` years before
    ``start``, is learnt from. ``yearly=False`` leaves out the yearly effect (the detector
    as it was before periods: every Black Friday is unusual).
    """

    def __init__(self, metric: str = "revenue", contamination: float = 0.02,
                 min_z: float = 4.0, seed: int = 0, yearly: bool = True,
                 country_code: str | None = None):
        if metric not in METRICS:
            raise ModelError(f"metric must be one of {list(METRICS)}, not {metric!r}")
        if not 0 < contamination <= 0.5:
            raise ModelError(f"contamination must be in (0, 0.5], not {contamination}")
        self.metric = metric
        self.contamination = contamination
        self.min_z = min_z
        self.seed = seed
        self.yearly = yearly
        self.country_code = country_code

    def fit(self, daily: pd.DataFrame, start=None, end=None) -> "AnomalyDetector":
        require_columns(daily, ["date", *METRICS], "Anomaly detection")
        daily = daily.sort_values("date", ignore_index=True)
        last = pd.Timestamp(end) if end is not None else daily["date"].max()
        daily = daily[daily["date"] <= last].reset_index(drop=True)
        if daily.empty:
            raise ModelError("There is no day with data in this period.")
        first = (pd.Timestamp(start) if start is not None
                 else daily["date"].iloc[max(0, len(daily) - MAX_DAYS)])
        learn_from = first - pd.DateOffset(years=HISTORY_YEARS if self.yearly else 0)
        daily = daily[daily["date"] >= min(learn_from, first)].reset_index(drop=True)
        examined = (daily["date"] >= first).to_numpy()
        active_days = int((daily["orders"] > 0).sum())
        if active_days < MIN_DAYS:
            raise ModelError(f"Too little history to find unusual days: {active_days} days "
                             f"with orders, anomaly detection needs at least {MIN_DAYS} "
                             f"(up to the end of the period).")
        if not examined.any():
            raise ModelError("There is no day with data in this period.")
        aligned, self.holidays_, self.yearly_years_ = None, None, 0
        if self.yearly:
            years = range(daily["date"].min().year - 1, daily["date"].max().year + 2)
            events, self.holidays_ = holiday_calendar(years, self.country_code)
            aligned = yearly_alignment(daily["date"], events)
            reached = (aligned[examined] >= 0).any(axis=0)
            self.yearly_years_ = int(reached.sum())
        self.components_ = {metric: deseasonalise(daily["date"], daily[metric],
                                                  count=metric in COUNT_METRICS,
                                                  aligned=aligned)
                            for metric in METRICS}
        z = pd.DataFrame({f"z_{metric}": self.components_[metric]["z"] for metric in METRICS})
        features = z.fillna(0.0).clip(-50, 50).to_numpy()
        forest = IsolationForest(n_estimators=200, contamination=self.contamination,
                                 random_state=self.seed).fit(features)
        scores = pd.DataFrame({"date": daily["date"].to_numpy(),
                               "score": -forest.score_samples(features),
                               "isolated": forest.predict(features) == -1, **z})
        self.scores_ = scores[examined].reset_index(drop=True)
        own = self.components_[self.metric]
        chosen = (scores["isolated"] & (own["z"].abs() >= self.min_z)).to_numpy() & examined
        found = own[chosen].assign(score=scores.loc[chosen, "score"].to_numpy())
        self.anomalies_ = pd.DataFrame({
            "date": found["date"], "value": found["value"], "expected": found["expected"],
            "deviation": found["residual"], "z": found["z"], "score": found["score"],
            "direction": np.where(found["residual"] >= 0, "above", "below"),
        }).sort_values(["score", "date"], ascending=[False, True], ignore_index=True)
        return self


def how_unusual(z: float) -> str:
    """|z| in words: "4.3 times the usual day-to-day swing"."""
    return f"{abs(z):.1f} times the usual day-to-day swing"


def anomaly_sentence(anomaly: dict, metric: str, currency: str = "£",
                     top: dict | None = None) -> str:
    """One plain sentence: date, actual vs expected (money for revenue and AOV), the
    difference in % and how unusual it is, and the slice that accounts for it when known.
    E.g. "On Wed 18 Jun 2025 revenue was £27,640 against £10,740 expected (£16,900 above,
    +157 %), 8.1 times the usual day-to-day swing; country EIRE accounts for 95 % of the
    difference."."""
    day = pd.Timestamp(anomaly["date"])
    money = currency if metric in ("revenue", "aov") else ""
    label = {"aov": "the average order value", "revenue": "revenue"}.get(metric, metric)

    def amount(value: float) -> str:
        return money_text(value, money, 2 if metric == "aov" else 0)

    value, expected = float(anomaly["value"]), float(anomaly["expected"])
    deviation = value - expected
    change = f", {deviation / expected:+.0%}" if expected > 0 else ""
    verb = "were" if metric in COUNT_METRICS else "was"
    sentence = (f"On {day:%a %d %b %Y} {label} {verb} {amount(value)} against "
                f"{amount(expected)} expected ({amount(abs(deviation))} "
                f"{'above' if deviation >= 0 else 'below'}{change}), "
                f"{how_unusual(float(anomaly['z']))}")
    if top and top.get("share") is not None:
        name = top.get("description") or top["value"]
        sentence += (f"; {top['dimension'].replace('_', ' ')} {name} accounts for "
                     f"{min(float(top['share']), 1.0):.0%} of the difference")
    return sentence + "."


def robust_monitor(daily: pd.DataFrame, metric: str = "revenue", days: int = MONITOR_DAYS,
                   window: int = MONITOR_WINDOW, threshold: float = 3.5) -> pd.DataFrame:
    """The last ``days`` days, each compared with the ``window`` days before it, weekly
    pattern removed: ``adjusted`` = value − the weekday's median offset from the window
    median; ``z`` = (adjusted − median of the window's adjusted values) ÷ (1.4826 × MAD).
    For counts (orders, units) the scale is at least √expected, the Poisson noise of a
    count, as in the detector above: a steady small count has a tiny MAD, and 20 orders
    against 28 expected is not unusual (z −1.5, not −4).
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
        scale = robust_scale(adjusted_past)
        if metric in COUNT_METRICS:
            scale = max(scale, float(np.sqrt(max(centre + offset, 1.0))))
        z = (today - offset - centre) / scale if pd.notna(today) else None
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


# ----------------------------------------------------------------- per-slice monitoring
SLICE_TOP = 8
SLICE_MIN_Z = 3.75
SLICE_MAX_RUN = 7
SLICE_RATIO_LIMITS = (0.1, 10.0)
SLICE_MIN_ORDERS = 3.0
SLICE_MIN_EXPECTED_SHARE = 0.25
SLICE_REST_Z = 2.0
SLICE_HISTORY_DAYS = 182
#: A slice's comparable day counts as unusual from this |z|: a slice's days are few orders,
#: so a recurring closure (a store shut on Boxing Day: 0 against 5) is only about 2 σ a day.
SLICE_YEARLY_MIN_Z = 1.5
SLICE_COLUMNS = ["dimension", "value", "start", "end", "days", "actual", "expected",
                 "deviation", "relative", "z", "direction", "related"]


def _metric_values(frame: pd.DataFrame, metric: str) -> pd.Series:
    if metric == "aov":
        return frame["gross_revenue"] / frame["orders"].where(frame["orders"] > 0)
    return frame[metric].astype(float)


def _poisson_dispersion(component: pd.DataFrame) -> float:
    """Variance ÷ mean of a count series around its expectation, at least 1: the squared
    robust scale of its Anscombe residuals 2(√(x + 3/8) − √(expected + 3/8)), which are
    N(0, 1) for Poisson counts whatever their level."""
    expected = component["expected"].clip(lower=0.0)
    residual = 2 * (np.sqrt(component["value"].clip(lower=0.0) + 0.375)
                    - np.sqrt(expected + 0.375))
    return max(1.0, robust_scale(residual) ** 2)


def _window_z(actual: np.ndarray, expected: np.ndarray, variance: np.ndarray,
              count: bool, dispersion: float = 1.0) -> np.ndarray:
    """z of windows with summed ``actual``, ``expected`` and scale² ``variance``.

    Sums of values: (actual − expected) ÷ √variance. Counts: the Poisson tail probability of
    ``actual`` around ``expected`` (continuous in ``actual``: regularised incomplete gamma),
    as a normal quantile, divided by √``dispersion`` (``_poisson_dispersion``) — a
    Gaussian z says a 4-day drop from 18 orders to 0 is −4.2 σ; it has probability 2e-8.
    Units are not Poisson (one order can hold 50 units) and use the Gaussian z."""
    from scipy.special import gammainc, gammaincc, ndtri

    with np.errstate(divide="ignore", invalid="ignore"):
        gaussian = (actual - expected) / np.sqrt(variance)
        if not count:
            return gaussian
        rate = np.clip(expected, 1e-9, None)
        above = actual >= expected
        tail = np.where(above, gammainc(np.clip(actual, 1e-9, None), rate),
                        gammaincc(actual + 1.0, rate))
        tail = np.clip(tail, 1e-300, 0.5)
        return -ndtri(tail) * np.where(above, 1.0, -1.0) / np.sqrt(dispersion)


def _slice_runs(dates: pd.DatetimeIndex, component: pd.DataFrame, rest: pd.DataFrame,
                count: bool, min_z: float, max_run: int,
                plain: pd.DataFrame | None = None,
                plain_rest: pd.DataFrame | None = None) -> list[dict]:
    """Windows of 1…``max_run`` days of one slice (``component``) whose summed deviation has
    |z| ≥ ``min_z`` both against the slice's own expectation and against it scaled by the
    rest of the shop's ratio (``rest``: the rest's ``deseasonalise`` frame; its value ÷
    expected on the days it moved); overlapping windows of the same direction are one anomaly,
    reported by its strongest window (z = the weakest of the tests). With the yearly effect
    (``plain``, ``plain_rest``: the slice and the rest without it), the test against the rest
    is made twice, with and without the yearly effect, and both must find the window
    unusual: a Black Friday lifts the rest above its ordinary days and the slice with it,
    even when one of their yearly effects is too noisy to be learnt."""
    pairs = [(component, rest)]
    if plain is not None and plain_rest is not None:
        pairs.append((plain, plain_rest))
    value = component["value"].to_numpy(dtype=float)

    def floored(frame):
        expected = frame["expected"].to_numpy(dtype=float)
        if count:  # a Poisson rate of 0 makes any order infinitely unlikely
            expected = np.maximum(expected, np.maximum(frame["trend"].to_numpy(dtype=float)
                                                       * SLICE_MIN_EXPECTED_SHARE, 0.5))
        return expected

    def ratio(frame):
        # the rest's ratio counts on the days the rest itself moved (|z| ≥ 2): its ordinary
        # noise would otherwise blur every slice's own test
        moved = np.clip((frame["value"] / frame["expected"].where(frame["expected"] > 0))
                        .to_numpy(dtype=float), *SLICE_RATIO_LIMITS)
        return np.where(np.isfinite(moved) & (frame["z"].abs() >= SLICE_REST_Z).to_numpy(),
                        moved, 1.0)

    expected = floored(component)
    variance = component["scale"].to_numpy(dtype=float) ** 2
    columns = [value, expected, variance]
    for slice_frame, rest_frame in pairs:
        factor = ratio(rest_frame)
        columns += [floored(slice_frame) * factor,
                    slice_frame["scale"].to_numpy(dtype=float) ** 2 * factor ** 2]
    usable = np.logical_and.reduce([np.isfinite(column) for column in columns])
    arrays = [np.where(usable, column, 0.0) for column in columns]
    dispersion = _poisson_dispersion(component) if count else 1.0
    sums = [np.concatenate([[0.0], np.cumsum(array)]) for array in [*arrays, usable]]
    windows = []
    for length in range(1, min(max_run, len(value)) + 1):
        ends = np.arange(length, len(value) + 1)
        totals = [array[ends] - array[ends - length] for array in sums]
        total_value, total_expected, total_variance, used = (totals[0], totals[1], totals[2],
                                                             totals[-1])
        # the expectation is estimated too: its trend (a median of 29 days) errs alike on
        # neighbouring days, its weekly part (a median of 12 weeks) day by day
        estimate = np.sqrt(1 + np.pi / 2 * (1 / (WEEKLY_WEEKS - 1) + length / TREND_DAYS))
        own_z = _window_z(total_value, total_expected, total_variance, count,
                          dispersion) / estimate
        z, agree = own_z, np.ones(len(own_z), dtype=bool)
        for index in range(len(pairs)):
            relative_z = _window_z(total_value, totals[3 + 2 * index],
                                   totals[4 + 2 * index], count, dispersion) / estimate
            agree &= np.sign(own_z) == np.sign(relative_z)
            z = np.where(np.abs(z) <= np.abs(relative_z), z, relative_z)
        hits = np.flatnonzero((used == length) & (np.abs(z) >= min_z) & agree)
        windows += [(int(ends[hit] - length), int(ends[hit] - 1), float(z[hit]),
                     float(total_value[hit]), float(total_expected[hit])) for hit in hits]
    windows.sort(key=lambda window: (window[0], window[1]))
    runs, group = [], []
    for window in windows + [None]:
        if group and (window is None or window[0] > max(w[1] for w in group) + 1
                      or np.sign(window[2]) != np.sign(group[0][2])):
            best = max(group, key=lambda w: (abs(w[2]), -(w[1] - w[0])))
            runs.append({"start": dates[best[0]], "end": dates[best[1]],
                         "days": best[1] - best[0] + 1, "actual": best[3],
                         "expected": best[4], "z": best[2]})
            group = []
        if window is not None:
            group.append(window)
    return runs


def slice_anomalies(daily: pd.DataFrame, slices: pd.DataFrame, metric: str = "revenue",
                    min_z: float = SLICE_MIN_Z, max_run: int = SLICE_MAX_RUN,
                    min_orders: float = SLICE_MIN_ORDERS, start=None,
                    events: dict | None = None) -> pd.DataFrame:
    """Unusual day ranges inside slices of the shop (a channel, a traffic source, a country,
    a category) that barely move the shop-wide totals.

    ``daily``: the gap-free shop-wide series (only its ``date`` column and its last
    ``MAX_DAYS`` days are used, or, with ``start``, the ``SLICE_HISTORY_DAYS`` before it and
    the days from it — all the days given when ``events`` is given: only ranges that end on or
    after ``start`` are listed); ``events`` (``holiday_calendar``) adds the yearly effect
    (``yearly_alignment``, comparable days unusual from |z| ≥ ``SLICE_YEARLY_MIN_Z``) to each
    slice's and each rest's expectation, so a slice's Black Friday or Christmas like last
    year's is expected (and the test against the rest is also
    made without it: ``_slice_runs``); ``slices``:
    ``dimension``, ``value`` (the dimension value), ``date``, ``revenue``, ``gross_revenue``, ``orders``, ``units``
    (``inputs.slice_daily_series``). Slices with fewer than ``min_orders`` orders a day on
    average are skipped: a few orders a day swing too much to monitor.

    Each slice's value and the rest of the shop's (shop − slice) are de-seasonalised
    (``deseasonalise``). Windows of 1…``max_run`` consecutive days are scored by the z of
    their summed deviation (``_window_z``: Poisson tails for orders; divided by the
    uncertainty of the expectation itself), twice: against the slice's expectation (for
    orders at least a quarter of its trend and 0.5 a day), and against it scaled, on the
    days the rest of the shop moved too (its |z| ≥ 2), by the rest's value ÷ expected
    (Black Friday lifts every slice and the rest with it: not an anomaly of the slice; an
    outage of the app does not move the web channel's own series: no mirror anomaly).
    Windows with |z| ≥ ``min_z`` on both counts, in the same direction, that overlap
    form one anomaly per (day range, slice), reported by
    its strongest window. An anomaly overlapping a stronger one of another dimension, in
    the same direction, is an echo of it (the e-mail campaign also lifts the web channel):
    it is listed in the stronger one's ``related`` instead.

    Columns: ``dimension``, ``value``, ``start``, ``end``, ``days``, ``actual``,
    ``expected`` (the metric summed over the days, and its de-seasonalised expectation;
    for AOV, sums of the daily AOVs), ``deviation``, ``relative``
    (actual ÷ expected − 1), ``z``, ``direction``, ``related`` (list of
    "dimension = value"); strongest |z| first."""
    require_columns(daily, ["date", "revenue", "gross_revenue", "orders", "units"],
                    "Slice monitoring")
    require_columns(slices, ["dimension", "value", "date", "revenue", "gross_revenue",
                             "orders", "units"], "Slice monitoring")
    if metric not in METRICS:
        raise ModelError(f"metric must be one of {list(METRICS)}, not {metric!r}")
    daily = daily.sort_values("date")
    if start is None:
        daily = daily.tail(MAX_DAYS)
    elif events is None:
        daily = daily[daily["date"] >= pd.Timestamp(start)
                      - pd.Timedelta(days=SLICE_HISTORY_DAYS)]
    dates = pd.DatetimeIndex(daily["date"])
    aligned = yearly_alignment(dates, events) if events is not None else None
    count = metric in COUNT_METRICS
    measures = ["revenue", "gross_revenue", "orders", "units"]
    shop = daily.set_index("date")[measures]
    found = []
    for (dimension, value), rows in slices.groupby(["dimension", "value"], sort=True):
        own = rows.set_index("date")[measures].reindex(dates, fill_value=0.0)
        if float(own["orders"].mean()) < min_orders:
            continue
        own_values = _metric_values(own, metric)
        rest_values = _metric_values((shop - own).clip(lower=0.0), metric)
        component = deseasonalise(dates.to_series(), own_values, count, aligned,
                                  SLICE_YEARLY_MIN_Z)
        rest = deseasonalise(dates.to_series(), rest_values, count, aligned, SLICE_YEARLY_MIN_Z)
        plain = plain_rest = None
        if aligned is not None:
            plain = deseasonalise(dates.to_series(), own_values, count)
            plain_rest = deseasonalise(dates.to_series(), rest_values, count)
        for run in _slice_runs(dates, component, rest, metric == "orders", min_z, max_run,
                               plain, plain_rest):
            if start is not None and run["end"] < pd.Timestamp(start):
                continue
            found.append({"dimension": dimension, "value": str(value), **run})
    if not found:
        return pd.DataFrame(columns=SLICE_COLUMNS)
    frame = pd.DataFrame(found)
    frame["deviation"] = frame["actual"] - frame["expected"]
    frame["relative"] = frame["actual"] / frame["expected"].where(frame["expected"] > 0) - 1
    frame["direction"] = np.where(frame["z"] >= 0, "above", "below")
    frame = frame.assign(strength=frame["z"].abs()).sort_values(
        ["strength", "start", "dimension", "value"], ascending=[False, True, True, True],
        ignore_index=True)
    kept, related = [], {}
    for row in frame.itertuples():
        echo_of = next((index for index in kept
                        if frame.at[index, "dimension"] != row.dimension
                        and frame.at[index, "direction"] == row.direction
                        and frame.at[index, "start"] <= row.end
                        and row.start <= frame.at[index, "end"]), None)
        if echo_of is None:
            kept.append(row.Index)
            related[row.Index] = []
        else:
            related[echo_of].append(f"{row.dimension} = {row.value}")
    result = frame.loc[kept].assign(related=[related[index] for index in kept])
    return result[SLICE_COLUMNS].reset_index(drop=True)
