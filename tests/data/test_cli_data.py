"""The `data` CLI through create_app, writing everything under a temporary home."""
import json
import re

import pytest

from webapp import create_app

FILE = ("InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
        "1001,A,Mug,2,2011-01-03 10:00:00,5.0,C1,United Kingdom\n"
        "C1002,A,Mug,-1,2011-01-04 10:00:00,5.0,C1,United Kingdom\n")
GENERIC = "order;day;sku;units;total\nX1;2011-02-01;A;3;30,00\n"
MAPPING = {"columns": {"invoice_id": "order", "invoice_date": "day", "product_id": "sku",
                       "quantity": "units", "line_total": "total"}}


@pytest.fixture
def cli(home):
    app = create_app({"TESTING": True})
    runner = app.test_cli_runner()
    return lambda *args: runner.invoke(args=["data", *map(str, args)])


def test_load_prints_the_report_and_status_shows_the_version(cli, tmp_path):
    path = tmp_path / "retail.csv"
    path.write_text(FILE)
    result = cli("load", path)
    assert result.exit_code == 0, result.output
    assert re.search(r"lines loaded +2\n", result.output)
    assert "net revenue" in result.output and "5.00" in result.output
    assert "Published data version 1: 2 lines loaded, 0 rejected" in result.output
    status = cli("status")
    assert status.exit_code == 0
    assert "Current data version 1" in status.output
    assert "2011-01-03 10:00:00 → 2011-01-04 10:00:00" in status.output
    assert "done    replace retail.csv: version 1" in status.output


def test_generic_append_with_a_mapping_file(cli, tmp_path):
    retail = tmp_path / "retail.csv"
    retail.write_text(FILE)
    generic = tmp_path / "shop.csv"
    generic.write_text(GENERIC)
    mapping = tmp_path / "mapping.json"
    mapping.write_text(json.dumps(MAPPING))
    assert cli("load", retail).exit_code == 0
    result = cli("load", generic, "--format", "generic", "--mapping", mapping, "--append")
    assert result.exit_code == 0, result.output
    assert re.search(r"appended +1 new lines", result.output)
    assert "3 lines in the new version" in result.output


def test_a_bad_file_exits_non_zero_with_one_line(cli, tmp_path):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    result = cli("load", path)
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1] == "Error: empty.csv is empty"
    status = cli("status")
    assert "No data has been loaded yet" in status.output
    assert "failed  replace empty.csv: empty.csv is empty" in status.output


def test_usage_errors(cli, tmp_path):
    assert cli("load").exit_code == 2
    assert cli("load", tmp_path / "x.csv", "--sample", "online-retail").exit_code == 2
    assert cli("load", "--sample", "nope").exit_code == 2
    bad_mapping = tmp_path / "mapping.json"
    bad_mapping.write_text('{"columns": {"colour": "c"}}')
    path = tmp_path / "shop.csv"
    path.write_text(GENERIC)
    result = cli("load", path, "--format", "generic", "--mapping", bad_mapping)
    assert result.exit_code == 1 and "Unknown field 'colour'" in result.output


def test_demo_is_published_like_a_load(cli):
    pytest.importorskip("data.demo")
    result = cli("demo", "--lines", 3000, "--seed", 3)
    assert result.exit_code == 0, result.output
    assert "Published data version 1" in result.output
    status = cli("status")
    assert "demo (3,000 lines, seed 3)" in status.output


def test_a_load_that_would_shrink_the_data_needs_force(cli, tmp_path):
    header = FILE.splitlines(keepends=True)[0]
    full = tmp_path / "full.csv"
    full.write_text(header + "".join(
        f"{1000 + n},A,Mug,2,2011-01-03 10:00:00,5.0,C1,United Kingdom\n" for n in range(10)))
    small = tmp_path / "small.csv"
    small.write_text(FILE)
    assert cli("load", full).exit_code == 0
    refused = cli("load", small)
    assert refused.exit_code == 1
    assert "would replace data version 1 (10 lines) with 2 lines" in refused.output
    assert "--force" in refused.output
    forced = cli("load", small, "--force")
    assert forced.exit_code == 0, forced.output
    assert "Published data version 2: 2 lines loaded" in forced.output
