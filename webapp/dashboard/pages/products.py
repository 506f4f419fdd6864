"""Products: the top 20, revenue and profit by category, the BCG matrix, basket analysis
(rules, "bought together" for a chosen product, bundles to download) and demand forecasts
(units and revenue of a chosen product or category, with the models' leaderboard) through
background jobs. Clicking a category narrows the filters to it."""
from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
import pandas as pd
from dash import Input, Output, State, callback, dcc, html

from analytics import products
from analytics.transactions import neutralise_frame
from core import audit, job_kinds
from core.panels import (CATEGORIES_WITHOUT_PROFIT, TOP_PRODUCTS, TOP_WITH_PROFIT,  # noqa: F401
                         TOP_WITHOUT_PROFIT, has_profit)
from webapp import security
from webapp.dashboard import components, context, figures, jobs_ui

dash.register_page(__name__, path="/products", name="Products", title="Shoplens · Products",
                   order=3, role="viewer")

RULES_SHOWN = 15
FORECAST_PRODUCTS = 500   # the best sellers offered for a demand forecast (any id typed too)
FORECAST_HORIZONS = (7, 14, 30, 60, 90, 180)


def layout(**_query) -> html.Div:
    product_choice = html.Div([
        dbc.Label("Bought together with", className="small mb-0"),
        dcc.Dropdown(id="products-basket-product", placeholder="any product (rules only)",
                     style={"minWidth": "280px"})])
    return html.Div([
        components.page_header("Products"),
        dbc.Row([
            dbc.Col(components.chart("products-top", f"Top {TOP_PRODUCTS} products",
                                     subtitle_id="products-top-note"),
                    lg=6, className="mb-3"),
            dbc.Col(components.chart("products-categories", "Revenue and profit by category",
                                     help_text="click a category to filter",
                                     subtitle_id="products-categories-note"),
                    lg=6, className="mb-3"),
        ]),
        components.chart("products-bcg", "BCG matrix",
                         help_text="share of revenue × growth vs the previous period"),
        html.H2("Basket analysis", className="h5 mt-4"),
        components.job_panel("products-basket", "Find product associations",
                             options=[product_choice]),
        dbc.Row([
            dbc.Col(components.panel("products-rules", "Association rules"), lg=7,
                    className="mb-3"),
            dbc.Col(components.panel("products-together", "Bought together", extra=[
                # hidden from a role that cannot run the analysis it exports
                dbc.Button("Download bundles (CSV)", id="products-bundles-button", size="sm",
                           color="secondary", outline=True, className="mb-2",
                           style=None if context.has_role(job_kinds.get("basket").role)
                           else {"display": "none"}),
                dcc.Download(id="products-bundles-download")]), lg=5, className="mb-3"),
        ]),
        html.H2("Demand forecast", className="h5 mt-4"),
        html.P("Units and revenue of one product or category, from its history up to the "
               "period's end under the current filters; the models are backtested on 4 "
               "rolling origins and the best is used (seasonal naive when nothing beats it). "
               "Without a choice, the top 5 by units.",
               className="small text-body-secondary"),
        components.job_panel("products-forecast", "Forecast demand", options=[
            dbc.RadioItems(id="products-forecast-level", inline=True, className="small",
                           options=[{"label": "Product", "value": "product"},
                                    {"label": "Category", "value": "category"}],
                           value="product"),
            html.Div([dbc.Label("Product or category", className="small mb-0"),
                      dcc.Dropdown(id="products-forecast-item", placeholder="the top 5",
                                   style={"minWidth": "320px"})]),
            html.Div([dbc.Label("Horizon", className="small mb-0"),
                      dbc.Select(id="products-forecast-horizon", size="sm", value="30",
                                 options=[{"label": f"{d} days", "value": str(d)}
                                          for d in FORECAST_HORIZONS])])]),
        dbc.Row([
            dbc.Col(components.panel("products-forecast-summary", "Demand forecast"), lg=4,
                    className="mb-3"),
            dbc.Col(components.chart("products-forecast-units", "Units"), lg=4,
                    className="mb-3"),
            dbc.Col(components.chart("products-forecast-revenue", "Revenue"), lg=4,
                    className="mb-3"),
        ]),
        components.panel("products-forecast-leaderboard",
                         "Leaderboard (rolling-origin backtest)"),
    ])


#: Card subtitles: with cost data the top products are coloured by profit.


@callback(Output("products-top", "figure"), Output("products-basket-product", "options"),
          Output("products-top-note", "children"),
          Input("shell-url", "search"))
def update_top(search):
    """The top products, coloured by profit when the data has cost, else in one colour
    with the subtitle saying so."""
    try:
        # the forecast's product list (``forecast_items``) asks for the same answer in the
        # same filter change: computed once, by whichever callback comes first
        frame = context.query(products.top_products, search, n=FORECAST_PRODUCTS) \
            .head(TOP_PRODUCTS)
    except context.Unavailable as exc:
        return figures.empty_figure(str(exc)), [], ""
    if frame.empty:
        return figures.empty_figure(context.NO_SALES), [], ""
    labelled = frame.assign(name=frame["description"].fillna(frame["product_id"]))
    options = [{"label": f"{name} ({pid})", "value": pid}
               for pid, name in zip(labelled["product_id"], labelled["name"])]
    with_profit = has_profit(labelled)
    figure = figures.bars(labelled, label="name", value="revenue", key="product_id",
                          color="profit" if with_profit else None,
                          currency=context.currency())
    return figure, options, TOP_WITH_PROFIT if with_profit else TOP_WITHOUT_PROFIT


@callback(Output("products-categories", "figure"), Output("products-categories-note", "children"),
          Input("shell-url", "search"))
def update_categories(search):
    """Revenue and profit per category; revenue alone (with a note) without cost data, and
    an empty state saying so when the data has no category column."""
    if "category" in context.data_columns().missing:
        return figures.empty_figure(context.missing_column_text("category")), ""
    try:
        frame = context.query(products.category_performance, search)
    except context.Unavailable as exc:
        return figures.empty_figure(str(exc)), ""
    if frame.empty:
        return figures.empty_figure(context.NO_SALES), ""
    with_profit = has_profit(frame)
    values = {"revenue": "Revenue", "profit": "Profit"} if with_profit else {"revenue": "Revenue"}
    figure = figures.grouped_bars(frame, label="category", key="category", values=values,
                                  currency=context.currency())
    return figure, "" if with_profit else CATEGORIES_WITHOUT_PROFIT


@callback(Output("products-bcg", "figure"), Input("shell-url", "search"))
def update_bcg(search):
    try:
        matrix = context.query(products.bcg_matrix, search)
    except context.Unavailable as exc:
        return figures.empty_figure(str(exc))
    if matrix.peers.empty or matrix.peers["growth"].notna().sum() == 0:
        return figures.empty_figure("No growth to compare: the previous period has no sales "
                                    "for these filters.")
    return figures.bcg_matrix(matrix.peers, label="label", share="share", growth="growth",
                              size="revenue", quadrant="quadrant",
                              share_line=matrix.share_median,
                              growth_line=matrix.growth_median, currency=context.currency())


@callback(Output("shell-url", "search", allow_duplicate=True),
          Input("products-categories", "clickData"), State("shell-url", "search"),
          prevent_initial_call=True)
def drill_down(click, search):
    category = context.clicked(click)
    if not category or category == context.NONE_LABEL:
        return dash.no_update
    return context.narrow(search, "category", category)


jobs_ui.follow("products-basket", "basket", [State("products-basket-product", "value")],
               lambda product: {"product": product} if product else {})


@callback(Output("products-rules", "children"), Output("products-together", "children"),
          Input("products-basket-job", "data"))
def show_basket(stored):
    try:
        result = jobs_ui.result(stored)
    except jobs_ui.JobUnavailable as exc:
        return components.empty_state(str(exc)), ""
    if result is None:
        return (components.empty_state("Run the basket analysis to see rules."),
                components.empty_state("Choose a product and run the analysis."))
    rules = pd.DataFrame(result["rules"]).head(RULES_SHOWN)
    rule_rows = [html.Tr([html.Td(" + ".join(_names(a, ad))), html.Td("→"),
                          html.Td(" + ".join(_names(c, cd))), html.Td(f"{conf:.0%}"),
                          html.Td(f"{lift:.1f}")])
                 for a, ad, c, cd, conf, lift in zip(
                     rules.get("antecedent", []), rules.get("antecedent_descriptions", []),
                     rules.get("consequent", []), rules.get("consequent_descriptions", []),
                     rules.get("confidence", []), rules.get("lift", []))]
    rules_view = (dbc.Table([html.Thead(html.Tr([html.Th("if bought"), html.Th(""),
                                                 html.Th("also buys"),
                                                 components.metric_th("confidence"),
                                                 components.metric_th("lift")])),
                             html.Tbody(rule_rows)], size="sm", hover=True,
                            id="products-rules-table")
                  if rule_rows else components.empty_state(
                      "No rules above the thresholds: baskets rarely share products."))
    together = result.get("bought_together")
    if together:
        items = pd.DataFrame(together["products"]).head(10)
        together_view = html.Div([
            html.Div(f"With {together.get('description') or together['product_id']}:",
                     className="small fw-semibold mb-1"),
            html.Ol([html.Li(f"{d or p}") for p, d in zip(items["product_id"],
                                                          items["description"])])
            if len(items) else components.empty_state("Nothing is bought with it often.")])
    else:
        together_view = components.empty_state("Choose a product above to see what is "
                                               "bought with it.")
    return rules_view, together_view


@callback(Output("products-bundles-download", "data"), Input("products-bundles-button", "n_clicks"),
          State("products-basket-job", "data"), prevent_initial_call=True)
def download_bundles(_clicks, stored):
    """The bundles of the user's basket job as a CSV: an export like the others (the role
    that may run the job, audited, formula cells neutralised)."""
    if not context.has_role(job_kinds.get("basket").role):
        return dash.no_update
    try:
        result = jobs_ui.result(stored)
    except jobs_ui.JobUnavailable:
        return dash.no_update
    if not result or not result.get("bundles"):
        return dash.no_update
    session = security.db_session()
    audit.record(session, "export", actor=security.current_db_user(), target="bundles.csv",
                 detail={"job": stored["id"]}, ip=security.client_ip())
    session.commit()
    frame = neutralise_frame(pd.DataFrame(result["bundles"]))
    return dcc.send_data_frame(frame.to_csv, "bundles.csv", index=False)


def _names(ids, descriptions) -> list[str]:
    return [str(d or i) for i, d in zip(ids or [], descriptions or [])]


# ----------------------------------------------------------------- demand forecast
@callback(Output("products-forecast-item", "options"),
          Input("shell-url", "search"), Input("products-forecast-level", "value"),
          Input("products-forecast-item", "search_value"),
          State("products-forecast-item", "value"))
def forecast_items(search, level, typed, chosen):
    """The best-selling products (or every category) of the filters; a typed product id
    that is not among them is offered as it is, so any product can be forecast."""
    try:
        if level == "category":
            frame = context.query(products.category_performance, search)
            values = [c for c in frame["category"] if c != context.NONE_LABEL]
            options = [{"label": c, "value": c} for c in values]
        else:
            frame = context.query(products.top_products, search, n=FORECAST_PRODUCTS)
            names = frame["description"].fillna(frame["product_id"])
            options = [{"label": f"{name} ({pid})", "value": pid}
                       for pid, name in zip(frame["product_id"], names)]
    except context.Unavailable:
        return []
    known = {option["value"] for option in options}
    for extra in (chosen, (typed or "").strip()):
        if extra and extra not in known and level == "product":
            options.append({"label": f"product id {extra}", "value": extra})
            known.add(extra)
    return options


@callback(Output("products-forecast-item", "value"), Input("products-forecast-level", "value"),
          prevent_initial_call=True)
def clear_item(_level):
    return None


jobs_ui.follow("products-forecast", "forecast",
               [State("products-forecast-level", "value"), State("products-forecast-item", "value"),
                State("products-forecast-horizon", "value")],
               lambda level, item, horizon: {"level": level, "horizon": int(horizon),
                                             **({"item": item} if item else {})})


@callback(Output("products-forecast-summary", "children"),
          Output("products-forecast-units", "figure"),
          Output("products-forecast-revenue", "figure"),
          Output("products-forecast-leaderboard", "children"),
          Input("products-forecast-job", "data"))
def show_demand_forecast(stored):
    from webapp.dashboard.pages import sales

    try:
        result = jobs_ui.result(stored)
    except jobs_ui.JobUnavailable as exc:
        return components.empty_state(str(exc)), figures.empty_figure(""), \
            figures.empty_figure(""), ""
    if result is None:
        message = "Choose a product or category and run the forecast."
        return (components.empty_state(message), figures.empty_figure(message),
                figures.empty_figure(message), "")
    if "items" in result:  # the top N by units, no item chosen
        rows = [html.Li([html.Span(f"{item['description'] or item['item']}: ",
                                   className="fw-semibold"),
                         sales.sentence(item, "units"),
                         html.Span(f" ({item.get('chosen') or item['model']})",
                                   className="text-body-secondary")])
                for item in result["items"]]
        skipped = [html.Li(f"{s['description'] or s['item']}: {s['reason']}",
                           className="text-body-secondary") for s in result.get("skipped", [])]
        first = result["items"][0]
        return (html.Div([html.Ol(rows + skipped, className="small mb-0")]),
                sales.forecast_figure(first, "units"),
                figures.empty_figure("Choose one product or category for its revenue."),
                sales.leaderboard_table(first, "products-forecast-table"))
    name = result.get("description") or result.get("item")
    summary = html.Div([
        html.P(name, className="fw-semibold mb-1"),
        html.Div(sales.forecast_summary_view(result["units"], "units"), className="mb-2"),
        html.Div([html.Span("Revenue: ", className="fw-semibold"),
                  sales.forecast_summary_view(result["revenue"], "revenue")])],
        id="products-forecast-sentence")
    boards = dbc.Row([
        dbc.Col([html.Div("Units", className="small fw-semibold"),
                 sales.leaderboard_table(result["units"], "products-forecast-table")], lg=6),
        dbc.Col([html.Div("Revenue", className="small fw-semibold"),
                 sales.leaderboard_table(result["revenue"], "products-forecast-revenue-table")],
                lg=6)])
    return (summary, sales.forecast_figure(result["units"], "units"),
            sales.forecast_figure(result["revenue"], "revenue"), boards)
