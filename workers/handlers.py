"""What each kind of job does, and the life cycle around it (start, heartbeat, outcome).

``run_job`` is called by the Celery task with a job id. It loads the Job (skipping finished
or cancelled ones), keeps a heartbeat while the work runs, and records the outcome in the
Job row: done with a result, failed with a message (a ``ShoplensError``: its own message;
anything else: ``INTERNAL_ERROR``, the exception logged), or cancelled. Transient
infrastructure errors (database, broker) are raised as ``TransientJobError`` so the task
retries with backoff.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa
from celery.exceptions import SoftTimeLimitExceeded

from analytics.errors import ShoplensError
from analytics.warehouse import Warehouse
from core import db, installation, jobs, mail, queue
from core.jobs import JobCancelled, JobSpec
from core.orm import Job, User
from core.settings import Settings

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 10.0
#: What the user reads when a job crashed on anything but a ``ShoplensError`` (the
#: exception itself is logged, not shown: it may name paths, SQL or other users' data).
INTERNAL_ERROR = "The job failed on an internal error; it has been logged for the admins."
Progress = Callable[..., None]

_warehouses: dict[str, Warehouse] = {}
_warehouses_lock = threading.Lock()


class TransientJobError(Exception):
    """The job could not run for a passing reason (database locked, broker away);
    the task retries it."""


def warehouse_for(settings: Settings) -> Warehouse:
    """One Warehouse handle per URL per worker process (its engines are reused)."""
    with _warehouses_lock:
        warehouse = _warehouses.get(settings.warehouse_url)
        if warehouse is None:
            warehouse = _warehouses[settings.warehouse_url] = Warehouse(
                settings.warehouse_url, statement_timeout=settings.warehouse_statement_timeout)
    return warehouse


def preload() -> None:
    """Import the heavy modules jobs use (analytics, reports, charts)."""
    import analytics.models  # noqa: F401  (light: Prophet loads on first fit)
    import core.reports.pdf  # noqa: F401
    import core.reports.xlsx  # noqa: F401


TRANSIENT_ERRORS = (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.TimeoutError)


class Heartbeat:
    """Touch the job's heartbeat every few seconds while a long step runs, so the reaper
    can tell a slow job from a dead worker."""

    def __init__(self, settings: Settings, job_id: str, every: float = HEARTBEAT_SECONDS):
        self.settings, self.job_id, self.every = settings, job_id, every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat-{job_id}",
                                        daemon=True)

    def __enter__(self) -> "Heartbeat":
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _beat(self) -> None:
        while not self._stop.wait(self.every):
            try:
                if not jobs.heartbeat(self.settings, self.job_id):
                    return
            except Exception:  # a missed beat is not worth killing the job for
                log.warning("heartbeat of job %s failed", self.job_id, exc_info=True)


def progress_reporter(settings: Settings, job_id: str, low: float = 0,
                      high: float = 100) -> Progress:
    """A ``progress(percent, message=None)`` callback writing to the Job row, mapping
    0–100 onto ``low…high`` of the job's bar. It raises JobCancelled once the user asked
    to cancel (that is how a job stops at its progress points)."""
    def progress(percent: float = 0, message: str | None = None) -> None:
        percent = max(0.0, min(100.0, float(percent)))
        jobs.update_progress(settings, job_id, low + (high - low) * percent / 100, message)
    return progress


def run_job(settings: Settings, job_id: str, worker: str | None = None) -> str | None:
    """Run one job to its end; return its final status (None when skipped)."""
    try:
        spec = jobs.start_job(settings, job_id, worker)
    except TRANSIENT_ERRORS as exc:
        raise TransientJobError(str(exc)) from exc
    if spec is None:
        return None
    log.info("job %s (%s) started, attempt %s", spec.id, spec.kind, spec.attempts)
    try:
        with Heartbeat(settings, spec.id):
            outcome = jobs.kind_of(spec.kind).load_runner()(settings, spec)
    except JobCancelled:
        jobs.mark_cancelled(settings, spec.id)
        log.info("job %s cancelled", spec.id)
        return "cancelled"
    except SoftTimeLimitExceeded:
        minutes = jobs.kind_of(spec.kind).soft_time_limit // 60
        jobs.fail_job(settings, spec.id, f"The job took longer than {minutes} minutes "
                      "and was stopped. Narrow the filters and try again.")
        return "failed"
    except ShoplensError as exc:  # meant for the user, and the same input fails the same way
        jobs.fail_job(settings, spec.id, exc.message)
        log.info("job %s failed: %s", spec.id, exc)
        return "failed"
    except TRANSIENT_ERRORS as exc:
        _back_to_queue(settings, spec.id, exc)
        raise TransientJobError(str(exc)) from exc
    except Exception:
        log.exception("job %s crashed", spec.id)
        jobs.fail_job(settings, spec.id, INTERNAL_ERROR)
        return "failed"
    jobs.finish_job(settings, spec.id, **outcome)
    after = outcome.get("result") or {}
    if spec.options.get("email"):
        _queue_deliveries(settings, spec)
    log.info("job %s done (%s)", spec.id, ", ".join(sorted(after)[:5]))
    return "done"


def _back_to_queue(settings: Settings, job_id: str, exc: BaseException) -> None:
    try:
        with db.session_scope(settings.database_url) as session:
            job = session.get(Job, job_id)
            if job is not None and job.status == "running":
                job.status = "queued"
                job.message = f"Waiting to retry after a temporary error: {exc}"[:500]
    except TRANSIENT_ERRORS:
        log.warning("could not put job %s back in the queue", job_id, exc_info=True)


# ----------------------------------------------------------------- runners
# The runners named by the job kinds' declarations (``core.job_kinds``): each is called as
# ``runner(settings, spec)`` and returns the outcome for ``jobs.finish_job``.
def run_model_job(settings: Settings, spec: JobSpec) -> dict:
    from analytics.models import run_model

    warehouse = warehouse_for(settings)
    version = warehouse.require_version()
    progress = progress_reporter(settings, spec.id, 0, 99)
    progress(0, "Reading the data")
    result = run_model(spec.kind, warehouse, spec.filters, spec.scope, spec.options, progress,
                       currency=installation.locale_for(settings, warehouse))
    return {"result": result, "data_version": version, "message": "Model ready"}


def run_load_job(settings: Settings, spec: JobSpec) -> dict:
    from core.loads import run_load

    with db.session_scope(settings.database_url) as session:
        user = session.get(User, spec.user_id) if spec.user_id else None
    options = spec.options
    # LoadOptions stores a whole mapping; a job queued before it did holds only columns
    mapping = options.get("mapping") or None
    if mapping is not None and "columns" not in mapping:
        mapping = {"columns": mapping}
    load = run_load(settings, path=Path(options["path"]), format=options.get("format"),
                    mapping=mapping, append=bool(options.get("append")),
                    force=bool(options.get("force")), user=user,
                    progress=progress_reporter(settings, spec.id, 0, 99))
    if getattr(load, "status", "done") == "failed":
        raise jobs.JobError(load.error or "the data load failed")
    result = {"data_load_id": load.id, "version": load.version,
              "lines_read": load.lines_read, "lines_loaded": load.lines_loaded,
              "lines_rejected": load.lines_rejected}
    return {"result": result, "data_version": load.version,
            "message": f"Loaded {load.lines_loaded or 0:,} lines as data version {load.version}"}


def run_report_job(settings: Settings, spec: JobSpec) -> dict:
    from core import reports

    report_format = spec.options.get("format") or spec.kind.removeprefix("report_")
    warehouse = warehouse_for(settings)
    folder = jobs.job_folder(settings, spec.id)
    rendered = reports.render_report(
        warehouse, spec.filters, spec.scope, report_format, folder,
        currency=installation.locale_for(settings, warehouse),
        title=spec.options.get("title") or "Shoplens report",
        progress=progress_reporter(settings, spec.id, 0, 99),
        app_database_url=settings.database_url)  # the notes on the timeline
    return {"result": rendered.summary(), "path": rendered.path,
            "data_version": rendered.data_version,
            "message": f"{report_format.upper()} report ready"}


# ----------------------------------------------------------------- e-mail
def _queue_deliveries(settings: Settings, spec: JobSpec) -> list[int]:
    """A finished report asked to be e-mailed: one delivery to its recipient (the job's
    user; for a scheduled report to an external address, ``params["recipient"]``). Its
    idempotency key makes a job run twice (a killed worker) one delivery, not two."""
    with db.session_scope(settings.database_url) as session:
        job = session.get(Job, spec.id)
        user = session.get(User, spec.user_id) if spec.user_id else None
        recipient = (job.params or {}).get("recipient")
        if not recipient:
            if user is None or not user.is_active:
                log.warning("job %s: no active recipient; report not e-mailed", spec.id)
                return []
            recipient = user.email
        delivery = mail.create_delivery(session, job, recipient)
        delivery_id, pending = delivery.id, delivery.status != "sent"
    if pending:
        send_delivery(settings, delivery_id)
    return [delivery_id]


def send_delivery(settings: Settings, delivery_id: int, countdown: float | None = None) -> None:
    """Send the deliver task (the ledger row is committed already; the task claims the
    row before sending, so a second task for it sends nothing)."""
    queue.for_settings(settings).send_task(
        queue.DELIVER, args=[delivery_id], queue="reports", countdown=countdown)
