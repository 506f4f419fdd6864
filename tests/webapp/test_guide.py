"""Where a user stands: the "Your data: …" badge of a scoped user in the dashboard's navbar
(/_dash-layout) and on the Flask pages, nothing for an unscoped one; the Overview's demo
banner on demo data only (a version whose quality report says format "demo"), gone after a
real load; the tour's steps through the real Dash endpoint; ``lang`` on both shells.

Users of tests/webapp/conftest.py: fr@example.com (viewer, scope France), viewer@ and
admin@ (all data).
"""
from __future__ import annotations

import json

from analytics.filters import Scope
from tests.webapp.test_alerts_page import _call
from tests.webapp.test_auth import _component_props
from webapp.dashboard import guide


def _props(client, path: str = "/") -> list[dict]:
    layout = client.get("/_dash-layout", headers={"Referer": f"http://localhost{path}"})
    assert layout.status_code == 200
    return list(_component_props(layout.json))


def _by_id(props: list[dict], component_id: str) -> dict | None:
    found = [p for p in props if p.get("id") == component_id]
    return found[0] if found else None


def test_scope_names_are_country_names():
    assert guide.scope_names(Scope.of(["DE", "FR"])) == "France, Germany"
    assert guide.scope_names(Scope.of(None)) == ""
    assert guide.scope_names(Scope.of([])) == "no country yet"


def test_a_scoped_user_sees_the_badge_in_the_dashboard(signed_in):
    props = _props(signed_in("fr@example.com"))
    badge = _by_id(props, "shell-scope-badge")
    assert badge["children"] == "Your data: France"
    assert badge["title"] == guide.SCOPE_TIP
    [tooltip] = [p for p in props if p.get("target") == "shell-scope-badge"]
    assert tooltip["children"] == "You see only these countries' data; ask an admin to change it"


def test_an_unscoped_user_has_no_badge(signed_in):
    for email in ("viewer@example.com", "admin@example.com"):
        props = _props(signed_in(email))
        assert _by_id(props, "shell-scope-badge") is None
        assert _by_id(props, "shell-tour-open") is not None  # the tour is for everyone


def test_the_flask_pages_show_the_badge_to_a_scoped_user_only(signed_in):
    page = signed_in("fr@example.com").get("/account/password").text
    assert 'id="shell-scope-badge"' in page and "Your data: France" in page
    assert "ask an admin to change it" in page
    page = signed_in("viewer@example.com").get("/account/password").text
    assert "shell-scope-badge" not in page and "Your data:" not in page


def test_both_shells_say_their_language(client, signed_in):
    assert '<html lang="en"' in client.get("/login").text
    assert '<html lang="en">' in signed_in("viewer@example.com").get("/").text


def _republish(app, data_format: str) -> None:
    """The current lines again as a new version whose quality report has ``data_format``."""
    warehouse = app.extensions["shoplens.warehouse"]
    warehouse.publish(warehouse.read_lines(), quality={"format": data_format},
                      source=data_format)


def test_the_demo_banner_shows_on_demo_data_and_not_after_a_real_load(app, signed_in):
    admin, viewer = signed_in("admin@example.com"), signed_in("viewer@example.com")
    assert _by_id(_props(admin), "overview-demo") is None  # the test data is no demo
    assert _by_id(_props(admin), "shell-tour-first")["data"] is None
    _republish(app, "demo")
    try:
        props = _props(admin)
        banner = _by_id(props, "overview-demo")
        assert "You are looking at demo data (a made-up shop)." in json.dumps(banner)
        assert _by_id(props, "overview-demo-link")["href"] == "/data"
        # a viewer is told who can load data, without a link to a page they cannot open
        viewer_props = _props(viewer)
        assert _by_id(viewer_props, "overview-demo") is not None
        assert _by_id(viewer_props, "overview-demo-link") is None
        # on demo data the tour may open by itself: the store holds the user's id
        assert _by_id(props, "shell-tour-first")["data"]
    finally:
        _republish(app, "online_retail")
    assert _by_id(_props(admin), "overview-demo") is None
    assert _by_id(_props(admin), "shell-tour-first")["data"] is None


DISMISS = [("overview-demo", "is_open"), ("overview-demo-dismissed", "data")]


def test_dismissing_the_banner_is_kept_per_user(signed_in):
    viewer = signed_in("viewer@example.com")

    def call(trigger, dismissed, user):
        inputs = [{"id": "overview-demo-dismiss", "property": "n_clicks", "value": 1},
                  {"id": "overview-demo-dismissed", "property": "data", "value": dismissed}]
        state = [{"id": "overview-demo-user", "property": "data", "value": user}]
        return _call(viewer, DISMISS, inputs, trigger, state).json["response"]

    shown = call("overview-demo-dismissed.data", None, "7")
    assert shown["overview-demo"]["is_open"] is True
    gone = call("overview-demo-dismiss.n_clicks", None, "7")
    assert gone["overview-demo"]["is_open"] is False
    assert gone["overview-demo-dismissed"]["data"] == ["7"]
    # another user of the same browser still sees it
    other = call("overview-demo-dismissed.data", ["7"], "8")
    assert other["overview-demo"]["is_open"] is True


TOUR = [("shell-tour", "is_open"), ("shell-tour-step", "data"), ("shell-tour-seen", "data"),
        ("shell-tour-title", "children"), ("shell-tour-body", "children"),
        ("shell-tour-count", "children"), ("shell-tour-back", "disabled"),
        ("shell-tour-next", "children")]


def _tour(client, trigger: str, step: int, seen=None, first=None):
    inputs = [{"id": name, "property": "n_clicks", "value": 1}
              for name in ("shell-tour-open", "shell-tour-next", "shell-tour-back")]
    inputs.append({"id": "shell-tour-seen", "property": "data", "value": seen})
    state = [{"id": "shell-tour-first", "property": "data", "value": first},
             {"id": "shell-tour-step", "property": "data", "value": step}]
    response = _call(client, TOUR, inputs, trigger, state)
    assert response.status_code in (200, 204), response.text
    return response.json["response"] if response.status_code == 200 else None


def test_the_tour_walks_four_steps_forward_and_back(signed_in):
    viewer = signed_in("viewer@example.com")
    opened = _tour(viewer, "shell-tour-open.n_clicks", 0)
    assert opened["shell-tour"]["is_open"] is True
    assert opened["shell-tour-title"]["children"] == "Filters"
    assert opened["shell-tour-back"]["disabled"] is True
    titles = []
    step = 0
    for _ in range(3):
        moved = _tour(viewer, "shell-tour-next.n_clicks", step)
        step = moved["shell-tour-step"]["data"]
        titles.append(moved["shell-tour-title"]["children"])
    assert titles == ["KPI cards", "Chart menu", "Reports & Alerts"]
    assert moved["shell-tour-next"]["children"] == "Done"
    assert moved["shell-tour-count"]["children"] == "4 of 4"
    back = _tour(viewer, "shell-tour-back.n_clicks", step)
    assert back["shell-tour-title"]["children"] == "Chart menu"
    done = _tour(viewer, "shell-tour-next.n_clicks", 3)
    assert done["shell-tour"]["is_open"] is False


def test_the_tour_opens_by_itself_once_per_user_on_demo_data(signed_in):
    viewer = signed_in("viewer@example.com")
    first = _tour(viewer, "shell-tour-seen.data", 0, seen=None, first="3")
    assert first["shell-tour"]["is_open"] is True
    assert first["shell-tour-seen"]["data"] == ["3"]
    # seen already, or not demo data: nothing happens
    assert _tour(viewer, "shell-tour-seen.data", 0, seen=["3"], first="3") is None
    assert _tour(viewer, "shell-tour-seen.data", 0, seen=None, first=None) is None


def test_the_tour_and_the_banner_need_a_signed_in_user(client):
    response = _call(client, TOUR, [{"id": "shell-tour-open", "property": "n_clicks",
                                     "value": 1}], "shell-tour-open.n_clicks")
    assert response.status_code in (401, 403)
