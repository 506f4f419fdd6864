"""Plausibility of loaded lines: values a file can hold but no shop can mean.

A reader accepts any number and any date it can parse: ``inf``, ``1e308``, 0001-01-01 and
9999-12-31 are all readable. One such line would turn every total of its period into
infinity (answers that are not JSON), break the date arithmetic of the views (the day
after 9999-12-31) and move every user's default period (the last 30 days of the data) to
December 9999. So before a load publishes, ``check_plausibility`` moves every line that
is not plausible from the line-item frame to the rejects, with its reason:

* quantity, unit price and unit cost must be finite numbers (a missing unit cost is fine:
  the column is optional);
* |quantity| ≤ ``Limits.max_quantity``, |unit price| ≤ ``Limits.max_unit_price``,
  |unit cost| ≤ ``Limits.max_unit_cost``;
* the invoice date lies in ``Limits.first_day`` … ``Limits.last_day`` (default one year
  after today).

The limits are settings (``core.settings``: ``PLAUSIBLE_*``); their defaults are
``Limits()``'s. Rejected lines go into the rejects CSV with their ``source_row`` (empty when
the reader did not give it), the reason, and the line's values as read, under our field
names (``invoice_id``, ``invoice_ts``, ``quantity``…); the quality report counts them by
reason like every other reject.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from analytics import schema
from analytics.period import plus_years

#: Numeric columns of the line-item frame that are checked, with the label a reason uses.
CHECKED_NUMBERS = {"quantity": "quantity", "unit_price": "unit price", "unit_cost": "unit cost"}


@dataclass(frozen=True)
class Limits:
    """The bounds of a plausible line. ``last_day`` None means one year after today (the
    day of the load)."""
    max_quantity: float = 1e7
    max_unit_price: float = 1e9
    max_unit_cost: float = 1e9
    first_day: dt.date = dt.date(1990, 1, 1)
    last_day: dt.date | None = None

    def latest_day(self, today: dt.date | None = None) -> dt.date:
        """The last plausible invoice day: ``last_day``, or one year after ``today``."""
        if self.last_day is not None:
            return self.last_day
        return plus_years(today or dt.date.today())

    def bound(self, column: str) -> float:
        return {"quantity": self.max_quantity, "unit_price": self.max_unit_price,
                "unit_cost": self.max_unit_cost}[column]


def not_finite_reason(column: str) -> str:
    return f"{CHECKED_NUMBERS[column]} is not a finite number"


def out_of_range_reason(column: str, limits: Limits) -> str:
    return f"{CHECKED_NUMBERS[column]} beyond ±{limits.bound(column):,.0f}"


def date_reason(limits: Limits, today: dt.date | None = None) -> str:
    return (f"date outside {limits.first_day.isoformat()} … "
            f"{limits.latest_day(today).isoformat()}")


def implausible_reasons(lines: pd.DataFrame, limits: Limits | None = None, *,
                        today: dt.date | None = None) -> np.ndarray:
    """The first reason each line of a line-item frame is implausible ("" for a plausible
    line), as an array of text aligned with ``lines``'s rows. Vectorised: no per-row
    Python."""
    limits = limits or Limits()
    checks: list[tuple[np.ndarray, str]] = []
    for column in CHECKED_NUMBERS:
        if column not in lines.columns:
            continue
        values = pd.to_numeric(lines[column], errors="coerce").to_numpy(dtype="float64",
                                                                         na_value=np.nan)
        missing = np.isnan(values)
        # a missing unit cost is an optional column left empty, not a bad number
        not_finite = ~np.isfinite(values) & (~missing if column == "unit_cost" else True)
        checks.append((not_finite, not_finite_reason(column)))
        with np.errstate(invalid="ignore"):
            too_large = np.isfinite(values) & (np.abs(values) > limits.bound(column))
        checks.append((too_large, out_of_range_reason(column, limits)))
    stamps = pd.to_datetime(lines["invoice_ts"]).astype("datetime64[us]")
    first = pd.Timestamp(limits.first_day)
    after_last = pd.Timestamp(limits.latest_day(today) + dt.timedelta(days=1))
    outside = (stamps.notna() & ((stamps < first) | (stamps >= after_last))).to_numpy()
    checks.append((outside, date_reason(limits, today)))
    if not len(lines):
        return np.array([], dtype=object)
    return np.select([mask for mask, _ in checks], [reason for _, reason in checks],
                     default="").astype(object)


def check_plausibility(read, limits: Limits | None = None, *,
                       today: dt.date | None = None):
    """``read`` (a ``data.readers.ReadResult``) with its implausible lines moved from
    ``lines`` to ``rejects`` (reason, and the line's values under our field names), and a
    note naming the limits. ``lines_read`` is unchanged: a rejected line was read."""
    limits = limits or Limits()
    reasons = implausible_reasons(read.lines, limits, today=today)
    note = (f"plausible lines: |quantity| ≤ {limits.max_quantity:,.0f}, |unit price| ≤ "
            f"{limits.max_unit_price:,.0f}, |unit cost| ≤ {limits.max_unit_cost:,.0f}, "
            f"dates {limits.first_day.isoformat()} … {limits.latest_day(today).isoformat()}")
    implausible = reasons != ""
    if not implausible.any():
        return replace(read, notes=[*read.notes, note])
    bad = read.lines.loc[implausible]
    rows = getattr(read, "line_rows", None)
    known_rows = rows is not None and len(rows) == len(read.lines)
    columns = [c for c in schema.LINE_COLUMNS if c in bad.columns]
    rejected = pd.concat([
        pd.DataFrame({"source_row": rows[implausible] if known_rows
                      else pd.Series([""] * len(bad), dtype=object),
                      "reject_reason": reasons[implausible]}),
        bad[columns].astype(object).reset_index(drop=True)], axis=1)
    rejects = rejected
    if len(read.rejects):
        rejects = pd.concat([read.rejects, rejected], ignore_index=True)
        if known_rows:
            rejects = rejects.sort_values("source_row", kind="stable", ignore_index=True)
    return replace(read, lines=read.lines.loc[~implausible].reset_index(drop=True),
                   rejects=rejects.fillna(""), notes=[*read.notes, note],
                   **({"line_rows": rows[~implausible]} if known_rows else {}))
