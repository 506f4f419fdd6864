"""The ClickHouse warehouse: the dialect's SQL text, the version tables' DDL, the cluster
layout, and data versions on chDB (the analytics suite runs on chDB through the
``warehouse`` fixture; these are the parts that suite does not see)."""
from __future__ import annotations

import datetime as dt
import re

import pandas as pd
import pytest
import sqlalchemy as sa

from analytics import clickhouse, rollups, schema
from analytics.warehouse import KEEP_VERSIONS, Warehouse, WarehouseError
from tests.analytics.conftest import publish_lines

DIALECT = clickhouse.ChdbDialect()


def sql(statement) -> str:
    return " ".join(str(statement.compile(dialect=DIALECT)).split())


# ----------------------------------------------------------------------- the dialect
@pytest.mark.parametrize(("value", "text"), [
    (None, "NULL"), (True, "true"), (7, "7"), (2.5, "2.5"), (float("nan"), "nan"),
    (float("-inf"), "-inf"), ("it's a \\ test", "'it\\'s a \\\\ test'"),
    (dt.date(2011, 1, 4), "toDate32('2011-01-04')"),
    (dt.datetime(2011, 1, 4, 9, 30), "toDateTime64('2011-01-04 09:30:00.000000', 6, 'UTC')"),
    (["E", None], "['E', NULL]"), ((1, "a"), "(1, 'a')"),
])
def test_values_are_written_as_typed_literals(value, text):
    assert clickhouse.literal(value) == text


def test_the_constructs_that_differ_are_compiled_for_clickhouse():
    t = sa.table("t", sa.column("x", sa.Float), sa.column("d", sa.Date),
                 sa.column("c", sa.String))
    assert sql(sa.cast(t.c.x, sa.BigInteger)) == "CAST(t.x AS Nullable(Int64))"
    assert sql(sa.cast(t.c.x, sa.Numeric(24, 6))) == \
        "accurateCastOrNull(t.x, 'Decimal(24, 6)')"
    assert sql(sa.func.percentile_cont(0.5).within_group(t.c.x)) == \
        "quantileExactInclusive(%(percentile_cont_1)s)(t.x)"
    assert sql(t.c.c.not_in(["a"])) == \
        "(t.c NOT IN (__[POSTCOMPILE_c_1]) AND t.c IS NOT NULL)"
    assert sql(sa.literal(dt.date(2011, 1, 4), sa.Date) - t.c.d) == \
        "dateDiff('day', t.d, %(param_1)s)"
    assert sql(sa.func.unnest(sa.cast(sa.literal(["a"], sa.ARRAY(sa.String)),
                                      sa.ARRAY(sa.String)))) == \
        "arrayJoin((CAST(%(param_1)s AS Array(Nullable(String)))))"
    # FILTER (WHERE …) and COUNT(DISTINCT …) are ClickHouse's own SQL: left as written
    assert sql(sa.func.count(sa.distinct(t.c.c)).filter(t.c.x > 0)) == \
        "count(DISTINCT t.c) FILTER (WHERE t.x > %(x_1)s)"


def test_the_facts_are_sorted_by_day_and_partitioned_by_month():
    ddl = clickhouse.create_table_sql(schema.fact_lines)
    assert "`invoice_date` Date32," in ddl and "`customer_id` Nullable(String)," in ddl
    assert "`invoice_ts` DateTime64(6, 'UTC')," in ddl and "`is_sale` Bool," in ddl
    assert ddl.endswith("ENGINE = MergeTree()\nPARTITION BY toYYYYMM(invoice_date)\n"
                        "ORDER BY (invoice_date, invoice_ts, line_id)")


def test_rollups_built_with_create_as_get_an_engine():
    assert clickhouse.rollup_statement("\n  CREATE TABLE rollup_x AS SELECT 1 AS a") == \
        "\n  CREATE TABLE rollup_x ENGINE = MergeTree() ORDER BY tuple() AS SELECT 1 AS a"
    assert clickhouse.rollup_statement("INSERT INTO rollup_meta SELECT 'a', 1") == \
        "INSERT INTO rollup_meta SELECT 'a', 1"
    # a joined table's bare column is named as the other engines name it
    assert clickhouse.rollup_statement(
        "CREATE TABLE r AS SELECT lines.a, b.c AS d, f(x.y, z.w), 'p, q.r' AS s "
        "FROM (SELECT u.v FROM t) AS lines") == (
        "CREATE TABLE r ENGINE = MergeTree() ORDER BY tuple() AS SELECT lines.a AS a, "
        "b.c AS d, f(x.y, z.w), 'p, q.r' AS s FROM (SELECT u.v FROM t) AS lines")
    every = [clickhouse.rollup_statement(s) for s in rollups.build_statements("clickhouse")]
    assert not [s for s in every if "CREATE TABLE" in s and "ENGINE" not in s]


# --------------------------------------------------------------------- the cluster
def test_the_cluster_layout_shards_by_customer_and_replicates_the_rest():
    statements = clickhouse.cluster_ddl("shop", "shoplens_v000007")
    assert statements[0] == "CREATE DATABASE IF NOT EXISTS `shoplens_v000007` ON CLUSTER `shop`"
    local = next(s for s in statements if "`fact_lines_local`" in s)
    assert local.startswith("CREATE TABLE `shoplens_v000007`.`fact_lines_local` ON CLUSTER "
                            "`shop` (\n  `line_id` Int64,")
    assert local.endswith(
        "ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/shoplens_v000007/"
        "fact_lines_local', '{replica}')\nPARTITION BY toYYYYMM(invoice_date)\n"
        "ORDER BY (invoice_date, invoice_ts, line_id)")
    assert ("CREATE TABLE `shoplens_v000007`.`fact_lines` ON CLUSTER `shop` AS "
            "`shoplens_v000007`.`fact_lines_local` ENGINE = Distributed(`shop`, "
            "`shoplens_v000007`, `fact_lines_local`, "
            "cityHash64(ifNull(customer_id, invoice_id)))") in statements
    # the table appears after its local table: Distributed needs it to exist
    assert statements.index(local) < next(i for i, s in enumerate(statements)
                                          if "Distributed" in s and "`fact_lines`" in s)
    product = next(s for s in statements if "`dim_product`" in s)
    assert "ReplicatedMergeTree('/clickhouse/tables/all/shoplens_v000007/dim_product', " \
           "'{replica}')" in product
    distributed = {s.split("`")[3] for s in statements if "Distributed(" in s}
    assert distributed == set(clickhouse.SHARDING_KEYS)
    # every table of a version, the planner's rollups too, exactly once
    created = [s.split("`")[3] for s in statements[1:] if "Distributed(" not in s]
    names = [t.name for t in [*schema.metadata.sorted_tables, *rollups.metadata.sorted_tables]]
    assert sorted(n.removesuffix("_local") for n in created) == sorted(names)


def test_a_cluster_name_that_is_not_a_plain_name_is_refused():
    with pytest.raises(ValueError, match="not a plain name"):
        clickhouse.cluster_ddl("shop`; DROP", "shoplens_v000001")


# ----------------------------------------------------------------- on chDB itself
@pytest.fixture
def chdb_engine(tmp_path):
    pytest.importorskip("chdb")
    engine = sa.create_engine("clickhouse+chdb://", poolclass=sa.pool.NullPool,
                              connect_args={"path": str(tmp_path / "chdb")})
    yield engine
    engine.dispose()


def test_nulls_answer_as_sql_does(chdb_engine):
    values = sa.select(sa.literal_column("x").label("x")).select_from(
        sa.text("(SELECT CAST(arrayJoin([1, NULL, 3]) AS Nullable(Int64)) AS x) AS v")
    ).subquery("v")
    with chdb_engine.connect() as conn:
        # NULL NOT IN (…) is unknown, so no row: 3 only
        assert conn.execute(sa.select(values.c.x).where(values.c.x.not_in([1]))).all() == \
            [(3,)]
        # Σ over no rows is NULL, not 0; a missing outer-join side is NULL, not ''
        assert conn.execute(sa.select(sa.func.sum(values.c.x)).where(values.c.x > 5)
                            ).scalar() is None
        assert conn.execute(sa.text(
            "SELECT b.y FROM (SELECT 1 AS k) AS a LEFT JOIN (SELECT 2 AS k, 'z' AS y) AS b "
            "ON a.k = b.k")).scalar() is None
        assert conn.execute(sa.select(sa.literal(dt.date(2011, 1, 4), sa.Date)
                                      - sa.literal(dt.date(2010, 12, 30), sa.Date))
                            ).scalar() == 5


ROWS = [{"invoice_id": "1", "invoice_ts": "2024-01-02 10:00:00.000", "customer_id": "A",
         "quantity": 2, "unit_price": 3.0},
        {"invoice_id": "2", "invoice_ts": "2024-01-03 11:00:00.000", "customer_id": "B",
         "quantity": 1, "unit_price": 5.0}]


def databases(warehouse) -> list[str]:
    with warehouse._ch_engine(None).connect() as conn:
        return sorted(conn.execute(sa.text(
            "SELECT name FROM system.databases WHERE startsWith(name, 'shoplens_')")
        ).scalars())


def test_versions_switch_atomically_and_old_ones_are_dropped(chdb_warehouse):
    assert chdb_warehouse.current_version() is None
    for count in range(1, KEEP_VERSIONS + 3):
        assert publish_lines(chdb_warehouse, ROWS[:1 + count % 2]) == count
    last = KEEP_VERSIONS + 2
    assert chdb_warehouse.current_version() == last
    kept = [f"shoplens_v{v:06d}" for v in range(last - KEEP_VERSIONS + 1, last + 1)]
    assert databases(chdb_warehouse) == ["shoplens_meta", *kept]
    # a reader holding an older version still reads it whole
    assert chdb_warehouse.version_info(last - 1).line_count == 1 + (last - 1) % 2
    assert chdb_warehouse.version_info().line_count == 1 + last % 2


def test_a_failed_load_leaves_the_current_version_and_no_half_database(
        chdb_warehouse, monkeypatch):
    publish_lines(chdb_warehouse, ROWS)
    real = rollups.build_statements
    monkeypatch.setattr(rollups, "build_statements",
                        lambda dialect: [*real(dialect), "SELECT no_such_column FROM fact_lines"])
    with pytest.raises(WarehouseError, match="no_such_column"):
        publish_lines(chdb_warehouse, ROWS[:1])
    assert chdb_warehouse.current_version() == 1
    assert databases(chdb_warehouse) == ["shoplens_meta", "shoplens_v000001"]
    assert chdb_warehouse.version_info().line_count == 2
    monkeypatch.setattr(rollups, "build_statements", real)
    assert publish_lines(chdb_warehouse, ROWS[:1]) == 2   # the number is free again


def test_the_loaded_lines_read_back_as_given(chdb_warehouse):
    publish_lines(chdb_warehouse, [*ROWS, {"invoice_id": "C3", "invoice_ts":
                                           "2024-01-03 11:00:00.250", "customer_id": None,
                                           "description": "O'Brien \\ mug", "quantity": -1,
                                           "unit_price": 5.0}])
    lines = chdb_warehouse.read_lines()
    assert list(lines["invoice_id"]) == ["1", "2", "C3"]       # by line id: time, then file
    assert lines["invoice_ts"].iloc[2] == pd.Timestamp("2024-01-03 11:00:00.250")
    assert lines["description"].iloc[2] == "O'Brien \\ mug"
    assert lines["customer_id"].isna().tolist() == [False, False, True]
    assert lines["is_cancellation"].tolist() == [False, False, True]


def test_two_folders_in_one_process_take_turns(tmp_path):
    pytest.importorskip("chdb")
    first = Warehouse(f"chdb:///{tmp_path / 'one'}")
    second = Warehouse(f"chdb:///{tmp_path / 'two'}")
    try:
        publish_lines(first, ROWS)
        publish_lines(second, ROWS[:1])
        publish_lines(second, ROWS[:1])
        assert (first.current_version(), second.current_version()) == (1, 2)
        assert (first.version_info().line_count, second.version_info().line_count) == (2, 1)
    finally:
        first.dispose()
        second.dispose()


def test_urls_name_the_engine_and_the_version_databases():
    server = Warehouse("clickhouse://reader:secret@ch.internal:8123/shop_eu")
    assert (server.kind, server.ch_database(7)) == ("clickhouse", "shop_eu_v000007")
    assert "secret" not in repr(server)
    assert Warehouse("chdb:///var/warehouse").ch_database(7) == "shoplens_v000007"
    with pytest.raises(WarehouseError, match="not a plain name"):
        Warehouse("clickhouse://ch.internal:8123/shop-eu")


class FakeHttpClient:
    """What the HTTP backend asks of ``clickhouse-connect``'s client (no server here)."""

    def __init__(self):
        self.database, self.calls = None, []

    def command(self, sql, settings):
        self.calls.append(("command", self.database, sql, settings["join_use_nulls"]))

    def raw_query(self, sql, settings, fmt):
        import pyarrow as pa
        self.calls.append(("raw_query", self.database, sql, fmt))
        sink = pa.BufferOutputStream()
        table = pa.table({"n": [1, None], "day": [dt.date(2011, 1, 4), None]})
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        return sink.getvalue().to_pybytes()


def test_over_http_ddl_is_a_command_and_rows_come_as_arrow():
    client = FakeHttpClient()
    connection = clickhouse.Connection(clickhouse.HttpBackend(client), "shoplens_v000002", 30)
    cursor = connection.cursor()
    cursor.execute("CREATE TABLE t (n Int64) ENGINE = Memory")
    assert cursor.description is None
    cursor.execute("SELECT n, day FROM t WHERE day >= %(d)s", {"d": dt.date(2011, 1, 1)})
    assert [column[0] for column in cursor.description] == ["n", "day"]
    assert cursor.fetchall() == [(1, dt.date(2011, 1, 4)), (None, None)]
    assert client.calls == [
        ("command", "shoplens_v000002", "CREATE TABLE t (n Int64) ENGINE = Memory", 1),
        ("raw_query", "shoplens_v000002",
         "SELECT n, day FROM t WHERE day >= toDate32('2011-01-01')", "ArrowStream")]


# ------------------------------------------------------- publishing on a cluster
CLUSTER_URL = "clickhouse://loader:secret@ch-node-1:8123/shoplens?cluster=shop"


class RecordingClusterClient:
    """A RECORDING FAKE of ``clickhouse-connect``'s client for a cluster node (no cluster
    runs here): it records every statement the publisher sends and answers the few queries
    it asks (server version, existing version databases, the pointer) as a node whose
    current version is ``current`` would. It executes nothing; ``test_a_cluster_load_on_
    one_chdb_node_builds_the_same_version`` runs the same statements for real."""

    def __init__(self, current: int, fail_on: str | None = None):
        self.current, self.fail_on = current, fail_on
        self.database = None
        self.commands: list[str] = []
        self.settings: list[dict] = []
        self.inserts: list[tuple[str, str, int]] = []

    def command(self, sql, settings):
        self.commands.append(sql)
        self.settings.append(settings)
        if self.fail_on and self.fail_on in sql:
            from clickhouse_connect.driver.exceptions import DatabaseError
            raise DatabaseError(f"Code: 47. DB::Exception: failing {self.fail_on} on purpose")

    def raw_query(self, sql, settings, fmt):
        import pyarrow as pa
        if "version()" in sql:
            table = pa.table({"v": ["26.1.2.1"]})
        elif sql == "SELECT 1":  # the pool's ping
            table = pa.table({"x": [1]})
        elif "system.databases" in sql:
            table = pa.table({"name": [f"shoplens_v{v:06d}" for v in range(1, self.current + 1)]})
        elif "system.tables" in sql:
            table = pa.table({"n": [1 if self.current else 0]})
        elif "max(version)" in sql:
            table = pa.table({"v": [self.current]})
        else:
            raise AssertionError(f"the publisher asked an unexpected query: {sql}")
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        return sink.getvalue().to_pybytes()

    def insert_arrow(self, table_name, table, database):
        self.inserts.append((database, table_name, table.num_rows))

    def close(self):
        pass


@pytest.fixture
def cluster_client(monkeypatch):
    import clickhouse_connect

    holder = {}

    def get_client(**kwargs):
        assert kwargs["host"] == "ch-node-1" and kwargs["username"] == "loader"
        return holder["client"]

    monkeypatch.setattr(clickhouse_connect, "get_client", get_client)
    return holder


def test_publishing_on_a_cluster_lays_the_version_out_on_it(cluster_client, chdb_engine):
    client = cluster_client["client"] = RecordingClusterClient(current=4)
    warehouse = Warehouse(CLUSTER_URL)
    assert warehouse.cluster == "shop"
    assert publish_lines(warehouse, ROWS) == 5
    sent, db = client.commands, "`shoplens_v000005`"
    on = "ON CLUSTER `shop`"
    # the database and every table, on the cluster, before anything else
    tables = clickhouse.cluster_tables_ddl("shop", "shoplens_v000005")
    assert sent[:1 + len(tables)] == [f"CREATE DATABASE {db} {on}", *tables]
    # the frames are staged on the node the load talks to, through Arrow
    staging = [s for s in sent if "ENGINE = Memory" in s]
    assert len(staging) == 3 and not [s for s in staging if "ON CLUSTER" in s]
    assert client.inserts == [("shoplens_v000005", "incoming_lines", 2),
                              ("shoplens_v000005", "incoming_sessions", 0),
                              ("shoplens_v000005", "incoming_ad_spend", 0)]
    # every write of a sharded table goes through its Distributed table, and the next
    # statement waits for the shard's replicas
    written = [(i, s.split()[2]) for i, s in enumerate(sent) if s.lstrip().startswith("INSERT")]
    for index, name in written:
        if name in clickhouse.SHARDING_KEYS:
            assert sent[index + 1] == \
                f"SYSTEM SYNC REPLICA {on} {db}.`{name}_local`", name
    assert {name for _, name in written} >= {"fact_lines", "dim_customer", "rollup_invoice",
                                            "rollup_customer_day", "rollup_daily"}
    # the planner's rollups are filled into the tables made above, none created AS SELECT
    assert not [s for s in sent[1 + len(tables):] if s.lstrip().startswith("CREATE TABLE `")
                and "ENGINE = Memory" not in s]
    assert {t.name for t in rollups.metadata.sorted_tables} <= {name for _, name in written}
    # then every replicated-to-all table is synced, the pointer moves on the cluster,
    # and the versions before the last three are dropped on the cluster
    pointer = sent.index("CREATE DATABASE IF NOT EXISTS shoplens_meta ON CLUSTER `shop`")
    everywhere = [t.name for t in [*schema.metadata.sorted_tables,
                                   *rollups.metadata.sorted_tables]
                  if t.name not in clickhouse.SHARDING_KEYS]
    assert sent[pointer - len(everywhere) - 1].startswith("INSERT INTO version_info VALUES (5,")
    assert sent[pointer - len(everywhere):pointer] == [
        f"SYSTEM SYNC REPLICA {on} {db}.`{name}`" for name in everywhere]
    assert sent[pointer + 1:pointer + 3] == [
        f"CREATE TABLE IF NOT EXISTS shoplens_meta.current_version {on} (version Int64, "
        "switched_at DateTime64(6, 'UTC')) ENGINE = ReplicatedMergeTree("
        "'/clickhouse/tables/all/shoplens_meta/current_version', '{replica}') ORDER BY version",
        "INSERT INTO shoplens_meta.current_version VALUES (5, now64(6))"]
    assert sent[pointer + 3:] == [
        f"SYSTEM SYNC REPLICA {on} shoplens_meta.current_version",
        f"DROP DATABASE IF EXISTS `shoplens_v000001` {on} SYNC",
        f"DROP DATABASE IF EXISTS `shoplens_v000002` {on} SYNC"]
    # every statement ran with the cluster's settings
    assert all(s["distributed_product_mode"] == "global"
               and s["distributed_foreground_insert"] == 1 and s["insert_deduplicate"] == 0
               for s in client.settings)
    # and every one of them is ClickHouse SQL: ClickHouse's own parser (chDB) reads it
    with chdb_engine.connect() as conn:
        for statement in sent:
            assert conn.execute(sa.text("SELECT formatQuery(:q)"), {"q": statement}).scalar()


def test_a_failed_cluster_load_drops_its_database_on_the_cluster(cluster_client):
    client = cluster_client["client"] = RecordingClusterClient(current=1,
                                                               fail_on="INSERT INTO rollup_daily")
    with pytest.raises(WarehouseError, match="failing INSERT INTO rollup_daily"):
        publish_lines(Warehouse(CLUSTER_URL), ROWS)
    assert client.commands[-1] == "DROP DATABASE IF EXISTS `shoplens_v000002` ON CLUSTER " \
                                  "`shop` SYNC"
    assert not [s for s in client.commands if "current_version" in s]


def one_node(statement: str) -> str | None:
    """A cluster statement as a cluster of one node without replicas would run it (None:
    nothing to run there): no ON CLUSTER, MergeTree for ReplicatedMergeTree, the
    ``_local`` table under its own name, no Distributed table over it, nothing to sync."""
    if statement.startswith("SYSTEM SYNC REPLICA") or "ENGINE = Distributed(" in statement:
        return None
    statement = statement.replace(" ON CLUSTER `shop`", "")
    statement = re.sub(r"ReplicatedMergeTree\('[^']*', '\{replica\}'\)", "MergeTree()",
                       statement)
    return re.sub(r"`(\w+)_local`", r"`\1`", statement)


def version_tables(warehouse) -> dict[str, pd.DataFrame]:
    """Every table of the current version, its rows sorted, its values as Python's."""
    frames = {}
    with warehouse.connect() as conn:
        for table in [*schema.metadata.sorted_tables, *rollups.metadata.sorted_tables]:
            frame = pd.read_sql(sa.text(f"SELECT * FROM {table.name}"), conn)
            frame = frame.astype(object).where(frame.notna(), None)
            frames[table.name] = frame.sort_values(list(frame.columns), key=lambda c: c.map(
                repr)).reset_index(drop=True)
    return frames


def test_a_cluster_load_on_one_chdb_node_builds_the_same_version(tmp_path, monkeypatch):
    """The cluster's statements, run for real on chDB as a one-node cluster runs them
    (``one_node``), build the same version as a load on one server: the planner rollups
    filled with INSERT into tables made from ``rollups.metadata`` hold what CREATE TABLE
    AS SELECT makes, column for column; chDB runs with the cluster's settings."""
    pytest.importorskip("chdb")
    from data.demo import generate_demo

    demo = generate_demo(lines=3000, seed=7)
    server = Warehouse(f"chdb:///{tmp_path / 'server'}")
    node = Warehouse(f"chdb:///{tmp_path / 'node'}")
    node.cluster = "shop"  # chDB has no cluster: its statements are run as one node's
    sent = []
    real_query = clickhouse.ChdbBackend.query

    def query(backend, sql, database, settings):
        if backend.path != str(node.folder):
            return real_query(backend, sql, database, settings)
        assert settings["distributed_product_mode"] == "global"
        sent.append(sql)
        local = one_node(sql)
        return None if local is None else real_query(backend, local, database, settings)

    monkeypatch.setattr(clickhouse.ChdbBackend, "query", query)
    try:
        server.publish(demo.lines, demo.sessions, source="demo")
        node.publish(demo.lines, demo.sessions, source="demo")
        assert [s for s in sent if s.startswith("SYSTEM SYNC REPLICA")]
        expected, built = version_tables(server), version_tables(node)
    finally:
        server.dispose()
        node.dispose()
    assert set(built) == set(expected)
    for name, frame in expected.items():
        drop = ["created_at"] if name == "version_info" else []
        pd.testing.assert_frame_equal(built[name].drop(columns=drop),
                                      frame.drop(columns=drop), check_dtype=False, obj=name)
    assert len(expected["fact_lines"]) == 3000


def test_a_cluster_is_named_in_the_url_of_a_server_only():
    assert Warehouse("clickhouse://ch:8123/shoplens").cluster is None
    assert Warehouse(CLUSTER_URL).cluster == "shop"
    with pytest.raises(WarehouseError, match="not a plain name"):
        Warehouse("clickhouse://ch:8123/shoplens?cluster=a-b")
    with pytest.raises(ValueError, match="not a plain name"):
        clickhouse.VersionLayout("shop`")


def test_a_bulk_load_reaches_chdb_in_chunks_cut_anywhere(tmp_path, monkeypatch):
    """The Arrow stream is sent as it is written, in chunks that cut its messages at any
    byte; chDB reads back every row."""
    pytest.importorskip("chdb")
    import pyarrow as pa
    monkeypatch.setattr(clickhouse.ChdbBackend, "INSERT_BATCH_ROWS", 7)
    monkeypatch.setattr(clickhouse.ChdbBackend, "INSERT_CHUNK_BYTES", 100)
    count = 10_003
    connection = clickhouse.DBAPI.connect(path=str(tmp_path / "chdb"))
    try:
        cursor = connection.cursor()
        cursor.execute("CREATE TABLE t (n Nullable(Int64), s Nullable(String)) ENGINE = Memory")
        connection.insert_arrow("t", pa.table({
            "n": pa.array(range(count), pa.int64()),
            "s": [None if n % 5 == 0 else f"O'B {n}" for n in range(count)]}))
        cursor.execute("SELECT count(), sum(n), countIf(s IS NULL), max(s) FROM t")
        assert cursor.fetchall() == [(count, count * (count - 1) // 2, 2001, "O'B 9999")]
    finally:
        connection.close()
