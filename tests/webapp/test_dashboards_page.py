"""Dashboards: every registered panel draws on the tiny warehouse of conftest (net revenue
47 in all: GB 25, FR 15, IE 7), a tile draws under its VIEWER's scope (the FR user's tile
shows France's 15, checked against a direct analytics call), and the page's callbacks,
through the real Dash endpoint, check the user for every id the browser sends."""
from __future__ import annotations

import json

import pytest
from flask import g

from analytics import kpis
from analytics.filters import Filters, Scope
from core import dashboards, db, users
from core.orm import Dashboard
from tests.webapp.test_data_upload import text_of
from webapp import security

SEARCH = "?start=2011-03-01&end=2011-03-03"


@pytest.fixture(scope="module")
def panels(app):
    from webapp.dashboard import panels
    return panels


def dumps(value) -> str:
    """A callback's answer as text, with "£" as itself."""
    return json.dumps(value, ensure_ascii=False)


def _view(app, panels, scope: Scope, filters: str = "start=2011-03-01&end=2011-03-03"):
    return panels.make_view(app.extensions["shoplens.warehouse"], filters, scope)


def test_every_registered_panel_draws_on_a_small_warehouse(app, panels):
    assert len(panels.PANELS) >= 20
    assert {"overview-kpi-revenue", "overview-trend", "products-top", "products-categories",
            "geography-top", "geography-map", "insights-performance-channel",
            "customers-cohorts", "customers-segments"} <= set(panels.PANELS)
    view = _view(app, panels, Scope())
    missing_columns = {"products-categories", "insights-performance-channel",
                       "insights-performance-device", "insights-performance-source"}
    with app.test_request_context("/"):
        for panel in panels.PANELS.values():
            content = panel.content(view)
            assert content.kind == panel.kind
            if panel.id in missing_columns:  # the tiny data has no category, channel …
                assert "This data has no" in content.message, panel.id
                continue
            assert content.message is None, (panel.id, content.message)
            if panel.kind == "chart":
                assert panels.figure_of(content.chart).data, panel.id
            elif panel.kind == "table":
                assert content.rows, panel.id
            panels.render(panel, SEARCH, Scope(), key="test")  # as a Dash component
    assert panels.is_pinnable("overview-trend") and not panels.is_pinnable("overview-x")
    assert all(dashboards.panel_rule(pid).role == panel.role
               for pid, panel in panels.PANELS.items())


def test_a_france_scoped_tile_shows_france_only(app, panels):
    france = Scope.of(["FR"])
    direct = kpis.kpi_summary(app.extensions["shoplens.warehouse"],
                              Filters.from_query(SEARCH), france).to_dict()
    assert direct["kpis"]["revenue"]["current"] == pytest.approx(15.0)
    revenue = panels.PANELS["overview-kpi-revenue"]
    assert revenue.content(_view(app, panels, france)).kpi["value"] == "£15.00"
    assert revenue.content(_view(app, panels, Scope())).kpi["value"] == "£47.00"
    countries = panels.PANELS["geography-map"].content(_view(app, panels, france))
    assert countries.rows == [["France", "£15.00", "1"]]
    top = panels.PANELS["products-top-table"].content(_view(app, panels, france))
    assert top.rows == [["P1", "Mug", "£15.00", "3", "1"]]
    customers = panels.PANELS["customers-list"].content(_view(app, panels, france))
    assert [row[0] for row in customers.rows] == ["C3"]


def test_a_relative_period_is_the_presets_dates_of_the_data(app, panels):
    view = panels.make_view(app.extensions["shoplens.warehouse"], "", Scope(),
                            period_name="last_7")
    assert (str(view.filters.start), str(view.filters.end)) == ("2011-02-25", "2011-03-03")
    revenue = panels.PANELS["overview-kpi-revenue"]
    for country, expected in (("GB", "£0.00"), ("IE", "£7.00")):  # 3 March: I4 in Ireland
        last_day = panels.make_view(app.extensions["shoplens.warehouse"],
                                    f"country={country}", Scope(), period_name="last_1")
        assert revenue.content(last_day).kpi["value"] == expected


# ---------------------------------------------------------------------- callbacks
def _output_key(client, outputs: list[tuple[str, str]], trigger: str) -> str:
    """The key Dash registered the callback under: its outputs (``@hash`` suffixes for
    outputs shared by several callbacks) and an input whose id holds ``trigger``."""
    names = [f"{i}.{p}" for i, p in outputs]
    client.get("/healthz")  # Dash copies the pages' callbacks on the first request
    for known, spec in client.application.extensions["shoplens.dash"].callback_map.items():
        parts = known.strip(".").split("...")
        if [part.split("@")[0] for part in parts] == names and any(
                trigger in str(item["id"]) for item in spec["inputs"]):
            return known
    raise AssertionError(f"no callback for {names}")


def _call(client, outputs, inputs, changed: str, state=()):
    trigger = changed.rsplit(".", 1)[0]
    trigger = json.loads(trigger)["type"] if trigger.startswith("{") else trigger
    body = {"output": _output_key(client, outputs, trigger),
            "outputs": [{"id": i, "property": p} for i, p in outputs],
            "inputs": inputs, "changedPropIds": [changed], "state": list(state)}
    return client.post("/_dash-update-component", json=body)


SHOW = [("dashboards-picker", "options"), ("dashboards-picker", "value"),
        ("dashboards-grid", "children"), ("dashboards-editor", "hidden"),
        ("dashboards-add-panel", "options"), ("dashboards-sharing", "value"),
        ("dashboards-info", "children"), ("dashboards-pdf-slot", "children"),
        ("dashboards-share-users", "options"), ("dashboards-share-users", "value")]


def show(client, search: str):
    response = _call(client, SHOW, [{"id": "shell-url", "property": "search", "value": search},
                                    {"id": "dashboards-changed", "property": "data",
                                     "value": None}], "shell-url.search")
    assert response.status_code == 200, response.text
    return response.json["response"]


def add(client, panel_id: str, search: str, size: str = "M"):
    response = _call(client, [("dashboards-changed", "data"), ("dashboards-message", "children")],
                     [{"id": "dashboards-add", "property": "n_clicks", "value": 1}],
                     "dashboards-add.n_clicks",
                     [{"id": "dashboards-add-panel", "property": "value", "value": panel_id},
                      {"id": "dashboards-add-size", "property": "value", "value": size},
                      {"id": "shell-url", "property": "search", "value": search}])
    return response


def button(client, kind: str, tile_id: int, search: str):
    trigger = {"index": tile_id, "type": kind}
    inputs = [[{"id": trigger, "property": "n_clicks", "value": 1}] if kind == k else []
              for k in ("dashboards-tile-up", "dashboards-tile-down", "dashboards-tile-remove")]
    changed = json.dumps(trigger, sort_keys=True, separators=(",", ":")) + ".n_clicks"
    return _call(client, [("dashboards-changed", "data"), ("dashboards-message", "children")],
                 inputs, changed, [{"id": "shell-url", "property": "search", "value": search}])


def _create(app, email: str, name: str, **values) -> int:
    settings = app.extensions["shoplens.settings"]
    with db.session_scope(settings.database_url) as session:
        return dashboards.create_dashboard(session, users.get_user(session, email),
                                           {"name": name, **values}).id


def _tiles(app, dashboard_id: int) -> list[tuple[str, int]]:
    settings = app.extensions["shoplens.settings"]
    with db.session_scope(settings.database_url) as session:
        board = session.get(Dashboard, dashboard_id)
        return sorted((tile.position, tile.panel) for tile in board.tiles)


def test_a_user_composes_a_dashboard_through_the_callbacks(app, signed_in):
    analyst = signed_in("analyst@example.com")
    board = _create(app, "analyst@example.com", "Mine")
    search = f"{SEARCH}&dashboard={board}"
    assert add(analyst, "overview-kpi-revenue", search).status_code == 200
    answer = add(analyst, "geography-map", search, "L").json["response"]
    assert "Added “Revenue by country”" in text_of(answer["dashboards-message"]["children"])
    refused = add(analyst, "no-such-panel", search).json["response"]
    assert "unknown panel 'no-such-panel'" in dumps(refused)
    assert _tiles(app, board) == [(0, "overview-kpi-revenue"), (1, "geography-map")]
    shown = show(analyst, search)
    grid = dumps(shown["dashboards-grid"]["children"])
    assert "£47.00" in grid and "United Kingdom" in grid and "EIRE" in grid
    assert shown["dashboards-editor"]["hidden"] is False
    pdf_link, schedule_link = (link["props"]["href"] for link in
                               shown["dashboards-pdf-slot"]["children"]["props"]["children"])
    assert pdf_link == f"/api/v1/dashboards/{board}/pdf"
    assert schedule_link == f"/reports?schedule_dashboard={board}"  # an analyst schedules
    tile_ids = [tile["id"] for tile in _dict(app, board)["tiles"]]
    moved = button(analyst, "dashboards-tile-up", tile_ids[1], search)
    assert moved.status_code == 200, moved.text
    assert _tiles(app, board) == [(0, "geography-map"), (1, "overview-kpi-revenue")]
    button(analyst, "dashboards-tile-remove", tile_ids[1], search)
    assert _tiles(app, board) == [(0, "overview-kpi-revenue")]


def _dict(app, dashboard_id: int) -> dict:
    settings = app.extensions["shoplens.settings"]
    with db.session_scope(settings.database_url) as session:
        return dashboards.dashboard_to_dict(session.get(Dashboard, dashboard_id))


def test_a_shared_dashboard_draws_under_the_viewers_scope_read_only(app, signed_in):
    board = _create(app, "admin@example.com", "Company", sharing="everyone")
    owner = signed_in("admin@example.com")
    search = f"{SEARCH}&dashboard={board}"
    add(owner, "overview-kpi-revenue", search)
    french = signed_in("fr@example.com")
    shown = show(french, search)
    grid = dumps(shown["dashboards-grid"]["children"])
    assert "£15.00" in grid and "£47.00" not in grid
    assert shown["dashboards-editor"]["hidden"] is True and "read-only" in \
        text_of(shown["dashboards-info"]["children"])
    assert "£47.00" in dumps(show(owner, search)["dashboards-grid"]["children"])
    tile_id = _dict(app, board)["tiles"][0]["id"]
    refused = add(french, "overview-kpi-orders", search).json["response"]
    assert "owner or an admin" in dumps(refused)
    removed = button(french, "dashboards-tile-remove", tile_id, search).json["response"]
    assert "owner or an admin" in dumps(removed)
    assert len(_tiles(app, board)) == 1


def share(client, search: str, sharing: str, chosen: list[int], changed: str):
    return _call(client, [("dashboards-changed", "data"), ("dashboards-message", "children")],
                 [{"id": "dashboards-save-filters", "property": "n_clicks", "value": None},
                  {"id": "dashboards-sharing", "property": "value", "value": sharing},
                  {"id": "dashboards-share-users", "property": "value", "value": chosen}],
                 changed, [{"id": "shell-url", "property": "search", "value": search}])


def _user_id(app, email: str) -> int:
    with db.session_scope(app.extensions["shoplens.settings"].database_url) as session:
        return users.get_user(session, email).id


def test_the_owner_shares_with_chosen_colleagues_from_the_page(app, signed_in):
    board = _create(app, "analyst@example.com", "For the French team")
    search = f"{SEARCH}&dashboard={board}"
    owner = signed_in("analyst@example.com")
    add(owner, "overview-kpi-revenue", search)
    shown = show(owner, search)
    people = {option["label"]: option["value"] for option in
              shown["dashboards-share-users"]["options"]}
    assert "fr@example.com" in people and "analyst@example.com" not in people
    assert shown["dashboards-share-users"]["value"] == []
    # "Chosen colleagues" with nobody chosen yet changes nothing and asks for them
    asked = share(owner, search, "users", [], "dashboards-sharing.value").json["response"]
    assert "Choose the colleagues" in dumps(asked) and _dict(app, board)["sharing"] == "private"
    french = _user_id(app, "fr@example.com")
    answer = share(owner, search, "users", [french], "dashboards-share-users.value").json
    assert "Shared with fr@example.com" in dumps(answer)
    assert (_dict(app, board)["sharing"], _dict(app, board)["shared_with"]) == \
        ("users", [french])
    # the colleague sees France's 15 of the 47, read-only; someone not chosen sees nothing
    colleague = show(signed_in("fr@example.com"), search)
    grid = dumps(colleague["dashboards-grid"]["children"])
    assert "£15.00" in grid and "£47.00" not in grid
    assert colleague["dashboards-editor"]["hidden"] is True
    assert colleague["dashboards-share-users"]["options"] == []   # not theirs to share
    assert f"no dashboard {board}" in dumps(show(signed_in("gb@example.com"), search)
                                            ["dashboards-grid"])
    # the colleague cannot widen the sharing; the owner emptying the list makes it private
    gb = _user_id(app, "gb@example.com")
    refused = share(signed_in("fr@example.com"), search, "users", [french, gb],
                    "dashboards-share-users.value")
    assert refused.status_code in (200, 204)
    assert _dict(app, board)["shared_with"] == [french]
    share(owner, search, "users", [], "dashboards-share-users.value")
    assert (_dict(app, board)["sharing"], _dict(app, board)["shared_with"]) == ("private", [])


def test_a_time_chart_tile_marks_the_notes_its_viewer_may_see(app, signed_in):
    import datetime as dt
    from core import annotations
    board = _create(app, "analyst@example.com", "Notes", sharing="everyone")
    search = f"{SEARCH}&dashboard={board}"
    owner = signed_in("analyst@example.com")
    add(owner, "overview-trend", search)
    add(owner, "overview-kpi-revenue", search)
    with db.session_scope(app.extensions["shoplens.settings"].database_url) as session:
        annotations.create(session, users.get_user(session, "gb@example.com"),
                           dt.date(2011, 3, 2), None, "UK promo")   # written under GB
    assert "UK promo" in dumps(show(owner, search)["dashboards-grid"])   # all data
    assert "UK promo" in dumps(show(signed_in("gb@example.com"), search)["dashboards-grid"])
    assert "UK promo" not in dumps(show(signed_in("fr@example.com"), search)
                                   ["dashboards-grid"])


def test_another_users_private_dashboard_is_not_found(app, signed_in):
    board = _create(app, "analyst@example.com", "Private")
    settings = app.extensions["shoplens.settings"]
    with db.session_scope(settings.database_url) as session:
        dashboards.add_tile(session, users.get_user(session, "analyst@example.com"), board,
                            "overview-kpi-revenue")
    search = f"{SEARCH}&dashboard={board}"
    other = signed_in("gb@example.com")
    shown = show(other, search)
    grid = dumps(shown["dashboards-grid"])
    assert f"no dashboard {board}" in grid and "£" not in grid
    assert str(board) not in [option["value"] for option in
                              shown["dashboards-picker"]["options"]]
    assert "no dashboard" in dumps(add(other, "overview-kpi-orders", search).json)
    tile_id = _dict(app, board)["tiles"][0]["id"]
    assert "no dashboard" in dumps(
        button(other, "dashboards-tile-remove", tile_id, search).json)
    assert len(_tiles(app, board)) == 1


def test_signed_out_callbacks_are_refused(app):
    client = app.test_client()
    response = _call(client, SHOW, [{"id": "shell-url", "property": "search", "value": ""},
                                    {"id": "dashboards-changed", "property": "data",
                                     "value": None}], "shell-url.search")
    assert response.status_code in (401, 403)


def test_the_page_is_registered_for_every_role(app):
    with app.test_request_context("/"):
        page = security.find_page("/dashboards")
        assert page is not None and page["role"] == "viewer"
        settings = app.extensions["shoplens.settings"]
        with db.session_scope(settings.database_url) as session:
            g._login_user = security.Principal(users.get_user(session, "viewer@example.com"))
        assert security.page_role("/dashboards") == "viewer"


def test_every_id_of_the_page_and_its_tiles_carries_its_prefix(app, signed_in):
    """The request guard gives a callback the role of its ids' page: the layout's ids and
    those of the drawn tiles all start with ``dashboards-``."""
    from tests.webapp.test_page_registry import _ids, _layout_ids
    from webapp.dashboard.pages import dashboards as page

    def name(component_id) -> str:
        return component_id["type"] if isinstance(component_id, dict) else component_id

    assert all(name(i).startswith("dashboards-") for i in _layout_ids(app, page.layout))
    board = _create(app, "viewer@example.com", "Ids")
    owner = signed_in("viewer@example.com")
    search = f"{SEARCH}&dashboard={board}"
    for panel_id in ("overview-kpi-revenue", "geography-map", "customers-cohorts"):
        add(owner, panel_id, search)
    settings = app.extensions["shoplens.settings"]
    with app.test_request_context("/"), db.session_scope(settings.database_url) as session:
        g._login_user = security.Principal(users.get_user(session, "viewer@example.com"))
        user = security.current_db_user()
        dashboard = session.get(Dashboard, board)
        tiles = [page.tile_card(dashboard, tile, search, user, True, len(dashboard.tiles))
                 for tile in dashboard.tiles]
    found = _ids(tiles)
    assert len(found) > 10 and all(name(i).startswith("dashboards-") for i in found), found


def _setting(client, kind: str, tile_id: int, value, search: str):
    trigger = {"index": tile_id, "type": kind}
    inputs = [[{"id": trigger, "property": "value", "value": value}] if kind == k else []
              for k in ("dashboards-tile-size", "dashboards-tile-follow")]
    changed = json.dumps(trigger, sort_keys=True, separators=(",", ":")) + ".value"
    return _call(client, [("dashboards-changed", "data"), ("dashboards-message", "children")],
                 inputs, changed, [{"id": "shell-url", "property": "search", "value": search}])


def _board(app, dashboard_id: int) -> tuple:
    settings = app.extensions["shoplens.settings"]
    with db.session_scope(settings.database_url) as session:
        board = session.get(Dashboard, dashboard_id)
        return (board.filters, board.period,
                [(t.size, t.follow_dashboard, t.filters, t.period) for t in board.tiles])


def test_a_tile_keeps_the_view_on_screen_and_the_dashboard_saves_its_filters(app, signed_in):
    analyst = signed_in("analyst@example.com")
    board = _create(app, "analyst@example.com", "Views")
    # the data runs 1–3 March 2011: those dates are "month to date" (the first preset that
    # gives them), kept by name
    search = f"{SEARCH}&country=France&dashboard={board}"
    add(analyst, "overview-kpi-revenue", search)
    tile_id = _dict(app, board)["tiles"][0]["id"]
    assert _setting(analyst, "dashboards-tile-size", tile_id, "L", search).status_code == 200
    _setting(analyst, "dashboards-tile-follow", tile_id, False, search)
    assert _board(app, board)[2] == [("L", False, "country=France", "month_to_date")]
    # the tile keeps France whatever the sidebar says now
    grid = dumps(show(analyst, f"{SEARCH}&dashboard={board}")["dashboards-grid"])
    assert "£15.00" in grid and "own filters: Month to date, country=France" in grid
    saved = _call(analyst, [("dashboards-changed", "data"), ("dashboards-message", "children")],
                  [{"id": "dashboards-save-filters", "property": "n_clicks", "value": 1},
                   {"id": "dashboards-sharing", "property": "value", "value": "private"},
                   {"id": "dashboards-share-users", "property": "value", "value": []}],
                  "dashboards-save-filters.n_clicks",
                  [{"id": "shell-url", "property": "search",
                    "value": f"?start=2011-03-02&end=2011-03-03&country=IE&dashboard={board}"}])
    assert "Saved filters" in dumps(saved.json)
    assert _board(app, board)[:2] == ("start=2011-03-02&end=2011-03-03&country=IE", None)
    french = signed_in("fr@example.com")
    refused = _setting(french, "dashboards-tile-size", tile_id, "S", search)
    assert "no dashboard" in dumps(refused.json)
    assert _board(app, board)[2][0][0] == "L"


def test_rename_and_delete_act_on_the_users_own_dashboard_only(app, signed_in):
    board = _create(app, "analyst@example.com", "Old name")
    search = f"{SEARCH}&dashboard={board}"

    def rename(client, name):
        return _call(client, [("dashboards-changed", "data"),
                              ("dashboards-message", "children"),
                              ("dashboards-rename-name", "value")],
                     [{"id": "dashboards-rename", "property": "n_clicks", "value": 1}],
                     "dashboards-rename.n_clicks",
                     [{"id": "dashboards-rename-name", "property": "value", "value": name},
                      {"id": "shell-url", "property": "search", "value": search}]).json

    def delete(client):
        return _call(client, [("shell-url", "search"), ("dashboards-message", "children")],
                     [{"id": "dashboards-delete", "property": "submit_n_clicks", "value": 1}],
                     "dashboards-delete.submit_n_clicks",
                     [{"id": "shell-url", "property": "search", "value": search}]).json

    other = signed_in("gb@example.com")
    assert "no dashboard" in dumps(rename(other, "Taken"))
    assert "no dashboard" in dumps(delete(other))
    owner = signed_in("analyst@example.com")
    assert "name" in dumps(rename(owner, "   "))  # an empty name is refused
    assert "Renamed to “New name”" in dumps(rename(owner, "New name"))
    assert _dict(app, board)["name"] == "New name"
    answer = delete(owner)["response"]
    assert answer["shell-url"]["search"] == "?start=2011-03-01&end=2011-03-03"
    settings = app.extensions["shoplens.settings"]
    with db.session_scope(settings.database_url) as session:
        assert session.get(Dashboard, board) is None
