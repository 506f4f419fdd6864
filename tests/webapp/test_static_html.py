"""static_html: a panel's plain HTML tree as one dcc.Markdown, every text escaped, and
any tree that needs Dash left as it is."""
from __future__ import annotations

import dash_bootstrap_components as dbc
import pytest
from dash import dcc, html

from webapp.dashboard import static_html


def test_elements_attributes_and_text_are_written_and_escaped():
    tree = html.Div([
        html.Span("a <b> & *c* _d_", className="small", title='say "hi"'),
        html.Td("x", colSpan=2, style={"marginTop": 4, "opacity": 0.5, "width": "10%"}),
        html.Br(), 3, None, ["nested", html.Strong("bold")],
    ], id="panel", **{"aria-label": "the panel", "data-kind": "k"})
    assert static_html.to_html(tree) == (
        '<div id="panel" aria-label="the panel" data-kind="k">'
        '<span class="small" title="say &quot;hi&quot;">a &lt;b&gt; &amp; *c* _d_</span>'
        '<td colspan="2" style="margin-top: 4px; opacity: 0.5; width: 10%">x</td>'
        '<br />3nested<strong>bold</strong></div>')


def test_newlines_stay_on_one_line():
    # Markdown ends an HTML block at a blank line: the text's newlines become references
    assert static_html.to_html(html.P("one\n\ntwo")) == "<p>one&#10;&#10;two</p>"


def test_bootstrap_tables_alerts_badges_cards_and_columns():
    table = dbc.Table([html.Tbody(html.Tr(html.Td("1")))], size="sm", hover=True,
                      striped=True, responsive=True, id="t", className="mb-0")
    assert static_html.to_html(table) == (
        '<div class="table-responsive"><table id="t" class="table table-sm table-striped '
        'table-hover mb-0"><tbody><tr><td>1</td></tr></tbody></table></div>')
    assert static_html.to_html(dbc.Alert("careful", color="warning")) == \
        '<div class="alert alert-warning" role="alert">careful</div>'
    assert static_html.to_html(dbc.Badge("new", color="success", pill=True)) == \
        '<span class="badge text-bg-success rounded-pill">new</span>'
    assert static_html.to_html(dbc.Row(dbc.Col("c", xs=6, md=4, className="mb-3"))) == \
        '<div class="row"><div class="col-6 col-md-4 mb-3">c</div></div>'
    assert static_html.to_html(dbc.Card(dbc.CardBody("b"))) == \
        '<div class="card"><div class="card-body">b</div></div>'


def test_static_is_one_markdown_component_of_an_html_block():
    shown = static_html.static(html.Table(html.Tr(html.Td("5 * 3 = 15"))), id="x")
    assert isinstance(shown, dcc.Markdown) and shown.dangerously_allow_html
    assert shown.id == "x" and shown.className == "static-html"
    assert shown.children == "<div><table><tr><td>5 * 3 = 15</td></tr></table></div>"


@pytest.mark.parametrize("tree", [
    html.Div([html.Span("ok"), dcc.Graph(id="g")]),          # a graph needs Dash
    html.Div(dbc.Popover("definition", target="t")),          # so does a popover
    html.Div(dbc.Alert("bye", dismissable=True)),             # and an alert that closes
    html.Div(object()),                                       # not a component at all
])
def test_a_tree_that_needs_dash_is_returned_unchanged(tree):
    with pytest.raises(static_html.NotStatic):
        static_html.to_html(tree)
    assert static_html.static(tree) is tree


def test_an_attribute_name_that_is_not_html_is_refused():
    with pytest.raises(static_html.NotStatic):
        static_html._attribute("on click", "x")


def test_a_script_address_is_refused_and_a_link_kept():
    assert static_html.to_html(html.A("docs", href="/docs?a=1&b=2")) == \
        '<a href="/docs?a=1&amp;b=2">docs</a>'
    for address in ("javascript:alert(1)", " JavaScript:x", "data:text/html,x"):
        with pytest.raises(static_html.NotStatic):
            static_html.to_html(html.A("x", href=address))


def test_an_image_keeps_its_own_data_and_nothing_else_does():
    """A KPI card's sparkline is an SVG in a data: address; an <img> never runs a script
    in it. Any other data: address (a link, an image of HTML) is still refused."""
    spark = "data:image/svg+xml;charset=utf-8,%3Csvg xmlns='http://www.w3.org/2000/svg'/%3E"
    assert static_html.to_html(html.Img(src=spark, alt="Revenue by day")) == (
        '<img alt="Revenue by day" src="data:image/svg+xml;charset=utf-8,%3Csvg '
        'xmlns=&#x27;http://www.w3.org/2000/svg&#x27;/%3E" />')
    for tree in (html.A("x", href=spark), html.Img(src="data:text/html,<script>x</script>"),
                 html.Img(src=" data:image/png;base64,AAAA")):
        with pytest.raises(static_html.NotStatic):
            static_html.to_html(tree)


def test_a_kpi_card_is_plain_html_with_its_definition_and_sparkline():
    """The Overview's and Marketing's cards are sent as one component: every part of a
    card converts, its definition a <details> with the popover's ids."""
    from webapp.dashboard import components, figures
    card = components.kpi_card("overview", "revenue", {
        "current": 1234.5, "abs_change": 10.0, "rel_change": 0.01}, "£",
        figures.sparkline([1.0, 3.0, 2.0]), "vs 1–7 Jan 2024")
    markup = static_html.to_html(card)
    assert '<details class="kpi-info-details"><summary id="overview-kpi-revenue-info"' in markup
    assert 'id="overview-kpi-revenue-info-popover"' in markup
    assert 'src="data:image/svg+xml' in markup and "£1,234" in markup
    assert isinstance(static_html.static(card), dcc.Markdown)
