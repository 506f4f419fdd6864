"""Customers: the RFM segment map (11 segments with sizes and revenue), the LTV
distribution, cohort retention, churn risk through a background job (buckets and reasons),
and the segment's customer list (paged on the server). Clicking a segment narrows the
filters to it. The whole list downloads as CSV through the API route
``/api/v1/customers.csv`` (an export: its role, audit and formula neutralisation are the
route's), and the link is shown to the roles that route declares."""
from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
import pandas as pd
from dash import Input, Output, State, callback, dcc, html

from analytics import cohorts, customers
from webapp.api import routing
from webapp.dashboard import components, context, figures, jobs_ui

dash.register_page(__name__, path="/customers", name="Customers",
                   title="Shoplens · Customers", order=4, role="viewer")

PAGE_SIZE = 20
RISKY_SHOWN = 15
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
        html.H2("Churn risk", className="h5 mt-4"),
        components.job_panel("customers-churn", "Score churn risk"),
        dbc.Row([
            dbc.Col(components.chart("customers-churn-buckets", "Customers by risk"), lg=4,
                    className="mb-3"),
            dbc.Col(components.panel("customers-churn-list", "Highest risk, with reasons"),
                    lg=8, className="mb-3"),
        ]),
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
    explained = (f"{start:%b %Y} – {end:%d %b %Y}: the 12 months ending with the period "
                 "(a shorter period holds too few cohorts)"
                 if start != selected.start else f"{start:%d %b %Y} – {end:%d %b %Y}")
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


jobs_ui.follow("customers-churn", "churn")


@callback(Output("customers-churn-buckets", "figure"), Output("customers-churn-list", "children"),
          Input("customers-churn-job", "data"))
def show_churn(stored):
    try:
        result = jobs_ui.result(stored)
    except jobs_ui.JobUnavailable as exc:
        return figures.empty_figure(str(exc)), ""
    if result is None:
        return (figures.empty_figure("Score churn risk to see it here."),
                components.empty_state("No churn scores yet."))
    counts = result.get("risk_counts") or {}
    buckets = pd.DataFrame({"risk": ["high", "medium", "low"],
                            "customers": [counts.get(r, 0) for r in ("high", "medium", "low")]})
    risky = pd.DataFrame(result.get("customers") or []).head(RISKY_SHOWN)
    rows = [html.Tr([html.Td(cid), html.Td(f"{p:.0%}"), html.Td(risk),
                     html.Td("; ".join(str(r.get("feature")) for r in (reasons or [])))])
            for cid, p, risk, reasons in zip(risky.get("customer_id", []),
                                             risky.get("probability", []),
                                             risky.get("risk", []), risky.get("reasons", []))]
    table = (dbc.Table([html.Thead(html.Tr([html.Th("customer"), html.Th("churn probability"),
                                            html.Th("risk"), html.Th("main reasons")])),
                        html.Tbody(rows)], size="sm", hover=True, id="customers-churn-table")
             if rows else components.empty_state("No customers to score."))
    return figures.bars(buckets, label="risk", value="customers", horizontal=False,
                        height=300), table


def _sort(sort_by) -> tuple[str, bool]:
    if sort_by and sort_by[0].get("column_id") in SORTABLE:
        return sort_by[0]["column_id"], sort_by[0].get("direction") != "asc"
    return "monetary", True
