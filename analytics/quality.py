"""What the current data version holds and how good it is: the data-quality summary for
the admin's data page and API, the optional columns a version fills (``data_columns``) and
the sentences of a load's quality report (``quality_issues``).

It joins the report the loader wrote with the version (``version_info().quality``, built by
``data.quality.build_report``) with counts taken live from the facts in one SQL scan, so
the page is right even for a version whose load report is missing or older than the code.

Under a data scope (``scoped_summary``, or ``quality_summary(…, scope=…)``) every count is
taken over the scope's lines only and the load's report (the whole file's counts: lines
rejected, unknown countries) is left out: a scoped user sees nothing of the lines outside
the scope, not even how many there are.
"""
from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass

import sqlalchemy as sa

from analytics import catalog, period, schema
from analytics.filters import ALL_DATA, Filters, Scope, line_conditions
from analytics.warehouse import WarehouseError

log = logging.getLogger(__name__)

#: The breakdown dimensions a data file may leave out (``catalog.optional_dimensions``).
OPTIONAL_DIMENSIONS = tuple(d.name for d in catalog.optional_dimensions())


@dataclass(frozen=True)
class DataColumns:
    """Which optional columns a data version fills: ``missing`` holds the optional
    dimensions (``OPTIONAL_DIMENSIONS``) without a single value."""
    missing: frozenset[str] = frozenset()
    has_cost: bool = True
    has_sessions: bool = True


_data_columns: dict[tuple[str, int], DataColumns] = {}
_data_columns_lock = threading.Lock()


def data_columns(warehouse) -> DataColumns:
    """The optional columns of the current data version, worked out once per warehouse and
    version (a version never changes) with one query. Nothing counts as missing while no
    data is loaded or when the warehouse cannot answer (logged): the pages then show every
    control rather than hide one wrongly."""
    try:
        version = warehouse.current_version()
        if version is None:
            return DataColumns()
        key = (warehouse.url, version)
        known = _data_columns.get(key)
        if known is not None:
            return known
        info = period.version_info(warehouse, version)
        lines = schema.fact_lines
        counts = [sa.func.count(lines.c[catalog.dimension(name).column]).label(name)
                  for name in OPTIONAL_DIMENSIONS]
        with warehouse.connect(version) as conn:
            row = conn.execute(sa.select(*counts)).mappings().one()
    except WarehouseError as exc:
        log.warning("cannot tell which columns the data has: %s", exc)
        return DataColumns()
    found = DataColumns(missing=frozenset(name for name in OPTIONAL_DIMENSIONS if not row[name]),
                        has_cost=info.has_cost, has_sessions=info.has_sessions)
    with _data_columns_lock:
        _data_columns[key] = found
    return found


def quality_issues(report: dict) -> list[str]:
    """Sentences for the problems a load's data-quality report counted
    (``data.quality.build_report`` keys), its warnings first (what looked wrong for the
    mapping, with the fix), then what its order-level columns left out; empty when there
    were none."""
    issues = [f"Warning: {warning.get('message', '')}"
              + (f" Fix: {warning['fix']}" if warning.get("fix") else "")
              for warning in report.get("warnings") or ()]
    for label, counts in ((report.get("orders") or {}).get("excluded") or {}).items():
        issues.append(f"{counts.get('orders', 0):,} orders ({counts.get('lines', 0):,} lines) "
                      f"left out: {label}")
    checks = (("lines_rejected", "lines rejected"),
              ("price_not_positive_lines", "lines with a price of 0 or less (left out of totals)"),
              ("missing_customer_lines", "lines without a customer id"))
    for key, text in checks:
        count = report.get(key) or 0
        if count:
            issues.append(f"{count:,} {text}")
    unknown = report.get("unknown_countries") or {}
    if unknown:
        issues.append(f"{len(unknown)} unrecognised countr{'y' if len(unknown) == 1 else 'ies'}")
    return issues


def quality_summary(warehouse, today: dt.date | None = None, *,
                    scope: Scope = ALL_DATA) -> dict:
    """The data-quality summary of the current version under ``scope`` (default all
    data). Keys:

    * ``version``, ``source``, ``loaded_at`` (ISO text), ``scope`` (its text: "all data" or
      the codes), ``report`` (the load's report as stored, ``{}`` when none, and always
      ``{}`` under a scope: it counts the whole file);
    * live counts: ``lines``, ``sale_lines``, ``return_lines``,
      ``price_not_positive_lines`` (kept, counted in no metric), ``missing_customer_lines``,
      ``lines_without_country_code`` and ``countries_without_code`` (the country names as
      written whose ISO code is unknown, sorted);
    * ``first_date``, ``last_date`` (ISO dates of the first and last line, None without
      lines) and ``freshness_days`` (days from the last line to ``today``, default the
      current date; None without lines).

    Under a scope every count, date and country is the scope's lines'.
    """
    info = warehouse.version_info()
    lines = schema.fact_lines
    in_scope = line_conditions(Filters(), scope, lines, dates=False)
    price_not_positive = lines.c.unit_price <= 0
    no_code = lines.c.country_code.is_(None)
    counts = sa.select(
        sa.func.count().label("lines"),
        sa.func.count().filter(lines.c.is_sale).label("sale_lines"),
        sa.func.count().filter(lines.c.is_return).label("return_lines"),
        sa.func.count().filter(price_not_positive).label("price_not_positive_lines"),
        sa.func.count().filter(lines.c.customer_id.is_(None)).label("missing_customer_lines"),
        sa.func.count().filter(no_code).label("lines_without_country_code"),
        sa.func.min(lines.c.invoice_date).label("first_date"),
        sa.func.max(lines.c.invoice_date).label("last_date"),
    ).where(*in_scope)
    codeless = (sa.select(lines.c.country).where(no_code, *in_scope).distinct()
                .order_by(lines.c.country))
    with warehouse.connect(info.version) as conn:
        row = conn.execute(counts).mappings().one()
        countries = [str(name) for name in conn.execute(codeless).scalars()]
    first_date, last_date = row["first_date"], row["last_date"]
    today = today or dt.date.today()
    return {
        "version": info.version,
        "source": info.source,
        "loaded_at": info.created_at.isoformat(sep=" ") if info.created_at else None,
        "scope": str(scope),
        "report": (info.quality or {}) if scope.is_all else {},
        "lines": int(row["lines"]),
        "sale_lines": int(row["sale_lines"]),
        "return_lines": int(row["return_lines"]),
        "price_not_positive_lines": int(row["price_not_positive_lines"]),
        "missing_customer_lines": int(row["missing_customer_lines"]),
        "lines_without_country_code": int(row["lines_without_country_code"]),
        "countries_without_code": countries,
        "first_date": first_date.isoformat() if first_date else None,
        "last_date": last_date.isoformat() if last_date else None,
        "freshness_days": (today - last_date).days if last_date else None,
    }


def scoped_summary(warehouse, filters: Filters, scope: Scope) -> dict:
    """``quality_summary`` under ``scope`` in the shape of an analytics function, for the
    analytics cache (the period of ``filters`` plays no part: the summary covers the
    version's lines in the scope). ``freshness_days`` counts from today."""
    return quality_summary(warehouse, scope=scope)


def summary_issues(summary: dict) -> list[str]:
    """The sentences of ``quality_issues`` for a ``quality_summary``: the load's report
    for all data, the scope's own counts under a scope (the report counts the whole
    file)."""
    return quality_issues(summary["report"] if summary.get("scope") == str(ALL_DATA)
                          else summary)
