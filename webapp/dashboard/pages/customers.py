"""Customers: the RFM segment map (11 segments with sizes and revenue), the LTV
distribution, cohort retention, the segment's customer list (paged on the server), and,
through a background job, the churn risk of the customers still there with its accuracy
next to "longest since last order", their predicted 12-month value and P(alive), the
churn model's feature importance and the value model's hold-out check; the scored list
filters by risk and value ("at risk, high value") and downloads as CSV/XLSX through
``/api/v1/jobs/<id>/customers.csv|xlsx`` (analyst, the job's owner, within the scope). Clicking a segment narrows the
filters to it. The whole list downloads as CSV through the API route
``/api/v1/customers.csv`` (an export: its role, audit and formula neutralisation are the
route's), and the link is shown to the roles that route declares."""
from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
import pandas as pd
from dash import Input, Output, State, callback, dcc, html

from analytics import cohorts, customers
from analytics.models.scored import LEVELS, filter_label, scored_frame
from core.formatting import format_date
from webapp.api import routing
from webapp.dashboard import components, context, figures, jobs_ui

dash.register_page(__name__, path="/customers", name="Customers",
                   title="Shoplens · Customers", order=4, role="viewer")

PAGE_SIZE = 20
RISKY_SHOWN = 25
LOOKBACKS = (("12 months", 365), ("6 months", 182), ("24 months", 730))
EXPORT_ROLE = "analyst"  # the role of /api/v1/jobs/{job_id}/customers.csv and .xlsx
CSV_ROUTE = "/api/v1/customers.csv"
SORTABLE = set(customers.CUSTOMER_SORT_COLUMNS)


def layout(**_query) -> html.Div:
    currency = context.currency()
    columns = [components.text_column("customer_id", "Customer"),
               components.text_column("country", "Country"),
               components.text_column("segment", "Segment"),
               components.number_column("recency", "Days since last order"),
               components.number_column("frequency", "Orders"),
               components.money_column("monetary", "Net revenue", currency)]
    return html.Div([
        components.page_header("Customers", "RFM segments as of the day after the period"),
        dbc.Row([
            dbc.Col(components.chart("customers-segments", "Segments",
                                     help_text="size = customers, colour = revenue; click to filter"),
                    lg=7, className="mb-3"),
            dbc.Col(components.chart("customers-ltv", "Customer lifetime value"), lg=5,
                    className="mb-3"),
        ]),
        components.chart("customers-cohorts", "Cohort retention",
                         subtitle_id="customers-cohorts-window",
                         extra=[dbc.RadioItems(
                             id="customers-cohort-measure", inline=True, value="customers",
                             options=[{"label": "Customers buying again",
                                       "value": "customers"},
                                      {"label": "Revenue vs first month", "value": "revenue"}],
                             className="small mb-1")]),
        html.H2("Customer list", className="h5 mt-4"),
        dbc.Card(dbc.CardBody([
            html.Div([html.Span(id="customers-list-count", className="small me-auto"),
                      html.A("Download CSV", id="customers-download", href=CSV_ROUTE,
                             className="btn btn-outline-secondary btn-sm",
                             hidden=not context.has_role(routing.role_of("GET", CSV_ROUTE)))],
                     className="d-flex align-items-center mb-2"),
            dcc.Loading(components.paged_table("customers-list", columns, PAGE_SIZE),
                        type="dot", delay_show=150),
        ]), className="mb-3"),
        html.H2("Churn risk and customer value", className="h5 mt-4"),
        components.job_panel("customers-churn", "Score churn risk and predict value",
                             options=[dbc.Select(
                                 id="customers-churn-lookback", size="sm", value="365",
                                 options=[{"label": f"Customers who bought in the last {m}",
                                           "value": str(days)}
                                          for m, days in LOOKBACKS],
                                 style={"maxWidth": "22rem"})]),
        html.Div(id="customers-churn-summary", className="mb-3"),
        dbc.Row([
            dbc.Col(components.chart("customers-churn-buckets", "Customers by risk"), lg=4,
                    className="mb-3"),
            dbc.Col(components.chart("customers-churn-importance",
                                     "What the churn model looks at",
                                     help_text="share of the model's gain per feature"),
                    lg=4, className="mb-3"),
            dbc.Col(components.chart("customers-clv-calibration",
                                     "Repeat purchases: expected vs actual",
                                     help_text="hold-out check of the BG/NBD model, by the "
                                               "number of earlier repeat purchases"),
                    lg=4, className="mb-3"),
        ]),
        dbc.Card(dbc.CardBody([
            html.Div([
                dbc.Select(id="customers-churn-risk", size="sm", value="",
                           options=[{"label": "Any churn risk", "value": ""}]
                           + [{"label": f"{level.capitalize()} churn risk", "value": level}
                              for level in LEVELS], style={"maxWidth": "12rem"}),
                dbc.Select(id="customers-churn-value", size="sm", value="",
                           options=[{"label": "Any value", "value": ""}]
                           + [{"label": f"{level.capitalize()} value", "value": level}
                              for level in LEVELS], style={"maxWidth": "12rem"}),
                html.Span(id="customers-churn-count", className="small me-auto"),
                html.A("Download CSV", id="customers-churn-csv", href="#", hidden=True,
                       className="btn btn-outline-secondary btn-sm"),
                html.A("Download Excel", id="customers-churn-xlsx", href="#", hidden=True,
                       className="btn btn-outline-secondary btn-sm"),
            ], className="d-flex flex-wrap align-items-center gap-2 mb-2"),
            html.Div(id="customers-churn-list"),
        ]), className="mb-3"),
    ])


@callback(Output("customers-segments", "figure"), Input("shell-url", "search"))
def update_segments(search):
    try:
        frame = context.query(customers.rfm_segments, search)
    except context.Unavailable as exc:
        return figures.empty_figure(str(exc))
    if not frame["customers"].any():
        return figures.empty_figure("No identified customers for these filters.")
    return figures.segment_treemap(frame, currency=context.currency())


@callback(Output("customers-ltv", "figure"), Input("shell-url", "search"))
def update_ltv(search):
    try:
        distribution = context.query(customers.ltv_distribution, search)
    except context.Unavailable as exc:
        return figures.empty_figure(str(exc))
    if not distribution.customers:
        return figures.empty_figure("No identified customers for these filters.")
    return figures.histogram(distribution.histogram, start="bin_start", end="bin_end",
                             count="customers", currency=context.currency(),
                             markers={"mean": distribution.mean,
                                      "median": distribution.median})


@callback(Output("customers-cohorts", "figure"), Output("customers-cohorts-window", "children"),
          Input("shell-url", "search"), Input("customers-cohort-measure", "value"))
def update_cohorts(search, measure):
    """Cohorts over ``cohorts.cohort_window`` of the period (a short period is widened to
    the 12 months ending with it, every other filter kept), retention coloured on a fixed
    scale."""
    measure = measure if measure in cohorts.MEASURES else "customers"
    try:
        selected = context.view(search).filters
        table = context.query(cohorts.period_cohorts, search, measure=measure, max_offset=12)
    except context.Unavailable as exc:
        return figures.empty_figure(str(exc)), ""
    start, end = cohorts.cohort_window(selected.start, selected.end)
    locale = context.currency()
    explained = (f"{start:%b %Y} – {format_date(end, locale)}: the 12 months ending with the "
                 "period (a shorter period holds too few cohorts)"
                 if start != selected.start
                 else f"{format_date(start, locale)} – {format_date(end, locale)}")
    what = ("share of each first-purchase month's customers buying in each later month"
            if measure == "customers" else
            "each first-purchase month's revenue in each later month ÷ its first month's "
            "(may pass 100 %)")
    subtitle = f"{what} · {explained}"
    if table.empty:
        return figures.empty_figure("No cohorts for these filters."), subtitle
    matrix = cohorts.cohort_matrix(table)
    matrix.index = [f"{pd.Timestamp(cohort):%b %Y}" for cohort in matrix.index]
    return (figures.heatmap(matrix, colour_range=figures.retention_range(matrix, measure)),
            subtitle)


@callback(Output("shell-url", "search", allow_duplicate=True),
          Input("customers-segments", "clickData"), State("shell-url", "search"),
          prevent_initial_call=True)
def drill_down(click, search):
    segment = context.clicked(click, "label")
    return context.narrow(search, "segment", segment) if segment else dash.no_update


@callback(Output("customers-list", "data"), Output("customers-list", "page_count"),
          Output("customers-list-count", "children"), Output("customers-download", "href"),
          Input("shell-url", "search"), Input("customers-list", "page_current"),
          Input("customers-list", "sort_by"))
def update_list(search, page_current, sort_by):
    sort, descending = _sort(sort_by)
    try:
        download = CSV_ROUTE + context.with_params(
            context.replace_filters("", context.parse_filters(search)), sort=sort,
            descending="true" if descending else "false")
        frame, total = context.query(customers.customers_page, search, sort=sort,
                                     descending=descending, page=(page_current or 0) + 1,
                                     page_size=PAGE_SIZE)
    except context.Unavailable as exc:
        return [], 1, str(exc), CSV_ROUTE
    segment = context.parse_filters(search).segment
    label = f"{total:,} customers" + (f" in {segment}" if segment else "")
    return (frame.astype(object).where(frame.notna(), None).to_dict("records"),
            max(1, -(-total // PAGE_SIZE)), label, download)


jobs_ui.follow("customers-churn", "churn", [State("customers-churn-lookback", "value")],
               lambda lookback: {"lookback_days": int(lookback or 365)})


def churn_summary(result: dict, currency: str) -> list:
    """The churn result in plain sentences: who is at risk and what they are worth, how
    well the model catches leavers next to 'longest since last order', how the churn
    window was chosen, the predicted value and its backtest, a fallback when there was
    one; then the accuracy table."""
    value = result.get("clv") or {}
    backtest = value.get("backtest") or {}
    notes = [result.get("horizon_sentence"), value.get("value_sentence") or
             value.get("sentence"), backtest.get("sentence"), value.get("fallback")]
    catch = result.get("catch") or {}
    accuracy, baseline = result.get("accuracy") or {}, (result.get("baseline") or {}).get(
        "accuracy") or {}

    def share(number):
        return "–" if number is None else f"{number:.0%}".replace("%", " %")

    rows = [("Catches (of the customers who left)", share(catch.get("model")),
             share(catch.get("baseline"))),
            ("ROC AUC (1 = perfect ranking, 0.5 = chance)",
             f"{accuracy.get('roc_auc', float('nan')):.2f}",
             f"{baseline.get('roc_auc', float('nan')):.2f}")]
    table = dbc.Table([html.Thead(html.Tr([html.Th("validated on "
                                                   f"{result.get('cutoff', '')}"),
                                           html.Th("churn model"),
                                           html.Th("longest since last order")])),
                       html.Tbody([html.Tr([html.Td(a), html.Td(b), html.Td(c)])
                                   for a, b, c in rows])],
                      size="sm", className="mt-2 mb-0", style={"maxWidth": "40rem"},
                      id="customers-churn-accuracy")
    sentence = (result.get("sentence") or "").replace("£", str(currency))
    return [html.P(html.Strong(sentence), className="mb-1"),
            html.P(result.get("catch_sentence"), className="mb-1",
                   id="customers-churn-catch"),
            *[html.P(note.replace("£", str(currency)), className="small mb-1 text-body-secondary")
              for note in notes if note],
            table, _value_backtest_table(backtest, currency, share)]


def _value_backtest_table(backtest: dict, currency: str, share):
    """The value backtest per method: error per customer, total against actual, and the
    spend share of the fifth it ranks highest."""
    methods = backtest.get("methods") or {}
    rows = [html.Tr([html.Td(name), html.Td(_money(m.get("mae"), currency)),
                     html.Td("–" if m.get("total_error") is None else
                             f"{m['total_error']:+.0%}".replace("%", " %")),
                     html.Td(share(m.get("top_share")))])
            for name, m in methods.items() if "mae" in m]
    if not rows:
        return html.Div()
    return dbc.Table([html.Thead(html.Tr([
        html.Th(f"value over {backtest.get('days')} days from {backtest.get('cutoff')}"),
        html.Th("off by, per customer"), html.Th("total vs actual"),
        html.Th("spend of its top fifth")])), html.Tbody(rows)],
        size="sm", className="mt-2 mb-0", style={"maxWidth": "48rem"},
        id="customers-clv-backtest")


@callback(Output("customers-churn-buckets", "figure"),
          Output("customers-churn-importance", "figure"),
          Output("customers-clv-calibration", "figure"),
          Output("customers-churn-summary", "children"),
          Output("customers-churn-list", "children"), Output("customers-churn-count", "children"),
          Output("customers-churn-csv", "href"), Output("customers-churn-xlsx", "href"),
          Output("customers-churn-csv", "hidden"), Output("customers-churn-xlsx", "hidden"),
          Input("customers-churn-job", "data"), Input("customers-churn-risk", "value"),
          Input("customers-churn-value", "value"))
def show_churn(stored, risk, value):
    risk = risk if risk in LEVELS else None
    value = value if value in LEVELS else None
    hidden = (True, True)
    try:
        result = jobs_ui.result(stored)
    except jobs_ui.JobUnavailable as exc:
        empty = figures.empty_figure(str(exc))
        return empty, empty, empty, "", "", "", "#", "#", *hidden
    if result is None:
        empty = figures.empty_figure("Score churn risk to see it here.")
        return (empty, empty, empty, "", components.empty_state("No churn scores yet."), "",
                "#", "#", *hidden)
    currency = context.currency()
    counts = result.get("risk_counts") or {}
    buckets = pd.DataFrame({"risk": list(LEVELS),
                            "customers": [counts.get(r, 0) for r in LEVELS]})
    importance = pd.DataFrame(result.get("importance") or [])
    importance_figure = figures.empty_figure("No feature importance.") if importance.empty \
        else figures.bars(importance.head(10).assign(
            share=lambda f: f["importance"] * 100,
            label=lambda f: f.get("label", f["feature"])), label="label", value="share")
    calibration = ((result.get("clv") or {}).get("backtest") or {}).get("repeat_purchases")
    if calibration:
        calibration_figure = figures.grouped_bars(
            pd.DataFrame(calibration), label="bucket",
            values={"predicted": "expected", "actual": "actual"}, height=320)
        calibration_figure.update_traces(
            hovertemplate="%{x} earlier repeat purchases<br>%{y:.2f} per customer"
                          "<extra></extra>")
    else:
        clv_result = result.get("clv") or {}
        backtest = clv_result.get("backtest") or {}
        why = (backtest.get("error") or ((backtest.get("methods") or {}).get(
            "BG/NBD + Gamma-Gamma") or {}).get("error") or clv_result.get("fallback")
            or "the backtest was not run.")
        calibration_figure = figures.empty_figure(f"No hold-out check: {why}")
    frame = scored_frame(result, risk=risk, value=value)
    label = f"{len(frame):,} customers: {filter_label(risk, value)}"
    shown = frame.head(RISKY_SHOWN)
    rows = [html.Tr([html.Td(row["customer_id"]), html.Td(f"{row['churn_probability']:.0%}"),
                     html.Td(row["churn_risk"]),
                     html.Td(_money(row["predicted_value_12m"], currency)),
                     html.Td(_share(row["p_alive"])), html.Td(row["value_tier"] or "–")])
            for row in shown.to_dict("records")]
    table = (dbc.Table([html.Thead(html.Tr([html.Th("customer"),
                                            components.metric_th("churn risk"), html.Th(""),
                                            components.metric_th("predicted 12-month value"),
                                            components.metric_th("P(alive)"),
                                            html.Th("value")])),
                        html.Tbody(rows)], size="sm", hover=True, id="customers-churn-table")
             if rows else components.empty_state("No customer matches this filter."))
    query = "&".join(f"{k}={v}" for k, v in (("risk", risk), ("value", value)) if v)
    base = f"/api/v1/jobs/{stored['id']}/customers"
    suffix = f"?{query}" if query else ""
    can_export = context.has_role(EXPORT_ROLE)
    return (figures.bars(buckets, label="risk", value="customers", horizontal=False,
                         height=300), importance_figure, calibration_figure,
            churn_summary(result, currency), table, label, f"{base}.csv{suffix}",
            f"{base}.xlsx{suffix}", not can_export, not can_export)


def _money(number, currency: str) -> str:
    return "–" if number is None or pd.isna(number) else f"{currency}{number:,.0f}"


def _share(number) -> str:
    return "–" if number is None or pd.isna(number) else f"{number:.0%}"


def _sort(sort_by) -> tuple[str, bool]:
    if sort_by and sort_by[0].get("column_id") in SORTABLE:
        return sort_by[0]["column_id"], sort_by[0].get("direction") != "asc"
    return "monetary", True
