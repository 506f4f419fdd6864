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
    customers_with_sale, products, countries}, notes [text], warnings [{code, message,
    lines, fix}] (data.diagnostics), orders {…} (what order-level columns gave: readers).
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
    returns = -float(value[returned].sum())
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
            "net_revenue": round(gross_sales - returns, 2),
            "invoices": int(lines["invoice_id"].nunique()),
            "orders": int(lines.loc[sale, "invoice_id"].nunique()),
            "customers": int(lines["customer_id"].nunique()),
            "customers_with_sale": int(lines.loc[sale, "customer_id"].nunique()),
            "products": int(lines["product_id"].nunique()),
            "countries": int(lines["country"].nunique()),
        },
        "notes": [*notes, DUPLICATES_NOTE],
        "warnings": [dict(warning) for warning in warnings],
        "orders": dict(orders or {}),
    }


def render_report(report: dict, currency: str = "£") -> str:
    """The report as readable text (the CLI prints it; the web page shows it)."""
    totals = report["totals"]
    out = [f"Data-quality report: {report.get('source') or 'load'}"
           + (f" ({report['format']})" if report.get("format") else "")]
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
    out.append(f"  invoices {totals['invoices']:,} (orders {totals['orders']:,}), customers "
               f"{totals['customers']:,}, products {totals['products']:,}, countries "
               f"{totals['countries']:,}")
    for note in report.get("notes", []):
        out.append(f"  note: {note}")
    return "\n".join(out)
