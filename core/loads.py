"""Running a data load for the app: the DataLoad row, the load itself, the audit event.

Used by the CLI (``flask --app wsgi data …``) and, later, by the upload page and the
worker. The DataLoad row is committed first (status "running"), so a load in progress is
visible; it is then marked "done" with the version, counts, quality report and seconds, or
"failed" with the error. The audit event is committed with the final state. After a
published load the default overview of the new version, and the overview's saved views
(``core.views.views_to_warm``, each under its owner's scope), are computed into the
analytics cache (``analytics.cache.warm_view``), so the first visitor does not wait for them.

Every load reads within the input limits of the settings (``Settings.load_limits``:
LOAD_*); ``force`` lifts only the rule that a replacing load may not shrink the data or
reject too many lines. After a file load, uploaded files older than UPLOAD_KEEP_DAYS are
deleted (``prune_uploads``): the file just loaded is kept that long for diagnosis.

A refused load (``data.loader.LoadError``: bad file, bad mapping, too many rejects, failed
publish; or any other ``ShoplensError``) is not an exception for the caller: the returned
row has status "failed" and the user-readable ``error``. Anything else (a bug) is recorded
as failed with its kind only (the text is logged) and re-raised.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from analytics import cache
from analytics.errors import ShoplensError
from analytics.warehouse import Warehouse
from core import audit, db, installation, panels
from core.orm import DataLoad, User, utcnow
from core.settings import Settings
from data import loader

log = logging.getLogger(__name__)

Progress = Callable[[int, str], None]


def run_load(settings: Settings, *, path: str | Path, format: str = "online-retail",
             mapping: dict | str | Path | None = None, append: bool = False,
             force: bool = False, user: User | None = None,
             progress: Progress | None = None) -> DataLoad:
    """Load a file (see data.loader.load_file) and record it. Returns the DataLoad row
    (detached; status "done" or "failed"). Then prunes old uploads."""
    path = Path(path)
    try:
        return _run(settings, source=path.name, format=format, append=append, user=user,
                    load=lambda warehouse: loader.load_file(
                        warehouse, path, format=format, mapping=mapping, append=append,
                        rejects_dir=settings.rejects_dir, progress=progress,
                        plausibility=settings.plausibility_limits(),
                        limits=settings.load_limits(), force=force,
                        currency=installation.set_currency(settings)))
    finally:
        prune_uploads(settings)


def run_sample_load(settings: Settings, name: str = "online-retail", *,
                    append: bool = False, force: bool = False, user: User | None = None,
                    progress: Progress | None = None) -> DataLoad:
    """Load a sample shipped with the package (``data.loader.SAMPLES``)."""
    return _run(settings, source=f"sample {name}", format=name, append=append, user=user,
                load=lambda warehouse: loader.load_sample(
                    warehouse, name, append=append, rejects_dir=settings.rejects_dir,
                    progress=progress, plausibility=settings.plausibility_limits(),
                    limits=settings.load_limits(), force=force))


def run_demo_load(settings: Settings, *, lines: int = 1_000_000, seed: int = 42,
                  user: User | None = None, progress: Progress | None = None) -> DataLoad:
    """Generate and publish the synthetic demo data (replaces the current data)."""
    return _run(settings, source=f"demo ({lines:,} lines, seed {seed})", format="demo",
                append=False, user=user,
                load=lambda warehouse: loader.load_demo(warehouse, lines=lines, seed=seed,
                                                        progress=progress))


def run_sessions_load(settings: Settings, *, path: str | Path, format: str = "ga4",
                      mapping: dict | str | Path | None = None, user: User | None = None
                      ) -> DataLoad:
    """Load a sessions file beside the current orders (``data.traffic.load_sessions``);
    recorded as a DataLoad of format "sessions" (the preset is in its quality report)."""
    from data import traffic
    path = Path(path)
    return _run(settings, source=path.name, format="sessions", append=False, user=user,
                load=lambda warehouse: traffic.load_sessions(
                    warehouse, path, format=format, mapping=mapping,
                    limits=settings.load_limits()))


def run_ads_load(settings: Settings, *, path: str | Path, format: str,
                 mapping: dict | str | Path | None = None, force: bool = False,
                 user: User | None = None) -> DataLoad:
    """Load an ad-spend file beside the current orders (``data.traffic.load_ads``);
    recorded as a DataLoad of format "google-ads", "meta-ads" or "ads-generic"."""
    from data import traffic
    path = Path(path)
    recorded = "ads-generic" if format == "generic" else format
    return _run(settings, source=path.name, format=recorded, append=False, user=user,
                load=lambda warehouse: traffic.load_ads(
                    warehouse, path, format=format, mapping=mapping,
                    # the currency amounts are shown in (set, stated by the orders, or the
                    # default): ads in another would be labelled with the wrong sign
                    limits=settings.load_limits(),
                    currency=installation.locale_for(settings, warehouse).currency,
                    force=force,
                    rejects_dir=settings.rejects_dir))


def prune_uploads(settings: Settings, now: datetime | None = None) -> list[Path]:
    """Delete the files of the uploads folder last written more than UPLOAD_KEEP_DAYS ago
    (``settings.upload_keep_days``); returns the deleted paths. A file that vanishes or
    cannot be deleted meanwhile is left to the next pruning."""
    folder = settings.uploads
    if not folder.is_dir():
        return []
    now = now or datetime.now(UTC)
    cutoff = (now - timedelta(days=settings.upload_keep_days)).timestamp()
    deleted = []
    for path in folder.iterdir():
        try:
            if path.is_file() and path.stat().st_mtime <= cutoff:
                path.unlink()
                deleted.append(path)
        except OSError as exc:
            log.warning("cannot prune the upload %s: %s", path.name, exc)
    if deleted:
        log.info("pruned %s uploads older than %s days", len(deleted), settings.upload_keep_days)
    return deleted


def last_loads(settings: Settings, limit: int = 5) -> list[DataLoad]:
    """The most recent DataLoad rows, newest first."""
    with db.session_scope(settings.database_url) as session:
        return list(session.query(DataLoad).order_by(DataLoad.id.desc()).limit(limit))


def _run(settings: Settings, *, source: str, format: str, append: bool, user: User | None,
         load: Callable[[Warehouse], loader.LoadResult]) -> DataLoad:
    with db.session_scope(settings.database_url) as session:
        record = DataLoad(user_id=user.id if user is not None else None, source=source,
                          format=format, mode="append" if append else "replace",
                          status="running")
        session.add(record)
    load_id = record.id
    started = time.perf_counter()
    warehouse = Warehouse(settings.warehouse_url)
    try:
        try:
            result = load(warehouse)
        except ShoplensError as exc:  # a refused load (LoadError) or another user error
            return _finish_failed(settings, load_id, exc.message, started, user)
        except Exception as exc:
            # a bug: its text (paths, SQL) stays in the log, the history names the kind
            log.exception("data load %s failed unexpectedly", load_id)
            _finish_failed(settings, load_id, f"internal error ({type(exc).__name__}); the "
                           "details are in the server log", started, user)
            raise
        record = _finish_done(settings, load_id, result, started, user, source, format)
        # after the publish and the load's row: the new version is already served
        warmed = (cache.warm_default_view(warehouse) + panels.warm(warehouse)
                  + _warm_saved_views(settings, warehouse))
        log.info("data version %s published; %s overview panels cached",
                 result.version, warmed)
        _evaluate_alerts(settings)
        return record
    finally:
        warehouse.dispose()


def _warm_saved_views(settings: Settings, warehouse: Warehouse) -> int:
    """The overview's saved views (``views.views_to_warm``), each under its owner's scope,
    into the analytics cache; a failure is logged, never fails the load."""
    from analytics.filters import Scope
    from core import views
    try:
        with db.session_scope(settings.database_url) as session:
            chosen = views.views_to_warm(session, warehouse)
        return sum(cache.warm_view(warehouse, filters, scope=Scope.of(countries))
                   for filters, countries in chosen)
    except Exception:
        log.exception("warming the saved views failed")
        return 0


def _evaluate_alerts(settings: Settings) -> None:
    """Alerts look at the data just published; their failure never fails the load."""
    try:
        from core import alert_runs
        fired = alert_runs.evaluate_all(settings)
        if fired:
            log.info("%s alert(s) fired after the load", len(fired))
    except Exception:
        log.exception("alerts could not be evaluated after the load")


def _finish_done(settings: Settings, load_id: int, result: loader.LoadResult,
                 started: float, user: User | None, source: str, format: str) -> DataLoad:
    with db.session_scope(settings.database_url) as session:
        record = session.get(DataLoad, load_id)
        record.status = "done"
        record.version = result.version
        record.lines_read = result.lines_read
        record.lines_loaded = result.lines_loaded
        record.lines_rejected = result.lines_rejected
        record.quality = result.quality
        record.rejects_path = str(result.rejects_path) if result.rejects_path else None
        record.seconds = round(time.perf_counter() - started, 3)
        record.finished_at = utcnow()
        audit.record(session, "data_load", actor=_actor(session, user), target=source,
                     detail={"load_id": load_id, "status": "done", "format": format,
                             "mode": record.mode, "version": result.version,
                             "lines_loaded": result.lines_loaded,
                             "lines_rejected": result.lines_rejected})
    return record


def _finish_failed(settings: Settings, load_id: int, error: str, started: float,
                   user: User | None) -> DataLoad:
    with db.session_scope(settings.database_url) as session:
        record = session.get(DataLoad, load_id)
        record.status = "failed"
        record.error = error
        record.seconds = round(time.perf_counter() - started, 3)
        record.finished_at = utcnow()
        audit.record(session, "data_load", actor=_actor(session, user), target=record.source,
                     detail={"load_id": load_id, "status": "failed", "format": record.format,
                             "mode": record.mode, "error": error})
    return record


def _actor(session, user: User | None) -> User | str:
    return session.merge(user) if user is not None else "cli"
