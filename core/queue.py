"""The task queue as the web processes, the services and the workers send to it: one
Celery application per broker, configured from ``core.settings``.

* Broker: Redis when ``REDIS_URL`` is set; otherwise kombu's SQLAlchemy transport on a
  SQLite file (``$SHOPLENS_HOME/broker.db``), so a laptop needs no service at all.
* Results: Celery's result backend is not used for job outcomes (they live in the Job row,
  see ``core.jobs``); on Redis it is kept for ``inspect``/monitoring, embedded it is disabled.
* Queues per kind of work: ``interactive`` (models, maintenance), ``reports`` (PDF/Excel,
  e-mail, schedules), ``loads`` (data loads). ``core.jobs.enqueue`` picks the queue a job's
  kind declares (``core.job_kinds``); ``task_routes`` gives every task name its default queue.

Tasks are sent by name (``RUN_JOB`` …): nothing here imports ``workers``; the top-level
``celery_app`` module (what ``celery -A celery_app worker`` loads) is this application plus
the worker's start-up, so core never imports it.
"""
from __future__ import annotations

import json
import logging
import os

import kombu.transport.sqlalchemy
from celery import Celery
from kombu import Exchange, Queue

from core.job_kinds import QUEUES
from core.settings import Settings, load_settings

#: Task names: the web process sends tasks by name and never imports ``workers``.
RUN_JOB = "shoplens.run_job"
REAP_JOBS = "shoplens.reap_jobs"
RUN_DUE_SCHEDULES = "shoplens.run_due_schedules"
DELIVER = "shoplens.deliver"
EVALUATE_ALERTS = "shoplens.evaluate_alerts"

TASK_ROUTES = {
    RUN_JOB: {"queue": "interactive"},
    REAP_JOBS: {"queue": "interactive"},
    RUN_DUE_SCHEDULES: {"queue": "reports"},
    DELIVER: {"queue": "reports"},
    EVALUATE_ALERTS: {"queue": "reports"},
}

# The SQLAlchemy transport polls its table; the default (1 s) would add up to a second to
# every job start. It must be set on the class: as a transport option it is handed to
# create_engine() and crashes the worker.
kombu.transport.sqlalchemy.Transport.polling_interval = 0.1


#: First retry delay (seconds) of transient failures (SMTP, database, broker); doubles on
#: every retry up to RETRY_DELAY_MAX. Tests shorten it with SHOPLENS_RETRY_DELAY.
RETRY_DELAY = float(os.environ.get("SHOPLENS_RETRY_DELAY") or 30)
RETRY_DELAY_MAX = 30 * 60
MAX_RETRIES = 8

_apps: dict[str, Celery] = {}
log = logging.getLogger(__name__)


def broker_url(settings: Settings) -> str:
    return settings.redis_url or f"sqla+sqlite:///{settings.home / 'broker.db'}"


def make_celery(settings: Settings | None = None) -> Celery:
    """Build the Celery application for ``settings`` (default: the environment)."""
    settings = settings or load_settings()
    app = Celery("shoplens", include=["workers.tasks"])
    app.conf.update(
        broker_url=broker_url(settings),
        broker_connection_retry_on_startup=True,
        task_queues=[Queue(name, Exchange(name, type="direct"), routing_key=name)
                     for name in QUEUES],
        task_default_queue="interactive",
        task_default_exchange="interactive",
        task_default_routing_key="interactive",
        task_routes=TASK_ROUTES,
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        task_ignore_result=True,
        task_store_errors_even_if_ignored=False,
        task_track_started=False,
        # one message at a time per process: a long report must not hold a short job hostage
        worker_prefetch_multiplier=1,
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        timezone="UTC",
        enable_utc=True,
        beat_schedule={
            "reap-stale-jobs": {"task": REAP_JOBS, "schedule": 60.0},
            "run-due-schedules": {"task": RUN_DUE_SCHEDULES, "schedule": 60.0},
            # alerts also run after every data load (core.loads); hourly catches the rest
            "evaluate-alerts": {"task": EVALUATE_ALERTS, "schedule": 3600.0},
        },
        beat_schedule_filename=str(settings.home / "celerybeat-schedule"),
    )
    if settings.redis_url:
        app.conf.update(
            result_backend=settings.redis_url,
            result_expires=3600,
            # a message not acknowledged within the longest job time goes back to the queue
            broker_transport_options={"visibility_timeout": 4 * 3600},
        )
    else:
        app.conf.update(result_backend=None)
    return app


def for_settings(settings: Settings) -> Celery:
    """The Celery application sending to ``settings``' broker (one per broker per process;
    the web process sends with it, see ``core.jobs.enqueue``)."""
    url = broker_url(settings)
    app = _apps.get(url)
    if app is None:
        app = _apps[url] = make_celery(settings)
    return app


# ----------------------------------------------------------------- what the broker holds
def pending_task_ids(settings: Settings) -> set[str] | None:
    """Ids of the task messages the broker still holds: waiting in one of our queues, or
    handed to a worker and not acknowledged yet (prefetched, waiting for a countdown). The
    reaper re-sends a queued job whose message is not among them (``core.jobs``). None when
    the broker cannot be read: then nothing is known to be lost."""
    try:
        if settings.redis_url:
            return _redis_pending(settings.redis_url)
        return _sqlalchemy_pending(broker_url(settings).removeprefix("sqla+"))
    except Exception:  # the broker's errors are not one class
        log.warning("could not read the messages the broker holds", exc_info=True)
        return None


#: kombu's Redis transport: a queue is a list (priority p > 0: ``<queue>\x06\x16<p>``);
#: messages delivered and not acknowledged are in the ``unacked`` hash
_REDIS_PRIORITY_SEP = "\x06\x16"
_REDIS_UNACKED = "unacked"


def _redis_pending(url: str) -> set[str]:
    import redis

    client = redis.Redis.from_url(url)
    try:
        keys = [key for name in QUEUES
                for key in (name, *(f"{name}{_REDIS_PRIORITY_SEP}{p}" for p in range(1, 10)))]
        raws = [raw for key in keys for raw in client.lrange(key, 0, -1)]
        unacked = [json.loads(raw)[0] for raw in client.hvals(_REDIS_UNACKED)]
    finally:
        client.close()
    return {_task_id(message) for message in [*map(json.loads, raws), *unacked]} - {None}


def _sqlalchemy_pending(url: str) -> set[str]:
    """kombu's SQLAlchemy transport keeps delivered messages with ``visible`` false: only
    the visible ones are still waiting (it has no notion of unacknowledged)."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            if not sa.inspect(connection).has_table("kombu_message"):
                return set()
            rows = connection.execute(sa.text(
                "SELECT payload FROM kombu_message WHERE visible")).scalars().all()
    finally:
        engine.dispose()
    return {_task_id(json.loads(payload)) for payload in rows} - {None}


def _task_id(message: dict) -> str | None:
    return ((message.get("headers") or {}).get("id")
            or (message.get("properties") or {}).get("correlation_id"))
