"""Daily forecasts: a leaderboard of models backtested on rolling origins, the best used.

Method (METRICS.md "Forecasts"; the candidates are in ``analytics.models.forecast_models``):

* the series is daily; days without sales count as 0; only the last ``MAX_HISTORY_DAYS``
  (4 years) are used;
* a series needs ``MIN_SALE_DAYS`` (8 weeks) of days with sales, on at least
  ``MIN_SALE_DAY_SHARE`` of its days, else ModelError says what it has;
* backtest: ``BACKTEST_FOLDS`` (4) rolling origins, each forecasting the next ``horizon``
  days (shorter folds, at least 7 days, when the history cannot hold 4 of them after 4
  weeks of training) from the history before it; seasonal naive, ETS, Theta, Prophet and
  XGBoost are scored by WAPE and MAPE per fold and their means;
* choice: the lowest mean WAPE among the models and the averages of the best two and three
  (scored on the same folds); seasonal naive wins ties, so the chosen forecast is never
  worse than it on the backtest, and a note says when nothing beat it;
* interval: the model's own (Prophet) or, for the others and the averages, the forecast
  plus the 10th and 90th percentiles (for 80 %) of the backtest's errors; its coverage is
  measured on the folds, each fold's interval made from the other folds' errors;
* forecasts and bounds are clipped at 0.

``DailyForecaster`` is the Prophet candidate: weekly seasonality when the history spans 2
weeks, yearly when it spans 2 years, the public holidays of ``country_code``, and *closed
weekdays* (no sales on at least 75 % of that weekday in the last 8 weeks) left out of the
fit and forecast as 0.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analytics.models.base import ModelError, regression_metrics, require_columns
from analytics.text import money_text

log = logging.getLogger(__name__)

MIN_SALE_DAYS = 56      # 8 weeks of days with sales
MIN_SALE_DAY_SHARE = 0.2
HOLDOUT_SHARE = 0.2
MIN_HOLDOUT_DAYS = 7
MAX_HISTORY_DAYS = 4 * 365

def _quiet_stan() -> None:
    """cmdstanpy logs every chain at INFO and sets that level itself when it is first
    imported, so the levels are set again after Prophet (and cmdstanpy) are imported."""
    for name in ("cmdstanpy", "prophet", "prophet.plot"):
        logging.getLogger(name).setLevel(logging.WARNING)


_quiet_stan()


def _daily(frame: pd.DataFrame, date_col: str, value_col: str) -> pd.Series:
    """The values as a gap-free daily series (missing days → 0)."""
    require_columns(frame, [date_col, value_col], "A forecast")
    dates = pd.to_datetime(frame[date_col]).dt.normalize()
    values = pd.to_numeric(frame[value_col], errors="coerce").fillna(0.0).astype(float)
    series = values.groupby(dates.values).sum()
    if series.empty:
        raise ModelError("There is no data to forecast in this selection.")
    days = pd.date_range(series.index.min(), series.index.max(), freq="D")
    return series.reindex(days, fill_value=0.0)


def check_forecastable(series: pd.Series, what: str = "this selection") -> None:
    """Raise ModelError when ``series`` (daily, gap-free) is too short or too sparse."""
    sale_days = int((series != 0).sum())
    if sale_days < MIN_SALE_DAYS:
        weeks = sale_days // 7
        raise ModelError(f"A forecast needs {MIN_SALE_DAYS // 7} weeks of days with sales; "
                         f"{what} has {weeks} ({sale_days} day{'s' if sale_days != 1 else ''} "
                         f"with sales).")
    share = sale_days / len(series)
    if share < MIN_SALE_DAY_SHARE:
        raise ModelError(f"{what[:1].upper() + what[1:]} is too sparse to forecast: sales on "
                         f"{share:.0%} of days, a forecast needs at least "
                         f"{MIN_SALE_DAY_SHARE:.0%}.")


class DailyForecaster:
    """Prophet on a daily series. ``fit(dates, values)`` returns self; ``predict()`` returns
    the next ``horizon`` days with columns ``date``, ``forecast``, ``lower``, ``upper``."""

    def __init__(self, horizon: int = 90, interval: float = 0.8, country_code: str | None = None,
                 max_history_days: int = MAX_HISTORY_DAYS, uncertainty_samples: int = 200,
                 seed: int = 0, check: bool = True):
        if not 1 <= horizon <= 365:
            raise ModelError(f"horizon must be 1–365 days, not {horizon}")
        if not 0.5 <= interval <= 0.99:
            raise ModelError(f"interval must be between 0.5 and 0.99, not {interval}")
        self.horizon = horizon
        self.interval = interval
        self.country_code = country_code
        self.max_history_days = max_history_days
        self.uncertainty_samples = uncertainty_samples
        self.seed = seed
        self.check = check  # False inside the backtest: the whole series was checked

    def fit(self, dates, values) -> "DailyForecaster":
        from prophet import Prophet
        _quiet_stan()

        series = _daily(pd.DataFrame({"date": dates, "value": values}), "date", "value")
        series = series.iloc[-self.max_history_days:]
        if self.check:
            check_forecastable(series)
        span = len(series)
        recent = series.iloc[-56:]
        zero_share = (recent == 0).groupby(recent.index.day_of_week).mean()
        self.closed_weekdays_ = sorted(int(day) for day in zero_share.index[zero_share >= 0.75])
        open_days = series[~series.index.day_of_week.isin(self.closed_weekdays_)]
        self.weekly_ = span >= 14
        self.yearly_ = span >= 2 * 365
        model = Prophet(weekly_seasonality=self.weekly_, yearly_seasonality=self.yearly_,
                        daily_seasonality=False, interval_width=self.interval,
                        uncertainty_samples=self.uncertainty_samples, mcmc_samples=0)
        self.holidays_ = None
        if self.country_code:
            self.holidays_ = _add_holidays(model, self.country_code)
        np.random.seed(self.seed)  # Prophet samples its intervals with numpy's global state
        model.fit(pd.DataFrame({"ds": open_days.index, "y": open_days.to_numpy()}))
        self.model_ = model
        self.history_ = series
        return self

    def predict(self, days: int | None = None) -> pd.DataFrame:
        if not hasattr(self, "model_"):
            raise RuntimeError("call fit() before predict()")
        days = self.horizon if days is None else days
        future = pd.DataFrame({"ds": pd.date_range(self.history_.index[-1] + pd.Timedelta(days=1),
                                                   periods=days, freq="D")})
        np.random.seed(self.seed)
        predicted = self.model_.predict(future)
        open_day = ~predicted["ds"].dt.day_of_week.isin(self.closed_weekdays_)
        return pd.DataFrame({
            "date": predicted["ds"].to_numpy(),
            **{name: predicted[column].clip(lower=0).where(open_day, 0.0).to_numpy()
               for name, column in (("forecast", "yhat"), ("lower", "yhat_lower"),
                                    ("upper", "yhat_upper"))},
        })

    @property
    def description(self) -> str:
        parts = ["Prophet (additive, linear trend"]
        seasonalities = [name for name, on in (("weekly", self.weekly_), ("yearly", self.yearly_))
                         if on]
        parts.append(", " + " + ".join(seasonalities) + " seasonality" if seasonalities else "")
        parts.append(f", {self.holidays_} holidays" if self.holidays_ else "")
        if self.closed_weekdays_:
            names = ", ".join(pd.Timestamp(2024, 1, 1 + day).day_name()  # 2024-01-01: Monday
                              for day in self.closed_weekdays_)
            parts.append(f", closed on {names}")
        return "".join(parts) + ")"


def _add_holidays(model, country_code: str) -> str | None:
    """Add the country's public holidays when the ``holidays`` package knows it."""
    import holidays

    code = country_code.upper()
    if code not in holidays.list_supported_countries():
        return None
    try:
        model.add_country_holidays(country_name=code)
    except Exception:  # Prophet rejects a few codes holidays lists (no yearly calendar)
        log.info("Prophet could not add holidays for %s", code, exc_info=True)
        return None
    return code


def seasonal_naive(train: pd.Series, days: int) -> np.ndarray:
    """The value 7 days earlier, carried forward from the last week of ``train``."""
    last_week = train.to_numpy()[-7:]
    if len(last_week) < 7:
        raise ModelError("the seasonal-naive baseline needs at least 7 days of history")
    return np.resize(last_week, days)


@dataclass
class ForecastResult:
    """A forecast and how good it is.

    * ``history``: ``date``, ``actual`` (the fitted days);
    * ``forecast``: ``date``, ``forecast``, ``lower``, ``upper``;
    * ``backtest``: ``date``, ``fold``, ``actual``, ``forecast``, ``lower``, ``upper``,
      ``baseline`` over the rolling-origin folds (the chosen model's backtest);
    * ``accuracy`` / ``baseline_accuracy``: ``regression_metrics`` (MAPE, RMSE, R²) on the
      hold-out of the last ``holdout_days`` days (the last fold, as METRICS.md defines a
      forecast's accuracy), plus ``wape``, ``mean_mape`` and ``coverage`` over all the
      rolling folds, of the chosen model and of seasonal naive;
    * ``leaderboard``: one row per model and ensemble (``forecast_models.leaderboard``),
      best first, without the fold predictions;
    * ``chosen``: the chosen row's ``model``; ``members``: the models it averages.
    """
    model: str
    horizon: int
    interval: float
    holdout_days: int
    history: pd.DataFrame
    forecast: pd.DataFrame
    backtest: pd.DataFrame
    accuracy: dict
    baseline_accuracy: dict
    notes: list[str] = field(default_factory=list)
    leaderboard: list[dict] = field(default_factory=list)
    chosen: str = ""
    members: list[str] = field(default_factory=list)
    fold_days: int = 0
    folds: int = 0
    interval_source: str = ""

    @property
    def beats_baseline(self) -> bool | None:
        model, baseline = self.accuracy.get("wape"), self.baseline_accuracy.get("wape")
        return None if model is None or baseline is None else model < baseline


BACKTEST_FOLDS = 4
MIN_TRAIN_DAYS = 28


def forecast_series(frame: pd.DataFrame, date_col: str, value_col: str, *, horizon: int = 90,
                    interval: float = 0.8, country_code: str | None = None,
                    what: str = "this selection", models=None,
                    progress=lambda pct, msg: None) -> ForecastResult:
    """Backtest every candidate model on a rolling origin, choose the best by mean WAPE (an
    average of the best two or three when that backtests better; seasonal naive when
    nothing beats it), and forecast ``horizon`` days with it (see
    ``analytics.models.forecast_models``)."""
    from analytics.models import forecast_models as fm

    if not 1 <= horizon <= 365:
        raise ModelError(f"horizon must be 1–365 days, not {horizon}")
    full = _daily(frame, date_col, value_col)
    series = full.iloc[-MAX_HISTORY_DAYS:]
    check_forecastable(series, what)
    try:
        fold_days, folds = fm.fold_plan(len(series), horizon, BACKTEST_FOLDS, MIN_TRAIN_DAYS)
    except ValueError:
        raise ModelError(f"{what[:1].upper() + what[1:]} is too short to backtest: "
                         f"{len(series)} days, "
                         f"a forecast needs {MIN_TRAIN_DAYS + 7 * BACKTEST_FOLDS}.") from None
    setup = fm.Setup(interval=interval, country_code=country_code)
    models = tuple(models or fm.MODELS)
    if fm.NAIVE not in models:  # the baseline every forecast is measured against
        models = (fm.NAIVE, *models)
    backtest = fm.rolling_origin(series, fold_days, folds, setup, models,
                                 progress=lambda pct, msg: progress(int(pct * 0.8), msg))
    board = fm.leaderboard(backtest, interval)
    best = board[0]
    naive = next(row for row in board if row["model"] == fm.NAIVE)

    progress(85, f"forecasting with {best['model']}")
    finals = fm.run_models(best["members"], [(series, horizon)], setup)
    failed = [name for name, value in finals.items() if isinstance(value, str)]
    if failed:
        raise ModelError(f"{failed[0]} backtested best but failed on the whole history: "
                         f"{finals[failed[0]]}")
    finals = [value[0] for value in finals.values()]
    description = finals[0].description if len(finals) == 1 and finals[0].description \
        else best["description"]
    point = np.mean([p.forecast for p in finals], axis=0)
    if len(finals) == 1 and finals[0].lower is not None:
        lower, upper = finals[0].lower, finals[0].upper
        interval_source = "the model itself"
    else:
        residuals = np.concatenate([f.actual - p.forecast
                                    for f, p in zip(backtest["folds"], best["predicted"])])
        low, high = fm.residual_bounds(residuals, interval)
        lower, upper = np.clip(point + low, 0, None), np.clip(point + high, 0, None)
        interval_source = "the backtest's errors, their 10th-90th percentiles" \
            if abs(interval - 0.8) < 1e-9 else "the quantiles of the backtest's errors"
    lower, upper = np.minimum(lower, point), np.maximum(upper, point)
    dates = pd.date_range(series.index[-1] + pd.Timedelta(days=1), periods=horizon, freq="D")

    fold_frames = []
    for k, (fold, predicted, bounds, base) in enumerate(zip(
            backtest["folds"], best["predicted"], best["bounds"], naive["predicted"])):
        fold_frames.append(pd.DataFrame({
            "date": pd.date_range(fold.start, periods=len(fold.actual), freq="D"), "fold": k + 1,
            "actual": fold.actual, "forecast": predicted.forecast, "lower": bounds[0],
            "upper": bounds[1], "baseline": base.forecast}))
    backtest_frame = pd.concat(fold_frames, ignore_index=True)

    def accuracy(row) -> dict:
        # METRICS.md: MAPE, RMSE and R² on a hold-out of the last h days, i.e. the last
        # fold (forecast from the history before it); WAPE, MAPE and coverage over all the
        # rolling folds rank the models
        last = backtest["folds"][-1]
        return {**regression_metrics(last.actual, row["predicted"][-1].forecast),
                "wape": row["wape"], "mean_mape": row["mape"], "coverage": row["coverage"]}

    notes = [f"Backtest: {folds} rolling origins, each forecasting the next {fold_days} days "
             "from the history before it; models ranked by mean WAPE over the folds."]
    if fold_days < horizon:
        notes.append(f"The history holds {folds} folds of {fold_days} days, not of the "
                     f"{horizon}-day horizon: accuracy beyond {fold_days} days is untested.")
    if best["model"] == fm.NAIVE:
        notes.append("No model beat seasonal naive (the last week repeated) on the backtest, "
                     "so the forecast is seasonal naive.")
    if len(full) > len(series):
        notes.append(f"Fitted on the last {len(series)} days of history.")
    for row in board:
        if row.get("error"):
            notes.append(f"{row['model']} could not run on this series ({row['error']}).")
    public = [{key: value for key, value in row.items()
               if key not in ("predicted", "bounds")} for row in board]
    return ForecastResult(
        model=best["model"] + " — " + description, horizon=horizon, interval=interval,
        holdout_days=len(backtest["folds"][-1].actual),
        history=pd.DataFrame({"date": series.index, "actual": series.to_numpy()}),
        forecast=pd.DataFrame({"date": dates, "forecast": point, "lower": lower,
                               "upper": upper}),
        backtest=backtest_frame, accuracy=accuracy(best), baseline_accuracy=accuracy(naive),
        notes=notes, leaderboard=public, chosen=best["model"], members=list(best["members"]),
        fold_days=fold_days, folds=folds, interval_source=interval_source)


def forecast_items(units: pd.DataFrame, items: pd.DataFrame, first_day, last_day, *,
                   horizon: int = 90, interval: float = 0.8, country_code: str | None = None,
                   models=None,
                   progress=lambda pct, msg: None) -> tuple[list[dict], list[dict]]:
    """Demand (units) forecasts for each item of ``items`` (columns ``item``, ``description``)
    from ``units`` (columns ``item``, ``date``, ``units``), on the days ``first_day`` …
    ``last_day``. Returns (results, skipped): each result is ``{"item", "description",
    "result": ForecastResult}``; each skipped item is ``{"item", "description", "reason"}``
    (too little or too sparse history)."""
    require_columns(units, ["item", "date", "units"], "An item forecast")
    days = pd.date_range(pd.Timestamp(first_day), pd.Timestamp(last_day), freq="D")
    results, skipped = [], []
    for position, row in enumerate(items.itertuples(index=False)):
        progress(int(100 * position / max(len(items), 1)), f"forecasting {row.item}")
        own = units[units["item"] == row.item]
        series = own.groupby("date")["units"].sum().reindex(days, fill_value=0.0)
        frame = pd.DataFrame({"date": days, "units": series.to_numpy()})
        try:
            result = forecast_series(frame, "date", "units", horizon=horizon, interval=interval,
                                     country_code=country_code, what=f"item {row.item}",
                                     models=models)
        except ModelError as error:
            skipped.append({"item": row.item, "description": row.description,
                            "reason": str(error)})
            continue
        results.append({"item": row.item, "description": row.description, "result": result})
    return results, skipped


METRIC_UNITS = {"revenue": None, "orders": "orders", "units": "units"}


def forecast_summary(result: ForecastResult) -> dict:
    """The totals the sentence states: the next ``horizon`` days' forecast with the sums of
    its daily bounds, and the last ``horizon`` days of history."""
    previous = float(result.history["actual"].tail(result.horizon).sum())
    total = float(result.forecast["forecast"].sum())
    return {"days": result.horizon, "next_total": total,
            "next_lower": float(result.forecast["lower"].sum()),
            "next_upper": float(result.forecast["upper"].sum()),
            "previous_total": previous, "previous_days": min(result.horizon,
                                                             len(result.history)),
            "change": (total - previous) / previous if previous else None}


def forecast_sentence(summary: dict, metric: str = "revenue", currency: str = "£") -> str:
    """E.g. "£393,256 expected over the next 30 days, between £315,924 and £470,798; 6 %
    above the last 30." (units and orders are counted, not priced)."""
    unit = METRIC_UNITS.get(metric)

    def amount(value: float) -> str:
        return money_text(value, currency) if unit is None else f"{value:,.0f}"

    days = summary["days"]
    text = (f"{amount(summary['next_total'])}{'' if unit is None else ' ' + unit} expected "
            f"over the next {days} days, between {amount(summary['next_lower'])} and "
            f"{amount(summary['next_upper'])}")
    change = summary.get("change")
    if change is None:
        return text + f"; nothing in the last {summary['previous_days']} days to compare with."
    if round(abs(change) * 100) == 0:
        return text + f"; about the same as the last {summary['previous_days']}."
    direction = "above" if change > 0 else "below"
    return text + f"; {abs(change) * 100:.0f} % {direction} the last {summary['previous_days']}."
