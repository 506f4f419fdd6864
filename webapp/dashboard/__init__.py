"""The Dash app mounted on the Flask server (pages, components, callbacks).

Pages live in ``webapp/dashboard/pages`` (one module per page, registered with
``dash.register_page(..., role=...)``, the only place a page's role is written; every
component id of a page starts with its module's name, ``reports-…``, which is how the
request guard in ``webapp.security`` knows the role a callback needs); the shell (navbar,
filter sidebar, router, ids ``shell-…``) is in ``shell.py``; every chart is built by
``figures.py``; an error that escapes a callback is shown by ``errors.py``. Nothing is
fetched from a CDN: Bootstrap is the vendored ``/static/vendor/bootstrap.min.css`` and Dash
serves its own JavaScript (plotly.js included).
"""
from __future__ import annotations

from pathlib import Path

import dash
from flask import Flask

from webapp.dashboard import errors

PACKAGE = Path(__file__).parent
BOOTSTRAP_CSS = "/static/vendor/bootstrap.min.css"


def init_dashboard(server: Flask) -> dash.Dash:
    """Create the Dash app on ``server`` at ``/`` and return it."""
    app = dash.Dash(
        __name__, server=server, url_base_pathname="/", title="Shoplens",
        use_pages=True, pages_folder=str(PACKAGE / "pages"),
        assets_folder=str(PACKAGE / "assets"), serve_locally=True,
        external_stylesheets=[BOOTSTRAP_CSS], suppress_callback_exceptions=True,
        meta_tags=[{"name": "viewport", "content": "width=device-width, initial-scale=1"}],
        update_title=None, on_error=errors.on_callback_error)
    from webapp.dashboard import chart_text, shell, toolbar
    # the page's language, for screen readers and the browser's translation offer
    app.index_string = app.index_string.replace("<html>", '<html lang="en">', 1)
    app.layout = shell.layout
    shell.register_callbacks(app)
    toolbar.register_callbacks(app)
    chart_text.register_callbacks(app)
    server.extensions["shoplens.dash"] = app
    return app
