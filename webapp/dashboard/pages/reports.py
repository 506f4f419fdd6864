"""Reports (analysts): request a PDF or Excel report of the current filters, follow my
jobs with progress and download links, and schedule the report: e-mailed daily, weekly or
monthly to recipients (analysts: themselves; admins: any active users, each under their own
data scope), with each schedule's next run, pause/resume, send now, delete, and its newest
deliveries from the ledger. Admins manage users and the audit log on the admin pages.

Every callback checks the signed-in user server-side: the guard gives ``reports-`` ids to
analysts, and the schedule services (``core.schedules``) apply the owner/admin rules to
every id and recipient the browser sends."""
from __future__ import annotations

import dataclasses

import dash
import dash_bootstrap_components as dbc
from dash import ALL, Input, Output, State, callback, dcc, html

from analytics.errors import ShoplensError
from core import jobs, schedules, users
from webapp import security, services
from webapp.api.schedules import (check_recipient_scopes, mail_destination, runs_of,
                                  start_jobs)
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
        _schedule_form(),
        components.panel("reports-schedules", "Report schedules",
                         extra=[html.Div(id="reports-sched-action-status",
                                         className="small mb-2")]),
    ])


def _field(label: str, control, width: int = 2) -> dbc.Col:
    return dbc.Col([dbc.Label(label, className="small mb-0"), control], md=width)


def _schedule_form() -> dbc.Card:
    """Schedule the report of the page's current filters."""
    return dbc.Card([dbc.CardHeader(html.Span("Schedule this report by e-mail",
                                              className="fw-semibold")),
                     dbc.CardBody([
        dbc.Row([
            _field("Name", dbc.Input(id="reports-sched-name", size="sm", maxLength=200,
                                     placeholder="Monday sales"), 3),
            _field("Format", dbc.Select(id="reports-sched-format", size="sm", value="pdf",
                                        options=[{"label": "PDF", "value": "pdf"},
                                                 {"label": "Excel", "value": "xlsx"}])),
            _field("Every", dbc.Select(id="reports-sched-frequency", size="sm",
                                       value="weekly",
                                       options=[{"label": "day", "value": "daily"},
                                                {"label": "week", "value": "weekly"},
                                                {"label": "month", "value": "monthly"}])),
            _field("On (weekly)", dbc.Select(id="reports-sched-weekday", size="sm", value="0",
                                             options=[{"label": day, "value": str(number)}
                                                      for number, day in
                                                      enumerate(schedules.WEEKDAYS)])),
            _field("Day (monthly)", dbc.Input(id="reports-sched-day", type="number", min=1,
                                              max=28, step=1, value=1, size="sm"), 1),
            _field("At (UTC)", dbc.Input(id="reports-sched-time", type="time", value="07:00",
                                         size="sm")),
        ], className="g-2"),
        dbc.Row([
            _field("Recipients (each sees the report under their own data scope)",
                   dcc.Dropdown(id="reports-sched-recipients", multi=True,
                                placeholder="Active users"), 8),
            dbc.Col(dbc.Button("Create schedule", id="reports-sched-create", size="sm",
                               color="primary", className="mt-3"), md=2),
        ], className="g-2 mt-1"),
        dbc.Checkbox(id="reports-sched-keep-dates", value=False, className="small mt-2",
                     label="Keep this page's dates fixed in every run (otherwise each run "
                           "covers the data's latest 30 days)"),
        html.Div(id="reports-sched-filters", className="small text-body-secondary"),
        html.Div(id="reports-sched-mail", className="small text-body-secondary"),
        html.Div(id="reports-sched-status", className="small mt-2"),
    ])], className="mb-3")


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




@callback(Output("reports-sched-recipients", "options"),
          Output("reports-sched-recipients", "value"),
          Output("reports-sched-recipients", "disabled"),
          Output("reports-sched-filters", "children"), Output("reports-sched-mail", "children"),
          Input("shell-url", "pathname"), Input("shell-url", "search"),
          Input("reports-sched-keep-dates", "value"))
def schedule_form(_pathname, search, keep_dates):
    """Who may receive (admins: every active user; analysts: themselves), the filters the
    schedule will keep and where the e-mails go."""
    user = security.current_db_user()
    if user is None:
        return [], [], True, "Sign in again.", ""
    if user.has_role("admin"):
        options = [{"label": f"{u.email} ({u.role}, {users.user_scope(u)})", "value": u.email}
                   for u in users.list_users(security.db_session()) if u.is_active]
    else:
        options = [{"label": f"{user.email} (you)", "value": user.email}]
    try:
        described = _kept_filters(search, keep_dates)
    except context.Unavailable as exc:
        described = str(exc)
    return (options, [user.email], not user.has_role("admin"),
            "Filters kept with the schedule (this page's URL): "
            + (described or "none") + ("" if "start=" in described else
                                        "; each run covers the data's latest 30 days") + ".",
            f"Mail: {mail_destination(services.settings())}.")


@callback(Output("reports-sched-status", "children"), Input("reports-sched-create", "n_clicks"),
          State("reports-sched-name", "value"), State("reports-sched-format", "value"),
          State("reports-sched-frequency", "value"), State("reports-sched-weekday", "value"),
          State("reports-sched-day", "value"), State("reports-sched-time", "value"),
          State("reports-sched-recipients", "value"), State("shell-url", "search"),
          State("reports-sched-keep-dates", "value"), prevent_initial_call=True)
def create_schedule(_clicks, name, format_, frequency, weekday, day, time_of_day,
                    recipients, search, keep_dates=False):
    """Create the schedule with the page's filters; the engine checks the user, the
    cadence and the recipients, and each recipient must be able to see the filters."""
    user = security.current_db_user()
    if user is None:
        return "Sign in again."
    session = security.db_session()
    try:
        filters = _kept_filters(search, keep_dates)
        data = {"name": name or "", "format": format_, "frequency": frequency,
                "weekday": _int_or_none(weekday), "day_of_month": _int_or_none(day),
                "time_of_day": time_of_day or "", "filters": filters,
                "recipients": list(recipients or [])}
        check_recipient_scopes(session, context.warehouse(), filters, data["recipients"])
        schedule = schedules.create_schedule(session, user, data)
        session.commit()
    except (ShoplensError, context.Unavailable) as exc:
        session.rollback()
        return dbc.Alert(f"Not created: {exc}", color="warning", className="py-1 mb-0")
    return f"Created “{schedule.name}”: {schedules.describe(schedule)}."


def _kept_filters(search: str | None, keep_dates) -> str:
    """The page's filters as the schedule keeps them: without the dates unless asked (a
    preset such as "Last 7 days" is written as fixed dates in the URL, which would make a
    weekly report show the same week forever)."""
    filters = context.parse_filters(search)
    if not keep_dates:
        filters = dataclasses.replace(filters, start=None, end=None)
    return filters.to_query()


def _int_or_none(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


ACTIONS = ("pause", "resume", "send")


@callback(Output("reports-sched-action-status", "children"),
          Input({"type": "reports-sched-action", "action": ALL, "id": ALL}, "n_clicks"),
          Input({"type": "reports-sched-delete", "id": ALL}, "submit_n_clicks"),
          prevent_initial_call=True)
def schedule_action(_clicks, _deletes):
    """Pause, resume, send now or delete one schedule (owner or admin, checked by the
    services against the signed-in user)."""
    trigger = dash.ctx.triggered_id
    if not isinstance(trigger, dict) or not any(item.get("value")
                                                for item in dash.ctx.triggered):
        return dash.no_update  # the list was redrawn, nothing was clicked
    user = security.current_db_user()
    if user is None:
        return "Sign in again."
    action = "delete" if trigger.get("type") == "reports-sched-delete" else trigger.get("action")
    if action not in (*ACTIONS, "delete"):
        return dash.no_update
    session = security.db_session()
    schedule_id = _int_or_none(trigger.get("id"))
    try:
        name = schedules.get_schedule(session, user, schedule_id or 0).name
        if action == "delete":
            schedules.delete_schedule(session, user, schedule_id)
            session.commit()
            return f"Deleted “{name}”."
        if action in ("pause", "resume"):
            schedules.update_schedule(session, user, schedule_id,
                                      {"is_active": action == "resume"})
            session.commit()
            return f"{'Paused' if action == 'pause' else 'Resumed'} “{name}”."
        made = [job.id for job in schedules.send_now(session, user, schedule_id)]
        session.commit()
    except ShoplensError as exc:
        session.rollback()
        return dbc.Alert(str(exc), color="warning", className="py-1 mb-0")
    ids, problem = start_jobs(services.settings(), made)
    return problem or f"Sending “{name}” now: {len(ids)} report(s), one per recipient."


@callback(Output("reports-schedules", "children"), Input("shell-url", "pathname"),
          Input("reports-sched-status", "children"),
          Input("reports-sched-action-status", "children"))
def list_my_schedules(_pathname, _created, _acted):
    """The user's schedules (everybody's for an admin): when, next run, recipients, the
    buttons, and the newest deliveries with their state and reason."""
    user = security.current_db_user()
    if user is None:
        return components.empty_state("Sign in again.")
    session = security.db_session()
    listed = schedules.list_schedules(session, user)
    if not listed:
        return components.empty_state("No schedules yet: create one above.")
    return html.Div([_schedule_block(session, s) for s in listed], id="reports-schedules-list")


def _schedule_block(session, schedule) -> html.Div:
    next_run = (schedule.next_run_at.isoformat(sep=" ", timespec="minutes") + " UTC"
                if schedule.next_run_at else "paused")
    toggle = "resume" if not schedule.is_active else "pause"
    buttons = html.Div([
        dbc.Button(toggle.capitalize(), size="sm", color="secondary", outline=True,
                   id={"type": "reports-sched-action", "action": toggle, "id": schedule.id}),
        dbc.Button("Send now", size="sm", color="primary", outline=True,
                   id={"type": "reports-sched-action", "action": "send", "id": schedule.id}),
        dcc.ConfirmDialogProvider(
            dbc.Button("Delete", size="sm", color="danger", outline=True),
            id={"type": "reports-sched-delete", "id": schedule.id},
            message=f"Delete the schedule “{schedule.name}”? Its past reports stay."),
    ], className="d-flex gap-2")
    runs = runs_of(session, schedule.id, limit=5)
    ledger = (dbc.Table([html.Thead(html.Tr([html.Th(h) for h in (
        "started (UTC)", "recipient", "state", "reason")])),
        html.Tbody([html.Tr([html.Td(run["created_at"][:16].replace("T", " ")),
                             html.Td(run["recipient"] or ""),
                             html.Td(run["state"]), html.Td(run["reason"] or "")])
                    for run in runs])], size="sm", className="mb-0 mt-2")
        if runs else html.Div("No deliveries yet.", className="small text-body-secondary"))
    return html.Div([
        html.Div([html.Span(schedule.name, className="fw-semibold me-2"),
                  dbc.Badge(schedule.format.upper(), color="info", className="me-1"),
                  dbc.Badge("active" if schedule.is_active else "paused",
                            color="success" if schedule.is_active else "secondary")]),
        html.Div(f"{schedules.describe(schedule).capitalize()} · next run: {next_run} · "
                 f"to: {', '.join(schedule.recipients or [])} · owner: {schedule.owner.email}"
                 + (f" · filters: {schedule.filters}" if schedule.filters else ""),
                 className="small"),
        buttons, ledger,
    ], className="border-bottom pb-2 mb-2", id=f"reports-schedule-{schedule.id}")
