"""Marketing: the traffic and advertising KPIs against the previous period, spend against
revenue over time, the channel table (click a channel for its campaigns), the funnel when
the sessions carry its steps, and "what to do next" (``analytics.actions``). What the
sessions and ad tables could not follow under the filters or the user's scope is said in
a visible note; a store without ad spend or sessions is told what to load."""
from __future__ import annotations

from urllib.parse import parse_qs

import dash
import dash_bootstrap_components as dbc
import pandas as pd
from dash import Input, Output, State, callback, dcc, html

from analytics import catalog, glossary, kpis, marketing, promotions
from analytics.filters import day_range_text
from core.formatting import format_change, format_date, format_value
from webapp.dashboard import actions_ui, components, context, figures, static_html
from webapp.dashboard import notes as timeline_notes

dash.register_page(__name__, path="/marketing", name="Marketing",
                   title="Shoplens · Marketing", order=2, role="viewer")

#: The KPI cards, in order (``conversion_rate`` comes from the overview's KPIs).
CARDS = ("ad_spend", "roas", "mer", "cac", "ctr", "cpc", "sessions", "conversion_rate",
         "revenue_per_session", "new_customers")
NO_ADS = ("No ad spend loaded: load a Google Ads or Meta export on the Data page or with "
          "`flask --app wsgi data load-ads`.")
NO_ADS_IN_VIEW = ("No ad spend for this period and these filters (ad files load on the Data "
                  "page or with `flask --app wsgi data load-ads`).")
NO_SESSIONS = ("No sessions loaded: load a Google Analytics 4 export on the Data page or "
               "with `flask --app wsgi data load-sessions`.")
NO_FUNNEL = ("The sessions carry no add-to-cart or checkout counts: load a GA4 export with "
             "them to see the funnel.")
PAGE_SIZE = 25
CHANNEL_PARAM = "ad_channel"
#: Table column → (header, kind): money, count, rate, ratio (ROAS, ×), change (%).
TABLE = {"name": ("Channel / campaign", "text"), "spend": ("Spend", "money"),
         "impressions": ("Impressions", "count"), "clicks": ("Clicks", "count"),
         "ctr": ("CTR", "rate"), "cpc": ("CPC", "money"), "orders": ("Orders", "count"),
         "revenue": ("Revenue", "money"), "roas": ("ROAS", "ratio"),
         "platform_roas": ("Platform ROAS", "ratio"), "cac": ("CAC", "money"),
         "spend_change": ("Spend vs prev.", "change"),
         "revenue_change": ("Revenue vs prev.", "change"),
         "roas_change": ("ROAS vs prev.", "change")}


def trend_grain(days: int) -> str:
    """Daily up to two months, weekly beyond."""
    return "day" if days <= 62 else "week"


def _column(name: str, header: str, kind: str, currency: str) -> dict:
    if kind == "money":
        return components.money_column(name, header, currency)
    if kind == "count":
        return components.number_column(name, header)
    if kind == "rate":
        return components.number_column(name, header, ".2%")
    if kind == "change":
        return components.number_column(name, header, "+.0%")
    if kind == "ratio":
        return components.number_column(name, header, ".2f")
    return components.text_column(name, header)


def layout(**_query) -> html.Div:
    currency = context.currency()
    columns = [_column(name, header, kind, currency) for name, (header, kind) in TABLE.items()]
    return html.Div([
        components.page_header("Marketing", "Traffic, ad spend and what to do next"),
        html.Div(id="marketing-period", className="small text-body-secondary mb-2"),
        html.Div(id="marketing-notes"),
        dcc.Loading(html.Div(id="marketing-kpis"), type="dot", delay_show=150),
        dbc.Row([
            dbc.Col(components.chart("marketing-trend", "Ad spend and revenue",
                                     help_text="net revenue (left), ad spend (right, dashed)"),
                    lg=8, className="mb-3"),
            dbc.Col(components.chart("marketing-funnel", "Funnel",
                                     help_text="sessions → add to cart → checkout → orders"),
                    lg=4, className="mb-3"),
        ], className="mt-3"),
        dbc.Card([
            dbc.CardHeader(html.Div([
                html.Span("Channels and campaigns", className="fw-semibold me-2"),
                html.Span(id="marketing-drill", className="small text-body-secondary me-2"),
                dbc.Button("All channels", id="marketing-all-channels", size="sm",
                           color="link", className="p-0", style={"display": "none"}),
            ], className="d-flex align-items-center")),
            dbc.CardBody([
                html.Div("Click a channel for its campaigns. ROAS is the orders' revenue "
                         "attributed to the channel ÷ its spend; a campaign shows the "
                         "platform's own ROAS.", className="small text-body-secondary mb-1"),
                dcc.Loading(components.paged_table("marketing-channels", columns, PAGE_SIZE,
                                                   title="Channels and campaigns"),
                            type="dot", delay_show=150),
            ]),
        ], className="mb-3"),
        components.panel("marketing-actions", "What to do next"),
        html.Div(components.panel("marketing-promotions", "Promotions"), className="mt-3"),
    ])


# ------------------------------------------------------------------------ KPIs, funnel, channels
@callback(Output("marketing-kpis", "children"), Output("marketing-period", "children"),
          Output("marketing-notes", "children"), Output("marketing-funnel", "figure"),
          Output("marketing-channels", "data"), Output("marketing-channels", "page_count"),
          Output("marketing-drill", "children"), Output("marketing-all-channels", "style"),
          Input("shell-url", "search"), Input("marketing-channels", "page_current"),
          Input("marketing-channels", "sort_by"))
def update_summary(search, page_current, sort_by):
    """The KPI cards, the funnel and the channel table in one answer: all three read the
    same marketing inputs (``marketing.read_inputs``), so apart they only waited for each
    other, and every answer costs the browser's renderer a pass over the page's components
    (issue 17: ~25 ms per answer on this page). Paging or sorting the table redraws the
    table alone."""
    channels = update_table(search, page_current, sort_by)
    if dash.ctx.triggered_id == "marketing-channels":
        return (dash.no_update,) * 4 + channels
    return (*update_kpis(search), update_funnel(search), *channels)


def update_kpis(search):
    """The KPI cards, the period compared, and the notes of the tables (filters they
    could not follow, spend without a country under a country scope)."""
    context.prefetch(search, [(marketing.marketing_summary, {}), (kpis.kpi_summary, {})])
    try:
        summary = context.query(marketing.marketing_summary, search)
        overview = context.query(kpis.kpi_summary, search)
    except context.Unavailable as exc:
        return components.empty_state(str(exc), "marketing-empty"), "", ""
    data = summary.to_dict()["kpis"]
    data["conversion_rate"] = overview.to_dict()["kpis"]["conversion_rate"]
    currency = context.currency()
    comparison = f"vs {day_range_text(summary.previous_start, summary.previous_end)}"
    cards = [dbc.Col(kpi_card(name, data[name], currency, comparison),
                     xs=6, md=4, xl=2, className="mb-3") for name in CARDS]
    period_text = (f"{format_date(summary.start, currency)} – "
                   f"{format_date(summary.end, currency)}, compared with "
                   f"{format_date(summary.previous_start, currency)} – "
                   f"{format_date(summary.previous_end, currency)}")
    loaded = []
    if summary["ad_spend"].reason == marketing.NO_AD_DATA:
        loaded.append(html.Div(NO_ADS, id="marketing-no-ads"))
    if summary["sessions"].reason == marketing.NO_SESSIONS:
        loaded.append(html.Div(NO_SESSIONS, id="marketing-no-sessions"))
    # plain HTML, one component (``static_html``), as on the Overview
    return (static_html.static(html.Div([
                dbc.Alert(loaded, color="info", className="small py-2") if loaded else None,
                dbc.Row(cards, className="g-3")])),
            period_text, notes_view(summary.notes))


#: The cards' measures: the marketing ones and the overview's conversion rate.
MEASURES = {m.name: m for m in (*catalog.MARKETING_MEASURES, catalog.measure("conversion_rate"))}


def kpi_card(name: str, kpi: dict, currency: str, comparison: str) -> dbc.Card:
    """``components.kpi_card``'s card for a marketing measure (whose label, kind and
    direction are in ``catalog.MARKETING_MEASURES``, not the overview's table)."""
    measure = MEASURES[name]
    value, change = kpi.get("current"), kpi.get("abs_change")
    tone = "text-body-secondary"
    if change:
        good = (change < 0) if measure.lower_is_better else (change > 0)
        tone = "text-success" if good else "text-danger"
    body = [html.Div([measure.label,
                      *components.info(f"marketing-kpi-{name}-info", measure.label,
                                       glossary.metric_definitions().get(name))],
                     className="kpi-label"),
            html.Div(format_value(value, measure.kind, currency), className="kpi-value",
                     id=f"marketing-kpi-{name}-value")]
    if value is None:
        body.append(html.Div(kpi.get("reason") or "no data", className="kpi-reason",
                             id=f"marketing-kpi-{name}-reason"))
    else:
        body += [html.Div(format_change(change, kpi.get("rel_change"), measure.kind, currency),
                          className=f"kpi-change {tone}", id=f"marketing-kpi-{name}-change"),
                 html.Div(comparison, className="kpi-vs small text-body-secondary")]
    return dbc.Card(dbc.CardBody(body), className="kpi-card h-100", id=f"marketing-kpi-{name}")


def notes_view(notes) -> html.Div | str:
    """The notes as a visible list (nothing when there are none)."""
    if not notes:
        return ""
    return dbc.Alert(html.Ul([html.Li(note) for note in notes], className="mb-0 ps-3"),
                     color="warning", className="small py-2", id="marketing-notes-list")


# ------------------------------------------------------------------------ spend vs revenue
@callback(Output("marketing-trend", "figure"), Input("shell-url", "search"))
def update_trend(search):
    try:
        view = context.view(search)
        frame = context.query(marketing.spend_and_revenue, search,
                              grain=trend_grain(view.filters.days))
    except context.Unavailable as exc:
        return figures.empty_figure(str(exc))
    if not frame["revenue"].any() and not frame["spend"].any():
        return figures.empty_figure(context.NO_SALES)
    return figures.two_axes(frame, x="period_start", left="revenue", right="spend",
                            left_label="Revenue", right_label="Ad spend",
                            currency=context.currency(),
                            notes=timeline_notes.chart_notes(view.filters.start,
                                                             view.filters.end))


def update_funnel(search):
    try:
        frame = context.query(marketing.funnel, search)
    except context.Unavailable as exc:
        return figures.empty_figure(str(exc))
    if frame.empty:
        return figures.empty_figure(NO_FUNNEL)
    labelled = frame.assign(text=[f"{label} ({share:.1%})" for label, share
                                  in zip(frame["label"], frame["share"])])
    return figures.bars(labelled, label="text", value="count", key="step")


# ------------------------------------------------------------------------ channel table
def update_table(search, page_current, sort_by) -> tuple:
    """Channels (or one channel's campaigns, ``?ad_channel=``), sorted and paged on the
    server."""
    chosen = chosen_channel(search)
    hidden = {"display": "none"}
    try:
        table = context.query(marketing.channel_table, search)
    except context.Unavailable as exc:
        return [], 1, str(exc), hidden
    if table.frame.empty:
        unsplit = [note for note in table.notes
                   if note.startswith(marketing.NO_SPEND_BY_COUNTRY)]
        return [], 1, unsplit[0] if unsplit else NO_ADS_IN_VIEW, hidden
    rows = table_rows(table.frame, chosen, sort_by)
    start = (page_current or 0) * PAGE_SIZE
    page = rows.iloc[start:start + PAGE_SIZE]
    label = f"Campaigns of {chosen}" if chosen else "Channels (click one for its campaigns)"
    return (page.astype(object).where(page.notna(), None).to_dict("records"),
            max(1, -(-len(rows) // PAGE_SIZE)), label, {} if chosen else hidden)


def chosen_channel(search: str | None) -> str:
    """The channel the table is drilled to (``?ad_channel=``), "" for all channels; any
    name is safe: it only selects rows of the user's own table."""
    values = parse_qs((search or "").lstrip("?")).get(CHANNEL_PARAM)
    return values[-1] if values else ""


def table_rows(frame: pd.DataFrame, channel: str, sort_by) -> pd.DataFrame:
    """The channel rows, or ``channel``'s campaign rows, with a ``name`` column, sorted by
    the table's ``sort_by`` (spend descending by default)."""
    if channel:
        rows = frame[(frame["level"] == "campaign") & (frame["channel"] == channel)]
        rows = rows.assign(name=rows["campaign"])
    else:
        rows = frame[frame["level"] == "channel"]
        rows = rows.assign(name=rows["channel"])
    sort = [item for item in (sort_by or []) if item.get("column_id") in TABLE]
    if sort:
        column = sort[0]["column_id"]
        rows = rows.sort_values(column, ascending=sort[0].get("direction") == "asc",
                                na_position="last", kind="stable")
    return rows[["level", "channel", *TABLE]].reset_index(drop=True)


@callback(Output("shell-url", "search", allow_duplicate=True),
          Input("marketing-channels", "active_cell"), Input("marketing-all-channels",
                                                            "n_clicks"),
          State("marketing-channels", "data"), State("shell-url", "search"),
          prevent_initial_call=True)
def drill(active_cell, _all_clicks, rows, search):
    """Clicking a channel narrows the table to its campaigns; "All channels" goes back."""
    if dash.ctx.triggered_id == "marketing-all-channels":
        return context.with_params(search, **{CHANNEL_PARAM: None})
    if not active_cell or not rows or not 0 <= active_cell.get("row", -1) < len(rows):
        return dash.no_update
    row = rows[active_cell["row"]]
    if row.get("level") != "channel" or not row.get("channel"):
        return dash.no_update
    return context.with_params(search, **{CHANNEL_PARAM: str(row["channel"])})


# ------------------------------------------------------------------------ actions
@callback(Output("marketing-actions", "children"), Input("shell-url", "search"))
def update_actions(search):
    return actions_ui.actions_view(search, "marketing-actions-table")


# ------------------------------------------------------------------------ promotions
#: The promotions panel's rows: (label, API prefix); its columns: (header, suffix, kind).
PROMOTION_ROWS = (("Discounted orders", "discounted"), ("Full-price orders", "full_price"))
PROMOTION_COLUMNS = (("Orders", "_orders", "count"), ("Revenue", "_revenue", "money"),
                     ("AOV", "_aov", "money"), ("Margin", "_margin", "rate"))
ACQUIRED_ROWS = (("Acquired on a discount", "acquired_on_discount"),
                 ("Acquired at full price", "acquired_full_price"))
ACQUIRED_COLUMNS = (("Customers", "", "count"), ("AOV", "_aov", "money"),
                    ("Repeat rate", "_repeat_rate", "rate"))


@callback(Output("marketing-promotions", "children"), Input("shell-url", "search"))
def update_promotions(search):
    """Discounted vs full-price orders, the discount given away and the customers
    acquired on a discount (docs/promotions.md); without discount information, an empty
    state naming the columns to map."""
    try:
        summary = context.query(promotions.promotion_summary, search)
    except context.Unavailable as exc:
        return components.empty_state(str(exc), "marketing-promotions-empty")
    if not summary.has_discounts:
        return components.empty_state(promotions.MAP_DISCOUNTS, "marketing-promotions-empty")
    data, currency = summary.to_dict()["kpis"], context.currency()

    def cell(name: str, kind: str):
        return html.Td(format_value(data[name]["current"], kind, currency),
                       title=data[name]["reason"] or None)

    def table(rows, columns) -> dbc.Table:
        head = html.Thead(html.Tr([html.Th(""), *[html.Th(h) for h, _s, _k in columns]]))
        body = html.Tbody([html.Tr([html.Th(label), *[cell(prefix + suffix, kind)
                                                      for _h, suffix, kind in columns]])
                           for label, prefix in rows])
        # responsive: on a phone it scrolls in its card instead of widening the page
        return dbc.Table([head, body], size="sm", className="mb-2", responsive=True)

    def value(name: str, kind: str) -> str:
        return format_value(data[name]["current"], kind, currency)

    given = (f"Discount given away: {value('discount_given', 'money')} "
             f"({value('discount_share', 'rate')} of gross revenue); "
             f"{value('discounted_order_share', 'rate')} of orders were discounted.")
    notes = (html.Ul([html.Li(note) for note in summary.notes], className="small mb-0 ps-3")
             if summary.notes else None)
    return static_html.static(html.Div(
        [html.Div(given, className="small mb-2", id="marketing-promotions-given"),
         table(PROMOTION_ROWS, PROMOTION_COLUMNS), table(ACQUIRED_ROWS, ACQUIRED_COLUMNS),
         notes], id="marketing-promotions-view"))
