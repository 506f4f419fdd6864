"""Traffic and advertising files in: daily sessions (GA4 or any CSV) and daily ad spend
(Google Ads, Meta Ads Manager or any CSV), read, checked and published beside the orders.

Two small translators of foreign shapes, like the order readers (``data.readers``), with one
declaration per preset (``PRESETS``): which header names each field has in that export.
Exports carry lines around the table, which are skipped and said in the notes: GA4 starts
with ``#`` comment lines, Google Ads with a report title and a date-range line and ends with
"Total: …" lines; a GA4 date may be written ``20240105``.

A load keeps the current order lines and publishes a NEW data version
(``Warehouse.publish_traffic``): a sessions file replaces the sessions of the days it covers
(other days stay: a monthly GA4 export adds a month), an ad file replaces the ad rows of the
(day, channel) pairs it covers (a Google Ads file never touches Meta's rows). Order data
must be loaded first.

What is refused (``LoadError``; nothing is published, the current version stays):

* sessions: a missing date or sessions column, an unparseable date or count, a negative
  count: the message names the file line and the column;
* ad spend: a missing required column; lines with negative spend, clicks > impressions, an
  unparseable date or number are REJECTED, each with its reason and line (the quality
  report counts them, the rejects file lists them), and a load with any rejected line is
  refused unless forced (then they are left out, counted); a currency other than the
  orders' is refused unless forced (then kept, warned: amounts are never converted).

What is kept and warned: ad dates outside the order data's date range (no revenue to set
against that spend), an ad channel that matches no traffic source or channel of the orders
(``analytics.marketing.ALIASES``: its attributed revenue, so its ROAS, will be 0), and
country names that resolve to no ISO code.
"""
from __future__ import annotations

import csv
import datetime as dt
import json
import re
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from analytics import marketing, schema
from analytics.countries import normalise_countries
from analytics.warehouse import Warehouse, WarehouseError
from data.loader import LoadError, LoadResult
from data.quality import CURRENCY_SIGNS
from data.tables import AUTO, DEFAULT_LIMITS, LoadLimits, ReadError, file_kind, read_table

SESSIONS, ADS = "sessions", "ads"

#: Fields of a sessions file: the required ones first.
SESSION_FIELDS = ("date", "sessions", "channel", "device", "traffic_source", "country",
                  "users", "add_to_carts", "checkouts", "purchases")
SESSION_REQUIRED = ("date", "sessions")
SESSION_COUNTS = ("sessions", "users", "add_to_carts", "checkouts", "purchases")
#: Fields of an ad-spend file: the required ones first.
AD_FIELDS = ("date", "campaign", "impressions", "clicks", "spend", "channel", "ad_group",
             "country", "product", "conversions", "conversion_value", "currency",
             "date_end")
AD_REQUIRED = ("date", "campaign", "impressions", "clicks", "spend")
AD_NUMBERS = ("impressions", "clicks", "spend", "conversions", "conversion_value")

REASON_NEGATIVE_SPEND = "negative spend"
REASON_CLICKS = "more clicks than impressions"
REASON_DATE = "unreadable date"
REASON_NUMBER = "unreadable number"
REASON_SPAN = "covers more than one day"


@dataclass(frozen=True)
class Preset:
    """One export's shape: for each field, the header names it may have (matched
    ignoring case), the channel its rows belong to when no column says, and a pattern of
    a header that carries the currency ("Amount spent (GBP)")."""
    name: str
    kind: str
    label: str
    columns: dict[str, tuple[str, ...]]
    channel: str | None = None
    currency_header: str | None = None


PRESETS: dict[str, Preset] = {p.name: p for p in (
    Preset("ga4", SESSIONS, "Google Analytics 4 export", {
        "date": ("Date",),
        # GA4's channel groups ("Paid Search", "Organic Search") are what the orders call
        # their traffic source; the source / medium stands in when no group was exported
        "traffic_source": ("Session default channel group", "Default channel group",
                           "Session primary channel group", "Session source / medium",
                           "Session source", "Source / medium"),
        "channel": ("Platform",),
        "device": ("Device category",),
        "country": ("Country",),
        "sessions": ("Sessions",),
        "users": ("Total users", "Active users", "Users"),
        "add_to_carts": ("Add to carts", "Add-to-carts"),
        "checkouts": ("Checkouts",),
        "purchases": ("Ecommerce purchases", "Purchases", "Transactions"),
    }),
    Preset("google-ads", ADS, "Google Ads campaign report", {
        "date": ("Day", "Date"),
        "campaign": ("Campaign",),
        "ad_group": ("Ad group",),
        "country": ("Country/Territory (User location)", "Country/Territory", "Country"),
        "product": ("Item ID", "Product ID"),
        "impressions": ("Impr.", "Impressions"),
        "clicks": ("Clicks",),
        "spend": ("Cost",),
        "conversions": ("Conversions",),
        "conversion_value": ("Conv. value", "Conversion value", "All conv. value"),
        "currency": ("Currency code", "Currency"),
    }, channel="Google Ads"),
    Preset("meta-ads", ADS, "Meta Ads Manager export", {
        "date": ("Day", "Reporting starts"),
        "date_end": ("Reporting ends",),
        "campaign": ("Campaign name",),
        "ad_group": ("Ad set name",),
        "country": ("Country",),
        "impressions": ("Impressions",),
        "clicks": ("Link clicks", "Clicks (all)"),
        "spend": ("Amount spent", "Amount spent (GBP)", "Amount spent (EUR)",
                  "Amount spent (USD)"),
        "conversions": ("Purchases", "Results", "Website purchases"),
        "conversion_value": ("Purchases conversion value", "Website purchases conversion value"),
        "currency": ("Currency",),
    }, channel="Meta Ads", currency_header=r"^Amount spent \(([A-Za-z]{3})\)$"),
)}
SESSION_FORMATS = ("ga4", "generic")
AD_FORMATS = ("google-ads", "meta-ads", "generic")


@dataclass
class TrafficRead:
    """A file read into a sessions frame (``schema.SESSION_COLUMNS`` + funnel) or an ad
    frame (``schema.AD_COLUMNS``), with its rejected lines (``source_row``,
    ``reject_reason``), notes and warnings for the quality report."""
    kind: str
    format: str
    frame: pd.DataFrame
    lines_read: int
    rejects: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    warnings: list[dict] = field(default_factory=list)
    columns: dict[str, str] = field(default_factory=dict)   # field → the file's column


# --------------------------------------------------------------------------- loading
def load_sessions(warehouse: Warehouse, path: str | Path, *, format: str = "ga4",
                  mapping: dict | str | Path | None = None,
                  limits: LoadLimits = DEFAULT_LIMITS) -> LoadResult:
    """Read a sessions file and publish it with the current order lines (see the module
    docstring). Raises LoadError when the file is refused."""
    started = time.perf_counter()
    path = Path(path)
    _require_orders(warehouse)
    read = read_sessions(path, format=format, mapping=mapping, limits=limits)
    quality = _report(read, path)
    version = _publish(warehouse, path, sessions=read.frame, quality=quality)
    return _result(read, path, version, quality, None, started)


def load_ads(warehouse: Warehouse, path: str | Path, *, format: str,
             mapping: dict | str | Path | None = None, limits: LoadLimits = DEFAULT_LIMITS,
             currency: str | None = None, force: bool = False,
             rejects_dir: str | Path | None = None) -> LoadResult:
    """Read an ad-spend file, check it against the current order data and publish it with
    the current order lines. ``currency`` is the CURRENCY setting (used when the orders
    did not state theirs); ``force`` publishes despite rejected lines or another
    currency. Raises LoadError when the file is refused."""
    started = time.perf_counter()
    path = Path(path)
    info = _require_orders(warehouse)
    read = read_ads(path, format=format, mapping=mapping, limits=limits)
    rejects_path = _write_rejects(read.rejects, rejects_dir, path) if len(read.rejects) else None
    if len(read.rejects) and not force:
        reasons = read.rejects["reject_reason"].value_counts()
        first = read.rejects.iloc[0]
        raise LoadError(
            f"{len(read.rejects):,} of {read.lines_read:,} lines of {path.name} were rejected "
            f"({', '.join(f'{reason}: {count:,}' for reason, count in reasons.items())}; "
            f"first at line {first['source_row']}: {first['reject_reason']}): nothing was "
            f"loaded; fix the file, or load it with --force to leave those lines out"
            + (f" (rejected lines: {rejects_path})" if rejects_path else ""))
    if not len(read.frame):
        raise LoadError(f"{path.name} has no ad line left to load: nothing was loaded")
    _check_currency(read, info.quality, currency, force)
    _check_against_orders(warehouse, read, info)
    quality = _report(read, path)
    version = _publish(warehouse, path, ad_spend=read.frame, quality=quality)
    return _result(read, path, version, quality, rejects_path, started)


def _require_orders(warehouse: Warehouse):
    try:
        if warehouse.current_version() is None:
            raise LoadError("Load the order data first (`flask --app wsgi data load FILE` or "
                            "`data demo`): sessions and ad spend are published beside the "
                            "orders of the current data version; nothing was loaded")
        return warehouse.version_info()
    except WarehouseError as exc:
        raise LoadError(f"The current data version cannot be read ({exc.message}): nothing "
                        "was loaded") from exc


def _publish(warehouse: Warehouse, path: Path, **frames) -> int:
    import duckdb
    import sqlalchemy as sa
    try:
        return warehouse.publish_traffic(source=path.name, **frames)
    except (WarehouseError, sa.exc.SQLAlchemyError, duckdb.Error, OSError) as exc:
        lines = str(exc).strip().splitlines()
        reason = lines[0][:300] if lines else type(exc).__name__
        raise LoadError(f"Publishing the new data version failed ({reason}); the current "
                        "data is unchanged") from exc


def _result(read: TrafficRead, path: Path, version: int, quality: dict,
            rejects_path: Path | None, started: float) -> LoadResult:
    return LoadResult(version=version, source=path.name, format=read.format, mode="replace",
                      lines_read=read.lines_read, lines_loaded=len(read.frame),
                      lines_rejected=len(read.rejects), quality=quality,
                      rejects_path=rejects_path,
                      seconds=round(time.perf_counter() - started, 3))


def _report(read: TrafficRead, path: Path) -> dict:
    """The quality report of a traffic load (``render_report`` prints it)."""
    frame = read.frame
    dates = frame["session_date" if read.kind == SESSIONS else "ad_date"]
    totals: dict = {}
    if read.kind == SESSIONS:
        totals["sessions"] = int(frame["sessions"].sum())
        for name in schema.SESSION_FUNNEL_COLUMNS:
            if frame[name].notna().any():
                totals[name] = int(frame[name].sum())
    else:
        totals.update(spend=round(float(frame["spend"].sum()), 2),
                      impressions=int(frame["impressions"].sum()),
                      clicks=int(frame["clicks"].sum()),
                      conversion_value=round(float(frame["conversion_value"].sum()), 2),
                      channels=sorted(frame["channel"].dropna().unique().tolist()),
                      campaigns=int(frame["campaign"].nunique()))
    rejects = read.rejects
    return {
        "source": path.name, "format": read.format, "kind": read.kind,
        "lines_read": read.lines_read, "lines_loaded": int(len(frame)),
        "lines_rejected": int(len(rejects)),
        "rejected_by_reason": {str(k): int(v) for k, v
                               in rejects["reject_reason"].value_counts().items()},
        "rejected_lines": [{"line": int(row.source_row), "reason": row.reject_reason}
                           for row in rejects.head(20).itertuples()],
        "date_range": {"first": dates.min().date().isoformat() if len(dates) else None,
                       "last": dates.max().date().isoformat() if len(dates) else None},
        "columns": read.columns, "totals": totals, "notes": read.notes,
        "warnings": read.warnings,
    }


def render_traffic_report(report: dict) -> str:
    """The report of a traffic load as text (the CLI prints it)."""
    out = [f"Data-quality report: {report.get('source') or 'load'} ({report.get('format')})"]
    for warning in report.get("warnings", []):
        out.append(f"  WARNING {warning['message']}" + (f" ({warning['lines']:,} lines)"
                                                       if warning.get("lines") else ""))
        if warning.get("fix"):
            out.append(f"    fix: {warning['fix']}")
    out.append(f"  lines read      {report['lines_read']:>12,}")
    out.append(f"  lines loaded    {report['lines_loaded']:>12,}")
    out.append(f"  lines rejected  {report['lines_rejected']:>12,}")
    for reason, count in report.get("rejected_by_reason", {}).items():
        out.append(f"    {reason}: {count:,}")
    for line in report.get("rejected_lines", []):
        out.append(f"    line {line['line']}: {line['reason']}")
    dates = report.get("date_range") or {}
    out.append(f"  dates           {dates.get('first')} → {dates.get('last')}")
    for name, value in report.get("totals", {}).items():
        shown = ", ".join(value) if isinstance(value, list) else f"{value:,}"
        out.append(f"  {name.replace('_', ' '):<15} {shown}")
    for note in report.get("notes", []):
        out.append(f"  note: {note}")
    return "\n".join(out)


# --------------------------------------------------------------------------- reading
def read_sessions(path: str | Path, *, format: str = "ga4",
                  mapping: dict | str | Path | None = None,
                  limits: LoadLimits = DEFAULT_LIMITS) -> TrafficRead:
    """Read a sessions file (``format`` "ga4" or "generic" with ``mapping``) into a
    sessions frame. Any bad line refuses the file (LoadError naming line and column)."""
    path = Path(path)
    preset, options = _preset(SESSIONS, format, mapping, SESSION_FORMATS)
    raw, rows, notes, columns, lines_read = _read_raw(path, preset, SESSION_REQUIRED, limits)
    frame = pd.DataFrame(index=raw.index)
    dates, bad = _parse_dates(raw[columns["date"]], options.get("date_format"))
    if bad.any():
        at = int(np.flatnonzero(bad)[0])
        raise LoadError(f"{path.name} line {rows[at]}, column {columns['date']!r}: "
                        f"{raw[columns['date']].iloc[at]!r} is not a date (YYYY-MM-DD or "
                        f"YYYYMMDD); nothing was loaded")
    frame["session_date"] = dates
    for name in SESSION_COUNTS:
        if name not in columns:
            frame[name] = pd.array([pd.NA] * len(raw), dtype="Int64")
            continue
        values, bad = _parse_numbers(raw[columns[name]], empty=0.0,
                                     decimal=options.get("decimal"))
        wrong = bad | (values < 0) | (values != np.round(values))
        if wrong.any():
            at = int(np.flatnonzero(wrong)[0])
            what = ("is negative" if not bad[at] and values[at] < 0 else
                    "is not a whole number" if not bad[at] else "is not a number")
            raise LoadError(f"{path.name} line {rows[at]}, column {columns[name]!r}: "
                            f"{raw[columns[name]].iloc[at]!r} {what}; nothing was loaded")
        frame[name] = pd.array(values.round().astype("int64"), dtype="Int64")
    for name in ("channel", "device", "traffic_source"):
        frame[name] = _texts(raw, columns.get(name), options.get(name))
    warnings: list[dict] = []
    frame["country_code"] = _country_codes(raw, columns.get("country"), rows, warnings)
    frame["sessions"] = frame["sessions"].astype("int64")
    keys = ["session_date", *schema.SESSION_DIMENSION_COLUMNS]
    duplicated = frame.duplicated(subset=keys, keep=False)
    if duplicated.any():
        # GA4 splits a day when a dimension left out of the export differs: add them up
        notes.append(f"{int(duplicated.sum()):,} lines share a day and dimension values "
                     "with another line: their counts are added up")
        frame = frame.groupby(keys, dropna=False, as_index=False).sum(min_count=1)
    frame = frame[[*schema.SESSION_COLUMNS, *schema.SESSION_FUNNEL_COLUMNS]]
    return TrafficRead(SESSIONS, preset.name, frame.reset_index(drop=True), lines_read,
                       _rejects([]), notes, warnings, columns)


def read_ads(path: str | Path, *, format: str, mapping: dict | str | Path | None = None,
             limits: LoadLimits = DEFAULT_LIMITS) -> TrafficRead:
    """Read an ad-spend file (``format`` "google-ads", "meta-ads" or "generic" with
    ``mapping``) into an ad frame; bad lines are rejected with their reason."""
    path = Path(path)
    preset, options = _preset(ADS, format, mapping, AD_FORMATS)
    raw, rows, notes, columns, lines_read = _read_raw(path, preset, AD_REQUIRED, limits)
    reasons = pd.Series([None] * len(raw), index=raw.index, dtype="object")

    def reject(mask: np.ndarray, reason: str) -> None:
        fresh = mask & reasons.isna().to_numpy()
        reasons[fresh] = reason

    frame = pd.DataFrame(index=raw.index)
    dates, bad = _parse_dates(raw[columns["date"]], options.get("date_format"))
    reject(bad, f"{REASON_DATE} in column {columns['date']!r}")
    if "date_end" in columns:
        ends, bad_end = _parse_dates(raw[columns["date_end"]], options.get("date_format"))
        reject(~bad_end & ~bad & (ends != dates).to_numpy(),
               f"{REASON_SPAN} ({columns['date']!r} to {columns['date_end']!r}: export "
               "with a breakdown by day)")
    frame["ad_date"] = dates
    for name in AD_NUMBERS:
        if name not in columns:
            frame[name] = 0.0
            continue
        values, bad = _parse_numbers(raw[columns[name]], empty=0.0,
                                     decimal=options.get("decimal"))
        reject(bad, f"{REASON_NUMBER} in column {columns[name]!r}")
        frame[name] = np.where(bad, 0.0, values)
    reject((frame["spend"] < 0).to_numpy(), REASON_NEGATIVE_SPEND)
    reject((frame["clicks"] > frame["impressions"]).to_numpy(), REASON_CLICKS)
    for name in ("impressions", "clicks"):
        reject((frame[name] < 0).to_numpy() | (frame[name] != frame[name].round()).to_numpy(),
               f"{REASON_NUMBER} in column {columns[name]!r} (not a whole count)")
    channel = _texts(raw, columns.get("channel"), options.get("channel") or preset.channel)
    if channel.isna().all():
        raise LoadError(f"{path.name}: say which ad platform the lines belong to: a "
                        "\"channel\" column in the mapping, or \"channel\": \"Google Ads\" "
                        "for the whole file; nothing was loaded")
    reject(channel.isna().to_numpy(), "no channel")
    frame["channel"] = channel
    campaign = _texts(raw, columns["campaign"], None)
    reject(campaign.isna().to_numpy(), f"no campaign in column {columns['campaign']!r}")
    frame["campaign"] = campaign
    frame["ad_group"] = _texts(raw, columns.get("ad_group"), None)
    frame["product_id"] = _texts(raw, columns.get("product"), None)
    warnings: list[dict] = []
    frame["country"] = _texts(raw, columns.get("country"), None)
    frame["country_code"] = _country_codes(raw, columns.get("country"), rows, warnings)
    frame["currency"] = _texts(raw, columns.get("currency"),
                               options.get("currency") or columns.get("_currency"))
    frame["currency"] = frame["currency"].str.upper()
    rejected = reasons.notna().to_numpy()
    rejects = _rejects([(int(row), str(reason)) for row, reason
                        in zip(rows[rejected], reasons[rejected])])
    kept = frame.loc[~rejected].copy()
    kept["impressions"] = kept["impressions"].round().astype("int64")
    kept["clicks"] = kept["clicks"].round().astype("int64")
    kept = kept[list(schema.AD_COLUMNS)].reset_index(drop=True)
    return TrafficRead(ADS, preset.name, kept, lines_read, rejects, notes, warnings, {
        name: column for name, column in columns.items() if not name.startswith("_")})


# ------------------------------------------------------------------------- helpers
def _preset(kind: str, format: str, mapping, allowed: tuple[str, ...]) -> tuple[Preset, dict]:
    """The preset of ``format``, or one made from a generic mapping (JSON: ``columns``:
    field → the file's column; optional ``channel``, ``currency``, ``date_format``,
    ``decimal`` ("." or ","), and
    for sessions ``channel``/``device``/``traffic_source`` constants)."""
    if format not in allowed:
        raise LoadError(f"Unknown {kind} format {format!r}: use one of {', '.join(allowed)}")
    if format != "generic":
        if mapping is not None:
            raise LoadError("--mapping is only used with --format generic")
        return PRESETS[format], {}
    if mapping is None:
        raise LoadError("--format generic needs --mapping MAPPING.json (docs/marketing.md)")
    if isinstance(mapping, (str, Path)):
        try:
            mapping = json.loads(Path(mapping).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise LoadError(f"The mapping {Path(mapping).name} cannot be read as JSON: "
                            f"{exc}") from None
    if not isinstance(mapping, dict) or not isinstance(mapping.get("columns"), dict):
        raise LoadError("A mapping is a JSON object with \"columns\": {field: column name}")
    fields = SESSION_FIELDS if kind == SESSIONS else AD_FIELDS
    unknown = sorted(set(mapping["columns"]) - set(fields))
    if unknown:
        raise LoadError(f"Unknown field(s) in the mapping: {', '.join(unknown)} (fields: "
                        f"{', '.join(fields)})")
    options = {key: value for key, value in mapping.items() if key != "columns"}
    for key, value in options.items():
        if not isinstance(value, str) or len(value) > 200:
            raise LoadError(f"The mapping's {key!r} must be a short text")
    columns = {name: (str(column),) for name, column in mapping["columns"].items()}
    return Preset("generic", kind, "generic mapping", columns), options


def _read_raw(path: Path, preset: Preset, required: tuple[str, ...], limits: LoadLimits):
    """(raw text table, file line of each row, notes, field → column, lines read): the
    table found under any preamble, without total lines."""
    try:
        kind = file_kind(path)
    except ReadError as exc:
        raise LoadError(str(exc)) from None
    date_names = {name.casefold() for name in preset.columns["date"]}
    skipped, cleaned = 0, None
    notes: list[str] = []
    if kind == "text":
        if path.stat().st_size > limits.max_bytes:
            raise LoadError(f"{path.name} is larger than the {limits.max_bytes // 2**20:,} MB a "
                            "load may read (LOAD_MAX_MB); nothing was loaded")
        text = _decode(path)
        lines = text.splitlines()
        header_at = next((i for i, line in enumerate(lines)
                          if not line.startswith("#") and line.strip()
                          and _cells(line) & date_names), None)
        if header_at is None:
            raise LoadError(f"{path.name}: no header line with a "
                            f"{' or '.join(repr(n) for n in preset.columns['date'])} column "
                            f"was found ({preset.label}); nothing was loaded")
        skipped = header_at
        if skipped:
            notes.append(f"{skipped} line(s) before the header skipped (report title, "
                         "date range or # comments)")
        body = list(lines[header_at:])
        comments = [i for i, line in enumerate(body) if line.startswith("#")]
        for i in comments:  # GA4 repeats # blocks between tables: blank them out
            body[i] = ""
        cleaned = Path(tempfile.gettempdir()) / f"shoplens-traffic-{uuid.uuid4().hex}.csv"
        cleaned.write_text("\n".join(body) + "\n", encoding="utf-8")
    try:
        raw, rows, table_notes, layout_rejects = read_table(cleaned or path, AUTO, limits)
    except ReadError as exc:
        raise LoadError(str(exc).replace(cleaned.name, path.name) if cleaned else str(exc)) \
            from None
    finally:
        if cleaned is not None:
            cleaned.unlink(missing_ok=True)
    if len(layout_rejects):
        first = layout_rejects.iloc[0]
        raise LoadError(f"{path.name} line {int(first['source_row']) + skipped}: "
                        f"{first['reject_reason']}; nothing was loaded")
    notes += [note for note in table_notes if note]
    rows = np.asarray(rows, dtype="int64") + skipped
    by_name = {str(c).casefold(): str(c) for c in raw.columns}
    columns: dict[str, str] = {}
    for name, candidates in preset.columns.items():
        found = next((by_name[c.casefold()] for c in candidates if c.casefold() in by_name),
                     None)
        if found is not None:
            columns[name] = found
    if preset.currency_header and "spend" not in columns:
        for column in raw.columns:
            match = re.match(preset.currency_header, str(column))
            if match:
                columns["spend"], columns["_currency"] = str(column), match.group(1).upper()
                break
    elif preset.currency_header and "spend" in columns:
        match = re.match(preset.currency_header, columns["spend"])
        if match:
            columns["_currency"] = match.group(1).upper()
    missing = [name for name in required if name not in columns]
    if missing:
        wanted = "; ".join(f"{name}: {' or '.join(repr(c) for c in preset.columns.get(name, ()))}"
                           for name in missing)
        raise LoadError(f"{path.name} lacks the column(s) this {preset.label} needs ({wanted}); "
                        f"its columns are {', '.join(map(str, raw.columns))}; nothing was "
                        "loaded")
    first = raw[raw.columns[0]].astype(str).str.strip().str.casefold()
    totals = (first.str.startswith("total") | first.str.startswith("grand total")).to_numpy()
    if totals.any():
        notes.append(f"{int(totals.sum())} total line(s) skipped")
        raw, rows = raw.loc[~totals].reset_index(drop=True), rows[~totals]
    if not len(raw):
        raise LoadError(f"{path.name} has a header but no data lines; nothing was loaded")
    return raw, rows, notes, columns, int(len(raw))


def _decode(path: Path) -> str:
    data = path.read_bytes()
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _cells(line: str) -> set[str]:
    delimiter = max(",;\t", key=line.count)
    return {cell.strip().strip('"').casefold() for cell in next(csv.reader([line],
                                                                           delimiter=delimiter))}


_DATE_FORMATS = ("%Y-%m-%d", "%Y%m%d", "%Y/%m/%d")


def _parse_dates(values: pd.Series, date_format: str | None) -> tuple[pd.Series, np.ndarray]:
    """Dates of a column (YYYY-MM-DD, YYYYMMDD or YYYY/MM/DD, or the mapping's
    ``date_format``; a time after the day is ignored) and a mask of unreadable ones."""
    text = values.astype(str).str.strip().str.slice(0, 10).str.split(" ").str[0]
    parsed = pd.Series(pd.NaT, index=values.index, dtype="datetime64[us]")
    for fmt in ((date_format,) if date_format else _DATE_FORMATS):
        missing = parsed.isna()
        if not missing.any():
            break
        parsed[missing] = pd.to_datetime(text[missing], format=fmt, errors="coerce")
    bad = parsed.isna().to_numpy()
    return parsed.astype("datetime64[us]"), bad


_NUMBER = re.compile(r"^[+-]?\d+(\.\d+)?$")


def _parse_numbers(values: pd.Series, *, empty: float, decimal: str | None = None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Numbers as exports write them ("1,234.50", "£12.50", "12.50 GBP", "--" for none;
    "1.234,50" where ``decimal`` is "," or the column looks so), and a mask of unreadable
    ones. Empty cells are ``empty``."""
    original = values.astype(str).str.strip()
    text = original.str.replace(r"^(?:[£$€¥]|[A-Za-z]{3}\s)\s*|\s*(?:[A-Za-z]{3})$", "",
                                regex=True).str.strip()
    if decimal is None:  # "3,50" with no "." in the column: a decimal comma
        comma = text.str.fullmatch(r"[+-]?[\d.]*\d,\d{1,2}")
        decimal = "," if comma.any() and not text.str.contains(r"\.\d{1,2}$").any() else "."
    if decimal == ",":
        text = text.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
    text = text.str.replace(r"(?<=\d),(?=\d{3}(\D|$))", "", regex=True)
    blank = original.isin(["", "-", "--"])
    numbers = pd.to_numeric(text.where(text.str.match(_NUMBER), None), errors="coerce")
    numbers = np.array(numbers.to_numpy(dtype="float64", na_value=np.nan), copy=True)
    numbers[blank.to_numpy()] = empty
    return numbers, np.isnan(numbers)


def _texts(raw: pd.DataFrame, column: str | None, constant: str | None) -> pd.Series:
    """A text field: the column's values (blank and "(not set)" are missing), else the
    constant, else missing."""
    if column is not None:
        values = raw[column].astype("string").str.strip()
        values = values.mask(values.isin(["", "(not set)", "(none)"]))
        if constant is not None:
            values = values.fillna(constant)
        return values
    return pd.Series(constant if constant else pd.NA, index=raw.index, dtype="string")


def _country_codes(raw: pd.DataFrame, column: str | None, rows: np.ndarray,
                   warnings: list[dict]) -> pd.Series:
    if column is None:
        return pd.Series(pd.NA, index=raw.index, dtype="string")
    names = raw[column].astype("string").str.strip()
    names = names.mask(names.isin(["", "(not set)"]))
    found = normalise_countries(names.dropna().unique().tolist())
    codes = names.map(lambda name: found.codes.get(name) if isinstance(name, str) else pd.NA)
    unknown = names.isin(list(found.unknown)).to_numpy()
    if unknown.any():
        warnings.append({"code": "unknown_countries",
                         "message": f"country names with no ISO code: "
                                    f"{', '.join(found.unknown[:10])}: their rows are kept "
                                    "without a country (a country-scoped user never sees "
                                    "them)", "lines": int(unknown.sum()),
                         "rows": rows[unknown][:10].tolist(),
                         "fix": "write the country as an ISO code or an English name"})
    return codes.astype("string")


def _rejects(items: list[tuple[int, str]]) -> pd.DataFrame:
    return pd.DataFrame({"source_row": pd.Series([i for i, _ in items], dtype="int64"),
                         "reject_reason": pd.Series([r for _, r in items], dtype="object")})


def _write_rejects(rejects: pd.DataFrame, rejects_dir, path: Path) -> Path:
    folder = Path(rejects_dir) if rejects_dir is not None else Path(tempfile.gettempdir())
    folder.mkdir(parents=True, exist_ok=True)
    stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in path.name)[:60]
    target = folder / (f"rejects-{dt.datetime.now():%Y%m%d-%H%M%S}-{stem}-"
                       f"{uuid.uuid4().hex[:6]}.csv")
    rejects.to_csv(target, index=False)
    return target


# ------------------------------------------------------------------ checks on ads
def _check_currency(read: TrafficRead, order_quality: dict, setting: str | None,
                    force: bool) -> None:
    """Refuse (unless ``force``) ad amounts in a currency other than the orders': the
    orders' own (their file's currency column) when known, else the CURRENCY setting."""
    codes = sorted(read.frame["currency"].dropna().unique().tolist())
    if not codes:
        read.notes.append("the file states no currency: its amounts are taken to be in the "
                          "orders' currency")
        return
    orders_code = ((order_quality.get("orders") or {}).get("currency") or "").upper() or None
    expected = orders_code or _code_of(setting)
    wrong = [code for code in codes if code != expected] if expected else (
        codes if len(codes) > 1 else [])
    if not wrong:
        return
    message = (f"the ad amounts are in {', '.join(codes)} but the orders are in "
               f"{expected or 'an unstated currency'}: ROAS, CPC and CAC would compare "
               "different currencies (amounts are never converted)")
    if not force:
        raise LoadError(f"{message}; nothing was loaded; export the ads in {expected}, or "
                        "load with --force to keep them as they are")
    read.warnings.append({"code": "currency_mismatch", "message": message + " (forced)",
                          "lines": int(read.frame["currency"].isin(wrong).sum()),
                          "rows": [], "fix": f"export the ads in {expected}"})


def _code_of(sign: str | None) -> str | None:
    if not sign:
        return None
    sign = sign.strip()
    if re.fullmatch(r"[A-Za-z]{3}", sign):
        return sign.upper()
    matches = [code for code, signs in CURRENCY_SIGNS.items() if sign in signs]
    return matches[0] if len(matches) == 1 else None


def _check_against_orders(warehouse: Warehouse, read: TrafficRead, info) -> None:
    """Warn (rows kept) about ad days outside the order data and ad channels that match no
    traffic source or channel of the orders."""
    frame = read.frame
    if info.min_ts is not None:
        first, last = pd.Timestamp(info.min_ts).normalize(), pd.Timestamp(info.max_ts).normalize()
        outside = ((frame["ad_date"] < first) | (frame["ad_date"] > last)).to_numpy()
        if outside.any():
            read.warnings.append({
                "code": "dates_outside_orders",
                "message": f"{int(outside.sum()):,} ad lines fall outside the order data "
                           f"({first.date()} to {last.date()}): they are kept, but no order "
                           "revenue stands against that spend", "lines": int(outside.sum()),
                "rows": [], "fix": "load the orders of those days too"})
    values = marketing.order_attribution_values(warehouse, info.version)
    for channel in sorted(frame["channel"].dropna().unique()):
        if not marketing.matching_values(channel, values):
            lines = int((frame["channel"] == channel).sum())
            read.warnings.append({
                "code": "unknown_channel",
                "message": f"the ad channel {channel!r} matches no traffic source or channel "
                           "of the orders: its attributed revenue, so its ROAS, will be 0",
                "lines": lines, "rows": [],
                "fix": "name the channel as the orders' traffic source does, or see the "
                       "alias table in docs/marketing.md"})
