"""Small layout builders every page shares: chart cards with loading states, empty states,
KPI cards, the job progress panel and server-side paged tables."""
from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dash_table, dcc, html

from analytics import catalog, glossary
from core.formatting import KPI_LABELS, Locale, as_locale, format_change, format_value
from webapp.dashboard import chart_text, context, figures, toolbar

#: The KPI cards of the overview, in order (``analytics.catalog.MEASURES``' ``card``).
KPI_CARDS = catalog.CARD_KPIS
#: KPIs whose rise is bad news (churn, returns).
LOWER_IS_BETTER = frozenset(m.name for m in catalog.MEASURES if m.lower_is_better)


#: What the models' measures and the screens' jargon mean, shown on hover wherever a table
#: names one: the KPI definitions of METRICS.md and ``analytics.glossary.GLOSSARY``.
METRIC_HELP = {**glossary.GLOSSARY, **glossary.metric_definitions()}


def metric_th(name: str, label: str | None = None) -> html.Th:
    """A table header naming a KPI or a model measure, explained on hover (METRIC_HELP)."""
    help_text = METRIC_HELP.get(name)
    return html.Th(label or name, title=help_text,
                   style={"textDecoration": "underline dotted"} if help_text else None)


def info(target_id: str, title: str, text: str | None) -> list:
    """An "ⓘ" opening ``text`` (a definition) under it, or nothing without one: a native
    ``<details>`` styled as Bootstrap's popover, so that a KPI card is plain HTML (sent
    as one component, ``static_html``: the cards were ~100 Dash components of the page,
    and the renderer's cost per update grows with them). Clicked rather than hovered (it
    works on a phone too), Enter or Space from the keyboard; a click elsewhere or Escape
    closes it (assets/shoplens.js)."""
    if not text:
        return []
    return [html.Details([
        html.Summary("ⓘ", id=target_id, title=f"What is {title}?", className="kpi-info",
                     **{"aria-label": f"What is {title}?"}),
        html.Div([html.Div(title, className="popover-header"),
                  html.Div(text, className="popover-body")],
                 id=f"{target_id}-popover", role="tooltip",
                 className="popover bs-popover-bottom kpi-popover")],
        className="kpi-info-details")]


def kpi_card(page: str, name: str, kpi: dict, currency: str,
             spark: str | None = None, comparison: str | None = None) -> dbc.Card:
    """One KPI: value, change vs the comparison period (abs and %) and what that period
    is (``comparison``: "vs 1–30 Nov 2025", "vs same days last year"), "n/a" with the
    reason when empty, and a sparkline (``figures.sparkline``'s image) when given."""
    label, kind = KPI_LABELS[name]
    value = kpi.get("current")
    change = kpi.get("abs_change")
    tone = "text-body-secondary"
    if change:
        good = (change < 0) if name in LOWER_IS_BETTER else (change > 0)
        tone = "text-success" if good else "text-danger"
    body = [
        html.Div([label, *info(f"{page}-kpi-{name}-info", label,
                                glossary.metric_definitions().get(name))],
                 className="kpi-label"),
        html.Div(format_value(value, kind, currency), className="kpi-value",
                 id=f"{page}-kpi-{name}-value"),
    ]
    if value is None:
        body.append(html.Div(kpi.get("reason") or "no data", className="kpi-reason",
                             id=f"{page}-kpi-{name}-reason"))
    else:
        body.append(html.Div(format_change(change, kpi.get("rel_change"), kind, currency),
                             className=f"kpi-change {tone}",
                             id=f"{page}-kpi-{name}-change"))
    if comparison:
        body.append(html.Div(comparison, className="kpi-vs small text-body-secondary",
                             id=f"{page}-kpi-{name}-vs"))
    if spark is not None:
        body.append(html.Img(src=spark, className="kpi-spark w-100", alt=f"{label} by day",
                             id=f"{page}-kpi-{name}-spark"))
    return dbc.Card(dbc.CardBody(body), className="kpi-card h-100", id=f"{page}-kpi-{name}")


def chart(graph_id: str, title: str, *, height: int | None = None, extra=None,
          help_text: str | None = None, subtitle_id: str | None = None) -> dbc.Card:
    """A card holding one graph with a loading spinner; ``extra`` goes above the graph.
    ``subtitle_id`` adds an empty line under the title that a callback fills. Screen
    readers get the chart's title, a summary and its numbers as a table
    (``chart_text.labelled``)."""
    title_id = chart_text.dom_id(graph_id, "-title")
    header = [html.Span(title, className="fw-semibold", id=title_id)]
    if help_text:
        header.append(html.Small(help_text, className="text-body-secondary ms-2"))
    if subtitle_id:
        header.append(html.Div(id=subtitle_id, className="small text-body-secondary"))
    # the mode bar on hover only: it no longer covers the chart's top right at rest
    graph = dcc.Graph(id=graph_id, config={**figures.GRAPH_CONFIG, "displayModeBar": "hover"},
                      **({"style": {"height": f"{height}px"}} if height else {}))
    header = html.Div([html.Div(header, className="flex-grow-1"),
                       toolbar.menu(graph_id, title, kind="chart")],
                      className="d-flex align-items-start gap-2")
    return dbc.Card([dbc.CardHeader(header),
                     dbc.CardBody([*(extra or []), chart_text.labelled(
                         graph_id, dcc.Loading(graph, type="dot", delay_show=150),
                         title_id=title_id)])],
                    className="chart-card h-100")


def panel(panel_id: str, title: str, extra=None) -> dbc.Card:
    """A card whose body a callback fills (lists, tables, text) with a loading spinner;
    its "⋯" menu downloads the table (or the list) it shows."""
    header = html.Div([html.Span(title, className="fw-semibold flex-grow-1"),
                       toolbar.menu(panel_id, title, kind="panel")],
                      className="d-flex align-items-start gap-2")
    return dbc.Card([dbc.CardHeader(header),
                     dbc.CardBody([*(extra or []),
                                   dcc.Loading(html.Div(id=panel_id), type="dot",
                                               delay_show=150)])],
                    className="chart-card h-100")


def empty_state(message: str, page_id: str | None = None) -> html.Div:
    """What a panel shows when there is nothing to show, saying why."""
    props = {"id": page_id} if page_id else {}
    return html.Div([html.Div("∅", className="empty-icon"), html.Div(message)],
                    className="empty-state", **props)


def page_header(title: str, subtitle: str | None = None) -> html.Div:
    return html.Div([html.H1(title, className="h4 mb-0"),
                     html.Div(subtitle, className="text-body-secondary small")
                     if subtitle else None], className="page-header mb-3")


#: The role each job panel's kind needs (``jobs_ui.follow`` fills it: prefix → role).
JOB_ROLES: dict[str, str] = {}


def job_panel(prefix: str, button_label: str, *, options=None) -> dbc.Card:
    """Request a background job and follow it: the button, a progress bar polled by an
    Interval (enabled only while a job runs), a status line and the Store of its id.
    A user whose role cannot run the job (``JOB_ROLES``) sees the button disabled and why,
    before any click (the server refuses the job anyway)."""
    needed = JOB_ROLES.get(prefix)
    allowed = needed is None or context.has_role(needed)
    why = None if allowed else html.Div(
        f"Running this needs the {needed} role; ask an admin if you need it.",
        id=f"{prefix}-role-note", className="small text-body-secondary")
    return dbc.Card(dbc.CardBody([
        html.Div([*(options or []),
                  dbc.Button(button_label, id=f"{prefix}-run", color="primary", size="sm",
                             disabled=not allowed),
                  why],
                 className="d-flex flex-wrap gap-2 align-items-end mb-2"),
        dbc.Progress(id=f"{prefix}-progress", value=0, striped=True, animated=True,
                     className="mb-1", style={"height": "0.9rem", "display": "none"}),
        html.Div(id=f"{prefix}-status", className="small text-body-secondary"),
        dcc.Store(id=f"{prefix}-job"),
        dcc.Interval(id=f"{prefix}-poll", interval=1000, disabled=True),
    ]), className="mb-3")


def paged_table(table_id: str, columns: list[dict], page_size: int = 25, *,
                title: str | None = None) -> html.Div:
    """A DataTable paged and sorted on the server: only one page reaches the browser.
    Above it, the "⋯" menu (``toolbar.menu``: download the page it shows, pin it)."""
    return html.Div([
        html.Div(toolbar.menu(table_id, title, kind="table"),
                 className="d-flex justify-content-end"),
        _data_table(table_id, columns, page_size)])


def column_help(columns: list[dict]) -> dict[str, str]:
    """{column id: definition} of the columns named after a KPI or a glossary term
    (``METRIC_HELP``): a DataTable shows them on hovering the header."""
    return {column["id"]: METRIC_HELP[column["id"]] for column in columns
            if column["id"] in METRIC_HELP}


def _data_table(table_id: str, columns: list[dict], page_size: int) -> dash_table.DataTable:
    explained = column_help(columns)
    return dash_table.DataTable(
        id=table_id, columns=columns, data=[], page_current=0, page_size=page_size,
        tooltip_header=explained, tooltip_delay=300, tooltip_duration=None,
        style_header_conditional=[{"if": {"column_id": column_id},
                                   "textDecoration": "underline dotted"}
                                  for column_id in explained],
        page_count=1, page_action="custom", sort_action="custom", sort_mode="single",
        sort_by=[], style_table={"overflowX": "auto"},
        style_cell={"fontFamily": figures.FONT, "fontSize": 13, "padding": "4px 8px",
                    "textAlign": "left", "backgroundColor": "transparent",
                    "color": "var(--bs-body-color)", "maxWidth": 280,
                    "overflow": "hidden", "textOverflow": "ellipsis"},
        style_header={"fontWeight": 600, "backgroundColor": "var(--bs-tertiary-bg)",
                      "color": "var(--bs-body-color)"},
        style_cell_conditional=[{"if": {"column_type": "numeric"}, "textAlign": "right"}],
        css=[{"selector": ".previous-page, .next-page, .first-page, .last-page",
              "rule": "color: var(--bs-body-color)"}])


def money_column(column_id: str, name: str, currency: "Locale | str") -> dict:
    """A table column of amounts in the locale's way: its sign, separators ("1.234,50 €")."""
    locale = as_locale(currency)
    decimal, group = locale.plotly_separators
    return {"id": column_id, "name": name, "type": "numeric",
            "format": {"locale": {"symbol": [locale.money_prefix, locale.money_suffix],
                                  "decimal": decimal, "group": group},
                       "specifier": "$,.2f"}}


def number_column(column_id: str, name: str, specifier: str = ",.0f") -> dict:
    return {"id": column_id, "name": name, "type": "numeric", "format": {"specifier": specifier}}


def text_column(column_id: str, name: str) -> dict:
    return {"id": column_id, "name": name, "type": "text"}


def job_status_text(job: dict) -> str:
    """"Running — 40% — fitting the model" for a job dict (``core.jobs.job_to_dict``)."""
    parts = [str(job.get("status", "")).capitalize()]
    if job.get("status") in ("queued", "running"):
        parts.append(f"{int(job.get('progress') or 0)}%")
    if job.get("message") and str(job["message"]).lower() != parts[0].lower():
        parts.append(str(job["message"]))
    if job.get("error"):
        parts.append(str(job["error"]))
    return " — ".join(parts)
