"""The dashboard's own plotly.js (assets/vendor/plotly-shoplens.min.js, built by
scripts/plotly_bundle/build.sh): the version plotly.py writes figures for, and every trace
type the dashboard's figures create. dcc.Graph takes ``window.Plotly`` from the asset and
never fetches plotly.py's full bundle (checked in the browser by
tests/webapp/browser/test_chart_text_browser.py)."""
from __future__ import annotations

import re
from pathlib import Path

import plotly.graph_objects as go
from plotly.offline import get_plotlyjs_version

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = ROOT / "webapp" / "dashboard" / "assets" / "vendor" / "plotly-shoplens.min.js"
BUILD = ROOT / "scripts" / "plotly_bundle" / "build.sh"
ENTRY = ROOT / "scripts" / "plotly_bundle" / "entry.js"

#: every plotly trace type (plotly.py has a ``Figure.add_<type>`` for each)
TRACE_TYPES = {name[4:] for name in dir(go.Figure) if name.startswith("add_")} - {
    "trace", "traces", "shape", "annotation", "vline", "hline", "vrect", "hrect",
    "layout_image", "selection"}


def _header() -> str:
    with BUNDLE.open(encoding="utf-8") as handle:
        return handle.read(400)


def bundle_traces() -> set[str]:
    match = re.search(r"traces: ([a-z0-9 ]+) \*/", _header())
    assert match, "the bundle's header names its traces"
    return set(match.group(1).split())


def traces_created() -> set[str]:
    """Trace types the dashboard's Python code creates (``figure.add_bar(``,
    ``go.Heatmap(``, ``dict(type="bar"`` and plotly.express, which may create any)."""
    found: set[str] = set()
    for path in (ROOT / "webapp").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"\bpx\.[a-z_]+\(", text), \
            f"{path}: plotly.express may create trace types the bundle lacks"
        found |= set(re.findall(r"\.add_([a-z0-9]+)\(", text))
        found |= {name.lower() for name in re.findall(r"\bgo\.([A-Z][a-z0-9]*)\(", text)}
        found |= set(re.findall(r"\btype=[\"']([a-z0-9]+)[\"']", text))
        found |= set(re.findall(r"[\"']type[\"']: [\"']([a-z0-9]+)[\"']", text))
    return found & TRACE_TYPES


def test_the_bundle_is_the_plotly_js_plotly_py_writes_figures_for():
    assert BUNDLE.stat().st_size < 2_000_000        # the point: plotly.min.js is 4.8 MB
    version = re.search(r"plotly\.js v(\S+) ", _header()).group(1)
    assert version == get_plotlyjs_version(), (
        f"plotly.py draws for plotly.js {get_plotlyjs_version()}, the bundle is {version}: "
        "set PLOTLY_JS in scripts/plotly_bundle/build.sh and run it")
    assert f"PLOTLY_JS={version}" in BUILD.read_text(encoding="utf-8")


def test_every_trace_type_the_dashboard_draws_is_in_the_bundle():
    created = traces_created()
    assert {"scatter", "bar", "heatmap", "treemap"} <= created   # the scan finds them
    assert created <= bundle_traces(), (
        f"{sorted(created - bundle_traces())} not in the bundle: add them to entry.js and "
        "TRACES in scripts/plotly_bundle/build.sh, and run it")
    # what the build script says it bundles is what its entry registers
    registered = set(re.findall(r"plotly\.js/lib/([a-z0-9]+)'", ENTRY.read_text())) - {"core"}
    traces = re.search(r'TRACES="([^"]+)"', BUILD.read_text(encoding="utf-8")).group(1)
    assert registered | {"scatter"} == set(traces.split()) == bundle_traces()
