"""core.loads warms the default view of the version it publishes into the analytics cache,
and every process configures that cache from the settings alike (core.analytics_cache)."""
from __future__ import annotations

import pytest
from cachelib import FileSystemCache

from analytics import cache, period
from analytics.filters import ALL_DATA, Filters
from analytics.warehouse import Warehouse
from core import analytics_cache, db
from core.loads import run_load

FILE = ("InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
        "1001,A,Mug,2,2011-01-03 10:00:00,5.0,C1,United Kingdom\n"
        "1002,B,Plate,1,2011-01-04 10:00:00,12.5,C2,France\n")


def default_view_keys(settings, version: int) -> list[str]:
    """The cache keys of the overview's default view at ``version``."""
    warehouse = Warehouse(settings.warehouse_url)
    try:
        filters = period.resolve(warehouse, Filters(), version)
        return [cache.default_cache().key(func, warehouse, filters, ALL_DATA, version, options)
                for func, options in cache.default_view_calls()]
    finally:
        warehouse.dispose()


def test_a_published_load_warms_the_default_view(settings, tmp_path, process_cache):
    db.migrate(settings.database_url)
    path = tmp_path / "shop.csv"
    path.write_text(FILE)
    first = run_load(settings, path=path, format="online-retail")
    second = run_load(settings, path=path, format="online-retail")
    assert (first.status, second.status) == ("done", "done")
    for version in (first.version, second.version):
        keys = default_view_keys(settings, version)
        assert len(set(keys)) == len(cache.default_view_calls())
        assert all(process_cache.get(key) is not None for key in keys), version


def test_a_refused_load_warms_nothing(settings, tmp_path, process_cache):
    db.migrate(settings.database_url)
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    assert run_load(settings, path=path, format="online-retail").status == "failed"
    assert process_cache.written == []


def test_embedded_settings_give_the_shared_file_cache(settings, process_cache):
    configured = analytics_cache.configure(settings)
    assert configured is cache.default_cache()
    configured.backend.set("written-by-a-worker", b"42", 60)
    # what another process configured from the same settings reads
    assert FileSystemCache(str(settings.cache_dir)).get("written-by-a-worker") == b"42"


def test_redis_settings_give_the_redis_cache(settings, process_cache):
    import dataclasses
    on_redis = dataclasses.replace(settings, redis_url="redis://127.0.0.1:6379/15")
    assert isinstance(analytics_cache.backend_for(on_redis), cache.RedisBackend)


def test_a_bug_in_a_load_is_recorded_by_its_kind_and_its_text_stays_in_the_log(
        settings, tmp_path, monkeypatch, caplog):
    from core.orm import DataLoad
    from data import loader

    def crash(*_args, **_kwargs):
        raise KeyError("/srv/secret/path column")
    monkeypatch.setattr(loader, "load_file", crash)
    db.migrate(settings.database_url)
    path = tmp_path / "shop.csv"
    path.write_text(FILE)
    with pytest.raises(KeyError):
        run_load(settings, path=path, format="online-retail")
    with db.session_scope(settings.database_url) as session:
        record = session.query(DataLoad).one()
        assert record.status == "failed"
        assert record.error == ("internal error (KeyError); the details are in the server log")
    assert "/srv/secret/path" in caplog.text


def test_a_refused_load_records_the_users_message(settings, tmp_path):
    db.migrate(settings.database_url)
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    record = run_load(settings, path=path, format="online-retail")
    assert record.status == "failed" and "empty" in record.error.lower()


def test_uploads_older_than_the_keep_days_are_pruned_after_a_load(settings, tmp_path):
    import os
    import time

    from core.loads import prune_uploads

    db.migrate(settings.database_url)
    settings.uploads.mkdir(parents=True)
    old, recent, loaded = (settings.uploads / name for name in ("old.csv", "recent.csv",
                                                                 "loaded.csv"))
    for path in (old, recent, loaded):
        path.write_text(FILE)
    eight_days_ago = time.time() - 8 * 86400
    os.utime(old, (eight_days_ago, eight_days_ago))
    assert run_load(settings, path=loaded, format="online-retail").status == "done"
    # kept UPLOAD_KEEP_DAYS (7) for diagnosis, the loaded file too; older ones are gone
    assert sorted(p.name for p in settings.uploads.iterdir()) == ["loaded.csv", "recent.csv"]
    assert settings.upload_keep_days == 7
    # a refused load prunes too, and keeping 0 days deletes every upload
    none_kept = settings.with_overrides(upload_keep_days=0)
    assert run_load(none_kept, path=tmp_path / "missing.csv").status == "failed"
    assert list(settings.uploads.iterdir()) == []
    assert prune_uploads(settings) == []


def test_a_published_load_warms_the_overviews_saved_views_under_their_owners_scope(
        settings, tmp_path, process_cache):
    import datetime as dt

    from analytics.filters import Scope
    from analytics.kpis import kpi_summary
    from core.orm import SavedView
    from tests.workers.support import add_user

    db.migrate(settings.database_url)
    france = add_user(settings, "fr@example.com", "viewer", ["FR"])
    gone = add_user(settings, "gone@example.com", "analyst", active=False)
    january = "start=2011-01-01&end=2011-01-31"
    with db.session_scope(settings.database_url) as session:
        session.add_all([
            SavedView(owner_id=france, name="January", page="/", filters=january),
            SavedView(owner_id=france, name="Products", page="/products",
                      filters="start=2011-01-02&end=2011-01-31"),
            SavedView(owner_id=gone, name="Old", page="/", filters="start=2011-01-03"
                      "&end=2011-01-31")])
    path = tmp_path / "shop.csv"
    path.write_text(FILE)
    record = run_load(settings, path=path, format="online-retail")
    assert record.status == "done"

    warehouse = Warehouse(settings.warehouse_url)
    try:
        def stored(filters: Filters, scope: Scope) -> list[bool]:
            resolved = period.resolve(warehouse, filters, record.version)
            return [process_cache.get(cache.default_cache().key(
                func, warehouse, resolved, scope, record.version, options)) is not None
                for func, options in cache.default_view_calls()]

        saved = Filters.from_query(january)
        assert all(stored(saved, Scope.of(["FR"])))
        assert not any(stored(saved, ALL_DATA))          # the owner's scope, not all data
        assert not any(stored(Filters(start=dt.date(2011, 1, 2), end=dt.date(2011, 1, 31)),
                              Scope.of(["FR"])))         # another page's view
        assert not any(stored(Filters(start=dt.date(2011, 1, 3), end=dt.date(2011, 1, 31)),
                              ALL_DATA))                 # an inactive owner's view
        # what the pages ask for is now a cache hit: nothing is computed or written again
        written = len(process_cache.written)
        cache.default_cache().call(kpi_summary, warehouse, saved, Scope.of(["FR"]))
        cache.default_cache().call(kpi_summary, warehouse, Filters(), ALL_DATA)
        assert len(process_cache.written) == written
    finally:
        warehouse.dispose()
