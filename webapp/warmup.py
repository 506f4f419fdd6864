"""A web process's one-time costs, paid before it takes its first request.

A new gunicorn worker pays, on its first requests, for Flask's and Dash's first-request
setup (templates compiled, Dash's layout validation and script tags), plotly's validators
(imported on first use of each trace type: ~0.3 s for the first chart) and its own DuckDB
connection. On a cold server every worker pays them while the first user waits for the
first screen after sign-in. ``warm_process`` pays them at worker start instead
(``gunicorn.conf.py``'s ``post_worker_init``); it asks nothing that depends on a user, and
fills no analytics cache (the data load warms that, ``core.loads``).
"""
from __future__ import annotations

import logging
import time

from flask import Flask

log = logging.getLogger(__name__)


def warm_process(app: Flask) -> float:
    """Warm ``app``'s process; returns the seconds it took. Never raises: a worker that
    could not warm serves as it would have without."""
    started = time.perf_counter()
    try:
        _warm(app)
    except Exception:   # warming is an optimisation, never a reason not to serve
        log.exception("warming the web process failed")
    return time.perf_counter() - started


def _warm(app: Flask) -> None:
    import pandas as pd
    import plotly.graph_objects as go
    import plotly.io as pio

    from webapp.dashboard import figures

    # Flask's and Dash's first request (a public page: no user, no session written)
    app.test_client().get("/login")
    # every kind of trace the dashboard draws, through plotly's validators and its JSON
    frame = pd.DataFrame({"day": pd.date_range("2024-01-01", periods=3), "revenue": [1.0, 2, 3],
                          "previous": [1.0, 1, 2]})
    figure = figures.trend(frame, x="day", y="revenue", comparison="previous", currency="£")
    other = go.Figure()
    other.add_bar(x=["a"], y=[1])
    other.add_heatmap(z=[[1]])
    other.add_treemap(labels=["a"], parents=[""], values=[1])
    other.add_hline(y=0)
    figures.sparkline(frame["revenue"])
    pio.to_json(figure)
    pio.to_json(other)
    # the process's own warehouse connection
    warehouse = app.extensions.get("shoplens.warehouse")
    if warehouse is not None:
        with app.app_context():
            warehouse.current_version()
