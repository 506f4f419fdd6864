"""The web app configures the analytics cache from its settings through the same function
as the workers (core.analytics_cache), so what a worker warms after a load is read here."""
from __future__ import annotations

from cachelib import FileSystemCache

from analytics import cache
from core import analytics_cache


def test_the_web_app_reads_what_a_worker_configured_from_the_same_settings_writes(
        app, web_settings):
    web_backend = cache.default_cache().backend  # create_app configured it
    worker_backend = analytics_cache.backend_for(web_settings)
    assert isinstance(web_backend, FileSystemCache)
    worker_backend.set("warmed-by-a-worker", b"default view", 60)
    assert web_backend.get("warmed-by-a-worker") == b"default view"
