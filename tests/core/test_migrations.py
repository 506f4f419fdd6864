"""The Alembic migrations and the ORM describe the same app database.

Every model change needs a migration (``make run`` and production upgrade an existing
database with ``core.db.migrate``, never ``create_all``); these tests fail when the two
drift, on SQLite (the embedded default) and on PostgreSQL. The newest migration is also
walked down and up again with rows in the tables it changes, since an upgrade that loses
a delivery ledger's rows loses what was sent to whom.
"""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext

from core import db
from core.orm import Base


def _config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(db.MIGRATIONS))
    config.set_main_option("sqlalchemy.url", db.normalise_url(url).replace("%", "%%"))
    config.attributes["configure_logger"] = False
    return config


def _differences(url: str) -> list:
    engine = sa.create_engine(db.normalise_url(url))
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            found = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    # SQLite reports no server defaults reliably and names no unique constraints the way
    # the ORM does; what matters is tables, columns, nullability, types and indexes
    return [item for item in found
            if not (isinstance(item, tuple) and item[0] in {"add_constraint",
                                                             "remove_constraint"})]


@pytest.fixture(params=["sqlite", "postgresql"])
def app_database(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'app.db'}"
    return request.getfixturevalue("postgres_database")


def test_the_migrations_build_the_schema_the_models_describe(app_database):
    db.migrate(app_database)
    assert _differences(app_database) == []


def test_the_newest_migration_goes_down_and_up_keeping_report_deliveries(app_database):
    db.migrate(app_database)
    engine = sa.create_engine(db.normalise_url(app_database))
    now = dt.datetime(2026, 1, 5, 7)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(
                "INSERT INTO roles (name, description) SELECT 'viewer', 'v' "
                "WHERE NOT EXISTS (SELECT 1 FROM roles WHERE name = 'viewer')"))
            conn.execute(sa.text(
                "INSERT INTO users (id, email, role, is_active, session_epoch, "
                "must_change_password, failed_logins, created_at) VALUES "
                "(1, 'ann@example.com', 'viewer', true, 0, false, 0, :now)"), {"now": now})
            conn.execute(sa.text(
                "INSERT INTO jobs (id, user_id, kind, params, status, progress, attempts, "
                "cancel_requested, created_at, resends) VALUES "
                "('j1', 1, 'report_pdf', '{}', 'done', 100, 1, false, :now, 0)"),
                {"now": now})
            conn.execute(sa.text(
                "INSERT INTO deliveries (job_id, recipient, status, attempts, created_at, "
                "updated_at, channel) VALUES ('j1', 'ann@example.com', 'sent', 1, :now, "
                ":now, 'email')"), {"now": now})
        config = _config(app_database)
        command.downgrade(config, "0003")
        # the comparison sees a schema one migration behind (so it can fail at all)
        behind = _differences(app_database)
        assert ("add_table", "notifications") in [(item[0], item[1].name) for item in behind
                                                  if isinstance(item, tuple)
                                                  and item[0] == "add_table"]
        command.upgrade(config, "head")
        with engine.connect() as conn:
            rows = conn.execute(sa.text(
                "SELECT job_id, recipient, status, channel FROM deliveries")).all()
        assert [tuple(row) for row in rows] == [("j1", "ann@example.com", "sent", "email")]
        assert _differences(app_database) == []
    finally:
        engine.dispose()
