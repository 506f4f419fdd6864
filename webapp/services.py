"""Per-process handles the web layer shares: settings, app-database sessions, warehouse."""
from __future__ import annotations

from flask import Flask, current_app

from analytics.warehouse import Warehouse
from core import db, installation
from core.formatting import Locale
from core.settings import Settings


def init_app(app: Flask, settings: Settings) -> None:
    db.migrate(settings.database_url)
    app.extensions["shoplens.warehouse"] = Warehouse(
        settings.warehouse_url, statement_timeout=settings.warehouse_statement_timeout)
    app.extensions["shoplens.sessions"] = db.session_factory(settings.database_url)


def settings() -> Settings:
    return current_app.extensions["shoplens.settings"]


def warehouse() -> Warehouse:
    return current_app.extensions["shoplens.warehouse"]


def locale_state() -> installation.LocaleState:
    """The installation's locale now, where each setting came from, and any warning."""
    from webapp.security import db_session
    return installation.current_state(db_session(), settings(), warehouse())


def locale() -> Locale:
    """How this installation writes money, numbers and dates (``core.formatting``)."""
    return locale_state().locale
