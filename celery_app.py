"""The Celery application of the workers: ``celery -A celery_app worker -B -Q
interactive,reports,loads`` loads this module.

The application itself (broker, queues, routes, retry policy, beat schedule) is built by
``core.queue`` from ``core.settings``, the same one the web processes send with; this
module adds what only a worker does: it configures the analytics cache as the web
processes do (``core.analytics_cache``), so the default view it warms after a load is the
one they read, and it registers the tasks (``workers.tasks``, through ``include``).

``-B`` runs the beat scheduler inside the worker: fine for one machine; production runs
``celery -A celery_app beat`` once, separately.
"""
from __future__ import annotations

from celery import signals

from core.queue import for_settings
from core.settings import load_settings


@signals.worker_init.connect
def configure_worker(**_kwargs) -> None:
    """In the worker's main process, before the pool forks: the analytics cache of the
    settings, shared with the web processes."""
    from core import analytics_cache
    analytics_cache.configure(load_settings())


celery = for_settings(load_settings())
