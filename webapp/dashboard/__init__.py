"""The Dash app mounted on the Flask server (pages, components, callbacks)."""
from __future__ import annotations

import dash
from flask import Flask


def init_dashboard(server: Flask) -> dash.Dash:
    app = dash.Dash(__name__, server=server, url_base_pathname="/",
                    title="Shoplens", suppress_callback_exceptions=True)
    app.layout = dash.html.Div("Shoplens", id="app-root")
    return app
