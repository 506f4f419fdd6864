"""Celery tasks: thin wrappers that take ids and call ``workers.handlers``/``core``.

Transient failures (the app database or the broker away: ``handlers.TransientJobError``; the
mail server away: ``mail.TRANSIENT_ERRORS``) are retried by Celery itself
(``autoretry_for``) with exponential backoff: RETRY_DELAY seconds, doubling, capped at
RETRY_DELAY_MAX, at most MAX_RETRIES times. A job still failing after that is failed with
the reason; a delivery stays failed in the ledger, where the sweep finds it later.

``acks_late`` is used only where running a task twice is harmless (the reaper and the
schedules tick). ``run_job`` acknowledges on receipt: a job whose worker dies is recovered
by the reaper (queued again once), never by a blind redelivery that could run it twice.
``deliver`` too: a message must not go out twice (the ledger's claim, ``core.mail``, keeps
a retry, the sweep and a manual retry from sending one twice); lost deliveries and failed
ones whose ``next_attempt_at`` is due are found by the minute sweep.
"""
from __future__ import annotations

import logging

from celery import Task

from celery_app import celery
from core import alert_runs, jobs, mail, schedules
from core.queue import (DELIVER, EVALUATE_ALERTS, MAX_RETRIES, REAP_JOBS, RETRY_DELAY,
                        RETRY_DELAY_MAX, RUN_DUE_SCHEDULES, RUN_JOB)
from core.settings import load_settings
from workers import handlers

# Loaded once in the worker's main process, before the pool forks: every child then starts
# a report without paying for pandas, matplotlib and ReportLab again.
handlers.preload()

log = logging.getLogger(__name__)

RETRY = {"max_retries": MAX_RETRIES, "retry_backoff": RETRY_DELAY,
         "retry_backoff_max": RETRY_DELAY_MAX, "retry_jitter": False}


class JobTask(Task):
    """``run_job``: a job whose transient error outlived every retry is failed, with the
    error, so no page waits for it forever."""

    def on_failure(self, exc, task_id, args, kwargs, einfo):
        if isinstance(exc, handlers.TransientJobError):
            jobs.fail_job(load_settings(), args[0], "The job kept failing on a temporary "
                          f"error and was given up: {exc}")


class DeliveryTask(Task):
    def on_failure(self, exc, task_id, args, kwargs, einfo):
        log.error("delivery %s still failing after %s retries; the sweep will try again "
                  "at its next_attempt_at: %s", args[0], self.request.retries, exc)


@celery.task(name=RUN_JOB, base=JobTask, bind=True, acks_late=False, ignore_result=True,
             autoretry_for=(handlers.TransientJobError,), **RETRY)
def run_job(self, job_id: str) -> str | None:
    """Run the job ``job_id`` (see ``workers.handlers.run_job``)."""
    return handlers.run_job(load_settings(), job_id, worker=self.request.hostname)


@celery.task(name=DELIVER, base=DeliveryTask, acks_late=False, ignore_result=True,
             autoretry_for=mail.TRANSIENT_ERRORS, **RETRY)
def deliver(delivery_id: int) -> str | None:
    """Send one delivery of the ledger, e-mail or webhook (each failed attempt is recorded
    there with its ``next_attempt_at``; a permanent failure is not retried)."""
    delivery = mail.deliver(load_settings(), delivery_id)
    return delivery.status if delivery else None


@celery.task(name=REAP_JOBS, acks_late=True, ignore_result=True)
def reap_jobs() -> dict:
    """Jobs whose worker died: queue them again once, then fail them; queued jobs the
    broker lost: send them again (each worker also reaps on its own, see celery_app)."""
    return jobs.reap(load_settings())


@celery.task(name=RUN_DUE_SCHEDULES, acks_late=True, ignore_result=True)
def run_due_schedules() -> dict:
    """The minute tick: start the report schedules that are due, and send again the
    deliveries whose ``next_attempt_at`` is due or whose task or worker was lost."""
    settings = load_settings()
    job_ids = schedules.run_due_schedules(settings)
    resent = mail.deliveries_to_retry(settings)
    for delivery_id in resent:
        handlers.send_delivery(settings, delivery_id)
    return {"jobs": job_ids, "resent_deliveries": resent}


@celery.task(name=EVALUATE_ALERTS, acks_late=True, ignore_result=True)
def evaluate_alerts() -> dict:
    """The hourly tick: evaluate every active alert rule and e-mail its firings (cool-down
    and re-arm keep one incident to one message, so running it twice is harmless)."""
    return {"firings": alert_runs.evaluate_all(load_settings())}
