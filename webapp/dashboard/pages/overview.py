"""Overview: the eight KPI cards, the revenue trend against last year, narrative insights
and the data freshness/quality badge."""
from __future__ import annotations

import datetime as dt

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, State, callback, html

from analytics import cache, kpis, quality, series
from analytics.filters import Filters
from analytics.models import insights
from core.formatting import format_date, format_datetime
from core.panels import trend_grain
from webapp.dashboard import components, context, figures, guide, notes, static_html

dash.register_page(__name__, path="/", name="Overview", title="Shoplens · Overview", order=0,
                   role="viewer")

#: KPI card → the time-series column its sparkline draws (none for ratios of ratios).
SPARK_COLUMNS = {"revenue": "revenue", "orders": "orders", "profit": "profit",
                 "customers": "customers"}


def layout(**_query) -> html.Div:
    return html.Div([
        html.Div([
            components.page_header("Overview"),
            html.Div(id="overview-freshness", className="ms-auto"),
        ], className="d-flex flex-wrap align-items-start gap-2"),
        guide.demo_banner(),
        html.Div(id="overview-period", className="small text-body-secondary mb-2"),
        dash.dcc.Loading(html.Div(id="overview-kpis"), type="dot", delay_show=150),
        notes.saved_store("overview"),
        dbc.Row([
            dbc.Col(components.chart("overview-trend", "Revenue",
                                     help_text="against the comparison period (dashed)",
                                     extra=[notes.add_form("overview")]
                                     if context.has_role("analyst") else None),
                    lg=8, className="mb-3"),
            dbc.Col(components.panel("overview-insights", "What changed"), lg=4, className="mb-3"),
        ], className="mt-1"),
    ])


@callback(Output("overview-kpis", "children"), Output("overview-period", "children"),
          Input("shell-url", "search"))
def update_kpis(search):
    context.prefetch(search, [(kpis.kpi_summary, {}), (series.time_series, {"grain": "day"})])
    try:
        summary = context.query(kpis.kpi_summary, search)
        daily = context.query(series.time_series, search, grain="day")
    except context.Unavailable as exc:
        return components.empty_state(str(exc), "overview-empty"), ""
    data = summary.to_dict()
    currency = context.currency()
    cards = []
    for name in components.KPI_CARDS:
        column = SPARK_COLUMNS.get(name)
        spark = (figures.sparkline(daily[column])
                 if column and data["kpis"][name]["current"] is not None else None)
        cards.append(dbc.Col(components.kpi_card("overview", name, data["kpis"][name],
                                                 currency, spark, summary.comparison_label),
                             xs=6, md=6, xl=3, className="mb-3"))
    period_text = (f"{format_date(summary.start, currency)} – "
                   f"{format_date(summary.end, currency)}, compared with "
                   f"{format_date(summary.previous_start, currency)} – "
                   f"{format_date(summary.previous_end, currency)}"
                   + (" (the same days last year)" if summary.compare == "last_year" else ""))
    # plain HTML, one component (``static_html``): the cards were ~100 of the page's
    return static_html.static(dbc.Row(cards, className="g-3")), period_text


@callback(Output("overview-trend", "figure"), Input("shell-url", "search"),
          Input("overview-note-saved", "data"))
def update_trend(search, _saved_notes):
    try:
        view = context.view(search)
        frame = context.query(series.time_series, search, grain=trend_grain(view.filters.days))
    except context.Unavailable as exc:
        return figures.empty_figure(str(exc))
    if not frame["revenue"].any():
        return figures.empty_figure(context.NO_SALES)
    return figures.trend(frame, x="period_start", y="revenue", comparison="revenue_comparison",
                         comparison_label=view.filters.comparison_name,
                         currency=context.currency(),
                         notes=notes.chart_notes(view.filters.start, view.filters.end))


@callback(Output("overview-note-status", "children"), Output("overview-note-saved", "data"),
          Output("overview-note-text", "value"),
          Input("overview-note-add", "n_clicks"), State("overview-note-start", "value"),
          State("overview-note-end", "value"), State("overview-note-text", "value"),
          State("overview-note-saved", "data"), prevent_initial_call=True)
def add_note(_clicks, start, end, text, saved):
    """Save the form's note (analysts and admins: ``core.annotations`` checks the role)
    and redraw the trend with it."""
    try:
        message = notes.save(start, end, text)
    except notes.SAVE_ERRORS as exc:
        return html.Span(exc.message, className="text-danger"), dash.no_update, dash.no_update
    return html.Span(message, className="text-success"), (saved or 0) + 1, ""


@callback(Output("overview-freshness", "children"), Input("shell-url", "pathname"))
def update_freshness(_pathname):
    """The data version, its last day, its lines and the quality report's verdict; for a
    user with a data scope, the scope's last day, lines and quality notes only
    (``quality.scoped_summary``): nothing of the lines outside the scope shows."""
    try:
        info = context.warehouse().version_info()
        scope = context.scope()
        if scope.is_all:
            issues = quality.quality_issues(info.quality)
            last_ts, lines, what = info.max_ts, info.line_count, "lines"
        else:
            summary = cache.default_cache().call(quality.scoped_summary, context.warehouse(),
                                                 Filters(), scope)
            issues = quality.summary_issues(summary)
            last_ts = dt.date.fromisoformat(summary["last_date"]) if summary["last_date"] \
                else None
            lines, what = summary["lines"], "lines in your data scope"
    except context.DATA_ERRORS:
        return dbc.Badge("No data loaded", color="secondary", id="overview-quality")
    locale = context.currency()
    last_day = format_date(last_ts, locale) if last_ts else "no lines"
    badge = dbc.Badge(f"{len(issues)} data-quality note{'s' if len(issues) != 1 else ''}"
                      if issues else "Data quality OK",
                      color="warning" if issues else "success", className="badge-quality",
                      id="overview-quality", title="; ".join(issues) or None)
    return html.Div([
        badge,
        html.Div(f"Data to {last_day} · {lines:,} {what} · loaded "
                 f"{format_datetime(info.created_at, locale)}", className="small text-body-secondary",
                 id="overview-data-lines"),
    ], className="text-end")


@callback(Output("overview-insights", "children"), Input("shell-url", "search"))
def update_insights(search):
    """Narrative sentences on what moved against the previous period."""
    try:
        sentences = context.query(insights.insights, search)
    except context.Unavailable as exc:
        return components.empty_state(str(exc))
    if not sentences:
        return components.empty_state(context.NO_SALES)
    return html.Ul([html.Li(item.text) for item in sentences], className="insight-list ps-3 mb-0",
                   id="overview-insight-list")
