"""Every chart's numbers as text, for people who cannot see the chart (issue 15).

A graph is drawn in a box with ``role="img"`` named by its card's title and a one-line
summary ("Line chart, 365 rows by date, from 1 Jan 2025 to 31 Dec 2025; Revenue from £12
to £4,310"), and beside it a visually hidden table of the chart's numbers, which screen
readers read and sighted users never see. The table is the one the chart's "⋯" menu
downloads (``toolbar.figure_frame``: traces keyed by a date or category share one key
column, other charts list their points), written the way the chart writes them: the value
axis's money sign or "%" and the installation's separators, dates as days. A chart of more
than ``MAX_ROWS`` rows (a treemap of every city) lists its first ``MAX_ROWS`` and says so.

One place for every chart: ``components.chart`` (each page's graphs) and the dashboard
tiles call ``labelled``; ``register_callbacks`` makes every callback that draws a figure
send the table of what it drew in the same answer, so the table follows every change of
the chart at no extra request. Its ids are the graph's with ``-alt`` added.
"""
from __future__ import annotations

import functools
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from html import escape

import dash
import pycountry
from dash import MATCH, dcc, html
from dash._utils import split_callback_id, stringify_id, to_json

from analytics.countries import country_name
from core.formatting import format_date, format_number, format_value
from webapp.dashboard import toolbar

log = logging.getLogger(__name__)

#: Rows of a chart's table at most: a year of days (365) is listed whole.
MAX_ROWS = 500
ALT_SUFFIX = "-alt"
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_KINDS = {"bar": "Bar chart", "pie": "Pie chart", "treemap": "Treemap", "sunburst": "Sunburst",
          "heatmap": "Heat map", "funnel": "Funnel chart", "histogram": "Histogram",
          "choropleth": "Map", "scattergeo": "Map", "box": "Box plot"}


@dataclass
class ChartText:
    """What a chart says in words: a one-line ``summary``, and its numbers as a table
    (``header`` and ``rows`` of text, at most ``MAX_ROWS`` of ``total`` rows)."""
    summary: str
    header: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    total: int = 0

    @property
    def capped(self) -> bool:
        return self.total > len(self.rows)


# ------------------------------------------------------------------ the table of a figure
def as_dict(figure) -> dict:
    """A figure as plain JSON (a ``go.Figure`` is written as the browser receives it)."""
    if figure is None:
        return {}
    if hasattr(figure, "to_json"):
        return json.loads(figure.to_json())
    return figure if isinstance(figure, dict) else {}


def figure_text(figure, locale=None) -> ChartText:
    """The summary and table of ``figure`` (a dict as Dash holds it, or a ``go.Figure``),
    numbers written in ``locale`` (a ``Locale`` or a currency sign)."""
    figure = as_dict(figure)
    layout = figure.get("layout") if isinstance(figure.get("layout"), dict) else {}
    traces = [trace for trace in figure.get("data") or [] if isinstance(trace, dict)
              and trace.get("visible", True) is not False]
    try:
        frame = toolbar.figure_frame(figure) if traces else None
    except toolbar.ExportRefused as exc:
        return ChartText(str(exc))
    if frame is None or frame.empty:
        return ChartText(_no_data(layout))
    formats = _column_formats(traces, layout)
    if all(toolbar._keyed(trace) for trace in traces):
        frame = _with_colours(frame, traces, formats)
    places = [name for name in frame.columns
              if name in ("location", "country") or "country" in str(name).lower()]
    header = [str(name) for name in frame.columns]
    rows = []
    for record in frame.head(MAX_ROWS).itertuples(index=False):
        rows.append([_write(value, formats.get(name), locale, name in places)
                     for name, value in zip(frame.columns, record)])
    summary = _summary(traces, frame, formats, header, rows, locale, places)
    return ChartText(summary, header, rows, len(frame))


def values_text(values: dict[str, float], *, label: str, kind: str = "money",
                locale=None) -> ChartText:
    """A map's numbers (country code → value, a KPI of ``kind``) as a table of country
    names, largest first: the offline world map's text alternative."""
    ordered = sorted(values.items(), key=lambda item: (-item[1], item[0]))
    if not ordered:
        return ChartText("Map: no data.")
    rows = [[_place(code), format_value(value, kind, locale)] for code, value in ordered]
    (high_code, high), (low_code, low) = ordered[0], ordered[-1]
    summary = (f"Map, {_count(len(ordered), 'country', 'countries')}; {label} from "
               f"{format_value(low, kind, locale)} ({_place(low_code)}) to "
               f"{format_value(high, kind, locale)} ({_place(high_code)}).")
    return ChartText(summary, ["country", label], rows[:MAX_ROWS], len(ordered))


def _place(code: str) -> str:
    """A country's name for its ISO alpha-2 or alpha-3 code (other text as it is)."""
    if len(code) == 3 and code.isalpha() and code.isupper():
        record = pycountry.countries.get(alpha_3=code)
        code = record.alpha_2 if record else code
    return country_name(code) if len(code) == 2 and code.isalpha() else code


def _with_colours(frame, traces: list[dict], formats: dict):
    """``frame`` with a column per colour scale of its bars (profit on revenue bars):
    a number the chart shows only as a colour is a number of its table too."""
    for trace in traces:
        marker = trace.get("marker") if isinstance(trace.get("marker"), dict) else {}
        colours = toolbar._array(marker.get("color"))
        if not colours or not all(value is None or isinstance(value, (int, float))
                                  for value in colours):
            continue
        horizontal = trace.get("orientation") == "h"
        keys = [toolbar._cell(key) for key in toolbar._array(trace.get("y" if horizontal
                                                                       else "x"))]
        if len(keys) != len(colours):
            continue
        colorbar = marker.get("colorbar") if isinstance(marker.get("colorbar"), dict) else {}
        title = colorbar.get("title")
        name = str((title.get("text") if isinstance(title, dict) else title) or "colour")
        if name in frame.columns:
            continue
        by_key = dict(zip(keys, colours))
        frame = frame.assign(**{name: [by_key.get(key) for key in frame.iloc[:, 0]]})
        formats[name] = (str(colorbar.get("tickprefix") or ""),
                         str(colorbar.get("ticksuffix") or ""),
                         "%" in str(colorbar.get("tickformat") or ""))
    return frame


def _no_data(layout: dict) -> str:
    for note in layout.get("annotations") or []:  # the empty figure says why
        if isinstance(note, dict) and note.get("text"):
            return f"No chart: {re.sub(r'<[^>]+>', ' ', str(note['text'])).strip()}"
    return "No data to chart."


def _axis(layout: dict, axis: str) -> dict:
    value = layout.get(f"{axis[0]}axis{axis[1:]}")
    return value if isinstance(value, dict) else {}


def _axis_format(layout: dict, axis: str) -> tuple[str, str, bool]:
    """(prefix, suffix, percent) of ``axis``: money axes carry the currency's sign."""
    settings = _axis(layout, axis)
    tickformat = str(settings.get("tickformat") or "")
    return (str(settings.get("tickprefix") or ""), str(settings.get("ticksuffix") or ""),
            "%" in tickformat)


def _column_formats(traces: list[dict], layout: dict) -> dict:
    """Column name of ``figure_frame``'s table → how its numbers are written, from the
    axis each trace's values are drawn on (or a heat map's colour bar)."""
    formats = {}
    for index, trace in enumerate(traces):
        horizontal = trace.get("orientation") == "h"
        value_axis = str(trace.get("xaxis" if horizontal else "yaxis") or
                         ("x" if horizontal else "y"))
        key_axis = str(trace.get("yaxis" if horizontal else "xaxis") or
                       ("y" if horizontal else "x"))
        written = _axis_format(layout, value_axis)
        name = toolbar._series_name(trace, index, layout, value_axis)
        for column in (name, f"{name} (upper)", f"{name} (lower)"):
            formats.setdefault(column, written)
        for axis in (value_axis, key_axis):  # a cloud of points: columns named by axes
            title = toolbar._title(layout, axis)
            if title:
                formats.setdefault(title, _axis_format(layout, axis))
        colorbar = trace.get("colorbar") if isinstance(trace.get("colorbar"), dict) else {}
        if "%" in str(colorbar.get("tickformat") or ""):
            formats.setdefault(str(trace.get("name") or "value"), ("", "", True))
    return formats


def _number(value: float, written, locale) -> str:
    prefix, suffix, percent = written or ("", "", False)
    if percent:
        return format_number(value * 100, 1, locale) + "%"
    whole = float(value).is_integer()
    decimals = 0 if whole or abs(value) >= 1000 else 2
    text = format_number(value, decimals, locale)
    if prefix or suffix:
        sign = text[:1] if text[:1] == "−" else ""
        return f"{sign}{prefix}{text[len(sign):]}{suffix}"
    return text


def _write(value, written, locale, place: bool = False) -> str:
    if value is None or value != value:  # NaN and pandas' NA
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)) or hasattr(value, "__float__") \
            and not isinstance(value, str):
        return _number(float(value), written, locale)
    text = str(value)
    if _DAY.match(text):
        return format_date(text, locale)
    if place:
        return _place(text)
    return text


def _count(number: int, one: str, many: str) -> str:
    return f"{number:,} {one if number == 1 else many}"


def _summary(traces: list[dict], frame, formats: dict, header: list[str],
             rows: list[list[str]], locale, places: list) -> str:
    """"Line chart, 365 rows by date, from 1 Jan 2025 to 31 Dec 2025; Revenue from £12 to
    £4,310." — the kind, the size, the key's span and the first number column's range."""
    kind = str(traces[0].get("type") or "scatter")
    if kind in ("scatter", "scattergl"):
        mode = str(traces[0].get("mode") or "lines")
        kind_text = "Line chart" if "lines" in mode else "Scatter plot"
    else:
        kind_text = _KINDS.get(kind, "Chart")
    total = len(frame)
    parts = [f"{kind_text}, {_count(total, 'row', 'rows')} by {header[0]}"]
    first_key, last_key = frame.iloc[0, 0], frame.iloc[-1, 0]
    if isinstance(first_key, str) and _DAY.match(first_key) and total > 1:
        parts[0] += (f", from {_write(first_key, None, locale)} to "
                     f"{_write(last_key, None, locale)}")
    numbers = [name for name in frame.columns[1:]
               if str(frame[name].dtype) in ("Int64", "float64", "int64")]
    if numbers:
        column = numbers[0]
        values = frame[column].dropna()
        if len(values):
            low, high = values.min(), values.max()
            low_text = _write(low, formats.get(column), locale)
            high_text = _write(high, formats.get(column), locale)
            span = (f"{column} {high_text}" if low == high
                    else f"{column} from {low_text} to {high_text}")
            parts.append(span)
    return "; ".join(parts) + "."


# ------------------------------------------------------------------ the components
def alt_id(graph_id):
    """The id of the text alternative of the graph ``graph_id`` (a text or a pattern)."""
    if isinstance(graph_id, dict):
        return {**graph_id, "type": f"{graph_id.get('type', '')}{ALT_SUFFIX}"}
    return f"{graph_id}{ALT_SUFFIX}"


def dom_id(graph_id, suffix: str) -> str:
    """A plain element id derived from ``graph_id`` (``aria-labelledby`` names ids)."""
    if isinstance(graph_id, dict):   # its type first: it carries the page's prefix
        graph_id = "-".join([str(graph_id.get("type", ""))] + [
            str(graph_id[key]) for key in sorted(graph_id) if key != "type"])
    return re.sub(r"[^A-Za-z0-9_-]+", "-", str(graph_id)) + suffix


def render(text: ChartText | None, graph_id, title: str | None = None) -> list:
    """The children of a text alternative: its summary (after ``title`` when given),
    then its table (a caption says when it lists only the first rows). The table is one
    component holding its HTML (``table_html``), not a component per cell: a year of days
    as ~1,500 components cost Dash's renderer ~0.3 s of the browser's time per redraw."""
    if text is None:
        return []
    summary = html.P(f"{title}: {text.summary}" if title else text.summary,
                     id=dom_id(graph_id, "-summary"))
    if not text.rows:
        return [summary]
    return [summary, dcc.Markdown(table_html(text), dangerously_allow_html=True,
                                  className="chart-table")]


def table_html(text: ChartText) -> str:
    """The table of ``text`` as HTML, every value escaped: a caption, a header row of
    column headers, then one row per point headed by its key. On one line: Markdown takes
    an HTML block up to the first blank line and leaves its content as it is."""
    caption = ("The chart's numbers" if not text.capped else
               f"The chart's numbers: the first {len(text.rows):,} of {text.total:,} rows")
    head = "".join(f'<th scope="col">{escape(name)}</th>' for name in text.header)
    body = "".join(
        f'<tr><th scope="row">{escape(row[0])}</th>'
        + "".join(f"<td>{escape(cell)}</td>" for cell in row[1:]) + "</tr>"
        for row in text.rows)
    return (f"<table><caption>{escape(caption)}</caption><thead><tr>{head}</tr></thead>"
            f"<tbody>{body}</tbody></table>")


def labelled(graph_id, graph, *, figure=None, locale=None, title_id: str | None = None,
             title: str | None = None, image: bool = True) -> html.Div:
    """``graph`` (a ``dcc.Graph``, perhaps in a ``dcc.Loading``) in a box named for
    screen readers by its title (the element ``title_id``, or the text ``title``) and
    the summary, with the visually hidden table of its numbers beside it: filled now
    from ``figure`` when the graph is drawn with one (a dashboard tile), else by the
    callback ``register_callbacks`` adds. A map one clicks (``image`` false) is a named
    group instead of an image, so that its countries stay reachable."""
    names = " ".join(filter(None, [title_id, dom_id(graph_id, "-summary")]))
    text = figure_text(figure, locale) if figure is not None else None
    return html.Div([
        html.Div(graph, role="img" if image else "group", **{"aria-labelledby": names}),
        html.Div(render(text, graph_id, title), id=alt_id(graph_id),
                 className="visually-hidden chart-text"),
    ], className="chart-box")


# ------------------------------------------------------------------ the callbacks
def figure_outputs(callback_ids, prop: str = "figure") -> list:
    """The graph ids (texts, or patterns with MATCH) whose ``prop`` (a graph's figure, a
    map layer's hideout) one of the callbacks ``callback_ids`` (Dash's "id.prop" or
    "..a.p...b.q.." keys) draws."""
    found = {}
    for key in callback_ids:
        parts = split_callback_id(key)
        for part in parts if isinstance(parts, list) else [parts]:
            if part["property"] != prop:
                continue
            raw = part["id"]
            if raw.startswith("{"):
                pattern = json.loads(raw)
                graph = {name: (MATCH if isinstance(value, list) else value)
                         for name, value in pattern.items()}
                found[json.dumps(pattern, sort_keys=True)] = graph
            else:
                found[raw] = raw
    return list(found.values())


def register_callbacks(app: dash.Dash) -> None:
    """Every callback that draws a graph's figure (or a map layer's values) sends, in the
    same answer, the text alternative of what it drew (Dash's side updates, as
    ``dash.set_props`` sends them): no second request per chart that would upload the
    figure again and keep the page busy one more round trip after the chart is drawn."""
    from dash import _callback
    for callback_map in (_callback.GLOBAL_CALLBACK_MAP, app.callback_map):
        for key, entry in callback_map.items():
            if not (figure_outputs([key]) or figure_outputs([key], "hideout")):
                continue
            if not getattr(entry["callback"], "_with_chart_text", False):
                entry["callback"] = _with_text(entry["callback"])


def _with_text(answer: Callable) -> Callable:
    """``answer`` (Dash's wrapped callback, which returns the JSON answer) with the text
    alternatives of the figures and map values in it added as side updates."""
    @functools.wraps(answer)
    def with_text(*args, **kwargs):
        body = answer(*args, **kwargs)
        if not isinstance(body, str):
            return body
        try:
            return add_text(body)
        except Exception:  # the chart is drawn without its table rather than not at all
            log.exception("no text alternative for a chart")
            return body
    with_text._with_chart_text = True
    return with_text


def add_text(body: str) -> str:
    """A callback's JSON answer with, for each figure (or map layer ``hideout``) in it, the
    children of its text alternative (``alt_id``) as a side update."""
    answer = json.loads(body)
    texts = {}
    for key, props in (answer.get("response") or {}).items():
        if not isinstance(props, dict) or not ("figure" in props or "hideout" in props):
            continue
        graph = json.loads(key) if key.startswith("{") else key
        text = (figure_text(props["figure"], _locale()) if "figure" in props
                else _map_text(props["hideout"]))
        texts[stringify_id(alt_id(graph))] = {"children": render(text, graph)}
    if not texts:
        return body
    answer.setdefault("sideUpdate", {}).update(texts)
    return to_json(answer)


def _locale():
    from webapp.dashboard import context
    return context.currency()


def _map_text(hideout) -> ChartText:
    """A map layer's table from its ``hideout`` ({"values": {code: net revenue}})."""
    values = (hideout or {}).get("values") if isinstance(hideout, dict) else None
    values = {str(code): float(value) for code, value in (values or {}).items()
              if isinstance(value, (int, float))}
    return values_text(values, label="net revenue", locale=_locale())
