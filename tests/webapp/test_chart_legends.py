"""Charts say what their colours mean and keep their tools out of the way: bars coloured by
a second measure (profit) show its colour scale, titled and in the currency; the RFM map
shows its revenue scale and each segment's meaning on hover; the BCG bubbles say what their
quadrant means; a chart card's mode bar shows on hover only."""
from __future__ import annotations

import pandas as pd

from analytics import glossary
from webapp.dashboard import components, figures


def test_bars_coloured_by_profit_show_the_scale():
    frame = pd.DataFrame({"label": ["A", "B"], "revenue": [30.0, 10.0], "profit": [9.0, -1.0]})
    marker = figures.bars(frame, label="label", value="revenue", currency="£",
                          color="profit").data[0].marker
    assert marker.showscale is True
    assert marker.colorbar.title.text == "profit" and marker.colorbar.tickprefix == "£"
    # one colour, and no scale, when the colour column is empty
    frame["profit"] = None
    plain = figures.bars(frame, label="label", value="revenue", color="profit").data[0].marker
    assert plain.showscale is None and plain.color == figures.PRIMARY


def test_the_segment_map_has_a_scale_and_explains_each_segment():
    frame = pd.DataFrame({"segment": ["Champions", "At Risk", "Lost"],
                          "customers": [3, 2, 0], "share": [0.6, 0.4, 0.0],
                          "revenue": [300.0, 50.0, 0.0]})
    trace = figures.segment_treemap(frame, currency="€").data[0]
    assert trace.marker.showscale is True and trace.marker.colorbar.tickprefix == "€"
    assert list(trace.text) == [glossary.GLOSSARY["Champions"], glossary.GLOSSARY["At Risk"]]
    assert "%{text}" in trace.hovertemplate


def test_bcg_bubbles_say_what_their_quadrant_means():
    frame = pd.DataFrame({"label": ["Mugs", "Lamps"], "share": [0.7, 0.3],
                          "growth": [0.5, -0.2], "revenue": [70.0, 30.0],
                          "quadrant": ["star", "dog"]})
    traces = {t.name: t for t in figures.bcg_matrix(
        frame, label="label", share="share", growth="growth", size="revenue",
        quadrant="quadrant").data}
    assert "star: high share, high growth" in traces["star"].hovertemplate
    assert "dog: low share, low growth" in traces["dog"].hovertemplate


def test_chart_cards_show_the_mode_bar_on_hover_only():
    card = components.chart("sales-trend", "Revenue")
    graphs = []

    def walk(node):
        if isinstance(node, (list, tuple)):
            for child in node:
                walk(child)
        elif type(node).__name__ == "Graph":
            graphs.append(node)
        elif hasattr(node, "children"):
            walk(node.children)
    walk(card)
    [graph] = graphs
    assert graph.config["displayModeBar"] == "hover"
    assert graph.config["displaylogo"] is False


def test_paged_tables_explain_the_columns_named_after_a_measure():
    columns = [components.text_column("customer_id", "Customer"),
               components.number_column("recency", "Days since last order"),
               components.number_column("roas", "ROAS", ".2f")]
    table = components._data_table("customers-list", columns, 10)
    assert table.tooltip_header == {"recency": glossary.GLOSSARY["recency"],
                                    "roas": glossary.metric_definitions()["roas"]}
    assert [rule["if"]["column_id"] for rule in table.style_header_conditional] == \
        ["recency", "roas"]
