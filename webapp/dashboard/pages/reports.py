"""Reports (analysts): request a PDF or Excel report of the current filters, follow my
jobs with progress and download links, and see my report schedules. Admins manage users
and the audit log on the linked admin pages."""
from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, State, callback, dcc, html

from core import jobs, schedules
from webapp import security
from webapp.dashboard import components, context, jobs_ui

dash.register_page(__name__, path="/reports", name="Reports", title="Shoplens · Reports",
                   order=7, role="analyst")

JOBS_SHOWN = 25


def layout(**_query) -> html.Div:
    return html.Div([
        components.page_header("Reports", "PDF and Excel reports of the current filters"),
        dbc.Card(dbc.CardBody([
            html.Div([
                dbc.Button("Request PDF", id="reports-pdf", color="primary", size="sm"),
                dbc.Button("Request Excel", id="reports-xlsx", color="primary", size="sm",
                           outline=True),
                dbc.Checkbox(id="reports-email", label="E-mail it to me when ready",
                             value=False, className="ms-2"),
            ], className="d-flex flex-wrap align-items-center gap-2"),
            html.Div(id="reports-request-status", className="small mt-2"),
        ]), className="mb-3"),
        components.panel("reports-jobs", "My jobs"),
        dcc.Interval(id="reports-poll", interval=2000, disabled=False),
        html.Div(className="mb-3"),
        components.panel("reports-schedules", "My report schedules"),
    ])


@callback(Output("reports-request-status", "children"), Output("reports-poll", "disabled"),
          Input("reports-pdf", "n_clicks"), Input("reports-xlsx", "n_clicks"),
          State("shell-url", "search"), State("reports-email", "value"),
          prevent_initial_call=True)
def request_report(_pdf, _xlsx, search, email):
    kind = "report_pdf" if dash.ctx.triggered_id == "reports-pdf" else "report_xlsx"
    try:
        job = jobs_ui.submit(kind, search, {"email": bool(email)})
    except (jobs_ui.JobUnavailable, context.Unavailable) as exc:
        return str(exc), dash.no_update
    return f"Requested: {components.job_status_text(job)}", False


@callback(Output("reports-jobs", "children"), Output("reports-poll", "disabled",
                                                     allow_duplicate=True),
          Input("reports-poll", "n_intervals"), prevent_initial_call="initial_duplicate")
def list_my_jobs(_ticks):
    """The user's newest jobs; polling stops when none is running."""
    user = security.current_db_user()
    if user is None:
        return components.empty_state("Sign in again."), True
    listed = [jobs.job_to_dict(job, with_result=False) for job in jobs.list_jobs(
        security.db_session(), user, limit=JOBS_SHOWN, with_result=False)]
    if not listed:
        return components.empty_state("No jobs yet: request a report above."), True
    running = any(job["status"] not in jobs.FINISHED for job in listed)
    rows = [html.Tr([
        html.Td(job["label"]),
        html.Td((job["timings"]["created_at"] or "")[:16].replace("T", " ")),
        html.Td(dbc.Progress(value=job["progress"] or 0, label=f"{job['progress'] or 0}%",
                             style={"height": "0.9rem", "minWidth": "80px"})
                if job["status"] in ("queued", "running") else job["status"]),
        html.Td(job["message"] or job["error"] or ""),
        html.Td(html.A("Download", href=job["download"]) if job["download"] else ""),
    ]) for job in listed]
    return dbc.Table([html.Thead(html.Tr([html.Th(h) for h in (
        "job", "requested (UTC)", "status", "message", "")])), html.Tbody(rows)],
        size="sm", hover=True, responsive=True, id="reports-jobs-table"), not running


@callback(Output("reports-schedules", "children"), Input("shell-url", "pathname"))
def list_my_schedules(_pathname):
    user = security.current_db_user()
    if user is None:
        return components.empty_state("Sign in again.")
    listed = schedules.list_schedules(security.db_session(), user)
    if not listed:
        return components.empty_state("No schedules yet." + (
            " Admins create them for their recipients." if not user.has_role("admin") else ""))
    return dbc.Table([html.Thead(html.Tr([html.Th(h) for h in ("name", "when", "format",
                                                               "recipients", "next run")])),
                      html.Tbody([html.Tr([html.Td(s.name), html.Td(schedules.describe(s)),
                                           html.Td(s.format.upper()),
                                           html.Td(", ".join(s.recipients or [])),
                                           html.Td(str(s.next_run_at or "—")[:16])])
                                  for s in listed])], size="sm", id="reports-schedules-table")
