"""The notifications API (the navbar bell's): every signed-in role reads its own, newest
first, with the unread count; marking read touches only the caller's own (another user's
ids are ignored); signed out is 401."""
from __future__ import annotations

import datetime as dt

import pytest

from core import db, notifications
from core.orm import Notification, User
from tests.webapp.conftest import bearer, make_token


@pytest.fixture(scope="module")
def api(app):
    client = app.test_client()
    tokens: dict[str, str] = {}

    def call(email, method, path, body=None):
        headers = {}
        if email is not None:
            tokens.setdefault(email, make_token(app, email))
            headers = bearer(tokens[email])
        return client.open(f"/api/v1{path}", method=method, headers=headers, json=body)
    return call


@pytest.fixture
def notes(app):
    """Two notifications for the viewer (the second newer), one for the analyst."""
    settings = app.extensions["shoplens.settings"]
    made = {}
    with db.session_scope(settings.database_url) as session:
        session.query(Notification).delete()
        by_email = {user.email: user for user in session.query(User)}
        for key, email, minutes in (("old", "viewer@example.com", 0),
                                    ("new", "viewer@example.com", 5),
                                    ("other", "analyst@example.com", 3)):
            note = notifications.notify(session, by_email[email], "alert", f"Alert: {key}",
                                        link="/alerts?firing=1", ref=f"firing:{key}")
            note.created_at = dt.datetime(2025, 3, 9, 8, minutes)
            made[key] = note.id
    return made


def test_signed_out_is_401(api):
    assert api(None, "GET", "/notifications").status_code == 401
    assert api(None, "POST", "/notifications/read", {}).status_code == 401


def test_each_user_sees_only_their_own_newest_first(api, notes):
    answer = api("viewer@example.com", "GET", "/notifications")
    assert answer.status_code == 200, answer.text
    assert [note["title"] for note in answer.json["notifications"]] == ["Alert: new",
                                                                         "Alert: old"]
    assert answer.json["unread"] == 2
    other = api("analyst@example.com", "GET", "/notifications").json
    assert [note["id"] for note in other["notifications"]] == [notes["other"]]
    assert api("admin@example.com", "GET", "/notifications").json == {
        "notifications": [], "unread": 0}


def test_marking_read_touches_only_your_own(api, notes):
    # the viewer names the analyst's notification and one of their own
    answer = api("viewer@example.com", "POST", "/notifications/read",
                 {"ids": [notes["other"], notes["old"]]})
    assert answer.status_code == 200, answer.text
    assert answer.json == {"marked": 1, "unread": 1}
    assert api("analyst@example.com", "GET", "/notifications").json["unread"] == 1
    listed = api("viewer@example.com", "GET", "/notifications").json["notifications"]
    assert [(note["title"], note["read"]) for note in listed] == [("Alert: new", False),
                                                                  ("Alert: old", True)]
    # {} marks all of the caller's own
    assert api("viewer@example.com", "POST", "/notifications/read", {}).json == {
        "marked": 1, "unread": 0}
    assert api("analyst@example.com", "GET", "/notifications").json["unread"] == 1


@pytest.mark.parametrize("body, message", [
    ({"ids": ["x"]}, "ids"), ({"ids": [0]}, "ids"), ({"all": True}, "all")])
def test_bad_bodies_are_400(api, notes, body, message):
    answer = api("viewer@example.com", "POST", "/notifications/read", body)
    assert answer.status_code == 400 and message in answer.json["error"]["message"]


# ----------------------------------------------------------------- the navbar bell
def bell(client, trigger: str = "shell-url.pathname"):
    from tests.webapp.test_data_upload import text_of
    response = client.post("/_dash-update-component", json={
        "output": "..shell-bell-count.children...shell-bell-count.className..."
                  "shell-bell-list.children..",
        "outputs": [{"id": "shell-bell-count", "property": "children"},
                    {"id": "shell-bell-count", "property": "className"},
                    {"id": "shell-bell-list", "property": "children"}],
        "inputs": [{"id": "shell-url", "property": "pathname", "value": "/"},
                   {"id": "shell-bell-poll", "property": "n_intervals", "value": 1},
                   {"id": "shell-bell-read", "property": "n_clicks", "value": 1}],
        "changedPropIds": [trigger]})
    if response.status_code != 200:
        return response.status_code, None, None
    answer = response.json["response"]
    return (answer["shell-bell-count"]["children"], answer["shell-bell-count"]["className"],
            text_of(answer["shell-bell-list"]["children"]))


def test_the_bell_shows_and_marks_only_the_users_own(app, signed_in, notes):
    viewer = signed_in("viewer@example.com")
    count, classes, listed = bell(viewer)
    assert (count, classes) == ("2", "ms-1")
    assert listed.index("Alert: new") < listed.index("Alert: old")
    assert "Alert: other" not in listed and "d ago" in listed
    assert bell(viewer, "shell-bell-read.n_clicks")[:2] == ("", "ms-1 d-none")
    analyst = signed_in("analyst@example.com")
    count, _classes, listed = bell(analyst)
    assert count == "1" and "Alert: other" in listed and "Alert: new" not in listed
    assert bell(app.test_client())[0] in (401, 403)


def test_time_ago():
    from webapp.dashboard.shell import time_ago
    now = dt.datetime(2025, 3, 9, 12, 0)
    assert [time_ago(now - dt.timedelta(seconds=s), now) for s in (5, 300, 7200, 172800)] == [
        "just now", "5 min ago", "2 h ago", "2 d ago"]


@pytest.mark.parametrize("path", ["/notifications", "/notifications/read"])
def test_fuzzed_requests_get_no_server_error(app, path):
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from schemathesis.specs.openapi.checks import positive_data_acceptance

    headers = bearer(make_token(app, "viewer@example.com"))
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
