"""PDF and Excel reports of a set of filters under a data scope.

``render_report`` gathers the content once (``content.gather``: the same analytics
functions as the dashboard) and writes it with ``pdf.render_pdf`` or ``xlsx.render_xlsx``.
Workers call it for report jobs; the result summary goes into the Job row and the e-mail.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from analytics.errors import InvalidInput
from analytics.filters import Filters, Scope
from core.reports.content import ReportContent, gather

FORMATS = ("pdf", "xlsx")


class ReportError(InvalidInput):
    """The report cannot be made; the message says why."""


@dataclass(frozen=True)
class RenderedReport:
    path: Path
    format: str
    data_version: int
    content: ReportContent = field(repr=False)

    def summary(self) -> dict:
        """JSON-able description (stored as the job's result): title, format, file, bytes,
        period_label, filters_label, scope_label, data_version, headline [{name, label,
        value}], kpis (``KpiSummary.to_dict()``), forecast_note."""
        content = self.content
        return {
            "title": content.title, "format": self.format, "file": self.path.name,
            "bytes": self.path.stat().st_size, "period_label": content.period_label,
            "filters": content.filters.to_dict(), "filters_label": content.filters_label,
            "scope_label": content.scope_label, "data_version": self.data_version,
            "headline": content.headline(), "kpis": content.kpi_summary.to_dict(),
            "forecast_note": content.forecast.reason,
        }


def file_name(content: ReportContent, report_format: str) -> str:
    start, end = content.filters.start, content.filters.end
    return f"shoplens-report-{start:%Y%m%d}-{end:%Y%m%d}.{report_format}"


def render_report(warehouse, filters: Filters, scope: Scope, report_format: str,
                  folder: Path, *, currency: str = "£", title: str = "Shoplens report",
                  progress=None, forecast: bool = True,
                  now: dt.datetime | None = None,
                  app_database_url: str | None = None) -> RenderedReport:
    """Gather the report's content and write it into ``folder`` as PDF or Excel.
    ``progress(percent, message)`` hears 0–100; ``app_database_url`` adds the notes on the
    timeline (``content.gather``)."""
    report_format = str(report_format).lower()
    if report_format not in FORMATS:
        raise ReportError(f"report format must be pdf or xlsx, not {report_format!r}")
    report = progress or (lambda percent, message=None: None)

    def gathering(percent, message=None):
        report(percent * 0.8, message)

    content = gather(warehouse, filters, scope, currency=currency, title=title,
                     progress=gathering, forecast=forecast, now=now,
                     app_database_url=app_database_url)
    report(80, f"Writing the {report_format.upper()} file")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / file_name(content, report_format)
    if report_format == "pdf":
        from core.reports.pdf import render_pdf
        render_pdf(content, path)
    else:
        from core.reports.xlsx import render_xlsx
        render_xlsx(content, path)
    report(100, "Report ready")
    return RenderedReport(path=path, format=report_format, data_version=content.data_version,
                          content=content)
