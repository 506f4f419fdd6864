"""The embedded setup's file cache (``core.analytics_cache.FileCache``): entries read back
as written, across processes' instances, and the oldest beyond its size pruned."""
from __future__ import annotations

import os
import time

from core.analytics_cache import FileCache


def test_an_entry_written_by_one_instance_is_read_by_another(tmp_path):
    FileCache(str(tmp_path), entries=10, default_timeout=60).set("k", b"value")
    assert FileCache(str(tmp_path), entries=10, default_timeout=60).get("k") == b"value"


def test_expired_entries_are_not_read(tmp_path):
    files = FileCache(str(tmp_path), entries=10, default_timeout=60)
    files.set("old", b"x", timeout=1)
    time.sleep(2.1)
    assert files.get("old") is None


def test_the_oldest_entries_beyond_its_size_are_pruned_every_so_many_writes(tmp_path):
    files = FileCache(str(tmp_path), entries=3, default_timeout=60)
    files.PRUNE_EVERY = 4
    for number in range(3):
        files.set(f"k{number}", number)
        past = time.time() - 100 + number          # k0 oldest, k2 newest of these
        os.utime(files._get_filename(f"k{number}"), (past, past))
    assert len(os.listdir(tmp_path)) == 3           # no counter file beside the entries
    files.set("k3", 3)                              # the 4th write prunes: 4 files, 3 kept
    assert sorted(os.listdir(tmp_path)) == sorted(
        os.path.basename(files._get_filename(key)) for key in ("k1", "k2", "k3"))
    assert files.get("k0") is None and files.get("k3") == 3
