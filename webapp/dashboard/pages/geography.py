"""Geography: a world choropleth that works offline (dash-leaflet on the shipped country
GeoJSON, no tile server), the top 15 countries and a country → city → category treemap.
Clicking a country (map, bar or treemap tile) adds it to the filters."""
from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
import dash_leaflet as dl
from dash import Input, Output, State, callback, html

from analytics import breakdowns, products
from webapp.dashboard import components, context, figures

dash.register_page(__name__, path="/geography", name="Geography",
                   title="Shoplens · Geography", order=1, role="viewer")

TOP_COUNTRIES = 15


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
                                                       className="fw-semibold")),
                              dbc.CardBody([world, html.Div(id="geography-map-note",
                                                            className="small text-body-secondary mt-1")])],
                             className="chart-card h-100"), lg=8, className="mb-3"),
            dbc.Col(components.chart("geography-top", f"Top {TOP_COUNTRIES} countries"),
                    lg=4, className="mb-3"),
        ]),
        components.chart("geography-treemap", "Country → city → category",
                         help_text="click a tile to zoom, a country to filter"),
    ])


@callback(Output("geography-map-layer", "hideout"), Output("geography-map-note", "children"),
          Input("shell-url", "search"))
def update_map(search):
    try:
        frame = context.query(breakdowns.breakdown, search, dimension="country")
        selected = list(context.parse_filters(search).countries)
    except context.Unavailable as exc:
        return {"values": {}, "max": 1, "selected": []}, str(exc)
    coded = frame[frame["country_code"].notna() & (frame["revenue"] > 0)]
    if coded.empty:
        return {"values": {}, "max": 1, "selected": selected}, context.NO_SALES
    values = dict(zip(coded["country_code"], coded["revenue"].astype(float)))
    unmapped = frame[frame["country_code"].isna() & (frame["revenue"] > 0)]
    note = (f"Not on the map (no single country): {', '.join(unmapped['label'].astype(str))}."
            if len(unmapped) else "")
    return ({"values": values, "max": max(values.values()), "selected": selected,
             "currency": context.currency()}, note)


@callback(Output("geography-top", "figure"), Input("shell-url", "search"))
def update_top(search):
    try:
        frame = context.query(breakdowns.breakdown, search, dimension="country",
                              top=TOP_COUNTRIES)
    except context.Unavailable as exc:
        return figures.empty_figure(str(exc))
    frame = frame[frame["key"] != breakdowns.OTHERS_KEY]
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
