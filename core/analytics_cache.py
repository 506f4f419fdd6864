"""The process-wide analytics cache of every process (web, workers, CLI), configured from
the settings in one place, so that a worker warming the default view after a load fills
the very cache the web processes read.

Redis when ``REDIS_URL`` is set; otherwise files under ``settings.cache_dir`` (cachelib's
file cache: shared by the processes of one machine).
"""
from __future__ import annotations

from analytics import cache
from core.settings import Settings

#: Files kept by the embedded file cache before it prunes the oldest.
FILE_CACHE_ENTRIES = 2000


def backend_for(settings: Settings):
    """The analytics cache backend ``settings`` ask for."""
    if settings.redis_url:
        return cache.RedisBackend(settings.redis_url)
    from cachelib import FileSystemCache
    return FileSystemCache(str(settings.cache_dir), threshold=FILE_CACHE_ENTRIES,
                           default_timeout=cache.DEFAULT_TTL)


def configure(settings: Settings) -> cache.Cache:
    """Point this process's analytics cache at ``settings``' backend."""
    return cache.configure(backend_for(settings))
