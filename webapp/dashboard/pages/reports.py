"""Reports (analysts): request a PDF or Excel report of the current filters, follow my
jobs with progress and download links, and schedule the report: PDF, Excel, both, or the
weekly digest, e-mailed daily, weekly or monthly at a time in a chosen time zone to
recipients (analysts: themselves; admins: any active users, each under their own data
scope, and external addresses under the scope the admin picks), with each schedule's next
run (in its zone), pause/resume, send now, delete, and its newest deliveries from the
ledger (an outbox message links to its .eml). "Send me a weekly digest" switches the user's
own digest on or off in one click. "What" picks the standard report or a dashboard the
user may open, sent as a PDF of its tiles under each recipient's own scope (the Dashboards
page's "Schedule as PDF" opens this form with it chosen: ``?schedule_dashboard=<id>``).
Admins manage users and the audit log on the admin
pages. (Viewers, who do not see this page, switch their digest through the API or CLI.)

Every callback checks the signed-in user server-side: the guard gives ``reports-`` ids to
analysts, and the schedule services (``core.schedules``) apply the owner/admin rules to
every id and recipient the browser sends."""
from __future__ import annotations

import dataclasses
from urllib.parse import parse_qs

import dash
import dash_bootstrap_components as dbc
from dash import ALL, Input, Output, State, callback, dcc, html

from analytics.errors import ShoplensError
from core import dashboards, jobs, schedules, users, views
from webapp import security, services
from webapp.api.schedules import (check_recipient_scopes, mail_destination, runs_of,
                                  start_jobs)
from webapp.dashboard import components, context, jobs_ui

dash.register_page(__name__, path="/reports", name="Reports", title="Shoplens · Reports",
                   order=7, role="analyst")

JOBS_SHOWN = 25


def layout(**_query) -> html.Div:
    user = security.current_db_user()
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
        _digest_card(user),
        _schedule_form(admin=bool(user is not None and user.has_role("admin"))),
        components.panel("reports-schedules", "Report schedules",
                         extra=[html.Div(id="reports-sched-action-status",
                                         className="small mb-2")]),
    ])


def _digest_card(user) -> dbc.Card:
    """One click: the user's weekly digest on or off (its time zone from the field)."""
    digest = (schedules.digest_of(security.db_session(), user)
              if user is not None else None)
    return dbc.Card(dbc.CardBody([
        html.Div([
            dbc.Switch(id="reports-digest", value=bool(digest and digest.is_active),
                       label="Send me a weekly digest (Monday 07:00: KPIs and change, top "
                             "movers, unusual days, the next 30 days)", className="mb-0"),
            dcc.Input(id="reports-digest-timezone", list=TIMEZONE_LIST, maxLength=64,
                      value=(digest.timezone if digest else schedules.DIGEST_TIMEZONE),
                      className="form-control form-control-sm ms-2",
                      style={"maxWidth": "14rem"}),
        ], className="d-flex flex-wrap align-items-center gap-2"),
        html.Div(id="reports-digest-status", className="small mt-1"),
    ]), className="mb-3")


def _field(label: str, control, width: int = 2) -> dbc.Col:
    return dbc.Col([dbc.Label(label, className="small mb-0"), control], md=width)


TIMEZONE_LIST = "reports-sched-timezones"
#: The "What" choice of the standard report (a dashboard's is its id).
STANDARD = "report"


def _schedule_form(admin: bool = False) -> dbc.Card:
    """Schedule the report of the page's current filters (external addresses: admins)."""
    return dbc.Card([dbc.CardHeader(html.Span("Schedule this report by e-mail",
                                              className="fw-semibold")),
                     dbc.CardBody([
        dbc.Row([
            _field("What", dbc.Select(id="reports-sched-what", size="sm", value=STANDARD,
                                      options=[{"label": "Standard report",
                                                "value": STANDARD}]), 3),
            dbc.Col(html.Div(id="reports-sched-what-note",
                             className="small text-body-secondary mt-3"), md=9),
        ], className="g-2 mb-1"),
        dbc.Row([
            _field("Name", dbc.Input(id="reports-sched-name", size="sm", maxLength=200,
                                     placeholder="Monday sales")),
            _field("Format", dbc.Select(id="reports-sched-format", size="sm", value="pdf",
                                        options=[{"label": label[:1].upper() + label[1:],
                                                  "value": value} for value, label in
                                                 schedules.FORMAT_LABELS.items()])),
            _field("Every", dbc.Select(id="reports-sched-frequency", size="sm",
                                       value="weekly",
                                       options=[{"label": "day", "value": "daily"},
                                                {"label": "week", "value": "weekly"},
                                                {"label": "month", "value": "monthly"}]), 1),
            _field("On (weekly)", dbc.Select(id="reports-sched-weekday", size="sm", value="0",
                                             options=[{"label": day, "value": str(number)}
                                                      for number, day in
                                                      enumerate(schedules.WEEKDAYS)])),
            _field("Day (monthly)", dbc.Input(id="reports-sched-day", type="number", min=1,
                                              max=28, step=1, value=1, size="sm"), 1),
            _field("At", dbc.Input(id="reports-sched-time", type="time", value="07:00",
                                   size="sm")),
            _field("Time zone", dcc.Input(id="reports-sched-timezone", list=TIMEZONE_LIST,
                                          value=schedules.DIGEST_TIMEZONE, maxLength=64,
                                          className="form-control form-control-sm")),
        ], className="g-2"),
        html.Datalist(id=TIMEZONE_LIST, children=[html.Option(value=name) for name in
                                                  schedules.COMMON_TIMEZONES]),
        dbc.Row([
            _field("Recipients (each sees the report under their own data scope)",
                   dcc.Dropdown(id="reports-sched-recipients", multi=True,
                                placeholder="Active users"), 8),
            dbc.Col(dbc.Button("Create schedule", id="reports-sched-create", size="sm",
                               color="primary", className="mt-3"), md=2),
        ], className="g-2 mt-1"),
        dbc.Row([
            _field("External addresses (admins; comma separated)",
                   dbc.Input(id="reports-sched-external", size="sm", maxLength=4000,
                             placeholder="agency@partner.example"), 6),
            _field("…who see (countries, or all)",
                   dbc.Input(id="reports-sched-external-scope", size="sm", maxLength=400,
                             placeholder="FR, DE  or  all"), 4),
        ], className="g-2 mt-1", id="reports-sched-external-row",
            style={"display": "flex" if admin else "none"}),
        dbc.Row([
            _field("…or follow a saved view (its filters and relative period at each run)",
                   dcc.Dropdown(id="reports-sched-view", placeholder="This page's filters",
                                clearable=True), 6),
        ], className="g-2 mt-1"),
        dbc.Checkbox(id="reports-sched-keep-dates", value=False, className="small mt-2",
                     label="Keep this page's dates fixed in every run (otherwise each run "
                           "covers the data's latest day, 7 days or 30 days, as often as "
                           "it runs)"),
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
          Output("reports-sched-view", "options"),
          Output("reports-sched-what", "options"), Output("reports-sched-what", "value"),
          Input("shell-url", "pathname"), Input("shell-url", "search"),
          Input("reports-sched-keep-dates", "value"))
def schedule_form(_pathname, search, keep_dates):
    """Who may receive (admins: every active user; analysts: themselves), the filters the
    schedule will keep, the saved views it may follow instead, the dashboards it may send
    instead of the standard report (``?schedule_dashboard=<id>`` picks one), and where the
    e-mails go."""
    user = security.current_db_user()
    if user is None:
        return [], [], True, "Sign in again.", "", [], [], STANDARD
    if user.has_role("admin"):
        options = [{"label": f"{u.email} ({u.role}, {users.user_scope(u)})", "value": u.email}
                   for u in users.list_users(security.db_session()) if u.is_active]
    else:
        options = [{"label": f"{user.email} (you)", "value": user.email}]
    try:
        described = _kept_filters(search, keep_dates)
    except context.Unavailable as exc:
        described = str(exc)
    followable = [{"label": view.name + ("" if view.owner_id == user.id
                                         else f" (shared by {view.owner.email})"),
                   "value": view.id} for view in views.list_views(security.db_session(), user)]
    return (options, [user.email], not user.has_role("admin"),
            "Filters kept with the schedule (this page's URL): "
            + (described or "none") + ("" if "start=" in described else
                                        "; each run covers the data's latest day, 7 "
                                        "days or 30 days, as often as it runs") + ".",
            f"Mail: {mail_destination(services.settings())}.", followable,
            *_what_choice(user, search))


@callback(Output("reports-sched-format", "disabled"), Output("reports-sched-view", "disabled"),
          Output("reports-sched-keep-dates", "disabled"),
          Output("reports-sched-external", "disabled"),
          Output("reports-sched-external-scope", "disabled"),
          Output("reports-sched-what-note", "children"),
          Input("reports-sched-what", "value"))
def what_fields(what):
    """A dashboard is a PDF of its own filters, for users: the fields it does not use are
    switched off, and the note says why (the engine refuses them anyway)."""
    dashboard = bool(what) and what != STANDARD
    note = ("A PDF of the dashboard's tiles with its own filters and period; each recipient "
            "sees it under their own data scope and role, and must be able to open it."
            if dashboard else "")
    return dashboard, dashboard, dashboard, dashboard, dashboard, note


def _what_choice(user, search: str | None) -> tuple[list[dict], str]:
    """The standard report and each dashboard the user may open; the one the URL's
    ``schedule_dashboard`` names is chosen when the user may open it."""
    boards = dashboards.list_dashboards(security.db_session(), user)
    options = [{"label": "Standard report", "value": STANDARD}] + [
        {"label": f"Dashboard: {board.name}" + ("" if board.owner_id == user.id
                                                else f" (shared by {board.owner.email})"),
         "value": str(board.id)} for board in boards]
    asked = (parse_qs((search or "").lstrip("?")).get("schedule_dashboard") or [""])[0]
    chosen = asked if asked in {option["value"] for option in options} else STANDARD
    return options, chosen


@callback(Output("reports-sched-status", "children"), Input("reports-sched-create", "n_clicks"),
          State("reports-sched-name", "value"), State("reports-sched-format", "value"),
          State("reports-sched-frequency", "value"), State("reports-sched-weekday", "value"),
          State("reports-sched-day", "value"), State("reports-sched-time", "value"),
          State("reports-sched-recipients", "value"), State("shell-url", "search"),
          State("reports-sched-keep-dates", "value"), State("reports-sched-timezone", "value"),
          State("reports-sched-external", "value"),
          State("reports-sched-external-scope", "value"), State("reports-sched-view", "value"),
          State("reports-sched-what", "value"),
          prevent_initial_call=True)
def create_schedule(_clicks, name, format_, frequency, weekday, day, time_of_day,
                    recipients, search, keep_dates=False, timezone=None, external=None,
                    external_scope=None, view_id=None, what=STANDARD):
    """Create the schedule with the page's filters (or of a dashboard, sent as a PDF);
    the engine checks the user, the cadence, the time zone and the recipients (external
    ones: admins only, with the scope they see; a dashboard's: each must be able to open
    it), and each recipient must be able to see the filters."""
    user = security.current_db_user()
    if user is None:
        return "Sign in again."
    session = security.db_session()
    try:
        filters = _kept_filters(search, keep_dates)
        data = {"name": name or "", "format": format_, "frequency": frequency,
                "weekday": _int_or_none(weekday), "day_of_month": _int_or_none(day),
                "time_of_day": time_of_day or "", "filters": filters,
                "timezone": (timezone or "").strip() or "UTC",
                "recipients": list(recipients or []),
                "external_recipients": _split(external)}
        if data["external_recipients"]:
            data["external_scope"] = _scope_text(external_scope)
        if what and what != STANDARD:  # the dashboard keeps its own filters
            data.update(dashboard_id=_int_or_none(what), format="pdf", filters="")
            schedule = schedules.create_schedule(session, user, data)
            session.commit()
            return (f"Created “{schedule.name}”: the dashboard as a PDF, "
                    f"{schedules.describe(schedule)}.")
        if view_id:  # the view's filters, read at each run, instead of this page's
            data["saved_view_id"] = _int_or_none(view_id)
            filters = data["filters"] = ""
            followed = views.get_view(session, user, data["saved_view_id"])
            filters = views.resolve(followed, context.warehouse())[1].to_query()
        check_recipient_scopes(session, context.warehouse(), filters, data["recipients"],
                               data.get("external_scope") if data["external_recipients"]
                               else False)
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


def _split(text: str | None) -> list[str]:
    return [part.strip() for part in str(text or "").replace(";", ",").split(",")
            if part.strip()]


def _scope_text(text: str | None):
    """"all", a list of countries, or None (not picked: the engine asks for it)."""
    if not str(text or "").strip():
        return None
    return "all" if str(text).strip().lower() == "all" else _split(text)


def _int_or_none(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


@callback(Output("reports-digest-status", "children"),
          Input("reports-digest", "value"), State("reports-digest-timezone", "value"),
          prevent_initial_call=True)
def switch_digest(enabled, timezone):
    """The signed-in user's own weekly digest on or off (``schedules.set_digest``)."""
    user = security.current_db_user()
    if user is None:
        return "Sign in again."
    session = security.db_session()
    try:
        schedule = schedules.set_digest(session, user, bool(enabled),
                                        timezone=(timezone or "").strip() or None)
        session.commit()
    except ShoplensError as exc:
        session.rollback()
        return dbc.Alert(f"Not changed: {exc}", color="warning", className="py-1 mb-0")
    if schedule is None or not schedule.is_active:
        return "Your weekly digest is off."
    return f"Your weekly digest is on: {schedules.describe(schedule)}."


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
          Input("reports-sched-action-status", "children"),
          Input("reports-digest-status", "children"))
def list_my_schedules(_pathname, _created, _acted, _digest=None):
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
    local = schedules.local_time(schedule.next_run_at, schedule.timezone)
    next_run = (f"{local:%Y-%m-%d %H:%M} {schedule.timezone or 'UTC'}" if local
                else "paused")
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
        "started (UTC)", "recipient", "state", "reason", "")])),
        html.Tbody([html.Tr([html.Td(run["created_at"][:16].replace("T", " ")),
                             html.Td(run["recipient"] or ""),
                             html.Td(run["state"]), html.Td(run["reason"] or ""),
                             html.Td(html.A("Download .eml", href=run["eml"])
                                     if run["eml"] else "")])
                    for run in runs])], size="sm", className="mb-0 mt-2")
        if runs else html.Div("No deliveries yet.", className="small text-body-secondary"))
    recipients = ", ".join([*(schedule.recipients or []),
                            *(schedule.external_recipients or [])]) or "—"
    external = schedules.external_scope_label(schedule)
    view = schedules.schedule_to_dict(schedule)
    return html.Div([
        html.Div([html.Span(schedule.name, className="fw-semibold me-2"),
                  dbc.Badge(schedules.FORMAT_LABELS.get(schedule.format,
                                                        schedule.format).upper()
                            if schedule.format != "digest" else "DIGEST",
                            color="info", className="me-1"),
                  dbc.Badge("active" if schedule.is_active else "paused",
                            color="success" if schedule.is_active else "secondary")]),
        html.Div(f"{schedules.describe(schedule).capitalize()} · next run: {next_run} · "
                 f"to: {recipients} · owner: {schedule.owner.email}"
                 + (f" · filters: {schedule.filters}" if schedule.filters else ""),
                 className="small"),
        html.Div(external, className="small text-warning-emphasis") if external else None,
        html.Div(f"Sends the dashboard “{view['dashboard_name']}” as a PDF",
                 className="small") if view["dashboard_name"] else None,
        html.Div(view["dashboard_problem"], className="small text-danger",
                 id=f"reports-schedule-{schedule.id}-problem")
        if view["dashboard_problem"] else None,
        buttons, ledger,
    ], className="border-bottom pb-2 mb-2", id=f"reports-schedule-{schedule.id}")
