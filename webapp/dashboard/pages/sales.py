"""Sales & forecast: the series by day, week or month against last year, and a forecast
job (progress bar, then the forecast with its interval, backtest metrics and baseline)."""
from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
import pandas as pd
from dash import Input, Output, State, callback, html

from analytics import series
from webapp.dashboard import components, context, figures, jobs_ui

dash.register_page(__name__, path="/sales", name="Sales",
                   title="Shoplens · Sales & forecast", order=2, role="viewer")

GRAINS = ("day", "week", "month")
METRICS = {"revenue": "Revenue", "orders": "Orders"}
ACCURACY_LABELS = {"mape": "MAPE", "smape": "sMAPE", "rmse": "RMSE", "mae": "MAE", "r2": "R²"}


def layout(**_query) -> html.Div:
    controls = html.Div([
        dbc.RadioItems(id="sales-grain", options=[{"label": g.capitalize(), "value": g}
                                                  for g in GRAINS],
                       value="day", inline=True, className="small"),
        dbc.RadioItems(id="sales-metric", options=[{"label": label, "value": value}
                                                   for value, label in METRICS.items()],
                       value="revenue", inline=True, className="small"),
    ], className="d-flex flex-wrap gap-4 mb-1")
    horizon = html.Div([dbc.Label("Horizon", className="small mb-0"),
                        dbc.Select(id="sales-forecast-horizon", size="sm", value="90",
                                   options=[{"label": f"{d} days", "value": str(d)}
                                            for d in (30, 60, 90, 180)])])
    return html.Div([
        components.page_header("Sales & forecast"),
        components.chart("sales-series", "Sales over time", extra=[controls]),
        html.H2("Forecast", className="h5 mt-4"),
        html.P("A forecast runs in the background on the current filters: the model is "
               "checked on the last weeks of history against a seasonal-naive baseline.",
               className="small text-body-secondary"),
        components.job_panel("sales-forecast", "Run forecast", options=[horizon]),
        dbc.Row([
            dbc.Col(components.chart("sales-forecast-chart", "Forecast"), lg=8, className="mb-3"),
            dbc.Col(components.panel("sales-forecast-metrics", "Accuracy on the hold-out"),
                    lg=4, className="mb-3"),
        ]),
    ])


@callback(Output("sales-grain", "value"), Input("shell-url", "search"))
def restore_grain(search):
    return context.page_param(search, "grain", "day", GRAINS)


@callback(Output("shell-url", "search", allow_duplicate=True), Input("sales-grain", "value"),
          State("shell-url", "search"), prevent_initial_call=True)
def store_grain(grain, search):
    current = context.page_param(search, "grain", "day", GRAINS)
    if grain == current:
        return dash.no_update
    return context.with_params(search, grain=None if grain == "day" else grain)


@callback(Output("sales-series", "figure"), Input("shell-url", "search"),
          Input("sales-metric", "value"))
def update_series(search, metric):
    grain = context.page_param(search, "grain", "day", GRAINS)
    try:
        frame = context.query(series.time_series, search, grain=grain)
    except context.Unavailable as exc:
        return figures.empty_figure(str(exc))
    if not frame["revenue"].any() and not frame["orders"].any():
        return figures.empty_figure(context.NO_SALES)
    return figures.trend(frame, x="period_start", y=metric, last_year=f"{metric}_last_year",
                         currency=context.currency() if metric == "revenue" else None,
                         label=f"{METRICS[metric]} per {grain}")


jobs_ui.follow("sales-forecast", "forecast",
               [State("sales-forecast-horizon", "value"), State("sales-metric", "value")],
               lambda horizon, metric: {"horizon": int(horizon), "metric": metric})


@callback(Output("sales-forecast-chart", "figure"), Output("sales-forecast-metrics", "children"),
          Input("sales-forecast-job", "data"))
def show_forecast(stored):
    try:
        result = jobs_ui.result(stored)
    except jobs_ui.JobUnavailable as exc:
        return figures.empty_figure(str(exc)), ""
    if result is None:
        return (figures.empty_figure("Run a forecast to see it here."),
                components.empty_state("No forecast yet."))
    money = context.currency() if result.get("metric", "revenue") == "revenue" else None
    figure = figures.forecast(
        pd.DataFrame({"date": pd.to_datetime(result["history"]["dates"]),
                      "actual": result["history"]["values"]}),
        pd.DataFrame(result["forecast"]).assign(date=lambda f: pd.to_datetime(f["date"])),
        backtest=pd.DataFrame({key: result["backtest"][key]
                               for key in ("date", "forecast", "baseline")}),
        currency=money, interval_label=f"{result['interval']:.0%} interval")
    return figure, accuracy_table(result)


def accuracy_table(result: dict) -> html.Div:
    """The model's hold-out accuracy next to the baseline's."""
    model, baseline = result.get("accuracy") or {}, (result.get("baseline") or {}).get(
        "accuracy") or {}
    rows = [html.Tr([html.Td(label), html.Td(_metric(model.get(key), key)),
                     html.Td(_metric(baseline.get(key), key))])
            for key, label in ACCURACY_LABELS.items() if key in model]
    verdict = ("The model beats the baseline." if result.get("beats_baseline")
               else "The model does not beat the baseline on this hold-out.")
    return html.Div([
        dbc.Table([html.Thead(html.Tr([html.Th("metric"), html.Th(result.get("model", "model")),
                                       html.Th("baseline")])), html.Tbody(rows)],
                  size="sm", className="mb-2", id="sales-forecast-accuracy"),
        html.Div(f"Hold-out: last {result['backtest'].get('holdout_days')} days · "
                 f"horizon {result['horizon']} days.", className="small"),
        html.Div(verdict, className="small fw-semibold"),
        html.Div(f"Baseline: {result['baseline']['name']}", className="small text-body-secondary"),
    ])


def _metric(value, key: str) -> str:
    if value is None:
        return "n/a"
    return f"{value:.1%}" if key in ("mape", "smape") else f"{value:,.2f}"
