"""Transactions: the line items of the filters, paged and sorted on the server (one page
reaches the browser), with a text search and a CSV download of the whole selection through
the API route ``/api/v1/transactions.csv``, shown to the roles that route declares (and
checks)."""
from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, callback, dcc, html

from analytics import transactions
from webapp.api import routing
from webapp.dashboard import components, context

dash.register_page(__name__, path="/transactions", name="Transactions",
                   title="Shoplens · Transactions", order=6, role="viewer")

PAGE_SIZE = 50
CSV_ROUTE = "/api/v1/transactions.csv"


def layout(**_query) -> html.Div:
    currency = context.currency()
    columns = [components.text_column("invoice_ts", "Time"),
               components.text_column("invoice_id", "Invoice"),
               components.text_column("customer_id", "Customer"),
               components.text_column("product_id", "Product"),
               components.text_column("description", "Description"),
               components.number_column("quantity", "Qty", ",.4~g"),
               components.money_column("unit_price", "Unit price", currency),
               components.money_column("line_value", "Value", currency),
               components.text_column("country", "Country"),
               components.text_column("category", "Category"),
               components.text_column("channel", "Channel"),
               components.text_column("kind", "Kind")]
    return html.Div([
        components.page_header("Transactions", "Line items of the current filters"),
        dbc.Card(dbc.CardBody([
            html.Div([
                dbc.Input(id="transactions-search", placeholder="Search invoice, product, "
                          "description or customer", debounce=True, size="sm",
                          style={"maxWidth": "360px"}),
                html.Span(id="transactions-count", className="small ms-2 me-auto"),
                html.A("Download CSV", id="transactions-download", href=CSV_ROUTE,
                       className="btn btn-outline-secondary btn-sm",
                       hidden=not context.has_role(routing.role_of("GET", CSV_ROUTE))),
            ], className="d-flex flex-wrap align-items-center gap-2 mb-2"),
            dcc.Loading(components.paged_table("transactions-table", columns, PAGE_SIZE),
                        type="dot", delay_show=150),
        ])),
    ])


@callback(Output("transactions-table", "data"), Output("transactions-table", "page_count"),
          Output("transactions-count", "children"), Output("transactions-download", "href"),
          Input("shell-url", "search"), Input("transactions-table", "page_current"),
          Input("transactions-table", "sort_by"), Input("transactions-search", "value"))
def update_table(search, page_current, sort_by, text):
    sort = [(item["column_id"], item.get("direction", "asc")) for item in (sort_by or [])
            if item.get("column_id") in transactions.SORTABLE_COLUMNS] or None
    try:
        download = CSV_ROUTE + context.with_params(
            context.replace_filters("", context.parse_filters(search)), search=text or None,
            sort=[("-" if direction == "desc" else "") + column
                  for column, direction in (sort or [])])
        frame, total = context.query(transactions.transactions_page, search, sort=sort,
                                     page=(page_current or 0) + 1, page_size=PAGE_SIZE,
                                     search=text or None)
    except context.Unavailable as exc:
        return [], 1, str(exc), CSV_ROUTE
    frame = frame.assign(invoice_ts=frame["invoice_ts"].dt.strftime("%Y-%m-%d %H:%M"))
    records = frame.astype(object).where(frame.notna(), None).to_dict("records")
    return records, max(1, -(-total // PAGE_SIZE)), f"{total:,} lines", download
