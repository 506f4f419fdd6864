"""What a dashboard's PDF prints, built in core so that the web process (the synchronous
``GET /api/v1/dashboards/{id}/pdf``) and a worker (a schedule's ``dashboard_report`` job)
print it the same way.

``print_content(dashboard, reader, scope, warehouse)`` computes every tile with its panel
(``core.panels``) under the READER's data scope and role, with the dashboard's filters and
period or the tile's own, and turns each into the renderer's plain ``TileContent``: a
chart's frame as the traces ``core.reports.dashboard_pdf`` redraws with matplotlib, a KPI's
value and change, a table's rows, or the tile's empty state ("This tile needs the analyst
role", as on screen).
"""
from __future__ import annotations

import datetime as dt

import pandas as pd

from analytics.filters import Scope
from analytics.warehouse import Warehouse
from sqlalchemy import orm as orm_session

from core import annotations, dashboards, panels
from core.formatting import format_date, format_day_range
from core.orm import Dashboard, User
from core.reports.dashboard_pdf import DashboardContent, TileContent, Trace

#: The words of a view without filters or period (the analytics' default period).
DEFAULT_VIEW = "the last 30 days of the data"


def describe_view(filters: str, period_name: str | None,
                  default: str = DEFAULT_VIEW) -> str:
    """"Last 90 days, country=FR · channel=Web" for a dashboard's or a tile's view."""
    parts = [dashboards.PERIOD_LABELS.get(period_name, period_name)] if period_name else []
    if filters:
        parts.append(filters.replace("&", " · "))
    return ", ".join(parts) or default


def tile_content(tile, reader: User, scope: Scope, warehouse: Warehouse,
                 currency: str) -> panels.Content:
    """One tile's content for ``reader`` under ``scope``: its panel's, or why it shows
    nothing (a panel that no longer exists, one above the reader's role)."""
    return _tile_view_and_content(tile, reader, scope, warehouse, currency)[1]


def _tile_view_and_content(tile, reader: User, scope: Scope, warehouse: Warehouse,
                           currency: str) -> tuple[panels.PanelView | None, panels.Content]:
    panel = panels.PANELS.get(tile.panel)
    if panel is None:
        return None, panels.Content("chart", message=f"The panel {tile.panel!r} no longer "
                                                     "exists.")
    if not reader.has_role(panel.role):
        return None, panels.Content(panel.kind, message=f"This tile needs the {panel.role} "
                                                        "role.")
    filters, period_name = dashboards.tile_view(tile.dashboard, tile)
    try:
        view = panels.make_view(warehouse, filters, scope, period_name=period_name,
                                currency=currency)
    except panels.PanelUnavailable as exc:
        return None, panels.Content(panel.kind, message=str(exc))
    return view, panel.content(view)


def print_content(dashboard: Dashboard, reader: User, scope: Scope, warehouse: Warehouse,
                  currency: str = "£") -> DashboardContent:
    """What the PDF of ``dashboard`` shows ``reader`` (whose data scope is ``scope``): the
    tiles, the days the dashboard's own view covers, and the notes on the timeline (
    ``core.annotations``) that the reader's scope may see and that touch a tile's days,
    listed at the end and marked on the time charts they fall on."""
    session = orm_session.object_session(dashboard)
    tiles: list[TileContent] = []
    windows: list[tuple[dt.date, dt.date]] = []
    days = ""
    for tile in sorted(dashboard.tiles, key=lambda item: item.position):
        panel = panels.PANELS.get(tile.panel)
        title = tile.title or (panel.title if panel else tile.panel)
        own = None
        view, content = _tile_view_and_content(tile, reader, scope, warehouse, currency)
        window = _window(view)
        if not tile.follow_dashboard:
            own = f"own filters: {describe_view(tile.filters or '', tile.period)}"
            if window:
                own += f" ({format_day_range(*window, currency)})"
        elif window and not days:
            days = format_day_range(*window, currency)
        printed = printable(title, content, own)
        if window:
            windows.append(window)
            if content.chart is not None and content.chart.figure == "trend":
                printed.marks = list(_notes(session, scope, *window))
        tiles.append(printed)
    view_text = _view_text(dashboard.filters or "", dashboard.period, days)
    notes = ()
    if windows:
        notes = _notes(session, scope, min(w[0] for w in windows), max(w[1] for w in windows))
    return DashboardContent(
        name=dashboard.name, view=view_text,
        scope=str(scope), reader=reader.name or reader.email, currency=currency, tiles=tiles,
        notes=[(_note_days(note, currency), note.text) for note in notes])


def _view_text(filters: str, period_name: str | None, days: str) -> str:
    """"Last 90 days (3 Oct – 31 Dec 2025), country=FR": the dashboard's view with the days
    it covers in words instead of its ``start=``/``end=`` filters."""
    if not days:
        return describe_view(filters, period_name)
    others = "&".join(part for part in filters.split("&")
                      if part and part.split("=", 1)[0] not in ("start", "end"))
    if period_name:
        return describe_view(others, period_name).replace(
            dashboards.PERIOD_LABELS.get(period_name, period_name),
            f"{dashboards.PERIOD_LABELS.get(period_name, period_name)} ({days})", 1)
    return ", ".join([days] + ([others.replace("&", " · ")] if others else []))


def _window(view: panels.PanelView | None) -> tuple[dt.date, dt.date] | None:
    if view is None or view.filters.start is None or view.filters.end is None:
        return None
    return view.filters.start, view.filters.end


def _notes(session, scope: Scope, start: dt.date, end: dt.date) -> tuple:
    """The notes touching ``start``–``end`` that ``scope`` may see (none without a
    session: a dashboard built outside the app database has no notes)."""
    if session is None:
        return ()
    return tuple(annotations.notes(session, scope, start, end))


def _note_days(note, currency) -> str:
    if note.end is None or note.end == note.start:
        return format_date(note.start, currency)
    return format_day_range(note.start, note.end, currency)


def printable(title: str, content: panels.Content, view_text: str | None = None
              ) -> TileContent:
    """``content`` as the PDF renderer's plain ``TileContent``."""
    tile = TileContent(title=title, kind=content.kind, message=content.message,
                       note=content.note, view=view_text, header=list(content.header),
                       rows=[list(row) for row in content.rows], numeric=set(content.numeric))
    if content.kpi:
        tile.value, tile.change = content.kpi["value"], content.kpi["change"]
    if content.chart is not None:
        tile.traces, tile.barmode, tile.money_axis = chart_traces(content.chart)
    return tile


# ----------------------------------------------------------------- charts as traces
def chart_traces(chart: panels.Chart) -> tuple[list[Trace], str | None, str | None]:
    """(traces, barmode, the axis carrying money) of ``chart``: the numbers the figure
    builder of the same name (``webapp.dashboard.figures``) draws on screen."""
    return _TRACES[chart.figure](chart.frame, **chart.options)


def _plain(values) -> list:
    out = []
    for item in (values.tolist() if hasattr(values, "tolist") else list(values)):
        if isinstance(item, (dt.date, pd.Timestamp)):
            out.append(item.isoformat())
        elif isinstance(item, float) and pd.isna(item):
            out.append(None)
        else:
            out.append(item)
    return out


def _trend(frame, *, x, y, last_year=None, currency=None, label="This period", **_):
    traces = [Trace("scatter", name=label, x=_plain(frame[x]),
                    y=_plain(frame[y].astype("float64")), mode="lines")]
    if last_year and last_year in frame and frame[last_year].notna().any():
        traces.append(Trace("scatter", name="Last year", x=_plain(frame[x]),
                            y=_plain(frame[last_year].astype("float64")), mode="lines"))
    return traces, None, "y" if currency else None


def _bars(frame, *, label, value, currency=None, horizontal=True, **_):
    labels, values = _plain(frame[label].astype(str)), _plain(frame[value])
    if horizontal:
        trace = Trace("bar", x=values, y=labels, orientation="h")
    else:
        trace = Trace("bar", x=labels, y=values, orientation="v")
    return [trace], None, ("x" if horizontal else "y") if currency else None


def _grouped_bars(frame, *, label, values, currency=None, **_):
    labels = _plain(frame[label].astype(str))
    return ([Trace("bar", name=name, x=labels, y=_plain(frame[column]))
             for column, name in values.items()], "group", "y" if currency else None)


def _treemap(frame, *, path, value, **_):
    """The treemap's top level (the PDF draws it as bars): ``value`` summed per
    ``path[0]``."""
    shown = frame[frame[value] > 0]
    top = shown.groupby(shown[path[0]].astype(object).where(shown[path[0]].notna(), "(none)")
                        .astype(str), sort=False)[value].sum()
    return ([Trace("treemap", labels=list(top.index), parents=[""] * len(top),
                   values=_plain(top))], None, None)


def _segment_treemap(frame, **_):
    shown = frame[frame["customers"] > 0]
    return ([Trace("treemap", labels=_plain(shown["segment"].astype(str)),
                   parents=[""] * len(shown), values=_plain(shown["customers"]))],
            None, None)


def _histogram(frame, *, start, end, count, currency=None, **_):
    centres = (frame[start] + frame[end]) / 2
    return ([Trace("bar", x=_plain(centres), y=_plain(frame[count]))], None,
            "x" if currency else None)


def _heatmap(matrix, **_):
    return ([Trace("heatmap", z=[_plain(row) for row in matrix.to_numpy(dtype="float64")],
                   x=[str(column) for column in matrix.columns],
                   y=[str(index) for index in matrix.index])], None, None)


_TRACES = {"trend": _trend, "bars": _bars, "grouped_bars": _grouped_bars,
           "treemap": _treemap, "segment_treemap": _segment_treemap,
           "histogram": _histogram, "heatmap": _heatmap}
