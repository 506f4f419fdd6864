"""The Flask server: auth, the REST API and the Dash app, built by ``create_app``."""
from __future__ import annotations

import logging

from flask import Flask

from core.settings import Settings, load_settings


def create_app(config: dict | None = None, settings: Settings | None = None) -> Flask:
    """Build the web application.

    ``settings`` defaults to the environment (core.settings); ``config`` overrides Flask
    configuration keys (tests pass ``{"TESTING": True, ...}``).
    """
    settings = settings or load_settings()
    app = Flask(__name__, instance_path=str(settings.home / "instance"))
    app.config.update(SECRET_KEY=settings.secret_key)
    app.config.update(config or {})
    app.extensions["shoplens.settings"] = settings
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    from webapp import services
    services.init_app(app, settings)

    from webapp.cli_data import data_cli
    app.cli.add_command(data_cli)
    return app
