"""The runners of the jobs schedules make (``core.job_kinds``: ``scheduled_report``,
``digest`` and ``dashboard_report``), called as ``runner(settings, spec)`` by
``workers.handlers.run_job``.

``run_scheduled_report`` gathers the report's content once and writes the PDF, the Excel
file or both into the job's folder; with both, ``result["attachments"]`` lists the two
files (the delivery attaches every one; ``result_path``, the download, is the PDF).
``run_digest_job`` computes the weekly digest (``core.digest``) and stores the finished
e-mail in ``result["email"]``, which the delivery sends as it is.
``run_dashboard_report`` prints a dashboard (``core.dashboard_content``) for the job's user
under the job's scope, after checking they (and, for a schedule, its owner) may still open
it: a dashboard deleted or unshared since fails the run with the reason.
"""
from __future__ import annotations

from analytics import period
from analytics.filters import Filters
from core import dashboards, db, installation, jobs, views
from core.jobs import JobSpec
from core.orm import Dashboard, ReportSchedule, User
from core.settings import Settings
from workers.handlers import progress_reporter, warehouse_for


def run_filters(settings: Settings, spec: JobSpec) -> Filters:
    """The run's filters: the job's own, or, for a schedule that follows a saved view, the
    view's as they are now (a relative period's dates computed at this run), read for the
    schedule's owner, who must still be allowed to open the view. The job's scope (the
    recipient's) applies on top, as always."""
    view_id = spec.options.get("saved_view_id")
    if not view_id:
        return _cadence_period(settings, spec, spec.filters)
    with db.session_scope(settings.database_url) as session:
        schedule = session.get(ReportSchedule, spec.options.get("schedule_id"))
        if schedule is None:
            raise jobs.JobError("The schedule of this report was deleted.")
        try:
            query = views.query_for_run(session, schedule.owner, view_id,
                                        warehouse_for(settings))
        except views.ViewNotFound:
            raise jobs.JobError("The saved view this schedule follows was deleted or is no "
                                "longer shared with the schedule's owner; choose another "
                                "view or filters for the schedule.") from None
    return _cadence_period(settings, spec, Filters.from_query(query))


def _cadence_period(settings: Settings, spec: JobSpec, filters: Filters) -> Filters:
    """Without dates a scheduled report covers the data's latest ``period_days`` days (1, 7
    or 30: a daily, weekly or monthly schedule), compared with the days before."""
    days = spec.options.get("period_days")
    if not days or filters.start is not None or filters.end is not None:
        return filters
    last = period.data_range(warehouse_for(settings))[1]
    if last is None:
        return filters
    return filters.with_period(period.days_before(last, days - 1), last)


def run_scheduled_report(settings: Settings, spec: JobSpec) -> dict:
    from core.reports import RenderedReport, file_name
    from core.reports.content import gather
    from core.reports.pdf import render_pdf
    from core.reports.xlsx import render_xlsx

    chosen = spec.options.get("format") or "pdf"
    formats = ("pdf", "xlsx") if chosen == "both" else (chosen,)
    progress = progress_reporter(settings, spec.id, 0, 99)
    folder = jobs.job_folder(settings, spec.id)
    content = gather(warehouse_for(settings), run_filters(settings, spec), spec.scope,
                     currency=installation.locale_for(settings),
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
    digest = gather_digest(warehouse_for(settings), run_filters(settings, spec), spec.scope,
                           currency=installation.locale_for(settings),
                           title=spec.options.get("title") or "Weekly digest")
    progress(90, "Writing the e-mail")
    return {"result": {**digest.to_dict(), "email": digest_email(digest, folder)},
            "data_version": digest.data_version, "message": "Weekly digest ready"}


def run_dashboard_report(settings: Settings, spec: JobSpec) -> dict:
    from core.dashboard_content import print_content
    from core.reports.dashboard_pdf import render_dashboard_pdf

    progress = progress_reporter(settings, spec.id, 0, 99)
    progress(0, "Reading the dashboard")
    dashboard_id = spec.options.get("dashboard_id")
    warehouse = warehouse_for(settings)
    with db.session_scope(settings.database_url) as session:
        reader = session.get(User, spec.user_id) if spec.user_id else None
        dashboard = session.get(Dashboard, dashboard_id)
        if dashboard is None:
            raise jobs.JobError(f"The dashboard {dashboard_id} was deleted; it can no longer "
                                "be sent.")
        readers = [reader] if reader is not None else []
        schedule = (session.get(ReportSchedule, spec.options["schedule_id"])
                    if spec.options.get("schedule_id") else None)
        if schedule is not None:
            readers.append(schedule.owner)
        blind = dashboards.blind_readers(dashboard, readers)
        if reader is None or blind:
            who = ", ".join(user.email for user in blind) or "its reader"
            raise jobs.JobError(f"The dashboard “{dashboard.name}” is no longer shared with "
                                f"{who}; share it again, or remove them from the "
                                "schedule's recipients.")
        content = print_content(dashboard, reader, spec.scope, warehouse,
                                installation.locale_for(settings))
        name, tiles = dashboard.name, len(dashboard.tiles)
    progress(80, "Writing the PDF")
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in name)[:60] or "dashboard"
    path = render_dashboard_pdf(content, jobs.job_folder(settings, spec.id) / f"{safe}.pdf")
    result = {"title": spec.options.get("title") or name, "format": "pdf",
              "dashboard_id": dashboard_id, "dashboard": name, "tiles": tiles,
              "period_label": content.view, "scope_label": content.scope,
              "data_version": warehouse.current_version()}
    return {"result": result, "path": path, "data_version": result["data_version"],
            "message": "Dashboard PDF ready"}
