"""The "⋯" menu on every chart, table and card of lists and tables: download what it
shows (CSV, Excel, PNG for charts) and pin it to a dashboard.

Exactly what it shows: the browser sends the component's current ``figure`` (a chart),
``data``/``columns`` (a table) or ``children`` (a card's content) as Dash holds them — a
clientside step (``assets/toolbar.js``) reads them with ``dash_component_api.getLayout``,
since a callback registered once for all pages cannot name each page's graph as its State
— and a server callback turns them into a file for ``dcc.Download``: a chart's traces
become columns named after its axes and traces (``figure_frame``), a table's rows keep the
displayed order and column names (``table_frame``), a card's first table or list its text
as shown (``content_frame``). A server-paged table holds one page in the browser, so its
export is that page (the transactions page keeps its whole-selection CSV). The server still re-checks the signed-in user (signed out or deactivated: refused,
nothing sent) and the role of the transaction export (``EXPORT_ROUTE``'s declared role,
and the role of the panel's page), writes an ``export`` audit event, and neutralises text
cells like every other export (``analytics.transactions.neutralise_frame``). PNG is drawn
by plotly.js in the browser (``Plotly.downloadImage``), as the chart's modebar already
offers everyone.

Ids: the menu's components have pattern-matching ids of types ``<page>-toolbar-…`` keyed
by ``panel`` (the chart's or table's id as text): they carry their page's prefix like every
id of a page, so the request guard asks for the page's role before a callback runs, and
one set of MATCH callbacks per page serves all its panels (``register_callbacks``, on each
app); the callbacks check the user and the export role themselves.
"""
from __future__ import annotations

import base64
import datetime as dt
import io
import json
import logging
import re
from typing import Any

import dash
import dash_bootstrap_components as dbc
import flask
import numpy as np
import pandas as pd
from dash import MATCH, ClientsideFunction, Input, Output, State, ctx, dcc, html

from analytics import errors
from analytics.transactions import csv_rows, neutralise_frame
from core import audit
from core.orm import User, utcnow
from webapp import security

log = logging.getLogger(__name__)

#: The export whose role rule every toolbar download follows.
EXPORT_ROUTE = "/api/v1/transactions.csv"
FORMATS = {"csv": "text/csv",
           "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
#: A figure's rows at most: far above any chart's points, it bounds the work of one click.
MAX_ROWS = 100_000
NEW_DASHBOARD = "new"
#: Where a menu's message shows: top right, below the navbar, above the page.
TOAST_STYLE = {"position": "fixed", "top": 66, "right": 12, "zIndex": 1080, "minWidth": 280}
#: Trace types whose points may be keyed by their x (or y, horizontal) values.
KEYED_TYPES = frozenset({"scatter", "scattergl", "bar", "funnel", "waterfall"})
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$")
_MIDNIGHT = re.compile(r"^(\d{4}-\d{2}-\d{2})[T ]00:00:00(\.0+)?$")


class ExportRefused(errors.ShoplensError):
    """The export is refused or has nothing to hold; the message says why."""


# ------------------------------------------------------------------ ids
def panel_key(component_id: str | dict) -> str:
    """A chart's or table's id as the text the menu's ids carry (a pattern-matching id as
    Dash writes it in the page: JSON with sorted keys)."""
    if isinstance(component_id, dict):
        return json.dumps(component_id, sort_keys=True, separators=(",", ":"))
    return str(component_id)


def page_prefix(component_id: str | dict) -> str:
    """The prefix of the page a chart or table belongs to (``overview`` for
    ``overview-trend``), the shell's for an id of no page."""
    owner = security.id_owner(component_id)
    return security.page_id_prefix(owner) if isinstance(owner, dict) else \
        security.SHELL_ID_PREFIX


def _ids(key, prefix: str) -> dict[str, dict]:
    return {part: {"type": f"{prefix}-toolbar-{part}", "panel": key}
            for part in ("csv", "xlsx", "png", "pin", "request", "download", "note",
                         "pinned", "pin-modal", "pin-target", "pin-name", "pin-confirm",
                         "pin-error")}


def _panel_id(key: str) -> str | dict:
    return json.loads(key) if key.startswith("{") else key


def _panel_name(key: str) -> str:
    """The panel's id as one word, as ``webapp.dashboard.panels`` names it: a dict id's
    type then its other values (``insights-performance-channel``)."""
    found = _panel_id(key)
    if isinstance(found, dict):
        parts = [str(found.get("type", ""))] + [str(value) for name, value in
                                                sorted(found.items()) if name != "type"]
        return "-".join(part for part in parts if part)
    return found


# ------------------------------------------------------------------ layout
def menu(component_id: str | dict, title: str | None = None, *, kind: str) -> html.Div:
    """The "⋯" dropdown of a chart (``kind="chart"``), a table (``"table"``) or a card of
    lists and tables that a callback fills (``"panel"``), with its
    download target, the store the browser fills, a toast for what happened and, for a
    pinnable panel, the pin dialog. Download items show to the roles that may export; a
    menu that would offer nothing is left out. ``title`` names the panel in the toast and
    the dialog (by default its title in the panel registry)."""
    key = panel_key(component_id)
    prefix = page_prefix(component_id)
    ids = _ids(key, prefix)
    title = title or _registered_title(key)
    items = []
    if _may_export_here():
        # a paged table holds the page on screen: say so beside its own whole-list export
        which = " (this page)" if kind == "table" else ""
        items += [dbc.DropdownMenuItem(f"Download CSV{which}", id=ids["csv"], n_clicks=0),
                  dbc.DropdownMenuItem(f"Download Excel{which}", id=ids["xlsx"],
                                       n_clicks=0)]
    if kind == "chart":
        items.append(dbc.DropdownMenuItem("Download PNG", id=ids["png"], n_clicks=0))
    pinnable = _is_pinnable(key)
    if pinnable:
        items.append(dbc.DropdownMenuItem("Pin to dashboard…", id=ids["pin"], n_clicks=0))
    if not items:
        return html.Div(className="toolbar", **{"data-panel": key})
    children = [
        dbc.DropdownMenu(items, label="⋯", size="sm", color="link", align_end=True,
                         caret=False, class_name="toolbar-menu",
                         toggle_class_name="toolbar-toggle px-1 py-0 text-body-secondary",
                         toggle_style={"textDecoration": "none", "lineHeight": 1},
                         id={"type": f"{prefix}-toolbar-menu", "panel": key}),
        dcc.Store(id=ids["request"], data={"name": _panel_name(key), "title": title}),
        dcc.Download(id=ids["download"]),
        dbc.Toast(id=ids["note"], header=title, is_open=False, dismissable=True,
                  duration=6000, style=TOAST_STYLE),
    ]
    if pinnable:
        children += [_pin_dialog(ids, title),
                     dbc.Toast(id=ids["pinned"], header=title, icon="success", is_open=False,
                               dismissable=True, duration=6000, style=TOAST_STYLE)]
    return html.Div(children, className="toolbar ms-auto flex-shrink-0",
                    **{"data-panel": key})


def _pin_dialog(ids: dict, title: str) -> dbc.Modal:
    return dbc.Modal([
        dbc.ModalHeader(dbc.ModalTitle(f"Pin “{title}” to a dashboard")),
        dbc.ModalBody([
            dbc.Label("Dashboard", html_for=ids["pin-target"]),
            dbc.Select(id=ids["pin-target"], options=[], className="mb-2"),
            dbc.Input(id=ids["pin-name"], placeholder="Name of the new dashboard",
                      maxLength=200),
            html.Div("The tile shows this panel with the page's current filters.",
                     className="small text-body-secondary mt-2"),
            html.Div(id=ids["pin-error"], className="small text-danger mt-2"),
        ]),
        dbc.ModalFooter(dbc.Button("Pin", id=ids["pin-confirm"], color="primary",
                                   n_clicks=0)),
    ], id=ids["pin-modal"], is_open=False)


def _may_export_here() -> bool:
    """Whether to offer downloads: the signed-in user has the export role (the callback
    checks again; outside a request, e.g. a test building a card, they show)."""
    if not flask.has_request_context():
        return True
    from webapp.dashboard import context
    return context.has_role(export_role())


def _is_pinnable(key: str) -> bool:
    from webapp.dashboard import panels  # late: the registry draws with the pages' code
    return bool(panels.is_pinnable(_panel_name(key)))


def _registered_title(key: str) -> str:
    """The panel's title in ``webapp.dashboard.panels``, else its id in words."""
    from webapp.dashboard import panels
    found = panels.PANELS.get(_panel_name(key))
    return found.title if found is not None else _panel_name(key).replace("-", " ")


def export_role() -> str:
    """The role the transaction export declares: every toolbar download needs it."""
    from webapp.api import routing
    return routing.role_of("GET", EXPORT_ROUTE)


# ------------------------------------------------------------------ what a chart shows
def _array(value) -> list:
    """A figure's data array as a list: plotly.py writes numeric arrays as base64 typed
    arrays (``{"dtype": "f8", "bdata": …, "shape": "2, 3"}``), plotly.js plain lists."""
    if isinstance(value, dict) and "bdata" in value:
        dtype = np.dtype("<" + str(value.get("dtype", "f8")).removesuffix("c"))
        array = np.frombuffer(base64.b64decode(value["bdata"]), dtype=dtype)
        shape = value.get("shape")
        if shape:
            dims = [int(part) for part in str(shape).replace("[", "").replace("]", "")
                    .split(",") if part.strip()] if not isinstance(shape, list) else shape
            array = array.reshape(dims)
        return array.tolist()
    if value is None or isinstance(value, (str, int, float, bool)):
        return []
    return list(value)


def _cell(value):
    """A value as a cell: NaN as empty, a midnight timestamp as its date."""
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, str):
        match = _MIDNIGHT.match(value)
        return match.group(1) if match else value
    return value


def _title(layout: dict, axis: str) -> str | None:
    """The title of ``axis`` ("x", "y2", …) of a figure's layout, or None."""
    name = f"{axis[0]}axis{axis[1:]}"
    title = (layout.get(name) or {}).get("title")
    text = title.get("text") if isinstance(title, dict) else title
    return str(text) if text else None


def _flat(values: list) -> bool:
    return all(not isinstance(value, (list, dict)) for value in values)


def _keyed(trace: dict) -> bool:
    """A trace whose points are keyed by a category or a date (bars, lines over time);
    a scatter of markers over a number axis is a cloud of points instead."""
    if trace.get("type", "scatter") not in KEYED_TYPES:
        return False
    keys = _array(trace.get("y" if trace.get("orientation") == "h" else "x"))
    if not keys or not _flat(keys):
        return False
    mode = str(trace.get("mode") or "")
    if trace.get("type", "scatter") == "scatter" and "markers" in mode \
            and "lines" not in mode and all(isinstance(k, (int, float)) for k in keys):
        return False
    return len(set(map(_cell, keys))) == len(keys) or _is_band(trace)


def _is_band(trace: dict) -> bool:
    """An interval drawn as one closed shape: x forth then back (the forecast's band)."""
    keys = _array(trace.get("x"))
    half = len(keys) // 2
    return trace.get("fill") == "toself" and len(keys) == 2 * half and half > 0 \
        and keys[:half] == keys[half:][::-1]


def _series_name(trace: dict, index: int, layout: dict, value_axis: str) -> str:
    return str(trace.get("name") or _title(layout, value_axis) or
               ("value" if index == 0 else f"series {index + 1}"))


def _keyed_columns(trace: dict, index: int, layout: dict) -> tuple[str, dict[Any, dict]]:
    """(the key axis's title, key → {column: value}) of one keyed trace."""
    horizontal = trace.get("orientation") == "h"
    key_axis = str(trace.get("yaxis" if horizontal else "xaxis") or
                   ("y" if horizontal else "x"))
    value_axis = str(trace.get("xaxis" if horizontal else "yaxis") or
                     ("x" if horizontal else "y"))
    keys = [_cell(k) for k in _array(trace.get("y" if horizontal else "x"))]
    values = [_cell(v) for v in _array(trace.get("x" if horizontal else "y"))]
    name = _series_name(trace, index, layout, value_axis)
    rows: dict[Any, dict] = {}
    if _is_band(trace):
        half = len(keys) // 2
        for key, upper, lower in zip(keys[:half], values[:half], values[half:][::-1]):
            rows[key] = {f"{name} (upper)": upper, f"{name} (lower)": lower}
    else:
        for key, value in zip(keys, values + [None] * (len(keys) - len(values))):
            rows[key] = {name: value}
        for label, extra in (("text", trace.get("text")), ("key", trace.get("customdata"))):
            extras = [_cell(v) if not isinstance(v, list) else v for v in _array(extra)]
            if len(extras) != len(keys) or extras == keys:
                continue
            if _flat(extras):
                for key, value in zip(keys, extras):
                    rows[key][f"{name} {label}"] = value
            elif len({len(v) if isinstance(v, list) else 1 for v in extras}) == 1:
                for key, value in zip(keys, extras):  # a bin's start and end, …
                    for position, part in enumerate(value, start=1):
                        rows[key][f"{name} {label} {position}"] = _cell(part)
    return _title(layout, key_axis) or _key_noun(keys), rows


def _key_noun(keys: list) -> str:
    """What to call an untitled key axis: "date" when every key is one, "value" when
    every key is a number (a histogram's bins), else "category"."""
    if keys and all(isinstance(key, str) and _DATE.match(key) for key in keys):
        return "date"
    if keys and all(isinstance(key, (int, float)) for key in keys):
        return "value"
    return "category"


def _point_rows(trace: dict, index: int, layout: dict) -> list[dict]:
    """The rows of a trace that is not keyed: one per point, by its kind."""
    kind = trace.get("type", "scatter")
    name = str(trace.get("name") or "")
    if kind in ("pie", "treemap", "sunburst", "icicle", "funnelarea"):
        labels = _array(trace.get("labels"))
        columns = {"label": labels, "parent": _array(trace.get("parents")),
                   "value": _array(trace.get("values"))}
        ids = _array(trace.get("ids"))
        if ids and ids != labels:
            columns = {"id": ids, **columns}
    elif kind in ("heatmap", "contour", "histogram2d"):
        z = _array(trace.get("z"))
        x, y = _array(trace.get("x")), _array(trace.get("y"))
        columns = {_title(layout, "x") or "x": [], _title(layout, "y") or "y": [],
                   name or "value": []}
        x_name, y_name, z_name = columns
        for row_index, row in enumerate(z):
            for column_index, value in enumerate(row if isinstance(row, list) else [row]):
                columns[x_name].append(x[column_index] if column_index < len(x)
                                       else column_index)
                columns[y_name].append(y[row_index] if row_index < len(y) else row_index)
                columns[z_name].append(value)
    elif kind in ("choropleth", "scattergeo"):
        columns = {"location": _array(trace.get("locations")), name or "value":
                   _array(trace.get("z")) or _array(trace.get("text"))}
    else:
        x_axis, y_axis = str(trace.get("xaxis") or "x"), str(trace.get("yaxis") or "y")
        columns = {"series": [name] * len(_array(trace.get("x") or trace.get("y"))),
                   _title(layout, x_axis) or "x": _array(trace.get("x")),
                   _title(layout, y_axis) or "y": _array(trace.get("y"))}
        text = _array(trace.get("text"))
        if text and _flat(text):
            columns["label"] = text
    detail = _array(trace.get("customdata"))
    length = max((len(values) for values in columns.values()), default=0)
    if detail and len(detail) == length:
        firsts = [item[0] if isinstance(item, list) and item else item for item in detail]
        widths = {len(item) if isinstance(item, list) else 1 for item in detail}
        if widths == {1} and firsts != columns.get("label"):
            columns["detail"] = firsts
        elif len(widths) == 1 and widths != {1}:
            for position in range(widths.pop()):
                values = [item[position] for item in detail]
                if values != columns.get("label"):
                    columns[f"detail {position + 1}"] = values
    return [{column: _cell(values[i]) if i < len(values) else None
             for column, values in columns.items()} for i in range(length)]


def figure_frame(figure: dict) -> pd.DataFrame:
    """What a chart shows, as a table. Traces keyed by a category or date (lines over
    time, bars) share one key column named after their key axis, with one column per
    trace named after it (its text/key beside it when they say more than the key; a
    forecast band as upper and lower); other charts list their points (scatter: series,
    x, y, label; pie/treemap: label, parent, value; heatmap: x, y, value). Empty: no data.
    """
    if not isinstance(figure, dict):
        raise ExportRefused("The chart sent no figure to export.")
    traces = [trace for trace in figure.get("data") or [] if isinstance(trace, dict)
              and trace.get("visible", True) is not False]
    layout = figure.get("layout") if isinstance(figure.get("layout"), dict) else {}
    if traces and all(_keyed(trace) for trace in traces):
        key_name, table = None, {}
        for index, trace in enumerate(traces):
            name, rows = _keyed_columns(trace, index, layout)
            key_name = key_name or name
            for key, columns in rows.items():
                table.setdefault(key, {}).update(columns)
        records = [{key_name: key, **columns} for key, columns in table.items()]
    else:
        records = [row for index, trace in enumerate(traces)
                   for row in _point_rows(trace, index, layout)]
    if len(records) > MAX_ROWS:
        raise ExportRefused(f"The chart has more than {MAX_ROWS:,} points to export.")
    return _typed(pd.DataFrame.from_records(records))


# ------------------------------------------------------------------ what a table shows
def table_frame(table: dict) -> pd.DataFrame:
    """A table's rows as it shows them: its visible columns in order under their
    displayed names, its rows in the displayed order (``derived_virtual_data`` when the
    table sorts or filters in the browser, else ``data``: the page a server-paged table
    holds)."""
    if not isinstance(table, dict) or not isinstance(table.get("columns"), list):
        raise ExportRefused("The table sent no rows to export.")
    rows = table.get("derived_virtual_data")
    if not isinstance(rows, list):
        rows = table.get("data") if isinstance(table.get("data"), list) else []
    if len(rows) > MAX_ROWS:
        raise ExportRefused(f"The table has more than {MAX_ROWS:,} rows to export.")
    hidden = set(table.get("hidden_columns") or [])
    columns = [column for column in table["columns"] if isinstance(column, dict)
               and column.get("id") not in hidden]
    names = {}
    for column in columns:
        name = column.get("name", column.get("id"))
        names[column["id"]] = " / ".join(map(str, name)) if isinstance(name, list) \
            else str(name)
    records = [{names[id_]: _cell(row.get(id_)) for id_ in names} for row in rows
               if isinstance(row, dict)]
    return _typed(pd.DataFrame.from_records(records, columns=list(names.values())))


# ------------------------------------------------------------------ what a panel shows
#: Components whose text is not the panel's data (buttons, inputs and their options).
_CONTROLS = frozenset({"Button", "Input", "Select", "Dropdown", "Checklist", "RadioItems",
                       "Switch", "Checkbox", "Textarea", "Store", "Tooltip", "Popover",
                       "DatePickerRange", "DatePickerSingle", "Upload", "Download"})
_MAX_DEPTH = 60


def _children(node) -> list:
    props = node.get("props") if isinstance(node, dict) else None
    children = props.get("children") if isinstance(props, dict) else node
    if children is None or isinstance(children, (str, int, float)):
        return [] if children is None or children is node else [children]
    return children if isinstance(children, list) else [children]


def _type(node) -> str | None:
    return node.get("type") if isinstance(node, dict) else None


def _find(node, types: frozenset, depth: int = 0) -> list[dict]:
    """The components of ``types`` in a layout tree (JSON as Dash holds it), in order,
    not looking inside those found."""
    if depth > _MAX_DEPTH:
        return []
    if isinstance(node, list):
        return [found for item in node for found in _find(item, types, depth + 1)]
    if not isinstance(node, dict):
        return []
    if _type(node) in types:
        return [node]
    return [found for child in _children(node) for found in _find(child, types, depth + 1)]


def _text(node, depth: int = 0) -> str:
    """The text a component shows, controls left out, spaces collapsed."""
    if depth > _MAX_DEPTH or node is None or isinstance(node, bool):
        return ""
    if isinstance(node, (str, int, float)):
        return str(node)
    if isinstance(node, list):
        parts = [_text(item, depth + 1) for item in node]
    elif _type(node) in _CONTROLS:
        return ""
    else:
        parts = [_text(child, depth + 1) for child in _children(node)]
    return re.sub(r"\s+", " ", " ".join(part for part in parts if part)).strip()


def content_frame(content, title: str = "item") -> pd.DataFrame:
    """What a panel of lists and tables shows: its first table (the header row's cells
    name the columns, each other row one row; a table without a header has columns
    "column 1"…), else its list items as one column named ``title``. Cells are the text
    on screen (formatted numbers stay text); buttons and inputs are left out."""
    tables = _find(content, frozenset({"Table"}))
    if tables:
        head = _find(_find(tables[0], frozenset({"Thead"})), frozenset({"Tr"}))
        body = _find(_find(tables[0], frozenset({"Tbody"})), frozenset({"Tr"})) or \
            [row for row in _find(tables[0], frozenset({"Tr"})) if row not in head]
        cells = [[_text(cell) for cell in _find(_children(row), frozenset({"Td", "Th"}))]
                 for row in body]
        header = [_text(cell) for cell in _find(_children(head[-1]),
                                                frozenset({"Td", "Th"}))] if head else []
        width = max([len(header), *map(len, cells)])
        names = _unique([header[i] if i < len(header) and header[i] else f"column {i + 1}"
                         for i in range(width)])
        records = [dict(zip(names, row + [None] * (width - len(row)))) for row in cells]
        frame = pd.DataFrame.from_records(records, columns=names)
    else:
        items = [_text(item) for item in _find(content, frozenset({"Li", "ListGroupItem"}))]
        frame = pd.DataFrame({title: [item for item in items if item]})
    if len(frame) > MAX_ROWS:
        raise ExportRefused(f"The panel has more than {MAX_ROWS:,} rows to export.")
    return _typed(frame)


def _unique(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return out


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    """Columns of numbers as numbers (whole numbers as integers), everything else text:
    a number is never turned into text, and text is never read as a number."""
    out = {}
    for name in frame.columns:
        values = frame[name].tolist()
        present = [value for value in values if value is not None and value == value]
        if present and all(isinstance(value, (int, float)) and not isinstance(value, bool)
                           for value in present):
            whole = all(float(value).is_integer() for value in present)
            cleaned = [None if value is None or value != value else value for value in values]
            out[name] = pd.Series(cleaned, dtype="Int64" if whole else "float64")
        else:
            out[name] = pd.Series([None if value is None or value != value else value
                                   if isinstance(value, bool) else str(value)
                                   for value in values], dtype=object)
    return pd.DataFrame(out, columns=list(frame.columns))


# ------------------------------------------------------------------ files
def csv_bytes(frame: pd.DataFrame) -> bytes:
    """The CSV of every export (``analytics.transactions.csv_rows``: text neutralised)."""
    return csv_rows(frame, header=True).encode("utf-8")


def xlsx_bytes(frame: pd.DataFrame, sheet: str = "data") -> bytes:
    """One worksheet: the header, then the rows with text cells neutralised."""
    from openpyxl import Workbook
    workbook = Workbook(write_only=True)
    worksheet = workbook.create_sheet(re.sub(r"[\[\]:*?/\\]", " ", sheet)[:31] or "data")
    worksheet.append([str(name) for name in frame.columns])
    for row in neutralise_frame(frame).itertuples(index=False, name=None):
        worksheet.append([_excel(value) for value in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _excel(value):
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


def file_name(key: str, fmt: str, today: dt.date | None = None) -> str:
    """``<page>-<panel>-<yyyy-mm-dd>.<fmt>``: the panel's id already starts with its page
    (``overview-trend``)."""
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", _panel_name(key)).strip("-") or "panel"
    return f"{name}-{(today or dt.date.today()).isoformat()}.{fmt}"


# ------------------------------------------------------------------ callbacks
def register_callbacks(app: dash.Dash) -> None:
    """Attach the menus' callbacks to ``app`` (a module is imported once, but tests and
    workers may build several apps in one process): one set per page (and the shell's),
    whose MATCH serves every panel of that page."""
    prefixes = {security.page_id_prefix(page) for page in dash.page_registry.values()}
    for prefix in sorted(prefixes - {""} | {security.SHELL_ID_PREFIX}):
        _register(app, prefix)


def _register(app: dash.Dash, prefix: str) -> None:
    ids = _ids(MATCH, prefix)
    app.clientside_callback(ClientsideFunction("toolbar", "request"),
                            Output(ids["request"], "data"),
                            Input(ids["csv"], "n_clicks"), Input(ids["xlsx"], "n_clicks"),
                            State(ids["request"], "data"), prevent_initial_call=True)
    app.clientside_callback(ClientsideFunction("toolbar", "png"),
                            Output(ids["png"], "style"), Input(ids["png"], "n_clicks"),
                            State(ids["request"], "data"), prevent_initial_call=True)
    app.callback(Output(ids["download"], "data"), Output(ids["note"], "children"),
                 Output(ids["note"], "is_open"), Output(ids["note"], "icon"),
                 Input(ids["request"], "data"), State("shell-url", "search"),
                 prevent_initial_call=True)(export)
    app.callback(Output(ids["pin-modal"], "is_open"), Output(ids["pin-target"], "options"),
                 Output(ids["pin-target"], "value"), Output(ids["pin-error"], "children"),
                 Output(ids["pinned"], "children"), Output(ids["pinned"], "is_open"),
                 Input(ids["pin"], "n_clicks"), Input(ids["pin-confirm"], "n_clicks"),
                 State(ids["pin-target"], "value"), State(ids["pin-name"], "value"),
                 State("shell-url", "search"), prevent_initial_call=True)(pin)


def _triggered_key() -> str:
    trigger = ctx.triggered_id
    if not isinstance(trigger, dict) or not isinstance(trigger.get("panel"), str):
        raise ExportRefused("The request names no panel.")
    return trigger["panel"]


def _signed_in_user() -> User:
    """The signed-in, active user's row; the guard refuses a signed-out callback, this
    refuses what slips past it (a session of an account deactivated meanwhile)."""
    user = security.current_db_user()
    if user is None or not user.is_active:
        raise ExportRefused("Your session has ended: sign in again.")
    return user


def exporter(key: str) -> User:
    """The user who may download the panel ``key``: signed in and active, with the
    transaction export's role and the role of the panel's page."""
    user = _signed_in_user()
    needed = export_role()
    if not user.has_role(needed):
        raise ExportRefused(f"Downloads need the {needed} role, like the transaction "
                            "export: ask an admin.")
    page_role = security.id_role(_panel_id(key))
    if not user.has_role(page_role):
        raise ExportRefused(f"This panel's page needs the {page_role} role.")
    return user


def requested_frame(request) -> tuple[str, pd.DataFrame]:
    """(format, rows) of what the browser sent: a chart's figure or a table's rows."""
    if not isinstance(request, dict) or request.get("format") not in FORMATS:
        raise ExportRefused(f"Choose a format: {', '.join(FORMATS)}.")
    if isinstance(request.get("figure"), dict):
        frame, what = figure_frame(request["figure"]), "chart"
    elif isinstance(request.get("table"), dict):
        frame, what = table_frame(request["table"]), "table"
    elif "content" in request:
        frame, what = content_frame(request["content"], str(request.get("title") or
                                                           "item")), "panel"
    else:
        raise ExportRefused("The panel sent nothing to export.")
    if frame.empty:
        raise ExportRefused(f"Nothing to export: the {what} shows no data.")
    return request["format"], frame


def export(request, search):
    """The file of a panel's current figure or rows, for the signed-in user who may
    export it, after one ``export`` audit event; a refusal sends nothing and says why."""
    try:
        key = _triggered_key()
        user = exporter(key)
        fmt, frame = requested_frame(request)
        name = file_name(key, fmt, utcnow().date())
        content = csv_bytes(frame) if fmt == "csv" else xlsx_bytes(frame, _panel_name(key))
    except ExportRefused as exc:
        return dash.no_update, exc.message, True, "warning"
    session = security.db_session()
    audit.record(session, "export", actor=user, target=name,
                 detail={"panel": _panel_name(key), "format": fmt, "rows": len(frame),
                         "filters": str(search or "")[:500],
                         "scope": security.current_scope().key(), "via": "session"},
                 ip=security.client_ip())
    session.commit()
    return dcc.send_bytes(content, name), dash.no_update, dash.no_update, dash.no_update


def _dashboard_options(session, user: User) -> list[dict]:
    from core import dashboards
    own = [board for board in dashboards.list_dashboards(session, user)
           if dashboards.can_edit(user, board)]
    return [{"label": board.name, "value": str(board.id)} for board in own] + \
        [{"label": "New dashboard…", "value": NEW_DASHBOARD}]


def pin(_open_clicks, _confirm_clicks, target, new_name, search):
    """Open the pin dialog (the dashboards the user may change, and "New dashboard…"),
    or pin the panel with the page's filters and say where ("Pinned to <name>")."""
    no = dash.no_update
    try:
        key = _triggered_key()
        user = _signed_in_user()
    except ExportRefused as exc:
        return no, no, no, exc.message, no, no
    session = security.db_session()
    if str(ctx.triggered_id.get("type")).endswith("-toolbar-pin"):
        options = _dashboard_options(session, user)
        return True, options, options[0]["value"], "", no, no
    try:
        dashboard = pin_panel(session, user, _panel_name(key), target, new_name, search)
        session.commit()
    except errors.ShoplensError as exc:
        session.rollback()
        return no, no, no, exc.message, no, no
    return False, no, no, "", f"Pinned to {dashboard.name}", True


def pin_panel(session, user: User, panel_id, target: str | None, new_name: str | None,
              search: str | None):
    """Add ``panel_id`` to the dashboard ``target`` (an id, or ``NEW_DASHBOARD`` to
    create one named ``new_name``) with the filters of the page's query string ``search``
    as the tile's own (a page without filters: the tile follows the dashboard's). Returns
    the dashboard; the caller commits."""
    from core import dashboards
    from webapp.dashboard import context
    filters = context.parse_filters(search).to_query()
    if target == NEW_DASHBOARD:
        if not (new_name or "").strip():
            raise ExportRefused("Name the new dashboard.")
        board = dashboards.create_dashboard(session, user, {"name": new_name.strip()})
    else:
        try:
            board_id = int(str(target))
        except ValueError:
            raise ExportRefused("Choose a dashboard, or “New dashboard…”.") from None
        board = dashboards.editable_dashboard(session, user, board_id)
    dashboards.add_tile(session, user, board.id, panel_id, filters=filters,
                        follow_dashboard=not filters)
    return board
