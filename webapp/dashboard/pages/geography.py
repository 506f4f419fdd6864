"""Geography: a world choropleth that works offline (dash-leaflet on the shipped country
GeoJSON, no tile server), the top 15 countries and a country → city → category treemap.
Clicking a country (map, bar or treemap tile) adds it to the filters. Under the map, a
legend (``map_legend``) gives each colour's range of revenue in the currency, and the
colour of countries with no sales."""
from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
import dash_leaflet as dl
from dash import Input, Output, State, callback, clientside_callback, dcc, html

from analytics import breakdowns, products
from core.formatting import format_money
from webapp.dashboard import chart_text, components, context, figures

dash.register_page(__name__, path="/geography", name="Geography",
                   title="Shoplens · Geography", order=1, role="viewer")

TOP_COUNTRIES = 15
#: The map's fill colours, as assets/map.js draws them: a country's revenue is a share of
#: the largest's; the colour is ``COLOURS[min(4, 1 + floor(sqrt(share) * 4))]`` (the square
#: root spreads the small countries apart), so colour k starts at share ((k - 1) / 4)².
COLOURS = ("#bfdbfe", "#60a5fa", "#2563eb", "#1e3a8a")


def layout(**_query) -> html.Div:
    world = dl.Map(
        [dl.GeoJSON(url=dash.get_asset_url("countries.geojson"), id="geography-map-layer",
                    style={"variable": "shoplensMap.style"},
                    hoverStyle={"variable": "shoplensMap.hover"},
                    onEachFeature={"variable": "shoplensMap.tooltip"},
                    hideout={"values": {}, "max": 1, "selected": []})],
        id="geography-map", center=[30, 10], zoom=1.4, minZoom=1, maxZoom=6,
        worldCopyJump=False, attributionControl=False,
        style={"height": "440px", "width": "100%"})
    return html.Div([
        components.page_header("Geography", "Net revenue by country · click a country to "
                                            "filter by it"),
        dbc.Row([
            dbc.Col(dbc.Card([dbc.CardHeader(html.Span("Revenue by country",
                                                       className="fw-semibold",
                                                       id="geography-map-title")),
                              dbc.CardBody([chart_text.labelled(
                                  "geography-map-layer", world, image=False,
                                  title_id="geography-map-title"),
                                            dcc.Store(id="geography-map-styled"),
                                            html.Div(id="geography-map-legend",
                                                     className="map-legend mt-2"),
                                            html.Div(id="geography-map-note",
                                                            className="small text-body-secondary mt-1")])],
                             className="chart-card h-100"), lg=8, className="mb-3"),
            dbc.Col(components.chart("geography-top", f"Top {TOP_COUNTRIES} countries"),
                    lg=4, className="mb-3"),
        ]),
        components.chart("geography-treemap", "Country → city → category",
                         help_text="click a tile to zoom, a country to filter"),
    ])


def legend_ranges(largest: float) -> list[tuple[str, float, float]]:
    """(colour, from, to) of each map colour for the largest country's revenue, from the
    rule of assets/map.js (``COLOURS``)."""
    steps = len(COLOURS)
    return [(colour, largest * (k / steps) ** 2, largest * ((k + 1) / steps) ** 2)
            for k, colour in enumerate(COLOURS)]


def map_legend(largest: float | None, currency: str) -> html.Div:
    """The map's legend: a swatch per colour with its revenue range in the currency, and
    the "no sales" colour (none but the latter when nothing sold)."""
    items = []
    if largest:
        for colour, low, high in legend_ranges(largest):
            items.append(html.Span([
                html.Span(className="map-legend-swatch", style={"backgroundColor": colour}),
                f"{format_money(low, currency)}–{format_money(high, currency)}"],
                className="map-legend-item"))
    items.append(html.Span([html.Span(className="map-legend-swatch map-legend-none"),
                            "no sales"], className="map-legend-item"))
    return html.Div([html.Span("Net revenue", className="fw-semibold me-1"), *items],
                    className="d-flex flex-wrap align-items-center gap-2",
                    id="geography-legend-items")


@callback(Output("geography-map-layer", "hideout"), Output("geography-map-note", "children"),
          Output("geography-map-legend", "children"),
          Input("shell-url", "search"))
def update_map(search):
    try:
        frame = context.query(breakdowns.breakdown, search, dimension="country")
        selected = list(context.parse_filters(search).countries)
    except context.Unavailable as exc:
        return {"values": {}, "max": 1, "selected": []}, str(exc), None
    coded = frame[frame["country_code"].notna() & (frame["revenue"] > 0)]
    currency = context.currency()
    if coded.empty:
        return ({"values": {}, "max": 1, "selected": selected}, context.NO_SALES,
                map_legend(None, currency))
    values = dict(zip(coded["country_code"], coded["revenue"].astype(float)))
    unmapped = frame[frame["country_code"].isna() & (frame["revenue"] > 0)]
    note = (f"Not on the map (no single country): {', '.join(unmapped['label'].astype(str))}."
            if len(unmapped) else "")
    return ({"values": values, "max": max(values.values()), "selected": selected,
             "currency": currency}, note, map_legend(max(values.values()), currency))


# the hideout restyles the shapes already drawn, and those still loading (assets/map.js)
clientside_callback("function (hideout) { return window.shoplensMap.apply(hideout, "
                    "'geography-map-layer'); }",
                    Output("geography-map-styled", "data"),
                    Input("geography-map-layer", "hideout"))


@callback(Output("geography-top", "figure"), Input("shell-url", "search"))
def update_top(search):
    try:
        # the map's answer (every country; the first ones are those a ``top`` would keep,
        # without its "Others" row): computed once per filter change for both
        frame = context.query(breakdowns.breakdown, search, dimension="country") \
            .head(TOP_COUNTRIES)
    except context.Unavailable as exc:
        return figures.empty_figure(str(exc))
    if not frame["revenue"].any():
        return figures.empty_figure(context.NO_SALES)
    return figures.bars(frame, label="label", value="revenue", key="key",
                        currency=context.currency(), height=440)


@callback(Output("geography-treemap", "figure"), Input("shell-url", "search"))
def update_treemap(search):
    try:
        frame = context.query(products.treemap, search)
    except context.Unavailable as exc:
        return figures.empty_figure(str(exc))
    if frame.empty:
        return figures.empty_figure(context.NO_SALES)
    return figures.treemap(frame, path=["country", "city", "category"], value="revenue",
                           currency=context.currency())


@callback(Output("shell-url", "search", allow_duplicate=True),
          Input("geography-map-layer", "clickData"), Input("geography-top", "clickData"),
          Input("geography-treemap", "clickData"), State("shell-url", "search"),
          prevent_initial_call=True)
def drill_down(map_click, bar_click, tile_click, search):
    """A click on a country narrows the filters to it."""
    trigger = dash.ctx.triggered_id
    if trigger == "geography-map-layer":
        country = ((map_click or {}).get("properties") or {}).get("iso_a2")
    elif trigger == "geography-top":
        country = context.clicked(bar_click)
    else:
        path = context.clicked(tile_click, "id")
        country = path.split("/")[0] if path and "/" not in path else None
    if not country or country == breakdowns.OTHERS_KEY:
        return dash.no_update
    try:
        return context.narrow(search, "country", country)
    except context.Unavailable:
        return dash.no_update
