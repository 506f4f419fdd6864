"""Sales & forecast: the series by day, week or month against last year, and a forecast
job (progress bar, then the plain sentence, the forecast with its interval, and the
leaderboard of the models backtested on rolling origins against seasonal naive)."""
from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
import pandas as pd
from dash import Input, Output, State, callback, html

from analytics import series
from webapp.dashboard import components, context, figures, jobs_ui, notes

dash.register_page(__name__, path="/sales", name="Sales",
                   title="Shoplens · Sales & forecast", order=2, role="viewer")

GRAINS = ("day", "week", "month")
METRICS = {"revenue": "Revenue", "orders": "Orders"}
HORIZONS = (7, 14, 30, 60, 90, 180)


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
                                            for d in HORIZONS])])
    return html.Div([
        components.page_header("Sales & forecast"),
        components.chart("sales-series", "Sales over time", extra=[controls]),
        html.H2("Forecast", className="h5 mt-4"),
        html.P("A forecast runs in the background on the current filters, from the history up "
               "to the period's end: seasonal naive, ETS, Theta, Prophet and XGBoost are each "
               "backtested on 4 rolling origins and the best (or the average of the best) is "
               "used, never one that does worse than seasonal naive.",
               className="small text-body-secondary"),
        components.job_panel("sales-forecast", "Run forecast", options=[horizon]),
        dbc.Row([
            dbc.Col(components.chart("sales-forecast-chart", "Forecast"), lg=8, className="mb-3"),
            dbc.Col(components.panel("sales-forecast-metrics", "The forecast"),
                    lg=4, className="mb-3"),
        ]),
        components.panel("sales-forecast-leaderboard", "Leaderboard (rolling-origin backtest)"),
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
        view = context.view(search)
        frame = context.query(series.time_series, search, grain=grain)
    except context.Unavailable as exc:
        return figures.empty_figure(str(exc))
    if not frame["revenue"].any() and not frame["orders"].any():
        return figures.empty_figure(context.NO_SALES)
    return figures.trend(frame, x="period_start", y=metric, comparison=f"{metric}_comparison",
                         comparison_label=view.filters.comparison_name,
                         currency=context.currency() if metric == "revenue" else None,
                         label=f"{METRICS[metric]} per {grain}",
                         notes=notes.chart_notes(view.filters.start, view.filters.end))


jobs_ui.follow("sales-forecast", "forecast",
               [State("sales-forecast-horizon", "value"), State("sales-metric", "value")],
               lambda horizon, metric: {"horizon": int(horizon), "metric": metric})


@callback(Output("sales-forecast-chart", "figure"), Output("sales-forecast-metrics", "children"),
          Output("sales-forecast-leaderboard", "children"),
          Input("sales-forecast-job", "data"))
def show_forecast(stored):
    try:
        result = jobs_ui.result(stored)
    except jobs_ui.JobUnavailable as exc:
        return figures.empty_figure(str(exc)), "", ""
    if result is None:
        return (figures.empty_figure("Run a forecast to see it here."),
                components.empty_state("No forecast yet."), "")
    metric = result.get("metric", "revenue")
    return (forecast_figure(result, metric),
            forecast_summary_view(result, metric, "sales-forecast-sentence"),
            leaderboard_table(result, "sales-forecast-accuracy"))


def forecast_figure(result: dict, metric: str):
    """History, forecast with its interval, and the chosen model's backtest folds."""
    money = context.currency() if metric == "revenue" else None
    return figures.forecast(
        pd.DataFrame({"date": pd.to_datetime(result["history"]["dates"]),
                      "actual": result["history"]["values"]}),
        pd.DataFrame(result["forecast"]).assign(date=lambda f: pd.to_datetime(f["date"])),
        backtest=pd.DataFrame({key: result["backtest"][key]
                               for key in ("date", "forecast", "baseline")}),
        currency=money, interval_label=f"{result['interval']:.0%} interval",
        notes=notes.for_frame(pd.DataFrame({"day": pd.to_datetime(
            [*result["history"]["dates"], *pd.DataFrame(result["forecast"])["date"]])}), "day"))


def sentence(result: dict, metric: str) -> str:
    """The forecast's plain sentence in the dashboard's currency."""
    from analytics.models.forecast import forecast_sentence
    summary = result.get("summary") or {}
    if "next_lower" not in summary:  # a result from before the leaderboard
        return summary.get("sentence") or ""
    return forecast_sentence(summary, metric, context.currency())


def forecast_summary_view(result: dict, metric: str, sentence_id: str | None = None) -> html.Div:
    """The sentence first, then the chosen model, its interval and its coverage."""
    chosen = result.get("chosen") or result.get("model", "")
    coverage = result.get("interval_coverage")
    backtest = result.get("backtest") or {}
    parts = [html.P(sentence(result, metric), className="fw-semibold mb-2",
                    **({"id": sentence_id} if sentence_id else {}))]
    if chosen == NAIVE:
        parts.append(html.P("No model beat seasonal naive (the last week repeated) on the "
                            "backtest, so the forecast is seasonal naive.",
                            className="small text-warning-emphasis mb-2"))
    else:
        naive_wape = (result.get("baseline") or {}).get("accuracy", {}).get("wape")
        model_wape = (result.get("accuracy") or {}).get("wape")
        if naive_wape is not None and model_wape is not None:
            parts.append(html.P(f"{chosen}: {_percent(model_wape)} WAPE on the backtest, "
                                f"against {_percent(naive_wape)} for seasonal naive.",
                                className="small mb-2"))
    if coverage is not None:
        source = result.get("interval_source") or "the model's"
        parts.append(html.P(f"The {result['interval']:.0%} interval (from {source}) held "
                            f"{_percent(coverage)} of the backtest days.",
                            className="small mb-2"))
    if result.get("history_end"):
        parts.append(html.P(f"History up to {result['history_end']}; backtest: "
                            f"{backtest.get('folds')} folds of {backtest.get('fold_days')} "
                            "days.", className="small text-body-secondary mb-1"))
    parts += [html.P(note, className="small text-body-secondary mb-1")
              for note in result.get("notes") or [] if not note.startswith("Backtest:")]
    return html.Div(parts)


def leaderboard_table(result: dict, table_id: str) -> html.Div:
    """Model, mean WAPE and MAPE, each fold's WAPE, interval coverage; the chosen row
    marked. A result from before the leaderboard shows its hold-out accuracy."""
    board = result.get("leaderboard")
    if not board:
        return html.Div(f"Hold-out MAPE {_percent((result.get('accuracy') or {}).get('mape'))}",
                        id=table_id, className="small",
                        title=f"MAPE: {components.METRIC_HELP['MAPE']}")
    folds = max(len(row.get("folds") or []) for row in board)
    header = [html.Th("model"), components.metric_th("WAPE"), components.metric_th("MAPE"),
              *[html.Th(f"fold {k + 1}", title=_fold_title(board, k)) for k in range(folds)],
              components.metric_th("coverage"), html.Th("")]
    rows = []
    for row in board:
        fold_cells = [html.Td(_percent(fold.get("wape"))) for fold in row.get("folds") or []]
        fold_cells += [html.Td("")] * (folds - len(fold_cells))
        mark = "chosen" if row.get("chosen") else ("failed" if row.get("error") else "")
        rows.append(html.Tr([html.Td(row["model"], title=row.get("error")
                                     or row.get("description")),
                             html.Td(_percent(row.get("wape"))),
                             html.Td(_percent(row.get("mape"))), *fold_cells,
                             html.Td(_percent(row.get("coverage"))), html.Td(mark)],
                            className="table-success fw-semibold" if row.get("chosen")
                            else None))
    return html.Div([
        dbc.Table([html.Thead(html.Tr(header)), html.Tbody(rows)], size="sm", hover=True,
                  responsive=True, className="mb-1", id=table_id),
        html.Div("WAPE: Σ|actual − forecast| ÷ Σ|actual| on each fold; MAPE: mean |error| ÷ "
                 "actual over days with sales; both averaged over the folds. Coverage: share "
                 f"of backtest days inside the {result.get('interval', 0.8):.0%} interval.",
                 className="small text-body-secondary")])


NAIVE = "seasonal naive"


def _fold_title(board: list[dict], k: int) -> str:
    for row in board:
        folds = row.get("folds") or []
        if len(folds) > k:
            return f"{folds[k]['start']} – {folds[k]['end']}"
    return ""


def _percent(value) -> str:
    return "n/a" if value is None else f"{value:.1%}"
