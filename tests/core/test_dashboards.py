"""Dashboards service: who may see and change a dashboard, tile positions after moves, and
the validation of panels, roles, filters, periods and the tile limit."""
from __future__ import annotations

import pytest

from core import dashboards, db
from core.dashboards import DashboardAccessDenied, DashboardError, DashboardNotFound
from core.orm import Dashboard, User
from tests.workers.support import add_user, settings_for, worker_environment


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(request, tmp_path):
    """The app database on SQLite (embedded) and on PostgreSQL (production): sharing reads
    a JSON column, which the two store differently."""
    extra = {}
    if request.param == "postgresql":
        extra["DATABASE_URL"] = request.getfixturevalue("postgres_database")
    return settings_for(worker_environment(tmp_path / "home", **extra))


@pytest.fixture(autouse=True)
def panels(monkeypatch):
    """A registry of three panels of this test, whatever the webapp registered."""
    monkeypatch.setattr(dashboards, "_PANELS", {})
    dashboards.register_panel("test-kpi", "A KPI", "viewer")
    dashboards.register_panel("test-chart", "A chart", "viewer")
    dashboards.register_panel("test-model", "A model", "analyst")


@pytest.fixture
def people(settings):
    return {
        "owner": add_user(settings, "owner@example.com", "analyst"),
        "admin": add_user(settings, "admin@example.com", "admin"),
        "viewer": add_user(settings, "viewer@example.com", "viewer", ["FR"]),
        "other": add_user(settings, "other@example.com", "analyst"),
    }


@pytest.fixture
def session(settings, people):
    with db.session_scope(settings.database_url) as session:
        yield session


def _user(session, people, name) -> User:
    return session.get(User, people[name])


def _dashboard(session, people, **values) -> Dashboard:
    return dashboards.create_dashboard(session, _user(session, people, "owner"),
                                       {"name": "Weekly", **values})


def test_a_private_dashboard_is_its_owners_and_admins_only(session, people):
    board = _dashboard(session, people)
    owner, admin, other = (_user(session, people, n) for n in ("owner", "admin", "other"))
    assert [d.id for d in dashboards.list_dashboards(session, owner)] == [board.id]
    assert dashboards.list_dashboards(session, other) == []
    with pytest.raises(DashboardNotFound):
        dashboards.get_dashboard(session, other, board.id)
    with pytest.raises(DashboardNotFound):
        dashboards.add_tile(session, other, board.id, "test-kpi")
    with pytest.raises(DashboardNotFound):
        dashboards.delete_dashboard(session, other, board.id)
    renamed = dashboards.update_dashboard(session, admin, board.id, {"name": "Monday"})
    assert renamed.name == "Monday" and renamed.owner_id == people["owner"]


def test_a_shared_dashboard_is_readable_but_not_writable(session, people):
    board = _dashboard(session, people, sharing="users", shared_with=[people["viewer"]])
    viewer, other = _user(session, people, "viewer"), _user(session, people, "other")
    assert [d.id for d in dashboards.list_dashboards(session, viewer)] == [board.id]
    assert dashboards.get_dashboard(session, viewer, board.id).id == board.id
    assert dashboards.list_dashboards(session, other) == []
    with pytest.raises(DashboardAccessDenied, match="owner or an admin"):
        dashboards.update_dashboard(session, viewer, board.id, {"name": "Mine now"})
    with pytest.raises(DashboardAccessDenied):
        dashboards.add_tile(session, viewer, board.id, "test-kpi")
    with pytest.raises(DashboardAccessDenied):
        dashboards.delete_dashboard(session, viewer, board.id)
    dashboards.update_dashboard(session, _user(session, people, "owner"), board.id,
                                {"sharing": "everyone"})
    assert [d.id for d in dashboards.list_dashboards(session, other)] == [board.id]
    dashboards.update_dashboard(session, _user(session, people, "owner"), board.id,
                                {"sharing": "private"})
    assert dashboards.list_dashboards(session, viewer) == []
    assert board.shared_with == []
    dashboards.update_dashboard(session, _user(session, people, "owner"), board.id,
                                {"shared_with": [people["other"]]})
    assert (board.sharing, board.shared_with) == ("users", [people["other"]])
    assert [d.id for d in dashboards.list_dashboards(session, other)] == [board.id]


def _order(board) -> list[str]:
    return [tile.panel for tile in sorted(board.tiles, key=lambda tile: tile.position)]


def test_positions_stay_contiguous_through_moves_and_removals(session, people):
    owner = _user(session, people, "owner")
    board = _dashboard(session, people)
    a, b, c = (dashboards.add_tile(session, owner, board.id, panel)
               for panel in ("test-kpi", "test-chart", "test-model"))
    assert [t.position for t in (a, b, c)] == [0, 1, 2]
    dashboards.move_tile(session, owner, board.id, c.id, "up")
    assert _order(board) == ["test-kpi", "test-model", "test-chart"]
    dashboards.move_tile(session, owner, board.id, a.id, "up")  # already first: stays
    assert _order(board) == ["test-kpi", "test-model", "test-chart"]
    dashboards.update_tile(session, owner, board.id, a.id, {"move": "down"})
    assert _order(board) == ["test-model", "test-kpi", "test-chart"]
    dashboards.update_tile(session, owner, board.id, b.id, {"position": 0})
    assert _order(board) == ["test-chart", "test-model", "test-kpi"]
    dashboards.remove_tile(session, owner, board.id, c.id)
    assert _order(board) == ["test-chart", "test-kpi"]
    assert sorted(t.position for t in board.tiles) == [0, 1]


def test_unknown_panel_role_too_low_and_the_tile_limit_are_refused(session, people,
                                                                     monkeypatch):
    viewer = _user(session, people, "viewer")
    own = dashboards.create_dashboard(session, viewer, {"name": "Mine"})
    with pytest.raises(DashboardError, match="unknown panel 'nope'"):
        dashboards.add_tile(session, viewer, own.id, "nope")
    with pytest.raises(DashboardAccessDenied, match="needs the analyst role"):
        dashboards.add_tile(session, viewer, own.id, "test-model")
    monkeypatch.setattr(dashboards, "MAX_TILES", 2)
    dashboards.add_tile(session, viewer, own.id, "test-kpi")
    dashboards.add_tile(session, viewer, own.id, "test-chart")
    with pytest.raises(DashboardError, match="at most 2 tiles"):
        dashboards.add_tile(session, viewer, own.id, "test-kpi")


@pytest.mark.parametrize("values, message", [
    ({"name": ""}, "name"),
    ({"name": "x", "sharing": "world"}, "sharing"),
    ({"name": "x", "sharing": "users"}, "shared_with"),
    ({"name": "x", "sharing": "users", "shared_with": [999]}, "no user 999"),
    ({"name": "x", "shared_with": [1]}, "set sharing to users"),
    ({"name": "x", "period": "last_week"}, "unknown period 'last_week'"),
    ({"name": "x", "period": "last_30", "filters": "start=2024-01-01"}, "not both"),
    ({"name": "x", "filters": "start=yesterday"}, "start"),
    ({"name": "x", "colour": "red"}, "colour: is not a known parameter"),
])
def test_bad_dashboards_get_a_message_naming_the_field(session, people, values, message):
    with pytest.raises(DashboardError, match=message):
        dashboards.create_dashboard(session, _user(session, people, "owner"), values)


def test_filters_outside_the_actors_scope_are_refused(session, people):
    viewer = _user(session, people, "viewer")
    with pytest.raises(DashboardAccessDenied, match="DE is outside your data scope"):
        dashboards.create_dashboard(session, viewer, {"name": "x", "filters": "country=DE"})
    own = dashboards.create_dashboard(session, viewer, {"name": "x", "filters": "country=FR",
                                                         "period": "last_90"})
    assert (own.filters, own.period) == ("country=FR", "last_90")


def test_a_tile_follows_the_dashboard_or_keeps_its_own_view(session, people):
    owner = _user(session, people, "owner")
    board = _dashboard(session, people, filters="channel=web", period="last_7")
    following = dashboards.add_tile(session, owner, board.id, "test-chart")
    own = dashboards.add_tile(session, owner, board.id, "test-chart", filters="country=FR",
                              follow_dashboard=False, size="L", title="France")
    assert dashboards.tile_view(board, following) == ("channel=web", "last_7")
    assert dashboards.tile_view(board, own) == ("country=FR", None)
    with pytest.raises(DashboardError, match="size"):
        dashboards.update_tile(session, owner, board.id, own.id, {"size": "XL"})
    as_json = dashboards.dashboard_to_dict(board, owner)
    assert [t["title"] for t in as_json["tiles"]] == ["A chart", "France"]
    assert as_json["editable"] is True


def test_periods_are_the_sidebars_presets():
    from webapp.dashboard import presets
    assert dashboards.PERIODS == tuple(presets.PRESETS)


def test_the_pdf_prints_each_tile_in_order(tmp_path):
    """Titles, KPI values, table cells and empty states as text; each chart (grouped bars,
    a heatmap, a treemap's top level) as one image."""
    import shutil
    import subprocess

    from pypdf import PdfReader

    from core.reports.dashboard_pdf import (DashboardContent, TileContent, Trace,
                                            render_dashboard_pdf)
    tiles = [
        TileContent("Revenue (net)", "kpi", value="£47.00", change="+£12.00 (+34.3%)"),
        TileContent("By category", "chart", barmode="group", money_axis="y", traces=[
            Trace("bar", name="Revenue", x=["Mugs", "Lamps"], y=[30, 17]),
            Trace("bar", name="Profit", x=["Mugs", "Lamps"], y=[12, 5])]),
        TileContent("Retention", "chart", traces=[
            Trace("heatmap", x=[0, 1], y=["Jan 2011", "Feb 2011"], z=[[1, 0.5], [1, None]])]),
        TileContent("Where", "chart", traces=[
            Trace("treemap", labels=["GB", "FR", "London"], parents=["", "", "GB"],
                  values=[25, 15, 25])]),
        TileContent("Countries", "table", header=["Country", "Net revenue"], numeric={1},
                    rows=[["United Kingdom", "£25.00"], ["France", "£15.00"]]),
        TileContent("Orders", "kpi", message="No sales for these filters."),
    ]
    path = render_dashboard_pdf(DashboardContent("Board", "Last 30 days", "FR", "ana",
                                                 "£", tiles), tmp_path / "board.pdf")
    images = sum(len(page.images) for page in PdfReader(path).pages)
    assert images == 3
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext is not installed")
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                          text=True, check=True).stdout
    order = ["Board", "Revenue (net)", "£47.00", "By category", "Retention", "Where",
             "Countries", "United Kingdom", "£25.00", "Orders", "No sales for these filters."]
    positions = [text.index(item) for item in order]
    assert positions == sorted(positions), text
