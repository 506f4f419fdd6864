"""BG/NBD ("buy till you die") and Gamma-Gamma: repeat purchases, P(alive) and spend.

Own implementation on scipy rather than the ``lifetimes`` package: ``lifetimes`` is
unmaintained (last release 2020) and does not run on pandas 3; the two models are a few
closed-form likelihoods.

* **BG/NBD** (Fader, Hardie & Lee, "Counting your customers the easy way", 2005): while
  alive a customer buys at a Poisson rate λ ~ Gamma(r, α); after each purchase they drop out
  with probability p ~ Beta(a, b). Per customer: ``x`` repeat purchases (purchase days after
  the first, several orders on one day count once), ``t_x`` the time of the last purchase
  and ``T`` the time since the first, both from the first purchase (here in weeks).
* **Gamma-Gamma** (Fader, Hardie & Lee, "RFM and CLV", 2005): the mean spend ``m_x`` of a
  customer's ``x`` repeat purchases; spend per purchase ~ Gamma(p, ν), ν ~ Gamma(q, γ).
  Fitted on customers with at least one repeat purchase; a customer's expected spend per
  purchase is ``(γ + x m_x) p ÷ (p x + q − 1)`` (the population mean ``p γ ÷ (q − 1)`` at
  ``x = 0``).

Both fits maximise the log-likelihood over the logarithms of the parameters (L-BFGS-B from
a fixed start, then Nelder-Mead when it did not converge); a fit that still does not
converge, or lands on parameters where the predictions are undefined (Gamma-Gamma needs
q > 1), raises ``FitError`` so the caller can fall back and say so.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize, special

#: BG/NBD parameters (r, alpha, a, b); Gamma-Gamma (p, q, gamma)
BGNBD_START = (0.5, 5.0, 1.0, 2.0)
GG_START = (2.0, 3.0, 10.0)
LOG_BOUNDS = (-9.0, 9.0)
DAYS_PER_WEEK = 7.0
MAX_FIT_CUSTOMERS = 10_000


class FitError(RuntimeError):
    """The maximum-likelihood fit did not converge to usable parameters."""


@dataclass(frozen=True)
class BgNbd:
    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float
    customers: int

    def p_alive(self, x, t_x, T) -> np.ndarray:
        """P(the customer is still alive at ``T``) given ``x`` repeat purchases, the last at
        ``t_x``: 1 for a customer without repeat purchases (the model lets a customer drop
        out only right after a purchase)."""
        x, t_x, T = _arrays(x, t_x, T)
        return 1.0 / (1.0 + self._odds_dead(x, t_x, T))

    def _odds_dead(self, x, t_x, T) -> np.ndarray:
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            odds = (a / (b + x - 1)) * np.exp((r + x) * (np.log(alpha + T)
                                                         - np.log(alpha + t_x)))
        return np.where(x > 0, odds, 0.0)

    def expected_purchases(self, t, x, t_x, T) -> np.ndarray:
        """Expected purchases in the next ``t`` (same unit as ``T``) of a customer with
        ``(x, t_x, T)`` (equation 10 of the paper)."""
        x, t_x, T = _arrays(x, t_x, T)
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        z = t / (alpha + T + t)
        hyper = special.hyp2f1(r + x, b + x, a + b + x - 1, z)
        numerator = 1.0 - np.exp((r + x) * np.log((alpha + T) / (alpha + T + t))) * hyper
        return (a + b + x - 1) / (a - 1) * numerator / (1.0 + self._odds_dead(x, t_x, T))

    def expected_population(self, t) -> np.ndarray:
        """E[X(t)]: expected purchases of a new customer in their first ``t`` after the
        first purchase."""
        t = np.asarray(t, dtype=float)
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        hyper = special.hyp2f1(r, b, a + b - 1, t / (alpha + t))
        return (a + b - 1) / (a - 1) * (1.0 - (alpha / (alpha + t)) ** r * hyper)


@dataclass(frozen=True)
class GammaGamma:
    p: float
    q: float
    gamma: float
    log_likelihood: float
    customers: int

    def expected_spend(self, x, mean_spend) -> np.ndarray:
        """Expected spend per purchase of a customer with ``x`` repeat purchases of mean
        ``mean_spend`` (the population mean where ``x`` is 0)."""
        x = np.asarray(x, dtype=float)
        mean_spend = np.nan_to_num(np.asarray(mean_spend, dtype=float))
        return (self.gamma + x * mean_spend) * self.p / (self.p * x + self.q - 1)

    @property
    def population_mean(self) -> float:
        return self.p * self.gamma / (self.q - 1)


def _arrays(*values):
    return tuple(np.asarray(value, dtype=float) for value in values)


# ----------------------------------------------------------------- likelihoods
def bgnbd_log_likelihood(params, x, t_x, T, weights=None) -> float:
    """Sum over customers of the BG/NBD log-likelihood (equation 6 of the paper)."""
    r, alpha, a, b = params
    x, t_x, T = _arrays(x, t_x, T)
    weights = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float)
    common = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
    beta_ab = special.betaln(a, b)
    alive = special.betaln(a, b + x) - beta_ab - (r + x) * np.log(alpha + T)
    with np.errstate(divide="ignore", invalid="ignore"):
        dead = np.where(x > 0, special.betaln(a + 1, np.maximum(b + x - 1, 1e-300)) - beta_ab
                        - (r + x) * np.log(alpha + t_x), -np.inf)
    return float(np.sum(weights * (common + np.logaddexp(alive, dead))))


def gamma_gamma_log_likelihood(params, x, mean_spend, weights=None) -> float:
    """Sum over customers (x ≥ 1, mean_spend > 0) of the Gamma-Gamma log-likelihood of the
    mean spend (up to a term free of the parameters)."""
    p, q, gamma = params
    x, m = _arrays(x, mean_spend)
    weights = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float)
    terms = (special.gammaln(p * x + q) - special.gammaln(p * x) - special.gammaln(q)
             + q * np.log(gamma) + (p * x - 1) * np.log(m) + p * x * np.log(x)
             - (p * x + q) * np.log(gamma + m * x))
    return float(np.sum(weights * terms))


def _maximise(log_likelihood, start) -> tuple[np.ndarray, float]:
    def objective(log_params):
        value = log_likelihood(np.exp(log_params))
        return -value if np.isfinite(value) else 1e300

    start = np.log(np.asarray(start, dtype=float))
    bounds = [LOG_BOUNDS] * len(start)
    result = optimize.minimize(objective, start, method="L-BFGS-B", bounds=bounds)
    if not result.success:
        result = optimize.minimize(objective, result.x, method="Nelder-Mead",
                                   options={"maxiter": 4000, "xatol": 1e-6, "fatol": 1e-8})
    at_bound = np.any(np.isclose(result.x, LOG_BOUNDS[0]) | np.isclose(result.x, LOG_BOUNDS[1]))
    if not result.success or not np.isfinite(result.fun) or result.fun >= 1e300 or at_bound:
        raise FitError("the maximum-likelihood fit did not converge"
                       + (" (a parameter ran to its bound)" if at_bound else ""))
    return np.exp(result.x), -float(result.fun)


def _compressed(*columns):
    """The distinct rows of ``columns`` and how many customers share each (the likelihood
    sums over customers; many share the same (x, t_x, T))."""
    frame = pd.DataFrame({str(i): np.asarray(c, dtype=float) for i, c in enumerate(columns)})
    counted = frame.groupby(list(frame.columns), sort=False).size().reset_index(name="n")
    return [counted[str(i)].to_numpy() for i in range(len(columns))], counted["n"].to_numpy()


def _sample(size: int, max_customers: int | None) -> np.ndarray | None:
    """Positions of a deterministic random sample of ``max_customers`` of ``size`` customers
    (None: all of them). Four parameters are well estimated from 10,000 customers (the
    CDNOW paper used 2,357); 50,000 would take five times as long for the same answer."""
    if max_customers is None or size <= max_customers:
        return None
    return np.sort(np.random.default_rng(0).choice(size, max_customers, replace=False))


def fit_bgnbd(x, t_x, T, max_customers: int | None = MAX_FIT_CUSTOMERS) -> BgNbd:
    """Maximum-likelihood BG/NBD on per-customer ``(x, t_x, T)`` (on a sample of
    ``max_customers`` when there are more)."""
    x, t_x, T = _arrays(x, t_x, T)
    if len(x) == 0:
        raise FitError("no customers to fit")
    chosen = _sample(len(x), max_customers)
    if chosen is not None:
        x, t_x, T = x[chosen], t_x[chosen], T[chosen]
    (cx, ct, cT), weights = _compressed(x, t_x, T)
    params, log_likelihood = _maximise(
        lambda p: bgnbd_log_likelihood(p, cx, ct, cT, weights), BGNBD_START)
    return BgNbd(*map(float, params), log_likelihood=log_likelihood, customers=len(x))


def fit_gamma_gamma(x, mean_spend, max_customers: int | None = MAX_FIT_CUSTOMERS,
                    ) -> GammaGamma:
    """Maximum-likelihood Gamma-Gamma on the customers with ``x ≥ 1`` and a positive mean
    spend (the others are left out; a sample of ``max_customers`` of them when more)."""
    x, m = _arrays(x, mean_spend)
    keep = (x >= 1) & (m > 0) & np.isfinite(m)
    chosen = _sample(int(keep.sum()), max_customers)
    if chosen is not None:
        x, m = x[keep][chosen], m[keep][chosen]
        keep = np.ones(len(x), dtype=bool)
    if keep.sum() < 2:
        raise FitError("fewer than two customers with a repeat purchase")
    params, log_likelihood = _maximise(
        lambda p: gamma_gamma_log_likelihood(p, x[keep], m[keep]), GG_START)
    if params[1] <= 1:
        raise FitError(f"the spend model's q = {params[1]:.2f} ≤ 1 (spend has no finite mean)")
    return GammaGamma(*map(float, params), log_likelihood=log_likelihood,
                      customers=int(keep.sum()))


# ----------------------------------------------------------------- from transactions
def rfm_summary(orders: pd.DataFrame, end, unit_days: float = DAYS_PER_WEEK) -> pd.DataFrame:
    """Per customer, from ``orders`` (``customer_id``, ``date``, ``value``) dated up to
    ``end`` (the last day observed, inclusive): several orders on one day are one purchase (their values summed); ``x`` =
    purchase days − 1, ``t_x`` / ``T`` = time from the first purchase day to the last one /
    to ``end``, in units of ``unit_days``; ``mean_spend`` = mean value of the repeat
    purchases (NaN when ``x`` = 0); ``first`` = the first purchase day. Indexed by
    customer_id."""
    end = pd.Timestamp(end)
    orders = orders[orders["date"] < end + pd.Timedelta(days=1)]
    days = (orders.assign(day=orders["date"].dt.normalize())
            .groupby(["customer_id", "day"], sort=True)["value"].sum().reset_index())
    grouped = days.groupby("customer_id", sort=True)
    first = grouped["day"].min()
    last = grouped["day"].max()
    total = grouped["value"].sum()
    first_value = grouped["value"].first()
    x = grouped.size() - 1
    summary = pd.DataFrame({
        "x": x.astype(float),
        "t_x": (last - first).dt.days / unit_days,
        "T": (end.normalize() - first).dt.days / unit_days,
        "mean_spend": ((total - first_value) / x.where(x > 0)).astype(float),
        "first": first})
    summary.index.name = "customer_id"
    return summary


def frequency_buckets(x, predicted, actual, top: int = 7) -> pd.DataFrame:
    """Hold-out check by calibration-period repeat purchases: ``bucket`` (0, 1, …,
    "``top``+"), ``customers``, ``predicted`` and ``actual`` mean repeat purchases."""
    x = np.asarray(x, dtype=float)
    labels = np.where(x >= top, f"{top}+", x.astype(int).astype(str))
    frame = pd.DataFrame({"bucket": labels, "order": np.minimum(x, top),
                          "predicted": np.asarray(predicted, dtype=float),
                          "actual": np.asarray(actual, dtype=float)})
    table = frame.groupby(["order", "bucket"], sort=True).agg(
        customers=("actual", "size"), predicted=("predicted", "mean"),
        actual=("actual", "mean")).reset_index().drop(columns="order")
    return table
