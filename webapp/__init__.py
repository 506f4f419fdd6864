"""The Flask server: auth, the REST API and the Dash app, built by ``create_app``."""
from __future__ import annotations

import logging

from flask import Flask

from core.settings import Settings, load_settings


def create_app(config: dict | None = None, settings: Settings | None = None) -> Flask:
    """Build the web application: settings, app database, sign-in and the request guard
    (``webapp.security``), the auth and admin pages, ``/healthz``, the REST API, the CLI
    groups, and the Dash app last, so that every one of its routes is behind the guard.

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

    _configure_analytics_cache(app, settings)

    from webapp.security import init_security
    init_security(app, settings)
    app.config.update(config or {})  # the caller's configuration wins over the defaults

    from webapp import admin, auth, health
    from webapp.api import init_api
    app.register_blueprint(auth.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(health.bp)
    init_api(app)
    from webapp import links; app.register_blueprint(links.bp)  # noqa: E702 (signed view links)

    from webapp.cli_data import data_cli
    from webapp.cli_users import users_cli
    app.cli.add_command(data_cli)
    app.cli.add_command(users_cli)
    from webapp.cli_schedules import schedules_cli; app.cli.add_command(schedules_cli)  # noqa: E702
    from webapp.cli_alerts import alerts_cli; app.cli.add_command(alerts_cli)  # noqa: E702
    from webapp.cli_settings import settings_cli; app.cli.add_command(settings_cli)  # noqa: E702

    from webapp.dashboard import init_dashboard
    app.extensions["shoplens.dash"] = init_dashboard(app)  # after the login guard
    return app


def _configure_analytics_cache(app: Flask, settings: Settings) -> None:
    """The process-wide analytics cache: Redis when configured, else files under
    ``settings.cache_dir`` (shared with the other web processes and the workers, which
    configure it the same way: ``core.analytics_cache``)."""
    from core import analytics_cache
    analytics_cache.configure(settings)
