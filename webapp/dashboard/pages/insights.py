"""Insights: customer clusters with their profiles and unusual days with their explanations
(both background jobs), and performance by channel, device and traffic source (click a bar
to filter)."""
from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
import pandas as pd
from dash import ALL, Input, Output, State, callback, html

from analytics import breakdowns, catalog
from core.formatting import format_date, format_day_range
from webapp.dashboard import actions_ui, components, context, figures, jobs_ui, notes

dash.register_page(__name__, path="/insights", name="Insights", title="Shoplens · Insights",
                   order=5, role="viewer")

#: URL parameter → (breakdown dimension, title).
PERFORMANCE = {d.param: (d.name, d.plural) for d in catalog.DIMENSIONS if d.insight}
ANOMALIES_SHOWN = 10


def layout(**_query) -> html.Div:
    return html.Div([
        components.page_header("Insights"),
        dbc.Row([dbc.Col(components.chart({"type": "insights-performance", "name": name},
                                          title), lg=4, className="mb-3")
                 for name, (_dimension, title) in PERFORMANCE.items()]),
        html.H2("What to do next", className="h5 mt-3"),
        components.panel("insights-actions", "Channels, campaigns, categories and top "
                         "products that moved"),
        html.H2("Customer clusters", className="h5 mt-3"),
        components.job_panel("insights-clusters", "Find customer clusters"),
        dbc.Row([
            dbc.Col(components.chart("insights-clusters-chart", "Customers by cluster"), lg=6,
                    className="mb-3"),
            dbc.Col(components.panel("insights-clusters-profiles", "Cluster profiles"), lg=6,
                    className="mb-3"),
        ]),
        html.H2("Unusual days", className="h5 mt-3"),
        components.job_panel("insights-anomalies", "Look for anomalies"),
        dbc.Row([
            dbc.Col(components.chart("insights-anomalies-chart", "Daily revenue and anomalies"),
                    lg=7, className="mb-3"),
            dbc.Col(components.panel("insights-anomalies-list", "Explanations"), lg=5,
                    className="mb-3"),
        ]),
    ])


@callback(Output({"type": "insights-performance", "name": ALL}, "figure"),
          Input("shell-url", "search"),
          State({"type": "insights-performance", "name": ALL}, "id"))
def update_performance(search, graph_ids):
    result = []
    columns = context.data_columns()
    context.prefetch(search, [
        (breakdowns.breakdown, {"dimension": PERFORMANCE[graph_id["name"]][0], "top": 10})
        for graph_id in graph_ids if PERFORMANCE[graph_id["name"]][0] not in columns.missing])
    for graph_id in graph_ids:
        dimension = PERFORMANCE[graph_id["name"]][0]
        if dimension in columns.missing:
            result.append(figures.empty_figure(context.missing_column_text(dimension),
                                               height=300))
            continue
        try:
            frame = context.query(breakdowns.breakdown, search, dimension=dimension, top=10)
        except context.Unavailable as exc:
            result.append(figures.empty_figure(str(exc)))
            continue
        if not frame["revenue"].any():
            result.append(figures.empty_figure(context.NO_SALES))
            continue
        gap = context.breakdown_gap(frame, dimension, columns)
        if gap:
            result.append(figures.empty_figure(gap, height=300))
            continue
        result.append(figures.bars(frame, label="label", value="revenue", key="key",
                                   color="orders", currency=context.currency(), height=300))
    return result


@callback(Output("shell-url", "search", allow_duplicate=True),
          Input({"type": "insights-performance", "name": ALL}, "clickData"),
          State("shell-url", "search"), prevent_initial_call=True)
def drill_down(clicks, search):
    trigger = dash.ctx.triggered_id
    if not trigger:
        return dash.no_update
    names = list(PERFORMANCE)
    value = context.clicked(clicks[names.index(trigger["name"])])
    if not value or value in (breakdowns.OTHERS_KEY, context.NONE_LABEL):
        return dash.no_update
    return context.narrow(search, trigger["name"], value)


@callback(Output("insights-actions", "children"), Input("shell-url", "search"))
def update_actions(search):
    """The action table of the Marketing page (``analytics.actions``)."""
    return actions_ui.actions_view(search, "insights-actions-table")


jobs_ui.follow("insights-clusters", "clustering")
jobs_ui.follow("insights-anomalies", "anomalies")


@callback(Output("insights-clusters-chart", "figure"),
          Output("insights-clusters-profiles", "children"),
          Input("insights-clusters-job", "data"))
def show_clusters(stored):
    try:
        result = jobs_ui.result(stored)
    except jobs_ui.JobUnavailable as exc:
        return figures.empty_figure(str(exc)), ""
    if result is None:
        return (figures.empty_figure("Run the clustering to see it here."),
                components.empty_state("No clusters yet."))
    profiles = pd.DataFrame(result["clusters"])
    return (figures.bars(profiles, label="name", value="customers", key="name",
                         color="revenue", height=300),
            cluster_panel(result, profiles, context.currency()))


def cluster_panel(result: dict, profiles: pd.DataFrame, currency: str) -> html.Div:
    """The leading sentence, one row per cluster with its typical customer (the centroid
    the name comes from; the means for a result made before centroids), and the fit."""
    def typical(feature: str) -> pd.Series:
        column = f"centroid_{feature}"
        return profiles[column] if column in profiles else profiles[feature]

    share = profiles.get("period_revenue_share", profiles["revenue_share"])
    rows = [html.Tr([html.Td(name), html.Td(f"{customers:,}"), html.Td(f"{part:.0%}"),
                     html.Td(f"{revenue_share:.0%}"), html.Td(f"{recency:,.0f}"),
                     html.Td(f"{frequency:,.1f}"), html.Td(f"{currency}{monetary:,.0f}")])
            for name, customers, part, revenue_share, recency, frequency, monetary in zip(
                profiles["name"], profiles["customers"], profiles["customer_share"], share,
                typical("recency"), typical("frequency"), typical("monetary"))]
    lead = [html.P(result["sentence"], className="mb-2", id="insights-clusters-sentence")] \
        if result.get("sentence") else []
    return html.Div([
        *lead,
        dbc.Table([html.Thead(html.Tr([html.Th(h) for h in (
            "cluster", "customers", "share", "revenue share", "typical days since order",
            "typical orders", "typical net revenue")])), html.Tbody(rows)], size="sm",
            hover=True, id="insights-clusters-table"),
        html.Div("Clustered: the customers who bought in the period; \"typical\" is the "
                 "cluster's centre, recency from the period's end. "
                 f"k = {result['k']}, silhouette {result['accuracy']['silhouette']:.2f} "
                 f"(baseline: {result['baseline']['name']}, "
                 f"{_number(result['baseline'].get('silhouette'))})",
                 className="small text-body-secondary")])


@callback(Output("insights-anomalies-chart", "figure"),
          Output("insights-anomalies-list", "children"),
          Input("insights-anomalies-job", "data"))
def show_anomalies(stored):
    try:
        result = jobs_ui.result(stored)
    except jobs_ui.JobUnavailable as exc:
        return figures.empty_figure(str(exc)), ""
    if result is None:
        return (figures.empty_figure("Look for anomalies to see them here."),
                components.empty_state("No anomalies yet."))
    series = pd.DataFrame({"date": pd.to_datetime(result["series"]["dates"]),
                           "value": result["series"]["values"]})
    found = pd.DataFrame(result.get("anomalies") or [])
    points = (pd.DataFrame({"date": pd.to_datetime(found["date"]), "value": found["value"],
                            "explanation": found["sentence"]})
              if len(found) else pd.DataFrame({"date": [], "value": [], "explanation": []}))
    money = context.currency() if result.get("metric") in ("revenue", "aov") else ""
    figure = figures.anomalies(series, points, x="date", y="value", currency=money,
                               notes=notes.for_frame(series, "date"))
    items = [html.Li([html.Strong(f"{format_date(day, context.currency())}: "), str(text)])
             for day, text in zip(points["date"].head(ANOMALIES_SHOWN),
                                  points["explanation"].head(ANOMALIES_SHOWN))]
    shop_wide = (html.Ul(items, className="ps-3 small", id="insights-anomalies-items")
                 if items else components.empty_state("No unusual days for the whole shop."))
    lead = [html.P(result["sentence"], className="mb-2", id="insights-anomalies-sentence")] \
        if result.get("sentence") else []
    return figure, html.Div([*lead, shop_wide,
                             _slice_list(result.get("slice_anomalies") or [])])


def _slice_list(found: list[dict]) -> html.Div:
    """Unusual days of one channel, traffic source, country or category: an outage or a
    campaign that barely moves the shop's totals."""
    items = [html.Li([html.Strong(_day_range(anomaly["start"], anomaly["end"]) + ": "),
                      str(anomaly["sentence"])])
             for anomaly in found[:ANOMALIES_SHOWN]]
    return html.Div([
        html.H3("In one channel, source, country or category", className="h6 mt-3"),
        html.Ul(items, className="ps-3 small", id="insights-anomalies-slices")
        if items else components.empty_state("No unusual days in any single slice."),
    ])


def _day_range(start: str, end: str) -> str:
    return format_day_range(pd.Timestamp(start).date(), pd.Timestamp(end).date(),
                            context.currency())


def _number(value) -> str:
    return "n/a" if value is None else f"{value:.2f}"
