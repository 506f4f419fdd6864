"""The Celery application of the workers: ``celery -A celery_app worker -B -Q
interactive,reports,loads`` loads this module.

The application itself (broker, queues, routes, retry policy, beat schedule) is built by
``core.queue`` from ``core.settings``, the same one the web processes send with; this
module adds what only a worker does: it configures the analytics cache as the web
processes do (``core.analytics_cache``), so the default view it warms after a load is the
one they read, and it registers the tasks (``workers.tasks``, through ``include``).

``-B`` runs the beat scheduler inside the worker: fine for one machine; production runs
``celery -A celery_app beat`` once, separately.

The job reaper (``core.jobs.reap``) does not depend on beat: every worker runs it in a
thread of its main process, every ``REAP_INTERVAL`` seconds from the moment it is ready
(beat's embedded child may die without the worker restarting it, and a worker may run
without ``-B``). Each job the reaper changes is claimed by a conditional UPDATE, so several
workers (and beat's own reap task) never act twice on one job.
"""
from __future__ import annotations

import logging
import threading

from celery import signals

from core.queue import for_settings
from core.settings import load_settings

log = logging.getLogger(__name__)


@signals.worker_init.connect
def configure_worker(**_kwargs) -> None:
    """In the worker's main process, before the pool forks: the analytics cache of the
    settings, shared with the web processes."""
    from core import analytics_cache
    analytics_cache.configure(load_settings())


celery = for_settings(load_settings())


class Reaper(threading.Thread):
    """``core.jobs.reap`` every ``interval`` seconds until stopped; an error is logged and
    the next round tried (a database away for a minute must not end the reaping)."""

    def __init__(self, interval: float):
        super().__init__(name="shoplens-reaper", daemon=True)
        self.interval = interval
        self.stopped = threading.Event()

    def run(self) -> None:
        from core import jobs

        while not self.stopped.is_set():
            try:
                outcome = jobs.reap(load_settings())
                if any(outcome.values()):
                    log.warning("reaper: %s", outcome)
            except Exception:
                log.exception("the job reaper failed; trying again in %s s", self.interval)
            self.stopped.wait(self.interval)


_reaper: list[Reaper] = []


@signals.worker_ready.connect
def start_reaper(**_kwargs) -> None:
    """In the worker's main process, once the pool runs: the reaper thread."""
    from core import jobs

    if not _reaper:
        _reaper.append(Reaper(jobs.REAP_INTERVAL))
        _reaper[0].start()


@signals.worker_shutdown.connect
def stop_reaper(**_kwargs) -> None:
    for reaper in _reaper:
        reaper.stopped.set()


@signals.worker_process_init.connect
def forget_parent_connections(**_kwargs) -> None:
    """A pool child forked after the reaper used the app database must not share the
    main process's connections."""
    from core import db
    db.forget_inherited()
