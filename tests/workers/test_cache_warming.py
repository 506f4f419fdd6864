"""A data load on a REAL worker warms the default view into the cache the web processes
read: the worker configures the analytics cache from the settings as the web app does.
Every page's panels (``core.panels.PANELS``) and the Overview's "What changed" and KPI
sparklines are warmed too, so the first visitor of any page finds them computed."""
from __future__ import annotations

from analytics import cache, period
from analytics import customers, series
from analytics.filters import ALL_DATA, Filters
from analytics.models import insights
from analytics.warehouse import Warehouse
from core import analytics_cache, db, jobs
from core.orm import User
from tests.workers.support import (WorkerProcess, add_user, settings_for,
                                   slice_of_online_retail, wait_finished, worker_environment)


def test_a_load_on_the_worker_fills_the_web_processes_cache(tmp_path, online_retail_path):
    env = worker_environment(tmp_path / "home")
    settings = settings_for(env)
    admin_id = add_user(settings, "admin@example.com", "admin")
    settings.uploads.mkdir(parents=True)
    slice_of_online_retail(online_retail_path, settings.uploads / "slice.csv", 2_000)
    with db.session_scope(settings.database_url) as session:
        job_id = jobs.submit_job(session, session.get(User, admin_id), "data_load",
                                 {"path": "slice.csv"}, settings=settings).id

    worker = WorkerProcess(env, tmp_path / "worker.log").start()
    try:
        jobs.enqueue(settings, job_id)
        job = wait_finished(settings, job_id, timeout=120, what="the data load")
    finally:
        worker.stop()
    assert job.status == "done", (job.error, worker.log())

    web_cache = cache.Cache(analytics_cache.backend_for(settings))  # as create_app has it
    warehouse = Warehouse(settings.warehouse_url)
    try:
        version = job.data_version
        assert warehouse.current_version() == version
        filters = period.resolve(warehouse, Filters(), version)
        calls = [*cache.default_view_calls(),
                 (series.time_series, {"grain": "day"}),          # the KPI cards' sparklines
                 (insights.insights, {}),                           # "What changed"
                 (customers.ltv_distribution, {}),                  # the Customers page
                 (customers.rfm_segments, {})]
        keys = [web_cache.key(func, warehouse, filters, ALL_DATA, version, options)
                for func, options in calls]
    finally:
        warehouse.dispose()
    missing = [key for key in keys if web_cache.backend.get(key) is None]
    assert missing == [], worker.log()
