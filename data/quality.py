"""The data-quality report of a load: a JSON-able dict, and a readable text rendering.

Money follows METRICS.md: a sale line has quantity > 0, is not on a cancellation invoice and
has unit price > 0; a return line has (quantity < 0 or a cancellation invoice) and unit
price > 0; lines with unit price ≤ 0 are kept but counted in no total.

Exact duplicate lines (every column equal to an earlier line's) are KEPT in the table: in
Online Retail they are real repeated scans of the same item on one invoice, so dropping them
would change revenue. The report counts them so that nobody is surprised.
"""
from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from analytics import schema
from analytics.countries import CountryNormalisation, normalise_countries

DUPLICATES_NOTE = ("exact duplicate lines are kept in the table (real repeated lines in "
                   "exports such as Online Retail) and only counted here")


def build_report(lines: pd.DataFrame, *, rejects: pd.DataFrame | None = None,
                 lines_read: int | None = None,
                 countries: CountryNormalisation | None = None, source: str = "",
                 format: str = "", notes: Iterable[str] = (),
                 warnings: Iterable[dict] = (), orders: dict | None = None) -> dict:
    """The report of one load, computed on the line-item frame that will be published.

    Keys: source, format, lines_read, lines_loaded, lines_rejected, rejected_by_reason
    {reason: lines}, exact_duplicate_lines, cancellations {invoices, lines},
    price_not_positive_lines, missing_customer_lines, unknown_countries {name: lines},
    countries_without_code {name: {lines, reason}}, date_range {first, last} (ISO text or
    None), totals {gross_sales, returns, net_revenue, invoices, orders, customers,
    customers_with_sale, products, countries, cost, profit, lines_without_cost}, notes
    [text], warnings [{code, message, lines, rows, fix}] (data.diagnostics), orders {…}
    (what order-level columns gave: readers).

    The profit check (cost, profit, lines_without_cost) follows METRICS.md: cost = Σ
    quantity × unit cost over sale and return lines, profit = net revenue − cost, a line
    without a unit cost counting as 0 (lines_without_cost says how many); all three are
    None when no line has a unit cost. A user compares it with the shop's own figure.
    """
    rejects = rejects if rejects is not None else pd.DataFrame({"reject_reason": []})
    loaded = len(lines)
    if countries is None:
        countries = normalise_countries(lines["country"].dropna().unique().tolist())
    quantity = lines["quantity"]
    price = lines["unit_price"]
    cancelled = lines["is_cancellation"].astype(bool)
    value = quantity * price
    sale = (quantity > 0) & ~cancelled & (price > 0)
    returned = ((quantity < 0) | cancelled) & (price > 0)
    gross_sales = float(value[sale].sum())
    returns = 0.0 - float(value[returned].sum())  # never -0.00
    net_revenue = round(gross_sales - returns, 2)
    profit_check = _profit_check(lines, sale | returned, net_revenue)
    country_lines = lines["country"].value_counts()
    columns = [c for c in schema.LINE_COLUMNS if c in lines.columns]
    stamps = lines["invoice_ts"].dropna()
    return {
        "source": source,
        "format": format,
        "lines_read": int(lines_read if lines_read is not None else loaded + len(rejects)),
        "lines_loaded": int(loaded),
        "lines_rejected": int(len(rejects)),
        "rejected_by_reason": {str(reason): int(count) for reason, count
                               in rejects["reject_reason"].value_counts().items()},
        "exact_duplicate_lines": int(lines.duplicated(subset=columns).sum()),
        "cancellations": {
            "invoices": int(lines.loc[cancelled, "invoice_id"].nunique()),
            "lines": int(cancelled.sum()),
        },
        "price_not_positive_lines": int((price <= 0).sum()),
        "missing_customer_lines": int(lines["customer_id"].isna().sum()),
        "unknown_countries": {name: int(country_lines.get(name, 0))
                              for name in countries.unknown},
        "countries_without_code": {name: {"lines": int(country_lines.get(name, 0)),
                                          "reason": reason}
                                   for name, reason in sorted(countries.codeless.items())},
        "date_range": {
            "first": stamps.min().isoformat(sep=" ") if len(stamps) else None,
            "last": stamps.max().isoformat(sep=" ") if len(stamps) else None,
        },
        "totals": {
            "gross_sales": round(gross_sales, 2),
            "returns": round(returns, 2),
            "net_revenue": net_revenue,
            "invoices": int(lines["invoice_id"].nunique()),
            "orders": int(lines.loc[sale, "invoice_id"].nunique()),
            "customers": int(lines["customer_id"].nunique()),
            "customers_with_sale": int(lines.loc[sale, "customer_id"].nunique()),
            "products": int(lines["product_id"].nunique()),
            "countries": int(lines["country"].nunique()),
            **profit_check,
        },
        "notes": [*notes, DUPLICATES_NOTE],
        "warnings": [dict(warning) for warning in warnings],
        "orders": dict(orders or {}),
    }


def _profit_check(lines: pd.DataFrame, counted: pd.Series, net_revenue: float) -> dict:
    """{cost, profit, lines_without_cost} of the counted (sale and return) lines; None each
    when no line has a unit cost."""
    unit_cost = lines["unit_cost"] if "unit_cost" in lines.columns else None
    if unit_cost is None or not unit_cost.notna().any():
        return {"cost": None, "profit": None, "lines_without_cost": None}
    cost = round(float((lines["quantity"] * unit_cost)[counted].sum()), 2)
    return {"cost": cost, "profit": round(net_revenue - cost, 2),
            "lines_without_cost": int((counted & unit_cost.isna()).sum())}


#: The signs that show a currency, to check the CURRENCY setting against a file's currency.
CURRENCY_SIGNS = {"GBP": ("£",), "EUR": ("€",), "USD": ("$", "US$"), "CAD": ("$", "C$", "CA$"),
                  "AUD": ("$", "A$", "AU$"), "NZD": ("$", "NZ$"), "JPY": ("¥", "円"),
                  "CNY": ("¥", "元"), "INR": ("₹",), "CHF": ("Fr.", "CHF"), "SEK": ("kr",),
                  "NOK": ("kr",), "DKK": ("kr",), "PLN": ("zł",), "BRL": ("R$",),
                  "KRW": ("₩",), "TRY": ("₺",), "ZAR": ("R",), "MXN": ("$", "MX$")}


def currency_warning(code: str | None, shown: str | None) -> dict | None:
    """A report warning when the file's currency (``code``, e.g. "EUR") is not the one the
    installation was set to (``shown``: an admin's setting or CURRENCY, e.g. "£" or "GBP"):
    the file's own is shown (core.installation), and the setting should be corrected."""
    if not code or not shown:
        return None
    code, shown = code.strip().upper(), shown.strip()
    if shown.upper() == code or shown in CURRENCY_SIGNS.get(code, ()):
        return None
    sign = CURRENCY_SIGNS.get(code, (code,))[0]
    return {"code": "currency_setting",
            "message": (f"The file's amounts are in {code}, but the currency setting is "
                        f"{shown!r}: amounts are shown in {code}, as the file states"),
            "lines": 0, "rows": [],
            "fix": (f"set the currency to {code} (Admin → Settings, or CURRENCY={sign}), "
                    f"or load a file in {shown}")}


def render_report(report: dict, currency: str = "£") -> str:
    """The report as readable text (the CLI prints it; the web page shows it). Warnings
    (data.diagnostics) come first, each with its fix; the ``orders`` section prints every
    key it holds, so that a reader adding one needs no change here."""
    totals = report["totals"]
    code = (report.get("orders") or {}).get("currency")
    if code and currency_warning(code, currency):
        currency = f"{code} "  # the file's own currency, not the setting's sign
    out = [f"Data-quality report: {report.get('source') or 'load'}"
           + (f" ({report['format']})" if report.get("format") else "")]
    for warning in report.get("warnings", []):
        out.extend(_render_warning(warning))
    out.append(f"  lines read      {report['lines_read']:>12,}")
    out.append(f"  lines loaded    {report['lines_loaded']:>12,}")
    out.append(f"  lines rejected  {report['lines_rejected']:>12,}")
    for reason, count in report["rejected_by_reason"].items():
        out.append(f"    {reason:<30} {count:>10,}")
    if "append" in report:
        append = report["append"]
        out.append(f"  appended        {append['lines_added']:>12,} new lines "
                   f"({append['lines_already_present']:,} already present; "
                   f"{append['lines_in_version']:,} lines in the new version)")
    out.append(f"  exact duplicate lines      {report['exact_duplicate_lines']:>10,}  (kept)")
    cancellations = report["cancellations"]
    out.append(f"  cancellations   {cancellations['lines']:>12,} lines on "
               f"{cancellations['invoices']:,} invoices")
    out.append(f"  price ≤ 0       {report['price_not_positive_lines']:>12,} lines "
               "(kept, excluded from every metric)")
    out.append(f"  missing customer{report['missing_customer_lines']:>12,} lines")
    for name, info in report["countries_without_code"].items():
        out.append(f"  no country code: {name!r} ({info['lines']:,} lines): {info['reason']}")
    for name, count in report["unknown_countries"].items():
        out.append(f"  UNKNOWN country: {name!r} ({count:,} lines): no code assigned")
    dates = report["date_range"]
    out.append(f"  date range      {dates['first']} → {dates['last']}")
    out.append(f"  gross sales     {currency}{totals['gross_sales']:>15,.2f}")
    out.append(f"  returns         {currency}{totals['returns']:>15,.2f}")
    out.append(f"  net revenue     {currency}{totals['net_revenue']:>15,.2f}")
    if totals.get("cost") is not None:
        out.append(f"  cost            {currency}{totals['cost']:>15,.2f}")
        margin = (f"  (margin {totals['profit'] / totals['net_revenue']:.1%})"
                  if totals["net_revenue"] else "")
        out.append(f"  profit          {currency}{totals['profit']:>15,.2f}{margin}"
                   "  compare with your shop's own figure")
        if totals.get("lines_without_cost"):
            out.append(f"    {totals['lines_without_cost']:,} sale or return lines have no "
                       "unit cost (counted as 0)")
    out.append(f"  invoices {totals['invoices']:,} (orders {totals['orders']:,}), customers "
               f"{totals.get('customers_with_sale', totals['customers']):,} with a sale, "
               f"products {totals['products']:,}, countries {totals['countries']:,}")
    if report.get("orders"):
        out.append("  orders (order-level columns):")
        for key, value in report["orders"].items():
            out.extend(_render_item(key, value, "    ", currency))
    for note in report.get("notes", []):
        out.append(f"  note: {note}")
    return "\n".join(out)


def _render_warning(warning: dict) -> list[str]:
    rows = warning.get("rows") or []
    count = int(warning.get("lines", 0))
    where = f", e.g. row{'s' * (len(rows) > 1)} {', '.join(f'{row:,}' for row in rows)}" \
        if rows else ""
    counted = f" ({count:,} line{'s' * (count != 1)}{where})" if count else ""
    lines = [f"  WARNING {warning.get('message', '')}{counted}"]
    if warning.get("fix"):
        lines.append(f"    fix: {warning['fix']}")
    return lines


def _render_item(key, value, indent: str, currency: str) -> list[str]:
    """One key of the ``orders`` section: "label: value", a dict of numbers on one line
    ("orders 3, lines 5"), a dict of dicts as one line per key."""
    label = str(key).replace("_", " ")
    if isinstance(value, dict):
        if all(not isinstance(item, (dict, list)) for item in value.values()):
            return [f"{indent}{label}: " + (", ".join(
                f"{str(name).replace('_', ' ')} {_render_scalar(name, item, currency)}"
                for name, item in value.items()) or "none")]
        out = [f"{indent}{label}:"]
        for name, item in value.items():
            out.extend(_render_item(name, item, indent + "  ", currency))
        return out
    if isinstance(value, (list, tuple)):
        return [f"{indent}{label}: " + (", ".join(
            _render_scalar(key, item, currency) for item in value) or "none")]
    return [f"{indent}{label}: {_render_scalar(key, value, currency)}"]


def _render_scalar(key, value, currency: str) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        money = any(word in str(key) for word in ("amount", "value", "total", "revenue"))
        return f"{currency if money else ''}{value:,.2f}"
    if isinstance(value, dict):
        return ", ".join(f"{name} {_render_scalar(name, item, currency)}"
                         for name, item in value.items())
    return str(value)
