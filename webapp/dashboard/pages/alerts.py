"""Alerts (analysts and admins): the user's alert rules (an admin's: everybody's, with
their owner) with their state, the buttons to pause, snooze, test, send a test message,
backtest and delete them; a form to create or edit a rule on the page's current filters
with a plain sentence saying what it watches; and each rule's firings with the slices
that explain them and how each message went. ``/alerts?firing=12`` opens one firing
(the bell's notifications link there).

Every callback checks the signed-in user server-side: the guard gives ``alerts-`` ids to
analysts, each callback asks for the user again and the services (``core.alerts``,
``core.alert_runs``) apply the owner/admin rules to every id the browser sends."""
from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs

import dash
import dash_bootstrap_components as dbc
from dash import ALL, Input, Output, State, callback, dcc, html

from analytics import catalog
from analytics.errors import ShoplensError
from core import alert_runs, alerts
from core.formatting import format_date, format_datetime, format_value
from core.orm import utcnow
from webapp import security, services
from webapp.dashboard import components, context

dash.register_page(__name__, path="/alerts", name="Alerts", title="Shoplens · Alerts",
                   order=7, role="analyst")

KIND_LABELS = {"threshold": "Threshold: the KPI is below or above a value",
               "change": "Change: the KPI moved by more than a percentage",
               "anomaly": "Anomaly: a day the monitor finds unusual",
               "forecast": "Forecast: outside the forecast's prediction interval",
               "stale_data": "Stale data (admins): the newest data is too old",
               "load_failed": "Failed load (admins): the newest data load failed",
               "delivery_failed": "Failed delivery (admins): a message failed for good"}
DIRECTION_LABELS = {"below": "below", "above": "above", "down": "down (falls)",
                    "up": "up (rises)", "any": "either way", "outside": "outside the range"}
VALUE_HINTS = {"threshold": "the KPI's value (a rate as a fraction: 0.05)",
               "change": "the percentage (20 for 20 %)", "anomaly": "the |z| (3.5)",
               "forecast": "the interval in % (80)", "stale_data": "days"}
SNOOZES = {"snooze-day": dt.timedelta(days=1), "snooze-week": dt.timedelta(days=7)}
#: How far back a backtest replays a rule (the select's choices; 90 days by default).
BACKTEST_RANGES = {90: "the last 90 days", 182: "the last 6 months", 365: "the last year"}
BACKTEST_DAYS = 90
FIRINGS_SHOWN = 20


def layout(firing: str | None = None, **_query) -> html.Div:
    return html.Div([
        components.page_header("Alerts", "Rules on a KPI that tell you when something "
                                         "changes, with the slices that explain it"),
        dcc.Store(id="alerts-editing", data=None),
        dcc.Store(id="alerts-selected", data={"firing": _int_or_none(firing)}),
        _form(),
        html.Div([html.Span("Backtests replay a rule over ", className="small me-2"),
                  dbc.Select(id="alerts-backtest-days", size="sm", value=str(BACKTEST_DAYS),
                             options=[{"label": label, "value": str(days)}
                                      for days, label in BACKTEST_RANGES.items()],
                             style={"maxWidth": "14rem"})],
                 className="d-flex align-items-center mb-2"),
        html.Div(id="alerts-action-status", className="mb-3"),
        components.panel("alerts-rules", "Alert rules"),
        html.Div(className="mb-3"),
        components.panel("alerts-firings", "Firings"),
    ])


def _field(label: str, control, width: int = 2) -> dbc.Col:
    return dbc.Col([dbc.Label(label, className="small mb-0"), control], md=width)


def _options(labels: dict) -> list[dict]:
    return [{"label": label, "value": value} for value, label in labels.items()]


def _form() -> dbc.Card:
    kpis = [{"label": catalog.measure(name).label, "value": name} for name in catalog.KPI_NAMES]
    return dbc.Card([dbc.CardHeader(html.Span("New alert", id="alerts-form-title",
                                              className="fw-semibold")),
                     dbc.CardBody([
        dbc.Row([
            _field("Name", dbc.Input(id="alerts-name", size="sm", maxLength=200,
                                     placeholder="Orders down week on week"), 3),
            _field("Kind", dbc.Select(id="alerts-kind", size="sm", value="change",
                                      options=_options(KIND_LABELS)), 3),
            _field("KPI", dbc.Select(id="alerts-kpi", size="sm", value="orders",
                                     options=kpis)),
            _field("Direction", dbc.Select(id="alerts-direction", size="sm", value="down",
                                           options=_options(DIRECTION_LABELS))),
            _field("Value", dbc.Input(id="alerts-value", type="number", value=20, size="sm",
                                      step="any"), 2),
        ], className="g-2"),
        dbc.Row([
            _field("Days", dbc.Input(id="alerts-days", type="number", min=1, max=366,
                                     step=1, value=7, size="sm"), 1),
            _field("Compare with", dbc.Select(id="alerts-compare", size="sm",
                                              value="previous", options=[
                {"label": "the previous days", "value": "previous"},
                {"label": "the same days last year", "value": "last_year"}])),
            _field("Cool-down (hours)", dbc.Input(id="alerts-cooldown", type="number",
                                                  min=0, max=2160, step=1, value=24,
                                                  size="sm")),
            _field("Webhook URL (optional)", dbc.Input(
                id="alerts-webhook", size="sm", maxLength=1000, type="url",
                placeholder="https://hooks.slack.com/services/…"), 4),
            dbc.Col(dbc.Checkbox(id="alerts-email", value=True, className="mt-4 small",
                                 label="E-mail me"), md=2),
        ], className="g-2 mt-1"),
        html.Div(id="alerts-value-hint", className="small text-body-secondary mt-1"),
        html.Div(id="alerts-preview", className="fw-semibold mt-2"),
        html.Div(id="alerts-filters", className="small text-body-secondary"),
        html.Div([
            dbc.Button("Create alert", id="alerts-save", size="sm", color="primary"),
            dbc.Button("Backtest", id="alerts-form-backtest",
                       size="sm", color="secondary", outline=True),
            dbc.Button("Cancel editing", id="alerts-cancel", size="sm", color="link",
                       className="d-none"),
        ], className="d-flex gap-2 mt-2"),
        html.Div(id="alerts-form-status", className="small mt-2"),
    ])], className="mb-3")


def _int_or_none(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _float_or_none(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _form_data(name, kind, kpi, direction, value, days, compare, cooldown, email,
               webhook, search) -> dict:
    """The form as ``core.alerts`` takes it; the filters are the page's URL filters
    without dates (a rule watches its last N days)."""
    filters = context.checked_filters(search).without_dates().to_query()
    return {"name": name or "", "kind": kind, "kpi": kpi or "", "direction": direction or "",
            "value": _float_or_none(value), "days": _int_or_none(days) or 7,
            "compare": compare or "previous", "cooldown_hours": _int_or_none(cooldown) or 0,
            "email": bool(email), "webhook_url": (webhook or "").strip() or None,
            "filters": filters}


def _warning(text: str) -> dbc.Alert:
    return dbc.Alert(text, color="warning", className="py-1 mb-0 small")


# ------------------------------------------------------------------ form
@callback(Output("alerts-kind", "options"), Output("alerts-direction", "options"),
          Output("alerts-value-hint", "children"), Output("alerts-preview", "children"),
          Output("alerts-filters", "children"),
          Output("alerts-direction", "value", allow_duplicate=True),
          Input("alerts-kind", "value"), Input("alerts-kpi", "value"),
          Input("alerts-direction", "value"), Input("alerts-value", "value"),
          Input("alerts-days", "value"), Input("alerts-compare", "value"),
          Input("shell-url", "search"), prevent_initial_call="initial_duplicate")
def preview(kind, kpi, direction, value, days, compare, search):
    """The kinds the user may choose (operational ones for admins), the directions of
    the kind (the first one chosen when the kind changes to one without the current),
    and the rule in one sentence as it is being filled in."""
    user = security.current_db_user()
    if user is None or not user.has_role("analyst"):
        return [], [], "", "Sign in as an analyst.", "", dash.no_update
    kinds = {name: label for name, label in KIND_LABELS.items()
             if name not in alerts.OPERATIONAL or user.has_role("admin")}
    directions = alerts.DIRECTIONS.get(kind, ())
    if directions and direction not in directions:
        direction = directions[0]
        chosen = direction
    else:
        chosen = dash.no_update
    sentence = alerts.describe({"kind": kind, "kpi": kpi, "direction": direction,
                                "value": _float_or_none(value), "days": _int_or_none(days),
                                "compare": compare}, services.locale())
    try:
        filters = context.checked_filters(search).without_dates().to_query()
        watched = ("Filters (this page's URL; the rule watches its last N days): "
                   + (filters or "none, all of your data") + ".")
    except context.Unavailable as exc:
        watched = str(exc)
    return (_options(kinds), [{"label": DIRECTION_LABELS[d], "value": d} for d in directions],
            f"Value: {VALUE_HINTS.get(kind, 'not needed')}.", sentence + ".", watched, chosen)


FORM_STATES = [State("alerts-name", "value"), State("alerts-kind", "value"),
               State("alerts-kpi", "value"), State("alerts-direction", "value"),
               State("alerts-value", "value"), State("alerts-days", "value"),
               State("alerts-compare", "value"), State("alerts-cooldown", "value"),
               State("alerts-email", "value"), State("alerts-webhook", "value"),
               State("shell-url", "search")]


@callback(Output("alerts-form-status", "children"), Output("alerts-editing", "data"),
          Input("alerts-save", "n_clicks"), State("alerts-editing", "data"), *FORM_STATES,
          prevent_initial_call=True)
def save(_clicks, editing, *form):
    """Create the rule (or save the one being edited); ``core.alerts`` checks the user,
    the fields, the filters against the owner's scope and the webhook URL."""
    user = security.current_db_user()
    if user is None or not user.has_role("analyst"):
        return "Sign in as an analyst.", dash.no_update
    session = security.db_session()
    try:
        data = _form_data(*form)
        if editing:
            rule = alerts.update_rule(session, user, int(editing), data,
                                      warehouse=context.warehouse(),
                                      settings=services.settings())
        else:
            rule = alerts.create_rule(session, user, data, warehouse=context.warehouse(),
                                      settings=services.settings())
        session.commit()
    except (ShoplensError, context.Unavailable) as exc:
        session.rollback()
        return _warning(f"Not saved: {exc}"), dash.no_update
    done = "Saved" if editing else "Created"
    return f"{done} “{rule.name}”: {alerts.describe(rule)}.", None


@callback(Output("alerts-name", "value"), Output("alerts-kind", "value"),
          Output("alerts-kpi", "value"), Output("alerts-direction", "value"),
          Output("alerts-value", "value"), Output("alerts-days", "value"),
          Output("alerts-compare", "value"), Output("alerts-cooldown", "value"),
          Output("alerts-email", "value"), Output("alerts-webhook", "value"),
          Output("alerts-form-title", "children"), Output("alerts-save", "children"),
          Output("alerts-cancel", "className"),
          Input("alerts-editing", "data"), prevent_initial_call=True)
def fill_form(editing):
    """Editing a rule fills the form with it (owner or admin); otherwise the form
    returns to a new rule."""
    user = security.current_db_user()
    rule = None
    if editing and user is not None and user.has_role("analyst"):
        try:
            rule = alerts.get_rule(security.db_session(), user, int(editing))
        except ShoplensError:
            rule = None
    if rule is None:
        return ("", "change", "orders", "down", 20, 7, "previous", 24, True, "",
                "New alert", "Create alert", "d-none")
    return (rule.name, rule.kind, rule.kpi or "orders", rule.direction or None, rule.value,
            rule.days, rule.compare or "previous", rule.cooldown_hours, bool(rule.email),
            rule.webhook_url or "", f"Edit “{rule.name}” (its filters become this page's)",
            "Save changes", "")


@callback(Output("alerts-editing", "data", allow_duplicate=True),
          Input("alerts-cancel", "n_clicks"), prevent_initial_call=True)
def cancel_editing(_clicks):
    return None


# ------------------------------------------------------------------ rules
@callback(Output("alerts-rules", "children"), Input("shell-url", "pathname"),
          Input("alerts-form-status", "children"), Input("alerts-action-status", "children"))
def list_rules(_pathname, _saved, _acted):
    """The user's rules (everybody's for an admin), each with its state and buttons."""
    user = security.current_db_user()
    if user is None or not user.has_role("analyst"):
        return components.empty_state("Sign in as an analyst.")
    listed = alerts.list_rules(security.db_session(), user)
    if not listed:
        return components.empty_state("No alerts yet: create one above.")
    return html.Div([_rule_block(rule, user) for rule in listed], id="alerts-rules-list")


def _button(label: str, action: str, rule_id: int, color: str = "secondary") -> dbc.Button:
    return dbc.Button(label, size="sm", color=color, outline=True,
                      id={"type": "alerts-action", "action": action, "id": rule_id})


def _rule_block(rule, user) -> html.Div:
    state = alerts.rule_state(rule)
    colour = {"armed": "success", "cooling": "warning", "paused": "secondary"}.get(
        state, "info")
    toggle = "resume" if not rule.is_active else "pause"
    fired = (f"last fired {format_datetime(rule.last_fired_at, services.locale())} UTC"
             if rule.last_fired_at
             else "never fired")
    where = ", ".join(part for part in (
        "e-mail" if rule.email else "", "webhook" if rule.webhook_url else "") if part)
    details = [alerts.describe(rule, services.locale()), fired,
               f"to: {where or 'nowhere'}", f"cool-down {rule.cooldown_hours} h"]
    if user.has_role("admin"):
        details.append(f"owner: {rule.owner.email}")
    buttons = [_button(toggle.capitalize(), toggle, rule.id),
               _button("Snooze 1 day", "snooze-day", rule.id),
               _button("Snooze 1 week", "snooze-week", rule.id),
               _button("Edit", "edit", rule.id),
               _button("Test now", "test", rule.id, "primary"),
               _button("Send test", "send", rule.id, "primary"),
               _button("Backtest", "backtest", rule.id, "primary"),
               _button("Firings", "firings", rule.id),
               dcc.ConfirmDialogProvider(
                   dbc.Button("Delete", size="sm", color="danger", outline=True),
                   id={"type": "alerts-delete", "id": rule.id},
                   message=f"Delete the alert “{rule.name}” and its firings?")]
    if rule.snoozed_until is not None and rule.snoozed_until > utcnow():
        buttons.insert(3, _button("Unsnooze", "unsnooze", rule.id))
    return html.Div([
        html.Div([html.Span(rule.name, className="fw-semibold me-2"),
                  dbc.Badge(rule.kind, color="info", className="me-1"),
                  dbc.Badge(state, color=colour)]),
        html.Div(" · ".join(details) + (f" · filters: {rule.filters}" if rule.filters
                                         else ""), className="small"),
        html.Div(buttons, className="d-flex flex-wrap gap-2 mt-1"),
    ], className="border-bottom pb-2 mb-2", id=f"alerts-rule-{rule.id}")


ACTIONS = ("pause", "resume", "snooze-day", "snooze-week", "unsnooze", "test", "send",
           "backtest", "firings", "edit")


@callback(Output("alerts-action-status", "children"),
          Output("alerts-selected", "data"), Output("alerts-editing", "data",
                                                    allow_duplicate=True),
          Input({"type": "alerts-action", "action": ALL, "id": ALL}, "n_clicks"),
          Input({"type": "alerts-delete", "id": ALL}, "submit_n_clicks"),
          State("alerts-backtest-days", "value"),
          prevent_initial_call=True)
def rule_action(_clicks, _deletes, backtest_days):
    """One button of one rule (owner or admin, checked by the services against the
    signed-in user)."""
    trigger = dash.ctx.triggered_id
    if not isinstance(trigger, dict) or not any(item.get("value")
                                                for item in dash.ctx.triggered):
        return dash.no_update, dash.no_update, dash.no_update  # the list was redrawn
    user = security.current_db_user()
    if user is None or not user.has_role("analyst"):
        return "Sign in as an analyst.", dash.no_update, dash.no_update
    action = "delete" if trigger.get("type") == "alerts-delete" else trigger.get("action")
    rule_id = _int_or_none(trigger.get("id")) or 0
    if action not in (*ACTIONS, "delete"):
        return dash.no_update, dash.no_update, dash.no_update
    session = security.db_session()
    settings = services.settings()
    keep = dash.no_update
    try:
        rule = alerts.get_rule(session, user, rule_id)
        name = rule.name
        if action == "edit":
            return f"Editing “{name}” in the form above.", keep, rule_id
        if action == "firings":
            return keep, {"rule": rule_id}, keep
        if action == "delete":
            alerts.delete_rule(session, user, rule_id)
            session.commit()
            return f"Deleted “{name}”.", {}, keep
        if action in ("pause", "resume"):
            alerts.update_rule(session, user, rule_id, {"is_active": action == "resume"},
                               warehouse=context.warehouse(), settings=settings)
            session.commit()
            return f"{'Paused' if action == 'pause' else 'Resumed'} “{name}”.", keep, keep
        if action in SNOOZES or action == "unsnooze":
            until = utcnow() + SNOOZES[action] if action in SNOOZES else None
            alerts.update_rule(session, user, rule_id, {"snoozed_until": until},
                               warehouse=context.warehouse(), settings=settings)
            session.commit()
            return (f"“{name}” snoozed until "
                    f"{format_datetime(until, services.locale())} UTC." if until
                    else f"“{name}” is no longer snoozed."), keep, keep
        if action == "test":
            tried = alerts.try_rule(session, user, rule_id, context.warehouse(),
                                    currency=services.locale())
            return _tried(name, tried), keep, keep
        if action == "backtest":
            answer = alerts.backtest(session, user, rule_id, context.warehouse(),
                                     days=_backtest_days(backtest_days),
                                     currency=services.locale())
            return _backtested(answer, rule_id), keep, keep
        sent = alert_runs.send_test(settings, user.id, rule_id)
    except ShoplensError as exc:
        session.rollback()
        return _warning(str(exc)), keep, keep
    return _sent(name, sent), keep, keep


@callback(Output("alerts-action-status", "children", allow_duplicate=True),
          Input("alerts-form-backtest", "n_clicks"), State("alerts-backtest-days", "value"),
          *FORM_STATES, prevent_initial_call=True)
def backtest_form(_clicks, backtest_days, *form):
    """Backtest the rule in the form before saving it (nothing is saved)."""
    user = security.current_db_user()
    if user is None or not user.has_role("analyst"):
        return "Sign in as an analyst."
    try:
        data = _form_data(*form)
        data["name"] = data["name"] or "This alert"
        answer = alerts.backtest(security.db_session(), user, data, context.warehouse(),
                                 days=_backtest_days(backtest_days),
                                 currency=services.locale())
    except (ShoplensError, context.Unavailable) as exc:
        return _warning(f"No backtest: {exc}")
    return _backtested(answer)


def _tried(name: str, tried: dict) -> dbc.Alert:
    would = {"fire": "would fire now", "cooling": "is met but cooling (already told)",
             "snoozed": "is met but snoozed", "quiet": "would not fire now",
             "unknown": "cannot be judged now"}[tried["would"]]
    return dbc.Alert([html.Div(f"“{name}” {would}.", className="fw-semibold"),
                      html.Div(tried["sentence"]),
                      _explanation_table(tried.get("explanation"))],
                     color="info", className="small", id="alerts-test-result")


def _sent(name: str, sent: list[dict], as_of: dt.date | None = None) -> dbc.Alert:
    rows = [f"{item['channel']} to {item['recipient']}: {item['status']}"
            + (f" ({item['last_error']})" if item.get("last_error") else "") for item in sent]
    when = f" as of {_day_text(as_of.isoformat())}" if as_of else ""
    return dbc.Alert([html.Div(f"Test message of “{name}”{when}:", className="fw-semibold"),
                      *[html.Div(row) for row in rows]],
                     color="info", className="small", id="alerts-send-result")


def _backtest_days(value) -> int:
    days = _int_or_none(value)
    return days if days in BACKTEST_RANGES else BACKTEST_DAYS


def _backtested(answer: dict, rule_id: int | None = None) -> dbc.Alert:
    """The days a backtest would have fired on; for a saved rule, each with "Send as a
    test" (the message it would have sent that day, to its e-mail and webhook)."""
    def send(day: str):
        if rule_id is None:
            return None
        return dbc.Button("Send as a test", size="sm", color="link", className="p-0 ms-2",
                          id={"type": "alerts-send-day", "id": rule_id, "day": day})
    items = [html.Li([html.Span(f"{_day_text(item['day'])}: ", className="fw-semibold"),
                      item["sentence"], send(item["day"])]) for item in answer["fired"]]
    return dbc.Alert([html.Div(answer["summary"], className="fw-semibold"),
                      html.Ul(items, className="mb-0") if items else None],
                     color="info", className="small", id="alerts-backtest-result")


@callback(Output("alerts-action-status", "children", allow_duplicate=True),
          Input({"type": "alerts-send-day", "id": ALL, "day": ALL}, "n_clicks"),
          prevent_initial_call=True)
def send_day(_clicks):
    """Send, as a test, the message a rule would have sent after a day its backtest found
    (owner or admin: checked by the service against the signed-in user)."""
    trigger = dash.ctx.triggered_id
    if not isinstance(trigger, dict) or not any(item.get("value")
                                                for item in dash.ctx.triggered):
        return dash.no_update
    user = security.current_db_user()
    if user is None or not user.has_role("analyst"):
        return "Sign in as an analyst."
    try:
        day = dt.date.fromisoformat(str(trigger.get("day")))
    except ValueError:
        return _warning("That day is not a date.")
    try:
        rule_id = _int_or_none(trigger.get("id")) or 0
        name = alerts.get_rule(security.db_session(), user, rule_id).name
        sent = alert_runs.send_test(services.settings(), user.id, rule_id, as_of=day)
    except ShoplensError as exc:
        return _warning(str(exc))
    return _sent(name, sent, as_of=day)


def _day_text(iso: str) -> str:
    return format_date(dt.date.fromisoformat(iso), services.locale())


# ------------------------------------------------------------------ firings
@callback(Output("alerts-firings", "children"), Input("alerts-selected", "data"),
          Input("shell-url", "search"))
def show_firings(selected, search):
    """The firings of the rule whose "Firings" was pressed, or the firing of the URL's
    ``firing=`` (owner or admin; another's is not found)."""
    user = security.current_db_user()
    if user is None or not user.has_role("analyst"):
        return components.empty_state("Sign in as an analyst.")
    session = security.db_session()
    selected = selected or {}
    firing_id = selected.get("firing")
    if dash.ctx.triggered_id == "shell-url" or (firing_id is None and "rule" not in selected):
        asked = parse_qs((search or "").lstrip("?")).get("firing")
        firing_id = _int_or_none(asked[-1]) if asked else firing_id
    try:
        if selected.get("rule") and dash.ctx.triggered_id == "alerts-selected":
            listed = alerts.firings(session, user, int(selected["rule"]), limit=FIRINGS_SHOWN)
        elif firing_id:
            listed = [alerts.get_firing(session, user, firing_id)]
        else:
            return components.empty_state("Press “Firings” on a rule to see its history.")
    except ShoplensError:
        return components.empty_state("There is no such firing among your alerts.")
    if not listed:
        return components.empty_state("This alert has not fired yet.")
    sent = alerts.firing_deliveries(session, [firing.id for firing in listed])
    return html.Div([_firing_block(firing, sent[firing.id]) for firing in listed])


def _firing_block(firing, deliveries) -> html.Div:
    shape = alerts.firing_to_dict(firing, deliveries)
    currency = services.locale()
    numbers = []
    if firing.period_start and firing.period_end:
        numbers.append(f"period {format_date(firing.period_start, currency)} – "
                       f"{format_date(firing.period_end, currency)}")
    measure = catalog.measure(firing.rule.kpi) if firing.rule.kpi in catalog.KPI_NAMES \
        else None
    for label, value in (("now", firing.current), ("compared with", firing.previous)):
        if value is not None:
            numbers.append(f"{label} " + (format_value(value, measure.kind, currency)
                                          if measure else f"{value:g}"))
    ledger = (dbc.Table([html.Thead(html.Tr([html.Th(h) for h in (
        "channel", "recipient", "state", "attempts", "sent (UTC)", "reason")])),
        html.Tbody([html.Tr([html.Td(item["channel"]), html.Td(item["recipient"]),
                             html.Td(item["status"]), html.Td(item["attempts"]),
                             html.Td((item["sent_at"] or "")[:16].replace("T", " ")),
                             html.Td(item["last_error"] or "")])
                    for item in shape["deliveries"]])], size="sm", className="mb-0 mt-1")
        if shape["deliveries"] else html.Div("No messages recorded.",
                                             className="small text-body-secondary"))
    return html.Div([
        html.Div([html.Span(f"{firing.rule.name} · fired "
                            f"{format_datetime(firing.fired_at, currency)} UTC",
                            className="fw-semibold")]),
        html.Div(firing.sentence),
        html.Div(" · ".join(numbers), className="small text-body-secondary"),
        _explanation_table(firing.explanation),
        ledger,
    ], className="border-bottom pb-2 mb-2", id=f"alerts-firing-{firing.id}")


def _explanation_table(explanation: dict | None):
    """The slices that account for the change, per dimension, in numbers."""
    if not explanation or not explanation.get("dimensions"):
        return None
    measure = catalog.measure(explanation.get("metric") or "revenue")
    currency = services.locale()
    rows = []
    for part in explanation["dimensions"].values():
        for entry in part["contributors"]:
            rows.append(html.Tr([
                html.Td(part["label"]), html.Td(entry["label"]),
                html.Td(format_value(entry["previous"], measure.kind, currency)),
                html.Td(format_value(entry["current"], measure.kind, currency)),
                html.Td(f"{entry['share'] * 100:.0f} %")]))
    return dbc.Table([html.Thead(html.Tr([html.Th(h) for h in (
        "by", "slice", "before", "now", "share of the change")])), html.Tbody(rows)],
        size="sm", className="mb-1 mt-1 small")
