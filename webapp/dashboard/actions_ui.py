"""The "what to do next" table (``analytics.actions``) as the Marketing and Insights pages
show it: the first actions by money at stake, the windows compared, where the rest and the
rules are."""
from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import html

from analytics import actions
from core.formatting import format_day_range, format_money
from webapp.dashboard import components, context, static_html

ACTIONS_SHOWN = 15


def actions_view(search: str | None, table_id: str) -> html.Div:
    """The first ``ACTIONS_SHOWN`` actions as a table (also on the Insights page), as
    plain HTML (``static_html``: nothing in it is clicked through Dash)."""
    try:
        table = context.query(actions.action_table, search)
    except context.Unavailable as exc:
        return components.empty_state(str(exc))
    locale = context.currency()
    windows = "; ".join(f"{w.name}: {format_day_range(w.start, w.end, locale)} against "
                        f"{format_day_range(w.previous_start, w.previous_end, locale)}"
                        for w in table.windows)
    if table.frame.empty:
        return html.Div([components.empty_state("Nothing to act on: no channel, campaign, "
                                                "category or top product moved past the "
                                                "thresholds."),
                         html.Div(windows, className="small text-body-secondary")])
    currency = context.currency()
    shown = table.frame.head(ACTIONS_SHOWN)
    body = [html.Tr([html.Td(format_money(row.stake, currency)), html.Td(row.window),
                     html.Td(row.level), html.Td(_item_name(row)), html.Td(row.reason),
                     html.Td(row.action, className="fw-semibold")])
            for row in shown.itertuples(index=False)]
    more = len(table.frame) - len(shown)
    return static_html.static(html.Div([
        dbc.Table([html.Thead(html.Tr([html.Th(h) for h in (
            "At stake", "Window", "Level", "Item", "Why", "What to do")])),
            html.Tbody(body)], size="sm", hover=True, responsive=True, id=table_id),
        html.Div(f"{windows}. Ranked by money at stake"
                 + (f"; {more} more in /api/v1/marketing/actions" if more > 0 else "")
                 + ". Rules and thresholds: docs/marketing.md.",
                 className="small text-body-secondary"),
    ]))


def _item_name(row) -> str:
    return f"{row.name} ({row.channel})" if row.level == "campaign" else str(row.name)
