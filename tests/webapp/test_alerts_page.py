"""The Alerts page's callbacks through the real Dash endpoint, on the tiny warehouse of
conftest (revenue 1 Mar 10, 2 Mar 30, 3 Mar 7): an analyst creates a rule of the page's
filters and sees its sentence; a filter beyond the user's scope and a refused webhook are
explained; the buttons act on the user's own rules only (the user is checked server-side,
whatever id the browser sends); the backtest lists the day it would have fired; a firing
opens from ``?firing=``; a viewer is refused by the guard and by the router."""
from __future__ import annotations

import json

import dash
import sqlalchemy as sa

from core import db, mail
from core.orm import AlertFiring, AlertRule, Delivery
from tests.webapp.test_data_upload import text_of

FORM = [("alerts-name", "value"), ("alerts-kind", "value"), ("alerts-kpi", "value"),
        ("alerts-direction", "value"), ("alerts-value", "value"), ("alerts-days", "value"),
        ("alerts-compare", "value"), ("alerts-cooldown", "value"), ("alerts-email", "value"),
        ("alerts-webhook", "value"), ("shell-url", "search")]
DAILY_BELOW_10 = {"name": "Low day", "kind": "threshold", "kpi": "revenue",
                  "direction": "below", "value": 10, "days": 1, "compare": "previous",
                  "cooldown": 24, "email": True, "webhook": "", "search": ""}


def _output_key(client, outputs: list[tuple[str, str]], inputs=None) -> str:
    """The callback's output key as Dash registered it (an output shared with another
    callback, ``allow_duplicate``, carries a suffix ``@<hash>``; then the callback is the
    one whose first input has the id of ``inputs``' first)."""
    names = [f"{i}.{p}" for i, p in outputs]
    key = "..." .join(names).join(["..", ".."]) if len(names) > 1 else names[0]
    client.get("/healthz")  # Dash copies the pages' callbacks on the first request
    first = inputs[0] if inputs else None
    first = first[0] if isinstance(first, list) and first else first
    wanted = first.get("id") if isinstance(first, dict) else None
    if isinstance(wanted, dict):  # a pattern: compare its type
        wanted = wanted.get("type")
    callbacks = client.application.extensions["shoplens.dash"].callback_map
    matching = [known for known in callbacks
                if [part.split("@")[0] for part in known.strip(".").split("...")] == names]
    for known in matching:
        declared = callbacks[known]["inputs"][0]["id"]
        if wanted is None or wanted in declared:
            return known
    return matching[0] if matching else key


def _call(client, outputs: list[tuple[str, str]], inputs, changed: str, state=()):
    body = {"output": _output_key(client, outputs, inputs),
            "outputs": [{"id": i, "property": p} for i, p in outputs] if len(outputs) > 1
            else {"id": outputs[0][0], "property": outputs[0][1]},
            "inputs": inputs, "changedPropIds": [changed], "state": list(state)}
    return client.post("/_dash-update-component", json=body)


def _form_state(**changes) -> list[dict]:
    values = {**DAILY_BELOW_10, **changes}
    ordered = [values["name"], values["kind"], values["kpi"], values["direction"],
               values["value"], values["days"], values["compare"], values["cooldown"],
               values["email"], values["webhook"], values["search"]]
    return [{"id": i, "property": p, "value": v} for (i, p), v in zip(FORM, ordered)]


def save(client, editing=None, **changes):
    return _call(client, [("alerts-form-status", "children"), ("alerts-editing", "data")],
                 [{"id": "alerts-save", "property": "n_clicks", "value": 1}],
                 "alerts-save.n_clicks",
                 [{"id": "alerts-editing", "property": "data", "value": editing},
                  *_form_state(**changes)])


def act(client, action: str, rule_id: int):
    if action == "delete":
        trigger = {"id": rule_id, "type": "alerts-delete"}
        inputs = [[], [{"id": trigger, "property": "submit_n_clicks", "value": 1}]]
        prop = "submit_n_clicks"
    else:
        trigger = {"action": action, "id": rule_id, "type": "alerts-action"}
        inputs = [[{"id": trigger, "property": "n_clicks", "value": 1}], []]
        prop = "n_clicks"
    changed = json.dumps(trigger, sort_keys=True, separators=(",", ":")) + "." + prop
    return _call(client, [("alerts-action-status", "children"), ("alerts-selected", "data"),
                          ("alerts-editing", "data")], inputs, changed,
                 [{"id": "alerts-backtest-days", "property": "value", "value": "90"}])


def send_day(client, rule_id: int, day: str):
    trigger = {"day": day, "id": rule_id, "type": "alerts-send-day"}
    changed = json.dumps(trigger, sort_keys=True, separators=(",", ":")) + ".n_clicks"
    return _call(client, [("alerts-action-status", "children")],
                 [[{"id": trigger, "property": "n_clicks", "value": 1}]], changed)


def preview(client, **changes):
    values = {**DAILY_BELOW_10, **changes}
    names = ("kind", "kpi", "direction", "value", "days", "compare")
    return _call(client, [("alerts-kind", "options"), ("alerts-direction", "options"),
                          ("alerts-value-hint", "children"), ("alerts-preview", "children"),
                          ("alerts-filters", "children"), ("alerts-direction", "value")],
                 [*[{"id": f"alerts-{name}", "property": "value", "value": values[name]}
                    for name in names],
                  {"id": "shell-url", "property": "search", "value": values["search"]}],
                 "alerts-kind.value")


def firings(client, selected=None, search=""):
    return _call(client, [("alerts-firings", "children")],
                 [{"id": "alerts-selected", "property": "data", "value": selected},
                  {"id": "shell-url", "property": "search", "value": search}],
                 "shell-url.search")


def listing(client) -> str:
    response = _call(client, [("alerts-rules", "children")],
                     [{"id": "shell-url", "property": "pathname", "value": "/alerts"},
                      {"id": "alerts-form-status", "property": "children", "value": None},
                      {"id": "alerts-action-status", "property": "children", "value": None}],
                     "shell-url.pathname")
    assert response.status_code == 200, response.text
    return text_of(response.json["response"]["alerts-rules"]["children"])


def out(response, output: str, prop: str = "children"):
    assert response.status_code == 200, response.text
    return response.json["response"][output][prop]


def _rule_id(app, name: str) -> int:
    settings = app.extensions["shoplens.settings"]
    with db.session_scope(settings.database_url) as session:
        return session.scalars(sa.select(AlertRule.id).where(AlertRule.name == name)
                               .order_by(AlertRule.id.desc())).first()


def test_the_preview_says_what_the_rule_watches(signed_in):
    analyst = signed_in("analyst@example.com")
    response = preview(analyst, kind="change", kpi="orders", direction="down", value=20,
                       days=7, search="?country=United%20Kingdom&start=2011-03-01")
    assert out(response, "alerts-preview") == (
        "Tell me when orders fall more than 20 % against the previous 7 days.")
    assert "country=United+Kingdom" in out(response, "alerts-filters")
    kinds = [option["value"] for option in out(response, "alerts-kind", "options")]
    assert "stale_data" not in kinds and "forecast" in kinds
    # a kind without the chosen direction picks its first
    switched = preview(analyst, kind="forecast", direction="down", value=80)
    assert out(switched, "alerts-direction", "value") == "below"
    assert out(switched, "alerts-preview").endswith("falls below the forecast's 80 % range.")
    admin = preview(signed_in("admin@example.com"))
    assert "delivery_failed" in [o["value"] for o in out(admin, "alerts-kind", "options")]


def test_an_analyst_creates_a_rule_of_the_pages_filters(app, signed_in):
    gb = signed_in("gb@example.com")
    created = text_of(out(save(gb, name="GB low day", search="?country=GB&start=2011-03-01"),
                          "alerts-form-status"))
    assert created.startswith("Created “GB low day”: Tell me when revenue (net) on the "
                              "latest day is below £10")
    settings = app.extensions["shoplens.settings"]
    with db.session_scope(settings.database_url) as session:
        rule = session.get(AlertRule, _rule_id(app, "GB low day"))
        assert (rule.filters, rule.owner.email) == ("country=GB", "gb@example.com")
    refused = text_of(out(save(gb, name="France", search="?country=FR"),
                          "alerts-form-status"))
    assert "Not saved: FR is outside your data scope (GB)." in refused
    hooked = text_of(out(save(gb, name="Hook", webhook="http://127.0.0.1:9/x"),
                         "alerts-form-status"))
    assert "Not saved:" in hooked and "loopback" in hooked
    nowhere = text_of(out(save(gb, name="Nowhere", email=False), "alerts-form-status"))
    assert "the alert must go somewhere" in nowhere
    operational = text_of(out(save(gb, name="Stale", kind="stale_data", value=2),
                              "alerts-form-status"))
    assert "for admins" in operational
    assert "GB low day" in listing(gb)


def test_buttons_act_on_the_users_own_rules_only(app, signed_in):
    analyst = signed_in("analyst@example.com")
    save(analyst, name="Mine to act on")
    rule_id = _rule_id(app, "Mine to act on")
    other = signed_in("gb@example.com")
    for action in ("pause", "test", "backtest", "send", "delete", "edit", "firings"):
        refused = act(other, action, rule_id)
        assert "belongs to another user" in text_of(out(refused, "alerts-action-status")), \
            action
    assert "Mine to act on" not in listing(other)
    assert text_of(out(act(analyst, "pause", rule_id), "alerts-action-status")) == \
        "Paused “Mine to act on”."
    assert "paused" in listing(analyst)
    snoozed = text_of(out(act(analyst, "snooze-week", rule_id), "alerts-action-status"))
    assert snoozed.startswith("“Mine to act on” snoozed until ")
    act(analyst, "resume", rule_id)
    tested = text_of(out(act(analyst, "test", rule_id), "alerts-action-status"))
    assert "is met but snoozed" in tested and "£7.00 on 3 Mar 2011" in tested
    backtest = text_of(out(act(analyst, "backtest", rule_id), "alerts-action-status"))
    assert backtest.startswith("“Mine to act on” would have fired on 1 day of the 3 from "
                               "1–3 Mar 2011.")
    assert "3 Mar 2011:  Revenue (net) was £7.00 on 3 Mar 2011" in backtest
    assert out(act(analyst, "edit", rule_id), "alerts-editing", "data") == rule_id
    assert text_of(out(act(analyst, "delete", rule_id), "alerts-action-status")) == \
        "Deleted “Mine to act on”."
    assert _rule_id(app, "Mine to act on") is None


def test_a_form_can_be_backtested_before_saving(signed_in):
    analyst = signed_in("analyst@example.com")
    response = _call(analyst, [("alerts-action-status", "children")],
                     [{"id": "alerts-form-backtest", "property": "n_clicks", "value": 1}],
                     "alerts-form-backtest.n_clicks",
                     [{"id": "alerts-backtest-days", "property": "value", "value": "365"},
                      *_form_state(name="Unsaved")])
    text = text_of(out(response, "alerts-action-status"))
    assert text.startswith("“Unsaved” would have fired on 1 day of the 3")


def test_a_backtest_day_is_sent_as_a_test_by_its_owner_only(app, signed_in):
    """The backtest found 3 Mar (£7.00 below £10); "Send as a test" on that day sends the
    message the rule would have sent then, to the owner's e-mail (the outbox here)."""
    analyst = signed_in("analyst@example.com")
    save(analyst, name="Low day to resend")
    rule_id = _rule_id(app, "Low day to resend")
    refused = send_day(signed_in("gb@example.com"), rule_id, "2011-03-03")
    assert "belongs to another user" in text_of(out(refused, "alerts-action-status"))
    settings = app.extensions["shoplens.settings"]
    assert list(settings.outbox.glob("*.eml")) == []
    sent = text_of(out(send_day(analyst, rule_id, "2011-03-03"), "alerts-action-status"))
    assert sent.startswith("Test message of “Low day to resend” as of 3 Mar 2011:")
    assert "email to analyst@example.com: sent" in sent
    [eml] = settings.outbox.glob("*.eml")
    text = mail.read_eml(eml).get_body(("plain",)).get_content()
    assert "£7.00 on 3 Mar 2011" in text
    assert "not a date" in text_of(out(send_day(analyst, rule_id, "3 March"),
                                       "alerts-action-status"))


def test_a_firing_opens_from_the_link_for_its_owner_only(app, signed_in):
    analyst = signed_in("analyst@example.com")
    save(analyst, name="Fired one")
    settings = app.extensions["shoplens.settings"]
    with db.session_scope(settings.database_url) as session:
        firing = AlertFiring(rule_id=_rule_id(app, "Fired one"),
                             sentence="Revenue (net) was £7.00 on 3 Mar 2011.",
                             current=7.0, previous=30.0,
                             explanation={"metric": "revenue", "lead": "product",
                                          "sentence": "Lamp accounts for 87 % of the drop",
                                          "dimensions": {"product": {
                                              "label": "Product", "total_change": -23,
                                              "contributors": [{
                                                  "key": "P2", "label": "Lamp",
                                                  "previous": 20, "current": 0,
                                                  "change": -20, "share": 0.87}]}}})
        session.add(firing)
        session.flush()
        session.add(Delivery(firing_id=firing.id, channel="email",
                             recipient="analyst@example.com", status="failed", attempts=3,
                             last_error="ConnectionRefusedError: down"))
        firing_id = firing.id
    shown = text_of(out(firings(analyst, search=f"?firing={firing_id}"), "alerts-firings"))
    assert "Revenue (net) was £7.00 on 3 Mar 2011." in shown
    assert "Lamp" in shown and "87 %" in shown and "£20.00" in shown
    assert "email analyst@example.com failed 3" in shown
    assert "ConnectionRefusedError: down" in shown
    other = text_of(out(firings(signed_in("gb@example.com"), search=f"?firing={firing_id}"),
                        "alerts-firings"))
    assert "There is no such firing among your alerts." in other and "Lamp" not in other


def test_a_viewer_is_refused_by_the_guard_and_the_router(app, signed_in):
    viewer = signed_in("viewer@example.com")
    assert save(viewer).status_code == 403
    assert act(viewer, "pause", 1).status_code == 403
    assert preview(viewer).status_code == 403
    assert firings(viewer, search="?firing=1").status_code == 403
    routed = _call(viewer, [("shell-page", "children"), ("shell-rendered-path", "data")],
                   [{"id": "shell-url", "property": "pathname", "value": "/alerts"}],
                   "shell-url.pathname",
                   [{"id": "shell-rendered-path", "property": "data", "value": None}])
    assert text_of(out(routed, "shell-page")) == "∅ This page is not available to your role."
    from webapp.dashboard import shell
    assert "/alerts" not in [page["path"] for page in shell.visible_pages("viewer")]
    assert "/alerts" in [page["path"] for page in shell.visible_pages("analyst")]
    [page] = [page for page in dash.page_registry.values() if page["path"] == "/alerts"]
    assert page["role"] == "analyst"
