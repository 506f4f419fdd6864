"""Synthetic shop data with planted structure, made with fixed seeds for the model tests."""
from __future__ import annotations

import numpy as np
import pandas as pd

from analytics import schema

COUNTRIES = {"United Kingdom": "GB", "France": "FR", "Germany": "DE"}
CATEGORIES = ("Home", "Toys", "Garden")


def seasonal_series(days: int = 900, seed: int = 0, start: str = "2021-01-01") -> pd.DataFrame:
    """Daily values with a planted weekly pattern (weekends ×0.6) and a yearly sine
    (±30 %), noise σ = 5 % of the level. Columns ``date``, ``value``."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range(start, periods=days, freq="D")
    weekly = np.where(dates.day_of_week >= 5, 0.6, 1.0)
    yearly = 1 + 0.3 * np.sin(2 * np.pi * dates.day_of_year / 365.25)
    level = 1000 * weekly * yearly
    return pd.DataFrame({"date": dates, "value": level + rng.normal(0, 50, days)})


def shop_lines(days: int = 400, seed: int = 0, start: str = "2022-01-03",
               spike_day: str | None = "2022-09-14", spike_country: str = "France",
               customers: int = 300) -> pd.DataFrame:
    """A line-item frame: ~30 orders a day (18 at weekends) from ``customers`` customers
    (each active between a first and a last day) in 3 countries, 3 categories, 2 channels
    and 20 products (P00…P19). Planted:

    * P01 joins 60 % of the invoices holding P00 and no other (a rule P00 → P01);
    * on ``spike_day``, ``spike_country`` gets 60 extra one-product orders of products drawn
      like any other (an anomaly that only the country explains).
    """
    rng = np.random.default_rng(seed)
    dates = pd.date_range(start, periods=days, freq="D")
    country_names = np.array(list(COUNTRIES))
    customer_country = rng.choice(country_names, size=customers, p=[0.6, 0.25, 0.15])
    orders_per_day = rng.poisson(np.where(dates.day_of_week >= 5, 18, 30))
    invoice_day = np.repeat(dates.to_numpy(), orders_per_day)
    # each customer buys between a first and a last day (lifetime ~ exponential, 250 days)
    first_day = rng.integers(0, int(days * 0.6), size=customers)
    last_day = first_day + rng.exponential(250, size=customers).astype(int) + 30
    day_number = np.repeat(np.arange(days), orders_per_day)
    invoice_customer = rng.integers(customers, size=len(invoice_day))
    for _ in range(100):
        inactive = (day_number < first_day[invoice_customer]) | \
            (day_number > last_day[invoice_customer])
        if not inactive.any():
            break
        invoice_customer[inactive] = rng.integers(customers, size=int(inactive.sum()))
    invoice_channel = np.where(rng.random(len(invoice_day)) < 0.7, "web", "store")
    # products P02…P19 fill 1–3 slots; P00 in 15 % of invoices, P01 follows it 60 % of the time
    sizes = rng.integers(1, 4, size=len(invoice_day))
    invoice_of_line = np.repeat(np.arange(len(invoice_day)), sizes)
    slot_products = rng.integers(2, 20, size=len(invoice_of_line))
    has_p00 = rng.random(len(invoice_day)) < 0.15
    has_p01 = has_p00 & (rng.random(len(invoice_day)) < 0.6)
    line_invoice = np.concatenate([invoice_of_line, np.flatnonzero(has_p00),
                                   np.flatnonzero(has_p01)])
    line_product = np.concatenate([slot_products, np.zeros(has_p00.sum(), int),
                                   np.ones(has_p01.sum(), int)])
    if spike_day is not None:
        spike_customers = np.flatnonzero(customer_country == spike_country)
        extra = 60
        invoice_day = np.concatenate([invoice_day, np.repeat(np.datetime64(spike_day), extra)
                                      .astype(invoice_day.dtype)])
        invoice_customer = np.concatenate([invoice_customer,
                                           rng.choice(spike_customers, size=extra)])
        invoice_channel = np.concatenate([invoice_channel, np.where(
            rng.random(extra) < 0.7, "web", "store")])
        first_extra = len(invoice_day) - extra
        line_invoice = np.concatenate([line_invoice, np.arange(first_extra, len(invoice_day))])
        line_product = np.concatenate([line_product, rng.integers(2, 20, size=extra)])
    hours = rng.integers(8, 20, size=len(invoice_day))
    timestamps = pd.to_datetime(invoice_day) + pd.to_timedelta(hours, unit="h")
    frame = pd.DataFrame({
        "invoice_id": (100000 + line_invoice).astype(str),
        "invoice_ts": timestamps[line_invoice],
        "customer_id": [f"C{number:04d}" for number in invoice_customer[line_invoice]],
        "product_id": [f"P{number:02d}" for number in line_product],
        "description": [f"Item P{number:02d}" for number in line_product],
        "quantity": rng.integers(1, 5, size=len(line_invoice)).astype(float),
        "unit_price": (2 + line_product % 7).astype(float),
        "country": customer_country[invoice_customer[line_invoice]],
        "category": np.array(CATEGORIES)[line_product % 3],
        "channel": invoice_channel[line_invoice],
    })
    frame = frame.drop_duplicates(["invoice_id", "product_id"]).sort_values(
        ["invoice_ts", "invoice_id", "product_id"], ignore_index=True)
    frame["country_code"] = frame["country"].map(COUNTRIES)
    frame["is_cancellation"] = False
    for column in schema.LINE_COLUMNS:
        if column not in frame:
            frame[column] = None
    return frame[list(schema.LINE_COLUMNS)]


def churn_invoices(customers: int = 600, seed: int = 0, end_day: int = 540) -> pd.DataFrame:
    """Invoice history (``inputs.customer_invoices`` columns) with a planted churn signal:
    half the customers are *returners* (each order followed by a return of 40 % of it) and
    stop buying on a uniform day in [300, 640] (around the usual cutoffs, so recency alone
    cannot tell who is about to leave); the others stop (same way) with 5 % chance.
    Day 0 is 2022-01-01; no invoice is dated on or after ``end_day``."""
    rng = np.random.default_rng(seed)
    origin = pd.Timestamp("2022-01-01")
    rows = []
    for customer in range(customers):
        start = int(rng.integers(0, 200))
        gap = int(rng.integers(7, 61))
        returner = customer % 2 == 0
        leaves = returner or rng.random() < 0.05
        stop = int(rng.integers(300, 640)) if leaves else 10_000
        country = "France" if customer % 3 == 0 else "United Kingdom"
        for number, day in enumerate(range(start, min(stop, end_day), gap)):
            value = float(rng.uniform(20, 200))
            rows.append((f"C{customer:04d}", f"I{customer:04d}-{number}",
                         origin + pd.Timedelta(days=day), country, value, value, 0.0, 3.0,
                         True))
            if returner:
                back = 0.4 * value
                rows.append((f"C{customer:04d}", f"R{customer:04d}-{number}",
                             origin + pd.Timedelta(days=day), country, -back, 0.0, back, 0.0,
                             False))
    frame = pd.DataFrame.from_records(rows, columns=[
        "customer_id", "invoice_id", "date", "country", "net_value", "gross_value",
        "returns_value", "units", "is_order"])
    return frame.sort_values(["customer_id", "date", "invoice_id"], ignore_index=True)
