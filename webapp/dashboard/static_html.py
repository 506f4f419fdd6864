"""A panel's plain HTML as one Dash component instead of hundreds.

Dash's renderer keeps every component of the page in its store and, on each change of the
store (several per callback: loading on, the answer, loading off), runs a selector for
every mounted component. A table of 50 rows × 6 cells is ~400 components; the Patterns
page had ~1,500, and the renderer spent 250–300 ms of each filter change in those
selectors, more than the server took to answer (issue 17, measured with the Chromium
profiler). A panel whose content nobody clicks through Dash — a table, a sentence, a
list — does not need to be components at all: ``static`` turns such a tree into its HTML,
every text and attribute escaped, shown by one ``dcc.Markdown`` (an HTML block: Markdown
leaves its content as it is, so "*" or "_" in a product name stay literal).

Only ``dash.html`` components and the Bootstrap ones listed in ``_BOOTSTRAP`` convert; a
tree with anything else (a graph, a dropdown, a popover, a component with callbacks on
it) is returned unchanged, so the panel still shows, just as components.
"""
from __future__ import annotations

import re
from html import escape
from numbers import Number

from dash import dcc
from dash.development.base_component import Component


class NotStatic(ValueError):
    """The tree holds a component that needs Dash to work."""


#: Dash html props that are not HTML attributes (Dash's own bookkeeping).
_SKIP = {"children", "n_clicks", "n_clicks_timestamp", "disable_n_clicks", "loading_state",
         "setProps", "key"}
#: React names of HTML attributes whose HTML name is not simply the lower-cased name.
_ATTRIBUTES = {"className": "class", "htmlFor": "for", "colSpan": "colspan",
               "rowSpan": "rowspan", "tabIndex": "tabindex", "contentEditable":
               "contenteditable", "accessKey": "accesskey", "spellCheck": "spellcheck"}
#: Attributes holding an address: a script one is refused.
_URL_ATTRIBUTES = {"href", "src", "action", "formaction", "poster", "cite"}
#: An image's own data (a KPI card's sparkline): an <img> never runs a script in it.
_IMAGE_DATA = re.compile(r"data:image/(png|gif|jpeg|webp|svg\+xml)[;,]")
_VOID = {"br", "hr", "img", "input", "col", "wbr"}
_UNITLESS = {"opacity", "z-index", "font-weight", "line-height", "flex", "flex-grow",
             "flex-shrink", "order", "zoom"}


def static(tree, *, class_name: str = "static-html", id: str | None = None):
    """``tree`` as one ``dcc.Markdown`` of its HTML, or ``tree`` itself when it holds a
    component that is not plain HTML (``NotStatic``)."""
    try:
        markup = to_html(tree)
    except NotStatic:
        return tree
    props = {"id": id} if id else {}
    # a block-level root, on one line: Markdown passes it through untouched
    return dcc.Markdown(f"<div>{markup}</div>", dangerously_allow_html=True,
                        className=class_name, **props)


def to_html(node) -> str:
    """The HTML of a Dash html/Bootstrap tree (a component, a string, a number or a list
    of them); ``NotStatic`` for anything else."""
    if node is None or node is False:
        return ""
    if isinstance(node, str):
        return _text(node)
    if isinstance(node, Number) and not isinstance(node, bool):
        return _text(str(node))
    if isinstance(node, (list, tuple)):
        return "".join(to_html(child) for child in node)
    if not isinstance(node, Component):
        raise NotStatic(f"not a component: {type(node).__name__}")
    namespace = getattr(node, "_namespace", "")
    if namespace == "dash_html_components":
        return _element(node._type.lower(), _props(node), getattr(node, "children", None))
    if namespace == "dash_bootstrap_components" and node._type in _BOOTSTRAP:
        return _BOOTSTRAP[node._type](node)
    raise NotStatic(f"{namespace}.{node._type} needs Dash")


def _text(text: str) -> str:
    # one line (Markdown ends an HTML block at a blank line); the newline kept as a
    # character reference, which shows as the newline it was
    return escape(text, quote=False).replace("\n", "&#10;")


def _props(component: Component) -> dict:
    # to_plotly_json: the props set, aria-* and data-* included (those sorted by name,
    # so that the same tree always gives the same HTML)
    props = {name: value for name, value in component.to_plotly_json()["props"].items()
             if name not in _SKIP and value is not None}
    plain = {name: value for name, value in props.items() if "-" not in name}
    return plain | {name: props[name] for name in sorted(set(props) - set(plain))}


def _element(tag: str, props: dict, children) -> str:
    attributes = "".join(_attribute(name, value, tag) for name, value in props.items())
    if tag in _VOID:
        # closed as JSX needs it (dcc.Markdown renders its HTML through a JSX parser,
        # which shows nothing at all for an unclosed <img>); valid HTML too
        return f"<{tag}{attributes} />"
    return f"<{tag}{attributes}>{to_html(children)}</{tag}>"


def _attribute(name: str, value, tag: str = "") -> str:
    if value is False:
        return ""
    if name == "style":
        value = _style(value)
    html_name = _ATTRIBUTES.get(name, name if "-" in name else name.lower())
    if not re.fullmatch(r"[a-z][a-z0-9_:.-]*", html_name):
        raise NotStatic(f"attribute {name!r}")
    if value is True:
        return f" {html_name}"
    if html_name in _URL_ATTRIBUTES and re.match(r"\s*(javascript|vbscript|data):",
                                                 str(value), re.IGNORECASE) \
            and not (tag == "img" and html_name == "src" and _IMAGE_DATA.match(str(value))):
        raise NotStatic(f"a script address in {name!r}")   # as Dash refuses it
    return f' {html_name}="{escape(str(value), quote=True)}"'


def _style(style: dict) -> str:
    parts = []
    for name, value in (style or {}).items():
        css = re.sub(r"[A-Z]", lambda m: "-" + m.group(0).lower(), name)
        if isinstance(value, Number) and not isinstance(value, bool) and value != 0 \
                and css not in _UNITLESS:
            value = f"{value}px"
        parts.append(f"{css}: {value}")
    return "; ".join(parts)


def _classes(*names) -> str:
    return " ".join(name for name in names if name)


def _bootstrap(tag: str, component: Component, classes: str, **extra) -> str:
    props = {name: value for name, value in (("id", getattr(component, "id", None)),
                                             ("style", getattr(component, "style", None)),
                                             ("title", getattr(component, "title", None)))
             if value is not None}
    props["className"] = _classes(classes, getattr(component, "className", None))
    props.update(extra)
    return _element(tag, props, getattr(component, "children", None))


def _table(component) -> str:
    size = getattr(component, "size", None)
    table = _bootstrap("table", component, _classes(
        "table", size and f"table-{size}",
        getattr(component, "striped", None) and "table-striped",
        getattr(component, "bordered", None) and "table-bordered",
        getattr(component, "borderless", None) and "table-borderless",
        getattr(component, "hover", None) and "table-hover",
        getattr(component, "color", None) and f"table-{component.color}"))
    return f'<div class="table-responsive">{table}</div>' \
        if getattr(component, "responsive", None) else table


def _alert(component) -> str:
    if getattr(component, "dismissable", None) or getattr(component, "duration", None):
        raise NotStatic("an alert that closes needs Dash")
    color = getattr(component, "color", None) or "secondary"
    return _bootstrap("div", component, f"alert alert-{color}", role="alert")


def _badge(component) -> str:
    if getattr(component, "href", None):
        raise NotStatic("a badge link")
    color = getattr(component, "color", None) or "secondary"
    text = getattr(component, "text_color", None)
    return _bootstrap("span", component, _classes(
        "badge", f"text-bg-{color}" if not text else f"bg-{color}",
        text and f"text-{text}", getattr(component, "pill", None) and "rounded-pill"))


def _column(component) -> str:
    classes = []
    for breakpoint in ("xs", "sm", "md", "lg", "xl", "xxl"):
        width = getattr(component, breakpoint, None)
        if width is None:
            continue
        if isinstance(width, dict):
            raise NotStatic("a column with offsets")
        infix = "" if breakpoint == "xs" else f"-{breakpoint}"
        classes.append(f"col{infix}" if width is True else f"col{infix}-{width}")
    width = getattr(component, "width", None)
    if width is not None and not isinstance(width, dict):
        classes.insert(0, "col" if width is True else f"col-{width}")
    return _bootstrap("div", component, _classes(*(classes or ["col"])))


def _row(component) -> str:
    if getattr(component, "align", None) or getattr(component, "justify", None):
        raise NotStatic("a row with alignment")
    return _bootstrap("div", component, "row")


_BOOTSTRAP = {
    "Table": _table,
    "Alert": _alert,
    "Badge": _badge,
    "Row": _row,
    "Col": _column,
    "Card": lambda c: _bootstrap("div", c, _classes(
        "card", getattr(c, "color", None) and f"text-bg-{c.color}")),
    "CardBody": lambda c: _bootstrap("div", c, "card-body"),
    "CardHeader": lambda c: _bootstrap("div", c, "card-header"),
    "CardFooter": lambda c: _bootstrap("div", c, "card-footer"),
}
