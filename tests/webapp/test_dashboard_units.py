"""Dashboard building blocks without a browser: date presets, URL handling, number
formats, figure builders and the role filter of the navbar."""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace

import pandas as pd
import pytest

from analytics import breakdowns, quality
from analytics.filters import ALL_DATA, Filters
from core import formatting
from tests.analytics.conftest import publish_lines
from tests.webapp.conftest import FORMULA
from webapp.dashboard import components, context, figures, presets, shell, uploads

LAST = dt.date(2011, 12, 9)
FIRST = dt.date(2010, 12, 1)


@pytest.mark.parametrize("name, start", [
    ("last_7", dt.date(2011, 12, 3)),
    ("last_30", dt.date(2011, 11, 10)),
    ("last_90", dt.date(2011, 9, 11)),
    ("month_to_date", dt.date(2011, 12, 1)),
    ("quarter_to_date", dt.date(2011, 10, 1)),
    ("year_to_date", dt.date(2011, 1, 1)),
    ("last_12_months", dt.date(2010, 12, 10)),
    ("all_time", FIRST),
])
def test_presets_end_on_the_datas_last_day(name, start):
    assert presets.preset_range(name, FIRST, LAST) == (start, LAST)


def test_last_12_months_from_29_february_starts_on_1_march():
    assert presets.preset_range("last_12_months", FIRST, dt.date(2012, 2, 29)) == (
        dt.date(2011, 3, 1), dt.date(2012, 2, 29))


def test_matching_preset_recognises_ranges_and_falls_back_to_custom():
    assert presets.matching_preset(dt.date(2011, 12, 1), LAST, FIRST, LAST) == "month_to_date"
    assert presets.matching_preset(dt.date(2011, 12, 2), LAST, FIRST, LAST) == presets.CUSTOM
    with pytest.raises(ValueError):
        presets.preset_range("fortnight", FIRST, LAST)


def test_replace_filters_keeps_page_parameters_and_drops_old_filters():
    search = "?country=FR&grain=week&start=2011-01-01"
    new = Filters(countries=("DE",), categories=("Toys",))
    result = context.replace_filters(search, new)
    assert Filters.from_query(result) == new
    assert "grain=week" in result and "FR" not in result and "start" not in result
    assert context.replace_filters("", Filters()) == ""


def test_with_params_and_page_param():
    search = context.with_params("?country=FR", grain="month")
    assert context.page_param(search, "grain", "day", ("day", "week", "month")) == "month"
    assert context.page_param("?grain=hour", "grain", "day", ("day", "week")) == "day"
    assert "grain" not in context.with_params(search, grain=None)


def test_malformed_filters_become_a_readable_unavailable():
    with pytest.raises(context.Unavailable, match="start must be a date"):
        context.parse_filters("?start=yesterday")


def test_kpi_cards_write_numbers_with_the_shared_formats():
    revenue = components.kpi_card("overview", "revenue", {
        "current": 1234567.4, "abs_change": -250.0, "rel_change": -0.05}, "£")
    text = str(revenue)
    assert "Revenue (net)" in text          # the label of core.formatting.KPI_LABELS
    assert "£1,234,567" in text and "−£250 (−5.0%)" in text and "text-danger" in text
    churn = str(components.kpi_card("overview", "churn_rate", {
        "current": 0.0412, "abs_change": 0.012, "rel_change": 0.5}, "£"))
    # a rise of churn is bad news: red
    assert "4.1%" in churn and "+1.2 pts (+50.0%)" in churn and "text-danger" in churn
    first = str(components.kpi_card("overview", "orders", {
        "current": 12.0, "abs_change": None, "rel_change": None}, "£"))
    assert "no comparison" in first
    assert set(components.KPI_CARDS) <= set(formatting.KPI_LABELS)


def test_empty_kpi_card_shows_na_and_the_reason():
    card = components.kpi_card("overview", "profit",
                               {"current": None, "reason": "no cost data"}, "£")
    text = str(card)
    assert "n/a" in text and "no cost data" in text and "overview-kpi-profit" in text


def test_every_figure_uses_the_shared_template():
    frame = pd.DataFrame({"day": pd.date_range("2011-01-01", periods=3),
                          "revenue": [10.0, 20.0, 5.0], "revenue_ly": [8.0, None, 4.0]})
    line = figures.trend(frame, x="day", y="revenue", last_year="revenue_ly", currency="£")
    assert line.layout.template.layout.separators == ".,"
    assert [trace.name for trace in line.data] == ["This period", "Last year"]
    assert line.layout.yaxis.tickprefix == "£"
    bars = figures.bars(pd.DataFrame({"name": ["b", "a"], "value": [3.0, 1.0]}),
                        label="name", value="value", key="name", currency="£")
    assert list(bars.data[0].customdata) == ["b", "a"]
    empty = figures.empty_figure("No sales for these filters.")
    assert empty.layout.annotations[0].text == "No sales for these filters."
    long = ("The month profile needs at least two months with sales in the period; "
            "choose a longer period.")
    lines = figures.empty_figure(long).layout.annotations[0].text.split("<br>")
    assert len(lines) == 3 and max(map(len, lines)) <= figures.EMPTY_MESSAGE_WIDTH
    assert " ".join(lines) == long  # wrapped, not clipped


def test_treemap_ids_encode_the_path_and_parents_sum_children():
    frame = pd.DataFrame({"country": ["UK", "UK", "FR"], "city": ["London", "Leeds", "Paris"],
                          "revenue": [5.0, 3.0, 2.0]})
    figure = figures.treemap(frame, path=["country", "city"], value="revenue")
    trace = figure.data[0]
    values = dict(zip(trace.ids, trace.values))
    assert values["UK"] == 8.0 and values["UK/London"] == 5.0
    assert dict(zip(trace.ids, trace.parents))["UK/Leeds"] == "UK"


def test_treemap_nodes_are_those_plotly_express_builds():
    """``figures.hierarchy`` builds the nodes itself (px.treemap's group-bys were ~40 ms a
    redraw): the same ids, labels, parents and values, in the same order, as plotly
    express on the same rows, rows of the same leaf included."""
    import numpy as np
    import plotly.express as px
    rng = np.random.default_rng(7)
    frame = pd.DataFrame({"country": rng.choice(["UK", "DE", "Côte d'Ivoire"], 200),
                          "city": rng.choice(["London", "Leeds", "a/b", "Bonn"], 200),
                          "category": rng.choice(list("ABCDE"), 200),
                          "revenue": rng.random(200) * 100})
    path = ["country", "city", "category"]
    expected = px.treemap(frame, path=path, values="revenue").data[0]
    got = figures.hierarchy(frame, path, "revenue")
    assert got["ids"] == list(expected.ids)
    assert got["labels"] == list(expected.labels)
    assert got["parents"] == list(expected.parents)
    assert got["values"] == pytest.approx(list(expected.values))


def test_a_treemap_over_its_leaf_budget_folds_each_parents_smallest_leaves():
    # 2 cities x 4 categories = 8 leaves; a budget of 6 keeps 2 per city and one "Other"
    frame = pd.DataFrame({"city": ["Leeds"] * 4 + ["Paris"] * 4,
                          "category": ["A", "B", "C", "D"] * 2,
                          "revenue": [40.0, 30.0, 20.0, 10.0, 1.0, 2.0, 3.0, 4.0]})
    folded = figures.fold_leaves(frame, ["city", "category"], "revenue", budget=6)
    leaves = {(row.city, row.category): row.revenue for row in folded.itertuples()}
    assert leaves == {("Leeds", "A"): 40.0, ("Leeds", "B"): 30.0,
                      ("Leeds", "Other categories"): 30.0,
                      ("Paris", "D"): 4.0, ("Paris", "C"): 3.0,
                      ("Paris", "Other categories"): 3.0}
    assert figures.fold_leaves(frame, ["city", "category"], "revenue", budget=8) is frame
    # a budget of 7 keeps 2 per city: Leeds, one leaf more than that (3), keeps the
    # leaf's own name; Paris (5) folds its 3 smallest into "Other categories"
    uneven = pd.DataFrame({"city": ["Leeds"] * 3 + ["Paris"] * 5,
                           "category": ["A", "B", "C", "A", "B", "C", "D", "E"],
                           "revenue": [30.0, 20.0, 10.0, 1.0, 2.0, 3.0, 4.0, 5.0]})
    folded = figures.fold_leaves(uneven, ["city", "category"], "revenue", budget=7)
    assert {(row.city, row.category): row.revenue for row in folded.itertuples()} == {
        ("Leeds", "A"): 30.0, ("Leeds", "B"): 20.0, ("Leeds", "C"): 10.0,
        ("Paris", "E"): 5.0, ("Paris", "D"): 4.0, ("Paris", "Other categories"): 6.0}
    trace = figures.treemap(frame, path=["city", "category"], value="revenue").data[0]
    assert len(trace.ids) == 10                          # 2 cities + 8 leaves: under budget


def test_treemap_names_missing_keys_and_its_country_tiles_carry_the_country():
    """What the geography page's drill-down reads: a top tile's id is the country alone."""
    frame = pd.DataFrame({"country": ["UK", "FR", "FR", "DE"],
                          "city": ["Leeds", None, "Paris", "Berlin"],
                          "category": ["Toys", "Home", None, "Toys"],
                          "revenue": [3.0, 2.0, 4.0, 0.0]})           # DE: nothing to show
    figure = figures.treemap(frame, path=["country", "city", "category"], value="revenue",
                             currency="£")
    trace = figure.data[0]
    nodes = {node: (label, parent, value) for node, label, parent, value
             in zip(trace.ids, trace.labels, trace.parents, trace.values)}
    assert nodes == {
        "UK": ("UK", "", 3.0), "UK/Leeds": ("Leeds", "UK", 3.0),
        "UK/Leeds/Toys": ("Toys", "UK/Leeds", 3.0),
        "FR": ("FR", "", 6.0), "FR/(none)": ("(none)", "FR", 2.0),
        "FR/(none)/Home": ("Home", "FR/(none)", 2.0), "FR/Paris": ("Paris", "FR", 4.0),
        "FR/Paris/(none)": ("(none)", "FR/Paris", 4.0)}
    assert (trace.branchvalues, trace.maxdepth) == ("total", 2)
    assert trace.hovertemplate == ("%{label}<br>£%{value:,.0f}<br>%{percentRoot:.1%} of all"
                                   "<extra></extra>")
    assert context.clicked({"points": [{"id": "FR", "label": "FR"}]}, "id") == "FR"


def test_role_filter_of_pages():
    admin_page = {"role": "admin", "path": "/data"}
    viewer_page = {"path": "/"}
    assert shell.page_allowed(viewer_page, "viewer")
    assert not shell.page_allowed(admin_page, "analyst")
    assert shell.page_allowed(admin_page, "admin")
    assert not shell.page_allowed(viewer_page, None)


def test_drill_down_adds_a_value_once_and_sets_the_segment():
    search = "?start=2011-01-01&end=2011-01-31&country=FR&grain=week"
    narrowed = context.narrow(search, "country", "Germany")
    assert Filters.from_query(narrowed).countries == ("FR", "Germany")
    assert "grain=week" in narrowed
    assert context.narrow(narrowed, "country", "Germany") == narrowed
    assert Filters.from_query(context.narrow(search, "segment", "Champions")).segment == \
        "Champions"


def test_clicked_reads_customdata_labels_and_treemap_ids():
    assert context.clicked({"points": [{"customdata": "EIRE"}]}) == "EIRE"
    assert context.clicked({"points": [{"customdata": ["P1", 3.0]}]}) == "P1"
    assert context.clicked({"points": [{"label": "Lost"}]}, "label") == "Lost"
    assert context.clicked({"points": []}) is None and context.clicked(None) is None


def test_retention_colours_are_fixed_to_a_share_and_revenue_gets_its_own_scale():
    matrix = pd.DataFrame([[1.0, 0.2, 0.1], [1.0, 0.3, float("nan")]])
    assert figures.retention_range(matrix, "customers") == (0.0, 1.0)
    assert figures.retention_range(matrix, "revenue") == (0.0, 1.0)
    growing = pd.DataFrame([[1.0, 1.5, 2.0, 3.0]])
    low, high = figures.retention_range(growing, "revenue")
    assert low == 0.0 and 2.0 < high < 3.0  # the 95th percentile of 1, 1.5, 2, 3 is 2.85
    figure = figures.heatmap(pd.DataFrame([[1.0]]), colour_range=(0.0, 1.0))
    assert (figure.data[0].zmin, figure.data[0].zmax) == (0.0, 1.0)


def test_sparkline_is_an_svg_image_scaled_from_zero():
    from urllib.parse import unquote
    source = figures.sparkline(pd.Series([0.0, 10.0, float("nan"), 5.0]), width=30, height=12)
    assert source.startswith("data:image/svg+xml")
    svg = unquote(source.split(",", 1)[1])
    # x every 10; y from 11 (value 0) up to 1 (the highest value, 10); NaN drawn as 0
    assert "points='0.0,11.0 10.0,1.0 20.0,11.0 30.0,6.0'" in svg
    assert "<polygon points='0,11.0 0.0,11.0" in svg


def test_the_layout_renders_the_page_its_referer_names():
    from flask import Flask
    server = Flask(__name__)
    with server.test_request_context("/_dash-layout",
                                     headers={"Referer": "http://localhost/sales?country=FR"}):
        assert shell.first_path() == "/sales"
    with server.test_request_context("/_dash-layout",
                                     headers={"Referer": "http://elsewhere.example/sales"}):
        assert shell.first_path() is None
    with server.test_request_context("/_dash-layout"):
        assert shell.first_path() is None


# ------------------------------------------------- data without the optional columns
MARCH = Filters(start=dt.date(2011, 3, 1), end=dt.date(2011, 3, 3))
MARCH_QUERY = "?start=2011-03-01&end=2011-03-03"


def test_data_columns_name_what_each_version_lacks_and_the_gaps_say_why(duckdb_warehouse):
    publish_lines(duckdb_warehouse, [
        {"invoice_id": "I1", "invoice_ts": "2011-03-01 10:00", "quantity": 2, "unit_price": 5.0},
        {"invoice_id": "I2", "invoice_ts": "2011-03-02 10:00", "quantity": 1, "unit_price": 3.0,
         "country": "France", "country_code": "FR"}])
    bare = context.data_columns(duckdb_warehouse)
    assert bare.missing == frozenset(quality.OPTIONAL_DIMENSIONS)
    assert not bare.has_cost and not bare.has_sessions
    assert context.data_columns(duckdb_warehouse) is bare        # once per version
    channels = breakdowns.breakdown(duckdb_warehouse, MARCH, ALL_DATA, dimension="channel")
    assert list(channels["key"]) == ["(none)"]                   # one big "(none)" bar
    assert context.breakdown_gap(channels, "channel", bare) == "This data has no channel column."

    # a new version where one British sale has a channel, a category and a cost
    publish_lines(duckdb_warehouse, [
        {"invoice_id": "I1", "invoice_ts": "2011-03-01 10:00", "quantity": 2, "unit_price": 5.0,
         "channel": "Web", "category": "Toys", "unit_cost": 2.0},
        {"invoice_id": "I2", "invoice_ts": "2011-03-02 10:00", "quantity": 1, "unit_price": 3.0,
         "country": "France", "country_code": "FR"}])
    richer = context.data_columns(duckdb_warehouse)
    assert richer.missing == frozenset(quality.OPTIONAL_DIMENSIONS) - {"category", "channel"}
    assert {"city", "payment_method", "device", "traffic_source"} <= richer.missing
    assert richer.has_cost
    everywhere = breakdowns.breakdown(duckdb_warehouse, MARCH, ALL_DATA, dimension="channel")
    assert set(everywhere["key"]) == {"Web", "(none)"}
    assert context.breakdown_gap(everywhere, "channel", richer) is None
    france = breakdowns.breakdown(duckdb_warehouse, replace(MARCH, countries=("France",)),
                                  ALL_DATA, dimension="channel")
    assert context.breakdown_gap(france, "channel", richer) == "None of these sales has a channel."


def test_sidebar_hides_filters_the_data_cannot_use_but_keeps_a_shared_links_values():
    columns = context.DataColumns(missing=frozenset({"category", "channel"}))
    count = len(shell.DIMENSION_CONTROLS)
    names = [name for name, *_rest in shell.DIMENSION_CONTROLS]
    fields = shell.dimension_fields(Filters(), columns)
    hidden = dict(zip(names, fields[:count]))
    assert hidden == {name: name in ("category", "channel") for name in names}
    assert names[:6] == ["country", "category", "channel", "payment", "device", "source"]
    assert fields[-1] == "This data has no category or channel column: their filters are hidden."
    linked = shell.dimension_fields(Filters(channels=("Web",)), columns)
    assert dict(zip(names, linked[:count]))["channel"] is False   # shown: it filters
    notes = dict(zip(names, linked[count:2 * count]))
    assert notes["channel"].startswith("This data has no channel column.")
    assert notes["category"] == "" and notes["country"] == ""
    only_one = shell.dimension_fields(Filters(),
                                      context.DataColumns(missing=frozenset({"device"})))
    assert only_one[-1] == "This data has no device column: its filter is hidden."
    assert shell.dimension_fields(Filters(), context.DataColumns())[-1] == ""


def test_top_products_are_one_colour_without_cost_and_coloured_by_profit_with_it():
    frame = pd.DataFrame({"name": ["Mug", "Lamp"], "revenue": [20.0, 10.0],
                          "profit": [float("nan"), float("nan")]})
    plain = figures.bars(frame, label="name", value="revenue", color="profit")
    assert plain.data[0].marker.color == figures.PRIMARY
    costed = figures.bars(frame.assign(profit=[8.0, 1.0]), label="name", value="revenue",
                          color="profit")
    assert list(costed.data[0].marker.color) == [8.0, 1.0]


def _figure_text(figure: dict) -> str:
    return " ".join(note["text"].replace("<br>", " ")
                    for note in figure["layout"].get("annotations", []))


def _prop(component, prop: str, *value) -> dict:
    return {"id": component, "property": prop, **({"value": value[0]} if value else {})}


def _callback(client, output: str, outputs, inputs: list, state: list | None = None) -> dict:
    """The response of a real Dash callback request (what the browser would send)."""
    payload = {"output": output, "outputs": outputs, "inputs": inputs, "state": state or [],
               "changedPropIds": [f"{inputs[0]['id']}.{inputs[0]['property']}"]}
    response = client.post("/_dash-update-component", json=payload)
    assert response.status_code == 200, response.text
    return response.json["response"]


def test_pages_explain_the_missing_columns_and_cost_of_the_sample(app, signed_in):
    """The web tests' warehouse (tests/webapp/conftest.LINES) has no category, channel,
    device, traffic source or cost: as in the Online Retail sample."""
    from webapp.dashboard.pages import insights, products  # pages need the app first
    viewer = signed_in("viewer@example.com")
    search = _prop("shell-url", "search", MARCH_QUERY)
    ids = [{"name": name, "type": "insights-performance"} for name in insights.PERFORMANCE]
    performance = _callback(viewer, '{"name":["ALL"],"type":"insights-performance"}.figure',
                            [_prop(graph_id, "figure") for graph_id in ids], [search],
                            [[_prop(graph_id, "id", graph_id) for graph_id in ids]])
    texts = [_figure_text(performance[json.dumps(graph_id, separators=(",", ":"),
                                                 sort_keys=True)]["figure"])
             for graph_id in ids]
    assert texts == ["This data has no channel column.", "This data has no device column.",
                     "This data has no traffic source column."]

    top = _callback(viewer, "..products-top.figure...products-basket-product.options..."
                            "products-top-note.children..",
                    [_prop("products-top", "figure"), _prop("products-basket-product", "options"),
                     _prop("products-top-note", "children")], [search])
    assert top["products-top-note"]["children"] == products.TOP_WITHOUT_PROFIT
    bars = top["products-top"]["figure"]["data"][0]
    # Mug, Lamp and the formula-named product: one colour, no profit scale
    assert bars["marker"] == {"color": figures.PRIMARY}
    assert set(bars["y"]) == {"Mug", "Lamp", FORMULA}
    categories = _callback(viewer, "..products-categories.figure...products-categories-note."
                                   "children..",
                           [_prop("products-categories", "figure"),
                            _prop("products-categories-note", "children")], [search])
    assert _figure_text(categories["products-categories"]["figure"]) == \
        "This data has no category column."


def test_the_sidebar_of_the_sample_hides_its_empty_filters_and_keeps_linked_values(app, signed_in):
    viewer = signed_in("viewer@example.com")
    with viewer:
        viewer.get("/healthz")  # keeps this request's context (and its signed-in user)
        options = dict(zip([name for name, *_rest in shell.DIMENSION_CONTROLS],
                           shell.filter_options(Filters(channels=("Web",)))))
        sidebar = str(shell.sidebar())
    assert [option["value"] for option in options["country"]] == [
        "United Kingdom", "France", "EIRE"]                      # by net revenue: 25, 15, 7
    assert options["channel"] == [{"label": "Web", "value": "Web"}]   # the link's value kept
    assert options["category"] == [] and options["device"] == []
    assert "their filters are hidden" in sidebar


def test_anomaly_panel_lists_slice_anomalies_next_to_shop_wide_days(app):
    """An outage in one channel is listed (with its day range) even when no shop-wide day
    is unusual; an empty list says so instead of showing nothing. (In a request: the days
    are written in the installation's date format.)"""
    from webapp.dashboard.pages import insights
    with app.test_request_context("/"):
        text = str(insights._slice_list([
            {"start": "2025-07-19", "end": "2025-07-22", "dimension": "channel",
             "value": "Mobile App",
             "sentence": "Mobile App orders fell to 5 against 108 expected."},
            {"start": "2025-03-09", "end": "2025-03-09", "dimension": "traffic_source",
             "value": "Email", "sentence": "Email orders rose to 123 against 38 expected."}]))
        empty = str(insights._slice_list([]))
    assert "19–22 Jul 2025" in text and "Mobile App orders fell" in text
    assert "9 Mar 2025" in text and "Email orders rose" in text
    assert "No unusual days in any single slice" in empty


def test_upload_columns_are_named_as_the_reader_names_them(tmp_path):
    path = tmp_path / "export.csv"
    path.write_bytes("Rechnung;Größe ;;Menge;Menge\r\n1;2,5;x;3;4\r\n".encode("cp1252"))
    assert uploads.column_names(path) == ["Rechnung", "Größe", "Unnamed: 2", "Menge",
                                          "Menge.1"]
    broken = tmp_path / "broken.csv"
    broken.write_bytes(b"\x00\x01" * 5000)
    with pytest.raises(uploads.UploadError, match="broken.csv: cannot read a header row"):
        uploads.column_names(broken)


def test_the_csv_link_is_shown_to_the_roles_its_api_route_declares(app, signed_in):
    """The Transactions page shows "Download CSV" to whom ``GET transactions.csv`` allows
    (analysts and admins), read from the route's declaration, not a copy of it."""
    def download_link_hidden(email: str) -> bool:
        page = _callback(signed_in(email), "..shell-page.children...shell-rendered-path.data..",
                         [_prop("shell-page", "children"), _prop("shell-rendered-path", "data")],
                         [_prop("shell-url", "pathname", "/transactions")],
                         [_prop("shell-rendered-path", "data", None)])
        found = []

        def walk(node):
            if isinstance(node, dict):
                if node.get("props", {}).get("id") == "transactions-download":
                    found.append(bool(node["props"].get("hidden")))
                for value in node.values():
                    walk(value)
            elif isinstance(node, list):
                for value in node:
                    walk(value)
        walk(page["shell-page"]["children"])
        assert len(found) == 1
        return found[0]

    assert download_link_hidden("viewer@example.com")
    assert not download_link_hidden("analyst@example.com")
    assert not download_link_hidden("admin@example.com")


@pytest.mark.parametrize("position", ["top right", "bottom right", "top left", "bottom left"])
def test_lines_are_the_shapes_and_labels_plotly_adds(position):
    """``figures.vline``/``hline`` add what ``add_vline``/``add_hline`` add (they skip its
    subplot checks, ~7 ms a line): the same shape and the same label."""
    import plotly.graph_objects as go
    for plotly_way, ours, at in (("add_vline", figures.vline, "x"),
                                 ("add_hline", figures.hline, "y")):
        expected, got = go.Figure(), go.Figure()
        for figure in (expected, got):
            figure.add_bar(x=[1, 2], y=[3, 4])
        getattr(expected, plotly_way)(**{at: 1.5}, line=dict(dash="dot", width=1),
                                      annotation_text="mean", annotation_position=position)
        ours(got, 1.5, dict(dash="dot", width=1), "mean", position)
        assert got.to_plotly_json()["layout"]["shapes"] == \
            expected.to_plotly_json()["layout"]["shapes"]
        assert got.to_plotly_json()["layout"]["annotations"] == \
            expected.to_plotly_json()["layout"]["annotations"]


def _answer_of(warehouse, filters, scope, value, fail=False):
    """A stand-in analytics function for ``context.prefetch``: it records its thread and,
    while ``_answer_of.together`` is set, waits there for the other variant (so both must
    run at once)."""
    import threading
    _answer_of.calls.append((value, threading.get_ident()))
    if _answer_of.together is not None:
        _answer_of.together.wait()
    if fail:
        raise ValueError("no answer")
    return value * 10


def test_prefetch_computes_the_variants_at_once_into_the_cache(signed_in):
    """A callback that shows several answers asks for them together (``context.prefetch``,
    threads on DuckDB and PostgreSQL); its ``query`` calls then find them in the cache.
    A variant that fails is left to its ``query``, which meets the error and says it."""
    import threading
    _answer_of.calls = []
    _answer_of.together = threading.Barrier(2, timeout=10)   # broken unless both run at once
    viewer = signed_in("viewer@example.com")
    with viewer:
        viewer.get("/healthz")  # keeps this request's context (and its signed-in user)
        context.prefetch(MARCH_QUERY, [(_answer_of, {"value": 1}), (_answer_of, {"value": 2})])
        threads = {thread for _value, thread in _answer_of.calls}
        assert sorted(value for value, _thread in _answer_of.calls) == [1, 2]
        assert len(threads) == 2 and not _answer_of.together.broken
        _answer_of.together = None
        assert context.query(_answer_of, MARCH_QUERY, value=2) == 20
        assert len(_answer_of.calls) == 2                           # from the cache
        _answer_of.calls = []
        context.prefetch(MARCH_QUERY, [(_answer_of, {"value": 3, "fail": True}),
                                       (_answer_of, {"value": 4})])    # no error here
        with pytest.raises(ValueError):
            context.query(_answer_of, MARCH_QUERY, value=3, fail=True)
        assert [value for value, _thread in _answer_of.calls].count(3) == 2
