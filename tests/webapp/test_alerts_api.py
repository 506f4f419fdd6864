"""The alerts API on the tiny warehouse of conftest (last day 3 Mar 2011): who may call it
(no user 401, a viewer 403, another analyst's rule 404, an admin everything), bad rules
refused with a message (400, or 403 for a filter outside the scope), the test run under the
owner's scope, snoozing, the firings and their deliveries, the backtest, a test message to
a real local webhook receiver, deleting."""
from __future__ import annotations

import pytest

from core import alert_runs
from tests.webapp.conftest import bearer, make_token, outbox_messages

# 3 Mar: only I4, EIRE, £7. 2 Mar: GB 20 − 5 = 15, France 15 → 30. Revenue 30 → 7 (−23).
# By product: Lamp (P2) 20 → 0, Mug (P1) 10 → 0, P3 0 → 7: Lamp is 20 / 23 = 87 % of it.
DAILY_BELOW_10 = {"name": "Daily revenue", "kind": "threshold", "kpi": "revenue",
                  "direction": "below", "value": 10, "days": 1}


@pytest.fixture(scope="module")
def api(app):
    client = app.test_client()
    tokens: dict[str, str] = {}

    def call(email: str | None, method: str, path: str, body: dict | None = None):
        headers = {}
        if email is not None:
            if email not in tokens:
                tokens[email] = make_token(app, email)
            headers = bearer(tokens[email])
        return client.open(f"/api/v1{path}", method=method, headers=headers, json=body)
    return call


def _create(api, user, **changes) -> dict:
    response = api(user, "POST", "/alerts", {**DAILY_BELOW_10, **changes})
    assert response.status_code == 201, response.text
    return response.json


def test_access(api):
    assert api(None, "GET", "/alerts").status_code == 401
    response = api("viewer@example.com", "POST", "/alerts", DAILY_BELOW_10)
    assert response.status_code == 403 and "analyst" in response.json["error"]["message"]
    rule = _create(api, "analyst@example.com")
    assert rule["owner"] == "analyst@example.com" and rule["armed"] is True
    path = f"/alerts/{rule['id']}"
    for method, suffix in (("GET", ""), ("PATCH", ""), ("DELETE", ""), ("POST", "/test"),
                           ("GET", "/firings"), ("POST", "/backtest"),
                           ("POST", "/send-test")):
        body = ({"name": "mine now"} if method == "PATCH" else
                {"days": 2} if suffix == "/backtest" else None)
        response = api("gb@example.com", method, path + suffix, body)
        assert response.status_code == 404, (method, suffix, response.text)
        assert response.json["error"]["message"] == f"There is no alert {rule['id']}."
    assert api("admin@example.com", "GET", path).json["name"] == "Daily revenue"
    ids = [item["id"] for item in api("analyst@example.com", "GET", "/alerts").json["alerts"]]
    assert rule["id"] in ids
    assert rule["id"] not in [item["id"] for item in
                              api("gb@example.com", "GET", "/alerts").json["alerts"]]
    assert api("analyst@example.com", "GET", "/alerts/999999").status_code == 404


@pytest.mark.parametrize("changes, status, message", [
    ({"kpi": "revnue"}, 400, "unknown KPI 'revnue'"),
    ({"kind": "change", "direction": "down", "value": -20}, 400, "percentage above 0"),
    ({"kind": "change"}, 400, "down or up"),
    ({"kpi": "margin", "value": 25}, 400, "fraction between 0 and 1"),
    ({"days": 0}, 400, "days"),
    ({"filters": "country=FR"}, 403, "outside the owner's data scope (GB)"),
    ({"filters": "country=France"}, 400, "France"),
    ({"filters": "start=2011-01-01"}, 400, "set days"),
    ({"compare": "yesterday"}, 400, "compare"),
    ({"email": False}, 400, "the alert must go somewhere"),
    ({"webhook_url": "http://127.0.0.1:9/hook"}, 400, "loopback address"),
    ({"kind": "forecast", "kpi": "customers"}, 400, "the forecast rule watches"),
    ({"kind": "delivery_failed"}, 403, "for admins"),
    ({"kind": "load_failed"}, 403, "for admins"),
])
def test_bad_rules_are_refused_with_a_message(api, changes, status, message):
    response = api("gb@example.com", "POST", "/alerts", {**DAILY_BELOW_10, **changes})
    assert response.status_code == status, response.text
    assert message in response.json["error"]["message"]


def test_the_test_run_is_computed_under_the_owners_scope(api):
    everything = _create(api, "analyst@example.com")
    answer = api("analyst@example.com", "POST", f"/alerts/{everything['id']}/test").json
    assert answer["would"] == "fire" and answer["current"] == pytest.approx(7)
    assert answer["previous"] == pytest.approx(30)
    assert answer["period"] == {"start": "2011-03-03", "end": "2011-03-03"}
    assert answer["sentence"] == (
        "Revenue (net) was £7.00 on 3 Mar 2011, below the £10.00 threshold; against the "
        "previous day, Lamp accounts for 87 % of the drop (−£20).")
    gb = _create(api, "gb@example.com")
    answer = api("gb@example.com", "POST", f"/alerts/{gb['id']}/test").json
    # GB has nothing on 3 Mar (15 the day before)
    assert (answer["would"], answer["current"], answer["previous"]) == ("fire", 0, 15)
    # testing changes nothing
    assert api("gb@example.com", "GET", f"/alerts/{gb['id']}").json["armed"] is True


def test_snooze_then_fire_and_the_email(api, app):
    rule = _create(api, "analyst@example.com", name="Snoozed one")
    response = api("analyst@example.com", "PATCH", f"/alerts/{rule['id']}",
                   {"snoozed_until": "2999-01-01T00:00:00Z"})
    assert response.status_code == 200, response.text
    assert response.json["snoozed_until"] == "2999-01-01T00:00:00Z"
    answer = api("analyst@example.com", "POST", f"/alerts/{rule['id']}/test").json
    assert answer["would"] == "snoozed"
    assert api("analyst@example.com", "PATCH", f"/alerts/{rule['id']}",
               {"snoozed_until": None}).json["snoozed_until"] is None

    settings = app.extensions["shoplens.settings"]
    before = len(outbox_messages(app, "analyst@example.com"))
    alert_runs.evaluate_all(settings)
    firings = api("analyst@example.com", "GET", f"/alerts/{rule['id']}/firings").json
    [firing] = firings["firings"]
    assert firing["current"] == pytest.approx(7)
    [delivery] = firing["deliveries"]
    assert (delivery["channel"], delivery["recipient"], delivery["status"]) == (
        "email", "analyst@example.com", "sent")
    assert "Lamp accounts for 87 % of the drop" in firing["sentence"]
    messages = outbox_messages(app, "analyst@example.com")
    assert len(messages) > before
    subjects = [message["Subject"] for message in messages]
    assert "Shoplens alert: Snoozed one" in subjects
    assert api("analyst@example.com", "GET", f"/alerts/{rule['id']}").json["armed"] is False
    # a second run: the same incident, no second firing
    alert_runs.evaluate_all(settings)
    assert len(api("analyst@example.com", "GET",
                   f"/alerts/{rule['id']}/firings").json["firings"]) == 1


def test_delete(api):
    rule = _create(api, "analyst@example.com", name="Short-lived")
    response = api("analyst@example.com", "DELETE", f"/alerts/{rule['id']}")
    assert response.status_code == 200 and response.json == {"deleted": rule["id"]}
    assert api("analyst@example.com", "GET", f"/alerts/{rule['id']}").status_code == 404


def test_operational_rules_are_for_admins(api):
    stale = {"name": "Stale data", "kind": "stale_data", "value": 2}
    response = api("analyst@example.com", "POST", "/alerts", stale)
    assert response.status_code == 403 and "for admins" in response.json["error"]["message"]
    rule = _create(api, "admin@example.com", **{**stale, "kpi": "", "direction": None,
                                                "days": 7})
    answer = api("admin@example.com", "POST", f"/alerts/{rule['id']}/test").json
    assert answer["would"] == "fire"
    assert answer["sentence"].startswith("The newest data is from 3 Mar 2011, ")


def test_new_fields_round_trip(api):
    rule = _create(api, "analyst@example.com", kind="change", direction="down", value=20,
                   compare="last_year")
    assert (rule["compare"], rule["email"], rule["webhook_url"], rule["state"]) == (
        "last_year", True, None, "armed")
    changed = api("analyst@example.com", "PATCH", f"/alerts/{rule['id']}",
                  {"is_active": False}).json
    assert changed["state"] == "paused"
    # the tiny warehouse has nothing a year before 3 Mar 2011: nothing to compare with
    answer = api("analyst@example.com", "POST", f"/alerts/{rule['id']}/test").json
    assert answer["would"] == "unknown"
    assert "cannot be compared against the same days a year before" in answer["sentence"]


def test_backtest(api):
    rule = _create(api, "analyst@example.com", name="Backtested")
    # as of 1 Mar revenue was 10, 2 Mar 30, 3 Mar 7: below 10 on 3 Mar only
    answer = api("analyst@example.com", "POST", f"/alerts/{rule['id']}/backtest",
                 {"days": 90})
    assert answer.status_code == 200, answer.text
    body = answer.json
    assert (body["start"], body["end"], body["days"]) == ("2011-03-01", "2011-03-03", 3)
    assert [item["day"] for item in body["fired"]] == ["2011-03-03"]
    assert body["fired"][0]["sentence"].startswith("Revenue (net) was £7.00 on 3 Mar 2011")
    assert body["summary"] == "“Backtested” would have fired on 1 day of the 3 from 1–3 Mar 2011."
    ranged = api("analyst@example.com", "POST", f"/alerts/{rule['id']}/backtest",
                 {"start": "2011-03-01", "end": "2011-03-02"}).json
    assert ranged["count"] == 0 and ranged["days"] == 2
    for body, message in (({"days": 0}, "days"), ({"days": 9, "start": "2011-03-01"},
                                                   "not both"),
                          ({"start": "2011-03-03", "end": "2011-03-01"}, "after end"),
                          ({"start": "2020-01-01"}, "is empty")):
        response = api("analyst@example.com", "POST", f"/alerts/{rule['id']}/backtest", body)
        assert response.status_code == 400, (body, response.text)
        assert message in response.json["error"]["message"]
    # the owner's scope: GB sold nothing on 3 Mar and 15 on 2 Mar (10 on 1 Mar)
    gb = _create(api, "gb@example.com", name="GB backtest")
    answer = api("gb@example.com", "POST", f"/alerts/{gb['id']}/backtest", {"days": 3}).json
    assert [(item["day"], item["current"]) for item in answer["fired"]] == [
        ("2011-03-03", 0)]


def test_send_test_reaches_a_real_webhook(api, app):
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    received = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings = app.extensions["shoplens.settings"]
    port = server.server_address[1]
    allowed = settings.webhook_allowed_hosts
    object.__setattr__(settings, "webhook_allowed_hosts", (f"127.0.0.1:{port}",))
    try:
        rule = _create(api, "analyst@example.com", name="Hooked", email=False,
                       webhook_url=f"http://127.0.0.1:{port}/hook")
        response = api("analyst@example.com", "POST", f"/alerts/{rule['id']}/send-test")
        assert response.status_code == 200, response.text
        [delivery] = response.json["deliveries"]
        assert (delivery["channel"], delivery["status"]) == ("webhook", "sent")
        assert response.json["message"] == "1 of 1 test message(s) sent."
        assert len(received) == 1 and "Hooked" in json.dumps(received[0])
        # the test changed nothing
        assert api("analyst@example.com", "GET", f"/alerts/{rule['id']}").json["armed"]
    finally:
        object.__setattr__(settings, "webhook_allowed_hosts", allowed)
        server.shutdown()


@pytest.mark.parametrize("path", ["/alerts", "/alerts/{alert_id}",
                                  "/alerts/{alert_id}/test", "/alerts/{alert_id}/firings",
                                  "/alerts/{alert_id}/backtest"])
def test_fuzzed_requests_get_no_server_error(app, path):
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from schemathesis.specs.openapi.checks import positive_data_acceptance

    headers = bearer(make_token(app, "analyst@example.com"))
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, headers=headers)
    operations = [result.ok() for result in schema.include(path=path).get_all_operations()]
    assert operations, path
    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=20, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def answers_well(case):
            case.call_and_validate(headers=headers,
                                   excluded_checks=[positive_data_acceptance])
        answers_well()
