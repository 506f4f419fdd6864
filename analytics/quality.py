"""The data-quality summary of the current data version, for the admin's data page and API.

It joins the report the loader wrote with the version (``version_info().quality``, built by
``data.quality.build_report``) with counts taken live from the facts in one SQL scan, so
the page is right even for a version whose load report is missing or older than the code.
The summary covers the whole version: it is not restricted by any user's data scope.
"""
from __future__ import annotations

import datetime as dt
import logging

import sqlalchemy as sa

from analytics import schema

log = logging.getLogger(__name__)


def quality_summary(warehouse, today: dt.date | None = None) -> dict:
    """The data-quality summary of the current version. Keys:

    * ``version``, ``source``, ``loaded_at`` (ISO text), ``report`` (the load's report as
      stored, ``{}`` when none);
    * live counts: ``lines``, ``sale_lines``, ``return_lines``,
      ``price_not_positive_lines`` (kept, counted in no metric), ``missing_customer_lines``,
      ``lines_without_country_code`` and ``countries_without_code`` (the country names as
      written whose ISO code is unknown, sorted);
    * ``first_date``, ``last_date`` (ISO dates of the first and last line, None without
      lines) and ``freshness_days`` (days from the last line to ``today``, default the
      current date; None without lines).
    """
    info = warehouse.version_info()
    lines = schema.fact_lines
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
    )
    codeless = (sa.select(lines.c.country).where(no_code).distinct()
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
        "report": info.quality or {},
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
