"""Data (admins): upload a file (a platform export whose format is detected from its header
and confirmed by the admin, or any file with a column mapping), load it as a background job
with progress, the data-quality report of the current version, and the history of loads.
Sessions and ad-spend files (GA4, Google Ads, Meta Ads presets, or a mapping) load the same
way, as ``sessions_load`` / ``ads_load`` jobs, with their counts, reasons and warnings."""
from __future__ import annotations

import json

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, State, callback, dcc, html

from analytics import quality
from analytics.errors import ShoplensError
from core import loads as core_loads
from data import formats
from webapp import security, services
from webapp.dashboard import components, context, jobs_ui, uploads

dash.register_page(__name__, path="/data", name="Data", title="Shoplens · Data", order=8,
                   role="admin")

#: Fields of the line-item frame a generic file maps (required first).
MAPPED_FIELDS = (("invoice_id", True), ("invoice_ts", True), ("product_id", True),
                 ("quantity", True), ("unit_price", True), ("country", True),
                 ("customer_id", False), ("description", False), ("category", False),
                 ("unit_cost", False), ("channel", False), ("city", False))
HISTORY_ROWS = 20
FORMAT_LABELS = {"online-retail": "Online Retail export", "shopify": "Shopify orders export",
                 "woocommerce": "WooCommerce orders export",
                 "generic": "Other file (map its columns)"}


def layout(**_query) -> html.Div:
    mapping = html.Div([
        dbc.Row([dbc.Col([dbc.Label(field + (" *" if required else ""), className="small mb-0"),
                          dcc.Dropdown(id={"type": "data-map", "field": field},
                                       placeholder="(not in the file)")], md=4, className="mb-2")
                 for field, required in MAPPED_FIELDS]),
        dbc.Label("More of the mapping (JSON, as in docs/mapping.md): order-level columns, "
                  "refund and cancellation statuses, fallbacks…", className="small mb-0"),
        dcc.Textarea(id="data-map-options", className="form-control font-monospace small",
                     style={"height": "5em"},
                     placeholder='{"columns": {"status": "Order Status"}, '
                                 '"refund_values": ["refunded"], "order_level": ["country"]}'),
    ], id="data-mapping", hidden=True)
    return html.Div([
        components.page_header("Data", "Load files, check their quality"),
        dbc.Card(dbc.CardBody([
            dcc.Upload(id="data-upload", children=html.Div([
                "Drop a CSV, Excel or Parquet file here, or ", html.A("choose one")]),
                       className="border border-2 border-dashed rounded p-4 text-center mb-2",
                       max_size=uploads.MAX_BYTES, multiple=False),
            html.Div(id="data-upload-status", className="small mb-2"),
            dcc.Store(id="data-upload-path"),
            dbc.RadioItems(id="data-format", inline=True, value="online-retail", options=[
                {"label": _format_label(name), "value": name} for name in formats.FORMATS],
                className="mb-2"),
            mapping,
            dbc.Checkbox(id="data-append", label="Append to the current data (instead of "
                                                  "replacing it)", value=False, className="mb-2"),
            dbc.Checkbox(id="data-force", label="Replace even if the file keeps far fewer "
                                                 "lines than the current data or rejects many",
                         value=False, className="mb-2"),
        ]), className="mb-3"),
        components.job_panel("data-load", "Load the file"),
        traffic_card(),
        dbc.Row([
            dbc.Col(components.panel("data-quality", "Data quality of the current version"),
                    lg=6, className="mb-3"),
            dbc.Col(components.panel("data-history", "Load history"), lg=6, className="mb-3"),
        ]),
    ])


@callback(Output("data-upload-path", "data"), Output("data-upload-status", "children"),
          Output({"type": "data-map", "field": dash.ALL}, "options"),
          Output("data-format", "value"),
          Input("data-upload", "contents"), State("data-upload", "filename"),
          State({"type": "data-map", "field": dash.ALL}, "id"), State("data-format", "value"),
          prevent_initial_call=True)
def store_upload(contents, filename, map_ids, chosen):
    """Save the upload, offer its columns to the mapping and pre-select the format its
    header looks like; the admin confirms (or changes) it before loading."""
    if not security.user_has_role("admin"):
        return None, "Only admins load data.", [[] for _ in map_ids], chosen
    try:
        path, columns = uploads.accept_upload(filename, contents)
    except ShoplensError as exc:  # an UploadError, or a refusal from the readers
        return None, exc.message, [[] for _ in map_ids], chosen
    detected = formats.detect(columns)
    status = [f"Uploaded {filename}: {len(columns)} columns "
              f"({', '.join(columns[:8])}{'…' if len(columns) > 8 else ''})."]
    if detected:
        status.append(html.Div([html.Strong(f"This looks like a {_format_label(detected)}"),
                                ": check the format below, then load the file."],
                               id="data-detected"))
    else:
        status.append(html.Div("Not a layout Shoplens knows: choose \"Other file\" and map "
                               "its columns.", id="data-detected"))
    return (path.name, status, [columns for _ in map_ids], detected or "generic")


def _format_label(name: str) -> str:
    return FORMAT_LABELS.get(name, formats.FORMATS[name].label)


@callback(Output("data-mapping", "hidden"), Input("data-format", "value"))
def toggle_mapping(data_format):
    return data_format != "generic"


def load_options(path, data_format, append, mapped_columns, force=False, more=None):
    """The data_load job's options from the upload step; a generic file's ``mapping`` is
    the dropdowns' columns (our field → the file's column) merged with the JSON of the
    "More of the mapping" box (the job's ``LoadOptions`` checks the whole)."""
    if not path:
        return {"path": "", "format": data_format}
    options = {"path": path, "format": data_format, "append": bool(append)}
    if force:
        options["force"] = True
    if data_format == "generic":
        columns = {field: column for (field, _required), column
                   in zip(MAPPED_FIELDS, mapped_columns) if column}
        extra = _more_of_the_mapping(more)
        options["mapping"] = {**extra, "columns": {**columns, **extra.get("columns", {})}}
    return options


def _more_of_the_mapping(text: str | None) -> dict:
    if not text or not text.strip():
        return {}
    try:
        extra = json.loads(text)
    except json.JSONDecodeError as exc:
        raise context.Unavailable(f"\"More of the mapping\" is not valid JSON: {exc.msg} at "
                                  f"line {exc.lineno}, column {exc.colno}") from None
    if not isinstance(extra, dict) or not isinstance(extra.get("columns", {}), dict):
        raise context.Unavailable("\"More of the mapping\" must be a JSON object such as "
                                  "{\"refund_values\": [\"refunded\"]}")
    return extra


jobs_ui.follow("data-load", "data_load",
               [State("data-upload-path", "data"), State("data-format", "value"),
                State("data-append", "value"),
                State({"type": "data-map", "field": dash.ALL}, "value"),
                State("data-force", "value"), State("data-map-options", "value")],
               load_options)


# ------------------------------------------------------------------ traffic and ad spend
SESSION_PRESETS = {"ga4": "Google Analytics 4 export", "generic": "Other file (mapping)"}
AD_PRESETS = {"google-ads": "Google Ads campaign report", "meta-ads": "Meta Ads Manager export",
              "generic": "Other file (mapping)"}


def traffic_card() -> html.Div:
    """Upload a sessions or ad-spend file (``data.traffic``) and load it as a job beside
    the current orders: one upload, one job panel per kind with its preset."""
    def preset(prefix: str, presets: dict[str, str], value: str) -> html.Div:
        return html.Div([dbc.Label("Preset", className="small mb-0"),
                         dbc.Select(id=f"{prefix}-format", size="sm", value=value,
                                    options=[{"label": label, "value": name}
                                             for name, label in presets.items()])])
    return html.Div([
        html.H2("Traffic and ad spend", className="h5 mt-4"),
        html.P("Daily sessions (a GA4 export) or ad spend (a Google Ads or Meta Ads Manager "
               "report) beside the current orders: a load replaces the sessions of the days "
               "the file covers, or the ad rows of its days and channels, in a new data "
               "version (docs/marketing.md).", className="small text-body-secondary"),
        dbc.Card(dbc.CardBody([
            dcc.Upload(id="data-traffic-upload", children=html.Div([
                "Drop a sessions or ad-spend CSV or Excel file here, or ",
                html.A("choose one")]),
                className="border border-2 border-dashed rounded p-3 text-center mb-2",
                max_size=uploads.MAX_BYTES, multiple=False),
            html.Div(id="data-traffic-status", className="small mb-2"),
            dcc.Store(id="data-traffic-path"),
            dbc.Label("Column mapping for \"Other file\" (JSON, as in docs/marketing.md)",
                      className="small mb-0"),
            dcc.Textarea(id="data-traffic-mapping",
                         className="form-control font-monospace small mb-2",
                         style={"height": "4em"},
                         placeholder='{"columns": {"date": "Day", "sessions": "Visits"}}'),
        ]), className="mb-2"),
        dbc.Row([
            dbc.Col(components.job_panel("data-sessions", "Load as sessions", options=[
                preset("data-sessions", SESSION_PRESETS, "ga4")]), lg=6),
            dbc.Col(components.job_panel("data-ads", "Load as ad spend", options=[
                preset("data-ads", AD_PRESETS, "google-ads"),
                dbc.Checkbox(id="data-ads-force", value=False,
                             label="Publish despite rejected lines or another currency")]),
                    lg=6),
        ]),
        components.panel("data-traffic-result", "Last traffic or ad-spend load"),
    ])


@callback(Output("data-traffic-path", "data"), Output("data-traffic-status", "children"),
          Input("data-traffic-upload", "contents"), State("data-traffic-upload", "filename"),
          prevent_initial_call=True)
def store_traffic_upload(contents, filename):
    """Save the upload and name its columns; the admin then picks the kind and preset."""
    if not security.user_has_role("admin"):
        return None, "Only admins load data."
    try:  # the header is the preset's to find: platform reports open with title lines
        path = uploads.save_upload(filename, contents)
    except ShoplensError as exc:
        return None, exc.message
    return path.name, (f"Uploaded {filename} ({path.stat().st_size:,} bytes). Choose its "
                       "preset and load it as sessions or as ad spend.")


def traffic_options(path, data_format, mapping_text, force=None) -> dict:
    """A traffic job's options (its kind's options model checks them)."""
    options = {"path": path or "", "format": data_format}
    if data_format == "generic":
        options["mapping"] = _traffic_mapping(mapping_text)
    if force:
        options["force"] = True
    return options


def _traffic_mapping(text: str | None) -> dict:
    if not text or not text.strip():
        raise context.Unavailable("An \"Other file\" needs its column mapping (JSON, see "
                                  "docs/marketing.md)")
    try:
        mapping = json.loads(text)
    except json.JSONDecodeError as exc:
        raise context.Unavailable(f"The column mapping is not valid JSON: {exc.msg} at line "
                                  f"{exc.lineno}, column {exc.colno}") from None
    if not isinstance(mapping, dict):
        raise context.Unavailable("The column mapping must be a JSON object such as "
                                  "{\"columns\": {\"date\": \"Day\"}}")
    return mapping


jobs_ui.follow("data-sessions", "sessions_load",
               [State("data-traffic-path", "data"), State("data-sessions-format", "value"),
                State("data-traffic-mapping", "value")], traffic_options)
jobs_ui.follow("data-ads", "ads_load",
               [State("data-traffic-path", "data"), State("data-ads-format", "value"),
                State("data-traffic-mapping", "value"), State("data-ads-force", "value")],
               traffic_options)


@callback(Output("data-traffic-result", "children"), Input("data-sessions-job", "data"),
          Input("data-ads-job", "data"))
def show_traffic_result(sessions_job, ads_job):
    """The finished load's counts, rejected lines with their reasons, and warnings (the
    job's result, read for its owner or an admin)."""
    stored = ads_job if dash.ctx.triggered_id == "data-ads-job" else sessions_job
    try:
        result = jobs_ui.result(stored)
    except jobs_ui.JobUnavailable as exc:
        return components.empty_state(str(exc))
    if result is None:
        return components.empty_state("Load a sessions or ad-spend file to see its report "
                                      "here (failures are said under its button).")
    return traffic_report(result)


def traffic_report(result: dict) -> html.Div:
    dates = result.get("date_range") or {}
    rows = [("Loaded as", f"{result.get('kind')} ({result.get('format')})"),
            ("Data version", result.get("version")),
            ("Lines read", f"{result.get('lines_read') or 0:,}"),
            ("Lines loaded", f"{result.get('lines_loaded') or 0:,}"),
            ("Lines rejected", f"{result.get('lines_rejected') or 0:,}"),
            ("Dates", f"{dates.get('first')} – {dates.get('last')}")]
    rows += [(name.replace("_", " ").capitalize(),
              ", ".join(value) if isinstance(value, list) else f"{value:,}")
             for name, value in (result.get("totals") or {}).items()]
    reasons = [html.Li(f"{reason}: {count:,} lines")
               for reason, count in (result.get("rejected_by_reason") or {}).items()]
    lines = [html.Li(f"line {item['line']}: {item['reason']}")
             for item in result.get("rejected_lines") or []]
    warnings = [html.Li(text) for text in [*(result.get("warnings") or []),
                                            *(result.get("notes") or [])]]
    return html.Div([
        dbc.Table(html.Tbody([html.Tr([html.Td(label), html.Td(str(value))])
                              for label, value in rows]), size="sm",
                  id="data-traffic-table"),
        html.Div([html.H3("Rejected", className="h6"), html.Ul(reasons + lines,
                                                                 className="small ps-3")])
        if reasons else None,
        html.Div([html.H3("Warnings and notes", className="h6"),
                  html.Ul(warnings, className="small ps-3", id="data-traffic-warnings")])
        if warnings else None,
    ])


@callback(Output("data-quality", "children"), Input("shell-url", "pathname"),
          Input("data-load-job", "data"))
def update_quality(_pathname, _job):
    """The quality summary under the admin's own data scope: a scoped admin sees the
    scope's lines only (``quality.quality_summary(…, scope=…)``), never the whole data's."""
    scope = context.scope()
    try:
        summary = quality.quality_summary(context.warehouse(), scope=scope)
    except context.DATA_ERRORS:
        return components.empty_state(context.NO_DATA)
    rows = [("Data version", summary["version"]), ("Source", summary.get("source") or "—"),
            ("Data scope", summary["scope"]),
            ("Loaded", summary.get("loaded_at") or "—"),
            ("Lines", f"{summary['lines']:,}"), ("Sale lines", f"{summary['sale_lines']:,}"),
            ("Return lines", f"{summary['return_lines']:,}"),
            ("Price 0 or less (left out of totals)", f"{summary['price_not_positive_lines']:,}"),
            ("Lines without a customer", f"{summary['missing_customer_lines']:,}"),
            ("Lines without a country code", f"{summary['lines_without_country_code']:,}"),
            ("Dates", f"{summary.get('first_date')} – {summary.get('last_date')}"),
            ("Days since the last line", summary.get("freshness_days"))]
    notes = quality.summary_issues(summary)
    return html.Div([
        dbc.Table(html.Tbody([html.Tr([html.Td(label), html.Td(str(value))])
                              for label, value in rows]), size="sm", id="data-quality-table"),
        html.Ul([html.Li(note) for note in notes], className="small ps-3") if notes else None,
    ])


@callback(Output("data-history", "children"), Input("shell-url", "pathname"),
          Input("data-load-job", "data"))
def update_history(_pathname, _job):
    if not security.user_has_role("admin"):
        return components.empty_state("Only admins see the load history.")
    loads = core_loads.last_loads(services.settings(), limit=HISTORY_ROWS)
    if not loads:
        return components.empty_state("No loads yet.")
    # a load's line counts are the whole file's: not for an admin limited to a scope
    counted = context.scope().is_all

    def count(value) -> str:
        return f"{value or 0:,}" if counted else "—"
    return dbc.Table([
        html.Thead(html.Tr([html.Th(h) for h in ("#", "source", "mode", "status", "version",
                                                 "loaded", "rejected")])),
        html.Tbody([html.Tr([html.Td(load.id), html.Td(load.source), html.Td(load.mode),
                             html.Td(load.status if not load.error else
                                     f"{load.status}: {load.error}"),
                             html.Td(load.version or "—"),
                             html.Td(count(load.lines_loaded)),
                             html.Td(count(load.lines_rejected))]) for load in loads]),
    ], size="sm", hover=True, id="data-history-table")
