"""The chart and table menu (webapp/dashboard/toolbar.py): a chart's traces and a table's
rows become exactly the CSV/Excel worked out here by hand, text cells are neutralised as
the transaction export does it, the export callback (called through Dash's real endpoint)
refuses the signed-out, the deactivated and the roles that may not export and audits the
rest, and pinning adds a tile through the dashboards service."""
from __future__ import annotations

import base64
import io
import json

import dash_bootstrap_components as dbc
import pandas as pd
import plotly
import sqlalchemy as sa
from dash import html
from openpyxl import load_workbook

from analytics.filters import Filters
from analytics.transactions import neutralise_cell
from core import dashboards, db, users
from core.orm import AuditEvent, Dashboard
from tests.webapp.conftest import FORMULA, new_user, sign_in
from webapp.dashboard import components, figures, toolbar

TREND = pd.DataFrame({"period_start": pd.to_datetime(["2011-03-01", "2011-03-02",
                                                      "2011-03-03"]),
                      "revenue": [10.0, 35.0, 7.0],
                      "revenue_last_year": [8.0, None, 4.5]})
#: What a browser holds: the figure as plotly.py sends it (numbers as base64 typed arrays).
TREND_FIGURE = json.loads(figures.trend(TREND, x="period_start", y="revenue",
                                        last_year="revenue_last_year",
                                        currency="£").to_json())
TABLE = {"columns": [{"id": "customer_id", "name": "Customer"},
                     {"id": "revenue", "name": "Net revenue"},
                     {"id": "orders", "name": "Orders"}],
         "data": [{"customer_id": "C2", "revenue": 20.0, "orders": 1},
                  {"customer_id": "C1", "revenue": 5.5, "orders": 2}]}
DANGEROUS = ["=1+1", "+cmd", "-2", "@x", "\uff1dHYPERLINK(\"http://evil.example\")", FORMULA]


# ------------------------------------------------------------------ what the file holds
def test_a_figure_with_two_traces_becomes_one_row_per_day_and_one_column_per_trace():
    frame = toolbar.figure_frame(TREND_FIGURE)
    # the key column is named after the axis (no title: the keys are dates), one column
    # per trace named after it; last year's missing day is empty, whole numbers stay whole
    assert toolbar.csv_bytes(frame).decode() == (
        "date,This period,Last year\r\n"
        "2011-03-01,10,8.0\r\n"
        "2011-03-02,35,\r\n"
        "2011-03-03,7,4.5\r\n")


def test_horizontal_bars_are_keyed_by_their_labels_and_keep_a_key_that_says_more():
    bars = figures.bars(pd.DataFrame({"name": ["Lamp", "Mug"], "value": [20.0, 15.0],
                                      "product_id": ["P2", "P1"]}),
                        label="name", value="value", key="product_id", currency="£")
    frame = toolbar.figure_frame(json.loads(bars.to_json()))
    assert frame.columns.tolist() == ["category", "value", "value key"]
    assert frame.values.tolist() == [["Lamp", 20, "P2"], ["Mug", 15, "P1"]]


def test_a_scatter_of_points_lists_each_point_with_its_axes_and_label():
    figure = {"data": [{"type": "scatter", "mode": "markers+text", "name": "Stars",
                        "x": [0.5, 0.25], "y": [0.1, -0.2], "text": ["Mug", "Lamp"]}],
              "layout": {"xaxis": {"title": {"text": "share of revenue"}},
                         "yaxis": {"title": {"text": "growth"}}}}
    frame = toolbar.figure_frame(figure)
    assert frame.columns.tolist() == ["series", "share of revenue", "growth", "label"]
    assert frame.values.tolist() == [["Stars", 0.5, 0.1, "Mug"], ["Stars", 0.25, -0.2, "Lamp"]]


def test_a_heatmap_lists_one_row_per_cell_and_its_empty_cells_stay_empty():
    matrix = pd.DataFrame([[1.0, 0.5], [1.0, None]], index=["2011-01", "2011-02"],
                          columns=[0, 1])
    frame = toolbar.figure_frame(json.loads(figures.heatmap(matrix).to_json()))
    assert toolbar.csv_bytes(frame).decode() == (
        "months since first purchase,y,value\r\n"
        "0,2011-01,1.0\r\n1,2011-01,0.5\r\n0,2011-02,1.0\r\n1,2011-02,\r\n")


def test_an_empty_chart_has_no_rows():
    assert toolbar.figure_frame(json.loads(
        figures.empty_figure("No sales for these filters.").to_json())).empty


def test_a_table_exports_its_rows_in_order_under_the_displayed_names_as_csv_and_xlsx():
    frame = toolbar.table_frame(TABLE)
    assert toolbar.csv_bytes(frame).decode() == (
        "Customer,Net revenue,Orders\r\nC2,20.0,1\r\nC1,5.5,2\r\n")
    sheet = load_workbook(io.BytesIO(toolbar.xlsx_bytes(frame, "customers-list"))).active
    assert sheet.title == "customers-list"
    assert [list(row) for row in sheet.iter_rows(values_only=True)] == [
        ["Customer", "Net revenue", "Orders"], ["C2", 20, 1], ["C1", 5.5, 2]]


def test_a_table_sorted_in_the_browser_exports_in_the_displayed_order_without_hidden_columns():
    table = {**TABLE, "derived_virtual_data": TABLE["data"][::-1],
             "hidden_columns": ["orders"]}
    assert toolbar.csv_bytes(toolbar.table_frame(table)).decode() == (
        "Customer,Net revenue\r\nC1,5.5\r\nC2,20.0\r\n")


def test_formula_cells_are_neutralised_like_the_transaction_export_numbers_are_not():
    table = {"columns": [{"id": "text", "name": "Text"}],
             "data": [{"text": text} for text in DANGEROUS]}
    frame = toolbar.table_frame(table)
    expected = [neutralise_cell(text) for text in DANGEROUS]
    assert expected[:5] == ["'=1+1", "'+cmd", "'-2", "'@x", "'\uff1dHYPERLINK(\"http://evil.example\")"]
    assert pd.read_csv(io.BytesIO(toolbar.csv_bytes(frame)))["Text"].tolist() == expected
    sheet = load_workbook(io.BytesIO(toolbar.xlsx_bytes(frame))).active
    assert [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)] == expected
    numbers = toolbar.table_frame({"columns": [{"id": "n", "name": "Change"}],
                                   "data": [{"n": -2}, {"n": 3}]})
    assert toolbar.csv_bytes(numbers).decode() == "Change\r\n-2\r\n3\r\n"


def test_a_chart_label_that_is_a_formula_is_neutralised():
    figure = {"data": [{"type": "bar", "x": ["=1+1", "@x"], "y": [1, 2], "name": "Units"}],
              "layout": {}}
    assert toolbar.csv_bytes(toolbar.figure_frame(figure)).decode() == (
        "category,Units\r\n'=1+1,1\r\n'@x,2\r\n")


def _as_dash_holds_it(component) -> dict:
    return json.loads(json.dumps(component, cls=plotly.utils.PlotlyJSONEncoder))


def test_a_panel_exports_the_text_of_its_table_without_its_buttons():
    table = dbc.Table([
        html.Thead(html.Tr([html.Th("Product"), html.Th("Revenue")])),
        html.Tbody([html.Tr([html.Td("=1+1"), html.Td("£1,234")]),
                    html.Tr([html.Td([html.Span("Mug"), dbc.Button("Edit")]),
                             html.Td(["£5", html.Small(" (new)")])])])])
    content = _as_dash_holds_it([html.P("Top products"), table])
    assert toolbar.csv_bytes(toolbar.content_frame(content)).decode() == (
        'Product,Revenue\r\n\'=1+1,"£1,234"\r\nMug,£5 (new)\r\n')


def test_a_panel_of_sentences_exports_one_row_each_and_an_empty_one_nothing():
    content = _as_dash_holds_it(html.Ul([html.Li("Revenue rose 5%"),
                                         html.Li("-2 orders")]))
    assert toolbar.csv_bytes(toolbar.content_frame(content, "What changed")).decode() == (
        "What changed\r\nRevenue rose 5%\r\n'-2 orders\r\n")
    assert toolbar.content_frame(_as_dash_holds_it(
        components.empty_state("No sales for these filters."))).empty


def test_file_names_say_page_panel_and_day():
    import datetime as dt
    day = dt.date(2011, 3, 4)
    assert toolbar.file_name("overview-trend", "csv", day) == "overview-trend-2011-03-04.csv"
    key = toolbar.panel_key({"type": "insights-performance", "name": "channel"})
    assert toolbar.file_name(key, "xlsx", day) == \
        "insights-performance-channel-2011-03-04.xlsx"


def test_every_chart_and_paged_table_carries_the_menu(app):  # the app registers the pages
    card = str(components.chart("overview-trend", "Revenue"))
    assert "overview-toolbar-csv" in card and "overview-toolbar-png" in card
    table = str(components.paged_table("customers-list", [], 10, title="Customers"))
    assert "customers-toolbar-xlsx" in table and "-toolbar-png" not in table
    assert "Download CSV (this page)" in table  # a paged table holds one page
    # pinnable panels (webapp.dashboard.panels) offer the pin, others do not
    assert "overview-toolbar-pin'" in card
    assert "-toolbar-pin'" not in str(components.chart("sales-forecast-chart", "Forecast"))
    assert "overview-toolbar-csv" in str(components.panel("overview-insights", "What changed"))


def test_downloads_show_to_the_roles_that_may_export_and_an_empty_menu_is_left_out(app):
    with app.test_request_context("/"):  # nobody signed in: no downloads offered
        table = toolbar.menu("transactions-table", kind="table")
        chart = str(toolbar.menu("overview-trend", kind="chart"))
    assert table.children is None  # no download, no PNG for a table, not pinnable
    assert "-toolbar-csv" not in chart and "overview-toolbar-png" in chart
    assert "Pin “Revenue over time” to a dashboard" in chart  # the registry's title


# ------------------------------------------------------------------ the callback
def _key(id_: dict) -> str:
    return json.dumps(id_, sort_keys=True, separators=(",", ":"))


def _ids(panel: str) -> dict:
    """The menu's ids of a panel: their type carries the panel's page (its first word)."""
    page = panel.split("-")[0]
    return {part: {"panel": panel, "type": f"{page}-toolbar-{part}"} for part in (
        "request", "download", "note", "pin", "pin-confirm", "pin-modal", "pin-target",
        "pin-name", "pin-error", "pinned")}


def _registered_output(app, marker: str) -> str:
    """The output key under which the app registered the toolbar callback whose outputs
    include ``marker`` (as the browser names it)."""
    dash_app = app.extensions["shoplens.dash"]
    return next(key for key in dash_app.callback_map if marker in key)


def _export(app, client, panel: str, request: dict | None, search: str = ""):
    ids = _ids(panel)
    outputs = [{"id": ids["download"], "property": "data"},
               {"id": ids["note"], "property": "children"},
               {"id": ids["note"], "property": "is_open"},
               {"id": ids["note"], "property": "icon"}]
    payload = {"output": _registered_output(app, f"\"{ids['download']['type']}\""),
               "outputs": outputs,
               "inputs": [{"id": ids["request"], "property": "data", "value": request}],
               "state": [{"id": "shell-url", "property": "search", "value": search}],
               "changedPropIds": [f"{_key(ids['request'])}.data"]}
    return client.post("/_dash-update-component", json=payload)


def _response(response) -> dict:
    assert response.status_code == 200, response.text
    return response.json["response"]


def _exports(app) -> list[AuditEvent]:
    settings = app.extensions["shoplens.settings"]
    with db.session_scope(settings.database_url) as session:
        events = session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "export")
                                 .order_by(AuditEvent.id)).all()
        session.expunge_all()
        return list(events)


CSV_REQUEST = {"name": "overview-trend", "format": "csv", "figure": TREND_FIGURE}


def test_an_analyst_downloads_the_chart_as_csv_and_it_is_audited(app, signed_in):
    before = len(_exports(app))
    analyst = signed_in("analyst@example.com")
    answer = _response(_export(app, analyst, "overview-trend", CSV_REQUEST, "?country=FR"))
    download = answer[_key(_ids("overview-trend")["download"])]["data"]
    assert download["filename"].startswith("overview-trend-") and \
        download["filename"].endswith(".csv")
    assert base64.b64decode(download["content"]).decode().splitlines()[:2] == [
        "date,This period,Last year", "2011-03-01,10,8.0"]
    events = _exports(app)
    assert len(events) == before + 1
    event = events[-1]
    assert event.actor == "analyst@example.com" and event.target == download["filename"]
    assert event.detail["panel"] == "overview-trend" and event.detail["format"] == "csv"
    assert event.detail["rows"] == 3 and event.detail["filters"] == "?country=FR"
    assert event.detail["scope"] == "*"  # the analyst sees all data


def test_a_scoped_analyst_downloads_a_table_as_excel_and_the_scope_is_audited(app, signed_in):
    analyst = signed_in("gb@example.com")
    answer = _response(_export(app, analyst, "customers-list",
                               {"format": "xlsx", "table": TABLE}))
    download = answer[_key(_ids("customers-list")["download"])]["data"]
    assert download["base64"] and download["filename"].endswith(".xlsx")
    sheet = load_workbook(io.BytesIO(base64.b64decode(download["content"]))).active
    assert [list(row) for row in sheet.iter_rows(values_only=True)][1] == ["C2", 20, 1]
    event = _exports(app)[-1]
    assert event.actor == "gb@example.com" and event.detail["scope"] == "GB"
    assert event.detail["format"] == "xlsx" and event.detail["panel"] == "customers-list"


def test_a_viewer_may_not_export_like_the_transaction_export_and_nothing_is_sent(
        app, signed_in):
    before = len(_exports(app))
    viewer = signed_in("viewer@example.com")
    answer = _response(_export(app, viewer, "overview-trend", CSV_REQUEST))
    note = answer[_key(_ids("overview-trend")["note"])]
    assert "analyst role" in note["children"] and note["is_open"] is True
    assert _key(_ids("overview-trend")["download"]) not in answer
    assert len(_exports(app)) == before


def test_an_analyst_may_not_export_a_panel_of_an_admin_page(app, signed_in):
    # the menu's ids carry the page's prefix: the request guard asks for the page's role
    analyst = signed_in("analyst@example.com")
    response = _export(app, analyst, "data-loads", {"format": "csv", "table": TABLE})
    assert response.status_code == 403 and b"admin role" in response.data
    admin = signed_in("admin@example.com")
    answer = _response(_export(app, admin, "data-loads", {"format": "csv", "table": TABLE}))
    assert answer[_key(_ids("data-loads")["download"])]["data"]["filename"].startswith(
        "data-loads-")


def test_signed_out_and_deactivated_callers_get_nothing(app, signed_in):
    before = len(_exports(app))
    response = _export(app, app.test_client(), "overview-trend", CSV_REQUEST)
    assert response.status_code == 401 and b"content" not in response.data
    new_user(app, "leaver@example.com", role="analyst")
    leaver = app.test_client()
    assert sign_in(leaver, "leaver@example.com").status_code == 302
    settings = app.extensions["shoplens.settings"]
    with db.session_scope(settings.database_url) as session:
        users.deactivate_user(session, "cli", users.get_user(session, "leaver@example.com"))
    response = _export(app, leaver, "overview-trend", CSV_REQUEST)
    assert response.status_code == 401 and b"content" not in response.data
    assert len(_exports(app)) == before


def test_an_analyst_downloads_a_panels_list(app, signed_in):
    analyst = signed_in("analyst@example.com")
    content = _as_dash_holds_it(html.Ul([html.Li("Revenue rose 5%")]))
    answer = _response(_export(app, analyst, "overview-insights",
                               {"format": "csv", "title": "What changed",
                                "content": content}))
    download = answer[_key(_ids("overview-insights")["download"])]["data"]
    assert download["filename"].startswith("overview-insights-")
    assert base64.b64decode(download["content"]).decode() == \
        "What changed\r\nRevenue rose 5%\r\n"


def test_a_bad_request_is_refused_with_a_message(app, signed_in):
    analyst = signed_in("analyst@example.com")
    for request, message in (({"format": "pdf", "table": TABLE}, "Choose a format"),
                             ({"format": "csv"}, "nothing to export"),
                             ({"format": "csv", "figure": json.loads(figures.empty_figure(
                                 "none").to_json())}, "the chart shows no data")):
        answer = _response(_export(app, analyst, "overview-trend", request))
        assert message in answer[_key(_ids("overview-trend")["note"])]["children"]


# ------------------------------------------------------------------ pinning
def _pin(app, client, panel: str, *, confirm: bool, target=None, name=None, search=""):
    ids = _ids(panel)
    outputs = [{"id": ids["pin-modal"], "property": "is_open"},
               {"id": ids["pin-target"], "property": "options"},
               {"id": ids["pin-target"], "property": "value"},
               {"id": ids["pin-error"], "property": "children"},
               {"id": ids["pinned"], "property": "children"},
               {"id": ids["pinned"], "property": "is_open"}]
    trigger = ids["pin-confirm"] if confirm else ids["pin"]
    payload = {"output": _registered_output(app, f"\"{ids['pin-modal']['type']}\""),
               "outputs": outputs,
               "inputs": [{"id": ids["pin"], "property": "n_clicks", "value": 1},
                          {"id": ids["pin-confirm"], "property": "n_clicks",
                           "value": 1 if confirm else 0}],
               "state": [{"id": ids["pin-target"], "property": "value", "value": target},
                         {"id": ids["pin-name"], "property": "value", "value": name},
                         {"id": "shell-url", "property": "search", "value": search}],
               "changedPropIds": [f"{_key(trigger)}.n_clicks"]}
    return _response(client.post("/_dash-update-component", json=payload))


def _boards(app, email: str) -> list[dict]:
    settings = app.extensions["shoplens.settings"]
    with db.session_scope(settings.database_url) as session:
        owner = users.get_user(session, email)
        return [dashboards.dashboard_to_dict(board) for board in session.scalars(
            sa.select(Dashboard).where(Dashboard.owner_id == owner.id)
            .order_by(Dashboard.id))]


def test_pinning_a_chart_to_a_new_then_an_existing_dashboard_adds_tiles(app, signed_in):
    viewer = signed_in("viewer@example.com")
    opened = _pin(app, viewer, "overview-trend", confirm=False)
    modal = opened[_key(_ids("overview-trend")["pin-target"])]
    assert modal["options"][-1] == {"label": "New dashboard…", "value": "new"}
    answer = _pin(app, viewer, "overview-trend", confirm=True, target="new",
                  name="Monday", search="?country=FR&grain=week")
    assert answer[_key(_ids("overview-trend")["pinned"])] == {
        "children": "Pinned to Monday", "is_open": True}
    [board] = _boards(app, "viewer@example.com")
    assert board["name"] == "Monday"
    [tile] = board["tiles"]
    # the page's filters (not its own parameters such as grain) become the tile's
    assert tile["panel"] == "overview-trend" and tile["follow_dashboard"] is False
    assert Filters.from_query(tile["filters"]) == Filters(countries=("FR",))

    reopened = _pin(app, viewer, "products-top", confirm=False)
    options = reopened[_key(_ids("products-top")["pin-target"])]["options"]
    assert options[0] == {"label": "Monday", "value": str(board["id"])}
    _pin(app, viewer, "products-top", confirm=True, target=str(board["id"]))
    [board] = _boards(app, "viewer@example.com")
    assert [(t["panel"], t["follow_dashboard"]) for t in board["tiles"]] == [
        ("overview-trend", False), ("products-top", True)]


def test_pinning_to_someone_elses_dashboard_or_without_a_name_is_refused(app, signed_in):
    analyst = signed_in("analyst@example.com")
    _pin(app, analyst, "overview-trend", confirm=True, target="new", name="Mine")
    [board] = [b for b in _boards(app, "analyst@example.com") if b["name"] == "Mine"]
    mine = _pin(app, analyst, "customers-list", confirm=False)
    assert "Mine" in {o["label"] for o in mine[_key(_ids("customers-list")["pin-target"])][
        "options"]}
    viewer = signed_in("fr@example.com")
    theirs = _pin(app, viewer, "customers-list", confirm=False)
    assert "Mine" not in {o["label"] for o in theirs[_key(_ids("customers-list")[
        "pin-target"])]["options"]}
    answer = _pin(app, viewer, "overview-trend", confirm=True, target=str(board["id"]))
    assert f"no dashboard {board['id']}" in answer[_key(_ids("overview-trend")["pin-error"])][
        "children"]
    answer = _pin(app, analyst, "overview-trend", confirm=True, target="new", name="  ")
    assert answer[_key(_ids("overview-trend")["pin-error"])]["children"] == \
        "Name the new dashboard."
    [board] = [b for b in _boards(app, "analyst@example.com") if b["name"] == "Mine"]
    assert len(board["tiles"]) == 1


def test_pinning_signed_out_is_refused(app):
    response = app.test_client().post("/_dash-update-component", json={
        "output": _registered_output(app, '"overview-toolbar-pin-modal"'), "outputs": [],
        "inputs": [], "state": [], "changedPropIds": []})
    assert response.status_code == 401
