"""Reading a file into a table of text cells: the layer under every reader (data.readers).

A file is a CSV (any common encoding and delimiter, detected from its first megabyte unless
the mapping states them; optionally gzipped), an Excel workbook (.xlsx, or an old .xls read
with xlrd: its first sheet) or a Parquet file. The kind is told by the file's first bytes,
never by its name (``file_kind``). ``read_table`` returns every cell as stripped text, with
the file row of each table row, so that the readers can reject a line by its row number. A
Parquet file's typed columns become the text a CSV export would hold: numbers as written
("17850", "2.55"), timestamps as "2024-01-05 10:30:00", dates as "2024-01-05", booleans as
"true"/"false", nulls as ""; its records are rows 2, 3, … as if a header row came first. An
.xls cell becomes text the same way (a whole number without ".0").

Input limits (``LoadLimits``, set from the LOAD_* settings) are checked while the file is
decompressed, a block at a time, never after inflating it: the data may not exceed
``max_bytes`` once decompressed, nor expand more than ``max_ratio`` times its compressed
size (past the first megabyte), and text that turns to NUL bytes is binary garbage. Each of
these refuses the file with a ReadError. A line with a field longer than
``max_field_bytes`` is rejected (its values are not kept). An .xls workbook (an OLE file,
not a zip) may not be larger than ``max_bytes``. A Parquet file may not declare more than
``max_bytes`` of data in its metadata, and is then read a batch of records at a time, its
text columns kept dictionary-encoded until their size is counted: the text it turns into
is held to ``max_bytes`` and ``max_ratio`` before it is materialised.
"""
from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from analytics.errors import InvalidInput

REASON_FIELDS = "wrong number of fields"
REASON_FIELD_SIZE = "field too long"

_SAMPLE_BYTES = 1 << 20
_PARQUET_BATCH_ROWS = 8192


class ReadError(InvalidInput):
    """The file cannot be read as asked; the message names the problem for the user."""


@dataclass(frozen=True)
class LoadLimits:
    """Limits on what one load may read and publish (README "Settings": LOAD_*).

    * ``max_bytes``: data once decompressed (LOAD_MAX_MB);
    * ``max_ratio``: decompressed / compressed size of a .gz, .xlsx or Parquet file
      (LOAD_MAX_RATIO),
      checked once ``RATIO_FLOOR`` bytes are out, so a tiny file may compress well;
    * ``max_field_bytes``: one field; a longer one rejects its line (LOAD_MAX_FIELD_KB);
    * ``max_rejects_written``: rejected lines written to the rejects file; the rest are
      counted (LOAD_MAX_REJECTS);
    * ``replace_max_rejected_share`` and ``replace_min_kept_share``: a load replacing the
      current version is refused, unless forced, when it rejects more than that share of
      its lines, or keeps fewer lines than that share of the current version's
      (LOAD_REPLACE_MAX_REJECTED_PCT, LOAD_REPLACE_MIN_KEPT_PCT; data.loader).
    """
    max_bytes: int = 5 * 2**30
    max_ratio: float = 100.0
    max_field_bytes: int = 64 * 1024
    max_rejects_written: int = 100_000
    replace_max_rejected_share: float = 0.10
    replace_min_kept_share: float = 0.50

    RATIO_FLOOR = 1 << 20


DEFAULT_LIMITS = LoadLimits()


class TextOptions(Protocol):
    """What a mapping may state about a text file (None: detect it)."""
    encoding: str | None
    delimiter: str | None


@dataclass(frozen=True)
class _Detect:
    encoding: str | None = None
    delimiter: str | None = None


AUTO = _Detect()


def column_list(raw: pd.DataFrame, limit: int = 15) -> str:
    """The table's column names for a message, the first ``limit`` of them."""
    names = [str(c) for c in raw.columns]
    shown = ", ".join(names[:limit])
    return shown + (f" … ({len(names)} columns)" if len(names) > limit else "")


@dataclass(frozen=True)
class _TextLayout:
    """How a text table is written: found from its first megabyte (or the mapping)."""
    encoding: str
    delimiter: str
    compression: str | None
    header: list[str]     # column names as the readers name them, before stripping
    note: str             # "encoding utf-8 (detected), delimiter comma (detected)"


def read_header(path: str | Path, mapping: TextOptions | None = None,
                limits: LoadLimits = DEFAULT_LIMITS) -> list[str]:
    """The column names of a CSV (optionally gzipped), .xlsx, .xls or Parquet file exactly
    as ``read_generic`` names them (same encoding and delimiter detection, names stripped;
    an empty name is "Unnamed: i" and a repeated one gets ".1", ".2"), for a mapping step
    that offers the file's columns. Reads only the start of the file (a Parquet file's
    schema; all of an .xls, which xlrd reads whole)."""
    path = Path(path)
    mapping = mapping or AUTO
    kind = _file_kind(path)
    if kind == "xlsx":
        _check_zip_size(path, limits)
        # one data row: pandas names a column without a header only when it holds a value
        return [str(name).strip() for name in _first_sheet(path, nrows=1).columns]
    if kind == "xls":
        _check_file_size(path, limits)
        return [name.strip() for name in _column_names(_xls_rows(path, header_only=True)[0])]
    if kind == "parquet":
        return [name.strip() for name in _column_names(_parquet_schema(path).names)]
    return [name.strip() for name in _text_layout(path, mapping).header]


def file_kind(path: str | Path) -> str:
    """What the file is, from its first bytes (never its name): "xlsx" (a zip), "xls" (an
    OLE file: old Excel), "parquet", "gzip" or "text". ReadError for a missing or empty
    file."""
    return _file_kind(Path(path))


def _file_kind(path: Path) -> str:
    """"xlsx", "xls", "parquet", "gzip" or "text", from the file's first bytes; ReadError
    for a missing or empty file."""
    if not path.exists():
        raise ReadError(f"File not found: {path}")
    if path.is_dir():
        raise ReadError(f"{path} is a folder, not a file")
    with open(path, "rb") as handle:
        magic = handle.read(8)
    if not magic:
        raise ReadError(f"{path.name} is empty")
    if magic.startswith(b"PK\x03\x04"):
        return "xlsx"
    if magic.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return "xls"
    if magic.startswith(b"PAR1"):
        return "parquet"
    return "gzip" if magic.startswith(b"\x1f\x8b") else "text"


def _text_layout(path: Path, mapping: TextOptions) -> _TextLayout:
    compression = "gzip" if _file_kind(path) == "gzip" else None
    sample = _head_bytes(path, compression)
    if not sample.strip():
        raise ReadError(f"{path.name} is empty")
    encoding = mapping.encoding or _detect_encoding(sample, path.name)
    text = sample.decode(encoding, errors="replace")
    _reject_binary(text, path.name)
    delimiter = mapping.delimiter or _detect_delimiter(text, path.name)
    header = next(csv.reader(text.splitlines(), delimiter=delimiter), [])
    note = (f"encoding {encoding}{'' if mapping.encoding else ' (detected)'}, delimiter "
            f"{_delimiter_name(delimiter)}{'' if mapping.delimiter else ' (detected)'}"
            f"{', gzip' if compression else ''}")
    return _TextLayout(encoding, delimiter, compression, _column_names(header), note)


def _column_names(header: list[str]) -> list[str]:
    """Names for a header row as pandas' parser gives them: "Unnamed: i" for an empty one;
    a repeated one gets ".1", ".2" … skipping names the header already has."""
    filled = [name or f"Unnamed: {index}" for index, name in enumerate(header)]
    written = set(filled)
    names: list[str] = []
    counts: dict[str, int] = {}
    for original in filled:
        name, count = original, counts.get(original, 0)
        while count > 0:
            counts[original] = count + 1
            name = f"{original}.{count}"
            count = count + 1 if name in written else counts.get(name, 0)
        names.append(name)
        counts[name] = count + 1
    return names


def read_table(path: Path, mapping: TextOptions, limits: LoadLimits = DEFAULT_LIMITS
                ) -> tuple[pd.DataFrame, np.ndarray, list[str], pd.DataFrame]:
    """Read the file as a table of stripped-header text columns.

    Returns (raw frame with "" for empty cells, source row of each frame row, notes,
    rejects for lines with too many fields or a field over the limit)."""
    kind = _file_kind(path)
    if kind == "xlsx":
        _check_zip_size(path, limits)
        return _read_xlsx(path)
    if kind == "xls":
        _check_file_size(path, limits)
        return _read_xls(path, limits)
    if kind == "parquet":
        return _read_parquet(path, limits)
    layout = _text_layout(path, mapping)
    notes = [layout.note]
    try:
        frame, rows, too_long, oversize = _read_csv(path, layout, limits)
    except _NotUtf8:
        if mapping.encoding or layout.encoding not in ("utf-8", "utf_8"):
            raise ReadError(f"{path.name} is not valid {layout.encoding} text: set "
                            "\"encoding\" in the mapping") from None
        # the first megabyte was UTF-8 but later bytes are not: Windows exports mix this way
        layout = _TextLayout(**{**layout.__dict__, "encoding": "cp1252"})
        notes[-1] = notes[-1].replace("utf-8 (detected)", "cp1252 (detected past the start)")
        frame, rows, too_long, oversize = _read_csv(path, layout, limits)
    frame.columns = [str(c).strip() for c in frame.columns]
    if frame.shape[1] < 2:
        raise ReadError(f"{path.name} is not a table: its header has a single column")
    blank = (frame == "").all(axis=1).to_numpy()
    if blank.any():
        notes.append(f"{int(blank.sum())} blank lines ignored")
        frame = frame.loc[~blank].reset_index(drop=True)
        rows = rows[~blank]
    if not len(frame) and not len(too_long) and not len(oversize):
        raise ReadError(f"{path.name} has a header row but no data lines")
    layout_rejects = pd.DataFrame({
        "source_row": np.asarray(too_long + oversize, dtype="int64"),
        "reject_reason": [REASON_FIELDS] * len(too_long) + [REASON_FIELD_SIZE] * len(oversize)})
    if oversize:
        notes.append(f"{len(oversize):,} lines have a field longer than "
                     f"{limits.max_field_bytes // 1024:,} KB (LOAD_MAX_FIELD_KB): rejected "
                     "without their values")
    return frame, rows, notes, layout_rejects


class _NotUtf8(Exception):
    """A file detected as UTF-8 holds other bytes past its first megabyte."""


def _read_csv(path: Path, layout: _TextLayout, limits: LoadLimits = DEFAULT_LIMITS
              ) -> tuple[pd.DataFrame, np.ndarray, list[int], list[int]]:
    """Every cell as text (pyarrow's CSV reader), with the file row (header = 1) of each
    frame row. A line with fewer fields than the header is padded with "" (pandas' rule);
    one with more is left out and its row returned among the third value, to be rejected;
    one with a field longer than ``limits.max_field_bytes`` is left out and its row
    returned among the fourth. A blank line is a row of "" (dropped by the caller, counted
    in a note). The file is read through ``_LimitedReader``, which refuses it as soon as
    it passes a limit."""
    names = layout.header
    short: list[tuple[int, str]] = []
    left_out: list[int] = []
    too_long: list[int] = []
    oversize: list[int] = []

    def invalid_row(row) -> str:
        left_out.append(row.number)
        if row.actual_columns < row.expected_columns:
            if len(row.text) > limits.max_field_bytes:
                oversize.append(row.number)
            else:
                short.append((row.number, row.text))
        else:
            too_long.append(row.number)
        return "skip"

    encoding = "utf8" if codecs.lookup(layout.encoding).name in ("utf-8", "utf-8-sig") \
        else layout.encoding
    # a record must fit in one block: allow every field its longest size
    block_size = min(64 << 20, max(1 << 20, 2 * limits.max_field_bytes * len(names)))
    try:
        with _open_limited(path, layout, limits) as source:
            table = pa_csv.read_csv(
                source,
                # serial reading: the invalid-row handler then knows each row's number
                read_options=pa_csv.ReadOptions(column_names=names, skip_rows=1,
                                                 encoding=encoding, use_threads=False,
                                                 block_size=block_size),
                parse_options=pa_csv.ParseOptions(delimiter=layout.delimiter,
                                                  newlines_in_values=True,
                                                  ignore_empty_lines=False,
                                                  invalid_row_handler=invalid_row),
                convert_options=pa_csv.ConvertOptions(
                    column_types={name: pa.string() for name in names}))
    except UnicodeDecodeError:
        raise _NotUtf8() from None
    except pa.ArrowInvalid as exc:
        if "UTF8" in str(exc):
            raise _NotUtf8() from None
        if "straddling" in str(exc) or "straddles" in str(exc):
            raise ReadError(f"{path.name} has a line longer than {block_size >> 20} MB (an "
                            "unclosed quote, or not a text table): nothing was loaded"
                            ) from None
        if "CSV parse error" in str(exc):
            raise ReadError(f"{path.name} is not a readable table: "
                            f"{str(exc).removeprefix('CSV parse error: ')}") from None
        raise ReadError(f"{path.name} cannot be read ({exc}): a damaged or truncated "
                        "file?") from None
    except (OSError, EOFError, zlib.error) as exc:
        raise ReadError(f"{path.name} cannot be read ({exc}): a damaged or truncated "
                        "file?") from None
    rows = _line_numbers(table.num_rows, np.asarray(sorted(left_out), dtype="int64"))
    table, rows, oversize = _drop_oversize(table, rows, oversize, limits.max_field_bytes)
    frame = table.to_pandas()
    if short:
        padded = [(fields + [""] * len(names))[:len(names)] for _number, text in short
                  for fields in csv.reader([text], delimiter=layout.delimiter)]
        frame = pd.concat([frame, pd.DataFrame(padded, columns=names, dtype=object)],
                          ignore_index=True)
        rows = np.concatenate([rows, np.asarray([n for n, _ in short], dtype="int64")])
        order = np.argsort(rows, kind="stable")
        frame, rows = frame.iloc[order].reset_index(drop=True), rows[order]
    return frame, rows, sorted(too_long), sorted(oversize)


def _drop_oversize(table: pa.Table, rows: np.ndarray, oversize: list[int], max_bytes: int
                   ) -> tuple[pa.Table, np.ndarray, list[int]]:
    """Leave out the rows with a field longer than ``max_bytes``, adding their file rows
    to ``oversize``."""
    if not table.num_rows:
        return table, rows, oversize
    too_big = None
    for column in table.columns:
        over = pc.fill_null(pc.greater(pc.binary_length(column), max_bytes), False)
        too_big = over if too_big is None else pc.or_(too_big, over)
    mask = too_big.to_numpy(zero_copy_only=False) if too_big is not None else None
    if mask is None or not mask.any():
        return table, rows, oversize
    return (table.filter(pa.array(~mask)), rows[~mask],
            oversize + rows[mask].tolist())


class _LimitedReader(io.RawIOBase):
    """A file object over ``source`` (a file, or a decompressing one) that refuses the data,
    block by block as it is read, once it passes the limits: more than ``max_bytes`` in all,
    more than ``max_ratio`` times the compressed size, or NUL bytes in a text encoding that
    has none (binary garbage after a good start)."""

    def __init__(self, source, *, name: str, compressed_size: int | None,
                 limits: LoadLimits, nul_free: bool) -> None:
        super().__init__()
        self._source = source
        self._name = name
        self._compressed_size = compressed_size
        self._limits = limits
        self._nul_free = nul_free
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        count = self._source.readinto(buffer)
        if count:
            self._check(memoryview(buffer)[:count].tobytes())
        return count

    def close(self) -> None:
        self._source.close()
        super().close()

    def _check(self, block: bytes) -> None:
        start = self.bytes_read
        self.bytes_read += len(block)
        limits, name = self._limits, self._name
        if self.bytes_read > limits.max_bytes:
            raise ReadError(
                f"{name} holds more than {_size(limits.max_bytes)} of data"
                f"{' once decompressed' if self._compressed_size else ''}, over the limit of "
                "one load (LOAD_MAX_MB): nothing was loaded")
        if self._compressed_size and self.bytes_read > max(
                limits.RATIO_FLOOR, limits.max_ratio * self._compressed_size):
            raise ReadError(
                f"{name} expands more than {limits.max_ratio:g} times when decompressed "
                f"({_size(self._compressed_size)} to over {_size(self.bytes_read)}): a "
                "decompression bomb, or no real export (the limit is LOAD_MAX_RATIO); "
                "nothing was loaded")
        if self._nul_free:
            nul = block.count(0)
            if nul > max(64, len(block) // 100):
                raise ReadError(
                    f"{name} turns into binary data (NUL bytes) after "
                    f"{_size(start + block.find(0))} of text: not a text table; nothing was "
                    "loaded")


def _open_limited(path: Path, layout: _TextLayout, limits: LoadLimits) -> _LimitedReader:
    size = path.stat().st_size
    compressed = layout.compression == "gzip"
    if not compressed:
        _check_file_size(path, limits)
    # the returned reader owns the file and closes it (the caller's with-block)
    source = gzip.open(path, "rb") if compressed else open(path, "rb")  # noqa: SIM115
    wide = codecs.lookup(layout.encoding).name.startswith(("utf-16", "utf-32"))
    return _LimitedReader(source, name=path.name, compressed_size=size if compressed else None,
                          limits=limits, nul_free=not wide)


def _check_file_size(path: Path, limits: LoadLimits) -> None:
    """Refuse a file that is itself larger than ``max_bytes`` (one not compressed)."""
    size = path.stat().st_size
    if size > limits.max_bytes:
        raise ReadError(f"{path.name} holds {_size(size)} of data, over the limit of one load "
                        f"({_size(limits.max_bytes)}, LOAD_MAX_MB): nothing was loaded")


def _check_zip_size(path: Path, limits: LoadLimits) -> None:
    """Refuse a workbook whose parts, unzipped, pass the size or ratio limit (read from the
    zip's directory, before anything is inflated; zipfile stops at the declared sizes)."""
    try:
        with zipfile.ZipFile(path) as archive:
            unzipped = sum(member.file_size for member in archive.infolist())
    except (zipfile.BadZipFile, OSError):
        return  # not a zip after all: the workbook reader says so
    size = path.stat().st_size
    if unzipped > limits.max_bytes:
        raise ReadError(f"{path.name} holds {_size(unzipped)} of data once unzipped, over the "
                        f"limit of one load ({_size(limits.max_bytes)}, LOAD_MAX_MB): nothing "
                        "was loaded")
    if unzipped > max(limits.RATIO_FLOOR, limits.max_ratio * size):
        raise ReadError(f"{path.name} expands more than {limits.max_ratio:g} times when "
                        f"unzipped ({_size(size)} to {_size(unzipped)}): a decompression "
                        "bomb? (the limit is LOAD_MAX_RATIO); nothing was loaded")


def _size(count: float) -> str:
    for unit, scale in (("GB", 2**30), ("MB", 2**20), ("KB", 2**10)):
        if count >= scale:
            return f"{count / scale:,.1f} {unit}".replace(".0 ", " ")
    return f"{int(count):,} bytes"


def _line_numbers(count: int, skipped: np.ndarray) -> np.ndarray:
    """File rows (header = 1) of the ``count`` rows the parser kept, given the sorted rows
    it left out: row k sits at 2 + k plus the left-out rows before it."""
    base = np.arange(2, count + 2, dtype="int64")
    if not len(skipped):
        return base
    shifted = skipped - np.arange(len(skipped))
    return base + np.searchsorted(shifted, base, side="right")


def _read_xlsx(path: Path) -> tuple[pd.DataFrame, np.ndarray, list[str], pd.DataFrame]:
    frame = _first_sheet(path, dtype=str).fillna("")
    frame.columns = [str(c).strip() for c in frame.columns]
    if frame.shape[1] < 2:
        raise ReadError(f"{path.name} is not a table: its first sheet has a single column")
    rows = np.arange(2, len(frame) + 2)
    blank = (frame == "").all(axis=1).to_numpy()
    frame = frame.loc[~blank].reset_index(drop=True)
    rows = rows[~blank]
    if not len(frame):
        raise ReadError(f"{path.name} has a header row but no data lines")
    return (frame, rows, ["Excel workbook, first sheet"],
            pd.DataFrame({"source_row": pd.Series(dtype="int64"),
                          "reject_reason": pd.Series(dtype="str")}))


def _first_sheet(path: Path, **options) -> pd.DataFrame:
    try:
        return pd.read_excel(path, sheet_name=0, engine="openpyxl", **options)
    except Exception as exc:  # openpyxl raises many types for a zip that is no workbook
        raise ReadError(f"{path.name} is a zip file but not a readable .xlsx workbook "
                        f"({type(exc).__name__})") from None


def _finish_sheet(path: Path, table: pa.Table, rows: np.ndarray, notes: list[str],
                  limits: LoadLimits, oversize: list[int] | None = None
                  ) -> tuple[pd.DataFrame, np.ndarray, list[str], pd.DataFrame]:
    """A table of text columns read from an .xls or Parquet file → what ``read_table``
    returns: blank rows ignored (counted in a note), rows with a field over the limit
    rejected without their values, stripped column names."""
    if table.num_columns < 2:
        raise ReadError(f"{path.name} is not a table: it has a single column")
    table, rows, oversize = _drop_oversize(table, rows, list(oversize or []),
                                           limits.max_field_bytes)
    frame = table.to_pandas()
    frame.columns = [str(c).strip() for c in frame.columns]
    blank = (frame == "").all(axis=1).to_numpy()
    if blank.any():
        notes.append(f"{int(blank.sum())} blank lines ignored")
        frame = frame.loc[~blank].reset_index(drop=True)
        rows = rows[~blank]
    if not len(frame) and not oversize:
        raise ReadError(f"{path.name} has a header row but no data lines")
    if oversize:
        notes.append(f"{len(oversize):,} lines have a field longer than "
                     f"{limits.max_field_bytes // 1024:,} KB (LOAD_MAX_FIELD_KB): rejected "
                     "without their values")
    return frame, rows, notes, pd.DataFrame({
        "source_row": np.asarray(sorted(oversize), dtype="int64"),
        "reject_reason": [REASON_FIELD_SIZE] * len(oversize)})


# ----------------------------------------------------------------- old Excel (.xls)
def _read_xls(path: Path, limits: LoadLimits
              ) -> tuple[pd.DataFrame, np.ndarray, list[str], pd.DataFrame]:
    cells = _xls_rows(path)
    names = _column_names(cells[0])
    body = cells[1:]
    table = pa.table([pa.array([row[c] for row in body], pa.string())
                      for c in range(len(names))], names=names)
    rows = np.arange(2, len(body) + 2, dtype="int64")
    return _finish_sheet(path, table, rows, ["Excel 97-2003 workbook (.xls), first sheet"],
                         limits)


def _xls_rows(path: Path, header_only: bool = False) -> list[list[str]]:
    """The first sheet of an .xls workbook as rows of text cells (all as long as the
    widest row): a whole number without ".0", a date as "2010-12-01 08:26:00" (a time
    alone as "08:26:00"), TRUE/FALSE as "true"/"false", an empty or error cell as ""."""
    import xlrd

    try:
        # on_demand: only the first sheet is parsed; xlrd's warnings go nowhere
        book = xlrd.open_workbook(str(path), on_demand=True, logfile=io.StringIO())
    except Exception as exc:  # xlrd raises many types for an OLE file that is no workbook
        raise ReadError(f"{path.name} is an Office (OLE) file but not a readable .xls "
                        f"workbook ({type(exc).__name__}: {exc}): a password-protected "
                        "workbook, or another kind of document? Save it as .xlsx or CSV"
                        ) from None
    try:
        if not book.nsheets:
            raise ReadError(f"{path.name} has no sheet")
        try:
            sheet = book.sheet_by_index(0)
        except Exception as exc:
            raise ReadError(f"{path.name}: its first sheet cannot be read "
                            f"({type(exc).__name__}: {exc}): a damaged workbook?") from None
        if not sheet.nrows:
            raise ReadError(f"{path.name} is empty: its first sheet has no cells")
        width = sheet.ncols
        count = 1 if header_only else sheet.nrows
        rows = []
        for r in range(count):
            types, values = sheet.row_types(r), sheet.row_values(r)
            row = [_xls_text(kind, value, book.datemode) for kind, value in zip(types, values)]
            rows.append(row + [""] * (width - len(row)))
        return rows
    finally:
        book.release_resources()


def _xls_text(kind: int, value, datemode: int) -> str:
    import xlrd

    if kind == xlrd.XL_CELL_TEXT:
        return value
    if kind == xlrd.XL_CELL_NUMBER:
        return str(int(value)) if float(value).is_integer() else repr(float(value))
    if kind == xlrd.XL_CELL_DATE:
        try:
            when = xlrd.xldate.xldate_as_datetime(value, datemode)
        except (xlrd.xldate.XLDateError, ValueError, OverflowError):
            return repr(float(value))
        when = (when + pd.Timedelta(milliseconds=500).to_pytimedelta()).replace(microsecond=0)
        return when.strftime("%H:%M:%S" if 0 <= value < 1 else "%Y-%m-%d %H:%M:%S")
    if kind == xlrd.XL_CELL_BOOLEAN:
        return "true" if value else "false"
    return ""  # empty, blank, or an error such as #N/A


# ----------------------------------------------------------------- Parquet
def _parquet_schema(path: Path) -> pa.Schema:
    try:
        return pq.read_schema(path)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise ReadError(f"{path.name} is not a readable Parquet file ({exc}): a damaged or "
                        "truncated file?") from None


def _parquet_file(path: Path, read_dictionary: list[str] | None = None) -> pq.ParquetFile:
    """The open file (the caller closes it)."""
    try:
        return pq.ParquetFile(path, read_dictionary=read_dictionary)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise ReadError(f"{path.name} is not a readable Parquet file ({exc}): a damaged or "
                        "truncated file?") from None


def _read_parquet(path: Path, limits: LoadLimits
                  ) -> tuple[pd.DataFrame, np.ndarray, list[str], pd.DataFrame]:
    """Every column as the text a CSV export would hold (module docstring), a batch of
    records at a time. Text columns are read dictionary-encoded: a value repeated a million
    times is held once while the batch's text size is counted against the limits, and only
    the rows kept are decoded."""
    size = path.stat().st_size
    schema = _parquet_schema(path)
    names = _column_names(schema.names)
    textual = [field.name for field in schema
               if pa.types.is_string(field.type) or pa.types.is_large_string(field.type)
               or pa.types.is_binary(field.type) or pa.types.is_large_binary(field.type)]
    source = _parquet_file(path, read_dictionary=textual or None)
    try:
        return _read_parquet_batches(path, source, names, size, limits)
    finally:
        source.close()


def _read_parquet_batches(path: Path, source: pq.ParquetFile, names: list[str], size: int,
                          limits: LoadLimits
                          ) -> tuple[pd.DataFrame, np.ndarray, list[str], pd.DataFrame]:
    metadata = source.metadata
    declared = sum(metadata.row_group(g).total_byte_size
                   for g in range(metadata.num_row_groups))
    if declared > limits.max_bytes:
        raise ReadError(f"{path.name} holds {_size(declared)} of data once decompressed, over "
                        f"the limit of one load ({_size(limits.max_bytes)}, LOAD_MAX_MB): "
                        "nothing was loaded")
    tables: list[pa.Table] = []
    row_parts: list[np.ndarray] = []
    oversize: list[int] = []
    text_bytes, first = 0, 0
    try:
        for batch in source.iter_batches(batch_size=_PARQUET_BATCH_ROWS):
            count = batch.num_rows
            lengths = np.zeros(count, dtype="int64")
            too_long = np.zeros(count, dtype=bool)
            columns = []
            for column in batch.columns:
                if not pa.types.is_dictionary(column.type):
                    column = _parquet_text(column)
                    field_bytes = pc.binary_length(column)
                else:  # the dictionary's lengths, taken per row: nothing decoded yet
                    field_bytes = pc.take(pc.binary_length(column.dictionary), column.indices)
                field_bytes = pc.fill_null(field_bytes, 0).to_numpy(
                    zero_copy_only=False).astype("int64")
                lengths += field_bytes
                too_long |= field_bytes > limits.max_field_bytes
                columns.append(column)
            text_bytes += int(lengths.sum()) + count * len(columns)  # delimiters, newlines
            _check_parquet_size(path, text_bytes, size, limits)
            rows = np.arange(first + 2, first + count + 2, dtype="int64")
            first += count
            if too_long.any():
                oversize += rows[too_long].tolist()
                keep = pa.array(~too_long)
                columns = [column.filter(keep) for column in columns]
                rows = rows[~too_long]
            columns = [_parquet_text(column) if pa.types.is_dictionary(column.type)
                       else column for column in columns]
            tables.append(pa.table(columns, names=names))
            row_parts.append(rows)
    except ReadError:
        raise
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise ReadError(f"{path.name} cannot be read ({exc}): a damaged or truncated Parquet "
                        "file?") from None
    if not first:
        raise ReadError(f"{path.name} has columns but no data lines")
    table = pa.concat_tables(tables) if tables else pa.table(
        {name: pa.array([], pa.string()) for name in names})
    rows = np.concatenate(row_parts) if row_parts else np.zeros(0, dtype="int64")
    note = (f"Parquet file, {first:,} records in {metadata.num_row_groups:,} row group"
            f"{'' if metadata.num_row_groups == 1 else 's'}")
    return _finish_sheet(path, table, rows, [note], limits, oversize)


def _check_parquet_size(path: Path, text_bytes: int, size: int, limits: LoadLimits) -> None:
    if text_bytes > limits.max_bytes:
        raise ReadError(f"{path.name} holds more than {_size(limits.max_bytes)} of data once "
                        "decompressed, over the limit of one load (LOAD_MAX_MB): nothing was "
                        "loaded")
    if text_bytes > max(limits.RATIO_FLOOR, limits.max_ratio * size):
        raise ReadError(f"{path.name} expands more than {limits.max_ratio:g} times when "
                        f"decompressed ({_size(size)} to over {_size(text_bytes)}): a "
                        "decompression bomb, or no real export (the limit is LOAD_MAX_RATIO); "
                        "nothing was loaded")


def _parquet_text(column: pa.Array) -> pa.Array:
    """A Parquet column as the text a CSV export would hold; nulls (and NaN) as ""."""
    kind = column.type
    if pa.types.is_dictionary(kind):
        return _parquet_text(pc.cast(column, kind.value_type))
    if pa.types.is_string(kind):
        text = column
    elif (pa.types.is_large_string(kind) or pa.types.is_binary(kind)
          or pa.types.is_large_binary(kind)):
        try:
            text = pc.cast(column, pa.string())
        except pa.ArrowInvalid:  # bytes that are not UTF-8
            text = pa.array([None if value is None else value.decode("utf-8", "replace")
                             for value in column.to_pylist()], pa.string())
    elif pa.types.is_null(kind):
        text = pa.nulls(len(column), pa.string())
    elif pa.types.is_timestamp(kind):
        if kind.tz is not None:  # the zone's local time, as the export's reader sees it
            column = pc.local_timestamp(column)
        text = _whole_seconds_text(column, pa.timestamp("s"))
    elif pa.types.is_time(kind):
        text = _whole_seconds_text(column, pa.time32("s"))
    elif pa.types.is_floating(kind):
        text = pc.cast(pc.if_else(pc.is_nan(column), None, column), pa.string())
    elif (pa.types.is_integer(kind) or pa.types.is_decimal(kind) or pa.types.is_boolean(kind)
          or pa.types.is_date(kind) or pa.types.is_duration(kind)):
        text = pc.cast(column, pa.string())
    else:  # lists, structs, maps: their JSON text
        text = pa.array([None if value is None else json.dumps(value, default=str,
                                                                ensure_ascii=False)
                         for value in column.to_pylist()], pa.string())
    return pc.fill_null(text, "")


def _whole_seconds_text(column: pa.Array, seconds: pa.DataType) -> pa.Array:
    """A timestamp or time column as text, its fraction of a second only where it has one
    ("10:30:00", "10:30:00.5")."""
    try:
        return pc.cast(pc.cast(column, seconds), pa.string())  # refused if a fraction is lost
    except pa.ArrowInvalid:
        return _trim_fraction(pc.cast(column, pa.string()))


def _trim_fraction(text: pa.Array) -> pa.Array:
    """"10:30:00.000000" → "10:30:00"; "10:30:00.500000" → "10:30:00.5"."""
    text = pc.replace_substring_regex(text, pattern=r"\.0+$", replacement="")
    return pc.replace_substring_regex(text, pattern=r"(\.\d*[1-9])0+$", replacement=r"\1")


def _head_bytes(path: Path, compression: str | None) -> bytes:
    try:
        if compression == "gzip":
            with gzip.open(path, "rb") as handle:
                return handle.read(_SAMPLE_BYTES)
        with open(path, "rb") as handle:
            return handle.read(_SAMPLE_BYTES)
    except (OSError, EOFError, zlib.error) as exc:
        raise ReadError(f"{path.name} cannot be read ({exc}): a damaged gzip file?") from None


def _detect_encoding(sample: bytes, name: str) -> str:
    """A byte-order mark (UTF-8, UTF-16, UTF-32), then strict UTF-8, then Windows-1252
    whenever the bytes decode under it, and only then charset-normalizer's guess.

    Windows-1252 comes first because it is what Western shop exports are written in, and a
    detector's guess among the single-byte code pages is unreliable on them: a Tableau
    Superstore file, whose only non-ASCII letters are in a few product names, comes out as
    Central European cp1250, turning "è" into "č" and "ï" into "ď". The price is that a
    file in another single-byte code page (cp1250, Cyrillic cp1251, Greek cp1253) that
    happens to decode under cp1252 is read as cp1252 too: its mapping must state
    "encoding" (docs/mapping.md)."""
    for bom, encoding in ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
                          (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
                          (codecs.BOM_UTF16_BE, "utf-16")):
        if sample.startswith(bom):
            return encoding
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    import charset_normalizer

    if b"\x00" in sample:  # UTF-16/32 without a byte-order mark, or binary
        best = charset_normalizer.from_bytes(sample[:65536]).best()
        if best is not None and best.encoding.startswith(("utf_16", "utf_32")):
            return best.encoding
        raise ReadError(f"{name} is a binary file, not a text table")
    try:
        sample.decode("cp1252")
        return "cp1252"
    except UnicodeDecodeError:  # one of the five bytes cp1252 leaves undefined
        pass
    candidates = [match.encoding for match in charset_normalizer.from_bytes(
        sample[:65536], cp_isolation=["cp1250", "cp1251", "cp1253", "cp1254", "cp1257",
                                      "iso8859_15"])]
    return candidates[0] if candidates else "latin-1"


def _reject_binary(text: str, name: str) -> None:
    control = sum(1 for char in text[:65536]
                  if ord(char) < 32 and char not in "\t\r\n" or char == "\ufffd")
    if control > max(3, len(text[:65536]) // 100):
        raise ReadError(f"{name} looks like a binary file, not a text table")


def _detect_delimiter(text: str, name: str) -> str:
    """The delimiter that splits the header into the most columns while at least 80 % of
    the first lines have that many fields."""
    lines = [line for line in text.splitlines()[:51] if line.strip()]
    if len(lines) > 1 and len(text) >= _SAMPLE_BYTES - 4:
        lines = lines[:-1]  # the last sampled line may be cut short
    best, best_fields = None, 1
    for delimiter in (",", ";", "\t", "|"):
        counts = [len(row) for row in csv.reader(lines, delimiter=delimiter)]
        if not counts or counts[0] < 2:
            continue
        consistent = sum(count == counts[0] for count in counts) / len(counts)
        if consistent >= 0.8 and counts[0] > best_fields:
            best, best_fields = delimiter, counts[0]
    if best is None:
        raise ReadError(f"{name} is not a table: no column delimiter (comma, semicolon, tab "
                        "or |) splits its lines consistently")
    return best


def _delimiter_name(delimiter: str) -> str:
    return {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}[delimiter]
