"""The warehouse: versioned storage of line items, dimensions and rollups.

A *data version* is a complete, immutable copy of the warehouse tables. Publishing writes a
new version beside the current one and then switches a pointer in one atomic step, so a
reader sees the old version or the new one, never a mix, and a failed load leaves the
previous version current.

* DuckDB (embedded default, ``duckdb:///path/to/folder``): one file per version,
  ``v000007.duckdb``, and a ``CURRENT`` file holding the version number, replaced with
  ``os.replace``. Readers open version files read-only, so any number of processes can read
  while a loader writes the next file.
* PostgreSQL (``postgresql://…``): one schema per version, ``shoplens_v000007``, and the
  pointer row ``shoplens_meta.current_version``, updated in one transaction. Readers map the
  tables' schema with SQLAlchemy's ``schema_translate_map``, so the same Core statements
  run on both engines.
* ClickHouse (``clickhouse://user:password@host:8123/shoplens`` over HTTP, or
  ``chdb:///path/to/folder`` embedded): one database per version, ``shoplens_v000007``
  (the URL's database names the prefix), and the pointer table
  ``shoplens_meta.current_version``: a version is current once its row is there (one row
  inserted in one step; the highest version wins). chDB also writes the number to the
  folder's ``CURRENT`` file after the row, which its readers read (no query per request). The statements reach ClickHouse through
  ``analytics.clickhouse``'s dialect; see docs/deployment.md.
"""
from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import fcntl
import heapq
import io
import itertools
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from analytics import schema
from analytics.errors import NotFound, Unavailable

log = logging.getLogger(__name__)

#: The ClickHouse kinds of warehouse: a server over HTTP, and chDB in this process.
CLICKHOUSE_KINDS = ("clickhouse", "chdb")
KEEP_VERSIONS = 3  # old versions kept for readers still holding them, and for diagnosis
#: Seconds a read statement may run before the warehouse stops it (``QueryTimeout``): one
#: runaway query must not hold a worker thread, memory and the database for minutes.
DEFAULT_STATEMENT_TIMEOUT = 30.0


class WarehouseError(Unavailable):
    """A warehouse operation failed; the message is meant for the user."""


class QueryTimeout(WarehouseError):
    """A read statement ran past the warehouse's statement time-out and was stopped."""

    def __init__(self, seconds: float):
        super().__init__(f"This query took longer than {seconds:g} s and was stopped: "
                         "narrow the period or the filters, or try again later.")


class NoDataError(NotFound, WarehouseError):
    """No data version has been published yet."""

    def __init__(self, message: str = "No data has been loaded yet: run "
                 "`flask --app wsgi data demo` or `flask --app wsgi data load FILE`."):
        super().__init__(message)


@dataclass(frozen=True)
class VersionInfo:
    version: int
    created_at: dt.datetime
    source: str | None
    line_count: int
    min_ts: dt.datetime | None
    max_ts: dt.datetime | None
    has_cost: bool
    has_sessions: bool
    quality: dict


def normalise_url(url: str) -> str:
    """Map ``postgresql://`` and ``postgres://`` to the psycopg 3 driver."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


class Warehouse:
    """Handle on a warehouse URL. Cheap to create; engines are made lazily and reused.

    Thread-safe for readers. ``publish`` takes an exclusive lock (file lock on DuckDB,
    advisory lock on PostgreSQL), so two loads never write the same version.
    """

    def __init__(self, url: str, statement_timeout: float | None = DEFAULT_STATEMENT_TIMEOUT):
        """``statement_timeout``: seconds a read statement may run (None or 0: no limit);
        past it the statement is stopped (PostgreSQL ``statement_timeout``, DuckDB
        ``interrupt``) and ``connect`` raises ``QueryTimeout``. Loads are not limited."""
        self.url = normalise_url(url)
        self.statement_timeout = statement_timeout or None
        self.kind = ("postgresql" if self.url.startswith("postgresql")
                     else "chdb" if self.url.startswith("chdb:")
                     else "clickhouse" if self.url.startswith(("clickhouse:", "clickhouse+http:"))
                     else "duckdb")
        #: whether reading the filtered rows once (a CTE) and grouping them twice beats
        #: distinct counts in one scan (kpis, series): measured at 1M lines, yes on DuckDB;
        #: no on PostgreSQL (kpi_summary 1.1 s -> 4.4 s) nor ClickHouse (a CTE runs once
        #: per reference)
        self.reuses_ctes = self.kind == "duckdb"
        #: whether statements may run at once from threads of this process (``at_once``):
        #: DuckDB and PostgreSQL work outside the GIL; chDB's sessions are not shared
        self.reads_in_threads = self.kind in ("duckdb", "postgresql")
        if self.kind == "chdb":
            if not self.url.startswith("chdb:///"):
                raise WarehouseError(f"Unsupported WAREHOUSE_URL {url!r}: use chdb:///FOLDER")
            self.folder = Path(self.url[len("chdb:///"):])
        if self.kind in CLICKHOUSE_KINDS:
            database = (sa.engine.make_url(self.url).database
                        if self.kind == "clickhouse" else None)
            #: prefix of the version databases and of the pointer's database
            self.ch_prefix = database or "shoplens"
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", self.ch_prefix):
                raise WarehouseError(f"WAREHOUSE_URL's database {self.ch_prefix!r} is not a "
                                     "plain name (letters, digits, _)")
        #: the ClickHouse cluster versions are laid out on (``?cluster=``, set from
        #: CLICKHOUSE_CLUSTER by ``core.settings``); None: one server
        self.cluster = (sa.engine.make_url(self.url).query.get("cluster") or None
                        if self.kind == "clickhouse" else None)
        if self.cluster is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*",
                                                         self.cluster):
            raise WarehouseError(f"ClickHouse cluster name {self.cluster!r} is not a plain "
                                 "name (letters, digits, _)")
        if self.kind == "duckdb":
            if not self.url.startswith("duckdb:///"):
                raise WarehouseError(f"Unsupported WAREHOUSE_URL {url!r}: use duckdb:///FOLDER "
                                     "or postgresql://…")
            self.folder = Path(self.url[len("duckdb:///"):])
            if self.folder.suffix == ".duckdb":
                raise WarehouseError("WAREHOUSE_URL for DuckDB names a folder (one file per "
                                     "data version), not a .duckdb file")
        self._engines: dict[int, sa.Engine] = {}
        self._lock = threading.Lock()
        self._pg_engine: sa.Engine | None = None

    def __repr__(self) -> str:
        return f"Warehouse({self.kind}, {self.url.split('@')[-1]!r})"

    # ----------------------------------------------------------------- reading
    def current_version(self) -> int | None:
        """The published version readers should use, or None before the first load."""
        if self.kind == "duckdb":
            try:
                text = (self.folder / "CURRENT").read_text().strip()
            except FileNotFoundError:
                return None
            return int(text) if text else None
        if self.kind in CLICKHOUSE_KINDS:
            return self._ch_current_version()
        engine = self._pg()
        with engine.connect() as conn:
            try:
                return conn.execute(sa.text(
                    "SELECT version FROM shoplens_meta.current_version")).scalar()
            except sa.exc.ProgrammingError:
                return None

    def require_version(self) -> int:
        version = self.current_version()
        if version is None:
            raise NoDataError()
        return version

    @contextlib.contextmanager
    def connect(self, version: int | None = None) -> Iterator[sa.Connection]:
        """A read connection on ``version`` (default: current) where the tables of
        ``analytics.schema`` resolve to that version."""
        version = self.require_version() if version is None else version
        try:
            if self.kind == "duckdb":
                with self._duckdb_engine(version).connect() as conn:
                    yield conn
            elif self.kind in CLICKHOUSE_KINDS:
                with self._ch_engine(version).connect() as conn:
                    yield conn
            else:
                with self._pg().connect() as conn:
                    yield conn.execution_options(
                        schema_translate_map={None: self.pg_schema(version)})
        except sa.exc.DBAPIError as exc:
            if _timed_out(exc):
                raise QueryTimeout(self.statement_timeout or 0) from exc
            raise

    def version_info(self, version: int | None = None) -> VersionInfo:
        with self.connect(version) as conn:
            row = conn.execute(sa.select(schema.version_info)).mappings().one()
        return VersionInfo(
            version=row["version"], created_at=row["created_at"], source=row["source"],
            line_count=row["line_count"], min_ts=row["min_ts"], max_ts=row["max_ts"],
            has_cost=bool(row["has_cost"]), has_sessions=bool(row["has_sessions"]),
            quality=json.loads(row["quality_json"] or "{}"))

    def read_lines(self, version: int | None = None) -> pd.DataFrame:
        """All line items of a version as a line-item frame (used by ``--append``)."""
        with self.connect(version) as conn, _unlimited(conn, self.kind):  # a load's read
            # a version published before a column existed (discount) reads it as null
            present = table_columns(conn, schema.fact_lines.name)
            cols = [schema.fact_lines.c[name] for name in schema.LINE_COLUMNS if name in present]
            frame = pd.read_sql(sa.select(*cols).order_by(schema.fact_lines.c.line_id), conn)
        return coerce_lines(frame)

    def read_sessions(self, version: int | None = None) -> pd.DataFrame:
        with self.connect(version) as conn, _unlimited(conn, self.kind):  # a load's read
            present = table_columns(conn, schema.daily_sessions.name)
            # a version published before the funnel columns existed has none of them
            columns = [c for c in schema.daily_sessions.columns if c.name in present]
            frame = pd.read_sql(sa.select(*columns), conn)
        return coerce_sessions(frame)

    def read_ad_spend(self, version: int | None = None) -> pd.DataFrame:
        """The ad-spend rows of a version (``schema.AD_COLUMNS``); none for a version
        published before the table existed."""
        with self.connect(version) as conn, _unlimited(conn, self.kind):  # a load's read
            if not has_table(conn, schema.ad_spend.name):
                return coerce_ad_spend(pd.DataFrame(columns=list(schema.AD_COLUMNS)))
            frame = pd.read_sql(sa.select(schema.ad_spend), conn)
        return coerce_ad_spend(frame)

    # ---------------------------------------------------------------- engines
    def pg_schema(self, version: int) -> str:
        return f"shoplens_v{version:06d}"

    def version_path(self, version: int) -> Path:
        return self.folder / f"v{version:06d}.duckdb"

    def _pg(self) -> sa.Engine:
        if self._pg_engine is None:
            with self._lock:
                if self._pg_engine is None:
                    options = ({"options": "-c statement_timeout="
                                           f"{int(self.statement_timeout * 1000)}"}
                               if self.statement_timeout else {})
                    self._pg_engine = sa.create_engine(self.url, pool_pre_ping=True,
                                                       connect_args=options)
        return self._pg_engine

    def _duckdb_engine(self, version: int) -> sa.Engine:
        engine = self._engines.get(version)
        if engine is not None:
            return engine
        with self._lock:
            engine = self._engines.get(version)
            if engine is None:
                path = self.version_path(version)
                if not path.exists():
                    raise WarehouseError(f"Data version {version} is missing ({path})")
                engine = sa.create_engine(
                    f"duckdb:///{path}",
                    connect_args={"read_only": True, "config": {"threads": 2}},
                    pool_size=4, max_overflow=8)
                # DuckDB's in_clause optimizer stays on: on DuckDB 2 it evaluates the filters'
                # IN lists of dimension values in about half the time of one-by-one compares
                if self.statement_timeout:
                    _limit_duckdb_statements(engine, self.statement_timeout)
                # duckdb_engine turns SQLAlchemy's compiled-statement cache off; the analytics
                # statements compile the same for every filter (values are bound), and
                # compiling them again costs more than running them on the rollups
                engine.dialect._supports_statement_cache = True
                # a version's file is read-only and never changes: there is no transaction to
                # begin or roll back (each is a statement of its own, ~0.2 ms a connection,
                # and a page's answers open a few dozen connections)
                engine.dialect.do_begin = _no_transaction
                engine.dialect.do_rollback = _no_transaction
                self._engines[version] = engine
                # forget engines of versions nobody should read any more
                for old in [v for v in self._engines if v < version - KEEP_VERSIONS]:
                    self._engines.pop(old).dispose()
        return engine

    def ch_database(self, version: int) -> str:
        return f"{self.ch_prefix}_v{version:06d}"

    def _ch_engine(self, version: int | None) -> sa.Engine:
        """An engine whose connections read ``version``'s database (None: the server's
        default database, for the pointer and the loads). chDB engines keep no pool, so
        that the process's chDB can move to another folder between connections."""
        key = -1 if version is None else version
        engine = self._engines.get(key)
        if engine is not None:
            return engine
        import analytics.clickhouse  # noqa: F401 - registers the dialect
        with self._lock:
            engine = self._engines.get(key)
            if engine is None:
                args = {"database": None if version is None else self.ch_database(version),
                        "statement_timeout": self.statement_timeout, "cluster": self.cluster}
                if self.kind == "chdb":
                    engine = sa.create_engine("clickhouse+chdb://", poolclass=sa.pool.NullPool,
                                              connect_args={**args, "path": str(self.folder)})
                else:
                    url = sa.engine.make_url(self.url).set(
                        drivername="clickhouse+http", database=None
                    ).difference_update_query(["cluster"])
                    engine = sa.create_engine(url, connect_args=args, pool_pre_ping=True)
                self._engines[key] = engine
                if version is not None:
                    for old in [v for v in self._engines if 0 <= v < version - KEEP_VERSIONS]:
                        self._engines.pop(old).dispose()
        return engine

    def _ch_current_version(self) -> int | None:
        if self.kind == "chdb":  # the pointer row's copy, written after it (one process)
            try:
                text = (self.folder / "CURRENT").read_text().strip()
            except FileNotFoundError:
                return None
            return int(text) if text else None
        meta = f"{self.ch_prefix}_meta"
        with self._ch_engine(None).connect() as conn:
            exists = conn.execute(sa.text(
                "SELECT count() FROM system.tables WHERE database = :db "
                "AND name = 'current_version'"), {"db": meta}).scalar()
            if not exists:
                return None
            return conn.execute(sa.text(
                f"SELECT max(version) FROM {meta}.current_version")).scalar()

    def at_once(self, calls: list[Callable[[], object]]) -> list:
        """The results of ``calls`` (functions of no argument that read this warehouse),
        in their order: run at once in threads where ``reads_in_threads``, each in a copy
        of the caller's context (the planner's switches are context variables), else one
        after the other. An exception of a call is raised here."""
        if len(calls) < 2 or not self.reads_in_threads:
            return [call() for call in calls]
        contexts = [contextvars.copy_context() for _ in calls]
        with ThreadPoolExecutor(max_workers=len(calls)) as pool:
            return list(pool.map(lambda context, call: context.run(call), contexts, calls))

    def dispose(self) -> None:
        for engine in self._engines.values():
            engine.dispose()
        self._engines.clear()
        if self._pg_engine is not None:
            self._pg_engine.dispose()
            self._pg_engine = None

    # ---------------------------------------------------------------- writing
    def publish(self, lines: pd.DataFrame, sessions: pd.DataFrame | None = None, *,
                source: str = "", quality: dict | None = None,
                ad_spend: pd.DataFrame | None = None) -> int:
        """Write a new data version from a line-item frame and make it current.

        Everything is written and checked before the pointer moves; on any error the
        half-written version is removed and the previous version stays current.
        Returns the new version number.
        """
        lines = coerce_lines(lines)
        sessions = coerce_sessions(sessions if sessions is not None
                                   else pd.DataFrame(columns=list(schema.SESSION_COLUMNS)))
        ad_spend = coerce_ad_spend(ad_spend if ad_spend is not None
                                   else pd.DataFrame(columns=list(schema.AD_COLUMNS)))
        with self._publish_lock():
            return self._write_version(lines, sessions, ad_spend, source, quality)

    def publish_traffic(self, *, sessions: pd.DataFrame | None = None,
                        ad_spend: pd.DataFrame | None = None, source: str = "",
                        quality: dict | None = None) -> int:
        """Publish a new version holding the current version's order lines with new traffic
        or advertising rows: ``sessions`` replace the current sessions of the days they
        cover, ``ad_spend`` the current ad rows of the (day, channel) pairs it covers; the
        rest is kept. The current version is read under the publish lock, so a load
        published meanwhile is never lost. ``quality`` is added to the current version's
        report under ``"sessions_load"`` or ``"ad_spend_load"``. Atomic like ``publish``:
        on any error the current version stays as it was."""
        with self._publish_lock():
            current = self.require_version()
            info = self.version_info(current)
            lines = self.read_lines(current)
            current_sessions = self.read_sessions(current)
            current_ads = self.read_ad_spend(current)
            report = dict(info.quality)
            if sessions is not None:
                sessions = coerce_sessions(sessions)
                days = set(sessions["session_date"].dt.normalize())
                kept = current_sessions.loc[
                    ~current_sessions["session_date"].dt.normalize().isin(days)]
                current_sessions = pd.concat([kept, sessions], ignore_index=True)
                report["sessions_load"] = quality or {}
            if ad_spend is not None:
                ad_spend = coerce_ad_spend(ad_spend)
                covered = pd.MultiIndex.from_frame(ad_spend[["ad_date", "channel"]]
                                                   .drop_duplicates())
                keys = pd.MultiIndex.from_frame(current_ads[["ad_date", "channel"]])
                current_ads = pd.concat([current_ads.loc[~keys.isin(covered)], ad_spend],
                                        ignore_index=True)
                report["ad_spend_load"] = quality or {}
            return self._write_version(lines, coerce_sessions(current_sessions),
                                       coerce_ad_spend(current_ads),
                                       info.source or source, report)

    def _write_version(self, lines: pd.DataFrame, sessions: pd.DataFrame,
                       ad_spend: pd.DataFrame, source: str, quality: dict | None) -> int:
        """Write and switch to the next version (the caller holds the publish lock)."""
        version = self._next_version()
        info = {
            "version": version,
            "created_at": dt.datetime.now().replace(microsecond=0),
            "source": source,
            "line_count": len(lines),
            "min_ts": lines["invoice_ts"].min() if len(lines) else None,
            "max_ts": lines["invoice_ts"].max() if len(lines) else None,
            "has_cost": bool(lines["unit_cost"].notna().any()),
            "has_sessions": bool(len(sessions)),
            "quality_json": json.dumps(quality or {}, default=str),
        }
        if self.kind == "duckdb":
            self._publish_duckdb(version, lines, sessions, info, ad_spend)
        elif self.kind in CLICKHOUSE_KINDS:
            self._publish_clickhouse(version, lines, sessions, info, ad_spend)
        else:
            self._publish_pg(version, lines, sessions, info, ad_spend)
        log.info("published data version %s (%s lines) on %s", version, len(lines), self)
        return version

    @contextlib.contextmanager
    def _publish_lock(self) -> Iterator[None]:
        if self.kind == "clickhouse":
            # no lock on a server: two loads cannot write the same version, since
            # CREATE DATABASE of an existing version database fails (the second load)
            yield
        elif self.kind in ("duckdb", "chdb"):
            self.folder.mkdir(parents=True, exist_ok=True)
            with open(self.folder / "LOCK", "w") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(handle, fcntl.LOCK_UN)
        else:
            with self._pg().connect() as conn:
                # waiting for another load is no runaway read; RESET restores the limit
                # before the connection goes back to the pool
                conn.execute(sa.text("SET statement_timeout = 0"))
                conn.execute(sa.text("SELECT pg_advisory_lock(7355001)"))
                try:
                    yield
                finally:
                    conn.execute(sa.text("SELECT pg_advisory_unlock(7355001)"))
                    conn.execute(sa.text("RESET statement_timeout"))

    def _next_version(self) -> int:
        if self.kind == "duckdb":
            numbers = [int(m.group(1)) for p in self.folder.glob("v*.duckdb*")
                       if (m := re.match(r"v(\d+)\.duckdb", p.name))]
        elif self.kind in CLICKHOUSE_KINDS:
            with self._ch_engine(None).connect() as conn:
                names = conn.execute(sa.text(
                    "SELECT name FROM system.databases WHERE startsWith(name, :prefix)"),
                    {"prefix": f"{self.ch_prefix}_v"}).scalars()
                numbers = [int(n[len(self.ch_prefix) + 2:]) for n in names
                           if n[len(self.ch_prefix) + 2:].isdigit()]
        else:
            with self._pg().connect() as conn:
                names = conn.execute(sa.text(
                    "SELECT schema_name FROM information_schema.schemata "
                    "WHERE schema_name LIKE 'shoplens_v%'")).scalars()
                numbers = [int(n[len("shoplens_v"):]) for n in names]
        return max(numbers + [self.current_version() or 0]) + 1

    def _publish_duckdb(self, version: int, lines: pd.DataFrame, sessions: pd.DataFrame,
                        info: dict, ad_spend: pd.DataFrame) -> None:
        import duckdb

        final = self.version_path(version)
        partial = final.with_name(final.name + ".partial")
        partial.unlink(missing_ok=True)
        try:
            con = duckdb.connect(str(partial))
            try:
                con.execute("SET preserve_insertion_order = false")
                con.execute("SET enable_progress_bar = false")  # no bars in CLI output
                _create_tables(con, dialect="duckdb")
                con.register("incoming_lines", lines)
                con.execute(_insert_facts_sql("incoming_lines"))
                con.unregister("incoming_lines")
                con.register("incoming_sessions", sessions)
                con.execute(_insert_sessions_sql("incoming_sessions"))
                con.unregister("incoming_sessions")
                con.register("incoming_ad_spend", ad_spend)
                con.execute(_insert_ad_spend_sql("incoming_ad_spend"))
                con.unregister("incoming_ad_spend")
                from analytics import rollups
                for statement in rollups.build_statements("duckdb"):
                    con.execute(statement)
                con.execute("INSERT INTO version_info VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            [info[c.name] for c in schema.version_info.columns])
                con.execute("CHECKPOINT")
            finally:
                con.close()
            os.replace(partial, final)
            _atomic_write(self.folder / "CURRENT", f"{version}\n")
        except BaseException:
            partial.unlink(missing_ok=True)
            partial.with_name(partial.name + ".wal").unlink(missing_ok=True)
            raise
        self._prune_duckdb(version)

    def _publish_clickhouse(self, version: int, lines: pd.DataFrame, sessions: pd.DataFrame,
                            info: dict, ad_spend: pd.DataFrame) -> None:
        """Write the version's database (frames staged through Arrow, then the same
        INSERT … SELECT and rollup statements as the other engines), then insert the
        pointer row; a failure drops the half-written database. On a cluster the same
        steps run ``ON CLUSTER``, through Distributed tables (``clickhouse.VersionLayout``
        says what differs)."""
        import pyarrow as pa

        from analytics import clickhouse, rollups
        database = self.ch_database(version)
        meta = f"{self.ch_prefix}_meta"
        for frame, column in ((lines, "invoice_ts"), (sessions, "session_date"),
                              (ad_spend, "ad_date")):
            if len(frame) and (frame[column].min() < clickhouse.FIRST_TIME
                               or frame[column].max() > clickhouse.LAST_TIME):
                raise WarehouseError(
                    f"ClickHouse stores times from {clickhouse.FIRST_TIME:%Y} to "
                    f"{clickhouse.LAST_TIME:%Y} only: this file has {column} from "
                    f"{frame[column].min():%Y-%m-%d} to {frame[column].max():%Y-%m-%d}")
        layout = clickhouse.VersionLayout(self.cluster)
        with self._ch_engine(None).connect() as conn:
            raw = conn.connection.dbapi_connection
            raw.unlimited = True  # a load may be long
            cursor = raw.cursor()
            cursor.execute(layout.create_database(database))
            try:
                raw.database = database
                for statement in layout.create_tables(database):
                    cursor.execute(statement)
                staged = (("incoming_lines", lines, schema.LINE_COLUMNS),
                          ("incoming_sessions", sessions, {**schema.SESSION_COLUMNS,
                                                           **schema.SESSION_FUNNEL_COLUMNS}),
                          ("incoming_ad_spend", ad_spend, schema.AD_COLUMNS))
                for name, frame, columns in staged:  # on the node this load talks to
                    cursor.execute(clickhouse.staging_sql(name, columns, "load_ordinal Int64"))
                    arrow = clickhouse.frame_to_arrow(frame, columns).append_column(
                        "load_ordinal", pa.array(range(len(frame)), type=pa.int64()))
                    raw.insert_arrow(name, arrow)
                # the source's order breaks ties of line ids (ClickHouse reads a table in
                # no set order: row_number() OVER () would not say the file's order)
                writes = [_insert_facts_sql("incoming_lines", ordinal="load_ordinal"),
                          _insert_sessions_sql("incoming_sessions"),
                          _insert_ad_spend_sql("incoming_ad_spend")]
                for statement in writes:
                    for step in layout.write(statement, database):
                        cursor.execute(step)
                for name, _frame, _columns in staged:
                    cursor.execute(f"DROP TABLE {name}")
                for statement in rollups.build_statements("clickhouse"):
                    for step in layout.write(statement, database):
                        cursor.execute(step)
                cursor.execute(
                    "INSERT INTO version_info VALUES "
                    + clickhouse.literal(tuple(info[c.name] for c in schema.version_info.columns)))
                for statement in [*layout.before_switch(database),
                                  *layout.switch(meta, version)]:
                    cursor.execute(statement)
                if self.kind == "chdb":  # read by every request: a file, not a query
                    _atomic_write(self.folder / "CURRENT", f"{version}\n")
            except BaseException as exc:
                cursor.execute(layout.drop_database(database))
                if isinstance(exc, clickhouse.Error):  # as the other engines' SQL errors
                    raise WarehouseError(f"ClickHouse: {exc}") from exc
                raise
            for old in range(max(1, version - 50), version - KEEP_VERSIONS + 1):
                cursor.execute(layout.drop_database(self.ch_database(old)))
                engine = self._engines.pop(old, None)
                if engine is not None:
                    engine.dispose()

    def _prune_duckdb(self, current: int) -> None:
        for path in self.folder.glob("v*.duckdb"):
            match = re.match(r"v(\d+)\.duckdb$", path.name)
            if match and int(match.group(1)) <= current - KEEP_VERSIONS:
                path.unlink(missing_ok=True)

    def _publish_pg(self, version: int, lines: pd.DataFrame, sessions: pd.DataFrame,
                    info: dict, ad_spend: pd.DataFrame) -> None:
        target = self.pg_schema(version)
        engine = self._pg()
        try:
            with engine.begin() as conn:
                conn.execute(sa.text("SET LOCAL statement_timeout = 0"))  # a load may be long
                conn.execute(sa.text(f'CREATE SCHEMA "{target}"'))
                conn = conn.execution_options(schema_translate_map={None: target})
                conn.execute(sa.text(f'SET LOCAL search_path TO "{target}"'))
                _create_tables(conn, dialect="postgresql")
                raw = conn.connection.driver_connection
                _pg_copy(raw, "incoming_lines", lines, _PG_STAGING_LINES)
                conn.execute(sa.text(_insert_facts_sql("incoming_lines")))
                _pg_copy(raw, "incoming_sessions", sessions, _PG_STAGING_SESSIONS)
                conn.execute(sa.text(_insert_sessions_sql("incoming_sessions")))
                _pg_copy(raw, "incoming_ad_spend", ad_spend, _PG_STAGING_AD_SPEND)
                conn.execute(sa.text(_insert_ad_spend_sql("incoming_ad_spend")))
                from analytics import rollups
                for statement in rollups.build_statements("postgresql"):
                    conn.execute(sa.text(statement))
                conn.execute(schema.version_info.insert().values(**info))
                conn.execute(sa.text("ANALYZE"))
            with engine.begin() as conn:
                conn.execute(sa.text("CREATE SCHEMA IF NOT EXISTS shoplens_meta"))
                conn.execute(sa.text("CREATE TABLE IF NOT EXISTS shoplens_meta.current_version "
                                     "(version integer NOT NULL)"))
                conn.execute(sa.text("LOCK TABLE shoplens_meta.current_version"))
                conn.execute(sa.text("DELETE FROM shoplens_meta.current_version"))
                conn.execute(sa.text("INSERT INTO shoplens_meta.current_version VALUES (:v)"),
                             {"v": version})
        except BaseException:
            with engine.begin() as conn:
                conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{target}" CASCADE'))
            raise
        with engine.begin() as conn:
            for old in range(max(1, version - 50), version - KEEP_VERSIONS + 1):
                conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{self.pg_schema(old)}" CASCADE'))


# ------------------------------------------------------------------------- helpers
def coerce_lines(frame: pd.DataFrame) -> pd.DataFrame:
    """Return ``frame`` with exactly the columns of ``schema.LINE_COLUMNS`` and their dtypes
    (missing optional columns become all-null)."""
    missing = [c for c in schema.REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise WarehouseError(f"line-item frame lacks required columns: {', '.join(missing)}")
    out = {}
    for name, dtype in schema.LINE_COLUMNS.items():
        if name in frame.columns:
            column = frame[name]
        elif name == "is_cancellation":
            column = pd.Series(False, index=frame.index)
        else:
            column = pd.Series(pd.NA, index=frame.index, dtype="object")
        if dtype.startswith("datetime64"):
            column = pd.to_datetime(column).astype(dtype)
        elif dtype == "string":
            column = column.astype("string")
        elif dtype == "bool":
            column = column.fillna(False).astype(bool)
        else:
            column = pd.to_numeric(column).astype(dtype)
        out[name] = column
    return pd.DataFrame(out, index=frame.index).reset_index(drop=True)


def coerce_sessions(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with the columns of ``schema.SESSION_COLUMNS`` and the optional funnel
    columns (``schema.SESSION_FUNNEL_COLUMNS``: null when absent)."""
    return _coerce(frame, {**schema.SESSION_COLUMNS, **schema.SESSION_FUNNEL_COLUMNS})


def coerce_ad_spend(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with exactly the columns of ``schema.AD_COLUMNS`` and their dtypes."""
    return _coerce(frame, schema.AD_COLUMNS)


def has_table(conn: sa.Connection, name: str) -> bool:
    """Whether the version ``conn`` reads has the table ``name`` (a version published
    before a table was added has not)."""
    return bool(table_columns(conn, name))


def table_columns(conn: sa.Connection, name: str) -> set[str]:
    """The column names of table ``name`` in the version ``conn`` reads (none: no table)."""
    if conn.dialect.name == "duckdb":
        rows = conn.execute(sa.text(
            "SELECT column_name FROM information_schema.columns WHERE table_name = :name"),
            {"name": name})
    elif conn.dialect.name == "clickhouse":
        rows = conn.execute(sa.text(
            "SELECT name FROM system.columns WHERE database = currentDatabase() "
            "AND table = :name"), {"name": name})
    else:
        schema_name = (conn.get_execution_options().get("schema_translate_map")
                       or {}).get(None)
        rows = conn.execute(sa.text(
            "SELECT column_name FROM information_schema.columns WHERE table_name = :name "
            "AND table_schema = COALESCE(:schema, current_schema())"),
            {"name": name, "schema": schema_name})
    return {row[0] for row in rows}


def _coerce(frame: pd.DataFrame, columns: dict[str, str]) -> pd.DataFrame:
    out = {}
    for name, dtype in columns.items():
        column = frame[name] if name in frame.columns else pd.Series(
            pd.NA, index=frame.index, dtype="object")
        if dtype.startswith("datetime64"):
            column = pd.to_datetime(column).astype(dtype)
        elif dtype == "string":
            column = column.astype("string")
        elif dtype == "Int64":
            column = pd.to_numeric(column.astype("object")).astype("Float64").round() \
                .astype("Int64")
        else:
            column = pd.to_numeric(column).astype(dtype)
        out[name] = column
    return pd.DataFrame(out, index=frame.index).reset_index(drop=True)


def _create_tables(target, dialect: str) -> None:
    """Create the version's tables; ``target`` is a DuckDB connection or a SQLAlchemy one."""
    if dialect == "duckdb":
        from sqlalchemy.dialects import postgresql
        from sqlalchemy.schema import CreateTable
        for table in schema.metadata.sorted_tables:
            ddl = str(CreateTable(table).compile(dialect=postgresql.dialect()))
            # PostgreSQL's FLOAT is 8 bytes, DuckDB's is 4: spell out DOUBLE so money
            # keeps float64 precision on both engines
            ddl = re.sub(r"\bFLOAT\b", "DOUBLE", ddl.replace("DOUBLE PRECISION", "DOUBLE"))
            target.execute(ddl)
    else:
        schema.metadata.create_all(target)


def _insert_facts_sql(source: str, ordinal: str = "row_number() OVER ()") -> str:
    """INSERT … SELECT that derives line_id, invoice_date, values and the sale/return flags,
    writing facts sorted by time so that date windows read contiguous blocks. ``ordinal``
    numbers the source's rows in their order (ties of time keep the source's order)."""
    return f"""
        INSERT INTO fact_lines
        SELECT row_number() OVER (ORDER BY invoice_ts, ordinal) AS line_id,
               invoice_id, invoice_ts, CAST(invoice_ts AS DATE) AS invoice_date,
               customer_id, product_id, description, quantity, unit_price,
               quantity * unit_price AS line_value,
               unit_cost, quantity * unit_cost AS cost_value,
               {", ".join(schema.DIMENSION_COLUMNS)}, is_cancellation,
               (quantity > 0 AND NOT is_cancellation AND unit_price > 0) AS is_sale,
               ((quantity < 0 OR is_cancellation) AND unit_price > 0) AS is_return,
               discount
        FROM (SELECT *, {ordinal} AS ordinal FROM {source}) AS numbered
        ORDER BY invoice_ts, ordinal
    """


def _insert_sessions_sql(source: str) -> str:
    columns = ", ".join(schema.SESSION_DIMENSION_COLUMNS)
    funnel = ", ".join(schema.SESSION_FUNNEL_COLUMNS)
    return (f"INSERT INTO daily_sessions SELECT CAST(session_date AS DATE), {columns}, "
            f"sessions, {funnel} FROM {source}")


def _insert_ad_spend_sql(source: str) -> str:
    columns = ", ".join(list(schema.AD_COLUMNS)[1:])
    return f"INSERT INTO ad_spend SELECT CAST(ad_date AS DATE), {columns} FROM {source}"


_PG_TYPES = {"string": "text", "float64": "double precision", "bool": "boolean",
             "int64": "bigint", "datetime64[us]": "timestamp", "Int64": "bigint"}


def _pg_staging(table: str, columns: dict[str, str]) -> str:
    """A temporary table with the columns of a frame contract (``schema.LINE_COLUMNS``),
    in its order: COPY fills it positionally from the frame."""
    body = ", ".join(f"{name} {_PG_TYPES[dtype]}" for name, dtype in columns.items())
    return f"CREATE TEMPORARY TABLE {table} ({body}) ON COMMIT DROP"


_PG_STAGING_LINES = _pg_staging("incoming_lines", schema.LINE_COLUMNS)
_PG_STAGING_SESSIONS = _pg_staging("incoming_sessions", {**schema.SESSION_COLUMNS,
                                                          **schema.SESSION_FUNNEL_COLUMNS})
_PG_STAGING_AD_SPEND = _pg_staging("incoming_ad_spend", schema.AD_COLUMNS)


def _pg_copy(raw, table: str, frame: pd.DataFrame, ddl: str) -> None:
    """Bulk-load ``frame`` into a temporary table with COPY (CSV through memory)."""
    with raw.cursor() as cursor:
        cursor.execute(ddl)
        buffer = io.StringIO()
        frame.to_csv(buffer, index=False, header=False, na_rep="\\N",
                     date_format="%Y-%m-%d %H:%M:%S.%f")
        buffer.seek(0)
        with cursor.copy(f"COPY {table} FROM STDIN WITH (FORMAT csv, NULL '\\N')") as copy:
            while chunk := buffer.read(1 << 20):
                copy.write(chunk)


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


class _Watchdog:
    """One daemon thread that calls each armed callback once its deadline passes, unless
    it was disarmed first. Arming costs a heap push under a lock: a ``threading.Timer`` per
    statement started a thread each time (about 1 ms, 25 times per filter change)."""

    def __init__(self) -> None:
        self._due: list[tuple[float, int, object]] = []
        self._live: set[int] = set()   # armed and neither fired nor disarmed
        self._condition = threading.Condition()
        self._ids = itertools.count()
        self._thread: threading.Thread | None = None

    def arm(self, seconds: float, callback) -> int:
        ticket = next(self._ids)
        with self._condition:
            heapq.heappush(self._due, (time.monotonic() + seconds, ticket, callback))
            self._live.add(ticket)
            if self._thread is None or not self._thread.is_alive():  # also after a fork
                self._thread = threading.Thread(target=self._run, name="shoplens-watchdog",
                                                daemon=True)
                self._thread.start()
            self._condition.notify()
        return ticket

    def reset(self) -> None:
        """Forget every deadline and the thread (in a forked child: the parent's thread
        is not there, and its lock may have been held at the fork)."""
        self._due, self._live = [], set()
        self._condition = threading.Condition()
        self._thread = None

    def disarm(self, ticket: int) -> None:
        with self._condition:
            self._live.discard(ticket)

    def _run(self) -> None:
        while True:
            with self._condition:
                while self._due and self._due[0][1] not in self._live:
                    heapq.heappop(self._due)
                if not self._due:
                    self._condition.wait()
                    continue
                deadline, ticket, callback = self._due[0]
                wait = deadline - time.monotonic()
                if wait > 0:
                    self._condition.wait(wait)
                    continue
                heapq.heappop(self._due)
                self._live.discard(ticket)
            try:
                callback()
            except Exception:  # a connection already closed: nothing left to stop
                log.debug("watchdog callback failed", exc_info=True)


_watchdog = _Watchdog()
os.register_at_fork(after_in_child=_watchdog.reset)


def _no_transaction(dbapi_connection) -> None:
    """BEGIN and ROLLBACK of a read-only DuckDB engine: nothing (see ``_duckdb_engine``)."""


def _limit_duckdb_statements(engine: sa.Engine, seconds: float) -> None:
    """DuckDB has no statement time-out: each statement arms the watchdog to interrupt its
    connection after ``seconds``, disarmed when the statement returns (a streamed result
    is bounded while DuckDB computes it, which is where the time goes)."""
    @sa.event.listens_for(engine, "before_cursor_execute")
    def arm(conn, _cursor, _statement, _parameters, _context, _executemany):
        if conn.info.get("shoplens_unlimited"):
            return
        conn.info["shoplens_timer"] = _watchdog.arm(
            seconds, conn.connection.dbapi_connection.interrupt)

    @sa.event.listens_for(engine, "after_cursor_execute")
    def disarm(conn, *_args):
        ticket = conn.info.pop("shoplens_timer", None)
        if ticket is not None:
            _watchdog.disarm(ticket)

    @sa.event.listens_for(engine, "handle_error")
    def disarm_on_error(context):
        ticket = context.connection.info.pop("shoplens_timer", None) \
            if context.connection is not None else None
        if ticket is not None:
            _watchdog.disarm(ticket)


@contextlib.contextmanager
def _unlimited(conn: sa.Connection, kind: str) -> Iterator[None]:
    """No statement time-out on ``conn`` inside the block (a load reading the whole current
    version for ``--append``); the limit is back before the connection returns to the
    pool."""
    if kind == "postgresql":
        conn.execute(sa.text("SET statement_timeout = 0"))
    elif kind in CLICKHOUSE_KINDS:
        conn.connection.dbapi_connection.unlimited = True
    else:
        conn.info["shoplens_unlimited"] = True
    try:
        yield
    finally:
        if kind == "postgresql":
            conn.execute(sa.text("RESET statement_timeout"))
        elif kind in CLICKHOUSE_KINDS:
            conn.connection.dbapi_connection.unlimited = False
        else:
            conn.info.pop("shoplens_unlimited", None)


def _timed_out(exc: sa.exc.DBAPIError) -> bool:
    """Whether the database stopped the statement for its time-out (PostgreSQL's
    query_canceled, SQLSTATE 57014; DuckDB's interrupt; ClickHouse's TIMEOUT_EXCEEDED)."""
    original = exc.orig
    return (getattr(original, "sqlstate", None) == "57014"
            or (type(original).__module__ == "analytics.clickhouse"
                and getattr(original, "code", None) == 159)
            or getattr(original, "pgcode", None) == "57014"
            or type(original).__name__ == "InterruptException")
