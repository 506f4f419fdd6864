"""The runners of the jobs schedules make (``core.job_kinds``: ``scheduled_report`` and
``digest``), called as ``runner(settings, spec)`` by ``workers.handlers.run_job``.

``run_scheduled_report`` gathers the report's content once and writes the PDF, the Excel
file or both into the job's folder; with both, ``result["attachments"]`` lists the two
files (the delivery attaches every one; ``result_path``, the download, is the PDF).
``run_digest_job`` computes the weekly digest (``core.digest``) and stores the finished
e-mail in ``result["email"]``, which the delivery sends as it is.
"""
from __future__ import annotations

from core import jobs
from core.jobs import JobSpec
from core.settings import Settings
from workers.handlers import progress_reporter, warehouse_for


def run_scheduled_report(settings: Settings, spec: JobSpec) -> dict:
    from core.reports import RenderedReport, file_name
    from core.reports.content import gather
    from core.reports.pdf import render_pdf
    from core.reports.xlsx import render_xlsx

    chosen = spec.options.get("format") or "pdf"
    formats = ("pdf", "xlsx") if chosen == "both" else (chosen,)
    progress = progress_reporter(settings, spec.id, 0, 99)
    folder = jobs.job_folder(settings, spec.id)
    content = gather(warehouse_for(settings), spec.filters, spec.scope,
                     currency=settings.currency,
                     title=spec.options.get("title") or "Shoplens report",
                     progress=lambda percent, message=None: progress(percent * 0.8, message),
                     app_database_url=settings.database_url)
    renderers = {"pdf": render_pdf, "xlsx": render_xlsx}
    rendered = []
    for number, report_format in enumerate(formats):
        progress(80 + 20 * number / len(formats), f"Writing the {report_format.upper()} file")
        path = folder / file_name(content, report_format)
        renderers[report_format](content, path)
        rendered.append(RenderedReport(path=path, format=report_format,
                                       data_version=content.data_version, content=content))
    result = rendered[0].summary()
    if len(rendered) > 1:
        result["format"] = chosen
        result["attachments"] = [str(report.path) for report in rendered]
        result["files"] = [report.path.name for report in rendered]
    label = " and ".join(report_format.upper() for report_format in formats)
    return {"result": result, "path": rendered[0].path, "data_version": content.data_version,
            "message": f"{label} report ready"}


def run_digest_job(settings: Settings, spec: JobSpec) -> dict:
    from core.digest import digest_email, gather_digest

    progress = progress_reporter(settings, spec.id, 0, 99)
    progress(0, "Reading the week")
    folder = jobs.job_folder(settings, spec.id)
    digest = gather_digest(warehouse_for(settings), spec.filters, spec.scope,
                           currency=settings.currency,
                           title=spec.options.get("title") or "Weekly digest")
    progress(90, "Writing the e-mail")
    return {"result": {**digest.to_dict(), "email": digest_email(digest, folder)},
            "data_version": digest.data_version, "message": "Weekly digest ready"}
