"""The dashboards API on the tiny warehouse of conftest (net revenue 47: GB 25, FR 15,
IE 7): signed out is 401; another user's private dashboard is 404 for every method; a
shared one is readable (under the reader's scope) but changing it is 403; bad input is a
400 naming the field; the PDF holds the tiles' titles and the reader's numbers."""
from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.webapp.conftest import bearer, make_token

API = "/api/v1"


@pytest.fixture(scope="module")
def tokens(app):
    return {email: make_token(app, email) for email in
            ("admin@example.com", "analyst@example.com", "viewer@example.com",
             "fr@example.com", "gb@example.com")}


def _as(client, tokens, email):
    headers = bearer(tokens[email])

    def request(method: str, path: str, json=None):
        return client.open(API + path, method=method, json=json, headers=headers)
    return request


def test_signed_out_is_401(client):
    for method, path in (("GET", "/dashboards"), ("POST", "/dashboards"), ("GET", "/panels"),
                         ("GET", "/dashboards/1"), ("PATCH", "/dashboards/1"),
                         ("DELETE", "/dashboards/1"), ("POST", "/dashboards/1/tiles"),
                         ("GET", "/dashboards/1/pdf")):
        response = client.open(API + path, method=method, json={})
        assert response.status_code == 401, (method, path, response.status_code)


def test_panels_lists_what_a_viewer_may_pin(client, tokens):
    answer = _as(client, tokens, "viewer@example.com")("GET", "/panels")
    assert answer.status_code == 200
    ids = {panel["id"]: panel for panel in answer.json["panels"]}
    assert ids["overview-kpi-revenue"]["kind"] == "kpi"
    assert ids["customers-cohorts"]["page"] == "customers"


def test_an_owner_builds_a_dashboard_and_arranges_its_tiles(client, tokens):
    analyst = _as(client, tokens, "analyst@example.com")
    created = analyst("POST", "/dashboards", {"name": "Weekly", "period": "last_30",
                                              "filters": "country=GB"})
    assert created.status_code == 201, created.json
    board = created.json
    assert (board["period"], board["filters"], board["editable"]) == ("last_30", "country=GB",
                                                                     True)
    path = f"/dashboards/{board['id']}"
    ids = [analyst("POST", f"{path}/tiles", {"panel": panel}).json["id"]
           for panel in ("overview-kpi-revenue", "overview-trend", "geography-map")]
    moved = analyst("PATCH", f"{path}/tiles/{ids[2]}", {"move": "up"})
    assert moved.status_code == 200 and moved.json["position"] == 1
    resized = analyst("PATCH", f"{path}/tiles/{ids[0]}", {"size": "L", "title": "Net"})
    assert (resized.json["size"], resized.json["title"]) == ("L", "Net")
    assert analyst("DELETE", f"{path}/tiles/{ids[1]}").status_code == 200
    tiles = analyst("GET", path).json["tiles"]
    assert [(t["position"], t["panel"]) for t in tiles] == [(0, "overview-kpi-revenue"),
                                                            (1, "geography-map")]
    renamed = analyst("PATCH", path, {"name": "Monday"})
    assert renamed.json["name"] == "Monday" and renamed.json["period"] == "last_30"
    assert [d["name"] for d in analyst("GET", "/dashboards").json["dashboards"]] == ["Monday"]
    assert analyst("DELETE", path).status_code == 200
    assert analyst("GET", path).status_code == 404


@pytest.mark.parametrize("body, field", [
    ({"name": ""}, "name"),
    ({"name": "x", "sharing": "world"}, "sharing"),
    ({"name": "x", "period": "fortnight"}, "unknown period 'fortnight'"),
    ({"name": "x", "filters": "start=soon"}, "start"),
    ({"name": "x", "colour": "red"}, "colour"),
    ({"name": "x", "sharing": "users", "shared_with": [99999]}, "no user 99999"),
])
def test_bad_input_is_a_400_naming_the_field(client, tokens, body, field):
    answer = _as(client, tokens, "analyst@example.com")("POST", "/dashboards", body)
    assert answer.status_code == 400 and field in answer.json["error"]["message"]


def test_bad_tiles_are_refused_with_a_reason(client, tokens):
    viewer = _as(client, tokens, "viewer@example.com")
    board = viewer("POST", "/dashboards", {"name": "Tiles"}).json
    path = f"/dashboards/{board['id']}/tiles"
    unknown = viewer("POST", path, {"panel": "overview-nothing"})
    assert unknown.status_code == 400 and "unknown panel 'overview-nothing'" in \
        unknown.json["error"]["message"]
    assert viewer("POST", path, {"panel": "overview-trend", "size": "XL"}).status_code == 400
    assert viewer("PATCH", f"{path}/999999", {"size": "S"}).status_code == 404
    french = _as(client, tokens, "fr@example.com")
    outside = french("POST", "/dashboards", {"name": "x", "filters": "country=GB"})
    assert outside.status_code == 403 and "outside your data scope" in \
        outside.json["error"]["message"]


def test_another_users_private_dashboard_is_404(client, tokens):
    analyst = _as(client, tokens, "analyst@example.com")
    board = analyst("POST", "/dashboards", {"name": "Secret"}).json
    path = f"/dashboards/{board['id']}"
    tile = analyst("POST", f"{path}/tiles", {"panel": "overview-kpi-revenue"}).json
    other = _as(client, tokens, "gb@example.com")
    for method, sub, body in (("GET", "", None), ("PATCH", "", {"name": "Mine"}),
                              ("DELETE", "", None), ("GET", "/pdf", None),
                              ("POST", "/tiles", {"panel": "overview-trend"}),
                              ("PATCH", f"/tiles/{tile['id']}", {"size": "S"}),
                              ("DELETE", f"/tiles/{tile['id']}", None)):
        answer = other(method, path + sub, body)
        assert answer.status_code == 404, (method, sub, answer.status_code)
        assert "Secret" not in answer.text
    assert board["id"] not in [d["id"] for d in other("GET", "/dashboards").json["dashboards"]]
    admin = _as(client, tokens, "admin@example.com")
    assert admin("PATCH", path, {"name": "Checked"}).json["name"] == "Checked"


def test_a_shared_dashboard_is_readable_but_not_writable(client, tokens, app):
    from core import db, users
    settings = app.extensions["shoplens.settings"]
    with db.session_scope(settings.database_url) as session:
        french_id = users.get_user(session, "fr@example.com").id
    analyst = _as(client, tokens, "analyst@example.com")
    board = analyst("POST", "/dashboards", {"name": "Team", "sharing": "users",
                                            "shared_with": [french_id]}).json
    path = f"/dashboards/{board['id']}"
    tile = analyst("POST", f"{path}/tiles", {"panel": "overview-kpi-revenue"}).json
    french = _as(client, tokens, "fr@example.com")
    read = french("GET", path)
    assert read.status_code == 200 and read.json["editable"] is False
    for method, sub, body in (("PATCH", "", {"name": "Mine"}), ("DELETE", "", None),
                              ("POST", "/tiles", {"panel": "overview-trend"}),
                              ("PATCH", f"/tiles/{tile['id']}", {"size": "S"}),
                              ("DELETE", f"/tiles/{tile['id']}", None)):
        answer = french(method, path + sub, body)
        assert answer.status_code == 403, (method, sub, answer.status_code)
        assert "owner or an admin" in answer.json["error"]["message"]
    viewer = _as(client, tokens, "viewer@example.com")
    assert viewer("GET", path).status_code == 404  # not among the chosen users


def _pdf_text(data: bytes, tmp_path) -> str:
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext is not installed")
    file = tmp_path / "dashboard.pdf"
    file.write_bytes(data)
    return subprocess.run(["pdftotext", "-layout", str(file), "-"], capture_output=True,
                          text=True, check=True).stdout


def test_the_pdf_has_the_tiles_titles_and_the_readers_numbers(client, tokens, tmp_path):
    admin = _as(client, tokens, "admin@example.com")
    board = admin("POST", "/dashboards", {"name": "Board pack", "sharing": "everyone",
                                          "filters": "start=2011-03-01&end=2011-03-03"}).json
    path = f"/dashboards/{board['id']}"
    for body in ({"panel": "overview-kpi-revenue"}, {"panel": "overview-kpi-orders"},
                 {"panel": "overview-trend"}, {"panel": "geography-map"},
                 {"panel": "customers-segments"},
                 {"panel": "products-top-table", "title": "Best sellers"},
                 {"panel": "overview-kpi-revenue", "title": "Ireland on 3 March",
                  "follow_dashboard": False, "filters": "country=IE", "period": "last_1"}):
        assert admin("POST", f"{path}/tiles", body).status_code == 201
    answer = admin("GET", f"{path}/pdf")
    assert answer.status_code == 200 and answer.mimetype == "application/pdf"
    text = _pdf_text(answer.data, tmp_path)
    for expected in ("Board pack", "Revenue", "Orders", "Revenue over time", "Revenue by country",
                     "RFM segments", "Best sellers", "£47.00", "United Kingdom", "£25.00",
                     "Lamp", "Ireland on 3 March", "£7.00", "own filters"):
        assert expected in text, expected
    french = _as(client, tokens, "fr@example.com")
    text = _pdf_text(french("GET", f"{path}/pdf").data, tmp_path)
    assert "£15.00" in text and "France" in text
    assert "£47.00" not in text and "United Kingdom" not in text and "Lamp" not in text
