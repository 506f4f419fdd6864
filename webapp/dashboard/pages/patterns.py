"""Patterns: when the shop sells (weekday and month profiles with their spread, weekday ×
hour), how units answered prices (elasticity per category and top product), and orders
that stand out (size, discount, refunds), each led by one plain sentence
(``analytics.patterns``), under the filters, the period and the user's data scope."""
from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
import numpy as np
import pandas as pd
import plotly.graph_objects as go
from dash import Input, Output, State, callback, html

from analytics import patterns
from core.formatting import format_money
from webapp.dashboard import components, context, figures, static_html

dash.register_page(__name__, path="/patterns", name="Patterns", title="Shoplens · Patterns",
                   order=5, role="analyst")

TOP_PRODUCTS = 10
UNUSUAL_SHOWN = 50
KIND_LABELS = {"size": "Size", "discount": "Discount", "refunds": "Refunds"}
#: The page's own URL parameter ``span``: the filters' period, or the whole history with
#: the same filters (profiles and elasticities need months, the default period is 30 days).
SPANS = {"period": "The chosen period", "history": "All history"}


def _query(function, search, **options):
    """``function`` through the cache, over the period or the whole history (``span``)."""
    span = context.page_param(search, "span", "period", tuple(SPANS))
    return context.query(function, search, all_time=span == "history", **options)


def _sentence(sentence_id: str) -> html.P:
    return html.P(id=sentence_id, className="fw-semibold mb-2")


def layout(**_query) -> html.Div:
    return html.Div([
        components.page_header("Patterns", "When you sell, how units answered prices, and "
                                           "orders that stand out (under the filters)"),
        dbc.RadioItems(id="patterns-span", value="period", inline=True, className="small mb-2",
                       options=[{"label": label, "value": value}
                                for value, label in SPANS.items()]),
        html.H2("Seasonality", className="h5"),
        _sentence("patterns-seasonality-sentence"),
        dbc.Row([
            dbc.Col(components.chart("patterns-weekdays", "Revenue by weekday",
                                     help_text="mean a day; bar = 25th–75th percentile"),
                    lg=6, className="mb-3"),
            dbc.Col(components.chart("patterns-months", "Revenue by month",
                                     help_text="mean a day; bar = 25th–75th percentile"),
                    lg=6, className="mb-3"),
        ]),
        components.chart("patterns-heatmap", "Weekday × hour",
                         help_text="mean net revenue per such day, hours as in the data"),
        html.H2("Prices and units", className="h5 mt-4"),
        _sentence("patterns-elasticity-sentence"),
        html.P(f"Elasticity = % change in weekly units for a 1 % higher price (log-log "
               f"regression, 95 % interval), within each product. Estimated only with "
               f"{patterns.MIN_PRICE_POINTS} distinct prices or more, {patterns.MIN_WEEKS} "
               f"weeks with sales and weekly prices at least "
               f"{patterns.MIN_PRICE_RANGE * 100:.0f} % apart. A correlation, not an "
               "experiment: promotions and seasons move prices and units together.",
               className="small text-body-secondary"),
        dbc.Row([
            dbc.Col(components.panel("patterns-categories", "By category"), lg=6,
                    className="mb-3"),
            dbc.Col(components.panel("patterns-products",
                                     f"Top {TOP_PRODUCTS} products by revenue"),
                    lg=6, className="mb-3"),
        ]),
        html.H2("Unusual orders", className="h5 mt-4"),
        _sentence("patterns-unusual-sentence"),
        components.panel("patterns-unusual", "Orders and customers that stand out"),
    ])


@callback(Output("patterns-span", "value"), Input("shell-url", "search"))
def restore_span(search):
    return context.page_param(search, "span", "period", tuple(SPANS))


@callback(Output("shell-url", "search", allow_duplicate=True), Input("patterns-span", "value"),
          State("shell-url", "search"), prevent_initial_call=True)
def store_span(span, search):
    if span == context.page_param(search, "span", "period", tuple(SPANS)):
        return dash.no_update
    return context.with_params(search, span=None if span == "period" else span)


# ---------------------------------------------------------------------- seasonality
def profile_figure(frame: pd.DataFrame, currency: str, mean_day: float) -> go.Figure:
    """Bars of mean daily revenue with the interquartile range as error bars, and the
    average day as a line."""
    figure = go.Figure()
    by_year = "year_low" in frame.columns  # months: the spread across years too
    mean = frame["mean"].to_numpy(dtype="float64")
    figure.add_bar(x=list(frame["name"]), y=mean, marker_color=figures.PRIMARY,
                   error_y=dict(type="data", symmetric=False,
                                array=frame["q75"].to_numpy(dtype="float64") - mean,
                                arrayminus=mean - frame["q25"].to_numpy(dtype="float64"),
                                color=figures.MUTED),
                   customdata=np.stack([frame["q25"], frame["q75"], frame["days"],
                                        *([frame["year_low"], frame["year_high"]]
                                          if by_year else [])], axis=-1),
                   hovertemplate=(f"%{{x}}: {currency}%{{y:,.0f}} a day<br>"
                                  f"middle half {currency}%{{customdata[0]:,.0f}}–"
                                  f"{currency}%{{customdata[1]:,.0f}}<br>"
                                  "%{customdata[2]} days"
                                  + (f"<br>by year {currency}%{{customdata[3]:,.0f}}–"
                                     f"{currency}%{{customdata[4]:,.0f}} a day"
                                     if by_year else "") + "<extra></extra>"))
    figures.hline(figure, mean_day, dict(color=figures.MUTED, dash="dot"), "average day")
    figure.update_layout(template=figures.TEMPLATE, height=320, showlegend=False,
                         yaxis=dict(tickprefix=str(currency), tickformat=",.0f"))
    figure.update_xaxes(type="category")
    return figure


def heatmap_figure(frame: pd.DataFrame, currency: str) -> go.Figure:
    matrix = frame.pivot(index="weekday", columns="hour", values="revenue")
    matrix = matrix.reindex(index=range(7), columns=range(24))
    figure = go.Figure()
    figure.add_heatmap(z=matrix.to_numpy(dtype="float64"),
                       x=[f"{hour:02d}" for hour in range(24)],
                       y=list(patterns.WEEKDAYS), colorscale=figures.SEQUENTIAL,
                       hoverongaps=False, colorbar=dict(thickness=10, tickprefix=str(currency)),
                       hovertemplate=(f"%{{y}} %{{x}}:00<br>{currency}%{{z:,.0f}} on average"
                                      "<extra></extra>"))
    figure.update_layout(template=figures.TEMPLATE, height=320)
    figure.update_yaxes(autorange="reversed", type="category")
    figure.update_xaxes(title_text="hour", type="category")
    return figure


@callback(Output("patterns-seasonality-sentence", "children"),
          Output("patterns-weekdays", "figure"), Output("patterns-months", "figure"),
          Output("patterns-heatmap", "figure"), Input("shell-url", "search"))
def update_seasonality(search):
    currency = context.currency()
    try:
        result = _query(patterns.seasonality, search, currency=currency)
    except context.Unavailable as exc:
        blank = figures.empty_figure(str(exc))
        return str(exc), blank, blank, blank
    messages = result.messages
    weekdays = (profile_figure(result.weekdays, currency, result.mean_daily_revenue)
                if not result.weekdays.empty
                else figures.empty_figure(messages.get("weekdays", context.NO_SALES)))
    months = (profile_figure(result.months, currency, result.mean_daily_revenue)
              if not result.months.empty
              else figures.empty_figure(messages.get("months", context.NO_SALES)))
    heat = (heatmap_figure(result.heatmap, currency) if not result.heatmap.empty
            else figures.empty_figure(messages.get("heatmap", context.NO_SALES)))
    return result.sentence, weekdays, months, heat


# ---------------------------------------------------------------------- elasticity
def _number(value, text: str) -> str:
    return "" if value is None or pd.isna(value) else text


def elasticity_table(frame: pd.DataFrame, currency: str, table_id: str) -> html.Div:
    if frame.empty:
        return components.empty_state(context.NO_SALES)
    rows = []
    for row in frame.itertuples(index=False):
        estimated = not pd.isna(row.elasticity)
        prices = _number(row.price_low, f"{format_money(row.price_low, currency, 2)}–"
                                        f"{format_money(row.price_high, currency, 2)}")
        rows.append(html.Tr([
            html.Td(str(row.label if row.label is not None and not pd.isna(row.label)
                        else row.key)),
            html.Td(f"{row.elasticity:.2f}" if estimated else "—"),
            html.Td(f"{row.ci_low:.2f} to {row.ci_high:.2f}" if estimated
                    else "not enough price variation", className="small"),
            html.Td(f"{int(row.price_points):,}"), html.Td(prices, className="small"),
            html.Td(format_money(row.revenue, currency)),
        ], title=row.sentence if estimated else row.reason))
    header = html.Thead(html.Tr([html.Th(name) for name in (
        "", "elasticity", "95 % interval", "prices", "price range", "revenue")]))
    return static_html.static(dbc.Table([header, html.Tbody(rows)], size="sm", hover=True,
                                        id=table_id, className="mb-0"))


@callback(Output("patterns-elasticity-sentence", "children"),
          Output("patterns-categories", "children"), Output("patterns-products", "children"),
          Input("shell-url", "search"))
def update_elasticity(search):
    currency = context.currency()
    try:
        result = _query(patterns.price_elasticity, search, top=TOP_PRODUCTS,
                               currency=currency)
    except context.Unavailable as exc:
        return str(exc), components.empty_state(str(exc)), ""
    return (result.sentence,
            elasticity_table(result.categories, currency, "patterns-categories-table"),
            elasticity_table(result.products, currency, "patterns-products-table"))


# ---------------------------------------------------------------------- unusual orders
def unusual_table(frame: pd.DataFrame, currency: str) -> html.Div:
    if frame.empty:
        return components.empty_state("Nothing stands out in this period.")
    rows = [html.Tr([
        html.Td(KIND_LABELS.get(row.kind, row.kind)),
        html.Td("" if row.invoice_id is None or pd.isna(row.invoice_id) else row.invoice_id),
        html.Td("" if row.customer_id is None or pd.isna(row.customer_id) else row.customer_id),
        html.Td("" if row.date is None or pd.isna(row.date) else str(row.date)),
        html.Td(format_money(row.value, currency)),
        html.Td(row.reason, className="small"),
    ]) for row in frame.itertuples(index=False)]
    header = html.Thead(html.Tr([html.Th(name) for name in (
        "why", "order", "customer", "day", "value", "reason")]))
    return static_html.static(dbc.Table([header, html.Tbody(rows)], size="sm", hover=True,
                                        id="patterns-unusual-table", className="mb-0"))


@callback(Output("patterns-unusual-sentence", "children"),
          Output("patterns-unusual", "children"), Input("shell-url", "search"))
def update_unusual(search):
    currency = context.currency()
    try:
        result = _query(patterns.unusual_orders, search, limit=UNUSUAL_SHOWN,
                               currency=currency)
    except context.Unavailable as exc:
        return str(exc), components.empty_state(str(exc))
    return result.sentence, unusual_table(result.items, currency)
