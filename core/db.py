"""Engine and sessions for the app database, and migrations on start-up."""
from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from analytics.warehouse import normalise_url

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
_engines: dict[str, sa.Engine] = {}
_lock = threading.Lock()


def get_engine(url: str) -> sa.Engine:
    """One engine per URL per process (SQLite gets WAL and a busy timeout, because the web
    server, the worker and the scheduler write to the same file)."""
    url = normalise_url(url)
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            if url.startswith("sqlite"):
                engine = sa.create_engine(url, connect_args={"timeout": 30,
                                                             "check_same_thread": False})
                sa.event.listen(engine, "connect", _sqlite_pragmas)
            else:
                engine = sa.create_engine(url, pool_pre_ping=True, pool_size=5,
                                          max_overflow=10)
            _engines[url] = engine
    return engine


def session_factory(url: str) -> sessionmaker[Session]:
    return sessionmaker(bind=get_engine(url), expire_on_commit=False)


@contextlib.contextmanager
def session_scope(url: str) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    session = session_factory(url)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def migrate(url: str) -> None:
    """Bring the app database to the newest Alembic revision."""
    from alembic import command
    from alembic.config import Config

    if url.startswith("sqlite:///"):
        Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    config.attributes["configure_logger"] = False
    command.upgrade(config, "head")


def dispose_all() -> None:
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


def forget_inherited() -> None:
    """In a forked child: drop the engines' pooled connections inherited from the parent
    without closing them (they are the parent's), so the child opens its own."""
    with _lock:
        for engine in _engines.values():
            engine.dispose(close=False)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
