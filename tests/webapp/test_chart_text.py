"""Every chart's text alternative (``webapp.dashboard.chart_text``): a figure's numbers as
the table screen readers get, worked out by hand on tiny figures; a map's country codes
as names; a long chart capped and saying so; the callback that follows each chart,
through the real Dash endpoint, refused when signed out."""
from __future__ import annotations

import html
import json
import re

import plotly.graph_objects as go
from dash import MATCH

from webapp.dashboard import chart_text
from webapp.dashboard.chart_text import figure_outputs, figure_text, values_text
from tests.webapp.test_alerts_page import _call
from tests.webapp.test_data_upload import text_of


def spoken(children) -> str:
    """What a screen reader reads of a text alternative: its words, the table's HTML
    (one Markdown component) read as its cells' text."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", text_of(children))).split())


def _two_series() -> go.Figure:
    """Revenue and profit (money, the y axis carries £) on three weekdays."""
    figure = go.Figure([go.Bar(name="Revenue", x=["Mon", "Tue", "Wed"], y=[1200.5, 80, 0]),
                        go.Bar(name="Profit", x=["Mon", "Tue", "Wed"], y=[300, -20.25, 12])])
    figure.update_layout(xaxis_title="weekday", yaxis=dict(tickprefix="£"))
    return figure


def test_two_traces_of_three_points_make_three_rows_of_three_cells():
    text = figure_text(_two_series(), "£")
    assert text.header == ["weekday", "Revenue", "Profit"]
    # money as the axis writes it: £ before, U+2212 for a loss, pence below £1,000,
    # whole pounds from £1,000 (1200.5 rounds half to even: £1,200)
    assert text.rows == [["Mon", "£1,200", "£300"],
                         ["Tue", "£80", "−£20.25"],
                         ["Wed", "£0", "£12"]]
    assert text.total == 3 and not text.capped
    assert text.summary == "Bar chart, 3 rows by weekday; Revenue from £0 to £1,200."


def test_a_line_over_days_writes_days_and_rates():
    figure = go.Figure(go.Scatter(x=["2025-01-01", "2025-01-02"], y=[0.5, 0.255],
                                  mode="lines", name="Conversion"))
    figure.update_layout(yaxis=dict(tickformat=".0%"))
    text = figure_text(figure, "£")
    assert text.header == ["date", "Conversion"]
    assert text.rows == [["1 Jan 2025", "50.0%"], ["2 Jan 2025", "25.5%"]]
    assert text.summary == ("Line chart, 2 rows by date, from 1 Jan 2025 to 2 Jan 2025; "
                            "Conversion from 25.5% to 50.0%.")


def test_a_map_names_its_countries():
    figure = go.Figure(go.Choropleth(locations=["GBR", "FRA", "DEU"], z=[100, 250.5, 3],
                                     name="Revenue"))
    text = figure_text(figure, "£")
    assert text.rows == [["United Kingdom", "100"], ["France", "250.50"], ["Germany", "3"]]
    # the offline world map's values (alpha-2 codes), largest first
    text = values_text({"GB": 1000.0, "FR": 20.5, "DE": 300.0}, label="Net revenue",
                       locale="£")
    assert text.header == ["country", "Net revenue"]
    assert text.rows == [["United Kingdom", "£1,000"], ["Germany", "£300.00"],
                         ["France", "£20.50"]]            # money as the cards write it
    assert text.summary == ("Map, 3 countries; Net revenue from £20.50 (France) to £1,000 "
                            "(United Kingdom).")


def test_a_long_chart_lists_its_first_rows_and_says_so(monkeypatch):
    assert chart_text.MAX_ROWS >= 366        # a year of days (a leap year) is listed whole
    monkeypatch.setattr(chart_text, "MAX_ROWS", 4)
    figure = go.Figure(go.Bar(x=[f"p{i}" for i in range(10)], y=list(range(10))))
    text = figure_text(figure, "£")
    assert text.total == 10 and [row[0] for row in text.rows] == ["p0", "p1", "p2", "p3"]
    table = text_of(chart_text.render(text, "x-chart"))
    assert "the first 4 of 10 rows" in table


def test_an_empty_figure_says_why():
    figure = go.Figure()
    figure.add_annotation(text="No sales for these filters.", showarrow=False)
    assert figure_text(figure).summary == "No chart: No sales for these filters."
    assert figure_text(None).summary == "No data to chart."
    assert figure_text({}).rows == []


def test_every_callback_drawing_a_figure_gets_its_table():
    keys = ["overview-trend.figure", "..a-chart.figure...a-note.children..",
            '{"name":["ALL"],"type":"insights-performance"}.figure', "x-list.children"]
    graphs = figure_outputs(keys)
    assert graphs == ["overview-trend", "a-chart",
                      {"name": MATCH, "type": "insights-performance"}]
    assert chart_text.alt_id(graphs[2]) == {"name": MATCH, "type": "insights-performance-alt"}
    assert chart_text.alt_id("overview-trend") == "overview-trend-alt"


def test_every_callback_drawing_a_chart_sends_its_table_in_the_same_answer(app, client):
    client.get("/login")   # Dash takes the pages' callbacks in on the first request
    dash_app = app.extensions["shoplens.dash"]
    drawing = [key for key in dash_app.callback_map
               if figure_outputs([key]) or figure_outputs([key], "hideout")]
    assert "overview-trend.figure" in drawing
    assert all(getattr(dash_app.callback_map[key]["callback"], "_with_chart_text", False)
               for key in drawing)
    # no second request per chart any more: no callback listens to a figure for its table
    assert not [key for key in dash_app.callback_map if key.endswith("-alt.children")]


def test_a_figure_answer_gets_its_table_as_a_side_update(app):
    figure = chart_text.as_dict(_two_series())
    body = json.dumps({"multi": True, "response": {
        "overview-trend": {"figure": figure},
        '{"name":"x","type":"insights-performance"}': {"figure": figure},
        "overview-period": {"children": "1–3 Mar"}}})
    with app.test_request_context():
        answer = json.loads(chart_text.add_text(body))
    assert answer["response"]["overview-period"] == {"children": "1–3 Mar"}  # kept as sent
    side = answer["sideUpdate"]
    assert set(side) == {"overview-trend-alt",
                         '{"name":"x","type":"insights-performance-alt"}'}
    written = spoken(side["overview-trend-alt"]["children"])
    for cell in ("Bar chart, 3 rows by weekday", "Revenue", "Profit", "£1,200", "−£20.25"):
        assert cell in written
    unchanged = json.dumps({"multi": True, "response": {"a": {"children": "x"}}})
    assert chart_text.add_text(unchanged) == unchanged   # nothing drawn, nothing added


def test_the_table_html_escapes_what_the_data_says():
    text = chart_text.ChartText("Bar chart", ["product", "revenue"],
                                [["<b>Mug & jug</b>", "£1"]], total=1)
    table = chart_text.table_html(text)
    assert "<b>" not in table and "&lt;b&gt;Mug &amp; jug&lt;/b&gt;" in table
    assert "\n" not in table     # Markdown keeps an HTML block up to a blank line
    assert table.startswith("<table><caption>The chart&#x27;s numbers</caption>")


def test_the_table_comes_with_the_chart_through_the_real_endpoint(client, signed_in):
    outputs = [("geography-map-layer", "hideout"), ("geography-map-note", "children"),
               ("geography-map-legend", "children")]
    inputs = [{"id": "shell-url", "property": "search",
               "value": "?start=2011-03-01&end=2011-03-03"}]
    refused = _call(client, outputs, inputs, "shell-url.search")
    assert refused.status_code in (401, 403)                    # signed out
    response = _call(signed_in("viewer@example.com"), outputs, inputs, "shell-url.search")
    assert response.status_code == 200, response.text
    written = spoken(response.json["sideUpdate"]["geography-map-layer-alt"]["children"])
    assert written.startswith("Map, "), written
    assert "net revenue" in written and "United Kingdom" in written


def test_the_world_map_reads_as_countries_and_revenue(app):
    hideout = {"values": {"GB": 1000.0, "FR": 20.5}, "max": 1000.0, "selected": []}
    body = json.dumps({"multi": True, "response": {"geography-map-layer": {"hideout": hideout}}})
    with app.test_request_context():
        answer = json.loads(chart_text.add_text(body))
    written = spoken(answer["sideUpdate"]["geography-map-layer-alt"]["children"])
    assert "Map, 2 countries; net revenue from £20.50 (France) to £1,000 (United Kingdom)" \
        in written
    assert written.endswith("country net revenue United Kingdom £1,000 France £20.50")


def test_long_bar_names_are_cut_on_the_axis_but_whole_in_the_table():
    import pandas as pd
    from webapp.dashboard import figures
    long = "Espresso Machine, Stainless Steel"                      # 33 characters
    bars = figures.bars(pd.DataFrame({"name": [long, "Mug"], "value": [30.0, 5.0]}),
                        label="name", value="value", currency="£")
    assert list(bars.layout.yaxis.ticktext) == ["Espresso Machine, Sta…", "Mug"]
    assert len(bars.layout.yaxis.ticktext[0]) == figures.AXIS_LABEL_WIDTH
    assert [row[0] for row in figure_text(bars, "£").rows] == [long, "Mug"]


def test_a_colour_scale_is_a_column_of_the_table():
    """Revenue bars coloured by profit (its colour bar titled "profit", in £): the
    profit, shown only as a colour, is a column too."""
    import pandas as pd
    from webapp.dashboard import figures
    frame = pd.DataFrame({"name": ["Lamp", "Mug"], "revenue": [1500.0, 40.0],
                          "profit": [300.0, -2.5]})
    bars = figures.bars(frame, label="name", value="revenue", color="profit", currency="£")
    text = figure_text(bars, "£")
    assert text.header[-1] == "profit"
    assert [row[-1] for row in text.rows] == ["£300", "−£2.50"]
    assert [row[0] for row in text.rows] == ["Lamp", "Mug"]
