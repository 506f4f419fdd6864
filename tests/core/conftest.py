"""Fixtures of the core tests: an app-database session on a fresh, migrated SQLite file."""
from __future__ import annotations

import pytest

from core import db


@pytest.fixture
def session(settings):
    db.migrate(settings.database_url)
    with db.session_scope(settings.database_url) as session:
        yield session
