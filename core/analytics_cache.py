"""The process-wide analytics cache of every process (web, workers, CLI), configured from
the settings in one place, so that a worker warming the default view after a load fills
the very cache the web processes read.

Redis when ``REDIS_URL`` is set; otherwise files under ``settings.cache_dir`` (cachelib's
file cache: shared by the processes of one machine).
"""
from __future__ import annotations

import logging
import os
import struct
import tempfile
import threading

from cachelib import FileSystemCache

from analytics import cache
from core.settings import Settings

log = logging.getLogger(__name__)

#: Files kept by the embedded file cache before it prunes the oldest.
FILE_CACHE_ENTRIES = 2000


class FileCache(FileSystemCache):
    """cachelib's file cache without its file counter. cachelib keeps the number of
    entries in a file of its own, read and rewritten on every new entry (three more file
    operations per write, 3–8 ms on a busy machine, ~10 writes per filter change); this
    one counts nothing and, every ``PRUNE_EVERY`` writes of this process, removes the
    oldest files beyond ``entries``. An expired entry is never read (cachelib checks each
    file's expiry when reading it)."""

    PRUNE_EVERY = 100

    def __init__(self, path: str, entries: int, default_timeout: int):
        super().__init__(path, threshold=0, default_timeout=default_timeout)
        self.entries = entries
        self._writes = 0
        self._lock = threading.Lock()

    def set(self, key, value, timeout=None, mgmt_element: bool = False) -> bool:
        written = super().set(key, value, timeout, mgmt_element)
        with self._lock:
            self._writes += 1
            due = self._writes % self.PRUNE_EVERY == 0
        if due:
            self.prune()
        return written

    def add(self, key, value, timeout=None) -> bool:
        """Store ``value`` only when ``key`` has no live entry, atomically between the
        processes of the machine (cachelib checks, then writes: two processes can both
        win): the file is written aside and hard-linked into place, which fails when
        the name exists. An expired entry in the way is removed first. The analytics
        cache claims the keys it computes with this (``analytics.cache``)."""
        filename = self._get_filename(key)
        for _attempt in range(2):
            try:
                fd, aside = tempfile.mkstemp(suffix=self._fs_transaction_suffix,
                                             dir=self._path)
                with os.fdopen(fd, "wb") as out:
                    out.write(struct.pack("I", self._normalize_timeout(timeout)))
                    self.serializer.dump(value, out)
                try:
                    os.link(aside, filename)
                    return True
                except FileExistsError:
                    pass
                finally:
                    os.remove(aside)
            except OSError:
                log.warning("cache claim failed for %s", filename, exc_info=True)
                return False
            if self.has(key):
                return False
            try:
                os.remove(filename)      # expired: in the way of a new claim
            except FileNotFoundError:
                pass
        return False

    def prune(self) -> int:
        """Remove the oldest entries beyond ``entries``; the number removed."""
        found = []
        with os.scandir(self._path) as folder:
            for entry in folder:
                if entry.name.endswith(self._fs_transaction_suffix):
                    continue   # another process is writing it
                try:
                    found.append((entry.stat().st_mtime, entry.path))
                except FileNotFoundError:
                    continue
        excess = len(found) - self.entries
        if excess <= 0:
            return 0
        removed = 0
        for _modified, path in sorted(found)[:excess]:
            try:
                os.remove(path)
                removed += 1
            except FileNotFoundError:
                continue
        return removed


def backend_for(settings: Settings):
    """The analytics cache backend ``settings`` ask for."""
    if settings.redis_url:
        return cache.RedisBackend(settings.redis_url)
    return FileCache(str(settings.cache_dir), FILE_CACHE_ENTRIES, cache.DEFAULT_TTL)


def configure(settings: Settings) -> cache.Cache:
    """Point this process's analytics cache at ``settings``' backend."""
    return cache.configure(backend_for(settings))
