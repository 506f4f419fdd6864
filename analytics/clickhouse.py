"""ClickHouse for the warehouse: a SQLAlchemy 2.1 dialect, a DB-API over chDB and HTTP,
the version tables' DDL, and the distributed layout of a cluster.

Why a dialect of our own: ``clickhouse-sqlalchemy`` pins SQLAlchemy < 2.1 and
``clickhouse-connect``'s dialect only reflects tables, it does not compile our statements.
ClickHouse (26.x) already understands almost all of the SQL the analytics write for DuckDB
and PostgreSQL — ``FILTER (WHERE …)`` (it rewrites it to the ``…If`` combinators itself,
also under ``OVER``), ``COUNT(DISTINCT …)`` (exact: ``uniqExact``), ``date_trunc`` (weeks
start on Monday, as on the other two), ``EXTRACT``, window functions, ``NULLS LAST``,
``ILIKE`` — so the statement compiler is PostgreSQL's with the few differences compiled:

* casts are to ``Nullable(T)`` (a ClickHouse type is not nullable unless it says so, and
  ``CAST(NULL AS Int64)`` is an error), with ClickHouse's type names;
* ``percentile_cont(p) WITHIN GROUP (ORDER BY x)`` is ``quantileExactInclusive(p)(x)`` (the
  same linear interpolation; plain ``median`` is sampled);
* ``x NOT IN (…)`` keeps PostgreSQL's answer for a NULL ``x`` (no row), where ClickHouse
  would count it in;
* bound values are written into the statement as typed literals (``toDate('2011-01-04')``,
  ``toDateTime64('…', 6, 'UTC')``): the DB-API below has one code path for chDB and HTTP.

Every connection also sets the few settings that make ClickHouse answer as SQL does
(``SESSION_SETTINGS``): NULL, not 0, from an outer join's missing side and from Σ of no rows;
column names before aliases. Tables are created by ``create_table_sql`` (MergeTree, facts
ordered by day and partitioned by month), never by ``metadata.create_all``.

Connections: ``chdb:///FOLDER`` runs ClickHouse inside this process. chDB allows one data
folder per process at a time, so ``ChdbHost`` keeps one, switches to another folder only when
no connection is open on the first (waiting for them), and the engines on chDB use no pool.
One folder is for one process (the web app *or* a worker): a deployment with several
processes uses a ClickHouse server (``clickhouse://user:password@host:8123/shoplens``,
through ``clickhouse-connect``'s HTTP client).
"""
from __future__ import annotations

import datetime as dt
import decimal
import math
import re
import threading
from collections.abc import Iterable

import pyarrow as pa
import pyarrow.ipc
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql.base import PGCompiler, PGDialect, PGTypeCompiler

#: Settings every connection runs with, so that ClickHouse answers as PostgreSQL and DuckDB:
#: an outer join's missing side and Σ over no rows are NULL (not 0 or ''), a column name
#: wins over a SELECT alias of the same name (``SUM(x) AS x … WHERE x > 0``), times are UTC.
SESSION_SETTINGS: dict[str, object] = {
    "join_use_nulls": 1,
    "aggregate_functions_null_for_empty": 1,
    "prefer_column_name_to_alias": 1,
    "session_timezone": "UTC",
    "output_format_arrow_string_as_string": 1,
    "union_default_mode": "DISTINCT",
    "cast_keep_nullable": 1,  # CAST(NULL-able AS DOUBLE PRECISION) in rollups' plain SQL
    # facts partitioned by month: 16 years of history are 192 partitions in one load
    "max_partitions_per_insert_block": 10000,
}
#: Settings added on a cluster (``CLICKHOUSE_CLUSTER``). A query joining or filtering one
#: sharded table by another (``IN (SELECT … FROM fact_lines)``, the rollups' invoice and
#: customer numbering) computes the inner side once and sends it to every shard (GLOBAL):
#: right on any key, where ``local`` would number each shard's invoices apart. An insert
#: into a Distributed table returns once the shards have the rows, not when they are
#: queued, so the next statement reads them. Each version is written once: no block of
#: it is a retry to drop (two equal rollup_meta rows of one load are both kept).
CLUSTER_SETTINGS: dict[str, object] = {
    "distributed_product_mode": "global",
    "distributed_foreground_insert": 1,
    "insert_deduplicate": 0,
}
#: The times ClickHouse's DateTime64 holds (a load outside them is refused, not clamped).
FIRST_TIME = dt.datetime(1900, 1, 1)
LAST_TIME = dt.datetime(2299, 12, 31, 23, 59, 59)
TIMEOUT_EXCEEDED = 159  # ClickHouse's error code for max_execution_time


# ----------------------------------------------------------------------------- DB-API
class Error(Exception):
    """A ClickHouse error; ``code`` is ClickHouse's error number when it said one."""

    def __init__(self, message: str):
        super().__init__(message)
        match = re.search(r"Code: (\d+)", message)
        self.code = int(match.group(1)) if match else None


class Warning(Exception):  # noqa: A001 - the DB-API names it so
    pass


class InterfaceError(Error):
    pass


class DatabaseError(Error):
    pass


class OperationalError(DatabaseError):
    pass


class ProgrammingError(DatabaseError):
    pass


class IntegrityError(DatabaseError):
    pass


class DataError(DatabaseError):
    pass


class InternalError(DatabaseError):
    pass


class NotSupportedError(DatabaseError):
    pass


def literal(value) -> str:
    """``value`` as a ClickHouse literal of its type."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return f"toDateTime64('{value.isoformat(sep=' ', timespec='microseconds')}', 6, 'UTC')"
    if isinstance(value, dt.date):
        return f"toDate32('{value.isoformat()}')"
    if isinstance(value, dt.timedelta):
        return f"toIntervalMicrosecond({round(value.total_seconds() * 1_000_000)})"
    if isinstance(value, list):  # an ARRAY parameter (IN lists arrive one by one)
        return "[" + ", ".join(literal(item) for item in value) + "]"
    if isinstance(value, tuple):
        return "(" + ", ".join(literal(item) for item in value) + ")"
    if hasattr(value, "item"):  # numpy scalars
        return literal(value.item())
    text = str(value).replace("\\", "\\\\").replace("'", "\\'")
    return f"'{text}'"


def _bind(operation: str, parameters) -> str:
    """The statement with its parameters written in (``pyformat``: ``%(name)s``)."""
    if isinstance(parameters, dict):
        return operation % {name: literal(value) for name, value in parameters.items()}
    if parameters:
        return operation % tuple(literal(value) for value in parameters)
    return operation


def _naive(table: pa.Table) -> pa.Table:
    """Timestamps as naive UTC (the warehouse stores naive times, as the other engines)."""
    columns = []
    for column in table.columns:
        if pa.types.is_timestamp(column.type) and column.type.tz is not None:
            column = column.cast(pa.timestamp(column.type.unit))
        columns.append(column)
    return pa.Table.from_arrays(columns, names=table.column_names)


class Cursor:
    """A DB-API cursor over one ClickHouse connection; results arrive whole, as Arrow."""

    arraysize = 1000

    def __init__(self, connection: Connection):
        self.connection = connection
        self.description = None
        self.rowcount = -1
        self._table: pa.Table | None = None
        self._rows: list[tuple] | None = None
        self._position = 0

    def execute(self, operation: str, parameters=None) -> None:
        sql = _bind(operation, parameters)
        table = self.connection.backend.query(sql, self.connection.database,
                                              self.connection.query_settings())
        self._table, self._rows, self._position = None, None, 0
        if table is None or table.num_columns == 0:
            self.description = None
            self.rowcount = -1
            return
        self._table = _naive(table)
        self.description = [(name, str(field.type), None, None, None, None, True)
                            for name, field in zip(table.column_names, table.schema)]
        self.rowcount = table.num_rows

    def executemany(self, operation: str, seq_of_parameters: Iterable) -> None:
        for parameters in seq_of_parameters:
            self.execute(operation, parameters)

    def _all_rows(self) -> list[tuple]:
        if self._rows is None:
            if self._table is None:
                raise ProgrammingError("no result: the statement returned no rows")
            self._rows = list(zip(*(column.to_pylist() for column in self._table.columns)))
        return self._rows

    def fetchone(self):
        rows = self._all_rows()
        if self._position >= len(rows):
            return None
        self._position += 1
        return rows[self._position - 1]

    def fetchmany(self, size: int | None = None) -> list[tuple]:
        rows = self._all_rows()
        size = size or self.arraysize
        chunk = rows[self._position:self._position + size]
        self._position += len(chunk)
        return chunk

    def fetchall(self) -> list[tuple]:
        rows = self._all_rows()
        chunk = rows[self._position:]
        self._position = len(rows)
        return chunk

    def arrow(self) -> pa.Table:
        """The whole result as an Arrow table (``analytics.measures.read_frame``)."""
        if self._table is None:
            raise ProgrammingError("no result: the statement returned no rows")
        return self._table

    def close(self) -> None:
        self._table = self._rows = None

    def setinputsizes(self, *_args) -> None:
        pass

    def setoutputsize(self, *_args) -> None:
        pass


class Connection:
    """A DB-API connection: a backend (chDB or HTTP), a current database, and settings.

    ClickHouse has no transactions: ``commit`` and ``rollback`` do nothing (the warehouse
    never relies on them: a version is written whole, then the pointer moves).
    """

    def __init__(self, backend, database: str | None, statement_timeout: float | None,
                 settings: dict | None = None):
        self.backend = backend
        self.database = database
        self.statement_timeout = statement_timeout
        #: sent with every statement besides ``SESSION_SETTINGS`` (``CLUSTER_SETTINGS``)
        self.settings = dict(settings or {})
        #: set while a load reads the whole version (``warehouse._unlimited``)
        self.unlimited = False

    def query_settings(self) -> dict:
        seconds = None if self.unlimited else self.statement_timeout
        return {**self.settings, "max_execution_time": math.ceil(seconds) if seconds else 0}

    def cursor(self) -> Cursor:
        return Cursor(self)

    def insert_arrow(self, table_name: str, table: pa.Table) -> None:
        """Bulk-load ``table`` into ``table_name`` of the current database."""
        self.backend.insert_arrow(table_name, table, self.database)

    def commit(self) -> None:
        pass

    def rollback(self) -> None:
        pass

    def close(self) -> None:
        self.backend.release()


class ChdbHost:
    """The process's one chDB data folder, shared by every chDB warehouse of the process.

    chDB runs one embedded server per process, on one folder. A session on another folder
    waits until no session is in use on the current one, then the server moves (about
    0.1 s). Several warehouses on different folders in one process (tests) therefore work,
    one after the other; a session held on one folder while another folder is wanted in
    the same thread would wait forever, so the wait is bounded and says why. Sessions
    given back are kept for the next connection (a new one costs a connect and its
    settings), until the server moves.
    """

    WAIT_SECONDS = 120.0

    def __init__(self):
        self._changed = threading.Condition()
        self.path: str | None = None
        self._idle: list[_ChdbSession] = []
        self._open = 0

    def acquire(self, path: str) -> _ChdbSession:
        """A session on ``path``; ``release`` it when done."""
        with self._changed:
            if not self._changed.wait_for(lambda: self.path in (None, path) or not self._open,
                                          timeout=self.WAIT_SECONDS):
                raise OperationalError(
                    f"chDB is serving {self.path} in this process and {path} was asked for: "
                    "one chDB folder at a time per process (close the other connections)")
            if self.path != path:
                self._close_idle()
                self.path = path
            self._open += 1
            if self._idle:
                return self._idle.pop()
            try:
                return _ChdbSession(path)
            except OperationalError:
                self._open -= 1
                raise

    def release(self, session: _ChdbSession, reusable: bool = True) -> None:
        with self._changed:
            self._open -= 1
            if reusable and session.path == self.path:
                self._idle.append(session)
            else:
                session.close()
            self._changed.notify_all()

    def _close_idle(self) -> None:
        while self._idle:
            self._idle.pop().close()


def _settings_sql(settings: dict) -> str:
    return ", ".join(f"{name} = {literal(value)}" for name, value in settings.items())


class _ChdbSession:
    """One raw chDB connection, with the database and settings it was last given."""

    def __init__(self, path: str):
        self.path = path
        self._open()

    def _open(self) -> None:
        from chdb import _chdb
        try:
            self.raw = _chdb.connect(self.path)
            self.raw.query(f"SET {_settings_sql(SESSION_SETTINGS)}", "CSV")
        except RuntimeError as exc:
            raise OperationalError(str(exc)) from None
        self.database: str | None = None
        self.settings: dict = {}

    def run(self, sql: str, output: str = "CSV"):
        try:
            result = self.raw.query(sql, output)
            if hasattr(result, "has_error") and result.has_error():
                raise RuntimeError(result.error_message())
        except RuntimeError as exc:
            # a connection whose statement failed (a time-out above all) may answer the
            # next one wrongly ('SELECT 1' gave 0): start afresh
            self.raw.close()
            self._open()
            raise OperationalError(str(exc)) from None
        return result

    def close(self) -> None:
        self.raw.close()


CHDB_HOST = ChdbHost()


class ChdbBackend:
    """Queries on one chDB session (its own current database and settings)."""

    def __init__(self, path: str):
        self.path = path
        self._session: _ChdbSession | None = CHDB_HOST.acquire(path)
        self._lock = threading.Lock()

    def query(self, sql: str, database: str | None, settings: dict) -> pa.Table | None:
        session = self._session
        with self._lock:
            if database != session.database:
                session.run(f"USE {quote(database or 'default')}")
                session.database = database
            if settings != session.settings:
                session.run(f"SET {_settings_sql(settings)}")
                session.settings = dict(settings)
            data = session.run(sql, "ArrowStream").bytes()
        if not data:
            return None
        return pyarrow.ipc.open_stream(pa.py_buffer(data)).read_all()

    #: Rows per Arrow record batch and bytes per chunk handed to chDB: the stream is
    #: written as it is sent, so a load holds a few MB of it, not a copy of the whole file.
    INSERT_BATCH_ROWS = 65_536
    INSERT_CHUNK_BYTES = 8 << 20

    def insert_arrow(self, table_name: str, table: pa.Table, database: str | None) -> None:
        name = f"{quote(database)}.{quote(table_name)}" if database else quote(table_name)
        with self._lock:
            try:
                inserter = _ChdbInserter(self._session.raw, f"INSERT INTO {name}")
                chunks = _Chunks(inserter.append, self.INSERT_CHUNK_BYTES)
                with pyarrow.ipc.new_stream(chunks, table.schema) as writer:
                    for batch in table.to_batches(max_chunksize=self.INSERT_BATCH_ROWS):
                        writer.write_batch(batch)
                chunks.send()
                inserter.finish()
            except RuntimeError as exc:
                raise OperationalError(str(exc)) from None

    def release(self) -> None:
        if self._session is not None:
            CHDB_HOST.release(self._session)
            self._session = None


class _Chunks:
    """A writable file that hands what is written to ``send`` in chunks of about
    ``size`` bytes (the last one on ``send()``)."""

    closed = False

    def __init__(self, sink, size: int):
        self._sink, self._size = sink, size
        self._parts: list[bytes] = []
        self._held = 0

    def write(self, data) -> int:
        part = bytes(data)
        self._parts.append(part)
        self._held += len(part)
        if self._held >= self._size:
            self.send()
        return len(part)

    def send(self) -> None:
        if self._parts:
            self._sink(b"".join(self._parts))
            self._parts, self._held = [], 0

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


class _ChdbInserter:
    """chDB's streaming insert in Arrow stream format, on a raw connection."""

    def __init__(self, raw, statement: str):
        from chdb.state.sqlitelike import StreamingInserter
        self._inserter = StreamingInserter(raw.send_insert(statement, "ArrowStream"), raw)

    def append(self, data: bytes) -> None:
        self._inserter.append(data)

    def finish(self) -> None:
        self._inserter.finish()


#: Statements that answer with rows (the HTTP client asks for them in Arrow).
_ROWS = re.compile(r"^\s*(\(\s*)*(SELECT|WITH|SHOW|DESCRIBE|DESC|EXPLAIN|EXISTS)\b",
                   re.IGNORECASE)


class HttpBackend:
    """Queries on a ClickHouse server through ``clickhouse-connect``'s HTTP client."""

    def __init__(self, client):
        self.client = client

    def query(self, sql: str, database: str | None, settings: dict) -> pa.Table | None:
        from clickhouse_connect.driver.exceptions import ClickHouseError
        self.client.database = database  # sent with every request (no server session)
        try:
            if not _ROWS.match(sql):  # DDL and INSERT: no FORMAT clause, no rows
                self.client.command(sql, settings={**SESSION_SETTINGS, **settings})
                return None
            data = self.client.raw_query(sql, settings={**SESSION_SETTINGS, **settings},
                                         fmt="ArrowStream")
        except ClickHouseError as exc:
            raise OperationalError(str(exc)) from None
        if not data:
            return None
        return pyarrow.ipc.open_stream(pa.py_buffer(data)).read_all()

    def insert_arrow(self, table_name: str, table: pa.Table, database: str | None) -> None:
        from clickhouse_connect.driver.exceptions import ClickHouseError
        try:
            self.client.insert_arrow(table_name, table, database=database)
        except ClickHouseError as exc:
            raise OperationalError(str(exc)) from None

    def release(self) -> None:
        self.client.close()


class DBAPI:
    """The DB-API module SQLAlchemy sees (``ClickHouseDialect.import_dbapi``)."""

    paramstyle = "pyformat"
    apilevel = "2.0"
    threadsafety = 1
    Error, Warning, InterfaceError, DatabaseError = Error, Warning, InterfaceError, DatabaseError
    OperationalError, ProgrammingError, IntegrityError = (OperationalError, ProgrammingError,
                                                          IntegrityError)
    DataError, InternalError, NotSupportedError = DataError, InternalError, NotSupportedError

    @staticmethod
    def connect(*, path: str | None = None, host: str | None = None, port: int = 8123,
                username: str = "default", password: str = "", database: str | None = None,
                secure: bool = False, statement_timeout: float | None = None,
                cluster: str | None = None) -> Connection:
        """``cluster``: the server's tables are laid out on that cluster (its connections
        run with ``CLUSTER_SETTINGS``)."""
        if path is not None:
            backend = ChdbBackend(path)
        else:
            import clickhouse_connect
            client = clickhouse_connect.get_client(
                host=host, port=port, username=username, password=password,
                secure=secure, settings=dict(SESSION_SETTINGS), autogenerate_session_id=False)
            backend = HttpBackend(client)
        return Connection(backend, database, statement_timeout,
                          CLUSTER_SETTINGS if cluster else None)


# ----------------------------------------------------------------------- the dialect
def quote(name: str) -> str:
    """A ClickHouse identifier, back-quoted."""
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


class ClickHouseTypeCompiler(PGTypeCompiler):
    """ClickHouse's names of our column types (``Nullable`` is added by the callers)."""

    def visit_string(self, type_, **kw):
        return "String"

    visit_VARCHAR = visit_CHAR = visit_TEXT = visit_text = visit_unicode = visit_string
    visit_unicode_text = visit_NVARCHAR = visit_NCHAR = visit_string

    def visit_integer(self, type_, **kw):
        return "Int64"

    visit_INTEGER = visit_BIGINT = visit_big_integer = visit_integer

    def visit_SMALLINT(self, type_, **kw):
        return "Int16"

    visit_small_integer = visit_SMALLINT

    def visit_float(self, type_, **kw):
        return "Float64"

    visit_FLOAT = visit_DOUBLE = visit_double = visit_REAL = visit_DOUBLE_PRECISION = visit_float

    def visit_numeric(self, type_, **kw):
        if type_.precision is None:
            return "Float64"
        return f"Decimal({type_.precision}, {type_.scale or 0})"

    visit_NUMERIC = visit_DECIMAL = visit_numeric

    def visit_ARRAY(self, type_, **kw):
        return f"Array(Nullable({self.process(type_.item_type, **kw)}))"

    def visit_boolean(self, type_, **kw):
        return "Bool"

    visit_BOOLEAN = visit_boolean

    def visit_date(self, type_, **kw):
        return "Date32"

    visit_DATE = visit_date

    def visit_datetime(self, type_, **kw):
        return "DateTime64(6, 'UTC')"

    visit_DATETIME = visit_TIMESTAMP = visit_timestamp = visit_datetime


class ClickHouseCompiler(PGCompiler):
    """PostgreSQL's statement compiler with ClickHouse's casts, exact percentiles and
    SQL's NOT IN for NULL (module docstring)."""

    def visit_cast(self, cast, **kw):
        target = cast.typeclause.type
        type_ = self.dialect.type_compiler_instance.process(target)
        value = cast.clause._compiler_dispatch(self, **kw)
        if isinstance(target, sa.ARRAY):
            return f"CAST({value} AS {type_})"
        if isinstance(target, sa.Numeric) and type_.startswith("Decimal"):
            # CAST converts the values under a NULL too, and fails on one out of range
            return f"accurateCastOrNull({value}, '{type_}')"
        return f"CAST({value} AS Nullable({type_}))"

    def visit_unnest_func(self, function, **kw):
        return f"arrayJoin({self.function_argspec(function, **kw)})"

    def visit_withingroup(self, withingroup, **kw):
        function = withingroup.element
        if function.name.lower() == "percentile_cont":
            (fraction,) = function.clauses.clauses
            (order,) = withingroup.order_by.clauses
            return (f"quantileExactInclusive({fraction._compiler_dispatch(self, **kw)})"
                    f"({order._compiler_dispatch(self, **kw)})")
        return super().visit_withingroup(withingroup, **kw)

    def visit_sub_binary(self, binary, operator, **kw):
        if (isinstance(binary.left.type, sa.Date) and isinstance(binary.right.type, sa.Date)
                and not isinstance(binary.left.type, sa.DateTime)
                and not isinstance(binary.right.type, sa.DateTime)):
            # days between two dates (ClickHouse has no Date32 - Date32)
            return (f"dateDiff('day', {binary.right._compiler_dispatch(self, **kw)}, "
                    f"{binary.left._compiler_dispatch(self, **kw)})")
        return self._generate_generic_binary(binary, " - ", **kw)

    def visit_bitwise_and_op_binary(self, binary, operator, **kw):
        # ClickHouse has no & operator
        return f"bitAnd({self.process(binary.left, **kw)}, {self.process(binary.right, **kw)})"

    def visit_not_in_op_binary(self, binary, operator, **kw):
        left = binary.left._compiler_dispatch(self, **kw)
        right = binary.right._compiler_dispatch(self, **kw)
        return f"({left} NOT IN {right} AND {left} IS NOT NULL)"

    def visit_empty_set_expr(self, element_types, **kw):
        return "SELECT NULL WHERE 1 != 1"


class ClickHouseDialect(PGDialect):
    """SQLAlchemy dialect ``clickhouse+chdb://`` / ``clickhouse+http://`` (registered as
    ``clickhouse.chdb`` and ``clickhouse.http``)."""

    name = "clickhouse"
    driver = "chdb"
    statement_compiler = ClickHouseCompiler
    type_compiler_cls = ClickHouseTypeCompiler
    supports_statement_cache = True
    supports_sane_rowcount = False
    supports_sane_multi_rowcount = False
    implicit_returning = False
    insert_returning = update_returning = delete_returning = False
    postfetch_lastrowid = False
    default_paramstyle = "pyformat"
    supports_native_boolean = True
    _backslash_escapes = True

    @classmethod
    def import_dbapi(cls):
        return DBAPI

    def create_connect_args(self, url):
        options = dict(url.query)
        timeout = options.pop("statement_timeout", None)
        kwargs = {"statement_timeout": float(timeout) if timeout else None,
                  "database": url.database or None}
        if self.driver == "chdb":
            kwargs["path"] = options.pop("path", None)
            kwargs["database"] = options.pop("database", None)
        else:
            kwargs.update(host=url.host or "localhost", port=url.port or 8123,
                          username=url.username or "default", password=url.password or "",
                          secure=options.pop("secure", "") in ("1", "true"))
        return [], kwargs

    def initialize(self, connection):
        self.server_version_info = self._get_server_version_info(connection)
        self.default_schema_name = None
        self.default_isolation_level = None
        self.supports_smallserial = False
        self._supports_drop_index_concurrently = False
        self.supports_identity_columns = False
        self._supports_jsonb_subscripting = False

    def _get_server_version_info(self, connection):
        version = connection.exec_driver_sql("SELECT version()").scalar()
        return tuple(int(part) for part in re.findall(r"\d+", version)[:3])

    def _get_default_schema_name(self, connection):
        return connection.exec_driver_sql("SELECT currentDatabase()").scalar()

    def _set_backslash_escapes(self, connection):
        self._backslash_escapes = True

    def get_isolation_level(self, dbapi_connection):
        return None

    def get_default_isolation_level(self, dbapi_conn):
        return None

    def set_isolation_level(self, dbapi_connection, level):
        pass

    def do_begin(self, dbapi_connection):
        pass

    def do_rollback(self, dbapi_connection):
        pass

    def do_commit(self, dbapi_connection):
        pass

    def do_ping(self, dbapi_connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("SELECT 1")
        return True

    def on_connect(self):
        return None

    def is_disconnect(self, e, connection, cursor):
        return False


class ChdbDialect(ClickHouseDialect):
    driver = "chdb"
    supports_statement_cache = True


class HttpDialect(ClickHouseDialect):
    driver = "http"
    supports_statement_cache = True


sa.dialects.registry.register("clickhouse.chdb", __name__, "ChdbDialect")
sa.dialects.registry.register("clickhouse.http", __name__, "HttpDialect")


# --------------------------------------------------------------------------- the DDL
def column_type(column: sa.Column) -> str:
    name = ClickHouseTypeCompiler(ClickHouseDialect()).process(column.type)
    return f"Nullable({name})" if column.nullable else name


#: Sort keys of the version tables: facts and per-invoice rows by time, so a date window
#: reads only its parts; the rest by their natural key.
ORDER_KEYS: dict[str, str] = {
    "fact_lines": "(invoice_date, invoice_ts, line_id)",
    "rollup_invoice": "(invoice_date, invoice_ts, invoice_key)",
    "rollup_daily": "invoice_date",
    "dim_customer": "customer_id",
    "dim_product": "product_id",
    "daily_sessions": "session_date",
    "ad_spend": "ad_date",
    "version_info": "version",
}
#: Tables partitioned by month (a date window skips whole months).
PARTITION_KEYS: dict[str, str] = {"fact_lines": "toYYYYMM(invoice_date)",
                                  "rollup_invoice": "toYYYYMM(invoice_date)"}


def create_table_sql(table: sa.Table, engine: str = "MergeTree()") -> str:
    """``CREATE TABLE`` of one of ``analytics.schema``'s tables, on ``engine``."""
    body = ",\n  ".join(f"{quote(column.name)} {column_type(column)}"
                        for column in table.columns)
    partition = (f"\nPARTITION BY {PARTITION_KEYS[table.name]}"
                 if table.name in PARTITION_KEYS else "")
    return (f"CREATE TABLE {quote(table.name)} (\n  {body}\n) ENGINE = {engine}{partition}"
            f"\nORDER BY {ORDER_KEYS.get(table.name, 'tuple()')}")


_CREATE_AS = re.compile(r"^(\s*CREATE TABLE\s+(\w+))\s+AS\b", re.IGNORECASE)


def rollup_statement(statement: str) -> str:
    """One of ``analytics.rollups.build_statements``' statements for ClickHouse: a
    ``CREATE TABLE … AS SELECT`` gets its engine, and its bare ``alias.column`` outputs an
    ``AS column`` (ClickHouse names the column ``lines.customer_id`` where two joined tables
    have a ``customer_id``; the other engines name it ``customer_id``, as the analytics read
    it). The rows keep the order the statement writes them in (by day): these tables are
    small, a sort key would not pay."""
    match = _CREATE_AS.match(statement)
    if not match:
        return statement
    return (f"{match.group(1)} ENGINE = MergeTree() ORDER BY tuple() AS"
            + _plain_output_names(statement[match.end():]))


def _top_level(text: str, pattern: str, start: int = 0) -> int:
    """Index of the first match of ``pattern`` outside parentheses and quotes (-1: none)."""
    depth, quoted = 0, False
    for index in range(start, len(text)):
        char = text[index]
        if char == "'":
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")":
            depth -= 1
        elif not quoted and depth == 0 and re.match(pattern, text[index:], re.IGNORECASE) \
                and (index == 0 or not (text[index - 1].isalnum() or text[index - 1] == "_")):
            return index
    return -1


def _plain_output_names(query: str) -> str:
    select = _top_level(query, r"SELECT\b")
    end = _top_level(query, r"FROM\b", select) if select >= 0 else -1
    if end < 0:
        return query
    body = query[select + len("SELECT"):end]
    items, depth, quoted, last = [], 0, False, 0
    for index, char in enumerate(body):
        if char == "'":
            quoted = not quoted
        elif not quoted and char in "()":
            depth += 1 if char == "(" else -1
        elif not quoted and depth == 0 and char == ",":
            items.append(body[last:index])
            last = index + 1
    items.append(body[last:])
    named = [re.sub(r"^(\s*)(\w+)\.(\w+)(\s*)$", r"\1\2.\3 AS \3\4", item) for item in items]
    return query[:select + len("SELECT")] + ",".join(named) + query[end:]


def arrow_type(dtype: str) -> pa.DataType:
    """The Arrow type of a line-item frame dtype (``analytics.schema.LINE_COLUMNS``)."""
    return {"string": pa.string(), "float64": pa.float64(), "bool": pa.bool_(),
            "int64": pa.int64(), "Int64": pa.int64(),
            "datetime64[us]": pa.timestamp("us")}[dtype]


def staging_sql(name: str, columns: dict[str, str], extra: str = "") -> str:
    """A staging table for a frame of ``columns`` (a frame contract of
    ``analytics.schema``), all nullable, in the frame's order."""
    ch_types = {"string": "String", "float64": "Float64", "bool": "Bool", "int64": "Int64",
                "Int64": "Int64", "datetime64[us]": "DateTime64(6, 'UTC')"}
    body = ", ".join(f"{quote(column)} Nullable({ch_types[dtype]})"
                     for column, dtype in columns.items())
    return (f"CREATE TABLE {quote(name)} ({body}{', ' + extra if extra else ''}) "
            "ENGINE = Memory")  # read once, then dropped: no parts to write


def frame_to_arrow(frame, columns: dict[str, str]) -> pa.Table:
    """A coerced frame (``analytics.warehouse.coerce_*``) as Arrow, with exactly the types
    of its staging table."""
    arrays = []
    for column, dtype in columns.items():
        values = frame[column]
        if dtype == "string":
            values = values.astype("object").where(values.notna(), None)
        elif dtype == "Int64":
            values = values.astype("object").where(values.notna(), None)
        arrays.append(pa.array(values, type=arrow_type(dtype), from_pandas=True))
    return pa.Table.from_arrays(arrays, names=list(columns))


# ------------------------------------------------------------------ a ClickHouse cluster
#: Tables spread over the shards by customer (the rest is small and whole on every shard):
#: every line, invoice row and customer-day of one customer is on one shard, so RFM,
#: cohorts, LTV and churn inputs group locally. Lines without a customer spread by invoice.
SHARDING_KEYS: dict[str, str] = {
    "fact_lines": "cityHash64(ifNull(customer_id, invoice_id))",
    "rollup_invoice": "cityHash64(ifNull(customer_id, toString(invoice_key)))",
    "rollup_order": "cityHash64(ifNull(customer_id, toString(invoice_key)))",
    "rollup_customer_day": "cityHash64(ifNull(customer_id, ''))",
    "dim_customer": "cityHash64(customer_id)",
}


def check_cluster_name(cluster: str) -> str:
    """``cluster`` if it is a plain name (it is written into statements unquoted in
    ``Distributed(…)``'s arguments and ZooKeeper paths), else ValueError."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", cluster or ""):
        raise ValueError(f"cluster name {cluster!r} is not a plain name")
    return cluster


def cluster_ddl(cluster: str, database: str) -> list[str]:
    """The statements that lay out one data version's database on ``cluster`` (settings:
    ``CLICKHOUSE_CLUSTER``), in order: the database, then ``cluster_tables_ddl``."""
    on = f"ON CLUSTER {quote(check_cluster_name(cluster))}"
    return [f"CREATE DATABASE IF NOT EXISTS {quote(database)} {on}",
            *cluster_tables_ddl(cluster, database)]


def cluster_tables_ddl(cluster: str, database: str) -> list[str]:
    """The ``CREATE TABLE … ON CLUSTER`` of every table of a version (the planner's
    rollups too, which one server creates with ``CREATE TABLE … AS SELECT``).

    A sharded table (``SHARDING_KEYS``) is a ``<name>_local`` ReplicatedMergeTree on every
    shard (replicas of a shard share ``/clickhouse/tables/{shard}/…``) and a Distributed
    ``<name>`` over them that the analytics read and the loader inserts into; any other
    table is one ReplicatedMergeTree replicated to every node (path without ``{shard}``),
    read locally. ``{shard}`` and ``{replica}`` are each server's macros.
    """
    from analytics import rollups, schema

    on = f"ON CLUSTER {quote(check_cluster_name(cluster))}"
    statements = []
    for table in [*schema.metadata.sorted_tables, *rollups.metadata.sorted_tables]:
        sharded = table.name in SHARDING_KEYS
        local = local_table(table.name)
        path = (f"/clickhouse/tables/{{shard}}/{database}/{local}" if sharded
                else f"/clickhouse/tables/all/{database}/{local}")
        engine = f"ReplicatedMergeTree('{path}', '{{replica}}')"
        ddl = create_table_sql(table, engine).replace(
            f"CREATE TABLE {quote(table.name)} (",
            f"CREATE TABLE {quote(database)}.{quote(local)} {on} (", 1)
        statements.append(ddl)
        if sharded:
            statements.append(
                f"CREATE TABLE {quote(database)}.{quote(table.name)} {on} "
                f"AS {quote(database)}.{quote(local)} "
                f"ENGINE = Distributed({quote(cluster)}, {quote(database)}, {quote(local)}, "
                f"{SHARDING_KEYS[table.name]})")
    return statements


def local_table(name: str) -> str:
    """The name of the ReplicatedMergeTree holding table ``name``'s rows on a node."""
    return f"{name}_local" if name in SHARDING_KEYS else name


_WRITES = re.compile(r"^\s*(?:INSERT INTO|CREATE TABLE)\s+`?(\w+)`?", re.IGNORECASE)


class VersionLayout:
    """The statements that write a data version and move the pointer, on one server
    (``cluster`` None) or laid out on a cluster (settings: ``CLICKHOUSE_CLUSTER``).

    ``analytics.warehouse`` writes a version the same way on both; the statements differ:

    ========================  ===============================  ==============================
    step                      one server                       cluster
    ========================  ===============================  ==============================
    database                  ``CREATE DATABASE``              ``… ON CLUSTER``
    tables                    MergeTree (``create_table_sql``)  ``cluster_tables_ddl``
    staged frames             Memory tables on the node the load talks to (both)
    facts, dimensions         ``INSERT … SELECT`` (both; on a cluster into the Distributed
                              tables, each followed by ``SYSTEM SYNC REPLICA`` of a sharded
                              table so the next statement reads every replica's rows)
    planner rollups           ``CREATE TABLE … AS SELECT``     ``INSERT INTO t (cols) SELECT``
                                                               into the tables created above
    before the switch         —                                ``SYSTEM SYNC REPLICA`` of the
                                                               replicated-to-all tables
    pointer                   a row in ``<prefix>_meta``       the same, its table replicated
                                                               to every node, then synced
    dropping a version        ``DROP DATABASE … SYNC``         ``… ON CLUSTER … SYNC``
    ========================  ===============================  ==============================
    """

    def __init__(self, cluster: str | None = None):
        self.cluster = check_cluster_name(cluster) if cluster else None
        self._on = f" ON CLUSTER {quote(cluster)}" if cluster else ""

    def create_database(self, database: str) -> str:
        """Fails when the database exists: two loads cannot write one version."""
        return f"CREATE DATABASE {quote(database)}{self._on}"

    def drop_database(self, database: str) -> str:
        return f"DROP DATABASE IF EXISTS {quote(database)}{self._on} SYNC"

    def create_tables(self, database: str) -> list[str]:
        """The version's tables (on one server, the planner's rollups are created by their
        statements instead); run with ``database`` current."""
        from analytics import schema

        if self.cluster is None:
            return [create_table_sql(table) for table in schema.metadata.sorted_tables]
        return cluster_tables_ddl(self.cluster, database)

    def write(self, statement: str, database: str) -> list[str]:
        """One statement of the load that writes a table (``INSERT … SELECT`` or one of
        ``analytics.rollups.build_statements``), as run here, then what makes its rows
        visible to the next statement."""
        if self.cluster is None:
            return [rollup_statement(statement)]
        match = _CREATE_AS.match(statement)
        if match:
            statement = _insert_into(match.group(2), statement[match.end():])
        written = _WRITES.match(statement)
        if written and written.group(1) in SHARDING_KEYS:
            return [statement, self.sync_replica(database, local_table(written.group(1)))]
        return [statement]

    def sync_replica(self, database: str, table: str) -> str:
        """Wait until every replica of ``table`` has what any replica has."""
        return f"SYSTEM SYNC REPLICA{self._on} {quote(database)}.{quote(table)}"

    def before_switch(self, database: str) -> list[str]:
        """Statements that make the whole version readable on every node."""
        from analytics import rollups, schema

        if self.cluster is None:
            return []
        return [self.sync_replica(database, table.name)
                for table in [*schema.metadata.sorted_tables, *rollups.metadata.sorted_tables]
                if table.name not in SHARDING_KEYS]

    def switch(self, meta: str, version: int) -> list[str]:
        """Make ``version`` current: one row in ``meta``'s pointer table (the highest
        version there is current)."""
        table = f"{meta}.current_version"
        engine = (f"ReplicatedMergeTree('/clickhouse/tables/all/{meta}/current_version', "
                  "'{replica}')" if self.cluster else "MergeTree()")
        statements = [f"CREATE DATABASE IF NOT EXISTS {meta}{self._on}",
                      f"CREATE TABLE IF NOT EXISTS {table}{self._on} "
                      f"(version Int64, switched_at DateTime64(6, 'UTC')) "
                      f"ENGINE = {engine} ORDER BY version",
                      f"INSERT INTO {table} VALUES ({int(version)}, now64(6))"]
        if self.cluster:
            statements.append(f"SYSTEM SYNC REPLICA{self._on} {table}")
        return statements


def _insert_into(table_name: str, query: str) -> str:
    """``CREATE TABLE name AS <query>`` as an insert into the table created beforehand
    from ``analytics.rollups.metadata`` (its columns in the query's order)."""
    from analytics import rollups

    columns = ", ".join(quote(column.name)
                        for column in rollups.metadata.tables[table_name].columns)
    return f"INSERT INTO {table_name} ({columns}){_plain_output_names(query)}"
