"""Input limits of a data load (data.readers.LoadLimits) and the rule that a replacing load
may not silently shrink the data: gzip bombs, binary garbage, oversize fields, the rejects
file's cap, the shrink and rejects rules with and without force, and the settings."""
import gzip
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from core import job_kinds
from core.settings import ConfigurationError, load_settings
from data.loader import LoadError, load_file
from data.readers import LoadLimits

ROOT = Path(__file__).resolve().parents[2]
HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"


def good_lines(count: int, first: int = 1000) -> str:
    return "".join(f"{first + n},A,Mug,2,2011-01-03 10:00:00,5.0,C{n % 50},United Kingdom\n"
                   for n in range(count))


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# ----------------------------------------------------------------- decompression limits
BOMB_SCRIPT = textwrap.dedent("""
    import json, resource, sys, time
    from analytics.warehouse import Warehouse
    from data.loader import LoadError, load_file
    from data.readers import LoadLimits

    def peak_mb():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    folder, good, bomb = sys.argv[1:4]
    warehouse = Warehouse(f"duckdb:///{folder}/warehouse")
    load_file(warehouse, good, rejects_dir=f"{folder}/rejects")
    before = peak_mb()
    started = time.perf_counter()
    try:
        load_file(warehouse, bomb, rejects_dir=f"{folder}/rejects",
                  limits=LoadLimits(max_ratio=20))
        outcome = "published"
    except LoadError as exc:
        outcome = str(exc)
    print(json.dumps({"outcome": outcome, "seconds": time.perf_counter() - started,
                      "peak_growth_mb": peak_mb() - before,
                      "version": warehouse.current_version()}))
""")


def test_a_gzip_bomb_is_refused_quickly_in_bounded_memory_and_nothing_is_published(
        tmp_path):
    """2,000 good lines, then 100 MB of NUL bytes in 64 KB lines (under 100 KB gzipped):
    it used to be read whole, its NUL lines written as rejects, and published."""
    good = write(tmp_path / "good.csv", HEADER + good_lines(3000))
    bomb = tmp_path / "bomb.csv.gz"
    nul_line = b"\0" * (64 * 1024 - 1) + b"\n"
    with gzip.open(bomb, "wb") as handle:
        handle.write((HEADER + good_lines(2000, first=5000)).encode())
        for _ in range(100 * 16):
            handle.write(nul_line)
    assert bomb.stat().st_size < 200 * 1024
    # a process of its own, so that its peak memory is the load's
    run = subprocess.run([sys.executable, "-c", BOMB_SCRIPT, str(tmp_path), str(good),
                          str(bomb)], capture_output=True, text=True, timeout=300, check=False,
                         cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert run.returncode == 0, run.stderr[-2000:]
    measured = json.loads(run.stdout.strip().splitlines()[-1])
    assert measured["outcome"] != "published"
    assert "bomb.csv.gz" in measured["outcome"] and "nothing was loaded" in measured["outcome"]
    assert measured["version"] == 1
    assert measured["seconds"] < 5, measured
    assert measured["peak_growth_mb"] < 50, measured  # the bomb inflates to 100 MB
    assert not list((tmp_path / "rejects").glob("*bomb*"))


def test_nul_bytes_after_a_good_start_are_refused_as_binary(duckdb_warehouse, tmp_path):
    path = tmp_path / "orders.csv.gz"
    with gzip.open(path, "wb") as handle:
        handle.write((HEADER + good_lines(20_000)).encode())
        handle.write(b"\0" * (8 << 20))
    with pytest.raises(LoadError, match=r"orders.csv.gz turns into binary data \(NUL bytes\) "
                                        r"after 1\.\d MB of text: not a text table"):
        load_file(duckdb_warehouse, path)
    assert duckdb_warehouse.current_version() is None


def test_a_file_expanding_past_the_ratio_is_refused_while_decompressing(
        duckdb_warehouse, tmp_path):
    path = tmp_path / "same.csv.gz"
    with gzip.open(path, "wb") as handle:  # one line repeated: about 500 times smaller
        handle.write((HEADER + good_lines(1) * 200_000).encode())
    with pytest.raises(LoadError, match="same.csv.gz expands more than 20 times when "
                                        "decompressed .*LOAD_MAX_RATIO"):
        load_file(duckdb_warehouse, path, limits=LoadLimits(max_ratio=20))
    assert duckdb_warehouse.current_version() is None
    # it is even past the default ratio (100); under a higher cap it is a load like others
    with pytest.raises(LoadError, match="expands more than 100 times"):
        load_file(duckdb_warehouse, path)
    assert load_file(duckdb_warehouse, path,
                     limits=LoadLimits(max_ratio=1000)).lines_loaded == 200_000


def test_data_past_the_size_limit_is_refused(duckdb_warehouse, tmp_path):
    plain = write(tmp_path / "big.csv", HEADER + good_lines(30_000))  # about 2 MB
    with pytest.raises(LoadError, match=r"big.csv holds 1\.\d MB of data, over the limit of "
                                        r"one load \(1 MB, LOAD_MAX_MB\)"):
        load_file(duckdb_warehouse, plain, limits=LoadLimits(max_bytes=1 << 20))
    packed = tmp_path / "big.csv.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    with pytest.raises(LoadError, match="big.csv.gz holds more than 1 MB of data once "
                                        "decompressed"):
        load_file(duckdb_warehouse, packed, limits=LoadLimits(max_bytes=1 << 20))
    assert duckdb_warehouse.current_version() is None


def test_a_field_over_the_limit_rejects_its_line_without_keeping_the_value(
        duckdb_warehouse, tmp_path):
    huge = "x" * 5000
    text = (HEADER + good_lines(20)
            + f"9001,A,{huge},1,2011-01-03 10:00:00,5.0,C1,United Kingdom\n"
            + f"9002,{huge}\n")  # a short line, too
    result = load_file(duckdb_warehouse, write(tmp_path / "long.csv", text),
                       rejects_dir=tmp_path / "rejects",
                       limits=LoadLimits(max_field_bytes=1024))
    assert (result.lines_loaded, result.lines_rejected) == (20, 2)
    rejects = pd.read_csv(result.rejects_path, dtype=str, keep_default_na=False)
    assert rejects["source_row"].tolist() == ["22", "23"]
    assert set(rejects["reject_reason"]) == {"field too long"}
    assert huge not in result.rejects_path.read_text()
    assert result.quality["rejected_by_reason"] == {"field too long": 2}


# ----------------------------------------------------------------- the rejects file's cap
def test_the_rejects_file_stops_at_its_cap_and_says_how_many_more(duckdb_warehouse,
                                                                  tmp_path):
    bad = "".join(f"{n},A,Mug,1,someday,5.0,C1,United Kingdom\n" for n in range(5))
    result = load_file(duckdb_warehouse, write(tmp_path / "some bad.csv",
                                               HEADER + good_lines(20) + bad),
                       rejects_dir=tmp_path / "rejects",
                       limits=LoadLimits(max_rejects_written=2))
    assert (result.lines_rejected, result.rejects_not_written) == (5, 3)
    rejects = pd.read_csv(result.rejects_path, dtype=str, keep_default_na=False)
    assert rejects["source_row"].tolist() == ["22", "23", ""]
    assert rejects["reject_reason"].iloc[-1] == ("… and 3 more rejected lines, not written "
                                                 "(LOAD_MAX_REJECTS)")
    # the report still counts every rejected line, and says the file is cut
    assert result.quality["rejected_by_reason"] == {"unparseable date": 5}
    assert any("3 more were not written" in note for note in result.quality["notes"])


# ----------------------------------------------------------------- replacing loads
def test_a_replacing_load_that_shrinks_the_data_is_refused_unless_forced(
        duckdb_warehouse, tmp_path):
    load_file(duckdb_warehouse, write(tmp_path / "full.csv", HEADER + good_lines(100)))
    before = duckdb_warehouse.version_info()
    small = write(tmp_path / "truncated.csv", HEADER + good_lines(49))
    with pytest.raises(LoadError) as refused:
        load_file(duckdb_warehouse, small)
    message = str(refused.value)
    assert ("would replace data version 1 (100 lines) with 49 lines (49% of them, below the "
            "50% a replacing load must keep)") in message
    assert "--force" in message and "force option" in message and "\n" not in message
    assert duckdb_warehouse.version_info() == before
    # half of the lines is enough; an append is never refused for its size
    assert load_file(duckdb_warehouse, small, append=True).version == 2
    assert load_file(duckdb_warehouse, write(tmp_path / "half.csv",
                                             HEADER + good_lines(50))).version == 3
    forced = load_file(duckdb_warehouse, write(tmp_path / "tiny.csv", HEADER + good_lines(3)),
                       force=True)
    assert forced.version == duckdb_warehouse.current_version() == 4
    assert duckdb_warehouse.version_info().line_count == 3


def test_a_replacing_load_with_many_rejects_is_refused_unless_forced(duckdb_warehouse,
                                                                     tmp_path):
    load_file(duckdb_warehouse, write(tmp_path / "full.csv", HEADER + good_lines(10)))
    bad = "".join(f"{n},A,Mug,1,someday,5.0,C1,United Kingdom\n" for n in range(2))
    path = write(tmp_path / "damaged.csv", HEADER + good_lines(10) + bad)
    with pytest.raises(LoadError, match=r"2 of 12 lines \(17%\) were rejected, more than the "
                                        r"10% a load replacing the current data may reject: "
                                        r"nothing was loaded .*--force"):
        load_file(duckdb_warehouse, path, rejects_dir=tmp_path / "rejects")
    assert duckdb_warehouse.current_version() == 1
    # a first load, or an append, replaces nothing: only the 50 % garbage rule applies
    assert load_file(duckdb_warehouse, path, append=True).version == 2
    assert load_file(duckdb_warehouse, path, force=True).version == 3


# ----------------------------------------------------------------- settings and the job
def test_limits_come_from_the_settings(tmp_path):
    settings = load_settings({"SHOPLENS_HOME": str(tmp_path), "LOAD_MAX_MB": "10",
                              "LOAD_MAX_RATIO": "20", "LOAD_MAX_FIELD_KB": "8",
                              "LOAD_MAX_REJECTS": "5", "LOAD_REPLACE_MAX_REJECTED_PCT": "1",
                              "LOAD_REPLACE_MIN_KEPT_PCT": "90", "UPLOAD_KEEP_DAYS": "2"})
    assert settings.load_limits() == LoadLimits(
        max_bytes=10 << 20, max_ratio=20, max_field_bytes=8192, max_rejects_written=5,
        replace_max_rejected_share=0.01, replace_min_kept_share=0.9)
    assert settings.upload_keep_days == 2
    defaults = load_settings({"SHOPLENS_HOME": str(tmp_path)})
    assert defaults.load_limits() == LoadLimits()
    assert LoadLimits().max_bytes == 5 << 30 and LoadLimits().max_ratio == 100
    for name, value in (("LOAD_MAX_MB", "lots"), ("LOAD_MAX_RATIO", "1"),
                        ("LOAD_MAX_FIELD_KB", "500"), ("LOAD_MAX_REJECTS", "2.5")):
        with pytest.raises(ConfigurationError, match=name):
            load_settings({"SHOPLENS_HOME": str(tmp_path), name: value})


def test_the_data_load_job_takes_a_force_option(settings):
    settings.uploads.mkdir(parents=True)
    (settings.uploads / "orders.csv").write_text(HEADER + good_lines(1))
    kind = job_kinds.get("data_load")
    options = kind.parse_options({"path": "orders.csv", "force": True}, settings)
    assert options["force"] is True
    assert "force" not in kind.parse_options({"path": "orders.csv"}, settings)


def test_a_workbook_expanding_past_the_limits_is_refused_before_it_is_opened(
        duckdb_warehouse, tmp_path):
    import zipfile
    path = tmp_path / "orders.xlsx"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/worksheets/sheet1.xml", b" " * (20 << 20))
    with pytest.raises(LoadError, match=r"orders.xlsx expands more than 100 times when "
                                        r"unzipped .*LOAD_MAX_RATIO"):
        load_file(duckdb_warehouse, path)
    with pytest.raises(LoadError, match=r"orders.xlsx holds 20 MB of data once unzipped, over "
                                        r"the limit of one load \(1 MB, LOAD_MAX_MB\)"):
        load_file(duckdb_warehouse, path, limits=LoadLimits(max_bytes=1 << 20))
    assert duckdb_warehouse.current_version() is None
