"""data.tables on hand-made files: encoding detection (Windows-1252 preferred), old Excel
.xls workbooks and Parquet files read as text cells like a CSV, and their input limits."""
from pathlib import Path

import pytest

from data.tables import AUTO, read_header, read_table

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
    number = len(rows)
    while sum(len(row) + 2 for row in rows) < (1 << 20) + 1000:
        rows.append(f"{number},CA-2016-{100000 + number},Staples {number} Binder Clips,"
                    f"{number}.5")
        number += 1
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
