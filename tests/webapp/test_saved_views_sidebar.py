"""The sidebar's Views section, through the real Dash endpoint: saving keeps a preset
relative, a name taken or a viewer sharing is refused in the dialog, a view id the user may
not open (or change) is refused like an unknown one, opening navigates with the dates of now;
and the app root lands on a user's default view.

The warehouse is ``tests/webapp/conftest.py``'s: data 2011-03-01…2011-03-03, so "last 7
days" is 2011-02-25…2011-03-03."""
from __future__ import annotations

import json

import pytest

from core import db, users, views
from core.orm import SavedView, UserPreferences
from webapp.dashboard import views_ui

LAST_7 = "start=2011-02-25&end=2011-03-03"


@pytest.fixture(autouse=True)
def no_views(app):
    settings = app.extensions["shoplens.settings"]
    with db.session_scope(settings.database_url) as session:
        session.query(UserPreferences).delete()
        session.query(SavedView).delete()


def _session(app):
    return db.session_scope(app.extensions["shoplens.settings"].database_url)


def _make_view(app, email: str, **values) -> int:
    with _session(app) as session:
        owner = users.get_user(session, email)
        return views.create_view(session, owner, {"name": "GB week", "page": "/sales",
                                                  "filters": "country=GB",
                                                  "period": "last_7", **values}).id


# ---------------------------------------------------------------------- the Dash endpoint
def _output_key(client, outputs: list[tuple[str, str]], trigger: str) -> str:
    """The key Dash registered the callback under (``@hash`` suffixes for outputs shared
    by several callbacks), found by its outputs and the input that triggers it."""
    names = [f"{i}.{p}" for i, p in outputs]
    client.get("/healthz")
    for known, spec in client.application.extensions["shoplens.dash"].callback_map.items():
        parts = known.strip(".").split("...")
        if [part.split("@")[0] for part in parts] == names and any(
                trigger == item["id"] for item in spec["inputs"]):
            return known
    raise AssertionError(f"no callback for {names}")


def _call(client, outputs, inputs: dict, state: dict | None = None):
    """Call a callback; ``inputs``/``state`` map "id.property" to a value; the first input
    is the one that changed."""
    def props(mapping):
        return [{"id": key.rsplit(".", 1)[0], "property": key.rsplit(".", 1)[1],
                 "value": value} for key, value in mapping.items()]
    changed = next(iter(inputs))
    body = {"output": _output_key(client, outputs, changed.rsplit(".", 1)[0]),
            "outputs": [{"id": i, "property": p} for i, p in outputs],
            "inputs": props(inputs), "changedPropIds": [changed],
            "state": props(state or {})}
    return client.post("/_dash-update-component", json=body)


SAVE = [("shell-views-dialog", "is_open"), ("shell-views-save-error", "children"),
        ("shell-views-open", "options"), ("shell-views-open", "value"),
        ("shell-views-message", "children")]


def save(client, name: str, *, search: str = f"?{LAST_7}&country=GB", preset="last_7",
         relative=True, sharing="private", chosen=None, make_default=False):
    response = _call(client, SAVE, {"shell-views-confirm.n_clicks": 1}, {
        "shell-views-name.value": name, "shell-views-relative.value": relative,
        "shell-views-sharing.value": sharing, "shell-views-users.value": chosen,
        "shell-views-default.value": make_default, "shell-url.pathname": "/sales",
        "shell-url.search": search, "shell-preset.value": preset})
    assert response.status_code == 200, response.text
    return response.json["response"]


def open_view(client, value, search: str = ""):
    response = _call(client, [("shell-url-writer", "href"), ("shell-views-message", "children")],
                     {"shell-views-open.value": value},
                     {"shell-url.pathname": "/", "shell-url.search": search})
    assert response.status_code == 200, response.text
    return response.json["response"]


def fill(client):
    response = _call(client, [("shell-views-open", "options"), ("shell-views-users", "options"),
                              ("shell-views-sharing", "options")],
                     {"shell-url.pathname": "/", "shell-views-changed.data": 0})
    assert response.status_code == 200, response.text
    return response.json["response"]


# ---------------------------------------------------------------------- tests
def test_saving_keeps_a_preset_relative_and_opening_computes_its_dates(app, signed_in):
    analyst = signed_in("analyst@example.com")
    answer = save(analyst, "GB, last 7 days")
    view_id = answer["shell-views-open"]["value"]
    assert answer["shell-views-dialog"]["is_open"] is False
    assert answer["shell-views-message"]["children"] == "Saved the view 'GB, last 7 days'."
    assert {"label": "GB, last 7 days", "value": view_id} in answer["shell-views-open"]["options"]
    with _session(app) as session:
        saved = session.get(SavedView, view_id)
        assert (saved.page, saved.filters, saved.period) == ("/sales", "country=GB", "last_7")
    fixed = save(analyst, "Fixed", relative=False)["shell-views-open"]["value"]
    with _session(app) as session:
        assert session.get(SavedView, fixed).filters == f"{LAST_7}&country=GB"
        assert session.get(SavedView, fixed).period is None
    opened = open_view(analyst, view_id)
    assert opened["shell-url-writer"]["href"] == f"/sales?{LAST_7}&country=GB"
    options = fill(analyst)["shell-views-open"]["options"]
    assert [option["label"] for option in options] == ["Mine", "Fixed", "GB, last 7 days"]
    assert options[0]["disabled"] is True


def test_the_dialog_refuses_a_taken_name_and_a_viewer_sharing(app, signed_in):
    analyst, viewer = signed_in("analyst@example.com"), signed_in("viewer@example.com")
    save(analyst, "Taken")
    again = save(analyst, "Taken")
    assert again["shell-views-dialog"]["is_open"] is True
    assert "already have a view named 'Taken'" in again["shell-views-save-error"]["children"]
    refused = save(viewer, "Shared", sharing="everyone")
    assert "analyst role" in refused["shell-views-save-error"]["children"]
    sharing = {option["value"]: option["disabled"]
               for option in fill(viewer)["shell-views-sharing"]["options"]}
    assert sharing == {"private": False, "everyone": True, "users": True}
    assert fill(viewer)["shell-views-users"]["options"] == []  # no list of users for viewers
    assert "viewer@example.com" in json.dumps(fill(analyst)["shell-views-users"]["options"])
    private = save(viewer, "Mine")
    assert private["shell-views-dialog"]["is_open"] is False


def test_an_id_the_user_may_not_open_or_change_is_refused(app, signed_in):
    private = _make_view(app, "analyst@example.com", name="Private")
    shared = _make_view(app, "analyst@example.com", name="Everyone", sharing="everyone")
    other = signed_in("gb@example.com")
    refused = open_view(other, private)
    assert refused == {"shell-views-message": {"children": views_ui.NOT_AVAILABLE}}
    assert "Private" not in json.dumps(fill(other))
    shared_options = fill(other)["shell-views-open"]["options"]
    assert [option["label"] for option in shared_options] == [
        "Shared", "Everyone (analyst@example.com)"]
    buttons = _call(other, [("shell-views-update", "disabled"),
                            ("shell-views-delete-button", "disabled")],
                    {"shell-views-open.value": shared}).json["response"]
    assert buttons["shell-views-update"]["disabled"] is True  # not theirs to change
    for value in (private, shared):
        deleted = _call(other, [("shell-views-changed", "data"), ("shell-views-open", "value"),
                                ("shell-views-message", "children")],
                        {"shell-views-delete.submit_n_clicks": 1},
                        {"shell-views-open.value": value, "shell-views-changed.data": 0})
        assert "shell-views-changed" not in deleted.json["response"]
        updated = _call(other, [("shell-views-changed", "data"),
                                ("shell-views-message", "children")],
                        {"shell-views-update.n_clicks": 1},
                        {"shell-views-open.value": value, "shell-url.pathname": "/",
                         "shell-url.search": "", "shell-preset.value": "last_7",
                         "shell-views-changed.data": 0})
        assert "shell-views-changed" not in updated.json["response"]
    with _session(app) as session:
        assert {view.name for view in session.query(SavedView)} == {"Private", "Everyone"}
        assert session.get(SavedView, shared).filters == "country=GB"


def test_the_owner_updates_and_deletes(app, signed_in):
    view_id = _make_view(app, "analyst@example.com")
    analyst = signed_in("analyst@example.com")
    updated = _call(analyst, [("shell-views-changed", "data"),
                              ("shell-views-message", "children")],
                    {"shell-views-update.n_clicks": 1},
                    {"shell-views-open.value": view_id, "shell-url.pathname": "/geography",
                     "shell-url.search": f"?{LAST_7}&country=FR", "shell-preset.value": "last_7",
                     "shell-views-changed.data": 3}).json["response"]
    assert updated["shell-views-changed"]["data"] == 4
    with _session(app) as session:
        view = session.get(SavedView, view_id)
        assert (view.page, view.filters, view.period) == ("/geography", "country=FR", "last_7")
    deleted = _call(analyst, [("shell-views-changed", "data"), ("shell-views-open", "value"),
                              ("shell-views-message", "children")],
                    {"shell-views-delete.submit_n_clicks": 1},
                    {"shell-views-open.value": view_id, "shell-views-changed.data": 4})
    assert deleted.json["response"]["shell-views-message"]["children"] == (
        "Deleted the view 'GB week'.")
    with _session(app) as session:
        assert session.get(SavedView, view_id) is None


def test_signed_out_callbacks_are_refused(app):
    response = _call(app.test_client(), [("shell-url-writer", "href"),
                                         ("shell-views-message", "children")],
                     {"shell-views-open.value": 1},
                     {"shell-url.pathname": "/", "shell-url.search": ""})
    assert response.status_code in (401, 403)


def test_the_app_root_lands_on_the_default_view(app, signed_in):
    view_id = _make_view(app, "analyst@example.com", sharing="users",
                         shared_with=[_user_id(app, "viewer@example.com")])
    analyst = signed_in("analyst@example.com")
    assert analyst.get("/").status_code == 200  # no default yet: the overview
    with _session(app) as session:
        views.set_default(session, users.get_user(session, "viewer@example.com"), view_id)
    viewer = signed_in("viewer@example.com")
    landing = viewer.get("/")
    assert landing.status_code == 302
    assert landing.headers["Location"] == f"/sales?{LAST_7}&country=GB"
    assert viewer.get("/?country=FR").status_code == 200  # a link with filters is kept
    assert viewer.get("/sales").status_code == 200
    assert analyst.get("/").status_code == 200  # the viewer's default is theirs alone
    signed_out = app.test_client().get("/")
    assert signed_out.status_code == 302 and "/login" in signed_out.headers["Location"]
    # after sign-in the browser goes to / and from there to the default view
    fresh = app.test_client()
    from tests.webapp.conftest import sign_in
    after = sign_in(fresh, "viewer@example.com")
    assert after.status_code == 302
    assert fresh.get(after.headers["Location"]).headers.get("Location") == (
        f"/sales?{LAST_7}&country=GB")


def _user_id(app, email: str) -> int:
    with _session(app) as session:
        return users.get_user(session, email).id
