"""data.tables on hand-made files: encoding detection (Windows-1252 preferred), old Excel
.xls workbooks and Parquet files read as text cells like a CSV, and their input limits."""
import datetime as dt
import decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from data.readers import read_online_retail
from data.tables import AUTO, LoadLimits, ReadError, file_kind, read_header, read_table

FIXTURES = Path(__file__).parent / "fixtures"

# ----------------------------------------------------------------- encodings
# Only letters that Windows-1252 and Central European cp1250 share (é, ü, –, ’) in the
# first megabyte; letters where they differ (è ï ñ å Œ) only past it. charset-normalizer
# calls the first megabyte cp1250, which read "Crème" as "Crčme" and "naïve" as "naďve"
# (a Tableau Superstore file lost 9 product names that way).
EARLY = ["Tenex Chairmats Café Müller", "Eldon Fold ’N Roll Cart", "Binder – 3 Ring"]
LATE = ["Café Crème Mug", "naïve Señor Chair", "Smörgåsbord Tray", "Œuvre Lamp €5",
        "Ångström Ruler"]


def superstore_like(path: Path) -> Path:
    rows = ["Row ID,Order ID,Product Name,Sales"]
    rows += [f"{n + 1},US-2017-{n},{name},1.5" for n, name in enumerate(EARLY)]
    number, size = len(rows), 0
    while size < (1 << 20) + 1000:
        rows.append(f"{number},CA-2016-{100000 + number},Staples {number} Binder Clips,"
                    f"{number}.5")
        number, size = number + 1, size + len(rows[-1]) + 2
    rows += [f"{number + n},US-2018-{n},{name},2.5" for n, name in enumerate(LATE)]
    path.write_bytes(("\r\n".join(rows) + "\r\n").encode("cp1252"))
    return path


def test_cp1252_is_preferred_whenever_the_bytes_decode_under_it(tmp_path):
    path = superstore_like(tmp_path / "superstore.csv")
    frame, rows, notes, rejects = read_table(path, AUTO)
    names = frame["Product Name"].tolist()
    assert names[:3] == EARLY
    assert names[-5:] == LATE
    assert notes[0].startswith("encoding cp1252 (detected), delimiter comma (detected)")
    assert rows[-1] == len(frame) + 1 and not len(rejects)
    assert read_header(path) == ["Row ID", "Order ID", "Product Name", "Sales"]


@pytest.mark.parametrize("encoding, expected", [
    ("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"), ("utf-16", "utf-16")])
def test_utf8_and_byte_order_marks_come_before_cp1252(tmp_path, encoding, expected):
    path = tmp_path / "names.csv"
    path.write_text("id;name\n1;Café Crème\n2;naïve – Œuvre €5\n3;Łódź\n", encoding=encoding)
    frame, _rows, notes, _rejects = read_table(path, AUTO)
    assert frame["name"].tolist() == ["Café Crème", "naïve – Œuvre €5", "Łódź"]
    assert notes[0].startswith(f"encoding {expected} (detected)")


def test_a_stated_encoding_is_used_as_stated(tmp_path):
    """A Cyrillic cp1251 file decodes under cp1252 too (as mojibake): its mapping states the
    encoding."""
    class Options:
        encoding, delimiter = "cp1251", None

    path = tmp_path / "ru.csv"
    path.write_bytes("id,name\n1,Кофейная кружка\n".encode("cp1251"))
    frame, _rows, notes, _rejects = read_table(path, Options())
    assert frame["name"].tolist() == ["Кофейная кружка"]
    assert notes[0].startswith("encoding cp1251, delimiter comma (detected)")


def test_bytes_cp1252_leaves_undefined_go_to_the_detector(tmp_path):
    path = tmp_path / "ru.csv"  # "Ѓ" is byte 0x81, which cp1252 does not define
    path.write_bytes("id,name\n1,Ѓ Кофейная кружка\n2,Привет мир\n".encode("cp1251"))
    frame, _rows, _notes, _rejects = read_table(path, AUTO)
    assert frame["name"].tolist() == ["Ѓ Кофейная кружка", "Привет мир"]


# ----------------------------------------------------------------- old Excel (.xls)
# tests/data/fixtures/retail.xls was written once by fixtures/make_retail_xls.py (xlwt 1.3.0
# in a throwaway virtualenv: xlwt is no dependency of ours)
RETAIL_XLS = FIXTURES / "retail.xls"
RETAIL_COLUMNS = ["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate",
                  "UnitPrice", "CustomerID", "Country"]


def test_an_xls_workbook_is_read_as_text_cells_like_an_xlsx(tmp_path):
    # told by its first bytes, not its name
    path = tmp_path / "export.dat"
    path.write_bytes(RETAIL_XLS.read_bytes())
    assert file_kind(path) == "xls"
    frame, rows, notes, rejects = read_table(path, AUTO)
    assert frame.columns.tolist() == RETAIL_COLUMNS  # "Country " stripped
    assert frame.to_dict("list") == {
        "InvoiceNo": ["536365", "C536379", "536400"],      # whole numbers without ".0"
        "StockCode": ["85123A", "D", "22139"],
        "Description": ["WHITE HANGING HEART", "Crème brûlée – Discount", ""],
        "Quantity": ["6", "-1", "3"],
        "InvoiceDate": ["2010-12-01 08:26:00", "2010-12-01 09:41:00", "2010-12-13 10:00:00"],
        "UnitPrice": ["2.55", "27.5", "1.25"],
        "CustomerID": ["17850", "14527", ""],
        "Country": ["United Kingdom", "RSA", "USA"]}
    assert rows.tolist() == [2, 3, 5]  # row 4 is blank
    assert notes == ["Excel 97-2003 workbook (.xls), first sheet", "1 blank lines ignored"]
    assert not len(rejects)
    assert read_header(path) == RETAIL_COLUMNS


def test_an_online_retail_xls_loads_through_the_reader():
    lines = read_online_retail(RETAIL_XLS).lines
    assert lines["invoice_id"].tolist() == ["536365", "C536379", "536400"]
    assert lines["customer_id"].iloc[0] == "17850" and pd.isna(lines["customer_id"].iloc[2])
    assert lines["invoice_ts"].tolist() == [pd.Timestamp("2010-12-01 08:26"),
                                            pd.Timestamp("2010-12-01 09:41"),
                                            pd.Timestamp("2010-12-13 10:00")]
    assert lines["is_cancellation"].tolist() == [False, True, False]
    assert lines["country_code"].tolist() == ["GB", "ZA", "US"]


def test_xls_limits_and_damaged_files(tmp_path):
    with pytest.raises(ReadError, match=r"retail.xls holds 5.5 KB of data, over the limit of "
                                        r"one load \(1 KB, LOAD_MAX_MB\)"):
        read_table(RETAIL_XLS, AUTO, LoadLimits(max_bytes=1024))
    with pytest.raises(ReadError, match="LOAD_MAX_MB"):
        read_header(RETAIL_XLS, limits=LoadLimits(max_bytes=1024))
    frame, _rows, notes, rejects = read_table(RETAIL_XLS, AUTO, LoadLimits(max_field_bytes=20))
    assert frame["InvoiceNo"].tolist() == ["536365", "536400"]
    assert rejects.to_dict("list") == {"source_row": [3], "reject_reason": ["field too long"]}
    assert "1 lines have a field longer than 0 KB" in notes[-1]
    damaged = tmp_path / "damaged.xls"
    damaged.write_bytes(RETAIL_XLS.read_bytes()[:1500])
    with pytest.raises(ReadError, match="damaged.xls is an Office \\(OLE\\) file but not a "
                                        "readable .xls workbook"):
        read_table(damaged, AUTO)


# ----------------------------------------------------------------- Parquet
def write_parquet(path: Path, table: pa.Table, **options) -> Path:
    pq.write_table(table, path, **options)
    return path


def test_parquet_columns_become_the_text_a_csv_would_hold(tmp_path):
    table = pa.table({
        "order": ["536365", "C536379", None],
        "qty": pa.array([6, -1, 3], pa.int64()),
        "when": pa.array([dt.datetime(2010, 12, 1, 8, 26), dt.datetime(2010, 12, 1, 9, 41, 0,
                                                                     500000), None],
                         pa.timestamp("ns")),
        "zoned": pa.array([dt.datetime(2024, 1, 5, 9, 30)] * 3,
                          pa.timestamp("us", tz="UTC")).cast(
                              pa.timestamp("us", tz="Europe/Berlin")),
        "day": pa.array([dt.date(2024, 1, 5)] * 3),
        "at": pa.array([dt.time(10, 30)] * 3),
        "price": [2.55, 27.5, float("nan")],
        "customer": [17850.0, None, 12.0],
        "exact": pa.array([decimal.Decimal("2.50")] * 3),
        "flag": [True, False, None],
        "channel": pa.array(["web", "store", "web"]).dictionary_encode(),
        "country": ["United Kingdom", "Côte d’Ivoire", "USA"],
    })
    path = write_parquet(tmp_path / "orders.parquet", table, row_group_size=2)
    assert file_kind(path) == "parquet"
    frame, rows, notes, rejects = read_table(path, AUTO)
    assert frame.to_dict("list") == {
        "order": ["536365", "C536379", ""],
        "qty": ["6", "-1", "3"],
        "when": ["2010-12-01 08:26:00", "2010-12-01 09:41:00.5", ""],
        "zoned": ["2024-01-05 10:30:00"] * 3,  # the zone's local time
        "day": ["2024-01-05"] * 3,
        "at": ["10:30:00"] * 3,
        "price": ["2.55", "27.5", ""],
        "customer": ["17850", "", "12"],
        "exact": ["2.50"] * 3,
        "flag": ["true", "false", ""],
        "channel": ["web", "store", "web"],
        "country": ["United Kingdom", "Côte d’Ivoire", "USA"]}
    assert rows.tolist() == [2, 3, 4]
    assert notes == ["Parquet file, 3 records in 2 row groups"]
    assert not len(rejects)
    assert read_header(path) == list(table.column_names)


def test_an_online_retail_parquet_written_by_pandas_loads_through_the_reader(tmp_path):
    frame = pd.DataFrame({
        "InvoiceNo": ["536365", "C536379", "536400"], "StockCode": ["85123A", "D", "22139"],
        "Description": ["WHITE HANGING HEART", "Crème", None], "Quantity": [6, -1, 3],
        "InvoiceDate": pd.to_datetime(["2010-12-01 08:26", "2010-12-01 09:41",
                                       "2010-12-13 10:00"]),
        "UnitPrice": [2.55, 27.5, 1.25], "CustomerID": [17850.0, 14527.0, None],
        "Country": ["United Kingdom", "RSA", "USA"]})
    path = tmp_path / "retail.parquet"
    frame.to_parquet(path)
    lines = read_online_retail(path).lines
    assert lines["invoice_id"].tolist() == ["536365", "C536379", "536400"]
    assert lines["customer_id"].iloc[0] == "17850" and pd.isna(lines["customer_id"].iloc[2])
    assert lines["invoice_ts"].iloc[1] == pd.Timestamp("2010-12-01 09:41")
    assert lines["is_cancellation"].tolist() == [False, True, False]
    assert (lines["quantity"] * lines["unit_price"]).round(2).tolist() == [15.3, -27.5, 3.75]


def test_blank_and_oversize_parquet_records(tmp_path):
    path = write_parquet(tmp_path / "odd.parquet", pa.table({
        "id": ["1", None, "3", "4"], "note": ["a", "", "x" * 5000, "d"]}))
    frame, rows, notes, rejects = read_table(path, AUTO, LoadLimits(max_field_bytes=1024))
    assert frame["id"].tolist() == ["1", "4"]
    assert rows.tolist() == [2, 5]
    assert rejects.to_dict("list") == {"source_row": [4], "reject_reason": ["field too long"]}
    assert "1 blank lines ignored" in notes
    empty = write_parquet(tmp_path / "empty.parquet", pa.table({"a": pa.array([], pa.string()),
                                                                 "b": pa.array([], pa.int64())}))
    with pytest.raises(ReadError, match="no data lines"):
        read_table(empty, AUTO)
    single = write_parquet(tmp_path / "single.parquet", pa.table({"a": ["1"]}))
    with pytest.raises(ReadError, match="single column"):
        read_table(single, AUTO)
    damaged = tmp_path / "damaged.parquet"
    damaged.write_bytes(path.read_bytes()[:200])
    with pytest.raises(ReadError, match="damaged.parquet is not a readable Parquet file"):
        read_table(damaged, AUTO)
    with pytest.raises(ReadError, match="damaged.parquet is not a readable Parquet file"):
        read_header(damaged)


def test_a_parquet_file_declaring_too_much_data_is_refused_before_reading(tmp_path):
    path = write_parquet(tmp_path / "big.parquet", pa.table({
        "id": pa.array(range(200_000), pa.int64()), "value": pa.array(range(200_000),
                                                                      pa.float64())}))
    with pytest.raises(ReadError, match=r"big.parquet holds [\d.]+ MB of data once "
                                        r"decompressed, over the limit of one load \(1 MB, "
                                        r"LOAD_MAX_MB\)"):
        read_table(path, AUTO, LoadLimits(max_bytes=1 << 20))


def test_a_parquet_bomb_is_refused_before_its_text_is_materialised(tmp_path):
    """One 256 KB text repeated 50,000 times: dictionary-encoded and compressed the file is
    a few KB, and 12 GB as text. It is refused from the dictionary's lengths, before a
    batch of records (2 GB) is decoded."""
    import resource

    dictionary = pa.array(["x" * (256 << 10)])
    column = pa.DictionaryArray.from_arrays(pa.array(np.zeros(50_000, dtype="int32")),
                                            dictionary)
    path = write_parquet(tmp_path / "bomb.parquet",
                         pa.table({"id": pa.array(range(50_000)), "text": column}),
                         compression="zstd")
    assert path.stat().st_size < 1 << 20
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(ReadError, match="bomb.parquet expands more than 100 times when "
                                        "decompressed .*LOAD_MAX_RATIO"):
        read_table(path, AUTO)
    with pytest.raises(ReadError, match=r"bomb.parquet holds more than 64 MB of data once "
                                        r"decompressed"):
        read_table(path, AUTO, LoadLimits(max_bytes=64 << 20, max_ratio=1e9))
    growth_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert growth_mb < 200, growth_mb
