"""The runners of the ``sessions_load`` and ``ads_load`` jobs (``core.job_kinds``): the
Data page's traffic and ad-spend uploads, loaded as the CLI's ``data load-sessions`` and
``data load-ads`` do (``core.loads``), with the quality report's counts, reasons and
warnings as the job's result for the page to show."""
from __future__ import annotations

from pathlib import Path

from core import db, jobs, loads
from core.jobs import JobSpec
from core.orm import DataLoad, User
from core.settings import Settings

#: Rejected lines listed in a job's result (the rest are in the rejects file).
REJECTS_SHOWN = 20


def run_sessions_load_job(settings: Settings, spec: JobSpec) -> dict:
    record = loads.run_sessions_load(settings, path=Path(spec.options["path"]),
                                     format=spec.options.get("format", "ga4"),
                                     mapping=spec.options.get("mapping"),
                                     user=_user(settings, spec))
    return _outcome(record, "sessions")


def run_ads_load_job(settings: Settings, spec: JobSpec) -> dict:
    record = loads.run_ads_load(settings, path=Path(spec.options["path"]),
                                format=spec.options["format"],
                                mapping=spec.options.get("mapping"),
                                force=bool(spec.options.get("force")),
                                user=_user(settings, spec))
    return _outcome(record, "ad spend")


def _user(settings: Settings, spec: JobSpec) -> User | None:
    with db.session_scope(settings.database_url) as session:
        return session.get(User, spec.user_id) if spec.user_id else None


def _outcome(record: DataLoad, what: str) -> dict:
    """The job's outcome; a refused load fails the job with its reason."""
    if record.status != "done":
        raise jobs.JobError(record.error or f"the {what} load failed")
    quality = record.quality or {}
    result = {"data_load_id": record.id, "version": record.version, "kind": what,
              "format": quality.get("format"), "lines_read": record.lines_read,
              "lines_loaded": record.lines_loaded, "lines_rejected": record.lines_rejected,
              "rejected_by_reason": quality.get("rejected_by_reason") or {},
              "rejected_lines": (quality.get("rejected_lines") or [])[:REJECTS_SHOWN],
              "date_range": quality.get("date_range") or {},
              "totals": quality.get("totals") or {},
              "warnings": list(quality.get("warnings") or []),
              "notes": list(quality.get("notes") or [])}
    return {"result": result, "data_version": record.version,
            "message": f"Loaded {record.lines_loaded or 0:,} lines of {what} as data version "
                       f"{record.version}"}
