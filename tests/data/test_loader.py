"""load_file on real warehouses: totals, refusals that change nothing, append, and a
publish that fails half-way."""
import pandas as pd
import pytest
import sqlalchemy as sa

from analytics import rollups, schema
from data.loader import LoadError, load_file, sample_path

HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
# 4 sale lines (two identical), 1 cancellation, 1 free sample (price 0)
FIRST = HEADER + (
    "1001,A,Mug,2,2011-01-03 10:00:00,5.0,C1,United Kingdom\n"
    "1001,A,Mug,2,2011-01-03 10:00:00,5.0,C1,United Kingdom\n"
    "1001,B,Plate,1,2011-01-03 10:00:00,12.5,C1,United Kingdom\n"
    "1002,A,Mug,10,2011-01-04 11:00:00,4.5,C2,EIRE\n"
    "C1003,A,Mug,-1,2011-01-05 12:00:00,5.0,C1,United Kingdom\n"
    "1004,S,Sample,1,2011-01-06 09:00:00,0,,Unspecified\n"
)
# overlaps FIRST in two lines (one of the identical pair) and adds two
SECOND = HEADER + (
    "1001,A,Mug,2,2011-01-03 10:00:00,5.0,C1,United Kingdom\n"
    "1002,A,Mug,10,2011-01-04 11:00:00,4.5,C2,EIRE\n"
    "1005,B,Plate,3,2011-02-01 08:00:00,12.5,C3,France\n"
    "1005,B,Plate,3,2011-02-01 08:00:00,12.5,C3,France\n"
)


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def warehouse_totals(warehouse):
    """Net revenue, orders, customers and line count, computed in SQL from the flags."""
    lines = schema.fact_lines.c
    query = sa.select(
        sa.func.sum(sa.case((lines.is_sale, lines.line_value), else_=0.0)),
        sa.func.sum(sa.case((lines.is_return, lines.line_value), else_=0.0)),
        sa.func.count(sa.distinct(sa.case((lines.is_sale, lines.invoice_id)))),
        sa.func.count(sa.distinct(sa.case((lines.is_sale, lines.customer_id)))),
        sa.func.count())
    with warehouse.connect() as conn:
        gross, return_value, orders, customers, count = conn.execute(query).one()
    return {"net_revenue": round(gross + return_value, 2), "orders": orders,
            "customers": customers, "lines": count}


def test_load_publishes_lines_and_a_report(warehouse, tmp_path):
    result = load_file(warehouse, write(tmp_path, "first.csv", FIRST),
                       rejects_dir=tmp_path / "rejects")
    assert result.version == warehouse.current_version() == 1
    assert (result.lines_read, result.lines_loaded, result.lines_rejected) == (6, 6, 0)
    assert result.rejects_path is None
    # sales 10 + 10 + 12.5 + 45 = 77.5; return −5; the free sample counts nowhere
    assert warehouse_totals(warehouse) == {"net_revenue": 72.5, "orders": 2, "customers": 2,
                                           "lines": 6}
    quality = warehouse.version_info().quality
    assert quality["totals"]["net_revenue"] == 72.5
    assert quality["exact_duplicate_lines"] == 1
    assert quality["price_not_positive_lines"] == 1
    assert quality["countries_without_code"]["Unspecified"]["lines"] == 1


def test_rejected_lines_go_to_a_csv_with_reasons(duckdb_warehouse, tmp_path):
    text = FIRST + "1006,A,Mug,1,not a date,5.0,C1,United Kingdom\n"
    result = load_file(duckdb_warehouse, write(tmp_path, "some bad.csv", text),
                       rejects_dir=tmp_path / "rejects")
    assert (result.lines_loaded, result.lines_rejected) == (6, 1)
    rejects = pd.read_csv(result.rejects_path, dtype=str)
    assert rejects.loc[0, "source_row"] == "8"
    assert rejects.loc[0, "reject_reason"] == "unparseable date"
    assert rejects.loc[0, "InvoiceDate"] == "not a date"
    assert result.quality["rejected_by_reason"] == {"unparseable date": 1}


def test_mostly_garbage_is_refused_and_the_current_version_is_untouched(
        duckdb_warehouse, tmp_path):
    load_file(duckdb_warehouse, write(tmp_path, "first.csv", FIRST))
    before = duckdb_warehouse.version_info()
    garbage = HEADER + "".join(f"{n},A,Mug,1,someday,5.0,C1,United Kingdom\n"
                               for n in range(7)) + "2001,A,Mug,1,2011-01-01,5.0,C1,UK\n"
    with pytest.raises(LoadError) as error:
        load_file(duckdb_warehouse, write(tmp_path, "garbage.csv", garbage),
                  rejects_dir=tmp_path / "rejects")
    message = str(error.value)
    assert "7 of 8 lines (88%) were rejected" in message
    assert "'unparseable date'" in message and "\n" not in message
    assert duckdb_warehouse.current_version() == before.version
    assert duckdb_warehouse.version_info() == before
    assert warehouse_totals(duckdb_warehouse)["lines"] == 6


@pytest.mark.parametrize("text, message", [
    ("", "is empty"),
    ("order;date\n1;2\n", "does not have the Online Retail columns"),
])
def test_unreadable_files_change_nothing(duckdb_warehouse, tmp_path, text, message):
    load_file(duckdb_warehouse, write(tmp_path, "first.csv", FIRST))
    with pytest.raises(LoadError, match=message):
        load_file(duckdb_warehouse, write(tmp_path, "bad.csv", text))
    assert duckdb_warehouse.current_version() == 1


def test_wrong_format_options_are_refused(duckdb_warehouse, tmp_path):
    path = write(tmp_path, "first.csv", FIRST)
    with pytest.raises(LoadError, match="needs a mapping"):
        load_file(duckdb_warehouse, path, format="generic")
    with pytest.raises(LoadError, match="Unknown format"):
        load_file(duckdb_warehouse, path, format="parquet")
    with pytest.raises(LoadError, match="'Order' \\(mapped to invoice_id\\) is not in the file"):
        load_file(duckdb_warehouse, path, format="generic", mapping={"columns": {
            "invoice_id": "Order", "invoice_ts": "InvoiceDate", "product_id": "StockCode",
            "quantity": "Quantity", "unit_price": "UnitPrice"}})
    assert duckdb_warehouse.current_version() is None


def test_append_adds_only_new_lines_and_twice_is_the_same_data(warehouse, tmp_path):
    first = write(tmp_path, "first.csv", FIRST)
    second = write(tmp_path, "second.csv", SECOND)
    load_file(warehouse, first)
    appended = load_file(warehouse, second, append=True)
    # of SECOND's 4 lines, 2 are already present; both France lines are new (a pair)
    assert appended.quality["append"] == {"lines_added": 2, "lines_already_present": 2,
                                          "lines_in_version": 8}
    after_first_append = warehouse.read_lines()
    assert warehouse_totals(warehouse) == {"net_revenue": 72.5 + 75.0, "orders": 3,
                                           "customers": 3, "lines": 8}
    again = load_file(warehouse, second, append=True)
    assert again.quality["append"]["lines_added"] == 0
    pd.testing.assert_frame_equal(warehouse.read_lines(), after_first_append)
    same_file = load_file(warehouse, first, append=True)
    assert same_file.quality["append"]["lines_added"] == 0
    assert warehouse.version_info().line_count == 8


def test_replace_is_the_default(duckdb_warehouse, tmp_path):
    load_file(duckdb_warehouse, write(tmp_path, "first.csv", FIRST))
    load_file(duckdb_warehouse, write(tmp_path, "second.csv", SECOND))
    assert warehouse_totals(duckdb_warehouse)["lines"] == 4


def test_a_publish_failing_half_way_leaves_the_old_version_and_numbers(
        warehouse, tmp_path, monkeypatch):
    load_file(warehouse, write(tmp_path, "first.csv", FIRST))
    before = warehouse_totals(warehouse)
    real_statements = rollups.build_statements

    def statements_then_failure(dialect):
        # runs after the facts of the new version are written
        return [*real_statements(dialect), "SELECT no_such_column FROM fact_lines"]

    monkeypatch.setattr(rollups, "build_statements", statements_then_failure)
    with pytest.raises(LoadError, match="Publishing the new data version failed"):
        load_file(warehouse, write(tmp_path, "second.csv", SECOND))
    assert warehouse.current_version() == 1
    assert warehouse_totals(warehouse) == before
    if warehouse.kind == "duckdb":
        assert sorted(p.name for p in warehouse.folder.glob("v*")) == ["v000001.duckdb"]


def test_the_sample_is_found_from_any_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = sample_path("online-retail")
    assert path.is_absolute() and path.exists()
    with pytest.raises(LoadError, match="Unknown sample"):
        sample_path("nope")
