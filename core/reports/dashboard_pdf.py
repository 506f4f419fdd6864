"""A dashboard as a PDF (ReportLab, the building blocks of ``core.reports.pdf``): its name,
the view it shows and whose scope, then each tile in order: a chart redrawn with
matplotlib from the figure's data, a KPI's value and change as text, a table as a table,
or the tile's empty state.

The tiles arrive as plain data (``TileContent``): the web layer computes them with the
panels the dashboard page draws (``webapp.dashboard.panels``), under the reader's scope,
and turns each Plotly figure into its traces' plain lists (``Trace``); this module only
draws. Chart kinds it redraws: lines and markers (scatter), bars (vertical, horizontal,
grouped or stacked), heatmaps, and treemaps (their top level as bars); anything else is
drawn as its first trace's values.
"""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.platypus import (KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table,
                                TableStyle)

from core.formatting import format_datetime
from core.reports import charts
from core.reports.pdf import (BOLD, CONTENT_WIDTH, FONT, HEADER_FILL, LINE, MUTED,
                              _chart, _register_fonts, _styles, _table)

#: Colours of successive traces (the dashboard's palette, then greys).
PALETTE = (charts.PRIMARY, charts.ACCENT, "#10b981", "#ef4444", "#8b5cf6", charts.SECONDARY)
#: The colour of notes marked on time charts.
MARK_COLOUR = "#b45309"
#: Bars of a treemap's top level shown at most.
TREEMAP_BARS = 15


@dataclass
class Trace:
    """One Plotly trace as plain lists: ``type`` scatter | bar | heatmap | treemap …"""
    type: str
    name: str | None = None
    x: list | None = None
    y: list | None = None
    z: list | None = None
    labels: list | None = None
    parents: list | None = None
    values: list | None = None
    orientation: str | None = None
    mode: str | None = None


@dataclass
class TileContent:
    """One tile to print: ``kind`` chart | kpi | table; ``message`` is its empty state."""
    title: str
    kind: str
    traces: list[Trace] = field(default_factory=list)
    barmode: str | None = None
    money_axis: str | None = None   # "x" | "y": the axis that carries money
    value: str | None = None
    change: str | None = None
    header: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    numeric: set[int] = field(default_factory=set)
    message: str | None = None
    note: str | None = None
    view: str | None = None          # "own filters: …" for a tile that has its own
    marks: list = field(default_factory=list)   # notes (``core.annotations.Note``) on a
    #                                             time chart's days, drawn as dotted lines


@dataclass
class DashboardContent:
    name: str
    view: str                        # the dashboard's filters and period in words
    scope: str                       # whose data: "all data" or the reader's countries
    reader: str
    currency: str
    tiles: list[TileContent]
    generated_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    notes: list[tuple[str, str]] = field(default_factory=list)   # (days, text), by day


def render_dashboard_pdf(content: DashboardContent, path: Path) -> Path:
    """Write the dashboard to ``path`` and return it."""
    _register_fonts()
    styles = _styles()
    story: list = [Paragraph(escape(content.name), styles["title"]),
                   Paragraph(escape(f"{content.view} · data seen by {content.reader}: "
                                    f"{content.scope}"), styles["body"]),
                   Paragraph(escape("Printed " + format_datetime(content.generated_at,
                                                                 content.currency) + " UTC"),
                             styles["small"]),
                   Spacer(1, 6 * mm)]
    if not content.tiles:
        story.append(Paragraph("This dashboard has no tiles yet.", styles["body"]))
    kpis: list[TileContent] = []
    for tile in content.tiles:
        if tile.kind == "kpi" and not tile.message:
            kpis.append(tile)
            continue
        if kpis:
            story += _kpi_block(kpis, styles)
            kpis = []
        story += _tile(tile, content.currency, styles)
    if kpis:
        story += _kpi_block(kpis, styles)
    if content.notes:
        story += [Spacer(1, 2 * mm), Paragraph("Notes", styles["h1"]),
                  *[Paragraph(f"<b>{escape(days)}</b>: {escape(text)}", styles["cell"])
                    for days, text in content.notes]]

    def footer(canvas, document) -> None:
        canvas.saveState()
        canvas.setFont(FONT, 7)
        canvas.setFillColor(MUTED)
        canvas.drawString(18 * mm, 10 * mm, f"Shoplens · {content.name}")
        canvas.drawRightString(A4[0] - 18 * mm, 10 * mm, f"page {document.page}")
        canvas.restoreState()

    partial = path.with_suffix(".part")
    document = SimpleDocTemplate(str(partial), pagesize=A4, leftMargin=18 * mm,
                                 rightMargin=18 * mm, topMargin=16 * mm, bottomMargin=18 * mm,
                                 title=content.name, author="Shoplens", subject=content.view)
    document.build(story, onFirstPage=footer, onLaterPages=footer)
    partial.replace(path)
    return path


def _heading(tile: TileContent, styles) -> list:
    flow = [Paragraph(escape(tile.title), styles["h1"])]
    if tile.view:
        flow.append(Paragraph(escape(tile.view), styles["small"]))
    return flow


def _kpi_block(tiles: list[TileContent], styles) -> list:
    """Consecutive KPI tiles as one row of cards (four to a row)."""
    flow = []
    for start in range(0, len(tiles), 4):
        group = tiles[start:start + 4]
        cells = [[Paragraph(escape(tile.title), styles["small"]) for tile in group],
                 [Paragraph(f"<b>{escape(tile.value or 'n/a')}</b>", styles["body"])
                  for tile in group],
                 [Paragraph(escape(tile.change or ""), styles["small"]) for tile in group]]
        table = Table(cells, colWidths=[CONTENT_WIDTH / 4] * len(group))
        table.setStyle(TableStyle([("BOX", (0, 0), (-1, -1), 0.5, LINE),
                                   ("INNERGRID", (0, 0), (-1, -1), 0.3, LINE),
                                   ("BACKGROUND", (0, 0), (-1, -1), HEADER_FILL),
                                   ("FONTNAME", (0, 0), (-1, -1), BOLD),
                                   ("TOPPADDING", (0, 0), (-1, -1), 4)]))
        flow += [table, Spacer(1, 3 * mm)]
        for tile in group:
            if tile.view:
                flow.append(Paragraph(escape(f"{tile.title}: {tile.view}"), styles["small"]))
    return flow


def _tile(tile: TileContent, currency: str, styles) -> list:
    flow = _heading(tile, styles)
    if tile.message:
        flow.append(Paragraph(escape(tile.message), styles["small"]))
    elif tile.kind == "kpi":
        flow.append(Paragraph(f"<b>{escape(tile.value or 'n/a')}</b> "
                              f"{escape(tile.change or '')}", styles["body"]))
    elif tile.kind == "table":
        widths = [None] * max(1, len(tile.header))
        flow.append(_table(tile.header, tile.rows, styles, widths, tile.numeric))
    else:
        flow.append(_chart(chart_png(tile, currency), styles, "Nothing to draw."))
    if tile.note:
        flow.append(Paragraph(escape(tile.note), styles["small"]))
    flow.append(Spacer(1, 4 * mm))
    return [KeepTogether(flow[:3]), *flow[3:]] if tile.kind == "chart" else flow


# ----------------------------------------------------------------- charts
def chart_png(tile: TileContent, currency: str) -> bytes | None:
    """The tile's traces redrawn with matplotlib, or None when there is nothing to draw."""
    traces = [trace for trace in tile.traces if _has_data(trace)]
    if not traces:
        return None
    first = traces[0]
    if first.type == "treemap":  # its values may be money or counts: plain numbers
        return _treemap(first, None)
    if first.type == "heatmap":
        return _heatmap(first)
    figure, axes = charts.figure_and_axes()
    categorical = {}
    bars = [trace for trace in traces if trace.type == "bar"]
    width = 0.8 / max(1, len(bars)) if tile.barmode == "group" else 0.8
    stacked: dict = {}
    for index, trace in enumerate(traces):
        colour = PALETTE[index % len(PALETTE)]
        horizontal = trace.orientation == "h"
        keys, numbers = (trace.y, trace.x) if horizontal else (trace.x, trace.y)
        keys = list(keys if keys is not None else range(len(numbers or [])))
        numbers = [_number(value) for value in numbers or []]
        if trace.type == "bar":
            positions = [categorical.setdefault(str(key), len(categorical)) for key in keys]
            offset = (bars.index(trace) - (len(bars) - 1) / 2) * width \
                if tile.barmode == "group" else 0.0
            where = [position + offset for position in positions]
            base = [stacked.get(p, 0.0) for p in positions] if tile.barmode == "stack" \
                else None
            if horizontal:
                axes.barh(where, numbers, height=width, color=colour, label=trace.name,
                          left=base)
            else:
                axes.bar(where, numbers, width=width, color=colour, label=trace.name,
                         bottom=base)
            if tile.barmode == "stack":
                for p, n in zip(positions, numbers):
                    stacked[p] = stacked.get(p, 0.0) + (0.0 if math.isnan(n) else n)
        else:
            if keys and isinstance(keys[0], str) and not _looks_like_date(keys[0]):
                keys = [categorical.setdefault(key, len(categorical)) for key in keys]
            else:
                keys = [_date_or_value(key) for key in keys]
            style = "o" if (trace.mode or "lines") == "markers" else "-"
            axes.plot(keys, numbers, style, color=colour, label=trace.name, linewidth=1.3,
                      markersize=3)
    if not categorical:
        _mark_notes(axes, tile.marks)
    if categorical:
        labels = [charts._short(label) for label in categorical]
        ticks = list(range(len(labels)))
        if bars and bars[0].orientation == "h":
            axes.set_yticks(ticks, labels)
            axes.invert_yaxis()
            axes.grid(axis="x", color="#e2e8f0", linewidth=0.6)
            axes.grid(axis="y", visible=False)
        else:
            axes.set_xticks(ticks, labels, rotation=45 if len(labels) > 6 else 0,
                            ha="right" if len(labels) > 6 else "center")
    else:
        figure.autofmt_xdate()
    if tile.money_axis:
        axis = axes.xaxis if tile.money_axis == "x" else axes.yaxis
        axis.set_major_formatter(charts.money_axis(currency))
    if sum(1 for trace in traces if trace.name) > 1:
        axes.legend(fontsize=7, frameon=False)
    return charts._png(figure)


def _mark_notes(axes, notes) -> None:
    """Each note as a dotted line on its first day (a shaded band over a range), labelled
    with the start of its text, as the time charts on screen show them."""
    for note in notes:
        start = dt.datetime.combine(note.start, dt.time())
        if note.end is not None and note.end != note.start:
            axes.axvspan(start, dt.datetime.combine(note.end, dt.time()), color=MARK_COLOUR,
                         alpha=0.12, linewidth=0)
        axes.axvline(start, color=MARK_COLOUR, linestyle=":", linewidth=1)
        axes.annotate(charts._short(note.text), (start, 1), xycoords=("data", "axes fraction"),
                      xytext=(2, -8), textcoords="offset points", fontsize=6,
                      color=MARK_COLOUR)


def _treemap(trace: Trace, currency: str | None) -> bytes | None:
    """A treemap's top level (the labels whose parent is the root) as horizontal bars."""
    labels, parents = list(trace.labels or []), list(trace.parents or [""] * len(trace.labels))
    values = [_number(value) for value in trace.values or []]
    roots = {parent for parent in parents} - set(labels)
    top = [(label, value) for label, parent, value in zip(labels, parents, values)
           if parent in roots and not math.isnan(value)]
    top.sort(key=lambda item: -item[1])
    top = top[:TREEMAP_BARS]
    if not top:
        return None
    figure, axes = charts.figure_and_axes(height=max(1.6, 0.24 * len(top) + 0.6))
    axes.grid(axis="x", color="#e2e8f0", linewidth=0.6)
    axes.grid(axis="y", visible=False)
    positions = list(range(len(top)))[::-1]
    axes.barh(positions, [value for _label, value in top], color=charts.PRIMARY)
    axes.set_yticks(positions, [charts._short(str(label)) for label, _value in top])
    if currency:
        axes.xaxis.set_major_formatter(charts.money_axis(currency))
    return charts._png(figure)


def _heatmap(trace: Trace) -> bytes | None:
    rows = [[_number(value) for value in row] for row in trace.z or []]
    if not rows or not rows[0]:
        return None
    figure, axes = charts.figure_and_axes(height=max(2.0, 0.22 * len(rows) + 0.8))
    axes.grid(visible=False)
    image = axes.imshow(rows, aspect="auto", cmap="Blues")
    if trace.x is not None:
        axes.set_xticks(range(len(trace.x)), [str(v) for v in trace.x], fontsize=6)
    if trace.y is not None:
        axes.set_yticks(range(len(trace.y)), [str(v) for v in trace.y], fontsize=6)
    figure.colorbar(image, ax=axes, fraction=0.03)
    return charts._png(figure)


def _has_data(trace: Trace) -> bool:
    return bool(trace.x or trace.y or trace.z or trace.values)


def _number(value) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return math.nan
    return number


def _looks_like_date(text: str) -> bool:
    try:
        dt.date.fromisoformat(text[:10])
    except ValueError:
        return False
    return True


def _date_or_value(value):
    if isinstance(value, str) and _looks_like_date(value):
        return dt.datetime.fromisoformat(value[:19])
    return value
