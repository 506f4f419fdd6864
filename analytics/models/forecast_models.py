"""The candidate models of the forecast leaderboard and their rolling-origin backtest.

Every candidate is a function ``(train, days, setup) -> Prediction``: ``train`` is a gap-free
daily series (DatetimeIndex), ``days`` how many days after it to forecast. Candidates:

* ``seasonal naive``: the value 7 days earlier, the last observed week carried forward (the
  baseline every model must beat);
* ``ETS``: Holt-Winters exponential smoothing (statsmodels), additive damped trend and
  additive weekly seasonality;
* ``Theta``: the Theta method (statsmodels ``ThetaModel``), weekly deseasonalised;
* ``Prophet``: ``forecast.DailyForecaster`` (weekly/yearly seasonality, holidays, closed
  weekdays), with its own prediction interval;
* ``XGBoost``: gradient-boosted trees on lags (1, 7, 14, 28 days), moving averages (7 and
  28 days) and the calendar (weekday, day of month, day of year), forecast recursively.

ETS and Theta fit the last year, XGBoost the last 3, Prophet up to 4. Only Prophet has
its own prediction interval; the others get one from the backtest's errors.

Backtest (``rolling_origin``): ``folds`` origins, the last one ``fold_days`` before the end,
each fold forecasting the ``fold_days`` after its origin from the history before it. Per
fold: **WAPE** = Σ|actual − forecast| ÷ Σ|actual| and **MAPE** = mean |error| ÷ |actual| over
the days whose actual is not 0; a model's score is the mean over folds.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

#: The seconds each model took in its last ``run_models`` call (for the bench).
SECONDS: dict[str, float] = {}
NAIVE = "seasonal naive"
MODELS = (NAIVE, "ETS", "Theta", "Prophet", "XGBoost")
DESCRIPTIONS = {
    NAIVE: "the value 7 days earlier (the last week repeated)",
    "ETS": "Holt-Winters exponential smoothing: damped trend, weekly seasonality",
    "Theta": "Theta method on the weekly-deseasonalised series",
    "Prophet": "Prophet: trend, weekly and yearly seasonality, holidays",
    "XGBoost": "gradient-boosted trees on lags, moving averages and the calendar",
}


@dataclass(frozen=True)
class Setup:
    """What every candidate may use besides the series."""
    interval: float = 0.8
    country_code: str | None = None


@dataclass
class Prediction:
    forecast: np.ndarray
    lower: np.ndarray | None = None   # the model's own interval, when it has one
    upper: np.ndarray | None = None
    description: str | None = None    # what the fit found (Prophet: holidays, closed days)


# ----------------------------------------------------------------- metrics
def wape(actual, predicted) -> float | None:
    """Σ|actual − predicted| ÷ Σ|actual|; None when every actual is 0."""
    actual, predicted = np.asarray(actual, float), np.asarray(predicted, float)
    total = float(np.abs(actual).sum())
    return float(np.abs(actual - predicted).sum()) / total if total > 0 else None


def mape(actual, predicted) -> float | None:
    """Mean |actual − predicted| ÷ |actual| over the days whose actual is not 0."""
    actual, predicted = np.asarray(actual, float), np.asarray(predicted, float)
    nonzero = actual != 0
    if not nonzero.any():
        return None
    return float(np.mean(np.abs(actual[nonzero] - predicted[nonzero]) / np.abs(actual[nonzero])))


def _mean(values) -> float | None:
    kept = [v for v in values if v is not None]
    return float(np.mean(kept)) if kept else None


# ----------------------------------------------------------------- candidates
def seasonal_naive(train: pd.Series, days: int, setup: Setup | None = None) -> Prediction:
    last_week = np.asarray(train, dtype=float)[-7:]
    if len(last_week) < 7:
        raise ValueError("the seasonal-naive baseline needs at least 7 days of history")
    return Prediction(np.resize(last_week, days))


def ets(train: pd.Series, days: int, setup: Setup) -> Prediction:
    import warnings

    from statsmodels.tsa.holtwinters import ExponentialSmoothing
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = ExponentialSmoothing(np.asarray(train, float)[-SMOOTHING_HISTORY_DAYS:],
                                     trend="add", damped_trend=True, seasonal="add",
                                     seasonal_periods=7, initialization_method="estimated")
        fitted = model.fit(use_brute=False)
        return Prediction(np.asarray(fitted.forecast(days), float))


def theta(train: pd.Series, days: int, setup: Setup) -> Prediction:
    import warnings

    from statsmodels.tsa.forecasting.theta import ThetaModel
    train = train.iloc[-SMOOTHING_HISTORY_DAYS:]
    values = pd.Series(np.asarray(train, float),
                       index=pd.DatetimeIndex(train.index, freq="D"))
    method = "auto" if (values > 0).all() else "additive"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted = ThetaModel(values, period=7, method=method).fit()
        # no own interval: statsmodels' takes seconds and covered 99 % of the backtest days
        # asked for 80 %; the backtest's errors give it one
        return Prediction(np.asarray(fitted.forecast(days), float))


def prophet(train: pd.Series, days: int, setup: Setup) -> Prediction:
    from analytics.models.forecast import DailyForecaster
    model = DailyForecaster(max(days, 1), setup.interval, setup.country_code,
                            check=False).fit(train.index, train)
    predicted = model.predict(days)
    return Prediction(predicted["forecast"].to_numpy(), predicted["lower"].to_numpy(),
                      predicted["upper"].to_numpy(), description=model.description)


LAGS = (1, 7, 14, 28)
WINDOWS = (7, 28)
XGB_HISTORY_DAYS = 3 * 365
SMOOTHING_HISTORY_DAYS = 365  # ETS and Theta: a weekly season and a damped trend need no more


def _calendar(dates: pd.DatetimeIndex) -> np.ndarray:
    return np.column_stack([dates.day_of_week.to_numpy(), dates.day.to_numpy(),
                            dates.day_of_year.to_numpy()]).astype(float)


def _features(values: np.ndarray, calendar: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The features of the days ``rows`` (positions in ``values``), from earlier days only:
    the value 1, 7, 14 and 28 days before, the means of the 7 and 28 days before, and the
    weekday, day of month and day of year."""
    columns = [values[rows - lag] for lag in LAGS]
    cumulative = np.concatenate([[0.0], np.cumsum(values)])
    columns += [(cumulative[rows] - cumulative[rows - window]) / window for window in WINDOWS]
    return np.column_stack([*columns, calendar[rows]])


def xgboost_model(train: pd.Series, days: int, setup: Setup) -> Prediction:
    import xgboost

    history = max(max(LAGS), max(WINDOWS))
    train = train.iloc[-XGB_HISTORY_DAYS:]
    values = np.asarray(train, float)
    if len(values) <= history + 14:
        raise ValueError("too short for its 28-day lag features")
    calendar = _calendar(pd.date_range(train.index[0], periods=len(values) + days, freq="D"))
    rows = np.arange(history, len(values))
    model = xgboost.XGBRegressor(n_estimators=150, max_depth=4, learning_rate=0.07,
                                 subsample=0.9, colsample_bytree=0.9, n_jobs=1,
                                 random_state=0, verbosity=0)
    model.fit(_features(values, calendar, rows), values[rows])
    booster = model.get_booster()
    extended = np.concatenate([values, np.zeros(days)])
    for row in range(len(values), len(values) + days):  # recursive: forecasts feed the lags
        features = np.array([[*(extended[row - lag] for lag in LAGS),
                              *(extended[row - window:row].mean() for window in WINDOWS),
                              *calendar[row]]])
        extended[row] = max(0.0, float(booster.inplace_predict(features)[0]))
    return Prediction(extended[len(values):])


CANDIDATES: dict[str, Callable[[pd.Series, int, Setup], Prediction]] = {
    NAIVE: seasonal_naive, "ETS": ets, "Theta": theta, "Prophet": prophet,
    "XGBoost": xgboost_model}


# ----------------------------------------------------------------- backtest
@dataclass
class Fold:
    start: pd.Timestamp
    actual: np.ndarray


def fold_plan(length: int, horizon: int, folds: int, min_train: int) -> tuple[int, int]:
    """(fold_days, folds): folds of the horizon's length (at least 7 days), shortened (to
    no less than 7 days) when the history cannot hold ``folds`` of them after ``min_train``
    days."""
    fold_days = min(max(horizon, 7), (length - min_train) // folds)
    if fold_days < 7:
        raise ValueError(f"{length} days cannot hold {folds} folds of 7 days after "
                         f"{min_train} days of training")
    return fold_days, folds


def rolling_origin(series: pd.Series, fold_days: int, folds: int, setup: Setup,
                   models=MODELS, progress=lambda pct, msg: None) -> dict:
    """Backtest each model of ``models`` on the same folds. Returns ``{"folds": [Fold],
    "origins": [int], "predictions": {model: [Prediction per fold]}, "errors": {model:
    message}}``. Prophet and XGBoost run in other threads (Prophet's fits are a Stan
    subprocess, XGBoost's trees release the GIL) while this one fits the rest."""
    origins = [len(series) - k * fold_days for k in range(folds, 0, -1)]
    plan = [Fold(series.index[o], series.to_numpy()[o:o + fold_days]) for o in origins]
    results = run_models(models, [(series.iloc[:o], fold_days) for o in origins], setup,
                         progress)
    predictions = {name: value for name, value in results.items() if isinstance(value, list)}
    errors = {name: value for name, value in results.items() if isinstance(value, str)}
    return {"folds": plan, "origins": origins, "predictions": predictions, "errors": errors}


def run_models(models, tasks, setup: Setup, progress=lambda pct, msg: None) -> dict:
    """``{model: [Prediction per (train, days) task]}``, or ``{model: error message}`` for a
    model that cannot fit one of them (it leaves the race)."""
    from concurrent.futures import ThreadPoolExecutor

    def one(name):
        started = time.perf_counter()
        try:
            return [_clip(CANDIDATES[name](train, days, setup)) for train, days in tasks]
        except Exception as error:
            log.info("forecast candidate %s failed", name, exc_info=True)
            return f"{type(error).__name__}: {error}"[:200]
        finally:
            SECONDS[name] = time.perf_counter() - started

    results = {}
    aside = [name for name in models if name in ("Prophet", "XGBoost")]
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {name: pool.submit(one, name) for name in aside}
        rest = [name for name in models if name not in aside]
        for position, name in enumerate(rest):
            progress(int(100 * position / max(len(rest), 1)), f"backtesting {name}")
            results[name] = one(name)
        for name, future in futures.items():
            progress(95, f"backtesting {name}")
            results[name] = future.result()
    return {name: results[name] for name in models}


def _clip(prediction: Prediction) -> Prediction:
    """Forecasts and bounds at 0 or above (revenue, orders and units per day)."""
    if not np.isfinite(prediction.forecast).all():
        raise ValueError("the model forecast NaN or infinity")
    forecast = np.clip(prediction.forecast, 0, None)
    lower = None if prediction.lower is None else np.clip(prediction.lower, 0, None)
    upper = None if prediction.upper is None else np.clip(prediction.upper, 0, None)
    return Prediction(forecast, lower, upper, prediction.description)


def residual_bounds(residuals: np.ndarray, interval: float) -> tuple[float, float]:
    """The (lower, upper) quantiles of actual − forecast that hold ``interval`` of them."""
    tail = (1 - interval) / 2
    return (float(np.quantile(residuals, tail)), float(np.quantile(residuals, 1 - tail)))


def backtest_intervals(folds: list[Fold], predicted: list[Prediction],
                       interval: float) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per fold, (lower, upper): the model's own interval when it has one, else the fold's
    forecast plus the residual quantiles of the *other* folds (so the coverage measured on
    a fold is out of sample)."""
    residuals = [fold.actual - p.forecast for fold, p in zip(folds, predicted)]
    out = []
    for k, p in enumerate(predicted):
        if p.lower is not None and p.upper is not None:
            out.append((p.lower, p.upper))
            continue
        others = np.concatenate([r for j, r in enumerate(residuals) if j != k])
        low, high = residual_bounds(others, interval)
        out.append((np.clip(p.forecast + low, 0, None), np.clip(p.forecast + high, 0, None)))
    return out


def coverage(folds: list[Fold], bounds) -> float:
    """Share of backtest days whose actual lies within its interval."""
    inside = [(fold.actual >= low) & (fold.actual <= high)
              for fold, (low, high) in zip(folds, bounds)]
    return float(np.concatenate(inside).mean())


def average(predictions: list[list[Prediction]]) -> list[Prediction]:
    """The per-fold mean of several models' forecasts (an ensemble has no own interval)."""
    return [Prediction(np.mean([p.forecast for p in fold], axis=0))
            for fold in zip(*predictions)]


def score(folds: list[Fold], predicted: list[Prediction]) -> dict:
    per_fold = [{"start": fold.start, "end": fold.start + pd.Timedelta(days=len(fold.actual) - 1),
                 "wape": wape(fold.actual, p.forecast), "mape": mape(fold.actual, p.forecast)}
                for fold, p in zip(folds, predicted)]
    return {"wape": _mean(f["wape"] for f in per_fold),
            "mape": _mean(f["mape"] for f in per_fold), "folds": per_fold}


def leaderboard(backtest: dict, interval: float, ensemble_sizes=(2, 3)) -> list[dict]:
    """One row per model and per ensemble of the best ``ensemble_sizes`` models, best mean
    WAPE first, the first row ``chosen``. Seasonal naive wins ties (it is listed first and
    the sort is stable), so a model is chosen only when it beats the baseline."""
    folds = backtest["folds"]
    rows = []
    for name, predicted in backtest["predictions"].items():
        description = predicted[-1].description or DESCRIPTIONS[name]
        rows.append({"model": name, "members": [name], "description": description,
                     **score(folds, predicted), "predicted": predicted})
    ranked = sorted((r for r in rows if r["wape"] is not None), key=lambda r: r["wape"])
    for size in ensemble_sizes:
        if len(ranked) < size:
            continue
        members = [r["model"] for r in ranked[:size]]
        predicted = average([backtest["predictions"][m] for m in members])
        rows.append({"model": "average of " + " + ".join(members), "members": members,
                     "description": f"the mean of the {size} best models' forecasts",
                     **score(folds, predicted), "predicted": predicted})
    for row in rows:
        bounds = backtest_intervals(folds, row["predicted"], interval)
        row["coverage"] = coverage(folds, bounds)
        row["bounds"] = bounds
        row["own_interval"] = all(p.lower is not None for p in row["predicted"])
    order = sorted(rows, key=lambda r: (r["wape"] is None, r["wape"] or 0.0))
    for position, row in enumerate(order):
        row["chosen"] = position == 0
    for name, message in backtest["errors"].items():
        order.append({"model": name, "members": [name], "description": DESCRIPTIONS[name],
                      "wape": None, "mape": None, "folds": [], "coverage": None,
                      "chosen": False, "error": message})
    return order
