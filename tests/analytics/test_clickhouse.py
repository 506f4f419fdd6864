"""The ClickHouse warehouse: the dialect's SQL text, the version tables' DDL, the cluster
layout, and data versions on chDB (the analytics suite runs on chDB through the
``warehouse`` fixture; these are the parts that suite does not see)."""
from __future__ import annotations

import datetime as dt

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
