"""Uploaded data files: stored under the uploads folder (the only place a data load may
read), and their column names for the mapping step of generic files.

An upload that cannot be a load (empty, damaged, not a CSV or workbook, no header row) is
refused with an ``UploadError`` naming the file as the user chose it, and is not kept.
Uploads are deleted UPLOAD_KEEP_DAYS after they were written (``core.loads.prune_uploads``,
run at each upload and after each load).
"""
from __future__ import annotations

import base64
import re
import uuid
from pathlib import Path

from analytics.errors import InvalidInput
from core.loads import prune_uploads
from data.readers import DEFAULT_LIMITS, LoadLimits, ReadError, read_header
from webapp import services

ALLOWED_SUFFIXES = (".csv", ".gz", ".xlsx", ".xls", ".parquet", ".txt")
MAX_BYTES = 200 * 1024 * 1024


class UploadError(InvalidInput):
    """The upload cannot be used; the message says why."""


def accept_upload(filename: str | None, contents: str | None) -> tuple[Path, list[str]]:
    """Save an upload (``save_upload``) and read its header (``column_names``); an upload
    whose header cannot be read is deleted. Returns (path, column names)."""
    path = save_upload(filename, contents)
    try:
        return path, column_names(path, shown_name=Path(filename or "upload").name,
                                  limits=services.settings().load_limits())
    except UploadError:
        path.unlink(missing_ok=True)
        raise


def save_upload(filename: str | None, contents: str | None) -> Path:
    """Write a dcc.Upload ``contents`` (data URL) under the uploads folder with a unique
    name; returns its path. Old uploads are pruned first."""
    name = Path(filename or "upload").name
    if not name.lower().endswith(ALLOWED_SUFFIXES):
        raise UploadError(f"{name}: upload a CSV (optionally .gz), an Excel (.xlsx, .xls) or a "
                          "Parquet file")
    if not contents:  # the browser sends nothing for an empty file
        raise UploadError(f"{name} is empty: choose a file with a header row and data lines")
    try:
        data = base64.b64decode(contents.split(",", 1)[1], validate=True)
    except (IndexError, ValueError, AttributeError):
        if isinstance(contents, str) and contents.startswith("data:") and "," not in contents:
            raise UploadError(f"{name} is empty: choose a file with a header row and data "
                              "lines") from None
        raise UploadError(f"{name}: the upload arrived damaged; try again") from None
    if not data:
        raise UploadError(f"{name} is empty: choose a file with a header row and data lines")
    if len(data) > MAX_BYTES:
        raise UploadError(f"{name} is larger than {MAX_BYTES // 2**20} MB")
    settings = services.settings()
    prune_uploads(settings)
    folder = settings.uploads
    folder.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", name)
    path = folder / f"{uuid.uuid4().hex[:12]}-{safe}"
    path.write_bytes(data)
    return path


def column_names(path: Path, shown_name: str | None = None,
                 limits: LoadLimits = DEFAULT_LIMITS) -> list[str]:
    """The header of an uploaded CSV or Excel file, named exactly as the generic reader will
    name its columns (for the mapping dropdowns). ``shown_name`` names the file in errors
    (default: its stored name)."""
    shown = shown_name or path.name
    try:
        columns = read_header(path, limits=limits)
    except ReadError as exc:
        message = str(exc).replace(path.name, shown)
        raise UploadError(f"{shown}: cannot read a header row ({message})") from None
    if len(columns) < 2:
        raise UploadError(f"{shown}: cannot read a header row (it has "
                          f"{'no column' if not columns else 'a single column'}; a data "
                          "file needs one column per field)")
    return columns
