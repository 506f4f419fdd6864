"""Every chart of the dashboard: one template, one builder per kind of chart.

Builders take a DataFrame (columns named in each docstring) and return a ``go.Figure`` on
the ``shoplens`` template, so fonts, colours, margins and number formats (currency with
thousands separators) are the same everywhere. Money axes get the currency symbol as a
prefix; rates are shown as percentages. Backgrounds are transparent: the light/dark theme
of the page shows through (``assets/shoplens.css`` recolours text and grid lines in dark
mode), so callbacks never need to know the theme.
"""
from __future__ import annotations

import math
import textwrap
from urllib.parse import quote

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

from analytics import glossary
from core.panels import retention_range  # noqa: F401  (the heatmaps' colour range)
from core.formatting import Locale, as_locale, format_money

FONT = ('system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, '
        'sans-serif')
#: Brand colours first, then a colour-blind-safe sequence (Okabe–Ito based).
COLORWAY = ["#2563eb", "#f59e0b", "#10b981", "#ef4444", "#8b5cf6", "#0ea5e9", "#ec4899",
            "#84cc16", "#64748b", "#14b8a6", "#a855f7", "#f97316"]
PRIMARY = COLORWAY[0]
MUTED = "#94a3b8"
NEGATIVE = "#ef4444"
SEQUENTIAL = [[0.0, "#eff6ff"], [0.5, "#60a5fa"], [1.0, "#1e3a8a"]]
#: Passed to every dcc.Graph: no Plotly logo, and never a topojson download from a CDN.
#: Colour columns of ``bars`` that hold money (their colour scale gets the currency).
MONEY_COLOURS = frozenset({"profit", "revenue"})
GRAPH_CONFIG = {"displaylogo": False, "topojsonURL": "/assets/topojson/",
                "modeBarButtonsToRemove": ["select2d", "lasso2d", "autoScale2d"]}

pio.templates["shoplens"] = go.layout.Template(layout=go.Layout(
    font=dict(family=FONT, size=13, color="#334155"),
    colorway=COLORWAY,
    separators=".,",
    paper_bgcolor="rgba(0,0,0,0)",
    plot_bgcolor="rgba(0,0,0,0)",
    margin=dict(l=8, r=8, t=36, b=8),
    title=dict(font=dict(size=15), x=0, xanchor="left"),
    hoverlabel=dict(font=dict(family=FONT, size=12)),
    legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="left", x=0.0,
                bgcolor="rgba(0,0,0,0)"),
    xaxis=dict(gridcolor="rgba(148,163,184,0.25)", zeroline=False, automargin=True,
               linecolor="rgba(148,163,184,0.5)"),
    yaxis=dict(gridcolor="rgba(148,163,184,0.25)", zeroline=False, automargin=True,
               tickformat=",~s"),
    colorscale=dict(sequential=SEQUENTIAL),
))
TEMPLATE = "shoplens"


def money_format(currency: str, decimals: int = 0) -> tuple[str, str]:
    """(tickprefix, d3 format) for a money axis."""
    return currency, f",.{decimals}f"


def _base(title: str | None = None, height: int | None = None) -> go.Figure:
    figure = go.Figure()
    figure.update_layout(template=TEMPLATE, title_text=title, height=height)
    return figure


def _money_axis(figure: go.Figure, axis: str, currency: "Locale | str") -> None:
    locale = as_locale(currency)
    figure.update_layout({axis: dict(tickprefix=locale.money_prefix,
                                     ticksuffix=locale.money_suffix, tickformat=",.0f")},
                         separators=locale.plotly_separators)


#: Characters per line of an empty chart's message.
EMPTY_MESSAGE_WIDTH = 36


def empty_figure(message: str, height: int | None = 320) -> go.Figure:
    """A blank chart saying why it is blank ("No sales for these filters"). A long
    message is wrapped (a chart on a 390 px phone is ~40 characters wide; plotly never
    wraps an annotation, it clips it)."""
    figure = _base(height=height)
    text = "<br>".join(textwrap.wrap(message, EMPTY_MESSAGE_WIDTH)) or message
    figure.update_layout(xaxis=dict(visible=False), yaxis=dict(visible=False),
                         annotations=[dict(text=text, showarrow=False, x=0.5, y=0.5,
                                           xref="paper", yref="paper",
                                           font=dict(size=15, color=MUTED))])
    return figure


def sparkline(values, *, width: int = 200, height: int = 48) -> str:
    """A tiny filled line of ``values`` (in order, NaN as 0) for a KPI card, as an SVG
    ``data:`` URI for an ``<img>``: no axes, no hover, and no plotly instance to start
    (four plotly sparklines cost the overview ~0.4 s of rendering). The lowest point sits
    on the bottom edge only when it is 0: the line shows level, not just shape."""
    numbers = [0.0 if pd.isna(value) or not math.isfinite(float(value)) else float(value)
               for value in values]
    if not numbers:
        numbers = [0.0]
    if len(numbers) == 1:
        numbers = numbers * 2
    low, high = min(0.0, *numbers), max(0.0, *numbers)
    span = (high - low) or 1.0
    step = width / (len(numbers) - 1)
    points = [(round(index * step, 1), round(height - 1 - (value - low) / span * (height - 2), 1))
              for index, value in enumerate(numbers)]
    line = " ".join(f"{x},{y}" for x, y in points)
    baseline = round(height - 1 - (0.0 - low) / span * (height - 2), 1)
    area = f"0,{baseline} {line} {width},{baseline}"
    svg = (f"<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {width} {height}' "
           f"preserveAspectRatio='none'>"
           f"<polygon points='{area}' fill='{PRIMARY}' fill-opacity='0.12'/>"
           f"<polyline points='{line}' fill='none' stroke='{PRIMARY}' stroke-width='1.5' "
           "vector-effect='non-scaling-stroke'/></svg>")
    return "data:image/svg+xml;charset=utf-8," + quote(svg, safe="/:=' ,.")


def trend(frame: pd.DataFrame, *, x: str, y: str, last_year: str | None = None,
          currency: str | None = None, title: str | None = None,
          label: str = "This period", height: int = 340, comparison: str | None = None,
          comparison_label: str = "Previous period", notes=()) -> go.Figure:
    """A line of ``y`` over the period ``x``, with a dashed comparison line when given:
    ``comparison`` (a column of ``analytics.series``' comparison shifted onto the period,
    named ``comparison_label``: "Previous period", "Last year", "Comparison") or, for
    older callers, ``last_year``. Money when ``currency`` is given.

    A bucket the frame marks ``partial`` (a week or month the period or the data only
    partly covers, with ``days_held`` of ``bucket_days``) is drawn dotted with an open
    marker saying "partial: 9 of 31 days", not as a fall off a cliff. ``notes``
    (``core.annotations.Note``) are drawn by ``add_notes``."""
    figure = _base(title, height)
    number = ",.0f" if currency else ",.4~g"
    prefix = str(currency or "")
    partial = (frame["partial"].to_numpy(dtype=bool) if "partial" in frame
               else np.zeros(len(frame), dtype=bool))
    values = frame[y].astype("float64").to_numpy()
    whole = np.where(partial, np.nan, values)
    figure.add_scatter(x=frame[x], y=whole, name=label, mode="lines",
                       line=dict(width=2.5, color=PRIMARY), connectgaps=False,
                       hovertemplate=f"%{{x|%d %b %Y}}<br>{prefix}%{{y:{number}}}<extra></extra>")
    if partial.any():
        _partial_buckets(figure, frame, x, values, partial, prefix, number)
    compared, name = ((comparison, comparison_label) if comparison else (last_year, "Last year"))
    if compared and compared in frame and frame[compared].notna().any():
        figure.add_scatter(x=frame[x], y=frame[compared].astype("float64"), name=name,
                           mode="lines", line=dict(width=1.5, color=MUTED, dash="dash"),
                           hovertemplate=f"{name.lower()}<br>{prefix}%{{y:{number}}}"
                                         "<extra></extra>")
    if currency:
        _money_axis(figure, "yaxis", currency)
    figure.update_layout(hovermode="x unified")
    add_notes(figure, notes)
    return figure


def _partial_buckets(figure: go.Figure, frame: pd.DataFrame, x: str, values: np.ndarray,
                     partial: np.ndarray, prefix: str, number: str) -> None:
    """The dotted segments reaching the partial buckets from their whole neighbours, and
    an open marker on each saying how many of its days the data holds."""
    reach = partial.copy()
    reach[:-1] |= partial[1:]
    reach[1:] |= partial[:-1]
    figure.add_scatter(x=frame[x], y=np.where(reach, values, np.nan), mode="lines",
                       name="Partial", showlegend=False, hoverinfo="skip", connectgaps=False,
                       line=dict(width=2, color=PRIMARY, dash="dot"))
    held = frame["days_held"] if "days_held" in frame else pd.Series(0, index=frame.index)
    days = frame["bucket_days"] if "bucket_days" in frame else pd.Series(0, index=frame.index)
    text = [f"partial: {int(h)} of {int(d)} days" for h, d in zip(held, days)]
    figure.add_scatter(x=frame[x][partial], y=values[partial], mode="markers",
                       name="Partial bucket", showlegend=False,
                       marker=dict(color=PRIMARY, size=9, symbol="circle-open",
                                   line=dict(width=2)),
                       text=[t for t, p in zip(text, partial) if p],
                       hovertemplate=f"%{{x|%d %b %Y}}<br>{prefix}%{{y:{number}}}"
                                     "<br>%{text}<extra></extra>")


#: Characters of a note's text written on a chart (the whole text is on hover).
NOTE_LABEL_LENGTH = 24
NOTE_COLOR = "#8b5cf6"


def add_notes(figure: go.Figure, notes) -> go.Figure:
    """Draw notes on the timeline (``core.annotations.Note``: start, end, text) on a time
    figure: a vertical line for a day, a shaded band for a range, and the start of the
    text at the top, all of it on hover. Every time chart calls this."""
    for note in notes:
        start = pd.Timestamp(note.start)
        if note.end is not None and note.end != note.start:
            figure.add_shape(type="rect", xref="x", yref="paper", x0=start,
                             x1=pd.Timestamp(note.end) + pd.Timedelta(hours=23, minutes=59),
                             y0=0, y1=1, line=dict(width=0), fillcolor=NOTE_COLOR,
                             opacity=0.10, layer="below")
        else:
            figure.add_shape(type="line", xref="x", yref="paper", x0=start, x1=start, y0=0,
                             y1=1, line=dict(color=NOTE_COLOR, width=1.2, dash="dot"))
        label = note.text if len(note.text) <= NOTE_LABEL_LENGTH else \
            note.text[:NOTE_LABEL_LENGTH - 1] + "…"
        figure.add_annotation(x=start, xref="x", y=1, yref="paper", yanchor="bottom",
                              xanchor="left", showarrow=False, text=_escape(label),
                              hovertext=_escape(f"{note.dates_text}: {note.text}"),
                              font=dict(size=11, color=NOTE_COLOR), name="note")
    return figure


def _escape(text: str) -> str:
    """A note's text as plotly shows it: its HTML-like markup written out, not applied."""
    return (str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))


#: Characters of a bar's name on its axis at most (its hover says it whole).
AXIS_LABEL_WIDTH = 22


def short_label(text: str, width: int = AXIS_LABEL_WIDTH) -> str:
    """``text`` cut to ``width`` characters with "…" when longer."""
    return text if len(text) <= width else text[:width - 1].rstrip() + "…"


def bars(frame: pd.DataFrame, *, label: str, value: str, currency: str | None = None,
         title: str | None = None, key: str | None = None, horizontal: bool = True,
         color: str | None = None, height: int | None = None) -> go.Figure:
    """Bars of ``value`` per ``label`` in the frame's order (largest first at the top when
    horizontal). ``key`` goes into customdata: clicking a bar reads it to narrow filters.
    ``color`` names a column with a second measure (e.g. profit) shown as a colour scale;
    bars are one colour when that column has no values."""
    rows = len(frame)
    figure = _base(title, height or max(240, 28 * rows + 80))
    prefix = str(currency or "")
    number = ",.0f" if currency else ",.4~g"
    marker = dict(color=PRIMARY)
    if color and color in frame and frame[color].notna().any():
        # the colour encodes a value: its scale is shown, titled with the measure
        marker = dict(color=frame[color], colorscale=SEQUENTIAL, showscale=True,
                      colorbar=dict(title=dict(text=color), thickness=10,
                                    tickprefix=prefix if color in MONEY_COLOURS else ""))
    labels = frame[label].astype(str)
    values = frame[value]
    figure.add_bar(
        x=values if horizontal else labels, y=labels if horizontal else values,
        orientation="h" if horizontal else "v", marker=marker,
        customdata=frame[key] if key else None,
        hovertemplate=(f"%{{{'y' if horizontal else 'x'}}}<br>{prefix}"
                       f"%{{{'x' if horizontal else 'y'}:{number}}}<extra></extra>"))
    if horizontal:
        # a long name is cut on the axis (on a phone it would push the bars off the
        # chart); the hover and the chart's table keep it whole
        figure.update_yaxes(autorange="reversed", type="category", tickvals=list(labels),
                            ticktext=[short_label(text) for text in labels])
        if currency:
            _money_axis(figure, "xaxis", currency)
        else:
            figure.update_xaxes(tickformat=",~s")
    elif currency:
        _money_axis(figure, "yaxis", currency)
    return figure


def grouped_bars(frame: pd.DataFrame, *, label: str, values: dict[str, str],
                 currency: str | None = None, title: str | None = None,
                 key: str | None = None, height: int = 360) -> go.Figure:
    """Side-by-side bars, one series per ``values`` entry (column → legend name)."""
    figure = _base(title, height)
    prefix = str(currency or "")
    for column, name in values.items():
        figure.add_bar(x=frame[label].astype(str), y=frame[column], name=name,
                       customdata=frame[key] if key else None,
                       hovertemplate=f"%{{x}}<br>{name}: {prefix}%{{y:,.0f}}<extra></extra>")
    figure.update_layout(barmode="group")
    if currency:
        _money_axis(figure, "yaxis", currency)
    return figure


def treemap(frame: pd.DataFrame, *, path: list[str], value: str,
            currency: str | None = None, title: str | None = None,
            height: int = 420) -> go.Figure:
    """A treemap over the hierarchy ``path`` (e.g. country → city → category) sized by
    ``value`` (``hierarchy`` builds the nodes; a missing key is "(none)"). Each node's id
    is its path joined with "/", so a click can be decoded."""
    figure = _base(title, height)
    data = frame[frame[value] > 0].copy()
    data[path] = data[path].astype(object).where(data[path].notna(), "(none)").astype(str)
    data = fold_leaves(data, path, value)
    prefix = str(currency or "")
    figure.add_treemap(**hierarchy(data, path, value), branchvalues="total", maxdepth=2,
                       hovertemplate=f"%{{label}}<br>{prefix}%{{value:,.0f}}"
                                     f"<br>%{{percentRoot:.1%}} of all<extra></extra>",
                       texttemplate=f"%{{label}}<br>{prefix}%{{value:,.0f}}",
                       root_color="rgba(0,0,0,0)")
    figure.update_layout(margin=dict(l=0, r=0, t=36 if title else 0, b=0),
                         treemapcolorway=COLORWAY)
    return figure


def hierarchy(data: pd.DataFrame, path: list[str], value: str) -> dict[str, list]:
    """The nodes of a treemap over ``path`` as plotly express builds them (ids, labels,
    parents, values): the rows of ``data`` as leaves, in their order (rows of the same
    leaf add up), then each level's parents in order of appearance up to the roots; an id
    is its path joined with "/", a parent's value the sum of its leaves'. Built directly:
    ``px.treemap`` took ~40 ms of pandas group-bys per geography redraw for the same
    lists."""
    nodes: dict[str, list] = {"ids": [], "labels": [], "parents": [], "values": []}
    keys = data[path].astype(str)
    for depth in range(len(path), 0, -1):
        grouped = data[value].groupby([keys[c] for c in path[:depth]], sort=False).sum()
        names, totals = grouped.index.to_frame(index=False), grouped
        ids = names.iloc[:, 0].to_numpy(dtype=object)
        for column in range(1, depth):
            ids = ids + "/" + names.iloc[:, column].to_numpy(dtype=object)
        parent_ids = ids if depth == 1 else names.iloc[:, 0].to_numpy(dtype=object)
        for column in range(1, depth - 1):
            parent_ids = parent_ids + "/" + names.iloc[:, column].to_numpy(dtype=object)
        nodes["ids"] += list(ids)
        nodes["labels"] += list(names.iloc[:, depth - 1])
        nodes["parents"] += [""] * len(ids) if depth == 1 else list(parent_ids)
        nodes["values"] += [float(v) for v in totals]
    return nodes


#: Leaves a treemap draws at most: Plotly lays out every node, drawn or not (1,136 leaves
#: of country → city → category took 230 ms per draw in Chromium, 150 took 55 ms).
TREEMAP_LEAVES = 300
_PLURALS = {"category": "categories", "city": "cities", "country": "countries"}


def fold_leaves(data: pd.DataFrame, path: list[str], value: str,
                budget: int | None = None) -> pd.DataFrame:
    """``data`` (one row per leaf of ``path``) with, when it has more than ``budget``
    leaves, each parent's smallest leaves folded into one "Other <level>" leaf, keeping
    the largest ``k`` of every parent (``k`` as large as the budget allows, at least 1).
    Every parent keeps its exact total; only the deepest level is folded."""
    budget = TREEMAP_LEAVES if budget is None else budget
    if len(path) < 2 or len(data) <= budget:
        return data
    parents = path[:-1]
    groups = data.groupby(parents, sort=False).ngroups
    keep = max(1, budget // groups - 1)        # the kept leaves and one "Other" per parent
    ranked = data.sort_values([*parents, value], ascending=[True] * len(parents) + [False])
    by_parent = ranked.groupby(parents, sort=False)
    rank, size = by_parent.cumcount(), by_parent[value].transform("size")
    leaf = path[-1]
    # a parent with one leaf more than it keeps shows that leaf under its own name
    ranked[leaf] = ranked[leaf].where(
        (rank < keep) | (size <= keep + 1), f"Other {_PLURALS.get(leaf, leaf + ' values')}")
    return ranked.groupby(path, as_index=False, sort=False)[value].sum()


def segment_treemap(frame: pd.DataFrame, *, currency: str, title: str | None = None,
                    height: int = 420) -> go.Figure:
    """The RFM segment map: one tile per segment sized by customers, coloured by revenue.
    Columns: segment, customers, share, revenue."""
    figure = _base(title, height)
    data = frame[frame["customers"] > 0]
    figure.add_treemap(
        labels=data["segment"], parents=[""] * len(data), values=data["customers"],
        marker=dict(colors=data["revenue"], colorscale=SEQUENTIAL, showscale=True,
                    colorbar=dict(title=dict(text="revenue"), thickness=10,
                                  tickprefix=str(currency or ""))),
        customdata=data[["share", "revenue"]].to_numpy(),
        # each segment's meaning on hover (analytics.glossary: what "At Risk" is)
        text=[glossary.GLOSSARY.get(str(s), "") for s in data["segment"]],
        texttemplate="<b>%{label}</b><br>%{value:,} customers<br>%{customdata[0]:.0%}",
        hovertemplate=(f"%{{label}}: %{{text}}<br>%{{value:,}} customers "
                       f"(%{{customdata[0]:.1%}})"
                       f"<br>revenue {currency}%{{customdata[1]:,.0f}}<extra></extra>"))
    figure.update_traces(root_color="rgba(0,0,0,0)")
    figure.update_layout(margin=dict(l=0, r=0, t=36 if title else 0, b=0))
    return figure


def bcg_matrix(frame: pd.DataFrame, *, label: str, share: str, growth: str, size: str,
               quadrant: str | None = None, share_line: float | None = None,
               growth_line: float | None = None, currency: str = "",
               title: str | None = None, height: int = 420) -> go.Figure:
    """BCG scatter: x = revenue share, y = growth, bubble size = revenue, one colour per
    quadrant; dotted lines at the medians (``share_line``/``growth_line``)."""
    figure = _base(title, height)
    data = frame[frame[growth].notna()]
    groups = data.groupby(quadrant, sort=True) if quadrant else [("", data)]
    largest = float(data[size].abs().max()) if len(data) else 1.0
    for name, group in groups:
        figure.add_scatter(
            x=group[share], y=group[growth], mode="markers+text", name=str(name) or None,
            text=group[label], textposition="top center", customdata=group[[label, size]],
            marker=dict(size=(group[size].abs() / (largest or 1.0)) ** 0.5 * 46 + 8,
                        opacity=0.75, line=dict(width=1, color="white")),
            hovertemplate=(f"%{{customdata[0]}}<br>{_escape(_quadrant_text(name))}"
                           f"<br>share %{{x:.1%}}<br>growth %{{y:+.1%}}"
                           f"<br>revenue {currency}%{{customdata[1]:,.0f}}<extra></extra>"))
    median_line = dict(dash="dot", color=MUTED, width=1)
    if share_line is not None and not pd.isna(share_line):
        vline(figure, share_line, median_line)
    if growth_line is not None and not pd.isna(growth_line):
        hline(figure, growth_line, median_line)
    figure.update_xaxes(title_text="share of revenue", tickformat=".0%")
    figure.update_yaxes(title_text="growth vs previous period", tickformat="+.0%")
    return figure


def _quadrant_text(quadrant) -> str:
    """"star: high share, high growth: …" (``analytics.glossary``), or the name alone."""
    text = glossary.GLOSSARY.get(str(quadrant))
    return f"{quadrant}: {text}" if text else str(quadrant)


def heatmap(matrix: pd.DataFrame, *, title: str | None = None, percent: bool = True,
            x_title: str = "months since first purchase", height: int = 460,
            colour_range: tuple[float, float] | None = None) -> go.Figure:
    """A cohort heatmap: rows = cohorts (index), columns = month offsets, cells in 0…1
    when ``percent``. ``colour_range`` fixes the colour scale (zmin, zmax) so a colour
    means the same on every view; by default plotly fits it to the cells."""
    figure = _base(title, height)
    cell = ".0%" if percent else ",.0f"
    scale = {"zmin": colour_range[0], "zmax": colour_range[1]} if colour_range else {}
    figure.add_heatmap(
        z=matrix.to_numpy(dtype="float64"), x=[str(c) for c in matrix.columns],
        y=[str(i) for i in matrix.index], colorscale=SEQUENTIAL, hoverongaps=False,
        texttemplate=f"%{{z:{cell}}}", textfont=dict(size=10),
        hovertemplate=f"cohort %{{y}}<br>month +%{{x}}<br>%{{z:{cell}}}<extra></extra>",
        colorbar=dict(tickformat=cell, thickness=10), **scale)
    figure.update_yaxes(autorange="reversed", type="category", tickformat=None)
    figure.update_xaxes(title_text=x_title, type="category")
    return figure


def vline(figure: go.Figure, x, line: dict, text: str | None = None,
          position: str = "top right") -> None:
    """A vertical line across the plot at ``x`` with an optional label (``position``: "top
    right", "bottom right", "top left", "bottom left"): the shape and annotation
    ``add_vline`` makes, added directly (its subplot checks cost ~7 ms a line)."""
    figure.add_shape(type="line", xref="x", yref="y domain", x0=x, x1=x, y0=0, y1=1, line=line)
    if text:
        top = position.startswith("top")
        figure.add_annotation(text=text, showarrow=False, x=x, xref="x", y=1 if top else 0,
                              yref="y domain", yanchor="top" if top else "bottom",
                              xanchor="left" if position.endswith("right") else "right")


def hline(figure: go.Figure, y, line: dict, text: str | None = None,
          position: str = "top left") -> None:
    """A horizontal line across the plot at ``y`` with an optional label, as ``add_hline``
    makes it (``vline``)."""
    figure.add_shape(type="line", xref="x domain", yref="y", x0=0, x1=1, y0=y, y1=y, line=line)
    if text:
        left = position.endswith("left")
        figure.add_annotation(text=text, showarrow=False, x=0 if left else 1,
                              xref="x domain", y=y, yref="y",
                              xanchor="left" if left else "right",
                              yanchor="bottom" if position.startswith("top") else "top")


def histogram(frame: pd.DataFrame, *, start: str, end: str, count: str, currency: str,
              title: str | None = None, markers: dict[str, float] | None = None,
              height: int = 340) -> go.Figure:
    """Pre-binned histogram (bins ``start``–``end`` with ``count`` each); ``markers`` are
    labelled vertical lines (mean, median)."""
    figure = _base(title, height)
    centres = (frame[start] + frame[end]) / 2
    widths = frame[end] - frame[start]
    figure.add_bar(x=centres, y=frame[count], width=widths, marker=dict(color=PRIMARY),
                   customdata=frame[[start, end]].to_numpy(),
                   hovertemplate=(f"{currency}%{{customdata[0]:,.0f}} – "
                                  f"{currency}%{{customdata[1]:,.0f}}<br>%{{y:,}} customers"
                                  "<extra></extra>"))
    positions = ("top right", "bottom right")
    for index, (name, value) in enumerate((markers or {}).items()):
        if value is not None and not pd.isna(value):
            vline(figure, value, dict(dash="dash", color=NEGATIVE, width=1),
                  f"{name} {format_money(value, currency)}", positions[index % len(positions)])
    _money_axis(figure, "xaxis", currency)
    figure.update_yaxes(title_text="customers", tickformat=",d")
    figure.update_layout(bargap=0.05)
    return figure


def forecast(history: pd.DataFrame, predicted: pd.DataFrame, *, currency: str | None,
             backtest: pd.DataFrame | None = None, title: str | None = None,
             interval_label: str = "prediction interval", height: int = 400,
             notes=()) -> go.Figure:
    """History (columns date, actual), the forecast (date, forecast, lower, upper) with its
    interval as a band, and the hold-out backtest (date, forecast, baseline) with the
    seasonal-naive baseline dotted. Money when ``currency`` is given; ``notes`` as in
    ``add_notes``."""
    figure = _base(title, height)
    prefix = str(currency or "")
    figure.add_scatter(x=history["date"], y=history["actual"], name="Actual", mode="lines",
                       line=dict(color=PRIMARY, width=1.8),
                       hovertemplate=f"{prefix}%{{y:,.0f}}<extra>actual</extra>")
    band_x = list(predicted["date"]) + list(predicted["date"])[::-1]
    band_y = list(predicted["upper"]) + list(predicted["lower"])[::-1]
    figure.add_scatter(x=band_x, y=band_y, fill="toself", name=interval_label,
                       line=dict(width=0), fillcolor="rgba(245,158,11,0.22)", hoverinfo="skip")
    figure.add_scatter(x=predicted["date"], y=predicted["forecast"], name="Forecast",
                       mode="lines", line=dict(color=COLORWAY[1], width=2.5),
                       hovertemplate=f"{prefix}%{{y:,.0f}}<extra>forecast</extra>")
    if backtest is not None and len(backtest):
        figure.add_scatter(x=backtest["date"], y=backtest["forecast"], name="Backtest forecast",
                           mode="lines", line=dict(color=COLORWAY[1], dash="dash", width=1.5))
        figure.add_scatter(x=backtest["date"], y=backtest["baseline"],
                           name="Seasonal-naive baseline", mode="lines",
                           line=dict(color=MUTED, dash="dot", width=1.5))
    if currency:
        _money_axis(figure, "yaxis", currency)
    figure.update_layout(hovermode="x unified")
    return add_notes(figure, notes)


def anomalies(series: pd.DataFrame, points: pd.DataFrame, *, x: str, y: str, currency: str,
              title: str | None = None, height: int = 360, notes=()) -> go.Figure:
    """A series with its anomalous points marked (``points`` has ``x``, ``y`` and
    ``explanation``), and ``notes`` as in ``add_notes``."""
    figure = trend(series, x=x, y=y, currency=currency, title=title, height=height,
                   notes=notes)
    if len(points):
        figure.add_scatter(x=points[x], y=points[y], mode="markers", name="Anomaly",
                           marker=dict(color=NEGATIVE, size=11, symbol="circle-open",
                                       line=dict(width=2.5)),
                           text=points.get("explanation"),
                           hovertemplate="%{x|%d %b %Y}<br>%{text}<extra></extra>")
    return figure


def two_axes(frame: pd.DataFrame, *, x: str, left: str, right: str, left_label: str,
             right_label: str, currency: str | None = None,
             height: int = 340, notes=()) -> go.Figure:
    """Two lines of different sizes over ``x``, each on its own axis (revenue on the left,
    ad spend on the right, dashed): on one axis the smaller would lie flat. ``notes`` are
    marked as on every time chart."""
    figure = _base(None, height)
    prefix = str(currency or "")
    number = ",.0f" if currency else ",.4~g"
    figure.add_scatter(x=frame[x], y=frame[left].astype("float64"), name=left_label,
                       mode="lines", line=dict(width=2.5, color=PRIMARY),
                       hovertemplate=f"{left_label}: {prefix}%{{y:{number}}}<extra></extra>")
    figure.add_scatter(x=frame[x], y=frame[right].astype("float64"), name=right_label,
                       mode="lines", yaxis="y2", line=dict(width=2, color=COLORWAY[1],
                                                           dash="dash"),
                       hovertemplate=f"{right_label}: {prefix}%{{y:{number}}}<extra></extra>")
    figure.update_layout(hovermode="x unified",
                         yaxis2=dict(overlaying="y", side="right", showgrid=False,
                                     rangemode="tozero", title_text=right_label),
                         yaxis=dict(rangemode="tozero", title_text=left_label))
    if currency:
        _money_axis(figure, "yaxis", currency)
        _money_axis(figure, "yaxis2", currency)
    return add_notes(figure, notes)
