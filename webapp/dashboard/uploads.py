"""Uploaded data files: stored under the uploads folder (the only place a data load may
read), and their column names for the mapping step of generic files."""
from __future__ import annotations

import base64
import re
import uuid
from pathlib import Path

from analytics.errors import InvalidInput
from data.readers import ReadError, read_header
from webapp import services

ALLOWED_SUFFIXES = (".csv", ".gz", ".xlsx", ".txt")
MAX_BYTES = 200 * 1024 * 1024


class UploadError(InvalidInput):
    """The upload cannot be used; the message says why."""


def save_upload(filename: str, contents: str) -> Path:
    """Write a dcc.Upload ``contents`` (data URL) under the uploads folder with a unique
    name; returns its path."""
    name = Path(filename or "upload").name
    if not name.lower().endswith(ALLOWED_SUFFIXES):
        raise UploadError(f"{name}: upload a CSV (optionally .gz) or an Excel .xlsx file")
    try:
        data = base64.b64decode(contents.split(",", 1)[1], validate=True)
    except (IndexError, ValueError):
        raise UploadError(f"{name}: the upload arrived damaged; try again") from None
    if len(data) > MAX_BYTES:
        raise UploadError(f"{name} is larger than {MAX_BYTES // 2**20} MB")
    folder = services.settings().uploads
    folder.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", name)
    path = folder / f"{uuid.uuid4().hex[:12]}-{safe}"
    path.write_bytes(data)
    return path


def column_names(path: Path) -> list[str]:
    """The header of an uploaded CSV or Excel file, named exactly as the generic reader will
    name its columns (for the mapping dropdowns)."""
    try:
        return read_header(path)
    except ReadError as exc:
        raise UploadError(f"{path.name}: cannot read a header row ({exc})") from None
