"""Celery tasks: thin wrappers that take ids, call ``workers.runners``/``core`` and retry
transient failures with exponential backoff.

``acks_late`` is used only where running a task twice is harmless (the reaper and the
schedules tick). ``run_job`` acknowledges on receipt: a job whose worker dies is recovered
by the reaper (queued again once), never by a blind redelivery that could run it twice.
``deliver`` too: an e-mail must not go out twice; lost deliveries are found by the sweep.
"""
from __future__ import annotations

import logging

from celery_app import (DELIVER, MAX_RETRIES, REAP_JOBS, RETRY_DELAY, RETRY_DELAY_MAX,
                        RUN_DUE_SCHEDULES, RUN_JOB, celery)
from core import jobs, mail, schedules
from core.settings import load_settings
from workers import runners

# Loaded once in the worker's main process, before the pool forks: every child then starts
# a report without paying for pandas, matplotlib and ReportLab again.
runners.preload()

log = logging.getLogger(__name__)


def backoff(retries: int) -> float:
    """Seconds before retry number ``retries + 1``: RETRY_DELAY, doubling, capped."""
    return min(RETRY_DELAY * (2 ** retries), RETRY_DELAY_MAX)


@celery.task(name=RUN_JOB, bind=True, acks_late=False, max_retries=MAX_RETRIES,
             ignore_result=True)
def run_job(self, job_id: str) -> str | None:
    """Run the job ``job_id`` (see ``workers.runners.run_job``)."""
    try:
        return runners.run_job(load_settings(), job_id, worker=self.request.hostname)
    except runners.TransientJobError as exc:
        if self.request.retries >= self.max_retries:
            jobs.fail_job(load_settings(), job_id, f"The job kept failing on a temporary "
                          f"error and was given up: {exc}")
            return "failed"
        raise self.retry(exc=exc, countdown=backoff(self.request.retries))


@celery.task(name=DELIVER, bind=True, acks_late=False, max_retries=MAX_RETRIES,
             ignore_result=True)
def deliver(self, delivery_id: int) -> str | None:
    """Send one report e-mail of the ledger; retry with backoff while the mail server
    fails (the ledger shows each failed attempt)."""
    try:
        delivery = mail.deliver(load_settings(), delivery_id)
    except mail.TRANSIENT_ERRORS as exc:
        if self.request.retries >= self.max_retries:
            log.error("delivery %s still failing after %s retries; the sweep will try "
                      "again later", delivery_id, self.request.retries)
            return "failed"
        raise self.retry(exc=exc, countdown=backoff(self.request.retries))
    return delivery.status if delivery else None


@celery.task(name=REAP_JOBS, acks_late=True, ignore_result=True)
def reap_jobs() -> dict:
    """Jobs whose worker died: queue them again once, then fail them."""
    return jobs.reap_stale_jobs(load_settings())


@celery.task(name=RUN_DUE_SCHEDULES, acks_late=True, ignore_result=True)
def run_due_schedules() -> dict:
    """The minute tick: start the report schedules that are due, and resend deliveries
    whose retries were lost."""
    settings = load_settings()
    job_ids = schedules.run_due_schedules(settings)
    resent = mail.deliveries_to_retry(settings)
    for delivery_id in resent:
        runners.send_delivery(settings, delivery_id)
    return {"jobs": job_ids, "resent_deliveries": resent}
