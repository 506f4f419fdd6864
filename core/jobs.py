"""Background jobs: the Job row is the single source of truth for a piece of heavy work.

Life of a job::

    submit_job()      validate kind, params and role; add a Job (status "queued")
    (caller commits)
    enqueue()         send the Celery task ``shoplens.run_job`` by name, on the kind's queue
    worker            start_job() → "running" (started_at, worker, heartbeat, attempts + 1)
                      update_progress() 0–100 with a message; raises JobCancelled when the
                      user asked to cancel
                      finish_job() → "done" with result JSON and/or a file under
                      ``settings.results/<job id>/``; fail_job() → "failed" with the error
    reaper            reap(), every minute in every worker (its own thread, see
                      celery_app) and from beat: reap_stale_jobs(), a "running" job whose
                      heartbeat stopped (the worker died) is queued again once, then failed
                      with a clear message; reconcile_queued(), a "queued" job whose task
                      message the broker no longer has (Redis restarted empty) is sent
                      again, at most MAX_RESENDS times, then failed. Each change is claimed
                      with a conditional UPDATE, so reapers running side by side never act
                      twice on one job.

The web process (API, Dash pages) only uses this module and sends tasks by name; it never
imports ``workers``. Services validate and add rows; the caller commits.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import socket
from collections.abc import Mapping
from pathlib import Path

import pydantic
import sqlalchemy as sa
from sqlalchemy import orm
from sqlalchemy.orm import Session

from analytics.errors import (AccessDenied, Conflict, InvalidInput, NotFound, Unavailable,
                             format_validation_error)
from analytics.filters import DIMENSIONS, FilterError, Filters, Scope
from core import audit, db, job_kinds, notifications, queue
from core.job_kinds import JobKind
from core.orm import Job, User, new_id, utcnow
from core.settings import Settings

log = logging.getLogger(__name__)

FINISHED = ("done", "failed", "cancelled")
#: How long a running job may stay silent (no heartbeat) before the reaper steps in.
DEFAULT_MAX_SILENCE = dt.timedelta(minutes=3)
#: A job whose worker died is queued again this many times before it is failed.
MAX_ATTEMPTS = 2
#: How long a queued job's message may be missing from the broker before it is sent again
#: (a job being picked up is briefly in neither place).
QUEUED_GRACE = dt.timedelta(seconds=float(os.environ.get("SHOPLENS_QUEUED_GRACE") or 300))
#: A queued job whose message the broker lost is sent again this many times, then failed.
MAX_RESENDS = 3
#: Seconds between two rounds of the reaper in each worker (tests shorten it).
REAP_INTERVAL = float(os.environ.get("SHOPLENS_REAP_INTERVAL") or 60)
FILTER_KEYS = ("start", "end", "min_price", "max_price", "segment", *DIMENSIONS)



class JobError(InvalidInput):
    """The request cannot become a job (bad kind, bad parameters, finished job...);
    the message is meant for the user (HTTP 400)."""


class JobFinished(JobError, Conflict):
    """The job has finished already: it can no longer be cancelled (HTTP 409)."""
    status = Conflict.status


class QueueUnavailable(JobError, Unavailable):
    """The task queue (the broker) cannot be reached; the job was failed (HTTP 503)."""
    status = Unavailable.status


class JobAccessDenied(AccessDenied):
    """The user may not run or see this job (HTTP 403)."""


class JobNotFound(NotFound):
    """No job with this id (HTTP 404)."""


class JobCancelled(Exception):
    """Raised inside a running job at a progress point once the user asked to cancel."""


@dataclasses.dataclass(frozen=True)
class JobSpec:
    """What a worker needs to run a job, detached from any session."""
    id: str
    kind: str
    user_id: int | None
    filters: Filters
    scope: Scope
    options: dict
    attempts: int
    schedule_id: int | None


# ----------------------------------------------------------------- submitting
def kind_of(name: str) -> JobKind:
    """The declaration of the job kind ``name`` (``core.job_kinds``); raises JobError."""
    kind = job_kinds.get(name)
    if kind is None:
        raise JobError(f"unknown job kind {name!r}: use one of "
                       f"{', '.join(job_kinds.names())}")
    return kind


def store_filters(filters: Filters | str | Mapping | None) -> dict:
    """The stored (JSON) form of a job's filters: a Filters value, a URL query string or a
    dict of ``Filters.to_dict`` (the API's, a page's); raises JobError naming a bad value.
    ``load_filters`` reads it back: the only two places the round trip is written."""
    if isinstance(filters, Filters):
        return filters.to_dict()
    try:
        return Filters.from_query(filters or {}).to_dict()
    except FilterError as exc:
        raise JobError(str(exc)) from None


def load_filters(stored: Mapping | None) -> Filters:
    """The Filters of stored params (see ``store_filters``)."""
    return Filters.from_query((stored or {}).get("filters") or {})


def parse_params(kind: str, params: dict | None, *, settings: Settings | None = None) -> dict:
    """Validate ``params`` for ``kind`` and return the stored form
    ``{"filters": Filters.to_dict(), "options": {...}}``. Raises JobError.

    ``params`` is ``{"filters": Filters | query | dict, "options": {...}}`` (the API's
    shape), or flat: filter names and options side by side. ``settings`` is handed to the
    options' validators (a data load's file must lie in ``settings.uploads``)."""
    declared = kind_of(kind)
    params = dict(params or {})
    if "filters" in params:
        filter_source = params.pop("filters")
    else:
        filter_source = {key: params.pop(key) for key in FILTER_KEYS if key in params}
    if isinstance(params.get("options"), dict):
        params = {**params.pop("options"), **params}
    filters = store_filters(filter_source)
    try:
        options = declared.parse_options(params, settings=settings)
    except pydantic.ValidationError as exc:
        raise JobError(format_validation_error(exc, subject="params")) from None
    return {"filters": filters, "options": options}


def submit_job(session: Session, user: User, kind: str, params: dict | None = None, *,
               settings: Settings | None = None) -> Job:
    """Add a queued Job for ``user`` (flushed, not committed). The caller commits and
    then calls ``enqueue(settings, job.id)``.

    Raises JobAccessDenied when the user's role is below the kind's, JobError for a bad
    kind or bad parameters.
    """
    declared = kind_of(kind)
    if not declared.requested_by_users:
        raise JobError(f"{declared.label} jobs are started by their schedule, not requested")
    if not user.is_active or not user.has_role(declared.role):
        raise JobAccessDenied(f"running {declared.label} jobs needs the "
                              f"{declared.role} role")
    stored = parse_params(kind, params, settings=settings)
    declared.check_access(session, user, stored["options"])
    return _add_job(session, user, kind, stored, action_detail=stored)


def report_formats() -> dict[str, str]:
    """Report formats users may request and the job kind rendering each ("pdf" →
    "report_pdf")."""
    return {kind.name.removeprefix("report_"): kind.name for kind in job_kinds.all_kinds()
            if kind.name.startswith("report_") and kind.requested_by_users}


def request_report(session: Session, user: User, *, format: str, email: bool = False,
                   filters: Filters | str | dict | None = None) -> Job:
    """Ask for a PDF or Excel report of ``filters`` under the user's scope; with
    ``email`` the finished report is e-mailed to the user. The caller commits and
    enqueues, as for ``submit_job``."""
    formats = report_formats()
    kind = formats.get(str(format).lower())
    if kind is None:
        raise JobError(f"report format must be {' or '.join(formats)}, not {format!r}")
    job = submit_job(session, user, kind, {"filters": filters, "email": bool(email)})
    audit.record(session, "report_requested", actor=user, target=job.id,
                 detail={"format": format, "email": bool(email)})
    return job


def add_scheduled_report(session: Session, user: User, schedule_id: int, format: str,
                         filters: str, title: str | None = None, *,
                         scope: Scope | None = None, recipient: str | None = None,
                         idempotency_key: str | None = None,
                         saved_view_id: int | None = None,
                         period_days: int | None = None,
                         dashboard_id: int | None = None) -> Job | None:
    """A scheduled run's job for one recipient (used by ``core.schedules``; the caller
    commits and enqueues). ``title`` names the report (the schedule's name).

    A user recipient's job is ``user``'s, rendered under the user's own scope. For an
    external address, ``user`` is the schedule's owner (the audit trail), ``scope`` the
    schedule's external scope and ``recipient`` the address (``params["recipient"]``, where
    the delivery sends it). The "digest" format makes a ``digest`` job, a ``dashboard_id``
    a ``dashboard_report`` (the dashboard as a PDF), the others a ``scheduled_report``.
    With ``idempotency_key``, a second job with the same key is not made: None is returned (a unique violation from a racing writer is caught in a
    savepoint, so the caller's transaction goes on)."""
    if idempotency_key and session.scalar(
            sa.select(Job.id).where(Job.idempotency_key == idempotency_key)):
        return None
    kind = ("dashboard_report" if dashboard_id is not None else
            "digest" if format == "digest" else "scheduled_report")
    options = {"schedule_id": schedule_id, "title": title}
    if kind == "dashboard_report":
        options.update(dashboard_id=dashboard_id, email=True)
    if saved_view_id is not None and kind != "dashboard_report":
        options["saved_view_id"] = saved_view_id
    if period_days is not None and kind == "scheduled_report":
        options["period_days"] = period_days
    if kind == "scheduled_report":
        options["format"] = format
    stored = parse_params(kind, {"filters": filters, **options})
    if recipient:
        stored["recipient"] = recipient
    try:
        with session.begin_nested():
            job = _add_job(session, user, kind, stored, scope=scope,
                           idempotency_key=idempotency_key, schedule_id=schedule_id)
    except sa.exc.IntegrityError:
        if not idempotency_key:
            raise
        log.info("job %s exists already (a racing run); not made twice", idempotency_key)
        return None
    return job


def _add_job(session: Session, user: User, kind: str, stored: dict,
             action_detail: dict | None = None, *, scope: Scope | None = None,
             idempotency_key: str | None = None, schedule_id: int | None = None) -> Job:
    """Add the Job under ``scope`` (default: the user's own)."""
    job_id = new_id()
    countries = user.countries if scope is None else scope.countries
    job = Job(id=job_id, celery_task_id=job_id, kind=kind, user_id=user.id, params=stored,
              scope=None if countries is None else sorted(countries),
              status="queued", progress=0, message="Waiting for a worker",
              idempotency_key=idempotency_key, schedule_id=schedule_id)
    session.add(job)
    session.flush()
    if action_detail is not None:
        audit.record(session, "job_submitted", actor=user, target=job.id,
                     detail={"kind": kind})
    return job


def enqueue(settings: Settings, job_id: str) -> None:
    """Send the job's task to its queue. Call after the Job row is committed.

    When the broker cannot be reached the job is marked failed (so no page waits for it
    forever) and QueueUnavailable is raised."""
    with db.session_scope(settings.database_url) as session:
        job = session.get(Job, job_id)
        if job is None:
            raise JobNotFound(f"no job {job_id}")
        kind = kind_of(job.kind)
        job.sent_at = utcnow()
    try:
        _celery(settings).send_task(
            queue.RUN_JOB, args=[job_id], task_id=job_id, queue=kind.queue,
            soft_time_limit=kind.soft_time_limit, time_limit=kind.time_limit)
    except Exception as exc:  # the broker's errors are not one class
        log.exception("could not send job %s to the task queue", job_id)
        fail_job(settings, job_id, f"The task queue could not be reached: {exc}")
        raise QueueUnavailable("The job could not be started: the task queue is not "
                               "reachable. Try again in a minute.") from exc


def _celery(settings: Settings):
    return queue.for_settings(settings)


# ----------------------------------------------------------------- reading
def within_scope(job: Job, user: User) -> bool:
    """True when the data the job was computed on (its owner's scope at submission) lies
    inside the user's CURRENT scope, so narrowing a scope also hides older results."""
    if user.countries is None:
        return True
    return job.scope is not None and set(job.scope) <= set(user.countries)


def _without_result(with_result: bool) -> list:
    """Load options leaving out the result JSON (it may be megabytes) unless it is asked
    for: a page polling a running job reads its status every second."""
    return [] if with_result else [orm.defer(Job.result)]


def get_job(session: Session, user: User, job_id: str, *, with_result: bool = True) -> Job:
    """The job, for its owner or an admin, while it lies within the user's current scope.
    Raises JobNotFound (also for a job outside the scope: its existence is not told) or
    JobAccessDenied (another user's job). ``with_result=False`` leaves the result column
    unread (touching ``job.result`` then reads it)."""
    job = session.get(Job, str(job_id), options=_without_result(with_result)) \
        if job_id else None
    if job is None or not within_scope(job, user):
        raise JobNotFound(f"no job {job_id}")
    if not (job.user_id == user.id or user.has_role("admin")):
        raise JobAccessDenied("this job belongs to another user")
    return job


def list_jobs(session: Session, user: User, *, limit: int = 50,
              kinds: tuple[str, ...] | None = None, with_result: bool = True) -> list[Job]:
    """The user's newest jobs (an admin sees everybody's), within the user's scope
    (``with_result``: as for ``get_job``)."""
    query = (sa.select(Job).options(*_without_result(with_result))
             .order_by(Job.created_at.desc()))
    if not user.has_role("admin"):
        query = query.where(Job.user_id == user.id)
    if kinds:
        query = query.where(Job.kind.in_(kinds))
    visible = (job for job in session.scalars(query.limit(limit * 4))
               if within_scope(job, user))
    return [job for _, job in zip(range(limit), visible)]


def result_path(job: Job, settings: Settings | None = None) -> Path | None:
    """The job's result file, when it has one that exists (the download route serves it
    after checking the user may see the job)."""
    if job.status != "done" or not job.result_path:
        return None
    path = Path(job.result_path)
    if settings is not None and not path.resolve().is_relative_to(settings.results.resolve()):
        return None
    return path if path.is_file() else None


def job_to_dict(job: Job, *, with_result: bool = True) -> dict:
    """The job as the API and the pages show it: id, kind, label, status, progress,
    message, params, result, error, timings (created/started/finished, seconds),
    data_version, download (URL of the result file, when there is one). With
    ``with_result=False`` the result is left out (pair it with ``get_job(...,
    with_result=False)``, which does not read it)."""
    seconds = None
    if job.started_at and job.finished_at:
        seconds = round((job.finished_at - job.started_at).total_seconds(), 3)
    download = None
    if job.status == "done" and job.result_path:
        download = f"/api/v1/jobs/{job.id}/result"
    return {
        "id": job.id, "kind": job.kind, "label": _label(job.kind),
        "status": job.status, "progress": job.progress,
        "message": job.message, "params": job.params,
        **({"result": job.result} if with_result else {}),
        "error": job.error, "data_version": job.data_version, "attempts": job.attempts,
        "cancel_requested": bool(job.cancel_requested),
        "timings": {"created_at": _iso(job.created_at), "started_at": _iso(job.started_at),
                    "finished_at": _iso(job.finished_at), "seconds": seconds},
        "download": download,
        "file_name": Path(job.result_path).name if download else None,
    }


def _label(kind: str) -> str:
    declared = job_kinds.get(kind)
    return declared.label if declared is not None else kind.replace("_", " ")


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") + "Z" if value else None


# ----------------------------------------------------------------- cancelling
def cancel_job(session: Session, user: User, job_id: str) -> Job:
    """Cancel a job of the user's (or anybody's, for an admin). A queued job is cancelled
    at once; a running one stops at its next progress point. The caller commits."""
    job = get_job(session, user, job_id)
    if job.status in FINISHED:
        raise JobFinished(f"the job has already finished ({job.status})")
    job.cancel_requested = True
    if job.status == "queued":
        job.status = "cancelled"
        job.finished_at = utcnow()
        job.message = "Cancelled before it started"
    else:
        job.message = "Cancelling…"
    audit.record(session, "job_cancelled", actor=user, target=job.id,
                 detail={"kind": job.kind})
    return job


def revoke(settings: Settings, job_id: str) -> None:
    """Ask the workers to drop the job's task message (best effort: the cancel flag in the
    Job row is what stops a job; the embedded broker cannot broadcast)."""
    if not settings.redis_url:
        return
    try:
        _celery(settings).control.revoke(job_id)
    except Exception:  # monitoring commands must never break a cancel
        log.warning("could not broadcast the revoke of job %s", job_id, exc_info=True)


# ----------------------------------------------------------------- worker side
def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def start_job(settings: Settings, job_id: str, worker: str | None = None) -> JobSpec | None:
    """Mark the job running and return what the worker needs, or None when there is
    nothing to do (unknown, finished or cancelled job: tasks are idempotent)."""
    with db.session_scope(settings.database_url) as session:
        job = session.get(Job, job_id, with_for_update=True)
        if job is None:
            log.warning("job %s does not exist; task dropped", job_id)
            return None
        if job.status in FINISHED:
            log.info("job %s is already %s; task skipped", job_id, job.status)
            return None
        if job.status == "running":  # a second message (re-sent by the reaper) for one job
            log.info("job %s is already running on %s; task skipped", job_id, job.worker)
            return None
        if job.cancel_requested:
            _set_cancelled(job)
            return None
        now = utcnow()
        job.status = "running"
        job.started_at = now
        job.heartbeat_at = now
        job.worker = (worker or worker_name())[:200]
        job.attempts = (job.attempts or 0) + 1
        job.progress = 0
        job.message = "Started"
        job.error = None
        params = job.params or {}
        return JobSpec(
            id=job.id, kind=job.kind, user_id=job.user_id,
            filters=load_filters(params),
            scope=Scope.of(job.scope), options=dict(params.get("options") or {}),
            attempts=job.attempts, schedule_id=job.schedule_id)


def update_progress(settings: Settings, job_id: str, percent: float,
                    message: str | None = None) -> None:
    """Record progress (0–100) and a heartbeat; raise JobCancelled when the user asked
    to cancel, so the job stops at this point."""
    with db.session_scope(settings.database_url) as session:
        job = session.get(Job, job_id)
        if job is None:
            raise JobCancelled("the job was deleted")
        if job.cancel_requested or job.status == "cancelled":
            raise JobCancelled("cancelled by the user")
        job.progress = max(0, min(100, int(percent)))
        if message:
            job.message = message[:500]
        job.heartbeat_at = utcnow()


def heartbeat(settings: Settings, job_id: str) -> bool:
    """Touch the job's heartbeat; False when the job no longer runs."""
    with db.session_scope(settings.database_url) as session:
        updated = session.execute(
            sa.update(Job).where(Job.id == job_id, Job.status == "running")
            .values(heartbeat_at=utcnow())).rowcount
    return bool(updated)


def finish_job(settings: Settings, job_id: str, result: dict | None = None,
               path: Path | None = None, data_version: int | None = None,
               message: str = "Done") -> None:
    with db.session_scope(settings.database_url) as session:
        job = session.get(Job, job_id)
        if job is None or job.status in FINISHED:
            return
        job.status = "done"
        job.progress = 100
        job.message = message[:500]
        job.result = result
        job.result_path = str(path) if path else None
        job.data_version = data_version
        job.finished_at = utcnow()
        job.heartbeat_at = job.finished_at
        _notify_finished(session, job)


def fail_job(settings: Settings, job_id: str, error: str) -> None:
    with db.session_scope(settings.database_url) as session:
        job = session.get(Job, job_id)
        if job is None or job.status in FINISHED:
            return
        job.status = "failed"
        job.error = error
        job.message = _first_line(error)
        job.finished_at = utcnow()
        _notify_finished(session, job)


#: Where a finished job's notification leads (the Reports page lists every job of a user).
#: Where the bell's note of a finished job leads (default: the Reports page); a dashboard's
#: PDF goes to viewers too, who have no Reports page.
_NOTIFICATION_LINKS = {"data_load": "/data", "dashboard_report": "/dashboards"}


def _notify_finished(session: Session, job: Job) -> None:
    """Tell the job's user it is ready or failed (the navbar bell), in the transaction that
    finishes it. Not for a job made for an external recipient: its user is only the
    schedule's owner, named for the audit trail."""
    if job.user_id is None or (job.params or {}).get("recipient"):
        return
    label = _label(job.kind)
    label = label[:1].upper() + label[1:]
    if job.status == "done":
        title, body = f"{label} ready", job.message
    else:
        title, body = f"{label} failed", _first_line(job.error or job.message or "")
    notifications.notify(session, job.user_id, "job", title, body=body,
                         link=_NOTIFICATION_LINKS.get(job.kind, "/reports"),
                         ref=f"job:{job.id}")


def mark_cancelled(settings: Settings, job_id: str) -> None:
    with db.session_scope(settings.database_url) as session:
        job = session.get(Job, job_id)
        if job is not None and job.status not in FINISHED:
            _set_cancelled(job)


def _set_cancelled(job: Job) -> None:
    job.status = "cancelled"
    job.message = "Cancelled"
    job.finished_at = utcnow()


def job_folder(settings: Settings, job_id: str) -> Path:
    """``settings.results/<job id>/``, created empty (a retried job starts afresh)."""
    folder = settings.results / job_id
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.iterdir():
        if stale.is_file():
            stale.unlink()
    return folder


def _first_line(text: str) -> str:
    return (text.strip().splitlines() or [""])[0][:500]


# ----------------------------------------------------------------- reaper
def reap(settings: Settings) -> dict[str, list[str]]:
    """One round of the reaper: silent running jobs (``reap_stale_jobs``) and queued jobs
    the broker lost (``reconcile_queued``). Safe to run from several processes at once."""
    outcome = reap_stale_jobs(settings)
    outcome.update(reconcile_queued(settings))
    return outcome


def _silent_since():
    return sa.func.coalesce(Job.heartbeat_at, Job.started_at, Job.created_at)


def reap_stale_jobs(settings: Settings,
                    max_silence: dt.timedelta | float = DEFAULT_MAX_SILENCE,
                    *, requeue: bool = True) -> dict[str, list[str]]:
    """Find running jobs whose heartbeat is older than ``max_silence`` (their worker died
    or hangs). A job that has run fewer than MAX_ATTEMPTS times is queued again (when
    ``requeue``); the others are failed with a message saying what happened. Each job is
    claimed by a conditional UPDATE (still running, still silent): of reapers running
    side by side, one acts.

    Returns ``{"requeued": [ids], "failed": [ids]}``."""
    if not isinstance(max_silence, dt.timedelta):
        max_silence = dt.timedelta(seconds=float(max_silence))
    cutoff = utcnow() - max_silence
    silent = int(max_silence.total_seconds())
    requeued: list[str] = []
    failed: list[str] = []
    with db.session_scope(settings.database_url) as session:
        stale = session.execute(
            sa.select(Job.id, Job.worker, Job.attempts, Job.cancel_requested)
            .where(Job.status == "running", _silent_since() < cutoff)).all()
    for job_id, worker, attempts, cancel_requested in stale:
        now = utcnow()
        if cancel_requested:
            values, outcome = {"status": "cancelled", "message": "Cancelled",
                               "finished_at": now}, None
        elif requeue and (attempts or 0) < MAX_ATTEMPTS:
            values, outcome = {"status": "queued", "progress": 0,
                               "message": f"The worker {worker} stopped responding; the "
                                          "job was queued again"}, requeued
        else:
            values, outcome = {
                "status": "failed", "finished_at": now,
                "message": "The worker stopped responding",
                "error": (f"The worker running this job ({worker}) stopped responding: "
                          f"no heartbeat for more than {silent} seconds after {attempts} "
                          "attempt(s). The worker probably crashed or was stopped; submit "
                          "the job again.")}, failed
        with db.session_scope(settings.database_url) as session:
            claimed = session.execute(
                sa.update(Job).where(Job.id == job_id, Job.status == "running",
                                     _silent_since() < cutoff)
                .values(**values).execution_options(synchronize_session=False)).rowcount
            if claimed and outcome is failed:
                _notify_finished(session, session.get(Job, job_id))
        if claimed and outcome is not None:
            outcome.append(job_id)
    for job_id in requeued:
        log.warning("job %s lost its worker; queued again", job_id)
        enqueue(settings, job_id)
    for job_id in failed:
        log.error("job %s lost its worker and was failed", job_id)
    return {"requeued": requeued, "failed": failed}


def reconcile_queued(settings: Settings, grace: dt.timedelta | float = QUEUED_GRACE
                     ) -> dict[str, list[str]]:
    """Queued jobs whose task message the broker no longer has (a Redis restarted empty, a
    flushed queue) would wait for good: a job sent more than ``grace`` ago whose message is
    neither waiting in its queue nor held by a worker is sent again (the task id is the job
    id, and a worker runs a job once, see ``start_job``), at most MAX_RESENDS times, then
    failed with a message saying so. Each re-send is claimed by a conditional UPDATE on the
    job's re-send count. Nothing is done when the broker cannot be read.

    Returns ``{"resent": [ids], "lost": [ids]}`` (lost: failed after MAX_RESENDS)."""
    if not isinstance(grace, dt.timedelta):
        grace = dt.timedelta(seconds=float(grace))
    cutoff = utcnow() - grace
    sent_since = sa.func.coalesce(Job.sent_at, Job.created_at)
    resent: list[str] = []
    lost: list[str] = []
    with db.session_scope(settings.database_url) as session:
        waiting = session.execute(
            sa.select(Job.id, Job.resends)
            .where(Job.status == "queued", sent_since < cutoff)).all()
    if not waiting:
        return {"resent": resent, "lost": lost}
    held = queue.pending_task_ids(settings)
    if held is None:
        return {"resent": resent, "lost": lost}
    for job_id, resends in waiting:
        if job_id in held:
            continue
        resends = resends or 0
        now = utcnow()
        if resends >= MAX_RESENDS:
            values, outcome = {
                "status": "failed", "finished_at": now,
                "message": "Lost by the task queue",
                "error": (f"The task queue lost this job {resends + 1} times (it was "
                          "restarted or flushed before a worker took the job); it was "
                          f"sent again {resends} times and then given up. Submit the job "
                          "again, and check the broker (REDIS_URL) keeps its data.")}, lost
        else:
            values, outcome = {
                "resends": resends + 1, "sent_at": now,
                "message": (f"Stale: the task queue had lost this job; sent again "
                            f"({resends + 1} of {MAX_RESENDS})")}, resent
        with db.session_scope(settings.database_url) as session:
            claimed = session.execute(
                sa.update(Job).where(Job.id == job_id, Job.status == "queued",
                                     sa.func.coalesce(Job.resends, 0) == resends,
                                     sent_since < cutoff)
                .values(**values).execution_options(synchronize_session=False)).rowcount
        if claimed:
            outcome.append(job_id)
    for job_id in resent:
        log.warning("job %s was lost by the task queue; sent again", job_id)
        try:
            enqueue(settings, job_id)
        except QueueUnavailable:
            pass  # enqueue failed the job with the reason
    for job_id in lost:
        log.error("job %s was lost by the task queue %s times and was failed", job_id,
                  MAX_RESENDS + 1)
    return {"resent": resent, "lost": lost}
