"""Loading data: read a file, check it, and publish it as a new warehouse data version.

``load_file`` replaces the data by default. With ``append=True`` it publishes the current
lines plus only the file's lines not already present, where *present* means an identical
line (every column of the line-item frame equal) that has not already been matched: a file
holding a line twice adds it until the data holds it twice, so loading the same file twice
gives the same data as loading it once.

A file that cannot be a load (empty, binary, not a table, wrong columns for the format,
an invalid mapping, over an input limit of ``LoadLimits``, or more than half of its lines
rejected) raises ``LoadError`` with one message naming the problem; nothing is published and
the current version stays as it was. Publishing itself is atomic (``analytics.warehouse``).

A load that *replaces* a current version is also refused, unless ``force=True``, when it
rejects more than ``limits.replace_max_rejected_share`` of its lines or keeps fewer lines
than ``limits.replace_min_kept_share`` of the current version's: a truncated or damaged
export must not silently replace good data. An append is not subject to this rule.
The rejects file holds at most ``limits.max_rejects_written`` lines (values cut to
``REJECT_VALUE_CHARS`` characters); how many more there were is its last line.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd
import sqlalchemy as sa

from analytics import schema
from analytics.errors import InvalidInput
from analytics.warehouse import Warehouse, WarehouseError, coerce_lines
from data import formats
from data.plausibility import Limits, check_plausibility
from data.quality import build_report, currency_warning
from data.readers import DEFAULT_LIMITS, LoadLimits, Mapping, ReadError, ReadResult

log = logging.getLogger(__name__)

FORMATS = formats.CHOICES
MAX_REJECTED_SHARE = 0.5
REJECT_VALUE_CHARS = 1000
FORCE_HINT = ("if this is what you want, load it again with --force (CLI) or the force option "
              "of the data load")
SAMPLES_DIR = Path(__file__).resolve().parent / "samples"
SAMPLES = {"online-retail": ("online_retail.csv.gz", "online-retail")}

Progress = Callable[[int, str], None]


class LoadError(InvalidInput):
    """A load could not be done; the message (one line) is meant for the user. Nothing was
    published."""


@dataclass
class LoadResult:
    """The outcome of a published load. ``quality`` is the data-quality report
    (data.quality.build_report); ``rejects_path`` is the CSV of rejected lines, if any."""
    version: int
    source: str
    format: str
    mode: str
    lines_read: int
    lines_loaded: int
    lines_rejected: int
    quality: dict
    rejects_path: Path | None
    seconds: float
    rejects_not_written: int = 0


def load_file(warehouse: Warehouse, path: str | Path, *, format: str = "online-retail",
              mapping: Mapping | dict | str | Path | None = None, append: bool = False,
              rejects_dir: str | Path | None = None,
              progress: Progress | None = None,
              plausibility: Limits | None = None,
              limits: LoadLimits = DEFAULT_LIMITS, force: bool = False,
              currency: str | None = None) -> LoadResult:
    """Read ``path`` in ``format`` (a name of data.formats.FORMATS, "generic" with
    ``mapping``, or "auto": the format its header looks like), write
    its rejected lines to a CSV in ``rejects_dir`` (default: the system temp folder), and
    publish a new data version. Lines outside ``plausibility`` (default
    ``data.plausibility.Limits()``) are rejected too. Raises LoadError when the file
    cannot be a load. The file is read within the input ``limits``; a load replacing
    the current version with far fewer or far worse lines is refused unless ``force``.
    ``currency`` is the sign amounts are shown with (the CURRENCY setting): the report warns
    when the file's own currency is another."""
    started = time.perf_counter()
    path = Path(path)
    _report(progress, 5, f"reading {path.name}")
    if format == "auto":
        try:
            format = formats.detected_format(path, limits)
        except ReadError as exc:
            raise LoadError(str(exc)) from exc
    read = _read(path, format, mapping, limits)
    # implausible lines (inf, 1e308, year 9999…) join the rejects (limits: PLAUSIBLE_*)
    read = check_plausibility(read, plausibility)
    _report(progress, 45, f"read {read.lines_read:,} lines")
    rejects_path, not_written = (_write_rejects(read.rejects, rejects_dir, path,
                                                limits.max_rejects_written)
                                 if len(read.rejects) else (None, 0))
    if not_written:
        read.notes.append(f"the rejects file holds the first {limits.max_rejects_written:,} "
                          f"rejected lines; {not_written:,} more were not written "
                          "(LOAD_MAX_REJECTS)")
    _check_rejected_share(read, rejects_path)
    if not append and not force:
        _check_replacement(warehouse, read, limits, rejects_path)
    quality = build_report(read.lines, rejects=read.rejects, lines_read=read.lines_read,
                           countries=read.countries, source=path.name, format=format,
                           notes=read.notes, warnings=read.warnings, orders=read.orders)
    mismatch = currency_warning(read.orders.get("currency"), currency)
    if mismatch:
        quality["warnings"].append(mismatch)
    _report(progress, 55, "publishing a new data version")
    version, quality = publish_lines(warehouse, read.lines, quality=quality, append=append,
                                     source=path.name)
    _report(progress, 100, f"published data version {version}")
    return LoadResult(version=version, source=path.name, format=format,
                      mode="append" if append else "replace", lines_read=read.lines_read,
                      lines_loaded=len(read.lines), lines_rejected=len(read.rejects),
                      quality=quality, rejects_path=rejects_path,
                      seconds=round(time.perf_counter() - started, 3),
                      rejects_not_written=not_written)


def sample_path(name: str = "online-retail") -> Path:
    """Path of a sample shipped with the package (found next to this module)."""
    if name not in SAMPLES:
        raise LoadError(f"Unknown sample {name!r} (available: {', '.join(SAMPLES)})")
    path = SAMPLES_DIR / SAMPLES[name][0]
    if not path.exists():
        raise LoadError(f"The sample {name!r} is missing from this installation ({path})")
    return path


def load_sample(warehouse: Warehouse, name: str = "online-retail", **options) -> LoadResult:
    """Load a shipped sample; ``options`` as for ``load_file`` (append, rejects_dir,
    progress)."""
    return load_file(warehouse, sample_path(name), format=SAMPLES[name][1], **options)


def load_demo(warehouse: Warehouse, *, lines: int = 1_000_000, seed: int = 42,
              progress: Progress | None = None) -> LoadResult:
    """Generate the synthetic demo data set (data.demo) and publish it, replacing the data."""
    from data.demo import generate_demo

    started = time.perf_counter()
    _report(progress, 5, f"generating {lines:,} demo lines")
    demo = generate_demo(lines=lines, seed=seed)
    source = f"demo ({lines:,} lines, seed {seed})"
    quality = build_report(demo.lines, source=source, format="demo",
                           notes=[f"{len(demo.anomalies)} anomalies planted by the generator"])
    quality["demo_anomalies"] = json.loads(json.dumps(demo.anomalies, default=str))
    quality["demo_ad_anomaly"] = json.loads(json.dumps(demo.ad_anomaly, default=str))
    _report(progress, 55, "publishing a new data version")
    version, quality = publish_lines(warehouse, demo.lines, sessions=demo.sessions,
                                     ad_spend=demo.ad_spend,
                                     quality=quality, source=source)
    _report(progress, 100, f"published data version {version}")
    return LoadResult(version=version, source=source, format="demo", mode="replace",
                      lines_read=len(demo.lines), lines_loaded=len(demo.lines),
                      lines_rejected=0, quality=quality, rejects_path=None,
                      seconds=round(time.perf_counter() - started, 3))


def publish_lines(warehouse: Warehouse, lines: pd.DataFrame, *,
                  sessions: pd.DataFrame | None = None, quality: dict, source: str,
                  append: bool = False, ad_spend: pd.DataFrame | None = None
                  ) -> tuple[int, dict]:
    """Publish ``lines`` as a new version (replacing, or appended to the current lines;
    an append keeps the current sessions and ad spend unless given).

    Returns (version, quality), where an append adds ``quality["append"]`` =
    {lines_added, lines_already_present, lines_in_version}. Any failure raises LoadError and
    leaves the current version as it was."""
    try:
        if append and warehouse.current_version() is not None:
            current = warehouse.read_lines()
            incoming = coerce_lines(lines)
            fresh = incoming.loc[~_line_keys(incoming).isin(_line_keys(current))]
            lines = pd.concat([current, fresh], ignore_index=True)
            if sessions is None:
                sessions = warehouse.read_sessions()
            if ad_spend is None:
                ad_spend = warehouse.read_ad_spend()
            quality = {**quality, "append": {
                "lines_added": int(len(fresh)),
                "lines_already_present": int(len(incoming) - len(fresh)),
                "lines_in_version": int(len(lines))}}
        version = warehouse.publish(lines, sessions, source=source, quality=quality,
                                    ad_spend=ad_spend)
    except (WarehouseError, sa.exc.SQLAlchemyError, duckdb.Error, OSError) as exc:
        log.exception("publishing %s failed", source)
        raise LoadError(f"Publishing the new data version failed ({_first_line(exc)}); the "
                        "current data is unchanged") from exc
    return version, quality


# ------------------------------------------------------------------------- helpers
def _read(path: Path, format: str, mapping, limits: LoadLimits) -> ReadResult:
    try:
        return formats.read(path, format, mapping, limits)
    except ReadError as exc:
        raise LoadError(str(exc)) from exc


def _check_rejected_share(read: ReadResult, rejects_path: Path | None) -> None:
    rejected = len(read.rejects)
    if not read.lines_read or rejected / read.lines_read <= MAX_REJECTED_SHARE:
        return
    reasons = read.rejects["reject_reason"].value_counts()
    example = read.rejects.iloc[0]
    raise LoadError(
        f"{rejected:,} of {read.lines_read:,} lines ({rejected / read.lines_read:.0%}) were "
        f"rejected, mostly for {reasons.index[0]!r} ({reasons.iloc[0]:,} lines, first at row "
        f"{example['source_row']}): this does not look like a file in this format; nothing "
        f"was loaded" + (f" (rejected lines: {rejects_path})" if rejects_path else "")
        + "".join(f". {warning['message']}: {warning['fix']}" for warning in read.warnings
                  if warning.get("code") == "blank_product_ids"))


def _check_replacement(warehouse: Warehouse, read: ReadResult, limits: LoadLimits,
                       rejects_path: Path | None) -> None:
    """Refuse to replace the current version with a load that rejects too many of its
    lines or keeps far fewer lines than the current version has (nothing to replace: no
    rule)."""
    try:
        current = (warehouse.version_info()
                   if warehouse.current_version() is not None else None)
    except (WarehouseError, sa.exc.SQLAlchemyError, duckdb.Error, OSError):
        log.exception("reading the current version's size failed")
        raise LoadError("The current data version cannot be read to compare it with this "
                        f"load: nothing was loaded; {FORCE_HINT}") from None
    if current is None:
        return  # a first load replaces nothing
    rejected, kept = len(read.rejects), len(read.lines)
    if read.lines_read and rejected / read.lines_read > limits.replace_max_rejected_share:
        raise LoadError(
            f"{rejected:,} of {read.lines_read:,} lines ({rejected / read.lines_read:.0%}) were "
            f"rejected, more than the {limits.replace_max_rejected_share:.0%} a load replacing "
            f"the current data may reject: nothing was loaded"
            + (f" (rejected lines: {rejects_path})" if rejects_path else "")
            + f"; {FORCE_HINT}")
    if kept < limits.replace_min_kept_share * current.line_count:
        raise LoadError(
            f"This load would replace data version {current.version} ({current.line_count:,} "
            f"lines) with {kept:,} lines ({kept / current.line_count:.0%} of them, below the "
            f"{limits.replace_min_kept_share:.0%} a replacing load must keep): nothing was "
            f"loaded; to add lines use --append, and {FORCE_HINT}")


def _write_rejects(rejects: pd.DataFrame, rejects_dir: str | Path | None, path: Path,
                   max_lines: int) -> tuple[Path, int]:
    """Write at most ``max_lines`` rejected lines (values cut to REJECT_VALUE_CHARS) and,
    past that, a last line saying how many more there were. Returns (path, lines not
    written)."""
    import tempfile

    folder = Path(rejects_dir) if rejects_dir is not None else Path(tempfile.gettempdir())
    folder.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in path.name)[:60]
    target = folder / f"rejects-{stamp}-{stem}-{uuid.uuid4().hex[:6]}.csv"
    not_written = max(0, len(rejects) - max_lines)
    written = rejects.head(max_lines).copy()
    for column in written.columns:
        if written[column].dtype == object:
            written[column] = written[column].astype(str).str.slice(0, REJECT_VALUE_CHARS)
    if not_written:
        written = pd.concat([written, pd.DataFrame([{
            "source_row": "", "reject_reason": f"… and {not_written:,} more rejected lines, "
                                               f"not written (LOAD_MAX_REJECTS)"}])],
                            ignore_index=True)
    written.to_csv(target, index=False)
    return target, not_written


def _line_keys(frame: pd.DataFrame) -> pd.MultiIndex:
    """One key per line: (hash of the full line content, how many identical lines came
    before it), so identical lines are matched one to one."""
    hashes = pd.util.hash_pandas_object(frame[list(schema.LINE_COLUMNS)],
                                        index=False).to_numpy()
    occurrence = pd.Series(hashes).groupby(hashes).cumcount().to_numpy()
    return pd.MultiIndex.from_arrays([hashes, occurrence])


def _report(progress: Progress | None, percent: int, message: str) -> None:
    log.info("load %s%%: %s", percent, message)
    if progress is not None:
        progress(percent, message)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__
