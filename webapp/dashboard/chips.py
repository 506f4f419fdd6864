"""Chips for the active filters, above every dashboard page: "Country: France ×",
"Price £5–£20 ×", "Segment: Champions ×", and the period ("Last 90 days") without a ×
(there is always one). × removes exactly that filter value and "Clear all" every removable
filter, by writing the URL (``shell-url-writer``, as the sidebar does), so the sidebar,
the pages and a copied link follow. A country is named, not coded ("GB" → United Kingdom).

The chips are built from the URL alone (``chips_of``: a pure function, tested on hand-made
query strings); the period's label needs the data's range, asked for once per render.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import re

import dash
from dash import ALL, ClientsideFunction, Input, Output, State, dcc, html

from analytics import catalog, countries, period
from analytics.filters import Filters
from analytics.warehouse import WarehouseError
from core.formatting import format_day_range, format_money
from webapp.dashboard import context, deferred, presets

log = logging.getLogger(__name__)

#: Chip parameters that are not a dimension's.
PRICE, SEGMENT, PERIOD = "price", "segment", "period"
_ISO2 = re.compile(r"^[A-Z]{2}$")


@dataclasses.dataclass(frozen=True)
class Chip:
    """One chip: the URL parameter it stands for, the value × removes, its text."""
    param: str
    value: str
    label: str
    removable: bool = True


def value_label(dimension: str, value: str) -> str:
    """A value as a person reads it: a country's ISO code becomes its name."""
    if dimension == "country" and _ISO2.match(value):
        return countries.country_name(value)
    return value


def price_label(filters: Filters, currency: str) -> str:
    """"Price £5–£20", "Price ≥ £5", "Price ≤ £20" (2 decimals only when needed)."""
    def money(value: float) -> str:
        return format_money(value, currency, 0 if float(value).is_integer() else 2)
    low, high = filters.min_price, filters.max_price
    if low is not None and high is not None:
        return f"Price {money(low)}–{money(high)}"
    if low is not None:
        return f"Price ≥ {money(low)}"
    return f"Price ≤ {money(high)}"


def period_label(filters: Filters, data_days: tuple[dt.date, dt.date] | None) -> str | None:
    """The period as the sidebar names it ("Last 90 days"), else its dates; None when it
    cannot be told (no data yet and no dates in the URL)."""
    start, end = filters.start, filters.end
    if data_days and (start is None or end is None):
        resolved = period.resolve(context.warehouse(), filters)
        start, end = resolved.start, resolved.end
    if start is None or end is None:
        return None
    if data_days:
        chosen = presets.matching_preset(start, end, *data_days)
        if chosen in presets.PRESETS:
            return presets.PRESETS[chosen]
    return format_day_range(start, end, context.currency())


def chips_of(filters: Filters, currency: str, period_text: str | None = None) -> list[Chip]:
    """The chips of ``filters``: the period (not removable) first, then one per chosen
    value of each dimension (in the catalog's order), the price range, the segment."""
    chips = [Chip(PERIOD, "", period_text, removable=False)] if period_text else []
    for dimension in catalog.filter_dimensions():
        for value in getattr(filters, dimension.field):
            chips.append(Chip(dimension.param, value,
                              f"{dimension.label}: {value_label(dimension.name, value)}"))
    if filters.min_price is not None or filters.max_price is not None:
        chips.append(Chip(PRICE, "", price_label(filters, currency)))
    if filters.segment:
        chips.append(Chip(SEGMENT, filters.segment, f"Segment: {filters.segment}"))
    return chips


def without(filters: Filters, param: str, value: str) -> Filters:
    """``filters`` without one chip's filter: that value of that dimension (the others
    kept), the price range, or the segment. An unknown chip changes nothing."""
    if param == PRICE:
        return dataclasses.replace(filters, min_price=None, max_price=None)
    if param == SEGMENT:
        return dataclasses.replace(filters, segment=None)
    for dimension in catalog.filter_dimensions():
        if dimension.param == param:
            kept = tuple(item for item in getattr(filters, dimension.field) if item != value)
            return dataclasses.replace(filters, **{dimension.field: kept})
    return filters


def cleared(filters: Filters) -> Filters:
    """``filters`` without every removable chip's filter (the period and the comparison
    stay)."""
    empty = {dimension.field: () for dimension in catalog.filter_dimensions()}
    return dataclasses.replace(filters, min_price=None, max_price=None, segment=None, **empty)


# ------------------------------------------------------------------ layout
def section() -> html.Div:
    """Where the chips go (above the page), filled by ``render``, and the store of the
    last × or "Clear all" clicked (``remove``)."""
    return html.Div([html.Div(id="shell-chips", className="shell-chips", role="region",
                              **{"aria-label": "Active filters"}),
                     dcc.Store(id="shell-chips-clicked")])


def chip_component(chip: Chip):
    if not chip.removable:
        return html.Span(chip.label, className="shell-chip shell-chip-fixed")
    return html.Span([
        html.Span(chip.label),
        html.Button("×", id={"type": "shell-chip-remove", "param": chip.param,
                             "value": chip.value},
                    className="shell-chip-remove", type="button", n_clicks=0,
                    title=f"Remove {chip.label}", **{"aria-label": f"Remove {chip.label}"}),
    ], className="shell-chip")


_CALLBACKS = deferred.Callbacks()
_chips_callback = _CALLBACKS.callback


def register_callbacks(app: dash.Dash) -> None:
    _CALLBACKS.register(app)
    # In the browser: a click on a × or "Clear all" (n_clicks > 0) is written to the
    # store; the chips re-rendered by a filter change (n_clicks 0, which Dash reports as
    # a change of these inputs) ask the server nothing (assets/shoplens.js, chipClicked).
    app.clientside_callback(ClientsideFunction("shoplens", "chipClicked"),
                            Output("shell-chips-clicked", "data"),
                            Input({"type": "shell-chip-remove", "param": ALL, "value": ALL},
                                  "n_clicks"),
                            Input("shell-chips-clear", "n_clicks"), prevent_initial_call=True)


@_chips_callback(Output("shell-chips", "children"), Input("shell-url", "search"))
def render(search):
    """The chips of the URL's filters, and "Clear all" when any can be removed. Nothing
    when the URL cannot be read (the sidebar says why)."""
    try:
        filters = context.parse_filters(search)
    except context.Unavailable:
        return None
    locale = context.currency()
    chips = chips_of(filters, locale, _period_text(filters))
    children = [chip_component(chip) for chip in chips]
    # the data's times (hours, days) are in its own zone: said once, beside the period
    children.append(html.Span(f"Times in {locale.timezone}", id="shell-timezone",
                              className="small text-body-secondary ms-2"))
    if any(chip.removable for chip in chips):
        children.append(html.Button("Clear all", id="shell-chips-clear", type="button",
                                    n_clicks=0, className="btn btn-link btn-sm p-0 ms-1"))
    else:  # the callback below keeps its input in the page
        children.append(html.Button("Clear all", id="shell-chips-clear", type="button",
                                    n_clicks=0, hidden=True))
    return children


@_chips_callback(Output("shell-url-writer", "search", allow_duplicate=True),
                 Input("shell-chips-clicked", "data"), State("shell-url", "search"),
                 prevent_initial_call=True)
def remove(clicked, search):
    """× removes that chip's filter, "Clear all" every removable one (URL written; page
    parameters and the period kept). ``clicked`` is what the browser's ``chipClicked``
    stored: ``{"clear": true}`` or ``{"param": …, "value": …}``."""
    if not isinstance(clicked, dict):
        return dash.no_update
    try:
        filters = context.parse_filters(search)
    except context.Unavailable:
        return dash.no_update
    if clicked.get("clear"):
        return context.replace_filters(search, cleared(filters))
    if clicked.get("param") is None:
        return dash.no_update
    return context.replace_filters(search, without(filters, str(clicked.get("param")),
                                                   str(clicked.get("value"))))


def _period_text(filters: Filters) -> str | None:
    try:
        first, last = period.data_range(context.warehouse())
    except WarehouseError as exc:
        log.info("no data range for the period chip: %s", exc)
        first = last = None
    try:
        return period_label(filters, (first, last) if first and last else None)
    except WarehouseError as exc:
        log.info("no period for the period chip: %s", exc)
        return None
