"""Fixtures of the core tests: an app-database session on a fresh, migrated SQLite file,
and the process's analytics cache on a store that records what is written."""
from __future__ import annotations

import pytest
from cachelib import SimpleCache

from analytics import cache
from core import db


@pytest.fixture
def session(settings):
    db.migrate(settings.database_url)
    with db.session_scope(settings.database_url) as session:
        yield session


class RecordingCache(SimpleCache):
    """An in-memory cache that remembers which keys were written."""

    def __init__(self):
        super().__init__()
        self.written: list[str] = []

    def set(self, key, value, timeout=None):
        self.written.append(key)
        return super().set(key, value, timeout)


@pytest.fixture
def process_cache():
    """The process-wide analytics cache on a fresh in-memory store; put back afterwards."""
    default = cache.default_cache()
    previous = default.backend, default.ttl
    store = RecordingCache()
    cache.configure(store)
    yield store
    cache.configure(*previous)
